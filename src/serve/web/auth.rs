//! Basic authentication: the users' bcrypt hashes checked when the file is
//! loaded, credentials taken from the `Authorization` header and verified
//! (one bcrypt at a time, results cached, an unknown user as slow as a
//! wrong password).

use super::spec::{Errors, FileSpec, Redacted};
use axum::http::HeaderValue;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// Checked for a user that does not exist, so that a wrong user name takes
/// as long as a wrong password (bcrypt of a random password, cost 10).
pub(super) const DUMMY_HASH: &str = "$2b$10$PddNchXgqwnhRQpQ5jpLauRDO8J/FxKCSgN6NcyFBuyWRW4AooPXW";
/// Verified (user, hash, password) results kept, to spare bcrypt's cost on
/// every scrape; cleared when full.
const VERIFIED_CACHE: usize = 1024;

/// The users of `basic_auth_users`, each hash checked to be bcrypt's.
pub(super) fn check_users(spec: &FileSpec, errs: &mut Errors) -> BTreeMap<String, Redacted> {
    let mut users = BTreeMap::new();
    for (user, hash) in spec.basic_auth_users.iter().flatten() {
        if user.contains(':') {
            errs.at(hash, format!("user {user:?}: a user name cannot contain ':' (basic authentication splits at it)"));
        }
        match hash.value.0.parse::<bcrypt::HashParts>() {
            Ok(_) => {
                users.insert(user.clone(), hash.value.clone());
            }
            Err(e) => errs.at(
                hash,
                format!("user {user:?}: not a bcrypt hash ({e}); make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"),
            ),
        }
    }
    users
}

/// Verifies credentials against bcrypt hashes: one bcrypt at a time, each
/// result cached.
#[derive(Default)]
pub(super) struct Verifier {
    /// sha256(user, hash, password) → verified.
    verified: Mutex<HashMap<[u8; 32], bool>>,
    /// One bcrypt at a time (it is meant to be slow: CPU).
    bcrypt: Arc<Mutex<()>>,
}

/// Lock `m`, also after a panic while it was held (the data is still whole).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Verifier {
    /// Whether `authorization` carries a user and password of `users`.
    pub(super) async fn authorized(
        &self,
        users: &BTreeMap<String, Redacted>,
        authorization: Option<&HeaderValue>,
    ) -> bool {
        let Some((user, password)) = authorization.and_then(basic_credentials) else { return false };
        let known = users.get(&user);
        let hash = known.map_or(DUMMY_HASH, |h| h.0.as_str()).to_string();
        let key: [u8; 32] = {
            let mut h = Sha256::new();
            for part in [user.as_bytes(), hash.as_bytes(), password.as_bytes()] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part);
            }
            h.finalize().into()
        };
        let cached = lock(&self.verified).get(&key).copied();
        let ok = match cached {
            Some(ok) => ok,
            None => {
                let guard = self.bcrypt.clone();
                let ok = tokio::task::spawn_blocking(move || {
                    let _one_at_a_time = lock(&guard);
                    bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false)
                })
                .await
                .unwrap_or(false);
                let mut cache = lock(&self.verified);
                if cache.len() >= VERIFIED_CACHE {
                    cache.clear();
                }
                cache.insert(key, ok);
                ok
            }
        };
        ok && known.is_some()
    }
}

/// `Basic base64(user:password)` → (user, password).
pub(super) fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = value.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}
