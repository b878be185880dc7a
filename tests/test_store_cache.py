"""The query cache of RedisStore (src/langgraph/store/redis/vectors.py): a namespace's vectors
are sent once and kept by the client under the namespace's version (store_nsver), then sent
again only after something changed the namespace. What is checked:
- an unchanged namespace is not sent again (the script's reply names it as held), and every
  kind of change is seen by the next query: puts, updates, deletes, index=False puts, expiry,
  an item key deleted behind the store's back (eviction), through this store or another one;
- a FLUSHALL followed by other data under the same namespace is never answered from the
  cache (versions are seq@time, not a counter that restarts);
- an entry dropped by another thread between a query's request and its reply (the script
  said "held") makes the query ask again, and returns the right answer;
- a small cache evicts least recently used namespaces and stays correct; vector_cache_mb=0
  turns it off; a negative size is refused.
Every comparison is against InMemoryStore (Ref, both() from test_store.py). The stores scan
(vector_index="scan"), on Redis Stack too, where queries would otherwise use its index."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
import redis
from langgraph.store.base import PutOp, SearchOp
from langgraph.store.redis import RedisStore
from langgraph.store.redis.ops import ns_key
from langgraph.store.redis.vectors import Entry, VectorCache

from . import test_store
from .conftest import Backend
from .test_store import INDEX, Driver, Make, Ref, both

make = test_store.make  # the fixture: stores of each kind on each backend

WORDS = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta"]


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))


def _held_replies(store: Any, deltas: list[Any] | None = None) -> list[list[str]]:
    """Wraps the store's reply decoding: for each query, per namespace block, what the script
    sent: "all" (every key and vector), "held" (nothing: the client holds this version) or
    "delta" (what changed since a version the client holds; appended to `deltas`)."""
    seen: list[list[str]] = []
    ops = store._ops
    original = ops._columns

    def spy(reply: Any, rank: bool) -> Any:
        if rank:
            kinds = []
            for block in reply[0] or []:
                if block[8]:
                    kinds.append("delta")
                    if deltas is not None:
                        deltas.append(block[8])
                else:
                    kinds.append("held" if block[3] is None else "all")
            seen.append(kinds)
        return original(reply, rank)

    ops._columns = spy
    return seen


async def test_unchanged_namespace_is_not_sent_again(make: Make) -> None:
    ours, ref = await make(index=INDEX, vector_index="scan"), Ref(INDEX)
    deltas: list[Any] = []
    seen = _held_replies(ours.store, deltas)
    ops: list[Any] = [PutOp(("c", str(i % 2)), f"k{i}", {"text": f"item {i}"}) for i in range(30)]
    await both(ours, ref, ops)
    q = [SearchOp(("c",), query="item 7", limit=5)]
    await both(ours, ref, q)
    await both(ours, ref, q)
    await both(ours, ref, [SearchOp(("c",), query="item 3", limit=5, offset=2)])
    assert seen == [["all", "all"], ["held", "held"], ["held", "held"]]
    # a change in one namespace sends that one's change, nothing of the other
    await both(ours, ref, [PutOp(("c", "1"), "k1", {"text": "changed"})])
    await both(ours, ref, q)
    assert seen[-1] == ["held", "delta"]
    _, gone, updated, vectors, fresh, _ = deltas[-1]
    assert (gone, updated, fresh) == ([], [b"k1"], []) and len(vectors[0]) == 4 * INDEX["dims"]
    # a filter reads the values, and still takes the vectors from the cache
    await both(ours, ref, [SearchOp(("c",), query="item", filter={"text": "item 4"})])
    assert seen[-1] == ["held", "held"]


async def test_a_changed_namespace_sends_only_its_changes(real_backend: Backend) -> None:
    """The namespace's log (store_log:{N}) lets the script send a query only the keys changed
    since the version the client holds: gone, updated in place, new (a key deleted and put
    again is new: it moves to the end of the order). Past the log's reach, everything."""
    assert real_backend.url
    store = RedisStore(real_backend.url, index=INDEX, vector_index="scan")  # type: ignore[arg-type]
    store.setup()
    ours, ref = Driver(store, "sync"), Ref(INDEX)
    deltas: list[Any] = []
    seen = _held_replies(store, deltas)
    await both(ours, ref, [PutOp(("d",), f"k{i}", {"text": f"doc {i}"}) for i in range(12)])
    await both(ours, ref, [PutOp(("d",), "k4", {"text": "doc 4"}, index=False)])
    everything = [SearchOp(("d",), query="doc 3", limit=100)]  # ties and unscored: the order
    await both(ours, ref, everything)
    assert seen[-1] == ["all"]
    changes: list[Any] = [
        PutOp(("d",), "k3", {"text": "another text"}),
        PutOp(("d",), "k5", None),
        PutOp(("d",), "k20", {"text": "doc 20"}),
        PutOp(("d",), "k7", None),
        PutOp(("d",), "k8", {"text": "doc 8"}, index=False),
        PutOp(("d",), "k7", {"text": "doc 7"}),
        PutOp(("d",), "k4", {"text": "doc 4"}),
    ]
    for op in changes:
        await both(ours, ref, [op])
    await both(ours, ref, everything)
    assert seen[-1] == ["delta"]
    _, gone, updated, vectors, fresh, fresh_vectors = deltas[-1]
    assert (gone, updated, fresh) == ([b"k5"], [b"k3", b"k8", b"k4"], [b"k20", b"k7"])
    assert vectors[1] is None and vectors[0] and vectors[2] and all(fresh_vectors)
    await both(ours, ref, [SearchOp(("d",), query="doc 8", limit=3, offset=1)])
    assert seen[-1] == ["held"]
    # more changes than the log keeps: everything again; the log stays bounded
    for i in range(70):  # each a version in the log: the held one falls out of its 64
        await both(ours, ref, [PutOp(("d",), f"k{i % 15}", {"text": f"doc {i}"})])
    await both(ours, ref, everything)
    assert seen[-1] == ["all"]
    with redis.Redis.from_url(real_backend.url) as c:
        log = f"store_log:{{{ns_key(('d',))}}}"
        assert 0 < c.zcard(log) <= 64
        # a delete that empties the namespace drops its log
        for i in range(21):
            store.delete(("d",), f"k{i}")
        assert not c.exists(log)
    store.close()


