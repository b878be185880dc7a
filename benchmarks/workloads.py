"""Benchmark workloads, run inside one interpreter for one saver; prints one JSON line.

The same file runs in this project's environment and in the incumbent's (its package has the
same import path, langgraph.checkpoint.redis, so it lives in its own venv: see run.py). Nothing
of either Redis package is imported at module level.

    python benchmarks/workloads.py --saver ours|ours_sync|incumbent|memory --url URL
        [--aux URL] [--filter-url URL] [--quick] [--sections core,graph,...] [--filter-n N]
        [--history-max STEPS] [--history-budget SECONDS]
    python benchmarks/workloads.py --saver ours|incumbent --url URL --populate N
    python benchmarks/workloads.py --plan '[{"saver": "ours", "url": ...}, ...]' [--quick]

`ours_sync` is this package's RedisSaver driven through its sync methods (put, put_writes,
get_tuple, list, graph.invoke; the concurrent graphs run on threads); the other savers are
driven through their async methods. `postgres` is langgraph-checkpoint-postgres's
AsyncPostgresSaver on a psycopg pool of 20 connections (--url postgresql://...; install
langgraph-checkpoint-postgres and psycopg[binary,pool] first; run.py --postgres does it all).

Sections and their workloads (rates: per second, higher is better):
  core     aput         n sequential puts of one thread (n = 200 with --quick, else 1,000): a
                        `messages` channel growing by one
                        ~100-byte message per step (each list built as LangGraph's reducers do,
                        `[*prev, new]`, reusing the previous list's items) plus two small
                        channels, new_versions as LangGraph sends them
           aget_tuple   get the latest checkpoint of that thread: its full messages state and
                        2 pending tasks of 2 writes each, as an interrupted step leaves it
           alist10      alist(thread, limit=10) of that thread
           alist_before pages per second, paging through a 200-checkpoint thread 10 at a time
                        with before=<last config of the previous page>; at most 20 pages a pass
                        (the incumbent ignores `before` and would repeat page one for ever);
                        alist_before_seen counts the distinct checkpoints the passes saw
           aput_writes  sequential put_writes of 2 writes, each call a new task, on the latest
                        checkpoint of the aput thread (n calls)
           aget_tuple_writes, alist10_writes  aget_tuple and alist10 again, now that the latest
                        checkpoint holds those n tasks' writes too (2n+4 pending writes: the
                        shape the first cut of this harness measured its reads in)
  mem      mem_per_checkpoint  bytes of server memory (INFO used_memory, read by a separate
                        client) per checkpoint of the same aput phase, on a fresh thread of the
                        --aux server (nothing deletes there; lower is better)
  graph    graph10      ainvoke of a 10-node linear graph, a fresh thread each time
           concurrent50 50 of those graphs at once on one saver (graphs per second; errors
                        counted)
  c500     concurrent500  the same with 500 graphs
  filter   list_filter  alist(None, filter={"source": "loop", "step": 7}, limit=10) over
                        --filter-n checkpoints (100 threads of 100 per 10,000; 1% match), on
                        the --filter-url server, which holds that data set only (written once
                        by --populate; InMemorySaver: populated in this process);
                        rt_list_filter* count one call's commands as the rt section does;
                        list_filter_user (not in --quick) filters on a key the incumbent
                        refuses ({"source": "loop", "user": "u7"})
  rt       rt_<op>      commands per operation as the server saw them (MONITOR on the --aux
                        server: commands sent by clients, not those a script runs) for aput,
                        aget_tuple, alist10 (the latest with 2 pending tasks, as in core) and
                        aput_writes; rt_<op>_sent the same by command name;
                        rt_<op>_server is the server's
                        total_commands_processed delta per op (it includes the commands that
                        scripts and MULTI blocks run), rt_<op>_cmds the INFO commandstats delta
  history  history      per-step time (aput of the next checkpoint + aput_writes of 2 writes)
                        of one thread as it grows to --history-max steps: median and mean over
                        a window of ~50 steps around 10, 100, 1,000, 3,000 and 10,000 steps.
                        The steps between windows only aput (no writes), to grow faster:
                        writes live in keys of their own in every saver here and no step reads
                        an older checkpoint's writes. Growth stops early when a step takes more
                        than 1 s, after --history-budget seconds, or when the server holds more
                        than 4 GB.
The read rates stop after 3 s (--quick: 0.3 s) once 3 calls are done; each rate starts with
a gc.collect(). Every section's wall time is reported under "secs".
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from itertools import islice
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.graph import END, START, StateGraph

from harness.monitor import Monitor
from harness.workers import err_text, timed

SECTIONS = ("core", "mem", "graph", "c500", "filter", "rt", "history")
HISTORY_POINTS = (10, 100, 1_000, 3_000, 10_000)
HISTORY_HALF = 25  # a window is the steps whose history is within 25 of the point
STEP_CAP_S = 1.0
SERVER_CAP_BYTES = 4 << 30
FILTER = {"source": "loop", "step": 7}
FILTER_USER = {"source": "loop", "user": "u7"}


def message(i: int) -> dict[str, str]:
    return {"role": "ai", "content": f"message {i} " + "x" * 80}


def iter_steps(saver: Any) -> Iterator[tuple]:
    """One thread's steps, for ever: (checkpoint, metadata, new_versions)."""
    cp = empty_checkpoint()
    messages: list[dict] = []
    versions: dict[str, Any] = {}
    i = 0
    while True:
        messages = [*messages, message(i)]  # as LangGraph's reducers build it
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
        yield cp, md, {ch: versions[ch] for ch in changed}
        i += 1


