//! Argument groups that several commands share, each declared once and
//! `#[command(flatten)]`ed into the commands (`evaluate`, `explain`,
//! `close`, `mail`, `serve`), with what each group turns into: client
//! settings for Prometheus and Alertmanager, the history of closed
//! months, mail options.

use crate::close::mail;
use crate::history::{self, History};
use crate::period::{Dur, Period};
use crate::rules::Rules;
use crate::source::alertmanager::AlertmanagerConfig;
use crate::source::{ClientConfig, Protocol};
use std::path::PathBuf;
use std::time::Duration;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Where Prometheus is and how to ask it.
#[derive(Debug, Clone, clap::Args)]
pub struct PrometheusArgs {
    /// Base URL of the Prometheus HTTP API.
    #[arg(long = "prometheus.url", default_value = "http://127.0.0.1:9090")]
    pub prometheus_url: String,
    /// Timeout of one Prometheus request.
    #[arg(long = "query.timeout", default_value = "2m")]
    pub query_timeout: Dur,
    /// Attempts per Prometheus request (retries back off exponentially).
    #[arg(long = "query.attempts", default_value_t = 4)]
    pub query_attempts: u32,
    /// How long windows (the month close, `serve`'s catch-up) read the `up`
    /// and degraded series: `remote-read` (Prometheus' `/api/v1/read`, each
    /// sample loaded once), `promql` (per-day `count_over_time`/`sum_over_time`),
    /// or `auto`: remote read when the selector is a plain vector selector
    /// and the server has it, PromQL otherwise.
    #[arg(long = "source.protocol", value_enum, default_value = "auto")]
    pub source_protocol: Protocol,
}

impl PrometheusArgs {
    /// The client settings these flags give.
    pub fn config(&self) -> ClientConfig {
        ClientConfig {
            timeout: std_duration(self.query_timeout),
            max_attempts: self.query_attempts,
            protocol: self.source_protocol,
            ..ClientConfig::new(&self.prometheus_url)
        }
    }

    /// The Alertmanager client settings of `alertmanager`, with these
    /// flags' request timeout and attempts.
    pub fn alertmanager(&self, alertmanager: &AlertmanagerArgs) -> Option<AlertmanagerConfig> {
        alertmanager.config(self.query_timeout, self.query_attempts)
    }
}

/// Where acknowledgements come from: Alertmanager silences.
#[derive(Debug, Clone, clap::Args)]
pub struct AlertmanagerArgs {
    /// Base URL of the Alertmanager whose silences acknowledge incidents
    /// (`amtool silence add incident=<id>`); without it response times are
    /// unknown and response lines are withheld.
    #[arg(long = "alertmanager.url")]
    pub alertmanager_url: Option<String>,
}

impl AlertmanagerArgs {
    /// The client settings, with this request timeout (at least 1 s) and attempts.
    pub fn config(&self, timeout: Dur, attempts: u32) -> Option<AlertmanagerConfig> {
        let url = self.alertmanager_url.as_ref()?;
        Some(AlertmanagerConfig {
            timeout: Duration::from_secs(timeout.seconds().max(1) as u64),
            max_attempts: attempts,
            ..AlertmanagerConfig::new(url)
        })
    }
}

/// Where the programme's history comes from: the closed months.
#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    /// Directory of closed months (as written by `close --out`): the
    /// history that aggregates, year-to-date figures and "eligible since"
    /// read. Without it, what needs earlier months is withheld.
    #[arg(long = "history.dir")]
    pub history_dir: Option<PathBuf>,
}

impl HistoryArgs {
    /// The closed months `period` may read under `rules` (none without a directory).
    pub fn read(&self, rules: &Rules, period: &Period) -> Result<History, Error> {
        match &self.history_dir {
            Some(dir) => Ok(history::dir::read(dir, period, rules.history_months())?),
            None => {
                if !rules.aggregates.is_empty() {
                    tracing::warn!(
                        "no --history.dir: aggregates over earlier months and year-to-date figures are unknown"
                    );
                }
                Ok(History::default())
            }
        }
    }
}

/// SMTP and addresses. The password is read only from a file
/// (`--smtp.password-file`) or the environment (`FLEET_SMTP_PASSWORD`).
#[derive(Debug, Clone, clap::Args)]
pub struct MailArgs {
    /// Sender address.
    #[arg(long = "mail.from", env = "FLEET_MAIL_FROM", default_value = "fleet-incentives@localhost")]
    pub from: String,
    /// Finance's address(es): the whole statement goes there (comma-separated or repeated).
    #[arg(long = "mail.finance", env = "FLEET_MAIL_FINANCE", value_delimiter = ',')]
    pub finance: Vec<String>,
    #[arg(long = "smtp.host", env = "FLEET_SMTP_HOST", default_value = "127.0.0.1")]
    pub smtp_host: String,
    #[arg(long = "smtp.port", env = "FLEET_SMTP_PORT", default_value_t = 587)]
    pub smtp_port: u16,
    #[arg(long = "smtp.tls", env = "FLEET_SMTP_TLS", value_enum, default_value = "starttls")]
    pub smtp_tls: mail::TlsMode,
    #[arg(long = "smtp.user", env = "FLEET_SMTP_USER")]
    pub smtp_user: Option<String>,
    /// File whose first line is the SMTP password (else `FLEET_SMTP_PASSWORD`).
    #[arg(long = "smtp.password-file", env = "FLEET_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,
    #[arg(long = "smtp.timeout", default_value = "30s")]
    pub smtp_timeout: Dur,
    /// Print the messages instead of sending them (nothing is recorded).
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

impl MailArgs {
    /// The mail options these flags give, the password read.
    pub fn options(&self) -> Result<mail::MailOptions, Error> {
        Ok(mail::MailOptions {
            from: self.from.clone(),
            finance: self.finance.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect(),
            smtp: mail::SmtpConfig {
                host: self.smtp_host.clone(),
                port: self.smtp_port,
                tls: self.smtp_tls,
                user: self.smtp_user.clone(),
                password: mail::read_password(self.smtp_password_file.as_ref(), "FLEET_SMTP_PASSWORD")?,
                timeout: Duration::from_secs(self.smtp_timeout.seconds().max(1) as u64),
            },
            dry_run: self.dry_run,
        })
    }
}

/// A duration flag as a `std` duration (durations are never negative).
pub fn std_duration(d: Dur) -> Duration {
    Duration::from_secs(d.seconds().max(0) as u64)
}
