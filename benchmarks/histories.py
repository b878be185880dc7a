"""Issue 12: a long conversation's space and step cost, before and after the logs, in one run.

One thread, one ~200-byte message appended per step (a dict, as a chat message serializes),
`aput` of each step in order; on a fresh embedded Valkey per saver. Savers, each in a worker
process of its own (`--worker`): `base` (git revision --baseline, checked out into a temporary
worktree: format 3, deltas with a snapshot every 16), `ours` (this tree, delta_mode "exact", the
default) and `identity` (this tree, delta_mode "identity"); and `floor`, a bare script per step
that stores what no layout can avoid: the message once (APPEND to one string) and a record of
the checkpoint (a hash with the same envelope our saver writes, and an index entry).

Measured at --points steps (default 10, 100, 300, 1,000, 3,000, 10,000):
- bytes per checkpoint: used_memory growth / steps, and the sum of MEMORY USAGE over the
  thread's keys / steps (both: the first counts allocator slack, the second each key's own);
- step cost: median time of one aput over the 50 steps before the point, in µs; and, for
  `exact`, the time of the serde's dumps_typed of the whole list at that point: what any saver
  that stores a value byte for byte as given (InMemorySaver, the incumbent, "exact") pays.
Then two shapes of writers, 1,000 steps each, bytes per checkpoint against one saver:
- `eight`: eight savers (eight memories) write the steps, each step by a random one of them;
- `restart`: a saver writes 500 steps, a new saver (no memory: a restarted process) writes the
  next one without reading; reported as the bytes that step added, against one message.

Last, the metadata indexes on a set of --filter-n checkpoints (100 threads of 100 steps per
10,000, as benchmarks/workloads.py's filter section): index keys, their bytes per checkpoint,
and list(None, filter=..., limit=10) rates, this tree against base: both sets populated once,
each on its own server, then ROUNDS rounds that measure base and this tree one after the other
(a worker process each); the ratio is the median of the per-round ratios.

    python benchmarks/histories.py [--baseline REV] [--max 10000] [--filter-n 100000]

Prints a markdown table (and writes benchmarks/results/histories.md and .json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from harness.servers import (  # noqa: E402
    flushall,
    incumbent_python,
    start_redis_stack,
    stop_redis_stack,
)
from harness.workers import tree_worker  # noqa: E402
from trees import worktree  # noqa: E402

POINTS = (10, 100, 300, 1000, 3000, 10000)
ROUNDS = 5
FILTER_N = 100_000
WINDOW = 50


def message(i: int) -> dict[str, str]:
    return {"id": f"msg-{i:06d}", "type": "human", "content": f"{i:06d} " + "x" * 160}


def steps(n: int) -> Any:
    """(checkpoint, metadata, new_versions) of step i, the list built as a reducer does."""
    from langgraph.checkpoint.base import empty_checkpoint

    msgs: list[Any] = []
    for i in range(n):
        msgs = [*msgs, message(i)]
        cp = empty_checkpoint()
        cp["id"] = f"1f000000-0000-6000-8000-{i:012d}"
        v = f"{i + 1:032d}.0"
        cp["channel_values"] = {"messages": msgs, "step": i}
        cp["channel_versions"] = {"messages": v, "step": v}
        cp["versions_seen"] = {"node": {"step": v}}
        yield cp, {"source": "loop", "step": i, "parents": {}}, {"messages": v, "step": v}


def dumps_us(serde: Any, value: Any) -> float:
    """Median time of the serde's dumps_typed of one value, µs (5 calls)."""
    ts = []
    for _ in range(5):
        t = time.perf_counter()
        serde.dumps_typed(value)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e6


def copy_us(value: list[Any]) -> float:
    """Median time of a tuple of the list's items made and released, µs (5 times): what
    identity mode pays per step to hold the items it compares the next list with."""
    ts = []
    for _ in range(5):
        t = time.perf_counter()
        held = tuple(value)
        del held
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e6


