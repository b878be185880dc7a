"""`langgraph-redis`: look into (and tidy) the checkpoints and the store a server holds.

People get rich tables and, on a terminal, progress bars on stderr; programs get `--json`
(one JSON document per command, JSON lines for `export`). Everything about one thread goes
through the saver's public methods (get_tuple, list, prune, delete_thread, pin_thread,
unpin_thread), so what the tool shows is exactly what a graph would read; the questions about
all threads walk the key space (inspector.py), and `check` runs the consistency walk the
tests run (check.py). Failures the user can fix (no server, a refused password, another
storage format, an unknown thread) are one line on stderr and exit code 2, never a
traceback, and never with the URL's password in it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.store.base import Item
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from .inspector import InspectError, Inspector

INTERRUPT = "__interrupt__"
"""The channel of interrupt writes (langgraph's private constant, stable across 0.x-1.x)."""

PREVIEW = 60
"""Characters of a value shown in a table cell; --json has them whole."""


class CliError(Exception):
    """A refusal printed as one line, exit code 2."""


# -- values as JSON --------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """A decoded channel value as JSON: plain data as is, LangChain objects (messages,
    documents) through `dumpd` (their own, versioned JSON form), dataclasses and pydantic
    models by their fields, dates as ISO strings, anything else as its repr (exported data
    stays readable, even when it cannot be rebuilt)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return [jsonable(v) for v in sorted(value, key=repr)]
    try:
        from langchain_core.load import Serializable, dumpd

        if isinstance(value, Serializable):
            return dumpd(value)
    except ImportError:  # pragma: no cover - langchain_core comes with langgraph
        pass
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return jsonable(dump(mode="json"))
        except Exception:
            pass
    return repr(value)


def _dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, default=repr)


def preview(value: Any, width: int = PREVIEW) -> str:
    text = _dumps(jsonable(value))
    return text if len(text) <= width else text[: width - 1] + "…"


# -- the URL ---------------------------------------------------------------------------------


def redact(url: str) -> str:
    """The URL without its password (and a sentinel_password query value)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        cred, _, host = netloc.rpartition("@")
        user = cred.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in cred else f"{user}@{host}"
    query = "&".join(
        (q.split("=", 1)[0] + "=***") if "password" in q.split("=", 1)[0].lower() else q
        for q in parts.query.split("&")
        if q
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secrets(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [parts.password] if parts.password else []
    for q in parts.query.split("&"):
        k, _, v = q.partition("=")
        if "password" in k.lower() and v:
            found.append(v)
    return found


def _scrub(text: str, url: str | None) -> str:
    for s in _secrets(url or ""):
        text = text.replace(s, "***")
    return text


# -- output ----------------------------------------------------------------------------------


class Out:
    """Where a command's answer goes: JSON on stdout, or rich tables; progress on stderr."""

    def __init__(self, as_json: bool) -> None:
        self.json = as_json
        self.console = Console(file=sys.stdout, highlight=False, soft_wrap=False)
        self.err = Console(file=sys.stderr, highlight=False)

    def doc(self, doc: Any) -> None:
        sys.stdout.write(_dumps(doc) + "\n")

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        t = Table(title=title, title_justify="left")
        for c in columns:
            t.add_column(c, overflow="fold")
        for r in rows:
            t.add_row(*("" if x is None else escape(str(x)) for x in r))
        self.console.print(t)

    def line(self, text: str) -> None:
        self.console.print(escape(text))

    @contextmanager
    def progress(self, what: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """A progress bar on stderr while a walk runs (only on a terminal: a pipe or a log
        file gets nothing)."""
        bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
            disable=not sys.stderr.isatty(),
        )
        with bar:
            task = bar.add_task(what, total=total)
            yield lambda n: bar.advance(task, n)


def _size(n: int | None) -> str:
    if n is None:
        return ""
    size: float = n  # an int until divided: "B" shows it as one
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)  # pragma: no cover


