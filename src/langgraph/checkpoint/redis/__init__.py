"""Redis checkpointers for LangGraph on plain Redis: Lua scripts, sorted-set indexes, no modules.

Same import path and public names as langgraph-checkpoint-redis, so its users switch by
changing one package (docs/migration.md).
"""

from .aio import AsyncRedisSaver
from .ashallow import AsyncShallowRedisSaver
from .base import BaseRedisSaver
from .driver import NotReplicatedError
from .message_exporter import LangChainRecipe, MessageExporter, MessageRecipe
from .shallow import ShallowRedisSaver
from .sync import RedisSaver
from .version import __lib_name__, __version__

__all__ = [
    "AsyncRedisSaver",
    "AsyncShallowRedisSaver",
    "BaseRedisSaver",
    "LangChainRecipe",
    "MessageExporter",
    "MessageRecipe",
    "NotReplicatedError",
    "RedisSaver",
    "ShallowRedisSaver",
    "__lib_name__",
    "__version__",
]
