"""What the async and sync savers share: construction arguments, the key space, versions."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.base import SerializerProtocol

from .deltas import DeltaMode, DeltaWriter
from .keys import KeySpace
from .ops import Operations


class BaseRedisSaver(BaseCheckpointSaver[str]):
    """Holds the constructor contract of the incumbent (its keyword names, so its users change
    nothing) and the protocol object; subclasses add only a driver."""

    _owns_client: bool

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
    ) -> None:
        super().__init__(serde=serde)
        if redis_client is None and not redis_url:
            raise ValueError("pass redis_url= (e.g. 'redis://localhost:6379') or redis_client=")
        if redis_client is not None and redis_url:
            raise ValueError("pass either redis_url= or redis_client=, not both")
        self._ops = Operations(
            KeySpace(checkpoint_prefix, checkpoint_write_prefix),
            deltas=DeltaWriter(delta_mode),
        )
        self._user_client = redis_client
        self._owns_client = redis_client is None
        self._redis_url = redis_url
        self._connection_args = dict(connection_args or {})
        self._connection_args.pop("decode_responses", None)

    def get_next_version(self, current: str | int | None, channel: None = None) -> str:
        """Pure: no I/O (langgraph calls it from inside the event loop)."""
        return Operations.next_version(current)


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
