"""The contacts book: names a person gives to the keys of payers and payees they know.

Stored as ``contacts.json`` in the home (owner-only, replaced atomically)::

    {"version": 1, "contacts": {"Bob's cafe": "<64 hex digits>", ...}}

Invariants:
- A name is 1-64 printable characters, trimmed; a name names one key and a key has one name
  (``CONTACT_EXISTS`` otherwise, nothing changed): a prompt can never show two names for
  the payee it is about to pay.
- Local only: names are never sent, and a missing file is an empty book. A file of the wrong
  shape is ``CONFIG_CORRUPT``, never silently emptied.
- How a counterparty is shown (:func:`counterparty`): the name this wallet gave its key
  wins; else the label it chose for itself (signed in its invoice or payment, SPEC 4), shown
  quoted and marked ``(self-named)`` next to its key's fingerprint, since anyone may sign
  any label; else the fingerprint alone.
"""

from __future__ import annotations

import json
from types import MappingProxyType

from p2ppay.errors import AppErrorCode, WalletError
from p2ppay.wallet.atomic import replace_file
from p2ppay.wallet.home import WalletHome
from protocol import LocalProtocolError, ProtocolError
from protocol.documents import check_label
from protocol.keys import key_id

__all__ = [
    "Contacts",
    "check_wallet_label",
    "counterparty",
    "fingerprint",
    "load_contacts",
    "sendable_label",
]

_MAX_NAME = 64


class Contacts:
    """A read-only view of the book; ``added``/``removed`` return the book to save."""

    def __init__(self, by_name: MappingProxyType[str, bytes]) -> None:
        self._by_name = by_name
        self._by_key = {key: name for name, key in by_name.items()}

    @property
    def by_name(self) -> MappingProxyType[str, bytes]:
        """Name -> raw public key."""
        return self._by_name

    def name_of(self, public_key: bytes | None) -> str | None:
        """The name this wallet gave ``public_key``, if any."""
        return None if public_key is None else self._by_key.get(public_key)

    def added(self, name: str, public_key: bytes) -> Contacts:
        """The book with ``name`` for ``public_key`` (the same pair again is a no-op)."""
        name = _check_name(name)
        if self._by_name.get(name, public_key) != public_key:
            raise WalletError(AppErrorCode.CONTACT_EXISTS, f"{name!r} names another key")
        other = self._by_key.get(public_key)
        if other is not None and other != name:
            raise WalletError(AppErrorCode.CONTACT_EXISTS, f"that key is already {other!r}")
        return Contacts(MappingProxyType({**self._by_name, name: public_key}))

    def removed(self, name: str) -> Contacts:
        """The book without ``name`` (``CONTACT_NOT_FOUND`` if it has none)."""
        if name not in self._by_name:
            raise WalletError(AppErrorCode.CONTACT_NOT_FOUND, f"no contact named {name!r}")
        return Contacts(MappingProxyType({n: k for n, k in self._by_name.items() if n != name}))

    def save(self, home: WalletHome) -> None:
        """Write the book atomically, owner-only."""
        body = {"version": 1, "contacts": {n: k.hex() for n, k in sorted(self._by_name.items())}}
        data = (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            replace_file(home.contacts_file, data, mode=0o600)
        except OSError as exc:
            raise WalletError(AppErrorCode.HOME_UNUSABLE, f"{home.contacts_file}: {exc}") from exc


def fingerprint(public_key: bytes) -> str:
    """A key's short, stable name: its key id in groups of four hex digits (first 8 bytes)."""
    digits = key_id(public_key)[:8].hex()
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def counterparty(public_key: bytes | None, *, label: str | None, name: str | None) -> str:
    """A counterparty as a person should read it (module docstring): ``name`` is what the
    contacts book calls ``public_key``, ``label`` what it calls itself."""
    if public_key is None:
        return "unknown"
    if name is not None:
        return name
    if label is not None:
        return f'"{label}" (self-named) · {fingerprint(public_key)}'
    return fingerprint(public_key)


def check_wallet_label(label: str) -> str:
    """A label ``init --label`` may give: what SPEC 4 lets a document carry (``BAD_NAME``)."""
    try:
        check_label(label, error=LocalProtocolError)
    except ProtocolError as exc:
        raise WalletError(
            AppErrorCode.BAD_NAME,
            f"{exc.message} (a label is sent to counterparties: 1 to 32 visible characters)",
        ) from None
    return label


def sendable_label(label: str | None) -> str | None:
    """The wallet's label if a document may carry it; a label saved by an older p2ppay
    that breaks SPEC 4's rules is kept in the config but never sent (a payment must not fail
    over its label)."""
    if label is None:
        return None
    try:
        check_label(label, error=LocalProtocolError)
    except ProtocolError:
        return None
    return label


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= _MAX_NAME or not name.isprintable():
        raise WalletError(
            AppErrorCode.BAD_NAME, f"a contact name is 1 to {_MAX_NAME} printable characters"
        )
    return name


def load_contacts(home: WalletHome) -> Contacts:
    """The home's contacts book (empty if there is none)."""
    try:
        raw = json.loads(home.contacts_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Contacts(MappingProxyType({}))
    except (OSError, ValueError) as exc:
        raise WalletError(AppErrorCode.CONFIG_CORRUPT, f"{home.contacts_file}: {exc}") from None
    entries = raw.get("contacts") if isinstance(raw, dict) else None
    if not isinstance(entries, dict):
        raise WalletError(AppErrorCode.CONFIG_CORRUPT, "contacts.json has no contacts object")
    book: dict[str, bytes] = {}
    for name, key in entries.items():
        try:
            public_key = bytes.fromhex(key)
        except (TypeError, ValueError):
            public_key = b""
        if len(public_key) != 32:
            raise WalletError(AppErrorCode.CONFIG_CORRUPT, f"contacts.json: bad key for {name!r}")
        book[_check_name(name)] = public_key
    return Contacts(MappingProxyType(book))
