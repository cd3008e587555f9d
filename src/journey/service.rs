//! Asking through the approval service: create the request, wait for it to be decided, and
//! believe the verdict only after checking it against the pinned key (or a key the pinned
//! key endorsed, after a rotation), this request, this command, this run and what the
//! approver was shown.

use std::time::Duration;

use super::event::{Decided, DecisionKind, LedgerEvent};
use super::refusal::{Refusal, RefusalKind};
use super::{Asked, Journey};
use crate::api::checkpoint;
use crate::api::protocol::{self, CreateRequest, Origin, Role};
use crate::api::verdict::{self, FinalState, JwkSet};
use crate::approval::{credentials, prompt, remote, wait};
use crate::audit::redact;
use crate::policy::{Assessment, Requirements};

/// The longest a create waits out an approval service at its connection limit (503).
const BUSY_RETRY_SECS: u64 = 30;

/// The keys a verdict or checkpoint may be signed with: the pinned key, or one the pinned
/// key endorsed (after a rotation), looked up in the service's JWK Set, fetched once and
/// only when a token names another key. Nothing in the set is believed on its own: see
/// [`crate::api::keys::trusted_key`].
struct Keys<'a> {
    client: &'a remote::Client,
    pinned: ed25519_dalek::VerifyingKey,
    jwks: Option<JwkSet>,
}

impl Keys<'_> {
    fn key(&mut self, kid: &str) -> Result<ed25519_dalek::VerifyingKey, String> {
        let jwks = match &self.jwks {
            Some(jwks) => jwks,
            None => {
                let jwks = self.client.jwks().map_err(|e| {
                    format!(
                        "it is signed by key {kid}, not the pinned key {}, and the service's keys cannot be read to check that the pinned key endorsed it: {e}",
                        verdict::thumbprint(&self.pinned)
                    )
                })?;
                self.jwks.insert(jwks)
            }
        };
        crate::api::keys::trusted_key(&self.pinned, jwks, kid).map_err(|e| e.to_string())
    }
}

