"""Real LangGraph graphs on our savers, compared result for result with langgraph's reference
InMemorySaver running the same graph with the same inputs.

Every scenario is an async function taking a `Runner` (a saver plus the API it is driven
through: graph.invoke/stream/get_state for "sync", graph.ainvoke/astream/aget_state for
"async"). It asserts the values it knows must come out, and returns a normalized trace of
everything deterministic (values, next, tasks, interrupt values, metadata step/source, history
and its parent chain). The trace of our saver must equal the trace of InMemorySaver.
Checkpoint ids, task ids, interrupt ids and timestamps differ between savers and are left out
(task ids inside checkpoint namespaces are cut off: "sub:<task id>" becomes "sub").
"""

from __future__ import annotations

import operator
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, RetryPolicy, Send, StateSnapshot, interrupt
from typing_extensions import TypedDict

from .conftest import Backend
from .facade import ns_name, plain
from .helpers import Runner, close_saver, open_saver


@pytest.fixture(params=["sync", "async"])
async def ours(request: pytest.FixtureRequest, backend: Backend) -> AsyncIterator[Runner]:
    """Our saver on a flushed server: RedisSaver for "sync", AsyncRedisSaver for "async"."""
    x = await open_saver(backend, request.param)
    yield Runner(request.param, x.saver)
    await close_saver(x)


Scenario = Callable[[Runner], Awaitable[Any]]


async def same_as_reference(scenario: Scenario, ours: Runner) -> Any:
    """Run the scenario on InMemorySaver (same API) and on our saver; the traces must match."""
    want = await scenario(Runner(ours.mode, InMemorySaver()))
    got = await scenario(ours)
    assert got == want
    return got


def cfg(thread_id: str, **extra: Any) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, **extra}}


# -- normalization -------------------------------------------------------------------------


def task(t: Any) -> dict[str, Any]:
    if isinstance(t.state, StateSnapshot):
        state: Any = snap(t.state)
    elif t.state is not None:
        state = ("config", ns_name(t.state["configurable"].get("checkpoint_ns", "")))
    else:
        state = None
    return {
        "name": t.name,
        "path": plain(t.path),
        "error": repr(t.error) if t.error is not None else None,
        "interrupts": [i.value for i in t.interrupts],
        "state": state,
        "result": plain(t.result),
    }


def snap(s: StateSnapshot) -> dict[str, Any]:
    md = s.metadata or {}
    return {
        "values": plain(s.values),
        "next": s.next,
        "step": md.get("step"),
        "source": md.get("source"),
        "parents": sorted(ns_name(k) for k in (md.get("parents") or {})),
        "ns": ns_name(s.config["configurable"].get("checkpoint_ns", "")),
        "tasks": [task(t) for t in s.tasks],
        "interrupts": [plain(i.value) for i in s.interrupts],
        "has_parent": s.parent_config is not None,
    }


def chain(snaps: list[StateSnapshot]) -> list[Any]:
    """Each entry's parent as an index into the same list (None: no parent, "?": outside)."""
    ids = [s.config["configurable"]["checkpoint_id"] for s in snaps]
    out: list[Any] = []
    for s in snaps:
        if s.parent_config is None:
            out.append(None)
            continue
        pc = s.parent_config["configurable"]
        assert pc["thread_id"] == s.config["configurable"]["thread_id"]
        assert pc["checkpoint_ns"] == s.config["configurable"]["checkpoint_ns"]
        out.append(ids.index(pc["checkpoint_id"]) if pc["checkpoint_id"] in ids else "?")
    return out


def hist(snaps: list[StateSnapshot]) -> dict[str, Any]:
    return {
        "len": len(snaps),
        "steps": [(s.metadata or {}).get("step") for s in snaps],
        "sources": [(s.metadata or {}).get("source") for s in snaps],
        "values": [plain(s.values) for s in snaps],
        "chain": chain(snaps),
        "snaps": [snap(s) for s in snaps],
    }


def tup(t: CheckpointTuple) -> tuple[Any, ...]:
    """A listed checkpoint without ids: namespace, step, source, values, pending writes."""
    conf = t.config["configurable"]
    writes = [(c, plain(v)) for _, c, v in t.pending_writes or []]
    return (
        ns_name(conf["checkpoint_ns"]),
        t.metadata.get("step"),
        t.metadata.get("source"),
        repr(plain(t.checkpoint["channel_values"])),
        writes,
        t.parent_config is not None,
    )


