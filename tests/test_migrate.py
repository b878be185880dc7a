"""`langgraph-redis migrate` against data the incumbent itself wrote (tests/anchor.py): its
savers run real graphs (interrupts, a subgraph, time travel, a ':' in a thread id, shallow
threads) and its store puts items on Redis Stack 7.4; we migrate and compare what our savers
and store return with what the incumbent returned. Lane "anchor": CI runs it (CI=true), a
plain `pytest` deselects it; `LANES=all` selects it locally."""

from __future__ import annotations

import argparse
import operator
import os
import pickle
import re
import subprocess
import sys
import textwrap
from collections import Counter, defaultdict
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
import redis
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.redis import RedisSaver, ShallowRedisSaver
from langgraph.checkpoint.redis.embedded import EmbeddedServer, free_port
from langgraph.checkpoint.redis.migrate import (
    MigrationError,
    MigrationReport,
    add_arguments,
    migrate,
    run,
)
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.store.redis import RedisStore
from langgraph.types import Command, interrupt

from . import anchor

pytestmark = pytest.mark.lane("anchor")

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _incumbent(tmp: Path) -> tuple[EmbeddedServer, dict[str, Any]]:
    """A Redis Stack holding the incumbent's data, and what the incumbent read back."""
    try:
        anchor.anchor_python()
    except Exception as e:
        if CI:
            raise
        pytest.skip(f"cannot build the incumbent's venv: {e}")
    server = anchor.stack_server()
    try:
        data = anchor.write_incumbent_data(server.url, tmp / "incumbent.pkl")
    except BaseException:
        server.stop()
        raise
    return server, data


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Shared read-only source: tests migrate out of it, never into it."""
    server, data = _incumbent(tmp_path_factory.mktemp("incumbent"))
    yield server.url, data
    server.stop()


@pytest.fixture
def target() -> Any:
    with EmbeddedServer() as server:
        yield server.url


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def _by_task(pending: Any) -> dict[str, list[tuple[str, Any]]]:
    """Each task's writes by channel: the incumbent orders a task's writes by idx as text
    ("-3" < "-4" < "1"), ours by idx (LangGraph's order); what each task wrote is the same."""
    out: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for task, channel, value in pending:
        out[task].append((channel, value))
    return {task: sorted(ws, key=lambda w: w[0]) for task, ws in out.items()}


def _assert_same_as_incumbent(url: str, data: dict[str, Any]) -> int:
    """Every tuple the incumbent returned, read back through our saver; every item it was
    given, through our store. Returns how many tuples were compared."""
    n = hidden = 0
    with RedisSaver.from_conn_string(url) as saver:
        for thread_id, rows in data["threads"].items():
            for row in rows:
                c = row["config"]["configurable"]
                ours = saver.get_tuple({"configurable": dict(c)})
                assert ours is not None, (thread_id, c)
                assert ours.config["configurable"]["checkpoint_id"] == c["checkpoint_id"]
                want_parent = (row["parent_config"] or {}).get("configurable", {})
                got_parent = (ours.parent_config or {}).get("configurable", {})
                assert got_parent.get("checkpoint_id") == want_parent.get("checkpoint_id")
                theirs = row["checkpoint"]
                for k in ("v", "id", "ts", "channel_versions", "versions_seen"):
                    assert ours.checkpoint[k] == theirs[k], (thread_id, k)
                assert ours.checkpoint["channel_values"] == theirs["channel_values"], thread_id
                assert ours.metadata == row["metadata"], thread_id
                if row["pending_writes"]:
                    assert _by_task(ours.pending_writes) == _by_task(row["pending_writes"])
                else:
                    # The incumbent stores writes that race their checkpoint's put but does
                    # not return them (its has_writes flag); we keep them: --verify compares
                    # them with the stored documents.
                    hidden += len(ours.pending_writes)
                n += 1
            # the latest of the root namespace is the incumbent's latest
            latest = saver.get_tuple({"configurable": {"thread_id": thread_id}})
            roots = [r for r in rows if r["config"]["configurable"]["checkpoint_ns"] == ""]
            want = max(r["config"]["configurable"]["checkpoint_id"] for r in roots)
            assert latest.config["configurable"]["checkpoint_id"] == want
        for thread_id, theirs in data["shallow"].items():
            ours = saver.get_tuple({"configurable": {"thread_id": thread_id}})
            assert ours.checkpoint["id"] == theirs["checkpoint"]["id"]
            assert ours.checkpoint["channel_values"] == theirs["checkpoint"]["channel_values"]
            assert ours.metadata == theirs["metadata"]
            # the incumbent's shallow saver also returns older steps' writes; ours the
            # latest checkpoint's own, each of which the incumbent returned too
            for w in ours.pending_writes:
                assert w in theirs["pending_writes"]
            if thread_id == "shallow-pending":
                assert any(w[1] == "__interrupt__" for w in ours.pending_writes)
            n += 1
    assert hidden > 0  # the fixture's graphs run with durability="async": some race
    with RedisStore.from_conn_string(url) as store:
        for (ns, key), value in data["items"].items():
            got = store.get(ns, key)
            assert got is not None and got.value == value, (ns, key)
    return n


def _snapshot(url: str) -> dict[bytes, Any]:
    r = redis.Redis.from_url(url)
    out: dict[bytes, Any] = {}
    for k in r.scan_iter(count=1000):
        t = r.type(k)
        if t == b"hash":
            out[k] = r.hgetall(k)
        elif t == b"zset":
            out[k] = r.zrange(k, 0, -1, withscores=True)
        elif t == b"set":
            out[k] = r.smembers(k)
        elif t == b"string":
            out[k] = r.get(k)
        else:
            out[k] = t
    r.close()
    return out


def _names(url: str) -> Counter[bytes]:
    """Key names, with the logs' server-time ids (keys.py: `checkpoint_blob:{T}:N:<id>`)
    folded: two runs name their logs differently."""
    return Counter(re.sub(rb"^(checkpoint_blob:.*):\d+$", rb"\1:#", k) for k in _snapshot(url))


def test_migration_returns_what_the_incumbent_returned(source: Any, target: str) -> None:
    url, data = source
    report = migrate(url, target, verify=True, progress=False)
    assert report.mismatches == []
    assert report.threads == len(data["threads"]) + len(data["shallow"])
    total = sum(len(rows) for rows in data["threads"].values())
    assert report.checkpoints >= total + len(data["shallow"])
    assert report.writes > 0 and report.store_items == len(data["items"])
    assert report.verified >= report.checkpoints + report.store_items
    assert report.warnings == []  # every write's idx reproduced
    assert report.hidden_writes > 0
    assert _assert_same_as_incumbent(target, data) == total + len(data["shallow"])
    # the item put with a TTL keeps one; the others do not expire
    r = redis.Redis.from_url(target)
    (tmp_key,) = [k for k in r.scan_iter(match="store:*cache*tmp*")]
    assert 0 < r.pttl(tmp_key) <= 120 * 60_000
    (prefs,) = [k for k in r.scan_iter(match="store:*users*1*prefs*")]
    assert r.pttl(prefs) == -1


def test_second_run_is_idempotent(source: Any, target: str) -> None:
    url, _ = source
    first = migrate(url, target, progress=False)
    snap = _snapshot(target)
    second = migrate(url, target, verify=True, progress=False)
    assert second.mismatches == []
    assert (second.threads, second.checkpoints, second.writes, second.store_items) == (0, 0, 0, 0)
    assert second.skipped == first.threads + len({ns for ns, _ in source[1]["items"]})
    assert _snapshot(target) == snap


def test_dry_run_writes_nothing(source: Any, target: str) -> None:
    url, _ = source
    dry = migrate(url, target, dry_run=True, progress=True)  # the rich bar, on stderr
    assert redis.Redis.from_url(target).dbsize() == 0
    real = migrate(url, target, progress=False)
    assert (dry.threads, dry.checkpoints, dry.writes, dry.store_items) == (
        real.threads,
        real.checkpoints,
        real.writes,
        real.store_items,
    )
    # and on the CLI
    code = run(_args("--from", url, "--to", target, "--dry-run", "--no-progress"))
    assert code == 0


class _Stop(Exception):
    pass


def test_interrupted_run_resumes_to_the_same_result(source: Any, target: str) -> None:
    url, data = source
    seen = {"n": 0}

    def hook(event: str, name: str) -> None:
        if event == "checkpoint":
            seen["n"] += 1
            if seen["n"] == 20:  # in the middle of a thread
                raise _Stop

    with pytest.raises(_Stop):
        migrate(url, target, progress=False, hook=hook)
    partial = migrate(url, target, dry_run=True, progress=False)
    assert 0 < partial.skipped  # threads finished before the stop are recorded as done
    resumed = migrate(url, target, verify=True, progress=False)
    assert resumed.mismatches == []
    _assert_same_as_incumbent(target, data)
    with EmbeddedServer() as clean:
        migrate(url, clean.url, progress=False)
        got, want = _names(target), _names(clean.url)
        assert got == want, (got - want, want - got)


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from langgraph.checkpoint.redis.migrate import migrate
    n = 0
    def hook(event, name):
        global n
        if event == "checkpoint":
            n += 1
            if n == int(sys.argv[3]):
                os.kill(os.getpid(), signal.SIGKILL)
    migrate(sys.argv[1], sys.argv[2], progress=False, hook=hook)
    """
)


def test_sigkilled_run_resumes(source: Any, target: str) -> None:
    url, data = source
    proc = subprocess.run([sys.executable, "-c", KILLER, url, target, "30"], timeout=300)
    assert proc.returncode == -9
    assert redis.Redis.from_url(target).dbsize() > 0
    # resume through the module's command line, as a user would
    proc = subprocess.run(
        [sys.executable, "-m", "langgraph.checkpoint.redis.migrate", "--from", url, "--to",
         target, "--verify", "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 mismatches" in proc.stdout
    _assert_same_as_incumbent(target, data)


def test_graphs_continue_on_our_savers(source: Any, target: str) -> None:
    url, data = source
    migrate(url, target, progress=False)
    with RedisSaver.from_conn_string(target) as saver:
        g = _graph(saver)
        cfg = {"configurable": {"thread_id": "pending"}}
        state = g.get_state(cfg)
        assert state.next == ("ask",)
        assert state.values == data["pending_state"]
        out = g.invoke(Command(resume="later"), cfg)
        assert out["messages"][-1].content == "answer: later"
        assert g.get_state(cfg).next == ()
        # a finished thread takes a new turn
        out = g.invoke({"messages": [("user", "again")]}, {"configurable": {"thread_id": "done-1"}})
        assert g.get_state({"configurable": {"thread_id": "done-1"}}).next == ("ask",)
    with ShallowRedisSaver.from_conn_string(target) as shallow:
        g = _graph(shallow)
        cfg = {"configurable": {"thread_id": "shallow-pending"}}
        assert g.get_state(cfg).next == ("ask",)
        out = g.invoke(Command(resume="fine"), cfg)
        assert out["messages"][-1].content == "answer: fine"


class State(TypedDict):
    messages: Annotated[list, add_messages]
    count: Annotated[int, operator.add]
    tags: list


def _inner(state: State) -> dict[str, Any]:
    n = len(state["messages"])
    return {"messages": [AIMessage(content="from the subgraph", id=f"sub-{n}")]}


def _chat(state: State) -> dict[str, Any]:
    n = len(state["messages"])
    return {
        "messages": [AIMessage(content=f"echo {n}", id=f"ai-{n}")],
        "count": 1,
        "tags": ["t", n],
    }


def _ask(state: State) -> dict[str, Any]:
    answer = interrupt({"question": "go on?", "seen": len(state["messages"])})
    return {"messages": [HumanMessage(content=f"answer: {answer}", id=f"ans-{answer}")]}


def _graph(saver: Any) -> Any:
    """The incumbent writer's graph (anchor.WRITER), node for node."""
    sub = StateGraph(State).add_node("inner", _inner).add_edge(START, "inner").compile()
    b = StateGraph(State)
    b.add_node("chat", _chat).add_node("sub", sub).add_node("ask", _ask)
    b.add_edge(START, "chat").add_edge("chat", "sub").add_edge("sub", "ask")
    return b.compile(checkpointer=saver)


def test_cluster_target(source: Any) -> None:
    """Into a 3-master Valkey cluster: our savers pick the cluster layout themselves."""
    from .cluster import Cluster

    url, data = source
    with Cluster(masters=3) as c:
        report = migrate(url, c.url, verify=True, progress=False)
        assert report.mismatches == [] and report.threads == len(data["threads"]) + 2
        assert migrate(url, c.url, progress=False).skipped == report.threads + 6
        _assert_same_as_incumbent(c.url, data)


def test_value_types(source: Any, target: str, tmp_path: Path) -> None:
    """Each special case of the incumbent's JSON serializer comes back as the incumbent returns
    it; an Interrupt inside channel values comes back as the Interrupt LangGraph wrote (the
    incumbent's channel-value reader leaves its `__interrupt__` marker a dict)."""
    # `source` made (or skipped for) the incumbent's venv; this server is its own, so the
    # shared source stays as the fixture wrote it
    server = anchor.stack_server()
    try:
        _check_value_types(server.url, target, tmp_path)
    finally:
        server.stop()


def _check_value_types(url: str, target: str, tmp_path: Path) -> None:
    data = anchor.write_value_types(url, tmp_path / "types.pkl")
    report = migrate(url, target, threads=list(data["rows"]), store=False, progress=False)
    assert report.threads == len(data["rows"]) == len(data["original"])
    with RedisSaver.from_conn_string(target) as saver:
        for thread_id, row in data["rows"].items():
            k = thread_id.removeprefix("types-")
            ours = saver.get_tuple({"configurable": {"thread_id": thread_id}})
            assert ours.metadata == row["metadata"]
            assert sorted(ours.pending_writes, key=repr) == sorted(row["writes"], key=repr)
            if k == "interrupts":
                assert row["values"][k] == [{"__interrupt__": True, "value": {"q": 1}, "id": "i1"}]
                assert ours.checkpoint["channel_values"][k] == data["original"][k]
            else:
                assert ours.checkpoint["channel_values"] == row["values"], k
    assert migrate(url, target, threads=list(data["rows"]), verify=True).mismatches == []


def test_threads_filter(source: Any, target: str) -> None:
    url, data = source
    report = migrate(
        url, target, threads=["user:42:chat"], store=False, progress=False, ttl_minutes=60
    )
    assert report.threads == 1 and report.store_items == 0
    assert report.checkpoints == len(data["threads"]["user:42:chat"])
    with RedisSaver.from_conn_string(target) as saver:
        assert saver.get_tuple({"configurable": {"thread_id": "user:42:chat"}}) is not None
        assert saver.get_tuple({"configurable": {"thread_id": "pending"}}) is None
    r = redis.Redis.from_url(target)
    keys = [  # the ledger never expires (docs/decisions.md)
        k for k in r.scan_iter(match="checkpoint*{user%3A42%3Achat}*") if b"_xref:" not in k
    ]
    assert keys and all(0 < r.pttl(k) <= 60 * 60_000 * 1.07 for k in keys)  # --ttl


def test_verify_finds_a_difference(source: Any, target: str, capsys: Any) -> None:
    url, _ = source
    assert run(_args("--from", url, "--to", target, "--no-progress")) == 0
    r = redis.Redis.from_url(target)
    key = sorted(r.scan_iter(match="checkpoint_write:{pending}::*"))[-1]  # root namespace
    r.delete(key)  # lose one task's pending writes
    capsys.readouterr()
    assert run(_args("--from", url, "--to", target, "--verify", "--no-progress")) == 1
    assert "mismatch:" in capsys.readouterr().out


def test_cli_errors_are_one_line_without_password(target: str, capsys: Any) -> None:
    closed = free_port()  # nobody listens there
    locked = EmbeddedServer(extra_args=["--requirepass", "right-pw"]).start()
    cases = [
        (f"redis://:s3cret-pw@127.0.0.1:{closed}", "Connection"),
        (f"redis://:s3cret-pw@127.0.0.1:{locked.port}", "auth"),  # refused password
        (target, "RedisJSON"),  # Valkey: not the incumbent's server
        ("notaurl://x", ""),
    ]
    for bad, needle in cases:
        capsys.readouterr()
        assert run(_args("--from", bad, "--to", target, "--no-progress")) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert "s3cret-pw" not in err and needle.lower() in err.lower(), err
    locked.stop()


def test_same_server_migration(tmp_path: Path) -> None:
    """No --to: our keys go next to the incumbent's, and the incumbent still reads its own."""
    server, data = _incumbent(tmp_path)
    try:
        r = redis.Redis.from_url(server.url)
        before = {k for k in r.scan_iter(count=1000)}
        report = migrate(server.url, verify=True, progress=False)
        assert report.mismatches == [] and report.threads > 0
        assert before <= {k for k in r.scan_iter(count=1000)}  # nothing of theirs replaced
        _assert_same_as_incumbent(server.url, data)
        again = anchor.write_incumbent_data(server.url, tmp_path / "again.pkl", read_only=True)
        assert again["threads"] == data["threads"]
        assert migrate(server.url, progress=False).threads == 0  # idempotent
        # an incumbent thread id starting with "{" could share a name with ours: refused
        r.execute_command(
            "JSON.SET", "checkpoint:{evil}:__empty__:1", "$",
            '{"thread_id": "{evil}", "checkpoint_ns": "__empty__", "checkpoint_id": "1",'
            ' "parent_checkpoint_id": "", "checkpoint": {}, "metadata": "{}"}',
        )  # fmt: skip
        with pytest.raises(MigrationError, match="--to"):
            migrate(server.url, progress=False)
        assert isinstance(migrate(server.url, progress=False, threads=["pending"]), MigrationReport)
    finally:
        server.stop()


def test_dumped_pickles_are_real(source: Any) -> None:
    """Guard against a vacuous fixture: the incumbent wrote what the tests rely on."""
    _, data = source
    rows = [r for rows in data["threads"].values() for r in rows]
    assert any(r["config"]["configurable"]["checkpoint_ns"] for r in rows)  # subgraphs
    assert any(w[1] == "__interrupt__" for r in rows for w in r["pending_writes"])
    parents = [r["parent_config"]["configurable"]["checkpoint_id"]
               for r in data["threads"]["fork"] if r["parent_config"]]  # fmt: skip
    assert len(parents) > len(set(parents))  # time travel: one checkpoint, two children
    assert pickle.dumps(data)
