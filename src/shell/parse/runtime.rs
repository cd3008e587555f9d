//! Builtins and assignments that run code the line's text does not show.
//!
//! Some builtins take a variable *name* and expand a subscript in it (`read 'a[$(cmd)]'`),
//! take code as an option (`mapfile -C`, `compgen -C`/`-F`, `complete -C`/`-F`), load code
//! (`enable -f`), re-run history (`fc`), or define functions through the environment
//! (`env 'BASH_FUNC_ls%%=() { ...; }'`); some variables rename programs (`BASH_CMDS[ls]=`,
//! `BASH_ALIASES[ls]=`) or are expanded as prompts (`PS0`, `PS1`, `PS2`). Each is either read
//! as the code it is, or made unreadable so that it is escalated. The arithmetic and name
//! checks themselves live in [`super::arith`].

use brush_parser::ast;

use super::arith::{self, is_identifier};
use super::{Ctx, Walker};
use crate::shell::unwrap::Step;
use crate::shell::{Invocation, Word};

/// Prompt variables: bash expands their value as a prompt, which runs `$(...)` and backquotes
/// (`PS0` before each command of an interactive shell, `PS1`/`PS2` at each prompt). `PS4` is
/// already read as code-loading by the unwrap stage.
const PROMPTS: &[&str] = &["PS0", "PS1", "PS2"];

/// Arrays whose elements rename programs: `BASH_CMDS[ls]=/tmp/x` makes `ls` run `/tmp/x`,
/// `BASH_ALIASES[ls]=...` defines an alias.
const RENAMING_ARRAYS: &[&str] = &["BASH_CMDS", "BASH_ALIASES"];

/// Options of one builtin read from its words: `(option letter, value)` pairs and the words
/// that are not options.
struct Opts<'a> {
    opts: Vec<(char, Option<Word>)>,
    rest: Vec<&'a Word>,
}

/// Reads short options the way bash's builtins do: clustered (`-rp`), a value either attached
/// (`-pPROMPT`) or in the next word, `--` ending them. `+x` options (`declare +i`) count too.
fn opts<'a>(args: &'a [Word], takes_value: &str) -> Opts<'a> {
    let mut out = Opts {
        opts: Vec::new(),
        rest: Vec::new(),
    };
    let mut words = args.iter();
    let mut ended = false;
    while let Some(w) = words.next() {
        let text = match w.literal() {
            Some(t) if !ended && t.len() > 1 && t.starts_with(['-', '+']) => t,
            _ => {
                ended = ended || w.literal().is_none_or(|t| !t.starts_with('-'));
                out.rest.push(w);
                continue;
            }
        };
        if text == "--" {
            ended = true;
            continue;
        }
        let body = &text[1..];
        for (pos, c) in body.char_indices() {
            if takes_value.contains(c) {
                // The value is the rest of this word (`-vNAME`) or the next word.
                let attached = &body[pos + c.len_utf8()..];
                let value = if attached.is_empty() {
                    words.next().cloned()
                } else {
                    Some(Word::Literal(attached.to_owned()))
                };
                out.opts.push((c, value));
                break;
            }
            out.opts.push((c, None));
        }
    }
    out
}

impl Opts<'_> {
    fn has(&self, c: char) -> bool {
        self.opts.iter().any(|(o, _)| *o == c)
    }

    fn value(&self, c: char) -> Option<&Word> {
        self.opts
            .iter()
            .find(|(o, _)| *o == c)
            .and_then(|(_, v)| v.as_ref())
    }
}

