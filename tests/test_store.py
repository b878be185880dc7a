"""RedisStore and AsyncRedisStore (langgraph.store.redis) against langgraph's InMemoryStore.

The reference is InMemoryStore, with the two documented differences asserted explicitly:
- a namespace whose items were all deleted (or expired) is not listed by list_namespaces
  (and a namespace only touched by a get never is);
- an update keeps created_at (timestamps have µs resolution, as InMemoryStore's).

What is checked:
- seeded random scenarios (puts, updates, deletes, gets of missing items, searches with every
  filter operator, nested dicts and lists, limit/offset, list_namespaces with prefix/suffix/
  wildcards/max_depth/limit/offset, batches mixing all of them), every result compared;
- vector search (a character-histogram embedding, dims 16), nested and list field paths,
  put(index=False), put(index=[...]), scoreless items, query + filter + offset/limit;
- TTL with real expiry on real servers (per item, default_ttl, refresh_on_read, refresh_ttl;
  a search re-arms only the items it returns);
- odd namespaces and keys stay isolated; BaseStore refuses invalid labels;
- round trips, counted by the server (MONITOR) and by the client (packets sent).

Every body runs on RedisStore and on AsyncRedisStore (`kind`), on every `backend`.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import langgraph.store.memory as memory_module
import pytest
import redis
import redis.asyncio.connection as aconnection
import redis.connection as sconnection
from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    SearchItem,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore
from langgraph.store.redis import AsyncRedisStore, RedisStore
from langgraph.store.redis.ops import ns_key

from .conftest import Backend
from .test_round_trips import Monitor

# -- the embedding and the reference -------------------------------------------------------

DIMS = 16


def embed(texts: list[str]) -> list[list[float]]:
    """A character histogram: integer counts, exact in float32, so the scores of both stores
    are computed from identical vectors."""
    out = []
    for text in texts:
        v = [0.0] * DIMS
        for ch in text:
            v[ord(ch) % DIMS] += 1.0
        out.append(v)
    return out


INDEX = {"dims": DIMS, "embed": embed, "fields": ["text", "meta.title", "tags[*]"]}


class _Fixed(InMemoryStore):
    """InMemoryStore with one bug fixed: it embeds each distinct text of a batch once, then
    expects one vector per place the text occurs, and raises ValueError when a text occurs
    twice (two puts, or two fields of one item). Ours gives every place its text's vector."""

    def _insertinmem_store(self, to_embed: Any, embeddings: Any) -> None:
        if len(to_embed) != len(embeddings):  # pragma: no cover - the embed function's fault
            raise ValueError(f"{len(embeddings)} embeddings for {len(to_embed)} texts")
        for embedding, places in zip(embeddings, to_embed.values(), strict=True):
            for ns, key, path in places:
                self._vectors[ns][key][path] = embedding


class Ref:
    """InMemoryStore as the reference, minus its artifacts the documented differences name:
    a get or a delete of a missing item does not create a namespace (whose place in the
    search order would then be taken before its first item), list_namespaces skips
    emptied namespaces, an update keeps no vector of the old value (InMemoryStore keeps
    each path's vector until that path is embedded again, even through index=False), and a
    text that occurs twice in a batch is embedded for both places (_Fixed)."""

    def __init__(self, index: dict[str, Any] | None = None) -> None:
        self.mem = _Fixed(index=index)  # type: ignore[arg-type]
        self.ever: set[tuple[str, ...]] = set()  # namespaces that held an item

    def batch(self, ops: list[Op]) -> list[Any]:
        results: list[Any] = [None] * len(ops)
        forwarded: list[tuple[int, Op]] = []
        data = self.mem._data
        for i, op in enumerate(ops):
            if isinstance(op, GetOp):
                results[i] = data[op.namespace].get(op.key) if op.namespace in data else None
            elif isinstance(op, ListNamespacesOp):
                saved = self.mem._data
                self.mem._data = {ns: items for ns, items in saved.items() if items}  # type: ignore[assignment]
                try:
                    results[i] = self.mem._handle_list_namespaces(op)
                finally:
                    self.mem._data = saved
            else:
                forwarded.append((i, op))
        vectors = self.mem._vectors
        replaced = {
            (op.namespace, op.key): dict(vectors[op.namespace].get(op.key, {}))
            for _, op in forwarded
            if isinstance(op, PutOp) and op.value is not None
        }
        out = self.mem.batch([op for _, op in forwarded])
        for (ns, key), old in replaced.items():
            now = vectors[ns].get(key, {})
            for path in [p for p, v in now.items() if old.get(p) is v]:
                del now[path]  # not embedded by this put: the old value's
            if key in vectors[ns] and not now:
                del vectors[ns][key]
        for (i, _), r in zip(forwarded, out, strict=True):
            results[i] = r
        for ns, items in list(data.items()):
            if items:
                self.ever.add(ns)
            elif ns not in self.ever:
                del data[ns]
        return results


# -- drivers ---------------------------------------------------------------------------------


class Driver:
    """One store, sync or async, behind awaitable calls."""

    def __init__(self, store: RedisStore | AsyncRedisStore, kind: str) -> None:
        self.store = store
        self.kind = kind

    async def batch(self, ops: list[Op]) -> list[Any]:
        if self.kind == "sync":
            return self.store.batch(ops)
        return await self.store.abatch(ops)

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.kind == "sync":
            return getattr(self.store, name)(*args, **kwargs)
        return await getattr(self.store, "a" + name)(*args, **kwargs)


async def _open(backend: Backend, kind: str, **kwargs: Any) -> RedisStore | AsyncRedisStore:
    if kind == "sync":
        store: Any = RedisStore(**backend.saver_kwargs(asynchronous=False), **kwargs)
        store.setup()
    else:
        store = AsyncRedisStore(**backend.saver_kwargs(asynchronous=True), **kwargs)
        await store.setup()
    return store


async def _close(store: RedisStore | AsyncRedisStore) -> None:
    if isinstance(store, RedisStore):
        store.close()
        if store._user_client is not None:
            store._user_client.close()
    else:
        await store.aclose()
        if store._user_client is not None:
            await store._user_client.aclose()


Make = Callable[..., Awaitable[Driver]]


