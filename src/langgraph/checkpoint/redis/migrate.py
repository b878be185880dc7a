"""`langgraph-redis migrate`: copy the data of langgraph-checkpoint-redis 0.5.x (on Redis
Stack / Redis 8) into this package's layout, through our public savers and store.

Why through `RedisSaver.put` / `put_writes` and `RedisStore.batch`: every invariant of our
layout (indexes, blobs, logs, ledger, TTL deadlines) is written by the same atomic scripts a
running graph uses, so migrated data is indistinguishable from data our savers wrote.

How the source is read (`incumbent_format.py` has the format): one `SCAN ... TYPE ReJSON-RL` pass
per key family (checkpoints, writes, store items) collects the key names and the ids held in each
document (never parsed from the key: langgraph-checkpoint-redis does not escape `:`), grouped by
thread. Then each thread's documents are fetched (pipelined, `--batch` per round trip), decoded into
Python objects and put: checkpoints in id order (a parent before its children, so a child re-sends
only the channels whose version moved), then the pending writes, one `put_writes` per task with the
task's writes in `idx` order and its `task_path`.

Resumable and idempotent: after a thread is fully written, a fingerprint of its source
documents (SHA-256 over the sorted key names and JSON texts) is recorded in one hash of ours,
`<target prefix>_migrated` (field `t:<thread id>`; a store namespace's `ns:<labels>`). A later
run skips a thread whose fingerprint matches and migrates it again if the source changed or
the run was killed before the record: re-puts are idempotent (same ids, same versions; a
re-put replaces, writes are insert-if-absent, special writes replaced), so a half-written
thread is completed, never duplicated.

Same server (no `--to`): langgraph-checkpoint-redis's keys are RedisJSON documents named
`checkpoint:<T>:...`, ours are hashes and sets named `checkpoint:{<T>}:...` (the thread id
percent-encoded inside the braces), `checkpoint_blob:`, `checkpoint_idx:`, ... and the store's
`store:{<N>}:<K>`; langgraph-checkpoint-redis never writes a name with `{` after the prefix unless a
thread id itself starts with `{`, and its other families (`checkpoint_latest:`, `write_keys_zset:`,
`write_registry:`, `store_vectors:`, `store:<ULID>`) are names we never use. So the two coexist, and
the migration refuses only when a source thread id starts with `{` (or a target prefix is one of
langgraph-checkpoint-redis's families): then pass `--to` or `--target-prefix`. Its RediSearch
indexes are `ON JSON` and do not index our hashes.

`--verify` reads each thread back both ways and compares, checkpoint by checkpoint:
langgraph-checkpoint-redis's side decoded from its documents by the rules of its get_tuple
(`incumbent_format.py`), ours through `RedisSaver.get_tuple` and `list`; checkpoint id, parent,
`v`/`ts`/channel versions/versions seen/updated channels, channel values, metadata, pending writes
per task in idx order; then each write's idx and each task's `task_path` from our keys (get_tuple
shows neither), each namespace's latest checkpoint against langgraph-checkpoint-redis's latest
pointer and the number of checkpoints listed; and every store item through `RedisStore.get`. One
difference is deliberate: langgraph-checkpoint-redis's get_tuple skips a checkpoint's writes when
its `has_writes` flag is unset, which happens whenever the writes raced the checkpoint's put
(LangGraph's default `durability="async"`); those writes are LangGraph's, so they are migrated,
compared with the stored documents, and counted in `hidden_writes`.

Not carried over: langgraph-checkpoint-redis's per-key TTLs on checkpoints (`--ttl` gives migrated
threads our saver's TTL instead), its store vectors (`store_vectors:*`; give `store_index=` to the
Python API to embed again), items' `created_at`/`updated_at` (our store stamps its own; items are
put oldest first, so the insertion order is kept). A store item's TTL becomes what is left of its
key's TTL. Shallow threads (`<prefix>:<T>:<N>` documents) are migrated as one checkpoint per
namespace with that checkpoint's own pending writes; langgraph-checkpoint-redis's shallow savers
keep every older step's writes too, which are not carried over (counted in `skipped_writes`).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import redis
import redis.cluster
from langgraph.checkpoint.base import WRITES_IDX_MAP

from . import incumbent_format as fmt

JSON_TYPE = "ReJSON-RL"


class MigrationError(Exception):
    """A refusal or a failure the CLI reports as one line (exit code 2)."""


@dataclass
class MigrationReport:
    """What a run did (or, with `dry_run`, would do)."""

    threads: int = 0
    checkpoints: int = 0
    writes: int = 0
    store_items: int = 0
    skipped: int = 0  # threads (and store namespaces) already migrated, unchanged since
    skipped_writes: int = 0  # old shallow-thread writes not carried over
    # writes carried over that langgraph-checkpoint-redis's get_tuple never returned
    # (incumbent_format: SourceCheckpoint.has_writes); they are LangGraph's, so they are kept
    hidden_writes: int = 0
    verified: int = 0  # checkpoints (and store items) compared by --verify
    mismatches: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        verb = "would write" if self.dry_run else "wrote"
        s = (
            f"{verb} {self.threads} threads, {self.checkpoints} checkpoints, {self.writes} "
            f"writes, {self.store_items} store items; skipped {self.skipped} already migrated"
        )
        if self.skipped_writes:
            s += f", {self.skipped_writes} old shallow writes"
        if self.hidden_writes:
            s += (
                f"; {self.hidden_writes} writes langgraph-checkpoint-redis stored but did not "
                "return, kept"
            )
        if self.verified or self.mismatches:
            s += f"; verified {self.verified}, {len(self.mismatches)} mismatches"
        return s + f" ({self.seconds:.1f}s)"


def redact(url: str) -> str:
    """The URL with its password replaced, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _s(x: Any) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def _glob_escape(s: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in s)