impl Journey<'_> {
    /// Asks the service at `server`; every ending is recorded before it is returned.
    pub(crate) fn ask_service(
        &self,
        a: &Assessment,
        req: &Requirements,
        server: &remote::ServerConfig,
    ) -> Asked {
        let unavailable = |why: &str| self.not_asked(RefusalKind::Unavailable, why);
        let token = match credentials::load(&server.url, Role::Requester) {
            Ok(Some(token)) => token,
            Ok(None) => {
                let e = remote::RemoteError::NoToken {
                    url: server.url.clone(),
                    role: Role::Requester,
                };
                return unavailable(&e.to_string());
            }
            Err(e) => return unavailable(&e.to_string()),
        };
        let nonce = match crate::api::verdict::random_b64(24) {
            Ok(nonce) => nonce,
            Err(e) => return unavailable(&format!("cannot make a nonce: {e}")),
        };
        let argv = self.command.argv();
        let asking = prompt::rules_asking(a);
        let create = CreateRequest {
            id: self.id.clone(),
            nonce: nonce.clone(),
            ask: protocol::Ask {
                argv: redact::mask_argv(&argv),
                digest: self.digest.clone(),
                origin: Origin {
                    user: self.requester.user.clone(),
                    host: self.requester.host.clone(),
                    agent: self.requester.agent.clone(),
                    cwd: self.requester.cwd.clone(),
                },
                reason: self.opts.reason.as_deref().map(redact::mask_text),
                rules: asking.iter().map(|r| r.0.clone()).collect(),
                // A project's policy file is text the agent may have written: masked like the
                // reason before it is stored, shown or sent.
                messages: asking
                    .into_iter()
                    .map(|r| redact::mask_text(&r.3))
                    .collect(),
                risk: a.risk.to_string(),
                quorum: req.quorum.max(1),
                groups: req.approvers.clone(),
                group_sets: req.approver_sets.clone(),
                fresh_auth: req.fresh_auth,
            },
            timeout_secs: req.timeout_secs,
            ledger: self.head.borrow().clone().map(Into::into),
        };
        // What approvers will be shown, computed from what this client sends (never from
        // anything the service echoes back): the verdict must carry the same digest of it.
        let shown = protocol::Shown::of(&create).digest();
        let client = match remote::Client::connect(&server.url, &server.connection, Some(token)) {
            Ok(client) => client,
            Err(e) => return unavailable(&e.to_string()),
        };
        // A service at its connection limit answers 503: worth waiting out, but no longer
        // than the request itself could wait, and never more than half a minute.
        let busy_for = Duration::from_secs(req.timeout_secs.clamp(1, BUSY_RETRY_SECS));
        let view = match remote::create_patiently(&client, &create, busy_for) {
            Ok(view) => view,
            Err(e) => return unavailable(&e.to_string()),
        };
        let submitted = LedgerEvent::Submitted {
            server: server.url.clone(),
            key_id: server.key_id(),
            expires_at: view.expires_at.clone(),
        };
        if let Err(code) = self.record(submitted, true) {
            // Nothing will run; do not leave the request waiting for an approver.
            let _ = client.cancel(&self.id, Some("the requester could not record it".into()));
            return Asked::Stopped(code);
        }
        let view = match wait::wait_for_verdict(&client, &self.id, view.expires_unix) {
            wait::WaitEnd::Final(view) => view,
            wait::WaitEnd::Signal(sig) => {
                let cancelled = client.cancel(
                    &self.id,
                    Some(format!("the requester was stopped by signal {sig}")),
                );
                let mut d = Decided::new(DecisionKind::Cancelled);
                d.signal = Some(sig);
                d.server_cancelled = Some(cancelled.is_ok());
                d.verdict = cancelled.ok().and_then(|v| v.verdict);
                let _ = self.record(d, true);
                return Asked::Interrupted(sig);
            }
            wait::WaitEnd::Failed(why) => return unavailable(&why),
        };
        let expected = crate::api::verdict::Expected {
            rid: &self.id,
            digest: &self.digest,
            nonce: &nonce,
            shown: &shown,
            now: crate::api::verdict::unix_now(),
        };
        let jws = view.verdict.clone().unwrap_or_default();
        let mut keys = Keys {
            client: &client,
            pinned: server.key,
            jwks: None,
        };
        let checked = match expected.check(&jws, &server.key) {
            Err(verdict::VerdictError::OtherKey(kid)) => keys
                .key(&kid)
                .and_then(|key| expected.check(&jws, &key).map_err(|e| e.to_string())),
            other => other.map_err(|e| e.to_string()),
        };
        let claims = match checked {
            Ok(claims) => claims,
            Err(e) => {
                let why = format!("the approval service's verdict was rejected: {e}");
                let by = "gatekeep (verdict check)";
                let mut d = Decided::new(DecisionKind::Deny).by(by).why(&why);
                d.verdict = Some(jws);
                let _ = self.record(d, true);
                return Asked::Refused(Refusal::new(RefusalKind::Denied, by, Some(&why)));
            }
        };
        // The service's signed checkpoint of its audit chain, covering this verdict's
        // event: kept in the ledger so that this machine holds evidence of the service's
        // chain that a cut of its tail cannot remove. One that does not verify with the
        // pinned key means the service (or something in between) is not what was pinned:
        // the verdict is not believed either.
        let carried = view.checkpoint.as_deref();
        let checkpoint = match checkpoint::accept(carried, &server.key) {
            Err(checkpoint::CheckpointError::OtherKey(kid)) => keys
                .key(&kid)
                .and_then(|key| checkpoint::accept(carried, &key).map_err(|e| e.to_string())),
            other => other.map_err(|e| e.to_string()),
        };
        let checkpoint = match checkpoint {
            Ok(checkpoint) => checkpoint,
            Err(e) => {
                let why = format!(
                    "the approval service's checkpoint of its audit trail was rejected: {e}"
                );
                let by = "gatekeep (checkpoint check)";
                let mut d = Decided::new(DecisionKind::Deny).by(by).why(&why);
                d.verdict = Some(jws);
                d.checkpoint = view.checkpoint.clone();
                let _ = self.record(d, true);
                return Asked::Refused(Refusal::new(RefusalKind::Denied, by, Some(&why)));
            }
        };
        let by: Vec<String> = claims
            .approvers
            .iter()
            .map(|ap| format!("{} ({})", ap.name, ap.channel))
            .collect();
        let by = if by.is_empty() {
            "the approval service".to_owned()
        } else {
            by.join(", ")
        };
        let decided = |kind: DecisionKind| {
            let mut d = Decided::new(kind).by(&by).on("service");
            d.approvers = Some(claims.approvers.clone());
            d.verdict = Some(jws.clone());
            d.checkpoint = checkpoint.clone();
            d
        };
        let (d, asked) = match claims.decision {
            FinalState::Approved => (
                decided(DecisionKind::Approve),
                Asked::Approved {
                    by: by.clone(),
                    client: Some(client),
                },
            ),
            FinalState::Denied => {
                let mut d = decided(DecisionKind::Deny);
                d.denial_reason = claims.reason.clone();
                let refusal = Refusal::new(RefusalKind::Denied, &by, claims.reason.as_deref());
                (d, Asked::Refused(refusal))
            }
            FinalState::Expired => {
                let mut d = decided(DecisionKind::Expired);
                d.timeout_secs = Some(req.timeout_secs);
                let refusal = Refusal::new(
                    RefusalKind::Expired,
                    "nobody approved it in time (approval service)",
                    None,
                );
                (d, Asked::Refused(refusal))
            }
            // Only the server cancels a request this client did not (a revoked token).
            FinalState::Cancelled => (
                decided(DecisionKind::Cancelled),
                Asked::Refused(Refusal::new(
                    RefusalKind::Cancelled,
                    "the approval service",
                    claims.reason.as_deref(),
                )),
            ),
        };
        match self.record(d, true) {
            Ok(()) => asked,
            Err(code) => Asked::Stopped(code),
        }
    }
}
