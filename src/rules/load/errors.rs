//! What loading reports, and the collector every stage reports into.
//!
//! A [`RuleError`] names a rule file and a line and column in it, or (line
//! and column 0) a file or the rule set as a whole; a directory that cannot
//! be read at all is shown without a position, and [`DirError`] says why.
//! [`Errors`] keeps the errors of one load, at most [`MAX_ERRORS`], and the
//! budget of "did you mean" suggestions.

use crate::rules::expr::Pos;
use std::path::{Path, PathBuf};

/// Most errors reported for one rule set; the rest are counted. A hostile
/// 1 MB file made 140,000 errors (140 MB of messages) and took minutes.
pub(super) const MAX_ERRORS: usize = 1_000;
/// Work allowed for "did you mean" suggestions in one load, in cells of the
/// edit-distance tables: 1,000 unknown 45-character names against 6,000
/// ids took 6 minutes (unoptimised). Past it, errors come without one.
const SUGGESTION_CELLS: u64 = 20_000_000;

/// One problem found loading rules, shown as `file:line:column: message`,
/// or as the message alone (naming it) for a directory that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The rule file; the rules directory for the rule set as a whole.
    pub file: PathBuf,
    /// 1-based; 0 (with `column`) where there is no place to point at.
    pub line: u64,
    pub column: u64,
    pub message: String,
    /// Set when `file` is a rules directory that cannot be read: why.
    pub dir: Option<DirError>,
}

impl RuleError {
    pub(super) fn at(file: &Path, line: u64, column: u64, message: String) -> RuleError {
        RuleError { file: file.to_path_buf(), line, column, message, dir: None }
    }

    /// `dir` cannot be listed, for the reason `e`.
    pub(super) fn dir(dir: &Path, e: &std::io::Error) -> RuleError {
        let name = dir.display();
        let (why, message) = match e.kind() {
            std::io::ErrorKind::NotFound => {
                (DirError::Missing, format!("rules directory \"{name}\" does not exist (set it with --rules.dir)"))
            }
            std::io::ErrorKind::NotADirectory => (
                DirError::NotADirectory,
                format!("rules directory \"{name}\" is not a directory (set it with --rules.dir)"),
            ),
            _ => (DirError::Unreadable(e.to_string()), format!("cannot read rules directory \"{name}\": {e}")),
        };
        RuleError { file: dir.to_path_buf(), line: 0, column: 0, message, dir: Some(why) }
    }
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.dir {
            Some(_) => f.write_str(&self.message),
            None => write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message),
        }
    }
}

/// Why a rules directory cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirError {
    Missing,
    NotADirectory,
    /// Any other reason, as the system words it.
    Unreadable(String),
}

/// Every error found in a rules directory.
#[derive(Debug, Clone)]
pub struct LoadError(pub Vec<RuleError>);

impl std::error::Error for LoadError {}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            // Nothing was read: there are no errors "in rules" to count.
            [e] if e.dir.is_some() => e.fmt(f),
            list => {
                write!(f, "{} error(s) in rules:", list.len())?;
                list.iter().try_for_each(|e| write!(f, "\n{e}"))
            }
        }
    }
}

/// The errors of one load of the rule files `files` of `dir`.
pub(super) struct Errors<'a> {
    pub(super) dir: &'a Path,
    files: &'a [(String, String)],
    list: Vec<RuleError>,
    /// Some file did not parse: what it defines is unknown, so missing
    /// sections, dangling references and unknown variables are not reported.
    pub(super) partial: bool,
    /// Errors not kept, past [`MAX_ERRORS`].
    dropped: usize,
    /// The characters of the line [`Errors::locate`] read last: `(file, line, chars)`.
    line: Option<(usize, u64, Vec<char>)>,
    /// What is left of [`SUGGESTION_CELLS`].
    pub(super) suggestions: u64,
}

