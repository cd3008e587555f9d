//! Paths that lead to data an earlier command of the same line moved, copied or linked
//! there: after `mv ~/.aws /tmp/a`, `/tmp/a/credentials` is `~/.aws/credentials`; after
//! `ln -s ~/.ssh /tmp/x`, `/tmp/x/id_rsa` is `~/.ssh/id_rsa`. Rules written for the
//! original place hold for the new one.
//!
//! Each destination is read both ways, since whether it existed as a directory is only known
//! at run time: `mv SRC DEST` puts SRC's data at `DEST` or at `DEST/basename(SRC)`.
//! Chains (`mv a b; mv b c`) are followed, newest move first. A destination or source only
//! known at run time adds nothing here (the exemption check in `subject` still refuses to
//! exempt a path under a known destination).

use super::paths::{Forms, Resolver, normalize_path};
use crate::shell::{Word, basename};

/// How many moves of a line are followed, and how many forms they may add: bounds on the
/// work for one word, whatever the line.
const MAX_LINKS: usize = 16;
const MAX_ALIASES: usize = 32;

/// Adds to `forms` the places the data at this path came from. Paths are compared in
/// every form they have (as spelled, and absolute where the host tells the home and the
/// directory), so that the mapping holds on a host that knows nothing too.
pub(super) fn add_origins(resolver: &Resolver<'_>, forms: &mut Forms) {
    let links = &resolver.scope.links;
    if links.is_empty() {
        return;
    }
    let mut reached: Vec<String> = forms.all().map(str::to_owned).collect();
    let mut origins: Vec<String> = Vec::new();
    for link in links.iter().rev().take(MAX_LINKS) {
        let dests = every_form(resolver, &link.to);
        let mut found = Vec::new();
        for (path, dest) in reached
            .iter()
            .flat_map(|p| dests.iter().map(move |d| (p, d)))
        {
            let Some(rest) = below(path, dest) else {
                continue;
            };
            for from in &link.from {
                let Some(value) = resolver.value(from) else {
                    continue;
                };
                let sources = if link.symbolic && !value.starts_with(['/', '~']) {
                    vec![normalize_path(&format!("{}/{value}", parent(dest)))]
                } else {
                    every_form(resolver, from)
                };
                for source in sources {
                    found.push(normalize_path(&format!("{source}{rest}")));
                    // `DEST/NAME/…` when DEST was a directory the source went into.
                    let name = basename(&source);
                    if let Some(inner) = rest
                        .strip_prefix('/')
                        .and_then(|r| r.strip_prefix(name))
                        .filter(|r| r.is_empty() || r.starts_with('/'))
                    {
                        found.push(normalize_path(&format!("{source}{inner}")));
                    }
                }
            }
        }
        for f in found {
            if origins.len() >= MAX_ALIASES {
                break;
            }
            if !reached.contains(&f) {
                reached.push(f.clone());
                origins.push(f);
            }
        }
    }
    for origin in origins {
        if let Some(more) = resolver.forms(&Word::Literal(origin), false) {
            forms.physical.extend(more.all().map(str::to_owned));
        }
    }
}

/// Every form of a word's path (as spelled and absolute), without duplicates.
fn every_form(resolver: &Resolver<'_>, word: &Word) -> Vec<String> {
    let Some(forms) = resolver.forms(word, false) else {
        return Vec::new();
    };
    let mut all: Vec<String> = Vec::new();
    for f in forms.all() {
        if !f.is_empty() && !all.iter().any(|a| a == f) {
            all.push(f.to_owned());
        }
    }
    all
}

/// The rest of `path` at or below `dir` (`""` or `/…`).
fn below<'p>(path: &'p str, dir: &str) -> Option<&'p str> {
    if dir == "/" {
        return path.starts_with('/').then_some(path);
    }
    let rest = path.strip_prefix(dir)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

fn parent(path: &str) -> String {
    match path.rfind('/') {
        Some(0) => "/".into(),
        None => ".".into(),
        Some(i) => path[..i].to_owned(),
    }
}