# -- graphs --------------------------------------------------------------------------------


class Trail(TypedDict, total=False):
    trail: Annotated[list[str], operator.add]


class QA(Trail, total=False):
    answers: Annotated[list[str], operator.add]


def appender(name: str, calls: Counter[str] | None = None) -> Callable[[Trail], Trail]:
    def node(state: Trail) -> Trail:
        if calls is not None:
            calls[name] += 1
        return {"trail": [name]}

    node.__name__ = name
    return node


def questions_graph(runner: Runner, calls: Counter[str]) -> Any:
    """before -> ask (three interrupts in one node) -> after."""

    def ask(state: QA) -> QA:
        calls["ask"] += 1
        a = interrupt("q1")
        b = interrupt("q2")
        c = interrupt("q3")
        return {"answers": [a, b, c], "trail": ["ask"]}

    def after(state: QA) -> QA:
        return {"trail": ["after:" + ",".join(state["answers"])]}

    b = StateGraph(QA)
    b.add_node("before", appender("before", calls))
    b.add_node("ask", ask)
    b.add_node("after", after)
    b.add_edge(START, "before")
    b.add_edge("before", "ask")
    b.add_edge("ask", "after")
    b.add_edge("after", END)
    return runner.compile(b)


# -- 1. several interrupts in one node -------------------------------------------------------


async def test_three_interrupts_in_one_node(ours: Runner) -> None:
    async def scenario(r: Runner) -> Any:
        calls: Counter[str] = Counter()
        g = questions_graph(r, calls)
        c = cfg("questions")
        trace: list[Any] = []
        out = await r.invoke(g, {"trail": ["start"]}, c)
        assert [i.value for i in out["__interrupt__"]] == ["q1"]
        trace.append(plain(out))
        expected_next = ["q2", "q3", None]
        for answer, nxt in zip(["A", "B", "C"], expected_next, strict=True):
            st = await r.state(g, c)
            assert st.next == ("ask",)
            trace.append(snap(st))
            out = await r.invoke(g, Command(resume=answer), c)
            trace.append(plain(out))
            if nxt is not None:
                assert [i.value for i in out["__interrupt__"]] == [nxt]
        assert out == {
            "trail": ["start", "before", "ask", "after:A,B,C"],
            "answers": ["A", "B", "C"],
        }
        st = await r.state(g, c)
        assert st.next == () and st.tasks == ()
        assert st.values["answers"] == ["A", "B", "C"]
        # the node re-runs on every resume: once per question
        assert calls == Counter({"before": 1, "ask": 4})
        trace.append(snap(st))
        h = await r.history(g, c)
        assert [s.metadata["step"] for s in h] == [3, 2, 1, 0, -1]
        assert [s.metadata["source"] for s in h] == ["loop", "loop", "loop", "loop", "input"]
        trace.append(hist(h))
        return trace

    await same_as_reference(scenario, ours)


async def test_three_interrupts_streamed(ours: Runner) -> None:
    """The same questions through stream/astream, updates and values modes."""

    async def scenario(r: Runner) -> Any:
        calls: Counter[str] = Counter()
        g = questions_graph(r, calls)
        c = cfg("questions-stream")
        chunks = [await r.stream(g, {"trail": []}, c, stream_mode="updates")]
        assert plain(chunks[0][-1]) == {"__interrupt__": (("Interrupt", "q1"),)}
        for answer in ["x", "y"]:
            chunks.append(await r.stream(g, Command(resume=answer), c, stream_mode="updates"))
        assert plain(chunks[-1]) == [{"__interrupt__": (("Interrupt", "q3"),)}]
        last = await r.stream(g, Command(resume="z"), c, stream_mode="values")
        chunks.append(plain(last))
        assert last[-1] == {"trail": ["before", "ask", "after:x,y,z"], "answers": ["x", "y", "z"]}
        return [plain(ch) for ch in chunks], hist(await r.history(g, c))

    await same_as_reference(scenario, ours)


