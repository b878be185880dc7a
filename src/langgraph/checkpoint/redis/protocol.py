"""The protocol layer shared by the savers and the stores: what an operation sends, how it is
sent, and the loops that drive operations.

The rules (ops.py for the savers, langgraph/store/redis/ops.py for the stores) are generators
free of I/O: each yields a `RoundTrip` (commands sent together, one network round trip) or a
`FanOut` (one round trip to every server holding a share of the cross-thread indexes),
receives the replies, and returns its result; a listing also yields `Emit` items as it goes.
Everything that touches a socket is here or in driver.py (which server a command goes to), so
a sync and an async class differ only in how they wait, and cannot drift apart (the
psycopg 3 design). This module holds:

- the round-trip types (`Eval`, `Cmd`, `RoundTrip`, `FanOut`, `Emit`, `Op`, `ListOp`);
- how a command goes on the wire, and the NOSCRIPT re-send: a script is sent by SHA, and sent
  whole when the server has lost it (a restart, SCRIPT FLUSH, a failover to a new master);
- one server's round trip, sync and async (`round_trip_sync`, `round_trip_async`);
- the drive loops (`drive`, `drive_list`, `adrive`, `adrive_list`) and the bridge that runs an
  async class's coroutine from another thread (`on_loop`);
- the client factory: a URL's client (`open_sync`, `open_async`), and the cluster client to
  use instead when what the user named turns out to be a cluster node (`cluster_twin_sync`,
  `cluster_twin_async`), and naming this library on a connection (`client_info`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar, cast

import redis
import redis.asyncio as aredis
import redis.asyncio.cluster as acluster
import redis.cluster as scluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import NoScriptError

from . import scripts
from .connection import speed_up, speed_up_cluster

T = TypeVar("T")

# -- what an operation sends ------------------------------------------------------------------


class Eval(NamedTuple):
    """A script call: the script (by name and SHA), its KEYS and its ARGV."""

    script: scripts.Script
    keys: list[str]
    args: list[Any]


class Cmd(NamedTuple):
    """Any other command, as its words."""

    args: tuple[Any, ...]


@dataclass
class RoundTrip:
    """Commands sent together to one server (on a cluster: to their slots' masters), one
    network round trip; `transaction` wraps them in MULTI/EXEC."""

    cmds: list[Eval | Cmd]
    transaction: bool = False

    def __post_init__(self) -> None:
        # The file name carries the key count (put_checkpoint-8.lua): a caller passing another
        # count is a bug here, caught before the server would misread KEYS and ARGV.
        for c in self.cmds:
            if isinstance(c, Eval) and len(c.keys) != c.script.numkeys:
                raise AssertionError(
                    f"{c.script.name} takes {c.script.numkeys} keys, got {len(c.keys)}"
                )


class Emit(NamedTuple):
    """An item a listing hands to its caller before its next round trip."""

    value: Any


@dataclass
class FanOut:
    """One round trip to every server holding a share of the cross-thread indexes, sent in
    parallel. `build` gets one server's bucket suffixes ([""] on one server) and returns the
    commands for that server; the reply is one list of replies per server, in no particular
    order. The operations keep no state per server, so the driver may re-send a FanOut to a
    new topology (after a failover or a slot migration) and the result is still exact."""

    build: Callable[[list[str]], list[Eval | Cmd]]


Op = Generator["RoundTrip | FanOut", list[Any], T]
"""An operation: yields round trips, receives their replies, returns its result."""

ListOp = Generator["RoundTrip | FanOut | Emit", Any, None]
"""A listing: yields round trips (and receives their replies: a list, or one list per server
for a FanOut) and items (and receives None)."""

Send = Callable[["RoundTrip | FanOut"], list[Any]]
ASend = Callable[["RoundTrip | FanOut"], Awaitable[list[Any]]]


def text(value: Any) -> str:
    """A reply's bytes (or anything else) as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


# -- on the wire, and the NOSCRIPT re-send ------------------------------------------------------


def wire(c: Eval | Cmd) -> tuple[Any, ...]:
    """The command as sent: scripts by SHA."""
    if isinstance(c, Eval):
        return ("EVALSHA", c.script.sha, c.script.numkeys, *c.keys, *c.args)
    return c.args


def sent(c: Eval | Cmd, rt: RoundTrip) -> tuple[Any, ...]:
    """The command as put in a pipeline. Inside a transaction a script goes whole (EVAL): a
    NOSCRIPT there could only be re-sent after EXEC, out of order with the commands around it."""
    if rt.transaction and isinstance(c, Eval):
        return resend(c)
    return wire(c)


def resend(c: Eval) -> tuple[Any, ...]:
    """A script the server lacks (NOSCRIPT): sent whole, which also caches it again."""
    return ("EVAL", c.script.source, c.script.numkeys, *c.keys, *c.args)


TOLERATED = ("INFO", "CONFIG")
"""Commands whose refusal setup() lets through: managed services and least-privilege ACL users
may be denied INFO and CONFIG; setup then assumes a current server and Redis's defaults."""


def needs_resend(c: Eval | Cmd, reply: Any) -> bool:
    """Checks one pipelined reply: True when it must be re-sent with `resend`; raises any
    other error (except INFO's and CONFIG's, which setup tolerates: TOLERATED)."""
    if isinstance(reply, NoScriptError) and isinstance(c, Eval):
        return True
    if isinstance(reply, Exception) and not (isinstance(c, Cmd) and c.args[0] in TOLERATED):
        raise reply
    return False


def one_sync(client: Any, c: Eval | Cmd, **kw: Any) -> Any:
    """One command; a script the server lost (NOSCRIPT) is sent again whole."""
    try:
        return client.execute_command(*wire(c), **kw)
    except NoScriptError:
        if not isinstance(c, Eval):
            raise
        return client.execute_command(*resend(c), **kw)


async def one_async(client: Any, c: Eval | Cmd, **kw: Any) -> Any:
    """one_sync for asyncio clients."""
    try:
        return await client.execute_command(*wire(c), **kw)
    except NoScriptError:
        if not isinstance(c, Eval):
            raise
        return await client.execute_command(*resend(c), **kw)


def round_trip_sync(client: Any, rt: RoundTrip) -> list[Any]:
    """One server's round trip: one command alone, several as one pipeline (a transaction
    when the round trip asks for one), each reply checked for NOSCRIPT; other errors raise."""
    if len(rt.cmds) == 1 and not rt.transaction:
        return [one_sync(client, rt.cmds[0])]
    with client.pipeline(transaction=rt.transaction) as pipe:
        for c in rt.cmds:
            pipe.execute_command(*sent(c, rt))
        replies = pipe.execute(raise_on_error=False)
    return [
        one_sync(client, c) if needs_resend(c, r) else r
        for c, r in zip(rt.cmds, replies, strict=True)
    ]


async def round_trip_async(client: Any, rt: RoundTrip) -> list[Any]:
    """round_trip_sync for asyncio clients."""
    if len(rt.cmds) == 1 and not rt.transaction:
        return [await one_async(client, rt.cmds[0])]
    async with client.pipeline(transaction=rt.transaction) as pipe:
        for c in rt.cmds:
            pipe.execute_command(*sent(c, rt))
        replies = await pipe.execute(raise_on_error=False)
    return [
        await one_async(client, c) if needs_resend(c, r) else r
        for c, r in zip(rt.cmds, replies, strict=True)
    ]


# -- the drive loops -----------------------------------------------------------------------------


def drive(op: Generator[Any, Any, T], send: Callable[[Any], Any]) -> T:
    """Runs an operation to its result: each message it yields goes through `send`, whose
    reply is what the operation receives next."""
    reply: Any = None
    try:
        while True:
            reply = send(op.send(reply))
    except StopIteration as stop:
        return cast(T, stop.value)


def drive_list(op: ListOp, send: Send) -> Iterator[Any]:
    """Runs a listing, yielding its items as they come (a later page is fetched only when
    the caller asks for more)."""
    reply: list[Any] | None = None
    while True:
        try:
            msg = op.send(reply)
        except StopIteration:
            return
        if isinstance(msg, Emit):
            reply = None
            yield msg.value
        else:
            reply = send(msg)


async def adrive(op: Generator[Any, Any, T], send: Callable[[Any], Awaitable[Any]]) -> T:
    """drive() with an awaitable `send`."""
    reply: Any = None
    try:
        while True:
            reply = await send(op.send(reply))
    except StopIteration as stop:
        return cast(T, stop.value)


async def adrive_list(op: ListOp, send: ASend) -> AsyncIterator[Any]:
    """drive_list() with an awaitable `send`."""
    reply: list[Any] | None = None
    while True:
        try:
            msg = op.send(reply)
        except StopIteration:
            return
        if isinstance(msg, Emit):
            reply = None
            yield msg.value
        else:
            reply = await send(msg)


def on_loop(
    loop: asyncio.AbstractEventLoop | None, coro: Coroutine[Any, Any, T], refusal: str
) -> T:
    """An async class's coroutine run from a sync method: on the class's event loop, from
    another thread, while that loop runs (langgraph's sync graph API calls a checkpointer from
    worker threads). On the loop's own thread it would deadlock, so it raises
    InvalidStateError(refusal) instead, and the coroutine never starts."""
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is None or running is loop or not loop.is_running():
        coro.close()
        raise asyncio.InvalidStateError(refusal)
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


class SingleFlight:
    """An async saver's or store's first connection: however many tasks start together, it
    is made once (64 concurrent first calls used to probe the server 64 times, opening a
    connection each). The lock is made on first use, inside the running loop."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None

    async def run(self, ready: Callable[[], T | None], make: Callable[[], Awaitable[T]]) -> T:
        """`ready()` when it is not None, else `make()`'s result, made by one task alone."""
        if (got := ready()) is not None:
            return got
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if (got := ready()) is not None:
                return got
            return await make()


# -- the client factory ---------------------------------------------------------------------------

DEFAULT_MAX_CONNECTIONS = 64
"""Connections of an asyncio pool we create. The pool blocks (queues) at this size rather than
raising MaxConnectionsError, so 500 concurrent graphs wait their turn instead of failing."""


def retry() -> Retry:
    """What redis-py gives a client that builds its own pool, which ours does not inherit.
    Retrying is safe: every script is idempotent (a re-put of the same id, HSETNX, deletes)."""
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), retries=3)


