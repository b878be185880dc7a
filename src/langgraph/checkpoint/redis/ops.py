"""Every rule of the savers, written once and free of I/O.

Each operation is a generator: it yields a `RoundTrip` (commands sent together, one network
round trip), receives the list of replies, and finally returns its result; `list` also yields
`Emit` items as it goes. A cross-thread operation yields a `FanOut` instead: the same
commands for every server that holds a share of the data (one server, or each master of a
cluster, given the bucket suffixes of its slots: keys.py), and receives one reply list per
server. The async saver (aio.py) and the sync saver (sync.py) differ only in
how they drive these generators, so they cannot drift apart (the psycopg 3 design). The
round-trip types and the loops that drive them are protocol.py's.
"""

from __future__ import annotations

import builtins  # Operations.list shadows the type in its class body
import random
from collections import defaultdict
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
    PendingWrite,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from . import argv, codec, scripts, validate
from .deltas import DeltaWriter, Sent
from .keys import KeySpace, Thread, bucket_of, dec, enc
from .protocol import Cmd, Emit, Eval, FanOut, ListOp, Op, RoundTrip, text

T = TypeVar("T")

PAGE = 100
"""Checkpoints fetched per round trip when `list` has no limit (or a larger one)."""

SCAN = 5000
"""Index members list(None) examines per round trip (bounds one script's run time)."""

HISTORY_PAGE = 500
"""Ancestors visited per round trip by get_delta_channel_history (a short script per call)."""

SWEEP_CALLS = 100_000
"""A bound on sweep()'s calls (16 threads each): a bug must not turn into an endless loop."""

MIN_SERVER = (6, 2)

LAYOUT_ONE = "one"
LAYOUT_GROUPS = "groups"
"""checkpoint_meta's `layout`: a thread's keys tagged `{T}` and the cross-thread indexes as
single keys (one server), or the thread's keys in its group's slot (`{g}T`) and the indexes
split per group (a cluster, keys.py). Data of one layout cannot be read through the other."""

LAYOUT_GONE = {
    "buckets": "the cluster layout of earlier 0.1 builds (one index bucket per slot, a "
    "thread's keys tagged {T}); its threads can be moved by reading them with such a build "
    "and putting them through this one, or start afresh under another key prefix"
}
"""Layouts this version no longer reads, with what to do about data written in them."""


DEFAULT_MAX_BULK = 512 * 1024 * 1024
"""Redis's default proto-max-bulk-len: the largest single argument it accepts."""


def max_bulk_of(reply: Any) -> int | None:
    """CONFIG GET proto-max-bulk-len's reply (a flat list, or the dict redis-py makes of it),
    as an int; None when it was refused or is unreadable."""
    if isinstance(reply, dict):
        values = list(reply.values())
    elif isinstance(reply, list | tuple):
        values = list(reply[1::2])
    else:
        return None
    try:
        return int(values[0]) if values else None
    except (TypeError, ValueError):
        return None


def _conf(config: RunnableConfig | None, what: str) -> dict[str, Any]:
    if config is not None:
        validate.config(config, what)
    conf = (config or {}).get("configurable") or {}
    if "thread_id" not in conf or conf["thread_id"] is None:
        raise ValueError(
            f"{what} needs config['configurable']['thread_id']: pass "
            '{"configurable": {"thread_id": "..."}} when you invoke the graph'
        )
    return conf


def _thread_id(conf: dict[str, Any]) -> str:
    tid = conf["thread_id"]
    return tid if isinstance(tid, str) else str(tid)


def _ns(conf: dict[str, Any]) -> str:
    return conf.get("checkpoint_ns") or ""


