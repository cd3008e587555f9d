//! Brace expansion, done where bash does it: `cat /etc/{passwd,shadow}` runs `cat` on two
//! files, so rules must see both words, not one word only known at run time.
//!
//! brush-parser parses the braces (respecting quotes: `'{a,b}'` stays one word); this module
//! generates the words. Forms it cannot reproduce exactly (zero-padded sequences, numbers
//! too large for the parser) and expansions into more than [`MAX_WORDS`] words are left to
//! the caller, which keeps the word dynamic.

use brush_parser::word::{BraceExpressionMember, BraceExpressionOrText};

use super::word::parser_options;

/// Most words one word may expand to before it is left dynamic.
pub const MAX_WORDS: usize = 64;

/// The words bash makes of `raw` (source text, quotes kept) by brace expansion, or `None`
/// when it has no brace expansion or gatekeep does not reproduce it exactly.
pub fn expand(raw: &str) -> Option<Vec<String>> {
    if !raw.contains('{') || has_long_number(raw) || padded_sequence(raw) {
        return None;
    }
    let pieces = brush_parser::word::parse_brace_expansions(raw, &parser_options()).ok()??;
    if !pieces
        .iter()
        .any(|p| matches!(p, BraceExpressionOrText::Expr(_)))
    {
        return None;
    }
    let words = sequence(&pieces)?;
    (words.len() > 1).then_some(words)
}

/// The words of a run of pieces: the product of each piece's alternatives.
fn sequence(pieces: &[BraceExpressionOrText]) -> Option<Vec<String>> {
    let mut words = vec![String::new()];
    for piece in pieces {
        let alternatives = match piece {
            BraceExpressionOrText::Text(t) => vec![t.clone()],
            BraceExpressionOrText::Expr(members) => {
                let mut all = Vec::new();
                for member in members {
                    all.extend(member_words(member)?);
                    if all.len() > MAX_WORDS {
                        return None;
                    }
                }
                all
            }
        };
        if words.len().saturating_mul(alternatives.len()) > MAX_WORDS {
            return None;
        }
        words = words
            .iter()
            .flat_map(|w| alternatives.iter().map(move |a| format!("{w}{a}")))
            .collect();
    }
    Some(words)
}

fn member_words(member: &BraceExpressionMember) -> Option<Vec<String>> {
    match member {
        BraceExpressionMember::Child(pieces) => sequence(pieces),
        BraceExpressionMember::NumberSequence {
            start,
            end,
            increment,
        } => {
            steps(*start, *end, *increment).map(|v| v.into_iter().map(|n| n.to_string()).collect())
        }
        BraceExpressionMember::CharSequence {
            start,
            end,
            increment,
        } => steps(
            i64::from(u32::from(*start)),
            i64::from(u32::from(*end)),
            *increment,
        )
        .map(|v| {
            v.into_iter()
                .filter_map(|n| u32::try_from(n).ok().and_then(char::from_u32))
                .map(String::from)
                .collect()
        }),
    }
}

/// `start..end` by `|increment|` (0 counts as 1), in the direction from start to end.
fn steps(start: i64, end: i64, increment: i64) -> Option<Vec<i64>> {
    let step = increment.checked_abs()?.max(1);
    let span = start.abs_diff(end);
    if span / step.unsigned_abs() >= MAX_WORDS as u64 {
        return None;
    }
    let mut out = Vec::new();
    let mut n = start;
    loop {
        out.push(n);
        if n == end || out.len() > MAX_WORDS {
            break;
        }
        let next = if start <= end { n + step } else { n - step };
        if (start <= end && next > end) || (start > end && next < end) {
            break;
        }
        n = next;
    }
    Some(out)
}

/// A digit run too long for the parser's `i64` (it would panic).
fn has_long_number(raw: &str) -> bool {
    raw.split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() > 18)
}

/// `{01..10}`: bash pads to the widest, brush-parser reads plain numbers; left dynamic.
fn padded_sequence(raw: &str) -> bool {
    let b = raw.as_bytes();
    b.windows(3)
        .any(|w| matches!(w[0], b'{' | b'.' | b'-') && w[1] == b'0' && w[2].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_like_bash() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            (
                "/etc/{passwd,shadow}",
                Some(&["/etc/passwd", "/etc/shadow"]),
            ),
            ("a{b,c}d", Some(&["abd", "acd"])),
            ("{1..3}", Some(&["1", "2", "3"])),
            ("{3..1}", Some(&["3", "2", "1"])),
            ("{a..e..2}", Some(&["a", "c", "e"])),
            ("x{,y}", Some(&["x", "xy"])),
            ("{a,b}{1,2}", Some(&["a1", "a2", "b1", "b2"])),
            ("'{a,b}'", None),
            ("{a}", None),
            ("{}", None),
            ("{01..03}", None),
            ("{1..100000}", None),
            ("{1..99999999999999999999}", None),
        ];
        for (raw, want) in cases {
            let got = expand(raw);
            let want = want.map(|w| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
            assert_eq!(got, want, "{raw}");
        }
    }
}
