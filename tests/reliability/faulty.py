"""A Link that drops itself at a chosen chunk, for backends without built-in fault injection.

Wraps the payer's side of a real link (e.g. Bumble's virtual radio): the payer's sends and
receives are counted together; at the N-th, that chunk is lost, the real link is closed (so
the payee sees a real disconnect) and the payer gets LinkClosed, as when the radio dies.
"""

from __future__ import annotations

from gatt.errors import LinkClosed
from gatt.link import Link, PeerInfo, Peripheral


class DroppingLink(Link):
    """``inner`` until the ``drop_at``-th chunk (1-based, both directions)."""

    def __init__(self, inner: Link, drop_at: int) -> None:
        self._inner = inner
        self._drop_at = drop_at
        self.count = 0

    @property
    def max_chunk(self) -> int:
        return self._inner.max_chunk

    @property
    def peer(self) -> PeerInfo:
        return self._inner.peer

    async def _tick(self) -> None:
        self.count += 1
        if self.count >= self._drop_at:
            await self._inner.aclose()
            raise LinkClosed(f"dropped at chunk {self.count}")

    @property
    def closed(self) -> bool:
        return self._inner.closed

    async def _send_chunk(self, chunk: bytes) -> None:
        await self._tick()
        await self._inner.send(chunk)

    async def receive(self) -> bytes:
        chunk = await self._inner.receive()
        await self._tick()
        return chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class DroppingPeripheral(Peripheral):
    """A started peripheral whose next accepted link drops at ``drop_at`` (None: never)."""

    def __init__(self, inner: Peripheral) -> None:
        self._inner = inner
        self.drop_at: int | None = None
        self.last: DroppingLink | None = None

    async def start(self) -> None:
        await self._inner.start()

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def accept(self, *, tag: str, same_address: bool = False) -> Link:
        link = await self._inner.accept(tag=tag, same_address=same_address)
        self.last = DroppingLink(link, self.drop_at if self.drop_at is not None else 1 << 30)
        return self.last