def test_a_store_without_vectors_keeps_no_log(real_backend: Backend) -> None:
    assert real_backend.url
    with RedisStore.from_conn_string(real_backend.url) as store:
        for i in range(5):
            store.put(("p",), f"k{i}", {"v": i})
        store.delete(("p",), "k0")
        with redis.Redis.from_url(real_backend.url) as c:
            assert c.keys("store_log:*") == [] and c.exists("store_keys:{p}")


@pytest.mark.parametrize("seed", range(30))
def test_a_patched_entry_equals_one_built_from_scratch(seed: int) -> None:
    """Entry.patched (the client's side of a delta) against an Entry built from the same
    keys and vectors: same order, same scores, whether the base was scored before or not,
    with candidates of 0 to 3 vectors whose count changes or not."""
    import numpy as np

    rng = random.Random(seed)
    dims = 4

    def vectors() -> bytes | None:
        n = rng.choice([0, 1, 1, 1, 2, 3])
        if not n:
            return None
        return np.asarray([rng.uniform(-1, 1) for _ in range(n * dims)], np.float32).tobytes()

    keys = [f"k{i}".encode() for i in range(rng.randint(0, 30))]
    held = {k: vectors() for k in keys}
    base = Entry("v1", list(keys), dict(held))
    query = [rng.uniform(-1, 1) for _ in range(dims)]
    if rng.random() < 0.7:
        base.matrix.best(query)  # built: the patch carries the rows over
    gone = rng.sample(keys, rng.randint(0, min(3, len(keys))))
    updated = rng.sample(
        [k for k in keys if k not in gone], rng.randint(0, min(3, len(keys) - len(gone)))
    )
    moved = rng.sample(
        [k for k in keys if k not in gone and k not in updated],
        rng.randint(0, 1) if len(keys) > len(gone) + len(updated) else 0,
    )
    fresh = moved + [f"n{i}".encode() for i in range(rng.randint(0, 3))]
    upd_vecs = [vectors() for _ in updated]
    fresh_vecs = [vectors() for _ in fresh]
    got = base.patched("v2", gone, updated, upd_vecs, fresh, fresh_vecs)
    assert got is not None
    want_keys = [k for k in keys if k not in gone and k not in moved] + fresh
    now = {
        **held,
        **dict(zip(updated, upd_vecs, strict=True)),
        **dict(zip(fresh, fresh_vecs, strict=True)),
    }
    want = Entry("v2", want_keys, {k: now[k] for k in want_keys})
    assert got.keys == want.keys and got.where == want.where and got.version == "v2"
    assert got.matrix.nbytes == want.matrix.nbytes
    (gb, gh), (wb, wh) = got.matrix.best(query), want.matrix.best(query)
    assert (gh == wh).all() and np.allclose(gb, wb, rtol=0, atol=1e-12), (gb, wb)
    # a delta that does not fit (an updated key it never held) is refused
    assert base.patched("v3", [], [b"never"], [None], [], []) is None


@pytest.mark.parametrize("seed", range(4))
async def test_random_changes_are_seen(make: Make, seed: int) -> None:
    """Puts, updates, deletes, index=False puts and queries interleaved, through two stores
    (two caches) on one server: every query equals InMemoryStore's."""
    rng = random.Random(seed)
    a = await make(index=INDEX, vector_index="scan")
    b = await make(index=INDEX, vector_index="scan")
    ref = Ref(INDEX)
    namespaces = [("r", "x"), ("r", "y"), ("r", "x", "z"), ("s",)]
    for step in range(60):
        writer = rng.choice([a, b])
        ns, key = rng.choice(namespaces), f"k{rng.randrange(12)}"
        roll = rng.random()
        if roll < 0.45:
            op: Any = PutOp(ns, key, {"text": _text(rng), "n": rng.randrange(5)})
        elif roll < 0.55:
            op = PutOp(ns, key, {"text": _text(rng)}, index=False)
        elif roll < 0.7:
            op = PutOp(ns, key, None)
        else:
            op = None
        if op is not None:
            await both(writer, ref, [op], (seed, step))
        reader: Driver = rng.choice([a, b])
        prefix = rng.choice([(), ("r",), ("r", "x"), ("s",)])
        kw: dict[str, Any] = {"limit": rng.choice([1, 3, 10, 50]), "offset": rng.choice([0, 1])}
        if rng.random() < 0.3:
            kw["filter"] = {"n": {"$gte": rng.randrange(4)}}
        await both(reader, ref, [SearchOp(prefix, query=_text(rng), **kw)], (seed, step))


