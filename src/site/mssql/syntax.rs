//! The syntax of a locator: ADO.NET `key=value;...` pairs with their quoting rules, and the
//! `mssql://` URL form turned into the same pairs. What the keys mean is `locator.rs`'s business.
//!
//! Errors never quote a value (it may be a password), and a URL is only ever shown with its
//! password masked.

/// Normalises a key: `User Id`, `UserID` and `user_id` are the same key.
pub(super) fn normalise_key(key: &str) -> String {
    key.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Splits `key=value;key='quoted;value';key={braced}` into normalised keys and values.
/// Errors never quote a value: it may be a password.
pub(super) fn split_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ';' || c.is_whitespace());
        if rest.is_empty() {
            return Ok(pairs);
        }
        let (key, after) = rest
            .split_once('=')
            .ok_or("a part has no `=` (expected key=value pairs separated by `;`)")?;
        let key = normalise_key(key);
        if key.is_empty() {
            return Err("a pair has an empty key".to_owned());
        }
        let (value, after) =
            split_value(after.trim_start()).map_err(|e| format!("the value of key `{key}` {e}"))?;
        pairs.push((key, value));
        rest = after;
    }
}

/// One value and what follows its `;`: plain, `'single'`, `"double"` (doubled quote inside) or `{braced}`.
fn split_value(text: &str) -> Result<(String, &str), &'static str> {
    let Some(open) = text
        .chars()
        .next()
        .filter(|c| matches!(c, '\'' | '"' | '{'))
    else {
        let (value, after) = text.split_once(';').unwrap_or((text, ""));
        return Ok((value.trim().to_owned(), after));
    };
    let close = if open == '{' { '}' } else { open };
    let mut value = String::new();
    let mut chars = text[1..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != close {
            value.push(c);
        } else if chars.peek().map(|(_, n)| *n) == Some(close) {
            value.push(c);
            chars.next();
        } else {
            let after = text[1 + i + 1..].trim_start();
            return match after.strip_prefix(';') {
                Some(after) => Ok((value, after)),
                None if after.is_empty() => Ok((value, "")),
                None => Err("has text after its closing quote"),
            };
        }
    }
    Err("has no closing quote")
}

/// `mssql://user[:password]@host[:port]/DATABASE?key=value&...` as the same pairs as a string.
pub(super) fn url_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let url = reqwest::Url::parse(text).map_err(|e| {
        format!(
            "`{}` is not a valid mssql:// URL: {e}",
            crate::core::logging::redact_url(text)
        )
    })?;
    let decode = |s: &str| {
        percent_decode(s).ok_or_else(|| "the mssql:// URL has invalid percent-encoding".to_owned())
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("the mssql:// URL names no host")?;
    let mut server = host.trim_matches(|c| c == '[' || c == ']').to_owned();
    let mut pairs = Vec::new();
    // The port goes into the server value, where the connection-string rules check it.
    let mut port = url.port().map(|p| p.to_string());
    for (key, value) in url.query_pairs() {
        match normalise_key(&key).as_str() {
            "instance" | "instancename" => server = format!("{server}\\{value}"),
            "port" => port = Some(value.into_owned()),
            other => pairs.push((other.to_owned(), value.into_owned())),
        }
    }
    if let Some(port) = port {
        server = format!("{server},{port}");
    }
    pairs.insert(0, ("server".to_owned(), server));
    if !url.username().is_empty() {
        pairs.push(("userid".to_owned(), decode(url.username())?));
    }
    if let Some(password) = url.password() {
        pairs.push(("password".to_owned(), decode(password)?));
    }
    let database = decode(url.path().trim_start_matches('/'))?;
    if !database.is_empty() {
        pairs.push(("database".to_owned(), database));
    }
    Ok(pairs)
}

/// Decodes `%XX` escapes; `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_rules() {
        let pairs = split_pairs("A=1; B = 'x;y' ;C=\"a\"\"b\";D={p;q};;E=").unwrap();
        let values: Vec<&str> = pairs.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, ["1", "x;y", "a\"b", "p;q", ""]);
        assert_eq!(pairs[1].0, "b", "keys are normalised");
        assert!(
            split_pairs("A='open")
                .unwrap_err()
                .contains("no closing quote")
        );
        assert!(split_pairs("just text").unwrap_err().contains("no `=`"));
    }
}
