"""Find our service, its characteristics and a CCCD in as few ATT round trips as the spec allows.

On a real link every ATT request costs a connection event each way, so discovery asks only
what the profile needs (issue 16): one Find By Type Value for the service (its answer carries
the service's end handle, so we never ask again "is there another?": one instance is all we
use), Read By Type for characteristic declarations inside that range only, stopping as soon as
every role is known, and no descriptor discovery when the handle layout already says where the
CCCD is.

Invariants:
- Every handle we use lies inside the service's range as the peer reported it; an answer out
  of order or out of range is :class:`~gatt.errors.ServiceMismatch`, never a guess.
- A characteristic's descriptors are the handles after its value up to the next declaration
  (or the service's end). A notifying characteristic must have a CCCD (Core Vol 3 Part G
  3.3.3.3), so when exactly one descriptor handle exists it is the CCCD and is not asked
  for; otherwise one Find Information over that range finds it.
- A characteristic whose last handle is unknown (discovery stopped before the next
  declaration) is taken to run to the service's end, so the CCCD is then looked up, never
  assumed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bumble import att
from bumble.core import UUID
from bumble.gatt import (
    GATT_CHARACTERISTIC_ATTRIBUTE_TYPE,
    GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR,
    GATT_PRIMARY_SERVICE_ATTRIBUTE_TYPE,
)
from bumble.gatt_client import Client

from gatt.errors import ServiceMismatch
from gatt.spec import Properties, Role, ServiceSpec

__all__ = ["Found", "find_cccd", "find_characteristics", "find_service"]

_BUMBLE_PROPERTIES = {
    0x02: Properties.READ,
    0x04: Properties.WRITE_WITHOUT_RESPONSE,
    0x08: Properties.WRITE,
    0x10: Properties.NOTIFY,
}


@dataclass(frozen=True, kw_only=True)
class Found:
    """One characteristic as discovered."""

    value_handle: int
    """Handle of its value (what is read, written and notified)."""
    last_handle: int
    """Last handle of the characteristic, descriptors included (or the service's end)."""
    properties: Properties
    """The properties it declares (only those the profile knows)."""


def _not_found(response: att.ATT_PDU) -> bool:
    return (
        isinstance(response, att.ATT_Error_Response)
        and response.error_code == att.ATT_ATTRIBUTE_NOT_FOUND_ERROR
    )


def _check_error(response: att.ATT_PDU, what: str) -> None:
    if isinstance(response, att.ATT_Error_Response):
        raise ServiceMismatch(f"{what}: ATT error 0x{response.error_code:02X}")


async def find_service(client: Client, spec: ServiceSpec) -> tuple[int, int]:
    """The first handle range of our primary service: one request (Core Vol 3 Part G 4.4.2)."""
    response = await client.send_request(
        att.ATT_Find_By_Type_Value_Request(
            starting_handle=0x0001,
            ending_handle=0xFFFF,
            attribute_type=GATT_PRIMARY_SERVICE_ATTRIBUTE_TYPE,
            attribute_value=UUID(str(spec.uuid)).to_pdu_bytes(),
        )
    )
    if _not_found(response):
        raise ServiceMismatch("peer has no p2ppay service")
    _check_error(response, "service discovery")
    if not response.handles_information:
        raise ServiceMismatch("service discovery: empty answer")
    start, end = response.handles_information[0]
    if not 0 < start <= end:
        raise ServiceMismatch(f"service discovery: bogus range {start:#06x}..{end:#06x}")
    return int(start), int(end)


async def find_characteristics(
    client: Client, spec: ServiceSpec, service: tuple[int, int]
) -> dict[Role, Found]:
    """Every role's characteristic inside ``service``; stops once all are found and each
    one's last handle is known, or when the range is exhausted (Core Vol 3 Part G 4.6.1)."""
    start, end = service
    roles = {UUID(str(c.uuid)): c.role for c in spec.characteristics}
    declarations: list[tuple[int, int, int, UUID]] = []  # declaration, value, properties, uuid
    cursor = start
    while True:
        response = await client.send_request(
            att.ATT_Read_By_Type_Request(
                starting_handle=cursor,
                ending_handle=end,
                attribute_type=GATT_CHARACTERISTIC_ATTRIBUTE_TYPE,
            )
        )
        if _not_found(response):
            break
        _check_error(response, "characteristic discovery")
        if not response.attributes:
            break
        for declaration, value in response.attributes:
            if not cursor <= declaration <= end or len(value) not in (5, 19):
                raise ServiceMismatch(f"characteristic discovery: bogus entry {declaration:#06x}")
            properties, value_handle = struct.unpack_from("<BH", value)
            if not declaration < value_handle <= end:
                raise ServiceMismatch(f"characteristic discovery: bogus handle {value_handle:#06x}")
            declarations.append((declaration, value_handle, properties, UUID.from_bytes(value[3:])))
        cursor = declarations[-1][0] + 1
        if cursor > end or _complete(declarations, roles):
            break
    found: dict[Role, Found] = {}
    for n, (_, value_handle, properties, uuid) in enumerate(declarations):
        role = roles.get(uuid)
        if role is None or role in found:
            continue
        # The last one seen runs to the service's end: right if the range is exhausted, and
        # otherwise a safe bound (its CCCD is then looked up, never assumed).
        following = declarations[n + 1][0] - 1 if n + 1 < len(declarations) else end
        found[role] = Found(
            value_handle=value_handle, last_handle=following, properties=_properties(properties)
        )
    for characteristic in spec.characteristics:
        if characteristic.role not in found:
            raise ServiceMismatch(f"peer lacks the {characteristic.role.value} characteristic")
    return found


def _complete(declarations: list[tuple[int, int, int, UUID]], roles: dict[UUID, Role]) -> bool:
    # All roles seen, and the last one seen is not one whose descriptors we may need (its
    # end is unknown until the next declaration): only a notifying role needs a CCCD.
    seen = {roles[d[3]] for d in declarations if d[3] in roles}
    if seen != set(roles.values()):
        return False
    last = declarations[-1]
    return not (last[3] in roles and last[2] & 0x10)


def _properties(bits: int) -> Properties:
    result = Properties(0)
    for bit, ours in _BUMBLE_PROPERTIES.items():
        if bits & bit:
            result |= ours
    return result


async def find_cccd(client: Client, characteristic: Found) -> int:
    """The handle of ``characteristic``'s CCCD: deduced when it has exactly one descriptor
    handle, else by Find Information over its descriptor range (Core Vol 3 Part G 4.7.1)."""
    first = characteristic.value_handle + 1
    if first > characteristic.last_handle:
        raise ServiceMismatch("a notifying characteristic has no CCCD")
    if first == characteristic.last_handle:
        return first
    descriptors = await client.discover_descriptors(
        start_handle=first, end_handle=characteristic.last_handle
    )
    for descriptor in descriptors:
        if descriptor.type == GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR:
            return int(descriptor.handle)
    raise ServiceMismatch("a notifying characteristic has no CCCD")
