//! ed25519 keys and detached signatures for catalogs.
//!
//! The signature covers the exact bytes of `catalog.json`, so nothing is parsed before it is
//! trusted. Clients pin one or more public keys (several, for key rotation); a catalog is trusted
//! when at least one signature by a pinned key verifies (strict ed25519 verification).

use crate::core::document::Document;
use crate::core::error::Error;
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Prefix of a public key in text form: `ed25519:<base64 of 32 bytes>`.
const PUBLIC_PREFIX: &str = "ed25519:";
/// Largest signature file read.
pub const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

/// A public key clients pin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses `ed25519:<base64>`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let bad = || {
            Error::Usage(format!(
                "`{text}` is not an sct public key (expected ed25519:<base64 of 32 bytes>)"
            ))
        };
        let b64 = text.trim().strip_prefix(PUBLIC_PREFIX).ok_or_else(bad)?;
        let bytes: [u8; 32] = B64
            .decode(b64)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(bad)?;
        Ok(Self(VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?))
    }

    /// A short, stable identifier: the first 16 hex digits of SHA-256 of the key bytes.
    pub fn key_id(&self) -> String {
        crate::core::hash::hex_of(self.0.as_bytes())[..16].to_owned()
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        self.0.verify_strict(message, &signature).is_ok()
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", B64.encode(self.0.as_bytes()))
    }
}

/// What a key signs. A catalog key is pinned by clients and may stay offline; a timestamp key
/// signs short-lived freshness statements online ([`crate::core::freshness`]) and is trusted only
/// because a catalog names it. Keeping them apart means a key made for one is refused for the
/// other: the online service never holds the key that signs catalogs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    #[default]
    Catalog,
    Timestamp,
}

impl KeyRole {
    pub fn name(self) -> &'static str {
        match self {
            KeyRole::Catalog => "catalog",
            KeyRole::Timestamp => "timestamp",
        }
    }

    fn is_catalog(&self) -> bool {
        *self == KeyRole::Catalog
    }
}

/// What `sct-serve keygen` prints (`sct.public-key.v1`): the public key to pin (or, for a
/// timestamp key, to name when publishing), its ID and its role.
#[derive(Clone, Debug, Serialize)]
pub struct PublicKeyDocument {
    pub schema: crate::core::document::Tag<Self>,
    /// `ed25519:<base64>`, as `trusted_keys`, `--trusted-key` and `--timestamp-key` take it.
    pub public_key: String,
    pub key_id: String,
    pub role: KeyRole,
}

impl crate::core::document::Document for PublicKeyDocument {
    const SCHEMA: &'static str = "sct.public-key.v1";
}

/// The document that publishes `key`, made for `role`.
pub fn public_key_document(key: &PublicKey, role: KeyRole) -> PublicKeyDocument {
    PublicKeyDocument {
        schema: crate::core::document::Tag::new(),
        public_key: key.to_string(),
        key_id: key.key_id(),
        role,
    }
}

/// The private key file (`sct.signing-key.v1`), created with owner-only permissions.
#[derive(Serialize, Deserialize)]
pub struct KeyFile {
    pub schema: crate::core::document::Tag<Self>,
    pub public_key: String,
    /// Base64 of the 32-byte ed25519 seed.
    pub private_key: String,
    /// What the key signs; left out for a catalog key (key files older than roles are ones).
    #[serde(default, skip_serializing_if = "KeyRole::is_catalog")]
    pub role: KeyRole,
}

impl Document for KeyFile {
    const SCHEMA: &'static str = "sct.signing-key.v1";
}

/// A key that can sign catalogs.
pub struct PrivateKey(SigningKey);

