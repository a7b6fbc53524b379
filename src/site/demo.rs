//! Demo sites: realistic embedded site databases for the demo, the tests and the benchmarks.
//!
//! The usage rows imitate what ConfigMgr's `TEL_` procedures collect (setup details, database
//! schema, table sizes, client counts, feature use); values are derived from the hierarchy ID so
//! two demo hierarchies differ, and the same hierarchy is always the same.
//!
//! Demo data, not a production path: compiled only with the `demo` feature (on by default) and in
//! the library's own tests, so `--no-default-features` release binaries carry none of it.

use super::sqlite::SqliteSite;
use super::{DiagnosticsLevel, state};
use crate::core::version::CmVersion;
use anyhow::Context;
use rusqlite::params;
use serde_json::json;
use std::path::Path;
use uuid::Uuid;

/// What demo site to create.
#[derive(Clone, Debug)]
pub struct DemoSpec {
    pub site_code: String,
    pub site_name: String,
    /// Site version, `5.00.<build>.1000`.
    pub version: CmVersion,
    pub hierarchy_id: Uuid,
    pub level: DiagnosticsLevel,
    /// The site's install folder (its `EasySetupPayload\offline` receives imported packs).
    pub install_dir: String,
    /// Extra `TEL_Perf_TableSize` rows, to make large usage data for benchmarks.
    pub extra_rows: u32,
    /// Leave `TEL_TelemetryResults` empty, as on a site installed less than 7 days ago.
    pub no_usage: bool,
}

/// The usage queries of the demo: (query ID, procedure, lowest level that sends it).
const QUERIES: &[(&str, &str, DiagnosticsLevel)] = &[
    (
        "e1201168-0d4e-4cd4-9a1f-3b6c5b1a0c01",
        "TEL_SetupInfo",
        DiagnosticsLevel::Basic,
    ),
    (
        "0f40b971-5d8e-4a36-8c1e-7d2a9e1b2c02",
        "TEL_SQL_DBSchema",
        DiagnosticsLevel::Basic,
    ),
    (
        "5a7c1e22-8b3f-4f61-a2d4-6e9b0c3d4e03",
        "TEL_SiteHierarchy",
        DiagnosticsLevel::Basic,
    ),
    (
        "9b2e4d31-1c5a-4e7f-b3c6-2a8d7f0e1f04",
        "TEL_ClientCounts",
        DiagnosticsLevel::Basic,
    ),
    (
        "3c8f5a40-2d6b-4a8e-94d7-1b9e6a2f3a05",
        "TEL_OSDistribution",
        DiagnosticsLevel::Enhanced,
    ),
    (
        "7d1a6b59-3e7c-4b9f-85e8-0c1f5b3a4b06",
        "TEL_Perf_TableSize",
        DiagnosticsLevel::Enhanced,
    ),
    (
        "2e9b7c68-4f8d-4ca0-96f9-9d2a4c5b5c07",
        "TEL_FeatureUsage",
        DiagnosticsLevel::Enhanced,
    ),
    (
        "8f3c8d77-5a9e-4db1-a70a-8e3b3d6c6d08",
        "TEL_SoftwareUpdates",
        DiagnosticsLevel::Enhanced,
    ),
    (
        "4a0d9e86-6b0f-4ec2-b81b-7f4c2e7d7e09",
        "TEL_DeploymentErrors",
        DiagnosticsLevel::Full,
    ),
    (
        "6b1eaf95-7c1a-4fd3-892c-6a5d1f8e8f0a",
        "TEL_ConsoleUsage",
        DiagnosticsLevel::Full,
    ),
];

/// A tiny deterministic generator (splitmix64) so demo data is repeatable per hierarchy.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// What `sct-demo site` prints (`sct.demo-site.v1`): the locator of the site it created.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DemoSite {
    pub schema: crate::core::document::Tag<Self>,
    /// The locator to give `--site` or `SCT_SITE`: `sqlite:PATH`.
    pub site: String,
    pub site_code: String,
    pub hierarchy_id: Uuid,
    pub version: CmVersion,
    pub level: DiagnosticsLevel,
}

impl crate::core::document::Document for DemoSite {
    const SCHEMA: &'static str = "sct.demo-site.v1";
}

/// The document for the site created at `path` from `spec`.
pub fn site_document(path: &Path, spec: &DemoSpec) -> DemoSite {
    DemoSite {
        schema: crate::core::document::Tag::new(),
        site: format!("sqlite:{}", path.display()),
        site_code: spec.site_code.clone(),
        hierarchy_id: spec.hierarchy_id,
        version: spec.version,
        level: spec.level,
    }
}

/// Creates a demo site database at `path` (which must not exist yet).
pub fn create(path: &Path, spec: &DemoSpec) -> anyhow::Result<()> {
    let mut site = SqliteSite::create(path)?;
    let result = fill(site.connection(), spec);
    if result.is_err() {
        drop(site);
        let _ = std::fs::remove_file(path);
    }
    result.with_context(|| format!("Failed to fill demo site `{}`", path.display()))
}

