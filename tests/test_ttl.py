"""Lifecycle: TTL, with real expiry on real servers.

`ttl={"default_ttl": minutes, "refresh_on_read": bool}` on every saver. What is checked, mostly
at the level of the keys themselves (a raw client next to the savers):

- every key of a thread carries one absolute deadline (PEXPIRETIME of `checkpoint_ns:{T}`),
  which is now + ttl + ttl/16 after a write and moves only when less than ttl is left; the
  ledger (`checkpoint_xref:{T}`) and the pin marker never expire; `checkpoint_exp` holds the
  deadline;
- threads really expire (0.5 s TTLs, one sleep per test covering several threads), all keys at
  once, including keys written by a saver without TTL;
- refresh_on_read: get_tuple and list(config) that find something extend an expiring thread,
  list(None) and reads that find nothing do not, and a persistent thread never starts expiring;
- pin/unpin; a TTL saver taking over a persistent thread; a saver without TTL keeping a thread's
  deadline;
- the cross-thread indexes never return an expired thread: list(None) skips and cleans, each put
  sweeps one due thread, sweep() removes everything, and then no key of the thread is left;
- delete_for_runs after expiry, copy_thread into a target, put/put_writes into an expired thread;
- real LangGraph graphs (a conversation kept alive by reads, an interrupt kept by a pin, the
  shallow savers);
- the `ttl` argument is validated.

Each test body runs on the async saver and on the sync saver (`kind`), through `Facade`.
"""

from __future__ import annotations

import asyncio
import math
import operator
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import pytest
import redis
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.conformance.test_utils import generate_checkpoint, generate_metadata
from langgraph.checkpoint.redis import (
    AsyncRedisSaver,
    AsyncShallowRedisSaver,
    RedisSaver,
    ShallowRedisSaver,
)
from langgraph.checkpoint.redis.keys import KeySpace, enc, tag
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

from .conftest import Backend
from .facade import Facade, cfg, new_id, refs
from .helpers import close_saver, open_saver, thread_keys

KS = KeySpace()
EXP = KS.exp_index.encode()

HALF = 0.5 / 60  # minutes: threads that really expire during a test
READ_TTL = 1.5 / 60
"""minutes: for tests that must read a thread before its first deadline, READ_MARGIN_MS ahead
of it; on a loaded machine a 150 ms margin of a 0.5 s TTL was once not enough (the thread
expired before the read that should have kept it)."""
READ_MARGIN_MS = 600
SECOND = 1 / 60
LONG = 10.0  # minutes: nothing expires, and a deadline does not move within 37 s


def ttl_ms(minutes: float) -> int:
    return round(minutes * 60_000)


def fresh(minutes: float) -> int:
    """How far ahead a write (or a refresh) puts the deadline: ttl + ttl/16."""
    ms = ttl_ms(minutes)
    return ms + ms // 16


# -- savers ---------------------------------------------------------------------------------


Maker = Callable[..., Awaitable[Facade]]


@pytest.fixture
async def make(kind: str) -> AsyncIterator[Maker]:
    """Opens set-up savers of the test's kind on a backend; closes them afterwards."""
    opened: list[Facade] = []

    async def opener(backend: Backend, ttl: Any = None, *, shallow: bool = False) -> Facade:
        x = await open_saver(backend, kind, shallow=shallow, ttl=ttl)
        opened.append(x)
        return x

    yield opener
    for x in opened:
        await close_saver(x)


@pytest.fixture
def rraw(real_backend: Backend) -> Any:
    c = real_backend.sync_client()
    yield c
    c.close()


# -- data -----------------------------------------------------------------------------------


async def put_one(
    x: Facade,
    thread: str,
    ns: str = "",
    *,
    cid: str | None = None,
    parent: str | None = None,
    run: str = "run-1",
    step: int = 0,
    value: Any = None,
) -> str:
    cid = cid or new_id()
    v = x.next_version(None)
    values = {"v": f"{thread}/{ns}/{cid}" if value is None else value}
    cp = generate_checkpoint(checkpoint_id=cid, channel_values=values, channel_versions={"v": v})
    md = generate_metadata(step=step, run_id=run, owner=thread)
    await x.put(cfg(thread, ns, parent), cp, md, {"v": v})
    return cid


@dataclass
class Filled:
    """What `fill` wrote into one thread."""

    thread: str
    checkpoints: list[tuple[str, str]] = field(default_factory=list)  # (ns, cid)
    writes: list[tuple[str, str, str]] = field(default_factory=list)  # (ns, cid, task)
    orphans: list[tuple[str, str]] = field(default_factory=list)  # writes, no checkpoint

    @property
    def latest(self) -> str:
        return [c for n, c in self.checkpoints if n == ""][-1]


async def write(x: Facade, f: Filled, ns: str, cid: str, task: str) -> None:
    await x.put_writes(cfg(f.thread, ns, cid), [("v", f"{task}:0"), ("other", [1])], task)
    f.writes.append((ns, cid, task))


