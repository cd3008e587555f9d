# gatekeep: bash integration, preexec mode (from `gatekeep init bash --mode preexec`).
# Load it at the end of ~/.bashrc:   eval "$(gatekeep init bash --mode preexec)"
#
# Before bash runs a command, a DEBUG trap (with `shopt -s extdebug`, so that it can skip the
# command) asks `gatekeep check` about it. It sees what bash is about to run, one simple
# command at a time, after aliases and inside functions, pipelines, subshells and `$(...)`:
# `\rm`, `command rm`, `env rm` and `/bin/rm` are all read as rm.
# - allow: the command runs here, as usual. Allowed commands are remembered until the next
#   command line, so a loop asks once per distinct command.
# - anything else: the command is handed to `gatekeep exec --shell`, which refuses it or asks
#   for approval and runs it in a child bash that gets this shell's variables, positional
#   parameters and glob options (not its functions, aliases or traps; a `cd` or an assignment
#   there does not come back). bash cannot give a command skipped by the trap an exit status:
#   status 0 lets the line go on; any other status ends a subshell or pipeline stage with it,
#   and stops the command line in the shell itself, as Ctrl-C would ($? is 130).
# The rc files read at start-up are not checked. Commands that would switch the guard off
# (`trap - DEBUG`, `shopt -u extdebug`, `set +T`, touching `__gatekeep_*`) are refused.
if [[ $- != *i* ]]; then
  : # not interactive: nothing is typed here
elif (( BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] < 404 )); then
  printf 'gatekeep: preexec mode needs bash 4.4 or later, and this is %s: this shell is NOT guarded\nhint: `gatekeep init bash` (aliases mode) works here\n' "$BASH_VERSION" >&2