# -- 2. parallel branches and map-reduce ----------------------------------------------------


async def test_parallel_fan_out_and_join(ours: Runner) -> None:
    async def scenario(r: Runner) -> Any:
        calls: Counter[str] = Counter()

        def join(state: QA) -> QA:
            calls["join"] += 1
            return {"answers": ["+".join(state["trail"])]}

        b = StateGraph(QA)
        for name in ("a", "b", "c"):
            b.add_node(name, appender(name, calls))
            b.add_edge(START, name)
        b.add_node("join", join)
        b.add_edge(["a", "b", "c"], "join")
        b.add_edge("join", END)
        g = r.compile(b)
        c = cfg("fan")
        values = await r.stream(g, {"trail": ["in"]}, c, stream_mode="values")
        final = values[-1]
        assert final["trail"][0] == "in"
        assert sorted(final["trail"][1:]) == ["a", "b", "c"]
        assert final["answers"] == ["+".join(final["trail"])]
        assert calls == Counter({"a": 1, "b": 1, "c": 1, "join": 1})
        st = await r.state(g, c)
        h = await r.history(g, c)
        assert [s.metadata["step"] for s in h] == [2, 1, 0, -1]
        assert h[2].next == ("a", "b", "c")
        return plain(values), snap(st), hist(h)

    await same_as_reference(scenario, ours)


class MapState(TypedDict, total=False):
    topics: list[str]
    results: Annotated[list[str], operator.add]
    summary: str


class Job(TypedDict):
    topic: str


def map_reduce_graph(r: Runner, calls: Counter[str], ask_on: str | None = None) -> Any:
    def plan(state: MapState) -> MapState:
        return {"results": []}

    def fan(state: MapState) -> list[Send]:
        return [Send("work", {"topic": t}) for t in state["topics"]]

    def work(job: Job) -> MapState:
        calls[job["topic"]] += 1
        suffix = ""
        if job["topic"] == ask_on:
            suffix = "=" + interrupt(f"approve {job['topic']}?")
        return {"results": [job["topic"].upper() + suffix]}

    def reduce(state: MapState) -> MapState:
        return {"summary": ",".join(state["results"])}

    b = StateGraph(MapState)
    b.add_node("plan", plan)
    b.add_node("work", work)
    b.add_node("reduce", reduce)
    b.add_edge(START, "plan")
    b.add_conditional_edges("plan", fan, ["work"])
    b.add_edge("work", "reduce")
    b.add_edge("reduce", END)
    return r.compile(b)


async def test_send_map_reduce(ours: Runner) -> None:
    async def scenario(r: Runner) -> Any:
        calls: Counter[str] = Counter()
        g = map_reduce_graph(r, calls)
        c = cfg("map")
        out = await r.invoke(g, {"topics": ["x", "y", "z", "w"]}, c)
        assert out["results"] == ["X", "Y", "Z", "W"]
        assert out["summary"] == "X,Y,Z,W"
        assert calls == Counter({"x": 1, "y": 1, "z": 1, "w": 1})
        h = await r.history(g, c)
        assert [s.next for s in h] == [(), ("reduce",), ("work",) * 4, ("plan",), ("__start__",)]
        return plain(out), snap(await r.state(g, c)), hist(h)

    await same_as_reference(scenario, ours)


async def test_send_map_reduce_with_interrupt_in_one_worker(ours: Runner) -> None:
    """Three Send workers finish, the fourth interrupts: on resume only the fourth runs again;
    the others' results come from the pending writes stored on the checkpoint."""

    async def scenario(r: Runner) -> Any:
        calls: Counter[str] = Counter()
        g = map_reduce_graph(r, calls, ask_on="z")
        c = cfg("map-ask")
        out = await r.invoke(g, {"topics": ["x", "y", "z", "w"]}, c)
        assert [i.value for i in out["__interrupt__"]] == ["approve z?"]
        st = await r.state(g, c)
        assert st.next == ("work",)  # only the interrupted worker is left to run
        assert [t.name for t in st.tasks] == ["work"] * 4
        done = sorted(t.result["results"][0] for t in st.tasks if t.result)
        assert done == ["W", "X", "Y"]
        assert [i.value for t in st.tasks for i in t.interrupts] == ["approve z?"]
        tuples = await r.list(cfg("map-ask"), limit=1)
        assert len(tuples) == 1
        # ordered as langgraph sorts them: (task path, task id, index)
        pending = [(ch, plain(v)) for _, ch, v in tuples[0].pending_writes]
        assert sorted(v for ch, v in pending if ch == "results") == [["W"], ["X"], ["Y"]]
        interrupts = [list(v) for ch, v in pending if ch == "__interrupt__"]
        assert interrupts == [[("Interrupt", "approve z?")]]
        out2 = await r.invoke(g, Command(resume="ok"), c)
        assert out2["results"] == ["X", "Y", "Z=ok", "W"]
        assert out2["summary"] == "X,Y,Z=ok,W"
        assert calls == Counter({"x": 1, "y": 1, "z": 2, "w": 1})
        return plain(out), snap(st), pending, plain(out2), hist(await r.history(g, c))

    await same_as_reference(scenario, ours)


