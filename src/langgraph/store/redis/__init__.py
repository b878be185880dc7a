"""Long-term memory for LangGraph on plain Redis: RedisStore and AsyncRedisStore.

Both implement LangGraph's `BaseStore` (`batch` / `abatch` of gets, puts, searches and namespace
listings, and the convenience methods on top) with the same semantics as `InMemoryStore`, on any
server the checkpointers run on (Redis 6.2+, Valkey, managed services, Redis Cluster): no
RediSearch or RedisJSON needed, and the same import path as langgraph-checkpoint-redis's stores.

- Namespaces: items live under tuples of labels; searches take a namespace prefix, and
  `list_namespaces` lists them by prefix, suffix and depth.
- TTL: `ttl={"default_ttl": minutes, "refresh_on_read": bool}` (LangGraph's TTLConfig) or
  `put(..., ttl=minutes)`; items expire natively and an expired item is never returned.
  `sweep_ttl()` / `start_ttl_sweeper()` remove the entries they leave, which nothing needs.
- Search: `filter=` with `$eq $ne $gt $gte $lt $lte` and nested values, `limit`, `offset`.
- Vectors (optional): with `index={"dims": ..., "embed": ..., "fields": [...]}`, a `query=`
  ranks items by cosine similarity; a server with a vector index (RediSearch) answers it there
  once `setup()` has created it, any other server by a scan of the namespace (ftindex.py,
  vectors.py).

See docs/store.md.
"""

from .aio import AsyncRedisStore
from .sync import RedisStore

__all__ = ["AsyncRedisStore", "RedisStore"]
