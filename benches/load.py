#!/usr/bin/env python3
"""Holds the approval service under a connection flood and a create flood, and times an
approval meanwhile (Python 3 stdlib only). Run through benches/load.sh, which builds the
release binary first:

    benches/load.sh [--sockets 20000] [--rounds 20] [--server-flag=--header-timeout=10 ...]

Everything is on loopback: one `gatekeep server --listen 127.0.0.1:0` with default limits
(plus any --server-flag) in a temporary directory, removed at the end.

1. Idle sockets: --holders helper processes (this script, `hold` mode) open --sockets TCP
   connections between them from 127.0.0.2..127.0.0.9 (several processes, because one may
   hold at most its hard open-file limit; several addresses, because the service caps
   connections per address) and send nothing. When the service closes one (header
   timeout, or its 503 past the cap) the holder opens another, so the service faces
   --sockets silent connections for the whole run. Counted: connections open (client side,
   sampled), 503 answers, closes without an answer, connect errors.
2. A create flood: --flood-threads keep-alive connections from 127.0.0.1 POST creates with
   one requester token as fast as they are answered. Counted per status (201 / 429 / ...).
3. Meanwhile, --rounds approvals by a second requester: `gatekeep exec -- date +%s%N` waits
   on the service; once its long poll is parked, an approver POSTs /approve straight over
   HTTP; latency = `date`'s own timestamp minus the wall clock just before the POST
   (approve -> command start).
4. Meanwhile, /healthz on a fresh connection from 127.0.0.1 every 0.25 s (latency, failures),
   and the server's VmRSS and open descriptors from /proc every 0.5 s.

The run is bounded: --seconds of flood at least (default 40), and --rounds approvals, each
given 60 s at most.
"""

import argparse
import errno
import http.client
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from service import Machine, die, fd_count, proc_status, read_until_waiting, stats  # noqa: E402

POLICY = """\
# Written by benches/load.py: `date` needs an approver through the service.
[[rule]]
id = "load"
decision = "approve"
risk = "high"
message = "load"
program = ["date"]
local_approval = false
timeout = 120
"""


# --- holder mode -------------------------------------------------------------------------

def hold(args):
    """Keeps args.count silent connections open to 127.0.0.1:args.port from the addresses
    in args.addrs, reopening those the server closes; writes a JSON stats line to args.out
    every half second until args.seconds have passed."""
    addrs = args.addrs.split(",")
    sel = selectors.DefaultSelector()
    counts = {"open": 0, "connecting": 0, "opened": 0, "refused_503": 0,
              "closed_silent": 0, "connect_errors": 0, "peak_open": 0}
    pending = [(slot, 0.0) for slot in range(args.count)]  # (slot, not before), to (re)open
    socks = {}

    def reopen(slot):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((addrs[slot % len(addrs)], 0))
            rc = s.connect_ex(("127.0.0.1", args.port))
        except OSError:
            rc = -1
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            counts["connect_errors"] += 1
            return False
        # Counted open once the handshake completes (writable), not while the SYN waits in
        # a full accept queue.
        sel.register(s, selectors.EVENT_WRITE, slot)
        socks[slot] = s
        counts["connecting"] += 1
        return True

    end = time.monotonic() + args.seconds
    next_report = 0.0
    while time.monotonic() < end:
        # Reopen in batches, so that a refusing server is not hammered in a tight loop.
        # A closed slot waits half a second: this measures held sockets, not a SYN flood.
        now = time.monotonic()
        due = [p for p in pending if p[1] <= now][:200]
        if due:
            taken = {slot for slot, _ in due}
            pending = [p for p in pending if p[0] not in taken]
            for slot, _ in due:
                if not reopen(slot):
                    pending.append((slot, now + 0.5))
        for key, events in sel.select(timeout=0.05):
            s, slot = key.fileobj, key.data
            if key.events == selectors.EVENT_WRITE:
                counts["connecting"] -= 1
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    sel.modify(s, selectors.EVENT_READ, slot)
                    counts["open"] += 1
                    counts["opened"] += 1
                    counts["peak_open"] = max(counts["peak_open"], counts["open"])
                    continue
                counts["connect_errors"] += 1
            else:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if data.startswith(b"HTTP/1.1 503"):
                    counts["refused_503"] += 1
                elif not data:
                    counts["closed_silent"] += 1
                else:
                    continue  # more of a 503 already counted
                counts["open"] -= 1
            sel.unregister(s)
            s.close()
            del socks[slot]
            pending.append((slot, time.monotonic() + 0.5))
        now = time.monotonic()
        if now >= next_report:
            next_report = now + 0.5
            with open(args.out, "a") as f:
                f.write(json.dumps(counts) + "\n")
    with open(args.out, "a") as f:
        f.write(json.dumps(counts) + "\n")
    for s in socks.values():
        s.close()


