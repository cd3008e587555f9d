//! A best-effort scan of Python, Node, Perl and Ruby programs for the commands they run.
//!
//! What is found: calls of the known shell-out functions by name (`os.system`, `os.popen`,
//! `os.exec*`, `os.spawn*`, `pty.spawn`, `subprocess.run/call/check_call/check_output/Popen/
//! getoutput/getstatusoutput`; `exec`, `execSync`, `spawn`, `spawnSync`, `execFile`,
//! `execFileSync`, `fork` in a file that loads `child_process`; Perl and Ruby `system`,
//! `exec`, `spawn`, `IO.popen`, `Open3.*`, backticks, `qx{}`, `%x{}`). When a call's
//! arguments are string literals (or a list of them), they are the command (a string) or
//! the argv (several strings, or a list); anything else — a variable, a formatted or
//! concatenated string, an interpolating backtick — is a shell-out whose command cannot be
//! read. A Python file that imports a shell-out function under another name
//! (`from subprocess import run`, `import subprocess as sp`) counts as one such shell-out.
//!
//! What is not: code that does harm without a shell (`shutil.rmtree`, `fs.rmSync`), calls
//! through names assigned at run time, `eval`, and pipes opened with Perl's `open`. The scan
//! reads text, not syntax: a call spelled inside a string or comment is read too, which
//! can only add checks.

use super::Lang;

/// A command a program file runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShellOut {
    /// A command line, run by a shell.
    Command(String),
    /// An argv, run directly.
    Argv(Vec<String>),
    /// A shell-out whose command is not a literal: the call as written (line: text).
    Dynamic(String),
}

const PYTHON: &[&str] = &[
    "os.system",
    "os.popen",
    "os.execl",
    "os.execle",
    "os.execlp",
    "os.execlpe",
    "os.execv",
    "os.execve",
    "os.execvp",
    "os.execvpe",
    "os.spawnl",
    "os.spawnlp",
    "os.spawnv",
    "os.spawnvp",
    "os.posix_spawn",
    "os.posix_spawnp",
    "pty.spawn",
    "subprocess.run",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "subprocess.Popen",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "commands.getoutput",
];

const NODE: &[&str] = &[
    "exec",
    "execSync",
    "spawn",
    "spawnSync",
    "execFile",
    "execFileSync",
    "fork",
];

const PERL: &[&str] = &["system", "exec"];

const RUBY: &[&str] = &[
    "system",
    "exec",
    "spawn",
    "IO.popen",
    "Open3.capture2",
    "Open3.capture2e",
    "Open3.capture3",
    "Open3.popen2",
    "Open3.popen2e",
    "Open3.popen3",
    "Kernel.system",
    "Kernel.exec",
    "Process.spawn",
];

/// The shell-outs of a program written in `lang` (nothing for a shell script or an
/// unknown language: the caller reads those otherwise).
pub fn scan(lang: &Lang, text: &str) -> Vec<ShellOut> {
    let mut out = Vec::new();
    let names: &[&str] = match lang {
        Lang::Python => {
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                let renamed = line.starts_with("from subprocess import")
                    || line.starts_with("from os import")
                    || line.starts_with("from pty import")
                    || (line.starts_with("import ")
                        && line.contains(" as ")
                        && (line.contains("subprocess")
                            || line.contains("os ")
                            || line.contains("pty")));
                if renamed && !line.contains("import path") {
                    out.push(ShellOut::Dynamic(format!(
                        "line {}: {line} (a shell-out under another name)",
                        n + 1
                    )));
                }
            }
            PYTHON
        }
        Lang::Node if text.contains("child_process") => NODE,
        Lang::Perl => {
            quoted_commands(text, &["qx", "`"], &mut out);
            PERL
        }
        Lang::Ruby => {
            quoted_commands(text, &["%x", "`"], &mut out);
            RUBY
        }
        _ => return out,
    };
    for name in names {
        calls(text, name, lang, &mut out);
    }
    out
}

