//! The command a rule is matched against, and the matching of its parts: the subcommand
//! after the tool's global options, flags in every spelling, argument and path globs (after
//! resolution, see [`super::paths`]), environment, standard input and SQL.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::Certainty;
use super::flags::{self, FlagWord};
use super::glob::{Glob, GlobList};
use super::paths::{Forms, Host, Resolver, Unknown, normalize_path};
use super::sql;
use crate::shell::{Invocation, Stdin, Word};

/// A flag condition: alternative spellings of one flag.
#[derive(Clone, Debug)]
pub(super) struct FlagSpec {
    pub(super) long: Vec<String>,
    pub(super) short: Vec<char>,
    pub(super) exact: Vec<Glob>,
}

/// Word globs of one subcommand pattern; `None` stands for `**`.
pub(super) type SubcommandPattern = Vec<Option<Glob>>;

pub(super) fn best(
    it: impl Iterator<Item = (Certainty, Option<String>)>,
) -> (Certainty, Option<String>) {
    it.max_by_key(|c| c.0).unwrap_or((Certainty::No, None))
}

/// What a tool's command line looks like, so rules can find its subcommand and its SQL.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    /// Options that take a separate value (`-n prod`, `--context x`): skipped when looking
    /// for subcommand words and arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_options: Vec<String>,
    /// Options that take a value which stays an argument for rules (`curl -X DELETE`,
    /// `tar -C DIR`, `ssh -o ProxyCommand=…`): a short-option cluster ends at one, and the
    /// rest of the word is its value (`curl -sXDELETE`, `-d@file`, `-K-`, `tar -C/etc`,
    /// `ssh -oProxyCommand=…`), which rules see among the arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argument_options: Vec<String>,
    /// Whether `-rf` means `-r -f` (true for most tools; false for `find`, `terraform`).
    #[serde(default = "yes")]
    pub short_clusters: bool,
    /// Options whose value is SQL (`psql -c`, `mysql -e`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sql_options: Vec<String>,
    /// The argument (1-based, among arguments) that is SQL (`sqlite3 db "SQL"` is 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_argument: Option<usize>,
    /// Whether the tool reads SQL from standard input when no SQL option is given.
    #[serde(default)]
    pub sql_stdin: bool,
    /// Options that run a SQL file gatekeep does not read (`psql -f`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sql_file_options: Vec<String>,
    /// Options with which the tool runs no SQL at all (`--version`, `-l`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub no_sql_options: Vec<String>,
}

fn yes() -> bool {
    true
}

/// How many readings that drop one maybe-value each are tried besides the one that drops
/// them all: a bound on the work per line, whatever its length.
const MAX_SINGLE_READINGS: usize = 3;

/// One invocation as rules see it: its words sorted into flags and arguments.
pub struct Subject<'a> {
    pub inv: &'a Invocation,
    pub program: &'a str,
    tool: Option<&'a ToolSpec>,
    /// Words that are not flags (nor values of known options), in order.
    positional: Vec<&'a Word>,
    long: Vec<&'a str>,
    short: Vec<char>,
    /// Every flag word as written (before `--`).
    words: Vec<&'a str>,
    /// The same, in order, with what each sets (for flags cancelled later in the line).
    flag_words: Vec<FlagWord<'a>>,
    /// Values attached to an argument option in a cluster (`-d@file`): arguments too.
    values: Vec<Word>,
    /// Positions in `positional` of words that follow a leading option gatekeep does not
    /// know: each may be that option's value rather than an argument (see [`readings`]).
    maybe_values: Vec<usize>,
    /// The other readings of the line when `maybe_values` is not empty, built on first use.
    others: OnceCell<Vec<Subject<'a>>>,
    /// A file redirected in (`< file`): an argument for `args`, never the `target`.
    read_from: Option<&'a Word>,
    /// Dynamic words that may be any flag.
    dynamic_flags: Vec<&'a str>,
    /// `--name=$VALUE` words: the flag's name, and the word as written.
    dynamic_named: Vec<(&'a str, &'a str)>,
    /// Exemptions do not apply to commands hidden in substitutions.
    exemptions: bool,
    /// What the place the command runs in tells about its path words.
    host: &'a dyn Host,
    /// The forms of path words resolved so far, by the word's address: each word is resolved
    /// at most once, however many rules look at it.
    forms: RefCell<Vec<(usize, Option<Rc<Forms>>)>>,
}

