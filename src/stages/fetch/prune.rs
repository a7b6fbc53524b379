//! Tidying a reused folder: when a newer catalog replaces the one in `DIR`, the files the old
//! catalog listed that the new selection does not cover would stay behind, and `sct-verify`
//! would refuse the folder for them. Only paths the old, *verified* catalog lists are touched, and
//! never through a symlinked folder.

use crate::core::catalog::Catalog;
use crate::core::packdir::{PART_SUFFIX, PackDir};
use std::collections::HashSet;
use std::path::Path;

/// Removes the old catalog's files (and their `.part`) that are not in `keep`, then any folder
/// left empty; returns the catalog paths removed.
pub fn prune(
    packdir: &PackDir,
    old: &Catalog,
    keep: &HashSet<&str>,
) -> anyhow::Result<Vec<String>> {
    let mut removed = Vec::new();
    for file in old.packs.iter().flat_map(|p| &p.files) {
        if keep.contains(file.path.as_str()) || !through_real_folders(&packdir.root, &file.path) {
            continue;
        }
        let path = packdir.file(&file.path);
        let mut part = path.clone().into_os_string();
        part.push(PART_SUFFIX);
        let mut any = false;
        for victim in [path.as_path(), Path::new(&part)] {
            match std::fs::symlink_metadata(victim) {
                Ok(meta) if !meta.is_dir() => {
                    fs_err::remove_file(victim)?;
                    any = true;
                }
                _ => {}
            }
        }
        if any {
            removed.push(file.path.clone());
        }
        remove_empty_parents(&packdir.root, &file.path);
    }
    Ok(removed)
}

/// True when every folder on the catalog path under `root` is a real folder (or absent).
fn through_real_folders(root: &Path, catalog_path: &str) -> bool {
    let parts: Vec<&str> = catalog_path.split('/').collect();
    let mut folder = root.to_owned();
    for part in &parts[..parts.len().saturating_sub(1)] {
        folder.push(part);
        match std::fs::symlink_metadata(&folder) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return false,
            Err(_) => return true,
        }
    }
    true
}

fn remove_empty_parents(root: &Path, catalog_path: &str) {
    let parts: Vec<&str> = catalog_path.split('/').collect();
    for depth in (1..parts.len()).rev() {
        let folder = parts[..depth]
            .iter()
            .fold(root.to_owned(), |p, c| p.join(c));
        if std::fs::remove_dir(&folder).is_err() {
            break; // not empty (or already gone): its parents are not empty either
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn never_follows_a_symlinked_folder() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("x.cab"), b"keep me").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("ABC")).unwrap();
        assert!(!through_real_folders(dir.path(), "ABC/x.cab"));
        std::fs::create_dir(dir.path().join("DEF")).unwrap();
        assert!(through_real_folders(dir.path(), "DEF/x.cab"));
        assert!(through_real_folders(dir.path(), "GHI/x.cab"));
    }
}
