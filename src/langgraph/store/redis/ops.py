"""Every rule of the stores, free of I/O (as the checkpointer's ops.py): a batch is a generator
that yields round trips and returns the results.

A batch runs as InMemoryStore runs it: every read (get, search, list_namespaces) sees the store
as it was before the batch's puts, and of several puts of one item the last wins. So a batch is
at most two round trips: the reads, pipelined, then the puts, pipelined (each put one atomic
script call).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import ormsgpack
from langgraph.checkpoint.redis import scripts
from langgraph.checkpoint.redis.keys import dec, enc
from langgraph.checkpoint.redis.ops import Cmd, Eval, RoundTrip, _str
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.store.base import (
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.memory import _compare_values, _does_match

Batch = Generator[RoundTrip, list[Any], list[Result]]


def ns_key(namespace: Sequence[str]) -> str:
    """A namespace as it appears in keys: each label encoded (so ":" cannot occur in one),
    joined by ":"."""
    return ":".join(enc(label) for label in namespace)


def ns_of(encoded: str) -> tuple[str, ...]:
    return tuple(dec(label) for label in encoded.split(":"))


def _time(ms: Any) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc)


@dataclass
class StoreOps:
    prefix: str = "store"
    serde: SerializerProtocol = field(default_factory=JsonPlusSerializer)
    default_ttl_ms: int = 0

    def __post_init__(self) -> None:
        self.s = scripts.load()

    # -- keys ------------------------------------------------------------------------

    def item_key(self, nse: str, key: str) -> str:
        return f"{self.prefix}:{{{nse}}}:{enc(key)}"

    @property
    def ns_index(self) -> str:
        return f"{self.prefix}_ns"

    @property
    def ns_order(self) -> str:
        return f"{self.prefix}_nsseq"

    # -- values ----------------------------------------------------------------------

    def unpack(self, typed: Any) -> dict[str, Any]:
        """A stored value: [serde type, serde bytes] as the scripts return them."""
        vtype, vbytes = typed
        return self.serde.loads_typed((_str(vtype), vbytes))

    # -- a batch ---------------------------------------------------------------------

    def batch(
        self,
        ops: Iterable[Op],
        vectors: dict[tuple[tuple[str, ...], str], bytes] | None = None,
        queries: dict[str, Any] | None = None,
    ) -> Batch:
        """`vectors`: the packed embeddings of the puts that have them; `queries`: the query
        embeddings of the searches (the drivers embed, sync or async, before calling)."""
        ops = list(ops)
        results: list[Result] = [None] * len(ops)
        reads: list[tuple[int, Op, Eval]] = []
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for i, op in enumerate(ops):
            if isinstance(op, GetOp):
                reads.append(
                    (
                        i,
                        op,
                        Eval(
                            self.s["store_get"],
                            [self.item_key(ns_key(op.namespace), op.key)],
                            ["1" if op.refresh_ttl else "0"],
                        ),
                    )
                )
            elif isinstance(op, SearchOp):
                scored = bool(op.query) and queries is not None and op.query in queries
                triples, whole = prefilter(op.filter)
                reads.append(
                    (
                        i,
                        op,
                        Eval(
                            self.s["store_search"],
                            [self.ns_index],
                            [
                                self.prefix,
                                ns_key(op.namespace_prefix) if op.namespace_prefix else "",
                                0 if scored else max(op.offset + op.limit, 0),
                                "1" if scored else "0",
                                self.ns_order,
                                "1" if whole else "0",
                                *triples,
                            ],
                        ),
                    )
                )
            elif isinstance(op, ListNamespacesOp):
                reads.append(
                    (
                        i,
                        op,
                        Eval(
                            self.s["store_namespaces"],
                            [self.ns_index],
                            [self.prefix, self.ns_order],
                        ),
                    )
                )
            elif isinstance(op, PutOp):
                puts[(tuple(op.namespace), op.key)] = op
            else:
                raise ValueError(f"Unknown operation type: {type(op)}")
        writes: list[Eval | Cmd] = []
        if reads:
            replies = yield RoundTrip([e for _, _, e in reads])
            for (i, op, read), reply in zip(reads, replies, strict=True):
                if isinstance(op, GetOp):
                    results[i] = self._item(op.namespace, op.key, reply)
                elif isinstance(op, SearchOp):
                    query = (queries or {}).get(op.query or "")
                    found, ttls = self._search(op, reply[0], query)
                    if int(reply[1]) and len(found) < op.limit:
                        # the script stopped at its count of sure matches, and this check
                        # disagreed with one (a bytes value): ask again for every candidate
                        args = list(read.args)
                        args[2] = 0
                        (again,) = yield RoundTrip([Eval(read.script, read.keys, args)])
                        found, ttls = self._search(op, again[0], query)
                    results[i] = found
                    if op.refresh_ttl:
                        # only what the search returns is re-armed (PostgresStore's rule),
                        # before this batch's puts, which set their own TTL
                        writes += [Cmd(("PEXPIRE", k, t)) for k, t in ttls]
                else:
                    assert isinstance(op, ListNamespacesOp)
                    results[i] = self._namespaces(op, reply)
        if puts or writes:
            cmds = writes
            for (namespace, key), op in puts.items():
                nse = ns_key(namespace)
                ttl = op.ttl
                ttl_ms = round(ttl * 60_000) if ttl else 0
                vtype, vbytes = ("", b"") if op.value is None else self.serde.dumps_typed(op.value)
                cmds.append(
                    Eval(
                        self.s["store_put"],
                        [
                            self.item_key(nse, key),
                            f"{self.prefix}_keys:{{{nse}}}",
                            self.ns_index,
                        ],
                        [
                            nse,
                            enc(key),
                            vbytes,
                            ttl_ms,
                            (vectors or {}).get((namespace, key), b""),
                            f"{self.prefix}_seq",
                            self.ns_order,
                            vtype,
                        ],
                    )
                )
            yield RoundTrip(cmds)
        return results

    # -- results ---------------------------------------------------------------------

    def _item(self, namespace: tuple[str, ...], key: str, reply: Any) -> Item | None:
        if reply is None:
            return None
        y, v, c, u = reply
        return Item(
            value=self.unpack((y, v)),
            key=key,
            namespace=tuple(namespace),
            created_at=_time(c),
            updated_at=_time(u),
        )

    def _search(
        self, op: SearchOp, rows: list[Any], query: Any
    ) -> tuple[list[SearchItem], list[tuple[str, int]]]:
        """The results, and (item key, TTL ms) of those that have a TTL. A value is decoded
        only when the filter needs it or it is returned: a query ranks every candidate by its
        vectors alone."""
        rows = sorted(rows, key=lambda r: (int(r[1]), float(r[3])))
        cands: list[tuple[Any, dict[str, Any] | None]] = []
        for row in rows:
            value = None
            if op.filter:
                value = self.unpack(row[4])
                if not _matches(value, op.filter):
                    continue
            cands.append((row, value))
        if query is None:
            chosen = [(c, None) for c in cands[op.offset : op.offset + op.limit]]
        else:
            vectors = [ormsgpack.unpackb(row[7]) if row[7] else {} for row, _ in cands]
            chosen = [(cands[i], score) for i, score in _rank(query, vectors, op.offset, op.limit)]
        found: list[SearchItem] = []
        ttls: list[tuple[str, int]] = []
        for (row, value), score in chosen:
            nse, _, k, _, v, c, u, _, t = row
            key = dec(_str(k))
            found.append(
                SearchItem(
                    namespace=ns_of(_str(nse)),
                    key=key,
                    value=value if value is not None else self.unpack(v),
                    created_at=_time(c),
                    updated_at=_time(u),
                    score=score,
                )
            )
            if t:
                ttls.append((self.item_key(_str(nse), key), int(t)))
        return found, ttls

    @staticmethod
    def _namespaces(op: ListNamespacesOp, reply: list[Any]) -> list[tuple[str, ...]]:
        namespaces = [ns_of(_str(n)) for n in reply]
        if op.match_conditions:
            namespaces = [
                ns for ns in namespaces if all(_does_match(c, ns) for c in op.match_conditions)
            ]
        if op.max_depth is not None:
            namespaces = sorted({ns[: op.max_depth] for ns in namespaces})
        else:
            namespaces = sorted(namespaces)
        return namespaces[op.offset : op.offset + op.limit]


def _matches(value: dict[str, Any], filter: dict[str, Any]) -> bool:
    """InMemoryStore's comparison, except that a value a range operator cannot compare
    (`{"$gt": 5}` against None or "abc") does not match, where InMemoryStore raises."""
    try:
        return all(_compare_values(value.get(k), v) for k, v in filter.items())
    except (TypeError, ValueError):
        return False


_OPS = {"$eq": "eq", "$ne": "ne", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}
_EXACT = 2**53


def _operand(x: Any) -> str | None:
    """A filter operand the Lua prefilter can judge: strings, and numbers a double holds
    exactly; booleans, None and containers are left to the client."""
    if isinstance(x, str):
        return "s" + x
    if isinstance(x, int | float) and not isinstance(x, bool) and abs(x) < _EXACT:
        return "n" + repr(float(x)) if isinstance(x, float) else "n" + str(x)
    return None


def prefilter(filter: dict[str, Any] | None) -> tuple[list[str], bool]:
    """The top-level scalar conditions of a search filter as store_search-1.lua's triples, and
    whether they are the whole filter (then the script may count sure matches and stop). The
    client re-checks every item with InMemoryStore's comparison either way."""
    out: list[str] = []
    whole = True
    for key, cond in (filter or {}).items():
        if isinstance(cond, dict) and cond and all(k in _OPS for k in cond):
            pairs = [(_OPS[k], v) for k, v in cond.items()]
        elif isinstance(cond, dict):
            whole = False
            continue
        else:
            pairs = [("eq", cond)]
        for op, value in pairs:
            if (operand := _operand(value)) is not None:
                out += [op, key, operand]
            else:
                whole = False
    return out, whole


