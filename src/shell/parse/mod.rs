//! The bash parser adapter: walks brush-parser's AST and collects every simple command bash
//! would run — in lists, pipelines, subshells, brace groups, loops, conditionals, function
//! bodies, command and process substitutions, here-documents and nested shell strings.
//!
//! Each simple command goes through [`super::unwrap`], which may hand back more commands
//! (the one a wrapper runs) or a string to read as a script in turn. Recursion is bounded by
//! depth and by the number of commands; hitting a bound is itself unreadable, so an attacker
//! cannot hide a command by nesting past it.

use brush_parser::ast;

mod arith;
mod files;
mod follow;
mod links;
mod runtime;
mod scope;
mod scripts;

use scope::{ScopeChange, scope_change};

use super::brace;
use super::load::{Budget, Files};
use super::word::{self, Expanded};
use super::{Construct, Invocation, PipeSource, Scope, Script, Stdin, Unreadable, Word, basename};

/// How deep shell strings, substitutions and wrappers may nest before the rest is unreadable.
pub const MAX_DEPTH: usize = 16;
/// How many invocations one command line may produce before the rest is unreadable.
pub const MAX_INVOCATIONS: usize = 2_000;
/// Longest command line read, in bytes.
pub const MAX_INPUT: usize = 256 * 1024;
/// Deepest nesting of `(`, `{`, `$(` and backticks read. brush-parser recurses once per
/// level (deep input overflows the stack) and backtracks on `( (` (time doubles per level),
/// so deeper input is unreadable before it is parsed.
pub const MAX_NESTING: usize = 16;

/// How many invocations a line and the files it runs may produce, once a file was read.
pub const MAX_SCRIPT_INVOCATIONS: usize = 200_000;

/// Reads one shell string as `bash -c` would. No file is read: a command that runs one is
/// judged by its words (see [`parse_shell_in`]).
pub fn parse_shell(text: &str) -> Script {
    parse_shell_in(text, None)
}

/// Reads one shell string as `bash -c` would, and the files it runs (scripts, Makefiles,
/// package scripts) through `files` when given.
pub fn parse_shell_in(text: &str, files: Option<&dyn Files>) -> Script {
    let mut walker = Walker {
        files,
        ..Walker::default()
    };
    walker.script_text(text, &Ctx::default());
    walker.script
}

/// Reads an argv as given to `execve`: the words are exact, no shell is involved, but the
/// program may still be a wrapper or a shell with `-c`.
pub fn from_argv(argv: &[String]) -> Script {
    from_argv_in(argv, None)
}

/// [`from_argv`], reading the files the command runs through `files` when given.
pub fn from_argv_in(argv: &[String], files: Option<&dyn Files>) -> Script {
    let mut walker = Walker {
        files,
        ..Walker::default()
    };
    if argv.is_empty() {
        walker.unreadable("", "no command was given", &Ctx::default());
        return walker.script;
    }
    let inv = Invocation::literal(argv.iter().cloned());
    walker.invocation(inv, &Ctx::default());
    walker.script
}

/// Where in the line we are: what encloses the commands being read.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ctx {
    pub via: Vec<String>,
    pub hidden: bool,
    pub depth: usize,
    /// Output redirections of enclosing compound commands.
    pub writes: Vec<Word>,
    /// Standard input of the enclosing compound command, if redirected or piped.
    pub stdin: Option<Stdin>,
    /// The function whose body is being read, to spot one that spawns itself.
    pub function: Option<String>,
    /// True when the command runs concurrently with others (in a pipeline or with `&`).
    pub concurrent: bool,
}

impl Ctx {
    pub(crate) fn nested(&self, via: impl Into<String>) -> Ctx {
        let mut ctx = self.clone();
        ctx.via.push(via.into());
        ctx.depth += 1;
        ctx
    }
}

#[derive(Default)]
pub(crate) struct Walker<'f> {
    pub script: Script,
    /// What names mean so far: aliases, functions, `hash -p`, and the files earlier
    /// commands of the line wrote, copied or downloaded (see [`files`]).
    names: files::Names,
    /// Variables and directories changed so far by the commands read (see [`Scope`]).
    scope: Scope,
    /// Integer and associative attributes declared so far (see [`arith`]).
    attrs: arith::Attrs,
    /// Where the files a command runs are read from; `None`: they are not read.
    files: Option<&'f dyn Files>,
    /// Files read so far for this line.
    budget: Budget,
    /// How deep files being read run files.
    file_depth: usize,
    /// Entries of [`Scope`] copied into the commands read so far (see [`MAX_SCOPE_HELD`]).
    scope_held: usize,
}