fn fill(conn: &mut rusqlite::Connection, spec: &DemoSpec) -> anyhow::Result<()> {
    let tx = conn.transaction()?;
    let server = format!("{}-SCP.contoso.com", spec.site_code);
    tx.execute(
        "INSERT INTO Sites (SiteCode, SiteName, Version, ServerName, InstallDir, Type) VALUES (?1, ?2, ?3, ?4, ?5, 2)",
        params![spec.site_code, spec.site_name, spec.version.site_version().to_string(), server, spec.install_dir],
    )?;
    tx.execute(
        "INSERT INTO SCT_HierarchySettings (TopSiteCode, HierarchyID, FullVersion, TelemetryLevel) VALUES (?1, ?2, ?3, ?4)",
        params![spec.site_code, spec.hierarchy_id.to_string().to_uppercase(), spec.version.to_string(), spec.level as i64],
    )?;
    let mut dice = Dice(u64::from_le_bytes(
        spec.hierarchy_id.as_bytes()[..8].try_into()?,
    ));
    if !spec.no_usage {
        insert_usage(&tx, spec, &mut dice)?;
    }
    insert_installed_package(&tx, spec)?;
    tx.commit()?;
    Ok(())
}

fn insert_usage(
    tx: &rusqlite::Transaction,
    spec: &DemoSpec,
    dice: &mut Dice,
) -> anyhow::Result<()> {
    let mut stmt = tx.prepare(
        "INSERT INTO TEL_TelemetryResults (ID, Name, Level, TimeCollected, Results) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let collected = "2026-11-22T03:00:00Z";
    for (id, name, level) in QUERIES {
        let results = results_for(name, spec, dice).to_string();
        stmt.execute(params![
            id.to_uppercase(),
            name,
            *level as i64,
            collected,
            results
        ])?;
    }
    for n in 0..spec.extra_rows {
        let results = json!({
            "table": format!("SCT_DemoTable{n:06}"),
            "rows": dice.between(0, 50_000_000),
            "data_kb": dice.between(8, 90_000_000),
            "index_kb": dice.between(8, 40_000_000),
        });
        stmt.execute(params![
            QUERIES[5].0.to_uppercase(),
            "TEL_Perf_TableSize",
            DiagnosticsLevel::Enhanced as i64,
            collected,
            results.to_string()
        ])?;
    }
    Ok(())
}

fn results_for(name: &str, spec: &DemoSpec, dice: &mut Dice) -> serde_json::Value {
    match name {
        "TEL_SetupInfo" => json!({
            "site_version": spec.version.site_version().to_string(),
            "full_version": spec.version.to_string(),
            "sql_version": "16.0.4135.4",
            "os": "Windows Server 2022 Datacenter",
            "install_days": dice.between(30, 2000),
        }),
        "TEL_SQL_DBSchema" => json!({
            "tables": dice.between(3000, 4200),
            "views": dice.between(5000, 7000),
            "procedures": dice.between(6000, 9000),
            "schema_hash": format!("{:016X}", dice.next()),
        }),
        "TEL_SiteHierarchy" => json!({
            "cas": false,
            "primaries": 1,
            "secondaries": dice.between(0, 4),
            "management_points": dice.between(1, 6),
            "distribution_points": dice.between(2, 120),
        }),
        "TEL_ClientCounts" => json!({
            "clients": dice.between(500, 60_000),
            "active_30d": dice.between(400, 55_000),
            "co_managed": dice.between(0, 20_000),
        }),
        "TEL_OSDistribution" => json!({
            "Windows 11 23H2": dice.between(100, 30_000),
            "Windows 11 24H2": dice.between(100, 30_000),
            "Windows 10 22H2": dice.between(0, 20_000),
            "Windows Server 2022": dice.between(10, 3_000),
            "Windows Server 2019": dice.between(0, 2_000),
        }),
        "TEL_Perf_TableSize" => json!({
            "table": "CI_ConfigurationItems",
            "rows": dice.between(10_000, 900_000),
            "data_kb": dice.between(10_000, 9_000_000),
            "index_kb": dice.between(10_000, 4_000_000),
        }),
        "TEL_FeatureUsage" => json!({
            "software_updates": true,
            "endpoint_protection": dice.next().is_multiple_of(2),
            "task_sequences": dice.between(0, 300),
            "applications": dice.between(10, 4_000),
            "cloud_management_gateway": dice.next().is_multiple_of(3),
        }),
        "TEL_SoftwareUpdates" => json!({
            "sup_count": dice.between(1, 8),
            "deployments": dice.between(5, 400),
            "compliance_pct": dice.between(70, 99),
        }),
        "TEL_DeploymentErrors" => json!({
            "0x80070005": dice.between(0, 900),
            "0x87D00324": dice.between(0, 900),
            "0x80004005": dice.between(0, 900),
        }),
        _ => json!({
            "console_sessions_7d": dice.between(5, 800),
            "most_used_node": "Software Library",
        }),
    }
}

/// Records the release the site runs as installed, as a real site's Updates and Servicing shows it.
fn insert_installed_package(tx: &rusqlite::Transaction, spec: &DemoSpec) -> anyhow::Result<()> {
    let build = spec.version.build();
    let release = crate::core::version::release_name(build).unwrap_or("current");
    // The package GUID of an installed release is derived from the build so demo sites agree.
    let guid = Uuid::from_u128(0x5C7E_0000_0000_4000_8000_0000_0000_0000 | u128::from(build));
    let version = spec.version.site_version().to_string();
    tx.execute(
        "INSERT INTO CM_UpdatePackages (PackageGuid, Name, FullVersion, UpdateType, State, MinCMVersion, MaxCMVersion, DateCreated, DateReleased, LastUpdateTime)
         VALUES (?1, ?2, ?3, 0, ?4, ?3, ?3, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        params![
            guid.to_string().to_uppercase(),
            format!("Configuration Manager {release}"),
            version,
            state::INSTALL_SUCCESS
        ],
    )?;
    Ok(())
}
