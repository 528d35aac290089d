//! Acknowledgements from Alertmanager.
//!
//! On-call acknowledges an incident the way amtool and Nagstamon users do:
//! by creating an Alertmanager **silence** for it, e.g.
//! `amtool silence add incident="P2-20261008T1410Z-n07" --comment="ack"`.
//! The source reads the silences (`GET /api/v2/silences`) and turns each
//! one that names an incident or a node into an [`Acknowledgement`] at the
//! silence's start. The engine attaches it to the incident, computes the
//! response time and stops the incident's escalation.
//!
//! A silence acknowledges when one of its matchers is an equality (not a
//! regex, not `!=`) on the label `incident` (the node is the part after the
//! incident's start time in the id: `<severity>-<YYYYMMDDTHHMMZ>-<node>`)
//! or on the label `node`. An equality matcher on `incident` also
//! acknowledges, by its value, the incident of an incident source
//! (`incident_sources`) whose id is that value (`<class>-<YYYYMMDDTHHMMZ>-<key>`)
//! or whose key (its `id_label` value, a ticket number) is that value.
//! A silence that starts after the window end
//! (pending) does not count yet. Silences are kept in the evidence of a
//! closed month, so a replay gives the same response times.

use super::redact::redact_url;
use crate::facts::{Acknowledgement, Facts, IncidentAcknowledgement};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One Alertmanager silence, as much of it as an acknowledgement needs
/// (the API's `gettableSilence`; other fields are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    pub id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
    pub matchers: Vec<Matcher>,
}

/// A silence matcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Matcher {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub is_regex: bool,
    /// `false` for `!=` / `!~` (Alertmanager ≥ 0.22); absent means `true`.
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

/// Where Alertmanager is and how to ask it. `Debug` masks a password in
/// the URL.
#[derive(Clone)]
pub struct AlertmanagerConfig {
    /// Base URL, e.g. `http://127.0.0.1:9093` (a path prefix is kept).
    pub base_url: String,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Attempts per read, the first included.
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled before each later one.
    pub backoff: Duration,
}

impl std::fmt::Debug for AlertmanagerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertmanagerConfig")
            .field("base_url", &redact_url(&self.base_url))
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .finish()
    }
}

impl AlertmanagerConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        AlertmanagerConfig {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(30),
            max_attempts: 4,
            backoff: Duration::from_millis(500),
        }
    }
}

/// Reading the silences failed.
#[derive(Debug, thiserror::Error)]
pub enum AlertmanagerError {
    #[error("cannot read silences from Alertmanager at {url} after {attempts} attempt(s): {message}")]
    Unreachable { url: String, attempts: u32, message: String },
    #[error("Alertmanager at {url} answered HTTP {status} to the silences request: {body}")]
    Status { url: String, status: u16, body: String },
    #[error("unexpected answer from Alertmanager at {url} to the silences request: {message}")]
    Decode { url: String, message: String },
    #[error("bad Alertmanager configuration: {0}")]
    Config(String),
}

/// Reads silences from one Alertmanager.
#[derive(Debug, Clone)]
pub struct Alertmanager {
    http: reqwest::Client,
    config: AlertmanagerConfig,
}

impl Alertmanager {
    pub fn new(config: AlertmanagerConfig) -> Result<Self, AlertmanagerError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| AlertmanagerError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Alertmanager { http, config })
    }

    /// Every silence Alertmanager holds (active, pending and the expired
    /// ones it still keeps: `--data.retention`), sorted by start and id.
    /// Connection errors, timeouts and HTTP 5xx are retried with backoff.
    pub async fn silences(&self) -> Result<Vec<Silence>, AlertmanagerError> {
        let url = format!("{}/api/v2/silences", self.config.base_url);
        let attempts = self.config.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let result = self.attempt(&url, attempt).await;
            match result {
                Err(e) if attempt < attempts && retryable(&e) => {
                    tracing::debug!(attempt, error = %e, "retrying the Alertmanager silences request");
                    tokio::time::sleep(self.config.backoff * 2u32.saturating_pow(attempt - 1)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
                Ok(mut silences) => {
                    silences.sort_by(|a, b| (a.starts_at, &a.id).cmp(&(b.starts_at, &b.id)));
                    return Ok(silences);
                }
            }
        }
    }

    async fn attempt(&self, url: &str, attempt: u32) -> Result<Vec<Silence>, AlertmanagerError> {
        // Errors name the URL with any password masked (reqwest's own text
        // would carry the whole URL).
        let shown = redact_url(&self.config.base_url);
        let unreachable = |e: reqwest::Error| AlertmanagerError::Unreachable {
            url: shown.clone(),
            attempts: attempt,
            message: crate::error_chain(&e.without_url()),
        };
        let response = self.http.get(url).send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(unreachable)?;
        if status != 200 {
            let text = String::from_utf8_lossy(&body);
            let body = text.chars().take(300).collect::<String>().trim().to_string();
            return Err(AlertmanagerError::Status { url: shown, status, body });
        }
        serde_json::from_slice(&body).map_err(|e| AlertmanagerError::Decode { url: shown, message: e.to_string() })
    }
}

