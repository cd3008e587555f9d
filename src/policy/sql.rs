//! Finds the statements a SQL text runs, well enough to tell `DROP` from `SELECT`.
//!
//! String literals, quoted identifiers and comments are removed before looking for
//! keywords, so `select 'drop table'` does not read as a `DROP`. Dollar-quoted bodies
//! (`DO $$ ... $$`) are code in PostgreSQL and are kept.
//!
//! The text is read twice, as PostgreSQL and as MySQL would, because they disagree on what is
//! a comment or a string (`\'`, `#`, `--x`, `/*! ... */`); a keyword found under either
//! reading counts, so a statement cannot be hidden in the gap between them.

use super::Certainty;

/// Whether `text` uses any of `keywords` (upper case) as a SQL keyword. A keyword that
/// starts with `\` or `.` is a client meta-command (psql's `\!`, sqlite's `.shell`) and is
/// found as text.
pub fn uses_any(text: &str, keywords: &[String]) -> Certainty {
    let mut words = keywords_of(text, Dialect::Postgres);
    words.extend(keywords_of(text, Dialect::MySql));
    let hit = keywords.iter().any(|k| {
        if k.starts_with(['\\', '.']) {
            text.to_ascii_uppercase().contains(k.as_str())
        } else {
            words.iter().any(|w| w == k)
        }
    });
    if hit {
        Certainty::Certain
    } else {
        Certainty::No
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// `\` is literal inside strings; `#` is an operator; `--` always starts a comment.
    Postgres,
    /// `\` escapes inside strings; `#` starts a comment; `--` only when a space follows;
    /// `/*! ... */` is run.
    MySql,
}

/// The upper-cased words of `text` outside literals and comments, as `dialect` reads it.
fn keywords_of(text: &str, dialect: Dialect) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    let flush = |current: &mut String, words: &mut Vec<String>| {
        if !current.is_empty() {
            words.push(current.to_ascii_uppercase());
            current.clear();
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' | '`' => {
                flush(&mut current, &mut words);
                i += 1;
                while i < chars.len() {
                    if chars[i] == c {
                        // A doubled quote is an escaped quote inside the literal.
                        if chars.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    if chars[i] == '\\' && dialect == Dialect::MySql {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-')
                && (dialect == Dialect::Postgres
                    || chars
                        .get(i + 2)
                        .is_none_or(|c| c.is_whitespace() || c.is_control())) =>
            {
                flush(&mut current, &mut words);
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '#' if dialect == Dialect::MySql => {
                // MySQL comment to end of line.
                flush(&mut current, &mut words);
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            // MySQL runs the body of `/*! ... */`: read it as code.
            '/' if chars.get(i + 1) == Some(&'*')
                && chars.get(i + 2) == Some(&'!')
                && dialect == Dialect::MySql =>
            {
                flush(&mut current, &mut words);
                i += 3;
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                flush(&mut current, &mut words);
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
            }
            c if c.is_alphanumeric() || c == '_' => {
                current.push(c);
                i += 1;
            }
            _ => {
                flush(&mut current, &mut words);
                i += 1;
            }
        }
    }
    flush(&mut current, &mut words);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_keywords_outside_literals() {
        let writes = kw(&["DROP", "DELETE", "UPDATE", "TRUNCATE", "\\!"]);
        for (sql, want) in [
            ("DROP TABLE customers", Certainty::Certain),
            ("delete from users", Certainty::Certain),
            ("SELECT * FROM t WHERE note = 'drop table x'", Certainty::No),
            ("select deleted_at from users", Certainty::No),
            ("select 1; -- drop table x", Certainty::No),
            ("select 1; /* delete */ select 2", Certainty::No),
            (
                "WITH x AS (SELECT 1) UPDATE t SET a = 1",
                Certainty::Certain,
            ),
            ("DO $$ BEGIN TRUNCATE t; END $$", Certainty::Certain),
            ("select 'it''s'; truncate t", Certainty::Certain),
            ("\\! rm -rf /", Certainty::Certain),
            ("SELECT \"drop\" FROM t", Certainty::No),
            ("select 'a\\'; drop table users; --'", Certainty::Certain),
            ("SELECT 1 # 1; DROP TABLE users", Certainty::Certain),
            ("/*! DROP TABLE users */", Certainty::Certain),
            ("select 1 --1; drop table x", Certainty::Certain),
            ("select 1 -- drop table x", Certainty::No),
        ] {
            assert_eq!(uses_any(sql, &writes), want, "{sql}");
        }
    }
}
