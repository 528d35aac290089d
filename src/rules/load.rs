//! Loading and validating a rules directory.
//!
//! [`load_dir`] reads every `*.yaml`/`*.yml` at the top of a directory (sorted
//! by name), parses each into a [`RuleFile`], merges them, validates the
//! result and returns either the [`Rules`] or *every* error found, each with
//! file:line:column. [`check_tree`] does the same for every rule set below a
//! directory (the offline `check` command).

use super::expr::{Expr, Pos, Text};
use super::spec::*;
use super::{Maintenance, Rules, vars};
use crate::money::Dec;
use chrono::{DateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde_saphyr::MessageFormatter;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Largest rule file accepted, in bytes (rule files are small; this stops
/// a huge input before the YAML parser sees it).
const MAX_FILE_BYTES: usize = 1 << 20;
/// Longest PromQL query accepted, in characters: promql-parser builds and
/// drops its syntax tree recursively, and a query thousands of levels deep
/// (`sum(sum(…))`, `------up`) overflowed the stack and aborted the process.
const MAX_QUERY_CHARS: usize = 4096;
/// Most errors reported for one rule set; the rest are counted. A hostile
/// 1 MB file made 140,000 errors (140 MB of messages) and took minutes.
const MAX_ERRORS: usize = 1_000;
/// Work allowed for "did you mean" suggestions in one load, in cells of the
/// edit-distance tables: 1,000 unknown 45-character names against 6,000
/// ids took 6 minutes (unoptimised). Past it, errors come without one.
const SUGGESTION_CELLS: u64 = 20_000_000;
/// What `$__range` stands for when an input query is parsed offline.
const RANGE_FOR_CHECK: &str = "30d";

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
pub fn load_dir(dir: &Path) -> Result<Rules, LoadError> {
    let files = read_rule_files(dir).map_err(|e| LoadError(vec![e]))?;
    load_files(dir, &files)
}

/// Same from in-memory files `(name, content)`, for tests.
pub fn load_files(dir: &Path, files: &[(String, String)]) -> Result<Rules, LoadError> {
    let mut files = files.to_vec();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut errs = Errors {
        dir,
        files: &files,
        list: vec![],
        partial: false,
        dropped: 0,
        line: None,
        suggestions: SUGGESTION_CELLS,
    };
    if files.is_empty() {
        errs.whole("no rule files (*.yaml, *.yml) in this directory");
        return Err(LoadError(errs.list));
    }
    let parsed: Vec<(usize, RuleFile)> = (0..files.len()).filter_map(|i| parse_file(i, &mut errs)).collect();
    let merged = merge(parsed, &mut errs);
    let rules = validate(merged, &mut errs);
    let dropped = errs.dropped;
    let mut list = errs.list;
    match rules {
        Some(mut rules) if list.is_empty() => {
            rules.sha256 = sha256(&files);
            Ok(rules)
        }
        _ => {
            list.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
            list.dedup();
            if dropped > 0 {
                let message = format!("{dropped} more error(s) not shown; at most {MAX_ERRORS} are reported");
                list.push(RuleError { file: dir.to_path_buf(), line: 0, column: 0, message });
            }
            Err(LoadError(list))
        }
    }
}

/// Every rule set under `root`: `root` itself and each subdirectory
/// (recursively, skipping `tests` and hidden directories) with YAML files at
/// its top, sorted by path. Empty if there is none.
pub fn check_tree(root: &Path) -> Vec<(PathBuf, Result<Rules, LoadError>)> {
    let mut dirs = vec![];
    collect_rule_dirs(root, &mut dirs);
    dirs.sort();
    dirs.into_iter()
        .map(|d| {
            let r = load_dir(&d);
            (d, r)
        })
        .collect()
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

// ---------------------------------------------------------------- reading

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
/// [`load_dir`] reads (and what evidence files keep of the rules).
pub fn read_rule_files(dir: &Path) -> Result<Vec<(String, String)>, RuleError> {
    let names = yaml_file_names(dir).map_err(|e| unreadable(dir, e))?;
    names
        .into_iter()
        .map(|name| {
            let text = read_rule_file(&dir.join(&name))?;
            Ok((name, text))
        })
        .collect()
}

fn unreadable(file: &Path, e: std::io::Error) -> RuleError {
    RuleError { file: file.to_path_buf(), line: 0, column: 0, message: format!("cannot read rules: {e}") }
}

/// One rule file as text. Reads at most [`MAX_FILE_BYTES`] + 1 bytes, so a
/// huge file is refused without being read whole; bytes that are not UTF-8
/// are reported at their line and column.
fn read_rule_file(path: &Path) -> Result<String, RuleError> {
    use std::io::Read;
    let mut bytes = vec![];
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| unreadable(path, e))?;
    let at = |line, column, message| RuleError { file: path.to_path_buf(), line, column, message };
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

fn too_large(size: u64) -> String {
    format!("file is {size} bytes; rule files are limited to {MAX_FILE_BYTES}")
}

fn sha256(files: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    for (name, text) in files {
        h.update(name.as_bytes());
        h.update([0u8]);
        h.update(text.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = 200_000;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_recorded_anchor_events = 100_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    options
}

fn parse_file(i: usize, errs: &mut Errors) -> Option<(usize, RuleFile)> {
    let text = &errs.files[i].1;
    if text.len() > MAX_FILE_BYTES {
        errs.at(i, Pos { line: 1, column: 1 }, too_large(text.len() as u64));
        errs.partial = true;
        return None;
    }
    if is_blank(text) {
        errs.at(i, Pos { line: 1, column: 1 }, "empty rule file; a rule file starts with `version: 1`");
        return None;
    }
    match serde_saphyr::from_str_with_options::<RuleFile>(text, yaml_options()) {
        Ok(file) => Some((i, file)),
        Err(e) => {
            let pos = e.location().map_or(Pos { line: 1, column: 1 }, |l| Pos { line: l.line(), column: l.column() });
            // The user-facing wording: the default one gives API advice
            // ("use from_str_multiple", "set DuplicateKeyPolicy in Options").
            let message: String = serde_saphyr::UserMessageFormatter
                .format_message(e.without_snippet())
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let message = if message.starts_with("YAML document too large or too complex") {
                format!("rule file refused, too many aliases or events ({message})")
            } else {
                message
            };
            errs.at(i, pos, message);
            errs.partial = true;
            None
        }
    }
}

/// Nothing but blank lines and comments.
fn is_blank(text: &str) -> bool {
    text.lines().map(str::trim).all(|l| l.is_empty() || l.starts_with('#'))
}

/// Position of a top-level `key:` in a file (for sections, which carry no
/// position of their own); line 1 if not found.
fn key_pos(text: &str, key: &str) -> Pos {
    let line = text
        .lines()
        .position(|l| l.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(':')))
        .map_or(1, |i| i as u64 + 1);
    Pos { line, column: 1 }
}

// ---------------------------------------------------------------- errors

struct Errors<'a> {
    dir: &'a Path,
    files: &'a [(String, String)],
    list: Vec<RuleError>,
    /// Some file did not parse: what it defines is unknown, so missing
    /// sections, dangling references and unknown variables are not reported.
    partial: bool,
    /// Errors not kept, past [`MAX_ERRORS`].
    dropped: usize,
    /// The characters of the line [`Errors::locate`] read last: `(file, line, chars)`.
    line: Option<(usize, u64, Vec<char>)>,
    /// What is left of [`SUGGESTION_CELLS`].
    suggestions: u64,
}

impl Errors<'_> {
    /// No more errors are kept (count them, and skip the work of wording them).
    fn full(&mut self) -> bool {
        let full = self.list.len() >= MAX_ERRORS;
        self.dropped += usize::from(full);
        full
    }

    fn at(&mut self, file: usize, pos: Pos, message: impl Into<String>) {
        if self.full() {
            return;
        }
        self.list.push(RuleError {
            file: self.dir.join(&self.files[file].0),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        });
    }

    /// An error with no place to point at (a missing section).
    fn whole(&mut self, message: impl Into<String>) {
        if self.full() {
            return;
        }
        self.list.push(RuleError { file: self.dir.to_path_buf(), line: 0, column: 0, message: message.into() });
    }

    /// Where `word` (an identifier) is written in the expression at `pos`:
    /// on the same line at or after `pos`, else `pos` itself.
    fn locate(&mut self, file: usize, pos: Pos, word: &str) -> Pos {
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

    fn file_name(&self, file: usize) -> &str {
        &self.files[file].0
    }

    fn text(&self, file: usize) -> &str {
        &self.files[file].1
    }
}

// ---------------------------------------------------------------- merging

/// An item and the index of the file it came from.
struct At<T> {
    file: usize,
    item: T,
}

fn tag<T>(file: usize, items: Vec<T>) -> impl Iterator<Item = At<T>> {
    items.into_iter().map(move |item| At { file, item })
}

#[derive(Default)]
struct Merged {
    programme: Option<At<ProgrammeSpec>>,
    source: Option<At<SourceSpec>>,
    missing_data: Option<At<MissingDataSpec>>,
    maintenance: Vec<At<MaintenanceSpec>>,
    severities: Vec<At<SeveritySpec>>,
    escalation: Vec<At<EscalationLevelSpec>>,
    inputs: Vec<At<InputSpec>>,
    operators: Vec<At<OperatorSpec>>,
    partners: Vec<At<PartnerSpec>>,
    tiers: Vec<At<TierSpec>>,
    partner_tiers: Vec<At<TierSpec>>,
    promotions: Vec<At<PromotionSpec>>,
}

fn merge(parsed: Vec<(usize, RuleFile)>, errs: &mut Errors) -> Merged {
    let mut m = Merged::default();
    for (i, f) in parsed {
        if f.version != 1 {
            let pos = key_pos(errs.text(i), "version");
            errs.at(i, pos, format!("unsupported `version: {}`; only version 1 exists", f.version));
        }
        set_once(&mut m.programme, i, f.programme, "programme", errs);
        set_once(&mut m.source, i, f.source, "source", errs);
        set_once(&mut m.missing_data, i, f.missing_data, "missing_data", errs);
        m.maintenance.extend(tag(i, f.maintenance));
        m.severities.extend(tag(i, f.severities));
        if !f.escalation.is_empty() && !m.escalation.is_empty() {
            let message =
                format!("section `escalation` is already defined in {}", errs.file_name(m.escalation[0].file));
            let pos = key_pos(errs.text(i), "escalation");
            errs.at(i, pos, message);
        } else {
            m.escalation.extend(tag(i, f.escalation));
        }
        m.inputs.extend(tag(i, f.inputs));
        m.operators.extend(tag(i, f.operators));
        m.partners.extend(tag(i, f.partners));
        m.tiers.extend(tag(i, f.tiers));
        m.partner_tiers.extend(tag(i, f.partner_tiers));
        m.promotions.extend(tag(i, f.promotions));
    }
    m
}

/// A section may be defined in one file only.
fn set_once<T>(slot: &mut Option<At<T>>, file: usize, item: Option<T>, key: &str, errs: &mut Errors) {
    let Some(item) = item else { return };
    match slot {
        Some(first) => {
            let message = format!("section `{key}` is already defined in {}", errs.file_name(first.file));
            let pos = key_pos(errs.text(file), key);
            errs.at(file, pos, message);
        }
        None => *slot = Some(At { file, item }),
    }
}

// ---------------------------------------------------------------- validation

fn validate(m: Merged, errs: &mut Errors) -> Option<Rules> {
    check_required(&m, errs);
    check_ids(&m, errs);
    let names = Names::new(&m);
    check_references(&m, &names, errs);
    check_severities(&m, &names, errs);
    check_escalation(&m, &names, errs);
    check_inputs(&m, &names, errs);
    for t in &m.tiers {
        check_tier(t.file, &t.item, false, &names, errs);
    }
    for t in &m.partner_tiers {
        check_tier(t.file, &t.item, true, &names, errs);
    }
    check_promotions(&m, &names, errs);
    if let Some(p) = &m.programme {
        check_programme(p.file, &p.item, errs);
    }
    let source_ok = m.source.as_ref().is_none_or(|s| check_source(s.file, &s.item, errs));
    let time_zone = m.programme.as_ref().and_then(|p| time_zone(p.file, p.item.time_zone.as_ref(), errs));
    let maintenance: Vec<Option<Maintenance>> =
        m.maintenance.iter().map(|w| maintenance(w.file, &w.item, errs)).collect();
    let missing_data = missing_data(m.missing_data, errs);
    let (Some(programme), Some(source), Some(time_zone), Some(maintenance), Some(missing_data), true) = (
        m.programme,
        m.source,
        time_zone,
        maintenance.into_iter().collect::<Option<Vec<_>>>(),
        missing_data,
        source_ok,
    ) else {
        return None;
    };
    Some(Rules {
        dir: errs.dir.to_path_buf(),
        sha256: String::new(),
        programme: programme.item,
        time_zone,
        source: source.item,
        maintenance,
        severities: items(m.severities),
        escalation: items(m.escalation),
        inputs: items(m.inputs),
        missing_data,
        operators: items(m.operators),
        partners: items(m.partners),
        tiers: items(m.tiers),
        partner_tiers: items(m.partner_tiers),
        promotions: items(m.promotions),
    })
}

fn items<T>(v: Vec<At<T>>) -> Vec<T> {
    v.into_iter().map(|a| a.item).collect()
}

fn check_required(m: &Merged, errs: &mut Errors) {
    if errs.partial {
        return;
    }
    if m.programme.is_none() {
        errs.whole("missing section `programme` (name, currency, time_zone, rounding)");
    }
    if m.source.is_none() {
        errs.whole("missing section `source` (at least `up`, the PromQL selector of node availability)");
    }
    if m.severities.is_empty() {
        errs.whole("no `severities`: at least one severity is required");
    }
    if m.tiers.is_empty() {
        errs.whole("no `tiers`: at least one operator tier is required");
    }
}

/// Report every id defined twice among `ids`.
fn check_unique<'a>(kind: &str, ids: impl IntoIterator<Item = (usize, &'a Text)>, errs: &mut Errors) {
    let mut seen: HashMap<&str, (usize, Pos)> = HashMap::new();
    for (file, id) in ids {
        if let Some((f0, p0)) = seen.get(id.value.as_str()) {
            let message = format!("duplicate {kind} `{id}` (first defined at {}:{p0})", errs.file_name(*f0));
            errs.at(file, id.pos, message);
        } else {
            seen.insert(&id.value, (file, id.pos));
        }
    }
}

fn check_ids(m: &Merged, errs: &mut Errors) {
    check_unique("severity id", m.severities.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("escalation level id", m.escalation.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("operator id", m.operators.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("partner id", m.partners.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("tier id", m.tiers.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("partner tier id", m.partner_tiers.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("input name", m.inputs.iter().map(|s| (s.file, &s.item.name)), errs);
    check_unique("maintenance name", m.maintenance.iter().map(|s| (s.file, &s.item.name)), errs);
    for t in m.tiers.iter().chain(&m.partner_tiers) {
        let kind = format!("line id in tier `{}`", t.item.id);
        check_unique(&kind, t.item.lines.iter().map(|l| (t.file, &l.id)), errs);
    }
    check_nodes(m, errs);
}

/// A node belongs to one operator.
fn check_nodes(m: &Merged, errs: &mut Errors) {
    let mut owner: HashMap<&str, (&Text, usize, Pos)> = HashMap::new();
    for At { file, item: o } in &m.operators {
        for node in &o.nodes {
            if let Some((first, f0, p0)) = owner.get(node.value.as_str()) {
                let message = format!(
                    "node `{node}` is already listed under operator `{first}` ({}:{p0}); a node has one operator",
                    errs.file_name(*f0)
                );
                errs.at(*file, node.pos, message);
            } else {
                owner.insert(&node.value, (&o.id, *file, node.pos));
            }
        }
    }
}

/// The names references may point at and expressions may read.
struct Names {
    severities: Vec<String>,
    tiers: Vec<String>,
    partner_tiers: Vec<String>,
    operators: Vec<String>,
    partners: Vec<String>,
    inputs: Vec<String>,
    money_inputs: Vec<String>,
    incident_vars: Vec<String>,
    operator_vars: Vec<String>,
    partner_vars: Vec<String>,
    referral_vars: Vec<String>,
}

fn ids<T>(v: &[At<T>], id: impl Fn(&T) -> &Text) -> Vec<String> {
    v.iter().map(|a| id(&a.item).value.clone()).collect()
}

fn var_names(list: &[(&str, &str)]) -> impl Iterator<Item = String> {
    list.iter().map(|(n, _)| n.to_string())
}

impl Names {
    fn new(m: &Merged) -> Names {
        let inputs = ids(&m.inputs, |i| &i.name);
        let money_inputs =
            m.inputs.iter().filter(|i| i.item.unit == InputUnit::Money).map(|i| i.item.name.value.clone()).collect();
        // `incidents_P0` in the table stands for one variable per severity id.
        let per_severity = m.severities.iter().map(|s| format!("incidents_{}", s.item.id));
        let operator_vars: Vec<String> = var_names(vars::OPERATOR)
            .filter(|n| n != "incidents_P0")
            .chain(per_severity)
            .chain(inputs.iter().cloned())
            .collect();
        let partner_vars: Vec<String> = var_names(vars::PARTNER).chain(inputs.iter().cloned()).collect();
        let mut referral_vars: Vec<String> = partner_vars.iter().chain(&operator_vars).cloned().collect();
        referral_vars.sort();
        referral_vars.dedup();
        Names {
            severities: ids(&m.severities, |s| &s.id),
            tiers: ids(&m.tiers, |t| &t.id),
            partner_tiers: ids(&m.partner_tiers, |t| &t.id),
            operators: ids(&m.operators, |o| &o.id),
            partners: ids(&m.partners, |p| &p.id),
            inputs,
            money_inputs,
            incident_vars: var_names(vars::INCIDENT).collect(),
            operator_vars,
            partner_vars,
            referral_vars,
        }
    }
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// "did you mean `x`?" for a close name, else the nearest valid names;
/// spends `budget` (edit-distance cells), and gives none when it is spent.
fn suggestion(name: &str, valid: &[String], budget: &mut u64) -> String {
    if valid.is_empty() {
        return "none is defined".into();
    }
    let cells: u64 = valid.iter().map(|v| (name.len() as u64 + 1) * (v.len() as u64 + 1)).sum();
    if cells > *budget {
        return format!("{} names are defined (too many unknown names to suggest one)", valid.len());
    }
    *budget -= cells;
    let mut by_distance: Vec<(usize, &String)> = valid.iter().map(|v| (edit_distance(name, v), v)).collect();
    by_distance.sort();
    let (best_distance, best) = by_distance[0];
    if best_distance <= (name.chars().count() / 3).max(2) {
        format!("did you mean `{best}`?")
    } else {
        let nearest: Vec<String> = by_distance.iter().take(5).map(|(_, v)| format!("`{v}`")).collect();
        format!("valid names include {}", nearest.join(", "))
    }
}

/// Check that `name` is one of `valid`.
fn resolve(file: usize, name: &Text, kind: &str, valid: &[String], errs: &mut Errors) {
    if !errs.partial && !valid.contains(&name.value) && !errs.full() {
        let hint = suggestion(name, valid, &mut errs.suggestions);
        errs.at(file, name.pos, format!("unknown {kind} `{name}`; {hint}"));
    }
}

fn check_references(m: &Merged, n: &Names, errs: &mut Errors) {
    for At { file, item: o } in &m.operators {
        resolve(*file, &o.tier, "tier", &n.tiers, errs);
        for mentee in &o.mentees {
            resolve(*file, mentee, "operator (mentee)", &n.operators, errs);
            if mentee.value == o.id.value {
                errs.at(*file, mentee.pos, format!("operator `{}` cannot mentor itself", o.id));
            }
        }
        if let Some(p) = &o.referred_by {
            resolve(*file, p, "partner (referred_by)", &n.partners, errs);
        }
        if let Some(end) = o.end.filter(|end| *end < o.start) {
            errs.at(*file, o.id.pos, format!("operator `{}` ends ({end}) before it starts ({})", o.id, o.start));
        }
    }
    for At { file, item: p } in &m.partners {
        resolve(*file, &p.tier, "partner tier", &n.partner_tiers, errs);
    }
}

/// Compile errors and unknown variables of one expression.
fn check_expr(file: usize, e: &Expr, valid: &[String], errs: &mut Errors) {
    if let Some(message) = e.error() {
        errs.at(file, e.pos, message);
        return;
    }
    if errs.partial {
        return;
    }
    for v in e.unknown_variables(&|v| valid.iter().any(|x| x == v)) {
        if errs.full() {
            continue;
        }
        let pos = errs.locate(file, e.pos, &v);
        let hint = suggestion(&v, valid, &mut errs.suggestions);
        errs.at(file, pos, format!("unknown variable `{v}` in `{}`; {hint}", e.source));
    }
}

/// Currency code and rounding.
fn check_programme(file: usize, p: &ProgrammeSpec, errs: &mut Errors) {
    let pos = key_pos(errs.text(file), "programme");
    if p.currency.len() != 3 || !p.currency.chars().all(|c| c.is_ascii_uppercase()) {
        errs.at(file, pos, format!("`programme.currency` `{}` is not an ISO 4217 code such as `USD`", p.currency));
    }
    if p.rounding.decimals > 10 {
        errs.at(file, pos, format!("`programme.rounding.decimals` is {}; at most 10", p.rounding.decimals));
    }
}

/// Names that become parts of expression variables must be identifiers.
fn check_word(file: usize, name: &Text, what: &str, leading_digit: bool, errs: &mut Errors) {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let ok_first = name.chars().next().is_some_and(|c| leading_digit || !c.is_ascii_digit());
    if !ok_first || !name.chars().all(ok_char) {
        errs.at(file, name.pos, format!("{what} `{name}` must be letters, digits and `_` (it names a variable)"));
    }
}

fn check_severities(m: &Merged, n: &Names, errs: &mut Errors) {
    for At { file, item: s } in &m.severities {
        check_word(*file, &s.id, "severity id", true, errs);
        check_expr(*file, &s.when, &n.incident_vars, errs);
        if s.resolve_within.seconds() <= 0 || s.respond_within.seconds() <= 0 {
            errs.at(
                *file,
                s.id.pos,
                format!("severity `{}`: respond_within and resolve_within must be positive", s.id),
            );
        }
    }
}

/// Escalation levels name known severities.
fn check_escalation(m: &Merged, n: &Names, errs: &mut Errors) {
    for At { file, item: l } in &m.escalation {
        for s in l.severities.iter().flatten() {
            resolve(*file, s, "severity", &n.severities, errs);
        }
    }
}

fn check_inputs(m: &Merged, n: &Names, errs: &mut Errors) {
    let builtin: Vec<String> = n.referral_vars.iter().filter(|v| !n.inputs.contains(v)).cloned().collect();
    for At { file, item: i } in &m.inputs {
        check_word(*file, &i.name, "input name", false, errs);
        if builtin.contains(&i.name.value) {
            errs.at(*file, i.name.pos, format!("input `{}` has the name of a built-in variable; rename it", i.name));
        }
        let query = i.query.value.replace("$__range", RANGE_FOR_CHECK);
        if let Err(e) = parse_promql(&query) {
            errs.at(*file, i.query.pos, format!("input `{}`: {e}", i.name));
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parse PromQL; the error names the query (or its length, if too long).
fn parse_promql(query: &str) -> Result<promql_parser::parser::Expr, String> {
    let length = query.chars().count();
    if length > MAX_QUERY_CHARS {
        return Err(format!("query is {length} characters long; at most {MAX_QUERY_CHARS}"));
    }
    promql_parser::parser::parse(query).map_err(|e| format!("invalid PromQL `{query}`: {}", one_line(&e)))
}

/// `source.up` must be a vector selector, `source.degraded` valid PromQL.
/// Returns whether the section is valid.
fn check_source(file: usize, s: &SourceSpec, errs: &mut Errors) -> bool {
    let mut ok = true;
    match parse_promql(&s.up) {
        Ok(promql_parser::parser::Expr::VectorSelector(_)) => {}
        Ok(_) => {
            ok = false;
            let message =
                format!("`source.up` must be a plain vector selector such as `up{{job=\"fleet\"}}`, not `{}`", s.up);
            errs.at(file, s.up.pos, message);
        }
        Err(e) => {
            ok = false;
            errs.at(file, s.up.pos, format!("`source.up`: {e}"));
        }
    }
    if let Some(d) = &s.degraded
        && let Err(e) = parse_promql(d)
    {
        ok = false;
        errs.at(file, d.pos, format!("`source.degraded`: {e}"));
    }
    if s.step.seconds() <= 0 {
        ok = false;
        errs.at(file, s.up.pos, "`source.step` must be positive");
    }
    // A scrape interval; samples are laid out `step` apart over a month, and
    // a step of 100y overflowed the date arithmetic (`test` panicked).
    if s.step.seconds() > 86_400 {
        ok = false;
        errs.at(file, s.up.pos, format!("`source.step` is {}; at most 1d", s.step));
    }
    ok
}

/// The fields of a line that only some kinds use, and whether each is set.
fn kind_fields(l: &LineSpec) -> [(&'static str, bool); 12] {
    [
        ("amount", l.amount.is_some()),
        ("quantity", l.quantity.is_some()),
        ("over", l.over.is_some()),
        ("above", l.above.is_some()),
        ("step", l.step.is_some()),
        ("max_steps", l.max_steps.is_some()),
        ("of", l.of.is_some()),
        ("percent", l.percent.is_some()),
        ("ratio", l.ratio.is_some()),
        ("factor", l.factor.is_some()),
        ("by", l.by.is_some()),
        ("bands", !l.bands.is_empty()),
    ]
}

/// (required, optional) kind-specific fields of each kind.
fn kind_rule(kind: LineKind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        LineKind::Fixed | LineKind::PerNode => (&["amount"], &[]),
        LineKind::PerUnit => (&["amount", "quantity"], &[]),
        LineKind::Steps => (&["amount", "over", "above", "step"], &["max_steps"]),
        LineKind::Percent => (&["percent", "of"], &["ratio"]),
        LineKind::Multiplier => (&["factor", "of"], &[]),
        LineKind::Band => (&["by", "bands"], &["of"]),
    }
}

fn kind_name(kind: LineKind) -> String {
    serde_json::to_string(&kind).unwrap_or_default().trim_matches('"').to_string()
}

/// Which tier a line is in, for messages and `of.lines`.
struct TierCtx<'a> {
    file: usize,
    tier: &'a TierSpec,
    partner: bool,
}

fn check_tier(file: usize, tier: &TierSpec, partner: bool, n: &Names, errs: &mut Errors) {
    if tier.lines.is_empty() {
        errs.at(file, tier.id.pos, format!("tier `{}` has no lines", tier.id));
    }
    let ctx = TierCtx { file, tier, partner };
    for (index, line) in tier.lines.iter().enumerate() {
        check_line_fields(&ctx, line, errs);
        check_line_values(&ctx, line, errs);
        if let Some(of) = &line.of {
            check_base(&ctx, index, line, of, n, errs);
        }
        let valid = match (partner, line.per_referral) {
            (false, _) => &n.operator_vars,
            (true, false) => &n.partner_vars,
            (true, true) => &n.referral_vars,
        };
        for e in line_exprs(line) {
            check_expr(file, e, valid, errs);
        }
    }
}

fn line_exprs(l: &LineSpec) -> impl Iterator<Item = &Expr> {
    [&l.when, &l.quantity, &l.over, &l.ratio, &l.factor, &l.by].into_iter().flatten()
}

fn check_line_fields(ctx: &TierCtx, l: &LineSpec, errs: &mut Errors) {
    let (required, optional) = kind_rule(l.kind);
    let kind = kind_name(l.kind);
    for (field, set) in kind_fields(l) {
        if required.contains(&field) && !set {
            errs.at(ctx.file, l.id.pos, format!("line `{}` (kind {kind}) needs `{field}`", l.id));
        }
        if set && !required.contains(&field) && !optional.contains(&field) {
            errs.at(ctx.file, l.id.pos, format!("line `{}`: `{field}` does not apply to kind {kind}", l.id));
        }
    }
    if l.per_referral && !ctx.partner {
        errs.at(ctx.file, l.id.pos, format!("line `{}`: `per_referral` applies only to partner tier lines", l.id));
    }
}

fn check_line_values(ctx: &TierCtx, l: &LineSpec, errs: &mut Errors) {
    let positive = |d: Option<Dec>| d.is_none_or(|d| d.0 > Decimal::ZERO);
    if !positive(l.step) {
        errs.at(ctx.file, l.id.pos, format!("line `{}`: `step` must be positive", l.id));
    }
    if let (Some(cap), Some(floor)) = (l.cap, l.floor)
        && floor.0 > cap.0
    {
        errs.at(ctx.file, l.id.pos, format!("line `{}`: `floor` {} is above `cap` {}", l.id, floor.0, cap.0));
    }
    for (i, band) in l.bands.iter().enumerate() {
        let which = format!("line `{}`, band {}", l.id, i + 1);
        if band.amount.is_some() == band.percent.is_some() {
            errs.at(ctx.file, l.id.pos, format!("{which}: give exactly one of `amount` and `percent`"));
        }
        if band.percent.is_some() && l.of.is_none() {
            errs.at(ctx.file, l.id.pos, format!("{which}: a `percent` band needs `of` on the line"));
        }
        if let (Some(from), Some(to)) = (band.from, band.to)
            && from.0 >= to.0
        {
            errs.at(ctx.file, l.id.pos, format!("{which}: `from` {} is not below `to` {}", from.0, to.0));
        }
    }
}

/// `of.lines` must name earlier lines of the same tier, `of.input` a money input.
fn check_base(ctx: &TierCtx, index: usize, l: &LineSpec, of: &BaseSpec, n: &Names, errs: &mut Errors) {
    if of.lines.is_empty() && of.input.is_none() {
        errs.at(ctx.file, l.id.pos, format!("line `{}`: `of` needs `lines` or `input`", l.id));
    }
    let earlier: Vec<String> = ctx.tier.lines[..index].iter().map(|x| x.id.value.clone()).collect();
    for target in &of.lines {
        if earlier.contains(&target.value) {
            continue;
        }
        let message = if ctx.tier.lines.iter().any(|x| x.id.value == target.value) {
            format!(
                "line `{}`: `of.lines` refers to `{target}`, which is not an earlier line of tier `{}`; \
                 a line may only use lines above it",
                l.id, ctx.tier.id
            )
        } else {
            format!(
                "line `{}`: unknown line `{target}` in tier `{}`; {}",
                l.id,
                ctx.tier.id,
                suggestion(target, &earlier, &mut errs.suggestions)
            )
        };
        errs.at(ctx.file, target.pos, message);
    }
    if let Some(input) = &of.input {
        if !n.inputs.contains(&input.value) {
            resolve(ctx.file, input, "input", &n.inputs, errs);
        } else if !n.money_inputs.contains(&input.value) {
            let message =
                format!("line `{}`: input `{input}` is not `unit: money`; only money inputs can be a base", l.id);
            errs.at(ctx.file, input.pos, message);
        }
    }
}

fn check_promotions(m: &Merged, n: &Names, errs: &mut Errors) {
    for At { file, item: p } in &m.promotions {
        resolve(*file, &p.from, "tier", &n.tiers, errs);
        resolve(*file, &p.to, "tier", &n.tiers, errs);
        if p.from.value == p.to.value {
            errs.at(*file, p.to.pos, format!("promotion from `{}` to itself", p.from));
        }
        for c in &p.checks {
            check_expr(*file, &c.when, &n.operator_vars, errs);
        }
    }
}

// ---------------------------------------------------------------- times

/// A time zone name (default UTC); None after reporting a bad one.
fn time_zone(file: usize, tz: Option<&Text>, errs: &mut Errors) -> Option<Tz> {
    let Some(tz) = tz else { return Some(Tz::UTC) };
    let parsed = tz.value.parse::<Tz>();
    if parsed.is_err() {
        let message = format!("unknown time zone `{tz}`; use an IANA name such as `UTC` or `Europe/Berlin`");
        errs.at(file, tz.pos, message);
    }
    parsed.ok()
}

/// A validated maintenance window; None after reporting its errors.
fn maintenance(file: usize, w: &MaintenanceSpec, errs: &mut Errors) -> Option<Maintenance> {
    let weekly = w.weekday.is_some() || w.at.is_some() || w.duration.is_some();
    let once = w.from.is_some() || w.to.is_some();
    match (weekly, once) {
        (true, false) => weekly_window(file, w, errs),
        (false, true) => once_window(file, w, errs),
        _ => {
            let message = format!(
                "maintenance `{}`: give either `weekday`, `at` and `duration` (weekly) or `from` and `to` (once)",
                w.name
            );
            errs.at(file, w.name.pos, message);
            None
        }
    }
}

/// Report a missing field of a maintenance window.
fn need<'a, T>(file: usize, w: &MaintenanceSpec, field: &str, v: &'a Option<T>, errs: &mut Errors) -> Option<&'a T> {
    if v.is_none() {
        errs.at(file, w.name.pos, format!("maintenance `{}` needs `{field}`", w.name));
    }
    v.as_ref()
}

fn weekly_window(file: usize, w: &MaintenanceSpec, errs: &mut Errors) -> Option<Maintenance> {
    let time_zone = time_zone(file, w.time_zone.as_ref(), errs);
    let weekday = need(file, w, "weekday", &w.weekday, errs).and_then(|d| {
        let parsed = d.value.parse::<Weekday>().ok();
        if parsed.is_none() {
            errs.at(file, d.pos, format!("unknown weekday `{d}`; use `monday` … `sunday` or `mon` … `sun`"));
        }
        parsed
    });
    let at = need(file, w, "at", &w.at, errs).and_then(|at| {
        let parsed = NaiveTime::parse_from_str(&at.value, "%H:%M").ok();
        if parsed.is_none() {
            errs.at(file, at.pos, format!("invalid time `{at}`; use `HH:MM`, e.g. `02:00`"));
        }
        parsed
    });
    let duration_seconds = need(file, w, "duration", &w.duration, errs).and_then(|d| {
        let ok = d.seconds() > 0 && d.seconds() <= 7 * 86_400;
        if !ok {
            errs.at(file, w.name.pos, format!("maintenance `{}`: `duration` must be above 0 and at most 7d", w.name));
        }
        ok.then_some(d.seconds())
    });
    Some(Maintenance::Weekly {
        name: w.name.value.clone(),
        weekday: weekday?,
        at: at?,
        duration_seconds: duration_seconds?,
        time_zone: time_zone?,
    })
}

fn rfc3339(file: usize, t: &Text, errs: &mut Errors) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(&t.value).ok().map(|d| d.with_timezone(&Utc));
    if parsed.is_none() {
        errs.at(file, t.pos, format!("invalid time `{t}`; use RFC 3339, e.g. `2026-05-06T22:00:00Z`"));
    }
    parsed
}

fn once_window(file: usize, w: &MaintenanceSpec, errs: &mut Errors) -> Option<Maintenance> {
    if let Some(tz) = &w.time_zone {
        errs.at(file, tz.pos, format!("maintenance `{}`: `time_zone` applies to weekly windows only", w.name));
    }
    let from = need(file, w, "from", &w.from, errs).and_then(|t| rfc3339(file, t, errs));
    let to = need(file, w, "to", &w.to, errs).and_then(|t| rfc3339(file, t, errs));
    let (from, to) = (from?, to?);
    if from >= to {
        let pos = w.to.as_ref().map_or(w.name.pos, |t| t.pos);
        errs.at(file, pos, format!("maintenance `{}`: `to` must be after `from`", w.name));
        return None;
    }
    Some(Maintenance::Once { name: w.name.value.clone(), from, to })
}

/// The missing-data section or its default; None after reporting an error.
fn missing_data(md: Option<At<MissingDataSpec>>, errs: &mut Errors) -> Option<MissingDataSpec> {
    let Some(At { file, item }) = md else {
        return Some(MissingDataSpec { min_coverage: Dec(Decimal::new(9, 1)), policy: MissingDataPolicy::Withhold });
    };
    if item.min_coverage.0 < Decimal::ZERO || item.min_coverage.0 > Decimal::ONE {
        let pos = key_pos(errs.text(file), "missing_data");
        errs.at(
            file,
            pos,
            format!("`missing_data.min_coverage` is {}; it must be between 0 and 1", item.min_coverage.0),
        );
        return None;
    }
    Some(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rules-minimal");

    fn fixture() -> Vec<(String, String)> {
        read_rule_files(Path::new(FIXTURE)).unwrap()
    }

    /// The fixture with the first `from` in file `name` replaced by `to`.
    fn edited(name: &str, from: &str, to: &str) -> Vec<(String, String)> {
        edit(fixture(), name, from, to)
    }

    fn edit(mut files: Vec<(String, String)>, name: &str, from: &str, to: &str) -> Vec<(String, String)> {
        let file = files.iter_mut().find(|f| f.0 == name).unwrap();
        assert!(file.1.contains(from), "`{from}` not in {name}");
        file.1 = file.1.replacen(from, to, 1);
        files
    }

    fn with_file(mut files: Vec<(String, String)>, name: &str, text: &str) -> Vec<(String, String)> {
        files.push((name.into(), text.into()));
        files
    }

    fn errors(files: &[(String, String)]) -> Vec<RuleError> {
        match load_files(Path::new("rules"), files) {
            Ok(_) => panic!("rules loaded without errors"),
            Err(LoadError(list)) => list,
        }
    }

    /// 1-based (line, column) of the first `needle` in file `name`.
    fn pos(files: &[(String, String)], name: &str, needle: &str) -> (u64, u64) {
        let text = &files.iter().find(|f| f.0 == name).unwrap().1;
        let offset = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in {name}"));
        let before = &text[..offset];
        let line = before.matches('\n').count() as u64 + 1;
        let column = (offset - before.rfind('\n').map_or(0, |i| i + 1)) as u64 + 1;
        (line, column)
    }

    /// The one error, checked to be in `name` at `at`, whose message contains every part.
    fn assert_one(errs: &[RuleError], name: &str, at: (u64, u64), parts: &[&str]) {
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_error(&errs[0], name, at, parts);
    }

    fn assert_error(e: &RuleError, name: &str, at: (u64, u64), parts: &[&str]) {
        assert_eq!(e.file, Path::new("rules").join(name), "{e}");
        assert_eq!((e.line, e.column), at, "{e}");
        for part in parts {
            assert!(e.message.contains(part), "`{part}` not in: {e}");
        }
    }

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
    fn an_escalation_level_for_an_unknown_severity_is_reported_at_the_severity() {
        let ladder = "version: 1\nescalation:\n  - id: operator\n    name: Operator\n    after: 0s\n  - id: exec\n    name: Executive\n    after: 1h\n    severities: [P0, P9]\n";
        let files = with_file(fixture(), "escalation.yaml", ladder);
        assert_one(
            &errors(&files),
            "escalation.yaml",
            pos(&files, "escalation.yaml", "P9"),
            &["unknown severity `P9`"],
        );
        let ok = load_files(Path::new("rules"), &with_file(fixture(), "escalation.yaml", &ladder.replace("P9", "P2")))
            .unwrap();
        assert_eq!(ok.escalation.len(), 2);
        assert!(ok.escalation[1].applies_to("P2") && !ok.escalation[1].applies_to("P3"));
        assert!(ok.escalation[0].applies_to("P3"), "a level without severities is for all");
        // A second ladder in another file is refused, as any section defined twice.
        let twice = with_file(with_file(fixture(), "a.yaml", ladder), "b.yaml", ladder);
        let errs = errors(&twice);
        assert!(errs.iter().any(|e| e.message.contains("section `escalation` is already defined in")), "{errs:#?}");
    }

    #[test]
    fn a_misspelt_field_is_reported_at_the_field_with_the_valid_names() {
        let files = edited("pay.yaml", "amount: 500", "amout: 500");
        let errs = errors(&files);
        assert_one(&errs, "pay.yaml", pos(&files, "pay.yaml", "amout"), &["unknown field `amout`", "expected one of"]);
        assert!(errs[0].message.contains(" amount,"), "{}", errs[0]);
    }

    #[test]
    fn a_broken_expression_is_reported_at_the_expression() {
        let files = edited("pay.yaml", "uptime > 0.995", "uptime >> 0.995");
        let errs = errors(&files);
        assert_one(
            &errs,
            "pay.yaml",
            pos(&files, "pay.yaml", "\"uptime >>"),
            &["invalid expression `uptime >> 0.995`"],
        );
    }

    #[test]
    fn an_unknown_variable_is_named_and_the_nearest_valid_name_suggested() {
        let files = edited("pay.yaml", "uptime > 0.995", "uptme > 0.995");
        let errs = errors(&files);
        let at = pos(&files, "pay.yaml", "uptme");
        assert_one(&errs, "pay.yaml", at, &["unknown variable `uptme`", "did you mean `uptime`?"]);
    }

    #[test]
    fn an_incident_variable_is_not_valid_in_a_pay_line_and_inputs_are() {
        let files = edited("pay.yaml", "uptime > 0.995", "nodes_down > 0 && partner_revenue > 1");
        let errs = errors(&files);
        assert_one(&errs, "pay.yaml", pos(&files, "pay.yaml", "nodes_down"), &["unknown variable `nodes_down`"]);
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

    #[test]
    fn a_duplicate_id_is_reported_at_the_second_and_names_the_first() {
        let files = edited("programme.yaml", "id: P2", "id: P0");
        let errs = errors(&files);
        let first = pos(&files, "programme.yaml", "P0");
        let second = pos(&files, "programme.yaml", "P0, name: Single");
        let message = format!("duplicate severity id `P0` (first defined at programme.yaml:{}:{})", first.0, first.1);
        assert_one(&errs, "programme.yaml", second, &[&message]);
    }

    #[test]
    fn a_node_under_two_operators_is_reported_at_the_second_listing() {
        let files = with_file(
            fixture(),
            "roster2.yaml",
            "version: 1\noperators:\n  - {id: bob, name: Bob, tier: tier1, start: 2026-01-01, nodes: [node-001]}\n",
        );
        let errs = errors(&files);
        let at = pos(&files, "roster2.yaml", "node-001");
        assert_one(
            &errs,
            "roster2.yaml",
            at,
            &["node `node-001` is already listed under operator `alice` (roster.yaml:3:"],
        );
    }

    #[test]
    fn a_dangling_tier_reference_is_reported_with_the_nearest_tier() {
        let files = edited("roster.yaml", "tier: tier1", "tier: tier2");
        let errs = errors(&files);
        assert_one(
            &errs,
            "roster.yaml",
            pos(&files, "roster.yaml", "tier2"),
            &["unknown tier `tier2`; did you mean `tier1`?"],
        );
    }

    #[test]
    fn a_percent_base_must_be_a_money_input() {
        let files = edited("programme.yaml", "unit: money", "unit: number");
        let errs = errors(&files);
        let at = pos(&files, "pay.yaml", "partner_revenue");
        assert_one(&errs, "pay.yaml", at, &["input `partner_revenue` is not `unit: money`"]);
    }

    #[test]
    fn bad_promql_in_an_input_query_is_reported_at_the_query() {
        let files = edited("programme.yaml", "[$__range]))", "[$__range])");
        let errs = errors(&files);
        let at = pos(&files, "programme.yaml", "'sum by");
        assert_one(&errs, "programme.yaml", at, &["input `partner_revenue`: invalid PromQL"]);
    }

    /// Regression: `sum(` ten thousand times deep overflowed the stack (a
    /// crash, not an error). At the length limit the deepest shapes parse
    /// and drop in a tokio worker's 2 MiB stack (where `serve` reloads).
    #[test]
    fn deeply_nested_promql_is_refused_or_fits_in_a_small_stack() {
        let deep = "sum(".repeat(10_000) + "up" + &")".repeat(10_000);
        let files =
            edited("programme.yaml", "'sum by (region) (increase(partner_revenue_usd_total[$__range]))'", &deep);
        let at = pos(&files, "programme.yaml", "sum(sum(");
        assert_one(
            &errors(&files),
            "programme.yaml",
            at,
            &["input `partner_revenue`: query is 50002 characters long; at most 4096"],
        );
        let n = MAX_QUERY_CHARS;
        let shapes = [
            "sum(".repeat((n - 2) / 5) + "up" + &")".repeat((n - 2) / 5),
            "-".repeat(n - 2) + "up",
            "(".repeat((n - 2) / 2) + "up" + &")".repeat((n - 2) / 2),
            "up".to_string() + &"+up".repeat((n - 2) / 3),
        ];
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                for q in shapes {
                    assert!(parse_promql(&q).is_ok(), "{}", &q[..20]);
                }
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn source_step_is_at_most_a_day() {
        let files = edited("programme.yaml", "step: 1m", "step: 2d");
        let at = pos(&files, "programme.yaml", "'up{");
        assert_one(&errors(&files), "programme.yaml", at, &["`source.step` is 2d; at most 1d"]);
        assert!(load_files(Path::new("rules"), &edited("programme.yaml", "step: 1m", "step: 1d")).is_ok());
    }

    #[test]
    fn source_up_must_be_a_vector_selector() {
        let files = edited("programme.yaml", r#"'up{job="fleet"}'"#, r#"'sum(up{job="fleet"})'"#);
        let errs = errors(&files);
        let at = pos(&files, "programme.yaml", "'sum(up");
        assert_one(&errs, "programme.yaml", at, &["`source.up` must be a plain vector selector"]);
    }

    #[test]
    fn an_unknown_time_zone_is_reported_at_its_name() {
        let files = edited("programme.yaml", "time_zone: UTC", "time_zone: Europe/Berln");
        let errs = errors(&files);
        assert_one(
            &errs,
            "programme.yaml",
            pos(&files, "programme.yaml", "Europe/Berln"),
            &["unknown time zone `Europe/Berln`"],
        );
    }

    #[test]
    fn of_lines_may_only_refer_to_earlier_lines_of_the_tier() {
        let files = edited(
            "pay.yaml",
            "kind: per_node, amount: 500",
            "kind: percent, percent: 10, of: {lines: [uptime_bonus]}",
        );
        let errs = errors(&files);
        let at = pos(&files, "pay.yaml", "uptime_bonus]");
        assert_one(
            &errs,
            "pay.yaml",
            at,
            &["`of.lines` refers to `uptime_bonus`, which is not an earlier line of tier `tier1`"],
        );
    }

    #[test]
    fn a_line_kind_needs_its_fields_and_rejects_the_others() {
        let files = edited("pay.yaml", "kind: fixed, amount: 200", "kind: per_unit, amount: 200, percent: 3");
        let errs = errors(&files);
        let at = pos(&files, "pay.yaml", "uptime_bonus");
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_error(&errs[0], "pay.yaml", at, &["line `uptime_bonus` (kind per_unit) needs `quantity`"]);
        assert_error(&errs[1], "pay.yaml", at, &["line `uptime_bonus`: `percent` does not apply to kind per_unit"]);
    }

    #[test]
    fn per_referral_is_only_for_partner_tiers() {
        let files = edited("pay.yaml", "prorate: true", "per_referral: true");
        let errs = errors(&files);
        assert_one(
            &errs,
            "pay.yaml",
            pos(&files, "pay.yaml", "base"),
            &["`per_referral` applies only to partner tier lines"],
        );
    }

    #[test]
    fn missing_sections_are_reported_against_the_directory() {
        let files = vec![("pay.yaml".to_string(), "version: 1\n".to_string())];
        let errs = errors(&files);
        assert_eq!(errs.len(), 4, "{errs:#?}");
        assert!(errs.iter().all(|e| e.file == Path::new("rules") && e.line == 0), "{errs:#?}");
        assert!(errs.iter().any(|e| e.message.contains("missing section `programme`")), "{errs:#?}");
    }

    #[test]
    fn a_section_defined_twice_is_reported_in_the_second_file() {
        let files = with_file(fixture(), "zz.yaml", "version: 1\nsource: {up: up}\n");
        let errs = errors(&files);
        assert_one(&errs, "zz.yaml", (2, 1), &["section `source` is already defined in programme.yaml"]);
    }

    #[test]
    fn a_yaml_error_in_one_file_does_not_cause_missing_section_errors() {
        let files = edited("programme.yaml", "version: 1", "version: 1\n  bad: [");
        let errs = errors(&files);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(errs[0].file, Path::new("rules/programme.yaml"));
    }

    #[test]
    fn only_version_1_exists() {
        let files = edited("roster.yaml", "version: 1", "version: 2");
        assert_one(&errors(&files), "roster.yaml", (1, 1), &["unsupported `version: 2`"]);
    }

    #[test]
    fn a_maintenance_window_is_weekly_or_once_and_its_fields_are_checked() {
        let files = edited("programme.yaml", "weekday: sunday", "weekday: sundy, from: 2026-05-01T00:00:00Z");
        let errs = errors(&files);
        assert_one(&errs, "programme.yaml", pos(&files, "programme.yaml", "weekly"), &["give either `weekday`"]);
        let files = edited("programme.yaml", "weekday: sunday", "weekday: sundy");
        assert_one(
            &errors(&files),
            "programme.yaml",
            pos(&files, "programme.yaml", "sundy"),
            &["unknown weekday `sundy`"],
        );
        let once = "{name: move, from: 2026-05-02T00:00:00Z, to: 2026-05-01T00:00:00Z}";
        let files = edited("programme.yaml", r#"{name: weekly, weekday: sunday, at: "02:00", duration: 2h}"#, once);
        let at = pos(&files, "programme.yaml", "2026-05-01T");
        assert_one(&errors(&files), "programme.yaml", at, &["maintenance `move`: `to` must be after `from`"]);
    }

    #[test]
    fn a_short_weekday_name_is_accepted() {
        let rules =
            load_files(Path::new("rules"), &edited("programme.yaml", "weekday: sunday", "weekday: Sun")).unwrap();
        assert!(matches!(rules.maintenance[0], Maintenance::Weekly { weekday: Weekday::Sun, .. }));
    }

    #[test]
    fn min_coverage_must_be_between_0_and_1() {
        let files =
            with_file(fixture(), "zz.yaml", "version: 1\nmissing_data: {min_coverage: 1.5, policy: evaluate}\n");
        assert_one(&errors(&files), "zz.yaml", (2, 1), &["`missing_data.min_coverage` is 1.5"]);
    }

    #[test]
    fn an_empty_file_is_an_error_not_a_parser_message() {
        let files = with_file(fixture(), "zz.yaml", "# nothing yet\n");
        assert_one(&errors(&files), "zz.yaml", (1, 1), &["empty rule file"]);
    }

    #[test]
    fn an_unknown_variable_in_a_block_scalar_points_at_the_expression() {
        let text = "version: 1\npromotions:\n  - from: tier1\n    to: tier1x\n    checks:\n      - name: long\n        when: >-\n          tenure_months >= 6 &&\n          uptim > 0.995\n";
        let files = with_file(fixture(), "zz.yaml", text);
        let errs = errors(&files);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_error(&errs[0], "zz.yaml", pos(&files, "zz.yaml", "tier1x"), &["unknown tier `tier1x`"]);
        assert_error(
            &errs[1],
            "zz.yaml",
            pos(&files, "zz.yaml", "tenure_months"),
            &["unknown variable `uptim`", "`uptime`"],
        );
    }

    #[test]
    fn check_tree_of_a_directory_without_rules_is_empty() {
        assert!(check_tree(&Path::new(FIXTURE).join("no-such-dir")).is_empty());
    }

    #[test]
    fn ids_that_name_variables_must_be_identifiers() {
        let files = edited("programme.yaml", "id: P2", "id: P-2");
        assert_one(
            &errors(&files),
            "programme.yaml",
            pos(&files, "programme.yaml", "P-2"),
            &["severity id `P-2` must be"],
        );
        let files = edited("programme.yaml", "name: partner_revenue", "name: 2rev");
        let errs = errors(&files);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_error(
            &errs[0],
            "pay.yaml",
            pos(&files, "pay.yaml", "partner_revenue"),
            &["unknown input `partner_revenue`"],
        );
        assert_error(&errs[1], "programme.yaml", pos(&files, "programme.yaml", "2rev"), &["input name `2rev` must be"]);
    }

    #[test]
    fn the_currency_must_be_an_iso_code() {
        let files = edited("programme.yaml", "currency: USD", "currency: usd");
        assert_one(&errors(&files), "programme.yaml", (3, 1), &["`programme.currency` `usd` is not an ISO 4217 code"]);
    }

    /// Every line kind, a partner tier, promotions and a one-off window, all valid.
    const EVERY_KIND: &str = r#"version: 1
maintenance:
  - {name: move, from: "2026-05-06T22:00:00Z", to: "2026-05-07T01:00:00+01:00"}
  - {name: change, weekday: wed, at: "22:00", duration: 1h, time_zone: Europe/Berlin}
missing_data: {min_coverage: 0.8, policy: evaluate}
tiers:
  - id: tier2
    name: Senior
    lines:
      - {id: base, name: Base, kind: per_node, amount: 800}
      - {id: mentoring, name: Mentoring, kind: per_unit, amount: 150, quantity: mentees}
      - {id: steps, name: Steps, kind: steps, amount: 200, over: uptime * 100, above: 99.5, step: 0.1, max_steps: 5}
      - {id: rating, name: Rating, kind: multiplier, factor: "min(1.25, 1 + partner_revenue / 1000)", of: {lines: [base]}}
      - {id: sla, name: SLA, kind: band, by: uptime, of: {lines: [base, steps]}, bands: [{to: 0.99, percent: -10}, {from: 0.99, amount: 0}]}
      - {id: churn, name: Churn, kind: fixed, amount: -250, when: "terminated && tenure_months <= 6 && incidents_P2 == 0"}
partner_tiers:
  - id: gold
    name: Gold partner
    lines:
      - {id: referral, name: Referral, kind: fixed, amount: 250, per_referral: true, when: "referrals >= 3 && uptime > 0.99"}
      - {id: share, name: Share, kind: percent, percent: 1, of: {input: partner_revenue}, ratio: retention}
partners:
  - {id: acme, name: Acme, tier: gold, start: 2026-01-01}
operators:
  - {id: bob, name: Bob, tier: tier2, start: 2025-01-01, region: eu, mentees: [alice], referred_by: acme}
promotions:
  - from: tier1
    to: tier2
    checks:
      - {name: tenure, when: "tenure_months >= 6"}
      - {name: majors, when: "major_incidents == 0"}
"#;

    #[test]
    fn every_line_kind_partner_tiers_and_promotions_load_when_valid() {
        let rules = load_files(Path::new("rules"), &with_file(fixture(), "zz.yaml", EVERY_KIND)).unwrap();
        assert_eq!(rules.tiers.len(), 2);
        assert_eq!(rules.partner_tiers[0].lines.len(), 2);
        assert_eq!(rules.missing_data.policy, MissingDataPolicy::Evaluate);
        let once = &rules.maintenance[1];
        let from = Utc.with_ymd_and_hms(2026, 5, 6, 22, 0, 0).unwrap();
        assert_eq!(once, &Maintenance::Once { name: "move".into(), from, to: from + chrono::Duration::hours(2) });
        assert!(matches!(
            rules.maintenance[2],
            Maintenance::Weekly { weekday: Weekday::Wed, time_zone: Tz::Europe__Berlin, .. }
        ));
    }

    #[test]
    fn a_per_referral_line_reads_operator_variables_and_a_plain_partner_line_does_not() {
        let files = with_file(fixture(), "zz.yaml", &EVERY_KIND.replace("ratio: retention", "ratio: uptime"));
        let errs = errors(&files);
        let at = pos(&files, "zz.yaml", "uptime}");
        assert_one(&errs, "zz.yaml", at, &["unknown variable `uptime`"]);
    }

    #[test]
    fn aliases_beyond_the_budget_are_refused() {
        let mut text = String::from(
            "version: 1\noperators:\n  - {id: o0, name: n, tier: tier1, start: 2026-01-01, mentees: &m [o0]}\n",
        );
        for i in 1..1100 {
            text += &format!("  - {{id: o{i}, name: n, tier: tier1, start: 2026-01-01, mentees: *m}}\n");
        }
        let errs = errors(&with_file(fixture(), "zz.yaml", &text));
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(errs[0].message.contains("too many aliases or events"), "{}", errs[0]);
        assert!(errs[0].message.contains("Aliases"), "{}", errs[0]);
    }

    /// Regression: the parser's messages named its API to rule authors.
    #[test]
    fn yaml_errors_are_worded_for_rule_authors() {
        let files = edited("roster.yaml", "name: Alice,", "name: Alice, name: Alicia,");
        let at = pos(&files, "roster.yaml", "name: Alicia");
        assert_one(&errors(&files), "roster.yaml", at, &["duplicate mapping key `name` is not allowed here"]);
        let files = with_file(fixture(), "zz.yaml", "version: 1\n---\nversion: 1\n");
        assert_one(&errors(&files), "zz.yaml", (3, 1), &["only single YAML document expected but multiple found"]);
        let files = edited("roster.yaml", "start: 2026-01-15", "start: 2026-01-15, end: yes");
        let errs = errors(&files);
        assert!(errs.iter().all(|e| !e.message.contains("Options") && !e.message.contains("from_str")), "{errs:#?}");
    }

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

    /// Regression: 1,000 unknown long names against 6,000 long ids spent
    /// six minutes (unoptimised) in "did you mean" edit distances.
    #[test]
    fn suggestions_stop_when_their_budget_is_spent() {
        let id = |i: usize| format!("operator-with-a-rather-long-identifier-{i:06}");
        let mut text = String::from("version: 1\noperators:\n");
        for i in 0..3000 {
            text += &format!("  - {{id: {}, name: O, tier: tier1, start: 2026-01-01}}\n", id(i));
        }
        let unknown: Vec<String> = (0..10).map(|i| id(i).replace("operator", "operatr")).collect();
        text +=
            &format!("  - {{id: zed, name: Z, tier: tier1, start: 2026-01-01, mentees: [{}]}}\n", unknown.join(", "));
        let errs = errors(&with_file(fixture(), "zz.yaml", &text));
        assert_eq!(errs.len(), 10, "{errs:#?}");
        let did_you_mean = format!("did you mean `{}`?", id(0));
        assert!(errs[0].message.ends_with(&did_you_mean), "{}", errs[0]);
        assert!(
            errs[9].message.ends_with("3002 names are defined (too many unknown names to suggest one)"),
            "{}",
            errs[9]
        );
    }

    #[test]
    fn a_huge_file_is_refused_before_parsing() {
        let text = format!("version: 1\n# {}\n", "x".repeat(MAX_FILE_BYTES));
        let errs = errors(&with_file(fixture(), "zz.yaml", &text));
        assert_one(&errs, "zz.yaml", (1, 1), &["rule files are limited to 1048576"]);
        // What a refused file defines is unknown: no missing-section errors.
        assert_one(&errors(&[("zz.yaml".into(), text)]), "zz.yaml", (1, 1), &["rule files are limited"]);
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

    #[test]
    fn a_directory_without_rule_files_is_one_error() {
        let errs = errors(&[]);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!((errs[0].file.as_path(), errs[0].line), (Path::new("rules"), 0));
        assert!(errs[0].message.contains("no rule files"));
    }

    #[test]
    fn check_tree_finds_every_rule_set_but_not_the_rule_tests() {
        let root = std::env::temp_dir().join(format!("fi-check-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let example = root.join("examples").join("one");
        std::fs::create_dir_all(&example).unwrap();
        std::fs::create_dir_all(root.join("tests")).unwrap();
        for (name, text) in fixture() {
            std::fs::write(root.join(&name), &text).unwrap();
            std::fs::write(example.join(&name), text.replace("tier: tier1", "tier: tier9")).unwrap();
        }
        std::fs::write(root.join("tests").join("a.yaml"), "not: rules\n").unwrap();
        let got = check_tree(&root);
        let dirs: Vec<&PathBuf> = got.iter().map(|(d, _)| d).collect();
        assert_eq!(dirs, vec![&root, &example]);
        assert!(got[0].1.is_ok());
        let errs = &got[1].1.as_ref().unwrap_err().0;
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(errs[0].file, example.join("roster.yaml"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
