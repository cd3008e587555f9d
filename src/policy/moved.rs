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

/// Adds to `forms` the places the data at this path came from.
pub(super) fn add_origins(resolver: &Resolver<'_>, forms: &mut Forms) {
    let links = &resolver.scope.links;
    if links.is_empty() {
        return;
    }
    let mut reached: Vec<String> = forms
        .lexical
        .iter()
        .chain(&forms.physical)
        .filter(|f| f.starts_with('/'))
        .cloned()
        .collect();
    let mut origins: Vec<String> = Vec::new();
    for link in links.iter().rev().take(MAX_LINKS) {
        let Some(dest) = absolute(resolver, &link.to) else {
            continue;
        };
        let dest_dir = parent(&dest);
        let mut found = Vec::new();
        for path in &reached {
            let Some(rest) = below(path, &dest) else {
                continue;
            };
            for from in &link.from {
                let Some(value) = resolver.value(from) else {
                    continue;
                };
                let source = if link.symbolic && !value.starts_with(['/', '~']) {
                    normalize_path(&format!("{dest_dir}/{value}"))
                } else {
                    match absolute(resolver, from) {
                        Some(s) => s,
                        None => continue,
                    }
                };
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
            forms.physical.extend(more.lexical);
            forms.physical.extend(more.physical);
        }
    }
}

/// The absolute, lexically normal path a word names, when it is known.
fn absolute(resolver: &Resolver<'_>, word: &Word) -> Option<String> {
    resolver
        .forms(word, false)?
        .lexical
        .into_iter()
        .find(|f| f.starts_with('/'))
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
        Some(0) | None => "/".into(),
        Some(i) => path[..i].to_owned(),
    }
}
