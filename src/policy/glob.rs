//! Glob patterns for rule conditions: `*` (any run of characters except `/`), `**` (any run,
//! `/` included), `?` (one character), `[abc]`, `[a-z]` and `[!abc]`.
//!
//! Hand-written rather than a crate: patterns match single words, not paths on disk, and a
//! compiled pattern is a short token list matched without allocation.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Token {
    Char(char),
    Any,
    AnyDeep,
    One,
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
}

/// A compiled glob.
#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
    /// The literal text before the first wildcard and after the last: a word that does
    /// not start and end with them cannot match, which is decided without the full match.
    prefix: String,
    suffix: String,
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.source)
    }
}

impl Glob {
    pub fn new(source: &str) -> Result<Glob, String> {
        let chars: Vec<char> = source.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    tokens.push(Token::AnyDeep);
                    i += 2;
                }
                '*' => {
                    tokens.push(Token::Any);
                    i += 1;
                }
                '?' => {
                    tokens.push(Token::One);
                    i += 1;
                }
                '[' => {
                    let mut j = i + 1;
                    let negated = matches!(chars.get(j), Some('!' | '^'));
                    if negated {
                        j += 1;
                    }
                    let mut items = Vec::new();
                    let start = j;
                    while j < chars.len() && (chars[j] != ']' || j == start) {
                        if chars.get(j + 1) == Some(&'-')
                            && chars.get(j + 2).is_some_and(|c| *c != ']')
                        {
                            items.push((chars[j], chars[j + 2]));
                            j += 3;
                        } else {
                            items.push((chars[j], chars[j]));
                            j += 1;
                        }
                    }
                    if j >= chars.len() {
                        return Err(format!("unclosed `[` in pattern `{source}`"));
                    }
                    tokens.push(Token::Class { negated, items });
                    i = j + 1;
                }
                '\\' if i + 1 < chars.len() => {
                    tokens.push(Token::Char(chars[i + 1]));
                    i += 2;
                }
                c => {
                    tokens.push(Token::Char(c));
                    i += 1;
                }
            }
        }
        let literal = |t: &Token| match t {
            Token::Char(c) => Some(*c),
            _ => None,
        };
        let prefix: String = tokens.iter().map_while(literal).collect();
        let suffix: String = if prefix.chars().count() == tokens.len() {
            String::new()
        } else {
            let mut tail: Vec<char> = tokens.iter().rev().map_while(literal).collect();
            tail.reverse();
            tail.into_iter().collect()
        };
        Ok(Glob {
            source: source.to_owned(),
            tokens,
            prefix,
            suffix,
        })
    }

    /// `**`: matches every string.
    pub fn any() -> Glob {
        Glob {
            source: "**".into(),
            tokens: vec![Token::AnyDeep],
            prefix: String::new(),
            suffix: String::new(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The compiled pattern, for [`super::overlap`].
    pub(super) fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// True when the pattern matches every string (`*` on a word without `/`, `**`).
    pub fn is_universal(&self) -> bool {
        matches!(self.tokens.as_slice(), [Token::AnyDeep])
            || matches!(self.tokens.as_slice(), [Token::Any])
    }

    /// True when the pattern has no wildcard: it names one exact string.
    pub fn is_literal(&self) -> bool {
        self.tokens.iter().all(|t| matches!(t, Token::Char(_)))
    }

    pub fn is_match(&self, text: &str) -> bool {
        if self.prefix.chars().count() == self.tokens.len() {
            return text == self.prefix;
        }
        if !text.starts_with(&self.prefix) || !text[self.prefix.len()..].ends_with(&self.suffix) {
            return false;
        }
        let text: Vec<char> = text.chars().collect();
        matches(&self.tokens, &text)
    }
}

/// Dynamic programming over (pattern prefix, text prefix): linear in the text for a given
/// pattern, so a hostile 200 KB argument cannot make matching blow up.
fn matches(tokens: &[Token], text: &[char]) -> bool {
    let n = text.len();
    // prev[j]: the tokens so far match text[..j].
    let mut prev = vec![false; n + 1];
    prev[0] = true;
    let mut cur = vec![false; n + 1];
    for token in tokens {
        match token {
            Token::Any | Token::AnyDeep => {
                let deep = matches!(token, Token::AnyDeep);
                cur[0] = prev[0];
                for j in 1..=n {
                    cur[j] = prev[j] || (cur[j - 1] && (deep || text[j - 1] != '/'));
                }
            }
            _ => {
                cur[0] = false;
                for j in 1..=n {
                    let c = text[j - 1];
                    let ok = match token {
                        Token::Char(p) => *p == c,
                        Token::One => true,
                        Token::Class { negated, items } => {
                            items.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
                        }
                        Token::Any | Token::AnyDeep => false,
                    };
                    cur[j] = prev[j - 1] && ok;
                }
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[n]
}

/// A list of patterns where `!pattern` exempts what it matches: a word matches the list when
/// it matches some positive pattern and no exemption.
#[derive(Clone, Debug, Default)]
pub struct GlobList {
    pub positive: Vec<Glob>,
    pub exempt: Vec<Glob>,
    /// Some positive pattern can match an absolute or `~/` path (or `name=` one): only then
    /// is a word worth resolving to the path it names on disk.
    pub paths: bool,
}

impl GlobList {
    pub fn new(patterns: &[String]) -> Result<GlobList, String> {
        let mut list = GlobList::default();
        for p in patterns {
            match p.strip_prefix('!') {
                Some(rest) => list.exempt.push(Glob::new(rest)?),
                None => list.positive.push(Glob::new(p)?),
            }
        }
        list.paths = list.positive.iter().any(|g| {
            let p = g.as_str();
            p.starts_with(['/', '~']) || p.starts_with("**") || p.contains("=/") || p.contains("=~")
        });
        if list.positive.is_empty() && !list.exempt.is_empty() {
            return Err("a pattern list with only `!` exemptions matches nothing; add a positive pattern such as `*`".into());
        }
        Ok(list)
    }

    pub fn is_empty(&self) -> bool {
        self.positive.is_empty()
    }

    pub fn matches_positive(&self, text: &str) -> bool {
        self.positive.iter().any(|g| g.is_match(text))
    }

    pub fn is_exempt(&self, text: &str) -> bool {
        self.exempt.iter().any(|g| g.is_match(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_a_shell_glob() {
        let cases = [
            ("mkfs*", "mkfs.ext4", true),
            ("mkfs*", "mkfs", true),
            ("/*", "/etc", true),
            ("/*", "/etc/passwd", false),
            ("/**", "/etc/passwd", true),
            ("of=/dev/**", "of=/dev/disk/by-id/x", true),
            ("s3://*", "s3://bucket", true),
            ("[4267][0-7][0-7][0-7]", "4755", true),
            ("[4267][0-7][0-7][0-7]", "0755", false),
            ("*+s*", "u+s", true),
            ("[!-]*", "-x", false),
            ("delete-*", "delete-bucket", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("\\*", "*", true),
            ("\\*", "x", false),
            ("**/*.pub", "~/.ssh/id_rsa.pub", true),
            ("*/x", "a/b/x", false),
            ("**/x", "a/b/x", true),
            ("*", "", true),
            ("/:**", "/:/host", true),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(
                Glob::new(pattern).unwrap().is_match(text),
                want,
                "{pattern} vs {text}"
            );
        }
    }

    #[test]
    fn long_words_match_in_linear_time() {
        let text = "/".repeat(200_000) + "x";
        assert!(!Glob::new("*a*a*a*b").unwrap().is_match(&text));
        assert!(Glob::new("**x").unwrap().is_match(&text));
    }

    #[test]
    fn rejects_bad_patterns() {
        assert!(Glob::new("[abc").is_err());
        assert!(GlobList::new(&["!build".into()]).is_err());
    }
}
