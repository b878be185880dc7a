"""A git revision checked out beside this tree, for benchmarks that measure before and after.

    with worktree("416da94") as base:
        ...  # run a worker process with PYTHONPATH=base / "src"

The checkout is a detached `git worktree` in a temporary directory, removed on exit; its
`src/` holds that revision's package with the scripts that package loads (its own `lua/`; a
revision from before the scripts moved into the package has them in a top-level `lua/`
beside `src/`, where its scripts.py looks), so a worker importing from it runs the old code.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def worktree(rev: str, prefix: str = "bench-base-") -> Iterator[Path]:
    """The root of a temporary checkout of `rev`."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    tree = tmp / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), rev], check=True
    )
    try:
        yield tree
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
        )
        shutil.rmtree(tmp, ignore_errors=True)
