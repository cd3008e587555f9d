//! Arithmetic and variable names as run-time code paths.
//!
//! Bash evaluates a variable that appears in arithmetic (`(( x ))`, `$(( x ))`, `$[x]`,
//! `let`, `[[ x -eq 1 ]]`, array subscripts, `${s:x:1}`, `declare -i`) as an arithmetic
//! expression in turn, and an array subscript in that value is expanded: a value such as
//! `a[$(cmd)]` runs `cmd`. Builtins that take a variable *name* (`read`, `printf -v`,
//! `declare`, `test -v`, `${!x}` ...) expand a subscript in that name the same way. So the
//! text of the line is not the whole program: what a variable holds is.
//!
//! The checker here is conservative. A name read by arithmetic is safe only when the same
//! line gave it a value that is itself safe arithmetic (`i=0`, `n=$((i+1))`, a `for` over
//! numbers, an assignment inside arithmetic), or when bash itself keeps it an integer
//! (`RANDOM`, `LINENO`, ...). A name that comes from the environment, or whose value is only
//! known at run time, makes the expression a possible code path: unreadable, so escalated.
//! Literal arithmetic (`$((1+2))`, `(( i++ ))` after `i=0`) stays readable.

use super::{Ctx, Walker};
use crate::shell::Word;
use crate::shell::word::{self, Runtime};

/// Why recorded for a variable that arithmetic assigned: its value is an integer.
pub(super) const INTEGER: &str = "an integer computed by arithmetic at run time";

/// How deep a value may refer to other variables before it counts as unknown.
const MAX_DEPTH: usize = 8;

/// Variables bash keeps integers whatever the environment says.
const INTEGER_SPECIALS: &[&str] = &[
    "RANDOM",
    "SRANDOM",
    "SECONDS",
    "LINENO",
    "BASHPID",
    "PPID",
    "UID",
    "EUID",
    "EPOCHSECONDS",
    "BASH_SUBSHELL",
    "HISTCMD",
    "OPTIND",
];

/// Variable attributes declared earlier in the line that change how they are evaluated.
#[derive(Clone, Debug, Default)]
pub(crate) struct Attrs {
    /// `declare -i NAME`: every later assignment's value is evaluated as arithmetic.
    pub integer: Vec<String>,
    /// `declare -A NAME`: subscripts are strings, not arithmetic.
    pub assoc: Vec<String>,
}

