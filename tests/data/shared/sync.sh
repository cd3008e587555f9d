#!/bin/sh
# Copies the shared command corpus (../shared/corpus/commands.jsonl, beside the project)
# into tests/data/shared/, so that `cargo test` passes in a plain clone of the project.
# Run it (tests/data/shared/sync.sh) when ../shared changes; tests/it/corpus.rs checks that the copy still matches.
set -eu
cd "$(dirname "$0")/../../.."
src=../shared/corpus/commands.jsonl
[ -f "$src" ] || { echo "sync-shared: $src not found (run from a checkout with ../shared beside it)" >&2; exit 1; }
mkdir -p tests/data/shared
cp "$src" tests/data/shared/commands.jsonl
echo "copied $src to tests/data/shared/commands.jsonl"