async def fill(x: Facade, thread: str, run: str = "run-1") -> Filled:
    """Every kind of per-thread key: two checkpoints in the root namespace and one in a
    subgraph's, each with a task's writes, and writes on an id that never gets a checkpoint."""
    f = Filled(thread)
    c1 = await put_one(x, thread, run=run, step=0)
    f.checkpoints.append(("", c1))
    await write(x, f, "", c1, "task-a")
    c2 = await put_one(x, thread, parent=c1, run=run, step=1)
    f.checkpoints.append(("", c2))
    await write(x, f, "", c2, "task-b")
    c3 = await put_one(x, thread, "sub:1", run=run, step=0)
    f.checkpoints.append(("sub:1", c3))
    await write(x, f, "sub:1", c3, "task-c")
    orphan = new_id()
    await write(x, f, "", orphan, "task-o")
    f.orphans.append(("", orphan))
    return f


def expected_keys(f: Filled) -> set[bytes]:
    """The thread's keys as keys.py lays them out."""
    th = KS.thread(f.thread)
    keys = {th.ns_set, th.xref}
    for ns, cid in f.checkpoints:
        keys |= {f"{th.cp}{enc(ns)}:{enc(cid)}", th.idx + enc(ns), th.blob + enc(ns)}
    for ns, cid in f.orphans:
        keys |= {f"{th.cp}{enc(ns)}:{enc(cid)}", th.wo + enc(ns)}
    for ns, cid, task in f.writes:
        keys.add(f"{th.write}{enc(ns)}:{enc(cid)}:{enc(task)}")
    return {k.encode() for k in keys}


def threads_of(tuples: list[CheckpointTuple]) -> set[str]:
    return {t.config["configurable"]["thread_id"] for t in tuples}


# -- looking at the keys --------------------------------------------------------------------


def server_ms(raw: redis.Redis) -> int:
    s, us = raw.time()
    return s * 1000 + us // 1000


async def sleep_until(raw: redis.Redis, at_ms: int) -> None:
    left = at_ms - server_ms(raw)
    if left > 0:
        await asyncio.sleep(left / 1000)


async def sleep_past(raw: redis.Redis, at_ms: int, margin_ms: int = 40) -> None:
    await sleep_until(raw, at_ms + margin_ms)


def expiring_keys(raw: redis.Redis, thread: str) -> set[bytes]:
    """The thread's keys that carry its deadline: all but the ledger and the pin marker."""
    th = KS.thread(thread)
    return thread_keys(raw, thread) - {th.xref.encode(), th.pin.encode()}


def pexpiretime(raw: redis.Redis, key: bytes | str) -> int:
    return int(raw.execute_command("PEXPIRETIME", key))


def shared_deadline(raw: redis.Redis, thread: str) -> int:
    """Asserts that every expiring key of the thread has one and the same deadline, that the
    ledger does not expire and that the expiry index holds the deadline; returns it."""
    th = KS.thread(thread)
    keys = expiring_keys(raw, thread)
    assert keys, f"thread {thread!r} has no keys"
    at = {k: pexpiretime(raw, k) for k in keys}
    assert len(set(at.values())) == 1, at
    deadline = next(iter(at.values()))
    assert deadline > 0, at
    if raw.exists(th.xref):
        assert raw.pttl(th.xref) == -1
    assert not raw.exists(th.pin)
    assert raw.zscore(EXP, th.tag) == deadline
    return deadline


def assert_persistent(raw: redis.Redis, thread: str) -> None:
    keys = thread_keys(raw, thread)
    assert expiring_keys(raw, thread), f"thread {thread!r} has no keys"
    assert {k: raw.pttl(k) for k in keys} == dict.fromkeys(keys, -1)
    assert raw.zscore(EXP, KS.thread(thread).tag) is None


def mentions(raw: redis.Redis, thread: str) -> list[tuple[bytes, bytes]]:
    """Members of the cross-thread keys (all, run, by-value and expiry indexes) that name the
    thread."""
    t = tag(thread).encode()
    out: list[tuple[bytes, bytes]] = []
    for key in raw.scan_iter(count=1000):
        if b"{" in key:
            continue
        typ = raw.type(key)
        if typ == b"zset":
            members = raw.zrange(key, 0, -1)
        elif typ == b"set":
            members = list(raw.smembers(key))
        else:
            continue
        out += [(key, m) for m in members if t in m.split(b"\n")]
    return sorted(out)


def assert_gone(raw: redis.Redis, thread: str) -> None:
    """No key of the thread at all, and no index member naming it."""
    assert thread_keys(raw, thread) == set()
    assert mentions(raw, thread) == []


def assert_deadline_between(raw: redis.Redis, thread: str, t0: int, t1: int, m: float) -> int:
    """The deadline a write or refresh between server times t0 and t1 gives (ttl m minutes)."""
    d = shared_deadline(raw, thread)
    assert t0 + fresh(m) <= d <= t1 + fresh(m), (d - t0, d - t1, fresh(m))
    return d


# -- the ttl argument -----------------------------------------------------------------------

CLASSES = [RedisSaver, AsyncRedisSaver, ShallowRedisSaver, AsyncShallowRedisSaver]
NOWHERE = "redis://127.0.0.1:1"  # never connected to: the argument is refused first