impl<'a> Errors<'a> {
    pub(super) fn new(dir: &'a Path, files: &'a [(String, String)]) -> Errors<'a> {
        Errors { dir, files, list: vec![], partial: false, dropped: 0, line: None, suggestions: SUGGESTION_CELLS }
    }

    /// No more errors are kept (count them, and skip the work of wording them).
    pub(super) fn full(&mut self) -> bool {
        let full = self.list.len() >= MAX_ERRORS;
        self.dropped += usize::from(full);
        full
    }

    pub(super) fn at(&mut self, file: usize, pos: Pos, message: impl Into<String>) {
        if self.full() {
            return;
        }
        self.list.push(RuleError::at(&self.dir.join(&self.files[file].0), pos.line, pos.column, message.into()));
    }

    /// An error with no place to point at (a missing section).
    pub(super) fn whole(&mut self, message: impl Into<String>) {
        if self.full() {
            return;
        }
        self.list.push(RuleError::at(self.dir, 0, 0, message.into()));
    }

    /// Where `word` (an identifier) is written in the expression at `pos`:
    /// on the same line at or after `pos`, else `pos` itself.
    pub(super) fn locate(&mut self, file: usize, pos: Pos, word: &str) -> Pos {
        // Many variables of one long line: read the line once.
        if self.line.as_ref().is_none_or(|(f, l, _)| (*f, *l) != (file, pos.line)) {
            let Some(line) = self.text(file).lines().nth(pos.line.saturating_sub(1) as usize) else { return pos };
            self.line = Some((file, pos.line, line.chars().collect()));
        }
        let chars = &self.line.as_ref().expect("just read").2;
        let word: Vec<char> = word.chars().collect();
        let is_ident = |i: usize| chars.get(i).is_some_and(|c| c.is_alphanumeric() || *c == '_');
        let start = pos.column.saturating_sub(1) as usize;
        (start..chars.len())
            .find(|&i| chars[i..].starts_with(&word) && (i == 0 || !is_ident(i - 1)) && !is_ident(i + word.len()))
            .map_or(pos, |i| Pos { line: pos.line, column: i as u64 + 1 })
    }

    /// How many rule files there are (indexes `0..file_count()`).
    pub(super) fn file_count(&self) -> usize {
        self.files.len()
    }

    pub(super) fn file_name(&self, file: usize) -> &'a str {
        &self.files[file].0
    }

    pub(super) fn text(&self, file: usize) -> &'a str {
        &self.files[file].1
    }

    /// `value` if nothing was reported, else every error: sorted by place,
    /// without repeats, and a last one counting those not kept.
    pub(super) fn finish<T>(self, value: Option<T>) -> Result<T, LoadError> {
        let mut list = self.list;
        match value {
            Some(value) if list.is_empty() => Ok(value),
            _ => {
                list.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
                list.dedup();
                if self.dropped > 0 {
                    let message =
                        format!("{} more error(s) not shown; at most {MAX_ERRORS} are reported", self.dropped);
                    list.push(RuleError::at(self.dir, 0, 0, message));
                }
                Err(LoadError(list))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use std::path::Path;

    /// Regression: a 1 MB file of unknown names made 100,000 errors, each
    /// with a suggestion computed against every name, for 24 s (release),
    /// and one long line of unknown variables was re-read per variable.
    #[test]
    fn at_most_1000_errors_are_reported_and_the_rest_counted() {
        let mentees: Vec<String> = (0..1200).map(|i| format!("m{i}")).collect();
        let text = format!(
            "version: 1\noperators:\n  - {{id: bob, name: Bob, tier: tier1, start: 2026-01-01, mentees: [{}]}}\n",
            mentees.join(", ")
        );
        let errs = errors(&with_file(fixture(), "zz.yaml", &text));
        assert_eq!(errs.len(), 1001);
        assert_eq!(errs[0].column, text.lines().nth(2).unwrap().find("m0,").unwrap() as u64 + 1);
        let last = errs.last().unwrap();
        assert_eq!((last.file.as_path(), last.line), (Path::new("rules"), 0));
        assert_eq!(last.message, "200 more error(s) not shown; at most 1000 are reported");

        let expr: Vec<String> = (0..120).map(|i| format!("v{i}")).collect();
        let when = expr.join(" + ");
        let checks: Vec<String> = (0..10).map(|i| format!("{{name: c{i}, when: \"{when}\"}}")).collect();
        let text = format!("version: 1\npromotions: [{{from: tier1, to: tier2, checks: [{}]}}]\n", checks.join(", "));
        let files = with_file(fixture(), "zz.yaml", &text);
        let errs = errors(&files);
        assert_eq!(errs.len(), 1001, "{:#?}", &errs[..3]);
        assert!(errs[1000].message.starts_with("201 more error(s) not shown"), "{}", errs[1000]);
        // Still located: `v119` of the first check, on the one long line.
        let v119 = errs.iter().find(|e| e.message.starts_with("unknown variable `v119`")).unwrap();
        assert_eq!((v119.line, v119.column), pos(&files, "zz.yaml", "v119"));
    }

    #[test]
    fn errors_in_two_files_are_both_reported_in_file_order() {
        let files = edited("programme.yaml", "resolve_within: 4h", "resolve_witin: 4h");
        let files = edit(files, "pay.yaml", "uptime > 0.995", "uptime >> 0.995");
        let errs = errors(&files);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_error(&errs[0], "pay.yaml", pos(&files, "pay.yaml", "\"uptime >>"), &["uptime >>"]);
        let at = pos(&files, "programme.yaml", "resolve_witin");
        assert_error(&errs[1], "programme.yaml", at, &["unknown field `resolve_witin`"]);
    }
}
