//! `incident_sources` and `incident_classes`: ids that name variables,
//! selectors, labels, a class for every source, targets, and no variable
//! of a class that another name already has.

use super::names::{Names, check_word, resolve};
use super::promql::parse_promql;
use crate::rules::load::errors::Errors;
use crate::rules::load::merge::{At, Merged};
use crate::rules::spec::IncidentSourceSpec;
use crate::rules::vars;

/// Longest `step` of an incident source, as for `source.step`.
const MAX_STEP_SECONDS: i64 = 86_400;

pub(super) fn check_incidents(m: &Merged, n: &Names, errs: &mut Errors) {
    for At { file, item: c } in &m.incident_classes {
        check_word(*file, &c.id, "incident class id", true, errs);
        if n.severities.contains(&c.id.value) {
            let message = format!(
                "incident class `{}` has the id of a severity (`incidents_{}` would name both); rename it",
                c.id, c.id
            );
            errs.at(*file, c.id.pos, message);
        }
        for v in vars::class_vars(&c.id) {
            if n.inputs.contains(&v) || n.aggregates.contains(&v) {
                let what = if n.inputs.contains(&v) { "an input" } else { "an aggregate" };
                errs.at(*file, c.id.pos, format!("incident class `{}`: its variable `{v}` is also {what}", c.id));
            }
        }
        if c.respond_within.seconds() < 0 {
            errs.at(*file, c.id.pos, format!("incident class `{}`: respond_within must not be negative", c.id));
        }
        if c.resolve_within.is_some_and(|d| d.seconds() <= 0) {
            let message = format!("incident class `{}`: resolve_within must be positive (leave it out for none)", c.id);
            errs.at(*file, c.id.pos, message);
        }
        if m.incident_sources.is_empty() && !errs.partial {
            let message = format!("incident class `{}`: no `incident_sources` to read its incidents from", c.id);
            errs.at(*file, c.id.pos, message);
        }
    }
    for At { file, item: s } in &m.incident_sources {
        check_source(*file, s, n, errs);
    }
}

