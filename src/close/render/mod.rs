//! The documents of a closed month that people read, rendered from template
//! files a finance user can edit (minijinja, Jinja2 syntax):
//!
//! | template | renders | context |
//! |---|---|---|
//! | `statement.html.j2` | `statements/<payee-id>.html`, one per payee | [`payee`] |
//! | `partner-report.md.j2` | `partners/<partner-id>.md`, one per partner | [`partner`] |
//! | `programme-report.md.j2` | `programme-report.md`, for finance | [`programme`] |
//!
//! The defaults are the files in the repository's `templates/`, built into
//! the binary; `close --templates.dir DIR` replaces any of them by the file
//! of the same name in `DIR` (the others stay the defaults). Contexts are
//! the evaluation's own types through serde ([`crate::evaluation`]), so a
//! field added to them later is shown by editing a template, plus what the
//! rules add (tier names, targets). HTML templates escape every value
//! (names and ids come from the rules, node and region names from
//! Prometheus labels); Markdown templates escape what would break a table
//! or start a link or an HTML tag ([`filters`]).
//!
//! - this file: loading (every template compiled up front: a broken one is
//!   an error naming its file and line before Prometheus is read), rendering,
//!   file names for payee ids.
//! - [`filters`]: the environment: escaping, the filters templates use.
//! - [`payee`], [`partner`], [`programme`]: the three contexts;
//!   [`roster`]: the operators on the roster in a period; [`targets`]: the
//!   programme's targets (rules section `targets:`) and whether they are met.

pub mod filters;
pub mod partner;
pub mod payee;
pub mod programme;
pub mod roster;
pub mod targets;

use crate::close::statement;
use crate::evaluation::Evaluation;
use crate::rules::Rules;
use minijinja::Environment;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The per-payee HTML statement.
pub const STATEMENT_HTML: &str = "statement.html.j2";
/// The report each partner gets.
pub const PARTNER_REPORT_MD: &str = "partner-report.md.j2";
/// The programme-wide report, for finance.
pub const PROGRAMME_REPORT_MD: &str = "programme-report.md.j2";

/// The built-in templates: `(name, source)`, the files in `templates/`.
pub const DEFAULTS: [(&str, &str); 3] = [
    (STATEMENT_HTML, include_str!("../../../templates/statement.html.j2")),
    (PARTNER_REPORT_MD, include_str!("../../../templates/partner-report.md.j2")),
    (PROGRAMME_REPORT_MD, include_str!("../../../templates/programme-report.md.j2")),
];

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The programme report's file in a closed month's directory.
pub const PROGRAMME_REPORT_FILE: &str = "programme-report.md";
/// The directory of the payees' HTML statements.
pub const STATEMENTS_DIR: &str = "statements";
/// The directory of the partners' reports.
pub const PARTNERS_DIR: &str = "partners";

/// Payee `id`'s HTML statement, relative to the closed month's directory.
pub fn statement_path(id: &str) -> String {
    format!("{STATEMENTS_DIR}/{}.html", file_stem(id))
}

/// Partner `id`'s report, relative to the closed month's directory.
pub fn partner_report_path(id: &str) -> String {
    format!("{PARTNERS_DIR}/{}.md", file_stem(id))
}

/// Two payees of the roster whose statements would be one file (an
/// operator and a partner with one id): refused before a month is read.
pub fn check_file_names(rules: &Rules) -> Result<(), Error> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let operators = rules.operators.iter().map(|o| ("operator", &o.id.value));
    for (kind, id) in operators.chain(rules.partners.iter().map(|p| ("partner", &p.id.value))) {
        let path = statement_path(id);
        if let Some(other) = seen.insert(path.clone(), format!("{kind} `{id}`")) {
            return Err(
                format!("{other} and {kind} `{id}` would both have the statement {path}: give one another id").into()
            );
        }
    }
    Ok(())
}

