# gatekeep's path when this snippet was made, else gatekeep on PATH (absolute paths only).
function __gatekeep_locate
    if test -n "$__gatekeep_bin"; and test -x "$__gatekeep_bin"
        return 0
    end
    set -l path (command -s gatekeep)
    if set -q path[1]; and string match -q '/*' -- $path[1]; and test -x $path[1]
        set -g __gatekeep_bin $path[1]
        return 0
    end
    return 1
end
