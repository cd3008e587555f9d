#!/usr/bin/env python3
"""Replicas of `gatekeep server` on one PostgreSQL against a single SQLite server, in one run.

    python3 benches/replicas.py [--gatekeep target/release/gatekeep] [--creates 400] [--waiters 60]
                                [--execs 30]

Loopback only, bounded (a fixed number of requests, every wait with a timeout), and it
cleans up after itself: a throwaway PostgreSQL cluster (initdb into a temporary directory,
run as the `postgres` user when started as root), servers on 127.0.0.1:0, all stopped at
the end. For each setup (1 server on SQLite; 2 and 3 replicas on PostgreSQL) it reports:

- create throughput: creates/s from 8 client threads spread over the replicas;
- wake latency: p50/p99 from an approval sent to one replica to the answer of the long poll
  waiting on *another* replica (the same server for the single one), with every waiter held
  at once, approvals one after another;
- waiting clients held per replica, and each server's RSS while they wait;
- approval -> command start: p50/p99 from just before an approval is sent (HTTP POST with an
  approver token) to replica B until `date` starts, run by a real `gatekeep exec -- date
  +%s%N` on an "agent machine" logged in to replica A (pinning the service's signing key),
  under a user rule that needs the service (no terminal: a new session with pipes). B is
  another replica than A (the same server for the single one). Timed from the wall clock
  before the POST to `date`'s own timestamp; the agent's ledger splits it at the server's
  decision time (1 ms timestamps). The machine, policy and one approval come from
  benches/service.py.
"""

import argparse
import base64
import glob
import hashlib
import http.client
import importlib.util
import json
import os
import pwd
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

# benches/service.py: its agent machine, policy, login and one timed approval.
_spec = importlib.util.spec_from_file_location(
    "gatekeep_bench_service", os.path.join(os.path.dirname(os.path.abspath(__file__)), "service.py"))
service = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(service)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A throwaway PostgreSQL (trust auth on loopback: nothing else can reach it)."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            sys.exit("no PostgreSQL under /usr/lib/postgresql/*/bin: apt-get install postgresql")
        self.bin = os.path.dirname(bins[-1])
        self.dir = tempfile.mkdtemp(prefix="gk-bench-pg-")
        self.user = None
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            self.user = (pg.pw_uid, pg.pw_gid)
            os.chown(self.dir, *self.user)
        self.port = free_port()
        self.run([f"{self.bin}/initdb", "-D", f"{self.dir}/data", "-U", "postgres",
                  "--auth=trust", "--no-sync", "-E", "UTF8"])
        log = open(f"{self.dir}/postgres.log", "w")
        # Durable settings (fsync on): the figures are those of a real deployment's commits.
        self.proc = subprocess.Popen(
            [f"{self.bin}/postgres", "-D", f"{self.dir}/data", "-p", str(self.port),
             "-k", self.dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300"],
            stdout=subprocess.DEVNULL, stderr=log, **self.as_user())
        for _ in range(300):
            if self.run([f"{self.bin}/psql", "-h", self.dir, "-p", str(self.port), "-U",
                         "postgres", "-c", "SELECT 1"], check=False).returncode == 0:
                return
            time.sleep(0.1)
        sys.exit("the benchmark's PostgreSQL did not start")

    def as_user(self):
        return {"user": self.user[0], "group": self.user[1]} if self.user else {}

    def run(self, argv, check=True):
        return subprocess.run(argv, capture_output=True, check=check, cwd="/", **self.as_user())

    def database(self, name):
        self.run([f"{self.bin}/psql", "-h", self.dir, "-p", str(self.port), "-U", "postgres",
                  "-c", f"CREATE DATABASE {name}"])
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    def __init__(self, gk, data, database=None, kek=None):
        self.gk, self.data, self.database, self.kek = gk, data, database, kek
        args = [gk, "server", "--listen", "127.0.0.1:0", "--data", data,
                "--max-pending", "100000", "--max-creates-per-minute", "1000000"]
        args += self.db_args()
        env = dict(os.environ, GATEKEEP_LOG="warn", HOME=data)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=env, text=True)
        # The address, then the signing key's thumbprint (which clients pin at login).
        head = ""
        match = kid = None
        for _ in range(20):
            line = self.proc.stderr.readline()
            head += line
            match = match or re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            kid = kid or re.search(r"signing key (\S+)", line)
            if not line or (match and kid):
                break
        if not (match and kid):
            self.proc.kill()
            sys.exit(f"gatekeep server did not start: {head}{self.proc.stderr.read()}")
        self.port = int(match.group(1))
        self.url = f"http://127.0.0.1:{self.port}"
        self.kid = kid.group(1)
        # Keep reading its log so that it never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def db_args(self):
        if not self.database:
            return []
        # Replicas share the signing keys through the database, sealed with this key.
        return ["--database", self.database, "--key-encryption-key-file", self.kek]

    def token(self, *args):
        out = subprocess.run([self.gk, "server", "token", "create", *args, "--data", self.data,
                              *self.db_args()], capture_output=True, text=True, check=True,
                             env=dict(os.environ, HOME=self.data))
        return out.stdout.strip()

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def call(port, method, path, token, body=None, timeout=40):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
    return json.loads(data) if data else None


def create_body(i):
    argv = ["touch", f"bench-{i}"]
    return {
        "id": f"bench-{os.getpid()}-{i}",
        "nonce": base64.urlsafe_b64encode(os.urandom(18)).decode(),
        "argv": argv,
        "digest": hashlib.sha256(" ".join(argv).encode()).hexdigest(),
        "origin": {"user": "bench", "host": "bench", "cwd": "/tmp"},
        "rules": ["bench"],
        "risk": "high",
        "quorum": 1,
        "groups": [],
        "timeout_secs": 600,
    }


def p50_p99(values):
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.99))]


def measure_execs(gk, home, replicas, agent_token, approver_token, execs, warmup, settle):
    """Real `gatekeep exec` on replica A (the first), each approved through replica B (the
    second, or the same single server): milliseconds from the approval sent to `date`."""
    a, b = replicas[0], replicas[1 % len(replicas)]
    if any(s.kid != a.kid for s in replicas):
        sys.exit(f"the replicas sign with different keys: {[s.kid for s in replicas]}")
    agent = service.Machine(home, "agent")
    service.login(gk, agent, "agent", a.url, a.kid, agent_token)
    service.write_policy(agent)

    def approve(rid):
        call(b.port, "POST", f"/v1/requests/{rid}/approve", approver_token, {})

    samples = []
    for i in range(warmup + execs):
        s = service.one_approval(gk, agent, None, settle, approve=approve)
        if i >= warmup:
            samples.append(s)
    server_to_start, server_to_client, client_to_start = service.ledger_breakdown(agent, samples)
    if len(server_to_start) != len(samples):
        sys.exit(f"{len(samples) - len(server_to_start)} approvals missing from the agent's ledger")
    return {
        "start": p50_p99([s["approve_to_start"] for s in samples]),
        "post": p50_p99([s["approve_cmd"] for s in samples]),
        "server_to_start": p50_p99(server_to_start),
        "server_to_client": p50_p99(server_to_client),
        "client_to_start": p50_p99(client_to_start),
    }


def measure(gk, name, replicas, creates, waiters, home, args):
    servers = replicas
    agent = servers[0].token("--agent", "bench")
    approver = servers[0].token("--approver", "alice")
    n = len(servers)
    # Create throughput: 8 threads, each create on the next replica in turn.
    ids = list(range(creates))
    lock = threading.Lock()

    def creator():
        while True:
            with lock:
                if not ids:
                    return
                i = ids.pop()
            call(servers[i % n].port, "POST", "/v1/requests", agent, create_body(i))

    started = time.monotonic()
    threads = [threading.Thread(target=creator) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    throughput = creates / (time.monotonic() - started)

    # Wake latency: every waiter holds a long poll at once; approvals one by one, each sent
    # to a replica other than the one its waiter is on.
    woke = {}
    reqs = []
    for k in range(waiters):
        body = create_body(creates + k)
        call(servers[k % n].port, "POST", "/v1/requests", agent, body)
        reqs.append(body["id"])

    def waiter(k):
        call(servers[k % n].port, "GET", f"/v1/requests/{reqs[k]}/wait?timeout=25", agent)
        woke[k] = time.monotonic()

    threads = [threading.Thread(target=waiter, args=(k,)) for k in range(waiters)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    rss = [s.rss_kib() for s in servers]
    latencies = []
    for k in range(waiters):
        sent = time.monotonic()
        call(servers[(k + 1) % n].port, "POST", f"/v1/requests/{reqs[k]}/approve", approver, {})
        deadline = time.monotonic() + 10
        while k not in woke and time.monotonic() < deadline:
            time.sleep(0.0002)
        if k not in woke:
            sys.exit(f"{name}: the waiter of {reqs[k]} did not wake within 10 s")
        latencies.append((woke[k] - sent) * 1000)
    for t in threads:
        t.join()
    p50, p99 = p50_p99(latencies)
    execs = measure_execs(gk, home, servers, agent, approver, args.execs, args.warmup,
                          args.settle)
    return {
        "execs": execs,
        "setup": name,
        "creates_per_s": throughput,
        "p50_ms": p50,
        "p99_ms": p99,
        "waiters_per_replica": waiters // n,
        "rss_mib": "/".join(f"{r / 1024:.0f}" for r in rss),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gatekeep", default="target/release/gatekeep")
    parser.add_argument("--creates", type=int, default=400)
    parser.add_argument("--waiters", type=int, default=60)
    parser.add_argument("--execs", type=int, default=30,
                        help="timed `gatekeep exec` approvals per setup (default 30)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed `gatekeep exec` approvals first, per setup (default 3)")
    parser.add_argument("--settle", type=float, default=0.05,
                        help="seconds from the client's waiting line to the approval (default "
                             "0.05: its long poll is parked, as when a person takes a while)")
    args = parser.parse_args()
    gk = os.path.abspath(args.gatekeep)
    work = tempfile.mkdtemp(prefix="gk-bench-")
    cluster = Cluster()
    results = []
    running = []
    try:
        single = Server(gk, f"{work}/single")
        running.append(single)
        results.append(measure(gk, "1 server, SQLite", [single], args.creates, args.waiters,
                               f"{work}/machines-1", args))
        single.stop()
        for n in (2, 3):
            url = cluster.database(f"bench_{n}")
            kek = f"{work}/kek-{n}"
            subprocess.run([gk, "server", "key", "new-kek", kek], check=True)
            replicas = []
            for i in range(n):
                replicas.append(Server(gk, f"{work}/r{n}-{i}", url, kek))
                running.append(replicas[-1])
            results.append(measure(gk, f"{n} replicas, PostgreSQL", replicas, args.creates,
                                   args.waiters, f"{work}/machines-{n}", args))
            for r in replicas:
                r.stop()
    finally:
        for s in running:
            if s.proc.poll() is None:
                s.stop()
        cluster.close()
        shutil.rmtree(work, ignore_errors=True)
    print("| setup | creates/s | wake p50 (ms) | wake p99 (ms) | approval → command start "
          "p50/p99 (ms) | waiting clients per replica | RSS per server (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in results:
        start = r["execs"]["start"]
        print(f"| {r['setup']} | {r['creates_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
              f"| {start[0]:.1f} / {start[1]:.1f} | {r['waiters_per_replica']} | {r['rss_mib']} |")
    print()
    print(f"approval → command start, {args.execs} `gatekeep exec` per setup after "
          f"{args.warmup} warm-ups, approval {args.settle * 1000:.0f} ms after the client's "
          "waiting line; p50 / p99 in ms (the split from the agent's ledger has 1 ms timestamps):")
    print("| setup | POST approve (to B) | server decision → start | server → client "
          "verified | client verified → start |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        e = r["execs"]
        cells = " | ".join(f"{e[k][0]:.1f} / {e[k][1]:.1f}" for k in
                           ("post", "server_to_start", "server_to_client", "client_to_start"))
        print(f"| {r['setup']} | {cells} |")


if __name__ == "__main__":
    main()
