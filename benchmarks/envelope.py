"""msgpack vs ormsgpack for the checkpoint envelope (codec.py's choice).

python benchmarks/envelope.py
"""

from __future__ import annotations

import os
import timeit

import msgpack
import ormsgpack

ENVELOPE = [1, "msgpack", os.urandom(300), "msgpack", os.urandom(120)]
N = 200_000


def main() -> None:
    packed = msgpack.packb(ENVELOPE)
    assert ormsgpack.unpackb(packed) == msgpack.unpackb(packed) == ENVELOPE
    for name, fn in [
        ("msgpack.packb", lambda: msgpack.packb(ENVELOPE)),
        ("ormsgpack.packb", lambda: ormsgpack.packb(ENVELOPE)),
        ("msgpack.unpackb", lambda: msgpack.unpackb(packed)),
        ("ormsgpack.unpackb", lambda: ormsgpack.unpackb(packed)),
    ]:
        print(f"{name:18s} {timeit.timeit(fn, number=N) / N * 1e9:6.0f} ns")


if __name__ == "__main__":
    main()