def make_steps(saver: Any, n: int) -> list[tuple]:
    return list(islice(iter_steps(saver), n))


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


class SyncDriven:
    """A sync saver behind the async names the workloads call: each a* method runs the sync
    method itself, in this thread (no executor), so what is timed is the sync path."""

    sync = True

    def __init__(self, saver: Any) -> None:
        self.saver = saver

    def get_next_version(self, current: Any, channel: Any) -> Any:
        return self.saver.get_next_version(current, channel)

    async def aput(self, *args: Any) -> Any:
        return self.saver.put(*args)

    async def aput_writes(self, *args: Any) -> None:
        self.saver.put_writes(*args)

    async def aget_tuple(self, config: Any) -> Any:
        return self.saver.get_tuple(config)

    async def alist(self, config: Any, **kwargs: Any) -> Any:
        for t in self.saver.list(config, **kwargs):
            yield t

    async def adelete_thread(self, thread_id: str) -> None:
        self.saver.delete_thread(thread_id)


def is_sync(saver: Any) -> bool:
    return getattr(saver, "sync", False)


def thread_cfg(thread: str, parent: str | None = None) -> dict:
    cfg: dict = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    if parent:
        cfg["configurable"]["checkpoint_id"] = parent
    return cfg


MAX_S = 3.0  # a rate stops early after this many seconds (and at least 3 calls); --quick: 0.3


async def rate(fn: Any, n: int, bounded: bool = True) -> float:
    gc.collect()  # no collection of the previous workload's garbage lands in this one
    t = time.perf_counter()
    done = 0
    for i in range(n):
        await fn(i)
        done += 1
        if bounded and done >= 3 and time.perf_counter() - t > MAX_S:
            break
    return done / (time.perf_counter() - t)


def server_info(url: str | None, *sections: str) -> dict[str, Any]:
    if not url or not url.startswith(("redis://", "rediss://")):
        return {}
    import redis

    r = redis.Redis.from_url(url)
    try:
        return r.execute_command("INFO", *sections)
    finally:
        r.close()


def used_memory(url: str | None) -> int:
    return int(server_info(url, "memory").get("used_memory", 0))


# -- core -------------------------------------------------------------------------------


async def put_chain(saver: Any, thread: str, plan: list[tuple]) -> list[dict]:
    cfgs: list[dict] = []
    for step in plan:
        parent = cfgs[-1]["configurable"]["checkpoint_id"] if cfgs else None
        cfgs.append(await saver.aput(thread_cfg(thread, parent), *step))
    return cfgs


