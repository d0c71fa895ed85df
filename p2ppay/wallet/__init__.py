"""The wallet: an Ed25519 identity in a key file, a home directory, its store and config.

Modules: ``home`` (paths, ``--home`` / ``P2PPAY_HOME``), ``keyfile`` (the key file format),
``keystore`` (key files on disk), ``atomic`` (crash-safe writes), ``identity`` (key id and
wallet id), ``config`` (``config.json``), ``wallet`` (init, open, allowance import, trust).
"""

from __future__ import annotations

from p2ppay.api.ids import wallet_id_of
from p2ppay.files.keyfile import KdfParams, KeyPurpose
from p2ppay.wallet.config import WalletConfig, load_config, save_config
from p2ppay.wallet.home import HOME_ENV, WalletHome
from p2ppay.wallet.identity import Identity, PublicIdentity
from p2ppay.wallet.keystore import change_passphrase
from p2ppay.wallet.wallet import (
    Wallet,
    import_allowance,
    init_wallet,
    open_store,
    open_wallet,
    parse_public_key,
    read_identity,
    trust_issuer,
)

__all__ = [
    "HOME_ENV",
    "Identity",
    "KdfParams",
    "KeyPurpose",
    "PublicIdentity",
    "Wallet",
    "WalletConfig",
    "WalletHome",
    "change_passphrase",
    "import_allowance",
    "init_wallet",
    "load_config",
    "open_store",
    "open_wallet",
    "parse_public_key",
    "read_identity",
    "save_config",
    "trust_issuer",
    "wallet_id_of",
]
