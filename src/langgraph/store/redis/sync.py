"""RedisStore: the sync driver of ops.py (see AsyncRedisStore for the async one)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import redis
import redis.cluster as scluster
from langgraph.checkpoint.redis import driver
from langgraph.checkpoint.redis.driver import round_trip_sync as round_trip
from langgraph.checkpoint.redis.ops import Cmd, Eval, FanOut, RoundTrip
from langgraph.checkpoint.redis.scripts import check_loaded
from langgraph.store.base import Op, Result

from .base import BaseRedisStore, dims_error, load_steps


class RedisStore(BaseRedisStore):
    """Long-term memory on any Redis 6.2+, Valkey, Sentinel or Redis Cluster: one Lua script per
    put, a get or search in one round trip (on a cluster a search is one script call per
    master), no modules. Same import path as langgraph-checkpoint-redis's RedisStore."""

    def __init__(self, redis_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(redis_url, **kwargs)
        self._private: Any = None
        self._driver: driver.SyncDriver | None = None
        self._send: Callable[[RoundTrip], list[Any]] | None = None
        user = self._user_client
        if user is None:
            url = str(self._redis_url)
            if driver.is_sentinel_url(url):
                self._private = driver.open_sentinel_sync(url, self._connection_args)
            else:
                self._private = redis.Redis.from_url(url, **self._connection_args)
            self.client: Any = self._private
        elif driver.is_cluster(user) and driver.decodes(user):
            self._private = self.client = driver.raw_twin(user, scluster.RedisCluster)
        else:
            self.client = user

    def _connect(self) -> driver.SyncDriver:
        """First use: a URL or a plain client that names a cluster node gets a cluster client
        with the same options (driver.py), and the store the cluster's layout."""
        if self._driver is not None:
            return self._driver
        url, args = self._redis_url, self._connection_args
        if (
            self._user_client is None
            and not driver.is_sentinel_url(url)
            and driver.probe_sync(str(url), args)
        ):
            self._private.close()
            self._private = self.client = scluster.RedisCluster.from_url(
                str(url), **driver.cluster_args(args)
            )
        elif (
            self._user_client is not None
            and driver.kind_of(self.client) == driver.ONE
            and driver.cluster_enabled(driver.cluster_info_sync(self.client))
        ):
            self._private = self.client = driver.twin_of_plain(self.client, scluster.RedisCluster)
        d = driver.SyncDriver(self.client)
        d.start()
        self._ops.cluster = d.kind == driver.CLUSTER
        self._ops.cross = d.cross
        # one server: each round trip straight to the client, as the driver would send it
        self._send = partial(round_trip, self.client) if d.kind == driver.ONE else None
        self._driver = d
        return d

    @classmethod
    @contextmanager
    def from_conn_string(cls, redis_url: str, **kwargs: Any) -> Iterator[RedisStore]:
        store = cls(redis_url, **kwargs)
        try:
            yield store
        finally:
            store.close()

    def close(self) -> None:
        if self._private is not None:
            self._private.close()
            self._private = None

    def setup(self) -> None:
        """Loads the scripts (on every master of a cluster), and readies the server's vector
        index where there is one and the store has an `index` (idempotent). The store also
        works without it, scanning."""
        d = self._connect()
        fo, wanted = load_steps(self._ops.cross)
        for shas in d.fan_out(fo):
            check_loaded(wanted, shas)
        steps = self._index_steps()
        if steps is None:
            return
        reply: Any = None
        try:
            while True:
                step = steps.send(reply)
                try:
                    c = step if isinstance(step, Eval) else Cmd(step)
                    reply = d.round_trip(RoundTrip([c]))[0]
                except redis.ResponseError as e:
                    reply = e
        except StopIteration as stop:
            self._ops.knn = stop.value

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        texts = self._texts(ops)
        vectors, dims = None, 0
        if texts:
            assert self.embeddings is not None
            embedded = self.embeddings.embed_documents(list(texts))
            vectors, dims = self._pack_vectors(texts, embedded)
        queries = {q: self.embeddings.embed_query(q) for q in self._queries(ops)}  # type: ignore[union-attr]
        d = self._connect()
        gen = self._ops.batch(ops, vectors, queries, dims)
        send = self._send
        reply: Any = None
        try:
            while True:
                step = gen.send(reply)
                try:
                    if send is not None:
                        reply = send(step)  # type: ignore[arg-type]
                    elif isinstance(step, RoundTrip):
                        reply = d.round_trip(step)
                    elif isinstance(step, FanOut):
                        reply = d.fan_out(step)
                    else:
                        reply = (d.round_trip(step.rt), d.fan_out(step.fo))
                except redis.ResponseError as e:
                    if (err := dims_error(e)) is e:
                        raise
                    raise err from None
        except StopIteration as stop:
            return stop.value

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        import asyncio

        return await asyncio.to_thread(self.batch, list(ops))
