//! The approval service's HTTP API, shared by `gatekeep server` and its clients: paths and
//! JSON bodies. Version 1, under `/v1`; every call but `/healthz` and the JWK Set takes a
//! bearer token.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /healthz` | anyone | liveness |
//! | `GET /.well-known/jwks.json` | anyone | the verdict-signing key |
//! | `GET /v1/whoami` | any token | the token's identity |
//! | `POST /v1/requests` | requester | create (idempotent on id + nonce + digest) |
//! | `GET /v1/requests?state=pending[&limit=N][&after=ID]` | approver | what waits for their approval, a page at a time |
//! | `GET /v1/requests/{id}` | its requester, approvers | one request |
//! | `GET /v1/requests/{id}/wait?timeout=S` | its requester | long poll until final |
//! | `POST /v1/requests/{id}/cancel` | its requester | cancel while pending |
//! | `POST /v1/requests/{id}/outcome` | its requester | how the command ended |
//! | `POST /v1/requests/{id}/approve` / `deny` | approver | decide |
//! | `GET /v1/anchors` | requester | the ledger heads the server recorded for this token |

use serde::{Deserialize, Serialize};

use crate::audit::redact;

/// What kind of identity a token stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An agent or pipeline: creates requests and waits on them; never approves.
    Requester,
    /// A person: approves or denies other identities' requests.
    Approver,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Requester => "requester",
            Role::Approver => "approver",
        })
    }
}

/// An authenticated identity. Later channels (Slack, Teams, web with OIDC) map their users
/// onto the same names, so that self-approval checks compare like with like.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub groups: Vec<String>,
    /// For a requester token: the person the agent works for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

/// Where the request comes from, as the client reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub user: String,
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    pub cwd: String,
}

/// What a request asks approvers to decide, as the client sent it: the part that a create
/// ([`CreateRequest`]) and the server's view of it ([`RequestView`]) share, flattened into
/// both on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    /// The argv, secrets masked. There is deliberately no free-text command beside it: the
    /// server derives what people read from this argv ([`display_argv`]), so the text an
    /// approver reads and the words the client runs cannot be sent apart.
    pub argv: Vec<String>,
    /// SHA-256 of the exact unmasked argv, cwd and requester.
    pub digest: String,
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Ids of the rules that asked for approval.
    pub rules: Vec<String>,
    /// Each rule's message, in the order of `rules`: what the policy tells the approver.
    /// (A project's policy file is text the agent may have written, so it is shown
    /// terminal-safe and covered by [`Shown`] like everything else the client sends.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    pub risk: String,
    /// Distinct approvers needed.
    pub quorum: u32,
    /// Groups an approver must belong to (any one of them); empty means any approver.
    #[serde(default)]
    pub groups: Vec<String>,
    /// One set of groups per rule that names them: each set must be met by an approval
    /// from one of its groups. Empty: `groups` is the only set (clients before sets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_sets: Vec<Vec<String>>,
    /// Step-up: the oldest, in seconds, that an approver's sign-in at the identity provider
    /// may be (the strictest `fresh_auth` of the rules). Absent: any approver session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_auth: Option<u64>,
}

/// `POST /v1/requests`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// Chosen by the client, so that a retried create is recognised.
    pub id: String,
    /// Chosen by the client for this one run; the verdict must carry it back.
    pub nonce: String,
    #[serde(flatten)]
    pub ask: Ask,
    /// Seconds the request may wait; the server caps it at its own maximum.
    pub timeout_secs: u64,
    /// The head of the requester's local ledger when it asked (its record of this request),
    /// kept in the server's own chain so that a later wipe or rewrite of the local ledger
    /// shows (`gatekeep audit verify --against-server`). Absent from older clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<LedgerHead>,
}

/// The last record of a local ledger: its seq and hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerHead {
    pub seq: u64,
    pub hash: String,
}

impl From<crate::audit::ledger::Head> for LedgerHead {
    fn from(h: crate::audit::ledger::Head) -> LedgerHead {
        LedgerHead {
            seq: h.seq,
            hash: h.hash,
        }
    }
}

