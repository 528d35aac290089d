//! The evaluation: what the engine computes for one period, as plain data.
//! Every edge (table/JSON/CSV output, `/metrics`, statements) renders this.
//! Amounts are `Decimal` and serialize as decimal strings; collections are
//! sorted so that the same input gives the same bytes.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod scores;
pub use scores::{CriterionResult, FlagResult, ScoreResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// `YYYY-MM`.
    pub period: String,
    pub time_zone: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// End of the data window: `min(period_end, evaluated_at)`.
    pub window_end: DateTime<Utc>,
    pub evaluated_at: DateTime<Utc>,
    /// The evaluation covers the whole period (`window_end == period_end`).
    pub complete: bool,
    pub programme: String,
    pub currency: String,
    pub rules_sha256: String,
    pub fleet: Availability,
    pub regions: Vec<RegionResult>,
    pub nodes: Vec<NodeResult>,
    pub incidents: Vec<Incident>,
    pub severities: Vec<SeveritySummary>,
    /// Incidents of the rules' incident classes (tickets, service outages,
    /// alerts), sorted by (start, id); node outages are `incidents`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_incidents: Vec<ClassIncident>,
    /// One summary per incident class, in rules order; none without classes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassSummary>,
    pub operators: Vec<Statement>,
    pub partners: Vec<Statement>,
    /// Sum of all operator and partner totals.
    pub total: Decimal,
    /// Sum of what is paid to every payee this month (their `payable`);
    /// `None` while any payee's is not known.
    #[serde(default)]
    pub payable: Option<Decimal>,
    /// Things a reader must know (inputs that failed, nodes not on the roster …).
    pub warnings: Vec<String>,
    /// Leakage (seed 003): what the roster and the data disagree on, and pay
    /// with no node seen behind it. Empty in statements written before it.
    #[serde(default)]
    pub leakage: Leakage,
    /// The kill switch (rules `programme.hold_all`) when it is in force this
    /// period: every payee's payout is held (see [`Ledger::holds`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_all: Option<StateInForce>,
}

/// Leakage (seed 003), each list sorted. The node findings also have their
/// warning lines; a finding is about this period's window only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Leakage {
    /// Nodes on the roster (`operators[].nodes`) of an operator in the
    /// programme this period with no series at all in the window.
    pub roster_nodes_without_data: Vec<LeakageNode>,
    /// Nodes with data that no roster claims (neither listed nor in a roster
    /// region), except those of an operator the roster gives no nodes or
    /// region (counted by their label).
    pub unrostered_nodes: Vec<LeakageNode>,
    /// Payees with a total above 0 none of whose nodes was seen (a sample, up
    /// or down, outside maintenance) in the window.
    pub paid_without_active_node: Vec<PaidWithoutActiveNode>,
}

impl Leakage {
    /// No finding of any kind.
    pub fn is_empty(&self) -> bool {
        self.roster_nodes_without_data.is_empty()
            && self.unrostered_nodes.is_empty()
            && self.paid_without_active_node.is_empty()
    }
}

/// A node of a leakage finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeakageNode {
    pub node: String,
    /// Roster nodes: the operator whose roster lists it. Unrostered nodes:
    /// the series' operator label, if any.
    pub operator: Option<String>,
    pub region: Option<String>,
}

/// A payee paid this period with no active node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaidWithoutActiveNode {
    /// `operator` or `partner`.
    pub payee_kind: String,
    pub payee: String,
    /// The payee's total this period.
    pub amount: Decimal,
    /// The payee's nodes (`Statement.nodes`), none of them seen; empty when
    /// it has none.
    pub nodes: Vec<String>,
}

