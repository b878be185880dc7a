"""src/ type-checks under mypy --strict (pyproject.toml's [tool.mypy]): CI runs pytest only, so
the type check is run from here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_strict_on_src() -> None:
    # the mypy of the interpreter running the tests (the `test` extra installs it), from the
    # repository root so that pyproject.toml's config (files, strict, overrides) applies
    out = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
