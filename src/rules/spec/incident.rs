//! The `incident_sources` and `incident_classes` sections: incidents that
//! are not node outages (support tickets, service outages, firing alerts),
//! read from Prometheus series, one series per open incident.
//!
//! A source is a PromQL vector selector. Each of its series is one
//! incident's state over time; the series' labels name the incident (its
//! id), its class, its payee (the operator) and optionally its severity.
//! A run of samples that are "open" (see [`OpenWhen`]) for one id is one
//! incident: it starts at its first open sample and is resolved at its last
//! open sample + `step`, or is open if it runs to the window end.
//!
//! A class gives the incident its targets: `respond_within` (from its
//! start to its acknowledgement, an Alertmanager silence) and, optionally,
//! `resolve_within`. Node outages are not a class here: they keep the
//! `severities` and their shape rules.

use crate::period::Dur;
use crate::rules::expr::Text;
use serde::Deserialize;

/// Where incidents of one or more classes come from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentSourceSpec {
    /// Names the source (query purpose `incidents:<name>`); letters, digits, `_`.
    pub name: Text,
    /// A PromQL vector selector: one series per incident, e.g.
    /// `support_ticket_open`, `up{job="api"}` (with `open_when: zero`) or
    /// `ALERTS{alertstate="firing"}`.
    pub selector: Text,
    /// Label naming the incident (a ticket number, an alert's incident id);
    /// default `incident`. Series with the same id are one incident.
    #[serde(default = "default_id_label")]
    pub id_label: String,
    /// Every incident of this source is of this class. Or:
    pub class: Option<Text>,
    /// Label naming the class of each incident; default `class` (when `class`
    /// is not given).
    pub class_label: Option<String>,
    /// Label naming the operator who is paid (or not) for the incident;
    /// default `operator`.
    #[serde(default = "default_operator_label")]
    pub operator_label: String,
    /// Label naming the incident's severity or priority, shown with it.
    pub severity_label: Option<String>,
    /// Which sample values mean "open"; default `nonzero`.
    #[serde(default)]
    pub open_when: OpenWhen,
    /// Interval of the series' samples (scrape or rule evaluation
    /// interval); default `source.step`. Samples more than 1.5 steps apart
    /// are not one run.
    pub step: Option<Dur>,
    pub description: Option<String>,
}

fn default_id_label() -> String {
    "incident".into()
}

fn default_operator_label() -> String {
    "operator".into()
}

impl IncidentSourceSpec {
    /// The label carrying the class, unless the source fixes the class.
    pub fn class_label(&self) -> Option<&str> {
        match (&self.class, &self.class_label) {
            (Some(_), _) => None,
            (None, Some(l)) => Some(l),
            (None, None) => Some("class"),
        }
    }
}

/// Which sample values of an incident source mean "the incident is open".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenWhen {
    /// Any value but 0 (a ticket gauge that is 1 while open and 0 or
    /// absent when closed; `ALERTS`, whose value is 1).
    #[default]
    Nonzero,
    /// The value 0 (a service's own `up`: 0 while it is down).
    Zero,
}

impl OpenWhen {
    pub fn is_open(self, value: f64) -> bool {
        match self {
            OpenWhen::Nonzero => value != 0.0 && !value.is_nan(),
            OpenWhen::Zero => value == 0.0,
        }
    }
}

/// A class of incidents and its targets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentClassSpec {
    /// The class id, as the source's class label gives it; letters, digits
    /// and `_` (it names the variables `incidents_<id>`,
    /// `respond_breaches_<id>` and `resolve_breaches_<id>`).
    pub id: Text,
    pub name: String,
    pub definition: Option<String>,
    /// Time from the incident's start to its acknowledgement; `0s` is
    /// "immediate": acknowledged by the time the incident is first seen.
    pub respond_within: Dur,
    /// Time from its start to its resolution; absent: no resolution target
    /// (the resolve verdict is `none`).
    pub resolve_within: Option<Dur>,
    /// Counts as a major incident (`major_incidents`, promotion checks).
    #[serde(default)]
    pub major: bool,
}
