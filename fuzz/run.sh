#!/usr/bin/env bash
# Fuzzes each gatekeep target for SECONDS (default 300) and merges the inputs that add
# coverage into the committed corpus (fuzz/corpus/<target>/). Run by hand, not in CI; the
# stable test suite replays the corpus (tests/fuzz_corpus.rs).
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Only a stable toolchain is needed: cargo-fuzz needs nightly features, which RUSTC_BOOTSTRAP=1
# unlocks for this build alone (never for the main build). `--sanitizer none`: the code under
# test has no `unsafe` outside src/exec.rs (not fuzzed), and AddressSanitizer against a stable,
# uninstrumented std only costs speed here. Crashes land in fuzz/artifacts/<target>/: copy
# one into fuzz/regressions/<target>/ once fixed (or as `known-NAME` until it is).
set -euo pipefail

seconds="${1:-300}"
shift || true
cd "$(dirname "$0")"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(shell_classify policy_load verdict_verify server_bodies)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# cargo-fuzz reads the lock file beside its manifest: the main one pins the same versions.
cp ../Cargo.lock Cargo.lock

cargo fuzz build --sanitizer none
for target in "${targets[@]}"; do
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    cp -r "corpus/$target/." "$work/"
    echo "== $target: ${seconds}s" >&2
    # -timeout: an input slower than 10 s is a hang (the parser's backtracking was one).
    # -rss_limit_mb: a policy or command line that eats memory is a finding too.
    cargo fuzz run --sanitizer none "$target" "$work" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1024 \
        -print_final_stats=1
    # Keep only what adds coverage to the committed corpus (-max_len keeps it small: the
    # corpus is committed, and tests/fuzz_corpus.rs holds it under 2 MB).
    cargo fuzz run --sanitizer none "$target" "corpus/$target" "$work" -- -merge=1
    rm -rf "$work"
    trap - EXIT
done
