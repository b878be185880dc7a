"""The consistency walk: every key under the checkpoint prefixes checked against the layout.

The CLI's `check` and the tests' no-orphans assertion (tests/orphans.py) share this module, so
the rules a developer's test enforces are the rules an operator's `langgraph-redis check` finds
broken in production.

`find_orphans(raw)` reads the key space and checks, for the cross-thread mode of both layouts
(one server, and a cluster's groups, folded back to one-server names by `unbucket`; keys.py has
the layout, codec.py the hash fields):

- every key matches a known pattern, with the expected type (anything else is an orphan);
- checkpoint hashes: one with `d` is in its namespace index and not in the write-only set; one
  without `d` (its writes came first) has only `w:` fields and is in the write-only set; index
  and write-only members have their hash; `b` names exactly the checkpoint's channel versions;
- writes hashes are named by a `w:K` field of their checkpoint hash, and every `w:K` field has
  its writes hash;
- every blob field is referenced by the `b` of a live checkpoint of its namespace; a field that
  refers to a log (codec.py, "Logs") names a registered log at least as long as it says; every
  log key is registered in its blob hash ("@<id>"), every registered log exists and is referred
  to by a kept field, and the log counter ("@") is there while a log is;
- the namespace set lists exactly the namespaces that have an index or write-only key, and
  every index, write-only and blob key's namespace is in it;
- the cross-thread indexes (`_all`, `_run:R`, `_by:<key>`) hold only live checkpoints, listed in
  their ledger entry (run and value indexes, which must match the metadata), and every live
  checkpoint is in `_all` and in the indexes its ledger lists; the ledger has exactly one field
  per live checkpoint;
- the expiry index lists exactly the expiring threads, with their deadline as score; a pin
  exists only on a live thread without expiry; every key of a thread but the ledger and the
  pin carries the same deadline (or none), and those two never expire.

Before a sweep (`swept=False`) a thread that expired may still be in the expiry index and keep
its ledger, and its ledger's entries may still be in the cross-thread indexes (sweep.lua removes
them); if it was written again since, its expiry index entry may still hold the old deadline
(due: the sweep corrects it). Nothing else is allowed.

Two ways to read the key space. `snapshot_at` is one Lua call per server (SCAN inside the
script): an atomic view, exact even while graphs run, but it blocks the server for the whole
walk, which is right for tests and wrong for a production server. `walk_at` reads in batches
(SCAN, then pipelined reads of each batch), never blocking the server for more than one batch;
a write that lands between two batches can look like a problem, so `problems` walks twice and
keeps what both walks found.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from redis.cluster import RedisCluster

from .codec import blob_field, unpack_checkpoint
from .keys import KeySpace, bucket_of, enc, group_tag
from .scripts import CROSS_SLOT

# One atomic look at everything: SCAN inside a script (time is frozen while it runs, so a key
# cannot expire between being listed and being read). PEXPIRETIME: -1 no expiry; Redis 6.2 has
# none, so there a deadline is the script's start plus PTTL (the reply's third element is 0).
# ARGV: key prefixes to keep (none: every key).
SNAPSHOT_LUA = """
local out, seen, cursor = {}, {}, '0'
local t0 = redis.call('TIME')
local start = tonumber(t0[1]) * 1000 + math.floor(tonumber(t0[2]) / 1000)
local exact = 1
local function deadline(k)
  if exact == 1 then
    local ok, v = pcall(redis.call, 'PEXPIRETIME', k)
    if ok then return v end
    exact = 0
  end
  local ttl = redis.call('PTTL', k)
  if ttl < 0 then return -1 end
  return start + ttl
