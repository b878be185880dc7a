"""ShallowRedisSaver and AsyncShallowRedisSaver: one checkpoint per thread and namespace.

1. The official conformance suite on both shallow savers, every backend: every capability that
   applies passes, and the tests that need history (several checkpoints of one namespace) fail
   exactly as expected, at the assertion that needs the older checkpoint (`NOT_APPLICABLE`).
2. Graphs with many `interrupt()`s (in sequence, two in one node, two in parallel next to a
   node that finishes, inside a subgraph) run to the end on both savers, equal to InMemorySaver.
3. The raw key space after every step: one checkpoint hash per (thread, namespace), no writes of
   older checkpoints, only the blobs the latest references (and the logs those refer to), and
   cross-thread indexes naming only what is stored (`shallow_keyspace`).
4. LangGraph's DeltaChannel: the ancestors its replay needs are kept, never listed.
5. TTL (real expiry) and prune(keep_last=...) on shallow threads.
"""

from __future__ import annotations

import asyncio
import operator
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
import redis
from langchain_core.runnables import RunnableConfig
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES
from langgraph.checkpoint.conformance.report import ProgressCallbacks
from langgraph.checkpoint.conformance.test_utils import generate_checkpoint, generate_metadata
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.redis import (
    AsyncShallowRedisSaver,
    ShallowRedisSaver,
)
from langgraph.checkpoint.redis.ashallow import AsyncShallowRedisSaver as AsyncFromModule
from langgraph.checkpoint.redis.keys import KeySpace, dec
from langgraph.checkpoint.redis.shallow import ShallowRedisSaver as SyncFromModule
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Interrupt, StateSnapshot, interrupt
from typing_extensions import TypedDict

from .conftest import Backend
from .facade import SyncCalls, cfg, conformance_factory, ns_name, plain
from .helpers import Runner, close_saver, make_saver, setup_saver, thread_keys

# -- 1. conformance ------------------------------------------------------------------------


class ShallowSyncAdapter(SyncCalls, ShallowRedisSaver):
    """ShallowRedisSaver with the suite's async calls run through its sync methods."""


NOT_APPLICABLE: dict[tuple[str, str], str] = {
    # (capability, test): the assertion it fails at. Each needs a namespace to hold several
    # checkpoints; everything each test asserts before that line passes.
    ("put", "test_put_multiple_checkpoints_same_thread"): (
        'assert tup is not None, f"checkpoint {cid} not found"'
    ),
    ("put", "test_put_incremental_channel_update"): "assert tup1 is not None",
    ("get_tuple", "test_get_tuple_specific_checkpoint_id"): "assert tup is not None",
    ("list", "test_list_all"): "assert len(results) == 4",
    ("list", "test_list_by_thread"): "assert len(results) == 4",
    ("list", "test_list_ordering"): "assert results == list(reversed(ids))",
    ("list", "test_list_metadata_filter_single_key"): "assert len(results) == 2, (",
    ("list", "test_list_metadata_filter_step"): "assert len(results) == 1",
    ("list", "test_list_metadata_custom_keys"): "assert len(results) == 1",
    ("list", "test_list_before"): "assert set(result_ids) == {ids[0], ids[1]}, (",
    ("list", "test_list_limit"): "assert len(results) == 2",
    ("list", "test_list_limit_plus_before"): "assert len(results) == 1",
    ("list", "test_list_combined_thread_and_filter"): "assert len(results) == 2, (",
    ("delete_for_runs", "test_delete_for_runs_single"): (
        'assert run1 in pre_run_ids, "Pre-delete: run1 should exist"'
    ),
    ("delete_for_runs", "test_delete_for_runs_multiple"): (
        'assert run1 in pre_run_ids, "Pre-delete: run1 should exist"'
    ),
    ("delete_for_runs", "test_delete_for_runs_preserves_other_runs"): (
        'assert run_keep in pre_run_ids, "Pre-delete: run_keep should exist"'
    ),
    ("copy_thread", "test_copy_thread_basic"): (
        'assert len(results) == 3, f"Expected 3 copied checkpoints, got {len(results)}"'
    ),
}


def failing_line(test: str, tb: str) -> str:
    """The source line of `test`'s own frame in a traceback, where an AssertionError was
    raised (the innermost frame: the failure is the test's own assertion)."""
    lines = tb.rstrip().splitlines()
    hits = [i for i, line in enumerate(lines) if line.lstrip().startswith("File ")]
    assert hits and lines[hits[-1]].rstrip().endswith(f", in {test}"), tb
    assert any(line.startswith("AssertionError") for line in lines[hits[-1] :]), tb
    return lines[hits[-1] + 1].strip()


async def _conformance(name: str, make: Callable[[], Any]) -> None:
    factory = conformance_factory(make)
    results: list[tuple[str, str, bool, str | None]] = []
    progress = ProgressCallbacks(on_test_result=lambda *r: results.append(r))
    report = await validate(checkpointer_test(name=name)(factory), progress=progress)
    failed = {(cap, test): tb for cap, test, ok, tb in results if not ok}
    text = "\n".join(f"{c} {t}\n{tb}" for (c, t), tb in failed.items())
    assert {c.value for c in ALL_CAPABILITIES} == set(report.results)
    assert all(r.detected for r in report.results.values()), report.results
    # exactly the history tests fail: an applicable test that fails, or a history test that
    # suddenly passes (the saver keeping older checkpoints), is a regression
    assert set(failed) == set(NOT_APPLICABLE), text
    for key, tb in failed.items():
        assert tb is not None
        assert failing_line(key[1], tb) == NOT_APPLICABLE[key], tb
    affected = {cap for cap, _ in NOT_APPLICABLE}
    for cap, res in report.results.items():
        mine = [r for r in results if r[0] == cap]
        assert res.tests_passed + res.tests_failed == len(mine) > 0, cap
        if cap in affected:
            assert res.passed is False, cap
        else:
            assert res.passed is True and res.tests_failed == 0, (cap, res.failures)
    assert sum(ok for *_, ok, _ in results) >= 60, len(results)
    assert len(results) - sum(ok for *_, ok, _ in results) == len(NOT_APPLICABLE)


async def test_conformance_async_shallow(backend: Backend) -> None:
    await _conformance(
        f"AsyncShallowRedisSaver[{backend.name}]",
        lambda: AsyncShallowRedisSaver(**backend.saver_kwargs(True)),
    )


