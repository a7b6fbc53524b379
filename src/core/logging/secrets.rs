//! Keeping secrets out of logs, stderr and JSON: passwords in URLs and connection strings, and any
//! value the code registered as a secret (a proxy or SQL password), masked before text is written.

use std::sync::Mutex;
use zeroize::Zeroizing;

/// What replaces a secret.
pub const MASK: &str = "****";

/// Registered secrets, wiped when forgotten ([`forget_secrets`]).
static SECRETS: Mutex<Vec<Zeroizing<String>>> = Mutex::new(Vec::new());

/// Registers a secret (a password, a token): from now on [`redact`] masks it wherever it appears.
/// Empty strings are ignored.
pub fn register_secret(secret: &str) {
    if secret.is_empty() {
        return;
    }
    crate::core::secret::forbid_dumps();
    let mut secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s.as_str() == secret) {
        secrets.push(Zeroizing::new(secret.to_owned()));
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Masks secrets in text meant for a log, stderr or JSON: registered secrets, the password of
/// any `scheme://user:password@host` URL, and `Password=`/`Pwd=` values of connection strings.
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    for secret in SECRETS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    redact_connection_strings(&redact_urls(&out))
}

/// Wipes every registered secret from memory; for the end of a run, when nothing more will be
/// written ([`crate::cli::run`]).
pub fn forget_secrets() {
    SECRETS.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// `http://user:pass@host/x` → `http://user:****@host/x`, for every URL in the text.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let authority_len = after
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_len];
        match authority.rfind('@') {
            Some(at_sign) => {
                let userinfo = &authority[..at_sign];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..=colon]);
                        out.push_str(MASK);
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at_sign..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_len..];
    }
    out.push_str(rest);
    out
}

/// `Server=x;Password=secret;` → `Server=x;Password=****;` (also `Pwd=`), case-insensitive, with
/// spaces around `=` and ADO/ODBC quoted values (`'a;b'`, `"a;b"`, `{a;b}`, doubled quotes inside).
fn redact_connection_strings(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some((start, key_len)) = ["password", "pwd"]
        .iter()
        .filter_map(|key| lower[search..].find(key).map(|i| (search + i, key.len())))
        .min()
    {
        search = start + key_len;
        let boundary = start == 0 || !lower.as_bytes()[start - 1].is_ascii_alphanumeric();
        let Some(value_start) = value_start(text, start + key_len).filter(|_| boundary) else {
            continue;
        };
        let value_len = value_len(&text[value_start..]);
        if value_len > 0 {
            out.push_str(&text[copied..value_start]);
            out.push_str(MASK);
            copied = value_start + value_len;
            search = copied;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Where the value after a key starts: past optional spaces, `=`, and optional spaces.
fn value_start(text: &str, after_key: usize) -> Option<usize> {
    let rest = &text[after_key..];
    let spaces = rest.len() - rest.trim_start_matches(' ').len();
    let rest = &rest[spaces..];
    let rest_after = rest.strip_prefix('=')?;
    let more = rest_after.len() - rest_after.trim_start_matches(' ').len();
    Some(after_key + spaces + 1 + more)
}

/// The length of a connection-string value: a quoted one up to its closing quote (a doubled
/// quote is part of the value), otherwise up to `;`, `&`, a quote or a line end.
fn value_len(value: &str) -> usize {
    let close = match value.chars().next() {
        Some('\'') => '\'',
        Some('"') => '"',
        Some('{') => '}',
        _ => {
            return value
                .find([';', '&', '\'', '"', '\r', '\n'])
                .unwrap_or(value.len());
        }
    };
    let bytes = value.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == close as u8 {
            if bytes.get(i + 1) == Some(&(close as u8)) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    value.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_connection_strings_lose_their_passwords() {
        assert_eq!(
            redact("proxy http://jq:s3cr:et@itproxy:8080/x and https://h/y?a=b"),
            "proxy http://jq:****@itproxy:8080/x and https://h/y?a=b"
        );
        assert_eq!(redact("http://jq@proxy"), "http://jq@proxy");
        assert_eq!(
            redact("Server=sql;Database=CM_PS1;User Id=sa;Password=p@ss;Encrypt=yes"),
            "Server=sql;Database=CM_PS1;User Id=sa;Password=****;Encrypt=yes"
        );
        assert_eq!(redact("PWD=abc"), "PWD=****");
        assert_eq!(redact("oldpwd=kept"), "oldpwd=kept");
        assert_eq!(
            redact("Password=two words;x=1 and ?pwd=a&b=c"),
            "Password=****;x=1 and ?pwd=****&b=c"
        );
        assert_eq!(redact("password="), "password=");
    }

    #[test]
    fn quoted_and_spaced_connection_string_passwords_are_masked_whole() {
        assert_eq!(
            redact("Server=s;Password='a;b';X=1"),
            "Server=s;Password=****;X=1"
        );
        assert_eq!(redact("Pwd={x;y}};z};Encrypt=no"), "Pwd=****;Encrypt=no");
        assert_eq!(redact("Password = hunter2 ;Y=2"), "Password = ****;Y=2");
        assert_eq!(redact("Password=\"q\"\"w;e\""), "Password=****");
        assert_eq!(
            redact("passwords are never flags"),
            "passwords are never flags"
        );
    }

    #[test]
    fn registered_secrets_are_masked_everywhere() {
        let secret = format!("hunter-{}", uuid::Uuid::new_v4());
        assert!(redact(&format!("x {secret} y")).contains(&secret));
        register_secret(&secret);
        register_secret("");
        assert_eq!(redact(&format!("x {secret} y {secret}")), "x **** y ****");
    }
}
