"""The key layout: every Redis key this package writes is named here and nowhere else.

Ids (thread, namespace, checkpoint, task, run) are percent-encoded before they become part of a
key, so that a `:` cannot shift a field boundary, a `{` or `}` cannot move the Redis Cluster hash
tag, glob characters cannot leak into a `SCAN MATCH`, and whitespace or control characters stay
printable. An empty thread id becomes `%` (a lone `%` is never produced by encoding anything
else), because an empty hash tag `{}` would make Redis hash the whole key name and scatter one
thread over many slots.

Per thread `T` (encoded) and namespace `N` (encoded, `""` for the root namespace), with the
default prefixes:

    checkpoint:{T}:N:C             HASH  one checkpoint C (fields: see codec.py)
    checkpoint_write:{T}:N:C:K     HASH  pending writes of task K on checkpoint C, field = idx
    checkpoint_blob:{T}:N          HASH  channel values, field = "<channel>:<version>"
    checkpoint_idx:{T}:N           ZSET  checkpoint ids of the namespace, score 0, lex order
    checkpoint_wo:{T}:N            SET   ids that have writes but no checkpoint (yet)
    checkpoint_ns:{T}              SET   the thread's namespaces (encoded); its expiry is the
                                         thread's deadline (lua/includes/ttl.lua)
    checkpoint_xref:{T}            HASH  ledger: field "N\\nC", value "<run>\\n<value index>..."
                                         (cross-thread mode; outlives an expired thread until
                                         the sweep has removed its index entries)
    checkpoint_pin:{T}             STRING "1" while the thread is pinned (no expiry)
    checkpoint_all                 ZSET  every checkpoint, member "C\\nT\\nN" (cross-thread list)
    checkpoint_run:R               SET   checkpoints of run R, member "T\\nN\\nC"
    checkpoint_by:<key>            ZSET  checkpoints by that metadata key's scalar value:
                                         "<value>\nC\nT\nN", score 0 (one key per metadata key)
    checkpoint_exp                 ZSET  expiring threads, member T, score = deadline (ms)
    checkpoint_meta                HASH  storage format version, written by setup()

    checkpoint_fence:{T}           never written: every per-thread script declares it (below)

Everything of one thread carries the hash tag `{T}` (or `{g}T` on a cluster, below), so each
per-thread script runs in one slot.
The scripts build a thread's keys from the prefixes and its tag (common.lua's `thread_of`)
exactly as `_thread` does here.

Groups (Redis Cluster). On one server the cross-thread indexes are the single keys above. On a
cluster the threads are split into 1,024 groups of slots, and everything of a group lives in the
group's first slot, named by a short hash tag `{g}` that lands there (`group_tag`: CRC16 of T,
down to a multiple of 16, and the shortest string of [0-9a-zA-Z] that hashes to that slot).
Thread T's keys are tagged `{g}T` instead of `{T}` (`checkpoint:{g}T:N:C`, ...), and its index
entries go to its group's bucket: `checkpoint_all:{g}`, `checkpoint_run:{g}:R`,
`checkpoint_by:{g}:<key>` and `checkpoint_exp:{g}`. Every key a per-thread script
touches is then in one slot, and a cross-thread read asks each master for the buckets of the
groups whose first slot it serves: ~341 on a 3-master cluster rather than one per slot
(5,461), which is what a page of list(None) costs a master. Index members carry the plain T;
a reader knows g from the bucket it found the member in. The bucket suffix is "" on one server
and ":{g}" on a cluster; `checkpoint_meta`'s `layout` says which (`one` or `groups`).

The fence. A per-thread script reads and writes keys it builds itself, not only those it
declares. While a slot migrates, some of them may already have moved: Redis would fail the
script half way, after its first writes. Each script therefore also declares the thread's fence
key, which never exists: during a migration Redis then answers TRYAGAIN or ASK (then TRYAGAIN
on the importing node) before the script starts, and the driver retries until the slot settles.
"""

from __future__ import annotations

import re
from binascii import crc_hqx
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

_UNSAFE = re.compile(r"[\x00-\x20%:{}*?\[\]\\\x7f]")


def _quote(match: re.Match[str]) -> str:
    return f"%{ord(match.group(0)):02X}"


@lru_cache(maxsize=65536)
def enc(value: str) -> str:
    """Encode one id for use inside a key; uuids and plain names come back unchanged."""
    if not _UNSAFE.search(value):
        return value
    return _UNSAFE.sub(_quote, value)


@lru_cache(maxsize=65536)
def tag(thread_id: str) -> str:
    """Encode a thread id for the hash tag: like `enc`, but never empty."""
    return enc(thread_id) or "%"


_ESCAPE = re.compile(r"%([0-9A-F]{2})")


@lru_cache(maxsize=65536)
def dec(value: str) -> str:
    """Invert `enc` (and `tag`)."""
    if "%" not in value:
        return value
    if value == "%":
        return ""
    # Only ASCII characters are ever escaped, so each %XX is one character.
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


