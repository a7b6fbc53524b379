//! The usage cab (`UsageData.cab`): what leaves the site on the USB drive.
//!
//! Members, in order:
//! - `UsageData.json`: the `sct.usage.v1` document;
//! - `SiteVersion.<full version>.txt`: the file named after the site's full version, as the
//!   original tool writes it so the service can tell the version without parsing the data;
//! - `manifest.json` (`sct.usage-manifest.v1`): the site identity and the size and SHA-256 of
//!   every other member.

use crate::core::cabinet::{self, CabReader, Entry};
use crate::core::document::{self, Document};
use crate::core::error::Error;
use crate::core::usage::{self, MAX_USAGE_BYTES, UsageDocument};
use crate::core::version::CmVersion;
use serde::{Deserialize, Serialize};
use std::path::Path;
use uuid::Uuid;

pub const USAGE_MEMBER: &str = "UsageData.json";
pub const MANIFEST_MEMBER: &str = "manifest.json";
/// Largest manifest read back: a few hundred bytes in practice.
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// The name of the site-version member for a full version.
pub fn version_member(full_version: &CmVersion) -> String {
    format!("SiteVersion.{full_version}.txt")
}

/// Size and SHA-256 of one member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberDigest {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// The manifest inside a usage cab.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageManifest {
    pub schema: crate::core::document::Tag<Self>,
    pub site_code: String,
    pub hierarchy_id: Uuid,
    pub site_version: CmVersion,
    pub full_version: CmVersion,
    pub members: Vec<MemberDigest>,
}

impl Document for UsageManifest {
    const SCHEMA: &'static str = "sct.usage-manifest.v1";
}

/// What `sct-pack` reports on stdout, and `inspect` after checking a cab.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CabReport {
    pub schema: crate::core::document::Tag<Self>,
    pub cab: String,
    pub size: u64,
    pub sha256: String,
    pub site_code: String,
    pub hierarchy_id: Uuid,
    pub site_version: CmVersion,
    pub full_version: CmVersion,
    pub diagnostics_level: crate::core::usage::DiagnosticsLevel,
    pub rows: usize,
    pub members: Vec<MemberDigest>,
}

impl Document for CabReport {
    const SCHEMA: &'static str = "sct.usage-cab.v1";
}

fn version_text(doc: &UsageDocument) -> String {
    let site = &doc.site;
    format!(
        "SiteCode={}\r\nSiteVersion={}\r\nFullVersion={}\r\nHierarchyID={}\r\n",
        site.site_code,
        site.version,
        site.full_version,
        site.hierarchy_id.to_string().to_uppercase()
    )
}

