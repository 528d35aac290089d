//! Expressions in rules (`when:`, `quantity:`, `ratio:` …): evalexpr 11.3.1,
//! compiled once when the YAML is read, variables checked at load time.
//! Expressions decide conditions and quantities in `f64`; they never produce
//! a currency amount.

use evalexpr::{ContextWithMutableFunctions, ContextWithMutableVariables, HashMapContext, Node, Operator, Value};
use serde::{Deserialize, Deserializer, Serialize};
use serde_saphyr::Spanned;
use std::fmt;

mod eval;
pub use eval::{EvalError, KNOWN, Var, Vars};
use eval::{check_known, reduce};

/// A position in a rule file (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl Pos {
    pub fn of<T>(s: &Spanned<T>) -> Pos {
        Pos { line: s.referenced.line(), column: s.referenced.column() }
    }
}

/// A string with the position it was written at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Text {
    pub value: String,
    pub pos: Pos,
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Spanned::<String>::deserialize(d)?;
        Ok(Text { pos: Pos::of(&s), value: s.value })
    }
}

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.value
    }
}

/// A compiled expression. Compilation happens during deserialization; a
/// syntax error is kept (not raised) so that the loader can report every
/// error of a file at once, with its position.
#[derive(Clone)]
pub struct Expr {
    pub source: String,
    pub pos: Pos,
    compiled: Result<Node, String>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?} at {})", self.source, self.pos)
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Accept `true`, `1`, `0.5` as well as strings: YAML may type them.
        let s = Spanned::<ScalarText>::deserialize(d)?;
        Ok(Expr::compile(&s.value.0, Pos::of(&s)))
    }
}

struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an expression such as `uptime > 0.995`")
            }
            fn visit_str<E>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(format!("{v:?}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// Turn integer literals into floats. Every variable is a float, and in
/// evalexpr `0.0 == 0` is false and `16 / 32` is integer division: with
/// floats only, `major_incidents == 0` and `mentees / 2` mean what they say.
fn floats_only(node: &mut Node) {
    if let Operator::Const { value: Value::Int(i) } = node.operator() {
        let f = *i as f64;
        *node.operator_mut() = Operator::Const { value: Value::Float(f) };
    }
    for child in node.children_mut() {
        floats_only(child);
    }
}

/// The functions an expression may call: numbers and conditions only.
/// evalexpr's string, tuple and bitwise functions have no use in pay rules,
/// and some panic on hostile arguments: `str::substring("é", len("a"))`
/// slices inside a character, `shl(len("a"), 64)` overflows.
pub const FUNCTIONS: &[&str] = &[
    "min",
    "max",
    "if",
    "floor",
    "round",
    "ceil",
    "math::abs",
    "math::sqrt",
    "math::cbrt",
    "math::pow",
    "math::exp",
    "math::exp2",
    "math::ln",
    "math::log",
    "math::log2",
    "math::log10",
    "math::hypot",
    "math::is_nan",
    "math::is_finite",
    "math::is_infinite",
    "math::is_normal",
    "math::sin",
    "math::cos",
    "math::tan",
    "math::asin",
    "math::acos",
    "math::atan",
    "math::atan2",
    "math::sinh",
    "math::cosh",
    "math::tanh",
    "math::asinh",
    "math::acosh",
    "math::atanh",
];

/// Run a freshly compiled expression once with every variable set to 1.0,
/// to catch what evalexpr only finds when it evaluates: missing operands,
/// wrong argument counts, unknown functions. Type errors are not reported
/// here (a variable may be a boolean); they surface at evaluation.
fn dry_run(node: &Node) -> Result<(), String> {
    use evalexpr::EvalexprError as E;
    let mut ctx = HashMapContext::new();
    for name in node.iter_read_variable_identifiers() {
        let _ = ctx.set_value(name.to_string(), Value::Float(1.0));
    }
    let _ = ctx.set_function(KNOWN.to_string(), evalexpr::Function::new(|_| Ok(Value::Boolean(true))));
    match node.eval_with_context(&ctx) {
        Err(
            e @ (E::WrongOperatorArgumentAmount { .. }
            | E::WrongFunctionArgumentAmount { .. }
            | E::FunctionIdentifierNotFound(_)),
        ) => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// Longest expression accepted, in characters. evalexpr parses, walks and
/// evaluates recursively: an expression thousands of operators deep
/// (`------…1`, `((((…))))`) overflowed the stack and aborted the process,
/// `check` and `serve` alike. Rule expressions are a line or two.
pub const MAX_EXPR_CHARS: usize = 1000;

impl Expr {
    pub fn compile(source: &str, pos: Pos) -> Expr {
        let length = source.chars().count();
        if length > MAX_EXPR_CHARS {
            let message = format!("expression is {length} characters long; at most {MAX_EXPR_CHARS}");
            return Expr { source: source.to_string(), pos, compiled: Err(message) };
        }
        let compiled = evalexpr::build_operator_tree(source)
            .map_err(|e| format!("invalid expression `{source}`: {e}"))
            .map(|mut node| {
                floats_only(&mut node);
                node
            })
            .and_then(|node| {
                let writes: Vec<&str> = node.iter_write_variable_identifiers().collect();
                let mut others: Vec<&str> =
                    node.iter_function_identifiers().filter(|f| !FUNCTIONS.contains(f) && *f != KNOWN).collect();
                others.sort();
                others.dedup();
                if !others.is_empty() {
                    Err(format!(
                        "invalid expression `{source}`: unknown function `{}`; expressions may call min, max, if, \
                         floor, round, ceil, known and math::… (abs, sqrt, pow, ln, log, …)",
                        others.join("`, `")
                    ))
                } else if writes.is_empty() {
                    check_known(&node)
                        .and_then(|()| dry_run(&node))
                        .map(|()| node)
                        .map_err(|e| format!("invalid expression `{source}`: {e}"))
                } else {
                    Err(format!(
                        "invalid expression `{source}`: assigns to `{}`; expressions may only read variables",
                        writes.join("`, `")
                    ))
                }
            });
        Expr { source: source.to_string(), pos, compiled }
    }

    /// The compile error, if any.
    pub fn error(&self) -> Option<&str> {
        self.compiled.as_ref().err().map(String::as_str)
    }

    /// Variable names read, sorted and deduplicated (empty if it did not compile).
    pub fn variables(&self) -> Vec<String> {
        let mut v: Vec<String> = match &self.compiled {
            Ok(n) => n.iter_read_variable_identifiers().map(str::to_string).collect(),
            Err(_) => vec![],
        };
        v.sort();
        v.dedup();
        v
    }

    /// Function names called, sorted and deduplicated.
    pub fn functions(&self) -> Vec<String> {
        let mut v: Vec<String> = match &self.compiled {
            Ok(n) => n.iter_function_identifiers().map(str::to_string).collect(),
            Err(_) => vec![],
        };
        v.sort();
        v.dedup();
        v
    }

    /// Variables this expression reads that `known` does not define.
    pub fn unknown_variables(&self, known: &dyn Fn(&str) -> bool) -> Vec<String> {
        self.variables().into_iter().filter(|v| !known(v)).collect()
    }

    fn run(&self, vars: &Vars) -> Result<Value, EvalError> {
        let node = self.compiled.as_ref().map_err(|e| EvalError::Failed(e.clone()))?;
        reduce(&mut node.clone(), vars, &HashMapContext::new()).map_err(|e| match e {
            EvalError::Unknown(mut names) => {
                names.sort();
                names.dedup();
                EvalError::Unknown(names)
            }
            EvalError::Failed(m) => EvalError::Failed(format!("`{}`: {m}", self.source)),
        })
    }

    /// Evaluate as a condition.
    pub fn eval_bool(&self, vars: &Vars) -> Result<bool, EvalError> {
        match self.run(vars)? {
            Value::Boolean(b) => Ok(b),
            other => Err(EvalError::Failed(format!("`{}` gave {other} where true or false was expected", self.source))),
        }
    }

    /// Evaluate as a number (ints widen to f64); NaN and ∞ are errors.
    pub fn eval_number(&self, vars: &Vars) -> Result<f64, EvalError> {
        let n = match self.run(vars)? {
            Value::Float(f) => f,
            Value::Int(i) => i as f64,
            other => {
                return Err(EvalError::Failed(format!("`{}` gave {other} where a number was expected", self.source)));
            }
        };
        if n.is_finite() { Ok(n) } else { Err(EvalError::Failed(format!("`{}` gave {n}", self.source))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, Var)]) -> Vars {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    /// The result of an expression undecided for want of `avg_response_seconds`.
    fn unknown<T>() -> Result<T, EvalError> {
        Err(EvalError::Unknown(vec!["avg_response_seconds".into()]))
    }

    #[test]
    fn a_condition_reads_its_variables() {
        let e = Expr::compile("uptime > 0.995 && nodes >= 1", Pos::default());
        assert_eq!(e.error(), None);
        assert_eq!(e.variables(), vec!["nodes", "uptime"]);
        let v = vars(&[("uptime", Var::Num(0.996)), ("nodes", Var::Num(2.0))]);
        assert_eq!(e.eval_bool(&v), Ok(true));
        let v = vars(&[("uptime", Var::Num(0.995)), ("nodes", Var::Num(2.0))]);
        assert_eq!(e.eval_bool(&v), Ok(false));
    }

    #[test]
    fn an_unknown_variable_makes_the_expression_undecided_not_false() {
        let e = Expr::compile("avg_response_seconds < 900", Pos::default());
        let v = vars(&[("avg_response_seconds", Var::Unknown)]);
        assert_eq!(e.eval_bool(&v), Err(EvalError::Unknown(vec!["avg_response_seconds".into()])));
    }

    /// `known(x)` tests whether a variable has a value this period.
    #[test]
    fn known_tells_whether_a_variable_has_a_value() {
        let e = Expr::compile("known(avg_response_seconds)", Pos::default());
        assert_eq!(e.error(), None);
        assert_eq!(e.variables(), vec!["avg_response_seconds"]);
        assert_eq!(e.eval_bool(&vars(&[("avg_response_seconds", Var::Unknown)])), Ok(false));
        assert_eq!(e.eval_bool(&vars(&[("avg_response_seconds", Var::Num(0.0))])), Ok(true));
        assert_eq!(e.eval_bool(&vars(&[("avg_response_seconds", Var::Bool(false))])), Ok(true));
        let e = Expr::compile("!known(avg_response_seconds) || avg_response_seconds < 900", Pos::default());
        assert_eq!(e.eval_bool(&vars(&[("avg_response_seconds", Var::Unknown)])), Ok(true));
        assert_eq!(e.eval_bool(&vars(&[("avg_response_seconds", Var::Num(1000.0))])), Ok(false));
    }

    #[test]
    fn known_takes_a_bare_variable_name() {
        for bad in ["known(1 + x)", "known(1)", "known()", "known(x, y)", "known(min(x, 1))", "1 + known(true)"] {
            let e = Expr::compile(bad, Pos::default());
            let message = e.error().unwrap_or_else(|| panic!("{bad} compiled"));
            assert!(message.contains("`known` takes one variable name"), "{bad}: {message}");
        }
    }

    /// Like SQL's three-valued logic: a side that decides `&&` or `||` on
    /// its own decides it, whatever the unknown side would have been.
    #[test]
    fn and_and_or_are_decided_by_a_known_side_that_decides_them() {
        let none = vars(&[("incidents", Var::Num(0.0)), ("avg_response_seconds", Var::Unknown)]);
        let some = vars(&[("incidents", Var::Num(2.0)), ("avg_response_seconds", Var::Unknown)]);
        let or = Expr::compile("incidents == 0 || avg_response_seconds < 900", Pos::default());
        assert_eq!(or.eval_bool(&none), Ok(true));
        assert_eq!(or.eval_bool(&some), unknown());
        let or = Expr::compile("avg_response_seconds < 900 || incidents < 1", Pos::default());
        assert_eq!(or.eval_bool(&none), Ok(true));
        assert_eq!(or.eval_bool(&some), unknown());
        let and = Expr::compile("incidents > 0 && avg_response_seconds < 900", Pos::default());
        assert_eq!(and.eval_bool(&none), Ok(false));
        assert_eq!(and.eval_bool(&some), unknown());
        let and = Expr::compile("avg_response_seconds < 900 && incidents > 0", Pos::default());
        assert_eq!(and.eval_bool(&none), Ok(false));
        assert_eq!(and.eval_bool(&some), unknown());
        // `!` of an unknown is unknown; nested, the outer operator decides.
        assert_eq!(Expr::compile("!(avg_response_seconds < 900)", Pos::default()).eval_bool(&none), unknown());
        let nested = Expr::compile("(incidents < 1 || avg_response_seconds < 900) && incidents < 5", Pos::default());
        assert_eq!(nested.eval_bool(&none), Ok(true));
        // Both sides unknown: unknown, naming both.
        let both = vars(&[("uptime", Var::Unknown), ("avg_response_seconds", Var::Unknown)]);
        let e = Expr::compile("uptime > 0.9 || avg_response_seconds < 900", Pos::default());
        assert_eq!(e.eval_bool(&both), Err(EvalError::Unknown(vec!["avg_response_seconds".into(), "uptime".into()])));
        // A side that does not decide leaves the result unknown, never false.
        let e = Expr::compile("incidents < 1 && avg_response_seconds < 900", Pos::default());
        assert_eq!(e.eval_bool(&none), unknown());
    }

    #[test]
    fn if_needs_only_the_branch_it_takes() {
        let none = vars(&[("incidents", Var::Num(0.0)), ("avg_response_seconds", Var::Unknown)]);
        let some = vars(&[("incidents", Var::Num(2.0)), ("avg_response_seconds", Var::Unknown)]);
        let e = Expr::compile("if(incidents < 1, true, avg_response_seconds < 900)", Pos::default());
        assert_eq!(e.eval_bool(&none), Ok(true));
        assert_eq!(e.eval_bool(&some), unknown());
        let e = Expr::compile("if(incidents < 1, 0, avg_response_seconds / 60)", Pos::default());
        assert_eq!(e.eval_number(&none), Ok(0.0));
        assert_eq!(e.eval_number(&some), unknown());
        // An unknown condition leaves it unknown, even if both branches agree.
        let e = Expr::compile("if(avg_response_seconds < 900, 1, 1)", Pos::default());
        assert_eq!(e.eval_number(&none), unknown());
        // Inside another function, the value of the branch taken is used.
        let e = Expr::compile("max(if(incidents < 1, 0, avg_response_seconds), 5)", Pos::default());
        assert_eq!(e.eval_number(&none), Ok(5.0));
    }

    /// Anything but `&&`, `||` and `if` that touches an unknown is unknown:
    /// never 0, never false.
    #[test]
    fn arithmetic_and_comparisons_of_an_unknown_stay_unknown() {
        let v = vars(&[("incidents", Var::Num(0.0)), ("avg_response_seconds", Var::Unknown)]);
        assert_eq!(Expr::compile("avg_response_seconds < 900", Pos::default()).eval_bool(&v), unknown());
        assert_eq!(Expr::compile("avg_response_seconds * 0 == 0", Pos::default()).eval_bool(&v), unknown());
        assert_eq!(Expr::compile("min(avg_response_seconds, 0)", Pos::default()).eval_number(&v), unknown());
        assert_eq!(
            Expr::compile("avg_response_seconds == avg_response_seconds", Pos::default()).eval_bool(&v),
            unknown()
        );
        // A variable the caller did not set at all counts as unknown too.
        let e = Expr::compile("incidents < 1 && nodes > 0", Pos::default());
        assert_eq!(e.eval_bool(&v), Err(EvalError::Unknown(vec!["nodes".into()])));
    }

    /// Errors of known values are still errors, in the branch not taken too.
    #[test]
    fn type_errors_are_reported_as_before() {
        let v = vars(&[("incidents", Var::Num(0.0)), ("terminated", Var::Bool(true))]);
        for source in [
            "incidents && true",
            "false && incidents",
            "true || incidents",
            "if(incidents, 1, 2)",
            "if(true, 1, terminated + 1)",
        ] {
            let e = Expr::compile(source, Pos::default());
            assert!(matches!(e.eval_number(&v), Err(EvalError::Failed(_))), "{source}: {:?}", e.eval_number(&v));
        }
    }

    #[test]
    fn syntax_errors_and_assignments_are_kept_as_errors() {
        assert!(Expr::compile("uptime > ", Pos::default()).error().is_some());
        assert!(Expr::compile("uptime = 1", Pos::default()).error().unwrap().contains("assigns"));
        assert!(Expr::compile("nope(uptime)", Pos::default()).error().is_some());
        assert!(Expr::compile("min(uptime)", Pos::default()).error().is_none());
        assert!(Expr::compile("terminated && tenure_months <= 6", Pos::default()).error().is_none());
    }

    #[test]
    fn integer_literals_compare_and_divide_as_floats() {
        let v = vars(&[("major_incidents", Var::Num(0.0)), ("mentees", Var::Num(3.0))]);
        assert_eq!(Expr::compile("major_incidents == 0", Pos::default()).eval_bool(&v), Ok(true));
        assert_eq!(Expr::compile("16 / 32", Pos::default()).eval_number(&v), Ok(0.5));
        assert_eq!(Expr::compile("mentees / 2", Pos::default()).eval_number(&v), Ok(1.5));
    }

    /// Regression: `-` ten thousand times overflowed the stack (a crash,
    /// not an error). At the length limit, the deepest shapes compile,
    /// evaluate and drop in the 2 MiB stack of a tokio worker (where `serve`
    /// reloads rules), even unoptimised.
    #[test]
    fn deeply_nested_expressions_are_refused_or_fit_in_a_small_stack() {
        let n = MAX_EXPR_CHARS;
        let too_long = Expr::compile(&("-".repeat(10_000 - 1) + "1"), Pos::default());
        assert_eq!(too_long.error(), Some("expression is 10000 characters long; at most 1000"));
        let shapes = [
            "-".repeat(n - 1) + "1",
            "!".repeat(n - 4) + "true",
            "min(".repeat((n - 1) / 5) + "1" + &")".repeat((n - 1) / 5),
            "(".repeat((n - 1) / 2) + "1" + &")".repeat((n - 1) / 2),
            "1".to_string() + &"+1".repeat((n - 1) / 2),
            "true".to_string() + &"&&true".repeat((n - 4) / 6),
            "if(true,1,".repeat((n - 1) / 11) + "1" + &")".repeat((n - 1) / 11),
        ];
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                for source in shapes {
                    assert!(source.len() <= MAX_EXPR_CHARS);
                    let e = Expr::compile(&source, Pos::default());
                    let _ = e.eval_number(&Vars::new());
                    let _ = e.eval_bool(&Vars::new());
                }
            })
            .unwrap()
            .join()
            .unwrap();
    }

    /// Regression: `str::substring("é", len("a"))` panicked in evalexpr
    /// (a byte index inside a character) during the dry run, and `shl`
    /// overflowed; only numeric functions are allowed now.
    #[test]
    fn string_and_bitwise_functions_are_refused_before_they_run() {
        let e = Expr::compile(r#"str::substring("é", len("a")) == "x""#, Pos::default());
        assert!(e.error().unwrap().contains("unknown function `len`, `str::substring`"), "{:?}", e.error());
        let e = Expr::compile(
            r#"shl(len("a"), len("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")) > 0"#,
            Pos::default(),
        );
        assert!(e.error().unwrap().contains("unknown function `len`, `shl`"), "{:?}", e.error());
        for ok in ["math::abs(uptime - 1) < 0.01", "if(uptime > 0.9, floor(uptime * 100), 0)", "math::pow(2, 3) == 8"] {
            assert_eq!(Expr::compile(ok, Pos::default()).error(), None, "{ok}");
        }
        // Every name allowed is one of evalexpr's functions.
        for f in FUNCTIONS {
            let r = evalexpr::eval(&format!("{f}(1.0)"));
            assert!(!matches!(r, Err(evalexpr::EvalexprError::FunctionIdentifierNotFound(_))), "{f}");
        }
    }

    #[test]
    fn integer_results_widen_to_numbers() {
        let e = Expr::compile("min(3, 5)", Pos::default());
        assert_eq!(e.eval_number(&Vars::new()), Ok(3.0));
        let e = Expr::compile("1.0 / 0.0", Pos::default());
        assert!(e.eval_number(&Vars::new()).is_err());
    }
}
