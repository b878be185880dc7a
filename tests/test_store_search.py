"""RedisStore's search (lua/store/store_search-0.lua driven by langgraph.store.redis.ops): TTL
refresh, the expiry mirror, the script's filter verdicts, robustness, and query results.

What is checked:
- a refreshing search re-arms exactly the items it returns (their PEXPIRETIME moves, no other
  item's does), in the round trip that reads them: one EVALSHA for a page whose every filter
  verdict is sure, a second round trip of store_get calls otherwise; a query search is one round
  trip when it returns every candidate, else two, and a batch of queries shares them;
- the expiry mirror (`check_mirror`, a SCAN of the whole key space): after random puts (TTL on
  and off), deletes, refreshing reads and real expiry, once a reader ran, the index, the vectors
  and the deadlines hold live items only, and each deadline equals its item's PEXPIRETIME; the
  checker itself catches deliberate corruptions;
- the script's filter verdicts (called directly) never contradict InMemoryStore's comparison,
  and are sure where the script promises they are; the results equal InMemoryStore's for pages
  that make the script stop early;
- robustness: items deleted behind the store's back (as maxmemory eviction does), ranked
  among a query's winners, before its page or after it, are never returned and leave no entry;
  a winner deleted, evicted or updated between the search script and the fetch of the winners
  (StoreOps.batch driven by hand) gives InMemoryStore's result for the state after the change;
  vectors of other dimensions than the query's raise ValueError;
- query searches over several fields, list paths, index=False items and namespace prefixes
  equal InMemoryStore's; an update keeps no vector of the old value (docs/store.md's difference).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any

import langgraph.store.memory as memory_module
import pytest
import redis
from langgraph.checkpoint.redis.keys import dec
from langgraph.checkpoint.redis.protocol import Eval, RoundTrip
from langgraph.checkpoint.redis.protocol import round_trip_sync as round_trip
from langgraph.checkpoint.redis.protocol import text as _str
from langgraph.store.base import GetOp, ListNamespacesOp, Op, PutOp, SearchOp
from langgraph.store.redis import RedisStore
from langgraph.store.redis.ops import _matches, ns_key

from .conftest import Backend
from .test_round_trips import Monitor
from .test_store import (
    _STRICT,
    DIMS,
    INDEX,
    SECOND,
    Driver,
    Make,
    Ref,
    _close,
    _lenient,
    _open,
    assert_search,
    both,
    embed,
    sends,
)

LONG = 10 * SECOND  # a TTL nothing reaches during a test

# -- helpers ---------------------------------------------------------------------------------


@asynccontextmanager
async def opened(backend: Backend, kind: str, **kwargs: Any) -> AsyncIterator[Driver]:
    store = await _open(backend, kind, **kwargs)
    try:
        yield Driver(store, kind)
    finally:
        await _close(store)


@pytest.fixture
async def stores(backend: Backend, kind: str) -> AsyncIterator[Make]:
    """Opens set-up stores of `kind` on a flushed `backend` (test_store's `make`, closed the
    same way)."""
    async with AsyncExitStack() as stack:

        async def factory(**kwargs: Any) -> Driver:
            return await stack.enter_async_context(opened(backend, kind, **kwargs))

        yield factory


@contextmanager
def client(backend: Backend) -> Iterator[redis.Redis]:
    c = backend.sync_client()
    try:
        yield c
    finally:
        c.close()


def server_ms(c: redis.Redis) -> int:
    seconds, micros = c.time()
    return int(seconds) * 1000 + int(micros) // 1000


def item_key(store: Any, ns: tuple[str, ...], key: str) -> str:
    return store._ops.item_key(ns_key(ns), key)


def deadlines(c: redis.Redis, store: Any, items: list[tuple[tuple[str, ...], str]]) -> dict:
    """PEXPIRETIME of each item (-1: persistent, -2: missing)."""
    pipe = c.pipeline(transaction=False)
    for ns, key in items:
        pipe.pexpiretime(item_key(store, ns, key))
    return dict(zip(items, pipe.execute(), strict=True))


def ids(found: list[Any]) -> list[tuple[tuple[str, ...], str]]:
    return [(tuple(i.namespace), i.key) for i in found]


def expected_of(ref: Ref, ops: list[Op]) -> list[Any]:
    """The reference's results, with the documented difference `both` applies: a range
    operator on a value it cannot compare is no match (InMemoryStore raises)."""
    memory_module._apply_operator = _lenient
    try:
        return ref.batch(list(ops))
    finally:
        memory_module._apply_operator = _STRICT


async def measure(url: str, fn: Callable[[], Awaitable[Any]]) -> tuple[list[str], int, Any]:
    """The server's verbs (MONITOR) and the client's packets (round trips) of one call."""
    with Monitor(url) as m, sends() as count:
        out = await fn()
    return m.verbs(), len(count), out


# -- the expiry mirror -----------------------------------------------------------------------


def mirror_problems(
    c: redis.Redis, prefix: str = "store", since: int | None = None
) -> tuple[list[str], dict[str, int]]:
    """Every violation of the mirror invariant in the key space (SCAN), and what was seen.

    - every index member is a live item, whose seq (field s) is its score;
    - every vector belongs to a live item that is in the index;
    - every deadline is a live item's, equal to the item's PEXPIRETIME;
    - every live item is in the index; one with field t has a deadline and 0 <= PTTL <= t, one
      without has PTTL -1 and no deadline;
    - where the server's vector index keeps documents (prefix_fv:{N}:K:i, after c1b3454), each
      belongs to a live item in the index and expires with it;
    - a namespace is listed (prefix_ns) exactly while its index holds a key, and one with a
      deadline is due (prefix_nsdue) no later than its earliest deadline.

    `since`: the server's time (ms) just before the reader ran. An item that expired on its own
    after that (its deadline in (since, now]) is not a violation: the reader could not know.
    """
    pre = re.escape(prefix)
    item_re = re.compile(rf"^{pre}:\{{([^{{}}]*)\}}:(.*)$", re.S)
    part_re = re.compile(rf"^{pre}_(keys|vec|exp|log):\{{([^{{}}]*)\}}$")
    doc_re = re.compile(rf"^{pre}_fv:\{{([^{{}}]*)\}}:(.*):(\d+)$", re.S)
    global_re = re.compile(rf"^{pre}_\w+$")  # store_ns, store_nsseq, store_seq, ...
    problems: list[str] = []
    scanned: set[tuple[str, str]] = set()
    spaces: set[str] = set()
    docs: list[tuple[str, str, str]] = []
    for raw in c.scan_iter(match=f"{prefix}*", count=1000):
        name = raw.decode()
        if m := item_re.match(name):
            scanned.add((m[1], m[2]))
            spaces.add(m[1])
        elif m := doc_re.match(name):
            docs.append((name, m[1], m[2]))
            spaces.add(m[1])
        elif m := part_re.match(name):
            spaces.add(m[2])
        elif not global_re.match(name):
            problems.append(f"unknown key {name!r}")
    # one atomic snapshot of the per-namespace structures, then one of the items they name
    pipe = c.pipeline(transaction=True)
    pipe.zrange(f"{prefix}_ns", 0, -1)
    pipe.zrange(f"{prefix}_nsdue", 0, -1, withscores=True)
    listed, due = pipe.execute()  # (read again below, in the snapshot)
    order = sorted(spaces | {_str(n) for n in listed} | {_str(n) for n, _ in due})
    pipe = c.pipeline(transaction=True)
    pipe.zrange(f"{prefix}_ns", 0, -1)
    pipe.zrange(f"{prefix}_nsdue", 0, -1, withscores=True)
    for ns in order:
        pipe.zrange(f"{prefix}_keys:{{{ns}}}", 0, -1, withscores=True)
        pipe.hkeys(f"{prefix}_vec:{{{ns}}}")
        pipe.zrange(f"{prefix}_exp:{{{ns}}}", 0, -1, withscores=True)
    listed, due, *got = pipe.execute()
    index: dict[str, dict[str, float]] = {}
    vectors: dict[str, set[str]] = {}
    exp: dict[str, dict[str, float]] = {}
    for n, ns in enumerate(order):
        index[ns] = {_str(k): s for k, s in got[3 * n]}
        vectors[ns] = {_str(k) for k in got[3 * n + 1]}
        exp[ns] = {_str(k): s for k, s in got[3 * n + 2]}
    named = scanned | {(ns, k) for _, ns, k in docs}
    for ns in order:
        named |= {(ns, k) for k in (*index[ns], *vectors[ns], *exp[ns])}
    names = sorted(named)
    pipe = c.pipeline(transaction=True)
    for ns, k in names:
        key = f"{prefix}:{{{ns}}}:{k}"
        pipe.hgetall(key)
        pipe.pexpiretime(key)
        pipe.pttl(key)
    for name, _, _ in docs:
        pipe.pexpiretime(name)
    pipe.time()
    got = pipe.execute()
    doc_deadlines = got[3 * len(names) : -1]
    now = int(got[-1][0]) * 1000 + int(got[-1][1]) // 1000
    live: dict[tuple[str, str], tuple[dict[str, str], int, int]] = {}
    for n, name in enumerate(names):
        h, pexpiretime, pttl = got[3 * n : 3 * n + 3]
        if h and -2 not in (pexpiretime, pttl):  # (-2: it expired during the snapshot)
            fields = {_str(f): v if f == b"v" else _str(v) for f, v in h.items()}
            live[name] = (fields, pexpiretime, pttl)

    def gone(ns: str, k: str, what: str) -> None:
        deadline = exp.get(ns, {}).get(k)
        if since is not None and deadline is not None and since < deadline <= now:
            return  # expired on its own after the reader
        problems.append(f"{what}: {ns!r} {k!r} has no live item")

    seen = {"items": len(live), "ttl": 0, "persistent": 0, "vectors": 0}
    for ns in order:
        for k, score in index[ns].items():
            if (ns, k) not in live:
                gone(ns, k, "index")
            elif live[(ns, k)][0].get("s") != str(int(score)):
                problems.append(f"index: {ns!r} {k!r} score {score} is not its seq")
        for k in vectors[ns]:
            if (ns, k) not in live:
                gone(ns, k, "vectors")
            elif k not in index[ns]:
                problems.append(f"vectors: {ns!r} {k!r} is not in the index")
            else:
                seen["vectors"] += 1
        for k, score in exp[ns].items():
            if (ns, k) not in live:
                gone(ns, k, "deadlines")
            elif live[(ns, k)][1] != int(score):
                problems.append(
                    f"deadlines: {ns!r} {k!r} at {int(score)}, its key at {live[(ns, k)][1]}"
                )
    listed_set, due_at = {_str(n) for n in listed}, {_str(n): s for n, s in due}
    for ns in order:
        if ns in listed_set and not index[ns]:
            problems.append(f"listing: {ns!r} is listed with an empty index")
        if index[ns] and ns not in listed_set:
            problems.append(f"listing: {ns!r} holds keys and is not listed")
        if exp[ns] and due_at.get(ns, float("inf")) > min(exp[ns].values()):
            problems.append(f"due: {ns!r} at {due_at.get(ns)}, its first deadline later")
    for (name, ns, k), at in zip(docs, doc_deadlines, strict=True):
        if at == -2:
            continue  # expired during the snapshot
        if (ns, k) not in live:
            gone(ns, k, f"document {name}")
        elif k not in index[ns]:
            problems.append(f"document {name}: {ns!r} {k!r} is not in the index")
        elif at != live[(ns, k)][1]:
            problems.append(f"document {name}: expires at {at}, {k!r} at {live[(ns, k)][1]}")
    for (ns, k), (fields, pexpiretime, pttl) in live.items():
        if missing := {"y", "v", "c", "u", "s"} - set(fields):
            problems.append(f"item: {ns!r} {k!r} lacks {sorted(missing)}")
        if k not in index.get(ns, {}):
            problems.append(f"item: {ns!r} {k!r} is not in the index")
        if "t" in fields:
            seen["ttl"] += 1
            if k not in exp.get(ns, {}):
                problems.append(f"item: {ns!r} {k!r} has a TTL and no deadline")
            if not 0 <= pttl <= int(fields["t"]):  # 0: its last millisecond
                problems.append(f"item: {ns!r} {k!r} PTTL {pttl}, TTL {fields['t']}")
        else:
            seen["persistent"] += 1
            if pttl != -1 or pexpiretime != -1:
                problems.append(f"item: {ns!r} {k!r} has no TTL but PTTL {pttl}")
            if k in exp.get(ns, {}):
                problems.append(f"item: {ns!r} {k!r} has no TTL but a deadline")
    return problems, seen


def check_mirror(c: redis.Redis, prefix: str = "store", since: int | None = None) -> dict:
    problems, seen = mirror_problems(c, prefix, since)
    assert not problems, problems
    return seen


# -- 1. a refreshing search re-arms what it returns, in the round trip that reads it ---------


def _page_value(i: int) -> dict[str, Any]:
    return {
        "n": i,
        "s": ["apple", "banana", "cherry", "date"][i % 4],
        "f": i / 2,
        "b": i % 2 == 0,
        "z": None,
        "l": [i],
        "d": {"a": i % 3},
        "str": str(i),
        "big": 2**60 + i,
    }


# (filter, limit, offset): every verdict sure, so the script decides and re-arms the page
SURE_PAGES: list[tuple[dict[str, Any] | None, int, int]] = [
    (None, 3, 2),
    (None, 10, 0),
    ({"n": {"$gt": 2}}, 2, 1),
    ({"n": {"$gte": 1, "$lt": 6}}, 3, 0),
    ({"n": 3}, 10, 0),
    ({"n": {"$ne": 3}}, 4, 2),
    ({"n": {"$eq": 4.0}}, 1, 0),
    ({"f": {"$lte": 2.5}}, 10, 1),
    ({"n": {"$gt": "4"}}, 10, 0),  # a range operand is float()'d by the client
    ({"n": {"$gt": "x"}}, 10, 0),  # float("x") refuses: nothing
    ({"b": {"$eq": 1}}, 2, 0),  # True == 1
    ({"b": {"$lt": 1}}, 10, 0),  # float(False) < 1
    ({"z": {"$ne": "x"}}, 3, 1),  # None
    ({"z": {"$gte": 0}}, 3, 0),  # float(None) raises: nothing
    ({"l": {"$ne": 1}}, 3, 0),  # a container
    ({"d": {"$gt": 0}}, 3, 0),
    ({"s": "apple"}, 10, 0),
    ({"s": {"$ne": "apple"}}, 3, 1),
    ({"big": {"$gt": 3}}, 2, 5),  # a big int under a range: float() on both sides
    ({"n": {"$lt": 7}, "s": {"$ne": "date"}}, 4, 1),
    ({"missing": {"$ne": 1}}, 2, 3),
]
# unsure verdicts: the client decides, then re-arms its page with store_get
UNSURE_PAGES: list[tuple[dict[str, Any], int, int]] = [
    ({"str": {"$gt": 3}}, 3, 0),  # a string under a range: Python's float() decides
    ({"str": {"$lte": "2"}}, 10, 1),
    ({"big": {"$ne": 3}}, 2, 1),  # an int beyond 2**53 under $ne
    ({"big": 2**60 + 4}, 10, 0),  # ... and an operand beyond 2**53
    ({"d": {"a": 1}}, 10, 0),  # a nested filter
    ({"b": True}, 2, 0),  # a bool operand
    ({"n": {"$gte": 2}, "d": {"a": {"$ne": 0}}}, 2, 1),
]
PAGE_KEYS = [f"p{i}" for i in range(8)]
PAGE_PERSISTENT = {"p6", "p7"}  # put without a TTL


async def test_page_search_rearms_its_page_in_its_round_trip(
    real_backend: Backend, kind: str
) -> None:
    url = real_backend.url
    assert url
    ns = ("pg",)
    async with opened(real_backend, kind, ttl={"default_ttl": LONG}) as d:
        ref = Ref()
        for i, key in enumerate(PAGE_KEYS):
            ttl = None if key in PAGE_PERSISTENT else LONG
            await d.call("put", ns, key, _page_value(i), ttl=ttl)
            ref.batch([PutOp(ns, key, _page_value(i))])
        everything = [(ns, k) for k in PAGE_KEYS]
        with client(real_backend) as c:
            for flt, limit, offset in [*SURE_PAGES, *UNSURE_PAGES]:
                sure = (flt, limit, offset) in SURE_PAGES
                ctx = (flt, limit, offset)
                before = deadlines(c, d.store, everything)
                time.sleep(0.003)  # the server's clock moves: a re-armed deadline is later
                verbs, trips, got = await measure(
                    url,
                    lambda f=flt, lim=limit, off=offset: d.call(
                        "search", ns, filter=f, limit=lim, offset=off
                    ),
                )
                [expected] = expected_of(ref, [SearchOp(ns, flt, limit, offset)])
                assert_search(got, expected, ctx)
                after = deadlines(c, d.store, everything)
                returned = set(ids(got))
                armed = {i for i in returned if i[1] not in PAGE_PERSISTENT}
                moved = {i for i in everything if after[i] != before[i]}
                assert moved == armed, (ctx, moved, armed)
                assert all(after[i] > before[i] for i in moved), ctx
                assert all(after[(ns, k)] == -1 for k in PAGE_PERSISTENT), ctx
                if sure:
                    assert verbs == ["EVALSHA"] and trips == 1, (ctx, verbs, trips)
                else:
                    assert armed, ctx  # the case is meant to re-arm something
                    assert verbs == ["EVALSHA"] * (1 + len(armed)), (ctx, verbs)
                    assert trips == 2, (ctx, trips)
            # without refresh: the same single call, and nothing moves
            for flt, limit, offset in [SURE_PAGES[0], UNSURE_PAGES[0]]:
                before = deadlines(c, d.store, everything)
                time.sleep(0.003)
                verbs, trips, got = await measure(
                    url,
                    lambda f=flt, lim=limit, off=offset: d.call(
                        "search", ns, filter=f, limit=lim, offset=off, refresh_ttl=False
                    ),
                )
                assert got and verbs == ["EVALSHA"] and trips == 1, (flt, verbs, trips)
                assert deadlines(c, d.store, everything) == before, flt
            check_mirror(c)
    # refresh_on_read=False in the config: a plain search re-arms nothing either
    async with opened(real_backend, kind, ttl={"default_ttl": LONG, "refresh_on_read": False}) as d:
        with client(real_backend) as c:
            before = deadlines(c, d.store, everything)
            time.sleep(0.003)
            assert len(await d.call("search", ns, limit=3)) == 3
            assert deadlines(c, d.store, everything) == before


QNS = [("q", "a"), ("q", "b")]
QTEXTS = [
    "red apple",
    "ocean wave",
    "green forest",
    "blue ocean",
    "red wave",
    "quantum lecture",
    "apple forest",
]


async def _query_store(d: Driver, ref: Ref) -> list[tuple[tuple[str, ...], str]]:
    everything = []
    for n, ns in enumerate(QNS):
        for i, text in enumerate(QTEXTS[: 7 - 2 * n]):
            key = f"k{i}"
            value = {"text": text, "n": i, "meta": {"x": i % 2}}
            ttl = None if i == 3 else LONG  # one persistent item per namespace
            await d.call("put", ns, key, value, ttl=ttl)
            ref.batch([PutOp(ns, key, value)])
            everything.append((ns, key))
    return everything


# (op, round trips): one when the script returns every candidate (offset 0, at most limit of
# them, every verdict sure); else the script's vectors, then a store_get per returned item
QUERIES: list[tuple[SearchOp, int]] = [
    (SearchOp(("q", "a"), query="red apple", limit=10), 1),
    (SearchOp(("q",), query="ocean", limit=12), 1),
    (SearchOp(("q", "a"), query="red apple", limit=7), 1),  # exactly limit candidates
    (SearchOp(("q", "a"), query="red apple", limit=3), 2),
    (SearchOp(("q", "a"), query="forest", limit=10, offset=1), 2),
    (SearchOp(("q",), query="wave", limit=4, offset=2), 2),
    (SearchOp(("q", "a"), query="apple", filter={"n": {"$lt": 3}}, limit=10), 1),
    (SearchOp(("q", "a"), query="apple", filter={"n": {"$lt": 5}}, limit=3), 2),
    (SearchOp(("q", "a"), query="apple", filter={"meta": {"x": 1}}, limit=10), 2),  # unsure
    (SearchOp(("q", "b"), query="apple", filter={"n": {"$gt": 99}}, limit=10), 1),  # nothing
]


async def test_query_search_rearms_its_winners_in_its_round_trips(
    real_backend: Backend, kind: str
) -> None:
    url = real_backend.url
    assert url
    async with opened(real_backend, kind, index=INDEX, ttl={"default_ttl": LONG}) as d:
        ref = Ref(index=INDEX)
        everything = await _query_store(d, ref)
        persistent = {(ns, "k3") for ns in QNS}
        # the counts are the scanning path's: a server vector index (after c1b3454, the
        # stack lane) answers a query without a filter in one call of its own (store_knn)
        knn = getattr(d.store._ops, "knn", False)
        with client(real_backend) as c:

            async def run(ops: list[SearchOp]) -> tuple[list[str], int, list[Any]]:
                """Runs a batch; returns its verbs and round trips, or ([], 0) when they are
                not the scanning path's."""
                before = deadlines(c, d.store, everything)
                time.sleep(0.003)
                verbs, trips, got = await measure(url, lambda: d.batch(list(ops)))
                after = deadlines(c, d.store, everything)
                expected = expected_of(ref, list(ops))
                returned: set[Any] = set()
                for op, g, x in zip(ops, got, expected, strict=True):
                    assert_search(g, x, op)
                    returned |= set(ids(g))
                moved = {i for i in everything if after[i] != before[i]}
                if ops[0].refresh_ttl:
                    assert moved == returned - persistent, (ops, moved, returned)
                    assert all(after[i] > before[i] for i in moved)
                else:
                    assert not moved, ops
                if knn and any(op.query and not op.filter for op in ops):
                    return [], 0, got
                return verbs, trips, got

            for op, expected_trips in QUERIES:
                verbs, trips, got = await run([op])
                fetched = 0 if expected_trips == 1 else len(got[0])
                if expected_trips == 2 and op.offset:
                    # the items ranked before the page are read again too (not re-armed): each
                    # must still be there, or the page would be off by the gap it leaves
                    head = SearchOp(
                        op.namespace_prefix, query=op.query, filter=op.filter, limit=op.offset
                    )
                    (before,) = expected_of(ref, [head])
                    fetched += sum(1 for it in before if it.score is not None)
                assert trips in (0, expected_trips), (op, trips)
                assert not trips or verbs == ["EVALSHA"] * (1 + fetched), (op, verbs)
            # no refresh: the same calls, nothing moves
            op = SearchOp(("q", "a"), query="red apple", limit=3, refresh_ttl=False)
            verbs, trips, got = await run([op])
            assert trips in (0, 2) and verbs in ([], ["EVALSHA"] * 4), (verbs, trips)
            # several queries in one batch share their round trips
            big = [
                SearchOp(("q",), query="red", limit=2),
                SearchOp(("q", "a"), query="ocean", limit=3, offset=1),
                SearchOp(("q", "b"), query="forest", limit=1),
            ]
            verbs, trips, got = await run(big)
            assert trips in (0, 2), trips
            # 3 scans, 2 + 3 + 1 winners, and the 1 item ranked before the offset=1 page
            assert not trips or verbs == ["EVALSHA"] * (3 + 2 + 3 + 1 + 1), verbs
            small = [SearchOp(ns, query="red", limit=10) for ns in QNS]
            verbs, trips, got = await run(small)
            assert trips in (0, 1) and verbs in ([], ["EVALSHA"] * 2), (verbs, trips)
            mixed = [*big, *small, SearchOp(("q",), filter={"n": {"$gt": 2}}, limit=2)]
            verbs, trips, got = await run(mixed)
            assert trips in (0, 2), trips
            assert not trips or verbs == ["EVALSHA"] * (6 + 2 + 3 + 1 + 1), verbs
            assert knn or trips, "the scanning path's counts were checked"
            check_mirror(c)


