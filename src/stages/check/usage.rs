//! The `usage.cabs` check: the usage cabs `-connect` would upload open and name their
//! hierarchies. The same reading gives the room check the site versions a fetch selects for.

use super::{Check, CheckOptions, Group};
use crate::core::error::exit_code;
use crate::core::usage_cab::CabReport;
use std::path::Path;

/// The usage group: one check, read only.
pub(super) fn group(options: &CheckOptions) -> Group {
    let src = options.usage_src.clone();
    Group {
        ids: &["usage.cabs"],
        work: Box::new(move || vec![cabs(src.as_deref())]),
    }
}

/// The cabs in `src`, each checked as `sct-upload` checks it before sending.
pub(super) fn read(src: &Path) -> anyhow::Result<Vec<CabReport>> {
    let cabs = crate::stages::upload::find_cabs(src)?;
    let checked = crate::stages::upload::check_local(&cabs)?;
    Ok(checked.into_iter().map(|(_, report)| report).collect())
}

fn cabs(src: Option<&Path>) -> Check {
    let Some(src) = src else {
        return Check::skipped(
            "usage.cabs",
            "no usage cabs given (--usage-src, or -usagedatasrc with -check)",
        );
    };
    match read(src) {
        Ok(reports) => {
            let named: Vec<String> = reports
                .iter()
                .map(|r| {
                    format!(
                        "{}: site {} of hierarchy {} at {}",
                        r.cab, r.site_code, r.hierarchy_id, r.full_version
                    )
                })
                .collect();
            Check::ok("usage.cabs", named.join("; "))
        }
        Err(err) => Check::fail(
            "usage.cabs",
            exit_code(&err),
            format!(
                "the usage cabs in `{}` cannot be used: {err:#}",
                src.display()
            ),
            "run -prepare (or sct-collect and sct-pack) on the site server again and carry the new cab",
        ),
    }
}
