//! `aggregates`: each names a new variable, aggregates a built-in operator
//! or partner variable or an input, and says how the months combine where
//! there is no default.

use super::names::{Names, check_word, resolve};
use crate::rules::load::errors::Errors;
use crate::rules::load::merge::At;
use crate::rules::load::merge::Merged;
use crate::rules::spec::How;

/// Variables whose months pool by time (`how: pooled`, the default for them).
pub const POOLED: [&str; 2] = ["uptime", "coverage"];

pub(super) fn check_aggregates(m: &Merged, n: &Names, errs: &mut Errors) {
    for At { file, item: a } in &m.aggregates {
        check_word(*file, &a.name, "aggregate name", false, errs);
        let builtin = |v: &String| n.builtin_operator_vars.contains(v) || n.builtin_partner_vars.contains(v);
        if builtin(&a.name.value) || n.inputs.contains(&a.name.value) {
            let what = if n.inputs.contains(&a.name.value) { "an input" } else { "a built-in variable" };
            errs.at(*file, a.name.pos, format!("aggregate `{}` has the name of {what}; rename it", a.name));
        }
        if n.aggregates.contains(&a.of.value) {
            errs.at(
                *file,
                a.of.pos,
                format!(
                    "aggregate `{}`: `of: {}` is an aggregate; aggregates read a built-in variable or an input",
                    a.name, a.of
                ),
            );
            continue;
        }
        let readable: Vec<String> = n
            .builtin_operator_vars
            .iter()
            .chain(&n.builtin_partner_vars)
            .chain(&n.inputs)
            .chain(&n.derived)
            .cloned()
            .collect();
        resolve(*file, &a.of, "operator or partner variable or input", &readable, errs);
        let pooled = POOLED.contains(&a.of.value.as_str());
        match a.how {
            None if !pooled => errs.at(
                *file,
                a.of.pos,
                format!(
                    "aggregate `{}` of `{}` needs `how:` (sum, mean, min, max or count); the default, pooled, is for {}",
                    a.name,
                    a.of,
                    POOLED.join(" and ")
                ),
            ),
            Some(How::Pooled) if !pooled => errs.at(
                *file,
                a.of.pos,
                format!("aggregate `{}`: `how: pooled` pools time and is for {}, not `{}`", a.name, POOLED.join(" and "), a.of),
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::load::test_support::*;

    const OK: &str = "version: 1\naggregates:\n  - {name: uptime_6m, of: uptime, over: 6 months}\n  - {name: major_q, of: major_incidents, over: quarter, how: sum}\n";

    #[test]
    fn aggregates_load_and_expressions_may_read_them() {
        let files = edited("pay.yaml", "uptime > 0.995", "uptime_6m > 0.995 && major_q < 1");
        let rules =
            crate::rules::load::load_files(std::path::Path::new("rules"), &with_file(files, "zz.yaml", OK)).unwrap();
        assert_eq!(rules.aggregates.len(), 2);
        assert_eq!(rules.aggregates[0].how, crate::rules::spec::How::Pooled, "pooled is the default for uptime");
        assert_eq!(rules.aggregates[1].over, crate::rules::spec::Over::Quarter);
    }

    #[test]
    fn an_aggregate_without_a_way_to_combine_is_reported_at_its_variable() {
        let text = "version: 1\naggregates:\n  - {name: major_6m, of: major_incidents, over: 6 months}\n";
        let files = with_file(fixture(), "zz.yaml", text);
        let at = pos(&files, "zz.yaml", "major_incidents");
        assert_one(&errors(&files), "zz.yaml", at, &["aggregate `major_6m` of `major_incidents` needs `how:`"]);
    }

    #[test]
    fn pooled_is_only_for_time_shares() {
        let text = "version: 1\naggregates:\n  - {name: m, of: mentees, over: year, how: pooled}\n";
        let files = with_file(fixture(), "zz.yaml", text);
        assert_one(&errors(&files), "zz.yaml", pos(&files, "zz.yaml", "mentees"), &["`how: pooled` pools time"]);
    }

    #[test]
    fn a_bad_window_is_reported_at_its_value_with_the_forms_allowed() {
        let text = "version: 1\naggregates:\n  - name: u\n    of: uptime\n    over: 6 weeks\n";
        let errs = errors(&with_file(fixture(), "zz.yaml", text));
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(errs[0].line, 5, "{}", errs[0]);
        assert!(errs[0].message.contains("expected `N months` (1 to 36), `quarter` or `year`"), "{}", errs[0]);
    }

    #[test]
    fn an_aggregate_must_read_a_built_in_variable_and_not_shadow_one() {
        let text = "version: 1\naggregates:\n  - {name: uptime, of: uptme, over: year}\n  - {name: retention, of: referrals, over: year, how: max}\n";
        let errs = errors(&with_file(fixture(), "zz.yaml", text));
        assert!(
            errs.iter().any(|e| e.message.contains("aggregate `uptime` has the name of a built-in variable")),
            "{errs:#?}"
        );
        assert!(
            errs.iter().any(|e| e
                .message
                .contains("unknown operator or partner variable or input `uptme`; did you mean `uptime`?")),
            "{errs:#?}"
        );
        assert!(
            errs.iter().any(|e| e.message.contains("aggregate `retention` has the name of a built-in variable")),
            "{errs:#?}"
        );
    }

    #[test]
    fn an_aggregate_is_a_variable_of_whoever_has_what_it_reads() {
        // Of an input: operators and partners; of a partner variable: partners only.
        let text = "version: 1\naggregates:\n  - {name: rev_q, of: partner_revenue, over: quarter, how: sum}\n  - {name: peak, of: referrals, over: year, how: max}\n";
        let files = edited("pay.yaml", "uptime > 0.995", "rev_q > 0 && peak > 1");
        let errs = errors(&with_file(files, "zz.yaml", text));
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(errs[0].message.contains("unknown variable `peak`"), "{}", errs[0]);
    }
}
