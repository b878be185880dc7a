"""The incumbent (langgraph-checkpoint-redis 0.5.2) for the migration tests, from PyPI alone.

It has our import path, so it lives in a venv of its own: `anchor_python()` makes it once
(cached under $ANCHOR_VENV, default ~/.cache/anchor-venv). `stack_server()` starts Redis Stack
7.4 with both modules the incumbent needs (RediSearch and RedisJSON). `write_incumbent_data()`
runs `WRITER` with the incumbent's python: real LangGraph graphs and the incumbent's store write
through the incumbent's own classes, and what the incumbent reads back is pickled for the test
to compare with what our savers return after the migration.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

from langgraph.checkpoint.redis.embedded import EmbeddedServer

from . import stack

INCUMBENT = ("langgraph==1.2.22", "langgraph-checkpoint-redis==0.5.2")


def anchor_dir() -> Path:
    return Path(os.environ.get("ANCHOR_VENV", Path.home() / ".cache" / "anchor-venv"))


def anchor_python() -> Path:
    """The incumbent's python, making its venv the first time (minutes: pip from PyPI)."""
    venv = anchor_dir()
    py = venv / "bin" / "python"
    probe = [str(py), "-c", "import langgraph.checkpoint.redis, langgraph.store.redis"]
    if py.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return py
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *INCUMBENT],
        check=True,
    )
    subprocess.run(probe, check=True)
    return py


def stack_server() -> EmbeddedServer:
    """A started Redis Stack 7.4 with RediSearch and RedisJSON loaded (the incumbent's needs)."""
    server, search, ssl = stack.install()
    rejson = search.parent / "rejson.so"
    env = {**os.environ, "LD_LIBRARY_PATH": str(ssl)}
    extra = ["--loadmodule", str(search), "--loadmodule", str(rejson)]
    return EmbeddedServer(binary=str(server), extra_args=extra, env=env).start()


