//! Rows as the SQL Server back end decodes them: the cells of the statements in `queries.rs`
//! turned into sct's types, with errors that name the column (and the row's ID) when a value is
//! NULL where it may not be, of an unexpected type, or malformed.
//!
//! Integer cells of any width are accepted (tinyint to bigint), and text may come as any string
//! type or as a `uniqueidentifier`; free-text columns read NULL as empty text.

use crate::site::{DiagnosticsLevel, SiteIdentity, UpdatePackage, UsageRow};
use tiberius::{ColumnData, Row};

/// A text cell: any string type, `None` for NULL; other types are an error naming the column.
fn text_at(row: &Row, index: usize) -> Result<Option<String>, String> {
    match row.cells().nth(index) {
        Some((_, ColumnData::String(value))) => Ok(value.as_ref().map(|s| s.to_string())),
        Some((_, ColumnData::Guid(value))) => Ok(value.map(|g| g.to_string())),
        Some((column, other)) => Err(format!(
            "column {} `{}` holds {}, expected text",
            index + 1,
            column.name(),
            type_name(other)
        )),
        None => Err(format!("the result has no column {}", index + 1)),
    }
}

/// An integer cell of any width, `None` for NULL.
pub(super) fn int_at(row: &Row, index: usize) -> Result<Option<i64>, String> {
    match row.cells().nth(index) {
        Some((_, ColumnData::U8(v))) => Ok(v.map(i64::from)),
        Some((_, ColumnData::I16(v))) => Ok(v.map(i64::from)),
        Some((_, ColumnData::I32(v))) => Ok(v.map(i64::from)),
        Some((_, ColumnData::I64(v))) => Ok(*v),
        Some((column, other)) => Err(format!(
            "column {} `{}` holds {}, expected an integer",
            index + 1,
            column.name(),
            type_name(other)
        )),
        None => Err(format!("the result has no column {}", index + 1)),
    }
}

fn type_name(data: &ColumnData<'_>) -> &'static str {
    match data {
        ColumnData::Binary(_) => "binary data",
        ColumnData::F32(_) | ColumnData::F64(_) | ColumnData::Numeric(_) => "a number",
        ColumnData::Bit(_) => "a bit",
        ColumnData::Xml(_) => "XML",
        _ => "a date or time",
    }
}

/// A column that must not be NULL.
fn required<T>(value: Result<Option<T>, String>, column: &str) -> Result<T, String> {
    value
        .map_err(|e| format!("{column}: {e}"))?
        .ok_or_else(|| format!("{column} is NULL"))
}

/// A free-text column where NULL means "not recorded": read as empty text.
fn optional_text(row: &Row, index: usize, column: &str) -> Result<String, String> {
    text_at(row, index)
        .map(Option::unwrap_or_default)
        .map_err(|e| format!("{column}: {e}"))
}

fn parsed<T: std::str::FromStr>(text: String, column: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.trim()
        .parse()
        .map_err(|e| format!("{column} `{}`: {e}", text.trim()))
}

pub(super) fn identity_from_row(
    row: &Row,
    level: Option<DiagnosticsLevel>,
) -> Result<SiteIdentity, String> {
    Ok(SiteIdentity {
        site_code: required(text_at(row, 0), "Sites.SiteCode")?,
        site_name: optional_text(row, 1, "Sites.SiteName")?,
        server_name: optional_text(row, 2, "Sites.ServerName")?,
        version: parsed(
            required(text_at(row, 3), "dbo.fnCurrentSiteVersion()")?,
            "dbo.fnCurrentSiteVersion()",
        )?,
        install_dir: optional_text(row, 4, "Sites.InstallDir")?,
        hierarchy_id: parsed(
            required(text_at(row, 5), "dbo.fnGetHierarchyID()")?,
            "dbo.fnGetHierarchyID()",
        )?,
        full_version: parsed(
            required(text_at(row, 6), "dbo.fnSetupFullVersion()")?,
            "dbo.fnSetupFullVersion()",
        )?,
        diagnostics_level: level.unwrap_or(DiagnosticsLevel::Enhanced),
    })
}

fn level_at(row: &Row, index: usize, column: &str) -> Result<DiagnosticsLevel, String> {
    let code = required(int_at(row, index), column)?;
    DiagnosticsLevel::from_code(code).ok_or_else(|| format!("{column} {code} is not 1, 2 or 3"))
}

pub(super) fn usage_from_row(row: &Row) -> Result<UsageRow, String> {
    let id = required(text_at(row, 0), "TEL_TelemetryResults.ID")?;
    let context = |e: String| format!("usage row {id}: {e}");
    Ok(UsageRow {
        id: parsed(id.clone(), "TEL_TelemetryResults.ID")?,
        name: required(text_at(row, 1), "Name").map_err(context)?,
        level: level_at(row, 2, "Level").map_err(context)?,
        collected_at: optional_text(row, 3, "TimeCollected").map_err(context)?,
        results: optional_text(row, 4, "Results").map_err(context)?,
    })
}

pub(super) fn package_from_row(row: &Row) -> Result<UpdatePackage, String> {
    let guid = required(text_at(row, 0), "CM_UpdatePackages.PackageGuid")?;
    let context = |e: String| format!("update package {guid}: {e}");
    let int32 = |index: usize, column: &str| -> Result<i32, String> {
        let value = required(int_at(row, index), column)?;
        i32::try_from(value).map_err(|_| format!("{column} {value} is out of range"))
    };
    let version = |index: usize, column: &str| -> Result<_, String> {
        parsed(required(text_at(row, index), column)?, column)
    };
    Ok(UpdatePackage {
        package_guid: parsed(guid.clone(), "CM_UpdatePackages.PackageGuid")?,
        name: optional_text(row, 1, "Name").map_err(context)?,
        full_version: version(2, "FullVersion").map_err(context)?,
        update_type: int32(3, "UpdateType").map_err(context)?,
        state: int32(4, "State").map_err(context)?,
        min_cm_version: version(5, "MinCMVersion").map_err(context)?,
        max_cm_version: version(6, "MaxCMVersion").map_err(context)?,
        date_released: optional_text(row, 7, "DateReleased").map_err(context)?,
        last_update_time: optional_text(row, 8, "LastUpdateTime").map_err(context)?,
    })
}
