"""The savers' arguments checked at the door, before any byte is sent.

A wrong argument would otherwise fail deep inside LangGraph's helpers (`'str' object has no
attribute 'items'`) or, worse, be stored and fail later for whoever resumes the graph (a
checkpoint without `versions_seen` is a KeyError on the next step). Each check raises a
TypeError or ValueError that names the argument and what was expected; nothing has been
written, and no other call is affected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

CHECKPOINT_KEYS: dict[str, tuple[type, ...]] = {
    "v": (int,),
    "id": (str,),
    "channel_values": (Mapping,),
    "channel_versions": (Mapping,),
    "versions_seen": (Mapping,),
}
"""What every stored checkpoint must have for LangGraph to resume from it, and its type."""


def _kind(x: Any) -> str:
    return type(x).__name__


def config(value: Any, what: str) -> None:
    """`config` is a RunnableConfig: a dict whose "configurable" is a dict."""
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{what}: config must be a dict like {{'configurable': {{'thread_id': ...}}}}, "
            f"got {_kind(value)}"
        )
    conf = value.get("configurable")
    if conf is not None and not isinstance(conf, Mapping):
        raise TypeError(f"{what}: config['configurable'] must be a dict, got {_kind(conf)}")
    if conf:
        for key in ("checkpoint_ns", "checkpoint_id"):
            got = conf.get(key)
            if got is not None and not isinstance(got, str):
                raise TypeError(
                    f"{what}: config['configurable'][{key!r}] must be a str, got {_kind(got)}"
                )


def put_args(checkpoint: Any, metadata: Any, new_versions: Any) -> None:
    """put's checkpoint (LangGraph's Checkpoint dict), metadata (a dict) and new_versions (a
    dict of channel -> version, each channel one of the checkpoint's)."""
    if not isinstance(checkpoint, Mapping):
        raise TypeError(f"put: checkpoint must be a dict (a Checkpoint), got {_kind(checkpoint)}")
    for key, types in CHECKPOINT_KEYS.items():
        if key not in checkpoint:
            raise ValueError(
                f"put: checkpoint has no {key!r}: a Checkpoint needs "
                f"{', '.join(repr(k) for k in CHECKPOINT_KEYS)} (langgraph's empty_checkpoint() "
                "makes one)"
            )
        got = checkpoint[key]
        if not isinstance(got, types) or isinstance(got, bool):
            want = " or ".join("dict" if t is Mapping else t.__name__ for t in types)
            raise TypeError(f"put: checkpoint[{key!r}] must be a {want}, got {_kind(got)}")
    if not checkpoint["id"]:
        raise ValueError("put: checkpoint['id'] must be a non-empty str")
    if not isinstance(metadata, Mapping):
        raise TypeError(f"put: metadata must be a dict (CheckpointMetadata), got {_kind(metadata)}")
    if not isinstance(new_versions, Mapping):
        raise TypeError(
            f"put: new_versions must be a dict of channel -> version, got {_kind(new_versions)}"
        )
    for ch, ver in new_versions.items():
        if not isinstance(ch, str):
            raise TypeError(f"put: new_versions' channel names must be str, got {_kind(ch)}")
        if not isinstance(ver, str | int | float) or isinstance(ver, bool):
            raise TypeError(
                f"put: new_versions[{ch!r}] must be a version (str, int or float), got {_kind(ver)}"
            )


def writes_args(writes: Any, task_id: Any, task_path: Any) -> None:
    """put_writes' writes (a sequence of (channel, value) pairs), task id and task path."""
    if not isinstance(task_id, str):
        raise TypeError(f"put_writes: task_id must be a str, got {_kind(task_id)}")
    if not isinstance(task_path, str):
        raise TypeError(f"put_writes: task_path must be a str, got {_kind(task_path)}")
    if isinstance(writes, str | bytes | Mapping) or not isinstance(writes, Sequence):
        raise TypeError(
            f"put_writes: writes must be a list of (channel, value) pairs, got {_kind(writes)}"
        )
    for i, w in enumerate(writes):
        if not isinstance(w, Sequence) or isinstance(w, str | bytes) or len(w) != 2:
            raise TypeError(f"put_writes: writes[{i}] must be a (channel, value) pair, got {w!r}")
        if not isinstance(w[0], str):
            raise TypeError(f"put_writes: writes[{i}]'s channel must be a str, got {_kind(w[0])}")
