//! Where the approval-service tokens are kept: the OS keyring, or a 0600 file.
//! (Placeholder while the real module is written.)
use std::path::PathBuf;
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Requester,
    Approver,
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    Keyring,
    File(PathBuf),
}
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("x")]
    X,
}
pub fn store(_server: &str, _kind: TokenKind, _token: &str) -> Result<Stored, CredentialError> {
    Err(CredentialError::X)
}
pub fn load(_server: &str, _kind: TokenKind) -> Result<Option<String>, CredentialError> {
    Ok(None)
}
pub fn remove(_server: &str, _kind: TokenKind) -> Result<bool, CredentialError> {
    Ok(false)
}