def thread_usage(r: Any, thread: str) -> int:
    total = 0
    for key in r.scan_iter(match=f"*{thread}*", count=1000):
        total += r.memory_usage(key, samples=0) or 0
    return total


async def measure_one(url: str, mode: str, points: tuple[int, ...]) -> dict[str, Any]:
    import redis
    from langgraph.checkpoint.redis import AsyncRedisSaver

    r = redis.Redis.from_url(url)
    kw = {} if mode == "base" else {"delta_mode": mode}
    saver = AsyncRedisSaver(redis_url=url, **kw)
    await saver.asetup()
    warm: dict[str, Any] = {"configurable": {"thread_id": "warm", "checkpoint_ns": ""}}
    for cp, md, nv in steps(20):  # connections open, scripts loaded: step 10 is a step
        warm = await saver.aput(warm, cp, md, nv)
    base_mem = r.info("memory")["used_memory"]
    thread = "hist"
    parent: dict[str, Any] = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    times: list[float] = []
    out: dict[str, Any] = {}
    for i, (cp, md, nv) in enumerate(steps(max(points)), start=1):
        t = time.perf_counter()
        parent = await saver.aput(parent, cp, md, nv)
        times.append(time.perf_counter() - t)
        if i in points:
            out[str(i)] = {
                "used": (r.info("memory")["used_memory"] - base_mem) / i,
                "usage": thread_usage(r, thread) / i,
                "step_us": statistics.median(times[-WINDOW:]) * 1e6,
                "dumps_us": dumps_us(saver.serde, cp["channel_values"]["messages"]),
                "copy_us": copy_us(cp["channel_values"]["messages"]),
            }
    if hasattr(saver, "aclose"):  # the incumbent has none
        await saver.aclose()
    r.close()
    return out


FLOOR_LUA = """
redis.call('APPEND', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'd', ARGV[2], 'p', ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[4])
return 1
"""


def measure_floor(url: str, points: tuple[int, ...]) -> dict[str, Any]:
    import ormsgpack
    import redis
    from langgraph.checkpoint.redis.codec import pack_checkpoint
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    serde = JsonPlusSerializer()
    r = redis.Redis.from_url(url)
    script = r.register_script(FLOOR_LUA)
    for i in range(20):  # warm, as the savers are: connection open, script loaded
        script(keys=["log:{warm}", f"cp:{{warm}}:{i}", "idx:{warm}"], args=["x", "d", "p", i])
    base_mem = r.info("memory")["used_memory"]
    out: dict[str, Any] = {}
    times: list[float] = []
    for i, (cp, md, _) in enumerate(steps(max(points)), start=1):
        skeleton = {k: v for k, v in cp.items() if k != "channel_values"}
        d = pack_checkpoint(serde, skeleton, md)
        item = ormsgpack.packb(cp["channel_values"]["messages"][-1])
        keys = ["log:{hist}", f"cp:{{hist}}:{cp['id']}", "idx:{hist}"]
        t = time.perf_counter()
        script(keys=keys, args=[item, d, "p" * 36, cp["id"]])
        times.append(time.perf_counter() - t)
        if i in points:
            out[str(i)] = {
                "used": (r.info("memory")["used_memory"] - base_mem) / i,
                "usage": thread_usage(r, "hist") / i,
                "step_us": statistics.median(times[-WINDOW:]) * 1e6,
            }
    r.close()
    return out


def measure_writers(url: str, shape: str) -> dict[str, Any]:
    import redis
    from langgraph.checkpoint.redis import RedisSaver

    r = redis.Redis.from_url(url)
    n = 1000 if shape == "eight" else 500
    savers = [RedisSaver(redis_url=url) for _ in range(8 if shape == "eight" else 1)]
    savers[0].setup()
    rng = random.Random(7)
    thread = f"w-{shape}"
    parent: dict[str, Any] = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    plan = list(steps(n + 1))
    for cp, md, nv in plan[:n]:
        parent = rng.choice(savers).put(parent, cp, md, nv)
    before = thread_usage(r, thread)
    if shape == "restart":
        fresh = RedisSaver(redis_url=url)
        parent = fresh.put(parent, *plan[n])
        fresh.close()
        out = {"step_bytes": thread_usage(r, thread) - before}
    else:
        out = {"usage": before / n}
    for s in savers:
        s.close()
    r.close()
    return out


