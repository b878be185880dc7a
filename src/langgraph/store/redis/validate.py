"""The store's operations checked before any byte is sent (StoreOps.batch calls `ops` first).

LangGraph's BaseStore checks namespace labels, but lets through what then misbehaves: a str
namespace is read as one label per character ("abc" is ("a", "b", "c")), a list value is
stored though no read can filter it, a negative TTL or limit is taken, a filter that is not a
dict fails with an AttributeError. Each check raises a TypeError or ValueError that names the
argument and what was expected; no operation of the batch has been sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from langgraph.store.base import GetOp, ListNamespacesOp, Op, PutOp, SearchOp


def _kind(x: Any) -> str:
    return type(x).__name__


def _namespace(ns: Any, what: str, *, empty_ok: bool) -> None:
    if isinstance(ns, str | bytes) or not isinstance(ns, tuple | list):
        raise TypeError(f"{what} must be a tuple of str labels, e.g. ('users', 'u1'), got {ns!r}")
    if not ns and not empty_ok:
        raise ValueError(f"{what} must hold at least one label")
    for label in ns:
        if not isinstance(label, str):
            raise TypeError(f"{what}'s labels must be str, got {_kind(label)} in {ns!r}")


def _key(key: Any, what: str) -> None:
    # InMemoryStore takes any key and reads it back as str(key): ints are kept for it
    if not isinstance(key, str | int) or isinstance(key, bool):
        raise TypeError(f"{what} must be a str, got {_kind(key)}")


def _count(n: Any, what: str, *, none_ok: bool = False) -> None:
    if n is None and none_ok:
        return
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{what} must be an int >= 0, got {_kind(n)}")
    if n < 0:
        raise ValueError(f"{what} must be an int >= 0, got {n!r}")


def _ttl(ttl: Any) -> None:
    if ttl is None:
        return
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise TypeError(f"ttl must be a number of minutes or None, got {_kind(ttl)}")
    if not ttl > 0 or not math.isfinite(ttl):
        raise ValueError(f"ttl must be a positive number of minutes or None, got {ttl!r}")


def ops(batch: Iterable[Op]) -> None:
    """Checks every operation of a batch; raises on the first bad argument."""
    for op in batch:
        if isinstance(op, PutOp):
            _namespace(op.namespace, "namespace", empty_ok=False)
            _key(op.key, "key")
            if op.value is not None and not isinstance(op.value, Mapping):
                raise TypeError(f"value must be a dict (or None to delete), got {_kind(op.value)}")
            _ttl(op.ttl)
            index = op.index
            if index is not None and index is not False:
                if isinstance(index, str) or not isinstance(index, list | tuple):
                    raise TypeError(f"index must be False, None or a list of paths, got {index!r}")
        elif isinstance(op, GetOp):
            _namespace(op.namespace, "namespace", empty_ok=False)
            _key(op.key, "key")
        elif isinstance(op, SearchOp):
            _namespace(op.namespace_prefix, "namespace_prefix", empty_ok=True)
            if op.filter is not None and not isinstance(op.filter, Mapping):
                raise TypeError(f"filter must be a dict of field -> value, got {_kind(op.filter)}")
            _count(op.limit, "limit")
            _count(op.offset, "offset")
            if op.query is not None and not isinstance(op.query, str):
                raise TypeError(f"query must be a str, got {_kind(op.query)}")
        elif isinstance(op, ListNamespacesOp):
            _count(op.limit, "limit")
            _count(op.offset, "offset")
            _count(op.max_depth, "max_depth", none_ok=True)
