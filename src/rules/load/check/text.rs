//! Text in rule files is printable: no string may hold a control character
//! (`char::is_control`: NUL, tab, CR, LF, escape, DEL, the C1 range …).
//! Names, ids, e-mail addresses, categories and labels reach statements,
//! CSV, e-mail bodies, Markdown, logs and metrics, where a line break or an
//! escape sequence would forge lines. Descriptions (`description`, a
//! severity's `definition`) may hold line breaks (`\n`, a YAML block
//! scalar); expressions and PromQL may hold line breaks and tabs (white
//! space to them). Nothing else may.
//!
//! The spec's text fields carry no position, so every rule file is read
//! again as a tree of positioned scalars (whatever sections it has): an
//! error points at the scalar and names its field. No cheaper pre-scan is
//! sound: a blank line inside a quoted scalar, or a block scalar, makes a
//! line break with no escape and no control character but `\n` in the file.

use crate::rules::expr::Pos;
use crate::rules::load::errors::Errors;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// What a string field may hold besides printable characters.
fn allowed(field: &str) -> (&'static [char], &'static str) {
    match field {
        "description" | "definition" => (&['\n'], "a description may hold line breaks but no other control character"),
        "when" | "quantity" | "over" | "ratio" | "factor" | "by" | "up" | "degraded" | "query" | "selector" => {
            (&['\n', '\t'], "an expression or a query may hold line breaks and tabs but no other control character")
        }
        _ => (&[], "names, ids, e-mail addresses and labels are one line of printable text"),
    }
}

pub(super) fn check_text(errs: &mut Errors) {
    for file in 0..errs.file_count() {
        // A file that did not parse is reported already (and is no tree).
        if let Ok(root) = serde_saphyr::from_str::<Spanned<Node>>(errs.text(file)) {
            walk(file, &root, &mut vec![], errs);
        }
    }
}

/// Report every string under `node` (at the field path `path`) that holds a
/// control character its field does not allow.
fn walk<'a>(file: usize, node: &'a Spanned<Node>, path: &mut Vec<&'a str>, errs: &mut Errors) {
    match &node.value {
        Node::Map(entries) => {
            for (key, value) in entries {
                path.push(key);
                walk(file, value, path, errs);
                path.pop();
            }
        }
        Node::Seq(items) => items.iter().for_each(|item| walk(file, item, path, errs)),
        Node::Str(s) => {
            let (ok, rule) = allowed(path.last().copied().unwrap_or_default());
            if let Some(c) = s.chars().find(|c| c.is_control() && !ok.contains(c)) {
                let pos = Pos::of(node);
                let field = path.join(".");
                errs.at(file, pos, format!("`{field}` holds a control character (U+{:04X}); {rule}", c as u32));
            }
        }
        Node::Other => {}
    }
}

/// A YAML node read again by [`check_text`], keeping only what leads to a
/// string with a control character (the rest is `Other`, never allocated).
enum Node {
    Map(Vec<(String, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Str(String),
    Other,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(if v.contains(char::is_control) { Node::Str(v.to_string()) } else { Node::Other })
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = vec![];
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            if !matches!(item.value, Node::Other) {
                items.push(item);
            }
        }
        Ok(if items.is_empty() { Node::Other } else { Node::Seq(items) })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = vec![];
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            if !matches!(value.value, Node::Other) {
                entries.push((key, value));
            }
        }
        Ok(if entries.is_empty() { Node::Other } else { Node::Map(entries) })
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::load::load_files;
    use crate::rules::load::test_support::*;
    use std::path::Path;