/// Every call of `name` in `text`.
fn calls(text: &str, name: &str, lang: &Lang, out: &mut Vec<ShellOut>) {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(found) = text[from..].find(name) {
        let start = from + found;
        let end = start + name.len();
        from = end;
        // Node calls them as methods too (`cp.execSync(...)`, `require(...).exec(...)`).
        let boundary_before = start == 0 || {
            let b = bytes[start - 1];
            !(b.is_ascii_alphanumeric()
                || b == b'_'
                || (b == b'.' && *lang != Lang::Node)
                || b == b'$'
                || b == b'@')
        };
        let rest = &text[end..];
        let boundary_after = rest
            .bytes()
            .next()
            .is_some_and(|b| b == b'(' || b == b' ' || b == b'\t');
        if !boundary_before || !boundary_after || in_comment(text, start, lang) {
            continue;
        }
        let trimmed = rest.trim_start_matches([' ', '\t']);
        let paren = trimmed.starts_with('(');
        // Without parentheses only Perl and Ruby call (`system "ls"`).
        if !paren && !matches!(lang, Lang::Perl | Lang::Ruby) {
            continue;
        }
        let args = if paren { &trimmed[1..] } else { trimmed };
        if !paren && !args.starts_with(['"', '\'', '[']) {
            // `exec` as a word of prose or a method of something else.
            continue;
        }
        let line = text[..start].matches('\n').count() + 1;
        let shown = || {
            let call: String = text[start..]
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(80)
                .collect();
            ShellOut::Dynamic(format!("line {line}: {call}"))
        };
        out.push(match arguments(args, lang) {
            Some(items) => match items.as_slice() {
                [Item::Str(cmd)] => ShellOut::Command(cmd.clone()),
                [Item::List(argv)] if !argv.is_empty() => ShellOut::Argv(argv.clone()),
                [Item::Str(program), Item::List(list)] => {
                    let mut argv = vec![program.clone()];
                    argv.extend(list.iter().cloned());
                    ShellOut::Argv(argv)
                }
                strs if strs.len() > 1 && strs.iter().all(|i| matches!(i, Item::Str(_))) => {
                    ShellOut::Argv(
                        strs.iter()
                            .filter_map(|i| match i {
                                Item::Str(s) => Some(s.clone()),
                                Item::List(_) => None,
                            })
                            .collect(),
                    )
                }
                _ => shown(),
            },
            None => shown(),
        });
    }
}

fn in_comment(text: &str, pos: usize, lang: &Lang) -> bool {
    let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let before = text[line_start..pos].trim_start();
    match lang {
        Lang::Node => before.starts_with("//") || before.starts_with('*'),
        _ => before.starts_with('#'),
    }
}

/// One argument of a call, when literal.
#[derive(Debug, PartialEq, Eq)]
enum Item {
    Str(String),
    List(Vec<String>),
}

/// The leading literal arguments of a call: string literals and lists of them, up to the
/// first argument that is not one (a keyword argument or options object after them is
/// fine: `subprocess.run([...], check=True)`). `None` when the first is not literal.
fn arguments(mut s: &str, lang: &Lang) -> Option<Vec<Item>> {
    let mut items = Vec::new();
    loop {
        s = s.trim_start();
        let (item, rest) = if let Some(body) = s.strip_prefix('[') {
            let mut list = Vec::new();
            let mut r = body;
            loop {
                r = r.trim_start();
                if let Some(after) = r.strip_prefix(']') {
                    r = after;
                    break;
                }
                let (lit, after) = string(r, lang)?;
                list.push(lit);
                r = after.trim_start();
                r = r.strip_prefix(',').unwrap_or(r);
            }
            (Item::List(list), r)
        } else {
            match string(s, lang) {
                Some((lit, rest)) => (Item::Str(lit), rest),
                None if items.is_empty() => return None,
                None => return Some(items),
            }
        };
        let rest = rest.trim_start();
        // The literal must be the whole argument.
        match rest.chars().next() {
            Some(',') => {
                items.push(item);
                s = &rest[1..];
            }
            Some(')' | ';' | '\n') | None => {
                items.push(item);
                return Some(items);
            }
            _ if items.is_empty() => return None,
            _ => return Some(items),
        }
    }
}

