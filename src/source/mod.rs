//! The source stage: the only code that talks to Prometheus.
