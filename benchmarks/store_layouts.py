"""RedisStore on one server before and after a change, and on a Redis Cluster, in one run.

    python benchmarks/store_layouts.py [--baseline REV] [--runs 3] [--n 1000] [--block 100]
                                       [--out FILE] [--tree DIR]

Starts two embedded Valkey 9.1 servers and a 3-master Valkey 9.1 cluster on loopback
(tests/cluster.py), and three worker processes (`--worker`), one per store: `base` (the store
of git revision REV, checked out into a temporary worktree: the one-server figures before the
change) on the first server, `one` (this tree) on the second, and `cluster` (this tree) on the
cluster (`--tree`: another checkout's src/ (with its Lua) as `one` and `cluster`, e.g. an export of
the commit before a change, for its cluster figures). The workers take turns block by block
(`--block` calls of one workload, the order of the three rotating from block to block), so all
three meet the machine's noise at the same moments: this machine's load swings by 2x within a
minute, which ratios of whole runs taken one after another do not survive. The report gives,
per workload, the median over all blocks of all runs of each store's rate, and of the ratios
one/base (standalone regression: 1.00 is none) and cluster/one, each ratio taken between
neighbouring blocks.

Workloads, on two shapes of namespace (`few`: 10 namespaces; `many`: `--n` namespaces of one
item each, spread over every master on the cluster):
  put       sequential put()s of ~200-byte JSON values; and `bytes/item`, the growth of
            used_memory (summed over the masters of the cluster) per item put (each store has
            its own server)
  get       sequential get()s of those items
  search    search(prefix, filter={"kind": "a"}, limit=10) over all of them
  list_ns   list_namespaces(prefix=..., limit=100)
Writes benchmarks/results/store_layouts.md (or --out).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKLOADS = ("put", "get", "search", "list_ns")
SHAPES = ("few", "many")
STORES = ("base", "one", "cluster")
SEARCH_SHARE = 10
"""search and list_ns blocks make 1/SEARCH_SHARE of `--block` calls (they are slower)."""


def _used_memory(url: str) -> int:
    """used_memory of the server at `url`, summed over the masters when it is a cluster."""
    import redis
    import redis.cluster

    plain = redis.Redis.from_url(url)
    try:
        if str(plain.info("cluster").get("cluster_enabled", 0)) != "1":
            return int(plain.info("memory")["used_memory"])
    finally:
        plain.close()
    cl = redis.cluster.RedisCluster.from_url(url)
    try:
        return sum(
            int(cl.get_redis_connection(node).info("memory")["used_memory"])
            for node in cl.get_primaries()
        )
    finally:
        cl.close()


def worker(url: str, n: int, prefix: str) -> None:
    """Runs in the tree on sys.path (this one or the baseline's). Reads commands from stdin,
    one per line: `<shape> <workload> <first> <last>` runs calls first..last-1 and answers
    their seconds; `<shape> mem` answers used_memory (summed over a cluster's masters)."""
    from langgraph.store.redis import RedisStore

    with RedisStore.from_conn_string(url, prefix=prefix) as store:
        store.setup()
        fns: dict[tuple[str, str], Any] = {}
        for shape in SHAPES:
            nss = [("b", shape, f"n{i % (10 if shape == 'few' else n)}") for i in range(n)]

            def put(i: int, nss: Any = nss) -> None:
                store.put(nss[i], f"k{i}", {"text": "x" * 180, "kind": "ab"[i % 2]})

            def get(i: int, nss: Any = nss) -> None:
                assert store.get(nss[i], f"k{i}") is not None

            def search(i: int, shape: str = shape) -> None:
                assert len(store.search(("b", shape), filter={"kind": "a"}, limit=10)) == 10

            def list_ns(i: int, shape: str = shape) -> None:
                assert store.list_namespaces(prefix=("b", shape), limit=100)

            for name, fn in zip(WORKLOADS, (put, get, search, list_ns), strict=True):
                fns[(shape, name)] = fn
        print("ready", flush=True)
        for line in sys.stdin:
            shape, what, *span = line.split()
            if what == "mem":
                print(_used_memory(url), flush=True)
                continue
            fn = fns[(shape, what)]
            t = time.perf_counter()
            for i in range(int(span[0]), int(span[1])):
                fn(i)
            print(time.perf_counter() - t, flush=True)


class Worker:
    """A worker process of one store, driven line by line."""

    def __init__(self, src: Path, url: str, n: int, prefix: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(src))
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                "--url",
                url,
                "--n",
                str(n),
                "--prefix",
                prefix,
            ],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._expect("ready")

    def _expect(self, what: str) -> None:
        got = self._line()
        if got != what:
            raise RuntimeError(f"worker said {got!r}, not {what!r}")

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited ({self.proc.wait()})")
        return line.strip()

    def ask(self, *words: Any) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.proc.stdin.flush()
        return float(self._line())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def one_run(
    workers: dict[str, Worker], n: int, block: int, rotation: int
) -> dict[str, dict[str, list[float]]]:
    """Every workload of every shape, block by block, the stores in turn; per store and row,
    the rates of its blocks (and its bytes/item, one value)."""
    out: dict[str, dict[str, list[float]]] = {s: {} for s in STORES}
    turn = rotation
    for shape in SHAPES:
        for what in WORKLOADS:
            calls = block if what in ("put", "get") else max(block // SEARCH_SHARE, 1)
            total = n if what in ("put", "get") else calls * (n // block)
            before = {s: w.ask(shape, "mem") for s, w in workers.items()} if what == "put" else {}
            for first in range(0, total, calls):
                last = min(first + calls, total)
                order = STORES[turn % 3 :] + STORES[: turn % 3]
                turn += 1
                for s in order:
                    seconds = workers[s].ask(shape, what, first, last)
                    out[s].setdefault(f"{what} {shape}", []).append((last - first) / seconds)
            if what == "put":
                for s, w in workers.items():
                    grown = w.ask(shape, "mem") - before[s]
                    out[s].setdefault(f"bytes/item {shape}", []).append(grown / n)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="41e801b")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--block", type=int, default=100)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "store_layouts.md")
    ap.add_argument("--tree", type=Path, default=ROOT)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--prefix", default="bench", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.url, a.n, a.prefix)
        return

    sys.path.insert(0, str(ROOT))
    from langgraph.checkpoint.redis.embedded import EmbeddedServer
    from tests.cluster import Cluster

    from trees import worktree

    runs: list[dict[str, dict[str, list[float]]]] = []
    with worktree(a.baseline, "store-base-") as base:
        servers = {"base": EmbeddedServer().start(), "one": EmbeddedServer().start()}
        with Cluster(None, masters=3) as cl:
            urls = {"base": servers["base"].url, "one": servers["one"].url, "cluster": cl.url}
            srcs = {"base": base / "src", "one": a.tree / "src", "cluster": a.tree / "src"}
            for r in range(a.runs):
                workers = {s: Worker(srcs[s], urls[s], a.n, f"{s}{r}") for s in STORES}
                try:
                    runs.append(one_run(workers, a.n, a.block, r))
                finally:
                    for w in workers.values():
                        w.close()
                print(f"run {r + 1}/{a.runs} done", file=sys.stderr)
        for srv in servers.values():
            srv.stop()

    def rates(s: str, k: str) -> list[float]:
        return [x for run in runs for x in run[s][k]]

    def ratio(s: str, t: str, k: str) -> float:
        """Median of s/t over neighbouring blocks (bytes/item: of the runs' ratios)."""
        return statistics.median(
            x / y for run in runs for x, y in zip(run[s][k], run[t][k], strict=True)
        )

    def fmt(v: float) -> str:
        return f"{v:,.0f}"

    tree = "this tree" if a.tree == ROOT else f"the tree in {a.tree}"
    lines = [
        f"RedisStore, one Valkey 9.1 each for base (= {a.baseline}) and one (= {tree}), and "
        f"a 3-master Valkey 9.1 cluster ({tree}), taking turns every {a.block} calls "
        f"(searches and listings: every {max(a.block // SEARCH_SHARE, 1)}), medians over the "
        f"blocks of {a.runs} runs, `python benchmarks/store_layouts.py --baseline "
        f"{a.baseline} --runs {a.runs} --n {a.n} --block {a.block}"
        + ("" if a.tree == ROOT else f" --tree {a.tree}")
        + "`",
        "",
        "Rates are calls per second; `bytes/item` is bytes (smaller is better; its ratios are",
        "ratios of bytes, not of rates).",
        "",
        "| workload | base | one | cluster | one / base | cluster / one |",
        "|---|---|---|---|---|---|",
    ]
    for k in runs[0]["one"]:
        lines.append(
            f"| {k} | {fmt(statistics.median(rates('base', k)))}"
            f" | {fmt(statistics.median(rates('one', k)))}"
            f" | {fmt(statistics.median(rates('cluster', k)))}"
            f" | {ratio('one', 'base', k):.2f}x"
            f" | {ratio('cluster', 'one', k):.2f}x |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)


if __name__ == "__main__":
    main()
