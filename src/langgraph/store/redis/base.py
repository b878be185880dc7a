"""What RedisStore and AsyncRedisStore share: construction, TTL rules, and the embedding of
what a batch puts and searches (done by the drivers, sync or async, before the round trips)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Iterable
from typing import Any, Literal

from langgraph.checkpoint.redis.base import warn_unknown_ttl_keys
from langgraph.checkpoint.redis.ops import DEFAULT_MAX_BULK, max_bulk_of
from langgraph.checkpoint.redis.protocol import Cmd, Eval, FanOut
from langgraph.checkpoint.redis.scripts import Script, check_loaded, to_load
from langgraph.store.base import (
    BaseStore,
    IndexConfig,
    Op,
    PutOp,
    SearchOp,
    TTLConfig,
    ensure_embeddings,
    get_text_at_path,
    tokenize_path,
)

from . import ftindex, validate
from .ops import Spread, StoreOps
from .vectors import DEFAULT_CACHE_BYTES, VectorCache

Texts = dict[str, list[tuple[tuple[str, ...], str, str]]]


def load_steps(cross: bool) -> tuple[FanOut, list[Script]]:
    """setup()'s round trip to every server (each master of a cluster, with the
    `allow-cross-slot-keys` twins where the servers take flags: `cross`): the server's largest
    value (CONFIG GET proto-max-bulk-len; a refusal is let through, as the savers' setup does)
    and every script. `loaded` checks the replies."""
    wanted = to_load(cross)

    def build(_: list[str]) -> list[Eval | Cmd]:
        return [
            Cmd(("CONFIG", "GET", "proto-max-bulk-len")),
            *(Cmd(("SCRIPT", "LOAD", x.source)) for x in wanted),
        ]

    return FanOut(build), wanted


def loaded(wanted: list[Script], per_server: list[list[Any]]) -> int:
    """Checks load_steps' replies (scripts.check_loaded) and returns the smallest of the
    servers' largest values (Redis's default where CONFIG was refused)."""
    limits = []
    for replies in per_server:
        limits.append(max_bulk_of(replies[0]) or DEFAULT_MAX_BULK)
        check_loaded(wanted, replies[1:])
    return min(limits, default=DEFAULT_MAX_BULK)


def dims_error(e: Exception) -> Exception:
    """A put's "DIMS ..." refusal as the ValueError it is (a cluster's driver raises the
    server's error where one server's returns it as a reply)."""
    text = str(e)
    return ValueError(text[5:]) if text.startswith("DIMS ") else e


class BaseRedisStore(BaseStore):
    """What RedisStore and AsyncRedisStore share: construction arguments, the operations
    object (ops.py), the index and TTL configuration, and embedding the texts of a batch."""

    supports_ttl = True
    client: Any
    """The redis-py client every command goes through (sync.py's and aio.py's own)."""

    def __init__(
        self,
        conn: Any = None,
        *,
        redis_url: str | None = None,
        redis_client: Any = None,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        prefix: str | None = None,
        store_prefix: str | None = None,
        vector_prefix: str | None = None,
        cluster_mode: bool | None = None,
        connection_args: dict[str, Any] | None = None,
        vector_cache_mb: float = DEFAULT_CACHE_BYTES / (1 << 20),
        vector_index: Literal["auto", "scan"] = "auto",
    ) -> None:
        """`conn`: a URL or a client, as the first argument (`RedisStore(client)` as
        langgraph-checkpoint-redis takes it, `RedisStore("redis://...")`), or say which with
        `redis_url=` / `redis_client=`.
        `store_prefix` (or `prefix`, the same): the first part of every key name ("store").
        `vector_prefix` is langgraph-checkpoint-redis's name for where its vector documents
        live; here an item's vectors are kept in keys under the store prefix
        (`<prefix>_vec:{N}`), so it is accepted, kept as `.vector_prefix` and changes nothing.
        `cluster_mode`: accepted for langgraph-checkpoint-redis's callers; the store finds out
        itself whether the URL or client names a cluster node.
        `vector_cache_mb`: how much of namespaces' vectors a query may keep in this process
        (0: none), so an unchanged namespace's vectors are not sent again (vectors.py).
        `vector_index`: "auto" lets setup() create and use the server's vector index where
        it has one (RediSearch: ftindex.py), "scan" never does; results are the same."""
        if conn is not None:
            if isinstance(conn, str):
                if redis_url is not None:
                    raise ValueError("pass the URL once: as the first argument or as redis_url=")
                redis_url = conn
            else:
                if redis_client is not None:
                    raise ValueError(
                        "pass the client once: as the first argument or as redis_client="
                    )
                redis_client = conn
        if redis_client is None and not redis_url:
            raise ValueError("pass redis_url= (e.g. 'redis://localhost:6379') or redis_client=")
        if redis_client is not None and redis_url:
            raise ValueError("pass either redis_url= or redis_client=, not both")
        if prefix is not None and store_prefix is not None and prefix != store_prefix:
            raise ValueError(
                f"prefix={prefix!r} and store_prefix={store_prefix!r} name the same thing: pass one"
            )
        prefix = store_prefix if store_prefix is not None else prefix
        if prefix is None:
            prefix = "store"
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"store_prefix must be a non-empty str, got {prefix!r}")
        if cluster_mode is not None and not isinstance(cluster_mode, bool):
            raise TypeError(f"cluster_mode must be True, False or None, got {cluster_mode!r}")
        self.cluster_mode = cluster_mode
        self.vector_prefix = vector_prefix if vector_prefix is not None else f"{prefix}_vec"
        if ttl is not None:
            if not isinstance(ttl, dict):
                raise TypeError(f"ttl must be a dict (TTLConfig), got {type(ttl).__name__}")
            warn_unknown_ttl_keys(dict(ttl))
        self.ttl_config = ttl
        # a plain dict: the store adds its own "__tokenized_fields" entry to the user's config
        self.index_config: dict[str, Any] | None = dict(index) if index else None
        self.embeddings = None
        if self.index_config:
            self.embeddings = ensure_embeddings(self.index_config.get("embed"))
            self.index_config["__tokenized_fields"] = [
                (p, tokenize_path(p)) if p != "$" else (p, p)
                for p in (self.index_config.get("fields") or ["$"])
            ]
        if vector_index not in ("auto", "scan"):
            raise ValueError(f'vector_index must be "auto" or "scan", got {vector_index!r}')
        self.vector_index = vector_index
        if vector_cache_mb < 0:
            raise ValueError(f"vector_cache_mb must be >= 0, got {vector_cache_mb}")
        cache = None
        if self.index_config and vector_cache_mb:
            cache = VectorCache(int(vector_cache_mb * (1 << 20)))
        self._ops = StoreOps(prefix, cache=cache)
        self._user_client = redis_client
        self._redis_url = redis_url
        self._connection_args = dict(connection_args or {})
        self._connection_args.pop("decode_responses", None)

    @property
    def _redis(self) -> Any:
        """The client (langgraph-checkpoint-redis's attribute name, which its users' code
        reaches for)."""
        return self.client

    @property
    def _owns_client(self) -> bool:
        """Whether the store opened its client (and closes it): langgraph-checkpoint-redis's
        attribute."""
        return self._user_client is None

    @property
    def store_prefix(self) -> str:
        """The first part of every key name of this store (langgraph-checkpoint-redis's
        attribute)."""
        return self._ops.prefix

    def sweep_interval(self, minutes: float | None) -> float:
        """start_ttl_sweeper's period in seconds: the argument, else the TTLConfig's
        `sweep_interval_minutes`, else 5 minutes."""
        if minutes is None and self.ttl_config:
            minutes = self.ttl_config.get("sweep_interval_minutes")
        if minutes is None:
            minutes = 5
        if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not minutes > 0:
            raise ValueError(f"sweep_interval_minutes must be a positive number, got {minutes!r}")
        return float(minutes) * 60

    def _texts(self, ops: list[Op]) -> Texts:
        """The texts each put indexes, as InMemoryStore extracts them (last put of an item)."""
        if not (self.index_config and self.embeddings):
            return {}
        puts = {(tuple(op.namespace), op.key): op for op in ops if isinstance(op, PutOp)}
        out: Texts = defaultdict(list)
        for op in puts.values():
            if op.value is None or op.index is False:
                continue
            if op.index is None:
                paths = self.index_config["__tokenized_fields"]
            else:
                paths = [(ix, tokenize_path(ix)) for ix in op.index]
            for path, tokens in paths:
                texts = get_text_at_path(op.value, tokens)
                if len(texts) > 1:
                    for i, text in enumerate(texts):
                        out[text].append((tuple(op.namespace), op.key, f"{path}.{i}"))
                elif texts:
                    out[texts[0]].append((tuple(op.namespace), op.key, path))
        return out

    @staticmethod
    def _pack_vectors(texts: Texts, embeddings: list[list[float]]) -> tuple[dict[Any, bytes], int]:
        """Each item's vectors as one string of float32s, one vector after another (a search
        max-pools over an item's vectors whatever their path, as InMemoryStore does, so the
        paths are not kept, and a query reads all candidates' vectors as one array); and
        their dimensions, which the put script checks against the store's."""
        import numpy as np

        if len(texts) != len(embeddings):
            raise ValueError(
                f"{len(embeddings)} embeddings for {len(texts)} texts: the embed function "
                "must return one vector per text"
            )
        sizes = {len(v) for v in embeddings}
        if len(sizes) > 1 or 0 in sizes:
            raise ValueError(f"the embed function returned vectors of {sorted(sizes)} dimensions")
        # each distinct text is embedded once, and its vector goes to every place that has
        # it (InMemoryStore expects one vector per place there, and raises)
        by_item: dict[Any, list[bytes]] = defaultdict(list)
        for vec, places in zip(embeddings, texts.values(), strict=True):
            raw = np.asarray(vec, dtype=np.float32).tobytes()
            for ns, key, _ in places:
                by_item[(ns, key)].append(raw)
        return {k: b"".join(v) for k, v in by_item.items()}, sizes.pop() if sizes else 0

    def _index_steps(self) -> Generator[ftindex.Step, Any, int] | None:
        """setup()'s work on the server's vector index (ftindex.setup_steps), or None when
        this store does not use one. A cluster has none: RediSearch's vector index is not
        part of open-source Redis Cluster, and the store's scan gives the same results."""
        if not self.index_config or self.vector_index != "auto" or self._ops.cluster:
            return None
        return ftindex.setup_steps(self._ops.prefix, int(self.index_config["dims"]))

    def _plan(self, ops: Iterable[Op]) -> tuple[list[Op], Texts, list[str]]:
        """A batch's ops, checked before anything is embedded or sent (validate.py), with the
        texts its puts index and the queries its searches embed (both empty without an
        `index`). The sync and async stores then embed them, each its own way."""
        ops = list(ops)
        validate.ops(ops)
        return ops, self._texts(ops), self._queries(ops)

    def _batch_op(
        self,
        ops: list[Op],
        texts: Texts,
        docs: list[list[float]],
        queries: list[str],
        vectors: list[list[float]],
    ) -> Spread:
        """The batch's operation (ops.py), given the embeddings of `texts` (`docs`) and of
        `queries` (`vectors`), in their order."""
        packed, dims = self._pack_vectors(texts, docs) if texts else (None, 0)
        return self._ops.batch(ops, packed, dict(zip(queries, vectors, strict=True)), dims)

    def _queries(self, ops: list[Op]) -> list[str]:
        if not (self.index_config and self.embeddings):
            return []
        return sorted({op.query for op in ops if isinstance(op, SearchOp) and op.query})
