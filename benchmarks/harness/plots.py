"""The figures beside a report (run.py's ratios.png and history.png).

Drawing is kept apart from the numbers: the script computes what to plot (the same medians
of per-run ratios its tables show), these functions only draw it. Without matplotlib (the
`bench` extra) they draw nothing and the report is still written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def pyplot() -> Any | None:
    """matplotlib.pyplot on the Agg backend (no display), or None when not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def ratio_bars(path: Path, title: str, panels: list[dict[str, Any]]) -> None:
    """Side by side bar charts of ratios on a log scale, 1 marked; each panel a dict of
    names, ratios, color, ylabel and goals (name -> target ratio, drawn as a tick)."""
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(12, 4.5))
    for ax, p in zip(axes, panels, strict=True):
        names, ratios, goals = p["names"], p["ratios"], p["goals"]
        ax.bar(names, ratios, color=p["color"])
        xs = [x for x, w in enumerate(names) if w in goals]
        if xs:
            ax.scatter(xs, [goals[names[x]] for x in xs], marker="_", s=600, color="black",
                       zorder=3, label="target")  # fmt: skip
            ax.legend(fontsize=8)
        ax.set_yscale("log")
        ax.axhline(1, color="black", linewidth=0.8)
        ax.set_ylabel(p["ylabel"])
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        for x, r in enumerate(ratios):
            ax.text(x, r, f"{r:.2g}x", ha="center", va="bottom", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def log_lines(
    path: Path, title: str, series: list[tuple[str, list[float], list[float]]], xlabel: str,
    ylabel: str,
) -> None:  # fmt: skip
    """Lines with markers on log-log axes, one per (label, xs, ys)."""
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, xs, ys in series:
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
