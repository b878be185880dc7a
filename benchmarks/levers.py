"""What each lever of the saver gives, A/B in one process on one embedded Valkey.

    python benchmarks/levers.py [--steps 200] [--runs 3]

Prints one table (medians of --runs):
  delta_mode off / exact / identity: server memory per checkpoint over a --steps history, then
      get/s and list(limit=10)/s of its latest checkpoint, and the server's µs per get script
      (INFO commandstats);
  client CPU per round trip: time.process_time around a bare EVALSHA loop (asyncio redis-py);
  auto-pipelining: 50 and 500 concurrent 10-node graphs with batching and without (the saver's
      unbatched `_direct` path), and sequential aput with a lone call sent at once or batched.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

import redis
from langgraph.checkpoint.redis import AsyncRedisSaver
from langgraph.checkpoint.redis.embedded import EmbeddedServer
from langgraph.checkpoint.redis.protocol import one_async as send_now

from workloads import graph10, make_steps  # the harness's step plan and graph


async def history(saver: AsyncRedisSaver, steps: int) -> dict[str, Any]:
    thread = str(uuid.uuid4())
    plan = make_steps(saver, steps)
    cfg: dict[str, Any] = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    t = time.perf_counter()
    for step in plan:
        cfg = await saver.aput(cfg, *step)
    return {"thread": thread, "aput": steps / (time.perf_counter() - t)}


async def deltas(url: str, mode: str, steps: int) -> dict[str, float]:
    r = redis.Redis.from_url(url)
    async with AsyncRedisSaver.from_conn_string(url, delta_mode=mode) as saver:
        await saver.asetup()
        m0 = r.info("memory")["used_memory"]
        h = await history(saver, steps)
        mem = (r.info("memory")["used_memory"] - m0) / steps
        latest = {"configurable": {"thread_id": h["thread"], "checkpoint_ns": ""}}
        r.config_resetstat()
        t = time.perf_counter()
        for _ in range(200):
            await saver.aget_tuple(latest)
        get = 200 / (time.perf_counter() - t)
        server = r.info("commandstats")["cmdstat_evalsha"]["usec_per_call"]
        t = time.perf_counter()
        for _ in range(30):
            [x async for x in saver.alist(latest, limit=10)]
        lst = 30 / (time.perf_counter() - t)
    r.close()
    return {
        "mem/cp B": mem,
        "aput/s": h["aput"],
        "get/s": get,
        "get µs server": server,
        "list10/s": lst,
    }


async def cpu_per_round_trip(url: str) -> float:
    import redis.asyncio as aredis

    c = aredis.Redis.from_url(url)
    sha = await c.script_load("return 1")
    n = 3000
    p = time.process_time()
    for _ in range(n):
        await c.execute_command("EVALSHA", sha, 0)
    cpu = (time.process_time() - p) / n * 1e6
    await c.aclose()
    return cpu


async def graphs(url: str, batched: bool, width: int) -> float:
    saver = AsyncRedisSaver(url)
    if not batched:
        saver._one = lambda c: send_now(saver.client, c)  # type: ignore[method-assign]
    g = graph10(saver)

    async def one() -> None:
        await g.ainvoke({"messages": ["hi"]}, {"configurable": {"thread_id": str(uuid.uuid4())}})

    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(width)))
    rate = width / (time.perf_counter() - t)
    await saver.aclose()
    return rate


async def lone(url: str, at_once: bool, steps: int) -> float:
    saver = AsyncRedisSaver(url)
    if not at_once:
        saver._pipe.busy.n = 1  # every call takes the batching path
    rate = (await history(saver, steps))["aput"]
    await saver.aclose()
    return rate


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    srv = EmbeddedServer().start()
    rows: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    try:
        for _ in range(a.runs):
            for mode in ("off", "exact", "identity"):
                for k, v in (await deltas(srv.url, mode, a.steps)).items():
                    add(f"delta_mode={mode}: {k}", v)
            add("client CPU per bare EVALSHA, µs", await cpu_per_round_trip(srv.url))
            for width in (50, 500):
                for batched in (False, True):
                    add(
                        f"{width} concurrent graphs/s, {'batched' if batched else 'unbatched'}",
                        await graphs(srv.url, batched, width),
                    )
            for at_once in (False, True):
                add(
                    f"sequential aput/s, lone call {'at once' if at_once else 'batched'}",
                    await lone(srv.url, at_once, a.steps),
                )
    finally:
        srv.stop()
    print(f"medians of {a.runs} runs, {a.steps}-step history, one embedded Valkey")
    for name, vals in rows.items():
        print(f"{name:58} {statistics.median(vals):>10,.1f}")


if __name__ == "__main__":
    asyncio.run(main())
