//! The source stage: the only code that talks to Prometheus. Turns query
//! results into [`crate::facts::Facts`].

pub mod samples;
