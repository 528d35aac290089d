//! A strict reader of the OpenMetrics text the exporter writes, for the
//! tests: samples with their labels and values.

use std::collections::{BTreeMap, BTreeSet};

/// One sample of a parsed exposition.
#[derive(Debug, Clone)]
pub(super) struct Sample {
    pub family: String,
    pub kind: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A strict reading of the OpenMetrics text format, enough for what we write:
/// every family has `# HELP` and `# TYPE` before its samples (and `# UNIT`
/// only as its name's suffix), appears once, and its sample names are the
/// family name plus the type's suffix; label values are unescaped; the body
/// ends with exactly one `# EOF`.
pub(super) fn parse(body: &str) -> Vec<Sample> {
    assert!(body.ends_with("# EOF\n"), "no # EOF at the end");
    assert_eq!(body.matches("# EOF").count(), 1, "more than one # EOF");
    let mut out = vec![];
    let mut seen = BTreeSet::new();
    let (mut family, mut kind, mut help) = (String::new(), String::new(), false);
    for line in body.lines() {
        if line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(seen.insert(name.clone()), "family {name} twice");
            assert!(rest.len() > name.len() + 1, "{name}: empty help");
            (family, kind, help) = (name, String::new(), true);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, t) = rest.split_once(' ').unwrap();
            assert!(help && name == family, "# TYPE {name} without its # HELP");
            assert!(["gauge", "counter", "info"].contains(&t), "{name}: type {t}");
            kind = t.to_string();
        } else if let Some(rest) = line.strip_prefix("# UNIT ") {
            let (name, unit) = rest.split_once(' ').unwrap();
            assert_eq!(name, family);
            assert!(name.ends_with(&format!("_{unit}")), "unit {unit} is not the suffix of {name}");
        } else {
            assert!(!line.starts_with('#'), "unknown line {line}");
            assert!(!kind.is_empty(), "sample before # TYPE: {line}");
            let (name, labels, value) = split_sample(line);
            let want = match kind.as_str() {
                "counter" => format!("{family}_total"),
                "info" => format!("{family}_info"),
                _ => family.clone(),
            };
            assert_eq!(name, want, "sample of family {family}");
            if kind == "info" {
                assert_eq!(value, 1.0);
            }
            out.push(Sample { family: family.clone(), kind: kind.clone(), name, labels, value });
        }
    }
    out
}

fn split_sample(line: &str) -> (String, BTreeMap<String, String>, f64) {
    let mut labels = BTreeMap::new();
    let (name, rest) = match line.find(['{', ' ']) {
        Some(i) => line.split_at(i),
        None => panic!("no value: {line}"),
    };
    let mut chars = rest.chars().peekable();
    if chars.peek() == Some(&'{') {
        chars.next();
        loop {
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert!(!key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
            assert_eq!(chars.next(), Some('"'), "{line}");
            let mut value = String::new();
            loop {
                match chars.next().expect("unterminated label value") {
                    '\\' => match chars.next() {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => panic!("bad escape {other:?} in {line}"),
                    },
                    '"' => break,
                    '\n' => panic!("raw newline in {line}"),
                    c => value.push(c),
                }
            }
            assert!(labels.insert(key.clone(), value).is_none(), "label {key} twice: {line}");
            match chars.next() {
                Some(',') => continue,
                Some('}') => break,
                other => panic!("unexpected {other:?} in {line}"),
            }
        }
    }
    let rest: String = chars.collect();
    let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("no space before the value: {line}"));
    let value: f64 = value.parse().unwrap_or_else(|_| panic!("value {value} in {line}"));
    (name.to_string(), labels, value)
}

pub(super) fn samples_named<'a>(s: &'a [Sample], name: &str) -> Vec<&'a Sample> {
    s.iter().filter(|x| x.name == name).collect()
}
