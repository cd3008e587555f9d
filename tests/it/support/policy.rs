//! Policy layers built in memory, as the layering tests read them: a file's text under the
//! path its layer would have.

use std::path::PathBuf;

use gatekeep::journey::{self, Command};
use gatekeep::policy::layers::{self, PolicyError};
use gatekeep::policy::{Decision, Layer, LayerKind, Policy};

/// A layer of `kind` holding `text`, named where that layer's file lives.
pub fn layer(kind: LayerKind, text: &str) -> (Layer, String) {
    let name = match kind {
        LayerKind::System => "/etc/gatekeep/policy.toml",
        LayerKind::User => "/home/u/.config/gatekeep/policy.toml",
        LayerKind::Project => "/work/repo/.gatekeep.toml",
        LayerKind::Env => "/tmp/env-policy.toml",
        LayerKind::Builtin => unreachable!("the built-in layer is compiled in"),
    };
    (
        Layer {
            kind,
            path: Some(PathBuf::from(name)),
        },
        text.to_owned(),
    )
}

pub fn load(layers: &[(Layer, String)]) -> Result<Policy, PolicyError> {
    layers::combine(layers)
}

/// The decision on `cmd`, with no host (nothing read from disk).
pub fn decide(policy: &Policy, cmd: &str) -> Decision {
    journey::assess(&Command::Shell(cmd.to_owned()), policy).decision
}
