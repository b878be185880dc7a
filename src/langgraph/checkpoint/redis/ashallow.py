"""AsyncShallowRedisSaver (the incumbent's module name): see shallow.py."""

from __future__ import annotations

from .aio import AsyncRedisSaver


class AsyncShallowRedisSaver(AsyncRedisSaver):
    """AsyncRedisSaver that keeps one checkpoint per thread and namespace."""

    shallow = True
