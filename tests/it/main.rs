//! The integration tests: one binary, one module per area, so the crate is linked once.
//!
//! Each module drives the real `gatekeep` binary (or the library) the way its area is used:
//! real SQLite and a real approval server on loopback, real bash/zsh/fish, a real
//! pseudo-terminal, real TLS. `support` holds what several of them share.
//!
//! One test binary stays apart: `tests/credentials.rs`, whose scenarios run in child
//! processes of the test binary itself (they change the environment, which a multi-threaded
//! test process must not do), re-run with `--exact child_mode`.

mod support;

mod agents;
mod anchor;
mod assets;
mod channels;
mod checkpoints;
mod cli;
mod connections;
mod corpus;
mod database;
mod doctor;
mod exec;
mod fuzz;
mod fuzz_corpus;
mod keys;
mod layers;
mod ledger;
mod oidc;
mod oidc_cli;
mod protected;
mod quoting;
mod r3_lists;
mod r3_matching;
mod r3_runtime;
mod r3_scripts;
mod render;
mod server_config;
mod service;
mod sessions;
mod shell;
mod shell_init;
mod tls;
mod watch;
mod web;
