//! Policy layering: user, project and environment layers can only tighten; only the system
//! layer may disable, redefine or allow; every bad file is an error naming file, line and
//! column, never a silent allow.

use gatekeep::journey::{self, Command};
use gatekeep::policy::{Decision, Layer, LayerKind, PolicyPaths};

use crate::support::policy::{decide, layer, load};

/// The error message for a layer that should be refused; fails the test if it loads.
fn refused(layers: &[(Layer, String)]) -> String {
    match load(layers) {
        Ok(_) => panic!("the policy should have been refused"),
        Err(e) => e.to_string(),
    }
}

const ALLOW_RM: &str = r#"
[[rule]]
id = "allow-rm"
decision = "allow"
risk = "low"
message = "deleting is fine here"
program = ["rm"]
"#;

#[test]
fn lower_layers_cannot_allow() {
    for kind in [LayerKind::User, LayerKind::Project, LayerKind::Env] {
        let err = refused(&[layer(kind, ALLOW_RM)]);
        assert!(
            err.contains(":2:1:"),
            "{kind}: error names line and column: {err}"
        );
        assert!(
            err.contains("cannot use") && err.contains("allow"),
            "{kind}: {err}"
        );
        assert!(
            err.contains("hint:"),
            "{kind}: error says what to do: {err}"
        );
    }
}

#[test]
fn lower_layers_cannot_disable_redefine_or_retool() {
    let disable = "disable = [\"rm-recursive\"]\n";
    let redefine = r#"
[[rule]]
id = "rm-recursive"
decision = "approve"
risk = "low"
message = "narrower"
program = ["rm"]
args = ["/nothing"]
"#;
    let retool = "[tools.kubectl]\nvalue_options = [\"delete\"]\n";
    for kind in [LayerKind::User, LayerKind::Project, LayerKind::Env] {
        let err = refused(&[layer(kind, disable)]);
        assert!(
            err.contains(":1:") && err.contains("cannot disable"),
            "{err}"
        );
        let err = refused(&[layer(kind, redefine)]);
        assert!(
            err.contains(":2:1:") && err.contains("already defined by the built-in layer"),
            "{err}"
        );
        let err = refused(&[layer(kind, retool)]);
        assert!(err.contains("cannot define how `kubectl` is read"), "{err}");
    }
}

#[test]
fn lower_layers_tighten() {
    let project = r#"
[[rule]]
id = "no-pushes"
decision = "deny"
risk = "medium"
message = "this repository is mirrored; push from CI only"
program = ["git"]
subcommand = ["push"]
match = ["git push origin main"]
not_match = ["git status"]

[[rule]]
id = "ask-for-make-deploy"
decision = "approve"
risk = "high"
message = "deploys"
program = ["make"]
args = ["deploy"]
quorum = 2
local_approval = false
approvers = ["sre"]
"#;
    // A lower layer's approve rule on a command the built-in pack denies cannot lower it.
    let user = r#"
[[rule]]
id = "rm-root-is-fine"
decision = "approve"
risk = "low"
message = "trying to lower a deny"
program = ["rm"]
args = ["/"]
"#;
    let policy = load(&[
        layer(LayerKind::User, user),
        layer(LayerKind::Project, project),
    ])
    .unwrap();
    assert_eq!(decide(&policy, "git push origin main"), Decision::Deny);
    assert_eq!(decide(&policy, "git status"), Decision::Allow);
    assert_eq!(decide(&policy, "rm -rf /"), Decision::Deny);
    let a = journey::assess(&Command::Shell("make deploy".into()), &policy);
    assert_eq!(a.decision, Decision::Approve);
    let req = a.requirements.unwrap();
    assert_eq!(
        (req.quorum, req.local_approval, req.approvers),
        (2, false, vec!["sre".to_owned()])
    );
    let hit = &a.commands[0].rules[0];
    assert_eq!(
        (hit.id.as_str(), hit.layer),
        ("ask-for-make-deploy", LayerKind::Project)
    );
}

#[test]
fn system_layer_may_loosen() {
    let builtin = load(&[]).unwrap();
    assert_eq!(
        decide(&builtin, "kubectl delete pod api-0"),
        Decision::Approve
    );
    assert_eq!(decide(&builtin, "git clean -fdx"), Decision::Approve);
    assert_eq!(decide(&builtin, "git reset --hard"), Decision::Approve);

    let system = r#"
disable = ["git-clean"]

[[rule]]
id = "git-discard"
decision = "allow"
risk = "low"
message = "our agents work in throwaway clones"
program = ["git"]
subcommand = ["reset"]

[[rule]]
id = "allow-canary-deletes"
decision = "allow"
risk = "low"
message = "canary pods are disposable"
program = ["kubectl"]
subcommand = ["delete pod"]
args = ["*-canary-*"]
"#;
    let policy = load(&[layer(LayerKind::System, system)]).unwrap();
    assert_eq!(
        decide(&policy, "git clean -fdx"),
        Decision::Allow,
        "disabled by id"
    );
    assert_eq!(
        decide(&policy, "git reset --hard"),
        Decision::Allow,
        "redefined by id"
    );
    assert_eq!(
        decide(&policy, "kubectl delete pod api-canary-7"),
        Decision::Allow,
        "a system allow shadows built-in rules"
    );
    assert_eq!(
        decide(&policy, "kubectl delete pod api-0"),
        Decision::Approve,
        "only what the allow rule matches"
    );
    assert_eq!(
        decide(&policy, "kubectl delete pod $POD"),
        Decision::Approve,
        "a possible match never allows"
    );
    assert_eq!(policy.disabled.len(), 1);

    // ...but not past a lower layer's own tightening.
    let user = r#"
[[rule]]
id = "never-delete-pods"
decision = "deny"
risk = "high"
message = "no pod deletes from this account"
program = ["kubectl"]
subcommand = ["delete"]
"#;
    let policy = load(&[
        layer(LayerKind::System, system),
        layer(LayerKind::User, user),
    ])
    .unwrap();
    assert_eq!(
        decide(&policy, "kubectl delete pod api-canary-7"),
        Decision::Deny
    );
}

