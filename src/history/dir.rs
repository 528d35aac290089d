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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testutil;

    fn statement(label: &str, complete: bool) -> Vec<u8> {
        let p = testutil::period(label);
        let r = testutil::rules("version: 1\nprogramme: {name: P}\n");
        let at = if complete { p.end } else { p.start + chrono::Duration::days(3) };
        let mut f = testutil::facts(&p);
        f.end = at;
        let e = crate::engine::evaluate(&f, &History::default(), &r, &p, at);
        serde_json::to_vec(&serde_json::json!({ "evaluation": e })).unwrap()
    }

    fn write(out: &Path, label: &str, bytes: &[u8]) {
        std::fs::create_dir_all(out.join(label)).unwrap();
        std::fs::write(out.join(label).join(STATEMENT_JSON), bytes).unwrap();
    }

    #[test]
    fn closed_months_are_read_with_their_sha256_and_anything_else_is_an_error() {
        let out = tempfile::tempdir().unwrap();
        let sep = testutil::period("2026-09");
        let august = statement("2026-08", true);
        write(out.path(), "2026-08", &august);
        write(out.path(), "2026-03", &statement("2026-03", true));
        let h = read(out.path(), &sep, 3).unwrap();
        assert_eq!(h.months.keys().collect::<Vec<_>>(), ["2026-08"], "only the 3 months before; July is not closed");
        assert_eq!(h.months["2026-08"].statement_sha256, hex::encode(Sha256::digest(&august)));
        assert_eq!(seen(out.path(), &sep, 3).len(), 1);

        write(out.path(), "2026-07", &august);
        assert!(read(out.path(), &sep, 3).unwrap_err().contains("the statement is for 2026-08, not 2026-07"));
        write(out.path(), "2026-07", &statement("2026-07", false));
        assert!(read(out.path(), &sep, 3).unwrap_err().contains("covers the month only to 2026-07-04"));
        write(out.path(), "2026-07", b"{}");
        assert!(read(out.path(), &sep, 3).unwrap_err().contains("not a statement"));
    }
}