impl<'a> Subject<'a> {
    pub fn new(inv: &'a Invocation, program: &'a str, tool: Option<&'a ToolSpec>) -> Subject<'a> {
        let mut s = Subject {
            inv,
            program,
            tool,
            positional: Vec::new(),
            long: Vec::new(),
            short: Vec::new(),
            words: Vec::new(),
            flag_words: Vec::new(),
            values: Vec::new(),
            maybe_values: Vec::new(),
            others: OnceCell::new(),
            dynamic_flags: Vec::new(),
            dynamic_named: Vec::new(),
            read_from: None,
            exemptions: !inv.hidden,
            host: &Unknown,
            forms: RefCell::new(Vec::new()),
        };
        // A file redirected in is read like a file named as an argument (`cat < key` is
        // `cat key`): rules about what is read see it among the arguments.
        let stdin_file = match &inv.stdin {
            Stdin::File(word) => Some(word),
            _ => None,
        };
        let clusters = tool.is_none_or(|t| t.short_clusters);
        let takes_value = |w: &str| tool.is_some_and(|t| t.value_options.iter().any(|o| o == w));
        let takes_argument =
            |w: &str| tool.is_some_and(|t| t.argument_options.iter().any(|o| o == w));
        let mut words = inv.argv.iter().skip(1);
        let mut end_of_options = false;
        // The previous word was a leading option gatekeep does not know: the next word may
        // be its value.
        let mut unknown_option = false;
        while let Some(word) = words.next() {
            let after_unknown = std::mem::take(&mut unknown_option);
            if after_unknown
                && s.positional.len() == s.maybe_values.len()
                && !word
                    .display()
                    .trim_start_matches(['"', '\''])
                    .starts_with('-')
            {
                s.maybe_values.push(s.positional.len());
            }
            let text = match word {
                Word::Literal(t) => t.as_str(),
                Word::Dynamic { raw, .. } => {
                    let bare = raw.trim_start_matches(['"', '\'']);
                    // `--name=$VALUE`: the flag is known, only its value is not.
                    let named = bare
                        .strip_prefix("--")
                        .and_then(|l| l.split_once('='))
                        .map(|(n, _)| n)
                        .filter(|n| {
                            !n.is_empty()
                                && n.chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                        });
                    match named {
                        Some(name) => {
                            s.long.push(name);
                            s.dynamic_named.push((name, raw));
                        }
                        // A word that may be a flag may as well be an operand, unless it
                        // starts with `-`.
                        None if !end_of_options && flags::may_be_flag(raw) => {
                            s.dynamic_flags.push(raw);
                            if !bare.starts_with('-') || flags::may_split(raw) {
                                s.positional.push(word);
                            }
                        }
                        None => s.positional.push(word),
                    }
                    continue;
                }
            };
            if end_of_options || text == "-" || !(text.starts_with('-') && text.len() > 1) {
                s.positional.push(word);
                continue;
            }
            if text == "--" {
                end_of_options = true;
                continue;
            }
            s.words.push(text);
            let leading = s.positional.len() == s.maybe_values.len();
            let mut flag = FlagWord {
                text,
                long: None,
                short: Vec::new(),
            };
            if let Some(long) = text.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, _)) => (n, true),
                    None => (long, false),
                };
                s.long.push(name);
                flag.long = Some(name);
                let option = format!("--{name}");
                if !inline && takes_value(&option) {
                    words.next();
                } else if !inline && !takes_argument(&option) {
                    unknown_option = leading;
                }
            } else if clusters {
                let mut last_known = false;
                for (pos, c) in text[1..].char_indices() {
                    s.short.push(c);
                    flag.short.push(c);
                    let option = format!("-{c}");
                    // `-n prod` takes the next word; `-nprod` carries its value.
                    let rest = &text[1 + pos + c.len_utf8()..];
                    if takes_value(&option) {
                        if rest.is_empty() {
                            words.next();
                        }
                        last_known = true;
                        break;
                    }
                    if takes_argument(&option) {
                        if !rest.is_empty() {
                            s.values.push(Word::Literal(rest.to_owned()));
                        }
                        last_known = true;
                        break;
                    }
                }
                unknown_option = leading && !last_known;
            } else if takes_value(text) {
                words.next();
            } else {
                unknown_option = leading && !takes_argument(text);
            }
            s.flag_words.push(flag);
        }
        s.read_from = stdin_file;
        s
    }

    /// The other ways the line may read when a leading option gatekeep does not know may
    /// take the word after it (`npm --loglevel warn publish`, `kubectl --profile-output X
    /// delete`): every such word read as a value, and each one alone. A rule matches when it
    /// matches any reading (the stricter result is kept).
    pub(super) fn other_readings(&self) -> &[Subject<'a>] {
        self.others.get_or_init(|| {
            let maybe = &self.maybe_values;
            if maybe.is_empty() {
                return Vec::new();
            }
            let mut drops: Vec<Vec<usize>> = vec![maybe.clone()];
            if maybe.len() > 1 {
                drops.extend(maybe.iter().take(MAX_SINGLE_READINGS).map(|&i| vec![i]));
            }
            drops
                .into_iter()
                .map(|drop| {
                    let positional = self
                        .positional
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !drop.contains(i))
                        .map(|(_, w)| *w)
                        .collect();
                    self.reading(positional)
                })
                .collect()
        })
    }

    /// This subject with other arguments.
    fn reading(&self, positional: Vec<&'a Word>) -> Subject<'a> {
        Subject {
            inv: self.inv,
            program: self.program,
            tool: self.tool,
            positional,
            long: self.long.clone(),
            short: self.short.clone(),
            words: self.words.clone(),
            flag_words: self.flag_words.clone(),
            values: self.values.clone(),
            maybe_values: Vec::new(),
            others: OnceCell::new(),
            read_from: self.read_from,
            dynamic_flags: self.dynamic_flags.clone(),
            dynamic_named: self.dynamic_named.clone(),
            exemptions: self.exemptions,
            host: self.host,
            forms: RefCell::new(Vec::new()),
        }
    }

    /// Whether some reading of the line has other arguments than this one.
    pub(super) fn has_other_readings(&self) -> bool {
        !self.maybe_values.is_empty()
    }

    /// Whether the flag `spec` names is in force at the end of the line (for exemptions).
    pub(super) fn flag_in_force(&self, spec: &FlagSpec) -> bool {
        flags::in_force(&self.flag_words, spec)
    }

    /// Reads path words as they will be on disk where `host` says the command runs.
    pub fn with_host(mut self, host: &'a dyn Host) -> Subject<'a> {
        self.host = host;
        self
    }

    /// Every form of a path word, resolved once.
    pub(super) fn forms(&self, word: &Word, assignments: bool) -> Option<Rc<Forms>> {
        let key = std::ptr::from_ref(word) as usize;
        if let Some((_, forms)) = self.forms.borrow().iter().find(|(k, _)| *k == key) {
            return forms.clone();
        }
        let resolver = Resolver {
            host: self.host,
            scope: &self.inv.scope,
        };
        let forms = resolver
            .forms(word, assignments)
            .map(|mut f| {
                super::moved::add_origins(&resolver, &mut f);
                f
            })
            .map(Rc::new);
        self.forms.borrow_mut().push((key, forms.clone()));
        forms
    }

    /// Whether a word is in a pattern list, read as the path it names on disk when the list
    /// holds path patterns (see [`super::paths`]), else as written (see [`word_in_list`]).
    pub(super) fn path_in_list(
        &self,
        word: &Word,
        list: &GlobList,
        assignments: bool,
    ) -> (Certainty, Option<String>) {
        if let Word::Literal(text) = word
            && (!self.exemptions || list.exempt.is_empty())
            && (list.matches_positive(text) || list.matches_positive(&normalize(text)))
        {
            // Matched as written, and nothing could exempt it: no need to look further.
            return (Certainty::Certain, None);
        }
        let pattern = match word {
            Word::Literal(text) if self.inv.globs.contains(text) => Some(text.as_str()),
            _ => None,
        };
        if !list.paths {
            return match pattern {
                Some(text) => super::overlap::glob_in_list(text, std::iter::once(text), list),
                None => word_in_list(word, list, self.exemptions),
            };
        }
        let Some(forms) = self.forms(word, assignments) else {
            return match pattern {
                Some(text) => super::overlap::glob_in_list(text, std::iter::once(text), list),
                None => word_in_list(word, list, self.exemptions),
            };
        };
        if let Some(text) = pattern
            && !forms.all().any(|f| list.matches_positive(f))
        {
            return super::overlap::glob_in_list(text, forms.all(), list);
        }
        if !forms.all().any(|f| list.matches_positive(f)) {
            if let Some(path) = &forms.unknown_dir {
                let bare: String = path.chars().filter(|c| !matches!(c, '"' | '\'')).collect();
                if list.positive.iter().any(|g| g.is_match(&bare)) {
                    return (
                        Certainty::Possible,
                        Some(format!(
                            "`{}` is in a directory only known at run time",
                            word.display()
                        )),
                    );
                }
            }
            return (Certainty::No, None);
        }
        if !self.exemptions || list.exempt.is_empty() || self.made_by_line(&forms) {
            return (Certainty::Certain, None);
        }
        // An exemption holds for the file the path reaches: when a symlink leads elsewhere,
        // only the resolved forms count (`~/.ssh/known_hosts` linked to `authorized_keys`
        // is not exempt); otherwise the spelling counts too, unless it climbs out with `..`.
        let exempt = if forms.physical.is_empty() {
            let spelled = forms
                .spelled
                .first()
                .map(|v| normalize(v))
                .unwrap_or_default();
            (list.is_exempt(&spelled) && !escapes(&spelled))
                || forms.lexical.iter().any(|f| list.is_exempt(f))
        } else {
            forms.physical.iter().any(|f| list.is_exempt(f))
        };
        if exempt {
            (Certainty::No, None)
        } else {
            (Certainty::Certain, None)
        }
    }

    /// Whether a path is at or below one that an earlier command of the line made into a
    /// link or moved or copied data into (`ln -s ~/.ssh /tmp/x; rm -rf /tmp/x/`): no
    /// exemption holds there, whatever its name.
    fn made_by_line(&self, forms: &Forms) -> bool {
        self.inv.scope.links.iter().any(|link| {
            let Some(dest) = self.forms(&link.to, false) else {
                return false;
            };
            let dests: Vec<&String> = dest.spelled.iter().chain(&dest.lexical).collect();
            forms.spelled.iter().chain(&forms.lexical).any(|f| {
                dests.iter().any(|d| {
                    f == *d
                        || f.strip_prefix(d.as_str())
                            .is_some_and(|r| r.starts_with('/'))
                })
            })
        })
    }

    /// The first word that is not a flag (where subcommands start).
    pub fn first_positional(&self) -> Option<&Word> {
        self.positional.first().copied()
    }

    /// The best match among `patterns`, and how many leading words it consumed.
    pub(super) fn subcommand(
        &self,
        patterns: &[SubcommandPattern],
    ) -> (Certainty, Option<String>, usize) {
        patterns
            .iter()
            .map(|p| sequence_match(p, &self.positional))
            .max_by_key(|m| m.0)
            .unwrap_or((Certainty::No, None, 0))
    }

    pub(super) fn flag(&self, spec: &FlagSpec) -> (Certainty, Option<String>) {
        // GNU tools accept any unambiguous prefix of a long option (`--rec` for
        // `--recursive`), so a given long flag matches when it is a prefix of the spelling.
        let long = spec
            .long
            .iter()
            .any(|l| self.long.iter().any(|g| !g.is_empty() && l.starts_with(g)));
        if long || self.flag_exact(spec) == Certainty::Certain {
            return (Certainty::Certain, None);
        }
        // `--pid=$MODE` may be `--pid=host`.
        if let Some((_, raw)) = self.dynamic_named.iter().find(|(name, _)| {
            spec.exact
                .iter()
                .any(|g| g.as_str().starts_with(&format!("--{name}=")))
        }) {
            return (
                Certainty::Possible,
                Some(format!("`{raw}` is only known at run time")),
            );
        }
        match self.dynamic_flags.first() {
            Some(raw) => (Certainty::Possible, Some(format!("`{raw}` may be a flag"))),
            None => (Certainty::No, None),
        }
    }

    /// Matches a flag by its spellings (an abbreviated long option counts as the option).
    fn flag_exact(&self, spec: &FlagSpec) -> Certainty {
        let long = spec.long.iter().any(|l| self.long.contains(&l.as_str()));
        let short = spec.short.iter().any(|c| {
            self.short.contains(c)
                || self
                    .words
                    .iter()
                    .any(|w| w.len() == 2 && w.ends_with(*c) && w.starts_with('-'))
        });
        let exact = spec.exact.iter().any(|g| {
            self.words.iter().any(|w| {
                g.is_match(w)
                    || flags::expand_abbreviation(w, g).is_some_and(|full| g.is_match(&full))
            })
        });
        if long || short || exact {
            Certainty::Certain
        } else {
            Certainty::No
        }
    }

    pub(super) fn args(&self, list: &GlobList, skip: usize) -> (Certainty, Option<String>) {
        let args = self.positional.get(skip..).unwrap_or_default();
        best(
            args.iter()
                .copied()
                .chain(self.read_from)
                .chain(&self.values)
                .map(|w| self.path_in_list(w, list, true)),
        )
    }

    pub(super) fn target(&self, list: &GlobList, skip: usize) -> (Certainty, Option<String>) {
        match self.positional.get(skip..).unwrap_or_default().last() {
            Some(w) => self.path_in_list(w, list, false),
            None => (Certainty::No, None),
        }
    }

    pub(super) fn writes(&self, list: &GlobList) -> (Certainty, Option<String>) {
        best(
            self.inv
                .writes
                .iter()
                .map(|w| self.path_in_list(w, list, false)),
        )
    }

    pub(super) fn stdin_kind(&self) -> &'static str {
        match self.inv.stdin {
            Stdin::Inherited => "inherited",
            Stdin::Text(_) => "text",
            Stdin::File(_) => "file",
            Stdin::Pipe { .. } => "pipe",
        }
    }

    pub(super) fn env(&self, globs: &[Glob]) -> (Certainty, Option<String>) {
        let hit = self
            .inv
            .assignments
            .iter()
            .any(|(name, _)| globs.iter().any(|g| g.is_match(name)));
        (
            if hit {
                Certainty::Certain
            } else {
                Certainty::No
            },
            None,
        )
    }

    pub(super) fn sql(&self, keywords: &[String]) -> (Certainty, Option<String>) {
        let Some(tool) = self.tool else {
            return (Certainty::No, None);
        };
        let has = |names: &[String]| {
            self.words
                .iter()
                .any(|w| names.iter().any(|n| option_is(w, n)))
        };
        if has(&tool.no_sql_options) {
            return (Certainty::No, None);
        }
        let mut texts: Vec<&Word> = Vec::new();
        let mut words = self.inv.argv.iter().skip(1).peekable();
        while let Some(word) = words.next() {
            let Some(text) = word.literal() else { continue };
            for name in &tool.sql_options {
                // `-c SQL`, or a cluster of short options ending in it (`psql -Atc SQL`).
                let cluster_end = name.len() == 2
                    && text.len() > 2
                    && text.starts_with('-')
                    && !text.starts_with("--")
                    && text.ends_with(&name[1..]);
                if text == name || cluster_end {
                    if let Some(next) = words.peek() {
                        texts.push(next);
                    }
                } else if let Some(v) = inline_value(text, name) {
                    return self.scan_with(texts, Some(v), keywords);
                }
            }
        }
        if let Some(w) = tool
            .sql_argument
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| self.positional.get(i))
        {
            texts.push(w);
        }
        if texts.is_empty() {
            if has(&tool.sql_file_options) {
                return (
                    Certainty::Possible,
                    Some("it runs SQL from a file gatekeep does not read".into()),
                );
            }
            if !tool.sql_stdin {
                return (Certainty::No, None);
            }
            return match &self.inv.stdin {
                Stdin::Text(text) => (sql::uses_any(text, keywords), None),
                Stdin::File(f) => (
                    Certainty::Possible,
                    Some(format!("it runs the SQL in `{}`", f.display())),
                ),
                Stdin::Pipe { from, .. } => (
                    Certainty::Possible,
                    Some(format!("it runs SQL piped from `{from}`")),
                ),
                Stdin::Inherited => (
                    Certainty::Possible,
                    Some("it reads SQL from its standard input".into()),
                ),
            };
        }
        self.scan_with(texts, None, keywords)
    }

    pub(super) fn scan_with(
        &self,
        texts: Vec<&Word>,
        inline: Option<&str>,
        keywords: &[String],
    ) -> (Certainty, Option<String>) {
        let mut result = (Certainty::No, None);
        for text in texts
            .iter()
            .map(|w| (w.literal(), w.display()))
            .chain(inline.map(|v| (Some(v), v)))
        {
            let c = match text.0 {
                Some(sql) => (sql::uses_any(sql, keywords), None),
                None => (
                    Certainty::Possible,
                    Some(format!("the SQL `{}` is only known at run time", text.1)),
                ),
            };
            if c.0 > result.0 {
                result = c;
            }
        }
        result
    }
}

