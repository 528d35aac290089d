//! Times written in rule files: time zone names and maintenance windows
//! (weekly, or once), parsed into [`Maintenance`] or reported at the field.

use super::errors::Errors;
use crate::rules::expr::Text;
use crate::rules::model::Maintenance;
use crate::rules::spec::MaintenanceSpec;
use chrono::{DateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

/// A time zone name (default UTC); None after reporting a bad one.
pub(super) fn time_zone(file: usize, tz: Option<&Text>, errs: &mut Errors) -> Option<Tz> {
    let Some(tz) = tz else { return Some(Tz::UTC) };
    let parsed = tz.value.parse::<Tz>();
    if parsed.is_err() {
        let message = format!("unknown time zone `{tz}`; use an IANA name such as `UTC` or `Europe/Berlin`");
        errs.at(file, tz.pos, message);
    }
    parsed.ok()
}

/// A validated maintenance window; None after reporting its errors.
pub(super) fn maintenance(file: usize, w: &MaintenanceSpec, errs: &mut Errors) -> Option<Maintenance> {
    let weekly = w.weekday.is_some() || w.at.is_some() || w.duration.is_some();
    let once = w.from.is_some() || w.to.is_some();
    match (weekly, once) {
        (true, false) => weekly_window(file, w, errs),
        (false, true) => once_window(file, w, errs),
        _ => {
            let message = format!(
                "maintenance `{}`: give either `weekday`, `at` and `duration` (weekly) or `from` and `to` (once)",
                w.name
            );
            errs.at(file, w.name.pos, message);
            None
        }
    }
}

/// Report a missing field of a maintenance window.
fn need<'a, T>(file: usize, w: &MaintenanceSpec, field: &str, v: &'a Option<T>, errs: &mut Errors) -> Option<&'a T> {
    if v.is_none() {
        errs.at(file, w.name.pos, format!("maintenance `{}` needs `{field}`", w.name));
    }
    v.as_ref()
}

fn weekly_window(file: usize, w: &MaintenanceSpec, errs: &mut Errors) -> Option<Maintenance> {
    let time_zone = time_zone(file, w.time_zone.as_ref(), errs);
    let weekday = need(file, w, "weekday", &w.weekday, errs).and_then(|d| {
        let parsed = d.value.parse::<Weekday>().ok();
        if parsed.is_none() {
            errs.at(file, d.pos, format!("unknown weekday `{d}`; use `monday` … `sunday` or `mon` … `sun`"));
        }
        parsed
    });
    let at = need(file, w, "at", &w.at, errs).and_then(|at| {
        let parsed = NaiveTime::parse_from_str(&at.value, "%H:%M").ok();
        if parsed.is_none() {
            errs.at(file, at.pos, format!("invalid time `{at}`; use `HH:MM`, e.g. `02:00`"));
        }
        parsed
    });
    let duration_seconds = need(file, w, "duration", &w.duration, errs).and_then(|d| {
        let ok = d.seconds() > 0 && d.seconds() <= 7 * 86_400;
        if !ok {
            errs.at(file, w.name.pos, format!("maintenance `{}`: `duration` must be above 0 and at most 7d", w.name));
        }
        ok.then_some(d.seconds())
    });
    Some(Maintenance::Weekly {
        name: w.name.value.clone(),
        weekday: weekday?,
        at: at?,
        duration_seconds: duration_seconds?,
        time_zone: time_zone?,
    })
}

fn rfc3339(file: usize, t: &Text, errs: &mut Errors) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(&t.value).ok().map(|d| d.with_timezone(&Utc));
    if parsed.is_none() {
        errs.at(file, t.pos, format!("invalid time `{t}`; use RFC 3339, e.g. `2026-05-06T22:00:00Z`"));
    }
    parsed
}

fn once_window(file: usize, w: &MaintenanceSpec, errs: &mut Errors) -> Option<Maintenance> {
    if let Some(tz) = &w.time_zone {
        errs.at(file, tz.pos, format!("maintenance `{}`: `time_zone` applies to weekly windows only", w.name));
    }
    let from = need(file, w, "from", &w.from, errs).and_then(|t| rfc3339(file, t, errs));
    let to = need(file, w, "to", &w.to, errs).and_then(|t| rfc3339(file, t, errs));
    let (from, to) = (from?, to?);
    if from >= to {
        let pos = w.to.as_ref().map_or(w.name.pos, |t| t.pos);
        errs.at(file, pos, format!("maintenance `{}`: `to` must be after `from`", w.name));
        return None;
    }
    Some(Maintenance::Once { name: w.name.value.clone(), from, to })
}

#[cfg(test)]
mod tests {
    use super::super::load_files;
    use super::super::test_support::*;
    use super::*;
    use std::path::Path;

    #[test]
    fn an_unknown_time_zone_is_reported_at_its_name() {
        let files = edited("programme.yaml", "time_zone: UTC", "time_zone: Europe/Berln");
        let errs = errors(&files);
        assert_one(
            &errs,
            "programme.yaml",
            pos(&files, "programme.yaml", "Europe/Berln"),
            &["unknown time zone `Europe/Berln`"],
        );
    }

    #[test]
    fn a_maintenance_window_is_weekly_or_once_and_its_fields_are_checked() {
        let files = edited("programme.yaml", "weekday: sunday", "weekday: sundy, from: 2026-05-01T00:00:00Z");
        let errs = errors(&files);
        assert_one(&errs, "programme.yaml", pos(&files, "programme.yaml", "weekly"), &["give either `weekday`"]);
        let files = edited("programme.yaml", "weekday: sunday", "weekday: sundy");
        assert_one(
            &errors(&files),
            "programme.yaml",
            pos(&files, "programme.yaml", "sundy"),
            &["unknown weekday `sundy`"],
        );
        let once = "{name: move, from: 2026-05-02T00:00:00Z, to: 2026-05-01T00:00:00Z}";
        let files = edited("programme.yaml", r#"{name: weekly, weekday: sunday, at: "02:00", duration: 2h}"#, once);
        let at = pos(&files, "programme.yaml", "2026-05-01T");
        assert_one(&errors(&files), "programme.yaml", at, &["maintenance `move`: `to` must be after `from`"]);
    }

    #[test]
    fn a_short_weekday_name_is_accepted() {
        let rules =
            load_files(Path::new("rules"), &edited("programme.yaml", "weekday: sunday", "weekday: Sun")).unwrap();
        assert!(matches!(rules.maintenance[0], Maintenance::Weekly { weekday: Weekday::Sun, .. }));
    }
}
