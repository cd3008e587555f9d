//! Scripts run by name: `npm run S` / `yarn S` / `pnpm S` from `package.json`, and `just R`
//! from a `justfile`.

/// The scripts of a `package.json` that running `name` runs: `preNAME`, `NAME`, `postNAME`
/// (npm runs the hooks; yarn 1 and pnpm with their default settings do too, and reading
/// them when they do not only adds checks). `None` for a name that is only known at run
/// time: then every script is returned. An error when the file is not valid JSON.
pub fn package_scripts(text: &str, name: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("it is not valid JSON ({e})"))?;
    let Some(scripts) = json.get("scripts").and_then(|s| s.as_object()) else {
        return Ok(Vec::new());
    };
    let get = |key: &str| {
        scripts
            .get(key)
            .and_then(|v| v.as_str())
            .map(|v| (key.to_owned(), v.to_owned()))
    };
    Ok(match name {
        Some(name) => [format!("pre{name}"), name.to_owned(), format!("post{name}")]
            .iter()
            .filter_map(|k| get(k))
            .collect(),
        None => scripts
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
            .collect(),
    })
}

/// One recipe of a justfile.
#[derive(Debug, Default)]
struct Recipe {
    name: String,
    deps: Vec<String>,
    lines: Vec<String>,
}

/// The shell text that `just RECIPE...` runs (dependencies first; the first recipe when
/// none is named). `{{...}}` interpolations become a shell variable, only known at run
/// time. A recipe with a shebang line is returned whole, as one script, when it is a
/// shell script; as an error when it is another language. `None` names every recipe.
pub fn just_recipes(text: &str, names: Option<&[String]>) -> Result<Vec<String>, String> {
    let mut recipes: Vec<Recipe> = Vec::new();
    let mut in_recipe = false;
    for line in text.lines() {
        if in_recipe && (line.starts_with(' ') || line.starts_with('\t')) {
            if let Some(r) = recipes.last_mut() {
                r.lines.push(line.trim().to_owned());
            }
            continue;
        }
        in_recipe = false;
        let code = line.trim_end();
        if code.is_empty() || code.starts_with('#') || code.starts_with('[') {
            continue;
        }
        if code.contains(":=") || code.starts_with("set ") || code.starts_with("import ") {
            continue;
        }
        if let Some((head, deps)) = code.split_once(':') {
            let name = head
                .trim_start_matches('@')
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_owned();
            if name.is_empty() || name == "alias" {
                continue;
            }
            recipes.push(Recipe {
                name,
                deps: deps
                    .split_whitespace()
                    .filter(|d| !d.starts_with('&'))
                    .map(|d| d.trim_matches(['(', ')']).to_owned())
                    .collect(),
                lines: Vec::new(),
            });
            in_recipe = true;
        }
    }
    let wanted: Vec<String> = match names {
        Some([]) => recipes
            .first()
            .map(|r| r.name.clone())
            .into_iter()
            .collect(),
        Some(names) => names.to_vec(),
        None => recipes.iter().map(|r| r.name.clone()).collect(),
    };
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for name in &wanted {
        add_recipe(&recipes, name, &mut seen, &mut out, 0)?;
    }
    Ok(out)
}

fn add_recipe(
    recipes: &[Recipe],
    name: &str,
    seen: &mut Vec<String>,
    out: &mut Vec<String>,
    depth: usize,
) -> Result<(), String> {
    if depth > 16 {
        return Err("its recipes depend on each other more than 16 deep".into());
    }
    if seen.iter().any(|s| s == name) {
        return Ok(());
    }
    seen.push(name.to_owned());
    let Some(recipe) = recipes.iter().find(|r| r.name == name) else {
        return Err(format!(
            "it has no recipe `{name}` that gatekeep could read"
        ));
    };
    for dep in &recipe.deps {
        add_recipe(recipes, dep, seen, out, depth + 1)?;
    }
    let interpolate = |l: &str| {
        let mut s = String::new();
        let mut rest = l;
        while let Some(start) = rest.find("{{") {
            s.push_str(&rest[..start]);
            match rest[start..].find("}}") {
                Some(end) => {
                    s.push_str("${__gatekeep_just_value}");
                    rest = &rest[start + end + 2..];
                }
                None => {
                    rest = "";
                    s.push_str("${__gatekeep_just_value}");
                }
            }
        }
        s.push_str(rest);
        s
    };
    match recipe.lines.first() {
        Some(first) if first.starts_with("#!") => {
            let body = recipe.lines.join("\n");
            match super::Lang::of_text(&body) {
                super::Lang::Shell => out.push(interpolate(&body)),
                other => {
                    return Err(format!(
                        "its recipe `{name}` is a {other:?} program, which gatekeep does not read"
                    ));
                }
            }
        }
        _ => {
            for line in &recipe.lines {
                out.push(interpolate(line.trim_start_matches(['@', '-'])));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_scripts_with_hooks() {
        let pkg = r#"{"scripts":{"prelint":"echo pre","lint":"eslint .","test":"jest"}}"#;
        let got = package_scripts(pkg, Some("lint")).unwrap_or_default();
        assert_eq!(
            got,
            [
                ("prelint".to_owned(), "echo pre".to_owned()),
                ("lint".to_owned(), "eslint .".to_owned())
            ]
        );
        assert_eq!(package_scripts(pkg, None).map(|s| s.len()), Ok(3));
        assert!(package_scripts("{", Some("x")).is_err());
    }

    #[test]
    fn just_recipes_with_dependencies() {
        let just = "set shell := [\"bash\", \"-c\"]\nv := \"1\"\n\nbuild: fmt\n    cargo build --release {{v}}\n\nfmt:\n    @cargo fmt\n\n# deploy\ndeploy target:\n    #!/usr/bin/env bash\n    ./deploy.sh {{target}}\n";
        assert_eq!(
            just_recipes(just, Some(&[])).unwrap_or_default(),
            [
                "cargo fmt",
                "cargo build --release ${__gatekeep_just_value}"
            ]
        );
        assert_eq!(
            just_recipes(just, Some(&["deploy".into()])).unwrap_or_default(),
            ["#!/usr/bin/env bash\n./deploy.sh ${__gatekeep_just_value}"]
        );
        assert!(just_recipes(just, Some(&["nope".into()])).is_err());
    }
}