# -- 3. subgraph with its own interrupt ------------------------------------------------------


def subgraph_graph(r: Runner) -> Any:
    def s_ask(state: Trail) -> Trail:
        return {"trail": ["ask:" + interrupt("sub-q")]}

    sb = StateGraph(Trail)
    sb.add_node("s1", appender("s1"))
    sb.add_node("s_ask", s_ask)
    sb.add_node("s2", appender("s2"))
    sb.add_edge(START, "s1")
    sb.add_edge("s1", "s_ask")
    sb.add_edge("s_ask", "s2")
    sb.add_edge("s2", END)
    sub = sb.compile()

    b = StateGraph(Trail)
    b.add_node("p1", appender("p1"))
    b.add_node("sub", sub)
    b.add_node("p2", appender("p2"))
    b.add_edge(START, "p1")
    b.add_edge("p1", "sub")
    b.add_edge("sub", "p2")
    b.add_edge("p2", END)
    return r.compile(b)


async def test_subgraph_interrupt_and_resume(ours: Runner) -> None:
    async def scenario(r: Runner) -> Any:
        g = subgraph_graph(r)
        c = cfg("nested")
        out = await r.invoke(g, {"trail": []}, c)
        assert [i.value for i in out["__interrupt__"]] == ["sub-q"]
        st = await r.state(g, c, subgraphs=True)
        assert st.next == ("sub",)
        (t,) = st.tasks
        assert t.name == "sub" and isinstance(t.state, StateSnapshot)
        assert t.state.next == ("s_ask",)
        assert t.state.values == {"trail": ["p1", "s1"]}
        assert [i.value for i in t.state.tasks[0].interrupts] == ["sub-q"]
        sub_ns = t.state.config["configurable"]["checkpoint_ns"]
        assert ns_name(sub_ns) == "sub"
        shallow = await r.state(g, c)
        # the subgraph's own history, read through its namespace
        sub_hist = await r.history(g, cfg("nested", checkpoint_ns=sub_ns))
        assert [s.metadata["step"] for s in sub_hist] == [1, 0, -1]
        assert all(ns_name(s.config["configurable"]["checkpoint_ns"]) == "sub" for s in sub_hist)

        # listing: no checkpoint_ns = every namespace; checkpoint_ns "" = root only
        everything = await r.list(cfg("nested"))
        root = await r.list(cfg("nested", checkpoint_ns=""))
        only_sub = await r.list(cfg("nested", checkpoint_ns=sub_ns))
        assert {ns_name(x.config["configurable"]["checkpoint_ns"]) for x in everything} == {
            "",
            "sub",
        }
        assert {x.config["configurable"]["checkpoint_ns"] for x in root} == {""}
        assert len(everything) == len(root) + len(only_sub)
        assert len(only_sub) == len(sub_hist)
        assert sorted(x.config["configurable"]["checkpoint_id"] for x in everything) == sorted(
            x.config["configurable"]["checkpoint_id"] for x in [*root, *only_sub]
        )
        listed = (
            sorted(repr(tup(x)) for x in everything),
            [tup(x) for x in root],
            [tup(x) for x in only_sub],
        )

        out2 = await r.invoke(g, Command(resume="ok"), c)
        # the subgraph returns its whole `trail`, which the parent's reducer appends
        assert out2 == {"trail": ["p1", "p1", "s1", "ask:ok", "s2", "p2"]}
        final = await r.state(g, c, subgraphs=True)
        assert final.next == () and final.tasks == ()
        everything2 = await r.list(cfg("nested"))
        root2 = await r.list(cfg("nested", checkpoint_ns=""))
        assert {x.config["configurable"]["checkpoint_ns"] for x in root2} == {""}
        assert len(everything2) > len(root2)
        return (
            plain(out),
            snap(st),
            snap(shallow),
            hist(sub_hist),
            listed,
            plain(out2),
            snap(final),
            sorted(repr(tup(x)) for x in everything2),
            [tup(x) for x in root2],
            hist(await r.history(g, c)),
        )

    await same_as_reference(scenario, ours)
    # InMemorySaver groups a cross-namespace listing by namespace; ours merges the namespaces
    # newest first (list_checkpoints-2.lua), which the comparison above (sorted) leaves open.
    ids = [t.config["configurable"]["checkpoint_id"] for t in await ours.list(cfg("nested"))]
    assert len(ids) > 5 and ids == sorted(ids, reverse=True)


