//! URLs as logs and error messages may show them.

/// `url` with the password of its user info, if any, replaced by `xxxxx`
/// (as Go's `url.Redacted`): what logs and error messages may show.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("xxxxx"));
            u.to_string()
        }
        Ok(_) => url.to_string(),
        // Unparsable: show no more than the scheme and host part's shape.
        Err(_) if url.contains('@') => "<unparsable URL with user info>".to_string(),
        Err(_) => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_a_url_is_never_shown() {
        let url = "https://scraper:hunter2@prometheus.example:9090/prefix";
        assert_eq!(redact_url(url), "https://scraper:xxxxx@prometheus.example:9090/prefix");
        assert_eq!(redact_url("http://127.0.0.1:9090"), "http://127.0.0.1:9090");
    }
}
