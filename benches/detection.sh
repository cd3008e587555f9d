#!/usr/bin/env bash
# Detection figures: classifies every line of the shared corpus and of the case tables
# (tests/data/shared/commands.jsonl, tests/data/cases.jsonl, tests/data/cases/*.jsonl) as the
# corpus test does (built-in policy, nothing run, no host), under `default_unknown = "allow"`
# (the default) and `"approve"` (set by a system layer), and prints per set: dangerous lines
# caught (escalated or denied) of all dangerous lines, and benign lines over-blocked of all
# benign lines. In-process, so it takes seconds, not a process per line.
#
# Usage: benches/detection.sh            the table
#        DETAIL=1 benches/detection.sh   also each missed and over-blocked line (stderr)
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --locked --quiet --test it r3_lists::detection_figures -- \
  --ignored --exact --nocapture
