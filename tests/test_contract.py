"""The checkpointer contract where the official conformance suite is blind (notes/contract.md):
special writes, pending-write order, a config without `checkpoint_ns`, re-puts and the latest
pointer, `list` (every thread, namespaces, `before` paging, filters, limit after filter),
metadata merging, what delete/prune/copy leave in the key space, concurrency, serde, and a pure
`get_next_version`.

Most tests run on both savers through `Facade` (async methods backed by AsyncRedisSaver's a*
methods or by RedisSaver's sync methods, called directly), and compare with langgraph's
InMemorySaver wherever the reference defines the answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, get_checkpoint_metadata
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_metadata,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.redis import AsyncRedisSaver, RedisSaver
from langgraph.checkpoint.redis.codec import blob_field
from langgraph.checkpoint.redis.keys import enc
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from .conftest import Backend
from .facade import Facade, cfg, ids, new_id, refs
from .helpers import close_saver, norm, open_saver
from .orphans import keys_of, of_thread, tagged

# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def mem() -> Facade:
    return Facade(InMemorySaver(), "sync")


async def put_one(
    x: Facade,
    thread: str,
    ns: str = "",
    *,
    cid: str | None = None,
    parent: str | None = None,
    values: dict[str, Any] | None = None,
    md: dict[str, Any] | None = None,
    version: str = "1",
) -> RunnableConfig:
    values = {"v": cid or "x"} if values is None else values
    versions = {ch: version for ch in values}
    cp = generate_checkpoint(checkpoint_id=cid, channel_values=values, channel_versions=versions)
    cp["ts"] = TS
    return await x.put(cfg(thread, ns, parent), cp, md or generate_metadata(), versions)


def snapshot(raw: redis.Redis) -> dict[bytes, Any]:
    """Every key of the server with its full content, comparable with ==."""
    out: dict[bytes, Any] = {}
    for key in raw.scan_iter(count=1000):
        t = raw.type(key)
        if t == b"hash":
            v: Any = raw.hgetall(key)
        elif t == b"set":
            v = frozenset(raw.smembers(key))
        elif t == b"zset":
            v = raw.zrange(key, 0, -1, withscores=True)
        elif t == b"string":
            v = raw.get(key)
        elif t == b"list":
            v = raw.lrange(key, 0, -1)
        else:  # pragma: no cover
            v = t
        out[key] = (t, v)
    return out


def assert_same_keyspace(actual: dict[bytes, Any], expected: dict[bytes, Any]) -> None:
    missing = sorted(set(expected) - set(actual))
    orphans = sorted(set(actual) - set(expected))
    changed = {k: (actual[k], expected[k]) for k in set(actual) & set(expected)}
    changed = {k: v for k, v in changed.items() if v[0] != v[1]}
    assert (missing, orphans, changed) == ([], [], {})


# -- a deterministic scenario, applied twice to compare key spaces ------------------------


@dataclasses.dataclass(frozen=True)
class Put:
    thread: str
    ns: str
    cid: str
    parent: str | None
    versions: dict[str, str]
    values: dict[str, Any]
    new: tuple[str, ...]
    md: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Writes:
    thread: str
    ns: str
    cid: str
    task_id: str
    task_path: str
    writes: tuple[tuple[str, Any], ...]


Op = Put | Writes
TS = "2024-05-01T12:00:00.000000+00:00"


def ver(n: int) -> str:
    return f"{n:032}.5"


def linear(thread: str, ns: str, n: int, runs: Sequence[str], orphan: bool = False) -> list[Op]:
    """n checkpoints in a chain: channel a changes every step, b every third, c never; each
    checkpoint gets two tasks' writes, the last one an interrupt; `orphan` adds writes on an
    id that never gets a checkpoint."""
    ops: list[Op] = []
    parent = None
    for i in range(n):
        cid = new_id()
        versions = {"a": ver(i + 1), "b": ver(i // 3 + 1), "c": ver(1)}
        new = ("a", "b", "c") if i == 0 else ("a", "b") if i % 3 == 0 else ("a",)
        values = {ch: f"{ch}@{v}" for ch, v in versions.items()}
        md = {"source": "loop", "step": i, "run_id": runs[i % len(runs)], "owner": thread}
        ops.append(Put(thread, ns, cid, parent, versions, values, new, md))
        ops.append(Writes(thread, ns, cid, f"task-{i}", f"~pull, n{i}", (("a", i), ("x", [i]))))
        last = i == n - 1
        extra = (("__interrupt__", {"q": i}),) if last else (("b", i),)
        ops.append(Writes(thread, ns, cid, f"other-{i}", "~pull, o", extra))
        parent = cid
    if orphan:
        ops.append(Writes(thread, ns, new_id(), "orphan", "", (("a", "lost"),)))
    return ops


def compact(op: Op) -> Op:
    """The same put, storing the value of every channel it references (as if it were first)."""
    return dataclasses.replace(op, new=tuple(op.versions)) if isinstance(op, Put) else op


async def apply(x: Facade, ops: Iterable[Op]) -> None:
    for op in ops:
        if isinstance(op, Put):
            cp = generate_checkpoint(
                checkpoint_id=op.cid,
                channel_values=dict(op.values),
                channel_versions=dict(op.versions),
                versions_seen={"n": {"a": op.versions["a"]}},
            )
            cp["ts"] = TS
            nv = {ch: op.versions[ch] for ch in op.new}
            await x.put(cfg(op.thread, op.ns, op.parent), cp, dict(op.md), nv)
        else:
            await x.put_writes(
                cfg(op.thread, op.ns, op.cid), list(op.writes), op.task_id, op.task_path
            )


A = "thr:A{1}*"  # every character the key encoding must escape
B = "thr"  # a prefix of A's raw id
NS = ("", "child:1|x", "p:1|c:2")


def scenario() -> tuple[list[Op], list[Op]]:
    a = [
        *linear(A, NS[0], 6, ["r1", "r2"], orphan=True),
        *linear(A, NS[1], 4, ["r2"]),
        *linear(A, NS[2], 3, ["r3"], orphan=True),
    ]
    b = [*linear(B, NS[0], 5, ["r1", "r2"], orphan=True), *linear(B, NS[1], 2, ["r2"])]
    return a, b


# -- put_writes ---------------------------------------------------------------------------


async def test_special_writes_overwritten_per_item(s: Facade, mem: Facade) -> None:
    expected = [
        ("task", "__resume__", "a2"),
        ("task", "answer", "y"),
        ("task2", "__interrupt__", "i2"),
        ("task2", "__scheduled__", "s2"),
        ("task2", "__error__", "e2"),
        ("task3", "other", "o1"),
        ("task3", "more", "m1"),
        ("task3", "third", "t1"),
    ]
    for x in (s, mem):
        c = await put_one(x, "t")
        await x.put_writes(c, [("__resume__", "a1"), ("answer", "y")], "task")
        await x.put_writes(c, [("__resume__", "a2"), ("answer", "x")], "task")
        await x.put_writes(c, [("__error__", "e1"), ("__scheduled__", "s1")], "task2")
        await x.put_writes(c, [("__interrupt__", "i1")], "task2")
        await x.put_writes(
            c, [("__error__", "e2"), ("__scheduled__", "s2"), ("__interrupt__", "i2")], "task2"
        )
        await x.put_writes(c, [("other", "o1"), ("more", "m1")], "task3")
        await x.put_writes(c, [("other", "o2")], "task3")
        await x.put_writes(c, [("other", "o3"), ("more", "m2"), ("third", "t1")], "task3")
        t = await x.get(cfg("t"))
        assert t is not None
        assert t.pending_writes == expected
        assert (await x.list(cfg("t")))[0].pending_writes == expected


async def test_pending_writes_sorted_by_path_task_idx(s: Facade, mem: Facade) -> None:
    many = [(f"ch{i}", i) for i in range(12)]  # idx 0..11: 2 < 10 numerically, not as text
    expected = [
        ("zz-root", "r", 0),
        ("mmm", "__interrupt__", "int"),
        ("mmm", "y", "y"),
        *[("zzz", f"ch{i}", i) for i in range(12)],
        ("aaa", "__error__", "boom"),
        ("aaa", "x", 1),
    ]
    for x in (s, mem):
        c = await put_one(x, "t")
        await x.put_writes(c, [("x", 1)], "aaa", "~b")
        await x.put_writes(c, many, "zzz", "~a")
        await x.put_writes(c, [("__error__", "boom")], "aaa", "~b")
        await x.put_writes(c, [("__interrupt__", "int"), ("y", "y")], "mmm", "~a")
        await x.put_writes(c, [("r", 0)], "zz-root", "")
        for got in (await x.get(cfg("t")), await x.get(c), (await x.list(cfg("t")))[0]):
            assert got is not None
            assert got.pending_writes == expected


async def test_task_path_is_kept_per_write(s: Facade, mem: Facade) -> None:
    """A task's later put_writes with another path does not re-sort its earlier writes (the
    path is kept per write, as InMemorySaver keeps it): A (~a), B (~b), then B again with ""
    keeps A0 before B0; a new write of that later call sorts by its own path ("")."""
    for x in (s, mem):
        c = await put_one(x, "tp")
        await x.put_writes(c, [("results", "A0")], "task-a", "~a")
        await x.put_writes(c, [("results", "B0")], "task-b", "~b")
        await x.put_writes(c, [("results", "B1")], "task-b", "")  # (task-b, 0) is kept
        got = await x.get(c)
        assert got is not None
        assert [w[2] for w in got.pending_writes] == ["A0", "B0"], x.kind
        await x.put_writes(c, [("results", "B2"), ("other", "o")], "task-b", "")
        got = await x.get(c)
        assert got is not None
        assert [w[2] for w in got.pending_writes] == ["o", "A0", "B0"], x.kind


# -- configs without checkpoint_ns, re-puts, the latest pointer ---------------------------


async def test_config_without_checkpoint_ns(s: Facade) -> None:
    c0 = await s.put(
        {"configurable": {"thread_id": "t"}},
        generate_checkpoint(channel_values={"a": 1}, channel_versions={"a": "1"}),
        generate_metadata(step=0),
        {"a": "1"},
    )
    assert c0 == cfg("t", "", c0["configurable"]["checkpoint_id"])
    cid0 = c0["configurable"]["checkpoint_id"]
    c1 = await s.put(
        {"configurable": {"thread_id": "t", "checkpoint_id": cid0}},
        generate_checkpoint(channel_values={"a": 2}, channel_versions={"a": "2"}),
        generate_metadata(step=1),
        {"a": "2"},
    )
    cid1 = c1["configurable"]["checkpoint_id"]
    await s.put_writes({"configurable": {"thread_id": "t", "checkpoint_id": cid1}}, [("a", 3)], "k")
    latest = await s.get({"configurable": {"thread_id": "t"}})
    assert latest is not None
    assert latest.config == cfg("t", "", cid1)
    assert latest.parent_config == cfg("t", "", cid0)
    assert latest.checkpoint["channel_values"] == {"a": 2}
    assert latest.pending_writes == [("k", "a", 3)]
    assert latest.metadata["step"] == 1
    by_id = await s.get({"configurable": {"thread_id": "t", "checkpoint_id": cid0}})
    assert by_id is not None and by_id.checkpoint["channel_values"] == {"a": 1}
    assert norm(await s.get(cfg("t", "", cid1)), exact=False) == norm(latest, exact=False)
    assert ids(await s.list({"configurable": {"thread_id": "t"}})) == [cid1, cid0]


async def test_reput_replaces_checkpoint(s: Facade, mem: Facade) -> None:
    cid = new_id()
    got = []
    for x in (s, mem):
        await put_one(
            x,
            "t",
            cid=cid,
            values={"a": "v1"},
            md=generate_metadata(step=1, tag="first", gone="yes"),
        )
        await x.put_writes(cfg("t", "", cid), [("w", 1)], "k")
        await put_one(
            x,
            "t",
            cid=cid,
            values={"a": "v2", "b": "new"},
            md=generate_metadata(step=2, tag="second"),
            version="2",
        )
        t = await x.get(cfg("t"))
        assert t is not None
        assert t.metadata == {"source": "loop", "step": 2, "parents": {}, "tag": "second"}
        assert t.checkpoint["channel_values"] == {"a": "v2", "b": "new"}
        assert t.pending_writes == [("k", "w", 1)]
        assert len(await x.list(cfg("t"))) == 1
        assert await x.list(cfg("t"), filter={"tag": "first"}) == []
        assert await x.list(cfg("t"), filter={"gone": "yes"}) == []
        assert ids(await x.list(cfg("t"), filter={"gone": None})) == [cid]
        assert ids(await x.list(None, filter={"gone": None, "tag": "second"})) == [cid]
        assert ids(await x.list(cfg("t"), filter={"tag": "second"})) == [cid]
        assert ids(await x.list(None, filter={"step": 2})) == [cid]
        got.append(norm(t, exact=False))
    assert got[0] == got[1]


async def test_reput_moves_run_membership(s: Facade) -> None:
    cid = new_id()
    await put_one(s, "t", cid=cid, md=generate_metadata(run_id="run-old"))
    await put_one(s, "t", cid=cid, md=generate_metadata(run_id="run-new"))
    await s.delete_for_runs(["run-old"])
    assert ids(await s.list(cfg("t"))) == [cid]
    await s.delete_for_runs(["run-new"])
    assert await s.get(cfg("t")) is None


async def test_latest_never_moves_backwards(s: Facade, mem: Facade) -> None:
    old, newer = new_id(), new_id()
    assert old < newer
    for x in (s, mem):
        await put_one(x, "t", cid=newer, values={"a": "newer"}, version="3")
        await put_one(x, "t", cid=old, values={"a": "old"}, version="1")
        t = await x.get(cfg("t"))
        assert t is not None and ids([t]) == [newer]
        assert t.checkpoint["channel_values"] == {"a": "newer"}
        await put_one(x, "t", cid=old, values={"a": "old again"}, version="2")
        t = await x.get(cfg("t"))
        assert t is not None and ids([t]) == [newer]
        assert ids(await x.list(cfg("t"))) == [newer, old]
        t = await x.get(cfg("t", "", old))
        assert t is not None and t.checkpoint["channel_values"] == {"a": "old again"}


# -- list ---------------------------------------------------------------------------------


async def test_list_none_lists_every_thread(s: Facade, mem: Facade) -> None:
    threads = ["t1", "t2", "t3:x{y}"]
    made = [(i, t, ns, new_id()) for i in range(3) for t in threads for ns in ("", "sub:1")]
    results = []
    for x in (s, mem):
        for i, t, ns, cid in made:
            await put_one(x, t, ns, cid=cid, md=generate_metadata(step=i, owner=t))
        everything = await x.list(None)
        results.append(everything)
        assert len(everything) == 18
        assert {r[0] for r in refs(everything)} == set(threads)
        owned = await x.list(None, filter={"owner": "t2", "step": 1})
        assert sorted((r[0], r[1]) for r in refs(owned)) == [("t2", ""), ("t2", "sub:1")]
    ours, theirs = results
    assert sorted(map(norm, ours), key=repr) == sorted(map(norm, theirs), key=repr)
    assert ids(ours) == sorted(ids(ours), reverse=True)  # newest first across threads
    assert ids(await s.list(None, limit=4)) == ids(ours)[:4]
    assert ids(await s.list(None, before=ours[5].config)) == ids(ours)[6:]
    assert ids(await s.list(None, before=ours[5].config, limit=3)) == ids(ours)[6:9]


async def test_list_namespaces(s: Facade, mem: Facade) -> None:
    namespaces = ["", "child:1", "child:2|x"]
    made = [(ns, new_id()) for _ in range(3) for ns in namespaces]
    results = []
    for x in (s, mem):
        for ns, cid in made:
            await put_one(x, "t", ns, cid=cid)
        await put_one(x, "other", "", cid=made[0][1])
        whole = await x.list(cfg("t", None))
        assert len(whole) == 9
        assert {r[1] for r in refs(whole)} == set(namespaces)
        per_ns = [await x.list(cfg("t", ns)) for ns in namespaces]
        assert [len(p) for p in per_ns] == [3, 3, 3]
        for ns, p in zip(namespaces, per_ns, strict=True):
            assert {r[1] for r in refs(p)} == {ns}
        assert await x.list(cfg("t", "nope")) == []
        results.append((whole, per_ns))
    (ours, ours_ns), (theirs, theirs_ns) = results
    assert sorted(map(norm, ours), key=repr) == sorted(map(norm, theirs), key=repr)
    assert ids(ours) == sorted(ids(ours), reverse=True)
    for a, b in zip(ours_ns, theirs_ns, strict=True):
        assert list(map(norm, a)) == list(map(norm, b))


async def page_through(x: Facade, config: RunnableConfig | None, limit: int = 7) -> list[str]:
    out: list[str] = []
    before = None
    while True:
        page = await x.list(config, before=before, limit=limit)
        assert len(page) <= limit
        out += ids(page)
        if len(page) < limit:
            return out
        before = page[-1].config


async def test_list_before_pages(s: Facade) -> None:
    made: dict[str, list[str]] = {"": [], "sub": []}
    for i in range(250):
        ns = "" if i % 2 else "sub"
        c = await put_one(s, "big", ns, values={})
        made[ns].append(c["configurable"]["checkpoint_id"])
    small = [(await put_one(s, "small", values={}))["configurable"]["checkpoint_id"]]
    small += [(await put_one(s, "small", "n", values={}))["configurable"]["checkpoint_id"]]
    every = sorted(made[""] + made["sub"], reverse=True)
    root = sorted(made[""], reverse=True)
    assert ids(await s.list(cfg("big", None))) == every  # > one internal page of 100
    assert ids(await s.list(cfg("big", ""))) == root
    assert await page_through(s, cfg("big", None)) == every
    assert await page_through(s, cfg("big", "")) == root
    assert await page_through(s, None) == sorted(every + small, reverse=True)
    assert ids(await s.list(cfg("big", None), before=cfg("big", "", every[100]))) == every[101:]
    assert ids(await s.list(cfg("big", ""), before=cfg("big", "", every[0]))) == root[1:]
    assert ids(await s.list(cfg("big", ""), before=cfg("big", "", root[-1]))) == []
    assert (
        ids(await s.list(cfg("big", None), before=cfg("big", "", every[9]), limit=5))
        == (every[10:15])
    )


async def test_list_limit_applies_after_filter(s: Facade, mem: Facade) -> None:
    hits = {3, 7, 110}
    for x in (s, mem):
        made = []
        for i in range(130):
            md = generate_metadata(
                step=i, kind="hit" if i in hits else "miss", nested={"hit": i in hits}
            )
            made.append((await put_one(x, "t", values={}, md=md))["configurable"]["checkpoint_id"])
        want = [made[110], made[7]]
        assert ids(await x.list(cfg("t"), filter={"kind": "hit"}, limit=2)) == want
        assert ids(await x.list(cfg("t"), filter={"nested": {"hit": True}}, limit=2)) == want
        assert ids(await x.list(None, filter={"kind": "hit"}, limit=2)) == want
        assert ids(await x.list(None, filter={"nested": {"hit": True}}, limit=2)) == want
        assert ids(await x.list(cfg("t", None), filter={"nested": {"hit": True}})) == [
            made[110],
            made[7],
            made[3],
        ]


NAN = float("nan")
FILTER_MD = [
    {
        "source": "input",
        "step": -1,
        "flag": True,
        "score": 0.5,
        "name": "x:y",
        "nested": {"a": 1},
        "lst": [1, 2],
        "opt": None,
        "s1": "1",
        "big": 2**62,
    },
    {
        "source": "loop",
        "step": 0,
        "flag": False,
        "score": 1.0,
        "name": "",
        "s1": 1,
        "nested": {"a": 1, "b": [1, 2]},
        "big": 2.0**62,
    },
    {
        "source": "loop",
        "step": 1,
        "flag": 1,
        "score": 1,
        "name": "x",
        "nested": {"a": 2},
        "opt": "set",
    },
    {
        "source": "loop",
        "step": 1.0,
        "flag": 0,
        "name": "x:y",
        "lst": [1, 2],
        "writes": {"node": {"k": 1}},
    },
    {"source": "update", "step": 2, "score": NAN, "nested": None, "uni": "ζé"},
    {"source": "loop", "step": True, "parents": {"": "abc"}},
]
FILTERS: list[tuple[dict[str, Any], set[int] | None]] = [
    ({}, {0, 1, 2, 3, 4, 5}),
    ({"source": "loop"}, {1, 2, 3, 5}),
    ({"step": 1}, {2, 3, 5}),
    ({"step": 1.0}, {2, 3, 5}),
    ({"step": True}, {2, 3, 5}),
    ({"step": 0}, {1}),
    ({"step": False}, {1}),
    ({"step": -1}, {0}),
    ({"step": "1"}, set()),
    ({"flag": True}, {0, 2}),
    ({"flag": 1}, {0, 2}),
    ({"flag": False}, {1, 3}),
    ({"flag": 0.0}, {1, 3}),
    ({"flag": None}, {4, 5}),
    ({"score": 0.5}, {0}),
    ({"score": 1}, {1, 2}),
    ({"score": True}, {1, 2}),
    ({"score": NAN}, set()),
    ({"name": "x:y"}, {0, 3}),
    ({"name": ""}, {1}),
    ({"name": None}, {4, 5}),
    ({"missing": None}, {0, 1, 2, 3, 4, 5}),
    ({"missing": 0}, set()),
    ({"opt": None}, {0, 1, 3, 4, 5}),
    ({"opt": "set"}, {2}),
    ({"nested": {"a": 1}}, {0}),
    ({"nested": {"a": 1, "b": [1, 2]}}, {1}),
    ({"nested": None}, {3, 4, 5}),
    ({"nested": 1}, set()),
    ({"lst": [1, 2]}, {0, 3}),
    ({"s1": "1"}, {0}),
    ({"s1": 1}, {1}),
    ({"big": 2**62}, {0, 1}),
    ({"big": 4.611686018427388e18}, {0, 1}),
    ({"big": 2**62 + 1}, set()),
    ({"source": "loop", "step": 1}, {2, 3, 5}),
    ({"source": "loop", "flag": False}, {1, 3}),
    ({"source": "loop", "step": 1, "missing": None}, {2, 3, 5}),
    ({"writes": {"node": {"k": 1}}}, {3}),
    ({"parents": {"": "abc"}}, {5}),
    ({"uni": "ζé"}, {4}),
]


async def test_list_filter_like_python(s: Facade, mem: Facade) -> None:
    made: list[str] = []
    for i, md in enumerate(FILTER_MD):
        cid = new_id()
        made.append(cid)
        for x in (s, mem):
            await put_one(x, "t", "" if i % 2 else "ns", cid=cid, md=dict(md))
    for f, want in FILTERS:
        expected = sorted((made[i] for i in want or ()), reverse=True)
        for config in (cfg("t", None), None):
            ours = ids(await s.list(config, filter=f))
            # InMemorySaver lists namespace by namespace; the set is what it defines
            assert sorted(ours) == sorted(ids(await mem.list(config, filter=f))), f
            assert ours == expected, f
        root = [c for i, c in enumerate(made) if i % 2 and i in (want or ())]
        assert ids(await s.list(cfg("t", ""), filter=f)) == sorted(root, reverse=True), f


async def test_list_with_checkpoint_id(s: Facade, mem: Facade) -> None:
    c1, c2, c3, sub = new_id(), new_id(), new_id(), new_id()
    for x in (s, mem):
        for c in (c1, c2, c3):
            await put_one(x, "t", cid=c, md=generate_metadata(step=1))
        await put_one(x, "t", "sub", cid=sub)
    cases: list[tuple[RunnableConfig, dict[str, Any], list[str]]] = [
        (cfg("t", "", c2), {}, [c2]),
        (cfg("t", "", c2), {"filter": {"step": 1}}, [c2]),
        (cfg("t", "", c2), {"filter": {"step": 2}}, []),
        (cfg("t", "", c2), {"before": cfg("t", "", c2)}, []),
        (cfg("t", "", c2), {"before": cfg("t", "", c3)}, [c2]),
        (cfg("t", "", c2), {"limit": 1}, [c2]),
        (cfg("t", "", sub), {}, []),
        (cfg("t", "sub", sub), {}, [sub]),
        (cfg("t", None, c2), {}, [c2]),
        (cfg("t", None, sub), {}, [sub]),  # no checkpoint_ns: every namespace
    ]
    for config, kw, want in cases:
        assert ids(await mem.list(config, **kw)) == want, (config, kw)
        assert ids(await s.list(config, **kw)) == want, (config, kw)


# -- metadata -----------------------------------------------------------------------------


async def test_metadata_merged_from_config(s: Facade, mem: Facade) -> None:
    config: RunnableConfig = {
        "configurable": {
            "thread_id": "t",
            "checkpoint_ns": "",
            "user_id": "u1",
            "count": 3,
            "ratio": 0.5,
            "enabled": True,
            "obj": {"a": 1},
            "lst": [1],
            "__pregel_secret": "x",
            "langgraph_step": 5,
            "langgraph_node": "n",
            "checkpoint_map": {"": "x"},
            "text": "a\x00b",
            "source": "from-configurable",
        },
        "metadata": {
            "run_id": "run-1",
            "tag": "t\x00ag",
            "source": "from-metadata",
            "count": 99,
            "meta_obj": {"x": 1},
        },
    }
    metadata = {"source": "loop", "step": 1, "parents": {}, "note": "x\x00y"}
    expected = {
        "source": "loop",
        "step": 1,
        "parents": {},
        "note": "xy",
        "run_id": "run-1",
        "tag": "tag",
        "count": 99,
        "user_id": "u1",
        "ratio": 0.5,
        "enabled": True,
        "text": "ab",
    }
    assert get_checkpoint_metadata(config, dict(metadata)) == expected  # type: ignore[arg-type]
    for x in (s, mem):
        await x.put(config, generate_checkpoint(), dict(metadata), {})
        t = await x.get(cfg("t"))
        assert t is not None and t.metadata == expected
        assert [t.metadata for t in await x.list(cfg("t"))] == [expected]
        assert len(await x.list(cfg("t"), filter={"user_id": "u1", "text": "ab"})) == 1
        assert len(await x.list(cfg("t"), filter={"tag": "tag", "enabled": 1})) == 1
        assert await x.list(cfg("t"), filter={"langgraph_step": 5}) == []
        assert await x.list(cfg("t"), filter={"text": "a\x00b"}) == []
    await s.delete_for_runs(["run-1"])  # run_id came from config["metadata"]
    assert await s.get(cfg("t")) is None


# -- delete, prune, copy: the key space afterwards ----------------------------------------


@pytest.mark.parametrize("how", ["delete_thread", "prune_delete"])
async def test_delete_thread_leaves_nothing_else(s: Facade, raw: redis.Redis, how: str) -> None:
    a, b = scenario()
    raw.flushdb()
    await apply(s, b)
    expected = snapshot(raw)
    raw.flushdb()
    await apply(s, a[:20])
    await apply(s, b)
    await apply(s, a[20:])
    a_tag, b_tag = tagged(raw, A), tagged(raw, B)
    before = snapshot(raw)
    assert len([k for k in before if of_thread(k, a_tag)]) > 20
    if how == "delete_thread":
        await s.delete_thread(A)
    else:
        await s.prune([A], strategy="delete")
    after = snapshot(raw)
    assert [k for k in after if of_thread(k, a_tag)] == []
    assert {k: v for k, v in after.items() if of_thread(k, b_tag)} == {
        k: v for k, v in before.items() if of_thread(k, b_tag)
    }
    assert_same_keyspace(after, expected)  # the shared indexes hold no trace of A either
    assert await s.get(cfg(A)) is None
    assert await s.list(cfg(A, None)) == []
    assert {r[0] for r in refs(await s.list(None))} == {B}


async def test_prune_keep_latest_leaves_no_orphans(s: Facade, raw: redis.Redis) -> None:
    a, b = scenario()
    latest = {ns: max(op.cid for op in a if isinstance(op, Put) and op.ns == ns) for ns in NS}
    kept = [compact(op) for op in a if op.cid == latest[op.ns]]
    raw.flushdb()
    await apply(s, kept)
    await apply(s, b)
    expected = snapshot(raw)
    before = {ns: norm(await s.get(cfg(A, ns)), exact=False) for ns in NS}
    raw.flushdb()
    await apply(s, a)
    await apply(s, b)
    await s.prune([A, "no-such-thread"])
    assert_same_keyspace(snapshot(raw), expected)
    for ns in NS:
        assert ids(await s.list(cfg(A, ns))) == [latest[ns]]
        assert norm(await s.get(cfg(A, ns)), exact=False) == before[ns]
        t = await s.get(cfg(A, ns))
        assert t is not None and t.pending_writes and t.pending_writes[-1][1] == "__interrupt__"
        blob_key = keys_of(raw, A).blob + enc(ns)
        referenced = {blob_field(ch, v) for ch, v in t.checkpoint["channel_versions"].items()}
        assert {f.decode() for f in raw.hkeys(blob_key)} == referenced


async def test_prune_keeps_latest_whose_writes_came_first(s: Facade) -> None:
    """Under durability="async" a task's put_writes can reach the server before the put of its
    checkpoint; the checkpoint is then the latest and must survive prune(keep_latest)."""
    c0 = await put_one(s, "t")
    cid = new_id()
    await s.put_writes(cfg("t", "", cid), [("a", 1), ("__interrupt__", "ask")], "k")
    await put_one(s, "t", cid=cid, parent=c0["configurable"]["checkpoint_id"])
    await s.prune(["t"])
    t = await s.get(cfg("t"))
    assert t is not None and ids([t]) == [cid]
    assert t.pending_writes == [("k", "__interrupt__", "ask"), ("k", "a", 1)]
    assert ids(await s.list(cfg("t"))) == [cid]


async def test_delete_for_runs_leaves_no_orphans(s: Facade, raw: redis.Redis) -> None:
    a, b = scenario()
    gone = {op.cid for op in a + b if isinstance(op, Put) and op.md["run_id"] == "r2"}
    raw.flushdb()
    await apply(s, [compact(op) for op in a + b if op.cid not in gone])
    expected = snapshot(raw)
    raw.flushdb()
    await apply(s, a + b)
    await s.delete_for_runs(["r2", "no-such-run"])
    assert_same_keyspace(snapshot(raw), expected)
    assert not any(b"r2" in k for k in expected)
    left = ids(await s.list(None))
    assert not gone & set(left)
    assert len(left) == sum(isinstance(op, Put) for op in a + b) - len(gone)
    assert await s.list(cfg(A, NS[1])) == []


async def test_copy_thread_copies_everything(s: Facade, raw: redis.Redis) -> None:
    a, _ = scenario()
    target = "copy{of}:A"
    renamed = [dataclasses.replace(op, thread=target) for op in a]
    raw.flushdb()
    await apply(s, a)
    await apply(s, renamed)
    expected = snapshot(raw)
    raw.flushdb()
    await apply(s, a)
    source_before = await s.list(cfg(A, None))
    await s.copy_thread(A, target)
    assert_same_keyspace(snapshot(raw), expected)
    source_after = await s.list(cfg(A, None))
    assert [norm(t, exact=False) for t in source_after] == [
        norm(t, exact=False) for t in source_before
    ]
    copied = await s.list(cfg(target, None))
    assert len(copied) == len(source_before) == 13

    def same(x: CheckpointTuple | None, thread: str) -> Any:
        return norm(x, thread, exact=False)

    assert [same(t, target) for t in copied] == [same(t, A) for t in source_before]
    for ns in NS:
        assert same(await s.get(cfg(target, ns)), target) == same(await s.get(cfg(A, ns)), A)
    await s.delete_thread(A)
    assert len(await s.list(cfg(target, None))) == 13


# -- concurrency --------------------------------------------------------------------------


def expected_thread_writes(n: int) -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = []
    for i in range(n):
        k = f"task-{i:02d}"
        out += [(k, "__interrupt__", i), (k, "a", i), (k, "b", f"v{i}")]
    return out


def test_sync_put_writes_from_32_threads(sync_saver: RedisSaver) -> None:
    c = sync_saver.put(cfg("t"), generate_checkpoint(), generate_metadata(), {})
    barrier = threading.Barrier(32)

    def work(i: int) -> None:
        barrier.wait()
        sync_saver.put_writes(c, [("a", i), ("b", f"v{i}"), ("__interrupt__", i)], f"task-{i:02d}")

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(work, range(32)))
    t = sync_saver.get_tuple(cfg("t"))
    assert t is not None and t.pending_writes == expected_thread_writes(32)


async def test_async_saver_sync_methods_from_32_threads(saver: AsyncRedisSaver) -> None:
    c = await saver.aput(cfg("t"), generate_checkpoint(), generate_metadata(), {})
    barrier = threading.Barrier(32)

    def work(i: int) -> None:
        barrier.wait()
        saver.put_writes(c, [("a", i), ("b", f"v{i}"), ("__interrupt__", i)], f"task-{i:02d}")

    with ThreadPoolExecutor(32) as pool:
        await asyncio.gather(
            *(asyncio.get_running_loop().run_in_executor(pool, work, i) for i in range(32))
        )
    t = await saver.aget_tuple(cfg("t"))
    assert t is not None and t.pending_writes == expected_thread_writes(32)


async def test_200_concurrent_aput_and_aput_writes(
    kind: str, saver: AsyncRedisSaver, sync_saver: RedisSaver
) -> None:
    await concurrent_200(saver if kind == "async" else sync_saver)


async def test_200_concurrent_with_user_async_client(backend: Backend) -> None:
    """AsyncRedisSaver(redis_client=redis.asyncio.Redis(...)): the client as users make it,
    with redis-py's default (non-blocking, 100 connections) pool."""
    client = backend.async_client()
    sv = AsyncRedisSaver(redis_client=client)
    try:
        await sv.asetup()
        await concurrent_200(sv)
    finally:
        await sv.aclose()
        await client.aclose()


