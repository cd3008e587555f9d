//! How a simple command changes what the commands after it in the same line see: the
//! directory (`cd`, `pushd`, `popd`) and variables (`export`, `declare`, `read`, `unset`...).

use crate::shell::{Word, basename, word};

/// How one simple command changes what the commands after it see.
pub(super) enum ScopeChange {
    None,
    Dir(Word),
    Vars(Vec<(String, Word)>),
    /// A path made into a link or filled with moved or copied data.
    Links(Vec<crate::shell::Link>),
}

/// Reads `cd`, `pushd`, `popd`, `export`/`declare`/`typeset`/`local`/`readonly`, `read`,
/// `mapfile`, `printf -v` and `unset` for what they change.
pub(super) fn scope_change(argv: &[Word]) -> ScopeChange {
    let Some(program) = argv.first().and_then(Word::literal).map(basename) else {
        return ScopeChange::None;
    };
    let args = &argv[1..];
    let unknown = |why: &str| Word::dynamic("", why);
    match program {
        "cd" | "pushd" => {
            let mut rest = args
                .iter()
                .skip_while(|w| {
                    w.literal()
                        .is_some_and(|t| matches!(t, "-L" | "-P" | "-e" | "-@" | "-n" | "-Pe"))
                })
                .skip_while(|w| w.literal() == Some("--"));
            ScopeChange::Dir(match rest.next() {
                None if program == "cd" => Word::Literal("~".into()),
                None => unknown("pushd alone swaps to a directory only known at run time"),
                Some(w) if w.literal() == Some("-") => {
                    unknown("`cd -` returns to a directory only known at run time")
                }
                Some(w)
                    if program == "pushd" && w.literal().is_some_and(|t| t.starts_with('+')) =>
                {
                    unknown("pushd +N rotates to a directory only known at run time")
                }
                Some(w) => w.clone(),
            })
        }
        "ln" | "cp" | "mv" | "install" | "gln" | "gcp" | "gmv" => {
            ScopeChange::Links(super::links::destinations(program, args))
        }
        "popd" => ScopeChange::Dir(unknown(
            "popd returns to a directory only known at run time",
        )),
        "export" | "declare" | "typeset" | "local" | "readonly" => ScopeChange::Vars(
            args.iter()
                .filter_map(|w| match w {
                    Word::Literal(t) => {
                        let (name, value) = t.split_once('=')?;
                        is_var_name(name).then(|| (name.to_owned(), Word::Literal(value.into())))
                    }
                    Word::Dynamic { raw, .. } => {
                        let (name, value) = raw.split_once('=')?;
                        is_var_name(name).then(|| (name.to_owned(), word::expand(value).word))
                    }
                })
                .collect(),
        ),
        "unset" => ScopeChange::Vars(
            args.iter()
                .filter_map(Word::literal)
                .filter(|n| is_var_name(n))
                .map(|n| (n.to_owned(), Word::Literal(String::new())))
                .collect(),
        ),
        "read" | "mapfile" | "readarray" | "printf" => {
            // The variables these set take values only known at run time.
            let value_options: &[&str] = match program {
                "read" => &["-d", "-i", "-n", "-N", "-p", "-t", "-u"],
                "printf" => &[],
                _ => &["-d", "-n", "-O", "-s", "-u", "-C", "-c"],
            };
            let mut names = Vec::new();
            let mut words = args.iter();
            while let Some(w) = words.next() {
                let Some(t) = w.literal() else { continue };
                if program == "printf" {
                    if t == "-v" {
                        names.extend(words.next().and_then(Word::literal));
                    }
                    continue;
                }
                if value_options.contains(&t) {
                    words.next();
                } else if t == "-a" {
                    names.extend(words.next().and_then(Word::literal));
                } else if !t.starts_with('-') {
                    names.push(t);
                }
            }
            ScopeChange::Vars(
                names
                    .into_iter()
                    .filter(|n| is_var_name(n))
                    .map(|n| (n.to_owned(), unknown("its value is read at run time")))
                    .collect(),
            )
        }
        _ => ScopeChange::None,
    }
}

fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}
