"""The server's time per filtered list(None), this tree against a base revision, from the
server's own accounting (INFO commandstats: every command, those the script runs included),
with the client's CPU (time.process_time) and the wall time per call beside it.

Each tree's set (--n checkpoints of benchmarks/workloads.py's filter set: 100 threads of 100
steps per 10,000) is put once, each on a fresh embedded Valkey of its own, by a worker process
of that tree. Then --rounds rounds, the two trees one after the other (the order alternating):
a worker lists 20 times to warm, resets the statistics, then lists 300 times,
`list(None, filter=..., limit=10)`. Printed per tree: the median over the rounds of the
microseconds per list call for EVALSHA and each command inside it, the client's CPU and the
wall time; and the median of the per-round ratios this tree / base.

    python benchmarks/filter_server_time.py [--baseline 7e0d5a7] [--n 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from harness.workers import tree_worker  # noqa: E402
from trees import worktree  # noqa: E402

FILTERS = {
    "step": {"step": 7},
    "source+step": {"source": "loop", "step": 7},
    "user": {"user": "u3"},
}
CALLS = 300


async def measure(url: str, n: int, phase: str) -> dict[str, Any]:
    import redis
    from langgraph.checkpoint.redis import AsyncRedisSaver

    from workloads import populate

    r = redis.Redis.from_url(url)
    saver = AsyncRedisSaver(redis_url=url)
    await saver.asetup()
    out: dict[str, Any] = {}
    if phase == "populate":
        await populate(saver, n)
        await saver.aclose()
        r.close()
        return out
    for name, f in FILTERS.items():

        async def one(f: dict[str, Any] = f) -> None:
            got = [t async for t in saver.alist(None, filter=f, limit=10)]
            assert len(got) == 10, len(got)

        for _ in range(20):
            await one()
        r.config_resetstat()
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(CALLS):
            await one()
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        stats = r.info("commandstats")
        out[name] = {
            k[len("cmdstat_") :]: v["usec"] / CALLS
            for k, v in stats.items()
            if not k.startswith("cmdstat_config")
        }
        out[name]["(client CPU)"] = cpu / CALLS * 1e6
        out[name]["(wall)"] = wall / CALLS * 1e6
    await saver.aclose()
    r.close()
    return out


def worker(src: Path, url: str, n: int, phase: str) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--worker", phase, "--url", url, "--n", str(n)]
    return tree_worker(argv, src, phase)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="7e0d5a7")
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(asyncio.run(measure(a.url, a.n, a.worker))))
        return
    sys.path.insert(0, str(ROOT / "src"))
    from langgraph.checkpoint.redis.embedded import EmbeddedServer

    rounds: list[dict[str, Any]] = []
    with (
        worktree(a.baseline, "filter-base-") as base,
        EmbeddedServer() as s1,
        EmbeddedServer() as s2,
    ):
        trees = [("base", base / "src", s1.url), ("this tree", ROOT / "src", s2.url)]
        for _, src, url in trees:
            worker(src, url, a.n, "populate")
        for k in range(a.rounds):
            rounds.append(
                {
                    name: worker(src, url, a.n, "rate")
                    for name, src, url in (trees if k % 2 else trees[::-1])
                }
            )
    cmd = "python benchmarks/filter_server_time.py"
    cmd += f" --baseline {a.baseline} --n {a.n} --rounds {a.rounds}"
    print(f"`{cmd}`")
    print(
        f"µs per list call, medians of {a.rounds} alternating rounds (server: INFO commandstats)\n"
    )
    for name in FILTERS:
        cmds = sorted({c for r in rounds for t in r.values() for c in t[name]})

        def med(tree: str, c: str, name: str = name) -> float:
            return statistics.median(r[tree][name].get(c, 0.0) for r in rounds)

        def ratio(c: str, name: str = name) -> str:
            xs = [
                r["this tree"][name].get(c, 0.0) / r["base"][name][c]
                for r in rounds
                if r["base"][name].get(c)
            ]
            return f"{statistics.median(xs):.2f}x" if xs else "-"

        print(f"filter {FILTERS[name]}\n")
        print("| command | base | this tree | this / base |\n|---|---|---|---|")
        for c in sorted(cmds, key=lambda c: -med("this tree", c)):
            print(f"| {c} | {med('base', c):,.1f} | {med('this tree', c):,.1f} | {ratio(c)} |")
        print()


if __name__ == "__main__":
    main()
