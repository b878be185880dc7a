"""Helpers the test modules share: opening and closing savers, a comparable form of a
CheckpointTuple, a thread's keys on the server, and a graph runner for either API.

Each used to be written again in the modules that need it (with small differences that had
grown between the copies); one definition here, with parameters where the copies differed,
keeps them from drifting apart. The Facade and the small config/checkpoint builders stay in
tests/facade.py; the key-space walk stays in tests/orphans.py.
"""

from __future__ import annotations

from typing import Any

import redis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.checkpoint.redis import (
    AsyncRedisSaver,
    AsyncShallowRedisSaver,
    RedisSaver,
    ShallowRedisSaver,
)
from langgraph.graph import StateGraph
from langgraph.types import StateSnapshot

from .conftest import Backend
from .facade import Facade, strict
from .orphans import of_thread, snapshot, tagged

# -- savers ---------------------------------------------------------------------------------


def make_saver(backend: Backend, kind: str, *, shallow: bool = False, **kw: Any) -> Any:
    """A saver of `kind` ("async" or "sync"; shallow or not) on `backend`, not set up yet:
    for tests that choose when setup() runs. `kw` goes to the constructor."""
    if kind == "async":
        acls: Any = AsyncShallowRedisSaver if shallow else AsyncRedisSaver
        return acls(**backend.saver_kwargs(asynchronous=True), **kw)
    scls: Any = ShallowRedisSaver if shallow else RedisSaver
    return scls(**backend.saver_kwargs(asynchronous=False), **kw)


async def setup_saver(saver: Any) -> None:
    """setup() through the saver's own API: asetup() on an async saver, setup() on a sync one."""
    if hasattr(saver, "aclose"):
        await saver.asetup()
    else:
        saver.setup()


async def open_saver(backend: Backend, kind: str, *, shallow: bool = False, **kw: Any) -> Facade:
    """A set-up saver of `kind` on `backend` behind the Facade; close it with close_saver."""
    saver = make_saver(backend, kind, shallow=shallow, **kw)
    await setup_saver(saver)
    return Facade(saver, kind)


async def close_saver(x: Facade | Any) -> None:
    """Closes a saver (or the one behind a Facade) through its own API."""
    saver = x.saver if isinstance(x, Facade) else x
    if hasattr(saver, "aclose"):
        await saver.aclose()
    else:
        saver.close()


# -- comparing what reads return --------------------------------------------------------------


def norm(t: CheckpointTuple | None, thread: str | None = None, *, exact: bool = True) -> Any:
    """Everything a read returns, in a form to compare with == (InMemorySaver echoes the input
    config, so only the ids of the config are kept).

    With `thread`, the thread id (of the tuple and of its parent) must be that one and is then
    left out, to compare a copied thread with its source. `exact` (the default) also tells a
    list from a tuple, 1 from True and so on (facade.strict); exact=False compares values with
    plain ==."""
    if t is None:
        return None
    c = t.config["configurable"]
    p = t.parent_config["configurable"] if t.parent_config else None
    if thread is not None:
        assert c["thread_id"] == thread
        assert p is None or p["thread_id"] == thread
    keep_thread = thread is None
    out = {
        "thread": c["thread_id"] if keep_thread else None,
        "ref": [c.get("checkpoint_ns", ""), c["checkpoint_id"]],
        "checkpoint": t.checkpoint,
        "metadata": t.metadata,
        "parent": None
        if p is None
        else [p["thread_id"] if keep_thread else None, p["checkpoint_ns"], p["checkpoint_id"]],
        "writes": [list(w) for w in t.pending_writes or []],
    }
    return strict(out) if exact else out


# -- a thread's keys on the server ----------------------------------------------------------


def thread_keys(raw: redis.Redis, thread: str) -> set[bytes]:
    """The names of every key of the thread (those carrying its hash tag: `{T}` on one server,
    `{g}T` on a cluster; not the cross-thread indexes it is listed in)."""
    part = tagged(raw, thread)
    return {k for k in raw.scan_iter(match=f"*{part}*", count=1000) if of_thread(k, part)}


def thread_contents(raw: redis.Redis, thread: str) -> dict[str, Any]:
    """Every key of the thread with its type and content, to compare before and after."""
    part = tagged(raw, thread)
    return {k: (v.type, v.value) for k, v in snapshot(raw).items() if of_thread(k, part)}


# -- driving a graph through either API -----------------------------------------------------


class Runner:
    """One saver and the API (sync or async) every graph call goes through: graph.invoke,
    stream, get_state... for "sync", graph.ainvoke, astream, aget_state... for "async"; `f` is
    the same saver behind the Facade."""

    def __init__(self, mode: str, saver: BaseCheckpointSaver) -> None:
        assert mode in ("sync", "async")
        self.mode = mode
        self.saver = saver
        self.f = Facade(saver, mode)

    def compile(self, builder: StateGraph) -> Any:
        return builder.compile(checkpointer=self.saver)

    async def invoke(self, graph: Any, inp: Any, config: RunnableConfig, **kw: Any) -> Any:
        if self.mode == "sync":
            return graph.invoke(inp, config, **kw)
        return await graph.ainvoke(inp, config, **kw)

    async def stream(self, graph: Any, inp: Any, config: RunnableConfig, **kw: Any) -> list[Any]:
        if self.mode == "sync":
            return list(graph.stream(inp, config, **kw))
        return [c async for c in graph.astream(inp, config, **kw)]

    async def state(
        self, graph: Any, config: RunnableConfig, *, subgraphs: bool = False
    ) -> StateSnapshot:
        if self.mode == "sync":
            return graph.get_state(config, subgraphs=subgraphs)
        return await graph.aget_state(config, subgraphs=subgraphs)

    async def history(self, graph: Any, config: RunnableConfig, **kw: Any) -> list[StateSnapshot]:
        if self.mode == "sync":
            return list(graph.get_state_history(config, **kw))
        return [s async for s in graph.aget_state_history(config, **kw)]

    async def update(
        self, graph: Any, config: RunnableConfig, values: Any, as_node: str | None = None
    ) -> RunnableConfig:
        if self.mode == "sync":
            return graph.update_state(config, values, as_node=as_node)
        return await graph.aupdate_state(config, values, as_node=as_node)

    async def list(self, config: RunnableConfig | None, **kw: Any) -> list[CheckpointTuple]:
        return await self.f.list(config, **kw)

    async def delete_thread(self, thread_id: str) -> None:
        await self.f.delete_thread(thread_id)