# -- 2. the expiry mirror --------------------------------------------------------------------

MIRROR_NS = [("m",), ("m", "a"), ("n",)]
MIRROR_WORDS = ["red", "apple", "ocean", "blue", "wave", "forest"]


def _mirror_value(rng: random.Random) -> dict[str, Any]:
    """A fresh text each time (InMemoryStore and ours refuse a batch embedding a text twice)."""
    words = " ".join(rng.sample(MIRROR_WORDS, 2))
    return {"text": f"{words} {rng.random()}", "n": rng.randint(0, 5)}


def _mirror_ttl(rng: random.Random) -> dict[str, Any]:
    """Keyword arguments of a put: the default TTL (0.5 s), none, or 0.3 s / 1 s."""
    return rng.choice([{}, {"ttl": None}, {"ttl": 0.3 * SECOND}, {"ttl": 1.0 * SECOND}])


async def _mirror_scenario(d: Driver, c: redis.Redis, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    totals = {"items": 0, "ttl": 0, "persistent": 0, "vectors": 0, "checks": 0}
    # an item that surely expires before the last check: nothing touches its key, and the
    # readers below cover its namespace without re-arming anything
    await d.call("put", ("s",), "short", {"text": "red"}, ttl=0.3 * SECOND)
    slept = 0.0

    async def reader_then_check() -> None:
        since = server_ms(c)
        r = rng.random()
        if r < 0.4:
            await d.call("search", (), limit=1000, refresh_ttl=False)
        elif r < 0.7:
            await d.call("search", (), query="red wave", limit=1000, refresh_ttl=False)
        else:
            await d.call("list_namespaces")
        seen = check_mirror(c, since=since)
        totals["checks"] += 1
        for k in ("items", "ttl", "persistent", "vectors"):
            totals[k] += seen[k]

    for step in range(40):
        r = rng.random()
        ns, key = rng.choice(MIRROR_NS), f"k{rng.randint(0, 4)}"
        if r < 0.3:
            index = rng.choice([None, None, False])
            await d.call("put", ns, key, _mirror_value(rng), index=index, **_mirror_ttl(rng))
        elif r < 0.4:
            ops: list[Op] = []
            for _ in range(rng.randint(2, 4)):
                ns, key = rng.choice(MIRROR_NS), f"k{rng.randint(0, 4)}"
                value = None if rng.random() < 0.3 else _mirror_value(rng)
                ttl = rng.choice([None, 0.3 * SECOND, 1.0 * SECOND])
                ops.append(PutOp(ns, key, value, ttl=ttl))
            ops.append(SearchOp(("m",), limit=rng.choice([1, 3]), refresh_ttl=True))
            await d.batch(ops)
        elif r < 0.48:
            await d.call("delete", ns, key)
        elif r < 0.56:
            await d.call("get", ns, key, refresh_ttl=rng.random() < 0.7)
        elif r < 0.68:
            await d.call(
                "search",
                rng.choice([("m",), ("m", "a"), ("n",)]),
                filter=rng.choice([None, {"n": {"$gte": 2}}, {"n": {"$ne": 1}}, {"x": {"y": 1}}]),
                limit=rng.choice([1, 2, 10]),
                offset=rng.choice([0, 0, 1]),
                refresh_ttl=rng.random() < 0.7,
            )
        elif r < 0.8:
            await d.call(
                "search",
                rng.choice([("m",), ("m", "a"), ("n",)]),
                query=" ".join(rng.sample(MIRROR_WORDS, 2)),
                filter=rng.choice([None, None, {"n": {"$lt": 4}}]),
                limit=rng.choice([1, 3, 20]),
                offset=rng.choice([0, 0, 2]),
                refresh_ttl=rng.random() < 0.7,
            )
        elif r < 0.85:
            await d.call("list_namespaces")
        elif slept < 0.9:
            pause = rng.choice([0.1, 0.15, 0.25])
            await asyncio.sleep(pause)
            slept += pause
        if step % 7 == 6:
            await reader_then_check()
    if slept < 0.35:
        await asyncio.sleep(0.35 - slept)
    await reader_then_check()
    assert await d.call("search", ("s",), limit=100) == []
    assert not c.exists(item_key(d.store, ("s",), "short"))
    return totals


@pytest.mark.parametrize("seed", range(3))
async def test_expiry_mirror_after_random_sequences(
    real_backend: Backend, kind: str, seed: int
) -> None:
    ttl = {"default_ttl": 0.5 * SECOND}
    async with opened(real_backend, kind, index=INDEX, ttl=ttl) as d:
        with client(real_backend) as c:
            totals = await _mirror_scenario(d, c, seed + (100 if kind == "async" else 0))
    # the checks saw each kind of entry
    assert totals["checks"] >= 5, totals
    assert totals["ttl"] and totals["persistent"] and totals["vectors"], totals


async def test_mirror_checker_catches_corruption(real_backend: Backend) -> None:
    async with opened(real_backend, "sync", index=INDEX, ttl={"default_ttl": LONG}) as d:
        await d.call("put", ("c",), "t1", {"text": "red apple"})
        await d.call("put", ("c",), "t2", {"text": "ocean"})
        await d.call("put", ("c",), "p1", {"text": "blue"}, ttl=None)
        await d.call("put", ("c", "d"), "p2", {"text": "wave"}, ttl=None, index=False)
        st = d.store
        nse = ns_key(("c",))
        index, vec, exp = f"store_keys:{{{nse}}}", f"store_vec:{{{nse}}}", f"store_exp:{{{nse}}}"
        t1, p1 = item_key(st, ("c",), "t1"), item_key(st, ("c",), "p1")
        with client(real_backend) as c:
            seen = check_mirror(c)
            assert seen == {"items": 4, "ttl": 2, "persistent": 2, "vectors": 3}, seen
            t1_at = c.pexpiretime(t1)
            t1_seq = c.hget(t1, "s")
            due = c.zscore("store_nsdue", "c")
            assert due is not None and due <= t1_at

            def undue() -> None:
                c.zadd("store_nsdue", {"c": due})

            corruptions: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
                ("stray", lambda: c.zadd(index, {"stray": 99}), lambda: c.zrem(index, "stray")),
                ("stray", lambda: c.hset(vec, "stray", b"\0" * 64), lambda: c.hdel(vec, "stray")),
                ("stray", lambda: c.zadd(exp, {"stray": t1_at}), lambda: c.zrem(exp, "stray")),
                ("t1", lambda: c.zadd(exp, {"t1": t1_at + 1}), lambda: c.zadd(exp, {"t1": t1_at})),
                ("t1", lambda: c.persist(t1), lambda: c.pexpireat(t1, t1_at)),
                ("t1", lambda: c.zrem(exp, "t1"), lambda: c.zadd(exp, {"t1": t1_at})),
                ("t1", lambda: c.hset(t1, "s", 999), lambda: c.hset(t1, "s", t1_seq)),
                ("t1", lambda: c.zrem(index, "t1"), lambda: c.zadd(index, {"t1": int(t1_seq)})),
                ("p1", lambda: c.pexpire(p1, 60_000), lambda: c.persist(p1)),
                ("p1", lambda: c.zadd(exp, {"p1": t1_at}), lambda: c.zrem(exp, "p1")),
                ("'p2'", lambda: c.hset(vec, "p2", b"\0" * 64), lambda: c.hdel(vec, "p2")),
                ("unknown", lambda: c.set("store_x:{c}", 1), lambda: c.delete("store_x:{c}")),
                ("'x'", lambda: c.zadd("store_ns", {"x": 0}), lambda: c.zrem("store_ns", "x")),
                ("'c'", lambda: c.zrem("store_ns", "c"), lambda: c.zadd("store_ns", {"c": 0})),
                ("'c'", lambda: c.zadd("store_nsdue", {"c": t1_at + 1}), undue),
                ("'c'", lambda: c.zrem("store_nsdue", "c"), undue),
            ]
            for what, corrupt, undo in corruptions:
                corrupt()
                problems, _ = mirror_problems(c)
                assert problems and all(what in p for p in problems), (what, problems)
                undo()
                check_mirror(c)
            # an item gone behind the store's back: its entries are violations, unless its
            # deadline passed after the reader ran (`since`)
            c.delete(t1)
            problems, _ = mirror_problems(c)
            for part in ("index", "vectors", "deadlines"):
                assert any(p.startswith(f"{part}: 'c' 't1'") for p in problems), problems
            assert all("'t1'" in p for p in problems), problems
            assert mirror_problems(c, since=server_ms(c) - 1000)[0] == problems  # not due
            early = server_ms(c) - 5
            c.zadd(exp, {"t1": early})
            c.zadd("store_nsdue", {"c": early})  # as arm() keeps it
            assert mirror_problems(c, since=server_ms(c) - 1000)[0] == []
            assert mirror_problems(c, since=server_ms(c))[0] == problems
            # a reader repairs it
            await d.call("search", ("c",))
            check_mirror(c)


