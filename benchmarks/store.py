"""Store benchmark: RedisStore (ours, plain Redis + Lua) beside the incumbent and InMemoryStore.

    .venv/bin/python benchmarks/store.py [--quick] [--runs 3]
    .venv/bin/python benchmarks/store.py --report      # re-render store.md from the JSON

Starts one fresh Redis Stack 7.4 server on a free port (../shared/anchor/redis-stack.sh; the
incumbent needs its modules) and the incumbent's venv (../shared/anchor/anchor-venv.sh: its
package, langgraph-checkpoint-redis 0.5.2, has our import path, langgraph.store.redis, so it
runs in its own interpreter). Each run measures, each in a worker process of this same file
(`--worker`), on that one server: the incumbent's RedisStore (sync), our RedisStore (sync), our
AsyncRedisStore (through its a* methods), and langgraph's InMemoryStore (no server). Every
section of a Redis store starts with a FLUSHALL and a fresh store with setup() (the incumbent's
setup() makes its RediSearch indexes again). Ratios are ours (sync) ÷ incumbent and ours (sync)
÷ InMemoryStore within one run; the report gives the median over --runs of each ratio and of
each absolute number. All calls are sequential, one client. A timed search or list_namespaces
loop makes at most the calls listed below and stops once it has run 1.5 s (quick) / 5 s (full)
and made at least 5 calls, so a slow store makes fewer calls (the report says how many).

Sections (--quick / full):
  put       500 / 2,000 sequential put()s of ~200-byte JSON values into 10 namespaces
            ("put", "ns0".."ns9"): puts/s.
  get       as many sequential get()s of those items, in a shuffled order: gets/s, and the
            fraction of gets that returned the item with the value put.
  search    2,000 / 10,000 items under the prefix ("ns",) (10 sub-namespaces), loaded with
            batch() of PutOps (the load rate is reported too); then 50 / 200 times
            search(("ns",), filter={"kind": "a", "n": {"$gt": 50}}, limit=10): searches/s,
            how many items came back, whether all of them match the filter, and whether the
            (namespace, key) list equals InMemoryStore's (in order, and as a set).
  vector    2,000 / 10,000 items in ("docs",) with index={"dims": 64, "embed": embed,
            "fields": ["text"]}, where embed() (below) is a deterministic unit vector seeded
            by a hash of the text; then 50 / 200 searches(("docs",), query=..., limit=10) with
            distinct queries: searches/s and the mean overlap of each top 10 with
            InMemoryStore's (exact cosine, brute force). Then the same searches with a put
            of one of the items (its same value) before each, untimed: searches/s when the
            namespace changed since the last query (ours then sends its vectors again rather
            than use the ones its client holds from the last query). On this Redis Stack ours
            answers queries with the server's vector index (vector_index="auto"); both
            figures are also measured for ours with vector_index="scan" on the same data,
            as on a server without RediSearch. Each top 10 is compared with InMemoryStore's.
  list_ns   100 namespaces ("lns", "n000".."n099"), one item each; 200 / 1,000 calls of
            list_namespaces(limit=100): calls/s, and how many of the 100 came back.
Also, once per run, a probe of the incumbent's AsyncRedisStore (aput then aget), its error text
if it fails.

Results: benchmarks/results/store.json (the runs of the last quick and the last full run, under
"quick" and "full") and benchmarks/results/store.md (both, rendered). A store that fails
on a section gets the error text in the report instead of a number.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import random
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.servers import ROOT, flushall, incumbent_python, redis_stacks, server_name
from harness.stats import dig, fmt, fmt_ratio, median, median_ratio, pct
from harness.tables import (
    Session,
    command_line,
    load_results,
    md_head,
    md_row,
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

RESULTS = Path(__file__).resolve().parent / "results"

SECTIONS = ("put", "get", "search", "vector", "list_ns")
STORES = ("ours", "ours_async", "incumbent", "memory")
LABEL = {
    "ours": "ours (sync)",
    "ours_async": "ours (async)",
    "incumbent": "incumbent (sync)",
    "memory": "InMemoryStore",
}
COLUMNS = ("ours (sync)", "ours (async)", "incumbent", "InMemoryStore")  # STORES, in tables
DIMS = 64
FILTER = {"kind": "a", "n": {"$gt": 50}}
N_NS = 10
LIST_NS = 100


def sizes(quick: bool) -> dict[str, int]:
    return {
        "puts": 500 if quick else 2000,
        "items": 2000 if quick else 10000,
        "searches": 50 if quick else 200,
        "list_calls": 200 if quick else 1000,
        "budget": 1.5 if quick else 5.0,  # s: a timed search/list loop stops after it
    }


def embed(texts: list[str]) -> list[list[float]]:
    """Deterministic embeddings: a unit vector from a generator seeded by the text's hash."""
    import numpy as np

    out = []
    for t in texts:
        seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(DIMS)
        out.append((v / np.linalg.norm(v)).tolist())
    return out


