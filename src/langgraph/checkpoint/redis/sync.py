"""RedisSaver: the sync saver. Every rule lives in ops.py and the API in base.py; this file
only opens the sync redis client (thread-safe: langgraph runs parallel tasks' put_writes on a
thread pool) and says how to wait: natively, and in a worker thread for the a* methods."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import redis
import redis.cluster as scluster
import redis.sentinel as ssentinel

from . import driver, protocol
from .base import BaseRedisSaver, derived_pool_kwargs
from .protocol import FanOut, ListOp, Op, RoundTrip

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
            self._private = protocol.open_sync(
                str(self._redis_url), self._connection_args, self.cluster_mode
            )
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
        if self.cluster_mode is None:
            url = None if self._redis_url is None else str(self._redis_url)
            twin = protocol.cluster_twin_sync(
                url, self._connection_args, self._user_client, self.client
            )
            if twin is not None:  # what the user named is a cluster node
                self.cluster_mode = True
                if self._private is not None:
                    self._private.close()
                self._private = self.client = twin
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

    # -- the driver primitives (base.py defines the API over them) ------------------------

    def _round_trip(self, rt: RoundTrip | FanOut) -> list[Any]:
        d = self._driver or self._connect()
        if isinstance(rt, FanOut):
            return d.fan_out(rt)
        return d.round_trip(rt)

    def _run(self, op: Op[T]) -> T:
        self._driver or self._connect()  # the layout first: ops name keys by it
        return protocol.drive(op, self._round_trip)

    def _run_list(self, op: ListOp) -> Iterator[Any]:
        self._driver or self._connect()  # the layout first: ops name keys by it
        yield from protocol.drive_list(op, self._round_trip)

    async def _arun(self, op: Op[T]) -> T:
        """In a worker thread, so `graph.ainvoke` works with the sync saver too."""
        return await asyncio.to_thread(self._run, op)

    async def _arun_list(self, op: ListOp) -> AsyncIterator[Any]:
        """The whole listing in a worker thread, then its items."""
        items = await asyncio.to_thread(lambda: list(self._run_list(op)))
        for item in items:
            yield item
