//! Names that come to mean another program within a line (and within the scripts it
//! runs): aliases, functions called with arguments, `hash -p`, programs copied, linked,
//! installed or moved to a new name, and files written by any means and then run.
//!
//! Every such name is read conservatively: the command is still judged as written, and
//! the other reading is judged as well (`alias k=kubectl; k delete ns x` is both `k ...`
//! and `kubectl delete ns x`, whether or not bash expands aliases there). A file the line
//! wrote is read from the literal text written (`echo ls > x.sh; bash x.sh`); one written
//! in a way gatekeep cannot read (a download, an archive, a computed text) is unreadable
//! when it runs.

use super::{Ctx, Walker, path_key, pipe_output};
use crate::shell::load::MAX_FILE;
use crate::shell::unwrap::{self, Step};
use crate::shell::{Invocation, Stdin, Word, basename};

/// What a file that the line wrote holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// This literal text (for several writes, all of it: reading more only adds checks).
    Text(String),
    /// A copy of (or link to) this path, a program or a file.
    Copy(String),
    /// Something gatekeep cannot read; says how it was written.
    Unknown(String),
}

/// What names mean so far in the line.
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    /// `alias NAME=VALUE`: the value's text.
    aliases: Vec<(String, String)>,
    /// Function definitions: the body's text.
    functions: Vec<(String, String)>,
    /// `hash -p PATH NAME`.
    hashed: Vec<(String, Word)>,
    /// Files written, by [`path_key`].
    files: Vec<(String, Origin)>,
    /// An archive was extracted (or a tree written) whose members gatekeep cannot list.
    extracted: Option<String>,
}

impl Names {
    pub(crate) fn file(&self, path: &str) -> Option<&Origin> {
        if self.files.is_empty() {
            return None;
        }
        let key = path_key(path);
        self.files.iter().find(|(k, _)| *k == key).map(|(_, o)| o)
    }

    /// Why a file that is not known may have been written by the line (an archive).
    pub(crate) fn extracted(&self) -> Option<&str> {
        self.extracted.as_deref()
    }

    pub(crate) fn define_function(&mut self, name: &str, body: String) {
        self.functions.push((name.to_owned(), body));
    }

    fn set_file(&mut self, path: &str, origin: Origin) {
        let key = path_key(path);
        if key.is_empty() || path.starts_with("/dev/") {
            return;
        }
        let origin = match origin {
            // A here-document with an unquoted delimiter is written after bash removes
            // its backslashes (`\$(cmd)` is written as `$(cmd)`). Escaped, the text would
            // only be a literal `$` or backquote; unescaped it may run more: that is read.
            Origin::Text(t) if t.contains("\\$") || t.contains("\\`") => {
                Origin::Text(t.replace("\\$", "$").replace("\\`", "`"))
            }
            other => other,
        };
        let slot = self.files.iter().position(|(k, _)| *k == key);
        let merged = match (slot.map(|i| &self.files[i].1), origin) {
            // Appending (`>>`) or writing twice: all the text written is read.
            (Some(Origin::Text(old)), Origin::Text(new)) if old.len() + new.len() <= MAX_FILE => {
                Origin::Text(format!("{old}\n{new}"))
            }
            (Some(Origin::Text(_)), Origin::Text(_)) => {
                Origin::Unknown(format!("written more than {MAX_FILE} bytes"))
            }
            (Some(Origin::Unknown(why)), _) => Origin::Unknown(why.clone()),
            (_, origin) => origin,
        };
        match slot {
            Some(i) => self.files[i].1 = merged,
            None => self.files.push((key, merged)),
        }
    }

    /// What a copy of `src` holds.
    fn origin_of(&self, src: &Word) -> Origin {
        match src {
            Word::Literal(s) => self
                .file(s)
                .cloned()
                .unwrap_or_else(|| Origin::Copy(s.clone())),
            Word::Dynamic { raw, .. } => {
                Origin::Unknown(format!("a copy of `{raw}`, a path only known at run time"))
            }
        }
    }
}

