//! The machine's own proxy setting on Windows: the per-user Internet Settings an administrator sets
//! in Internet Options (`ProxyEnable`, `ProxyServer`, `ProxyOverride`), which the original, a .NET
//! Framework program, honours by default.
//!
//! [`InternetSettings::parse`] and [`InternetSettings::bypasses`] are pure, so they are tested on
//! every platform; [`read`] reads the registry, in the Windows build only. A PAC or WPAD script
//! (`AutoConfigURL`, "Automatically detect settings") is not evaluated: docs/proxy.md says to give
//! the proxy with `-proxyserveruri` then.

/// The key holding the settings, under `HKEY_CURRENT_USER`.
pub const KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings";
/// The longest value read, in UTF-16 units; a longer one is refused unread.
pub const MAX_VALUE_CHARS: usize = 4096;

/// The proxy the Internet Settings name, when `ProxyEnable` is 1.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InternetSettings {
    /// The proxy for `http://` URLs (`host:port`), if any.
    pub http: Option<String>,
    /// The proxy for `https://` URLs, if any.
    pub https: Option<String>,
    /// `ProxyOverride` as written: `;`-separated hosts, `*` wildcards, `<local>`.
    pub overrides: String,
}

impl InternetSettings {
    /// The settings from the three registry values; `None` when the proxy is not enabled or
    /// `ProxyServer` names no HTTP or HTTPS proxy. `ProxyServer` is `host:port` for every
    /// protocol, or `http=host:port;https=host:port` (a protocol without an entry goes direct,
    /// as in WinINet).
    pub fn parse(
        enable: Option<u32>,
        server: Option<&str>,
        overrides: Option<&str>,
    ) -> Option<Self> {
        let server = server.map(str::trim).filter(|s| !s.is_empty())?;
        if enable != Some(1) {
            return None;
        }
        let mut settings = InternetSettings {
            overrides: overrides.unwrap_or_default().trim().to_owned(),
            ..Self::default()
        };
        if server.contains('=') {
            for entry in server.split(';').map(str::trim) {
                let Some((scheme, address)) = entry.split_once('=') else {
                    continue;
                };
                let address = Some(address.trim().to_owned()).filter(|a| !a.is_empty());
                match scheme.trim().to_ascii_lowercase().as_str() {
                    "http" => settings.http = address,
                    "https" => settings.https = address,
                    _ => {}
                }
            }
        } else {
            settings.http = Some(server.to_owned());
            settings.https = Some(server.to_owned());
        }
        (settings.http.is_some() || settings.https.is_some()).then_some(settings)
    }

    /// The proxy for a URL of `scheme` (`http` or `https`).
    pub fn server_for(&self, scheme: &str) -> Option<&str> {
        match scheme {
            "http" => self.http.as_deref(),
            "https" => self.https.as_deref(),
            _ => None,
        }
    }

    /// True when `ProxyOverride` sends `host` (`port` its port) past the proxy: an entry equal
    /// to the host or matching it with `*` wildcards (case-insensitive, `host:port` when the
    /// entry names a port), or `<local>` for a name without a dot. Loopback is not exempt unless
    /// listed, so what the setting says is what happens.
    pub fn bypasses(&self, host: &str, port: u16) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let with_port = format!("{host}:{port}");
        self.overrides
            .split([';', ' ', ','])
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .any(|entry| {
                if entry.eq_ignore_ascii_case("<local>") {
                    return !host.contains('.') && !host.contains(':');
                }
                let entry = entry.to_ascii_lowercase();
                let entry = entry
                    .split_once("://")
                    .map_or(entry.as_str(), |(_, rest)| rest);
                let subject = if entry.contains(':') {
                    &with_port
                } else {
                    &host
                };
                glob(entry, subject)
            })
    }
}

/// `pattern` with `*` for any run of characters matches all of `text`.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    if parts.len() == 1 {
        return pattern == text;
    }
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// This user's Internet Settings proxy, if enabled (Windows only). An unreadable value counts as
/// absent: the setting is a default, never a reason to fail.
#[cfg(windows)]
pub fn read() -> Option<InternetSettings> {
    let enable = registry::read_dword(KEY, "ProxyEnable");
    let server = registry::read_string(KEY, "ProxyServer");
    let overrides = registry::read_string(KEY, "ProxyOverride");
    InternetSettings::parse(enable, server.as_deref(), overrides.as_deref())
}

/// Outside Windows there is no such setting.
#[cfg(not(windows))]
pub fn read() -> Option<InternetSettings> {
    None
}

#[cfg(windows)]
mod registry {
    use super::MAX_VALUE_CHARS;
    use windows_sys::Win32::Foundation::ERROR_SUCCESS;
    use windows_sys::Win32::System::Registry::{
        HKEY_CURRENT_USER, RRF_RT_REG_DWORD, RRF_RT_REG_SZ, RegGetValueW,
    };