async def measure_filter(url: str, n: int, phase: str) -> dict[str, Any]:
    """The metadata indexes on workloads.filter_plan's set (n/100 threads of 100 steps):
    phase "populate" writes the set and reports the indexes' keys and bytes per checkpoint;
    phase "rate" measures filtered list(None) rates on the set already there."""
    import redis
    from langgraph.checkpoint.redis import AsyncRedisSaver

    from workloads import FILTER, populate, rate

    r = redis.Redis.from_url(url)
    saver = AsyncRedisSaver(redis_url=url)
    await saver.asetup()
    out: dict[str, Any] = {}
    if phase == "populate":
        await populate(saver, n)
        by = [k for k in r.scan_iter(match="checkpoint_by*", count=1000)]
        out["index_keys"] = len(by)
        out["index_bytes"] = sum(r.memory_usage(k, samples=0) or 0 for k in by) / n
        await saver.aclose()
        r.close()
        return out
    for _ in range(20):  # warm: scripts loaded, connections open
        [t async for t in saver.alist(None, filter=FILTER, limit=10)]
    for name, f in (("filter", FILTER), ("filter_user", {"user": "u3"})):

        async def lists(i: int, f: dict[str, Any] = f) -> None:
            got = [t async for t in saver.alist(None, filter=f, limit=10)]
            assert len(got) == 10, len(got)

        out[name] = await rate(lists, 200)
    await saver.aclose()
    r.close()
    return out


def _worker(
    src: Path | None,
    what: str,
    url: str,
    points: tuple[int, ...],
    python: str = sys.executable,
    phase: str = "populate",
) -> Any:
    argv = [python, __file__, "--worker", what, "--url", url, "--phase", phase]
    argv += ["--points", ",".join(map(str, points)), "--filter-n", str(FILTER_N)]
    return tree_worker(argv, src, what)


def filter_rounds(base: Path, points: tuple[int, ...]) -> dict[str, Any]:
    """Each tree's filter set on a server of its own, then ROUNDS rounds of base then this tree
    (rates in worker processes, one after the other): the median of the per-round ratios."""
    from langgraph.checkpoint.redis.embedded import EmbeddedServer

    trees = (("filter", ROOT / "src"), ("base filter", base))
    with EmbeddedServer() as s1, EmbeddedServer() as s2:
        urls = {"filter": s1.url, "base filter": s2.url}
        res = {name: _worker(src, "filter", urls[name], points) for name, src in trees}
        rounds: list[dict[str, Any]] = []
        for k in range(ROUNDS):
            got = {
                name: _worker(src, "filter", urls[name], points, phase="rate")
                for name, src in (trees if k % 2 else trees[::-1])
            }
            rounds.append(got)
            print(f"filter round {k + 1} done", file=sys.stderr)
    for name in ("filter", "base filter"):
        for key in ("filter", "filter_user"):
            res[name][key] = statistics.median(r[name][key] for r in rounds)
    for key in ("filter", "filter_user"):
        res["filter"][key + "_ratio"] = statistics.median(
            r["filter"][key] / r["base filter"][key] for r in rounds
        )
    res["filter"]["rounds"] = rounds
    return res


