//! Quote removal: turns one word as written into the value bash would pass to a program.
//!
//! brush-parser splits a word into typed pieces; this module joins them the way bash does
//! after expansion. It decodes `$'...'` itself, because brush-parser leaves ANSI-C escapes
//! undecoded and `$'\x72m'` must read as `rm`. A piece whose value is only known at run time
//! (a parameter, a command substitution, an arithmetic expansion, brace expansion) makes the
//! whole word [`Word::Dynamic`]; the text of every command substitution is handed back so the
//! walker can read the commands inside it.

use brush_parser::word::{
    Parameter, ParameterExpr, ParameterTransformOp, TildeExpr, WordPiece, WordPieceWithSource,
};

use super::Word;

/// A word after quote removal, with what it carries besides its value.
#[derive(Debug)]
pub struct Expanded {
    pub word: Word,
    /// Unquoted `*`, `?` or `[`: bash would replace the word with matching file names.
    pub globs: bool,
    /// The source text of each command substitution inside the word, to be read as a script.
    pub substitutions: Vec<String>,
    /// Parts of the word that run code gatekeep cannot read (a substitution inside `${...}`).
    pub unreadable: Vec<String>,
    /// Run-time code paths the walker judges with what the line assigned before (see
    /// [`super::parse`]'s arithmetic checker): arithmetic, subscripts, indirection.
    pub runtime: Vec<Runtime>,
}

/// A part of a word that bash evaluates beyond substituting text: arithmetic can read a
/// variable whose value is `a[$(cmd)]` and run `cmd`; `${!x}` dereferences a name that may
/// carry such a subscript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// An arithmetic expression (`$((...))`, `$[...]`, a `${s:off:len}` offset).
    Arithmetic(String),
    /// The subscript of `${name[index]}`: arithmetic unless `name` is associative.
    Subscript { name: String, index: String },
    /// `${!name}`: the value of `name` is used as a variable name.
    Indirect(String),
}

/// Performs quote removal on `raw`, as bash would on a word in a command.
pub fn expand(raw: &str) -> Expanded {
    let mut out = Expanded {
        word: Word::Literal(String::new()),
        globs: false,
        substitutions: Vec::new(),
        unreadable: Vec::new(),
        runtime: Vec::new(),
    };
    let parsed = if overflows_parser_number(raw) {
        Err(())
    } else {
        brush_parser::word::parse(raw, &parser_options()).map_err(|_| ())
    };
    let pieces = match parsed {
        Ok(pieces) => pieces,
        Err(()) => {
            out.word = Word::dynamic(raw, "the word could not be parsed");
            out.unreadable
                .push(format!("the word `{raw}` could not be parsed"));
            return out;
        }
    };
    let mut value = String::new();
    let mut why: Option<String> = None;
    let mut unquoted = String::new();
    join(
        raw,
        &pieces,
        false,
        &mut value,
        &mut why,
        &mut unquoted,
        &mut out,
    );
    if has_brace_expansion(&unquoted) {
        why.get_or_insert_with(|| "brace expansion turns it into several words".into());
    }
    out.globs = has_glob(&unquoted);
    out.word = match why {
        None => Word::Literal(value),
        Some(why) => Word::Dynamic {
            raw: raw.to_owned(),
            why,
        },
    };
    out
}

/// Reads the body of an unquoted here-document, returning the command substitutions that the
/// outer shell runs while expanding it, and as `word` the text the command reads: literal
/// when nothing in it is only known at run time.
pub fn heredoc_substitutions(body: &str) -> Expanded {
    let mut out = Expanded {
        word: Word::Literal(body.to_owned()),
        globs: false,
        substitutions: Vec::new(),
        unreadable: Vec::new(),
        runtime: Vec::new(),
    };
    if overflows_parser_number(body) {
        out.unreadable
            .push("a here-document body holds a number too large to read".into());
        return out;
    }
    match brush_parser::word::parse_heredoc(body, &parser_options()) {
        Ok(pieces) => {
            let (mut value, mut why, mut unquoted) = (String::new(), None, String::new());
            join(
                body,
                &pieces,
                true,
                &mut value,
                &mut why,
                &mut unquoted,
                &mut out,
            );
            out.word = match why {
                // What the command reads: the body after the outer shell's backslash rules
                // (`\$` is `$`, `\``...`` is a backquote, `\<newline>` joins lines).
                None => Word::Literal(value),
                Some(why) => Word::Dynamic {
                    raw: body.to_owned(),
                    why,
                },
            };
        }
        Err(_) => out
            .unreadable
            .push("a here-document body could not be parsed".into()),
    }
    out
}

