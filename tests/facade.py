"""One saver behind async methods, so a test body runs once for both savers: the async saver's
a* methods, or the sync saver's sync methods called directly (so the sync code path itself is
what runs, not a thread hop)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.types import Command, Interrupt, Send


class Facade:
    def __init__(self, saver: Any, kind: str) -> None:
        self.saver = saver
        self.kind = kind

    @property
    def serde(self) -> Any:
        return self.saver.serde

    def next_version(self, current: str | None) -> str:
        return self.saver.get_next_version(current, None)

    async def put(self, config: RunnableConfig, cp: Any, md: Any, nv: Any) -> RunnableConfig:
        if self.kind == "async":
            return await self.saver.aput(config, cp, md, nv)
        return self.saver.put(config, cp, md, nv)

    async def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        path: str = "",
    ) -> None:
        if self.kind == "async":
            await self.saver.aput_writes(config, writes, task_id, path)
        else:
            self.saver.put_writes(config, writes, task_id, path)

    async def get(self, config: RunnableConfig) -> CheckpointTuple | None:
        if self.kind == "async":
            return await self.saver.aget_tuple(config)
        return self.saver.get_tuple(config)

    async def list(self, config: RunnableConfig | None, **kw: Any) -> list[CheckpointTuple]:
        if self.kind == "async":
            return [t async for t in self.saver.alist(config, **kw)]
        return list(self.saver.list(config, **kw))

    async def history(self, config: RunnableConfig, channels: Sequence[str]) -> Any:
        if self.kind == "async":
            return await self.saver.aget_delta_channel_history(config=config, channels=channels)
        return self.saver.get_delta_channel_history(config=config, channels=channels)

    async def delete_thread(self, thread_id: str) -> None:
        if self.kind == "async":
            await self.saver.adelete_thread(thread_id)
        else:
            self.saver.delete_thread(thread_id)

    async def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        if self.kind == "async":
            await self.saver.adelete_for_runs(run_ids)
        else:
            self.saver.delete_for_runs(run_ids)

    async def copy_thread(self, source: str, target: str) -> None:
        if self.kind == "async":
            await self.saver.acopy_thread(source, target)
        else:
            self.saver.copy_thread(source, target)

    async def prune(
        self,
        thread_ids: Sequence[str],
        strategy: str = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        if self.kind == "async":
            await self.saver.aprune(thread_ids, strategy=strategy, keep_last=keep_last)
        else:
            self.saver.prune(thread_ids, strategy=strategy, keep_last=keep_last)

    async def pin(self, thread_id: str) -> bool:
        if self.kind == "async":
            return await self.saver.apin_thread(thread_id)
        return self.saver.pin_thread(thread_id)

    async def unpin(self, thread_id: str) -> bool:
        if self.kind == "async":
            return await self.saver.aunpin_thread(thread_id)
        return self.saver.unpin_thread(thread_id)

    async def sweep(self) -> int:
        if self.kind == "async":
            return await self.saver.asweep()
        return self.saver.sweep()


def cfg(thread: str, ns: str | None = "", cid: str | None = None) -> RunnableConfig:
    """A config as LangGraph builds it; ns=None leaves `checkpoint_ns` out."""
    conf: dict[str, Any] = {"thread_id": thread}
    if ns is not None:
        conf["checkpoint_ns"] = ns
    if cid is not None:
        conf["checkpoint_id"] = cid
    return {"configurable": conf}


def strict(x: Any) -> Any:
    """A comparable form that also tells list from tuple, 1 from True, and so on."""
    if isinstance(x, dict):
        return {k: strict(v) for k, v in x.items()}
    if isinstance(x, list):
        return ("list", [strict(v) for v in x])
    if isinstance(x, tuple):
        return (type(x).__name__, [strict(v) for v in x])
    return (type(x).__name__, x)


def new_id() -> str:
    """A checkpoint id as LangGraph makes them (uuid6: lexical order is time order)."""
    return str(uuid6(clock_seq=-1))


def checkpoint(cid: str, values: dict[str, Any], versions: dict[str, str]) -> Any:
    """A checkpoint for direct put() calls, holding copies of `values` and `versions`."""
    cp = empty_checkpoint()
    cp.update(
        id=cid,
        ts="2024-05-01T12:00:00+00:00",
        channel_values=dict(values),
        channel_versions=dict(versions),
        versions_seen={"node": dict(versions)},
    )
    return cp


class SyncCalls:
    """Mixed into a sync saver for the conformance suite: its async calls run straight through
    the sync methods (no thread hop), so what the suite tests is the sync code path itself."""

    async def aget_tuple(self, config: Any) -> Any:
        return self.get_tuple(config)  # type: ignore[attr-defined]

    async def alist(self, config: Any, **kw: Any) -> AsyncIterator[Any]:
        for t in self.list(config, **kw):  # type: ignore[attr-defined]
            yield t

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        return self.put(config, checkpoint, metadata, new_versions)  # type: ignore[attr-defined]

    async def aput_writes(
        self, config: Any, writes: Any, task_id: str, task_path: str = ""
    ) -> None:
        self.put_writes(config, writes, task_id, task_path)  # type: ignore[attr-defined]

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)  # type: ignore[attr-defined]

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.delete_for_runs(run_ids)  # type: ignore[attr-defined]

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.copy_thread(source_thread_id, target_thread_id)  # type: ignore[attr-defined]

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.prune(thread_ids, strategy=strategy)  # type: ignore[attr-defined]


def ns_name(ns: str) -> str:
    """'outer:<task id>|inner:<task id>' -> 'outer|inner' (task ids differ between savers)."""
    return "|".join(part.split(":")[0] for part in ns.split("|")) if ns else ""


def plain(x: Any) -> Any:
    """Drop what differs between savers (interrupt ids) and make the rest comparable."""
    if isinstance(x, Interrupt):
        return ("Interrupt", plain(x.value))
    if isinstance(x, Send):
        return ("Send", x.node, plain(x.arg))
    if isinstance(x, Command):
        return ("Command", plain(x.resume), plain(x.update), plain(x.goto))
    if isinstance(x, BaseException):
        return ("Error", repr(x))
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(plain(v) for v in x)
    return x


def ids(tuples: Iterable[CheckpointTuple]) -> list[str]:
    return [t.config["configurable"]["checkpoint_id"] for t in tuples]


def refs(tuples: Iterable[CheckpointTuple]) -> list[tuple[str, str, str]]:
    return [
        (
            t.config["configurable"]["thread_id"],
            t.config["configurable"]["checkpoint_ns"],
            t.config["configurable"]["checkpoint_id"],
        )
        for t in tuples
    ]


def conformance_factory(make: Any) -> Any:
    """The conformance suite's saver factory: a fresh saver from `make()`, set up and closed
    the way its driver (async or sync) does it."""

    async def factory() -> AsyncIterator[Any]:
        s = make()
        if hasattr(s, "aclose"):
            await s.asetup()
            yield s
            await s.aclose()
        else:
            s.setup()
            yield s
            s.close()

    return factory


@asynccontextmanager
async def opened(kind: str, url: str, **kw: Any) -> AsyncIterator[Facade]:
    """A set-up saver of `kind` ("async" or "sync") on `url` behind the Facade, closed after."""
    from langgraph.checkpoint.redis import AsyncRedisSaver, RedisSaver

    if kind == "async":
        saver: Any = AsyncRedisSaver(url, **kw)
        await saver.asetup()
    else:
        saver = RedisSaver(url, **kw)
        saver.setup()
    try:
        yield Facade(saver, kind)
    finally:
        if kind == "async":
            await saver.aclose()
        else:
            saver.close()
