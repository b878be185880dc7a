"""Round trips per operation, counted by the server: MONITOR shows every command it processes,
marking those a script ran as "lua"; the rest are the round trips a client paid for.

Also: scripts survive SCRIPT FLUSH and a server restart inside the same operation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import ormsgpack
import pytest
import redis
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from langgraph.checkpoint.redis import AsyncRedisSaver, AsyncShallowRedisSaver, RedisSaver
from langgraph.checkpoint.redis.embedded import EmbeddedServer

from .conftest import Backend

SENTINEL = "round-trip-sentinel"


class Monitor:
    """Records the top-level commands the server processes while a block runs."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> Monitor:
        self.side = redis.Redis.from_url(self.url)
        self.side.ping()  # its connection handshake happens before monitoring starts
        self.client = redis.Redis.from_url(self.url)
        self.mon = self.client.monitor().__enter__()
        self.commands: list[str] = []
        self.scripted: list[str] = []
        return self

    def __exit__(self, *exc: object) -> None:
        self.side.echo(SENTINEL)
        while True:
            cmd = self.mon.next_command()
            text = cmd["command"]
            if SENTINEL in text:
                break
            (self.scripted if cmd["client_type"] == "lua" else self.commands).append(text)
        self.mon.__exit__(None, None, None)
        self.client.close()
        self.side.close()

    def verbs(self) -> list[str]:
        return [c.split(" ", 1)[0].upper() for c in self.commands]


def _step(i: int, parent: dict[str, Any] | None) -> tuple[dict, dict, dict, dict]:
    config = generate_config("rt-thread")
    if parent:
        config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
    values = {"messages": [f"m{j}" for j in range(i + 1)], "counter": i}
    cp = generate_checkpoint(
        channel_values=values, channel_versions={"messages": i + 1, "counter": i + 1}
    )
    return config, cp, generate_metadata(step=i), {"messages": i + 1, "counter": i + 1}


async def test_async_one_round_trip_each(real_backend: Backend) -> None:
    saver = AsyncRedisSaver(real_backend.url)
    await saver.asetup()
    stored = None
    for i in range(3):  # warm: connection open, scripts cached
        stored = await saver.aput(*_step(i, stored))
    config, cp, md, nv = _step(3, stored)

    with Monitor(real_backend.url) as m:
        stored = await saver.aput(config, cp, md, nv)
    assert m.verbs() == ["EVALSHA"], m.commands
    assert len(m.scripted) > 3  # the script did the work server-side

    with Monitor(real_backend.url) as m:
        await saver.aput_writes(stored, [("a", 1), ("b", 2), ("__interrupt__", 3)], "task-1")
    assert m.verbs() == ["EVALSHA"], m.commands

    for cfg in (generate_config("rt-thread"), stored):
        with Monitor(real_backend.url) as m:
            tup = await saver.aget_tuple(cfg)
        assert m.verbs() == ["EVALSHA"], m.commands
        assert tup is not None and tup.checkpoint["channel_values"]["counter"] == 3
        assert len(tup.pending_writes) == 3

    with Monitor(real_backend.url) as m:
        page = [t async for t in saver.alist(generate_config("rt-thread"), limit=3)]
    assert m.verbs() == ["EVALSHA"] and len(page) == 3, m.commands
    await saver.aclose()


def test_sync_one_round_trip_each(real_backend: Backend) -> None:
    saver = RedisSaver(real_backend.url)
    saver.setup()
    stored = saver.put(*_step(0, None))
    with Monitor(real_backend.url) as m:
        stored = saver.put(*_step(1, stored))
        saver.put_writes(stored, [("a", 1)], "task-1")
        saver.get_tuple(generate_config("rt-thread"))
    assert m.verbs() == ["EVALSHA"] * 3, m.commands
    saver.close()


@pytest.mark.parametrize("asynchronous", [True, False], ids=["async", "sync"])
async def test_script_flush_recovers_inside_the_call(
    real_backend: Backend, asynchronous: bool
) -> None:
    """After SCRIPT FLUSH the first call gets NOSCRIPT and re-sends the script (EVAL) in the
    same operation: nothing fails, nothing is lost, and the next call is EVALSHA again."""
    saver: Any = (AsyncRedisSaver if asynchronous else RedisSaver)(real_backend.url)

    async def call(fn: Callable[..., Any], *args: Any) -> Any:
        out = fn(*args)
        return await out if asyncio.iscoroutine(out) else out

    put = saver.aput if asynchronous else saver.put
    get = saver.aget_tuple if asynchronous else saver.get_tuple
    stored = await call(put, *_step(0, None))
    raw = redis.Redis.from_url(real_backend.url)
    raw.script_flush()
    with Monitor(real_backend.url) as m:
        stored = await call(put, *_step(1, stored))
    assert m.verbs() == ["EVALSHA", "EVAL"], m.commands
    with Monitor(real_backend.url) as m:
        stored = await call(put, *_step(2, stored))
        tup = await call(get, generate_config("rt-thread"))
    # put's script is cached again; get's is re-sent once, the same way
    assert m.verbs() == ["EVALSHA", "EVALSHA", "EVAL"], m.commands
    assert tup.checkpoint["channel_values"]["counter"] == 2
    raw.close()
    await call(saver.aclose if asynchronous else saver.close)


