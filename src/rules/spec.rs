//! The YAML rule files, mirrored by serde structs (the "spec" layer).
//! Every struct rejects unknown fields; expressions compile while reading
//! ([`Expr`]); names and references keep their position ([`Text`]) so the
//! loader can point at file:line:column for every later error.
//!
//! A rules directory holds any number of `*.yaml` files; each file has
//! `version: 1` and any of the sections below. The loader merges them and
//! rejects a section or id defined twice.

mod aggregate;
mod incident;
mod ledger;
mod scores;
mod states;
mod targets;

use super::expr::{Expr, Pos, Text};
use crate::money::{Dec, RoundingMode};
use crate::period::Dur;
pub use aggregate::{AggregateSpec, How, MAX_AGGREGATE_MONTHS, Over};
use chrono::NaiveDate;
pub use incident::{IncidentClassSpec, IncidentSourceSpec, OpenWhen};
pub use ledger::{AdjustmentSpec, DisputeSpec, DisputeStatus, NegativeBalance};
pub use scores::{AppliesTo, CriterionSpec, FlagSpec, ScaleSpec, ScoreSpec};
use serde::Deserialize;
use serde_saphyr::Spanned;
pub use states::{HoldAllSpec, PayeeState, StateSpec};
pub use targets::{AboveTarget, BelowTarget, CountTarget, TargetsSpec};

/// One rule file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Format version of the rule files; only `1` exists.
    pub version: u32,
    pub programme: Option<ProgrammeSpec>,
    pub source: Option<SourceSpec>,
    #[serde(default)]
    pub maintenance: Vec<MaintenanceSpec>,
    #[serde(default)]
    pub severities: Vec<SeveritySpec>,
    /// The on-call escalation ladder, lowest level first.
    #[serde(default)]
    pub escalation: Vec<EscalationLevelSpec>,
    /// Incidents that are not node outages: where they come from.
    #[serde(default)]
    pub incident_sources: Vec<IncidentSourceSpec>,
    /// Their classes and targets.
    #[serde(default)]
    pub incident_classes: Vec<IncidentClassSpec>,
    #[serde(default)]
    pub inputs: Vec<InputSpec>,
    pub missing_data: Option<MissingDataSpec>,
    #[serde(default)]
    pub operators: Vec<OperatorSpec>,
    #[serde(default)]
    pub partners: Vec<PartnerSpec>,
    /// Operator tiers and their pay lines.
    #[serde(default)]
    pub tiers: Vec<TierSpec>,
    /// Partner tiers and their pay lines (evaluated per partner).
    #[serde(default)]
    pub partner_tiers: Vec<TierSpec>,
    #[serde(default)]
    pub promotions: Vec<PromotionSpec>,
    /// Variables over several months (from the closed months).
    #[serde(default)]
    pub aggregates: Vec<AggregateSpec>,
    /// Named numbers per payee that are not money (see [`ScoreSpec`]).
    #[serde(default)]
    pub scores: Vec<ScoreSpec>,
    /// Named conditions per payee, reported (see [`FlagSpec`]).
    #[serde(default)]
    pub flags: Vec<FlagSpec>,
    /// Figures of months before the first close (see
    /// `crate::history::figures`): what aggregates, year to date and
    /// "eligible since" read for months no statement was closed for.
    #[serde(default)]
    pub opening_figures: Vec<crate::history::figures::MonthFigures>,
    /// The programme's targets, shown in the programme report.
    pub targets: Option<TargetsSpec>,
    /// Manual credits and debits per payee (see [`AdjustmentSpec`]).
    #[serde(default)]
    pub adjustments: Vec<AdjustmentSpec>,
    /// Payees' disputes of their lines (see [`DisputeSpec`]).
    #[serde(default)]
    pub disputes: Vec<DisputeSpec>,
}

/// Programme-wide settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeSpec {
    pub name: String,
    /// The programme's own version label (e.g. `2026-05`), shown on statements.
    pub version: Option<String>,
    /// ISO 4217 code; default USD.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// IANA zone of the pay period; default UTC.
    pub time_zone: Option<Text>,
    #[serde(default)]
    pub rounding: RoundingSpec,
    /// A month that ends below zero pays nothing; its balance is carried
    /// forward (default) or written off.
    #[serde(default)]
    pub negative_balance: NegativeBalance,
    /// The kill switch: every payout held while in force (see [`crate::rules::states`]).
    pub hold_all: Option<HoldAllSpec>,
}