/// Availability over a set of nodes, maintenance excluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Availability {
    pub nodes: u64,
    pub up_seconds: i64,
    pub down_seconds: i64,
    pub unknown_seconds: i64,
    pub maintenance_seconds: i64,
    /// up / (up + down); `None` without any data.
    pub uptime: Option<Decimal>,
    /// (up + down) / expected; 0 without any expected time.
    pub coverage: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionResult {
    pub region: String,
    #[serde(flatten)]
    pub availability: Availability,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeResult {
    pub node: String,
    pub operator: Option<String>,
    pub region: Option<String>,
    #[serde(flatten)]
    pub availability: Availability,
    /// Incidents this node was part of.
    pub incidents: u64,
    /// Start of the node's last outage when it is still down at the window
    /// end (`facts.nodes[].outages[].ongoing`); `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within target.
    Met,
    /// Over target.
    Breached,
    /// Still open and not yet over target.
    Open,
    /// Cannot be decided (e.g. no acknowledgement source).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Stable id: `<severity>-<start as YYYYMMDDTHHMMZ>-<first node>`.
    pub id: String,
    pub severity: String,
    /// First down sample of its first node (degraded: the interval's
    /// start); downtime, duration and the resolve target count from it.
    pub start: DateTime<Utc>,
    /// When the incident paged (the failure was detected): a node down
    /// `source.failure_after` outside maintenance, i.e. the first down
    /// sample + `failure_after`; a degraded incident pages at its start.
    /// The response clock, the respond target and the escalation ladder
    /// count from it.
    pub paged_at: DateTime<Utc>,
    /// `None` while open.
    pub end: Option<DateTime<Utc>>,
    /// Duration outside maintenance windows, up to `end` or the window end.
    pub duration_seconds: i64,
    pub nodes: Vec<String>,
    pub regions: Vec<String>,
    pub operators: Vec<String>,
    /// Most nodes down at the same time.
    pub max_nodes_down: u64,
    pub respond_target_seconds: i64,
    pub resolve_target_seconds: i64,
    /// First acknowledgement of one of its nodes from its start on (before
    /// the next incident of those nodes).
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Seconds from `paged_at` to `acknowledged_at` (0 when acknowledged
    /// before the page); `None` when not acknowledged.
    pub response_seconds: Option<i64>,
    /// Met: acknowledged within the respond target (from the page);
    /// breached: acknowledged later, or not acknowledged once the target
    /// has passed (resolved or not); open: not acknowledged, target not
    /// passed yet; unknown: no acknowledgement source.
    pub respond_verdict: Verdict,
    pub resolve_verdict: Verdict,
    /// Escalation level reached (1-based, see the rules' `escalation`,
    /// climbing from `paged_at`) before the incident was acknowledged,
    /// resolved or the window ended;
    /// 0 without a ladder (or before its first level is due).
    pub escalation_level: u32,
    /// Id of that level; `None` at level 0.
    pub escalation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeveritySummary {
    pub severity: String,
    pub name: String,
    pub incidents: u64,
    pub open: u64,
    /// Mean duration of resolved incidents; `None` without any.
    pub mttr_seconds: Option<Decimal>,
    pub resolve_breaches: u64,
    pub respond_breaches: u64,
    /// Mean `response_seconds` (page to acknowledgement) of the
    /// acknowledged incidents; `None` without any. (The operators'
    /// `avg_response_seconds` counts the unacknowledged ones too.)
    pub mean_response_seconds: Option<Decimal>,
}

// ------------------------------------------------- incident classes
// Incidents of the rules' incident classes (support tickets, service
// outages, firing alerts read from `incident_sources`); node outages are
// `Incident`s, by severity.

impl Verdict {
    /// The verdict as written in JSON and the rule tests: `met`, `breached`, `open`, `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Breached => "breached",
            Verdict::Open => "open",
            Verdict::Unknown => "unknown",
        }
    }
}

/// One incident of an incident class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassIncident {
    /// Stable id: `<class>-<start as YYYYMMDDTHHMMZ>-<key>`.
    pub id: String,
    pub class: String,
    /// The incident source it was read from.
    pub source: String,
    /// Its id in the source (the `id_label` value: a ticket number …).
    pub key: String,
    /// The source's severity label, if it has one.
    pub severity: Option<String>,
    /// The payee: the operator label; `None` without one.
    pub operator: Option<String>,
    /// Its first open sample.
    pub start: DateTime<Utc>,
    /// Its last open sample + the source's step; `None` while open.
    pub end: Option<DateTime<Utc>>,
    /// Wall-clock time from `start` to `end` (the window end while open).
    pub duration_seconds: i64,
    pub respond_target_seconds: i64,
    /// `None`: the class has no resolve target.
    pub resolve_target_seconds: Option<i64>,
    /// First acknowledgement naming it (its id or its key) from the end of
    /// the previous incident of the same key on (the window start for the
    /// first), before the next one's start.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Seconds from `start` to `acknowledged_at` (0 when acknowledged
    /// before it was first seen); `None` when not acknowledged.
    pub response_seconds: Option<i64>,
    /// Met: acknowledged within the respond target, or, never
    /// acknowledged, resolved within it; breached: acknowledged later, or
    /// not acknowledged once the target passed; open: neither yet;
    /// unknown: no acknowledgement source.
    pub respond_verdict: Verdict,
    /// `None` for a class without a resolve target.
    pub resolve_verdict: Option<Verdict>,
}

