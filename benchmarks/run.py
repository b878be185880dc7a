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
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from harness.plots import log_lines, ratio_bars
from harness.servers import Postgres, incumbent_python, redis_stacks
from harness.stats import fmt_rate, fmt_ratio, fmt_us, median, median_ratio
from harness.tables import md_head, md_row
from harness.workers import parallel, worker_lines

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
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
# the columns of the report's tables
THROUGHPUT_COLS = (
    "workload | unit | ours | incumbent 0.5.2 | InMemorySaver | ours sync | ours on Valkey 9.1 "
    "| ours / incumbent | ours / InMemory | ours sync / incumbent | ours sync / InMemory "
    "| reproduce"
)
HISTORY_RATIO_COLS = ("ours / incumbent (time)", "ours / InMemory (time)")
RT_COLS = (
    "operation | ours | incumbent | ours / incumbent | ours sends | incumbent sends "
    "| ours, server | incumbent, server"
)
RT_COLS_SYNC = RT_COLS.replace("| ours sends", "| ours sync | ours sends")
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


def workloads(python: str, *args: str) -> list[dict]:
    """Run workloads.py; its JSON lines (one per saver)."""
    return worker_lines(
        [python, str(HERE / "workloads.py"), *args], f"workloads.py {' '.join(args)}"
    )


def out_dir(a: argparse.Namespace) -> Path:
    """results/ (--quick), results/full/ (the full mode); with --postgres, a postgres/ below
    that, so the default report is never replaced by one with an extra saver."""
    return HERE / "results" / ("" if a.quick else "full") / ("postgres" if a.postgres else "")


def populate_args(saver: str, url: str, n: int) -> list[str]:
    return ["--saver", saver, "--url", url, "--populate", str(n)]


def per_run(runs: dict[str, list[dict]], a: str, b: str, get: Any) -> float | None:
    """Median over runs of get(run of a) / get(run of b), each ratio within one run."""
    pairs = ((get(ra), get(rb)) for ra, rb in zip(runs.get(a, []), runs.get(b, []), strict=False))
    return median_ratio(pairs)


def key(w: str) -> Any:
    return lambda r: r.get(w)


def hist(p: int, stat: str = "median") -> Any:
    def get(r: dict) -> float | None:
        pt = r.get("history", {}).get("points", {}).get(str(p))
        return pt[stat] if pt else None

    return get


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
        rep = Report(a, only, d["runs"], cfg, d["filter_n"], d["populate_s"])
        report(rep, d["wall_s"], d["phases_s"])
        return
    t_start = time.perf_counter()
    only = set(a.only.split(",")) if a.only else set(SECTIONS)
    if only - set(SECTIONS):
        raise SystemExit(f"unknown sections: {sorted(only - set(SECTIONS))}")
    sys.path.insert(0, str(ROOT / "src"))
    from langgraph.checkpoint.redis.embedded import EmbeddedServer

    filter_n = 10_000 if a.quick else 100_000
    # Three fresh Redis Stack servers, stopped at the end: nothing left by an earlier run (or
    # written in an older storage format) on them, and no one else's keys.
    with redis_stacks(3) as (stack, aux, filt):
        incumbent_py = incumbent_python()
        valkey = EmbeddedServer().start()
        postgres = Postgres().start() if a.postgres else None
        try:
            phases = {"servers and venv": time.perf_counter() - t_start}
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
            servers = {"url": url, "aux": aux, "filter": filt, "incumbent_py": incumbent_py}
            t = time.perf_counter()
            populated = populate(only, filter_n, servers)
            phases["populate"] = time.perf_counter() - t
            runs = measure(a, only, cfg, filter_n, servers, phases)
        finally:
            valkey.stop()
            if postgres:
                postgres.stop()
    wall = time.perf_counter() - t_start
    report(Report(a, only, runs, cfg, filter_n, populated), wall, phases)


