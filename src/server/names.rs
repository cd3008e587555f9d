//! Identity names: what a token name may be, and when two names are one person.
//!
//! Names decide self-approval and quorum distinctness, so a name that only *looks* like
//! another (`"alice "`, `"аlice"` with a Cyrillic `а`, `"alice\u{a0}"`, `"Bob"` beside `"bob"`)
//! must either be refused when the token is made or compare equal. New names are held to a
//! small ASCII set, which has no invisible characters and no look-alikes across scripts.
//! Names from elsewhere (the unix user and agent a client reports, tokens made before the
//! rule existed) are compared after Unicode NFKC, which maps compatibility forms such as the
//! fullwidth `ａ` and NBSP to their plain ones, trimming, and lowercasing.

use unicode_normalization::UnicodeNormalization;

/// The longest name accepted.
pub const MAX_LEN: usize = 64;

/// Checks a new token name, on-behalf-of user or group: 1-64 characters of ASCII letters,
/// digits and `.`, `_`, `-`, `@`, `+`, starting with a letter or digit (user names, e-mail
/// addresses and group names fit; whitespace, control and non-ASCII characters do not).
pub fn validate(what: &str, name: &str) -> Result<(), String> {
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'));
    if starts_ok && chars_ok && name.len() <= MAX_LEN {
        return Ok(());
    }
    Err(format!(
        "{what} {:?} is not a valid name: use 1-{MAX_LEN} ASCII letters, digits and . _ - @ +, starting with a letter or digit (no spaces, control characters or look-alike letters from other scripts)",
        name
    ))
}

/// The form two names are compared in.
pub fn fold(name: &str) -> String {
    name.nfkc().collect::<String>().trim().to_lowercase()
}

/// Whether two names are the same identity.
pub fn same(a: &str, b: &str) -> bool {
    a == b || fold(a) == fold(b)
}

/// Whether two approvers may be one person: the same name, or the same mailbox local part
/// (`bob` with a static token, `bob@example.com` signed in through the identity provider).
/// Wider than [`same`] on purpose: a false match only asks for another approver, a missed
/// one lets one person meet a two-person rule alone.
pub fn same_person(a: &str, b: &str) -> bool {
    fn local(name: &str) -> &str {
        name.rsplit_once('@').map_or(name, |(local, _)| local)
    }
    same(a, b) || same(local(a), local(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_person_signed_in_two_ways_is_one_approver() {
        for (a, b) in [
            ("bob", "bob@example.com"),
            ("Bob@example.com", "bob"),
            ("bob@example.com", "bob@corp.example"),
            ("bob", "BOB"),
        ] {
            assert!(same_person(a, b), "{a} ~ {b}");
        }
        for (a, b) in [("bob", "bobby@example.com"), ("erin", "bob@erin.example")] {
            assert!(!same_person(a, b), "{a} !~ {b}");
        }
    }

    #[test]
    fn look_alikes_are_refused_when_made() {
        for bad in [
            "",
            "alice ",
            " alice",
            "аlice",
            "alice\u{a0}",
            "ci-bot\t",
            "al\u{200b}ice",
            "-alice",
            "ali ce",
            "alice\n",
            "ｂｏｂ",
        ] {
            assert!(validate("token name", bad).is_err(), "{bad:?}");
        }
        for good in [
            "alice",
            "Bob",
            "ci-bot",
            "alice@example.com",
            "svc.deploy_2",
            "a+b",
        ] {
            assert_eq!(validate("token name", good), Ok(()), "{good:?}");
        }
        assert!(validate("token name", &"a".repeat(MAX_LEN + 1)).is_err());
    }

    #[test]
    fn names_compare_after_nfkc_trim_and_case() {
        assert!(same("bob", "Bob"));
        assert!(same("alice", "alice "));
        assert!(same("alice", "alice\u{a0}"));
        assert!(same("bob", "ｂｏｂ"));
        assert!(same("ci-bot", "ci-bot\t"));
        assert!(!same("alice", "alicia"));
        let err = validate("approver", "аlice").unwrap_err();
        assert!(err.contains("look-alike"), "{err}");
    }
}