@pytest.fixture
async def make(backend: Backend, kind: str) -> AsyncIterator[Make]:
    """Opens set-up stores of `kind` on a flushed `backend`; closes them at the end."""
    made: list[Any] = []

    async def factory(**kwargs: Any) -> Driver:
        store = await _open(backend, kind, **kwargs)
        made.append(store)
        return Driver(store, kind)

    yield factory
    for store in made:
        await _close(store)


# -- comparison ------------------------------------------------------------------------------

TOL = 1e-6


def _check_times(item: Item) -> None:
    assert item.created_at.tzinfo is not None and item.updated_at.tzinfo is not None
    assert item.created_at <= item.updated_at, item
    now = datetime.now(timezone.utc).timestamp()
    assert abs(item.updated_at.timestamp() - now) < 600, item


def _ident(item: Item) -> tuple[tuple[str, ...], str, Any]:
    return (tuple(item.namespace), item.key, item.value)


def assert_same(ours: Any, ref: Any, ctx: Any = "") -> None:
    if ref is None:
        assert ours is None, (ctx, ours)
        return
    if isinstance(ref, Item):
        assert isinstance(ours, Item), (ctx, ours)
        assert _ident(ours) == _ident(ref), ctx
        _check_times(ours)
        return
    assert isinstance(ours, list), (ctx, ours)
    if ref and isinstance(ref[0], tuple):
        assert ours == ref, ctx
        return
    assert_search(ours, ref, ctx)


def assert_search(ours: list[Any], ref: list[SearchItem], ctx: Any = "") -> None:
    """Same items, same scores (within TOL), same order except among scores tied within TOL
    (such a group must hold the same items)."""
    assert len(ours) == len(ref), (ctx, [_ident(o) for o in ours], [_ident(r) for r in ref])
    for o, r in zip(ours, ref, strict=True):
        assert isinstance(o, SearchItem), (ctx, o)
        _check_times(o)
        if r.score is None:
            assert o.score is None, (ctx, o, r)
        else:
            assert o.score is not None and abs(o.score - r.score) <= TOL, (ctx, o, r)
    i = 0
    while i < len(ref):
        j = i + 1
        while (
            j < len(ref)
            and ref[i].score is not None
            and ref[j].score is not None
            and abs(ref[j].score - ref[i].score) <= TOL  # type: ignore[operator]
        ):
            j += 1
        if j - i == 1:
            assert _ident(ours[i]) == _ident(ref[i]), (ctx, i, ours, ref)
        else:
            key = repr
            assert sorted(map(key, map(_ident, ours[i:j]))) == sorted(
                map(key, map(_ident, ref[i:j]))
            ), (ctx, i, ours, ref)
        i = j


def _lenient(value: Any, op: str, operand: Any) -> bool:
    """InMemoryStore's operators, except that a value a range operator cannot compare does not
    match (docs/store.md: InMemoryStore raises there, ours does not)."""
    try:
        return _STRICT(value, op, operand)
    except (TypeError, ValueError):
        return False


_STRICT = memory_module._apply_operator


async def both(ours: Driver, ref: Ref, ops: list[Op], ctx: Any = "") -> list[Any]:
    """Runs one batch on both stores and compares every result (or the error raised). The
    reference runs with the one documented difference: a range operator on a value it cannot
    compare is no match, where InMemoryStore raises."""
    memory_module._apply_operator = _lenient
    try:
        expected = ref.batch(ops)
    except Exception as e:  # the reference refuses: ours must refuse the same way
        memory_module._apply_operator = _STRICT
        with pytest.raises(type(e)):
            await ours.batch(ops)
        return []
    finally:
        memory_module._apply_operator = _STRICT
    got = await ours.batch(ops)
    assert len(got) == len(expected), ctx
    for k, (g, x) in enumerate(zip(got, expected, strict=True)):
        assert_same(g, x, (ctx, k, ops[k]))
    return got


# -- random scenarios ------------------------------------------------------------------------

NAMESPACES = [
    ("a",),
    ("a", "b"),
    ("a", "b", "c"),
    ("a", "c"),
    ("b",),
    ("b", "a"),
    ("x", "a", "b"),
    ("a:b",),
    ("ab",),
    ("a", "b:"),
]
KEYS = ["k0", "k1", "k2", "k3"]
WORDS = ["apple", "banana", "cherry", "date"]
PREFIXES = [(), ("a",), ("a", "b"), ("b",), ("x",), ("a:b",), ("ab",), ("nope",), ("a", "b", "c")]


def rand_value(rng: random.Random) -> dict[str, Any]:
    v: dict[str, Any] = {"n": rng.randint(0, 5), "s": rng.choice(WORDS)}
    if rng.random() < 0.7:
        v["nested"] = {"x": rng.randint(0, 3), "y": rng.choice(["p", "q"])}
    if rng.random() < 0.5:
        v["tags"] = rng.sample(["t1", "t2", "t3"], rng.randint(0, 2))
    if rng.random() < 0.3:
        v["flag"] = rng.choice([True, False, None])
    if rng.random() < 0.1:
        v["f"] = rng.choice([1.5, -2.25, 0.0])
    return v


def rand_filter(rng: random.Random) -> dict[str, Any] | None:
    n = lambda: rng.randint(0, 5)  # noqa: E731
    choices: list[Callable[[], dict[str, Any]]] = [
        lambda: {"n": n()},
        lambda: {"n": {"$eq": n()}},
        lambda: {"n": {"$ne": n()}},
        lambda: {"n": {"$gt": n()}},
        lambda: {"n": {"$gte": n()}},
        lambda: {"n": {"$lt": n()}},
        lambda: {"n": {"$lte": n()}},
        lambda: {"n": {"$gte": 1, "$lt": 4}},
        lambda: {"s": rng.choice(WORDS)},
        lambda: {"s": {"$ne": rng.choice(WORDS)}},
        lambda: {"s": {"$eq": rng.choice(WORDS)}},
        lambda: {"nested": {"x": rng.randint(0, 3)}},
        lambda: {"nested": {"x": {"$gt": rng.randint(0, 3)}}},
        lambda: {"nested": {"y": "p", "x": {"$lte": rng.randint(0, 3)}}},
        lambda: {"nested": {"y": {"$ne": "p"}}},
        lambda: {"tags": rng.sample(["t1", "t2", "t3"], rng.randint(0, 2))},
        lambda: {"flag": rng.choice([True, False, None])},
        lambda: {"missing": None},
        lambda: {"f": {"$lt": 1}},  # absent on most items: float(None) raises in both
    ]
    if rng.random() < 0.25:
        return None
    out: dict[str, Any] = {}
    for _ in range(rng.choice([1, 1, 2])):
        out.update(rng.choice(choices)())
    return out