fn default_currency() -> String {
    "USD".into()
}

/// The rounding rule: each pay line is rounded once to `decimals` with `mode`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoundingSpec {
    #[serde(default = "default_decimals")]
    pub decimals: u32,
    #[serde(default)]
    pub mode: RoundingMode,
}

impl Default for RoundingSpec {
    fn default() -> Self {
        RoundingSpec { decimals: default_decimals(), mode: RoundingMode::HalfEven }
    }
}

fn default_decimals() -> u32 {
    2
}

/// Where node availability comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// A PromQL vector selector whose series are 1 (up) or 0 (down), one per node.
    pub up: Text,
    /// Label naming the node; default `instance`.
    #[serde(default = "default_node_label")]
    pub node_label: String,
    /// Label naming the operator (the roster wins over it).
    pub operator_label: Option<String>,
    /// Label naming the region (the roster wins over it).
    pub region_label: Option<String>,
    /// Scrape interval of the `up` series; default 1m.
    #[serde(default = "default_step")]
    pub step: Dur,
    /// A node counts as failed after being offline longer than this; default 5m.
    #[serde(default = "default_failure_after")]
    pub failure_after: Dur,
    /// Optional PromQL selector, 1 while a node's performance is degraded (P3).
    pub degraded: Option<Text>,
}

fn default_node_label() -> String {
    "instance".into()
}
fn default_step() -> Dur {
    Dur(60)
}
fn default_failure_after() -> Dur {
    Dur(300)
}

/// A planned-downtime window: weekly, or once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceSpec {
    pub name: Text,
    /// Weekly: day of week (`monday` … `sunday`, or `mon` … `sun`).
    pub weekday: Option<Text>,
    /// Weekly: local start time `HH:MM`.
    pub at: Option<Text>,
    /// Weekly: how long.
    pub duration: Option<Dur>,
    /// Once: RFC 3339 start.
    pub from: Option<Text>,
    /// Once: RFC 3339 end.
    pub to: Option<Text>,
    /// Zone of `at`; default UTC.
    pub time_zone: Option<Text>,
    pub description: Option<String>,
}

/// A severity level, tried in order; the first whose `when` holds wins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeveritySpec {
    pub id: Text,
    pub name: String,
    pub definition: String,
    /// Condition over the incident variables (see the rules reference).
    pub when: Expr,
    pub respond_within: Dur,
    pub resolve_within: Dur,
    /// Counts as a major incident (promotion checks, `major_incidents`).
    #[serde(default)]
    pub major: bool,
}

/// One level of the on-call escalation ladder. An open incident that nobody
/// has acknowledged climbs the ladder: level `k` (1-based) is paged `after`
/// the level before it was paged (the first level: after the incident
/// opened). An incident stops climbing at the first level whose
/// `severities` leave its severity out, and when it is acknowledged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevelSpec {
    pub id: Text,
    pub name: String,
    /// Unacknowledged time after the previous level was paged.
    pub after: Dur,
    /// Severities this level is paged for; default all.
    pub severities: Option<Vec<Text>>,
    pub description: Option<String>,
}

impl EscalationLevelSpec {
    pub fn applies_to(&self, severity: &str) -> bool {
        self.severities.as_ref().is_none_or(|s| s.iter().any(|x| x.value == severity))
    }
}