# -- 3. the script's filter verdicts ---------------------------------------------------------

MISSING = object()
GRID_VALUES: list[Any] = [
    0,
    1,
    3,
    5,
    7,
    -3,
    0.5,
    1.0,
    5.0,
    -0.0,
    1e300,
    math.inf,
    -math.inf,
    math.nan,
    2**53 - 1,
    2**53,
    2**53 + 1,
    -(2**53 + 1),
    2**60,
    True,
    False,
    None,
    MISSING,
    "5",
    " 7 ",
    "1e3",
    "abc",
    "é",
    "",
    "1",
    "inf",
    "0x10",  # float() refuses what Lua's tonumber() reads, and the other way round
    "1_000",
    "\u0663",  # float() reads Arabic-Indic digits
    [],
    [1],
    [5],
    {},
    {"a": 1},
]
EQ_OPERANDS: list[Any] = [
    "5",
    " 7 ",
    "1e3",
    "abc",
    "é",
    "",
    "1",
    0,
    1,
    5,
    7,
    -3,
    0.5,
    1.0,
    5.0,
    2**53 - 1,
    2**53 + 1,
    2**60,
    1e300,
    True,
    False,
    None,
]
RANGE_OPERANDS: list[Any] = [0, 1, 3, 5, -3, 0.5, 5.0, 2**53, 2**60, 1e300, "5", "x", " 7 ", "1e3"]
RANGE_OPERANDS += ["inf", True, None]
RANGES = ["$gt", "$gte", "$lt", "$lte"]