# -- 4. history: limit, before, time travel ------------------------------------------------


def linear_graph(r: Runner, calls: Counter[str]) -> Any:
    b = StateGraph(Trail)
    for name in ("a", "b", "c"):
        b.add_node(name, appender(name, calls))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", "c")
    b.add_edge("c", END)
    return r.compile(b)


async def test_history_limit_and_before(ours: Runner) -> None:
    async def scenario(r: Runner) -> Any:
        g = linear_graph(r, Counter())
        c = cfg("hist")
        await r.invoke(g, {"trail": ["0"]}, c)
        full = await r.history(g, c)
        assert [s.metadata["step"] for s in full] == [3, 2, 1, 0, -1]
        assert [s.next for s in full] == [(), ("c",), ("b",), ("a",), ("__start__",)]
        assert chain(full) == [1, 2, 3, 4, None]
        top2 = await r.history(g, c, limit=2)
        assert [s.values for s in top2] == [s.values for s in full[:2]]
        older = await r.history(g, c, before=full[1].config)
        assert [s.metadata["step"] for s in older] == [1, 0, -1]
        both = await r.history(g, c, before=full[0].config, limit=2)
        assert [s.metadata["step"] for s in both] == [2, 1]
        none = await r.history(g, c, before=full[-1].config)
        assert none == []
        loops = await r.history(g, c, filter={"source": "loop"})
        assert [s.metadata["step"] for s in loops] == [3, 2, 1, 0]
        one = await r.history(g, full[2].config)
        assert [s.metadata["step"] for s in one] == [1]
        return [hist(x) for x in (full, top2, older, both, loops, one)]

    await same_as_reference(scenario, ours)


async def test_time_travel_fork(ours: Runner) -> None:
    async def scenario(r: Runner) -> Any:
        calls: Counter[str] = Counter()
        g = linear_graph(r, calls)
        c = cfg("travel")
        await r.invoke(g, {"trail": ["0"]}, c)
        original = await r.history(g, c)
        original_latest = original[0]
        assert original_latest.values == {"trail": ["0", "a", "b", "c"]}
        (before_b,) = [s for s in original if s.next == ("b",)]

        fork_config = await r.update(g, before_b.config, {"trail": ["fork"]})
        forked = await r.state(g, fork_config)
        assert forked.values == {"trail": ["0", "a", "fork"]}
        assert forked.next == ("b",)
        assert forked.metadata["source"] == "update"
        assert (
            forked.parent_config["configurable"]["checkpoint_id"]
            == (before_b.config["configurable"]["checkpoint_id"])
        )
        out = await r.invoke(g, None, fork_config)
        assert out == {"trail": ["0", "a", "fork", "b", "c"]}
        assert calls == Counter({"a": 1, "b": 2, "c": 2})

        # the original branch is untouched and still readable
        again = await r.state(g, original_latest.config)
        assert again.values == {"trail": ["0", "a", "b", "c"]}
        assert snap(again) == snap(original_latest)
        for old in original:
            assert snap(await r.state(g, old.config)) == snap(old)
        latest = await r.state(g, c)
        assert latest.values == out
        h = await r.history(g, c)
        assert len(h) == len(original) + 3
        assert [s.metadata["source"] for s in h[:3]] == ["loop", "loop", "update"]
        # the fork's parent is the checkpoint before "b"; the old branch keeps its chain
        idx = [s.config["configurable"]["checkpoint_id"] for s in h]
        assert chain(h)[2] == idx.index(before_b.config["configurable"]["checkpoint_id"])
        return hist(original), snap(forked), plain(out), snap(latest), hist(h)

    await same_as_reference(scenario, ours)


