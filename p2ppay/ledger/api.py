"""The ledger's HTTP API (FastAPI): routes, authentication, and error mapping.

Routes (all JSON; the OpenAPI document is served at ``/openapi.json``)::

    GET  /healthz                    liveness, no authentication
    GET  /v1/trust                   no authentication: the signed issuer set and revocation list
    POST /v1/accounts                wallet-signed: open the caller's account
    GET  /v1/accounts/me             wallet-signed: balances, reserve, claims, allowances
    POST /v1/allowances              wallet-signed: reserve money, get a signed allowance
    POST /v1/sync                    wallet-signed: settle bundles, get updates and lists
    GET  /v1/revocations             wallet-signed: the revocation list
    POST /v1/revocations             wallet-signed: revoke the caller's own key
    GET  /v1/proofs                  wallet-signed: fraud proofs and receipt equivocations
    POST /v1/admin/deposits          admin token: fund an account ("guarantee": the operator's)
    POST /v1/admin/withdrawals       admin token: take money out
    POST /v1/admin/release-held      admin token: pay held credit from the guarantee account
    POST /v1/admin/revocations       admin token: revoke a wallet
    GET  /v1/admin/totals            admin token: sums for the conservation check

Invariants:
- A wallet route runs only after the request's signature verified and its time is within
  the window (:mod:`p2ppay.ledger.auth`); its nonce is consumed by the operation's own
  transaction (:mod:`p2ppay.ledger.service`), so a replay is refused and has no effect. An
  admin route runs only with the admin token (compared in constant time). Nothing else
  gets in. Request bodies are limited to :data:`MAX_BODY` bytes (413).
- Every refusal is an :class:`~p2ppay.api.schemas.ErrorBody` with a 4xx status (503 when
  the database fails); malformed input is a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from p2ppay import __version__
from p2ppay.api import schemas as s
from p2ppay.api.signing import HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIME
from p2ppay.errors import AppErrorCode
from p2ppay.ledger.accounts import Balance
from p2ppay.ledger.auth import SignedRequest, check_request
from p2ppay.ledger.errors import LedgerError, http_status
from p2ppay.ledger.service import LedgerService, SyncAnswer
from p2ppay.ledger.settlement import Equivocation
from p2ppay.ledger.trustlists import SignedTrust
from protocol.documents import Payment
from protocol.money import format_amount
from protocol.verify import open_as

__all__ = ["create_app"]

MAX_BODY = 4 * 1024 * 1024
"""Largest request body: a full sync batch of the largest bundles fits with room to spare."""

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": s.ErrorBody} for status in (400, 401, 404, 409, 413, 429, 503)
}
_ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": s.ErrorBody} for status in (400, 403, 404, 409, 503)
}


class _BodyLimit:
    """Refuse a request body over ``limit`` bytes with our error body (413): at once when
    Content-Length says so, else as soon as the bytes received pass the limit. The body is
    read here (the app reads all of it anyway) and handed on in one piece."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self._app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self._limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self._app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        code = AppErrorCode.LEDGER_BATCH_TOO_LARGE
        response = _error(413, code.name, int(code), f"request body over {self._limit} bytes")
        await response(scope, receive, send)