/// Programs that extract archives into files gatekeep cannot list.
fn extracts(program: &str, args: &[Word]) -> bool {
    let first = args.first().and_then(Word::literal).unwrap_or("");
    match program {
        "tar" | "bsdtar" | "gtar" => {
            args.iter().filter_map(Word::literal).any(|a| {
                a == "--extract"
                    || a == "--get"
                    || (a.starts_with('-') && !a.starts_with("--") && a.contains('x'))
            }) || (!first.starts_with('-') && first.contains('x'))
        }
        "unzip" | "cpio" | "unrar" | "unar" | "ar" | "rpm2cpio" => true,
        "7z" | "7za" | "7zz" => matches!(first, "x" | "e"),
        _ => false,
    }
}

impl Walker<'_> {
    /// The other readings of `inv` that names defined earlier give it, as steps.
    pub(super) fn renamed(&mut self, inv: &Invocation, ctx: &Ctx) -> Vec<Step> {
        let Some(first) = inv.argv.first().and_then(Word::literal) else {
            return Vec::new();
        };
        let args = &inv.argv[1..];
        let mut steps = Vec::new();
        if let Some((_, value)) = self.names.aliases.iter().rev().find(|(n, _)| n == first) {
            // An alias naming itself (or a loop of them) is read once.
            let via = format!("alias {first}");
            if !ctx.via.contains(&via) {
                steps.push(Step::Script {
                    text: Word::Literal(append_words(value, args)),
                    via,
                });
            }
        }
        if !args.is_empty()
            && let Some((_, body)) = self.names.functions.iter().rev().find(|(n, _)| n == first)
            && !ctx
                .via
                .iter()
                .any(|v| v.strip_prefix("function ") == Some(first))
        {
            let via = format!("function {first}");
            steps.push(match positional(body, args) {
                Some(text) => Step::Script {
                    text: Word::Literal(text),
                    via,
                },
                // Arguments only known at run time: the body, read at its definition with
                // `$1`/`$@` unknown, already stands for them.
                None => return steps,
            });
        }
        if let Some((_, path)) = self.names.hashed.iter().rev().find(|(n, _)| n == first) {
            let mut argv = vec![path.clone()];
            argv.extend(args.iter().cloned());
            steps.push(Step::Run {
                argv,
                via: format!("hash -p {first}"),
                assignments: Vec::new(),
            });
        }
        if let Some(Origin::Copy(src)) = self.names.file(first)
            && path_key(src) != path_key(first)
        {
            let mut argv = vec![Word::Literal(src.clone())];
            argv.extend(args.iter().cloned());
            steps.push(Step::Run {
                argv,
                via: format!("{first}, a copy of {src}"),
                assignments: Vec::new(),
            });
        }
        steps
    }

    /// Remembers what `inv` makes names mean: aliases, `hash -p`, files it writes, copies,
    /// links and moves.
    pub(super) fn record_names(&mut self, inv: &Invocation) {
        let names = &mut self.names;
        let text = if inv.writes.is_empty() {
            None
        } else {
            pipe_output(&inv.argv, &inv.stdin).2
        };
        for w in &inv.writes {
            let Some(path) = w.literal() else { continue };
            let origin = match (&text, inv.program()) {
                (Some(t), _) => Origin::Text(t.clone()),
                // `cat FILE > x`: a copy.
                (None, Some("cat")) if inv.argv.len() == 2 && inv.stdin == Stdin::Inherited => {
                    names.origin_of(&inv.argv[1])
                }
                (None, _) => Origin::Unknown(format!(
                    "written by `{}`",
                    inv.argv.first().map_or("", |w| w.display())
                )),
            };
            names.set_file(path, origin);
        }
        for file in unwrap::downloaded_files(inv) {
            names.set_file(&file, Origin::Unknown("downloaded".into()));
        }
        let Some(program) = inv.program() else { return };
        let args = &inv.argv[1..];
        if extracts(program, args) {
            names.extracted = Some(format!("`{program}` writes files gatekeep cannot list"));
        }
        match program {
            "alias" => {
                for w in args.iter().filter_map(Word::literal) {
                    if let Some((name, value)) = w.split_once('=') {
                        names.aliases.push((name.to_owned(), value.to_owned()));
                    }
                }
            }
            "hash" => {
                let mut i = 0;
                while i < args.len() {
                    if args[i].literal() == Some("-p") && i + 2 < args.len() {
                        if let Some(name) = args[i + 2].literal() {
                            names.hashed.push((name.to_owned(), args[i + 1].clone()));
                        }
                        i += 3;
                    } else {
                        i += 1;
                    }
                }
            }
            "tee" | "sponge" => {
                let origin = match &inv.stdin {
                    Stdin::Text(t) => Origin::Text(t.clone()),
                    _ => Origin::Unknown(format!("written by `{program}` from its input")),
                };
                for f in args.iter().filter_map(Word::literal) {
                    if !f.starts_with('-') {
                        names.set_file(f, origin.clone());
                    }
                }
            }
            "cp" | "ln" | "install" | "mv" | "rsync" | "scp" | "dd" | "truncate" | "touch" => {
                copies(program, args, names);
            }
            _ => {}
        }
    }
}

