"""The loader of the Lua scripts (scripts.py), without a server: `--@include` lines resolve
recursively, each include once per script and after what it includes; a cycle or an unknown
name is refused; both script folders load, by file name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from langgraph.checkpoint.redis import scripts


def _lua(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _order(source: str) -> list[str]:
    """The fake includes' bodies (`-- body of x`), in the order they were spliced in."""
    return re.findall(r"^-- body of (\w+)$", source, re.M)


def test_includes_resolve_recursively_in_dependency_order(tmp_path: Path) -> None:
    inc = _lua(
        tmp_path,
        {
            "a.lua": "--@include b\n-- body of a\n",
            "b.lua": "--@include c\n-- body of b\n",
            "c.lua": "-- body of c\n",
        },
    )
    out = scripts.expand("--@include a\nreturn 1\n", inc)
    assert _order(out) == ["c", "b", "a"]
    assert "--@include" not in out
    assert out.endswith("-- body of a\n\nreturn 1\n")


def test_each_include_is_emitted_once(tmp_path: Path) -> None:
    """A diamond (a and b both include c) and a script naming c itself too: c once, first."""
    inc = _lua(
        tmp_path,
        {
            "a.lua": "--@include c\n-- body of a\n",
            "b.lua": "--@include c\n--@include a\n-- body of b\n",
            "c.lua": "-- body of c\n",
        },
    )
    out = scripts.expand("--@include a\n--@include b\n--@include c\n--@include a\n", inc)
    assert _order(out) == ["c", "a", "b"]
    # a line whose includes are all in already is left empty
    assert out == "-- body of c\n-- body of a\n\n-- body of b\n\n\n\n"


def test_a_cycle_is_refused(tmp_path: Path) -> None:
    inc = _lua(
        tmp_path,
        {
            "a.lua": "--@include b\n-- body of a\n",
            "b.lua": "--@include c\n-- body of b\n",
            "c.lua": "--@include a\n-- body of c\n",
        },
    )
    with pytest.raises(scripts.IncludeError, match=r"cycle in x-0\.lua: a -> b -> c -> a"):
        scripts.expand("--@include a\n", inc, "x-0.lua")
    _lua(tmp_path, {"self.lua": "--@include self\n"})
    with pytest.raises(scripts.IncludeError, match="self -> self"):
        scripts.expand("--@include self\n", inc)


def test_an_unknown_include_is_refused(tmp_path: Path) -> None:
    inc = _lua(tmp_path, {"a.lua": "--@include nope\n-- body of a\n"})
    with pytest.raises(scripts.IncludeError, match=r"unknown Lua include 'gone' in x-0\.lua"):
        scripts.expand("--@include gone\n", inc, "x-0.lua")
    with pytest.raises(scripts.IncludeError, match=r"'nope' in includes/a\.lua"):
        scripts.expand("--@include a\n", inc, "x-0.lua")


def test_load_reads_both_folders_by_file_name(tmp_path: Path) -> None:
    root = _lua(
        tmp_path,
        {
            "includes/h.lua": "-- body of h\n",
            "checkpoint/put_thing-2.lua": "--@include h\nreturn 1\n",
            "store/store_thing-0.lua": "--@include h\nreturn 2\n",
            "elsewhere/ignored-1.lua": "return 3\n",
        },
    )
    got = scripts.load(root)
    assert set(got) == {"put_thing", "store_thing"}
    assert got["put_thing"].numkeys == 2 and got["put_thing"].cross is None
    assert got["put_thing"].source == "-- body of h\n\nreturn 1\n"
    flagged = got["store_thing"].cross
    assert flagged is not None and flagged.source == scripts.CROSS_SLOT + got["store_thing"].source
    _lua(tmp_path, {"store/put_thing-1.lua": "return 4\n"})
    with pytest.raises(RuntimeError, match="two Lua scripts are named 'put_thing'"):
        scripts.load.__wrapped__(root)


def test_load_refuses_a_script_with_a_bad_include(tmp_path: Path) -> None:
    root = _lua(tmp_path, {"checkpoint/x-0.lua": "--@include missing\n", "includes/.keep": ""})
    with pytest.raises(scripts.IncludeError, match=r"'missing' in x-0\.lua"):
        scripts.load(root)


def test_the_package_scripts_splice_each_include_once_after_its_own() -> None:
    """The shipped scripts: every include that a script brings in (directly or not) appears
    once, after the includes it names, and no `--@include` line is left for the server."""
    lua = scripts._lua_dir()
    includes = {p.stem: p.read_text() for p in (lua / "includes").glob("*.lua")}
    deps = {n: re.findall(r"^--@include (\w+)$", t, re.M) for n, t in includes.items()}
    loaded = scripts.load()
    assert set(loaded) == {
        p.stem.rpartition("-")[0] for f in scripts.FOLDERS for p in (lua / f).glob("*.lua")
    }
    for name, script in loaded.items():
        assert "--@include" not in script.source, name
        seen = re.findall(r"^--\[\[ (\w+)\.lua:", script.source, re.M)
        assert len(seen) == len(set(seen)), (name, seen)
        assert set(seen) <= set(includes), (name, seen)
        for i, inc in enumerate(seen):
            assert set(deps[inc]) <= set(seen[:i]), (name, inc, seen)
