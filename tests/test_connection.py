"""Pools the async saver creates pack commands with hiredis (benchmarks: +11% aput); a user's
client is left as it is. Concurrent calls share round trips (auto-pipelining)."""

from __future__ import annotations

import asyncio

import redis
import redis.asyncio as aredis
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from langgraph.checkpoint.redis import AsyncRedisSaver, connection

from .conftest import Backend


def test_own_pools_pack_with_hiredis() -> None:
    plain = AsyncRedisSaver("redis://127.0.0.1:1").client.connection_pool
    assert plain.connection_class is connection.Connection
    tls = AsyncRedisSaver("rediss://127.0.0.1:1").client.connection_pool
    assert tls.connection_class is connection.SSLConnection


def test_user_client_is_left_alone() -> None:
    client = aredis.Redis.from_url("redis://127.0.0.1:1")
    saver = AsyncRedisSaver(redis_client=client)
    assert saver.client is client
    assert client.connection_pool.connection_class is aredis.Connection


def test_packing_matches_redis_py() -> None:
    conn = connection.Connection()
    args = ("EVALSHA", "abc", 2, "k{1}", b"\x00\xff", "ünï", 15)
    assert b"".join(conn.pack_command(*args)) == b"".join(aredis.Connection().pack_command(*args))
    # several words in the first argument go through redis-py's own packer
    assert conn.pack_command("CLIENT SETINFO", "LIB-NAME", "x")[0].startswith(b"*4\r\n")


async def test_concurrent_calls_share_round_trips(real_backend: Backend) -> None:
    """Auto-pipelining: calls issued in the same turn of the event loop go out together, so 200
    concurrent put_writes use a connection or two, not one each (the pool has 64)."""
    saver = AsyncRedisSaver(real_backend.url)
    stored = await saver.aput(generate_config("ap"), generate_checkpoint(), generate_metadata(), {})
    await asyncio.gather(*(saver.aput_writes(stored, [("c", i)], f"task-{i}") for i in range(200)))
    pool = saver.client.connection_pool
    assert len(pool._in_use_connections) == 0
    assert len(pool._available_connections) <= 2
    tup = await saver.aget_tuple(stored)
    assert tup is not None and sorted(v for _, _, v in tup.pending_writes) == list(range(200))
    await saver.aclose()


async def test_a_failing_call_in_a_batch_fails_alone(real_backend: Backend) -> None:
    """One command's error reaches its caller only; the batch's other calls succeed, and a
    script the server lost (SCRIPT FLUSH) is re-sent inside the batch."""
    saver = AsyncRedisSaver(real_backend.url)
    raw = redis.Redis.from_url(real_backend.url)
    stored = await saver.aput(
        generate_config("ap2"), generate_checkpoint(), generate_metadata(), {}
    )
    raw.script_flush()
    raw.set("checkpoint_ns:{bad}", "not a set")  # put on thread "bad" hits WRONGTYPE
    results = await asyncio.gather(
        *(saver.aput_writes(stored, [("c", i)], f"task-{i}") for i in range(5)),
        saver.aput(generate_config("bad"), generate_checkpoint(), generate_metadata(), {}),
        return_exceptions=True,
    )
    assert all(r is None for r in results[:5]), results
    assert isinstance(results[5], redis.ResponseError) and "WRONGTYPE" in str(results[5])
    tup = await saver.aget_tuple(stored)
    assert tup is not None and len(tup.pending_writes) == 5
    raw.close()
    await saver.aclose()
