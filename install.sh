#!/usr/bin/env bash
# Installs gatekeep: builds a release binary with cargo and copies it to $PREFIX/bin
# (default ~/.local/bin). Safe to run again: it replaces what it installed before.
set -euo pipefail
cd "$(dirname "$0")"

PREFIX=${PREFIX:-$HOME/.local}

if ! command -v cargo >/dev/null; then
  if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  else
    echo "install.sh: cargo is not installed; install Rust from https://rustup.rs first" >&2
    exit 1
  fi
fi

echo "building gatekeep (release)..."
cargo build --release --locked --quiet
install -d "$PREFIX/bin"
install -m 0755 target/release/gatekeep "$PREFIX/bin/gatekeep"
echo "installed $PREFIX/bin/gatekeep ($("$PREFIX/bin/gatekeep" --version))"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "note: $PREFIX/bin is not on your PATH; add it, e.g. export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac
echo "to uninstall: rm $PREFIX/bin/gatekeep"
