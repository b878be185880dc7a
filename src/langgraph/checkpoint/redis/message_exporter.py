"""Conversation export: the messages of a thread's checkpoints as plain dicts.

langgraph-checkpoint-redis documents this utility (`MessageExporter`, `LangChainRecipe`,
`MessageRecipe`) under this module path; its users' export code runs unchanged here, on any of our
savers, sync or async (the a* methods), reading through the saver's public API only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

from langchain_core.messages import BaseMessage
from langgraph.checkpoint.base import CheckpointTuple


@runtime_checkable
class MessageRecipe(Protocol):
    """Turns one stored message into a dict with at least `role` and `content`, or None to
    leave it out. Implement it for message types other than LangChain's."""

    def extract(self, message: Any) -> dict[str, Any] | None: ...


def _role(type_name: str) -> str:
    """ "HumanMessage" -> "human", "AIMessageChunk" -> "aichunk": the class name without
    "Message", lower case (langgraph-checkpoint-redis's naming, so exported files compare equal)."""
    return type_name.replace("Message", "").lower()


class LangChainRecipe:
    """The default recipe: LangChain message objects, their serialized (`lc` constructor)
    form, `{"role": ..., "content": ...}` dicts and plain strings."""

    def extract(self, message: Any) -> dict[str, Any] | None:
        if isinstance(message, BaseMessage):
            name = type(message).__name__
            return {
                "role": _role(name),
                "content": message.content,
                "type": name,
                "id": message.id,
                "metadata": {
                    "name": message.name,
                    "tool_calls": getattr(message, "tool_calls", None),
                    "additional_kwargs": message.additional_kwargs,
                },
            }
        if isinstance(message, dict):
            if message.get("lc") and message.get("type") == "constructor":
                ident = message.get("id")
                name = ident[-1] if isinstance(ident, list) and ident else "unknown"
                kwargs = message.get("kwargs") or {}
                return {
                    "role": _role(str(name)),
                    "content": kwargs.get("content", ""),
                    "type": name,
                    "id": kwargs.get("id"),
                    "metadata": kwargs,
                }
            if "role" in message and "content" in message:
                return dict(message)  # a copy: the export annotates it
            return None
        if isinstance(message, str):
            return {"role": "unknown", "content": message, "type": "string"}
        return None


class MessageExporter:
    """Exports the messages of a thread: one checkpoint's (`export`) or every checkpoint's,
    each message once (`export_thread`).

    `channel` names the state key holding the messages ("messages", as in MessagesState)."""

    def __init__(
        self, redis_saver: Any, recipe: MessageRecipe | None = None, *, channel: str = "messages"
    ) -> None:
        self.saver = redis_saver
        self.recipe: MessageRecipe = recipe or LangChainRecipe()
        self.channel = channel

    # -- one checkpoint -------------------------------------------------------------------

    @staticmethod
    def _config(thread_id: str, checkpoint_id: str | None) -> dict[str, Any]:
        conf: dict[str, Any] = {"thread_id": thread_id}
        if checkpoint_id:
            conf["checkpoint_id"] = checkpoint_id
        return {"configurable": conf}

    def _extract(self, tup: CheckpointTuple | None) -> list[dict[str, Any]]:
        if tup is None:
            return []
        out = []
        for msg in tup.checkpoint.get("channel_values", {}).get(self.channel) or []:
            got = self.recipe.extract(msg)
            if got:
                out.append(got)
        return out

    def export(self, thread_id: str, checkpoint_id: str | None = None) -> list[dict[str, Any]]:
        """The messages of one checkpoint (the thread's latest when `checkpoint_id` is None),
        extracted by the recipe; [] when there is no such checkpoint."""
        return self._extract(self.saver.get_tuple(self._config(thread_id, checkpoint_id)))

    async def aexport(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> list[dict[str, Any]]:
        """export() for async code (AsyncRedisSaver on its event loop)."""
        return self._extract(await self.saver.aget_tuple(self._config(thread_id, checkpoint_id)))

    # -- a whole thread -------------------------------------------------------------------

    def _thread(self, thread_id: str, tuples: Iterable[CheckpointTuple]) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        seen: set[Any] = set()
        for tup in tuples:
            for got in self._extract(tup):
                ident = got.get("id")
                if ident:
                    if ident in seen:
                        continue
                    seen.add(ident)
                got["checkpoint_id"] = tup.checkpoint.get("id")
                got["checkpoint_ts"] = tup.checkpoint.get("ts")
                messages.append(got)
        return {
            "thread_id": thread_id,
            "messages": messages,
            "export_timestamp": datetime.now(timezone.utc).isoformat(),
        }

    def export_thread(self, thread_id: str) -> dict[str, Any]:
        """Every message of the thread's checkpoints (newest checkpoint first), a message with
        an id once, each with the `checkpoint_id` and `checkpoint_ts` it was read from."""
        return self._thread(thread_id, self.saver.list(self._config(thread_id, None)))

    async def aexport_thread(self, thread_id: str) -> dict[str, Any]:
        """export_thread() for async code."""
        tuples = [t async for t in self.saver.alist(self._config(thread_id, None))]
        return self._thread(thread_id, tuples)


__all__ = ["LangChainRecipe", "MessageExporter", "MessageRecipe"]
