"""Connections for the pools the async saver creates: redis-py's, packing commands in C.

redis-py's asyncio connection packs every command in Python; its sync connection already uses
hiredis' packer. A put sends ~27 arguments, where the Python packer costs tens of microseconds
per call (benchmarks/floor.py). Only pools we create get these classes; a user's client is used
as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import redis.asyncio.connection as rc

_pack: Callable[[tuple[Any, ...]], bytes] | None
try:
    from hiredis import pack_command

    # hiredis' stub types the argument as a 1-tuple and leaves the return (bytes) untyped
    _pack = cast("Callable[[tuple[Any, ...]], bytes]", pack_command)
except ImportError:  # pragma: no cover - hiredis is a dependency (redis[hiredis])
    _pack = None

if TYPE_CHECKING:
    # the mixin is only ever put before one of redis-py's connection classes
    _Base = rc.AbstractConnection
else:
    _Base = object


class _HiredisPack(_Base):
    def pack_command(self, *args: Any) -> list[bytes]:
        # The first argument may carry several words ("CLIENT SETINFO"): leave that, and any
        # type hiredis refuses, to redis-py's own packer.
        first = args[0]
        if _pack is not None and not (isinstance(first, str) and " " in first):
            try:
                return [_pack(args)]
            except TypeError:
                pass
        return super().pack_command(*args)


class Connection(_HiredisPack, rc.Connection):
    pass


class SSLConnection(_HiredisPack, rc.SSLConnection):
    pass


class UnixDomainSocketConnection(_HiredisPack, rc.UnixDomainSocketConnection):
    pass


# looked up with whatever class a pool or a cluster's kwargs hold (or None)
FAST: dict[object, type[rc.AbstractConnection]] = {
    rc.Connection: Connection,
    rc.SSLConnection: SSLConnection,
    rc.UnixDomainSocketConnection: UnixDomainSocketConnection,
}


def speed_up(pool: Any) -> Any:
    """Swap the pool's connection class for its hiredis-packing twin, when there is one."""
    pool.connection_class = FAST.get(pool.connection_class, pool.connection_class)
    return pool


def speed_up_cluster(client: Any) -> Any:
    """The same for an asyncio RedisCluster we create: its nodes' connections are made from
    the client's connection kwargs (shared with its nodes manager), and its startup nodes
    already exist, so both are switched before the first command."""
    kw = client.connection_kwargs
    kw["connection_class"] = FAST.get(kw.get("connection_class"), kw.get("connection_class"))
    for node in client.nodes_manager.startup_nodes.values():
        node.connection_class = FAST.get(node.connection_class, node.connection_class)
    return client