def grid_filters() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for x in EQ_OPERANDS:
        out += [{"v": x}, {"v": {"$eq": x}}, {"v": {"$ne": x}}]
    for x in RANGE_OPERANDS:
        out += [{"v": {o: x}} for o in RANGES]
    out += [
        {"v": {"$gt": 0, "$lt": 6}},
        {"v": {"$gte": "1", "$ne": 5}},
        {"v": {"$ne": "abc"}, "w": 1},
        {"v": {"$lt": 6}, "w": {"$ne": 0}},
        {"w": 2, "v": {"$gte": -3}},
        {"v": {"a": 1}},
        {"v": {}},
        {"v": [1]},
        {"v": {"$gt": "5"}, "w": {"$eq": "x"}},
    ]
    return out


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _sure_condition(value: Any, op: str, x: Any) -> bool:
    """Whether the script promises a sure verdict for one condition: top-level values that are
    numbers, booleans, None (or missing) and containers under any operator, strings under
    $eq/$ne; operands that are strings (ranges: float() of them, finite or refused) and numbers
    a double holds exactly (ranges: finite)."""
    if op in ("$eq", "$ne"):
        if isinstance(x, str):
            pass
        elif not (_number(x) and abs(x) < 2**53):
            return False
        return not (_number(value) and not abs(value) < 2**53)
    if isinstance(x, bool) or not (_number(x) or isinstance(x, str)):
        return False
    try:
        f = float(x)
    except ValueError:
        return True  # never true, whatever the value
    return math.isfinite(f) and not isinstance(value, str)