async def memory(saver: Any, quick: bool, url: str, res: dict) -> None:
    """The aput phase of `core` again, on a fresh thread of a server nothing deletes from
    (the aux server), between two used_memory readings."""
    n = 200 if quick else 1000
    plan = make_steps(saver, n)
    before = used_memory(url)
    await put_chain(saver, str(uuid.uuid4()), plan)
    res["mem_per_checkpoint"] = (used_memory(url) - before) / n


async def core(saver: Any, quick: bool, res: dict) -> None:
    n = 200 if quick else 1000
    thread = str(uuid.uuid4())
    plan = make_steps(saver, n)
    cfgs: list[dict] = []

    async def put(i: int) -> None:
        parent = cfgs[-1]["configurable"]["checkpoint_id"] if cfgs else None
        cfgs.append(await saver.aput(thread_cfg(thread, parent), *plan[i]))

    res["aput"] = await rate(put, n, bounded=False)  # the thread the reads below need

    async def pending(cfg: dict) -> None:
        for k in range(2):
            await saver.aput_writes(cfg, [("a", k), ("b", {"x": k})], f"pending-{k}")

    # The reads see the latest checkpoint as an interrupted step leaves it: 2 pending tasks of
    # 2 writes each. (The aput_writes phase comes after them; the *_writes reads then repeat
    # them with its n tasks of writes on the latest, the first cut's shape.)
    await pending(cfgs[-1])
    tcfg = thread_cfg(thread)

    def get(writes: int) -> Any:
        async def get(i: int) -> None:
            tup = await saver.aget_tuple(tcfg)
            assert len(tup.checkpoint["channel_values"]["messages"]) == n
            assert len(tup.pending_writes) == writes

        return get

    async def list10(i: int) -> None:
        got = [t async for t in saver.alist(tcfg, limit=10)]
        assert len(got) == 10

    reads = 100 if quick else 1000
    res["aget_tuple"] = await rate(get(4), reads)
    res["alist10"] = await rate(list10, reads)

    # alist paging with `before` over a 200-checkpoint thread (the aput thread in quick mode)
    pthread = thread
    if n != 200:
        pthread = str(uuid.uuid4())
        await pending((await put_chain(saver, pthread, plan[:200]))[-1])
    pcfg = thread_cfg(pthread)
    seen: set[str] = set()
    cursor: list[Any] = [None]

    async def page(i: int) -> None:
        if i % 20 == 0:
            cursor[0] = None  # a pass is at most 20 pages; then start again from the top
        got = [t async for t in saver.alist(pcfg, before=cursor[0], limit=10)]
        seen.update(t.config["configurable"]["checkpoint_id"] for t in got)
        cursor[0] = got[-1].config if got else None

    res["alist_before"] = await rate(page, reads)
    res["alist_before_seen"] = len(seen)

    latest = cfgs[-1]

    async def writes(i: int) -> None:
        await saver.aput_writes(latest, [("a", i), ("b", {"x": i})], f"task-{i}")

    res["aput_writes"] = await rate(writes, n, bounded=False)  # the writes the next reads need
    res["aget_tuple_writes"] = await rate(get(4 + 2 * n), reads)
    res["alist10_writes"] = await rate(list10, reads)
    for t in {thread, pthread}:
        await saver.adelete_thread(t)


# -- graphs -----------------------------------------------------------------------------


