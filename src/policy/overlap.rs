//! Whether a pathname pattern in a command (`cat ~/.ssh/*`, `/etc/shad?w`) could expand to a
//! path that a rule's pattern names: is there one string both patterns match?
//!
//! The command's pattern is read with bash's pathname rules (`*`, `?` and classes never match
//! `/`); the rule's with its own (see [`super::glob`]). The search walks both token lists
//! together, a product of two small automata, so it costs the product of their lengths.
//! bash's rule that `*`, `?` and classes do not match a leading `.` is kept (`*.txt` never
//! names `.env.txt`).

use super::Certainty;
use super::glob::{Glob, GlobList, Token};

/// Longest command pattern compared; a longer one is taken to overlap.
const MAX_TOKENS: usize = 512;

/// Whether some string matches both `shell` (a command's pattern, compiled with
/// [`Glob::new`]) and `rule`.
pub(super) fn overlaps(shell: &Glob, rule: &Glob) -> bool {
    let (a, b) = (shell.tokens(), rule.tokens());
    let anchored = rule.as_str().starts_with(['/', '~']);
    if a.len() > MAX_TOKENS || b.len() > MAX_TOKENS {
        return true;
    }
    // A state is a position in each pattern, and whether the shell pattern is at the start of
    // a path component, where its wildcards do not match a leading `.` (no `dotglob`).
    let width = b.len() + 1;
    let mut seen = vec![false; (a.len() + 1) * width * 2];
    let mut stack = vec![(0usize, 0usize, true)];
    while let Some((i, j, at_start)) = stack.pop() {
        if std::mem::replace(&mut seen[(i * width + j) * 2 + usize::from(at_start)], true) {
            continue;
        }
        if i == a.len() && j == b.len() {
            return true;
        }
        let (ta, tb) = (a.get(i), b.get(j));
        // A star may match nothing.
        if ta.is_some_and(is_star) {
            stack.push((i + 1, j, at_start));
        }
        if tb.is_some_and(is_star) {
            stack.push((i, j + 1, at_start));
        }
        // Or both consume one common character. Against a pattern that may match anywhere
        // (`**/*.key`, `*.kdbx`), a star of the command's pattern may not stand in for the
        // rule's literal text: `src/*` could name `src/x.key`, but so could any directory,
        // and reading every such glob as a credential would block ordinary work. Against an
        // anchored pattern (`~/.ssh/id_*`, `/etc/shadow`) the directory is the signal, and
        // any overlap counts.
        let star_for_literal =
            !anchored && ta.is_some_and(is_star) && matches!(tb, Some(Token::Char(_)));
        if let (Some(ta), Some(tb)) = (ta, tb)
            && !star_for_literal
            && common_char(ta, at_start, tb)
        {
            let ni = if is_star(ta) { i } else { i + 1 };
            let nj = if is_star(tb) { j } else { j + 1 };
            // Only a literal `/` in the shell pattern can match `/`.
            let next_start = matches!(ta, Token::Char('/'));
            // Two stars eating together go nowhere new: the moves that skip them cover it.
            if (ni, nj, next_start) != (i, j, at_start) {
                stack.push((ni, nj, next_start));
            }
        }
    }
    false
}

fn is_star(t: &Token) -> bool {
    matches!(t, Token::Any | Token::AnyDeep)
}

/// Whether one character is accepted by the shell pattern's `a` and the rule's `b`; at the
/// start of a component a wildcard of the shell pattern does not match `.`.
fn common_char(a: &Token, at_start: bool, b: &Token) -> bool {
    let mut candidates: Vec<char> = vec!['a', 'Z', '0', '.', '_', '-', '~', 'x', '\u{e9}'];
    for t in [a, b] {
        match t {
            Token::Char(c) => candidates.push(*c),
            Token::Class { items, .. } => {
                for (lo, hi) in items {
                    candidates.extend([*lo, *hi]);
                    candidates.extend(char::from_u32(u32::from(*lo) + 1));
                    candidates.extend(u32::from(*hi).checked_sub(1).and_then(char::from_u32));
                }
            }
            _ => {}
        }
    }
    candidates.into_iter().any(|c| {
        let dot_hidden = at_start && c == '.' && !matches!(a, Token::Char('.'));
        !dot_hidden && accepts(a, true, c) && accepts(b, false, c)
    })
}

fn accepts(t: &Token, shell: bool, c: char) -> bool {
    if shell && c == '/' && !matches!(t, Token::Char('/')) {
        return false;
    }
    match t {
        Token::Char(p) => *p == c,
        Token::Any => c != '/',
        Token::AnyDeep | Token::One => true,
        Token::Class { negated, items } => {
            items.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
        }
    }
}

/// How a command's pathname pattern `word` meets a rule's pattern list, given the forms it
/// takes on disk (`~` and the directory resolved, see [`super::paths`]): a possible match
/// when some form may expand to a path the list names, unless that form, read as text, is
/// itself exempt (`~/.ssh/*.pub` against `!**/*.pub`).
pub(super) fn glob_in_list<'f>(
    word: &str,
    forms: impl Iterator<Item = &'f str>,
    list: &GlobList,
) -> (Certainty, Option<String>) {
    let hit = forms.into_iter().any(|form| {
        // An unclosed `[` is a literal character to bash; such a form is not a pattern.
        Glob::new(form).is_ok_and(|shell| list.positive.iter().any(|g| overlaps(&shell, g)))
            && !list.is_exempt(form)
    });
    if hit {
        (
            Certainty::Possible,
            Some(format!(
                "`{word}` is a pattern bash expands to matching file names, which may include a path this rule names"
            )),
        )
    } else {
        (Certainty::No, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_overlap_when_one_path_matches_both() {
        let cases = [
            ("/etc/shad?w", "/etc/shadow", true),
            ("/etc/sha*", "/etc/shadow", true),
            ("/etc/*", "/etc/sudoers.d/**", false),
            ("/etc/*/x", "/etc/sudoers.d/**", true),
            ("~/.ssh/*", "~/.ssh/id_*", true),
            ("~/.ssh/*.pub", "~/.ssh/id_*", true),
            ("*.txt", "*.key", false),
            ("src/*.rs", "**/id_rsa", false),
            ("src/*", "**/*.key", false),
            ("libssl.so*", "*.kdbx", false),
            ("/w/*.key", "**/*.key", true),
            ("*.key", "*.key", true),
            ("/home/u/*/id_rsa", "**/id_rsa", true),
            ("keys/id_rs?", "**/id_rsa", true),
            (
                "~/.config/gatekeep/credentials.tom?",
                "~/.config/gatekeep/credentials.toml",
                true,
            ),
            ("[abc]x", "bx", true),
            ("[!abc]x", "bx", false),
            ("/e*c/shadow", "/etc/shadow", true),
            ("/*/shadow", "/etc/shadow", true),
            ("/*", "/etc/shadow", false),
            ("*.txt", ".env.*", false),
            // A star does not stand in for the literal text of an unanchored pattern.
            (".*", ".env.*", false),
            (".env*", ".env", true),
            ("~/.ssh/*.pub", "**/.env.*", false),
            ("/home/*/.env", "**/.env", true),
        ];
        for (shell, rule, want) in cases {
            let (s, r) = (Glob::new(shell).unwrap(), Glob::new(rule).unwrap());
            assert_eq!(overlaps(&s, &r), want, "{shell} vs {rule}");
        }
    }
}
