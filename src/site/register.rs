//! The import write path: registering imported packs in the site database.
//!
//! On a real ConfigMgr site the service connection tool only *reads* the database; the site's own
//! components notice the files in `EasySetupPayload\offline` and move `CM_UpdatePackages.State`
//! (327682 → 262145 → 262146). The embedded site has no such components, so there the import
//! does their job itself, through this trait. It is deliberately narrow and separate from
//! [`super::SiteStore`]: the SQL Server back end does not implement it, which keeps the original's
//! read-only contract by construction.

use super::sqlite::SqliteSite;
use super::{SiteStore, state};
use crate::core::catalog::Pack;
use anyhow::Context;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

/// The signed catalog an import came from, as recorded in the ledger.
#[derive(Clone, Debug)]
pub struct CatalogStamp {
    pub version: u64,
    /// The pinned key whose signature verified.
    pub key_id: String,
    pub issued_at: jiff::Timestamp,
    /// The update pack folder it was read from.
    pub source: String,
}

/// What one registration changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    /// Packs whose row was created or moved to Ready to install (262146) by this call.
    pub changed: Vec<Uuid>,
    /// True when the catalog version was new to the ledger.
    pub catalog_recorded: bool,
}

/// Writes import results into a site database: implemented by the embedded site only.
pub trait PackRegister {
    /// The newest catalog version imported so far, if any. Never writes.
    fn last_catalog_version(&mut self) -> anyhow::Result<Option<u64>>;

    /// In one transaction: refuses a catalog older than the ledger's newest (unless
    /// `allow_rollback`), records each pack as Ready to install with its catalog metadata, and
    /// records the catalog. Rows already at 262146 or beyond (installing, installed) are left alone,
    /// so a second call with the same input changes nothing.
    fn register(
        &mut self,
        stamp: &CatalogStamp,
        packs: &[&Pack],
        allow_rollback: bool,
        now: jiff::Timestamp,
    ) -> anyhow::Result<Registration>;
}

/// States an import may move to Ready to install: nothing yet, available, downloading, failed.
const REPLACEABLE_STATES: [i32; 4] = [
    0,
    state::APPLICABILITY_SUCCESS,
    state::DOWNLOAD_IN_PROGRESS,
    state::DOWNLOAD_FAILED,
];

const LEDGER_EXISTS_SQL: &str =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'SCT_ImportedCatalogs'";
const LAST_CATALOG_SQL: &str = "SELECT max(CatalogVersion) FROM SCT_ImportedCatalogs";

impl PackRegister for SqliteSite {
    fn last_catalog_version(&mut self) -> anyhow::Result<Option<u64>> {
        let what = format!("site database {}", self.describe());
        let conn = self.connection();
        let exists: i64 = conn
            .query_row(LEDGER_EXISTS_SQL, [], |r| r.get(0))
            .with_context(|| format!("Failed to read the catalog ledger of {what}"))?;
        if exists == 0 {
            return Ok(None);
        }
        let last: Option<i64> = conn
            .query_row(LAST_CATALOG_SQL, [], |r| r.get(0))
            .with_context(|| format!("Failed to read the catalog ledger of {what}"))?;
        Ok(last.map(|v| v as u64))
    }

    fn register(
        &mut self,
        stamp: &CatalogStamp,
        packs: &[&Pack],
        allow_rollback: bool,
        now: jiff::Timestamp,
    ) -> anyhow::Result<Registration> {
        let what = format!("site database {}", self.describe());
        let conn = self.connection();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .with_context(|| format!("Failed to start a transaction on {what}"))?;
        // Sites created before the ledger existed get it now (every statement is IF NOT EXISTS).
        tx.execute_batch(super::sqlite::SCHEMA)
            .with_context(|| format!("Failed to add the catalog ledger to {what}"))?;
        let last: Option<i64> = tx.query_row(LAST_CATALOG_SQL, [], |r| r.get(0))?;
        if let Some(last) = last.filter(|_| !allow_rollback) {
            // Checked again inside the transaction: another import may have committed meanwhile.
            if (stamp.version as i64) < last {
                return Err(crate::core::error::Error::Rejected(format!(
                        "catalog version {} is older than version {last} already imported into {what} (rollback refused)",
                        stamp.version
                    )).into());
            }
        }
        let now_text = now.to_string();
        let mut out = Registration::default();
        for pack in packs {
            if upsert_pack(&tx, pack, &now_text)? {
                out.changed.push(pack.package_guid);
            }
        }
        out.catalog_recorded = tx.execute(
            "INSERT OR IGNORE INTO SCT_ImportedCatalogs
             (CatalogVersion, KeyID, IssuedAt, ImportedAt, Source, RollbackOverride)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                stamp.version as i64,
                stamp.key_id,
                stamp.issued_at.to_string(),
                now_text,
                stamp.source,
                allow_rollback && last.is_some_and(|l| (stamp.version as i64) < l)
            ],
        )? == 1;
        crate::core::fault::point(crate::core::fault::Point::ImportBeforeCommit);
        tx.commit()
            .with_context(|| format!("Failed to commit the import into {what}"))?;
        Ok(out)
    }
}

