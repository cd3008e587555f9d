//! An isolated machine for one test: everything gatekeep reads from its environment points
//! into a temporary home, so no test touches the real user's files, keyring or ledger.

use std::path::Path;
use std::process::{Command, Stdio};

/// Gives `cmd` the environment of a machine rooted at `home`: nothing inherited but `PATH`;
/// `HOME` and the XDG config, state and data directories under `home`; `USER` when given;
/// the OS keyring off (tests that want it turn it back on); run in `home` with stdin closed.
pub fn isolate<'c>(cmd: &'c mut Command, home: &Path, user: Option<&str>) -> &'c mut Command {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("GATEKEEP_KEYRING", "off")
        .current_dir(home)
        .stdin(Stdio::null());
    if let Some(user) = user {
        cmd.env("USER", user);
    }
    cmd
}