# -- 5. durability modes ---------------------------------------------------------------------


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
async def test_durability_modes(ours: Runner, durability: str) -> None:
    async def scenario(r: Runner) -> Any:
        calls: Counter[str] = Counter()
        g = questions_graph(r, calls)
        c = cfg(f"durable-{durability}")
        outs = [await r.invoke(g, {"trail": ["go"]}, c, durability=durability)]
        states = [snap(await r.state(g, c))]
        for answer in ["1", "2", "3"]:
            outs.append(await r.invoke(g, Command(resume=answer), c, durability=durability))
            states.append(snap(await r.state(g, c)))
        assert outs[-1] == {"trail": ["go", "before", "ask", "after:1,2,3"], "answers": list("123")}
        # a parallel step and a plain linear run on another thread of the same saver
        lg = linear_graph(r, Counter())
        c2 = cfg(f"durable-linear-{durability}")
        lin = await r.invoke(lg, {"trail": []}, c2, durability=durability)
        assert lin == {"trail": ["a", "b", "c"]}
        h1, h2 = await r.history(g, c), await r.history(lg, c2)
        return [plain(o) for o in outs], states, plain(lin), hist(h1), hist(h2)

    trace = await same_as_reference(scenario, ours)
    if durability == "exit":
        assert trace[4]["steps"] == [3]
    else:
        assert trace[4]["steps"] == [3, 2, 1, 0, -1]


# -- 6. threads are isolated -----------------------------------------------------------------


async def test_interleaved_threads_and_delete(ours: Runner) -> None:
    async def scenario(r: Runner) -> Any:
        calls: Counter[str] = Counter()
        g = questions_graph(r, calls)
        t1, t2 = cfg("thread-1"), cfg("thread-2")
        trace: list[Any] = []
        trace.append(plain(await r.invoke(g, {"trail": ["one"]}, t1)))
        trace.append(plain(await r.invoke(g, {"trail": ["two"]}, t2)))
        trace.append(plain(await r.invoke(g, Command(resume="1a"), t1)))
        s2 = await r.state(g, t2)
        assert s2.values == {"trail": ["two", "before"], "answers": []}
        assert [i.value for i in s2.interrupts] == ["q1"]
        trace.append(plain(await r.invoke(g, Command(resume="2a"), t2)))
        for a1, a2 in (("1b", "2b"), ("1c", "2c")):
            trace.append(plain(await r.invoke(g, Command(resume=a1), t1)))
            trace.append(plain(await r.invoke(g, Command(resume=a2), t2)))
        v1, v2 = (await r.state(g, t1)).values, (await r.state(g, t2)).values
        assert v1 == {
            "trail": ["one", "before", "ask", "after:1a,1b,1c"],
            "answers": ["1a", "1b", "1c"],
        }
        assert v2 == {
            "trail": ["two", "before", "ask", "after:2a,2b,2c"],
            "answers": ["2a", "2b", "2c"],
        }
        h2_before = hist(await r.history(g, t2))
        list2_before = [tup(x) for x in await r.list(t2)]

        await r.delete_thread("thread-1")
        gone = await r.state(g, t1)
        assert gone.values == {} and gone.next == ()
        assert await r.history(g, t1) == []
        assert await r.list(t1) == []
        # the other thread is intact and readable
        assert (await r.state(g, t2)).values == v2
        h2_after = hist(await r.history(g, t2))
        assert h2_after == h2_before
        assert [tup(x) for x in await r.list(t2)] == list2_before
        # and the deleted thread can be used again from scratch
        out = await r.invoke(g, {"trail": ["new"]}, t1)
        assert [i.value for i in out["__interrupt__"]] == ["q1"]
        assert (await r.state(g, t1)).values["trail"] == ["new", "before"]
        trace += [v1, v2, snap(gone), h2_after, hist(await r.history(g, t1))]
        return trace

    await same_as_reference(scenario, ours)


