"""The official conformance suite (langgraph-checkpoint-conformance 0.0.2), on every backend,
for the async saver and, through an adapter whose a* methods call the sync ones, the sync saver.
Every capability must be detected and pass; the suite's blind spots are in test_contract.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES
from langgraph.checkpoint.redis import AsyncRedisSaver, RedisSaver

from .conftest import Backend


class SyncAdapter(RedisSaver):
    """Runs the suite's async calls straight through the sync methods (no thread hop), so what
    is tested is the sync code path itself."""

    async def aget_tuple(self, config: Any) -> Any:
        return self.get_tuple(config)

    async def alist(self, config: Any, **kw: Any) -> AsyncIterator[Any]:
        for t in self.list(config, **kw):
            yield t

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: Any, writes: Any, task_id: str, task_path: str = ""
    ) -> None:
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.delete_for_runs(run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.copy_thread(source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.prune(thread_ids, strategy=strategy)


def _report_text(report: Any) -> str:
    lines = []
    for cap, res in report.results.items():
        lines.append(f"{cap}: detected={res.detected} passed={res.passed} {res.failures or ''}")
    return "\n".join(lines)


async def _run(name: str, make: Any) -> None:
    async def factory() -> AsyncIterator[Any]:
        s = make()
        if isinstance(s, AsyncRedisSaver):
            await s.asetup()
            yield s
            await s.aclose()
        else:
            s.setup()
            yield s
            s.close()

    registered = checkpointer_test(name=name)(factory)
    report = await validate(registered)
    text = _report_text(report)
    assert {c.value for c in ALL_CAPABILITIES} == set(report.results), text
    assert all(r.detected for r in report.results.values()), text
    assert report.passed_all_base(), text
    assert report.passed_all(), text
    assert sum(r.tests_passed for r in report.results.values()) >= 50, text


async def test_conformance_async(backend: Backend) -> None:
    await _run(
        f"AsyncRedisSaver[{backend.name}]", lambda: AsyncRedisSaver(**backend.saver_kwargs(True))
    )


async def test_conformance_sync(backend: Backend) -> None:
    await _run(f"RedisSaver[{backend.name}]", lambda: SyncAdapter(**backend.saver_kwargs(False)))
