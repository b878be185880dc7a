"""The I/O-free operations (ops.py, and the store's ops.py) driven by hand, with canned replies:
no server, no network.

An operation is a generator: it yields a RoundTrip (or a FanOut, or an Emit for a listing),
receives the replies, and returns its result. These tests send what a server would answer and
check what the operation does with it: what it sends (how many commands, which script, which
keys: which thread's slot), what it sends next, and what it returns. The canned replies have
the form each Lua script documents under "Returns" (put_checkpoint-8.lua, get_checkpoint-3.lua,
list_checkpoints-2.lua, list_buckets-0.lua, store_get-2.lua, store_search-0.lua, ...), built
from what the operation itself sent where the server stores it verbatim (the checkpoint
envelope `d`, whole channel values, writes): never values the code does not produce.

The ops objects are the savers' and the store's own (`saver._ops`, `store._ops`), taken from
a saver and a store that never connect (the URL is used on first I/O only).
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.redis import RedisSaver
from langgraph.checkpoint.redis.ops import PAGE
from langgraph.checkpoint.redis.protocol import (
    Cmd,
    Emit,
    Eval,
    FanOut,
    RoundTrip,
    needs_resend,
    resend,
    round_trip_async,
    round_trip_sync,
    sent,
    wire,
)
from langgraph.store.base import GetOp, PutOp, SearchOp
from langgraph.store.redis import RedisStore
from redis.exceptions import NoScriptError, ResponseError

from .facade import cfg, new_id

NOWHERE = "redis://127.0.0.1:1"
"""A URL nothing listens on: these savers and stores never connect."""

# put_checkpoint-8.lua's ARGV, 0-based: the envelope d, the parent, the number of blob pairs
D, PARENT, NBLOB = 8, 9, 13


@pytest.fixture
def saver() -> Any:
    s = RedisSaver(redis_url=NOWHERE)
    yield s
    s.close()


# -- driving an operation by hand ---------------------------------------------------------------


def returned(op: Generator[Any, Any, Any], reply: Any) -> Any:
    """Sends the last reply: the operation must finish, with the value it returns."""
    with pytest.raises(StopIteration) as stop:
        msg = op.send(reply)
        pytest.fail(f"the operation sent more: {msg!r}")
    return stop.value.value


def one_call(msg: Any, script: str) -> Eval:
    """A round trip of exactly one call of `script`, outside a transaction."""
    assert isinstance(msg, RoundTrip), msg
    assert not msg.transaction
    assert len(msg.cmds) == 1, msg.cmds
    (call,) = msg.cmds
    assert isinstance(call, Eval) and call.script.name == script, call
    return call


def emitted(op: Generator[Any, Any, Any], reply: Any) -> tuple[list[Any], Any]:
    """Sends a reply to a listing and collects what it emits: (the items, the next round trip
    or FanOut, or None when the listing ended)."""
    items: list[Any] = []
    try:
        msg = op.send(reply)
        while isinstance(msg, Emit):
            items.append(msg.value)
            msg = op.send(None)
    except StopIteration:
        return items, None
    return items, msg


def messages(n: int, size: int = 40) -> list[dict[str, str]]:
    return [{"id": f"m{i}", "content": "x" * size} for i in range(n)]


def put_op(
    saver: Any,
    thread: str,
    values: dict[str, Any],
    versions: dict[str, str],
    *,
    cid: str | None = None,
    parent: str | None = None,
    md: dict[str, Any] | None = None,
) -> Generator[Any, Any, Any]:
    cp = empty_checkpoint()
    cp.update(
        id=cid or new_id(),
        channel_values=dict(values),
        channel_versions=dict(versions),
        versions_seen={},
    )
    metadata = md if md is not None else {"source": "loop", "step": 1}
    return saver._ops.put(saver.serde, cfg(thread, "", parent), cp, metadata, dict(versions))


def blobs_of(call: Eval) -> dict[str, bytes]:
    """The blob field/value pairs a put_checkpoint call sends."""
    n = call.args[NBLOB]
    pairs = call.args[NBLOB + 1 : NBLOB + 1 + 2 * n]
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


def claim(data: bytes) -> tuple[bytes, int, int, bytes]:
    """A list value as put sends it (codec.pack_claim: b"^<log>\\n<length>\\n<count>\\n<bytes>"):
    (log, length, count, bytes)."""
    assert data.startswith(b"^"), data[:20]
    log, length, count, body = data[1:].split(b"\n", 3)
    return log, int(length), int(count), body


def ref(log: bytes, length: int, count: int) -> bytes:
    """A stored log reference, as put_checkpoint returns it (codec.log_ref's form)."""
    return b"@%s\n%d\n%d" % (log, length, count)


def stored(call: Eval, logs: dict[str, tuple[bytes, bytes]] | None = None) -> list[Any]:
    """get_checkpoint's reply for what a put_checkpoint call stored (load_tuple's
    { C, d, parent, blobs, writes }): d and the parent as sent, whole values as sent, a list
    kept in a log as { reference, bytes } (`logs`: field -> (reference, the log's bytes))."""
    blobs: list[Any] = []
    for f, data in blobs_of(call).items():
        if logs and f in logs:
            blobs += [f.encode(), list(logs[f])]
        else:
            blobs += [f.encode(), data]
    return [call.args[6].encode(), call.args[D], call.args[PARENT].encode(), blobs, []]


# -- (1) one round trip, one script call per operation -------------------------------------------


def test_put_is_one_script_call_on_the_threads_slot(saver: Any) -> None:
    op = put_op(saver, "t1", {"a": 1, "b": "x"}, {"a": "1", "b": "1"}, md={"run_id": "r"})
    call = one_call(op.send(None), "put_checkpoint")
    thread_keys = [k for k in call.keys if "{t1}" in k]
    assert len(call.keys) == 8 and len(thread_keys) == 6  # all but the cross-thread indexes
    assert call.keys[4] == "checkpoint_all" and call.keys[5] == "checkpoint_run:r"
    assert set(blobs_of(call)) == {"a:1", "b:1"}
    config = returned(op, [[1]])  # put_checkpoint: { created } (no list sent as a claim)
    assert config == {
        "configurable": {"thread_id": "t1", "checkpoint_ns": "", "checkpoint_id": call.args[6]}
    }


def test_put_writes_is_one_script_call(saver: Any) -> None:
    config = cfg("t1", "", "c1")
    op = saver._ops.put_writes(saver.serde, config, [("a", 1), ("b", 2)], "task-1", "~p")
    call = one_call(op.send(None), "put_writes")
    assert all("{t1}" in k for k in call.keys)
    assert "checkpoint_write:{t1}::c1:task-1" in call.keys
    assert returned(op, [2]) is None  # put_writes: the number of items stored
    # nothing to write: no round trip at all
    assert returned(saver._ops.put_writes(saver.serde, config, [], "task-1"), None) is None


def test_get_tuple_is_one_script_call_and_reads_back_what_put_sent(saver: Any) -> None:
    parent = new_id()
    values = {"a": {"k": [1, 2]}, "b": "x"}
    put = put_op(saver, "t1", values, {"a": "1", "b": "1"}, parent=parent)
    put_call = one_call(put.send(None), "put_checkpoint")
    cid = returned(put, [[1]])["configurable"]["checkpoint_id"]

    latest = saver._ops.get_tuple(saver.serde, cfg("t1"))
    call = one_call(latest.send(None), "get_checkpoint")
    assert all("{t1}" in k for k in call.keys)
    assert call.args[6:8] == ["", ""]  # namespace "", no id: the latest
    assert returned(latest, [None]) is None  # get_checkpoint: nil when absent

    by_id = saver._ops.get_tuple(saver.serde, cfg("t1", "", cid))
    assert one_call(by_id.send(None), "get_checkpoint").args[7] == cid
    t = returned(by_id, [stored(put_call)])
    assert t.config == {
        "configurable": {"thread_id": "t1", "checkpoint_ns": "", "checkpoint_id": cid}
    }
    assert t.parent_config["configurable"]["checkpoint_id"] == parent
    assert t.checkpoint["channel_values"] == values
    assert t.metadata["source"] == "loop" and t.metadata["step"] == 1
    assert t.pending_writes == []


def test_get_tuple_orders_the_pending_writes(saver: Any) -> None:
    """A checkpoint's writes come back as load_tuple returns them ({taskinfo, {idx, value,
    ...}} per task, in hash order) and are sorted as live execution applies them: by task
    path, task id, index."""
    put = put_op(saver, "t1", {"a": 1}, {"a": "1"})
    put_call = one_call(put.send(None), "put_checkpoint")
    cid = returned(put, [[1]])["configurable"]["checkpoint_id"]
    calls = []
    for task, path, writes in (("t-b", "~2", [("x", 1), ("y", 2)]), ("t-a", "~1", [("z", 3)])):
        op = saver._ops.put_writes(saver.serde, cfg("t1", "", cid), writes, task, path)
        calls.append(one_call(op.send(None), "put_writes"))
        returned(op, [len(writes)])
    # load_tuple's writes: per task, its info (put_writes' ARGV[10]) and HGETALL of its
    # writes hash (the idx/value pairs of ARGV[11..], field names as bytes)
    reply = stored(put_call)
    for c in calls:
        pairs = c.args[10:]
        fields = [x for i, v in zip(pairs[::2], pairs[1::2], strict=True) for x in (b"%d" % i, v)]
        reply[4] += [c.args[9], fields]
    op = saver._ops.get_tuple(saver.serde, cfg("t1", "", cid))
    op.send(None)
    t = returned(op, [reply])
    assert t.pending_writes == [("t-a", "z", 3), ("t-b", "x", 1), ("t-b", "y", 2)]


def test_delete_thread_is_one_script_call_and_forgets_the_threads_logs(saver: Any) -> None:
    big = messages(20)
    first = put_op(saver, "t1", {"msgs": big}, {"msgs": "1"})
    log, length, count, body = claim(
        blobs_of(one_call(first.send(None), "put_checkpoint"))["msgs:1"]
    )
    assert (log, length, count) == (b"", 0, 20)  # a new log: no claim on an old one
    returned(first, [[1, b"msgs:1", ref(b"1", len(body), count)]])

    op = saver._ops.delete_thread("t1")
    call = one_call(op.send(None), "delete_thread")
    assert call.keys == ["checkpoint_ns:{t1}", "checkpoint_all", "checkpoint_fence:{t1}"]
    assert returned(op, [1]) is None  # delete_thread: the number of namespaces removed
    # the saver no longer claims the deleted log: the next list goes whole
    again = put_op(saver, "t1", {"msgs": [*big, *messages(1)]}, {"msgs": "2"})
    log, length, count, _ = claim(blobs_of(one_call(again.send(None), "put_checkpoint"))["msgs:2"])
    assert (log, length, count) == (b"", 0, 21)


def test_prune_sends_one_call_per_thread_in_one_round_trip(saver: Any) -> None:
    op = saver._ops.prune(["a", "b", "c"], keep_last=2)
    msg = op.send(None)
    assert isinstance(msg, RoundTrip) and not msg.transaction
    assert [c.script.name for c in msg.cmds] == ["prune_thread"] * 3
    assert [c.keys[0] for c in msg.cmds] == [
        "checkpoint_ns:{a}",
        "checkpoint_ns:{b}",
        "checkpoint_ns:{c}",
    ]
    assert [c.args[-1] for c in msg.cmds] == [2, 2, 2]
    assert returned(op, [0, 0, 0]) is None


# -- (2) a claim on a log the server no longer has: the value is sent again, whole ---------------


def test_put_claiming_a_lost_log_resends_the_whole_value(saver: Any) -> None:
    big = messages(20)
    first = put_op(saver, "t1", {"msgs": big}, {"msgs": "1"})
    log, length, count, body = claim(
        blobs_of(one_call(first.send(None), "put_checkpoint"))["msgs:1"]
    )
    assert (log, count) == (b"", 20) and length == 0
    # the server started log 1 with those bytes and names it
    returned(first, [[1, b"msgs:1", ref(b"1", len(body), 20)]])

    grown = [*big, *messages(21)[20:]]
    second = put_op(saver, "t1", {"msgs": grown, "n": 2}, {"msgs": "2", "n": "1"})
    call = one_call(second.send(None), "put_checkpoint")
    sent_first = blobs_of(call)
    log, length, count, tail = claim(sent_first["msgs:2"])
    assert (log, length, count) == (b"1", len(body), 21)  # the claim: only the new item
    assert len(tail) < len(body) / 10

    # put_checkpoint: { -1, field, ... } when claims lost their log; nothing was written
    again = one_call(second.send([[-1, b"msgs:2"]]), "put_checkpoint")
    assert again.keys == call.keys
    resent = blobs_of(again)
    log, length, count, whole = claim(resent["msgs:2"])
    assert (log, length, count) == (b"", 0, 21)  # no claim: every item's bytes
    assert whole.startswith(body) and whole.endswith(tail)
    assert resent["n:1"] == sent_first["n:1"]  # the other values as before
    assert again.args[: NBLOB + 1] == call.args[: NBLOB + 1]  # the same checkpoint

    config = returned(second, [[1, b"msgs:2", ref(b"2", len(whole), 21)]])
    assert config["configurable"]["checkpoint_id"] == call.args[6]
    # the log the server named now is the one the next put claims
    third = put_op(saver, "t1", {"msgs": [*grown, *messages(22)[21:]]}, {"msgs": "3"})
    log, length, count, _ = claim(blobs_of(one_call(third.send(None), "put_checkpoint"))["msgs:3"])
    assert (log, length, count) == (b"2", len(whole), 22)


def test_a_read_teaches_the_saver_the_log_it_can_claim(saver: Any) -> None:
    """A saver that never wrote the thread learns the log from get_tuple's reply (a list
    kept in a log comes back as { reference, bytes }), and its next put claims it."""
    other = RedisSaver(redis_url=NOWHERE)
    try:
        big = messages(20)
        put = put_op(other, "t1", {"msgs": big}, {"msgs": "1"})
        put_call = one_call(put.send(None), "put_checkpoint")
        _, _, _, body = claim(blobs_of(put_call)["msgs:1"])
        r = ref(b"7", len(body), 20)
        returned(put, [[1, b"msgs:1", r]])
    finally:
        other.close()

    get = saver._ops.get_tuple(saver.serde, cfg("t1"))
    get.send(None)
    t = returned(get, [stored(put_call, {"msgs:1": (r, body)})])
    assert t.checkpoint["channel_values"]["msgs"] == big
    nxt = put_op(saver, "t1", {"msgs": [*big, *messages(21)[20:]]}, {"msgs": "2"})
    log, length, count, _ = claim(blobs_of(one_call(nxt.send(None), "put_checkpoint"))["msgs:2"])
    assert (log, length, count) == (b"7", len(body), 21)


# -- (3) list: page by page ----------------------------------------------------------------------


def rows_for(saver: Any, thread: str, n: int) -> tuple[list[str], list[Any]]:
    """n checkpoints of one thread as list_checkpoints returns them ({ {N, tuple}, ... },
    newest first): the ids, newest first, and the rows."""
    ids = sorted(new_id() for _ in range(n))[::-1]
    rows = []
    for i, cid in enumerate(ids):
        op = put_op(saver, thread, {"n": i}, {"n": "1"}, cid=cid)
        rows.append([b"", stored(one_call(op.send(None), "put_checkpoint"))])
        returned(op, [[1]])
    return ids, rows


def test_list_asks_for_the_next_page_below_the_last_id(saver: Any) -> None:
    ids, rows = rows_for(saver, "t1", PAGE + 3)
    op = saver._ops.list(saver.serde, cfg("t1"))
    call = one_call(op.send(None), "list_checkpoints")
    assert call.keys == ["checkpoint_ns:{t1}", "checkpoint_fence:{t1}"]
    # ARGV after the thread block: N, every namespace?, before, page size
    assert call.args[6:10] == ["", "0", "", PAGE]
    items, nxt = emitted(op, [rows[:PAGE]])
    assert [t.config["configurable"]["checkpoint_id"] for t in items] == ids[:PAGE]
    call = one_call(nxt, "list_checkpoints")
    assert call.args[8:10] == [ids[PAGE - 1], PAGE]  # before = the last id returned
    items, nxt = emitted(op, [rows[PAGE:]])  # a short page: the last
    assert [t.config["configurable"]["checkpoint_id"] for t in items] == ids[PAGE:]
    assert nxt is None


def test_list_stops_at_the_limit(saver: Any) -> None:
    ids, rows = rows_for(saver, "t1", 8)
    op = saver._ops.list(saver.serde, cfg("t1", None), limit=5)
    call = one_call(op.send(None), "list_checkpoints")
    assert call.args[7:10] == ["1", "", 5]  # every namespace, a page of the limit
    items, nxt = emitted(op, [rows[:5]])
    assert nxt is None  # a full page that reaches the limit: no more
    assert [t.config["configurable"]["checkpoint_id"] for t in items] == ids[:5]

    # a limit beyond a page: pages of PAGE, then what is left of the limit
    op = saver._ops.list(saver.serde, cfg("t1"), limit=PAGE + 2)
    assert one_call(op.send(None), "list_checkpoints").args[9] == PAGE
    more, more_rows = rows_for(saver, "t1", PAGE)
    _, nxt = emitted(op, [more_rows])
    assert one_call(nxt, "list_checkpoints").args[8:10] == [more[-1], 2]
    items, nxt = emitted(op, [rows[:2]])
    assert len(items) == 2 and nxt is None


def test_list_with_limit_0_sends_nothing(saver: Any) -> None:
    assert emitted(saver._ops.list(saver.serde, cfg("t1"), limit=0), None) == ([], None)


def test_list_everything_merges_the_servers_pages_up_to_what_all_examined(saver: Any) -> None:
    """list(None) is a FanOut (list_buckets on every server); a row is emitted once every
    server has examined everything newer than it (each reply's `next`), and the next round
    starts below the last row settled, for every server alike."""
    ids = sorted(new_id() for _ in range(5))[::-1]  # newest first: c0 > c1 > ... > c4

    def row(thread: str, cid: str) -> list[Any]:
        op = put_op(saver, thread, {"n": 1}, {"n": "1"}, cid=cid)
        r = stored(one_call(op.send(None), "put_checkpoint"))
        returned(op, [[1]])
        return [thread.encode(), b"", r]

    def member(thread: str, cid: str) -> str:
        return f"{cid}\n{thread}\n"

    op = saver._ops.list(saver.serde, None)
    fan = op.send(None)
    assert isinstance(fan, FanOut)
    (call,) = fan.build([""])
    assert call.script.name == "list_buckets" and call.keys == []
    assert call.args[2:4] == ["+", PAGE]  # from the top, a page
    # server A examined down to c2, server B down to c4 (it holds c1 and c4)
    a = [[row("ta", ids[0]), row("ta", ids[2])], "(" + member("ta", ids[2])]
    b = [[row("tb", ids[1]), row("tb", ids[4])], "(" + member("tb", ids[4])]
    items, fan = emitted(op, [[a], [b]])
    got = [(t.config["configurable"]["thread_id"], t.checkpoint["id"]) for t in items]
    assert got == [("ta", ids[0]), ("tb", ids[1]), ("ta", ids[2])]  # not c4: A may hold c3
    assert isinstance(fan, FanOut)
    (call,) = fan.build([""])
    assert call.args[2] == "(" + member("ta", ids[2])
    # both exhausted ("" for next): the rest is final
    items, fan = emitted(op, [[[[row("ta", ids[3])], ""]], [[[row("tb", ids[4])], ""]]])
    assert [t.checkpoint["id"] for t in items] == [ids[3], ids[4]]
    assert fan is None


# -- (4) NOSCRIPT: the script goes again, whole --------------------------------------------------


def script_call(saver: Any) -> Eval:
    return one_call(saver._ops.get_tuple(saver.serde, cfg("t1")).send(None), "get_checkpoint")


def test_needs_resend_tells_noscript_from_other_errors(saver: Any) -> None:
    call = script_call(saver)
    noscript = NoScriptError("NOSCRIPT No matching script. Please use EVAL.")
    assert needs_resend(call, noscript) is True
    assert needs_resend(call, [b"a reply"]) is False
    assert needs_resend(call, None) is False
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        needs_resend(call, ResponseError("WRONGTYPE Operation against a key"))
    with pytest.raises(NoScriptError):  # a plain command has no script to send whole
        needs_resend(Cmd(("GET", "k")), noscript)
    # setup tolerates a refused INFO or CONFIG (least-privilege users): no raise, no re-send
    assert needs_resend(Cmd(("INFO", "server")), ResponseError("NOPERM")) is False


def test_scripts_go_by_sha_and_whole_when_resent_or_in_a_transaction(saver: Any) -> None:
    call = script_call(saver)
    sha, body = call.script.sha, call.script.source
    assert wire(call) == ("EVALSHA", sha, 3, *call.keys, *call.args)
    assert resend(call) == ("EVAL", body, 3, *call.keys, *call.args)
    assert sent(call, RoundTrip([call])) == wire(call)
    assert sent(call, RoundTrip([call], transaction=True)) == resend(call)
    assert sent(Cmd(("GET", "k")), RoundTrip([Cmd(("GET", "k"))])) == ("GET", "k")


class FakeServer:
    """A server's script cache and nothing else: EVALSHA of a script it lacks answers
    NOSCRIPT, EVAL caches the script (as Redis does). Records every command."""

    def __init__(self) -> None:
        self.scripts: set[str] = set()
        self.log: list[tuple[Any, ...]] = []

    def run(self, *args: Any) -> Any:
        import hashlib

        self.log.append(args)
        if args[0] == "EVALSHA":
            if args[1] not in self.scripts:
                return NoScriptError("NOSCRIPT No matching script. Please use EVAL.")
            return [b"ran", args[1]]
        if args[0] == "EVAL":
            sha = hashlib.sha1(args[1].encode()).hexdigest()
            self.scripts.add(sha)
            return [b"ran", sha]
        return b"OK"


class SyncClient:
    def __init__(self, server: FakeServer) -> None:
        self.server = server

    def execute_command(self, *args: Any, **_: Any) -> Any:
        reply = self.server.run(*args)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def pipeline(self, transaction: bool = False) -> Any:
        return SyncPipeline(self.server)


class SyncPipeline:
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.cmds: list[tuple[Any, ...]] = []

    def __enter__(self) -> SyncPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute_command(self, *args: Any) -> None:
        self.cmds.append(args)

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        assert not raise_on_error
        return [self.server.run(*c) for c in self.cmds]


def test_noscript_in_a_pipeline_resends_the_script_body(saver: Any) -> None:
    call = script_call(saver)
    server = FakeServer()
    replies = round_trip_sync(SyncClient(server), RoundTrip([call, Cmd(("PING",))]))
    assert replies == [[b"ran", call.script.sha], b"OK"]
    sent_words = [c[0] for c in server.log]
    assert sent_words[:2] == ["EVALSHA", "PING"]  # the pipeline, by SHA
    assert "EVAL" in sent_words[2:]  # then the script alone, whole
    whole = next(c for c in server.log if c[0] == "EVAL")
    assert whole == ("EVAL", call.script.source, 3, *call.keys, *call.args)
    assert sent_words.count("PING") == 1  # the commands that ran are not sent again
    # the script is cached now: the next round trip goes by SHA only
    server.log.clear()
    assert round_trip_sync(SyncClient(server), RoundTrip([call])) == [[b"ran", call.script.sha]]
    assert [c[0] for c in server.log] == ["EVALSHA"]


def test_noscript_alone_resends_the_script_body_async(saver: Any) -> None:
    call = script_call(saver)
    server = FakeServer()

    class AsyncClient:
        async def execute_command(self, *args: Any, **_: Any) -> Any:
            return SyncClient(server).execute_command(*args)

    replies = asyncio.run(round_trip_async(AsyncClient(), RoundTrip([call])))
    assert replies == [[b"ran", call.script.sha]]
    assert [c[0] for c in server.log] == ["EVALSHA", "EVAL"]
    assert server.log[1][1] == call.script.source


# -- (5) the store ------------------------------------------------------------------------------


@pytest.fixture
def store() -> Any:
    s = RedisStore(redis_url=NOWHERE)
    yield s
    s.close()


def test_store_put_is_one_script_call_on_the_namespaces_slot(store: Any) -> None:
    ops = store._ops
    batch = ops.batch([PutOp(("users", "u1"), "k1", {"name": "a"})])
    call = one_call(batch.send(None), "store_put")
    assert call.keys == ["store:{users:u1}:k1", "store_fence"]
    nse, key, vbytes, ttl, vectors, vtype = call.args[:6]
    assert (nse, key, ttl, vectors) == ("users:u1", "k1", 0, b"")
    assert ops.serde.loads_typed((vtype, vbytes)) == {"name": "a"}
    assert returned(batch, [0]) == [None]  # store_put: 1 when the item existed, else 0


def test_store_put_refused_for_its_dimensions_raises_valueerror(store: Any) -> None:
    batch = store._ops.batch([PutOp(("ns",), "k", {"a": 1})])
    batch.send(None)
    with pytest.raises(ValueError, match="dimensions"):
        batch.send([ResponseError("DIMS the store's vectors have 3 dimensions")])


def test_store_get_is_one_script_call_and_reads_the_reply(store: Any) -> None:
    ops = store._ops
    batch = ops.batch([GetOp(("users",), "k1"), GetOp(("users",), "gone")])
    msg = batch.send(None)
    assert isinstance(msg, RoundTrip) and len(msg.cmds) == 2  # both reads in one round trip
    assert [c.script.name for c in msg.cmds] == ["store_get", "store_get"]
    assert msg.cmds[0].keys == ["store:{users}:k1", "store_fence"]
    vtype, vbytes = ops.serde.dumps_typed({"name": "a"})
    c, u = 1_700_000_000_000_000, 1_700_000_000_500_000  # microseconds (store_put-2.lua)
    # store_get: { y, v, c, u } for a get, nil when absent
    item, gone = returned(batch, [[vtype.encode(), vbytes, str(c).encode(), str(u).encode()], None])
    assert gone is None
    assert (item.namespace, item.key, item.value) == (("users",), "k1", {"name": "a"})
    assert item.created_at.timestamp() == c / 1e6 and item.updated_at.timestamp() == u / 1e6


def test_store_batch_reads_before_its_puts(store: Any) -> None:
    """A batch's reads see the store as before its puts: one round trip of reads, then one
    of puts; of two puts of one item the last wins."""
    ops = store._ops
    batch = ops.batch(
        [
            PutOp(("ns",), "k", {"v": 1}),
            GetOp(("ns",), "k"),
            PutOp(("ns",), "k", {"v": 2}),
        ]
    )
    assert [c.script.name for c in batch.send(None).cmds] == ["store_get"]
    puts = batch.send([None])
    call = one_call(puts, "store_put")
    assert ops.serde.loads_typed((call.args[5], call.args[2])) == {"v": 2}
    assert returned(batch, [0]) == [None, None, None]


def page_row(ops: Any, nse: str, key: str, value: Any, seq: int) -> list[Any]:
    """One row of store_search's page mode: {N, nsseq, K, seq, {y, v}, c, u, ttl, verdict}."""
    vtype, vbytes = ops.serde.dumps_typed(value)
    c = str(1_700_000_000_000_000 + seq).encode()
    return [nse.encode(), b"1", key.encode(), seq, [vtype.encode(), vbytes], c, c, False, 1]


def test_store_search_is_one_script_call(store: Any) -> None:
    ops = store._ops
    batch = ops.batch([SearchOp(("docs",), limit=2, offset=1, refresh_ttl=False)])
    call = one_call(batch.send(None), "store_search")
    assert call.keys == []  # a fan-out script: it reads the store's listing
    assert call.args[2] == "docs" and call.args[4:9] == ["page", 1, 2, "0", "1"]
    rows = [page_row(ops, "docs", f"k{i}", {"i": i}, i) for i in range(3)]
    # store_search: { rows, stopped, armed, dims }; the walk stopped at offset + limit
    (found,) = returned(batch, [[rows, 1, 0, False]])
    assert [(x.key, x.value) for x in found] == [("k1", {"i": 1}), ("k2", {"i": 2})]


def test_store_search_walks_again_when_the_client_rejects_a_sure_match(store: Any) -> None:
    """cmsgpack reads bytes as a string, so the script may count a bytes value as a sure
    match of a string filter and stop; the client's own check rejects it and asks again,
    walking every item (ARGV[9] "0") and re-arming nothing itself (ARGV[8] "0")."""
    ops = store._ops
    op = SearchOp(("docs",), filter={"kind": "a"}, limit=2, refresh_ttl=True)
    batch = ops.batch([op])
    first = one_call(batch.send(None), "store_search")
    assert first.args[7:9] == ["1", "1"]
    rows = [
        page_row(ops, "docs", "k0", {"kind": "a"}, 0),
        page_row(ops, "docs", "k1", {"kind": b"a"}, 1),  # sure for the script, not for us
    ]
    again = one_call(batch.send([[rows, 1, 1, False]]), "store_search")
    assert again.args[7:9] == ["0", "0"]
    assert again.args[:7] == first.args[:7]
    rows.append(page_row(ops, "docs", "k2", {"kind": "a"}, 2))
    (found,) = returned(batch, [[rows, 0, 0, False]])
    assert [x.key for x in found] == ["k0", "k2"]
