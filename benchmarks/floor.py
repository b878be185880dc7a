"""aput against the round-trip floor, in one run on one server.

The floor (as in shared/notes/incumbent.md): a bare Lua script doing 3 writes with a 2 KB
payload, called sequentially by EVALSHA through redis-py's asyncio client. `aput` is measured
with a realistic step: a `messages` channel that grows by one ~100-byte message per step (so
its value is re-serialized whole each step, as langgraph's BinaryOperatorAggregate does) plus
two small channels, new_versions as langgraph sends them.

    python benchmarks/floor.py [--url redis://...] [--steps 1000] [--runs 3]

Without --url it starts an embedded Valkey. Prints calls/s and the ratio aput / floor (median
of runs), and the same for PING.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

import redis.asyncio as aredis
from langgraph.checkpoint.redis import AsyncRedisSaver
from langgraph.checkpoint.redis.embedded import EmbeddedServer

from workloads import make_steps  # the same step plan as the side-by-side harness

FLOOR_LUA = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('HSET', KEYS[3], 'f', ARGV[2])
return 1
"""


async def floor(url: str, n: int) -> float:
    r = aredis.Redis.from_url(url)
    sha = await r.script_load(FLOOR_LUA)
    payload = os.urandom(2048)
    t = time.perf_counter()
    for i in range(n):
        await r.evalsha(sha, 3, "floor:{x}:a", "floor:{x}:b", "floor:{x}:c", payload, str(i))
    dt = time.perf_counter() - t
    await r.aclose()
    return n / dt


async def ping(url: str, n: int) -> float:
    r = aredis.Redis.from_url(url)
    await r.ping()
    t = time.perf_counter()
    for _ in range(n):
        await r.ping()
    dt = time.perf_counter() - t
    await r.aclose()
    return n / dt


async def aput_rate(url: str, n: int) -> float:
    saver = AsyncRedisSaver(url)
    await saver.asetup()
    plan = make_steps(saver, n)
    thread = str(uuid.uuid4())
    parent = None
    t = time.perf_counter()
    for cp, md, nv in plan:
        cfg = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        if parent:
            cfg["configurable"]["checkpoint_id"] = parent
        parent = (await saver.aput(cfg, cp, md, nv))["configurable"]["checkpoint_id"]
    dt = time.perf_counter() - t
    await saver.aclose()
    return n / dt


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    srv = None
    url = a.url
    if not url:
        srv = EmbeddedServer().start()
        url = srv.url
    rows: dict[str, list[float]] = {"ping": [], "floor": [], "aput": []}
    for _ in range(a.runs):
        rows["ping"].append(await ping(url, a.steps))
        rows["floor"].append(await floor(url, a.steps))
        rows["aput"].append(await aput_rate(url, a.steps))
    med = {k: statistics.median(v) for k, v in rows.items()}
    for k, v in med.items():
        print(f"{k:6s} {v:9.0f} /s")
    print(f"aput / floor = {med['aput'] / med['floor']:.2f}")
    if srv:
        srv.stop()


if __name__ == "__main__":
    asyncio.run(main())
