"""The ARGV of each Lua script, by name: one place that says which slot holds what.

Python sends a script its arguments as one positional list (ARGV[1], ARGV[2], ...), and the
script reads them by index. `LAYOUTS` names each script's fixed slots in order (ARGV[1]
first), with the name of what may follow them (`tail`: pairs, filters, buckets, ...; None
when nothing does). Python builds the list with `build(script, *tail, **slots)` (every fixed
slot by keyword, the thread block as `thread=`, the tail positionally) and reads a slot back
with `Layout.at` (its index in that list), so no caller counts positions by hand.

Each script's header documents the same slots, and tests/test_argv_layouts.py holds the two
together: the header's line for ARGV[i] begins with the name given here to slot i
(`ARGV[7]  cid: C, the encoded checkpoint id`), a block of slots with the block's name
(`ARGV[1..6]  thread: ...`), and the first slot after the fixed ones with the tail's name
(`ARGV[11 ..]  filters: ...`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

THREAD = ("prefix", "write_prefix", "tag", "cross", "ttl", "flags")
"""The thread block every per-thread script starts with (common.lua's `thread`, built by
ops.Operations._block): checkpoint prefix, writes prefix, T (the encoded thread id), "1"/"0"
for the cross-thread indexes followed by the bucket suffix, the TTL in ms, the flags."""

BLOCKS: dict[str, tuple[str, ...]] = {"thread": THREAD}
"""Runs of slots passed (and documented) as one: `build(thread=[...six values])`."""


@dataclass(frozen=True)
class Layout:
    """One script's ARGV: `slots` are ARGV[1 .. len(slots)], `tail` names what follows."""

    script: str
    slots: tuple[str, ...]
    tail: str | None = None
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _lead: tuple[str, int] | None = field(init=False, repr=False, compare=False)
    """The block the slots start with (its name and width), passed to `build` as one value."""
    _rest: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """The slots after that block: `build` takes each by its own name."""

    def __post_init__(self) -> None:
        if len(set(self.slots)) != len(self.slots):
            raise ValueError(f"{self.script}: a slot named twice in {self.slots}")
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(self.slots)})
        lead = next((b for b, ns in BLOCKS.items() if self.slots[: len(ns)] == ns), None)
        width = len(BLOCKS[lead]) if lead is not None else 0
        object.__setattr__(self, "_lead", (lead, width) if lead is not None else None)
        object.__setattr__(self, "_rest", self.slots[width:])

    def at(self, name: str) -> int:
        """The index of slot `name` in the argument list (ARGV[at + 1] in the script)."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"{self.script} has no ARGV slot {name!r}: {self.slots}") from None

    def build(self, *tail: Any, **named: Any) -> list[Any]:
        """The argument list: every fixed slot by name (the block the slots start with, such
        as `thread`, as one sequence of its slots' values), then `tail`. A slot missing or
        unknown is a bug here, caught before the script would misread its arguments. (On
        every call of every operation: kept to a few dict lookups.)"""
        head: Sequence[Any] = ()
        if self._lead is not None:
            head = named.pop(self._lead[0], ())
            if len(head) != self._lead[1]:
                raise TypeError(f"{self.script}: {self._lead[0]}= takes {self._lead[1]} values")
        if len(named) != len(self._rest) or (tail and self.tail is None):
            self._refuse(named, tail)
        try:
            return [*head, *[named[n] for n in self._rest], *tail]
        except KeyError:
            self._refuse(named, tail)

    def _refuse(self, named: dict[str, Any], tail: tuple[Any, ...]) -> NoReturn:
        missing = [n for n in self._rest if n not in named]
        unknown = [n for n in named if n not in self._rest]
        if missing or unknown:
            raise TypeError(f"{self.script}: ARGV slots missing {missing}, unknown {unknown}")
        raise TypeError(f"{self.script} takes nothing after its fixed ARGV slots ({tail!r})")


def build(script: str, *tail: Any, **named: Any) -> list[Any]:
    """`script`'s argument list: `LAYOUTS[script].build(*tail, **named)`."""
    return LAYOUTS[script].build(*tail, **named)


def _layouts(*layouts: Layout) -> dict[str, Layout]:
    return {x.script: x for x in layouts}


LAYOUTS: dict[str, Layout] = _layouts(
    # the savers' scripts (lua/checkpoint/)
    Layout("delete_checkpoints", THREAD, tail="pairs"),
    Layout("delete_thread", THREAD),
    Layout("delta_history", (*THREAD, "ns", "cursor", "cid", "page"), tail="channels"),
    Layout("export_thread", THREAD),
    Layout("get_checkpoint", (*THREAD, "ns", "cid"), tail="filters"),
    Layout("import_thread", (*THREAD, "source_by", "np"), tail="pairs"),
    Layout(
        "list_buckets",
        ("prefix", "write_prefix", "upper", "page", "budget", "shallow", "nb", "buckets", "ny"),
        tail="by",
    ),
    Layout("list_checkpoints", (*THREAD, "ns", "every_ns", "before", "page"), tail="filters"),
    Layout("prune_thread", (*THREAD, "keep_last")),
    Layout(
        "put_checkpoint",
        (*THREAD, "cid", "ns", "envelope", "parent", "blob_fields", "run", "replays", "nblobs"),
        tail="blobs",
    ),
    Layout("put_writes", (*THREAD, "cid", "ns", "task_field", "task"), tail="writes"),
    Layout("run_members", ("prefix", "nr"), tail="runs"),
    Layout("sweep_buckets", ("prefix", "write_prefix", "budget"), tail="buckets"),
    Layout("thread_expiry", (*THREAD, "mode")),
    # RedisStore's scripts (lua/store/)
    Layout("store_get", ("refresh", "ns", "key", "query")),
    Layout(
        "store_knn",
        (
            "prefix",
            "index",
            "ft_query",
            "vector32",
            "vector64",
            "k",
            "offset",
            "limit",
            "refresh",
            "gap",
            "ns_prefix",
        ),
    ),
    Layout("store_namespaces", ("prefix", "buckets", "ns_prefix", "prefix_bucket")),
    Layout("store_put", ("ns", "key", "value", "ttl", "vectors", "type", "dims", "stamp")),
    Layout(
        "store_search",
        (
            "prefix",
            "buckets",
            "ns_prefix",
            "prefix_bucket",
            "mode",
            "offset",
            "limit",
            "refresh",
            "stop",
            "whole",
            "ncached",
        ),
        tail="cached",
    ),
    Layout("store_sweep", ("prefix", "buckets")),
    Layout("store_vindex", ("prefix", "start", "count")),
)

# The slots Python reads back from, or rewrites in, an argument list it built
# (langgraph.store.redis.ops: a spanning call sent to one master, a search sent again).
# store_namespaces and store_search share their first four slots, so one set of indexes
# serves both (checked below).
BUCKETS = LAYOUTS["store_search"].at("buckets")
NS_PREFIX = LAYOUTS["store_search"].at("ns_prefix")
PREFIX_BUCKET = LAYOUTS["store_search"].at("prefix_bucket")
SEARCH_MODE = LAYOUTS["store_search"].at("mode")
SEARCH_REFRESH = LAYOUTS["store_search"].at("refresh")
SEARCH_STOP = LAYOUTS["store_search"].at("stop")


def _same_slots(scripts: Iterable[str], names: Iterable[str]) -> None:
    layouts = [LAYOUTS[s] for s in scripts]
    for n in names:
        if len({x.at(n) for x in layouts}) != 1:
            raise AssertionError(f"ARGV slot {n!r} differs between {[x.script for x in layouts]}")


_same_slots(
    ("store_namespaces", "store_search"), ("prefix", "buckets", "ns_prefix", "prefix_bucket")
)
