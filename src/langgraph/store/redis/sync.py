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
from langgraph.checkpoint.redis import driver, protocol
from langgraph.checkpoint.redis.protocol import FanOut, RoundTrip, client_info
from langgraph.store.base import Op, Result

from .base import BaseRedisStore, dims_error, load_steps, loaded
from .ftindex import Step, as_command
from .ops import Both

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
            self._private = protocol.open_sync(str(self._redis_url), self._connection_args, None)
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
        url = None if self._redis_url is None else str(self._redis_url)
        twin = protocol.cluster_twin_sync(
            url, self._connection_args, self._user_client, self.client
        )
        if twin is not None:  # what the user named is a cluster node
            if self._private is not None:
                self._private.close()
            self._private = self.client = twin
        d = driver.SyncDriver(self.client)
        d.start()
        self._ops.cluster = d.kind == driver.CLUSTER
        self._ops.cross = d.cross
        # one server: each round trip straight to the client, as the driver would send it
        self._send = (
            partial(protocol.round_trip_sync, self.client) if d.kind == driver.ONE else None
        )
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

        def ask(step: Step) -> Any:  # a refusal is an answer here (no such index, no module)
            try:
                return d.round_trip(RoundTrip([as_command(step)]))[0]
            except redis.ResponseError as e:
                return e

        self._ops.knn = protocol.drive(steps, ask)

    # -- TTL: Redis expires the items; these remove their entries now (store_sweep-0.lua) ------

    def sweep_ttl(self) -> int:
        """Removes the entries of every expired item now, in one call per master; returns how
        many items' entries it removed. Never needed for correctness (no read returns an
        expired item, and the scripts clean as they go); it keeps memory tight for
        namespaces that expire and are never written or read again."""
        return protocol.drive(self._ops.sweep(), self._step)

    def _step(self, step: RoundTrip | FanOut | Both) -> Any:
        """One message of a store operation: straight to the client on one server (as the
        driver would send it), else a slot's round trip, a fan-out to every master, or both."""
        d = self._driver or self._connect()
        if isinstance(step, RoundTrip):
            return d.round_trip(step) if self._send is None else self._send(step)
        if isinstance(step, FanOut):
            return d.fan_out(step)
        return (d.round_trip(step.rt), d.fan_out(step.fo))

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
        store's client, as langgraph-checkpoint-redis's method does (a no-op before Redis 7.2)."""
        client_info(self.client)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        todo, texts, queries = self._plan(ops)
        emb = self.embeddings  # None: texts and queries are empty
        docs = emb.embed_documents(list(texts)) if emb is not None and texts else []
        vectors = [emb.embed_query(q) for q in queries] if emb is not None else []
        self._connect()
        try:
            return protocol.drive(self._batch_op(todo, texts, docs, queries, vectors), self._step)
        except redis.ResponseError as e:
            if (err := dims_error(e)) is e:
                raise
            raise err from None

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        import asyncio

        return await asyncio.to_thread(self.batch, list(ops))
