//! NTLM (v2) for a proxy: the negotiate message, and the answer to the proxy's challenge, built by
//! the `ntlmclient` crate (message encoding, NTLMv2 response: HMAC-MD5 over the proxy's challenge
//! and target information). The handshake is bound to one connection; [`super::relay`] keeps it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The flags sct negotiates: Unicode, NTLM, and the server's target information (needed for the
/// v2 response). No LM, no session key exchange: the proxy only authenticates the connection.
fn flags() -> ntlmclient::Flags {
    ntlmclient::Flags::NEGOTIATE_UNICODE
        | ntlmclient::Flags::REQUEST_TARGET
        | ntlmclient::Flags::NEGOTIATE_NTLM
        | ntlmclient::Flags::NEGOTIATE_ALWAYS_SIGN
        | ntlmclient::Flags::NEGOTIATE_TARGET_INFO
}

/// The first leg: `NTLM <negotiate message>`.
pub fn negotiate() -> Option<String> {
    let message = ntlmclient::Message::Negotiate(ntlmclient::NegotiateMessage {
        flags: flags(),
        supplied_domain: String::new(),
        supplied_workstation: workstation(),
        os_version: Default::default(),
    });
    let bytes = message.to_bytes().ok()?;
    Some(format!("NTLM {}", STANDARD.encode(bytes)))
}

/// The second leg: `NTLM <authenticate message>` answering the proxy's challenge (the base64
/// after `NTLM ` in its `Proxy-Authenticate`); `None` when that is not an NTLM challenge.
pub fn authenticate(challenge: &str, user: &str, password: &str) -> Option<String> {
    let bytes = without_target_name(STANDARD.decode(challenge.trim()).ok()?);
    let ntlmclient::Message::Challenge(challenge) =
        ntlmclient::Message::try_from(bytes.as_slice()).ok()?
    else {
        return None;
    };
    let target_info: Vec<u8> = challenge
        .target_information
        .iter()
        .flat_map(|entry| entry.to_bytes())
        .collect();
    let (domain, username) = split_user(user);
    let credentials = ntlmclient::Credentials {
        username: username.to_owned(),
        password: password.to_owned(),
        domain: domain.to_owned(),
    };
    let response = ntlmclient::respond_challenge_ntlm_v2(
        challenge.challenge,
        &target_info,
        ntlmclient::get_ntlm_time(),
        &credentials,
    );
    let message = response.to_message(&credentials, &workstation(), flags());
    let bytes = message.to_bytes().ok()?;
    Some(format!("NTLM {}", STANDARD.encode(bytes)))
}

/// A challenge message with its target name left out, and its target information field present
/// (empty) when the message is too short to hold one or it points outside the message. The v2 answer uses neither the name nor more
/// than the information given; proxies' helpers send names the parser refuses (squid's
/// `ntlm_fake_auth` gives the name an offset far outside the message).
///
/// The parser also insists on the optional version field (56 bytes in all) and panics on flag bits
/// it does not name: the message is padded and unknown bits are cleared first, so nothing a proxy
/// sends can panic it.
fn without_target_name(mut bytes: Vec<u8>) -> Vec<u8> {
    const HEADER: usize = 56;
    if bytes.len() < 32 {
        return bytes;
    }
    if bytes.len() < HEADER {
        bytes.resize(HEADER, 0);
    }
    let end = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    bytes[12..16].fill(0);
    bytes[16..20].copy_from_slice(&end.to_le_bytes());
    let info_len = u16::from_le_bytes([bytes[40], bytes[41]]) as usize;
    let info_at = u32::from_le_bytes([bytes[44], bytes[45], bytes[46], bytes[47]]) as usize;
    if info_at.saturating_add(info_len) > bytes.len() || info_at < 32 {
        // Out of bounds (squid's fake helper writes the name there): no target information.
        bytes[40..44].fill(0);
        bytes[44..48].copy_from_slice(&end.to_le_bytes());
    }
    let flags = u32::from_le_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    let known = flags & ntlmclient::Flags::all().bits();
    bytes[20..24].copy_from_slice(&known.to_le_bytes());
    bytes
}

/// `DOMAIN\user` and `user@domain` as (domain, user); a bare name has no domain.
pub fn split_user(user: &str) -> (&str, &str) {
    if let Some((domain, name)) = user.split_once('\\') {
        return (domain, name);
    }
    if let Some((name, domain)) = user.rsplit_once('@') {
        return (domain, name);
    }
    ("", user)
}

/// This machine's name, as NTLM messages carry it (`COMPUTERNAME` on Windows).
fn workstation() -> String {
    ["COMPUTERNAME", "HOSTNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .filter(|name| !name.is_empty() && name.is_ascii())
        .unwrap_or_else(|| "SCT".to_owned())
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_in_both_forms() {
        assert_eq!(split_user(r"CONTOSO\jqpublic"), ("CONTOSO", "jqpublic"));
        assert_eq!(
            split_user("jqpublic@CONTOSO.COM"),
            ("CONTOSO.COM", "jqpublic")
        );
        assert_eq!(split_user("jqpublic"), ("", "jqpublic"));
    }

    #[test]
    fn the_negotiate_message_is_ntlmssp() {
        let value = negotiate().unwrap();
        let bytes = STANDARD
            .decode(value.strip_prefix("NTLM ").unwrap())
            .unwrap();
        assert!(bytes.starts_with(b"NTLMSSP\0\x01\0\0\0"), "{bytes:?}");
        assert_eq!(authenticate("bm90IGEgY2hhbGxlbmdl", "u", "p"), None);
    }

    #[test]
    fn a_challenge_with_a_target_name_out_of_bounds_is_answered() {
        // As squid's ntlm_fake_auth sends it: 42 bytes, the name's offset 0xaaaaaaae.
        let squid = "TlRMTVNTUAACAAAACQAJAK6qqqoFgoAAZb8VoWjbuYMAAAAAAAA6AFdPUktHUk9VUA==";
        let answer = authenticate(squid, r"CONTOSO\jqpublic", "pw").unwrap();
        let bytes = STANDARD
            .decode(answer.strip_prefix("NTLM ").unwrap())
            .unwrap();
        assert!(bytes.starts_with(b"NTLMSSP\0\x03\0\0\0"), "{bytes:?}");
        // Every flag bit set, a short message: refused or answered, never a panic.
        let odd = STANDARD.encode(b"NTLMSSP\0\x02\0\0\0\0\0\0\0\0\0\0\0\xff\xff\xff\xff12345678");
        let _ = authenticate(&odd, "u", "p");
    }
}