/// The value of a word whose only run-time parts are plain parameters (`$NAME`, `${NAME}`),
/// given their values; `None` when a parameter is unknown or the word holds anything else
/// only known at run time (a substitution, `${X:-y}`, arithmetic, brace expansion).
///
/// `~` and `~user` stay as written, as in [`expand`]: the caller gives them meaning. Pure:
/// the values come from `lookup`, which the policy stage answers from the environment the
/// command runs with and the line's earlier assignments.
pub fn substitute(raw: &str, lookup: &mut dyn FnMut(&str) -> Option<String>) -> Option<String> {
    if overflows_parser_number(raw) {
        return None;
    }
    let pieces = brush_parser::word::parse(raw, &parser_options()).ok()?;
    let mut value = String::new();
    let mut unquoted = String::new();
    substitute_pieces(raw, &pieces, false, lookup, &mut value, &mut unquoted)?;
    if has_brace_expansion(&unquoted) {
        return None;
    }
    Some(value)
}

fn substitute_pieces(
    raw: &str,
    pieces: &[WordPieceWithSource],
    quoted: bool,
    lookup: &mut dyn FnMut(&str) -> Option<String>,
    value: &mut String,
    unquoted: &mut String,
) -> Option<()> {
    for piece in pieces {
        match &piece.piece {
            WordPiece::Text(s) if quoted => value.push_str(&s.replace("\\\n", "")),
            WordPiece::Text(s) => {
                value.push_str(s);
                unquoted.push_str(s);
            }
            WordPiece::SingleQuotedText(s) => value.push_str(s),
            WordPiece::AnsiCQuotedText(s) => value.push_str(&decode_ansi_c(s)),
            WordPiece::EscapeSequence(s) => {
                let escaped = s.strip_prefix('\\').unwrap_or(s);
                if escaped != "\n" {
                    value.push_str(escaped);
                }
            }
            WordPiece::DoubleQuotedSequence(inner)
            | WordPiece::GettextDoubleQuotedSequence(inner) => {
                substitute_pieces(raw, inner, true, lookup, value, unquoted)?;
            }
            WordPiece::TildeExpansion(TildeExpr::Home) => value.push('~'),
            WordPiece::TildeExpansion(TildeExpr::UserHome(user)) => {
                value.push('~');
                value.push_str(user);
            }
            WordPiece::ParameterExpansion(_) => {
                let src = raw.get(piece.start_index..piece.end_index)?;
                let name = src.strip_prefix('$')?;
                let name = name
                    .strip_prefix('{')
                    .and_then(|n| n.strip_suffix('}'))
                    .unwrap_or(name);
                let plain = name
                    .chars()
                    .next()
                    .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
                    && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
                if !plain {
                    return None;
                }
                let v = lookup(name)?;
                if !quoted {
                    // Unquoted, the value is split into words and globbed: only a value that
                    // stays one plain word is known.
                    if v.is_empty() || v.contains(char::is_whitespace) || has_glob(&v) {
                        return None;
                    }
                }
                value.push_str(&v);
            }
            _ => return None,
        }
    }
    Some(())
}

/// Whether `text` holds a number that brush-parser 0.4.0 reads with `parse().unwrap()` and
/// that does not fit its type, so that parsing it panics (found by `fuzz/`): an I/O number
/// before a redirection (`echo 99999999999>x`, an `i32`) or a directory-stack index after a
/// tilde (`~99999999999999999999`, `~+N`, `~-N`, a `usize`). Checked anywhere in the text,
/// quoted or not: a false alarm only escalates a command bash would refuse or read oddly.
pub(crate) fn overflows_parser_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'~' {
            let mut start = i + 1;
            if matches!(bytes.get(start), Some(b'+' | b'-')) {
                start += 1;
            }
            let end = digits_end(bytes, start);
            if end > start && text[start..end].parse::<usize>().is_err() {
                return true;
            }
            i = end.max(i + 1);
        } else if bytes[i].is_ascii_digit() {
            let end = digits_end(bytes, i);
            if matches!(bytes.get(end), Some(b'<' | b'>')) && text[i..end].parse::<i32>().is_err() {
                return true;
            }
            i = end;
        } else {
            i += 1;
        }
    }
    false
}