def sure_filter(value: Any, flt: dict[str, Any]) -> bool:
    for key, cond in flt.items():
        got = value.get(key)
        if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
            pairs = list(cond.items())
        elif isinstance(cond, dict | list):
            return False
        else:
            pairs = [("$eq", cond)]
        if not all(_sure_condition(got, op, x) for op, x in pairs):
            return False
    return True


def script_verdicts(c: redis.Redis, store: Any, ns: tuple[str, ...], flt: Any) -> dict[str, int]:
    """store_search-0.lua's verdict on every item of `ns` (1 sure, 2 unsure; absent: dropped),
    walking them all (ARGV[9] = "0")."""
    call = store._ops._search_call(SearchOp(ns, filter=flt, limit=10_000), False)
    args = list(call.args)
    args[8] = "0"
    [reply] = round_trip(c, RoundTrip([Eval(call.script, call.keys, args)]))
    return {dec(_str(row[2])): int(row[8]) for row in reply[0]}


def _grid_value(i: int, v: Any) -> dict[str, Any]:
    return {"w": i % 3} if v is MISSING else {"v": v, "w": i % 3}


def _sure_value(v: Any) -> bool:
    """A value every condition with a plain operand judges surely: no string, no number a
    double does not hold exactly."""
    if isinstance(v, str):
        return False
    return not (_number(v) and not abs(v) < 2**53)


