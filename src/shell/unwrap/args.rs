//! Reading a wrapper's own options and the command line it runs.

use super::Step;
use crate::shell::Word;

/// Reads leading options: returns the index of the first operand and whether an option that
/// gatekeep does not know came right before it.
pub(super) fn skip_options(args: &[Word], value_opts: &[&str]) -> (usize, bool) {
    let mut i = 0;
    let mut unknown = false;
    while i < args.len() {
        let Some(arg) = args[i].literal() else {
            return (i, false);
        };
        if arg == "--" {
            return (i + 1, false);
        }
        if arg == "-" || !arg.starts_with('-') {
            return (i, unknown);
        }
        if let Some(long) = arg.strip_prefix("--") {
            let name = format!("--{}", long.split('=').next().unwrap_or(long));
            if !long.contains('=') && value_opts.contains(&name.as_str()) {
                i += 2;
                unknown = false;
                continue;
            }
            unknown = !value_opts.contains(&name.as_str()) && !long.contains('=');
            i += 1;
            continue;
        }
        // A cluster of short options: `-iu root`, `-uroot`, `-n10`.
        let mut consumed_next = false;
        unknown = false;
        for (pos, c) in arg[1..].char_indices() {
            if value_opts.contains(&format!("-{c}").as_str()) {
                if arg.len() == pos + 2 {
                    consumed_next = true;
                }
                unknown = false;
                break;
            }
            unknown = true;
        }
        i += if consumed_next { 2 } else { 1 };
    }
    (i.min(args.len()), unknown)
}

/// The value of the first occurrence of option `names` (`-c X`, `-cX`, `--command=X`).
pub(super) fn option_value(args: &[Word], names: &[&str]) -> Option<Word> {
    for (i, arg) in args.iter().enumerate() {
        let Some(s) = arg.literal() else { continue };
        if s == "--" {
            break;
        }
        for name in names {
            // `-c X`, or a cluster of short options ending in it (`curl -fsSLo X`).
            let short_cluster_end = name.len() == 2
                && !s.starts_with("--")
                && s.len() > 2
                && s.starts_with('-')
                && s.ends_with(&name[1..]);
            if s == *name || short_cluster_end {
                return args.get(i + 1).cloned();
            }
            if let Some(rest) = s.strip_prefix(name) {
                if name.starts_with("--") {
                    if let Some(v) = rest.strip_prefix('=') {
                        return Some(Word::Literal(v.to_owned()));
                    }
                } else if !rest.is_empty() && name.len() == 2 {
                    return Some(Word::Literal(rest.to_owned()));
                }
            }
        }
    }
    None
}

/// A wrapper whose command follows its options and `positionals` operands of its own.
pub(super) fn wrap(args: &[Word], value_opts: &[&str], positionals: usize, via: &str) -> Vec<Step> {
    let (start, unknown) = skip_options(args, value_opts);
    let start = start + positionals;
    let mut steps = Vec::new();
    if start < args.len() {
        steps.push(run(&args[start..], via));
        // An unknown option may have taken the word we read as the command.
        if unknown && start + 1 < args.len() {
            steps.push(run(
                &args[start + 1..],
                &format!("{via} (alternative reading)"),
            ));
        }
    }
    steps
}

pub(super) fn run(argv: &[Word], via: &str) -> Step {
    Step::Run {
        argv: argv.to_vec(),
        via: via.to_owned(),
        assignments: Vec::new(),
    }
}

pub(super) fn skip_word<'a>(args: &'a [Word], word: &str) -> &'a [Word] {
    match args.first().and_then(Word::literal) {
        Some(w) if w == word => &args[1..],
        _ => args,
    }
}

/// Quotes literal words back into one shell string (for `ssh host cmd`, `watch cmd`).
pub(super) fn join_as_script(args: &[Word]) -> Word {
    let mut text = String::new();
    for (i, arg) in args.iter().enumerate() {
        let Some(s) = arg.literal() else {
            return Word::dynamic(
                arg.display(),
                "an argument of the command is only known at run time",
            );
        };
        if i > 0 {
            text.push(' ');
        }
        // Remote shells and `watch` join their arguments with spaces and parse the result:
        // words are passed as they are, not re-quoted.
        text.push_str(s);
    }
    Word::Literal(text)
}

/// Replaces every argument holding `placeholder` (`{}`) with a dynamic word.
pub(super) fn mark_placeholder(argv: &mut [Word], placeholder: &str, why: &str) {
    for word in argv.iter_mut() {
        if let Some(s) = word
            .literal()
            .filter(|s| !placeholder.is_empty() && s.contains(placeholder))
        {
            *word = Word::dynamic(s.to_owned(), why);
        }
    }
}

/// Single-quotes a value for a shell string.
pub(super) fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}
