"""Auto-pipelining in front of one asyncio connection pool (one server, or one cluster master).

Concurrent graphs, and LangGraph's background checkpoint and write tasks, each send one command
at a time. When nothing else is in flight a command goes out at once; otherwise it joins the
commands issued in the same turn of the event loop, which leave together as one pipeline on
one connection. The callers then share round trips and system calls, and a lone caller pays
nothing for it. An error fails only its own caller, and a script the server lost (NOSCRIPT) is
sent again whole inside the batch.

The one-server saver keeps one `AutoPipe`; on a Redis Cluster each master has its own
(nodes.py), so a step's script reaches its thread's master as cheaply as on one server.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import NoScriptError

from .protocol import Cmd, Eval, one_async, resend, wire


class Flight:
    """Sends in flight, counted across the pipes of one saver (a cluster's masters): a command
    goes out at once only when the saver has nothing else in flight, so under concurrency
    every master's commands wait for their batch, and each turn of the event loop sends one
    pipeline per master rather than a lone command and then a pipeline."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


class AutoPipe:
    """Calls waiting for the next flush, and how many sends are out. Not bound to a client:
    each call names the client it goes through (the saver's is opened lazily)."""

    __slots__ = ("busy", "queue", "tasks")

    def __init__(self, flight: Flight | None = None) -> None:
        self.queue: list[tuple[Eval | Cmd, asyncio.Future[Any]]] = []
        self.busy = flight or Flight()
        self.tasks: set[asyncio.Future[None]] = set()

    async def one(self, client: Any, c: Eval | Cmd) -> Any:
        """One command through the pipe: at once when nothing is in flight, else batched."""
        if not self.busy.n and not self.queue:
            self.busy.n += 1
            try:
                return await one_async(client, c)
            finally:
                self.busy.n -= 1
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.queue.append((c, fut))
        if len(self.queue) == 1:
            loop.call_soon(self._flush, client)
        return await fut

    def _flush(self, client: Any) -> None:
        batch = self.queue[:]
        self.queue.clear()
        task = asyncio.ensure_future(self._send(client, batch))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send(self, client: Any, batch: list[tuple[Eval | Cmd, asyncio.Future[Any]]]) -> None:
        self.busy.n += 1
        try:
            await _send_batch(client, batch)
        finally:
            self.busy.n -= 1


async def _send_batch(client: Any, batch: list[tuple[Eval | Cmd, asyncio.Future[Any]]]) -> None:
    try:
        if len(batch) == 1:
            replies = [await one_async(client, batch[0][0])]
        else:
            async with client.pipeline(transaction=False) as pipe:
                for c, _ in batch:
                    pipe.execute_command(*wire(c))
                replies = await pipe.execute(raise_on_error=False)
    except BaseException as e:  # handed to every waiter, never lost
        for _, fut in batch:
            if fut.done():
                continue
            if isinstance(e, asyncio.CancelledError):
                fut.cancel()
            else:
                fut.set_exception(e)
        if not isinstance(e, Exception):
            raise
        return
    for (c, fut), r in zip(batch, replies, strict=True):
        if fut.done():  # the caller was cancelled
            continue
        if isinstance(r, NoScriptError) and isinstance(c, Eval):
            try:
                r = await client.execute_command(*resend(c))
            except Exception as e:
                r = e
        if isinstance(r, Exception):
            fut.set_exception(r)
        else:
            fut.set_result(r)