async def test_conformance_sync_shallow(backend: Backend) -> None:
    await _conformance(
        f"ShallowRedisSaver[{backend.name}]",
        lambda: ShallowSyncAdapter(**backend.saver_kwargs(False)),
    )


def test_exports() -> None:
    assert ShallowRedisSaver is SyncFromModule and AsyncShallowRedisSaver is AsyncFromModule
    assert ShallowRedisSaver.shallow is True and AsyncShallowRedisSaver.shallow is True


# -- the raw key space -----------------------------------------------------------------------

KS = KeySpace()
THREAD_KINDS = (
    "checkpoint_write",
    "checkpoint_blob",
    "checkpoint_idx",
    "checkpoint_wo",
    "checkpoint_ns",
    "checkpoint_xref",
    "checkpoint_pin",
    "checkpoint",
)


def split_key(key: str) -> tuple[str, str | None, list[str]]:
    """'checkpoint:{T}:N:C' -> ('checkpoint', 'T', ['N', 'C']); global keys -> ('global', ...)."""
    for kind in THREAD_KINDS:
        if key.startswith(kind + ":{"):
            tag, rest = key[len(kind) + 2 :].split("}", 1)
            return kind, tag, rest[1:].split(":") if rest else []
    return "global", None, [key]


def log_ref(value: bytes) -> tuple[str, int] | None:
    """(log id, byte length) of a blob value kept in a log ('@<id>\\n<length>\\n<count>')."""
    if not value.startswith(b"@"):
        return None
    log, length, _ = value[1:].split(b"\n")
    return log.decode(), int(length)


@dataclass
class Space:
    kept: dict[tuple[str, str], list[str]]
    """(thread, namespace) -> the checkpoint ids stored, oldest first (the last is latest)."""
    writes: dict[tuple[str, str], set[str]]
    """(thread, namespace) -> the ids that have writes hashes."""
    refs: int
    """Blob values kept in a log (a reference)."""

    def latest(self, thread: str, ns: str = "") -> str:
        return self.kept[(thread, ns)][-1]


def shallow_keyspace(r: redis.Redis, *, replay: int = 1, ttl: bool = False) -> Space:
    """Checks every key on the server against the shallow layout and returns what is kept.

    Per (thread, namespace): the checkpoint hashes are exactly the index's members: the latest
    and, only when it replays DeltaChannel history (field `h`), its nearest ancestors, at most
    `replay` in all. Writes hashes belong to kept checkpoints and are named by them. The blob
    hash holds only fields kept checkpoints reference, and the logs it registers are exactly
    those its references name, each as long as they need. No write-only ids are left. The
    cross-thread indexes (all, run, value) and the
    ledger name exactly the kept checkpoints; nothing else is on the server."""
    cps: dict[tuple[str, str], set[str]] = defaultdict(set)
    writes: list[tuple[str, str, str, str]] = []
    blobs: dict[tuple[str, str], dict[str, bytes]] = {}
    logs: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)  # (T, N) -> id -> length
    idx: dict[tuple[str, str], list[str]] = {}
    ns_sets: dict[str, set[str]] = {}
    xrefs: dict[str, dict[str, str]] = {}
    glob: list[str] = []
    for key in sorted(k.decode() for k in r.scan_iter(count=1000)):
        kind, t, parts = split_key(key)
        if kind == "checkpoint":
            cps[(t, parts[0])].add(parts[1])  # type: ignore[index]
        elif kind == "checkpoint_write":
            writes.append((t, parts[0], parts[1], parts[2]))  # type: ignore[arg-type]
        elif kind == "checkpoint_blob" and len(parts) == 2:
            logs[(t, parts[0])][parts[1]] = r.strlen(key)  # type: ignore[index]
        elif kind == "checkpoint_blob":
            blobs[(t, parts[0])] = {f.decode(): v for f, v in r.hgetall(key).items()}  # type: ignore[index]
        elif kind == "checkpoint_idx":
            idx[(t, parts[0])] = [m.decode() for m in r.zrange(key, 0, -1)]  # type: ignore[index]
        elif kind == "checkpoint_ns":
            ns_sets[t] = {m.decode() for m in r.smembers(key)}  # type: ignore[index]
        elif kind == "checkpoint_xref":
            xrefs[t] = {f.decode(): v.decode() for f, v in r.hgetall(key).items()}  # type: ignore[index]
        elif kind in ("checkpoint_wo", "checkpoint_pin"):
            raise AssertionError(f"{key} is left: {r.type(key)!r}")
        else:
            glob.append(key)

    def cp(t: str, ns: str, cid: str) -> str:
        return f"checkpoint:{{{t}}}:{ns}:{cid}"

    namespaces = {(t, ns) for t, s in ns_sets.items() for ns in s}
    assert set(cps) == namespaces == set(idx), (dict(cps), ns_sets, idx)
    kept: dict[tuple[str, str], list[str]] = {}
    for (t, ns), ids in idx.items():
        assert set(ids) == cps[(t, ns)], (t, ns, ids, cps[(t, ns)])
        assert 1 <= len(ids) <= replay, (t, ns, ids)
        # the kept ones are the latest and its nearest ancestors, a chain without gaps
        walk = [ids[-1]]
        while len(walk) < len(ids):
            walk.append(r.hget(cp(t, ns, walk[-1]), "p").decode())
        assert sorted(walk) == ids, (walk, ids)
        if len(ids) > 1:
            assert r.hexists(cp(t, ns, ids[-1]), "h"), "ancestors kept with no replay"
        for cid in ids:
            assert r.hexists(cp(t, ns, cid), "d"), (t, ns, cid)
        kept[(t, dec(ns))] = ids
    have_writes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for t, ns, cid, task in writes:
        assert cid in cps[(t, ns)], f"writes of a removed checkpoint: {t} {ns} {cid} {task}"
        assert r.hexists(cp(t, ns, cid), "w:" + task), (t, ns, cid, task)
        have_writes[(t, dec(ns))].add(cid)
    refs = 0
    for t, ns in namespaces:
        fields = blobs.get((t, ns), {})
        named: set[str] = set()
        for cid in idx[(t, ns)]:
            b = r.hget(cp(t, ns, cid), "b").decode()
            named |= set(b.split("\n")) if b else set()
        proper = {f for f in fields if not f.startswith("@")}
        assert proper <= named, (t, ns, sorted(proper - named))
        used: set[str] = set()
        for f in proper:
            ref = log_ref(fields[f])
            if ref is not None:
                used.add(ref[0])
                assert logs[(t, ns)].get(ref[0], -1) >= ref[1], (t, ns, f, ref)
                refs += 1
        registered = {f[1:] for f in fields if f.startswith("@") and f != "@"}
        assert registered == used == set(logs.pop((t, ns), {})), (t, ns, registered, used)
    assert not any(logs.values()), f"logs without their namespace: {dict(logs)}"
    members = {f"{cid}\n{t}\n{ns}" for (t, ns), ids in idx.items() for cid in ids}
    ledger = {
        t: {f"{ns}\n{cid}" for (t2, ns), ids in idx.items() if t2 == t for cid in ids}
        for t in ns_sets
    }
    assert {t: set(x) for t, x in xrefs.items()} == ledger, (xrefs, ledger)
    indexed: dict[str, set[str]] = defaultdict(set)
    runs: dict[str, set[str]] = defaultdict(set)
    for t, x in xrefs.items():
        for field, value in x.items():
            ns, cid = field.split("\n")
            run, *by = value.split("\n")
            for entry in by:
                key, value = entry.rsplit("\t", 1)
                indexed[key].add(f"{value}\n{cid}\n{t}\n{ns}")
            if run:
                runs[f"checkpoint_run:{run}"].add(f"{t}\n{ns}\n{cid}")
            # every indexed metadata scalar of a kept checkpoint is in its value index
            for f, v in r.hgetall(cp(t, ns, cid)).items():
                if f.startswith(b"f:") and (k := KS.by_key(f[2:].decode(), v.decode())):
                    assert k in by, (k, by)
    for key in glob:
        if key == "checkpoint_meta":
            continue
        if key == "checkpoint_all":
            assert {m.decode() for m in r.zrange(key, 0, -1)} == members
        elif key.startswith("checkpoint_by:"):
            assert {m.decode() for m in r.zrange(key, 0, -1)} == indexed.pop(key), key
        elif key.startswith("checkpoint_run:"):
            assert {m.decode() for m in r.smembers(key)} == runs.pop(key), key
        elif key == "checkpoint_exp":
            assert ttl, "an expiry index without TTL"
            assert {m.decode() for m in r.zrange(key, 0, -1)} == set(ns_sets)
        else:
            raise AssertionError(f"unexpected key {key}")
    assert not indexed and not runs, (indexed, runs)
    assert ("checkpoint_all" in glob) == bool(members)
    return Space(kept, dict(have_writes), refs)


