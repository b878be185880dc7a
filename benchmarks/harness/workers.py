"""Worker processes and the sections a worker runs.

A benchmark measures each saver (or store) in a process of its own: the incumbent must run in
its venv's interpreter, a baseline tree needs its own PYTHONPATH, and a fresh process keeps
one saver's garbage and connections out of the next one's figures. A worker prints its
results as JSON lines; the driver keeps the last (or all of them).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def driver_parser() -> argparse.ArgumentParser:
    """The flags every driver takes: --quick (smaller sizes, minutes not hours) and --runs
    (each figure is the median over the runs)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    return ap


def add_worker_flags(ap: argparse.ArgumentParser, rendered: str, role: str) -> None:
    """--report (re-render `rendered` from the results file, measuring nothing), and the
    hidden flags the driver starts its worker processes with: --worker, `role` (which saver
    or store the worker measures) and --url (its server)."""
    ap.add_argument("--report", action="store_true", help=f"re-render {rendered} only")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(role, help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)


def err_text(e: BaseException, limit: int = 400) -> str:
    """An error as a report shows it: its type and message, cut to `limit` characters."""
    return f"{type(e).__name__}: {e}"[:limit]


@contextmanager
def timed(secs: dict[str, float], name: str) -> Iterator[None]:
    """secs[name]: the block's wall time in seconds, rounded to 10 ms (every result's "secs",
    so a report can say where a run's time went). Not recorded if the block raises."""
    t = time.perf_counter()
    yield
    secs[name] = round(time.perf_counter() - t, 2)


def logged(run: int, runs: int, name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args), then a progress line (which run, which worker, how long it took): a full
    run takes many minutes."""
    t = time.perf_counter()
    got = fn(*args)
    print(f"run {run + 1}/{runs} {name}: {time.perf_counter() - t:.1f} s", flush=True)
    return got


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects a worker printed, one a line (other output is skipped)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def worker_result(cmd: list[str], label: dict[str, str]) -> dict[str, Any]:
    """Runs a worker process (`cmd`) and returns the JSON line it printed last, or `label`
    with the error it died of: the report then shows the error instead of a number, and the
    other workers of the run still run."""
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if out.returncode or not lines:
        return {**label, "worker_error": (out.stderr or out.stdout)[-2000:]}
    return json.loads(lines[-1])


def worker_lines(cmd: list[str], name: str) -> list[dict[str, Any]]:
    """Runs a worker process; every JSON line it printed. Exits the benchmark (with the
    worker's stderr) if it fails: a run with a saver missing would report wrong ratios."""
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"{name} failed")
    return json_lines(out.stdout)


def parallel(cmds: dict[str, list[str]]) -> dict[str, dict[str, Any] | None]:
    """Runs the worker processes at once (for work that is not measured, such as populating
    a data set); per name, the last JSON line it printed, or None if it failed."""
    procs = {s: subprocess.Popen(c, stdout=subprocess.PIPE, text=True) for s, c in cmds.items()}
    outs = {s: p.communicate()[0] for s, p in procs.items()}
    return {
        s: None if p.returncode else json.loads(outs[s].splitlines()[-1]) for s, p in procs.items()
    }


def tree_worker(argv: list[str], src: Path | None, what: str) -> Any:
    """Runs `argv` (a worker of the calling script) with `langgraph.checkpoint.redis` taken
    from `src` (this tree's src/, a baseline worktree's, or with None the interpreter's own
    package: the incumbent's venv); the last line it printed, as JSON. Raises with the end of
    its stderr if it fails: these benchmarks compare two trees, and a half result means
    nothing."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    got = subprocess.run(argv, env=env, capture_output=True, text=True)
    if got.returncode:
        raise RuntimeError(f"worker {what} on {src} failed:\n{got.stderr[-3000:]}")
    return json.loads(got.stdout.strip().splitlines()[-1])


async def run_sections(
    res: dict[str, Any],
    sections: list[tuple[str, Callable[[], Awaitable[Any]]]],
    traceback_chars: int,
) -> None:
    """Runs a worker's sections in turn, each timed into res["secs"][name]. A section that
    raises leaves its error (and the end of its traceback) under res[name] and the next
    section still runs: the incumbent is known to fail on some of them. A gc.collect() after
    each, so no section's garbage is collected in the next one's timings."""
    for name, fn in sections:
        with timed(res["secs"], name):
            try:
                await fn()
            except Exception as e:
                res.setdefault(name, {})["error"] = err_text(e)
                res[name]["traceback"] = traceback.format_exc()[-traceback_chars:]
        gc.collect()
