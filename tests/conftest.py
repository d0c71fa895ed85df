"""Suite-wide pytest configuration. Keep it small; add options and fixtures in sections.

- ``anyio_backend``: async tests (``@pytest.mark.anyio``) run on asyncio, which Bumble needs.
- ``--ble-adapters A,B``: opt in to tests marked ``hardware`` (two physical BLE adapters,
  e.g. ``hci0,hci1`` or ``bumble:usb:0,bumble:usb:1``). Without it those tests are
  deselected, and the summary says why.
- ``postgres``: every test that needs the real PostgreSQL (through the ``postgres`` fixture,
  ``own_postgres``, or a ``postgresql`` parameter) is marked so at collection, so the fast tier
  (``pytest -n auto -m "not bluez and not postgres"``, see README) can leave them out.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.controllers import bumble_controllers


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--ble-adapters",
        default=None,
        metavar="A,B",
        help="two BLE adapters for the opt-in hardware tests: peripheral,central "
        "(e.g. hci0,hci1 or bumble:usb:0,bumble:usb:1)",
    )


_PG_FIXTURES = frozenset({"postgres", "own_postgres"})


def _needs_postgres(item: pytest.Item) -> bool:
    if _PG_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    params = {} if callspec is None else callspec.params
    return any(value in ("postgres", "postgresql") for value in params.values())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _needs_postgres(item):
            item.add_marker(pytest.mark.postgres)
    if config.getoption("--ble-adapters"):
        return
    hardware = [item for item in items if item.get_closest_marker("hardware")]
    if hardware:
        items[:] = [item for item in items if not item.get_closest_marker("hardware")]
        config.hook.pytest_deselected(items=hardware)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"deselected {len(hardware)} hardware test(s): opt in with --ble-adapters A,B"
            )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def ble_adapters(request: pytest.FixtureRequest) -> tuple[str, str]:
    """The two adapters given with --ble-adapters (peripheral, central)."""
    value = request.config.getoption("--ble-adapters")
    parts = [part.strip() for part in str(value).split(",")]
    if len(parts) != 2 or not all(parts):
        raise pytest.UsageError("--ble-adapters needs exactly two adapters: A,B")
    return parts[0], parts[1]


@pytest.fixture
def controllers() -> Iterator[tuple[int, int]]:
    """Two Bumble controllers on one link, hosted over TCP on two free loopback ports."""
    with bumble_controllers() as ports:
        yield ports