def rand_list_op(rng: random.Random) -> ListNamespacesOp:
    conds = []
    prefix = rng.choice([None, None, ("a",), ("a", "*"), ("*", "b"), ("x",), ("a", "b", "c")])
    suffix = rng.choice([None, None, ("b",), ("*",), ("a", "b"), ("*", "c"), ("b:",)])
    if prefix:
        conds.append(MatchCondition(match_type="prefix", path=prefix))
    if suffix:
        conds.append(MatchCondition(match_type="suffix", path=suffix))
    return ListNamespacesOp(
        match_conditions=tuple(conds) or None,
        max_depth=rng.choice([None, None, 1, 2]),
        limit=rng.choice([100, 100, 1, 2]),
        offset=rng.choice([0, 0, 1, 2]),
    )


def rand_op(rng: random.Random) -> Op:
    r = rng.random()
    ns, key = rng.choice(NAMESPACES), rng.choice(KEYS)
    if r < 0.45:
        return PutOp(ns, key, rand_value(rng))
    if r < 0.58:
        return PutOp(ns, key, None)
    if r < 0.70:
        return GetOp(ns, key)
    if r < 0.90:
        return SearchOp(
            rng.choice(PREFIXES),
            filter=rand_filter(rng),
            limit=rng.choice([10, 10, 1, 2, 3]),
            offset=rng.choice([0, 0, 1, 2]),
        )
    return rand_list_op(rng)


async def via_method(ours: Driver, ref: Ref, op: Op, ctx: Any) -> None:
    """One op through the convenience method (put/delete/get/search/list_namespaces)."""
    error = _raises(ref, op)
    expected: Any = error if error is not None else ref.batch([op])[0]
    if isinstance(op, PutOp):
        if op.value is None:
            got = await ours.call("delete", op.namespace, op.key)
        else:
            got = await ours.call("put", op.namespace, op.key, op.value)
    elif isinstance(op, GetOp):
        got = await ours.call("get", op.namespace, op.key)
    elif isinstance(op, SearchOp):
        kwargs = {"filter": op.filter, "limit": op.limit, "offset": op.offset}
        if isinstance(expected, Exception):
            with pytest.raises(type(expected)):
                await ours.call("search", op.namespace_prefix, **kwargs)
            return
        got = await ours.call("search", op.namespace_prefix, **kwargs)
    else:
        assert isinstance(op, ListNamespacesOp)
        kw: dict[str, Any] = {"max_depth": op.max_depth, "limit": op.limit, "offset": op.offset}
        for c in op.match_conditions or ():
            kw[c.match_type] = c.path
        got = await ours.call("list_namespaces", **kw)
    assert_same(got, expected, ctx)


def _raises(ref: Ref, op: Op) -> Exception | None:
    """Whether the reference raises on a search (its filter can raise), without running it."""
    if not isinstance(op, SearchOp) or not op.filter:
        return None
    probe = InMemoryStore()
    probe._data = ref.mem._data
    try:
        probe.batch([op])
    except Exception as e:
        return e
    return None


async def run_scenario(ours: Driver, ref: Ref, seed: int, steps: int) -> None:
    rng = random.Random(seed)
    for step in range(steps):
        if rng.random() < 0.35:
            ops = [rand_op(rng) for _ in range(rng.randint(2, 6))]
            await both(ours, ref, ops, (seed, step))
        else:
            op = rand_op(rng)
            if rng.random() < 0.5:
                await via_method(ours, ref, op, (seed, step, op))
            else:
                await both(ours, ref, [op], (seed, step))
    # the final state, everything of it
    final = [SearchOp((), limit=1000)] + [GetOp(ns, k) for ns in NAMESPACES for k in KEYS]
    await both(ours, ref, [*final, ListNamespacesOp(limit=1000)], (seed, "final"))


@pytest.mark.parametrize("seed", range(8))
async def test_random_scenarios_match_inmemory(make: Make, seed: int) -> None:
    ours = await make()
    await run_scenario(ours, Ref(), seed, steps=45)


async def test_explicit_scenario(make: Make) -> None:
    ours, ref = await make(), Ref()
    ops: list[Op] = [
        GetOp(("a",), "missing"),
        SearchOp(("a",)),
        ListNamespacesOp(),
        PutOp(("a",), "k1", {"n": 1, "nested": {"x": 1, "y": "p"}, "tags": ["t1", "t2"]}),
        PutOp(("a", "b"), "k2", {"n": 2, "nested": {"x": 2, "y": "q"}, "tags": []}),
        PutOp(("b",), "k3", {"n": 3, "s": "apple"}),
        PutOp(("a",), "k1", {"n": 10, "nested": {"x": 3, "y": "q"}}),  # last wins
    ]
    got = await both(ours, ref, ops, "first batch")
    assert got[0] is None and got[1] == [] and got[2] == []
    # reads see the state before the batch's puts
    got = await both(
        ours,
        ref,
        [
            GetOp(("a",), "k1"),
            PutOp(("a",), "k1", {"n": 11}),
            GetOp(("a",), "k1"),
            SearchOp(("a",)),
            PutOp(("a", "c"), "k4", {"n": 4}),
            ListNamespacesOp(),
        ],
        "second batch",
    )
    assert got[0].value == {"n": 10, "nested": {"x": 3, "y": "q"}} == got[2].value
    assert got[5] == [("a",), ("a", "b"), ("b",)]
    for f in [
        {"n": {"$gt": 3}},
        {"n": {"$gte": 3}},
        {"n": {"$lt": 3}},
        {"n": {"$lte": 3}},
        {"n": {"$ne": 3}},
        {"n": {"$eq": 3}},
        {"n": 3},
        {"n": {"$gt": 1, "$lte": 4}},
        {"nested": {"x": 2}},
        {"nested": {"x": {"$gte": 2}, "y": "q"}},
        {"tags": []},
        {"tags": ["t1", "t2"]},
        {"s": "apple", "n": 3},
    ]:
        for prefix in [(), ("a",), ("b",)]:
            await both(ours, ref, [SearchOp(prefix, filter=f)], f)
            await both(ours, ref, [SearchOp(prefix, filter=f, limit=1, offset=1)], f)
    for kw in [
        {"prefix": ("a",)},
        {"prefix": ("*", "b")},
        {"suffix": ("b",)},
        {"suffix": ("*",)},
        {"prefix": ("a", "*"), "suffix": ("c",)},
        {"max_depth": 1},
        {"max_depth": 1, "prefix": ("a",)},
        {"limit": 1, "offset": 1},
        {"offset": 10},
    ]:
        conds = []
        if "prefix" in kw:
            conds.append(MatchCondition("prefix", kw["prefix"]))
        if "suffix" in kw:
            conds.append(MatchCondition("suffix", kw["suffix"]))
        op = ListNamespacesOp(
            tuple(conds) or None,
            kw.get("max_depth"),
            kw.get("limit", 100),
            kw.get("offset", 0),
        )
        await both(ours, ref, [op], kw)
        assert await ours.call("list_namespaces", **kw) == ref.batch([op])[0]
    # an update keeps its place; a delete and re-put goes last
    await both(ours, ref, [PutOp(("a",), "k0", {"n": 0})])
    await both(ours, ref, [PutOp(("a",), "k1", {"n": 12})])
    await both(ours, ref, [PutOp(("a",), "k0", None), PutOp(("b",), "k5", {"n": 5})])
    await both(ours, ref, [PutOp(("a",), "k0", {"n": 1})])
    got = await both(ours, ref, [SearchOp(())])
    assert [(i.namespace, i.key) for i in got[0]] == [
        (("a",), "k1"),
        (("a",), "k0"),
        (("a", "b"), "k2"),
        (("b",), "k3"),
        (("b",), "k5"),
        (("a", "c"), "k4"),
    ]


