//! The catalog ledger of a read-only site: the newest catalog version imported, kept in the inbox.
//!
//! The embedded site keeps this in its database (`SCT_ImportedCatalogs`). A SQL Server site is
//! never written, yet rollback protection must still hold there, so the version goes into a small
//! file beside the packs, `offline/.sct-catalog-ledger.json`, written atomically under the inbox
//! lock. Its name starts with a dot and is not a GUID, so the site's components ignore it.

use super::inbox::{Inbox, InboxLock};
use crate::core::document::{self, Document};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The ledger's file name inside the inbox.
pub const LEDGER_FILE: &str = ".sct-catalog-ledger.json";

/// `sct.import-ledger.v1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub schema: crate::core::document::Tag<Self>,
    /// The newest catalog version imported into this inbox.
    pub catalog_version: u64,
    pub key_id: String,
    pub recorded_at: jiff::Timestamp,
}

impl Document for Ledger {
    const SCHEMA: &'static str = "sct.import-ledger.v1";
}

fn path(inbox: &Inbox) -> PathBuf {
    inbox.root.join(LEDGER_FILE)
}

/// The newest catalog version recorded, if any.
pub fn last_version(inbox: &Inbox) -> anyhow::Result<Option<u64>> {
    let path = path(inbox);
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("Cannot read `{}`", path.display())));
        }
    };
    let ledger: Ledger = document::read(file, &format!("`{}`", path.display()), 64 * 1024)?;
    Ok(Some(ledger.catalog_version))
}

/// Records `version` when it is newer than the ledger's; true if the file changed.
pub fn record(
    inbox: &Inbox,
    version: u64,
    key_id: &str,
    now: jiff::Timestamp,
    _lock: &InboxLock,
) -> anyhow::Result<bool> {
    if last_version(inbox)?.is_some_and(|last| last >= version) {
        return Ok(false);
    }
    let ledger = Ledger {
        schema: crate::core::document::Tag::new(),
        catalog_version: version,
        key_id: key_id.to_owned(),
        recorded_at: now,
    };
    let mut bytes = serde_json::to_vec_pretty(&ledger)?;
    bytes.push(b'\n');
    crate::core::atomic::write_bytes(&path(inbox), &bytes)?;
    Ok(true)
}