/// The documents of an evaluated month, `(path relative to its directory,
/// text)`: the programme report, each payee's HTML statement (operators,
/// then partners), each partner's report.
pub fn documents(e: &Evaluation, rules: &Rules, t: &Templates) -> Result<Vec<(String, String)>, Error> {
    let evaluation = minijinja::Value::from(minijinja::value::Serde(e));
    let rendering = |path: &str, r: Result<String, Error>| r.map_err(|err| format!("rendering {path}: {err}"));
    let mut out = vec![];
    let report = t.render(PROGRAMME_REPORT_MD, programme::context(e, rules));
    out.push((PROGRAMME_REPORT_FILE.to_string(), rendering(PROGRAMME_REPORT_FILE, report)?));
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (kind, s) in statement::payees(e) {
        let path = statement_path(&s.id);
        if let Some(other) = seen.insert(path.clone(), format!("{kind} `{}`", s.id)) {
            return Err(format!(
                "{other} and {kind} `{}` would both have the statement {path}: give one another id",
                s.id
            )
            .into());
        }
        let html = t.render(STATEMENT_HTML, payee::context(e, rules, &evaluation, kind, s));
        out.push((path.clone(), rendering(&path, html)?));
    }
    for p in &e.partners {
        let path = partner_report_path(&p.id);
        let md = t.render(PARTNER_REPORT_MD, partner::context(e, rules, &evaluation, p));
        out.push((path.clone(), rendering(&path, md)?));
    }
    Ok(out)
}

/// `--templates.dir`, shared by the commands that render documents.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TemplatesArgs {
    /// Directory of templates replacing the built-in ones (statement.html.j2,
    /// partner-report.md.j2, programme-report.md.j2; any of them; files named
    /// `_*.j2` may be included by them). Default: the built-in templates.
    #[arg(long = "templates.dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The templates, compiled.
pub struct Templates {
    env: Environment<'static>,
    /// Where each template came from, for errors: a path, or `built-in templates/<name>`.
    origin: BTreeMap<String, String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").field("origin", &self.origin).finish()
    }
}

/// Template files are small; a bigger one is refused.
const MAX_TEMPLATE_BYTES: u64 = 1 << 20;

impl Templates {
    /// The built-in templates.
    pub fn builtin() -> Templates {
        Templates::from_sources(vec![]).expect("the built-in templates compile")
    }

