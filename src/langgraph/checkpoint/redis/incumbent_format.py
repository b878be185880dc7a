"""Reading the data of langgraph-checkpoint-redis 0.5.x without its code.

langgraph-checkpoint-redis keeps everything in RedisJSON documents (the layout was learned from its
0.5.2 release; nothing here imports it):

    <prefix>:<T>:<N>:<C>                   one checkpoint (full savers)
    <prefix>:<T>:<N>                       the one checkpoint of a namespace (shallow savers)
    <write_prefix>:<T>:<N>:<C>:<K>:<idx>   one pending write
    <prefix>_latest:<T>:<N>                string: the key of the namespace's latest checkpoint
    write_keys_zset:<T>:<N>:<C>            sorted set of a checkpoint's write keys
    store:<ULID>                           one store item (`store_vectors:<ULID>`: its vectors)

`T` and `C` are stored with "" replaced by a zero uuid, `N` with "" replaced by `__empty__`;
ids are not escaped, so a `:` inside a thread id makes key names ambiguous. That is why this
module reads the ids from the documents' own fields and never parses a key name.

Values. A checkpoint document holds the checkpoint inline as JSON: `channel_values` went through
langgraph-checkpoint-redis's JSON serializer, so LangChain objects are `{"lc": 1|2, "type":
"constructor", ...}` envelopes, and a few markers stand for other types (`__interrupt__`,
`__send__`, `__delta_snapshot__`, `__bytes__` for base64 bytes, a `builtins.set` envelope). Pending
writes are `(type, base64 bytes)` pairs of the same serializer ("json" bytes revived the same way,
"msgpack" from langgraph's JsonPlusSerializer). Store values are plain JSON, or a
`{"__serde_type__", "__serde_data__"}` wrapper (text for "json", hex for the others). `revive` turns
all of these into the Python objects langgraph-checkpoint-redis's readers return, with langgraph's
own `JsonPlusSerializer` (its serializer's base class) for the LangChain envelopes, so the same
allowlist applies.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import importlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

EMPTY_NS = "__empty__"
EMPTY_ID = "00000000-0000-0000-0000-000000000000"
WRITE_KEYS_ZSET = "write_keys_zset"
WRITE_REGISTRY = "write_registry"
STORE_VECTORS = "store_vectors"


def from_safe_id(value: str) -> str:
    """Undo langgraph-checkpoint-redis's empty-id sentinel (thread and checkpoint ids)."""
    return "" if value == EMPTY_ID else value


def from_safe_ns(value: str) -> str:
    """Undo langgraph-checkpoint-redis's empty-namespace sentinel."""
    return "" if value == EMPTY_NS else value


def to_safe_id(value: str) -> str:
    return value or EMPTY_ID


def to_safe_ns(value: str) -> str:
    return value or EMPTY_NS


def b64(blob: Any) -> bytes:
    """A stored blob's bytes: base64 as written; malformed text is taken as it is
    (langgraph-checkpoint-redis's reader does the same, so data it can read, we read the same
    way)."""
    raw = blob.encode() if isinstance(blob, str) else bytes(blob)
    try:
        return base64.b64decode(raw)
    except (binascii.Error, ValueError):
        return raw


@functools.lru_cache(maxsize=1024)
def _class(ident: tuple[str, ...]) -> Any:
    """The class an envelope names, or None. Cached, failures too: LangChain's envelopes name
    modules such as `langchain.schema.messages` that are usually not installed, and a failed
    import searches the whole path again each time (it was 90% of a migration's time)."""
    try:
        return getattr(importlib.import_module(".".join(ident[:-1])), ident[-1])
    except (ImportError, AttributeError, ValueError):
        return None


