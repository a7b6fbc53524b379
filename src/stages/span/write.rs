//! Step 4 of [`super`]: writing the volumes, each in a temporary folder renamed into place when
//! complete, so a volume that exists under its name is whole.

use super::{Layout, SpanOptions};
use crate::core::catalog::{self, Catalog};
use crate::core::error::Error;
use crate::core::freshness;
use crate::core::hash::Sha256;
use crate::core::medium;
use anyhow::Context;
use serde::Serialize;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// A document as the volume holds it: pretty JSON and a newline.
pub(super) fn record_text<T: Serialize>(doc: &T) -> anyhow::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(doc)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The signed catalog-side files of `src` (names and sizes): the catalog, its signature, and the
/// catalog's freshness statement with its signature when the folder carries one
/// ([`crate::core::freshness`]), so each volume verifies alone as the folder does.
pub(super) fn catalog_side_files(src: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    let mut names = vec![
        catalog::CATALOG_FILE.to_string(),
        catalog::SIGNATURE_FILE.to_string(),
    ];
    for name in [
        freshness::TIMESTAMP_FILE,
        freshness::TIMESTAMP_SIGNATURE_FILE,
    ] {
        if std::fs::symlink_metadata(src.join(name)).is_ok() {
            names.push(name.to_string());
        }
    }
    names
        .into_iter()
        .map(|name| {
            let size = medium::open_under(src, &name)?.metadata()?.len();
            Ok((name, size))
        })
        .collect()
}

/// Writes every volume under an empty (or new) `options.out`.
pub(super) fn write_volumes(
    options: &SpanOptions,
    catalog: &Catalog,
    side: &[(String, u64)],
    layouts: &[Layout],
) -> anyhow::Result<()> {
    prepare_out(&options.out)?;
    let total = layouts.iter().map(|l| l.bytes).sum();
    let progress = crate::core::report::Progress::bytes(total, "volumes");
    for layout in layouts {
        write_volume(options, catalog, side, layout, &progress)?;
        crate::core::report::note(
            super::TOOL,
            format!(
                "wrote {} ({} bytes): volume {} of {}",
                layout.name, layout.bytes, layout.record.volume, layout.record.set.volumes
            ),
        );
    }
    progress.finish_and_clear();
    Ok(())
}

/// `--out` must be new or empty: volumes are never written over anything.
fn prepare_out(out: &Path) -> anyhow::Result<()> {
    crate::core::paths::check_no_twins_on_path(out)?;
    match fs_err::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::Usage(format!(
                    "`{}` is not empty: give a new or empty folder for the volumes",
                    out.display()
                ))
                .into());
            }
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            fs_err::create_dir_all(out)?;
            Ok(())
        }
        Err(err) => Err(err.into()),
    }
}

fn write_volume(
    options: &SpanOptions,
    catalog: &Catalog,
    side: &[(String, u64)],
    layout: &Layout,
    progress: &crate::core::report::Progress,
) -> anyhow::Result<()> {
    let temp = options.out.join(format!(".{}.tmp", layout.name));
    fs_err::create_dir(&temp)?;
    for (name, size) in side {
        copy_range(&options.src, name, 0, *size, &local(&temp, name), progress)?;
    }
    for guid in &layout.plan.packs {
        let pack = catalog.pack(guid).expect("planned from the catalog");
        for file in &pack.files {
            let dest = local(&temp, &file.path);
            let digest = copy_range(&options.src, &file.path, 0, file.size, &dest, progress)?;
            if !crate::core::hash::same(&digest, &file.sha256) {
                return Err(changed(&options.src, &file.path));
            }
        }
    }
    let mut record = layout.record.clone();
    for part in &mut record.parts {
        let dest = local(&temp, &part.name());
        part.sha256 = copy_range(
            &options.src,
            &part.path,
            part.offset,
            part.size,
            &dest,
            progress,
        )?;
    }
    write_record(
        &temp.join(crate::core::packdir::RECORD_FILE),
        &layout.fetched,
    )?;
    write_record(&temp.join(crate::core::volume::VOLUME_FILE), &record)?;
    crate::core::atomic::sync_dir(&temp)?;
    let dest = super::volume_dir(&options.out, &layout.name);
    crate::core::atomic::rename_no_replace(&temp, &dest)
        .with_context(|| format!("Cannot rename `{}` to `{}`", temp.display(), dest.display()))?;
    let _ = crate::core::atomic::sync_dir(&options.out);
    Ok(())
}

fn changed(src: &Path, path: &str) -> anyhow::Error {
    Error::Rejected(format!(
        "`{path}` in `{}` changed after it was verified; verify the folder again",
        src.display()
    ))
    .into()
}

fn write_record<T: Serialize>(dest: &Path, doc: &T) -> anyhow::Result<()> {
    let bytes = record_text(doc)?;
    let mut file =
        File::create_new(dest).with_context(|| format!("Cannot create `{}`", dest.display()))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("Failed to write `{}`", dest.display()))
}

/// Copies bytes `offset .. offset + size` of `src/name` (no link followed) to a new file
/// `dest`, flushed to disk; returns their SHA-256. A source shorter than that is refused.
fn copy_range(
    src: &Path,
    name: &str,
    offset: u64,
    size: u64,
    dest: &Path,
    progress: &crate::core::report::Progress,
) -> anyhow::Result<String> {
    let mut from = medium::open_under(src, name)?;
    from.seek(SeekFrom::Start(offset))?;
    let mut from = from.take(size);
    if let Some(parent) = dest.parent() {
        fs_err::create_dir_all(parent)?;
    }
    let mut to =
        File::create_new(dest).with_context(|| format!("Cannot create `{}`", dest.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut copied = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(anyhow::Error::new(e).context(format!("Failed to read `{name}`"))),
        };
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])
            .with_context(|| format!("Failed to write `{}`", dest.display()))?;
        copied += n as u64;
        progress.inc(n as u64);
    }
    if copied != size {
        return Err(changed(src, name));
    }
    to.sync_all()
        .with_context(|| format!("Failed to write `{}`", dest.display()))?;
    Ok(hasher.finish_hex())
}

/// `root/relative` for a `/`-separated name, with the platform's separator.
fn local(root: &Path, relative: &str) -> std::path::PathBuf {
    root.join(relative.replace('/', std::path::MAIN_SEPARATOR_STR))
}
