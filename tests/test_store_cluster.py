"""RedisStore's searches and namespace listings on a Redis Cluster: one script call per master.

store_search-0.lua and store_namespaces-0.lua take no keys: on a cluster the store sends each
master one call (a FanOut) with the suffixes of that master's buckets, the call finds which of
them hold namespaces and reads them, and the client merges the masters' replies in
InMemoryStore's order (ops.StoreOps._spread / _merge). What is checked here, counted by the
servers (INFO commandstats of each master) and against InMemoryStore:
- a search over a prefix and a listing are one script call on each master, sync and async, and
  a batch of gets, searches and listings sends each master its spanning calls together;
- a refreshing search re-arms exactly the items it returns (no master can know the page: the
  client re-arms the page's items that have a TTL, one store_get each), and one that does not
  refresh re-arms nothing;
- pages are exact across masters even when two namespaces of different buckets carry the same
  first-put stamp (the masters and the client order ties by the namespaces' bytes);
- a master whose buckets hold vectors of other dimensions than another's makes a query raise;
- while a slot migrates, a listing or a search that would read it is refused before it changed
  anything (each bucket's fence is touched first), and is retried until the slot has moved;
- a listing reads only the namespaces under its prefix.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from langgraph.checkpoint.redis.keys import GROUP, group_tag, slot
from langgraph.store.base import GetOp, ListNamespacesOp, PutOp, SearchOp
from langgraph.store.memory import InMemoryStore
from langgraph.store.redis import AsyncRedisStore, RedisStore
from langgraph.store.redis.ops import ns_key

from .cluster import Cluster
from .conftest import Backend, _start
from .test_store import DIMS, SECOND, embed

LONG = 10 * SECOND  # a TTL nothing reaches during a test


@pytest.fixture
def cluster() -> Iterator[Backend]:
    """The session's 3-master Valkey cluster, flushed."""
    b = _start("cluster")
    b.flush()
    yield b


def _server(b: Backend) -> Cluster:
    assert isinstance(b.server, Cluster)
    return b.server


def _spread(n: int, top: str = "mem") -> list[tuple[str, ...]]:
    return [(top, f"user{i}", "notes") for i in range(n)]


def _bucket_slot(ns: tuple[str, ...]) -> int:
    return slot(group_tag(ns_key(ns))[1:-1])


def _script_calls(cl: Cluster) -> list[int]:
    """EVALSHA + EVAL calls so far, per master (in cl.masters() order)."""
    out = []
    for m in cl.masters():
        c = cl.node_client(m)
        try:
            stats = c.info("commandstats")
        finally:
            c.close()
        out.append(
            sum(int(stats.get(k, {}).get("calls", 0)) for k in ("cmdstat_evalsha", "cmdstat_eval"))
        )
    return out


def _calls(cl: Cluster, fn: Callable[[], Any]) -> tuple[list[int], Any]:
    before = _script_calls(cl)
    out = fn()
    return [a - b for a, b in zip(_script_calls(cl), before, strict=True)], out


def _shape(results: list[Any]) -> list[Any]:
    out: list[Any] = []
    for r in results:
        if isinstance(r, list):
            out.append([x if isinstance(x, tuple) else (x.namespace, x.key, x.value) for x in r])
        else:
            out.append(None if r is None else (r.namespace, r.key, r.value))
    return out


def _puts(namespaces: list[tuple[str, ...]], ttl: float | None = None) -> list[PutOp]:
    return [
        PutOp(ns, f"k{k}", {"i": i, "k": k, "tag": "ab"[(i + k) % 2], "s": str(i)}, ttl=ttl)
        for i, ns in enumerate(namespaces)
        for k in range(3)
    ]


# -- one call per master ----------------------------------------------------------------------


def test_search_and_listing_are_one_call_per_master(cluster: Backend) -> None:
    """A search over a prefix that spans the masters and a namespace listing are one script
    call on each master (no round trip first to find the buckets, none per bucket); a search
    with a filter that makes the masters stop early too; results are InMemoryStore's."""
    cl = _server(cluster)
    namespaces = _spread(30)
    assert len({cl.slot_owner(_bucket_slot(ns)).port for ns in namespaces}) == 3
    mem = InMemoryStore()
    mem.batch(_puts(namespaces))
    with RedisStore.from_conn_string(cluster.url) as store:
        store.setup()
        store.batch(_puts(namespaces))
        for call in (
            lambda s: s.search(("mem",), limit=5),
            lambda s: s.search(("mem",), filter={"tag": "a"}, limit=4, offset=3),
            lambda s: s.search((), limit=100),
            lambda s: s.list_namespaces(prefix=("mem",)),
            lambda s: s.list_namespaces(max_depth=2),
        ):
            per_master, got = _calls(cl, lambda c=call: c(store))  # type: ignore[misc]
            assert per_master == [1, 1, 1], per_master
            want = call(mem)
            assert _shape([got]) == _shape([want])


