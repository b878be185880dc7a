"""Issue 12's storage prototype: a message history as an append-only log, against today's
snapshot-every-16-deltas blobs and against the physical floor, before the savers change.

One thread, one 200-byte message appended per step, one checkpoint record per step. Each shape
is one Lua script per step (one round trip, as the put script will be), on a fresh embedded
Valkey per shape, measured at 100, 1,000, 3,000 and 10,000 steps:

  floor      the message bytes once (one APPEND to a string key), the record alone: no
             reference, no fork handling. What no layout can beat.
  string     the log as a STRING key: APPEND the step's tail; the record holds the reference
             "<log>\\n<byte length>\\n<count>" in its blob field. A read is GETRANGE 0 len-1.
  list       the log as a LIST key: RPUSH the step's tail as one element; the reference holds
             the element count. A read is LRANGE 0 k-1, joined in Lua.
  snapshots  today's blob field layout (format 3): a delta of the step's tail per version, a
             full value every 16th version (or when the deltas outweigh the last snapshot).

Printed: bytes per checkpoint (used_memory growth / steps, and MEMORY USAGE of the log or blob
keys / steps), that figure as a multiple of the floor's, the per-step time of the write script
(median of a window of 50 steps) and the read of the whole history at that point.

    python benchmarks/log_prototype.py [--max 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import ormsgpack
import redis
from langgraph.checkpoint.redis.embedded import EmbeddedServer

POINTS = (100, 1000, 3000, 10000)

RECORD = """
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'p', ARGV[2], 'b', ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[4])
"""

SCRIPTS = {
    "floor": RECORD
    + """
redis.call('APPEND', KEYS[3], ARGV[5])
return 1
""",
    "string": RECORD
    + """
local n = redis.call('APPEND', KEYS[3], ARGV[5])
redis.call('HSET', KEYS[4], ARGV[6], '@' .. KEYS[3] .. '\\n' .. n .. '\\n' .. ARGV[7])
return n
""",
    "list": RECORD
    + """
local k = redis.call('RPUSH', KEYS[3], ARGV[5])
redis.call('HSET', KEYS[4], ARGV[6], '@' .. KEYS[3] .. '\\n' .. k .. '\\n' .. ARGV[7])
return k
""",
    "snapshots": RECORD
    + """
redis.call('HSET', KEYS[4], ARGV[6], ARGV[8])
return 1
""",
}

READS = {
    "floor": "return redis.call('GET', KEYS[1])",
    "string": "return redis.call('GETRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)",
    "list": "return table.concat(redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1))",
    "snapshots": """
local out, f = {}, ARGV[1]
while f do
  local v = redis.call('HGET', KEYS[1], f)
  out[#out + 1] = v
  if string.byte(v, 1) == 126 then f = string.sub(v, 2, string.find(v, '\\n', 2, true) - 1)
  else f = nil end
end
return out
""",
}


def message(i: int) -> bytes:
    """One item's msgpack bytes: a 200-byte message as a dict, as serde would write it."""
    body = {"type": "human", "id": f"m{i:08d}", "content": "x" * 150}
    return ormsgpack.packb(body)


def run_shape(shape: str, max_steps: int) -> dict[int, dict[str, float]]:
    with EmbeddedServer() as srv:
        r = redis.Redis.from_url(srv.url)
        write = r.register_script(SCRIPTS[shape])
        read = r.register_script(READS[shape])
        base_mem = r.info("memory")["used_memory"]
        envelope = os.urandom(120)  # the checkpoint skeleton and metadata, as small as today's
        out: dict[int, dict[str, float]] = {}
        times: list[float] = []
        snap_bytes = 0
        delta_bytes = 0
        depth = 0
        total = 0
        last_field = ""
        for i in range(1, max_steps + 1):
            item = message(i)
            total += len(item)
            cid = f"{i:012d}"
            field = f"messages:{i:08d}"
            if shape == "snapshots":
                if depth >= 16 or not last_field or delta_bytes + len(item) > snap_bytes:
                    blob = b"\x92\xa7msgpack\xc6" + bytes(4) + b"x" * total  # [type, bytes]
                    snap_bytes, delta_bytes, depth = len(blob), 0, 0
                else:
                    blob = f"~{last_field}\n{i - 1}\nmsgpack\n".encode() + b"\x91" + item
                    delta_bytes += len(blob)
                    depth += 1
            else:
                blob = b""
            keys = ["cp:{t}:" + cid, "idx:{t}", "log:{t}:messages:1", "blob:{t}"]
            args = [envelope, f"{i - 1:012d}", field, cid, item, field, str(i), blob]
            t = time.perf_counter()
            write(keys=keys, args=args)
            times.append(time.perf_counter() - t)
            last_field = field
            if i in POINTS:
                used = r.info("memory")["used_memory"] - base_mem
                logkey = "blob:{t}" if shape == "snapshots" else "log:{t}:messages:1"
                usage = r.memory_usage(logkey, samples=0) or 0
                if shape in ("string", "list"):
                    usage += r.memory_usage("blob:{t}", samples=0) or 0
                arg = field if shape == "snapshots" else (total if shape == "string" else i)
                rk = ["blob:{t}"] if shape == "snapshots" else [logkey]
                rt = []
                for _ in range(5):
                    t = time.perf_counter()
                    read(keys=rk, args=[arg])
                    rt.append(time.perf_counter() - t)
                window = times[-50:]
                out[i] = {
                    "used": used / i,
                    "usage": usage / i,
                    "step_us": statistics.median(window) * 1e6,
                    "read_us": statistics.median(rt) * 1e6,
                }
        r.close()
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=10000)
    a = ap.parse_args()
    results = {shape: run_shape(shape, a.max) for shape in SCRIPTS}
    print(f"`python benchmarks/log_prototype.py --max {a.max}` (one fresh Valkey per shape)\n")
    print(
        "| shape | steps | bytes/cp (used_memory) | x floor | log+blob MEMORY USAGE/cp "
        "| step µs | read µs |"
    )
    print("|---|---|---|---|---|---|---|")
    for shape, rows in results.items():
        for n, row in rows.items():
            fl = results["floor"][n]["used"]
            print(
                f"| {shape} | {n:,} | {row['used']:,.0f} | {row['used'] / fl:.2f}x "
                f"| {row['usage']:,.0f} | {row['step_us']:,.0f} | {row['read_us']:,.0f} |"
            )


if __name__ == "__main__":
    main()
