//! The TLS handshake `service.tls` makes to see what the service presents: the protocol version
//! and the certificate's subject and issuer. It accepts any certificate *to read it*; whether
//! this machine trusts it is decided by the HTTP client every stage uses, and when that client
//! refuses it, the issuer read here is what the operator is told is missing.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the service presented.
pub struct Seen {
    pub version: String,
    pub subject: String,
    pub issuer: String,
}

impl Seen {
    /// One line for the check's `found`. Whether the certificate is trusted is `service.http`'s
    /// request to say: when it refuses it, this check becomes a failure naming the issuer.
    pub fn describe(&self, host: &str) -> String {
        format!(
            "{host} speaks {}; its certificate `{}` is issued by `{}`",
            self.version, self.subject, self.issuer
        )
    }
}

/// Runs a handshake over `stream` and reads the leaf certificate's names.
pub async fn handshake(
    stream: tokio::net::TcpStream,
    host: &str,
    limit: Duration,
) -> anyhow::Result<Seen> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let recorder = Arc::new(Recorder {
        leaf: Mutex::new(None),
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned())?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tls = tokio::time::timeout(limit, connector.connect(name, stream))
        .await
        .map_err(|_| anyhow::anyhow!("no TLS answer within {} s", limit.as_secs_f64()))??;
    let version = match tls.get_ref().1.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_owned(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_owned(),
        Some(other) => format!("{other:?}"),
        None => "an unknown TLS version".to_owned(),
    };
    let leaf = recorder
        .leaf
        .lock()
        .map_err(|_| anyhow::anyhow!("the certificate recorder failed"))?
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the service presented no certificate"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&leaf)
        .map_err(|e| anyhow::anyhow!("the service's certificate does not parse: {e}"))?;
    Ok(Seen {
        version,
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
    })
}

/// True when the HTTP client refused the service's certificate (rather than failing to connect).
pub fn is_untrusted(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        let text = cause.to_string().to_ascii_lowercase();
        if text.contains("certificate") || text.contains("unknownissuer") {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Accepts any certificate and keeps the leaf, so its names can be read. Signatures over the
/// handshake are still checked against it.
#[derive(Debug)]
struct Recorder {
    leaf: Mutex<Option<Vec<u8>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut leaf) = self.leaf.lock() {
            *leaf = Some(end_entity.to_vec());
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
