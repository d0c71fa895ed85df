"""The ledger's operations, independent of HTTP: what each endpoint does, in one transaction.

Invariants:
- Each public method is one database transaction (:meth:`Database.run`), so an operation
  happens entirely or not at all, and is retried whole on a deadlock.
- Time comes from the injected ``clock`` (Unix seconds), so tests can move it.
- The issuer key lives in a key file outside the database (:mod:`p2ppay.ledger.issuer_key`);
  the database records its public key, so every ledger process on it signs with the same
  key (a process with another key file is refused).
- Expired allowances are released lazily, at most a few per call, by the calls that touch
  money (allowance requests, syncs, statements), so no background task is needed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import anyio
from nacl.signing import SigningKey

from p2ppay.errors import AppErrorCode
from p2ppay.files.keyfile import KdfParams
from p2ppay.ledger import accounts, allowances, settlement
from p2ppay.ledger.aborts import AbortOutcome, keep_aborts, open_aborts
from p2ppay.ledger.auth import SignedRequest
from p2ppay.ledger.database import Database, Tx, open_database
from p2ppay.ledger.errors import LedgerError
from p2ppay.ledger.issuer_key import load_issuer
from p2ppay.ledger.schema import migrate
from p2ppay.ledger.trustlists import SignedTrust, TrustSigner, append_revocation, revoked_in_order
from p2ppay.ledger.verifier import VerifiedCache
from protocol.bundle import decode_bundle
from protocol.errors import ProtocolError
from protocol.keys import public_key
from protocol.money import MAX_AMOUNT, check_currency

__all__ = ["Caller", "LedgerConfig", "LedgerService", "Revocations", "SyncAnswer", "Update"]

Caller = bytes | SignedRequest
"""Who calls: a verified signed request (its nonce is consumed), or a raw wallet key for
in-process callers that authenticated otherwise (tests, tools)."""

DEFAULT_VALIDITY = 7 * 24 * 3600
"""Seconds an issued allowance stays valid unless the wallet asks for less."""
DEFAULT_GRACE = 7 * 24 * 3600
"""Seconds after an allowance's end before its unspent reserve returns to the balance."""
MAX_BATCH = 200
"""Most bundles (and most status queries) in one sync request."""
REQUEST_WINDOW = 300
"""Seconds a signed request's timestamp may differ from the ledger clock."""
DEFAULT_BUNDLES_PER_MINUTE = 6000
"""Bundles one wallet key may send per minute unless configured otherwise."""
_REMEMBERED = frozenset({"DOC_NOT_YET_VALID"})
"""Refusal codes that may change with time: never remembered (checked again)."""


@dataclass(frozen=True, kw_only=True)
class LedgerConfig:
    """How a ledger service runs."""

    db_url: str
    """``sqlite:///PATH`` or ``postgresql://...``."""
    admin_token: str
    """The bearer token admin calls must carry."""
    clock: Callable[[], int]
    """Unix seconds now."""
    grace: int = DEFAULT_GRACE
    """Seconds after an allowance ends before its unspent reserve is released."""
    max_validity: int = 90 * 24 * 3600
    """Longest allowance validity a wallet may ask for."""
    verify_workers: int = 0
    """Worker processes that verify bundles in parallel (0: in the serving process;
    ``ledger serve`` defaults to one per CPU)."""
    bundles_per_minute: int = DEFAULT_BUNDLES_PER_MINUTE
    """Most bundles one wallet key may send per clock minute (``LEDGER_RATE_LIMITED``)."""
    issuer_key_file: Path | None = None
    """The issuer key file (:mod:`p2ppay.ledger.issuer_key`); None: beside a SQLite
    database (``PATH.issuer-key``); required for PostgreSQL."""
    issuer_passphrase: bytes | None = None
    """The issuer key file's passphrase (None: an unencrypted 0600 file)."""
    issuer_kdf: KdfParams = field(default_factory=KdfParams.moderate)
    """Argon2id cost when a new encrypted issuer key file is created."""

    def issuer_path(self) -> Path:
        """Where the issuer key file is."""
        if self.issuer_key_file is not None:
            return self.issuer_key_file
        parts = urlsplit(self.db_url)
        if parts.scheme != "sqlite" or not parts.path:
            raise LedgerError(
                AppErrorCode.LEDGER_ISSUER_KEY, "a PostgreSQL ledger needs --issuer-key-file"
            )
        return Path(parts.path + ".issuer-key")


