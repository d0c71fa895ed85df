"""Fuzz harnesses (atheris) for the parsers and state machines that face the peer.

Run one from the repository root (atheris installed in the venv)::

    python -m fuzz.fuzz_cbor -atheris_runs=100000
    python -m fuzz.fuzz_reassembler -max_total_time=60
    python -m fuzz.fuzz_payer_session
    python -m fuzz.fuzz_payee_session
    python -m fuzz.fuzz_wire          # both sessions, chunks mutated in flight

Each harness only wires a target of :mod:`fuzz.targets` to atheris; the targets are plain
functions (bytes in, an AssertionError or an unexpected exception out on a bug), so the
suite runs the same targets under Hypothesis (tests/reliability/test_fuzz_targets.py), and
nothing here imports atheris until a harness runs.
"""
