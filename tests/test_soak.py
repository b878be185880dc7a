"""The chaos soak's quick mode (benchmarks/soak.py): 8 concurrent graphs for 20 s under every
kind of fault, then the proof that nothing acknowledged was lost.

It runs as a subprocess, as an operator would run it: the soak owns its event loop, its Valkey
(AOF, appendfsync always, SIGKILLed and restarted on the same data) and its proxy, and a hang
or a crash in it cannot take the test session with it. Faults come every 0.8-1.6 s in shuffled
rounds of all five kinds, so 20 s gives each kind at least once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("kill", "script_flush", "client_kill", "stall", "cut")


def test_quick_soak_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "soak.py"),
        "--graphs", "8",
        "--seconds", "20",
        "--gap-min", "0.8",
        "--gap-max", "1.6",
        "--json", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=150, cwd=ROOT)
    assert out.exists(), f"no report (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    r = json.loads(out.read_text())
    report = proc.stdout[-6000:]
    assert r["lost"] == 0, report
    assert r["wrong"] == 0, report
    assert r["mismatched"] == 0, report
    assert r["orphan_problems"] == 0, report
    assert r["hangs"] == 0, report
    assert r["graphs_unfinished"] == 0, report
    for kind in KINDS:
        assert r["faults"].get(kind, 0) >= 1, (kind, r["faults"])
    assert r["server_processes"] >= 2  # a SIGKILLed server really came back
    assert r["persistence"]["appendfsync"] == "always"
    # the graphs really ran: several each, every one to its end, and compared with
    # InMemorySaver (mismatched == 0 above covers every finished graph)
    assert r["graphs_finished"] >= 2 * r["workers"], report
    assert r["checkpoints_acknowledged"] >= 10 * r["graphs_finished"], report
    assert r["writes_checked"] > 0
    assert proc.returncode == 0, report
