"""p2ppay's wire protocol, sans-I/O: bytes and time in, bytes and events out.

This package never touches BLE, asyncio or the disk (an import-linter contract enforces it),
so every rule here is shared verbatim by the payer, the payee and the ledger.
"""

from __future__ import annotations

from protocol.acceptance import AcceptedPayment, check_payment
from protocol.builders import (
    make_abort,
    make_allowance,
    make_invoice,
    make_payment,
    make_receipt,
)
from protocol.chain import (
    ChainHead,
    ChainKey,
    FraudProof,
    advance,
    chain_key,
    check_chain,
    find_forks,
)
from protocol.cose import Kind
from protocol.documents import Abort, Allowance, Document, Invoice, Payment, Receipt, Verdict
from protocol.errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError
from protocol.framing import chunk_size_for_mtu
from protocol.keys import document_hash, key_id, public_key, signing_key_from_seed
from protocol.money import CURRENCIES, MAX_AMOUNT, format_amount, parse_amount
from protocol.noise import short_authentication_string
from protocol.session import (
    NEED_DATA,
    Completed,
    Failed,
    InvoiceReceived,
    PayeePolicy,
    PayeeResume,
    PayeeSession,
    PayerSession,
    PayerWallet,
    PaymentReceived,
    PersistRequired,
    ReceiptReceived,
    RecordKind,
    Timeouts,
)
from protocol.verify import (
    MAX_CLOCK_SKEW,
    SignedDocument,
    open_as,
    open_document,
    sign,
    verify_as,
    verify_document,
    verify_signed,
)

__all__ = [
    "NEED_DATA",
    "Completed",
    "Failed",
    "InvoiceReceived",
    "PayeePolicy",
    "PayeeResume",
    "PayeeSession",
    "PayerSession",
    "PayerWallet",
    "PaymentReceived",
    "PersistRequired",
    "ReceiptReceived",
    "RecordKind",
    "Timeouts",
    "chunk_size_for_mtu",
    "short_authentication_string",
    "CURRENCIES",
    "MAX_AMOUNT",
    "MAX_CLOCK_SKEW",
    "Abort",
    "AcceptedPayment",
    "Allowance",
    "ChainHead",
    "ChainKey",
    "Document",
    "ErrorCode",
    "FraudProof",
    "Invoice",
    "Kind",
    "LocalProtocolError",
    "Payment",
    "ProtocolError",
    "Receipt",
    "RemoteProtocolError",
    "SignedDocument",
    "Verdict",
    "advance",
    "chain_key",
    "check_chain",
    "check_payment",
    "document_hash",
    "find_forks",
    "format_amount",
    "key_id",
    "make_abort",
    "make_allowance",
    "make_invoice",
    "make_payment",
    "make_receipt",
    "open_as",
    "open_document",
    "parse_amount",
    "public_key",
    "sign",
    "signing_key_from_seed",
    "verify_as",
    "verify_document",
    "verify_signed",
]