/// How many earlier assignments, directories and links the commands of one line may hold
/// in all. Each command keeps a copy of the scope it runs in, so a script with thousands of
/// assignments costs memory quadratic in its length; past this (about 100 MB) the line is
/// too large to read and escalates. The benchmark's 5,000-line script (about 630 assignments)
/// holds 2 million and escalates; half of it holds 0.5 million and is read.
const MAX_SCOPE_HELD: usize = 1_000_000;

impl Walker<'_> {
    pub(crate) fn unreadable(&mut self, text: &str, why: impl Into<String>, ctx: &Ctx) {
        self.script.unreadable.push(Unreadable {
            text: text.to_owned(),
            why: why.into(),
            via: ctx.via.clone(),
        });
    }

    /// The scope a command runs in, for its [`Invocation`]; an empty one once the line holds
    /// more than [`MAX_SCOPE_HELD`] entries, which makes the line unreadable.
    fn scope_snapshot(&mut self, text: impl FnOnce() -> String, ctx: &Ctx) -> Scope {
        let was = self.scope_held;
        self.scope_held += self.scope.vars.len() + self.scope.dirs.len() + self.scope.links.len();
        if self.scope_held <= MAX_SCOPE_HELD {
            return self.scope.clone();
        }
        if was <= MAX_SCOPE_HELD {
            self.unreadable(
                &text(),
                format!(
                    "the scripts it runs assign too many variables before their commands (over {MAX_SCOPE_HELD} copies held)"
                ),
                ctx,
            );
        }
        Scope::default()
    }

    fn over_budget(&mut self, text: &str, ctx: &Ctx) -> bool {
        if ctx.depth > MAX_DEPTH {
            self.unreadable(
                text,
                format!("commands are nested more than {MAX_DEPTH} deep"),
                ctx,
            );
            return true;
        }
        // Scripts read from files may hold more commands than one line.
        let limit = if self.budget.files > 0 {
            MAX_SCRIPT_INVOCATIONS
        } else {
            MAX_INVOCATIONS
        };
        if self.script.invocations.len() >= limit {
            self.unreadable(
                text,
                format!("the line holds more than {limit} commands"),
                ctx,
            );
            return true;
        }
        false
    }

    /// Reads `text` as a script and walks everything in it.
    pub(crate) fn script_text(&mut self, text: &str, ctx: &Ctx) {
        if self.over_budget(text, ctx) {
            return;
        }
        if text.len() > MAX_INPUT {
            let head: String = text.chars().take(64).collect();
            self.unreadable(
                &head,
                format!("the command is longer than {MAX_INPUT} bytes"),
                ctx,
            );
            return;
        }
        self.parse_text(text, ctx);
    }

    /// Reads `text` (of any length: the caller bounds it) as a script.
    pub(crate) fn parse_text(&mut self, text: &str, ctx: &Ctx) {
        if nesting_depth(text) > MAX_NESTING {
            let head: String = text.chars().take(64).collect();
            self.unreadable(
                &head,
                format!(
                    "brackets, braces or substitutions are nested more than {MAX_NESTING} deep"
                ),
                ctx,
            );
            return;
        }
        if ansi_c_continuation(text) {
            self.unreadable(
                text,
                "a backslash-newline inside $'...', which bash keeps and gatekeep's parser drops, so the two would read different commands",
                ctx,
            );
            return;
        }
        if word::overflows_parser_number(text) {
            self.unreadable(
                text,
                "a redirection's file descriptor or a `~N` directory-stack index too large to read",
                ctx,
            );
            return;
        }
        if text.contains('\0') {
            self.unreadable(
                text,
                "the command contains a NUL byte, which bash would truncate at",
                ctx,
            );
            return;
        }
        let options = word::parser_options();
        let mut parser =
            brush_parser::Parser::new(std::io::BufReader::new(text.as_bytes()), &options);
        match parser.parse_program() {
            Ok(program) => {
                for list in &program.complete_commands {
                    self.compound_list(list, ctx);
                }
            }
            Err(err) => self.unreadable(
                text,
                format!("bash syntax that gatekeep cannot parse ({err})"),
                ctx,
            ),
        }
    }

    fn compound_list(&mut self, list: &ast::CompoundList, ctx: &Ctx) {
        for ast::CompoundListItem(and_or, sep) in &list.0 {
            let mut ctx = ctx.clone();
            if matches!(sep, ast::SeparatorOperator::Async) {
                ctx.concurrent = true;
            }
            self.pipeline(&and_or.first, &ctx);
            for next in &and_or.additional {
                match next {
                    ast::AndOr::And(p) | ast::AndOr::Or(p) => self.pipeline(p, &ctx),
                }
            }
        }
    }

    fn pipeline(&mut self, pipeline: &ast::Pipeline, ctx: &Ctx) {
        let mut upstream: Option<(String, PipeSource, Option<String>)> = None;
        let many = pipeline.seq.len() > 1;
        for command in &pipeline.seq {
            let mut ctx = ctx.clone();
            ctx.concurrent |= many;
            if let Some((from, source, text)) = upstream.take() {
                ctx.stdin = Some(match text {
                    Some(text) => Stdin::Text(text),
                    None => Stdin::Pipe { from, source },
                });
            }
            // Every element of a pipeline runs in a subshell of its own: a `cd` there
            // moves nothing after it.
            let saved = many.then(|| self.scope.clone());
            upstream = Some(self.command(command, &ctx));
            if let Some(saved) = saved {
                self.scope = saved;
            }
        }
    }

    /// Walks one command; returns what it writes to a pipe: its program, the kind of text,
    /// and the text itself when it is literal (`echo`, `printf`, `cat <<EOF`).
    fn command(
        &mut self,
        command: &ast::Command,
        ctx: &Ctx,
    ) -> (String, PipeSource, Option<String>) {
        match command {
            ast::Command::Simple(simple) => self.simple(simple, ctx),
            ast::Command::Compound(compound, redirects) => {
                let ctx = self.redirect_list(redirects.as_ref(), ctx);
                self.compound(compound, &ctx);
                ("a compound command".into(), PipeSource::Other, None)
            }
            ast::Command::Function(def) => {
                let mut ctx = ctx.clone();
                ctx.function = Some(def.fname.value.clone());
                self.names
                    .define_function(&def.fname.value, def.body.to_string());
                ctx.concurrent = false;
                let ctx = self.redirect_list(def.body.1.as_ref(), &ctx);
                // The body runs when it is called, not here: what it changes is not in force
                // for the commands after the definition.
                let saved = self.scope.clone();
                self.compound(&def.body.0, &ctx);
                self.scope = saved;
                ("a function definition".into(), PipeSource::Other, None)
            }
            ast::Command::ExtendedTest(test, redirects) => {
                let ctx = self.redirect_list(redirects.as_ref(), ctx);
                self.extended_test(&test.expr, &ctx);
                ("[[ ]]".into(), PipeSource::Other, None)
            }
        }
    }

    fn redirect_list(&mut self, redirects: Option<&ast::RedirectList>, ctx: &Ctx) -> Ctx {
        let mut ctx = ctx.clone();
        if let Some(list) = redirects {
            let mut stdin = None;
            let mut writes = std::mem::take(&mut ctx.writes);
            for redirect in &list.0 {
                self.redirect(redirect, &mut writes, &mut stdin, &ctx);
            }
            ctx.writes = writes;
            if stdin.is_some() {
                ctx.stdin = stdin;
            }
        }
        ctx
    }

    fn extended_test(&mut self, expr: &ast::ExtendedTestExpr, ctx: &Ctx) {
        match expr {
            ast::ExtendedTestExpr::And(a, b) | ast::ExtendedTestExpr::Or(a, b) => {
                self.extended_test(a, ctx);
                self.extended_test(b, ctx);
            }
            ast::ExtendedTestExpr::Not(a) | ast::ExtendedTestExpr::Parenthesized(a) => {
                self.extended_test(a, ctx)
            }
            ast::ExtendedTestExpr::UnaryTest(op, w) => {
                let word = self.word(&w.value, ctx).word;
                if matches!(
                    op,
                    ast::UnaryPredicate::ShellVariableIsSetAndAssigned
                        | ast::UnaryPredicate::ShellVariableIsSetAndNameRef
                ) {
                    self.name_arg(&word, "[[ -v ]]", ctx);
                }
            }
            ast::ExtendedTestExpr::BinaryTest(op, a, b) => {
                self.word(&a.value, ctx);
                self.word(&b.value, ctx);
                use ast::BinaryPredicate as B;
                if matches!(
                    op,
                    B::ArithmeticEqualTo
                        | B::ArithmeticNotEqualTo
                        | B::ArithmeticLessThan
                        | B::ArithmeticLessThanOrEqualTo
                        | B::ArithmeticGreaterThan
                        | B::ArithmeticGreaterThanOrEqualTo
                ) {
                    // Inside `[[ ]]` both operands are evaluated as arithmetic after expansion.
                    self.arith_check(&a.value, ctx);
                    self.arith_check(&b.value, ctx);
                }
            }
        }
    }

    fn compound(&mut self, compound: &ast::CompoundCommand, ctx: &Ctx) {
        match compound {
            ast::CompoundCommand::BraceGroup(g) => self.compound_list(&g.list, ctx),
            ast::CompoundCommand::Subshell(s) => {
                let saved = self.scope.clone();
                self.compound_list(&s.list, ctx);
                self.scope = saved;
            }
            ast::CompoundCommand::ForClause(f) => {
                for w in f.values.iter().flatten() {
                    self.word(&w.value, ctx);
                }
                let words: Vec<String> =
                    f.values.iter().flatten().map(|w| w.value.clone()).collect();
                if runtime::numeric_loop(&words) {
                    // `for i in 1 2 3`: the variable holds an integer in the body.
                    self.scope.vars.push((
                        f.variable_name.clone(),
                        Word::dynamic(format!("$(({}))", words.join(",")), arith::INTEGER),
                    ));
                }
                self.compound_list(&f.body.list, ctx);
            }
            ast::CompoundCommand::ArithmeticForClause(f) => {
                for expr in [&f.initializer, &f.condition, &f.updater]
                    .into_iter()
                    .flatten()
                {
                    self.arithmetic(&expr.value, ctx);
                }
                self.compound_list(&f.body.list, ctx);
            }
            ast::CompoundCommand::CaseClause(c) => {
                self.word(&c.value.value, ctx);
                for item in &c.cases {
                    for p in &item.patterns {
                        self.word(&p.value, ctx);
                    }
                    if let Some(list) = &item.cmd {
                        self.compound_list(list, ctx);
                    }
                }
            }
            ast::CompoundCommand::IfClause(i) => {
                self.compound_list(&i.condition, ctx);
                self.compound_list(&i.then, ctx);
                for e in i.elses.iter().flatten() {
                    if let Some(cond) = &e.condition {
                        self.compound_list(cond, ctx);
                    }
                    self.compound_list(&e.body, ctx);
                }
            }
            ast::CompoundCommand::WhileClause(w) | ast::CompoundCommand::UntilClause(w) => {
                self.compound_list(&w.0, ctx);
                self.compound_list(&w.1.list, ctx);
            }
            ast::CompoundCommand::Coprocess(c) => {
                let mut ctx = ctx.clone();
                ctx.concurrent = true;
                self.command(&c.body, &ctx);
            }
            ast::CompoundCommand::Arithmetic(a) => {
                self.arithmetic(&a.expr.value, ctx);
                // brush-parser also reads `( ( cmd ) )`, two subshells to bash, as arithmetic.
                // Read the expression as commands too: real arithmetic yields nothing that
                // matters (or fails to parse, which is ignored here), a misread subshell
                // yields its commands.
                let mut probe = Walker::default();
                probe.script_text(&a.expr.value, &ctx.nested("(( ))"));
                if probe
                    .script
                    .unreadable
                    .iter()
                    .all(|u| u.why.starts_with("bash syntax"))
                {
                    probe.script.unreadable.clear();
                }
                self.absorb(probe);
            }
        }
    }

    /// Takes over what another walker found.
    fn absorb(&mut self, other: Walker) {
        self.script.invocations.extend(other.script.invocations);
        self.script.assignments.extend(other.script.assignments);
        self.script.unreadable.extend(other.script.unreadable);
        for c in other.script.constructs {
            if !self.script.constructs.contains(&c) {
                self.script.constructs.push(c);
            }
        }
    }

    fn arithmetic(&mut self, expr: &str, ctx: &Ctx) {
        if expr.contains("$(") || expr.contains('`') {
            self.unreadable(expr, "arithmetic that runs a command", ctx);
        }
        self.arith_check(expr, ctx);
    }

    /// Expands a word and reads the commands substituted into it.
    pub(crate) fn word(&mut self, raw: &str, ctx: &Ctx) -> Expanded {
        let expanded = word::expand(raw);
        self.substitutions(&expanded, ctx);
        expanded
    }

    fn substitutions(&mut self, expanded: &Expanded, ctx: &Ctx) {
        for text in &expanded.substitutions {
            let mut inner = ctx.nested("$(...)");
            inner.hidden = true;
            inner.stdin = None;
            inner.writes = Vec::new();
            let saved = self.scope.clone();
            self.script_text(text, &inner);
            self.scope = saved;
        }
        for why in &expanded.unreadable {
            self.unreadable("", why.clone(), ctx);
        }
        self.runtime_word(&expanded.runtime, ctx);
    }

    fn process_substitution(&mut self, sub: &ast::SubshellCommand, ctx: &Ctx) {
        let mut inner = ctx.nested("<(...)");
        inner.hidden = true;
        inner.stdin = None;
        inner.writes = Vec::new();
        let saved = self.scope.clone();
        self.compound_list(&sub.list, &inner);
        self.scope = saved;
    }

    fn redirect(
        &mut self,
        redirect: &ast::IoRedirect,
        writes: &mut Vec<Word>,
        stdin: &mut Option<Stdin>,
        ctx: &Ctx,
    ) {
        use ast::{IoFileRedirectKind as K, IoFileRedirectTarget as T};
        match redirect {
            ast::IoRedirect::File(fd, kind, target) => {
                let fd = fd.as_ref().map(|fd| fd.to_string());
                match target {
                    T::Filename(w) | T::Duplicate(w) => {
                        let word = self.word(&w.value, ctx).word;
                        match kind {
                            K::Read if fd.as_deref().is_none_or(|f| f == "0") => {
                                *stdin = Some(Stdin::File(word));
                            }
                            K::Write | K::Append | K::Clobber | K::ReadAndWrite => {
                                writes.push(word)
                            }
                            K::DuplicateOutput if !is_fd_number(&word) => writes.push(word),
                            _ => {}
                        }
                    }
                    T::ProcessSubstitution(_, sub) => self.process_substitution(sub, ctx),
                    T::Fd(_) => {}
                }
            }
            ast::IoRedirect::HereDocument(_, doc) => {
                let body = &doc.doc.value;
                if doc.requires_expansion {
                    // The outer shell expands an unquoted body before the command reads it: a
                    // shell given it runs `\$(cmd)` as `$(cmd)`, and whatever a variable holds.
                    let expanded = word::heredoc_substitutions(body);
                    self.substitutions(&expanded, ctx);
                    *stdin = Some(match expanded.word {
                        Word::Literal(text) => Stdin::Text(text),
                        dynamic => Stdin::File(dynamic),
                    });
                } else {
                    *stdin = Some(Stdin::Text(body.clone()));
                }
            }
            ast::IoRedirect::HereString(_, w) => {
                let expanded = self.word(&w.value, ctx);
                *stdin = Some(match expanded.word {
                    Word::Literal(s) => Stdin::Text(s + "\n"),
                    Word::Dynamic { raw, why } => Stdin::File(Word::Dynamic { raw, why }),
                });
            }
            ast::IoRedirect::OutputAndError(w, _) => {
                let word = self.word(&w.value, ctx).word;
                writes.push(word);
            }
        }
    }

    fn simple(
        &mut self,
        simple: &ast::SimpleCommand,
        ctx: &Ctx,
    ) -> (String, PipeSource, Option<String>) {
        let mut writes = ctx.writes.clone();
        let mut program_globs = false;

        let mut parts = Parts::default();
        for item in simple.prefix.iter().flat_map(|p| p.0.iter()) {
            self.item(item, true, &mut parts, ctx);
        }
        if let Some(program) = &simple.word_or_name {
            let expanded = self.word(&program.value, ctx);
            program_globs = expanded.globs;
            parts.argv.push(expanded.word);
        }
        for item in simple.suffix.iter().flat_map(|s| s.0.iter()) {
            self.item(item, false, &mut parts, ctx);
        }
        let Parts {
            mut argv,
            assignments,
            writes: own_writes,
            stdin,
            globs,
        } = parts;
        writes.extend(own_writes);

        if program_globs && let Some(first) = argv.first_mut() {
            let raw = first.display().to_owned();
            *first = Word::dynamic(
                raw,
                "the program name is a glob that bash expands to file names",
            );
        }

        let stdin = stdin
            .or_else(|| ctx.stdin.clone())
            .unwrap_or(Stdin::Inherited);
        let output = pipe_output(&argv, &stdin);
        let program = argv.first().map(|w| basename(w.display()).to_owned());

        if let (Some(function), Some(program)) = (&ctx.function, &program)
            && function == program
            && ctx.concurrent
        {
            let bomb = Construct::ForkBomb {
                name: function.clone(),
            };
            if !self.script.constructs.contains(&bomb) {
                self.script.constructs.push(bomb);
            }
        }

        if argv.is_empty() {
            // Assignments alone run no program, but may name code to run, and change the
            // environment of later programs when the variable is exported.
            self.assignments_only(&assignments, ctx);
            if !assignments.is_empty() {
                let scope = self.scope_snapshot(|| simple.to_string(), ctx);
                self.script.assignments.push(Invocation {
                    argv: Vec::new(),
                    assignments: assignments.clone(),
                    writes: Vec::new(),
                    stdin: Stdin::Inherited,
                    via: ctx.via.clone(),
                    hidden: ctx.hidden,
                    scope,
                    globs: Vec::new(),
                });
                self.scope.vars.extend(assignments.iter().cloned());
            }
            if writes.len() == ctx.writes.len() {
                return ("an assignment".into(), PipeSource::Other, None);
            }
            // `> file` alone still writes (truncates) the file: read it as `: > file`.
            argv.push(Word::Literal(":".into()));
        }
        let change = scope_change(&argv);
        let inv = Invocation {
            argv,
            assignments,
            writes,
            stdin,
            via: ctx.via.clone(),
            hidden: ctx.hidden,
            scope: self.scope_snapshot(|| simple.to_string(), ctx),
            globs,
        };
        self.invocation(inv, ctx);
        match change {
            ScopeChange::None => {}
            ScopeChange::Dir(dir) => self.scope.dirs.push(dir),
            ScopeChange::Vars(vars) => self.scope.vars.extend(vars),
            ScopeChange::Links(paths) => self.scope.links.extend(paths),
        }
        output
    }

    fn item(
        &mut self,
        item: &ast::CommandPrefixOrSuffixItem,
        in_prefix: bool,
        parts: &mut Parts,
        ctx: &Ctx,
    ) {
        use ast::CommandPrefixOrSuffixItem as I;
        match item {
            I::Word(w) => {
                // Brace expansion comes first and makes several words of one.
                let words = brace::expand(&w.value).unwrap_or_else(|| vec![w.value.clone()]);
                for raw in words {
                    let expanded = self.word(&raw, ctx);
                    if let (true, Word::Literal(text)) = (expanded.globs, &expanded.word) {
                        parts.globs.push(text.clone());
                    }
                    parts.argv.push(expanded.word);
                }
            }
            I::AssignmentWord(assignment, raw) => {
                if in_prefix {
                    self.assignment_runtime(assignment, ctx);
                    let value = self.assignment_value(&assignment.value, ctx);
                    parts
                        .assignments
                        .push((assignment_name(&assignment.name), value));
                } else {
                    // `export X=...`, `declare X=...`: an argument to a builtin.
                    parts.argv.push(self.word(&raw.value, ctx).word);
                }
            }
            I::IoRedirect(r) => self.redirect(r, &mut parts.writes, &mut parts.stdin, ctx),
            I::ProcessSubstitution(_, sub) => {
                self.process_substitution(sub, ctx);
                parts.argv.push(Word::dynamic(
                    "<(...)",
                    "a process substitution is a pipe only known at run time",
                ));
            }
        }
    }

    fn assignment_value(&mut self, value: &ast::AssignmentValue, ctx: &Ctx) -> Word {
        match value {
            ast::AssignmentValue::Scalar(w) => self.word(&w.value, ctx).word,
            ast::AssignmentValue::Array(items) => {
                let mut last = Word::Literal(String::new());
                for (key, w) in items {
                    if let Some(key) = key {
                        self.word(&key.value, ctx);
                    }
                    last = self.word(&w.value, ctx).word;
                }
                match last {
                    Word::Literal(_) => Word::dynamic("(...)", "an array value"),
                    dynamic => dynamic,
                }
            }
        }
    }
}

