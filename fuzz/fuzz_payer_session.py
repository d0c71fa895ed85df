"""atheris harness for :func:`fuzz.targets.payer_session` (see :mod:`fuzz` for how to run it)."""

from __future__ import annotations

import sys


def main() -> None:
    import atheris  # type: ignore[import-untyped]  # only when fuzzing; the suite runs without

    with atheris.instrument_imports():
        from fuzz.targets import payer_session

    atheris.Setup(sys.argv, payer_session)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