def dump(r: redis.Redis) -> dict[str, Any]:
    """Every key with its content (and whether it expires), to compare before and after."""
    out: dict[str, Any] = {}
    for k in r.scan_iter(count=1000):
        t = r.type(k)
        if t == b"hash":
            v: Any = r.hgetall(k)
        elif t == b"zset":
            v = r.zrange(k, 0, -1, withscores=True)
        elif t == b"set":
            v = sorted(r.smembers(k))
        else:
            v = r.get(k)
        out[k.decode()] = (t, v, r.ttl(k) > 0)
    return out


@pytest.fixture(params=["sync", "async"])
async def shallow(request: pytest.FixtureRequest, backend: Backend) -> AsyncIterator[Runner]:
    """ShallowRedisSaver driven through graph.invoke ("sync"), AsyncShallowRedisSaver through
    graph.ainvoke ("async"), on a flushed server."""
    s = make_saver(backend, request.param, shallow=True)
    await setup_saver(s)
    yield Runner(request.param, s)
    await close_saver(s)


def snap(s: StateSnapshot) -> dict[str, Any]:
    md = s.metadata or {}
    return {
        "values": plain(s.values),
        "next": s.next,
        "step": md.get("step"),
        "source": md.get("source"),
        "ns": ns_name(s.config["configurable"].get("checkpoint_ns", "")),
        "interrupts": sorted(plain(i.value) for i in s.interrupts),
        "tasks": [
            (
                t.name,
                [plain(i.value) for i in t.interrupts],
                plain(t.result),
                snap(t.state) if isinstance(t.state, StateSnapshot) else None,
            )
            for t in s.tasks
        ],
    }


def thread_cfg(thread: str, **extra: Any) -> RunnableConfig:
    return {"configurable": {"thread_id": thread, **extra}}


# -- 2. interrupts and resumes ---------------------------------------------------------------


class Interview(TypedDict, total=False):
    trail: Annotated[list[str], operator.add]
    answers: Annotated[list[str], operator.add]
    summary: str


ANSWERS = {
    "name?": "Ada",
    "age?": "36",
    "city?": "London",
    "country?": "UK",
    "confirm?": "yes",
    "rate?": "5",
    "sub-1?": "s1",
    "sub-2?": "s2",
    "sub-3?": "s3",
    "parent?": "p",
}


def interview(calls: Counter[str]) -> StateGraph:
    """intro -> name? -> age? -> (city?, country?) in one node -> fast | confirm? | rate? in
    parallel (fast finishes while the other two wait) -> finish."""

    def counted(name: str, fn: Callable[[Interview], Interview]) -> Callable[..., Interview]:
        def node(s: Interview) -> Interview:
            calls[name] += 1
            return fn(s)

        return node

    b = StateGraph(Interview)
    b.add_node("intro", counted("intro", lambda s: {"trail": ["intro"]}))
    b.add_node("name", counted("name", lambda s: {"answers": ["name=" + interrupt("name?")]}))
    b.add_node("age", counted("age", lambda s: {"answers": ["age=" + interrupt("age?")]}))

    def place(s: Interview) -> Interview:
        city = interrupt("city?")
        country = interrupt("country?")
        return {"answers": [f"place={city}/{country}"]}

    b.add_node("place", counted("place", place))
    b.add_node("fast", counted("fast", lambda s: {"trail": ["fast"]}))
    b.add_node("confirm", counted("confirm", lambda s: {"answers": [interrupt("confirm?")]}))
    b.add_node("rate", counted("rate", lambda s: {"answers": ["rate=" + interrupt("rate?")]}))
    b.add_node(
        "finish",
        counted("finish", lambda s: {"summary": ";".join(s["answers"]), "trail": ["finish"]}),
    )
    b.add_edge(START, "intro")
    b.add_edge("intro", "name")
    b.add_edge("name", "age")
    b.add_edge("age", "place")
    for n in ("fast", "confirm", "rate"):
        b.add_edge("place", n)
    b.add_edge(["fast", "confirm", "rate"], "finish")
    b.add_edge("finish", END)
    return b


