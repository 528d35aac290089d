//! Reading rule files from disk: which files of a directory are rule files,
//! reading each (size limit, UTF-8 checked at its position), the rule sets
//! below a directory, and the SHA-256 that names a rule set.

use super::errors::RuleError;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Largest rule file accepted, in bytes (rule files are small; this stops
/// a huge input before the YAML parser sees it).
pub(super) const MAX_FILE_BYTES: usize = 1 << 20;

/// Every directory under `root` that holds a rule set: `root` itself and each
/// subdirectory (recursively, skipping `tests` and hidden directories) with
/// YAML files at its top, sorted by path.
pub(super) fn rule_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![];
    collect_rule_dirs(root, &mut dirs);
    dirs.sort();
    dirs
}

fn collect_rule_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    if yaml_file_names(dir).is_ok_and(|n| !n.is_empty()) {
        out.push(dir.to_path_buf());
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() && name != "tests" && !name.starts_with('.') {
            collect_rule_dirs(&path, out);
        }
    }
}

fn is_yaml_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

/// Names of the YAML files at the top of `dir`, sorted.
fn yaml_file_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = vec![];
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_yaml_name(&name) && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// The YAML files at the top of `dir` as `(name, text)`, sorted by name: what
/// [`load_dir`](super::load_dir) reads (and what evidence files keep of the rules).
pub fn read_rule_files(dir: &Path) -> Result<Vec<(String, String)>, RuleError> {
    let names = yaml_file_names(dir).map_err(|e| RuleError::dir(dir, &e))?;
    names
        .into_iter()
        .map(|name| {
            let text = read_rule_file(&dir.join(&name))?;
            Ok((name, text))
        })
        .collect()
}

/// One rule file as text. Reads at most [`MAX_FILE_BYTES`] + 1 bytes, so a
/// huge file is refused without being read whole; bytes that are not UTF-8
/// are reported at their line and column.
fn read_rule_file(path: &Path) -> Result<String, RuleError> {
    use std::io::Read;
    let at = |line, column, message| RuleError::at(path, line, column, message);
    let mut bytes = vec![];
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| at(0, 0, format!("cannot read rules: {e}")))?;
    if bytes.len() > MAX_FILE_BYTES {
        let size = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err(at(1, 1, too_large(size)));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let bad = e.as_bytes()[valid.len()];
        // The valid prefix is UTF-8: count lines and characters in it.
        let prefix = std::str::from_utf8(valid).unwrap_or_default();
        let line = prefix.matches('\n').count() as u64 + 1;
        let column = prefix.rsplit('\n').next().unwrap_or_default().chars().count() as u64 + 1;
        at(line, column, format!("invalid UTF-8 (byte 0x{bad:02X}); rule files must be UTF-8 text"))
    })
}

pub(super) fn too_large(size: u64) -> String {
    format!("file is {size} bytes; rule files are limited to {MAX_FILE_BYTES}")
}

/// SHA-256 over the rule files (sorted by name; name and bytes of each).
pub(super) fn sha256(files: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    for (name, text) in files {
        h.update(name.as_bytes());
        h.update([0u8]);
        h.update(text.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{DirError, LoadError, load_dir, load_files};
    use super::*;
    use crate::rules::model::Maintenance;
    use crate::rules::spec::MissingDataPolicy;
    use chrono::Weekday;
    use chrono_tz::Tz;
    use rust_decimal::Decimal;

    #[test]
    fn a_valid_minimal_rule_set_loads_and_its_sha256_is_stable_and_changes_with_one_byte() {
        let rules = load_dir(Path::new(FIXTURE)).unwrap();
        assert_eq!(rules.dir, Path::new(FIXTURE));
        assert_eq!(rules.tiers.len(), 1);
        assert_eq!(rules.severity_ids(), vec!["P0", "P2"]);
        assert_eq!(rules.time_zone, Tz::UTC);
        assert_eq!(rules.missing_data.min_coverage.0, Decimal::new(9, 1));
        assert_eq!(rules.missing_data.policy, MissingDataPolicy::Withhold);
        assert!(matches!(
            rules.maintenance[0],
            Maintenance::Weekly { weekday: Weekday::Sun, duration_seconds: 7200, .. }
        ));
        assert_eq!(rules.sha256.len(), 64);
        let again = load_files(Path::new("elsewhere"), &fixture()).unwrap();
        assert_eq!(again.sha256, rules.sha256, "the hash depends on names and bytes only");
        let changed = load_files(Path::new(FIXTURE), &edited("pay.yaml", "500", "501")).unwrap();
        assert_ne!(changed.sha256, rules.sha256);
    }

    #[test]
    fn a_huge_file_on_disk_is_refused_without_being_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("rules.yaml")).unwrap();
        // Sparse: 4 GiB that cost no disk, and would cost 4 GiB of memory if read.
        file.set_len(4 << 30).unwrap();
        let err = read_rule_files(dir.path()).unwrap_err();
        assert_eq!((err.file, err.line, err.column), (dir.path().join("rules.yaml"), 1, 1));
        assert_eq!(err.message, "file is 4294967296 bytes; rule files are limited to 1048576");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_reported_at_their_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rules.yaml"), b"version: 1\nprogramme: {name: \"Caf\xE9 \xC3\xA9\"}\n")
            .unwrap();
        let err = read_rule_files(dir.path()).unwrap_err();
        assert_eq!((err.line, err.column), (2, 23), "{err}");
        assert_eq!(err.message, "invalid UTF-8 (byte 0xE9); rule files must be UTF-8 text");
        let err = load_dir(dir.path()).unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
    }

    /// Regression: a missing directory was reported as `rules:0:0: cannot
    /// read rules: No such file or directory`, a position it does not have.
    #[test]
    fn a_missing_or_unreadable_directory_is_named_without_a_position() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("rules");
        let err = load_dir(&missing).unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
        assert_eq!(err.0[0].dir, Some(DirError::Missing));
        assert_eq!((err.0[0].file.as_path(), err.0[0].line, err.0[0].column), (missing.as_path(), 0, 0));
        let expected = format!("rules directory \"{}\" does not exist (set it with --rules.dir)", missing.display());
        assert_eq!(err.to_string(), expected);
        assert_eq!(read_rule_files(&missing).unwrap_err().to_string(), expected);

        let file = dir.path().join("rules.yaml");
        std::fs::write(&file, "version: 1\n").unwrap();
        let LoadError(errs) = load_dir(&file).unwrap_err();
        let expected = format!("rules directory \"{}\" is not a directory (set it with --rules.dir)", file.display());
        assert_eq!(errs.iter().map(|e| e.to_string()).collect::<Vec<_>>(), vec![expected]);

        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let err = RuleError::dir(Path::new("rules"), &denied);
        assert_eq!(err.to_string(), "cannot read rules directory \"rules\": permission denied");
    }
}