impl PrivateKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self(SigningKey::from_bytes(&rand::random::<[u8; 32]>()))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Writes the key file, readable by its owner only ([`crate::core::owner_only`]: mode 0600,
    /// or a DACL of its own on Windows); created new: an existing key is never overwritten.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        self.save_as(path, KeyRole::Catalog)
    }

    /// [`Self::save`] for a key of `role`.
    pub fn save_as(&self, path: &Path, role: KeyRole) -> anyhow::Result<()> {
        let doc = KeyFile {
            schema: crate::core::document::Tag::new(),
            public_key: self.public().to_string(),
            private_key: B64.encode(self.0.to_bytes()),
            role,
        };
        let file = crate::core::owner_only::create_new(path).map_err(|err| {
            let why = match err.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    "it exists already, and a signing key is never overwritten".to_owned()
                }
                std::io::ErrorKind::NotFound => format!(
                    "its folder `{}` does not exist; create it first",
                    path.parent().unwrap_or(Path::new(".")).display()
                ),
                _ => "check the folder's permissions".to_owned(),
            };
            anyhow::Error::new(err).context(Error::Io(format!(
                "Failed to create key file `{}`: {why}",
                path.display()
            )))
        })?;
        crate::core::document::write_pretty(&file, &doc)?;
        file.sync_all()?;
        Ok(())
    }

    /// Reads a catalog key file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        Self::load_as(path, KeyRole::Catalog)
    }

    /// Reads a key file made for `role`; one made for the other role is refused (usage, exit 2).
    pub fn load_as(path: &Path, role: KeyRole) -> anyhow::Result<Self> {
        let file = fs_err::File::open(path)?;
        let doc: KeyFile = crate::core::document::read(
            file,
            &format!("key file `{}`", path.display()),
            64 * 1024,
        )?;
        if doc.role != role {
            return Err(Error::Usage(format!(
                "key file `{}` holds a {} key, not a {} key: a catalog key signs catalogs and \
                 may stay offline, a timestamp key signs freshness statements online (sct-serve \
                 keygen --role)",
                path.display(),
                doc.role.name(),
                role.name()
            ))
            .into());
        }
        let seed: [u8; 32] = B64
            .decode(&doc.private_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "key file `{}` holds no valid private key",
                    path.display()
                ))
            })?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// Signs `message`, returning one signature entry.
    pub fn sign(&self, message: &[u8]) -> SignatureEntry {
        SignatureEntry {
            key_id: self.public().key_id(),
            algorithm: "ed25519".to_owned(),
            signature: B64.encode(self.0.sign(message).to_bytes()),
        }
    }
}

/// One signature of a detached signature file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureEntry {
    pub key_id: String,
    pub algorithm: String,
    pub signature: String,
}

/// A detached signature file (`catalog.json.sig`, `sct.signature.v1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureFile {
    pub schema: crate::core::document::Tag<Self>,
    pub signatures: Vec<SignatureEntry>,
}

impl Document for SignatureFile {
    const SCHEMA: &'static str = "sct.signature.v1";
}

impl SignatureFile {
    /// Signs `message` with every given key.
    pub fn sign(message: &[u8], keys: &[&PrivateKey]) -> Self {
        Self {
            schema: crate::core::document::Tag::new(),
            signatures: keys.iter().map(|k| k.sign(message)).collect(),
        }
    }
}