    /// The built-in templates, each replaced by its file in `dir` if there is one.
    pub fn load(dir: Option<&Path>) -> Result<Templates, Error> {
        let Some(dir) = dir else { return Ok(Templates::builtin()) };
        let entries = std::fs::read_dir(dir).map_err(|e| format!("reading --templates.dir {}: {e}", dir.display()))?;
        let mut files = vec![];
        for entry in entries {
            let path = entry.map_err(|e| format!("reading {}: {e}", dir.display()))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
            if !name.ends_with(".j2") {
                continue;
            }
            if !name.starts_with('_') && !DEFAULTS.iter().any(|(n, _)| *n == name) {
                let known: Vec<&str> = DEFAULTS.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "{}: not a template this program renders ({}); a file to include starts with `_`",
                    path.display(),
                    known.join(", ")
                )
                .into());
            }
            let size = std::fs::metadata(&path).map_err(|e| format!("reading {}: {e}", path.display()))?.len();
            if size > MAX_TEMPLATE_BYTES {
                return Err(
                    format!("{}: {size} bytes; templates are limited to {MAX_TEMPLATE_BYTES}", path.display()).into()
                );
            }
            let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            files.push((name, path.display().to_string(), text));
        }
        files.sort();
        Templates::from_sources(files)
    }

    /// The built-in templates with `(name, origin, source)` replacing or added to them.
    fn from_sources(files: Vec<(String, String, String)>) -> Result<Templates, Error> {
        let mut env = filters::environment();
        let mut origin = BTreeMap::new();
        let mut sources: BTreeMap<String, String> = BTreeMap::new();
        for (name, text) in DEFAULTS {
            origin.insert(name.to_string(), format!("built-in templates/{name}"));
            sources.insert(name.to_string(), text.to_string());
        }
        for (name, from, text) in files {
            origin.insert(name.clone(), from);
            sources.insert(name, text);
        }
        let t = Templates { env: Environment::new(), origin };
        for (name, text) in sources {
            env.add_template_owned(name, text).map_err(|e| t.error(&e))?;
        }
        Ok(Templates { env, origin: t.origin })
    }

    /// Render template `name` with `context`.
    pub fn render<S: Serialize>(&self, name: &str, context: S) -> Result<String, Error> {
        let template = self.env.get_template(name).map_err(|e| self.error(&e))?;
        template.render(minijinja::Value::from(minijinja::value::Serde(&context))).map_err(|e| self.error(&e).into())
    }

    /// A template error as `FILE:LINE: what` (the file as the user gave it).
    fn error(&self, e: &minijinja::Error) -> String {
        let name = e.name().unwrap_or("template");
        let file = self.origin.get(name).cloned().unwrap_or_else(|| name.to_string());
        let at = e.line().map_or(file.clone(), |line| format!("{file}:{line}"));
        let what = match e.detail() {
            Some(detail) => format!("{}: {detail}", e.kind()),
            None => e.kind().to_string(),
        };
        let mut message = format!("{at}: {what}");
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            if let Some(inner) = s.downcast_ref::<minijinja::Error>() {
                message.push_str(&format!("\n  caused by: {}", self.error(inner)));
                break;
            }
            message.push_str(&format!("\n  caused by: {s}"));
            source = s.source();
        }
        message
    }
}

