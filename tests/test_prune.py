"""prune: keep_last=N keeps the N latest checkpoints of each namespace with their pending
writes and the values they reference, and nothing else (tests/orphans.py checks the key space);
keep_last=0 is strategy="delete"; bad arguments raise before anything is removed; and a graph
with DeltaChannel keeps working after prune(keep_latest), the ancestors its latest value is
rebuilt from being kept.
"""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
import redis
from langchain_core.runnables import RunnableConfig
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.redis.codec import blob_field
from langgraph.checkpoint.redis.keys import enc
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from .conftest import Backend
from .facade import Facade, cfg, checkpoint, new_id, strict
from .helpers import close_saver, norm, open_saver, thread_contents
from .orphans import assert_no_orphans, keys_of, snapshot

NS = ("", "sub:1|x")
COUNTS = {"": 7, "sub:1|x": 3}  # checkpoints per namespace of thread "t"


async def fill(s: Facade, thread: str, counts: dict[str, int]) -> dict[str, list[str]]:
    """A chain of checkpoints per namespace: `msgs` grows by one item a step (so most versions
    are stored as deltas), `n` changes every step, `c` never; each checkpoint has two tasks'
    writes, the last one an interrupt; plus writes on an id whose checkpoint never came.
    Returns the ids per namespace, oldest first."""
    out: dict[str, list[str]] = {}
    for ns, count in counts.items():
        ids: list[str] = []
        versions: dict[str, str] = {}
        msgs = [{"id": f"seed{i}", "content": "s" * 40} for i in range(20)]
        for i in range(count):
            cid = new_id()
            msgs = [*msgs, {"id": f"m{i}", "content": "c" * 30}]
            changed = ("msgs", "n", "c") if i == 0 else ("msgs", "n")
            nv = {ch: s.next_version(versions.get(ch)) for ch in changed}
            versions = {**versions, **nv}
            values = {"msgs": msgs, "n": i, "c": "constant"}
            md = {"source": "loop", "step": i, "run_id": f"run-{i % 2}"}
            parent = ids[-1] if ids else None
            await s.put(cfg(thread, ns, parent), checkpoint(cid, values, versions), md, nv)
            await s.put_writes(cfg(thread, ns, cid), [("msgs", [i]), ("n", i)], "task", "~a")
            await s.put_writes(cfg(thread, ns, cid), [("__interrupt__", {"q": i})], "ask", "~b")
            ids.append(cid)
        await s.put_writes(cfg(thread, ns, new_id()), [("x", "early")], "early")
        out[ns] = ids
    return out


async def everything(s: Facade, thread: str) -> dict[str, Any]:
    """Every checkpoint of the thread as read back, by id."""
    return {
        t.config["configurable"]["checkpoint_id"]: norm(t) for t in await s.list(cfg(thread, None))
    }


# -- keep_last ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 8])
async def test_keep_last_keeps_exactly_the_n_latest_per_namespace(
    s: Facade, raw: redis.Redis, n: int
) -> None:
    ids = await fill(s, "t", COUNTS)
    await fill(s, "other", {"": 3})
    before = await everything(s, "t")
    other = thread_contents(raw, "other")
    assert len(before) == sum(COUNTS.values())
    await s.prune(["t", "no-such-thread"], keep_last=n)
    for ns in NS:
        kept = ids[ns][-n:]
        listed = await s.list(cfg("t", ns))
        assert [t.config["configurable"]["checkpoint_id"] for t in listed] == kept[::-1]
        for t in listed:  # unchanged: values, metadata, parent, pending writes
            assert norm(t) == before[t.config["configurable"]["checkpoint_id"]]
        for gone in ids[ns][:-n]:
            assert await s.get(cfg("t", ns, gone)) is None
    assert norm(await s.get(cfg("t"))) == before[ids[""][-1]]
    assert thread_contents(raw, "other") == other
    assert_no_orphans(raw)


