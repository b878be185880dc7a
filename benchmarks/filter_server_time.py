"""The server's time per filtered list(None), this tree against a base revision, from the
server's own accounting (INFO commandstats: every command, those the script runs included).

Each tree, in a worker process of its own on a fresh embedded Valkey, puts --n checkpoints of
benchmarks/workloads.py's filter set (100 threads of 100 steps per 10,000), lists 20 times to
warm, resets the statistics, then lists 300 times: `list(None, filter=..., limit=10)`. Printed
per tree: microseconds per list call for EVALSHA and for each command inside it.

    python benchmarks/filter_server_time.py [--baseline 7e0d5a7] [--n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from trees import worktree  # noqa: E402

FILTERS = {"step": {"step": 7}, "source+step": {"source": "loop", "step": 7}}
CALLS = 300


async def measure(url: str, n: int) -> dict[str, Any]:
    import redis
    from langgraph.checkpoint.redis import AsyncRedisSaver

    from workloads import populate

    r = redis.Redis.from_url(url)
    saver = AsyncRedisSaver(redis_url=url)
    await saver.asetup()
    await populate(saver, n)
    out: dict[str, Any] = {}
    for name, f in FILTERS.items():

        async def one(f: dict[str, Any] = f) -> None:
            got = [t async for t in saver.alist(None, filter=f, limit=10)]
            assert len(got) == 10, len(got)

        for _ in range(20):
            await one()
        r.config_resetstat()
        for _ in range(CALLS):
            await one()
        stats = r.info("commandstats")
        out[name] = {
            k[len("cmdstat_") :]: v["usec"] / CALLS
            for k, v in stats.items()
            if not k.startswith("cmdstat_config")
        }
    await saver.aclose()
    r.close()
    return out


def worker(src: Path, n: int) -> dict[str, Any]:
    from langgraph.checkpoint.redis.embedded import EmbeddedServer

    with EmbeddedServer() as srv:
        env = dict(os.environ, PYTHONPATH=str(src))
        argv = [sys.executable, __file__, "--worker", "--url", srv.url, "--n", str(n)]
        got = subprocess.run(argv, env=env, capture_output=True, text=True)
    if got.returncode:
        raise RuntimeError(got.stderr[-3000:])
    return json.loads(got.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="7e0d5a7")
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(asyncio.run(measure(a.url, a.n))))
        return
    sys.path.insert(0, str(ROOT / "src"))
    with worktree(a.baseline, "filter-base-") as base:
        res = {"base": worker(base / "src", a.n), "this tree": worker(ROOT / "src", a.n)}
    print(f"`python benchmarks/filter_server_time.py --baseline {a.baseline} --n {a.n}`")
    print("µs of server time per list call (INFO commandstats)\n")
    for name in FILTERS:
        cmds = sorted(set(res["base"][name]) | set(res["this tree"][name]))
        print(f"filter {FILTERS[name]}\n\n| command | base | this tree |\n|---|---|---|")
        for c in sorted(cmds, key=lambda c: -res["this tree"][name].get(c, 0)):
            b, t = res["base"][name].get(c, 0.0), res["this tree"][name].get(c, 0.0)
            print(f"| {c} | {b:,.1f} | {t:,.1f} |")
        print()


if __name__ == "__main__":
    main()