def test_expiry_and_eviction_are_seen(real_backend: Backend) -> None:
    url = real_backend.url
    assert url
    with RedisStore.from_conn_string(url, index=INDEX, vector_index="scan") as store:  # type: ignore[arg-type]
        store.setup()
        for i in range(8):
            store.put(("e",), f"k{i}", {"text": f"entry {i}"}, ttl=0.5 / 60 if i < 3 else None)
        first = {i.key for i in store.search(("e",), query="entry", limit=20)}
        assert first == {f"k{i}" for i in range(8)}
        time.sleep(0.7)
        second = {i.key for i in store.search(("e",), query="entry", limit=20)}
        assert second == {f"k{i}" for i in range(3, 8)}
        # an item key deleted behind the store's back, as maxmemory eviction does
        c = redis.Redis.from_url(url)
        try:
            c.delete(store._ops.item_key(ns_key(("e",)), "k5"))
            third = [i.key for i in store.search(("e",), query="entry 5", limit=3)]
            assert "k5" not in third and len(third) == 3
            assert c.hget(f"store_vec:{{{ns_key(('e',))}}}", "k5") is None
            assert c.zscore(f"store_keys:{{{ns_key(('e',))}}}", "k5") is None
        finally:
            c.close()


def test_flushall_then_other_data_is_not_answered_from_the_cache(real_backend: Backend) -> None:
    url = real_backend.url
    assert url
    with RedisStore.from_conn_string(url, index=INDEX, vector_index="scan") as store:  # type: ignore[arg-type]
        store.setup()
        store.put(("f",), "old", {"text": "aaaa"})
        assert [i.key for i in store.search(("f",), query="aaaa")] == ["old"]
        c = redis.Redis.from_url(url)
        try:
            c.flushall()
        finally:
            c.close()
        store.put(("f",), "new", {"text": "bbbb"})
        assert [i.key for i in store.search(("f",), query="aaaa")] == ["new"]


async def test_entry_dropped_between_request_and_reply(make: Make) -> None:
    ours, ref = await make(index=INDEX, vector_index="scan"), Ref(INDEX)
    await both(ours, ref, [PutOp(("d",), f"k{i}", {"text": f"doc {i}"}) for i in range(20)])
    q = [SearchOp(("d",), query="doc 3", limit=4)]
    await both(ours, ref, q)
    cache = ours.store._ops.cache
    assert cache is not None
    original = cache.get
    calls: list[int] = []

    def forgetful(nse: str, version: str) -> Any:
        calls.append(1)
        if len(calls) == 1:
            return None  # another thread evicted it after the request named it
        return original(nse, version)

    cache.get = forgetful  # type: ignore[method-assign]
    seen = _held_replies(ours.store)
    await both(ours, ref, q)
    assert seen == [["held"], ["all"]]  # asked again, without naming it as held


async def test_small_cache_evicts_and_stays_correct(make: Make) -> None:
    ours, ref = await make(index=INDEX, vector_index="scan", vector_cache_mb=0.004), Ref(INDEX)
    cache = ours.store._ops.cache
    assert isinstance(cache, VectorCache) and cache.max_bytes == int(0.004 * (1 << 20))
    for n in range(6):
        ops: list[Any] = [PutOp(("m", str(n)), f"k{i}", {"text": f"x{i} {n}"}) for i in range(10)]
        await both(ours, ref, ops)
    for round_ in range(3):
        for n in range(6):
            await both(ours, ref, [SearchOp(("m", str(n)), query=f"x{n}", limit=3)], round_)
        await both(ours, ref, [SearchOp(("m",), query="x1", limit=7)], round_)
        assert cache._bytes <= cache.max_bytes
        assert 0 < len(cache._entries) < 6


async def test_cache_off_and_bad_sizes(make: Make) -> None:
    ours, ref = await make(index=INDEX, vector_index="scan", vector_cache_mb=0), Ref(INDEX)
    assert ours.store._ops.cache is None
    seen = _held_replies(ours.store)
    await both(ours, ref, [PutOp(("o",), f"k{i}", {"text": f"o {i}"}) for i in range(5)])
    for _ in range(2):
        await both(ours, ref, [SearchOp(("o",), query="o 1", limit=2)])
    assert seen == [["all"], ["all"]]
    with pytest.raises(ValueError, match="vector_cache_mb"):
        RedisStore("redis://localhost:1", index=INDEX, vector_cache_mb=-1)  # type: ignore[arg-type]
    assert RedisStore("redis://localhost:1")._ops.cache is None  # no index, no cache