def write_incumbent_data(
    url: str, out: Path, *, long_steps: int = 20, read_only: bool = False
) -> dict[str, Any]:
    """Run WRITER in the incumbent's venv against `url`; return what it read back.
    `read_only`: write nothing, only read the full savers' threads back (the "threads" key)."""
    py = anchor_python()
    mode = "read" if read_only else "write"
    proc = subprocess.run(
        [str(py), "-c", WRITER, url, str(out), str(long_steps), mode],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"incumbent writer failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    with open(out, "rb") as f:
        return pickle.load(f)


def write_value_types(url: str, out: Path) -> dict[str, Any]:
    """Run TYPES_WRITER in the incumbent's venv: one thread per value type, put straight
    through its RedisSaver (a channel value and two pending writes each), read back."""
    proc = subprocess.run(
        [str(anchor_python()), "-c", TYPES_WRITER, url, str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"incumbent types writer failed:\n{proc.stderr[-5000:]}")
    with open(out, "rb") as f:
        return pickle.load(f)


# Runs in the incumbent's venv. The JSON serializer's special cases: nested bytes (its msgpack
# fallback, then `__bytes__` markers), sets, Send, Interrupt, tuples, NUL characters, messages
# with tool calls. (A 2**70 int is left out: the incumbent cannot store one.)
TYPES_WRITER = r"""
import pickle, sys, warnings

warnings.filterwarnings("ignore")
from langchain_core.messages import HumanMessage, AIMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.redis import RedisSaver
from langgraph.types import Interrupt, Send
url, out = sys.argv[1], sys.argv[2]
values = {
    "bytes_nested": {"raw": b"\x00\xffbin", "n": 1},
    "raw_bytes": b"\x01\x02",
    "a_set": {1, 2, 3},
    "sends": [Send("node", {"x": 1})],
    "interrupts": [Interrupt(value={"q": 1}, id="i1")],
    "tuple": (1, "a"),
    "none": None,
    "unicode": "h\u00e9llo \u2603 \x00nul",
    "float": 1.5,
    "msgs": [
        HumanMessage("hi", id="m1"),
        AIMessage("yo", id="m2", tool_calls=[{"name": "f", "args": {"a": 1}, "id": "c1"}]),
    ],
    "nested": {"deep": [{"a": [1, {"b": None}]}]},
}
rows = {}
with RedisSaver.from_conn_string(url) as saver:
    saver.setup()
    for i, (k, v) in enumerate(values.items()):
        t = f"types-{k}"
        cp = empty_checkpoint()
        cp["channel_values"] = {k: v}
        cp["channel_versions"] = {k: saver.get_next_version(None, None)}
        md = {"source": "input", "step": -1, "parents": {}, "k": k}
        conf = {"configurable": {"thread_id": t, "checkpoint_ns": ""}}
        cfg = saver.put(conf, cp, md, cp["channel_versions"])
        saver.put_writes(cfg, [(k, v), ("other", v)], "task-1", "path-1")
        tup = saver.get_tuple({"configurable": {"thread_id": t, "checkpoint_ns": ""}})
        rows[t] = {"values": tup.checkpoint["channel_values"], "writes": tup.pending_writes,
                   "metadata": tup.metadata}
with open(out, "wb") as f:
    pickle.dump({"rows": rows, "original": values}, f)
"""


# Runs in the incumbent's venv (langgraph 1.2.22, langgraph-checkpoint-redis 0.5.2).
# argv: url, output path, steps of the long thread.
WRITER = r"""
import operator, pickle, sys, warnings
from typing import Annotated, TypedDict

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.redis import RedisSaver, ShallowRedisSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.store.redis import RedisStore
from langgraph.types import Command, interrupt

warnings.filterwarnings("ignore")
url, out, long_steps, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
THREADS = ["done-0", "done-1", "done-2", "pending", "user:42:chat", "fork", "long"]


class State(TypedDict):
    messages: Annotated[list, add_messages]
    count: Annotated[int, operator.add]
    tags: list


def inner(state):
    n = len(state["messages"])
    return {"messages": [AIMessage(content="from the subgraph", id=f"sub-{n}")]}


sub = StateGraph(State).add_node("inner", inner).add_edge(START, "inner").compile()


def chat(state):
    n = len(state["messages"])
    return {"messages": [AIMessage(content=f"echo {n}", id=f"ai-{n}")], "count": 1,
            "tags": ["t", n]}


def ask(state):
    answer = interrupt({"question": "go on?", "seen": len(state["messages"])})
    return {"messages": [HumanMessage(content=f"answer: {answer}", id=f"ans-{answer}")]}


def graph(saver):
    b = StateGraph(State)
    b.add_node("chat", chat).add_node("sub", sub).add_node("ask", ask)
    b.add_edge(START, "chat").add_edge("chat", "sub").add_edge("sub", "ask").add_edge("ask", END)
    return b.compile(checkpointer=saver)


def loop_graph(saver):
    def step(state):
        n = len(state["messages"])
        return {"messages": [AIMessage(content=f"step {n} " + "x" * 50, id=f"l-{n}")],
                "count": 1}

    def more(state):
        return "step" if state["count"] < long_steps else END

    b = StateGraph(State).add_node("step", step)
    b.add_edge(START, "step").add_conditional_edges("step", more)
    return b.compile(checkpointer=saver)


def cfg(t, **md):
    return {"configurable": {"thread_id": t}, "metadata": md, "recursion_limit": 10_000}


def first(msg_id):
    return {"messages": [HumanMessage(content="hi", id=msg_id)], "count": 0, "tags": []}


def dump_thread(saver, thread_id):
    seen, rows = set(), []
    for tup in saver.list({"configurable": {"thread_id": thread_id}}):
        c = tup.config["configurable"]
        key = (c.get("checkpoint_ns", ""), c["checkpoint_id"])
        if key in seen:
            continue
        seen.add(key)
        full = saver.get_tuple({"configurable": {"thread_id": thread_id,
                                                 "checkpoint_ns": key[0],
                                                 "checkpoint_id": key[1]}})
        rows.append({"config": full.config, "parent_config": full.parent_config,
                     "checkpoint": full.checkpoint, "metadata": full.metadata,
                     "pending_writes": full.pending_writes})
    return rows


threads, shallow_threads = {}, {}
if mode == "read":
    with RedisSaver.from_conn_string(url) as saver:
        saver.setup()  # its readers need what setup() builds (the key registry)
        threads = {t: dump_thread(saver, t) for t in THREADS}
    with open(out, "wb") as f:
        pickle.dump({"threads": threads}, f)
    sys.exit(0)

with RedisSaver.from_conn_string(url) as saver:
    saver.setup()
    g = graph(saver)
    for i in range(3):  # finished threads: interrupted, then resumed
        t = f"done-{i}"
        g.invoke(first(f"h-{i}"), cfg(t, user=f"u{i}", tenant="acme"))
        g.invoke(Command(resume=f"yes{i}"), cfg(t, user=f"u{i}"))
    # waiting at the interrupt: its pending writes must survive the migration
    g.invoke(first("h-p"), cfg("pending", user="p"))
    g.invoke(first("h-c"), cfg("user:42:chat", user="colon"))  # ':' in a thread id
    # time travel: fork an earlier checkpoint with a state update, then run the fork
    t = "fork"
    g.invoke(first("h-f"), cfg(t))
    g.invoke(Command(resume="first"), cfg(t))
    hist = list(g.get_state_history(cfg(t)))
    early = [s for s in hist if s.next == ("sub",)][0]
    forked = g.update_state(early.config, {"messages": [HumanMessage("edited", id="edit")]})
    g.invoke(None, forked)
    g.invoke(Command(resume="second"), forked | {"metadata": {}})
    lg = loop_graph(saver)
    lg.invoke(first("h-l"), cfg("long", kind="loop"))
    threads = {t: dump_thread(saver, t) for t in THREADS}
    pending_state = g.get_state(cfg("pending")).values

with ShallowRedisSaver.from_conn_string(url) as shallow:
    shallow.setup()
    g = graph(shallow)
    g.invoke(first("s-1"), cfg("shallow-done"))
    g.invoke(Command(resume="ok"), cfg("shallow-done"))
    g.invoke(first("s-2"), cfg("shallow-pending"))
    for t in ["shallow-done", "shallow-pending"]:
        tup = shallow.get_tuple({"configurable": {"thread_id": t, "checkpoint_ns": ""}})
        shallow_threads[t] = {"checkpoint": tup.checkpoint, "metadata": tup.metadata,
                              "pending_writes": tup.pending_writes}

items = [
    (("users", "1"), "prefs", {"theme": "dark", "n": 1}, None),
    (("users", "1"), "profile", {"name": "Ada", "langs": ["py", "lisp"]}, None),
    (("users", "2"), "prefs", {"theme": "light", "nested": {"a": [1, 2]}}, None),
    (("docs",), "d1", {"text": "hello world"}, None),
    (("docs", "sub-2"), "d2", {"text": "a dash-label: here"}, None),
    (("cache",), "tmp", {"v": 1}, 120.0),
    (("chat", "memories"), "m1", {"msg": HumanMessage(content="remember me", id="mem")}, None),
]
store_read = {}
with RedisStore.from_conn_string(url) as store:
    store.setup()
    for ns, key, value, ttl in items:
        store.put(ns, key, value, ttl=ttl)
    store.delete(("users", "2"), "prefs")
    store.put(("users", "2"), "prefs", {"theme": "blue"})
    for ns, key, _, _ in items:
        got = store.get(ns, key)
        store_read[(ns, key)] = None if got is None else got.value

expected_items = {(ns, k): v for ns, k, v, _ in items}
expected_items[(("users", "2"), "prefs")] = {"theme": "blue"}
with open(out, "wb") as f:
    pickle.dump({"threads": threads, "shallow": shallow_threads, "pending_state": pending_state,
                 "items": expected_items, "item_ttls": {(ns, k): t for ns, k, _, t in items},
                 "store_read": store_read}, f)
"""