def nested(calls: Counter[str]) -> StateGraph:
    """p_in -> sub (s_in -> sub-1? -> (sub-2?, sub-3?) in one node -> s_out) -> parent? ."""

    def s_ask(s: Interview) -> Interview:
        calls["s_ask"] += 1
        return {"answers": [interrupt("sub-1?")]}

    def s_pair(s: Interview) -> Interview:
        calls["s_pair"] += 1
        return {"answers": [interrupt("sub-2?") + "+" + interrupt("sub-3?")]}

    sb = StateGraph(Interview)
    sb.add_node("s_in", lambda s: {"trail": ["s_in"]})
    sb.add_node("s_ask", s_ask)
    sb.add_node("s_pair", s_pair)
    sb.add_node("s_out", lambda s: {"trail": ["s_out:" + ",".join(s["answers"])]})
    sb.add_edge(START, "s_in")
    sb.add_edge("s_in", "s_ask")
    sb.add_edge("s_ask", "s_pair")
    sb.add_edge("s_pair", "s_out")
    sb.add_edge("s_out", END)

    def p_ask(s: Interview) -> Interview:
        calls["p_ask"] += 1
        return {"answers": ["parent=" + interrupt("parent?")], "summary": str(len(s["trail"]))}

    b = StateGraph(Interview)
    b.add_node("p_in", lambda s: {"trail": ["p_in"]})
    b.add_node("sub", sb.compile())
    b.add_node("p_ask", p_ask)
    b.add_edge(START, "p_in")
    b.add_edge("p_in", "sub")
    b.add_edge("sub", "p_ask")
    b.add_edge("p_ask", END)
    return b


Pause = Callable[[Any, RunnableConfig, list[Interrupt]], Awaitable[Any]]


async def answer_all(
    r: Runner,
    build: Callable[[Counter[str]], StateGraph],
    thread: str,
    on_pause: Pause | None = None,
    subgraphs: bool = False,
) -> list[Any]:
    """Runs the graph, answering every interrupt from ANSWERS (several at once by id), and
    returns what must be the same on every saver: each pause's questions and state, the final
    output and state, and how often each node ran."""
    calls: Counter[str] = Counter()
    g = r.compile(build(calls))
    c = thread_cfg(thread)
    trace: list[Any] = []
    out = await r.invoke(g, {"trail": ["go"]}, c)
    while "__interrupt__" in out:
        asked: list[Interrupt] = out["__interrupt__"]
        st = await r.state(g, c, subgraphs=subgraphs)
        trace.append((sorted(i.value for i in asked), snap(st)))
        if on_pause is not None:
            trace.append(await on_pause(g, c, asked))
        if len(asked) == 1:
            resume: Any = ANSWERS[asked[0].value]
        else:
            resume = {i.id: ANSWERS[i.value] for i in asked}
        out = await r.invoke(g, Command(resume=resume), c)
    trace.append((plain(out), snap(await r.state(g, c, subgraphs=subgraphs)), dict(calls)))
    return trace


async def test_interrupts_in_sequence_two_in_one_node_and_in_parallel(
    shallow: Runner, raw: redis.Redis
) -> None:
    r = shallow

    async def at_pause(g: Any, c: RunnableConfig, asked: list[Interrupt]) -> Any:
        space = shallow_keyspace(raw)
        assert list(space.kept) == [("interview", "")]
        (listed,) = await r.f.list(c)
        assert listed.config["configurable"]["checkpoint_id"] == space.latest("interview")
        assert len(await r.history(g, c)) == 1
        # the latest's pending writes survive: the interrupts, and what finished before them
        assert space.writes[("interview", "")] == {space.latest("interview")}
        channels = sorted(ch for _, ch, _ in listed.pending_writes)
        assert "__interrupt__" in channels
        return channels

    want = await answer_all(Runner(r.mode, InMemorySaver()), interview, "interview")
    got = await answer_all(r, interview, "interview", at_pause)
    asked = [x[0] for x in got[:-1:2]]
    assert asked == [["name?"], ["age?"], ["city?"], ["country?"], ["confirm?", "rate?"]]
    # the parallel step: "fast" finished; its write waits on the latest with the interrupts
    assert got[-2] == [
        "__interrupt__",
        "__interrupt__",
        "join:fast+confirm+rate:finish",
        "trail",
    ]
    out, final, calls = got[-1]
    assert out == {
        "trail": ["go", "intro", "fast", "finish"],
        "answers": ["name=Ada", "age=36", "place=London/UK", "yes", "rate=5"],
        "summary": "name=Ada;age=36;place=London/UK;yes;rate=5",
    }
    assert final["next"] == () and final["tasks"] == []
    assert calls == {
        "intro": 1,
        "name": 2,
        "age": 2,
        "place": 3,
        "fast": 1,
        "confirm": 2,
        "rate": 2,
        "finish": 1,
    }
    assert got[::2] == want
    space = shallow_keyspace(raw)
    assert list(space.kept) == [("interview", "")] and len(space.kept["interview", ""]) == 1


async def test_subgraph_interrupts_one_checkpoint_per_namespace(
    shallow: Runner, raw: redis.Redis
) -> None:
    r = shallow

    async def at_pause(g: Any, c: RunnableConfig, asked: list[Interrupt]) -> Any:
        space = shallow_keyspace(raw)
        tuples = await r.f.list(cfg("nested", ns=None))
        # one checkpoint per namespace, newest first, each the latest of its namespace
        by_ns = {t.config["configurable"]["checkpoint_ns"]: t for t in tuples}
        assert len(by_ns) == len(tuples) == len(space.kept)
        for (thread, ns), ids in space.kept.items():
            assert thread == "nested" and len(ids) == 1
            assert by_ns[ns].config["configurable"]["checkpoint_id"] == ids[0]
            (only,) = await r.f.list(cfg("nested", ns=ns))
            assert only.checkpoint["id"] == ids[0]
        ids = [t.checkpoint["id"] for t in tuples]
        assert ids == sorted(ids, reverse=True)
        return sorted(ns_name(ns) for ns in by_ns)

    async def namespaces(g: Any, c: RunnableConfig, asked: list[Interrupt]) -> Any:
        # InMemorySaver's namespaces, each once
        every = r0.saver.list(cfg("nested", ns=None))
        return sorted({ns_name(t.config["configurable"]["checkpoint_ns"]) for t in every})

    r0 = Runner(r.mode, InMemorySaver())
    want = await answer_all(r0, nested, "nested", namespaces, subgraphs=True)
    got = await answer_all(r, nested, "nested", at_pause, subgraphs=True)
    assert [x[0] for x in got[:-1:2]] == [["sub-1?"], ["sub-2?"], ["sub-3?"], ["parent?"]]
    assert got[1] == ["", "sub"]
    out, final, calls = got[-1]
    assert final["next"] == () and final["tasks"] == []
    assert out["answers"] == ["s1", "s2+s3", "parent=p"]
    assert out["trail"] == ["go", "p_in", "go", "p_in", "s_in", "s_out:s1,s2+s3"]
    assert calls == {"s_ask": 2, "s_pair": 3, "p_ask": 2}
    assert got == want
    space = shallow_keyspace(raw)
    assert sorted(ns_name(ns) for _, ns in space.kept) == ["", "sub"]
    assert all(len(ids) == 1 for ids in space.kept.values())