pub(super) fn option_is(word: &str, name: &str) -> bool {
    word == name || inline_value(word, name).is_some()
}

/// The value attached to an option: `--command=X` or `-cX`.
pub(super) fn inline_value<'w>(word: &'w str, name: &str) -> Option<&'w str> {
    let rest = word.strip_prefix(name)?;
    if name.starts_with("--") {
        rest.strip_prefix('=')
    } else if name.len() == 2 && !rest.is_empty() {
        Some(rest)
    } else {
        None
    }
}

/// Whether a word is in a pattern list. Literal words are normalised first — paths
/// lexically (`./build/` is `build`, `a/../b` is `b`), URLs without their user part — and
/// exemptions are checked against the normal form only, so neither `..` nor
/// `http://localhost:80@evil.example` can walk out of an exemption.
/// A dynamic word matches a pattern that matches every word, or one that its source text
/// matches (`s3://$BUCKET` against `s3://*`), and is never exempt.
pub(super) fn word_in_list(
    word: &Word,
    list: &GlobList,
    exemptions: bool,
) -> (Certainty, Option<String>) {
    match word {
        Word::Literal(text) => {
            let norm = normalize(text);
            let hit = list.matches_positive(text) || list.matches_positive(&norm);
            let exempt = exemptions && list.is_exempt(&norm) && !escapes(&norm);
            (
                if hit && !exempt {
                    Certainty::Certain
                } else {
                    Certainty::No
                },
                None,
            )
        }
        Word::Dynamic { raw, why } => {
            let bare: String = raw.chars().filter(|c| !matches!(c, '"' | '\'')).collect();
            if list
                .positive
                .iter()
                .any(|g| g.is_universal() || g.is_match(&bare))
            {
                (
                    Certainty::Possible,
                    Some(format!("`{raw}` is only known at run time ({why})")),
                )
            } else {
                (Certainty::No, None)
            }
        }
    }
}

