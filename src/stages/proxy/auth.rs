//! Answering a proxy's `407 Proxy Authentication Required`: the challenges it offers, the
//! strongest one sct can answer, and the `Proxy-Authorization` value for each leg.
//!
//! The order, strongest first: NTLM (v2, [`super::ntlm`]), Digest (RFC 7616, through the
//! `digest_auth` crate: MD5, SHA-256, their `-sess` forms), then Basic. Basic — the password
//! readable by anyone on the wire — is sent only to a proxy that offered it. A scheme sct does not
//! speak (Negotiate for now) is named in the failure, so the operator knows what the proxy wants;
//! a proxy offering Negotiate and NTLM gets NTLM.

use crate::core::secret::Secret;

/// An authentication scheme a proxy may offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scheme {
    Basic,
    Digest,
    Ntlm,
}

impl Scheme {
    /// The scheme's name as it appears in the headers.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Basic => "Basic",
            Scheme::Digest => "Digest",
            Scheme::Ntlm => "NTLM",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [Scheme::Basic, Scheme::Digest, Scheme::Ntlm]
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }
}

/// The user and password sct answers with.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// As given: `user`, `DOMAIN\user` or `user@REALM`.
    pub user: String,
    pub password: Secret,
}

/// The challenges of one 407: those sct can answer, and the names of all offered.
#[derive(Clone, Debug, Default)]
pub struct Challenges {
    known: Vec<(Scheme, String)>,
    /// Every scheme name offered, in the proxy's order, for messages.
    pub offered: Vec<String>,
}

impl Challenges {
    /// The challenges in `Proxy-Authenticate` header values, one challenge per value (as squid
    /// and other proxies send them).
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut challenges = Challenges::default();
        for value in values {
            let value = value.trim();
            let name = value.split_whitespace().next().unwrap_or_default();
            if name.is_empty() {
                continue;
            }
            challenges.offered.push(name.to_owned());
            if let Some(scheme) = Scheme::from_name(name) {
                challenges.known.push((scheme, value.to_owned()));
            }
        }
        challenges
    }

    /// The strongest scheme offered that sct answers, with its challenge.
    pub fn strongest(&self) -> Option<(Scheme, &str)> {
        self.known
            .iter()
            .max_by_key(|(scheme, _)| *scheme)
            .map(|(scheme, value)| (*scheme, value.as_str()))
    }
}

/// Why a proxy did not let a request through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The proxy answered the credentials with another 407.
    Refused { scheme: Scheme },
    /// The proxy offered only schemes sct does not answer.
    Unsupported { offered: Vec<String> },
    /// A 407 without any `Proxy-Authenticate` challenge.
    NoChallenge,
}

/// The state of answering one request's challenges (and, for Digest, later requests').
#[derive(Debug, Default)]
pub struct Handshake {
    answered: Option<Scheme>,
    /// NTLM messages sent on this connection: the negotiate, then the authenticate.
    ntlm_legs: u8,
}

/// One request line, as the proxy sees it: what Digest hashes.
pub struct Target<'a> {
    pub method: &'a str,
    /// The request target: an absolute URL, or `host:port` for CONNECT.
    pub uri: &'a str,
}

impl Handshake {
    /// The `Proxy-Authorization` value answering `challenges` for `target`, or why there is
    /// none. A second challenge of a scheme already answered means the credentials were refused,
    /// unless a Digest challenge says the nonce was only stale.
    pub fn answer(
        &mut self,
        challenges: &Challenges,
        target: &Target<'_>,
        credentials: &Credentials,
    ) -> Result<(Scheme, String), Refusal> {
        let Some((scheme, challenge)) = challenges.strongest() else {
            return Err(if challenges.offered.is_empty() {
                Refusal::NoChallenge
            } else {
                Refusal::Unsupported {
                    offered: challenges.offered.clone(),
                }
            });
        };
        let stale = scheme == Scheme::Digest && is_stale(challenge);
        if self.answered == Some(scheme) && !stale && scheme != Scheme::Ntlm {
            return Err(Refusal::Refused { scheme });
        }
        self.answered = Some(scheme);
        let value = match scheme {
            Scheme::Ntlm => self.ntlm(challenge, credentials)?,
            Scheme::Basic => basic(credentials),
            Scheme::Digest => {
                digest(challenge, target, credentials)
                    .ok_or(Refusal::Unsupported {
                        offered: challenges.offered.clone(),
                    })?
                    .1
            }
        };
        Ok((scheme, value))
    }
}

impl Handshake {
    /// The next NTLM leg: the negotiate message for a bare `NTLM` challenge, the authenticate
    /// message for the proxy's challenge message; anything after that is a refusal.
    fn ntlm(&mut self, challenge: &str, credentials: &Credentials) -> Result<String, Refusal> {
        let token = challenge.split_whitespace().nth(1);
        let refused = Refusal::Refused {
            scheme: Scheme::Ntlm,
        };
        let answer = match (self.ntlm_legs, token) {
            (0, None) => super::ntlm::negotiate(),
            (1, Some(token)) => {
                super::ntlm::authenticate(token, &credentials.user, credentials.password.expose())
            }
            _ => return Err(refused),
        };
        self.ntlm_legs += 1;
        answer.ok_or(refused)
    }

    /// True between the proxy's NTLM challenge and sct's answer: the connection must not change.
    pub fn mid_connection_handshake(&self) -> bool {
        self.ntlm_legs == 2
    }
}