BAD_TTL = [
    pytest.param(60, TypeError, id="int"),
    pytest.param("60", TypeError, id="str"),
    pytest.param([("default_ttl", 1)], TypeError, id="list"),
    pytest.param(0, TypeError, id="falsy-int"),
    pytest.param({"default_ttl": 0}, ValueError, id="zero"),
    pytest.param({"default_ttl": -1}, ValueError, id="negative"),
    pytest.param({"default_ttl": math.nan}, ValueError, id="nan"),
    pytest.param({"default_ttl": math.inf}, ValueError, id="inf"),
    pytest.param({"default_ttl": True}, ValueError, id="bool"),
    pytest.param({"default_ttl": "5"}, ValueError, id="str-minutes"),
    pytest.param({"default_ttl": 1e-9}, ValueError, id="under-a-millisecond"),
]


@pytest.mark.parametrize(
    "ttl", [{"default_ttl": 1, "checkpoint": 3600}, {"default_tll": 5}], ids=["extra", "typo"]
)
def test_unknown_ttl_keys_are_ignored_with_a_warning(ttl: dict[str, Any]) -> None:
    """The incumbent ignores keys it does not know (its docs show {"checkpoint": 3600});
    its users' ttl dicts work here too, and a warning names the ignored keys."""
    for cls in CLASSES:
        with pytest.warns(UserWarning, match="are ignored") as seen:
            saver = cls(NOWHERE, ttl=ttl)
        assert any(k in str(w.message) for w in seen for k in ("checkpoint", "default_tll"))
        assert saver.ttl_config == ttl
        assert saver._ops.ttl_ms == (60_000 if "default_ttl" in ttl else 0)


@pytest.mark.parametrize(("ttl", "error"), BAD_TTL)
async def test_invalid_ttl_is_refused(ttl: Any, error: type[Exception]) -> None:
    for cls in CLASSES:
        with pytest.raises(error):
            cls(NOWHERE, ttl=ttl)
    for scls in (RedisSaver, ShallowRedisSaver):
        with pytest.raises(error), scls.from_conn_string(NOWHERE, ttl=ttl):
            pass
    for acls in (AsyncRedisSaver, AsyncShallowRedisSaver):
        with pytest.raises(error):
            async with acls.from_conn_string(NOWHERE, ttl=ttl):
                pass


async def test_from_conn_string_takes_ttl_in_fractional_minutes(
    real_backend: Backend, rraw: redis.Redis
) -> None:
    """1/60 of a minute is one second, on all four classes; without a TTL nothing expires."""
    url = real_backend.url
    cases: list[tuple[Any, dict[str, Any] | None]] = [
        (cls, ttl)
        for cls in CLASSES
        for ttl in (
            {"default_ttl": SECOND, "refresh_on_read": True, "sweep_interval_minutes": 5},
            {"default_ttl": SECOND, "omit_expired": True},  # langgraph's TTLConfig keys too
            None,
            {},
        )
    ]
    for i, (cls, ttl) in enumerate(cases):
        thread = f"{cls.__name__}-{i}"
        cp = generate_checkpoint(channel_values={"v": 1}, channel_versions={"v": "1"})
        t0 = server_ms(rraw)
        if cls in (AsyncRedisSaver, AsyncShallowRedisSaver):
            async with cls.from_conn_string(url, ttl=ttl) as s:
                await s.aput(cfg(thread), cp, generate_metadata(), {"v": "1"})
        else:
            with cls.from_conn_string(url, ttl=ttl) as s:
                s.put(cfg(thread), cp, generate_metadata(), {"v": "1"})
        t1 = server_ms(rraw)
        if ttl:
            d = assert_deadline_between(rraw, thread, t0, t1, SECOND)
            assert 1000 < d - t0 <= 1062 + (t1 - t0)
        else:
            assert_persistent(rraw, thread)


# -- one deadline per thread ----------------------------------------------------------------


async def test_every_key_of_a_thread_shares_one_deadline(
    backend: Backend, raw: redis.Redis, make: Maker
) -> None:
    w = await make(backend, {"default_ttl": LONG})
    t0 = server_ms(raw)
    a = await fill(w, "a")
    t1 = server_ms(raw)
    assert thread_keys(raw, "a") == expected_keys(a)
    d = assert_deadline_between(raw, "a", t0, t1, LONG)
    th = KS.thread("a")
    assert raw.pttl(th.xref) == -1  # the ledger outlives the thread, for the sweep
    assert raw.hlen(th.xref) == len(a.checkpoints)
    assert raw.zrange(EXP, 0, -1, withscores=True) == [(b"a", float(d))]

    # more writes well within ttl/16 of the first: the deadline stays, new keys get it
    before = thread_keys(raw, "a")
    a.checkpoints.append(("sub:2", await put_one(w, "a", "sub:2", run="run-2")))
    await write(w, a, "", a.latest, "task-late")
    c = await put_one(w, "a", parent=a.latest)
    a.checkpoints.append(("", c))
    await write(w, a, "", c, "task-new")
    assert thread_keys(raw, "a") == expected_keys(a)
    assert len(expected_keys(a) - before) == 6
    assert shared_deadline(raw, "a") == d

    # another thread has its own deadline
    b = await fill(w, "b")
    assert thread_keys(raw, "b") == expected_keys(b)
    assert shared_deadline(raw, "b") >= d
    assert shared_deadline(raw, "a") == d


