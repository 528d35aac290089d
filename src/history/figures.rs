//! Figures of months written by hand rather than closed: a rule test's
//! `history:` and the rules' `opening_figures:` for months before the data.
//! The same record a close keeps ([`PayeeMonth`]), in a YAML shape:
//!
//! ```yaml
//! - period: 2026-07
//!   operators:
//!     alice:
//!       tier: tier1
//!       up_seconds: 2678400
//!       down_seconds: 0
//!       variables: {major_incidents: 0}
//!       lines: {base_stipend: 1000}
//!       eligible: true
//!       balance_out: -120.50   # carried into the next month (default 0)
//!       held_out: 0            # pay held, carried into the next month (default 0)
//! ```

use super::{ClosedMonth, History, PayeeMonth};
use crate::evaluation::{Availability, Recorded};
use crate::money::Dec;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// One month's figures.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthFigures {
    /// `YYYY-MM` (with where it was written, for the rules loader's errors).
    pub period: Spanned<String>,
    #[serde(default)]
    pub operators: BTreeMap<String, PayeeFigures>,
    #[serde(default)]
    pub partners: BTreeMap<String, PayeeFigures>,
}

/// One payee's figures in one month; what is not given is not known
/// (variables), or zero (seconds, line amounts).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayeeFigures {
    #[serde(default)]
    pub tier: String,
    #[serde(default)]
    pub up_seconds: i64,
    #[serde(default)]
    pub down_seconds: i64,
    #[serde(default)]
    pub unknown_seconds: i64,
    #[serde(default)]
    pub maintenance_seconds: i64,
    /// Variables as a statement records them (`null`: no value that month).
    #[serde(default)]
    pub variables: BTreeMap<String, Option<Recorded>>,
    /// Amount paid per pay line.
    #[serde(default)]
    pub lines: BTreeMap<String, Dec>,
    pub eligible: Option<bool>,
    /// The negative balance carried out of the month (≤ 0); default 0.
    pub balance_out: Option<Dec>,
    /// Pay held at the end of the month (a suspended payee's), carried
    /// into the next (≥ 0); default 0.
    pub held_out: Option<Dec>,
}

impl PayeeFigures {
    /// The record of a closed month these figures stand for.
    pub fn month(self) -> Result<PayeeMonth, String> {
        let (up, down, unknown) = (self.up_seconds, self.down_seconds, self.unknown_seconds);
        if [up, down, unknown, self.maintenance_seconds].iter().any(|s| *s < 0) {
            return Err("seconds cannot be negative".into());
        }
        if self.balance_out.is_some_and(|b| b.0 > Decimal::ZERO) {
            return Err("balance_out cannot be positive (a balance carried is what the payee owes)".into());
        }
        let held_out = self.held_out.map_or(Decimal::ZERO, |h| h.0);
        if held_out < Decimal::ZERO {
            return Err("held_out cannot be negative (pay held is owed to the payee)".into());
        }
        if held_out > Decimal::ZERO && self.balance_out.is_some_and(|b| b.0 < Decimal::ZERO) {
            return Err("balance_out and held_out cannot both be carried (what is held pays what is owed)".into());
        }
        let availability = Availability {
            nodes: 0,
            up_seconds: up,
            down_seconds: down,
            unknown_seconds: unknown,
            maintenance_seconds: self.maintenance_seconds,
            uptime: (up + down > 0).then(|| Decimal::from(up) / Decimal::from(up + down)),
            coverage: if up + down + unknown > 0 {
                Decimal::from(up + down) / Decimal::from(up + down + unknown)
            } else {
                Decimal::ZERO
            },
        };
        let lines: BTreeMap<String, Decimal> = self.lines.into_iter().map(|(k, v)| (k, v.0)).collect();
        Ok(PayeeMonth {
            tier: self.tier,
            availability,
            variables: self.variables,
            total: lines.values().copied().sum(),
            lines,
            eligible: self.eligible,
            balance_out: Some(self.balance_out.map_or(Decimal::ZERO, |b| b.0)),
            held_out,
            held: held_out > Decimal::ZERO,
        })
    }
}

/// The history the figures give; `source` stands where a closed month has
/// its statement's SHA-256 (e.g. `opening figures sha256:…`).
pub fn history(months: Vec<MonthFigures>, source: &str) -> Result<History, String> {
    let mut h = History::default();
    for m in months {
        let period = m.period.value;
        crate::period::Period::month(&period, chrono_tz::Tz::UTC)
            .map_err(|e| format!("history period `{period}`: {e}"))?;
        let payees = |list: BTreeMap<String, PayeeFigures>| -> Result<BTreeMap<String, PayeeMonth>, String> {
            list.into_iter()
                .map(|(id, f)| f.month().map(|pm| (id.clone(), pm)).map_err(|e| format!("history {period}, {id}: {e}")))
                .collect()
        };
        let month = ClosedMonth {
            statement_sha256: source.to_string(),
            operators: payees(m.operators)?,
            partners: payees(m.partners)?,
        };
        if h.months.insert(period.clone(), month).is_some() {
            return Err(format!("history period {period} is given twice"));
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<History, String> {
        history(serde_saphyr::from_str(yaml).unwrap(), "test")
    }

    #[test]
    fn figures_give_the_record_a_close_keeps_and_refuse_what_is_not_a_month() {
        let h = parse(
            "- period: 2026-07\n  operators:\n    a: {up_seconds: 90, down_seconds: 10, lines: {x: 1.5, y: 2}}\n",
        )
        .unwrap();
        let a = &h.months["2026-07"].operators["a"];
        assert_eq!((a.total, a.availability.uptime), (Decimal::new(35, 1), Some(Decimal::new(9, 1))));
        assert!(parse("- period: 2026-13\n").unwrap_err().contains("history period `2026-13`"));
        assert!(parse("- period: 2026-07\n- period: 2026-07\n").unwrap_err().contains("given twice"));
        let negative = parse("- period: 2026-07\n  operators:\n    a: {down_seconds: -1}\n").unwrap_err();
        assert!(negative.contains("2026-07, a: seconds cannot be negative"), "{negative}");
        let held = parse("- period: 2026-07\n  operators:\n    a: {held_out: 250.5}\n").unwrap();
        let a = &held.months["2026-07"].operators["a"];
        assert_eq!((a.held_out, a.balance_out, a.held), (Decimal::new(2505, 1), Some(Decimal::ZERO), true));
        let negative = parse("- period: 2026-07\n  operators:\n    a: {held_out: -1}\n").unwrap_err();
        assert!(negative.contains("held_out cannot be negative"), "{negative}");
        let both = parse("- period: 2026-07\n  operators:\n    a: {held_out: 1, balance_out: -1}\n").unwrap_err();
        assert!(both.contains("cannot both be carried"), "{both}");
    }
}
