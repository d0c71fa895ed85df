"""A wallet: its home, identity, store and config, and the operations that need them together.

Invariants:
- ``init_wallet`` never overwrites: an existing key file is ``WALLET_EXISTS`` and nothing is
  touched. It writes the key file first (atomically, no clobber), then creates the store
  bound to that key, then the config, so a crash in between leaves a home that ``init``
  refuses and ``open`` can use.
- Reading what needs no secret (``read_identity``, ``open_store``: history, show, export,
  trust and allowance import) never asks for the passphrase; only signing does
  (``open_wallet``).
- An allowance is imported only after ``protocol`` verified it (signature, rules, window at
  ``now``) and it names this wallet's key.
"""

from __future__ import annotations

from types import TracebackType

from p2ppay.errors import AppErrorCode, IssuerError, WalletError
from p2ppay.files.keyfile import KdfParams, KeyPurpose
from p2ppay.store import AllowanceRecord, Store, TrustedIssuer
from p2ppay.store.documents import allowance_in
from p2ppay.store.store import DEFAULT_BUSY_TIMEOUT_MS
from p2ppay.wallet.config import WalletConfig, load_config, save_config
from p2ppay.wallet.contacts import check_wallet_label
from p2ppay.wallet.home import WalletHome
from p2ppay.wallet.identity import Identity, PublicIdentity
from p2ppay.wallet.keystore import create_key, load_key, read_public
from protocol.documents import Allowance
from protocol.errors import ProtocolError
from protocol.verify import verify_as

__all__ = [
    "Wallet",
    "import_allowance",
    "init_wallet",
    "open_store",
    "open_wallet",
    "parse_public_key",
    "read_identity",
    "trust_issuer",
]


def parse_public_key(text: str) -> bytes:
    """A raw public key from 64 hex digits (``BAD_KEY`` otherwise)."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise WalletError(AppErrorCode.BAD_KEY, "a public key is 64 hex digits") from None
    if len(key) != 32:
        raise WalletError(AppErrorCode.BAD_KEY, "a public key is 64 hex digits")
    return key


def init_wallet(
    home: WalletHome,
    *,
    passphrase: str | bytes | None,
    now: int,
    kdf: KdfParams | None = None,
    label: str | None = None,
    seed: bytes | None = None,
) -> PublicIdentity:
    """Create a wallet in ``home``: key file, store and config.

    ``passphrase=None`` stores the key unencrypted in an owner-only file (``--no-passphrase``,
    for kiosks). ``kdf`` defaults to :meth:`KdfParams.moderate`; tests pass ``minimum()``.
    ``seed`` fixes the key (tests and vectors); by default it is fresh randomness.
    ``label`` is the name sent to counterparties (SPEC 4's rules, else ``BAD_NAME``, before
    anything is created).
    """
    if label is not None:
        check_wallet_label(label)
    home.ensure()
    signing_key = create_key(
        home.key_file,
        purpose=KeyPurpose.WALLET,
        passphrase=passphrase,
        kdf=KdfParams.moderate() if kdf is None else kdf,
        seed=seed,
    )
    identity = Identity.from_signing_key(signing_key)
    Store.open(home.store_file, wallet_key=identity.public_key, now=now).close()
    if not home.config_file.exists():
        save_config(home, WalletConfig(label=label))
    return identity.public


def read_identity(home: WalletHome) -> PublicIdentity:
    """The wallet's public identity, read without the passphrase (``id --json``)."""
    contents = read_public(home.key_file, purpose=KeyPurpose.WALLET)
    return PublicIdentity(public_key=contents.public_key)


def open_store(
    home: WalletHome,
    *,
    now: int,
    readonly: bool = False,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
) -> Store:
    """The wallet's store, bound to its key, without unlocking the key.

    Writable opens take the one-writer lock and recover unfinished sessions; use
    ``readonly=True`` for ``history``/``show``/``export`` while a role may be running.
    """
    home.check_private()
    identity = read_identity(home)
    return Store.open(
        home.store_file,
        wallet_key=identity.public_key,
        now=now,
        readonly=readonly,
        busy_timeout_ms=busy_timeout_ms,
    )


def import_allowance(store: Store, signed: bytes, *, now: int) -> AllowanceRecord:
    """Verify an allowance (issuer signature, rules, window at ``now``) and store it.

    Raises ``ALLOWANCE_INVALID`` (the ``protocol`` error is the cause; its code name is in the
    message) or ``ALLOWANCE_NOT_MINE``. Idempotent for the same bytes.
    """
    try:
        allowance = verify_as(signed, Allowance, now=now)
    except ProtocolError as exc:
        raise IssuerError(AppErrorCode.ALLOWANCE_INVALID, exc.code.name) from exc
    if allowance.doc.wallet != store.allowances.public_key():
        raise IssuerError(AppErrorCode.ALLOWANCE_NOT_MINE, "the allowance names another wallet")
    return store.allowances.import_allowance(allowance_in(allowance), now=now)


def trust_issuer(store: Store, public_key: bytes, *, now: int, label: str = "") -> TrustedIssuer:
    """Accept allowances signed by ``public_key`` when this wallet is paid."""
    if len(public_key) != 32:
        raise WalletError(AppErrorCode.BAD_KEY, "an issuer key is 32 bytes")
    return store.trust.add_issuer(public_key, now=now, label=label)


class Wallet:
    """An unlocked wallet: the identity that signs, its store, its config. Close it."""

    def __init__(
        self, *, home: WalletHome, identity: Identity, store: Store, config: WalletConfig
    ) -> None:
        self._home = home
        self._identity = identity
        self._store = store
        self._config = config

    @property
    def home(self) -> WalletHome:
        """Where the wallet lives."""
        return self._home

    @property
    def identity(self) -> Identity:
        """The signing identity (``identity.signing_key`` for ``protocol.builders``)."""
        return self._identity

    @property
    def public(self) -> PublicIdentity:
        """The public identity (key, key id, wallet id)."""
        return self._identity.public

    @property
    def store(self) -> Store:
        """The wallet's store (open for writing)."""
        return self._store

    @property
    def config(self) -> WalletConfig:
        """The home's config as read at open."""
        return self._config

    def import_allowance(self, signed: bytes, *, now: int) -> AllowanceRecord:
        """See :func:`import_allowance`."""
        return import_allowance(self._store, signed, now=now)

    def trust_issuer(self, public_key: bytes, *, now: int, label: str = "") -> TrustedIssuer:
        """See :func:`trust_issuer`."""
        return trust_issuer(self._store, public_key, now=now, label=label)

    def close(self) -> None:
        """Close the store (releasing the writer lock)."""
        self._store.close()

    def __enter__(self) -> Wallet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_wallet(
    home: WalletHome,
    *,
    passphrase: str | bytes | None,
    now: int,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
) -> Wallet:
    """Unlock the key and open the store for writing (recovering unfinished sessions).

    Raises ``WALLET_NOT_FOUND``, ``PASSPHRASE_REQUIRED``, ``WRONG_PASSPHRASE``,
    ``KEY_FILE_CORRUPT``, ``KEY_FILE_TRUNCATED``, ``KEY_FILE_PERMISSIONS``, ``STORE_IN_USE``...
    """
    home.check_private()
    _, signing_key = load_key(home.key_file, purpose=KeyPurpose.WALLET, passphrase=passphrase)
    identity = Identity.from_signing_key(signing_key)
    config = load_config(home)
    store = Store.open(
        home.store_file,
        wallet_key=identity.public_key,
        now=now,
        busy_timeout_ms=busy_timeout_ms,
    )
    return Wallet(home=home, identity=identity, store=store, config=config)
