"""Routing on a Redis Cluster: a command goes straight to the master of its key's slot.

redis-py's cluster clients route every command in Python (the keys of each command, their
slots, a retry wrapper per call) and its asyncio client packs commands in Python too. A
checkpoint step is one script whose keys share one slot, so routing it needs only the slot of
its first key, and the rest of the way can be exactly the one-server path:

- asyncio: each master gets a plain `redis.asyncio.Redis` of ours, with a blocking pool (it
  queues rather than raising when full), hiredis packing (connection.py) and its own
  auto-pipeline (autopipe.py), built from the cluster client's own options (TLS, ACL user,
  password, timeouts). 500 concurrent graphs then cost per operation what they cost on one
  server, spread over the masters.
- sync: each master's own `redis.Redis` inside the cluster client (`get_redis_connection`).

The cluster client stays the source of the topology: its slot map says which master serves a
slot, and driver.py re-reads it (CLUSTER SLOTS) when a reply says the topology moved (MOVED,
TRYAGAIN, a dead master, ...) before it retries.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis.asyncio as aredis
from redis import exceptions as rx

from .autopipe import AutoPipe, Flight
from .connection import FAST
from .keys import slot as _slot
from .protocol import Cmd, Eval

NODE_MAX_CONNECTIONS = 64
"""Connections of each master's pool (as the one-server saver's pool); calls past it queue."""


@lru_cache(maxsize=65536)
def _hashed(part: str) -> int:
    return _slot(part)


def key_slot(key: str | bytes) -> int:
    """The Redis Cluster slot of a key: CRC16 of its hash tag (the first non-empty `{...}`),
    else of the whole name."""
    k = key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key
    start = k.find("{")
    if start >= 0:
        end = k.find("}", start + 1)
        if end > start + 1:
            return _hashed(k[start + 1 : end])
    return _slot(k)


def first_key(c: Eval | Cmd) -> str:
    """The key a round trip's command is routed by: a script's first KEYS entry (every key of
    a per-thread or per-namespace script shares its slot), or a plain command's first
    argument (HSETNX, HMGET, SMEMBERS: the commands ops.py sends outside scripts)."""
    if isinstance(c, Eval):
        if not c.keys:
            raise ValueError(f"{c.script.name} takes no KEYS: it is a fan-out, not routed")
        return c.keys[0]
    return str(c.args[1])


def master_of(cluster: Any, slot: int) -> Any:
    """The master serving `slot` in the cluster client's slot map."""
    nodes = cluster.nodes_manager.slots_cache.get(slot)
    if not nodes:  # what a server says of a slot nobody serves: retried after a refresh
        raise rx.ClusterDownError(f"CLUSTERDOWN slot {slot} is not served in the known topology")
    return nodes[0]


# -- asyncio -----------------------------------------------------------------------------


def _accepted(cls: type) -> set[str]:
    """The keyword arguments a connection class takes, along its bases' `__init__`s."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names |= set(inspect.signature(init).parameters)
    return names - {"self", "args", "kwargs", "host", "port"} - _THE_CLUSTERS


_THE_CLUSTERS = {"oss_cluster_maint_notifications_handler", "himport_registry"}
"""Connection options that hold the cluster client's own objects: not shared."""


@dataclass
class Link:
    """One master: our client to it and its auto-pipeline."""

    client: aredis.Redis
    pipe: AutoPipe


class AsyncNodes:
    """A plain asyncio client of ours per master of an asyncio cluster client, made on first
    use from that client's options and closed with `aclose`."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self._links: dict[str, Link] = {}
        self._flight = Flight()  # shared by the masters' pipes (autopipe.py)

    def _options(self) -> tuple[type, dict[str, Any]]:
        kw: dict[str, Any] = dict(self.cluster.connection_kwargs)
        cls = FAST.get(kw.get("connection_class"), kw.get("connection_class")) or aredis.Connection
        takes = _accepted(cls)
        return cls, {k: v for k, v in kw.items() if k in takes}

    def link(self, node: Any) -> Link:
        found = self._links.get(node.name)
        if found is None:
            cls, kw = self._options()
            pool = aredis.BlockingConnectionPool(
                connection_class=cls,
                max_connections=NODE_MAX_CONNECTIONS,
                host=node.host,
                port=node.port,
                **kw,
            )
            found = self._links[node.name] = Link(
                aredis.Redis(connection_pool=pool), AutoPipe(self._flight)
            )
        return found

    def route(self, c: Eval | Cmd) -> Link:
        """The link to the master of the command's slot."""
        return self.link(master_of(self.cluster, key_slot(first_key(c))))

    async def aclose(self) -> None:
        links, self._links = list(self._links.values()), {}
        for link in links:
            await link.client.aclose()
            await link.client.connection_pool.disconnect()


# -- sync --------------------------------------------------------------------------------


def sync_route(cluster: Any, c: Eval | Cmd) -> Any:
    """The sync cluster client's own `redis.Redis` for the master of the command's slot."""
    return cluster.get_redis_connection(master_of(cluster, key_slot(first_key(c))))
