"""What a saver remembers of the list values it wrote or read, so that a step sends only its tail.

A `messages` channel grows by a message or two per step. The server keeps each such list once,
as an append-only log of its items' bytes (lua/includes/logs.lua); every version is a reference
into it. A put sends a list as a claim (codec.pack_claim): "my items begin with the first L
bytes of log X, and here is the rest". The server checks the claim (the log exists and is that
long) and decides: it grows the log, or, when the log went on differently, starts a new one.
What this module remembers only makes the claim short; it never decides what is stored. A saver
that remembers nothing (restarted, or another process wrote the thread) sends the whole list
with no claim, and the server compares it with the parent checkpoint's version itself; a saver
that read the thread (get_tuple, as a graph does before its first step) remembers what it read.

How a saver knows that its new list extends what it remembers (`delta_mode=` on the savers):

- "exact" (default): the value is serialized whole, as by any saver, and claims the remembered
  log only when its serialized items begin with exactly the remembered bytes. A read returns
  byte for byte what a full store would have: an item edited in place is seen.
- "identity": when the first items of the new list are *the same objects* (`is`) as the
  remembered list's, only the new items are serialized: the step's cost barely grows with the
  history (a copy of the list's pointers and one memcmp of them, `_tuple_pointers`).
  LangGraph's reducers (`operator.add`, `add_messages`) build each list from the previous
  list's objects; what identity cannot see is an item edited in place after it was
  stored, so this mode is for graphs that treat state as immutable, as LangGraph asks.
- "off": every value stored whole (no logs).

Values that are not lists, lists a serde does not write as a plain msgpack array (an
encrypting serde, pickle), and short lists that claim no log (SMALL) are stored whole.
"""

from __future__ import annotations

import ctypes
import struct
import sys
import sysconfig
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from operator import is_
from typing import Any, Literal

from langgraph.checkpoint.serde.base import SerializerProtocol

from . import codec

DeltaMode = Literal["exact", "identity", "off"]

THREADS = 1024
"""Threads remembered (least recently used dropped first); a forgotten thread's next put of a
list sends it whole, and the server still stores only what is new."""

BUDGET = 64 * 2**20
"""Bytes of serialized items remembered in "exact" mode, over all threads."""

SMALL = 256
"""A list this short (its items' bytes) that claims no log is stored whole: a log of its own
would cost a key and a registry field more than the value itself (a small list replaced at
every step). A list that grows past it starts its log then."""


@dataclass(slots=True)
class Known:
    """One list channel's version as this process last wrote or read it."""

    log: bytes
    """The log it is kept in."""
    length: int
    """Bytes of the log it covers."""
    count: int
    """Items in the value."""
    items: tuple[Any, ...] | None
    """identity mode: the items themselves (held, so that no other object takes their addresses
    while `ids` names them)."""
    ids: bytes | None
    """identity mode: the items' addresses (`_Pointers`), or None where they cannot be read."""
    body: bytes | memoryview | None
    """exact mode: the serialized items (the msgpack array without its header)."""

    def size(self) -> int:
        """Bytes counted against BUDGET: the serialized items, or a pointer per held item."""
        if self.body is not None:
            return len(self.body)
        return len(self.items) * _PTR if self.items is not None else 0


@dataclass(slots=True)
class Sent:
    """What a put sent for one list channel, remembered once the server names its log."""

    count: int
    items: tuple[Any, ...] | None
    ids: bytes | None
    body: bytes | memoryview | None


