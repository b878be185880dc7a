"""Ours on a Redis Cluster against ours on one server, in one run, as ratios.

    python benchmarks/cluster.py [--runs 3] [--steps 300] [--threads 64]

Starts an embedded Valkey 9.1 and a Valkey 9.1 cluster of 3 masters on loopback
(tests/cluster.py assembles it), all on this machine, so the cluster pays its client-side
routing and the fan-out, not a network. For each run and each deployment it measures:

- the bare-script floor: a 3-write Lua script by EVALSHA on the thread's slot, sequential;
- aput on two shapes: `chat` (a message list growing by one ~100-byte message per step, as
  the side-by-side harness's step plan) and `flat` (three small channels, 1 KB of state);
- aget_tuple of the latest checkpoint, aput_writes (2 writes), the 10-node graph;
- list(None, limit=10) and list(None, filter={"source": "loop"}, limit=10): the fan-out;
- `--threads` threads stepping concurrently (aggregate puts/s), 500 graphs at once;
- list(None, limit=10), plain and filtered, over `--big` checkpoints (1,000 threads);
- server commands per put (INFO commandstats, summed over the masters) and bytes per
  checkpoint (used_memory, summed over the masters, before and after `--steps` steps of
  `chat` on 8 threads).

The incumbent is not measured here: its listing needs RediSearch, which open-source Redis
Cluster and Valkey Cluster do not have. Prints a markdown table; writes
benchmarks/results/cluster.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aredis
import redis.asyncio.cluster as acluster
from langgraph.checkpoint.redis import AsyncRedisSaver
from langgraph.checkpoint.redis.embedded import EmbeddedServer

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tests.cluster import Cluster  # noqa: E402

from workloads import graph10, iter_steps, thread_cfg  # noqa: E402

FLOOR_LUA = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('HSET', KEYS[3], 'f', ARGV[2])
return 1
"""


def flat_steps(saver: Any) -> Any:
    """Three small channels rewritten every step: 1 KB of state, no growth."""
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.base.id import uuid6

    versions: dict[str, Any] = {}
    i = 0
    while True:
        for ch in ("a", "b", "c"):
            versions[ch] = saver.get_next_version(versions.get(ch), None)
        cp = {
            **empty_checkpoint(),
            "id": str(uuid6(clock_seq=i)),
            "channel_values": {"a": "x" * 400, "b": "y" * 400, "c": i},
            "channel_versions": dict(versions),
            "versions_seen": {"node": dict(versions)},
        }
        yield cp, {"source": "loop", "step": i, "parents": {}}, dict(versions)
        i += 1