async def test_deadline_moves_in_steps(
    real_backend: Backend, rraw: redis.Redis, make: Maker
) -> None:
    """Less than ttl left: now + ttl + ttl/16, on every key (old ones too); else no move."""
    minutes = 4 / 60  # ttl/16 = 250 ms
    w = await make(real_backend, {"default_ttl": minutes})
    t0 = server_ms(rraw)
    c1 = await put_one(w, "s")
    t1 = server_ms(rraw)
    d0 = assert_deadline_between(rraw, "s", t0, t1, minutes)
    await w.put_writes(cfg("s", "", c1), [("v", 1)], "task")
    await put_one(w, "s", "sub:1")
    assert shared_deadline(rraw, "s") == d0
    await asyncio.sleep(0.3)
    t0 = server_ms(rraw)
    await put_one(w, "s", "sub:2", parent=c1)
    t1 = server_ms(rraw)
    d1 = assert_deadline_between(rraw, "s", t0, t1, minutes)
    assert d1 >= d0 + 250


# -- expiry, refresh, pins ------------------------------------------------------------------


async def test_threads_expire_unless_read_pinned_or_persistent(
    real_backend: Backend, rraw: redis.Redis, make: Maker
) -> None:
    raw = rraw
    w = await make(real_backend, {"default_ttl": READ_TTL})
    r = await make(real_backend, {"default_ttl": READ_TTL, "refresh_on_read": True})
    p = await make(real_backend)
    filled = {
        t: await fill(w, t)
        for t in (
            "read-get",
            "read-list",
            "unread",
            "read-no-refresh",
            "listed-all",
            "pinned",
            "unpinned",
        )
    }
    await put_one(w, "mixed")
    await fill(p, "persistent")
    assert await w.pin("pinned")
    assert await w.pin("unpinned")
    assert await w.unpin("unpinned")
    expiring = [t for t in filled if t != "pinned"] + ["mixed"]
    d0 = {t: shared_deadline(raw, t) for t in expiring}
    assert_persistent(raw, "pinned")
    assert_persistent(raw, "persistent")

    # before the first deadline: reads, and a saver without TTL writing into "mixed"
    await sleep_until(raw, min(d0.values()) - READ_MARGIN_MS)
    assert (await r.get(cfg("read-get"))) is not None
    assert len(await r.list(cfg("read-list", ns=None))) == 3
    assert (await w.get(cfg("read-no-refresh"))) is not None
    assert "listed-all" in threads_of(await r.list(None))
    m = await put_one(p, "mixed", run="run-p")
    await put_one(p, "mixed", "sub:1", parent=m, run="run-p")
    await p.put_writes(cfg("mixed", "", m), [("v", "p")], "task-p")
    d1 = {t: shared_deadline(raw, t) for t in expiring}
    for t in ("read-get", "read-list"):
        assert d1[t] > d0[t] + 100
    for t in ("unread", "read-no-refresh", "listed-all", "unpinned", "mixed"):
        assert d1[t] == d0[t], t

    await sleep_past(raw, max(d0.values()))
    # the reads kept two threads alive past their original deadline
    for t in ("read-get", "read-list"):
        tup = await r.get(cfg(t))
        assert tup is not None and tup.checkpoint["id"] == filled[t].latest
        assert len(await r.list(cfg(t, ns=None))) == 3
    for t in ("pinned", "persistent"):
        assert len(await w.list(cfg(t, ns=None))) == 3
        assert_persistent(raw, t)
    gone = ["unread", "read-no-refresh", "listed-all", "unpinned", "mixed"]
    for t in gone:
        assert await w.get(cfg(t)) is None
        assert await w.list(cfg(t, ns=None)) == []
        assert expiring_keys(raw, t) == set(), t  # also the keys the saver without TTL wrote
        assert mentions(raw, t), t  # the index entries wait for the sweep
    ledger = sum(raw.hlen(KS.thread(t).xref) for t in gone)
    assert ledger == 4 * 3 + 3
    assert await w.sweep() == ledger
    for t in gone:
        assert_gone(raw, t)
    listed = await w.list(None)
    assert threads_of(listed) == {"read-get", "read-list", "pinned", "persistent"}
    assert len(listed) == 12


