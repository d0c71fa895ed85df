"""``pay`` without ``--once`` ends on an error with that error, never an ExceptionGroup.

The serving loop runs beside a signal listener in a task group, which wraps whatever
escapes it; the CLI names only typed errors, so an adapter that fails while the payer
serves (its controller stopped answering: AdapterUnavailable) must come out as itself to be
printed as ADAPTER_UNAVAILABLE, not as an INTERNAL_ERROR. The seam: a role whose session
raises what the Bumble backend raises for a controller that stopped answering.
"""

from __future__ import annotations

import io

import anyio
import pytest

from gatt.errors import AdapterUnavailable
from gatt.link import LinkOptions, Peripheral
from p2ppay.cli.output import Output
from p2ppay.cli.pay_cmd import _serve

pytestmark = pytest.mark.anyio


class _AdapterStopsAnswering:
    def __init__(self) -> None:
        self.served = 0

    async def serve_one(self, peripheral: Peripheral, *, same_address: bool = False) -> object:
        self.served += 1
        raise AdapterUnavailable("start advertising: the controller did not answer")


async def test_an_adapter_failure_while_serving_comes_out_as_itself() -> None:
    role = _AdapterStopsAnswering()
    out = Output(json_mode=True, out=io.StringIO(), err=io.StringIO())
    with anyio.fail_after(10), pytest.raises(AdapterUnavailable) as err:
        await _serve(role, "virtual", LinkOptions(), False, out)  # type: ignore[arg-type]
    assert role.served == 1
    assert "did not answer" in err.value.message