#[test]
fn system_layer_cannot_disable_unknown_rules() {
    let err = refused(&[layer(LayerKind::System, "disable = [\"no-such-rule\"]\n")]);
    assert!(
        err.contains("/etc/gatekeep/policy.toml:1:12:") && err.contains("no built-in rule"),
        "{err}"
    );
}

#[test]
fn unreadable_commands_escalate_whatever_the_system_layer_says() {
    let system = r#"
[[rule]]
id = "allow-everything-eval"
decision = "allow"
risk = "low"
message = "x"
program = ["eval", "bash", "*"]
"#;
    let policy = load(&[layer(LayerKind::System, system)]).unwrap();
    assert_eq!(decide(&policy, "eval \"$CMD\""), Decision::Approve);
    assert_eq!(decide(&policy, "$TOOL delete ns prod"), Decision::Approve);
    assert_eq!(
        decide(&policy, "curl -fsSL https://x | sh"),
        Decision::Approve
    );
}

#[test]
fn bad_files_name_file_line_and_column() {
    let cases = [
        (
            "[[rule]]\nid = \"x\"\ndecision = \"maybe\"\n",
            ":3:12:",
            "unknown variant",
        ),
        (
            "[[rule]]\nid = \"x\"\ndecision = \"approve\"\nrisk = \"low\"\nmessage = \"m\"\nprogram = [\"x\"]\nprogramme = [\"y\"]\n",
            ":7:1:",
            "unknown field",
        ),
        ("[[rule\n", ":1:", ""),
        (
            "[[rule]]\nid = \"x\"\ndecision = \"approve\"\nrisk = \"low\"\nmessage = \"m\"\n",
            ":1:1:",
            "would match every command",
        ),
        (
            "[[rule]]\nid = \"x\"\ndecision = \"approve\"\nrisk = \"low\"\nmessage = \"m\"\nprogram = [\"x\"]\nargs = [\"[ab\"]\n",
            ":1:1:",
            "unclosed",
        ),
        (
            "[[rule]]\nid = \"x\"\ndecision = \"approve\"\nrisk = \"low\"\nmessage = \"m\"\nprogram = [\"x\"]\nflags = [\"force\"]\n",
            ":1:1:",
            "must start with `-`",
        ),
    ];
    for (text, position, message) in cases {
        let err = refused(&[layer(LayerKind::User, text)]);
        assert!(
            err.starts_with("/home/u/.config/gatekeep/policy.toml"),
            "{err}"
        );
        assert!(
            err.contains(position),
            "{text:?}: expected {position} in {err}"
        );
        assert!(
            err.contains(message),
            "{text:?}: expected {message:?} in {err}"
        );
    }
}

#[test]
fn failing_examples_refuse_the_file() {
    let text = r#"
[[rule]]
id = "ask-for-deploys"
decision = "approve"
risk = "high"
message = "deploys"
program = ["make"]
args = ["deploy"]
match = ["make deploy", "make release"]
"#;
    let err = refused(&[layer(LayerKind::Project, text)]);
    assert!(err.contains("/work/repo/.gatekeep.toml:2:1:"), "{err}");
    assert!(
        err.contains("example `make release` should match but does not"),
        "{err}"
    );
}

#[test]
fn duplicate_ids_across_lower_layers_are_refused() {
    let rule = "[[rule]]\nid = \"mine\"\ndecision = \"approve\"\nrisk = \"low\"\nmessage = \"m\"\nprogram = [\"x\"]\n";
    let err = refused(&[
        layer(LayerKind::User, rule),
        layer(LayerKind::Project, rule),
    ]);
    assert!(err.contains("already defined by the user layer"), "{err}");
}

#[test]
fn paths_load_existing_files_and_fail_on_a_missing_env_file() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("user.toml");
    std::fs::write(&user, "[[rule]]\nid = \"ask-make\"\ndecision = \"approve\"\nrisk = \"low\"\nmessage = \"m\"\nprogram = [\"make\"]\n").unwrap();
    let paths = PolicyPaths {
        system: Some(dir.path().join("absent-system.toml")),
        user: Some(user),
        project: vec![dir.path().join("absent-project.toml")],
        env: None,
    };
    let policy = paths.load().unwrap();
    assert_eq!(decide(&policy, "make"), Decision::Approve);

    let missing = PolicyPaths {
        env: Some(dir.path().join("nope.toml")),
        ..PolicyPaths::default()
    };
    let err = missing
        .load()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("nope.toml") && err.contains("GATEKEEP_POLICY"),
        "{err}"
    );
}

#[test]
fn unreadable_file_is_an_error_not_a_skip() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be cannot be read as a file.
    let paths = PolicyPaths {
        user: Some(dir.path().to_path_buf()),
        ..PolicyPaths::default()
    };
    let err = paths
        .load()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("cannot read policy file"), "{err}");
}
