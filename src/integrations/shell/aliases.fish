# gatekeep: fish integration, aliases mode (from `gatekeep init fish`).
# Load it from ~/.config/fish/config.fish:   gatekeep init fish | source
#
# Each program that the policy guards becomes a function that runs it through
# `gatekeep exec --`: allowed commands run at once (gatekeep execs the real program, so exit
# status, stdin/stdout/stderr and completion are unchanged), others wait for approval or are
# refused. `command NAME` and full paths go around these functions; use
# `gatekeep init fish --mode preexec` to check every command line instead. fish runs
# functions in the foreground: `NAME ... &` waits for NAME (`command NAME ... &` does not).
set -g __gatekeep_bin @GATEKEEP@

@LOCATE@

function __gatekeep_run
    if not __gatekeep_locate
        # Fail closed: this name is guarded, and nothing can decide about it now.
        printf 'gatekeep: `%s` was not run: gatekeep is no longer at %s nor on PATH, and this shell sends `%s` through it\nhint: reinstall gatekeep, or use a shell that does not load its snippet\n' \
            $argv[1] "$__gatekeep_bin" $argv[1] >&2
        return 127
    end
    $__gatekeep_bin exec -- $argv
end

# Defined at the first prompt, after fish's own start-up: fish runs a function in the
# foreground even after `&`, and its first start runs `python3 ... &` to build completions.
# The names below were checked when the snippet was made; this shell's own builtins are left
# alone as well (a function would run a program in their place).
function __gatekeep_define --on-event fish_prompt
    functions -e __gatekeep_define
    set -l __gatekeep_builtins (builtin -n)
    for __gatekeep_name in@PROGRAMS@
        contains -- $__gatekeep_name $__gatekeep_builtins; and continue
        function $__gatekeep_name --inherit-variable __gatekeep_name --description "$__gatekeep_name, through gatekeep exec"
            __gatekeep_run $__gatekeep_name $argv
        end
    end
end

if not __gatekeep_locate
    functions -e __gatekeep_define
    printf 'gatekeep: not found at %s nor on PATH: this shell is NOT guarded by gatekeep\n' "$__gatekeep_bin" >&2
end