/// A named PromQL input (revenue, trips, ratings …).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Variable name in expressions.
    pub name: Text,
    /// PromQL evaluated at the end of the window; `$__range` is replaced by
    /// the window length (e.g. `2678400s`).
    pub query: Text,
    /// What the result is keyed by.
    #[serde(default)]
    pub by: InputKey,
    /// Label carrying the key; default: the key's name (`operator`, `region` …).
    pub label: Option<String>,
    /// `money` inputs may be used by `percent` lines as an amount.
    #[serde(default)]
    pub unit: InputUnit,
    /// Value when the query succeeds but has no series for a key; default:
    /// unknown (lines that need it are withheld).
    pub default: Option<f64>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKey {
    #[default]
    Operator,
    Region,
    Partner,
    /// One value for everyone.
    Scalar,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputUnit {
    #[default]
    Number,
    Money,
}

/// What a line does when a node's data coverage is low.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingDataSpec {
    /// Coverage (known samples / expected) under which the policy applies.
    pub min_coverage: Dec,
    /// Default policy for lines that read availability variables.
    pub policy: MissingDataPolicy,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingDataPolicy {
    /// The line pays nothing and says it was withheld for missing data.
    Withhold,
    /// The line is computed on the known data alone.
    Evaluate,
}

/// An operator on the roster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    pub id: Text,
    pub name: String,
    pub email: Option<String>,
    /// Id of a tier in `tiers`: the operator's tier since `start`. Or:
    pub tier: Option<Text>,
    /// The tier history, oldest first, the first since `start` (see
    /// [`crate::rules::roster`] for which tier governs a period). Read it
    /// (and `tier`) through [`OperatorSpec::tier_in`].
    #[serde(default)]
    pub tiers: Vec<TierSince>,
    /// First day in the programme.
    pub start: NaiveDate,
    /// Last day in the programme (early termination), if any.
    pub end: Option<NaiveDate>,
    /// Certification date (shown in the report).
    pub certified: Option<NaiveDate>,
    /// Node ids this operator runs.
    #[serde(default)]
    pub nodes: Vec<Text>,
    /// Or: every node whose region label is this region.
    pub region: Option<Text>,
    /// Operator ids this operator mentors.
    #[serde(default)]
    pub mentees: Vec<Text>,
    /// Partner id that referred this operator.
    pub referred_by: Option<Text>,
    /// The enforcement history, oldest first (see [`crate::rules::states`]).
    #[serde(default)]
    pub states: Vec<StateSpec>,
}

/// One entry of an operator's tier history: `{tier: tier2, since: 2026-07-01}`.
#[derive(Debug, Clone)]
pub struct TierSince {
    /// Id of a tier in `tiers`.
    pub tier: Text,
    /// The day the operator started in this tier.
    pub since: NaiveDate,
    /// Where `since` is written.
    pub since_pos: Pos,
}

impl<'de> Deserialize<'de> for TierSince {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Written {
            tier: Text,
            since: Spanned<NaiveDate>,
        }
        let w = Written::deserialize(d)?;
        Ok(TierSince { tier: w.tier, since_pos: Pos::of(&w.since), since: w.since.value })
    }
}

/// A partner on the roster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerSpec {
    pub id: Text,
    pub name: String,
    pub email: Option<String>,
    /// Id of a tier in `partner_tiers`.
    pub tier: Text,
    pub start: NaiveDate,
    /// Last day in the programme, if any (a `terminated` state's day).
    pub end: Option<NaiveDate>,
    /// The enforcement history, oldest first (see [`crate::rules::states`]).
    #[serde(default)]
    pub states: Vec<StateSpec>,
}

/// A tier and its pay lines.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    pub id: Text,
    pub name: String,
    pub description: Option<String>,
    pub lines: Vec<LineSpec>,
    /// Ids of the lines that are not paid while a payee of the tier is
    /// `throttled` (see [`crate::rules::states`]).
    #[serde(default)]
    pub throttled_lines: Vec<Text>,
}

