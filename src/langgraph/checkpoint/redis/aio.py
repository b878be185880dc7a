"""AsyncRedisSaver: the async saver. Every rule lives in ops.py and the API in base.py; this file
opens the redis.asyncio client (auto-pipelined: autopipe.py) and says how to wait: natively,
and on the saver's event loop from another thread for the sync methods."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import redis.asyncio as aredis
import redis.asyncio.cluster as acluster
import redis.asyncio.sentinel as asentinel

from . import driver, protocol
from .autopipe import AutoPipe
from .base import BaseRedisSaver, derived_pool_kwargs
from .connection import speed_up, speed_up_cluster
from .protocol import Cmd, Eval, FanOut, ListOp, Op, RoundTrip

T = TypeVar("T")

SYNC_REFUSAL = (
    "AsyncRedisSaver's sync methods run only from another thread while the saver's event "
    "loop runs; use the a* methods, or RedisSaver for sync code"
)


class AsyncRedisSaver(BaseRedisSaver):
    """A LangGraph checkpointer on any Redis 6.2+ (Redis, Valkey, managed services), one Lua
    script call per step.

    Constructing it needs no running event loop; the connection is opened on first use.
    Sync methods work from other threads while the saver's loop runs (as langgraph's sync
    graph API calls them), and refuse to run on the loop's own thread, where they would block it.
    """

    def __init__(self, redis_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(redis_url, **kwargs)
        self._client: aredis.Redis | None = None
        self._private: aredis.Redis | None = None
        self._gate: asyncio.Semaphore | None = None
        self._driver: driver.AsyncDriver | None = None
        self._connecting = protocol.SingleFlight()
        self._pipe = AutoPipe()  # shared by copies (with_allowlist), like the client
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- connection ----------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The client every command goes through (raw bytes replies): a `redis.asyncio.Redis`,
        or a `redis.asyncio.cluster.RedisCluster` on a cluster (driver.py)."""
        if self._client is None:
            self._client = self._open()
        return self._client

    def _open(self) -> Any:
        user = self._user_client
        if user is not None:
            if driver.is_cluster(user):
                if not driver.decodes(user):
                    return user
                self._private = speed_up_cluster(driver.raw_twin(user, acluster.RedisCluster))
                return self._private
            user_pool = user.connection_pool
            kwargs = derived_pool_kwargs(user_pool)
            if kwargs is None:
                if not isinstance(user_pool, aredis.BlockingConnectionPool):
                    # redis-py's default pool raises MaxConnectionsError past its size
                    # (100) instead of waiting: queue our calls in front of it instead.
                    size = getattr(user_pool, "max_connections", None) or 2**31
                    if size < 2**31:
                        self._gate = asyncio.Semaphore(size)
                return user
            if driver.is_sentinel(user):
                kwargs.pop("connection_class", None)
                pool = asentinel.SentinelConnectionPool(
                    user_pool.service_name, user_pool.sentinel_manager, **kwargs
                )
                self._private = aredis.Redis(connection_pool=pool)
                return self._private
            kwargs.setdefault("retry", protocol.retry())
            pool = speed_up(
                aredis.BlockingConnectionPool(
                    connection_class=user_pool.connection_class,
                    max_connections=protocol.DEFAULT_MAX_CONNECTIONS,
                    **kwargs,
                )
            )
            self._private = aredis.Redis(connection_pool=pool)
            return self._private
        self._private = protocol.open_async(
            str(self._redis_url), self._connection_args, self.cluster_mode
        )
        return self._private

    async def _connect(self) -> driver.AsyncDriver:
        """First use: find out what the URL names (driver.py), then fix the driver and the
        layout for the saver's life; once, however many calls start together."""
        return await self._connecting.run(lambda: self._driver, self._connect_once)

    async def _connect_once(self) -> driver.AsyncDriver:
        if self.cluster_mode is None:
            url = None if self._redis_url is None else str(self._redis_url)
            twin = await protocol.cluster_twin_async(
                url, self._connection_args, self._user_client, self.client
            )
            if twin is not None:  # what the user named is a cluster node
                self.cluster_mode = True
                if self._private is not None:
                    await self._private.aclose()
                self._private = self._client = twin
        client = self.client
        d = driver.AsyncDriver(client, self._gated)
        d.wait = self._wait
        await d.start()
        if d.kind == driver.CLUSTER:
            self._ops.cluster, self._ops.cross_flag = True, d.cross
        self._driver = d
        return d

    async def aclose(self) -> None:
        """Close what we opened; a client the user passed in stays open."""
        if self._driver is not None:
            await self._driver.aclose()  # its own connections to a cluster's masters
        if self._private is not None:
            await self._private.aclose()
            self._private = None
            self._client = None
            self._driver = None

    async def __aenter__(self) -> AsyncRedisSaver:
        """Binds the saver to the running loop now (`saver.loop`, as langgraph-checkpoint-redis
        sets it here), so its sync methods work from other threads before its first a* call."""
        self.loop = asyncio.get_running_loop()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, redis_url: str | None = None, **kwargs: Any
    ) -> AsyncIterator[AsyncRedisSaver]:
        saver = cls(redis_url, **kwargs)
        try:
            yield saver
        finally:
            await saver.aclose()

    # -- the driver primitives (base.py defines the API over them) ------------------------

    async def _one(self, c: Eval | Cmd) -> Any:
        """One command through the saver's auto-pipeline (autopipe.py)."""
        return await self._pipe.one(self.client, c)

    async def _round_trip(self, rt: RoundTrip | FanOut) -> list[Any]:
        d = self._driver or await self._connect()
        if isinstance(rt, FanOut):
            return await d.fan_out(rt)
        if d.kind == driver.ONE and d.wait is None:
            return await self._gated(rt)
        if self._gate is None:
            return await d.round_trip(rt)
        async with self._gate:
            return await d.round_trip(rt)

    async def _gated(self, rt: RoundTrip) -> list[Any]:
        if self._gate is None:
            return await self._send(rt)
        async with self._gate:
            return await self._send(rt)

    async def _send(self, rt: RoundTrip) -> list[Any]:
        if len(rt.cmds) == 1 and not rt.transaction:
            return [await self._one(rt.cmds[0])]
        return await protocol.round_trip_async(self.client, rt)

    async def _arun(self, op: Op[T]) -> T:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        self._driver or await self._connect()  # the layout first: ops name keys by it
        return await protocol.adrive(op, self._round_trip)

    async def _arun_list(self, op: ListOp) -> AsyncIterator[Any]:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        self._driver or await self._connect()  # the layout first: ops name keys by it
        async for item in protocol.adrive_list(op, self._round_trip):
            yield item

    # -- sync methods, for langgraph's sync API running beside the saver's loop -------------

    def _sync(self, coro: Coroutine[Any, Any, T]) -> T:
        return protocol.on_loop(self.loop, coro, SYNC_REFUSAL)

    def _run(self, op: Op[T]) -> T:
        return self._sync(self._arun(op))

    def _run_list(self, op: ListOp) -> Iterator[Any]:
        async def collect() -> list[Any]:
            return [t async for t in self._arun_list(op)]

        return iter(self._sync(collect()))

    def setup(self) -> Any:
        """`await saver.setup()` on the event loop, as AsyncPostgresSaver's and
        langgraph-checkpoint-redis's setup is a coroutine: called where a loop runs (and it is
        the saver's, or the saver has none yet) it returns asetup()'s awaitable. From another
        thread while the saver's loop runs, it sets up there and returns None, like the other
        sync methods."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and (self.loop is None or running is self.loop):
            return self.asetup()
        return self._sync(self.asetup())