async def rate(fn: Any, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        await fn(i)
    return n / (time.perf_counter() - t)


def masters(kind: str, target: Any) -> list[redis.Redis]:
    if kind == "one":
        return [redis.Redis.from_url(target.url)]
    return [target.node_client(m) for m in target.masters()]


def sum_info(clients: list[redis.Redis], field: str) -> int:
    return sum(int(c.info("memory")[field]) for c in clients)


def evalsha_calls(clients: list[redis.Redis]) -> int:
    n = 0
    for c in clients:
        stats = c.info("commandstats")
        for name in ("cmdstat_evalsha", "cmdstat_eval"):
            n += int(stats.get(name, {}).get("calls", 0))
    return n


async def measure(kind: str, target: Any, a: argparse.Namespace, run: int) -> dict[str, float]:
    url = target.url
    res: dict[str, float] = {}
    if kind == "one":
        raw: Any = aredis.Redis.from_url(url)
    else:
        host, port = target.masters()[0].addr
        raw = acluster.RedisCluster(host=host, port=port)
    sha = await raw.script_load(FLOOR_LUA)
    payload = os.urandom(2048)
    tagk = f"{{floor{run}}}"
    res["floor"] = await rate(
        lambda i: raw.evalsha(sha, 3, f"f:{tagk}:a", f"f:{tagk}:b", f"f:{tagk}:c", payload, i),
        a.n,
    )
    await raw.aclose()

    saver = AsyncRedisSaver(url)
    await saver.asetup()
    warm = iter_steps(saver)  # first use: the slot-tag table (0.1 s once), pools, scripts
    wcfg: dict = thread_cfg(f"warm-{run}")
    for _ in range(20):
        cp, md, nv = next(warm)
        wcfg = await saver.aput(wcfg, cp, md, nv)
    [t async for t in saver.alist(None, limit=1)]
    for shape, steps in (("chat", iter_steps), ("flat", flat_steps)):
        plan = steps(saver)
        cfg: dict = thread_cfg(f"{shape}-{run}")

        async def put(i: int, plan: Any = plan) -> None:
            nonlocal cfg
            cp, md, nv = next(plan)
            cfg = await saver.aput(cfg, cp, md, nv)

        res[f"aput {shape}"] = await rate(put, a.n)
    latest = thread_cfg(f"chat-{run}")

    async def get(i: int) -> None:
        assert await saver.aget_tuple(latest) is not None

    res["aget_tuple"] = await rate(get, a.n)
    tup = await saver.aget_tuple(latest)
    assert tup is not None

    async def writes(i: int) -> None:
        await saver.aput_writes(tup.config, [("a", i), ("b", i)], f"task-{i}")

    res["aput_writes"] = await rate(writes, a.n)
    g = graph10(saver)

    async def invoke(i: int) -> None:
        await g.ainvoke({"messages": ["hi"]}, {"configurable": {"thread_id": f"g{run}-{i}"}})

    res["graph10"] = await rate(invoke, max(a.n // 20, 5))

    t0 = time.perf_counter()
    await asyncio.gather(*(invoke(10_000 + i) for i in range(500)))
    res["500 graph10 at once, graphs"] = 500 / (time.perf_counter() - t0)

    async def list10(i: int) -> None:
        assert len([t async for t in saver.alist(None, limit=10)]) == 10

    async def list_filtered(i: int) -> None:
        got = [t async for t in saver.alist(None, filter={"source": "loop"}, limit=10)]
        assert len(got) == 10

    res["list(None) 10"] = await rate(list10, max(a.n // 5, 5))
    res["list(None, filter) 10"] = await rate(list_filtered, max(a.n // 5, 5))

    plans = [(iter_steps(saver), thread_cfg(f"c{run}-{t}")) for t in range(a.threads)]
    cfgs = [c for _, c in plans]
    per = max(a.n // a.threads, 5)

    async def stepper(t: int) -> None:
        plan = plans[t][0]
        for _ in range(per):
            cp, md, nv = next(plan)
            cfgs[t] = await saver.aput(cfgs[t], cp, md, nv)

    t0 = time.perf_counter()
    await asyncio.gather(*(stepper(t) for t in range(a.threads)))
    res[f"{a.threads} threads at once, puts"] = a.threads * per / (time.perf_counter() - t0)

    # commands per put and bytes per checkpoint
    ms = masters(kind, target)
    before_calls = evalsha_calls(ms)
    before_mem = sum_info(ms, "used_memory")
    n_threads = 8
    space = [(iter_steps(saver), thread_cfg(f"m{run}-{t}")) for t in range(n_threads)]
    for t, (plan, c) in enumerate(space):
        for _ in range(a.steps):
            cp, md, nv = next(plan)
            c = await saver.aput(c, cp, md, nv)
        space[t] = (plan, c)
    res["server calls / put"] = (evalsha_calls(ms) - before_calls) / (n_threads * a.steps)
    res["bytes / checkpoint"] = (sum_info(ms, "used_memory") - before_mem) / (n_threads * a.steps)
    for c in ms:
        c.close()
    await saver.aclose()
    return res


async def big(kind: str, target: Any, a: argparse.Namespace) -> dict[str, float]:
    """list(None, limit=10) over `--big` checkpoints (1,000 threads, small checkpoints, put
    64 at a time), with and without a filter."""
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.base.id import uuid6

    saver = AsyncRedisSaver(target.url)
    await saver.asetup()
    per = a.big // 1000

    async def thread(t: int) -> None:
        config: dict = thread_cfg(f"big-{t}")
        for i in range(per):
            c = {**empty_checkpoint(), "id": str(uuid6(clock_seq=i))}
            md = {"source": "loop" if i % 2 else "input", "step": i, "user": f"u{t % 10}"}
            config = await saver.aput(config, c, md, {})

    for start in range(0, 1000, 64):
        await asyncio.gather(*(thread(t) for t in range(start, min(start + 64, 1000))))
    res: dict[str, float] = {}

    async def list10(i: int) -> None:
        assert len([t async for t in saver.alist(None, limit=10)]) == 10

    async def filtered(i: int) -> None:
        got = [t async for t in saver.alist(None, filter={"user": "u3"}, limit=10)]
        assert len(got) == 10

    res[f"list(None) 10 of {a.big:,}"] = await rate(list10, 30)
    res[f"list(None, filter) 10 of {a.big:,}"] = await rate(filtered, 30)
    await saver.aclose()
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=1000, help="calls per timed workload")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=64)
    ap.add_argument("--big", type=int, default=100_000, help="checkpoints for the big list")
    a = ap.parse_args()
    one = EmbeddedServer().start()
    cl = Cluster(None, masters=3).start()
    runs: dict[str, list[dict[str, float]]] = {"one": [], "cluster": []}
    try:
        for run in range(a.runs):
            for kind, target in (("one", one), ("cluster", cl)):
                runs[kind].append(asyncio.run(measure(kind, target, a, run)))
        if a.big:
            for kind, target in (("one", one), ("cluster", cl)):
                extra = asyncio.run(big(kind, target, a))
                for r in runs[kind]:
                    r.update(extra)  # measured once: the same figure in every run
    finally:
        cl.stop()
        one.stop()
    rows = list(runs["one"][0])
    lines = [
        f"Ours, one Valkey 9.1 vs a 3-master Valkey 9.1 cluster on loopback, median of "
        f"{a.runs} runs, `python benchmarks/cluster.py --runs {a.runs} --n {a.n} "
        f"--steps {a.steps} --big {a.big}`",
        "",
        "| workload | one server | cluster | cluster / one | % of floor (one) | "
        "% of floor (cluster) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        one_v = statistics.median(x[r] for x in runs["one"])
        cl_v = statistics.median(x[r] for x in runs["cluster"])
        ratio = statistics.median(
            c[r] / o[r] for o, c in zip(runs["one"], runs["cluster"], strict=True)
        )
        if r in ("server calls / put", "bytes / checkpoint"):
            lines.append(f"| {r} | {one_v:,.2f} | {cl_v:,.2f} | {ratio:.2f}x | | |")
            continue
        pct = ""
        if r.startswith(("aput", "aget", "aput_writes")):
            fo = statistics.median(x[r] / x["floor"] for x in runs["one"])
            fc = statistics.median(x[r] / x["floor"] for x in runs["cluster"])
            pct = f"| {fo:.0%} | {fc:.0%} |"
        else:
            pct = "| | |"
        lines.append(f"| {r} (calls/s) | {one_v:,.0f} | {cl_v:,.0f} | {ratio:.2f}x {pct}")
    text = "\n".join(lines) + "\n"
    print(text)
    out = HERE / "results" / "cluster.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
