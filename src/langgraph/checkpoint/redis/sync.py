"""RedisSaver: the sync shim. Every rule lives in ops.py; this file only drives it with the
sync redis client (thread-safe: langgraph runs parallel tasks' put_writes on a thread pool)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import redis
import redis.cluster as scluster
import redis.sentinel as ssentinel
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)

from . import driver
from .base import BaseRedisSaver, derived_pool_kwargs
from .ops import Emit, FanOut, ListOp, Op, RoundTrip

T = TypeVar("T")


class RedisSaver(BaseRedisSaver):
    """The sync LangGraph checkpointer; see AsyncRedisSaver for the design.

    Its a* methods run the sync ones in a worker thread, so `graph.ainvoke` works with it too;
    high-throughput async code should use AsyncRedisSaver.
    """

    def __init__(self, redis_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(redis_url, **kwargs)
        self._private: Any = None
        self._driver: driver.SyncDriver | None = None
        self.client: Any = self._open()

    def _open(self) -> Any:
        """The client every command goes through (raw replies); no I/O yet."""
        user = self._user_client
        if user is None:
            url = str(self._redis_url)
            if driver.is_sentinel_url(url):
                self._private = driver.open_sentinel_sync(url, self._connection_args)
            elif self.cluster_mode:
                self._private = scluster.RedisCluster.from_url(
                    url, **driver.cluster_args(self._connection_args)
                )
            else:
                self._private = redis.Redis.from_url(url, **self._connection_args)
            return self._private
        if driver.is_cluster(user):
            if not driver.decodes(user):
                return user
            self._private = driver.raw_twin(user, scluster.RedisCluster)
            return self._private
        kwargs_ = derived_pool_kwargs(user.connection_pool)
        if kwargs_ is None:
            return user
        if driver.is_sentinel(user):
            kwargs_.pop("connection_class", None)
            pool: Any = ssentinel.SentinelConnectionPool(
                user.connection_pool.service_name, user.connection_pool.sentinel_manager, **kwargs_
            )
        else:
            pool = redis.ConnectionPool(
                connection_class=user.connection_pool.connection_class, **kwargs_
            )
        self._private = redis.Redis(connection_pool=pool)
        return self._private

    def _connect(self) -> driver.SyncDriver:
        """First use: find out what the URL names (driver.py), then fix the driver and the
        layout for the saver's life."""
        if self._driver is not None:
            return self._driver
        url = self._redis_url
        if (
            self._user_client is None
            and self.cluster_mode is None
            and not driver.is_sentinel_url(url)
            and driver.probe_sync(str(url), self._connection_args)
        ):
            self.cluster_mode = True
            if self._private is not None:
                self._private.close()
            self.client = self._open()
        elif (
            self._user_client is not None
            and self.cluster_mode is None
            and driver.kind_of(self.client) == driver.ONE
            and driver.cluster_enabled(driver.cluster_info_sync(self.client))
        ):  # a plain client to a cluster node: the same options, as a cluster client
            self.cluster_mode = True
            if self._private is not None:
                self._private.close()
            self._private = self.client = driver.twin_of_plain(self.client, scluster.RedisCluster)
        d = driver.SyncDriver(self.client)
        d.wait = self._wait
        d.start()
        if d.kind == driver.CLUSTER:
            self._ops.cluster, self._ops.cross_flag = True, d.cross
        self._driver = d
        return d

    def close(self) -> None:
        """Close what we opened; a client the user passed in stays open."""
        if self._private is not None:
            self._private.close()
            self._private = None
            self._driver = None

    def __enter__(self) -> RedisSaver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    @contextmanager
    def from_conn_string(cls, redis_url: str | None = None, **kwargs: Any) -> Iterator[RedisSaver]:
        saver = cls(redis_url, **kwargs)
        try:
            yield saver
        finally:
            saver.close()

    # -- driver --------------------------------------------------------------------------

    def _round_trip(self, rt: RoundTrip | FanOut) -> list[Any]:
        d = self._driver or self._connect()
        if isinstance(rt, FanOut):
            return d.fan_out(rt)
        return d.round_trip(rt)

    def _drive(self, op: Op[T]) -> T:
        self._driver or self._connect()  # the layout first: ops name keys by it
        reply: list[Any] | None = None
        try:
            while True:
                reply = self._round_trip(op.send(reply))  # type: ignore[arg-type]
        except StopIteration as stop:
            return stop.value

    def _drive_iter(self, op: ListOp) -> Iterator[Any]:
        self._driver or self._connect()  # the layout first: ops name keys by it
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
                reply = self._round_trip(msg)

    # -- the LangGraph API ---------------------------------------------------------------

    def setup(self) -> None:
        """Idempotent: checks the server, loads the scripts, records the storage format."""
        self._drive(self._ops.setup())

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._drive(self._ops.get_tuple(self.serde, config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        op = self._ops.list(self.serde, config, filter=filter, before=before, limit=limit)
        return self._drive_iter(op)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._drive(self._ops.put(self.serde, config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._drive(self._ops.put_writes(self.serde, config, writes, task_id, task_path))

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return self._drive(self._ops.delta_history(self.serde, config, channels))

    def delete_thread(self, thread_id: str) -> None:
        self._drive(self._ops.delete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._drive(self._ops.delete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._drive(self._ops.copy_thread(source_thread_id, target_thread_id))

    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        self._drive(self._ops.prune(thread_ids, strategy, keep_last))

    def pin_thread(self, thread_id: str) -> bool:
        """The thread stops expiring, whatever TTL any saver has, until unpinned; False when
        the thread does not exist (nothing is marked)."""
        return self._drive(self._ops.thread_expiry(thread_id, "pin"))

    def unpin_thread(self, thread_id: str) -> bool:
        """The thread expires again: `default_ttl` from now, when this saver has a TTL."""
        return self._drive(self._ops.thread_expiry(thread_id, "unpin"))

    def sweep(self) -> int:
        """Removes every expired thread's entries from the cross-thread indexes now. Not needed
        for correctness (readers skip them, and the scripts sweep as they go); returns how many
        checkpoints' entries were removed."""
        return self._drive(self._ops.sweep())

    # -- async methods, run in a worker thread ------------------------------------------

    async def asetup(self) -> None:
        await asyncio.to_thread(self.setup)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        items = await asyncio.to_thread(
            lambda: list(self.list(config, filter=filter, before=before, limit=limit))
        )
        for item in items:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return await asyncio.to_thread(
            self.get_delta_channel_history, config=config, channels=channels
        )

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy, keep_last=keep_last)

    async def apin_thread(self, thread_id: str) -> bool:
        return await asyncio.to_thread(self.pin_thread, thread_id)

    async def aunpin_thread(self, thread_id: str) -> bool:
        return await asyncio.to_thread(self.unpin_thread, thread_id)

    async def asweep(self) -> int:
        return await asyncio.to_thread(self.sweep)
