"""RedisStore: the sync driver of ops.py (see AsyncRedisStore for the async one)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from langgraph.checkpoint.redis.ops import Cmd, Eval
from langgraph.checkpoint.redis.sync import one, round_trip
from langgraph.store.base import Op, Result

from .base import BaseRedisStore, refuse_cluster


class RedisStore(BaseRedisStore):
    """Long-term memory on any Redis 6.2+: one Lua script per put, a get or search in one round
    trip, no modules. Same import path as langgraph-checkpoint-redis's RedisStore."""

    def __init__(self, redis_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(redis_url, **kwargs)
        self._private: redis.Redis | None = None
        if self._user_client is None:
            self._private = redis.Redis.from_url(self._redis_url, **self._connection_args)
            self.client: redis.Redis = self._private
        else:
            self.client = self._user_client

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
        """Loads the scripts, and readies the server's vector index where there is one and the
        store has an `index` (idempotent). The store also works without it, scanning."""
        try:  # (a managed service may refuse INFO: then it is not checked)
            info: Any = self.client.info("cluster")
        except redis.ResponseError:
            info = {}
        refuse_cluster(info)
        for s in self._ops.s.values():
            self.client.script_load(s.source)
        steps = self._index_steps()
        if steps is None:
            return
        reply: Any = None
        try:
            while True:
                step = steps.send(reply)
                try:
                    reply = one(self.client, step if isinstance(step, Eval) else Cmd(step))
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
        gen = self._ops.batch(ops, vectors, queries, dims)
        reply: list[Any] | None = None
        try:
            while True:
                reply = round_trip(self.client, gen.send(reply))  # type: ignore[arg-type]
        except StopIteration as stop:
            return stop.value

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        import asyncio

        return await asyncio.to_thread(self.batch, list(ops))