async def graphs(saver: Any, quick: bool, widths: tuple[int, ...], res: dict) -> None:
    sync = is_sync(saver)
    g = graph10(saver.saver if sync else saver)

    threads: list[str] = []  # deleted after the timings, so the shared server stays small

    def new_thread() -> dict:
        threads.append(str(uuid.uuid4()))
        return {"configurable": {"thread_id": threads[-1]}}

    def invoke_sync() -> None:
        out = g.invoke({"messages": ["hi"]}, new_thread())
        assert len(out["messages"]) == 11

    async def invoke(i: int = 0) -> None:
        if sync:
            invoke_sync()
            return
        out = await g.ainvoke({"messages": ["hi"]}, new_thread())
        assert len(out["messages"]) == 11

    if 0 in widths:
        res["graph10"] = await rate(invoke, 20 if quick else 100, bounded=False)
    for width in widths:
        if not width:
            continue
        errors = 0

        def failed(e: BaseException, width: int = width) -> None:
            nonlocal errors
            errors += 1  # the incumbent fails here; count, do not abort the run
            res.setdefault(f"concurrent{width}_error", err_text(e, 200))

        t = time.perf_counter()
        if sync:
            with ThreadPoolExecutor(max_workers=width) as pool:
                for f in [pool.submit(invoke_sync) for _ in range(width)]:
                    if f.exception() is not None:
                        failed(f.exception())  # type: ignore[arg-type]
        else:

            async def one() -> None:
                try:
                    await invoke()
                except Exception as e:
                    failed(e)

            await asyncio.gather(*(one() for _ in range(width)))
        res[f"concurrent{width}"] = (width - errors) / (time.perf_counter() - t)
        res[f"concurrent{width}_errors"] = errors
    for i in range(0, len(threads), 50):
        await asyncio.gather(*(saver.adelete_thread(t) for t in threads[i : i + 50]))


# -- filtered cross-thread list ---------------------------------------------------------