SCALARS: list[Any] = [
    b"x",
    "x",
    1,
    1.0,
    True,
    False,
    "1",
    None,
    [1],
    {"a": 1},
    2**53 + 1,
    2**53 - 1,
    2**60,
    -3,
    0.5,
    1e300,
    "é",
    "",
]


async def test_filters_on_odd_scalars(make: Make) -> None:
    """The server-side judgement of filters (store_search-0.lua) against InMemoryStore's, on
    values msgpack blurs (bytes and str, bool and int, int and float, big ints), with limits
    and offsets that make the script stop early."""
    ours, ref = await make(), Ref()
    ops: list[Op] = [PutOp(("eq",), f"k{i}", {"v": v, "w": i % 3}) for i, v in enumerate(SCALARS)]
    numbers = [v for v in SCALARS if isinstance(v, int | float)]
    ops += [PutOp(("num",), f"k{i}", {"v": v, "w": "ab"[i % 2]}) for i, v in enumerate(numbers)]
    await both(ours, ref, ops)
    operands: list[Any] = ["x", 1, 1.0, True, "1", None, 2**53 - 1, 2**60, "é", -3, 0, "", 1e300]
    filters: list[dict[str, Any]] = []
    for x in operands:
        filters += [{"v": x}, {"v": {"$eq": x}}, {"v": {"$ne": x}}, {"v": x, "w": 1}]
    num_filters: list[dict[str, Any]] = []
    for x in [0, 1, 0.5, -3, 2**53 - 1, 1e300, 2**60]:
        for o in ("$gt", "$gte", "$lt", "$lte"):
            num_filters += [{"v": {o: x}}, {"v": {o: x}, "w": "a"}, {"w": "b", "v": {o: x}}]
    num_filters += [{"v": {"$gt": 0, "$lt": 2}}, {"v": {"$gte": -3, "$ne": 1}}]
    pages = [(10, 0), (1, 0), (1, 1), (2, 1), (3, 0), (1, 4)]
    for ns, flts in ((("eq",), filters), (("num",), filters + num_filters)):
        for f in flts:
            for limit, offset in pages:
                await both(ours, ref, [SearchOp(ns, filter=f, limit=limit, offset=offset)], f)


# -- the documented differences --------------------------------------------------------------


async def test_difference_emptied_namespace_is_not_listed(make: Make) -> None:
    ours, mem = await make(), InMemoryStore()
    for s in (ours, Driver(mem, "sync")):  # type: ignore[arg-type]
        await s.call("put", ("gone", "x"), "k", {"v": 1})
        await s.call("put", ("kept",), "k", {"v": 1})
        await s.call("get", ("touched",), "k")
        await s.call("delete", ("gone", "x"), "k")
    assert mem.list_namespaces() == [("gone", "x"), ("kept",), ("touched",)]
    assert await ours.call("list_namespaces") == [("kept",)]
    assert await ours.call("list_namespaces", max_depth=1) == [("kept",)]
    assert await ours.call("search", ("gone",)) == []
    # a re-put lists it again
    await ours.call("put", ("gone", "x"), "k2", {"v": 2})
    assert await ours.call("list_namespaces") == [("gone", "x"), ("kept",)]


def _inner_calls(c: redis.Redis) -> dict[str, int]:
    """The commands the server ran since the last CONFIG RESETSTAT, a script's own included."""
    skip = {"cmdstat_evalsha", "cmdstat_eval", "cmdstat_config|resetstat", "cmdstat_info"}
    return {k: v["calls"] for k, v in c.info("commandstats").items() if k not in skip}


def test_list_namespaces_reads_only_namespaces_that_may_have_expired(
    real_backend: Backend,
) -> None:
    """A listing expires the namespaces that may hold an expired item (store_nsdue) and reads
    nothing else per namespace: the work inside the script is the same for 5 namespaces as
    for 60. A namespace whose item expired is gone from the listing."""
    assert real_backend.url
    c = redis.Redis.from_url(real_backend.url)
    work = []
    for n in (5, 60):
        with RedisStore.from_conn_string(real_backend.url, prefix=f"lst{n}") as store:
            for i in range(n):
                store.put(("p", f"{i:02d}"), "k", {"v": i})
            store.put(("t",), "k", {"v": 1}, ttl=0.05 / 60)  # expires in 50 ms
            store.put(("u",), "k", {"v": 1}, ttl=1)  # a minute: not due
            store.put(("u",), "j", {"v": 1}, ttl=0.05 / 60)
            store.list_namespaces()  # the script cached on the server
            time.sleep(0.1)
            c.config_resetstat()
            got = store.list_namespaces(limit=1000)
            work.append(_inner_calls(c))
            assert got == [*((("p", f"{i:02d}")) for i in range(n)), ("u",)], got
            assert store.search(("u",)) and not store.search(("t",))
    c.close()
    assert work[0] == work[1], work
    assert work[0]["cmdstat_unlink"] == 3, work  # the two expired items, the emptied log


