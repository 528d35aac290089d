//! Reading history from a directory of closed months (`close --out`):
//! `OUT/<YYYY-MM>/statement.json` for each month a period may read. A month
//! without a statement is simply not in the history (the lines that need it
//! say so); a statement that cannot be read, or that is not what a close
//! writes (another month, a month to date), is an error: never guessed.

use super::History;
use crate::evaluation::Evaluation;
use crate::period::Period;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The statement file of a closed month (the part history needs).
#[derive(Deserialize)]
struct StatementFile {
    evaluation: Evaluation,
}

/// The file name a close writes a month's statement to.
pub const STATEMENT_JSON: &str = "statement.json";

/// The closed months among the `months` before `period` in `out`.
pub fn read(out: &Path, period: &Period, months: u32) -> Result<History, String> {
    let mut history = History::default();
    for label in super::months_before(period.year, period.month, months) {
        let path = out.join(&label).join(STATEMENT_JSON);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("reading closed month {}: {e}", path.display())),
        };
        let file: StatementFile = serde_json::from_slice(&bytes)
            .map_err(|e| format!("closed month {}: not a statement: {e}", path.display()))?;
        let e = &file.evaluation;
        if e.period != label {
            return Err(format!("closed month {}: the statement is for {}, not {label}", path.display(), e.period));
        }
        if !e.complete {
            return Err(format!(
                "closed month {}: the statement covers the month only to {}, a close covers all of it",
                path.display(),
                e.window_end.to_rfc3339()
            ));
        }
        history.add_statement(&hex::encode(Sha256::digest(&bytes)), e);
    }
    Ok(history)
}

/// A closed month's statement as seen on disk: month, size and modification time.
pub type Seen = (String, u64, Option<std::time::SystemTime>);

/// What [`read`] would read, cheaply: to tell whether the history changed.
pub fn seen(out: &Path, period: &Period, months: u32) -> Vec<Seen> {
    super::months_before(period.year, period.month, months)
        .into_iter()
        .filter_map(|label| {
            let meta = std::fs::metadata(out.join(&label).join(STATEMENT_JSON)).ok()?;
            Some((label, meta.len(), meta.modified().ok()))
        })
        .collect()
}