class DeltaWriter:
    """Per saver: encodes each new channel value as a whole value or as a claim on a log."""

    def __init__(self, mode: DeltaMode = "exact", threads: int = THREADS) -> None:
        if mode not in ("exact", "identity", "off"):
            raise ValueError(f"delta_mode must be 'exact', 'identity' or 'off', not {mode!r}")
        self.mode = mode
        self.threads = threads
        self._known: OrderedDict[str, dict[tuple[str, str], Known]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def encode(
        self, serde: SerializerProtocol, thread_id: str, ns: str, channel: str, value: Any
    ) -> tuple[bytes, Sent | None]:
        """The bytes put sends for one new channel value, and what to `remember` once the server
        answered (None: a whole value, nothing to remember)."""
        if type(value) is not list or not value or self.mode == "off":
            return codec.pack_value(serde, value), None
        with self._lock:
            known = self._known.get(thread_id)
            prev = known.get((ns, channel)) if known else None
        if self.mode == "identity":
            return self._by_identity(serde, prev, value)
        return self._by_bytes(serde, prev, value)

    def whole(self, serde: SerializerProtocol, value: Any) -> tuple[bytes, Sent | None]:
        """The value with no claim (the claimed log was gone): the server still compares it
        with the parent's version."""
        if type(value) is not list or not value or self.mode == "off":
            return codec.pack_value(serde, value), None
        if self.mode == "identity":
            return self._by_identity(serde, None, value)
        return self._by_bytes(serde, None, value)

    def _by_identity(
        self, serde: SerializerProtocol, prev: Known | None, value: list[Any]
    ) -> tuple[bytes, Sent | None]:
        items = tuple(value)  # one C-level copy: the list may change after put returns
        ids = _pointers(items) if _pointers is not None else None
        sent = Sent(len(items), items, ids, None)
        n = len(prev.items) if prev is not None and prev.items is not None else 0
        if prev is not None and 0 < n <= len(items) and _same_prefix(items, ids, prev, n):
            tail = _items(serde, list(items[n:])) if len(items) > n else b""
            if tail is not None:
                return codec.pack_claim(prev.log, prev.length, len(items), tail), sent
        body = _items(serde, value)
        if body is None or len(body) <= SMALL:
            return codec.pack_value(serde, value), None
        return codec.pack_claim(b"", 0, len(items), body), sent

    def _by_bytes(
        self, serde: SerializerProtocol, prev: Known | None, value: list[Any]
    ) -> tuple[bytes, Sent | None]:
        vtype, vbytes = serde.dumps_typed(value)
        head = codec.array_head(vbytes) if vtype == "msgpack" else None
        if head is None:  # a serde whose bytes cannot be spliced (encrypted, pickle, ...)
            return codec.pack_typed(vtype, vbytes), None
        count, at = head
        body = memoryview(vbytes)[at:]
        sent = Sent(count, None, None, body)
        if (
            prev is not None
            and prev.body is not None
            and count >= prev.count
            and vbytes.startswith(prev.body, at)
        ):
            tail = body[len(prev.body) :]
            return codec.pack_claim(prev.log, prev.length, count, tail), sent
        if len(body) <= SMALL:
            return codec.pack_typed(vtype, vbytes), None
        return codec.pack_claim(b"", 0, count, body), sent

    def remember(self, thread_id: str, ns: str, channel: str, sent: Sent, ref: bytes) -> None:
        """The server stored `sent` as reference `ref` (codec.log_ref)."""
        log, length, count = codec.log_ref(ref)
        known = Known(log, length, count, sent.items, sent.ids, sent.body)
        self._put(thread_id, ns, channel, known)

    def learn(
        self, thread_id: str, ns: str, channel: str, ref: bytes, body: bytes, value: Any
    ) -> None:
        """A read returned this version (reference and bytes): a put of its successor can claim
        it, in a process that never wrote the thread."""
        if self.mode == "off" or type(value) is not list:
            return
        log, length, count = codec.log_ref(ref)
        if self.mode == "identity":
            items = tuple(value)
            ids = _pointers(items) if _pointers is not None else None
            self._put(thread_id, ns, channel, Known(log, length, count, items, ids, None))
        else:
            self._put(thread_id, ns, channel, Known(log, length, count, None, None, body))

    def drop(self, thread_id: str, ns: str, channel: str) -> None:
        """The channel's new value is no log (not a list, or a whole value)."""
        with self._lock:
            known = self._known.get(thread_id)
            old = known.pop((ns, channel), None) if known else None
            if old is not None:
                self._bytes -= old.size()

    def forget(self, thread_id: str) -> None:
        """The thread was deleted or replaced here."""
        with self._lock:
            self._drop(thread_id)

    def _put(self, thread_id: str, ns: str, channel: str, k: Known) -> None:
        with self._lock:
            known = self._known.get(thread_id)
            if known is None:
                known = self._known[thread_id] = {}
            else:
                self._known.move_to_end(thread_id)
            old = known.get((ns, channel))
            if old is not None:
                self._bytes -= old.size()
            known[(ns, channel)] = k
            self._bytes += k.size()
            while len(self._known) > self.threads or (
                self._bytes > BUDGET and len(self._known) > 1
            ):
                self._drop(next(iter(self._known)))

    def _drop(self, thread_id: str) -> None:
        for k in self._known.pop(thread_id, {}).values():
            self._bytes -= k.size()


def _items(serde: SerializerProtocol, items: list[Any]) -> bytes | None:
    """The items' bytes as they stand inside a serialized list (no array header), or None when
    the serde does not write a plain msgpack array."""
    vtype, vbytes = serde.dumps_typed(items)
    head = codec.array_head(vbytes) if vtype == "msgpack" else None
    return None if head is None else vbytes[head[1] :]


def _same_prefix(items: tuple[Any, ...], ids: bytes | None, prev: Known, n: int) -> bool:
    """Whether the first n items are the remembered items themselves (`is`)."""
    if ids is not None and prev.ids is not None:
        return ids.startswith(prev.ids)
    assert prev.items is not None
    return all(map(is_, items[:n], prev.items))


_PTR = struct.calcsize("P")


def _tuple_pointers() -> Callable[[tuple[Any, ...]], bytes] | None:
    """A reader of a tuple's item addresses as bytes (one memcpy), or None.

    Comparing two lists' prefixes item by item with `is` costs ~36 ns per item in Python
    (0.36 ms at 10,000 messages, most of a step); comparing their addresses is one memcmp. A
    tuple stores its item pointers inline after its header (`tuple.__basicsize__` bytes), and
    the tuples read are this module's own copies, held in `Known.items` while their addresses
    are remembered, so an address cannot be reused by another object meanwhile. Only on a
    CPython whose layout passes the check below (not the free-threaded build); elsewhere the
    items are compared with `is`.
    """
    if sys.implementation.name != "cpython" or sysconfig.get_config_var("Py_GIL_DISABLED"):
        return None
    offset = tuple.__basicsize__
    try:
        probe = (object(), object(), object())
        if ctypes.string_at(id(probe) + offset, 3 * _PTR) != struct.pack("3P", *map(id, probe)):
            return None
    except Exception:  # any surprise: fall back to `is`
        return None

    def read(items: tuple[Any, ...]) -> bytes:
        return ctypes.string_at(id(items) + offset, len(items) * _PTR) if items else b""

    return read


_pointers = _tuple_pointers()
