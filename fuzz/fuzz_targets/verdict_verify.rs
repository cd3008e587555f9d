#![no_main]
// The seed writers in checks.rs are used only by the replay test.
#![allow(dead_code)]
//! Fuzz target: see `verdict_verify` in `fuzz/checks.rs` for the input format and the invariants.

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::verdict_verify(data));
