"""A development issuer: signs allowances so payments work before (and without) the ledger.

For demos, tests and the offline ``issuer init`` / ``issuer grant`` commands only; the
ledger issues real allowances (and moves funds to the offline reserve) in a later issue.

Invariants:
- The issuer key lives in its own home (``issuer.key``, the key file format of
  :mod:`p2ppay.files.keyfile` with purpose ISSUER, so it never loads as a wallet key).
- Serials are unique per issuer: the next serial is reserved in ``issuer.json`` (atomic
  replace, under a lock) *before* the allowance is signed, so a crash can skip a serial but
  never reuse one; (issuer, serial) names exactly one payment chain.
- Allowances are built and signed by ``protocol.builders.make_allowance``, so they pass the
  same rules every verifier applies.
"""

from __future__ import annotations

import json

from nacl.signing import SigningKey

from p2ppay.errors import AppErrorCode, IssuerError, StoreError
from p2ppay.files.keyfile import KdfParams, KeyPurpose
from p2ppay.files.lock import WriterLock
from p2ppay.wallet.atomic import replace_file
from p2ppay.wallet.home import WalletHome
from p2ppay.wallet.keystore import create_key, load_key, read_public
from protocol.builders import make_allowance
from protocol.errors import ProtocolError
from protocol.keys import public_key

__all__ = [
    "DEFAULT_VALIDITY",
    "DevIssuer",
    "init_issuer",
    "open_issuer",
    "read_issuer_key",
]

DEFAULT_VALIDITY = 30 * 24 * 3600
"""Seconds an allowance granted without ``valid_for`` stays valid (30 days)."""


def init_issuer(
    home: WalletHome,
    *,
    now: int,
    passphrase: str | bytes | None = None,
    kdf: KdfParams | None = None,
    seed: bytes | None = None,
) -> bytes:
    """Create an issuer key in ``home`` and return its public key (``ISSUER_EXISTS`` if any).

    ``now`` is unused today but kept so every home-creating call has the same shape.
    """
    del now
    home.ensure()
    signing_key = create_key(
        home.issuer_key_file,
        purpose=KeyPurpose.ISSUER,
        passphrase=passphrase,
        kdf=KdfParams.moderate() if kdf is None else kdf,
        seed=seed,
    )
    _write_next_serial(home, 1)
    return public_key(signing_key)


def read_issuer_key(home: WalletHome) -> bytes:
    """The issuer's public key, without the passphrase (``issuer init --json`` again)."""
    return read_public(home.issuer_key_file, purpose=KeyPurpose.ISSUER).public_key


def open_issuer(home: WalletHome, *, passphrase: str | bytes | None = None) -> DevIssuer:
    """Unlock the issuer key in ``home``."""
    _, signing_key = load_key(
        home.issuer_key_file, purpose=KeyPurpose.ISSUER, passphrase=passphrase
    )
    return DevIssuer(home=home, signing_key=signing_key)


def _read_next_serial(home: WalletHome) -> int:
    try:
        raw = json.loads(home.issuer_state_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 1
    except (OSError, ValueError) as exc:
        raise IssuerError(AppErrorCode.CONFIG_CORRUPT, f"{home.issuer_state_file}: {exc}") from exc
    value = raw.get("next_serial") if isinstance(raw, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise IssuerError(AppErrorCode.CONFIG_CORRUPT, "issuer.json has no valid next_serial")
    return value


def _write_next_serial(home: WalletHome, value: int) -> None:
    data = (json.dumps({"next_serial": value}) + "\n").encode("utf-8")
    try:
        replace_file(home.issuer_state_file, data, mode=0o600)
    except OSError as exc:
        raise IssuerError(AppErrorCode.HOME_UNUSABLE, f"{home.issuer_state_file}: {exc}") from exc


class DevIssuer:
    """An unlocked development issuer."""

    def __init__(self, *, home: WalletHome, signing_key: SigningKey) -> None:
        self._home = home
        self._signing_key = signing_key

    @property
    def public_key(self) -> bytes:
        """The issuer's raw public key (what payees pass to ``trust-issuer``)."""
        return public_key(self._signing_key)

    def reserve_serial(self) -> int:
        """Take the next serial for good (a crash after this skips it, never reuses it)."""
        lock = WriterLock(self._home.root / "issuer.lock")
        try:
            lock.acquire()
        except StoreError as exc:
            raise IssuerError(AppErrorCode.STORE_IN_USE, "another grant is running") from exc
        try:
            serial = _read_next_serial(self._home)
            _write_next_serial(self._home, serial + 1)
        finally:
            lock.release()
        return serial

    def grant(
        self,
        wallet_key: bytes,
        amount_minor: int,
        currency: str,
        *,
        now: int,
        valid_for: int = DEFAULT_VALIDITY,
    ) -> bytes:
        """Sign an allowance: ``wallet_key`` may spend ``amount_minor`` offline from ``now``.

        Returns the allowance's COSE_Sign1 bytes (what ``issuer grant --out FILE`` writes and
        ``allowance import FILE`` reads). Bad arguments raise ``ALLOWANCE_INVALID`` with the
        ``protocol`` code that a verifier would have raised as the cause.
        """
        if len(wallet_key) != 32:
            raise IssuerError(AppErrorCode.BAD_KEY, "a wallet key is 32 bytes")
        serial = self.reserve_serial()
        try:
            signed = make_allowance(
                self._signing_key,
                wallet=wallet_key,
                currency=currency,
                limit=amount_minor,
                not_before=now,
                not_after=now + valid_for,
                serial=serial,
            )
        except ProtocolError as exc:
            raise IssuerError(AppErrorCode.ALLOWANCE_INVALID, exc.code.name) from exc
        return signed.raw