def _when(ts: str | None) -> str:
    """A checkpoint's ISO time, short for a table cell (UTC, to the second)."""
    if not ts:
        return ""
    try:
        t = dt.datetime.fromisoformat(ts).astimezone(dt.timezone.utc)
    except ValueError:
        return ts
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _ttl(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s}s"


# -- commands --------------------------------------------------------------------------------


def _config(thread: str, ns: str | None = None, cid: str | None = None) -> RunnableConfig:
    conf: dict[str, Any] = {"thread_id": thread}
    if ns is not None:
        conf["checkpoint_ns"] = ns
    if cid is not None:
        conf["checkpoint_id"] = cid
    return {"configurable": conf}


def _parent(tup: CheckpointTuple) -> str | None:
    cid: str | None = (tup.parent_config or {}).get("configurable", {}).get("checkpoint_id")
    return cid


def cmd_threads(ins: Inspector, args: argparse.Namespace, out: Out) -> int:
    with out.progress("scanning keys", ins.total_keys()) as step:
        rows = ins.threads(limit=args.limit, progress=step)
    if out.json:
        out.doc(rows)
        return 0
    out.table(
        f"{len(rows)} thread(s), newest first",
        ["thread", "checkpoints", "ns", "last step", "updated", "bytes", "TTL left", "pinned"],
        [
            (
                r["thread_id"],
                r["checkpoints"],
                len(r["namespaces"]),
                r["last_step"],
                _when(r["updated"]),
                _size(r["bytes"]),
                _ttl(r["ttl_s"]),
                "yes" if r["pinned"] else "",
            )
            for r in rows
        ],
    )
    return 0


def _history_row(tup: Any) -> dict[str, Any]:
    md = tup.metadata or {}
    conf = tup.config["configurable"]
    return {
        "checkpoint_id": conf["checkpoint_id"],
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "parent_id": _parent(tup),
        "step": md.get("step"),
        "source": md.get("source"),
        "writes": len(tup.pending_writes or ()),
        "created": tup.checkpoint.get("ts"),
    }


def cmd_history(ins: Inspector, args: argparse.Namespace, out: Out) -> int:
    ins.require_thread(args.thread)
    tuples = ins.saver.list(_config(args.thread, args.ns), limit=args.limit)
    rows = [_history_row(t) for t in tuples]
    if out.json:
        out.doc(rows)
        return 0
    out.table(
        f"thread {args.thread}: {len(rows)} checkpoint(s), newest first",
        ["checkpoint", "ns", "parent", "step", "source", "writes", "created"],
        [
            (
                r["checkpoint_id"],
                r["checkpoint_ns"],
                r["parent_id"],
                r["step"],
                r["source"],
                r["writes"],
                _when(r["created"]),
            )
            for r in rows
        ],
    )
    return 0


def _get(ins: Inspector, thread: str, cid: str | None, ns: str) -> Any:
    tup = ins.saver.get_tuple(_config(thread, ns, cid))
    if tup is None:
        what = f"checkpoint {cid!r}" if cid else "checkpoint"
        raise CliError(f"no {what} in thread {thread!r}, namespace {ns!r}")
    return tup


def _interrupts(tup: Any) -> list[Any]:
    found: list[Any] = []
    for task_id, channel, value in tup.pending_writes or ():
        if channel == INTERRUPT:
            for v in value if isinstance(value, list | tuple) else [value]:
                found.append({"task_id": task_id, **_as_dict(jsonable(v))})
    return found


def _as_dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {"value": v}


def _show_doc(tup: Any) -> dict[str, Any]:
    conf = tup.config["configurable"]
    return {
        "thread_id": conf["thread_id"],
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf["checkpoint_id"],
        "parent_id": _parent(tup),
        "created": tup.checkpoint.get("ts"),
        "metadata": jsonable(tup.metadata),
        "values": {k: jsonable(v) for k, v in tup.checkpoint["channel_values"].items()},
        "pending_writes": [
            {"task_id": t, "channel": c, "value": jsonable(v)} for t, c, v in tup.pending_writes
        ],
        "interrupts": _interrupts(tup),
    }


