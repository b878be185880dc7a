"""AsyncRedisStore: the async driver of ops.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aredis
import redis.asyncio.cluster as acluster
from langgraph.checkpoint.redis import driver
from langgraph.checkpoint.redis.aio import one, pipelined
from langgraph.checkpoint.redis.base import aclient_info
from langgraph.checkpoint.redis.connection import speed_up_cluster
from langgraph.checkpoint.redis.ops import Cmd, Eval, FanOut, RoundTrip
from langgraph.store.base import Op, Result
from redis.exceptions import ResponseError

from . import validate
from .base import BaseRedisStore, dims_error, load_steps, loaded

log = logging.getLogger(__name__)


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
        self._connecting: asyncio.Lock | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            url = str(self._redis_url)
            if driver.is_sentinel_url(url):
                self._private = driver.open_sentinel_async(url, self._connection_args)
            else:
                self._private = aredis.Redis.from_url(url, **self._connection_args)
            self._client = self._private
        return self._client

    async def _connect(self) -> driver.AsyncDriver:
        """First use (once, however many tasks start together): a URL or a plain client that
        names a cluster node gets a cluster client with the same options (driver.py), and the
        store the cluster's layout."""
        if self._driver is not None:
            return self._driver
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._driver is not None:
                return self._driver
            url, args = self._redis_url, self._connection_args
            client = self.client
            if (
                self._user_client is None
                and not driver.is_sentinel_url(url)
                and await driver.probe_async(str(url), args)
            ):
                await self._private.aclose()
                self._private = self._client = speed_up_cluster(
                    acluster.RedisCluster.from_url(str(url), **driver.cluster_args(args))
                )
            elif (
                self._user_client is not None
                and driver.kind_of(client) == driver.ONE
                and driver.cluster_enabled(await driver.cluster_info_async(client))
            ):
                self._private = self._client = speed_up_cluster(
                    driver.twin_of_plain(client, acluster.RedisCluster)
                )
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

    async def setup(self) -> None:  # type: ignore[override]
        """Loads the scripts (on every master of a cluster), and readies the server's vector
        index where there is one and the store has an `index` (idempotent). The store also
        works without it, scanning."""
        d = await self._connect()
        fo, wanted = load_steps(self._ops.cross)
        self._ops.max_bulk = loaded(wanted, await d.fan_out(fo))
        steps = self._index_steps()
        if steps is None:
            return
        reply: Any = None
        try:
            while True:
                step = steps.send(reply)
                try:
                    reply = await one(self.client, step if isinstance(step, Eval) else Cmd(step))
                except ResponseError as e:
                    reply = e
        except StopIteration as stop:
            self._ops.knn = stop.value

    asetup = setup

    # -- TTL: Redis expires the items; these remove their entries now (store_sweep-0.lua) ------

    async def sweep_ttl(self) -> int:  # type: ignore[override]
        """Removes the entries of every expired item now, in one call per master; returns how
        many items' entries it removed (RedisStore.sweep_ttl: never needed for
        correctness)."""
        d = await self._connect()
        op = self._ops.sweep()
        reply: Any = None
        try:
            while True:
                step = op.send(reply)
                if isinstance(step, FanOut):
                    reply = await d.fan_out(step)
                else:
                    reply = await d.round_trip(step)
        except StopIteration as stop:
            return stop.value

    async def start_ttl_sweeper(  # type: ignore[override]
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

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:  # type: ignore[override]
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

    async def set_client_info(self) -> None:  # type: ignore[override]
        """Names this library to the server (CLIENT SETINFO LIB-NAME) on a connection of the
        store's client, as the incumbent's (awaitable) method does."""
        await aclient_info(self.client)

    aset_client_info = set_client_info

    async def _round_trip(self, rt: RoundTrip) -> list[Any]:
        """One server's round trip (the driver's `send`)."""
        if len(rt.cmds) == 1:
            return [await one(self.client, rt.cmds[0])]
        return await pipelined(self.client, rt)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        ops = list(ops)
        validate.ops(ops)  # before anything is embedded or sent
        texts = self._texts(ops)
        vectors, dims = None, 0
        if texts:
            assert self.embeddings is not None
            docs = await self.embeddings.aembed_documents(list(texts))
            vectors, dims = self._pack_vectors(texts, docs)
        qs = self._queries(ops)
        embedded = await asyncio.gather(*(self.embeddings.aembed_query(q) for q in qs))  # type: ignore[union-attr]
        d = await self._connect()
        gen = self._ops.batch(ops, vectors, dict(zip(qs, embedded, strict=True)), dims)
        one_server = d.kind == driver.ONE  # round trips straight to ours, as the driver sends them
        reply: Any = None
        try:
            while True:
                step = gen.send(reply)
                try:
                    if one_server:
                        reply = await self._round_trip(step)  # type: ignore[arg-type]
                    elif isinstance(step, RoundTrip):
                        reply = await d.round_trip(step)
                    elif isinstance(step, FanOut):
                        reply = await d.fan_out(step)
                    else:  # both at once: a cluster's reads of one slot and of every master
                        got = await asyncio.gather(
                            d.round_trip(step.rt), d.fan_out(step.fo), return_exceptions=True
                        )
                        for x in got:
                            if isinstance(x, BaseException):
                                raise x
                        reply = tuple(got)
                except ResponseError as e:
                    if (err := dims_error(e)) is e:
                        raise
                    raise err from None
        except StopIteration as stop:
            return stop.value

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        loop = self.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or not loop.is_running():
            raise asyncio.InvalidStateError(
                "AsyncRedisStore's sync methods run only from another thread while its event "
                "loop runs; use the a* methods, or RedisStore in sync code"
            )
        return asyncio.run_coroutine_threadsafe(self.abatch(ops), loop).result()
