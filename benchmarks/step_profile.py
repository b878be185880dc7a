"""Where a step's time goes late in a long history: cProfile of 200 `aput`s after N steps.

One thread, one ~200-byte message per step (benchmarks/histories.py's shape), on an embedded
Valkey. The first N - 200 steps are put unprofiled; the last 200 under cProfile, whose top
functions by own time are printed with the mean step time (which the profiler inflates), and
the server's time per step over those 200 (INFO commandstats: the script, and the commands it
ran, by their own accounting).

    python benchmarks/step_profile.py [--steps 5000] [--mode exact|identity]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from histories import steps


async def main(url: str, n: int, mode: str) -> None:
    from langgraph.checkpoint.redis import AsyncRedisSaver

    saver = AsyncRedisSaver(redis_url=url, delta_mode=mode)  # type: ignore[arg-type]
    await saver.asetup()
    parent: dict[str, Any] = {"configurable": {"thread_id": "profiled", "checkpoint_ns": ""}}
    gen = steps(n)
    for _ in range(n - 200):
        parent = await saver.aput(parent, *next(gen))
    late = list(gen)
    import redis

    r = redis.Redis.from_url(url)
    r.config_resetstat()
    prof = cProfile.Profile()
    prof.enable()
    t = time.perf_counter()
    for cp, md, nv in late:
        parent = await saver.aput(parent, cp, md, nv)
    dt = (time.perf_counter() - t) / len(late)
    prof.disable()
    print(f"delta_mode={mode}, steps {n - 199:,}-{n:,}: {dt * 1e6:,.0f} µs per step (profiled)")
    stats = r.info("commandstats")
    per = sorted(((v["usec"] / len(late), k[8:]) for k, v in stats.items()), reverse=True)
    print("server µs per step: " + ", ".join(f"{c} {us:.1f}" for us, c in per[:6]))
    r.close()
    pstats.Stats(prof).sort_stats("tottime").print_stats(8)
    await saver.aclose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--mode", default="exact", choices=["exact", "identity"])
    a = ap.parse_args()
    from langgraph.checkpoint.redis.embedded import EmbeddedServer

    with EmbeddedServer() as srv:
        asyncio.run(main(srv.url, a.steps, a.mode))