async def test_keep_last_0_is_delete(s: Facade, raw: redis.Redis) -> None:
    await fill(s, "other", {"": 3, "sub:1|x": 2})
    await fill(s, "t", COUNTS)
    await s.prune(["t"], keep_last=0)
    after_keep_0 = {k: (v.type, v.value) for k, v in snapshot(raw).items()}
    await fill(s, "t", COUNTS)
    await s.prune(["t"], strategy="delete")
    after_delete = {k: (v.type, v.value) for k, v in snapshot(raw).items()}
    assert after_keep_0 == after_delete
    assert thread_contents(raw, "t") == {}
    assert await s.list(cfg("t", None)) == []
    assert_no_orphans(raw)
    assert len(await s.list(cfg("other", None))) == 5


async def test_keep_latest_is_keep_last_1(s: Facade, raw: redis.Redis) -> None:
    await fill(s, "t", COUNTS)
    await s.prune(["t"], keep_last=1)
    keep_1 = thread_contents(raw, "t")
    await s.delete_thread("t")
    await fill(s, "t", COUNTS)
    await s.prune(["t"])
    keep_latest = thread_contents(raw, "t")
    # the same shape; the ids differ between the two fills
    assert sorted(v[0] for v in keep_1.values()) == sorted(v[0] for v in keep_latest.values())
    assert len(keep_latest) == len(keep_1) > 0
    assert [len(await s.list(cfg("t", ns))) for ns in NS] == [1, 1]
    assert_no_orphans(raw)


@pytest.mark.parametrize("bad", [-1, "2", True, 1.5])
async def test_invalid_keep_last_raises_and_removes_nothing(
    s: Facade, raw: redis.Redis, bad: Any
) -> None:
    await fill(s, "t", COUNTS)
    before = snapshot(raw)
    with pytest.raises(ValueError, match="keep_last"):
        await s.prune(["t"], keep_last=bad)
    assert snapshot(raw) == before


@pytest.mark.parametrize("strategy", ["keep_all", "", "KEEP_LATEST", "latest"])
async def test_unknown_strategy_raises_and_removes_nothing(
    s: Facade, raw: redis.Redis, strategy: str
) -> None:
    await fill(s, "t", COUNTS)
    before = snapshot(raw)
    with pytest.raises(ValueError, match="strategy"):
        await s.prune(["t"], strategy=strategy)
    with pytest.raises(ValueError, match="strategy"):
        await s.prune(["t"], strategy=strategy, keep_last=2)
    assert snapshot(raw) == before


async def test_latest_pending_writes_survive(s: Facade, raw: redis.Redis) -> None:
    ids = await fill(s, "t", COUNTS)
    want = {ns: (await s.get(cfg("t", ns))) for ns in NS}
    for ns in NS:
        w = want[ns]
        assert w is not None
        assert [x[1] for x in w.pending_writes] == ["msgs", "n", "__interrupt__"]
    await s.prune(["t"])
    for ns in NS:
        got = await s.get(cfg("t", ns))
        assert got is not None and got.pending_writes == want[ns].pending_writes  # type: ignore[union-attr]
        assert got.pending_writes[-1][1] == "__interrupt__"
    # the pruned checkpoints' writes hashes are gone, and so are the early writes
    base = keys_of(raw, "t").write
    left = {k for k in snapshot(raw) if k.startswith(base)}
    assert left == {
        f"{base}{enc(ns)}:{ids[ns][-1]}:{task}" for ns in NS for task in ("task", "ask")
    }
    assert_no_orphans(raw)


async def test_unreferenced_blobs_are_removed(s: Facade, raw: redis.Redis) -> None:
    """What stays in a blob hash is what the kept checkpoints reference, and the delta bases
    those values are stored on, nothing else."""
    await fill(s, "t", COUNTS)
    for n in (3, 1):
        await s.prune(["t"], keep_last=n)
        for ns in NS:
            blob = raw.hgetall(keys_of(raw, "t").blob + enc(ns))
            kept = await s.list(cfg("t", ns))
            referenced = {
                blob_field(ch, v)
                for t in kept
                for ch, v in t.checkpoint["channel_versions"].items()
            }
            fields = {f.decode() for f in blob if not f.startswith(b"@")}
            assert fields == referenced
            logs = {f.decode()[1:] for f in blob if f.startswith(b"@") and f != b"@"}
            refs = {
                blob[f.encode()][1:].split(b"\n", 1)[0].decode()
                for f in referenced
                if blob[f.encode()].startswith(b"@")
            }
            assert logs == refs  # exactly the logs a kept version is kept in
            assert {f for f in fields if f.startswith("n:")} == {
                blob_field("n", t.checkpoint["channel_versions"]["n"]) for t in kept
            }
            assert len(kept) == min(n, COUNTS[ns])
        assert_no_orphans(raw)


