"""The incumbent's public names and behaviours that its users' code meets (issue 13), written
from its documented API: every name it exports, `await saver.setup()`, `saver.loop` after
`async with`, get_channel_values, MessageExporter, and the stores' constructor forms, TTL
sweeper, client info and microsecond `updated_at`. Each runs against real servers (and the
cluster lanes: tests/conftest.py, CLUSTER_MODULES)."""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from datetime import datetime, timezone
from typing import Annotated, Any, TypedDict

import pytest
import redis
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.redis import (
    AsyncRedisSaver,
    AsyncShallowRedisSaver,
    BaseRedisSaver,
    LangChainRecipe,
    MessageExporter,
    MessageRecipe,
    RedisSaver,
    ShallowRedisSaver,
)
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.store.redis import AsyncRedisStore, RedisStore

from .conftest import Backend

# the incumbent 0.5.2's `langgraph.checkpoint.redis.__all__`, from its documentation
INCUMBENT_NAMES = [
    "__version__",
    "__lib_name__",
    "RedisSaver",
    "AsyncRedisSaver",
    "BaseRedisSaver",
    "ShallowRedisSaver",
    "AsyncShallowRedisSaver",
    "MessageExporter",
    "LangChainRecipe",
    "MessageRecipe",
]


def test_every_public_name_of_the_incumbent_imports() -> None:
    mod = importlib.import_module("langgraph.checkpoint.redis")
    for name in INCUMBENT_NAMES:
        assert hasattr(mod, name), name
        assert name in mod.__all__, name
    version = importlib.import_module("langgraph.checkpoint.redis.version")
    assert version.__version__ == mod.__version__ != ""
    assert version.__lib_name__ == f"langgraph-checkpoint-redis-lua_v{mod.__version__}"
    assert " " not in version.__full_lib_name__  # CLIENT SETINFO refuses spaces
    for cls in (RedisSaver, AsyncRedisSaver, ShallowRedisSaver, AsyncShallowRedisSaver):
        assert issubclass(cls, BaseRedisSaver)
    exporter = importlib.import_module("langgraph.checkpoint.redis.message_exporter")
    assert exporter.MessageExporter is MessageExporter
    assert isinstance(LangChainRecipe(), MessageRecipe)


# -- the async savers' setup and loop --------------------------------------------------------


@pytest.mark.parametrize("cls", [AsyncRedisSaver, AsyncShallowRedisSaver])
async def test_await_setup_on_the_async_savers(backend: Backend, cls: type) -> None:
    """`await saver.setup()` (the incumbent's and AsyncPostgresSaver's form) sets up."""
    raw = backend.sync_client()
    try:
        async with cls(**backend.saver_kwargs(True)) as saver:
            assert saver.loop is asyncio.get_running_loop()  # bound on entering
            assert await saver.setup() is None
            await saver.setup()  # idempotent
            assert any(k.startswith(b"checkpoint") for k in _keys(backend, raw))
    finally:
        raw.close()


async def test_sync_calls_from_a_thread_right_after_async_with(backend: Backend) -> None:
    """`saver.loop` is set by `async with`, so a worker thread may call the sync API before
    any a* call was made (and setup() from that thread runs on the saver's loop)."""
    async with AsyncRedisSaver(**backend.saver_kwargs(True)) as saver:
        got: list[Any] = []

        def work() -> None:
            saver.setup()  # from another thread: runs there and returns None
            got.append(saver.get_tuple({"configurable": {"thread_id": "none"}}))

        t = threading.Thread(target=work)
        t.start()
        while t.is_alive():
            await asyncio.sleep(0.01)
        assert got == [None]


def _keys(backend: Backend, raw: Any) -> list[bytes]:
    if hasattr(raw, "get_nodes"):
        return list(raw.scan_iter(target_nodes=raw.ALL_NODES))  # type: ignore[attr-defined]
    return list(raw.scan_iter())


# -- get_channel_values ----------------------------------------------------------------------


def _checkpoint(n: int) -> Any:
    c = empty_checkpoint()
    c["channel_values"] = {"messages": [f"m{i}" for i in range(n)], "count": n}
    c["channel_versions"] = {"messages": f"{n:032}.0", "count": f"{n:032}.0"}
    return c


