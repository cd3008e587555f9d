# gatekeep: bash integration, aliases mode (from `gatekeep init bash`).
# Load it at the end of ~/.bashrc:   eval "$(gatekeep init bash)"
#
# Each program that the policy guards becomes a function that runs it through
# `gatekeep exec --`: allowed commands run at once (gatekeep execs the real program, so exit
# status, stdin/stdout/stderr and completion are unchanged), others wait for approval or are
# refused. `command NAME`, `\NAME` and full paths go around these functions; use
# `gatekeep init bash --mode preexec` to check every command line instead.
__gatekeep_bin=@GATEKEEP@

# gatekeep's path when this snippet was made, else gatekeep on PATH (absolute paths only).
__gatekeep_locate() {
  [[ -n $__gatekeep_bin && -x $__gatekeep_bin ]] && return 0
  local __gatekeep_path
  __gatekeep_path=$(type -P gatekeep 2>/dev/null)
  [[ $__gatekeep_path == /* && -x $__gatekeep_path ]] || return 1
  __gatekeep_bin=$__gatekeep_path
}

__gatekeep_run() {
  if ! __gatekeep_locate; then
    # Fail closed: this name is guarded, and nothing can decide about it now.
    printf 'gatekeep: `%s` was not run: gatekeep is no longer at %s nor on PATH, and this shell sends `%s` through it\nhint: reinstall gatekeep, or use a shell that does not load its snippet\n' \
      "$1" "${__gatekeep_bin:-(unknown)}" "$1" >&2
    return 127
  fi
  "$__gatekeep_bin" exec -- "$@"
}

if __gatekeep_locate; then
  # The names below were checked when the snippet was made; this shell's own builtins and
  # keywords are left alone as well (a function would run a program in their place).
  __gatekeep_define() {
    local __gatekeep_keep __gatekeep_name
    __gatekeep_keep=$(compgen -b -k)
    __gatekeep_keep=" ${__gatekeep_keep//$'\n'/ } "
    for __gatekeep_name in "$@"; do
      [[ $__gatekeep_keep == *" $__gatekeep_name "* ]] && continue
      eval "function $__gatekeep_name { __gatekeep_run $__gatekeep_name \"\$@\"; }"
    done
  }
  __gatekeep_define@PROGRAMS@
  unset -f __gatekeep_define
else
  printf 'gatekeep: not found at %s nor on PATH: this shell is NOT guarded by gatekeep\n' \
    "${__gatekeep_bin:-(unknown)}" >&2
fi
