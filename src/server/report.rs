//! `gatekeep server report`: the audit trail read as evidence for auditors.
// PLACEHOLDER until the helper's version lands.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ReportFormat {
    Md,
    Html,
    Csv,
}
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct ReportError;
pub fn report(
    _events: &[super::audit::Event],
    _from: Option<&str>,
    _to: Option<&str>,
    _format: ReportFormat,
) -> Result<String, ReportError> {
    Ok(String::new())
}
