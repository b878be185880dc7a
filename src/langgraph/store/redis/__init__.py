"""Long-term memory for LangGraph on plain Redis: RedisStore and AsyncRedisStore.

Same import path as langgraph-checkpoint-redis's stores; no RediSearch needed. Work in
progress on the `store` branch (issue 5): see README, "RedisStore".
"""

from .aio import AsyncRedisStore
from .sync import RedisStore

__all__ = ["AsyncRedisStore", "RedisStore"]
