"""``p2ppay inspect FILE``: decode and verify a document or a bundle, offline.

Exit 0 when every signature and rule holds; otherwise exit 1 with the error's code name.
A bundle is checked as its payee checked it, at the receipt's time
(:func:`protocol.bundle.verify_bundle`); a single document has its structure and signature
checked, and its validity window too when ``--at`` gives a time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from p2ppay.cli.common import read_input
from p2ppay.cli.output import Exit, Output
from p2ppay.render import document_json, summary_line
from protocol import Document, ProtocolError, SignedDocument, open_document, verify_signed
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
    out.result(
        {"valid": True, "kind": kind, "documents": [document_json(d) for d in documents]},
        [f"valid {kind}", *(f"  {summary_line(d)}" for d in documents)],
    )
    return Exit.OK
