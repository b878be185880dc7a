"""Each call against the round-trip floor, and where its time goes, in one run on one server.

The floor (as in shared/notes/incumbent.md): a bare Lua script doing 3 writes with a 2 KB
payload, called sequentially by EVALSHA through redis-py's asyncio client. Measured beside it,
each in turn on the same server and in the same process, per run:

- `ping`: PING, the least a round trip can be;
- `aput`: a realistic step (benchmarks/workloads.py's plan: a `messages` channel one ~100-byte
  message longer per step, two small channels, new_versions as LangGraph sends them), each
  put on the previous one;
- `aput_writes`: 2 writes of one task on the thread's latest checkpoint;
- `aget_tuple`: the thread's latest checkpoint (2 pending tasks of writes on it);
- `graph10`: LangGraph's 10-node graph (workloads.graph10), a fresh thread per invocation, on
  ours and on InMemorySaver (`graph10 memory`).

Per call: the rate; the ratio to the floor (the median of per-run ratios); the client's CPU
(time.process_time, user + system, so the socket calls too); the server's time (INFO
commandstats: every top-level command's usec); round trips (top-level commands); and bytes
sent and received (INFO stats net input/output). What is left of a call's wall time when the
client's CPU and the server's time are taken out is waiting: the loopback and the scheduler.

    python benchmarks/floor.py [--url redis://...] [--steps 1000] [--runs 3]

Without --url it starts an embedded Valkey. Prints a markdown table (and writes
benchmarks/results/floor.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aredis
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.redis import AsyncRedisSaver
from langgraph.checkpoint.redis.embedded import EmbeddedServer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import graph10, make_steps, thread_cfg

FLOOR_LUA = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('HSET', KEYS[3], 'f', ARGV[2])
return 1
"""
TOP = ("evalsha", "eval", "ping", "script|load", "script", "hello", "client|setinfo", "info")
"""Top-level commands a call may send (commandstats also counts the commands a script runs)."""


