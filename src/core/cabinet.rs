//! Microsoft cabinet files: writing usage cabs, and listing, inspecting and extracting any cab.
//!
//! Writing is atomic and refuses, before it writes a byte, anything beyond the format's limits.
//! Reading treats every cab as hostile: names are checked before anything is written, declared
//! sizes are capped before anything is decompressed, and extraction is all or nothing.

use crate::core::error::Error;
use crate::core::hash::Sha256;
use crate::core::paths::{Separator, safe_relative};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Most files one cabinet can hold (the format counts them in 16 bits).
pub const MAX_FILES: usize = 0xFFFF;
/// Largest single file a cabinet can hold: 2 GiB less 32 KiB (the `cab` crate's limit).
pub const MAX_FILE_SIZE: u64 = 0x7FFF_8000;
/// Largest cabinet: the header's size field is a signed 32-bit number.
pub const MAX_CAB_SIZE: u64 = 0x7FFF_FFFF;

/// One file to put into a cabinet.
pub struct Entry<'a> {
    pub name: String,
    pub size: u64,
    pub data: Box<dyn Read + 'a>,
}

/// One file of a cabinet, as its directory declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub size: u64,
}

/// One line of `sct-pack list` and `sct-pack extract` (`sct.cab-member.v1`).
#[derive(Clone, Debug, Serialize)]
pub struct MemberLine {
    pub schema: crate::core::document::Tag<Self>,
    pub name: String,
    pub size: u64,
    /// `extract` only: SHA-256 of the bytes written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl crate::core::document::Document for MemberLine {
    const SCHEMA: &'static str = "sct.cab-member.v1";
}

impl MemberLine {
    pub fn new(member: Member, sha256: Option<String>) -> Self {
        Self {
            schema: crate::core::document::Tag::new(),
            name: member.name,
            size: member.size,
            sha256,
        }
    }
}

/// Checks the format's limits for a set of entries, before anything is written.
pub fn check_limits(names_and_sizes: &[(&str, u64)]) -> anyhow::Result<()> {
    if names_and_sizes.len() > MAX_FILES {
        return Err(Error::Rejected(format!(
            "{} files do not fit in one cabinet (the format holds at most {MAX_FILES})",
            names_and_sizes.len()
        ))
        .into());
    }
    let mut total = 0u64;
    for (name, size) in names_and_sizes {
        if *size > MAX_FILE_SIZE {
            return Err(Error::Rejected(format!(
                    "`{name}` is {size} bytes; a cabinet holds files of at most {MAX_FILE_SIZE} bytes (about 2 GiB)"
                )).into());
        }
        if name.len() > 255 {
            return Err(Error::Rejected(format!(
                "`{name}` is longer than the 255 bytes a cabinet name may have"
            ))
            .into());
        }
        total += size;
    }
    if total > u64::from(u32::MAX) {
        return Err(Error::Rejected(format!(
            "{total} bytes of data do not fit in one cabinet folder (at most {} bytes)",
            u32::MAX
        ))
        .into());
    }
    Ok(())
}

/// Writes a cabinet (one MSZIP folder) atomically to `dest`; returns its size and SHA-256.
pub fn write(dest: &Path, entries: Vec<Entry<'_>>) -> anyhow::Result<(u64, String)> {
    let sizes: Vec<(&str, u64)> = entries.iter().map(|e| (e.name.as_str(), e.size)).collect();
    check_limits(&sizes)?;
    for entry in &entries {
        safe_relative(&entry.name, Separator::Backslash)?;
    }
    crate::core::atomic::write_with(dest, |file| {
        write_into(file, entries)?;
        let size = file.metadata()?.len();
        if size > MAX_CAB_SIZE {
            // Input over a format limit is refused, like the checks of `check_limits` (it was 3).
            return Err(Error::Rejected(format!(
                "the cabinet would be {size} bytes, more than the format's {MAX_CAB_SIZE}"
            ))
            .into());
        }
        file.rewind()?;
        Ok(crate::core::hash::of_reader(&mut *file)?)
    })
}

