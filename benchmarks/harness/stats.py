"""Medians, per-run ratios and the number formats the reports share.

Every benchmark here reports the median over its runs of each figure, and for each comparison
the median of the ratios taken within one run (two savers measured seconds apart on the same
server, so a load change on this shared machine moves both): not the ratio of two medians.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from typing import Any


def is_num(x: Any) -> bool:
    """A number a median can take (a bool is a check's outcome, not a figure)."""
    return isinstance(x, int | float) and not isinstance(x, bool)


def median(xs: Iterable[Any]) -> float | None:
    """The median of the numbers among xs (None, errors and bools left out); None if none."""
    got = [x for x in xs if is_num(x)]
    return statistics.median(got) if got else None


def median_ratio(
    pairs: Iterable[tuple[Any, Any]], ok: Callable[[Any, Any], bool] = lambda x, y: y != 0
) -> float | None:
    """The median of x / y over the (x, y) of each run, each pair taken within one run; pairs
    where either is not a number, or `ok(x, y)` is false, are left out."""
    return median(x / y for x, y in pairs if is_num(x) and is_num(y) and ok(x, y))


def dig(r: Any, path: str) -> Any:
    """r["a"]["b"]["c"] for path "a.b.c", None where the path stops (a section that failed or
    did not run)."""
    for part in path.split("."):
        if not isinstance(r, dict) or part not in r:
            return None
        r = r[part]
    return r


def fmt(x: float | None, digits: int = 0) -> str:
    """A count or size: thousands separated, 2 decimals for a small non-integer."""
    if x is None:
        return "-"
    if digits == 0 and abs(x) < 10 and x != int(x):
        return f"{x:,.2f}"
    return f"{x:,.{digits}f}"


def fmt_rate(x: float | None) -> str:
    """A rate per second: whole above 10, one decimal below."""
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 10 else f"{x:,.1f}"


def fmt_ratio(x: float | None, unit: str = "x") -> str:
    """A ratio: 2 decimals below 10, 1 above."""
    if x is None:
        return "-"
    return f"{x:.1f}{unit}" if x >= 10 else f"{x:.2f}{unit}"


def fmt_us(x: float | None) -> str:
    """Seconds as whole microseconds."""
    return "-" if x is None else f"{x * 1e6:,.0f}"


def fmt_kb(x: float | None) -> str:
    return "-" if x is None else f"{x / 1024:,.1f} KB"


def pct(x: float) -> str:
    return f"{x * 100:.1f}%"
