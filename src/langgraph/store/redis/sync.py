"""RedisStore: the sync driver of ops.py (see AsyncRedisStore for the async one)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from functools import partial
from typing import Any

import redis
import redis.cluster as scluster
from langgraph.checkpoint.redis import driver
from langgraph.checkpoint.redis.base import client_info
from langgraph.checkpoint.redis.driver import round_trip_sync as round_trip
from langgraph.checkpoint.redis.ops import Cmd, Eval, FanOut, RoundTrip
from langgraph.store.base import Op, Result

from . import validate
from .base import BaseRedisStore, dims_error, load_steps, loaded

log = logging.getLogger(__name__)


class RedisStore(BaseRedisStore):
    """Long-term memory on any Redis 6.2+, Valkey, Sentinel or Redis Cluster: one Lua script per
    put, a get or search in one round trip (on a cluster a search is one script call per
    master), no modules. Same import path as langgraph-checkpoint-redis's RedisStore."""

    def __init__(self, conn: Any = None, **kwargs: Any) -> None:
        super().__init__(conn, **kwargs)
        self._sweeper: tuple[threading.Thread, threading.Event, Future[None]] | None = None
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

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stops the TTL sweeper if one runs, and closes what the store opened (a client the
        user passed in stays open)."""
        self.stop_ttl_sweeper()
        if self._private is not None:
            self._private.close()
            self._private = None

    def setup(self) -> None:
        """Loads the scripts (on every master of a cluster), and readies the server's vector
        index where there is one and the store has an `index` (idempotent). The store also
        works without it, scanning."""
        d = self._connect()
        fo, wanted = load_steps(self._ops.cross)
        self._ops.max_bulk = loaded(wanted, d.fan_out(fo))
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

    # -- TTL: Redis expires the items; these remove their entries now (store_sweep-0.lua) ------

    def sweep_ttl(self) -> int:
        """Removes the entries of every expired item now, in one call per master; returns how
        many items' entries it removed. Never needed for correctness (no read returns an
        expired item, and the scripts clean as they go); it keeps memory tight for
        namespaces that expire and are never written or read again."""
        d = self._connect()
        op = self._ops.sweep()
        reply: Any = None
        try:
            while True:
                step = op.send(reply)
                reply = d.fan_out(step) if isinstance(step, FanOut) else d.round_trip(step)
        except StopIteration as stop:
            return stop.value

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> Future[None]:
        """Runs sweep_ttl() every `sweep_interval_minutes` (else the TTLConfig's, else 5) on a
        daemon thread until stop_ttl_sweeper() or close(); PostgresStore's API. A sweep that
        fails (the server restarting, say) is logged and tried again next period. Returns a
        future that completes when the sweeper stops; calling it again while one runs returns
        that one's future."""
        if self._sweeper is not None and self._sweeper[0].is_alive():
            return self._sweeper[2]
        period = self.sweep_interval(sweep_interval_minutes)
        stop, done = threading.Event(), Future[None]()

        def run() -> None:
            try:
                while not stop.wait(period):
                    try:
                        self.sweep_ttl()
                    except Exception as e:  # keep sweeping: the next period may succeed
                        log.warning("RedisStore TTL sweep failed: %s", e)
            finally:
                done.set_result(None)

        thread = threading.Thread(target=run, name="RedisStore-ttl-sweeper", daemon=True)
        self._sweeper = (thread, stop, done)
        thread.start()
        return done

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stops the sweeper; True once it has stopped (or none ran), False if it was still
        in a sweep after `timeout` seconds."""
        if self._sweeper is None:
            return True
        thread, stop, _ = self._sweeper
        stop.set()
        if thread is not threading.current_thread():
            thread.join(timeout)
        if thread.is_alive():
            return False
        self._sweeper = None
        return True

    def set_client_info(self) -> None:
        """Names this library to the server (CLIENT SETINFO LIB-NAME) on a connection of the
        store's client, as the incumbent's method does (a no-op before Redis 7.2)."""
        client_info(self.client)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        validate.ops(ops)  # before anything is embedded or sent
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
