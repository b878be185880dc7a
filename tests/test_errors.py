"""Bad input gets a clear error and loses nothing.

Covered: a missing thread_id (ValueError naming it), odd characters in every id (they round-trip,
stay isolated and keep a thread in one hash slot), values the serializer refuses (error, nothing
written), an unreachable server and a wrong password (the password never appears in the
error), ACL users via the URL, a user's client (decoded responses, never closed by us), and the
async saver built outside an event loop. A script flushed by a restart: test_round_trips.py.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import redis
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from langgraph.checkpoint.redis import AsyncRedisSaver, RedisSaver
from langgraph.checkpoint.redis.embedded import EmbeddedServer, free_port
from langgraph.checkpoint.redis.keys import KeySpace, dec, enc, tag
from redis.crc import key_slot

from .conftest import CI, REDIS_SERVER, Backend

ODD = [":", "{", "}", "{a}", "a:b", "*", "?", "[x]", " ", "a b", "", "%", "%3A", "%253A",
       "ünïcødé", "🙂", "a\nb", "\x00", "\\", "checkpoint:{x}:y"]  # fmt: skip


def test_encoding_round_trips_and_never_collides() -> None:
    seen: dict[str, str] = {}
    for s in ODD:
        e = enc(s)
        assert dec(e) == s
        assert e not in seen, (s, seen.get(e))
        seen[e] = s
        assert not set(e) & set(":{}*?[] \n\x00\\")
        assert tag(s), "a hash tag is never empty"
        assert dec(tag(s)) == s


def test_all_keys_of_a_thread_share_one_slot() -> None:
    for s in ODD:
        th = KeySpace().thread(s)
        slots = {
            key_slot(k.encode())
            for k in [th.cp + ":x", th.write + ":x:k", th.blob, th.idx, th.wo, th.ns_set]
        }
        assert len(slots) == 1, s
        assert slots == {key_slot(tag(s).encode())}


@pytest.fixture(params=["async", "sync"])
def api(request: pytest.FixtureRequest, backend: Backend) -> Any:
    """Sync and async savers behind one awaitable interface."""
    if request.param == "async":
        return AsyncRedisSaver(**backend.saver_kwargs(True))
    return _SyncAsAsync(RedisSaver(**backend.saver_kwargs(False)))


class _SyncAsAsync:
    def __init__(self, s: RedisSaver) -> None:
        self.s = s

    async def asetup(self) -> None:
        self.s.setup()

    async def aput(self, *a: Any) -> Any:
        return self.s.put(*a)

    async def aput_writes(self, *a: Any) -> Any:
        return self.s.put_writes(*a)

    async def aget_tuple(self, c: Any) -> Any:
        return self.s.get_tuple(c)

    async def alist(self, c: Any, **kw: Any) -> Any:
        for t in self.s.list(c, **kw):
            yield t

    async def adelete_thread(self, t: str) -> None:
        self.s.delete_thread(t)


async def test_missing_thread_id_is_a_clear_value_error(api: Any) -> None:
    cp = generate_checkpoint()
    for call in (
        lambda: api.aput({"configurable": {}}, cp, generate_metadata(), {}),
        lambda: api.aput({}, cp, generate_metadata(), {}),
        lambda: api.aput_writes({"configurable": {"checkpoint_id": "x"}}, [("a", 1)], "t"),
        lambda: api.aget_tuple({"configurable": {"checkpoint_ns": ""}}),
    ):
        with pytest.raises(ValueError, match="thread_id"):
            await call()
    with pytest.raises(ValueError, match="thread_id"):
        [t async for t in api.alist({"configurable": {}})]


async def test_odd_ids_round_trip_and_stay_isolated(api: Any, raw: redis.Redis) -> None:
    for i, s in enumerate(ODD):
        ns = ODD[(i + 3) % len(ODD)]
        config = {"configurable": {"thread_id": s, "checkpoint_ns": ns}}
        cp = generate_checkpoint(checkpoint_id=f"{i:04d}{s}", channel_values={"v": s},
                                 channel_versions={"v": s or "0"})  # fmt: skip
        stored = await api.aput(config, cp, generate_metadata(thread=s), {"v": s or "0"})
        assert stored["configurable"] == {
            "thread_id": s,
            "checkpoint_ns": ns,
            "checkpoint_id": cp["id"],
        }
        await api.aput_writes(stored, [("w", s), ("__interrupt__", s)], s)
    for i, s in enumerate(ODD):
        ns = ODD[(i + 3) % len(ODD)]
        tup = await api.aget_tuple({"configurable": {"thread_id": s, "checkpoint_ns": ns}})
        assert tup.checkpoint["channel_values"] == {"v": s}
        assert tup.config["configurable"]["checkpoint_id"] == f"{i:04d}{s}"
        assert tup.metadata["thread"] == s.replace("\x00", "")  # stripped, as langgraph does
        assert sorted(tup.pending_writes) == sorted([(s, "w", s), (s, "__interrupt__", s)])
        listed = [t async for t in api.alist({"configurable": {"thread_id": s}})]
        assert [t.config["configurable"]["checkpoint_ns"] for t in listed] == [ns]
    # every key of a thread sits in its thread's slot
    for k in raw.scan_iter():
        if b"{" in k:
            t = k[k.index(b"{") + 1 : k.index(b"}")]
            assert key_slot(k) == key_slot(t)
    # deleting one odd thread leaves every other intact
    await api.adelete_thread(":")
    assert (
        await api.aget_tuple({"configurable": {"thread_id": ":", "checkpoint_ns": ODD[3]}}) is None
    )
    for i, s in enumerate(ODD):
        if s != ":":
            ns = ODD[(i + 3) % len(ODD)]
            assert await api.aget_tuple({"configurable": {"thread_id": s, "checkpoint_ns": ns}})


class Unserializable:
    def __reduce__(self) -> Any:
        raise TypeError("refuses to be pickled")


async def test_refused_value_raises_and_writes_nothing(api: Any, raw: redis.Redis) -> None:
    config = generate_config("refuse")
    cp1 = generate_checkpoint(channel_values={"a": 1}, channel_versions={"a": 1})
    stored = await api.aput(config, cp1, generate_metadata(), {"a": 1})
    before = sorted(raw.scan_iter())
    cp2 = generate_checkpoint(channel_values={"a": Unserializable()}, channel_versions={"a": 2})
    parent = {"configurable": {**config["configurable"], "checkpoint_id": cp1["id"]}}
    with pytest.raises(TypeError, match="not msgpack serializable: Unserializable"):
        await api.aput(parent, cp2, generate_metadata(), {"a": 2})
    with pytest.raises(TypeError, match="Unserializable"):
        await api.aput_writes(stored, [("ok", 1), ("bad", Unserializable())], "task")
    assert sorted(raw.scan_iter()) == before, "a refused value must not leave anything behind"
    tup = await api.aget_tuple(config)
    assert tup.checkpoint["id"] == cp1["id"] and tup.checkpoint["channel_values"] == {"a": 1}
    assert tup.pending_writes == []


def test_unreachable_server_hides_the_password() -> None:
    url = f"redis://alice:s3cr3t-pw@127.0.0.1:{free_port()}/0"
    with RedisSaver.from_conn_string(url) as saver:
        with pytest.raises(redis.ConnectionError) as e:
            saver.setup()
    assert "s3cr3t-pw" not in str(e.value) and "s3cr3t-pw" not in repr(e.value)

    async def run() -> None:
        async with AsyncRedisSaver.from_conn_string(url) as saver:
            with pytest.raises(redis.ConnectionError) as e:
                await saver.asetup()
        assert "s3cr3t-pw" not in str(e.value) and "s3cr3t-pw" not in repr(e.value)

    asyncio.run(run())


def test_acl_user_via_url_and_wrong_password() -> None:
    acl = ["--user", "default", "off", "--user", "alice", "on", ">right-pw", "~*", "&*", "+@all"]
    with EmbeddedServer(extra_args=acl) as srv:
        good = f"redis://alice:right-pw@127.0.0.1:{srv.port}"
        with RedisSaver.from_conn_string(good) as saver:
            saver.setup()
            saver.put(generate_config("acl"), generate_checkpoint(), generate_metadata(), {})
            assert saver.get_tuple(generate_config("acl")) is not None
        bad = f"redis://alice:wrong-pw-123@127.0.0.1:{srv.port}"
        with RedisSaver.from_conn_string(bad) as saver:
            with pytest.raises(redis.AuthenticationError) as e:
                saver.setup()
        assert "wrong-pw-123" not in str(e.value) and "wrong-pw-123" not in repr(e.value)


async def test_user_clients_are_never_closed_and_may_decode(backend: Backend) -> None:
    if backend.fake is not None:
        return  # fakeredis clients have no URL; the real lanes cover this
    for decode in (False, True):
        client = redis.Redis.from_url(backend.url, decode_responses=decode)
        with RedisSaver.from_conn_string(redis_client=client) as saver:
            saver.setup()
            cfg = generate_config(f"user-client-{decode}")
            cp = generate_checkpoint(channel_values={"b": b"\xff\x00"}, channel_versions={"b": 1})
            saver.put(cfg, cp, generate_metadata(), {"b": 1})
            assert saver.get_tuple(cfg).checkpoint["channel_values"] == {"b": b"\xff\x00"}
        assert client.ping()  # still open
        client.close()
        aclient = redis.asyncio.Redis.from_url(backend.url, decode_responses=decode)
        async with AsyncRedisSaver.from_conn_string(redis_client=aclient) as asaver:
            assert (await asaver.aget_tuple(cfg)).checkpoint["channel_values"] == {"b": b"\xff\x00"}
        assert await aclient.ping()
        await aclient.aclose()


def test_async_saver_built_outside_a_loop(backend: Backend) -> None:
    saver = AsyncRedisSaver(**backend.saver_kwargs(True))  # no running loop here

    async def use() -> Any:
        await saver.asetup()
        await saver.aput(generate_config("outside"), generate_checkpoint(), generate_metadata(), {})
        return await saver.aget_tuple(generate_config("outside"))

    assert asyncio.run(use()) is not None
    # the sync methods refuse to run without the saver's loop running in another thread
    with pytest.raises(asyncio.InvalidStateError, match="another thread"):
        saver.get_tuple(generate_config("outside"))


async def test_async_saver_sync_methods_from_another_thread(backend: Backend) -> None:
    saver = AsyncRedisSaver(**backend.saver_kwargs(True))
    await saver.asetup()
    await saver.aput(generate_config("x-thread"), generate_checkpoint(), generate_metadata(), {})
    got: list[Any] = []
    t = threading.Thread(target=lambda: got.append(saver.get_tuple(generate_config("x-thread"))))
    t.start()
    while t.is_alive():
        await asyncio.sleep(0.01)
    assert got and got[0] is not None
    with pytest.raises(asyncio.InvalidStateError):
        saver.get_tuple(generate_config("x-thread"))  # on the loop's own thread: refused
    await saver.aclose()


def test_constructor_needs_a_server() -> None:
    with pytest.raises(ValueError, match="redis_url"):
        RedisSaver()
    with pytest.raises(ValueError, match="redis_url"):
        AsyncRedisSaver()


async def test_setup_refuses_another_storage_format(api: Any, raw: redis.Redis) -> None:
    raw.hset("checkpoint_meta", "format", 999)
    with pytest.raises(RuntimeError, match="format 999"):
        await api.asetup()


def _tls_server(tmp: Path) -> EmbeddedServer:
    """Debian's redis-server (built with TLS) on a TLS-only port, with a fresh self-signed cert."""
    if not REDIS_SERVER:
        raise RuntimeError("redis-server is needed for the TLS test: .ci/run installs it")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem"),
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    tls = ["--port", "0", "--tls-port", str(port), "--tls-auth-clients", "no",
           "--tls-cert-file", str(tmp / "cert.pem"), "--tls-key-file", str(tmp / "key.pem"),
           "--tls-ca-cert-file", str(tmp / "cert.pem"), "--requirepass", "tls-secret"]  # fmt: skip
    return EmbeddedServer(binary=REDIS_SERVER, port=port, extra_args=tls)


def _test_tls_and_password_via_the_url(tmp_path: Path) -> None:
    with _tls_server(tmp_path) as srv:
        url = f"rediss://:tls-secret@127.0.0.1:{srv.port}?ssl_ca_certs={tmp_path / 'cert.pem'}"
        with RedisSaver.from_conn_string(url) as saver:
            saver.setup()
            saver.put(generate_config("tls"), generate_checkpoint(), generate_metadata(), {})
            assert saver.get_tuple(generate_config("tls")) is not None

        async def run() -> None:
            async with AsyncRedisSaver.from_conn_string(url) as asaver:
                await asaver.asetup()
                assert await asaver.aget_tuple(generate_config("tls")) is not None

        asyncio.run(run())


if REDIS_SERVER or CI:  # collected with the redis7 lane (always under CI), never skipped
    test_tls_and_password_via_the_url = pytest.mark.lane("redis7")(
        _test_tls_and_password_via_the_url
    )
