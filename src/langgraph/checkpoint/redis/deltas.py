"""The writer's memory of the list values it stored last, which lets a step store only its tail.

A `messages` channel grows by a message or two per step, and every step would otherwise store
the whole list again: the bytes per step, the server memory and the serialization time all
grow with the history. LangGraph's reducers (`operator.add`, `add_messages`) build each new list
from the previous list's item objects, so when the first p items of a new value are *the same
objects* (`is`) as the first p items of the version this saver stored last, those p items are
already on the server: only `value[p:]` is serialized, as a delta on that version (codec.py).

Identity, not equality, decides: `1 == True` and equal-looking models may serialize differently,
and identity is what a reducer that reuses items gives for free. An item mutated in place after
it was stored is the one change identity cannot see (as with any cache of immutable values);
LangGraph treats state as immutable, and the README says so.

Chains stay short and never outweigh a snapshot: a full value is stored again after `MAX_CHAIN`
deltas, or once the deltas since the last one would weigh more than it (so the bytes stored stay
within about twice the list's own size, and a snapshot costs O(1) per item amortized). A base is
always an older version than its delta (cycles are impossible), and the put script refuses a
delta whose base the server no longer has; the caller then stores the full value.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from operator import is_
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol

from . import codec

MAX_CHAIN = 64
"""Deltas between two snapshots of a channel: the most parts a read gathers for one value."""

THREADS = 1024
"""Threads remembered (least recently written dropped first); a forgotten thread's next put of
each list channel is simply a full value."""


@dataclass(slots=True)
class Stored:
    """What one list channel's latest stored version holds, as this process wrote it."""

    field: str
    version: Any
    items: tuple[Any, ...]
    depth: int
    """Deltas since the snapshot (0: this version is a full value)."""
    delta_bytes: int
    snap_bytes: int


class DeltaWriter:
    """Per saver: encodes each new channel value as a full value or a delta on the last one."""

    def __init__(self, max_chain: int = MAX_CHAIN, threads: int = THREADS) -> None:
        self.max_chain = max_chain
        self.threads = threads
        self._last: OrderedDict[str, dict[tuple[str, str], Stored]] = OrderedDict()
        self._lock = threading.Lock()

    def encode(
        self,
        serde: SerializerProtocol,
        thread_id: str,
        ns: str,
        channel: str,
        version: Any,
        field: str,
        value: Any,
    ) -> tuple[bytes, Stored | None]:
        """The stored bytes of one new channel value, and what to `remember` once stored."""
        if type(value) is not list:
            return codec.pack_value(serde, value), None
        with self._lock:
            known = self._last.get(thread_id)
            prev = known.get((ns, channel)) if known else None
        if prev is not None and prev.depth < self.max_chain and _newer(version, prev.version):
            p = _shared_prefix(value, prev.items)
            if p and 2 * p >= len(value):
                data = codec.pack_delta(serde, prev.field, p, value[p:])
                if prev.delta_bytes + len(data) <= prev.snap_bytes:
                    items = tuple(value)
                    return data, Stored(
                        field,
                        version,
                        items,
                        prev.depth + 1,
                        prev.delta_bytes + len(data),
                        prev.snap_bytes,
                    )
        return self.full(serde, field, version, value)

    @staticmethod
    def full(
        serde: SerializerProtocol, field: str, version: Any, value: list[Any]
    ) -> tuple[bytes, Stored]:
        data = codec.pack_value(serde, value)
        return data, Stored(field, version, tuple(value), 0, 0, len(data))

    def remember(self, thread_id: str, ns: str, stored: dict[str, Stored | None]) -> None:
        """Called after the server accepted the put; None forgets a channel that stopped being
        a list."""
        with self._lock:
            known = self._last.get(thread_id)
            if known is None:
                known = self._last[thread_id] = {}
                while len(self._last) > self.threads:
                    self._last.popitem(last=False)
            else:
                self._last.move_to_end(thread_id)
            for channel, s in stored.items():
                if s is None:
                    known.pop((ns, channel), None)
                else:
                    known[(ns, channel)] = s

    def forget(self, thread_id: str) -> None:
        """The thread was deleted or pruned here: its next puts store full values at once
        instead of learning it from the server."""
        with self._lock:
            self._last.pop(thread_id, None)


def _newer(version: Any, than: Any) -> bool:
    try:
        return bool(version > than)
    except TypeError:
        return False


def _shared_prefix(value: list[Any], items: tuple[Any, ...]) -> int:
    """How many leading items of `value` are the stored items themselves (`is`)."""
    n = len(items)
    if len(value) >= n and all(map(is_, value, items)):
        return n
    p = 0
    for a, b in zip(value, items, strict=False):
        if a is not b:
            break
        p += 1
    return p