def populate(only: set[str], filter_n: int, servers: dict[str, Any]) -> dict[str, float]:
    """The filter data set, written once per invocation for ours and the incumbent (on the
    filter server) and PostgresSaver, all at once: populating is not measured. Seconds each."""
    if "filter" not in only:
        return {}
    pg = servers["url"].get("postgres")
    cmds = {
        s: [py, str(HERE / "workloads.py"), *populate_args(s, to, filter_n)]
        for s, py, to in (
            ("ours", sys.executable, servers["filter"]),
            ("incumbent", servers["incumbent_py"], servers["filter"]),
            ("postgres", sys.executable, pg),
        )
        if to
    }
    populated = {}
    for s, res in parallel(cmds).items():
        if res is None:
            raise SystemExit(f"populating the filter data set for {s} failed")
        populated[s] = res["populate_s"]
    return populated


def specs_of(
    only: set[str], cfg: dict[str, dict[str, Any]], servers: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per saver, the option set workloads.py --plan runs it with: its sections (of --only),
    its servers, how far its history grows."""
    url, aux, filt = servers["url"], servers["aux"], servers["filter"]
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
    return specs


def measure(
    a: argparse.Namespace,
    only: set[str],
    cfg: dict[str, dict[str, Any]],
    filter_n: int,
    servers: dict[str, Any],
    phases: dict[str, float],
) -> dict[str, list[dict]]:
    """--runs runs; per saver, its result of each run. Each run: the incumbent, then ours
    right after it (the ratios pair these two), then the rest of this venv's savers in the
    same process (a process start is ~1 s)."""
    runs: dict[str, list[dict]] = {s: [] for s in SAVERS}
    specs = specs_of(only, cfg, servers)
    common = ["--filter-n", str(filter_n)] + (["--quick"] if a.quick else [])
    groups = [
        (servers["incumbent_py"], [specs[s] for s in ("incumbent",) if s in specs]),
        (sys.executable, [specs[s] for s in SAVERS if s != "incumbent" and s in specs]),
    ]
    for run in range(a.runs):
        for py, group in groups:
            if group:
                t = time.perf_counter()
                for res in workloads(py, "--plan", json.dumps(group), *common):
                    runs[res["saver"]].append(res)
                phases[f"run {run + 1}: " + ", ".join(g["label"] for g in group)] = (
                    time.perf_counter() - t
                )
    return runs


def report(rep: Report, wall: float, phases: dict[str, float]) -> None:
    """report.md (also printed), results.json (what --report renders it from again) and the
    figures, in out_dir()."""
    a, runs, cfg, filter_n, populated = rep.a, rep.runs, rep.cfg, rep.filter_n, rep.populated
    lines = [
        *rep.header(wall),
        *rep.targets(),
        *rep.throughput(),
        *rep.postgres(),
        *rep.memory(),
        *rep.history(),
        *rep.round_trips(),
        *rep.errors(),
    ]
    out = out_dir(a)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps(
            {"command": rep.command,
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
    plots(out, rep)


class Report:
    """The runs of one invocation and the sections of its report, one method each (each its
    lines, none when its section did not run). Notes found while writing a table go to the
    closing "Errors and notes" section."""

    def __init__(
        self,
        a: argparse.Namespace,
        only: set[str],
        runs: dict[str, list[dict]],
        cfg: dict[str, dict[str, Any]],
        filter_n: int,
        populated: dict[str, float],
    ) -> None:
        self.a, self.only, self.runs, self.cfg = a, only, runs, cfg
        self.filter_n, self.populated = filter_n, populated
        base = "python benchmarks/run.py" + (" --quick" if a.quick else "") + f" --runs {a.runs}"
        if getattr(a, "postgres", False):
            base += " --postgres"
        self.base = base
        self.command = base + (f" --only {a.only}" if a.only else "")
        self.notes: list[str] = []
        # the rate rows of the sections that ran, and the savers whose history grew
        self.shown = [(w, sec, unit) for w, sec, unit in RATES if sec in only]
        self.hsavers = [s for s in SAVERS if any("history" in r for r in runs[s])]
        self.growth = self.growths()

    def repro(self, section: str) -> str:
        return f"`{self.base} --only {section}`"

    def med(self, s: str, get: Any) -> float | None:
        return median([get(r) for r in self.runs[s]])

    def ratio(self, a: str, b: str, get: Any) -> float | None:
        return per_run(self.runs, a, b, get)

    def ours_has(self, w: str) -> bool:
        return bool(self.runs["ours"]) and w in self.runs["ours"][0]

    def growths(self) -> dict[str, tuple[float | None, int]]:
        """Per saver whose history grew past 10: (step at the top point / step at 10, median
        of the per-run ratios; that top point, the highest every run reached)."""
        growth: dict[str, tuple[float | None, int]] = {}
        if not any("history" in r for r in self.runs["ours"]):
            return growth
        for s in SAVERS:
            got = [r for r in self.runs[s] if "history" in r]
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
        return growth

    def header(self, wall: float) -> list[str]:
        mode = "quick" if self.a.quick else "full"
        return [
            f"# Benchmark report ({date.today()}, {mode} mode)",
            "",
            f"Reproduce everything: `{self.command}` ({self.a.runs} runs; this one took "
            f"{wall:.0f} s of wall time on a 2-core machine shared with other work). Each figure "
            "is the median over the runs; each ratio is taken within one run (the two savers "
            "measured seconds apart on the same server), and the median of those per-run ratios "
            "is shown. Ours, ours sync and the incumbent share one fresh Redis Stack 7.4 server; "
            "ours also runs on an embedded Valkey 9.1. "
            "Each run starts the incumbent's process (its own venv), then one process of this "
            "venv that measures ours, ours sync, ours on Valkey and InMemorySaver in turn. The "
            "async savers are driven through their a* methods and `graph.ainvoke`, ours sync "
            "through RedisSaver's sync methods and `graph.invoke` (its concurrent graphs on "
            "threads, one per graph). Workloads: benchmarks/workloads.py; harness: "
            "benchmarks/run.py.",
            "",
        ]

    def targets(self) -> list[str]:
        """The issue's targets, each met, missed or n/a (not measured in this mode)."""
        targets: list[tuple[str, str, bool | None]] = []
        for w, goal in (("aput", 10), ("aput_writes", 10), ("aget_tuple", 20), ("alist10", 50)):
            if not self.ours_has(w):
                continue
            r = self.ratio("ours", "incumbent", key(w))
            value = fmt_ratio(r)
            if w in ("aget_tuple", "alist10") and self.ours_has(f"{w}_writes"):
                value += (
                    f" ({fmt_ratio(self.ratio('ours', 'incumbent', key(w + '_writes')))} with "
                    "the aput_writes phase's writes pending too, as the first cut measured it)"
                )
            targets.append((f"{w} >= {goal:g}x incumbent", value, None if r is None else r >= goal))
        if self.ours_has("graph10"):
            r = self.ratio("memory", "ours", key("graph10"))  # time ours / time InMemory
            targets.append(
                (
                    "graph10 within 1.2x of InMemorySaver (time per graph)",
                    f"ours takes {fmt_ratio(r)} InMemorySaver's time",
                    None if r is None else r <= 1.2,
                )
            )
        if self.ours_has("concurrent500"):
            errs = max(r.get("concurrent500_errors", 0) for r in self.runs["ours"])
            r = self.ratio("ours", "memory", key("concurrent500"))
            targets.append(
                (
                    "concurrent500: no errors, throughput >= InMemorySaver",
                    f"{errs} errors, {fmt_ratio(r)} of InMemorySaver's graphs/s",
                    None if r is None else errs == 0 and r >= 1,
                )
            )
        if self.ours_has("mem_per_checkpoint"):  # section mem
            r = self.ratio("ours", "incumbent", key("mem_per_checkpoint"))
            targets.append(
                (
                    "server memory per checkpoint <= 0.25x incumbent",
                    fmt_ratio(r),
                    r is not None and r <= 0.25,
                )
            )
        if any("history" in r for r in self.runs["ours"]):
            g, top = self.growth.get("ours", (None, 0))
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
        if not targets:
            return []
        lines = ["## Targets", "", *md_head(["target", "measured (median of per-run ratios)", ""])]
        for name, value, ok in targets:
            verdict = "n/a" if ok is None else ("**met**" if ok else "missed")
            lines.append(md_row([name, value, verdict]))
        return [*lines, ""]

    def incumbent_cells(self, w: str, r_inc: float | None, s_inc: float | None) -> list[str]:
        """The two ours / incumbent cells of a rate row: the ratios, or why there is none
        (the incumbent refused the workload, or failed most of its concurrent graphs)."""
        runs = self.runs
        inc = [r.get(w) for r in runs["incumbent"]]
        if inc and all(x == 0 for x in inc):
            why = "all failed" if w.startswith("concurrent") else "unsupported"
            err = runs["incumbent"][0].get(f"{w}_error", "")
            if err:
                self.notes.append(f"`{w}` on the incumbent: {err}")
            return [f"incumbent: {why}"] * 2
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
                self.notes.append(f"`{w}` on the incumbent: {err}")
        return [r_inc_s, s_inc_s]

    def throughput(self) -> list[str]:
        """The rates of every saver, and ours' and ours sync's ratios to the incumbent and to
        InMemorySaver; then what alist_before and list_filter measured."""
        if not self.shown:
            return []
        lines = [
            "## Throughput (higher is better)",
            "",
            *md_head(THROUGHPUT_COLS.split(" | ")),
        ]
        for w, sec, unit in self.shown:
            if all(self.med(s, key(w)) is None for s in SAVERS):
                continue  # not measured in this mode
            vals = [
                fmt_rate(self.med(s, key(w)))
                for s in ("ours", "incumbent", "memory", "ours_sync", "ours_valkey")
            ]
            r_inc_s, s_inc_s = self.incumbent_cells(
                w,
                self.ratio("ours", "incumbent", key(w)),
                self.ratio("ours_sync", "incumbent", key(w)),
            )
            r_mem = self.ratio("ours", "memory", key(w))
            s_mem = self.ratio("ours_sync", "memory", key(w))
            cells = [w, unit, *vals, r_inc_s, fmt_ratio(r_mem), s_inc_s, fmt_ratio(s_mem)]
            lines.append(md_row([*cells, self.repro(sec)]))
        lines.append("")
        if "core" in self.only:
            lines += [self.paging_note(), ""]
        if "filter" in self.only:
            lines += [self.filter_note(), ""]
        return lines

    def paging_note(self) -> str:
        runs = self.runs
        seen = {s: max((r.get("alist_before_seen", 0) for r in runs[s]), default=0) for s in SAVERS}
        return (
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

    def filter_note(self) -> str:
        quick = self.a.quick
        return (
            "list_filter: `alist(None, filter={'source': 'loop', 'step': 7}, limit=10)` over "
            f"{self.filter_n:,} checkpoints (100 threads of 100 per 10,000; 1% match, spread "
            "evenly in time)"
            + (" (--quick: 10,000 instead of 100,000)" if quick else "")
            + (
                ""
                if quick
                else "; list_filter_user filters on `user` instead (1%, random), a key the "
                "incumbent refuses"
            )
            + ". Ours and the incumbent each populated their own set once per invocation "
            "on the filter Redis Stack, which holds nothing else ("
            + ", ".join(f"{LABEL[s]} {t:.1f} s" for s, t in self.populated.items())
            + "); InMemorySaver fills its own, in memory, each run."
        )

    def postgres(self) -> list[str]:
        """Ours beside PostgresSaver (--postgres): rates and step times at each history."""
        if not self.runs.get("postgres"):
            return []
        lines = [
            "## PostgresSaver (`--postgres`)",
            "",
            "langgraph-checkpoint-postgres's AsyncPostgresSaver on a psycopg pool of 20 "
            "connections, on a throwaway local PostgreSQL (Debian's, synchronous_commit=off), "
            "measured in the same process and run as ours; the filter data set is populated "
            "there too. Reproduce: "
            f"`{self.base}`.",
            "",
            *md_head(["workload", "unit", "ours", "PostgresSaver", "ours / PostgresSaver"]),
        ]
        for w, _, unit in self.shown:
            p = self.med("postgres", key(w))
            if p is None:
                continue
            r = self.ratio("ours", "postgres", key(w))
            lines.append(
                md_row([w, unit, fmt_rate(self.med("ours", key(w))), fmt_rate(p), fmt_ratio(r)])
            )
        for p in HISTORY_POINTS:
            m = self.med("postgres", hist(p))
            if m is None:
                continue
            r = self.ratio("ours", "postgres", hist(p))
            ours = fmt_us(self.med("ours", hist(p)))
            cells = [f"step at history {p:,}", "µs (lower is better)", ours, fmt_us(m)]
            lines.append(md_row([*cells, f"{fmt_ratio(r)} (time)"]))
        return [*lines, ""]

    def memory(self) -> list[str]:
        """Server memory per checkpoint (section mem), as one paragraph."""
        if "mem" not in self.only:
            return []
        mem = {
            s: self.med(s, key("mem_per_checkpoint"))
            for s in ("ours", "incumbent", "ours_sync", "ours_valkey")
        }
        r = self.ratio("ours", "incumbent", key("mem_per_checkpoint"))
        return [
            "## Server memory per checkpoint (lower is better)",
            "",
            "INFO used_memory, read by a separate client, around the aput phase of `core` "
            "run again on a fresh thread of the aux server (ours on Valkey: on that Valkey), "
            "where nothing is ever deleted (a delete's memory can be given back later, "
            "e.g. by RediSearch's garbage collector, and blur the reading): "
            + ", ".join(f"{LABEL[s]} {v:,.0f} B" for s, v in mem.items() if v is not None)
            + f"; ours / incumbent {fmt_ratio(r)}. Reproduce: {self.repro('mem')}.",
            "",
        ]

    def history(self) -> list[str]:
        """Step cost at each history length, per saver; then how far each grew, and why it
        stopped."""
        hsavers = self.hsavers
        if not hsavers:
            return []
        lines = [
            "## Step cost as the history grows (per-step time in µs, lower is better)",
            "",
            "One thread; a step is `aput` of the next checkpoint (its `messages` list one message "
            "longer, built `[*prev, new]` as LangGraph's reducers do) plus `aput_writes` of 2 "
            "writes. Each cell: median (mean) over the ~50 steps around that history length. "
            f"Reproduce: {self.repro('history')}.",
            "",
            *md_head(["history", *(LABEL[s] for s in hsavers), *HISTORY_RATIO_COLS]),
        ]
        for p in HISTORY_POINTS:
            cells = []
            for s in hsavers:
                m, mean = self.med(s, hist(p)), self.med(s, hist(p, "mean"))
                cells.append("-" if m is None else f"{fmt_us(m)} ({fmt_us(mean)})")
            if all(c == "-" for c in cells):
                continue
            r_inc = self.ratio("ours", "incumbent", hist(p))
            r_mem = self.ratio("ours", "memory", hist(p))
            lines.append(md_row([f"{p:,}", *cells, fmt_ratio(r_inc), fmt_ratio(r_mem)]))
        lines.append("")
        for s in hsavers:
            got = [r["history"] for r in self.runs[s] if "history" in r]
            reached = median([h["reached"] for h in got])
            stops = sorted({h["stopped"] for h in got})
            g, top = self.growth.get(s, (None, 0))
            lines.append(
                f"- {LABEL[s]}: step {top:,} / step 10 = {fmt_ratio(g)}; "
                f"grew to {reached:,.0f} steps (limit {self.cfg[s]['history_max']:,}, budget "
                f"{self.cfg[s]['budget']} s; stopped by: {', '.join(stops)}), "
                f"{median([h['grow_s'] for h in got]):.1f} s"
            )
        if self.a.quick:
            lines.append(
                "- --quick caps the growth to fit in its two minutes: InMemorySaver to 3,000 "
                "steps (10,000 takes it ~22 s and 5.5 GB, as it keeps every version of the list "
                "whole), the incumbent to 100 (1,000 takes it ~6 s a run), ours to what 4 s "
                'reach (2 s with delta_mode="identity"). The full mode grows every saver '
                "towards 10,000 (the incumbent within 60 s)."
            )
        return [*lines, "", "![history](history.png)", ""]

    def sends(self, s: str, op: str) -> str:
        """What a saver's client sent per op, by command, most first (its last run)."""
        runs = self.runs
        cmds = runs[s][-1].get(f"rt_{op}_sent", {}) if runs[s] else {}
        by_count = sorted(cmds.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{k} {v:g}" for k, v in by_count) or "-"

    def round_trips(self) -> list[str]:
        """Commands per operation, as the client sent them and as the server ran them."""
        if "rt" not in self.only or not self.runs["ours"]:
            return []
        sync = any("rt_aput" in r for r in self.runs["ours_sync"])
        repro = self.repro
        lines = [
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
            *md_head((RT_COLS_SYNC if sync else RT_COLS).split(" | ")),
        ]
        for op in RT_OPS:
            o, i, sy = (self.med(s, key(f"rt_{op}")) for s in ("ours", "incumbent", "ours_sync"))
            if o is None and i is None:
                continue
            os_, is_ = (self.med(s, key(f"rt_{op}_server")) for s in ("ours", "incumbent"))
            r = self.ratio("ours", "incumbent", key(f"rt_{op}"))
            cells = [op, fmt_rate(o), fmt_rate(i), fmt_ratio(r), *([fmt_rate(sy)] if sync else [])]
            cells += [self.sends("ours", op), self.sends("incumbent", op)]
            lines.append(md_row([*cells, fmt_rate(os_), fmt_rate(is_)]))
        return [*lines, ""]

    def errors(self) -> list[str]:
        """Errors of the concurrent graphs, the notes the tables left, the sections this mode
        skips, and each saver's wall time by section."""
        runs = self.runs
        errs = []
        for w in ("concurrent50", "concurrent500"):
            counts = [
                f"{LABEL[s]} {max(r.get(f'{w}_errors', 0) for r in rs)}"
                for s, rs in runs.items()
                if rs and f"{w}_errors" in rs[0]
            ]
            if counts:
                errs.append(f"- {w} errors (max over runs): " + ", ".join(counts))
        lines = ["## Errors and notes", "", *errs, *(f"- {n}" for n in self.notes)]
        full = plan(False)
        skipped = [
            f"{LABEL[s]}: "
            + ", ".join(x for x in SECTIONS if x in full[s]["sections"] - c["sections"])
            for s, c in self.cfg.items()
            if full[s]["sections"] - c["sections"]
        ]
        if skipped:
            lines.append(
                "- sections skipped in this mode (`--quick` keeps to two minutes; the full mode "
                "runs them): " + "; ".join(skipped) + "."
            )
        lines.append(
            "- ours on Valkey never runs `filter` and `rt` (they use the extra Redis Stack "
            "servers); InMemorySaver has no server, so no `mem` or `rt`."
        )
        secs = {s: [r.get("secs", {}) for r in rs] for s, rs in runs.items() if rs}
        lines.append(
            "- wall time per saver, median over runs, by section: "
            + "; ".join(
                f"{LABEL[s]}: "
                + ", ".join(f"{k} {median([x.get(k) for x in v]):.1f} s" for k in v[0])
                for s, v in secs.items()
            )
        )
        return [*lines, ""]


def plots(out: Path, rep: Report) -> None:
    """ratios.png: ours / incumbent and ours / InMemorySaver per rate, with the targets;
    history.png: the step cost of each saver against its history."""
    runs = rep.runs
    if rep.shown:
        panels = []
        for other, color in (("incumbent", "#c0392b"), ("memory", "#2c7fb8")):
            names, ratios = [], []
            for w, _, _ in rep.shown:
                r = per_run(runs, "ours", other, key(w))
                if r:
                    names.append(w)
                    ratios.append(r)
            ylabel = f"ours / {LABEL[other]} (ops/s)"
            goals = TARGETS.get(other, {})
            panels.append(
                {"names": names, "ratios": ratios, "color": color, "goals": goals, "ylabel": ylabel}
            )
        title = f"Ratios within one run, median of runs. {rep.command}"
        ratio_bars(out / "ratios.png", title, panels)
    if rep.hsavers:
        series = []
        for s in rep.hsavers:
            xs, ys = [], []
            for p in HISTORY_POINTS:
                got = [hist(p)(r) for r in runs[s]]
                if got and all(g is not None for g in got):
                    xs.append(p)
                    ys.append(median(got) * 1e6)
            g, top = rep.growth.get(s, (None, 0))
            series.append(
                (LABEL[s] + (f" (step {top:,} / step 10 = {g:.2f}x)" if g else ""), xs, ys)
            )
        log_lines(
            out / "history.png",
            f"Step cost vs history. {rep.command}",
            series,
            "history (checkpoints in the thread)",
            "µs per step (aput + aput_writes), median",
        )


if __name__ == "__main__":
    main()
