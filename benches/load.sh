#!/bin/sh
# The approval service under abuse, measured: 20,000 idle sockets, a create flood from one
# requester token, and a second requester's approval timed meanwhile; all on loopback, in a
# temporary directory that is removed at the end. Not run by CI (it takes about a minute and
# all of the machine). Options go to benches/load.py (see its header), e.g.
#
#   benches/load.sh --sockets 20000 --rounds 20 --server-flag=--header-timeout=30
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec python3 benches/load.py --bin "${CARGO_TARGET_DIR:-target}/release/gatekeep" "$@"
