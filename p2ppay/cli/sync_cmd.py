"""``sync``: upload the outbox to the ledger and record its answers (resumable, retried).

``--json`` prints the counts ``settled``, ``duplicate``, ``rejected``, ``fraud`` (and
``updated``: records the other party's upload settled; ``waiting``: no verdict yet), and
``trust`` (``updated``: the signed lists were stored; ``kept``: older than the cached ones,
``trust_code`` says why), ``revocations_version`` and ``pinned`` (this sync pinned the
ledger key: first use). ``records`` lists every record this sync decided, with the ledger's
word: ``invoice_id``, ``role``, ``status`` (``settled``, ``rejected``, ``fraud``) and ``why``
(the ledger's code for a refusal, e.g. ``LEDGER_RECEIPT_REJECTED``; ``set aside: CODE``). A
hostile or inconsistent answer fails with its ``SYNC_*`` code. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import anyio

from p2ppay.cli.common import add_ca_file, add_json, home_of, now_s, unlock
from p2ppay.cli.output import Exit, Output
from p2ppay.store import OutboxStatus

if TYPE_CHECKING:
    from p2ppay.sync import SyncReport

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("sync", help="settle stored payments with the ledger")
    parser.add_argument("--ledger", default=None, metavar="URL", help="default: the registered one")
    add_ca_file(parser)
    parser.add_argument("--batch", type=int, default=100, help="bundles per request")
    add_json(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: Output) -> int:
    from p2ppay.sync import LedgerClient, ledger_ca_file, ledger_url, sync_outbox

    home = home_of(args)
    url = ledger_url(home, args.ledger)
    with unlock(home) as wallet:
        before = {i.invoice_id: (i.status, i.detail) for i in wallet.store.outbox.items()}

        async def work() -> SyncReport:
            async with LedgerClient(
                url, wallet.identity.signing_key, ca_file=ledger_ca_file(home, args.ca_file)
            ) as client:
                return await sync_outbox(
                    wallet.store,
                    client,
                    now=now_s,
                    batch_size=max(1, args.batch),
                    progress=lambda done, total: out.progress(f"synced {done}/{total}"),
                )

        report: SyncReport = anyio.run(work)
        # What this sync decided: records whose verdict it changed.
        decided = [
            item
            for item in wallet.store.outbox.items()
            if before.get(item.invoice_id) != (item.status, item.detail)
            and item.status in (OutboxStatus.SETTLED, OutboxStatus.REJECTED, OutboxStatus.FRAUD)
        ]
    records: list[dict[str, str | None]] = [
        {
            "invoice_id": item.invoice_id.hex(),
            "role": item.role.value,
            "status": item.status.value,
            "why": item.detail or None,
        }
        for item in decided
    ]
    counts = {**report.as_json(), "records": records}
    out.result(
        counts,
        [
            # "duplicate": the other party uploaded it first; for this wallet it is settled.
            "settled {settled} (of which already uploaded by the other party {duplicate}), "
            "rejected {rejected}, fraud {fraud}, settled by the other party's upload "
            "{updated}, waiting {waiting}".format(**counts),
            *(
                f"  {item.invoice_id.hex()[:12]} "
                f"({'paid' if item.role.value == 'payer' else 'received'}): "
                f"{item.status.value}" + (f": {item.detail}" if item.detail else "")
                for item in decided
                if item.status is not OutboxStatus.SETTLED
            ),
            "trust lists: {trust}, revocation list version {revocations_version}".format(**counts)
            + (" (ledger key pinned now: first use)" if report.pinned else ""),
        ],
    )
    return Exit.OK