@pytest.mark.parametrize("cls", [RedisSaver, ShallowRedisSaver])
def test_get_channel_values_sync(backend: Backend, cls: type) -> None:
    with cls.from_conn_string(**_url_or_client(backend, False)) as saver:
        saver.setup()
        config: Any = {"configurable": {"thread_id": "cv", "checkpoint_ns": ""}}
        c1, c2 = _checkpoint(1), _checkpoint(2)
        first = saver.put(config, c1, {"step": 1}, c1["channel_versions"])
        last = saver.put(first, c2, {"step": 2}, c2["channel_versions"])
        want = saver.get_tuple(last).checkpoint["channel_values"]
        assert saver.get_channel_values("cv") == want == {"messages": ["m0", "m1"], "count": 2}
        cid = last["configurable"]["checkpoint_id"]
        assert saver.get_channel_values("cv", "", cid) == want
        assert saver.get_channel_values("cv", checkpoint_ns="sub") == {}
        assert saver.get_channel_values("nobody") == {}
        with pytest.raises(TypeError, match="thread_id"):
            saver.get_channel_values(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [AsyncRedisSaver, AsyncShallowRedisSaver])
async def test_get_channel_values_async(backend: Backend, cls: type) -> None:
    async with cls.from_conn_string(**_url_or_client(backend, True)) as saver:
        await saver.setup()
        config: Any = {"configurable": {"thread_id": "cv", "checkpoint_ns": ""}}
        c = _checkpoint(3)
        done = await saver.aput(config, c, {"step": 1}, c["channel_versions"])
        want = {"messages": ["m0", "m1", "m2"], "count": 3}
        assert await saver.aget_channel_values("cv") == want
        cid = done["configurable"]["checkpoint_id"]
        assert await saver.aget_channel_values("cv", "", cid) == want
        assert await saver.aget_channel_values("nobody") == {}
        # the sync form, from a worker thread while the loop runs
        assert await asyncio.to_thread(saver.get_channel_values, "cv") == want


def _url_or_client(backend: Backend, asynchronous: bool) -> dict[str, Any]:
    kw = backend.saver_kwargs(asynchronous)
    return kw if "redis_url" in kw else {"redis_client": kw["redis_client"]}


# -- MessageExporter --------------------------------------------------------------------------


class State(TypedDict):
    messages: Annotated[list[Any], add_messages]


def _chat_graph(saver: Any) -> Any:
    def reply(state: State) -> dict[str, Any]:
        last = state["messages"][-1]
        return {"messages": [AIMessage(content=f"echo {last.content}", id=f"ai-{last.id}")]}

    g = StateGraph(State)
    g.add_node("reply", reply)
    g.add_edge(START, "reply")
    return g.compile(checkpointer=saver)


def test_message_exporter_on_a_sync_saver(backend: Backend) -> None:
    with RedisSaver.from_conn_string(**_url_or_client(backend, False)) as saver:
        saver.setup()
        graph = _chat_graph(saver)
        config: Any = {"configurable": {"thread_id": "chat"}}
        graph.invoke({"messages": [HumanMessage(content="hi", id="h1")]}, config)
        graph.invoke({"messages": [HumanMessage(content="again", id="h2")]}, config)
        exporter = MessageExporter(saver)
        latest = exporter.export("chat")
        assert [(m["role"], m["content"], m["id"]) for m in latest] == [
            ("human", "hi", "h1"),
            ("ai", "echo hi", "ai-h1"),
            ("human", "again", "h2"),
            ("ai", "echo again", "ai-h2"),
        ]
        assert latest[1]["type"] == "AIMessage"
        # an older checkpoint: the first turn's end
        first = next(
            t
            for t in saver.list(config)
            if len(t.checkpoint["channel_values"].get("messages", [])) == 2
        )
        older = exporter.export("chat", first.config["configurable"]["checkpoint_id"])
        assert [m["id"] for m in older] == ["h1", "ai-h1"]
        whole = exporter.export_thread("chat")
        assert whole["thread_id"] == "chat"
        assert sorted(m["id"] for m in whole["messages"]) == ["ai-h1", "ai-h2", "h1", "h2"]
        assert all(m["checkpoint_id"] and m["checkpoint_ts"] for m in whole["messages"])
        datetime.fromisoformat(whole["export_timestamp"])
        assert exporter.export("nobody") == []
        assert exporter.export_thread("nobody")["messages"] == []


async def test_message_exporter_on_an_async_saver_and_custom_recipe(backend: Backend) -> None:
    class Upper:
        def extract(self, message: Any) -> dict[str, Any] | None:
            if isinstance(message, HumanMessage):
                return {"role": "user", "content": str(message.content).upper()}
            return None

    async with AsyncRedisSaver.from_conn_string(**_url_or_client(backend, True)) as saver:
        await saver.setup()
        graph = _chat_graph(saver)
        config: Any = {"configurable": {"thread_id": "achat"}}
        await graph.ainvoke({"messages": [HumanMessage(content="hey", id="h1")]}, config)
        got = await MessageExporter(saver, Upper()).aexport("achat")
        assert got == [{"role": "user", "content": "HEY"}]
        whole = await MessageExporter(saver).aexport_thread("achat")
        assert [m["id"] for m in whole["messages"]] == ["h1", "ai-h1"]


