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
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "server" -d 'Run the approval service, or manage its tokens, audit trail and reports'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "login" -d 'Connect this machine to an approval service: check a token (read from stdin), pin the service\'s signing key, and store both'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "logout" -d 'Forget the approval service and its tokens'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "whoami" -d 'Show the approval service and the identities this machine\'s tokens stand for'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "pending" -d 'List the requests waiting for approval (approver token)'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "show" -d 'Show one request'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "approve" -d 'Approve a request (approver token; never your own)'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "deny" -d 'Deny a request; the agent is shown the reason'
complete -c gatekeep -n "__fish_gatekeep_needs_command" -f -a "doctor" -d 'Report whether the agent\'s unix user could move the trust anchor: who pinned the server key and whether the agent can write it, credentials, the ledger, the server URL, proxy variables, policy layers'
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
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and not __fish_seen_subcommand_from show verify checkpoints export help" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and not __fish_seen_subcommand_from show verify checkpoints export help" -f -a "show" -d 'Print the ledger\'s records'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and not __fish_seen_subcommand_from show verify checkpoints export help" -f -a "verify" -d 'Check that no record was edited, removed, inserted or reordered'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and not __fish_seen_subcommand_from show verify checkpoints export help" -f -a "checkpoints" -d 'Print the approval service\'s signed checkpoints this ledger holds (one came with each verdict), as JSON Lines: an auditor checks the service\'s chain against them with `gatekeep server audit verify --checkpoints FILE`'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and not __fish_seen_subcommand_from show verify checkpoints export help" -f -a "export" -d 'Export every record as JSON Lines or CSV'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and not __fish_seen_subcommand_from show verify checkpoints export help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from show" -l since -d 'Only records at or after this time: RFC 3339 (`2026-11-21T08:00:00Z`) or an age (`30m`, `12h`, `7d`)' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from show" -l json
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from verify" -l json
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from verify" -l against-server -d 'Check the ledger against the heads the approval service holds for this machine\'s requester token'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from checkpoints" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from export" -l format -r -f -a "jsonl\t''
csv\t''"
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the ledger\'s records'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check that no record was edited, removed, inserted or reordered'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "checkpoints" -d 'Print the approval service\'s signed checkpoints this ledger holds (one came with each verdict), as JSON Lines: an auditor checks the service\'s chain against them with `gatekeep server audit verify --checkpoints FILE`'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "export" -d 'Export every record as JSON Lines or CSV'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand init" -l mode -r -f -a "aliases\t'Functions for the programs the policy guards, routed through `gatekeep exec --`'
preexec\t'Every command line is checked before it runs'"
complete -c gatekeep -n "__fish_gatekeep_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and not __fish_seen_subcommand_from claude-code codex install help" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and not __fish_seen_subcommand_from claude-code codex install help" -f -a "claude-code" -d 'Claude Code\'s PreToolUse hook for its Bash tool'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and not __fish_seen_subcommand_from claude-code codex install help" -f -a "codex" -d 'Codex\'s PreToolUse hook for its Bash tool. Codex has no dialog: with an approval service configured, commands that need approval wait for it'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and not __fish_seen_subcommand_from claude-code codex install help" -f -a "install" -d 'Write the hook into the agent\'s settings file, after showing the change'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and not __fish_seen_subcommand_from claude-code codex install help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from claude-code" -l prompt -d 'Ask at the terminal (`/dev/tty`) for commands that need approval, instead of in Claude Code\'s own dialog. For agents run where they do not own the terminal'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from claude-code" -l unattended -d 'Nobody watches this agent (`claude -p` in CI): commands that need approval wait for the approval service instead of Claude Code\'s dialog. Implied when the hook has no terminal and a service is configured'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from claude-code" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from codex" -l prompt -d 'Ask at the terminal (`/dev/tty`) for commands that need approval, instead of through the approval service. For agents run where they do not own the terminal'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from codex" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from install" -l project -d 'Settings of this project (`.claude/settings.json`, `.codex/hooks.json`) instead of the user\'s'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from install" -l yes -d 'Write without asking'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "claude-code" -d 'Claude Code\'s PreToolUse hook for its Bash tool'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "codex" -d 'Codex\'s PreToolUse hook for its Bash tool. Codex has no dialog: with an approval service configured, commands that need approval wait for it'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "install" -d 'Write the hook into the agent\'s settings file, after showing the change'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l config -d 'The server\'s settings file (TOML): `listen`, `data`, `database`, `database_password_file`, `key_encryption_key_file`, `tls_cert`, `tls_key`, and the `[web]`, `[oidc]` and `[auth]` tables. A flag given here wins over the file' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l listen -d 'Address to listen on (port 0 picks a free port and prints it) [default: 127.0.0.1:8700]' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l max-timeout -d 'The longest a request may wait for approval, whatever its rule asks' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l max-pending -d 'Pending requests one requester may have at a time' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l max-creates-per-minute -d 'Requests one requester may create per minute' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l max-connections -d 'Connections open at once; beyond it a connection is answered 503 and closed. Default: what the open-file limit (raised to its hard limit) leaves after a reserve for the database and logs, up to 32768' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l max-connections-per-address -d 'Connections open at once from one peer address (an IPv6 /64 counts as one). Default: half of --max-connections. Behind a reverse proxy every connection comes from the proxy: set it to --max-connections there' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l header-timeout -d 'Seconds a connection has to send a complete request head (and finish its TLS handshake), from connecting or from its previous response; idle keep-alive connections are closed after it too' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l idle-timeout -d 'Seconds a connection may go without sending or reading a byte while none of its requests is being handled (a long poll waiting for a decision never counts); a request body must arrive in full within it' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l tls-cert -d 'Serve HTTPS with this PEM certificate chain (server certificate first)' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l tls-key -d 'The PEM private key of --tls-cert' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l data -d 'Where the database and signing key live (default: ~/.local/share/gatekeep/server)' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l database -d 'A PostgreSQL database instead of SQLite in --data (`postgres://USER@HOST/DB`), for several replicas on one database. Give the password with --database-password-file or in PGPASSFILE (~/.pgpass), not in the URL, which other users can read in `ps`' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l database-password-file -d 'A file whose first line is the --database password' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -l key-encryption-key-file -d 'The key-encryption key that seals the signing keys kept in the --database (32 random bytes, base64url, 0600: `gatekeep server key new-kek FILE` makes one). Every replica needs a copy of the same file' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -f -a "token" -d 'Create, list and revoke the tokens requesters and approvers use'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -f -a "key" -d 'Rotate the verdict-signing key, or make a key-encryption key for PostgreSQL'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -f -a "session" -d 'List and revoke approver sessions (from OIDC sign-ins)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -f -a "audit" -d 'Verify or export the service\'s hash-chained audit trail'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -f -a "report" -d 'Who requested what, who approved it, when and why, labelled with the controls it evidences (SOC 2, NIST 800-53)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and not __fish_seen_subcommand_from token key session audit report help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from token" -l config -d 'The server\'s settings file (TOML): `listen`, `data`, `database`, `database_password_file`, `key_encryption_key_file`, `tls_cert`, `tls_key`, and the `[web]`, `[oidc]` and `[auth]` tables. A flag given here wins over the file' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from token" -l data -d 'Where the database and signing key live (default: ~/.local/share/gatekeep/server)' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from token" -l database -d 'A PostgreSQL database instead of SQLite in --data (`postgres://USER@HOST/DB`), for several replicas on one database. Give the password with --database-password-file or in PGPASSFILE (~/.pgpass), not in the URL, which other users can read in `ps`' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from token" -l database-password-file -d 'A file whose first line is the --database password' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from token" -l key-encryption-key-file -d 'The key-encryption key that seals the signing keys kept in the --database (32 random bytes, base64url, 0600: `gatekeep server key new-kek FILE` makes one). Every replica needs a copy of the same file' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from token" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from token" -f -a "create" -d 'Create a token and print it once; only its hash is stored'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from token" -f -a "list" -d 'List tokens (never the tokens themselves)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from token" -f -a "revoke" -d 'Revoke a token by its id or name; it stops working at once'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from token" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from key" -l config -d 'The server\'s settings file (TOML): `listen`, `data`, `database`, `database_password_file`, `key_encryption_key_file`, `tls_cert`, `tls_key`, and the `[web]`, `[oidc]` and `[auth]` tables. A flag given here wins over the file' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from key" -l data -d 'Where the database and signing key live (default: ~/.local/share/gatekeep/server)' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from key" -l database -d 'A PostgreSQL database instead of SQLite in --data (`postgres://USER@HOST/DB`), for several replicas on one database. Give the password with --database-password-file or in PGPASSFILE (~/.pgpass), not in the URL, which other users can read in `ps`' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from key" -l database-password-file -d 'A file whose first line is the --database password' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from key" -l key-encryption-key-file -d 'The key-encryption key that seals the signing keys kept in the --database (32 random bytes, base64url, 0600: `gatekeep server key new-kek FILE` makes one). Every replica needs a copy of the same file' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from key" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from key" -f -a "rotate" -d 'Make a new signing key current and keep the current one as the previous key (any older one is dropped). The previous key endorses the new one in the JWK Set, so clients pinned to it accept the new key. On PostgreSQL running replicas switch at once; a server on SQLite switches on SIGHUP (or a restart)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from key" -f -a "new-kek" -d 'Write a new key-encryption key (for --key-encryption-key-file) to FILE, which must not exist yet'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from key" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from session" -l config -d 'The server\'s settings file (TOML): `listen`, `data`, `database`, `database_password_file`, `key_encryption_key_file`, `tls_cert`, `tls_key`, and the `[web]`, `[oidc]` and `[auth]` tables. A flag given here wins over the file' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from session" -l data -d 'Where the database and signing key live (default: ~/.local/share/gatekeep/server)' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from session" -l database -d 'A PostgreSQL database instead of SQLite in --data (`postgres://USER@HOST/DB`), for several replicas on one database. Give the password with --database-password-file or in PGPASSFILE (~/.pgpass), not in the URL, which other users can read in `ps`' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from session" -l database-password-file -d 'A file whose first line is the --database password' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from session" -l key-encryption-key-file -d 'The key-encryption key that seals the signing keys kept in the --database (32 random bytes, base64url, 0600: `gatekeep server key new-kek FILE` makes one). Every replica needs a copy of the same file' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from session" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from session" -f -a "list" -d 'List the live approver sessions (never their tokens)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from session" -f -a "revoke" -d 'End approver sessions by id (as `session list` shows it) or by their holder\'s name; they stop working at once'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from session" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from audit" -l config -d 'The server\'s settings file (TOML): `listen`, `data`, `database`, `database_password_file`, `key_encryption_key_file`, `tls_cert`, `tls_key`, and the `[web]`, `[oidc]` and `[auth]` tables. A flag given here wins over the file' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from audit" -l data -d 'Where the database and signing key live (default: ~/.local/share/gatekeep/server)' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from audit" -l database -d 'A PostgreSQL database instead of SQLite in --data (`postgres://USER@HOST/DB`), for several replicas on one database. Give the password with --database-password-file or in PGPASSFILE (~/.pgpass), not in the URL, which other users can read in `ps`' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from audit" -l database-password-file -d 'A file whose first line is the --database password' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from audit" -l key-encryption-key-file -d 'The key-encryption key that seals the signing keys kept in the --database (32 random bytes, base64url, 0600: `gatekeep server key new-kek FILE` makes one). Every replica needs a copy of the same file' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from audit" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Check that no event was altered, removed, inserted or reordered, that the chain still holds every signed checkpoint (so its tail was neither cut nor re-hashed), and that every request row matches the hash its last event carries. Exit status 1 on any finding'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from audit" -f -a "checkpoints" -d 'Print every signed checkpoint of the chain as JSON Lines, to keep elsewhere'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from audit" -f -a "export" -d 'Print every event'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from audit" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from report" -l from -d 'First day or instant (`2026-11-01` or RFC 3339)' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from report" -l to -d 'Last day (inclusive) or instant' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from report" -l format -r -f -a "md\t'Markdown: headings and GitHub-flavoured tables'
html\t'One self-contained HTML page (inline CSS, no scripts), printable'
csv\t'One row per request, for a spreadsheet'"
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from report" -l config -d 'The server\'s settings file (TOML): `listen`, `data`, `database`, `database_password_file`, `key_encryption_key_file`, `tls_cert`, `tls_key`, and the `[web]`, `[oidc]` and `[auth]` tables. A flag given here wins over the file' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from report" -l data -d 'Where the database and signing key live (default: ~/.local/share/gatekeep/server)' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from report" -l database -d 'A PostgreSQL database instead of SQLite in --data (`postgres://USER@HOST/DB`), for several replicas on one database. Give the password with --database-password-file or in PGPASSFILE (~/.pgpass), not in the URL, which other users can read in `ps`' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from report" -l database-password-file -d 'A file whose first line is the --database password' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from report" -l key-encryption-key-file -d 'The key-encryption key that seals the signing keys kept in the --database (32 random bytes, base64url, 0600: `gatekeep server key new-kek FILE` makes one). Every replica needs a copy of the same file' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from report" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from help" -f -a "token" -d 'Create, list and revoke the tokens requesters and approvers use'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from help" -f -a "key" -d 'Rotate the verdict-signing key, or make a key-encryption key for PostgreSQL'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from help" -f -a "session" -d 'List and revoke approver sessions (from OIDC sign-ins)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from help" -f -a "audit" -d 'Verify or export the service\'s hash-chained audit trail'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from help" -f -a "report" -d 'Who requested what, who approved it, when and why, labelled with the controls it evidences (SOC 2, NIST 800-53)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand server; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand login" -l server -d 'The approval service\'s URL' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand login" -l key -d 'The thumbprint of the service\'s signing key, as `gatekeep server` prints it; without it the key is shown and you are asked to confirm it' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand login" -l ca -d 'Trust this PEM CA certificate for the service\'s https certificate, besides the system\'s (a private CA); recorded as `ca` in config.toml' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand login" -l tls-pin -d 'Also require the service certificate\'s public key to be this one (`sha256/BASE64`, as `gatekeep server --tls-cert` prints it); recorded as `tls_pin`' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand login" -l proxy -d 'Reach the service through this http:// proxy (CONNECT); recorded as `proxy`. Proxy environment variables are never used' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand login" -l max-age -d 'With --oidc: make the provider ask for the password again unless you signed in there within SECONDS (what a request with `fresh_auth` asks for)' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand login" -l insecure-http -d 'Accept plain http:// to a host that is not loopback: the token and every request cross the network unencrypted. Only for a network you trust; recorded as `insecure_http = true`'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand login" -l oidc -d 'Sign in as an approver at the service\'s identity provider (OpenID Connect) instead of reading a token: a user code to enter at the provider (device flow), or a browser sign-in that returns to this machine when the provider has no device flow'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand login" -l no-device -d 'With --oidc: skip the device flow and sign in through a browser on this machine'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand login" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand logout" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand whoami" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand pending" -l json
complete -c gatekeep -n "__fish_gatekeep_using_subcommand pending" -l watch -d 'Follow the list as it changes: a full-screen view on a terminal (keys to open, approve and deny); with --json or without a terminal, one JSON line per new or changed request until interrupted'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand pending" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand show" -l json
complete -c gatekeep -n "__fish_gatekeep_using_subcommand show" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand approve" -l reason -d 'Why, recorded with the approval' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand approve" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand deny" -l reason -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand deny" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand doctor" -l user -d 'The agent\'s unix user (default: the current user)' -r
complete -c gatekeep -n "__fish_gatekeep_using_subcommand doctor" -l root -d 'Read DIR as if it were `/` (tests; doctor only reads)' -r -F
complete -c gatekeep -n "__fish_gatekeep_using_subcommand doctor" -l json
complete -c gatekeep -n "__fish_gatekeep_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand completions" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand man" -s h -l help -d 'Print help'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "exec" -d 'Run a command after the gate: allowed commands run at once, others wait for approval'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "check" -d 'Show what gatekeep would decide for a command, without running it'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "policy" -d 'Inspect and test the layered policy'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "audit" -d 'Read and verify the local ledger of decisions'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "init" -d 'Print the snippet that guards an interactive shell: `eval "$(gatekeep init bash)"`'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "hook" -d 'Answer an agent\'s PreToolUse hook (JSON on stdin, JSON on stdout)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "server" -d 'Run the approval service, or manage its tokens, audit trail and reports'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "login" -d 'Connect this machine to an approval service: check a token (read from stdin), pin the service\'s signing key, and store both'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "logout" -d 'Forget the approval service and its tokens'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "whoami" -d 'Show the approval service and the identities this machine\'s tokens stand for'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "pending" -d 'List the requests waiting for approval (approver token)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "show" -d 'Show one request'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "approve" -d 'Approve a request (approver token; never your own)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "deny" -d 'Deny a request; the agent is shown the reason'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "doctor" -d 'Report whether the agent\'s unix user could move the trust anchor: who pinned the server key and whether the agent can write it, credentials, the ledger, the server URL, proxy variables, policy layers'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "man" -d 'Write man pages into a directory (used to refresh `man/`)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and not __fish_seen_subcommand_from exec check policy audit init hook server login logout whoami pending show approve deny doctor completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "test" -d 'Run every rule\'s `match` and `not_match` examples'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "lint" -d 'Validate policy files without using them'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "show" -d 'Print the effective policy: every active rule and the layer it came from'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "show" -d 'Print the ledger\'s records'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Check that no record was edited, removed, inserted or reordered'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "checkpoints" -d 'Print the approval service\'s signed checkpoints this ledger holds (one came with each verdict), as JSON Lines: an auditor checks the service\'s chain against them with `gatekeep server audit verify --checkpoints FILE`'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "export" -d 'Export every record as JSON Lines or CSV'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "claude-code" -d 'Claude Code\'s PreToolUse hook for its Bash tool'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "codex" -d 'Codex\'s PreToolUse hook for its Bash tool. Codex has no dialog: with an approval service configured, commands that need approval wait for it'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "install" -d 'Write the hook into the agent\'s settings file, after showing the change'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from server" -f -a "token" -d 'Create, list and revoke the tokens requesters and approvers use'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from server" -f -a "key" -d 'Rotate the verdict-signing key, or make a key-encryption key for PostgreSQL'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from server" -f -a "session" -d 'List and revoke approver sessions (from OIDC sign-ins)'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from server" -f -a "audit" -d 'Verify or export the service\'s hash-chained audit trail'
complete -c gatekeep -n "__fish_gatekeep_using_subcommand help; and __fish_seen_subcommand_from server" -f -a "report" -d 'Who requested what, who approved it, when and why, labelled with the controls it evidences (SOC 2, NIST 800-53)'
