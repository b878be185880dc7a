"""Redis checkpointers for LangGraph on plain Redis: Lua scripts, sorted-set indexes, no modules.

Same import path as langgraph-checkpoint-redis, so its users switch by changing one package.
"""

from .aio import AsyncRedisSaver
from .ashallow import AsyncShallowRedisSaver
from .driver import NotReplicatedError
from .shallow import ShallowRedisSaver
from .sync import RedisSaver

__all__ = [
    "AsyncRedisSaver",
    "AsyncShallowRedisSaver",
    "NotReplicatedError",
    "RedisSaver",
    "ShallowRedisSaver",
]
