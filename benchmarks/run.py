"""The side-by-side harness: every saver in one run, on the same server, reported as ratios.

    python benchmarks/run.py [--quick] [--runs 3] [--only SECTION[,SECTION...]]
    python benchmarks/run.py --postgres ...   # PostgresSaver too, on a throwaway PostgreSQL
    python benchmarks/run.py --report [--quick] [--postgres]   # re-render from results.json

Starts three fresh Redis Stack 7.4 servers on free ports through ../shared/anchor/redis-stack.sh
(the incumbent needs its modules; they serve plain-Redis code too), stopped at the end: the
main one, where ours and the incumbent run side by side; "aux" for the memory readings and the
command counts (nothing is ever deleted there); and "filter" for the filter data set alone.
Also an embedded Valkey 9.1 (ours runs there too), and it makes the
incumbent's venv with ../shared/anchor/anchor-venv.sh (same import path as ours, so it runs in
its own interpreter). The filter server is populated once (10,000 checkpoints in --quick mode,
100,000 otherwise, per Redis saver); then each run measures, in turn: the incumbent (in its
venv's interpreter), then ours (async), ours sync (RedisSaver), ours on Valkey and
InMemorySaver, one after the other in one process of this venv (benchmarks/workloads.py, which
documents every workload). Every ratio is taken within one run, then the median over --runs is
reported in benchmarks/results/ (--quick) or benchmarks/results/full/ (with --postgres: in
postgres/ below them): report.md, results.json, ratios.png, history.png.

--only runs some sections of workloads.py (core, mem, graph, c500, filter, rt, history); the
report then holds those rows only. Each row of the report names the command that reproduces it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ANCHOR = ROOT.parent / "shared" / "anchor"
SECTIONS = ("core", "mem", "graph", "c500", "filter", "rt", "history")
SAVERS = ("ours", "incumbent", "ours_sync", "ours_valkey", "ours_identity", "memory", "postgres")
LABEL = {
    "ours": "ours",
    "incumbent": "incumbent 0.5.2",
    "ours_sync": "ours sync",
    "ours_valkey": "ours on Valkey 9.1",
    "ours_identity": 'ours, delta_mode="identity"',
    "memory": "InMemorySaver",
    "postgres": "PostgresSaver",
}
# (workload, section, unit): rates, higher is better
RATES = [
    ("aput", "core", "puts/s"),
    ("aput_writes", "core", "put_writes/s"),
    ("aget_tuple", "core", "gets/s"),
    ("alist10", "core", "lists/s"),
    ("aget_tuple_writes", "core", "gets/s"),
    ("alist10_writes", "core", "lists/s"),
    ("alist_before", "core", "pages/s"),
    ("list_filter", "filter", "lists/s"),
    ("list_filter_user", "filter", "lists/s"),
    ("graph10", "graph", "graphs/s"),
    ("concurrent50", "graph", "graphs/s"),
    ("concurrent500", "c500", "graphs/s"),
]
# the targets as ratios of ops/s (graph10 within 1.2x of InMemorySaver's time per graph)
TARGETS = {
    "incumbent": {"aput": 10, "aput_writes": 10, "aget_tuple": 20, "alist10": 50},
    "memory": {"graph10": 1 / 1.2, "concurrent500": 1},
}
RT_OPS = ("aput", "aput_writes", "aget_tuple", "alist10", "list_filter")
HISTORY_POINTS = (10, 100, 1_000, 3_000, 10_000)


def plan(quick: bool) -> dict[str, dict[str, Any]]:
    """Per saver: which sections run, and how far its history grows."""
    every = set(SECTIONS)
    if quick:
        return {
            "ours": {"sections": every, "history_max": 10_025, "budget": 4},
            "incumbent": {"sections": every, "history_max": 125, "budget": 8},
            "ours_sync": {"sections": {"core", "mem", "graph"}},
            "ours_valkey": {"sections": {"core", "mem"}},
            "ours_identity": {"sections": {"history"}, "history_max": 10_025, "budget": 2},
            "memory": {"sections": every - {"rt", "mem"}, "history_max": 3_025, "budget": 8},
            "postgres": {"sections": every - {"rt", "mem"}, "history_max": 3_025, "budget": 5},
        }
    return {
        "ours": {"sections": every, "history_max": 10_025, "budget": 120},
        "incumbent": {"sections": every, "history_max": 10_025, "budget": 60},
        "ours_sync": {"sections": every, "history_max": 10_025, "budget": 120},
        "ours_valkey": {"sections": every - {"filter", "rt"}, "history_max": 10_025, "budget": 60},
        "ours_identity": {"sections": {"history"}, "history_max": 10_025, "budget": 120},
        "memory": {"sections": every - {"rt", "mem"}, "history_max": 10_025, "budget": 120},
        "postgres": {"sections": every - {"rt", "mem"}, "history_max": 10_025, "budget": 60},
    }


def sh(cmd: list[str]) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def workloads(python: str, *args: str) -> list[dict]:
    """Run workloads.py; its JSON lines (one per saver)."""
    out = subprocess.run(
        [python, str(HERE / "workloads.py"), *args], capture_output=True, text=True
    )
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"workloads.py {' '.join(args)} failed")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


class Postgres:
    """A throwaway PostgreSQL from the Debian packages (`apt-get install -y postgresql`), run as
    the `postgres` user when we are root. synchronous_commit=off: like the Redis servers here,
    which persist nothing, it does not wait for the disk at each commit."""

    def __init__(self) -> None:
        from langgraph.checkpoint.redis.embedded import free_port

        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise SystemExit(
                "--postgres: no /usr/lib/postgresql/*/bin (apt-get install postgresql)"
            )
        self.bin = found[-1].parent
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def pg(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / tool), *args], check=True,
                       capture_output=True)  # fmt: skip

    def start(self) -> Postgres:
        data = str(self.dir / "data")
        self.pg("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
        opts += "-c synchronous_commit=off"
        self.pg("pg_ctl", "-D", data, "-l", str(self.dir / "log"), "-o", opts, "-w", "start")
        return self

    def stop(self) -> None:
        self.pg("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def out_dir(a: argparse.Namespace) -> Path:
    """results/ (--quick), results/full/ (the full mode); with --postgres, a postgres/ below
    that, so the default report is never replaced by one with an extra saver."""
    return HERE / "results" / ("" if a.quick else "full") / ("postgres" if a.postgres else "")


def populate_args(saver: str, url: str, n: int) -> list[str]:
    return ["--saver", saver, "--url", url, "--populate", str(n)]


def median(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def per_run(runs: dict[str, list[dict]], a: str, b: str, get: Any) -> float | None:
    """Median over runs of get(run of a) / get(run of b), each ratio within one run."""
    ratios = []
    for ra, rb in zip(runs.get(a, []), runs.get(b, []), strict=False):
        x, y = get(ra), get(rb)
        if x is not None and y:
            ratios.append(x / y)
    return median(ratios)


def key(w: str) -> Any:
    return lambda r: r.get(w)


def hist(p: int, stat: str = "median") -> Any:
    def get(r: dict) -> float | None:
        pt = r.get("history", {}).get("points", {}).get(str(p))
        return pt[stat] if pt else None

    return get


def fmt_rate(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 10 else f"{x:,.1f}"


def fmt_ratio(x: float | None, unit: str = "x") -> str:
    if x is None:
        return "-"
    return f"{x:.1f}{unit}" if x >= 10 else f"{x:.2f}{unit}"


def fmt_us(x: float | None) -> str:
    return "-" if x is None else f"{x * 1e6:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument(
        "--postgres",
        action="store_true",
        help="also measure PostgresSaver on a throwaway local PostgreSQL (needs the Debian "
        "postgresql package, and langgraph-checkpoint-postgres and psycopg[binary,pool] in "
        "this venv)",
    )
    ap.add_argument(
        "--report", action="store_true", help="only re-render the report from results.json"
    )
    a = ap.parse_args()
    if a.report:
        d = json.loads((out_dir(a) / "results.json").read_text())
        a = argparse.Namespace(**{"postgres": False, **d["args"]})
        cfg = {s: {**c, "sections": set(c["sections"])} for s, c in d["plan"].items()}
        only = set(a.only.split(",")) if a.only else set(SECTIONS)
        report(a, only, d["runs"], cfg, d["filter_n"], d["populate_s"], d["wall_s"], d["phases_s"])
        return
    t_start = time.perf_counter()
    only = set(a.only.split(",")) if a.only else set(SECTIONS)
    if only - set(SECTIONS):
        raise SystemExit(f"unknown sections: {sorted(only - set(SECTIONS))}")
    sys.path.insert(0, str(ROOT / "src"))
    from langgraph.checkpoint.redis.embedded import EmbeddedServer, free_port

    filter_n = 10_000 if a.quick else 100_000
    # Three fresh Redis Stack servers, stopped at the end: nothing left by an earlier run (or
    # written in an older storage format) on them, and no one else's keys.
    ports = [str(free_port()) for _ in range(3)]
    stack, aux, filt = (sh(["bash", str(ANCHOR / "redis-stack.sh"), "start", p]) for p in ports)
    incumbent_py = sh(["bash", str(ANCHOR / "anchor-venv.sh")]) + "/bin/python"
    valkey = EmbeddedServer().start()
    postgres = Postgres().start() if a.postgres else None
    phases: dict[str, float] = {"servers and venv": time.perf_counter() - t_start}
    url = {
        "ours": stack,
        "incumbent": stack,
        "ours_sync": stack,
        "ours_valkey": valkey.url,
        "ours_identity": stack,
    }
    cfg = plan(a.quick)
    if postgres:
        url["postgres"] = postgres.url
    else:
        del cfg["postgres"]
    runs: dict[str, list[dict]] = {s: [] for s in SAVERS}
    populated: dict[str, float] = {}
    try:
        t = time.perf_counter()
        if "filter" in only:  # both at once: populating is not measured
            procs = {
                s: subprocess.Popen(
                    [py, str(HERE / "workloads.py"), *populate_args(s, to, filter_n)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for s, py, to in (
                    ("ours", sys.executable, filt),
                    ("incumbent", incumbent_py, filt),
                    ("postgres", sys.executable, postgres.url if postgres else None),
                )
                if to
            }
            outs = {s: p.communicate()[0] for s, p in procs.items()}
            for s, p in procs.items():
                if p.returncode:
                    raise SystemExit(f"populating the filter data set for {s} failed")
                populated[s] = json.loads(outs[s].splitlines()[-1])["populate_s"]
        phases["populate"] = time.perf_counter() - t
        for run in range(a.runs):
            # The incumbent, then ours right after it (the ratios pair these two), then the
            # rest of this venv's savers in the same process (a process start is ~1 s).
            specs = {}
            for s in SAVERS:
                if s not in cfg:
                    continue
                sections = cfg[s]["sections"] & only
                if not sections:
                    continue
                spec: dict[str, Any] = {
                    "saver": "ours" if s == "ours_valkey" else s,
                    "label": s,
                    "sections": ",".join(x for x in SECTIONS if x in sections),
                    "url": url.get(s),
                    "aux": aux if s in ("ours", "incumbent", "ours_sync") else None,
                    "filter_url": filt if s in ("ours", "incumbent", "ours_sync") else None,
                }
                if s == "postgres":  # one server for everything, the data set included
                    spec["filter_url"] = url[s]
                if "history" in sections:
                    spec["history_max"] = cfg[s]["history_max"]
                    spec["history_budget"] = cfg[s]["budget"]
                specs[s] = spec
            common = ["--filter-n", str(filter_n)] + (["--quick"] if a.quick else [])
            groups = [
                (incumbent_py, [specs[s] for s in ("incumbent",) if s in specs]),
                (sys.executable, [specs[s] for s in SAVERS if s != "incumbent" and s in specs]),
            ]
            for py, group in groups:
                if group:
                    t = time.perf_counter()
                    for res in workloads(py, "--plan", json.dumps(group), *common):
                        runs[res["saver"]].append(res)
                    phases[f"run {run + 1}: " + ", ".join(g["label"] for g in group)] = (
                        time.perf_counter() - t
                    )
    finally:
        valkey.stop()
        if postgres:
            postgres.stop()
        for p in ports:
            sh(["bash", str(ANCHOR / "redis-stack.sh"), "stop", p])
    wall = time.perf_counter() - t_start
    report(a, only, runs, cfg, filter_n, populated, wall, phases)


def report(
    a: argparse.Namespace,
    only: set[str],
    runs: dict[str, list[dict]],
    cfg: dict[str, dict[str, Any]],
    filter_n: int,
    populated: dict[str, float],
    wall: float,
    phases: dict[str, float],
) -> None:
    base = "python benchmarks/run.py" + (" --quick" if a.quick else "") + f" --runs {a.runs}"
    if getattr(a, "postgres", False):
        base += " --postgres"
    command = base + (f" --only {a.only}" if a.only else "")

    def repro(section: str) -> str:
        return f"`{base} --only {section}`"

    def med(s: str, get: Any) -> float | None:
        return median([get(r) for r in runs[s]])

    out = out_dir(a)
    out.mkdir(parents=True, exist_ok=True)
    mode = "quick" if a.quick else "full"
    lines = [
        f"# Benchmark report ({date.today()}, {mode} mode)",
        "",
        f"Reproduce everything: `{command}` ({a.runs} runs; this one took {wall:.0f} s of wall "
        "time on a 2-core machine shared with other work). Each figure is the median over the "
        "runs; each ratio is taken within one run (the two savers measured seconds apart on the "
        "same server), and the median of those per-run ratios is shown. Ours, ours sync and the "
        "incumbent share one fresh Redis Stack 7.4 server; ours also runs on an embedded "
        "Valkey 9.1. "
        "Each run starts the incumbent's process (its own venv), then one process of this venv "
        "that measures ours, ours sync, ours on Valkey and InMemorySaver in turn. The async "
        "savers are driven through their a* methods and `graph.ainvoke`, ours sync through "
        "RedisSaver's sync methods and `graph.invoke` (its concurrent graphs on threads, one per "
        "graph). Workloads: benchmarks/workloads.py; harness: benchmarks/run.py.",
        "",
    ]
    notes: list[str] = []

    # -- targets ------------------------------------------------------------------------
    targets: list[tuple[str, str, bool | None]] = []

    def target_ratio(w: str, goal: float) -> None:
        if not runs["ours"] or w not in runs["ours"][0]:
            return
        r = per_run(runs, "ours", "incumbent", key(w))
        value = fmt_ratio(r)
        if w in ("aget_tuple", "alist10") and f"{w}_writes" in runs["ours"][0]:
            value += (
                f" ({fmt_ratio(per_run(runs, 'ours', 'incumbent', key(w + '_writes')))} with the "
                "aput_writes phase's writes pending too, as the first cut measured it)"
            )
        targets.append((f"{w} >= {goal:g}x incumbent", value, None if r is None else r >= goal))

    for w, goal in (("aput", 10), ("aput_writes", 10), ("aget_tuple", 20), ("alist10", 50)):
        target_ratio(w, goal)
    if runs["ours"] and "graph10" in runs["ours"][0]:
        r = per_run(runs, "memory", "ours", key("graph10"))  # time ours / time InMemory
        targets.append(
            (
                "graph10 within 1.2x of InMemorySaver (time per graph)",
                f"ours takes {fmt_ratio(r)} InMemorySaver's time",
                None if r is None else r <= 1.2,
            )
        )
    if runs["ours"] and "concurrent500" in runs["ours"][0]:
        errs = max(r.get("concurrent500_errors", 0) for r in runs["ours"])
        r = per_run(runs, "ours", "memory", key("concurrent500"))
        ok = None if r is None else errs == 0 and r >= 1
        targets.append(
            (
                "concurrent500: no errors, throughput >= InMemorySaver",
                f"{errs} errors, {fmt_ratio(r)} of InMemorySaver's graphs/s",
                ok,
            )
        )
    if runs["ours"] and "mem_per_checkpoint" in runs["ours"][0]:  # section mem
        r = per_run(runs, "ours", "incumbent", key("mem_per_checkpoint"))
        targets.append(
            (
                "server memory per checkpoint <= 0.25x incumbent",
                fmt_ratio(r),
                r is not None and r <= 0.25,
            )
        )
    growth: dict[str, tuple[float | None, int]] = {}
    if any("history" in r for r in runs["ours"]):
        for s in SAVERS:
            got = [r for r in runs[s] if "history" in r]
            if not got:
                continue
            top = max(
                (p for p in HISTORY_POINTS if all(str(p) in r["history"]["points"] for r in got)),
                default=None,
            )
            if top is None or top == 10:
                continue
            ratios = [hist(top)(r) / hist(10)(r) for r in got]
            growth[s] = (median(ratios), top)
        g, top = growth.get("ours", (None, 0))
        value = f"step {top:,} / step 10 = {fmt_ratio(g)}" if g else "-"
        if g and top != 10_000:
            value = f"10,000 not reached in this mode; {value}"
        targets.append(
            (
                "step at 10,000 within 1.2x of step at 10 (ours, median of the window)",
                value,
                None if g is None or top != 10_000 else g <= 1.2,
            )
        )
    if targets:
        lines += [
            "## Targets",
            "",
            "| target | measured (median of per-run ratios) | |",
            "|---|---|---|",
        ]
        for name, value, ok in targets:
            verdict = "n/a" if ok is None else ("**met**" if ok else "missed")
            lines.append(f"| {name} | {value} | {verdict} |")
        lines.append("")

    # -- rates --------------------------------------------------------------------------
    shown = [(w, sec, unit) for w, sec, unit in RATES if sec in only]
    if shown:
        lines += [
            "## Throughput (higher is better)",
            "",
            "| workload | unit | ours | incumbent 0.5.2 | InMemorySaver | ours sync "
            "| ours on Valkey 9.1 | ours / incumbent | ours / InMemory | ours sync / incumbent "
            "| ours sync / InMemory | reproduce |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for w, sec, unit in shown:
            if all(med(s, key(w)) is None for s in SAVERS):
                continue  # not measured in this mode
            vals = [
                fmt_rate(med(s, key(w)))
                for s in ("ours", "incumbent", "memory", "ours_sync", "ours_valkey")
            ]
            r_inc = per_run(runs, "ours", "incumbent", key(w))
            r_mem = per_run(runs, "ours", "memory", key(w))
            s_inc = per_run(runs, "ours_sync", "incumbent", key(w))
            s_mem = per_run(runs, "ours_sync", "memory", key(w))
            inc = [r.get(w) for r in runs["incumbent"]]
            if inc and all(x == 0 for x in inc):
                why = "all failed" if w.startswith("concurrent") else "unsupported"
                err = runs["incumbent"][0].get(f"{w}_error", "")
                r_inc_s = s_inc_s = f"incumbent: {why}"
                if err:
                    notes.append(f"`{w}` on the incumbent: {err}")
            else:
                r_inc_s, s_inc_s = fmt_ratio(r_inc), fmt_ratio(s_inc)
                errs = [r.get(f"{w}_errors", 0) for r in runs["incumbent"]]
                if any(errs):  # its graphs/s counts the graphs that succeeded
                    span = f"{min(errs)}" if min(errs) == max(errs) else f"{min(errs)}-{max(errs)}"
                    failed = f"incumbent failed {span} of {w[10:]}"
                    if 2 * max(errs) >= int(w[10:]):  # a ratio to a handful of graphs: none
                        r_inc_s = s_inc_s = failed
                    else:
                        r_inc_s += f" ({failed})"
                        s_inc_s += f" ({failed})"
                    err = runs["incumbent"][0].get(f"{w}_error", "")
                    if err:
                        notes.append(f"`{w}` on the incumbent: {err}")
            lines.append(
                f"| {w} | {unit} | {' | '.join(vals)} | {r_inc_s} | {fmt_ratio(r_mem)} "
                f"| {s_inc_s} | {fmt_ratio(s_mem)} | {repro(sec)} |"
            )
        lines.append("")
        if "core" in only:
            seen = {
                s: max((r.get("alist_before_seen", 0) for r in runs[s]), default=0) for s in SAVERS
            }
            lines.append(
                "alist_before: distinct checkpoints one pass of 20 pages saw "
                "(200 = correct paging): "
                + ", ".join(
                    f"{LABEL[s]} {n}"
                    for s, n in seen.items()
                    if any("alist_before_seen" in r for r in runs[s])
                )
                + ". The incumbent ignores `before` for LangGraph's ids and returns the first"
                " page every time, so its pages/s is not paging."
            )
            lines.append("")
        if "filter" in only:
            lines.append(
                "list_filter: `alist(None, filter={'source': 'loop', 'step': 7}, limit=10)` over "
                f"{filter_n:,} checkpoints (100 threads of 100 per 10,000; 1% match, spread "
                "evenly in time)"
                + (" (--quick: 10,000 instead of 100,000)" if a.quick else "")
                + (
                    ""
                    if a.quick
                    else "; list_filter_user filters on `user` instead (1%, random), a key the "
                    "incumbent refuses"
                )
                + ". Ours and the incumbent each populated their own set once per invocation "
                "on the filter Redis Stack, which holds nothing else ("
                + ", ".join(f"{LABEL[s]} {t:.1f} s" for s, t in populated.items())
                + "); InMemorySaver fills its own, in memory, each run."
            )
            lines.append("")

    # -- PostgresSaver ------------------------------------------------------------------
    if runs.get("postgres"):
        lines += [
            "## PostgresSaver (`--postgres`)",
            "",
            "langgraph-checkpoint-postgres's AsyncPostgresSaver on a psycopg pool of 20 "
            "connections, on a throwaway local PostgreSQL (Debian's, synchronous_commit=off), "
            "measured in the same process and run as ours; the filter data set is populated "
            "there too. Reproduce: "
            f"`{base}`.",
            "",
            "| workload | unit | ours | PostgresSaver | ours / PostgresSaver |",
            "|---|---|---|---|---|",
        ]
        for w, _, unit in shown:
            p = med("postgres", key(w))
            if p is None:
                continue
            r = per_run(runs, "ours", "postgres", key(w))
            lines.append(
                f"| {w} | {unit} | {fmt_rate(med('ours', key(w)))} | {fmt_rate(p)} "
                f"| {fmt_ratio(r)} |"
            )
        for p in HISTORY_POINTS:
            m = med("postgres", hist(p))
            if m is None:
                continue
            r = per_run(runs, "ours", "postgres", hist(p))
            lines.append(
                f"| step at history {p:,} | µs (lower is better) | {fmt_us(med('ours', hist(p)))} "
                f"| {fmt_us(m)} | {fmt_ratio(r)} (time) |"
            )
        lines.append("")

    # -- memory -------------------------------------------------------------------------
    if "mem" in only:
        mem = {
            s: med(s, key("mem_per_checkpoint"))
            for s in ("ours", "incumbent", "ours_sync", "ours_valkey")
        }
        r = per_run(runs, "ours", "incumbent", key("mem_per_checkpoint"))
        lines += [
            "## Server memory per checkpoint (lower is better)",
            "",
            "INFO used_memory, read by a separate client, around the aput phase of `core` "
            "run again on a fresh thread of the aux server (ours on Valkey: on that Valkey), "
            "where nothing is ever deleted (a delete's memory can be given back later, "
            "e.g. by RediSearch's garbage collector, and blur the reading): "
            + ", ".join(f"{LABEL[s]} {v:,.0f} B" for s, v in mem.items() if v is not None)
            + f"; ours / incumbent {fmt_ratio(r)}. Reproduce: {repro('mem')}.",
            "",
        ]

    # -- history ------------------------------------------------------------------------
    hsavers = [s for s in SAVERS if any("history" in r for r in runs[s])]
    if hsavers:
        lines += [
            "## Step cost as the history grows (per-step time in µs, lower is better)",
            "",
            "One thread; a step is `aput` of the next checkpoint (its `messages` list one message "
            "longer, built `[*prev, new]` as LangGraph's reducers do) plus `aput_writes` of 2 "
            "writes. Each cell: median (mean) over the ~50 steps around that history length. "
            f"Reproduce: {repro('history')}.",
            "",
            "| history | "
            + " | ".join(LABEL[s] for s in hsavers)
            + " | ours / incumbent (time) | ours / InMemory (time) |",
            "|---" * (len(hsavers) + 3) + "|",
        ]
        for p in HISTORY_POINTS:
            cells = []
            for s in hsavers:
                m, mean = med(s, hist(p)), med(s, hist(p, "mean"))
                cells.append("-" if m is None else f"{fmt_us(m)} ({fmt_us(mean)})")
            if all(c == "-" for c in cells):
                continue
            r_inc = per_run(runs, "ours", "incumbent", hist(p))
            r_mem = per_run(runs, "ours", "memory", hist(p))
            lines.append(
                f"| {p:,} | " + " | ".join(cells) + f" | {fmt_ratio(r_inc)} | {fmt_ratio(r_mem)} |"
            )
        lines.append("")
        for s in hsavers:
            got = [r["history"] for r in runs[s] if "history" in r]
            reached = median([h["reached"] for h in got])
            stops = sorted({h["stopped"] for h in got})
            g, top = growth.get(s, (None, 0))
            lines.append(
                f"- {LABEL[s]}: step {top:,} / step 10 = {fmt_ratio(g)}; "
                f"grew to {reached:,.0f} steps (limit {cfg[s]['history_max']:,}, budget "
                f"{cfg[s]['budget']} s; stopped by: {', '.join(stops)}), "
                f"{median([h['grow_s'] for h in got]):.1f} s"
            )
        if a.quick:
            lines.append(
                "- --quick caps the growth to fit in its two minutes: InMemorySaver to 3,000 "
                "steps (10,000 takes it ~22 s and 5.5 GB, as it keeps every version of the list "
                "whole), the incumbent to 100 (1,000 takes it ~6 s a run), ours to what 4 s "
                'reach (2 s with delta_mode="identity"). The full mode grows every saver '
                "towards 10,000 (the incumbent within 60 s)."
            )
        lines += ["", "![history](history.png)", ""]

    # -- round trips --------------------------------------------------------------------
    if "rt" in only and runs["ours"]:
        sync = any("rt_aput" in r for r in runs["ours_sync"])
        lines += [
            "## Commands per operation (lower is better)",
            "",
            "Counted by the server: MONITOR, from a separate client, around 20 operations of "
            "each kind on a thread of ~25 checkpoints on the aux server (list_filter: 3 calls on "
            f"the filter server). Reproduce: {repro('rt')}, {repro('filter')}. `sends` is what "
            "the client sent, by command; the incumbent pipelines some of its commands, so "
            "several of them may share one round trip, while each EVALSHA of ours is one round "
            "trip unless the column shows others with it. `server` is INFO's "
            "total_commands_processed per op, which also counts the commands a script runs "
            "(not those RediSearch runs inside FT.SEARCH); results.json has its breakdown by "
            "command (`rt_<op>_cmds`).",
            "",
            "| operation | ours | incumbent | ours / incumbent "
            + ("| ours sync " if sync else "")
            + "| ours sends | incumbent sends | ours, server | incumbent, server |",
            "|---|---|---|---|---|---|---|---|" + ("---|" if sync else ""),
        ]

        def mix(s: str, op: str) -> str:
            cmds = runs[s][-1].get(f"rt_{op}_sent", {}) if runs[s] else {}
            by_count = sorted(cmds.items(), key=lambda kv: -kv[1])
            return ", ".join(f"{k} {v:g}" for k, v in by_count) or "-"

        for op in RT_OPS:
            o, i, sy = (med(s, key(f"rt_{op}")) for s in ("ours", "incumbent", "ours_sync"))
            if o is None and i is None:
                continue
            os_, is_ = (med(s, key(f"rt_{op}_server")) for s in ("ours", "incumbent"))
            r = per_run(runs, "ours", "incumbent", key(f"rt_{op}"))
            lines.append(
                f"| {op} | {fmt_rate(o)} | {fmt_rate(i)} | {fmt_ratio(r)} "
                + (f"| {fmt_rate(sy)} " if sync else "")
                + f"| {mix('ours', op)} | {mix('incumbent', op)} | {fmt_rate(os_)} "
                f"| {fmt_rate(is_)} |"
            )
        lines.append("")

    # -- errors and notes ---------------------------------------------------------------
    errs = []
    for w in ("concurrent50", "concurrent500"):
        counts = [
            f"{LABEL[s]} {max(r.get(f'{w}_errors', 0) for r in rs)}"
            for s, rs in runs.items()
            if rs and f"{w}_errors" in rs[0]
        ]
        if counts:
            errs.append(f"- {w} errors (max over runs): " + ", ".join(counts))
    lines += ["## Errors and notes", "", *errs, *(f"- {n}" for n in notes)]
    full = plan(False)
    skipped = [
        f"{LABEL[s]}: {', '.join(x for x in SECTIONS if x in full[s]['sections'] - c['sections'])}"
        for s, c in cfg.items()
        if full[s]["sections"] - c["sections"]
    ]
    if skipped:
        lines.append(
            "- sections skipped in this mode (`--quick` keeps to two minutes; the full mode runs "
            "them): " + "; ".join(skipped) + "."
        )
    lines.append(
        "- ours on Valkey never runs `filter` and `rt` (they use the extra Redis Stack servers); "
        "InMemorySaver has no server, so no `mem` or `rt`."
    )
    secs = {s: [r.get("secs", {}) for r in rs] for s, rs in runs.items() if rs}
    lines.append(
        "- wall time per saver, median over runs, by section: "
        + "; ".join(
            f"{LABEL[s]}: " + ", ".join(f"{k} {median([x.get(k) for x in v]):.1f} s" for k in v[0])
            for s, v in secs.items()
        )
    )
    lines.append("")

    (out / "results.json").write_text(
        json.dumps(
            {"command": command,
             "args": {"quick": a.quick, "runs": a.runs, "only": a.only,
                      "postgres": getattr(a, "postgres", False)},
             "wall_s": wall, "phases_s": phases, "filter_n": filter_n,
             "populate_s": populated,
             "plan": {s: {**c, "sections": sorted(c["sections"])} for s, c in cfg.items()},
             "runs": runs},
            indent=1,
        )
    )  # fmt: skip
    (out / "report.md").write_text("\n".join(lines))
    print("\n".join(lines))
    plots(out, command, runs, shown, hsavers, growth)


def plots(
    out: Path,
    command: str,
    runs: dict[str, list[dict]],
    shown: list[tuple[str, str, str]],
    hsavers: list[str],
    growth: dict[str, tuple[float | None, int]],
) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    if shown:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        for ax, other, color in ((axes[0], "incumbent", "#c0392b"), (axes[1], "memory", "#2c7fb8")):
            names, ratios = [], []
            for w, _, _ in shown:
                r = per_run(runs, "ours", other, key(w))
                if r:
                    names.append(w)
                    ratios.append(r)
            ax.bar(names, ratios, color=color)
            goals = TARGETS.get(other, {})
            xs = [x for x, w in enumerate(names) if w in goals]
            if xs:
                ax.scatter(xs, [goals[names[x]] for x in xs], marker="_", s=600, color="black",
                           zorder=3, label="target")  # fmt: skip
                ax.legend(fontsize=8)
            ax.set_yscale("log")
            ax.axhline(1, color="black", linewidth=0.8)
            ax.set_ylabel(f"ours / {LABEL[other]} (ops/s)")
            ax.tick_params(axis="x", labelrotation=45, labelsize=8)
            for x, r in enumerate(ratios):
                ax.text(x, r, f"{r:.2g}x", ha="center", va="bottom", fontsize=7)
        fig.suptitle(f"Ratios within one run, median of runs. {command}", fontsize=9)
        fig.tight_layout()
        fig.savefig(out / "ratios.png", dpi=110)
        plt.close(fig)
    if hsavers:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for s in hsavers:
            xs, ys = [], []
            for p in HISTORY_POINTS:
                got = [hist(p)(r) for r in runs[s]]
                if got and all(g is not None for g in got):
                    xs.append(p)
                    ys.append(statistics.median(got) * 1e6)
            g, top = growth.get(s, (None, 0))
            label = LABEL[s] + (f" (step {top:,} / step 10 = {g:.2f}x)" if g else "")
            ax.plot(xs, ys, marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("history (checkpoints in the thread)")
        ax.set_ylabel("µs per step (aput + aput_writes), median")
        ax.set_title(f"Step cost vs history. {command}", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "history.png", dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    main()