def incumbent_rows(points: tuple[int, ...], top: int) -> list[str]:
    """The incumbent (its venv, ../shared/anchor/anchor-venv.sh) and ours, one after the other
    on one Redis Stack 7.4 server (FLUSHALL between), the history shape to min(top, 3,000)."""
    pts = tuple(p for p in points if 100 <= p <= min(top, 3000))  # 10: fixed costs only
    port = "16395"
    url = start_redis_stack(port)
    py = incumbent_python()
    got: dict[str, Any] = {}
    try:
        for name, src, python in (("incumbent", None, py), ("ours", ROOT / "src", sys.executable)):
            flushall(url)
            got[name] = _worker(src, "base", url, pts, python)
            print(f"{name} on Redis Stack done", file=sys.stderr)
    finally:
        stop_redis_stack(port)
    rows = [
        "",
        "On Redis Stack 7.4, one after the other (the incumbent 0.5.2 in its own venv):",
        "",
        "| steps | incumbent bytes/cp (used_memory) | ours | ours / incumbent "
        "| incumbent step µs | ours step µs |",
        "|---|---|---|---|---|---|",
    ]
    for p in pts:
        i, o = got["incumbent"][str(p)], got["ours"][str(p)]
        rows.append(
            f"| {p:,} | {i['used']:,.0f} | {o['used']:,.0f} | {o['used'] / i['used']:.2f}x "
            f"| {i['step_us']:,.0f} | {o['step_us']:,.0f} |"
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="7e0d5a7", help="the revision measured as `base`")
    ap.add_argument("--max", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3, help="runs of the step-time rows")
    ap.add_argument("--points", default="")
    ap.add_argument("--filter-n", type=int, default=100_000, help="checkpoints, filter rows")
    ap.add_argument(
        "--incumbent",
        action="store_true",
        help="also the incumbent 0.5.2 and ours on Redis Stack 7.4 (../shared/anchor), to 3,000",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--phase", default="populate", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    a = ap.parse_args()
    points = (
        tuple(int(x) for x in a.points.split(","))
        if a.points
        else tuple(p for p in POINTS if p <= a.max)
    )
    if a.worker:
        if a.worker == "floor":
            print(json.dumps(measure_floor(a.url, points)))
        elif a.worker == "filter":
            print(json.dumps(asyncio.run(measure_filter(a.url, a.filter_n, a.phase))))
        elif a.worker in ("eight", "one", "restart"):
            print(json.dumps(measure_writers(a.url, a.worker)))
        else:
            print(json.dumps(asyncio.run(measure_one(a.url, a.worker, points))))
        return

    sys.path.insert(0, str(ROOT / "src"))
    from langgraph.checkpoint.redis.embedded import EmbeddedServer

    res: dict[str, Any] = {}
    with worktree(a.baseline, "hist-base-") as base:
        plan = [
            ("floor", ROOT / "src"),
            ("base", base / "src"),
            ("exact", ROOT / "src"),
            ("identity", ROOT / "src"),
            ("eight", ROOT / "src"),
            ("one", ROOT / "src"),
            ("restart", ROOT / "src"),
            ("base eight", base / "src"),
            ("base one", base / "src"),
            ("base restart", base / "src"),
        ]
        global FILTER_N
        FILTER_N = a.filter_n
        for name, src in plan:
            with EmbeddedServer() as srv:
                res[name] = _worker(src, name.split()[-1], srv.url, points)
            print(f"{name} done", file=sys.stderr)
        # the step times again, a.runs - 1 more times, the savers in turn: a step's time on
        # this machine varies by a third from minute to minute, a ratio within one run less
        for k in range(1, a.runs):
            for name, src in plan[:4]:
                with EmbeddedServer() as srv:
                    again = _worker(src, name, srv.url, points)
                res.setdefault(f"{name} runs", [res[name]]).append(again)
                print(f"{name} run {k + 1} done", file=sys.stderr)
        for name, _ in plan[:4]:
            runs = json.loads(json.dumps(res.setdefault(f"{name} runs", [res[name]])))
            for p in points:
                res[name][str(p)]["step_us"] = statistics.median(r[str(p)]["step_us"] for r in runs)
                res[name][str(p)]["step_ratio"] = statistics.median(
                    r[str(p)]["step_us"] / r[str(points[0])]["step_us"] for r in runs
                )
            res[f"{name} runs"] = runs  # each run as measured (res[name] now holds medians)
        if a.filter_n:
            res.update(filter_rounds(base / "src", points))
    cmd = f"python benchmarks/histories.py --baseline {a.baseline} --max {a.max} --runs {a.runs}"
    lines = [
        f"One thread, one ~200-byte message per step, on a fresh Valkey 9.1 per saver; "
        f"base = {a.baseline} (format 3: deltas, a snapshot every 16), exact and identity = "
        f"this tree's delta modes, floor = the message once plus a bare checkpoint record. "
        f"`{cmd}`",
        "",
        "| steps | saver | bytes/cp (used_memory) | x floor | bytes/cp (MEMORY USAGE) "
        f"| x floor | step µs | step / step at {points[0]:,} "
        "| exact: dumps_typed of the list µs | identity: its items held (tuple made, freed) µs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        fl = res["floor"][str(p)]
        for name in ("floor", "base", "exact", "identity"):
            row = res[name][str(p)]
            lines.append(
                f"| {p:,} | {name} | {row['used']:,.0f} | {row['used'] / fl['used']:.2f}x "
                f"| {row['usage']:,.0f} | {row['usage'] / fl['usage']:.2f}x "
                f"| {row['step_us']:,.0f} | {row['step_ratio']:.2f}x "
                + (f"| {row['dumps_us']:,.0f} | |" if name == "exact" else "")
                + (f"| | {row['copy_us']:,.0f} |" if name == "identity" else "")
                + ("| | |" if name in ("floor", "base") else "")
            )
    last, first = str(points[-1]), str(points[0])
    lines += [
        "",
        "| growth, step " + f"{points[-1]:,} / step {points[0]:,}" + " | base | exact "
        "| identity | floor |",
        "|---|---|---|---|---|",
    ]
    for key, label in (
        ("used", "bytes/cp (used_memory)"),
        ("usage", "bytes/cp (MEMORY USAGE)"),
        ("step_us", "step time (median of per-run ratios)"),
    ):
        cells = [
            f"{res[n][last]['step_ratio']:.2f}x"
            if key == "step_us"
            else f"{res[n][last][key] / res[n][first][key]:.2f}x"
            for n in ("base", "exact", "identity", "floor")
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| writers (1,000 steps) | this tree | base |",
        "|---|---|---|",
        f"| eight savers, random turns: bytes/cp vs one saver | "
        f"{res['eight']['usage'] / res['one']['usage']:.2f}x "
        f"| {res['base eight']['usage'] / res['base one']['usage']:.2f}x |",
        f"| a restarted saver's first step (at 500): bytes added, vs one message "
        f"({len(json.dumps(message(0)))} B as JSON) | {res['restart']['step_bytes']:,} B "
        f"| {res['base restart']['step_bytes']:,} B |",
    ]
    if a.incumbent:
        lines += incumbent_rows(points, a.max)
    if a.filter_n:
        f, b = res["filter"], res["base filter"]
        lines += [
            "",
            f"| metadata indexes, {a.filter_n:,} checkpoints (workloads.filter_plan) "
            "| this tree | base | this / base |",
            "|---|---|---|---|",
            f"| index keys | {f['index_keys']:,} | {b['index_keys']:,} "
            f"| {f['index_keys'] / b['index_keys']:.3f}x |",
            f"| index bytes per checkpoint (MEMORY USAGE) | {f['index_bytes']:,.0f} "
            f"| {b['index_bytes']:,.0f} | {f['index_bytes'] / b['index_bytes']:.2f}x |",
            f"| list(None, filter={{source, step}}, limit=10), calls/s (median of {ROUNDS} "
            f"alternating rounds; ratio: median of per-round ratios) | {f['filter']:,.0f} "
            f"| {b['filter']:,.0f} | {f['filter_ratio']:.2f}x |",
            f"| list(None, filter={{user}}, limit=10), calls/s (same) | {f['filter_user']:,.0f} "
            f"| {b['filter_user']:,.0f} | {f['filter_user_ratio']:.2f}x |",
        ]
    text = "\n".join(lines)
    print(text)
    out = HERE / "results"
    (out / "histories.md").write_text(text + "\n")
    (out / "histories.json").write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