/// Checks that `message` carries a valid signature by one of `trusted`; returns that key's ID.
///
/// Refused (exit 1) when no signature is by a pinned key, or a signature by a pinned key does not
/// verify (altered bytes or signature); a usage error (exit 2) when no key is pinned at all.
pub fn verify(
    message: &[u8],
    signatures: &SignatureFile,
    trusted: &[PublicKey],
    what: &str,
) -> anyhow::Result<String> {
    if trusted.is_empty() {
        return Err(anyhow::Error::new(Error::no_trusted_key())
            .context(format!("{what} cannot be checked")));
    }
    let mut by_trusted_key = false;
    for entry in &signatures.signatures {
        let Some(key) = trusted.iter().find(|k| k.key_id() == entry.key_id) else {
            continue;
        };
        by_trusted_key = true;
        let Ok(raw) = B64.decode(&entry.signature) else {
            continue;
        };
        if entry.algorithm == "ed25519" && key.verifies(message, &raw) {
            return Ok(entry.key_id.clone());
        }
    }
    let ids: Vec<String> = signatures
        .signatures
        .iter()
        .map(|s| s.key_id.clone())
        .collect();
    Err(Error::Rejected(if by_trusted_key {
        format!("{what} has a bad signature: its bytes or its signature were altered")
    } else {
        format!(
            "{what} is signed by an unknown key ({}); trusted keys: {}",
            if ids.is_empty() {
                "no signatures".to_owned()
            } else {
                ids.join(", ")
            },
            trusted
                .iter()
                .map(PublicKey::key_id)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
    .into())
}

/// True for a key given as text (`ed25519:...`) rather than a key file's path.
pub fn is_key_text(item: &str) -> bool {
    item.trim().starts_with(PUBLIC_PREFIX)
}

/// Largest trusted-key file read: a few keys and comments.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Parses the pinned keys: each item is `ed25519:...` or a path to a file holding such lines.
/// Callers resolve paths first ([`crate::stages::config::Config::trusted_keys_for`]).
pub fn parse_trusted(items: &[String]) -> anyhow::Result<Vec<PublicKey>> {
    let mut keys = Vec::new();
    for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if is_key_text(item) {
            keys.push(PublicKey::parse(item)?);
            continue;
        }
        let text = read_key_file(Path::new(item)).context("Failed to read a trusted key file")?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            keys.push(PublicKey::parse(line)?);
        }
    }
    Ok(keys)
}

/// Reads a key file, refusing one over [`MAX_KEY_FILE_BYTES`].
fn read_key_file(path: &Path) -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(fs_err::File::open(path)?, MAX_KEY_FILE_BYTES + 1),
        &mut text,
    )?;
    if text.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(Error::Usage(format!(
            "trusted key file `{}` is larger than {MAX_KEY_FILE_BYTES} bytes",
            path.display()
        ))
        .into());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ExitCode;

    #[test]
    fn a_key_file_that_cannot_be_created_names_why() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate();
        let missing = dir.path().join("no-such-folder").join("signing-key.json");
        let text = format!("{:#}", key.save(&missing).unwrap_err());
        assert!(text.contains("no-such-folder` does not exist"), "{text}");
        let path = dir.path().join("signing-key.json");
        key.save(&path).unwrap();
        let text = format!("{:#}", key.save(&path).unwrap_err());
        assert!(text.contains("never overwritten"), "{text}");
    }

    fn err_kind(result: anyhow::Result<String>) -> ExitCode {
        crate::core::error::exit_code(&result.unwrap_err())
    }

    #[test]
    fn sign_and_verify_with_rotation() {
        let old = PrivateKey::generate();
        let new = PrivateKey::generate();
        let file = SignatureFile::sign(b"catalog", &[&old, &new]);
        assert_eq!(
            verify(b"catalog", &file, &[new.public()], "c").unwrap(),
            new.public().key_id()
        );
        assert!(verify(b"catalog", &file, &[old.public()], "c").is_ok());
    }

    #[test]
    fn altered_bytes_unknown_key_and_no_keys_fail() {
        let key = PrivateKey::generate();
        let file = SignatureFile::sign(b"catalog", &[&key]);
        assert_eq!(
            err_kind(verify(b"catalog!", &file, &[key.public()], "c")),
            ExitCode::Rejected
        );
        let other = PrivateKey::generate();
        let text = format!(
            "{:#}",
            verify(b"catalog", &file, &[other.public()], "c").unwrap_err()
        );
        assert!(text.contains("unknown key"), "{text}");
        assert_eq!(
            err_kind(verify(b"catalog", &file, &[], "c")),
            ExitCode::Usage
        );
    }

    #[test]
    fn public_key_text_round_trips() {
        let key = PrivateKey::generate().public();
        assert_eq!(PublicKey::parse(&key.to_string()).unwrap(), key);
        assert!(PublicKey::parse("ed25519:AAAA").is_err());
        assert!(PublicKey::parse("rsa:xyz").is_err());
    }

    #[test]
    fn key_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        let key = PrivateKey::generate();
        key.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(key.save(&path).is_err());
        assert_eq!(PrivateKey::load(&path).unwrap().public(), key.public());
        assert!(PrivateKey::load_as(&path, KeyRole::Timestamp).is_err());
    }

    #[test]
    fn a_timestamp_key_never_signs_catalogs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timestamp-key.json");
        let key = PrivateKey::generate();
        key.save_as(&path, KeyRole::Timestamp).unwrap();
        let Err(err) = PrivateKey::load(&path) else {
            panic!("a timestamp key loaded as a catalog key")
        };
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Usage);
        assert!(format!("{err:#}").contains("timestamp key, not a catalog key"));
        let loaded = PrivateKey::load_as(&path, KeyRole::Timestamp).unwrap();
        assert_eq!(loaded.public(), key.public());
    }

    /// `text` padded with comment lines to exactly `len` bytes.
    fn padded(text: &str, len: usize) -> String {
        let mut out = text.to_owned();
        while out.len() + 80 < len {
            out.push_str(&format!("# {}\n", "x".repeat(77)));
        }
        out.push('#');
        out.push_str(&"y".repeat(len - out.len()));
        assert_eq!(out.len(), len);
        out
    }

    /// The trusted-key file format: one key a line, `#` comments (indented too), blank lines and
    /// CRLF endings skipped, several keys kept in order; anything else is refused.
    #[test]
    fn a_trusted_key_file_holds_keys_comments_and_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            PrivateKey::generate().public(),
            PrivateKey::generate().public(),
        );
        let path = dir.path().join("trusted-keys.txt");
        let text = format!(
            "# the service's keys\r\n\r\n  {}  \r\n   # rotated in 2027\n\n\t\n{}\n",
            a, b
        );
        std::fs::write(&path, text).unwrap();
        let item = path.to_str().unwrap().to_owned();
        let keys = parse_trusted(std::slice::from_ref(&item)).unwrap();
        let ids: Vec<String> = keys.iter().map(PublicKey::key_id).collect();
        assert_eq!(ids, [a.key_id(), b.key_id()]);
        std::fs::write(&path, format!("{}\nnot a key\n", a)).unwrap();
        assert!(parse_trusted(std::slice::from_ref(&item)).is_err());
        std::fs::write(&path, "# only comments\n\n").unwrap();
        assert!(
            parse_trusted(std::slice::from_ref(&item))
                .unwrap()
                .is_empty()
        );
    }

    /// The key-file limit, at the limit and one byte past it (docs/reliability.md).
    #[test]
    fn a_key_file_is_read_up_to_its_limit_and_refused_one_byte_past() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate().public();
        let path = dir.path().join("trusted-keys.txt");
        let item = path.to_str().unwrap().to_owned();
        let limit = MAX_KEY_FILE_BYTES as usize;
        assert_eq!(limit, 64 * 1024);
        std::fs::write(&path, padded(&format!("{key}\n"), limit)).unwrap();
        assert_eq!(parse_trusted(std::slice::from_ref(&item)).unwrap().len(), 1);
        std::fs::write(&path, padded(&format!("{key}\n"), limit + 1)).unwrap();
        let err = parse_trusted(std::slice::from_ref(&item)).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Usage);
        assert!(
            format!("{err:#}").contains("larger than 65536 bytes"),
            "{err:#}"
        );
    }

    /// The signature-file limit, at the limit and one byte past it, through the catalog check
    /// every reader uses.
    #[test]
    fn a_signature_file_is_read_up_to_its_limit_and_refused_one_byte_past() {
        let key = PrivateKey::generate();
        let signed = serde_json::to_vec(&SignatureFile::sign(b"catalog", &[&key])).unwrap();
        let limit = MAX_SIGNATURE_BYTES as usize;
        assert_eq!(limit, 64 * 1024);
        let pad = |len: usize| {
            let mut bytes = signed.clone();
            bytes.resize(len, b' ');
            bytes
        };
        let read = |bytes: Vec<u8>| -> anyhow::Result<SignatureFile> {
            crate::core::document::read(&bytes[..], "signature.json", MAX_SIGNATURE_BYTES)
        };
        let at = read(pad(limit)).unwrap();
        assert!(verify(b"catalog", &at, &[key.public()], "c").is_ok());
        let err = read(pad(limit + 1)).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Rejected);
    }
}