class Meter:
    """Wall time, client CPU, and the server's accounting around n calls of one workload."""

    def __init__(self, url: str) -> None:
        self.r = redis.Redis.from_url(url)

    def server(self) -> tuple[float, int, int, int]:
        stats = self.r.info("commandstats")
        usec = calls = 0
        for name, v in stats.items():
            cmd = name.removeprefix("cmdstat_")
            if cmd in TOP and cmd != "info":
                usec += v["usec"]
                calls += v["calls"]
        net = self.r.info("stats")
        return usec, calls, net["total_net_input_bytes"], net["total_net_output_bytes"]

    async def measure(self, n: int, call: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
        self.r.config_resetstat()
        s0 = self.server()
        c0, t0 = time.process_time(), time.perf_counter()
        for i in range(n):
            await call(i)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        s1 = self.server()
        return {
            "rate": n / wall,
            "wall_us": wall / n * 1e6,
            "cpu_us": cpu / n * 1e6,
            "server_us": (s1[0] - s0[0]) / n,
            "trips": (s1[1] - s0[1]) / n,
            "in_bytes": (s1[2] - s0[2]) / n,
            "out_bytes": (s1[3] - s0[3]) / n,
        }


async def one_run(url: str, n: int) -> dict[str, dict[str, float]]:
    m = Meter(url)
    out: dict[str, dict[str, float]] = {}
    r = aredis.Redis.from_url(url)
    await r.ping()
    out["ping"] = await m.measure(n, lambda i: r.ping())
    sha = await r.script_load(FLOOR_LUA)
    payload = os.urandom(2048)
    out["floor"] = await m.measure(
        n,
        lambda i: r.evalsha(sha, 3, "floor:{x}:a", "floor:{x}:b", "floor:{x}:c", payload, str(i)),
    )
    await r.aclose()

    saver = AsyncRedisSaver(url)
    await saver.asetup()
    thread = str(uuid.uuid4())
    plan = make_steps(saver, n)
    cfgs: list[Any] = []
    for cp, md, nv in make_steps(saver, 20):  # warm: connections open, scripts loaded
        await saver.aput(thread_cfg(f"warm-{thread}"), cp, md, nv)

    async def put(i: int) -> None:
        parent = cfgs[-1]["configurable"]["checkpoint_id"] if cfgs else None
        cfgs.append(await saver.aput(thread_cfg(thread, parent), *plan[i]))

    out["aput"] = await m.measure(n, put)
    for k in range(2):
        await saver.aput_writes(cfgs[-1], [("a", k), ("b", {"x": k})], f"pending-{k}")
    tcfg = thread_cfg(thread)
    out["aget_tuple"] = await m.measure(n, lambda i: saver.aget_tuple(tcfg))
    latest = cfgs[-1]
    out["aput_writes"] = await m.measure(
        n, lambda i: saver.aput_writes(latest, [("a", i), ("b", {"x": i})], f"task-{i}")
    )
    graphs = max(20, n // 10)
    g = graph10(saver)
    out["graph10"] = await m.measure(
        graphs, lambda i: g.ainvoke({"messages": ["hi"]}, {"configurable": {"thread_id": f"g{i}"}})
    )
    await saver.aclose()
    gm = graph10(InMemorySaver())
    out["graph10 memory"] = await m.measure(
        graphs, lambda i: gm.ainvoke({"messages": ["hi"]}, {"configurable": {"thread_id": f"g{i}"}})
    )
    m.r.flushall()
    m.r.close()
    return out


ROWS = ("ping", "floor", "aput", "aput_writes", "aget_tuple", "graph10", "graph10 memory")


def report(runs: list[dict[str, dict[str, float]]], cmd: str) -> str:
    def med(row: str, key: str) -> float:
        return statistics.median(r[row][key] for r in runs)

    def vs_floor(row: str) -> float:
        return statistics.median(r[row]["rate"] / r["floor"]["rate"] for r in runs)

    lines = [
        f"Each call against the floor (a bare 3-write EVALSHA with 2 KB), on one embedded Valkey, "
        f"medians of {len(runs)} runs (ratios: medians of per-run ratios). `{cmd}`",
        "",
        "| call | calls/s | rate / floor | wall µs | client CPU µs | server µs | waiting µs "
        "| round trips | bytes sent | bytes received |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in ROWS:
        wall, cpu, srv = med(row, "wall_us"), med(row, "cpu_us"), med(row, "server_us")
        lines.append(
            f"| {row} | {med(row, 'rate'):,.0f} | {vs_floor(row):.2f} | {wall:,.0f} | {cpu:,.0f} "
            f"| {srv:,.0f} | {max(0.0, wall - cpu - srv):,.0f} | {med(row, 'trips'):.1f} "
            f"| {med(row, 'in_bytes'):,.0f} | {med(row, 'out_bytes'):,.0f} |"
        )
    ratio = statistics.median(
        r["graph10"]["wall_us"] / r["graph10 memory"]["wall_us"] for r in runs
    )
    extra_cpu = med("graph10", "cpu_us") - med("graph10 memory", "cpu_us")
    lines += [
        "",
        f"- graph10: ours takes {ratio:.2f}x InMemorySaver's time per graph; of the "
        f"{med('graph10', 'wall_us') - med('graph10 memory', 'wall_us'):,.0f} µs it adds, "
        f"{extra_cpu:,.0f} µs is client CPU (ours and redis-py's, over "
        f"{med('graph10', 'trips'):.0f} round trips per graph) and "
        f"{med('graph10', 'server_us'):,.0f} µs the server's.",
    ]
    return "\n".join(lines)


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
    try:
        runs = [await one_run(url, a.steps) for _ in range(a.runs)]
    finally:
        if srv:
            srv.stop()
    cmd = f"python benchmarks/floor.py --steps {a.steps} --runs {a.runs}"
    text = report(runs, cmd)
    print(text)
    if not a.url:
        (Path(__file__).resolve().parent / "results" / "floor.md").write_text(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
