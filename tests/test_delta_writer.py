"""DeltaWriter's identity mode on its own (no server): which new lists claim the remembered log.

The mode compares the remembered items with the new list's first items by identity: through
their addresses in one memcmp where the interpreter allows it (deltas._pointers), with `is`
item by item elsewhere. Both paths must agree on every case below; a claim names the log and
length remembered, and carries only the new items' bytes.
"""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.redis import deltas
from langgraph.checkpoint.redis.deltas import DeltaWriter
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

SERDE = JsonPlusSerializer()


@pytest.fixture(params=["pointers", "is"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "is":
        monkeypatch.setattr(deltas, "_pointers", None)
    else:
        assert deltas._pointers is not None, "CPython's tuple layout was not recognised"
    return str(request.param)


def item(i: int) -> dict[str, Any]:
    return {"id": f"m{i}", "content": "x" * 100}


def stored(w: DeltaWriter, value: list[Any]) -> tuple[bytes, Any]:
    """Encode `value` on thread t and let the server's answer be log L, all of it."""
    data, sent = w.encode(SERDE, "t", "", "messages", value)
    assert sent is not None
    body_len = len(SERDE.dumps_typed(value)[1]) - 3  # array16 header for 16+ items
    w.remember("t", "", "messages", sent, b"@L\n%d\n%d" % (body_len, len(value)))
    return data, sent


def claim(data: bytes) -> tuple[bytes, int, int, bytes]:
    head, _, rest = data.partition(b"\n")
    length, count, tail = rest.split(b"\n", 2)
    return head[1:], int(length), int(count), tail


def test_extension_claims_the_log_and_sends_only_the_new_items(path: str) -> None:
    w = DeltaWriter("identity")
    first = [item(i) for i in range(20)]
    stored(w, first)
    data, _ = w.encode(SERDE, "t", "", "messages", [*first, item(20)])
    log, length, count, tail = claim(data)
    assert (log, count) == (b"L", 21)
    assert length == len(SERDE.dumps_typed(first)[1]) - 3
    assert tail == SERDE.dumps_typed([item(20)])[1][1:]


@pytest.mark.parametrize("at", [0, 7, 19])
def test_an_equal_but_distinct_item_is_not_the_same(path: str, at: int) -> None:
    """A replaced item (add_messages replacing by id builds a new list with a new object) ends
    the shared prefix even when it is equal: its bytes could differ (1 == True == 1.0)."""
    w = DeltaWriter("identity")
    first = [item(i) for i in range(20)]
    stored(w, first)
    second = [*first, item(20)]
    second[at] = dict(second[at])
    data, _ = w.encode(SERDE, "t", "", "messages", second)
    log, length, count, tail = claim(data)
    assert (log, length, count) == (b"", 0, 21)  # no log claimed: the whole list
    assert tail == SERDE.dumps_typed(second)[1][3:]


def test_a_shorter_list_claims_nothing(path: str) -> None:
    w = DeltaWriter("identity")
    first = [item(i) for i in range(20)]
    stored(w, first)
    data, _ = w.encode(SERDE, "t", "", "messages", first[:-1])
    assert claim(data)[:2] == (b"", 0)


def test_the_list_mutated_after_put_does_not_fool_the_next_claim(path: str) -> None:
    """The writer holds its own copy: the caller's list edited in place after the put (an item
    swapped for another) is compared as it is now, not as it was."""
    w = DeltaWriter("identity")
    value = [item(i) for i in range(20)]
    stored(w, value)
    value[3] = item(99)  # in place, on the very list that was put
    value.append(item(20))
    data, _ = w.encode(SERDE, "t", "", "messages", value)
    assert claim(data)[:2] == (b"", 0)