# -- 3. one checkpoint per namespace, in the key space ------------------------------------------


class Growing(TypedDict, total=False):
    items: Annotated[list[str], operator.add]
    n: int


def loop_graph(stop_every: int) -> StateGraph:
    """`step` appends to a growing list and loops until n is a multiple of `stop_every`;
    `side` runs in parallel with the first step of each invocation."""

    def step(s: Growing) -> Growing:
        n = s.get("n", 0) + 1
        return {"items": [f"item {n}"], "n": n}

    def route(s: Growing) -> str:
        return END if s["n"] % stop_every == 0 else "step"

    b = StateGraph(Growing)
    b.add_node("step", step)
    b.add_node("side", lambda s: {"items": ["side"]})
    b.add_edge(START, "step")
    b.add_edge(START, "side")
    b.add_conditional_edges("step", route, ["step", END])
    return b


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
async def test_keyspace_holds_one_checkpoint_per_namespace(
    shallow: Runner, raw: redis.Redis, durability: str
) -> None:
    r, mem = shallow, Runner(shallow.mode, InMemorySaver())
    g, gm = r.compile(loop_graph(4)), mem.compile(loop_graph(4))
    first = [f"seed {i}" for i in range(40)]  # a long list: later values are stored as deltas
    seen: set[str] = set()
    for rnd in range(3):
        for thread in ("a", "b"):
            inp = {"items": first if rnd == 0 else [f"round {rnd}"]}
            c = thread_cfg(thread)
            got = await r.invoke(g, inp, c, durability=durability)
            assert got == await mem.invoke(gm, inp, c, durability=durability)
            assert got["n"] == 4 * (rnd + 1)
            space = shallow_keyspace(raw)
            assert (thread, "") in space.kept and set(space.kept) <= {("a", ""), ("b", "")}
            assert all(len(ids) == 1 for ids in space.kept.values())
            # no writes are left: the latest is final, the older ones' are gone
            assert space.writes == {}
            (tup,) = await r.f.list(c)
            assert tup.checkpoint["id"] == space.latest(thread)
            assert tup.pending_writes == []
            assert tup.checkpoint["channel_values"]["items"] == got["items"]
            assert tup.checkpoint["id"] not in seen
            seen.add(tup.checkpoint["id"])
            if rnd > 0:
                # a list that grew is kept in a log that the latest version refers to
                assert space.refs >= 1
    for thread in ("a", "b"):
        (h,) = await r.history(g, thread_cfg(thread))
        assert h.values == (await mem.state(gm, thread_cfg(thread))).values


async def test_reopened_saver_reads_the_same(backend: Backend, raw: redis.Redis) -> None:
    """A saver that did not write the thread (no delta cache) reads the same values, and its
    next write keeps the invariant."""
    for mode in ("sync", "async"):
        a, b = make_saver(backend, mode, shallow=True), make_saver(backend, mode, shallow=True)
        await setup_saver(a)
        await setup_saver(b)
        ra, rb, mem = Runner(mode, a), Runner(mode, b), Runner(mode, InMemorySaver())
        g, g2, gm = ra.compile(loop_graph(5)), rb.compile(loop_graph(5)), mem.compile(loop_graph(5))
        c = thread_cfg(f"reopen-{mode}")
        inputs = [[f"x{i}" for i in range(30)], ["more"], ["again"]]
        for i, (run, graph) in enumerate([(ra, g), (rb, g2), (ra, g)]):
            out = await run.invoke(graph, {"items": inputs[i]}, c)
            assert out == await mem.invoke(gm, {"items": inputs[i]}, c)
            assert out["n"] == 5 * (i + 1)
            assert (await ra.state(g, c)).values == out == (await rb.state(g2, c)).values
            assert shallow_keyspace(raw).kept[(f"reopen-{mode}", "")] == [
                (await ra.f.get(c)).checkpoint["id"]  # type: ignore[union-attr]
            ]
        await close_saver(a)
        await close_saver(b)


# -- the saver's own API on a shallow thread ---------------------------------------------------


def _cp(values: dict[str, Any], versions: dict[str, str]) -> Any:
    return generate_checkpoint(channel_values=values, channel_versions=versions)


async def test_put_replaces_and_pending_writes_follow_the_latest(
    shallow: Runner, raw: redis.Redis
) -> None:
    f = shallow.f
    v1 = f.next_version(None)
    v2 = f.next_version(v1)
    both = {"a": v1, "b": v1}
    c1 = await f.put(cfg("t"), _cp({"a": "A1", "b": "B"}, both), {}, both)
    await f.put_writes(c1, [("a", "w1"), ("b", "w2")], "task-1")
    t1 = await f.get(cfg("t"))
    assert t1 is not None and [w[1:] for w in t1.pending_writes] == [("a", "w1"), ("b", "w2")]
    c2 = await f.put(c1, _cp({"a": "A2", "b": "B"}, {"a": v2, "b": v1}), {"step": 1}, {"a": v2})
    # the older checkpoint is gone with its writes; the latest reads values of both puts
    assert await f.get(c1) is None
    latest = await f.get(cfg("t"))
    assert latest is not None and latest.config == c2
    assert latest.checkpoint["channel_values"] == {"a": "A2", "b": "B"}
    assert latest.pending_writes == []
    assert latest.parent_config == c1  # the parent's id is recorded, though not stored
    assert await f.get(c2) == latest
    space = shallow_keyspace(raw)
    assert space.kept == {("t", ""): [c2["configurable"]["checkpoint_id"]]}
    await f.put_writes(c2, [("a", "w3")], "task-2")
    assert [w[1:] for w in (await f.get(c2)).pending_writes] == [("a", "w3")]  # type: ignore[union-attr]
    # a write that arrives late, for the checkpoint already replaced, is gone at the next put
    # (test_late_write_for_a_replaced_checkpoint_is_not_kept: it should not be stored at all)
    await f.put_writes(c1, [("a", "late")], "task-1")
    c3 = await f.put(c2, _cp({"a": "A2", "b": "B"}, {"a": v2, "b": v1}), {"step": 2}, {})
    assert await f.get(c2) is None and await f.get(c1) is None
    assert (await f.get(cfg("t"))).config == c3  # type: ignore[union-attr]
    assert shallow_keyspace(raw).kept == {("t", ""): [c3["configurable"]["checkpoint_id"]]}
    # writes racing ahead of their checkpoint (an id after the latest) are not pruned
    ahead = generate_checkpoint()
    await f.put_writes(cfg("t", cid=ahead["id"]), [("a", "early")], "task-3")
    c4 = await f.put(c3, ahead, {"step": 3}, {})
    assert [w[1:] for w in (await f.get(c4)).pending_writes] == [("a", "early")]  # type: ignore[union-attr]
    assert shallow_keyspace(raw).kept == {("t", ""): [ahead["id"]]}


