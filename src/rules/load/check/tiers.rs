//! Tiers and their pay lines: the fields each line kind needs and allows,
//! values in range, bases (`of`) that name earlier lines or money inputs,
//! and the variables each line's expressions may read.

use super::names::{Names, check_expr, resolve, suggestion};
use crate::money::Dec;
use crate::rules::expr::Expr;
use crate::rules::load::errors::Errors;
use crate::rules::spec::{BaseSpec, LineKind, LineSpec, TierSpec};
use rust_decimal::Decimal;

/// The fields of a line that only some kinds use, and whether each is set.
fn kind_fields(l: &LineSpec) -> [(&'static str, bool); 13] {
    [
        ("amount", l.amount.is_some()),
        ("nodes", l.nodes.is_some()),
        ("quantity", l.quantity.is_some()),
        ("over", l.over.is_some()),
        ("above", l.above.is_some()),
        ("step", l.step.is_some()),
        ("max_steps", l.max_steps.is_some()),
        ("of", l.of.is_some()),
        ("percent", l.percent.is_some()),
        ("ratio", l.ratio.is_some()),
        ("factor", l.factor.is_some()),
        ("by", l.by.is_some()),
        ("bands", !l.bands.is_empty()),
    ]
}

/// (required, optional) kind-specific fields of each kind.
fn kind_rule(kind: LineKind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        LineKind::Fixed => (&["amount"], &[]),
        LineKind::PerNode => (&["amount"], &["nodes"]),
        LineKind::PerUnit => (&["amount", "quantity"], &[]),
        LineKind::Steps => (&["amount", "over", "above", "step"], &["max_steps"]),
        LineKind::Percent => (&["percent", "of"], &["ratio"]),
        LineKind::Multiplier => (&["factor", "of"], &[]),
        LineKind::Band => (&["by", "bands"], &["of"]),
    }
}

fn kind_name(kind: LineKind) -> String {
    serde_json::to_string(&kind).unwrap_or_default().trim_matches('"').to_string()
}

/// Which tier a line is in, for messages and `of.lines`.
struct TierCtx<'a> {
    file: usize,
    tier: &'a TierSpec,
    partner: bool,
}

pub(super) fn check_tier(file: usize, tier: &TierSpec, partner: bool, n: &Names, errs: &mut Errors) {
    if tier.lines.is_empty() {
        errs.at(file, tier.id.pos, format!("tier `{}` has no lines", tier.id));
    }
    let ctx = TierCtx { file, tier, partner };
    for (index, line) in tier.lines.iter().enumerate() {
        check_line_fields(&ctx, line, errs);
        check_line_values(&ctx, line, errs);
        if let Some(of) = &line.of {
            check_base(&ctx, index, line, of, n, errs);
        }
        let valid = match (partner, line.per_referral) {
            (false, _) => &n.operator_vars,
            (true, false) => &n.partner_vars,
            (true, true) => &n.referral_vars,
        };
        for e in line_exprs(line) {
            check_expr(file, e, valid, errs);
        }
    }
}

fn line_exprs(l: &LineSpec) -> impl Iterator<Item = &Expr> {
    [&l.when, &l.quantity, &l.over, &l.ratio, &l.factor, &l.by].into_iter().flatten()
}

fn check_line_fields(ctx: &TierCtx, l: &LineSpec, errs: &mut Errors) {
    let (required, optional) = kind_rule(l.kind);
    let kind = kind_name(l.kind);
    for (field, set) in kind_fields(l) {
        if required.contains(&field) && !set {
            errs.at(ctx.file, l.id.pos, format!("line `{}` (kind {kind}) needs `{field}`", l.id));
        }
        if set && !required.contains(&field) && !optional.contains(&field) {
            errs.at(ctx.file, l.id.pos, format!("line `{}`: `{field}` does not apply to kind {kind}", l.id));
        }
    }
    if l.per_referral && !ctx.partner {
        errs.at(ctx.file, l.id.pos, format!("line `{}`: `per_referral` applies only to partner tier lines", l.id));
    }
}

fn check_line_values(ctx: &TierCtx, l: &LineSpec, errs: &mut Errors) {
    let positive = |d: Option<Dec>| d.is_none_or(|d| d.0 > Decimal::ZERO);
    if !positive(l.step) {
        errs.at(ctx.file, l.id.pos, format!("line `{}`: `step` must be positive", l.id));
    }
    if let (Some(cap), Some(floor)) = (l.cap, l.floor)
        && floor.0 > cap.0
    {
        errs.at(ctx.file, l.id.pos, format!("line `{}`: `floor` {} is above `cap` {}", l.id, floor.0, cap.0));
    }
    for (i, band) in l.bands.iter().enumerate() {
        let which = format!("line `{}`, band {}", l.id, i + 1);
        if band.amount.is_some() == band.percent.is_some() {
            errs.at(ctx.file, l.id.pos, format!("{which}: give exactly one of `amount` and `percent`"));
        }
        if band.percent.is_some() && l.of.is_none() {
            errs.at(ctx.file, l.id.pos, format!("{which}: a `percent` band needs `of` on the line"));
        }
        if let (Some(from), Some(to)) = (band.from, band.to)
            && from.0 >= to.0
        {
            errs.at(ctx.file, l.id.pos, format!("{which}: `from` {} is not below `to` {}", from.0, to.0));
        }
    }
}

