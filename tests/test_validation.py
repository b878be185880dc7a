"""Bad arguments are refused at the door (validate.py): a TypeError or ValueError that names the
argument, raised before any byte is sent, so nothing is written and the saver stays usable.
Each case runs on both savers (the Facade) and checks the server saw no script call."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint

from .conftest import Backend
from .facade import Facade, opened

CFG: Any = {"configurable": {"thread_id": "v", "checkpoint_ns": ""}}


def _cp(**drop_or_set: Any) -> dict[str, Any]:
    c: dict[str, Any] = dict(empty_checkpoint())
    c["channel_values"] = {"a": 1}
    c["channel_versions"] = {"a": "1"}
    for k, v in drop_or_set.items():
        if v is _DROP:
            c.pop(k)
        else:
            c[k] = v
    return c


_DROP = object()

MD = "metadata must be a dict"
BAD_PUTS = [
    pytest.param(lambda: (CFG, _cp(), "meta", {}), TypeError, MD, id="md-str"),
    pytest.param(lambda: (CFG, _cp(), None, {}), TypeError, MD, id="md-none"),
    pytest.param(lambda: (CFG, _cp(), [1], {}), TypeError, MD, id="md-list"),
    pytest.param(lambda: (CFG, _cp(), 3, {}), TypeError, MD, id="md-int"),
    pytest.param(lambda: (CFG, _cp(versions_seen=_DROP), {}, {}), ValueError, "'versions_seen'",
                 id="no-versions-seen"),
    pytest.param(lambda: (CFG, _cp(v=_DROP), {}, {}), ValueError, "no 'v'", id="no-v"),
    pytest.param(lambda: (CFG, _cp(id=_DROP), {}, {}), ValueError, "no 'id'", id="no-id"),
    pytest.param(lambda: (CFG, _cp(channel_values=_DROP), {}, {}), ValueError,
                 "'channel_values'", id="no-values"),
    pytest.param(lambda: (CFG, _cp(channel_versions=_DROP), {}, {}), ValueError,
                 "'channel_versions'", id="no-versions"),
    pytest.param(lambda: (CFG, _cp(id=5), {}, {}), TypeError, r"checkpoint\['id'\] must be a str",
                 id="int-id"),
    pytest.param(lambda: (CFG, _cp(id=""), {}, {}), ValueError, "non-empty", id="empty-id"),
    pytest.param(lambda: (CFG, _cp(v="1"), {}, {}), TypeError, r"checkpoint\['v'\]", id="str-v"),
    pytest.param(lambda: (CFG, _cp(channel_values=[1]), {}, {}), TypeError,
                 r"checkpoint\['channel_values'\] must be a dict", id="list-values"),
    pytest.param(lambda: (CFG, "cp", {}, {}), TypeError, "checkpoint must be a dict", id="str-cp"),
    pytest.param(lambda: (CFG, _cp(), {}, ["a"]), TypeError, "new_versions must be a dict",
                 id="nv-list"),
    pytest.param(lambda: (CFG, _cp(), {}, {"a": None}), TypeError, r"new_versions\['a'\]",
                 id="nv-none"),
    pytest.param(lambda: ("cfg", _cp(), {}, {}), TypeError, "config must be a dict", id="cfg-str"),
    pytest.param(lambda: ({"configurable": "x"}, _cp(), {}, {}), TypeError,
                 r"config\['configurable'\] must be a dict", id="cfg-conf-str"),
    pytest.param(lambda: ({"configurable": {"thread_id": "v", "checkpoint_ns": 1}}, _cp(), {}, {}),
                 TypeError, "'checkpoint_ns'.*must be a str", id="ns-int"),
    pytest.param(lambda: ({"configurable": {}}, _cp(), {}, {}), ValueError, "thread_id",
                 id="no-thread"),
]  # fmt: skip


def _scripts_run(backend: Backend) -> int:
    c = backend.sync_client()
    try:
        stats = c.info("commandstats")
        if hasattr(c, "get_nodes"):  # a cluster: {node: stats}
            parts = [v for v in stats.values() if isinstance(v, dict)]
        else:
            parts = [stats]
        return sum(
            int(p.get(f"cmdstat_{n}", {}).get("calls", 0))
            for p in parts
            for n in ("evalsha", "eval", "evalsha_ro", "eval_ro")
        )
    finally:
        c.close()


@pytest.mark.parametrize(("args", "error", "match"), BAD_PUTS)
async def test_bad_put_is_refused_before_sending(
    real_backend: Backend, kind: str, args: Any, error: type[Exception], match: str
) -> None:
    async with opened(kind, real_backend.url) as s:
        before = _scripts_run(real_backend)
        with pytest.raises(error, match=match):
            await s.put(*args())
        assert _scripts_run(real_backend) == before  # nothing was sent
        assert await s.get(CFG) is None  # nothing was written
        # the saver still works
        done = await s.put(CFG, _cp(), {"step": 1}, {"a": "1"})
        got = await s.get(done)
        assert got is not None and got.checkpoint["channel_values"] == {"a": 1}


BAD_WRITES = [
    pytest.param("ab", "t", "", TypeError, "writes must be a list", id="str-writes"),
    pytest.param({"a": 1}, "t", "", TypeError, "writes must be a list", id="dict-writes"),
    pytest.param([("a", 1, 2)], "t", "", TypeError, r"writes\[0\] must be a \(channel, value\)",
                 id="triple"),
    pytest.param([(1, 1)], "t", "", TypeError, r"writes\[0\]'s channel must be a str",
                 id="int-channel"),
    pytest.param([("a", 1)], 7, "", TypeError, "task_id must be a str", id="int-task"),
    pytest.param([("a", 1)], "t", None, TypeError, "task_path must be a str", id="none-path"),
]  # fmt: skip


@pytest.mark.parametrize(("writes", "task_id", "path", "error", "match"), BAD_WRITES)
async def test_bad_put_writes_is_refused_before_sending(
    s: Facade,
    backend: Backend,
    writes: Any,
    task_id: Any,
    path: Any,
    error: type[Exception],
    match: str,
) -> None:
    done = await s.put(CFG, _cp(), {"step": 1}, {"a": "1"})
    with pytest.raises(error, match=match):
        await s.put_writes(done, writes, task_id, path)
    got = await s.get(done)
    assert got is not None and got.pending_writes == []
    await s.put_writes(done, [("a", 2)], "t", "")
    got = await s.get(done)
    assert got is not None and [w[1:] for w in got.pending_writes] == [("a", 2)]


# -- values larger than the server accepts ----------------------------------------------------


@pytest.fixture(scope="module")
def small_server() -> Any:
    """A Valkey that takes values of at most 1 MB (its proto-max-bulk-len: the smallest
    allowed), so an oversized value costs 2 MB here rather than 600."""
    from langgraph.checkpoint.redis.embedded import EmbeddedServer

    srv = EmbeddedServer(extra_args=["--proto-max-bulk-len", "1mb"]).start()
    yield srv
    srv.stop()


async def test_oversized_values_are_refused_up_front(small_server: Any, kind: str) -> None:
    big = "x" * (2 << 20)
    probe = _Probe(small_server.url)
    async with opened(kind, small_server.url) as s:
        assert s.saver._ops.max_bulk == 1 << 20  # read by setup()
        cfg: Any = {"configurable": {"thread_id": f"big-{kind}", "checkpoint_ns": ""}}
        before = probe.scripts()
        with pytest.raises(ValueError, match=r"channel 'a'.*1,048,576 bytes per value"):
            await s.put(cfg, _cp(channel_values={"a": big}), {}, {"a": "1"})
        with pytest.raises(ValueError, match="checkpoint with its metadata"):
            await s.put(cfg, _cp(), {"note": big}, {"a": "1"})
        done = await s.put(cfg, _cp(), {"step": 1}, {"a": "1"})
        mid = probe.scripts()
        assert mid == before + 1  # only the good put reached the server
        with pytest.raises(ValueError, match="put_writes: the write to channel 'w'"):
            await s.put_writes(done, [("w", big)], "t", "")
        assert probe.scripts() == mid  # refused, not sent (nor retried)
        got = await s.get(done)
        assert got is not None and got.pending_writes == []
        assert got.checkpoint["channel_values"] == {"a": 1}
    probe.close()


class _Probe:
    def __init__(self, url: str) -> None:
        import redis

        self.c = redis.Redis.from_url(url)

    def scripts(self) -> int:
        stats = self.c.info("commandstats")
        return sum(int(stats.get(f"cmdstat_{n}", {}).get("calls", 0)) for n in ("evalsha", "eval"))

    def close(self) -> None:
        self.c.close()


def test_setup_without_info_or_config(small_server: Any) -> None:
    """A least-privilege user denied INFO and CONFIG still sets up (Redis's defaults are
    assumed) and works."""
    import redis
    from langgraph.checkpoint.redis import RedisSaver

    admin = redis.Redis.from_url(small_server.url)
    try:
        admin.execute_command(
            "ACL", "SETUSER", "app", "on", ">app-pw", "~*", "+@all", "-info", "-config"
        )
        host_port = small_server.url.split("//", 1)[1]
        with RedisSaver(f"redis://app:app-pw@{host_port}") as saver:
            saver.setup()
            assert saver._ops.max_bulk == 512 << 20  # the default: CONFIG was refused
            cfg: Any = {"configurable": {"thread_id": "acl", "checkpoint_ns": ""}}
            done = saver.put(cfg, _cp(), {"step": 1}, {"a": "1"})
            assert saver.get_tuple(done) is not None
    finally:
        admin.execute_command("ACL", "DELUSER", "app")
        admin.close()


# -- retries: only what can succeed on retry --------------------------------------------------


async def test_a_refused_command_is_not_retried(real_backend: Backend, kind: str) -> None:
    """A server that refuses the write (OOM under noeviction) gets it once: the error reaches
    the caller at once, nothing is re-sent (a refusal cannot succeed on retry)."""
    import redis as rp

    admin = rp.Redis.from_url(real_backend.url)

    def attempts() -> int:  # a failed call counts in calls (and failed_calls), a rejected one not
        stats = admin.info("commandstats").get("cmdstat_evalsha", {})
        return sum(int(stats.get(k, 0)) for k in ("calls", "rejected_calls"))

    async with opened(kind, real_backend.url) as s:
        try:
            admin.config_set("maxmemory-policy", "noeviction")
            admin.config_set("maxmemory", 1)
            before = attempts()
            with pytest.raises(rp.exceptions.ResponseError, match=r"OOM|maxmemory"):
                await s.put(CFG, _cp(), {"step": 1}, {"a": "1"})
            assert attempts() == before + 1
        finally:
            admin.config_set("maxmemory", 0)
            admin.close()
        done = await s.put(CFG, _cp(), {"step": 1}, {"a": "1"})
        assert await s.get(done) is not None