def last_stats(path):
    try:
        with open(path) as f:
            lines = f.read().splitlines()
        return json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}


# --- the run -----------------------------------------------------------------------------

class Server:
    def __init__(self, binary, data, log, flags):
        self.log_path = log
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(
            [binary, "server", "--listen", "127.0.0.1:0", "--data", data, *flags],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log,
            start_new_session=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GATEKEEP_LOG": "info"},
        )
        deadline = time.time() + 30
        self.url = self.thumbprint = None
        while time.time() < deadline and not (self.url and self.thumbprint):
            for line in open(log, encoding="utf-8", errors="replace"):
                if line.startswith("gatekeep server: listening on "):
                    self.url = line.split()[-1]
                if line.startswith("gatekeep server: signing key "):
                    self.thumbprint = line.split()[-1]
            if self.proc.poll() is not None:
                die(f"gatekeep server exited ({self.proc.returncode}):\n{open(log).read()}")
            time.sleep(0.02)
        if not self.url:
            self.stop()
            die("gatekeep server did not start within 30 s")
        self.port = int(self.url.rsplit(":", 1)[1])
        self.pid = self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def token(binary, data, *flags):
    r = subprocess.run([binary, "server", "token", "create", "--data", data, *flags],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0 or not r.stdout.strip():
        die(f"token create {flags} failed:\n{r.stderr}")
    return r.stdout.strip()


def create_body(i, prefix):
    return json.dumps({
        "id": f"{prefix}-{i:07d}", "nonce": f"nonce-{prefix}-{i:07d}-0123456789",
        "argv": ["date", "+%s"], "digest": "ab" * 32,
        "origin": {"user": "flood", "host": "flood-host", "agent": "flood", "cwd": "/tmp"},
        "reason": "load", "rules": ["load"], "risk": "high", "quorum": 1,
        "groups": [], "timeout_secs": 60,
    })


def flood(server, tok, stop, out, n):
    """One keep-alive connection POSTing creates until `stop`; counts statuses."""
    headers = {"authorization": f"Bearer {tok}", "content-type": "application/json"}
    conn = None
    i = 0
    while not stop.is_set():
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        i += 1
        try:
            conn.request("POST", "/v1/requests", body=create_body(i, f"flood{n}"), headers=headers)
            resp = conn.getresponse()
            resp.read()
            key = str(resp.status)
            if resp.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            key = type(e).__name__
            conn.close()
            conn = None
            time.sleep(0.05)
        out[key] = out.get(key, 0) + 1


def healthz_probe(server, stop, lat, failures):
    while not stop.is_set():
        t = time.perf_counter_ns()
        try:
            c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                lat.append((time.perf_counter_ns() - t) / 1e6)
            else:
                failures.append(f"HTTP {r.status}")
        except (OSError, http.client.HTTPException) as e:
            failures.append(repr(e))
        stop.wait(0.25)


def sampler(server, stop, samples):
    while not stop.is_set():
        try:
            st = proc_status(server.pid)
            samples.append({"rss_kb": st["VmRSS"], "hwm_kb": st["VmHWM"],
                            "fds": fd_count(server.pid), "t": time.monotonic()})
        except OSError:
            pass
        stop.wait(0.5)


def one_round(binary, agent, server, approver_token, i, settle):
    proc = subprocess.Popen([binary, "exec", "--", "date", "+%s%N"], env=agent.env,
                            cwd=agent.home, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        rid, err = read_until_waiting(proc, 60)
        if rid is None:
            proc.kill()
            _, rest = proc.communicate()
            raise RuntimeError(f"round {i}: exec did not wait:\n{(err + rest).decode(errors='replace')}")
        time.sleep(settle)
        # An approver whose connection is refused (503) or closed retries, as a person would;
        # the latency counts from the attempt that got through, the retries are reported.
        retries = 0
        give_up = time.monotonic() + 30
        while True:
            t0 = time.time_ns()
            try:
                c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                c.request("POST", f"/v1/requests/{rid}/approve", body="{}",
                          headers={"authorization": f"Bearer {approver_token}",
                                   "content-type": "application/json"})
                r = c.getresponse()
                r.read()
                c.close()
                status = r.status
            except (OSError, http.client.HTTPException) as e:
                status = repr(e)
            if status == 200:
                break
            retries += 1
            if time.monotonic() > give_up:
                raise RuntimeError(f"round {i}: approve kept failing ({status})")
            time.sleep(0.1)
        out, rest = proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"round {i}: exec exited {proc.returncode}:\n{(err + rest).decode(errors='replace')}")
        return (int(out.split()[0]) - t0) / 1e6, retries
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def run(args):
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        die(f"{binary} is not an executable (benches/load.sh builds it)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the holders
    per_holder = -(-args.sockets // args.holders)
    if per_holder + 64 > hard:
        die(f"{per_holder} sockets per holder exceed the open-file limit {hard}: pass more --holders")
    base = tempfile.mkdtemp(prefix="gatekeep-load-", dir=args.tmp)
    server, holders, threads = None, [], []
    stop = threading.Event()
    try:
        data = os.path.join(base, "server-data")
        server = Server(binary, data, os.path.join(base, "server.log"), args.server_flag)
        flood_token = token(binary, data, "--agent", "flooder")
        agent_token = token(binary, data, "--agent", "second-agent")
        approver_token = token(binary, data, "--approver", "approver")
        agent = Machine(base, "agent")
        r = agent.run([binary, "login", "--server", server.url, "--key", server.thumbprint],
                      input=agent_token + "\n")
        if r.returncode != 0:
            die(f"login failed:\n{r.stderr}")
        os.makedirs(os.path.join(agent.config, "gatekeep"), exist_ok=True)
        with open(os.path.join(agent.config, "gatekeep", "policy.toml"), "w") as f:
            f.write(POLICY)
        log = open(server.log_path).read()
        print(f"server pid {server.pid} at {server.url}; {log.splitlines()[-1] if log else ''}",
              file=sys.stderr)

        # 1. the idle sockets
        addrs = [f"127.0.0.{h}" for h in range(2, 10)]
        hold_secs = args.seconds + args.rounds * 5 + 30
        for h in range(args.holders):
            mine = addrs[h::args.holders] if args.holders <= len(addrs) else [addrs[h % len(addrs)]]
            out = os.path.join(base, f"holder-{h}.jsonl")
            count = min(per_holder, args.sockets - h * per_holder)
            holders.append((out, subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "hold", "--port", str(server.port),
                 "--addrs", ",".join(mine), "--count", str(count),
                 "--seconds", str(hold_secs), "--out", out],
                stdin=subprocess.DEVNULL, start_new_session=True)))
        samples = []
        threads.append(threading.Thread(target=sampler, args=(server, stop, samples), daemon=True))
        threads[-1].start()
        ramp_end = time.monotonic() + 20
        while time.monotonic() < ramp_end:
            opened = sum(last_stats(o).get("open", 0) for o, _ in holders)
            if opened >= args.sockets:
                break
            time.sleep(0.25)
        print(f"idle sockets open: {opened} of {args.sockets}", file=sys.stderr)

        # 2. and 4.
        statuses = [dict() for _ in range(args.flood_threads)]
        hz_lat, hz_fail = [], []
        t_flood = time.monotonic()
        for n in range(args.flood_threads):
            threads.append(threading.Thread(target=flood, args=(server, flood_token, stop, statuses[n], n),
                                            daemon=True))
        threads.append(threading.Thread(target=healthz_probe, args=(server, stop, hz_lat, hz_fail),
                                        daemon=True))
        for t in threads[1:]:
            t.start()

        # 3.
        latencies, failures, approve_retries = [], [], 0
        for i in range(args.rounds):
            try:
                latency, retries = one_round(binary, agent, server, approver_token, i, args.settle)
                latencies.append(latency)
                approve_retries += retries
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                failures.append(str(e))
        while time.monotonic() - t_flood < args.seconds:
            time.sleep(0.25)
        flood_secs = time.monotonic() - t_flood
        held = [sum(last_stats(o).get("open", 0) for o, _ in holders)]
        stop.set()
        for t in threads:
            t.join(timeout=15)
        for _, p in holders:
            p.send_signal(signal.SIGTERM)
        for _, p in holders:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        hs = [last_stats(o) for o, _ in holders]
        alive = server.proc.poll() is None
        server_log = open(server.log_path, encoding="utf-8", errors="replace").read()
        server.stop()

        # report
        total = {}
        for s in statuses:
            for k, v in s.items():
                total[k] = total.get(k, 0) + v
        answered = sum(total.values())
        cores = os.cpu_count()
        print(f"\nmachine: {cores} cores ({os.uname().release}), open-file limit {soft}/{hard}; "
              f"server flags: {' '.join(args.server_flag) or '(defaults)'}")
        print(f"server alive at the end: {alive}; "
              f"'Too many open files' in its log: {'Too many open files' in server_log}; "
              f"sweep failures: {server_log.count('expiry sweep failed')}")
        def hsum(k):
            return sum(h.get(k, 0) for h in hs)
        print(f"idle sockets: {args.sockets} held by {args.holders} processes from {len(addrs)} addresses; "
              f"open at the end {held[0]}, peak {hsum('peak_open')}; over the run: opened {hsum('opened')}, "
              f"answered 503 {hsum('refused_503')}, closed by the server without an answer "
              f"{hsum('closed_silent')}, connect errors {hsum('connect_errors')}")
        if samples:
            print(f"server: VmRSS max {max(s['rss_kb'] for s in samples) / 1024:.1f} MB "
                  f"(VmHWM {samples[-1]['hwm_kb'] / 1024:.1f} MB), open descriptors max "
                  f"{max(s['fds'] for s in samples)}, at the end {samples[-1]['fds']}")
        print(f"create flood: {args.flood_threads} connections, {answered} answers in {flood_secs:.1f} s "
              f"({answered / flood_secs:.0f}/s): " + ", ".join(f"{k}: {v}" for k, v in sorted(total.items())))
        if latencies:
            st = stats(latencies)
            print(f"approve -> command start ({len(latencies)} of {args.rounds} rounds): "
                  f"p50 {st['median']:.1f} ms, p99 {st['p99']:.1f} ms, max {st['max']:.1f} ms; "
                  f"approve attempts refused or cut before one got through: {approve_retries}")
        for f in failures[:5]:
            print(f"  round failed: {f}")
        if hz_lat:
            st = stats(hz_lat)
            print(f"healthz ({len(hz_lat)} probes, {len(hz_fail)} failed): p50 {st['median']:.1f} ms, "
                  f"p99 {st['p99']:.1f} ms, max {st['max']:.1f} ms")
        for f in hz_fail[:3]:
            print(f"  healthz failed: {f}")
        return 0 if alive and not failures else 1
    finally:
        stop.set()
        for _, p in holders:
            if p.poll() is None:
                p.kill()
                p.wait()
        if server:
            server.stop()
        if args.keep:
            print(f"kept {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "hold":
        ap = argparse.ArgumentParser(prog="load.py hold")
        ap.add_argument("--port", type=int, required=True)
        ap.add_argument("--addrs", required=True)
        ap.add_argument("--count", type=int, required=True)
        ap.add_argument("--seconds", type=float, required=True)
        ap.add_argument("--out", required=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        return hold(ap.parse_args(sys.argv[2:]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the gatekeep binary (load.sh passes the release build)")
    ap.add_argument("--sockets", type=int, default=20000, help="idle sockets to hold (default 20000)")
    ap.add_argument("--holders", type=int, default=4, help="processes holding them (default 4)")
    ap.add_argument("--flood-threads", type=int, default=4, help="create-flood connections (default 4)")
    ap.add_argument("--rounds", type=int, default=20, help="approvals to time (default 20)")
    ap.add_argument("--settle", type=float, default=0.2, help="seconds between waiting and approve")
    ap.add_argument("--seconds", type=int, default=40, help="least flood duration (default 40)")
    ap.add_argument("--server-flag", action="append", default=[],
                    help="extra `gatekeep server` flag, e.g. --server-flag=--header-timeout=30")
    ap.add_argument("--tmp", help="directory for the temporary data (default: system temp)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    sys.exit(run(ap.parse_args()))


if __name__ == "__main__":
    main()