impl Walker<'_> {
    /// What a builtin runs that its words do not show; name arguments are judged on the way.
    pub(super) fn runtime_builtin(&mut self, inv: &Invocation, ctx: &Ctx) -> Vec<Step> {
        let Some(program) = inv.program() else {
            return Vec::new();
        };
        let args = &inv.argv[1..];
        let mut steps = Vec::new();
        match program {
            "read" => {
                let o = opts(args, "adinNptu");
                let names: Vec<Word> = o
                    .value('a')
                    .into_iter()
                    .chain(o.rest.iter().copied())
                    .cloned()
                    .collect();
                for w in &names {
                    self.name_arg(w, "read", ctx);
                }
            }
            "mapfile" | "readarray" => {
                let o = opts(args, "dnOsuCc");
                if let Some(cb) = o.value('C') {
                    steps.push(Step::Script {
                        text: cb.clone(),
                        via: format!("{program} -C"),
                    });
                }
                for w in o.rest.iter().take(1) {
                    self.name_arg(w, program, ctx);
                }
            }
            "printf" => {
                if let Some(w) = opts(args, "v").value('v').cloned() {
                    self.name_arg(&w, "printf -v", ctx);
                }
            }
            "wait" => {
                if let Some(w) = opts(args, "p").value('p').cloned() {
                    self.name_arg(&w, "wait -p", ctx);
                }
            }
            "getopts" => {
                if let Some(w) = args.get(1) {
                    self.name_arg(w, "getopts", ctx);
                }
            }
            "unset" => {
                let o = opts(args, "");
                if !o.has('f') {
                    for w in o.rest {
                        self.name_arg(w, "unset", ctx);
                    }
                }
            }
            "test" | "[" => {
                for pair in args.windows(2) {
                    if matches!(pair[0].literal(), Some("-v" | "-R")) {
                        self.name_arg(&pair[1], "test -v", ctx);
                    }
                }
            }
            "let" => {
                for w in args {
                    self.arith_check(&arith_text(w), ctx);
                }
            }
            "declare" | "typeset" | "local" | "export" | "readonly" => {
                self.declare(program, args, ctx);
            }
            "compgen" | "complete" => {
                let o = opts(args, "oAGWFCXPSabcdefgjksuvDEI");
                if let Some(cmd) = o.value('C') {
                    steps.push(Step::Script {
                        text: cmd.clone(),
                        via: format!("{program} -C"),
                    });
                }
                if let Some(func) = o.value('F') {
                    steps.push(Step::Run {
                        argv: vec![func.clone()],
                        via: format!("{program} -F"),
                        assignments: Vec::new(),
                    });
                }
            }
            // `fc -l` lists history; anything else runs a history entry again (`-s`) or what
            // an editor leaves in it (`-e`, or none): commands gatekeep never saw.
            "fc" if !opts(args, "e").has('l') => {
                steps.push(Step::Unreadable {
                    why: "fc runs commands again from the shell's history (or after editing them), which gatekeep cannot read".into(),
                });
            }
            "enable" if opts(args, "f").has('f') => {
                steps.push(Step::Unreadable {
                    why: "`enable -f` loads a shared object into the shell as a builtin: its code cannot be read".into(),
                });
            }
            "env" => {
                if let Some(w) = args.iter().find(|w| {
                    w.display()
                        .trim_start_matches(['\'', '"'])
                        .starts_with("BASH_FUNC_")
                }) {
                    steps.push(Step::Unreadable {
                        why: format!(
                            "`{}` exports a function definition: a bash started with it runs that code in place of a command of the same name",
                            w.display()
                        ),
                    });
                }
            }
            _ => {}
        }
        steps
    }

    /// `declare`, `typeset`, `local`, `export`, `readonly`: names (with subscripts), integer
    /// and associative attributes, namerefs, and the special variables they assign.
    fn declare(&mut self, program: &str, args: &[Word], ctx: &Ctx) {
        let o = opts(args, "");
        let names_only = matches!(program, "export" | "readonly");
        if o.has('f') || o.has('F') || o.has('p') {
            return;
        }
        let integer = o.has('i');
        let nameref = o.has('n');
        let assoc = o.has('A');
        for w in o.rest {
            let (name, value) = split_assignment(w);
            let base = name.split_once('[').map_or(name.as_str(), |(b, _)| b);
            if assoc && is_identifier(base) {
                self.attrs.assoc.push(base.to_owned());
            }
            if integer && is_identifier(base) {
                self.attrs.integer.push(base.to_owned());
            }
            if !names_only {
                match w.literal() {
                    Some(_) => self.name_arg(&Word::Literal(name.clone()), program, ctx),
                    // `declare "$x"` may hold `a[$(cmd)]=1`: a dynamic name with or without a
                    // visible value.
                    None if !is_identifier(&name) => self.name_arg(w, program, ctx),
                    None => {}
                }
            }
            let Some(value) = value else { continue };
            if nameref && !names_only {
                let target = Word::Literal(value.clone());
                match w.literal() {
                    Some(_) => self.name_arg(&target, "declare -n", ctx),
                    None => self.name_arg(
                        &Word::dynamic(value.clone(), "a nameref target"),
                        "declare -n",
                        ctx,
                    ),
                }
            }
            if self.attrs.integer.iter().any(|n| n == base) {
                self.arith_check(&value, ctx);
            }
            let display = w.display().to_owned();
            self.special_assignment(base, &value, w.literal().is_some(), &display, ctx);
        }
    }

    /// A `NAME=value` or `NAME[sub]=value` written before a command or alone.
    pub(super) fn assignment_runtime(&mut self, assignment: &ast::Assignment, ctx: &Ctx) {
        let (name, subscript) = match &assignment.name {
            ast::AssignmentName::VariableName(n) => (n.clone(), None),
            ast::AssignmentName::ArrayElementName(n, sub) => (n.clone(), Some(sub.clone())),
        };
        if let Some(sub) = &subscript {
            // The subscript is expanded (running any substitution in it) and, for an
            // indexed array, evaluated as arithmetic.
            self.word(sub, ctx);
            if !self.attrs.assoc.contains(&name) {
                self.arith_check(sub, ctx);
            }
        }
        let (value, literal) = match &assignment.value {
            ast::AssignmentValue::Scalar(w) => {
                let literal = crate::shell::word::expand(&w.value)
                    .word
                    .literal()
                    .is_some();
                (w.value.clone(), literal)
            }
            ast::AssignmentValue::Array(_) => ("(...)".to_owned(), false),
        };
        if self.attrs.integer.contains(&name) {
            self.arith_check(&value, ctx);
        }
        let display = format!("{name}=");
        self.special_assignment(&name, &value, literal, &display, ctx);
    }

    /// Assignments to variables that rename programs or are expanded as prompts.
    fn special_assignment(
        &mut self,
        name: &str,
        value: &str,
        literal: bool,
        display: &str,
        ctx: &Ctx,
    ) {
        if RENAMING_ARRAYS.contains(&name) {
            self.unreadable(
                display,
                format!("assigning `{name}` makes a command name run another program or text (bash's command hash or alias table)"),
                ctx,
            );
        } else if armed_subscript(value) {
            // Harmless where it is assigned, but any later arithmetic or name that evaluates
            // it (on this line or on a later one of an interactive shell) runs the command.
            self.unreadable(
                display,
                format!("the value of `{name}` holds an array subscript with a command substitution, which runs when arithmetic or a name lookup evaluates it"),
                ctx,
            );
        } else if PROMPTS.contains(&name) && (!literal || runs_in_prompt(value)) {
            self.unreadable(
                display,
                format!("`{name}` is expanded as a prompt, which runs any command substitution in its value"),
                ctx,
            );
        }
    }
}

