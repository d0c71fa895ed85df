"""The contacts book: names a person gives to the keys of payers and payees they know.

Stored as ``contacts.json`` in the home (owner-only, replaced atomically)::

    {"version": 1, "contacts": {"Bob's cafe": "<64 hex digits>", ...}}

Invariants:
- A name is 1-64 printable characters, trimmed; a name names one key and a key has one name
  (``CONTACT_EXISTS`` otherwise, nothing changed): a prompt can never show two names for
  the payee it is about to pay.
- Local only: names are never sent, and a missing file is an empty book. A file of the wrong
  shape is ``CONFIG_CORRUPT``, never silently emptied.
"""

from __future__ import annotations

import json
from types import MappingProxyType

from p2ppay.errors import AppErrorCode, WalletError
from p2ppay.wallet.atomic import replace_file
from p2ppay.wallet.home import WalletHome

__all__ = ["Contacts", "load_contacts"]

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
