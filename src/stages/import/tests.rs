//! The import over a read-only site (the SQL Server contract), with a fake [`SiteStore`] standing in
//! for SQL Server: files go into the inbox, nothing is written to the database, the catalog ledger
//! lives in the inbox, and rollback is still refused.

use super::*;
use crate::core::catalog::Catalog;
use crate::core::packdir::{FetchRecord, HierarchyRecord};
use crate::core::signing::PrivateKey;
use crate::site::{DiagnosticsLevel, UpdatePackage, UsageRow};
use std::cell::Cell;

/// A site that can only be read, and counts the reads of `CM_UpdatePackages`.
struct ReadOnlySite {
    identity: SiteIdentity,
    package_reads: std::rc::Rc<Cell<u32>>,
}

impl SiteStore for ReadOnlySite {
    fn describe(&self) -> String {
        "fake SQL Server".into()
    }
    fn identity(&self) -> anyhow::Result<SiteIdentity> {
        Ok(self.identity.clone())
    }
    fn usage_rows(&self, _: DiagnosticsLevel) -> anyhow::Result<Vec<UsageRow>> {
        Ok(Vec::new())
    }
    fn update_packages(&self) -> anyhow::Result<Vec<UpdatePackage>> {
        self.package_reads.set(self.package_reads.get() + 1);
        Ok(Vec::new())
    }
}

fn identity(install_dir: &Path) -> SiteIdentity {
    SiteIdentity {
        site_code: "CAS".into(),
        site_name: "Central".into(),
        server_name: "cas.contoso.com".into(),
        hierarchy_id: Uuid::new_v4(),
        version: "5.00.9128.1000".parse().unwrap(),
        full_version: "5.00.9128.1000".parse().unwrap(),
        diagnostics_level: DiagnosticsLevel::Enhanced,
        install_dir: install_dir.display().to_string(),
    }
}

/// Writes a pack folder with one pack for `hierarchy`, catalog `version`, signed by `key`.
fn pack_folder(dir: &Path, version: u64, hierarchy: Uuid, key: &PrivateKey) -> Uuid {
    let guid = Uuid::new_v4();
    let folder = guid.to_string().to_uppercase();
    let bytes = format!("payload of {guid}").into_bytes();
    let path = format!("{folder}/{folder}.cab");
    std::fs::create_dir_all(dir.join(&folder)).unwrap();
    std::fs::write(dir.join(&path), &bytes).unwrap();
    let now = jiff::Timestamp::now();
    let catalog = Catalog {
        schema: crate::core::document::Tag::new(),
        version,
        issued_at: now
            .checked_sub(jiff::SignedDuration::from_hours(1))
            .unwrap(),
        expires_at: now
            .checked_add(jiff::SignedDuration::from_hours(24))
            .unwrap(),
        hierarchy_id: None,
        timestamp_keys: Vec::new(),
        packs: vec![crate::core::catalog::tests::pack_2409(guid, &path, &bytes)],
    };
    let (catalog_bytes, sig) = crate::core::catalog::sign(&catalog, &[key]).unwrap();
    std::fs::write(dir.join(crate::core::catalog::CATALOG_FILE), catalog_bytes).unwrap();
    std::fs::write(dir.join(crate::core::catalog::SIGNATURE_FILE), sig).unwrap();
    let record = FetchRecord {
        schema: crate::core::document::Tag::new(),
        catalog_version: version,
        freshness_checked_at: None,
        hierarchies: vec![HierarchyRecord {
            hierarchy_id: hierarchy,
            site_code: "CAS".into(),
            site_version: "5.00.9128.1000".parse().unwrap(),
            mode: "latest".into(),
            earlier_modes: Vec::new(),
            packs: vec![guid],
        }],
    };
    std::fs::write(
        dir.join(crate::core::packdir::RECORD_FILE),
        serde_json::to_vec(&record).unwrap(),
    )
    .unwrap();
    guid
}

