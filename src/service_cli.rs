//! The approval service's client commands: `login`, `logout` and `whoami` for any machine
//! that uses it, and `pending`, `show`, `approve` and `deny` for approvers. Thin: the work is
//! in [`crate::approval::remote`]. The operators' `gatekeep server ...` is in the server's
//! own `cli` module.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::api::protocol::{RequestView, Role};
use crate::api::verdict;
use crate::approval::credentials::{self, Stored};
use crate::approval::remote::{self, Client, RemoteError};
use crate::exit;
use crate::render::{self, Safe, terminal_safe};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The approval service's URL.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The thumbprint of the service's signing key, as `gatekeep server` prints it; without
    /// it the key is shown and you are asked to confirm it.
    #[arg(long, value_name = "THUMBPRINT", allow_hyphen_values = true)]
    pub key: Option<String>,
    /// Trust this PEM CA certificate for the service's https certificate, besides the
    /// system's (a private CA); recorded as `ca` in config.toml.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Also require the service certificate's public key to be this one
    /// (`sha256/BASE64`, as `gatekeep server --tls-cert` prints it); recorded as `tls_pin`.
    #[arg(long, value_name = "PIN")]
    pub tls_pin: Option<String>,
    /// Reach the service through this http:// proxy (CONNECT); recorded as `proxy`.
    /// Proxy environment variables are never used.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Accept plain http:// to a host that is not loopback: the token and every request
    /// cross the network unencrypted. Only for a network you trust; recorded as
    /// `insecure_http = true`.
    #[arg(long)]
    pub insecure_http: bool,
    /// Sign in as an approver at the service's identity provider (OpenID Connect) instead
    /// of reading a token: a user code to enter at the provider (device flow), or a
    /// browser sign-in that returns to this machine when the provider has no device flow.
    #[arg(long)]
    pub oidc: bool,
    /// With --oidc: skip the device flow and sign in through a browser on this machine.
    #[arg(long, requires = "oidc")]
    pub no_device: bool,
    /// With --oidc: make the provider ask for the password again unless you signed in
    /// there within SECONDS (what a request with `fresh_auth` asks for).
    #[arg(long, value_name = "SECONDS", requires = "oidc")]
    pub max_age: Option<u64>,
}

/// Reads a token: from stdin when it is piped, else typed at the terminal without echo.
fn read_token() -> Result<String> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    if stdin.is_terminal() {
        use nix::sys::termios::{self, LocalFlags, SetArg};
        // Echo goes off before the prompt shows: a token pasted the moment `token:`
        // appears must not be echoed.
        let saved = termios::tcgetattr(&stdin).ok();
        if let Some(saved) = &saved {
            let mut quiet = saved.clone();
            quiet.local_flags.remove(LocalFlags::ECHO);
            let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &quiet);
        }
        eprint!("token: ");
        let read = stdin.lock().read_line(&mut line);
        if let Some(saved) = &saved {
            let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, saved);
        }
        eprintln!();
        read?;
    } else {
        stdin.lock().read_line(&mut line)?;
    }
    let token = line.trim().to_owned();
    if token.is_empty() {
        bail!(
            "no token given\nhint: echo TOKEN | gatekeep login --server URL, with a token from `gatekeep server token create`"
        );
    }
    Ok(token)
}

