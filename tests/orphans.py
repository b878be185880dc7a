"""The no-orphans assertion of the tests: a thin wrapper over the package's consistency walk
(`langgraph.checkpoint.redis.check`, which `langgraph-redis check` runs too), plus helpers that
name a thread's keys the way the saver on a given client writes them.

`assert_no_orphans(raw)` reads every key of the server in one Lua call per server (an atomic
view: no key can expire half way through the walk) and fails with every violation of the
layout, one per line; check.py's docstring lists the rules.
"""

from __future__ import annotations

from typing import Any

import redis
from langgraph.checkpoint.redis.check import (
    Checker,
    Key,
    ThreadKeys,
    find_orphans,
    snapshot,
    snapshot_at,
    unbucket,
)
from langgraph.checkpoint.redis.keys import KeySpace, Thread
from langgraph.checkpoint.serde.base import SerializerProtocol
from redis.cluster import RedisCluster

__all__ = [
    "Checker",
    "Key",
    "ThreadKeys",
    "assert_no_orphans",
    "find_orphans",
    "keys_of",
    "of_thread",
    "snapshot",
    "snapshot_at",
    "tagged",
    "unbucket",
]


def keys_of(raw: Any, thread: str, prefix: str = "checkpoint") -> Thread:
    """A thread's key names as the saver on `raw`'s server writes them: `{T}` on one server,
    `{g}T` on a cluster (keys.py)."""
    return KeySpace(prefix, f"{prefix}_write").thread(thread, isinstance(raw, RedisCluster))


def tagged(raw: Any, thread: str) -> str:
    """The part of a thread's key names that names it: "{T}", or "{g}T" on a cluster."""
    return keys_of(raw, thread).ns_set.partition(":")[2]


def of_thread(key: str | bytes, part: str) -> bool:
    """Whether a key name belongs to the thread whose `tagged` part is `part` (a thread id
    may be a prefix of another's)."""
    k = key.decode() if isinstance(key, bytes) else key
    return k.endswith(part) or part + ":" in k


def assert_no_orphans(
    raw: redis.Redis,
    prefix: str = "checkpoint",
    write_prefix: str = "checkpoint_write",
    *,
    swept: bool = True,
    serde: SerializerProtocol | None = None,
) -> None:
    taken = snapshot_at(raw)
    keys = taken[1]
    errors = find_orphans(raw, prefix, write_prefix, swept=swept, serde=serde, taken=taken)
    if errors:
        listing = "\n".join(f"  - {e}" for e in errors)
        raise AssertionError(
            f"{len(errors)} violation(s) of the key layout in {len(keys)} keys "
            f"(swept={swept}):\n{listing}"
        )
