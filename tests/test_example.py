"""The Getting Started document, run unchanged: its copy matches the seed, and every snippet
prints what the document says, on every real server and on the embedded one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import Backend

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "getting_started.py"
SEED = ROOT.parent / "shared" / "seed" / "getting-started.md"

EXPECTED_LISTS = [
    "['Hi there', 'Hello! How can I help you?', 'Goodbye!']",  # Step 2, as the document says
    "['Hi', 'Hello! How can I help you?', 'Goodbye!']",  # async variant
    "['Hi', 'Hello! How can I help you?', 'Goodbye!']",  # direct client
]


def run_example(env_url: str | None, python: str = sys.executable) -> str:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    if env_url:
        env["REDIS_URL"] = env_url
    out = subprocess.run(
        [python, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def check_output(stdout: str) -> None:
    lines = stdout.splitlines()
    assert [line for line in lines if line.startswith("[")] == EXPECTED_LISTS, stdout
    assert "Thread ID: my-first-thread" in lines
    cid = next(line for line in lines if line.startswith("Checkpoint ID: ")).split(": ")[1]
    assert re.fullmatch(r"[0-9a-f-]{36}", cid)
    assert "Metadata: {'source': 'loop', 'step': 2, 'parents': {}}" in lines
    steps = [line for line in lines if line.startswith("Step ") and ": checkpoint " in line]
    assert [s.split(":")[0] for s in steps] == ["Step 2", "Step 1", "Step 0", "Step -1"]
    assert steps[0].endswith(cid), "the latest listed checkpoint is the one get_tuple returned"


def test_example_copy_is_the_seed() -> None:
    from examples.getting_started import DOC, snippets

    assert len(snippets()) == 6
    if SEED.exists():  # beside every clone here and in CI; absent in a bare clone elsewhere
        assert DOC.read_text() == SEED.read_text()


def test_seed_runs_unchanged(real_backend: Backend) -> None:
    check_output(run_example(real_backend.url))
    check_output(run_example(real_backend.url))  # a re-run prints the same


def test_seed_runs_on_the_embedded_server() -> None:
    check_output(run_example(None))
