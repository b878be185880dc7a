"""A non-editable install of the built wheel, in a fresh virtual environment, runs the seed:
the Lua scripts ship inside the wheel and the namespace packages stay open."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

from .conftest import _start
from .test_example import check_output, run_example

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_and_runs_the_seed(tmp_path: Path) -> None:
    """On Valkey only: one server proves the install; the seed runs on every lane elsewhere
    (test_example, test_cluster_lane)."""
    backend = _start("valkey")
    backend.flush()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    lua = "langgraph/checkpoint/redis/lua/"
    assert lua + "checkpoint/put_checkpoint-8.lua" in names
    assert lua + "store/store_put-2.lua" in names
    assert lua + "includes/common.lua" in names
    assert "langgraph/checkpoint/redis/py.typed" in names
    assert not any(
        n in names for n in ("langgraph/__init__.py", "langgraph/checkpoint/__init__.py")
    )

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / "bin" / "python")
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[examples]"],
        check=True,
    )
    where = subprocess.run(
        [py, "-c", "import langgraph.checkpoint.redis.scripts as s; print(s._lua_dir())"],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert "site-packages" in where, where
    check_output(run_example(backend.url, python=py))
