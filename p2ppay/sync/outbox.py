"""Sync a wallet's outbox with the ledger: upload bundles, apply the answers to the store.

One sync:
1. reads every outbox record not yet answered (``pending`` or ``sent``), oldest first;
2. per batch of at most ``batch_size``: marks the records ``sent`` (counting the attempt),
   uploads the complete bundles (invoice, payment, receipt) and asks about the others (a
   payer whose receipt never arrived: the payee may have settled it), then records each
   answer: ``settled``/``duplicate`` -> settled, ``rejected`` -> rejected (with the code),
   ``fraud`` -> fraud (after checking the proof ourselves);
3. stores the issuer set and revocation list the ledger sent, **signed by the pinned ledger
   key** and extending the cached list (:mod:`p2ppay.sync.trust`), so this wallet's
   offline checks as a payee refuse a revoked payer from now on. Those lists are verified
   before anything of the answer is written: an answer whose lists are unsigned, signed by
   another key, rolled back or forked is refused whole (its ``SYNC_*`` code) and changes
   nothing; one whose lists are merely older than the cached ones (``SYNC_TRUST_STALE``,
   e.g. another ledger process's cached copy) settles the records and keeps the lists.
4. shows the ledger every signed Abort this wallet received after it sent a payment
   (``store.aborts``): a payee that aborted a payment and settled it as accepted is caught.

A wallet the ledger does not know yet is registered (idempotent) and the batch sent again:
the ledger verifies bundles only for registered callers. A batch the ledger cannot take as a
whole (it refuses the request about its content, 400 or
413, or fails answering it, 5xx) is split in halves and sent again, down to single
bundles, so one bad bundle never holds back the rest. A single bundle the ledger refuses
(4xx) is **set aside**: marked ``rejected`` with ``set aside: CODE``; one it fails on (5xx)
stays ``pending`` for the next sync. Both count in ``SyncReport.set_aside``.

Invariants:
- Resumable: a sync stopped at any point leaves unanswered records ``pending`` or ``sent``,
  and the next sync sends them again; the ledger settles each payment once, so a repeat is
  answered ``duplicate`` and lands as ``settled``.
- A fraud proof is verified here (:meth:`protocol.chain.FraudProof.verify`) before it is
  believed; a bad one is ``SYNC_BAD_ANSWER`` and the record stays unanswered.
- The outbox only moves forward: terminal records are never touched again.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field

from p2ppay.api import schemas
from p2ppay.errors import AppErrorCode
from p2ppay.store import OutboxItem, OutboxStatus, Store
from p2ppay.store.outbox import REFUSED_BY_PAYEE
from p2ppay.sync.client import LedgerClient, SyncError
from p2ppay.sync.trust import VerifiedTrust, apply_trust, verify_trust
from protocol.bundle import encode_bundle
from protocol.chain import FraudProof
from protocol.errors import ProtocolError

__all__ = ["SyncReport", "sync_outbox"]

DEFAULT_BATCH = 100
"""Bundles per request."""


@dataclass(kw_only=True)
class SyncReport:
    """What one sync did (counts of records)."""

    settled: int = 0
    duplicate: int = 0
    rejected: int = 0
    fraud: int = 0
    updated: int = 0
    """Records settled by the other party's upload (learnt by asking)."""
    waiting: int = 0
    """Records with no complete bundle and no verdict yet."""
    set_aside: int = 0
    """Records the ledger could not take on their own (see the module docstring)."""
    batches: int = 0
    revocations_version: int | None = None
    trust: str = "none"
    """``updated`` (signed lists stored), ``kept`` (lists older than the cached ones), or
    ``none`` (no batch was answered)."""
    trust_code: str | None = None
    """Why the lists were kept (``SYNC_TRUST_STALE``)."""
    pinned: bool = False
    """This sync pinned the ledger key (first use)."""
    proofs: list[FraudProof] = field(default_factory=list)
    aborts: int = 0
    """Signed Aborts received after a payment, shown to the ledger."""
    equivocations: int = 0
    """Of those, how many the ledger found contradicting a settled receipt."""

    def as_json(self) -> dict[str, object]:
        """The counts, as ``sync --json`` prints them."""
        return {
            "settled": self.settled,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "fraud": self.fraud,
            "updated": self.updated,
            "waiting": self.waiting,
            "set_aside": self.set_aside,
            "batches": self.batches,
            "revocations_version": self.revocations_version,
            "aborts": self.aborts,
            "equivocations": self.equivocations,
            "trust": self.trust,
            "trust_code": self.trust_code,
            "pinned": self.pinned,
        }