/// One incident class over the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassSummary {
    pub class: String,
    pub name: String,
    pub respond_target_seconds: i64,
    /// `None`: the class has no resolve target.
    pub resolve_target_seconds: Option<i64>,
    pub incidents: u64,
    pub open: u64,
    /// Mean duration of the resolved incidents; `None` without any.
    pub mttr_seconds: Option<Decimal>,
    pub respond_breaches: u64,
    pub resolve_breaches: u64,
    /// Mean `response_seconds` of the acknowledged incidents; `None` without any.
    pub mean_response_seconds: Option<Decimal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    /// Condition held; `amount` is paid (may be 0 or negative).
    Paid,
    /// Condition did not hold; amount 0.
    NotMet,
    /// Not decided for lack of data (coverage, failed input, no acknowledgements); amount 0.
    Withheld,
    /// The rules could not be evaluated for this payee (an expression failed); amount 0.
    Error,
}

/// The `kind` and `category` of a line that is an adjustment kept in git
/// (rules `adjustments:`), not a pay line of a tier.
pub const ADJUSTMENT: &str = "adjustment";

/// One pay line of one payee, with why it came out as it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayLine {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub category: String,
    pub status: LineStatus,
    /// Rounded with the programme's rule; 0 unless `Paid`.
    pub amount: Decimal,
    /// The formula with its numbers, e.g. `500 × 2 nodes = 1000.00 (not
    /// counted: n3, no samples in the period)`.
    pub formula: String,
    /// Why: condition and outcome, or what data was missing (and, for a
    /// per_node line, which roster nodes it did not count).
    pub reason: String,
    /// Inputs read, as text (decimal values, booleans).
    pub inputs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    pub to: String,
    pub eligible: bool,
    /// First month of the unbroken run of eligible months that ends with
    /// this one (`YYYY-MM`), from the closed months; `None` when not eligible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible_since: Option<String>,
    /// Why the run may have started earlier (a month before it is not closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible_since_note: Option<String>,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    /// `None` when it could not be decided.
    pub passed: Option<bool>,
    pub detail: String,
}

/// One payee's month: an operator or a partner.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    /// The tier governing the period (for an operator with a tier history:
    /// the one in force on its first day in the programme this period).
    pub tier: String,
    /// Operators: the day the roster says `tier` started (`start` for a
    /// single tier); absent for partners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_since: Option<NaiveDate>,
    pub region: Option<String>,
    /// Nodes (operators) or nodes run by referred operators (partners).
    pub nodes: Vec<String>,
    pub availability: Availability,
    pub lines: Vec<PayLine>,
    /// Sum of `lines[].amount`.
    pub total: Decimal,
    pub promotion: Option<Promotion>,
    /// This calendar year's pay to date, this month included.
    #[serde(default)]
    pub year_to_date: YearToDate,
    /// What is paid and what is carried (in the statement's JSON, its
    /// fields are the statement's own).
    #[serde(flatten)]
    pub ledger: Ledger,
    /// Every variable the rules could read for this payee (inputs and
    /// aggregates included), so that later months can aggregate them;
    /// `None`: no value this month.
    #[serde(default)]
    pub variables: BTreeMap<String, Option<Recorded>>,
    /// The payee's scores (rules `scores:`), in the order written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<ScoreResult>,
    /// The payee's flags (rules `flags:`), in the order written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<FlagResult>,
}