/// Packs a usage document into a cab at `dest`, atomically.
pub fn pack(doc: &UsageDocument, dest: &Path) -> anyhow::Result<CabReport> {
    usage::validate(doc, "the usage document")?;
    if !usage::rows_within_level(doc) {
        return Err(Error::Rejected(format!(
            "the usage document holds rows above the site's {} level",
            doc.site.diagnostics_level
        ))
        .into());
    }
    let usage_bytes = serde_json::to_vec(doc)?;
    let version_name = version_member(&doc.site.full_version);
    let version_bytes = version_text(doc).into_bytes();
    let digest = |name: &str, bytes: &[u8]| MemberDigest {
        name: name.to_owned(),
        size: bytes.len() as u64,
        sha256: crate::core::hash::hex_of(bytes),
    };
    let members = vec![
        digest(USAGE_MEMBER, &usage_bytes),
        digest(&version_name, &version_bytes),
    ];
    let manifest = UsageManifest {
        schema: crate::core::document::Tag::new(),
        site_code: doc.site.site_code.clone(),
        hierarchy_id: doc.site.hierarchy_id,
        site_version: doc.site.version,
        full_version: doc.site.full_version,
        members: members.clone(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    let entry = |name: &str, bytes: &'_ [u8]| Entry {
        name: name.to_owned(),
        size: bytes.len() as u64,
        data: Box::new(std::io::Cursor::new(bytes.to_vec())),
    };
    let (size, sha256) = cabinet::write(
        dest,
        vec![
            entry(USAGE_MEMBER, &usage_bytes),
            entry(&version_name, &version_bytes),
            entry(MANIFEST_MEMBER, &manifest_bytes),
        ],
    )?;
    Ok(report(dest, size, sha256, doc, members))
}

fn report(
    path: &Path,
    size: u64,
    sha256: String,
    doc: &UsageDocument,
    members: Vec<MemberDigest>,
) -> CabReport {
    CabReport {
        schema: crate::core::document::Tag::new(),
        cab: path.display().to_string(),
        size,
        sha256,
        site_code: doc.site.site_code.clone(),
        hierarchy_id: doc.site.hierarchy_id,
        site_version: doc.site.version,
        full_version: doc.site.full_version,
        diagnostics_level: doc.site.diagnostics_level,
        rows: doc.rows.len(),
        members,
    }
}

/// Opens a usage cab, checks every member against its manifest and returns the usage document.
///
/// Refused (exit 1): a non-cab or damaged cab, hostile or duplicate names, members missing from,
/// not listed in or listed twice in the manifest, a size or SHA-256 that differs, a version file
/// that disagrees with the data, or a usage document of another schema or over its limit.
///
/// Memory: the manifest (at most 1 MiB) and the usage document's bytes (at most
/// [`MAX_USAGE_BYTES`]) and rows; every other member is streamed through SHA-256.
pub fn open_verified(path: &Path) -> anyhow::Result<(UsageDocument, CabReport)> {
    let (cab_size, cab_sha256) = crate::core::hash::of_file(path)?;
    let mut reader = CabReader::open(path)?;
    let members = reader.checked_paths()?;
    let names: Vec<&str> = members.iter().map(|(m, _)| m.name.as_str()).collect();
    let refuse =
        |why: String| Error::Rejected(format!("usage cab `{}` {why}", path.display())).into();
    if !names.contains(&MANIFEST_MEMBER) || !names.contains(&USAGE_MEMBER) {
        return Err(refuse(format!(
            "is not a usage cab: it must hold {USAGE_MEMBER} and {MANIFEST_MEMBER} (it holds {})",
            some_names(&names)
        )));
    }
    let manifest_bytes = reader.read_member(MANIFEST_MEMBER, MAX_MANIFEST_BYTES)?;
    let manifest: UsageManifest = document::from_bytes(
        &manifest_bytes,
        &format!("the manifest of `{}`", path.display()),
        MAX_MANIFEST_BYTES,
    )?;
    check_listing(&manifest, &names).map_err(refuse)?;
    // Sized once (never doubled and copied while it grows); the limit still applies as it is read.
    let declared = manifest.members.iter().find(|m| m.name == USAGE_MEMBER);
    let mut usage_bytes =
        Vec::with_capacity(declared.map_or(0, |m| m.size.min(MAX_USAGE_BYTES)) as usize);
    for expected in &manifest.members {
        let mut sink: Box<dyn std::io::Write> = if expected.name == USAGE_MEMBER {
            Box::new(&mut usage_bytes)
        } else {
            Box::new(std::io::sink())
        };
        let (size, sha256) = reader.copy_member(&expected.name, MAX_USAGE_BYTES, &mut sink)?;
        drop(sink);
        if size != expected.size || !crate::core::hash::same(&sha256, &expected.sha256) {
            return Err(refuse(format!(
                "has a damaged or altered `{}`: expected {} bytes with SHA-256 {}, found {} bytes with SHA-256 {}",
                expected.name, expected.size, expected.sha256, size, sha256
            )));
        }
    }
    let doc: UsageDocument = document::from_bytes(
        &usage_bytes,
        &format!("`{USAGE_MEMBER}` in `{}`", path.display()),
        MAX_USAGE_BYTES,
    )?;
    drop(usage_bytes);
    let expected_version = version_member(&doc.site.full_version);
    if !names.contains(&expected_version.as_str()) {
        return Err(refuse(format!(
            "lacks `{expected_version}`, the file named after the site's full version"
        )));
    }
    if manifest.hierarchy_id != doc.site.hierarchy_id
        || manifest.full_version != doc.site.full_version
        || manifest.site_code != doc.site.site_code
    {
        return Err(refuse(
            "has a manifest that disagrees with its usage data".to_owned(),
        ));
    }
    usage::validate(&doc, &format!("`{}`", path.display()))?;
    let report = report(path, cab_size, cab_sha256, &doc, manifest.members.clone());
    Ok((doc, report))
}

/// The first few member names and how many more: a refusal stays one readable line whatever the
/// cab holds (a product cab holds thousands).
fn some_names(names: &[&str]) -> String {
    const SHOWN: usize = 5;
    match names.len() {
        0 => "no members".to_owned(),
        n if n <= SHOWN => names.join(", "),
        n => format!("{}, and {} more", names[..SHOWN].join(", "), n - SHOWN),
    }
}

/// The manifest must list every member but itself exactly once: each listing is read in full, so
/// a name listed many times would make one small cab cost its member's size again and again.
fn check_listing(manifest: &UsageManifest, names: &[&str]) -> Result<(), String> {
    let mut listed = std::collections::HashSet::new();
    for member in &manifest.members {
        if !listed.insert(member.name.as_str()) {
            return Err(format!("has a manifest that lists `{}` twice", member.name));
        }
        if !names.contains(&member.name.as_str()) {
            return Err(format!("lacks `{}`, which its manifest lists", member.name));
        }
    }
    match names
        .iter()
        .find(|n| **n != MANIFEST_MEMBER && !listed.contains(**n))
    {
        Some(name) => Err(format!("holds `{name}`, which its manifest does not list")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_a_few_members() {
        assert_eq!(some_names(&["a", "b"]), "a, b");
        let many: Vec<String> = (0..2000).map(|i| format!("f{i}.cab")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            some_names(&many),
            "f0.cab, f1.cab, f2.cab, f3.cab, f4.cab, and 1995 more"
        );
    }

    #[test]
    fn version_member_is_named_after_full_version() {
        let v: CmVersion = "5.00.9128.1033".parse().unwrap();
        assert_eq!(version_member(&v), "SiteVersion.5.00.9128.1033.txt");
    }
}
