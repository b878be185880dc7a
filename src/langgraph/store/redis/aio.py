"""AsyncRedisStore: the async driver of ops.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio.cluster as acluster
from langgraph.checkpoint.redis import driver, protocol
from langgraph.checkpoint.redis.connection import speed_up_cluster
from langgraph.checkpoint.redis.protocol import FanOut, RoundTrip, aclient_info, one_async
from langgraph.store.base import Op, Result
from redis.exceptions import ResponseError

from .base import BaseRedisStore, dims_error, load_steps, loaded
from .ftindex import Step, as_command
from .ops import Both

log = logging.getLogger(__name__)

SYNC_REFUSAL = (
    "AsyncRedisStore's sync methods run only from another thread while its event "
    "loop runs; use the a* methods, or RedisStore in sync code"
)


class AsyncRedisStore(BaseRedisStore):
    """RedisStore for asyncio: the same scripts and rules (ops.py), an async client."""

    def __init__(self, conn: Any = None, **kwargs: Any) -> None:
        super().__init__(conn, **kwargs)
        self._sweeper: asyncio.Task[None] | None = None
        user = self._user_client
        self._private: Any = None
        if user is not None and driver.is_cluster(user) and driver.decodes(user):
            self._private = speed_up_cluster(driver.raw_twin(user, acluster.RedisCluster))
            user = self._private
        self._client: Any = user
        self._driver: driver.AsyncDriver | None = None
        self._connecting = protocol.SingleFlight()
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            url = str(self._redis_url)
            self._private = protocol.open_async(url, self._connection_args, None)
            self._client = self._private
        return self._client

    async def _connect(self) -> driver.AsyncDriver:
        """First use (once, however many tasks start together): a URL or a plain client that
        names a cluster node gets a cluster client with the same options (driver.py), and the
        store the cluster's layout."""
        return await self._connecting.run(lambda: self._driver, self._connect_once)

    async def _connect_once(self) -> driver.AsyncDriver:
        url = None if self._redis_url is None else str(self._redis_url)
        args, user = self._connection_args, self._user_client
        twin = await protocol.cluster_twin_async(url, args, user, self.client)
        if twin is not None:  # what the user named is a cluster node
            if user is None and self._private is not None:
                await self._private.aclose()  # the URL's plain client, ours
            self._private = self._client = twin
        d = driver.AsyncDriver(self.client, self._round_trip)
        await d.start()
        self._ops.cluster = d.kind == driver.CLUSTER
        self._ops.cross = d.cross
        self._driver = d
        return d

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, redis_url: str, **kwargs: Any
    ) -> AsyncIterator[AsyncRedisStore]:
        store = cls(redis_url, **kwargs)
        try:
            yield store
        finally:
            await store.aclose()

    async def __aenter__(self) -> AsyncRedisStore:
        """Binds the store to the running loop now, so its sync methods work from other
        threads before its first call (`async with AsyncRedisStore(url) as store`)."""
        self.loop = asyncio.get_running_loop()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stops the TTL sweeper if one runs, and closes what the store opened (a client the
        user passed in stays open)."""
        await self.stop_ttl_sweeper()
        if self._driver is not None:
            await self._driver.aclose()  # its own connections to a cluster's masters
            self._driver = None
        if self._private is not None:
            await self._private.aclose()
            self._private = None
            if self._user_client is None or self._client is not self._user_client:
                self._client = None

    async def setup(self) -> None:
        """Loads the scripts (on every master of a cluster), and readies the server's vector
        index where there is one and the store has an `index` (idempotent). The store also
        works without it, scanning."""
        d = await self._connect()
        fo, wanted = load_steps(self._ops.cross)
        self._ops.max_bulk = loaded(wanted, await d.fan_out(fo))
        steps = self._index_steps()
        if steps is None:
            return

        async def ask(step: Step) -> Any:  # a refusal is an answer (RedisStore.setup)
            try:
                return await one_async(self.client, as_command(step))
            except ResponseError as e:
                return e

        self._ops.knn = await protocol.adrive(steps, ask)

    asetup = setup

    # -- TTL: Redis expires the items; these remove their entries now (store_sweep-0.lua) ------

    async def sweep_ttl(self) -> int:
        """Removes the entries of every expired item now, in one call per master; returns how
        many items' entries it removed (RedisStore.sweep_ttl: never needed for
        correctness)."""
        await self._connect()
        return await protocol.adrive(self._ops.sweep(), self._step)

    async def start_ttl_sweeper(
        self, sweep_interval_minutes: float | None = None
    ) -> asyncio.Task[None]:
        """Runs sweep_ttl() every `sweep_interval_minutes` (else the TTLConfig's, else 5) as a
        task of the running loop until stop_ttl_sweeper() or aclose(); AsyncPostgresStore's
        API. A failed sweep is logged and tried again next period. Calling it again while
        one runs returns that task."""
        if self._sweeper is not None and not self._sweeper.done():
            return self._sweeper
        period = self.sweep_interval(sweep_interval_minutes)

        async def run() -> None:
            while True:
                await asyncio.sleep(period)
                try:
                    await self.sweep_ttl()
                except Exception as e:  # keep sweeping: the next period may succeed
                    log.warning("AsyncRedisStore TTL sweep failed: %s", e)

        self._sweeper = asyncio.get_running_loop().create_task(run())
        return self._sweeper

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stops the sweeper task; True once it has stopped (or none ran), False if it did
        not stop within `timeout` seconds."""
        task = self._sweeper
        if task is None:
            return True
        task.cancel()
        if task is not asyncio.current_task():
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                return False
        self._sweeper = None
        return True

    async def set_client_info(self) -> None:
        """Names this library to the server (CLIENT SETINFO LIB-NAME) on a connection of the
        store's client, as langgraph-checkpoint-redis's (awaitable) method does."""
        await aclient_info(self.client)

    aset_client_info = set_client_info

    async def _round_trip(self, rt: RoundTrip) -> list[Any]:
        """One server's round trip (the driver's `send`)."""
        return await protocol.round_trip_async(self.client, rt)

    async def _step(self, step: RoundTrip | FanOut | Both) -> Any:
        """One message of a store operation: straight to the client on one server (as the
        driver would send it), else a slot's round trip, a fan-out to every master, or both
        at once (a cluster's reads of one slot and of every master)."""
        d = self._driver or await self._connect()
        if isinstance(step, RoundTrip):
            if d.kind == driver.ONE:
                return await self._round_trip(step)
            return await d.round_trip(step)
        if isinstance(step, FanOut):
            return await d.fan_out(step)
        got = await asyncio.gather(
            d.round_trip(step.rt), d.fan_out(step.fo), return_exceptions=True
        )
        for x in got:
            if isinstance(x, BaseException):
                raise x
        return tuple(got)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        todo, texts, queries = self._plan(ops)
        emb = self.embeddings  # None: texts and queries are empty
        docs = await emb.aembed_documents(list(texts)) if emb is not None and texts else []
        vectors = await asyncio.gather(*(emb.aembed_query(q) for q in queries)) if emb else []
        await self._connect()
        gen = self._batch_op(todo, texts, docs, queries, list(vectors))
        try:
            return await protocol.adrive(gen, self._step)
        except ResponseError as e:
            if (err := dims_error(e)) is e:
                raise
            raise err from None

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return protocol.on_loop(self.loop, self.abatch(ops), SYNC_REFUSAL)
