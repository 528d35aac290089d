//! The statement files of a closed month: `statement.json` (the evaluation
//! with the rules' SHA-256 and the engine version, amounts as decimal
//! strings) and `statement.csv` (one row per payee and pay line).

use crate::evaluation::{Evaluation, Statement};
use crate::report;
use serde::{Deserialize, Serialize};

/// The engine that wrote a statement: the crate version.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `statement.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementFile {
    pub engine: String,
    pub engine_version: String,
    pub rules_sha256: String,
    pub evaluation: Evaluation,
}

/// Pretty JSON, trailing newline: the same evaluation gives the same bytes.
pub fn json(e: &Evaluation) -> String {
    let file = StatementFile {
        engine: env!("CARGO_PKG_NAME").to_string(),
        engine_version: ENGINE_VERSION.to_string(),
        rules_sha256: e.rules_sha256.clone(),
        evaluation: e.clone(),
    };
    let mut s = serde_json::to_string_pretty(&file).expect("a statement serializes");
    s.push('\n');
    s
}

/// Read `statement.json` back.
pub fn read(path: &std::path::Path) -> Result<StatementFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not a statement: {e}", path.display()))
}

/// One row per payee and pay line (the `evaluate --format csv` layout).
pub fn csv(e: &Evaluation) -> String {
    report::csv(e)
}

/// The CSV rows of one payee only (header included): what that payee is sent.
pub fn payee_csv(e: &Evaluation, payee: &Statement) -> String {
    let is = |s: &Statement| s.id == payee.id;
    let only = Evaluation {
        operators: e.operators.iter().filter(|s| is(s) && e.operators.contains(payee)).cloned().collect(),
        partners: e.partners.iter().filter(|s| is(s) && e.partners.contains(payee)).cloned().collect(),
        ..e.clone()
    };
    report::csv(&only)
}

/// Every payee: operators then partners, with their kind.
pub fn payees(e: &Evaluation) -> impl Iterator<Item = (&'static str, &Statement)> {
    e.operators.iter().map(|s| ("operator", s)).chain(e.partners.iter().map(|s| ("partner", s)))
}
