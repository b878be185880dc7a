"""The package's version and the name it gives itself on the server, under
langgraph-checkpoint-redis's module path (`langgraph.checkpoint.redis.version`), so code that reads
them keeps working.

`__lib_name__` names this package, not langgraph-checkpoint-redis: set_client_info() on a saver or
store sends `__full_lib_name__` as CLIENT SETINFO LIB-NAME, so CLIENT LIST tells which library holds
a connection (servers before Redis 7.2 have no SETINFO).
"""

from __future__ import annotations

from importlib import metadata

DIST = "langgraph-checkpoint-redis-lua"


def _version() -> str:
    """The installed distribution's version; a source tree that was never installed has none
    (it is read from the metadata pip writes, not from pyproject.toml: one place)."""
    try:
        return metadata.version(DIST)
    except metadata.PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        return "0+unknown"


__version__ = _version()
__lib_name__ = f"{DIST}_v{__version__}"
__full_lib_name__ = f"redis-py({__lib_name__})"

__all__ = ["__full_lib_name__", "__lib_name__", "__version__"]