/// `cp SRC... DST`, `ln [-s] TARGET [LINK]`, `install SRC DST`, `mv SRC DST`: each new
/// name holds what its source holds. A destination directory gives each source's name.
fn copies(program: &str, args: &[Word], names: &mut Names) {
    let value_opts = [
        "-m",
        "-o",
        "-g",
        "-S",
        "--suffix",
        "-t",
        "--target-directory",
        "--mode",
        "--owner",
        "--group",
        "-T",
    ];
    if program == "dd" {
        for a in args.iter().filter_map(Word::literal) {
            if let Some(f) = a.strip_prefix("of=") {
                names.set_file(f, Origin::Unknown("written by `dd`".into()));
            }
        }
        return;
    }
    let mut operands = Vec::new();
    let mut target_dir = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].literal().unwrap_or("");
        if a == "-d" && program == "install" {
            return;
        }
        if matches!(a, "-t" | "--target-directory") {
            target_dir = args.get(i + 1).cloned();
            i += 2;
            continue;
        }
        if value_opts.contains(&a) {
            i += 2;
            continue;
        }
        if a.starts_with('-') && a.len() > 1 {
            i += 1;
            continue;
        }
        operands.push(args[i].clone());
        i += 1;
    }
    if matches!(program, "touch" | "truncate") {
        for op in &operands {
            if let Some(p) = op.literal() {
                names.set_file(p, Origin::Text(String::new()));
            }
        }
        return;
    }
    if matches!(program, "rsync" | "scp") {
        if let Some(dst) = operands.last().and_then(Word::literal) {
            names.set_file(dst, Origin::Unknown(format!("copied by `{program}`")));
        }
        return;
    }
    let (sources, dst): (&[Word], Option<&Word>) = match (&target_dir, operands.len()) {
        (Some(_), _) => (&operands[..], None),
        (None, 0) => return,
        // `ln -s TARGET`: a link named after the target, here.
        (None, 1) if program == "ln" => (&operands[..], None),
        (None, 1) => return,
        (None, n) => (&operands[..n - 1], operands.last()),
    };
    for src in sources {
        let origin = names.origin_of(src);
        if let Some(name) = src.literal()
            && (sources.len() > 1
                || dst.is_none()
                || dst
                    .and_then(Word::literal)
                    .is_some_and(|d| d.ends_with('/')))
        {
            names.set_file(basename(name), origin.clone());
        }
        match dst {
            Some(Word::Literal(d)) if sources.len() == 1 && !d.ends_with('/') => {
                names.set_file(d, origin.clone());
                // DST may be a directory: then the new file is DST/NAME.
                if let Some(name) = src.literal()
                    && path_key(name) != path_key(d)
                    && !matches!(origin, Origin::Copy(_))
                {
                    names.set_file(basename(name), origin);
                }
            }
            Some(Word::Literal(_)) => {}
            Some(Word::Dynamic { .. }) => {
                names.extracted = Some(format!(
                    "`{program}` writes to a path only known at run time"
                ));
            }
            None => {}
        }
    }
}