def test_langchain_recipe_forms() -> None:
    r = LangChainRecipe()
    plain = {"role": "user", "content": "x"}
    out = r.extract(plain)
    assert out == plain and out is not plain  # a copy: export_thread annotates it
    lc = {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages",
          "HumanMessage"], "kwargs": {"content": "c", "id": "i"}}  # fmt: skip
    assert r.extract(lc) == {"role": "human", "content": "c", "type": "HumanMessage", "id": "i",
                             "metadata": {"content": "c", "id": "i"}}  # fmt: skip
    assert r.extract("text") == {"role": "unknown", "content": "text", "type": "string"}
    assert r.extract(42) is None
    assert r.extract({"other": 1}) is None


# -- the stores ------------------------------------------------------------------------------


def test_store_takes_a_client_positionally_or_as_conn(backend: Backend) -> None:
    for make in (lambda c: RedisStore(c), lambda c: RedisStore(conn=c)):
        client = backend.sync_client()
        try:
            store = make(client)
            store.setup()
            store.put(("users", "u1"), "k", {"v": 1})
            assert store.get(("users", "u1"), "k").value == {"v": 1}  # type: ignore[union-attr]
            store.close()
            client.ping()  # the user's client stays open
        finally:
            client.close()
    if backend.fake is None:
        with RedisStore(backend.url) as store:  # a URL positionally, and `with`
            store.setup()
            assert store.get(("users", "u1"), "k").value == {"v": 1}  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="once"):
        RedisStore("redis://127.0.0.1:1", redis_url="redis://127.0.0.1:1")


def test_store_prefixes(backend: Backend) -> None:
    client = backend.sync_client()
    try:
        store = RedisStore(client, store_prefix="app1", vector_prefix="app1_vectors")
        assert store.store_prefix == "app1" and store.vector_prefix == "app1_vectors"
        store.setup()
        store.put(("n",), "k", {"v": 1})
        other = RedisStore(client, prefix="app2")
        other.setup()
        assert other.store_prefix == "app2"
        assert other.get(("n",), "k") is None  # prefixes keep stores apart
        assert RedisStore(client).store_prefix == "store"
        with pytest.raises(ValueError, match="same thing"):
            RedisStore(client, prefix="a", store_prefix="b")
        with pytest.raises(TypeError, match="cluster_mode"):
            RedisStore(client, cluster_mode="yes")  # type: ignore[arg-type]
    finally:
        client.close()


async def test_async_store_as_a_context_manager(backend: Backend) -> None:
    kw = backend.saver_kwargs(True)
    async with AsyncRedisStore(**kw, store_prefix="ctx") as store:
        assert store.loop is asyncio.get_running_loop()
        await store.setup()
        await store.aput(("a",), "k", {"v": 2})
        # the sync API from a worker thread, while the loop runs
        got = await asyncio.to_thread(store.get, ("a",), "k")
        assert got is not None and got.value == {"v": 2}
    assert store._driver is None  # closed on exit


def test_set_client_info_names_the_library(real_backend: Backend) -> None:
    from langgraph.checkpoint.redis.version import __full_lib_name__

    with RedisStore(real_backend.url) as store:
        store.setup()
        store.set_client_info()
        probe = redis.Redis.from_url(real_backend.url)
        try:
            info = probe.info("server")
            listed = probe.execute_command("CLIENT", "LIST")
        finally:
            probe.close()
        newer = (info.get("valkey_version") or info.get("redis_version", "0")) >= "7.2"
        if newer:  # servers before 7.2 have no SETINFO: the call is a no-op there
            assert f"lib-name={__full_lib_name__}".encode() in listed
    with RedisSaver(real_backend.url) as saver:
        saver.setup()
        saver.set_client_info()  # also on the savers


async def test_async_set_client_info(backend: Backend) -> None:
    async with AsyncRedisStore(**backend.saver_kwargs(True)) as store:
        await store.setup()
        await store.set_client_info()
        await store.aset_client_info()
    async with AsyncRedisSaver(**backend.saver_kwargs(True)) as saver:
        await saver.asetup()
        await saver.aset_client_info()


# -- TTL sweeper -----------------------------------------------------------------------------


