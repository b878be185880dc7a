"""What the async and sync savers share: construction arguments, the key space, versions."""

from __future__ import annotations

import math
import warnings
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.checkpoint.serde.base import SerializerProtocol

from .deltas import DeltaMode, DeltaWriter
from .keys import KeySpace
from .ops import Operations


class BaseRedisSaver(BaseCheckpointSaver[str]):
    """Holds the constructor contract of the incumbent (its keyword names, so its users change
    nothing) and the protocol object; subclasses add only a driver."""

    _owns_client: bool
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
        NotReplicatedError after wait_timeout_ms (README, "Redis Cluster and Sentinel")."""

    def get_next_version(self, current: str | int | None, channel: None = None) -> str:
        """Pure: no I/O (langgraph calls it from inside the event loop)."""
        return Operations.next_version(current)

    # -- the incumbent's extras, kept so its users' code runs unchanged -------------------

    @property
    def _redis(self) -> Any:
        """The client (the incumbent's attribute name, which its users' code reaches for)."""
        return self.client  # type: ignore[attr-defined]

    def get_channel_values(
        self,
        thread_id: str,
        checkpoint_ns: str = "",
        checkpoint_id: str = "",
        channel_versions: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The channel values of a checkpoint (the latest of the namespace when
        `checkpoint_id` is empty), decoded; {} when there is none.

        The incumbent's helper. `channel_versions` is accepted and not needed: get_tuple
        already reads the checkpoint and its values in one round trip."""
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
        saver's client, as the incumbent's method does, so CLIENT LIST tells which library
        holds it. Servers before Redis 7.2 have no SETINFO: the call is then a no-op."""
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


TTL_KEYS = {"default_ttl", "refresh_on_read", "sweep_interval_minutes", "omit_expired"}


def warn_unknown_ttl_keys(ttl: dict[str, Any]) -> None:
    """Keys other than TTL_KEYS are ignored, as the incumbent and langgraph's TTLConfig users
    expect (e.g. the incumbent's docs show {"checkpoint": 3600}); a warning names them, so a
    misspelt `default_ttl` does not go unnoticed."""
    unknown = sorted(str(k) for k in set(ttl) - TTL_KEYS)
    if unknown:
        warnings.warn(
            f"ttl keys {unknown} are ignored: the ones that count are {sorted(TTL_KEYS)}",
            UserWarning,
            stacklevel=4,
        )


def ttl_rule(ttl: dict[str, Any] | None) -> tuple[int, bool]:
    """The incumbent's (and langgraph's TTLConfig) `ttl` dict as (milliseconds, refresh).

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
