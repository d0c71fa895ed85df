"""Two processes, one role each, over Bumble's TCP-hosted virtual link.

The test starts ``python -m bumble.apps.controllers tcp-server:127.0.0.1:A
tcp-server:127.0.0.1:B`` (two controllers on one link) on free ports; the peripheral process
uses ``bumble:tcp-client:127.0.0.1:A`` and the central ``bumble:tcp-client:127.0.0.1:B``.
"""

from __future__ import annotations

from tests.gatt.two_processes import run_pair


def test_two_processes_exchange_4kb_each_way_over_tcp_hosted_controllers(
    controllers: tuple[int, int],
) -> None:
    port_a, port_b = controllers
    reports = run_pair(
        f"bumble:tcp-client:127.0.0.1:{port_a}", f"bumble:tcp-client:127.0.0.1:{port_b}"
    )
    assert reports["peripheral"]["match"] and reports["central"]["match"]
    assert reports["central"]["info_ok"]
    assert reports["central"]["att_mtu"] == 517
