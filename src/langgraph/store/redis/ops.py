"""Every rule of the stores, free of I/O (as the checkpointer's ops.py): a batch is a generator
that yields round trips and returns the results.

A batch runs as InMemoryStore runs it: every read (get, search, list_namespaces) sees the store
as it was before the batch's puts, and of several puts of one item the last wins. So a batch is
its reads, pipelined; then, when a search needs it, one round trip of the store_get calls that
fetch (and re-arm) the pages of all its searches; then its puts, pipelined (each put one atomic
script call).

On a Redis Cluster (`cluster`) each namespace's keys, and its entries in the store's listings,
live in the slot of the namespace (includes/store.lua: Buckets): a get or a put is still one
script call on one slot. A search or a listing spans namespaces: its script takes no keys and
reads the buckets it is given ("" on one server), so `_spread` sends it as a FanOut, once to
each master with the suffixes of that master's buckets, and merges the masters' replies as one
server's reply would be: one round trip, as on one server.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, cast

from langgraph.checkpoint.redis import argv, scripts
from langgraph.checkpoint.redis.keys import dec, enc, group_suffixes, group_tag
from langgraph.checkpoint.redis.ops import DEFAULT_MAX_BULK
from langgraph.checkpoint.redis.protocol import Cmd, Eval, FanOut, RoundTrip, text
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.store.base import (
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.memory import _does_match

from . import ftindex
from .filters import matches as _matches
from .filters import prefilter
from .vectors import Entry, Matrix, VectorCache, rank

Batch = Generator[RoundTrip, list[Any], list[Result]]
Spread = Generator["RoundTrip | FanOut | Both", Any, list[Result]]
SPANNING = frozenset({"store_search", "store_namespaces"})
"""The scripts that read every namespace of the buckets they are given: on a cluster, a FanOut
(one call per master)."""
Searched = tuple[list[SearchItem], list[Eval]]


@dataclass
class Both:
    """A round trip and a fan-out that go out together (on the async store, concurrently): a
    cluster's batch whose reads hold both calls of one slot and calls that span the masters.
    The drivers answer (the round trip's replies, the fan-out's)."""

    rt: RoundTrip
    fo: FanOut


def ns_key(namespace: Sequence[str]) -> str:
    """A namespace as it appears in keys: each label encoded (so ":" cannot occur in one),
    joined by ":"."""
    return ":".join(enc(label) for label in namespace)


@lru_cache(maxsize=65536)
def ns_of(encoded: str | bytes) -> tuple[str, ...]:
    """Cached: a listing or a search decodes the same few namespaces call after call."""
    if isinstance(encoded, bytes):
        encoded = encoded.decode()
    return tuple(dec(label) for label in encoded.split(":"))


_last_stamp = 0
_stamp_lock = threading.Lock()


def stamp() -> int:
    """A put's order stamp on a cluster: this process's clock in microseconds, strictly
    increasing (includes/store.lua: next_seq). The puts of one batch reach several masters
    at once; the stamps keep InMemoryStore's order across them."""
    global _last_stamp
    with _stamp_lock:
        _last_stamp = max(time.time_ns() // 1000, _last_stamp + 1)
        return _last_stamp


def _bytes(x: Any) -> bytes:
    """A reply's string as bytes: memcmp order, as Redis keeps members and store.lua's under()
    orders namespaces of equal first seq."""
    return x if isinstance(x, bytes) else str(x).encode()


US_SINCE = 10**14
"""An item's times are kept in microseconds (store_put-2.lua); items written before that kept
milliseconds. A time in microseconds since 1970 is above 10**14 from 1973 on, one in
milliseconds stays below it until the year 5138: the size tells them apart, so older items
read right without a storage-format change."""


def _time(t: Any) -> datetime:
    n = int(t)
    if n >= US_SINCE:
        return datetime.fromtimestamp(n // 1_000_000, tz=timezone.utc).replace(
            microsecond=n % 1_000_000
        )
    return datetime.fromtimestamp(n / 1000, tz=timezone.utc)


@dataclass
class StoreOps:
    prefix: str = "store"
    serde: SerializerProtocol = field(default_factory=JsonPlusSerializer)
    default_ttl_ms: int = 0
    cache: VectorCache | None = None
    knn: int = 0  # the dimensions of the server's vector index setup() readied, 0: none
    cluster: bool = False  # the bucketed layout of a Redis Cluster, set when the store connects
    cross: bool = False  # the cluster's servers take `#!lua flags=` (Redis 7+, Valkey)
    max_bulk: int = DEFAULT_MAX_BULK  # the server's largest value: setup() reads it

    def __post_init__(self) -> None:
        self.s = scripts.load()
        self._kept_groups: dict[int, tuple[list[str], str]] = {}
        self._fence = f"{self.prefix}_fence"

    # -- keys ------------------------------------------------------------------------

    def item_key(self, nse: str, key: str) -> str:
        """Item `key` of namespace `nse`, tagged "{N}" on one server; "{b}N" on a cluster, b the
        tag of the first slot of N's slot's group (keys.group_tag)."""
        if self.cluster:
            return f"{self.prefix}:{group_tag(nse)}{nse}:{enc(key)}"
        return f"{self.prefix}:{{{nse}}}:{enc(key)}"

    def fence_of(self, nse: str) -> str:
        """The never-written key store_get and store_put declare with the item: the bucket's
        fence on a cluster (includes/store.lua: Buckets); on one server `prefix_fence`, which
        only tells the script the prefix and that its bucket suffix is ""."""
        return f"{self._fence}:{group_tag(nse)}" if self.cluster else self._fence

    # -- values ----------------------------------------------------------------------

    def unpack(self, typed: Any) -> dict[str, Any]:
        """A stored value: [serde type, serde bytes] as the scripts return them."""
        vtype, vbytes = typed
        return cast("dict[str, Any]", self.serde.loads_typed((text(vtype), vbytes)))

    # -- a batch ---------------------------------------------------------------------

    def batch(
        self,
        ops: Iterable[Op],
        vectors: dict[tuple[tuple[str, ...], str], bytes] | None = None,
        queries: dict[str, Any] | None = None,
        dims: int = 0,
    ) -> Spread:
        """`vectors`: the packed embeddings of the puts that have them, of `dims` dimensions;
        `queries`: the query embeddings of the searches (the drivers embed, sync or async,
        before calling)."""
        one = self._batch(ops, vectors, queries, dims)
        return self._spread(one) if self.cluster else one

    def _batch(
        self,
        ops: Iterable[Op],
        vectors: dict[tuple[tuple[str, ...], str], bytes] | None,
        queries: dict[str, Any] | None,
        dims: int,
    ) -> Batch:
        ops = list(ops)
        results: list[Result] = [None] * len(ops)
        reads: list[tuple[int, Op, Eval]] = []
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for i, op in enumerate(ops):
            if isinstance(op, GetOp):
                reads.append((i, op, self._get_call(ns_key(op.namespace), op.key, op.refresh_ttl)))
            elif isinstance(op, SearchOp):
                scored = bool(op.query) and queries is not None and op.query in queries
                if scored and self.knn and not op.filter:
                    reads.append((i, op, self._knn_call(op, (queries or {})[op.query or ""])))
                else:
                    reads.append((i, op, self._search_call(op, scored)))
            elif isinstance(op, ListNamespacesOp):
                reads.append((i, op, self._listing_call(op)))
            elif isinstance(op, PutOp):
                puts[(tuple(op.namespace), op.key)] = op
            else:
                raise ValueError(f"Unknown operation type: {type(op)}")
        writes: list[Eval | Cmd] = []
        if reads:
            replies = yield RoundTrip([e for _, _, e in reads])
            searches: dict[int, Generator[RoundTrip, list[Any], Searched]] = {}
            for (i, op, read), reply in zip(reads, replies, strict=True):
                if isinstance(op, GetOp):
                    results[i] = self._item(op.namespace, op.key, reply)
                elif isinstance(op, SearchOp):
                    query = (queries or {}).get(op.query or "")
                    searches[i] = self._search(op, read, reply, query)
                else:
                    assert isinstance(op, ListNamespacesOp)
                    results[i] = self._namespaces(op, reply)
            for i, (found, rearm) in (yield from lockstep(searches)).items():
                results[i] = found
                # re-arms the search script could not do itself: before this batch's puts,
                # which set their own TTL
                writes += rearm
        if puts or writes:
            cmds = writes
            for (namespace, key), op in puts.items():
                nse = ns_key(namespace)
                ttl = op.ttl
                ttl_ms = round(ttl * 60_000) if ttl else 0
                vtype, vbytes = ("", b"") if op.value is None else self.serde.dumps_typed(op.value)
                if len(vbytes) > self.max_bulk:
                    raise ValueError(
                        f"put: the value of {namespace!r}/{key!r} serializes to "
                        f"{len(vbytes):,} bytes; the server accepts at most {self.max_bulk:,} "
                        "bytes per value (its proto-max-bulk-len)"
                    )
                cmds.append(
                    Eval(
                        self.s["store_put"],
                        [self.item_key(nse, key), self.fence_of(nse)],
                        argv.build(
                            "store_put",
                            ns=nse,
                            key=enc(key),
                            value=vbytes,
                            ttl=ttl_ms,
                            vectors=(vectors or {}).get((namespace, key), b""),
                            type=vtype,
                            dims=dims if (namespace, key) in (vectors or {}) else 0,
                            stamp=stamp() if self.cluster else 0,
                        ),
                    )
                )
            replies = yield RoundTrip(cmds)
            for reply in replies:
                if isinstance(reply, Exception):
                    if str(reply).startswith("DIMS "):
                        raise ValueError(str(reply)[5:])
                    raise reply
        return results

    # -- a cluster: the calls that span namespaces, once per master --------------------------

    def _spread(self, batch: Batch) -> Spread:
        """Drives a one-server batch on a cluster: each round trip that holds store_search or
        store_namespaces calls (for one server's bucket, "") sends them as one FanOut, each
        master getting them for the buckets of its slots, together with the round trip's other
        calls (`Both`); the masters' replies to each call are merged into one server's."""
        reply: Any = None
        while True:
            try:
                rt = batch.send(reply)
            except StopIteration as stop:
                return cast("list[Result]", stop.value)
            spans = {
                i
                for i, c in enumerate(rt.cmds)
                if isinstance(c, Eval) and c.script.name in SPANNING
            }
            if not spans:
                reply = yield rt
                continue
            calls: list[Eval] = [rt.cmds[i] for i in sorted(spans)]  # type: ignore[misc]

            def build(sfxs: list[str], calls: list[Eval] = calls) -> list[Eval | Cmd]:
                return [self._on_master(c, sfxs) for c in calls]

            fo = FanOut(build)
            rest = [c for i, c in enumerate(rt.cmds) if i not in spans]
            if rest:
                got, per_master = yield Both(RoundTrip(rest), fo)
            else:
                got, per_master = [], (yield fo)
            merged = iter(self._merge(c, [m[j] for m in per_master]) for j, c in enumerate(calls))
            others = iter(got)
            reply = [next(merged) if i in spans else next(others) for i in range(len(rt.cmds))]

    def _on_master(self, c: Eval, sfxs: list[str]) -> Eval:
        """A spanning call for one master: its flagged twin where the servers take flags
        (scripts.py; Redis 6.2 lets a script read any key of its node), the master's buckets
        and P's. A search re-arms nothing there (ARGV[8] "0"): one master cannot know the
        page, so the merge's reader re-arms what it returns (ops._search). Both scripts take
        the buckets, P and P's bucket in the same slots (argv.py)."""
        args = list(c.args)
        args[argv.BUCKETS] = self._groups_of(sfxs)
        if args[argv.NS_PREFIX]:
            args[argv.PREFIX_BUCKET] = ":" + group_tag(args[argv.NS_PREFIX])
        if c.script.name == "store_search":
            args[argv.SEARCH_REFRESH] = "0"
        return Eval((self.cross and c.script.cross) or c.script, [], args)

    def _groups_of(self, sfxs: list[str]) -> str:
        """A master's group buckets, as the fan-outs take them ("," for none), kept per slot
        list (the driver's Masters hands out the same list until the topology changes)."""
        kept = self._kept_groups.get(id(sfxs))
        if kept is None or kept[0] is not sfxs:
            groups = group_suffixes()
            kept = (sfxs, ",".join(b for b in sfxs if b in groups) or ",")
            if len(self._kept_groups) > 64:
                self._kept_groups.clear()
            self._kept_groups[id(sfxs)] = kept
        return kept[1]

    @staticmethod
    def _merge(c: Eval, parts: list[Any]) -> Any:
        """The masters' replies to one spanning call as one server's reply: namespaces listed
        together; a search's rows (or rank blocks) in the order of the namespaces' first seq,
        then of their names' bytes (each master's own order: includes/store.lua's under), each
        namespace's rows in their own order, stopped if any master stopped, never armed
        (`_on_master`), and the masters' dimensions (-1 when they differ)."""
        if c.script.name == "store_namespaces":
            return [n for part in parts for n in part]
        rows = [r for part in parts for r in (part[0] or [])]
        rows.sort(key=lambda r: (int(r[1]), _bytes(r[0])))
        stopped = max((int(part[1]) for part in parts), default=0)
        dims = {int(part[3]) for part in parts if part[3]}
        return [rows, stopped, 0, (dims.pop() if len(dims) == 1 else -1) if dims else None]

    def _listing_call(self, op: ListNamespacesOp) -> Eval:
        """store_namespaces for one server's bucket. On a cluster it reads only the
        namespaces under `_head(op)`: each master then touches only the buckets that list one.
        One server reads its one listing whole, as one ZRANGE: cheaper than a range and a
        ZSCORE unless most namespaces are outside the prefix (the client drops those,
        _namespaces)."""
        nsp = ns_key(_head(op)[0]) if self.cluster else ""
        args = argv.build(
            "store_namespaces", prefix=self.prefix, buckets="", ns_prefix=nsp, prefix_bucket=""
        )
        return Eval(self.s["store_namespaces"], [], args)

    def sweep(self) -> Generator[RoundTrip | FanOut, Any, int]:
        """sweep_ttl(): store_sweep on one server, or on every master for its buckets at once;
        returns how many expired items' entries were removed."""
        script = self.s["store_sweep"]
        if not self.cluster:
            (n,) = yield RoundTrip(
                [Eval(script, [], argv.build("store_sweep", prefix=self.prefix, buckets=""))]
            )
            if isinstance(n, Exception):
                raise n
            return int(n)

        def build(sfxs: list[str]) -> list[Eval | Cmd]:
            flagged = (self.cross and script.cross) or script
            return [
                Eval(
                    flagged,
                    [],
                    argv.build("store_sweep", prefix=self.prefix, buckets=self._groups_of(sfxs)),
                )
            ]

        per_master = yield FanOut(build)
        return sum(int(m[0]) for m in per_master)

    def _get_call(self, nse: str, key: str, refresh: bool, query: bool = False) -> Eval:
        """store_get of one item; `query`: a query reading what it ranked (the namespace's
        version back, a missing item's entries forgotten)."""
        if self.cluster:
            keys = [f"{self.prefix}:{group_tag(nse)}{nse}:{enc(key)}", self.fence_of(nse)]
        else:
            keys = [f"{self.prefix}:{{{nse}}}:{enc(key)}", self._fence]
        args = argv.build(
            "store_get",
            refresh="1" if refresh else "0",
            ns=nse,
            key=enc(key),
            query="1" if query else "0",
        )
        return Eval(self.s["store_get"], keys, args)

    # -- results ---------------------------------------------------------------------

    def _item(self, namespace: tuple[str, ...], key: str, reply: Any) -> Item | None:
        if reply is None:
            return None
        y, v, c, u = reply[:4]
        return Item(
            value=self.unpack((y, v)),
            key=key,
            namespace=tuple(namespace),
            created_at=_time(c),
            updated_at=_time(u),
        )

    def _search_call(
        self, op: SearchOp, scored: bool, held: bool = True, verify: bool = False
    ) -> Eval:
        """`held`: whether to name the namespaces whose vectors the cache holds (a query);
        `verify`: a query that checks every candidate's item (store_search's "verify")."""
        triples, whole = prefilter(op.filter)
        nsp = ns_key(op.namespace_prefix) if op.namespace_prefix else ""
        cached = self.cache.held(nsp) if scored and held and self.cache is not None else []
        return Eval(
            self.s["store_search"],
            [],
            argv.build(
                "store_search",
                *cached,
                *triples,
                prefix=self.prefix,
                buckets="",  # one server's bucket (_on_master names a master's, and P's)
                ns_prefix=nsp,
                prefix_bucket="",
                mode=("verify" if verify else "rank") if scored else "page",
                offset=max(op.offset, 0),
                limit=max(op.limit, 0),
                refresh="1" if op.refresh_ttl else "0",
                stop="1",
                whole="1" if whole else "0",
                ncached=len(cached) // 2,
            ),
        )

    def _knn_call(self, op: SearchOp, query: Any) -> Eval:
        import numpy as np

        q = np.asarray(query, dtype="<f8")
        if len(q) != self.knn:
            raise ValueError(
                f"the store's vector index has {self.knn} dimensions and this query's "
                f"embedding {len(q)}: was the index's embed function changed?"
            )
        k = max(op.offset, 0) + max(op.limit, 0) + ftindex.MARGIN
        nsp = ns_key(op.namespace_prefix) if op.namespace_prefix else ""
        return Eval(
            self.s["store_knn"],
            [],
            argv.build(
                "store_knn",
                prefix=self.prefix,
                index=ftindex.index_name(self.prefix),
                ft_query=ftindex.knn_query(nsp, k),
                vector32=q.astype("<f4").tobytes(),
                vector64=q.tobytes(),
                k=k,
                offset=max(op.offset, 0),
                limit=max(op.limit, 0),
                refresh="1" if op.refresh_ttl else "0",
                gap=repr(ftindex.GAP),
                ns_prefix=nsp,
            ),
        )

    def _knn(self, reply: Any) -> list[SearchItem] | None:
        """store_knn-0.lua's page, or None when the query must scan."""
        status = text(reply[0])
        if status == "error":
            self.knn = 0  # the index is gone (or was never this server's): scan from now on
        if status != "ok":
            return None
        return [
            SearchItem(
                namespace=ns_of(text(nse)),
                key=dec(text(k)),
                value=self.unpack((y, v)),
                created_at=_time(c),
                updated_at=_time(u),
                score=None if score is None else float(text(score)),
            )
            for nse, k, score, y, v, c, u in reply[1]
        ]

    def _search(
        self, op: SearchOp, read: Eval, reply: Any, query: Any
    ) -> Generator[RoundTrip, list[Any], Searched]:
        """One search after its script call: the results, and the re-arms left to the client.

        A page the script could decide (every verdict sure) it re-armed itself. A query whose
        candidates are not all returned is scored here, and its page fetched with store_get,
        which re-arms what it reads: the refresh rides on the round trip that reads the
        values. Only when some verdict was unsure does the client re-arm, with the puts."""
        if read.script.name == "store_knn":
            if (done := self._knn(reply)) is not None:
                return done, []
            read = self._search_call(op, True)
            (reply,) = yield RoundTrip([read])
        rank = read.args[argv.SEARCH_MODE] != "page"
        for attempt in range(4):
            cols = self._columns(reply, rank)
            if cols is None:
                # another thread dropped a namespace this call named as held: ask for it all
                read = self._search_call(op, True, held=False)
                (reply,) = yield RoundTrip([read])
                cols = self._columns(reply, rank)
                assert cols is not None
            if rank and reply[3] and int(reply[3]) != len(query):
                have = "vectors of several" if int(reply[3]) < 0 else f"vectors of {int(reply[3])}"
                raise ValueError(
                    f"the store holds {have} dimensions and this query's embedding "
                    f"{len(query)}: was the index's embed function changed?"
                )
            stopped, armed = int(reply[1]), int(reply[2])
            chosen, before = self._choose(op, cols, query)
            if stopped and len(chosen) < op.limit:
                # the script stopped at its count of sure matches and this check disagreed
                # with one (a bytes value): walk every candidate, re-arming here
                args = list(read.args)
                args[argv.SEARCH_REFRESH], args[argv.SEARCH_STOP] = "0", "0"
                (reply,) = yield RoundTrip([Eval(read.script, read.keys, args)])
                cols, armed = self._columns(reply, rank), 0
                assert cols is not None  # a page walk holds no vectors
                chosen, before = self._choose(op, cols, query)
            # a query's page is read (and re-armed) now; the items ranked before it only
            # checked: each must still be there, in the namespace as the scan saw it
            fetch = [i for i, _, _ in chosen if cols.full[i] is None]
            probe = [i for i in before if cols.full[i] is None]
            fresh: dict[int, Any] = {}
            if fetch or probe:
                reads = [(i, op.refresh_ttl) for i in fetch] + [(i, False) for i in probe]
                got = yield RoundTrip(
                    [
                        self._get_call(text(cols.ns[i]), dec(text(cols.keys[i])), r, query=True)
                        for i, r in reads
                    ]
                )
                fresh = dict(zip(fetch, got, strict=False))
                stale = [self._stale(op, cols, i, g) for (i, _), g in zip(reads, got, strict=True)]
                if any(stale) and attempt < 3:
                    # a winner, or one ranked before the page, was deleted, evicted, expired or
                    # changed since the scan: scan again, checking every candidate's item
                    read = self._search_call(op, True, verify=True)
                    (reply,) = yield RoundTrip([read])
                    continue
            found: list[SearchItem] = []
            rearm: list[Eval] = []
            for i, value, score in chosen:
                nse, key = text(cols.ns[i]), dec(text(cols.keys[i]))
                if i in fresh:
                    g = fresh[i]
                    if g is None:
                        continue
                    typed, c, u = g[:2], g[2], g[3]
                    value = None
                else:
                    typed, (c, u, t) = cols.typed[i], cols.full[i]
                    if op.refresh_ttl and not armed and t:
                        rearm.append(self._get_call(nse, key, True))
                found.append(
                    SearchItem(
                        namespace=ns_of(nse),
                        key=key,
                        value=value if value is not None else self.unpack(typed),
                        created_at=_time(c),
                        updated_at=_time(u),
                        score=score,
                    )
                )
            return found, rearm
        raise AssertionError("unreachable")  # pragma: no cover

    def _stale(self, op: SearchOp, cols: Columns, i: int, got: Any) -> bool:
        """Whether a query's candidate, read again by store_get, is no longer what its scan
        saw: gone, its namespace changed since (another version), or out of the filter."""
        if got is None:
            return True
        seen = cols.versions.get(text(cols.ns[i]))
        if seen and got[4] and text(got[4]) != seen:
            return True
        return bool(op.filter and not _matches(self.unpack(got[:2]), op.filter))

    def _choose(
        self, op: SearchOp, cols: Columns, query: Any
    ) -> tuple[list[tuple[int, dict[str, Any] | None, float | None]], list[int]]:
        """The page the search returns: (candidate index, value decoded for the filter or
        None, score); and for a query, the candidates ranked before it. The candidates come
        in InMemoryStore's order (the script walks it)."""
        kept: list[int] = list(range(len(cols.keys)))
        values: dict[int, dict[str, Any]] = {}
        if op.filter:
            kept = []
            for i, typed in enumerate(cols.typed):
                value = self.unpack(typed)
                if _matches(value, op.filter):
                    kept.append(i)
                    values[i] = value
        if query is None:
            page = kept[op.offset : op.offset + op.limit]
            return [(i, values.get(i), None) for i in page], []
        best, has = cols.best(query)
        if op.filter:
            best, has = best[kept], has[kept]
        ranked, before = rank(best, has, op.offset, op.limit)
        scored = [(kept[j], values.get(kept[j]), score) for j, score in ranked]
        return scored, [kept[j] for j in before]

    def _columns(self, reply: Any, rank: bool) -> Columns | None:
        """store_search-0.lua's candidates, column by column. A rank block's vectors come
        from the reply (and go into the cache) or, when the client named their version as
        held, from the cache, brought up to date with the reply's delta when the namespace
        changed since; None when the cache has dropped them since."""
        rows = reply[0] or []
        if not rank:
            return Columns(
                [r[0] for r in rows],
                [r[2] for r in rows],
                [r[4] for r in rows],
                [(r[5], r[6], r[7]) for r in rows],
            )
        cols = Columns([], [], [], [])
        for nse, _, version, order, vecs, cands, data, stride, delta in rows:
            nse, version = text(nse), version and text(version)
            if version:
                cols.versions[nse] = version
            if delta:  # what changed since a version the client named as held
                base = self.cache.get(nse, text(delta[0])) if self.cache is not None else None
                entry = base and base.patched(version, *delta[1:])
                if entry is None:
                    return None
                self.cache.put(nse, entry)  # type: ignore[union-attr]
            elif order is None:
                entry = self.cache.get(nse, version) if self.cache is not None else None
                if entry is None:
                    return None
            else:
                entry = Entry(version, order, dict(zip(vecs[::2], vecs[1::2], strict=True)))
                if self.cache is not None:
                    self.cache.put(nse, entry)
            keys = entry.keys if cands is None else cands
            n, stride = len(keys), int(stride)
            rows_of = None if cands is None else [entry.where.get(k, -1) for k in keys]
            cols.blocks.append((entry.matrix, rows_of))
            cols.ns.extend([nse] * n)
            cols.keys.extend(keys)
            if stride:
                cols.typed.extend(zip(data[0::stride], data[1::stride], strict=True))
            else:
                cols.typed.extend([None] * n)
            if stride == 5:
                cols.full.extend(zip(data[2::5], data[3::5], data[4::5], strict=True))
            else:
                cols.full.extend([None] * n)
        return cols

    @staticmethod
    def _namespaces(op: ListNamespacesOp, reply: list[Any]) -> list[tuple[str, ...]]:
        """The page of a listing, from what store_namespaces read. A prefix without a
        wildcard (`_head`) is tested on the encoded names (N == P or N under P:, exactly its
        test: a label's encoding holds no ":"), which the script may have done already;
        the other conditions on the decoded namespaces."""
        head, done = _head(op)
        if done is not None and head:
            nsp = ns_key(head).encode()
            under = nsp + b":"
            reply = [n for n in map(_bytes, reply) if n == nsp or n.startswith(under)]
        namespaces = [ns_of(n) for n in reply]
        conditions = [c for c in op.match_conditions or () if c is not done]
        if conditions:
            namespaces = [ns for ns in namespaces if all(_does_match(c, ns) for c in conditions)]
        if op.max_depth is not None:
            namespaces = sorted({ns[: op.max_depth] for ns in namespaces})
        else:
            namespaces = sorted(namespaces)
        return namespaces[op.offset : op.offset + op.limit]


def _head(op: ListNamespacesOp) -> tuple[tuple[str, ...], MatchCondition | None]:
    """The labels before the first wildcard of a listing's first prefix condition: the
    script reads only the namespaces equal to them or under them. And that condition when it
    has no wildcard: then the script's reading is exactly its test."""
    for cond in op.match_conditions or ():
        if cond.match_type == "prefix":
            head = tuple(itertools.takewhile(lambda label: label != "*", cond.path))
            return head, cond if len(head) == len(cond.path) else None
    return (), None


@dataclass
class Columns:
    """A search's candidates, column by column (a query may have 10,000 of them): encoded
    namespace and key, [y, v] or None, (c, u, ttl) or None when the row is not complete; and
    for a query, per namespace block, its vectors and which of their rows each candidate is
    (None: all, in order)."""

    ns: list[Any]
    keys: list[Any]
    typed: list[Any]
    full: list[Any]
    blocks: list[tuple[Matrix, list[int] | None]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)  # N -> its version at the scan

    def best(self, query: Any) -> tuple[Any, Any]:
        """Each candidate's best score and whether it has a vector (vectors.Matrix.best)."""
        import numpy as np

        bests, hases = [], []
        for matrix, rows in self.blocks:
            best, has = matrix.best(query)
            if rows is not None:
                at = np.asarray(rows, dtype=np.int64)
                best, has = best[at], has[at] & (at >= 0)
            bests.append(best)
            hases.append(has)
        if not bests:
            return np.zeros(0), np.zeros(0, dtype=bool)
        return np.concatenate(bests), np.concatenate(hases)


def lockstep(
    searches: dict[int, Generator[RoundTrip, list[Any], Searched]],
) -> Generator[RoundTrip, list[Any], dict[int, Searched]]:
    """Runs several searches side by side: the round trips they ask for at one moment go
    as one pipeline, so a batch of queries costs the round trips of its slowest."""
    done: dict[int, Searched] = {}
    asks: dict[int, RoundTrip] = {}

    def step(i: int, reply: list[Any] | None) -> None:
        try:
            asks[i] = searches[i].send(reply)  # type: ignore[arg-type]
        except StopIteration as stop:
            done[i] = stop.value

    for i in searches:
        step(i, None)
    while asks:
        pending = dict(asks)
        asks.clear()
        replies = yield RoundTrip([c for rt in pending.values() for c in rt.cmds])
        at = 0
        for i, rt in pending.items():
            step(i, replies[at : at + len(rt.cmds)])
            at += len(rt.cmds)
    return done