fn write_into(file: &mut File, entries: Vec<Entry<'_>>) -> anyhow::Result<()> {
    let mut builder = cab::CabinetBuilder::new();
    let folder = builder.add_folder(cab::CompressionType::MsZip);
    let stamp = member_time(&jiff::ZonedDateTime::now());
    for entry in &entries {
        folder.add_file(entry.name.clone()).set_datetime(stamp);
    }
    let mut writer = builder.build(file)?;
    let mut sources = entries.into_iter();
    while let Some(mut member) = writer.next_file()? {
        let entry = sources
            .next()
            .context("cabinet writer asked for more files than given")?;
        let copied = io::copy(&mut entry.data.take(entry.size + 1), &mut member)
            .with_context(|| format!("Failed to compress `{}`", entry.name))?;
        if copied != entry.size {
            return Err(Error::Io(format!(
                "`{}` changed size while being packed ({} bytes, expected {})",
                entry.name, copied, entry.size
            ))
            .into());
        }
    }
    writer.finish()?;
    Ok(())
}

/// A member's date and time as Windows tools write them (makecab, Explorer, the original tool):
/// the local wall-clock time, with no zone, which is what the cabinet format stores ("typically
/// the last-modified time in local time"). The cab crate's default is UTC, which Explorer, expand
/// and 7-Zip then show hours off. A time outside the format's 1980-2107 is clamped by the writer.
pub fn member_time(now: &jiff::ZonedDateTime) -> time::PrimitiveDateTime {
    let at = now.datetime();
    let date = u8::try_from(at.month())
        .ok()
        .and_then(|month| time::Month::try_from(month).ok())
        .and_then(|month| {
            let day = u8::try_from(at.day()).ok()?;
            time::Date::from_calendar_date(i32::from(at.year()), month, day).ok()
        });
    let clock = time::Time::from_hms(
        u8::try_from(at.hour()).unwrap_or(0),
        u8::try_from(at.minute()).unwrap_or(0),
        u8::try_from(at.second()).unwrap_or(0),
    );
    match (date, clock) {
        (Some(date), Ok(clock)) => time::PrimitiveDateTime::new(date, clock),
        _ => time::PrimitiveDateTime::MIN,
    }
}

/// An open cabinet, read through checks.
pub struct CabReader {
    path: PathBuf,
    cabinet: cab::Cabinet<File>,
    /// Member names decoded by the format's rule ([`crate::core::cab_names`]).
    names: crate::core::cab_names::Names,
}

impl CabReader {
    /// Opens and parses a cabinet's header and directory.
    /// Refuses members that lie outside their folder's data or overlap
    /// ([`crate::core::cab_layout`]), so what any reader extracts is bounded by what the cab holds.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut file = crate::core::medium::open_regular(path, crate::core::medium::Links::Follow)?;
        crate::core::cab_layout::check(&file).map_err(|e| corrupt(path, e))?;
        file.rewind()
            .with_context(|| format!("Cannot read `{}`", path.display()))?;
        let names = crate::core::cab_names::Names::read(&mut file).unwrap_or_default();
        file.rewind()
            .with_context(|| format!("Cannot read `{}`", path.display()))?;
        let cabinet = guarded(path, || cab::Cabinet::new(file))?;
        Ok(Self {
            path: path.to_owned(),
            cabinet,
            names,
        })
    }

    /// The files its directory lists, in order, with their names as the format says.
    pub fn members(&self) -> Vec<Member> {
        self.cabinet
            .folder_entries()
            .flat_map(|folder| folder.file_entries())
            .map(|file| Member {
                name: self.names.decoded(file.name()),
                size: u64::from(file.uncompressed_size()),
            })
            .collect()
    }

    /// The `cab` crate's name for a member named `name` ([`CabReader::members`]).
    fn crate_name(&self, name: &str) -> String {
        self.cabinet
            .folder_entries()
            .flat_map(|folder| folder.file_entries())
            .map(|file| file.name())
            .find(|crate_name| self.names.decoded(crate_name) == name)
            .unwrap_or(name)
            .to_owned()
    }

    /// Checks every member name and that no name repeats; returns the safe relative paths.
    pub fn checked_paths(&self) -> anyhow::Result<Vec<(Member, PathBuf)>> {
        if let Some(names) = self.names.ambiguous() {
            return Err(Error::Rejected(format!(
                "cab `{}` holds names this reader cannot tell apart (`{names}`)",
                self.path.display()
            ))
            .into());
        }
        let mut seen = crate::core::paths::TwinCheck::default();
        let mut out = Vec::new();
        for member in self.members() {
            let path = safe_relative(&member.name, Separator::Backslash)
                .with_context(|| format!("Refusing cab `{}`", self.path.display()))?;
            if let Err(earlier) = seen.insert(&member.name) {
                return Err(Error::Rejected(format!(
                        "cab `{}` holds `{}` twice (as `{earlier}`; names that differ only in case or Unicode form are one name on Windows)",
                        self.path.display(),
                        member.name
                    )).into());
            }
            out.push((member, path));
        }
        Ok(out)
    }

    /// Streams one member into `out`, at most `limit` bytes; returns its size and SHA-256.
    pub fn copy_member(
        &mut self,
        name: &str,
        limit: u64,
        out: &mut dyn Write,
    ) -> anyhow::Result<(u64, String)> {
        let inner = self.crate_name(name);
        let declared = self
            .cabinet
            .get_file_entry(&inner)
            .map(|f| u64::from(f.uncompressed_size()))
            .with_context(|| format!("cab `{}` has no member `{name}`", self.path.display()))?;
        if declared > limit {
            return Err(Error::TooLarge {
                what: format!(
                    "cab `{}`: `{name}` (it declares {declared} bytes)",
                    self.path.display()
                ),
                limit,
                meant_for: None,
            }
            .into());
        }
        let path = self.path.clone();
        let reader = guarded(&path, || self.cabinet.read_file(&inner))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        let mut reader = reader.take(limit + 1);
        loop {
            let n = guarded(&path, || reader.read(&mut buf))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            size += n as u64;
        }
        if size != declared {
            return Err(Error::Rejected(format!(
                "cab `{}`: `{name}` holds {size} bytes but declares {declared}",
                path.display()
            ))
            .into());
        }
        Ok((size, hasher.finish_hex()))
    }

    /// Reads one small member fully.
    pub fn read_member(&mut self, name: &str, limit: u64) -> anyhow::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.copy_member(name, limit, &mut bytes)?;
        Ok(bytes)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A parse or decompression error: the cab itself is bad (exit 1), not the disk.
