//! The approval stage: asking a person. Only commands that need approval come here; the
//! allowed-command path never loads it.

pub mod prompt;
