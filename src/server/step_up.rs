//! Step-up authentication: a rule's `fresh_auth = SECONDS` makes an approval need a sign-in
//! at the identity provider no older than that. The approver's `auth_time` (from the ID
//! token their session came from, see [`super::event::IdpLogin`]) is compared with the
//! request's strictest `fresh_auth` when they approve; a static approver token has no
//! sign-in at all and is refused, as is a session whose provider did not say when its
//! person authenticated. Denials need no step-up: a denial cannot make anything run.
//!
//! The comparison has no clock-skew allowance: a provider clock behind this server's makes
//! a sign-in look older and is refused (fail closed); the fresh sign-in the refusal asks for
//! (`max_age` sent to the provider) fixes it.

use super::event::IdpLogin;

/// Why an approval needs a fresher sign-in: what the web page and the CLI show, with how to
/// sign in again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepUp {
    /// The oldest the sign-in may be, in seconds: send it as `max_age` when signing in.
    pub max_age: u64,
    /// The approver's sign-in time at the provider, when known.
    pub auth_time: Option<u64>,
    /// Whether the approver used an approver session (else a static token).
    pub session: bool,
    /// When the check was made (seconds since the epoch).
    pub now: u64,
}

impl StepUp {
    /// The browser's way back: the service's login route with `max_age`.
    pub fn browser_path(&self) -> String {
        format!("/auth/login?max_age={}", self.max_age)
    }

    /// The terminal's way back.
    pub fn cli_command(&self) -> String {
        format!(
            "gatekeep login --server URL --oidc --max-age {}",
            self.max_age
        )
    }
}

impl std::fmt::Display for StepUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let yours = match (self.session, self.auth_time) {
            (false, _) => {
                "a static approver token has no sign-in at the identity provider".to_owned()
            }
            (true, None) => {
                "the identity provider did not say when you signed in (no `auth_time`)".to_owned()
            }
            (true, Some(t)) => format!("you signed in {} s ago", self.now.saturating_sub(t)),
        };
        write!(
            f,
            "this request needs a sign-in at the identity provider within the last {} s (a rule sets fresh_auth = {}); {yours}\nhint: sign in again: `{}` on a terminal, or open the service's {} in a browser, then approve again",
            self.max_age,
            self.max_age,
            self.cli_command(),
            self.browser_path()
        )
    }
}

/// Checks an approval by someone signed in as `idp` (None: a static token) against the
/// request's `fresh_auth`, at `now`.
pub fn check(fresh_auth: Option<u64>, idp: Option<&IdpLogin>, now: u64) -> Result<(), StepUp> {
    let Some(max_age) = fresh_auth else {
        return Ok(());
    };
    let auth_time = idp.and_then(|i| i.auth_time);
    match auth_time {
        Some(t) if now.saturating_sub(t) <= max_age => Ok(()),
        _ => Err(StepUp {
            max_age,
            auth_time,
            session: idp.is_some(),
            now,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(auth_time: Option<u64>) -> IdpLogin {
        IdpLogin {
            subject: "s".into(),
            issuer: "https://idp".into(),
            auth_time,
        }
    }

    #[test]
    fn only_a_recent_enough_sign_in_passes() {
        assert!(check(None, None, 1000).is_ok());
        assert!(check(Some(60), Some(&login(Some(940))), 1000).is_ok());
        let old = check(Some(60), Some(&login(Some(939))), 1000).unwrap_err();
        assert!(old.to_string().contains("you signed in 61 s ago"), "{old}");
        assert!(old.to_string().contains("/auth/login?max_age=60"), "{old}");
        assert!(
            old.to_string()
                .contains("gatekeep login --server URL --oidc --max-age 60"),
            "{old}"
        );
        let unknown = check(Some(60), Some(&login(None)), 1000).unwrap_err();
        assert!(unknown.to_string().contains("no `auth_time`"), "{unknown}");
        let token = check(Some(60), None, 1000).unwrap_err();
        assert!(!token.session);
        assert!(
            token.to_string().contains("static approver token"),
            "{token}"
        );
    }
}
