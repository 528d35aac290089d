//! The incident classes' metric families (`fleet_incentives_class_*`):
//! per class, and per open incident of a class. Node outages are the
//! per-severity families. Without incident classes, none is written.

use super::{Builder, unix};
use crate::evaluation::{ClassIncident, Evaluation};
use crate::money::to_f64;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::registry::Unit;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabels {
    class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassBreachLabels {
    class: String,
    /// `respond` or `resolve`.
    target: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassIncidentLabels {
    incident: String,
    class: String,
    /// The source's severity label, `""` without one.
    severity: String,
    /// The payee, `""` without one.
    operator: String,
}

/// Register the class families of `eval` in `b`.
pub(super) fn register(b: &mut Builder, eval: &Evaluation) {
    let seconds = || Some(Unit::Seconds);
    let classes: Vec<_> = eval.classes.iter().map(|c| (ClassLabels { class: c.class.clone() }, c)).collect();
    b.per("class_incidents", "Incidents of the class this period, open or resolved", None, &classes, |c| {
        Some(c.incidents as f64)
    });
    b.per("class_incidents_open", "Incidents of the class open at the window end", None, &classes, |c| {
        Some(c.open as f64)
    });
    b.per(
        "class_incident_mttr",
        "Mean time to resolve the class's incidents this period; absent without a resolved one",
        seconds(),
        &classes,
        |c| c.mttr_seconds.map(to_f64),
    );
    b.per(
        "class_incident_mean_response",
        "Mean acknowledgement delay of the class's acknowledged incidents this period; absent without one",
        seconds(),
        &classes,
        |c| c.mean_response_seconds.map(to_f64),
    );
    b.gauge(
        "class_sla_breaches",
        "Incidents of the class over their respond or resolve target this period (resolve: classes with a target)",
        None,
        eval.classes
            .iter()
            .flat_map(|c| {
                let respond = (ClassBreachLabels { class: c.class.clone(), target: "respond" }, c.respond_breaches);
                let resolve = (ClassBreachLabels { class: c.class.clone(), target: "resolve" }, c.resolve_breaches);
                [Some(respond), c.resolve_target_seconds.map(|_| resolve)]
            })
            .flatten()
            .map(|(l, n)| (l, n as f64))
            .collect(),
    );

    let open: Vec<(ClassIncidentLabels, &ClassIncident)> = eval
        .class_incidents
        .iter()
        .filter(|i| i.end.is_none())
        .map(|i| {
            let labels = ClassIncidentLabels {
                incident: i.id.clone(),
                class: i.class.clone(),
                severity: i.severity.clone().unwrap_or_default(),
                operator: i.operator.clone().unwrap_or_default(),
            };
            (labels, i)
        })
        .collect();
    b.per("class_incident_start_timestamp", "Start of an open incident of a class", seconds(), &open, |i| {
        Some(unix(i.start))
    });
    b.per(
        "class_incident_respond_deadline_timestamp",
        "When an open incident of a class must be acknowledged: its start plus the class's respond target",
        seconds(),
        &open,
        |i| Some(unix(i.start) + i.respond_target_seconds as f64),
    );
    b.per(
        "class_incident_resolve_deadline_timestamp",
        "When an open incident of a class must be resolved: its start plus the class's resolve target; absent without one",
        seconds(),
        &open,
        |i| Some(unix(i.start) + i.resolve_target_seconds? as f64),
    );
    b.per(
        "class_incident_acknowledged_timestamp",
        "When an open incident of a class was acknowledged; absent until it is",
        seconds(),
        &open,
        |i| i.acknowledged_at.map(unix),
    );
}
