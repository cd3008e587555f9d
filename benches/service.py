#!/usr/bin/env python3
"""Benchmarks gatekeep's approval service end to end, on loopback (Python 3 stdlib only).

Run by hand from the repository root:

    python3 benches/service.py [--bin target/release/gatekeep] [--n 200]

Without --bin it runs `cargo build --release` and uses target/release/gatekeep. It starts
its own `gatekeep server --listen 127.0.0.1:0` in a temporary directory, with separate
HOME / XDG_CONFIG_HOME / XDG_STATE_HOME for an "agent machine" and an "approver machine",
logs both in (GATEKEEP_KEYRING=off: tokens go to 0600 files), and stops it at the end.

What it measures:

1. Decision-to-start latency (--n runs, after a few warm-ups). The agent side runs
   `gatekeep exec -- date +%s%N` under a user rule that needs the service
   (local_approval=false), with no controlling terminal (a new session, pipes for stdio).
   Its request id is read from the client's `waiting for approval of request ID` line;
   after --settle seconds (so that its long poll is parked, as it is when a person takes
   a while) the approver side runs `gatekeep approve ID`. Reported:
     - decision -> start: `date`'s own timestamp minus the wall clock when `gatekeep
       approve` exited (the approver sees "approved"). Budget: median under 20 ms.
     - approve start -> start: the same from just before `gatekeep approve` was started.
     - approve command: the wall time of the whole `gatekeep approve` process.
     - exec submit: from starting `gatekeep exec` to its "waiting for approval" line.
     - a split from the agent's ledger (millisecond timestamps): server decision (the
       approval's `at`, before the server commits) -> client has the verified verdict
       (its `decision` record, before its fsync) -> `date` starts.
   The server wakes the waiting client as it answers `approve`, so the client may start
   the command before `gatekeep approve` has exited: decision -> start can be negative.
2. Request-create throughput: POST /v1/requests straight over HTTP (http.client,
   keep-alive), --threads threads x --creates each, valid unique bodies. Creates/s and
   per-create latency. The requests are cancelled afterwards (cancels/s is printed too)
   so that they do not stay pending through step 3.
3. Server memory with --waiters concurrent long polls: creates that many requests, reads
   VmRSS / VmHWM of the server from /proc, then holds one `GET /v1/requests/{id}/wait?
   timeout=25` per request open on raw sockets (selectors) and samples memory while they
   are held. Checks that every poll was accepted (server fd count) and held: each must
   answer 200, still pending, no sooner than ~25 s after it was sent.
   Reports MB and KB per waiting client.

Context printed alongside (to tell where time goes): one fsync on the temp directory's
filesystem, and `gatekeep exec -- true` (the allowed path: process start + ledger).

Needs Linux (/proc, setsid semantics) and `date` with %N (GNU coreutils).
"""

import argparse
import datetime
import http.client
import json
import os
import re
import resource
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

POLICY = """\
# Written by benches/service.py: `date` needs an approver through the service.
[[rule]]
id = "bench"
decision = "approve"
risk = "high"
message = "bench"
program = ["date"]
local_approval = false
timeout = 60
"""


def die(msg):
    print(f"service.py: {msg}", file=sys.stderr)
    sys.exit(1)