class Reviver:
    """Turns langgraph-checkpoint-redis's JSON forms back into Python objects (module docstring)."""

    def __init__(self, serde: JsonPlusSerializer | None = None) -> None:
        self.serde = serde or JsonPlusSerializer()

    def revive(self, obj: Any) -> Any:
        """Children first, then the object itself (as `json.loads(object_hook=...)` would)."""
        if isinstance(obj, list):
            return [self.revive(x) for x in obj]
        if not isinstance(obj, dict):
            return obj
        if len(obj) == 1 and isinstance(obj.get("__bytes__"), str):
            return b64(obj["__bytes__"])
        d = {k: self.revive(v) for k, v in obj.items()}
        if d.get("lc") in (1, 2) and d.get("type") == "constructor":
            return self._constructor(d)
        if d.get("__interrupt__") is True and "value" in d:
            return self._interrupt(d)
        if d.get("__delta_snapshot__") is True and "value" in d and len(d) == 2:
            from langgraph.checkpoint.serde.types import _DeltaSnapshot

            return _DeltaSnapshot(d["value"])
        if d.get("__send__") is True and len(d) == 3 and "node" in d and "arg" in d:
            from langgraph.types import Send

            return Send(node=d["node"], arg=d["arg"])
        return d

    def _constructor(self, d: dict[str, Any]) -> Any:
        ident = d.get("id")
        if ident == ["builtins", "set"]:
            args = d.get("args")
            if isinstance(args, list) and len(args) == 1:
                return set(args[0])
            kwargs = d.get("kwargs")
            if isinstance(kwargs, dict) and "__set_items__" in kwargs:
                return set(kwargs["__set_items__"])
        if isinstance(ident, list) and len(ident) >= 2 and all(isinstance(p, str) for p in ident):
            cls = _class(tuple(ident))
            # Dataclasses (e.g. langmem's RunningSummary) were written with their fields as
            # kwargs; LangChain's reviver cannot build them, the constructor can.
            if isinstance(cls, type) and dataclasses.is_dataclass(cls):
                try:
                    return cls(*(d.get("args") or []), **(d.get("kwargs") or {}))
                except Exception:  # not its constructor after all: langgraph decides
                    pass
        return self.serde._reviver(d)

    @staticmethod
    def _interrupt(d: dict[str, Any]) -> Any:
        from langgraph.types import Interrupt

        names = {f.name for f in dataclasses.fields(Interrupt)}
        kwargs = {k: d[k] for k in ("id", "resumable", "ns", "when") if k in names and k in d}
        return Interrupt(value=d["value"], **kwargs)

    def loads_typed(self, type_: str, data: bytes) -> Any:
        """A `(type, bytes)` pair of langgraph-checkpoint-redis's serializer."""
        if type_ == "null":
            return None
        if type_ == "bytes":
            return data
        if type_ == "bytearray":
            return bytearray(data)
        if type_ == "json":
            return self.revive(orjson.loads(data))
        return self.serde.loads_typed((type_, data))


@dataclass
class SourceCheckpoint:
    """One langgraph-checkpoint-redis checkpoint document, decoded."""

    key: str
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_id: str | None
    checkpoint: dict[str, Any]
    metadata: dict[str, Any]
    shallow: bool
    # langgraph-checkpoint-redis's get_tuple reads pending writes only when this flag is set.
    # put_writes sets it only if the checkpoint document exists already, so writes that race their
    # checkpoint's put (LangGraph's default durability="async") are stored but never returned.
    has_writes: bool = True


@dataclass
class SourceWrite:
    """One langgraph-checkpoint-redis pending-write document, decoded."""

    key: str
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    task_id: str
    task_path: str
    idx: int
    channel: str
    value: Any


@dataclass
class SourceItem:
    """One langgraph-checkpoint-redis store document, decoded."""

    key: str
    namespace: tuple[str, ...]
    item_key: str
    value: Any
    created_at: int
    ttl_minutes: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# Checkpoint fields we carry over; langgraph-checkpoint-redis adds "type" (its serializer's tag) and
# an always-empty "pending_sends" that are not part of LangGraph's Checkpoint.
_CHECKPOINT_FIELDS = ("v", "id", "ts", "channel_versions", "versions_seen", "updated_channels")


def _revive_list(raw: list[Any], reviver: Reviver, memo: dict[Any, Any]) -> list[Any]:
    """A list channel (`messages`) grows by a few items a step and each version repeats the
    whole list: items are revived once per distinct JSON text (the memo's `bytes` keys)."""
    out = []
    for item in raw:
        if isinstance(item, (dict, list)):
            text = orjson.dumps(item)
            if text not in memo:
                memo[text] = reviver.revive(item)
            out.append(memo[text])
        else:
            out.append(item)
    return out