def value(i: int) -> dict[str, Any]:
    """A ~200-byte JSON value; kind cycles a/b/c, n cycles 0..99."""
    return {
        "kind": "abc"[i % 3],
        "n": i % 100,
        "text": f"item {i} " + "lorem ipsum dolor sit amet " * 3 + "consectetur elit",
        "tags": [f"t{i % 7}", f"t{i % 11}"],
        "meta": {"source": "bench", "rank": i},
    }


def doc(i: int) -> dict[str, Any]:
    return {"text": f"document {i} about topic {i % 37}", "i": i}


def matches(v: dict[str, Any]) -> bool:
    return v.get("kind") == "a" and isinstance(v.get("n"), int) and v["n"] > 50


# -- worker: runs inside one store's interpreter ----------------------------------------------


class Runner:
    """One store kind: makes fresh stores and calls their sync or async methods."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind, self.url = kind, url
        self.is_async = kind == "ours_async"

    def flush(self) -> None:
        if self.kind != "memory":
            flushall(self.url)

    async def open(self, index: dict | None = None) -> Any:
        self.flush()
        kw = {"index": index} if index else {}
        if self.kind == "memory":
            from langgraph.store.memory import InMemoryStore

            self.cm = None
            return InMemoryStore(**kw)
        if self.is_async:
            from langgraph.store.redis import AsyncRedisStore

            self.cm = AsyncRedisStore.from_conn_string(self.url, **kw)
            store = await self.cm.__aenter__()
            await store.setup()
            return store
        from langgraph.store.redis import RedisStore

        self.cm = RedisStore.from_conn_string(self.url, **kw)
        store = self.cm.__enter__()
        store.setup()
        return store

    async def close(self) -> None:
        if self.cm is None:
            return
        if self.is_async:
            await self.cm.__aexit__(None, None, None)
        else:
            self.cm.__exit__(None, None, None)
        self.cm = None

    def fn(self, store: Any, name: str) -> Callable:
        return getattr(store, "a" + name if self.is_async else name)

    async def timed(
        self, f: Callable, calls: list[tuple[tuple, dict]], budget: float | None = None
    ) -> tuple[float, list]:
        """Runs the calls in order; with a budget (s), stops after it once 5 calls are done.
        The time taken and the results (as many as the calls made)."""
        gc.collect()
        out: list = []
        t0 = time.perf_counter()
        end = t0 + budget if budget else float("inf")
        for a, k in calls:
            out.append(await f(*a, **k) if self.is_async else f(*a, **k))
            if len(out) >= 5 and time.perf_counter() > end:
                break
        return time.perf_counter() - t0, out

    async def load(self, store: Any, items: list[tuple[tuple, str, dict]]) -> float:
        from langgraph.store.base import PutOp

        f = self.fn(store, "batch")
        t0 = time.perf_counter()
        for j in range(0, len(items), 500):
            ops = [PutOp(ns, k, v) for ns, k, v in items[j : j + 500]]
            if self.is_async:
                await f(ops)
            else:
                f(ops)
        return time.perf_counter() - t0


def keys_of(results: list) -> list[list[str]]:
    return [["/".join(it.namespace) + ":" + it.key for it in res] for res in results]


async def sec_put_get(rn: Runner, quick: bool, res: dict) -> None:
    n = sizes(quick)["puts"]
    items = [(("put", f"ns{i % N_NS}"), f"k{i}", value(i)) for i in range(n)]
    res["put"] = put = {"n": n, "value_bytes": len(json.dumps(items[0][2]))}
    store = await rn.open()
    try:
        try:
            await rn.timed(rn.fn(store, "put"), [((("warm",), "w", {"x": 1}), {})])  # warm-up
            await rn.timed(rn.fn(store, "get"), [((("warm",), "w"), {})])
            s, _ = await rn.timed(rn.fn(store, "put"), [(it, {}) for it in items])
            put["per_s"] = n / s
        except Exception as e:
            put["error"] = err_text(e)
            put["traceback"] = traceback.format_exc()[-1500:]
            res["get"] = {"error": "skipped: put failed"}
            return
        order = list(range(n))
        random.Random(7).shuffle(order)
        res["get"] = get = {"n": n}
        try:
            calls = [((items[i][0], items[i][1]), {}) for i in order]
            s, got = await rn.timed(rn.fn(store, "get"), calls)
            get["per_s"] = n / s
            ok = sum(
                g is not None and g.value == items[i][2] for g, i in zip(got, order, strict=True)
            )
            get["found"] = sum(g is not None for g in got)
            get["correct"] = ok
            get["correct_frac"] = ok / n
        except Exception as e:
            get["error"] = err_text(e)
            get["traceback"] = traceback.format_exc()[-1500:]
    finally:
        await rn.close()


async def sec_search(rn: Runner, quick: bool, res: dict) -> None:
    sz = sizes(quick)
    n, q = sz["items"], sz["searches"]
    items = [(("ns", f"sub{i % N_NS}"), f"k{i}", value(i)) for i in range(n)]
    res["search"] = out = {
        "items": n,
        "searches": q,
        "matching": sum(matches(v) for *_, v in items),
    }
    store = await rn.open()
    try:
        s = await rn.load(store, items)
        out["load_per_s"] = n / s
        calls = [((("ns",),), {"filter": FILTER, "limit": 10})] * q
        s, got = await rn.timed(rn.fn(store, "search"), calls, sizes(quick)["budget"])
        out["done"] = len(got)
        out["per_s"] = len(got) / s
        out["returned"] = len(got[0])
        if got[0]:  # vacuous when nothing came back
            out["all_match"] = all(matches(it.value) for r in got for it in r)
        out["stable"] = all(k == keys_of(got[:1])[0] for k in keys_of(got))
        out["keys"] = keys_of(got[:1])[0]
    except Exception as e:
        out["error"] = err_text(e)
        out["traceback"] = traceback.format_exc()[-1500:]
    finally:
        await rn.close()


async def changed(
    rn: Runner, store: Any, calls: list[tuple[tuple, dict]], n: int, quick: bool
) -> tuple[int, float]:
    """Searches with a put (untimed) into the namespace before each: (calls made, per s)."""
    put = store.aput if rn.is_async else store.put
    search = store.asearch if rn.is_async else store.search
    spent, done, budget = 0.0, 0, sizes(quick)["budget"]
    for j, (a, k) in enumerate(calls):
        args = (("docs",), f"d{j % n}", doc(j % n))
        _ = await put(*args) if rn.is_async else put(*args)
        t = time.perf_counter()
        _ = await search(*a, **k) if rn.is_async else search(*a, **k)
        spent += time.perf_counter() - t
        done += 1
        if done >= 5 and spent > budget:
            break
    return done, done / spent


async def sec_vector(rn: Runner, quick: bool, res: dict) -> None:
    sz = sizes(quick)
    n, q = sz["items"], sz["searches"]
    items = [(("docs",), f"d{i}", doc(i)) for i in range(n)]
    res["vector"] = out = {"items": n, "searches": q}
    index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    store = await rn.open(index)
    try:
        s = await rn.load(store, items)
        out["load_per_s"] = n / s
        calls = [((("docs",),), {"query": f"question number {j}", "limit": 10}) for j in range(q)]
        s, got = await rn.timed(rn.fn(store, "search"), calls, sizes(quick)["budget"])
        out["done"] = len(got)
        out["per_s"] = len(got) / s
        out["returned_mean"] = statistics.fmean(len(r) for r in got)
        out["keys"] = keys_of(got)
        out["changed_done"], out["changed_per_s"] = await changed(rn, store, calls, n, quick)
        if rn.kind == "ours":
            # the same data, the same server, the same queries: ours scanning, as it does on
            # a server without RediSearch (vector_index="scan": no index, the client's cache)
            from langgraph.store.redis import RedisStore

            with RedisStore.from_conn_string(rn.url, index=index, vector_index="scan") as scan:
                scan.setup()
                s, got = await rn.timed(scan.search, calls, sizes(quick)["budget"])
                out["scan_done"], out["scan_per_s"] = len(got), len(got) / s
                out["scan_keys"] = keys_of(got)
                out["scan_changed_done"], out["scan_changed_per_s"] = await changed(
                    rn, scan, calls, n, quick
                )
    except Exception as e:
        out["error"] = err_text(e)
        out["traceback"] = traceback.format_exc()[-1500:]
    finally:
        await rn.close()


async def sec_list_ns(rn: Runner, quick: bool, res: dict) -> None:
    c = sizes(quick)["list_calls"]
    items = [(("lns", f"n{i:03d}"), "k", value(i)) for i in range(LIST_NS)]
    res["list_ns"] = out = {"namespaces": LIST_NS, "calls": c}
    store = await rn.open()
    try:
        await rn.load(store, items)
        calls = [((), {"limit": 100})] * c
        s, got = await rn.timed(rn.fn(store, "list_namespaces"), calls, sizes(quick)["budget"])
        out["done"] = len(got)
        out["per_s"] = len(got) / s
        want = {ns for ns, _, _ in items}
        out["returned"] = len(got[0])
        out["expected_found"] = len(want & {tuple(x) for x in got[0]})
    except Exception as e:
        out["error"] = err_text(e)
        out["traceback"] = traceback.format_exc()[-1500:]
    finally:
        await rn.close()


async def probe_incumbent_async(url: str, res: dict) -> None:
    """One aput + aget through the incumbent's AsyncRedisStore: works, or its error."""
    from langgraph.store.redis import AsyncRedisStore

    out: dict[str, Any] = {}
    res["async_probe"] = out
    try:
        async with AsyncRedisStore.from_conn_string(url) as store:
            await store.setup()
            await store.aput(("probe",), "k", {"x": 1})
            got = await store.aget(("probe",), "k")
            out["aget_found"] = got is not None
    except Exception as e:
        out["error"] = err_text(e)


