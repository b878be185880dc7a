"""What the stored bytes look like, and the only place that turns them back into objects.

Every value LangGraph hands us (channel values, the checkpoint skeleton, metadata, writes) goes
through `serde.dumps_typed` / `serde.loads_typed`; the type string is stored beside the bytes, so
an `EncryptedSerializer` or a custom serde round-trips, and the serde's msgpack allowlist decides
what may be rebuilt. The envelopes around those bytes are plain msgpack arrays of strings and
bytes (ormsgpack: measured 2x faster than msgpack both ways), which decode to no object at all.

Checkpoint hash `checkpoint:{T}:N:C` fields:
    d        envelope [FORMAT, checkpoint type, checkpoint bytes, metadata type, metadata bytes]
    p        encoded parent checkpoint id ("" for none)
    b        "\\n"-joined blob fields of every channel in channel_versions
    h        "\\n"-joined encoded channels this checkpoint rebuilds from its ancestors' writes
             (DeltaChannel: the keys of metadata["counters_since_delta_snapshot"]); absent if none
    f:<key>  plaintext scalar of a top-level metadata key, for list filters in Lua
    w:<K>    task info [task_id, task_path] of a task that has writes on this checkpoint
Writes hash `checkpoint_write:{T}:N:C:K` fields: idx -> [channel, type, bytes, task path] (writes
stored before the path was kept per write have three items; their path is their task's).
Blob hash `checkpoint_blob:{T}:N` fields: "<channel>:<version>" -> [type, bytes], or a log
reference; "@" -> the namespace's log counter; "@<id>" -> the channel of log <id>.

Logs: a list channel serialized as msgpack is stored as an append-only log of its items' bytes,
`checkpoint_blob:{T}:N:<id>`, and each version as a reference b"@<id>\n<length>\n<count>":
the array of <count> items whose bytes are the log's first <length> (lua/includes/logs.lua).
Full values begin with an msgpack array byte, never "@". The Lua readers return a reference
with the bytes it names; `unpack_blob` puts the array header back and decodes the value once,
so it is byte for byte what a whole value would have been.

A put sends such a value as b"^<id>\n<length>\n<count>\n<bytes>" (`pack_claim`): the bytes after
the first <length> bytes of log <id>, or with no id all of them; the server decides.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from typing import Any

import ormsgpack
from langgraph.checkpoint.serde.base import SerializerProtocol

from .keys import enc

FORMAT = 4
"""Storage format version, stored in every envelope and by setup() in the meta hash. 2: blob
values may be deltas, and checkpoints are in the metadata value indexes. 3: a checkpoint's
cross-thread index entries are listed in the thread's ledger (`checkpoint_xref:{T}`), not in
its own hash, so they can be removed after it expired; `h` lists DeltaChannel replays. 4: list
values are stored in append-only logs (no deltas, no snapshots)."""

_pack = ormsgpack.packb
_unpack = ormsgpack.unpackb


def pack_checkpoint(serde: SerializerProtocol, skeleton: Any, metadata: Any) -> bytes:
    ctype, cbytes = serde.dumps_typed(skeleton)
    mtype, mbytes = serde.dumps_typed(metadata)
    return _pack([FORMAT, ctype, cbytes, mtype, mbytes])


def unpack_checkpoint(serde: SerializerProtocol, data: bytes) -> tuple[Any, Any]:
    fmt, ctype, cbytes, mtype, mbytes = _unpack(data)
    if fmt != FORMAT:
        raise ValueError(f"checkpoint stored in format {fmt}; this version reads {FORMAT}")
    return serde.loads_typed((ctype, cbytes)), serde.loads_typed((mtype, mbytes))


def pack_value(serde: SerializerProtocol, value: Any) -> bytes:
    return pack_typed(*serde.dumps_typed(value))


def pack_typed(vtype: str, vbytes: bytes) -> bytes:
    return _pack([vtype, vbytes])


def unpack_value(serde: SerializerProtocol, data: bytes) -> Any:
    vtype, vbytes = _unpack(data)
    return serde.loads_typed((vtype, vbytes))


def pack_claim(log: bytes, length: int, count: int, data: bytes | memoryview) -> bytes:
    """A list value as put sends it: its items' bytes after the first `length` bytes of log
    `log` (b"" for none: then `data` is every item)."""
    return b"^%s\n%d\n%d\n%s" % (log, length, count, data)


def unpack_blob(serde: SerializerProtocol, data: bytes | list[Any]) -> Any:
    """A stored channel value: one full value, or [reference, the bytes it names] as the Lua
    readers return a list stored in a log."""
    if not isinstance(data, list):
        return unpack_value(serde, data)
    ref, body = data
    if body is None:
        raise ValueError(
            "a stored channel value lost the log it is kept in; the thread's keys were changed "
            "outside this saver"
        )
    return serde.loads_typed(("msgpack", array_header(log_ref(ref)[2]) + body))


def log_ref(ref: bytes) -> tuple[bytes, int, int]:
    """(log id, byte length, item count) of a stored reference b"@<id>\n<length>\n<count>"."""
    log, length, count = ref[1:].split(b"\n")
    return log, int(length), int(count)


def array_head(data: bytes) -> tuple[int, int] | None:
    """(item count, offset of the first item) of an msgpack array, or None."""
    if not data:
        return None
    b = data[0]
    if 0x90 <= b <= 0x9F:
        return b - 0x90, 1
    if b == 0xDC and len(data) >= 3:
        return struct.unpack_from(">H", data, 1)[0], 3
    if b == 0xDD and len(data) >= 5:
        return struct.unpack_from(">I", data, 1)[0], 5
    return None


def array_header(count: int) -> bytes:
    if count < 16:
        return bytes([0x90 + count])
    if count < 65536:
        return b"\xdc" + struct.pack(">H", count)
    return b"\xdd" + struct.pack(">I", count)


def pack_write(serde: SerializerProtocol, channel: str, value: Any, task_path: str) -> bytes:
    """[channel, type, bytes, task path]: the path of the call that stored this write is kept
    with it (a task's later put_writes with another path must not re-sort its earlier writes;
    InMemorySaver and PostgresSaver keep it per write too)."""
    vtype, vbytes = serde.dumps_typed(value)
    return _pack([channel, vtype, vbytes, task_path])


def unpack_write(data: bytes) -> tuple[str, tuple[str, bytes], str | None]:
    """A stored write's channel, its still-serialized value (the caller decides whether it is
    wanted before anything is deserialized) and its task path: None for writes stored before
    paths were kept per write, whose path is their task's (`w:<K>`)."""
    item = _unpack(data)
    return item[0], (item[1], item[2]), (item[3] if len(item) > 3 else None)


