//! The template environment: escaping by the template's kind, whitespace,
//! undefined values, and the filters templates format figures with.
//!
//! Escaping: `*.html.j2` escape every value for HTML (`<`, `>`, `&`, quotes);
//! `*.md.j2` escape what would break a Markdown table or start a link or an
//! HTML tag (`\`, `|`, `[`, `]`, and `<` before a letter, `/`, `!` or `?`)
//! and turn line breaks into spaces; `a < b` stays as it is. `| safe` marks
//! a value as written on purpose.
//!
//! Printing a value that does not exist is an error naming the template's
//! line (a misspelt field would otherwise print nothing); `{% if x %}` on
//! one is false. `none` prints as nothing.
//!
//! Filters (amounts and ratios are the evaluation's decimal strings; no
//! float rounding):
//!
//! | filter | gives |
//! |---|---|
//! | `money` | `$1500.00` (USD) or `1500.00 EUR`, at least the programme's decimals (context `currency`, `decimals`) |
//! | `percent` | a ratio as `99.886 %` (3 decimals), `n/a` without one |
//! | `points` | a difference of ratios in percentage points, `+0.386 pp` |
//! | `hours` | seconds as `1.50 h` |
//! | `in_hours` | seconds as `1.50` (hours) |
//! | `fixed(n)` | a number with exactly `n` decimals (half even) |
//! | `datetime` | an RFC 3339 time as `2026-10-04 12:00 UTC` |
//! | `label` | `uptime_bonus` → `uptime bonus` |
//! | `code_spans` | HTML: the text escaped, `` `x > 1` `` as `<code>x &gt; 1</code>` |

use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior, Value};
use rust_decimal::Decimal;
use std::str::FromStr;

/// The auto-escape mode of Markdown templates.
const MARKDOWN: &str = "markdown";

/// Instructions one rendering may run: a template that loops without end
/// fails instead of hanging the close.
const FUEL: u64 = 200_000_000;

pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_fuel(Some(FUEL));
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters"),
    );
    env.set_auto_escape_callback(|name| {
        let name = name.strip_suffix(".j2").unwrap_or(name);
        if name.ends_with(".html") || name.ends_with(".htm") {
            AutoEscape::Html
        } else if name.ends_with(".md") {
            AutoEscape::Custom(MARKDOWN.into())
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            return Ok(());
        }
        match state.auto_escape() {
            AutoEscape::Custom(mode) if mode == MARKDOWN && !value.is_safe() => {
                out.write_str(&markdown_escape(&value.to_string())).map_err(Error::from)
            }
            AutoEscape::Custom(_) => out.write_str(&value.to_string()).map_err(Error::from),
            _ => minijinja::escape_formatter(out, state, value),
        }
    });
    env.add_filter("money", money);
    env.add_filter("percent", percent);
    env.add_filter("points", points_filter);
    env.add_filter("hours", hours);
    env.add_filter("in_hours", in_hours);
    env.add_filter("fixed", fixed);
    env.add_filter("datetime", datetime);
    env.add_filter("label", |s: String| s.replace('_', " "));
    env.add_filter("code_spans", code_spans);
    env
}

/// HTML: the text escaped, each `` `…` `` span as `<code>…</code>` (how
/// reasons quote expressions).
fn code_spans(s: String) -> Value {
    let escaped = minijinja::HtmlEscape(&s).to_string();
    let mut out = String::with_capacity(escaped.len() + 16);
    let mut parts = escaped.split('`').peekable();
    let mut inside = false;
    while let Some(part) = parts.next() {
        match (inside, parts.peek().is_some()) {
            (false, _) => out.push_str(part),
            (true, true) => {
                out.push_str("<code>");
                out.push_str(part);
                out.push_str("</code>");
            }
            // An unpaired backtick stays as it is.
            (true, false) => {
                out.push('`');
                out.push_str(part);
            }
        }
        inside = !inside;
    }
    Value::from_safe_string(out)
}

/// Text inside Markdown: no table cell break, link, HTML tag (or autolink,
/// comment) or line break.
pub fn markdown_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '|' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '<' if chars.peek().is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')) => {
                out.push_str("&lt;")
            }
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A decimal from a value: a decimal string (how the evaluation serializes
/// amounts and ratios), an integer or a float (recorded variables).
fn decimal(v: &Value) -> Result<Option<Decimal>, Error> {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => Ok(None),
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            Decimal::from_str(s)
                .or_else(|_| Decimal::from_scientific(s))
                .map(Some)
                .map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("`{s}` is not a number")))
        }
        ValueKind::Number => match v.as_i64() {
            Some(i) => Ok(Some(Decimal::from(i))),
            None => Ok(f64::try_from(v.clone()).ok().and_then(crate::money::from_f64)),
        },
        _ => Err(Error::new(ErrorKind::InvalidOperation, format!("{v} is not a number"))),
    }
}

fn required(v: &Value, filter: &str) -> Result<Decimal, Error> {
    decimal(v)?.ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("`{filter}` of a missing value")))
}

/// An amount in the programme's currency: see [`money_text`].
fn money(state: &State, v: Value) -> Result<String, Error> {
    let Some(d) = decimal(&v)? else { return Ok("n/a".into()) };
    let currency = state.lookup("currency").map_or("USD".to_string(), |c| c.to_string());
    let decimals = state.lookup("decimals").and_then(|d| d.as_i64()).unwrap_or(2).clamp(0, 10) as u32;
    Ok(money_text(d, &currency, decimals))
}