async def test_async_batch_sends_each_master_its_spanning_calls(cluster: Backend) -> None:
    """AsyncRedisStore: a batch of a get, two searches and a listing sends each master the
    three spanning calls once (and the get to its own master), alongside; the results are
    InMemoryStore's."""
    cl = _server(cluster)
    namespaces = _spread(24)
    mem = InMemoryStore()
    mem.batch(_puts(namespaces))
    reads = [
        GetOp(namespaces[0], "k1"),
        SearchOp(("mem",), limit=7, offset=2),
        SearchOp(("mem",), filter={"tag": "b"}, limit=3),
        ListNamespacesOp(match_conditions=None, max_depth=None, limit=10, offset=4),
    ]
    async with AsyncRedisStore.from_conn_string(cluster.url) as store:
        await store.setup()
        await store.abatch(_puts(namespaces))
        before = _script_calls(cl)
        got = await store.abatch(reads)
        per_master = [a - b for a, b in zip(_script_calls(cl), before, strict=True)]
        assert _shape(got) == _shape(mem.batch(reads))
        owner = [m.port for m in cl.masters()].index(
            cl.slot_owner(_bucket_slot(namespaces[0])).port
        )
        assert per_master == [3 + (i == owner) for i in range(3)], per_master
        for _ in range(2):  # and a lone search, twice: one call per master each time
            before = _script_calls(cl)
            await store.asearch(("mem",), limit=5)
            assert [a - b for a, b in zip(_script_calls(cl), before, strict=True)] == [1, 1, 1]


# -- TTL: the page the merge returns, and nothing else, is re-armed -----------------------------


def _deadlines(rc: Any, store: Any, items: list[tuple[tuple[str, ...], str]]) -> dict[Any, int]:
    return {
        (ns, k): int(rc.execute_command("PEXPIRETIME", store._ops.item_key(ns_key(ns), k)))
        for ns, k in items
    }


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_refreshing_search_rearms_exactly_its_page(cluster: Backend, kind: str) -> None:
    """Items with a TTL and without, spread over the masters: a refreshing search re-arms
    exactly the items it returns that have a TTL (their PEXPIRETIME moves, no other item's
    does), with one store_get each after the masters' one call; without refresh only the one
    call per master, and nothing moves. Sure and unsure filters, offsets, pages that end
    inside a master's share."""
    cl = _server(cluster)
    namespaces = _spread(12)
    persistent = {(ns, "k2") for ns in namespaces[::2]}  # put without a TTL
    ops = []
    for op in _puts(namespaces, ttl=LONG):
        ops.append(
            PutOp(op.namespace, op.key, op.value, ttl=None)
            if (op.namespace, op.key) in persistent
            else op
        )
    mem = InMemoryStore()
    mem.batch(ops)
    everything = [(op.namespace, op.key) for op in ops]
    cases: list[dict[str, Any]] = [
        {"limit": 5},
        {"limit": 4, "offset": 6},
        {"limit": 100},
        {"filter": {"tag": "a"}, "limit": 3, "offset": 2},  # sure verdicts: masters stop early
        {"filter": {"i": {"$gte": 7}}, "limit": 4, "offset": 1},
        {"filter": {"s": {"$gt": 4}}, "limit": 4, "offset": 3},  # a string under a range: unsure
        {"filter": {"k": {"$lt": 2}}, "limit": 30, "offset": 5},
    ]
    rc = cl.sync_client()
    store: Any = (RedisStore if kind == "sync" else AsyncRedisStore)(
        cluster.url, ttl={"default_ttl": LONG}
    )

    async def call(name: str, *args: Any, **kwargs: Any) -> Any:
        if kind == "sync":
            return getattr(store, name)(*args, **kwargs)
        return await getattr(store, "a" + name)(*args, **kwargs)

    try:
        if kind == "sync":
            store.setup()
        else:
            await store.setup()
        await call("batch", ops)
        for case in cases:
            for refresh in (True, False):
                before = _deadlines(rc, store, everything)
                time.sleep(0.003)  # the servers' clocks move: a re-armed deadline is later
                b = _script_calls(cl)
                got = await call("search", ("mem",), refresh_ttl=refresh, **case)
                per_master = [x - y for x, y in zip(_script_calls(cl), b, strict=True)]
                want = mem.search(("mem",), **case)
                assert _shape([got]) == _shape([want]), case
                after = _deadlines(rc, store, everything)
                returned = {(tuple(i.namespace), i.key) for i in got}
                armed = returned - persistent if refresh else set()
                moved = {i for i in everything if after[i] != before[i]}
                assert moved == armed, (case, refresh, moved ^ armed)
                assert all(after[i] > before[i] for i in moved), case
                assert all(after[i] == -1 for i in persistent), case
                assert min(per_master) >= 1 and sum(per_master) == 3 + len(armed), (
                    case,
                    refresh,
                    per_master,
                )
    finally:
        if kind == "sync":
            store.close()
        else:
            await store.aclose()
        rc.close()


