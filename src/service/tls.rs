//! HTTPS for `sct-serve`: rustls with a certificate chain and key from PEM files.
//!
//! Handshakes run in each connection's own task with a time limit ([`HANDSHAKE_TIMEOUT`]), so one
//! slow client cannot hold up the accept loop (`crate::service::serve`).

use crate::core::error::Error;
use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::TlsAcceptor;

/// Longest a client may take to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// A PEM file that could not be read is a local failure; one read but holding the wrong thing is
/// a `--tls-cert` / `--tls-key` to fix, a usage error (both were 3).
fn pem_failure(err: rustls::pki_types::pem::Error) -> Error {
    match err {
        rustls::pki_types::pem::Error::Io(io) => Error::Io(io.to_string()),
        other => Error::Usage(other.to_string()),
    }
}

/// Builds a TLS acceptor from a PEM certificate chain and a PEM private key.
pub fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(pem_failure)
        .with_context(|| format!("Failed to read certificates from `{}`", cert.display()))?;
    if chain.is_empty() {
        let empty = format!("`{}` holds no PEM certificate", cert.display());
        return Err(Error::Usage(empty).into());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(pem_failure)
        .with_context(|| format!("Failed to read a private key from `{}`", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context(Error::Usage(
            "The certificate and private key do not form a usable pair".into(),
        ))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::{ExitCode, exit_code};

    #[test]
    fn a_wrong_pem_file_is_a_usage_error_and_a_missing_one_a_local_failure() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("cert.pem");
        std::fs::write(&not_pem, "not a certificate\n").unwrap();
        let err = acceptor(&not_pem, &not_pem).err().unwrap();
        assert_eq!(exit_code(&err), ExitCode::Usage, "{err:#}");
        let missing = dir.path().join("missing.pem");
        let err = acceptor(&missing, &missing).err().unwrap();
        assert_eq!(exit_code(&err), ExitCode::Io, "{err:#}");
    }
}
