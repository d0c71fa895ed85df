"""atheris harness for :func:`fuzz.targets.mutated_wire` (see :mod:`fuzz` for how to run it)."""

from __future__ import annotations

import sys


def main() -> None:
    import atheris  # type: ignore[import-untyped]  # only when fuzzing; the suite runs without

    with atheris.instrument_imports():
        from fuzz.targets import mutated_wire

    atheris.Setup(sys.argv, mutated_wire)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