/// A variable's value as a statement records it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Recorded {
    Bool(bool),
    Num(f64),
}

/// A payee's pay this calendar year, from the closed months and this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct YearToDate {
    /// The months counted (`YYYY-MM`), this one included.
    pub months: Vec<String>,
    /// Months of the year the payee was in the programme that are not
    /// closed: with any, the figures are unknown (never guessed).
    pub missing: Vec<String>,
    /// Per pay line id (lines of earlier tiers included); empty while months are missing.
    pub lines: BTreeMap<String, Decimal>,
    /// `None` while months are missing.
    pub total: Option<Decimal>,
}

/// A payee's month in the ledger: `total` is the sum of the lines; nothing
/// negative is paid. `payable` = max(0, `balance_in` + `total`); what is
/// below zero is carried into the next month (`balance_out`, the default)
/// or written off (`programme.negative_balance`). Balances are ≤ 0: what
/// the payee owes. `None`: not known, for the reason in `balance_unknown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Ledger {
    /// Carried in from the month before (its `balance_out`); 0 in the payee's first month.
    #[serde(default)]
    pub balance_in: Option<Decimal>,
    /// Paid this month: `balance_in` + `total`, at least 0.
    #[serde(default)]
    pub payable: Option<Decimal>,
    /// Carried into the next month: `balance_in` + `total` when below 0
    /// (0 when written off).
    #[serde(default)]
    pub balance_out: Option<Decimal>,
    /// Written off this month (≥ 0; `negative_balance: write_off` only).
    #[serde(default)]
    pub written_off: Option<Decimal>,
    /// Why the balance carried in is not known, naming the month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_unknown: Option<String>,
    /// The payee's disputes open at the evaluation time (rules `disputes:`), by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disputes: Vec<OpenDispute>,
    /// The payee's enforcement states governing the period (roster
    /// `states:`, in force on any day of it; see `crate::rules::states`),
    /// oldest first. Empty: in good standing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<StateInForce>,
    /// Why the payout is held this period: the kill switch
    /// (`programme_hold`) and/or a suspension (`suspended`). Held: nothing
    /// is payable; what would be is carried in `held_out`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<StateInForce>,
    /// Held in earlier months and carried in (> 0): paid with this month's
    /// pay unless this month is held too. `None`: nothing held (0), or not
    /// known while `payable` is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_in: Option<Decimal>,
    /// Held at the end of this month and carried into the next (≥ 0): what
    /// would be payable (`held_in` included) when the month is held.
    /// `None`: nothing held (0), or not known while `payable` is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out: Option<Decimal>,
}

impl Ledger {
    /// The payout is held this period.
    pub fn held(&self) -> bool {
        !self.holds.is_empty()
    }
}

/// A state of enforcement in force in the period: one of a payee's
/// (`warned`, `throttled`, `suspended`, `terminated`) or the programme's
/// kill switch (`programme_hold`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateInForce {
    pub state: String,
    /// The first day in force.
    pub since: NaiveDate,
    /// The last day in force, if it is known (`until`, or the day before
    /// the payee's next state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    pub reason: String,
}

/// The `state` of the kill switch in [`Ledger::holds`] and [`Evaluation::hold_all`].
pub const PROGRAMME_HOLD: &str = "programme_hold";

/// A dispute of one of the payee's lines, open at the evaluation time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDispute {
    pub id: String,
    /// The month disputed (`YYYY-MM`).
    pub period: String,
    /// The line disputed: a pay line or an adjustment id.
    pub line: String,
    pub opened_on: NaiveDate,
    pub opened_by: String,
    pub text: String,
    /// From the start of `opened_on` (programme time zone) to the evaluation time.
    pub age_seconds: i64,
    /// Whole days of `age_seconds`.
    pub age_days: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_name_is_its_json() {
        for v in [Verdict::Met, Verdict::Breached, Verdict::Open, Verdict::Unknown] {
            assert_eq!(serde_json::to_value(v).unwrap(), v.name());
        }
    }
}
