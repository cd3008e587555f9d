//! Flags as the program reads them, not as they are spelled.
//!
//! - A word only known at run time may be any flag when its value can start with `-` or it
//!   may split into several words (`$f`, `"$OPTS"`, `{-rf,x}`, `"$@"`, `$(echo -f)`): see
//!   [`may_be_flag`]. A rule that needs a flag then matches *possibly* (it escalates),
//!   never silently misses.
//! - An exempting flag (`not_flags`: `--dry-run`) exempts only when it is still in force at
//!   the end of the command line: `--dry-run … --no-dry-run`, `-n … --no-dry-run`, `--cached
//!   --no-cached` and `--dry-run=client … --dry-run=none` cancel, the later word winning
//!   (see [`in_force`]). The pairs are learnt generically: `--no-X` negates `--X` and the
//!   reverse, and the short aliases written in the same rule spec (`-n|--dry-run`) go with
//!   their long names.
//! - GNU `getopt_long` and git's parse-options accept any unambiguous prefix of a long
//!   option (`--checkpoint-a=exec=…`, `--upload-f`, `--recur`): a prefix of a long option a
//!   rule names counts as it ([`abbreviates`]). Ambiguity is not checked: a prefix that is
//!   ambiguous makes the program refuse the line, so counting it costs nothing. Exemptions
//!   are never granted through an abbreviation.

use super::glob::Glob;
use super::subject::FlagSpec;

/// Whether a word only known at run time may turn out to be one or more flags:
/// - it starts with `-` (`-$x`, `--$name`);
/// - it is a list of words (`"$@"`, `$*`, `"${args[@]}"`) or a brace expansion
///   (`{-rf,x}`);
/// - it is an unquoted variable alone (`$f`, `${OPTS}`): split on `IFS`, it may give any
///   words;
/// - it is a command substitution alone whose command prints text (`$(echo -f)`,
///   `` `printf -- -f` ``).
///
/// Anything else is read as the operand it is written as. A quoted variable (`"$f"`,
/// `"$BRANCH"`) is one word, and a line that quotes it means a name, not options: `rm
/// "$file"`, `git checkout "$BRANCH"` stay allowed. A word with literal text around the
/// expansion (`/tmp/$f`, `$PWD:/app`, `$HOME/.cache`) names a path. The output of a
/// command that reports data (`kill $(lsof -ti:3000)`, `$(pwd)`) is that data. A glob
/// (`rm *`) is left to the glob handling: only a file named like a flag would make it one.
pub fn may_be_flag(raw: &str) -> bool {
    let bare = raw.trim_start_matches(['"', '\'']);
    if bare.starts_with('-') || (may_split(raw) && (lists(raw) || raw.starts_with('{'))) {
        return true;
    }
    if let Some(name) = raw.strip_prefix('$') {
        let name = name
            .strip_prefix('{')
            .and_then(|n| n.strip_suffix('}'))
            .unwrap_or(name);
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return true;
        }
    }
    let inner = raw
        .strip_prefix("$(")
        .and_then(|r| r.strip_suffix(')'))
        .or_else(|| raw.strip_prefix('`').and_then(|r| r.strip_suffix('`')));
    inner.is_some_and(|cmd| {
        let program = cmd.split_whitespace().next().unwrap_or("");
        matches!(crate::shell::basename(program), "echo" | "printf")
    })
}

/// Whether a word is a list of the positional parameters or an array's elements.
fn lists(raw: &str) -> bool {
    raw.contains("$@") || raw.contains("${@") || raw.contains("[@]}") || raw.contains("$*")
}