# -- 7. errors and retries -------------------------------------------------------------------


async def test_retry_policy(ours: Runner) -> None:
    async def scenario(r: Runner) -> Any:
        calls: Counter[str] = Counter()

        def flaky(state: Trail) -> Trail:
            calls["flaky"] += 1
            if calls["flaky"] == 1:
                raise ValueError("first attempt fails")
            return {"trail": ["flaky"]}

        policy = RetryPolicy(initial_interval=0.001, jitter=False, retry_on=ValueError)
        b = StateGraph(Trail)
        b.add_node("flaky", flaky, retry_policy=policy)
        b.add_node("after", appender("after"))
        b.add_edge(START, "flaky")
        b.add_edge("flaky", "after")
        b.add_edge("after", END)
        g = r.compile(b)
        c = cfg("retry")
        out = await r.invoke(g, {"trail": []}, c)
        assert out == {"trail": ["flaky", "after"]}
        assert calls["flaky"] == 2
        st = await r.state(g, c)
        assert st.tasks == ()
        return plain(out), snap(st), hist(await r.history(g, c))

    await same_as_reference(scenario, ours)


async def test_error_stops_run_then_resume(ours: Runner) -> None:
    """'ok' and 'bad' run in parallel; 'bad' fails twice (different messages) before it
    succeeds. Each failure is stored as the task's __error__ write, the second replacing the
    first; 'ok''s write survives as a pending write and it never runs again."""

    async def scenario(r: Runner) -> Any:
        calls: Counter[str] = Counter()
        ok_done = threading.Event()

        def ok(state: Trail) -> Trail:
            calls["ok"] += 1
            ok_done.set()
            return {"trail": ["ok"]}

        def bad(state: Trail) -> Trail:
            calls["bad"] += 1
            # fail only once "ok" has finished, so its write is stored (not cancelled)
            assert ok_done.wait(10)
            if calls["bad"] < 3:
                raise ValueError(f"boom {calls['bad']}")
            return {"trail": ["bad"]}

        b = StateGraph(Trail)
        b.add_node("ok", ok)
        b.add_node("bad", bad)
        b.add_node("join", appender("join", calls))
        b.add_edge(START, "ok")
        b.add_edge(START, "bad")
        b.add_edge(["ok", "bad"], "join")
        b.add_edge("join", END)
        g = r.compile(b)
        c = cfg("errors")
        trace: list[Any] = []
        for attempt in (1, 2):
            with pytest.raises(ValueError, match=f"boom {attempt}"):
                await r.invoke(g, {"trail": ["in"]} if attempt == 1 else None, c)
            st = await r.state(g, c)
            assert st.next == ("bad",)
            errors = {t.name: t.error for t in st.tasks}
            # the stored error (loaded back by the serializer) names the latest failure
            assert "ValueError" in str(errors["bad"]), errors
            assert f"boom {attempt}" in str(errors["bad"]), errors
            assert errors["ok"] is None
            assert [t.result for t in st.tasks if t.name == "ok"] == [{"trail": ["ok"]}]
            (latest,) = await r.list(c, limit=1)
            errs = [v for _, ch, v in latest.pending_writes if ch == "__error__"]
            # one __error__ write for the task: the second failure replaced the first
            assert len(errs) == 1, errs
            assert f"boom {attempt}" in str(errs[0]), errs
            trace += [snap(st), tup(latest)]
        out = await r.invoke(g, None, c)
        # writes of one step are applied in task-path order: "bad" before "ok"
        assert out == {"trail": ["in", "bad", "ok", "join"]}
        assert calls == Counter({"ok": 1, "bad": 3, "join": 1})
        st = await r.state(g, c)
        assert st.next == () and st.tasks == ()
        h = await r.history(g, c)
        assert [s.metadata["step"] for s in h] == [2, 1, 0, -1]
        trace += [plain(out), snap(st), hist(h)]
        return trace

    await same_as_reference(scenario, ours)
