#!/usr/bin/env bash
# Installs gatekeep: builds a release binary with cargo and installs it under $PREFIX
# (default ~/.local): the binary in bin/, man pages in share/man/man1/, and completions for
# bash, zsh and fish. Safe to run again: it replaces what it installed before.
set -euo pipefail
cd "$(dirname "$0")"

PREFIX=${PREFIX:-$HOME/.local}
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
CONFIG=${XDG_CONFIG_HOME:-$HOME/.config}

if ! command -v cargo >/dev/null; then
  if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  else
    echo "install.sh: cargo is not installed; install Rust from https://rustup.rs first" >&2
    exit 1
  fi
fi

# On glibc Linux, link statically: a static binary starts about 0.4 ms faster, and start-up
# is most of what gatekeep adds to an allowed command. (The explicit --target keeps the
# static flag off build scripts and proc-macros.)
host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
  *-linux-gnu)
    echo "building gatekeep (release, static, $host)..."
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" cargo build --release --locked --quiet --target "$host"
    bin="target/$host/release/gatekeep"
    ;;
  *)
    echo "building gatekeep (release)..."
    cargo build --release --locked --quiet
    bin="target/release/gatekeep"
    ;;
esac

installed=()
put() { # put MODE SOURCE DEST
  install -d "$(dirname "$3")"
  install -m "$1" "$2" "$3"
  installed+=("$3")
}
put 0755 "$bin" "$PREFIX/bin/gatekeep"
for page in man/*.1; do
  put 0644 "$page" "$PREFIX/share/man/man1/$(basename "$page")"
done
put 0644 completions/gatekeep.bash "$DATA/bash-completion/completions/gatekeep"
put 0644 completions/_gatekeep "$DATA/zsh/site-functions/_gatekeep"
put 0644 completions/gatekeep.fish "$CONFIG/fish/completions/gatekeep.fish"

echo "installed $("$PREFIX/bin/gatekeep" --version):"
printf '  %s\n' "${installed[@]}"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "note: $PREFIX/bin is not on your PATH; add it, e.g. export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac
echo "zsh: add $DATA/zsh/site-functions to \$fpath for completions"
echo "to uninstall: rm ${installed[*]}"
