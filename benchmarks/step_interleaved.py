"""Step N against step 10, interleaved on one saver and one server: issue 12's step-cost ratio
without the machine's drift.

benchmarks/histories.py measures step 10 and step 10,000 minutes apart, and a step's time on a
shared machine moves by a third from minute to minute (its floor's own ratio ranged 0.54x to
1.06x). Here one thread is grown to N steps first (histories.py's shape: one ~200-byte message
per step); then, 50 times, a fresh thread is put 9 steps, and its step 10 and the long thread's
next step are timed one right after the other (which goes first alternates), on the same
saver, connection and server.
Reported per mode: the median time of each and their ratio, for --runs runs on a fresh
embedded Valkey each, and the median of the per-run ratios. The server's own time per script
for each thread comes from SLOWLOG (threshold 0), so a growth can be told apart as the
client's or the server's; and after each pair, the time to make and free a tuple of the long
list's items, which identity mode does once per step to hold the items it compares the next
list with (every item's reference count touched twice, in memory the other thread's step just
went through); and the time the put spent in the saver's DeltaWriter (encode, remember).

    python benchmarks/step_interleaved.py [--steps 10000] [--runs 3] [--modes identity,exact]

Prints a markdown table (and writes benchmarks/results/step_interleaved.md).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from histories import steps  # noqa: E402

PAIRS = 50
SPENT: dict[str, float] = {}
"""Seconds spent in DeltaWriter.encode and .remember during the put being timed (`spy`)."""


def spy() -> None:
    """Time the saver's DeltaWriter methods: the part of a step that holds and compares items."""
    from langgraph.checkpoint.redis import deltas

    for name in ("encode", "remember"):
        f = getattr(deltas.DeltaWriter, name)

        def timed(*a: Any, _f: Any = f, _name: str = name, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return _f(*a, **k)
            finally:
                SPENT[_name] = SPENT.get(_name, 0.0) + time.perf_counter() - t

        setattr(deltas.DeltaWriter, name, timed)


async def one_run(url: str, n: int, mode: str) -> dict[str, float]:
    import redis
    from langgraph.checkpoint.redis import AsyncRedisSaver

    r = redis.Redis.from_url(url)
    saver = AsyncRedisSaver(redis_url=url, delta_mode=mode)  # type: ignore[arg-type]
    await saver.asetup()
    long_cfg: Any = {"configurable": {"thread_id": "long", "checkpoint_ns": ""}}
    grow = steps(n + PAIRS)
    for _ in range(n):
        long_cfg = await saver.aput(long_cfg, *next(grow))
    r.config_set("slowlog-log-slower-than", 0)
    r.config_set("slowlog-max-len", 500)
    t_long: list[float] = []
    t_short: list[float] = []
    s_long: list[int] = []
    s_short: list[int] = []
    t_copy: list[float] = []
    w_long: list[float] = []
    w_short: list[float] = []
    for k in range(PAIRS):
        short_cfg: Any = {"configurable": {"thread_id": f"short-{k}", "checkpoint_ns": ""}}
        fresh = steps(10)
        for _ in range(9):
            short_cfg = await saver.aput(short_cfg, *next(fresh))
        a, b = next(grow), next(fresh)
        for which in ("long", "short") if k % 2 else ("short", "long"):  # the order alternates
            r.slowlog_reset()
            SPENT.clear()
            t = time.perf_counter()
            if which == "long":
                long_cfg = await saver.aput(long_cfg, *a)
            else:
                short_cfg = await saver.aput(short_cfg, *b)
            (t_long if which == "long" else t_short).append(time.perf_counter() - t)
            (w_long if which == "long" else w_short).append(sum(SPENT.values()))
            # Valkey logs the commands a script runs too: the script's own entry is EVALSHA
            evals = [e for e in r.slowlog_get(500) if e["command"][:8].upper() == b"EVALSHA "]
            if len(evals) == 1:
                (s_long if which == "long" else s_short).append(evals[0]["duration"])
        # what identity mode pays per step for the items it holds, in the same conditions: a
        # tuple of the long list's items made and freed right after the other thread's step
        held = a[0]["channel_values"]["messages"]
        t = time.perf_counter()
        copy = tuple(held)
        del copy
        t_copy.append(time.perf_counter() - t)
    r.config_set("slowlog-log-slower-than", 10000)
    await saver.aclose()
    r.close()
    long_us, short_us = statistics.median(t_long) * 1e6, statistics.median(t_short) * 1e6
    return {
        "long_us": long_us,
        "short_us": short_us,
        "ratio": long_us / short_us,
        "server_long_us": statistics.median(s_long) if s_long else float("nan"),
        "server_short_us": statistics.median(s_short) if s_short else float("nan"),
        "copy_us": statistics.median(t_copy) * 1e6,
        "writer_long_us": statistics.median(w_long) * 1e6,
        "writer_short_us": statistics.median(w_short) * 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--modes", default="identity,exact")
    a = ap.parse_args()
    sys.path.insert(0, str(HERE.parent / "src"))
    from langgraph.checkpoint.redis.embedded import EmbeddedServer

    spy()
    res: dict[str, list[dict[str, float]]] = {}
    for k in range(a.runs):
        for mode in a.modes.split(","):
            with EmbeddedServer() as srv:
                res.setdefault(mode, []).append(asyncio.run(one_run(srv.url, a.steps, mode)))
            print(f"{mode} run {k + 1} done", file=sys.stderr)
    cmd = f"python benchmarks/step_interleaved.py --steps {a.steps} --runs {a.runs}"
    lines = [
        f"Step {a.steps + 1:,} of a long thread and step 10 of a fresh one, timed one after the "
        f"other {PAIRS} times on one saver and one embedded Valkey; medians, {a.runs} runs. "
        f"`{cmd} --modes {a.modes}`",
        "",
        f"| delta_mode | step {a.steps + 1:,} µs | step 10 µs | ratio, per run | ratio (median) "
        f"| server µs per script: step {a.steps + 1:,} / step 10 "
        "| DeltaWriter (encode + remember) µs: step "
        f"{a.steps + 1:,} / step 10 | a tuple of the long list's items made and freed, µs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode, runs in res.items():

        def med(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        per_run = ", ".join(f"{r['ratio']:.2f}x" for r in runs)
        lines.append(
            f"| {mode} | {med('long_us'):,.0f} | {med('short_us'):,.0f} | {per_run} "
            f"| {med('ratio'):.2f}x "
            f"| {med('server_long_us'):,.0f} / {med('server_short_us'):,.0f} "
            f"| {med('writer_long_us'):,.0f} / {med('writer_short_us'):,.0f} "
            f"| {med('copy_us'):,.0f} |"
        )
    text = "\n".join(lines)
    print(text)
    (HERE / "results" / "step_interleaved.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
