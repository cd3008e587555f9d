#!/bin/sh
# Copies the shared command corpus (../shared/corpus/commands.jsonl, beside the project)
# into tests/data/shared/, so that `cargo test` passes in a plain clone of the project.
# Run it (tests/data/shared/sync.sh) when ../shared changes; tests/it/corpus.rs checks that
# the copy begins with it. Lines the copy has beyond an older ../shared (the cases this
# project contributed) are kept after it.
set -eu
cd "$(dirname "$0")/../../.."
src=../shared/corpus/commands.jsonl
dst=tests/data/shared/commands.jsonl
[ -f "$src" ] || { echo "sync-shared: $src not found (run from a checkout with ../shared beside it)" >&2; exit 1; }
mkdir -p tests/data/shared
tmp=$(mktemp)
cp "$src" "$tmp"
# Our own additions: lines of the copy that ../shared does not hold.
[ -f "$dst" ] && grep -vxF -f "$src" "$dst" >> "$tmp" || true
chmod 644 "$tmp"
mv "$tmp" "$dst"
echo "copied $src to $dst"
