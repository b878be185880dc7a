"""Lists kept in append-only logs (lua/includes/logs.lua): each message stored once, whoever
writes the thread.

The server, not a saver's memory, decides what a step stores: two real processes taking turns
on one thread, eight savers writing its steps in random order and a saver that has never seen
the thread all leave one log holding every item once; a fork (a put on an older checkpoint
whose list went another way) gets a log of its own, and a prune drops the logs no kept version
refers to. Every read is compared with InMemorySaver's.
"""

from __future__ import annotations

import multiprocessing as mp
import random
from typing import Any

import ormsgpack
import redis
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.redis import RedisSaver

from .conftest import Backend
from .orphans import assert_no_orphans, keys_of


def message(i: int) -> dict[str, Any]:
    return {"id": f"m{i:05d}", "type": "human", "content": f"{i:05d}" + "x" * 150}


def step(i: int, messages: list[Any], versions: dict[str, Any]) -> tuple[dict, dict, dict]:
    """Checkpoint i of a thread whose `messages` is `messages`; (checkpoint, metadata, new
    versions), versions advanced in place."""
    cp = empty_checkpoint()
    cp["id"] = f"1f000000-0000-6000-8000-{i:012d}"  # uuid6-shaped ids in step order
    versions["messages"] = f"{i + 1:032d}.0"
    cp["channel_values"] = {"messages": messages}
    cp["channel_versions"] = dict(versions)
    return cp, {"source": "loop", "step": i, "parents": {}}, {"messages": versions["messages"]}


def cfg(thread: str, cid: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ""}
    if cid:
        c["checkpoint_id"] = cid
    return {"configurable": c}


def grow(
    s: RedisSaver, thread: str, n: int, versions: dict[str, Any]
) -> list[tuple[dict[str, Any], list[Any]]]:
    """n steps of one thread by one saver, a message each: (stored config, messages) per step,
    versions advanced in place."""
    out: list[tuple[dict[str, Any], list[Any]]] = []
    parent, msgs = cfg(thread), []  # type: ignore[var-annotated]
    for i in range(n):
        msgs = [*msgs, message(i)]
        parent = s.put(parent, *step(i, msgs, versions))
        out.append((parent, msgs))
    return out


def logs_of(raw: redis.Redis, thread: str) -> dict[bytes, int]:
    """The thread's root-namespace logs: id -> bytes held."""
    blob = keys_of(raw, thread).blob
    ids = [f[1:] for f in raw.hkeys(blob) if f.startswith(b"@") and f != b"@"]
    return {i: raw.strlen(blob.encode() + b":" + i) for i in ids}


def item_bytes(items: list[Any]) -> int:
    return sum(len(ormsgpack.packb(x)) for x in items)


def _taker(url: str, conn: Any) -> None:
    """A process of its own: puts the steps it is sent, with a saver that remembers only its
    own writes (each two steps old: the other process wrote the step in between)."""
    saver = RedisSaver(redis_url=url)
    saver.setup()
    try:
        while (job := conn.recv()) is not None:
            config, cp, md, nv = job
            conn.send(saver.put(config, cp, md, nv))
    finally:
        saver.close()


def test_two_processes_taking_turns_store_each_message_once(real_backend: Backend) -> None:
    backend = real_backend
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for _ in range(2):
        here, there = ctx.Pipe()
        p = ctx.Process(target=_taker, args=(backend.url, there), daemon=True)
        p.start()
        pipes.append(here)
        procs.append(p)
    mem = InMemorySaver()
    thread, msgs, versions = "turns", [], {}  # type: ignore[var-annotated]
    parent = cfg(thread)
    try:
        for i in range(40):
            msgs = [*msgs, message(i)]
            cp, md, nv = step(i, msgs, versions)
            mem.put(parent, cp, md, nv)
            pipes[i % 2].send((parent, cp, md, nv))
            parent = pipes[i % 2].recv()
    finally:
        for here, p in zip(pipes, procs, strict=True):
            here.send(None)
            p.join(timeout=30)
    raw = backend.sync_client()
    logs = logs_of(raw, thread)
    assert list(logs.values()) == [item_bytes(msgs)], logs  # one log, every message once
    with RedisSaver(redis_url=backend.url) as reader:
        reader.setup()
        got = [t.checkpoint["channel_values"]["messages"] for t in reader.list(cfg(thread))]
    assert got == [t.checkpoint["channel_values"]["messages"] for t in mem.list(cfg(thread))]
    assert_no_orphans(raw)
    raw.close()


