"""argv.py and the scripts' headers name the same ARGV slots, in the same places.

The convention each header keeps (the `--[[ ... ]]` block that opens the script), one entry a
line, beginning the line:

    ARGV[7]  cid: C, the encoded checkpoint id           one slot: the name argv.py gives it
    ARGV[1..6]  thread: the thread block ...            a block of slots (argv.BLOCKS)
    ARGV[11 ..]  filters: filter pairs ...              the first slot after the fixed ones:
    ARGV[15 .. 14+2n]  blobs: ...                       the tail's name (argv.py's `tail`)

Fixed slots come in order from ARGV[1] with none left out; a later part of the tail
(`ARGV[15+2n ..]`) is free text. Mentions of ARGV inside a sentence are not entries.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from langgraph.checkpoint.redis import argv, scripts

LUA = scripts._lua_dir()
SCRIPTS = sorted(p for folder in scripts.FOLDERS for p in (LUA / folder).glob("*.lua"))

ENTRY = re.compile(r"^ *ARGV\[([^\]]+)\] +(.*)$", re.M)
NAMED = re.compile(r"(\w+): ")
ONE = re.compile(r"(\d+)")
BLOCK = re.compile(r"(\d+)\.\.(\d+)")
TAIL = re.compile(r"(\d+) *\.\.(?: *\S.*)?")


def _op(path: Path) -> str:
    return path.stem.rpartition("-")[0]


def documented(path: Path) -> tuple[tuple[str, ...], tuple[int, str] | None]:
    """The names a script's header gives ARGV[1], ARGV[2], ... (a block spelled out as
    argv.BLOCKS has it), and where its tail starts with the tail's name (None: no tail)."""
    text = path.read_text()
    assert text.startswith("--[["), f"{path.name}: no header"
    slots: list[str] = []
    tail: tuple[int, str] | None = None
    for spec, rest in ENTRY.findall(text.split("]]", 1)[0]):
        named = NAMED.match(rest)
        where = f"{path.name}: ARGV[{spec}]"
        if one := ONE.fullmatch(spec):
            assert tail is None, f"{where} after the tail began"
            assert int(one[1]) == len(slots) + 1, f"{where} out of order (or a slot skipped)"
            assert named, f"{where} does not begin with `name: `"
            slots.append(named[1])
        elif block := BLOCK.fullmatch(spec):
            assert tail is None, f"{where} after the tail began"
            assert int(block[1]) == len(slots) + 1, f"{where} out of order (or a slot skipped)"
            assert named and named[1] in argv.BLOCKS, f"{where} names no block of argv.BLOCKS"
            names = argv.BLOCKS[named[1]]
            assert len(names) == int(block[2]) - int(block[1]) + 1, f"{where}: wrong width"
            slots += names
        elif (first := TAIL.fullmatch(spec)) and tail is None:
            assert int(first[1]) == len(slots) + 1, f"{where}: the tail must follow the slots"
            assert named, f"{where} does not begin with `name: `"
            tail = (int(first[1]), named[1])
    return tuple(slots), tail


@pytest.mark.parametrize("path", SCRIPTS, ids=_op)
def test_the_header_names_the_slots_argv_py_names(path: Path) -> None:
    layout = argv.LAYOUTS[_op(path)]
    slots, tail = documented(path)
    assert slots == layout.slots, path.name
    if layout.tail is None:
        assert tail is None, f"{path.name} documents a tail argv.py does not have"
    else:
        assert tail == (len(layout.slots) + 1, layout.tail), path.name


def test_every_script_has_a_layout_and_every_layout_a_script() -> None:
    on_disk = [_op(p) for p in SCRIPTS]
    assert len(on_disk) == len(set(on_disk))
    assert set(on_disk) == set(argv.LAYOUTS)
    assert set(scripts.load()) == set(argv.LAYOUTS)
    assert all(name == x.script for name, x in argv.LAYOUTS.items())


def test_the_thread_block_is_common_luas() -> None:
    """common.lua's thread(i) reads ARGV[i..i+5]: argv.THREAD has that many slots, and the
    layouts that start with it are those of the scripts that call thread(1)."""
    common = (LUA / "includes" / "common.lua").read_text()
    assert f"ARGV[i..i+{len(argv.THREAD) - 1}]" in common
    for path in SCRIPTS:
        calls = re.search(r"(?<![\w.])thread\(1\)", path.read_text()) is not None
        starts = argv.LAYOUTS[_op(path)].slots[: len(argv.THREAD)] == argv.THREAD
        assert calls == starts, path.name


def test_build_puts_each_value_in_its_slot() -> None:
    got = argv.build(
        "put_writes", "0", "w0", "1", "w1",
        thread=list("ABCDEF"), cid="c", ns="n", task_field="w:k", task="t",
    )  # fmt: skip
    assert got == [*"ABCDEF", "c", "n", "w:k", "t", "0", "w0", "1", "w1"]
    layout = argv.LAYOUTS["put_writes"]
    assert [got[layout.at(n)] for n in ("tag", "cid", "task")] == ["C", "c", "t"]
    assert argv.build("store_sweep", buckets=",", prefix="store") == ["store", ","]


def test_build_refuses_a_slot_missing_unknown_or_a_tail_not_taken() -> None:
    with pytest.raises(TypeError, match=r"missing \['key'\]"):
        argv.build("store_get", refresh="0", ns="n", query="0")
    with pytest.raises(TypeError, match=r"unknown \['keys'\]"):
        argv.build("store_get", refresh="0", ns="n", key="k", keys="k", query="0")
    with pytest.raises(TypeError, match=r"missing \['query'\], unknown \['qry'\]"):
        argv.build("store_get", refresh="0", ns="n", key="k", qry="0")
    with pytest.raises(TypeError, match="nothing after"):
        argv.build("store_sweep", "extra", prefix="store", buckets="")
    with pytest.raises(TypeError, match="thread= takes 6 values"):
        argv.build("thread_expiry", thread=["a"], mode="pin")
    with pytest.raises(TypeError, match="thread= takes 6 values"):
        argv.build("thread_expiry", mode="pin")
    with pytest.raises(KeyError, match="no ARGV slot 'nope'"):
        argv.LAYOUTS["store_search"].at("nope")


def test_the_slots_the_store_rewrites() -> None:
    """store/redis/ops.py rewrites a spanning call's buckets, P's bucket and (a search) its
    refresh for each master, and reads a search's mode back: one index serves both scripts."""
    search, listing = argv.LAYOUTS["store_search"], argv.LAYOUTS["store_namespaces"]
    for index, name in (
        (argv.BUCKETS, "buckets"),
        (argv.NS_PREFIX, "ns_prefix"),
        (argv.PREFIX_BUCKET, "prefix_bucket"),
    ):
        assert index == search.at(name) == listing.at(name)
    assert (argv.SEARCH_MODE, argv.SEARCH_REFRESH, argv.SEARCH_STOP) == (
        search.at("mode"),
        search.at("refresh"),
        search.at("stop"),
    )
