"""Loads the Lua scripts of `lua/` and names them by SHA.

Each file is one operation; its name ends in the number of KEYS it takes
(`put_checkpoint-7.lua`), and a call with another number of keys is refused here, before it
reaches the server. `--@include name` lines are replaced by `lua/includes/name.lua`. Scripts are
called by SHA (EVALSHA); the drivers fall back to EVAL, which also re-caches the script, when the
server answers NOSCRIPT after a restart, a failover or SCRIPT FLUSH.

Scripts that take no KEYS (the fan-outs: list_buckets-0.lua, ...) build keys of many slots of
one node. On a Redis Cluster of 7.0 or newer such a script must say so: each has a `cross`
twin, the same source under `#!lua flags=allow-cross-slot-keys`, which the driver sends there
(Redis 6.2 knows no flags and allows it anyway; one server needs no flag).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

_INCLUDE = re.compile(r"^--@include (\w+)$", re.M)


def _lua_dir() -> Path:
    """The scripts ship inside the wheel; in a source checkout they are the top-level lua/."""
    packaged = Path(str(resources.files(__package__))) / "lua"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[4] / "lua"


@dataclass(frozen=True)
class Script:
    name: str
    numkeys: int
    source: str
    sha: str
    cross: Script | None = None
    """The allow-cross-slot-keys twin of a script without KEYS (module docstring)."""


CROSS_SLOT = "#!lua flags=allow-cross-slot-keys\n"


def _splice(text: str, includes: Path) -> str:
    return _INCLUDE.sub(lambda m: (includes / f"{m.group(1)}.lua").read_text(), text)


@cache
def load() -> dict[str, Script]:
    """Every script by operation name (`put_checkpoint`, ...)."""
    root = _lua_dir()
    out: dict[str, Script] = {}
    for path in sorted(root.glob("*.lua")):
        name, _, n = path.stem.rpartition("-")
        source = _splice(path.read_text(), root / "includes")
        sha = hashlib.sha1(source.encode()).hexdigest()
        cross = None
        if int(n) == 0:
            flagged = CROSS_SLOT + source
            cross = Script(name, 0, flagged, hashlib.sha1(flagged.encode()).hexdigest())
        out[name] = Script(name=name, numkeys=int(n), source=source, sha=sha, cross=cross)
    if not out:
        raise RuntimeError(f"no Lua scripts found in {root}")
    return out


def to_load(cross: bool) -> list[Script]:
    """What setup() loads on each server: every script, and on a cluster of Redis 7+ (`cross`)
    the `allow-cross-slot-keys` twins of the fan-outs too."""
    every = list(load().values())
    return every + [x.cross for x in every if x.cross is not None] if cross else every


def check_loaded(wanted: list[Script], shas: list[object]) -> None:
    """SCRIPT LOAD's replies on one server, in `wanted`'s order: a refusal (or another SHA)
    is raised with the script's name."""
    for x, sha in zip(wanted, shas, strict=True):
        got = sha.decode() if isinstance(sha, bytes) else sha
        if isinstance(sha, Exception) or got != x.sha:
            raise RuntimeError(f"the server refused Lua script {x.name}: {sha}")
