# gatekeep: zsh integration, aliases mode (from `gatekeep init zsh`).
# Load it at the end of ~/.zshrc:   eval "$(gatekeep init zsh)"
#
# Each program that the policy guards becomes a function that runs it through
# `gatekeep exec --`: allowed commands run at once (gatekeep execs the real program, so exit
# status, stdin/stdout/stderr and completion are unchanged), others wait for approval or are
# refused. `command NAME`, `\NAME` and full paths go around these functions; use
# `gatekeep init zsh --mode preexec` to check every command line instead.
typeset -g __gatekeep_bin=@GATEKEEP@

@LOCATE@

__gatekeep_run() {
  if ! __gatekeep_locate; then
    # Fail closed: this name is guarded, and nothing can decide about it now.
    print -ru2 -- "gatekeep: \`$1\` was not run: gatekeep is no longer at ${__gatekeep_bin:-(unknown)} nor on PATH, and this shell sends \`$1\` through it"
    print -ru2 -- "hint: reinstall gatekeep, or use a shell that does not load its snippet"
    return 127
  fi
  "$__gatekeep_bin" exec -- "$@"
}

if __gatekeep_locate; then
  # The names below were checked when the snippet was made; this shell's own builtins and
  # reserved words are left alone as well (a function would run a program in their place).
  () {
    emulate -L zsh
    local __gatekeep_name
    for __gatekeep_name; do
      (( $+builtins[$__gatekeep_name] || ${reswords[(Ie)$__gatekeep_name]} )) && continue
      functions[$__gatekeep_name]="__gatekeep_run ${(q)__gatekeep_name} \"\$@\""
    done
  }@PROGRAMS@
else
  print -ru2 -- "gatekeep: not found at ${__gatekeep_bin:-(unknown)} nor on PATH: this shell is NOT guarded by gatekeep"
fi
