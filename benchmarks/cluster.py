"""Ours on a Redis Cluster against ours on one server, before and after a change, in one run.

    python benchmarks/cluster.py [--baseline REV] [--runs 3] [--steps 300] [--threads 64]

Starts an embedded Valkey 9.1 and a Valkey 9.1 cluster of 3 masters on loopback
(tests/cluster.py assembles it), all on this machine, so the cluster pays its client-side
routing and the fan-out, not a network. Each run measures three savers, each in a worker
process (`--worker`): `base` (the saver of git revision REV, checked out into a temporary
worktree, on the one server: the figures before the change), `one` (this tree on the same
server) and `cluster` (this tree on the cluster). base and one take turns going first. Each
measures:

- the bare-script floor: a 3-write Lua script by EVALSHA, sequential, through a plain asyncio
  client to the server (on the cluster: to the master of the script's slot);
- aput on two shapes: `chat` (a message list growing by one ~100-byte message per step, as
  the side-by-side harness's step plan) and `flat` (three small channels, 1 KB of state);
- aget_tuple of the latest checkpoint, aput_writes (2 writes), the 10-node graph;
- list(None, limit=10) and list(None, filter={"source": "loop"}, limit=10): the fan-out;
- `--threads` threads stepping concurrently (aggregate puts/s), 500 graphs at once;
- CPU per operation (this process plus the servers' INFO cpu) of the sequential and the
  concurrent workloads: what an operation costs the machine, however its two cores are
  shared between the client and the servers;
- list(None, limit=10), plain and filtered, over `--big` checkpoints (1,000 threads), once;
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
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aredis
import redis.cluster as scluster

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from harness.workers import tree_worker  # noqa: E402
from trees import worktree  # noqa: E402
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


def server_cpu(clients: list[redis.Redis]) -> float:
    """CPU seconds the servers have used (INFO cpu, user + system, summed)."""
    total = 0.0
    for c in clients:
        info = c.info("cpu")
        total += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return total


class Cost:
    """CPU seconds per operation, the client's (this process) and the servers' together:
    what an operation costs the machine, whatever else shares its cores (a wall-clock rate on
    two cores that also run three masters measures contention as much as the code)."""

    def __init__(self, servers: list[redis.Redis]) -> None:
        self.servers = servers

    def __enter__(self) -> Cost:
        self.client0, self.server0 = time.process_time(), server_cpu(self.servers)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client = time.process_time() - self.client0
        self.server = server_cpu(self.servers) - self.server0

    def per(self, n: int) -> float:
        """Microseconds of CPU per operation."""
        return (self.client + self.server) / n * 1e6


def masters(url: str) -> list[redis.Redis]:
    """A plain client per master (the server itself when it is not a cluster)."""
    plain = redis.Redis.from_url(url)
    if str(plain.info("cluster").get("cluster_enabled", 0)) != "1":
        return [plain]
    plain.close()
    cl = scluster.RedisCluster.from_url(url)
    try:
        return [redis.Redis(n.host, n.port) for n in cl.get_primaries()]
    finally:
        cl.close()


def master_of(url: str, key: str) -> str:
    """The URL of the master serving `key` (the server itself when it is not a cluster)."""
    plain = redis.Redis.from_url(url)
    try:
        if str(plain.info("cluster").get("cluster_enabled", 0)) != "1":
            return url
    finally:
        plain.close()
    cl = scluster.RedisCluster.from_url(url)
    try:
        node = cl.get_node_from_key(key)
        return f"redis://{node.host}:{node.port}"
    finally:
        cl.close()


def sum_info(clients: list[redis.Redis], field: str) -> int:
    return sum(int(c.info("memory")[field]) for c in clients)


def evalsha_calls(clients: list[redis.Redis]) -> int:
    n = 0
    for c in clients:
        stats = c.info("commandstats")
        for name in ("cmdstat_evalsha", "cmdstat_eval"):
            n += int(stats.get(name, {}).get("calls", 0))
    return n


async def measure(url: str, a: argparse.Namespace, run: int) -> dict[str, float]:
    from langgraph.checkpoint.redis import AsyncRedisSaver

    res: dict[str, float] = {}
    tagk = f"{{floor{run}}}"
    raw = aredis.Redis.from_url(master_of(url, tagk))
    sha = await raw.script_load(FLOOR_LUA)
    payload = os.urandom(2048)
    res["floor"] = await rate(
        lambda i: raw.evalsha(sha, 3, f"f:{tagk}:a", f"f:{tagk}:b", f"f:{tagk}:c", payload, i),
        a.n,
    )
    await raw.aclose()

    ms = masters(url)
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

        with Cost(ms) as cost:
            res[f"aput {shape}"] = await rate(put, a.n)
        res[f"aput {shape}, CPU µs/call"] = cost.per(a.n)
    latest = thread_cfg(f"chat-{run}")

    async def get(i: int) -> None:
        assert await saver.aget_tuple(latest) is not None

    with Cost(ms) as cost:
        res["aget_tuple"] = await rate(get, a.n)
    res["aget_tuple, CPU µs/call"] = cost.per(a.n)
    tup = await saver.aget_tuple(latest)
    assert tup is not None

    async def writes(i: int) -> None:
        await saver.aput_writes(tup.config, [("a", i), ("b", i)], f"task-{i}")

    with Cost(ms) as cost:
        res["aput_writes"] = await rate(writes, a.n)
    res["aput_writes, CPU µs/call"] = cost.per(a.n)
    g = graph10(saver)

    async def invoke(i: int) -> None:
        await g.ainvoke({"messages": ["hi"]}, {"configurable": {"thread_id": f"g{run}-{i}"}})

    with Cost(ms) as cost:
        res["graph10"] = await rate(invoke, max(a.n // 20, 5))
    res["graph10, CPU µs/graph"] = cost.per(max(a.n // 20, 5))

    with Cost(ms) as cost:
        t0 = time.perf_counter()
        await asyncio.gather(*(invoke(10_000 + i) for i in range(500)))
        res["500 graph10 at once, graphs"] = 500 / (time.perf_counter() - t0)
    res["500 graph10 at once, CPU µs/graph"] = cost.per(500)

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

    with Cost(ms) as cost:
        t0 = time.perf_counter()
        await asyncio.gather(*(stepper(t) for t in range(a.threads)))
        res[f"{a.threads} threads at once, puts"] = a.threads * per / (time.perf_counter() - t0)
    res[f"{a.threads} threads at once, CPU µs/put"] = cost.per(a.threads * per)

    # commands per put and bytes per checkpoint
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


async def big(url: str, a: argparse.Namespace) -> dict[str, float]:
    """list(None, limit=10) over `--big` checkpoints (1,000 threads, small checkpoints, put
    64 at a time), with and without a filter."""
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.base.id import uuid6
    from langgraph.checkpoint.redis import AsyncRedisSaver

    saver = AsyncRedisSaver(url)
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


def _run_worker(src: Path, url: str, a: argparse.Namespace, what: str, run: int) -> Any:
    """One measurement in a fresh process whose `langgraph.checkpoint.redis` comes from `src`
    (this tree's or the baseline's)."""
    argv = [sys.executable, __file__, "--worker", what, "--url", url, "--run", str(run)]
    argv += ["--n", str(a.n), "--steps", str(a.steps), "--threads", str(a.threads)]
    argv += ["--big", str(a.big)]
    return tree_worker(argv, src, what)


def _flush(target: Any) -> None:
    """Empty a server (FLUSHALL), or every master of a cluster (tests/cluster.py)."""
    if hasattr(target, "flushall"):
        target.flushall()
        return
    c = redis.Redis.from_url(target.url)
    c.flushall()
    c.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="416da94", help="the revision measured as `base`")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=1000, help="calls per timed workload")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=64)
    ap.add_argument("--big", type=int, default=100_000, help="checkpoints for the big list")
    ap.add_argument("--worker", choices=["measure", "big"], help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--run", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker == "measure":
        print(json.dumps(asyncio.run(measure(a.url, a, a.run))))
        return
    if a.worker == "big":
        print(json.dumps(asyncio.run(big(a.url, a))))
        return

    sys.path.insert(0, str(ROOT))
    from langgraph.checkpoint.redis.embedded import EmbeddedServer
    from tests.cluster import Cluster

    kinds = ("base", "one", "cluster")
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    with worktree(a.baseline, "cluster-base-") as base:
        one = EmbeddedServer().start()
        cl = Cluster(None, masters=3).start()
        try:
            where = {"base": (base / "src", one), "one": (ROOT / "src", one)}
            where["cluster"] = (ROOT / "src", cl)
            for run in range(a.runs):
                order = ["base", "one"] if run % 2 == 0 else ["one", "base"]
                for kind in [*order, "cluster"]:
                    src, target = where[kind]
                    _flush(target)  # each saver starts from an empty key space
                    runs[kind].append(_run_worker(src, target.url, a, "measure", run))
                print(f"run {run + 1}/{a.runs} done", file=sys.stderr)
            if a.big:
                for kind in kinds:
                    src, target = where[kind]
                    _flush(target)
                    extra = _run_worker(src, target.url, a, "big", 0)
                    for r in runs[kind]:
                        r.update(extra)  # measured once: the same figure in every run
        finally:
            cl.stop()
            one.stop()
    report(runs, a)


def report(runs: dict[str, list[dict[str, float]]], a: argparse.Namespace) -> None:
    def med(kind: str, r: str) -> float:
        return statistics.median(x[r] for x in runs[kind])

    def ratio(num: str, den: str, r: str) -> float:
        return statistics.median(n[r] / d[r] for n, d in zip(runs[num], runs[den], strict=True))

    lines = [
        f"Ours, one Valkey 9.1 (base = {a.baseline}, one = this tree) and a 3-master Valkey "
        f"9.1 cluster on loopback (this tree), median of {a.runs} runs, "
        f"`python benchmarks/cluster.py --baseline {a.baseline} --runs {a.runs} --n {a.n} "
        f"--steps {a.steps} --big {a.big}`",
        "",
        "Rates are calls per second (higher is better); `CPU µs` rows are microseconds of CPU "
        "per operation, the client's and the servers' together, and `bytes` rows are bytes "
        "(lower is better: their ratios are ratios of costs, not of rates).",
        "",
        "| workload | base | one | cluster | one / base | cluster / one | "
        "% of floor (one) | % of floor (cluster) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs["one"][0]:
        cost = r in ("server calls / put", "bytes / checkpoint") or "CPU" in r
        digits = ",.2f" if cost and "CPU" not in r else ",.0f"
        cells = [format(med(k, r), digits) for k in ("base", "one", "cluster")]
        pct = "| | |"
        if r.startswith(("aput", "aget", "aput_writes")) and not cost:
            fo = statistics.median(x[r] / x["floor"] for x in runs["one"])
            fc = statistics.median(x[r] / x["floor"] for x in runs["cluster"])
            pct = f"| {fo:.0%} | {fc:.0%} |"
        lines.append(
            f"| {r} | {' | '.join(cells)} | {ratio('one', 'base', r):.2f}x "
            f"| {ratio('cluster', 'one', r):.2f}x {pct}"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    out = HERE / "results" / "cluster.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    (HERE / "results" / "cluster.json").write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