/// Inserts the pack as Ready to install, or moves an earlier state there; true if anything changed.
fn upsert_pack(tx: &rusqlite::Transaction, pack: &Pack, now: &str) -> anyhow::Result<bool> {
    let guid = pack.package_guid.to_string().to_uppercase();
    let current: Option<i32> = tx
        .query_row(
            "SELECT State FROM CM_UpdatePackages WHERE upper(PackageGuid) = ?1",
            [&guid],
            |r| r.get(0),
        )
        .optional()?;
    let changed = match current {
        None => tx.execute(
            "INSERT INTO CM_UpdatePackages (PackageGuid, Name, Description, FullVersion, UpdateType,
                 State, MinCMVersion, MaxCMVersion, MoreInfoLink, DateCreated, DateReleased, LastUpdateTime)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?10)",
            params![
                guid,
                pack.name,
                pack.description,
                pack.full_version.to_string(),
                pack.update_type,
                state::DOWNLOAD_SUCCESS,
                pack.min_cm_version.to_string(),
                pack.max_cm_version.to_string(),
                pack.more_info_link,
                now,
                pack.release_date,
            ],
        )?,
        Some(code) if REPLACEABLE_STATES.contains(&code) => tx.execute(
            "UPDATE CM_UpdatePackages SET State = ?2, LastUpdateTime = ?3 WHERE upper(PackageGuid) = ?1",
            params![guid, state::DOWNLOAD_SUCCESS, now],
        )?,
        Some(_) => 0,
    };
    Ok(changed > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::demo::{DemoSpec, create};

    fn site() -> (tempfile::TempDir, SqliteSite) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.db");
        create(
            &path,
            &DemoSpec {
                site_code: "PS1".into(),
                site_name: "Test".into(),
                version: "5.00.9128.1000".parse().unwrap(),
                hierarchy_id: Uuid::new_v4(),
                level: crate::site::DiagnosticsLevel::Enhanced,
                install_dir: dir.path().display().to_string(),
                extra_rows: 0,
                no_usage: true,
            },
        )
        .unwrap();
        let site = SqliteSite::open_read_write(&path).unwrap();
        (dir, site)
    }

    /// Update 2409 under a new GUID; registration records its description, not its files.
    fn sample_pack() -> Pack {
        let mut pack = crate::core::catalog::tests::pack_2409(Uuid::new_v4(), "x", b"");
        pack.files.clear();
        pack
    }

    fn stamp(version: u64) -> CatalogStamp {
        CatalogStamp {
            version,
            key_id: "k".into(),
            issued_at: "2026-11-01T00:00:00Z".parse().unwrap(),
            source: "/usb".into(),
        }
    }

    #[test]
    fn registers_once_and_refuses_rollback() {
        let (_dir, mut site) = site();
        let now: jiff::Timestamp = "2026-11-26T00:00:00Z".parse().unwrap();
        let pack = sample_pack();
        assert_eq!(site.last_catalog_version().unwrap(), None);
        let first = site.register(&stamp(5), &[&pack], false, now).unwrap();
        assert_eq!(first.changed, vec![pack.package_guid]);
        assert!(first.catalog_recorded);
        let again = site.register(&stamp(5), &[&pack], false, now).unwrap();
        assert_eq!(again, Registration::default());
        assert_eq!(site.last_catalog_version().unwrap(), Some(5));
        let row = site
            .update_packages()
            .unwrap()
            .into_iter()
            .find(|p| p.package_guid == pack.package_guid)
            .unwrap();
        assert_eq!(row.state, state::DOWNLOAD_SUCCESS);
        let err = site.register(&stamp(4), &[&pack], false, now).unwrap_err();
        assert_eq!(
            crate::core::error::exit_code(&err),
            crate::core::error::ExitCode::Rejected
        );
        assert!(
            site.register(&stamp(4), &[&pack], true, now)
                .unwrap()
                .catalog_recorded
        );
        assert_eq!(site.last_catalog_version().unwrap(), Some(5));
    }

    #[test]
    fn pack_lookup_uses_the_guid_index_even_on_a_site_created_without_it() {
        let (_dir, mut site) = site();
        let conn = site.connection();
        conn.execute_batch("DROP INDEX SCT_UpdatePackages_GuidUpper")
            .unwrap();
        let plan = |conn: &rusqlite::Connection| -> String {
            let sql = "EXPLAIN QUERY PLAN SELECT State FROM CM_UpdatePackages WHERE upper(PackageGuid) = ?1";
            let mut statement = conn.prepare(sql).unwrap();
            let rows = statement
                .query_map(["X"], |r| r.get::<_, String>(3))
                .unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        assert!(plan(conn).contains("SCAN"), "{}", plan(conn));
        let now: jiff::Timestamp = "2026-11-26T00:00:00Z".parse().unwrap();
        site.register(&stamp(5), &[&sample_pack()], false, now)
            .unwrap();
        let plan = plan(site.connection());
        assert!(
            plan.contains("USING INDEX SCT_UpdatePackages_GuidUpper"),
            "{plan}"
        );
    }
}