@pytest.mark.one_server
async def test_filter_verdicts_never_contradict_inmemory(backend: Backend) -> None:
    """store_search-0.lua called directly: an item it drops must not match InMemoryStore's
    comparison, one it counts sure must match; in the sure classes every verdict is sure, and
    a refreshing search is one round trip (real servers only: fakeredis has no cmsgpack, so
    every verdict is unsure there)."""
    real = backend.fake is None
    async with opened(backend, "sync") as d:
        values: dict[str, dict[str, Any]] = {}
        for i, v in enumerate(GRID_VALUES):
            await d.call("put", ("g",), f"g{i}", _grid_value(i, v), ttl=LONG)
            if _sure_value(v):
                await d.call("put", ("gs",), f"g{i}", _grid_value(i, v), ttl=LONG)
            got = await d.call("get", ("g",), f"g{i}")
            values[f"g{i}"] = got.value  # as stored: what the client compares
        sure_values = [values[f"g{i}"] for i, v in enumerate(GRID_VALUES) if _sure_value(v)]
        with client(backend) as c:
            sure_seen = one_trip = 0
            for flt in grid_filters():
                verdicts = script_verdicts(c, d.store, ("g",), flt)
                assert set(verdicts) <= set(values), flt
                for key, value in values.items():
                    matches = _matches(value, flt)
                    verdict = verdicts.get(key, 0)
                    ctx = (flt, value, verdict, matches)
                    if verdict == 0:
                        assert not matches, ctx
                    elif verdict == 1:
                        assert matches, ctx
                    else:
                        assert verdict == 2, ctx
                    if real and sure_filter(value, flt):
                        assert verdict == (1 if matches else 0), ctx
                        sure_seen += 1
                if real and all(sure_filter(v, flt) for v in sure_values):
                    await d.call("search", ("gs",), filter=flt, limit=2)  # warm
                    with sends() as trips:
                        await d.call("search", ("gs",), filter=flt, limit=2, offset=1)
                    assert len(trips) == 1, (flt, len(trips))
                    one_trip += 1
            if real:
                check_mirror(c)
                assert sure_seen > 3000 and one_trip > 100, (sure_seen, one_trip)


async def test_filter_grid_results_match_inmemory(stores: Make) -> None:
    """The grid through the store, with pages that make the script stop early: the results
    equal InMemoryStore's (nan left out: it equals nothing, not even itself)."""
    ours, ref = await stores(), Ref()
    ns = ("h",)
    ops: list[Op] = []
    for i, v in enumerate(GRID_VALUES):
        if isinstance(v, float) and math.isnan(v):
            continue
        ops.append(PutOp(ns, f"h{i}", _grid_value(i, v)))
    await both(ours, ref, ops)
    for flt in grid_filters():
        for limit, offset in [(100, 0), (1, 0), (1, 1), (2, 3)]:
            await both(ours, ref, [SearchOp(ns, filter=flt, limit=limit, offset=offset)], flt)


# -- 4. robustness ---------------------------------------------------------------------------

EVICT_TEXTS = [f"{'red apple ' * (6 - i)}ocean" for i in range(6)]  # best match first