/// `gatekeep login`: checks the token, pins the service's key, stores both.
pub fn login(args: LoginArgs) -> Result<ExitCode> {
    let url = args.server.trim_end_matches('/').to_owned();
    if !url.starts_with("http://") && !url.starts_with("https://") {
        bail!("`{url}` is not an http(s) URL");
    }
    let ca = match &args.ca {
        Some(ca) => Some(
            std::fs::canonicalize(ca)
                .with_context(|| format!("cannot read the CA file {}", ca.display()))?,
        ),
        None => None,
    };
    let connection = remote::Connection {
        proxy: args.proxy.clone(),
        ca,
        tls_pin: args.tls_pin.clone(),
        insecure_http: args.insecure_http,
        // Replicas are listed by hand in `urls` (see README: deployment).
        replicas: Vec::new(),
    };
    if let Some(pin) = &connection.tls_pin {
        crate::approval::tls::parse_pin(pin).map_err(anyhow::Error::msg)?;
    }
    if let Some(proxy) = &connection.proxy
        && !proxy.starts_with("http://")
    {
        bail!("--proxy `{proxy}` is not an http:// proxy URL");
    }
    if connection.insecure_http && url.starts_with("http://") && !remote::is_loopback(&url) {
        eprintln!(
            "gatekeep: warning: using plain http to {url}: the token and every request cross the network unencrypted (recorded as insecure_http in config.toml)"
        );
    }
    // The token first, as the README shows: asked after the key question, a pasted token
    // would land in the [y/N] answer, echoed on the screen.
    let token = if args.oidc { None } else { Some(read_token()?) };
    let anonymous = Client::connect(&url, &connection, None)?;
    let jwks = anonymous.jwks().context("cannot read the service's key")?;
    let keys: Vec<_> = jwks.keys.iter().filter_map(|k| k.key()).collect();
    let key = match &args.key {
        Some(want) => keys
            .iter()
            .find(|k| verdict::thumbprint(k) == *want)
            .copied()
            .with_context(|| {
                format!(
                    "the service at {url} does not have the key {want} (it has: {})\nhint: this may not be your approval service; check the thumbprint that `gatekeep server` printed",
                    keys.iter().map(verdict::thumbprint).collect::<Vec<_>>().join(", ")
                )
            })?,
        None => {
            // After a rotation the set holds the current key and the previous one, which
            // endorses it: the current one is pinned (the one no other key supersedes).
            let Some(key) = crate::api::keys::current_key(&jwks) else {
                bail!("the service at {url} publishes {} keys and none is plainly the current one; name the one to trust with --key THUMBPRINT", keys.len());
            };
            confirm_key(&url, &key)?;
            key
        }
    };
    if let Ok(Some(current)) = remote::load_config()
        && current.key != key
    {
        eprintln!(
            "gatekeep: replacing the pinned key {} (from {}) with {}",
            current.key_id(),
            current.source.display(),
            verdict::thumbprint(&key)
        );
    }
    let token = match token {
        Some(token) => token,
        None => {
            let options = crate::approval::oidc_login::Options {
                no_device: args.no_device,
                max_age: args.max_age,
            };
            crate::approval::oidc_login::sign_in(&anonymous, &options)
                .context("the sign-in at the identity provider failed")?
                .token
        }
    };
    let client = Client::connect(&url, &connection, Some(token.clone()))?;
    let me = client
        .whoami()
        .context("the service did not accept the token")?;
    let stored = credentials::store(&url, me.role, &token)?;
    let path = remote::save_user_config(&url, &key, &connection)?;
    if let Ok(Some(active)) = remote::load_config()
        && active.source != path
    {
        eprintln!(
            "gatekeep: note: {} names a server too, and it takes precedence over {}",
            active.source.display(),
            path.display()
        );
    }
    println!(
        "logged in to {} as {} ({})",
        Safe(&url),
        Safe(&me.name),
        me.role
    );
    match stored {
        Stored::Keyring => println!("token stored in the OS keyring"),
        Stored::File(file) => println!(
            "token stored in {} (mode 0600): no keyring is available on this machine",
            file.display()
        ),
    }
    println!(
        "pinned signing key {} in {}",
        verdict::thumbprint(&key),
        path.display()
    );
    Ok(exit::code(exit::SUCCESS))
}

/// Shows the key's thumbprint and asks a person at the terminal to confirm it.
fn confirm_key(url: &str, key: &ed25519_dalek::VerifyingKey) -> Result<()> {
    let thumbprint = verdict::thumbprint(key);
    let Ok(mut tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        bail!(
            "the service at {url} signs with key {thumbprint}; with no terminal to confirm it, pass --key {thumbprint} after checking it against what `gatekeep server` printed"
        );
    };
    write!(
        tty,
        "The approval service at {url} signs verdicts with key\n  {thumbprint}\nCompare it with the key `gatekeep server` printed at start. Trust it? [y/N] "
    )?;
    let mut answer = String::new();
    std::io::BufReader::new(&tty).read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("key not trusted; nothing was changed");
    }
    Ok(())
}

