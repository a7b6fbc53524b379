//! Which packs of a verified folder this site takes: a pure function of the catalog, the fetch
//! record and the site's identity, so the rules are tested without touching a disk.
//!
//! `fetched.json` is not signed, so it may only narrow what the signed catalog and the site's own
//! state allow, never widen it. What a site may take is decided by those alone: a pack of the
//! catalog that applies to the site's version and is newer than what the site runs. The record
//! then narrows it to the packs it lists for this hierarchy that its mode selects for this site.
//!
//! 1. the catalog must not be bound to another hierarchy (signed);
//! 2. the fetch record must hold an entry for this hierarchy, with a known mode (a folder
//!    fetched only for other hierarchies is refused: nothing in it was asked for by this site);
//! 3. a pack recorded for this hierarchy is imported when it applies to the site's version
//!    (`MinCMVersion ≤ site ≤ MaxCMVersion`), is newer than the site's full version, and is
//!    what the recorded mode selects from the catalog for this site; else it is *not applicable*,
//!    with the reason;
//! 4. a pack fetched only for other hierarchies is *skipped*, naming them.
//!
//! So a rewritten `hierarchy_id` gives a site no more than its own fetch would have (and nothing
//! from a catalog bound to another hierarchy), and a rewritten `mode` or pack list never adds a
//! pack the site does not need: the version it runs, an older one, or one the mode does not pick.

use crate::core::catalog::{Catalog, Pack};
use crate::core::error::Error;
use crate::core::packdir::FetchRecord;
use crate::core::select::{self, DownloadMode};
use crate::core::version::CmVersion;
use crate::site::SiteIdentity;
use uuid::Uuid;