def filter_plan(saver: Any, n: int) -> list[tuple[dict, dict, dict, dict]]:
    """n checkpoints: n/100 threads of 100 steps, as (config, checkpoint, metadata, versions).
    Ids are minted thread after thread, so in id order (newest first) the 1% that match
    step == 7 recur every 100 checkpoints, as they would in a real history; the writes may
    then go in any order."""
    rng = random.Random(7)
    run = uuid.uuid4().hex[:8]
    out = []
    for t in range(n // 100):
        thread = f"filter-{run}-{t}"
        parent = None
        version = None
        for j in range(100):
            version = saver.get_next_version(version, None)
            cid = str(uuid6(clock_seq=t * 100 + j))
            cp = {
                **empty_checkpoint(),
                "id": cid,
                "channel_values": {"messages": [message(j)], "step": j},
                "channel_versions": {"messages": version, "step": version},
                "versions_seen": {"node": {"step": version}},
            }
            md = {"source": "loop", "step": j, "user": f"u{rng.randrange(100)}", "parents": {}}
            out.append((thread_cfg(thread, parent), cp, md, {"messages": version, "step": version}))
            parent = cid
    return out


async def populate(saver: Any, n: int, batch: int = 50) -> float:
    plan = filter_plan(saver, n)
    t = time.perf_counter()
    for i in range(0, len(plan), batch):
        await asyncio.gather(*(saver.aput(*p) for p in plan[i : i + batch]))
    return time.perf_counter() - t


async def filtered(saver: Any, quick: bool, url: str | None, res: dict) -> None:
    reps = 50 if quick else 200

    async def lists(f: dict, i: int) -> None:
        got = [t async for t in saver.alist(None, filter=f, limit=10)]
        assert len(got) == 10, len(got)
        assert all(all(t.metadata.get(k) == v for k, v in f.items()) for t in got)

    res["list_filter"] = await rate(lambda i: lists(FILTER, i), reps)
    if url and url.startswith("redis"):  # one call's commands, as the rt section counts them
        mon = Monitor(url)
        try:
            await mon.record(res, "list_filter", lambda i: lists(FILTER, i), 3)
        finally:
            mon.close()
    if quick:
        return
    try:
        res["list_filter_user"] = await rate(lambda i: lists(FILTER_USER, i), reps)
    except ValueError as e:  # the incumbent: "Unsupported filter key: user"
        res["list_filter_user"] = 0.0
        res["list_filter_user_error"] = err_text(e, 200)


# -- round trips ------------------------------------------------------------------------


async def round_trips(saver: Any, res: dict, url: str, n: int = 20) -> None:
    thread = str(uuid.uuid4())
    gen = iter_steps(saver)
    # warm up: connections opened, scripts loaded, indexes there
    cfgs = await put_chain(saver, thread, list(islice(gen, 5)))
    await saver.aput_writes(cfgs[-2], [("a", 0)], "warm")
    await saver.aget_tuple(thread_cfg(thread))
    _ = [t async for t in saver.alist(thread_cfg(thread), limit=10)]
    mon = Monitor(url)
    try:
        plan = list(islice(gen, n))

        async def put(i: int) -> None:
            parent = cfgs[-1]["configurable"]["checkpoint_id"]
            cfgs.append(await saver.aput(thread_cfg(thread, parent), *plan[i]))

        async def writes(i: int) -> None:
            await saver.aput_writes(cfgs[-1], [("a", i), ("b", {"x": i})], f"task-{i}")

        async def get(i: int) -> None:
            assert await saver.aget_tuple(thread_cfg(thread)) is not None

        async def list10(i: int) -> None:
            assert len([t async for t in saver.alist(thread_cfg(thread), limit=10)]) == 10

        ops = [("aput", put), ("aget_tuple", get), ("alist10", list10), ("aput_writes", writes)]
        for name, fn in ops:
            if name == "aget_tuple":  # the reads see 2 pending tasks, as in `core`
                for k in range(2):
                    await saver.aput_writes(cfgs[-1], [("a", k), ("b", {"x": k})], f"p-{k}")
            await mon.record(res, name, fn, n)
    finally:
        mon.close()
    # the thread stays: nothing is deleted on the aux server, so `mem` reads no one's frees


# -- history growth ---------------------------------------------------------------------


def windows(max_steps: int) -> dict[int, range]:
    """Step indexes (history = index + 1) around each point that fits in max_steps."""
    out = {}
    for p in HISTORY_POINTS:
        half = min(HISTORY_HALF, p - 1)
        if p + half <= max_steps:
            out[p] = range(p - half - 1, p + half - 1)
    return out


async def history(saver: Any, max_steps: int, budget: float, url: str | None, res: dict) -> None:
    thread = str(uuid.uuid4())
    warm = str(uuid.uuid4())
    await put_chain(saver, warm, make_steps(saver, 20))
    await saver.adelete_thread(warm)
    measured = {i for w in windows(max_steps).values() for i in w}
    times: list[float] = []
    parent = None
    stop = "max"
    t0 = time.perf_counter()
    for i, (cp, md, nv) in enumerate(iter_steps(saver)):
        if i >= max_steps:
            break
        cfg = thread_cfg(thread, parent)
        t = time.perf_counter()
        new = await saver.aput(cfg, cp, md, nv)
        if i in measured:  # fill steps between windows skip the writes (see the docstring)
            await saver.aput_writes(new, [("a", i), ("b", {"x": i})], f"task-{i}")
        dt = time.perf_counter() - t
        times.append(dt)
        parent = new["configurable"]["checkpoint_id"]
        if dt > STEP_CAP_S:
            stop = f"a step took {dt:.1f} s"
            break
        if time.perf_counter() - t0 > budget:
            stop = f"budget of {budget:.0f} s"
            break
        if url and i % 250 == 249 and used_memory(url) > SERVER_CAP_BYTES:
            stop = "server memory over 4 GB"
            break
    grow_s = time.perf_counter() - t0
    points = {}
    for p, w in windows(len(times)).items():
        sample = times[w.start : w.stop]
        points[str(p)] = {"median": statistics.median(sample), "mean": statistics.mean(sample)}
    res["history"] = {
        "points": points,
        "reached": len(times),
        "stopped": stop,
        "grow_s": grow_s,
    }
    await saver.adelete_thread(thread)


# -- driver -----------------------------------------------------------------------------


async def run(saver: Any, a: argparse.Namespace, url: str | None) -> dict[str, Any]:
    res: dict[str, Any] = {"secs": {}}
    sections = a.sections.split(",")

    async def section(name: str, coro: Any) -> None:
        with timed(res["secs"], name):
            await coro

    if "core" in sections:
        await section("core", core(saver, a.quick, res))
    if "mem" in sections and url:
        await section("mem", memory(saver, a.quick, url, res))
    widths = tuple(w for s, w in (("graph", 0), ("graph", 50), ("c500", 500)) if s in sections)
    if widths:
        await section("graph", graphs(saver, a.quick, widths, res))
    if "filter" in sections and (url or a.saver == "memory"):
        if a.saver == "memory":
            await section("populate", populate(saver, a.filter_n))
        await section("filter", filtered(saver, a.quick, url, res))
    if "rt" in sections and url:
        await section("rt", round_trips(saver, res, url))
    if "history" in sections:
        await section("history", history(saver, a.history_max, a.history_budget, url, res))
    return res


SERVER = {"mem": "aux", "rt": "aux", "filter": "filter_url"}  # other sections: url


@asynccontextmanager
async def open_saver(kind: str, url: str) -> AsyncIterator[Any]:
    if kind == "postgres":  # AsyncPostgresSaver on a pool, as LangGraph's docs set it up
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
        async with AsyncConnectionPool(url, max_size=20, kwargs=kwargs, open=False) as pool:
            saver = AsyncPostgresSaver(pool)
            await saver.setup()
            yield saver
        return
    if kind == "ours_sync":
        from langgraph.checkpoint.redis import RedisSaver

        with RedisSaver.from_conn_string(url) as saver:
            saver.setup()
            yield SyncDriven(saver)
    elif kind == "ours_identity":
        from langgraph.checkpoint.redis import AsyncRedisSaver

        async with AsyncRedisSaver.from_conn_string(url, delta_mode="identity") as saver:
            await saver.asetup()
            yield saver
    else:  # ours or the incumbent: the same import path, whichever this venv holds
        from langgraph.checkpoint.redis import AsyncRedisSaver

        async with AsyncRedisSaver.from_conn_string(url) as saver:
            await saver.asetup()
            yield saver


async def measure(a: argparse.Namespace) -> dict[str, Any]:
    """Every section for one saver: each on its server (--url, --aux or --filter-url), with
    a saver connected there."""
    if a.saver == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        return await run(InMemorySaver(), a, None)
    if a.populate:
        async with open_saver(a.saver, a.url) as saver:
            return {"populated": a.populate, "populate_s": await populate(saver, a.populate)}
    wanted = a.sections.split(",")
    res: dict[str, Any] = {"secs": {}}
    for server in ("url", "aux", "filter_url"):
        url = getattr(a, server)
        mine = [x for x in wanted if SERVER.get(x, "url") == server]
        if not (url and mine):
            continue
        async with open_saver(a.saver, url) as saver:
            more = await run(
                saver, argparse.Namespace(**{**vars(a), "sections": ",".join(mine)}), url
            )
        res["secs"].update(more.pop("secs"))
        res.update(more)
    return res


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--saver", choices=["ours", "ours_sync", "ours_identity", "incumbent", "memory", "postgres"]
    )
    ap.add_argument("--url", help="the server for every section but mem, rt and filter")
    ap.add_argument("--aux", help="the server for mem and rt (nothing is deleted there)")
    ap.add_argument("--filter-url", help="the server holding the filter data set, only it")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--filter-n", type=int, default=100_000)
    ap.add_argument("--history-max", type=int, default=10_025)
    ap.add_argument("--history-budget", type=float, default=120.0)
    ap.add_argument("--populate", type=int, help="write this many filter checkpoints, then exit")
    ap.add_argument(
        "--plan",
        help="a JSON list of option sets (keys as the options above, plus `label`): each "
        "saver runs in turn in this process, one JSON line each (run.py saves a process "
        "start per saver this way)",
    )
    a = ap.parse_args()
    global MAX_S
    if a.quick:
        MAX_S = 0.3
    specs = json.loads(a.plan) if a.plan else [{}]
    for spec in specs:
        one = argparse.Namespace(**{**vars(a), **spec})
        if not one.saver:
            ap.error("--saver (or --plan) is required")
        t = time.perf_counter()
        res = await measure(one)
        res.setdefault("secs", {})["total"] = round(time.perf_counter() - t, 2)
        print(json.dumps({"saver": spec.get("label", one.saver), **res}), flush=True)
        gc.collect()


if __name__ == "__main__":
    asyncio.run(main())