/// `of.lines` must name earlier lines of the same tier, `of.input` a money input.
fn check_base(ctx: &TierCtx, index: usize, l: &LineSpec, of: &BaseSpec, n: &Names, errs: &mut Errors) {
    if of.lines.is_empty() && of.input.is_none() {
        errs.at(ctx.file, l.id.pos, format!("line `{}`: `of` needs `lines` or `input`", l.id));
    }
    let earlier: Vec<String> = ctx.tier.lines[..index].iter().map(|x| x.id.value.clone()).collect();
    for target in &of.lines {
        if earlier.contains(&target.value) {
            continue;
        }
        let message = if ctx.tier.lines.iter().any(|x| x.id.value == target.value) {
            format!(
                "line `{}`: `of.lines` refers to `{target}`, which is not an earlier line of tier `{}`; \
                 a line may only use lines above it",
                l.id, ctx.tier.id
            )
        } else {
            format!(
                "line `{}`: unknown line `{target}` in tier `{}`; {}",
                l.id,
                ctx.tier.id,
                suggestion(target, &earlier, &mut errs.suggestions)
            )
        };
        errs.at(ctx.file, target.pos, message);
    }
    if let Some(input) = &of.input {
        if !n.inputs.contains(&input.value) {
            resolve(ctx.file, input, "input", &n.inputs, errs);
        } else if !n.money_inputs.contains(&input.value) {
            let message =
                format!("line `{}`: input `{input}` is not `unit: money`; only money inputs can be a base", l.id);
            errs.at(ctx.file, input.pos, message);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::load::test_support::*;

    #[test]
    fn an_incident_variable_is_not_valid_in_a_pay_line_and_inputs_are() {
        let files = edited("pay.yaml", "uptime > 0.995", "nodes_down > 0 && partner_revenue > 1");
        let errs = errors(&files);
        assert_one(&errs, "pay.yaml", pos(&files, "pay.yaml", "nodes_down"), &["unknown variable `nodes_down`"]);
    }

    #[test]
    fn a_percent_base_must_be_a_money_input() {
        let files = edited("programme.yaml", "unit: money", "unit: number");
        let errs = errors(&files);
        let at = pos(&files, "pay.yaml", "partner_revenue");
        assert_one(&errs, "pay.yaml", at, &["input `partner_revenue` is not `unit: money`"]);
    }

    #[test]
    fn of_lines_may_only_refer_to_earlier_lines_of_the_tier() {
        let files = edited(
            "pay.yaml",
            "kind: per_node, amount: 500",
            "kind: percent, percent: 10, of: {lines: [uptime_bonus]}",
        );
        let errs = errors(&files);
        let at = pos(&files, "pay.yaml", "uptime_bonus]");
        assert_one(
            &errs,
            "pay.yaml",
            at,
            &["`of.lines` refers to `uptime_bonus`, which is not an earlier line of tier `tier1`"],
        );
    }

    #[test]
    fn a_line_kind_needs_its_fields_and_rejects_the_others() {
        let files = edited("pay.yaml", "kind: fixed, amount: 200", "kind: per_unit, amount: 200, percent: 3");
        let errs = errors(&files);
        let at = pos(&files, "pay.yaml", "uptime_bonus");
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_error(&errs[0], "pay.yaml", at, &["line `uptime_bonus` (kind per_unit) needs `quantity`"]);
        assert_error(&errs[1], "pay.yaml", at, &["line `uptime_bonus`: `percent` does not apply to kind per_unit"]);
    }

    #[test]
    fn a_per_node_line_counts_seen_or_roster_nodes_and_nothing_else() {
        let files = edited("pay.yaml", "kind: per_node, amount: 500", "kind: per_node, amount: 500, nodes: rooster");
        let errs = errors(&files);
        let at = pos(&files, "pay.yaml", "rooster");
        assert_one(&errs, "pay.yaml", at, &["unknown variant `rooster`, expected one of seen, roster"]);
        // `nodes` is for per_node lines only.
        let files = edited("pay.yaml", "kind: fixed, amount: 200", "kind: fixed, amount: 200, nodes: roster");
        let errs = errors(&files);
        let at = pos(&files, "pay.yaml", "uptime_bonus");
        assert_one(&errs, "pay.yaml", at, &["line `uptime_bonus`: `nodes` does not apply to kind fixed"]);
    }

    #[test]
    fn a_schedule_is_monthly_quarterly_or_annually() {
        let files = edited("pay.yaml", "prorate: true", "schedule: weekly");
        let errs = errors(&files);
        let at = pos(&files, "pay.yaml", "weekly");
        assert_one(&errs, "pay.yaml", at, &["unknown variant `weekly`, expected one of monthly, quarterly, annually"]);
        let files = edited("pay.yaml", "prorate: true", "schedule: quarterly");
        let rules = crate::rules::load::load_files(std::path::Path::new("rules"), &files).unwrap();
        assert_eq!(rules.tiers[0].lines[0].schedule, crate::rules::spec::Schedule::Quarterly);
        assert_eq!(rules.tiers[0].lines[1].schedule, crate::rules::spec::Schedule::Monthly, "the default");
    }

    #[test]
    fn per_referral_is_only_for_partner_tiers() {
        let files = edited("pay.yaml", "prorate: true", "per_referral: true");
        let errs = errors(&files);
        assert_one(
            &errs,
            "pay.yaml",
            pos(&files, "pay.yaml", "base"),
            &["`per_referral` applies only to partner tier lines"],
        );
    }

    #[test]
    fn a_per_referral_line_reads_operator_variables_and_a_plain_partner_line_does_not() {
        let files = with_file(fixture(), "zz.yaml", &EVERY_KIND.replace("ratio: retention", "ratio: uptime"));
        let errs = errors(&files);
        let at = pos(&files, "zz.yaml", "uptime}");
        assert_one(&errs, "zz.yaml", at, &["unknown variable `uptime`"]);
    }
}
