//! CSV as gatekeep writes it (RFC 4180, CRLF line ends), and the one place that decides how a
//! cell is written: defused for spreadsheets, then quoted. Every CSV gatekeep writes (the
//! server's export, the audit report, the local ledger's `log --format csv`) goes through
//! [`field`], because each of them holds text from outside (commands, names, reasons) and is
//! meant to be opened in a spreadsheet.

use std::borrow::Cow;

/// One CSV field, the one place gatekeep decides how a cell is written: defused for
/// spreadsheets, then quoted when RFC 4180 requires it (a comma, a double quote, CR or LF),
/// with double quotes doubled.
///
/// Defusing (OWASP's advice on CSV injection): a cell a spreadsheet would read as a formula
/// gets a leading `'`. Spreadsheets skip leading blanks (a space, NBSP, an ideographic space)
/// and read the fullwidth `＝＋－＠` as their ASCII forms, so those count too.
pub(crate) fn field(s: &str) -> Cow<'_, str> {
    let first = s.trim_start_matches(|c: char| c.is_whitespace() && !matches!(c, '\t' | '\r'));
    let formula = first.starts_with(['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠']);
    let s: Cow<'_, str> = if formula {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    };
    if s.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        s
    }
}

/// How a record ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineEnd {
    /// RFC 4180's CRLF: the server's export and the report.
    #[cfg_attr(
        all(not(feature = "server"), not(test)),
        expect(dead_code, reason = "the server's CSV")
    )]
    Crlf,
    /// LF: the local ledger's `gatekeep audit export --format csv`, which has always ended
    /// its lines so; kept, since scripts read it line by line.
    Lf,
}

/// One CSV record: the fields quoted by [`field`], joined by commas, ended by CRLF.
#[cfg(feature = "server")]
pub(crate) fn row(fields: &[&str]) -> String {
    record(fields, LineEnd::Crlf)
}

/// One CSV record: the fields quoted by [`field`], joined by commas, ended by `end`.
pub(crate) fn record<S: AsRef<str>>(fields: &[S], end: LineEnd) -> String {
    let mut row = String::new();
    for (i, cell) in fields.iter().enumerate() {
        if i > 0 {
            row.push(',');
        }
        row.push_str(&field(cell.as_ref()));
    }
    row.push_str(match end {
        LineEnd::Crlf => "\r\n",
        LineEnd::Lf => "\n",
    });
    row
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small RFC 4180 reader: quoted fields may hold commas, doubled quotes and line ends;
    /// records end with CRLF.
    #[cfg_attr(
        not(feature = "server"),
        expect(dead_code, reason = "read by the server's tests")
    )]
    pub(crate) fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => {
                    assert!(field.is_empty(), "a quote inside an unquoted field");
                    quoted = true;
                }
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\r') => {
                    assert_eq!(chars.next(), Some('\n'), "a bare CR");
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, '\n') => panic!("a record ends with LF, not CRLF"),
                (false, c) => field.push(c),
            }
        }
        assert!(!quoted, "an unterminated quoted field");
        assert!(
            row.is_empty() && field.is_empty(),
            "the last record has no CRLF"
        );
        rows
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(field("plain text"), "plain text");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\r"), "\"cr\r\"");
        for formula in [
            "=1+1",
            "+1",
            "-1",
            "@SUM(A1)",
            " =1",
            "\u{a0}=1",
            "\u{3000}=1",
            "＝1+1",
            "\t=1",
        ] {
            assert_eq!(
                field(formula).trim_matches('"').chars().next(),
                Some('\''),
                "{formula:?}"
            );
        }
        assert_eq!(field("a=1"), "a=1");
        assert_eq!(record(&["a", "", "b,c"], LineEnd::Crlf), "a,,\"b,c\"\r\n");
        assert_eq!(
            record(&["=1".to_owned(), "x\ny".to_owned()], LineEnd::Lf),
            "'=1,\"x\ny\"\n"
        );
    }
}