async def test_refresh_on_read_rules(real_backend: Backend, rraw: redis.Redis, make: Maker) -> None:
    raw = rraw
    w = await make(real_backend, {"default_ttl": SECOND})
    r = await make(real_backend, {"default_ttl": SECOND, "refresh_on_read": True})
    p = await make(real_backend)
    e = await fill(w, "e")
    await fill(p, "persistent")
    await fill(w, "pinned")
    assert await w.pin("pinned")
    d = shared_deadline(raw, "e")
    await asyncio.sleep(0.1)  # less than ttl is left: a refresh would move the deadline now

    # reads that must not refresh
    assert "e" in threads_of(await r.list(None))
    assert "e" in threads_of(await r.list(None, filter={"owner": "e"}))
    assert await r.get(cfg("e", cid=new_id())) is None
    assert await r.get(cfg("e", "nowhere")) is None
    assert await r.list(cfg("e"), filter={"owner": "nobody"}) == []
    assert await r.list(cfg("e", cid=new_id())) == []
    assert (await w.get(cfg("e"))) is not None
    assert len(await w.list(cfg("e", ns=None))) == 3
    assert shared_deadline(raw, "e") == d

    # reads that find something refresh: get (latest, by id), list (one or all namespaces, by id)
    sub = next(c for n, c in e.checkpoints if n == "sub:1")
    reads: list[Callable[[], Awaitable[Any]]] = [
        lambda: r.get(cfg("e")),
        lambda: r.get(cfg("e", "sub:1", sub)),
        lambda: r.list(cfg("e")),
        lambda: r.list(cfg("e", ns=None), limit=1),
        lambda: r.list(cfg("e", ns=None, cid=sub)),
    ]
    for read in reads:
        t0 = server_ms(raw)
        assert await read()
        t1 = server_ms(raw)
        nd = assert_deadline_between(raw, "e", t0, t1, SECOND)
        assert nd > d
        d = nd
        await asyncio.sleep(0.08)  # past ttl/16: the next refresh moves the deadline again

    # refresh never starts expiry, nor ends a pin
    for t in ("persistent", "pinned"):
        assert (await r.get(cfg(t))) is not None
        assert len(await r.list(cfg(t, ns=None))) == 3
        assert_persistent(raw, t)


async def test_ttl_saver_takes_over_persistent_thread_plain_saver_keeps_deadline(
    backend: Backend, raw: redis.Redis, make: Maker
) -> None:
    w = await make(backend, {"default_ttl": LONG})
    p = await make(backend)
    f = await fill(p, "persistent")
    assert_persistent(raw, "persistent")
    t0 = server_ms(raw)
    f.checkpoints.append(("sub:2", await put_one(w, "persistent", "sub:2")))
    t1 = server_ms(raw)
    assert thread_keys(raw, "persistent") == expected_keys(f)
    assert_deadline_between(raw, "persistent", t0, t1, LONG)  # every key, the old ones too

    e = await fill(w, "expiring")
    d = shared_deadline(raw, "expiring")
    before = thread_keys(raw, "expiring")
    c = await put_one(p, "expiring", parent=e.latest)
    e.checkpoints += [("", c), ("sub:3", await put_one(p, "expiring", "sub:3"))]
    await write(p, e, "", c, "task-p")
    orphan = new_id()
    await write(p, e, "sub:1", orphan, "task-orphan")
    e.orphans.append(("sub:1", orphan))
    assert thread_keys(raw, "expiring") == expected_keys(e)
    assert len(expected_keys(e) - before) == 8
    assert shared_deadline(raw, "expiring") == d  # the new keys got it, nothing moved


async def test_pin_and_unpin(backend: Backend, raw: redis.Redis, make: Maker) -> None:
    w = await make(backend, {"default_ttl": LONG})
    r = await make(backend, {"default_ttl": LONG, "refresh_on_read": True})
    p = await make(backend)
    assert await w.pin("missing") is False
    assert await w.unpin("missing") is False
    assert await p.pin("missing") is False
    assert raw.keys("*") == [b"checkpoint_meta"]

    a = await fill(w, "a")
    assert await w.pin("a") is True
    th = KS.thread("a")
    assert raw.get(th.pin) == b"1"
    assert thread_keys(raw, "a") == expected_keys(a) | {th.pin.encode()}
    assert_persistent(raw, "a")  # the marker too
    # writes by a saver with a TTL, and refreshing reads, leave it pinned
    c = await put_one(w, "a", parent=a.latest)
    await w.put_writes(cfg("a", "", c), [("v", 1)], "task-x")
    await put_one(w, "a", "sub:9")
    await w.put_writes(cfg("a", "sub:9", new_id()), [("v", 1)], "task-y")
    assert (await r.get(cfg("a"))) is not None
    assert await r.list(cfg("a"))
    assert_persistent(raw, "a")
    assert raw.get(th.pin) == b"1"
    assert await w.pin("a") is True  # again: still pinned
    assert_persistent(raw, "a")
    # unpinned by a saver with a TTL: ttl from now
    t0 = server_ms(raw)
    assert await w.unpin("a") is True
    t1 = server_ms(raw)
    assert not raw.exists(th.pin)
    assert_deadline_between(raw, "a", t0, t1, LONG)

    # pinned and unpinned by a saver without TTL: it stays persistent until a TTL saver writes
    await fill(w, "b")
    assert await p.pin("b") is True
    assert_persistent(raw, "b")
    assert await p.unpin("b") is True
    assert not raw.exists(KS.thread("b").pin)
    assert_persistent(raw, "b")
    await put_one(p, "b")
    assert_persistent(raw, "b")
    t0 = server_ms(raw)
    await put_one(w, "b")
    t1 = server_ms(raw)
    assert_deadline_between(raw, "b", t0, t1, LONG)

    # a saver with TTL copying into a pinned thread leaves it pinned
    await fill(w, "pc")
    assert await w.pin("pc")
    await w.copy_thread("b", "pc")
    assert len(await w.list(cfg("pc", ns=None))) == 3 + 5
    assert raw.get(KS.thread("pc").pin) == b"1"
    assert_persistent(raw, "pc")

    # deleting a pinned thread, or an expiring one, leaves nothing behind
    await fill(w, "c")
    assert await w.pin("c")
    await fill(w, "d")
    await w.delete_thread("c")
    await p.delete_thread("d")
    assert_gone(raw, "c")
    assert_gone(raw, "d")
    assert await w.pin("c") is False
    assert not raw.exists(KS.thread("c").pin)