async def test_late_write_for_a_replaced_checkpoint_is_not_kept(
    shallow: Runner, raw: redis.Redis
) -> None:
    """LangGraph sends a step's put_writes from background tasks that can land after the next
    step's put (even with durability="sync"): on a shallow saver those writes belong to a
    checkpoint that is gone and can never be read. Storing them leaves a checkpoint hash with
    only `w:` fields, a writes hash and a write-only id behind, until the namespace's next put,
    or for good when the thread is finished."""
    f = shallow.f
    c1 = await f.put(cfg("t"), generate_checkpoint(), {"step": 0}, {})
    c2 = await f.put(c1, generate_checkpoint(), {"step": 1}, {})
    await f.put_writes(c1, [("a", "late")], "task-1")
    assert await f.get(c1) is None
    assert [t.checkpoint["id"] for t in await f.list(cfg("t"))] == [
        c2["configurable"]["checkpoint_id"]
    ]
    assert shallow_keyspace(raw).kept == {("t", ""): [c2["configurable"]["checkpoint_id"]]}


async def test_list_offers_the_latest_of_each_namespace(shallow: Runner, raw: redis.Redis) -> None:
    f = shallow.f
    latest: dict[str, RunnableConfig] = {}
    for ns in ("", "child:1", "child:2"):
        parent: RunnableConfig = cfg("t", ns)
        for i, source in enumerate(["input", "loop", "loop"]):
            md = generate_metadata(source=source, step=i, tag=f"{ns}-{i}")
            parent = await f.put(parent, generate_checkpoint(), md, {})
        latest[ns] = parent
    ids = {ns: c["configurable"]["checkpoint_id"] for ns, c in latest.items()}
    newest_first = sorted(ids.values(), reverse=True)

    async def listed(config: RunnableConfig | None, **kw: Any) -> list[str]:
        return [t.checkpoint["id"] for t in await f.list(config, **kw)]

    assert await listed(cfg("t", ns=None)) == newest_first
    assert await listed(cfg("t", ns=None), limit=2) == newest_first[:2]
    assert await listed(cfg("t", ns=None), before=latest["child:2"]) == newest_first[1:]
    assert await listed(cfg("t", ns=None), filter={"tag": "child:1-2"}) == [ids["child:1"]]
    for ns in ids:
        assert await listed(cfg("t", ns)) == [ids[ns]]
        assert await listed(cfg("t", ns), filter={"source": "loop", "step": 2}) == [ids[ns]]
        # the filter, `before` and `limit` apply to the latest: older matches are gone
        assert await listed(cfg("t", ns), filter={"source": "input"}) == []
        assert await listed(cfg("t", ns), filter={"tag": f"{ns}-1"}) == []
        assert await listed(cfg("t", ns), before=latest[ns]) == []
        assert await listed(cfg("t", ns), limit=1) == [ids[ns]]
        assert await listed(latest[ns]) == [ids[ns]]
        got = await f.get(cfg("t", ns))
        assert got is not None and got.metadata["step"] == 2
    assert sorted(await listed(None)) == sorted(ids.values())
    assert await listed(None, filter={"source": "input"}) == []
    assert shallow_keyspace(raw).kept == {("t", ns): [cid] for ns, cid in ids.items()}


async def test_copy_delete_for_runs_and_delete_thread(shallow: Runner, raw: redis.Redis) -> None:
    r = shallow
    calls: Counter[str] = Counter()
    g = r.compile(interview(calls))
    run = str(uuid.uuid4())
    src = {"configurable": {"thread_id": "src"}, "metadata": {"run_id": run}}
    out = await r.invoke(g, {"trail": ["go"]}, src)
    out = await r.invoke(g, Command(resume="Ada"), src)
    assert [i.value for i in out["__interrupt__"]] == ["age?"]
    await r.f.copy_thread("src", "dst")
    space = shallow_keyspace(raw)
    assert sorted(space.kept) == [("dst", ""), ("src", "")]
    assert all(len(ids) == 1 for ids in space.kept.values())
    assert space.latest("dst") == space.latest("src")
    # the copy resumes where the source was, and the source is untouched
    for q in ["age?", "city?", "country?"]:
        out = await r.invoke(g, Command(resume=ANSWERS[q]), thread_cfg("dst"))
    assert sorted(i.value for i in out["__interrupt__"]) == ["confirm?", "rate?"]
    st = await r.state(g, thread_cfg("src"))
    assert st.values == {"trail": ["go", "intro"], "answers": ["name=Ada"]}
    assert [i.value for i in st.interrupts] == ["age?"]
    shallow_keyspace(raw)
    # delete_for_runs removes the run's latest checkpoint (the copy's is from another run)
    (tup,) = await r.f.list(thread_cfg("src"))
    assert tup.metadata["run_id"] == run
    await r.f.delete_for_runs([run])
    assert await r.f.list(thread_cfg("src")) == []
    assert thread_keys(raw, "src") == set()
    assert list(shallow_keyspace(raw).kept) == [("dst", "")]
    await r.f.delete_thread("dst")
    assert [k.decode() for k in raw.scan_iter(count=1000)] == ["checkpoint_meta"]


