//! Which packs of a verified folder this site takes: a pure function of the catalog, the fetch
//! record and the site's identity, so the rules are tested without touching a disk.
//!
//! 1. the catalog must not be bound to another hierarchy;
//! 2. the fetch record must hold an entry for this hierarchy (a folder fetched only for other
//!    hierarchies is refused: nothing in it was asked for by this site);
//! 3. a pack fetched for this hierarchy is imported when it applies to the site's version
//!    (`MinCMVersion ≤ site ≤ MaxCMVersion`), else it is *not applicable*;
//! 4. a pack fetched only for other hierarchies is *skipped*, naming them.

use crate::catalog::{Catalog, Pack};
use crate::error::{ExitCode, fail};
use crate::packdir::FetchRecord;
use crate::version::CmVersion;
use uuid::Uuid;

/// What to do with one pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Fetched for this hierarchy and applies to this site's version.
    Import,
    /// Fetched only for these other hierarchies.
    OtherHierarchy(Vec<Uuid>),
    /// Fetched for this hierarchy but not for this site's version; the reason says why.
    NotApplicable(String),
}

/// One pack and its decision.
#[derive(Clone, Debug)]
pub struct Planned<'a> {
    pub pack: &'a Pack,
    pub decision: Decision,
}

/// Decides every recorded pack, in the order the record lists them (each pack once).
pub fn plan<'a>(
    catalog: &'a Catalog,
    record: &FetchRecord,
    hierarchy: &Uuid,
    site_version: &CmVersion,
) -> anyhow::Result<Vec<Planned<'a>>> {
    catalog.check_hierarchy(hierarchy)?;
    let ours = record
        .hierarchies
        .iter()
        .find(|h| h.hierarchy_id == *hierarchy);
    let Some(ours) = ours else {
        let others: Vec<String> = record
            .hierarchies
            .iter()
            .map(|h| format!("{} (site {})", h.hierarchy_id, h.site_code))
            .collect();
        return Err(fail(
            ExitCode::Rejected,
            format!(
                "the update pack folder holds no packs for this hierarchy ({hierarchy}); it was fetched for {}",
                if others.is_empty() {
                    "no hierarchy".to_owned()
                } else {
                    others.join(", ")
                }
            ),
        ));
    };
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for guid in record.hierarchies.iter().flat_map(|h| h.packs.iter()) {
        if seen.contains(guid) {
            continue;
        }
        seen.push(*guid);
        let pack = catalog.pack(guid).ok_or_else(|| {
            fail(
                ExitCode::Rejected,
                format!("pack {guid} is not in the catalog"),
            )
        })?;
        let decision = if ours.packs.contains(guid) {
            applicability(pack, site_version)
        } else {
            Decision::OtherHierarchy(
                record
                    .hierarchies
                    .iter()
                    .filter(|h| h.packs.contains(guid))
                    .map(|h| h.hierarchy_id)
                    .collect(),
            )
        };
        out.push(Planned { pack, decision });
    }
    Ok(out)
}

fn applicability(pack: &Pack, site_version: &CmVersion) -> Decision {
    if pack.applies_to(site_version) {
        return Decision::Import;
    }
    let side = if *site_version > pack.max_cm_version {
        "the site is newer than the pack"
    } else {
        "the site is older than the pack requires"
    };
    Decision::NotApplicable(format!(
        "applies to site versions {} to {}, this site is {site_version} ({side})",
        pack.min_cm_version, pack.max_cm_version
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::PackFile;
    use crate::document::Document;
    use crate::packdir::HierarchyRecord;

    fn pack(min: &str, max: &str) -> Pack {
        let guid = Uuid::new_v4();
        let folder = guid.to_string().to_uppercase();
        Pack {
            package_guid: guid,
            name: format!("pack {min}"),
            update_number: "2409".into(),
            full_version: max.parse().unwrap(),
            update_type: 0,
            min_cm_version: min.parse().unwrap(),
            max_cm_version: max.parse().unwrap(),
            release_date: "2024-10-14".into(),
            more_info_link: String::new(),
            description: String::new(),
            files: vec![PackFile {
                path: format!("{folder}/{folder}.cab"),
                size: 0,
                sha256: crate::hash::hex_of(b""),
            }],
        }
    }

    fn record(entries: &[(Uuid, Vec<Uuid>)]) -> FetchRecord {
        FetchRecord {
            schema: FetchRecord::SCHEMA.into(),
            catalog_version: 1,
            hierarchies: entries
                .iter()
                .map(|(h, packs)| HierarchyRecord {
                    hierarchy_id: *h,
                    site_code: "PS1".into(),
                    site_version: "5.00.9128.1000".parse().unwrap(),
                    mode: "latest".into(),
                    packs: packs.clone(),
                })
                .collect(),
        }
    }

    fn catalog(packs: Vec<Pack>) -> Catalog {
        Catalog {
            schema: Catalog::SCHEMA.into(),
            version: 1,
            issued_at: "2026-11-01T00:00:00Z".parse().unwrap(),
            expires_at: "2027-02-01T00:00:00Z".parse().unwrap(),
            hierarchy_id: None,
            packs,
        }
    }

    #[test]
    fn only_this_hierarchy_and_version() {
        let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
        let fits = pack("5.00.9106.1000", "5.00.9132.1009");
        let old = pack("5.00.9058.1000", "5.00.9096.1000");
        let foreign = pack("5.00.9106.1000", "5.00.9132.1009");
        let guids = [fits.package_guid, old.package_guid, foreign.package_guid];
        let catalog = catalog(vec![fits, old, foreign]);
        let record = record(&[
            (mine, vec![guids[0], guids[1]]),
            (other, vec![guids[0], guids[2]]),
        ]);
        let site: CmVersion = "5.00.9128.1000".parse().unwrap();
        let planned = plan(&catalog, &record, &mine, &site).unwrap();
        assert_eq!(planned.len(), 3);
        assert_eq!(planned[0].decision, Decision::Import);
        assert!(
            matches!(&planned[1].decision, Decision::NotApplicable(why) if why.contains("newer"))
        );
        assert_eq!(planned[2].decision, Decision::OtherHierarchy(vec![other]));
    }

    #[test]
    fn folder_for_other_hierarchies_only_is_refused() {
        let p = pack("5.00.9106.1000", "5.00.9132.1009");
        let guid = p.package_guid;
        let catalog = catalog(vec![p]);
        let record = record(&[(Uuid::new_v4(), vec![guid])]);
        let site: CmVersion = "5.00.9128.1000".parse().unwrap();
        let err = plan(&catalog, &record, &Uuid::new_v4(), &site).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), ExitCode::Rejected);
        assert!(format!("{err:#}").contains("no packs for this hierarchy"));
    }

    #[test]
    fn catalog_bound_to_another_hierarchy_is_refused() {
        let mine = Uuid::new_v4();
        let mut catalog = catalog(vec![]);
        catalog.hierarchy_id = Some(Uuid::new_v4());
        let site: CmVersion = "5.00.9128.1000".parse().unwrap();
        assert!(plan(&catalog, &record(&[(mine, vec![])]), &mine, &site).is_err());
    }
}