def open_sync(url: str, args: dict[str, Any], cluster: bool | None) -> Any:
    """The sync client a URL names (raw replies; `args` are the user's connection_args): a
    Sentinel-managed master (redis+sentinel://), a cluster client when `cluster` is True, else
    a plain client. No I/O yet."""
    from . import driver  # driver.py builds on this module's types

    if driver.is_sentinel_url(url):
        return driver.open_sentinel_sync(url, args)
    if cluster:
        return scluster.RedisCluster.from_url(url, **driver.cluster_args(args))
    return redis.Redis.from_url(url, **args)


def open_async(url: str, args: dict[str, Any], cluster: bool | None) -> Any:
    """open_sync for asyncio: a plain client gets a blocking pool of DEFAULT_MAX_CONNECTIONS
    that retries (retry()) and packs commands in C (connection.py); a cluster client packs in
    C too. No I/O yet."""
    from . import driver  # driver.py builds on this module's types

    if driver.is_sentinel_url(url):
        return driver.open_sentinel_async(url, args)
    if cluster:
        return speed_up_cluster(acluster.RedisCluster.from_url(url, **driver.cluster_args(args)))
    pool_args = {"max_connections": DEFAULT_MAX_CONNECTIONS, "retry": retry(), **args}
    pool = speed_up(aredis.BlockingConnectionPool.from_url(url, **pool_args))
    return aredis.Redis(connection_pool=pool)


