#!/usr/bin/env bash
# Installs gatekeep: builds a release binary with cargo and installs it under $PREFIX
# (default ~/.local): the binary in bin/, man pages in share/man/man1/, and completions for
# bash, zsh and fish. Safe to run again: it replaces what it installed before.
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

# On glibc Linux, link statically: a static binary starts about 0.4 ms faster, and start-up
# is most of what gatekeep adds to an allowed command. (The explicit --target keeps the
# static flag off build scripts and proc-macros.) cargo names the binary it built in its JSON
# messages, which also follows CARGO_TARGET_DIR and `build.target-dir`.
host=$(rustc -vV | sed -n 's/^host: //p')
build=(cargo build --release --locked --quiet --message-format=json-render-diagnostics)
case "$host" in
  *-linux-gnu)
    echo "building gatekeep (release, static, $host)..."
    build+=(--target "$host")
    export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static"
    ;;
  *) echo "building gatekeep (release)..." ;;
esac
bin=$("${build[@]}" | sed -n 's/.*"executable":"\([^"]*\/gatekeep\)".*/\1/p' | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "install.sh: cargo did not report the gatekeep binary it built" >&2
  exit 1
fi

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
# Completions where each shell looks under a prefix, so a packager's PREFIX=/usr install
# keeps everything under it (and the default ~/.local is where the XDG lookups find them).
put 0644 completions/gatekeep.bash "$PREFIX/share/bash-completion/completions/gatekeep"
put 0644 completions/_gatekeep "$PREFIX/share/zsh/site-functions/_gatekeep"
put 0644 completions/gatekeep.fish "$PREFIX/share/fish/vendor_completions.d/gatekeep.fish"

echo "installed $("$PREFIX/bin/gatekeep" --version):"
printf '  %s\n' "${installed[@]}"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "note: $PREFIX/bin is not on your PATH; add it, e.g. export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac
echo "zsh: add $PREFIX/share/zsh/site-functions to \$fpath for completions"
echo "to uninstall: rm ${installed[*]}"
