"""Read-side queries over the key space for the `langgraph-redis` command: threads, sizes.

The savers answer questions about one thread in one script call, but an operator's questions
("which threads are there, how big is each, what takes the memory?") are about all of them,
and no index lists threads with their sizes. So these walk the key names (SCAN, on every
master of a cluster, in batches: never one long call that would block a server in use), parse
each name back into its thread and family with the layout of keys.py, and then read only what
the answer needs, pipelined per server:

- `threads`: one SCAN pass over the prefixes, one pipeline per server (per thread: the
  deadline; per namespace: ZCARD and the greatest id of its index), then for the page shown
  only: the latest checkpoint's envelope (step, time) and MEMORY USAGE of each of its keys.
- `stats`: one SCAN pass, then MEMORY USAGE of every key, pipelined per server in batches of
  1,000: O(keys) server work and ~keys/1,000 round trips.

Nothing here writes: an inspector must not change what it inspects (the savers' setup() records
the format; here a server holding another format or layout is only refused, by name).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol

from . import check, codec
from .keys import KeySpace, dec, enc
from .ops import LAYOUT_GONE, LAYOUT_GROUPS, LAYOUT_ONE
from .sync import RedisSaver

Progress = Callable[[int], None]
"""Called with how many more units of work are done (keys scanned or measured)."""

BATCH = 1000
"""Keys per pipelined batch of reads (bounds the memory of one reply)."""


class InspectError(RuntimeError):
    """A refusal the command line prints as one line (unknown thread, other format, ...)."""


@dataclass(frozen=True)
class Name:
    """A key name parsed back into what it belongs to."""

    family: str  # checkpoint, writes, blob, log, idx, wo, namespaces, ledger, pin, all, ...
    tag: str | None = None  # the thread's encoded id (tag), None for cross-thread keys
    ns: str | None = None  # the encoded namespace, for per-namespace keys


FAMILIES = (
    "checkpoint",
    "writes",
    "blob",
    "log",
    "idx",
    "wo",
    "namespaces",
    "ledger",
    "pin",
    "all",
    "run",
    "by",
    "exp",
    "meta",
    "other",
)
"""Key families in the layout's order (docs/storage.md, "Key layout"); `other` is anything under
the prefixes that the layout does not name."""


def parse(name: str, space: KeySpace, grouped: bool) -> Name:
    """The family (and thread, namespace) of a key name under `space`'s prefixes, in either
    layout: `{T}` on one server, `{g}T` on a cluster (keys.py)."""
    p, w = space.prefix, space.write_prefix
    if name == space.meta:
        return Name("meta")
    for fam in ("all", "exp"):
        base = f"{p}_{fam}"
        if name == base or (grouped and name.startswith(base + ":{")):
            return Name(fam)
    if name.startswith(f"{p}_run:"):
        return Name("run")
    if name.startswith(f"{p}_by:"):
        return Name("by")
    tagged = (  # (start, family, parts after the tag), longest first
        (f"{w}:", "writes", 3),
        (f"{p}_blob:", "blob", 1),
        (f"{p}_xref:", "ledger", 0),
        (f"{p}_idx:", "idx", 1),
        (f"{p}_pin:", "pin", 0),
        (f"{p}_wo:", "wo", 1),
        (f"{p}_ns:", "namespaces", 0),
        (f"{p}:", "checkpoint", 2),
    )
    for start, fam, nparts in sorted(tagged, key=lambda x: -len(x[0])):
        if not name.startswith(start):
            continue
        rest = name[len(start) :]
        close = rest.find("}")
        if not rest.startswith("{") or close <= 0:
            return Name("other")
        if grouped:
            after = rest[close + 1 :]
            tag = after.split(":", 1)[0]
            tail = after[len(tag) :]
        else:
            tag, tail = rest[1:close], rest[close + 1 :]
        parts = tail[1:].split(":") if tail.startswith(":") else []
        if tail and not parts:
            return Name("other")
        if fam == "blob" and len(parts) == 2:
            fam, nparts = "log", 2
        if len(parts) != nparts or not tag:
            return Name("other")
        return Name(fam, tag, parts[0] if parts else None)
    return Name("other")


@dataclass
class ThreadScan:
    """What a SCAN found of one thread: its keys (on one server: a thread lives in one slot)."""

    tag: str
    conn: Any = None
    keys: list[str] = field(default_factory=list)
    ns_set: str | None = None
    pin: bool = False
    idx: dict[str, str] = field(default_factory=dict)  # encoded namespace -> index key


class Inspector:
    """A RedisSaver (for the thread commands, through its public methods) and the raw view of
    the same key space (for the walks above)."""

    def __init__(
        self,
        url: str,
        prefix: str = "checkpoint",
        write_prefix: str | None = None,
        serde: SerializerProtocol | None = None,
        ttl_minutes: float | None = None,
    ) -> None:
        """`ttl_minutes`: the saver's TTL, which only `unpin` uses (the thread then expires
        that long from now); None: a saver without TTL, which never changes a deadline."""
        self.space = KeySpace(prefix, write_prefix or f"{prefix}_write")
        self.saver = RedisSaver(
            url,
            checkpoint_prefix=self.space.prefix,
            checkpoint_write_prefix=self.space.write_prefix,
            serde=serde,
            ttl=None if ttl_minutes is None else {"default_ttl": ttl_minutes},
        )
        self.serde = self.saver.serde
        self.grouped = False
        self.client: Any = None

    def connect(self) -> Inspector:
        """Finds out what the URL names (one server, a cluster: the saver's own probe), then
        refuses a key space written in another storage format or layout, read-only."""
        self.saver._connect()
        self.client = self.saver.client
        self.grouped = bool(self.saver._ops.cluster)
        fmt, layout = self.client.hmget(self.space.meta, ["format", "layout"])
        if fmt is not None and int(fmt) != codec.FORMAT:
            raise InspectError(
                f"keys under prefix {self.space.prefix!r} hold storage format {int(fmt)}; "
                f"this version reads format {codec.FORMAT} (see `langgraph-redis migrate`)"
            )
        if layout is not None:
            found = layout.decode() if isinstance(layout, bytes) else str(layout)
            if found in LAYOUT_GONE:
                raise InspectError(
                    f"keys under prefix {self.space.prefix!r} were written in the {found!r} "
                    f"layout, which this version does not read: {LAYOUT_GONE[found]}"
                )
            want = LAYOUT_GROUPS if self.grouped else LAYOUT_ONE
            if found != want:
                where = "a Redis Cluster" if self.grouped else "one server"
                raise InspectError(
                    f"keys under prefix {self.space.prefix!r} were written in the {found!r} "
                    f"layout, but this is {where} (layout {want!r})"
                )
        return self

    def close(self) -> None:
        self.saver.close()

    def __enter__(self) -> Inspector:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one thread ------------------------------------------------------------------------

    def require_thread(self, thread_id: str) -> None:
        """Refuses a thread with no keys: every command on a thread would otherwise answer
        with an empty result that looks like success."""
        th = self.space.thread(thread_id, self.grouped)
        if not self.client.exists(th.ns_set):
            raise InspectError(f"no thread {thread_id!r} under prefix {self.space.prefix!r}")

    # -- walks -----------------------------------------------------------------------------

    def masters(self) -> list[Any]:
        return check.masters(self.client)

    def total_keys(self) -> int:
        """DBSIZE summed over the servers: the scale of a walk, for its progress bar."""
        return sum(int(c.dbsize()) for c in self.masters())

    def scan(self, progress: Progress | None = None) -> Iterator[tuple[Any, str]]:
        """(server, key name) of every key under the two prefixes."""
        prefixes = (self.space.prefix, self.space.write_prefix)
        for conn in self.masters():
            for names in check.scan_keys(conn, prefixes):
                if progress is not None:
                    progress(len(names))
                for n in names:
                    yield conn, n.decode("utf-8", "surrogateescape")

    def scan_threads(self, progress: Progress | None = None) -> dict[str, ThreadScan]:
        found: dict[str, ThreadScan] = {}
        for conn, name in self.scan(progress):
            pn = parse(name, self.space, self.grouped)
            if pn.tag is None:
                continue
            ts = found.get(pn.tag)
            if ts is None:
                ts = found[pn.tag] = ThreadScan(pn.tag, conn)
            ts.keys.append(name)
            if pn.family == "namespaces":
                ts.ns_set = name
            elif pn.family == "pin":
                ts.pin = True
            elif pn.family == "idx" and pn.ns is not None:
                ts.idx[pn.ns] = name
        return found

    def threads(
        self, limit: int | None = None, progress: Progress | None = None
    ) -> list[dict[str, Any]]:
        """The live threads (those with a namespace set), newest first by their latest
        checkpoint id (uuid6: time order), up to `limit`."""
        scanned = [t for t in self.scan_threads(progress).values() if t.ns_set is not None]
        by_conn: dict[int, list[ThreadScan]] = defaultdict(list)
        conns: dict[int, Any] = {}
        for t in scanned:
            by_conn[id(t.conn)].append(t)
            conns[id(t.conn)] = t.conn
        rows: list[dict[str, Any]] = []
        for cid, group in by_conn.items():
            pipe = conns[cid].pipeline(transaction=False)
            for t in group:
                pipe.pttl(t.ns_set)
                for key in t.idx.values():
                    pipe.zcard(key)
                    pipe.zrange(key, -1, -1)
            replies = iter(pipe.execute())
            for t in group:
                pttl = int(next(replies))
                count, tops = 0, {}
                for ns in t.idx:
                    count += int(next(replies))
                    top = next(replies)
                    if top:
                        tops[ns] = top[0].decode()
                # the root namespace's latest is the thread's state; a subgraph's is newer
                # only while the root's step runs, so it orders the threads but is not shown
                newest = max(tops.values(), default="")
                latest_ns = "" if "" in tops else max(tops, key=tops.__getitem__, default="")
                latest = tops.get(latest_ns, "")
                rows.append(
                    {
                        "scan": t,
                        "thread_id": dec(t.tag),
                        "checkpoints": count,
                        "namespaces": sorted(dec(n) for n in t.idx),
                        "latest": dec(latest) if latest else None,
                        "_newest": newest,
                        "_ns": latest_ns,
                        "ttl_s": None if pttl < 0 else round(pttl / 1000, 3),
                        "pinned": t.pin,
                    }
                )
        rows.sort(key=lambda r: (r.pop("_newest"), r["thread_id"]), reverse=True)
        if limit is not None:
            rows = rows[:limit]
        self._details(rows)
        return rows

    def _details(self, rows: list[dict[str, Any]]) -> None:
        """The step and time of each row's latest checkpoint, and its threads' bytes: one
        pipeline per server, for the rows shown only."""
        by_conn: dict[int, list[dict[str, Any]]] = defaultdict(list)
        conns: dict[int, Any] = {}
        for r in rows:
            by_conn[id(r["scan"].conn)].append(r)
            conns[id(r["scan"].conn)] = r["scan"].conn
        for cid, group in by_conn.items():
            pipe = conns[cid].pipeline(transaction=False)
            for r in group:
                t: ThreadScan = r["scan"]
                th = self.space.thread(dec(t.tag), self.grouped)
                latest = r["latest"]
                if latest is not None:
                    pipe.hget(f"{th.cp}{r['_ns']}:{enc(latest)}", "d")
                for k in t.keys:
                    pipe.memory_usage(k)
            replies = iter(pipe.execute(raise_on_error=False))
            for r in group:
                t = r.pop("scan")
                ns_e = r.pop("_ns")
                r["last_step"], r["source"], r["updated"] = None, None, None
                if r["latest"] is not None:
                    d = next(replies)
                    if isinstance(d, bytes):
                        try:
                            skeleton, md = codec.unpack_checkpoint(self.serde, d)
                            r["last_step"] = md.get("step")
                            r["source"] = md.get("source")
                            r["updated"] = skeleton.get("ts")
                        except Exception:  # another serde, another format: leave it blank
                            pass
                r["latest_ns"] = dec(ns_e)
                r["bytes"] = sum(int(x) for x in (next(replies) for _ in t.keys) if _num(x))
                r["keys"] = len(t.keys)

    def stats(self, top: int = 10, progress: Progress | None = None) -> dict[str, Any]:
        """Keys and bytes (MEMORY USAGE) by family and by thread, and the largest threads."""
        names: dict[int, list[str]] = defaultdict(list)
        conns: dict[int, Any] = {}
        for conn, name in self.scan(progress):
            names[id(conn)].append(name)
            conns[id(conn)] = conn
        fam_keys: dict[str, int] = defaultdict(int)
        fam_bytes: dict[str, int] = defaultdict(int)
        thr_keys: dict[str, int] = defaultdict(int)
        thr_bytes: dict[str, int] = defaultdict(int)
        total = 0
        for cid, group in names.items():
            for i in range(0, len(group), BATCH):
                chunk = group[i : i + BATCH]
                pipe = conns[cid].pipeline(transaction=False)
                for k in chunk:
                    pipe.memory_usage(k)
                for k, size in zip(chunk, pipe.execute(raise_on_error=False), strict=True):
                    if not _num(size):
                        continue  # gone since the scan
                    pn = parse(k, self.space, self.grouped)
                    fam_keys[pn.family] += 1
                    fam_bytes[pn.family] += int(size)
                    total += int(size)
                    if pn.tag is not None:
                        thr_keys[pn.tag] += 1
                        thr_bytes[pn.tag] += int(size)
                if progress is not None:
                    progress(len(chunk))
        largest = sorted(thr_bytes, key=lambda t: (-thr_bytes[t], t))[:top]
        return {
            "keys": sum(fam_keys.values()),
            "bytes": total,
            "threads": len(thr_keys),
            "families": [
                {"family": f, "keys": fam_keys[f], "bytes": fam_bytes[f]}
                for f in FAMILIES
                if fam_keys.get(f)
            ],
            "largest_threads": [
                {"thread_id": dec(t), "keys": thr_keys[t], "bytes": thr_bytes[t]} for t in largest
            ],
        }


def _num(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)
