"""The official conformance suite (langgraph-checkpoint-conformance 0.0.2), on every backend,
for the async saver and, through an adapter whose a* methods call the sync ones, the sync saver.
Every capability must be detected and pass; the suite's blind spots are in test_contract.py."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES
from langgraph.checkpoint.redis import AsyncRedisSaver, RedisSaver

from .conftest import Backend
from .facade import SyncCalls, conformance_factory


class SyncAdapter(SyncCalls, RedisSaver):
    """RedisSaver with the suite's async calls run through its sync methods."""


def _report_text(report: Any) -> str:
    lines = []
    for cap, res in report.results.items():
        lines.append(f"{cap}: detected={res.detected} passed={res.passed} {res.failures or ''}")
    return "\n".join(lines)


async def _run(name: str, make: Any) -> None:
    factory = conformance_factory(make)
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