def _chunks(seq: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


@dataclass
class _Thread:
    """One source thread: the names of its documents (ids from the documents)."""

    checkpoint_keys: list[str] = field(default_factory=list)
    write_keys: list[str] = field(default_factory=list)


class _Source:
    """langgraph-checkpoint-redis's server, read only."""

    def __init__(self, url: str, prefix: str, write_prefix: str, store_prefix: str) -> None:
        self.url = url
        self.r = redis.Redis.from_url(url)
        self.prefix, self.write_prefix, self.store_prefix = prefix, write_prefix, store_prefix

    def check(self) -> None:
        self.r.ping()
        if str(self.r.info("cluster").get("cluster_enabled", 0)) == "1":
            raise MigrationError(
                f"the source {redact(self.url)} is a Redis Cluster node: migrating from a "
                "cluster is not supported (this reads one server's key space with SCAN)"
            )
        try:
            self.r.execute_command("JSON.TYPE", "\x00langgraph-redis-migrate-probe")
        except redis.ResponseError as e:
            raise MigrationError(
                f"the source {redact(self.url)} has no RedisJSON module ({e}); "
                "langgraph-checkpoint-redis's data lives in RedisJSON documents, so this is not "
                "its server"
            ) from e

    def run_id(self) -> str:
        return _s(self.r.info("server").get("run_id", ""))

    def scan(self, pattern: str, count: int) -> Iterator[str]:
        cursor: int | bytes = 0
        while True:
            cursor, keys = self.r.execute_command(
                "SCAN", cursor, "MATCH", pattern, "COUNT", count, "TYPE", JSON_TYPE
            )
            for k in keys:
                yield _s(k)
            if int(cursor) == 0:
                return

    def thread_index(
        self, threads: Sequence[str] | None, batch: int
    ) -> tuple[dict[str, _Thread], set[str]]:
        """Thread id -> its document names; and the raw stored thread ids seen."""
        out: dict[str, _Thread] = defaultdict(_Thread)
        raw_ids: set[str] = set()
        wanted = set(threads) if threads is not None else None
        for prefix, is_write in ((self.prefix, False), (self.write_prefix, True)):
            if wanted is None:
                patterns = [f"{prefix}:*"]
            else:
                patterns = [f"{prefix}:{_glob_escape(fmt.to_safe_id(t))}:*" for t in wanted]
                if not is_write:  # a shallow root namespace: `<prefix>:<T>:`
                    patterns += [f"{prefix}:{_glob_escape(fmt.to_safe_id(t))}:" for t in wanted]
            for pattern in patterns:
                keys = list(dict.fromkeys(self.scan(pattern, max(batch * 10, 100))))
                for chunk in _chunks(keys, batch):
                    pipe = self.r.pipeline(transaction=False)
                    for k in chunk:
                        pipe.execute_command("JSON.GET", k, "$.thread_id")
                    for k, reply in zip(chunk, pipe.execute(), strict=True):
                        if reply is None:
                            continue  # gone since the scan
                        found = json.loads(reply)
                        if not found:
                            continue  # not one of langgraph-checkpoint-redis's documents
                        raw = str(found[0])
                        t = fmt.from_safe_id(raw)
                        if wanted is not None and t not in wanted:
                            continue
                        raw_ids.add(raw)
                        th = out[t]
                        (th.write_keys if is_write else th.checkpoint_keys).append(k)
        for th in out.values():
            th.checkpoint_keys = sorted(set(th.checkpoint_keys))
            th.write_keys = sorted(set(th.write_keys))
        return dict(out), raw_ids

    def fetch(self, keys: Sequence[str], batch: int) -> list[tuple[str, str]]:
        """(key, JSON text) of each document that still exists."""
        out: list[tuple[str, str]] = []
        for chunk in _chunks(keys, batch):
            pipe = self.r.pipeline(transaction=False)
            for k in chunk:
                pipe.execute_command("JSON.GET", k)
            for k, reply in zip(chunk, pipe.execute(), strict=True):
                if reply is not None:
                    out.append((k, _s(reply)))
        return out

    def latest_id(self, thread_id: str, ns: str) -> str | None:
        """langgraph-checkpoint-redis's latest pointer of a namespace (full savers), as a
        checkpoint id."""
        key = f"{self.prefix}_latest:{fmt.to_safe_id(thread_id)}:{fmt.to_safe_ns(ns)}"
        target = self.r.get(key)
        if target is None:
            return None
        found = self.r.execute_command("JSON.GET", _s(target), "$.checkpoint_id")
        ids = json.loads(found) if found else []
        return fmt.from_safe_id(str(ids[0])) if ids else None

    def store_items(self, batch: int, reviver: fmt.Reviver) -> list[tuple[str, str, int]]:
        """(key, JSON text, pttl ms) of every store item document."""
        keys = sorted(set(self.scan(f"{self.store_prefix}:*", max(batch * 10, 100))))
        out: list[tuple[str, str, int]] = []
        for chunk in _chunks(keys, batch):
            pipe = self.r.pipeline(transaction=False)
            for k in chunk:
                pipe.execute_command("JSON.GET", k)
                pipe.pttl(k)
            replies = pipe.execute()
            for i, k in enumerate(chunk):
                doc, pttl = replies[2 * i], replies[2 * i + 1]
                if doc is not None:
                    out.append((k, _s(doc), int(pttl)))
        return out


def _open_target(url: str) -> Any:
    """A client for our side's own few commands (the progress hash, INFO): the savers find out
    for themselves what a URL names; this does the same for one server, Sentinel or a
    cluster, so the progress record goes wherever its key lives."""
    from . import driver

    if driver.is_sentinel_url(url):
        r: Any = driver.open_sentinel_sync(url, {})
        r.ping()
        return r
    r = redis.Redis.from_url(url)
    try:
        enabled = str(r.info("cluster").get("cluster_enabled", 0)) == "1"
    except redis.RedisError:
        r.close()
        raise
    if enabled:
        r.close()
        return redis.cluster.RedisCluster.from_url(url)
    return r


def _fingerprint(docs: Iterable[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for k, text in sorted(docs):
        h.update(k.encode())
        h.update(b"\x00")
        h.update(text.encode())
        h.update(b"\x01")
    return h.hexdigest()


@dataclass
class _Decoded:
    checkpoints: list[fmt.SourceCheckpoint]
    writes: list[fmt.SourceWrite]
    skipped_writes: int


def _decode_thread(
    thread_id: str, cdocs: list[tuple[str, str]], wdocs: list[tuple[str, str]], rv: fmt.Reviver
) -> _Decoded:
    memo: dict[Any, Any] = {}
    cps = [fmt.decode_checkpoint(k, orjson.loads(t), rv, memo) for k, t in cdocs]
    cps = [c for c in cps if c.thread_id == thread_id]
    writes = [fmt.decode_write(k, orjson.loads(t), rv) for k, t in wdocs]
    writes = [w for w in writes if w.thread_id == thread_id]
    # A shallow namespace keeps one checkpoint; langgraph-checkpoint-redis's shallow saver also
    # keeps the writes of every step before it. Only the kept checkpoint's writes are pending.
    shallow_ns = {c.checkpoint_ns: c.checkpoint_id for c in cps if c.shallow}
    kept = [
        w
        for w in writes
        if w.checkpoint_ns not in shallow_ns or shallow_ns[w.checkpoint_ns] == w.checkpoint_id
    ]
    cps.sort(key=lambda c: (c.checkpoint_ns, c.checkpoint_id))
    return _Decoded(cps, kept, len(writes) - len(kept))


def _task_groups(writes: list[fmt.SourceWrite]) -> dict[tuple[str, str, str], list[Any]]:
    groups: dict[tuple[str, str, str], list[fmt.SourceWrite]] = defaultdict(list)
    for w in writes:
        groups[(w.checkpoint_ns, w.checkpoint_id, w.task_id)].append(w)
    for ws in groups.values():
        ws.sort(key=lambda w: w.idx)
    return dict(groups)


def _writes_call(ws: list[fmt.SourceWrite]) -> tuple[list[tuple[str, Any]], bool]:
    """The `writes` argument that makes `put_writes` store each write at its own idx: our
    put_writes (LangGraph's contract) numbers writes by position, special channels by
    WRITES_IDX_MAP. A task whose writes came in several calls has gaps (a resumed task holds
    RESUME at -4, INTERRUPT at -3 and its update at 1): a gap is filled with one of the task's
    own special writes, which lands at its own negative idx again (replaced by itself), so the
    plain write after it gets its position. False when that is impossible (a gap and no special
    write): the plain writes are then numbered by their order."""
    plain = [w for w in ws if w.channel not in WRITES_IDX_MAP]
    special = [w for w in ws if w.channel in WRITES_IDX_MAP]
    tail = [(w.channel, w.value) for w in special]
    at = {w.idx: w for w in plain}
    ok = len(at) == len(plain) and all(i >= 0 for i in at)
    ok = ok and all(w.idx == WRITES_IDX_MAP[w.channel] for w in special)
    if ok and plain:
        top = max(at)
        if len(at) == top + 1 or special:
            filler = tail[0] if tail else None
            head = [(at[i].channel, at[i].value) if i in at else filler for i in range(top + 1)]
            return [x for x in head if x is not None] + tail, True
    if not plain:
        return tail, ok
    return [(w.channel, w.value) for w in plain] + tail, False


def _put_thread(
    saver: Any, thread_id: str, dec: _Decoded, hook: Callable[[str, str], None] | None
) -> tuple[int, int, list[str]]:
    warnings: list[str] = []
    versions: dict[tuple[str, str], dict[str, Any]] = {}
    n_cp = 0
    for c in dec.checkpoints:
        conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": c.checkpoint_ns}
        if c.parent_id:
            conf["checkpoint_id"] = c.parent_id
        cv = c.checkpoint.get("channel_versions", {})
        parent_v = versions.get((c.checkpoint_ns, c.parent_id or ""))
        # The parent was put just before (id order) with the same values at equal versions:
        # only channels whose version moved are new. Otherwise send every channel.
        new = cv if parent_v is None else {k: v for k, v in cv.items() if parent_v.get(k) != v}
        saver.put({"configurable": conf}, dict(c.checkpoint), dict(c.metadata), dict(new))
        versions[(c.checkpoint_ns, c.checkpoint_id)] = cv
        n_cp += 1
        if hook:
            hook("checkpoint", thread_id)
    n_w = 0
    for (ns, cid, task), ws in _task_groups(dec.writes).items():
        call, exact = _writes_call(ws)
        if not exact:
            warnings.append(
                f"thread {thread_id!r} checkpoint {cid} task {task}: write idx "
                f"{[w.idx for w in ws]} renumbered by position"
            )
        conf = {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}
        saver.put_writes({"configurable": conf}, call, task, ws[0].task_path)
        n_w += len(ws)
    return n_cp, n_w, warnings


def _pending(pw: Iterable[tuple[str, str, Any]]) -> dict[str, list[tuple[str, Any]]]:
    out: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for task, ch, v in pw:
        out[task].append((ch, v))
    return dict(out)


def _verify_thread(
    saver: Any, src: _Source, thread_id: str, dec: _Decoded, report: MigrationReport
) -> None:
    """Compare what langgraph-checkpoint-redis's get_tuple returns (decoded here the way it decodes)
    with what our saver returns, checkpoint by checkpoint."""
    groups = _task_groups(dec.writes)
    per_cp: dict[tuple[str, str], list[tuple[str, str, Any]]] = defaultdict(list)
    for (ns, cid, task), ws in groups.items():
        per_cp[(ns, cid)] += [(task, w.channel, w.value) for w in ws]
    where0 = f"thread {thread_id!r}"
    namespaces: dict[str, int] = defaultdict(int)
    for c in dec.checkpoints:
        namespaces[c.checkpoint_ns] += 1
        where = f"{where0} ns {c.checkpoint_ns!r} checkpoint {c.checkpoint_id}"
        conf = {
            "thread_id": thread_id,
            "checkpoint_ns": c.checkpoint_ns,
            "checkpoint_id": c.checkpoint_id,
        }
        ours = saver.get_tuple({"configurable": conf})
        report.verified += 1
        if ours is None:
            report.mismatches.append(f"{where}: missing")
            continue
        got_parent = (ours.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        if (got_parent or None) != c.parent_id:
            report.mismatches.append(f"{where}: parent {got_parent!r} != {c.parent_id!r}")
        for k, v in c.checkpoint.items():
            if ours.checkpoint.get(k) != v:
                report.mismatches.append(f"{where}: checkpoint[{k!r}] differs")
        if dict(ours.metadata) != c.metadata:
            report.mismatches.append(f"{where}: metadata {ours.metadata!r} != {c.metadata!r}")
        stored = per_cp.get((c.checkpoint_ns, c.checkpoint_id), [])
        if stored and not c.has_writes and not c.shallow:
            report.hidden_writes += len(stored)
        want = _pending(stored)
        if _pending(ours.pending_writes or []) != want:
            report.mismatches.append(f"{where}: pending writes differ")
    _verify_idx(saver, thread_id, dec, groups, report)
    for ns, n in namespaces.items():
        conf = {"thread_id": thread_id, "checkpoint_ns": ns}
        listed = list(saver.list({"configurable": conf}))
        if len(listed) != n:
            report.mismatches.append(f"{where0} ns {ns!r}: we list {len(listed)}, source has {n}")
        want_latest = max(c.checkpoint_id for c in dec.checkpoints if c.checkpoint_ns == ns)
        if not any(c.shallow for c in dec.checkpoints if c.checkpoint_ns == ns):
            want_latest = src.latest_id(thread_id, ns) or want_latest
        ours = saver.get_tuple({"configurable": conf})
        got = ours.config["configurable"]["checkpoint_id"] if ours else None
        if got != want_latest:
            report.mismatches.append(f"{where0} ns {ns!r}: latest {got} != {want_latest}")


def _verify_idx(
    saver: Any,
    thread_id: str,
    dec: _Decoded,
    groups: dict[tuple[str, str, str], list[fmt.SourceWrite]],
    report: MigrationReport,
) -> None:
    """What get_tuple does not show: each write's idx and each task's task_path, read from our
    own keys (keys.py: the task's write hash, field = idx; the checkpoint's `w:<K>` field)."""
    from .codec import unpack_task
    from .keys import enc

    th = saver._ops.keys.thread(thread_id, saver._ops.cluster)
    have = {(c.checkpoint_ns, c.checkpoint_id) for c in dec.checkpoints}
    items = sorted(groups.items())
    pipe = saver.client.pipeline(transaction=False)
    for (ns, cid, task), _ in items:
        pipe.hkeys(f"{th.write}{enc(ns)}:{enc(cid)}:{enc(task)}")
        pipe.hget(f"{th.cp}{enc(ns)}:{enc(cid)}", "w:" + enc(task))
    replies = pipe.execute()
    for i, ((ns, cid, task), ws) in enumerate(items):
        where = f"thread {thread_id!r} ns {ns!r} checkpoint {cid} task {task}"
        idx = sorted(int(x) for x in replies[2 * i])
        if idx != sorted(w.idx for w in ws):
            report.mismatches.append(f"{where}: write idx {idx} != {[w.idx for w in ws]}")
        raw = replies[2 * i + 1]
        if (ns, cid) in have and (raw is None or unpack_task(raw)[1] != ws[0].task_path):
            report.mismatches.append(f"{where}: task_path differs")


class _Progress:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool) -> None:
        self.bar: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def task(self, description: str, total: int) -> Any:
        return self.bar.add_task(description, total=total) if self.bar is not None else None

    def advance(self, task: Any, n: int = 1) -> None:
        if self.bar is not None and task is not None:
            self.bar.advance(task, n)


INCUMBENT_FAMILIES = ("_latest", "write_keys_zset", "write_registry", "store_vectors")


def migrate(
    from_url: str,
    to_url: str | None = None,
    *,
    dry_run: bool = False,
    verify: bool = False,
    threads: Sequence[str] | None = None,
    progress: bool = True,
    batch: int = 100,
    checkpoints: bool = True,
    store: bool = True,
    source_prefix: str = "checkpoint",
    source_write_prefix: str = "checkpoint_write",
    source_store_prefix: str = "store",
    target_prefix: str = "checkpoint",
    target_write_prefix: str | None = None,
    target_store_prefix: str = "store",
    store_index: Any = None,
    ttl_minutes: float | None = None,
    hook: Callable[[str, str], None] | None = None,
) -> MigrationReport:
    """Migrate langgraph-checkpoint-redis's checkpoints, writes and store items (module docstring).

    `threads`: only these thread ids (the store is migrated whenever `store` is true: pass
    `store=False` to leave it). `checkpoints=False` migrates only the store. `batch`: documents per
    round trip on the source, items per `batch` call on our store. The `target_*` prefixes name our
    keys (the savers' `checkpoint_prefix` / `checkpoint_write_prefix`, the store's `prefix`);
    `ttl_minutes` gives every migrated thread our saver's TTL (one deadline per thread,
    docs/lifecycle.md; langgraph-checkpoint-redis's per-key TTLs are not read); `store_index` is our
    store's `index` config, to embed the items again (its vectors are not read). `hook(event, name)`
    is called after each checkpoint put ("checkpoint", thread id), each finished thread ("thread",
    thread id) and each store namespace ("namespace", labels joined by "."): tests use it to
    interrupt a run.

    Raises MigrationError (a refusal: not langgraph-checkpoint-redis's server, or names that could
    collide on the same server) and redis-py's errors (connection, authentication).
    """
    from langgraph.checkpoint.redis import RedisSaver
    from langgraph.store.base import PutOp
    from langgraph.store.redis import RedisStore

    t0 = time.perf_counter()
    batch = max(1, int(batch))
    report = MigrationReport(dry_run=dry_run)
    target_write_prefix = target_write_prefix or (
        "checkpoint_write" if target_prefix == "checkpoint" else f"{target_prefix}_write"
    )
    with contextlib.ExitStack() as stack:  # closes whatever was opened, however it ends
        src = _Source(from_url, source_prefix, source_write_prefix, source_store_prefix)
        stack.callback(src.r.close)
        src.check()
        to = to_url or from_url
        dst = _open_target(to)
        stack.callback(dst.close)
        same_server = to_url is None or src.run_id() == _s(dst.info("server").get("run_id", ""))
        rv = fmt.Reviver()
        progress_key = f"{target_prefix}_migrated"

        index, raw_ids = src.thread_index(threads, batch) if checkpoints else ({}, set())
        if same_server:
            bad = sorted(t for t in raw_ids if t.startswith("{"))
            clash = [
                p
                for p in (target_prefix, target_write_prefix, target_store_prefix)
                if p in (source_prefix, source_write_prefix, source_store_prefix)
            ]
            fam = [
                p
                for p in (target_prefix, target_write_prefix, target_store_prefix)
                if any(p == source_prefix + f or p == f for f in INCUMBENT_FAMILIES)
            ]
            if (bad and clash) or fam:
                what = f"thread ids starting with '{{' ({bad[:3]})" if bad else f"prefix {fam}"
                raise MigrationError(
                    f"refusing to migrate into the source server {redact(from_url)}: {what} "
                    "would give our keys langgraph-checkpoint-redis's names; pass --to URL "
                    "(another server) or --target-prefix NAME"
                )

        saver = RedisSaver(
            to,
            checkpoint_prefix=target_prefix,
            checkpoint_write_prefix=target_write_prefix,
            ttl={"default_ttl": ttl_minutes} if ttl_minutes else None,
        )
        stack.callback(saver.close)
        our_store = RedisStore(to, prefix=target_store_prefix, index=store_index)
        stack.callback(our_store.close)
        if not dry_run:
            saver.setup()
            our_store.setup()
        done = {
            _s(k): _s(v)
            for k, v in (dst.hgetall(progress_key) if dst.exists(progress_key) else {}).items()
        }
        items = src.store_items(batch, rv) if store else []
        by_ns: dict[tuple[str, ...], list[fmt.SourceItem]] = defaultdict(list)
        ns_docs: dict[tuple[str, ...], list[tuple[str, str]]] = defaultdict(list)
        for k, text, pttl in items:
            it = fmt.decode_item(k, json.loads(text), pttl, rv)
            by_ns[it.namespace].append(it)
            ns_docs[it.namespace].append((k, text))
        with _Progress(progress) as bar:
            tt = bar.task("threads", len(index))
            for thread_id in sorted(index):
                th = index[thread_id]
                cdocs = src.fetch(th.checkpoint_keys, batch)
                wdocs = src.fetch(th.write_keys, batch)
                fp = _fingerprint(cdocs + wdocs)
                skip = done.get("t:" + thread_id) == fp
                dec = _decode_thread(thread_id, cdocs, wdocs, rv) if not skip or verify else None
                if skip:
                    report.skipped += 1
                else:
                    assert dec is not None  # decoded whenever the thread is not skipped
                    if dry_run:
                        report.threads += 1
                        report.checkpoints += len(dec.checkpoints)
                        report.writes += len(dec.writes)
                        report.skipped_writes += dec.skipped_writes
                    else:
                        n_cp, n_w, warns = _put_thread(saver, thread_id, dec, hook)
                        dst.hset(progress_key, "t:" + thread_id, fp)
                        report.threads += 1
                        report.checkpoints += n_cp
                        report.writes += n_w
                        report.skipped_writes += dec.skipped_writes
                        report.warnings += warns
                if verify and not dry_run and dec is not None:
                    _verify_thread(saver, src, thread_id, dec, report)
                if hook:
                    hook("thread", thread_id)
                bar.advance(tt)
            ts = bar.task("store namespaces", len(by_ns))
            for ns in sorted(by_ns, key=lambda n: min(i.created_at for i in by_ns[n])):
                # Oldest first (our store keeps insertion order); a key held by two documents
                # (an update langgraph-checkpoint-redis wrote as a new one) keeps the newest.
                latest = {
                    i.item_key: i for i in sorted(by_ns[ns], key=lambda i: (i.created_at, i.key))
                }
                its = sorted(latest.values(), key=lambda i: (i.created_at, i.key))
                field_ = "ns:" + ".".join(ns)
                fp = _fingerprint(ns_docs[ns])
                if done.get(field_) == fp:
                    report.skipped += 1
                elif dry_run:
                    report.store_items += len(its)
                else:
                    for chunk in _chunks(its, batch):
                        our_store.batch(
                            [
                                PutOp(
                                    i.namespace,
                                    i.item_key,
                                    i.value,
                                    index=None if store_index else False,
                                    ttl=i.ttl_minutes,
                                )
                                for i in chunk
                            ]
                        )
                    dst.hset(progress_key, field_, fp)
                    report.store_items += len(its)
                if verify and not dry_run:
                    for i in its:
                        got = our_store.get(i.namespace, i.item_key, refresh_ttl=False)
                        report.verified += 1
                        if got is None or got.value != i.value:
                            report.mismatches.append(
                                f"store item {i.namespace!r} {i.item_key!r} differs"
                            )
                if hook:
                    hook("namespace", ".".join(ns))
                bar.advance(ts)
    report.seconds = time.perf_counter() - t0
    return report


# -- the CLI ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `migrate` subcommand's options (cli.py builds the parser)."""
    parser.add_argument("--from", dest="from_url", required=True, metavar="URL",
                        help="langgraph-checkpoint-redis's server "
                             "(Redis Stack / Redis 8)")  # fmt: skip
    parser.add_argument("--to", dest="to_url", metavar="URL",
                        help="our server (default: the same server)")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true",
                        help="count what would be written; write nothing")  # fmt: skip
    parser.add_argument("--verify", action="store_true",
                        help="read every thread back through both formats; compare")  # fmt: skip
    parser.add_argument("--threads", nargs="+", metavar="ID", help="only these thread ids")
    parser.add_argument("--batch", type=int, default=100,
                        help="documents per round trip (default 100)")  # fmt: skip
    parser.add_argument("--no-store", action="store_true", help="leave the store items alone")
    parser.add_argument("--no-checkpoints", action="store_true",
                        help="migrate only the store")  # fmt: skip
    parser.add_argument("--prefix", "--checkpoint-prefix", dest="source_prefix",
                        default="checkpoint", help="the source's checkpoint prefix")  # fmt: skip
    parser.add_argument("--write-prefix", dest="source_write_prefix",
                        default="checkpoint_write", help="the source's write prefix")  # fmt: skip
    parser.add_argument("--store-prefix", dest="source_store_prefix", default="store",
                        help="the source store's prefix")  # fmt: skip
    parser.add_argument("--target-prefix", default="checkpoint",
                        help="our checkpoint prefix (writes: <prefix>_write)")  # fmt: skip
    parser.add_argument("--target-store-prefix", default="store", help="our store's prefix")
    parser.add_argument("--ttl", type=float, default=None, metavar="MINUTES",
                        help="give migrated threads this TTL (default: none)")  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """0: done; 1: --verify found mismatches; 2: an error (one line on stderr)."""
    try:
        report = migrate(
            args.from_url,
            args.to_url,
            dry_run=args.dry_run,
            verify=args.verify,
            threads=args.threads,
            progress=not args.no_progress and sys.stderr.isatty(),
            batch=args.batch,
            checkpoints=not args.no_checkpoints,
            store=not args.no_store,
            source_prefix=args.source_prefix,
            source_write_prefix=args.source_write_prefix,
            source_store_prefix=args.source_store_prefix,
            target_prefix=args.target_prefix,
            target_store_prefix=args.target_store_prefix,
            ttl_minutes=args.ttl,
        )
    except MigrationError as e:
        print(f"langgraph-redis migrate: {e}", file=sys.stderr)
        return 2
    except redis.AuthenticationError as e:
        print(f"langgraph-redis migrate: authentication refused: {e}", file=sys.stderr)
        return 2
    except redis.RedisError as e:
        urls = ", ".join(redact(u) for u in (args.from_url, args.to_url) if u)
        msg = str(e)
        for u in (args.from_url, args.to_url):
            pw = urlsplit(u).password if u else None
            if pw:
                msg = msg.replace(pw, "***")
        print(f"langgraph-redis migrate: {type(e).__name__} ({urls}): {msg}", file=sys.stderr)
        return 2
    except ValueError as e:  # a malformed URL
        print(f"langgraph-redis migrate: {e}", file=sys.stderr)
        return 2
    print(report.summary())
    for w in report.warnings[:20]:
        print(f"warning: {w}", file=sys.stderr)
    for m in report.mismatches[:50]:
        print(f"mismatch: {m}")
    return 1 if report.mismatches else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="langgraph-redis migrate",
        description="Copy langgraph-checkpoint-redis 0.5.x data into this package's layout.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