fn check_source(file: usize, s: &IncidentSourceSpec, n: &Names, errs: &mut Errors) {
    check_word(file, &s.name, "incident source name", false, errs);
    match parse_promql(&s.selector) {
        Ok(promql_parser::parser::Expr::VectorSelector(_)) => {}
        Ok(_) => {
            let message = format!(
                "incident source `{}`: `selector` must be a plain vector selector such as `support_ticket_open{{team=\"fleet\"}}` (use `open_when: zero` for a service's `up`), not `{}`",
                s.name, s.selector
            );
            errs.at(file, s.selector.pos, message);
        }
        Err(e) => errs.at(file, s.selector.pos, format!("incident source `{}`: {e}", s.name)),
    }
    match &s.class {
        Some(class) => {
            resolve(file, class, "incident class", &n.classes, errs);
            if s.class_label.is_some() {
                let message = format!("incident source `{}`: give `class` or `class_label`, not both", s.name);
                errs.at(file, class.pos, message);
            }
        }
        None if n.classes.is_empty() && !errs.partial => {
            let message = format!("incident source `{}`: no `incident_classes` to give its incidents", s.name);
            errs.at(file, s.name.pos, message);
        }
        None => {}
    }
    let labels = [Some(("id_label", &s.id_label)), s.class_label.as_ref().map(|l| ("class_label", l))]
        .into_iter()
        .chain([Some(("operator_label", &s.operator_label)), s.severity_label.as_ref().map(|l| ("severity_label", l))])
        .flatten();
    for (field, label) in labels {
        if !is_label_name(label) {
            let message = format!("incident source `{}`: `{field}` `{label}` is not a Prometheus label name", s.name);
            errs.at(file, s.name.pos, message);
        }
    }
    if let Some(step) = s.step
        && (step.seconds() <= 0 || step.seconds() > MAX_STEP_SECONDS)
    {
        let message = format!("incident source `{}`: `step` is {step}; it must be positive and at most 1d", s.name);
        errs.at(file, s.name.pos, message);
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use crate::rules::load::load_files;
    use crate::rules::load::test_support::*;
    use crate::rules::spec::OpenWhen;
    use std::path::Path;

    /// Seed 002's support SLAs: a source whose series carry the class, and one fixed to `questions`.
    const TICKETS: &str = r#"version: 1
incident_sources:
  - name: tickets
    selector: 'support_ticket_open{team="fleet"}'
    id_label: ticket
    class_label: priority
    severity_label: priority
  - name: questions
    selector: 'support_question_open'
    id_label: ticket
    class: questions
    step: 5m
incident_classes:
  - {id: critical, name: Critical ticket, respond_within: 2h, resolve_within: 24h, major: true}
  - {id: major, name: Major ticket, respond_within: 4h, resolve_within: 48h}
  - {id: questions, name: Question, respond_within: 48h}
"#;

    fn with_tickets(text: &str) -> Vec<(String, String)> {
        with_file(fixture(), "tickets.yaml", text)
    }

    #[test]
    fn sources_and_classes_load_and_their_variables_are_readable() {
        let files = edit(
            with_tickets(TICKETS),
            "pay.yaml",
            "uptime > 0.995",
            "uptime > 0.995 && respond_breaches_critical == 0 && incidents_questions < 5",
        );
        let rules = load_files(Path::new("rules"), &files).unwrap();
        assert_eq!(rules.incident_sources.len(), 2);
        assert_eq!(rules.incident_sources[0].class_label(), Some("priority"));
        assert_eq!(rules.incident_sources[1].class_label(), None);
        assert_eq!(rules.incident_sources[1].open_when, OpenWhen::Nonzero);
        assert_eq!(rules.incident_sources[1].step.map(|d| d.seconds()), Some(300));
        assert_eq!(rules.incident_classes[2].resolve_within, None);
        assert!(rules.incident_classes[0].major);
    }

    #[test]
    fn an_unknown_class_of_a_source_is_reported_at_it_with_a_suggestion() {
        let files = with_tickets(&TICKETS.replace("class: questions", "class: question"));
        let at = pos(&files, "tickets.yaml", "question\n");
        assert_one(
            &errors(&files),
            "tickets.yaml",
            at,
            &["unknown incident class `question`", "did you mean `questions`?"],
        );
    }

    #[test]
    fn a_selector_that_is_not_a_vector_selector_is_reported_at_it() {
        let files = with_tickets(&TICKETS.replace("'support_question_open'", "'support_question_open == 1'"));
        let at = pos(&files, "tickets.yaml", "'support_question_open ==");
        assert_one(
            &errors(&files),
            "tickets.yaml",
            at,
            &["incident source `questions`: `selector` must be a plain vector selector"],
        );
        let files = with_tickets(&TICKETS.replace("'support_question_open'", "'support_question_open{'"));
        let at = pos(&files, "tickets.yaml", "'support_question_open{");
        assert_one(&errors(&files), "tickets.yaml", at, &["incident source `questions`: invalid PromQL"]);
    }

    #[test]
    fn a_class_with_a_severity_id_or_a_bad_target_is_reported_at_its_id() {
        let files = with_tickets(&TICKETS.replace("id: major,", "id: P2,"));
        let at = pos(&files, "tickets.yaml", "P2,");
        assert_one(&errors(&files), "tickets.yaml", at, &["incident class `P2` has the id of a severity"]);
        let files = with_tickets(&TICKETS.replace("resolve_within: 48h", "resolve_within: 0s"));
        let at = pos(&files, "tickets.yaml", "major,");
        assert_one(&errors(&files), "tickets.yaml", at, &["incident class `major`: resolve_within must be positive"]);
        let files = with_tickets(
            &TICKETS.replace("id: questions,", "id: ask-me,").replace("class: questions", "class: ask-me"),
        );
        let at = pos(&files, "tickets.yaml", "ask-me,");
        assert_one(
            &errors(&files),
            "tickets.yaml",
            at,
            &["incident class id `ask-me` must be letters, digits and `_`"],
        );
    }

    #[test]
    fn duplicate_classes_and_both_class_and_class_label_are_reported() {
        let files = with_tickets(&TICKETS.replace("id: major,", "id: critical,"));
        let second = pos(&files, "tickets.yaml", "critical, name: Major");
        assert_one(&errors(&files), "tickets.yaml", second, &["duplicate incident class id `critical`"]);
        let files =
            with_tickets(&TICKETS.replace("    class: questions\n", "    class: questions\n    class_label: kind\n"));
        let at = pos(&files, "tickets.yaml", "questions\n    class_label");
        assert_one(&errors(&files), "tickets.yaml", at, &["give `class` or `class_label`, not both"]);
    }

    #[test]
    fn a_source_without_classes_and_a_class_without_sources_are_reported() {
        let only_sources = &TICKETS[..TICKETS.find("incident_classes").unwrap()].replace("    class: questions\n", "");
        let files = with_tickets(only_sources);
        let errs = errors(&files);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_error(&errs[0], "tickets.yaml", pos(&files, "tickets.yaml", "tickets\n"), &["no `incident_classes`"]);
        let only_classes = format!("version: 1\n{}", &TICKETS[TICKETS.find("incident_classes").unwrap()..]);
        let files = with_tickets(&only_classes);
        let errs = errors(&files);
        assert_eq!(errs.len(), 3, "{errs:#?}");
        assert_error(&errs[0], "tickets.yaml", pos(&files, "tickets.yaml", "critical"), &["no `incident_sources`"]);
    }

    #[test]
    fn bad_labels_steps_and_colliding_variables_are_reported_at_the_source_or_class() {
        let files =
            with_tickets(&TICKETS.replace("id_label: ticket\n    class_label", "id_label: ticket-id\n    class_label"));
        let at = pos(&files, "tickets.yaml", "tickets\n");
        assert_one(&errors(&files), "tickets.yaml", at, &["`id_label` `ticket-id` is not a Prometheus label name"]);
        let files = with_tickets(&TICKETS.replace("step: 5m", "step: 2d"));
        let at = pos(&files, "tickets.yaml", "questions\n    selector");
        assert_one(&errors(&files), "tickets.yaml", at, &["`step` is 2d; it must be positive and at most 1d"]);
        let files = edit(with_tickets(TICKETS), "programme.yaml", "name: partner_revenue", "name: incidents_major");
        let errs = errors(&files);
        assert!(
            errs.iter()
                .any(|e| e.message.contains("incident class `major`: its variable `incidents_major` is also an input")),
            "{errs:#?}"
        );
    }
}
