-- The embedded site: the tables of a ConfigMgr site database that sct reads and, for the embedded
-- site only, writes. Names and columns follow the real database (configmgr-facts.md §1); tables
-- prefixed SCT_ stand in for what SQL Server computes with functions (dbo.fnGetHierarchyID(),
-- dbo.fnSetupFullVersion()) or that sct adds for itself.

CREATE TABLE IF NOT EXISTS Sites (
    SiteCode          TEXT PRIMARY KEY NOT NULL,
    SiteName          TEXT NOT NULL,
    Version           TEXT NOT NULL,            -- 5.00.<build>.1000, as dbo.fnCurrentSiteVersion()
    ServerName        TEXT NOT NULL,
    InstallDir        TEXT NOT NULL,
    Type              INTEGER NOT NULL DEFAULT 2, -- 1 secondary, 2 primary, 4 CAS
    ReportingSiteCode TEXT NOT NULL DEFAULT ''
);

-- One row: the hierarchy's identity, as the functions of a real site database return it.
CREATE TABLE IF NOT EXISTS SCT_HierarchySettings (
    TopSiteCode    TEXT NOT NULL REFERENCES Sites(SiteCode),
    HierarchyID    TEXT NOT NULL,               -- dbo.fnGetHierarchyID()
    FullVersion    TEXT NOT NULL,               -- dbo.fnSetupFullVersion()
    TelemetryLevel INTEGER NOT NULL             -- 1 Basic, 2 Enhanced, 3 Full
);

CREATE TABLE IF NOT EXISTS TEL_TelemetryResults (
    ID            TEXT NOT NULL,                -- the usage query's GUID
    Name          TEXT NOT NULL,                -- the collecting procedure, TEL_...
    Level         INTEGER NOT NULL,             -- lowest diagnostics level that sends the row
    TimeCollected TEXT NOT NULL,
    Results       TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS CM_UpdatePackages (
    PackageGuid    TEXT PRIMARY KEY NOT NULL,
    Name           TEXT NOT NULL,
    Description    TEXT NOT NULL DEFAULT '',
    FullVersion    TEXT NOT NULL,
    UpdateType     INTEGER NOT NULL,            -- 0 regular, 1 Weave, 2 QFE (hotfix)
    State          INTEGER NOT NULL,
    MinCMVersion   TEXT NOT NULL,
    MaxCMVersion   TEXT NOT NULL,
    ClientVersion  TEXT NOT NULL DEFAULT '',
    MoreInfoLink   TEXT NOT NULL DEFAULT '',
    DateCreated    TEXT NOT NULL,
    DateReleased   TEXT NOT NULL,
    LastUpdateTime TEXT NOT NULL
);
-- Import finds a pack's row by upper(PackageGuid) (rows may hold lower-case GUIDs): without this
-- index each lookup scans the table, so importing N packs cost N² (scale benchmark, issue 15).
-- Existing sites get it at their next import, which runs this file again.
CREATE INDEX IF NOT EXISTS SCT_UpdatePackages_GuidUpper ON CM_UpdatePackages (upper(PackageGuid));

-- sct's own ledger of the signed catalogs imported into this site (embedded site only): import
-- refuses a catalog older than the newest one here (rollback) unless told otherwise, and says so.
CREATE TABLE IF NOT EXISTS SCT_ImportedCatalogs (
    CatalogVersion INTEGER PRIMARY KEY NOT NULL,
    KeyID          TEXT NOT NULL,               -- the pinned key whose signature verified
    IssuedAt       TEXT NOT NULL,
    ImportedAt     TEXT NOT NULL,
    Source         TEXT NOT NULL,               -- the update pack folder it came from
    RollbackOverride INTEGER NOT NULL DEFAULT 0 -- 1 when imported with --allow-rollback
);