/// A payee id as a file name: letters, digits, `-`, `_` and `.` as they
/// are; any other byte (`/`, a space, non-ASCII …) and a leading `.` as
/// `%XX`. Ids on the roster are plain (`alice`, `op-eu`), so their files
/// are `alice.html`; no id can name a path outside the directory.
pub fn file_stem(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for (i, b) in id.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() { "%".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payee_ids_become_file_names_inside_the_directory() {
        assert_eq!(file_stem("alice"), "alice");
        assert_eq!(file_stem("op-eu_2.x"), "op-eu_2.x");
        assert_eq!(file_stem("../etc/passwd"), "%2E.%2Fetc%2Fpasswd");
        assert_eq!(file_stem(".."), "%2E.");
        assert_eq!(file_stem("a b/ü"), "a%20b%2F%C3%BC");
        assert_eq!(file_stem(""), "%");
        for id in ["..", ".", "../x", "a/../../b", "/abs", "c:\\x"] {
            let stem = file_stem(id);
            assert!(!stem.contains('/') && !stem.contains('\\') && !stem.starts_with('.'), "{id} → {stem}");
        }
    }

    #[test]
    fn the_built_in_templates_compile() {
        let t = Templates::builtin();
        for (name, _) in DEFAULTS {
            assert!(t.env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn a_broken_template_is_an_error_naming_its_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATEMENT_HTML);
        std::fs::write(&path, "<p>\n{{ statement.name }\n</p>\n").unwrap();
        let e = Templates::load(Some(dir.path())).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:2: syntax error", path.display())), "{e}");

        // A runtime error (an unknown filter, a field that does not exist) names the line too.
        std::fs::write(&path, "<p>\n\n{{ statement.name | shout }}</p>\n").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let e = t.render(STATEMENT_HTML, serde_json::json!({"statement": {"name": "x"}})).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:3: unknown filter", path.display())), "{e}");
        std::fs::write(&path, "<p>{{ statement.nmae }}</p>\n").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let e = t.render(STATEMENT_HTML, serde_json::json!({"statement": {"name": "x"}})).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:1: undefined value", path.display())), "{e}");
    }

    /// Names and ids come from the rules, node and region names from
    /// Prometheus labels: none of them becomes markup in any document.
    #[test]
    fn names_from_the_rules_and_labels_are_escaped_in_every_document() {
        use crate::engine::testutil::{facts, node, period, rules};
        let evil = "<script>alert(1)</script>";
        let r = rules(&format!(
            "version: 1\npartner_tiers:\n  - {{id: gold, name: '<b>Gold</b>', lines: [{{id: first_year_x, name: '<i>x</i>', kind: fixed, amount: 5, per_referral: true}}]}}\npartners:\n  - {{id: p1, name: '{evil}', tier: gold, start: 2026-01-01}}\ntiers:\n  - {{id: t1, name: '<img src=x onerror=alert(2)>', lines: [{{id: b, name: '<u>Base</u>', kind: per_node, amount: 500}}]}}\noperators:\n  - {{id: op1, name: '{evil}', tier: t1, start: 2026-01-01, nodes: ['<svg onload=alert(3)>'], referred_by: p1}}\n"
        ));
        let p = period("2026-10");
        let mut f = facts(&p);
        f.nodes.push(node(&f, "<svg onload=alert(3)>", "<iframe src=x>", &[]));
        let e = crate::engine::evaluate(&f, &Default::default(), &r, &p, p.end);
        let docs = documents(&e, &r, &Templates::builtin()).unwrap();
        let names: Vec<&str> = docs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["programme-report.md", "statements/op1.html", "statements/p1.html", "partners/p1.md"]);
        for (name, text) in &docs {
            for tag in ["<script", "<img", "<svg", "<iframe", "<b>", "<i>", "<u>"] {
                assert!(!text.contains(tag), "{name} holds {tag}:\n{text}");
            }
        }
        let html = &docs[1].1;
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{html}");
        assert!(html.contains("&lt;svg onload=alert(3)&gt;"), "the node, a label value: {html}");
        assert!(docs[0].1.contains("| &lt;svg onload=alert(3)> | &lt;iframe src=x> |"), "{}", docs[0].1);
    }

    #[test]
    fn an_operator_and_a_partner_with_one_id_would_share_a_statement_and_are_refused() {
        use crate::engine::testutil::{facts, period, rules};
        let r = rules(
            "version: 1\npartner_tiers:\n  - {id: gold, name: Gold, lines: []}\npartners:\n  - {id: x, name: P, tier: gold, start: 2026-01-01}\ntiers:\n  - {id: t1, name: T, lines: []}\noperators:\n  - {id: x, name: O, tier: t1, start: 2026-01-01}\n",
        );
        let p = period("2026-10");
        let e = crate::engine::evaluate(&facts(&p), &Default::default(), &r, &p, p.end);
        let err = documents(&e, &r, &Templates::builtin()).unwrap_err().to_string();
        assert_eq!(
            err,
            "operator `x` and partner `x` would both have the statement statements/x.html: give one another id"
        );
        assert_eq!(check_file_names(&r).unwrap_err().to_string(), err, "refused before a month is read");
    }

    #[test]
    fn an_unknown_template_file_is_refused_and_partials_start_with_an_underscore() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("statment.html.j2"), "x").unwrap();
        let e = Templates::load(Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("statment.html.j2: not a template this program renders"), "{e}");
        std::fs::remove_file(dir.path().join("statment.html.j2")).unwrap();
        std::fs::write(dir.path().join("_footer.j2"), "— {{ who }} —").unwrap();
        std::fs::write(dir.path().join(PROGRAMME_REPORT_MD), "# Report\n{% include \"_footer.j2\" %}\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        assert_eq!(
            t.render(PROGRAMME_REPORT_MD, serde_json::json!({"who": "finance"})).unwrap(),
            "# Report\n— finance —",
            "a block tag takes its line end"
        );
        // The other templates stay the built-in ones.
        assert_eq!(t.origin[STATEMENT_HTML], format!("built-in templates/{STATEMENT_HTML}"));
    }
}
