"""The tree stays ruff clean (lint and format), and every Lua file documents its contract."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "ruff"]


def test_ruff_check_and_format() -> None:
    for args in (["check", "."], ["format", "--check", "."]):
        out = subprocess.run([*_ruff(), *args], cwd=ROOT, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_every_script_documents_keys_argv_and_return() -> None:
    lua = ROOT / "src/langgraph/checkpoint/redis/lua"
    scripts = sorted(p for folder in ("checkpoint", "store") for p in (lua / folder).glob("*.lua"))
    assert len(scripts) >= 8
    for path in scripts:
        head = path.read_text().split("]]", 1)[0]
        n = int(path.stem.rpartition("-")[2])
        for i in range(1, n + 1):
            assert f"KEYS[{i}]" in head, (path.name, i)
        assert f"KEYS[{n + 1}]" not in head, path.name
        assert "ARGV[1" in head and "Returns" in head, path.name