fn corrupt(path: &Path, err: io::Error) -> anyhow::Error {
    Error::Rejected(format!(
        "`{}` is not a valid cabinet file or is damaged: {err}",
        path.display()
    ))
    .into()
}

thread_local! {
    /// Set while this thread is inside the `cab` crate, whose panics [`guarded`] turns into errors.
    static IN_CAB_READER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs one call into the `cab` crate, turning its I/O errors and its panics into "damaged cab"
/// refusals (exit 1).
///
/// The crate panics on some hostile layouts (cab 0.6.0 indexes past its block list when a member
/// starts beyond its folder's data: `folder.rs:134`, found by `fuzz/` and kept as the corpus case
/// `cab-member-offset-beyond-folder-data`). A hostile cab must be a clean refusal, never a crash of
/// sct-pack or a 500 from the service, so the panic is caught here and the panic hook stays quiet
/// for it; panics anywhere else still reach the previous hook unchanged.
fn guarded<T>(path: &Path, call: impl FnOnce() -> io::Result<T>) -> anyhow::Result<T> {
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_CAB_READER.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    let was = IN_CAB_READER.replace(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    IN_CAB_READER.set(was);
    match result {
        Ok(result) => result.map_err(|e| corrupt(path, e)),
        Err(_) => Err(corrupt(
            path,
            io::Error::new(
                io::ErrorKind::InvalidData,
                "its directory points outside its data (the cab reader gave up)",
            ),
        )),
    }
}

/// A missing destination is a local failure (a drive not mounted); one that is a file is a
/// usage error, as in every stage (it was 3).
fn check_extract_dest(dest_dir: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(dest_dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(Error::NotAFolder {
            path: dest_dir.to_owned(),
        }
        .into()),
        Err(_) => Err(Error::Io(format!(
            "destination `{}` is not an existing folder",
            dest_dir.display()
        ))
        .into()),
    }
}

/// The most `sct-pack extract` writes from one cab unless told otherwise (`--max-total`): 4 GiB.
pub const DEFAULT_EXTRACT_TOTAL: u64 = 4 * 1024 * 1024 * 1024;

/// Extracts every member into `dest_dir`, all or nothing: each member at most `limit` bytes and
/// all of them together at most `total_limit`, checked from the directory before a byte is written.
///
/// Members are written under a staging folder inside `dest_dir` and moved into place only when
/// every one decompressed with its declared size; existing files are never overwritten.
pub fn extract(
    path: &Path,
    dest_dir: &Path,
    limit: u64,
    total_limit: u64,
) -> anyhow::Result<Vec<(Member, String)>> {
    let mut reader = CabReader::open(path)?;
    let members = reader.checked_paths()?;
    check_extract_dest(dest_dir)?;
    let total: u64 = members.iter().map(|(m, _)| m.size).sum();
    if total > total_limit {
        return Err(Error::TooLarge {
            what: format!(
                "cab `{}` (its members add up to {total} bytes)",
                path.display()
            ),
            limit: total_limit,
            meant_for: Some("extraction (raise it with --max-total)".into()),
        }
        .into());
    }
    for (member, relative) in &members {
        let target = dest_dir.join(relative);
        if target.exists() {
            // The destination named is unfit and nothing was written: a usage error (it was 3).
            return Err(Error::Usage(format!(
                "`{}` already exists; extracting `{}` would overwrite it",
                target.display(),
                member.name
            ))
            .into());
        }
    }
    let staging = tempfile::Builder::new()
        .prefix(".sct-extract-")
        .tempdir_in(dest_dir)
        .with_context(|| format!("Cannot write into `{}`", dest_dir.display()))?;
    let mut done = Vec::new();
    for (member, relative) in &members {
        let staged = staging.path().join(relative);
        if let Some(parent) = staged.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let mut file = fs_err::File::create(&staged)?;
        let (_, digest) = reader.copy_member(&member.name, limit, &mut file)?;
        file.sync_all()?;
        done.push((member.clone(), digest));
    }
    for (_, relative) in &members {
        let target = dest_dir.join(relative);
        if let Some(parent) = target.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::rename(staging.path().join(relative), &target)?;
    }
    let _ = crate::core::atomic::sync_dir(dest_dir);
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ExitCode;

    fn entry(name: &str, data: &'static [u8]) -> Entry<'static> {
        Entry {
            name: name.into(),
            size: data.len() as u64,
            data: Box::new(data),
        }
    }

    /// A cab whose member names are `names` with each `_` turned into the byte `code`, without
    /// the UTF-8 flag: a name as a Windows-1252 tool writes it.
    fn cab_with_code_page_names(dir: &Path, names: &[(&str, u8)]) -> PathBuf {
        let path = dir.join("legacy.cab");
        let entries = names.iter().map(|(n, _)| entry(n, b"payload")).collect();
        write(&path, entries).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let mut from = 0;
        for (name, code) in names {
            let mut raw = name.as_bytes().to_vec();
            raw.push(0);
            let at = from
                + bytes[from..]
                    .windows(raw.len())
                    .position(|w| w == raw)
                    .unwrap();
            bytes[at + name.find('_').unwrap()] = *code;
            from = at + raw.len();
        }
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn a_code_page_name_is_read_as_windows_1252_and_extracts_under_it() {
        let dir = tempfile::tempdir().unwrap();
        let cab = cab_with_code_page_names(dir.path(), &[("caf_.txt", 0xE9)]);
        let mut reader = CabReader::open(&cab).unwrap();
        let names: Vec<String> = reader.members().into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["café.txt"]);
        assert_eq!(reader.read_member("café.txt", 100).unwrap(), b"payload");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        extract(&cab, &out, 100, 100).unwrap();
        assert_eq!(std::fs::read(out.join("café.txt")).unwrap(), b"payload");
    }

    #[test]
    fn names_the_cab_reader_would_confuse_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        // `xé.txt` and `xè.txt` are two names, but one to the cab crate (`x\u{FFFD}.txt`).
        let cab = cab_with_code_page_names(dir.path(), &[("x_.txt", 0xE9), ("x_.txt", 0xE8)]);
        let reader = CabReader::open(&cab).unwrap();
        let err = reader.checked_paths().unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Rejected);
        assert!(format!("{err:#}").contains("cannot tell apart"), "{err:#}");
    }

    #[test]
    fn members_carry_the_local_wall_clock_time() {
        // 01:30 UTC is 10:30 in a zone nine hours east: the cab stores 10:30, as Windows would.
        let utc = jiff::Timestamp::from_second(1_795_656_600).unwrap();
        let zone = jiff::tz::TimeZone::fixed(jiff::tz::offset(9));
        let stamp = member_time(&utc.to_zoned_datetime(zone));
        assert_eq!(utc.to_string(), "2026-11-26T01:30:00Z");
        let date = time::Date::from_calendar_date(2026, time::Month::November, 26).unwrap();
        let clock = time::Time::from_hms(10, 30, 0).unwrap();
        assert_eq!(stamp, time::PrimitiveDateTime::new(date, clock));
    }

    #[test]
    fn writes_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let cab_path = dir.path().join("t.cab");
        write(
            &cab_path,
            vec![entry("a.txt", b"hello"), entry("sub\\b.txt", b"world")],
        )
        .unwrap();
        let mut reader = CabReader::open(&cab_path).unwrap();
        assert_eq!(reader.members().len(), 2);
        assert_eq!(reader.read_member("sub\\b.txt", 100).unwrap(), b"world");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        extract(&cab_path, &out, 100, 100).unwrap();
        assert_eq!(std::fs::read(out.join("sub/b.txt")).unwrap(), b"world");
        // Again: nothing is overwritten, and the destination named is the operator's to fix.
        let err = extract(&cab_path, &out, 100, 100).unwrap_err();
        assert_eq!(
            crate::core::error::exit_code(&err),
            ExitCode::Usage,
            "{err:#}"
        );
        assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"hello");
    }

    #[test]
    fn an_extract_destination_that_is_a_file_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let cab_path = dir.path().join("t.cab");
        write(&cab_path, vec![entry("a.txt", b"hello")]).unwrap();
        let err = extract(&cab_path, &cab_path, 100, 100).unwrap_err();
        assert_eq!(
            crate::core::error::exit_code(&err),
            ExitCode::Usage,
            "{err:#}"
        );
        let missing = dir.path().join("missing");
        let err = extract(&cab_path, &missing, 100, 100).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Io, "{err:#}");
    }

    #[test]
    fn limits_are_checked_before_writing() {
        assert!(check_limits(&[("a", MAX_FILE_SIZE + 1)]).is_err());
        let many: Vec<(&str, u64)> = (0..MAX_FILES + 1).map(|_| ("a", 0)).collect();
        assert!(check_limits(&many).is_err());
        assert!(
            check_limits(&[
                ("a", MAX_FILE_SIZE),
                ("b", MAX_FILE_SIZE),
                ("c", MAX_FILE_SIZE)
            ])
            .is_err()
        );
        assert!(check_limits(&[("a", 10)]).is_ok());
    }

    #[test]
    fn oversized_entry_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cab_path = dir.path().join("big.cab");
        let huge = Entry {
            name: "big".into(),
            size: MAX_FILE_SIZE + 1,
            data: Box::new(io::repeat(0)),
        };
        let err = write(&cab_path, vec![huge]).unwrap_err();
        assert!(format!("{err:#}").contains("at most"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn member_beyond_its_folder_data_is_refused_not_a_panic() {
        // Found by the `cab` fuzz target: the cab crate panicked reading a member of this file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.cab");
        std::fs::write(
            &path,
            include_bytes!("../../tests/data/cab-member-offset-beyond-folder-data/fuzz-crash.cab"),
        )
        .unwrap();
        // Since issue 21 the layout check refuses it at open, before the crate reads a block;
        // `guarded` stays for layouts that check cannot see.
        let err = CabReader::open(&path).err().expect("the fuzz crash opened");
        assert_eq!(
            crate::core::error::exit_code(&err),
            ExitCode::Rejected,
            "{err:#}"
        );
        assert!(format!("{err:#}").contains("damaged"), "{err:#}");
        // The same layout in a usage cab whose names are all fine: refused as damaged.
        std::fs::write(
            &path,
            include_bytes!("../../tests/data/cab-member-offset-beyond-folder-data/input.cab"),
        )
        .unwrap();
        let err = crate::core::usage_cab::open_verified(&path).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Rejected);
        assert!(format!("{err:#}").contains("damaged"), "{err:#}");
    }

    #[test]
    fn non_cab_is_refused_as_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.cab");
        std::fs::write(&path, b"this is not a cabinet at all").unwrap();
        let err = CabReader::open(&path).err().unwrap();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Rejected);
    }
}
