//! Where `ln`, `cp`, `mv` and `install` put something: the paths that, after them, may be a
//! link to anywhere (`ln -s ~/.ssh /tmp/x`) or hold data moved or copied from anywhere
//! (`mv ~/.aws /tmp/a`). The policy stage lets no path exemption (a build or temporary
//! directory) hold at or below such a path for the rest of the line.

use crate::shell::{Link, Word};

/// What one `ln`/`cp`/`mv`/`install` command puts where, as written: its sources, and the
/// last operand or the directory given with `-t DIR` / `--target-directory=DIR`.
pub(super) fn destinations(program: &str, args: &[Word]) -> Vec<Link> {
    // Options that take the next word as their value (GNU coreutils).
    let value_options: &[&str] = match program {
        "install" => &[
            "-m", "--mode", "-o", "--owner", "-g", "--group", "-S", "--suffix",
        ],
        _ => &["-S", "--suffix"],
    };
    let mut operands: Vec<&Word> = Vec::new();
    let mut target_dir: Option<Word> = None;
    let mut words = args.iter();
    let mut end_of_options = false;
    let mut symbolic = false;
    while let Some(word) = words.next() {
        let Some(text) = word.literal() else {
            operands.push(word);
            continue;
        };
        if end_of_options || !text.starts_with('-') || text == "-" {
            operands.push(word);
        } else if text == "--" {
            end_of_options = true;
        } else if text == "-t" || text == "--target-directory" {
            target_dir = words.next().cloned();
        } else if let Some(dir) = text.strip_prefix("--target-directory=") {
            target_dir = Some(Word::Literal(dir.to_owned()));
        } else if let Some(dir) = text
            .strip_prefix("-t")
            .filter(|d| !text.starts_with("--") && !d.is_empty())
        {
            target_dir = Some(Word::Literal(dir.to_owned()));
        } else if value_options.contains(&text) {
            words.next();
        } else if text == "--symbolic"
            || (!text.starts_with("--") && text[1..].contains('s') && program.ends_with("ln"))
        {
            symbolic = true;
        }
    }
    let link = |from: &[&Word], to: Word| Link {
        from: from.iter().map(|w| (*w).clone()).collect(),
        to,
        symbolic,
    };
    let found = match (target_dir, operands.split_last()) {
        (Some(dir), _) => Some(link(&operands, dir)),
        // `ln -s TARGET` alone makes a link named after TARGET in the current directory.
        (None, Some((only, []))) if program.ends_with("ln") => only
            .literal()
            .map(|t| link(&[only], Word::Literal(crate::shell::basename(t).to_owned()))),
        (None, Some((last, from))) if !from.is_empty() => Some(link(from, (*last).clone())),
        _ => None,
    };
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Word> {
        line.split_whitespace()
            .map(|w| Word::Literal(w.to_owned()))
            .collect()
    }

    #[test]
    fn finds_where_the_command_puts_things() {
        for (program, line, want) in [
            ("ln", "-s /home/u/.ssh /tmp/x", Some("/tmp/x")),
            ("ln", "-sfn -- / /tmp/root", Some("/tmp/root")),
            ("ln", "-s /etc/passwd", Some("passwd")),
            ("mv", "a b c dest/", Some("dest/")),
            ("cp", "-r -t /tmp/d a b", Some("/tmp/d")),
            ("cp", "--target-directory=/tmp/e a", Some("/tmp/e")),
            (
                "install",
                "-m 0755 tool /usr/local/bin/tool",
                Some("/usr/local/bin/tool"),
            ),
            ("mv", "only", None),
        ] {
            let got = destinations(program, &words(line));
            assert_eq!(
                got.first().and_then(|l| l.to.literal()),
                want,
                "{program} {line}"
            );
        }
    }
}