# -- paging across masters ----------------------------------------------------------------------


def test_pages_are_exact_when_stamps_tie(cluster: Backend) -> None:
    """Every namespace's first-put stamp set to the same value (as two processes may stamp in
    the same microsecond), on every master and in several buckets of each: the order is the
    namespaces' bytes, then insertion, and every page (limit 1 at each offset, with and without
    a filter that stops the masters early) is the full result's slice."""
    cl = _server(cluster)
    namespaces = _spread(15)
    rc = cl.sync_client()
    try:
        with RedisStore.from_conn_string(cluster.url) as store:
            store.setup()
            store.batch(_puts(namespaces))
            for ns in namespaces:
                nse = ns_key(ns)
                assert rc.hset(f"store_nsseq:{group_tag(nse)}", nse, 7) == 0
            for flt in (None, {"tag": "a"}):
                full = store.search(("mem",), filter=flt, limit=100)
                by_bytes = sorted(namespaces, key=lambda n: ns_key(n).encode())
                assert [tuple(i.namespace) for i in full] == [
                    ns
                    for ns in by_bytes
                    for k in range(3)
                    if not flt or "ab"[(namespaces.index(ns) + k) % 2] == "a"
                ]
                for at in range(len(full) + 1):
                    page = store.search(("mem",), filter=flt, limit=1, offset=at)
                    assert [(i.namespace, i.key) for i in page] == [
                        (i.namespace, i.key) for i in full[at : at + 1]
                    ], (flt, at)
    finally:
        rc.close()


# -- vectors of other dimensions on another master ---------------------------------------------


def test_query_raises_when_masters_hold_other_dimensions(cluster: Backend) -> None:
    """Two namespaces on different masters hold vectors of 16 and of 8 dimensions (each bucket
    checks only its own): a query over both raises ValueError; one over the 16-dimension
    namespace alone answers."""
    cl = _server(cluster)
    spread = _spread(40)
    first = spread[0]
    owner = cl.slot_owner(_bucket_slot(first)).port
    other = next(ns for ns in spread if cl.slot_owner(_bucket_slot(ns)).port != owner)

    def embed8(texts: list[str]) -> list[list[float]]:
        return [v[:8] for v in embed(texts)]

    index16 = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    with (
        RedisStore.from_conn_string(cluster.url, index=index16) as a,  # type: ignore[arg-type]
        RedisStore.from_conn_string(
            cluster.url,
            index={"dims": 8, "embed": embed8, "fields": ["text"]},  # type: ignore[arg-type]
        ) as b,
    ):
        a.setup()
        b.setup()
        a.put(first, "x", {"text": "red apple"})
        b.put(other, "y", {"text": "ocean wave"})
        with pytest.raises(ValueError, match="several"):
            a.search(("mem",), query="red")
        assert [i.key for i in a.search(first, query="red")] == ["x"]


# -- a migrating slot ---------------------------------------------------------------------------


def _on(c: redis.Redis, key: str) -> bool:
    """Whether the migrating slot's source still holds `key` (it answers ASK for one it
    lacks)."""
    try:
        return bool(c.exists(key))
    except redis.exceptions.AskError:
        return False