# -- DeltaChannel ---------------------------------------------------------------------------------


class State(TypedDict, total=False):
    items: Annotated[list, DeltaChannel(operator.add, snapshot_frequency=4)]
    n: int


def delta_graph(checkpointer: Any) -> Any:
    def step(state: State) -> State:
        return {"items": f"s{len(state.get('items', []))}", "n": state.get("n", 0) + 1}

    def route(state: State) -> str:
        return "step" if state["n"] % 5 else END

    g = StateGraph(State)
    g.add_node("step", step)
    g.add_edge(START, "step")
    g.add_conditional_edges("step", route)
    return g.compile(checkpointer=checkpointer)


class Runner:
    """One graph on one saver, sync or async."""

    def __init__(self, saver: Any, kind: str) -> None:
        self.g = delta_graph(saver)
        self.saver = saver
        self.sync = kind == "sync"

    async def invoke(self, value: Any, thread: str) -> Any:
        c: RunnableConfig = {"configurable": {"thread_id": thread}}
        return self.g.invoke(value, c) if self.sync else await self.g.ainvoke(value, c)

    async def state(self, thread: str) -> Any:
        c: RunnableConfig = {"configurable": {"thread_id": thread}}
        st = self.g.get_state(c) if self.sync else await self.g.aget_state(c)
        return strict([st.values, st.next, st.metadata.get("step")])


@pytest.fixture
async def graph_saver(backend: Backend, kind: str) -> AsyncIterator[Any]:
    x = await open_saver(backend, kind)
    yield x.saver
    await close_saver(x)


async def test_prune_keeps_delta_channel_history(
    graph_saver: Any, kind: str, raw: redis.Redis
) -> None:
    ours, mem = Runner(graph_saver, kind), Runner(InMemorySaver(), kind)
    s = Facade(graph_saver, kind)
    for r in (ours, mem):
        for value in ("in0", "in1", "in2"):
            await r.invoke({"items": value}, "t")
    every = await s.list(cfg("t"))
    by_id = {t.config["configurable"]["checkpoint_id"]: t for t in every}
    latest = every[0]
    assert latest.metadata.get("counters_since_delta_snapshot"), "the latest must replay"
    # the chain the latest rebuilds `items` from: back to the first ancestor with a snapshot
    chain = [latest]
    while not isinstance(chain[-1].checkpoint["channel_values"].get("items"), _DeltaSnapshot):
        assert chain[-1].parent_config is not None
        chain.append(by_id[chain[-1].parent_config["configurable"]["checkpoint_id"]])
    want_kept = [t.config["configurable"]["checkpoint_id"] for t in chain]
    assert 1 < len(want_kept) < len(every)

    before = await ours.state("t")
    assert before == await mem.state("t")
    await s.copy_thread("t", "unpruned")
    await s.prune(["t"])
    kept = await s.list(cfg("t"))
    assert [t.config["configurable"]["checkpoint_id"] for t in kept] == want_kept
    for t in kept:
        assert norm(t) == norm(by_id[t.config["configurable"]["checkpoint_id"]])
    assert await ours.state("t") == before
    assert_no_orphans(raw)

    results = []
    for r, thread in ((ours, "t"), (ours, "unpruned"), (mem, "t")):
        out = [await r.invoke({"items": f"more{i}"}, thread) for i in range(2)]
        results.append(strict([out, await r.state(thread)]))
    assert results[0] == results[1] == results[2]
    assert_no_orphans(raw)
