#!/usr/bin/env python3
"""Runs one `run_shell` tool call (tool.json) through gatekeep and prints the tool result.

An OpenAI-style agent loop calls this with the call's JSON arguments on stdin, e.g.
{"command": "pytest -q", "reason": "run the tests"}, and sends what it prints back to the
model as the tool's output. The command's own stdout and stderr are kept apart from
gatekeep's verdict, which arrives on a separate descriptor (`--result-fd`).
"""
import json
import os
import subprocess
import sys


def run_shell(command, reason=None, gatekeep=os.environ.get("GATEKEEP", "gatekeep")):
    read_end, write_end = os.pipe()
    args = [gatekeep, "exec", "--result-fd", str(write_end), "--agent", "openai-function-tool"]
    if reason:
        args += ["--reason", reason]
    args += ["--shell", command]
    proc = subprocess.run(args, capture_output=True, text=True, pass_fds=(write_end,))
    os.close(write_end)
    with os.fdopen(read_end) as verdict:
        result = json.loads(verdict.read() or "{}")
    output = {
        "exit_code": proc.returncode,
        "stdout": proc.stdout,
        "stderr": proc.stderr,
        "gatekeep": {k: result.get(k) for k in ("outcome", "decision", "rules", "decided_by", "id", "message", "next_step")},
    }
    return output


if __name__ == "__main__":
    call = json.load(sys.stdin)
    print(json.dumps(run_shell(call["command"], call.get("reason"))))
