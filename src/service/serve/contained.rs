//! What the file server may hand out: regular files under `catalog/` and `packs/`, reached
//! without a link at any level, and never a secret the operator keeps near the service root.
//!
//! `publish` refuses links in `packs/`, but one planted later (`packs/<GUID>/Redist/extra.msi →
//! ../../signing-key.json`) would otherwise be followed by the static file server and serve the
//! private signing key to anyone. Every request under `/catalog` and `/packs` is walked part by
//! part with `symlink_metadata` first: a link, junction or other reparse point anywhere on the
//! way, a folder, or a special file is answered 404, the same as a missing file, so a probe
//! learns nothing. The walk is by path: someone who can write into the served tree while the
//! server runs could swap a link in between the check and the open (docs/reliability.md says so);
//! the threat closed is a link lying in the tree, planted by a pack or a past mistake.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};

/// The service root, for the middleware.
#[derive(Clone)]
pub struct Served {
    pub root: PathBuf,
}

/// Lets a request under `/catalog/` or `/packs/` through only when [`servable`] says so.
pub async fn only_plain_files(
    State(served): State<Served>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let inside = ["catalog", "packs"].into_iter().find_map(|dir| {
        path.strip_prefix('/')
            .and_then(|p| p.strip_prefix(dir))
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .map(|rest| (dir, rest.to_owned()))
    });
    if let Some((dir, rest)) = inside
        && !servable(&served.root.join(dir), &rest)
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    next.run(request).await
}

/// True when `request_path` (as sent, percent-encoded, below `dir`) names a regular file reached
/// from `dir` through plain folders only.
pub fn servable(dir: &Path, request_path: &str) -> bool {
    let Ok(decoded) = percent_encoding::percent_decode_str(request_path).decode_utf8() else {
        return false;
    };
    let mut at = dir.to_owned();
    if !plain(&at, true) {
        return false;
    }
    let parts: Vec<&str> = decoded.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return false;
    }
    for (i, part) in parts.iter().enumerate() {
        if *part == "." || *part == ".." || part.contains('\\') {
            return false;
        }
        at.push(part);
        if !plain(&at, i + 1 < parts.len()) {
            return false;
        }
    }
    true
}

/// `path` itself (not what a link there points at) is a plain folder (`folder`) or regular file.
fn plain(path: &Path, folder: bool) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if is_reparse_point(&meta) {
        return false;
    }
    if folder {
        meta.is_dir()
    } else {
        meta.is_file()
    }
}

#[cfg(windows)]
fn is_reparse_point(meta: &std::fs::Metadata) -> bool {
    use std::os::windows::fs::MetadataExt;
    meta.file_attributes() & windows_sys::Win32::Storage::FileSystem::FILE_ATTRIBUTE_REPARSE_POINT
        != 0
}

#[cfg(not(windows))]
fn is_reparse_point(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_symlink()
}

/// Refuses to serve when a secret file (`what`: the upload token, the TLS key, a signing key)
/// lies under a served folder of `root`: anyone could download it (exit 2).
pub fn check_not_served(root: &Path, secret: &Path, what: &str) -> anyhow::Result<()> {
    let Ok(secret_at) = std::fs::canonicalize(secret) else {
        return Ok(()); // a missing file fails where it is read, with its own message
    };
    for dir in ["catalog", "packs"] {
        let Ok(served) = std::fs::canonicalize(root.join(dir)) else {
            continue;
        };
        if secret_at.starts_with(&served) {
            return Err(crate::core::error::Error::Usage(format!(
                "{what} `{}` lies under `{}`, which sct-serve hands to anyone who asks: \
                 keep it outside the service root's catalog and packs folders",
                secret.display(),
                root.join(dir).display()
            ))
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn links_folders_and_escapes_are_not_servable() {
        let root = tempfile::tempdir().unwrap();
        let packs = root.path().join("packs");
        std::fs::create_dir_all(packs.join("G/Redist")).unwrap();
        std::fs::write(packs.join("G/Redist/a.msi"), b"msi").unwrap();
        std::fs::write(root.path().join("signing-key.json"), b"secret").unwrap();
        std::os::unix::fs::symlink(
            "../../../signing-key.json",
            packs.join("G/Redist/extra.msi"),
        )
        .unwrap();
        std::os::unix::fs::symlink("G", packs.join("L")).unwrap();
        assert!(servable(&packs, "/G/Redist/a.msi"));
        assert!(servable(&packs, "/G/Redist/a%2Emsi"));
        for bad in [
            "/G/Redist/extra.msi",
            "/L/Redist/a.msi",
            "/G/Redist",
            "/",
            "/G/../../signing-key.json",
            "/G/%2E%2E/%2E%2E/signing-key.json",
            "/G/Redist/missing.msi",
        ] {
            assert!(!servable(&packs, bad), "{bad}");
        }
    }

    #[test]
    fn a_secret_under_a_served_folder_is_refused() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("packs/G")).unwrap();
        let inside = root.path().join("packs/G/token");
        let outside = root.path().join("token");
        std::fs::write(&inside, "t").unwrap();
        std::fs::write(&outside, "t").unwrap();
        let err = check_not_served(root.path(), &inside, "the upload token").unwrap_err();
        assert!(format!("{err}").contains("hands to anyone"), "{err}");
        check_not_served(root.path(), &outside, "the upload token").unwrap();
    }
}
