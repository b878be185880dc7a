"""The shallow savers: each thread and namespace keeps its latest checkpoint only.

Same storage and scripts as the full savers; the put script prunes the namespace to the new
checkpoint in the same atomic call (lua/put_checkpoint-7.lua), so a reader never sees two
latest checkpoints or a checkpoint without its values. Pending writes of the latest survive
(interrupts and resumes work). A graph with DeltaChannel also keeps the ancestors its latest
checkpoint replays (lua/includes/prune.lua); those are never listed.
"""

from __future__ import annotations

from .sync import RedisSaver


class ShallowRedisSaver(RedisSaver):
    """RedisSaver that keeps one checkpoint per thread and namespace: for apps that never
    time-travel, at a constant memory per thread."""

    shallow = True