def _check(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return value


BY_VALUE_MAX = 256
"""Longest encoded metadata value given a cross-thread index of its own."""


@dataclass(frozen=True)
class Thread:
    """The key bases of one thread: every per-thread key starts with one of these."""

    tag: str
    cp: str  # "checkpoint:{T}:"
    write: str  # "checkpoint_write:{T}:"
    blob: str  # "checkpoint_blob:{T}:"
    idx: str  # "checkpoint_idx:{T}:"
    wo: str  # "checkpoint_wo:{T}:"
    ns_set: str  # "checkpoint_ns:{T}"
    xref: str  # "checkpoint_xref:{T}"
    pin: str  # "checkpoint_pin:{T}"
    fence: str  # "checkpoint_fence:{T}"


@dataclass(frozen=True)
class KeySpace:
    """Key names for one pair of prefixes (langgraph-checkpoint-redis's `checkpoint_prefix` and
    `checkpoint_write_prefix`)."""

    prefix: str = "checkpoint"
    write_prefix: str = "checkpoint_write"

    @property
    def all_index(self) -> str:
        """The one-server names; `*_in(sfx)` are those of one bucket (module docstring)."""
        return f"{self.prefix}_all"

    @property
    def run_base(self) -> str:
        return f"{self.prefix}_run:"

    @property
    def exp_index(self) -> str:
        return f"{self.prefix}_exp"

    def all_in(self, sfx: str) -> str:
        return f"{self.prefix}_all{sfx}"

    def run_base_in(self, sfx: str) -> str:
        return f"{self.prefix}_run{sfx}:"

    def exp_in(self, sfx: str) -> str:
        return f"{self.prefix}_exp{sfx}"

    @property
    def meta(self) -> str:
        return f"{self.prefix}_meta"

    def by_key(self, key: str, scalar: str, sfx: str = "") -> str | None:
        """The cross-thread index entry of one metadata value (`codec.scalar` encoding):
        "<index key>\t<encoded value>", the index of the metadata key and the prefix its
        members carry; or None for a value not indexed: None ("n" also matches a missing key,
        which no index holds) and values longer than BY_VALUE_MAX (the filter still applies,
        by scan). Encoded values never hold a tab, so the last tab splits the entry."""
        if scalar == "n" or len(scalar) > BY_VALUE_MAX:
            return None
        return f"{self.prefix}_by{sfx}:{enc(key)}\t{enc(scalar)}"

    def run_key(self, run_id: str, sfx: str = "") -> str:
        return f"{self.prefix}_run{sfx}:{enc(run_id)}"

    def thread(self, thread_id: str, grouped: bool = False) -> Thread:
        """The keys of a thread: `{T}` on one server, `{g}T` in a cluster's layout."""
        return _thread(self.prefix, self.write_prefix, _check("thread_id", thread_id), grouped)

    def thread_from_tag(self, thread_tag: str, grouped: bool = False) -> Thread:
        return _thread(self.prefix, self.write_prefix, dec(thread_tag), grouped)


@lru_cache(maxsize=16384)
def _thread(prefix: str, write_prefix: str, thread_id: str, grouped: bool) -> Thread:
    t = tag(thread_id)
    k = f"{group_tag(t)}{t}" if grouped else f"{{{t}}}"
    return Thread(
        tag=t,
        cp=f"{prefix}:{k}:",
        write=f"{write_prefix}:{k}:",
        blob=f"{prefix}_blob:{k}:",
        idx=f"{prefix}_idx:{k}:",
        wo=f"{prefix}_wo:{k}:",
        ns_set=f"{prefix}_ns:{k}",
        xref=f"{prefix}_xref:{k}",
        pin=f"{prefix}_pin:{k}",
        fence=f"{prefix}_fence:{k}",
    )


SLOTS = 16384
_TAG_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def slot(tag_value: str) -> int:
    """The Redis Cluster slot of a hash tag's content (CRC16/XMODEM mod 16384)."""
    return crc_hqx(tag_value.encode(), 0) % SLOTS


@cache
def slot_tags() -> tuple[str, ...]:
    """For each slot, the shortest string of [0-9a-zA-Z] that hashes to it (first in length,
    then character order): 1 to 3 characters cover all 16,384 slots. Computed once, in
    about 0.1 s, the first time a cluster layout is used."""
    found: list[str | None] = [None] * SLOTS
    left = SLOTS
    frontier = [""]
    while left:
        nxt = []
        for head in frontier:
            for c in _TAG_CHARS:
                cand = head + c
                s = slot(cand)
                if found[s] is None:
                    found[s] = cand
                    left -= 1
                nxt.append(cand)
        frontier = nxt
    return tuple(t for t in found if t is not None)


GROUP = 16
"""A cluster's layout spreads threads (and RedisStore namespaces) over one slot in GROUP:
1,024 slots, each a group's first."""


@lru_cache(maxsize=65536)
def group_tag(value: str) -> str:
    """The hash tag, braces included, of a thread or a RedisStore namespace (`value`, encoded)
    in a cluster's layout: the tag of the first slot of its slot's group of GROUP. A
    cross-thread read (or a listing of namespaces) then asks each master for one bucket per
    group it serves (~341 on a 3-master cluster, not 5,461), while threads still spread over
    1,024 slots."""
    s = slot(value)
    return f"{{{slot_tags()[s - s % GROUP]}}}"


@lru_cache(maxsize=65536)
def bucket_of(thread_tag: str) -> str:
    """The bucket suffix of a thread in a cluster's layout (":{g}")."""
    return ":" + group_tag(thread_tag)


def group_suffixes_of(slots: Iterable[int]) -> list[str]:
    """The bucket suffixes of the groups whose first slot is among `slots` (a master's, for
    a fan-out): each group's data lives in its first slot."""
    tags = slot_tags()
    return [f":{{{tags[s]}}}" for s in slots if s % GROUP == 0]


@cache
def group_suffixes() -> frozenset[str]:
    """The bucket suffixes of all 1,024 groups."""
    return frozenset(group_suffixes_of(range(SLOTS)))