def test_eight_savers_in_random_order_and_a_fresh_one(backend: Backend) -> None:
    """Eight savers (eight memories) write one thread's steps in a random order of turns; then a
    saver that has never seen the thread writes a step without reading. Still one log with
    every message once; a reader returns every version byte for byte."""
    kw = backend.saver_kwargs(asynchronous=False)
    savers = [RedisSaver(**kw) for _ in range(8)]
    savers[0].setup()
    rng = random.Random(12)
    thread, msgs, versions = "eight", [], {}  # type: ignore[var-annotated]
    parent = cfg(thread)
    every: list[list[Any]] = []
    for i in range(60):
        msgs = [*msgs, message(i)]
        cp, md, nv = step(i, msgs, versions)
        parent = rng.choice(savers).put(parent, cp, md, nv)
        every.append(msgs)
    fresh = RedisSaver(**kw)
    msgs = [*msgs, message(60)]
    cp, md, nv = step(60, msgs, versions)
    parent = fresh.put(parent, cp, md, nv)
    every.append(msgs)
    raw = backend.sync_client()
    assert list(logs_of(raw, thread).values()) == [item_bytes(msgs)]
    got = [t.checkpoint["channel_values"]["messages"] for t in fresh.list(cfg(thread))]
    assert got == every[::-1]
    assert_no_orphans(raw)
    for s in [*savers, fresh]:
        s.close()
    raw.close()


def test_a_reader_claims_what_it_read(backend: Backend) -> None:
    """A saver that read the thread (as a graph does before its first step) sends only the
    new message, as a claim on the log it read; one that did not sends the whole list."""
    kw = backend.saver_kwargs(asynchronous=False)
    writer = RedisSaver(**kw)
    writer.setup()
    thread = "claims"
    msgs = grow(writer, thread, 30, {})[-1][1]
    longer = [*msgs, message(30)]
    reader, blind = RedisSaver(**kw), RedisSaver(**kw)
    assert reader.get_tuple(cfg(thread)) is not None
    for s in (reader, blind):
        data, _ = s._ops.deltas.encode(s.serde, thread, "", "messages", longer)  # type: ignore[union-attr]
        log, length, count, rest = data[1:].split(b"\n", 3)
        assert int(count) == 31
        if s is reader:
            assert log and int(length) == item_bytes(msgs) and len(rest) == item_bytes([longer[-1]])
        else:
            assert log == b"" and len(rest) == item_bytes(longer)
    for s in (writer, reader, blind):
        s.close()


def test_a_fork_gets_its_own_log_and_prune_drops_it(backend: Backend) -> None:
    """Time travel: a put on an older checkpoint whose list went another way (a message
    removed, another added) starts a log of its own; the first branch's log is untouched.
    Pruning to the fork's head drops the log no kept version refers to."""
    kw = backend.saver_kwargs(asynchronous=False)
    s = RedisSaver(**kw)
    s.setup()
    thread, versions = "fork", {}  # type: ignore[var-annotated]
    configs = grow(s, thread, 10, versions)
    msgs = configs[-1][1]
    base_cfg, base_msgs = configs[5]
    other = [*base_msgs[:-1], message(99)]
    head = s.put(base_cfg, *step(10, other, versions))
    raw = backend.sync_client()
    logs = logs_of(raw, thread)
    assert sorted(logs.values()) == sorted([item_bytes(msgs), item_bytes(other)]), logs
    got = s.get_tuple(head)
    assert got is not None and got.checkpoint["channel_values"]["messages"] == other
    for c, m in configs:
        t = s.get_tuple(c)
        assert t is not None and t.checkpoint["channel_values"]["messages"] == m
    assert_no_orphans(raw)
    s.prune([thread], keep_last=1)
    assert list(logs_of(raw, thread).values()) == [item_bytes(other)]
    t = s.get_tuple(cfg(thread))
    assert t is not None and t.checkpoint["channel_values"]["messages"] == other
    assert_no_orphans(raw)
    s.close()
    raw.close()


def test_format_3_data_is_refused_by_name(backend: Backend) -> None:
    """Keys written before the logs (format 3: deltas and snapshots) are refused at setup with
    a message that says which format they hold and which this version writes."""
    raw = backend.sync_client()
    raw.hset("checkpoint_meta", mapping={"format": 3})
    s = RedisSaver(**backend.saver_kwargs(asynchronous=False))
    try:
        s.setup()
    except RuntimeError as e:
        assert "hold storage format 3; this version writes format 4" in str(e)
    else:
        raise AssertionError("format 3 was accepted")
    finally:
        s.close()
        raw.close()


def test_a_fork_that_goes_the_same_way_writes_no_log(backend: Backend) -> None:
    """Time travel that replays the same messages (a re-run from an older checkpoint) refers to
    the log that already holds them: no copy, no new log."""
    s = RedisSaver(**backend.saver_kwargs(asynchronous=False))
    s.setup()
    thread, versions = "same-way", {}  # type: ignore[var-annotated]
    configs = grow(s, thread, 8, versions)
    msgs = configs[-1][1]
    raw = backend.sync_client()
    before = logs_of(raw, thread)
    again = s.put(configs[3][0], *step(8, msgs[:6], versions))  # steps 4 and 5 again, from 3
    assert logs_of(raw, thread) == before  # the same single log, not one byte more
    t = s.get_tuple(again)
    assert t is not None and t.checkpoint["channel_values"]["messages"] == msgs[:6]
    assert_no_orphans(raw)
    s.close()
    raw.close()
