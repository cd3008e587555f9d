# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_gatekeep_global_optspecs
    string join \n h/help V/version
end

function __fish_gatekeep_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_gatekeep_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_gatekeep_using_subcommand
    set -l cmd (__fish_gatekeep_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c gatekeep -n "__fish_gatekeep_needs_command" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -s V -l version -d 'Print version'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "exec" -d 'Run a command after the gate: allowed commands run at once, others wait for approval'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "check" -d 'Show what gatekeep would decide for a command, without running it'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "policy" -d 'Inspect and test the layered policy'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "audit" -d 'Read and verify the local ledger of decisions'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "init" -d 'Print the snippet that guards an interactive shell: `eval "$(gatekeep init bash)"`'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "hook" -d 'Answer an agent\'s PreToolUse hook (JSON on stdin, JSON on stdout)'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "man" -d 'Write man pages into a directory (used to refresh `man/`)'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand exec" -l reason -d 'Why the command is needed, shown to the approver and recorded' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand exec" -l agent -d 'The agent\'s name, recorded with the command (default: $GATEKEEP_AGENT)' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand exec" -l result-fd -d 'Write the final result as JSON (decision, rule, approver, exit status, request id) to this open file descriptor, so the command\'s own output stays unmixed' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand exec" -l result -d 'Write the final result as JSON to this file' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand exec" -l shell -d 'Run one string with `bash -c`, exactly as approved' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand exec" -l json -d 'When the command does not run, print the decision as JSON on stdout too'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand exec" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand check" -l shell -d 'Read the command as one shell string, as `bash -c` would' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand check" -l cwd -d 'Decide as if run in this directory (project policy files are found from it upward)' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand check" -l json -d 'Print one JSON object on stdout instead of an explanation'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and not __fish_seen_subcommand_from test lint show help" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and not __fish_seen_subcommand_from test lint show help" -f -a "test" -d 'Run every rule\'s `match` and `not_match` examples'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and not __fish_seen_subcommand_from test lint show help" -f -a "lint" -d 'Validate policy files without using them'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and not __fish_seen_subcommand_from test lint show help" -f -a "show" -d 'Print the effective policy: every active rule and the layer it came from'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and not __fish_seen_subcommand_from test lint show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and __fish_seen_subcommand_from test" -l json
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and __fish_seen_subcommand_from lint" -l as -d 'Check the files as this layer would be checked' -r -f -a "system\t''
user\t''
project\t''
env\t''"
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and __fish_seen_subcommand_from lint" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and __fish_seen_subcommand_from show" -l json
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "test" -d 'Run every rule\'s `match` and `not_match` examples'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "lint" -d 'Validate policy files without using them'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the effective policy: every active rule and the layer it came from'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and not __fish_seen_subcommand_from show verify export help" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and not __fish_seen_subcommand_from show verify export help" -f -a "show" -d 'Print the ledger\'s records'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and not __fish_seen_subcommand_from show verify export help" -f -a "verify" -d 'Check that no record was edited, removed, inserted or reordered'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and not __fish_seen_subcommand_from show verify export help" -f -a "export" -d 'Export every record as JSON Lines or CSV'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and not __fish_seen_subcommand_from show verify export help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from show" -l since -d 'Only records at or after this time: RFC 3339 (`2026-11-21T08:00:00Z`) or an age (`30m`, `12h`, `7d`)' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from show" -l json
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from verify" -l json
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from export" -l format -r -f -a "jsonl\t''
csv\t''"
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the ledger\'s records'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check that no record was edited, removed, inserted or reordered'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "export" -d 'Export every record as JSON Lines or CSV'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand init" -l mode -r -f -a "aliases\t'Functions for the programs the policy guards, routed through `gatekeep exec --`'
preexec\t'Every command line is checked before it runs'"
complete -c gatekeep -n "__fish_gatekeep_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and not __fish_seen_subcommand_from claude-code codex install help" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and not __fish_seen_subcommand_from claude-code codex install help" -f -a "claude-code" -d 'Claude Code\'s PreToolUse hook for its Bash tool'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and not __fish_seen_subcommand_from claude-code codex install help" -f -a "codex" -d 'Codex\'s PreToolUse hook for its Bash tool'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and not __fish_seen_subcommand_from claude-code codex install help" -f -a "install" -d 'Write the hook into the agent\'s settings file, after showing the change'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and not __fish_seen_subcommand_from claude-code codex install help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from claude-code" -l prompt -d 'Ask at the terminal (`/dev/tty`) for commands that need approval, instead of in Claude Code\'s own dialog. For agents run where they do not own the terminal'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from claude-code" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from codex" -l prompt -d 'Ask at the terminal (`/dev/tty`) for commands that need approval, instead of refusing them. For agents run where they do not own the terminal'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from codex" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from install" -l project -d 'Settings of this project (`.claude/settings.json`, `.codex/hooks.json`) instead of the user\'s'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from install" -l yes -d 'Write without asking'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "claude-code" -d 'Claude Code\'s PreToolUse hook for its Bash tool'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "codex" -d 'Codex\'s PreToolUse hook for its Bash tool'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "install" -d 'Write the hook into the agent\'s settings file, after showing the change'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand completions" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand man" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook completions man help" -f -a "exec" -d 'Run a command after the gate: allowed commands run at once, others wait for approval'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook completions man help" -f -a "check" -d 'Show what gatekeep would decide for a command, without running it'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook completions man help" -f -a "policy" -d 'Inspect and test the layered policy'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook completions man help" -f -a "audit" -d 'Read and verify the local ledger of decisions'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook completions man help" -f -a "init" -d 'Print the snippet that guards an interactive shell: `eval "$(gatekeep init bash)"`'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook completions man help" -f -a "hook" -d 'Answer an agent\'s PreToolUse hook (JSON on stdin, JSON on stdout)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook completions man help" -f -a "man" -d 'Write man pages into a directory (used to refresh `man/`)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "test" -d 'Run every rule\'s `match` and `not_match` examples'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "lint" -d 'Validate policy files without using them'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "show" -d 'Print the effective policy: every active rule and the layer it came from'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "show" -d 'Print the ledger\'s records'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Check that no record was edited, removed, inserted or reordered'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "export" -d 'Export every record as JSON Lines or CSV'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "claude-code" -d 'Claude Code\'s PreToolUse hook for its Bash tool'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "codex" -d 'Codex\'s PreToolUse hook for its Bash tool'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "install" -d 'Write the hook into the agent\'s settings file, after showing the change'