/// The form of a word that exemptions are checked against.
pub(super) fn normalize(word: &str) -> String {
    match word.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+') =>
        {
            // Drop `user:password@` before the host: the host is what follows the last `@`
            // of the authority.
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}{tail}")
        }
        _ => normalize_path(word),
    }
}

pub(super) fn escapes(path: &str) -> bool {
    path == ".." || path.starts_with("../")
}

/// Matches a subcommand pattern against the leading arguments (`**` spans any number);
/// also returns how many words the match consumed.
pub(super) fn sequence_match(
    pattern: &[Option<Glob>],
    words: &[&Word],
) -> (Certainty, Option<String>, usize) {
    sequence_match_from(pattern, words, false)
}

/// `skipped`: words were passed over by `**` to get here. A run-time word found that way is
/// more likely an argument (`gh pr view "$PR"`) than a verb, so it does not match.
pub(super) fn sequence_match_from(
    pattern: &[Option<Glob>],
    words: &[&Word],
    skipped: bool,
) -> (Certainty, Option<String>, usize) {
    match pattern.split_first() {
        None => (Certainty::Certain, None, 0),
        Some((None, rest)) => (0..=words.len())
            .map(|skip| {
                let (c, why, n) = sequence_match_from(rest, &words[skip..], skipped || skip > 0);
                (c, why, n + skip)
            })
            .max_by_key(|m| m.0)
            .unwrap_or((Certainty::No, None, 0)),
        Some((Some(glob), rest)) => {
            let Some((word, tail)) = words.split_first() else {
                return (Certainty::No, None, 0);
            };
            let here = match word {
                Word::Literal(w) if glob.is_match(w) => (Certainty::Certain, None),
                Word::Literal(_) => return (Certainty::No, None, 0),
                Word::Dynamic { .. } if skipped => return (Certainty::No, None, 0),
                Word::Dynamic { raw, .. } => (
                    Certainty::Possible,
                    Some(format!("the subcommand `{raw}` is only known at run time")),
                ),
            };
            let (c, why, n) = sequence_match_from(rest, tail, false);
            if c == Certainty::No {
                return (c, why, 0);
            }
            if here.0 < c {
                (here.0, here.1, n + 1)
            } else {
                (c, why, n + 1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_user_part() {
        assert_eq!(
            normalize("http://localhost:80@evil.example/x"),
            "http://evil.example/x"
        );
        assert_eq!(normalize("https://u:p@h/p?q=a@b"), "https://h/p?q=a@b");
        assert_eq!(normalize("./a/"), "a");
    }

    #[test]
    fn normalizes_paths_lexically() {
        for (input, want) in [
            ("./build/", "build"),
            ("build/../../etc", "../etc"),
            ("/a/./b/../c", "/a/c"),
            ("/..", "/"),
            ("node_modules", "node_modules"),
            (".", "."),
        ] {
            assert_eq!(normalize_path(input), want, "{input}");
        }
    }
}
