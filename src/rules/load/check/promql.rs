//! PromQL in rule files: the `source` section's queries and step, and the
//! parse every query goes through (with its length limit).

use crate::rules::additive::{Shape, classify};
use crate::rules::load::errors::Errors;
use crate::rules::load::merge::{At, Merged};
use crate::rules::spec::SourceSpec;

/// Longest PromQL query accepted, in characters: promql-parser builds and
/// drops its syntax tree recursively, and a query thousands of levels deep
/// (`sum(sum(…))`, `------up`) overflowed the stack and aborted the process.
const MAX_QUERY_CHARS: usize = 4096;

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parse PromQL; the error names the query (or its length, if too long).
pub(super) fn parse_promql(query: &str) -> Result<promql_parser::parser::Expr, String> {
    let length = query.chars().count();
    if length > MAX_QUERY_CHARS {
        return Err(format!("query is {length} characters long; at most {MAX_QUERY_CHARS}"));
    }
    promql_parser::parser::parse(query).map_err(|e| format!("invalid PromQL `{query}`: {}", one_line(&e)))
}

/// `source.up` must be a vector selector, `source.degraded` valid PromQL.
pub(super) fn check_source(file: usize, s: &SourceSpec, errs: &mut Errors) {
    match parse_promql(&s.up) {
        Ok(promql_parser::parser::Expr::VectorSelector(_)) => {}
        Ok(_) => {
            let message =
                format!("`source.up` must be a plain vector selector such as `up{{job=\"fleet\"}}`, not `{}`", s.up);
            errs.at(file, s.up.pos, message);
        }
        Err(e) => errs.at(file, s.up.pos, format!("`source.up`: {e}")),
    }
    if let Some(d) = &s.degraded
        && let Err(e) = parse_promql(d)
    {
        errs.at(file, d.pos, format!("`source.degraded`: {e}"));
    }
    if s.step.seconds() <= 0 {
        errs.at(file, s.up.pos, "`source.step` must be positive");
    }
    // A scrape interval; samples are laid out `step` apart over a month, and
    // a step of 100y overflowed the date arithmetic (`test` panicked).
    if s.step.seconds() > 86_400 {
        errs.at(file, s.up.pos, format!("`source.step` is {}; at most 1d", s.step));
    }
}

/// A note at each input `serve` reads over the whole month at every
/// refresh (not additive, see [`crate::rules::additive`]): not an error.
pub(crate) fn note_whole_inputs(m: &Merged, notes: &mut Errors) {
    for At { file, item: i } in &m.inputs {
        if let Shape::Whole(why) = classify(&i.query.value) {
            let message = format!(
                "note: input `{}` is re-read over the whole month to date at every `serve` refresh: its cost \
                 grows with the month ({why})",
                i.name
            );
            notes.at(*file, i.query.pos, message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::load::load_files;
    use crate::rules::load::test_support::*;
    use std::path::Path;

    #[test]
    fn bad_promql_in_an_input_query_is_reported_at_the_query() {
        let files = edited("programme.yaml", "[$__range]))", "[$__range])");
        let errs = errors(&files);
        let at = pos(&files, "programme.yaml", "'sum by");
        assert_one(&errs, "programme.yaml", at, &["input `partner_revenue`: invalid PromQL"]);
    }

    /// Regression: `sum(` ten thousand times deep overflowed the stack (a
    /// crash, not an error). At the length limit the deepest shapes parse
    /// and drop in a tokio worker's 2 MiB stack (where `serve` reloads).
    #[test]
    fn deeply_nested_promql_is_refused_or_fits_in_a_small_stack() {
        let deep = "sum(".repeat(10_000) + "up" + &")".repeat(10_000);
        let files =
            edited("programme.yaml", "'sum by (region) (increase(partner_revenue_usd_total[$__range]))'", &deep);
        let at = pos(&files, "programme.yaml", "sum(sum(");
        assert_one(
            &errors(&files),
            "programme.yaml",
            at,
            &["input `partner_revenue`: query is 50002 characters long; at most 4096"],
        );
        let n = MAX_QUERY_CHARS;
        let shapes = [
            "sum(".repeat((n - 2) / 5) + "up" + &")".repeat((n - 2) / 5),
            "-".repeat(n - 2) + "up",
            "(".repeat((n - 2) / 2) + "up" + &")".repeat((n - 2) / 2),
            "up".to_string() + &"+up".repeat((n - 2) / 3),
        ];
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                for q in shapes {
                    assert!(parse_promql(&q).is_ok(), "{}", &q[..20]);
                }
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn source_step_is_at_most_a_day() {
        let files = edited("programme.yaml", "step: 1m", "step: 2d");
        let at = pos(&files, "programme.yaml", "'up{");
        assert_one(&errors(&files), "programme.yaml", at, &["`source.step` is 2d; at most 1d"]);
        assert!(load_files(Path::new("rules"), &edited("programme.yaml", "step: 1m", "step: 1d")).is_ok());
    }

    #[test]
    fn source_up_must_be_a_vector_selector() {
        let files = edited("programme.yaml", r#"'up{job="fleet"}'"#, r#"'sum(up{job="fleet"})'"#);
        let errs = errors(&files);
        let at = pos(&files, "programme.yaml", "'sum(up");
        assert_one(&errs, "programme.yaml", at, &["`source.up` must be a plain vector selector"]);
    }
}
