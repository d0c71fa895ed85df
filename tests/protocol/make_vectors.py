"""Build protocol/vectors/*.json deterministically from fixed seeds.

    .venv/bin/python -m tests.protocol.make_vectors          # rewrite the vector files
    .venv/bin/python -m tests.protocol.make_vectors --check  # exit 1 if they are stale

Every key comes from a fixed seed, every id and nonce is fixed, Ed25519 signatures are
deterministic and the encoding is deterministic, so the output is byte-for-byte stable;
a test checks that the committed files equal a fresh build.

Invalid vectors are made the way an attacker or a buggy peer would: by hand-built CBOR,
by payloads that break one rule each, signed with the right key so that only the rule
under test fails.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import cbor2

from protocol import ErrorCode, cbor
from protocol.builders import make_abort, make_invoice, make_receipt
from protocol.chain import ChainHead, head_of
from protocol.cose import Kind, parse_sign1, sign1
from protocol.documents import Document, Invoice, Payment, Verdict, to_payload
from protocol.keys import key_id, public_key, signing_key_from_seed
from protocol.trustlists import make_issuer_set, make_revocation_list
from protocol.verify import MAX_CLOCK_SKEW, SignedDocument, open_as
from tests.protocol.docworld import NOW, World, doc_json, seed
from tests.protocol.session_vectors import sessions

OUT = Path(__file__).resolve().parents[2] / "protocol" / "vectors"
W = World()
STRANGER = seed("stranger")

Case = dict[str, Any]


def _keys() -> dict[str, dict[str, str]]:
    keys = {"issuer": W.issuer, "payer": W.payer, "payee": W.payee}
    out = {}
    for name, key in keys.items():
        public = public_key(key)
        out[name] = {
            "seed": key.encode().hex(),
            "public": public.hex(),
            "kid": key_id(public).hex(),
        }
    return out


def _valid(name: str, signed: SignedDocument[Document], description: str) -> Case:
    return {
        "name": name,
        "description": description,
        "kind": signed.kind.name.lower(),
        "now": NOW,
        "trusted_issuers": [public_key(W.issuer).hex()],
        "data": signed.raw.hex(),
        "valid": True,
        "hash": signed.hash.hex(),
        "document": doc_json(signed.doc),
    }


def _invalid(
    name: str,
    data: bytes,
    code: ErrorCode,
    description: str,
    *,
    now: int = NOW,
    trusted: list[bytes] | None = None,
) -> Case:
    return {
        "name": name,
        "description": description,
        "now": now,
        "trusted_issuers": [t.hex() for t in (trusted or [public_key(W.issuer)])],
        "data": data.hex(),
        "valid": False,
        "error": code.name,
        "code": int(code),
    }


def _envelope(raw: bytes) -> list[Any]:
    """The four COSE_Sign1 elements of a valid document, for hand-built variants."""
    s = parse_sign1(raw)
    return [s.protected, {4: s.kid}, s.payload, s.signature]


def _tagged(parts: list[Any]) -> bytes:
    return b"\xd2" + cbor2.dumps(parts, canonical=True)


def _signed_payload(key_name: str, kind: Kind, payload_bytes: bytes) -> bytes:
    key = {
        "issuer": W.issuer,
        "payer": W.payer,
        "payee": W.payee,
        "stranger": signing_key_from_seed(STRANGER),
    }[key_name]
    return sign1(key, kind, payload_bytes)


def _with(signed: SignedDocument[Document], **changes: Any) -> dict[Any, Any]:
    payload: dict[Any, Any] = dict(to_payload(signed.doc))
    names = {name: key for key, name in signed.doc.WIRE}
    for name, value in changes.items():
        if value is _DROP:
            del payload[names[name]]
        else:
            payload[names[name]] = value
    return payload


_DROP = object()


def documents() -> list[Case]:
    allowance = W.allowance()
    invoice = W.invoice()
    payment = W.payment(invoice=invoice, allowance=allowance)
    second = W.payment(invoice=W.invoice(n=1), allowance=allowance, head=head_of(payment))
    receipt = W.receipt(payment)
    rejected = make_receipt(
        W.payee,
        payment_hash=payment.hash,
        verdict=Verdict.REJECTED,
        now=NOW,
        code=ErrorCode.ACCEPT_PAYER_REVOKED,
    )
    abort = make_abort(W.payer, code=ErrorCode.SESSION_DECLINED, reason="declined", now=NOW)
    inv_raw = invoice.raw
    inv_env = _envelope(inv_raw)

    def payee_signed(payload: dict[Any, Any] | bytes, kind: Kind = Kind.INVOICE) -> bytes:
        data = payload if isinstance(payload, bytes) else cbor2.dumps(payload, canonical=True)
        return _signed_payload("payee", kind, data)

    def payer_signed(payload: dict[Any, Any]) -> bytes:
        return _signed_payload("payer", Kind.PAYMENT, cbor2.dumps(payload, canonical=True))

    flipped = bytearray(inv_raw)
    flipped[-1] ^= 1
    unsorted_payload = b"\xa8" + b"".join(
        cbor2.dumps(k) + cbor2.dumps(v)
        for k, v in sorted(to_payload(invoice.doc).items(), reverse=True)
    )
    wrong_alg = [cbor.encode({1: -7, 16: Kind.INVOICE.value}), *inv_env[1:]]
    unknown_kind = [cbor.encode({1: -8, 16: "application/cose"}), *inv_env[1:]]
    extra_label = [cbor.encode({1: -8, 3: 0, 16: Kind.INVOICE.value}), *inv_env[1:]]
    dup_key = (
        b"\xd2\x84"
        + cbor2.dumps(inv_env[0])
        + b"\xa2\x04"
        + cbor2.dumps(inv_env[1][4]) * 1
        + b"\x04"
        + cbor2.dumps(inv_env[1][4])
        + cbor2.dumps(inv_env[2])
        + cbor2.dumps(inv_env[3])
    )
    indefinite = b"\xd2\x9f" + b"".join(cbor2.dumps(p, canonical=True) for p in inv_env) + b"\xff"
    non_shortest_sig = inv_raw[:-66] + b"\x59\x00\x40" + inv_raw[-64:]
    payment_wrong_allowance = payer_signed(_with(payment, allowance=inv_raw))

    revoked = [public_key(W.payer), public_key(signing_key_from_seed(STRANGER))]
    issuer_set = make_issuer_set(W.issuer, issuers=[public_key(W.issuer)], now=NOW)
    revocations = make_revocation_list(W.issuer, keys=revoked, now=NOW)

    def ledger_signed(kind: Kind, payload: dict[Any, Any]) -> bytes:
        return _signed_payload("issuer", kind, cbor.encode(payload))

    cases = [
        _valid(
            "issuer-set", issuer_set, "The ledger (its key is the issuer key) trusts one issuer."
        ),
        _valid(
            "revocation-list",
            revocations,
            "The ledger's revocation list: version 2, two keys in revocation order.",
        ),
        _invalid(
            "revocation-version-not-count",
            ledger_signed(Kind.REVOCATION_LIST, _with(revocations, version=10**6)),
            ErrorCode.TRUST_VERSION_MISMATCH,
            "A list claiming version 1000000 with two keys (it would freeze the list).",
        ),
        _invalid(
            "revocation-key-twice",
            ledger_signed(Kind.REVOCATION_LIST, _with(revocations, keys=[revoked[0], revoked[0]])),
            ErrorCode.TRUST_KEYS_NOT_CANONICAL,
            "A revocation list naming one key twice.",
        ),
        _invalid(
            "issuer-set-unsorted",
            ledger_signed(
                Kind.ISSUER_SET, _with(issuer_set, issuers=sorted(revoked, reverse=True))
            ),
            ErrorCode.TRUST_KEYS_NOT_CANONICAL,
            "An issuer set not in ascending order.",
        ),
        _valid("allowance", allowance, "An issuer's allowance: 100.00 EUR offline, serial 7."),
        _valid("invoice", invoice, "A payee's invoice for 12.50 EUR, memo 'coffee'."),
        _valid("payment-first", payment, "Counter 1: no prev hash, spent = amount."),
        _valid("payment-second", second, "Counter 2: prev = hash of counter 1, spent 25.00."),
        _valid("receipt-accepted", receipt, "The payee accepts payment-first."),
        _valid("receipt-rejected", rejected, "A rejection carries its ErrorCode."),
        _valid("abort", abort, "The payer declined (SESSION_DECLINED)."),
        _valid(
            "abort-bound",
            make_abort(
                W.payee,
                code=ErrorCode.SESSION_DECLINED,
                reason="declined",
                now=NOW,
                invoice_hash=invoice.hash,
                payment_hash=payment.hash,
            ),
            "An abort naming its session's invoice and payment hashes.",
        ),
        _invalid(
            "abort-payment-without-invoice",
            _signed_payload(
                "payer", Kind.ABORT, cbor.encode({**to_payload(abort.doc), 6: payment.hash})
            ),
            ErrorCode.DOC_FIELD_VALUE,
            "An abort naming a payment but not its invoice.",
        ),
        # 1xx: encoding
        _invalid("truncated", inv_raw[:-1], ErrorCode.CBOR_MALFORMED, "Last byte cut off."),
        _invalid(
            "indefinite-array",
            indefinite,
            ErrorCode.CBOR_INDEFINITE_LENGTH,
            "The COSE array as an indefinite-length array.",
        ),
        _invalid(
            "duplicate-kid",
            dup_key,
            ErrorCode.CBOR_DUPLICATE_KEY,
            "The unprotected header repeats label 4.",
        ),
        _invalid(
            "non-shortest-length",
            non_shortest_sig,
            ErrorCode.CBOR_NON_SHORTEST,
            "The signature's length 64 written with a two-byte argument.",
        ),
        _invalid(
            "float-amount",
            payee_signed(_with(invoice, amount=12.5)),
            ErrorCode.CBOR_FLOAT,
            "A validly signed invoice whose amount is a float.",
        ),
        _invalid(
            "self-describe-tag",
            b"\xd9\xd9\xf7" + inv_raw,
            ErrorCode.CBOR_UNKNOWN_TAG,
            "The document wrapped in tag 55799.",
        ),
        _invalid(
            "too-deep",
            payee_signed(_with(invoice, memo=[[[[1]]]])),
            ErrorCode.CBOR_TOO_DEEP,
            "A memo of four nested arrays: payload nesting 5 > 4.",
        ),
        _invalid(
            "too-large",
            payee_signed(_with(invoice, memo="x" * 2100)),
            ErrorCode.CBOR_TOO_LARGE,
            "A document over 2048 bytes.",
        ),
        _invalid(
            "unsorted-payload",
            payee_signed(unsorted_payload),
            ErrorCode.CBOR_NOT_DETERMINISTIC,
            "A validly signed payload whose map keys are in descending order.",
        ),
        _invalid(
            "trailing-byte",
            inv_raw + b"\x00",
            ErrorCode.CBOR_TRAILING_BYTES,
            "A zero byte after the document.",
        ),
        _invalid(
            "undefined-memo",
            payee_signed(_with(invoice, memo=cbor2.undefined)),
            ErrorCode.CBOR_UNSUPPORTED_TYPE,
            "A memo that is CBOR undefined.",
        ),
        # 2xx: COSE
        _invalid(
            "three-elements",
            _tagged(inv_env[:3]),
            ErrorCode.COSE_NOT_SIGN1,
            "A tag-18 array without the signature.",
        ),
        _invalid(
            "extra-protected-label",
            _tagged(extra_label),
            ErrorCode.COSE_BAD_HEADER,
            "The protected header has an extra label 3.",
        ),
        _invalid(
            "alg-es256",
            _tagged(wrong_alg),
            ErrorCode.COSE_UNSUPPORTED_ALG,
            "alg -7 (ES256) instead of -8 (EdDSA).",
        ),
        _invalid(
            "unknown-typ",
            _tagged(unknown_kind),
            ErrorCode.COSE_UNKNOWN_KIND,
            "typ names no p2ppay document.",
        ),
        _invalid(
            "payment-embeds-invoice",
            payment_wrong_allowance,
            ErrorCode.COSE_WRONG_KIND,
            "A payment whose 'allowance' is an invoice.",
        ),
        _invalid(
            "kid-of-another-key",
            _signed_payload("payer", Kind.INVOICE, inv_env[2]),
            ErrorCode.COSE_KID_MISMATCH,
            "The payee's invoice payload signed by the payer (kid names the payer).",
        ),
        _invalid(
            "bad-signature",
            bytes(flipped),
            ErrorCode.COSE_BAD_SIGNATURE,
            "The last signature bit flipped.",
        ),
        # 2xx: payload structure
        _invalid(
            "payload-array",
            payee_signed(cbor.encode([1, 2])),
            ErrorCode.DOC_NOT_A_MAP,
            "The payload is an array.",
        ),
        _invalid(
            "missing-nonce",
            payee_signed(_with(invoice, nonce=_DROP)),
            ErrorCode.DOC_MISSING_FIELD,
            "Invoice without key 8 (nonce).",
        ),
        _invalid(
            "unknown-key",
            payee_signed({**to_payload(invoice.doc), 42: 0}),
            ErrorCode.DOC_UNKNOWN_FIELD,
            "Invoice with key 42.",
        ),
        _invalid(
            "amount-as-text",
            payee_signed(_with(invoice, amount="12.50")),
            ErrorCode.DOC_FIELD_TYPE,
            "Invoice amount as a text string.",
        ),
        _invalid(
            "short-nonce",
            payee_signed(_with(invoice, nonce=b"n" * 15)),
            ErrorCode.DOC_FIELD_VALUE,
            "A 15-byte nonce.",
        ),
        _invalid(
            "expires-over-max-integer",
            payee_signed(_with(invoice, expires=2**63)),
            ErrorCode.DOC_FIELD_VALUE,
            "Invoice expires at 2^63: no 64-bit column holds it.",
        ),
        _invalid(
            "counter-over-max-integer",
            payer_signed(_with(payment, counter=2**63, prev=b"p" * 32)),
            ErrorCode.DOC_FIELD_VALUE,
            "Counter 2^63 (SQLite and PostgreSQL hold 2^63 - 1).",
        ),
        _invalid(
            "expires-at-created",
            payee_signed(_with(invoice, expires=NOW)),
            ErrorCode.DOC_BAD_TIME_WINDOW,
            "Invoice expires when it is created.",
        ),
        _invalid(
            "invoice-from-the-future",
            inv_raw,
            ErrorCode.DOC_NOT_YET_VALID,
            "A valid invoice checked before created - skew.",
            now=NOW - MAX_CLOCK_SKEW - 1,
        ),
        _invalid(
            "invoice-expired",
            inv_raw,
            ErrorCode.DOC_EXPIRED,
            "A valid invoice checked at expires + skew.",
            now=invoice.doc.expires + MAX_CLOCK_SKEW,
        ),
        _invalid(
            "untrusted-issuer",
            payment.raw,
            ErrorCode.DOC_UNTRUSTED_ISSUER,
            "A valid payment; the verifier trusts another issuer only.",
            trusted=[public_key(signing_key_from_seed(STRANGER))],
        ),
        _invalid(
            "counter-1-with-prev",
            payer_signed(_with(payment, prev=b"p" * 32)),
            ErrorCode.DOC_CHAIN_START,
            "Counter 1 that names a previous payment.",
        ),
        # 2xx: money
        _invalid(
            "currency-xts",
            payee_signed(_with(invoice, currency="XTS")),
            ErrorCode.MONEY_UNKNOWN_CURRENCY,
            "An unsupported currency code.",
        ),
        _invalid(
            "amount-zero",
            payee_signed(_with(invoice, amount=0)),
            ErrorCode.MONEY_NOT_POSITIVE,
            "An invoice for 0.",
        ),
        _invalid(
            "amount-over-max",
            payee_signed(_with(invoice, amount=10**15 + 1)),
            ErrorCode.MONEY_OVER_MAXIMUM,
            "An invoice for MAX_AMOUNT + 1.",
        ),
        # 2xx: payment against its allowance
        _invalid(
            "payer-not-wallet",
            _signed_payload(
                "payee", Kind.PAYMENT, cbor.encode(_with(payment, payer=public_key(W.payee)))
            ),
            ErrorCode.PAYMENT_PAYER_NOT_WALLET,
            "Signed by a key other than the wallet.",
        ),
        _invalid(
            "currency-not-allowance",
            payer_signed(_with(payment, currency="USD")),
            ErrorCode.PAYMENT_CURRENCY_NOT_ALLOWANCE,
            "USD paid from an EUR allowance.",
        ),
        _invalid(
            "spent-below-amount",
            payer_signed(_with(payment, spent=12_49)),
            ErrorCode.PAYMENT_CUMULATIVE_BELOW_AMOUNT,
            "Cumulative 12.49 < amount 12.50.",
        ),
        _invalid(
            "over-limit",
            payer_signed(_with(payment, amount=100_01, spent=100_01)),
            ErrorCode.PAYMENT_OVER_LIMIT,
            "Cumulative 100.01 > limit 100.00.",
        ),
    ]
    return cases


def _head_json(head: ChainHead | None) -> dict[str, Any] | None:
    if head is None:
        return None
    return {
        "issuer": head.key.issuer.hex(),
        "serial": head.key.serial,
        "counter": head.counter,
        "hash": head.hash.hex(),
        "spent": head.spent,
    }


def _acceptance_case(
    name: str,
    description: str,
    payment: bytes,
    invoice: SignedDocument[Invoice],
    *,
    code: ErrorCode | None = None,
    now: int = NOW,
    payee: bytes | None = None,
    revoked: tuple[bytes, ...] = (),
    last_seen: ChainHead | None = None,
) -> Case:
    case: Case = {
        "name": name,
        "description": description,
        "now": now,
        "payee_key": (payee or public_key(W.payee)).hex(),
        "trusted_issuers": [public_key(W.issuer).hex()],
        "revoked": [r.hex() for r in revoked],
        "last_seen": _head_json(last_seen),
        "invoice": invoice.raw.hex(),
        "payment": payment.hex(),
        "valid": code is None,
    }
    if code is None:
        case["head"] = _head_json(head_of(open_as(payment, Payment)))
    else:
        case.update(error=code.name, code=int(code))
    return case


def acceptance() -> list[Case]:
    invoice = W.invoice()
    first = W.payment(invoice=W.invoice(n=1))
    second = W.payment(invoice=invoice, head=head_of(first))
    seen = head_of(first)
    usd = make_invoice(
        W.payee, amount=12_50, currency="USD", now=NOW, invoice_id=b"u" * 16, nonce=b"n" * 16
    )
    picky = make_invoice(
        W.payee,
        amount=12_50,
        currency="EUR",
        now=NOW,
        invoice_id=b"p" * 16,
        nonce=b"q" * 16,
        issuers=(b"\x07" * 16,),
    )
    to_self = make_invoice(
        W.payer, amount=12_50, currency="EUR", now=NOW, invoice_id=b"s" * 16, nonce=b"t" * 16
    )

    def payer_signed(payment: SignedDocument[Payment], **changes: Any) -> bytes:
        return _signed_payload("payer", Kind.PAYMENT, cbor.encode(_with(payment, **changes)))

    a = _acceptance_case
    return [
        a(
            "first-payment",
            "A first payment of a fresh allowance.",
            W.payment(invoice=invoice).raw,
            invoice,
        ),
        a(
            "next-payment",
            "Counter 2 right after the last seen counter 1.",
            second.raw,
            invoice,
            last_seen=seen,
        ),
        a(
            "payee-mismatch",
            "The invoice is not this payee's.",
            second.raw,
            invoice,
            code=ErrorCode.ACCEPT_PAYEE_MISMATCH,
            payee=public_key(W.payer),
            last_seen=seen,
        ),
        a(
            "invoice-expired",
            "The payee's own invoice expired (no skew on its own clock).",
            second.raw,
            invoice,
            code=ErrorCode.DOC_EXPIRED,
            now=invoice.doc.expires,
            last_seen=seen,
        ),
        a(
            "invoice-mismatch",
            "The payment pays another invoice.",
            first.raw,
            invoice,
            code=ErrorCode.ACCEPT_INVOICE_MISMATCH,
        ),
        a(
            "amount-mismatch",
            "The payment pays 12.49 of a 12.50 invoice.",
            payer_signed(W.payment(invoice=invoice), amount=12_49, spent=12_49),
            invoice,
            code=ErrorCode.ACCEPT_AMOUNT_MISMATCH,
        ),
        a(
            "currency-mismatch",
            "An EUR payment naming a USD invoice.",
            payer_signed(W.payment(invoice=invoice), invoice=usd.hash),
            usd,
            code=ErrorCode.ACCEPT_CURRENCY_MISMATCH,
        ),
        a(
            "issuer-not-accepted",
            "The invoice accepts only another issuer.",
            W.payment(invoice=picky).raw,
            picky,
            code=ErrorCode.ACCEPT_ISSUER_NOT_ACCEPTED,
        ),
        a(
            "payer-revoked",
            "The payer's wallet key is revoked.",
            W.payment(invoice=invoice).raw,
            invoice,
            code=ErrorCode.ACCEPT_PAYER_REVOKED,
            revoked=(public_key(W.payer),),
        ),
        a(
            "self-payment",
            "The payer pays an invoice of its own wallet key.",
            W.payment(invoice=to_self).raw,
            to_self,
            code=ErrorCode.ACCEPT_SELF_PAYMENT,
            payee=public_key(W.payer),
        ),
        a(
            "counter-not-increasing",
            "Counter 2 when counter 2 was already seen.",
            second.raw,
            invoice,
            code=ErrorCode.ACCEPT_COUNTER_NOT_INCREASING,
            last_seen=head_of(second),
        ),
        a(
            "prev-hash-mismatch",
            "Counter 2 whose prev is not the seen counter 1.",
            second.raw,
            invoice,
            code=ErrorCode.ACCEPT_PREV_HASH_MISMATCH,
            last_seen=replace(seen, hash=b"\x00" * 32),
        ),
        a(
            "cumulative-mismatch",
            "Counter 2 whose total is not seen total + amount.",
            second.raw,
            invoice,
            code=ErrorCode.ACCEPT_CUMULATIVE_MISMATCH,
            last_seen=replace(seen, spent=seen.spent + 1),
        ),
    ]


def chains() -> list[Case]:
    def chain(n: int, serial: int = 7) -> list[SignedDocument[Payment]]:
        allowance = W.allowance(serial=serial)
        out: list[SignedDocument[Payment]] = []
        for i in range(n):
            head = head_of(out[-1]) if out else None
            out.append(W.payment(invoice=W.invoice(n=i), allowance=allowance, head=head))
        return out

    three = chain(3)
    fork = W.payment(invoice=W.invoice(n=9))
    other = chain(2, serial=8)
    skip_prev = W.payment(invoice=W.invoice(n=1), head=head_of(fork))
    overcounted = open_as(
        _signed_payload(
            "payer", Kind.PAYMENT, cbor.encode(_with(three[1], spent=three[1].doc.spent + 1))
        ),
        Payment,
    )

    def c(
        name: str,
        description: str,
        payments: list[SignedDocument[Payment]],
        code: ErrorCode | None = None,
    ) -> Case:
        case: Case = {
            "name": name,
            "description": description,
            "payments": [p.raw.hex() for p in payments],
            "valid": code is None,
        }
        if code is None:
            case["head"] = _head_json(head_of(payments[-1]))
        else:
            case.update(error=code.name, code=int(code))
        return case

    def payer_changed(payment: SignedDocument[Payment], **changes: Any) -> SignedDocument[Payment]:
        raw = _signed_payload("payer", Kind.PAYMENT, cbor.encode(_with(payment, **changes)))
        return open_as(raw, Payment)

    def proof(
        name: str,
        description: str,
        a: SignedDocument[Payment],
        b: SignedDocument[Payment],
        conflict: str | None,
    ) -> Case:
        first, second = sorted([a, b], key=lambda p: p.hash)
        case: Case = {
            "name": name,
            "description": description,
            "fraud_proof": [first.raw.hex(), second.raw.hex()],
            "fraud_proof_cbor": cbor.encode([first.raw, second.raw]).hex(),
            "valid": conflict is not None,
        }
        if conflict is not None:
            case["conflict"] = conflict
        else:
            case.update(
                error=ErrorCode.FRAUD_PROOF_INVALID.name, code=int(ErrorCode.FRAUD_PROOF_INVALID)
            )
        return case

    fork_proof = sorted([three[0], fork], key=lambda p: p.hash)
    overlapping = payer_changed(three[2], spent=three[2].doc.amount)  # (0, amount] again
    out_of_order = payer_changed(three[1], spent=4 * three[1].doc.amount)  # above counter 3
    wrong_prev = payer_changed(three[1], prev=b"x" * 32)
    return [
        c("three-payments", "Counters 1, 2, 3 linked by prev hashes.", three),
        c("replayed-head", "The head offered again is idempotent.", [*three, three[2]]),
        c(
            "starts-at-two",
            "A chain must start at counter 1.",
            three[1:],
            ErrorCode.CHAIN_COUNTER_GAP,
        ),
        c(
            "gap",
            "Counter 3 right after counter 1.",
            [three[0], three[2]],
            ErrorCode.CHAIN_COUNTER_GAP,
        ),
        c(
            "fork",
            "A second, different payment at counter 1.",
            [three[0], fork],
            ErrorCode.CHAIN_COUNTER_REUSED,
        ),
        c(
            "prev-mismatch",
            "Counter 2 linked to another counter-1 payment.",
            [three[0], skip_prev],
            ErrorCode.CHAIN_PREV_HASH_MISMATCH,
        ),
        c(
            "cumulative-mismatch",
            "Counter 2 whose total is not total(1) + amount.",
            [three[0], overcounted],
            ErrorCode.CHAIN_CUMULATIVE_MISMATCH,
        ),
        c(
            "other-allowance",
            "Counter 2 of another allowance.",
            [three[0], other[1]],
            ErrorCode.CHAIN_OTHER_ALLOWANCE,
        ),
        {
            "name": "fraud-proof",
            "description": "Two different payments at counter 1 of one allowance, hash order.",
            "fraud_proof": [p.raw.hex() for p in fork_proof],
            "valid": True,
        },
        proof(
            "fraud-proof-overlap",
            "Counter 3 claiming the reserve interval of counter 1.",
            three[0],
            overlapping,
            "overlap",
        ),
        proof(
            "fraud-proof-order",
            "Counter 2's interval lies above counter 3's.",
            three[2],
            out_of_order,
            "order",
        ),
        proof(
            "fraud-proof-prev",
            "Counter 2 whose prev is not counter 1's hash.",
            three[0],
            wrong_prev,
            "prev",
        ),
        proof(
            "fraud-proof-cumulative",
            "Counter 2 whose interval starts past counter 1's end.",
            three[0],
            overcounted,
            "cumulative",
        ),
        proof(
            "fraud-proof-consistent",
            "Counters 1 and 2 of one honest chain prove nothing.",
            three[0],
            three[1],
            None,
        ),
        {
            "name": "fraud-proof-same-payment",
            "description": "The same payment twice proves nothing.",
            "fraud_proof": [three[0].raw.hex()] * 2,
            "valid": False,
            "error": ErrorCode.FRAUD_PROOF_INVALID.name,
            "code": int(ErrorCode.FRAUD_PROOF_INVALID),
        },
    ]


def _trust_case(
    name: str,
    description: str,
    *,
    kind: Kind,
    cached: bytes | None,
    new: bytes,
    code: ErrorCode | None = None,
    now: int = NOW,
) -> Case:
    case: Case = {
        "name": name,
        "description": description,
        "kind": kind.name.lower(),
        "now": now,
        "ledger": public_key(W.issuer).hex(),
        "cached": None if cached is None else cached.hex(),
        "new": new.hex(),
        "valid": code is None,
    }
    if code is not None:
        case.update(error=code.name, code=int(code))
    return case


def trust() -> list[Case]:
    """Updates of a wallet's cached trust lists (SPEC 4.1): cached, new, pinned ledger key."""
    a, b, c = (public_key(signing_key_from_seed(seed(n))) for n in ("revoked-a", "revoked-b", "c"))
    stranger = signing_key_from_seed(STRANGER)
    one = make_revocation_list(W.issuer, keys=[a], now=NOW - 60).raw
    two = make_revocation_list(W.issuer, keys=[a, b], now=NOW).raw
    forked = make_revocation_list(W.issuer, keys=[b, a], now=NOW).raw
    old_two = make_revocation_list(W.issuer, keys=[a, b], now=NOW - 120).raw
    two_again = make_revocation_list(W.issuer, keys=[a, b], now=NOW - 30).raw
    by_stranger = make_revocation_list(stranger, keys=[a, b, c], now=NOW).raw
    set_now = make_issuer_set(W.issuer, issuers=[public_key(W.issuer)], now=NOW).raw
    set_old = make_issuer_set(W.issuer, issuers=[public_key(W.issuer)], now=NOW - 60).raw
    set_stranger = make_issuer_set(stranger, issuers=[public_key(stranger)], now=NOW).raw
    future = make_revocation_list(W.issuer, keys=[a, b], now=NOW + MAX_CLOCK_SKEW + 1).raw
    rl, iss = Kind.REVOCATION_LIST, Kind.ISSUER_SET
    return [
        _trust_case(
            "first-list",
            "No cached list: any list by the ledger is taken.",
            kind=rl,
            cached=None,
            new=one,
        ),
        _trust_case("extends", "Version 2 extends version 1.", kind=rl, cached=one, new=two),
        _trust_case(
            "same-list-later",
            "The same keys, issued later (a fresh copy).",
            kind=rl,
            cached=two_again,
            new=two,
        ),
        _trust_case(
            "rollback",
            "Version 1 after version 2.",
            kind=rl,
            cached=two,
            new=one,
            code=ErrorCode.TRUST_ROLLBACK,
        ),
        _trust_case(
            "fork",
            "Version 2 whose first key is not the cached first key.",
            kind=rl,
            cached=one,
            new=forked,
            code=ErrorCode.TRUST_FORK,
        ),
        _trust_case(
            "issued-backwards",
            "The same list, issued before the cached copy.",
            kind=rl,
            cached=two,
            new=old_two,
            code=ErrorCode.TRUST_ISSUED_BACKWARDS,
        ),
        _trust_case(
            "wrong-ledger",
            "A valid list signed by a key that is not the pinned one.",
            kind=rl,
            cached=one,
            new=by_stranger,
            code=ErrorCode.TRUST_WRONG_LEDGER,
        ),
        _trust_case(
            "from-the-future",
            "Issued after now + skew.",
            kind=rl,
            cached=one,
            new=future,
            code=ErrorCode.DOC_NOT_YET_VALID,
        ),
        _trust_case(
            "issuer-set-newer",
            "A later issuer set replaces the cached one.",
            kind=iss,
            cached=set_old,
            new=set_now,
        ),
        _trust_case(
            "issuer-set-backwards",
            "An older issuer set after a newer one.",
            kind=iss,
            cached=set_now,
            new=set_old,
            code=ErrorCode.TRUST_ISSUED_BACKWARDS,
        ),
        _trust_case(
            "issuer-set-wrong-ledger",
            "A stranger's issuer set naming itself.",
            kind=iss,
            cached=set_now,
            new=set_stranger,
            code=ErrorCode.TRUST_WRONG_LEDGER,
        ),
    ]


def build() -> dict[str, str]:
    """File name -> JSON text of every vector file."""
    files = {
        "documents.json": {"keys": _keys(), "vectors": documents()},
        "acceptance.json": {"keys": _keys(), "vectors": acceptance()},
        "chains.json": {"keys": _keys(), "vectors": chains()},
        "trust.json": {"keys": _keys(), "vectors": trust()},
        "sessions.json": {"keys": _keys(), "vectors": sessions()},
    }
    return {
        name: json.dumps({"format": "p2ppay-vectors/1", **content}, indent=1, ensure_ascii=False)
        + "\n"
        for name, content in files.items()
    }


def main(argv: list[str]) -> int:
    built = build()
    if "--check" in argv:
        stale = [n for n, text in built.items() if (OUT / n).read_text() != text]
        for name in stale:
            print(f"stale: protocol/vectors/{name}")
        return 1 if stale else 0
    OUT.mkdir(exist_ok=True)
    for name, text in built.items():
        (OUT / name).write_text(text)
        print(f"wrote protocol/vectors/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
