//! The built-in pack compiles, its index agrees, and only what a command needs is built.

use super::*;

#[test]
fn every_builtin_rule_and_tool_compiles_and_the_index_agrees() {
    for (i, b) in builtin::RULES.iter().enumerate() {
        let spec: RuleSpec = toml::from_str(b.source).unwrap_or_else(|e| panic!("{}: {e}", b.id));
        let generated = builtin::rule_spec(i).unwrap_or_else(|| panic!("{}: not generated", b.id));
        assert_eq!(
            serde_json::to_value(&generated).ok(),
            serde_json::to_value(&spec).ok(),
            "{}",
            b.id
        );
        assert_eq!(spec.id, b.id);
        assert_eq!(spec.program, b.programs, "{}", b.id);
        assert_eq!(
            (
                spec.writes.is_empty(),
                spec.env.is_empty(),
                spec.construct.is_none()
            ),
            (!b.writes, !b.env, !b.construct)
        );
        Rule::compile(spec).unwrap_or_else(|e| panic!("{}: {e}", b.id));
    }
    for (name, source) in builtin::TOOLS {
        let parsed =
            toml::from_str::<ToolSpec>(source).unwrap_or_else(|e| panic!("tool {name}: {e}"));
        let generated =
            builtin::tool_spec(name).unwrap_or_else(|| panic!("tool {name}: not generated"));
        assert_eq!(
            serde_json::to_value(&generated).ok(),
            serde_json::to_value(&parsed).ok(),
            "tool {name}"
        );
    }
    // The static index covers every rule once and is sorted for binary search.
    let mut seen: Vec<usize> = builtin::GLOBBED
        .iter()
        .chain(builtin::ON_WRITES)
        .chain(builtin::ON_ENV)
        .chain(builtin::CONSTRUCTS)
        .copied()
        .collect();
    seen.extend(
        builtin::BY_PROGRAM
            .iter()
            .flat_map(|(_, rules)| rules.iter().copied()),
    );
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen, (0..builtin::RULES.len()).collect::<Vec<_>>());
    assert!(builtin::BY_PROGRAM.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(builtin::TOOLS.windows(2).all(|w| w[0].0 < w[1].0));
    let ids: std::collections::HashSet<_> = builtin::RULES.iter().map(|b| b.id).collect();
    assert_eq!(
        ids.len(),
        builtin::RULES.len(),
        "built-in rule ids are unique"
    );
}

#[test]
fn a_broken_builtin_rule_fails_closed() {
    // Not one of the generated rules, so it cannot be built: it must deny everything.
    let broken = builtin::BuiltinRule {
        id: "x",
        programs: &["rm"],
        first_words: &[],
        writes: false,
        env: false,
        construct: false,
        source: "decision = 3",
    };
    let rule = compile_builtin(&broken);
    assert_eq!(rule.spec.decision, Decision::Deny);
    let script = crate::shell::parse_shell("ls");
    let subject = Subject::new(&script.invocations[0], "ls", None);
    assert_eq!(rule.matches(&subject).0, Certainty::Certain);
}

#[test]
fn only_rules_for_the_programs_in_a_command_are_compiled() {
    let policy = layers::combine(&[]).unwrap();
    policy.evaluate(&crate::shell::parse_shell("ls -la && make"));
    let compiled = policy
        .slots
        .iter()
        .filter(|s| s.rule.get().is_some())
        .count();
    assert_eq!(compiled, 0, "no built-in rule names ls or make");
    policy.evaluate(&crate::shell::parse_shell("kubectl delete ns prod"));
    let compiled = policy
        .slots
        .iter()
        .filter(|s| s.rule.get().is_some())
        .count();
    assert!(compiled > 0 && compiled < 15, "{compiled}");
}