@pytest.mark.parametrize("asynchronous", [True, False], ids=["async", "sync"])
async def test_server_restart_recovers(real_backend: Backend, asynchronous: bool) -> None:
    """A restarted server drops every connection and has an empty script cache: the next call
    reconnects (retry) and re-sends its script, without an error reaching the caller."""
    binary = real_backend.server.binary if real_backend.server else None
    if binary is None:
        binary = EmbeddedServer().binary  # the REDIS_URL lane: restart a Valkey of our own
    srv = EmbeddedServer(binary=binary).start()
    saver: Any = (AsyncRedisSaver if asynchronous else RedisSaver)(srv.url)

    async def call(name: str, *args: Any) -> Any:
        if asynchronous:
            return await getattr(saver, "a" + name)(*args)
        return getattr(saver, name)(*args)

    stored = await call("put", *_step(0, None))
    port = srv.port
    srv.stop()
    srv = EmbeddedServer(binary=binary, port=port).start()
    # The data is gone (no persistence here), but the call must succeed.
    stored = await call("put", *_step(1, stored))
    tup = await call("get_tuple", stored)
    assert tup is not None and tup.checkpoint["channel_values"]["counter"] == 1
    await (saver.aclose() if asynchronous else asyncio.to_thread(saver.close))
    srv.stop()


