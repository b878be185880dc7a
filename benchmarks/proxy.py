"""A loopback TCP proxy that can stall and cut, for the chaos soak (benchmarks/soak.py).

Why a proxy of our own rather than killing the server only: a server restart shows the client
a refused connection, but a network fault shows it something else. A stall (bytes stop flowing
in both directions, the sockets stay open) is what a congested link or a paused VM looks like:
the client's socket timeout fires while its command may still reach the server later. A cut
(every connection reset at once) is a load balancer or NAT dropping its table. Both need a
middle box the test controls, and asyncio makes one in a page.

`Proxy(upstream_port)` listens on 127.0.0.1:<free port>; each accepted connection gets its own
upstream connection and two pumps. `stall(seconds)` makes every pump wait before writing (data
already read is held, not dropped, and delivered when the stall ends, even if the other side
hung up meanwhile: a late write is part of the fault); `cut()` aborts every connection.
"""

from __future__ import annotations

import asyncio
import contextlib

from langgraph.checkpoint.redis.embedded import free_port


class Proxy:
    """One listening socket on loopback forwarding to one upstream port."""

    def __init__(self, upstream_port: int, port: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None
        self.accepted = 0
        self.refused = 0  # accepted connections whose upstream was down

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    async def start(self) -> Proxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        self.cut()
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)
            self.server = None

    async def stall(self, seconds: float) -> None:
        """Nothing moves for `seconds` (connections stay open), then everything held goes."""
        self.flowing.clear()
        try:
            await asyncio.sleep(seconds)
        finally:
            self.flowing.set()

    def cut(self) -> int:
        """Resets every open connection (both sides); returns how many sockets were open."""
        n = len(self.writers)
        for w in list(self.writers):
            w.transport.abort()
        self.writers.clear()
        return n

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.writers.add(writer)
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            self.refused += 1
            self.writers.discard(writer)
            writer.transport.abort()
            return
        self.writers.add(up_w)
        try:
            await asyncio.gather(self._pump(reader, up_w), self._pump(up_r, writer))
        finally:
            for w in (writer, up_w):
                self.writers.discard(w)
                w.transport.abort()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        """Copies until EOF or an error, then half-closes `dst` so the peer sees the hang-up
        after everything read before it."""
        try:
            while True:
                data = await src.read(65536)
                if not data:
                    break
                if not self.flowing.is_set():
                    await self.flowing.wait()
                if dst.transport.is_closing():
                    break
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if not dst.transport.is_closing() and dst.can_write_eof():
                    dst.write_eof()