# -- the cross-thread indexes ---------------------------------------------------------------


async def test_list_none_skips_and_cleans_expired_threads(
    real_backend: Backend, rraw: redis.Redis, make: Maker
) -> None:
    raw = rraw
    w = await make(real_backend, {"default_ttl": HALF})
    p = await make(real_backend)
    live = [await put_one(p, "live", run="run-x", step=i) for i in range(2)]
    await fill(w, "dead", run="run-x")
    await fill(w, "dead-owner", run="run-y")
    await w.put_writes(cfg("dead-writes", "", new_id()), [("v", 1)], "task")
    dying = ("dead", "dead-owner", "dead-writes")
    await sleep_past(raw, max(shared_deadline(raw, t) for t in dying))
    before = {t: mentions(raw, t) for t in dying}
    assert len(before["dead"]) > 3 and len(before["dead-owner"]) > 3

    # a filter on an indexed value walks that value's index: the thread goes, entirely
    assert await w.list(None, filter={"owner": "dead-owner"}) == []
    assert_gone(raw, "dead-owner")
    assert mentions(raw, "dead") == before["dead"]
    # the newest members of the cross-thread index are the expired thread's: skipped, removed
    assert refs(await w.list(None, limit=1)) == [("live", "", live[1])]
    assert_gone(raw, "dead")
    assert refs(await w.list(None)) == [("live", "", live[1]), ("live", "", live[0])]
    assert refs(await w.list(None, filter={"run_id": "run-x"})) == [
        ("live", "", live[1]),
        ("live", "", live[0]),
    ]
    # a writes-only thread has no index entries: the sweep takes its expiry-index member
    assert mentions(raw, "dead-writes") == [(EXP, b"dead-writes")]
    assert await w.sweep() == 0
    assert_gone(raw, "dead-writes")
    assert raw.smembers(KS.run_key("run-x")) == {f"live\n\n{c}".encode() for c in live}
    assert not raw.exists(KS.run_key("run-y"))


async def test_sweep_removes_every_trace_of_expired_threads(
    real_backend: Backend, rraw: redis.Redis, make: Maker
) -> None:
    raw = rraw
    w = await make(real_backend, {"default_ttl": HALF})
    p = await make(real_backend)
    keep = await make(real_backend, {"default_ttl": LONG})
    many = [f"many-{i}" for i in range(20)]  # more than one sweep call takes (16)
    for t in many:
        await put_one(w, t, run="run-many")
    await fill(w, "big", run="run-big")
    await fill(p, "src", run="run-src")
    t0 = server_ms(raw)
    await w.copy_thread("src", "copy")  # a saver with TTL: the copy expires
    t1 = server_ms(raw)
    assert_deadline_between(raw, "copy", t0, t1, HALF)
    await fill(w, "tgt", run="run-tgt")
    d_tgt = shared_deadline(raw, "tgt")
    await p.copy_thread("src", "tgt")  # without TTL: the copied keys get the target's deadline
    assert shared_deadline(raw, "tgt") == d_tgt
    assert len(await p.list(cfg("tgt", ns=None))) == 6
    assert_persistent(raw, "src")
    await put_one(keep, "live", run="run-many")
    expired = [*many, "big", "copy", "tgt"]
    await sleep_past(raw, max(shared_deadline(raw, t) for t in expired))

    for t in expired:
        th = KS.thread(t)
        assert expiring_keys(raw, t) == set(), t
        assert raw.exists(th.xref) and raw.zscore(EXP, th.tag) is not None, t
    ledger = sum(raw.hlen(KS.thread(t).xref) for t in expired)
    assert ledger == 20 + 3 + 3 + 6
    kept = {t: mentions(raw, t) for t in ("src", "live")}
    assert await w.sweep() == ledger
    for t in expired:
        assert_gone(raw, t)
    assert {t: mentions(raw, t) for t in kept} == kept
    assert raw.zrange(EXP, 0, -1) == [b"live"]
    assert not raw.exists(KS.run_key("run-big"), KS.run_key("run-tgt"))
    assert len(raw.smembers(KS.run_key("run-src"))) == 3
    assert await w.sweep() == 0
    assert threads_of(await w.list(None)) == {"src", "live"}
    assert len(await w.list(None)) == 4


async def test_each_put_sweeps_one_due_thread(
    real_backend: Backend, rraw: redis.Redis, make: Maker
) -> None:
    raw = rraw
    w = await make(real_backend, {"default_ttl": HALF})
    p = await make(real_backend)
    await fill(w, "old")
    await sleep_past(raw, shared_deadline(raw, "old"))
    assert mentions(raw, "old")
    assert raw.exists(KS.thread("old").xref)
    await put_one(p, "other")
    assert_gone(raw, "old")
    assert threads_of(await w.list(None)) == {"other"}


