"""The label a party chose (``init --label``) names it to the other side, marked self-named.

End to end over Bumble's virtual radio with the real roles and stores. The payee's label
travels in its invoice, so the payer's prompt can name who it pays; the payer's travels in
its payment only, once it decided to pay (the tracker test shows it never leaks before).
A label is self-asserted: the contacts book's name for a key wins, and a label alone is
shown quoted and marked ``(self-named)`` next to the key's fingerprint. A modified payee
that signs a label meant to fool a person (a line break, a bidirectional override) is
refused with DOC_FIELD_VALUE before the payer is asked anything; nothing is spent.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from gatt.bumble_backend import VirtualRadio
from p2ppay.roles import PayeeRole, PayerChoice, PayerRole, PromptApprove
from p2ppay.roles.radio import PAYER_INFO, pay_on_virtual_radio
from p2ppay.wallet import WalletHome
from p2ppay.wallet.config import WalletConfig, load_config, save_config
from p2ppay.wallet.contacts import fingerprint
from protocol import ErrorCode, Invoice, SignedDocument
from protocol.documents import to_payload
from protocol.session.messages import Message, MessageKind, decode_refusal
from tests.cli_world import cli
from tests.reliability.mallory import Mallory, raw_sign
from tests.world import Homes, make_homes, spent

pytestmark = pytest.mark.anyio

QUICK = PayerChoice(listen=0.2, within=10)


def _label(home: WalletHome, label: str) -> None:
    save_config(home, WalletConfig(label=label))


async def _pay(homes: Homes, asked: list[str]) -> SignedDocument[Invoice]:
    async def ask(question: str) -> str:
        asked.append(question)
        return "y"

    with homes.open_payer() as payer_wallet, homes.open_payee() as payee_wallet:
        payer = PayerRole(wallet=payer_wallet, approver=PromptApprove(ask=ask))
        payee = PayeeRole(wallet=payee_wallet, choice=QUICK)
        invoice = payee.new_invoice(amount=3_00, currency="EUR", memo="tea")
        with anyio.fail_after(30):
            payer_out, payee_out = await pay_on_virtual_radio(payer, payee, invoice)
        assert payer_out.completed and payee_out.completed
    return invoice


async def test_each_side_is_named_by_its_label_marked_self_named(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    _label(homes.payee, "Bob's café")
    _label(homes.payer, "Ana")
    asked: list[str] = []
    invoice = await _pay(homes, asked)
    with homes.open_payer() as payer_wallet, homes.open_payee() as payee_wallet:
        payer_key = payer_wallet.identity.public_key
        payee_key = payee_wallet.identity.public_key
        stored = payee_wallet.store.payments.payment(invoice.doc.id)
        assert stored is not None
    assert invoice.doc.label == "Bob's café"
    (question,) = asked
    assert f'to "Bob\'s café" (self-named) · {fingerprint(payee_key)}' in question

    payee_home, payer_home = str(homes.payee.root), str(homes.payer.root)
    (entry,) = json.loads(cli("--home", payee_home, "history", "--json").stdout)["entries"]
    assert (entry["peer_label"], entry["peer_name"]) == ("Ana", None)
    assert (
        f'from "Ana" (self-named) · {fingerprint(payer_key)}'
        in cli("--home", payee_home, "history").stdout
    )
    shown = json.loads(cli("--home", payer_home, "show", invoice.doc.id.hex(), "--json").stdout)
    assert shown["peer_label"] == "Bob's café"
    assert (
        'to: "Bob\'s café" (self-named)'
        in cli("--home", payer_home, "show", invoice.doc.id.hex()).stdout
    )

    # The name the payee gave that key in its own contacts wins over the self-chosen label.
    cli("--home", payee_home, "contacts", "add", "Ana from the bakery", payer_key.hex())
    text = cli("--home", payee_home, "show", invoice.doc.id.hex()).stdout
    assert "from: Ana from the bakery" in text and "self-named" not in text


async def test_without_labels_nothing_is_added_to_the_documents(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    asked: list[str] = []
    invoice = await _pay(homes, asked)
    assert invoice.doc.label is None and 10 not in to_payload(invoice.doc)
    with homes.open_payee() as payee_wallet:
        stored = payee_wallet.store.payments.payment(invoice.doc.id)
        assert stored is not None
        assert b"label" not in stored.signed
    assert "self-named" not in asked[0]


@pytest.mark.parametrize(
    "label",
    [
        pytest.param("Bank\nPAID IN FULL", id="line-break"),
        pytest.param("\u202eefac s'boB", id="bidi-override"),
        pytest.param("B" * 33, id="over-long"),
    ],
)
async def test_a_payee_signing_a_label_that_could_fool_a_person_is_refused(
    tmp_path: Path, label: str
) -> None:
    homes = make_homes(tmp_path)
    asked: list[str] = []

    async def ask(question: str) -> str:
        asked.append(question)
        return "y"

    with homes.open_payee() as payee_wallet:
        payee_key = payee_wallet.identity.signing_key
        honest = PayeeRole(wallet=payee_wallet).new_invoice(amount=3_00, currency="EUR")
    # Modified payee software: its own real key signs a label the rules forbid.
    forged = raw_sign(payee_key, honest.doc.model_copy(update={"label": label}))
    reply: list[Message] = []
    radio = VirtualRadio()
    with homes.open_payer() as payer_wallet:
        payer = PayerRole(wallet=payer_wallet, approver=PromptApprove(ask=ask))
        async with (
            radio.open_peripheral(info=PAYER_INFO) as peripheral,
            radio.open_central() as central,
        ):

            async def mallory() -> None:
                m = await Mallory.as_payee(central, payee_key)
                async with m.link:
                    await m.offer()
                    await m.write(MessageKind.INVOICE, forged)
                    reply.append(await m.read())

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(mallory)
                    outcome = await payer.serve_one(peripheral)
        assert outcome.error == ErrorCode.DOC_FIELD_VALUE.name
        assert asked == []  # no person was shown it
        assert payer_wallet.store.payments.payment(honest.doc.id) is None
        assert spent(payer_wallet) == 0
    # told with an unsigned code: the payer has not disclosed who it is
    assert reply[0].kind is MessageKind.REFUSAL
    assert decode_refusal(reply[0].body) == ErrorCode.DOC_FIELD_VALUE


@pytest.mark.parametrize("label", ["A" * 33, "Ana\tB", " Ana"])
def test_init_refuses_a_label_the_documents_could_not_carry(tmp_path: Path, label: str) -> None:
    home = tmp_path / "w"
    result = cli(
        "--home", str(home), "init", "--no-passphrase", "--label", label, "--json", check=False
    )
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"] == "BAD_NAME"
    assert not home.exists() or not any(home.iterdir())  # nothing was created


def test_init_keeps_a_good_label(tmp_path: Path) -> None:
    home = tmp_path / "w"
    cli("--home", str(home), "init", "--no-passphrase", "--label", "Café Zoë", "--json")
    assert load_config(WalletHome.resolve(home)).label == "Café Zoë"
