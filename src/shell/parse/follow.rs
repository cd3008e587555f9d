//! Following an invocation: recording it, and walking what it runs in turn (the commands a
//! wrapper runs, scripts given to shells, code read from standard input), with the files
//! the same line wrote before it.

use super::{Ctx, Walker};
use crate::shell::unwrap::{self, Step};
use crate::shell::{Invocation, PipeSource, Stdin, Word};

impl Walker<'_> {
    /// Records one invocation and follows whatever it runs in turn.
    pub(crate) fn invocation(&mut self, inv: Invocation, ctx: &Ctx) {
        let fresh_assignments = inv.assignments.len();
        self.invocation_with(inv, fresh_assignments, ctx);
    }

    /// Records an invocation whose last `fresh_assignments` assignments were made at its own
    /// level; the others come from the wrapper around it (`env X=1 nice cmd`).
    fn invocation_with(&mut self, inv: Invocation, fresh_assignments: usize, ctx: &Ctx) {
        let display = inv.display_argv().join(" ");
        if self.over_budget(&display, ctx) {
            return;
        }
        let Some(first) = inv.argv.first() else {
            return;
        };
        if let Word::Dynamic { raw, why } = first {
            self.unreadable(
                &display,
                format!("the program name `{raw}` is only known at run time ({why})"),
                ctx,
            );
            return;
        }
        // Names defined earlier (aliases, functions, copies) and the file it runs, read
        // with what the line wrote before it; then what it writes or renames.
        let renamed = self.renamed(&inv, ctx);
        let read_source = self.run_files(&inv, ctx);
        self.record_names(&inv);
        let fresh = &inv.assignments
            [inv.assignments.len() - fresh_assignments.min(inv.assignments.len())..];
        let mut steps = unwrap::steps(&inv, fresh);
        if read_source && matches!(inv.program(), Some("source" | ".")) {
            // The file was read (or found unreadable) above.
            steps.retain(|s| !matches!(s, Step::Unreadable { .. }));
        }
        steps.extend(renamed);
        steps.extend(self.runtime_builtin(&inv, ctx));
        self.script.invocations.push(inv.clone());
        self.steps_of(steps, &inv, ctx);
    }

    /// Walks what assignments alone (`X=1`, `PROMPT_COMMAND='...'`) would run.
    pub(super) fn assignments_only(&mut self, assignments: &[(String, Word)], ctx: &Ctx) {
        let steps = unwrap::assignment_steps(assignments);
        if steps.is_empty() {
            return;
        }
        let holder = Invocation {
            hidden: ctx.hidden,
            ..Invocation::literal([String::new()])
        };
        self.steps_of(steps, &holder, ctx);
    }

    fn steps_of(&mut self, steps: Vec<Step>, outer: &Invocation, ctx: &Ctx) {
        for step in steps {
            self.step(step, outer, ctx);
        }
    }

    fn step(&mut self, step: Step, outer: &Invocation, ctx: &Ctx) {
        match step {
            Step::Run {
                argv,
                via,
                assignments,
            } => {
                let mut ctx = ctx.nested(via);
                ctx.stdin = Some(outer.stdin.clone());
                let fresh = assignments.len();
                let mut all = outer.assignments.clone();
                all.extend(assignments);
                let inv = Invocation {
                    argv,
                    assignments: all,
                    writes: outer.writes.clone(),
                    stdin: outer.stdin.clone(),
                    via: ctx.via.clone(),
                    hidden: outer.hidden,
                    scope: outer.scope.clone(),
                    globs: outer.globs.clone(),
                };
                self.invocation_with(inv, fresh, &ctx);
            }
            Step::Script { text, via } => {
                let mut ctx = ctx.nested(via.clone());
                ctx.stdin = Some(outer.stdin.clone());
                ctx.writes = outer.writes.clone();
                ctx.hidden = outer.hidden;
                match text {
                    Word::Literal(text) => {
                        // A nested shell starts where the outer command runs and sees its
                        // variables (more than it would: only exported ones reach it, which
                        // only makes more paths resolvable); nothing it changes comes back.
                        let saved = self.scope.clone();
                        self.scope = outer.scope.clone();
                        self.script_text(&text, &ctx);
                        self.scope = saved;
                    }
                    Word::Dynamic { raw, why } => self.unreadable(
                        &raw,
                        format!("{via} runs text that is only known at run time ({why})"),
                        &ctx,
                    ),
                }
            }
            Step::StdinScript { reader, shell } => {
                let ctx = ctx.nested(format!("{reader} < stdin"));
                match &outer.stdin {
                    Stdin::Text(text) if shell => {
                        let mut ctx = ctx.clone();
                        ctx.stdin = None;
                        self.script_text(text, &ctx);
                    }
                    Stdin::Text(_) => self.unreadable(
                        reader.as_str(),
                        format!("{reader} runs code given on its standard input, which gatekeep cannot read"),
                        &ctx,
                    ),
                    Stdin::Pipe { from, source } => {
                        let what = match source {
                            PipeSource::Downloaded => "text downloaded by",
                            PipeSource::Decoded => "text decoded by",
                            PipeSource::Other => "the output of",
                        };
                        self.unreadable(
                            &format!("{from} | {reader}"),
                            format!("{reader} runs {what} `{from}` as code, which cannot be read ahead"),
                            &ctx,
                        );
                    }
                    Stdin::File(file) => self.unreadable(
                        &format!("{reader} < {}", file.display()),
                        format!("{reader} runs code from the file `{}`, which gatekeep does not read", file.display()),
                        &ctx,
                    ),
                    Stdin::Inherited => self.unreadable(
                        reader.as_str(),
                        format!("{reader} reads code from standard input, which gatekeep cannot see"),
                        &ctx,
                    ),
                }
            }
            Step::Unreadable { why } => {
                let display = outer.display_argv().join(" ");
                self.unreadable(&display, why, ctx);
            }
        }
    }
}