@dataclass(frozen=True, kw_only=True)
class _Entry:
    item: OutboxItem
    payment_hash: bytes
    bundle: bytes | None


RECONSIDERED = "LEDGER_RECEIPT_REJECTED"
"""A record ``rejected`` for this reason (its receipt said "rejected") is asked about again
at every sync: if the payee uploaded an accepted receipt for the same payment, the ledger's
``settled`` wins over the local refusal."""


def _entry(store: Store, item: OutboxItem) -> _Entry | None:
    transfer = store.lookups.transfer(item.invoice_id)
    if transfer.payment is None:
        return None
    bundle = None
    if item.status is OutboxStatus.REJECTED:
        return _Entry(item=item, payment_hash=transfer.payment.payment_hash, bundle=None)
    if transfer.receipt is not None:
        bundle = encode_bundle(
            transfer.invoice.signed, transfer.payment.signed, transfer.receipt.signed
        )
    return _Entry(item=item, payment_hash=transfer.payment.payment_hash, bundle=bundle)


async def sync_outbox(
    store: Store,
    client: LedgerClient,
    *,
    now: Callable[[], int],
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Run one sync (module docstring); ``progress(done, total)`` after each batch."""
    items = [
        e
        for item in store.outbox.items()
        if (
            item.status in (OutboxStatus.PENDING, OutboxStatus.SENT)
            or (
                item.status is OutboxStatus.REJECTED
                and (item.detail == RECONSIDERED or item.detail.startswith(REFUSED_BY_PAYEE))
            )
        )
        and (e := _entry(store, item)) is not None
    ]
    report = SyncReport()
    total = len(items)
    batches = [items[i : i + batch_size] for i in range(0, total, batch_size)] or [[]]
    done = 0
    for batch in batches:
        store.outbox.mark_many(
            [(e.item.invoice_id, OutboxStatus.SENT, "") for e in batch if _open(e)], now=now()
        )
        await _upload(store, client, batch, report, now=now)
        done += len(batch)
        if progress is not None:
            progress(done, total)
    await _upload_aborts(store, client, report, now=now)
    return report


async def _upload_aborts(
    store: Store, client: LedgerClient, report: SyncReport, *, now: Callable[[], int]
) -> None:
    """Show the ledger the signed Aborts received after a payment (store/aborts.py)."""
    pending = store.aborts.pending()
    for start in range(0, len(pending), DEFAULT_BATCH):
        chunk = pending[start : start + DEFAULT_BATCH]
        answer = await client.sync([], [], [base64.b64encode(a).decode("ascii") for a in chunk])
        answered = [chunk[r.index] for r in answer.aborts if 0 <= r.index < len(chunk)]
        store.aborts.mark_uploaded(answered, now=now())
        report.aborts += len(answered)
        report.equivocations += sum(1 for r in answer.aborts if r.equivocation is not None)


_CALLER_REFUSALS = frozenset(
    {
        "LEDGER_UNAUTHENTICATED",
        "LEDGER_REPLAY",
        "LEDGER_STALE_REQUEST",
        "LEDGER_FORBIDDEN",
        "LEDGER_UNKNOWN_ACCOUNT",
        "LEDGER_RATE_LIMITED",
    }
)
"""Refusals about the caller, not the bundles: splitting the batch would not help."""


def _about_the_bundles(exc: SyncError) -> bool:
    if exc.status is None or exc.remote in _CALLER_REFUSALS:
        return False
    return exc.status in (400, 413) or exc.status >= 500


async def _upload(
    store: Store,
    client: LedgerClient,
    batch: list[_Entry],
    report: SyncReport,
    *,
    now: Callable[[], int],
) -> None:
    """Send one batch and apply the answer; split it if the ledger cannot take it whole."""
    uploads = [e for e in batch if e.bundle is not None]
    bundles = [base64.b64encode(e.bundle).decode("ascii") for e in uploads if e.bundle]
    query = [e.payment_hash.hex() for e in batch]
    try:
        try:
            answer = await client.sync(bundles, query)
        except SyncError as exc:
            if exc.remote != "LEDGER_UNKNOWN_ACCOUNT":
                raise
            # The ledger takes syncs from registered wallets only; registering is idempotent.
            await client.register()
            answer = await client.sync(bundles, query)
    except SyncError as exc:
        if not _about_the_bundles(exc):
            raise
        if len(batch) > 1:
            half = len(batch) // 2
            await _upload(store, client, batch[:half], report, now=now)
            await _upload(store, client, batch[half:], report, now=now)
            return
        (entry,) = batch
        report.set_aside += 1
        if exc.code is AppErrorCode.SYNC_REFUSED:
            detail = f"set aside: {exc.remote}"
            store.outbox.mark_many(
                [(entry.item.invoice_id, OutboxStatus.REJECTED, detail)], now=now()
            )
        else:
            store.outbox.mark_many([(entry.item.invoice_id, OutboxStatus.PENDING, "")], now=now())
        return
    report.batches += 1
    _apply(store, answer, uploads, batch, report, now=now(), url=client.url)


def _open(entry: _Entry) -> bool:
    """Not yet answered (a ``rejected`` record is only asked about again)."""
    return entry.item.status is not OutboxStatus.REJECTED


def _verified_proof(result: schemas.ResultOut) -> FraudProof:
    if result.proof is None:
        raise SyncError(AppErrorCode.SYNC_BAD_ANSWER, "fraud without a proof")
    try:
        proof = FraudProof(
            first=base64.b64decode(result.proof.first, validate=True),
            second=base64.b64decode(result.proof.second, validate=True),
        )
        proof.verify()
    except (ValueError, ProtocolError) as exc:
        raise SyncError(
            AppErrorCode.SYNC_BAD_ANSWER, f"fraud proof does not verify: {exc}"
        ) from exc
    return proof


def _apply(
    store: Store,
    answer: schemas.SyncOut,
    uploads: list[_Entry],
    batch: list[_Entry],
    report: SyncReport,
    *,
    now: int,
    url: str,
) -> None:
    if len(answer.results) != len(uploads):
        raise SyncError(AppErrorCode.SYNC_BAD_ANSWER, "one result per bundle expected")
    # The trust lists and every fraud proof are checked before anything is written: a bad
    # answer changes nothing.
    verified: VerifiedTrust | None = None
    try:
        verified = verify_trust(store, answer.trust, now=now)
    except SyncError as exc:
        if exc.code is not AppErrorCode.SYNC_TRUST_STALE:
            raise
        report.trust, report.trust_code = "kept", exc.code.name
    proofs = {i: _verified_proof(r) for i, r in enumerate(answer.results) if r.status == "fraud"}
    changes: list[tuple[bytes, OutboxStatus, str]] = []
    answered: set[bytes] = set()
    for index, (entry, result) in enumerate(zip(uploads, answer.results, strict=True)):
        invoice_id = entry.item.invoice_id
        if result.status in ("settled", "duplicate"):
            changes.append((invoice_id, OutboxStatus.SETTLED, result.status))
            report.settled += result.status == "settled"
            report.duplicate += result.status == "duplicate"
        elif result.status == "fraud":
            proof = proofs[index]
            report.proofs.append(proof)
            detail = f"fraud proof {proof.first.hex()[:16]}/{proof.second.hex()[:16]}"
            changes.append((invoice_id, OutboxStatus.FRAUD, detail))
            report.fraud += 1
        else:
            changes.append((invoice_id, OutboxStatus.REJECTED, result.error or ""))
            report.rejected += 1
        answered.add(entry.payment_hash)
    by_hash = {e.payment_hash: e for e in batch}
    for update in answer.updates:
        asked = by_hash.get(bytes.fromhex(update.payment_hash))
        if asked is None or asked.payment_hash in answered:
            continue
        status = OutboxStatus.FRAUD if update.status == "fraud" else OutboxStatus.SETTLED
        changes.append((asked.item.invoice_id, status, f"by {update.role}"))
        answered.add(asked.payment_hash)
        report.updated += 1
    for entry in batch:
        if entry.payment_hash not in answered and _open(entry):
            # Asked but not settled: back to pending so the next sync asks again.
            changes.append((entry.item.invoice_id, OutboxStatus.PENDING, ""))
            report.waiting += 1
    store.outbox.mark_many(changes, now=now)
    if verified is not None:
        stored = apply_trust(store, verified, url=url, now=now)
        report.trust, report.trust_code = "updated", None
        report.pinned = report.pinned or stored.pinned_now
    info = store.trust.revocation_info()
    report.revocations_version = None if info is None else info.version