def _rank(
    query: Any, vectors: list[dict[str, bytes]], offset: int, limit: int
) -> list[tuple[int, float | None]]:
    """Exact cosine similarity, as InMemoryStore ranks: each stored vector of a candidate
    scores it, its best counts, and candidates without vectors follow unscored. Returns
    (candidate index, score) for the page asked for."""
    import numpy as np

    owner: list[int] = []
    raws: list[bytes] = []
    scoreless: list[int] = []
    for i, by_path in enumerate(vectors):
        for raw in by_path.values():
            owner.append(i)
            raws.append(raw)
        if not by_path:
            scoreless.append(i)
    scores: list[float] = []
    if raws:
        q = np.asarray(query, dtype=np.float64)
        m = np.frombuffer(b"".join(raws), dtype=np.float32).reshape(len(raws), -1)
        m = m.astype(np.float64)
        norms = np.linalg.norm(m, axis=1)
        qn = np.linalg.norm(q)
        sims = np.zeros(len(raws))
        ok = norms != 0
        if qn:
            sims[ok] = m[ok] @ q / (norms[ok] * qn)
        scores = sims.tolist()
    ranked = sorted(zip(scores, owner, strict=True), key=lambda x: x[0], reverse=True)
    seen: set[int] = set()
    kept: list[tuple[int, float | None]] = []
    for score, i in ranked:
        if i in seen:
            continue
        ix = len(seen)
        seen.add(i)
        if ix >= offset + limit:
            break
        if ix < offset:
            continue
        kept.append((i, float(score)))
    if scoreless and len(kept) < limit:
        kept.extend((i, None) for i in scoreless[: limit - len(kept)])
    return kept