async def test_difference_update_keeps_created_at(make: Make) -> None:
    ours = await make()
    await ours.call("put", ("t",), "k", {"v": 1})
    first = await ours.call("get", ("t",), "k")
    assert first.created_at == first.updated_at
    await asyncio.sleep(0.01)
    await ours.call("put", ("t",), "k", {"v": 2})
    second = await ours.call("get", ("t",), "k")
    assert second.value == {"v": 2}
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    [found] = await ours.call("search", ("t",))
    assert (found.created_at, found.updated_at) == (second.created_at, second.updated_at)
    # a delete and a re-put is a new item
    await ours.call("delete", ("t",), "k")
    await asyncio.sleep(0.01)
    await ours.call("put", ("t",), "k", {"v": 3})
    third = await ours.call("get", ("t",), "k")
    assert third.created_at > second.updated_at


async def test_search_order_does_not_depend_on_list_namespaces(make: Make) -> None:
    """InMemoryStore keeps an emptied namespace's place in the search order when it is
    filled again; a list_namespaces in between (a read) must not change that."""
    for between in (False, True):
        ours, ref = await make(prefix=f"order{between}"), Ref()
        await both(ours, ref, [PutOp(("a",), "1", {"v": 1})])
        await both(ours, ref, [PutOp(("b",), "2", {"v": 2})])
        await both(ours, ref, [PutOp(("a",), "1", None)])
        if between:
            await both(ours, ref, [ListNamespacesOp()])
        await both(ours, ref, [PutOp(("a",), "3", {"v": 3})])
        await both(ours, ref, [SearchOp(())], f"list_namespaces in between: {between}")


# -- vector search ---------------------------------------------------------------------------

VOCAB = ["red", "apple", "ocean", "blue", "wave", "forest", "green", "quantum", "lecture"]


async def test_vector_search_explicit(make: Make) -> None:
    ours, ref = await make(index=INDEX), Ref(index=INDEX)
    puts: list[tuple[tuple[str, ...], str, dict[str, Any], Any]] = [
        (("docs", "a"), "1", {"text": "red apples", "meta": {"title": "fruit"}, "n": 1}, None),
        (("docs", "a"), "2", {"text": "blue ocean waves", "tags": ["water", "salt"], "n": 2}, None),
        (("docs", "a"), "3", {"other": "quantum physics lecture", "n": 3}, None),  # no field
        (("docs", "a"), "4", {"text": "red cherries", "n": 4}, False),
        (("docs", "b"), "5", {"other": "green forest", "text": "ignored words", "n": 5}, ["other"]),
        (("docs", "b"), "6", {"meta": {"title": "zebra crossing"}, "tags": ["stripes"]}, None),
        (("docs", "b"), "7", {"text": "", "n": 7}, None),  # a zero vector
        (("misc",), "8", {"text": "red ocean", "tags": ["x"], "n": 8}, ["text", "tags[*]"]),
    ]
    for ns, key, value, index in puts:
        if index is None:
            await ours.call("put", ns, key, value)
        else:
            await ours.call("put", ns, key, value, index=index)
        ref.batch([PutOp(ns, key, value, index=index)])
    queries = ["red fruit", "ocean water", "forest", "zzzz", "quantum"]
    for q in queries:
        for prefix in [(), ("docs",), ("docs", "a"), ("docs", "b"), ("misc",)]:
            for flt in [None, {"n": {"$gte": 2}}, {"n": {"$lt": 5}}]:
                for limit, offset in [(10, 0), (2, 0), (2, 1), (3, 2), (1, 5)]:
                    op = SearchOp(prefix, filter=flt, limit=limit, offset=offset, query=q)
                    await both(ours, ref, [op], (q, prefix, flt, limit, offset))
    # scores really differ, the scoreless items come last
    [res] = await both(ours, ref, [SearchOp(("docs",), query="red fruit")])
    scores = [r.score for r in res]
    assert scores[0] is not None and scores[0] > 0.5
    assert [r.key for r in res if r.score is None] == ["3", "4"]
    via = await ours.call("search", ("docs",), query="red fruit")
    assert_search(via, res)
    # several queries and puts in one batch: the searches see the state before the puts
    ops: list[Op] = [
        SearchOp((), query="green"),
        PutOp(("docs", "a"), "9", {"text": "green green grass"}),
        SearchOp(("docs",), query="water", limit=3),
        PutOp(("docs", "a"), "1", {"text": "purple plums", "meta": {"title": "berry"}, "n": 1}),
    ]
    await both(ours, ref, ops, "mixed batch")
    for q in [*queries, "green", "plums"]:
        await both(ours, ref, [SearchOp((), query=q, limit=20)], q)


@pytest.mark.parametrize("seed", range(3))
async def test_vector_search_random(make: Make, seed: int) -> None:
    rng = random.Random(seed)
    ours, ref = await make(index=INDEX), Ref(index=INDEX)
    nss = [("v",), ("v", "a"), ("v", "b"), ("w",)]
    serial = 0

    def text() -> str:
        nonlocal serial
        serial += 1
        return " ".join(rng.sample(VOCAB, rng.randint(1, 3))) + f" {serial}"

    for step in range(20):
        ops: list[Op] = []
        for _ in range(rng.randint(1, 4)):
            r = rng.random()
            if r < 0.7:
                value: dict[str, Any] = {"n": rng.randint(0, 5)}
                if rng.random() < 0.8:
                    value["text"] = text()
                if rng.random() < 0.4:
                    value["meta"] = {"title": text()}
                if rng.random() < 0.4:
                    value["tags"] = [text() for _ in range(rng.randint(1, 3))]
                if rng.random() < 0.3:
                    value["other"] = text()
                index = rng.choice([None, None, None, False, ["other"], ["meta.title"]])
                ops.append(PutOp(rng.choice(nss), f"k{rng.randint(0, 30)}", value, index=index))
            else:
                ops.append(
                    SearchOp(
                        rng.choice([(), ("v",), ("v", "a"), ("w",)]),
                        query=" ".join(rng.sample(VOCAB, 2)),
                        filter=rng.choice([None, {"n": {"$gt": 2}}]),
                        limit=rng.choice([10, 3]),
                        offset=rng.choice([0, 1, 4]),
                    )
                )
        # a re-put of an item is a new item here (InMemoryStore keeps vectors of paths a new
        # value no longer has: not the behaviour under test)
        keys = [(op.namespace, op.key) for op in ops if isinstance(op, PutOp)]
        existing = {(tuple(i.namespace), i.key) for i in ref.mem.search((), limit=10_000)}
        pre = [PutOp(ns, k, None) for ns, k in set(keys) & existing]
        if pre:
            await both(ours, ref, pre, (seed, step, "delete"))
        await both(ours, ref, ops, (seed, step))
    for q in VOCAB:
        await both(ours, ref, [SearchOp((), query=q, limit=100)], (seed, q))