def test_sync_saver_threads_share_the_pool(real_backend: Backend) -> None:
    """langgraph runs parallel tasks' put_writes on threads: each is still one round trip."""
    saver = RedisSaver(real_backend.url)
    stored = saver.put(*_step(0, None))
    with Monitor(real_backend.url) as m:
        threads = [
            threading.Thread(target=saver.put_writes, args=(stored, [("c", i)], f"task-{i}"))
            for i in range(16)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert m.verbs().count("EVALSHA") == 16, m.commands
    assert len(saver.get_tuple(stored).pending_writes) == 16
    saver.close()


async def test_logs_cost_no_round_trip_and_a_lost_log_costs_one(real_backend: Backend) -> None:
    """A list channel that extends its last version grows its log in the same single call;
    when another process deleted the log meanwhile, the script writes nothing and says so, and
    the value is sent with no claim in a second call (never stored without its log)."""
    saver = AsyncRedisSaver(real_backend.url)
    other = AsyncRedisSaver(real_backend.url)
    items = [{"n": i, "text": "x" * 20} for i in range(50)]  # over deltas.SMALL: a log
    stored = None
    for i in range(3):
        config, cp, md, nv = _step(i, stored)
        items = [*items, {"n": 100 + i}]
        cp["channel_values"]["messages"] = items
        with Monitor(real_backend.url) as m:
            stored = await saver.aput(config, cp, md, nv)
        if i:  # the first call also connects and caches the script
            assert m.verbs() == ["EVALSHA"], m.commands
    raw = redis.Redis.from_url(real_backend.url)
    names = raw.keys("checkpoint_blob:*rt-thread*")
    (blob,) = [k for k in names if raw.type(k) == b"hash"]
    (log,) = [k for k in names if raw.type(k) == b"string"]  # one log for the three versions
    refs = [v for f, v in raw.hgetall(blob).items() if f.startswith(b"messages:")]
    assert len(refs) == 3 and all(v.startswith(b"@") for v in refs), refs
    assert raw.strlen(log) == len(b"".join(ormsgpack.packb(x) for x in items))

    await other.adelete_thread("rt-thread")
    await other.aget_delta_channel_history(config=stored, channels=["x"])  # warm `other`
    config, cp, md, nv = _step(3, stored)
    items = [*items, {"n": 103}]
    cp["channel_values"]["messages"] = items
    with Monitor(real_backend.url) as m:
        stored = await saver.aput(config, cp, md, nv)
    assert m.verbs() == ["EVALSHA", "EVALSHA"], m.commands
    tup = await other.aget_tuple(stored)
    assert tup is not None and tup.checkpoint["channel_values"]["messages"] == items

    with Monitor(real_backend.url) as m:
        history = await saver.aget_delta_channel_history(config=stored, channels=["messages"])
    assert m.verbs() == ["EVALSHA"], m.commands
    assert history == {"messages": {"writes": []}}  # the thread restarted at this checkpoint
    raw.close()
    await saver.aclose()
    await other.aclose()


async def test_filtered_list_none_walks_the_value_index(real_backend: Backend) -> None:
    """list(None, filter=...) walks the index of the filtered metadata value, not every
    checkpoint: one round trip for any filter (with several keys the script counts their
    indexes and walks the smallest); results equal InMemorySaver's."""
    from langgraph.checkpoint.memory import InMemorySaver

    saver = AsyncRedisSaver(real_backend.url)
    mem = InMemorySaver()
    stored: dict[str, Any] = {}
    for i in range(60):
        thread = f"idx-{i % 6}"
        config, cp, _, nv = _step(i, stored.get(thread))
        config["configurable"]["thread_id"] = thread
        md = {"source": "loop" if i % 3 else "input", "step": i, "user": f"u{i % 4}"}
        stored[thread] = await saver.aput(config, cp, dict(md), nv)
        mem.put(config, cp, dict(md), nv)

    async def ids(f: dict[str, Any], **kw: Any) -> list[str]:
        return [
            t.config["configurable"]["checkpoint_id"]
            async for t in saver.alist(None, filter=f, **kw)
        ]

    def mem_ids(f: dict[str, Any], **kw: Any) -> list[str]:
        got = [t.config["configurable"]["checkpoint_id"] for t in mem.list(None, filter=f)]
        got.sort(reverse=True)
        return got[: kw["limit"]] if "limit" in kw else got

    await ids({"user": "u1"})  # warm
    with Monitor(real_backend.url) as m:
        got = await ids({"user": "u1"}, limit=5)
    assert m.verbs() == ["EVALSHA"], m.commands
    assert " 1 user\\tsu1 f:user su1" in m.commands[0]  # the user index, its u1 range
    assert got == mem_ids({"user": "u1"}, limit=5)

    with Monitor(real_backend.url) as m:
        got = await ids({"source": "input", "user": "u2"})
    # one call: the script itself counts both indexes and walks the smaller (user=u2: 15
    # members against source=input's 20), so choosing costs no round trip
    assert m.verbs() == ["EVALSHA"], m.commands
    assert " 2 source\\tsinput user\\tsu2 " in m.commands[0]
    assert got == mem_ids({"source": "input", "user": "u2"}) and got

    for f in ({"step": 7}, {"step": 7.0, "source": "loop"}, {"user": None}, {"source": "nope"}):
        assert await ids(f) == mem_ids(f), f
    await saver.aclose()


async def test_lifecycle_operations_one_round_trip_each(real_backend: Backend) -> None:
    """TTL, refresh_on_read, pinning, prune(keep_last) and a shallow put add no round trip: the
    deadline, the refresh and the pruning happen inside the operation's one script call."""
    ttl = {"default_ttl": 10, "refresh_on_read": True}
    saver = AsyncRedisSaver(real_backend.url, ttl=ttl)
    shallow = AsyncShallowRedisSaver(real_backend.url, ttl=ttl)
    await saver.asetup()
    stored = shallow_stored = None
    for i in range(4):
        stored = await saver.aput(*_step(i, stored))
        config, cp, md, nv = _step(i, shallow_stored)
        config["configurable"]["thread_id"] = "rt-shallow"
        shallow_stored = await shallow.aput(config, cp, md, nv)
    config, cp, md, nv = _step(4, stored)
    sconfig, scp, smd, snv = _step(4, shallow_stored)
    sconfig["configurable"]["thread_id"] = "rt-shallow"
    # (one EVALSHA per thread for prune: two threads, two scripts, sent as one pipeline)
    checks: list[tuple[str, Callable[[], Any]]] = [
        ("aput", lambda: saver.aput(config, cp, md, nv)),
        ("aput_writes", lambda: saver.aput_writes(stored, [("a", 1)], "task")),
        ("aget_tuple", lambda: saver.aget_tuple({"configurable": {"thread_id": "rt-thread"}})),
        ("shallow aput", lambda: shallow.aput(sconfig, scp, smd, snv)),
        ("apin_thread", lambda: saver.apin_thread("rt-thread")),
        ("aunpin_thread", lambda: saver.aunpin_thread("rt-thread")),
        ("aprune keep_last", lambda: saver.aprune(["rt-thread", "rt-shallow"], keep_last=2)),
        ("asweep", saver.asweep),
    ]
    for name, call in checks:
        with Monitor(real_backend.url) as m:
            await call()
        expected = ["EVALSHA"] * (2 if name == "aprune keep_last" else 1)
        assert m.verbs() == expected, (name, m.commands)
    r = redis.Redis.from_url(real_backend.url)
    try:
        assert r.zcard("checkpoint_idx:{rt-shallow}:") == 1
        assert r.zcard("checkpoint_idx:{rt-thread}:") == 2
        assert 0 < r.pttl("checkpoint_ns:{rt-thread}") <= 10 * 60_000 * 17 // 16
    finally:
        r.close()
    await saver.aclose()
    await shallow.aclose()
