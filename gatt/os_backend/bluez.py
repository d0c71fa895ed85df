"""What bless 0.3.0 on BlueZ needs beyond its public API, in one place.

bless's public ``start()``/``stop()`` register the GATT application *and* advertise in one
call, with the name fixed at construction, and match the adapter by substring. The p2ppay
peripheral needs the service registered once (Info readable at once), a fresh local name per
session, advertising stopped while a Link is open, and the exact adapter. So on BlueZ this
module drives the objects bless's BlueZ server exposes as attributes (``bus``, ``app``,
``adapter``), calling the same methods bless's own ``start``/``stop`` call, in the same order.

Invariants:
- Only the objects bless itself created are used; nothing in bless or bleak is replaced.
- :func:`use_exact_adapter` leaves bless on ``/org/bluez/<name>`` or raises AdapterUnavailable.
"""

from __future__ import annotations

from typing import Any

from gatt.errors import AdapterUnavailable
from gatt.os_backend.names import match_adapter

__all__ = [
    "adapter_alias",
    "connected_devices",
    "disconnect_device",
    "register_application",
    "set_adapter_alias",
    "require_adapter",
    "start_advertising",
    "stop_advertising",
    "unregister_application",
    "use_exact_adapter",
]

_BLUEZ = "org.bluez"


async def use_exact_adapter(server: Any, name: str) -> None:
    """Point a set-up bless BlueZ server at exactly ``/org/bluez/<name>``."""
    from bless.backends.bluezdbus.dbus.utils import list_adapters

    path = match_adapter(name, await list_adapters(server.bus))
    if server.adapter.path != path:
        node = await server.bus.introspect(_BLUEZ, path)
        server.adapter = server.bus.get_proxy_object(_BLUEZ, path, node)


async def adapter_alias(server: Any) -> str | None:
    """The adapter's Alias (what BlueZ shows as its name), or None if it cannot be read."""
    try:
        properties = server.adapter.get_interface("org.freedesktop.DBus.Properties")
        value = await properties.call_get("org.bluez.Adapter1", "Alias")
    except Exception:
        return None
    alias = _variant_value(value)
    return alias if isinstance(alias, str) else None


async def set_adapter_alias(server: Any, alias: str) -> None:
    """Set the adapter's Alias (bless sets it to the advertised name; we restore it after)."""
    from dbus_fast import Variant

    properties = server.adapter.get_interface("org.freedesktop.DBus.Properties")
    await properties.call_set("org.bluez.Adapter1", "Alias", Variant("s", alias))


async def register_application(server: Any) -> None:
    """Export and register the GATT application without advertising (bless ``start`` minus
    its advertisement)."""
    server.bus.export(server.app.path, server.app)
    try:
        await server.app.register(server.adapter)
    except Exception as error:
        server.bus.unexport(server.app.path, server.app)
        raise AdapterUnavailable(f"BlueZ refused the GATT application: {error}") from error


async def start_advertising(server: Any, local_name: str) -> None:
    """Advertise the first service UUID with ``local_name`` (bless takes the app's name)."""
    server.app.app_name = local_name
    await server.app.start_advertising(server.adapter)


async def stop_advertising(server: Any) -> None:
    """Withdraw the advertisement registered by :func:`start_advertising`."""
    if server.app.advertisements:
        await server.app.stop_advertising(server.adapter)


async def unregister_application(server: Any) -> None:
    """Undo :func:`register_application` and drop bless's D-Bus connection."""
    try:
        await server.app.unregister(server.adapter)
    finally:
        server.bus.unexport(server.app.path, server.app)
        server.bus.disconnect()


async def require_adapter(name: str) -> str:
    """The D-Bus path of BlueZ adapter ``name`` (exact), asking bluetoothd over the system bus
    with bleak's D-Bus library; AdapterUnavailable if bluetoothd or the adapter is missing."""
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus

    try:
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    except Exception as error:
        raise AdapterUnavailable(f"no system D-Bus for BlueZ: {error}") from error
    try:
        reply = await bus.call(
            Message(
                destination=_BLUEZ,
                path="/",
                interface="org.freedesktop.DBus.ObjectManager",
                member="GetManagedObjects",
            )
        )
    finally:
        bus.disconnect()
    if reply is None or reply.message_type != MessageType.METHOD_RETURN:
        raise AdapterUnavailable(f"bluetoothd does not answer: {reply and reply.body}")
    objects: dict[str, dict[str, object]] = reply.body[0]
    adapters = [path for path, ifaces in objects.items() if "org.bluez.Adapter1" in ifaces]
    return match_adapter(name, adapters)


async def disconnect_device(path: str) -> None:
    """Ask bluetoothd to drop the LE connection of the device at D-Bus ``path`` (best effort).

    After bluetoothd's race (ATT up before the kernel's connected event, ``Connected`` never
    signalled) bleak has given up but BlueZ still holds the link, so a plain retry meets the
    same stale state; dropping it first lets the next attempt start clean.
    """
    from dbus_fast import BusType, Message
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        await bus.call(
            Message(
                destination=_BLUEZ,
                path=path,
                interface="org.bluez.Device1",
                member="Disconnect",
            )
        )
    finally:
        bus.disconnect()


async def connected_devices(adapter_path: str) -> set[str]:
    """D-Bus paths of the devices BlueZ holds connected on the adapter at ``adapter_path``."""
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(
            Message(
                destination=_BLUEZ,
                path="/",
                interface="org.freedesktop.DBus.ObjectManager",
                member="GetManagedObjects",
            )
        )
    finally:
        bus.disconnect()
    if reply is None or reply.message_type != MessageType.METHOD_RETURN:
        return set()
    objects: dict[str, dict[str, dict[str, Any]]] = reply.body[0]
    return {
        path
        for path, interfaces in objects.items()
        if path.startswith(adapter_path + "/dev_")
        and _variant_value(interfaces.get("org.bluez.Device1", {}).get("Connected"))
    }


def _variant_value(value: Any) -> Any:
    return getattr(value, "value", value)
