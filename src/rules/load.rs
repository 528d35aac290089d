//! Loading and validating a rules directory.
use super::Rules;
use std::path::{Path, PathBuf};

/// One problem in a rule file, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)
    }
}

/// Every error found in a rules directory.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} error(s) in rules:\n{}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct LoadError(pub Vec<RuleError>);

/// Read, merge and validate every `*.yaml` at the top of `dir`.
pub fn load_dir(_dir: &Path) -> Result<Rules, LoadError> {
    todo!()
}

/// Same from in-memory files `(name, content)`, for tests.
pub fn load_files(_dir: &Path, _files: &[(String, String)]) -> Result<Rules, LoadError> {
    todo!()
}
