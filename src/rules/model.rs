//! The validated rule set ([`Rules`]) and its maintenance windows: what
//! the loader ([`super::load`]) builds and the source and the engine run on.

use super::spec::*;
use crate::history::History;
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use std::path::PathBuf;

/// A planned-downtime window, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Maintenance {
    Weekly { name: String, weekday: Weekday, at: NaiveTime, duration_seconds: i64, time_zone: Tz },
    Once { name: String, from: DateTime<Utc>, to: DateTime<Utc> },
}

/// A validated, merged rule set: what the source and the engine run on.
/// Built validated by [`load_dir`](super::load_dir) (or [`load_files`](super::load::load_files) from rule files
/// already read), or unvalidated, for tests, by [`from_yaml_unchecked`](super::from_yaml_unchecked).
#[derive(Debug, Clone)]
pub struct Rules {
    /// Directory it was read from.
    pub dir: PathBuf,
    /// SHA-256 over the rule files (sorted by name; name and bytes of each).
    pub sha256: String,
    pub programme: ProgrammeSpec,
    pub time_zone: Tz,
    pub source: SourceSpec,
    pub maintenance: Vec<Maintenance>,
    pub severities: Vec<SeveritySpec>,
    /// The escalation ladder, lowest level first (may be empty: no paging levels).
    pub escalation: Vec<EscalationLevelSpec>,
    /// Incidents that are not node outages: their sources and classes.
    pub incident_sources: Vec<IncidentSourceSpec>,
    pub incident_classes: Vec<IncidentClassSpec>,
    pub inputs: Vec<InputSpec>,
    pub missing_data: MissingDataSpec,
    pub operators: Vec<OperatorSpec>,
    pub partners: Vec<PartnerSpec>,
    pub tiers: Vec<TierSpec>,
    pub partner_tiers: Vec<TierSpec>,
    pub promotions: Vec<PromotionSpec>,
    /// Variables over several months (see [`Aggregate`]).
    pub aggregates: Vec<Aggregate>,
    /// Scores per payee, not money (`scores:`).
    pub scores: Vec<ScoreSpec>,
    /// Reported conditions per payee (`flags:`).
    pub flags: Vec<FlagSpec>,
    /// The order scores, flags and aggregates of them are computed in.
    pub derived: Vec<super::derived::Derived>,
    /// Months before the first close, as given in `opening_figures:`
    /// (a closed month wins over them).
    pub opening: History,
    /// The programme's targets (`targets:`; each optional).
    pub targets: TargetsSpec,
    /// Manual credits and debits (`adjustments:`), each paid in its month.
    pub adjustments: Vec<AdjustmentSpec>,
    /// Payees' disputes (`disputes:`), shown on their statements while open.
    pub disputes: Vec<DisputeSpec>,
}

/// A variable over several months, validated: `how` resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub name: String,
    pub of: String,
    pub over: Over,
    pub how: How,
    /// Whose variable `of` is, hence whose months it reads.
    pub of_kind: OfKind,
}

/// Whose variable an aggregate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfKind {
    /// A built-in operator variable: the operator's months.
    Operator,
    /// A built-in partner variable: the partner's months.
    Partner,
    /// An input: the months of the payee whose statement reads it (an
    /// operator's, or a partner's for the partner's own lines).
    Input,
    /// A score or a flag: the months of the payee it applies to, computed
    /// in [`Rules::derived`]'s order.
    Derived,
}

/// Months before a period that year-to-date figures need at most (January
/// to the month before December).
pub const YEAR_TO_DATE_MONTHS: u32 = 11;

impl Rules {
    pub fn tier(&self, id: &str) -> Option<&TierSpec> {
        self.tiers.iter().find(|t| t.id.value == id)
    }

    pub fn partner_tier(&self, id: &str) -> Option<&TierSpec> {
        self.partner_tiers.iter().find(|t| t.id.value == id)
    }

    pub fn aggregate(&self, name: &str) -> Option<&Aggregate> {
        self.aggregates.iter().find(|a| a.name == name)
    }

    /// How many months before a period its history must reach: enough for
    /// year-to-date figures and for every aggregate.
    pub fn history_months(&self) -> u32 {
        self.aggregates
            .iter()
            .map(|a| match a.over {
                Over::Months(n) => n - 1,
                Over::Quarter => 2,
                Over::Year => YEAR_TO_DATE_MONTHS,
            })
            .fold(YEAR_TO_DATE_MONTHS, u32::max)
    }

    pub fn severity_ids(&self) -> Vec<String> {
        self.severities.iter().map(|s| s.id.value.clone()).collect()
    }

    /// Maintenance intervals overlapping `[start, end)`, clipped to it,
    /// merged where they overlap, sorted.
    pub fn maintenance_intervals(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        maintenance_intervals(&self.maintenance, start, end)
    }
}

/// See [`Rules::maintenance_intervals`].
pub fn maintenance_intervals(
    windows: &[Maintenance],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = vec![];
    for w in windows {
        match w {
            Maintenance::Once { from, to, .. } => out.push((*from, *to)),
            Maintenance::Weekly { weekday, at, duration_seconds, time_zone, .. } => {
                // Walk local days from a week before `start` to `end`.
                let mut day = (start.with_timezone(time_zone) - Duration::days(7)).date_naive();
                let last = end.with_timezone(time_zone).date_naive();
                while day <= last {
                    if day.weekday() == *weekday
                        && let Some(s) = time_zone.from_local_datetime(&day.and_time(*at)).earliest()
                    {
                        let s = s.with_timezone(&Utc);
                        out.push((s, s + Duration::seconds(*duration_seconds)));
                    }
                    day = day.succ_opt().expect("date in range");
                }
            }
        }
    }
    let mut clipped: Vec<_> = out.into_iter().map(|(s, e)| (s.max(start), e.min(end))).filter(|(s, e)| s < e).collect();
    clipped.sort();
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = vec![];
    for (s, e) in clipped {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekly_windows_fall_on_their_weekday_and_are_clipped_to_the_window() {
        let w = vec![Maintenance::Weekly {
            name: "sunday".into(),
            weekday: Weekday::Sun,
            at: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
            duration_seconds: 7200,
            time_zone: Tz::UTC,
        }];
        let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let got = maintenance_intervals(&w, start, end);
        // Sundays of October 2026: 4, 11, 18, 25.
        let days: Vec<u32> = got.iter().map(|(s, _)| s.day()).collect();
        assert_eq!(days, vec![4, 11, 18, 25]);
        assert!(got.iter().all(|(s, e)| (*e - *s).num_seconds() == 7200));
        let clipped = maintenance_intervals(&w, start, Utc.with_ymd_and_hms(2026, 10, 4, 3, 0, 0).unwrap());
        assert_eq!(clipped.len(), 1);
        assert_eq!((clipped[0].1 - clipped[0].0).num_seconds(), 3600);
    }
}