end
local function wanted(k)
  if #ARGV == 0 then return true end
  for _, p in ipairs(ARGV) do
    if string.sub(k, 1, #p) == p then return true end
  end
  return false
end
repeat
  local r = redis.call('SCAN', cursor, 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do
    if not seen[k] and wanted(k) then
      seen[k] = true
      local t = redis.call('TYPE', k)['ok']
      local v = {}
      if t == 'hash' then v = redis.call('HGETALL', k)
      elseif t == 'set' then v = redis.call('SMEMBERS', k)
      elseif t == 'zset' then v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
      elseif t == 'string' then v = {redis.call('GET', k)}
      elseif t == 'list' then v = redis.call('LRANGE', k, 0, -1)
      end
      if t ~= 'none' then out[#out + 1] = {k, t, deadline(k), v} end
    end
  end
until cursor == '0'
local t = redis.call('TIME')
return {tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), out, exact}
"""


@dataclass
class Key:
    type: str
    expires: int  # PEXPIRETIME: ms since the epoch, -1 for none
    value: Any  # hash: dict, set: set, zset: dict member -> score, string: str


def _s(b: Any) -> str:
    return b.decode("utf-8", "surrogateescape") if isinstance(b, bytes) else str(b)


def masters(raw: Any) -> list[Any]:
    """A plain client per server holding keys: each master of a cluster, or the one server.
    A key space walk must read every master, since SCAN on a cluster node sees its own keys."""
    if isinstance(raw, RedisCluster):
        return [raw.get_redis_connection(node) for node in raw.get_primaries()]
    return [raw]


def _key(typ: str, exp: Any, v: Any) -> Key:
    value: Any
    if typ == "hash":
        value = {_s(v[i]): v[i + 1] for i in range(0, len(v), 2)}
    elif typ == "set":
        value = {_s(m) for m in v}
    elif typ == "zset":
        value = {_s(v[i]): float(v[i + 1]) for i in range(0, len(v), 2)}
    elif typ == "string":
        value = _s(v[0]) if v else None
    else:
        value = [_s(m) for m in v]
    return Key(typ, int(exp), value)


def snapshot(raw: redis.Redis) -> dict[str, Key]:
    """Every key of the server, read in one script call."""
    return snapshot_at(raw)[1]


def snapshot_at(
    raw: Any, prefixes: Iterable[str] = (), *, cross_flag: bool = True
) -> tuple[int, dict[str, Key]]:
    """(the server's time in ms, every key of the server, or those starting with one of
    `prefixes`), read in one script call per server: atomic on each. `cross_flag`: flag the
    script for a cluster of Redis 7+ (6.2 takes no flags)."""
    out: dict[str, Key] = {}
    args = list(prefixes)
    now = 0
    for conn in masters(raw):
        src = (CROSS_SLOT if cross_flag and isinstance(raw, RedisCluster) else "") + SNAPSHOT_LUA
        t, rows, _ = conn.eval(src, 0, *args)
        now = max(now, int(t))
        for k, typ, exp, v in rows:
            out[_s(k)] = _key(_s(typ), exp, v)
    return now, out


def scan_keys(conn: Any, prefixes: Iterable[str], count: int = 1000) -> Iterator[list[bytes]]:
    """Batches of the key names of one server starting with one of `prefixes` (SCAN MATCH,
    the prefixes' glob characters escaped); a key SCAN returns twice is returned once."""
    seen: set[bytes] = set()
    pats = sorted(set(prefixes), key=len)
    pats = [p for p in pats if not any(p != q and p.startswith(q) for q in pats)]
    for p in pats or [""]:
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", p) + "*"
        cursor: Any = 0
        while True:
            cursor, names = conn.scan(cursor, match=pattern, count=count)
            fresh = [k for k in names if k not in seen]
            seen.update(fresh)
            if fresh:
                yield fresh
            if int(cursor) == 0:
                break


def _read_batch(conn: Any, names: list[bytes], exact_expiry: bool) -> list[tuple[Any, ...]]:
    """(name, type, expiry, value) of each key of a batch: two pipelined round trips (the types,
    then each key's read by its type with its expiry). A key gone in between is dropped."""
    pipe = conn.pipeline(transaction=False)
    for k in names:
        pipe.type(k)
    types = [_s(t) for t in pipe.execute(raise_on_error=False)]
    pipe = conn.pipeline(transaction=False)
    kept = []
    for k, t in zip(names, types, strict=True):
        read = {
            "hash": ("HGETALL",),
            "set": ("SMEMBERS",),
            "zset": ("ZRANGE", 0, -1, "WITHSCORES"),
            "string": ("GET",),
            "list": ("LRANGE", 0, -1),
        }.get(t)
        if read is None:
            continue
        kept.append((k, t))
        pipe.execute_command(read[0], k, *read[1:])
        pipe.execute_command("PEXPIRETIME" if exact_expiry else "PTTL", k)
    replies = pipe.execute(raise_on_error=False)
    out = []
    for i, (k, t) in enumerate(kept):
        v, exp = replies[2 * i], replies[2 * i + 1]
        if isinstance(v, Exception) or isinstance(exp, Exception):
            continue  # changed type or gone between the two round trips: not our business
        if isinstance(v, dict):  # redis-py's reply callbacks: back to the flat RESP form
            v = [x for pair in v.items() for x in pair]
        elif isinstance(v, set):
            v = list(v)
        elif t == "zset" and v and isinstance(v[0], tuple | list):
            v = [x for pair in v for x in pair]
        if t == "string":
            if v is None:
                continue
            v = [v]
        out.append((k, t, exp, v))
    return out


def walk_at(
    raw: Any,
    prefixes: Iterable[str],
    *,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, dict[str, Key], int]:
    """(the server's time in ms, the keys starting with one of `prefixes`, the allowed error of
    the deadlines in ms), read in batches: a server is never blocked for longer than one
    batch's reads. On Redis 6.2 (no PEXPIRETIME) a deadline is the server's time plus PTTL,
    exact to the walk's duration, which the third element says. `progress(n)` is called with
    the number of keys of each batch read."""
    out: dict[str, Key] = {}
    now, slack = 0, 0
    for conn in masters(raw):
        sec, usec = conn.time()
        start = int(sec) * 1000 + int(usec) // 1000
        now = max(now, start)
        try:
            conn.execute_command("PEXPIRETIME", "\x00no-such-key")
            exact = True
        except redis.ResponseError:
            exact = False
        for names in scan_keys(conn, prefixes):
            for i in range(0, len(names), batch):
                chunk = names[i : i + batch]
                for k, t, exp, v in _read_batch(conn, chunk, exact):
                    exp = int(exp)
                    if not exact:
                        exp = -1 if exp < 0 else start + exp
                    out[_s(k)] = _key(t, exp, v)
                if progress is not None:
                    progress(len(chunk))
        if not exact:
            sec, usec = conn.time()
            slack = max(slack, int(sec) * 1000 + int(usec) // 1000 - start + 1)
    return now, out, slack


@dataclass
class ThreadKeys:
    """The keys of one thread tag found in the key space."""

    ns_set: str | None = None
    xref: str | None = None
    pin: str | None = None
    idx: dict[str, str] = field(default_factory=dict)  # N -> key
    wo: dict[str, str] = field(default_factory=dict)
    blob: dict[str, str] = field(default_factory=dict)
    logs: dict[tuple[str, str], str] = field(default_factory=dict)  # (N, log id) -> key
    cps: dict[tuple[str, str], str] = field(default_factory=dict)  # (N, C) -> key
    writes: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (N, C, K) -> key

    def keys(self) -> list[str]:
        out = [k for k in (self.ns_set, self.xref, self.pin) if k is not None]
        for d in (self.idx, self.wo, self.blob, self.logs, self.cps, self.writes):
            out += d.values()
        return out


def _log_ref(value: bytes) -> tuple[str, int, int] | None:
    """(log id, byte length, item count) of a blob value that refers to a log, else None."""
    if not value.startswith(b"@"):
        return None
    log, length, count = value[1:].split(b"\n")
    return _s(log), int(length), int(count)


def _split(value: bytes | str | None) -> list[str]:
    s = _s(value) if value is not None else ""
    return s.split("\n") if s else []


class Checker:
    def __init__(
        self,
        keys: dict[str, Key],
        prefix: str,
        write_prefix: str,
        swept: bool,
        serde: SerializerProtocol | None,
        now: int,
        slack: int = 0,
    ) -> None:
        self.keys = keys
        self.now = now
        self.slack = slack
        """How far two deadlines of one thread may differ and still be one (ms): 0 for an
        exact read (PEXPIRETIME), the walk's duration for one pieced together from PTTLs."""
        self.space = KeySpace(prefix, write_prefix)
        self.p, self.w = prefix, write_prefix
        self.swept = swept
        self.serde = serde
        self.errors: list[str] = []
        self.threads: dict[str, ThreadKeys] = defaultdict(ThreadKeys)
        self.runs: dict[str, str] = {}  # R (encoded, as in the key) -> key
        self.by: dict[str, str] = {}  # key -> key
        self.all: str | None = None
        self.exp: str | None = None
        self._live: dict[str, set[tuple[str, str]]] = {}
        self._ledgers: dict[str, dict[str, str]] = {}

    def err(self, msg: str) -> None:
        self.errors.append(msg)

    def differ(self, a: int, b: int) -> bool:
        """Whether two deadlines (ms, -1 for none) are different ones."""
        if a == -1 or b == -1:
            return a != b
        return abs(a - b) > self.slack

    # -- classify ---------------------------------------------------------------------------

    def want_type(self, key: str, typ: str) -> bool:
        got = self.keys[key].type
        if got != typ:
            self.err(f"{key!r}: type {got}, expected {typ}")
            return False
        return True

    def classify(self) -> None:
        p, w = self.p, self.w
        tagged = [  # (prefix up to the tag, kind, parts after the tag, type), longest first
            (f"{w}:{{", "writes", 3, "hash"),
            (f"{p}_blob:{{", "blob", 1, "hash"),
            (f"{p}_idx:{{", "idx", 1, "zset"),
            (f"{p}_wo:{{", "wo", 1, "set"),
            (f"{p}_ns:{{", "ns_set", 0, "set"),
            (f"{p}_xref:{{", "xref", 0, "hash"),
            (f"{p}_pin:{{", "pin", 0, "string"),
            (f"{p}:{{", "cp", 2, "hash"),
        ]
        tagged.sort(key=lambda x: -len(x[0]))
        for key in sorted(self.keys):
            if key == self.space.meta:
                self.want_type(key, "hash")
                continue
            if key == self.space.all_index:
                if self.want_type(key, "zset"):
                    self.all = key
                continue
            if key == self.space.exp_index:
                if self.want_type(key, "zset"):
                    self.exp = key
                continue
            if key.startswith(self.space.run_base):
                if self.want_type(key, "set"):
                    self.runs[key[len(self.space.run_base) :]] = key
                continue
            if key.startswith(f"{p}_by:"):
                if self.want_type(key, "zset"):
                    self.by[key] = key
                continue
            for start, kind, nparts, typ in tagged:
                if key.startswith(start):
                    self.classify_tagged(key, key[len(start) :], kind, nparts, typ)
                    break
            else:
                self.err(f"{key!r}: matches no key of the layout (orphan)")

    def classify_tagged(self, key: str, rest: str, kind: str, nparts: int, typ: str) -> None:
        close = rest.find("}")
        if close <= 0:
            self.err(f"{key!r}: no hash tag (orphan)")
            return
        t, tail = rest[:close], rest[close + 1 :]
        if nparts == 0:
            parts: list[str] = []
            ok = tail == ""
        else:
            parts = tail[1:].split(":")
            ok = tail.startswith(":") and len(parts) == nparts
        if kind == "blob" and not ok and tail.startswith(":") and len(parts) == 2:
            kind, typ = "log", "string"  # a log: the blob hash's key, ":<id>"
            ok = True
        if not ok:
            self.err(f"{key!r}: malformed {kind} key (orphan)")
            return
        if not self.want_type(key, typ):
            return
        th = self.threads[t]
        if kind in ("ns_set", "xref", "pin"):
            setattr(th, kind, key)
        elif kind in ("idx", "wo", "blob"):
            getattr(th, kind)[parts[0]] = key
        elif kind == "log":
            th.logs[(parts[0], parts[1])] = key
        elif kind == "cp":
            th.cps[(parts[0], parts[1])] = key
        else:
            th.writes[(parts[0], parts[1], parts[2])] = key

    # -- per thread -------------------------------------------------------------------------

    def live(self, t: str) -> set[tuple[str, str]]:
        """(N, C) of the thread's checkpoints: hashes with `d` (checked to be indexed)."""
        if t not in self._live:
            th = self.threads.get(t)
            cps = th.cps.items() if th is not None else ()
            self._live[t] = {nc for nc, k in cps if "d" in self.keys[k].value}
        return self._live[t]

    def expired_ledger(self, t: str) -> dict[str, str] | None:
        """The ledger of a thread that expired and is not swept yet: allowed leftovers."""
        th = self.threads.get(t)
        if th is None or th.ns_set is not None or th.xref is None or self.swept:
            return None
        if self.exp is None or t not in self.keys[self.exp].value:
            return None
        return {f: _s(v) for f, v in self.keys[th.xref].value.items()}

    def check_thread(self, t: str, th: ThreadKeys) -> None:
        where = f"thread {{{t}}}"
        if th.ns_set is None:
            others = [k for k in th.keys() if k not in (th.xref, th.pin)]
            if others:
                self.err(f"{where}: no namespace set, yet keys {sorted(others)} (orphans)")
            if th.xref is not None:
                if self.swept:
                    self.err(f"{where}: ledger {th.xref!r} of a gone thread after a sweep")
                elif self.exp is None or t not in self.keys[self.exp].value:
                    self.err(
                        f"{where}: ledger {th.xref!r} of a gone thread that is not in the "
                        "expiry index (no sweep will remove it)"
                    )
            if th.pin is not None:
                self.err(f"{where}: pin {th.pin!r} of a gone thread")
        namespaces = self.keys[th.ns_set].value if th.ns_set else set()
        for kind in ("idx", "wo", "blob"):
            for ns, key in getattr(th, kind).items():
                if ns not in namespaces:
                    self.err(f"{key!r}: namespace {ns!r} not in the thread's namespace set")
        for (ns, _), key in th.logs.items():
            if ns not in th.blob:
                self.err(f"{key!r}: a log without its blob hash")
        for ns in sorted(namespaces):
            if ns not in th.idx and ns not in th.wo:
                self.err(f"{where}: namespace {ns!r} in the set has no index and no write-only")
        idx = {ns: self.keys[k].value for ns, k in th.idx.items()}
        wo = {ns: self.keys[k].value for ns, k in th.wo.items()}
        for ns, members in idx.items():
            for cid, score in members.items():
                if score != 0:
                    self.err(f"{th.idx[ns]!r}: member {cid!r} has score {score}, not 0")
                key = th.cps.get((ns, cid))
                if key is None or "d" not in self.keys[key].value:
                    self.err(f"{th.idx[ns]!r}: member {cid!r} has no checkpoint hash with d")
        for ns, members in wo.items():
            for cid in members:
                if (ns, cid) not in th.cps:
                    self.err(f"{th.wo[ns]!r}: member {cid!r} has no checkpoint hash")
        for (ns, cid), key in th.cps.items():
            h = self.keys[key].value
            if "d" in h:
                self.check_checkpoint(t, ns, cid, key, h)
                if cid not in idx.get(ns, {}):
                    self.err(f"{key!r}: checkpoint not in its namespace index")
                if cid in wo.get(ns, set()):
                    self.err(f"{key!r}: checkpoint still in the write-only set")
            else:
                if cid not in wo.get(ns, set()):
                    self.err(f"{key!r}: hash without d (writes first) not in the write-only set")
                bad = sorted(f for f in h if not f.startswith("w:"))
                if bad:
                    self.err(f"{key!r}: hash without d has fields {bad}")
            for f in h:
                if f.startswith("w:") and (ns, cid, f[2:]) not in th.writes:
                    self.err(f"{key!r}: field {f!r} names a writes hash that does not exist")
        for (ns, cid, task), key in th.writes.items():
            cpk = th.cps.get((ns, cid))
            if cpk is None or f"w:{task}" not in self.keys[cpk].value:
                self.err(f"{key!r}: writes hash not named by a w: field of its checkpoint")
        for ns, key in th.blob.items():
            self.check_blobs(t, ns, key)
        self.check_ledger(t, th)
        self.check_expiry(t, th)

    def check_checkpoint(self, t: str, ns: str, cid: str, key: str, h: dict[str, bytes]) -> None:
        for f in ("p", "b"):
            if f not in h:
                self.err(f"{key!r}: checkpoint without field {f!r}")
        unknown = sorted(
            f for f in h if f not in ("d", "p", "b", "h") and not f.startswith(("f:", "w:"))
        )
        if unknown:
            self.err(f"{key!r}: unknown fields {unknown}")
        if self.serde is None:
            return
        try:
            skeleton, metadata = unpack_checkpoint(self.serde, h["d"])
        except Exception as e:  # reported as a violation
            self.err(f"{key!r}: d does not decode: {e!r}")
            return
        want_b = {blob_field(ch, v) for ch, v in skeleton["channel_versions"].items()}
        if set(_split(h.get("b"))) != want_b:
            self.err(f"{key!r}: b {_split(h.get('b'))} != channel versions {sorted(want_b)}")
        replays = {enc(str(ch)) for ch in metadata.get("counters_since_delta_snapshot") or {}}
        if set(_split(h.get("h"))) != replays:
            self.err(f"{key!r}: h {_split(h.get('h'))} != replayed channels {sorted(replays)}")
        if skeleton.get("id") is not None and enc(skeleton["id"]) != cid:
            self.err(f"{key!r}: d holds checkpoint id {skeleton['id']!r}")

    def check_blobs(self, t: str, ns: str, key: str) -> None:
        th = self.threads[t]
        values: dict[str, bytes] = self.keys[key].value
        keep: set[str] = set()
        for (n, _), cpk in th.cps.items():
            h = self.keys[cpk].value
            if n == ns and "d" in h:
                keep.update(_split(h.get("b")))
        registered = {f[1:] for f in values if f.startswith("@") and f != "@"}
        logs = {log: k for (n, log), k in th.logs.items() if n == ns}
        used: set[str] = set()
        for f in sorted(keep & set(values)):
            ref = _log_ref(values[f])
            if ref is None:
                continue
            log, length, _ = ref
            used.add(log)
            if log not in registered:
                self.err(f"{key!r}: field {f!r} refers to log {log!r}, which is not registered")
            elif log not in logs:
                self.err(f"{key!r}: field {f!r} refers to log {log!r}, which is gone")
            else:
                have = len(_s(self.keys[logs[log]].value).encode("utf-8", "surrogateescape"))
                if have < length:
                    self.err(f"{key!r}: field {f!r} needs {length} bytes of a {have}-byte log")
        for log in sorted(registered - used):
            self.err(f"{key!r}: log {log!r} is referred to by no kept field (orphan)")
        for log in sorted(set(logs) - registered):
            self.err(f"{logs[log]!r}: a log its blob hash does not register (orphan)")
        if registered and "@" not in values:
            self.err(f"{key!r}: logs but no log counter '@'")
        for f in sorted(set(values) - keep):
            if not f.startswith("@"):
                self.err(f"{key!r}: field {f!r} is referenced by no live checkpoint (orphan)")

    # -- ledger and cross-thread indexes ----------------------------------------------------

    def ledger_of(self, t: str) -> dict[str, str]:
        """The thread's ledger, decoded once (every index entry of the thread asks for it)."""
        if t not in self._ledgers:
            th = self.threads.get(t)
            if th is None or th.xref is None:
                self._ledgers[t] = {}
            else:
                self._ledgers[t] = {f: _s(v) for f, v in self.keys[th.xref].value.items()}
        return self._ledgers[t]

    def expected_entry(self, t: str, ns: str, cid: str) -> tuple[str, set[str]] | None:
        """(run, value index keys) the ledger must hold for a live checkpoint, from its hash;
        None when the metadata cannot be decoded (no serde)."""
        h = self.keys[self.threads[t].cps[(ns, cid)]].value
        by = set()
        for f, v in h.items():
            if f.startswith("f:"):
                k = self.space.by_key(f[2:], _s(v))
                if k is not None:
                    by.add(k)
        if self.serde is None:
            return None
        try:
            _, metadata = unpack_checkpoint(self.serde, h["d"])
        except Exception:  # reported by check_checkpoint
            return None
        run = metadata.get("run_id")
        return ("" if run is None else enc(str(run))), by

    def check_ledger(self, t: str, th: ThreadKeys) -> None:
        if th.ns_set is None:
            return  # a gone thread's ledger: check_thread and the index checks cover it
        ledger = self.ledger_of(t)
        live = self.live(t)
        all_members = self.keys[self.all].value if self.all else {}
        for ns, cid in sorted(live):
            f = f"{ns}\n{cid}"
            if f not in ledger:
                self.err(f"thread {{{t}}}: live checkpoint {ns!r} {cid!r} has no ledger field")
                continue
            run, *by = _split(ledger[f]) or [""]
            member = f"{cid}\n{t}\n{ns}"
            if member not in all_members:
                self.err(f"thread {{{t}}}: live checkpoint {ns!r} {cid!r} not in {self.p}_all")
            if run:
                rk = self.space.run_base + run
                if rk not in self.keys or f"{t}\n{ns}\n{cid}" not in self.keys[rk].value:
                    self.err(f"thread {{{t}}}: live checkpoint {ns!r} {cid!r} not in {rk!r}")
            for e in by:
                k, value = e.rsplit("\t", 1) if "\t" in e else (e, "")
                if k not in self.by or f"{value}\n{member}" not in self.keys[k].value:
                    self.err(
                        f"thread {{{t}}}: live checkpoint {ns!r} {cid!r} not in {k!r} "
                        f"under {value!r}"
                    )
            want = self.expected_entry(t, ns, cid)
            if want is not None:
                if run != want[0]:
                    self.err(
                        f"thread {{{t}}}: ledger of {ns!r} {cid!r} names run {run!r}, its "
                        f"metadata run {want[0]!r}"
                    )
                if set(by) != want[1]:
                    self.err(
                        f"thread {{{t}}}: ledger of {ns!r} {cid!r} names value indexes "
                        f"{sorted(by)}, its metadata {sorted(want[1])}"
                    )
        for f in sorted(ledger):
            ns, _, cid = f.partition("\n")
            if (ns, cid) not in live:
                self.err(
                    f"{th.xref!r}: stale ledger field {f!r}: no live checkpoint (its index "
                    "entries would never be removed)"
                )

    def backed(self, t: str, ns: str, cid: str) -> tuple[str, str, list[str]] | None:
        """The ledger entry (kind, run, by) that accounts for an index entry of (t, ns, cid):
        a live checkpoint's, or a not yet swept expired thread's."""
        f = f"{ns}\n{cid}"
        if (ns, cid) in self.live(t):
            entry = self.ledger_of(t).get(f)
            kind = "live"
        else:
            entry = (self.expired_ledger(t) or {}).get(f)
            kind = "expired"
        if entry is None:
            return None
        run, *by = _split(entry) or [""]
        return kind, run, by

    def check_indexes(self) -> None:
        if self.all:
            for m, score in self.keys[self.all].value.items():
                parts = m.split("\n")
                if len(parts) != 3:
                    self.err(f"{self.all!r}: malformed member {m!r}")
                    continue
                cid, t, ns = parts
                if score != 0:
                    self.err(f"{self.all!r}: member {m!r} has score {score}, not 0")
                if self.backed(t, ns, cid) is None:
                    self.err(f"{self.all!r}: dangling member {m!r}: no live checkpoint")
        for key in sorted(self.by):
            for m in self.keys[key].value:
                parts = m.split("\n")
                if len(parts) != 4:
                    self.err(f"{key!r}: malformed member {m!r}")
                    continue
                value, cid, t, ns = parts
                b = self.backed(t, ns, cid)
                if b is None:
                    self.err(f"{key!r}: dangling member {m!r}: no live checkpoint")
                elif f"{key}\t{value}" not in b[2]:
                    self.err(f"{key!r}: member {m!r} is not listed in its ledger entry ({b[0]})")
        for run, key in sorted(self.runs.items()):
            for m in self.keys[key].value:
                parts = m.split("\n")
                if len(parts) != 3:
                    self.err(f"{key!r}: malformed member {m!r}")
                    continue
                t, ns, cid = parts
                b = self.backed(t, ns, cid)
                if b is None:
                    self.err(f"{key!r}: dangling member {m!r}: no live checkpoint")
                elif b[1] != run:
                    self.err(f"{key!r}: member {m!r} has run {b[1]!r} in its ledger ({b[0]})")

    # -- expiry -----------------------------------------------------------------------------

    def check_expiry(self, t: str, th: ThreadKeys) -> None:
        for k in (th.xref, th.pin):
            if k is not None and self.keys[k].expires != -1:
                self.err(f"{k!r}: expires at {self.keys[k].expires}; it never should")
        if th.pin is not None and self.keys[th.pin].value != "1":
            self.err(f"{th.pin!r}: value {self.keys[th.pin].value!r}, not '1'")
        if th.ns_set is None:
            return
        deadline = self.keys[th.ns_set].expires
        for k in th.keys():
            if k in (th.xref, th.pin):
                continue
            if self.differ(self.keys[k].expires, deadline):
                self.err(
                    f"{k!r}: expires at {self.keys[k].expires}, the thread at {deadline} "
                    f"({th.ns_set!r})"
                )
        if th.pin is not None and deadline != -1:
            self.err(f"{th.pin!r}: pinned thread expires at {deadline}")
        exp = self.keys[self.exp].value if self.exp else {}
        if deadline != -1 and t not in exp:
            self.err(f"thread {{{t}}} expires at {deadline} but is not in the expiry index")

    def check_exp_index(self) -> None:
        if not self.exp:
            return
        for t, score in self.keys[self.exp].value.items():
            th = self.threads.get(t)
            if th is None or th.ns_set is None:
                if self.swept:
                    self.err(f"{self.exp!r}: thread {t!r} is gone but still listed after a sweep")
                continue
            deadline = self.keys[th.ns_set].expires
            if self.differ(deadline, int(score)) and (self.swept or int(score) > self.now):
                # (before a sweep, a thread that expired and was written again may still be
                # listed at its old deadline, which is due: the sweep corrects it)
                self.err(f"{self.exp!r}: thread {t!r} listed at {int(score)}, expires {deadline}")

    def run(self) -> list[str]:
        self.classify()
        for t, th in sorted(self.threads.items()):
            self.check_thread(t, th)
        self.check_indexes()
        self.check_exp_index()
        return self.errors


def find_orphans(
    raw: redis.Redis,
    prefix: str = "checkpoint",
    write_prefix: str = "checkpoint_write",
    *,
    swept: bool = True,
    serde: SerializerProtocol | None = None,
    taken: tuple[int, dict[str, Key]] | None = None,
    slack: int = 0,
) -> list[str]:
    """Every violation of the layout, one line each (empty: the key space is clean). `serde`
    decodes the checkpoints' metadata (default JsonPlusSerializer) to check the run and value
    indexes against it. `taken`: a key space already read (default: `snapshot_at`, every key
    of the server)."""
    now, keys = snapshot_at(raw) if taken is None else taken
    serde = JsonPlusSerializer() if serde is None else serde
    keys, errors = unbucket(keys, prefix)
    return errors + Checker(keys, prefix, write_prefix, swept, serde, now, slack).run()


_BUCKETED = re.compile(
    r"^(?P<base>.+?_(?:all|exp|run|by))(?P<sfx>:\{[0-9a-zA-Z]{1,3}\})(?P<rest>.*)$"
)


_GROUPED = re.compile(
    r"^(?P<head>[^{}]+:)(?P<g>\{[0-9a-zA-Z]{1,3}\})(?P<t>[^:{}]+)(?P<rest>(?::.*)?)$"
)


def unbucket(keys: dict[str, Key], prefix: str) -> tuple[dict[str, Key], list[str]]:
    """The cluster layout (keys.py's groups) folded back into the one-server names: a thread's
    keys `{g}T` become `{T}` after checking that g is the thread's group, and the per-group
    index keys are merged, after checking that every entry sits in its own thread's bucket;
    the ledgers' index names are rewritten alike. On one server this changes nothing."""
    errors: list[str] = []
    out: dict[str, Key] = {}
    renamed: dict[str, str] = {}
    grouped: dict[str, Key] = {}
    for name, key in keys.items():
        g = _GROUPED.match(name)
        if g and g.group("head").startswith(prefix):
            t = g.group("t")
            if group_tag(t) != g.group("g"):
                errors.append(f"{name!r}: thread {t!r} outside its group {group_tag(t)}")
            grouped[g.group("head") + "{" + t + "}" + g.group("rest")] = key
            continue
        grouped[name] = key
    for name, key in grouped.items():
        m = _BUCKETED.match(name)
        if not m or not m.group("base").startswith(prefix + "_"):
            out[name] = key
            continue
        kind = m.group("base")[len(prefix) + 1 :]
        plain = m.group("base") + m.group("rest")
        renamed[name] = plain
        members = key.value if isinstance(key.value, dict | set) else {}
        for member in members:
            parts = member.split("\n")
            at = {"exp": 0, "run": 0, "all": 1, "by": 2}[kind]  # "<value>\nC\nT\nN" for by
            t = parts[at] if len(parts) > at else ""
            if bucket_of(t) != m.group("sfx"):
                errors.append(f"{name!r}: entry {member!r} of thread {t!r} is outside its bucket")
        if plain in out:
            merged = out[plain].value
            merged.update(key.value)
        else:
            out[plain] = Key(key.type, key.expires, type(key.value)(key.value))
    for name, key in out.items():
        if name.startswith(prefix + "_xref:") and isinstance(key.value, dict):
            fixed = {}
            for f, v in key.value.items():
                parts = _split(v)
                fixed[f] = "\n".join(renamed.get(x, _strip(x, prefix)) for x in parts).encode()
            key.value = fixed
    return out, errors


def _strip(name: str, prefix: str) -> str:
    m = _BUCKETED.match(name)
    if m and m.group("base").startswith(prefix + "_"):
        return m.group("base") + m.group("rest")
    return name


SLACK = 50
"""The deadline tolerance (ms) of an atomic walk: exact on Redis 7+ (PEXPIRETIME); on 6.2 the
script's start plus PTTL, off by the script's run time (time is not frozen there)."""


def problems(
    raw: Any,
    prefix: str = "checkpoint",
    write_prefix: str = "checkpoint_write",
    *,
    swept: bool = False,
    serde: SerializerProtocol | None = None,
    atomic: bool = False,
    cross_flag: bool = True,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, list[str]]:
    """(keys read, the violations) of the keys under the two prefixes, for a server in use.

    `atomic`: one Lua snapshot per server (exact under concurrent writes; blocks each server
    for the walk). Otherwise the batched walk, twice when the first finds something: a running
    graph's write that lands between two batches looks like a broken key space once, real
    damage looks the same both times, so only what both walks report is returned. Before a
    sweep (`swept=False`, the default for a live server) an expired thread's leftovers in the
    cross-thread indexes are allowed."""
    prefixes = (prefix, write_prefix)
    if atomic:
        now, keys = snapshot_at(raw, prefixes, cross_flag=cross_flag)
        return len(keys), find_orphans(
            raw, prefix, write_prefix, swept=swept, serde=serde, taken=(now, keys), slack=SLACK
        )
    now, keys, slack = walk_at(raw, prefixes, progress=progress)
    found = find_orphans(
        raw, prefix, write_prefix, swept=swept, serde=serde, taken=(now, keys), slack=slack
    )
    if not found:
        return len(keys), found
    now, again, slack = walk_at(raw, prefixes)
    confirmed = set(
        find_orphans(
            raw, prefix, write_prefix, swept=swept, serde=serde, taken=(now, again), slack=slack
        )
    )
    return len(keys), [p for p in found if p in confirmed]
