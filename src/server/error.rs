//! How the service refuses a call: one error type for the service's rules and its limits,
//! each kind mapped to an HTTP status by `http`.

use super::store::StoreError;

/// Why a call was refused; each maps to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// Over a limit of [`super::limits::Limits`] or the field sizes: 429, or 413 for sizes.
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    TooLarge(String),
    /// The approval needs a fresher sign-in at the identity provider (`fresh_auth`): 401.
    #[error("{0}")]
    StepUp(super::step_up::StepUp),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug: the service could not do what it must (sign a verdict). Nothing was changed.
    #[error("{0}")]
    Internal(String),
}
