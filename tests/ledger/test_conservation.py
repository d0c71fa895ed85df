"""Conservation: balances + reserves = deposits - withdrawals (held = -claims), after any
sequence of honest work and plain double spends (the cheater with its own keys has its own
machine: ``test_cheater_machine.py``).

A Hypothesis state machine drives the ledger service on a real database (SQLite, then
PostgreSQL) with deposits, withdrawals, allowance requests, honest and double-spent offline
payments, syncs by both parties at once (concurrently), and a clock that moves past
allowance ends and grace periods. After every step the invariant must hold.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from nacl.signing import SigningKey

from p2ppay.ledger.errors import LedgerError
from p2ppay.ledger.service import LedgerConfig, LedgerService
from protocol.builders import make_invoice, make_payment, make_receipt
from protocol.bundle import encode_bundle
from protocol.chain import ChainHead, head_of
from protocol.documents import Allowance, Verdict
from protocol.verify import SignedDocument, open_as

START = 1_800_000_000
WALLETS = 3
_files = itertools.count()
KEYS = Path(tempfile.mkdtemp(prefix="p2ppay-issuer-keys-"))


def machine_for(portal: BlockingPortal, db_url: Any) -> type[RuleBasedStateMachine]:
    """A state machine class bound to a portal and a database URL factory."""

    class Ledger(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clock = [START]
            self.keys = [SigningKey.generate() for _ in range(WALLETS)]
            self.chains: dict[int, tuple[SignedDocument[Allowance], list[ChainHead]]] = {}
            self.unsynced: list[bytes] = []
            self.service: LedgerService | None = None

        def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
            return portal.call(lambda: fn(*args, **kwargs))

        @initialize()
        def open_ledger(self) -> None:
            url = db_url()
            config = LedgerConfig(
                db_url=url,
                admin_token="t",
                clock=lambda: self.clock[0],
                grace=3600,
                issuer_key_file=KEYS / f"{abs(hash(url))}.key",  # one key per database
            )
            self.service = self.call(LedgerService.open, config)
            for who, key in enumerate(self.keys):
                # Every wallet starts funded and with an allowance, so payments start early.
                self.call(self.service.register, bytes(key.verify_key))
                self.deposit(who, 100_00)
                self.request_allowance(who, 30_00)

        def teardown(self) -> None:
            if self.service is not None:
                self.call(self.service.close)

        @rule(who=st.integers(0, WALLETS - 1), amount=st.integers(1, 50_00))
        def deposit(self, who: int, amount: int) -> None:
            assert self.service is not None
            wallet = bytes(self.keys[who].verify_key).hex()
            self.call(
                self.service.move_money, wallet, amount=amount, currency="EUR", withdrawal=False
            )

        @rule(who=st.integers(0, WALLETS - 1), amount=st.integers(1, 30_00))
        def withdraw(self, who: int, amount: int) -> None:
            assert self.service is not None
            wallet = bytes(self.keys[who].verify_key).hex()
            try:
                self.call(
                    self.service.move_money, wallet, amount=amount, currency="EUR", withdrawal=True
                )
            except LedgerError as exc:
                assert exc.code.name == "LEDGER_INSUFFICIENT_FUNDS"

        @rule(who=st.integers(0, WALLETS - 1), amount=st.integers(1, 40_00))
        def request_allowance(self, who: int, amount: int) -> None:
            assert self.service is not None
            try:
                issued = self.call(
                    self.service.request_allowance,
                    bytes(self.keys[who].verify_key),
                    currency="EUR",
                    amount=amount,
                    valid_for=3 * 3600,
                )
            except LedgerError as exc:
                assert exc.code.name in ("LEDGER_INSUFFICIENT_FUNDS", "LEDGER_WALLET_REVOKED")
                return
            self.chains[who] = (open_as(issued.signed, Allowance), [])

        @precondition(lambda self: bool(self.chains))
        @rule(
            data=st.data(),
            payee=st.integers(0, WALLETS - 1),
            amount=st.integers(1, 15_00),
            fork=st.booleans(),
        )
        def pay_offline(self, data: st.DataObject, payee: int, amount: int, fork: bool) -> None:
            payer = data.draw(st.sampled_from(sorted(self.chains)))
            allowance, heads = self.chains[payer]
            # A double spend signs again after an older head (or as the first payment).
            if fork:
                head = heads[-2] if len(heads) >= 2 else None
            else:
                head = heads[-1] if heads else None
            spent = 0 if head is None else head.spent
            if spent + amount > allowance.doc.limit:
                return
            now = self.clock[0]
            invoice = make_invoice(self.keys[payee], amount=amount, currency="EUR", now=now)
            payment = make_payment(
                self.keys[payer], invoice=invoice, allowance=allowance, head=head
            )
            receipt = make_receipt(
                self.keys[payee], payment_hash=payment.hash, verdict=Verdict.ACCEPTED, now=now
            )
            if not fork:
                heads.append(head_of(payment))
            self.unsynced.append(encode_bundle(invoice.raw, payment.raw, receipt.raw))

        @precondition(lambda self: bool(self.unsynced))
        @rule(count=st.integers(1, 4), twice=st.booleans())
        def sync_concurrently(self, count: int, twice: bool) -> None:
            assert self.service is not None
            service = self.service
            batch, self.unsynced = self.unsynced[:count], self.unsynced[count:]
            uploads = [b for b in batch for _ in range(2 if twice else 1)]
            caller = bytes(self.keys[0].verify_key)

            async def upload_all() -> None:
                async with anyio.create_task_group() as tg:
                    for bundle in uploads:
                        tg.start_soon(service.sync, caller, [bundle], [])

            portal.call(upload_all)
            outcomes = self.call(service.sync, caller, batch, [])
            for outcome in outcomes.outcomes:
                event(f"sync: {outcome.status.value} {outcome.error or ''}".strip())

        @rule(seconds=st.sampled_from([60, 600, 1800, 3600, 4 * 3600]))
        def time_passes(self, seconds: int) -> None:
            assert self.service is not None
            self.clock[0] += seconds
            self.call(self.service.release_expired)

        @invariant()
        def money_is_conserved(self) -> None:
            if self.service is None:
                return
            totals = self.call(self.service.totals)
            for row in totals.values():
                assert row["balances"] >= 0 and row["reserves"] >= 0 and row["claims"] <= 0
                assert row["held"] == -row["claims"]
                assert row["balances"] + row["reserves"] == row["deposits"] - row["withdrawals"]

    return Ledger


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_money_is_conserved_under_any_workload(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if store == "sqlite":

        def db_url() -> str:
            return f"sqlite:///{tmp_path / f'ledger-{next(_files)}.sqlite3'}"
    else:
        from tests.ledger.conftest import new_pg_database

        url = new_pg_database(request.getfixturevalue("postgres"))

        def db_url() -> str:
            return url

    with start_blocking_portal() as portal:
        run_state_machine_as_test(
            machine_for(portal, db_url),
            settings=settings(
                max_examples=30, stateful_step_count=30, deadline=None, database=None
            ),
        )
