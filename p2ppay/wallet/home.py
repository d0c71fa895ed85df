"""The wallet home: one directory holding a wallet's key file, store and config.

Layout::

    HOME/
      wallet.key            the wallet identity (see :mod:`p2ppay.files.keyfile`), 0600
      store.sqlite3         the SQLite store (+ -wal, -shm, and .lock for the one writer)
      config.json           small settings, replaced atomically
      contacts.json         names this wallet gave to other wallets' keys, 0600
      issuer.key            only in a development issuer's home, 0600
      issuer.json           the issuer's next allowance serial

Invariants:
- The home is chosen explicitly: ``--home DIR``, else ``P2PPAY_HOME``, else ``~/.p2ppay``;
  two wallets on one machine are two homes, and nothing else is shared between them.
- A home this code creates is owner-only (0700). A home that group or others may read,
  write or enter is refused (``HOME_NOT_PRIVATE``, naming the ``chmod`` that fixes it): it
  holds the key file, the history, the counterparties and the trust anchors. Nothing here
  chmods a directory the user made; the user decides.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from p2ppay.errors import AppErrorCode, WalletError

__all__ = ["HOME_ENV", "WalletHome"]

HOME_ENV = "P2PPAY_HOME"
"""Environment variable naming the wallet home when ``--home`` is not given."""


@dataclass(frozen=True, kw_only=True)
class WalletHome:
    """Paths inside one wallet home. Cheap to build; touches the disk only in ``ensure``."""

    root: Path
    """The home directory."""

    @classmethod
    def resolve(
        cls, home: str | os.PathLike[str] | None, *, environ: Mapping[str, str] | None = None
    ) -> WalletHome:
        """The home from ``--home`` (``home``), else ``P2PPAY_HOME``, else ``~/.p2ppay``."""
        env = os.environ if environ is None else environ
        if home is not None:
            chosen = Path(home)
        elif env.get(HOME_ENV):
            chosen = Path(env[HOME_ENV])
        else:
            chosen = Path.home() / ".p2ppay"
        return cls(root=chosen.expanduser().absolute())

    @property
    def key_file(self) -> Path:
        """The wallet identity's key file."""
        return self.root / "wallet.key"

    @property
    def store_file(self) -> Path:
        """The SQLite store."""
        return self.root / "store.sqlite3"

    @property
    def config_file(self) -> Path:
        """The JSON config."""
        return self.root / "config.json"

    @property
    def contacts_file(self) -> Path:
        """The contacts book."""
        return self.root / "contacts.json"

    @property
    def issuer_key_file(self) -> Path:
        """A development issuer's key file."""
        return self.root / "issuer.key"

    @property
    def issuer_state_file(self) -> Path:
        """A development issuer's serial counter."""
        return self.root / "issuer.json"

    def ensure(self) -> None:
        """Create the home (0700) if missing; raise ``HOME_UNUSABLE`` if it cannot be used."""
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise WalletError(AppErrorCode.HOME_UNUSABLE, f"{self.root}: {exc}") from exc
        if not self.root.is_dir() or not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise WalletError(AppErrorCode.HOME_UNUSABLE, f"{self.root} is not a usable directory")
        self.check_private()

    def check_private(self) -> None:
        """Raise ``HOME_NOT_PRIVATE`` if group or others have any access to the home.

        A home that does not exist yet passes (the caller creates it 0700, or reports
        ``WALLET_NOT_FOUND``). Windows has no mode bits to check.
        """
        if sys.platform == "win32":
            return
        try:
            mode = stat.S_IMODE(self.root.stat().st_mode)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise WalletError(AppErrorCode.HOME_UNUSABLE, f"{self.root}: {exc}") from exc
        if mode & 0o077:
            raise WalletError(
                AppErrorCode.HOME_NOT_PRIVATE,
                f"{self.root} is open to other users (mode {mode:04o}); run: chmod 700 {self.root}",
            )