async def worker(a: argparse.Namespace) -> None:
    rn = Runner(a.store, a.url)
    res: dict[str, Any] = {"store": a.store, "secs": {}}
    sections = (
        ("put", sec_put_get),
        ("search", sec_search),
        ("vector", sec_vector),
        ("list_ns", sec_list_ns),
    )

    def section(f: Callable) -> Callable[[], Any]:
        return lambda: f(rn, a.quick, res)

    await run_sections(res, [(name, section(f)) for name, f in sections], 1500)
    if a.store == "incumbent":
        await probe_incumbent_async(a.url, res)
    print(json.dumps(res), flush=True)


# -- driver ---------------------------------------------------------------------------------


def run_worker(python: str, store: str, url: str, quick: bool) -> dict[str, Any]:
    cmd = [python, str(Path(__file__).resolve()), "--worker", "--store", store, "--url", url]
    return worker_result(cmd + (["--quick"] if quick else []), {"store": store})


def compare(run: dict[str, dict]) -> None:
    """Against InMemoryStore of the same run: filter-search equality, vector top-10 overlap.
    Drops the raw key lists afterwards."""
    mem = run.get("memory", {})
    mkeys = (mem.get("search") or {}).get("keys")
    vkeys = (mem.get("vector") or {}).get("keys")
    for r in run.values():
        s, v = r.get("search") or {}, r.get("vector") or {}
        if mkeys is not None and "keys" in s:
            s["equal_memory_ordered"] = s["keys"] == mkeys
            s["equal_memory_set"] = set(s["keys"]) == set(mkeys)
        if vkeys is not None and "keys" in v:
            ov = [
                len(set(a) & set(b)) / max(len(b), 1)
                for a, b in zip(v["keys"], vkeys, strict=False)  # the queries both made
            ]
            v["overlap_memory"] = statistics.fmean(ov)
            v["overlap_memory_min"] = min(ov)
            pairs = list(zip(v["keys"], vkeys, strict=False))
            v["same_order_memory"] = statistics.fmean(a == b for a, b in pairs)
        if vkeys is not None and "scan_keys" in v:
            pairs = list(zip(v["scan_keys"], vkeys, strict=False))
            v["scan_same_order_memory"] = statistics.fmean(a == b for a, b in pairs)
    for r in run.values():
        (r.get("vector") or {}).pop("keys", None)
        (r.get("vector") or {}).pop("scan_keys", None)


