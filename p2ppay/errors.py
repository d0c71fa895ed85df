"""Typed application errors, each carrying one stable code.

Exception tree::

    AppError                  every failure of the application layer (``code`` says which)
    ├── WalletError           the wallet home, its key file or its config
    ├── StoreError            the SQLite store: disk full, locked, schema, a broken invariant
    └── IssuerError           the development issuer and allowance import

Invariants:
- Every code is a member of the single ``@unique`` :class:`AppErrorCode` IntEnum; a number is
  never reused or renumbered once released, because scripts read the code names (``--json``)
  and exit statuses derive from them. New codes are appended inside their range.
- Library exceptions (``sqlite3``, ``nacl``, ``OSError``) never escape the wallet or the store:
  each is re-raised as one of these, ``from`` the cause, so a caller handles one tree.
- A raised error never leaves anything half-written: the key file and the config are
  replaced atomically, and every store write is one SQLite transaction.

Ranges (protocol codes in ``protocol.errors`` are 1-999): 10xx wallet and key file, 11xx
store, 12xx issuer, allowance and trust, 13xx-19xx roles and CLI (reserved for them),
2xxx sync and ledger.
"""

from __future__ import annotations

from enum import IntEnum, unique

__all__ = ["AppError", "AppErrorCode", "IssuerError", "StoreError", "WalletError"]


