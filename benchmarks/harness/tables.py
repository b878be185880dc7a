"""Markdown tables and the frame of a report: what reproduces it, when, on which commit.

lifecycle.py and store.py keep the raw runs of their last quick and last full run in one
JSON file (under "quick" and "full") and render both into one markdown file; --report
re-renders it from the JSON alone. Each mode's section opens with the command that
reproduces it, the date, the server, the commit of ours and the machine's load, so a number
in the report can be traced to the run that made it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.servers import ROOT, sh


def md_row(cells: list[str]) -> str:
    """One markdown table row; an empty cell is written `| |`."""
    return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"


def md_head(cols: list[str]) -> list[str]:
    """A markdown table's header and its rule."""
    return [md_row(cols), "|---" * len(cols) + "|"]


def code_version() -> str:
    """The commit of this checkout, and whether src/ (the package and its Lua) differs from it."""
    try:
        head = sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
        dirty = sh(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"])
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes in src/" if dirty else "")


def command_line(script: str, quick: bool, runs: int, *more: str) -> str:
    """The command that reproduces a mode (--runs only when not the default 3)."""
    command = f".venv/bin/python benchmarks/{script}" + (" --quick" if quick else "")
    if runs != 3:
        command += f" --runs {runs}"
    return command + "".join(more)


class Session:
    """What a report says of the run that made it, taken at its start and its end: wall time,
    the machine's load (other work slows every saver; the ratios are taken within each run),
    and the commit of ours at both ends (an edit during a long run shows)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.load_start = os.getloadavg()
        self.code = "unknown"

    def started(self) -> None:
        """The commit at the start (once the servers are up)."""
        self.code = code_version()

    def save(self, path: Path, data: dict[str, Any], quick: bool, **entry: Any) -> None:
        """Writes the results file with this run's mode (quick or full) replaced: its
        entry (command, server, runs_n, runs and the script's own keys) with the session's."""
        data["quick" if quick else "full"] = self.record(**entry)
        save_results(path, data)

    def record(
        self, command: str, server: str, runs_n: int, extra: dict[str, Any], runs: Any
    ) -> dict[str, Any]:
        """The mode's entry of the results file."""
        return {
            "command": command,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "server": server,
            "code": [self.code, code_version()],
            "runs_n": runs_n,
            **extra,
            "wall_s": time.perf_counter() - self.t0,
            "cpus": os.cpu_count(),
            "load_avg": [self.load_start, os.getloadavg()],
            "runs": runs,
        }


def load_results(path: Path) -> dict[str, Any]:
    """Both modes' runs, as the last runs left them ({} before the first)."""
    return json.loads(path.read_text()) if path.exists() else {}


def save_results(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


def mode_header(mode: str, d: dict[str, Any], load_note: str = "") -> list[str]:
    """The opening of a mode's section: command, date, server, commit, machine."""
    out = [
        f"## {'Quick' if mode == 'quick' else 'Full'} mode",
        "",
        f"- command: `{d['command']}`",
        f"- date: {d['date']}; {d['runs_n']} runs; wall time {d['wall_s']:.0f} s",
        f"- server: {d['server']}",
    ]
    if "code" in d:
        start, end = d["code"]
        out.append(
            f"- ours at commit {start}"
            + ("" if start == end else f" at the start, {end} at the end (changed during the run)")
        )
    if "load_avg" in d:
        (a1, _, _), (b1, _, _) = d["load_avg"]
        out.append(
            f"- machine: {d['cpus']} CPUs; 1-minute load average {a1:.1f} at the start, "
            f"{b1:.1f} at the end{load_note}"
        )
    return out


def render_modes(title: list[str], data: dict[str, Any], render_mode: Any, out: Path) -> str:
    """The report: its title, then the full mode's section and the quick mode's (each as the
    last run of that mode left it), written to `out`; the text."""
    lines = list(title)
    for mode in ("full", "quick"):
        if mode in data:
            lines += render_mode(mode, data[mode])
    text = "\n".join(lines)
    out.write_text(text)
    return text
