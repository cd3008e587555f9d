//! Secret masking: every argv and text that gatekeep shows, records or sends passes through
//! here first. The digest that binds an approval is computed over the unmasked argv
//! elsewhere; only what people and files see is masked.
//!
//! Masking is by shape, without a regex engine: option values and assignments whose name
//! says "secret" (`--password=`, `*_TOKEN=`, `Authorization:`), credentials in URLs, and
//! tokens whose format is recognisable on its own (AWS access keys, GitHub, Slack and Stripe
//! tokens, JWTs, private key blocks). It errs towards masking: a masked non-secret costs a
//! reader a little context, an unmasked secret leaks.

/// What replaces a secret.
pub const MASK: &str = "****";

/// Words in an option or variable name that say its value is secret.
const SECRET_NAMES: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PWD_",
    "SECRET",
    "TOKEN",
    "APIKEY",
    "API_KEY",
    "ACCESS_KEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
    "AUTH",
    "SESSION",
    "COOKIE",
    "SIGNATURE",
    "CLIENT_SECRET",
    "_KEY",
    "KEY_",
];

/// Options whose next word (or `=value`) is a secret.
const SECRET_OPTIONS: &[&str] = &[
    "--password",
    "--passwd",
    "--pass",
    "--token",
    "--secret",
    "--api-key",
    "--apikey",
    "--access-key",
    "--secret-key",
    "--access-token",
    "--auth-token",
    "--client-secret",
    "--private-key",
    "--key-password",
    "--bearer",
    "--oauth-token",
    "--session-token",
    "--db-password",
    "--admin-password",
    "--registry-password",
    "--docker-password",
    "--aws-secret-access-key",
    "--sas-token",
    "--connection-string",
    "--webhook-secret",
];

/// Masks an argv: options that carry secrets, `NAME=value` assignments with secret names,
/// and any word that looks like a token.
pub fn mask_argv(argv: &[String]) -> Vec<String> {
    let program = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or("");
    let mut out = Vec::with_capacity(argv.len());
    let mut mask_next = false;
    for (i, word) in argv.iter().enumerate() {
        if mask_next {
            out.push(MASK.to_owned());
            mask_next = false;
            continue;
        }
        let lower = word.to_ascii_lowercase();
        // `--password secret` / `--password=secret`
        if let Some(opt) = SECRET_OPTIONS
            .iter()
            .find(|o| lower == **o || lower.starts_with(&format!("{o}=")))
        {
            if lower == *opt {
                mask_next = true;
                out.push(word.clone());
            } else {
                out.push(format!("{}={MASK}", &word[..opt.len()]));
            }
            continue;
        }
        // `mysql -pSECRET` (a bare `-p` prompts and carries nothing).
        if i > 0
            && matches!(
                program,
                "mysql" | "mariadb" | "mysqldump" | "mariadb-dump" | "mysqladmin" | "mysqlimport"
            )
            && word.starts_with("-p")
            && word.len() > 2
            && !word.starts_with("--")
        {
            out.push(format!("-p{MASK}"));
            continue;
        }
        // `-H 'Authorization: Bearer x'`, `-u user:password` for curl.
        if matches!(
            argv.get(i.wrapping_sub(1)).map(String::as_str),
            Some("-u" | "--user" | "--proxy-user")
        ) && matches!(program, "curl" | "wget" | "http" | "xh")
            && let Some((user, _)) = word.split_once(':')
        {
            out.push(format!("{user}:{MASK}"));
            continue;
        }
        out.push(mask_text(word));
    }
    out
}

/// Masks secrets inside free text (a shell string, a reason, a message).
pub fn mask_text(text: &str) -> String {
    let text = mask_private_key_blocks(text);
    let text = mask_headers(&text);
    let mut out = String::with_capacity(text.len());
    // Work on runs of non-separator characters, keeping separators as they are.
    let mut token = String::new();
    for c in text.chars() {
        if c.is_whitespace()
            || matches!(
                c,
                '\'' | '"' | '`' | ';' | '|' | '&' | '(' | ')' | '<' | '>' | ','
            )
        {
            out.push_str(&mask_token(&token));
            token.clear();
            out.push(c);
        } else {
            token.push(c);
        }
    }
    out.push_str(&mask_token(&token));
    out
}

/// Masks one word: an assignment, a URL with credentials, or a recognisable token.
fn mask_token(token: &str) -> String {
    if token.is_empty() {
        return String::new();
    }
    // NAME=value with a secret name (also `--opt=value` spelled with a secret name).
    if let Some((name, value)) = token.split_once('=') {
        if !value.is_empty() && secret_name(name.trim_start_matches('-')) {
            return format!("{name}={MASK}");
        }
        let masked = mask_token(value);
        if masked != value {
            return format!("{name}={masked}");
        }
    }
    if let Some(masked) = mask_url_credentials(token) {
        return masked;
    }
    if looks_like_token(token) {
        return MASK.to_owned();
    }
    token.to_owned()
}

fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase().replace('-', "_");
    if upper.is_empty()
        || !upper
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return false;
    }
    SECRET_NAMES.iter().any(|s| upper.contains(s)) || upper.ends_with("KEY") || upper == "PW"
}

/// `scheme://user:password@host` -> `scheme://user:****@host`, and a token used as the
/// whole user part (`https://ghp_…@github.com`, how forges accept tokens) ->
/// `scheme://****@host`. A short plain user name (`ssh://git@host`) is kept.
fn mask_url_credentials(token: &str) -> Option<String> {
    let start = token.find("://")? + 3;
    let rest = &token[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let at = authority.rfind('@')?;
    let userinfo = &authority[..at];
    match userinfo.split_once(':') {
        Some((user, _)) => Some(format!("{}{user}:{MASK}{}", &token[..start], &rest[at..])),
        None => {
            let opaque = userinfo.len() >= 20
                && userinfo
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            (opaque || looks_like_token(userinfo))
                .then(|| format!("{}{MASK}{}", &token[..start], &rest[at..]))
        }
    }
}

/// Tokens recognisable by their shape alone.
fn looks_like_token(t: &str) -> bool {
    let t =
        t.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-' && c != '.');
    let alnum = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric());
    let upper_alnum = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    // AWS access key ids.
    for prefix in [
        "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA",
    ] {
        if t.len() == 20 && t.starts_with(prefix) && upper_alnum(t) {
            return true;
        }
    }
    // GitHub, GitLab, Slack, Stripe, OpenAI/Anthropic-style, npm, PyPI, Google API keys.
    let prefixes = [
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "xoxb-",
        "xoxp-",
        "xoxa-",
        "xoxr-",
        "xoxs-",
        "xapp-",
        "sk_live_",
        "sk_test_",
        "rk_live_",
        "rk_test_",
        "whsec_",
        "sk-ant-",
        "sk-proj-",
        "npm_",
        "pypi-",
        "AIza",
        "shpat_",
        "SG.",
        "hf_",
        "dop_v1_",
        "glc_",
        "sq0atp-",
        "EAAC",
    ];
    if prefixes
        .iter()
        .any(|p| t.starts_with(p) && t.len() >= p.len() + 16)
    {
        return true;
    }
    if t.starts_with("sk-") && t.len() >= 32 && alnum(&t[3..].replace(['-', '_'], "")) {
        return true;
    }
    // JWTs: three base64url parts, the first two starting with `eyJ` (`{"`).
    let parts: Vec<&str> = t.split('.').collect();
    if parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[1].starts_with("eyJ")
        && parts.iter().all(|p| !p.is_empty())
    {
        return true;
    }
    // A long run of mixed-case letters and digits (40-char AWS secrets, hex API keys).
    let b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '_' | '-');
    // Paths are excluded by `/`, except at the exact length of an AWS secret access key.
    let aws_secret = t.len() == 40 && !t.starts_with('/') && t.matches('/').count() <= 4;
    if t.len() >= 32 && t.chars().all(b64) && (!t.contains('/') || aws_secret) {
        let upper = t.chars().any(|c| c.is_ascii_uppercase());
        let lower = t.chars().any(|c| c.is_ascii_lowercase());
        let digit = t.chars().any(|c| c.is_ascii_digit());
        if upper && lower && digit {
            return true;
        }
    }
    false
}

/// `Authorization: Bearer x`, `X-Api-Key: x`, `Cookie: x` header values.
fn mask_headers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let headers = [
        "authorization:",
        "proxy-authorization:",
        "x-api-key:",
        "api-key:",
        "x-auth-token:",
        "cookie:",
        "x-vault-token:",
        "private-token:",
        "x-goog-api-key:",
    ];
    loop {
        let lower = rest.to_ascii_lowercase();
        let Some((pos, header)) = headers
            .iter()
            .filter_map(|h| lower.find(h).map(|p| (p, *h)))
            .min_by_key(|(p, _)| *p)
        else {
            out.push_str(rest);
            return out;
        };
        let value_start = pos + header.len();
        out.push_str(&rest[..value_start]);
        let value = &rest[value_start..];
        let end = value.find(['\'', '"', '\n']).unwrap_or(value.len());
        let trimmed = value[..end].trim_start();
        let leading = &value[..value[..end].len() - trimmed.len()];
        // Keep the scheme word of `Bearer x` / `Basic x` for context.
        let scheme = trimmed.split_once(' ').map(|(s, _)| s).filter(|s| {
            matches!(
                s.to_ascii_lowercase().as_str(),
                "bearer" | "basic" | "token" | "digest"
            )
        });
        out.push_str(leading);
        if let Some(s) = scheme {
            out.push_str(s);
            out.push(' ');
        }
        out.push_str(MASK);
        rest = &value[end..];
    }
}