fn digits_end(bytes: &[u8], from: usize) -> usize {
    from + bytes[from.min(bytes.len())..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count()
}

pub(crate) fn parser_options() -> brush_parser::ParserOptions {
    brush_parser::ParserOptions {
        // bash -c runs with extglob off; brush treats `!(` etc. as patterns only when on.
        enable_extended_globbing: false,
        ..Default::default()
    }
}

fn join(
    raw: &str,
    pieces: &[WordPieceWithSource],
    quoted: bool,
    value: &mut String,
    why: &mut Option<String>,
    unquoted: &mut String,
    out: &mut Expanded,
) {
    for piece in pieces {
        match &piece.piece {
            WordPiece::Text(s) if quoted => {
                // Inside double quotes brush-parser leaves `\<newline>` in the text, but bash
                // removes it there as it does unquoted: `"r\<newline>m"` is `rm`. No other
                // backslash pair can be in this text: `\\` is an escape sequence of its own.
                value.push_str(&s.replace("\\\n", ""));
            }
            WordPiece::Text(s) => {
                value.push_str(s);
                unquoted.push_str(s);
            }
            WordPiece::SingleQuotedText(s) => value.push_str(s),
            WordPiece::AnsiCQuotedText(s) => value.push_str(&decode_ansi_c(s)),
            WordPiece::EscapeSequence(s) => {
                // `\<newline>` is a line continuation and vanishes; any other escape stands
                // for the character after the backslash.
                let escaped = s.strip_prefix('\\').unwrap_or(s);
                if escaped != "\n" {
                    value.push_str(escaped);
                }
            }
            WordPiece::DoubleQuotedSequence(inner)
            | WordPiece::GettextDoubleQuotedSequence(inner) => {
                join(raw, inner, true, value, why, unquoted, out);
            }
            WordPiece::TildeExpansion(tilde) => match tilde {
                // `~` and `~user` name home directories: keep them as written so that rules
                // can match them (`rm -rf ~`).
                TildeExpr::Home => value.push('~'),
                TildeExpr::UserHome(user) => {
                    value.push('~');
                    value.push_str(user);
                }
                _ => {
                    why.get_or_insert_with(|| {
                        "a directory-stack tilde is only known at run time".into()
                    });
                }
            },
            WordPiece::ParameterExpansion(expr) => {
                let src = raw.get(piece.start_index..piece.end_index).unwrap_or(raw);
                if src.contains("$(") || src.contains('`') || src.contains("<(") {
                    out.unreadable.push(format!(
                        "`{src}` runs a command inside a parameter expansion"
                    ));
                }
                parameter_runtime(src, expr, out);
                why.get_or_insert_with(|| "it contains a variable, only known at run time".into());
            }
            WordPiece::CommandSubstitution(text)
            | WordPiece::BackquotedCommandSubstitution(text) => {
                out.substitutions.push(text.clone());
                why.get_or_insert_with(|| "it contains the output of a command".into());
            }
            WordPiece::ArithmeticExpression(expr) => {
                if expr.value.contains("$(") || expr.value.contains('`') {
                    out.unreadable.push(format!(
                        "`$(({}))` runs a command inside arithmetic",
                        expr.value
                    ));
                }
                out.runtime.push(Runtime::Arithmetic(expr.value.clone()));
                why.get_or_insert_with(|| "it contains arithmetic, only known at run time".into());
            }
        }
    }
}

/// What a parameter expansion evaluates at run time besides substituting a value.
fn parameter_runtime(src: &str, expr: &ParameterExpr, out: &mut Expanded) {
    use ParameterExpr as P;
    let (parameter, indirect) = match expr {
        P::Parameter {
            parameter,
            indirect,
        }
        | P::UseDefaultValues {
            parameter,
            indirect,
            ..
        }
        | P::AssignDefaultValues {
            parameter,
            indirect,
            ..
        }
        | P::IndicateErrorIfNullOrUnset {
            parameter,
            indirect,
            ..
        }
        | P::UseAlternativeValue {
            parameter,
            indirect,
            ..
        }
        | P::ParameterLength {
            parameter,
            indirect,
        }
        | P::RemoveSmallestSuffixPattern {
            parameter,
            indirect,
            ..
        }
        | P::RemoveLargestSuffixPattern {
            parameter,
            indirect,
            ..
        }
        | P::RemoveSmallestPrefixPattern {
            parameter,
            indirect,
            ..
        }
        | P::RemoveLargestPrefixPattern {
            parameter,
            indirect,
            ..
        }
        | P::Substring {
            parameter,
            indirect,
            ..
        }
        | P::Transform {
            parameter,
            indirect,
            ..
        }
        | P::UppercaseFirstChar {
            parameter,
            indirect,
            ..
        }
        | P::UppercasePattern {
            parameter,
            indirect,
            ..
        }
        | P::LowercaseFirstChar {
            parameter,
            indirect,
            ..
        }
        | P::LowercasePattern {
            parameter,
            indirect,
            ..
        }
        | P::ReplaceSubstring {
            parameter,
            indirect,
            ..
        } => (parameter, *indirect),
        // `${!prefix*}` and `${!arr[@]}` list names and keys; nothing is dereferenced.
        P::VariableNames { .. } | P::MemberKeys { .. } => return,
    };
    if let P::Substring { offset, length, .. } = expr {
        out.runtime.push(Runtime::Arithmetic(offset.value.clone()));
        if let Some(length) = length {
            out.runtime.push(Runtime::Arithmetic(length.value.clone()));
        }
    }
    if let P::Transform {
        op: ParameterTransformOp::PromptExpand,
        ..
    } = expr
    {
        out.unreadable.push(format!(
            "`{src}` expands the value as a prompt, which runs any command substitution in it"
        ));
    }
    match parameter {
        Parameter::NamedWithIndex { name, index } => {
            out.runtime.push(Runtime::Subscript {
                name: name.clone(),
                index: index.clone(),
            });
            if indirect {
                out.runtime
                    .push(Runtime::Indirect(format!("{name}[{index}]")));
            }
        }
        Parameter::Named(name) | Parameter::NamedWithAllIndices { name, .. } if indirect => {
            out.runtime.push(Runtime::Indirect(name.clone()));
        }
        Parameter::Positional(n) if indirect => out.runtime.push(Runtime::Indirect(n.to_string())),
        Parameter::Special(_) if indirect => out.runtime.push(Runtime::Indirect(src.to_owned())),
        _ => {}
    }
}

/// Unquoted `*`, `?`, or a `[` closed by a later `]`: pathname expansion. A `[` with no
/// `]` after it (the `[` test command) is literal, as in bash.
fn has_glob(unquoted: &str) -> bool {
    unquoted.contains(['*', '?'])
        || unquoted
            .find('[')
            .is_some_and(|open| unquoted[open + 1..].contains(']'))
}

/// Unquoted `{a,b}` or `{1..3}`: bash turns one word into several before running it.
fn has_brace_expansion(unquoted: &str) -> bool {
    let Some(open) = unquoted.find('{') else {
        return false;
    };
    let rest = &unquoted[open..];
    let Some(close) = rest.find('}') else {
        return false;
    };
    let inner = &rest[1..close];
    inner.contains(',') || inner.contains("..") || rest[close + 1..].contains('{')
}

/// Decodes the body of a `$'...'` string the way bash does.
pub fn decode_ansi_c(body: &str) -> String {
    // brush-parser hands back the body with or without the `$'`/`'` around it depending on
    // context; accept both.
    let body = body
        .strip_prefix("$'")
        .and_then(|b| b.strip_suffix('\''))
        .unwrap_or(body);
    let mut out = String::with_capacity(body.len());
    let mut bytes: Vec<u8> = Vec::new();
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let flush = |bytes: &mut Vec<u8>, out: &mut String| {
        if !bytes.is_empty() {
            out.push_str(&String::from_utf8_lossy(bytes));
            bytes.clear();
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 == chars.len() {
            flush(&mut bytes, &mut out);
            out.push(c);
            i += 1;
            continue;
        }
        let e = chars[i + 1];
        i += 2;
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'e' | 'E' => Some('\x1b'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            '?' => Some('?'),
            _ => None,
        };
        if let Some(s) = simple {
            flush(&mut bytes, &mut out);
            out.push(s);
            continue;
        }
        match e {
            '0'..='7' => {
                // Up to three octal digits, the first already read.
                let mut n = e.to_digit(8).unwrap_or(0);
                let mut taken = 1;
                while taken < 3 && i < chars.len() && chars[i].is_digit(8) {
                    n = n * 8 + chars[i].to_digit(8).unwrap_or(0);
                    i += 1;
                    taken += 1;
                }
                bytes.push((n & 0xff) as u8);
            }
            'x' => {
                let (n, len) = hex_prefix(&chars[i..], 2);
                if len == 0 {
                    flush(&mut bytes, &mut out);
                    out.push_str("\\x");
                } else {
                    bytes.push(n as u8);
                    i += len;
                }
            }
            'u' | 'U' => {
                let max = if e == 'u' { 4 } else { 8 };
                let (n, len) = hex_prefix(&chars[i..], max);
                flush(&mut bytes, &mut out);
                if len == 0 {
                    out.push('\\');
                    out.push(e);
                } else {
                    out.push(char::from_u32(n).unwrap_or('\u{fffd}'));
                    i += len;
                }
            }
            'c' if i < chars.len() => {
                // Control character: bash's TOCTRL takes the next byte `x` and gives
                // x & 0x1f, except that `\c?` is DEL. It reads one byte, not one character:
                // the rest of a multi-byte character follows as is. A backslash right after
                // a backslash control (`\c\\`) belongs to it.
                let mut utf8 = [0u8; 4];
                let (first, rest) = chars[i].encode_utf8(&mut utf8).as_bytes().split_at(1);
                bytes.push(if first[0] == b'?' {
                    0x7f
                } else {
                    first[0] & 0x1f
                });
                bytes.extend_from_slice(rest);
                i += 1;
                if first[0] == b'\\' && chars.get(i) == Some(&'\\') {
                    i += 1;
                }
            }
            other => {
                flush(&mut bytes, &mut out);
                out.push('\\');
                out.push(other);
            }
        }
    }
    flush(&mut bytes, &mut out);
    // bash builds the decoded string as a C string: a NUL (`\0`, `\x00`, `\u0000`, `\c@`)
    // ends it, and the rest of the `$'...'` is dropped. `$'rm\0x'` runs `rm`.
    if let Some(nul) = out.find('\0') {
        out.truncate(nul);
    }
    out
}

fn hex_prefix(chars: &[char], max: usize) -> (u32, usize) {
    let mut n = 0u32;
    let mut len = 0;
    while len < max && len < chars.len() {
        match chars[len].to_digit(16) {
            Some(d) => n = n * 16 + d,
            None => break,
        }
        len += 1;
    }
    (n, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(raw: &str) -> String {
        match expand(raw).word {
            Word::Literal(s) => s,
            Word::Dynamic { why, .. } => panic!("{raw} was dynamic: {why}"),
        }
    }

    /// brush-parser panics on these numbers (found by fuzz/); they must be caught first.
    #[test]
    fn numbers_the_parser_cannot_hold_are_caught() {
        let caught = [
            "echo 99999999999>x",
            "echo x 2222222222222222222222222222>> f",
            "cat 2147483648<f",
            "ls ~99999999999999999999999/x",
            "ls ~+99999999999999999999999",
            "ls ~-99999999999999999999999",
        ];
        for text in caught {
            assert!(overflows_parser_number(text), "{text}");
        }
        let read = [
            "echo 2147483647>x",
            "ls 2>&1",
            "sleep 99999999999999999999999",
            "ls ~/x ~+ ~- ~1 ~-2 ~bob",
            "echo ~",
            "echo 1234567890123",
            "",
        ];
        for text in read {
            assert!(!overflows_parser_number(text), "{text}");
        }
        assert!(matches!(
            expand("~99999999999999999999999").word,
            Word::Dynamic { .. }
        ));
        assert_eq!(substitute("~99999999999999999999999", &mut |_| None), None);
    }

    #[test]
    fn removes_quotes_as_bash_does() {
        let cases = [
            ("k\"ubectl\"", "kubectl"),
            ("del'ete'", "delete"),
            ("'a b'", "a b"),
            ("\\rm", "rm"),
            ("\"a\\$b\"", "a$b"),
            ("\"a\\b\"", "a\\b"),
            ("a\\\nb", "ab"),
            ("~/x", "~/x"),
            ("$'\\x72m'", "rm"),
            ("$'\\162\\155'", "rm"),
            ("$'\\u0072m'", "rm"),
            ("$'it\\'s'", "it's"),
            ("''", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(lit(raw), want, "{raw}");
        }
    }

    #[test]
    fn dynamic_words_say_why() {
        for raw in [
            "$X",
            "\"$HOME/x\"",
            "$(ls)",
            "`ls`",
            "$((1+2))",
            "{a,b}",
            "x{1..3}",
        ] {
            assert!(matches!(expand(raw).word, Word::Dynamic { .. }), "{raw}");
        }
        assert_eq!(
            expand("$(rm -rf /)").substitutions,
            vec!["rm -rf /".to_owned()]
        );
        assert_eq!(expand("\"`id`\"").substitutions, vec!["id".to_owned()]);
        assert!(!expand("${X:-$(rm -rf /)}").unreadable.is_empty());
    }

    #[test]
    fn find_placeholder_is_not_brace_expansion() {
        assert_eq!(lit("{}"), "{}");
        assert!(expand("*.log").globs);
        assert!(!expand("'*.log'").globs);
    }
}