def _expiring(store: RedisStore, n: int) -> None:
    for i in range(n):
        store.put(("sweep", str(i % 3)), f"k{i}", {"i": i}, ttl=1 / 600)  # 100 ms
    store.put(("sweep", "0"), "stays", {"i": -1})


def _entries(raw: Any, backend: Backend) -> int:
    """Members of the store's per-namespace key indexes: what an expired item leaves."""
    keys = [k for k in _keys(backend, raw) if k.startswith(b"store_keys")]
    return sum(raw.zcard(k) for k in keys)


def test_sweep_ttl_removes_expired_entries(backend: Backend) -> None:
    raw = backend.sync_client()
    try:
        with RedisStore(**backend.saver_kwargs(False)) as store:
            store.setup()
            _expiring(store, 12)
            assert store.sweep_ttl() == 0  # nothing due yet
            assert _entries(raw, backend) == 13
            time.sleep(0.25)
            assert store.sweep_ttl() == 12
            assert _entries(raw, backend) == 1
            assert store.sweep_ttl() == 0
            assert store.list_namespaces() == [("sweep", "0")]
            assert [i.key for i in store.search(("sweep",))] == ["stays"]
    finally:
        raw.close()


def test_ttl_sweeper_thread(backend: Backend) -> None:
    raw = backend.sync_client()
    try:
        with RedisStore(**backend.saver_kwargs(False), ttl={"sweep_interval_minutes": 1}) as st:
            st.setup()
            assert st.sweep_interval(None) == 60
            with pytest.raises(ValueError, match="sweep_interval_minutes"):
                st.start_ttl_sweeper(0)
            _expiring(st, 6)
            fut = st.start_ttl_sweeper(0.1 / 60)  # every 100 ms
            assert st.start_ttl_sweeper() is fut  # one sweeper at a time
            deadline = time.monotonic() + 5
            while _entries(raw, backend) > 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _entries(raw, backend) == 1  # swept without any call of ours
            assert st.stop_ttl_sweeper(timeout=5) is True
            assert fut.done()
            assert st.stop_ttl_sweeper() is True  # none running
            st.start_ttl_sweeper(10)
        assert st._sweeper is None  # close() stopped it
    finally:
        raw.close()


async def test_async_ttl_sweeper(backend: Backend) -> None:
    raw = backend.sync_client()
    try:
        async with AsyncRedisStore(**backend.saver_kwargs(True)) as st:
            await st.setup()
            for i in range(5):
                await st.aput(("asweep",), f"k{i}", {"i": i}, ttl=1 / 600)
            task = await st.start_ttl_sweeper(0.1 / 60)
            assert await st.start_ttl_sweeper() is task
            deadline = time.monotonic() + 5
            while _entries(raw, backend) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert _entries(raw, backend) == 0
            assert await st.sweep_ttl() == 0
            assert await st.stop_ttl_sweeper(timeout=5) is True
            assert task.done()
            await st.start_ttl_sweeper(10)
        assert st._sweeper is None  # aclose() stopped it
    finally:
        raw.close()


# -- updated_at ------------------------------------------------------------------------------


def test_updated_at_advances_on_every_put_sync(backend: Backend) -> None:
    with RedisStore(**backend.saver_kwargs(False)) as store:
        store.setup()
        store.put(("t",), "k", {"n": 0})
        first = store.get(("t",), "k")
        assert first is not None
        prev = first.updated_at
        for n in range(1, 201):
            store.put(("t",), "k", {"n": n})
            item = store.get(("t",), "k")
            assert item is not None and item.updated_at > prev, n
            assert item.created_at == first.created_at
            prev = item.updated_at
        assert abs(prev - datetime.now(timezone.utc)).total_seconds() < 60


async def test_updated_at_advances_on_every_put_async(backend: Backend) -> None:
    async with AsyncRedisStore(**backend.saver_kwargs(True)) as store:
        await store.setup()
        await store.aput(("t",), "k", {"n": 0})
        item = await store.aget(("t",), "k")
        assert item is not None
        prev = item.updated_at
        for n in range(1, 201):
            await store.aput(("t",), "k", {"n": n})
            item = await store.aget(("t",), "k")
            assert item is not None and item.updated_at > prev, n
            prev = item.updated_at
        found = await store.asearch(("t",))
        assert found[0].updated_at == prev  # the search reads the same times