/// `Basic base64(user:password)`.
fn basic(credentials: &Credentials) -> String {
    use base64::Engine;
    let pair = format!("{}:{}", credentials.user, credentials.password.expose());
    let encoded = zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair));
    format!("Basic {}", encoded.as_str())
}

/// True when a Digest challenge says the nonce expired (`stale=true`), not the credentials.
fn is_stale(challenge: &str) -> bool {
    digest_auth::parse(challenge).is_ok_and(|parsed| parsed.stale)
}

/// The parsed Digest challenge (which counts its nonce uses) and the answer for `target`;
/// `None` for a challenge `digest_auth` cannot answer (an unknown algorithm or qop).
pub fn digest(
    challenge: &str,
    target: &Target<'_>,
    credentials: &Credentials,
) -> Option<(digest_auth::WwwAuthenticateHeader, String)> {
    let mut parsed = digest_auth::parse(challenge).ok()?;
    let answer = answer_digest(&mut parsed, target, credentials)?;
    Some((parsed, answer))
}

/// The next answer to an already parsed Digest challenge (its nonce count goes up by one).
pub fn answer_digest(
    parsed: &mut digest_auth::WwwAuthenticateHeader,
    target: &Target<'_>,
    credentials: &Credentials,
) -> Option<String> {
    let context = digest_auth::AuthContext::new_with_method(
        credentials.user.as_str(),
        credentials.password.expose(),
        target.uri,
        Option::<&[u8]>::None,
        digest_auth::HttpMethod(std::borrow::Cow::Borrowed(target.method)),
    );
    parsed
        .respond(&context)
        .ok()
        .map(|header| header.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials {
            user: "jqpublic".into(),
            password: Secret::new("pw"),
        }
    }

    const TARGET: Target<'static> = Target {
        method: "GET",
        uri: "http://svc/x",
    };

    #[test]
    fn digest_wins_over_basic_and_basic_goes_only_where_offered() {
        let both = Challenges::parse([
            r#"Basic realm="p""#,
            r#"Digest realm="p", nonce="abc", qop="auth", algorithm=SHA-256"#,
        ]);
        let (scheme, value) = Handshake::default()
            .answer(&both, &TARGET, &credentials())
            .unwrap();
        assert_eq!(scheme, Scheme::Digest);
        assert!(value.starts_with("Digest ") && value.contains("algorithm=SHA-256"));
        let negotiate_only = Challenges::parse(["Negotiate"]);
        let refusal = Handshake::default()
            .answer(&negotiate_only, &TARGET, &credentials())
            .unwrap_err();
        assert_eq!(
            refusal,
            Refusal::Unsupported {
                offered: vec!["Negotiate".into()]
            }
        );
    }

    #[test]
    fn a_second_challenge_is_a_refusal_unless_the_nonce_was_stale() {
        let mut handshake = Handshake::default();
        let digest = Challenges::parse([r#"Digest realm="p", nonce="a", qop="auth""#]);
        handshake.answer(&digest, &TARGET, &credentials()).unwrap();
        let stale = Challenges::parse([r#"Digest realm="p", nonce="b", qop="auth", stale=true"#]);
        handshake.answer(&stale, &TARGET, &credentials()).unwrap();
        let refusal = handshake
            .answer(&digest, &TARGET, &credentials())
            .unwrap_err();
        assert_eq!(
            refusal,
            Refusal::Refused {
                scheme: Scheme::Digest
            }
        );
        assert_eq!(
            Handshake::default()
                .answer(&Challenges::parse([]), &TARGET, &credentials())
                .unwrap_err(),
            Refusal::NoChallenge
        );
    }

    #[test]
    fn ntlm_wins_and_takes_two_legs_then_a_third_challenge_is_a_refusal() {
        let mut handshake = Handshake::default();
        let offered = Challenges::parse(["Negotiate", "NTLM", r#"Basic realm="p""#]);
        let (scheme, first) = handshake.answer(&offered, &TARGET, &credentials()).unwrap();
        assert_eq!(scheme, Scheme::Ntlm);
        assert!(first.starts_with("NTLM TlRMTVNTUAAB"), "{first}");
        assert!(!handshake.mid_connection_handshake());
        // A challenge message: server challenge, target name, empty target information.
        let challenge = Challenges::parse([
            "NTLM TlRMTVNTUAACAAAACgAKADAAAAAFgoIAESIzRFVmd4gAAAAAAAAAAAQABAA6AAAAUwBRAFUASQBEAAAAAAA=",
        ]);
        let (_, second) = handshake
            .answer(&challenge, &TARGET, &credentials())
            .unwrap();
        assert!(second.starts_with("NTLM TlRMTVNTUAAD"), "{second}");
        assert!(handshake.mid_connection_handshake());
        let again = Challenges::parse(["NTLM"]);
        assert_eq!(
            handshake
                .answer(&again, &TARGET, &credentials())
                .unwrap_err(),
            Refusal::Refused {
                scheme: Scheme::Ntlm
            }
        );
    }

    #[test]
    fn basic_carries_user_and_password() {
        let basic = Challenges::parse([r#"Basic realm="p""#]);
        let (_, value) = Handshake::default()
            .answer(&basic, &TARGET, &credentials())
            .unwrap();
        assert_eq!(value, "Basic anFwdWJsaWM6cHc=");
    }
}