elif [[ -z ${__gatekeep_preexec-} ]]; then
  __gatekeep_preexec=1
  __gatekeep_bin=@GATEKEEP@
  __gatekeep_number='\#'   # expands (as a prompt) to the number of the current command line
  __gatekeep_line=
  __gatekeep_startup=1
  __gatekeep_found=
  declare -gA __gatekeep_allowed=()

  # Sets __gatekeep_exe, afresh for each use: gatekeep's path when this snippet was made
  # (read-only below), else gatekeep on PATH (absolute paths only).
  __gatekeep_locate() {
    __gatekeep_exe=$__gatekeep_bin
    [[ -n $__gatekeep_exe && -x $__gatekeep_exe ]] && return 0
    __gatekeep_exe=$__gatekeep_found
    [[ -n $__gatekeep_exe && -x $__gatekeep_exe ]] && return 0
    __gatekeep_exe=$(type -P gatekeep 2>/dev/null)
    [[ $__gatekeep_exe == /* && -x $__gatekeep_exe ]] || return 1
    __gatekeep_found=$__gatekeep_exe
  }

  # The trap: $1 is the count of positional parameters that follow $2 (the command), and the
  # last argument is `$_`, so that bash restores `$_` when the trap returns.
  __gatekeep_debug() {
    # Never inside itself (the trap is inherited by the subshells it starts).
    [[ -n ${__gatekeep_busy-} ]] && return 0
    local __gatekeep_busy=1 __gatekeep_cmd=$2
    local -a __gatekeep_args=("${@:3:$1}")

    # Programmable completion runs functions on Tab, not commands the user ran; checking
    # each of their lines would make Tab crawl. Only inside a function: typing a COMP_
    # variable at the prompt is refused below.
    [[ -n ${COMP_LINE-} && ${#FUNCNAME[@]} -gt 1 ]] && return 0

    # Start-up: the rc files this shell reads before its first prompt are the user's own
    # configuration, and are not checked. The first command outside them ends start-up
    # (after it, `source` and `.` never run here: gatekeep cannot read them ahead).
    local __gatekeep_starting=
    if [[ -n $__gatekeep_startup ]]; then
      if [[ ${FUNCNAME[-1]} == source ]]; then
        __gatekeep_starting=1
      else
        __gatekeep_startup=
      fi
    fi

    # The guard does not switch itself off: whatever gatekeep allows, these would remove
    # the trap (or its power to skip) for everything typed after them. Anything gatekeep
    # escalates (eval, source, a dynamic command) runs in a child bash and cannot reach it.
    local __gatekeep_upper=${__gatekeep_cmd^^}
    if [[ $__gatekeep_cmd == *__gatekeep* || $__gatekeep_cmd == *extdebug* || $__gatekeep_cmd == *functrace* \
          || ( -z $__gatekeep_starting && $__gatekeep_cmd == *COMP_* ) \
          || ( $__gatekeep_upper == *TRAP* && $__gatekeep_upper == *DEBUG* ) \
          || ( $__gatekeep_cmd == *set* && $__gatekeep_cmd =~ (^|[[:space:]\"\'])\+[[:alpha:]]*T ) ]]; then
      if [[ -n $__gatekeep_starting ]]; then
        # Another tool loaded after this snippet: keep the guard, let start-up go on.
        printf 'gatekeep: not run while starting: `%s` would take the DEBUG trap from gatekeep\nhint: load the gatekeep snippet after it in the rc file\n' "$__gatekeep_cmd" >&2
        return 1
      fi
      printf 'gatekeep: refused: `%s` would switch off gatekeep in this shell\nhint: work without gatekeep in a shell that does not load its snippet\n' "$__gatekeep_cmd" >&2
      __gatekeep_stop 77
      return 1
    fi
    [[ -n $__gatekeep_starting ]] && return 0

    local __gatekeep_n=${__gatekeep_number@P}
    if [[ $__gatekeep_n != "$__gatekeep_line" ]]; then
      __gatekeep_line=$__gatekeep_n
      __gatekeep_allowed=()
    fi
    local __gatekeep_key=$PWD$'\n'$__gatekeep_cmd
    [[ -n ${__gatekeep_allowed[$__gatekeep_key]-} ]] && return 0

    # bash shows the header of a loop or `case` as a command of its own. Its words are
    # expanded, not run: any `$(...)` in them is checked when it runs. A text like
    # `for x in y > f` is a command named `for` (after a leading redirection): checked.
    local __gatekeep_text=$__gatekeep_cmd
    if [[ $__gatekeep_cmd =~ ^(for|select)\ [[:alpha:]_][[:alnum:]_]*(\ in\ .*)?$ ]]; then
      [[ $__gatekeep_cmd == *[\<\>]* ]] || return 0
      __gatekeep_text="$__gatekeep_cmd; do :; done"
    elif [[ $__gatekeep_cmd =~ ^case\ .*\ in\ $ ]]; then
      [[ $__gatekeep_cmd == *[\<\>]* ]] || return 0
      __gatekeep_text="$__gatekeep_cmd *) ;; esac"
    fi

    # Leaving the shell is never held back, whatever state gatekeep or its policy is in.
    [[ $__gatekeep_cmd =~ ^(exit|logout)(\ [0-9]{1,3})?$ ]] && return 0

    if ! __gatekeep_locate; then
      printf 'gatekeep: not run: gatekeep is no longer at %s nor on PATH, and this shell checks every command with it\nhint: reinstall gatekeep, or leave this shell with `exit`\n' \
        "${__gatekeep_bin:-(unknown)}" >&2
      __gatekeep_stop 127
      return 1
    fi

    "$__gatekeep_exe" check --shell="$__gatekeep_text" >/dev/null 2>&1 </dev/null
    if [[ $? == 0 ]]; then
      __gatekeep_allowed[$__gatekeep_key]=1
      return 0
    fi

    # Not allowed as is: gatekeep exec decides again, records, refuses or asks, and runs it
    # if approved. The original is skipped either way.
    BASH_ENV=/dev/fd/3 "$__gatekeep_exe" exec --shell="$__gatekeep_cmd" \
      3< <(__gatekeep_state "${__gatekeep_args[@]}")
    local __gatekeep_status=$?
    (( __gatekeep_status == 0 )) || __gatekeep_stop "$__gatekeep_status"
    return 1
  }

  # What the command would have seen here, as bash code for the child bash (read through
  # BASH_ENV, which it then forgets): variables other than bash's own, the positional
  # parameters and the options that change how words expand.
  __gatekeep_state() {
    local -a __gatekeep_names
    local __gatekeep_name
    mapfile -t __gatekeep_names < <(compgen -v)
    for __gatekeep_name in "${__gatekeep_names[@]}"; do
      case $__gatekeep_name in
        BASH* | COMP_* | HIST* | PS[0-4] | PROMPT_COMMAND | SHELLOPTS | SHLVL | EUID | UID | PPID \
          | GROUPS | FUNCNAME | LINENO | RANDOM | SRANDOM | SECONDS | EPOCHREALTIME | EPOCHSECONDS \
          | DIRSTACK | PIPESTATUS | OPTIND | OPTARG | OPTERR | READLINE_* | MAPFILE | COPROC* \
          | PWD | OLDPWD | COLUMNS | LINES | _ | __gatekeep*) ;;
        *) declare -p -- "$__gatekeep_name" 2>/dev/null ;;
      esac
    done
    printf 'set --'
    (( $# )) && printf ' %q' "$@"
    printf '\n'
    shopt -p extglob globstar nullglob failglob dotglob nocaseglob nocasematch 2>/dev/null
    shopt -p -o noglob nounset pipefail 2>/dev/null
    printf 'exec 3<&-\nunset BASH_ENV\n'
  }

  # A command did not run here, or ran elsewhere and failed. In a subshell (a pipeline stage,
  # `( )`, `$( )`) end it with that status, as the command itself would have failed; in the
  # shell, stop the rest of the command line, so that nothing runs on a status it did not get.
  __gatekeep_stop() {
    if [[ $BASHPID != "$$" ]]; then
      exit "$1"
    fi
    printf 'gatekeep: status %s: the rest of this command line was not run\n' "$1" >&2
    builtin kill -INT "$$"
  }

  # Commands typed later cannot redefine the guard.
  readonly __gatekeep_bin __gatekeep_number
  readonly -f __gatekeep_locate __gatekeep_debug __gatekeep_state __gatekeep_stop

  if __gatekeep_locate; then
    if [[ -n $(trap -p DEBUG) ]]; then
      printf 'gatekeep: replacing the DEBUG trap that was set before: %s\n' "$(trap -p DEBUG)" >&2
    fi
    shopt -s extdebug
    trap '__gatekeep_debug "$#" "$BASH_COMMAND" "$@" "$_"' DEBUG
  else
    printf 'gatekeep: not found at %s nor on PATH: this shell is NOT guarded by gatekeep\n' \
      "${__gatekeep_bin:-(unknown)}" >&2
  fi
fi