/// What to do with one pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Fetched for this hierarchy and applies to this site's version.
    Import,
    /// Fetched only for these other hierarchies.
    OtherHierarchy(Vec<Uuid>),
    /// Fetched for this hierarchy but not for this site as it is now; the reason says why.
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
    site: &SiteIdentity,
) -> anyhow::Result<Vec<Planned<'a>>> {
    let hierarchy = &site.hierarchy_id;
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
        return Err(Error::Rejected(format!(
                "the update pack folder holds no packs for this hierarchy ({hierarchy}); it was fetched for {}",
                if others.is_empty() {
                    "no hierarchy".to_owned()
                } else {
                    others.join(", ")
                }
            )).into());
    };
    let mut selected = std::collections::HashSet::new();
    for name in std::iter::once(&ours.mode).chain(&ours.earlier_modes) {
        let mode: DownloadMode = name.parse().map_err(|why: String| {
            Error::Rejected(format!(
                "fetched.json, entry for hierarchy {hierarchy}: {why}"
            ))
        })?;
        selected.extend(select::select_guids(catalog, &site.full_version, mode));
    }
    let modes = std::iter::once(ours.mode.as_str())
        .chain(ours.earlier_modes.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(", ");
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for guid in record.hierarchies.iter().flat_map(|h| h.packs.iter()) {
        if seen.contains(guid) {
            continue;
        }
        seen.push(*guid);
        let pack = catalog
            .pack(guid)
            .ok_or_else(|| Error::Rejected(format!("pack {guid} is not in the catalog")))?;
        let decision = if ours.packs.contains(guid) {
            decide(pack, site, &modes, selected.contains(guid))
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

/// A pack recorded for this hierarchy: applies, is newer, and is what one of the recorded `modes`
/// picks for the site.
fn decide(pack: &Pack, site: &SiteIdentity, modes: &str, selected: bool) -> Decision {
    let applies = applicability(pack, &site.version);
    if applies != Decision::Import {
        return applies;
    }
    if pack.full_version <= site.full_version {
        return Decision::NotApplicable(format!(
            "the site already runs {}, and this pack is {} (not newer)",
            site.full_version, pack.full_version
        ));
    }
    if !selected {
        return Decision::NotApplicable(format!(
            "mode {modes} (recorded in fetched.json) does not select it for site version {} from the signed catalog",
            site.full_version
        ));
    }
    Decision::Import
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
    use crate::core::catalog::PackFile;
    use crate::core::error::ExitCode;
    use crate::core::packdir::HierarchyRecord;

    const SITE: &str = "5.00.9128.1000";

    fn pack(min: &str, max: &str) -> Pack {
        let guid = Uuid::new_v4();
        let folder = guid.to_string().to_uppercase();
        Pack {
            info: crate::core::catalog::PackInfo {
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
            },
            files: vec![PackFile {
                path: format!("{folder}/{folder}.cab"),
                size: 0,
                sha256: crate::core::hash::hex_of(b""),
            }],
        }
    }

    fn record_with(mode: &str, entries: &[(Uuid, Vec<Uuid>)]) -> FetchRecord {
        FetchRecord {
            schema: crate::core::document::Tag::new(),
            catalog_version: 1,
            freshness_checked_at: None,
            hierarchies: entries
                .iter()
                .map(|(h, packs)| HierarchyRecord {
                    hierarchy_id: *h,
                    site_code: "PS1".into(),
                    site_version: SITE.parse().unwrap(),
                    mode: mode.into(),
                    earlier_modes: Vec::new(),
                    packs: packs.clone(),
                })
                .collect(),
        }
    }

    fn record(entries: &[(Uuid, Vec<Uuid>)]) -> FetchRecord {
        record_with("all", entries)
    }

    fn catalog(packs: Vec<Pack>) -> Catalog {
        crate::core::catalog::tests::of(packs)
    }

    fn site(hierarchy: Uuid) -> SiteIdentity {
        SiteIdentity {
            site_code: "PS1".into(),
            site_name: "Primary".into(),
            server_name: "scp.contoso.com".into(),
            hierarchy_id: hierarchy,
            version: SITE.parse().unwrap(),
            full_version: SITE.parse().unwrap(),
            diagnostics_level: crate::site::DiagnosticsLevel::Enhanced,
            install_dir: String::new(),
        }
    }

    fn decisions(planned: &[Planned]) -> Vec<Decision> {
        planned.iter().map(|p| p.decision.clone()).collect()
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
        let planned = plan(&catalog, &record, &site(mine)).unwrap();
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
        let err = plan(&catalog, &record, &site(Uuid::new_v4())).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Rejected);
        assert!(format!("{err:#}").contains("no packs for this hierarchy"));
    }

    #[test]
    fn catalog_bound_to_another_hierarchy_is_refused() {
        let mine = Uuid::new_v4();
        let mut catalog = catalog(vec![]);
        catalog.hierarchy_id = Some(Uuid::new_v4());
        assert!(plan(&catalog, &record(&[(mine, vec![])]), &site(mine)).is_err());
    }

    /// The demo's releases for a site at 5.00.9128.1000: the one it runs, a hotfix for it, and
    /// two newer releases that apply.
    fn releases() -> (Catalog, Vec<Uuid>) {
        let running = pack("5.00.9096.1000", SITE);
        let mut hotfix = pack(SITE, "5.00.9128.1029");
        hotfix.info.update_type = crate::core::catalog::update_type::HOTFIX;
        let next = pack("5.00.9106.1000", "5.00.9132.1000");
        let newest = pack(SITE, "5.00.9135.1000");
        let all = vec![running, hotfix, next, newest];
        let guids = all.iter().map(|p| p.package_guid).collect();
        (catalog(all), guids)
    }

    #[test]
    fn the_version_the_site_runs_is_never_imported() {
        let mine = Uuid::new_v4();
        let (catalog, guids) = releases();
        let planned = plan(&catalog, &record(&[(mine, guids.clone())]), &site(mine)).unwrap();
        let imported: Vec<Uuid> = planned
            .iter()
            .filter(|p| p.decision == Decision::Import)
            .map(|p| p.pack.package_guid)
            .collect();
        assert_eq!(imported, guids[1..].to_vec());
        assert!(
            matches!(&planned[0].decision, Decision::NotApplicable(why) if why.contains("already runs"))
        );
    }

    #[test]
    fn a_rewritten_mode_only_narrows() {
        let mine = Uuid::new_v4();
        let (catalog, guids) = releases();
        // An `all` fetch rewritten to `latest`: only the newest release applies.
        let planned = plan(
            &catalog,
            &record_with("latest", &[(mine, guids.clone())]),
            &site(mine),
        )
        .unwrap();
        let imported: Vec<Uuid> = planned
            .iter()
            .filter(|p| p.decision == Decision::Import)
            .map(|p| p.pack.package_guid)
            .collect();
        assert_eq!(imported, vec![guids[3]]);
        assert!(decisions(&planned).iter().any(
            |d| matches!(d, Decision::NotApplicable(why) if why.contains("does not select it"))
        ));
        // A `latest` fetch rewritten to `all` adds nothing the record does not list.
        let planned = plan(
            &catalog,
            &record_with("all", &[(mine, vec![guids[3]])]),
            &site(mine),
        )
        .unwrap();
        assert_eq!(decisions(&planned), vec![Decision::Import]);
        // A mode this build does not know refuses the folder.
        let err = plan(
            &catalog,
            &record_with("everything", &[(mine, guids)]),
            &site(mine),
        )
        .unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Rejected);
    }

    #[test]
    fn a_rewritten_hierarchy_gets_no_more_than_its_own_fetch() {
        // Fetched for another hierarchy at an older version (`latest` picked `next`); the record is
        // rewritten to name this site, which runs 5.00.9128.1000 and whose own `latest` is `newest`.
        let mine = Uuid::new_v4();
        let (catalog, guids) = releases();
        let planned = plan(
            &catalog,
            &record_with("latest", &[(mine, vec![guids[0], guids[2]])]),
            &site(mine),
        )
        .unwrap();
        assert!(
            decisions(&planned)
                .iter()
                .all(|d| matches!(d, Decision::NotApplicable(_))),
            "{planned:?}"
        );
    }
}