def cluster_twin_sync(
    url: str | None, args: dict[str, Any], user_client: Any, client: Any
) -> Any | None:
    """The cluster client to use instead of `client` when what the user named is a node of a
    Redis Cluster (a URL: asked with INFO cluster on a connection of its own; a plain client:
    asked through it, and twinned with the same options), else None. Sentinel URLs name a
    master, never a cluster."""
    from . import driver  # driver.py builds on this module's types

    if user_client is None:
        if url is not None and not driver.is_sentinel_url(url) and driver.probe_sync(url, args):
            return scluster.RedisCluster.from_url(url, **driver.cluster_args(args))
        return None
    if driver.kind_of(client) == driver.ONE and driver.cluster_enabled(
        driver.cluster_info_sync(client)
    ):
        return driver.twin_of_plain(client, scluster.RedisCluster)
    return None


async def cluster_twin_async(
    url: str | None, args: dict[str, Any], user_client: Any, client: Any
) -> Any | None:
    """cluster_twin_sync for asyncio clients."""
    from . import driver  # driver.py builds on this module's types

    if user_client is None:
        if (
            url is not None
            and not driver.is_sentinel_url(url)
            and await driver.probe_async(url, args)
        ):
            return speed_up_cluster(
                acluster.RedisCluster.from_url(url, **driver.cluster_args(args))
            )
        return None
    if driver.kind_of(client) == driver.ONE and driver.cluster_enabled(
        await driver.cluster_info_async(client)
    ):
        return speed_up_cluster(driver.twin_of_plain(client, acluster.RedisCluster))
    return None


def client_info(client: Any) -> None:
    """CLIENT SETINFO LIB-NAME on one connection; servers that do not know it are left as
    they are (a name is a label for CLIENT LIST, never worth failing a call for)."""
    from redis.exceptions import ResponseError

    from .version import __full_lib_name__

    try:
        client.client_setinfo("LIB-NAME", __full_lib_name__)
    except (ResponseError, AttributeError):
        pass


async def aclient_info(client: Any) -> None:
    """client_info for an asyncio client."""
    from redis.exceptions import ResponseError

    from .version import __full_lib_name__

    try:
        await client.client_setinfo("LIB-NAME", __full_lib_name__)
    except (ResponseError, AttributeError):
        pass