# -- TTL (real servers, real expiry) --------------------------------------------------------

SECOND = 1 / 60  # a TTL of one second, in minutes


def _pttl(url: str, store: Any, ns: tuple[str, ...], key: str) -> int:
    c = redis.Redis.from_url(url)
    try:
        return c.pttl(store._ops.item_key(ns_key(ns), key))
    finally:
        c.close()


def _armed(url: str, store: Any, ns: tuple[str, ...], key: str, ttl_ms: int, since: float) -> None:
    """The item's TTL was set to `ttl_ms` at or after `since` (a `time.monotonic()` taken
    before the call that should have armed it). A busy machine only widens the window."""
    pttl = _pttl(url, store, ns, key)
    left = ttl_ms - (time.monotonic() - since) * 1000
    assert left - 2 <= pttl <= ttl_ms, (ns, key, pttl, round(left))


def test_ttl_per_item_default_and_refresh_on_read(real_backend: Backend) -> None:
    url = real_backend.url
    assert url
    with RedisStore.from_conn_string(url, ttl={"default_ttl": 1.0 * SECOND}) as store:
        store.setup()
        store.put(("t",), "read", {"v": 1})
        armed = time.monotonic()
        store.put(("t",), "unread", {"v": 2})
        store.put(("t",), "persistent", {"v": 3}, ttl=None)
        short = time.monotonic()
        store.put(("t",), "short", {"v": 4}, ttl=0.4 * SECOND)
        store.put(("t", "alone"), "x", {"v": 5})
        store.put(("s",), "a", {"v": 6})
        store.put(("s",), "b", {"v": 7})
        long = time.monotonic()
        store.batch([PutOp(("t",), "long", {"v": 8}, ttl=10 * SECOND)])
        for k in ("x", "y"):  # a search re-arms only the items it returns
            store.put(("lim",), k, {"v": k})
            store.put(("flt",), k, {"v": k})
        assert _pttl(url, store, ("t",), "persistent") == -1
        pttl = _pttl(url, store, ("t",), "short")
        assert 0 < pttl <= 400 or (pttl == -2 and time.monotonic() - short >= 0.4), pttl
        _armed(url, store, ("t",), "long", 10_000, long)
        _armed(url, store, ("t",), "unread", 1000, armed)
        time.sleep(0.5)
        assert store.get(("t",), "short") is None
        for _ in range(4):  # 1.6 s in all, well past the 1 s TTL
            assert store.get(("t",), "read") is not None
            searched = time.monotonic()
            assert len(store.search(("s",))) == 2
            _armed(url, store, ("s",), "b", 1000, searched)
            assert [i.key for i in store.search(("lim",), limit=1)] == ["x"]
            assert [i.key for i in store.search(("flt",), filter={"v": "y"})] == ["y"]
            time.sleep(0.3)
        assert store.get(("t",), "read", refresh_ttl=False).value == {"v": 1}
        assert store.get(("t",), "unread") is None
        assert store.get(("t", "alone"), "x") is None
        assert {i.key for i in store.search(("t",))} == {"read", "persistent", "long"}
        assert [i.key for i in store.search(("s",))] == ["a", "b"]
        assert [i.key for i in store.search(("lim",))] == ["x"]
        assert [i.key for i in store.search(("flt",))] == ["y"]
        assert store.list_namespaces() == [("flt",), ("lim",), ("s",), ("t",)]
        assert store.list_namespaces(prefix=("t",)) == [("t",)]
        assert _pttl(url, store, ("t",), "persistent") == -1
        # an update without a TTL makes an expiring item persistent, and the other way round
        store.put(("t",), "read", {"v": 9}, ttl=None)
        assert _pttl(url, store, ("t",), "read") == -1
        put = time.monotonic()
        store.put(("t",), "persistent", {"v": 10})
        _armed(url, store, ("t",), "persistent", 1000, put)
        # a search's refresh comes before the puts of its batch, which set their own TTL
        store.batch([SearchOp(("t",)), PutOp(("t",), "persistent", {"v": 11}, ttl=None)])
        assert _pttl(url, store, ("t",), "persistent") == -1
        put = time.monotonic()
        store.batch([SearchOp(("t",)), PutOp(("t",), "read", {"v": 12}, ttl=10 * SECOND)])
        _armed(url, store, ("t",), "read", 10_000, put)


def test_ttl_refresh_off(real_backend: Backend) -> None:
    url = real_backend.url
    assert url
    ttl = {"default_ttl": 1.0 * SECOND, "refresh_on_read": False}
    with RedisStore.from_conn_string(url, ttl=ttl) as store:  # type: ignore[arg-type]
        store.put(("r",), "a", {"v": 1})
        store.put(("r",), "b", {"v": 2})
        store.put(("s",), "c", {"v": 3})
        store.put(("u",), "d", {"v": 4})
        store.put(("w",), "e", {"v": 5})
        for _ in range(4):
            time.sleep(0.3)
            store.get(("r",), "a")  # the config says: no refresh
            assert store.get(("r",), "b", refresh_ttl=True) is not None
            store.search(("s",), refresh_ttl=True)
            store.search(("u",))  # no refresh
            store.batch([GetOp(("w",), "e", refresh_ttl=False)])
        assert store.get(("r",), "a") is None
        assert store.get(("r",), "b") is not None
        assert [i.key for i in store.search(("s",))] == ["c"]
        assert store.search(("u",)) == [] and store.search(("w",)) == []
        assert store.list_namespaces() == [("r",), ("s",)]


