//! `gatekeep server report`: the audit trail read as evidence for auditors.