def _error(status: int, name: str, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": name, "code": code, "message": message}
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise LedgerError(AppErrorCode.LEDGER_BAD_REQUEST, f"{what} is not base64") from None


def _balance(b: Balance) -> s.BalanceOut:
    return s.BalanceOut(
        currency=b.currency,
        balance=format_amount(b.balance, b.currency),
        reserve=format_amount(b.reserve, b.currency),
        claims=format_amount(b.claims, b.currency),
        held=format_amount(b.held, b.currency),
        balance_minor=b.balance,
        reserve_minor=b.reserve,
        claims_minor=b.claims,
        held_minor=b.held,
    )


def _sync_out(answer: SyncAnswer) -> s.SyncOut:
    results = []
    for index, o in enumerate(answer.outcomes):
        proof = None
        if o.proof is not None:
            proof = s.ProofOut(first=_b64(o.proof.first), second=_b64(o.proof.second))
        results.append(
            s.ResultOut(
                index=index,
                status=o.status.value,
                payment_hash=None if o.payment_hash is None else o.payment_hash.hex(),
                invoice_id=None if o.invoice_id is None else o.invoice_id.hex(),
                error=o.error,
                code=o.code,
                message=o.message,
                proof=proof,
                equivocation=_equivocation(o.equivocation),
            )
        )
    return s.SyncOut(
        results=results,
        updates=[
            s.UpdateOut(
                payment_hash=u.payment_hash.hex(),
                invoice_id=u.invoice_id.hex(),
                role=u.role,  # type: ignore[arg-type]
                status=u.status.value,  # type: ignore[arg-type]
                amount_minor=u.amount,
                currency=u.currency,
            )
            for u in answer.updates
        ],
        issuers=[k.hex() for k in answer.issuers],
        revocations=s.RevocationsOut(
            version=answer.revocations.version, keys=[k.hex() for k in answer.revocations.keys]
        ),
        trust=None if answer.trust is None else _trust_out(answer.trust),
        aborts=[
            s.AbortResultOut(
                index=index,
                status=a.status,
                error=a.error,
                code=a.code,
                equivocation=_equivocation(a.equivocation),
            )
            for index, a in enumerate(answer.aborts)
        ],
    )


def _trust_out(trust: SignedTrust) -> s.TrustOut:
    return s.TrustOut(
        ledger_key=trust.ledger_key.hex(),
        issuer_set=_b64(trust.issuer_set.raw),
        revocation_list=_b64(trust.revocation_list.raw),
    )


def _equivocation(found: Equivocation | None) -> s.EquivocationOut | None:
    if found is None:
        return None
    return s.EquivocationOut(accepted=_b64(found.accepted), rejected=_b64(found.rejected))


def _service(request: Request) -> LedgerService:
    service = request.app.state.service
    assert isinstance(service, LedgerService)
    return service


async def _signed(
    request: Request,
    key: Annotated[str | None, Header(alias=HEADER_KEY)] = None,
    time: Annotated[str | None, Header(alias=HEADER_TIME)] = None,
    nonce: Annotated[str | None, Header(alias=HEADER_NONCE)] = None,
    signature: Annotated[str | None, Header(alias=HEADER_SIGNATURE)] = None,
) -> SignedRequest:
    """The caller's request, once its signature and time passed (the nonce is consumed by
    the operation's own transaction)."""
    del key, time, nonce, signature  # declared for the OpenAPI document; read below
    body = await request.body()
    signed = check_request(request.headers, method=request.method, path=request.url.path, body=body)
    _service(request).check_fresh(signed)
    return signed


async def _admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    expected = f"Bearer {_service(request).config.admin_token}".encode()
    given = (authorization or "").encode("utf-8", "replace")
    if not hmac.compare_digest(given, expected):
        raise LedgerError(AppErrorCode.LEDGER_FORBIDDEN, "admin token required")


Wallet = Annotated[SignedRequest, Depends(_signed)]
Admin = Depends(_admin)


def create_app(service: LedgerService) -> FastAPI:
    """The ASGI app serving ``service`` (the caller opens and closes the service)."""
    app = FastAPI(
        title="p2ppay ledger",
        version=__version__,
        description="Settles offline p2ppay payments; see p2ppay/LEDGER.md.",
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(_BodyLimit, limit=MAX_BODY)
    app.state.service = service

    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, exc: LedgerError) -> JSONResponse:
        return _error(http_status(exc.code), exc.code.name, int(exc.code), exc.message)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        code = AppErrorCode.LEDGER_BAD_REQUEST
        return _error(400, code.name, int(code), f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = AppErrorCode.LEDGER_BAD_REQUEST
        if exc.status_code == 404:
            code = AppErrorCode.LEDGER_NOT_FOUND
        elif exc.status_code == 413:
            code = AppErrorCode.LEDGER_BATCH_TOO_LARGE
        return _error(exc.status_code, code.name, int(code), str(exc.detail))

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/v1/trust", responses={503: {"model": s.ErrorBody}})
    async def trust() -> s.TrustOut:
        """The issuer set and revocation list signed by the ledger key, and that key: what a
        payee (a kiosk that never registers) caches. Public, like any published list."""
        return _trust_out(await service.trust())

    @app.post("/v1/accounts", responses=_ERRORS)
    async def register(caller: Wallet) -> s.AccountOut:
        """Open the calling wallet's account (idempotent)."""
        account, created = await service.register(caller)
        return s.AccountOut(
            wallet=caller.public_key.hex(), wallet_id=account.wallet_id, created=created
        )

    @app.get("/v1/accounts/me", responses=_ERRORS)
    async def statement(caller: Wallet) -> s.StatementOut:
        """The caller's balances (balance, reserve, claims) and allowances."""
        account, balances, issued = await service.statement(caller)
        return s.StatementOut(
            wallet=caller.public_key.hex(),
            wallet_id=account.wallet_id,
            balances=[_balance(b) for b in balances],
            allowances=[
                s.AllowanceOut(
                    serial=serial,
                    currency=currency,
                    limit_minor=limit,
                    reserve_left_minor=left,
                    not_after=not_after,
                    released=released,
                )
                for serial, currency, limit, left, not_after, released in issued
            ],
        )

    @app.post("/v1/allowances", responses=_ERRORS)
    async def allowance(body: s.AllowanceRequest, caller: Wallet) -> s.IssuedAllowanceOut:
        """Move ``amount_minor`` from the balance to the offline reserve; sign an allowance."""
        issued = await service.request_allowance(
            caller, currency=body.currency, amount=body.amount_minor, valid_for=body.valid_for
        )
        return s.IssuedAllowanceOut(
            allowance=_b64(issued.signed),
            serial=issued.serial,
            issuer=service.issuer_key.hex(),
            currency=issued.currency,
            amount_minor=issued.limit,
            not_before=issued.not_before,
            not_after=issued.not_after,
        )

    @app.post("/v1/sync", responses=_ERRORS)
    async def sync(body: s.SyncRequest, caller: Wallet) -> s.SyncOut:
        """Settle bundles (either party, any order, any number of times: one settlement)."""
        bundles = [_unb64(b, f"bundles[{i}]") for i, b in enumerate(body.bundles)]
        query = [bytes.fromhex(h) for h in body.query]
        aborts = [_unb64(a, f"aborts[{i}]") for i, a in enumerate(body.aborts)]
        return _sync_out(await service.sync(caller, bundles, query, aborts))

    @app.get("/v1/revocations", responses=_ERRORS)
    async def revocations(caller: Wallet) -> s.RevocationsOut:
        """Wallet keys revoked for double spending."""
        current = await service.revocations(caller)
        return s.RevocationsOut(version=current.version, keys=[k.hex() for k in current.keys])

    @app.get("/v1/proofs", responses=_ERRORS)
    async def proofs(caller: Wallet) -> s.ProofsOut:
        """The fraud proofs behind the revocation list, and receipt equivocations found."""
        frauds, equivocations = await service.proofs(caller)
        return s.ProofsOut(
            fraud=[
                s.PublishedProofOut(
                    payer=open_as(p.first, Payment).doc.payer.hex(),
                    first=_b64(p.first),
                    second=_b64(p.second),
                    cbor=_b64(p.encode()),
                )
                for p in frauds
            ],
            equivocations=[
                s.EquivocationOut(accepted=_b64(e.accepted), rejected=_b64(e.rejected))
                for e in equivocations
            ],
        )

    @app.post("/v1/revocations", responses=_ERRORS)
    async def revoke_self(caller: Wallet) -> s.RevocationsOut:
        """Revoke the calling wallet's own key (lost or stolen device): at once, for good."""
        current = await service.revoke_self(caller)
        return s.RevocationsOut(version=current.version, keys=[k.hex() for k in current.keys])

    _add_admin_routes(app, service)
    return app


def _add_admin_routes(app: FastAPI, service: LedgerService) -> None:
    """The routes that need the admin token."""

    async def move(body: s.MoneyRequest, *, withdrawal: bool) -> s.StatementOut:
        account, balances = await service.move_money(
            body.wallet, amount=body.amount_minor, currency=body.currency, withdrawal=withdrawal
        )
        return s.StatementOut(
            wallet=account.public_key.hex(),
            wallet_id=account.wallet_id,
            balances=[_balance(b) for b in balances],
            allowances=[],
        )

    @app.post("/v1/admin/deposits", responses=_ADMIN_ERRORS, dependencies=[Admin])
    async def deposit(body: s.MoneyRequest) -> s.StatementOut:
        """Fund an account (money enters the ledger; claims are repaid first)."""
        return await move(body, withdrawal=False)

    @app.post("/v1/admin/withdrawals", responses=_ADMIN_ERRORS, dependencies=[Admin])
    async def withdraw(body: s.MoneyRequest) -> s.StatementOut:
        """Take money out of an account's balance (money leaves the ledger)."""
        return await move(body, withdrawal=True)

    @app.post("/v1/admin/release-held", responses=_ADMIN_ERRORS, dependencies=[Admin])
    async def release_held(body: s.ReleaseHeldRequest) -> s.StatementOut:
        """Pay a wallet's held credit out of the operator guarantee account (logged)."""
        account, balances = await service.release_held(
            body.wallet, amount=body.amount_minor, currency=body.currency, reason=body.reason
        )
        return s.StatementOut(
            wallet=account.public_key.hex(),
            wallet_id=account.wallet_id,
            balances=[_balance(b) for b in balances],
            allowances=[],
        )

    @app.post("/v1/admin/revocations", responses=_ADMIN_ERRORS, dependencies=[Admin])
    async def revoke(body: s.RevokeRequest) -> s.RevocationsOut:
        """Put a wallet on the revocation list at once (lost or stolen wallet)."""
        current = await service.revoke_wallet(body.wallet, reason=body.reason)
        return s.RevocationsOut(version=current.version, keys=[k.hex() for k in current.keys])

    @app.get("/v1/admin/totals", responses=_ADMIN_ERRORS, dependencies=[Admin])
    async def totals() -> s.TotalsOut:
        """Sums per currency, for the conservation check."""
        rows = await service.totals()
        return s.TotalsOut(currencies={c: s.TotalsRow(**row) for c, row in rows.items()})
