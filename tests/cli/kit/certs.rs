//! A test certificate authority and a TLS leaf for 127.0.0.1, made with the openssl CLI.

use std::path::{Path, PathBuf};

/// A test CA and a leaf for 127.0.0.1/localhost signed by it, in `dir`; returns (ca.pem,
/// leaf.pem, leaf.key). rustls refuses a self-signed leaf, hence the two levels.
pub fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    crate::support::require_tool("openssl");
    std::fs::create_dir_all(dir).unwrap();
    let d = dir.display();
    let script = format!(
        "set -e\ncd '{d}'\n\
         openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=sct-test-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign\n\
         openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj /CN=localhost\n\
         printf 'basicConstraints=critical,CA:FALSE\\nsubjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\nkeyUsage=critical,digitalSignature\\n' > leaf.ext\n\
         openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -days 2 -extfile leaf.ext\n"
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        crate::support::stderr_of(&out)
    );
    (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    )
}