def main() -> None:
    ap = driver_parser()
    add_worker_flags(ap, "store.md", "--store")
    a = ap.parse_args()
    if a.worker:
        asyncio.run(worker(a))
        return
    path = RESULTS / "store.json"
    data = load_results(path)
    if a.report:
        render(data)
        return
    sys.path.insert(0, str(ROOT / "src"))
    session = Session()
    runs: list[dict[str, dict]] = []
    with redis_stacks(1) as (url,):
        incumbent_py = incumbent_python()
        server = server_name(url, "all Redis stores")
        session.started()
        for i in range(a.runs):
            run: dict[str, dict] = {}
            for s in STORES:
                py = incumbent_py if s == "incumbent" else sys.executable
                run[s] = logged(i, a.runs, s, run_worker, py, s, url, a.quick)
            compare(run)
            runs.append(run)
    command = command_line("store.py", a.quick, a.runs)
    session.save(path, data, a.quick, command=command, server=server, runs_n=a.runs,
                 extra={"sizes": sizes(a.quick)}, runs=runs)  # fmt: skip
    print(render(data))


# -- report ---------------------------------------------------------------------------------


class Mode:
    def __init__(self, d: dict) -> None:
        self.d = d
        self.runs: list[dict[str, dict]] = d["runs"]

    def vals(self, store: str, p: str) -> list[Any]:
        return [dig(r.get(store), p) for r in self.runs]

    def med(self, store: str, p: str) -> float | None:
        return median(self.vals(store, p))

    def ratio(self, a: str, b: str, p: str) -> float | None:
        pairs = zip(self.vals(a, p), self.vals(b, p), strict=True)
        return median_ratio(pairs, lambda x, y: y > 0)

    def cell(self, store: str, p: str, f: Callable) -> str:
        """The median, or the error of the section when no run has a number."""
        m = self.med(store, p)
        if m is not None:
            return f(m)
        sec = p.split(".")[0]
        errs = {dig(r.get(store), sec + ".error") for r in self.runs} - {None}
        werr = {dig(r.get(store), "worker_error") for r in self.runs} - {None}
        if werr:
            return "worker failed"
        return "error (below)" if errs else "-"

    def bools(self, store: str, p: str) -> str:
        xs = self.vals(store, p)
        got = [x for x in xs if isinstance(x, bool)]
        if not got:
            return self.cell(store, p, fmt)
        return f"{sum(got)}/{len(got)} runs" if not all(got) else "yes"

    def wrong(self, store: str, p: str) -> bool:
        """Whether, in some run, the store's results for the rate at p were wrong."""
        sec = p.split(".")[0]
        if p.endswith("load_per_s"):  # a load is not checked on its own
            return False
        for r in self.runs:
            rs = r.get(store) or {}
            if sec == "get" and dig(rs, "get.correct_frac") not in (None, 1.0):
                return True
            if sec == "search" and (
                dig(rs, "search.equal_memory_set") is False or dig(rs, "search.all_match") is False
            ):
                return True
            if sec == "vector" and (dig(rs, "vector.overlap_memory") or 1) < 0.9:
                return True
            if sec == "list_ns" and dig(rs, "list_ns.expected_found") not in (None, LIST_NS):
                return True
        return False

    def errors(self) -> list[str]:
        out = []
        for store in STORES:
            seen = set()
            for r in self.runs:
                rs = r.get(store) or {}
                if "worker_error" in rs:
                    seen.add(("worker", rs["worker_error"].strip().splitlines()[-1]))
                for sec in (*SECTIONS, "async_probe"):
                    e = dig(rs, sec + ".error")
                    if e:
                        seen.add((sec, e))
            out += [f"- {LABEL[store]}, {sec}: `{e}`" for sec, e in sorted(seen)]
        return out


