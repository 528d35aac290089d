//! Rules: the YAML model of the programme (spec structs in [`spec`]),
//! expressions ([`expr`]), the variables they may read ([`vars`]), the
//! validated rule set ([`model`]: [`Rules`]), the roster over time
//! ([`roster`]: tier history, the tier governing a period; [`states`]:
//! enforcement states and the kill switch, the states governing a
//! period), and the loader that reads a directory, validates everything
//! and reports every error with file:line:column, or names the directory
//! it cannot read ([`load`]); which input queries add up window by window
//! ([`additive`]); scores and flags, computed from other
//! variables, and their order ([`derived`]).
//! This file only declares and re-exports.

pub mod additive;
pub mod derived;
pub mod expr;
pub mod load;
pub mod model;
pub mod roster;
pub mod spec;
pub mod states;
pub mod vars;

pub use load::{LoadError, RuleError, from_yaml_unchecked, load_dir};
pub use model::{Maintenance, Rules, maintenance_intervals};
