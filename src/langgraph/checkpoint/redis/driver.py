"""How a round trip reaches the servers: one server, a Redis Cluster, or a Sentinel-run master.

The savers and stores speak in `RoundTrip`s and `FanOut`s (ops.py); this module is the one
place that knows what kind of deployment is behind the client:

- Which client. A URL names one server; `from_conn_string` asks it (INFO) whether it is a
  cluster node and then builds a cluster client with the same options (TLS, ACL user,
  password); `cluster_mode=` (langgraph-checkpoint-redis's keyword) decides without asking.
  `redis+sentinel://host:port,host:port/service` asks the sentinels for the master. A client
  the user built (`redis.Redis`, `redis.cluster.RedisCluster`, a Sentinel's `master_for`, and
  their asyncio twins) is used as it is, unless it decodes responses (stored values are bytes):
  then a twin with raw replies is opened with the same options.
- Where a FanOut goes: once to a single server (its one bucket, ""), or once to each master of
  a cluster, with the bucket suffixes of the slots that master serves, taken from the client's
  own slot map; all masters are asked in parallel (asyncio) and the replies merged by ops.py.
- What is retried. On a cluster and behind Sentinel, a command refused because the topology is
  moving (TRYAGAIN while a slot migrates, MOVED/ASK not followed, CLUSTERDOWN, a master killed
  and not yet replaced, a replica that is now read-only) is sent again, with backoff, for up to
  RETRY_WINDOW seconds, after the client has re-read the topology. That is safe because every
  per-thread script is one atomic call that a fence key stops before it starts while its slot
  moves (keys.py), and every script is idempotent (a re-put of the same id, HSET, deletes). A
  refused command (a wrong argument, a script error) is never retried.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
import redis.asyncio as aredis
import redis.asyncio.cluster as acluster
import redis.asyncio.sentinel as asentinel
import redis.cluster as scluster
import redis.sentinel as ssentinel
from redis import exceptions as rx

from .keys import group_suffixes_of
from .nodes import AsyncNodes, Link, sync_route
from .protocol import (
    Cmd,
    Eval,
    FanOut,
    RoundTrip,
    needs_resend,
    one_async,
    one_sync,
    resend,
    round_trip_sync,
    wire,
)

RETRY_WINDOW = 30.0
"""Seconds a command refused by a moving topology is retried before the error is raised
(a failover with the default cluster-node-timeout of 15 s fits inside)."""

_BACKOFF: tuple[float, float] = (0.02, 1.0)

ONE, CLUSTER, SENTINEL = "one", "cluster", "sentinel"


# -- kinds of clients --------------------------------------------------------------------


def is_cluster(client: Any) -> bool:
    return isinstance(client, scluster.RedisCluster | acluster.RedisCluster)


def is_sentinel(client: Any) -> bool:
    pool = getattr(client, "connection_pool", None)
    return isinstance(pool, ssentinel.SentinelConnectionPool | asentinel.SentinelConnectionPool)


def kind_of(client: Any) -> str:
    if is_cluster(client):
        return CLUSTER
    return SENTINEL if is_sentinel(client) else ONE


def is_sentinel_url(url: str | None) -> bool:
    return bool(url) and urlsplit(str(url)).scheme in ("redis+sentinel", "rediss+sentinel")


def decodes(client: Any) -> bool:
    """True when the client returns str instead of bytes."""
    if is_cluster(client):
        kw = client.get_connection_kwargs()
    else:
        kw = getattr(client.connection_pool, "connection_kwargs", {})
    return bool(kw.get("decode_responses"))


def cluster_kwargs(client: Any) -> dict[str, Any]:
    """The options of a cluster client, to open a twin of the same class with raw replies.
    The asyncio RedisCluster names every option it takes (and its connection kwargs hold
    more, e.g. response_callbacks), so only those it names are passed on."""
    kw = dict(client.get_connection_kwargs())
    tls = kw.get("connection_class")
    if isinstance(tls, type) and issubclass(
        tls, redis.connection.SSLConnection | aredis.connection.SSLConnection
    ):
        kw["ssl"] = True  # the class is how the client says TLS; the twin is told by name
    for k in ("host", "port", "connection_pool", "connection_class", "retry", "parser_class"):
        kw.pop(k, None)
    params = inspect.signature(type(client).__init__).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kw = {k: v for k, v in kw.items() if k in params}
    kw["decode_responses"] = False
    return kw


def twin_of_plain(client: Any, cls: type) -> Any:
    """A cluster client (of class `cls`) with the options of a plain client that turned out
    to point at a cluster node (the seed's `Redis.from_url(...)` given to the saver): same
    node to start from, TLS, ACL user and password; raw replies."""
    pool = client.connection_pool
    kw = dict(pool.connection_kwargs)
    host, port = kw.pop("host", "localhost"), int(kw.pop("port", 6379))
    if issubclass(pool.connection_class, redis.connection.SSLConnection) or issubclass(
        pool.connection_class, aredis.connection.SSLConnection
    ):
        kw["ssl"] = True
    for k in ("db", "connection_class", "retry", "parser_class", "single_connection_client"):
        kw.pop(k, None)
    params = inspect.signature(cls).parameters  # the constructor's
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kw = {k: v for k, v in kw.items() if k in params}
    kw["decode_responses"] = False
    return cls(host=host, port=port, **kw)


def raw_twin(client: Any, cls: type) -> Any:
    """A cluster client of class `cls` on the same cluster as the decoding `client`, with its
    options (TLS, ACL user, password) and raw replies."""
    host, port = startup(client)
    return cls(host=host, port=port, **cluster_kwargs(client))


def cluster_info_sync(client: Any) -> Any:
    """INFO cluster, or {} where the server refuses INFO (some managed services)."""
    try:
        return client.info("cluster")
    except rx.ResponseError:
        return {}


async def cluster_info_async(client: Any) -> Any:
    try:
        return await client.info("cluster")
    except rx.ResponseError:
        return {}


def startup(client: Any) -> tuple[str, int]:
    """A node to start a twin from: the default node of an initialized client, else one of
    the startup nodes it was built with (an asyncio client reads the topology lazily)."""
    node = client.get_default_node()
    if node is None:
        nodes = client.get_nodes() or list(client.nodes_manager.startup_nodes.values())
        node = nodes[0]
    return node.host, int(node.port)


class SentinelURL:
    """`redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]`; `ssl=true` or
    the `rediss+sentinel` scheme for TLS to the servers. The password is the master's (and the
    replicas'); `sentinel_password=` in the query is the sentinels' own, when they need one."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        creds, _, hosts = parts.netloc.rpartition("@")
        user, _, password = creds.partition(":")
        self.hosts: list[tuple[str, int]] = []
        for h in hosts.split(","):
            host, _, port = h.rpartition(":")
            if not host:
                host, port = port, "26379"
            self.hosts.append((host.strip("[]"), int(port)))
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ValueError(
                "a sentinel URL names the service: redis+sentinel://host:26379/mymaster"
            )
        self.service = unquote(path[0])
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.kwargs: dict[str, Any] = {}
        if user:
            self.kwargs["username"] = unquote(user)
        if password:
            self.kwargs["password"] = unquote(password)
        if len(path) > 1:
            self.kwargs["db"] = int(path[1])
        if parts.scheme.startswith("rediss") or query.get("ssl") in ("1", "true", "True"):
            self.kwargs["ssl"] = True
        self.sentinel_kwargs: dict[str, Any] = {}
        if "sentinel_password" in query:
            self.sentinel_kwargs["password"] = query["sentinel_password"]
        if "sentinel_username" in query:
            self.sentinel_kwargs["username"] = query["sentinel_username"]


def open_sentinel_sync(url: str, args: dict[str, Any]) -> Any:
    s = SentinelURL(url)
    sentinel = ssentinel.Sentinel(
        s.hosts, sentinel_kwargs=s.sentinel_kwargs or None, **{**args, **s.kwargs}
    )
    return sentinel.master_for(s.service)


def open_sentinel_async(url: str, args: dict[str, Any]) -> Any:
    s = SentinelURL(url)
    sentinel = asentinel.Sentinel(
        s.hosts, sentinel_kwargs=s.sentinel_kwargs or None, **{**args, **s.kwargs}
    )
    return sentinel.master_for(s.service)


def cluster_enabled(info: Any) -> bool:
    return isinstance(info, dict) and str(info.get("cluster_enabled", "0")) == "1"


def takes_flags(info: Any) -> bool:
    """Whether a server (by its INFO server) takes `#!lua flags=...` lines: Redis 7.0 and
    newer, and Valkey (which reports redis_version 7.2.4). Unknown: taken for a new server."""
    version = str(info.get("redis_version", "")) if isinstance(info, dict) else ""
    try:
        return int(version.split(".")[0]) >= 7
    except ValueError:
        return True


def probe_sync(url: str, args: dict[str, Any]) -> bool:
    """Whether the server at `url` is a cluster node (one INFO; a server that refuses INFO, as
    some managed services do, is taken for a single server)."""
    plain = redis.Redis.from_url(url, **args)
    try:
        return cluster_enabled(plain.info("cluster"))
    except rx.ResponseError:
        return False
    finally:
        plain.close()


async def probe_async(url: str, args: dict[str, Any]) -> bool:
    plain = aredis.Redis.from_url(url, **args)
    try:
        return cluster_enabled(await plain.info("cluster"))
    except rx.ResponseError:
        return False
    finally:
        await plain.aclose()


_CLUSTER_ONLY_DROP = ("max_connections", "retry", "connection_class", "single_connection_client")


def cluster_args(args: dict[str, Any]) -> dict[str, Any]:
    """Connection arguments as RedisCluster takes them."""
    out = {k: v for k, v in args.items() if k not in _CLUSTER_ONLY_DROP}
    if "max_connections" in args:
        out["max_connections"] = args["max_connections"]
    return out


# -- retries -----------------------------------------------------------------------------

_MOVING = (
    "TRYAGAIN",
    "CLUSTERDOWN",
    "MOVED",
    "ASK",
    "LOADING",
    "MASTERDOWN",
    "READONLY",
    "UNBLOCKED",
    "non local key",
    "NOREPLICAS",
)


def retryable(e: BaseException) -> bool:
    """A refusal that can succeed once the topology has settled."""
    if isinstance(
        e,
        rx.TryAgainError
        | rx.ClusterDownError
        | rx.MovedError
        | rx.AskError
        | rx.ReadOnlyError
        | rx.BusyLoadingError
        | rx.MasterDownError
        | rx.ConnectionError
        | rx.TimeoutError
        | rx.SlotNotCoveredError,
    ):
        return not isinstance(e, rx.AuthenticationError | rx.AuthorizationError)
    if isinstance(e, rx.ResponseError):
        text = str(e)
        return any(text.startswith(m) or m in text for m in _MOVING)
    if isinstance(e, rx.ClusterError):
        # redis-py's own redirect budget (16 MOVED/ASK/TRYAGAIN in a row) ran out: the slot
        # is still moving, which is what our window waits out
        return "TTL exhausted" in str(e)
    if isinstance(e, rx.RedisClusterException):
        return "topology" in str(e) or "initialize" in str(e).lower()
    return False


class Retrying:
    """The bookkeeping of a batch of commands a moving topology may refuse (SyncDriver's and
    AsyncDriver's `_retrying`, which differ only in how they wait): the commands still to
    send, each one's latest reply, and the deadline (RETRY_WINDOW)."""

    __slots__ = ("attempt", "cmds", "deadline", "replies", "todo")

    def __init__(self, cmds: list[Eval | Cmd]) -> None:
        self.cmds = cmds
        self.deadline = time.monotonic() + RETRY_WINDOW
        self.replies: list[Any] = [None] * len(cmds)
        self.todo = list(range(len(cmds)))
        self.attempt = 0

    def pending(self) -> list[Eval | Cmd]:
        """The commands to send now."""
        return [self.cmds[i] for i in self.todo]

    def refused(self, e: rx.RedisError) -> list[Any]:
        """A send that failed as a whole: every pending command's reply, when the error may
        pass (raised otherwise, or once the deadline is past)."""
        if not retryable(e) or time.monotonic() > self.deadline:
            raise e
        return [e] * len(self.todo)

    def settled(self, got: list[Any]) -> bool:
        """Records the replies; True when none is worth sending again (or time is up)."""
        again = []
        for i, r in zip(self.todo, got, strict=True):
            self.replies[i] = r
            if isinstance(r, Exception) and retryable(r):
                again.append(i)
        if not again or time.monotonic() > self.deadline:
            return True
        self.todo = again
        return False

    def pause(self) -> float:
        """How long to wait before the next attempt (growing, jittered)."""
        self.attempt += 1
        return _pause(self.attempt - 1)


def _pause(attempt: int) -> float:
    lo, hi = _BACKOFF
    return min(hi, lo * 2.0**attempt) * (0.5 + random.random() / 2)


# -- fan-out targets -------------------------------------------------------------------


class Masters:
    """Each master of a cluster client's slot map with the bucket suffixes of its slots,
    kept per slot map (one per driver).

    redis-py replaces its `slots_cache` dict when it re-reads the topology; a slot it moved in
    place (after a MOVED) that we still send to its old master makes the script fail ("non
    local key": retried after a refresh, which forgets what is kept), so a kept map is never
    silently wrong. Walking 16,384 slots costs ~5 ms, once per topology instead of per call."""

    def __init__(self) -> None:
        self._kept: tuple[Any, list[tuple[Any, list[str]]]] | None = None

    def of(self, client: Any) -> list[tuple[Any, list[str]]]:
        cache = client.nodes_manager.slots_cache
        if self._kept is not None and self._kept[0] is cache:
            return self._kept[1]
        slots: dict[str, tuple[Any, list[int]]] = {}
        for s, nodes in cache.items():
            if not nodes:
                continue
            node = nodes[0]
            slots.setdefault(node.name, (node, []))[1].append(s)
        out = [(node, group_suffixes_of(sorted(ss))) for node, ss in slots.values()]
        self._kept = (cache, out)
        return out

    def forget(self) -> None:
        self._kept = None


# -- sync --------------------------------------------------------------------------------


def pipeline_sync(client: Any, cmds: list[Eval | Cmd]) -> list[Any]:
    """The commands as one pipeline (a cluster client's splits it per node); errors come back
    as values; a script the server lost is sent again whole."""
    if len(cmds) == 1:
        try:
            return [one_sync(client, cmds[0])]
        except rx.RedisError as e:
            if not retryable(e):
                raise
            return [e]
    with client.pipeline(transaction=False) as pipe:
        for c in cmds:
            pipe.execute_command(*wire(c))
        replies = pipe.execute(raise_on_error=False)
    out = []
    for c, r in zip(cmds, replies, strict=True):
        if isinstance(r, rx.NoScriptError) and isinstance(c, Eval):
            try:
                r = one_sync(client, c)
            except rx.RedisError as e:
                r = e
        out.append(r)
    return out


def at_once_sync(targets: list[tuple[Any, list[Eval | Cmd]]]) -> list[list[Any]]:
    """Each client's commands written to it before any reply is read, so that the masters
    of a fan-out work at the same time (as redis-py's cluster pipeline does), where one
    pipeline after another would add their times up. Replies through each client's response
    callbacks; refusals come back as values; a script the server lost is sent again whole."""
    held: list[tuple[Any, Any]] = []
    out: list[list[Any]] = []
    try:
        for client, cmds in targets:
            conn = client.connection_pool.get_connection()
            held.append((client, conn))
            conn.send_packed_command(conn.pack_commands([wire(c) for c in cmds]))
        for (client, conn), (_, cmds) in zip(held, targets, strict=True):
            replies: list[Any] = []
            for c in cmds:
                try:
                    replies.append(client.parse_response(conn, wire(c)[0]))
                except rx.ResponseError as e:
                    replies.append(e)
            out.append(replies)
    except BaseException:
        for _, conn in held:  # replies may be left unread: never reuse these connections
            conn.disconnect()
        raise
    finally:
        for client, conn in held:
            client.connection_pool.release(conn)
    for (client, _), (_, cmds), replies in zip(held, targets, out, strict=True):
        for i, (c, r) in enumerate(zip(cmds, replies, strict=True)):
            if isinstance(r, rx.NoScriptError) and isinstance(c, Eval):
                try:
                    replies[i] = one_sync(client, c)
                except rx.RedisError as e:
                    replies[i] = e
    return out


def _check(cmds: list[Eval | Cmd], replies: list[Any]) -> None:
    for c, r in zip(cmds, replies, strict=True):
        needs_resend(c, r)  # raises the first error


# -- wait_replicas ------------------------------------------------------------------------

WRITING = frozenset(
    {
        "put_checkpoint",
        "put_writes",
        "delete_checkpoints",
        "delete_thread",
        "prune_thread",
        "import_thread",
        "thread_expiry",
    }
)
"""The per-thread scripts that change stored data: with wait_replicas=N each such round trip
ends with WAIT on the same connection (reads, and the fan-outs, are not followed by WAIT)."""


class NotReplicatedError(RuntimeError):
    """A write was applied on the master, but fewer replicas than wait_replicas= acknowledged
    it within wait_timeout_ms=: it may be lost if that master fails now. Not retried (the
    write is there; a retry cannot make a replica faster)."""


def writes(rt: RoundTrip) -> bool:
    return any(isinstance(c, Eval) and c.script.name in WRITING for c in rt.cmds)


def waited(rt: RoundTrip, wait: tuple[int, int]) -> list[Any]:
    """The commands of a write round trip followed by WAIT numreplicas timeout."""
    return [*(wire(c) for c in rt.cmds), ("WAIT", *wait)]


def settle_wait(
    rt: RoundTrip,
    args: list[tuple[Any, ...]],
    replies: list[Any],
    wait: tuple[int, int],
    retry: bool,
) -> bool:
    """After a waited round trip: True when it must be sent again (a script the server
    lacked, now sent whole in `args`, or, when `retry`, a reply a moving topology refused);
    raises the first other error, and NotReplicatedError when too few replicas acknowledged."""
    again = False
    for i, (c, r) in enumerate(zip(rt.cmds, replies, strict=False)):
        if isinstance(r, rx.NoScriptError) and isinstance(c, Eval):
            args[i] = resend(c)
            again = True
        elif retry and isinstance(r, Exception) and retryable(r):
            again = True
    if again:
        return True
    _check(rt.cmds, replies[:-1])
    acked = replies[-1]
    if isinstance(acked, Exception):
        if retry and retryable(acked):
            return True
        raise acked
    if int(acked) < wait[0]:
        raise NotReplicatedError(
            f"wait_replicas={wait[0]}: {int(acked)} replica(s) acknowledged the write within "
            f"wait_timeout_ms={wait[1]}; it is applied on the master and may be lost if that "
            "master fails before its replicas catch up"
        )
    return False


def _raw_pipeline_sync(client: Any, args: list[tuple[Any, ...]]) -> list[Any]:
    with client.pipeline(transaction=False) as pipe:
        for a in args:
            pipe.execute_command(*a)
        return list(pipe.execute(raise_on_error=False))


class SyncDriver:
    """Round trips and fan-outs for a sync client of any kind."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.kind = kind_of(client)
        self._masters = Masters()
        self.wait: tuple[int, int] | None = None
        """(replicas, timeout ms) from wait_replicas=, or None."""
        self.cross = False
        """See AsyncDriver.cross."""

    def start(self) -> None:
        """On a cluster: whether its servers take script flags (INFO of one master)."""
        if self.kind != CLUSTER:
            return
        node = self._masters.of(self.client)[0][0]
        try:
            info = self.client.get_redis_connection(node).info("server")
        except rx.ResponseError:
            info = {}
        self.cross = takes_flags(info)

    def round_trip(self, rt: RoundTrip) -> list[Any]:
        if self.wait is not None and writes(rt):
            return self._waiting(rt, self.wait)
        if self.kind == ONE:
            return round_trip_sync(self.client, rt)
        if self.kind == CLUSTER and len(rt.cmds) == 1:
            # one script, straight to its master; the retry loop only when refused
            try:
                return [one_sync(sync_route(self.client, rt.cmds[0]), rt.cmds[0])]
            except rx.RedisError as e:
                if not retryable(e):
                    raise
        send = self._on_masters if self.kind == CLUSTER else self._on_client
        replies = self._retrying(send, rt.cmds)
        _check(rt.cmds, replies)
        return replies

    def _on_client(self, cmds: list[Eval | Cmd]) -> list[Any]:
        return pipeline_sync(self.client, cmds)

    def _on_masters(self, cmds: list[Eval | Cmd]) -> list[Any]:
        """Each command to its slot's master (nodes.py), one pipeline per master."""
        if len(cmds) == 1:
            return pipeline_sync(sync_route(self.client, cmds[0]), cmds)
        groups: dict[int, tuple[Any, list[int]]] = {}
        for i, c in enumerate(cmds):
            conn = sync_route(self.client, c)
            groups.setdefault(id(conn), (conn, []))[1].append(i)
        out: list[Any] = [None] * len(cmds)
        for conn, idx in groups.values():
            try:
                got = pipeline_sync(conn, [cmds[i] for i in idx])
            except rx.RedisError as e:
                if not retryable(e):
                    raise
                got = [e] * len(idx)
            for i, r in zip(idx, got, strict=True):
                out[i] = r
        return out

    def fan_out(self, fo: FanOut) -> list[list[Any]]:
        if self.kind != CLUSTER:
            return [self.round_trip(RoundTrip(fo.build([""])))]
        deadline = time.monotonic() + RETRY_WINDOW
        attempt = 0
        while True:
            try:
                targets = [
                    (self.client.get_redis_connection(node), fo.build(sfx))
                    for node, sfx in self._masters.of(self.client)
                ]
                out = at_once_sync(targets)
                for (_, cmds), replies in zip(targets, out, strict=True):
                    _check(cmds, replies)
                return out
            except rx.RedisError as e:
                if not retryable(e) or time.monotonic() > deadline:
                    raise
                time.sleep(_pause(attempt))
                attempt += 1
                self._refresh()

    def _waiting(self, rt: RoundTrip, wait: tuple[int, int]) -> list[Any]:
        """The round trip and WAIT on one connection of the node that holds the thread (WAIT
        counts the replicas that have the writes of its own connection); on a cluster or
        behind Sentinel a refused attempt is sent again whole (the scripts are idempotent)."""
        args = waited(rt, wait)
        deadline = time.monotonic() + RETRY_WINDOW
        attempt = 0
        while True:
            try:
                target = (
                    sync_route(self.client, rt.cmds[0]) if self.kind == CLUSTER else self.client
                )
                replies = _raw_pipeline_sync(target, args)
            except rx.RedisError as e:
                if self.kind == ONE or not retryable(e) or time.monotonic() > deadline:
                    raise
                replies = [e] * len(args)
            retry = self.kind != ONE and time.monotonic() < deadline
            if not settle_wait(rt, args, replies, wait, retry):
                return replies[:-1]
            if retry:
                time.sleep(_pause(attempt))
                attempt += 1
                self._refresh()

    def _refresh(self) -> None:
        if self.kind == CLUSTER:
            self._masters.forget()
            try:
                self.client.nodes_manager.initialize()
            except rx.RedisError:
                pass  # the next attempt tries again

    def _retrying(
        self, send: Callable[[list[Eval | Cmd]], list[Any]], cmds: list[Eval | Cmd]
    ) -> list[Any]:
        r = Retrying(cmds)
        while True:
            try:
                got = send(r.pending())
            except rx.RedisError as e:
                got = r.refused(e)
            if r.settled(got):
                return r.replies
            time.sleep(r.pause())
            self._refresh()


# -- async -------------------------------------------------------------------------------


async def pipeline_async(client: Any, cmds: list[Eval | Cmd]) -> list[Any]:
    """pipeline_sync's twin."""
    if len(cmds) == 1:
        try:
            return [await one_async(client, cmds[0])]
        except rx.RedisError as e:
            if not retryable(e):
                raise
            return [e]
    async with client.pipeline(transaction=False) as pipe:
        for c in cmds:
            pipe.execute_command(*wire(c))
        replies = await pipe.execute(raise_on_error=False)
    out = []
    for c, r in zip(cmds, replies, strict=True):
        if isinstance(r, rx.NoScriptError) and isinstance(c, Eval):
            try:
                r = await one_async(client, c)
            except rx.RedisError as e:
                r = e
        out.append(r)
    return out


class AsyncDriver:
    """SyncDriver's twin for asyncio clients; `send` is the saver's own round trip (which
    auto-pipelines), used as it is on one server. On a cluster every command goes to its
    slot's master through a client of ours (nodes.py), auto-pipelined per master."""

    def __init__(
        self,
        client: Any,
        send: Callable[[RoundTrip], Awaitable[list[Any]]],
    ) -> None:
        self.client = client
        self.kind = kind_of(client)
        self._send = send
        self._masters = Masters()
        self._nodes = AsyncNodes(client) if self.kind == CLUSTER else None
        self.wait: tuple[int, int] | None = None
        self.cross = False
        """The masters take `#!lua flags=allow-cross-slot-keys` (a cluster of Redis 7.0+ or
        Valkey; Redis 6.2 knows no flags and lets a script read any key of its node)."""

    async def start(self) -> None:
        """On a cluster: the slot map, and whether its servers take script flags (INFO of one
        master). No I/O elsewhere."""
        if self._nodes is None:
            return
        await self._ready()
        node = self._masters.of(self.client)[0][0]
        try:
            info = await self._nodes.link(node).client.info("server")
        except rx.ResponseError:  # a service that refuses INFO: a current server
            info = {}
        self.cross = takes_flags(info)

    async def aclose(self) -> None:
        if self._nodes is not None:
            await self._nodes.aclose()

    async def round_trip(self, rt: RoundTrip) -> list[Any]:
        if self.wait is not None and writes(rt):
            return await self._waiting(rt, self.wait)
        if self.kind == ONE:
            return await self._send(rt)
        nodes = self._nodes
        if nodes is not None and len(rt.cmds) == 1 and nodes.cluster.nodes_manager.slots_cache:
            # a step's one script, straight to its master; the retry loop only when refused
            c = rt.cmds[0]
            try:
                link = nodes.route(c)
                return [await link.pipe.one(link.client, c)]
            except rx.RedisError as e:
                if not retryable(e):
                    raise
        replies = await self._retrying(rt.cmds)
        _check(rt.cmds, replies)
        return replies

    async def fan_out(self, fo: FanOut) -> list[list[Any]]:
        if self._nodes is None:
            return [await self.round_trip(RoundTrip(fo.build([""])))]
        nodes = self._nodes
        await self._ready()
        deadline = time.monotonic() + RETRY_WINDOW
        attempt = 0
        while True:
            built = [(nodes.link(n), fo.build(sfx)) for n, sfx in self._masters.of(self.client)]
            try:
                out = await asyncio.gather(*(_on_link(link, c) for link, c in built))
                for (_, cmds), replies in zip(built, out, strict=True):
                    _check(cmds, replies)
                return list(out)
            except rx.RedisError as e:
                if not retryable(e) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(_pause(attempt))
                attempt += 1
                await self._refresh()

    async def _waiting(self, rt: RoundTrip, wait: tuple[int, int]) -> list[Any]:
        """SyncDriver._waiting's twin: on a cluster the pipeline goes to the thread's master
        on one connection of ours."""
        args = waited(rt, wait)
        await self._ready()
        deadline = time.monotonic() + RETRY_WINDOW
        attempt = 0
        while True:
            try:
                nodes = self._nodes
                target = self.client if nodes is None else nodes.route(rt.cmds[0]).client
                async with target.pipeline(transaction=False) as pipe:
                    for a in args:
                        pipe.execute_command(*a)
                    replies = list(await pipe.execute(raise_on_error=False))
            except rx.RedisError as e:
                if self.kind == ONE or not retryable(e) or time.monotonic() > deadline:
                    raise
                replies = [e] * len(args)
            retry = self.kind != ONE and time.monotonic() < deadline
            if not settle_wait(rt, args, replies, wait, retry):
                return replies[:-1]
            if retry:
                await asyncio.sleep(_pause(attempt))
                attempt += 1
                await self._refresh()

    async def _ready(self) -> None:
        """An asyncio cluster client reads the topology at its first command; routing needs
        the slot map before that."""
        if self.kind == CLUSTER and not self.client.nodes_manager.slots_cache:
            await self.client.initialize()

    async def _refresh(self) -> None:
        """Re-read the slot map (concurrent callers share one CLUSTER SLOTS: redis-py's nodes
        manager lets one refresh through and the others find it done)."""
        if self.kind == CLUSTER:
            self._masters.forget()
            try:
                await self.client.nodes_manager.initialize()
            except rx.RedisError:
                pass

    async def _send_some(self, cmds: list[Eval | Cmd]) -> list[Any]:
        nodes = self._nodes
        if nodes is None:  # Sentinel
            return await self._send(RoundTrip(cmds))
        if not nodes.cluster.nodes_manager.slots_cache:
            await self._ready()
        if len(cmds) == 1:
            link = nodes.route(cmds[0])
            try:
                return [await link.pipe.one(link.client, cmds[0])]
            except rx.RedisError as e:
                if not retryable(e):
                    raise
                return [e]
        groups: dict[int, tuple[Link, list[int]]] = {}
        for i, c in enumerate(cmds):
            link = nodes.route(c)
            groups.setdefault(id(link), (link, []))[1].append(i)
        out: list[Any] = [None] * len(cmds)

        async def each(link: Link, idx: list[int]) -> None:
            got = await _on_link(link, [cmds[i] for i in idx])
            for i, r in zip(idx, got, strict=True):
                out[i] = r

        await asyncio.gather(*(each(link, idx) for link, idx in groups.values()))
        return out

    async def _retrying(self, cmds: list[Eval | Cmd]) -> list[Any]:
        r = Retrying(cmds)
        while True:
            try:
                got = await self._send_some(r.pending())
            except rx.RedisError as e:
                got = r.refused(e)
            if r.settled(got):
                return r.replies
            await asyncio.sleep(r.pause())
            await self._refresh()


async def _on_link(link: Link, cmds: list[Eval | Cmd]) -> list[Any]:
    """Commands to one master, errors as values: one through its auto-pipeline, several as
    one pipeline."""
    if len(cmds) == 1:
        try:
            return [await link.pipe.one(link.client, cmds[0])]
        except rx.RedisError as e:
            return [e]
    try:
        return await pipeline_async(link.client, cmds)
    except rx.RedisError as e:
        return [e] * len(cmds)