def cmd_show(ins: Inspector, args: argparse.Namespace, out: Out) -> int:
    ins.require_thread(args.thread)
    tup = _get(ins, args.thread, args.checkpoint, args.ns)
    doc = _show_doc(tup)
    if out.json:
        out.doc(doc)
        return 0
    values = tup.checkpoint["channel_values"]
    out.line(
        f"thread {doc['thread_id']}  ns {doc['checkpoint_ns']!r}  checkpoint "
        f"{doc['checkpoint_id']}  parent {doc['parent_id']}  created {doc['created']}"
    )
    out.table("metadata", ["key", "value"], [(k, preview(v)) for k, v in tup.metadata.items()])
    out.table(
        "channel values",
        ["channel", "type", "value"],
        [(k, _type_of(v), preview(v)) for k, v in values.items()],
    )
    if tup.pending_writes:
        out.table(
            "pending writes",
            ["task", "channel", "value"],
            [(t, c, preview(v)) for t, c, v in tup.pending_writes],
        )
    if doc["interrupts"]:
        out.table(
            "interrupts",
            ["task", "interrupt"],
            [(i["task_id"], preview(i)) for i in doc["interrupts"]],
        )
    return 0


def _type_of(v: Any) -> str:
    if isinstance(v, list | tuple):
        return f"{type(v).__name__}[{len(v)}]"
    return type(v).__name__