/// `gatekeep logout`: forgets the tokens and the server.
pub fn logout() -> Result<ExitCode> {
    let Some(config) = remote::load_config()? else {
        eprintln!("gatekeep: not logged in to any approval service");
        return Ok(exit::code(exit::SUCCESS));
    };
    let mut removed = false;
    for kind in [Role::Requester, Role::Approver] {
        removed |= credentials::remove(&config.url, kind)?;
    }
    let cleared = remote::clear_user_config()?;
    println!(
        "logged out of {}{}",
        config.url,
        if removed { "; tokens removed" } else { "" }
    );
    if !cleared {
        eprintln!(
            "gatekeep: note: the server is set in {}, which logout does not change",
            config.source.display()
        );
    }
    Ok(exit::code(exit::SUCCESS))
}

/// The configured server, or an error that says how to configure one.
pub(crate) fn configured() -> Result<remote::ServerConfig> {
    remote::load_config()?
        .context("no approval service is configured\nhint: run `gatekeep login --server URL`")
}

pub(crate) fn client(config: &remote::ServerConfig, role: Role) -> Result<Client> {
    let token = credentials::load(&config.url, role)?.ok_or_else(|| RemoteError::NoToken {
        url: config.url.clone(),
        role,
    })?;
    Ok(Client::connect(
        &config.url,
        &config.connection,
        Some(token),
    )?)
}

/// The ledger heads the configured service holds for this machine's requester token, and
/// where they came from (`gatekeep audit verify --against-server`).
pub fn anchors() -> Result<(remote::ServerConfig, Vec<crate::api::protocol::Anchor>)> {
    let config = configured()?;
    let anchors = client(&config, Role::Requester)?
        .anchors()
        .with_context(|| format!("cannot read the ledger's anchors from {}", config.url))?;
    Ok((config, anchors))
}

/// `gatekeep whoami`.
pub fn whoami() -> Result<ExitCode> {
    let config = configured()?;
    println!(
        "server: {} (key {}, from {})",
        config.url,
        config.key_id(),
        config.source.display()
    );
    let mut any = false;
    for kind in [Role::Requester, Role::Approver] {
        if credentials::load(&config.url, kind)?.is_none() {
            continue;
        }
        any = true;
        let me = client(&config, kind)?.whoami()?;
        let extra = match (&me.on_behalf_of, me.groups.is_empty()) {
            (Some(user), _) => format!(" on behalf of {user}"),
            (None, false) => format!(" in groups {}", me.groups.join(", ")),
            (None, true) => String::new(),
        };
        println!("{}: {}{}", me.role, Safe(&me.name), Safe(&extra));
    }
    if !any {
        bail!(
            "no token is stored for {}\nhint: run `gatekeep login --server {}`",
            config.url,
            config.url
        );
    }
    Ok(exit::code(exit::SUCCESS))
}

/// `gatekeep pending`.
pub fn pending(json: bool) -> Result<ExitCode> {
    let config = configured()?;
    let list = client(&config, Role::Approver)?.pending()?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(&list)?)?;
        return Ok(exit::code(exit::SUCCESS));
    }
    if list.is_empty() {
        writeln!(out, "no requests are waiting for approval")?;
    }
    // Every field of a request came from its requester (an agent): rendered terminal-safe,
    // and the command wrapped under its line so that it is never cut.
    let width = render::terminal_width(&out);
    for r in &list {
        let left = r.expires_unix.saturating_sub(verdict::unix_now());
        writeln!(
            out,
            "{}  {:<8}  {}  ({}{}; {} of {} approvals; {}:{:02} left)",
            Safe(&r.id),
            terminal_safe(&r.ask.risk),
            Safe(&r.requester),
            Safe(&r.ask.origin.user),
            r.on_behalf_of
                .as_deref()
                .map(|u| format!(" for {}", Safe(u)))
                .unwrap_or_default(),
            r.approvals.len(),
            r.ask.quorum,
            left / 60,
            left % 60,
        )?;
        writeln!(out, "{}", render::field("    ", &r.command, width))?;
    }
    Ok(exit::code(exit::SUCCESS))
}

fn print_request(r: &RequestView) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let width = render::terminal_width(&out);
    for line in request_lines(r, width) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// What `gatekeep show` prints about `r`, wrapped to `width` (one string per field, which