# -- 4. DeltaChannel -------------------------------------------------------------------------


class Deltas(TypedDict, total=False):
    items: Annotated[list, DeltaChannel(operator.add, snapshot_frequency=3)]
    n: int


def delta_graph(calls: Counter[str]) -> StateGraph:
    """`step` loops, appending one item per step, until n is a multiple of 5; at n == 7 it asks
    a question first (an interrupt, resumed with the item)."""

    def step(s: Deltas) -> Deltas:
        n = s.get("n", 0) + 1
        calls["step"] += 1
        item = interrupt(f"item {n}?") if n == 7 else f"i{n}"
        return {"items": item, "n": n}

    b = StateGraph(Deltas)
    b.add_node("step", step)
    b.add_edge(START, "step")
    b.add_conditional_edges("step", lambda s: END if s["n"] % 5 == 0 else "step", ["step", END])
    return b


async def delta_run(r: Runner, thread: str, check: Pause | None = None) -> list[Any]:
    calls: Counter[str] = Counter()
    g = r.compile(delta_graph(calls))
    c = thread_cfg(thread)
    trace: list[Any] = []
    for inp in ({"items": "in"}, {"items": "second"}, Command(resume="seven")):
        out = await r.invoke(g, inp, c)
        st = await r.state(g, c)
        trace.append((plain(out), snap(st)))
        if check is not None:
            await check(g, c, out.get("__interrupt__", []))
    out = await r.invoke(g, {"items": "fourth"}, c)
    trace.append((plain(out), snap(await r.state(g, c)), dict(calls)))
    return trace


async def test_delta_channel_state_matches_in_memory(
    shallow: Runner, raw: redis.Redis, backend: Backend
) -> None:
    r = shallow
    sizes: list[int] = []

    async def check(g: Any, c: RunnableConfig, asked: list[Interrupt]) -> None:
        space = shallow_keyspace(raw, replay=3)
        ids = space.kept[("d", "")]
        sizes.append(len(ids))
        (tup,) = await r.f.list(c)
        assert tup.checkpoint["id"] == ids[-1]
        assert len(await r.history(g, c)) == 1
        # the kept ancestors serve DeltaChannel replay only: not readable by id, never listed
        for cid in ids:
            got = await r.f.get(cfg("d", "", cid))
            if cid == ids[-1]:
                assert got is not None and got.checkpoint["id"] == cid
            else:
                assert got is None
        assert await r.f.list(c, before=tup.config) == []

    want = await delta_run(Runner(r.mode, InMemorySaver()), "d")
    got = await delta_run(r, "d", check)
    assert got == want
    final = got[-1][0]
    assert final["n"] == 15
    assert final["items"] == [
        "in",
        *[f"i{i}" for i in range(1, 6)],
        "second",
        "i6",
        "seven",
        *[f"i{i}" for i in range(8, 11)],
        "fourth",
        *[f"i{i}" for i in range(11, 16)],
    ]
    assert max(sizes) > 1  # the ancestors DeltaChannel replays were kept...
    (tup,) = await r.f.list(thread_cfg("d"))
    assert tup.checkpoint["id"] == shallow_keyspace(raw, replay=3).latest("d")
    # ... and a saver that did not write the thread rebuilds the same state from them
    other = make_saver(backend, r.mode, shallow=True)
    await setup_saver(other)
    ro = Runner(r.mode, other)
    assert (await ro.state(ro.compile(delta_graph(Counter())), thread_cfg("d"))).values == final
    await close_saver(other)


async def paused_delta_thread(r: Runner, raw: redis.Redis) -> list[str]:
    """Thread "d" paused at n == 7, where DeltaChannel's replay keeps ancestors; their ids."""
    g = r.compile(delta_graph(Counter()))
    await r.invoke(g, {"items": "in"}, thread_cfg("d"))
    out = await r.invoke(g, {"items": "second"}, thread_cfg("d"))
    assert [i.value for i in out["__interrupt__"]] == ["item 7?"]
    ids = [m.decode() for m in raw.zrange("checkpoint_idx:{d}:", 0, -1)]
    assert len(ids) > 1
    assert [t.checkpoint["id"] for t in await r.f.list(thread_cfg("d"))] == [ids[-1]]
    latest = await r.f.get(cfg("d", "", ids[-1]))
    assert latest is not None and latest.checkpoint["id"] == ids[-1]
    for cid in ids[:-1]:  # stored, but for DeltaChannel's replay only: not readable by id
        assert raw.hexists(f"checkpoint:{{d}}::{cid}", "d")
        assert await r.f.get(cfg("d", "", cid)) is None
    return ids


async def test_list_none_never_returns_replay_ancestors(shallow: Runner, raw: redis.Redis) -> None:
    """The ancestors kept for DeltaChannel's replay are storage, not history: list(None) (across
    threads) offers only the latest of each namespace too."""
    ids = await paused_delta_thread(shallow, raw)
    assert [t.checkpoint["id"] for t in await shallow.f.list(None)] == [ids[-1]]
    loops = await shallow.f.list(None, filter={"source": "loop"})
    assert [t.checkpoint["id"] for t in loops] == [ids[-1]]


async def test_list_by_id_never_returns_replay_ancestors(shallow: Runner, raw: redis.Redis) -> None:
    """list() with a config naming a replay ancestor's id offers nothing (as get_tuple: it is
    stored for the replay only); with the latest's id, the latest."""
    ids = await paused_delta_thread(shallow, raw)
    assert [t.checkpoint["id"] for t in await shallow.f.list(cfg("d", "", ids[-1]))] == [ids[-1]]
    for cid in ids[:-1]:
        assert await shallow.f.list(cfg("d", "", cid)) == []
        assert await shallow.f.list(cfg("d", None, cid)) == []


# -- 5. prune and TTL ----------------------------------------------------------------------