@dataclass
class Operations:
    """The protocol for one key space."""

    keys: KeySpace = field(default_factory=KeySpace)
    cross_thread: bool = True
    """Maintain the cross-thread indexes (list(None), delete_for_runs)."""
    deltas: DeltaWriter | None = field(default_factory=DeltaWriter)
    """Keep list channels in append-only logs, sending each step's new items only (deltas.py,
    lua/includes/logs.lua); None: always whole values."""
    ttl_ms: int = 0
    """Threads expire this long after their last write (lua/includes/ttl.lua); 0: never."""
    refresh_on_read: bool = False
    """Reads of a thread also push its deadline back."""
    shallow: bool = False
    """Keep only the latest checkpoint of each namespace (ShallowRedisSaver)."""
    cluster: bool = False
    """The bucketed layout of a Redis Cluster (keys.py); set by the driver when it connects."""
    cross_flag: bool = False
    """Send the `allow-cross-slot-keys` twins of the fan-out scripts (a cluster of Redis 7+)."""
    max_bulk: int = DEFAULT_MAX_BULK
    """The largest value the server takes (its proto-max-bulk-len, read by setup(); Redis's
    default until then): a larger one is refused here, before it is sent (`fits`)."""

    def __post_init__(self) -> None:
        self.s = scripts.load()
        self._g = "1" if self.cross_thread else "0"
        self._flags = ("r" if self.refresh_on_read else "") + ("s" if self.shallow else "")

    def fits(self, what: str, data: bytes | str) -> None:
        """Refuses a value the server would refuse (it resets the connection on a bulk
        string over proto-max-bulk-len, after the whole value was sent; a retry would send it
        again): a ValueError naming it and the limit, before anything is sent."""
        if len(data) > self.max_bulk:
            raise ValueError(
                f"{what} serializes to {len(data):,} bytes; the server accepts at most "
                f"{self.max_bulk:,} bytes per value (its proto-max-bulk-len): store large "
                "data elsewhere and keep a reference in the state"
            )

    def _sfx(self, th: Thread) -> str:
        """The thread's bucket suffix: "" on one server, ":{b}" on a cluster."""
        return bucket_of(th.tag) if self.cluster else ""

    def _block(self, th: Thread) -> list[Any]:
        """The thread block every per-thread script starts its ARGV with (common.lua's
        `thread`): the scripts derive the thread's keys from it as keys.py does."""
        return [
            self.keys.prefix,
            self.keys.write_prefix,
            th.tag,
            self._g + self._sfx(th),
            self.ttl_ms,
            self._flags,
        ]

    def _fan(self, name: str) -> scripts.Script:
        """A fan-out script (no KEYS), flagged for a cluster that asks for it."""
        s = self.s[name]
        return s.cross if self.cross_flag and s.cross is not None else s

    # -- setup ---------------------------------------------------------------------------

    def setup(self) -> Op[None]:
        """Caches the scripts on every server (each master of a cluster), checks its version,
        and records or checks the storage format and layout of this key space."""
        wanted = scripts.to_load(self.cross_flag)

        def build(_: list[str]) -> list[Eval | Cmd]:
            return [
                Cmd(("INFO", "server")),
                Cmd(("CONFIG", "GET", "proto-max-bulk-len")),
                *(Cmd(("SCRIPT", "LOAD", x.source)) for x in wanted),
            ]

        limits = []
        for replies in (yield FanOut(build)):
            check_version(replies[0])
            limits.append(max_bulk_of(replies[1]) or DEFAULT_MAX_BULK)
            scripts.check_loaded(wanted, replies[2:])
        self.max_bulk = min(limits, default=DEFAULT_MAX_BULK)
        layout = LAYOUT_GROUPS if self.cluster else LAYOUT_ONE
        meta = self.keys.meta
        replies = yield RoundTrip(
            [
                Cmd(("HSETNX", meta, "format", codec.FORMAT)),
                Cmd(("HSETNX", meta, "layout", layout)),
                Cmd(("HMGET", meta, "format", "layout")),
            ]
        )
        fmt, found = replies[-1]
        if int(fmt) != codec.FORMAT:
            raise RuntimeError(
                f"keys under prefix {self.keys.prefix!r} hold storage format {int(fmt)}; "
                f"this version writes format {codec.FORMAT}"
            )
        if found is not None and text(found) in LAYOUT_GONE:
            raise RuntimeError(
                f"keys under prefix {self.keys.prefix!r} were written in the {text(found)!r} "
                f"layout, which this version does not read: {LAYOUT_GONE[text(found)]}"
            )
        if found is not None and text(found) != layout:
            where = "a Redis Cluster" if self.cluster else "one server"
            raise RuntimeError(
                f"keys under prefix {self.keys.prefix!r} were written in the "
                f"{text(found)!r} layout, but this is {where} (layout {layout!r}): the "
                "cross-thread indexes of one cannot be read through the other; re-put the "
                "threads through a saver of each layout (list, then put), or use another "
                "key prefix"
            )

    # -- write path ----------------------------------------------------------------------

    def put(
        self,
        serde: SerializerProtocol,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Op[RunnableConfig]:
        conf = _conf(config, "put")
        validate.put_args(checkpoint, metadata, new_versions)
        thread_id, ns = _thread_id(conf), _ns(conf)
        th = self.keys.thread(thread_id, self.cluster)
        cid = checkpoint["id"]
        nse, cide = enc(ns), enc(cid)
        skeleton = checkpoint.copy()
        values: dict[str, Any] = skeleton.pop("channel_values")  # type: ignore[misc]
        md = get_checkpoint_metadata(config, metadata)
        blobs: dict[str, tuple[str, bytes]] = {}  # field -> (channel, bytes sent)
        sent: dict[str, Sent | None] = {}
        for ch, ver in new_versions.items():
            if ch in values:
                f = codec.blob_field(ch, ver)
                if self.deltas is None:
                    blobs[f] = (ch, codec.pack_value(serde, values[ch]))
                else:
                    data, sent[ch] = self.deltas.encode(serde, thread_id, ns, ch, values[ch])
                    blobs[f] = (ch, data)
        for ch, data in blobs.values():
            self.fits(f"put: channel {ch!r}'s value", data)
        run = md.get("run_id")
        run_e = enc(str(run)) if run is not None else ""
        parent = conf.get("checkpoint_id")
        sfx = self._sfx(th)
        all_index = self.keys.all_in(sfx)
        keys = [
            f"{th.cp}{nse}:{cide}",
            th.idx + nse,
            th.ns_set,
            th.blob + nse,
            all_index,
            self.keys.run_key(str(run), sfx) if run_e else all_index,
            th.wo + nse,
            th.fence,
        ]
        replays = md.get("counters_since_delta_snapshot") or {}
        packed = codec.pack_checkpoint(serde, skeleton, md)
        self.fits("put: the checkpoint with its metadata", packed)
        head = argv.build(
            "put_checkpoint",
            thread=self._block(th),
            cid=cide,
            ns=nse,
            envelope=packed,
            parent=enc(parent) if parent else "",
            blob_fields="\n".join(
                codec.blob_field(c, v) for c, v in checkpoint["channel_versions"].items()
            ),
            run=run_e,
            replays="\n".join(enc(str(ch)) for ch in replays),
            nblobs=len(blobs),
        )
        tail: list[str] = []
        fields = codec.filter_fields(md)
        for i in range(0, len(fields), 2):
            by = self.keys.by_key(fields[i][2:], fields[i + 1], sfx) if self.cross_thread else None
            tail += [fields[i], fields[i + 1], by or ""]
        while True:
            pairs = [x for f, (_, data) in blobs.items() for x in (f, data)]
            (reply,) = yield RoundTrip(
                [Eval(self.s["put_checkpoint"], keys, [*head, *pairs, *tail])]
            )
            if reply[0] != -1:
                break
            # Claims on logs the server no longer has (pruned, deleted or expired by someone
            # else): nothing was written; send those values with no claim.
            assert self.deltas is not None  # only claims can lose their log
            for f in map(text, reply[1:]):
                ch = blobs[f][0]
                data, sent[ch] = self.deltas.whole(serde, values[ch])
                self.fits(f"put: channel {ch!r}'s value", data)
                blobs[f] = (ch, data)
        if self.deltas is not None and sent:
            refs = {text(reply[i]): reply[i + 1] for i in range(1, len(reply), 2)}
            for f, (ch, _) in blobs.items():
                s, ref = sent.get(ch), refs.get(f)
                if s is not None and ref is not None:
                    self.deltas.remember(thread_id, ns, ch, s, ref)
                elif ch in sent:
                    self.deltas.drop(thread_id, ns, ch)
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}}

    def put_writes(
        self,
        serde: SerializerProtocol,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> Op[None]:
        conf = _conf(config, "put_writes")
        validate.writes_args(writes, task_id, task_path)
        if not conf.get("checkpoint_id"):
            raise ValueError("put_writes needs config['configurable']['checkpoint_id']")
        if not writes:
            return
        th = self.keys.thread(_thread_id(conf), self.cluster)
        nse, cide, ke = enc(_ns(conf)), enc(conf["checkpoint_id"]), enc(task_id)
        items: list[Any] = []
        for i, (ch, value) in enumerate(writes):
            items.append(WRITES_IDX_MAP.get(ch, i))
            items.append(codec.pack_write(serde, ch, value, task_path))
            self.fits(f"put_writes: the write to channel {ch!r}", items[-1])
        yield RoundTrip(
            [
                Eval(
                    self.s["put_writes"],
                    [
                        f"{th.cp}{nse}:{cide}",
                        f"{th.write}{nse}:{cide}:{ke}",
                        th.ns_set,
                        th.wo + nse,
                        th.fence,
                    ],
                    argv.build(
                        "put_writes",
                        *items,
                        thread=self._block(th),
                        cid=cide,
                        ns=nse,
                        task_field="w:" + ke,
                        task=codec.pack_task(task_id, task_path),
                    ),
                )
            ]
        )

    # -- read path -----------------------------------------------------------------------

    def _get(self, th: Thread, nse: str, cide: str, filter_args: list[str]) -> Eval:
        return Eval(
            self.s["get_checkpoint"],
            [th.idx + nse, th.blob + nse, th.fence],
            argv.build("get_checkpoint", *filter_args, thread=self._block(th), ns=nse, cid=cide),
        )

    def get_tuple(
        self, serde: SerializerProtocol, config: RunnableConfig
    ) -> Op[CheckpointTuple | None]:
        conf = _conf(config, "get_tuple")
        thread_id, ns = _thread_id(conf), _ns(conf)
        cid = conf.get("checkpoint_id")
        th = self.keys.thread(thread_id, self.cluster)
        (raw,) = yield RoundTrip([self._get(th, enc(ns), enc(cid) if cid else "", [])])
        return None if raw is None else self._tuple(serde, thread_id, ns, raw, learn=True)

    def list(
        self,
        serde: SerializerProtocol,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> ListOp:
        if limit is not None and limit <= 0:
            return
        before_id = ((before or {}).get("configurable") or {}).get("checkpoint_id")
        fargs = codec.filter_args(filter)
        if config is None:
            yield from self._list_all(serde, filter, fargs, before_id, limit)
            return
        conf = _conf(config, "list")
        thread_id = _thread_id(conf)
        th = self.keys.thread(thread_id, self.cluster)
        ns = conf.get("checkpoint_ns")
        if cid := conf.get("checkpoint_id"):
            if before_id and cid >= before_id:
                return
            if ns is None:  # no namespace given: the id may be in any of them
                (members,) = yield RoundTrip([Cmd(("SMEMBERS", th.ns_set))])
                namespaces = sorted(dec(text(m)) for m in members)
            else:
                namespaces = [ns]
            rows = yield RoundTrip([self._get(th, enc(n), enc(cid), fargs) for n in namespaces])
            found = zip(namespaces, rows, strict=True)
            tuples = (self._tuple(serde, thread_id, n, raw) for n, raw in found if raw is not None)
            yield from self._emit(tuples, filter, limit)
            return
        left = limit
        upper = enc(before_id) if before_id else ""
        while True:
            page = min(left, PAGE) if left is not None else PAGE
            (rows,) = yield RoundTrip(
                [
                    Eval(
                        self.s["list_checkpoints"],
                        [th.ns_set, th.fence],
                        argv.build(
                            "list_checkpoints",
                            *fargs,
                            thread=self._block(th),
                            ns=enc(ns or ""),
                            every_ns="0" if ns is not None else "1",
                            before=upper,
                            page=page,
                        ),
                    )
                ]
            )
            tuples = (self._tuple(serde, thread_id, dec(text(nse)), raw) for nse, raw in rows)
            left = yield from self._emit(tuples, filter, left)
            if left == 0 or len(rows) < page:
                return
            upper = text(rows[-1][1][0])

    def _list_all(
        self,
        serde: SerializerProtocol,
        filter: dict[str, Any] | None,
        fargs: builtins.list[str],
        before_id: str | None,
        limit: int | None,
    ) -> ListOp:
        """list(None): each server merges its buckets in list_buckets-0.lua (newest first, the
        smallest index the filter names in each), a page per call; the pages of all servers
        are merged here. A row is emitted once every server has examined everything newer
        than it (each reply says how far it got), and the next round starts below the last
        row settled, for every server alike: no state per server, so a changed topology
        between two rounds changes nothing. On one server this is one call per page."""
        if not self.cross_thread:
            raise NotImplementedError("list(None) needs the cross-thread index")
        base = len(self.keys.prefix) + len("_by:")  # list_buckets puts "<prefix>_by<sfx>:" back
        entries = (self.keys.by_key(fargs[i][2:], fargs[i + 1]) for i in range(0, len(fargs), 2))
        by = [e[base:] for e in entries if e is not None]
        upper = "(" + enc(before_id) if before_id else "+"
        left = limit
        script = self._fan("list_buckets")
        while True:
            page = min(left, PAGE) if left is not None else PAGE
            shallow = "1" if self.shallow else "0"
            head = {
                "prefix": self.keys.prefix,
                "write_prefix": self.keys.write_prefix,
                "upper": upper,
                "page": page,
                "budget": SCAN,
                "shallow": shallow,
            }

            def build(sfx: list[str], head: dict[str, Any] = head) -> list[Eval | Cmd]:
                args = argv.build(
                    "list_buckets",
                    *by,
                    *fargs,
                    **head,
                    nb=len(sfx),
                    buckets=",".join(sfx),
                    ny=len(by),
                )
                return [Eval(script, [], args)]

            rows: list[tuple[bytes, Any]] = []
            settled = b""  # rows at or above this member are final
            for (reply,) in (yield FanOut(build)):
                for t, nse, raw in reply[0]:
                    rows.append((_member(raw[0], t, nse), (t, nse, raw)))
                nxt = _bytes(reply[1])
                if nxt:
                    settled = max(settled, nxt[1:])
            rows.sort(key=lambda r: r[0], reverse=True)
            final = [r for m, r in rows if m >= settled]
            tuples = (
                self._tuple(serde, dec(text(t)), dec(text(nse)), raw) for t, nse, raw in final
            )
            left = yield from self._emit(tuples, filter, left)
            if left == 0 or not settled:
                return
            upper = "(" + settled.decode()

    @staticmethod
    def _emit(
        tuples: Iterable[CheckpointTuple], filter: dict[str, Any] | None, left: int | None
    ) -> Generator[Emit, Any, int | None]:
        """Yields the tuples that pass the exact filter, counting down `limit`; returns what is
        left of it (0: done)."""
        for tup in tuples:
            if not codec.matches(tup.metadata, filter):
                continue
            yield Emit(tup)
            if left is not None:
                left -= 1
                if left <= 0:
                    return 0
        return left

    def _tuple(
        self,
        serde: SerializerProtocol,
        thread_id: str,
        ns: str,
        raw: builtins.list[Any],
        learn: bool = False,
    ) -> CheckpointTuple:
        """A checkpoint as the Lua readers return it (load_tuple.lua). With `learn`, the lists
        read from logs are remembered (deltas.py), so the next put claims them."""
        cide, d, parent, blobs, writes = raw
        skeleton, metadata = codec.unpack_checkpoint(serde, d)
        values: dict[str, Any] = {}
        if blobs:
            by_field = {
                codec.blob_field(ch, v).encode(): ch
                for ch, v in skeleton["channel_versions"].items()
            }
            for i in range(0, len(blobs), 2):
                ch = by_field.get(blobs[i])
                if ch is not None:
                    data = blobs[i + 1]
                    values[ch] = codec.unpack_blob(serde, data)
                    if learn and self.deltas is not None and isinstance(data, list):
                        self.deltas.learn(thread_id, ns, ch, data[0], data[1], values[ch])
        pending = _sorted_writes(writes)
        cid = dec(text(cide))
        return CheckpointTuple(
            config={
                "configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}
            },
            checkpoint=cast(Checkpoint, {**skeleton, "channel_values": values}),
            metadata=metadata,
            parent_config=(
                {
                    "configurable": {
                        "thread_id": thread_id,
                        "checkpoint_ns": ns,
                        "checkpoint_id": dec(text(parent)),
                    }
                }
                if parent
                else None
            ),
            pending_writes=[
                (task_id, ch, serde.loads_typed(typed)) for _, task_id, _, ch, typed in pending
            ],
        )

    def delta_history(
        self, serde: SerializerProtocol, config: RunnableConfig, channels: Sequence[str]
    ) -> Op[dict[str, DeltaChannelHistory]]:
        """get_delta_channel_history: the parent walk runs in the script, HISTORY_PAGE ancestors
        per round trip; only the requested channels' writes and seeds are deserialized."""
        if not channels:
            return {}
        conf = _conf(config, "get_delta_channel_history")
        thread_id, ns = _thread_id(conf), _ns(conf)
        th, nse = self.keys.thread(thread_id, self.cluster), enc(ns)
        cid = conf.get("checkpoint_id")
        walking = {enc(ch): ch for ch in channels}
        per_ancestor: list[dict[str, list[PendingWrite]]] = []
        seeds: dict[str, Any] = {}
        cursor = ""
        while walking:
            (reply,) = yield RoundTrip(
                [
                    Eval(
                        self.s["delta_history"],
                        [th.idx + nse, th.blob + nse, th.fence],
                        argv.build(
                            "delta_history",
                            *walking,
                            thread=self._block(th),
                            ns=nse,
                            cursor=cursor,
                            cid=enc(cid) if cid else "",
                            page=HISTORY_PAGE,
                        ),
                    )
                ]
            )
            ancestors, cursor = reply[0], text(reply[1])
            for _, writes, found in ancestors:
                wanted = set(walking.values())
                mine: dict[str, list[PendingWrite]] = defaultdict(list)
                for _, task_id, _, ch, typed in _sorted_writes(writes):
                    if ch in wanted:
                        mine[ch].append((task_id, ch, serde.loads_typed(typed)))
                per_ancestor.append(mine)
                for i in range(0, len(found), 2):
                    ch = walking.pop(text(found[i]))
                    seeds[ch] = codec.unpack_blob(serde, found[i + 1])
            if not cursor:
                break
        result: dict[str, DeltaChannelHistory] = {}
        for ch in channels:
            entry: DeltaChannelHistory = {
                "writes": [w for mine in reversed(per_ancestor) for w in mine.get(ch, ())]
            }
            if ch in seeds:
                entry["seed"] = seeds[ch]
            result[ch] = entry
        return result

    # -- deletion, pruning, copying ------------------------------------------------------

    def _thread_args(self, th: Thread) -> tuple[builtins.list[str], builtins.list[Any]]:
        return [th.ns_set, self.keys.all_in(self._sfx(th)), th.fence], self._block(th)

    def delete_thread(self, thread_id: str) -> Op[None]:
        keys, args = self._thread_args(self.keys.thread(thread_id, self.cluster))
        yield RoundTrip([Eval(self.s["delete_thread"], keys, args)])
        if self.deltas is not None:
            self.deltas.forget(_thread_id({"thread_id": thread_id}))

    def delete_for_runs(self, run_ids: Sequence[str]) -> Op[None]:
        if not run_ids:
            return
        if not self.cross_thread:
            raise NotImplementedError("delete_for_runs needs the cross-thread index")
        runs = [enc(str(r)) for r in run_ids]
        script = self._fan("run_members")

        def build(sfx: list[str]) -> list[Eval | Cmd]:
            args = argv.build("run_members", *runs, *sfx, prefix=self.keys.prefix, nr=len(runs))
            return [Eval(script, [], args)]

        by_thread: dict[str, list[str]] = defaultdict(list)
        for (members,) in (yield FanOut(build)):
            for m in members:
                t, nse, cide = text(m).split("\n")
                by_thread[t] += [nse, cide]
        if not by_thread:
            return
        cmds: list[Eval | Cmd] = []
        for t, pairs in by_thread.items():
            keys, args = self._thread_args(self.keys.thread_from_tag(t, self.cluster))
            args = argv.build("delete_checkpoints", *pairs, thread=args)
            cmds.append(Eval(self.s["delete_checkpoints"], keys, args))
        yield RoundTrip(cmds)

    def prune(
        self, thread_ids: Sequence[str], strategy: str = "keep_latest", keep_last: int | None = None
    ) -> Op[None]:
        """One script call per thread, all in one round trip. `keep_last`
        (langgraph-checkpoint-redis's keyword) overrides `strategy`: N keeps the N latest
        checkpoints of each namespace, 0 deletes the thread. strategy="keep_last"
        (langgraph-checkpoint-redis's callers pass it with keep_last=N) is read as keep_last's
        own."""
        if strategy == "keep_last" and keep_last is not None:
            strategy = "keep_latest"
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(
                f"unknown prune strategy {strategy!r}: use 'keep_latest' or 'delete' "
                "(or keep_last=N)"
            )
        if keep_last is None:
            keep_last = 0 if strategy == "delete" else 1
        if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 0:
            raise ValueError(f"keep_last must be an int >= 0, got {keep_last!r}")
        if isinstance(thread_ids, str):
            raise TypeError("prune takes a list of thread ids, not one string")
        if not thread_ids:
            return
        cmds: list[Eval | Cmd] = []
        for tid in thread_ids:
            keys, args = self._thread_args(self.keys.thread(tid, self.cluster))
            if keep_last == 0:
                cmds.append(Eval(self.s["delete_thread"], keys, args))
            else:
                args = argv.build("prune_thread", thread=args, keep_last=keep_last)
                cmds.append(Eval(self.s["prune_thread"], keys, args))
        yield RoundTrip(cmds)
        if self.deltas is not None and keep_last == 0:
            for tid in thread_ids:
                self.deltas.forget(_thread_id({"thread_id": tid}))

    # -- expiry --------------------------------------------------------------------------

    def thread_expiry(self, thread_id: str, mode: str) -> Op[bool]:
        """pin / unpin (thread_expiry-2.lua); True when the thread exists."""
        th = self.keys.thread(thread_id, self.cluster)
        (found,) = yield RoundTrip(
            [
                Eval(
                    self.s["thread_expiry"],
                    [th.ns_set, th.fence],
                    argv.build("thread_expiry", thread=self._block(th), mode=mode),
                )
            ]
        )
        return bool(found)

    def sweep(self, budget: int = 2000) -> Op[int]:
        """Removes the cross-thread index entries of every expired thread now (the scripts do it
        a little at a time anyway); returns how many checkpoints' entries were removed."""
        if not self.cross_thread:
            return 0
        total = 0
        script = self._fan("sweep_buckets")

        def build(sfx: list[str]) -> list[Eval | Cmd]:
            args = argv.build(
                "sweep_buckets",
                *sfx,
                prefix=self.keys.prefix,
                write_prefix=self.keys.write_prefix,
                budget=budget,
            )
            return [Eval(script, [], args)]

        for _ in range(SWEEP_CALLS):
            due = False
            for (reply,) in (yield FanOut(build)):
                total += int(reply[0])
                due = due or bool(int(reply[1]))
            if not due:
                return total
        raise RuntimeError(
            f"sweep: threads still due after {SWEEP_CALLS} calls ({total} entries removed); "
            f"are {self.keys.exp_index!r} keys written by something else?"
        )

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> Op[None]:
        """An atomic read of the source (export_thread) and one atomic write of the target
        (import_thread): on a cluster the two threads may live in different slots, so the
        copy is two scripts. If it is interrupted between them, the target is unchanged (the
        import is all or nothing) and calling copy_thread again completes it."""
        src = self.keys.thread(source_thread_id, self.cluster)
        dst = self.keys.thread(target_thread_id, self.cluster)
        (exported,) = yield RoundTrip(
            [Eval(self.s["export_thread"], [src.ns_set, src.fence], self._block(src))]
        )
        if not exported:
            return
        incoming: list[Any] = []
        records: list[Any] = []
        for ns_b, blob_flat, cps, wo, logs in exported:
            nse = text(ns_b)
            for i in range(0, len(logs), 2):
                records += ["L", nse, logs[i], logs[i + 1]]
            if blob_flat:
                records += ["B", nse, len(blob_flat), *blob_flat]
            for cid_b, h, ws, ledger in cps:
                is_cp = "1" if b"d" in h[::2] or "d" in h[::2] else "0"
                if is_cp == "1":  # a write-only id replaces nothing: its writes are added
                    incoming += [nse, cid_b]
                records += ["C", nse, cid_b, ledger or "", is_cp, len(h), *h]
                for k, wh in zip(ws[::2], ws[1::2], strict=True):
                    if wh:
                        records += ["W", nse, cid_b, k, len(wh), *wh]
            if wo:
                records += ["O", nse, len(wo), *wo]
        src_by = self.keys.prefix + "_by" + self._sfx(src) + ":"
        yield RoundTrip(
            [
                Eval(
                    self.s["import_thread"],
                    [dst.ns_set, dst.fence],
                    argv.build(
                        "import_thread",
                        *incoming,
                        *records,
                        thread=self._block(dst),
                        source_by=src_by,
                        np=len(incoming) // 2,
                    ),
                )
            ]
        )
        if self.deltas is not None:
            self.deltas.forget(target_thread_id)

    # -- versions ------------------------------------------------------------------------

    @staticmethod
    def next_version(current: str | int | None) -> str:
        """InMemorySaver's scheme: a zero-padded counter (so versions sort as strings) and a
        random fraction (so two forks of one parent never name different values alike)."""
        if current is None:
            n = 0
        elif isinstance(current, int):
            n = current
        else:
            n = int(current.split(".")[0])
        return f"{n + 1:032}.{random.random():016}"


def check_version(info: Any) -> None:
    """Refuses a server older than MIN_SERVER (INFO's reply; an error, on services that
    restrict INFO, is let through)."""
    if isinstance(info, dict) and "redis_version" in info:
        version = tuple(int(x) for x in str(info["redis_version"]).split(".")[:2])
        if version < MIN_SERVER:
            raise RuntimeError(
                f"Redis {info['redis_version']} is too old: "
                f"{'.'.join(map(str, MIN_SERVER))} or newer is needed"
            )


def _sorted_writes(writes: list[Any]) -> list[tuple[str, str, int, str, tuple[str, bytes]]]:
    """A checkpoint's writes as the scripts return them, as (task path, task id, index,
    channel, typed value) in `writes_sort_key` order: the order live execution applies them
    in. Each write's own path (codec.pack_write), else its task's."""
    out: list[tuple[str, str, int, str, tuple[str, bytes]]] = []
    for j in range(0, len(writes), 2):
        task_id, task_path = codec.unpack_task(writes[j])
        h = writes[j + 1]
        for k in range(0, len(h), 2):
            ch, typed, path = codec.unpack_write(h[k + 1])
            out.append((task_path if path is None else path, task_id, int(h[k]), ch, typed))
    out.sort(key=lambda w: (w[0], w[1], w[2]))
    return out


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _member(cide: Any, t: Any, nse: Any) -> bytes:
    """A row's member in the cross-thread indexes ("C\nT\nN"), bytes: the order Redis keeps."""
    return b"\n".join((_bytes(cide), _bytes(t), _bytes(nse)))
