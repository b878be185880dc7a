"""RedisStore on one server before and after a change, and on a Redis Cluster, in one run.

    python benchmarks/store_layouts.py [--baseline REV] [--runs 3] [--n 1000]

Starts one embedded Valkey 9.1 and a 3-master Valkey 9.1 cluster on loopback
(tests/cluster.py). Each run measures, each in a worker process (`--worker`), three stores:
`base` (the store of git revision REV, checked out into a temporary worktree: the one-server
figures before the change), `one` (this tree on the same Valkey) and `cluster` (this tree on
the cluster). Workers run in turn within a run (base and one swap places every other run),
so all three share the machine's noise;
the report gives, per workload, the median over runs of the rates and of the ratios
one/base (standalone regression: 1.00 is none) and cluster/one.

Workloads, on two shapes of namespace (`few`: 10 namespaces; `many`: `--n` namespaces of one
item each, spread over every master on the cluster):
  put       sequential put()s of ~200-byte JSON values; and `bytes/item`, the growth of
            used_memory (summed over the masters of the cluster) per item put
  get       sequential get()s of those items
  search    search(prefix, filter={"kind": "a"}, limit=10) over all of them
  list_ns   list_namespaces(prefix=..., limit=100)
Writes benchmarks/results/store_layouts.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKLOADS = ("put", "get", "search", "list_ns")
SHAPES = ("few", "many")


def _rate(fn: Any, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t)


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


def worker(url: str, n: int, prefix: str) -> dict[str, float]:
    """Runs in the tree on sys.path (this one or the baseline's)."""
    from langgraph.store.redis import RedisStore

    out: dict[str, float] = {}
    with RedisStore.from_conn_string(url, prefix=prefix) as store:
        store.setup()
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

            before = _used_memory(url)
            out[f"put {shape}"] = _rate(put, n)
            out[f"bytes/item {shape}"] = (_used_memory(url) - before) / n
            out[f"get {shape}"] = _rate(get, n)
            out[f"search {shape}"] = _rate(search, 100)
            out[f"list_ns {shape}"] = _rate(list_ns, 100)
    return out


def _run_worker(src: Path, url: str, n: int, prefix: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src))
    got = subprocess.run(
        [sys.executable, __file__, "--worker", "--url", url, "--n", str(n), "--prefix", prefix],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(got.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="41e801b")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--prefix", default="bench", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.url, a.n, a.prefix)))
        return

    sys.path.insert(0, str(ROOT))
    from langgraph.checkpoint.redis.embedded import EmbeddedServer
    from tests.cluster import Cluster

    tmp = Path(tempfile.mkdtemp(prefix="store-base-"))
    base = tmp / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(base), a.baseline],
        check=True,
    )
    try:
        one = EmbeddedServer().start()
        runs: list[dict[str, dict[str, float]]] = []
        with Cluster(None, masters=3) as cl:
            for r in range(a.runs):
                # base and one share the server: they take turns going first, so neither
                # always meets the fuller key space
                order = [("base", base / "src"), ("one", ROOT / "src")]
                got = {
                    name: _run_worker(src, one.url, a.n, f"{name}{r}")
                    for name, src in (order if r % 2 == 0 else order[::-1])
                }
                got["cluster"] = _run_worker(ROOT / "src", cl.url, a.n, f"c{r}")
                runs.append(got)
                print(f"run {r + 1}/{a.runs} done", file=sys.stderr)
        one.stop()
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False
        )

    def med(f: Any) -> float:
        return statistics.median(f(x) for x in runs)

    def fmt(v: float) -> str:
        return f"{v:,.0f}"

    lines = [
        f"RedisStore, one Valkey 9.1 (base = {a.baseline}, one = this tree) and a 3-master "
        f"Valkey 9.1 cluster (this tree), median of {a.runs} runs, "
        f"`python benchmarks/store_layouts.py --baseline {a.baseline} --runs {a.runs} "
        f"--n {a.n}`",
        "",
        "Rates are calls per second; `bytes/item` is bytes (smaller is better; its ratios are",
        "ratios of bytes, not of rates).",
        "",
        "| workload | base | one | cluster | one / base | cluster / one |",
        "|---|---|---|---|---|---|",
    ]
    for k in runs[0]["one"]:
        lines.append(
            f"| {k} | {fmt(med(lambda x, k=k: x['base'][k]))}"
            f" | {fmt(med(lambda x, k=k: x['one'][k]))}"
            f" | {fmt(med(lambda x, k=k: x['cluster'][k]))}"
            f" | {med(lambda x, k=k: x['one'][k] / x['base'][k]):.2f}x"
            f" | {med(lambda x, k=k: x['cluster'][k] / x['one'][k]):.2f}x |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "store_layouts.md").write_text(text)


if __name__ == "__main__":
    main()
