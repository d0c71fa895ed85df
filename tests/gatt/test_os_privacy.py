"""The os payer advertises only from random addresses unless told otherwise.

The kernel's answer to MGMT_OP_READ_INFO is parsed from a real socket (a socket pair stands
in for the management channel: the seam); the peripheral's decision is checked with the
privacy reading replaced at its seam, since this machine has no BlueZ.
"""

from __future__ import annotations

import socket
import struct

import pytest

from gatt.errors import LinkErrorCode, PublicAddress
from gatt.link import LinkOptions
from gatt.os_backend import peripheral as os_peripheral
from gatt.os_backend import privacy
from gatt.spec import SERVICE, Info

pytestmark = pytest.mark.anyio

INFO = Info(versions=(1,), max_message_size=4096)


def _reply(index: int, settings: int, *, status: int = 0, event: int = 1) -> bytes:
    params = b"\x11" * 6 + b"\x09" + b"\x02\x00" + struct.pack("<II", 0xFFFF, settings)
    params += b"\x00" * 3 + b"host name".ljust(249, b"\x00") + b"\x00" * 11
    body = struct.pack("<HB", privacy.MGMT_OP_READ_INFO, status) + params
    return struct.pack("<HHH", event, index, len(body)) + body


@pytest.mark.parametrize(("settings", "expected"), [(0x2000 | 0x201, 1 << 13), (0x201, 0)])
def test_the_privacy_bit_is_read_from_the_current_settings(settings: int, expected: int) -> None:
    ours, kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours, kernel:
        kernel.send(_reply(1, 0x2000))  # another controller's answer: ignored
        kernel.send(_reply(0, settings))
        read = privacy._read_settings(ours.fileno(), 0, timeout=1.0)
        assert read is not None and read & privacy.MGMT_SETTING_PRIVACY == expected
        request = kernel.recv(64)
    assert request == struct.pack("<HHH", privacy.MGMT_OP_READ_INFO, 0, 0)


def test_a_refused_or_missing_answer_reads_as_unknown() -> None:
    ours, kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours, kernel:
        kernel.send(_reply(0, 0x2000, status=0x11, event=2))
        assert privacy._read_settings(ours.fileno(), 0, timeout=1.0) is None
        assert privacy._read_settings(ours.fileno(), 0, timeout=0.05) is None


def test_adapter_indexes_come_from_names_and_paths() -> None:
    assert privacy.adapter_index("hci0") == 0
    assert privacy.adapter_index("/org/bluez/hci12") == 12
    assert privacy.adapter_index("os") is None


@pytest.mark.parametrize("reading", [False, None])
async def test_the_os_payer_refuses_a_fixed_address_and_says_how_to_fix_it(
    monkeypatch: pytest.MonkeyPatch, reading: bool | None
) -> None:
    monkeypatch.setattr(os_peripheral, "privacy_enabled", lambda index: reading)
    peripheral = os_peripheral.BlessPeripheral(
        "hci0", spec=SERVICE, info=INFO, options=LinkOptions()
    )
    with pytest.raises(PublicAddress) as refused:
        await peripheral._require_privacy("/org/bluez/hci0")
    assert refused.value.code is LinkErrorCode.PUBLIC_ADDRESS
    assert "Privacy = device" in refused.value.message
    assert "--allow-public-address" in refused.value.message


async def test_privacy_on_or_an_explicit_opt_out_lets_it_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os_peripheral, "privacy_enabled", lambda index: True)
    private = os_peripheral.BlessPeripheral("hci0", spec=SERVICE, info=INFO, options=LinkOptions())
    await private._require_privacy("/org/bluez/hci0")
    monkeypatch.setattr(os_peripheral, "privacy_enabled", lambda index: False)
    public = os_peripheral.BlessPeripheral(
        "hci0", spec=SERVICE, info=INFO, options=LinkOptions(allow_public_address=True)
    )
    await public._require_privacy("/org/bluez/hci0")
