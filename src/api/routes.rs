//! The service's paths, one definition for the server's router and the client's calls.
//! `{id}` is a request id, filled in by [`with_id`].

pub const HEALTH: &str = "/healthz";
pub const JWKS: &str = "/.well-known/jwks.json";
pub const WHOAMI: &str = "/v1/whoami";
/// `POST` creates; `GET` lists (`?state=pending&limit=N&after=ID`).
pub const REQUESTS: &str = "/v1/requests";
pub const REQUEST: &str = "/v1/requests/{id}";
/// Long poll (`?timeout=SECS`, at most [`super::protocol::MAX_WAIT_SECS`]).
pub const WAIT: &str = "/v1/requests/{id}/wait";
pub const CANCEL: &str = "/v1/requests/{id}/cancel";
pub const OUTCOME: &str = "/v1/requests/{id}/outcome";
pub const APPROVE: &str = "/v1/requests/{id}/approve";
pub const DENY: &str = "/v1/requests/{id}/deny";
pub const ANCHORS: &str = "/v1/anchors";
/// The approver's list as a long poll (`?since=CURSOR&wait=SECS`, see [`super::changes`]).
pub const CHANGES: &str = "/v1/changes";

/// `route` for request `id`. The id is typed by people (`gatekeep approve ID`) and comes
/// from the service: anything but letters, digits, `-` and `_` is percent-encoded, so an id
/// can never reach another path or add a query.
pub fn with_id(route: &str, id: &str) -> String {
    let mut encoded = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    route.replace("{id}", &encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_inside_their_path() {
        assert_eq!(with_id(APPROVE, "a1-b_2"), "/v1/requests/a1-b_2/approve");
        assert_eq!(
            with_id(APPROVE, "../../whoami?x"),
            "/v1/requests/%2E%2E%2F%2E%2E%2Fwhoami%3Fx/approve"
        );
    }
}