/// An amount with at least `decimals` decimals (`$0.00`, not `$0`):
/// `$1500.00`, `-$50.00`, or `1500.00 EUR` for other currencies.
pub fn money_text(d: Decimal, currency: &str, decimals: u32) -> String {
    let mut d = d;
    if d.scale() < decimals {
        d.rescale(decimals);
    }
    if currency == "USD" {
        if d.is_sign_negative() && !d.is_zero() { format!("-${}", d.abs()) } else { format!("${d}") }
    } else {
        format!("{d} {currency}")
    }
}

fn percent(v: Value) -> Result<String, Error> {
    Ok(crate::report::percent(decimal(&v)?))
}

/// Percentage points with a sign, 3 decimals.
fn points_filter(v: Value) -> Result<String, Error> {
    Ok(decimal(&v)?.map_or("n/a".into(), points))
}

/// A difference of ratios in percentage points with a sign, 3 decimals.
pub fn points(d: Decimal) -> String {
    let d = (d * Decimal::ONE_HUNDRED).round_dp(3);
    if d.is_sign_negative() && !d.is_zero() { format!("{d:.3} pp") } else { format!("+{:.3} pp", d.abs()) }
}

fn hours(v: Value) -> Result<String, Error> {
    Ok(format!("{} h", in_hours(v)?))
}

fn in_hours(v: Value) -> Result<String, Error> {
    Ok(fixed_text(required(&v, "hours")? / Decimal::from(3600), 2))
}

fn fixed(v: Value, dp: u32) -> Result<String, Error> {
    Ok(fixed_text(required(&v, "fixed")?, dp.min(12)))
}

/// `d` rounded (half even) and shown with exactly `dp` decimals.
pub fn fixed_text(d: Decimal, dp: u32) -> String {
    let mut d = d.round_dp(dp);
    d.rescale(dp);
    d.to_string()
}

fn datetime(v: String) -> Result<String, Error> {
    let t = chrono::DateTime::parse_from_rfc3339(&v)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("`{v}` is not an RFC 3339 time: {e}")))?;
    Ok(t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M UTC").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(name: &str, source: &str, ctx: serde_json::Value) -> String {
        let mut env = environment();
        env.add_template_owned(name.to_string(), source.to_string()).unwrap();
        env.get_template(name).unwrap().render(Value::from(minijinja::value::Serde(&ctx))).unwrap()
    }

    #[test]
    fn html_templates_escape_every_value_from_the_rules_or_labels() {
        let ctx = serde_json::json!({"name": "<script>alert(1)</script>", "node": "n\"1'&"});
        let out = render("x.html.j2", "<p title=\"{{ node }}\">{{ name }}</p>", ctx);
        assert_eq!(out, "<p title=\"n&quot;1&#x27;&amp;\">&lt;script&gt;alert(1)&lt;&#x2f;script&gt;</p>");
    }

    #[test]
    fn markdown_templates_escape_what_breaks_a_table_or_starts_a_link_or_tag() {
        let ctx = serde_json::json!({"name": "a|b [x](http://e) <img src=x> </b><!-- <http://e> `c` \\ d\r\nBcc: e"});
        let out = render("x.md.j2", "| {{ name }} |", ctx);
        assert_eq!(out, r"| a\|b \[x\](http://e) &lt;img src=x> &lt;/b>&lt;!-- &lt;http://e> `c` \\ d  Bcc: e |");
        let reason = "`tenure_months <= 12` holds, x < 3 and y > 2";
        assert_eq!(render("x.md.j2", "{{ r }}", serde_json::json!({"r": reason})), reason, "comparisons stay readable");
        assert_eq!(render("x.md.j2", "{{ v | safe }}", serde_json::json!({"v": "<b>"})), "<b>");
        assert_eq!(render("x.txt.j2", "{{ v }}", serde_json::json!({"v": "<b>|"})), "<b>|");
    }

    #[test]
    fn figures_are_formatted_from_decimal_strings_without_floats() {
        let ctx = serde_json::json!({
            "currency": "USD", "decimals": 2, "total": "1500", "neg": "-50.5", "uptime": "0.998861566484517304189435337",
            "seconds": 5400, "float": 0.1, "at": "2026-10-04T12:00:00Z", "none": null,
        });
        let out = render(
            "x.md.j2",
            "{{ total|money }} {{ neg|money }} {{ none|money }} {{ uptime|percent }} {{ none|percent }} \
             {{ '0.004'|points }} {{ seconds|hours }} {{ float|fixed(3) }} {{ at|datetime }} {{ 'uptime_bonus'|label }}",
            ctx,
        );
        assert_eq!(out, "$1500.00 -$50.50 n/a 99.886 % n/a +0.400 pp 1.50 h 0.100 2026-10-04 12:00 UTC uptime bonus");
        let eur = render("x.md.j2", "{{ v|money }}", serde_json::json!({"currency": "EUR", "decimals": 3, "v": "2"}));
        assert_eq!(eur, "2.000 EUR");
    }

    #[test]
    fn code_spans_escape_the_text_and_mark_quoted_expressions() {
        let out = render("x.html.j2", "{{ r|code_spans }}", serde_json::json!({"r": "`a < 1` holds, <b>`x"}));
        assert_eq!(out, "<code>a &lt; 1</code> holds, &lt;b&gt;`x");
    }

    #[test]
    fn none_prints_nothing_and_an_undefined_value_is_an_error() {
        assert_eq!(render("x.md.j2", "[{{ v }}]{% if w %}w{% endif %}", serde_json::json!({"v": null})), "[]");
        let mut env = environment();
        env.add_template("x.md.j2", "{{ nope }}").unwrap();
        let e = env.get_template("x.md.j2").unwrap().render(Value::from(())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UndefinedError);
    }
}
