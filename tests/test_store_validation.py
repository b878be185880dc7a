"""The store's bad arguments are refused before any byte is sent (store/redis/validate.py): a
TypeError or ValueError naming the argument; nothing of the batch is written, and the store
stays usable. Both stores, every backend."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.store.base import PutOp
from langgraph.store.redis import AsyncRedisStore, RedisStore

from .conftest import Backend

BAD = [
    pytest.param("put", (("a", "b"), "k", [1, 2]), {}, TypeError, "value must be a dict",
                 id="list-value"),
    pytest.param("put", (("a",), "k", "text"), {}, TypeError, "value must be a dict",
                 id="str-value"),
    pytest.param("put", ("abc", "k", {"v": 1}), {}, TypeError, "namespace must be a tuple",
                 id="str-namespace"),
    pytest.param("put", (("a",), "k", {"v": 1}), {"ttl": -1}, ValueError, "ttl must be a positive",
                 id="negative-ttl"),
    pytest.param("put", (("a",), "k", {"v": 1}), {"ttl": "5"}, TypeError, "ttl must be a number",
                 id="str-ttl"),
    pytest.param("put", (("a",), "k", {"v": 1}), {"index": "text"}, TypeError, "index must be",
                 id="str-index"),
    pytest.param("get", ("a", "k"), {}, TypeError, "namespace must be a tuple", id="get-str-ns"),
    pytest.param("search", (("a",),), {"filter": [1]}, TypeError, "filter must be a dict",
                 id="list-filter"),
    pytest.param("search", (("a",),), {"limit": -1}, ValueError, "limit must be an int >= 0",
                 id="negative-limit"),
    pytest.param("search", (("a",),), {"offset": "2"}, TypeError, "offset must be an int",
                 id="str-offset"),
    pytest.param("search", ("a",), {}, TypeError, "namespace_prefix must be a tuple",
                 id="str-prefix"),
    pytest.param("search", (("a",),), {"query": 5}, TypeError, "query must be a str",
                 id="int-query"),
    pytest.param("list_namespaces", (), {"max_depth": -2}, ValueError, "max_depth",
                 id="negative-depth"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "args", "kwargs", "error", "match"), BAD)
async def test_bad_store_calls_are_refused(
    backend: Backend,
    kind: str,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    if kind == "sync":
        store: Any = RedisStore(**backend.saver_kwargs(False))
        store.setup()
    else:
        store = AsyncRedisStore(**backend.saver_kwargs(True))
        await store.setup()
    try:

        async def call(name: str, *a: Any, **kw: Any) -> Any:
            if kind == "sync":
                return getattr(store, name)(*a, **kw)
            return await getattr(store, "a" + name)(*a, **kw)

        with pytest.raises(error, match=match):
            await call(method, *args, **kwargs)
        # a batch with a good put before the bad op: nothing of it is written
        good = PutOp(("a",), "good", {"v": 1})
        bad = PutOp(("a",), "bad", [1])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="value must be a dict"):
            if kind == "sync":
                store.batch([good, bad])
            else:
                await store.abatch([good, bad])
        assert await call("get", ("a",), "good") is None
        await call("put", ("a",), "k", {"v": 2})
        got = await call("get", ("a",), "k")
        assert got is not None and got.value == {"v": 2}
    finally:
        if kind == "sync":
            store.close()
        else:
            await store.aclose()


def test_store_refuses_values_over_the_servers_limit() -> None:
    """setup() reads proto-max-bulk-len; a larger value is refused with the limit in the
    message, and nothing of the batch's puts is written."""
    from langgraph.checkpoint.redis.embedded import EmbeddedServer

    with EmbeddedServer(extra_args=["--proto-max-bulk-len", "1mb"]) as srv:
        with RedisStore(srv.url) as store:
            store.setup()
            assert store._ops.max_bulk == 1 << 20
            with pytest.raises(ValueError, match=r"1,048,576 bytes per value"):
                store.batch(
                    [PutOp(("a",), "small", {"v": 1}), PutOp(("a",), "big", {"v": "x" * (2 << 20)})]
                )
            assert store.get(("a",), "small") is None
            store.put(("a",), "k", {"v": 1})
            assert store.get(("a",), "k") is not None