def pct(values, p):
    """Percentile p (0-100) by linear interpolation between closest ranks."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def stats(values):
    return {
        "median": pct(values, 50),
        "p90": pct(values, 90),
        "p99": pct(values, 99),
        "max": max(values) if values else float("nan"),
        "min": min(values) if values else float("nan"),
    }


def fmt_stats(name, st, unit="ms"):
    return (
        f"  {name:<28} median {st['median']:8.2f}  p90 {st['p90']:8.2f}  "
        f"p99 {st['p99']:8.2f}  max {st['max']:8.2f}  min {st['min']:8.2f} {unit}"
    )


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])  # kB for Vm*, a count for Threads
    return out


def cpu_secs(pid):
    """User + system CPU time the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Machine:
    """An isolated HOME with its own XDG directories: one side of the approval."""

    def __init__(self, base, name):
        self.home = os.path.join(base, name)
        self.config = os.path.join(self.home, ".config")
        self.state = os.path.join(self.home, ".local", "state")
        for d in (self.config, self.state):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.home,
            "USER": name,
            "XDG_CONFIG_HOME": self.config,
            "XDG_STATE_HOME": self.state,
            "XDG_DATA_HOME": os.path.join(self.home, ".local", "share"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
            "GATEKEEP_KEYRING": "off",
            "LC_ALL": "C",
        }

    def run(self, args, **kw):
        """Runs gatekeep with no controlling terminal, in this machine's home."""
        return subprocess.run(
            args,
            env=self.env,
            cwd=self.home,
            start_new_session=True,
            capture_output=True,
            text=True,
            **kw,
        )


def login(binary, machine, role, url, thumbprint, token):
    """Logs the machine in to the service at `url`, pinning its signing key `thumbprint`."""
    r = machine.run([binary, "login", "--server", url, "--key", thumbprint], input=token + "\n")
    if r.returncode != 0:
        die(f"gatekeep login ({role}) failed (exit {r.returncode}):\n{r.stderr}"
            + ("\n(the credentials module is still a placeholder: wait for "
               "src/approval/credentials.rs and rebuild)" if r.stderr.strip().endswith("x") else ""))


def write_policy(machine):
    """Gives the machine the user rule under which `date` needs an approver (POLICY)."""
    policy_dir = os.path.join(machine.config, "gatekeep")
    os.makedirs(policy_dir, exist_ok=True)
    with open(os.path.join(policy_dir, "policy.toml"), "w") as f:
        f.write(POLICY)