/// Whether a value holds `[...$(...)...]` or `` [...`...`...] ``: a subscript that runs a
/// command when the value is evaluated as arithmetic or used as a variable name.
fn armed_subscript(value: &str) -> bool {
    value.match_indices('[').any(|(i, _)| {
        let rest = &value[i + 1..];
        let inner = rest.find(']').map_or(rest, |end| &rest[..end]);
        inner.contains("$(") || inner.contains('`')
    })
}

/// Whether prompt expansion of `value` can run code: a command substitution, arithmetic (which
/// evaluates variables, see [`super::arith`]) or a `${...}` form (`${x@P}`, `${!x}`). A plain
/// `$NAME` is substituted once and not evaluated again; `\$` becomes `$` or `#` and stays text.
fn runs_in_prompt(value: &str) -> bool {
    value.contains('`') || value.contains("$(") || value.contains("$[") || value.contains("${")
}

/// The text of a word as arithmetic: its value when literal, its source otherwise (so the
/// variables in it are seen).
fn arith_text(w: &Word) -> String {
    match w {
        Word::Literal(s) => s.clone(),
        Word::Dynamic { raw, .. } => raw.clone(),
    }
}

/// `NAME=value` split at the first `=` (of the value for a literal word, of the source text
/// for a dynamic one); `NAME+=value` loses its `+`.
fn split_assignment(w: &Word) -> (String, Option<String>) {
    let text = arith_text(w);
    match text.split_once('=') {
        Some((n, v)) => (
            n.strip_suffix('+').unwrap_or(n).to_owned(),
            Some(v.to_owned()),
        ),
        None => (text, None),
    }
}

/// Whether a `for` loop's words are all numbers: its variable then holds an integer.
pub(super) fn numeric_loop(words: &[String]) -> bool {
    !words.is_empty() && words.iter().all(|w| arith::is_numeric_word(w))
}
