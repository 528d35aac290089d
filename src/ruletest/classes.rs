//! Incident classes in rule tests: input series that feed the rules'
//! incident sources become reported incidents the way the Prometheus
//! source makes them ([`crate::source::incidents`]); acknowledgements by
//! node or incident; the expected class incidents and class summaries.

use super::compare::{mttr, num};
use super::file::{AckSpec, ExpClassIncident, Expect};
use super::series::{Selector, Series};
use crate::evaluation::{ClassIncident, Evaluation};
use crate::facts::{Acknowledgement, IncidentAcknowledgement, ReportedIncident};
use crate::rules::Rules;
use crate::rules::spec::IncidentSourceSpec;
use crate::source::alertmanager::incident_node;
use crate::source::incidents::{Read, Reported};
use crate::source::samples::Sample;
use chrono::{DateTime, Utc};

/// The rules' incident sources and the samples the test gives them.
pub(super) struct Sources<'a> {
    rules: &'a Rules,
    selectors: Vec<(Selector, &'a IncidentSourceSpec)>,
    read: Read,
}

impl<'a> Sources<'a> {
    pub(super) fn new(rules: &'a Rules) -> Result<Self, Vec<String>> {
        let mut selectors = vec![];
        let mut errs = vec![];
        for src in &rules.incident_sources {
            match Selector::parse(&src.selector) {
                Ok(sel) => selectors.push((sel, src)),
                Err(e) => errs.push(format!("incident source {}: {e}", src.name.value)),
            }
        }
        if errs.is_empty() { Ok(Sources { rules, selectors, read: Read::default() }) } else { Err(errs) }
    }

    /// Give `samples` (within the window) of `series` to every source it
    /// feeds; whether it fed one, or why it cannot.
    pub(super) fn feed(&mut self, series: &Series, samples: &[Sample]) -> Result<bool, String> {
        let mut fed = false;
        for (sel, src) in &self.selectors {
            if !sel.matches(series) {
                continue;
            }
            if !series.labels.contains_key(&src.id_label) {
                return Err(format!(
                    "feeds incident source {} but has no `{}` label naming the incident",
                    src.name.value, src.id_label
                ));
            }
            self.read.add(src, self.rules, &series.labels, samples);
            fed = true;
        }
        Ok(fed)
    }

    /// The incidents at the window end.
    pub(super) fn incidents(self, end: DateTime<Utc>) -> Vec<ReportedIncident> {
        let mut reported = Reported::default();
        reported.apply(self.read);
        reported.facts(end)
    }
}

/// The acknowledgements as a silence would give them: a node's, or an
/// incident's (which also acknowledges the node a node incident's id names).
pub(super) fn acknowledgements(
    acks: &[AckSpec],
    errs: &mut Vec<String>,
) -> (Vec<Acknowledgement>, Vec<IncidentAcknowledgement>) {
    let (mut nodes, mut incidents) = (vec![], vec![]);
    for a in acks {
        match (&a.node, &a.incident) {
            (Some(node), None) => nodes.push(Acknowledgement { node: node.clone(), at: a.at }),
            (None, Some(incident)) => {
                if let Some(node) = incident_node(incident) {
                    nodes.push(Acknowledgement { node: node.to_string(), at: a.at });
                }
                incidents.push(IncidentAcknowledgement { incident: incident.clone(), at: a.at });
            }
            _ => errs.push(format!("acknowledgement at {}: give `node` or `incident`", a.at.to_rfc3339())),
        }
    }
    nodes.sort_by(|a, b| (a.at, &a.node).cmp(&(b.at, &b.node)));
    incidents.sort_by(|a, b| (a.at, &a.incident).cmp(&(b.at, &b.incident)));
    (nodes, incidents)
}

fn describe(i: &ClassIncident) -> String {
    format!(
        "{} {} from {} for {}{}",
        i.class,
        i.key,
        i.start.to_rfc3339(),
        crate::period::Dur(i.duration_seconds),
        if i.end.is_none() { " (open)" } else { "" }
    )
}

/// Every mismatch of the expected class incidents and classes.
pub(super) fn compare(exp: &Expect, ev: &Evaluation, out: &mut Vec<String>) {
    if let Some(want) = &exp.class_incidents {
        let got = &ev.class_incidents;
        if want.len() != got.len() {
            let list: Vec<String> = got.iter().map(describe).collect();
            out.push(format!("class incidents: expected {}, got {}: [{}]", want.len(), got.len(), list.join("; ")));
        }
        for (n, (w, g)) in want.iter().zip(got).enumerate() {
            incident(&format!("class incident {} ({})", n + 1, describe(g)), w, g, out);
        }
    }
    for c in &exp.classes {
        let Some(got) = ev.classes.iter().find(|g| g.class == c.class) else {
            out.push(format!("incident class {}: not in the evaluation", c.class));
            continue;
        };
        let what = format!("incident class {}", c.class);
        num(out, &what, "incidents", c.incidents, got.incidents);
        num(out, &what, "open incidents", c.open, got.open);
        num(out, &what, "respond breaches", c.respond_breaches, got.respond_breaches);
        num(out, &what, "resolve breaches", c.resolve_breaches, got.resolve_breaches);
        mttr(out, &what, c.mttr, got.mttr_seconds);
    }
}

fn incident(what: &str, w: &ExpClassIncident, g: &ClassIncident, out: &mut Vec<String>) {
    let mut differs = |field: &str, want: String, got: String| {
        if want != got {
            out.push(format!("{what}: expected {field} {want}, got {got}"));
        }
    };
    let or_none = |s: &Option<String>| s.clone().unwrap_or_else(|| "none".into());
    differs("class", w.class.clone(), g.class.clone());
    if let Some(k) = &w.key {
        differs("key", k.clone(), g.key.clone());
    }
    if let Some(o) = &w.operator {
        differs("operator", o.clone(), or_none(&g.operator));
    }
    if let Some(s) = &w.severity {
        differs("severity", s.clone(), or_none(&g.severity));
    }
    if let Some(s) = w.start {
        differs("start", s.to_rfc3339(), g.start.to_rfc3339());
    }
    if let Some(d) = w.duration {
        differs("duration", d.to_string(), crate::period::Dur(g.duration_seconds).to_string());
    }
    let state = |open: bool| if open { "open" } else { "resolved" }.to_string();
    if let Some(open) = w.open {
        differs("state", state(open), state(g.end.is_none()));
    }
    if let Some(v) = w.respond {
        differs("respond", v.name().into(), g.respond_verdict.name().into());
    }
    if let Some(v) = w.resolve {
        let name = |v: Option<crate::evaluation::Verdict>| v.map_or("none", |v| v.name()).to_string();
        differs("resolve", name(v.0), name(g.resolve_verdict));
    }
}