def test_fan_out_is_refused_on_a_migrating_slot_before_any_change() -> None:
    """A namespace's slot migrates, and only its index has moved yet; its bucket says one of
    its items is due to expire (crafted: the item itself is there, without a TTL). Called on
    the source master, the listing and the search are refused ("non local key") before they
    remove anything: without the fence each would delete the item, then fail on the index. The
    store's own listing and search, started during the migration, are retried until the slot
    has moved and then see every live namespace and item."""
    with Cluster(None, masters=3) as cl:
        ns = ("mig", "n")
        nse = ns_key(ns)
        b = group_tag(nse)
        target = slot(b[1:-1])
        assert target % GROUP == 0
        with RedisStore.from_conn_string(cl.url) as store:
            store.setup()
            for k in ("k0", "k1", "k2"):
                store.put(ns, k, {"k": k})
            store.put(("mig", "elsewhere"), "e", {"k": "e"})
            source = cl.slot_owner(target)
            dest = next(m for m in cl.masters() if m is not source)
            c = cl.node_client(source)
            item = store._ops.item_key(nse, "k0")
            c.zadd(f"store_exp:{b}{nse}", {"k0": 1})
            c.zadd(f"store_nsdue:{b}", {nse: 1})
            m = cl.begin_migration(target, dest)
            found: dict[str, Any] = {}
            try:
                assert m.move_keys(keys=[f"store_keys:{b}{nse}"]) == 1
                groups = store._ops._groups_of([f":{b}"])
                s = store._ops.s
                lister = s["store_namespaces"].cross
                search = s["store_search"].cross
                assert lister is not None and search is not None
                for script, args in (
                    (lister, ["store", groups, "mig", ""]),
                    (search, ["store", groups, "mig", "", "page", 0, 10, "0", "1", "1", 0]),
                ):
                    with pytest.raises(redis.ResponseError, match="non local key"):
                        c.evalsha(script.sha, 0, *args)
                    assert _on(c, item), script.name
                    assert c.zscore(f"store_nsdue:{b}", nse) == 1, script.name

                def read() -> None:
                    try:
                        found["ns"] = store.list_namespaces(prefix=("mig",))
                        found["items"] = store.search(("mig",), limit=10)
                    except Exception as e:  # pragma: no cover - reported below
                        found["error"] = e

                reader = threading.Thread(target=read)
                reader.start()
                time.sleep(0.5)
                assert reader.is_alive()  # retrying while the slot moves
            finally:
                m.finish()
                c.close()
            reader.join(30)
            assert not reader.is_alive() and "error" not in found, found
            # k0 was due (the crafted mirror): the first reader after the move expired it
            assert found["ns"] == [("mig", "elsewhere"), ns]
            assert sorted(i.key for i in found["items"]) == ["e", "k1", "k2"]


# -- a listing reads only under its prefix --------------------------------------------------------


def _listing_reads_only_under_its_prefix(url: str, c: Any) -> None:
    with RedisStore.from_conn_string(url, prefix="lp") as store:
        store.setup()
        store.put(("p", "a"), "k", {"v": 1})
        store.put(("p", "b"), "k", {"v": 2}, ttl=0.05 / 60)  # expires in 50 ms
        store.put(("q",), "k", {"v": 3}, ttl=0.05 / 60)
        time.sleep(0.1)
        ops = store._ops
        tags = {
            ns: ops.item_key(ns_key(ns), "k")[len("lp:") : -len(":k")]
            for ns in [("p", "b"), ("q",)]
        }
        index = {ns: f"lp_keys:{tag}" for ns, tag in tags.items()}
        assert all(c.zcard(k) == 1 for k in index.values())  # the mirror not yet processed
        assert store.list_namespaces(prefix=("p",)) == [("p", "a")]
        assert c.zcard(index[("p", "b")]) == 0  # read, due, expired
        assert c.zcard(index[("q",)]) == 1  # outside the prefix: not read
        assert store.list_namespaces(prefix=("*",)) == [("p", "a")]  # a wildcard: all read
        assert c.zcard(index[("q",)]) == 0


def test_listing_reads_only_under_its_prefix_on_a_cluster(cluster: Backend) -> None:
    """On a cluster, list_namespaces(prefix=...) reads (and expires the due namespaces of)
    only the namespaces under the prefix's labels before its first wildcard, so a master
    touches only the buckets that list one: a due namespace outside it keeps its entries
    until a listing that covers it. (One server reads its one listing whole.)"""
    c = _server(cluster).sync_client()
    try:
        _listing_reads_only_under_its_prefix(cluster.url, c)
    finally:
        c.close()