def rate_table(m: Mode, rows: list[tuple[str, str]]) -> list[str]:
    out = md_head(["", *COLUMNS, "ours ÷ incumbent", "ours ÷ InMemoryStore"])
    for label, p in rows:
        cells = [m.cell(s, p, fmt) + (" †" if m.wrong(s, p) else "") for s in STORES]
        ratios = [m.ratio("ours", "incumbent", p), m.ratio("ours", "memory", p)]
        out.append(md_row([label, *cells, *map(fmt_ratio, ratios)]))
    return out


def check_table(m: Mode, rows: list[tuple[str, str, Callable | None]]) -> list[str]:
    out = md_head(["correctness", *COLUMNS])
    for label, p, f in rows:
        cells = [m.bools(s, p) if f is None else m.cell(s, p, f) for s in STORES]
        out.append(md_row([label, *cells]))
    return out


def render(data: dict) -> str:
    title = [
        "# Store: RedisStore on plain Redis + Lua, beside the incumbent and InMemoryStore",
        "",
        "Ours (`langgraph.store.redis` of this project) beside the incumbent "
        "(`langgraph-checkpoint-redis` 0.5.2's RediSearch-based RedisStore) and langgraph's "
        "InMemoryStore, on one fresh Redis Stack server, flushed before each section of each "
        "store. Sequential calls, one client. Rates are per second (higher is better); each "
        "cell is the median over the runs; each ratio is ours (sync) ÷ the other store, taken "
        "within one run, median over the runs. What each section does: the docstring of "
        "`benchmarks/store.py`.",
        "",
    ]
    return render_modes(title, data, render_mode, RESULTS / "store.md")


