"""Start and stop the servers the benchmarks measure on.

Redis Stack 7.4 comes from ../shared/anchor/redis-stack.sh (the incumbent needs its modules,
and they serve plain-Redis code too), the incumbent's interpreter from
../shared/anchor/anchor-venv.sh (its package has our import path, so it runs in its own
venv). Every benchmark starts fresh servers on free ports and stops them at the end, so no
run sees keys an earlier one left (or wrote in an older storage format).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent  # benchmarks/
ROOT = HERE.parent
ANCHOR = ROOT.parent / "shared" / "anchor"


def sh(cmd: list[str]) -> str:
    """A command's stdout, stripped; raises if it fails."""
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def free_port() -> int:
    """A free loopback port (the package's own helper; imported late, after a script has put
    this checkout's src/ first on sys.path)."""
    from langgraph.checkpoint.redis.embedded import free_port

    return free_port()


def start_redis_stack(port: int | str) -> str:
    """Starts a Redis Stack server on `port`; its URL."""
    return sh(["bash", str(ANCHOR / "redis-stack.sh"), "start", str(port)])


def stop_redis_stack(port: int | str) -> None:
    sh(["bash", str(ANCHOR / "redis-stack.sh"), "stop", str(port)])


@contextmanager
def redis_stacks(n: int = 1) -> Iterator[list[str]]:
    """n fresh Redis Stack servers on free ports (their URLs), all stopped on exit, even when
    a start failed half-way."""
    ports = [str(free_port()) for _ in range(n)]
    try:
        yield [start_redis_stack(p) for p in ports]
    finally:
        for p in ports:
            stop_redis_stack(p)


def incumbent_python() -> str:
    """The interpreter of the incumbent's venv (made on first use)."""
    return sh(["bash", str(ANCHOR / "anchor-venv.sh")]) + "/bin/python"


def sync_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


def flushall(url: str) -> None:
    """Empties the server: each section (or saver) then sees only its own keys."""
    r = sync_client(url)
    r.flushall()
    r.close()


def server_name(url: str, shared_by: str) -> str:
    """The server, as a report names it."""
    r = sync_client(url)
    try:
        version = r.info("server")["redis_version"]
        mods = ", ".join(
            f"{m[b'name'].decode()} {m[b'ver']}" for m in r.execute_command("MODULE", "LIST")
        )
    finally:
        r.close()
    return f"Redis {version} (Redis Stack: {mods}), loopback, one server for {shared_by}"


class Postgres:
    """A throwaway PostgreSQL from the Debian packages (`apt-get install -y postgresql`), run as
    the `postgres` user when we are root. synchronous_commit=off: like the Redis servers here,
    which persist nothing, it does not wait for the disk at each commit."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise SystemExit(
                "--postgres: no /usr/lib/postgresql/*/bin (apt-get install postgresql)"
            )
        self.bin = found[-1].parent
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def pg(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / tool), *args], check=True,
                       capture_output=True)  # fmt: skip

    def start(self) -> Postgres:
        data = str(self.dir / "data")
        self.pg("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
        opts += "-c synchronous_commit=off"
        self.pg("pg_ctl", "-D", data, "-l", str(self.dir / "log"), "-o", opts, "-w", "start")
        return self

    def stop(self) -> None:
        self.pg("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