async def test_ttl_async(real_backend: Backend) -> None:
    url = real_backend.url
    assert url
    async with AsyncRedisStore.from_conn_string(url, ttl={"default_ttl": 1.2 * SECOND}) as st:
        await st.asetup()
        await st.aput(("q",), "kept", {"v": 1})
        await st.aput(("q",), "dropped", {"v": 2})
        await st.aput(("q", "p"), "searched", {"v": 3})
        await st.aput(("q",), "forever", {"v": 4}, ttl=None)
        await asyncio.sleep(0.6)  # (margins of 0.55 s and more: a busy machine only delays)
        assert (await st.aget(("q",), "kept")) is not None
        assert len(await st.asearch(("q", "p"))) == 1
        await asyncio.sleep(0.65)
        assert (await st.aget(("q",), "dropped")) is None
        assert (await st.aget(("q",), "kept", refresh_ttl=False)) is not None
        got = await st.asearch(("q",), refresh_ttl=False)
        assert {(i.namespace, i.key) for i in got} == {
            (("q",), "kept"),
            (("q",), "forever"),
            (("q", "p"), "searched"),
        }
        assert await st.alist_namespaces() == [("q",), ("q", "p")]
        await asyncio.sleep(0.6)
        assert [i.key for i in await st.asearch(("q",))] == ["forever"]
        assert await st.alist_namespaces() == [("q",)]


async def test_ttl_config_is_validated() -> None:
    # unknown keys are ignored, as the incumbent does, with a warning naming them
    with pytest.warns(UserWarning, match="default_tll"):
        RedisStore("redis://localhost:1", ttl={"default_tll": 1})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(TypeError):
        RedisStore("redis://localhost:1", ttl=1)  # type: ignore[arg-type]
    with pytest.warns(UserWarning, match="bogus"):
        AsyncRedisStore("redis://localhost:1", ttl={"bogus": True})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(ValueError):
        RedisStore()
    with pytest.raises(ValueError):
        RedisStore("redis://localhost:1", redis_client=redis.Redis())
    assert RedisStore("redis://localhost:1").supports_ttl


# -- odd namespaces and keys -----------------------------------------------------------------

ODD_LABELS = [
    "a:b",
    "a",
    "b",
    "b:",
    ":b",
    "{x}",
    "}",
    "{",
    "*",
    "a b",
    "ü",
    "日本",
    "%",
    "%25",
    "a%3Ab",
    "%3A",
    "?",
    "[x]",
    "\\",
    "\t",
    "ab",
]
ODD_KEYS = ["", ".", ":", "{", "}", "*", "%", "%3A", "a b", "é", "k:1", "{k}", "%%", "\n"]


async def test_odd_namespaces_and_keys_stay_isolated(make: Make) -> None:
    ours, ref = await make(), Ref()
    namespaces = [(label,) for label in ODD_LABELS] + [
        ("a", "b"),
        ("a", "b:"),
        ("a:b", "c"),
        ("a", "b", "c"),
        ("{x}", "}"),
        ("*", "*"),
        ("%", "%"),
        ("a", "%3Ab"),
    ]
    ops: list[Op] = []
    for i, ns in enumerate(namespaces):
        for j, key in enumerate(ODD_KEYS):
            if (i + j) % 3 == 0:
                ops.append(PutOp(ns, key, {"ns": list(ns), "key": key, "i": i, "j": j}))
    await both(ours, ref, ops)
    for ns in namespaces:
        await both(ours, ref, [GetOp(ns, k) for k in ODD_KEYS], ns)
        await both(ours, ref, [SearchOp(ns, limit=100)], ns)
        for i in range(len(ns)):
            await both(ours, ref, [SearchOp(ns[: i + 1], limit=1000)], ns[: i + 1])
        cond = (MatchCondition("prefix", ns),)
        await both(ours, ref, [ListNamespacesOp(cond, limit=1000)], ns)
        cond = (MatchCondition("suffix", ns),)
        await both(ours, ref, [ListNamespacesOp(cond, limit=1000)], ns)
    await both(ours, ref, [SearchOp((), limit=1000), ListNamespacesOp(limit=1000)])
    await both(ours, ref, [ListNamespacesOp(max_depth=1, limit=1000)])
    # convenience methods with odd keys, and deletes that touch nothing else
    for key in ("", ".", "%3A"):
        await ours.call("put", ("a", "b"), key, {"k": key})
        ref.batch([PutOp(("a", "b"), key, {"k": key})])
        assert (await ours.call("get", ("a", "b"), key)).value == {"k": key}
        await both(ours, ref, [GetOp(("a:b",), key), GetOp(("a", "b:"), key)], key)
    await both(ours, ref, [PutOp(("a", "b"), k, None) for k in ("", ".", "%3A")])
    await both(ours, ref, [SearchOp((), limit=1000), ListNamespacesOp(limit=1000)], "deleted")


async def test_basestore_refuses_bad_labels(make: Make) -> None:
    ours = await make()
    for bad in [("a.b",), ("a", ""), ("",), ("a\x00",), (), ("langgraph", "x")]:
        with pytest.raises(InvalidNamespaceError):
            await ours.call("put", bad, "k", {"v": 1})
    assert await ours.call("list_namespaces") == []
    with pytest.raises(InvalidNamespaceError):
        await ours.call("delete", ("x.y",), "k")


async def test_prefixes_are_separate_stores(make: Make) -> None:
    one, two = await make(prefix="one"), await make(prefix="two")
    await one.call("put", ("n",), "k", {"v": 1})
    await two.call("put", ("n",), "k", {"v": 2})
    await two.call("put", ("m",), "k", {"v": 3})
    assert (await one.call("get", ("n",), "k")).value == {"v": 1}
    assert (await two.call("get", ("n",), "k")).value == {"v": 2}
    assert [i.value for i in await one.call("search", ())] == [{"v": 1}]
    assert await one.call("list_namespaces") == [("n",)]
    assert await two.call("list_namespaces") == [("m",), ("n",)]


# -- the async store's sync methods -----------------------------------------------------------