async def test_writes_into_an_expired_thread(
    real_backend: Backend, rraw: redis.Redis, make: Maker
) -> None:
    """A put or put_writes into an expired, not yet swept thread starts it afresh: the old
    checkpoints' index entries go, the new keys get a deadline."""
    raw = rraw
    w = await make(real_backend, {"default_ttl": HALF})
    await fill(w, "bystander")  # first: the earliest deadline, swept by the next put
    await fill(w, "again")
    await fill(w, "writes-only")
    await sleep_past(raw, max(shared_deadline(raw, t) for t in ("again", "writes-only")))
    assert mentions(raw, "bystander")

    t0 = server_ms(raw)
    new = await put_one(w, "again", value="fresh")
    t1 = server_ms(raw)
    assert_deadline_between(raw, "again", t0, t1, HALF)
    tup = await w.get(cfg("again"))
    assert tup is not None and tup.checkpoint["channel_values"] == {"v": "fresh"}
    assert tup.parent_config is None and tup.pending_writes == []
    assert refs(await w.list(cfg("again", ns=None))) == [("again", "", new)]
    th = KS.thread("again")
    assert raw.hkeys(th.xref) == [f"\n{new}".encode()]
    found = mentions(raw, "again")
    assert (KS.all_index.encode(), f"{new}\nagain\n".encode()) in found
    assert [m for k, m in found if k != EXP and new.encode() not in m.split(b"\n")] == []
    assert_gone(raw, "bystander")  # the put swept the one due thread

    cid = new_id()
    t0 = server_ms(raw)
    await w.put_writes(cfg("writes-only", "", cid), [("v", "late")], "task-late")
    t1 = server_ms(raw)
    assert_deadline_between(raw, "writes-only", t0, t1, HALF)
    th = KS.thread("writes-only")
    assert thread_keys(raw, "writes-only") == {
        k.encode() for k in (th.ns_set, th.wo, f"{th.cp}:{cid}", f"{th.write}:{cid}:task-late")
    }
    assert mentions(raw, "writes-only") == [(EXP, b"writes-only")]
    assert await w.get(cfg("writes-only")) is None
    assert await w.list(cfg("writes-only")) == []
    # its checkpoint comes later: the writes are its pending writes
    await put_one(w, "writes-only", cid=cid)
    tup = await w.get(cfg("writes-only"))
    assert tup is not None and tup.pending_writes == [("task-late", "v", "late")]
    shared_deadline(raw, "writes-only")
    assert threads_of(await w.list(None)) == {"again", "writes-only"}


async def test_copy_into_an_expired_thread_drops_its_leftovers(
    real_backend: Backend, rraw: redis.Redis, make: Maker
) -> None:
    """Like put and put_writes, a copy into an expired thread that the sweep has not reached
    yet starts it afresh: the expired checkpoints' ledger fields and index entries go."""
    raw = rraw
    w = await make(real_backend, {"default_ttl": HALF})
    p = await make(real_backend)
    await fill(w, "tgt-ttl", run="run-old")
    await fill(w, "tgt-plain", run="run-old")
    src = await fill(p, "src", run="run-src")
    targets = ("tgt-ttl", "tgt-plain")
    await sleep_past(raw, max(shared_deadline(raw, t) for t in targets))
    for t in targets:
        assert mentions(raw, t)  # the leftovers wait for the sweep
    await w.copy_thread("src", "tgt-ttl")
    await p.copy_thread("src", "tgt-plain")
    copied = {c.encode() for _, c in src.checkpoints}
    ledger = {f"{enc(ns)}\n{c}".encode() for ns, c in src.checkpoints}
    for t in targets:
        found = mentions(raw, t)
        stale = [(k, m) for k, m in found if k != EXP and not copied & set(m.split(b"\n"))]
        assert stale == [], t
        assert set(raw.hkeys(KS.thread(t).xref)) == ledger, t
    assert not raw.exists(KS.run_key("run-old"))
    shared_deadline(raw, "tgt-ttl")
    assert_persistent(raw, "tgt-plain")  # and no stale expiry-index member
    await w.sweep()
    for t in targets:
        assert len(await w.list(cfg(t, ns=None))) == 3
        assert set(raw.hkeys(KS.thread(t).xref)) == ledger, t


async def test_delete_for_runs_after_expiry_resurrects_nothing(
    real_backend: Backend, rraw: redis.Redis, make: Maker
) -> None:
    raw = rraw
    w = await make(real_backend, {"default_ttl": HALF})
    p = await make(real_backend)
    await fill(w, "gone", run="shared")
    await fill(w, "deleted", run="run-d")
    await fill(w, "copied", run="run-c")
    await put_one(p, "kept", run="shared")
    other = await put_one(p, "kept", run="other")
    dying = ("gone", "deleted", "copied")
    await sleep_past(raw, max(shared_deadline(raw, t) for t in dying))
    for t in dying:
        assert expiring_keys(raw, t) == set()
        assert mentions(raw, t)

    await w.delete_for_runs(["shared"])
    assert thread_keys(raw, "gone") == set()
    assert mentions(raw, "gone") == []
    assert not raw.exists(KS.run_key("shared"))
    assert refs(await p.list(cfg("kept"))) == [("kept", "", other)]
    assert await w.get(cfg("gone")) is None
    # delete_thread of an expired thread takes its leftovers; copying from one copies nothing
    await p.delete_thread("deleted")
    assert_gone(raw, "deleted")
    await w.copy_thread("copied", "copy")
    assert thread_keys(raw, "copy") == set() and mentions(raw, "copy") == []
    assert await w.sweep() == 3
    for t in dying:
        assert_gone(raw, t)