fn mask_private_key_blocks(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let header_end = rest[start..]
            .find("-----\n")
            .or_else(|| rest[start + 11..].find("-----").map(|p| p + 11));
        let Some(header_end) = header_end else { break };
        let header = &rest[start..start + header_end + 5];
        if !header.contains("PRIVATE KEY") {
            out.push_str(&rest[..start + header.len()]);
            rest = &rest[start + header.len()..];
            continue;
        }
        out.push_str(&rest[..start]);
        out.push_str(header);
        out.push_str(MASK);
        match rest[start + header.len()..].find("-----END ") {
            Some(end) => rest = &rest[start + header.len() + end..],
            None => return out,
        }
        // Keep the END line.
        let end_line = rest.find("KEY-----").map_or(rest.len(), |p| p + 8);
        out.push_str(&rest[..end_line]);
        rest = &rest[end_line..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn masks_secret_options_and_assignments() {
        let cases: &[(&[&str], &[&str])] = &[
            (
                &["mysql", "-u", "root", "-phunter2", "db"],
                &["mysql", "-u", "root", "-p****", "db"],
            ),
            (
                &["tool", "--password=hunter2"],
                &["tool", "--password=****"],
            ),
            (
                &["tool", "--token", "abc123", "x"],
                &["tool", "--token", "****", "x"],
            ),
            (
                &[
                    "env",
                    "GITHUB_TOKEN=abc",
                    "DB_PASSWORD=x",
                    "AWS_SECRET_ACCESS_KEY=y",
                    "PATH=/bin",
                ],
                &[
                    "env",
                    "GITHUB_TOKEN=****",
                    "DB_PASSWORD=****",
                    "AWS_SECRET_ACCESS_KEY=****",
                    "PATH=/bin",
                ],
            ),
            (
                &["curl", "-H", "Authorization: Bearer abc.def", "https://x"],
                &["curl", "-H", "Authorization: Bearer ****", "https://x"],
            ),
            (
                &["curl", "-u", "admin:hunter2", "https://x"],
                &["curl", "-u", "admin:****", "https://x"],
            ),
            (
                &["psql", "postgres://app:hunter2@db:5432/app"],
                &["psql", "postgres://app:****@db:5432/app"],
            ),
            (
                &[
                    "aws",
                    "configure",
                    "set",
                    "aws_access_key_id",
                    "AKIAIOSFODNN7EXAMPLE",
                ],
                &["aws", "configure", "set", "aws_access_key_id", "****"],
            ),
            (
                &["echo", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
                &["echo", "****"],
            ),
            (
                &["cat", "src/policy/builtin.toml"],
                &["cat", "src/policy/builtin.toml"],
            ),
            (
                &[
                    "gh",
                    "auth",
                    "login",
                    "--with-token",
                    "ghp_0123456789abcdefghijABCDEFGHIJ0123",
                ],
                &["gh", "auth", "login", "--with-token", "****"],
            ),
            (&["ls", "-la", "src/"], &["ls", "-la", "src/"]),
            (&["mysql", "-p", "db"], &["mysql", "-p", "db"]),
        ];
        for (input, want) in cases {
            assert_eq!(mask_argv(&argv(input)), argv(want), "{input:?}");
        }
    }

    #[test]
    fn masks_tokens_in_text() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let gh = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let cases = [
            (format!("curl -H 'Authorization: Bearer {jwt}' x"), "curl -H 'Authorization: Bearer ****' x".to_owned()),
            ("export SLACK_TOKEN=xoxb-1234-5678-abcdefghijklmnop".into(), "export SLACK_TOKEN=****".into()),
            ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc now".into(), "stripe **** now".into()),
            (format!("token {jwt}"), "token ****".into()),
            ("git clone https://user:pw@github.com/x.git".into(), "git clone https://user:****@github.com/x.git".into()),
            (format!("git clone https://{gh}@github.com/x.git"), "git clone https://****@github.com/x.git".into()),
            ("git clone https://0123456789abcdef0123456789abcdef@git.example/x".into(), "git clone https://****@git.example/x".into()),
            ("git clone ssh://git@github.com/x.git".into(), "git clone ssh://git@github.com/x.git".into()),
            ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----".into(), "-----BEGIN OPENSSH PRIVATE KEY-----****-----END OPENSSH PRIVATE KEY-----".into()),
            ("kubectl get pods -n prod".into(), "kubectl get pods -n prod".into()),
            ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----".into(), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----".into()),
        ];
        for (input, want) in cases {
            assert_eq!(mask_text(&input), want, "{input}");
        }
    }

    #[test]
    fn aws_secret_in_an_assignment_is_masked() {
        let masked =
            mask_text("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY aws s3 ls");
        assert_eq!(masked, "AWS_SECRET_ACCESS_KEY=**** aws s3 ls");
    }
}