/// The pieces of one simple command, gathered in source order.
#[derive(Default)]
struct Parts {
    argv: Vec<Word>,
    assignments: Vec<(String, Word)>,
    writes: Vec<Word>,
    stdin: Option<Stdin>,
    /// Literal words bash expands as pathname patterns (see [`Invocation::globs`]).
    globs: Vec<String>,
}

/// A path compared by its last two parts, so that `./x.sh`, `x.sh` and `/tmp/d/x.sh` written
/// from `/tmp/d` are seen as one file. Over-matching here only escalates.
fn path_key(path: &str) -> String {
    let trimmed = path.trim_start_matches("./");
    let parts: Vec<&str> = trimmed.rsplit('/').take(1).collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

/// The deepest nesting of `(`, `{` and backticks outside single quotes. It over-counts (a
/// `(` inside double quotes counts too), which only makes input unreadable sooner.
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut max, mut backticks) = (0usize, 0usize, 0usize);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '\'' => {
                // Single quotes hold no syntax (`$'...'` escapes do not nest either).
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                }
            }
            '(' | '{' => depth += 1,
            ')' | '}' => depth = depth.saturating_sub(1),
            '`' => backticks += 1,
            _ => {}
        }
        max = max.max(depth + backticks / 2);
    }
    max
}

