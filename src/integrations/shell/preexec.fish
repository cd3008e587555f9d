# gatekeep: fish integration, preexec mode (from `gatekeep init fish --mode preexec`).
# Load it from ~/.config/fish/config.fish:   gatekeep init fish --mode preexec | source
#
# Enter runs a function that has `gatekeep check --shell` read the whole command line first:
# every command in lists, pipelines and substitutions, through `command rm`, `env rm` and
# `/bin/rm` (fish's `fish_preexec` event cannot stop a line, so this binds Enter).
# - allow: the line runs as typed.
# - anything else: the line is replaced by `gatekeep exec -- fish -N -c '<line>'` and run,
#   so gatekeep refuses it or asks for approval, then runs it in a child fish (which has
#   this shell's exported variables, not its other variables or functions).
# gatekeep reads command lines as bash does, so the line is checked as text that fish reads
# the same way: `(...)` as `$(...)`, and `and`, `or`, `not` as `&&`, `||`, `!`. fish blocks
# (`if ... end`, `for ... end`) are not bash: gatekeep cannot read them, so they need
# approval. An abbreviation under the cursor, which fish would expand only as the line runs,
# is expanded and shown first; Enter again checks what it became. Commands inside functions
# defined in this shell are not seen (bash's preexec mode sees them).
set -l __gatekeep_version (string split . -- $version)
if not status is-interactive; or set -q __gatekeep_preexec
    # not interactive (nothing is typed here), or loaded already
else if not test "$__gatekeep_version[1]" -gt 3 -o \( "$__gatekeep_version[1]" -eq 3 -a "$__gatekeep_version[2]" -ge 4 \) 2>/dev/null
    printf 'gatekeep: preexec mode needs fish 3.4 or later, and this is %s: this shell is NOT guarded\nhint: `gatekeep init fish` (aliases mode) works here\n' $version >&2
else
    set -g __gatekeep_preexec 1
    set -g __gatekeep_bin @GATEKEEP@
    set -g __gatekeep_expanded

    @LOCATE@

    # The line as text that fish reads the same way and gatekeep's bash reader can read:
    # outside quotes, `(cmd)` becomes `$(cmd)`, and `and`, `or`, `not` starting a command
    # become `&&`, `||`, `!` (read as program names, they would hide the command after
    # them); in single quotes, `\'` becomes `'\''`. Quoted text is otherwise left alone.
    function __gatekeep_text
        # Newlines (as \x1e) out of the way while the line is cut into quoted and plain pieces.
        set -l text (string replace -a -- \n \x1e $argv[1])
        set -l out
        set -l first 1
        for piece in (string match -ra -- '\'(?:[^\'\\\\]|\\\\.)*\'|"(?:[^"\\\\]|\\\\.)*"|\\\\.|[^\'"\\\\]+|.' $text)
            set -l lead (string sub -l 1 -- $piece)
            if test "$lead" = "'"
                set piece (string replace -a -- "\\'" "'\\''" $piece)
            else if test "$lead" != '"' -a "$lead" != \\
                set piece (string replace -ra -- '(?<!\$)\(' '\$(' $piece)
                set piece (string replace -ra -- '[;\x1e][ \t]*and[ \t]+' ' && ' $piece)
                set piece (string replace -ra -- '[;\x1e][ \t]*or[ \t]+' ' || ' $piece)
                set piece (string replace -ra -- '([;|&(\x1e]|\bif|\bwhile)([ \t]*)not[ \t]+' '$1$2! ' $piece)
                if test $first = 1
                    set piece (string replace -r -- '^[ \t]*(and|or)[ \t]+' '' $piece)
                    set piece (string replace -r -- '^([ \t]*)not[ \t]+' '$1! ' $piece)
                end
            end
            set first 0
            set -a out $piece
        end
        string join '' -- $out | string replace -a -- \x1e \n
    end

    # Whether fish could expand the token under the cursor as an abbreviation when it runs
    # the line (after the check): one of that name, or a `--regex` one that matches it.
    function __gatekeep_abbr_at_cursor
        set -l token (commandline -t)
        test -n "$token"; or return 1
        abbr --query -- $token; and return 0
        for definition in (abbr --show | string match -- '* --regex *')
            # `abbr --show` prints fish code; read back its arguments.
            set -l args (eval (string replace -r -- '^abbr ' '__gatekeep_args ' $definition) | string split0)
            set -l regex (contains -i -- --regex $args); or continue
            set regex (math $regex + 1)
            string match -qr -- "^(?:$args[$regex])\$" $token; and return 0
        end
        return 1
    end

    function __gatekeep_args
        printf '%s\0' $argv
    end

    function __gatekeep_execute --description 'gatekeep: check the command line, then run it'
        # In the pager (completions, history search) Enter takes the selection.
        if commandline --paging-mode; or commandline --search-mode
            commandline -f execute
            return
        end
        set -l line (commandline | string collect)
        set -l trimmed (string trim -- $line)
        # A blank, incomplete or invalid line does not run: fish adds a line or says why.
        if test -z "$trimmed"; or not commandline --is-valid
            commandline -f execute
            return
        end
        # fish expands an abbreviation under the cursor only as it runs the line, after this
        # function: expand it now and show it (Enter again checks and runs what it became).
        if test "$line" != "$__gatekeep_expanded"; and __gatekeep_abbr_at_cursor
            set -g __gatekeep_expanded $line
            commandline -f expand-abbr
            return
        end
        set -g __gatekeep_expanded
        # Leaving the shell is never held back, whatever state gatekeep or its policy is in.
        if string match -qr '^(exit|logout)(\s+\d+)?$' -- $trimmed
            commandline -f execute
            return
        end
        # The guard does not switch itself off: whatever gatekeep says about them, lines that
        # name its internals or rebind Enter would leave the next lines unchecked.
        if string match -q -- '*__gatekeep*' $line
            or begin
                string match -qr -- '\bbind\b' $line
                and string match -qr -- '\\\\[rn]|\\\\c[mj]|execute|--erase|\s-[a-zA-Z]*e' $line
            end
            printf '\ngatekeep: refused: this line would switch off gatekeep in this shell\nhint: work without gatekeep in a shell that does not load its snippet\n' >&2
            commandline -r ''
            commandline -f execute
            return
        end
        if not __gatekeep_locate
            printf '\ngatekeep: not run: gatekeep is no longer at %s nor on PATH, and this shell checks every command line with it\nhint: reinstall gatekeep, or leave this shell with `exit`\n' "$__gatekeep_bin" >&2
            # An empty line in its place: a fresh prompt, and nothing runs.
            commandline -r ''
            commandline -f execute
            return
        end
        set -l text (__gatekeep_text $line | string collect)
        $__gatekeep_bin check --shell=$text </dev/null >/dev/null 2>&1
        if test $status -eq 0
            commandline -f execute
            return
        end
        commandline -r -- (string join ' ' -- (string escape -- $__gatekeep_bin) exec -- \
            (string escape -- (status fish-path)) -N -c (string escape -- $text))
        commandline -f execute
    end

    if __gatekeep_locate
        for mode in default insert
            bind -M $mode \r __gatekeep_execute
            bind -M $mode \n __gatekeep_execute
        end
    else
        printf 'gatekeep: not found at %s nor on PATH: this shell is NOT guarded by gatekeep\n' "$__gatekeep_bin" >&2
    end
end
