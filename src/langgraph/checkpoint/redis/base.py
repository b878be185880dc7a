"""What the async and sync savers share: construction arguments, the key space, and the whole
LangGraph API, defined once over four driver primitives.

RedisSaver (sync.py) and AsyncRedisSaver (aio.py) differ only in how they wait: each supplies
`_run`/`_run_list` (block until done) and `_arun`/`_arun_list` (await), natively for one and
through a bridge for the other (a worker thread; the saver's event loop). Every public method
below builds its operation from ops.py and hands it to one of them, so the two classes cannot
drift apart and each method's docstring is written once.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from .deltas import DeltaMode, DeltaWriter
from .keys import KeySpace
from .ops import Operations
from .protocol import ListOp, Op, aclient_info, client_info

T = TypeVar("T")


class BaseRedisSaver(BaseCheckpointSaver[str]):
    """Holds the constructor contract of langgraph-checkpoint-redis (its keyword names, so its
    users change nothing), the operations object, and the public API over four driver
    primitives; subclasses add only a client and how to wait."""

    _owns_client: bool
    client: Any
    """The redis-py client every command goes through (raw bytes replies): sync.py's and
    aio.py's own."""
    shallow: bool = False
    """ShallowRedisSaver: each namespace keeps its latest checkpoint only."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        redis_client: Any = None,
        connection_args: dict[str, Any] | None = None,
        serde: SerializerProtocol | None = None,
        checkpoint_prefix: str = "checkpoint",
        checkpoint_write_prefix: str = "checkpoint_write",
        delta_mode: DeltaMode = "exact",
        ttl: dict[str, Any] | None = None,
        cluster_mode: bool | None = None,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 1000,
    ) -> None:
        super().__init__(serde=serde)
        if cluster_mode is not None and not isinstance(cluster_mode, bool):
            raise TypeError(f"cluster_mode must be True, False or None, got {cluster_mode!r}")
        if isinstance(wait_replicas, bool) or not isinstance(wait_replicas, int):
            raise TypeError(f"wait_replicas must be an int >= 0, got {wait_replicas!r}")
        if wait_replicas < 0:
            raise ValueError(f"wait_replicas must be an int >= 0, got {wait_replicas!r}")
        if isinstance(wait_timeout_ms, bool) or not isinstance(wait_timeout_ms, int):
            raise TypeError(f"wait_timeout_ms must be an int > 0, got {wait_timeout_ms!r}")
        if wait_timeout_ms <= 0:
            raise ValueError(f"wait_timeout_ms must be an int > 0, got {wait_timeout_ms!r}")
        if redis_client is None and not redis_url:
            raise ValueError("pass redis_url= (e.g. 'redis://localhost:6379') or redis_client=")
        if redis_client is not None and redis_url:
            raise ValueError("pass either redis_url= or redis_client=, not both")
        ttl_ms, refresh = ttl_rule(ttl)
        self.ttl_config = dict(ttl) if ttl is not None else None
        self._ops = Operations(
            KeySpace(checkpoint_prefix, checkpoint_write_prefix),
            deltas=DeltaWriter(delta_mode),
            ttl_ms=ttl_ms,
            refresh_on_read=refresh,
            shallow=self.shallow,
        )
        self._user_client = redis_client
        self._owns_client = redis_client is None
        self._redis_url = redis_url
        self._connection_args = dict(connection_args or {})
        self._connection_args.pop("decode_responses", None)
        self.cluster_mode = cluster_mode
        """True: the URL names a cluster node; False: one server; None: ask the server."""
        self._wait = (wait_replicas, wait_timeout_ms) if wait_replicas else None
        """wait_replicas=N: every write waits (WAIT) until N replicas have it, or raises
        NotReplicatedError after wait_timeout_ms (docs/operations.md)."""

    def get_next_version(self, current: str | int | None, channel: None = None) -> str:
        """Pure: no I/O (langgraph calls it from inside the event loop)."""
        return Operations.next_version(current)

    # -- the four driver primitives (sync.py and aio.py) ------------------------------------

    def _run(self, op: Op[T]) -> T:
        """Drives an operation to its result, blocking."""
        raise NotImplementedError

    async def _arun(self, op: Op[T]) -> T:
        """Drives an operation to its result, awaiting."""
        raise NotImplementedError

    def _run_list(self, op: ListOp) -> Iterator[Any]:
        """Drives a listing, blocking; yields its items."""
        raise NotImplementedError

    def _arun_list(self, op: ListOp) -> AsyncIterator[Any]:
        """Drives a listing, awaiting; yields its items."""
        raise NotImplementedError

    # -- the LangGraph API, once for both classes -----------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint `config` names, with its pending writes, in one round trip.

        Args:
            config: `{"configurable": {"thread_id": ..., "checkpoint_ns": ...,
                "checkpoint_id": ...}}`; without a checkpoint_id, the namespace's latest.

        Returns:
            The checkpoint tuple (its parent config, metadata and pending writes in the order
            live execution applies them), or None when there is no such checkpoint.

        Raises:
            TypeError, ValueError: `config` is malformed or lacks a thread_id (before any
                byte is sent).
            redis.exceptions.RedisError: the server could not be reached or refused the call.
        """
        return self._run(self._ops.get_tuple(self.serde, config))

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """get_tuple(), awaitable."""
        return await self._arun(self._ops.get_tuple(self.serde, config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first, fetched a page per round trip as the caller iterates.

        Args:
            config: a thread (and namespace) to list; None lists every thread (through the
                cross-thread index).
            filter: metadata values every listed checkpoint must have (equality).
            before: only checkpoints older than this config's checkpoint_id.
            limit: at most this many.

        Returns:
            An iterator of checkpoint tuples.

        Raises:
            TypeError, ValueError: a malformed argument, on the first iteration.
            redis.exceptions.RedisError: as get_tuple().
        """
        return self._run_list(
            self._ops.list(self.serde, config, filter=filter, before=before, limit=limit)
        )

    def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """list(), as an async iterator."""
        return self._arun_list(
            self._ops.list(self.serde, config, filter=filter, before=before, limit=limit)
        )

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Stores a checkpoint and the channel values that changed, in one atomic script.

        Args:
            config: the thread and namespace; its checkpoint_id, if any, is the parent.
            checkpoint: the checkpoint (its `id` names it).
            metadata: its metadata; the config's extra configurable keys are merged in, as
                langgraph's savers do.
            new_versions: the channels whose values are stored with it.

        Returns:
            The config of the stored checkpoint.

        Raises:
            TypeError, ValueError: a malformed argument (before any byte is sent).
            redis.exceptions.RedisError: as get_tuple(); the write is all or nothing.
        """
        return self._run(self._ops.put(self.serde, config, checkpoint, metadata, new_versions))

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """put(), awaitable."""
        return await self._arun(
            self._ops.put(self.serde, config, checkpoint, metadata, new_versions)
        )

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Stores a task's intermediate writes against the checkpoint `config` names, in one
        atomic script; a retried task's writes replace nothing already stored (special
        channels such as __interrupt__ are overwritten, as InMemorySaver does).

        Args:
            config: names the checkpoint (checkpoint_id is required).
            writes: (channel, value) pairs.
            task_id: the task that wrote them.
            task_path: the task's path, for the order writes are applied in.

        Raises:
            TypeError, ValueError: a malformed argument (before any byte is sent).
            redis.exceptions.RedisError: as get_tuple().
        """
        self._run(self._ops.put_writes(self.serde, config, writes, task_id, task_path))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """put_writes(), awaitable."""
        await self._arun(self._ops.put_writes(self.serde, config, writes, task_id, task_path))

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """The writes each DeltaChannel needs replayed to rebuild its value at the checkpoint
        `config` names: the ancestors' values and writes back to the last full value, a page
        of ancestors per round trip.

        Args:
            config: names the checkpoint.
            channels: the delta channels asked for.

        Returns:
            A history per channel.

        Raises:
            TypeError, ValueError: a malformed argument (before any byte is sent).
            redis.exceptions.RedisError: as get_tuple().
        """
        return self._run(self._ops.delta_history(self.serde, config, channels))

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """get_delta_channel_history(), awaitable."""
        return await self._arun(self._ops.delta_history(self.serde, config, channels))

    def delete_thread(self, thread_id: str) -> None:
        """Deletes a thread's checkpoints, writes and index entries, in one atomic script.

        Raises:
            TypeError, ValueError: a malformed thread id (before any byte is sent).
            redis.exceptions.RedisError: as get_tuple().
        """
        self._run(self._ops.delete_thread(thread_id))

    async def adelete_thread(self, thread_id: str) -> None:
        """delete_thread(), awaitable."""
        await self._arun(self._ops.delete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Deletes every checkpoint (with its writes) that any of the runs wrote, whichever
        thread it is in: the run index names them, one script per thread.

        Raises:
            TypeError: `run_ids` is not a sequence of str (before any byte is sent).
            redis.exceptions.RedisError: as get_tuple().
        """
        self._run(self._ops.delete_for_runs(run_ids))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """delete_for_runs(), awaitable."""
        await self._arun(self._ops.delete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copies every checkpoint and write of one thread into another: an atomic read of
        the source and an atomic write of the target (two slots on a cluster), so an
        interrupted copy leaves the target as it was and can simply be called again.

        Raises:
            TypeError, ValueError: a malformed thread id (before any byte is sent).
            redis.exceptions.RedisError: as get_tuple().
        """
        self._run(self._ops.copy_thread(source_thread_id, target_thread_id))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """copy_thread(), awaitable."""
        await self._arun(self._ops.copy_thread(source_thread_id, target_thread_id))

    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        """Deletes old checkpoints of each thread, one atomic script per thread.

        Args:
            thread_ids: the threads.
            strategy: "keep_latest" (each namespace keeps its latest checkpoint) or
                "delete" (the whole thread goes); "keep_last", as langgraph-checkpoint-redis's
                callers pass it with keep_last=N, reads as keep_last's own.
            keep_last: N keeps each namespace's N latest checkpoints (0 deletes the thread);
                it overrides `strategy`.

        Raises:
            TypeError, ValueError: a malformed argument (before any byte is sent).
            redis.exceptions.RedisError: as get_tuple().
        """
        self._run(self._ops.prune(thread_ids, strategy, keep_last))

    async def aprune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        """prune(), awaitable."""
        await self._arun(self._ops.prune(thread_ids, strategy, keep_last))

    def pin_thread(self, thread_id: str) -> bool:
        """Stops a thread expiring, whatever TTL any saver has, until unpinned.

        Returns:
            False when the thread does not exist (nothing is marked), else True.
        """
        return self._run(self._ops.thread_expiry(thread_id, "pin"))

    async def apin_thread(self, thread_id: str) -> bool:
        """pin_thread(), awaitable."""
        return await self._arun(self._ops.thread_expiry(thread_id, "pin"))

    def unpin_thread(self, thread_id: str) -> bool:
        """Lets a pinned thread expire again: `default_ttl` from now, when this saver has a
        TTL.

        Returns:
            False when the thread does not exist, else True.
        """
        return self._run(self._ops.thread_expiry(thread_id, "unpin"))

    async def aunpin_thread(self, thread_id: str) -> bool:
        """unpin_thread(), awaitable."""
        return await self._arun(self._ops.thread_expiry(thread_id, "unpin"))

    def sweep(self) -> int:
        """Removes every expired thread's entries from the cross-thread indexes now. Not
        needed for correctness (readers skip them, and the scripts sweep as they go).

        Returns:
            How many checkpoints' entries were removed.
        """
        return self._run(self._ops.sweep())

    async def asweep(self) -> int:
        """sweep(), awaitable."""
        return await self._arun(self._ops.sweep())

    def setup(self) -> Any:
        """Checks the server (version, storage format, key layout), loads the scripts and
        records the storage format; idempotent. Calls set up on first use anyway.

        Raises:
            RuntimeError: the server is older than Redis 6.2, or the key prefix holds data of
                another storage format or layout (the message says what to do).
            redis.exceptions.RedisError: the server could not be reached.
        """
        return self._run(self._ops.setup())

    async def asetup(self) -> None:
        """setup(), awaitable."""
        await self._arun(self._ops.setup())

    # -- langgraph-checkpoint-redis's extras, kept so its users' code runs unchanged ---------

    @property
    def _redis(self) -> Any:
        """The client (langgraph-checkpoint-redis's attribute name, which its users' code
        reaches for)."""
        return self.client

    def get_channel_values(
        self,
        thread_id: str,
        checkpoint_ns: str = "",
        checkpoint_id: str = "",
        channel_versions: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The channel values of a checkpoint (the latest of the namespace when
        `checkpoint_id` is empty), decoded; {} when there is none.

        langgraph-checkpoint-redis's helper. `channel_versions` is accepted and not needed:
        get_tuple already reads the checkpoint and its values in one round trip."""
        config = values_config(thread_id, checkpoint_ns, checkpoint_id)
        return channel_values(self.get_tuple(config))

    async def aget_channel_values(
        self,
        thread_id: str,
        checkpoint_ns: str = "",
        checkpoint_id: str = "",
        channel_versions: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """get_channel_values for async code."""
        config = values_config(thread_id, checkpoint_ns, checkpoint_id)
        return channel_values(await self.aget_tuple(config))

    def set_client_info(self) -> None:
        """Names this library to the server (CLIENT SETINFO LIB-NAME) on a connection of the
        saver's client, as langgraph-checkpoint-redis's method does, so CLIENT LIST tells
        which library holds it. Servers before Redis 7.2 have no SETINFO: the call is then a
        no-op."""
        client_info(self.client)

    async def aset_client_info(self) -> None:
        """set_client_info for the async saver's client."""
        await aclient_info(self.client)


def values_config(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> RunnableConfig:
    if not isinstance(thread_id, str | int) or isinstance(thread_id, bool) or thread_id == "":
        raise TypeError(f"thread_id must be a non-empty str, got {thread_id!r}")
    conf: dict[str, Any] = {"thread_id": str(thread_id), "checkpoint_ns": checkpoint_ns or ""}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


def channel_values(tup: CheckpointTuple | None) -> dict[str, Any]:
    return dict(tup.checkpoint.get("channel_values") or {}) if tup is not None else {}


TTL_KEYS = {"default_ttl", "refresh_on_read", "sweep_interval_minutes", "omit_expired"}


def warn_unknown_ttl_keys(ttl: dict[str, Any]) -> None:
    """Keys other than TTL_KEYS are ignored, as users of langgraph-checkpoint-redis and of
    langgraph's TTLConfig expect (e.g. langgraph-checkpoint-redis's docs show
    {"checkpoint": 3600}); a warning names them, so a misspelt `default_ttl` does not go
    unnoticed."""
    unknown = sorted(str(k) for k in set(ttl) - TTL_KEYS)
    if unknown:
        warnings.warn(
            f"ttl keys {unknown} are ignored: the ones that count are {sorted(TTL_KEYS)}",
            UserWarning,
            stacklevel=4,
        )


def ttl_rule(ttl: dict[str, Any] | None) -> tuple[int, bool]:
    """langgraph-checkpoint-redis's (and langgraph's TTLConfig) `ttl` dict as
    (milliseconds, refresh).

    `default_ttl` is in minutes (fractions allowed: 1/60 is a second). `sweep_interval_minutes`
    and `omit_expired` are accepted for TTLConfig compatibility and need nothing here: Redis
    expires the keys, so nothing expired is ever returned, and the scripts clean the indexes as
    they go (lua/includes/sweep.lua).
    """
    if ttl is None:
        return 0, False
    if not isinstance(ttl, dict):
        raise TypeError(f"ttl must be a dict like {{'default_ttl': 60}}, got {type(ttl).__name__}")
    warn_unknown_ttl_keys(ttl)
    minutes = ttl.get("default_ttl")
    if minutes is None:
        return 0, False
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int | float)
        or not minutes > 0
        or not math.isfinite(minutes)
    ):
        raise ValueError(f"ttl['default_ttl'] must be a positive number of minutes: {minutes!r}")
    ms = round(minutes * 60_000)
    if ms < 1:
        raise ValueError(f"ttl['default_ttl'] of {minutes!r} minutes is under a millisecond")
    return ms, bool(ttl.get("refresh_on_read", False))


def derived_pool_kwargs(pool: Any) -> dict[str, Any] | None:
    """Connection kwargs for a private pool when the user's client decodes responses.

    Stored values are bytes (msgpack), so a client with decode_responses=True cannot read them;
    rather than refusing that client we open our own pool to the same server with the same
    options (TLS, ACL user, password included) but raw replies. Returns None when the user's
    client can be used as it is.
    """
    kwargs = dict(getattr(pool, "connection_kwargs", {}))
    if not kwargs.get("decode_responses"):
        return None
    kwargs["decode_responses"] = False
    return kwargs