/// may hold several lines); `gatekeep pending --watch` shows the same.
pub fn request_lines(r: &RequestView, width: Option<usize>) -> Vec<String> {
    let mut lines = Vec::new();
    // What an approver reads before deciding: every value the requester sent (command,
    // reason, user, host, agent, directory, risk, rule ids, even the request id) is rendered
    // terminal-safe and wrapped under its label, so it cannot redraw or forge a line.
    let mut line = |label: &str, value: &str| lines.push(render::field(label, value, width));
    line("request   ", &r.id);
    line("state     ", &r.state.to_string());
    line("command   ", &r.command);
    line(
        "risk      ",
        &format!("{}   rules: {}", r.ask.risk, r.ask.rules.join(", ")),
    );
    // Each rule's message says why the policy holds the command (the approver's context).
    for (rule, message) in r.ask.rules.iter().zip(&r.ask.messages) {
        line("why       ", &format!("{message} [{rule}]"));
    }
    line(
        "requester ",
        &format!(
            "{}{} ({}@{}{}) in {}",
            r.requester,
            r.on_behalf_of
                .as_deref()
                .map(|u| format!(" on behalf of {u}"))
                .unwrap_or_default(),
            r.ask.origin.user,
            r.ask.origin.host,
            r.ask
                .origin
                .agent
                .as_deref()
                .map(|a| format!(", agent {a}"))
                .unwrap_or_default(),
            r.ask.origin.cwd
        ),
    );
    if let Some(reason) = &r.ask.reason {
        line("reason    ", reason);
    }
    // Several rules' groups must each be met (see `Requirements::approver_sets`).
    let groups = if r.ask.group_sets.len() > 1 {
        let sets: Vec<String> = r.ask.group_sets.iter().map(|s| s.join(" or ")).collect();
        format!(", covering each of: {}", sets.join("; "))
    } else if r.ask.groups.is_empty() {
        String::new()
    } else {
        format!(" from {}", r.ask.groups.join(" or "))
    };
    // Step-up: said before the approver tries, with the way to a fresh enough sign-in.
    let fresh = r
        .ask
        .fresh_auth
        .map(|s| format!(", signed in at the identity provider within {s} s (`gatekeep login --oidc --max-age {s}`)"))
        .unwrap_or_default();
    line(
        "needs     ",
        &format!("{} approver(s){groups}{fresh}", r.ask.quorum),
    );
    line(
        "created   ",
        &format!("{}   expires {}", r.created_at, r.expires_at),
    );
    for a in &r.approvals {
        line(
            "          ",
            &format!(
                "{} by {} via {} at {}{}",
                a.decision,
                a.name,
                a.channel,
                a.at,
                a.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        );
    }
    if let Some(o) = &r.outcome {
        let how = match &o.signal {
            Some(signal) => format!("ended by {signal}"),
            None => format!("exited {}", o.exit_code),
        };
        line("outcome   ", &format!("{how} after {} ms", o.duration_ms));
    }
    lines
}

/// `gatekeep show ID`: with the approver token if there is one, else the requester's.
pub fn show(id: &str, json: bool) -> Result<ExitCode> {
    let config = configured()?;
    let client = client(&config, Role::Approver).or_else(|_| client(&config, Role::Requester))?;
    let r = client.get(id)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        print_request(&r)?;
    }
    Ok(exit::code(exit::SUCCESS))
}

/// `gatekeep approve ID` / `gatekeep deny ID --reason TEXT`.
pub fn decide(id: &str, approve: bool, reason: Option<String>) -> Result<ExitCode> {
    let config = configured()?;
    let r = client(&config, Role::Approver)?.decide(id, approve, reason)?;
    let approvals = r
        .approvals
        .iter()
        .filter(|a| a.decision == "approved")
        .count();
    match r.state {
        crate::api::protocol::State::Pending => println!(
            "approved request {}: {approvals} of {} approvals; it waits for more",
            Safe(id),
            r.ask.quorum
        ),
        state => println!("request {} is now {state}: {}", Safe(id), Safe(&r.command)),
    }
    Ok(exit::code(exit::SUCCESS))
}
