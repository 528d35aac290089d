//! The builder the evaluation's families are registered with, and the
//! availability figures several families share (used by `evaluation.rs`
//! and its `nodes` family).

use crate::evaluation::Availability;
use crate::export::{Labels, PREFIX, Samples, register};
use crate::money::to_f64;
use prometheus_client::encoding::text;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

/// The uptime of an [`Availability`]: none without data.
pub(in crate::export) fn uptime(a: &Availability) -> Option<f64> {
    a.uptime.map(to_f64)
}

/// The coverage of an [`Availability`].
pub(in crate::export) fn coverage(a: &Availability) -> Option<f64> {
    Some(to_f64(a.coverage))
}

/// Registers gauge families under [`PREFIX`]; `name` is without the unit
/// suffix, which the registry appends (`node_down` + seconds).
///
/// Each family is encoded as soon as it is registered and then dropped
/// (the text of registries encoded one after the other is that of one
/// registry holding them all): only one family's label sets are held at
/// once, not the whole evaluation's.
pub(in crate::export) struct Builder<'a> {
    registry: Registry,
    out: &'a mut dyn std::fmt::Write,
}

impl<'a> Builder<'a> {
    pub(in crate::export) fn new(out: &'a mut dyn std::fmt::Write) -> Self {
        Builder { registry: Registry::with_prefix(PREFIX), out }
    }

    /// Register families directly (encoded at the next family or at [`Builder::finish`]).
    pub(in crate::export) fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Encode what is registered and start an empty registry.
    fn flush(&mut self) {
        let registry = std::mem::replace(&mut self.registry, Registry::with_prefix(PREFIX));
        // The writers used (a String, serve's compressing writer) cannot fail.
        text::encode_registry(&mut self.out, &registry).expect("the text writer failed");
    }

    /// Encode the families registered last.
    pub(in crate::export) fn finish(mut self) {
        self.flush();
    }

    pub(in crate::export) fn gauge<S: Labels>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        samples: Vec<(S, f64)>,
    ) {
        register(&mut self.registry, name, help, unit, Samples(samples));
        self.flush();
    }

    /// A gauge family over labelled rows: one sample, in the rows' order, for
    /// every row that `value` gives a number.
    pub(in crate::export) fn per<S: Labels, R>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        rows: &[(S, &R)],
        value: impl Fn(&R) -> Option<f64>,
    ) {
        self.gauge(
            name,
            help,
            unit,
            rows.iter().filter_map(|(labels, row)| Some((labels.clone(), value(row)?))).collect(),
        );
    }

    /// An unlabelled gauge; `None` leaves the family out.
    pub(in crate::export) fn scalar(&mut self, name: &str, help: &str, unit: Option<Unit>, value: Option<f64>) {
        if let Some(v) = value {
            register(&mut self.registry, name, help, unit, ConstGauge::new(v));
        }
    }
}