def test_items_written_in_milliseconds_still_read_right(backend: Backend) -> None:
    """Items written before times moved to microseconds kept milliseconds: still decoded."""
    raw = backend.sync_client()
    try:
        with RedisStore(**backend.saver_kwargs(False)) as store:
            store.setup()
            store.put(("old",), "k", {"v": 1})
            (key,) = [k for k in _keys(backend, raw) if k.startswith(b"store:")]
            raw.hset(key, mapping={"c": 1_700_000_000_123, "u": 1_700_000_000_456})
            item = store.get(("old",), "k")
            assert item is not None
            assert item.created_at == datetime(2023, 11, 14, 22, 13, 20, 123000, timezone.utc)
            assert item.updated_at == datetime(2023, 11, 14, 22, 13, 20, 456000, timezone.utc)
            store.put(("old",), "k", {"v": 2})  # an update: created kept, updated now
            item = store.get(("old",), "k")
            assert item is not None and item.created_at.year == 2023
            assert item.updated_at.year >= 2026
    finally:
        raw.close()


# -- semantic search out of the box ----------------------------------------------------------


def test_index_works_with_the_default_install(backend: Backend) -> None:
    """numpy is a dependency: `index=` needs no extra."""

    def embed(texts: list[str]) -> list[list[float]]:
        return [[float(len(t)), float(t.count("a")), 1.0] for t in texts]

    with RedisStore(
        **backend.saver_kwargs(False), index={"dims": 3, "embed": embed, "fields": ["text"]}
    ) as store:
        store.setup()
        store.put(("docs",), "a", {"text": "aaaa"})
        store.put(("docs",), "b", {"text": "bbbbbbbbbbbbbbbb"})
        hits = store.search(("docs",), query="aaa")
        assert [h.key for h in hits] == ["a", "b"]
        assert hits[0].score is not None


# -- the incumbent's other call forms --------------------------------------------------------


def test_prune_with_the_incumbents_keep_last_strategy(backend: Backend) -> None:
    with RedisSaver.from_conn_string(**_url_or_client(backend, False)) as saver:
        saver.setup()
        cfg: Any = {"configurable": {"thread_id": "pr", "checkpoint_ns": ""}}
        for n in range(1, 5):
            c = _checkpoint(n)
            cfg = saver.put(cfg, c, {"step": n}, c["channel_versions"])
        saver.prune(["pr"], strategy="keep_last", keep_last=2)
        assert len(list(saver.list({"configurable": {"thread_id": "pr"}}))) == 2
        with pytest.raises(ValueError, match="unknown prune strategy 'keep_last'"):
            saver.prune(["pr"], strategy="keep_last")  # without keep_last it means nothing


def test_shallow_savers_take_the_incumbents_cache_sizes() -> None:
    for cls in (ShallowRedisSaver, AsyncShallowRedisSaver):
        saver = cls("redis://127.0.0.1:1", key_cache_max_size=5, channel_cache_max_size=2)
        assert saver.shallow
        with pytest.raises(ValueError, match="key_cache_max_size"):
            cls("redis://127.0.0.1:1", key_cache_max_size=-1)


def test_the_incumbents_client_attribute(backend: Backend) -> None:
    saver = RedisSaver(**_url_or_client(backend, False))
    assert saver._redis is saver.client
    store = RedisStore(**backend.saver_kwargs(False))
    assert store._redis is store.client
    assert store._owns_client is ("redis_url" in backend.saver_kwargs(False))
    saver.close()
    store.close()


async def test_concurrent_first_calls_connect_once(real_backend: Backend) -> None:
    """64 calls on a fresh async saver at once probe the server once, not 64 times: the
    server counts the probe's commands (INFO cluster, INFO server, CONFIG GET), whatever
    number of pooled connections the overlapping calls happen to open."""
    import redis as rp

    admin = rp.Redis.from_url(real_backend.url)

    def probes() -> tuple[int, int]:
        stats = admin.info("commandstats")
        info = sum(v["calls"] for k, v in stats.items() if k == "cmdstat_info")
        config = sum(v["calls"] for k, v in stats.items() if k.startswith("cmdstat_config"))
        return info, config

    try:
        saver = AsyncRedisSaver(real_backend.url)
        info0, config0 = probes()
        cfg: Any = {"configurable": {"thread_id": "once"}}
        got = await asyncio.gather(*(saver.aget_tuple(cfg) for _ in range(64)))
        assert got == [None] * 64
        info1, config1 = probes()
        # the first probes() call's own INFO, then at most INFO cluster, INFO server and
        # CONFIG GET once each (64 probes, before single-flight connect: 64 of each)
        assert info1 - info0 <= 3 and config1 - config0 <= 1, (info1 - info0, config1 - config0)
        await saver.aclose()
    finally:
        admin.close()
