"""The `langgraph-redis` command against real servers (one Valkey, a Valkey cluster; the full
run adds Redis 7.0 and the other cluster shapes): data made by real LangGraph graphs through
our savers, then `main([...])` in-process, and its `--json` compared exactly with what the
saver itself returns. Plus what an operator meets first: a wrong URL, a refused password, an
older storage format, an unknown thread, a corrupted key space, the installed console script.
"""

from __future__ import annotations

import io
import json
import operator
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.redis import RedisSaver
from langgraph.checkpoint.redis.check import masters
from langgraph.checkpoint.redis.cli import diff_values, jsonable, main, redact
from langgraph.checkpoint.redis.embedded import EmbeddedServer, free_port
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.store.redis import RedisStore
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

from .conftest import Backend, _start, cluster_backends, real_backends
from .orphans import keys_of


@pytest.fixture(params=[*real_backends(), "redis62", *cluster_backends()])
def srv(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """A flushed real server: the one-server lanes, Redis 6.2 (no PEXPIRETIME: the walks take
    PTTL) and the cluster shapes (the CLI takes a URL, so fakeredis has no place here)."""
    b = _start(request.param)
    b.flush()
    yield b


def run(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--url", url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> Any:
    code, out, err = run(capsys, url, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


# -- the graphs ------------------------------------------------------------------------------


class State(TypedDict):
    messages: Annotated[list, add_messages]
    n: int


class Child(TypedDict):
    log: Annotated[list, operator.add]


def build(saver: RedisSaver) -> Any:
    """A chat bot that asks for confirmation (an interrupt), with a subgraph (a namespace of
    its own) between."""

    def bot(s: State) -> dict[str, Any]:
        return {"messages": [AIMessage(content=f"echo {s['messages'][-1].content}")], "n": 1}

    def ask(s: State) -> dict[str, Any]:
        answer = interrupt({"question": "ok?"})
        return {"messages": [HumanMessage(content=str(answer))], "n": s["n"] + 1}

    sub = StateGraph(Child)
    sub.add_node("step", lambda s: {"log": ["child ran"]})
    sub.add_edge(START, "step")
    sub.add_edge("step", END)
    g = StateGraph(State)
    g.add_node("bot", bot)
    g.add_node("child", sub.compile())
    g.add_node("ask", ask)
    g.add_edge(START, "bot")
    g.add_edge("bot", "child")
    g.add_edge("child", "ask")
    g.add_edge("ask", END)
    return g.compile(checkpointer=saver)


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


@pytest.fixture
def data(srv: Backend) -> Iterator[RedisSaver]:
    """Three threads: "done" (asked, answered, asked again: interrupted), "waiting"
    (interrupted once), "tiny" (one step, then interrupted); written in that order."""
    with RedisSaver.from_conn_string(srv.url) as saver:
        saver.setup()
        graph = build(saver)
        graph.invoke({"messages": [HumanMessage(content="hi")]}, cfg("done"))
        graph.invoke(Command(resume="yes"), cfg("done"))
        graph.invoke({"messages": [HumanMessage(content="again")]}, cfg("done"))
        graph.invoke({"messages": [HumanMessage(content="wait")]}, cfg("waiting"))
        graph.invoke({"messages": [HumanMessage(content="x")]}, cfg("tiny"))
        yield saver


def contents(messages: list[dict[str, Any]]) -> list[str]:
    return [m["kwargs"]["content"] for m in messages]


# -- reading ---------------------------------------------------------------------------------


def test_threads(capsys: pytest.CaptureFixture[str], srv: Backend, data: RedisSaver) -> None:
    rows = run_json(capsys, srv.url, "threads")
    assert [r["thread_id"] for r in rows] == ["tiny", "waiting", "done"]  # newest first
    for r in rows:
        listed = list(data.list(cfg(r["thread_id"])))
        assert r["checkpoints"] == len(listed)
        assert r["namespaces"] == sorted(
            {t.config["configurable"]["checkpoint_ns"] for t in listed}
        )
        assert r["namespaces"][0] == "" and r["namespaces"][1].startswith("child:")
        root = data.get_tuple(cfg(r["thread_id"]))
        assert r["latest"] == root.config["configurable"]["checkpoint_id"]
        assert r["last_step"] == root.metadata["step"]
        assert r["updated"] == root.checkpoint["ts"]
        assert r["ttl_s"] is None and r["pinned"] is False
        assert r["bytes"] > 1000 and r["keys"] > 5
    assert rows[2]["last_step"] > rows[1]["last_step"]
    assert [len(r["namespaces"]) for r in rows] == [2, 2, 3]  # a subgraph run: a namespace
    assert [r["thread_id"] for r in run_json(capsys, srv.url, "threads", "--limit", "2")] == [
        "tiny",
        "waiting",
    ]
    code, out, err = run(capsys, srv.url, "threads")  # the table, for people
    assert code == 0 and "waiting" in out and "3 thread(s)" in out and err == ""


def test_history_show_diff_export(
    capsys: pytest.CaptureFixture[str], srv: Backend, data: RedisSaver
) -> None:
    want = list(data.list(cfg("done")))
    rows = run_json(capsys, srv.url, "history", "done")
    assert [r["checkpoint_id"] for r in rows] == [
        t.config["configurable"]["checkpoint_id"] for t in want
    ]
    assert [r["writes"] for r in rows] == [len(t.pending_writes) for t in want]
    assert [r["step"] for r in rows] == [t.metadata["step"] for t in want]
    root = [r for r in rows if r["checkpoint_ns"] == ""]
    assert [r["source"] for r in root][-1] == "input" and root[-1]["parent_id"] is None
    assert all(root[i]["parent_id"] == root[i + 1]["checkpoint_id"] for i in range(len(root) - 1))
    only_root = run_json(capsys, srv.url, "history", "done", "--ns", "", "--limit", "3")
    assert only_root == root[:3]

    shown = run_json(capsys, srv.url, "show", "done")
    latest = data.get_tuple(cfg("done"))
    assert shown["checkpoint_id"] == latest.config["configurable"]["checkpoint_id"]
    assert contents(shown["values"]["messages"]) == ["hi", "echo hi", "yes", "again", "echo again"]
    assert shown["values"]["n"] == 1
    assert shown["metadata"] == jsonable(latest.metadata)
    assert [i["value"] for i in shown["interrupts"]] == [{"question": "ok?"}]
    assert shown["pending_writes"][0]["channel"] == "__interrupt__"
    older = root[-2]["checkpoint_id"]  # step 0: the first input taken
    first = run_json(capsys, srv.url, "show", "done", older)
    assert first["checkpoint_id"] == older and contents(first["values"]["messages"]) == ["hi"]
    assert first["interrupts"] == []

    # the latest against its parent: the bot's answer is appended, n stays
    d = run_json(capsys, srv.url, "diff", "done")
    assert d["b"] == shown["checkpoint_id"] and d["a"] == shown["parent_id"]
    assert d["metadata"]["step"] == {
        "change": "changed",
        "before": shown["metadata"]["step"] - 1,
        "after": shown["metadata"]["step"],
    }
    # from the first input to the latest: messages appended, n added
    d = run_json(capsys, srv.url, "diff", "done", older, shown["checkpoint_id"])
    assert d["channels"]["messages"]["change"] == "appended"
    assert d["channels"]["messages"]["count"] == 4
    assert contents(d["channels"]["messages"]["items"]) == ["echo hi", "yes", "again", "echo again"]
    assert d["channels"]["n"] == {"change": "added", "after": 1}
    back = run_json(capsys, srv.url, "diff", "done", shown["checkpoint_id"], older)
    assert back["channels"]["messages"]["change"] == "changed"
    assert back["channels"]["n"]["change"] == "removed"
    code, out, _ = run(capsys, srv.url, "diff", "done", older, shown["checkpoint_id"])
    assert code == 0 and "appended 4" in out

    capsys.readouterr()
    assert main(["--url", srv.url, "export", "waiting"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    waiting = list(data.list(cfg("waiting")))
    assert [x["checkpoint_id"] for x in lines] == [
        t.config["configurable"]["checkpoint_id"] for t in reversed(waiting)
    ]
    assert contents(lines[-1]["values"]["messages"]) == ["wait", "echo wait"]
    assert lines[-1]["interrupts"][0]["value"] == {"question": "ok?"}
    child = [x for x in lines if x["checkpoint_ns"].startswith("child:")]
    assert child and child[-1]["values"]["log"] == ["child ran"]


def test_stats_and_check(
    capsys: pytest.CaptureFixture[str], srv: Backend, data: RedisSaver
) -> None:
    st = run_json(capsys, srv.url, "stats", "--top", "2")
    total = sum(int(c.dbsize()) for c in masters(srv.sync_client()))
    assert st["keys"] == total  # nothing but checkpoints on this server
    assert st["threads"] == 3
    fam = {f["family"]: f for f in st["families"]}
    assert sum(f["keys"] for f in st["families"]) == st["keys"]
    assert sum(f["bytes"] for f in st["families"]) == st["bytes"]
    assert fam["checkpoint"]["keys"] == sum(
        len(list(data.list(cfg(t)))) for t in ("done", "waiting", "tiny")
    )
    assert fam["namespaces"]["keys"] == 3 and fam["meta"]["keys"] == 1
    assert "other" not in fam
    top = st["largest_threads"]
    assert len(top) == 2 and top[0]["thread_id"] == "done" and top[0]["bytes"] >= top[1]["bytes"]
    threads = {r["thread_id"]: r for r in run_json(capsys, srv.url, "threads")}
    for t in top:  # the same keys, measured alike (MEMORY USAGE samples: Redis 7 varies a bit)
        row = threads[t["thread_id"]]
        assert t["keys"] == row["keys"] and abs(t["bytes"] - row["bytes"]) < 0.05 * row["bytes"]

    assert run_json(capsys, srv.url, "check") == {"ok": True, "keys": total, "problems": []}
    code, out, _ = run(capsys, srv.url, "check", "--atomic")
    assert code == 0 and "no problem" in out

    # corrupt: the blob hash of "waiting"'s root namespace goes
    raw = srv.sync_client()
    blob = keys_of(raw, "waiting").blob
    raw.delete(blob)
    code, out, _ = run(capsys, srv.url, "check", "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False and doc["keys"] == total - 1
    assert any("waiting" in p for p in doc["problems"])
    code, out, _ = run(capsys, srv.url, "check")
    assert code == 1 and "problem(s)" in out
    # an orphan under the prefix
    raw.set("checkpoint_junk", "1")
    doc = json.loads(run(capsys, srv.url, "check", "--json", "--atomic")[1])
    assert any("checkpoint_junk" in p and "orphan" in p for p in doc["problems"])


# -- changing --------------------------------------------------------------------------------


class Tty(io.StringIO):
    """A terminal on stdin that answers the confirmation prompt."""

    def isatty(self) -> bool:
        return True


def test_prune_delete_pin(
    capsys: pytest.CaptureFixture[str],
    srv: Backend,
    data: RedisSaver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = list(data.list(cfg("done")))
    monkeypatch.setattr(sys, "stdin", Tty("n\n"))  # a person at a terminal says no
    err = one_line_error(capsys, ["--url", srv.url, "delete", "done"])
    assert err == "delete 1 thread(s) and all their checkpoints? [y/N] error: cancelled"
    assert len(list(data.list(cfg("done")))) == len(before)
    monkeypatch.setattr(sys, "stdin", Tty("y\n"))  # ... or yes
    assert run_json(capsys, srv.url, "pin", "done")["pinned"]  # (pin asks nothing)
    assert run_json(capsys, srv.url, "prune", "done", "--keep", "100") == [
        {"thread_id": "done", "before": len(before), "kept": len(before), "removed": 0}
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # a script: no terminal, no question
    listed = list(data.list(cfg("done")))
    n, k = len(listed), len({t.config["configurable"]["checkpoint_ns"] for t in listed})
    (row,) = run_json(capsys, srv.url, "prune", "done", "--keep", "1", "--yes")
    assert k == 3 and row == {"thread_id": "done", "before": n, "kept": k, "removed": n - k}
    assert len(list(data.list(cfg("done")))) == k  # the latest of each namespace
    tup = data.get_tuple(cfg("done"))
    assert (
        tup.pending_writes
        and tup.checkpoint["channel_values"]["messages"][-1].content == "echo again"
    )
    assert run_json(capsys, srv.url, "check")["ok"]

    assert run_json(capsys, srv.url, "pin", "tiny") == {
        "thread_id": "tiny",
        "pinned": True,
        "ttl_s": None,
    }
    assert {r["thread_id"]: r["pinned"] for r in run_json(capsys, srv.url, "threads")}["tiny"]
    doc = run_json(capsys, srv.url, "unpin", "tiny", "--ttl", "10")
    assert doc["pinned"] is False and 590 < doc["ttl_s"] <= 640  # 10 min (+1/16 step)
    rows = {r["thread_id"]: r for r in run_json(capsys, srv.url, "threads")}
    assert not rows["tiny"]["pinned"] and 590 < rows["tiny"]["ttl_s"] <= 640
    assert rows["done"]["ttl_s"] is None

    n = len(list(data.list(cfg("waiting"))))
    assert run_json(capsys, srv.url, "delete", "waiting", "-y") == [
        {"thread_id": "waiting", "removed": n}
    ]
    assert data.get_tuple(cfg("waiting")) is None
    assert [r["thread_id"] for r in run_json(capsys, srv.url, "threads")] == ["tiny", "done"]
    assert run_json(capsys, srv.url, "check")["ok"]
    code, _, err = run(capsys, srv.url, "delete", "waiting", "--yes")
    assert code == 2 and err.strip() == "error: no thread 'waiting' under prefix 'checkpoint'"


def test_store(capsys: pytest.CaptureFixture[str], srv: Backend) -> None:
    with RedisStore.from_conn_string(srv.url) as store:
        store.setup()
        store.put(("users", "1"), "prefs", {"theme": "dark", "size": 3})
        store.put(("users", "2"), "prefs", {"theme": "light", "size": 5})
        store.put(("docs",), "a", {"text": "hello"})
    assert run_json(capsys, srv.url, "store", "ls") == [["docs"], ["users", "1"], ["users", "2"]]
    assert run_json(capsys, srv.url, "store", "ls", "users") == [["users", "1"], ["users", "2"]]
    item = run_json(capsys, srv.url, "store", "get", "users/1", "prefs")
    assert item["namespace"] == ["users", "1"] and item["key"] == "prefs"
    assert item["value"] == {"theme": "dark", "size": 3}
    assert (
        run_json(capsys, srv.url, "store", "get", '["users", "2"]', "prefs")["value"]["size"] == 5
    )
    found = run_json(capsys, srv.url, "store", "search", "users", "--filter", '{"theme": "light"}')
    assert [(i["namespace"], i["value"]["size"]) for i in found] == [(["users", "2"], 5)]
    assert len(run_json(capsys, srv.url, "store", "search", "users", "--limit", "1")) == 1
    code, _, err = run(capsys, srv.url, "store", "get", "users/9", "prefs")
    assert code == 2 and "no item 'prefs'" in err


# -- errors ----------------------------------------------------------------------------------


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err.strip()


def test_errors(capsys: pytest.CaptureFixture[str], srv: Backend, data: RedisSaver) -> None:
    url = srv.url
    err = one_line_error(capsys, ["--url", url, "show", "nope"])
    assert err == "error: no thread 'nope' under prefix 'checkpoint'"
    err = one_line_error(
        capsys, ["--url", url, "show", "done", "1f000000-0000-6000-8000-000000000000"]
    )
    assert err.startswith("error: no checkpoint '1f000000")
    bad = f"redis://alice:s3cr3t-pw@127.0.0.1:{free_port()}/0"
    err = one_line_error(capsys, ["--url", bad, "threads"])
    assert (
        err.startswith("error: cannot reach redis://alice:***@127.0.0.1:")
        and "s3cr3t-pw" not in err
    )
    if "cluster" not in srv.name:
        # an older storage format: refused by name, read-only
        raw = srv.sync_client()
        raw.hset("checkpoint_meta", "format", 3)
        err = one_line_error(capsys, ["--url", url, "threads"])
        assert err == (
            "error: keys under prefix 'checkpoint' hold storage format 3; this version reads "
            "format 4 (see `langgraph-redis migrate`)"
        )
        assert raw.hget("checkpoint_meta", "format") == b"3"


def test_wrong_password(capsys: pytest.CaptureFixture[str]) -> None:
    with EmbeddedServer(extra_args=["--requirepass", "right-pw-123"]) as s:
        good = f"redis://:right-pw-123@127.0.0.1:{s.port}"
        with RedisSaver.from_conn_string(good) as saver:
            saver.setup()
            build(saver).invoke({"messages": [HumanMessage(content="hi")]}, cfg("t"))
        assert [r["thread_id"] for r in run_json(capsys, good, "threads")] == ["t"]
        for bad in (f"redis://:wrong-pw-456@127.0.0.1:{s.port}", f"redis://127.0.0.1:{s.port}"):
            err = one_line_error(capsys, ["--url", bad, "threads"])
            assert "wrong-pw-456" not in err and "right-pw-123" not in err
            assert err.startswith(f"error: {redact(bad)} refused the credentials"), err


def test_no_url_and_migrate_absent(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert one_line_error(capsys, ["threads"]).startswith("error: no server")
    import langgraph.checkpoint.redis as package

    monkeypatch.delattr(package, "migrate", raising=False)
    monkeypatch.setitem(sys.modules, "langgraph.checkpoint.redis.migrate", None)
    err = one_line_error(capsys, ["migrate", "--from", "redis://x"])
    assert err.startswith("error: migrate is unavailable: ModuleNotFoundError")
    assert one_line_error(capsys, ["show", "t"]).startswith("error: no server")


def test_pure_parts() -> None:
    assert (
        redact("redis://u:pw@h:1/0?sentinel_password=x")
        == "redis://u:***@h:1/0?sentinel_password=***"
    )
    assert redact("redis://:pw@h:1") == "redis://:***@h:1"
    assert redact("redis://h:1") == "redis://h:1"
    assert diff_values({"a": [1], "b": 1, "c": 0}, {"a": [1, 2, 3], "b": 2, "d": 0}) == {
        "a": {"change": "appended", "count": 2, "items": [2, 3]},
        "b": {"change": "changed", "before": 1, "after": 2},
        "c": {"change": "removed", "before": 0},
        "d": {"change": "added", "after": 0},
    }
    assert jsonable({"t": (1, b"x"), "m": HumanMessage(content="hi", id="1")}) == {
        "t": [1, "b'x'"],
        "m": {
            "lc": 1,
            "type": "constructor",
            "id": ["langchain", "schema", "messages", "HumanMessage"],
            "kwargs": {"content": "hi", "type": "human", "id": "1"},
        },
    }


class Xor:
    """A toy cipher: enough to make values unreadable without the serde that wrote them."""

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        return "xor", bytes(b ^ 0x5A for b in plaintext)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        return bytes(b ^ 0x5A for b in ciphertext)


SERDE = EncryptedSerializer(Xor())


def test_serde(capsys: pytest.CaptureFixture[str], srv: Backend) -> None:
    with RedisSaver.from_conn_string(srv.url, serde=SERDE) as saver:
        saver.setup()
        build(saver).invoke({"messages": [HumanMessage(content="secret")]}, cfg("enc"))
    doc = run_json(capsys, srv.url, "show", "enc", "--serde", "tests.test_cli:SERDE")
    assert contents(doc["values"]["messages"]) == ["secret", "echo secret"]
    err = one_line_error(capsys, ["--url", srv.url, "show", "enc"])
    assert err == (
        "error: Unknown serialization type: msgpack+xor (written through another serializer? "
        "pass --serde MODULE:ATTR)"
    )
    err = one_line_error(
        capsys, ["--url", srv.url, "show", "enc", "--serde", "tests.test_cli:NOPE"]
    )
    assert "NOPE" in err


def test_console_script() -> None:
    """The installed entry point and `python -m`, once each (one process start is enough: the
    tests above ran every command in-process on every lane)."""
    b = _start("valkey")
    b.flush()
    with RedisSaver.from_conn_string(b.url) as saver:
        saver.setup()
        build(saver).invoke({"messages": [HumanMessage(content="hi")]}, cfg("t"))
    script = Path(sys.executable).parent / "langgraph-redis"
    assert script.exists(), "pip install -e . installs the console script"
    done = subprocess.run(
        [str(script), "--url", b.url, "threads", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [r["thread_id"] for r in json.loads(done.stdout)] == ["t"]
    done = subprocess.run(
        [sys.executable, "-m", "langgraph.checkpoint.redis", "--url", b.url, "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "no problem" in done.stdout, done.stderr