/// A string literal at the start of `s` with no interpolation: its value and the rest.
fn string<'a>(s: &'a str, lang: &Lang) -> Option<(String, &'a str)> {
    let (raw, s) = match lang {
        Lang::Python => match s.as_bytes().first()? {
            b'r' | b'R' => (true, &s[1..]),
            b'u' | b'U' | b'b' | b'B' => (false, &s[1..]),
            _ => (false, s),
        },
        _ => (false, s),
    };
    let quote = s.chars().next()?;
    if !(matches!(quote, '"' | '\'') || (quote == '`' && *lang == Lang::Node)) {
        return None;
    }
    let triple: String = std::iter::repeat_n(quote, 3).collect();
    let (delim, body) = if *lang == Lang::Python && s.starts_with(&triple) {
        (triple.as_str(), &s[3..])
    } else {
        (&s[..1], &s[1..])
    };
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if body[i..].starts_with(delim) {
            return Some((value, &body[i + delim.len()..]));
        }
        match c {
            '\\' if !raw => {
                let (_, next) = chars.next()?;
                value.push(match next {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
            }
            // Interpolation: the value is only known at run time.
            '$' if quote == '`' && body[i..].starts_with("${") => return None,
            '$' | '@' if quote == '"' && *lang == Lang::Perl => return None,
            '#' if quote == '"' && *lang == Lang::Ruby && body[i..].starts_with("#{") => {
                return None;
            }
            _ => value.push(c),
        }
    }
    None
}

/// Commands quoted to run: backticks, `qx{...}`/`qx(...)` (Perl), `%x{...}`/`%x(...)`
/// (Ruby). Interpolating ones are dynamic.
fn quoted_commands(text: &str, openers: &[&str], out: &mut Vec<ShellOut>) {
    for opener in openers {
        let mut from = 0;
        while let Some(found) = text[from..].find(opener) {
            let start = from + found;
            let after = &text[start + opener.len()..];
            from = start + opener.len();
            let close = if *opener == "`" {
                '`'
            } else {
                match after.chars().next() {
                    Some('{') => '}',
                    Some('(') => ')',
                    Some('[') => ']',
                    Some('/') => '/',
                    Some('|') => '|',
                    _ => continue,
                }
            };
            if *opener != "`" {
                let b = text.as_bytes();
                if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
                    continue;
                }
            }
            let body_start = if *opener == "`" { 0 } else { 1 };
            let Some(len) = after[body_start..].find(close) else {
                continue;
            };
            let body = &after[body_start..body_start + len];
            from = start + opener.len() + body_start + len + 1;
            let line = text[..start].matches('\n').count() + 1;
            if body.contains("#{") || body.contains('$') || body.contains('@') {
                out.push(ShellOut::Dynamic(format!("line {line}: {opener}{body}")));
            } else {
                out.push(ShellOut::Command(body.to_owned()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> ShellOut {
        ShellOut::Command(s.into())
    }

    #[test]
    fn python_literals_and_dynamic_calls() {
        let py = "import os, subprocess\nos.system('rm -rf /tmp/x')\nsubprocess.run([\"git\", \"push\", \"-f\"], check=True)\nsubprocess.run(cmd, shell=True)\nos.system(\"ls \" + d)\n# os.system(x)\n";
        let got = scan(&Lang::Python, py);
        assert!(got.contains(&cmd("rm -rf /tmp/x")));
        assert!(got.contains(&ShellOut::Argv(vec![
            "git".into(),
            "push".into(),
            "-f".into()
        ])));
        let dynamic = got
            .iter()
            .filter(|g| matches!(g, ShellOut::Dynamic(_)))
            .count();
        assert_eq!((dynamic, got.len()), (2, 4));
        assert!(matches!(
            scan(&Lang::Python, "from subprocess import run\nrun(x)\n")[0],
            ShellOut::Dynamic(_)
        ));
        assert!(scan(&Lang::Python, "print('hi')\nimport os.path\n").is_empty());
    }

    #[test]
    fn node_perl_ruby() {
        let js = "const { execSync, spawn } = require('child_process');\nexecSync('npm test');\nspawn('rm', ['-rf', 'dist']);\nexecSync(`rm ${dir}`);\n";
        let got = scan(&Lang::Node, js);
        assert!(got.contains(&cmd("npm test")));
        assert!(got.contains(&ShellOut::Argv(vec![
            "rm".into(),
            "-rf".into(),
            "dist".into()
        ])));
        assert!(got.iter().any(|g| matches!(g, ShellOut::Dynamic(_))));
        assert!(scan(&Lang::Node, "re.exec(s)\n").is_empty());
        assert_eq!(
            scan(&Lang::Node, "require('child_process').execSync('make')\n"),
            [cmd("make")]
        );

        let pl = "system(\"make\");\nmy $x = `ls -l`;\nsystem \"rm -rf $dir\";\nqx{whoami};\n";
        let got = scan(&Lang::Perl, pl);
        assert!(got.contains(&cmd("make")));
        assert!(got.contains(&cmd("ls -l")));
        assert!(got.contains(&cmd("whoami")));
        assert!(got.iter().any(|g| matches!(g, ShellOut::Dynamic(_))));

        let rb = "system('ls', '-la')\nout = %x{uname -a}\n`rm -rf #{path}`\n";
        let got = scan(&Lang::Ruby, rb);
        assert!(got.contains(&ShellOut::Argv(vec!["ls".into(), "-la".into()])));
        assert!(got.contains(&cmd("uname -a")));
        assert!(got.iter().any(|g| matches!(g, ShellOut::Dynamic(_))));
    }
}
