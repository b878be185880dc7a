"""The optional server-side vector index: RediSearch (Redis Stack, Redis 8's query engine), which
`setup()` creates when the server has it and the store has an `index`. Queries without a filter
then ask it for their nearest vectors instead of scanning the namespace; everything else (and
every case below that it cannot answer exactly) scans, as on any other server. Only setup()
turns it on (a store that never calls it scans), and the marker below is the server's: once
set, every store on that prefix keeps the documents, whatever its own vector_index says.

Each vector of an item is one small hash, `{prefix}_fv:{N}:K:i`, written, re-armed and removed
by the same scripts, in the same calls, as the item (lua/includes/store.lua), once the marker
key `{prefix}_fvon` (the index's dimensions) is set. It holds v (the float32 vector), p (a tag
per namespace prefix of N, a hash of it, for prefix searches), s (the item's seq) and o (its
namespace's first seq): the index finds candidates, the script scores them again in float64
and orders them as InMemoryStore does (best vector, ties in insertion order).

A query is one call of lua/store/store_knn-0.lua: the index's top k (in float32), scored again in
float64 in the script, the page read and re-armed there. The page is trusted only when a gap
separates its last item from anything the index did not return (1 - the k-th distance, with a
margin); otherwise, or when items without vectors would fill the page, the query scans. So the
results are the scan's.

Setup: FT.CREATE when the index is missing, the marker set, then the vectors already stored
get their documents (lua/store/store_vindex-0.lua, a few namespaces per call). An index with other
dimensions is refused: the stored vectors and the embedding function disagree."""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Iterator
from typing import Any

from langgraph.checkpoint.redis import scripts
from langgraph.checkpoint.redis.protocol import Cmd, Eval, text

MARGIN = 16  # documents asked for beyond offset + limit
GAP = 1e-5  # float32 distances against float64 scores
BACKFILL = 200  # namespaces per call of store_vindex-0.lua


def index_name(prefix: str) -> str:
    return f"{prefix}_fvidx"


def doc_prefix(prefix: str) -> str:
    return f"{prefix}_fv:"


def marker(prefix: str) -> str:
    return f"{prefix}_fvon"


def tag(nsp: str) -> str:
    """A namespace prefix (encoded labels joined by ":") as a TAG value: hex, so a query needs
    no escaping whatever the labels hold."""
    return hashlib.sha1(nsp.encode()).hexdigest()[:24]


def tags(nse: str) -> str:
    """The TAG field of a namespace's vectors: one tag per prefix at a label boundary."""
    labels = nse.split(":")
    return ",".join(tag(":".join(labels[: i + 1])) for i in range(len(labels)))


def create_args(prefix: str, dims: int) -> list[Any]:
    return [
        "FT.CREATE", index_name(prefix), "ON", "HASH", "PREFIX", "1", doc_prefix(prefix),
        "SCHEMA", "p", "TAG",
        "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", str(dims),
        "DISTANCE_METRIC", "COSINE",
    ]  # fmt: skip


def knn_query(nsp: str, k: int) -> str:
    """The FT query of store_knn-0.lua: the k nearest vectors under a namespace prefix."""
    where = f"(@p:{{{tag(nsp)}}})" if nsp else "*"
    return f"{where}=>[KNN {k} @v $q AS __d]"


def dims_of(info: Any) -> int | None:
    """The DIM of the index's vector field, from FT.INFO (RESP2 list or RESP3 map)."""

    def walk(x: Any) -> Iterator[Any]:
        if isinstance(x, dict):
            for k, v in x.items():
                yield k
                yield from walk(v)
        elif isinstance(x, list | tuple):
            for v in x:
                yield from walk(v)
        else:
            yield x

    flat = list(walk(info))
    for i, x in enumerate(flat[:-1]):
        if isinstance(x, bytes | str) and text(x).lower() == "dim":
            try:
                return int(text(flat[i + 1]))
            except ValueError:
                return None
    return None


Step = tuple[Any, ...] | Eval


def as_command(step: Step) -> Eval | Cmd:
    """A setup step as a command to send: a script call as it is, other words as a Cmd."""
    return step if isinstance(step, Eval) else Cmd(step)


def setup_steps(prefix: str, dims: int) -> Generator[Step, Any, int]:
    """What setup() does about the index, for either driver: yields commands, receives each
    reply or the error it raised; returns the index's dimensions when queries may use it,
    else 0."""
    stored = yield ("GET", f"{prefix}_dims")
    if stored and not isinstance(stored, Exception) and int(stored) != dims:
        raise ValueError(
            f"the store holds vectors of {int(stored)} dimensions and its index config says "
            f"{dims}: use the embedding they were made with, or a new prefix"
        )
    info = yield ("FT.INFO", index_name(prefix))
    if isinstance(info, Exception):
        if "unknown command" in str(info).lower():
            return 0  # no RediSearch: the store scans
        created = yield tuple(create_args(prefix, dims))
        if isinstance(created, Exception):
            return 0  # a search module that refuses this schema: scan
    elif (have := dims_of(info)) != dims:
        raise ValueError(
            f"the server's vector index {index_name(prefix)} has {have} dimensions and the "
            f"store's index config {dims}: drop it (FT.DROPINDEX {index_name(prefix)}) and "
            "re-embed, or use the embedding it was built with"
        )
    done = yield ("SET", marker(prefix), dims)
    if isinstance(done, Exception):
        raise done
    start = 0
    while start >= 0:  # the vectors stored before the index (or by a store without it)
        got = yield Eval(scripts.load()["store_vindex"], [], [prefix, start, BACKFILL])
        if isinstance(got, Exception):
            raise got
        start = int(got)
    return dims
