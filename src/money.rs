//! Money and ratios: every amount is a [`Decimal`]; this module holds the one
//! rounding rule and the only conversions between `f64` and `Decimal`.
//!
//! The rounding rule: every pay line is rounded once, to the programme's
//! `rounding.decimals` (default 2) with banker's rounding (half to even) unless
//! the rules say `half_up`; totals are exact sums of rounded lines. Ratios that
//! come out of expressions (`f64`) enter money only through [`from_f64`], which
//! takes the shortest decimal that round-trips (so `0.15` is exactly `0.15`);
//! decimals leave for expressions (engine) and `/metrics` (export) only through
//! [`to_f64`], the nearest float to the decimal's text (so `0.995` is `0.995`).

use rust_decimal::prelude::*;
use serde::{Deserialize, Deserializer};

pub use rust_decimal::Decimal;

/// How a computed amount is rounded to the currency's minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RoundingMode {
    /// Banker's rounding: 0.125 → 0.12, 0.135 → 0.14.
    #[default]
    HalfEven,
    /// Commercial rounding: 0.125 → 0.13.
    HalfUp,
}

/// Round an amount with the programme's rule.
pub fn round(amount: Decimal, decimals: u32, mode: RoundingMode) -> Decimal {
    let strategy = match mode {
        RoundingMode::HalfEven => RoundingStrategy::MidpointNearestEven,
        RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
    };
    amount.round_dp_with_strategy(decimals, strategy)
}

/// The shortest decimal that round-trips to `value`; `None` for NaN/∞.
pub fn from_f64(value: f64) -> Option<Decimal> {
    if !value.is_finite() {
        return None;
    }
    let text = format!("{value}");
    Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&format!("{value:e}"))).ok().map(|d| d.normalize())
}

/// `Decimal` → `f64`, for expressions and the `/metrics` edge only: the
/// nearest float to the decimal's text (so `0.995` is the literal `0.995`).
pub fn to_f64(value: Decimal) -> f64 {
    value.to_string().parse().unwrap_or(f64::NAN)
}

/// Exact ratio `num / den` as a Decimal (28 significant digits); `None` if `den` is 0.
pub fn ratio(num: u64, den: u64) -> Option<Decimal> {
    if den == 0 {
        return None;
    }
    Some(Decimal::from(num) / Decimal::from(den))
}

/// A decimal written in YAML either as a number (`0.995`, `500`) or a string
/// (`"12.50"`). Numbers are taken by their shortest text, never through
/// binary float arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Dec(pub Decimal);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Dec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a decimal number such as 500, 0.995 or \"12.50\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dec, E> {
                Ok(Dec(Decimal::from(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dec, E> {
                Ok(Dec(Decimal::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Dec, E> {
                from_f64(v).map(Dec).ok_or_else(|| E::custom(format!("{v} is not a finite decimal")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dec, E> {
                let t = v.trim().replace('_', "");
                Decimal::from_str(&t)
                    .or_else(|_| Decimal::from_scientific(&t))
                    .map(Dec)
                    .map_err(|_| E::custom(format!("`{v}` is not a decimal number")))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_even_rounds_midpoints_to_even_and_half_up_away_from_zero() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(round(d("0.125"), 2, RoundingMode::HalfEven), d("0.12"));
        assert_eq!(round(d("0.135"), 2, RoundingMode::HalfEven), d("0.14"));
        assert_eq!(round(d("0.125"), 2, RoundingMode::HalfUp), d("0.13"));
        assert_eq!(round(d("-0.125"), 2, RoundingMode::HalfUp), d("-0.13"));
    }

    #[test]
    fn floats_enter_money_by_their_shortest_text() {
        assert_eq!(from_f64(0.15).unwrap().to_string(), "0.15");
        assert_eq!(from_f64(0.1 + 0.2).unwrap().to_string(), "0.30000000000000004");
        assert_eq!(from_f64(1e-7).unwrap().to_string(), "0.0000001");
        assert!(from_f64(f64::NAN).is_none());
    }

    #[test]
    fn decimals_leave_money_as_the_nearest_float_to_their_text() {
        for text in
            ["0.995", "0.1", "-12.5", "28712.37", "0.3333333333333333333333333333", "79228162514264337593543950335"]
        {
            let d = Decimal::from_str(text).unwrap();
            assert_eq!(to_f64(d).to_bits(), text.parse::<f64>().unwrap().to_bits(), "{text}");
        }
        for x in [0.15, 0.1 + 0.2, 1e-7, 0.995, 123456.789] {
            assert_eq!(to_f64(from_f64(x).unwrap()).to_bits(), x.to_bits(), "{x} round-trips");
        }
    }

    #[test]
    fn ratio_is_exact_and_refuses_zero_denominator() {
        assert_eq!(ratio(995, 1000).unwrap().to_string(), "0.995");
        assert!(ratio(1, 0).is_none());
    }
}
