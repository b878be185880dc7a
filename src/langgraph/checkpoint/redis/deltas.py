"""The writer's memory of the list values it stored last, which lets a step store only its tail.

A `messages` channel grows by a message or two per step, and every step would otherwise store
the whole list again: the bytes sent, the server memory and the write time all grow with the
history. When a new list value extends the version this saver stored last, only the new items
are stored, as a delta on that version (codec.py); readers gather the chain in Lua and splice it
in the client.

Two ways to know that a value extends the last one (`delta_mode=` on the savers):

- "exact" (default): the value is serialized whole, as by any saver, and stored as a delta only
  when its serialized items begin with exactly the bytes of the last version's items. A read
  then returns byte for byte what a full store would have: nothing is trusted, an item edited
  in place is seen. It saves the bytes sent and stored, not the serialization.
- "identity": when the first items of the new list are *the same objects* (`is`) as the last
  stored list's, only the new items are serialized: the step's cost no longer grows with the
  history. LangGraph's reducers (`operator.add`, `add_messages`) build each list from the
  previous list's objects; what identity cannot see is an item edited in place after it was
  stored, so this mode is for graphs that treat state as immutable, as LangGraph asks.
- "off": every value stored whole.

Chains stay short and never outweigh a snapshot: a full value is stored again after `MAX_CHAIN`
deltas, or once the deltas since the last one would weigh more than it. A base is always an
older version than its delta (no cycles), and the put script refuses a delta whose base the
server no longer has; the caller then stores the full value.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from operator import is_
from typing import Any, Literal

from langgraph.checkpoint.serde.base import SerializerProtocol

from . import codec

DeltaMode = Literal["exact", "identity", "off"]

MAX_CHAIN = 16
"""Deltas between two snapshots of a channel: the most parts a read gathers for one value."""

THREADS = 1024
"""Threads remembered (least recently written dropped first); a forgotten thread's next put of
each list channel is simply a full value."""

BUDGET = 64 * 2**20
"""Bytes of serialized items remembered in "exact" mode, over all threads."""


@dataclass(slots=True)
class Stored:
    """What one list channel's latest stored version holds, as this process wrote it."""

    field: str
    version: Any
    count: int
    """Items in the value."""
    items: tuple[Any, ...] | None
    """identity mode: the items themselves."""
    body: bytes | None
    """exact mode: the serialized items (the msgpack array without its header)."""
    depth: int
    """Deltas since the snapshot (0: this version is a full value)."""
    delta_bytes: int
    snap_bytes: int


class DeltaWriter:
    """Per saver: encodes each new channel value as a full value or a delta on the last one."""

    def __init__(
        self, mode: DeltaMode = "exact", max_chain: int = MAX_CHAIN, threads: int = THREADS
    ) -> None:
        if mode not in ("exact", "identity", "off"):
            raise ValueError(f"delta_mode must be 'exact', 'identity' or 'off', not {mode!r}")
        self.mode = mode
        self.max_chain = max_chain
        self.threads = threads
        self._last: OrderedDict[str, dict[tuple[str, str], Stored]] = OrderedDict()
        self._bytes = 0
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
        if type(value) is not list or self.mode == "off":
            return codec.pack_value(serde, value), None
        with self._lock:
            known = self._last.get(thread_id)
            prev = known.get((ns, channel)) if known else None
        if prev is not None and (prev.depth >= self.max_chain or not _newer(version, prev.version)):
            prev = None
        if self.mode == "identity":
            return self._by_identity(serde, prev, field, version, value)
        return self._by_bytes(serde, prev, field, version, value)

    def _by_identity(
        self,
        serde: SerializerProtocol,
        prev: Stored | None,
        field: str,
        version: Any,
        value: list[Any],
    ) -> tuple[bytes, Stored | None]:
        if prev is not None and prev.items is not None:
            p = _shared_prefix(value, prev.items)
            if p and 2 * p >= len(value):
                data = codec.pack_delta(serde, prev.field, p, value[p:])
                if data is not None and prev.delta_bytes + len(data) <= prev.snap_bytes:
                    return data, Stored(
                        field,
                        version,
                        len(value),
                        tuple(value),
                        None,
                        prev.depth + 1,
                        prev.delta_bytes + len(data),
                        prev.snap_bytes,
                    )
        data = codec.pack_value(serde, value)
        return data, Stored(field, version, len(value), tuple(value), None, 0, 0, len(data))

    def _by_bytes(
        self,
        serde: SerializerProtocol,
        prev: Stored | None,
        field: str,
        version: Any,
        value: list[Any],
    ) -> tuple[bytes, Stored | None]:
        vtype, vbytes = serde.dumps_typed(value)
        head = codec.array_head(vbytes) if vtype == "msgpack" else None
        if head is None:  # a serde whose bytes cannot be spliced (encrypted, pickle, ...)
            return codec.pack_typed(vtype, vbytes), None
        count, at = head
        if (
            prev is not None
            and prev.body is not None
            and count > prev.count
            and vbytes.startswith(prev.body, at)
        ):
            tail = vbytes[at + len(prev.body) :]
            data = (
                f"~{prev.field}\n{prev.count}\nmsgpack\n".encode()
                + codec.array_header(count - prev.count)
                + tail
            )
            if prev.delta_bytes + len(data) <= prev.snap_bytes:
                body = prev.body + tail
                return data, Stored(
                    field,
                    version,
                    count,
                    None,
                    body,
                    prev.depth + 1,
                    prev.delta_bytes + len(data),
                    prev.snap_bytes,
                )
        # the whole value only when it is stored: its envelope copies every byte
        full = codec.pack_typed(vtype, vbytes)
        return full, Stored(field, version, count, None, vbytes[at:], 0, 0, len(full))

    def full(
        self, serde: SerializerProtocol, field: str, version: Any, value: Any
    ) -> tuple[bytes, Stored | None]:
        """The value whole (a delta's base was gone), remembered as a fresh snapshot."""
        if type(value) is not list or self.mode == "off":
            return codec.pack_value(serde, value), None
        if self.mode == "identity":
            return self._by_identity(serde, None, field, version, value)
        return self._by_bytes(serde, None, field, version, value)

    def remember(self, thread_id: str, ns: str, stored: dict[str, Stored | None]) -> None:
        """Called after the server accepted the put; None forgets a channel that is no list
        (or cannot be delta-encoded)."""
        with self._lock:
            known = self._last.get(thread_id)
            if known is None:
                known = self._last[thread_id] = {}
            else:
                self._last.move_to_end(thread_id)
            for channel, s in stored.items():
                old = known.pop((ns, channel), None)
                if old is not None and old.body is not None:
                    self._bytes -= len(old.body)
                if s is not None:
                    known[(ns, channel)] = s
                    if s.body is not None:
                        self._bytes += len(s.body)
            while len(self._last) > self.threads or (self._bytes > BUDGET and len(self._last) > 1):
                self._drop(next(iter(self._last)))

    def forget(self, thread_id: str) -> None:
        """The thread was deleted here: its next puts store full values at once instead of
        learning it from the server."""
        with self._lock:
            self._drop(thread_id)

    def _drop(self, thread_id: str) -> None:
        for s in self._last.pop(thread_id, {}).values():
            if s.body is not None:
                self._bytes -= len(s.body)


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
