"""The store's use of the server's vector index (RediSearch; src/langgraph/store/redis/ftindex.py,
lua/store/store_knn-0.lua), on Redis Stack, which the fixtures start (tests/stack.py). test_store.py
runs its whole InMemoryStore comparison on Redis Stack too; this file checks what is specific:
- the index is really used (a query is one store_knn call, one round trip, re-arming exactly
  what it returns), and answers most queries itself rather than falling back to a scan;
- results equal InMemoryStore's where the index alone cannot settle them: ties at the page's
  edge, items with several vectors, items without vectors filling a page, zero vectors;
- setup(): creates the index once, backfills vectors stored before it (or by a store told to
  scan), refuses an index of other dimensions; a dropped index makes queries scan;
- documents live and die with their items: updates, deletes, expiry leave none behind."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from langgraph.store.base import PutOp, SearchOp
from langgraph.store.redis import RedisStore
from langgraph.store.redis.ops import StoreOps

from .conftest import Backend, _start
from .test_round_trips import Monitor
from .test_store import INDEX, Driver, Ref, both


@pytest.fixture
def stack() -> Iterator[Backend]:
    b = _start("stack")
    b.flush()
    yield b


@pytest.fixture
def outcomes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """store_knn's answers: "ok" (the index settled the page), "scan", "error"."""
    seen: list[str] = []
    original = StoreOps._knn

    def spy(self: StoreOps, reply: Any) -> Any:
        seen.append(reply[0].decode())
        return original(self, reply)

    monkeypatch.setattr(StoreOps, "_knn", spy)
    return seen


def _store(b: Backend, **kw: Any) -> RedisStore:
    s = RedisStore(b.url, index=INDEX, **kw)  # type: ignore[arg-type]
    s.setup()
    return s


def _docs(c: redis.Redis) -> list[bytes]:
    return sorted(c.scan_iter("store_fv:*", count=1000))


def _vectors_stored(c: redis.Redis, dims: int) -> int:
    """Documents there should be: every stored vector that is not zero."""
    n = 0
    for key in c.scan_iter("store_vec:*"):
        for raw in c.hvals(key):
            w = 4 * dims
            n += sum(1 for i in range(0, len(raw), w) if raw[i : i + w].strip(b"\x00\x80"))
    return n


WORDS = ["red", "apple", "ocean", "blue", "wave", "forest", "green", "stone", "light"]


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))


async def test_a_query_is_one_call_and_rearms_what_it_returns(
    stack: Backend, outcomes: list[str]
) -> None:
    assert stack.url
    store = _store(stack, ttl={"default_ttl": 1 / 60})
    try:
        for i in range(40):
            store.put(("q", str(i % 3)), f"k{i}", {"text": f"{WORDS[i % 9]} {WORDS[i % 7]}"})
        c = redis.Redis.from_url(stack.url)
        time.sleep(0.4)
        with Monitor(stack.url) as m:
            searched = time.monotonic()
            got = store.search(("q",), query="red ocean", limit=5)
        assert m.verbs() == ["EVALSHA"] and outcomes == ["ok"], (m.verbs(), outcomes)
        returned = {(i.namespace, i.key) for i in got}
        assert len(returned) == 5
        for i in range(40):
            ns, key = ("q", str(i % 3)), f"k{i}"
            item = store._ops.item_key(":".join(ns), key)
            pttl = c.pttl(item)
            if (ns, key) in returned:  # re-armed by the search: a busy machine only widens this
                left = 1000 - (time.monotonic() - searched) * 1000
                assert left - 2 <= pttl <= 1000, (key, pttl, left)
                deadline = c.pexpiretime(item)
                for d in c.scan_iter(f"store_fv:{{q:{i % 3}}}:{key}:*"):
                    assert c.pexpiretime(d) == deadline, (d, deadline)
            else:  # put at least 0.4 s before and not re-armed
                assert pttl <= 600, (key, pttl)
        c.close()
    finally:
        store.close()


