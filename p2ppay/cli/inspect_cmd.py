"""``p2ppay inspect FILE``: decode and verify a document or a bundle, offline.

Exit 0 when every signature and rule holds; otherwise exit 1 with the error's code name.
A bundle is checked as its payee checked it, at the receipt's time
(:func:`protocol.bundle.verify_bundle`); a single document has its structure and signature
checked, and its validity window too when ``--at`` gives a time.

Dates are shown to a person in the local zone (an allowance's "valid from ... until ...",
an invoice's "made ... expires ..."); ``--json`` keeps the signed Unix seconds in each
document's ``fields`` and adds ``dates``: the same instants as ISO 8601 UTC text.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from p2ppay.cli.common import read_input
from p2ppay.cli.humane import local_time
from p2ppay.cli.output import Exit, Output
from p2ppay.cli.render import document_json, summary_line
from protocol import (
    Allowance,
    Document,
    Invoice,
    ProtocolError,
    SignedDocument,
    open_document,
    verify_signed,
)
from protocol.bundle import verify_bundle
from protocol.cbor import COSE_SIGN1_TAG

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("inspect", help="decode and verify a document or bundle")
    parser.add_argument("file", type=Path, help="a COSE_Sign1 document or a bundle (CBOR)")
    parser.add_argument(
        "--trust-issuer",
        action="append",
        default=[],
        metavar="HEX",
        help="require the allowance to be signed by this issuer key (repeatable)",
    )
    parser.add_argument("--at", type=int, metavar="UNIX", help="check validity times at UNIX")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def _is_single_document(data: bytes) -> bool:
    # A COSE_Sign1 starts with tag 18 (0xd2); a bundle with an array header.
    return data[:1] == bytes([0xC0 | COSE_SIGN1_TAG])


def run(args: argparse.Namespace, out: Output) -> int:
    data = read_input(args.file)
    try:
        trusted = frozenset(bytes.fromhex(key) for key in args.trust_issuer) or None
    except ValueError:
        out.error("BAD_KEY", "--trust-issuer takes a hex public key")
        return Exit.USAGE
    try:
        if _is_single_document(data):
            if args.at is None:
                signed = open_document(data)
            else:
                signed = verify_signed(data, now=args.at, trusted_issuers=trusted)
            documents: list[SignedDocument[Document]] = [signed]
            kind = signed.kind.name.lower()
        else:
            bundle = verify_bundle(data, trusted_issuers=trusted)
            documents = [bundle.invoice, bundle.payment, bundle.receipt]
            kind = "bundle"
    except ProtocolError as exc:
        out.error(exc.code.name, exc.message, code=int(exc.code))
        return Exit.FAILED
    lines = [f"valid {kind}"]
    for document in documents:
        lines.append(f"  {summary_line(document)}")
        lines.extend(f"    {line}" for line in _date_lines(document))
    out.result(
        {"valid": True, "kind": kind, "documents": [_with_dates(d) for d in documents]},
        lines,
    )
    return Exit.OK


def _dates(doc: Document) -> list[tuple[str, str, int]]:
    """(json name, words for a person, Unix seconds) of a document's validity instants."""
    if isinstance(doc, Allowance):
        return [
            ("valid_from", "valid from", doc.not_before),
            ("valid_until", "until", doc.not_after),
        ]
    if isinstance(doc, Invoice):
        return [("created", "made", doc.created), ("expires", "expires", doc.expires)]
    return []


def _date_lines(signed: SignedDocument[Document]) -> list[str]:
    """Local-time lines for a document and the allowance a payment carries."""
    lines = []
    dates = _dates(signed.doc)
    if dates:
        lines.append(" ".join(f"{words} {local_time(at)}" for _, words, at in dates))
    if signed.allowance is not None:
        inner = _dates(signed.allowance.doc)
        lines.append("allowance " + " ".join(f"{w} {local_time(at)}" for _, w, at in inner))
    return lines


def _utc(at: int) -> str:
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def _with_dates(signed: SignedDocument[Document]) -> dict[str, Any]:
    """:func:`document_json` plus ``dates`` (ISO 8601 UTC) for a person's tools."""
    body = document_json(signed)
    dates = _dates(signed.doc)
    if dates:
        body["dates"] = {name: _utc(at) for name, _, at in dates}
    if signed.allowance is not None:
        body["allowance"]["dates"] = {
            name: _utc(at) for name, _, at in _dates(signed.allowance.doc)
        }
    return body