async def concurrent_200(sv: Any) -> None:
    async def one(i: int) -> RunnableConfig:
        cp = generate_checkpoint(channel_values={"a": i}, channel_versions={"a": "1"})
        c = await sv.aput(cfg(f"conc-{i}"), cp, generate_metadata(step=i), {"a": "1"})
        await sv.aput_writes(c, [("a", i + 1), ("__resume__", i)], f"task-{i}")
        return c

    configs = await asyncio.gather(*(one(i) for i in range(200)))
    tuples = await asyncio.gather(*(sv.aget_tuple(cfg(f"conc-{i}")) for i in range(200)))
    for i, (c, t) in enumerate(zip(configs, tuples, strict=True)):
        assert t is not None and t.config == c
        assert t.checkpoint["channel_values"] == {"a": i}
        assert t.metadata["step"] == i
        assert t.pending_writes == [(f"task-{i}", "__resume__", i), (f"task-{i}", "a", i + 1)]
    assert len([t async for t in sv.alist(None)]) == 200


# -- serde --------------------------------------------------------------------------------


class XorCipher:
    """A toy CipherProtocol that counts its calls (pycryptodome is not installed here)."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.calls: Counter[str] = Counter()

    def _xor(self, data: bytes) -> bytes:
        k = self.key
        return bytes(b ^ k[i % len(k)] for i, b in enumerate(data))

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        self.calls["encrypt"] += 1
        return "xor", self._xor(plaintext)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        assert ciphername == "xor"
        self.calls["decrypt"] += 1
        return self._xor(ciphertext)


class RecordingSerde(SerializerProtocol):
    def __init__(self, inner: SerializerProtocol) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        self.calls["dumps"] += 1
        return self.inner.dumps_typed(obj)

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        self.calls["loads"] += 1
        return self.inner.loads_typed(data)


def make_encrypted(inner: SerializerProtocol) -> tuple[EncryptedSerializer, str]:
    try:
        import Crypto  # noqa: F401
    except ImportError:
        return EncryptedSerializer(XorCipher(b"\x5a\xa5\x3c"), inner), "msgpack+xor"
    key = b"0123456789abcdef"
    return EncryptedSerializer.from_pycryptodome_aes(inner, key=key), "msgpack+aes"


def all_stored_bytes(raw: redis.Redis) -> list[bytes]:
    out: list[bytes] = []
    for key, (_, v) in snapshot(raw).items():
        out.append(key)
        if isinstance(v, dict):
            for f, val in v.items():
                out += [f, val]
        elif isinstance(v, frozenset | list):
            out += [m[0] if isinstance(m, tuple) else m for m in v]
        elif isinstance(v, bytes):
            out.append(v)
    return out


SECRET = "TOP-SECRET-ζ-4242"


async def test_custom_serde_round_trips_and_stores_no_plaintext(
    kind: str, backend: Backend, raw: redis.Redis
) -> None:
    encrypted, type_name = make_encrypted(JsonPlusSerializer())
    serde = RecordingSerde(encrypted)
    x = await open_saver(backend, kind, serde=serde)
    try:
        assert x.saver.serde is serde
        value = {"secret": SECRET, "n": [1, 2, 3]}
        cp = generate_checkpoint(
            channel_values={"a": value, "b": SECRET}, channel_versions={"a": "1", "b": "1"}
        )
        c = await x.put(
            cfg("t"), cp, generate_metadata(step=1, note="public"), {"a": "1", "b": "1"}
        )
        await x.put_writes(c, [("msg", SECRET), ("__interrupt__", {"q": SECRET})], "k")
        assert serde.calls["dumps"] >= 6
        stored = all_stored_bytes(raw)
        assert not [b for b in stored if SECRET.encode() in b]
        assert any(type_name.encode() in b for b in stored)
        for t in (await x.get(cfg("t")), (await x.list(cfg("t")))[0], (await x.list(None))[0]):
            assert t is not None
            assert t.checkpoint["channel_values"] == {"a": value, "b": SECRET}
            assert t.metadata == {"source": "loop", "step": 1, "parents": {}, "note": "public"}
            assert t.pending_writes == [("k", "__interrupt__", {"q": SECRET}), ("k", "msg", SECRET)]
        assert serde.calls["loads"] >= 3 * 6
        if isinstance(encrypted.cipher, XorCipher):
            assert encrypted.cipher.calls["encrypt"] == serde.calls["dumps"]
            assert encrypted.cipher.calls["decrypt"] == serde.calls["loads"]
    finally:
        await close_saver(x)


@dataclasses.dataclass
class Point:
    x: int
    y: int


async def test_with_allowlist_returns_working_copy_sharing_connection(
    kind: str, backend: Backend
) -> None:
    strict = JsonPlusSerializer(allowed_msgpack_modules=None)
    encrypted, _ = make_encrypted(strict)
    x = await open_saver(backend, kind, serde=encrypted)
    try:
        clone = x.saver.with_allowlist([(Point.__module__, "Point")])
        assert clone is not x.saver and type(clone) is type(x.saver)
        assert clone.serde is not x.saver.serde
        assert x.saver.serde is encrypted  # the original keeps its serde
        assert clone.client is x.saver.client  # one connection pool
        y = Facade(clone, kind)
        cp = generate_checkpoint(channel_values={"p": Point(1, 2)}, channel_versions={"p": "1"})
        c = await y.put(cfg("t"), cp, generate_metadata(), {"p": "1"})
        await y.put_writes(c, [("p", Point(3, 4))], "k")
        got = await y.get(cfg("t"))
        assert got is not None
        assert got.checkpoint["channel_values"] == {"p": Point(1, 2)}
        assert got.pending_writes == [("k", "p", Point(3, 4))]
        blocked = await x.get(cfg("t"))  # the strict original does not rebuild Point
        assert blocked is not None
        assert not isinstance(blocked.checkpoint["channel_values"]["p"], Point)
        await put_one(x, "t2", values={"a": "plain"})  # the original still works
        t2 = await y.get(cfg("t2"))
        assert t2 is not None and t2.checkpoint["channel_values"] == {"a": "plain"}
    finally:
        await close_saver(x)


# -- get_next_version ---------------------------------------------------------------------


async def test_get_next_version_is_pure(kind: str) -> None:
    cls: Any = AsyncRedisSaver if kind == "async" else RedisSaver
    sv = cls("redis://127.0.0.1:1/0")  # nothing listens there: any I/O would raise
    reference = InMemorySaver()
    versions: list[str] = []
    v: str | None = None
    for _ in range(50):
        v = sv.get_next_version(v, None)
        versions.append(v)
    assert versions == sorted(versions) and len(set(versions)) == 50
    assert [int(v.split(".")[0]) for v in versions] == list(range(1, 51))
    assert all(v[32] == "." and 0 <= float(v[33:]) < 1 for v in versions)
    assert reference.get_next_version(versions[9], None).split(".")[0] == versions[10].split(".")[0]
    assert sv.get_next_version(7, None).startswith(f"{8:032}.")
    assert sv.get_next_version(ver(41), None).startswith(f"{42:032}.")
    assert sv.get_next_version(None, None) != sv.get_next_version(None, None)
    if kind == "async":
        await sv.aclose()
    else:
        sv.close()
    assert sv.get_next_version(versions[-1], None) > versions[-1]


def test_writes_stored_before_paths_per_write_take_their_tasks() -> None:
    """Writes of three items (stored before the path was kept per write) sort by their task's
    path (`w:<K>`), new ones by their own."""
    from langgraph.checkpoint.redis import codec, ops
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    older = codec._pack(["ch", "msgpack", b"\x01"])
    newer = codec.pack_write(JsonPlusSerializer(), "ch", 1, "~z")
    writes = [codec.pack_task("t1", "~a"), [b"0", older]]
    writes += [codec.pack_task("t0", "~b"), [b"0", newer]]
    got = ops._sorted_writes(writes)
    assert [(path, task) for path, task, *_ in got] == [("~a", "t1"), ("~z", "t0")]