/// Whether a `$'...'` string holds a backslash-newline: brush-parser's tokenizer removes the
/// pair, bash keeps it (or, after `\\` or `\c`, reads it differently).
fn ansi_c_continuation(text: &str) -> bool {
    let mut rest = text;
    while let Some(start) = rest.find("$'") {
        let body = &rest[start + 2..];
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            if escaped {
                if c == '\n' {
                    return true;
                }
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '\'' {
                rest = &body[i + 1..];
                break;
            }
            if i + c.len_utf8() == body.len() {
                return false;
            }
        }
        if body.is_empty() {
            return false;
        }
    }
    false
}

fn assignment_name(name: &ast::AssignmentName) -> String {
    match name {
        ast::AssignmentName::VariableName(n) => n.clone(),
        ast::AssignmentName::ArrayElementName(n, _) => n.clone(),
    }
}

fn is_fd_number(word: &Word) -> bool {
    word.literal()
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
}

/// Programs whose output is text fetched from the network.
const DOWNLOADERS: &[&str] = &[
    "curl", "wget", "fetch", "http", "https", "xh", "aria2c", "nc", "ncat", "netcat", "socat",
    "openssl", "ftp", "tftp", "lynx", "links", "w3m", "scp", "gh", "aws", "gsutil", "gcloud", "az",
];