fn import_read_only(
    root: &Path,
    src: &Path,
    identity: &SiteIdentity,
    key: &PrivateKey,
    options: ImportOptions,
) -> (anyhow::Result<ImportSummary>, u32, Vec<ImportEvent>) {
    let reads = std::rc::Rc::new(Cell::new(0));
    let mut site = SiteAccess::ReadOnly(Box::new(ReadOnlySite {
        identity: identity.clone(),
        package_reads: reads.clone(),
    }));
    let options = ImportOptions {
        src: src.to_owned(),
        ..options
    };
    let mut events = Vec::new();
    let result = run(
        &mut site,
        identity,
        &root.join("cm"),
        &options,
        &[key.public()],
        jiff::Timestamp::now(),
        &mut |e| {
            events.push(e.clone());
            Ok(())
        },
    );
    (result, reads.get(), events)
}

#[test]
fn read_only_site_gets_files_and_a_ledger_but_no_database_writes() {
    let root = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate();
    let identity = identity(&root.path().join("cm"));
    std::fs::create_dir(root.path().join("cm")).unwrap();
    let v2 = root.path().join("v2");
    let guid = pack_folder(&v2, 2, identity.hierarchy_id, &key);
    let (result, reads, events) =
        import_read_only(root.path(), &v2, &identity, &key, ImportOptions::default());
    let summary = result.unwrap();
    assert_eq!(summary.database, "read-only");
    assert_eq!(summary.imported, 1);
    assert_eq!(reads, 1, "states are read back, never written");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ImportEvent::Pack(p) if p.detail.outcome == Outcome::Imported)),
        "{events:?}"
    );
    let inbox = Inbox::of_install_dir(&root.path().join("cm"));
    let folder = guid.to_string().to_uppercase();
    assert!(
        inbox
            .root
            .join(&folder)
            .join(format!("{folder}.cab"))
            .is_file()
    );
    assert_eq!(ledger::last_version(&inbox).unwrap(), Some(2));

    // Rollback is refused from the ledger, before anything is written.
    let v1 = root.path().join("v1");
    let older = pack_folder(&v1, 1, identity.hierarchy_id, &key);
    let (result, _, _) =
        import_read_only(root.path(), &v1, &identity, &key, ImportOptions::default());
    let err = result.unwrap_err();
    assert_eq!(crate::core::error::exit_code(&err), ExitCode::Rejected);
    assert!(format!("{err:#}").contains("rollback refused"), "{err:#}");
    assert!(!inbox.root.join(older.to_string().to_uppercase()).exists());

    // With the override the older catalog goes in, and the ledger keeps the newest version.
    let (result, _, _) = import_read_only(
        root.path(),
        &v1,
        &identity,
        &key,
        ImportOptions {
            allow_rollback: true,
            ..Default::default()
        },
    );
    assert!(result.unwrap().rollback_override);
    assert_eq!(ledger::last_version(&inbox).unwrap(), Some(2));
}

#[test]
fn wait_on_a_read_only_site_times_out_when_the_site_never_moves() {
    let root = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate();
    let identity = identity(&root.path().join("cm"));
    std::fs::create_dir(root.path().join("cm")).unwrap();
    let src = root.path().join("packs");
    pack_folder(&src, 1, identity.hierarchy_id, &key);
    let options = ImportOptions {
        wait: Some(wait::WaitOptions {
            interval: std::time::Duration::from_millis(1),
            max_polls: 3,
        }),
        ..Default::default()
    };
    let (result, reads, events) = import_read_only(root.path(), &src, &identity, &key, options);
    let err = result.unwrap_err();
    assert_eq!(crate::core::error::exit_code(&err), ExitCode::Io);
    assert!(format!("{err:#}").contains("--wait-timeout"));
    assert_eq!(reads, 1 + 3);
    assert!(
        events.iter().any(|e| matches!(e, ImportEvent::State(_))),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(ImportEvent::Summary(s)) if s.wait == Some(wait::WaitEnd::TimedOut)),
        "{events:?}"
    );
}
