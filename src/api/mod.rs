//! The approval service's API, shared by the client and the server: the wire types
//! ([`protocol`]), the route paths ([`routes`]), the signed verdict ([`verdict`]) and the
//! signed checkpoints of the audit chain ([`checkpoint`]), the approver's long-polled list
//! ([`changes`]), the endorsements that carry a pinned key across a rotation ([`keys`]). Nothing here does I/O.

pub mod changes;
pub mod checkpoint;
pub mod cli_login;
pub mod keys;
pub mod protocol;
pub mod routes;
pub mod verdict;