/// Programs whose output is decoded, decrypted or decompressed text.
const DECODERS: &[&str] = &[
    "base64", "base32", "basenc", "xxd", "od", "uudecode", "gunzip", "zcat", "gzip", "bzcat",
    "bunzip2", "xz", "xzcat", "unxz", "zstd", "zstdcat", "lz4", "lzcat", "brotli", "gpg", "age",
    "rev", "tr", "perl", "python", "python3", "node", "ruby", "php", "awk", "sed", "printf",
    "echo", "cut", "iconv", "openssl", "rot13", "unzip", "tar",
];

/// What a command writes to a pipe: literal text for `echo`/`printf` with literal arguments
/// and `cat` of a here-document; otherwise only the program's name and kind.
fn pipe_output(argv: &[Word], stdin: &Stdin) -> (String, PipeSource, Option<String>) {
    let Some(program) = argv.first().and_then(|w| w.literal()).map(basename) else {
        return (
            "a command only known at run time".into(),
            PipeSource::Other,
            None,
        );
    };
    let args: Option<Vec<&str>> = argv[1..].iter().map(|w| w.literal()).collect();
    let text = match (program, &args) {
        ("echo", Some(args)) if args.first().is_none_or(|a| !a.starts_with('-')) => {
            Some(args.join(" ") + "\n")
        }
        ("printf", Some(args)) if args.len() == 1 && !args[0].contains(['%', '\\']) => {
            Some(args[0].to_owned())
        }
        ("cat", Some(args)) if args.is_empty() => match stdin {
            Stdin::Text(text) => Some(text.clone()),
            _ => None,
        },
        _ => None,
    };
    let source = if DOWNLOADERS.contains(&program) {
        PipeSource::Downloaded
    } else if DECODERS.contains(&program) && text.is_none() {
        PipeSource::Decoded
    } else {
        PipeSource::Other
    };
    (program.to_owned(), source, text)
}