/// `GET /v1/anchors`: one ledger head the server recorded in its audit trail, from the
/// `created` event of one of the caller's requests. Oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The request whose creation carried it (its `request` record is the anchored one).
    pub request_id: String,
    /// The anchored local record.
    pub seq: u64,
    pub hash: String,
    /// Where the request said it came from: one token may serve several ledgers.
    pub user: String,
    pub host: String,
    /// The server's audit event that holds it, and when it was written.
    pub event_seq: i64,
    pub time: String,
}

/// Quotes a word for display so that the line reads as the shell would split it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-*".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The one line people read for `argv`, secrets masked: on the client's prompt, in its
/// messages and ledger, and on the server for approvers. Client and server both call this on
/// the argv the client sends, so they agree on what was shown (see [`Shown`]).
///
/// An argv is shown shell-quoted, word by word. A shell string (`gatekeep exec --shell
/// STRING`, which runs exactly `bash -c STRING`) is shown as the string itself: that is the
/// text bash reads, and `bash -c STRING` typed as an argv is the same command and is shown
/// the same way. Anything else after `bash -c` (extra words become `$0`, `$1`...) is not
/// that shape and is shown quoted in full.
pub fn display_argv(argv: &[String]) -> String {
    let masked = redact::mask_argv(argv);
    match masked.as_slice() {
        [bash, flag, script] if matches!(bash.as_str(), "/bin/bash" | "bash") && flag == "-c" => {
            script.clone()
        }
        words => words
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// What an approver is shown that came from the client. Its SHA-256 ([`Shown::digest`]) is
/// signed into the verdict as the `shown` claim; the client computes it again from what it
/// sent and refuses a verdict whose `shown` differs, so nothing between the two (a proxy, a
/// buggy server) can change what a person reads and still have the command run.
///
/// Canonical encoding, version 2: one JSON object with exactly these members in this order,
/// no whitespace, `null` for an absent `reason` or `agent`, integers in decimal, strings
/// escaped minimally (`\"`, `\\`, `\b \f \n \r \t`, other characters below U+0020 as
/// `\u00xx` in lowercase hex, everything else as literal UTF-8), the way `serde_json` writes
/// it:
///
/// `{"v":2,"command":…,"reason":…,"rules":[…],"messages":[…],"risk":…,"quorum":…,"groups":[…],"group_sets":[[…],…],"user":…,"host":…,"agent":…,"cwd":…}`
///
/// with `,"fresh_auth":N` appended before the closing brace only when the request asks for
/// step-up: a request without it encodes exactly as before, and one with it cannot have its
/// step-up dropped on the way (a server that ignored the field computes another digest, and
/// its verdict is refused).
///
/// `command` is [`display_argv`] of the argv and `reason` is the reason masked with
/// [`redact::mask_text`], both computed from the request as sent; the other members are the
/// request's own values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shown {
    pub v: u32,
    pub command: String,
    pub reason: Option<String>,
    pub rules: Vec<String>,
    pub messages: Vec<String>,
    pub risk: String,
    pub quorum: u32,
    pub groups: Vec<String>,
    pub group_sets: Vec<Vec<String>>,
    pub user: String,
    pub host: String,
    pub agent: Option<String>,
    pub cwd: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fresh_auth: Option<u64>,
}

impl Shown {
    /// What approvers are shown for `req`.
    pub fn of(req: &CreateRequest) -> Shown {
        Shown {
            v: 2,
            command: display_argv(&req.ask.argv),
            reason: req.ask.reason.as_deref().map(redact::mask_text),
            rules: req.ask.rules.clone(),
            messages: req
                .ask
                .messages
                .iter()
                .map(|m| redact::mask_text(m))
                .collect(),
            risk: req.ask.risk.clone(),
            quorum: req.ask.quorum,
            groups: req.ask.groups.clone(),
            group_sets: req.ask.group_sets.clone(),
            user: req.ask.origin.user.clone(),
            host: req.ask.origin.host.clone(),
            agent: req.ask.origin.agent.clone(),
            cwd: req.ask.origin.cwd.clone(),
            fresh_auth: req.ask.fresh_auth,
        }
    }

    /// The canonical encoding (see the type's documentation).
    pub fn canonical(&self) -> String {
        // Serialising a struct of strings, numbers and lists cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// SHA-256 of the canonical encoding, lowercase hex: the verdict's `shown` claim.
    pub fn digest(&self) -> String {
        crate::audit::ledger::sha256_hex(self.canonical().as_bytes())
    }
}

/// The state of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Approved,
    Denied,
    Expired,
    Cancelled,
}

impl State {
    pub fn is_final(self) -> bool {
        self != State::Pending
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Expired => "expired",
            State::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request as the server shows it. The nonce is never shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    pub id: String,
    pub state: State,
    /// What approvers read, derived by the server from `argv`.
    pub command: String,
    #[serde(flatten)]
    pub ask: Ask,
    /// The requester token's identity name.
    pub requester: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    /// The same deadline in seconds since the epoch.
    pub expires_unix: u64,
    /// Every approver's decision so far.
    pub approvals: Vec<crate::api::verdict::Approval>,
    /// The signed verdict, once final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// How the command ended, once the requester has reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<RunReport>,
    /// Once final: a signed checkpoint of the service's audit chain (a compact JWS, see
    /// [`crate::api::checkpoint`]) that covers the event holding the verdict. The client checks
    /// it with the pinned key and keeps it in its ledger. Absent from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// `POST /v1/requests/{id}/approve|deny|cancel`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decide {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /v1/requests/{id}/outcome`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    pub exit_code: i32,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

/// Every error body: `{"error": "..."}` with a message that says what to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// The most requests one page of `GET /v1/requests` holds (`?limit=N&after=ID` pages on).
pub const PAGE_MAX: usize = 100;

/// The longest a long poll is held open, so that proxies do not cut it.
pub const MAX_WAIT_SECS: u64 = 25;

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    /// The shared part is flattened: on the wire a create and a view are the flat objects
    /// they were before [`Ask`] existed, so older clients and servers read them.
    #[test]
    fn the_shared_part_is_flat_on_the_wire() {
        let c = create(argv(&["kubectl", "delete", "ns", "prod"]));
        let json = serde_json::to_value(&c).unwrap();
        assert!(json.get("ask").is_none(), "{json}");
        assert_eq!(json["argv"][1], "delete");
        assert_eq!(json["origin"]["cwd"], c.ask.origin.cwd);
        assert_eq!(json["timeout_secs"], c.timeout_secs);
        let flat = serde_json::json!({
            "id": "r2", "nonce": "n".repeat(16), "argv": ["ls"], "digest": "ab",
            "origin": {"user": "u", "host": "h", "cwd": "/"}, "rules": ["r"], "risk": "low",
            "quorum": 2, "timeout_secs": 5,
        });
        let read: CreateRequest = serde_json::from_value(flat).unwrap();
        assert_eq!((read.ask.quorum, read.ask.groups.len()), (2, 0));
        assert_eq!(read.ask.argv, ["ls"]);
    }

    fn create(argv: Vec<String>) -> CreateRequest {
        CreateRequest {
            id: "r1".into(),
            nonce: "n".repeat(16),
            ask: Ask {
                argv,
                digest: "0".repeat(64),
                origin: Origin {
                    user: "alice".into(),
                    host: "dev1".into(),
                    agent: Some("claude".into()),
                    cwd: "/work".into(),
                },
                reason: Some("rotate the key".into()),
                rules: vec!["kubectl-delete".into()],
                messages: vec!["Deleting in a cluster needs approval.".into()],
                risk: "high".into(),
                quorum: 1,
                groups: vec!["sre".into()],
                group_sets: Vec::new(),
                fresh_auth: None,
            },
            ledger: None,
            timeout_secs: 60,
        }
    }

    #[test]
    fn argv_and_shell_strings_display_as_the_shell_reads_them() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["kubectl", "delete", "ns", "prod"],
                "kubectl delete ns prod",
            ),
            (&["echo", "a b", "it's"], r"echo 'a b' 'it'\''s'"),
            (
                &["/bin/bash", "-c", "kubectl get pods | wc -l"],
                "kubectl get pods | wc -l",
            ),
            (&["bash", "-c", "ls"], "ls"),
            // Extra words after the script are $0, $1: not the plain shell-string shape.
            (
                &["bash", "-c", "rm -rf \"$0\"", "/"],
                r#"bash -c 'rm -rf "$0"' /"#,
            ),
            (&["psql", "--password=hunter2"], "psql --password=****"),
            (
                &["/bin/bash", "-c", "curl -H 'Authorization: Bearer abc' x"],
                "curl -H 'Authorization: Bearer ****' x",
            ),
        ];
        for (words, want) in cases {
            assert_eq!(display_argv(&argv(words)), *want, "{words:?}");
        }
    }

    #[test]
    fn shown_has_a_stable_canonical_encoding() {
        let shown = Shown::of(&create(argv(&["kubectl", "delete", "ns", "prod"])));
        assert_eq!(
            shown.canonical(),
            r#"{"v":2,"command":"kubectl delete ns prod","reason":"rotate the key","rules":["kubectl-delete"],"messages":["Deleting in a cluster needs approval."],"risk":"high","quorum":1,"groups":["sre"],"group_sets":[],"user":"alice","host":"dev1","agent":"claude","cwd":"/work"}"#
        );
        // A fixed vector: any change to the encoding changes every verdict's `shown`.
        // (`printf '%s' TEXT | sha256sum` gives the same.)
        assert_eq!(
            shown.digest(),
            "e13a11ac922dafdeac4dfe1da70a563ab1c10117263f0f0ea4855ebb4e8ee3d3"
        );
        let mut none = create(argv(&["x"]));
        none.ask.reason = None;
        none.ask.origin.agent = None;
        let text = Shown::of(&none).canonical();
        assert!(
            text.contains(r#""reason":null"#) && text.contains(r#""agent":null"#),
            "{text}"
        );
        // Escapes as documented: short forms, lowercase \u00xx for other controls, the rest
        // (DEL, non-ASCII) literal.
        none.ask.reason = Some("a\u{1b}[2K\"\\\n\u{7f}é".into());
        let text = Shown::of(&none).canonical();
        assert!(
            text.contains("\"reason\":\"a\\u001b[2K\\\"\\\\\\n\u{7f}é\""),
            "{text}"
        );
    }

    #[test]
    fn the_client_and_the_server_agree_and_any_shown_change_is_seen() {
        // The client sends masked words and computes `shown` from them; the server computes it
        // from what it received. The same bytes give the same digest.
        let raw = argv(&["mysql", "-phunter2", "-e", "drop database prod"]);
        let sent = create(redact::mask_argv(&raw));
        let received: CreateRequest =
            serde_json::from_str(&serde_json::to_string(&sent).unwrap()).unwrap();
        assert_eq!(Shown::of(&sent).digest(), Shown::of(&received).digest());
        assert!(!Shown::of(&sent).command.contains("hunter2"));

        let base = Shown::of(&sent).digest();
        let changes: [fn(&mut CreateRequest); 13] = [
            |r| r.ask.fresh_auth = Some(300),
            |r| r.ask.argv = argv(&["mysql", "-e", "select 1"]),
            |r| r.ask.reason = Some("routine".into()),
            |r| r.ask.rules = vec!["read-only".into()],
            |r| r.ask.risk = "low".into(),
            |r| r.ask.quorum = 2,
            |r| r.ask.groups = Vec::new(),
            |r| r.ask.messages = vec!["Routine.".into()],
            |r| r.ask.group_sets = vec![vec!["sre".into()], vec!["dba".into()]],
            |r| r.ask.origin.cwd = "/tmp".into(),
            |r| r.ask.origin.host = "other".into(),
            |r| r.ask.origin.user = "bob".into(),
            |r| r.ask.origin.agent = None,
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut r = sent.clone();
            change(&mut r);
            assert_ne!(Shown::of(&r).digest(), base, "change {i} went unseen");
        }
    }
}
