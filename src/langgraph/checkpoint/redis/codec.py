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
    r        encoded run id (absent without one)
    f:<key>  plaintext scalar of a top-level metadata key, for list filters in Lua
    w:<K>    task info [task_id, task_path] of a task that has writes on this checkpoint
Writes hash `checkpoint_write:{T}:N:C:K` fields: idx -> [channel, type, bytes].
Blob hash `checkpoint_blob:{T}:N` fields: "<channel>:<version>" -> [type, bytes].
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import ormsgpack
from langgraph.checkpoint.serde.base import SerializerProtocol

from .keys import enc

FORMAT = 1
"""Storage format version, stored in every envelope and by setup() in the meta hash."""

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
    return _pack(serde.dumps_typed(value))


def unpack_value(serde: SerializerProtocol, data: bytes) -> Any:
    vtype, vbytes = _unpack(data)
    return serde.loads_typed((vtype, vbytes))


def pack_write(serde: SerializerProtocol, channel: str, value: Any) -> bytes:
    vtype, vbytes = serde.dumps_typed(value)
    return _pack([channel, vtype, vbytes])


def unpack_write(serde: SerializerProtocol, data: bytes) -> tuple[str, Any]:
    channel, vtype, vbytes = _unpack(data)
    return channel, serde.loads_typed((vtype, vbytes))


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