@pytest.mark.parametrize("seed", range(3))
async def test_random_queries_equal_inmemory_and_mostly_use_the_index(
    stack: Backend, outcomes: list[str], seed: int
) -> None:
    rng = random.Random(seed)
    store, ref = _store(stack), Ref(INDEX)
    ours = Driver(store, "sync")
    try:
        namespaces = [("m", "a"), ("m", "b"), ("m", "a", "x"), ("n",)]
        ops: list[Any] = []
        for i in range(150):
            ns = rng.choice(namespaces)
            value: dict[str, Any] = {"text": _text(rng)}
            if rng.random() < 0.3:
                value["tags"] = [_text(rng) for _ in range(rng.randint(1, 3))]  # several vectors
            index: Any = False if rng.random() < 0.1 else None  # some without vectors
            ops.append(PutOp(ns, f"k{i}", value, index=index))
        await both(ours, ref, ops)
        await both(ours, ref, [PutOp(("m", "b"), f"k{i}", None) for i in range(0, 150, 7)])
        for step in range(40):
            prefix = rng.choice([(), ("m",), ("m", "a"), ("n",), ("m", "b")])
            limit, offset = rng.choice([(1, 0), (5, 0), (10, 3), (30, 0), (200, 0)])
            op = SearchOp(prefix, query=_text(rng), limit=limit, offset=offset)
            await both(ours, ref, [op], (seed, step))
        assert outcomes.count("ok") >= 0.6 * len(outcomes), outcomes
        assert "error" not in outcomes
    finally:
        store.close()


async def test_ties_and_zero_vectors_fall_back_to_an_exact_answer(
    stack: Backend, outcomes: list[str]
) -> None:
    store, ref = _store(stack), Ref(INDEX)
    ours = Driver(store, "sync")
    try:
        # 30 identical vectors: the index's order among them is its own; InMemoryStore's is
        # insertion order, so a page that cuts through them must be settled by a scan
        await both(ours, ref, [PutOp(("t",), f"k{i:02d}", {"text": "red red"}) for i in range(30)])
        await both(ours, ref, [PutOp(("t",), "other", {"text": "blue"})])
        for limit, offset in [(5, 0), (10, 7), (3, 28)]:
            await both(ours, ref, [SearchOp(("t",), query="red", limit=limit, offset=offset)])
        assert "scan" in outcomes and "error" not in outcomes
        outcomes.clear()
        # a zero vector (the empty text) anywhere under a prefix makes its queries scan
        await both(ours, ref, [PutOp(("z", "a"), "0", {"text": ""})])
        await both(ours, ref, [PutOp(("z", "b"), str(i), {"text": WORDS[i]}) for i in range(5)])
        for prefix in [("z",), (), ("z", "a")]:
            await both(ours, ref, [SearchOp(prefix, query="green", limit=3)])
        assert outcomes == ["scan"] * 3
        outcomes.clear()
        await both(ours, ref, [SearchOp(("z", "b"), query="green", limit=3)])
        assert outcomes == ["ok"]
    finally:
        store.close()


