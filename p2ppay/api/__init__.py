"""What the ledger and a wallet say to each other over HTTP, shared by both sides.

The ledger server (:mod:`p2ppay.ledger`) and the sync client (:mod:`p2ppay.sync`) both import
this package and nothing of each other: :mod:`.schemas` holds the JSON bodies, :mod:`.signing`
the bytes a wallet signs for a request, :mod:`.ids` the wallet id both print.

Invariant: this package imports no other part of p2ppay but :mod:`p2ppay.errors` (an
import-linter contract), so neither side drags the other's code in.
"""
