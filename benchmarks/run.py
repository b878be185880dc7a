"""The side-by-side harness: every saver in one run, on the same server, reported as ratios.

    python benchmarks/run.py [--quick] [--runs 3]

Starts Redis Stack 7.4 through ../shared/anchor/redis-stack.sh (the incumbent needs its modules;
it serves plain-Redis code too) and makes the incumbent's venv with ../shared/anchor/anchor-venv.sh
(same import path as ours, so it runs in its own interpreter). Each run measures, in turn: ours
and the incumbent on Redis Stack, ours on an embedded Valkey 9.1, and InMemorySaver. Medians of
--runs are written to benchmarks/results/ (report.md, results.json, ratios.png).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ANCHOR = ROOT.parent / "shared" / "anchor"
WORKLOADS = [
    "aput",
    "aput_writes",
    "aget_tuple",
    "alist10",
    "graph10",
    "concurrent50",
    "concurrent500",
]


def sh(cmd: list[str]) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def measure(python: str, saver: str, url: str | None, quick: bool) -> dict:
    cmd = [python, str(HERE / "workloads.py"), "--saver", saver]
    if url:
        cmd += ["--url", url]
    if quick:
        cmd.append("--quick")
    return json.loads(sh(cmd).splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from langgraph.checkpoint.redis.embedded import EmbeddedServer

    stack = sh(["bash", str(ANCHOR / "redis-stack.sh"), "start"])
    incumbent_py = sh(["bash", str(ANCHOR / "anchor-venv.sh")]) + "/bin/python"
    valkey = EmbeddedServer().start()
    runs: dict[str, list[dict]] = {k: [] for k in ("ours", "incumbent", "ours_valkey", "memory")}
    try:
        for _ in range(a.runs):
            runs["ours"].append(measure(sys.executable, "ours", stack, a.quick))
            runs["incumbent"].append(measure(incumbent_py, "incumbent", stack, a.quick))
            runs["ours_valkey"].append(measure(sys.executable, "ours", valkey.url, a.quick))
            runs["memory"].append(measure(sys.executable, "memory", None, a.quick))
    finally:
        valkey.stop()
    med = {s: {w: statistics.median(r[w] for r in rs) for w in WORKLOADS} for s, rs in runs.items()}
    errors = {
        w: {s: max(r.get(f"{w}_errors", 0) for r in rs) for s, rs in runs.items()}
        for w in ("concurrent50", "concurrent500")
    }
    mem = {
        s: statistics.median(r["mem_per_checkpoint"] for r in runs[s])
        for s in ("ours", "incumbent", "ours_valkey")
    }
    command = "python benchmarks/run.py" + (" --quick" if a.quick else "") + f" --runs {a.runs}"
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"runs": runs, "median": med, "mem_per_checkpoint": mem}, indent=1)
    )
    lines = [
        f"# Benchmark report ({date.today()}, {'quick' if a.quick else 'full'} mode)",
        "",
        f"Reproduce: `{command}` (medians of {a.runs} runs; ops/s, higher is better;",
        "ours and the incumbent on the same Redis Stack 7.4 server in the same run).",
        "",
        "| workload | ours | incumbent 0.5.2 | ours / incumbent | ours on Valkey 9.1 "
        "| InMemorySaver | ours / InMemory |",
        "|---|---|---|---|---|---|---|",
    ]
    for w in WORKLOADS:
        o, i, v, m = (med[s][w] for s in ("ours", "incumbent", "ours_valkey", "memory"))
        ratio = f"{o / i:.1f}x" if i else "incumbent: all failed"
        lines.append(f"| {w} | {o:,.0f} | {i:,.0f} | {ratio} | {v:,.0f} | {m:,.0f} | {o / m:.2f} |")
    lines += [
        "",
        "Server memory per checkpoint (INFO used_memory over the aput phase, lower is better): "
        f"ours {mem['ours']:,.0f} B, incumbent {mem['incumbent']:,.0f} B "
        f"(ours / incumbent {mem['ours'] / mem['incumbent']:.2f}), "
        f"ours on Valkey {mem['ours_valkey']:,.0f} B.",
        "",
    ]
    for w, errs in errors.items():
        counts = ", ".join(f"{s} {n}" for s, n in errs.items())
        lines.append(f"{w} errors (max over runs): {counts}")
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(8, 4))
    shown = [w for w in WORKLOADS if med["incumbent"][w]]
    ratios = [med["ours"][w] / med["incumbent"][w] for w in shown]
    ax.bar(shown, ratios, color="#c0392b")
    ax.axhline(1, color="black", linewidth=0.8)
    ax.set_ylabel("ours / incumbent (ops/s)")
    ax.set_title(f"Same server, same run. {command}", fontsize=9)
    for x, r in enumerate(ratios):
        ax.text(x, r, f"{r:.1f}x", ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "ratios.png", dpi=110)


if __name__ == "__main__":
    main()
