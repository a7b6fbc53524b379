//! Step 1 of an upload, and all of `--dry-run`: find the cabs, check each one locally, and refuse
//! duplicate names or hierarchies before anything is sent.

use super::{ENV_SERVICE_URL, resolve_service_url, upload_url};
use crate::core::error::Error;
use crate::core::usage_cab::{self, CabReport};
use crate::stages::config::Config;
use crate::stages::http::{self, NetOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The cabs to upload: `source` itself, or every `*.cab` directly inside it, sorted by name.
pub fn find_cabs(source: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(source).map_err(|e| -> anyhow::Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            return Error::Io(format!(
                "the usage data source `{}` does not exist: is the drive plugged in, with this \
                 letter, and is the path right?",
                source.display()
            ))
            .into();
        }
        anyhow::Error::from(e).context(format!(
            "Cannot read the usage data source `{}`",
            source.display()
        ))
    })?;
    crate::core::paths::check_no_twins_on_path(source)?;
    if !meta.is_dir() {
        return Ok(vec![source.to_owned()]);
    }
    let mut cabs = Vec::new();
    for entry in fs_err::read_dir(source)? {
        let path = entry?.path();
        let is_cab = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("cab"));
        if is_cab && path.is_file() {
            cabs.push(path);
        }
    }
    cabs.sort();
    if cabs.is_empty() {
        return Err(Error::Usage(format!("`{}` holds no .cab files", source.display())).into());
    }
    Ok(cabs)
}

/// Step 1: every cab checks out, and no name or hierarchy appears twice.
pub fn check_local(cabs: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, CabReport)>> {
    let mut names: HashMap<String, &Path> = HashMap::new();
    for cab in cabs {
        // Case and Unicode form folded: on Windows such twins are one file.
        let name = cab
            .file_name()
            .map(|n| crate::core::paths::fold_key(&n.to_string_lossy()))
            .unwrap_or_default();
        if let Some(first) = names.insert(name, cab) {
            return Err(Error::Rejected(format!(
                "`{}` and `{}` have the same file name; give each hierarchy's cab a unique name",
                first.display(),
                cab.display()
            ))
            .into());
        }
    }
    let mut checked = Vec::new();
    let mut hierarchies: HashMap<uuid::Uuid, PathBuf> = HashMap::new();
    for cab in cabs {
        let (_, report) = usage_cab::open_verified(cab)?;
        if let Some(first) = hierarchies.insert(report.hierarchy_id, cab.clone()) {
            return Err(Error::Rejected(format!(
                    "`{}` and `{}` both hold usage data of hierarchy {}; upload one cab per hierarchy (they are not merged)",
                    first.display(),
                    cab.display(),
                    report.hierarchy_id
                )).into());
        }
        checked.push((cab.clone(), report));
    }
    Ok(checked)
}

/// One cab in an upload plan: what would be sent, for which hierarchy.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PlannedCab {
    pub cab: String,
    pub size: u64,
    pub sha256: String,
    pub site_code: String,
    pub hierarchy_id: uuid::Uuid,
    pub site_version: crate::core::version::CmVersion,
    pub full_version: crate::core::version::CmVersion,
    pub rows: usize,
}

/// `sct-upload --dry-run`: what would be uploaded, where, and how much.
#[derive(Clone, Debug, serde::Serialize)]
pub struct UploadPlan {
    pub schema: crate::core::document::Tag<Self>,
    pub source: String,
    /// The upload endpoint, when a service URL is configured (`null` otherwise: a plan needs none).
    pub upload_url: Option<String>,
    /// The proxy that would be used, if one is given by flag (one carrying a password is refused).
    pub proxy: Option<String>,
    pub cabs: Vec<PlannedCab>,
    pub total_bytes: u64,
    pub dry_run: bool,
}

impl crate::core::document::Document for UploadPlan {
    const SCHEMA: &'static str = "sct.upload-plan.v1";
}

/// Step 1 alone, for `--dry-run`: finds and checks the cabs and says what would be sent. Reads
/// only the local files: contacts nothing, asks for no password (`net.proxy_password` is not
/// used). A missing service URL is not an error here; an invalid one is, and so is a proxy URI or
/// CA file a real run would refuse.
pub fn plan(
    source: &Path,
    service_url: Option<&str>,
    net: &NetOptions,
    config: &Config,
) -> anyhow::Result<UploadPlan> {
    // Building the client reads the CA file and checks the proxy URI (a password in it is
    // refused) as a real run would, without any network I/O.
    http::client(net)?;
    let cabs = find_cabs(source)?;
    let checked = check_local(&cabs)?;
    let configured = service_url.is_some()
        || std::env::var(ENV_SERVICE_URL).is_ok_and(|v| !v.is_empty())
        || config.service_url.is_some();
    let upload_url = match configured {
        true => Some(crate::core::logging::redact_url(&upload_url(
            &resolve_service_url(service_url, config)?,
        ))),
        false => None,
    };
    let cabs: Vec<PlannedCab> = checked
        .into_iter()
        .map(|(path, r)| PlannedCab {
            cab: path.display().to_string(),
            size: r.size,
            sha256: r.sha256,
            site_code: r.site_code,
            hierarchy_id: r.hierarchy_id,
            site_version: r.site_version,
            full_version: r.full_version,
            rows: r.rows,
        })
        .collect();
    Ok(UploadPlan {
        schema: crate::core::document::Tag::new(),
        source: source.display().to_string(),
        upload_url,
        proxy: net.proxy.as_deref().map(crate::core::logging::redact_url),
        total_bytes: cabs.iter().map(|c| c.size).sum(),
        cabs,
        dry_run: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_names_are_refused_before_reading() {
        let cabs = vec![
            PathBuf::from("/a/UsageData.cab"),
            PathBuf::from("/b/usagedata.CAB"),
        ];
        let err = check_local(&cabs).unwrap_err();
        assert!(format!("{err:#}").contains("same file name"));
    }
}