class Server:
    def __init__(self, binary, data, log, config=None):
        self.log_path = log
        self.log = open(log, "wb")
        extra = ["--config", config] if config else []
        # One bench agent creates every request: the per-requester flood limits (120 a
        # minute, 50 pending) would refuse the load steps, which measure the service itself.
        limits = ["--max-pending", "1000000", "--max-creates-per-minute", "1000000"]
        self.proc = subprocess.Popen(
            [binary, "server", "--listen", "127.0.0.1:0", "--data", data, *limits, *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            start_new_session=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GATEKEEP_LOG": "warn"},
        )
        self.url = self.thumbprint = None
        deadline = time.time() + 30
        while time.time() < deadline:
            text = open(log, encoding="utf-8", errors="replace").read()
            m = re.search(r"listening on (http://\S+)", text)
            k = re.search(r"signing key (\S+)", text)
            if m and k:
                self.url, self.thumbprint = m.group(1), k.group(1)
                break
            if self.proc.poll() is not None:
                die(f"gatekeep server exited ({self.proc.returncode}):\n{text}")
            time.sleep(0.02)
        else:
            self.stop()
            die("gatekeep server did not print its address within 30 s")
        hostport = self.url.removeprefix("http://")
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        self.pid = self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def build(args):
    if args.bin:
        binary = os.path.abspath(args.bin)
    else:
        print("building: cargo build --release", file=sys.stderr)
        r = subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
        if r.returncode != 0:
            die("cargo build --release failed (pass --bin PATH to use an existing build)")
        binary = os.path.join(ROOT, "target", "release", "gatekeep")
    if not os.access(binary, os.X_OK):
        die(f"{binary} is not an executable")
    return binary


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft < want:
        # Inherited by the server: it holds one socket per waiting client.
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fsync_ms(directory, n=20):
    path = os.path.join(directory, "fsync-probe")
    times = []
    with open(path, "wb") as f:
        for _ in range(n):
            f.write(b"x" * 200 + b"\n")
            f.flush()
            t = time.perf_counter_ns()
            os.fdatasync(f.fileno())
            times.append((time.perf_counter_ns() - t) / 1e6)
    os.unlink(path)
    return stats(times)


# --- 1. decision-to-start ------------------------------------------------------------------

WAITING = re.compile(rb"waiting for approval of request (\S+)")


def read_until_waiting(proc, timeout):
    """Reads the exec's stderr until its `waiting for approval` line; returns (id, text)."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            m = WAITING.search(buf)
            if m:
                return m.group(1).decode(), buf
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                return None, buf
            chunk = os.read(proc.stderr.fileno(), 65536)
            if not chunk:
                return None, buf
            buf += chunk
    finally:
        sel.close()


def one_approval(binary, agent, approver, settle, approve=None):
    """Runs one `gatekeep exec -- date` on the agent and approves it. `approve(rid)`, when
    given, sends the approval instead of `gatekeep approve` on the approver machine
    (benches/replicas.py posts it to another replica than the agent's)."""
    t_exec = time.time_ns()
    proc = subprocess.Popen(
        [binary, "exec", "--", "date", "+%s%N"],
        env=agent.env,
        cwd=agent.home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        rid, err = read_until_waiting(proc, 30)
        t_waiting = time.time_ns()
        if rid is None:
            proc.kill()
            out, rest = proc.communicate()
            raise RuntimeError(
                f"exec did not wait for approval (exit {proc.returncode}):\n"
                f"{(err + rest).decode(errors='replace')}"
            )
        time.sleep(settle)
        t0 = time.time_ns()
        if approve is not None:
            approve(rid)
            t1 = time.time_ns()
        else:
            r = subprocess.run(
                [binary, "approve", rid],
                env=approver.env,
                cwd=approver.home,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                start_new_session=True,
            )
            t1 = time.time_ns()
            if r.returncode != 0:
                raise RuntimeError(
                    f"gatekeep approve {rid} failed:\n{r.stderr.decode(errors='replace')}")
        out, rest = proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(
                f"exec exited {proc.returncode}:\n{(err + rest).decode(errors='replace')}"
            )
        started = int(out.split()[0])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return {
        "id": rid,
        "started": started,
        "decision_to_start": (started - t1) / 1e6,
        "approve_to_start": (started - t0) / 1e6,
        "approve_cmd": (t1 - t0) / 1e6,
        "submit": (t_waiting - t_exec) / 1e6,
    }


def bench_latency(binary, agent, approver, n, warmup, settle):
    # The id printed on stderr must be the one approvers see.
    samples = []
    for i in range(warmup + n):
        s = one_approval(binary, agent, approver, settle)
        if i >= warmup:
            samples.append(s)
    return samples


def rfc3339_ns(text):
    t = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000) * 1_000_000


def ledger_breakdown(agent, samples):
    """Splits each approval with the agent's ledger (millisecond timestamps): the server's
    decision time (`approvers[].at`, taken before its commit), the client's `decision`
    record (verdict received and verified, before its fsync), and `date`'s start."""
    path = os.path.join(agent.state, "gatekeep", "ledger.jsonl")
    decisions = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("event") == "decision" and r.get("approvers"):
                decisions[r["id"]] = r
    server_to_client, client_to_start, server_to_start = [], [], []
    for s in samples:
        r = decisions.get(s["id"])
        if not r:
            continue
        at = rfc3339_ns(r["approvers"][0]["at"])
        rec = rfc3339_ns(r["time"])
        server_to_client.append((rec - at) / 1e6)
        client_to_start.append((s["started"] - rec) / 1e6)
        server_to_start.append((s["started"] - at) / 1e6)
    return server_to_start, server_to_client, client_to_start


def check_pending_lists(binary, agent, approver):
    """Once: the id in the client's stderr is the one `gatekeep pending --json` shows."""
    proc = subprocess.Popen(
        [binary, "exec", "--", "date", "+%s%N"],
        env=agent.env,
        cwd=agent.home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        rid, err = read_until_waiting(proc, 30)
        if rid is None:
            proc.kill()
            _, rest = proc.communicate()
            die(f"exec did not wait for approval:\n{(err + rest).decode(errors='replace')}")
        r = approver.run([binary, "pending", "--json"])
        if r.returncode != 0:
            die(f"gatekeep pending --json failed:\n{r.stderr}")
        ids = [x["id"] for x in json.loads(r.stdout)]
        if rid not in ids:
            die(f"request {rid} from the client's stderr is not in `gatekeep pending`: {ids}")
        approver.run([binary, "deny", rid, "--reason", "bench check"])
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- 2. create throughput --------------------------------------------------------------------


def create_body(i, prefix):
    return json.dumps(
        {
            "id": f"{prefix}-{i:06d}-{secrets.token_hex(4)}",
            "nonce": secrets.token_urlsafe(24),
            "command": f"date +%s  # bench {i}",
            "argv": ["date", "+%s"],
            "digest": secrets.token_hex(32),
            "origin": {"user": "bench", "host": "bench-host", "agent": "bench", "cwd": "/tmp"},
            "reason": "benchmark",
            "rules": ["bench"],
            "risk": "high",
            "quorum": 1,
            "groups": [],
            "timeout_secs": 600,
        }
    )


def http_workers(server, token, jobs, threads):
    """Runs jobs (method, path, body-or-None, expected statuses) over `threads` keep-alive
    connections. Returns (wall seconds, latencies ms, errors, responses, connections)."""
    chunks = [jobs[i::threads] for i in range(threads)]
    lat, errors, responses = [], [], []
    conns = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json",
               "x-gatekeep-channel": "bench"}

    def worker(chunk):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        socks = set()
        mine, bad, got = [], [], []
        barrier.wait()
        for method, path, body, ok in chunk:
            t = time.perf_counter_ns()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                bad.append(f"{method} {path}: {e!r}")
                conn.close()
                continue
            mine.append((time.perf_counter_ns() - t) / 1e6)
            socks.add(id(conn.sock))
            if resp.status not in ok:
                bad.append(f"{method} {path}: HTTP {resp.status} {data[:200]!r}")
            else:
                got.append(data)
        conn.close()
        with lock:
            lat.extend(mine)
            errors.extend(bad)
            responses.extend(got)
            conns[0] += len(socks)

    ts = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    return time.perf_counter() - t0, lat, errors, responses, conns[0]


def create_jobs(n, prefix):
    return [("POST", "/v1/requests", create_body(i, prefix), (201,)) for i in range(n)]


def ids_of(responses):
    return [json.loads(r)["id"] for r in responses]


# --- 3. memory with waiting clients ------------------------------------------------------------


def bench_waiters(server, token, n, threads):
    wall, _, errors, responses, _ = http_workers(server, token, create_jobs(n, "wait"), threads)
    if errors:
        die(f"creating the requests to wait on failed ({len(errors)}): {errors[:3]}")
    ids = ids_of(responses)
    time.sleep(1.5)  # let the allocator and SQLite settle after the creates
    before = proc_status(server.pid)
    # Reading every request once warms SQLite's page caches, which the polls would
    # otherwise fill: the difference from this baseline is closer to the connections' cost.
    _, _, gerrors, _, _ = http_workers(
        server, token, [("GET", f"/v1/requests/{i}", None, (200,)) for i in ids], threads)
    if gerrors:
        die(f"reading the requests back failed ({len(gerrors)}): {gerrors[:3]}")
    time.sleep(1.0)
    warm = proc_status(server.pid)
    fds_before = fd_count(server.pid)

    sel = selectors.DefaultSelector()
    conns = {}
    t_open = time.monotonic()
    for rid in ids:
        s = socket.create_connection((server.host, server.port), timeout=10)
        s.sendall(
            (
                f"GET /v1/requests/{rid}/wait?timeout=25 HTTP/1.1\r\n"
                f"Host: {server.host}:{server.port}\r\n"
                f"Authorization: Bearer {token}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
        )
        s.setblocking(False)
        conns[s.fileno()] = {"sock": s, "id": rid, "sent": time.monotonic(), "buf": b"",
                             "first": None, "done": None}
        sel.register(s, selectors.EVENT_READ)
    t_sent = time.monotonic()
    cpu_sent = cpu_secs(server.pid)
    cpu_held = None

    samples = []
    fds_held = None
    early = []
    last_sample = 0.0
    hold_deadline = t_sent + 45
    open_count = len(conns)
    while open_count and time.monotonic() < hold_deadline:
        now = time.monotonic()
        if now - last_sample >= 0.25:
            last_sample = now
            if all(c["first"] is None for c in conns.values()):
                cpu_held = (cpu_secs(server.pid) - cpu_sent, now - t_sent)
                st = proc_status(server.pid)
                st["t"] = now - t_sent
                samples.append(st)
                if fds_held is None and now - t_sent >= 2.0:
                    fds_held = fd_count(server.pid)
        for key, _ in sel.select(timeout=0.25):
            c = conns[key.fd]
            try:
                chunk = c["sock"].recv(65536)
            except BlockingIOError:
                continue
            t = time.monotonic()
            if c["first"] is None:
                c["first"] = t
                if t - c["sent"] < 24.0:
                    early.append(c)
            if chunk:
                c["buf"] += chunk
            else:
                c["done"] = t
                sel.unregister(c["sock"])
                c["sock"].close()
                open_count -= 1
    for c in conns.values():
        if c["done"] is None:
            sel.unregister(c["sock"])
            c["sock"].close()
    sel.close()
    after = proc_status(server.pid)

    held_ok = 0
    bad = []
    held_for = []
    for c in conns.values():
        head, _, body = c["buf"].partition(b"\r\n\r\n")
        status = head.split(b" ", 2)[1:2]
        try:
            state = json.loads(body).get("state")
        except ValueError:
            state = None
        if status == [b"200"] and state == "pending" and c["first"] and c["first"] - c["sent"] >= 24.0:
            held_ok += 1
            held_for.append(c["first"] - c["sent"])
        else:
            bad.append((c["id"], status, state, None if c["first"] is None else c["first"] - c["sent"],
                        c["buf"][:200]))
    return {
        "n": n,
        "create_wall": wall,
        "open_secs": t_sent - t_open,
        "before": before,
        "warm": warm,
        "cpu_held": cpu_held,
        "samples": samples,
        "after": after,
        "fds_before": fds_before,
        "fds_held": fds_held,
        "early": len(early),
        "held_ok": held_ok,
        "bad": bad,
        "held_for": held_for,
    }


# --- main ------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", help="gatekeep binary (default: build and use target/release/gatekeep)")
    ap.add_argument("--n", type=int, default=200, help="approvals to time (default 200)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed approvals first (default 5)")
    ap.add_argument("--settle", type=float, default=0.05,
                    help="seconds between the client's waiting line and approve (default 0.05)")
    ap.add_argument("--threads", type=int, default=8, help="HTTP client threads (default 8)")
    ap.add_argument("--creates", type=int, default=250, help="creates per thread (default 250)")
    ap.add_argument("--waiters", type=int, default=1000, help="concurrent long polls (default 1000)")
    ap.add_argument("--tmp", help="directory for the temporary homes and server data "
                                  "(default: the system temp dir; its fsync cost matters)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--server-config", help="a settings file for the server (e.g. with [slack] and "
                    "[[webhook]], to show that delivery stays off the decision path)")
    args = ap.parse_args()

    binary = build(args)
    nofile = raise_fd_limit(args.waiters + 1024)
    base = tempfile.mkdtemp(prefix="gatekeep-bench-", dir=args.tmp)
    server = None
    try:
        agent = Machine(base, "agent")
        approver = Machine(base, "approver")
        data = os.path.join(base, "server-data")
        server = Server(binary, data, os.path.join(base, "server.log"), args.server_config)
        print(f"server {server.url} (pid {server.pid}), data in {base}", file=sys.stderr)

        tokens = {}
        for role, flag, name in (("agent", "--agent", "bench-agent"),
                                 ("approver", "--approver", "bench-approver")):
            r = subprocess.run(
                [binary, "server", "token", "create", "--data", data, flag, name],
                capture_output=True, text=True, stdin=subprocess.DEVNULL,
            )
            if r.returncode != 0 or not r.stdout.strip():
                die(f"gatekeep server token create {flag} failed:\n{r.stderr}")
            tokens[role] = r.stdout.strip()
        for machine, role in ((agent, "agent"), (approver, "approver")):
            login(binary, machine, role, server.url, server.thumbprint, tokens[role])
        write_policy(agent)

        # Context: what a disk flush and a bare gatekeep process cost here.
        fs = fsync_ms(base)
        allowed = []
        for _ in range(30):
            t = time.perf_counter_ns()
            r = subprocess.run([binary, "exec", "--", "true"], env=agent.env, cwd=agent.home,
                               stdin=subprocess.DEVNULL, capture_output=True,
                               start_new_session=True)
            allowed.append((time.perf_counter_ns() - t) / 1e6)
            if r.returncode != 0:
                die(f"gatekeep exec -- true failed:\n{r.stderr.decode(errors='replace')}")

        # 1.
        check_pending_lists(binary, agent, approver)
        print(f"1. timing {args.n} approvals ...", file=sys.stderr)
        lat = bench_latency(binary, agent, approver, args.n, args.warmup, args.settle)
        d2s = stats([s["decision_to_start"] for s in lat])
        a2s = stats([s["approve_to_start"] for s in lat])
        acmd = stats([s["approve_cmd"] for s in lat])
        sub = stats([s["submit"] for s in lat])
        srv2start, srv2cli, cli2start = ledger_breakdown(agent, lat)

        # 2.
        total = args.threads * args.creates
        print(f"2. {total} creates over {args.threads} connections ...", file=sys.stderr)
        wall, clat, errors, responses, nconns = http_workers(
            server, tokens["agent"], create_jobs(total, "tput"), args.threads)
        if errors:
            die(f"{len(errors)} creates failed, e.g. {errors[:3]}")
        created = ids_of(responses)
        cancel_jobs = [("POST", f"/v1/requests/{i}/cancel", json.dumps({"reason": "bench"}), (200,))
                       for i in created]
        cwall, _, cerrors, _, _ = http_workers(server, tokens["agent"], cancel_jobs, args.threads)
        if cerrors:
            die(f"{len(cerrors)} cancels failed, e.g. {cerrors[:3]}")

        # 3.
        print(f"3. holding {args.waiters} long polls (about 30 s) ...", file=sys.stderr)
        w = bench_waiters(server, tokens["agent"], args.waiters, args.threads)
        server_limits = open(f"/proc/{server.pid}/limits").read()
        m = re.search(r"Max open files\s+(\d+)", server_limits)
        server_nofile = m.group(1) if m else "?"

        # --- report ---
        print()
        print(f"gatekeep approval service benchmark ({os.path.relpath(binary, ROOT)}, "
              f"{os.cpu_count()} CPUs, temp dir on {base})")
        print("context:")
        print(fmt_stats("fdatasync (temp dir)", fs))
        print(fmt_stats("exec -- true (allowed)", stats(allowed)))
        print(f"1. approvals: {args.n} timed after {args.warmup} warm-ups, "
              f"approve {args.settle * 1000:.0f} ms after the client's waiting line")
        print(fmt_stats("decision -> start", d2s))
        print(fmt_stats("approve start -> start", a2s))
        print(fmt_stats("approve command", acmd))
        print(fmt_stats("exec submit (to waiting)", sub))
        print(f"  split with the agent's ledger ({len(srv2start)} matched; 1 ms timestamps):")
        print(fmt_stats("server decision -> start", stats(srv2start)))
        print(fmt_stats("  server -> client verified", stats(srv2cli)))
        print(fmt_stats("  client verified -> start", stats(cli2start)))
        verdict = "within" if d2s["median"] < 20 else "OVER"
        print(f"  budget: median decision -> start {d2s['median']:.2f} ms, {verdict} the 20 ms budget")
        print(f"2. creates: {total} over {args.threads} threads in {wall:.2f} s, "
              f"{nconns} connections (keep-alive)")
        print(f"  {total / wall:8.0f} creates/s")
        print(fmt_stats("create latency", stats(clat)))
        print(f"  {len(created) / cwall:8.0f} cancels/s (cleanup of those requests)")
        b, s = w["before"], w["samples"]
        held_rss = max((x["VmRSS"] for x in s), default=float("nan"))
        held_hwm = max((x["VmHWM"] for x in s), default=float("nan"))
        threads_held = max((x["Threads"] for x in s), default=0)
        print(f"3. memory: {w['n']} long polls opened in {w['open_secs']:.2f} s; server fds "
              f"{w['fds_before']} -> {w['fds_held']} while held (limit {server_nofile}; "
              f"ours {nofile}); threads {b['Threads']} -> {threads_held}")
        print(f"  held to the 25 s timeout: {w['held_ok']}/{w['n']}  (answered early: {w['early']}, "
              f"other problems: {len(w['bad']) - w['early'] if w['bad'] else 0}); held "
              f"{min(w['held_for'], default=0):.2f}-{max(w['held_for'], default=0):.2f} s")
        for x in w["bad"][:5]:
            print(f"    not held: {x}")
        print(f"  VmRSS before {b['VmRSS'] / 1024:7.1f} MB  held {held_rss / 1024:7.1f} MB  "
              f"(+{(held_rss - b['VmRSS']) / 1024:.1f} MB, "
              f"{(held_rss - b['VmRSS']) / w['n']:.1f} KB per waiting client)")
        wm = w["warm"]
        print(f"  VmRSS after reading every request once {wm['VmRSS'] / 1024:7.1f} MB  "
              f"(+{(held_rss - wm['VmRSS']) / 1024:.1f} MB held, "
              f"{(held_rss - wm['VmRSS']) / w['n']:.1f} KB per waiting client from there)")
        print(f"  VmRSS after the polls answered {w['after']['VmRSS'] / 1024:7.1f} MB")
        print(f"  VmHWM before {b['VmHWM'] / 1024:7.1f} MB  held {held_hwm / 1024:7.1f} MB  "
              f"after {w['after']['VmHWM'] / 1024:7.1f} MB")
        if w["cpu_held"]:
            cpu, secs = w["cpu_held"]
            print(f"  server CPU while {w['n']} polls were held: {cpu:.2f} s in {secs:.1f} s "
                  f"({100 * cpu / secs:.1f}% of a core)")
        print()
        print("summary")
        print(f"  {'metric':<44} {'value':>12}")
        rows = [
            ("decision -> start median / p90 (ms)", f"{d2s['median']:.1f} / {d2s['p90']:.1f}"),
            ("decision -> start p99 / max (ms)", f"{d2s['p99']:.1f} / {d2s['max']:.1f}"),
            ("approve command median / p99 (ms)", f"{acmd['median']:.1f} / {acmd['p99']:.1f}"),
            ("creates/s (8 keep-alive threads)" if args.threads == 8 else
             f"creates/s ({args.threads} keep-alive threads)", f"{total / wall:.0f}"),
            (f"server RSS idle -> {w['n']} waiting (MB)",
             f"{b['VmRSS'] / 1024:.1f} -> {held_rss / 1024:.1f}"),
            ("per waiting client (KB)", f"{(held_rss - b['VmRSS']) / w['n']:.1f}"),
            ("server VmHWM (MB)", f"{held_hwm / 1024:.1f}"),
            ("long polls held to timeout", f"{w['held_ok']}/{w['n']}"),
        ]
        for k, v in rows:
            print(f"  {k:<44} {v:>12}")
        if w["held_ok"] != w["n"]:
            print("warning: not every long poll was held to its timeout", file=sys.stderr)
    finally:
        if server:
            server.stop()
        if args.keep:
            print(f"kept {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