/// Whether a word may become several words when it runs: an unquoted expansion (split on
/// `IFS`), `"$@"`/`"${a[@]}"`, or a brace expansion.
pub fn may_split(raw: &str) -> bool {
    let chars: Vec<char> = raw.chars().collect();
    let (mut single, mut double) = (false, false);
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if !single => i += 1,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '$' | '`' if !single && !double => return true,
            '$' if double => {
                let rest: String = chars[i + 1..].iter().take(64).collect();
                let braced_list = rest.starts_with('{')
                    && rest
                        .find('}')
                        .is_some_and(|end| rest[..end].contains("[@]"));
                if rest.starts_with('@') || rest.starts_with("{@") || braced_list {
                    return true;
                }
            }
            '{' if !single && !double => {
                let rest: String = chars[i + 1..].iter().take(256).collect();
                if let Some(end) = rest.find('}')
                    && (rest[..end].contains(',') || rest[..end].contains(".."))
                {
                    return true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// Whether `given` (the name of a long option as written, without `--`) abbreviates
/// `full`: a non-empty proper prefix that does not end where a word of the name ends.
/// `--checkpoint` is not read as `--checkpoint-action`, nor `--force` as
/// `--force-with-lease`: a prefix ending at a `-` of the full name is usually an option of
/// its own, which the program takes before any abbreviation.
pub fn abbreviates(given: &str, full: &str) -> bool {
    !given.is_empty()
        && given.len() < full.len()
        && full.starts_with(given)
        && full.as_bytes().get(given.len()) != Some(&b'-')
}

/// `word` with an abbreviated long option name written out in full, for an exact-spelling
/// pattern such as `--checkpoint-action**` or `--data=@*`: `--checkpoint-a=exec=sh` becomes
/// `--checkpoint-action=exec=sh`. `None` when the word does not abbreviate the pattern's
/// option.
pub fn expand_abbreviation(word: &str, pattern: &Glob) -> Option<String> {
    let given = word.strip_prefix("--")?;
    let (name, rest) = match given.split_once('=') {
        Some((n, _)) => (n, &given[n.len()..]),
        None => (given, ""),
    };
    let full: String = pattern
        .as_str()
        .strip_prefix("--")?
        .chars()
        .take_while(|c| !matches!(c, '*' | '?' | '[' | '='))
        .collect();
    abbreviates(name, &full).then(|| format!("--{full}{rest}"))
}

/// One flag word as it was read: its text, its long name (without `--` and `=value`), and
/// the short letters it sets (a cluster read up to the option that takes a value).
#[derive(Clone, Debug)]
pub(super) struct FlagWord<'a> {
    pub(super) text: &'a str,
    pub(super) long: Option<&'a str>,
    pub(super) short: Vec<char>,
}

/// Whether the flag `spec` names is still in force after every flag word, read in order.
/// A word in one of the spec's spellings turns it on; a later word that negates one of its
/// long names (`--no-dry-run` for `--dry-run`, `--cached` for `--no-cached`), or that gives
/// the same option another value (`--dry-run=none` after `--dry-run=client`), turns it off.
pub(super) fn in_force(words: &[FlagWord<'_>], spec: &FlagSpec) -> bool {
    let mut names: Vec<&str> = spec.long.iter().map(String::as_str).collect();
    let mut on = false;
    for word in words {
        if spelled(word, spec) {
            on = true;
            if let Some(name) = word.long {
                names.push(name);
            }
            continue;
        }
        let Some(name) = word.long else { continue };
        // Any prefix counts here (`--no-dry` for `--no-dry-run`, as git reads it): a
        // negation read where there is none only takes an exemption away.
        let prefix = |given: &str, full: &str| !given.is_empty() && full.starts_with(given);
        let negates = names.iter().any(|n| {
            name == *n
                || name.strip_prefix("no-").is_some_and(|m| prefix(m, n))
                || n.strip_prefix("no-").is_some_and(|m| prefix(name, m))
        });
        if negates {
            on = false;
        }
    }
    on
}

/// Whether one word is written in one of the spec's exact spellings.
fn spelled(word: &FlagWord<'_>, spec: &FlagSpec) -> bool {
    let long = word
        .long
        .is_some_and(|n| !word.text.contains('=') && spec.long.iter().any(|l| l == n));
    let short = spec
        .short
        .iter()
        .any(|c| word.short.contains(c) || (word.text.len() == 2 && word.text.ends_with(*c)));
    long || short || spec.exact.iter().any(|g| g.is_match(word.text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_words_that_may_be_flags() {
        for raw in [
            "$f",
            "${OPTS}",
            "{-rf,x}",
            "\"$@\"",
            "$(echo -f)",
            "`printf -- -f`",
            "\"${opts[@]}\"",
            "-$x",
            "'-'$x",
        ] {
            assert!(may_be_flag(raw), "{raw}");
        }
        for raw in [
            "\"$f\"",
            "/tmp/$f",
            "x$f",
            "\"build/${name}\"",
            "*.o",
            "{a}",
            "$PWD:/app",
            "$(lsof -ti:3000)",
            "$(pwd)",
        ] {
            assert!(!may_be_flag(raw), "{raw}");
        }
        assert!(!may_split("\"$f\""));
        assert!(may_split("$f"));
        assert!(may_split("\"$@\""));
        assert!(!may_split("\"$*\""));
    }

    #[test]
    fn abbreviations_are_written_out() {
        let g = Glob::new("--checkpoint-action**").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            expand_abbreviation("--checkpoint-a=exec=sh", &g).as_deref(),
            Some("--checkpoint-action=exec=sh")
        );
        assert_eq!(expand_abbreviation("--checkpoint=1", &g), None);
        assert_eq!(expand_abbreviation("--other", &g), None);
        assert!(abbreviates("recur", "recursive"));
        assert!(abbreviates("upload-f", "upload-file"));
        assert!(!abbreviates("force", "force-with-lease"));
        assert!(!abbreviates("", "recursive"));
    }
}