impl Walker<'_> {
    /// Judges an arithmetic expression written in the line; names it assigns hold integers
    /// afterwards.
    pub(crate) fn arith_check(&mut self, expr: &str, ctx: &Ctx) {
        let mut assigned = Vec::new();
        if let Some(why) = self.arith_problem(expr, 0, &mut assigned) {
            self.unreadable(expr, why, ctx);
        }
        for name in assigned {
            self.scope
                .vars
                .push((name, Word::dynamic(format!("$(({expr}))"), INTEGER)));
        }
    }

    /// Judges what a word evaluates at run time (see [`Runtime`]).
    pub(crate) fn runtime_word(&mut self, runtime: &[Runtime], ctx: &Ctx) {
        for r in runtime {
            match r {
                Runtime::Arithmetic(expr) => self.arith_check(expr, ctx),
                Runtime::Subscript { name, index } => {
                    if !self.attrs.assoc.contains(name) {
                        self.arith_check(index, ctx);
                    }
                }
                Runtime::Indirect(name) => {
                    let target = self.literal_value(name);
                    let why = match target {
                        Some(t) if is_identifier(&t) => continue,
                        Some(t) => self.name_problem(&t),
                        None => Some(format!(
                            "`${{!{name}}}` uses the value of `{name}`, only known at run time, as a variable name, and a subscript in it runs commands"
                        )),
                    };
                    if let Some(why) = why {
                        self.unreadable(&format!("${{!{name}}}"), why, ctx);
                    }
                }
            }
        }
    }

    /// Judges a word given to a builtin as a variable name (`read NAME`, `printf -v NAME`,
    /// `declare NAME=...`, `test -v NAME`). `what` names the builtin for the message.
    pub(crate) fn name_arg(&mut self, word: &Word, what: &str, ctx: &Ctx) {
        let why = match self.word_value(word) {
            Some(name) => self.name_problem(&name),
            None => Some(format!(
                "{what} is given a variable name only known at run time (`{}`), and a subscript in a name runs commands",
                word.display()
            )),
        };
        if let Some(why) = why {
            self.unreadable(word.display(), why, ctx);
        }
    }

    /// Why a variable name, as bash will see it, may run code: a subscript with an expansion
    /// in it, or one whose arithmetic is not safe.
    fn name_problem(&self, name: &str) -> Option<String> {
        let name = name.split_once('=').map_or(name, |(n, _)| n);
        let name = name.strip_suffix('+').unwrap_or(name);
        let (base, index) = match name.split_once('[') {
            Some((base, rest)) => (base, rest.strip_suffix(']')?),
            None => return None,
        };
        if !is_identifier(base) {
            // bash refuses it as "not a valid identifier" before evaluating anything.
            return None;
        }
        if index.contains(['$', '`']) {
            return Some(format!(
                "the variable name `{name}` has a subscript that bash expands, running any command in it"
            ));
        }
        if self.attrs.assoc.iter().any(|a| a == base) {
            return None;
        }
        self.arith_problem(index, 0, &mut Vec::new())
            .map(|why| format!("the subscript of `{name}` is arithmetic: {why}"))
    }

    /// The value of a word when it is literal or built only from variables the line assigned
    /// literally (never from the environment).
    fn word_value(&self, word: &Word) -> Option<String> {
        match word {
            Word::Literal(s) => Some(s.clone()),
            Word::Dynamic { raw, .. } => {
                word::substitute(raw, &mut |name| self.literal_value(name))
            }
        }
    }

    /// The literal value the line gave `name`, if any.
    fn literal_value(&self, name: &str) -> Option<String> {
        self.scope.var(name)?.literal().map(str::to_owned)
    }

    /// Why evaluating `expr` as arithmetic may run code, or `None` when it cannot. Names
    /// assigned by the expression are added to `assigned`.
    fn arith_problem(
        &self,
        expr: &str,
        depth: usize,
        assigned: &mut Vec<String>,
    ) -> Option<String> {
        if depth > MAX_DEPTH {
            return Some("variables refer to each other too deeply to read".into());
        }
        let chars: Vec<char> = expr.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '`' || (c == '$' && chars.get(i + 1) == Some(&'(')) {
                if depth > 0 {
                    return Some(format!(
                        "a variable's value `{expr}` runs a command when evaluated as arithmetic"
                    ));
                }
                // Written in the line itself: the walker reads that substitution.
                i += 1;
                continue;
            }
            if c == '$' {
                i += 1;
                let Some(&next) = chars.get(i) else { break };
                if next == '{' {
                    let end = closing(&chars, i, '{', '}');
                    let inner: String = chars[i + 1..end.min(chars.len())].iter().collect();
                    i = end + 1;
                    if inner.starts_with('#') {
                        continue; // a length is an integer
                    }
                    let name: String = inner
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let rest = &inner[name.len()..];
                    if !rest.is_empty() && !rest.starts_with('[') {
                        return Some(format!(
                            "`${{{inner}}}` in arithmetic is only known at run time"
                        ));
                    }
                    if let Some(index) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']'))
                        && !self.attrs.assoc.contains(&name)
                        && let Some(why) = self.arith_problem(index, depth + 1, assigned)
                    {
                        return Some(why);
                    }
                    if !self.name_safe(&name, depth) {
                        return Some(unsafe_name(&name));
                    }
                    continue;
                }
                if matches!(next, '#' | '?' | '$' | '!') {
                    i += 1;
                    continue;
                }
                let name: String = chars[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .collect();
                i += name.chars().count().max(1);
                if !self.name_safe(&name, depth) {
                    return Some(unsafe_name(&format!("${name}")));
                }
                continue;
            }
            if c.is_ascii_digit() {
                // A number: `10`, `0x1f`, `64#zz`.
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || "#@_".contains(chars[i]))
                {
                    i += 1;
                }
                continue;
            }
            if c.is_ascii_alphabetic() || c == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                let mut j = skip_spaces(&chars, i);
                if chars.get(j) == Some(&'[') {
                    let end = closing(&chars, j, '[', ']');
                    let index: String = chars[j + 1..end.min(chars.len())].iter().collect();
                    if index.contains(['$', '`']) && depth > 0 {
                        return Some(format!(
                            "a variable's value has the subscript `{index}`, which bash expands"
                        ));
                    }
                    if !self.attrs.assoc.contains(&name)
                        && let Some(why) = self.arith_problem(&index, depth + 1, assigned)
                    {
                        return Some(why);
                    }
                    j = skip_spaces(&chars, end + 1);
                    i = end + 1;
                }
                let before = chars[..start]
                    .iter()
                    .rev()
                    .filter(|c| !c.is_whitespace())
                    .take(2)
                    .collect::<String>();
                let pre_step = before == "++" || before == "--";
                let next: String = chars[j.min(chars.len())..].iter().take(3).collect();
                let plain_assign = next.starts_with('=') && !next.starts_with("==");
                let op_assign = ["+=", "-=", "*=", "/=", "%=", "&=", "^=", "|=", "<<=", ">>="]
                    .iter()
                    .any(|op| next.starts_with(op));
                let step = next.starts_with("++") || next.starts_with("--");
                if !plain_assign && !self.name_safe(&name, depth) && !assigned.contains(&name) {
                    return Some(unsafe_name(&name));
                }
                if plain_assign || op_assign || step || pre_step {
                    assigned.push(name);
                }
                continue;
            }
            i += 1;
        }
        None
    }

    /// Whether reading `name` in arithmetic cannot run code (see the module header).
    fn name_safe(&self, name: &str, depth: usize) -> bool {
        if INTEGER_SPECIALS.contains(&name) {
            return true;
        }
        match self.scope.var(name) {
            Some(Word::Literal(value)) => self
                .arith_problem(value, depth + 1, &mut Vec::new())
                .is_none(),
            Some(Word::Dynamic { raw, why }) => why == INTEGER || is_arithmetic_expansion(raw),
            None => false,
        }
    }
}

