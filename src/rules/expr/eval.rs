//! Evaluation of a compiled expression when some variables have no value
//! this period: `&&`, `||` and `if` are decided by what is known where they
//! can be (three-valued, as in SQL), `known(x)` tests for a value, and every
//! other operator is evalexpr's, applied to its operands' values.

use evalexpr::{HashMapContext, Node, Operator, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The value of a variable when an expression runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Var {
    Num(f64),
    Bool(bool),
    /// Known to exist but without a value this period (no data, no
    /// acknowledgement source …): an expression that reads it cannot decide.
    Unknown,
}

/// Variables for one evaluation of expressions, sorted for determinism.
pub type Vars = BTreeMap<String, Var>;

/// Why an expression could not give a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// It reads variables that have no value this period.
    Unknown(Vec<String>),
    /// It ran but failed or gave the wrong type.
    Failed(String),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Unknown(v) => write!(f, "no value for {}", v.join(", ")),
            EvalError::Failed(m) => f.write_str(m),
        }
    }
}

/// `known(x)`: true when variable `x` has a value this period. Evaluated
/// here, not by evalexpr; its argument must be a bare variable name.
pub const KNOWN: &str = "known";

/// The arguments of a function call node: `f(a, b)` is
/// `FunctionIdentifier[RootNode[Tuple[a, b]]]`, `f(a)` is `…[RootNode[a]]`.
fn arguments(call: &Node) -> &[Node] {
    match call.children() {
        [root] if matches!(root.operator(), Operator::RootNode) => match root.children() {
            [tuple] if matches!(tuple.operator(), Operator::Tuple) => tuple.children(),
            args => args,
        },
        args => args,
    }
}

/// The variable `known(x)` asks about, if `call` is such a call.
fn known_argument(call: &Node) -> Option<&str> {
    match arguments(call) {
        [arg] => match arg.operator() {
            Operator::VariableIdentifierRead { identifier } => Some(identifier),
            _ => None,
        },
        _ => None,
    }
}

/// Every `known(…)` must name one variable.
pub(super) fn check_known(node: &Node) -> Result<(), String> {
    if let Operator::FunctionIdentifier { identifier } = node.operator()
        && identifier == KNOWN
        && known_argument(node).is_none()
    {
        return Err("`known` takes one variable name, as in `known(avg_response_seconds)`".to_string());
    }
    node.children().iter().try_for_each(check_known)
}

/// Evaluate `node` with unknowns, bottom-up, turning each evaluated child
/// into a constant so that evalexpr applies the operator itself. Unknowns
/// (`Err(Unknown)`) spread to every operator that touches them, except
/// that `false && …` is false, `true || …` is true (either side), and
/// `if(c, a, b)` needs only the branch it takes. Errors of known values
/// are still found everywhere: no side is skipped, only its unknowns.
pub(super) fn reduce(node: &mut Node, vars: &Vars, ctx: &HashMapContext) -> Result<Value, EvalError> {
    // Kept small: it recurses as deep as the expression nests (see
    // `deeply_nested_expressions_are_refused_or_fit_in_a_small_stack`).
    match node.operator() {
        Operator::VariableIdentifierRead { identifier } => return read(identifier, vars),
        Operator::FunctionIdentifier { identifier } if identifier == KNOWN => return known(node, vars),
        Operator::FunctionIdentifier { identifier } if identifier == "if" => {
            if let Some(value) = reduce_if(node, vars, ctx) {
                return value;
            }
        }
        Operator::And | Operator::Or if node.children().len() == 2 => return reduce_logic(node, vars, ctx),
        _ => {}
    }
    let mut values = Vec::with_capacity(node.children().len());
    for child in node.children_mut() {
        values.push(reduce(child, vars, ctx));
    }
    apply(node, values, ctx)
}

fn read(name: &str, vars: &Vars) -> Result<Value, EvalError> {
    match vars.get(name) {
        Some(Var::Num(n)) => Ok(Value::Float(*n)),
        Some(Var::Bool(b)) => Ok(Value::Boolean(*b)),
        Some(Var::Unknown) | None => Err(EvalError::Unknown(vec![name.to_string()])),
    }
}

fn known(call: &Node, vars: &Vars) -> Result<Value, EvalError> {
    let name = known_argument(call).ok_or_else(|| EvalError::Failed("`known` takes one variable name".into()))?;
    Ok(Value::Boolean(matches!(vars.get(name), Some(Var::Num(_) | Var::Bool(_)))))
}

/// `if(c, a, b)` with a known boolean `c`: the branch taken (an error in
/// the other still fails). `None` to let evalexpr decide otherwise.
#[inline(never)]
fn reduce_if(call: &mut Node, vars: &Vars, ctx: &HashMapContext) -> Option<Result<Value, EvalError>> {
    let args = if_arguments(call)?;
    let Ok(Value::Boolean(c)) = reduce(&mut args[0], vars, ctx) else { return None };
    let (taken, other) = if c { (1, 2) } else { (2, 1) };
    let value = reduce(&mut args[taken], vars, ctx);
    match reduce(&mut args[other], vars, ctx) {
        Err(e @ EvalError::Failed(_)) => Some(Err(e)),
        _ => Some(value),
    }
}

/// `a && b`, `a || b`: a known side that decides the result decides it
/// even when the other side is unknown.
#[inline(never)]
fn reduce_logic(node: &mut Node, vars: &Vars, ctx: &HashMapContext) -> Result<Value, EvalError> {
    let decides = Value::Boolean(matches!(node.operator(), Operator::Or));
    let [a, b] = node.children_mut().as_mut_slice() else { unreachable!("checked by the caller") };
    let (a, b) = (reduce(a, vars, ctx), reduce(b, vars, ctx));
    match (&a, &b) {
        (Ok(x), Err(EvalError::Unknown(_))) | (Err(EvalError::Unknown(_)), Ok(x)) if *x == decides => Ok(decides),
        _ => apply(node, vec![a, b], ctx),
    }
}

/// The three argument nodes of an `if(c, a, b)` call (see [`arguments`]).
fn if_arguments(call: &mut Node) -> Option<&mut [Node]> {
    let [root] = call.children_mut().as_mut_slice() else { return None };
    let [tuple] = root.children_mut().as_mut_slice() else { return None };
    if !matches!(tuple.operator(), Operator::Tuple) {
        return None;
    }
    Some(tuple.children_mut().as_mut_slice()).filter(|args| args.len() == 3)
}

/// Apply `node`'s operator to its children's values: unknown if any is
/// unknown (naming every unknown), else the first error, else evalexpr's
/// result with the children replaced by their values.
#[inline(never)]
fn apply(node: &mut Node, values: Vec<Result<Value, EvalError>>, ctx: &HashMapContext) -> Result<Value, EvalError> {
    let mut unknown = vec![];
    let mut failed = None;
    let mut known = vec![];
    for v in values {
        match v {
            Ok(v) => known.push(v),
            Err(EvalError::Unknown(names)) => unknown.extend(names),
            Err(e @ EvalError::Failed(_)) => failed = failed.or(Some(e)),
        }
    }
    if !unknown.is_empty() {
        return Err(EvalError::Unknown(unknown));
    }
    if let Some(e) = failed {
        return Err(e);
    }
    for (child, value) in node.children_mut().iter_mut().zip(known) {
        *child.operator_mut() = Operator::Const { value };
        child.children_mut().clear();
    }
    node.eval_with_context(ctx).map_err(|e| EvalError::Failed(e.to_string()))
}