    /// Regression: a CR/LF in a roster name reached the e-mail body and the
    /// statements; it is refused at the name, naming the field.
    #[test]
    fn a_line_break_in_a_name_or_an_address_is_refused_at_it() {
        let files = edited("roster.yaml", "name: Alice,", r#"name: "Alice\r\nBcc: x@evil.example","#);
        let at = pos(&files, "roster.yaml", r#""Alice"#);
        let rule = "names, ids, e-mail addresses and labels are one line of printable text";
        assert_one(
            &errors(&files),
            "roster.yaml",
            at,
            &["`operators.name` holds a control character (U+000D); ", rule],
        );
        let partner = "partners:\n  - id: acme\n    name: Acme\n    email: \"acme@example.org\\nBcc: x@evil.example\"\n    tier: tier1\n    start: 2026-01-01\n";
        let files = with_file(fixture(), "partners.yaml", &format!("version: 1\n{partner}"));
        let at = pos(&files, "partners.yaml", "\"acme@");
        let errs = errors(&files);
        let e = errs.iter().find(|e| e.message.contains("`partners.email`")).unwrap_or_else(|| panic!("{errs:#?}"));
        assert_error(e, "partners.yaml", at, &["holds a control character (U+000A)"]);
    }

    #[test]
    fn a_file_of_opening_figures_alone_is_checked_too() {
        // Regression: only files defining one of a list of sections were
        // read again, so a file of opening figures alone was not.
        let opening = "version: 1\nopening_figures:\n  - period: 2026-05\n    operators:\n      alice: {tier: \"tier1\\r\\nBcc: x\"}\n";
        let files = with_file(fixture(), "opening.yaml", opening);
        let errs = errors(&files);
        let e = errs
            .iter()
            .find(|e| e.message.contains("`opening_figures.operators.alice.tier`"))
            .unwrap_or_else(|| panic!("{errs:#?}"));
        assert_error(e, "opening.yaml", pos(&files, "opening.yaml", "\"tier1"), &["U+000D"]);
    }

    #[test]
    fn every_text_field_is_checked_ids_and_check_names_included() {
        for (from, to, field, char) in [
            ("name: Base stipend", r#"name: "Base\u0085stipend""#, "tiers.lines.name", "U+0085"),
            ("id: base", r#"id: "ba\tse""#, "tiers.lines.id", "U+0009"),
            ("name: Certified Operator", r#"name: "Certified\e[31m""#, "tiers.name", "U+001B"),
            ("amount: 500,", r#"amount: 500, category: "stipend\0","#, "tiers.lines.category", "U+0000"),
        ] {
            let files = edited("pay.yaml", from, to);
            let errs = errors(&files);
            let e =
                errs.iter().find(|e| e.message.contains(&format!("`{field}`"))).unwrap_or_else(|| panic!("{errs:#?}"));
            assert_error(e, "pay.yaml", pos(&files, "pay.yaml", &to[to.find('"').unwrap()..]), &[char]);
        }
        let check = "promotions:\n  - from: tier1\n    to: tier1x\n    checks:\n      - {name: \"six\\tmonths\", when: \"tenure_months >= 6\"}\n";
        let files = with_file(fixture(), "promotions.yaml", &format!("version: 1\n{check}"));
        let errs = errors(&files);
        let e =
            errs.iter().find(|e| e.message.contains("`promotions.checks.name`")).unwrap_or_else(|| panic!("{errs:#?}"));
        assert_error(e, "promotions.yaml", pos(&files, "promotions.yaml", "\"six"), &["U+0009"]);
    }

    #[test]
    fn descriptions_may_span_lines_and_code_may_hold_tabs_but_nothing_else() {
        let multi = "    description: |\n      Paid monthly.\n      Prorated.\n    lines:\n";
        let bonus = r#"{id: uptime_bonus, name: Uptime bonus, kind: fixed, amount: 200, when: "uptime > 0.995"}"#;
        let block = "id: uptime_bonus\n        kind: fixed\n        name: Uptime bonus\n        amount: 200\n        when: >-\n          uptime >\n          \t0.995\n";
        let files = edit(edited("pay.yaml", "    lines:\n", multi), "pay.yaml", bonus, block);
        // The same with CRLF line ends: YAML reads each as one `\n`.
        let crlf: Vec<_> = files.iter().map(|(n, t)| (n.clone(), t.replace('\n', "\r\n"))).collect();
        for files in [files, crlf] {
            let tier = &load_files(Path::new("rules"), &files).unwrap().tiers[0];
            assert_eq!(tier.description.as_deref(), Some("Paid monthly.\nProrated.\n"));
            assert_eq!(tier.lines[1].when.as_ref().unwrap().source, "uptime >\n\t0.995");
        }
        let files = edited("pay.yaml", "    lines:\n", "    description: \"Paid\\r monthly.\"\n    lines:\n");
        let at = pos(&files, "pay.yaml", "\"Paid");
        let rule = "a description may hold line breaks but no other control character";
        assert_one(
            &errors(&files),
            "pay.yaml",
            at,
            &["`tiers.description` holds a control character (U+000D); ", rule],
        );
        let files = edited("pay.yaml", r#""uptime > 0.995""#, r#""uptime >\u0007 0.995""#);
        let at = pos(&files, "pay.yaml", r#""uptime >\u"#);
        let errs = errors(&files);
        let e = errs.iter().find(|e| e.message.contains("`tiers.lines.when`")).unwrap_or_else(|| panic!("{errs:#?}"));
        assert_error(e, "pay.yaml", at, &["(U+0007); an expression or a query may hold line breaks and tabs"]);
    }
}
