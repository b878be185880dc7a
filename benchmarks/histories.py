"""Issue 12: a long conversation's space and step cost, before and after the logs, in one run.

One thread, one ~200-byte message appended per step (a dict, as a chat message serializes),
`aput` of each step in order; on a fresh embedded Valkey per saver. Savers, each in a worker
process of its own (`--worker`): `base` (git revision --baseline, checked out into a temporary
worktree: format 3, deltas with a snapshot every 16), `ours` (this tree, delta_mode "exact", the
default) and `identity` (this tree, delta_mode "identity"); and `floor`, a bare script per step
that stores what no layout can avoid: the message once (APPEND to one string) and a record of
the checkpoint (a hash with the same envelope our saver writes, and an index entry).

Measured at --points steps (default 100, 300, 1,000, 3,000, 10,000):
- bytes per checkpoint: used_memory growth / steps, and the sum of MEMORY USAGE over the
  thread's keys / steps (both: the first counts allocator slack, the second each key's own);
- step cost: median time of one aput over the 50 steps before the point, in µs.
Then two shapes of writers, 1,000 steps each, bytes per checkpoint against one saver:
- `eight`: eight savers (eight memories) write the steps, each step by a random one of them;
- `restart`: a saver writes 500 steps, a new saver (no memory: a restarted process) writes the
  next one without reading; reported as the bytes that step added, against one message.

Last, the metadata indexes on a set of --filter-n checkpoints (100 threads of 100 steps per
10,000, as benchmarks/workloads.py's filter section): index keys, their bytes per checkpoint,
and list(None, filter=..., limit=10) rates, this tree against base.

    python benchmarks/histories.py [--baseline REV] [--max 10000] [--filter-n 100000]

Prints a markdown table (and writes benchmarks/results/histories.md and .json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from trees import worktree  # noqa: E402

POINTS = (100, 300, 1000, 3000, 10000)
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


async def measure_filter(url: str, n: int) -> dict[str, Any]:
    """The metadata indexes on workloads.filter_plan's set (n/100 threads of 100 steps):
    their bytes and keys per checkpoint, and filtered list(None) rates."""
    import redis
    from langgraph.checkpoint.redis import AsyncRedisSaver

    from workloads import FILTER, populate, rate

    r = redis.Redis.from_url(url)
    saver = AsyncRedisSaver(redis_url=url)
    await saver.asetup()
    await populate(saver, n)
    by = [k for k in r.scan_iter(match="checkpoint_by*", count=1000)]
    out: dict[str, Any] = {
        "index_keys": len(by),
        "index_bytes": sum(r.memory_usage(k, samples=0) or 0 for k in by) / n,
    }
    for name, f in (("filter", FILTER), ("filter_user", {"user": "u3"})):

        async def lists(i: int, f: dict[str, Any] = f) -> None:
            got = [t async for t in saver.alist(None, filter=f, limit=10)]
            assert len(got) == 10, len(got)

        out[name] = await rate(lists, 200)
    await saver.aclose()
    r.close()
    return out


def _worker(
    src: Path | None, what: str, url: str, points: tuple[int, ...], python: str = sys.executable
) -> Any:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    argv = [python, __file__, "--worker", what, "--url", url]
    argv += ["--points", ",".join(map(str, points)), "--filter-n", str(FILTER_N)]
    got = subprocess.run(argv, env=env, capture_output=True, text=True)
    if got.returncode:
        raise RuntimeError(f"worker {what} on {src} failed:\n{got.stderr[-3000:]}")
    return json.loads(got.stdout.strip().splitlines()[-1])


def incumbent_rows(points: tuple[int, ...], top: int) -> list[str]:
    """The incumbent (its venv, ../shared/anchor/anchor-venv.sh) and ours, one after the other
    on one Redis Stack 7.4 server (FLUSHALL between), the history shape to min(top, 3,000)."""
    anchor = ROOT.parent / "shared" / "anchor"

    def sh(argv: list[str]) -> str:
        return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()

    pts = tuple(p for p in points if p <= min(top, 3000))
    port = "16395"
    url = sh(["bash", str(anchor / "redis-stack.sh"), "start", port])
    py = sh(["bash", str(anchor / "anchor-venv.sh")]) + "/bin/python"
    import redis

    got: dict[str, Any] = {}
    try:
        for name, src, python in (("incumbent", None, py), ("ours", ROOT / "src", sys.executable)):
            r = redis.Redis.from_url(url)
            r.flushall()
            r.close()
            got[name] = _worker(src, "base", url, pts, python)
            print(f"{name} on Redis Stack done", file=sys.stderr)
    finally:
        sh(["bash", str(anchor / "redis-stack.sh"), "stop", port])
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
    ap.add_argument("--points", default="")
    ap.add_argument("--filter-n", type=int, default=100_000, help="checkpoints, filter rows")
    ap.add_argument(
        "--incumbent",
        action="store_true",
        help="also the incumbent 0.5.2 and ours on Redis Stack 7.4 (../shared/anchor), to 3,000",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
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
            print(json.dumps(asyncio.run(measure_filter(a.url, a.filter_n))))
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
            ("filter", ROOT / "src"),
            ("base filter", base / "src"),
        ]
        global FILTER_N
        FILTER_N = a.filter_n
        if not a.filter_n:
            plan = [x for x in plan if not x[0].endswith("filter")]
        for name, src in plan:
            with EmbeddedServer() as srv:
                res[name] = _worker(src, name.split()[-1], srv.url, points)
            print(f"{name} done", file=sys.stderr)
    cmd = f"python benchmarks/histories.py --baseline {a.baseline} --max {a.max}"
    lines = [
        f"One thread, one ~200-byte message per step, on a fresh Valkey 9.1 per saver; "
        f"base = {a.baseline} (format 3: deltas, a snapshot every 16), exact and identity = "
        f"this tree's delta modes, floor = the message once plus a bare checkpoint record. "
        f"`{cmd}`",
        "",
        "| steps | saver | bytes/cp (used_memory) | x floor | bytes/cp (MEMORY USAGE) "
        "| x floor | step µs | step / step at 100 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        fl = res["floor"][str(p)]
        for name in ("floor", "base", "exact", "identity"):
            row = res[name][str(p)]
            first = res[name][str(points[0])]["step_us"]
            lines.append(
                f"| {p:,} | {name} | {row['used']:,.0f} | {row['used'] / fl['used']:.2f}x "
                f"| {row['usage']:,.0f} | {row['usage'] / fl['usage']:.2f}x "
                f"| {row['step_us']:,.0f} | {row['step_us'] / first:.2f}x |"
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
        ("step_us", "step time"),
    ):
        cells = [
            f"{res[n][last][key] / res[n][first][key]:.2f}x"
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
            f"| list(None, filter={{source, step}}, limit=10), calls/s | {f['filter']:,.0f} "
            f"| {b['filter']:,.0f} | {f['filter'] / b['filter']:.2f}x |",
            f"| list(None, filter={{user}}, limit=10), calls/s | {f['filter_user']:,.0f} "
            f"| {b['filter_user']:,.0f} | {f['filter_user'] / b['filter_user']:.2f}x |",
        ]
    text = "\n".join(lines)
    print(text)
    out = HERE / "results"
    (out / "histories.md").write_text(text + "\n")
    (out / "histories.json").write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
