//! Files a download tool saves.

use super::args::option_value;
use crate::shell::{Invocation, Word};

/// Files a download tool saves: `curl -o F`/`--output F`, `curl -O URL` (the URL's last
/// part), `wget -O F`/`--output-document=F`, `wget URL`.
pub fn downloaded_files(inv: &Invocation) -> Vec<String> {
    let Some(program) = inv.program() else {
        return Vec::new();
    };
    let args = &inv.argv[1..];
    let url_name = |w: &Word| {
        w.literal()
            .filter(|s| s.contains("://"))
            .and_then(|s| s.split(['?', '#']).next())
            .and_then(|s| s.rsplit('/').next())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let named =
        |names: &[&str]| option_value(args, names).and_then(|w| w.literal().map(str::to_owned));
    match program {
        "curl" => {
            let mut files: Vec<String> = named(&["-o", "--output"]).into_iter().collect();
            let remote_name = args.iter().any(|a| {
                a.literal().is_some_and(|s| {
                    s == "--remote-name"
                        || s == "--remote-name-all"
                        || (s.starts_with('-') && !s.starts_with("--") && s.contains('O'))
                })
            });
            if remote_name {
                files.extend(args.iter().filter_map(url_name));
            }
            files
        }
        "wget" | "aria2c" | "fetch" => match named(&["-O", "--output-document", "-o", "--out"]) {
            Some(file) => vec![file],
            None => args.iter().filter_map(url_name).collect(),
        },
        "scp" | "rsync" => args
            .last()
            .and_then(Word::literal)
            .map(str::to_owned)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}
