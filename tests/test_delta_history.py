"""get_delta_channel_history / aget_delta_channel_history (langgraph's beta API behind
DeltaChannel) must answer what InMemorySaver answers on the same data.

The contract (BaseCheckpointSaver.get_delta_channel_history): for each requested channel, walk
the parent chain of the target checkpoint, starting at its parent; collect every on-path
ancestor's writes to that channel (oldest first overall; within one checkpoint in
`(task_path, task_id, idx)` order); stop at the nearest ancestor whose version of the channel
has a stored value, which becomes the `seed` (omitted when the walk reaches the root). Writes
stored at the target itself are not included.

Histories are built with put/put_writes on our savers and on InMemorySaver alike (the same
checkpoint ids, versions and task ids, so writes compare as (task_id, channel, value)), and end
to end with a real graph using `DeltaChannel`, where ids differ and writes compare as
(channel, value).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from langchain_core.runnables import RunnableConfig
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from langgraph.graph import END, START, StateGraph
from langgraph.types import Overwrite
from typing_extensions import TypedDict

from .conftest import Backend
from .facade import Facade, cfg, new_id, strict
from .helpers import close_saver, open_saver

# -- savers -------------------------------------------------------------------------------------


Ours = Facade


@pytest.fixture
async def ours(backend: Backend, kind: str) -> AsyncIterator[Ours]:
    o = await open_saver(backend, kind)
    yield o
    await close_saver(o)


# -- comparison ---------------------------------------------------------------------------------


def shape(result: Any, ids: bool = True) -> Any:
    """{channel: {"writes": [[task_id, channel, value], ...], "seed"?: value}}; without `ids`
    the task ids are left out (they differ between two runs of a graph)."""
    out: dict[str, Any] = {}
    for ch, entry in dict(result).items():
        assert set(entry) <= {"writes", "seed"}, entry
        writes = [list(w) if ids else list(w[1:]) for w in entry["writes"]]
        e: dict[str, Any] = {"writes": writes}
        if "seed" in entry:
            e["seed"] = entry["seed"]
        out[ch] = e
    return strict(out)


class Bump:
    """A channel whose version moves at this checkpoint but whose value is not stored (what
    DeltaChannel does between snapshots)."""


BUMP = Bump()


@dataclass
class History:
    """A thread built on our saver and on InMemorySaver with the same calls."""

    ours: Ours
    thread: str = field(default_factory=lambda: f"hist-{uuid.uuid4()}")
    mem: InMemorySaver = field(default_factory=InMemorySaver)
    cps: dict[str, Any] = field(default_factory=dict)
    ns_of: dict[str, str] = field(default_factory=dict)

    async def put(self, parent: str | None = None, ns: str = "", **changes: Any) -> str:
        """A checkpoint whose channels are its parent's, with `changes` stored (BUMP: version
        moved, nothing stored)."""
        base = self.cps[parent] if parent in self.cps else empty_checkpoint()
        values = dict(base["channel_values"])
        versions = dict(base["channel_versions"])
        nv: dict[str, str] = {}
        for ch, v in changes.items():
            nv[ch] = self.ours.next_version(versions.get(ch))
            if isinstance(v, Bump):
                values.pop(ch, None)
            else:
                values[ch] = v
        versions.update(nv)
        cid = new_id()
        cp = empty_checkpoint()
        cp.update(
            id=cid, ts="2024-05-01T00:00:00+00:00", channel_values=values, channel_versions=versions
        )
        md = {"source": "loop", "step": len(self.cps)}
        config = cfg(self.thread, ns, parent)
        got = await self.ours.put(config, cp, dict(md), dict(nv))
        assert got == self.mem.put(config, cp, dict(md), dict(nv))
        self.cps[cid] = cp
        self.ns_of[cid] = ns
        return cid

    async def writes(
        self, cid: str, task_id: str, writes: Sequence[tuple[str, Any]], path: str = ""
    ) -> None:
        c = cfg(self.thread, self.ns_of.get(cid, ""), cid)
        await self.ours.put_writes(c, list(writes), task_id, path)
        self.mem.put_writes(c, list(writes), task_id, path)

    async def check(self, config: RunnableConfig, channels: Sequence[str]) -> Any:
        got = shape(await self.ours.history(config, channels))
        want = shape(self.mem.get_delta_channel_history(config=config, channels=channels))
        assert got == want, (config, channels)
        assert list(got) == list(want)
        return got

    async def check_every(self, channels: Sequence[str], ns: str = "") -> None:
        for cid in self.cps:
            if self.ns_of[cid] == ns:
                await self.check(cfg(self.thread, ns, cid), channels)
        await self.check(cfg(self.thread, ns), channels)


# -- built with put / put_writes ---------------------------------------------------------------

CHANNELS = ["a", "b", "c", "never"]


async def linear(h: History, n: int = 8, ns: str = "") -> list[str]:
    """`a` stored at C0 and C4, `b` at C2 only (bumped without a value at C5), `c` only ever
    written; three tasks write at each checkpoint, in an order their paths reverse."""
    ids: list[str] = []
    parent = None
    for i in range(n):
        changes: dict[str, Any] = {}
        if i in (0, 4):
            changes["a"] = [f"a{i}"]
        if i == 2:
            changes["b"] = {"b": i}
        if i == 5:
            changes["b"] = BUMP
        if i % 3 == 1:
            changes["c"] = BUMP
        changes["step"] = i
        parent = await h.put(parent, ns, **changes)
        ids.append(parent)
        await h.writes(parent, f"t{i}-x", [("a", f"x{i}"), ("c", i), ("a", f"x{i}'")], "~b")
        await h.writes(parent, f"t{i}-y", [("b", f"y{i}"), ("__interrupt__", i)], "~a")
        await h.writes(parent, f"t{i}-z", [("c", [i]), ("a", None)], "")
        await h.writes(parent, f"t{i}-x", [("a", "ignored: idx 0 already stored")], "~b")
    return ids


async def test_seeds_at_various_ancestors_and_writes_in_task_order(ours: Ours) -> None:
    h = History(ours)
    ids = await linear(h)
    await h.check_every(CHANNELS)
    for channels in (["c"], ["never"], ["a", "a"], ["__interrupt__"], ["b", "a"], []):
        await h.check_every(channels)
    latest = await h.check(cfg(h.thread, "", ids[-1]), CHANNELS)
    # what the reference says, spelled out once for the latest checkpoint
    assert latest["a"]["seed"] == strict(["a4"])
    assert "seed" not in latest["c"] and "seed" not in latest["never"]
    assert latest["b"]["seed"] == strict({"b": 2})
    assert await ours.history(cfg(h.thread, "", ids[-1]), []) == {}


async def test_config_with_and_without_checkpoint_id_and_namespace(ours: Ours) -> None:
    h = History(ours)
    ids = await linear(h, 6)
    await h.check(cfg(h.thread, ""), CHANNELS)  # latest
    await h.check(cfg(h.thread, None), CHANNELS)  # no checkpoint_ns at all
    await h.check(cfg(h.thread, None, ids[3]), CHANNELS)
    await h.check({"configurable": {"thread_id": h.thread, "checkpoint_id": None}}, CHANNELS)
    # the target's own writes are pending for the next step: never part of its history
    mine = await ours.history(cfg(h.thread, "", ids[0]), CHANNELS)
    assert all(not e["writes"] and "seed" not in e for e in mine.values())


async def test_subgraph_namespace(ours: Ours) -> None:
    h = History(ours)
    await linear(h, 5, "")
    await linear(h, 7, "child:1f0a-task|inner:2b")
    await h.check_every(CHANNELS, "")
    await h.check_every(CHANNELS, "child:1f0a-task|inner:2b")
    await h.check(cfg(h.thread, "no-such-namespace"), CHANNELS)


async def test_fork_only_on_path_ancestors_count(ours: Ours) -> None:
    h = History(ours)
    ids = await linear(h, 5)
    # a fork from C1: C2..C4 are off its path
    f2 = await h.put(ids[1], c=BUMP, step=20)
    await h.writes(f2, "fork-task", [("a", "f2"), ("c", "f2")], "~f")
    f3 = await h.put(f2, b=[1, 2], step=21)
    await h.writes(f3, "fork-task", [("b", "f3")], "~f")
    f4 = await h.put(f3, step=22)
    await h.check_every(CHANNELS)
    got = await h.check(cfg(h.thread, "", f4), CHANNELS)
    assert got["a"]["seed"] == strict(["a0"])
    assert got["b"]["seed"] == strict([1, 2])


async def test_unknown_thread_checkpoint_and_dangling_parent(ours: Ours) -> None:
    h = History(ours)
    ids = await linear(h, 4)
    await h.check(cfg(f"unknown-{uuid.uuid4()}"), CHANNELS)
    await h.check(cfg(f"unknown-{uuid.uuid4()}", "", ids[1]), CHANNELS)
    await h.check(cfg(h.thread, "", new_id()), CHANNELS)  # no such checkpoint
    # an id with writes but no checkpoint (writes can land before their checkpoint)
    orphan = new_id()
    h.ns_of[orphan] = ""
    await h.writes(orphan, "early", [("a", "early")])
    await h.check(cfg(h.thread, "", orphan), CHANNELS)
    # a checkpoint whose parent does not exist: the walk ends there
    dangling = await h.put(new_id(), a=BUMP, step=30)
    await h.writes(dangling, "t", [("a", "on the dangling one")])
    child = await h.put(dangling, step=31)
    got = await h.check(cfg(h.thread, "", child), CHANNELS)
    assert got["a"] == strict({"writes": [["t", "a", "on the dangling one"]]})


async def test_seed_values_of_every_kind(backend: Backend, kind: str) -> None:
    """None is a stored value (a seed); a bumped version without a value is not; a
    _DeltaSnapshot; a list stored as a delta on an earlier version (both delta modes)."""
    for mode in ("default", "identity"):
        o = await open_saver(backend, kind, **({} if mode == "default" else {"delta_mode": mode}))
        try:
            h = History(o)
            msgs: list[Any] = []
            parent = None
            for i in range(12):
                msgs = [*msgs, {"id": i, "text": "m" * 30}]
                parent = await h.put(
                    parent,
                    msgs=msgs,
                    none=None if i == 3 else BUMP,
                    snap=_DeltaSnapshot([i, "x"]) if i % 4 == 0 else BUMP,
                    step=i,
                )
                await h.writes(parent, "t", [("msgs", i), ("none", i), ("snap", [i])], "~t")
            await h.check_every(["msgs", "none", "snap", "step"])
        finally:
            await close_saver(o)


async def test_channel_names_that_need_encoding(ours: Ours) -> None:
    h = History(ours)
    odd = ["a:b", "{x}", "sp ace", "ünï", "*?[]", "%", ""]
    parent = None
    for i in range(4):
        parent = await h.put(parent, **{ch: [ch, i] for ch in odd[i % 2 :: 2]})
        await h.writes(parent, "t", [(ch, i) for ch in odd], "~p")
    await h.check_every(odd)


async def test_walk_longer_than_one_page(ours: Ours) -> None:
    """More ancestors than one round trip of the walk visits: the walk must go on where it
    stopped, and the seed is at the root."""
    h = History(ours)
    parent = await h.put(None, a=["root"], b=BUMP)
    for i in range(520):
        await h.writes(parent, f"t{i % 3}", [("a", i), ("b", -i)], f"~{i % 2}")
        parent = await h.put(parent, a=BUMP, b=BUMP)
    got = await h.check(cfg(h.thread, "", parent), ["a", "b"])
    assert len(got["a"]["writes"][1]) == len(got["b"]["writes"][1]) == 520
    assert got["a"]["seed"] == strict(["root"]) and "seed" not in got["b"]


# -- random histories --------------------------------------------------------------------------

TASKS = (("t1", ""), ("t2", "~a"), ("t3", "~b"), ("t4", "~a"))


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_random_histories(data: Any, ours: Ours) -> None:
    """Random trees (forks, new roots, two namespaces), channels stored, bumped or left alone,
    writes from several tasks; every checkpoint queried for random channel lists."""
    h = History(ours)
    ids: list[str] = []
    for step in range(data.draw(st.integers(1, 12), label="checkpoints")):
        ns = data.draw(st.sampled_from(["", "sub:1"]), label="ns")
        mine = [c for c in ids if h.ns_of[c] == ns]
        parent = data.draw(st.sampled_from([None, *mine]), label="parent") if mine else None
        changes: dict[str, Any] = {}
        for ch in ("a", "b", "c"):
            how = data.draw(st.sampled_from(["keep", "keep", "store", "bump", "none"]), label=ch)
            if how == "store":
                changes[ch] = [ch, step]
            elif how == "bump":
                changes[ch] = BUMP
            elif how == "none":
                changes[ch] = None
        cid = await h.put(parent, ns, **changes)
        ids.append(cid)
        for _ in range(data.draw(st.integers(0, 3), label="write calls")):
            task_id, path = data.draw(st.sampled_from(TASKS), label="task")
            chans = data.draw(
                st.lists(st.sampled_from(["a", "b", "c", "__error__"]), min_size=1, max_size=3),
                label="channels",
            )
            await h.writes(cid, task_id, [(ch, f"{ch}@{step}") for ch in chans], path)
    for cid in ids:
        channels = data.draw(
            st.lists(st.sampled_from(["a", "b", "c", "z", "__error__"]), max_size=4),
            label="query",
        )
        await h.check(cfg(h.thread, h.ns_of[cid], cid), channels)
    for ns in ("", "sub:1"):
        await h.check(cfg(h.thread, ns), ["a", "b", "c"])


# -- end to end: a graph with DeltaChannel -----------------------------------------------------


def concat(state: list[Any], writes: Sequence[list[Any]]) -> list[Any]:
    """Order-sensitive and batching-invariant, as DeltaChannel requires."""
    out = list(state)
    for w in writes:
        out.extend(w)
    return out


class State(TypedDict, total=False):
    items: Annotated[list, DeltaChannel(concat, snapshot_frequency=3)]
    log: Annotated[list, DeltaChannel(concat, snapshot_frequency=5)]
    n: int


def delta_graph(checkpointer: Any) -> Any:
    def a(s: State) -> State:
        return {"items": ["a"], "log": [f"a{len(s.get('items', []))}"]}

    def b(s: State) -> State:
        return {"items": ["b"]}

    def c(s: State) -> State:
        return {"items": [f"c{len(s['items'])}"], "n": len(s["items"])}

    g = StateGraph(State)
    g.add_node("a", a)
    g.add_node("b", b)
    g.add_node("c", c)
    g.add_edge(START, "a")
    g.add_edge(START, "b")  # a and b run in parallel: their writes' order is the task order
    g.add_edge(["a", "b"], "c")
    g.add_edge("c", END)
    return g.compile(checkpointer=checkpointer)


async def delta_trace(saver: Any, mode: str, thread: str) -> list[Any]:
    g = delta_graph(saver)
    c: RunnableConfig = {"configurable": {"thread_id": thread}}
    sync = mode == "sync"

    async def invoke(inp: Any, config: RunnableConfig, **kw: Any) -> Any:
        return g.invoke(inp, config, **kw) if sync else await g.ainvoke(inp, config, **kw)

    async def state(config: RunnableConfig) -> Any:
        return g.get_state(config) if sync else await g.aget_state(config)

    async def history() -> list[Any]:
        return list(g.get_state_history(c)) if sync else [s async for s in g.aget_state_history(c)]

    async def update(config: RunnableConfig, values: Any) -> Any:
        return g.update_state(config, values) if sync else await g.aupdate_state(config, values)

    async def walk(config: RunnableConfig) -> Any:
        channels = ["items", "log", "n"]
        if sync:
            r = saver.get_delta_channel_history(config=config, channels=channels)
        else:
            r = await saver.aget_delta_channel_history(config=config, channels=channels)
        return shape(r, ids=False)

    trace: list[Any] = []
    for i in range(12):
        kw = {"durability": "exit"} if i in (5, 6) else {}
        trace.append(await invoke({"items": [f"in{i}"]}, c, **kw))
    await update(c, {"items": Overwrite(["reset"])})
    trace.append((await state(c)).values)
    trace.append(await invoke({"items": ["after reset"]}, c))
    snaps = await history()
    trace.append([(s.values, s.next, s.metadata.get("step")) for s in snaps])
    trace.append([await walk(s.config) for s in snaps])
    # time travel: run again from a checkpoint in the middle (a fork)
    middle = snaps[len(snaps) // 2].config
    trace.append((await state(middle)).values)
    trace.append(await invoke({"items": ["fork"]}, middle))
    trace.append((await state(c)).values)
    snaps = await history()
    trace.append([(s.values, s.next) for s in snaps])
    trace.append([await walk(s.config) for s in snaps[:8]])
    return trace


async def test_graph_with_delta_channel_matches_in_memory(ours: Ours, kind: str) -> None:
    thread = f"delta-graph-{uuid.uuid4()}"
    want = await delta_trace(InMemorySaver(), kind, thread)
    got = await delta_trace(ours.saver, kind, thread)
    assert strict(got) == strict(want)
    final = got[-3]
    assert final["items"][-2:] == ["fork", "b"] or final["items"][-1].startswith("c")