    fn wide(text: &str) -> Vec<u16> {
        text.encode_utf16().chain(std::iter::once(0)).collect()
    }

    /// One `REG_DWORD` value of `HKCU\key`; `None` when absent or of another type.
    pub fn read_dword(key: &str, name: &str) -> Option<u32> {
        let (key_w, name_w) = (wide(key), wide(name));
        let mut value = 0u32;
        let mut bytes = 4u32;
        // SAFETY: both names are NUL-terminated UTF-16; `value` is writable for 4 bytes, the
        // size RegGetValueW is told and writes for a REG_DWORD.
        let status = unsafe {
            RegGetValueW(
                HKEY_CURRENT_USER,
                key_w.as_ptr(),
                name_w.as_ptr(),
                RRF_RT_REG_DWORD,
                std::ptr::null_mut(),
                (&mut value as *mut u32).cast(),
                &mut bytes,
            )
        };
        (status == ERROR_SUCCESS).then_some(value)
    }

    /// One `REG_SZ` value of `HKCU\key`; `None` when absent, of another type or longer than
    /// [`MAX_VALUE_CHARS`] (the buffer is fixed, so nothing larger is read).
    pub fn read_string(key: &str, name: &str) -> Option<String> {
        let (key_w, name_w) = (wide(key), wide(name));
        let mut buffer = vec![0u16; MAX_VALUE_CHARS + 1];
        let mut bytes = u32::try_from(buffer.len() * 2).unwrap_or(u32::MAX);
        // SAFETY: both names are NUL-terminated UTF-16; `buffer` is writable for `bytes` bytes,
        // and RegGetValueW writes at most that many, NUL-terminating a REG_SZ value.
        let status = unsafe {
            RegGetValueW(
                HKEY_CURRENT_USER,
                key_w.as_ptr(),
                name_w.as_ptr(),
                RRF_RT_REG_SZ,
                std::ptr::null_mut(),
                buffer.as_mut_ptr().cast(),
                &mut bytes,
            )
        };
        if status != ERROR_SUCCESS {
            return None;
        }
        let units = (bytes as usize / 2).min(buffer.len());
        let value = buffer[..units]
            .split(|&u| u == 0)
            .next()
            .unwrap_or_default();
        String::from_utf16(value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_proxy_for_all_or_one_per_protocol() {
        let all = InternetSettings::parse(Some(1), Some("itproxy:8080"), None).unwrap();
        assert_eq!(all.server_for("http"), Some("itproxy:8080"));
        assert_eq!(all.server_for("https"), Some("itproxy:8080"));
        let split = InternetSettings::parse(Some(1), Some("http=a:80;https=b:3128;ftp=c:21"), None)
            .unwrap();
        assert_eq!(split.server_for("http"), Some("a:80"));
        assert_eq!(split.server_for("https"), Some("b:3128"));
        let socks_only = InternetSettings::parse(Some(1), Some("socks=s:1080"), None);
        assert_eq!(socks_only, None);
    }

    #[test]
    fn a_disabled_or_empty_setting_is_no_proxy() {
        assert_eq!(InternetSettings::parse(Some(0), Some("a:1"), None), None);
        assert_eq!(InternetSettings::parse(None, Some("a:1"), None), None);
        assert_eq!(InternetSettings::parse(Some(1), Some("  "), None), None);
        assert_eq!(InternetSettings::parse(Some(1), None, None), None);
    }

    #[test]
    fn overrides_match_hosts_wildcards_and_local() {
        let settings = InternetSettings::parse(
            Some(1),
            Some("p:1"),
            Some("*.contoso.com;10.*; <local>;svc.fabrikam.com:8530"),
        )
        .unwrap();
        assert!(settings.bypasses("updates.CONTOSO.com", 443));
        assert!(!settings.bypasses("contoso.com.evil.org", 443));
        assert!(settings.bypasses("10.1.2.3", 80));
        assert!(settings.bypasses("intranet", 80));
        assert!(settings.bypasses("svc.fabrikam.com", 8530));
        assert!(!settings.bypasses("svc.fabrikam.com", 443));
        assert!(
            !settings.bypasses("127.0.0.1", 80),
            "loopback is not exempt unless listed"
        );
        assert!(!settings.bypasses("[::1]", 80));
        let none = InternetSettings::parse(Some(1), Some("p:1"), None).unwrap();
        assert!(!none.bypasses("intranet", 80));
    }

    #[test]
    fn glob_matches_whole_text() {
        assert!(glob("*", "anything"));
        assert!(glob("a*c", "abbc"));
        assert!(!glob("a*c", "abcd"));
        assert!(glob("*.b.*", "x.b.y"));
        assert!(!glob("ab*ba", "aba"));
    }
}
