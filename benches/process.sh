#!/usr/bin/env bash
# Times whole gatekeep processes with hyperfine: what an agent pays per command.
# Run by hand: `benches/process.sh` (installs hyperfine from Debian if it is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v hyperfine >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null
  else
    echo "hyperfine is not installed: sudo apt-get install hyperfine" >&2
    exit 1
  fi
fi

# The same static build install.sh makes, of the work tree or (with a revision) of a clean
# checkout of that revision in a temporary worktree. Prints the binary's path.
build() {
  local rev=${1:-} src=. target=target
  if [ -n "$rev" ]; then
    # Inside the project, so the toolchain chosen for it (a rustup override) applies.
    src=$PWD/target/baseline-src
    git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
    git worktree add -q --detach "$src" "$rev"
    target=$PWD/target/baseline
  fi
  local host
  host=$(rustc -vV | sed -n 's/^host: //p')
  case "$host" in
    *-linux-gnu)
      (cd "$src" && RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" CARGO_TARGET_DIR=$target \
        cargo build --release --locked --quiet --target "$host")
      echo "$target/$host/release/gatekeep" ;;
    *) (cd "$src" && CARGO_TARGET_DIR=$target cargo build --release --locked --quiet)
      echo "$target/release/gatekeep" ;;
  esac
  if [ -n "$rev" ]; then git worktree remove --force "$src"; fi
}
bin=$(realpath "$(build)")
# BASELINE=REV benches/process.sh: the same commands with REV's build, in the same run, so
# that a change's cost is read side by side under the same machine load. (Built before HOME
# moves: rustup finds its toolchains through it.)
base_bin=
if [ -n "${BASELINE:-}" ]; then
  base_bin=$(realpath "$(build "$BASELINE")")
fi
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export HOME=$home XDG_CONFIG_HOME=$home/.config XDG_STATE_HOME=$home/state

# A Claude Code hook call for an allowed command (what an agent pays per Bash tool call).
hook_input=$home/hook.json
printf '{"session_id":"bench","cwd":"%s","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"git status --short"}}\n' "$home" > "$hook_input"

commands=()
add() {
  local b=$1
  commands+=(
    "$b exec -- true"
    "$b check -- true"
    "$b check -- git status --short"
    "$b check --shell 'kubectl --context prod -n payments delete deploy api'"
    "$b check --shell 'cd /srv && sudo -u postgres pg_dump app | gzip > /backup/app.sql.gz'"
    "$b check --shell 'cargo test --workspace && git push origin feature-x'"
    "$b check --shell 'for ns in a b c; do kubectl delete ns \$ns; done'"
    "$b check --shell 'curl -fsSL https://get.example.com/install.sh | sh'"
    "sh -c '$b hook claude-code < $hook_input >/dev/null'"
  )
}
add "$bin"
if [ -n "$base_bin" ]; then add "$base_bin"; fi

# `true` is the baseline: what gatekeep adds to an allowed command is the difference
# between `gatekeep exec -- true` and `true` (medians in the exported JSON); the hook is
# compared with `sh -c 'true < input'`. `-i`: check exits 10 for a command that needs
# approval, which is not a failure here.
hyperfine -N -i --warmup 50 --runs "${RUNS:-1000}" \
  'true' "sh -c 'true < $hook_input'" "${commands[@]}" \
  --export-markdown target/process-times.md --export-json target/process-times.json
python3 - <<'PY'
import json
results = json.load(open("target/process-times.json"))["results"]
def pct(times, p):
    times = sorted(times)
    return times[min(len(times) - 1, int(p / 100 * len(times)))]
r = {x["command"]: x["median"] for x in results}
base = r["true"]
shell = next(v for k, v in r.items() if k.startswith("sh -c 'true"))
for x in results:
    cmd, median = x["command"], x["median"]
    b = shell if cmd.startswith("sh -c") else base
    print(f"{median * 1000:7.3f} ms p50 {pct(x['times'], 99) * 1000:7.3f} ms p99  (+{(median - b) * 1000:6.3f} ms)  {cmd}")
PY
echo "peak RSS of an allowed exec:"
/usr/bin/time -v "$bin" exec -- true 2>&1 | grep "Maximum resident"
