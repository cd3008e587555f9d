//! `gatekeep server`: the approval service. Requests from agents wait here until people who
//! are not their requesters approve or deny them; every final state is signed.
//!
//! Nothing in this module is reachable from `gatekeep exec`'s allowed path: tokio, axum,
//! sqlx and the tracing subscriber are only started by `gatekeep server` itself.

pub mod audit;
pub mod report;