fn unsafe_name(name: &str) -> String {
    format!(
        "arithmetic evaluates `{name}`, whose value is not set by this line: a value such as `a[$(cmd)]` would run a command"
    )
}

/// The index of the bracket closing the one at `open`, or the end of the text.
fn closing(chars: &[char], open: usize, left: char, right: char) -> usize {
    let mut depth = 0usize;
    for (k, c) in chars.iter().enumerate().skip(open) {
        if *c == left {
            depth += 1;
        } else if *c == right {
            depth -= 1;
            if depth == 0 {
                return k;
            }
        }
    }
    chars.len()
}

fn skip_spaces(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    i
}

/// A word that is exactly one `$((...))` or `$[...]`: its value is an integer.
fn is_arithmetic_expansion(raw: &str) -> bool {
    let inner = raw
        .strip_prefix("$((")
        .and_then(|r| r.strip_suffix("))"))
        .or_else(|| raw.strip_prefix("$[").and_then(|r| r.strip_suffix(']')));
    inner.is_some_and(|inner| {
        matches!(
            brush_parser::word::parse(raw, &word::parser_options()).as_deref(),
            Ok([piece]) if matches!(piece.piece, brush_parser::word::WordPiece::ArithmeticExpression(_))
        ) && !inner.is_empty()
    })
}

/// A word that is a whole number, a brace sequence of numbers (`{1..10}`), or `seq` of
/// literal numbers.
pub(super) fn is_numeric_word(raw: &str) -> bool {
    let number = |s: &str| {
        let s = s.strip_prefix(['-', '+']).unwrap_or(s);
        !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit())
    };
    if number(raw) {
        return true;
    }
    // `$(seq 1 5)`, `$(seq 10)`: seq with plain numbers prints numbers only.
    if let Some(args) = raw.strip_prefix("$(seq ").and_then(|r| r.strip_suffix(')')) {
        let args: Vec<&str> = args.split_whitespace().collect();
        return (1..=3).contains(&args.len()) && args.iter().all(|a| number(a));
    }
    raw.strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .is_some_and(|inner| {
            let parts: Vec<&str> = inner.split("..").collect();
            (2..=3).contains(&parts.len()) && parts.iter().all(|p| number(p))
        })
}

pub(super) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}
