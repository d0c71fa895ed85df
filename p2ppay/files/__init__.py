"""On-disk pieces that a wallet and the ledger server both use: the encrypted key file
(:mod:`.keyfile`) and the one-writer lock beside a database (:mod:`.lock`).

Invariant: this package imports no other part of p2ppay but :mod:`p2ppay.errors` (an
import-linter contract).
"""