/// `value` with `args` appended as words (an alias expands to its text, then the rest).
fn append_words(value: &str, args: &[Word]) -> String {
    let mut text = value.to_owned();
    for arg in args {
        text.push(' ');
        match arg {
            Word::Literal(s) => text.push_str(&quote(s)),
            Word::Dynamic { raw, .. } => text.push_str(raw),
        }
    }
    text
}

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// A function body with its positional parameters replaced by `args` (all literal):
/// `$1`..`$9`, `${N}`, `$@`, `$*`, `${@}`, `${*}`, `$#`. Inside double quotes a value is
/// escaped for double quotes; outside, it is single-quoted (one word: bash would split an
/// unquoted value on spaces, and single-quoting a value with none changes nothing; a value
/// with spaces unquoted is read both ways). `None` when an argument is dynamic.
fn positional(body: &str, args: &[Word]) -> Option<String> {
    let values: Vec<&str> = args.iter().map(Word::literal).collect::<Option<_>>()?;
    let mut out = String::with_capacity(body.len());
    let (mut in_single, mut in_double) = (false, false);
    let mut chars = body.char_indices().peekable();
    let mut split_reading = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if !in_single => {
                out.push(c);
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            }
            '\'' if !in_double => {
                in_single = !in_single;
                out.push(c);
            }
            '"' if !in_single => {
                in_double = !in_double;
                out.push(c);
            }
            '$' if !in_single => {
                let rest = &body[i + 1..];
                let (name, len) = if let Some(inner) = rest.strip_prefix('{') {
                    match inner.find('}') {
                        Some(end) => (&inner[..end], end + 2),
                        None => ("", 0),
                    }
                } else {
                    match rest.chars().next() {
                        Some(n @ ('1'..='9' | '@' | '*' | '#')) => (&rest[..n.len_utf8()], 1),
                        _ => ("", 0),
                    }
                };
                let selected: Option<Vec<&str>> = match name {
                    "@" | "*" => Some(values.clone()),
                    "#" => {
                        out.push_str(&values.len().to_string());
                        for _ in 0..len {
                            chars.next();
                        }
                        continue;
                    }
                    n if n.len() == 1 && n.chars().all(|c| c.is_ascii_digit()) => {
                        let k: usize = n.parse().ok()?;
                        Some(values.get(k.wrapping_sub(1)).copied().into_iter().collect())
                    }
                    _ => None,
                };
                let Some(selected) = selected else {
                    out.push(c);
                    continue;
                };
                for _ in 0..len {
                    chars.next();
                }
                let joined: Vec<String> = selected
                    .iter()
                    .map(|v| {
                        if in_double {
                            v.replace('\\', "\\\\")
                                .replace('"', "\\\"")
                                .replace('$', "\\$")
                                .replace('`', "\\`")
                        } else {
                            split_reading |= v.contains(char::is_whitespace);
                            quote(v)
                        }
                    })
                    .collect();
                let sep = if in_double && name == "@" {
                    "\" \""
                } else {
                    " "
                };
                out.push_str(&joined.join(sep));
            }
            _ => out.push(c),
        }
    }
    if split_reading {
        // Also the reading where bash splits an unquoted value into words.
        let unquoted = positional_unquoted(body, &values);
        out.push('\n');
        out.push_str(&unquoted);
    }
    Some(out)
}

/// The body with `$@`/`$*`/`$N` outside any quotes replaced by the raw values (split).
fn positional_unquoted(body: &str, values: &[&str]) -> String {
    let mut out = body.to_owned();
    for (k, v) in values.iter().enumerate().take(9).rev() {
        let safe: String = v
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || " -_./=:,+@%".contains(*c))
            .collect();
        out = out.replace(&format!("${}", k + 1), &safe);
    }
    let all: Vec<String> = values
        .iter()
        .map(|v| {
            v.chars()
                .filter(|c| c.is_ascii_alphanumeric() || " -_./=:,+@%".contains(*c))
                .collect()
        })
        .collect();
    out.replace("$@", &all.join(" "))
        .replace("$*", &all.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(s: &[&str]) -> Vec<Word> {
        s.iter().map(|w| Word::Literal((*w).into())).collect()
    }

    #[test]
    fn positional_parameters_are_replaced() {
        assert_eq!(
            positional("{ rm \"$@\"; }", &lits(&["-rf", "/"])).as_deref(),
            Some("{ rm \"-rf\" \"/\"; }")
        );
        assert_eq!(
            positional("{ echo '$1' $1 ${2}; }", &lits(&["a", "b"])).as_deref(),
            Some("{ echo '$1' 'a' 'b'; }")
        );
        assert_eq!(
            positional("{ $1 /; }", &lits(&["rm -rf"])).map(|s| s.contains("\n{ rm -rf /; }")),
            Some(true)
        );
        assert_eq!(positional("{ x; }", &[Word::dynamic("$x", "var")]), None);
    }
}
