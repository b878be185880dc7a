"""Commands per operation, as the server sees them: what a client sent (MONITOR) and what the
server ran (INFO stats and commandstats, which also count the commands inside scripts).

workloads.py's `rt` section and list_filter count with it, and lifecycle.py's ttl_step: one
counter, so "commands per step" means the same in every report. Runs in the incumbent's venv
too (its redis client), so redis is imported when a Monitor starts, not here.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any


class Monitor:
    """MONITOR on a separate connection, in a thread: the commands clients send between two
    ECHO markers (commands run by scripts are tagged `lua` and left out)."""

    def __init__(self, url: str) -> None:
        import redis

        self.ctl = redis.Redis.from_url(url)
        self._mon = redis.Redis.from_url(url).monitor()
        self._mon.__enter__()
        self.marker = f"bench-rt-{uuid.uuid4().hex}"
        self._counts: list[dict[str, int]] = []
        self._ready = threading.Event()
        self._ctl_addr = str(self.ctl.client_info()["addr"])
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.ctl.echo(f"{self.marker}-ready")
        if not self._ready.wait(10):
            raise RuntimeError("MONITOR did not start")

    def _read(self) -> None:
        current: dict[str, int] | None = None
        while True:
            cmd = self._mon.next_command()
            text = cmd["command"]
            if self.marker in text:
                if text.endswith("-ready"):
                    self._ready.set()
                elif text.endswith("-start"):
                    current = {}
                elif text.endswith("-stop"):
                    self._counts.append(current or {})
                    current = None
                    self._ready.set()
                elif text.endswith("-quit"):
                    return
                continue
            if current is None or cmd.get("client_type") == "lua":
                continue
            if f"{cmd.get('client_address')}:{cmd.get('client_port')}" == self._ctl_addr:
                continue  # our own INFO calls
            name = text.split(" ", 1)[0].strip('"').upper()
            current[name] = current.get(name, 0) + 1

    async def count(self, fn: Any, n: int) -> tuple[dict[str, float], float, dict[str, float]]:
        """(client commands per op by name, server commands per op, commandstats per op)."""
        self._ready.clear()
        self.ctl.echo(f"{self.marker}-start")
        before = self.ctl.execute_command("INFO", "stats", "commandstats")
        for i in range(n):
            await fn(i)
        after = self.ctl.execute_command("INFO", "stats", "commandstats")
        self.ctl.echo(f"{self.marker}-stop")
        if not self._ready.wait(30):
            raise RuntimeError("MONITOR lost the stop marker")
        sent = {k: v / n for k, v in self._counts[-1].items()}
        # the INFO that took `before` is itself counted once by `after`
        server = (after["total_commands_processed"] - before["total_commands_processed"] - 1) / n
        cmds: dict[str, float] = {}
        for k, v in after.items():
            if k.startswith("cmdstat_"):
                d = v["calls"] - (before.get(k) or {}).get("calls", 0)
                if k == "cmdstat_info":
                    d -= 1
                if d:
                    cmds[k[len("cmdstat_") :]] = d / n
        return sent, server, cmds

    async def record(self, res: dict, name: str, fn: Any, n: int) -> None:
        """rt_<name>: commands sent per op; _sent: by name; _server, _cmds: see the docstring."""
        sent, server, cmds = await self.count(fn, n)
        res[f"rt_{name}"] = sum(sent.values())
        res[f"rt_{name}_sent"] = sent
        res[f"rt_{name}_server"] = server
        res[f"rt_{name}_cmds"] = cmds

    def close(self) -> None:
        self.ctl.echo(f"{self.marker}-quit")
        self._thread.join(5)
        self._mon.__exit__(None, None, None)
        self.ctl.close()