async def test_prune_keep_last_on_shallow_threads(shallow: Runner, raw: redis.Redis) -> None:
    r = shallow
    # a paused interview (pending writes), a paused nested graph (two namespaces), a DeltaChannel
    # thread (replay ancestors kept)
    gi = r.compile(interview(Counter()))
    await r.invoke(gi, {"trail": ["go"]}, thread_cfg("i"))
    await r.invoke(gi, Command(resume="Ada"), thread_cfg("i"))
    gn = r.compile(nested(Counter()))
    await r.invoke(gn, {"trail": ["go"]}, thread_cfg("n"))
    gd = r.compile(delta_graph(Counter()))
    await r.invoke(gd, {"items": "in"}, thread_cfg("d"))
    await r.invoke(gd, {"items": "second"}, thread_cfg("d"))  # paused at n == 7
    before = dump(raw)
    graphs = {"i": gi, "n": gn, "d": gd}
    values = {t: (await r.state(g, thread_cfg(t))).values for t, g in graphs.items()}
    space = shallow_keyspace(raw, replay=3)
    assert len(space.kept[("d", "")]) > 1
    for kw in ({"keep_last": 1}, {"keep_last": 2}, {"keep_last": 5}, {}):
        await r.f.prune(["i", "n", "d"], **kw)
        # nothing to remove: one checkpoint per namespace, and the replayed ancestors stay
        assert dump(raw) == before, kw
    for t, g in graphs.items():
        assert (await r.state(g, thread_cfg(t))).values == values[t]
    # the pruned threads resume
    out = await r.invoke(gi, Command(resume="36"), thread_cfg("i"))
    assert [i.value for i in out["__interrupt__"]] == ["city?"]
    out = await r.invoke(gn, Command(resume="s1"), thread_cfg("n"))
    assert [i.value for i in out["__interrupt__"]] == ["sub-2?"]
    out = await r.invoke(gd, Command(resume="seven"), thread_cfg("d"))
    assert out["items"] == [*values["d"]["items"], "seven", "i8", "i9", "i10"]
    assert "__interrupt__" not in out
    shallow_keyspace(raw, replay=3)
    await r.f.prune(["i"], keep_last=0)
    await r.f.prune(["n"], strategy="delete")
    assert thread_keys(raw, "i") == set() and thread_keys(raw, "n") == set()
    assert list(shallow_keyspace(raw, replay=3).kept) == [("d", "")]
    with pytest.raises(ValueError):
        await r.f.prune(["d"], keep_last=-1)


TTL_MINUTES = 1 / 60  # a second
TTL_MS = 1000
SLACK_MS = TTL_MS // 16  # lua/includes/ttl.lua: a thread expires ttl..ttl*(1+1/16) after use


async def _sleep_until(t: float) -> None:
    await asyncio.sleep(max(0.0, t - time.monotonic()))


async def test_ttl_threads_expire_wholly(real_backend: Backend) -> None:
    b, raw = real_backend, real_backend.sync_client()
    plain_ttl = {"default_ttl": TTL_MINUTES}
    refresh_ttl = {"default_ttl": TTL_MINUTES, "refresh_on_read": True}
    runners = {
        f"{mode}-{kind}": Runner(mode, make_saver(b, mode, shallow=True, ttl=ttl))
        for mode in ("sync", "async")
        for kind, ttl in (("plain", plain_ttl), ("refresh", refresh_ttl))
    }
    graphs: dict[str, Any] = {}
    for thread, r in runners.items():
        await setup_saver(r.saver)
        # a nested graph paused inside its subgraph (two namespaces, pending writes), then a
        # DeltaChannel thread
        graphs[thread] = g = r.compile(nested(Counter()))
        await r.invoke(g, {"trail": ["go"]}, thread_cfg(thread))
        await r.invoke(g, Command(resume="s1"), thread_cfg(thread))
        graphs[thread + "-d"] = gd = r.compile(delta_graph(Counter()))
        await r.invoke(gd, {"items": "in"}, thread_cfg(thread + "-d"))
        await r.invoke(gd, {"items": "second"}, thread_cfg(thread + "-d"))
    written = time.monotonic()
    space = shallow_keyspace(raw, replay=3, ttl=True)
    assert len(space.kept) == 3 * len(runners)
    # prune has nothing to remove on a shallow thread, and what it keeps still expires
    await runners["sync-plain"].f.prune(["sync-plain", "sync-plain-d"], keep_last=1)
    await runners["async-plain"].f.prune(["async-plain", "async-plain-d"], keep_last=2)
    assert shallow_keyspace(raw, replay=3, ttl=True) == space
    for thread in [*runners, *(t + "-d" for t in runners)]:
        keys = thread_keys(raw, thread)
        assert len(keys) >= 4
        for k in keys:
            left = raw.pttl(k)
            if k.startswith(b"checkpoint_xref:"):  # the ledger outlives the thread for the sweep
                assert left == -1, k
            else:
                assert 0 < left <= TTL_MS + SLACK_MS, (k, left)
    # reads of the refresh threads push their deadline back
    await _sleep_until(written + 0.4)
    read = time.monotonic()
    for thread in ("sync-refresh", "async-refresh"):
        st = await runners[thread].state(graphs[thread], thread_cfg(thread))
        assert [i.value for i in st.interrupts] == ["sub-2?"]
    await _sleep_until(written + (TTL_MS + SLACK_MS) / 1000 + 0.15)
    assert time.monotonic() < read + TTL_MS / 1000, "too slow to tell refreshed from expired"
    for thread in ("sync-refresh", "async-refresh"):
        assert raw.exists(f"checkpoint_ns:{{{thread}}}"), thread
        assert [k for k in thread_keys(raw, thread + "-d") if b"xref" not in k] == []
    # every other thread is gone whole: checkpoints, writes, blobs, indexes
    for thread in ("sync-plain", "async-plain"):
        r = runners[thread]
        for t in (thread, thread + "-d"):
            assert [k for k in thread_keys(raw, t) if not k.startswith(b"checkpoint_xref:")] == []
            assert await r.f.get(thread_cfg(t)) is None
            assert await r.f.list(cfg(t, ns=None)) == []
        assert (await r.state(graphs[thread], thread_cfg(thread))).values == {}
    await _sleep_until(read + (TTL_MS + SLACK_MS) / 1000 + 0.15)
    for thread in ("sync-refresh", "async-refresh"):
        assert [k for k in thread_keys(raw, thread) if b"xref" not in k] == []
    # the sweep removes what the expired threads left in the cross-thread indexes
    await runners["sync-plain"].f.sweep()
    assert [k.decode() for k in raw.scan_iter(count=1000)] == ["checkpoint_meta"]
    for r in runners.values():
        assert await r.f.list(None) == []
    for thread, r in runners.items():
        # an expired thread starts over
        out = await r.invoke(graphs[thread], {"trail": ["again"]}, thread_cfg(thread))
        assert [i.value for i in out["__interrupt__"]] == ["sub-1?"]
        await close_saver(r.saver)
    shallow_keyspace(raw, replay=3, ttl=True)
    raw.close()