async def _evict_setup(d: Driver, ref: Ref, ns: tuple[str, ...]) -> None:
    for i, text in enumerate(EVICT_TEXTS):
        value = {"text": text, "n": i, "meta": {"x": i % 2}}
        await d.call("put", ns, f"e{i}", value)
        ref.batch([PutOp(ns, f"e{i}", value)])


def _entries(c: redis.Redis, ns: tuple[str, ...], key: str) -> list[str]:
    nse = ns_key(ns)
    out = []
    if c.zscore(f"store_keys:{{{nse}}}", key) is not None:
        out.append("index")
    if c.hexists(f"store_vec:{{{nse}}}", key):
        out.append("vectors")
    if c.zscore(f"store_exp:{{{nse}}}", key) is not None:
        out.append("deadlines")
    return out


EVICT_SEARCHES: dict[str, dict[str, Any]] = {
    "all": {"limit": 10},  # every candidate returned: one call
    "top2": {"limit": 2},
    "top1": {"limit": 1},
    "page2": {"limit": 2, "offset": 1},
    "page1": {"limit": 1, "offset": 1},
    "sure-all": {"limit": 10, "filter": {"n": {"$lt": 5}}},
    "sure-top2": {"limit": 2, "filter": {"n": {"$lt": 5}}},
    "unsure-top2": {"limit": 2, "filter": {"meta": {"x": 0}}},  # the client filters
}
EVICTED = {"best": ["e0"], "worst": ["e5"], "best3": ["e0", "e1", "e2"]}


@pytest.mark.parametrize("search", list(EVICT_SEARCHES))
@pytest.mark.parametrize("evicted", list(EVICTED))
async def test_evicted_items_are_never_returned_and_leave_no_entries(
    backend: Backend, evicted: str, search: str
) -> None:
    """Items whose keys were deleted behind the store's back (maxmemory eviction): a query
    search returns InMemoryStore's result without them, and their index, vector and deadline
    entries are gone after it when they ranked among the winners or before the page (those
    the query reads again). One ranked after the page is met by no read, so its entries stay
    until a walk of the namespace meets it: a search without a query here."""
    kwargs = EVICT_SEARCHES[search]
    async with opened(backend, "sync", index=INDEX) as ours:
        ns, ref = ("ev",), Ref(index=INDEX)
        await _evict_setup(ours, ref, ns)
        with client(backend) as c:
            for k in EVICTED[evicted]:
                c.delete(item_key(ours.store, ns, k))
                ref.batch([PutOp(ns, k, None)])
            await both(ours, ref, [SearchOp(ns, query="red apple", **kwargs)], kwargs)
            left = {k: _entries(c, ns, k) for k in EVICTED[evicted]}
            read = evicted != "worst" or "filter" in kwargs or kwargs.get("limit") == 10
            if read:
                assert not any(left.values()), left
            await both(ours, ref, [SearchOp(ns, limit=100)])
            left = {k: _entries(c, ns, k) for k in EVICTED[evicted]}
            assert not any(left.values()), left


async def test_evicted_winner_async(stores: Make, backend: Backend) -> None:
    """The same through both drivers: the best match evicted, a page of two."""
    ours = await stores(index=INDEX)
    ns, ref = ("eva",), Ref(index=INDEX)
    await _evict_setup(ours, ref, ns)
    with client(backend) as c:
        c.delete(item_key(ours.store, ns, "e0"))
        ref.batch([PutOp(ns, "e0", None)])
        await both(ours, ref, [SearchOp(ns, query="red apple", limit=2)])
        assert _entries(c, ns, "e0") == []


def _drive(c: redis.Redis, gen: Any, between: Callable[[RoundTrip], None]) -> Any:
    """Runs a StoreOps batch by hand; `between` runs after the first round trip, before the
    second is sent."""
    reply: Any = None
    done = 0
    try:
        while True:
            rt = gen.send(reply)
            if done == 1:
                between(rt)
            reply = round_trip(c, rt)
            done += 1
    except StopIteration as stop:
        return stop.value


RACE_NS = ("race",)
RACE_CHANGES: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "delete": lambda v: None,
    "evict": lambda v: None,  # DEL of the item key, behind the store's back
    "update_unindexed_field": lambda v: {**v, "extra": 1},
    "update_out_of_the_filter": lambda v: {**v, "n": 9},
    "update_indexed_text": lambda v: {**v, "text": "zzzz"},
}
RACE_SEARCHES: list[dict[str, Any]] = [
    {"limit": 2},
    {"limit": 2, "offset": 1},
    {"limit": 3, "filter": {"n": {"$lt": 5}}},
    {"limit": 2, "filter": {"meta": {"x": 0}}},
]


@pytest.mark.one_server
@pytest.mark.parametrize("change", list(RACE_CHANGES))
def test_winner_changed_between_scan_and_fetch(backend: Backend, change: str) -> None:
    """StoreOps.batch driven by hand: between the search script and the fetch of its winners,
    the first winner is deleted, evicted or updated. The result is InMemoryStore's for the
    state after the change."""
    store = RedisStore(**backend.saver_kwargs(asynchronous=False), index=INDEX)
    try:
        c = store.client
        for n, kwargs in enumerate(RACE_SEARCHES):
            ns, ref = (*RACE_NS, str(n)), Ref(index=INDEX)
            values = {}
            for i, text in enumerate(EVICT_TEXTS):
                values[f"e{i}"] = {"text": text, "n": i, "meta": {"x": i % 2}}
                store.put(ns, f"e{i}", values[f"e{i}"])
                ref.batch([PutOp(ns, f"e{i}", values[f"e{i}"])])
            op = SearchOp(ns, query="red apple", refresh_ttl=False, **kwargs)
            changed: list[str] = []

            def between(
                rt: RoundTrip,
                ns: tuple[str, ...] = ns,
                values: dict[str, Any] = values,
                ref: Ref = ref,
                changed: list[str] = changed,
            ) -> None:
                assert {e.script.name for e in rt.cmds} == {"store_get"}, rt  # type: ignore[union-attr]
                key = dec(rt.cmds[0].args[2])  # type: ignore[union-attr]
                new = RACE_CHANGES[change](values[key])
                if change == "evict":
                    c.delete(item_key(store, ns, key))
                elif new is None:
                    store.delete(ns, key)
                else:
                    store.put(ns, key, new)
                ref.batch([PutOp(ns, key, new)])
                changed.append(key)

            gen = store._ops.batch([op], None, {"red apple": embed(["red apple"])[0]})
            [got] = _drive(c, gen, between)
            assert changed, "the search did not fetch its winners in a second round trip"
            [expected] = expected_of(ref, [op])
            assert_search(got, expected, (change, kwargs))
            if RACE_CHANGES[change](values[changed[0]]) is None:
                assert _entries(c, ns, changed[0]) == [], (change, kwargs)
    finally:
        store.close()
        if store._user_client is not None:
            store._user_client.close()