@unique
class AppErrorCode(IntEnum):
    """Stable application error codes. Never renumber; append within the range."""

    # 10xx: wallet home and key file
    WALLET_NOT_FOUND = 1000
    """The home has no key file: run ``init`` first (or point ``--home`` elsewhere)."""
    WALLET_EXISTS = 1001
    """``init`` on a home that already holds a key file; nothing was overwritten."""
    WRONG_PASSPHRASE = 1002
    """The key file is intact but the passphrase does not open it."""
    KEY_FILE_CORRUPT = 1003
    """The key file is damaged: bad magic, bad checksum, or a key that does not match."""
    KEY_FILE_TRUNCATED = 1004
    """The key file is shorter than its header says (an interrupted copy, a full disk)."""
    KEY_FILE_PERMISSIONS = 1005
    """An unencrypted key file is readable or writable by others than its owner."""
    PASSPHRASE_REQUIRED = 1006
    """The key file is encrypted and no passphrase was given."""
    KEY_FILE_UNSUPPORTED = 1007
    """The key file has a format version or KDF this build does not know."""
    HOME_UNUSABLE = 1008
    """The home directory cannot be created, read or written."""
    CONFIG_CORRUPT = 1009
    """The home's config file is not valid JSON of the expected shape."""
    HOME_NOT_PRIVATE = 1010
    """The home directory is readable, writable or searchable by group or others."""
    CONTACT_EXISTS = 1011
    """``contacts add`` of a name or key the contacts book already holds differently."""
    CONTACT_NOT_FOUND = 1012
    """No contact of that name."""
    BAD_NAME = 1013
    """A contact name that is empty, too long or not printable."""
    BACKUP_CORRUPT = 1014
    """A backup file that is not a p2ppay backup, is cut short, or whose contents fail checks."""
    PASSPHRASES_DIFFER = 1015
    """The repeated new passphrase is not the same as the first one; nothing was changed."""
    PASSPHRASE_EMPTY = 1016
    """An empty new passphrase: give one, or choose ``--no-passphrase`` explicitly."""
    FILE_UNWRITABLE = 1017
    """An output file (``--out``) cannot be written: missing folder, permissions, full disk."""
    FILE_UNREADABLE = 1018
    """An input file named on the command line cannot be read."""
    EXTRA_MISSING = 1019
    """The command needs an optional part that is not installed (the ledger server, the kiosk
    or a BLE backend); the message names the ``pip install 'p2ppay[...]'`` that adds it."""

    # 11xx: store
    STORE_DISK_FULL = 1100
    """The disk (or the database's size cap) is full; the write was rolled back entirely."""
    STORE_LOCKED = 1101
    """Another connection held the database past the busy timeout; nothing was written."""
    STORE_IN_USE = 1102
    """Another process is the store's writer (one writer per wallet home)."""
    STORE_CORRUPT = 1103
    """The database file is damaged or is not a p2ppay store."""
    STORE_SCHEMA_TOO_NEW = 1104
    """The store was written by a newer p2ppay (its ``user_version`` is above ours)."""
    STORE_SCHEMA_OUTDATED = 1105
    """A read-only open met a store that needs a migration; open it for writing once."""
    STORE_IO = 1106
    """Any other I/O failure of the database (read-only file system, cannot open, I/O error)."""
    STORE_WRONG_WALLET = 1107
    """The store belongs to another wallet key than the one opening it."""
    STORE_CONFLICT = 1108
    """A second, different document for an id already recorded (same invoice, other bytes)."""
    STORE_NOT_FOUND = 1109
    """The record the call names does not exist (unknown invoice, session or allowance)."""
    PAYER_STATE_MISMATCH = 1110
    """A payment does not continue the payer's state (counter, chain head, cumulative spent)."""
    ALLOWANCE_EXCEEDED = 1111
    """A payment would take the cumulative spent above the allowance's limit."""
    COUNTER_NOT_INCREASING = 1112
    """A received payment's counter is not above the last one seen from that payer."""
    BAD_TRANSITION = 1113
    """A session state change the session log's transition table does not allow."""
    STORE_INTEGRITY = 1114
    """A database constraint refused the write (a bug or an injected fault); rolled back."""
    STORE_READ_ONLY = 1115
    """A write was attempted on a store opened read-only."""
    SESSION_INTERRUPTED = 1116
    """The process stopped mid-session; the session was recovered at the next start."""
    AMBIGUOUS_ID = 1117
    """An id prefix given as text matches more than one record."""

    # 12xx: issuer, allowance, trust
    ISSUER_NOT_FOUND = 1200
    """The home has no issuer key: run ``issuer init`` first."""
    ISSUER_EXISTS = 1201
    """``issuer init`` on a home that already holds an issuer key."""
    ALLOWANCE_INVALID = 1202
    """The allowance does not verify (its ``protocol`` error code is chained as the cause)."""
    ALLOWANCE_NOT_MINE = 1203
    """The allowance was granted to another wallet key."""
    NO_ALLOWANCE = 1204
    """The wallet holds no allowance (in that currency) to pay with."""
    BAD_KEY = 1205
    """A public key given as text is not 32 bytes of hex."""
    NO_TRUSTED_ISSUER = 1206
    """A payee that trusts no issuer cannot invoice: no payer could pay it."""
    ALLOWANCE_EXPIRED = 1207
    """The payer's allowance is past its validity window: it would only be refused."""

    # 13xx: payer and payee roles
    LINK_LOST = 1300
    """The BLE link went away before the session ended (after retries, if any)."""
    NO_PAYER_FOUND = 1301
    """No payer advertising our service (with the asked tag, above the RSSI gate) was seen."""
    PAYER_AMBIGUOUS = 1302
    """Several payers are equally close: pick one by its session tag."""
    ADAPTER_FAILED = 1303
    """The BLE adapter could not be opened or used (the gatt code is in the message)."""
    INVOICE_NOT_PAYABLE = 1304
    """The invoice cannot be made: bad amount, currency or memo (the protocol code says which)."""

    # 20xx: ledger service (p2ppay/ledger)
    LEDGER_BAD_REQUEST = 2000
    """The request body, a parameter or a header is malformed (nothing was done)."""
    LEDGER_UNAUTHENTICATED = 2001
    """The wallet signature headers are missing, malformed or do not verify."""
    LEDGER_REPLAY = 2002
    """The request's nonce was already used by this wallet: a replay, refused."""
    LEDGER_STALE_REQUEST = 2003
    """The request's timestamp is outside the ledger's accepted clock window."""
    LEDGER_FORBIDDEN = 2004
    """An admin call without the right admin token."""
    LEDGER_UNKNOWN_ACCOUNT = 2005
    """No account for that wallet (register first, or give the full public key)."""
    LEDGER_INSUFFICIENT_FUNDS = 2006
    """The account balance cannot cover the allowance or withdrawal asked for."""
    LEDGER_UNKNOWN_ALLOWANCE = 2007
    """A bundle's allowance was not issued by this ledger (unknown serial)."""
    LEDGER_RECEIPT_REJECTED = 2008
    """The bundle's receipt is the payee's refusal: there is nothing to settle."""
    LEDGER_BATCH_TOO_LARGE = 2009
    """More bundles or queries in one sync request than the ledger accepts."""
    LEDGER_STORAGE = 2010
    """The ledger's database failed or is unreachable; retry later (nothing half-done)."""
    LEDGER_BAD_DATABASE_URL = 2011
    """The ``--db`` URL is neither ``sqlite:///PATH`` nor ``postgresql://...``."""
    LEDGER_SCHEMA_TOO_NEW = 2012
    """The ledger database was migrated by a newer p2ppay."""
    LEDGER_NOT_FOUND = 2013
    """No such endpoint."""
    LEDGER_WALLET_REVOKED = 2014
    """The wallet key is revoked (it double-spent): no new offline allowance."""
    LEDGER_CANNOT_LISTEN = 2015
    """The ledger cannot listen on that host and port (in use, or not permitted)."""
    LEDGER_RATE_LIMITED = 2016
    """The wallet sent more bundles this minute than the ledger takes from one key; retry."""
    LEDGER_WEAK_ADMIN_TOKEN = 2017
    """The admin token is missing, passed on the command line, or shorter than 128 bits."""
    LEDGER_ISSUER_KEY = 2018
    """The issuer key file is unreadable, readable by others, of another issuer, or locked."""

    # 21xx: sync client (p2ppay/sync)
    SYNC_UNREACHABLE = 2100
    """The ledger could not be reached (after the retries); unanswered records stay pending."""
    SYNC_BAD_ANSWER = 2101
    """The ledger's answer is not what the API defines."""
    SYNC_NO_LEDGER = 2102
    """No ledger URL: pass ``--ledger URL`` or run ``register --ledger URL`` once."""
    SYNC_REFUSED = 2103
    """The ledger refused the request; its error code name is in the message."""
    SYNC_INSECURE_URL = 2104
    """A ledger URL that is not ``https://`` (only loopback may use ``http://``)."""
    SYNC_NOT_PINNED = 2105
    """No ledger key is pinned: run ``register`` or ``trust-ledger URL --ledger-key HEX``."""
    SYNC_LEDGER_KEY_MISMATCH = 2106
    """The ledger answered with a key other than the pinned (or ``--ledger-key``) one."""
    SYNC_TRUST_UNSIGNED = 2107
    """The answer carries no signed trust lists; the cached lists are kept."""
    SYNC_TRUST_BAD_SIGNATURE = 2108
    """A trust list is malformed, or not signed by the pinned ledger key; nothing changed."""
    SYNC_TRUST_ROLLBACK = 2109
    """The revocation list is older (smaller version) than the cached one; nothing changed."""
    SYNC_TRUST_FORK = 2110
    """The revocation list does not extend the cached one; nothing changed."""
    SYNC_TRUST_STALE = 2111
    """A trust list issued before the cached one (an old answer replayed); nothing changed."""
    APPROVAL_POLICY_REQUIRED = 1305
    """The payer has no terminal to ask on and no ``--auto-approve-up-to`` policy."""
    NOT_COMPLETE = 1306
    """The payment has no receipt yet, so there is no bundle to export."""
    BAD_APPROVAL_LIMITS = 1307
    """The auto-approval limits are inconsistent (non-positive, or a total below one payment)."""
    INVOICE_EXPIRED = 1308
    """``resume`` of an invoice that expired before any payment for it was stored."""
    DEVICE_NOT_FOUND = 1309
    """``conformance``: the device under test did not advertise (a payer) or connect (a
    payee) within ``--within`` seconds."""
    CONFORMANCE_FAILED = 1310
    """``conformance``: the device under test failed at least one case (the report says which)."""
    PAYMENT_REFUSED = 1312
    """``resume`` of a payment the payee refused with a signed Abort: there is nothing to
    resume (no receipt will come); ``sync`` asks the ledger for its final word."""

    # 14xx: kiosk daemon (p2ppay/kiosk)
    KIOSK_CONFIG_INVALID = 1400
    """The kiosk config file is missing, not TOML, or has bad fields (each one is named)."""
    KIOSK_QUEUE_FULL = 1401
    """The kiosk's payment queue is full; nothing was created: try again later."""
    KIOSK_NOT_FOUND = 1402
    """No payment request with that id (or no such API endpoint)."""
    KIOSK_TOO_LATE_TO_CANCEL = 1403
    """A payer is already connected: the payment runs to its end and cannot be cancelled."""
    KIOSK_STOPPING = 1404
    """The kiosk is shutting down and takes no new payment request."""
    KIOSK_BAD_REQUEST = 1405
    """The API request body or a parameter is malformed (nothing was created)."""
    PAYMENT_CANCELLED = 1406
    """The point of sale cancelled the request before any payer was connected."""
    KIOSK_QUEUE_TIMEOUT = 1407
    """The request waited in the queue (or for the adapter) past its invoice's lifetime."""
    KIOSK_UNAUTHORIZED = 1408
    """On TCP the kiosk API needs ``Authorization: Bearer TOKEN`` (api.token_file or
    P2PPAY_KIOSK_TOKEN); missing or wrong: nothing was done."""
    KIOSK_NOT_JSON = 1409
    """A request with a body must say ``Content-Type: application/json`` (a web page's
    "simple" form or text/plain request is refused before it is read)."""
    KIOSK_CROSS_SITE = 1410
    """The request came from another web origin (``Origin`` or ``Sec-Fetch-Site``)."""
    KIOSK_BAD_HOST = 1411
    """The ``Host`` header does not name the kiosk's listen address (DNS rebinding)."""
    KIOSK_JOB_CRASHED = 1412
    """The kiosk hit an unexpected error serving this request; it is failed, the store says
    whether a payment was kept, and the daemon goes on serving."""


class AppError(Exception):
    """An application failure; ``code`` says which, ``message`` says it for a person."""

    code: AppErrorCode

    def __init__(self, code: AppErrorCode, message: str = "") -> None:
        self.code = code
        self.message = message or code.name
        super().__init__(f"{code.name} ({int(code)}): {self.message}")


class WalletError(AppError):
    """The wallet home, its key file or its config cannot be used."""


class StoreError(AppError):
    """The store refused or failed a read or write; a write is never half-done."""


class IssuerError(AppError):
    """The development issuer or an allowance import failed."""