def diff_values(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Channel by channel, from `a` to `b` (JSON forms): added, removed, changed, or for a list
    that only grew, appended (with the new items); unchanged channels are left out."""
    out: dict[str, dict[str, Any]] = {}
    for ch in sorted(set(a) | set(b)):
        if ch not in a:
            out[ch] = {"change": "added", "after": b[ch]}
        elif ch not in b:
            out[ch] = {"change": "removed", "before": a[ch]}
        elif a[ch] != b[ch]:
            va, vb = a[ch], b[ch]
            if isinstance(va, list) and isinstance(vb, list) and vb[: len(va)] == va:
                new = vb[len(va) :]
                out[ch] = {"change": "appended", "count": len(new), "items": new}
            else:
                out[ch] = {"change": "changed", "before": va, "after": vb}
    return out


def _diff_rows(changes: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    rows = []
    for ch, d in changes.items():
        if d["change"] == "appended":
            rows.append((ch, f"appended {d['count']}", preview(d["items"])))
        elif d["change"] == "changed":
            rows.append((ch, "changed", f"{preview(d['before'], 28)} → {preview(d['after'], 28)}"))
        elif d["change"] == "added":
            rows.append((ch, "added", preview(d["after"])))
        else:
            rows.append((ch, "removed", preview(d["before"])))
    return rows


def cmd_diff(ins: Inspector, args: argparse.Namespace, out: Out) -> int:
    """`diff T` (the latest against its parent), `diff T B` (B against its parent), `diff T A B`
    (A to B, any two of the thread, in that direction)."""
    ins.require_thread(args.thread)
    if args.b is None:
        b = _get(ins, args.thread, args.a, args.ns)
        parent = _parent(b)
        if parent is None:
            raise CliError(
                f"checkpoint {b.config['configurable']['checkpoint_id']!r} has no parent"
            )
        a = _get(ins, args.thread, parent, args.ns)
    else:
        a = _get(ins, args.thread, args.a, args.ns)
        b = _get(ins, args.thread, args.b, args.ns)
    da, db = _show_doc(a), _show_doc(b)
    channels = diff_values(da["values"], db["values"])
    meta = diff_values(da["metadata"], db["metadata"])
    doc = {
        "thread_id": args.thread,
        "checkpoint_ns": args.ns,
        "a": da["checkpoint_id"],
        "b": db["checkpoint_id"],
        "channels": channels,
        "unchanged": sorted(set(da["values"]) & set(db["values"]) - set(channels)),
        "metadata": meta,
    }
    if out.json:
        out.doc(doc)
        return 0
    rows = _diff_rows(channels)
    out.table(f"{doc['a']} → {doc['b']}", ["channel", "change", "detail"], rows)
    if doc["unchanged"]:
        out.line(f"unchanged: {', '.join(doc['unchanged'])}")
    if meta:
        out.table(
            "metadata",
            ["key", "change", "detail"],
            _diff_rows(meta),
        )
    return 0


def cmd_export(ins: Inspector, args: argparse.Namespace, out: Out) -> int:
    """JSON lines, oldest first (the order to replay them in), whatever --json says."""
    ins.require_thread(args.thread)
    tuples = list(ins.saver.list(_config(args.thread, args.ns)))
    for tup in reversed(tuples):
        sys.stdout.write(_dumps(_show_doc(tup)) + "\n")
    return 0


def cmd_stats(ins: Inspector, args: argparse.Namespace, out: Out) -> int:
    with out.progress("measuring keys", ins.total_keys()) as step:
        doc = ins.stats(top=args.top, progress=step)
    if out.json:
        out.doc(doc)
        return 0
    out.line(f"{doc['keys']} keys, {_size(doc['bytes'])}, {doc['threads']} thread(s)")
    out.table(
        "by key family",
        ["family", "keys", "bytes"],
        [(f["family"], f["keys"], _size(f["bytes"])) for f in doc["families"]],
    )
    out.table(
        "largest threads",
        ["thread", "keys", "bytes"],
        [(t["thread_id"], t["keys"], _size(t["bytes"])) for t in doc["largest_threads"]],
    )
    return 0


def cmd_check(ins: Inspector, args: argparse.Namespace, out: Out) -> int:
    from . import check

    with out.progress("reading keys", ins.total_keys()) as step:
        n, found = check.problems(
            ins.client,
            ins.space.prefix,
            ins.space.write_prefix,
            swept=args.swept,
            serde=ins.serde,
            atomic=args.atomic,
            cross_flag=ins.saver._driver is not None and ins.saver._driver.cross,
            progress=step,
        )
    if out.json:
        out.doc({"ok": not found, "keys": n, "problems": found})
    elif found:
        out.table(f"{len(found)} problem(s) in {n} keys", ["problem"], [(p,) for p in found])
    else:
        out.line(f"ok: {n} keys, no problem found")
    return 1 if found else 0


def _confirm(what: str, args: argparse.Namespace) -> None:
    """Destructive commands ask on a terminal unless --yes; a script (no terminal) has
    stated its intent by running the command."""
    if args.yes or not sys.stdin.isatty():
        return
    sys.stderr.write(f"{what}? [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise CliError("cancelled")


def _count(ins: Inspector, thread: str) -> int:
    th = ins.space.thread(thread, ins.grouped)
    return sum(int(ins.client.zcard(th.idx + n.decode())) for n in ins.client.smembers(th.ns_set))


def cmd_prune(ins: Inspector, args: argparse.Namespace, out: Out) -> int:
    for t in args.threads:
        ins.require_thread(t)
    _confirm(f"prune {len(args.threads)} thread(s) to the {args.keep} latest checkpoint(s)", args)
    before = {t: _count(ins, t) for t in args.threads}
    ins.saver.prune(args.threads, keep_last=args.keep)
    rows = []
    for t in args.threads:
        left = _count(ins, t) if args.keep else 0
        rows.append(
            {"thread_id": t, "before": before[t], "kept": left, "removed": before[t] - left}
        )
    if out.json:
        out.doc(rows)
    else:
        out.table(
            "pruned", ["thread", "before", "kept", "removed"], [tuple(r.values()) for r in rows]
        )
    return 0


def cmd_delete(ins: Inspector, args: argparse.Namespace, out: Out) -> int:
    for t in args.threads:
        ins.require_thread(t)
    _confirm(f"delete {len(args.threads)} thread(s) and all their checkpoints", args)
    rows = []
    for t in args.threads:
        n = _count(ins, t)
        ins.saver.delete_thread(t)
        rows.append({"thread_id": t, "removed": n})
    if out.json:
        out.doc(rows)
    else:
        out.table("deleted", ["thread", "checkpoints removed"], [tuple(r.values()) for r in rows])
    return 0


def cmd_pin(ins: Inspector, args: argparse.Namespace, out: Out) -> int:
    ins.require_thread(args.thread)
    pinned = args.command == "pin"
    ok = ins.saver.pin_thread(args.thread) if pinned else ins.saver.unpin_thread(args.thread)
    if not ok:
        raise CliError(f"no thread {args.thread!r} under prefix {ins.space.prefix!r}")
    th = ins.space.thread(args.thread, ins.grouped)
    pttl = int(ins.client.pttl(th.ns_set))
    doc = {
        "thread_id": args.thread,
        "pinned": pinned,
        "ttl_s": None if pttl < 0 else round(pttl / 1000, 3),
    }
    if out.json:
        out.doc(doc)
    else:
        out.line(
            f"thread {args.thread} {'pinned' if pinned else 'unpinned'}, TTL {_ttl(doc['ttl_s'])}"
        )
    return 0


# -- the store -------------------------------------------------------------------------------


def _ns_arg(text: str) -> tuple[str, ...]:
    """A namespace on the command line: labels joined by '/', or a JSON array of labels (for
    labels that hold a '/')."""
    if text.startswith("["):
        labels = json.loads(text)
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise CliError(f"namespace {text!r}: a JSON array of strings, please")
        return tuple(labels)
    return tuple(x for x in text.split("/") if x)


def _item(item: Item) -> dict[str, Any]:
    doc: dict[str, Any] = jsonable(item.dict())
    score = getattr(item, "score", None)
    if score is not None:
        doc["score"] = score
    return doc


def cmd_store(args: argparse.Namespace, out: Out) -> int:
    from langgraph.store.redis import RedisStore

    with RedisStore.from_conn_string(args.url, prefix=args.store_prefix) as store:
        if args.store_command == "ls":
            found = store.list_namespaces(prefix=tuple(args.prefix) or None, limit=args.limit)
            if out.json:
                out.doc([list(n) for n in found])
            else:
                out.table(
                    f"{len(found)} namespace(s)", ["namespace"], [("/".join(n),) for n in found]
                )
            return 0
        if args.store_command == "get":
            ns = _ns_arg(args.namespace)
            item = store.get(ns, args.key, refresh_ttl=False)
            if item is None:
                raise CliError(f"no item {args.key!r} in namespace {'/'.join(ns)!r}")
            doc = _item(item)
            if out.json:
                out.doc(doc)
            else:
                out.table(
                    f"{'/'.join(ns)} / {args.key}",
                    ["field", "value"],
                    [(k, preview(v, 200)) for k, v in doc.items()],
                )
            return 0
        try:
            flt = json.loads(args.filter) if args.filter else None
        except json.JSONDecodeError as e:
            raise CliError(f"--filter is not JSON: {e}") from None
        items = store.search(
            _ns_arg(args.namespace),
            query=args.query,
            filter=flt,
            limit=args.limit,
            offset=args.offset,
            refresh_ttl=False,
        )
        docs = [_item(i) for i in items]
        if out.json:
            out.doc(docs)
        else:
            out.table(
                f"{len(docs)} item(s)",
                ["namespace", "key", "value", "score"],
                [
                    ("/".join(d["namespace"]), d["key"], preview(d["value"]), d.get("score"))
                    for d in docs
                ],
            )
        return 0


# -- the parser ------------------------------------------------------------------------------

COMMANDS: dict[str, Callable[[Inspector, argparse.Namespace, Out], int]] = {
    "threads": cmd_threads,
    "history": cmd_history,
    "show": cmd_show,
    "diff": cmd_diff,
    "export": cmd_export,
    "stats": cmd_stats,
    "check": cmd_check,
    "prune": cmd_prune,
    "delete": cmd_delete,
    "pin": cmd_pin,
    "unpin": cmd_pin,
}


def _common(p: argparse.ArgumentParser, top: bool) -> None:
    """The options every command takes, before or after its name (`langgraph-redis --json
    threads` and `langgraph-redis threads --json` alike): on the subcommands their default is
    SUPPRESS, so one given before the name is not reset by the subparser."""
    d = (lambda v: v) if top else (lambda v: argparse.SUPPRESS)
    p.add_argument("--url", default=d(None), help="server URL (default: $REDIS_URL)")
    p.add_argument("--prefix", default=d("checkpoint"), help="checkpoint key prefix")
    p.add_argument(
        "--write-prefix", default=d(None), help="writes key prefix (default: PREFIX_write)"
    )
    p.add_argument(
        "--serde",
        default=d(None),
        metavar="MODULE:ATTR",
        help="the graphs' serializer (e.g. an EncryptedSerializer), or a function making it",
    )
    p.add_argument("--json", action="store_true", default=d(False), help="JSON for programs")
    p.add_argument("--debug", action="store_true", default=d(False), help="tracebacks on errors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="langgraph-redis",
        description="Inspect and tidy LangGraph checkpoints and stores on Redis / Valkey.",
    )
    _common(parser, True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        _common(p, False)
        return p

    p = cmd("threads", "threads, newest first, with their size and expiry")
    p.add_argument("--limit", type=int, default=50)
    p = cmd("history", "the checkpoints of a thread, newest first")
    p.add_argument("thread")
    p.add_argument("--ns", default=None, help="one namespace (default: all)")
    p.add_argument("--limit", type=int, default=None)
    p = cmd("show", "one checkpoint (default: the latest), its values decoded")
    p.add_argument("thread")
    p.add_argument("checkpoint", nargs="?")
    p.add_argument("--ns", default="")
    p = cmd("diff", "what changed between two checkpoints, channel by channel")
    p.add_argument("thread")
    p.add_argument("a", nargs="?", help="first checkpoint (alone: it against its parent)")
    p.add_argument("b", nargs="?", help="second checkpoint")
    p.add_argument("--ns", default="")
    p = cmd("export", "a thread's checkpoints as JSON lines, oldest first")
    p.add_argument("thread")
    p.add_argument("--ns", default=None, help="one namespace (default: all)")
    p = cmd("stats", "keys and bytes by key family and by thread")
    p.add_argument("--top", type=int, default=10, help="largest threads listed")
    p = cmd("check", "the consistency walk: exit code 1 when something is wrong")
    p.add_argument(
        "--atomic",
        action="store_true",
        help="one Lua snapshot per server: exact under writes, blocks the server meanwhile",
    )
    p.add_argument(
        "--swept",
        action="store_true",
        help="also flag expired threads' index entries a sweep has not removed yet",
    )
    p = cmd("prune", "keep the N latest checkpoints of each namespace of some threads")
    p.add_argument("threads", nargs="+", metavar="thread")
    p.add_argument("--keep", type=int, default=1)
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p = cmd("delete", "delete threads")
    p.add_argument("threads", nargs="+", metavar="thread")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p = cmd("pin", "stop a thread from expiring")
    p.add_argument("thread")
    p = cmd("unpin", "let a thread expire again")
    p.add_argument("thread")
    p.add_argument(
        "--ttl", type=float, default=None, help="minutes from now (default: no expiry set)"
    )

    p = cmd("store", "the long-term memory store (RedisStore)")
    p.add_argument("--store-prefix", default="store")
    ss = p.add_subparsers(dest="store_command", required=True, metavar="STORE_COMMAND")
    q = ss.add_parser("ls", help="namespaces")
    q.add_argument("prefix", nargs="*", help="namespace labels it starts with")
    q.add_argument("--limit", type=int, default=1000)
    q = ss.add_parser("get", help="one item")
    q.add_argument("namespace", help="labels joined by '/', or a JSON array")
    q.add_argument("key")
    q = ss.add_parser("search", help="items under a namespace prefix")
    q.add_argument("namespace", help="labels joined by '/', or a JSON array")
    q.add_argument("--query", default=None)
    q.add_argument("--filter", default=None, help="JSON object")
    q.add_argument("--limit", type=int, default=10)
    q.add_argument("--offset", type=int, default=0)
    for q in ss.choices.values():
        _common(q, False)

    help = "copy langgraph-checkpoint-redis 0.5.x data (checkpoints, writes, stores) into ours"
    try:  # its own options (--from, --to, ...): the module owns them, and may be absent
        from . import migrate

        migrate.add_arguments(argparse.ArgumentParser(add_help=False))  # fails here, not half way
        p = sub.add_parser("migrate", help=help, description=help)
        migrate.add_arguments(p)
        p.set_defaults(migrate_run=migrate.run)
    except Exception as e:  # the other commands keep working without it
        p = sub.add_parser("migrate", help=help, description=help)
        p.set_defaults(migrate_error=f"{type(e).__name__}: {e}")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The console script `langgraph-redis`: returns the exit code (0 ok, 1 `check` found
    problems, 2 an error, printed as one line on stderr)."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, "migrate_error", None):  # a stub takes anything
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as e:  # --help, or a usage error argparse already printed
        return e.code if isinstance(e.code, int) else 2
    args.url = args.url or os.environ.get("REDIS_URL")
    out = Out(args.json)
    try:
        return _run(args, out)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if args.debug:
            raise
        msg = _explain(e, args.url)
        out.err.print(escape(f"error: {msg}"), soft_wrap=True, highlight=False)
        return 2


def _run(args: argparse.Namespace, out: Out) -> int:
    if args.command == "migrate":
        if getattr(args, "migrate_error", None):
            raise CliError(f"migrate is unavailable: {args.migrate_error}")
        return int(args.migrate_run(args))
    if not args.url:
        raise CliError("no server: pass --url redis://host:port or set REDIS_URL")
    if args.command == "store":
        return cmd_store(args, out)
    ttl = getattr(args, "ttl", None)
    serde = load_serde(args.serde) if args.serde else None
    with Inspector(args.url, args.prefix, args.write_prefix, serde, ttl_minutes=ttl) as ins:
        return COMMANDS[args.command](ins, args, out)


def load_serde(spec: str) -> Any:
    """`--serde package.module:name`: the serializer the graphs wrote with (values written
    through an EncryptedSerializer decode only through it); a class or function is called."""
    import importlib

    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise CliError(f"--serde {spec!r}: use MODULE:ATTR, e.g. myapp.serde:SERDE")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise CliError(f"--serde {spec!r}: {e}") from None
    if not hasattr(obj, "loads_typed"):
        obj = obj()
    if not hasattr(obj, "loads_typed") or not hasattr(obj, "dumps_typed"):
        raise CliError(f"--serde {spec!r} is not a serializer (no dumps_typed/loads_typed)")
    return obj


def _explain(e: BaseException, url: str | None) -> str:
    """One line for an error, the URL's password never in it."""
    where = redact(url) if url else "the server"
    text = _scrub(" ".join(str(e).split()), url)
    if isinstance(e, CliError | InspectError):
        return text
    if isinstance(e, redis.AuthenticationError) or (
        isinstance(e, redis.ResponseError)
        and any(s in text.upper() for s in ("WRONGPASS", "NOAUTH", "INVALID PASSWORD"))
    ):
        return f"{where} refused the credentials: {text}"
    if isinstance(e, redis.ConnectionError | redis.TimeoutError):
        return f"cannot reach {where}: {text}"
    if isinstance(e, ValueError) and url and ("scheme" in text or "URL" in text or "url" in text):
        return f"invalid URL {where}: {text}"
    if isinstance(e, redis.RedisError):
        return f"{where}: {type(e).__name__}: {text}"
    if "serialization type" in text:  # JsonPlusSerializer meeting another serde's bytes
        return f"{text} (written through another serializer? pass --serde MODULE:ATTR)"
    return f"{type(e).__name__}: {text}"
