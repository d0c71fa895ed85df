"""A cheater with its own keys against the ledger: no step makes unbacked money spendable.

A Hypothesis state machine on a real database (SQLite, then PostgreSQL). The cheater holds
its own wallet key and may sign **any** payment under its allowances: any counter, ``prev``
(the right one or invented), ``spent``, amount, and payee (itself, its sybil wallets, the
honest wallets). Honest wallets pay each other by the rules, and accept the cheater's
payments only if SPEC §7 (``check_payment``, with what they last learnt from the ledger)
says so; sybils sign receipts for anything. Every party chooses when it syncs, and in which
order, before and after allowances are released.

After every step:
- spendable money is backed: ``sum(balance) + sum(reserve) <= deposits - withdrawals``
  (``held == -claims``);
- every payment an honest payee accepted and anyone uploaded is settled exactly once, for
  its amount, to that payee (spendable or held);
- if the uploaded cheater payments hold an inconsistent pair, the cheater is revoked, and
  every fraud proof the ledger handed out verifies on its own (each half opened with
  ``open_document``, the pair with ``protocol.chain.conflict``);
- nothing raised anything but a typed refusal (an HTTP server would have answered no 5xx).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from protocol.acceptance import check_payment
from protocol.builders import make_invoice, make_payment, make_receipt
from protocol.bundle import encode_bundle
from protocol.chain import ChainHead, FraudProof, chain_key, conflict, head_of, link_of
from protocol.documents import Allowance, Payment, Verdict
from protocol.errors import ProtocolError
from protocol.keys import public_key
from protocol.verify import SignedDocument, open_as, open_document, sign

pytestmark = pytest.mark.slow  # whole processes or fault sweeps: not the fast tier

START = 1_800_000_000
GRACE = 3600
HONEST = 2
SYBILS = 2
_files = itertools.count()
KEYS = Path(tempfile.mkdtemp(prefix="p2ppay-issuer-keys-"))


@dataclass
class Wallet:
    key: SigningKey
    honest: bool
    allowance: SignedDocument[Allowance] | None = None
    heads: list[ChainHead] = field(default_factory=list)
    seen: dict[tuple[bytes, int], ChainHead] = field(default_factory=dict)
    """As a payee: the last head seen per chain (SPEC §7)."""
    revoked: frozenset[bytes] = frozenset()
    """As a payee: the revocation list from its last sync."""
    outbox: list[bytes] = field(default_factory=list)

    @property
    def public(self) -> bytes:
        return public_key(self.key)


def machine_for(portal: BlockingPortal, db_url: Any) -> type[RuleBasedStateMachine]:
    class Cheating(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clock = [START]
            self.wallets = [Wallet(SigningKey.generate(), honest=True) for _ in range(HONEST)]
            self.wallets.append(Wallet(SigningKey.generate(), honest=False))  # the cheater
            self.wallets += [Wallet(SigningKey.generate(), honest=False) for _ in range(SYBILS)]
            self.cheater = HONEST
            self.accepted: dict[bytes, tuple[int, int]] = {}
            """Honest payees' accepted payments: payment hash -> (payee index, amount)."""
            self.uploaded: set[bytes] = set()
            self.cheats: list[SignedDocument[Payment]] = []
            """Cheater payments that reached the ledger in an accepted bundle."""
            self.proofs: list[FraudProof] = []
            self.service: LedgerService | None = None

        def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
            return portal.call(lambda: fn(*args, **kwargs))

        @initialize()
        def open_ledger(self) -> None:
            url = db_url()
            config = LedgerConfig(
                db_url=url,
                admin_token="t" * 32,
                clock=lambda: self.clock[0],
                grace=GRACE,
                issuer_key_file=KEYS / f"{abs(hash(url))}.key",  # one key per database
            )
            self.service = self.call(LedgerService.open, config)
            for who, wallet in enumerate(self.wallets):
                self.call(self.service.register, wallet.public)
                if who <= self.cheater:
                    self.deposit(who, 60_00)
                    self.request_allowance(who, 40_00)

        def teardown(self) -> None:
            if self.service is not None:
                self.call(self.service.close)

        # --- money at the ledger --------------------------------------------------------

        @rule(who=st.integers(0, HONEST), amount=st.integers(1, 50_00))
        def deposit(self, who: int, amount: int) -> None:
            assert self.service is not None
            self.call(
                self.service.move_money,
                self.wallets[who].public.hex(),
                amount=amount,
                currency="EUR",
                withdrawal=False,
            )

        @rule(who=st.integers(0, HONEST + SYBILS), amount=st.integers(1, 60_00))
        def withdraw(self, who: int, amount: int) -> None:
            assert self.service is not None
            wallet = self.wallets[who % len(self.wallets)]
            try:
                self.call(
                    self.service.move_money,
                    wallet.public.hex(),
                    amount=amount,
                    currency="EUR",
                    withdrawal=True,
                )
            except LedgerError as exc:
                assert exc.code.name == "LEDGER_INSUFFICIENT_FUNDS"

        @rule(who=st.integers(0, HONEST), amount=st.integers(1, 60_00))
        def request_allowance(self, who: int, amount: int) -> None:
            assert self.service is not None
            wallet = self.wallets[who]
            try:
                issued = self.call(
                    self.service.request_allowance,
                    wallet.public,
                    currency="EUR",
                    amount=amount,
                    valid_for=3600,
                )
            except LedgerError as exc:
                assert exc.code.name in ("LEDGER_INSUFFICIENT_FUNDS", "LEDGER_WALLET_REVOKED")
                return
            wallet.allowance = open_as(issued.signed, Allowance)
            wallet.heads = []

        # --- offline payments -----------------------------------------------------------

        def _offer(
            self, payer: Wallet, payee_index: int, payment: SignedDocument[Payment], invoice: Any
        ) -> bool:
            """The payee decides; an accepted payment's bundle lands in both outboxes."""
            payee = self.wallets[payee_index]
            now = self.clock[0]
            if payee.honest:
                key = chain_key(payment)
                try:
                    accepted = check_payment(
                        payment.raw,
                        invoice=invoice,
                        payee_key=payee.public,
                        trusted_issuers=(self.issuer,),
                        revoked=payee.revoked,
                        last_seen=payee.seen.get((key.issuer, key.serial)),
                        now=now,
                    )
                except ProtocolError as exc:
                    event(f"honest payee refused: {exc.code.name}")
                    return False
                payee.seen[(key.issuer, key.serial)] = accepted.head
                self.accepted[payment.hash] = (payee_index, payment.doc.amount)
            receipt = make_receipt(
                payee.key, payment_hash=payment.hash, verdict=Verdict.ACCEPTED, now=now
            )
            bundle = encode_bundle(invoice.raw, payment.raw, receipt.raw)
            payee.outbox.append(bundle)
            payer.outbox.append(bundle)
            return True

        @property
        def issuer(self) -> bytes:
            assert self.service is not None
            return self.service.issuer_key

        @precondition(lambda self: any(w.allowance for w in self.wallets[:HONEST]))
        @rule(data=st.data(), amount=st.integers(1, 20_00))
        def honest_pays(self, data: st.DataObject, amount: int) -> None:
            payers = [i for i in range(HONEST) if self.wallets[i].allowance is not None]
            who = data.draw(st.sampled_from(payers))
            to = data.draw(st.sampled_from([i for i in range(HONEST + 1) if i != who]))
            payer = self.wallets[who]
            assert payer.allowance is not None
            head = payer.heads[-1] if payer.heads else None
            if (head.spent if head else 0) + amount > payer.allowance.doc.limit:
                return
            now = self.clock[0]
            if not payer.allowance.doc.not_before <= now < payer.allowance.doc.not_after:
                return
            invoice = make_invoice(self.wallets[to].key, amount=amount, currency="EUR", now=now)
            payment = make_payment(payer.key, invoice=invoice, allowance=payer.allowance, head=head)
            if self._offer(payer, to, payment, invoice):
                payer.heads.append(head_of(payment))

        @precondition(lambda self: self.wallets[HONEST].allowance is not None)
        @rule(
            payments=st.lists(
                st.tuples(
                    st.sampled_from(["self", "sybil", "honest"]),
                    st.integers(0, 1),  # which sybil / honest wallet
                    st.integers(1, 3),  # counter
                    st.integers(1, 40_00),  # amount
                    st.integers(0, 40_00),  # spent - amount
                    st.booleans(),  # the right prev (if it signed one at counter - 1)
                ),
                min_size=1,
                max_size=4,
            )
        )
        def cheater_pays(self, payments: list[tuple[str, int, int, int, int, bool]]) -> None:
            for payment in payments:
                self._cheat(*payment)

        def _cheat(self, *spec: Any) -> None:
            payee, which, counter, amount, spent_extra, right_prev = spec
            cheater = self.wallets[self.cheater]
            allowance = cheater.allowance
            assert allowance is not None
            spent = min(amount + spent_extra, allowance.doc.limit)
            if amount > spent:
                return
            now = self.clock[0]
            if not allowance.doc.not_before <= now < allowance.doc.not_after:
                return
            to = {
                "self": self.cheater,
                "sybil": self.cheater + 1 + which,
                "honest": which,
            }[payee]
            prev = None
            if counter > 1:
                before = [h for h in cheater.heads if h.counter == counter - 1]
                prev = before[-1].hash if right_prev and before else os.urandom(32)
            invoice = make_invoice(self.wallets[to].key, amount=amount, currency="EUR", now=now)
            doc = Payment(
                invoice=invoice.hash,
                payer=cheater.public,
                amount=amount,
                currency="EUR",
                counter=counter,
                prev=prev,
                spent=spent,
                allowance=allowance.raw,
            )
            payment = sign(cheater.key, doc, allowance=allowance)
            if self._offer(cheater, to, payment, invoice):
                cheater.heads.append(head_of(payment))
                event(f"cheater paid {payee}")

        # --- syncs ----------------------------------------------------------------------

        @precondition(lambda self: any(w.outbox for w in self.wallets))
        @rule(data=st.data(), count=st.integers(1, 8))
        def sync(self, data: st.DataObject, count: int) -> None:
            assert self.service is not None
            who = data.draw(st.sampled_from([i for i, w in enumerate(self.wallets) if w.outbox]))
            self._sync(who, count)

        def _sync(self, who: int, count: int) -> None:
            assert self.service is not None
            wallet = self.wallets[who]
            batch, wallet.outbox = wallet.outbox[:count], wallet.outbox[count:]
            answer = self.call(self.service.sync, wallet.public, batch, [])
            for bundle, outcome in zip(batch, answer.outcomes, strict=True):
                event(f"sync: {outcome.status.value} {outcome.error or ''}".strip())
                if outcome.payment_hash is None or outcome.status.value == "rejected":
                    continue
                self.uploaded.add(outcome.payment_hash)
                payment = open_as(_payment_of(bundle), Payment)
                if payment.doc.payer == self.wallets[self.cheater].public and all(
                    p.hash != payment.hash for p in self.cheats
                ):
                    self.cheats.append(payment)
                if outcome.proof is not None:
                    self.proofs.append(outcome.proof)
            wallet.revoked = frozenset(answer.revocations.keys)

        @precondition(lambda self: any(w.outbox for w in self.wallets))
        @rule(order=st.permutations(range(HONEST + 1 + SYBILS)))
        def everyone_syncs(self, order: list[int]) -> None:
            for who in order:
                wallet = self.wallets[who]
                while wallet.outbox:
                    self._sync(who, 8)

        @rule(seconds=st.sampled_from([60, 600, 3600 + GRACE]))
        def time_passes(self, seconds: int) -> None:
            assert self.service is not None
            self.clock[0] += seconds
            self.call(self.service.release_expired)

        # --- invariants -----------------------------------------------------------------

        @invariant()
        def spendable_money_is_backed(self) -> None:
            if self.service is None:
                return
            for row in self.call(self.service.totals).values():
                assert row["balances"] >= 0 and row["reserves"] >= 0
                assert row["claims"] <= 0 <= row["held"]
                assert row["held"] == -row["claims"]
                assert row["balances"] + row["reserves"] <= row["deposits"] - row["withdrawals"]

        @invariant()
        def honest_payees_are_credited_exactly_once(self) -> None:
            if self.service is None:
                return
            by_payee: dict[int, list[bytes]] = {}
            for h, (payee, _) in self.accepted.items():
                if h in self.uploaded:
                    by_payee.setdefault(payee, []).append(h)
            for payee, hashes in by_payee.items():
                answer = self.call(self.service.sync, self.wallets[payee].public, [], hashes)
                got = sorted((u.payment_hash, u.amount, u.role) for u in answer.updates)
                assert got == sorted((h, self.accepted[h][1], "payee") for h in hashes)

        @invariant()
        def an_inconsistent_pair_revokes_the_cheater_with_a_proof(self) -> None:
            if self.service is None:
                return
            inconsistent = any(
                chain_key(a) == chain_key(b) and conflict(link_of(a), link_of(b)) is not None
                for a, b in itertools.combinations(self.cheats, 2)
            )
            revoked = self.call(self.service.revocations, self.wallets[0].public).keys
            cheater = self.wallets[self.cheater].public
            assert (cheater in revoked) == inconsistent
            for proof in self.proofs:
                halves = [open_document(proof.first).doc, open_document(proof.second).doc]
                payers = [h.payer for h in halves if isinstance(h, Payment)]
                assert payers == [cheater, cheater]
                proof.verify()
            if inconsistent:
                assert self.proofs

    return Cheating


def _payment_of(bundle: bytes) -> bytes:
    from protocol.bundle import decode_bundle

    return decode_bundle(bundle)[1]


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_a_cheater_never_gets_unbacked_money(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if store == "sqlite":

        def db_url() -> str:
            return f"sqlite:///{tmp_path / f'ledger-{next(_files)}.sqlite3'}"
    else:
        from tests.ledger.conftest import new_pg_database

        server = request.getfixturevalue("postgres")

        def db_url() -> str:
            return new_pg_database(server)

    with start_blocking_portal() as portal:
        run_state_machine_as_test(
            machine_for(portal, db_url),
            settings=settings(
                max_examples=60, stateful_step_count=50, deadline=None, database=None
            ),
        )
