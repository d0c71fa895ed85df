"""Typed protocol errors, each carrying one stable wire code.

Exception tree::

    ProtocolError                 every failure the protocol layer reports
    ├── LocalProtocolError        we misused the API or broke a rule ourselves
    └── RemoteProtocolError       the peer (or a document it gave us) broke a rule

Invariants:
- Every code is a member of the single ``@unique`` :class:`ErrorCode` IntEnum; a number is
  never reused or renumbered once released, because it travels in Abort documents and ledger
  answers. New codes are appended inside their range.
- One code per distinct way a message or document can be wrong, so a test can assert the
  exact reason and a peer in another language can map it.

Ranges: 1xx encoding (CBOR), 2xx documents and signatures, 3xx payee acceptance,
4xx ledger chain rules and trust lists, 5xx handshake and channel, 6xx framing,
7xx sessions, 8xx bundles, 9xx local.
"""

from __future__ import annotations

from enum import IntEnum, unique

__all__ = ["ErrorCode", "LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


@unique
class ErrorCode(IntEnum):
    """Stable wire error codes. Never renumber; append within the range."""

    # 1xx: encoding
    CBOR_MALFORMED = 100
    """The bytes are not well-formed CBOR."""
    CBOR_INDEFINITE_LENGTH = 101
    """An indefinite-length item (forbidden by deterministic encoding)."""
    CBOR_DUPLICATE_KEY = 102
    """A map repeats a key."""
    CBOR_NON_SHORTEST = 103
    """An integer, length or argument is not in its shortest form."""
    CBOR_FLOAT = 104
    """A floating-point value; the protocol has none."""
    CBOR_UNKNOWN_TAG = 105
    """A tag the protocol does not define at that place."""
    CBOR_TOO_DEEP = 106
    """Nesting deeper than the limit."""
    CBOR_TOO_LARGE = 107
    """The item is larger than the size limit."""
    CBOR_NOT_DETERMINISTIC = 108
    """Well-formed but not the deterministic encoding (for example map keys out of order)."""
    CBOR_TRAILING_BYTES = 109
    """Bytes follow the single top-level item."""
    CBOR_UNSUPPORTED_TYPE = 110
    """A simple value or type the protocol does not use (undefined, other simple values)."""

    # 2xx: signed documents, signatures, money (protocol/cose.py, documents.py, money.py)
    COSE_NOT_SIGN1 = 200
    """Not a tag-18 COSE_Sign1 array of [protected bstr, unprotected map, payload, sig]."""
    COSE_BAD_HEADER = 201
    """A protected or unprotected header is not exactly the one the spec defines."""
    COSE_UNSUPPORTED_ALG = 202
    """The protected header names an algorithm other than EdDSA (-8)."""
    COSE_UNKNOWN_KIND = 203
    """The protected ``typ`` names no p2ppay document kind."""
    COSE_WRONG_KIND = 204
    """A valid document of another kind where this kind was required."""
    COSE_KID_MISMATCH = 205
    """The ``kid`` is not the key id of the signer key the payload names."""
    COSE_BAD_SIGNATURE = 206
    """The Ed25519 signature does not verify under the signer key the payload names."""
    DOC_NOT_A_MAP = 210
    """The payload is not a CBOR map with integer keys."""
    DOC_MISSING_FIELD = 211
    """A required field of the document is absent."""
    DOC_UNKNOWN_FIELD = 212
    """The payload has a key the document kind does not define."""
    DOC_FIELD_TYPE = 213
    """A field has the wrong CBOR type."""
    DOC_FIELD_VALUE = 214
    """A field has the right type but a value out of its range (length, enum, limits)."""
    DOC_BAD_TIME_WINDOW = 215
    """A validity window that ends before or when it starts."""
    DOC_NOT_YET_VALID = 216
    """The document's time or validity starts after now plus the clock-skew tolerance."""
    DOC_EXPIRED = 217
    """The document's validity ended before now minus the clock-skew tolerance."""
    DOC_UNTRUSTED_ISSUER = 218
    """The allowance is signed by a key that is not among the trusted issuer keys."""
    DOC_CHAIN_START = 219
    """Counter 1 with a previous-payment hash, or a later counter without one."""
    MONEY_UNKNOWN_CURRENCY = 220
    """A currency code outside the supported ISO 4217 table."""
    MONEY_NOT_POSITIVE = 221
    """A negative amount, or zero where a positive amount is required."""
    MONEY_OVER_MAXIMUM = 222
    """An amount or total above MAX_AMOUNT minor units."""
    MONEY_BAD_DECIMAL = 223
    """Decimal text that is not a plain amount with at most the currency's decimals."""
    PAYMENT_PAYER_NOT_WALLET = 230
    """The payment's payer key is not the wallet key of its embedded allowance."""
    PAYMENT_CURRENCY_NOT_ALLOWANCE = 231
    """The payment's currency is not its allowance's currency."""
    PAYMENT_CUMULATIVE_BELOW_AMOUNT = 232
    """The cumulative spent total is smaller than the payment's own amount."""
    PAYMENT_OVER_LIMIT = 233
    """The cumulative spent total exceeds the allowance's offline limit."""
    TRUST_VERSION_MISMATCH = 240
    """A revocation list whose version is not the number of keys it lists."""
    TRUST_KEYS_NOT_CANONICAL = 241
    """A trust list names a key twice, or an issuer set is not sorted ascending."""

    # 3xx: the payee's offline acceptance (protocol/acceptance.py)
    ACCEPT_INVOICE_MISMATCH = 300
    """The payment names another invoice hash than the invoice the payee issued."""
    ACCEPT_AMOUNT_MISMATCH = 301
    """The payment's amount differs from the invoice's amount."""
    ACCEPT_CURRENCY_MISMATCH = 302
    """The payment's currency differs from the invoice's currency."""
    ACCEPT_PAYEE_MISMATCH = 303
    """The invoice behind the payment was not issued by this payee's key."""
    ACCEPT_COUNTER_NOT_INCREASING = 304
    """The counter is not above the last counter this payee saw on that allowance."""
    ACCEPT_PREV_HASH_MISMATCH = 305
    """The previous-payment hash is not the payment this payee saw at counter - 1."""
    ACCEPT_CUMULATIVE_MISMATCH = 306
    """The cumulative total does not grow by at least this amount since the last one seen."""
    ACCEPT_PAYER_REVOKED = 307
    """The payer's wallet key is on the cached revocation list."""
    ACCEPT_ISSUER_NOT_ACCEPTED = 308
    """The allowance issuer is not among the issuers the invoice accepts."""
    ACCEPT_SELF_PAYMENT = 309
    """The payer's wallet key is the invoice's payee key: a wallet paying itself."""
    # 32x: the payee's offline risk limits (protocol/risk.py)
    RISK_OVER_PAYMENT_LIMIT = 320
    """The amount is above what this payee accepts offline in one payment."""
    RISK_OVER_PAYER_DAY_LIMIT = 321
    """This payer's payments to this payee in the last 24 hours would exceed its daily limit."""
    RISK_OVER_STALE_LIST_LIMIT = 322
    """The payee's revocation list is older than its maximum age (or missing) and the amount
    is above the lower limit that then applies."""

    # 4xx: ledger chain rules (protocol/chain.py)
    CHAIN_COUNTER_GAP = 400
    """A payment's counter is more than one above the chain head (a payment is missing)."""
    CHAIN_COUNTER_REUSED = 401
    """A different payment at a counter the chain already holds (a fork)."""
    CHAIN_PREV_HASH_MISMATCH = 402
    """A payment's previous hash is not the hash of the chain head."""
    CHAIN_CUMULATIVE_MISMATCH = 403
    """A payment's cumulative total is not the head's total plus its amount."""
    CHAIN_OTHER_ALLOWANCE = 404
    """A payment of another allowance (issuer, serial) offered to this chain."""
    FRAUD_PROOF_INVALID = 405
    """A fraud proof whose two payments are not an inconsistent pair of one allowance's chain."""
    # 41x: a wallet updating its cached trust lists (protocol/trustlists.py)
    TRUST_WRONG_LEDGER = 410
    """A trust list signed by a key other than the wallet's pinned ledger key."""
    TRUST_ROLLBACK = 411
    """A revocation list with a smaller version than the cached one."""
    TRUST_FORK = 412
    """A revocation list whose first keys are not exactly the cached list (not an extension)."""
    TRUST_ISSUED_BACKWARDS = 413
    """A trust list issued earlier than the cached one of its kind (an old answer replayed)."""

    # 5xx: handshake and channel (protocol/noise.py, protocol/negotiation.py)
    NOISE_DECRYPT_FAILED = 500
    """An AEAD tag did not verify: tampering, a wrong key, a replayed or reordered message."""
    NOISE_MESSAGE_TOO_LONG = 501
    """A Noise message or payload is longer than the Noise limit of 65535 bytes."""
    NOISE_MESSAGE_TOO_SHORT = 502
    """A Noise message is shorter than the keys and tag its pattern step requires."""
    NOISE_NONCE_EXHAUSTED = 503
    """A cipher state used its last nonce; the channel must not encrypt or decrypt again."""
    NOISE_BAD_PUBLIC_KEY = 504
    """A public key gave an all-zero Diffie-Hellman result (a low-order point)."""
    NOISE_OUT_OF_TURN = 505
    """A handshake message was written or read out of turn, or after the handshake ended."""
    HANDSHAKE_PEER_KEY_MISMATCH = 506
    """The peer's Noise static key is not the key that signed its documents."""
    NEGOTIATION_MALFORMED = 507
    """A negotiation offer or answer is not the structure the session spec defines."""
    NEGOTIATION_UNSUPPORTED_VERSION = 508
    """The two sides share no protocol version."""
    NEGOTIATION_NO_COMMON_CURRENCY = 509
    """The payer can pay in none of the currencies the payee accepts."""
    NEGOTIATION_BAD_LIMITS = 510
    """A negotiated chunk or message size is outside the allowed range or above the offer."""
    NEGOTIATION_ANSWER_MISMATCH = 511
    """The answer picks a version, currency or feature that the offer did not contain."""
    HANDSHAKE_BAD_KEY = 512
    """A key given to the handshake has the wrong length or type."""
    HANDSHAKE_TAG_MISMATCH = 513
    """The offer names another session tag than the one this payer advertises (or none):
    the payee chose someone else's advertisement, or the tag was copied."""

    # 6xx: framing (protocol/framing.py)
    FRAME_EMPTY = 600
    """A chunk with no header byte."""
    FRAME_BAD_HEADER = 601
    """A chunk header byte with reserved bits set."""
    FRAME_OUT_OF_ORDER = 602
    """A chunk's sequence number is not the next one expected (a chunk was lost or reordered)."""
    FRAME_DUPLICATE = 603
    """A chunk repeats the sequence number of the chunk just before it."""
    FRAME_OVERSIZED = 604
    """A message announces or reaches more than the maximum message size."""
    FRAME_CHUNK_TOO_LARGE = 605
    """A chunk is longer than the negotiated chunk size."""
    FRAME_TOO_MANY_CHUNKS = 606
    """A message needs more chunks than the reassembler allows."""
    FRAME_TRUNCATED = 607
    """A chunk marked last ends the message before its announced length."""
    FRAME_TRAILING = 608
    """Bytes beyond a message's announced length, or a "more" chunk after the last byte."""
    FRAME_TIMEOUT = 609
    """A partly received message was not completed in time."""
    FRAME_BAD_LENGTH = 610
    """The length prefix is missing, zero or cut in half."""

    # 7xx: sessions (protocol/session/)
    SESSION_HANDSHAKE_TIMEOUT = 700
    """The handshake did not finish in time."""
    SESSION_APPROVAL_TIMEOUT = 701
    """The payer's user neither approved nor declined in time."""
    SESSION_PAYMENT_TIMEOUT = 702
    """The payee waited too long for the payment."""
    SESSION_RECEIPT_TIMEOUT = 703
    """The payer waited too long for the receipt."""
    SESSION_DECLINED = 704
    """The payer's user declined the invoice."""
    SESSION_UNEXPECTED_MESSAGE = 705
    """A message kind the current state does not accept (a protocol violation)."""
    SESSION_MALFORMED_MESSAGE = 706
    """A session message is not the envelope the session spec defines."""
    SESSION_PEER_ABORTED = 707
    """The peer aborted with a code this side does not know."""
    SESSION_API_MISUSE = 708
    """The application called a session method that its current state does not allow."""
    SESSION_RESUME_CONFLICT = 709
    """A resumed invoice got a payment other than the one already persisted for it."""
    SESSION_DOCUMENT_MISMATCH = 710
    """A document does not belong to this session (other invoice, payment, payee or payer)."""
    SESSION_PERSIST_MISMATCH = 711
    """``persisted()`` named a record other than the one the session is waiting for."""
    SESSION_WALLET_CANNOT_PAY = 712
    """The payer's wallet cannot pay this invoice (currency, limit or allowance)."""

    # 8xx: bundles (invoice + payment + receipt, as exported and synced)
    BUNDLE_MALFORMED = 800
    """A bundle is not an array of exactly three COSE_Sign1 byte strings."""
    BUNDLE_RECEIPT_MISMATCH = 801
    """The receipt names a payment other than the bundle's."""
    BUNDLE_RECEIPT_SIGNER = 802
    """The receipt is not signed by the invoice's payee."""


class ProtocolError(Exception):
    """A protocol rule was broken; ``code`` says which one."""

    code: ErrorCode

    def __init__(self, code: ErrorCode, message: str = "") -> None:
        self.code = code
        self.message = message or code.name
        super().__init__(f"{code.name} ({int(code)}): {self.message}")


class LocalProtocolError(ProtocolError):
    """We broke a rule: API misuse, or an attempt to build an invalid document."""


class RemoteProtocolError(ProtocolError):
    """The peer broke a rule: a document or message it sent is invalid."""
