//! The web config of a running `serve`: loaded at start, compared with the
//! files on every connection and request, loaded again when they changed,
//! failing closed while they are broken.

use super::auth::{Verifier, lock};
use super::config::{Loaded, load};
use super::spec::WebConfigError;
use axum::http::HeaderValue;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The web config of a running `serve`: loaded at start, checked again on
/// each connection and request (see the docs of `serve::web`).
pub struct WebConfig {
    path: PathBuf,
    /// TLS at start-up: fixed for the life of the listener.
    tls: bool,
    state: Mutex<LiveState>,
    /// Basic authentication's verified credentials.
    verifier: Verifier,
}

struct LiveState {
    loaded: Arc<Loaded>,
    /// The error the file has now, if it is broken (logged once per change).
    broken: Option<WebConfigError>,
}

impl WebConfig {
    /// Load at start: an invalid file is an error (serve exits 2).
    pub fn open(path: &Path) -> Result<Arc<WebConfig>, WebConfigError> {
        let loaded = load(path)?;
        Ok(Arc::new(WebConfig {
            path: path.to_path_buf(),
            tls: loaded.tls.is_some(),
            state: Mutex::new(LiveState { loaded: Arc::new(loaded), broken: None }),
            verifier: Verifier::default(),
        }))
    }

    pub fn tls(&self) -> bool {
        self.tls
    }

    pub fn current_users(&self) -> usize {
        lock(&self.state).loaded.users()
    }

    /// The config as the files are now: the last one if nothing changed,
    /// else loaded again; an error while the file is broken (fail closed).
    pub fn current(&self) -> Result<Arc<Loaded>, WebConfigError> {
        let mut state = lock(&self.state);
        if state.broken.is_none() && state.loaded.unchanged() {
            return Ok(state.loaded.clone());
        }
        let result = load(&self.path).and_then(|l| {
            if l.tls.is_some() == self.tls {
                Ok(l)
            } else {
                let now = if self.tls { "no longer configures TLS" } else { "now configures TLS" };
                Err(WebConfigError {
                    file: self.path.clone(),
                    errors: vec![(0, 0, format!("{now}; restart serve to switch between HTTP and HTTPS"))],
                })
            }
        });
        match result {
            Ok(loaded) => {
                if state.broken.take().is_some() {
                    tracing::info!(file = %self.path.display(), "web config is valid again: serving");
                }
                tracing::info!(file = %self.path.display(), tls = loaded.tls(), users = loaded.users(), "web config reloaded");
                state.loaded = Arc::new(loaded);
                Ok(state.loaded.clone())
            }
            Err(e) => {
                if state.broken.as_ref() != Some(&e) {
                    for line in e.to_string().lines() {
                        tracing::error!(error = %line, "web config reload failed: refusing connections and requests until it is fixed");
                    }
                    state.broken = Some(e.clone());
                }
                Err(e)
            }
        }
    }

    /// Whether `authorization` carries a user and password of `loaded`.
    pub(super) async fn authorized(&self, loaded: &Loaded, authorization: Option<&HeaderValue>) -> bool {
        self.verifier.authorized(&loaded.users, authorization).await
    }
}