fn retryable(e: &AlertmanagerError) -> bool {
    match e {
        AlertmanagerError::Unreachable { .. } => true,
        AlertmanagerError::Status { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    }
}

/// The silences of the Alertmanager at `config`, if one is configured.
pub async fn read_silences(config: Option<AlertmanagerConfig>) -> Result<Option<Vec<Silence>>, AlertmanagerError> {
    let Some(config) = config else { return Ok(None) };
    let silences = Alertmanager::new(config)?.silences().await?;
    Ok(Some(silences))
}

/// Set `facts.acknowledgements` from the silences read (`None`: no
/// acknowledgement source, or it was never read: response lines are then
/// withheld, never paid or deducted).
pub fn attach(facts: &mut Facts, silences: Option<&[Silence]>) {
    facts.acknowledgements = silences.map(|s| acknowledgements(s, facts.end));
    facts.incident_acknowledgements = silences.map(|s| incident_acknowledgements(s, facts.end)).unwrap_or_default();
}

/// The acknowledgements by incident id known at `until`: one per equality
/// matcher on `incident`, with its value, at the silence's start. Sorted by
/// time and id.
pub fn incident_acknowledgements(silences: &[Silence], until: DateTime<Utc>) -> Vec<IncidentAcknowledgement> {
    let mut acks: Vec<IncidentAcknowledgement> = silences
        .iter()
        .filter(|s| s.starts_at <= until)
        .flat_map(|s| {
            incident_matchers(s).map(|m| IncidentAcknowledgement { incident: m.value.clone(), at: s.starts_at })
        })
        .collect();
    acks.sort_by(|a, b| (a.at, &a.incident).cmp(&(b.at, &b.incident)));
    acks.dedup();
    acks
}

/// A silence's equality matchers on `incident`.
fn incident_matchers(s: &Silence) -> impl Iterator<Item = &Matcher> {
    s.matchers.iter().filter(|m| m.is_equal && !m.is_regex && m.name == "incident" && !m.value.is_empty())
}

/// The silences that acknowledge something: those with an equality
/// matcher on `node` or `incident` (a node's incident id, or the id or key
/// of an incident source's incident).
pub fn acknowledging(silences: &[Silence]) -> Vec<Silence> {
    silences
        .iter()
        .filter(|s| !acknowledged_nodes(s).is_empty() || incident_matchers(s).next().is_some())
        .cloned()
        .collect()
}

/// The acknowledgements known at `until`: one per node a silence names,
/// at the silence's start; silences starting after `until` are left out.
/// Sorted by time and node.
pub fn acknowledgements(silences: &[Silence], until: DateTime<Utc>) -> Vec<Acknowledgement> {
    let mut acks: Vec<Acknowledgement> = silences
        .iter()
        .filter(|s| s.starts_at <= until)
        .flat_map(|s| acknowledged_nodes(s).into_iter().map(|node| Acknowledgement { node, at: s.starts_at }))
        .collect();
    acks.sort_by(|a, b| (a.at, &a.node).cmp(&(b.at, &b.node)));
    acks.dedup();
    acks
}

/// Nodes a silence acknowledges.
fn acknowledged_nodes(s: &Silence) -> Vec<String> {
    let mut nodes: Vec<String> = s
        .matchers
        .iter()
        .filter(|m| m.is_equal && !m.is_regex)
        .filter_map(|m| match m.name.as_str() {
            "node" => Some(m.value.clone()),
            "incident" => incident_node(&m.value).map(str::to_string),
            _ => None,
        })
        .collect();
    nodes.sort();
    nodes.dedup();
    nodes
}

/// The node of an incident id `<severity>-<YYYYMMDDTHHMMZ>-<node>`
/// (severity ids have no `-`).
pub fn incident_node(id: &str) -> Option<&str> {
    let (_, rest) = id.split_once('-')?;
    let (stamp, node) = rest.split_once('-')?;
    let b = stamp.as_bytes();
    let is_stamp = b.len() == 14
        && b[8] == b'T'
        && b[13] == b'Z'
        && b.iter().enumerate().all(|(i, c)| matches!(i, 8 | 13) || c.is_ascii_digit());
    (is_stamp && !node.is_empty()).then_some(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, 8, h, m, 0).unwrap()
    }

    fn silence(id: &str, at: DateTime<Utc>, matchers: &[(&str, &str, bool, bool)]) -> Silence {
        Silence {
            id: id.into(),
            starts_at: at,
            ends_at: at + chrono::Duration::hours(1),
            created_by: "alice".into(),
            comment: "ack".into(),
            matchers: matchers
                .iter()
                .map(|(n, v, regex, equal)| Matcher {
                    name: n.to_string(),
                    value: v.to_string(),
                    is_regex: *regex,
                    is_equal: *equal,
                })
                .collect(),
        }
    }

    #[test]
    fn a_password_in_the_alertmanager_url_is_never_shown() {
        let config = AlertmanagerConfig::new("http://ack:s3cret@127.0.0.1:1/");
        assert!(!format!("{config:?}").contains("s3cret"));
        let am = Alertmanager::new(AlertmanagerConfig { max_attempts: 1, ..config }).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let e = rt.block_on(am.silences()).unwrap_err().to_string();
        assert!(e.contains("xxxxx") && !e.contains("s3cret"), "{e}");
    }

    #[test]
    fn the_node_of_an_incident_id_is_after_its_start_time() {
        assert_eq!(incident_node("P2-20261008T1410Z-n07"), Some("n07"));
        assert_eq!(incident_node("P1-20261008T1410Z-eu-west-3"), Some("eu-west-3"));
        assert_eq!(incident_node("P2-2026100T1410Z-n07"), None);
        assert_eq!(incident_node("P2-20261008T1410Z-"), None);
        assert_eq!(incident_node("n07"), None);
    }

    #[test]
    fn equality_silences_on_incident_or_node_acknowledge_and_others_do_not() {
        let silences = vec![
            silence(
                "1",
                t(14, 20),
                &[("incident", "P2-20261008T1410Z-n07", false, true), ("alertname", "X", false, true)],
            ),
            silence("2", t(14, 25), &[("node", "n08", false, true)]),
            silence("3", t(14, 26), &[("node", "n0.*", true, true)]),
            silence("4", t(14, 27), &[("node", "n09", false, false)]),
            silence("5", t(14, 28), &[("region", "eu", false, true)]),
            silence("6", t(15, 0), &[("node", "n10", false, true)]),
        ];
        let acks = acknowledgements(&silences, t(14, 59));
        let got: Vec<(&str, DateTime<Utc>)> = acks.iter().map(|a| (a.node.as_str(), a.at)).collect();
        assert_eq!(
            got,
            vec![("n07", t(14, 20)), ("n08", t(14, 25))],
            "a pending silence (6) is not an acknowledgement yet"
        );
        assert_eq!(acknowledgements(&silences, t(15, 0)).len(), 3);
        let kept: Vec<String> = acknowledging(&silences).into_iter().map(|s| s.id).collect();
        assert_eq!(kept, vec!["1", "2", "6"]);
    }

    #[test]
    fn an_incident_matcher_acknowledges_by_its_value_whatever_it_names() {
        let silences = vec![
            silence("1", t(14, 20), &[("incident", "T-1042", false, true)]),
            silence("2", t(14, 25), &[("incident", "critical-20261008T1410Z-T-7", false, true)]),
            silence("3", t(14, 26), &[("incident", "T-.*", true, true)]),
            silence("4", t(14, 27), &[("incident", "T-9", false, false)]),
            silence("5", t(15, 0), &[("incident", "T-8", false, true)]),
        ];
        let got: Vec<(String, DateTime<Utc>)> =
            incident_acknowledgements(&silences, t(14, 59)).into_iter().map(|a| (a.incident, a.at)).collect();
        assert_eq!(
            got,
            vec![("T-1042".into(), t(14, 20)), ("critical-20261008T1410Z-T-7".into(), t(14, 25))],
            "regex and negative matchers do not acknowledge, a pending silence not yet"
        );
        // A ticket number names no node, yet its silence is kept in the evidence.
        assert!(acknowledgements(&silences[..1], t(15, 0)).is_empty());
        let kept: Vec<String> = acknowledging(&silences).into_iter().map(|s| s.id).collect();
        assert_eq!(kept, vec!["1", "2", "5"]);
        let mut facts = Facts { end: t(15, 0), ..Facts::default() };
        attach(&mut facts, Some(&silences));
        assert_eq!(facts.incident_acknowledgements.len(), 3);
        attach(&mut facts, None);
        assert!(facts.acknowledgements.is_none() && facts.incident_acknowledgements.is_empty());
    }

    #[test]
    fn a_silence_of_the_alertmanager_api_decodes() {
        // As Alertmanager 0.25 answers GET /api/v2/silences.
        let body = r#"[{"id":"2f1c","status":{"state":"active"},"updatedAt":"2026-10-08T14:20:00.123Z",
            "comment":"ack","createdBy":"alice","endsAt":"2026-10-08T15:20:00Z","startsAt":"2026-10-08T14:20:00.123Z",
            "matchers":[{"isEqual":true,"isRegex":false,"name":"incident","value":"P2-20261008T1410Z-n07"}]}]"#;
        let s: Vec<Silence> = serde_json::from_str(body).unwrap();
        assert_eq!(s[0].matchers[0].value, "P2-20261008T1410Z-n07");
        assert_eq!(acknowledgements(&s, t(15, 0))[0].node, "n07");
    }
}
