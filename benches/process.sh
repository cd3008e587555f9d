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

# The same static build install.sh makes.
host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
  *-linux-gnu)
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" cargo build --release --locked --quiet --target "$host"
    bin="target/$host/release/gatekeep" ;;
  *) cargo build --release --locked --quiet; bin=target/release/gatekeep ;;
esac
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export HOME=$home XDG_CONFIG_HOME=$home/.config

# `true` is the baseline: what gatekeep adds to an allowed command is the difference
# between `gatekeep exec -- true` and `true` (medians in the exported JSON). `-i`: check exits
# 10 for a command that needs approval, which is not a failure here.
hyperfine -N -i --warmup 50 --runs 1000 \
  'true' \
  "$bin exec -- true" \
  "$bin check -- true" \
  "$bin check -- git status --short" \
  "$bin check --shell 'kubectl --context prod -n payments delete deploy api'" \
  "$bin check --shell 'cd /srv && sudo -u postgres pg_dump app | gzip > /backup/app.sql.gz'" \
  --export-markdown target/process-times.md --export-json target/process-times.json
python3 - <<'PY'
import json
r = {x["command"]: x["median"] for x in json.load(open("target/process-times.json"))["results"]}
base = r["true"]
for cmd, median in r.items():
    print(f"{median * 1000:7.3f} ms median  (+{(median - base) * 1000:6.3f} ms)  {cmd}")
PY
echo "peak RSS of an allowed exec:"
/usr/bin/time -v "$bin" exec -- true 2>&1 | grep "Maximum resident"