@dataclass(frozen=True, kw_only=True)
class Update:
    """A settlement the caller took part in (as payer or payee)."""

    payment_hash: bytes
    invoice_id: bytes
    role: str
    status: settlement.Status
    amount: int
    currency: str


@dataclass(frozen=True, kw_only=True)
class Revocations:
    """The published revocation list: ``version`` grows with every key added."""

    version: int
    keys: tuple[bytes, ...]


@dataclass(frozen=True, kw_only=True)
class SyncAnswer:
    """Everything a sync returns."""

    outcomes: list[settlement.Outcome]
    updates: list[Update]
    issuers: tuple[bytes, ...]
    revocations: Revocations
    aborts: list[AbortOutcome] = field(default_factory=list)
    trust: SignedTrust | None = None
    """The issuer set and revocation list signed by the ledger key (what wallets act on)."""


class LedgerService:
    """The ledger's operations over one database. Build it with :meth:`open`; close it."""

    def __init__(self, db: Database, config: LedgerConfig, issuer: SigningKey) -> None:
        self._db = db
        self._config = config
        self._issuer = issuer
        self._issuer_key = public_key(issuer)
        # The ledger key is the issuer key (LEDGER.md, "The ledger key").
        self._trust = TrustSigner(issuer, issuers=(self._issuer_key,), clock=config.clock)
        self._requests = 0
        self._verified = VerifiedCache()
        self._workers = (
            anyio.CapacityLimiter(config.verify_workers) if config.verify_workers > 0 else None
        )

    @classmethod
    async def open(cls, config: LedgerConfig) -> LedgerService:
        """Connect, migrate, and load (or create) the issuer key."""
        path = config.issuer_path()
        db = await open_database(config.db_url)
        try:
            await migrate(db)
            issuer = await db.run(
                lambda tx: load_issuer(
                    tx, path, passphrase=config.issuer_passphrase, kdf=config.issuer_kdf
                )
            )
        except BaseException:
            await db.close()
            raise
        return cls(db, config, issuer)

    @property
    def config(self) -> LedgerConfig:
        """How this service runs."""
        return self._config

    @property
    def issuer_key(self) -> bytes:
        """The raw public key that signs this ledger's allowances."""
        return self._issuer_key

    async def close(self) -> None:
        """Close the database."""
        await self._db.close()

    def now(self) -> int:
        """The ledger clock."""
        return self._config.clock()

    # --- authentication -----------------------------------------------------------------

    def check_fresh(self, request: SignedRequest) -> None:
        """Refuse a request whose timestamp is outside the window around the ledger clock."""
        now = self.now()
        if abs(now - request.timestamp) > REQUEST_WINDOW:
            raise LedgerError(
                AppErrorCode.LEDGER_STALE_REQUEST,
                f"request time {request.timestamp} is more than {REQUEST_WINDOW}s from {now}",
            )

    async def _caller(self, tx: Tx, caller: Caller) -> bytes:
        """The caller's key; a signed request's nonce is consumed in ``tx`` (the operation's
        own transaction), so a replay is refused and can never have had any effect."""
        if not isinstance(caller, SignedRequest):
            return caller
        self._requests += 1
        if self._requests % 256 == 1:
            await tx.execute("DELETE FROM nonces WHERE at < $1", self.now() - 2 * REQUEST_WINDOW)
        fresh = await tx.execute(
            "INSERT INTO nonces (public_key, nonce, at) VALUES ($1, $2, $3) "
            "ON CONFLICT (public_key, nonce) DO NOTHING",
            caller.public_key,
            caller.nonce,
            caller.timestamp,
        )
        if not fresh:
            raise LedgerError(AppErrorCode.LEDGER_REPLAY, "this nonce was used already")
        return caller.public_key

    async def _admit(self, tx: Tx, caller: Caller, bundles: list[bytes], *, consume: bool) -> bytes:
        """The nonce, a registered caller, the rate limit: checked read-only before any bundle
        is verified (``consume`` False: nothing written, so it costs no commit), then again,
        consuming the nonce and counting the bundles, in the settling transaction."""
        if consume:
            wallet = await self._caller(tx, caller)
        else:
            wallet = caller if isinstance(caller, bytes) else caller.public_key
            if isinstance(caller, SignedRequest) and await tx.fetchone(
                "SELECT 1 FROM nonces WHERE public_key = $1 AND nonce = $2",
                caller.public_key,
                caller.nonce,
            ):
                raise LedgerError(AppErrorCode.LEDGER_REPLAY, "this nonce was used already")
        if await accounts.account_by_key(tx, wallet) is None:
            raise LedgerError(AppErrorCode.LEDGER_UNKNOWN_ACCOUNT, "register first")
        if not bundles:
            return wallet
        minute = self.now() // 60
        if not consume:
            row = await tx.fetchone(
                "SELECT bundles FROM rate_windows WHERE public_key = $1 AND minute = $2",
                wallet,
                minute,
            )
            if (0 if row is None else int(row[0])) + len(bundles) > self._config.bundles_per_minute:
                raise LedgerError(
                    AppErrorCode.LEDGER_RATE_LIMITED,
                    f"more than {self._config.bundles_per_minute} bundles this minute; retry later",
                )
            return wallet
        if self._requests % 256 == 1:
            await tx.execute("DELETE FROM rate_windows WHERE minute < $1", minute - 1)
        await tx.execute(
            "INSERT INTO rate_windows (public_key, minute, bundles) VALUES ($1, $2, $3) "
            "ON CONFLICT (public_key, minute) DO UPDATE "
            "SET bundles = rate_windows.bundles + $3",
            wallet,
            minute,
            len(bundles),
        )
        row = await tx.fetchone(
            "SELECT bundles FROM rate_windows WHERE public_key = $1 AND minute = $2",
            wallet,
            minute,
        )
        assert row is not None
        if int(row[0]) > self._config.bundles_per_minute:
            raise LedgerError(
                AppErrorCode.LEDGER_RATE_LIMITED,
                f"more than {self._config.bundles_per_minute} bundles this minute; retry later",
            )
        return wallet

    # --- wallets ------------------------------------------------------------------------

    async def register(self, caller: Caller) -> tuple[accounts.Account, bool]:
        """Open the wallet's account (idempotent); ``(account, created)``."""
        now = self.now()

        async def work(tx: Tx) -> tuple[accounts.Account, bool]:
            return await accounts.ensure_account(tx, await self._caller(tx, caller), now=now)

        return await self._db.run(work)

    async def statement(
        self, caller: Caller
    ) -> tuple[
        accounts.Account, list[accounts.Balance], list[tuple[int, str, int, int, int, bool]]
    ]:
        """The account, its balances and its allowances (serial, currency, limit, left,
        not_after, released)."""
        now = self.now()

        async def work(
            tx: Tx,
        ) -> tuple[
            accounts.Account, list[accounts.Balance], list[tuple[int, str, int, int, int, bool]]
        ]:
            wallet = await self._caller(tx, caller)
            await allowances.release_expired(tx, now=now, grace=self._config.grace)
            account = await accounts.account_by_key(tx, wallet)
            if account is None:
                raise LedgerError(AppErrorCode.LEDGER_UNKNOWN_ACCOUNT, "register first")
            rows = await tx.fetch(
                "SELECT id, currency, limit_minor, reserve_left, not_after, released "
                "FROM allowances WHERE account_id = $1 ORDER BY id",
                account.id,
            )
            issued = [
                (int(a), c, int(lim), int(left), int(na), bool(r))
                for a, c, lim, left, na, r in rows
            ]
            return account, await accounts.balances_of(tx, account.id), issued

        return await self._db.run(work)

    async def request_allowance(
        self, caller: Caller, *, currency: str, amount: int, valid_for: int | None
    ) -> allowances.IssuedAllowance:
        """Reserve ``amount`` of ``currency`` and issue a signed allowance for it."""
        now = self.now()
        validity = DEFAULT_VALIDITY if valid_for is None else valid_for
        if not 60 <= validity <= self._config.max_validity:
            raise LedgerError(
                AppErrorCode.LEDGER_BAD_REQUEST,
                f"valid_for must be 60..{self._config.max_validity} seconds",
            )

        async def work(tx: Tx) -> allowances.IssuedAllowance:
            wallet = await self._caller(tx, caller)
            await allowances.release_expired(tx, now=now, grace=self._config.grace)
            account = await accounts.account_by_key(tx, wallet)
            if account is None:
                raise LedgerError(AppErrorCode.LEDGER_UNKNOWN_ACCOUNT, "register first")
            return await allowances.issue_allowance(
                tx,
                self._issuer,
                account,
                currency=currency,
                amount=amount,
                now=now,
                valid_for=validity,
            )

        return await self._db.run(work)

    async def sync(
        self,
        caller: Caller,
        bundles: list[bytes],
        query: list[bytes],
        aborts: Sequence[bytes] = (),
    ) -> SyncAnswer:
        """Settle ``bundles`` (any party's), keep ``aborts``, answer the caller's ``query``."""
        if len(bundles) > MAX_BATCH or len(query) > MAX_BATCH or len(aborts) > MAX_BATCH:
            raise LedgerError(AppErrorCode.LEDGER_BATCH_TOO_LARGE, f"at most {MAX_BATCH} each")
        now = self.now()
        keys = [hashlib.sha256(self._issuer_key + raw).digest() for raw in bundles]

        async def admit(tx: Tx) -> dict[bytes, settlement.Outcome]:
            await self._admit(tx, caller, bundles, consume=False)
            return await _refused(tx, keys)

        # The request's nonce, the caller's account and its rate are checked before any
        # signature of a bundle is: a replayed request, an unregistered caller or a flood
        # costs one signature check, not four per bundle.
        refused = await self._db.run(admit)
        # Each distinct bundle is verified once per request, however often it is repeated.
        todo = list({k: i for i, k in reversed(list(enumerate(keys))) if k not in refused}.items())
        fresh = await self._verified.check(
            [bundles[i] for _, i in todo], issuer=self._issuer_key, now=now, workers=self._workers
        )
        known = {**refused, **{k: c for (k, _), c in zip(todo, fresh, strict=True)}}
        checked: list[settlement.Checked | settlement.Outcome] = [known[k] for k in keys]
        to_settle = [c for c in checked if isinstance(c, settlement.Checked)]
        remember = [
            (k, c)
            for k, c in known.items()
            if isinstance(c, settlement.Outcome)
            and k not in refused
            and c.error not in _REMEMBERED
            and c.error is not None
        ]

        shown = to_settle + [
            c.seen for c in checked if isinstance(c, settlement.Outcome) and c.seen is not None
        ]

        opened_aborts = open_aborts(list(aborts))

        async def work(tx: Tx) -> SyncAnswer:
            wallet = await self._admit(tx, caller, bundles, consume=True)
            await _remember_refusals(tx, remember, now=now)
            equivocations = await settlement.record_verdicts(tx, shown, now=now)
            await allowances.release_expired(tx, now=now, grace=self._config.grace)
            settled = iter(await settlement.settle(tx, to_settle, now=now))
            abort_outcomes = await keep_aborts(tx, opened_aborts, now=now)
            outcomes = [
                _flag(c if isinstance(c, settlement.Outcome) else next(settled), equivocations)
                for c in checked
            ]
            return SyncAnswer(
                outcomes=outcomes,
                updates=await self._updates(tx, wallet, query),
                issuers=(self._issuer_key,),
                revocations=await _revocations(tx),
                aborts=abort_outcomes,
            )

        answer = await self._db.run(work)
        # Signed after the transaction: the list it read is committed (a prefix of any later).
        return replace(answer, trust=self._trust.sign(answer.revocations.keys))

    async def _updates(self, tx: Tx, wallet: bytes, query: list[bytes]) -> list[Update]:
        if not query:
            return []
        account = await accounts.account_by_key(tx, wallet)
        if account is None:
            return []
        marks = ", ".join(f"${i}" for i in range(2, len(query) + 2))
        rows = await tx.fetch(
            "SELECT payment_hash, invoice_id, payer_account, fraud, amount, currency "
            f"FROM settlements WHERE payment_hash IN ({marks}) "
            "AND (payer_account = $1 OR payee_account = $1) ORDER BY seq",
            account.id,
            *query,
        )
        return [
            Update(
                payment_hash=bytes(h),
                invoice_id=bytes(i),
                role="payer" if payer == account.id else "payee",
                status=settlement.Status.FRAUD if fraud else settlement.Status.SETTLED,
                amount=int(amount),
                currency=currency,
            )
            for h, i, payer, fraud, amount, currency in rows
        ]

    async def proofs(
        self, caller: Caller
    ) -> tuple[list[settlement.FraudProof], list[settlement.Equivocation]]:
        """Every fraud proof (why a key is revoked) and every receipt equivocation found."""

        async def work(
            tx: Tx,
        ) -> tuple[list[settlement.FraudProof], list[settlement.Equivocation]]:
            await self._caller(tx, caller)
            frauds = [
                settlement.FraudProof(first=bytes(a), second=bytes(b))
                for a, b in await tx.fetch("SELECT first, second FROM fraud_proofs ORDER BY id")
            ]
            rows = await tx.fetch(
                "SELECT v.receipt, s.bundle FROM verdicts v JOIN settlements s "
                "ON s.payment_hash = v.payment_hash WHERE v.verdict = 2 "
                "UNION ALL SELECT a.abort, s.bundle FROM aborts a JOIN settlements s "
                "ON s.payment_hash = a.payment"
            )
            equivocations = [
                settlement.Equivocation(
                    accepted=decode_bundle(bytes(bundle))[2], rejected=bytes(receipt)
                )
                for receipt, bundle in rows
            ]
            return frauds, equivocations

        return await self._db.run(work)

    async def trust(self) -> SignedTrust:
        """The signed issuer set and revocation list (no caller: they are public)."""

        async def work(tx: Tx) -> tuple[bytes, ...]:
            return await revoked_in_order(tx)

        return self._trust.sign(await self._db.run(work))

    async def revocations(self, caller: Caller) -> Revocations:
        """The current revocation list."""

        async def work(tx: Tx) -> Revocations:
            await self._caller(tx, caller)
            return await _revocations(tx)

        return await self._db.run(work)

    # --- admin --------------------------------------------------------------------------

    async def move_money(
        self, wallet: str, *, amount: int, currency: str, withdrawal: bool
    ) -> tuple[accounts.Account, list[accounts.Balance]]:
        """An admin deposit (or withdrawal) for a wallet id or hex key."""
        _check_money(amount, currency)
        now = self.now()

        async def work(tx: Tx) -> tuple[accounts.Account, list[accounts.Balance]]:
            account = await accounts.find_account(tx, wallet, now=now)
            if withdrawal:
                await accounts.withdraw(tx, account, currency, amount, now=now)
            else:
                await accounts.deposit(tx, account, currency, amount, now=now)
            return account, await accounts.balances_of(tx, account.id)

        return await self._db.run(work)

    async def release_held(
        self, wallet: str, *, amount: int, currency: str, reason: str
    ) -> tuple[accounts.Account, list[accounts.Balance]]:
        """An admin decision: pay ``amount`` of ``wallet``'s held credit out of the operator
        guarantee account (which takes over the debt); logged with ``reason``."""
        _check_money(amount, currency)
        now = self.now()

        async def work(tx: Tx) -> tuple[accounts.Account, list[accounts.Balance]]:
            account = await accounts.find_account(tx, wallet, now=now)
            await accounts.release_held(tx, account, currency, amount, reason=reason, now=now)
            return account, await accounts.balances_of(tx, account.id)

        return await self._db.run(work)

    async def revoke_wallet(self, wallet: str, *, reason: str) -> Revocations:
        """An admin revocation of a wallet (lost, stolen): on the list at once."""
        now = self.now()

        async def work(tx: Tx) -> Revocations:
            account = await accounts.find_account(tx, wallet, now=now)
            await _revoke_key(tx, account.public_key, reason=reason, now=now)
            return await _revocations(tx)

        return await self._db.run(work)

    async def revoke_self(self, caller: Caller) -> Revocations:
        """The calling wallet revokes its own key (``p2ppay revoke``): on the list at once."""
        now = self.now()

        async def work(tx: Tx) -> Revocations:
            wallet = await self._caller(tx, caller)
            await _revoke_key(tx, wallet, reason="revoked by the wallet", now=now)
            return await _revocations(tx)

        return await self._db.run(work)

    async def totals(self) -> dict[str, dict[str, int]]:
        """Per currency: balances, reserves, claims, deposits, withdrawals (all sums)."""
        return await self._db.run(accounts.totals)

    async def release_expired(self) -> int:
        """Release what expired allowances did not spend (normally done lazily)."""
        now = self.now()
        return await self._db.run(
            lambda tx: allowances.release_expired(tx, now=now, grace=self._config.grace)
        )


