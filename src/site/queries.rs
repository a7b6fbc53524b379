//! Every SQL statement sct sends to a site database, in one place.
//!
//! The back ends and their tests read the text from here, so a test's canned answer is always
//! registered for the exact statement the code sends. Where SQLite and SQL Server agree the text
//! is shared: the column lists, the table names and the one parameter (`@P1`, which tiberius names
//! its first parameter and SQLite accepts as a named parameter bound by position). They differ
//! only where the dialects do: SQL Server computes the site identity with ConfigMgr's functions
//! and formats `datetime` columns with `CONVERT(.., 126)`; the embedded site stores both as text.
//!
//! The text is upper case on purpose. A ConfigMgr database must use a case-insensitive collation
//! (SQL_Latin1_General_CP1_CI_AS), SQLite's identifiers are case-insensitive, and the TDS mock
//! used in the tests only recognises a parameterised statement whose text is upper case.
//! GUID columns are cast to text in SQL (`CAST(.. AS NVARCHAR(36))`) so both back ends decode
//! the same column types.

/// Declares a statement shared by both back ends: `$ts` formats a timestamp column as text.
macro_rules! usage_sql {
    ($ts:literal) => {
        concat!(
            "SELECT CAST(ID AS NVARCHAR(36)), NAME, [LEVEL], ",
            $ts,
            ", RESULTS\nFROM TEL_TELEMETRYRESULTS\nWHERE [LEVEL] <= @P1\nORDER BY TIMECOLLECTED, NAME, ID"
        )
    };
}

macro_rules! packages_sql {
    ($released:literal, $updated:literal) => {
        concat!(
            "SELECT CAST(PACKAGEGUID AS NVARCHAR(36)), NAME, FULLVERSION, UPDATETYPE, STATE, ",
            "MINCMVERSION, MAXCMVERSION, ",
            $released,
            ", ",
            $updated,
            "\nFROM CM_UPDATEPACKAGES"
        )
    };
}

/// Usage rows at or below a diagnostics level (`@P1`), oldest first: columns ID, Name, Level,
/// TimeCollected (ISO 8601 text), Results.
pub const USAGE_MSSQL: &str = usage_sql!("CONVERT(NVARCHAR(33), TIMECOLLECTED, 126)");
/// [`USAGE_MSSQL`] for the embedded site, which stores the timestamp as text already.
pub const USAGE_SQLITE: &str = usage_sql!("TIMECOLLECTED");

/// Update packages: PackageGuid, Name, FullVersion, UpdateType, State, MinCMVersion,
/// MaxCMVersion, DateReleased, LastUpdateTime (dates as ISO 8601 text).
pub const PACKAGES_MSSQL: &str = packages_sql!(
    "CONVERT(NVARCHAR(33), DATERELEASED, 126)",
    "CONVERT(NVARCHAR(33), LASTUPDATETIME, 126)"
);
/// [`PACKAGES_MSSQL`] for the embedded site.
pub const PACKAGES_SQLITE: &str = packages_sql!("DATERELEASED", "LASTUPDATETIME");

/// Site identity on SQL Server, for the site code `@P1` (from the database name `CM_<SiteCode>`):
/// SiteCode, SiteName, ServerName, site version, InstallDir, hierarchy ID, full version.
/// Versions and the hierarchy ID come from ConfigMgr's own functions (configmgr-facts.md §1.5).
pub const IDENTITY_MSSQL: &str = "\
SELECT S.SITECODE, S.SITENAME, S.SERVERNAME, DBO.FNCURRENTSITEVERSION(), S.INSTALLDIR,
       CAST(DBO.FNGETHIERARCHYID() AS NVARCHAR(36)), DBO.FNSETUPFULLVERSION()
FROM DBO.SITES S
WHERE S.SITECODE = @P1";

/// Site identity in the embedded site, where `SCT_HierarchySettings` stands in for the functions:
/// the same first seven columns as [`IDENTITY_MSSQL`], then the diagnostics level.
pub const IDENTITY_SQLITE: &str = "\
SELECT S.SITECODE, S.SITENAME, S.SERVERNAME, S.VERSION, S.INSTALLDIR,
       H.HIERARCHYID, H.FULLVERSION, H.TELEMETRYLEVEL
FROM SITES S JOIN SCT_HIERARCHYSETTINGS H ON H.TOPSITECODE = S.SITECODE";

/// The objects a ConfigMgr site database must have for sct, in the order of [`PROBE_MSSQL`]'s
/// columns. A NULL column means the object is absent or this login cannot see it.
pub const PROBED_OBJECTS: [&str; 6] = [
    "dbo.Sites",
    "dbo.fnCurrentSiteVersion",
    "dbo.fnGetHierarchyID",
    "dbo.fnSetupFullVersion",
    "dbo.TEL_TelemetryResults",
    "dbo.CM_UpdatePackages",
];

/// One row of object IDs (NULL when absent or invisible), checked right after login so that a
/// database that is not a ConfigMgr site database is named as such, with what is missing.
pub const PROBE_MSSQL: &str = "\
SELECT OBJECT_ID(N'DBO.SITES'), OBJECT_ID(N'DBO.FNCURRENTSITEVERSION'),
       OBJECT_ID(N'DBO.FNGETHIERARCHYID'), OBJECT_ID(N'DBO.FNSETUPFULLVERSION'),
       OBJECT_ID(N'DBO.TEL_TELEMETRYRESULTS'), OBJECT_ID(N'DBO.CM_UPDATEPACKAGES')";

/// Every SQL Server statement, for tests that register canned answers for all of them.
pub const ALL_MSSQL: [&str; 4] = [PROBE_MSSQL, IDENTITY_MSSQL, USAGE_MSSQL, PACKAGES_MSSQL];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_read_only_and_upper_case() {
        for sql in ALL_MSSQL
            .iter()
            .chain(&[USAGE_SQLITE, PACKAGES_SQLITE, IDENTITY_SQLITE])
        {
            assert!(sql.starts_with("SELECT "), "{sql}");
            assert_eq!(*sql, sql.to_uppercase(), "the mock matches upper case only");
            for verb in [
                "INSERT", "UPDATE ", "DELETE", "EXEC", "MERGE", "DROP", "ALTER",
            ] {
                assert!(!sql.contains(verb), "{verb} in {sql}");
            }
        }
    }

    #[test]
    fn no_statement_contains_another() {
        // The TDS mock finds a parameterised statement by substring: one statement inside another
        // would make its answers ambiguous.
        for a in ALL_MSSQL {
            for b in ALL_MSSQL {
                assert!(a == b || !a.contains(b), "{b} is inside {a}");
            }
        }
    }

    #[test]
    fn shared_statements_differ_only_in_timestamp_formatting() {
        let strip = |sql: &str| {
            sql.replace("CONVERT(NVARCHAR(33), ", "")
                .replace(", 126)", "")
        };
        assert_eq!(strip(USAGE_MSSQL), USAGE_SQLITE);
        assert_eq!(strip(PACKAGES_MSSQL), PACKAGES_SQLITE);
    }
}