def pack_task(task_id: str, task_path: str) -> bytes:
    return _pack([task_id, task_path])


def unpack_task(data: bytes) -> tuple[str, str]:
    task_id, task_path = _unpack(data)
    return task_id, task_path


def blob_field(channel: str, version: Any) -> str:
    """The blob-hash field of one channel version; both parts encoded, so ":" separates."""
    return f"{enc(channel)}:{enc(str(version))}"


def scalar(value: Any) -> str | None:
    """The plaintext filter encoding of a metadata value, or None when it has none.

    Chosen so that string equality here is Python equality there: True, 1 and 1.0 are equal in
    Python, so all three encode as "i1"; NaN equals nothing, so it has no encoding.
    """
    if isinstance(value, str):
        return "s" + value
    if value is None:
        return "n"
    if isinstance(value, bool):
        return "i1" if value else "i0"
    if isinstance(value, int):
        return f"i{value}"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return f"i{int(value)}"
        return f"f{value!r}"
    return None


def filter_fields(metadata: Mapping[str, Any]) -> list[str]:
    """The f:<key> / value pairs stored with a checkpoint (flat list)."""
    out: list[str] = []
    for key, value in metadata.items():
        s = scalar(value)
        if s is not None and isinstance(key, str):
            out.append("f:" + key)
            out.append(s)
    return out


def filter_args(filter: Mapping[str, Any] | None) -> list[str]:
    """The filter pairs the Lua side can check; the rest is checked in Python afterwards."""
    out: list[str] = []
    for key, value in (filter or {}).items():
        s = scalar(value)
        if s is not None:
            out.append("f:" + key)
            out.append(s)
    return out


def matches(metadata: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    """The exact rule (InMemorySaver's): equality on top-level keys."""
    return not filter or all(metadata.get(k) == v for k, v in filter.items())