def _check_money(amount: int, currency: str) -> None:
    try:
        check_currency(currency)
    except ProtocolError as exc:
        raise LedgerError(
            AppErrorCode.LEDGER_BAD_REQUEST, f"{exc.code.name}: currency {currency!r}"
        ) from exc
    if not 0 < amount <= MAX_AMOUNT:
        raise LedgerError(AppErrorCode.LEDGER_BAD_REQUEST, f"amount must be 1..{MAX_AMOUNT}")


def _flag(
    outcome: settlement.Outcome, equivocations: dict[bytes, settlement.Equivocation]
) -> settlement.Outcome:
    found = equivocations.get(outcome.payment_hash or b"")
    return outcome if found is None else replace(outcome, equivocation=found)


async def _refused(tx: Tx, keys: list[bytes]) -> dict[bytes, settlement.Outcome]:
    """Refusals remembered for these bundle keys (SHA-256 of issuer key + bundle)."""
    if not keys:
        return {}
    marks = ", ".join(f"${i}" for i in range(1, len(set(keys)) + 1))
    rows = await tx.fetch(
        f"SELECT bundle_hash, error, code, message FROM refused_bundles "
        f"WHERE bundle_hash IN ({marks})",
        *sorted(set(keys)),
    )
    return {
        bytes(h): settlement.Outcome(
            status=settlement.Status.REJECTED, error=e, code=int(c), message=m
        )
        for h, e, c, m in rows
    }


async def _remember_refusals(
    tx: Tx, refusals: list[tuple[bytes, settlement.Outcome]], *, now: int
) -> None:
    await tx.executemany(
        "INSERT INTO refused_bundles (bundle_hash, error, code, message, at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (bundle_hash) DO NOTHING",
        [(k, o.error, o.code or 0, o.message or "", now) for k, o in refusals],
    )


async def _revocations(tx: Tx) -> Revocations:
    keys = await revoked_in_order(tx)
    return Revocations(version=len(keys), keys=keys)


async def _revoke_key(tx: Tx, key: bytes, *, reason: str, now: int) -> None:
    await tx.execute(
        "INSERT INTO key_revocations (public_key, revoked_at, reason) VALUES ($1, $2, $3) "
        "ON CONFLICT (public_key) DO NOTHING",
        key,
        now,
        reason,
    )
    await append_revocation(tx, key, now=now)
