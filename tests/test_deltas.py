"""Storage deltas for list channels must be invisible: every read equals InMemorySaver's.

The savers may store a new version of a list channel as the tail that follows a prefix it shares
(by element identity) with the list the same process stored for an earlier version. These tests
drive our savers and langgraph's InMemorySaver side by side with the same puts and compare every
read afterwards:

- a hypothesis property test: random sequences of puts (appends reusing the previous list's
  objects, replacements, removals, truncations, fresh equal-looking lists, switches to and from
  non-list values, several list channels, two namespaces), put_writes, forks from older
  checkpoints, re-puts, prune / delete_thread / delete_for_runs in the middle (followed by puts
  whose lists reuse objects from before), copy_thread, and two saver instances on the same server
  writing one thread alternately, each with its own memory; a second property test adds in-place
  mutation (of the list, of an element), which a user's reducer or node may do;
- deterministic cases: a 300-step append history; the bytes on the server (much less than every
  version stored whole); a base deleted behind the saver's back; copy_thread of a long history;
  forks, re-puts and in-place mutation one by one; a real graph with add_messages.

InMemorySaver has no prune, delete_for_runs or copy_thread: `Model` adds them with our documented
semantics (keep the latest checkpoint of each namespace with its writes; drop a run's checkpoints
with their writes; merge the source into the target).
"""

from __future__ import annotations

import asyncio
import copy
import operator
import os
import pickle
import uuid
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any

import pytest
import redis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from .conftest import Backend
from .facade import Facade, cfg, checkpoint, new_id
from .helpers import close_saver, norm, open_saver
from .orphans import keys_of

# -- driving our savers and the reference ----------------------------------------------------


Ours = Facade