def render_mode(mode: str, d: dict) -> list[str]:
    m, z = Mode(d), d["sizes"]
    out = [
        *mode_header(mode, d),
        f"- sizes: {z['puts']:,} puts and gets; {z['items']:,} items for the filter and the "
        f"vector search, at most {z['searches']:,} searches each; {LIST_NS} namespaces, at "
        f"most {z['list_calls']:,} list_namespaces calls; a timed search or list loop stops "
        f"after {z['budget']} s once it has made 5 calls (calls made: below)",
        "",
        "### Rates (per second)",
        "",
        "† the store's results were wrong in some run (see Correctness): its rate measures "
        "different work and is not comparable.",
        "",
        *rate_table(
            m,
            [
                ("1. put (~200-byte JSON, 10 namespaces)", "put.per_s"),
                ("2. get (existing items)", "get.per_s"),
                ('3. search(("ns",), filter, limit=10)', "search.per_s"),
                ('4. vector search(("docs",), query, limit=10)', "vector.per_s"),
                ("4b. the same, the namespace changed before each query", "vector.changed_per_s"),
                ('4c. = 4, ours with vector_index="scan" (any Redis)', "vector.scan_per_s"),
                ('4d. = 4b, ours with vector_index="scan"', "vector.scan_changed_per_s"),
                ("5. list_namespaces (100 namespaces)", "list_ns.per_s"),
                ("bulk load for 3: items/s via batch(500 PutOps)", "search.load_per_s"),
                ("bulk load for 4: items/s via batch (with embedding)", "vector.load_per_s"),
            ],
        ),
        "",
        "### Correctness",
        "",
        *check_table(
            m,
            [
                ("2. gets that returned the item put", "get.correct_frac", pct),
                ("3. items returned (limit 10)", "search.returned", fmt),
                ("3. all returned items match the filter", "search.all_match", None),
                (
                    "3. same (ns, key) list as InMemoryStore, in order",
                    "search.equal_memory_ordered",
                    None,
                ),
                ("3. same set as InMemoryStore", "search.equal_memory_set", None),
                ("4. items returned per query, mean", "vector.returned_mean", fmt),
                ("4. top-10 overlap with InMemoryStore, mean", "vector.overlap_memory", pct),
                ("4. same top 10 as InMemoryStore, in order", "vector.same_order_memory", pct),
                ("4c. the same, scanning", "vector.scan_same_order_memory", pct),
                (
                    "4. top-10 overlap with InMemoryStore, worst query",
                    "vector.overlap_memory_min",
                    pct,
                ),
                (f"5. namespaces returned (of {LIST_NS})", "list_ns.expected_found", fmt),
                ("3. searches made (timed)", "search.done", fmt),
                ("4. searches made (timed)", "vector.done", fmt),
                ("4b. searches made (timed)", "vector.changed_done", fmt),
                ("4c. searches made (timed)", "vector.scan_done", fmt),
                ("4d. searches made (timed)", "vector.scan_changed_done", fmt),
                ("5. list_namespaces calls made (timed)", "list_ns.done", fmt),
            ],
        ),
        "",
    ]
    match = m.med("memory", "search.matching")
    if match is not None:
        out.append(f"- items matching the filter in section 3: {match:,.0f} of {z['items']:,}")
    probe = [dig(r.get("incumbent"), "async_probe") for r in m.runs]
    probe = [p for p in probe if p]
    if probe and "error" not in probe[-1]:
        out.append(f"- incumbent AsyncRedisStore probe: aget found the item: {probe[-1]}")
    errs = m.errors()
    if errs:
        out += ["", "Errors (distinct, over all runs):", "", *errs]
    secs = []
    for s in STORES:
        got = {k: m.med(s, f"secs.{k}") for k in ("put", "search", "vector", "list_ns")}
        secs.append(f"{LABEL[s]}: " + ", ".join(f"{k} {v:.1f} s" for k, v in got.items() if v))
    out += ["", "- wall time per section, median over runs: " + "; ".join(secs), ""]
    return out


if __name__ == "__main__":
    main()
