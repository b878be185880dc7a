"""Benchmark workloads, run inside one interpreter for one saver; prints one JSON line.

The same file runs in this project's environment and in the incumbent's (its package has the
same import path, langgraph.checkpoint.redis, so it lives in its own venv: see run.py).

    python benchmarks/workloads.py --saver ours|incumbent|memory --url URL [--quick]

Workloads (ops per second, higher is better):
  aput         sequential puts of one thread: a `messages` channel growing by one ~100-byte
               message per step plus two small channels, new_versions as langgraph sends them
  aput_writes  sequential put_writes of 2 writes on the latest checkpoint
  aget_tuple   get the latest checkpoint of that thread (its full messages state)
  alist10      alist(thread, limit=10)
  graph10      ainvoke of a 10-node linear graph, a fresh thread each time
  concurrent50 50 of those graphs at once on one saver (graphs per second; errors counted)
  concurrent500  the same with 500 graphs
  mem_per_checkpoint  bytes of server memory (INFO used_memory) per checkpoint of the aput
               phase, read by a separate client (Redis savers only; lower is better)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.graph import END, START, StateGraph


def make_steps(saver: Any, n: int) -> list[tuple]:
    cp = empty_checkpoint()
    messages: list[dict] = []
    versions: dict[str, Any] = {}
    out = []
    for i in range(n):
        messages = [*messages, {"role": "ai", "content": f"message {i} " + "x" * 80}]
        changed = ["messages", "step"] + (["flag"] if i % 5 == 0 else [])
        for ch in changed:
            versions[ch] = saver.get_next_version(versions.get(ch), None)
        cp = {
            **cp,
            "id": str(uuid6(clock_seq=i)),
            "channel_values": {"messages": messages, "step": i, "flag": i % 2 == 0},
            "channel_versions": dict(versions),
            "versions_seen": {"node": dict(versions)},
        }
        md = {"source": "loop", "step": i, "parents": {}}
        out.append((cp, md, {ch: versions[ch] for ch in changed}))
    return out


class State(TypedDict):
    messages: Annotated[list[str], lambda a, b: a + b]


def graph10(checkpointer: Any) -> Any:
    b = StateGraph(State)
    prev = START
    for i in range(10):
        b.add_node(f"n{i}", lambda s, i=i: {"messages": [f"node {i}"]})
        b.add_edge(prev, f"n{i}")
        prev = f"n{i}"
    b.add_edge(prev, END)
    return b.compile(checkpointer=checkpointer)


async def rate(fn: Any, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        await fn(i)
    return n / (time.perf_counter() - t)


async def used_memory(url: str | None) -> int:
    if not url:
        return 0
    import redis.asyncio as aredis

    r = aredis.Redis.from_url(url)
    try:
        return int((await r.info("memory"))["used_memory"])
    finally:
        await r.aclose()


async def run(saver: Any, quick: bool, url: str | None = None) -> dict[str, Any]:
    n = 200 if quick else 1000
    thread = str(uuid.uuid4())
    plan = make_steps(saver, n)
    cfgs: list[dict] = []
    mem_before = await used_memory(url)

    async def put(i: int) -> None:
        cfg = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        if cfgs:
            cfg["configurable"]["checkpoint_id"] = cfgs[-1]["configurable"]["checkpoint_id"]
        cfgs.append(await saver.aput(cfg, *plan[i]))

    res: dict[str, Any] = {"aput": await rate(put, n)}
    if url:
        res["mem_per_checkpoint"] = (await used_memory(url) - mem_before) / n
    latest = cfgs[-1]

    async def writes(i: int) -> None:
        await saver.aput_writes(latest, [("a", i), ("b", {"x": i})], f"task-{i}")

    res["aput_writes"] = await rate(writes, n)
    tcfg = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    reads = 50 if quick else 200

    async def get(i: int) -> None:
        tup = await saver.aget_tuple(tcfg)
        assert len(tup.checkpoint["channel_values"]["messages"]) == n

    res["aget_tuple"] = await rate(get, reads)

    async def list10(i: int) -> None:
        got = [t async for t in saver.alist(tcfg, limit=10)]
        assert len(got) == 10

    res["alist10"] = await rate(list10, 10 if quick else 30)

    g = graph10(saver)

    async def invoke(i: int) -> None:
        cfg = {"configurable": {"thread_id": str(uuid.uuid4())}}
        out = await g.ainvoke({"messages": ["hi"]}, cfg)
        assert len(out["messages"]) == 11

    res["graph10"] = await rate(invoke, 20 if quick else 100)

    for width in (50, 500):
        errors = 0

        async def one(width: int = width) -> None:
            nonlocal errors
            try:
                await invoke(0)
            except Exception as e:  # the incumbent fails here; count, do not abort the run
                errors += 1
                res.setdefault(f"concurrent{width}_error", f"{type(e).__name__}: {e}"[:200])

        t = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(width)))
        res[f"concurrent{width}"] = (width - errors) / (time.perf_counter() - t)
        res[f"concurrent{width}_errors"] = errors
    return res


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--saver", choices=["ours", "incumbent", "memory"], required=True)
    ap.add_argument("--url")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.saver == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        res = await run(InMemorySaver(), a.quick)
    else:
        from langgraph.checkpoint.redis import AsyncRedisSaver

        async with AsyncRedisSaver.from_conn_string(a.url) as saver:
            await saver.asetup()
            res = await run(saver, a.quick, a.url)
    print(json.dumps({"saver": a.saver, **res}))


if __name__ == "__main__":
    asyncio.run(main())
