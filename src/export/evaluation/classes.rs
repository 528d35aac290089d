//! The incident classes' metric families (`fleet_incentives_class_*`):
//! per class, and per open incident of a class. Node outages are the
//! per-severity families. Without incident classes, every family is empty
//! (and so left out).

use crate::evaluation::{ClassIncident, Evaluation};
use crate::export::unix;
use crate::money::to_f64;

/// A label set, in the contract's label order.
pub(super) type LabelSet = Vec<(&'static str, String)>;

/// One gauge family: its name (without the unit suffix), help, whether it
/// is in seconds, and its samples in the evaluation's order.
pub(super) struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub seconds: bool,
    pub samples: Vec<(LabelSet, f64)>,
}

fn family<R>(
    name: &'static str,
    help: &'static str,
    seconds: bool,
    rows: &[(LabelSet, &R)],
    value: impl Fn(&R) -> Option<f64>,
) -> Family {
    let samples = rows.iter().filter_map(|(labels, row)| Some((labels.clone(), value(row)?))).collect();
    Family { name, help, seconds, samples }
}

/// The class families of `eval`.
pub(super) fn families(eval: &Evaluation) -> Vec<Family> {
    let classes: Vec<_> = eval.classes.iter().map(|c| (vec![("class", c.class.clone())], c)).collect();
    let breaches = eval
        .classes
        .iter()
        .flat_map(|c| {
            let respond = Some((vec![("class", c.class.clone()), ("target", "respond".into())], c.respond_breaches));
            let resolve = c
                .resolve_target_seconds
                .map(|_| (vec![("class", c.class.clone()), ("target", "resolve".into())], c.resolve_breaches));
            [respond, resolve]
        })
        .flatten()
        .map(|(l, n)| (l, n as f64))
        .collect();
    let open: Vec<(LabelSet, &ClassIncident)> = eval
        .class_incidents
        .iter()
        .filter(|i| i.end.is_none())
        .map(|i| {
            let labels = vec![
                ("incident", i.id.clone()),
                ("class", i.class.clone()),
                ("severity", i.severity.clone().unwrap_or_default()),
                ("operator", i.operator.clone().unwrap_or_default()),
            ];
            (labels, i)
        })
        .collect();
    vec![
        family("class_incidents", "Incidents of the class this period, open or resolved", false, &classes, |c| {
            Some(c.incidents as f64)
        }),
        family("class_incidents_open", "Incidents of the class open at the window end", false, &classes, |c| {
            Some(c.open as f64)
        }),
        family(
            "class_incident_mttr",
            "Mean time to resolve the class's incidents this period; absent without a resolved one",
            true,
            &classes,
            |c| c.mttr_seconds.map(to_f64),
        ),
        family(
            "class_incident_mean_response",
            "Mean acknowledgement delay of the class's acknowledged incidents this period; absent without one",
            true,
            &classes,
            |c| c.mean_response_seconds.map(to_f64),
        ),
        Family {
            name: "class_sla_breaches",
            help: "Incidents of the class over their respond or resolve target this period (resolve: classes with a target)",
            seconds: false,
            samples: breaches,
        },
        family("class_incident_start_timestamp", "Start of an open incident of a class", true, &open, |i| {
            Some(unix(i.start))
        }),
        family(
            "class_incident_respond_deadline_timestamp",
            "When an open incident of a class must be acknowledged: its start plus the class's respond target",
            true,
            &open,
            |i| Some(unix(i.start) + i.respond_target_seconds as f64),
        ),
        family(
            "class_incident_resolve_deadline_timestamp",
            "When an open incident of a class must be resolved: its start plus the class's resolve target; absent without one",
            true,
            &open,
            |i| Some(unix(i.start) + i.resolve_target_seconds? as f64),
        ),
        family(
            "class_incident_acknowledged_timestamp",
            "When an open incident of a class was acknowledged; absent until it is",
            true,
            &open,
            |i| i.acknowledged_at.map(unix),
        ),
    ]
}
