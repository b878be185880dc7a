"""AsyncRedisSaver: the source of truth. Drives ops.py's generators with redis.asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import redis.asyncio as aredis
import redis.asyncio.cluster as acluster
import redis.asyncio.sentinel as asentinel
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from . import driver
from .autopipe import AutoPipe, one
from .base import BaseRedisSaver, derived_pool_kwargs
from .connection import speed_up, speed_up_cluster
from .ops import (
    Cmd,
    Emit,
    Eval,
    FanOut,
    ListOp,
    Op,
    RoundTrip,
    needs_resend,
    sent,
)

T = TypeVar("T")

DEFAULT_MAX_CONNECTIONS = 64
"""Connections of a pool we create. The pool blocks (queues) at this size rather than raising
MaxConnectionsError, so 500 concurrent graphs wait their turn instead of failing."""


async def pipelined(client: aredis.Redis, rt: RoundTrip) -> list[Any]:
    """A RoundTrip's commands as one pipeline, each reply checked for NOSCRIPT; errors come
    back as values (driver.round_trip_sync's pipeline half, also AsyncRedisStore's)."""
    async with client.pipeline(transaction=rt.transaction) as pipe:
        for c in rt.cmds:
            pipe.execute_command(*sent(c, rt))
        replies = await pipe.execute(raise_on_error=False)
    return [
        await one(client, c) if needs_resend(c, r) else r  # type: ignore[arg-type]
        for c, r in zip(rt.cmds, replies, strict=True)
    ]


def _retry() -> Retry:
    """What redis-py gives a client that builds its own pool, which ours does not inherit.
    Retrying is safe: every script is idempotent (a re-put of the same id, HSETNX, deletes)."""
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), retries=3)


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
        self._connecting: asyncio.Lock | None = None
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
            kwargs.setdefault("retry", _retry())
            pool = speed_up(
                aredis.BlockingConnectionPool(
                    connection_class=user_pool.connection_class,
                    max_connections=DEFAULT_MAX_CONNECTIONS,
                    **kwargs,
                )
            )
            self._private = aredis.Redis(connection_pool=pool)
            return self._private
        url = str(self._redis_url)
        if driver.is_sentinel_url(url):
            self._private = driver.open_sentinel_async(url, self._connection_args)
        elif self.cluster_mode:
            self._private = speed_up_cluster(
                acluster.RedisCluster.from_url(url, **driver.cluster_args(self._connection_args))
            )
        else:
            args = {
                "max_connections": DEFAULT_MAX_CONNECTIONS,
                "retry": _retry(),
                **self._connection_args,
            }
            pool = speed_up(aredis.BlockingConnectionPool.from_url(url, **args))
            self._private = aredis.Redis(connection_pool=pool)
        return self._private

    async def _connect(self) -> driver.AsyncDriver:
        """First use: find out what the URL names (driver.py), then fix the driver and the
        layout for the saver's life. Once, however many calls start together (64 concurrent
        first calls used to probe 64 times, opening a connection each)."""
        if self._driver is not None:
            return self._driver
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._driver is not None:
                return self._driver
            return await self._connect_once()

    async def _connect_once(self) -> driver.AsyncDriver:
        url = self._redis_url
        if (
            self._user_client is None
            and self.cluster_mode is None
            and not driver.is_sentinel_url(url)
            and await driver.probe_async(str(url), self._connection_args)
        ):
            self.cluster_mode = True
            if self._private is not None:
                await self._private.aclose()
                self._private = self._client = None
        elif (
            self._user_client is not None
            and self.cluster_mode is None
            and driver.kind_of(self.client) == driver.ONE
            and driver.cluster_enabled(await driver.cluster_info_async(self.client))
        ):  # a plain client to a cluster node: the same options, as a cluster client
            self.cluster_mode = True
            if self._private is not None:
                await self._private.aclose()
            self._private = self._client = speed_up_cluster(
                driver.twin_of_plain(self.client, acluster.RedisCluster)
            )
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
        """Binds the saver to the running loop now (`saver.loop`, as the incumbent sets it
        here), so its sync methods work from other threads before its first a* call."""
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

    # -- driver --------------------------------------------------------------------------

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
        return await pipelined(self.client, rt)

    async def _drive(self, op: Op[T]) -> T:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        self._driver or await self._connect()  # the layout first: ops name keys by it
        reply: list[Any] | None = None
        try:
            while True:
                rt = op.send(reply)  # type: ignore[arg-type]
                reply = await self._round_trip(rt)
        except StopIteration as stop:
            return stop.value

    async def _drive_iter(self, op: ListOp) -> AsyncIterator[Any]:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        self._driver or await self._connect()  # the layout first: ops name keys by it
        reply: list[Any] | None = None
        while True:
            try:
                msg = op.send(reply)
            except StopIteration:
                return
            if isinstance(msg, Emit):
                reply = None
                yield msg.value
            else:
                reply = await self._round_trip(msg)

    # -- the LangGraph API ---------------------------------------------------------------

    async def asetup(self) -> None:
        """Idempotent: checks the server, loads the scripts, records the storage format."""
        await self._drive(self._ops.setup())

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._drive(self._ops.get_tuple(self.serde, config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        op = self._ops.list(self.serde, config, filter=filter, before=before, limit=limit)
        async for item in self._drive_iter(op):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self._drive(
            self._ops.put(self.serde, config, checkpoint, metadata, new_versions)
        )

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._drive(self._ops.put_writes(self.serde, config, writes, task_id, task_path))

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return await self._drive(self._ops.delta_history(self.serde, config, channels))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._drive(self._ops.delete_thread(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._drive(self._ops.delete_for_runs(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._drive(self._ops.copy_thread(source_thread_id, target_thread_id))

    async def aprune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        await self._drive(self._ops.prune(thread_ids, strategy, keep_last))

    async def apin_thread(self, thread_id: str) -> bool:
        """The thread stops expiring, whatever TTL any saver has, until unpinned; False when
        the thread does not exist (nothing is marked)."""
        return await self._drive(self._ops.thread_expiry(thread_id, "pin"))

    async def aunpin_thread(self, thread_id: str) -> bool:
        """The thread expires again: `default_ttl` from now, when this saver has a TTL."""
        return await self._drive(self._ops.thread_expiry(thread_id, "unpin"))

    async def asweep(self) -> int:
        """Removes every expired thread's entries from the cross-thread indexes now. Not needed
        for correctness (readers skip them, and the scripts sweep as they go); returns how many
        checkpoints' entries were removed."""
        return await self._drive(self._ops.sweep())

    # -- sync methods, for langgraph's sync API running beside the saver's loop -------------

    def _sync(self, coro: Any) -> Any:
        loop = self.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or not loop.is_running():
            coro.close()
            raise asyncio.InvalidStateError(
                "AsyncRedisSaver's sync methods run only from another thread while the "
                "saver's event loop runs; use the a* methods, or RedisSaver for sync code"
            )
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def setup(self) -> Any:
        """`await saver.setup()` on the event loop, as AsyncPostgresSaver's and the
        incumbent's setup is a coroutine: called where a loop runs (and it is the saver's, or
        the saver has none yet) it returns asetup()'s awaitable. From another thread while the
        saver's loop runs, it sets up there and returns None, like the other sync methods."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and (self.loop is None or running is self.loop):
            return self.asetup()
        return self._sync(self.asetup())

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._sync(self.aget_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Any:
        async def collect() -> list[CheckpointTuple]:
            return [t async for t in self.alist(config, filter=filter, before=before, limit=limit)]

        return iter(self._sync(collect()))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._sync(self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._sync(self.aput_writes(config, writes, task_id, task_path))

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return self._sync(self.aget_delta_channel_history(config=config, channels=channels))

    def delete_thread(self, thread_id: str) -> None:
        self._sync(self.adelete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._sync(self.adelete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._sync(self.acopy_thread(source_thread_id, target_thread_id))

    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        self._sync(self.aprune(thread_ids, strategy=strategy, keep_last=keep_last))

    def pin_thread(self, thread_id: str) -> bool:
        return self._sync(self.apin_thread(thread_id))

    def unpin_thread(self, thread_id: str) -> bool:
        return self._sync(self.aunpin_thread(thread_id))

    def sweep(self) -> int:
        return self._sync(self.asweep())