def decode_checkpoint(
    key: str,
    doc: dict[str, Any],
    reviver: Reviver,
    memo: dict[Any, Any] | None = None,
) -> SourceCheckpoint:
    """`memo`: values already decoded in this thread, by (namespace, channel, version). Every
    checkpoint document repeats every channel's value inline, and a channel keeps its value
    while its version stays, so each version is revived once, not once per checkpoint."""
    inner = doc.get("checkpoint") or {}
    if isinstance(inner, str):
        inner = json.loads(inner)
    checkpoint: dict[str, Any] = {k: inner[k] for k in _CHECKPOINT_FIELDS if k in inner}
    versions = checkpoint["channel_versions"] = dict(checkpoint.get("channel_versions") or {})
    ns = from_safe_ns(str(doc.get("checkpoint_ns", EMPTY_NS)))
    values: dict[str, Any] = {}
    for ch, raw in (inner.get("channel_values") or {}).items():
        ver = versions.get(ch)
        if memo is None or ver is None:
            values[ch] = reviver.revive(raw)
            continue
        k = (ns, ch, str(ver))
        if k not in memo:
            memo[k] = (
                _revive_list(raw, reviver, memo) if isinstance(raw, list) else (reviver.revive(raw))
            )
        values[ch] = memo[k]
    checkpoint["channel_values"] = values
    # Full savers store metadata as a JSON string, shallow ones as an object.
    # langgraph-checkpoint-redis returns it as parsed, without reviving anything, minus NUL
    # characters.
    raw_md = doc.get("metadata") or {}
    md = json.loads(raw_md) if isinstance(raw_md, str) else raw_md
    metadata = {
        k.replace("\u0000", ""): v.replace("\u0000", "") if isinstance(v, str) else v
        for k, v in md.items()
    }
    shallow = "parent_checkpoint_id" not in doc
    parent = from_safe_id(doc.get("parent_checkpoint_id") or "") or None
    cid = from_safe_id(str(doc.get("checkpoint_id") or inner.get("id") or ""))
    return SourceCheckpoint(
        key=key,
        thread_id=from_safe_id(str(doc.get("thread_id", ""))),
        checkpoint_ns=ns,
        checkpoint_id=cid,
        parent_id=parent,
        checkpoint=checkpoint,
        metadata=metadata,
        shallow=shallow,
        has_writes=bool(doc.get("has_writes", True)),
    )


def decode_write(key: str, doc: dict[str, Any], reviver: Reviver) -> SourceWrite:
    return SourceWrite(
        key=key,
        thread_id=from_safe_id(str(doc.get("thread_id", ""))),
        checkpoint_ns=from_safe_ns(str(doc.get("checkpoint_ns", EMPTY_NS))),
        checkpoint_id=from_safe_id(str(doc.get("checkpoint_id", ""))),
        task_id=str(doc.get("task_id", "")),
        task_path=str(doc.get("task_path") or ""),
        idx=int(doc.get("idx", 0)),
        channel=str(doc.get("channel", "")),
        value=reviver.loads_typed(str(doc.get("type", "")), b64(doc.get("blob", ""))),
    )


_UNESCAPE = re.compile(r"\\(.)", re.S)


def decode_namespace(text: str) -> tuple[str, ...]:
    """The store's `prefix` field: labels joined by "." with RediSearch's token escapes. Labels
    cannot contain "." (LangGraph refuses them), so the split is exact."""
    if text == "":
        return ()
    return tuple(_UNESCAPE.sub(r"\1", text).split("."))


def decode_store_value(value: Any, reviver: Reviver) -> Any:
    if isinstance(value, dict) and set(value) == {"__serde_type__", "__serde_data__"}:
        type_, data = value["__serde_type__"], value["__serde_data__"]
        raw = data.encode() if type_ == "json" else bytes.fromhex(data)
        return reviver.loads_typed(type_, raw)
    return value


def decode_item(key: str, doc: dict[str, Any], pttl_ms: int, reviver: Reviver) -> SourceItem:
    """`pttl_ms`: the key's remaining time to live (-1 without one). langgraph-checkpoint-redis
    expires items natively, so what is left of that is the item's TTL to carry over."""
    ttl = pttl_ms / 60_000 if pttl_ms and pttl_ms > 0 else None
    return SourceItem(
        key=key,
        namespace=decode_namespace(str(doc.get("prefix", ""))),
        item_key=str(doc.get("key", "")),
        value=decode_store_value(doc.get("value"), reviver),
        created_at=int(doc.get("created_at") or 0),
        ttl_minutes=ttl,
    )
