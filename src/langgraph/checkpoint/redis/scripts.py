"""Loads the Lua scripts under `lua/` (in this package) and names them by SHA.

Each file is one operation, in `lua/checkpoint/` (the savers') or `lua/store/` (RedisStore's);
its name ends in the number of KEYS it takes (`put_checkpoint-8.lua`), and a call with another
number of keys is refused here, before it reaches the server. Operations are named by file
name alone (`put_checkpoint`, `store_put`), whichever folder holds them.

A `--@include name` line stands for `lua/includes/name.lua`, and an include may itself include
others: `expand` splices each one in once per script, after everything it includes (a
`local function` must be defined before the code that calls it), so a script names only the
includes it uses itself. A cycle or a name with no file is an error when the scripts load.

Scripts are called by SHA (EVALSHA); the drivers fall back to EVAL, which also re-caches the
script, when the server answers NOSCRIPT after a restart, a failover or SCRIPT FLUSH.

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
_INCLUDE_LINE = re.compile(r"^--@include \w+$\n?", re.M)

FOLDERS = ("checkpoint", "store")
"""The folders of `lua/` that hold scripts (one operation each); `includes/` holds the rest."""


def _lua_dir() -> Path:
    """The scripts ship inside the package (and so inside the wheel)."""
    return Path(str(resources.files(__package__))) / "lua"


@dataclass(frozen=True)
class Script:
    name: str
    numkeys: int
    source: str
    sha: str
    cross: Script | None = None
    """The allow-cross-slot-keys twin of a script without KEYS (module docstring)."""


CROSS_SLOT = "#!lua flags=allow-cross-slot-keys\n"


class IncludeError(ValueError):
    """A `--@include` that names no file of the includes folder, or a cycle of includes."""


def expand(text: str, includes: Path, where: str = "the script") -> str:
    """`text` with each `--@include name` line replaced by the includes it brings in for the
    first time: name's own includes first (recursively), then `includes/name.lua` itself
    (without its `--@include` lines). An include already spliced in earlier in this text is
    not repeated; a line whose includes are all in already becomes empty."""
    done: set[str] = set()

    def bring(name: str, chain: tuple[str, ...]) -> str:
        if name in chain:
            raise IncludeError(f"Lua include cycle in {where}: {' -> '.join((*chain, name))}")
        if name in done:
            return ""
        path = includes / f"{name}.lua"
        if not path.is_file():
            by = f"includes/{chain[-1]}.lua" if chain else where
            raise IncludeError(f"unknown Lua include {name!r} in {by}: no {path}")
        body = path.read_text()
        deps = "".join(bring(dep, (*chain, name)) for dep in _INCLUDE.findall(body))
        done.add(name)
        return deps + _INCLUDE_LINE.sub("", body)

    return _INCLUDE.sub(lambda m: bring(m.group(1), ()), text)


def _scripts(root: Path) -> list[Path]:
    return sorted((p for f in FOLDERS for p in (root / f).glob("*.lua")), key=lambda p: p.name)


@cache
def load(root: Path | None = None) -> dict[str, Script]:
    """Every script by operation name (`put_checkpoint`, `store_put`, ...), from `root`
    (`lua/` of this package unless given)."""
    root = _lua_dir() if root is None else root
    out: dict[str, Script] = {}
    for path in _scripts(root):
        name, _, n = path.stem.rpartition("-")
        if name in out:
            raise RuntimeError(f"two Lua scripts are named {name!r} in {root}")
        source = expand(path.read_text(), root / "includes", path.name)
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