def _prefix_embed(dims: int) -> Callable[[list[str]], list[list[float]]]:
    def f(texts: list[str]) -> list[list[float]]:
        return [(v * 2)[:dims] for v in embed(texts)]

    return f


@pytest.mark.parametrize("dims", [5, 8, 32, 4])
async def test_vector_dims_mismatch_raises(stores: Make, dims: int) -> None:
    """Vectors stored with 16 dimensions, queried with an embed function of `dims`: every kind
    of query search raises ValueError (InMemoryStore's numpy raises too), none returns scores
    computed from misread vectors."""
    ours = await stores(index=INDEX)
    for i, text in enumerate(["red apple", "ocean wave", "green forest"]):
        await ours.call("put", ("dm",), f"k{i}", {"text": text, "n": i})
    try:
        other = await stores(index={"dims": dims, "embed": _prefix_embed(dims), "fields": ["text"]})
    except ValueError:
        return  # refused at setup() (a server vector index of other dimensions, after c1b3454)
    for kwargs in [{"limit": 10}, {"limit": 1}, {"limit": 10, "offset": 1}]:
        with pytest.raises(ValueError):
            await other.call("search", ("dm",), query="red", **kwargs)
        with pytest.raises(ValueError):
            await other.call("search", ("dm",), query="red", filter={"n": {"$gte": 0}}, **kwargs)


# -- 5. query results equal InMemoryStore's ---------------------------------------------------

MULTI_INDEX = {"dims": DIMS, "embed": embed, "fields": ["title", "body.text", "tags[*]"]}
LIBRARY: list[tuple[tuple[str, ...], str, dict[str, Any], Any]] = [
    (("lib", "a"), "1", {"title": "red apple", "body": {"text": "ocean wave"}, "n": 1}, None),
    (("lib", "a"), "2", {"title": "blue ocean", "tags": ["green", "forest"], "n": 2}, None),
    (("lib", "a"), "3", {"body": {"text": "quantum lecture"}, "tags": ["red"], "n": 3}, None),
    (("lib", "a"), "4", {"title": "red red red", "n": 4}, False),  # scoreless
    (("lib", "a", "x"), "5", {"tags": ["wave", "blue", "apple"], "n": 5}, None),
    (("lib", "b"), "6", {"title": "forest", "body": {"text": "red red"}, "n": 6}, ["body.text"]),
    (("lib", "b"), "7", {"other": "no indexed field", "n": 7}, None),  # scoreless
    (("lib", "b"), "8", {"title": "", "n": 8}, None),  # a zero vector
    (("libx",), "9", {"title": "apple red", "n": 9}, None),  # not under ("lib",); a tie
    (("other",), "10", {"tags": ["ocean", "apples too"], "title": "x", "n": 10}, ["tags[*]"]),
    (("lib",), "11", {"title": "apples", "tags": [], "n": 11}, None),
    (("lib", "a"), "12", {"title": "lecture on waves", "n": 12}, False),  # scoreless
    (("lib", "b"), "13", {"title": "elppa der", "tags": ["der elppa"], "n": 13}, None),  # ties
]
LIB_QUERIES = ["red apple", "ocean", "forest green", "zz", "quantum"]
LIB_PREFIXES: list[tuple[str, ...]] = [(), ("lib",), ("lib", "a"), ("lib", "b"), ("libx",)]
LIB_PREFIXES += [("nope",)]
LIB_FILTERS: list[dict[str, Any] | None] = [None, {"n": {"$gte": 3}}, {"title": {"$ne": "x"}}]
LIB_PAGES = [(10, 0), (3, 0), (2, 1), (3, 2), (1, 6), (2, 20), (20, 3)]


async def test_query_results_match_inmemory(stores: Make) -> None:
    ours, ref = await stores(index=MULTI_INDEX), Ref(index=MULTI_INDEX)
    ops: list[Op] = [PutOp(ns, key, value, index=index) for ns, key, value, index in LIBRARY]
    await both(ours, ref, ops)
    # (InMemoryStore refuses a batch that embeds one text twice: each text here is unique)
    assert len(ref.mem.search((), limit=100)) == len(LIBRARY)
    for q, prefix, flt, (limit, offset) in itertools.product(
        LIB_QUERIES, LIB_PREFIXES, LIB_FILTERS, LIB_PAGES
    ):
        op = SearchOp(prefix, filter=flt, limit=limit, offset=offset, query=q)
        await both(ours, ref, [op], (q, prefix, flt, limit, offset))
    # index=False items have no score and fill after the scored ones
    [res] = await both(ours, ref, [SearchOp(("lib", "a"), query="red", limit=20)])
    assert [r.key for r in res if r.score is None] == ["4", "12"]
    assert all(r.score is not None for r in res[:-2])
    # several queries in one batch, with gets and puts (the reads see the state before them)
    batch: list[Op] = [
        SearchOp(("lib",), query="red apple", limit=3),
        GetOp(("lib", "a"), "1"),
        SearchOp((), query="ocean", limit=4, offset=1),
        PutOp(("lib", "b"), "14", {"title": "ocean ocean", "n": 14}),
        SearchOp(("lib", "b"), query="forest", filter={"n": {"$lt": 7}}, limit=1),
        SearchOp(("other",), query="apple", limit=5),
        ListNamespacesOp(),
    ]
    await both(ours, ref, batch, "batch")
    for q in LIB_QUERIES:
        await both(ours, ref, [SearchOp((), query=q, limit=50)], q)
    via = await ours.call("search", ("lib",), query="red apple", limit=4, offset=1)
    [expected] = ref.batch([SearchOp(("lib",), query="red apple", limit=4, offset=1)])
    assert_search(via, expected)


async def test_update_keeps_no_old_vector(stores: Make, backend: Backend) -> None:
    """docs/store.md's fourth difference from InMemoryStore (which keeps each path's old vector): a
    re-put with index=False leaves the item scoreless, one with other fields is scored by its
    new texts only."""
    ours = await stores(index=INDEX)
    ns = ("up",)
    await ours.call("put", ns, "a", {"text": "red apple"})
    await ours.call("put", ns, "b", {"text": "ocean"})
    await ours.call("put", ns, "a", {"text": "red apple"}, index=False)
    got = await ours.call("search", ns, query="red apple")
    assert [(i.key, i.score is None) for i in got] == [("b", False), ("a", True)]
    with client(backend) as c:
        assert not c.hexists(f"store_vec:{{{ns_key(ns)}}}", "a")
    await ours.call("put", ns, "a", {"text": "red apple", "other": "ocean"}, index=["other"])
    got = await ours.call("search", ns, query="red apple")
    assert [i.key for i in got] == ["a", "b"]  # equal scores: insertion order
    assert got[0].score == pytest.approx(got[1].score)
