//! Pay periods (calendar months in a named time zone) and Prometheus-style
//! durations (`90s`, `5m`, `4h`, `3d`, `1w`, `1h30m`).

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::str::FromStr;

/// A calendar month in a time zone: `[start, end)` in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// `YYYY-MM`.
    pub label: String,
    pub year: i32,
    pub month: u32,
    #[serde(serialize_with = "ser_tz")]
    pub time_zone: Tz,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

fn ser_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PeriodError {
    #[error("period `{0}` is not a calendar month: expected YYYY-MM, e.g. 2026-10")]
    Format(String),
    #[error("local midnight at the start of {0} does not exist in time zone {1}")]
    Midnight(String, String),
}

impl Period {
    /// Parse `YYYY-MM` in `tz`.
    pub fn month(label: &str, tz: Tz) -> Result<Self, PeriodError> {
        let bad = || PeriodError::Format(label.to_string());
        let (y, m) = label.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) {
            return Err(bad());
        }
        let start = local_midnight(tz, year, month, label)?;
        let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
        let end = local_midnight(tz, ny, nm, label)?;
        Ok(Period { label: label.to_string(), year, month, time_zone: tz, start, end })
    }

    /// The month containing `t` in `tz`.
    pub fn containing(t: DateTime<Utc>, tz: Tz) -> Self {
        let local = t.with_timezone(&tz);
        Self::month(&format!("{:04}-{:02}", local.year(), local.month()), tz)
            .expect("a month that contains an instant has a start")
    }

    /// The month before this one.
    pub fn previous(&self) -> Self {
        let (y, m) = if self.month == 1 { (self.year - 1, 12) } else { (self.year, self.month - 1) };
        Self::month(&format!("{y:04}-{m:02}"), self.time_zone).expect("valid month")
    }

    pub fn seconds(&self) -> i64 {
        (self.end - self.start).num_seconds()
    }

    /// First local day of the month.
    pub fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid month")
    }

    /// Last local day of the month.
    pub fn last_day(&self) -> NaiveDate {
        self.end.with_timezone(&self.time_zone).date_naive().pred_opt().expect("a day before")
    }

    pub fn days(&self) -> u32 {
        self.last_day().day()
    }

    /// Month number of this period counted from `since`'s month as month 1
    /// (0 or less for periods before it).
    pub fn month_number(&self, since: NaiveDate) -> i64 {
        month_number(since, self.first_day())
    }
}

/// Month number of `day`'s month counted from `since`'s month as month 1.
pub fn month_number(since: NaiveDate, day: NaiveDate) -> i64 {
    (day.year() as i64 * 12 + day.month() as i64) - (since.year() as i64 * 12 + since.month() as i64) + 1
}

fn local_midnight(tz: Tz, y: i32, m: u32, label: &str) -> Result<DateTime<Utc>, PeriodError> {
    let date = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(|| PeriodError::Format(label.into()))?;
    let naive = date.and_hms_opt(0, 0, 0).expect("midnight");
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| PeriodError::Midnight(label.into(), tz.name().into()))
}

/// Longest [`Dur`] accepted: 100 years. Longer ones overflowed chrono's
/// arithmetic and panicked (`serve --evaluation.delay 9223372036854775807s`).
pub const MAX_DUR_SECONDS: i64 = 100 * 31_536_000;

/// A duration in whole seconds written the Prometheus way: `30s`, `5m`, `1h30m`, `3d`, `1w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub i64);

impl Dur {
    pub fn seconds(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Dur {
    /// The shortest Prometheus spelling: `4h`, `90s` → `1m30s`, `3d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.0;
        if s == 0 {
            return f.write_str("0s");
        }
        if s < 0 {
            f.write_str("-")?;
            s = -s;
        }
        for (unit, len) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if s >= len {
                write!(f, "{}{unit}", s / len)?;
                s %= len;
            }
        }
        Ok(())
    }
}