async def test_async_store_sync_methods_from_another_thread(backend: Backend) -> None:
    store = await _open(backend, "async")
    try:
        await store.aput(("t",), "k", {"v": 1})
        got = await asyncio.to_thread(store.get, ("t",), "k")
        assert got is not None and got.value == {"v": 1}
        await asyncio.to_thread(store.put, ("t",), "k2", {"v": 2})
        assert len(await store.asearch(("t",))) == 2
    finally:
        await _close(store)


def test_async_store_sync_call_in_its_own_loop_raises(real_backend: Backend) -> None:
    """A sync call on the event loop's own thread cannot wait for that loop: it must raise
    (AsyncPostgresStore raises asyncio.InvalidStateError), not hang."""
    outcome: list[Any] = []

    def thread() -> None:
        async def body() -> None:
            store = AsyncRedisStore(real_backend.url)
            await store.aput(("t",), "k", {"v": 1})
            try:
                store.get(("t",), "k")
                outcome.append("returned")
            except BaseException as e:
                outcome.append(e)
            await store.aclose()

        asyncio.run(body())

    t = threading.Thread(target=thread, daemon=True)
    t.start()
    t.join(3)
    assert not t.is_alive(), "AsyncRedisStore.get() on its own event loop's thread hangs"
    assert outcome and isinstance(outcome[0], asyncio.InvalidStateError), outcome


# -- round trips -----------------------------------------------------------------------------


@contextmanager
def sends() -> Iterator[list[int]]:
    """Counts the packets the clients send (one per round trip, a pipeline is one)."""
    count: list[int] = []
    originals = (
        sconnection.AbstractConnection.send_packed_command,
        aconnection.AbstractConnection.send_packed_command,
    )

    def sync_send(self: Any, *args: Any, **kwargs: Any) -> Any:
        count.append(1)
        return originals[0](self, *args, **kwargs)

    async def async_send(self: Any, *args: Any, **kwargs: Any) -> Any:
        count.append(1)
        return await originals[1](self, *args, **kwargs)

    sconnection.AbstractConnection.send_packed_command = sync_send  # type: ignore[method-assign]
    aconnection.AbstractConnection.send_packed_command = async_send  # type: ignore[method-assign]
    try:
        yield count
    finally:
        sconnection.AbstractConnection.send_packed_command = originals[0]  # type: ignore[method-assign]
        aconnection.AbstractConnection.send_packed_command = originals[1]  # type: ignore[method-assign]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_round_trips(real_backend: Backend, asynchronous: bool) -> None:
    url = real_backend.url
    assert url
    store: Any = (AsyncRedisStore if asynchronous else RedisStore)(url, index=INDEX)
    d = Driver(store, "async" if asynchronous else "sync")
    if asynchronous:
        await store.setup()
    else:
        store.setup()
    for i in range(5):  # warm: connection open, scripts cached
        await d.call("put", ("rt", str(i % 2)), f"k{i}", {"text": f"item {i}", "n": i})

    async def measure(fn: Callable[[], Awaitable[Any]]) -> tuple[list[str], int, Any]:
        with Monitor(url) as m, sends() as count:
            out = await fn()
        return m.verbs(), len(count), out

    gets = [GetOp(("rt", str(i % 2)), f"k{i}") for i in range(5)] + [GetOp(("no",), "x")]
    verbs, trips, out = await measure(lambda: d.batch(gets))
    assert verbs == ["EVALSHA"] * 6 and trips == 1, (verbs, trips)
    assert [o.value["n"] for o in out[:5]] == list(range(5)) and out[5] is None

    verbs, trips, _ = await measure(lambda: d.call("put", ("rt", "0"), "new", {"text": "x"}))
    assert verbs == ["EVALSHA"] and trips == 1, (verbs, trips)
    verbs, trips, _ = await measure(lambda: d.call("delete", ("rt", "0"), "new"))
    assert verbs == ["EVALSHA"] and trips == 1, (verbs, trips)
    verbs, trips, out = await measure(lambda: d.call("get", ("rt", "1"), "k1"))
    assert verbs == ["EVALSHA"] and trips == 1 and out.value["n"] == 1, (verbs, trips)
    verbs, trips, out = await measure(lambda: d.call("search", ("rt",), query="item 3"))
    assert verbs == ["EVALSHA"] and trips == 1 and len(out) == 5, (verbs, trips)
    verbs, trips, out = await measure(lambda: d.call("list_namespaces"))
    assert verbs == ["EVALSHA"] and trips == 1, (verbs, trips)
    assert out == [("rt", "0"), ("rt", "1")]

    mixed: list[Op] = [
        GetOp(("rt", "0"), "k0"),
        PutOp(("rt", "0"), "k0", {"text": "changed", "n": 0}),
        SearchOp(("rt",), filter={"n": {"$gt": 1}}),
        PutOp(("rt", "2"), "k9", {"text": "nine", "n": 9}),
        ListNamespacesOp(),
        PutOp(("rt", "1"), "k1", None),
    ]
    verbs, trips, out = await measure(lambda: d.batch(mixed))
    assert verbs == ["EVALSHA"] * 6 and trips == 2, (verbs, trips)
    assert out[0].value["text"] == "item 0" and len(out[2]) == 3
    assert out[4] == [("rt", "0"), ("rt", "1")]
    verbs, trips, out = await measure(lambda: d.batch([PutOp(("rt", "3"), "a", {"n": 1})] * 3))
    assert verbs == ["EVALSHA"] and trips == 1, (verbs, trips)
    if asynchronous:
        await store.aclose()
    else:
        store.close()


async def test_from_conn_string_and_setup(real_backend: Backend) -> None:
    url = real_backend.url
    assert url
    with RedisStore.from_conn_string(url, index=INDEX) as store:
        store.setup()
        store.setup()  # idempotent
        store.put(("c",), "k", {"text": "red apple"})
        [hit] = store.search(("c",), query="red apple")
        assert hit.score is not None and abs(hit.score - 1.0) < TOL
    async with AsyncRedisStore.from_conn_string(url, index=INDEX) as astore:
        await astore.setup()
        await astore.asetup()
        [hit] = await astore.asearch(("c",), query="red apple")
        assert hit.key == "k" and abs(hit.score - 1.0) < TOL  # type: ignore[operator]
        # a store works without setup() too (scripts are re-sent when the server lacks them)
        c = redis.Redis.from_url(url)
        c.script_flush()
        c.close()
        assert (await astore.aget(("c",), "k")).value == {"text": "red apple"}  # type: ignore[union-attr]
