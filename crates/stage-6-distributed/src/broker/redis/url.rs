//! Broker URLs: checked before connecting, and never shown with their password.

use redis::Client;

/// Checks that `url` is one the broker can use (`redis://host:port` or
/// `redis+unix:///path/to/socket`), without connecting, so that a program can refuse it as bad
/// input before it starts. The error says what is wrong with it, and never repeats the URL.
pub fn check_url(url: &str) -> Result<(), String> {
    if !url.starts_with("redis://") && !url.starts_with("redis+unix://") {
        return Err("expected redis://host:port or redis+unix:///path/to/socket".to_owned());
    }
    // The crate's message ends in its error kind (" - InvalidClientConfig"), which says nothing
    // to someone who typed a URL.
    Client::open(url)
        .map(|_| ())
        .map_err(|e| e.to_string().replace(" - InvalidClientConfig", ""))
}

// ANCHOR: redact
/// `url` as it may be shown to a person: a password in it, as `user:password@` or as a
/// `password=` or `pass=` parameter, replaced by `***`. Works on text that is not a valid URL
/// too, since a malformed URL is exactly what an error message repeats: a password may hold
/// `/`, `?` or `@`, so the user's part is everything up to the last `@`.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    let shown = match rest.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}{user}:***@{host}"),
            None => format!("{scheme}{user_info}@{host}"),
        },
        None => format!("{scheme}{rest}"),
    };
    // Then every parameter whose name says it is a password, wherever the query begins.
    let Some((before, query)) = shown.split_once('?') else {
        return shown;
    };
    let parameters: Vec<String> = query
        .split('&')
        .map(|parameter| match parameter.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("pass") => format!("{name}=***"),
            _ => parameter.to_owned(),
        })
        .collect();
    format!("{before}?{}", parameters.join("&"))
}
// ANCHOR_END: redact

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_replaced_wherever_they_are() {
        for (url, shown) in [
            ("redis://:secret@host:6379", "redis://:***@host:6379"),
            (
                "redis://user:secret@host:6379/0",
                "redis://user:***@host:6379/0",
            ),
            ("redis://user:p@ss@host", "redis://user:***@host"),
            (
                "redis+unix:///run/redis.sock?db=1&pass=secret",
                "redis+unix:///run/redis.sock?db=1&pass=***",
            ),
            ("redis://host?password=secret", "redis://host?password=***"),
            ("localhost:secret@6379", "localhost:***@6379"),
            ("redis://host:6379", "redis://host:6379"),
            ("redis://user@host", "redis://user@host"),
            (
                "redis://user:pa/ss@127.0.0.1:1",
                "redis://user:***@127.0.0.1:1",
            ),
            ("redis://:se?cret@127.0.0.1:1", "redis://:***@127.0.0.1:1"),
            (
                "redis://:s/e?c@r=et@host/0?db=1",
                "redis://:***@host/0?db=1",
            ),
            ("redis://host?pass=a@b", "redis://host?pass=***"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
            assert!(!redact(url).contains("secret"), "{url}");
        }
    }

    #[test]
    fn a_bad_url_is_refused_without_being_repeated() {
        for url in ["localhost:6379", "redis://:secret@", "http://:secret@host"] {
            let error = check_url(url).expect_err("refused");
            assert!(!error.contains("secret"), "{error}");
        }
        assert_eq!(check_url("redis://127.0.0.1:6379"), Ok(()));
        assert_eq!(check_url("redis+unix:///tmp/redis.sock"), Ok(()));
    }
}
