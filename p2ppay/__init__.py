"""p2ppay, the application: wallet, store, payer and payee roles, sync, CLI.

Composes ``protocol`` (what is said) with ``gatt`` (how the bytes move).
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