async def test_setup_backfills_and_checks_dimensions(stack: Backend, outcomes: list[str]) -> None:
    assert stack.url
    c = redis.Redis.from_url(stack.url)
    scan = _store(stack, vector_index="scan")
    ref = Ref(INDEX)
    ops = [
        PutOp(("b", str(i % 4)), f"k{i}", {"text": WORDS[i % 9] * (i % 3 + 1)}) for i in range(60)
    ]
    await both(Driver(scan, "sync"), ref, ops)
    assert _docs(c) == [] and c.execute_command("FT._LIST") == []
    auto = _store(stack)  # creates the index and gives the stored vectors their documents
    assert auto._ops.knn and len(_docs(c)) == _vectors_stored(c, 16) > 0
    again = _store(stack)  # idempotent
    assert again._ops.knn and c.execute_command("FT._LIST") == [b"store_fvidx"]
    # from now on a store told to scan writes documents too: the marker is the server's
    await both(Driver(scan, "sync"), ref, [PutOp(("b", "9"), "late", {"text": "green stone"})])
    assert len(_docs(c)) == _vectors_stored(c, 16)
    for prefix in [(), ("b",), ("b", "9")]:
        await both(Driver(auto, "sync"), ref, [SearchOp(prefix, query="green", limit=4)])
    assert outcomes and set(outcomes) == {"ok"}, outcomes
    with pytest.raises(ValueError, match="holds vectors of 16 dimensions"):
        RedisStore(stack.url, index={**INDEX, "dims": 8}).setup()  # type: ignore[arg-type]
    dims = c.get("store_dims")
    c.delete("store_dims")  # as if the vectors were gone: the index's own dimensions refuse
    with pytest.raises(ValueError, match=r"FT\.DROPINDEX store_fvidx"):
        RedisStore(stack.url, index={**INDEX, "dims": 8}).setup()  # type: ignore[arg-type]
    c.set("store_dims", dims)
    # an index dropped under a running store: its queries scan, and stay right
    c.execute_command("FT.DROPINDEX", "store_fvidx")
    outcomes.clear()
    await both(Driver(auto, "sync"), ref, [SearchOp(("b",), query="red", limit=4)])
    assert outcomes == ["error"] and not auto._ops.knn
    await both(Driver(auto, "sync"), ref, [SearchOp(("b",), query="ocean", limit=4)])
    assert outcomes == ["error"]  # not asked again
    for s in (scan, auto, again):
        s.close()
    c.close()


async def test_documents_live_and_die_with_their_items(stack: Backend) -> None:
    assert stack.url
    c = redis.Redis.from_url(stack.url)
    store, ref = _store(stack), Ref(INDEX)
    ours = Driver(store, "sync")
    try:
        await both(ours, ref, [PutOp(("d",), f"k{i}", {"text": WORDS[i]}) for i in range(9)])
        await both(ours, ref, [PutOp(("d",), "multi", {"text": "red", "tags": ["a b", "c"]})])
        assert len(_docs(c)) == 12
        await both(ours, ref, [PutOp(("d",), "multi", {"text": "blue"})])  # 3 vectors to 1
        await both(ours, ref, [PutOp(("d",), "k0", {"text": "x"}, index=False)])  # to none
        await both(ours, ref, [PutOp(("d",), "k1", None)])  # deleted
        assert len(_docs(c)) == _vectors_stored(c, 16) == 8
        store.put(("d",), "short", {"text": "green"}, ttl=0.3 / 60)
        assert len(_docs(c)) == 9 and all(c.pttl(d) > 0 for d in _docs(c) if b":short:" in d)
        time.sleep(0.5)
        got = store.search(("d",), query="green", limit=20)
        assert "short" not in {i.key for i in got}
        assert len(_docs(c)) == 8
        store.put(("d",), "k2", {"text": "stone"}, ttl=None)
        assert all(c.pttl(d) == -1 for d in _docs(c))
    finally:
        store.close()
        c.close()


def test_documents_of_expired_items_are_skipped(stack: Backend) -> None:
    """The index may list a document in its item's last moments, with its fields gone: such
    a document is no candidate (this crashed store_knn once: a helper's repro, 262 of 300)."""
    store = _store(stack)
    try:
        for trial in range(3):
            for i in range(40):
                store.put(("x", str(trial)), f"k{i}", {"text": f"red apple {i}"}, ttl=0.2 / 60)
            store.put(("x", str(trial)), "kept", {"text": "ocean"})
            time.sleep(0.2)
            for _ in range(30):
                got = store.search(("x",), query="red apple", limit=1000)
                assert {i.key for i in got} <= {"kept", *(f"k{i}" for i in range(40))}
                time.sleep(0.002)
            assert {i.key for i in store.search(("x",), query="red", limit=1000)} == {"kept"}
    finally:
        store.close()
