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

cargo build --release --quiet
bin=target/release/gatekeep
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export HOME=$home XDG_CONFIG_HOME=$home/.config

hyperfine --shell=none --warmup 20 --runs 300 -N \
  '/bin/true' \
  "$bin check -- true" \
  "$bin check -- git status --short" \
  "$bin check --shell 'kubectl --context prod -n payments delete deploy api'" \
  "$bin check --shell 'cd /srv && sudo -u postgres pg_dump app | gzip > /backup/app.sql.gz'" \
  --export-markdown target/process-times.md
echo "results: target/process-times.md"
