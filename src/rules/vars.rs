//! The variables expressions may read, per context. The loader rejects any
//! other name at load time; the engine sets exactly these (a value, or
//! `Unknown` when it has none this period). Input names are added to the
//! operator and partner contexts.

/// Incident variables, for `severities[].when`.
pub const INCIDENT: &[(&str, &str)] = &[
    ("nodes_down", "most nodes of the incident down at the same time"),
    ("fleet_nodes", "nodes in the fleet"),
    ("fleet_down_ratio", "nodes_down / fleet_nodes at the worst moment"),
    ("region_down_ratio", "largest share of one region's nodes down at the same time"),
    ("regions_affected", "regions with at least one node down in the incident"),
    ("duration_seconds", "incident duration so far"),
    ("degraded", "true when the incident comes from the degraded-performance input"),
];

/// Operator variables, for tier lines, promotion checks and `per_referral` lines.
pub const OPERATOR: &[(&str, &str)] = &[
    ("nodes", "nodes the operator runs (on the roster, seen or not)"),
    ("seen_nodes", "of which seen in the period: at least one sample, up or down, outside maintenance"),
    ("uptime", "up / (up + down) over the operator's nodes, 0–1 (unknown without data)"),
    ("coverage", "(up + down) / expected samples over the operator's nodes, 0–1"),
    ("downtime_seconds", "down time outside maintenance"),
    ("unknown_seconds", "time without samples outside maintenance"),
    ("fleet_uptime", "uptime of the whole fleet"),
    ("region_uptime", "uptime of the operator's region (unknown without region)"),
    ("incidents", "incidents involving the operator's nodes"),
    ("major_incidents", "of which severities marked major, plus the operator's incidents of classes marked major"),
    ("incidents_P0", "incidents of severity P0 (one variable per severity id)"),
    ("resolve_breaches", "incidents resolved later than their severity's target"),
    (
        "respond_breaches",
        "incidents acknowledged later than their respond target after the page, or never acknowledged once it passed (unknown without acknowledgements)",
    ),
    ("mttr_seconds", "mean time to resolve the operator's incidents (unknown without incidents)"),
    (
        "avg_response_seconds",
        "mean response time over all the operator's incidents, from the page (first down sample + failure_after) to the acknowledgement; one never acknowledged (or acknowledged only after it ended) counts its time from the page to its resolution, or to the window end while open (unknown without acknowledgements or incidents)",
    ),
    ("tenure_months", "month of the programme this period is for the operator: 1 in the start month"),
    (
        "tier_months",
        "month of its current tier this period is for the operator: 1 in the month the tier took effect (a tier \
         started after the 1st takes effect the next month; a single `tier:` counts from the start month, as \
         tenure_months)",
    ),
    ("active_days", "days of the period the operator was in the programme"),
    ("period_days", "days in the period"),
    ("active_ratio", "active_days / period_days"),
    ("terminated", "true if the operator's end date falls in this period"),
    ("mentees", "mentees on the roster active in the period"),
    (
        "mentees_successful",
        "mentees ever on the operator's list (active this period or not) who mentored successfully: by the \
         period's end they completed their sixth programme month (tenure_months 6, the start month being 1) without \
         leaving within those six months (the churn-rebate window), or their tier history moved them on from their \
         first tier (a promotion) in this period or earlier",
    ),
    ("period_month", "calendar month of the period, 1–12"),
    ("referred", "true if a partner referred this operator"),
];

/// Operator variables per incident class of `incident_classes` (`<class>`
/// stands for the class id): the class' incidents whose payee is the
/// operator. Node outages count in the variables above, by severity.
pub const CLASS: &[(&str, &str)] = &[
    ("incidents_<class>", "incidents of the class whose payee is the operator, open or resolved"),
    (
        "respond_breaches_<class>",
        "of which acknowledged later than the class' respond_within after their start, or not acknowledged once it \
         passed (one resolved within it without an acknowledgement was responded to by its resolution); unknown \
         without acknowledgements",
    ),
    (
        "resolve_breaches_<class>",
        "of which resolved later than the class' resolve_within, or still open past it; 0 for a class without \
         resolve_within",
    ),
];

/// The names of the [`CLASS`] variables of class `id`.
pub fn class_vars(id: &str) -> Vec<String> {
    CLASS.iter().map(|(n, _)| n.replace("<class>", id)).collect()
}

/// Partner variables, for partner tier lines (with `per_referral`, the
/// referred operator's variables are available too).
pub const PARTNER: &[(&str, &str)] = &[
    ("referrals", "operators this partner referred, active this period"),
    ("referrals_12m", "operators this partner referred who started in the last 12 months"),
    ("retention", "share of operators ever referred who are still active, 0–1"),
    (
        "retention_12m",
        "of the operators this partner referred who were in the programme on any day of the last 12 months (this \
         one included), the share still in it at the period's end, 0–1",
    ),
    ("partner_nodes", "nodes run by the operators this partner referred"),
    ("partner_tenure_months", "month of the programme this period is for the partner"),
    ("period_month", "calendar month of the period, 1–12"),
];

/// Is `name` an operator variable, given the severity ids?
pub fn is_operator_var(name: &str, severity_ids: &[String]) -> bool {
    OPERATOR.iter().any(|(n, _)| *n == name)
        || name.strip_prefix("incidents_").is_some_and(|id| severity_ids.iter().any(|s| s == id))
}

pub fn is_incident_var(name: &str) -> bool {
    INCIDENT.iter().any(|(n, _)| *n == name)
}

pub fn is_partner_var(name: &str) -> bool {
    PARTNER.iter().any(|(n, _)| *n == name)
}
