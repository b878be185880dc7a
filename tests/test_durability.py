"""What each persistence setting survives (docs/operations.md, "What survives what"), on real
servers that are SIGKILLed and restarted on the same port and data directory:

- AOF with `appendfsync always`: every acknowledged checkpoint survives.
- AOF with `appendfsync everysec`: what was acknowledged a second or two before the kill
  survives, and never half a step (one script, one AOF entry: a checkpoint is read back whole
  or not at all; a thread's surviving steps are a prefix of what it wrote).
- No persistence: nothing survives a restart, and setup() starts a fresh key space.
A SIGKILL of the server process loses nothing the server had written to its AOF file (the
kernel holds it): the two fsync policies differ on a power loss or a kernel crash, which a
test cannot cause here (`always` then loses nothing acknowledged, `everysec` up to ~1 s).
Replicas with `wait_replicas` are tested in test_cluster_lane (a master SIGKILLed, its replica
promoted)."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.redis import RedisSaver
from langgraph.checkpoint.redis.embedded import EmbeddedServer

from .conftest import REDIS_SERVER

BINARIES = [pytest.param(None, id="valkey")]
if REDIS_SERVER or os.environ.get("CI"):
    BINARIES.append(pytest.param(REDIS_SERVER, id="redis7", marks=pytest.mark.lane("redis7")))


def _kill_and_restart(srv: EmbeddedServer) -> None:
    """SIGKILL (no shutdown, no final fsync), then the same binary, port and directory."""
    assert srv.proc is not None
    srv.proc.kill()
    srv.proc.wait()
    srv.proc = None
    srv.start()


def _step(saver: RedisSaver, thread: str, n: int, parent: Any) -> Any:
    c = empty_checkpoint()
    c["channel_values"] = {"log": [f"{thread}-{i}" for i in range(n + 1)], "n": n}
    c["channel_versions"] = {"log": f"{n + 1:032}.0", "n": f"{n + 1:032}.0"}
    return saver.put(parent, c, {"step": n, "source": "loop"}, dict(c["channel_versions"]))


def _write(saver: RedisSaver, threads: int, steps: int, tag: str) -> list[Any]:
    acked = []
    for t in range(threads):
        cfg: Any = {"configurable": {"thread_id": f"{tag}{t}", "checkpoint_ns": ""}}
        for n in range(steps):
            cfg = _step(saver, f"{tag}{t}", n, cfg)
            acked.append(cfg)
    return acked


def _whole(saver: RedisSaver, cfg: Any) -> bool:
    """The checkpoint is there and whole: its values are exactly what its step wrote."""
    got = saver.get_tuple(cfg)
    if got is None:
        return False
    thread = cfg["configurable"]["thread_id"]
    n = got.metadata["step"]
    assert got.checkpoint["channel_values"] == {
        "log": [f"{thread}-{i}" for i in range(n + 1)],
        "n": n,
    }
    return True


@pytest.mark.parametrize("binary", BINARIES)
def test_aof_always_loses_nothing_acknowledged(binary: str | None) -> None:
    srv = EmbeddedServer(binary, extra_args=["--appendonly", "yes", "--appendfsync", "always"])
    srv.start()
    try:
        with RedisSaver(srv.url) as saver:
            saver.setup()
            acked = _write(saver, threads=5, steps=20, tag="always")
        _kill_and_restart(srv)
        with RedisSaver(srv.url) as saver:
            saver.setup()
            assert all(_whole(saver, cfg) for cfg in acked)
            for t in range(5):  # the latest of each thread is its last acknowledged step
                latest = saver.get_tuple({"configurable": {"thread_id": f"always{t}"}})
                assert latest is not None and latest.metadata["step"] == 19
    finally:
        srv.stop()


@pytest.mark.parametrize("binary", BINARIES)
def test_aof_everysec_loses_at_most_the_last_second_never_half(binary: str | None) -> None:
    srv = EmbeddedServer(binary, extra_args=["--appendonly", "yes", "--appendfsync", "everysec"])
    srv.start()
    try:
        with RedisSaver(srv.url) as saver:
            saver.setup()
            early = _write(saver, threads=3, steps=10, tag="early")
            time.sleep(2.5)  # more than the fsync period: these are on disk
            late = _write(saver, threads=3, steps=10, tag="late")
        _kill_and_restart(srv)
        with RedisSaver(srv.url) as saver:
            saver.setup()
            assert all(_whole(saver, cfg) for cfg in early)
            # the late ones may or may not be there; each one there is whole (_whole asserts),
            # and a thread's surviving steps are a prefix of what was written
            for t in range(3):
                there = [_whole(saver, c) for c in late[t * 10 : (t + 1) * 10]]
                assert there == sorted(there, reverse=True), there
    finally:
        srv.stop()


@pytest.mark.parametrize("binary", BINARIES)
def test_no_persistence_keeps_nothing_across_a_restart(binary: str | None) -> None:
    srv = EmbeddedServer(binary)  # --save "" --appendonly no: the tests' default
    srv.start()
    try:
        with RedisSaver(srv.url) as saver:
            saver.setup()
            acked = _write(saver, threads=1, steps=3, tag="none")
            assert _whole(saver, acked[-1])
        _kill_and_restart(srv)
        with RedisSaver(srv.url) as saver:
            saver.setup()  # a fresh key space: the format is recorded again
            assert saver.get_tuple(acked[-1]) is None
            again = _write(saver, threads=1, steps=2, tag="none")
            assert _whole(saver, again[-1])
    finally:
        srv.stop()