# -- real graphs ----------------------------------------------------------------------------


class Chat(TypedDict):
    messages: Annotated[list[str], operator.add]


class Approval(TypedDict):
    request: str
    answer: str


def chat_graph(saver: Any) -> Any:
    def reply(state: Chat) -> dict[str, Any]:
        return {"messages": [f"echo:{state['messages'][-1]}"]}

    b = StateGraph(Chat)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    b.add_edge("reply", END)
    return b.compile(checkpointer=saver)


def approval_graph(saver: Any) -> Any:
    def ask(state: Approval) -> dict[str, Any]:
        return {"answer": interrupt(state["request"])}

    b = StateGraph(Approval)
    b.add_node("ask", ask)
    b.add_edge(START, "ask")
    b.add_edge("ask", END)
    return b.compile(checkpointer=saver)


async def invoke(kind: str, graph: Any, inp: Any, config: Any) -> Any:
    if kind == "sync":
        return graph.invoke(inp, config)
    return await graph.ainvoke(inp, config)


async def state_values(kind: str, graph: Any, config: Any) -> Any:
    if kind == "sync":
        return graph.get_state(config).values
    return (await graph.aget_state(config)).values


async def test_graph_conversation_kept_by_reads_interrupt_kept_by_pin(
    kind: str, real_backend: Backend, rraw: redis.Redis, make: Maker
) -> None:
    raw = rraw
    x = await make(real_backend, {"default_ttl": READ_TTL, "refresh_on_read": True})
    chat, approval = chat_graph(x.saver), approval_graph(x.saver)
    read, idle, held = cfg("chat-read"), cfg("chat-idle"), cfg("approval")
    for c in (read, idle):
        assert await invoke(kind, chat, {"messages": ["hi"]}, c) == {"messages": ["hi", "echo:hi"]}
    out = await invoke(kind, approval, {"request": "deploy?"}, held)
    assert out["__interrupt__"][0].value == "deploy?"
    assert await x.pin("approval")
    assert_persistent(raw, "approval")
    d0 = {t: shared_deadline(raw, t) for t in ("chat-read", "chat-idle")}

    await sleep_until(raw, min(d0.values()) - READ_MARGIN_MS)
    assert await state_values(kind, chat, read) == {"messages": ["hi", "echo:hi"]}
    assert shared_deadline(raw, "chat-read") > d0["chat-read"] + 100
    await sleep_past(raw, max(d0.values()))

    assert await state_values(kind, chat, idle) == {}
    assert expiring_keys(raw, "chat-idle") == set()
    again = await invoke(kind, chat, {"messages": ["again"]}, read)
    assert again == {"messages": ["hi", "echo:hi", "again", "echo:again"]}
    fresh_start = await invoke(kind, chat, {"messages": ["again"]}, idle)
    assert fresh_start == {"messages": ["again", "echo:again"]}
    done = await invoke(kind, approval, Command(resume="yes"), held)
    assert done == {"request": "deploy?", "answer": "yes"}
    assert_persistent(raw, "approval")
    for t in ("chat-read", "chat-idle"):
        shared_deadline(raw, t)
    # the idle thread's old checkpoints left every index when it was written again
    listed = [t for t in await x.list(None) if t.config["configurable"]["thread_id"] == "chat-idle"]
    assert refs(listed) == refs(await x.list(cfg("chat-idle")))
    assert raw.hlen(KS.thread("chat-idle").xref) == len(listed)


async def test_shallow_saver_threads_expire(
    kind: str, real_backend: Backend, rraw: redis.Redis, make: Maker
) -> None:
    raw = rraw
    x = await make(real_backend, {"default_ttl": HALF}, shallow=True)
    chat = chat_graph(x.saver)
    for m in ("a", "b", "c"):
        await invoke(kind, chat, {"messages": [m]}, cfg("shallow"))
    await invoke(kind, chat, {"messages": ["p"]}, cfg("shallow-pinned"))
    assert await x.pin("shallow-pinned")
    th = KS.thread("shallow")
    assert raw.zcard(th.idx) == 1
    assert raw.hlen(th.xref) == 1
    assert len(mentions(raw, "shallow")) > 1
    await sleep_past(raw, shared_deadline(raw, "shallow"))

    assert await state_values(kind, chat, cfg("shallow")) == {}
    assert await x.sweep() == 1
    assert_gone(raw, "shallow")
    assert await state_values(kind, chat, cfg("shallow-pinned")) == {"messages": ["p", "echo:p"]}
    assert_persistent(raw, "shallow-pinned")
    assert threads_of(await x.list(None)) == {"shallow-pinned"}
