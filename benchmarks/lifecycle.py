"""Lifecycle benchmark: TTL, expiry leftovers, shallow savers and prune, ours beside the incumbent.

    .venv/bin/python benchmarks/lifecycle.py [--quick] [--runs 3] [--only SECTION[,SECTION...]]
    .venv/bin/python benchmarks/lifecycle.py --report      # re-render lifecycle.md from the JSON

Starts one fresh Redis Stack 7.4 server on a free port (../shared/anchor/redis-stack.sh; the
incumbent needs its modules) and the incumbent's venv (../shared/anchor/anchor-venv.sh: it has
our import path, so it runs in its own interpreter). Each run measures the incumbent
(langgraph-checkpoint-redis 0.5.2), then ours, each in a worker process of this same file
(`--worker`), both through their async savers, on that one server. Every section starts with a
FLUSHALL (which also drops the incumbent's RediSearch indexes; its asetup() makes them again),
so each saver sees an empty server and every key count and memory reading is its own. Ratios
are ours ÷ incumbent within one run; the report gives the median over --runs of each ratio and
of each absolute number.

A step is what one LangGraph super-step persists: `aput` of the next checkpoint (the harness's
realistic state from workloads.py: a `messages` list one ~100-byte message longer per step, two
small channels, new_versions as LangGraph sends them) then `aput_writes` of 4 writes (a message,
two scalars, a route) as a new task. Sequential, one thread unless said otherwise.

Sections (--quick / full):
  ttl_step         200 / 1,000 steps of one thread with ttl={"default_ttl": 60}: steps/s and the
                   median step time; then 20 more steps under MONITOR and INFO commandstats:
                   commands the client sent per step (by name), commands the server ran per step
                   (including those inside scripts), and how many of each are expiry commands
                   (EXPIRE, PEXPIRE, PEXPIREAT, EXPIREAT); the keys left without a TTL.
  expiry_leftover  50 / 200 threads of 10 steps with ttl={"default_ttl": 2/60} (2 s), written
                   one after the other; then a wait until 2 s * 17/16 (our deadline slack) + 1 s
                   after the last write. Keys left (a SCAN, which also makes Redis drop every
                   key whose TTL has passed), members of index-like keys, and INFO used_memory
                   minus its value before the threads, read: after the writes, after expiry
                   (before any saver call), after one `alist(None, limit=10)` page, after a full
                   `alist(None)` (which must return none of the expired threads), and after
                   `asweep()` (ours only: the incumbent has none). Then `aget_tuple` of 5
                   expired threads (must be None).
  shallow          The shallow savers (AsyncShallowRedisSaver, both): steps/s over 200 / 1,000
                   steps of one thread, then memory and keys per thread after 100 steps, over
                   10 / 20 threads; ours' full AsyncRedisSaver on as many 100-step threads of
                   its own, as a reference.
  prune            A thread of 200 / 1,000 checkpoints, each with its 4 writes; the time of
                   aprune([thread]) (keep_latest), keys and memory before and after, what
                   alist() then returns and whether every listed checkpoint still reads its
                   whole messages list; then the same on a fresh thread with keep_last=10.

Results: benchmarks/results/lifecycle.json (the raw runs of the last quick and the last full
run, under "quick" and "full") and benchmarks/results/lifecycle.md (both, rendered). If the
incumbent fails on something, the error text goes in the report instead of a number.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from harness.monitor import Monitor
from harness.servers import flushall, incumbent_python, redis_stacks, server_name, sync_client
from harness.stats import dig, fmt, fmt_kb, fmt_ratio, median_ratio
from harness.stats import median as med
from harness.tables import (
    Session,
    command_line,
    load_results,
    md_head,
    mode_header,
    render_modes,
)
from harness.workers import (
    add_worker_flags,
    driver_parser,
    err_text,
    logged,
    run_sections,
    worker_result,
)
from workloads import make_steps, message, thread_cfg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SECTIONS = ("ttl_step", "expiry_leftover", "shallow", "prune")
SAVERS = ("incumbent", "ours")
SHORT_TTL_MIN = 2 / 60  # 2 s
SLACK = 17 / 16  # ours: a thread's deadline is set to ttl * 17/16 ahead (lua/includes/ttl.lua)
EXPIRY_MARGIN_S = 1.0
COUNT_STEPS = 20  # steps counted under MONITOR in ttl_step
EXPIRY_CMDS = ("expire", "pexpire", "expireat", "pexpireat")
# keys that index other keys: their members are what an expired thread can leave behind
INDEX_FAMILIES = (
    "checkpoint_all",
    "checkpoint_run",
    "checkpoint_by",
    "checkpoint_exp",
    "checkpoint_xref",
    "write_keys_zset",
)
STAGES = (
    ("written", "after the writes (before expiry)"),
    ("expired", "after expiry, before any saver call"),
    ("one_page", "after one alist(None, limit=10) page"),
    ("full_list", "after a full alist(None)"),
    ("sweep", "after asweep()"),
)


# -- worker: runs inside one saver's interpreter -------------------------------------------


def used_memory(r: Any) -> int:
    return int(r.info("memory")["used_memory"])


def settled_memory(r: Any, timeout: float = 3.0) -> int:
    """used_memory once it stops moving (3 equal readings 100 ms apart, at most `timeout`):
    after a FLUSHALL, RediSearch frees the dropped indexes of the incumbent in the background,
    which would otherwise land in the next reading."""
    last, same = used_memory(r), 0
    end = time.perf_counter() + timeout
    while same < 2 and time.perf_counter() < end:
        time.sleep(0.1)
        now = used_memory(r)
        same = same + 1 if now == last else 0
        last = now
    return last


def family(key: bytes) -> str:
    return key.decode(errors="replace").split(":", 1)[0]


def describe(r: Any, exclude: set[bytes] | frozenset = frozenset()) -> dict[str, Any]:
    """Every key on the server but `exclude`, by family (the name up to its first `:`): how
    many, how many without a TTL, their members (ZCARD / SCARD / HLEN; 1 for strings and JSON
    documents) and their bytes (MEMORY USAGE with SAMPLES 0: every element counted). The SCAN
    also makes Redis drop keys whose TTL has passed."""
    keys = [k for k in r.scan_iter(count=1000) if k not in exclude]
    p = r.pipeline(transaction=False)
    for k in keys:
        p.type(k)
        p.pttl(k)
        p.execute_command("MEMORY", "USAGE", k, "SAMPLES", 0)
    got = p.execute()
    types, ttls, sizes = got[::3], got[1::3], got[2::3]
    size = {b"zset": "zcard", b"set": "scard", b"hash": "hlen", b"list": "llen"}
    p = r.pipeline(transaction=False)
    sized = []
    for k, t in zip(keys, types, strict=True):
        if t in size:
            getattr(p, size[t])(k)
            sized.append(k)
    members = dict(zip(sized, p.execute(), strict=True))
    fams: dict[str, dict[str, int]] = {}
    for k, t, ttl, size_b in zip(keys, types, ttls, sizes, strict=True):
        if t == b"none":  # gone between SCAN and TYPE (expired)
            continue
        f = fams.setdefault(family(k), {"keys": 0, "no_ttl": 0, "members": 0, "bytes": 0})
        f["keys"] += 1
        f["no_ttl"] += ttl == -1
        f["members"] += members.get(k, 1)
        f["bytes"] += size_b or 0
    out: dict[str, Any] = {
        "keys": sum(f["keys"] for f in fams.values()),
        "no_ttl": sum(f["no_ttl"] for f in fams.values()),
        "key_bytes": sum(f["bytes"] for f in fams.values()),
        "index_entries": sum(f["members"] for n, f in fams.items() if n in INDEX_FAMILIES),
        "families": fams,
    }
    docs = search_docs(r)
    if docs:
        out["search_docs"] = docs
    return out


def search_docs(r: Any) -> dict[str, int]:
    """num_docs of every RediSearch index (the incumbent's), {} when there is none."""
    try:
        names = r.execute_command("FT._LIST")
    except Exception:
        return {}
    out = {}
    for n in names:
        info = r.execute_command("FT.INFO", n)
        d = info if isinstance(info, dict) else dict(zip(info[::2], info[1::2], strict=False))
        d = {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}
        out[n.decode() if isinstance(n, bytes) else n] = int(d.get("num_docs", 0))
    return out


def saver_class(shallow: bool) -> Any:
    if shallow:
        from langgraph.checkpoint.redis.ashallow import AsyncShallowRedisSaver

        return AsyncShallowRedisSaver
    from langgraph.checkpoint.redis.aio import AsyncRedisSaver

    return AsyncRedisSaver


@asynccontextmanager
async def fresh_saver(
    url: str, *, ttl: dict | None = None, shallow: bool = False, flush: bool = True
) -> AsyncIterator[Any]:
    """FLUSHALL (unless told not to), then an async saver, set up."""
    if flush:
        flushall(url)
    kwargs = {"ttl": ttl} if ttl else {}
    async with saver_class(shallow).from_conn_string(url, **kwargs) as saver:
        await saver.asetup()
        yield saver


def writes_of(i: int) -> list[tuple[str, Any]]:
    return [("messages", [message(i)]), ("step", i), ("flag", i % 2 == 0), ("route", f"n{i % 3}")]


async def step(saver: Any, thread: str, parent: str | None, st: tuple, i: int) -> str:
    """One super-step's persistence: aput, then aput_writes of 4 writes; the new id."""
    cfg = await saver.aput(thread_cfg(thread, parent), *st)
    await saver.aput_writes(cfg, writes_of(i), f"task-{i}")
    return cfg["configurable"]["checkpoint_id"]


async def grow(saver: Any, thread: str, n: int) -> str:
    parent = None
    for i, st in enumerate(make_steps(saver, n)):
        parent = await step(saver, thread, parent, st, i)
    assert parent is not None
    return parent


async def ttl_step(url: str, quick: bool, res: dict) -> None:
    n = 200 if quick else 1000
    async with fresh_saver(url, ttl={"default_ttl": 60}) as saver:
        await grow(saver, f"warm-{uuid.uuid4()}", 5)  # connections, scripts, indexes
        thread = str(uuid.uuid4())
        plan = make_steps(saver, n + COUNT_STEPS)
        times = []
        parent = None
        gc.collect()
        t0 = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            parent = await step(saver, thread, parent, plan[i], i)
            times.append(time.perf_counter() - t)
        total = time.perf_counter() - t0
        res["steps"] = n
        res["steps_per_s"] = n / total
        res["step_us_median"] = statistics.median(times) * 1e6
        r = sync_client(url)
        try:
            res["keys_after"] = describe(r)
        finally:
            r.close()
        mon = Monitor(url)
        last = [parent]

        async def counted(j: int) -> None:
            last[0] = await step(saver, thread, last[0], plan[n + j], n + j)

        try:
            await mon.record(res, "step", counted, COUNT_STEPS)
        finally:
            mon.close()
        sent = res["rt_step_sent"]
        res["sent_expiry"] = sum(v for k, v in sent.items() if k.lower() in EXPIRY_CMDS)
        res["server_expiry"] = sum(res["rt_step_cmds"].get(k, 0) for k in EXPIRY_CMDS)


async def expiry_leftover(url: str, quick: bool, res: dict) -> None:
    n = 50 if quick else 200
    ttl = {"default_ttl": SHORT_TTL_MIN}
    async with fresh_saver(url, ttl=ttl) as saver:
        r = sync_client(url)
        try:
            base = set(r.scan_iter(count=1000))
            m0 = settled_memory(r)
            res["baseline_keys"] = len(base)
            stages: dict[str, dict] = {}
            res["stages"] = stages

            def snap(name: str, **extra: Any) -> dict:
                d = describe(r, base)
                d["mem_delta"] = used_memory(r) - m0
                d.update(extra)
                stages[name] = d
                return d

            threads = [f"exp-{k}-{uuid.uuid4()}" for k in range(n)]
            t0 = time.perf_counter()
            for tid in threads:
                await grow(saver, tid, 10)
            t_end = time.perf_counter()
            res["threads"] = n
            res["write_s"] = t_end - t0
            snap("written")
            wait = t_end + SHORT_TTL_MIN * 60 * SLACK + EXPIRY_MARGIN_S - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            snap("expired")
            mine = set(threads)
            for name, limit in (("one_page", 10), ("full_list", None)):
                try:
                    got = [t async for t in saver.alist(None, limit=limit)]
                    tids = [t.config["configurable"]["thread_id"] for t in got]
                    snap(
                        name,
                        returned=len(got),
                        returned_expired=sum(t in mine for t in tids),
                        returned_expired_threads=len(set(tids) & mine),
                    )
                except Exception as e:
                    snap(name, error=err_text(e))
            sweep = getattr(saver, "asweep", None)
            if sweep is not None:
                try:
                    snap("sweep", swept=await sweep())
                except Exception as e:
                    snap("sweep", error=err_text(e))
            found = 0
            for tid in threads[:5]:
                found += (await saver.aget_tuple(thread_cfg(tid))) is not None
            res["get_expired_found"] = found
        finally:
            r.close()


async def shallow(url: str, quick: bool, res: dict) -> None:
    n = 200 if quick else 1000
    m = 10 if quick else 20
    async with fresh_saver(url, shallow=True) as saver:
        await grow(saver, f"warm-{uuid.uuid4()}", 5)
        thread = str(uuid.uuid4())
        plan = make_steps(saver, n)
        parent = None
        gc.collect()
        t0 = time.perf_counter()
        for i in range(n):
            parent = await step(saver, thread, parent, plan[i], i)
        res["steps"] = n
        res["steps_per_s"] = n / (time.perf_counter() - t0)
        res["listed"] = len([t async for t in saver.alist(thread_cfg(thread))])
        tup = await saver.aget_tuple(thread_cfg(thread))
        res["latest_messages"] = len(tup.checkpoint["channel_values"]["messages"]) if tup else 0
        res["latest_pending_writes"] = len(tup.pending_writes or []) if tup else 0
        res.update(await memory_per_thread(saver, url, m, "shallow_"))
    if hasattr(saver, "asweep"):  # ours: the full saver on the same threads, as a reference
        async with fresh_saver(url) as full:
            res.update(await memory_per_thread(full, url, m, "full_"))


async def memory_per_thread(saver: Any, url: str, m: int, tag: str) -> dict[str, Any]:
    r = sync_client(url)
    try:
        base = set(r.scan_iter(count=1000))
        m0 = settled_memory(r)
        for _ in range(m):
            await grow(saver, str(uuid.uuid4()), 100)
        d = describe(r, base)
        return {
            f"{tag}threads": m,
            f"{tag}mem_per_thread": (used_memory(r) - m0) / m,
            f"{tag}keys_per_thread": d["keys"] / m,
            f"{tag}key_bytes_per_thread": d["key_bytes"] / m,
            f"{tag}families": d["families"],
        }
    finally:
        r.close()


async def prune(url: str, quick: bool, res: dict) -> None:
    n = 200 if quick else 1000
    for name, kwargs, keep in (
        ("keep_latest", {"strategy": "keep_latest"}, 1),
        ("keep_last_10", {"keep_last": 10}, 10),
    ):
        sub: dict[str, Any] = {"checkpoints": n}
        res[name] = sub
        try:
            await prune_one(url, n, kwargs, keep, sub)
        except Exception as e:
            sub["error"] = err_text(e)
            sub["traceback"] = traceback.format_exc()[-2000:]


async def prune_one(url: str, n: int, kwargs: dict, keep: int, sub: dict) -> None:
    async with fresh_saver(url) as saver:
        r = sync_client(url)
        try:
            base = set(r.scan_iter(count=1000))
            m0 = settled_memory(r)
            thread = str(uuid.uuid4())
            t = time.perf_counter()
            await grow(saver, thread, n)
            sub["build_s"] = time.perf_counter() - t
            before = describe(r, base)
            sub["keys_before"] = before["keys"]
            sub["key_bytes_before"] = before["key_bytes"]
            sub["mem_before"] = used_memory(r) - m0
            gc.collect()
            t = time.perf_counter()
            await saver.aprune([thread], **kwargs)
            sub["prune_ms"] = (time.perf_counter() - t) * 1e3
            after = describe(r, base)
            sub["keys_after"] = after["keys"]
            sub["key_bytes_after"] = after["key_bytes"]
            sub["families_after"] = after["families"]
            sub["mem_after"] = used_memory(r) - m0
            listed = [t async for t in saver.alist(thread_cfg(thread))]
            sub["listed"] = len(listed)
            # every kept checkpoint still reads its whole list (a kept delta has its base)
            sub["values_intact"] = sum(
                len(t.checkpoint["channel_values"].get("messages", ())) == t.metadata["step"] + 1
                for t in listed
            )
            sub["listed_steps"] = sorted(t.metadata["step"] for t in listed)[-keep:]
            tup = await saver.aget_tuple(thread_cfg(thread))
            sub["latest_messages"] = (
                len(tup.checkpoint["channel_values"]["messages"]) if tup else None
            )
            sub["latest_pending_writes"] = len(tup.pending_writes or []) if tup else None
        finally:
            r.close()


WORKERS: dict[str, Callable[..., Any]] = {
    "ttl_step": ttl_step,
    "expiry_leftover": expiry_leftover,
    "shallow": shallow,
    "prune": prune,
}


async def worker(a: argparse.Namespace) -> None:
    res: dict[str, Any] = {"saver": a.saver, "secs": {}}

    def section(name: str) -> Callable[[], Any]:
        return lambda: WORKERS[name](a.url, a.quick, res.setdefault(name, {}))

    await run_sections(res, [(n, section(n)) for n in a.only.split(",")], 2000)
    print(json.dumps(res), flush=True)


# -- driver ---------------------------------------------------------------------------------


def run_worker(python: str, saver: str, url: str, a: argparse.Namespace) -> dict[str, Any]:
    cmd = [python, str(Path(__file__).resolve()), "--worker", "--saver", saver, "--url", url]
    cmd += ["--only", a.only] + (["--quick"] if a.quick else [])
    return worker_result(cmd, {"saver": saver})


def main() -> None:
    ap = driver_parser()
    ap.add_argument("--only", default=",".join(SECTIONS), help=",".join(SECTIONS))
    add_worker_flags(ap, "lifecycle.md", "--saver")
    a = ap.parse_args()
    if a.worker:
        asyncio.run(worker(a))
        return
    store = RESULTS / "lifecycle.json"
    data = load_results(store)
    if a.report:
        render(data)
        return
    unknown = set(a.only.split(",")) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections: {sorted(unknown)}")
    sys.path.insert(0, str(ROOT / "src"))
    session = Session()
    runs: dict[str, list[dict]] = {s: [] for s in SAVERS}
    with redis_stacks(1) as (url,):
        incumbent_py = incumbent_python()
        server = server_name(url, "both savers")
        session.started()
        for run in range(a.runs):
            for s, py in (("incumbent", incumbent_py), ("ours", sys.executable)):
                runs[s].append(logged(run, a.runs, s, run_worker, py, s, url, a))
    more = "" if a.only == ",".join(SECTIONS) else f" --only {a.only}"
    command = command_line("lifecycle.py", a.quick, a.runs, more)
    extra = {"sections": a.only.split(",")}
    session.save(store, data, a.quick, command=command, server=server, runs_n=a.runs,
                 extra=extra, runs=runs)  # fmt: skip
    print(render(data))


# -- report ---------------------------------------------------------------------------------


class Mode:
    """One mode's runs, with medians and per-run ratios."""

    def __init__(self, d: dict) -> None:
        self.d = d
        self.runs: dict[str, list[dict]] = d["runs"]

    def med(self, saver: str, path: str) -> float | None:
        return med([dig(r, path) for r in self.runs[saver]])

    def ratio(self, path: str) -> float | None:
        """ours / incumbent, median of the per-run ratios; none when a memory delta is
        negative (allocator noise) or the incumbent's figure is 0."""
        runs = zip(self.runs["ours"], self.runs["incumbent"], strict=False)
        return median_ratio(((dig(o, path), dig(i, path)) for o, i in runs), positive)

    def errors(self, saver: str, section: str) -> list[str]:
        out = []
        for r in self.runs[saver]:
            if "worker_error" in r:
                out.append("worker failed: " + r["worker_error"].strip().splitlines()[-1])
            sec = r.get(section) or {}
            for k, v in sec.items():
                if k == "error" or (isinstance(v, dict) and "error" in v):
                    out.append(
                        f"{k if k != 'error' else section}: " + (v if k == "error" else v["error"])
                    )
            for st, v in (sec.get("stages") or {}).items():
                if "error" in v:
                    out.append(f"{st}: {v['error']}")
        return sorted(set(out))

    def row(self, label: str, path: str, f: Callable = fmt, ratio: bool = True) -> str:
        o, i = self.med("ours", path), self.med("incumbent", path)
        r = fmt_ratio(self.ratio(path)) if ratio else "-"
        return f"| {label} | {f(o)} | {f(i)} | {r} |"

    def families(self, saver: str, path: str, key: str = "keys") -> str:
        """Median per family of the runs, as `family n`."""
        fams: dict[str, list[int]] = {}
        for r in self.runs[saver]:
            for name, v in (dig(r, path) or {}).items():
                fams.setdefault(name, []).append(v[key])
        parts = [f"{n} {med(v):,.0f}" for n, v in sorted(fams.items()) if med(v)]
        return ", ".join(parts) or "none"


def positive(x: float, y: float) -> bool:
    return x >= 0 and y > 0


def render(data: dict) -> str:
    title = [
        "# Lifecycle: TTL, expiry leftovers, shallow savers, prune",
        "",
        "Ours (`langgraph-checkpoint-redis-lua`) beside the incumbent "
        "(`langgraph-checkpoint-redis` 0.5.2), both through their async savers, on one fresh "
        "Redis Stack server, flushed before each section of each saver. Every ratio is "
        "ours ÷ incumbent, taken within one run; each cell is the median over the runs. "
        "For rates (steps/s) a ratio above 1 favours ours; for times, commands, keys and "
        "bytes, a ratio below 1 does. A `-` ratio: the incumbent's value is 0 or missing, or "
        "a memory delta is negative (allocator noise). "
        "What each section does: the docstring of `benchmarks/lifecycle.py`.",
        "",
    ]
    return render_modes(title, data, render_mode, RESULTS / "lifecycle.md")


LOAD_NOTE = (
    " (other work on the machine slows both savers; the ratios are taken within each run, the"
    " absolute rates move with the load)"
)


def render_mode(mode: str, d: dict) -> list[str]:
    m = Mode(d)
    out = [*mode_header(mode, d, LOAD_NOTE), ""]
    secs = d["sections"]
    head = md_head(["", "ours", "incumbent", "ours ÷ incumbent"])
    if "ttl_step" in secs:
        n = m.med("ours", "ttl_step.steps") or m.med("incumbent", "ttl_step.steps")
        out += [
            '### 1. ttl_step: one step\'s persistence with ttl={"default_ttl": 60}',
            "",
            f"{fmt(n)} sequential steps of one thread (aput + aput_writes of 4 writes); "
            f"then {COUNT_STEPS} more counted by the server (MONITOR for what the client sent, "
            "INFO commandstats for what the server ran, including the commands inside our "
            "scripts).",
            "",
            *head,
            m.row("steps/s (higher is better)", "ttl_step.steps_per_s"),
            m.row("µs per step, median", "ttl_step.step_us_median"),
            m.row("commands sent per step", "ttl_step.rt_step", lambda x: fmt(x, 1)),
            m.row("of which expiry commands", "ttl_step.sent_expiry", lambda x: fmt(x, 1)),
            m.row(
                "commands the server ran per step", "ttl_step.rt_step_server", lambda x: fmt(x, 1)
            ),
            m.row(
                "of which expiry commands (EXPIRE, PEXPIREAT...)",
                "ttl_step.server_expiry",
                lambda x: fmt(x, 1),
            ),
            m.row("keys without a TTL after the steps", "ttl_step.keys_after.no_ttl"),
            "",
        ]
        for s in ("ours", "incumbent"):
            last = next((r for r in reversed(m.runs[s]) if dig(r, "ttl_step.rt_step_sent")), None)
            if last:
                sent = sorted(last["ttl_step"]["rt_step_sent"].items(), key=lambda kv: -kv[1])
                out.append(f"- {s}, sent per step: " + ", ".join(f"{k} {v:g}" for k, v in sent))
            out.append(
                f"- {s}, keys without a TTL after the steps, by family: "
                + m.families(s, "ttl_step.keys_after.families", "no_ttl")
            )
        out += [f"- incumbent error: {e}" for e in m.errors("incumbent", "ttl_step")]
        out += [f"- **ours error**: {e}" for e in m.errors("ours", "ttl_step")]
        out.append("")
    if "expiry_leftover" in secs:
        n = m.med("ours", "expiry_leftover.threads") or m.med(
            "incumbent", "expiry_leftover.threads"
        )
        out += [
            "### 2. expiry_leftover: what expired threads leave behind",
            "",
            f'{fmt(n)} threads of 10 steps, ttl={{"default_ttl": 2/60}} (2 s); wait '
            f"{SHORT_TTL_MIN * 60 * SLACK + EXPIRY_MARGIN_S:.2f} s after the last write. Keys: "
            "every key on the server but those there before the threads (a SCAN, which drops "
            "the keys whose TTL has passed). Index entries: members of the index-like keys "
            f"({', '.join(INDEX_FAMILIES)}). Key bytes: MEMORY USAGE of those keys. Memory: "
            "INFO used_memory minus its value before the threads (it also holds what no key "
            "shows: the incumbent's RediSearch index structures until RediSearch's garbage "
            "collector runs, hash tables not yet shrunk, client buffers, the Lua heap).",
            "",
            *head,
        ]
        for st, label in STAGES:
            p = f"expiry_leftover.stages.{st}"
            if m.med("ours", p + ".keys") is None and m.med("incumbent", p + ".keys") is None:
                continue
            out += [
                m.row(f"{label}: keys", p + ".keys"),
                m.row(f"{label}: index entries", p + ".index_entries"),
                m.row(f"{label}: key bytes", p + ".key_bytes", fmt_kb),
                m.row(f"{label}: used_memory delta", p + ".mem_delta", fmt_kb),
            ]
        out.append("")
        for s in ("ours", "incumbent"):
            parts = []
            for st, _ in STAGES[1:]:
                fams = m.families(s, f"expiry_leftover.stages.{st}.families")
                if m.med(s, f"expiry_leftover.stages.{st}.keys") is not None:
                    nt = m.med(s, f"expiry_leftover.stages.{st}.no_ttl")
                    parts.append(f"{st}: {fams} (without TTL: {fmt(nt)})")
            out.append(f"- {s}, keys left by family: " + "; ".join(parts))
        for s in ("ours", "incumbent"):
            for st in ("one_page", "full_list"):
                p = f"expiry_leftover.stages.{st}"
                if m.med(s, p + ".returned") is not None:
                    out.append(
                        f"- {s}, alist(None{', limit=10' if st == 'one_page' else ''}) after "
                        f"expiry returned {fmt(m.med(s, p + '.returned'))} checkpoints, "
                        f"{fmt(m.med(s, p + '.returned_expired'))} of them from "
                        f"{fmt(m.med(s, p + '.returned_expired_threads'))} expired threads"
                    )
            got = m.med(s, "expiry_leftover.get_expired_found")
            if got is not None:
                out.append(f"- {s}, aget_tuple of 5 expired threads found {fmt(got)}")
            docs = [dig(r, "expiry_leftover.stages.expired.search_docs") for r in m.runs[s]]
            if any(docs):
                out.append(f"- {s}, RediSearch num_docs after expiry: {docs[-1]}")
            w = m.med(s, "expiry_leftover.write_s")
            if w is not None:
                late = w > SHORT_TTL_MIN * 60
                out.append(
                    f"- {s}, writing the threads took {w:.2f} s"
                    + (
                        ", longer than the TTL: the threads written first had already expired "
                        "at the 'after the writes' reading"
                        if late
                        else ""
                    )
                )
        swept = m.med("ours", "expiry_leftover.stages.sweep.swept")
        if swept is not None:
            out.append(f"- ours, asweep() removed the entries of {fmt(swept)} checkpoints")
        out += [f"- incumbent error: {e}" for e in m.errors("incumbent", "expiry_leftover")]
        out += [f"- **ours error**: {e}" for e in m.errors("ours", "expiry_leftover")]
        out.append("")
    if "shallow" in secs:
        n = m.med("ours", "shallow.steps") or m.med("incumbent", "shallow.steps")
        t = m.med("ours", "shallow.shallow_threads") or m.med(
            "incumbent", "shallow.shallow_threads"
        )
        out += [
            "### 3. shallow: AsyncShallowRedisSaver (latest checkpoint per namespace only)",
            "",
            f"Rate over {fmt(n)} steps of one thread (aput + aput_writes of 4 writes, each "
            f"step a new task); memory and keys per thread over {fmt(t)} threads of 100 steps.",
            "",
            *head,
            m.row("steps/s (higher is better)", "shallow.steps_per_s"),
            m.row(
                "used_memory per thread after 100 steps", "shallow.shallow_mem_per_thread", fmt_kb
            ),
            m.row(
                "key bytes per thread (MEMORY USAGE)",
                "shallow.shallow_key_bytes_per_thread",
                fmt_kb,
            ),
            m.row(
                "keys per thread after 100 steps",
                "shallow.shallow_keys_per_thread",
                lambda x: fmt(x, 1),
            ),
            m.row("checkpoints alist() returns", "shallow.listed", ratio=False),
            m.row("pending writes on the latest", "shallow.latest_pending_writes", ratio=False),
            f"| reference: ours, full AsyncRedisSaver, used_memory per thread after 100 steps | "
            f"{fmt_kb(m.med('ours', 'shallow.full_mem_per_thread'))} | - | - |",
            "",
        ]
        for s in ("ours", "incumbent"):
            out.append(
                f"- {s}, shallow keys by family ({fmt(t)} threads): "
                + m.families(s, "shallow.shallow_families")
            )
        out += [f"- incumbent error: {e}" for e in m.errors("incumbent", "shallow")]
        out += [f"- **ours error**: {e}" for e in m.errors("ours", "shallow")]
        out.append("")
    if "prune" in secs:
        out += ["### 4. prune: one thread's history cut back", ""]
        for name, call in (
            ("keep_latest", 'aprune([thread], strategy="keep_latest")'),
            ("keep_last_10", "aprune([thread], keep_last=10)"),
        ):
            p = f"prune.{name}"
            n = m.med("ours", p + ".checkpoints") or m.med("incumbent", p + ".checkpoints")
            out += [
                f"`{call}` on a thread of {fmt(n)} checkpoints, each with 4 writes:",
                "",
                *head,
                m.row("prune time, ms", p + ".prune_ms"),
                m.row("keys before", p + ".keys_before"),
                m.row("keys after", p + ".keys_after"),
                m.row("key bytes before (MEMORY USAGE)", p + ".key_bytes_before", fmt_kb),
                m.row("key bytes after", p + ".key_bytes_after", fmt_kb),
                m.row("used_memory before (over the empty server)", p + ".mem_before", fmt_kb),
                m.row("used_memory after", p + ".mem_after", fmt_kb),
                m.row("checkpoints alist() returns after", p + ".listed", ratio=False),
                m.row("of which read their whole messages list", p + ".values_intact", ratio=False),
                m.row(
                    "pending writes on the latest after", p + ".latest_pending_writes", ratio=False
                ),
                m.row("time to write the thread, s", p + ".build_s", lambda x: fmt(x, 2)),
                "",
            ]
            for s in ("ours", "incumbent"):
                out.append(f"- {s}, keys after by family: " + m.families(s, p + ".families_after"))
            out.append("")
        out += [f"- incumbent error: {e}" for e in m.errors("incumbent", "prune")]
        out += [f"- **ours error**: {e}" for e in m.errors("ours", "prune")]
        out.append("")
    secs_line = []
    for s in ("ours", "incumbent"):
        got = {k: med([r.get("secs", {}).get(k) for r in m.runs[s]]) for k in secs}
        secs_line.append(f"{s}: " + ", ".join(f"{k} {v:.1f} s" for k, v in got.items() if v))
    out += ["- wall time per section, median over runs: " + "; ".join(secs_line), ""]
    return out


if __name__ == "__main__":
    main()
