"""``python -m p2ppay`` runs the command-line interface."""

from __future__ import annotations

from p2ppay.cli import main

raise SystemExit(main())
