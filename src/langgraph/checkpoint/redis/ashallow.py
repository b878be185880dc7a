"""AsyncShallowRedisSaver (langgraph-checkpoint-redis's module name): see shallow.py."""

from __future__ import annotations

from typing import Any

from .aio import AsyncRedisSaver
from .shallow import drop_cache_sizes


class AsyncShallowRedisSaver(AsyncRedisSaver):
    """AsyncRedisSaver that keeps one checkpoint per thread and namespace."""

    shallow = True

    def __init__(self, redis_url: str | None = None, **kwargs: Any) -> None:
        drop_cache_sizes(kwargs)
        super().__init__(redis_url, **kwargs)
