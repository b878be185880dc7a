"""AsyncRedisStore: the async driver of ops.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aredis
from langgraph.checkpoint.redis.aio import one, pipelined
from langgraph.checkpoint.redis.ops import Cmd, Eval, RoundTrip
from langgraph.store.base import Op, Result
from redis.exceptions import ResponseError

from .base import BaseRedisStore, refuse_cluster


class AsyncRedisStore(BaseRedisStore):
    """RedisStore for asyncio: the same scripts and rules (ops.py), an async client."""

    def __init__(self, redis_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(redis_url, **kwargs)
        self._client: aredis.Redis | None = self._user_client
        self._private: aredis.Redis | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def client(self) -> aredis.Redis:
        if self._client is None:
            self._client = self._private = aredis.Redis.from_url(
                self._redis_url, **self._connection_args
            )
        return self._client

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

    async def aclose(self) -> None:
        if self._private is not None:
            await self._private.aclose()
            self._private = self._client = None

    async def setup(self) -> None:  # type: ignore[override]
        """Loads the scripts, and readies the server's vector index where there is one and the
        store has an `index` (idempotent). The store also works without it, scanning."""
        try:  # (a managed service may refuse INFO: then it is not checked)
            info: Any = await self.client.info("cluster")
        except ResponseError:
            info = {}
        refuse_cluster(info)
        for s in self._ops.s.values():
            await self.client.script_load(s.source)
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

    async def _round_trip(self, rt: RoundTrip) -> list[Any]:
        if len(rt.cmds) == 1:
            return [await one(self.client, rt.cmds[0])]
        return await pipelined(self.client, rt)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        ops = list(ops)
        texts = self._texts(ops)
        vectors, dims = None, 0
        if texts:
            assert self.embeddings is not None
            docs = await self.embeddings.aembed_documents(list(texts))
            vectors, dims = self._pack_vectors(texts, docs)
        qs = self._queries(ops)
        embedded = await asyncio.gather(*(self.embeddings.aembed_query(q) for q in qs))  # type: ignore[union-attr]
        gen = self._ops.batch(ops, vectors, dict(zip(qs, embedded, strict=True)), dims)
        reply: list[Any] | None = None
        try:
            while True:
                reply = await self._round_trip(gen.send(reply))  # type: ignore[arg-type]
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
