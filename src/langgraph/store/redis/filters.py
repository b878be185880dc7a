"""Search filters: InMemoryStore's comparison (the client's final word on every item), and
the part of a filter store_search-0.lua can judge itself (its triples)."""

from __future__ import annotations

import math
from typing import Any

from langgraph.store.memory import _compare_values


def matches(value: dict[str, Any], filter: dict[str, Any]) -> bool:
    """InMemoryStore's comparison, except that a value a range operator cannot compare
    (`{"$gt": 5}` against None or "abc") does not match, where InMemoryStore raises."""
    try:
        return all(_compare_values(value.get(k), v) for k, v in filter.items())
    except (TypeError, ValueError):
        return False


_OPS = {"$eq": "eq", "$ne": "ne", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}
_RANGE = {"gt", "gte", "lt", "lte"}
_EXACT = 2**53


def _operand(x: Any) -> str | None:
    """A filter operand the Lua prefilter can judge: strings, and numbers a double holds
    exactly; booleans, None and containers are left to the client."""
    if isinstance(x, str):
        return "s" + x
    if isinstance(x, int | float) and not isinstance(x, bool) and abs(x) < _EXACT:
        return "n" + repr(float(x)) if isinstance(x, float) else "n" + str(x)
    return None


def prefilter(filter: dict[str, Any] | None) -> tuple[list[str], bool]:
    """The top-level scalar conditions of a search filter as store_search-0.lua's triples, and
    whether they are the whole filter (then the script may count sure matches and stop). A
    range operand goes as Python's float() of it, as InMemoryStore compares; one float()
    refuses makes the condition never true ("no"). The client re-checks every item with
    InMemoryStore's comparison either way."""
    out: list[str] = []
    whole = True
    for key, cond in (filter or {}).items():
        if isinstance(cond, dict) and cond and all(k in _OPS for k in cond):
            pairs = [(_OPS[k], v) for k, v in cond.items()]
        elif isinstance(cond, dict):
            whole = False
            continue
        else:
            pairs = [("eq", cond)]
        for op, value in pairs:
            if op in _RANGE:
                try:
                    f = float(value)
                except (TypeError, ValueError):
                    out += ["no", key, "s"]
                    continue
                operand = "n" + repr(f) if math.isfinite(f) else None
            else:
                operand = _operand(value)
            if operand is not None:
                out += [op, key, operand]
            else:
                whole = False
    return out, whole
