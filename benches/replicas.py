#!/usr/bin/env python3
"""Replicas of `gatekeep server` on one PostgreSQL against a single SQLite server, in one run.

    python3 benches/replicas.py [--gatekeep target/release/gatekeep] [--creates 400] [--waiters 60]

Loopback only, bounded (a fixed number of requests, every wait with a timeout), and it
cleans up after itself: a throwaway PostgreSQL cluster (initdb into a temporary directory,
run as the `postgres` user when started as root), servers on 127.0.0.1:0, all stopped at
the end. For each setup (1 server on SQLite; 2 and 3 replicas on PostgreSQL) it reports:

- create throughput: creates/s from 8 client threads spread over the replicas;
- wake latency: p50/p99 from an approval sent to one replica to the answer of the long poll
  waiting on *another* replica (the same server for the single one), with every waiter held
  at once, approvals one after another;
- waiting clients held per replica, and each server's RSS while they wait.
"""

import argparse
import base64
import glob
import hashlib
import http.client
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
        line = self.proc.stderr.readline()
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if not match:
            sys.exit(f"gatekeep server did not start: {line}{self.proc.stderr.read()}")
        self.port = int(match.group(1))
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


def measure(gk, name, replicas, creates, waiters):
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
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return {
        "setup": name,
        "creates_per_s": throughput,
        "p50_ms": statistics.median(latencies),
        "p99_ms": p99,
        "waiters_per_replica": waiters // n,
        "rss_mib": "/".join(f"{r / 1024:.0f}" for r in rss),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gatekeep", default="target/release/gatekeep")
    parser.add_argument("--creates", type=int, default=400)
    parser.add_argument("--waiters", type=int, default=60)
    args = parser.parse_args()
    gk = os.path.abspath(args.gatekeep)
    work = tempfile.mkdtemp(prefix="gk-bench-")
    cluster = Cluster()
    results = []
    running = []
    try:
        single = Server(gk, f"{work}/single")
        running.append(single)
        results.append(measure(gk, "1 server, SQLite", [single], args.creates, args.waiters))
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
                                   args.waiters))
            for r in replicas:
                r.stop()
    finally:
        for s in running:
            if s.proc.poll() is None:
                s.stop()
        cluster.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"| setup | creates/s | wake p50 (ms) | wake p99 (ms) | waiting clients per replica | RSS per server (MiB) |")
    print("|---|---:|---:|---:|---:|---|")
    for r in results:
        print(f"| {r['setup']} | {r['creates_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
              f"| {r['waiters_per_replica']} | {r['rss_mib']} |")


if __name__ == "__main__":
    main()