class Model:
    """InMemorySaver, plus prune / delete_for_runs / copy_thread with our semantics."""

    def __init__(self, serde: SerializerProtocol | None = None) -> None:
        self.mem = InMemorySaver(serde=serde)

    def put(self, config: RunnableConfig, cp: Any, md: Any, nv: Any) -> RunnableConfig:
        return self.mem.put(config, cp, md, nv)

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, path: str
    ) -> None:
        self.mem.put_writes(config, writes, task_id, path)

    def get(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.mem.get_tuple(config)

    def list(self, config: RunnableConfig | None) -> list[CheckpointTuple]:
        return list(self.mem.list(config))

    def alive(self, thread: str, ns: str, cid: str) -> bool:
        return cid in self.mem.storage.get(thread, {}).get(ns, {})

    def delete_thread(self, thread: str) -> None:
        self.mem.delete_thread(thread)

    def _drop(self, thread: str, ns: str, cid: str) -> None:
        del self.mem.storage[thread][ns][cid]
        self.mem.writes.pop((thread, ns, cid), None)

    def _gc(self, thread: str, ns: str) -> None:
        """Our deletes keep only the blobs a remaining checkpoint of the namespace references
        (a later re-put of a deleted checkpoint brings back only the values it sends)."""
        used = set()
        for cp, _, _ in self.mem.storage.get(thread, {}).get(ns, {}).values():
            used.update(self.mem.serde.loads_typed(cp)["channel_versions"].items())
        for key in list(self.mem.blobs):
            if key[:2] == (thread, ns) and key[2:] not in used:
                del self.mem.blobs[key]

    def prune(self, thread: str) -> None:
        for ns, cps in list(self.mem.storage.get(thread, {}).items()):
            if cps:
                latest = max(cps)
                for cid in [c for c in cps if c != latest]:
                    self._drop(thread, ns, cid)
            self._gc(thread, ns)

    def delete_for_runs(self, runs: Sequence[str]) -> None:
        for thread, nss in list(self.mem.storage.items()):
            for ns, cps in list(nss.items()):
                touched = False
                for cid, (_, md, _) in list(cps.items()):
                    if self.mem.serde.loads_typed(md).get("run_id") in runs:
                        self._drop(thread, ns, cid)
                        touched = True
                if touched:
                    self._gc(thread, ns)

    def copy_thread(self, source: str, target: str) -> None:
        m = self.mem
        for ns, cps in list(m.storage.get(source, {}).items()):
            m.storage[target][ns].update(cps)
        for (t, ns, cid), w in list(m.writes.items()):
            if t == source:
                m.writes[(target, ns, cid)] = dict(w)
        for (t, ns, ch, v), b in list(m.blobs.items()):
            if t == source:
                m.blobs[(target, ns, ch, v)] = b


def saver_kwargs(mode: str, serde: Any = None) -> dict[str, Any]:
    """ "default" is whatever the savers do when not told (it must be invisible); any other mode
    is passed as `delta_mode=`."""
    kw: dict[str, Any] = {} if mode == "default" else {"delta_mode": mode}
    if serde is not None:
        kw["serde"] = serde
    return kw


async def make_pair(
    backend: Backend, kind: str, mode: str = "default", serde: Any = None
) -> tuple[Ours, Ours]:
    """Two saver instances on the same server, each with its own in-process memory."""
    kw = saver_kwargs(mode, serde)
    return await open_saver(backend, kind, **kw), await open_saver(backend, kind, **kw)


async def close_pair(pair: Sequence[Ours]) -> None:
    for o in pair:
        await close_saver(o)


@pytest.fixture
async def pair(backend: Backend, kind: str) -> AsyncIterator[tuple[Ours, Ours]]:
    """Two savers in the default delta mode."""
    p = await make_pair(backend, kind)
    yield p
    await close_pair(p)


@pytest.fixture(params=["default", "identity"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def mpair(backend: Backend, kind: str, mode: str) -> AsyncIterator[tuple[Ours, Ours]]:
    """Two savers in each delta mode: the default ("exact": items compared by their bytes) and
    "identity" (items compared with `is`)."""
    p = await make_pair(backend, kind, mode)
    yield p
    await close_pair(p)


# -- the property test -------------------------------------------------------------------------

LISTS = ("messages", "log")
NAMESPACES = ("", "sub:1f0a2b3c-task")
TASKS = (("task-a", ""), ("task-b", "~__pregel_pull, b"), ("task-c", "~__pregel_pull, a"))
SCALARS: tuple[Any, ...] = (7, "text", {"k": [1, "two"]}, None, 0, "")
ACTIONS = (
    "keep",
    "append",
    "append",
    "append",
    "append",
    "append",
    "append_many",
    "append_many",
    "replace_at",
    "replace_and_append",
    "remove",
    "truncate",
    "fresh",
    "scalar",
    "from_other",
)
MUTATIONS = {
    # the default mode compares bytes: any in-place change must show
    "default": ("inplace_append", "inplace_append", "mutate_element"),
    # identity mode is documented not to see an element edited in place (LangGraph asks for
    # immutable state); a list extended in place it must still see
    "identity": ("inplace_append",),
}
OPS = ("put",) * 9 + ("writes",) * 3 + ("reput", "reput", "prune", "delete_thread", "runs", "copy")


@dataclass
class Known:
    """One put as it was sent (the objects themselves, for forks, re-puts and reuse)."""

    config: RunnableConfig
    cp: Any
    md: dict[str, Any]
    nv: dict[str, str]
    frozen: bytes
    """The values as serialized when put."""
    copy: Any
    """A deep copy of the checkpoint made when put."""


@dataclass
class Harness:
    data: Any
    savers: tuple[Ours, Ours]
    mutations: tuple[str, ...]
    thread: str = field(default_factory=lambda: f"prop-{uuid.uuid4()}")
    model: Model = field(default_factory=Model)
    known: dict[tuple[str, str], Known] = field(default_factory=dict)
    head: dict[str, str] = field(default_factory=dict)
    lists: dict[tuple[str, str], list[list[Any]]] = field(default_factory=dict)
    n: int = 0
    step: int = 0
    seed: list[Any] = field(
        default_factory=lambda: [{"id": f"seed{i}", "content": "s" * 30} for i in range(30)]
    )

    def draw(self, strategy: Any, label: str) -> Any:
        return self.data.draw(strategy, label=label)

    def pick(self, options: Sequence[Any], label: str) -> Any:
        return self.draw(st.sampled_from(options), label)

    @property
    def runs(self) -> tuple[str, str]:
        return (f"{self.thread}-run1", f"{self.thread}-run2")

    def element(self) -> Any:
        self.n += 1
        n = self.n
        k = self.pick(("dict", "dict", "str", "int", "nested", "bytes", "message"), "element")
        if k == "dict":
            return {"id": f"m{n}", "role": "user", "content": "x" * (n % 5)}
        if k == "str":
            return f"s{n}"
        if k == "int":
            return n
        if k == "nested":
            return [n, [f"x{n}", {"k": n}], []]
        if k == "bytes":
            return bytes([n % 256]) * (n % 4)
        return AIMessage(content=f"reply {n}", id=f"ai-{n}")

    def index(self, seq: Sequence[Any]) -> int:
        return self.draw(st.integers(0, len(seq) - 1), "index")

    def change(self, ns: str, ch: str, prev: Any) -> tuple[bool, Any]:
        """A new value for one list channel from its value at the base checkpoint."""
        actions = ACTIONS + self.mutations
        action = self.pick(actions, f"action {ch}")
        stored = self.lists.get((ns, ch), [])
        src: list[Any] = prev if isinstance(prev, list) else (stored[-1] if stored else [])
        if not stored and not isinstance(prev, list):
            # a list that starts long: a delta only pays off against a snapshot that outweighs
            # it, so short lists alone would hardly ever be stored as deltas
            src = self.seed
        if action == "keep":
            return False, prev
        if action == "append":
            return True, [*src, self.element()]
        if action == "append_many":
            k = self.draw(st.integers(2, 4), "count")
            return True, [*src, *(self.element() for _ in range(k))]
        if action == "replace_at" and src:
            new = list(src)
            new[self.index(src)] = self.element()
            return True, new
        if action == "replace_and_append" and src:
            # add_messages given an existing id and a new message in one update
            new = list(src)
            new[self.index(src)] = self.element()
            return True, [*new, self.element()]
        if action == "remove" and src:
            gone = src[self.index(src)]
            return True, [e for e in src if e is not gone]
        if action == "truncate":
            return True, src[: self.draw(st.integers(0, len(src)), "keep")]
        if action == "fresh":
            return True, copy.deepcopy(src)
        if action == "scalar":
            return True, self.pick(SCALARS, "scalar")
        if action == "from_other" and stored:
            other = stored[self.index(stored)]
            return True, [*other, self.element()]
        if action == "inplace_append" and isinstance(prev, list):
            prev.append(self.element())
            return True, prev
        if action == "mutate_element":
            dicts = [e for e in src if isinstance(e, dict)]
            if dicts:
                dicts[self.index(dicts)]["content"] += "!"
            return True, [*src, self.element()]
        return True, [*src, self.element()]

    def saver(self) -> Ours:
        return self.savers[self.pick((0, 1), "saver")]

    async def put(self) -> None:
        ns = self.pick(NAMESPACES, "ns")
        ids = [cid for (n, cid) in self.known if n == ns]
        if ids:
            how = self.pick(("head", "head", "head", "fork", "root"), "parent")
            if how == "head":
                parent: str | None = self.head[ns]
            elif how == "fork":
                parent = ids[self.index(ids)]
            else:
                parent = None
            base_id = parent or self.head[ns]
            base = self.known[(ns, base_id)].cp
            # a deleted base's values may or may not be on the server any more (ours keeps a
            # delta's base as long as the delta), and a graph could not have loaded them:
            # every channel is stored again, its value still made of the old objects
            gone = not self.model.alive(self.thread, ns, base_id)
        else:
            parent, base, gone = None, checkpoint("", {}, {}), False
        values = dict(base["channel_values"])
        versions = dict(base["channel_versions"])
        nv: dict[str, str] = {}
        for ch in LISTS:
            changed, value = self.change(ns, ch, values.get(ch))
            if changed or (gone and ch in values):
                values[ch] = value
                nv[ch] = self.savers[0].next_version(versions.get(ch))
                if isinstance(value, list):
                    self.lists.setdefault((ns, ch), []).append(value)
        self.step += 1
        values["step"] = self.step
        nv["step"] = self.savers[0].next_version(versions.get("step"))
        versions.update(nv)
        cid = new_id()
        cp = checkpoint(cid, values, versions)
        md = {"source": "loop", "step": self.step, "run_id": self.pick(self.runs, "run")}
        config = cfg(self.thread, ns, parent)
        got = await self.saver().put(config, cp, dict(md), dict(nv))
        want = self.model.put(config, cp, dict(md), dict(nv))
        assert got == want
        frozen = self.savers[0].serde.dumps_typed(values)[1]
        self.known[(ns, cid)] = Known(config, cp, md, nv, frozen, copy.deepcopy(cp))
        self.head[ns] = cid

    async def reput(self) -> None:
        if not self.known:
            return
        refs = list(self.known)
        ns, cid = refs[self.index(refs)]
        k = self.known[(ns, cid)]
        # the same values: the objects put then, unless one was edited in place since (a
        # version names one value; a re-put may not change it)
        same = self.savers[0].serde.dumps_typed(k.cp["channel_values"])[1] == k.frozen
        cp = k.cp if same else copy.deepcopy(k.copy)
        nv = dict(k.nv)
        if not self.model.alive(self.thread, ns, cid):
            # once deleted, which of its values are still on the server is not specified (ours
            # keeps a delta's base as long as the delta): send them all again
            nv = dict(cp["channel_versions"])
        got = await self.saver().put(k.config, cp, dict(k.md), dict(nv))
        assert got == self.model.put(k.config, cp, dict(k.md), dict(nv))

    async def writes(self) -> None:
        alive = [(ns, c) for (ns, c) in self.known if self.model.alive(self.thread, ns, c)]
        if not alive:
            return
        ns, cid = alive[self.index(alive)]
        values = self.known[(ns, cid)].cp["channel_values"]
        task_id, path = self.pick(TASKS, "task")
        writes: list[tuple[str, Any]] = []
        for _ in range(self.draw(st.integers(1, 3), "writes")):
            ch = self.pick((*LISTS, "__error__", "__interrupt__"), "channel")
            src = values.get(ch)
            value = [*src[:2], self.element()] if isinstance(src, list) else self.element()
            writes.append((ch, value))
        await self.saver().put_writes(cfg(self.thread, ns, cid), writes, task_id, path)
        self.model.put_writes(cfg(self.thread, ns, cid), writes, task_id, path)

    async def run_op(self, op: str) -> None:
        if op == "put":
            await self.put()
        elif op == "reput":
            await self.reput()
        elif op == "writes":
            await self.writes()
        elif op == "prune":
            await self.saver().prune([self.thread])
            self.model.prune(self.thread)
        elif op == "delete_thread":
            await self.saver().delete_thread(self.thread)
            self.model.delete_thread(self.thread)
        elif op == "runs":
            run = self.pick(self.runs, "run")
            await self.saver().delete_for_runs([run])
            self.model.delete_for_runs([run])
        elif op == "copy":
            target = f"copy-{uuid.uuid4()}"
            await self.saver().copy_thread(self.thread, target)
            await self.check_copy(self.savers[0], target)
        else:  # pragma: no cover
            raise AssertionError(op)

    async def check(self, reader: Ours) -> None:
        t = self.thread
        for ns, cid in self.known:
            got = norm(await reader.get(cfg(t, ns, cid)))
            assert got == norm(self.model.get(cfg(t, ns, cid))), (ns, cid)
        for ns in NAMESPACES:
            assert norm(await reader.get(cfg(t, ns))) == norm(self.model.get(cfg(t, ns))), ns
            got_list = [norm(x) for x in await reader.list(cfg(t, ns))]
            assert got_list == [norm(x) for x in self.model.list(cfg(t, ns))], ns
        # every namespace at once: our order is by id across namespaces, InMemorySaver's by
        # namespace first; the contents must agree
        got_all = sorted(
            (x.config["configurable"]["checkpoint_id"], norm(x))
            for x in await reader.list(cfg(t, None))
        )
        want_all = sorted(
            (x.config["configurable"]["checkpoint_id"], norm(x))
            for x in self.model.list(cfg(t, None))
        )
        assert got_all == want_all

    async def check_copy(self, reader: Ours, target: str) -> None:
        for ns, cid in self.known:
            got = norm(await reader.get(cfg(target, ns, cid)), target)
            assert got == norm(self.model.get(cfg(self.thread, ns, cid)), self.thread)
        copied = [norm(x, target) for x in await reader.list(cfg(target, ""))]
        assert copied == [norm(x, self.thread) for x in self.model.list(cfg(self.thread, ""))]


# Shrinking a failure re-runs many examples, each reading everything after every step (minutes).
# Off by default: the failing example is printed as drawn. DELTA_TESTS_SHRINK=1 turns it on.
PHASES = tuple(Phase) if os.environ.get("DELTA_TESTS_SHRINK") else (Phase.explicit, Phase.generate)

PROPERTY = settings(
    max_examples=20,
    deadline=None,
    database=None,
    phases=PHASES,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


async def run_property(data: Any, pair: tuple[Ours, Ours], mutations: tuple[str, ...]) -> None:
    h = Harness(data, pair, mutations)
    steps = data.draw(st.integers(1, 12), label="steps")
    for i in range(steps):
        op = "put" if i == 0 else h.pick(OPS, "op")
        await h.run_op(op)
        await h.check(pair[i % 2])
    await h.check(pair[0])
    await h.check(pair[1])


@PROPERTY
@given(data=st.data())
async def test_reads_equal_in_memory_saver(data: Any, mpair: tuple[Ours, Ours]) -> None:
    await run_property(data, mpair, mutations=())


@settings(PROPERTY, max_examples=10)
@given(data=st.data())
async def test_reads_equal_in_memory_saver_with_in_place_mutation(
    data: Any, mpair: tuple[Ours, Ours], mode: str
) -> None:
    """The same, where a reducer extends the stored list in place and returns it, or (default
    mode only) a node edits an element (a dict) that older versions share."""
    await run_property(data, mpair, mutations=MUTATIONS[mode])


# -- deterministic: long histories -------------------------------------------------------------


@dataclass
class Linear:
    """A thread whose `messages` list grows by one element per put, built the way langgraph's
    reducers build it ([*previous, new]), put to our saver and to the model alike."""

    ours: Ours
    model: Model
    thread: str
    ns: str = ""
    parent: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    history: list[list[Any]] = field(default_factory=list)
    sent: list[tuple[RunnableConfig, Any, dict[str, Any], dict[str, str]]] = field(
        default_factory=list
    )

    async def put(self, **changes: Any) -> str:
        cid = new_id()
        nv = {ch: self.ours.next_version(self.versions.get(ch)) for ch in changes}
        self.values = {**self.values, **changes}
        self.versions = {**self.versions, **nv}
        cp = checkpoint(cid, self.values, self.versions)
        md = {"source": "loop", "step": len(self.ids), "run_id": f"{self.thread}-run"}
        config = cfg(self.thread, self.ns, self.parent)
        self.sent.append((config, cp, dict(md), dict(nv)))
        assert await self.ours.put(config, cp, dict(md), nv) == self.model.put(
            config, cp, dict(md), nv
        )
        self.parent = cid
        self.ids.append(cid)
        if isinstance(changes.get("messages"), list):
            self.history.append(changes["messages"])
        return cid

    async def append(self, element: Any) -> str:
        return await self.put(messages=[*self.values.get("messages", []), element])

    async def check_all(self, reader: Ours | None = None) -> None:
        reader = reader or self.ours
        for cid in self.ids:
            c = cfg(self.thread, self.ns, cid)
            assert norm(await reader.get(c)) == norm(self.model.get(c)), cid
        c = cfg(self.thread, self.ns)
        assert norm(await reader.get(c)) == norm(self.model.get(c))
        got = [norm(t) for t in await reader.list(c)]
        assert got == [norm(t) for t in self.model.list(c)]


def message(i: int, size: int = 100) -> dict[str, Any]:
    """About `size` bytes once serialized."""
    return {"id": f"msg-{i:05d}", "type": "human", "content": f"{i:05d}" + "x" * (size - 40)}


async def test_300_appends_read_back_equal(pair: tuple[Ours, Ours]) -> None:
    ours = pair[0]
    t = Linear(ours, Model(), f"long-{uuid.uuid4()}")
    for i in range(300):
        if i % 7 == 3:  # another channel changes now and then; it must not disturb messages
            await t.put(messages=[*t.values.get("messages", []), message(i, 60)], count=i)
        else:
            await t.append(message(i, 60))
    assert len(t.values["messages"]) == 300
    await t.check_all()
    # a reader with no memory of the writes
    for cid in t.ids[::7]:
        c = cfg(t.thread, "", cid)
        assert norm(await pair[1].get(c)) == norm(t.model.get(c)), cid
    # every thread at once (the only thread on this server): 3 pages of 100
    got = [norm(x) for x in await ours.list(None)]
    assert got == [norm(x) for x in t.model.list(None)]


def thread_bytes(raw: redis.Redis, thread: str) -> tuple[int, int]:
    """(bytes of the blob hash values, bytes of every key of the thread): field names and values
    of hashes, members of sets and sorted sets, string values."""
    th = keys_of(raw, thread)
    blob = th.blob  # namespace "" encodes to nothing: the root namespace's blob hash
    blob_total = sum(raw.hstrlen(blob, f) for f in raw.hkeys(blob))
    everything = 0
    for key in raw.scan_iter(match=f"*{th.ns_set[len('checkpoint_ns:') :]}*", count=1000):
        kind = raw.type(key)
        if kind == b"hash":
            everything += sum(len(f) + len(v) for f, v in raw.hgetall(key).items())
        elif kind == b"set":
            everything += sum(len(m) for m in raw.smembers(key))
        elif kind == b"zset":
            everything += sum(len(m) for m in raw.zrange(key, 0, -1))
        elif kind == b"string":
            everything += len(raw.get(key) or b"")
        elif kind == b"list":
            everything += sum(len(m) for m in raw.lrange(key, 0, -1))
    return blob_total, everything


async def test_server_stores_much_less_than_every_full_value(
    mpair: tuple[Ours, Ours], raw: redis.Redis
) -> None:
    """200 appends of ~100-byte messages: stored whole, version n holds n messages (~2 MB in
    all); stored as deltas plus a snapshot now and then, a small fraction of that."""
    ours = mpair[0]
    t = Linear(ours, Model(), f"size-{uuid.uuid4()}")
    for i in range(200):
        await t.append(message(i))
    full = sum(len(ours.serde.dumps_typed(v)[1]) for v in t.history)
    blob_total, everything = thread_bytes(raw, t.thread)
    assert blob_total > 0
    assert blob_total < full / 4, (blob_total, full)
    assert everything < full / 4, (everything, full)
    # and still the reads are the same
    for cid in [*t.ids[:3], *t.ids[-40:]]:
        c = cfg(t.thread, "", cid)
        assert norm(await ours.get(c)) == norm(t.model.get(c)), cid


# -- deterministic: the base is gone --------------------------------------------------------------


@pytest.mark.parametrize(
    "how", ["delete_thread", "prune_delete", "delete_for_runs", "prune_other_head", "blob_hash"]
)
async def test_put_after_base_removed_behind_the_savers_back(
    mpair: tuple[Ours, Ours], raw: redis.Redis, how: str
) -> None:
    """Saver A remembers the list it stored last; saver B (another process) removes that
    version; A's next put reuses the list's objects and must still store the whole value."""
    a, b = mpair
    model = Model()
    t = Linear(a, model, f"gone-{uuid.uuid4()}")
    for i in range(12):
        await t.append(message(i, 60))
    before = t.values["messages"]
    if how == "delete_thread":
        await b.delete_thread(t.thread)
        model.delete_thread(t.thread)
    elif how == "prune_delete":
        await b.prune([t.thread], strategy="delete")
        model.delete_thread(t.thread)
    elif how == "delete_for_runs":
        await b.delete_for_runs([f"{t.thread}-run"])
        model.delete_for_runs([f"{t.thread}-run"])
    elif how == "prune_other_head":
        # B stores a newer checkpoint on another branch, with a fresh list; prune keeps only
        # that one, so the version A extends is gone while the thread lives on
        other = Linear(b, model, t.thread, versions=dict(t.versions), values=dict(t.values))
        await other.put(messages=[message(900, 60)])
        await b.prune([t.thread])
        model.prune(t.thread)
    else:
        raw.delete(keys_of(raw, t.thread).blob)
    await t.append(message(100, 60))
    await t.append(message(101, 60))
    got = await a.get(cfg(t.thread, "", t.ids[-1]))
    assert got is not None
    assert got.checkpoint["channel_values"]["messages"] == [
        *before,
        message(100, 60),
        message(101, 60),
    ]
    if how != "blob_hash":
        await t.check_all()
        await t.check_all(b)


@pytest.mark.parametrize("how", ["prune", "delete_for_runs"])
async def test_deletes_keep_the_chain_a_kept_value_needs(
    mpair: tuple[Ours, Ours], how: str
) -> None:
    """A kept checkpoint's value stored as a delta needs its older base versions, though no
    kept checkpoint names them."""
    a, b = mpair
    model = Model()
    t = Linear(a, model, f"chain-{uuid.uuid4()}")
    await t.put(messages=[message(i) for i in range(40)])
    for i in range(40, 50):
        await t.append(message(i))
    if how == "prune":
        await b.prune([t.thread])
        model.prune(t.thread)
    else:
        # all but the last two checkpoints are moved to another run (re-put with its id in
        # their metadata, the same values), and that run is deleted
        for config, cp, md, nv in t.sent[:-2]:
            old_run = {**md, "run_id": f"{t.thread}-old"}
            await a.put(config, cp, dict(old_run), dict(nv))
            model.put(config, cp, dict(old_run), dict(nv))
        await b.delete_for_runs([f"{t.thread}-old"])
        model.delete_for_runs([f"{t.thread}-old"])
        left = [x.config["configurable"]["checkpoint_id"] for x in model.list(cfg(t.thread))]
        assert left == t.ids[:-3:-1]
    await t.check_all()
    await t.check_all(b)
    for i in range(50, 55):
        await t.append(message(i))
    await t.check_all()


async def test_delete_thread_then_continue_from_scratch(mpair: tuple[Ours, Ours]) -> None:
    """After delete_thread the same process starts the thread again from its old objects."""
    a, _ = mpair
    model = Model()
    t = Linear(a, model, f"again-{uuid.uuid4()}")
    for i in range(8):
        await t.append(message(i))
    keep = t.values["messages"]
    await a.delete_thread(t.thread)
    model.delete_thread(t.thread)
    t2 = Linear(a, model, t.thread)  # a new root, new versions, the same element objects
    await t2.put(messages=keep[:5])
    await t2.put(messages=[*keep[:5], message(50)])
    await t2.put(messages=[*keep, message(51)])
    await t2.check_all()


# -- deterministic: copy_thread -----------------------------------------------------------------


async def test_copy_thread_of_long_append_history(pair: tuple[Ours, Ours]) -> None:
    a, b = pair
    model = Model()
    t = Linear(a, model, f"src-{uuid.uuid4()}")
    for i in range(80):
        await t.append(message(i, 60))
    for k, cid in enumerate(t.ids[::10]):
        w = [("messages", [message(1000 + k)]), ("__interrupt__", {"q": k})]
        await a.put_writes(cfg(t.thread, "", cid), w, f"task-{k}", "~__pregel_pull, n")
        model.put_writes(cfg(t.thread, "", cid), w, f"task-{k}", "~__pregel_pull, n")
    target = f"dst-{uuid.uuid4()}"
    await a.copy_thread(t.thread, target)
    model.copy_thread(t.thread, target)
    for cid in t.ids:
        got = norm(await b.get(cfg(target, "", cid)), target)
        assert got == norm(model.get(cfg(t.thread, "", cid)), t.thread), cid
    # the copy stands alone: the source can go
    await a.delete_thread(t.thread)
    model.delete_thread(t.thread)
    for cid in t.ids:
        assert norm(await a.get(cfg(target, "", cid))) == norm(model.get(cfg(target, "", cid)))
    # both the original writer and a fresh one continue the copy, reusing the same objects
    u = Linear(a, model, target, parent=t.parent, values=dict(t.values), versions=dict(t.versions))
    u.ids = list(t.ids)
    for i in range(80, 90):
        await u.append(message(i, 60))
    u.ours = b
    for i in range(90, 95):
        await u.append(message(i, 60))
    await u.check_all()
    await u.check_all(b)


# -- deterministic: forks, re-puts, namespaces, in-place mutation -------------------------------


async def test_fork_from_an_older_checkpoint(mpair: tuple[Ours, Ours]) -> None:
    """C1=[a,b], C2=[a,b,c], C3 (child of C1)=[a,b,d]: C3 shares a prefix with C2's list, not
    all of it."""
    ours = mpair[0]
    model = Model()
    t = Linear(ours, model, f"fork-{uuid.uuid4()}")
    a, b, c, d = (message(i) for i in range(4))
    c1 = await t.put(messages=[a, b])
    await t.put(messages=[a, b, c])
    versions_c1 = dict(model.get(cfg(t.thread, "", c1)).checkpoint["channel_versions"])  # type: ignore[union-attr]
    fork = Linear(
        ours, model, t.thread, parent=c1, values={"messages": [a, b]}, versions=versions_c1
    )
    await fork.put(messages=[a, b, d])
    await fork.put(messages=[a, d])
    await fork.put(messages=[a, d, c])
    t.ids += fork.ids
    await t.check_all()
    await t.check_all(mpair[1])


async def test_re_put_of_an_older_checkpoint_then_continue(mpair: tuple[Ours, Ours]) -> None:
    """Re-putting C2 after C5 must not make C2's value depend on C5's (which depends on C2)."""
    ours = mpair[0]
    model = Model()
    t = Linear(ours, model, f"reput-{uuid.uuid4()}")
    await t.put(messages=[message(i) for i in range(40)])  # a snapshot worth extending
    for i in range(40, 46):
        await t.append(message(i))
    for k in (1, 4, 0, 6, 2):
        config, cp, md, nv = t.sent[k]
        await ours.put(config, cp, dict(md), dict(nv))
        model.put(config, cp, dict(md), dict(nv))
        await t.check_all()
    for i in range(46, 49):
        await t.append(message(i))
    await t.check_all()
    await t.check_all(mpair[1])


async def test_same_channel_in_two_namespaces(mpair: tuple[Ours, Ours]) -> None:
    """The parent graph and a subgraph both have `messages`, sharing element objects."""
    ours = mpair[0]
    model = Model()
    thread = f"ns-{uuid.uuid4()}"
    root = Linear(ours, model, thread, "")
    sub = Linear(ours, model, thread, "child:1f0e-task")
    for i in range(10):
        await root.append(message(i))
        await sub.put(messages=list(root.values["messages"]))  # same objects, other namespace
        await sub.append(message(100 + i))
    await root.check_all()
    await sub.check_all()
    got = sorted(
        (x.config["configurable"]["checkpoint_id"], norm(x))
        for x in await ours.list(cfg(thread, None))
    )
    want = sorted(
        (x.config["configurable"]["checkpoint_id"], norm(x)) for x in model.list(cfg(thread, None))
    )
    assert len(got) == 30
    assert got == want


async def test_list_appended_in_place(mpair: tuple[Ours, Ours]) -> None:
    """A reducer that extends the stored list in place and returns it: the list put for the
    next version is the very object put for the previous one."""
    ours = mpair[0]
    t = Linear(ours, Model(), f"inplace-{uuid.uuid4()}")
    msgs: list[Any] = []
    for i in range(6):
        msgs.append(message(i))
        await t.put(messages=msgs)
    await t.check_all()
    got = await ours.get(cfg(t.thread, "", t.ids[2]))
    assert got is not None and len(got.checkpoint["channel_values"]["messages"]) == 3


async def test_element_edited_in_place(pair: tuple[Ours, Ours]) -> None:
    """A node edits a message that older versions share (same object), then a new message is
    appended: the new version must hold the edited message, the old ones the original."""
    ours = pair[0]
    t = Linear(ours, Model(), f"edit-{uuid.uuid4()}")
    await t.put(messages=[message(i) for i in range(30)])
    for i in range(30, 34):
        await t.append(message(i))
    msgs = t.values["messages"]
    msgs[1]["content"] = "edited"  # early, shorter
    await t.append(message(34))
    # same length as before, so every later byte stays where it was: only a full comparison
    # of the stored items can see it
    for k in (-1, 17):
        msgs = t.values["messages"]
        msgs[k]["content"] = msgs[k]["content"].replace("x", "y", 1)
        await t.append(message(40 + k))
    await t.check_all()
    latest = await ours.get(cfg(t.thread, ""))
    assert latest is not None
    assert latest.checkpoint["channel_values"]["messages"][1]["content"] == "edited"
    third = await ours.get(cfg(t.thread, "", t.ids[2]))
    assert third is not None
    assert third.checkpoint["channel_values"]["messages"][1]["content"] != "edited"


async def test_ids_and_channel_names_that_need_encoding(mpair: tuple[Ours, Ours]) -> None:
    """The stored delta names its base field ("<channel>:<version>", both encoded): names
    with every character the key encoding escapes, newlines included."""
    ours = mpair[0]
    t = Linear(ours, Model(), f"t:{{x}}*? \n%-{uuid.uuid4()}", "p:1|c{2} \n")
    odd = ["a:b{c} \n", "%", "ünï*[]"]
    await t.put(**{ch: [message(i) for i in range(20)] for ch in odd})
    for i in range(20, 30):
        await t.put(**{ch: [*t.values[ch], message(i)] for ch in odd[i % 2 :]})
    await t.check_all()
    await t.check_all(mpair[1])


async def test_list_to_scalar_and_back(mpair: tuple[Ours, Ours]) -> None:
    ours = mpair[0]
    t = Linear(ours, Model(), f"switch-{uuid.uuid4()}")
    for i in range(3):
        await t.append(message(i))
    old = t.values["messages"]
    for v in (None, 5, "s", {"m": old}, old[:1]):
        await t.put(messages=v)
    await t.put(messages=[*old, message(9)])
    await t.put(messages=(*old, message(10)))  # a tuple is not a list
    await t.put(messages=[*old, message(11)])
    await t.check_all()


# -- a real graph: add_messages and operator.add build new lists of the old objects --------------


class Chat(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    log: Annotated[list[str], operator.add]


def chat_graph(checkpointer: Any) -> Any:
    def bot(state: Chat) -> Chat:
        last = state["messages"][-1]
        return {
            "messages": [AIMessage(f"echo {last.content}")],
            "log": [f"bot{len(state['messages'])}"],
        }

    def audit(state: Chat) -> Chat:
        return {"log": [f"audit{len(state.get('log', []))}"]}

    b = StateGraph(Chat)
    b.add_node("bot", bot)
    b.add_node("audit", audit)
    b.add_edge(START, "bot")
    b.add_edge("bot", "audit")
    return b.compile(checkpointer=checkpointer)


async def chat_trace(saver: Any, mode: str, thread: str) -> list[Any]:
    g = chat_graph(saver)
    c: RunnableConfig = {"configurable": {"thread_id": thread}}

    async def invoke(inp: Any, config: RunnableConfig) -> Any:
        return g.invoke(inp, config) if mode == "sync" else await g.ainvoke(inp, config)

    async def history() -> list[Any]:
        if mode == "sync":
            return list(g.get_state_history(c))
        return [s async for s in g.aget_state_history(c)]

    async def state(config: RunnableConfig) -> Any:
        return g.get_state(config) if mode == "sync" else await g.aget_state(config)

    async def update(config: RunnableConfig, values: Any) -> RunnableConfig:
        if mode == "sync":
            return g.update_state(config, values)
        return await g.aupdate_state(config, values)

    def plain(values: Any) -> Any:
        return {
            k: [(type(m).__name__, m.content) if hasattr(m, "content") else m for m in v]
            for k, v in values.items()
        }

    trace: list[Any] = []
    for i in range(10):
        out = await invoke({"messages": [HumanMessage(f"hi {i}", id=f"h{i}")]}, c)
        trace.append(plain(out))
    # edit one message by id (add_messages replaces it in a new list) and remove another
    await update(c, {"messages": [HumanMessage("edited", id="h3"), RemoveMessage(id="h5")]})
    trace.append(plain((await state(c)).values))
    out = await invoke({"messages": [HumanMessage("after edit", id="h99")]}, c)
    trace.append(plain(out))
    snaps = await history()
    trace.append([plain(s.values) for s in snaps])
    # time travel: continue from an early checkpoint
    early = snaps[len(snaps) // 2].config
    out = await invoke({"messages": [HumanMessage("fork", id="hf")]}, early)
    trace.append(plain(out))
    trace.append([plain(s.values) for s in await history()])
    return trace


async def test_chat_graph_matches_in_memory(mpair: tuple[Ours, Ours], kind: str) -> None:
    thread = f"chat-{uuid.uuid4()}"
    want = await chat_trace(InMemorySaver(), kind, thread)
    got = await chat_trace(mpair[0].saver, kind, thread)
    assert got == want


# -- deterministic: msgpack array headers, other serdes, concurrency ----------------------------


async def test_lists_crossing_msgpack_array_header_sizes(mpair: tuple[Ours, Ours]) -> None:
    """An msgpack array's header is 1 byte up to 15 items, 3 up to 65535, 5 beyond: a delta
    that splices item bytes must get the count right on both sides of each boundary."""
    ours = mpair[0]
    t = Linear(ours, Model(), f"header-{uuid.uuid4()}")
    items: list[Any] = [f"i{i}" for i in range(13)]
    for _ in range(6):  # 14 .. 19 items
        items = [*items, f"i{len(items)}"]
        await t.put(messages=items)
    big = list(range(65534))
    for _ in range(3):  # 65535 .. 65537 items
        big = [*big, len(big)]
        await t.put(messages=big)
    await t.put(messages=big[:15])  # and back below both
    await t.put(messages=[*big[:15], "x"])
    await t.check_all()


class PickleSerde(SerializerProtocol):
    """A serde whose bytes are no msgpack array."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        return "pickle", pickle.dumps(obj)

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        return pickle.loads(data[1])


class XorCipher:
    """A stand-in cipher (pycryptodome is not installed): deterministic, so equal plaintext
    prefixes give equal ciphertext prefixes."""

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        return "xor", bytes(b ^ 0x5A for b in plaintext)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        assert ciphername == "xor"
        return bytes(b ^ 0x5A for b in ciphertext)


SERDES: dict[str, Any] = {
    "pickle": PickleSerde,
    "encrypted": lambda: EncryptedSerializer(XorCipher(), JsonPlusSerializer()),
}


@pytest.mark.parametrize("serde_name", sorted(SERDES))
async def test_appends_with_another_serde(
    backend: Backend, kind: str, mode: str, serde_name: str
) -> None:
    serde = SERDES[serde_name]()
    pair = await make_pair(backend, kind, mode, serde)
    try:
        t = Linear(pair[0], Model(serde), f"serde-{uuid.uuid4()}")
        for i in range(30):
            await t.append(message(i, 50))
        await t.put(messages=t.values["messages"][:10])
        await t.append(message(99, 50))
        await t.check_all()
        await t.check_all(pair[1])
    finally:
        await close_pair(pair)


async def test_many_threads_at_once_on_one_saver(mpair: tuple[Ours, Ours], kind: str) -> None:
    """One saver writes 8 threads concurrently (the sync saver from 8 OS threads, the async one
    from 8 tasks); its memory is per thread and must not mix them up."""
    ours = mpair[0]
    model = Model()
    lines = [Linear(ours, model, f"conc-{k}-{uuid.uuid4()}") for k in range(8)]
    # the same element objects in every thread, so identity alone cannot tell them apart
    shared = [message(i, 50) for i in range(40)]

    async def grow(t: Linear, k: int) -> None:
        for i in range(25):
            await t.put(messages=[*t.values.get("messages", []), shared[(i + k) % 40]])

    if kind == "async":
        await asyncio.gather(*(grow(t, k) for k, t in enumerate(lines)))
    else:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda tk: asyncio.run(grow(tk[1], tk[0])), enumerate(lines)))
    for t in lines:
        await t.check_all()
