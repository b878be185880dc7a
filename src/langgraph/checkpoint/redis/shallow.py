"""The shallow savers: each thread and namespace keeps its latest checkpoint only.

Same storage and scripts as the full savers; the put script prunes the namespace to the new
checkpoint in the same atomic call (lua/checkpoint/put_checkpoint-8.lua), so a reader never sees two
latest checkpoints or a checkpoint without its values. Pending writes of the latest survive
(interrupts and resumes work). A graph with DeltaChannel also keeps the ancestors its latest
checkpoint replays (lua/includes/prune.lua); those are never listed.
"""

from __future__ import annotations

from typing import Any

from .sync import RedisSaver


def drop_cache_sizes(kwargs: dict[str, Any]) -> None:
    """langgraph-checkpoint-redis's shallow savers size two client-side key caches
    (`key_cache_max_size`, `channel_cache_max_size`); ours build no such cache (a step is one
    script call that names its keys itself), so the arguments are accepted, checked and
    dropped: its users' constructor calls work unchanged."""
    for name in ("key_cache_max_size", "channel_cache_max_size"):
        size = kwargs.pop(name, None)
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise ValueError(f"{name} must be an int >= 0 or None, got {size!r}")


class ShallowRedisSaver(RedisSaver):
    """RedisSaver that keeps one checkpoint per thread and namespace: for apps that never
    time-travel, at a constant memory per thread."""

    shallow = True

    def __init__(self, redis_url: str | None = None, **kwargs: Any) -> None:
        drop_cache_sizes(kwargs)
        super().__init__(redis_url, **kwargs)