impl FromStr for Dur {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a duration: expected e.g. 90s, 5m, 4h, 1h30m, 3d, 1w");
        let t = text.trim();
        if t.is_empty() {
            return Err(bad());
        }
        let mut total: i64 = 0;
        let mut num = String::new();
        let mut chars = t.chars().peekable();
        let mut any = false;
        while let Some(c) = chars.next() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let unit = if c == 'm' && chars.peek() == Some(&'s') {
                chars.next();
                "ms"
            } else {
                match c {
                    's' => "s",
                    'm' => "m",
                    'h' => "h",
                    'd' => "d",
                    'w' => "w",
                    'y' => "y",
                    _ => return Err(bad()),
                }
            };
            let n: i64 = num.parse().map_err(|_| bad())?;
            num.clear();
            let mult = match unit {
                "ms" => {
                    if n % 1000 != 0 {
                        return Err(format!("`{text}`: durations here are whole seconds"));
                    }
                    total = total.checked_add(n / 1000).ok_or_else(bad)?;
                    any = true;
                    continue;
                }
                "s" => 1,
                "m" => 60,
                "h" => 3_600,
                "d" => 86_400,
                "w" => 604_800,
                _ => 31_536_000,
            };
            total = n.checked_mul(mult).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
            any = true;
        }
        if !num.is_empty() || !any {
            return Err(bad());
        }
        if total > MAX_DUR_SECONDS {
            return Err(format!("`{text}` is too long: durations are at most 100y"));
        }
        Ok(Dur(total))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_in_utc_spans_its_days() {
        let p = Period::month("2026-10", Tz::UTC).unwrap();
        assert_eq!(p.start.to_rfc3339(), "2026-10-01T00:00:00+00:00");
        assert_eq!(p.end.to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert_eq!(p.seconds(), 31 * 86_400);
        assert_eq!(p.days(), 31);
        assert_eq!(Period::month("2026-11", Tz::UTC).unwrap().days(), 30);
        assert_eq!(Period::month("2026-12", Tz::UTC).unwrap().end.to_rfc3339(), "2027-01-01T00:00:00+00:00");
    }

    #[test]
    fn a_month_in_a_zone_with_dst_has_an_extra_hour() {
        let p = Period::month("2026-10", chrono_tz::Europe::Berlin).unwrap();
        assert_eq!(p.start.to_rfc3339(), "2026-09-30T22:00:00+00:00");
        assert_eq!(p.seconds(), 31 * 86_400 + 3_600);
    }

    #[test]
    fn bad_periods_are_refused() {
        for bad in ["2026-13", "2026-1", "26-10", "2026/10", "", "2026-00"] {
            assert!(Period::month(bad, Tz::UTC).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse_like_prometheus_and_print_shortest() {
        assert_eq!("5m".parse::<Dur>().unwrap(), Dur(300));
        assert_eq!("1h30m".parse::<Dur>().unwrap(), Dur(5_400));
        assert_eq!("3d".parse::<Dur>().unwrap(), Dur(259_200));
        assert_eq!(Dur(5_400).to_string(), "1h30m");
        assert_eq!(Dur(86_400 * 3).to_string(), "3d");
        for bad in ["", "5", "m", "5x", "1.5h"] {
            assert!(bad.parse::<Dur>().is_err(), "{bad}");
        }
    }

    /// Regression: `--evaluation.delay 9223372036854775807s` parsed, then
    /// panicked in chrono (`TimeDelta::seconds out of bounds`).
    #[test]
    fn a_duration_over_100_years_is_refused() {
        assert_eq!("100y".parse::<Dur>().unwrap(), Dur(MAX_DUR_SECONDS));
        for long in ["100y1s", "9223372036854775807s", "5300w"] {
            let e = long.parse::<Dur>().unwrap_err();
            assert_eq!(e, format!("`{long}` is too long: durations are at most 100y"));
        }
        assert!("9223372036854775808s".parse::<Dur>().is_err());
    }
}