/// One pay line. Which fields apply depends on `kind` (see the rules reference).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineSpec {
    pub id: Text,
    pub name: String,
    pub kind: LineKind,
    /// What the line is for on statements (`stipend`, `uptime_bonus`, `deduction`,
    /// `commission` …); used to group payouts in the report.
    pub category: Option<String>,
    /// Condition; the line pays only when it holds.
    pub when: Option<Expr>,
    /// fixed, per_node, per_unit, steps: the amount (negative for deductions).
    pub amount: Option<Dec>,
    /// per_node: which of the payee's roster nodes count; default `seen`.
    pub nodes: Option<NodeCount>,
    /// per_unit: how many units.
    pub quantity: Option<Expr>,
    /// steps: the variable measured.
    pub over: Option<Expr>,
    /// steps: paid from this value up.
    pub above: Option<Dec>,
    /// steps: one step per this much above `above`.
    pub step: Option<Dec>,
    /// steps: at most this many steps.
    pub max_steps: Option<u32>,
    /// percent, band: the base the percentage applies to.
    pub of: Option<BaseSpec>,
    /// percent: the percentage (e.g. `2` for 2 %; negative for deductions).
    pub percent: Option<Dec>,
    /// percent: an extra ratio from an expression (prorating), default 1.
    pub ratio: Option<Expr>,
    /// multiplier: the factor applied to `of` (the line pays `(factor − 1) × of`).
    pub factor: Option<Expr>,
    /// band: the value that picks the band.
    pub by: Option<Expr>,
    /// band: the rows, first match wins.
    #[serde(default)]
    pub bands: Vec<BandSpec>,
    /// Largest amount the line may pay.
    pub cap: Option<Dec>,
    /// Smallest amount the line may pay (for deductions: the largest deduction).
    pub floor: Option<Dec>,
    /// Prorate by the share of the period the payee was active (joined or left mid-month).
    #[serde(default)]
    pub prorate: bool,
    /// The months the line is evaluated in; default every month.
    #[serde(default)]
    pub schedule: Schedule,
    /// Override of the missing-data policy for this line.
    pub missing_data: Option<MissingDataPolicy>,
    /// partner tiers: evaluate once per referred operator and add up.
    #[serde(default)]
    pub per_referral: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// `amount`.
    Fixed,
    /// `amount` × nodes: those seen in the period, or every roster node (`nodes`).
    PerNode,
    /// `amount` × `quantity`.
    PerUnit,
    /// `amount` × ⌊(`over` − `above`) / `step`⌋, at most `max_steps`.
    Steps,
    /// `percent` % × `ratio` × `of`.
    Percent,
    /// (`factor` − 1) × `of`.
    Multiplier,
    /// The first band whose range holds `by`: its `amount`, or its `percent` of `of`.
    Band,
}

/// The months a line is evaluated in. In the other months it is not paid
/// (`not_met`, "paid quarterly: next in 2026-12"): no condition is
/// evaluated and nothing is withheld. The programme year is the calendar
/// year.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Every month.
    #[default]
    Monthly,
    /// The last month of each calendar quarter: March, June, September, December.
    Quarterly,
    /// December, the last month of the calendar year.
    Annually,
}

impl Schedule {
    /// Months between two months the line is evaluated in.
    fn every(self) -> u32 {
        match self {
            Schedule::Monthly => 1,
            Schedule::Quarterly => 3,
            Schedule::Annually => 12,
        }
    }

    /// Whether the line is evaluated in calendar month `month` (1–12).
    pub fn is_due(self, month: u32) -> bool {
        month.is_multiple_of(self.every())
    }

    /// The first month from `month` (1–12) on in which the line is
    /// evaluated; always in the same year (December is due in every schedule).
    pub fn next_due(self, month: u32) -> u32 {
        month.div_ceil(self.every()) * self.every()
    }

    pub fn name(self) -> &'static str {
        match self {
            Schedule::Monthly => "monthly",
            Schedule::Quarterly => "quarterly",
            Schedule::Annually => "annually",
        }
    }

    /// The months it is evaluated in, in words.
    pub fn months(self) -> &'static str {
        match self {
            Schedule::Monthly => "every month",
            Schedule::Quarterly => "March, June, September and December",
            Schedule::Annually => "December",
        }
    }
}

/// Which roster nodes a `per_node` line counts.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeCount {
    /// Nodes seen in the period: at least one sample, up or down, outside
    /// maintenance windows in the evaluated window. A node that only
    /// reported down is seen; one heard only inside maintenance windows
    /// (which count no samples) or not at all is not, and the line names it.
    #[default]
    Seen,
    /// Every node on the payee's roster, with samples or without.
    Roster,
}

/// The base of a percentage: other lines of the same tier, or a money input.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseSpec {
    /// Ids of earlier lines of the same tier (their rounded amounts are added).
    #[serde(default)]
    pub lines: Vec<Text>,
    /// A `money` input.
    pub input: Option<Text>,
}

/// A band: `from` ≤ value < `to` (either side open when absent).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandSpec {
    pub from: Option<Dec>,
    pub to: Option<Dec>,
    pub amount: Option<Dec>,
    pub percent: Option<Dec>,
    pub label: Option<String>,
}

/// Promotion eligibility from one tier to the next.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionSpec {
    pub from: Text,
    pub to: Text,
    pub checks: Vec<CheckSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub name: String,
    pub when: Expr,
}
