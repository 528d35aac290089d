//! Bytes → the expression compiler (`Expr::compile`: evalexpr's parser,
//! integer literals to floats, the assignment check and the dry run), then
//! evaluation as a condition and as a number with the expression's
//! variables set to numbers (0, negative, tiny, huge, NaN, ∞), booleans and
//! unknown values in turn. Any panic, abort or timeout is a bug: an
//! expression either does not compile (an error kept for the loader) or
//! evaluates to a value or an `EvalError`.
#![no_main]

use fleet_incentives::rules::expr::{Expr, Pos, Var, Vars};
use libfuzzer_sys::fuzz_target;

const VALUES: [Var; 12] = [
    Var::Num(0.0),
    Var::Num(1.0),
    Var::Num(0.995),
    Var::Num(-1.5),
    Var::Num(1e-300),
    Var::Num(f64::MAX),
    Var::Num(f64::MIN),
    Var::Num(f64::NAN),
    Var::Num(f64::INFINITY),
    Var::Bool(true),
    Var::Bool(false),
    Var::Unknown,
];

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let e = Expr::compile(source, Pos { line: 1, column: 1 });
    let names = e.variables();
    let _ = e.functions();
    let _ = e.unknown_variables(&|v| v.starts_with('u'));
    if e.error().is_some() {
        assert!(names.is_empty(), "a failed compile reads no variables");
    }
    // Every variable the same value, then every variable a different one.
    for (round, _) in VALUES.iter().enumerate() {
        let same: Vars = names.iter().map(|n| (n.clone(), VALUES[round])).collect();
        let mixed: Vars =
            names.iter().enumerate().map(|(i, n)| (n.clone(), VALUES[(i + round) % VALUES.len()])).collect();
        for vars in [same, mixed] {
            let _ = e.eval_bool(&vars);
            if let Ok(n) = e.eval_number(&vars) {
                assert!(n.is_finite(), "eval_number gave {n}");
            }
        }
    }
    // No variables at all: every name is missing.
    let _ = e.eval_bool(&Vars::new());
});
