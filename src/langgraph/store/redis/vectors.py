"""A query's scoring: the candidates' vectors as one matrix, ranked by exact cosine similarity
as InMemoryStore ranks, and the client's cache of each namespace's vectors.

The cache is what makes a query cheap on plain Redis: a namespace's vectors are sent once,
then kept here under the namespace's version (store_nsver, changed by every script that
changes its keys, order or vectors: lua/includes/store.lua). A query sends the versions it
holds: an unchanged namespace costs its filter and its page, not its vectors, and one that
changed since is sent only its changed keys (its log, store_log:{N}), which Entry.patched
applies to a copy of the held entry."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

DEFAULT_CACHE_BYTES = 64 << 20


class Matrix:
    """Some candidates' vectors, ready to score: one float64 row per vector, candidates in
    order, each with one row per vector it has (its paths; none when it was put with
    index=False)."""

    def __init__(self, packed: Sequence[bytes | None]) -> None:
        import numpy as np

        self.size = len(packed)
        present = [i for i, e in enumerate(packed) if e]
        self.present = np.asarray(present, dtype=np.int64)
        self.lengths = np.fromiter(
            (len(e) for e in packed if e),
            dtype=np.int64,
            count=len(present),
        )
        self._packed = packed  # joined when first scored: an entry keeps them to patch
        self.nbytes = int(self.lengths.sum()) * 3  # the float32 bytes and their float64 rows
        self._built: tuple[Any, Any, Any] | None = None  # rows, norms, starts: set at once

    def patched(
        self,
        packed: Sequence[bytes | None],
        drop: Sequence[int],
        changes: dict[int, bytes | None],
        fresh: Sequence[bytes | None],
    ) -> Matrix:
        """The matrix of `packed`: these candidates without `drop`, with `changes` (by index
        after the drop) and `fresh` ones appended. The scored rows are carried over rather
        than converted again, so a query after a put into a namespace of 10,000 vectors pays
        for a copy, not for a rebuild."""
        import numpy as np

        lengths = np.zeros(self.size, dtype=np.int64)
        lengths[self.present] = self.lengths
        keep = np.ones(self.size, dtype=bool)
        keep[list(drop)] = False
        kept = lengths[keep]
        new = np.concatenate(
            (kept, np.fromiter((len(p or b"") for p in fresh), dtype=np.int64, count=len(fresh)))
        )
        for i, p in changes.items():
            new[i] = len(p or b"")
        m = Matrix.__new__(Matrix)
        m.size, m._packed, m._built = len(new), packed, None
        m.present = np.flatnonzero(new)
        m.lengths = new[m.present]
        m.nbytes = int(m.lengths.sum()) * 3
        built = self._built
        if built is None:
            return m
        rows, norms, _ = built
        width = 4 * rows.shape[1]
        if (m.lengths % width).any() or any(len(p or b"") != kept[i] for i, p in changes.items()):
            return m  # another shape: built again when first scored
        counts = lengths // width
        mask = np.repeat(keep, counts)
        add = b"".join(p for p in fresh if p)
        extra = np.frombuffer(add, dtype=np.float32).reshape(-1, rows.shape[1]).astype(np.float64)
        rows = np.concatenate((rows[mask], extra))
        norms = np.concatenate((norms[mask], np.linalg.norm(extra, axis=1)))
        first = np.concatenate(([0], np.cumsum(new // width)[:-1]))  # per candidate
        for i, p in changes.items():
            if p:
                r = np.frombuffer(p, dtype=np.float32).reshape(-1, rows.shape[1])
                rows[first[i] : first[i] + len(r)] = r
                norms[first[i] : first[i] + len(r)] = np.linalg.norm(r.astype(np.float64), axis=1)
        m._built = (rows, norms, first[m.present])
        return m

    def _build(self, dims: int) -> tuple[Any, Any, Any]:
        import numpy as np

        built = self._built
        if built is not None and built[0].shape[1] == dims:
            return built
        width = 4 * dims
        if (self.lengths % width).any():
            raise ValueError(
                f"stored vectors do not have the query's {dims} dimensions: "
                "was the index's embed function changed?"
            )
        raw = b"".join(self._packed[i] or b"" for i in self.present.tolist())
        rows = np.frombuffer(raw, dtype=np.float32).reshape(-1, dims).astype(np.float64)
        starts = np.concatenate(([0], np.cumsum(self.lengths // width)[:-1]))
        self._built = built = (rows, np.linalg.norm(rows, axis=1), starts)
        return built

    def best(self, query: Any) -> tuple[Any, Any]:
        """Each candidate's best cosine similarity to the query, and which candidates have a
        vector at all."""
        import numpy as np

        q = np.asarray(query, dtype=np.float64)
        has = np.zeros(self.size, dtype=bool)
        best = np.zeros(self.size)
        if not len(self.present):
            return best, has
        rows, norms, starts = self._build(len(q))
        sims = np.zeros(len(rows))
        ok = norms != 0
        qn = np.linalg.norm(q)
        if qn:
            sims[ok] = rows[ok] @ q / (norms[ok] * qn)
        best[self.present] = np.maximum.reduceat(sims, starts)
        has[self.present] = True
        return best, has


def rank(
    best: Any, has: Any, offset: int, limit: int
) -> tuple[list[tuple[int, float | None]], list[int]]:
    """(candidate index, score) of the page, as InMemoryStore orders it: a stable sort of
    every vector's score, descending, keeps an item at its best vector and ties in the
    candidates' order; candidates without vectors follow, unscored, when the page has room.
    And the candidates ranked before the page (the offset), whose places the page assumes."""
    import numpy as np

    scored = np.flatnonzero(has)
    top = offset + limit
    if 0 < top < len(scored) // 2:
        # only what can reach the page: every score at least the top-th best (ties included)
        sb = best[scored]
        floor = -np.partition(-sb, top - 1)[top - 1]
        scored = scored[sb >= floor]
    order = np.lexsort((scored, -best[scored]))[:top].tolist()
    before = [int(scored[j]) for j in order[:offset]]
    kept: list[tuple[int, float | None]] = [
        (int(scored[j]), float(best[scored[j]])) for j in order[offset:]
    ]
    if len(kept) < limit:
        scoreless = np.flatnonzero(~has)[: limit - len(kept)]
        kept.extend((int(i), None) for i in scoreless.tolist())
    return kept, before


class Entry:
    """One namespace's keys in order and their vectors, as of one version."""

    def __init__(self, version: str | None, keys: list[Any], vectors: dict[Any, Any]) -> None:
        self.version = version
        self.keys = keys
        self.where = {k: i for i, k in enumerate(keys)}
        self.packed = [vectors.get(k) for k in keys]
        self.matrix = Matrix(self.packed)

    def patched(
        self,
        version: str | None,
        gone: list[Any],
        updated: list[Any],
        updated_vectors: list[Any],
        fresh: list[Any],
        fresh_vectors: list[Any],
    ) -> Entry | None:
        """This entry at a later version, from store_search-0.lua's delta: keys gone, keys
        updated in place, keys new since (a key deleted and put again is new: it moves to the
        end). None when the delta does not fit this entry (then the caller asks for all)."""
        where = self.where
        if any(k not in where for k in updated):
            return None
        drop = sorted({where[k] for k in (*gone, *fresh) if k in where})
        e = Entry.__new__(Entry)
        e.version = version
        if drop:
            out = set(drop)
            e.keys = [k for i, k in enumerate(self.keys) if i not in out]
            e.packed = [p for i, p in enumerate(self.packed) if i not in out]
            e.where = {k: i for i, k in enumerate(e.keys)}
        else:
            e.keys, e.packed, e.where = list(self.keys), list(self.packed), dict(where)
        changes = {}
        for k, p in zip(updated, updated_vectors, strict=True):
            i = e.where[k]
            e.packed[i] = changes[i] = p
        for k, p in zip(fresh, fresh_vectors, strict=True):
            e.where[k] = len(e.keys)
            e.keys.append(k)
            e.packed.append(p)
        e.matrix = self.matrix.patched(e.packed, drop, changes, fresh_vectors)
        return e


class VectorCache:
    """Namespaces' vectors by encoded namespace, least recently used first out once they hold
    more than `max_bytes`. Shared by the threads that use one store."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def held(self, prefix: str) -> list[str]:
        """(N, version) pairs, flat, for the namespaces under an encoded prefix ("" for
        all)."""
        with self._lock:
            return [
                x
                for nse, e in self._entries.items()
                if e.version and (not prefix or nse == prefix or nse.startswith(prefix + ":"))
                for x in (nse, e.version)
            ]

    def get(self, nse: str, version: str) -> Entry | None:
        with self._lock:
            e = self._entries.get(nse)
            if e is None or e.version != version:
                return None
            self._entries.move_to_end(nse)
            return e

    def put(self, nse: str, entry: Entry) -> None:
        if not entry.version or entry.matrix.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(nse, None)
            if old is not None:
                self._bytes -= old.matrix.nbytes
            self._entries[nse] = entry
            self._bytes += entry.matrix.nbytes
            while self._bytes > self.max_bytes:
                _, out = self._entries.popitem(last=False)
                self._bytes -= out.matrix.nbytes
