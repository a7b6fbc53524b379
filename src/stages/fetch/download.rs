//! One file of a pack, from its URL to its final name — resumable, verified, never half-visible.
//!
//! The bytes stream into `NAME.part` while a blocking writer hashes them; only when the size and
//! SHA-256 match the signed catalog is the part fsynced and renamed to `NAME`. Every attempt starts
//! from what is on disk: a `.part` shorter than the file is resumed with an HTTP Range request (its
//! prefix is hashed first), a longer one is discarded, and a server that answers a Range request
//! with `200` restarts the file from zero rather than appending. A resumed file whose hash does
//! not match is downloaded once more from zero before it is declared bad.

use crate::core::error::Error;
use crate::core::hash::Sha256;
use crate::core::packdir::PART_SUFFIX;
use crate::stages::http;
use crate::stages::retry::{self, Attempt};
use anyhow::Context;
use bytes::Bytes;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Bytes gathered before one hash-and-write call: few syscalls, bounded memory.
const WRITE_BUFFER: usize = 512 * 1024;
/// Chunks in flight between the network and the writer. hyper hands over chunks of up to a few
/// hundred KiB on a fast link, so this bounds each job's queue to about a MiB.
const CHANNEL_CHUNKS: usize = 4;

/// One file to fetch.
#[derive(Clone, Debug)]
pub struct FileJob {
    pub url: reqwest::Url,
    /// The catalog path (`<GUID>/...`), for messages.
    pub path: String,
    /// Where the file goes.
    pub dest: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// What happened to a file that is now in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileOutcome {
    /// It was already there, complete and intact.
    Present,
    /// It was downloaded; `resumed_from` bytes of an earlier `.part` were reused.
    Downloaded { resumed_from: u64 },
}

/// Shared byte counter for progress display.
pub type Counter = Arc<AtomicU64>;

/// Fetches one file into place; see the module header for the rules. `transferred` counts the
/// bytes that come over the network as they arrive, so the count holds when the download fails.
pub async fn fetch_file(
    client: &reqwest::Client,
    job: &FileJob,
    retries: u32,
    min_rate: http::MinRate,
    counter: &Counter,
    transferred: &AtomicU64,
) -> anyhow::Result<FileOutcome> {
    let part = part_path(&job.dest);
    if let Some(outcome) = already_present(job).await? {
        remove_if_exists(&part)?;
        return Ok(outcome);
    }
    let restarted_from_zero = AtomicBool::new(false);
    let (part, restarted) = (&part, &restarted_from_zero);
    let attempt = move || async move {
        loop {
            let done = attempt_once(client, job, part, min_rate, counter, transferred);
            let done = match done.await {
                Err(Attempt::Restart(err)) => {
                    remove_if_exists(part).map_err(Attempt::Fatal)?;
                    return Err(Attempt::Restart(err));
                }
                other => other?,
            };
            match done {
                Done::Verified { resumed_from } => return Ok(resumed_from),
                Done::Mismatch { resumed_from, why } => {
                    remove_if_exists(part).map_err(Attempt::Fatal)?;
                    // A resumed prefix may be what was bad: once more from zero, as the same try.
                    if resumed_from > 0 && !restarted.swap(true, Ordering::Relaxed) {
                        continue;
                    }
                    return Err(Attempt::Fatal(Error::Rejected(why).into()));
                }
            }
        }
    };
    let on_retry = |retrying: &retry::Retrying| {
        let what = match retrying.wait {
            None => format!(
                "Restarting `{}` from zero: {:#}",
                crate::core::paths::native(&job.path),
                retrying.error
            ),
            Some(wait) => format!(
                "Retrying `{}` ({} of {}) in {wait:?}: {:#}",
                crate::core::paths::native(&job.path),
                retrying.number,
                retrying.of,
                retrying.error
            ),
        };
        crate::core::logging::detail_warn("sct-fetch", what);
    };
    match retry::run(retries, attempt, on_retry).await {
        Ok(resumed_from) => {
            finish(part, &job.dest)?;
            Ok(FileOutcome::Downloaded { resumed_from })
        }
        Err(gave_up) => {
            let err = match gave_up.earlier {
                Some(earlier) if gave_up.retries > 0 => gave_up.error.context(format!(
                    "after {} retries (earlier: {earlier})",
                    gave_up.retries
                )),
                _ => gave_up.error,
            };
            let shown = crate::core::logging::redact_url(job.url.as_str());
            Err(err.context(format!(
                "Failed to download `{}` from {shown}",
                crate::core::paths::native(&job.path)
            )))
        }
    }
}

/// `NAME.part` beside `NAME`.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(PART_SUFFIX);
    PathBuf::from(name)
}

/// `Some(Present)` when the final file exists with the right size and SHA-256.
async fn already_present(job: &FileJob) -> anyhow::Result<Option<FileOutcome>> {
    let Ok(meta) = std::fs::symlink_metadata(&job.dest) else {
        return Ok(None);
    };
    if !meta.is_file() || meta.len() != job.size {
        return Ok(None);
    }
    let dest = job.dest.clone();
    let size = job.size;
    let (_, digest) = tokio::task::spawn_blocking(move || {
        // Through one no-follow handle, capped: what was judged is what is hashed.
        let file = crate::core::medium::open_regular(&dest, crate::core::medium::Links::Refuse)?;
        crate::core::hash::of_reader(std::io::Read::take(file, size + 1))
            .with_context(|| format!("Failed to read `{}`", dest.display()))
    })
    .await??;
    Ok(crate::core::hash::same(&digest, &job.sha256).then_some(FileOutcome::Present))
}

enum Done {
    Verified { resumed_from: u64 },
    Mismatch { resumed_from: u64, why: String },
}

/// One HTTP request, resuming from whatever `.part` holds.
async fn attempt_once(
    client: &reqwest::Client,
    job: &FileJob,
    part: &Path,
    min_rate: http::MinRate,
    counter: &Counter,
    transferred: &AtomicU64,
) -> Result<Done, Attempt> {
    let offset = usable_part_len(part, job.size).map_err(Attempt::Fatal)?;
    let mut request = client.get(job.url.clone());
    if offset > 0 {
        request = request.header(reqwest::header::RANGE, format!("bytes={offset}-"));
    }
    let mut response = request.send().await.map_err(classify)?;
    let start = response_start(&response, job, offset)?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let writer = {
        let part = part.to_owned();
        tokio::task::spawn_blocking(move || write_part(&part, start, receiver))
    };
    let floor = http::RateFloor::new(min_rate);
    let streamed = stream_body(
        &mut response,
        floor,
        &sender,
        job,
        start,
        counter,
        transferred,
    )
    .await;
    drop(sender);
    let written = writer
        .await
        .map_err(|e| Attempt::Fatal(e.into()))?
        .map_err(|e| Attempt::Fatal(e.context(format!("Failed to write `{}`", part.display()))));
    streamed?;
    let (length, digest) = written?;
    if length != job.size {
        // A response cut short is the network failing (it was 3 after the retries).
        return Err(Attempt::Retry(
            Error::Network(format!(
                "the response ended after {length} of {} bytes",
                job.size
            ))
            .into(),
        ));
    }
    if crate::core::hash::same(&digest, &job.sha256) {
        Ok(Done::Verified {
            resumed_from: start,
        })
    } else {
        Ok(Done::Mismatch {
            resumed_from: start,
            why: format!(
                "`{}` has SHA-256 {digest}, but the signed catalog says {} (tampered or corrupted on the way)",
                crate::core::paths::native(&job.path),
                job.sha256
            ),
        })
    }
}

/// The length of `.part` worth resuming from. A `.part` longer than the file cannot be it, and one
/// exactly as long cannot be resumed with a Range request: both are removed and fetched afresh, as
/// is anything at that name that is not a regular file.
fn usable_part_len(part: &Path, size: u64) -> anyhow::Result<u64> {
    let meta = match std::fs::symlink_metadata(part) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("Cannot inspect `{}`", part.display()))
            );
        }
    };
    if !meta.is_file() || meta.len() >= size {
        remove_if_exists(part)?;
        return Ok(0);
    }
    Ok(meta.len())
}

/// Checks the response and returns the offset its body starts at (0 for a full `200`).
fn response_start(
    response: &reqwest::Response,
    job: &FileJob,
    offset: u64,
) -> Result<u64, Attempt> {
    let status = response.status();
    let url = job.url.as_str();
    if status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE {
        return Err(restart(format!(
            "{} refused to resume at byte {offset} (416)",
            crate::core::logging::redact_url(url)
        )));
    }
    if !status.is_success() {
        return Err(http::status_attempt(status, url));
    }
    let start = if status == reqwest::StatusCode::PARTIAL_CONTENT {
        // Also for a request of the whole file: a 206 must then cover it all.
        check_content_range(response, job, offset)?;
        offset
    } else {
        // 200: the whole file, from byte zero (also when a resume was asked for).
        0
    };
    if let Some(length) = response.content_length()
        && start + length != job.size
    {
        return Err(Attempt::Fatal(
            Error::Rejected(format!(
                "{} sends {} bytes for `{}`, but the signed catalog says {} (wrong size)",
                crate::core::logging::redact_url(url),
                start + length,
                crate::core::paths::native(&job.path),
                job.size
            ))
            .into(),
        ));
    }
    Ok(start)
}

fn check_content_range(
    response: &reqwest::Response,
    job: &FileJob,
    offset: u64,
) -> Result<(), Attempt> {
    let expected = format!("bytes {offset}-{}/{}", job.size - 1, job.size);
    let got = response
        .headers()
        .get(reqwest::header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if got.trim() == expected {
        Ok(())
    } else {
        let asked = match offset {
            0 => "a request for the whole file".to_owned(),
            _ => format!("a resume at byte {offset}"),
        };
        Err(restart(format!(
            "{} answered {asked} with Content-Range `{got}` (expected `{expected}`)",
            crate::core::logging::redact_url(job.url.as_str())
        )))
    }
}

/// Streams the body into the writer's channel, refusing bytes beyond the catalog's size and a body
/// slower than the floor (a retry, which resumes from the `.part`).
async fn stream_body(
    response: &mut reqwest::Response,
    mut floor: http::RateFloor,
    sender: &tokio::sync::mpsc::Sender<Bytes>,
    job: &FileJob,
    start: u64,
    counter: &Counter,
    transferred: &AtomicU64,
) -> Result<(), Attempt> {
    let mut position = start;
    loop {
        let chunk = match floor.next_chunk(response, job.url.as_str()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(err) => return Err(err.attempt(classify)),
        };
        position += chunk.len() as u64;
        if position > job.size {
            return Err(Attempt::Fatal(Error::Rejected(format!(
                    "{} sends more than the {} bytes the signed catalog lists for `{}` (wrong size)",
                    crate::core::logging::redact_url(job.url.as_str()),
                    job.size,
                    crate::core::paths::native(&job.path)
                )).into()));
        }
        transferred.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if sender.send(chunk).await.is_err() {
            // The writer stopped: its error is reported by the caller.
            return Ok(());
        }
    }
    Ok(())
}

fn classify(err: reqwest::Error) -> Attempt {
    // reqwest reports a body cut short while streaming as a *decode* error; with no content
    // encoding enabled, that can only be the transport, so it is worth a resume.
    let transient = http::is_transient_error(&err) || err.is_decode();
    Attempt::new(anyhow::Error::new(err), transient)
}

/// The server will not continue this `.part`: the next try starts from zero, at once.
fn restart(why: String) -> Attempt {
    Attempt::Restart(Error::Network(why).into())
}

/// The blocking half: hashes the kept prefix, then appends and hashes each chunk; returns the
/// final length and SHA-256. Runs on a blocking thread so hashing overlaps the network.
fn write_part(
    part: &Path,
    start: u64,
    mut receiver: tokio::sync::mpsc::Receiver<Bytes>,
) -> anyhow::Result<(u64, String)> {
    // Never through a link planted at the `.part` name (see crate::core::medium).
    let mut file = crate::core::medium::open_with(
        part,
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true),
    )
    .with_context(|| format!("Cannot create `{}`", part.display()))?;
    // Bytes past the resume point are not what the server is about to send: drop them.
    file.set_len(start)?;
    let mut hasher = Sha256::new();
    let mut length = if start > 0 {
        hash_prefix(&mut file, start, &mut hasher)?
    } else {
        0
    };
    file.seek(SeekFrom::Start(length))?;
    let mut buffer = Vec::with_capacity(WRITE_BUFFER);
    let mid_file = crate::core::fault::armed(crate::core::fault::Point::FetchMidFile);
    while let Some(chunk) = receiver.blocking_recv() {
        if mid_file && (length > start || !buffer.is_empty()) {
            flush_buffer(&mut file, &mut buffer, &mut hasher, &mut length)?;
            file.sync_all()?;
            crate::core::fault::point(crate::core::fault::Point::FetchMidFile);
        }
        if buffer.len() + chunk.len() > WRITE_BUFFER {
            flush_buffer(&mut file, &mut buffer, &mut hasher, &mut length)?;
        }
        if chunk.len() >= WRITE_BUFFER {
            // Never grow the buffer: a chunk this large is hashed and written as it is.
            hasher.update(&chunk);
            file.write_all(&chunk)?;
            length += chunk.len() as u64;
        } else {
            buffer.extend_from_slice(&chunk);
        }
    }
    flush_buffer(&mut file, &mut buffer, &mut hasher, &mut length)?;
    Ok((length, hasher.finish_hex()))
}

fn flush_buffer(
    file: &mut std::fs::File,
    buffer: &mut Vec<u8>,
    hasher: &mut Sha256,
    length: &mut u64,
) -> anyhow::Result<()> {
    if buffer.is_empty() {
        return Ok(());
    }
    hasher.update(buffer);
    file.write_all(buffer)?;
    *length += buffer.len() as u64;
    buffer.clear();
    Ok(())
}

/// Hashes the first `len` bytes already in the part file.
fn hash_prefix(file: &mut std::fs::File, len: u64, hasher: &mut Sha256) -> anyhow::Result<u64> {
    let mut buf = vec![0u8; WRITE_BUFFER];
    let mut reader = (&mut *file).take(len);
    let mut done = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        done += n as u64;
    }
    Ok(done)
}

/// Makes the verified part durable and gives it its final name (see [`crate::core::atomic`] for how
/// each step is made durable on Windows).
fn finish(part: &Path, dest: &Path) -> anyhow::Result<()> {
    crate::core::atomic::sync_file(part)
        .with_context(|| format!("Failed to flush `{}` to disk", part.display()))?;
    crate::core::fault::point(crate::core::fault::Point::FetchBeforeRename);
    crate::core::atomic::rename_replace(part, dest).with_context(|| {
        format!(
            "Failed to move `{}` into place as `{}`",
            part.display(),
            dest.display()
        )
    })?;
    if let Some(parent) = dest.parent() {
        let _ = crate::core::atomic::sync_dir(parent);
    }
    crate::core::fault::point(crate::core::fault::Point::FetchAfterRename);
    Ok(())
}

fn remove_if_exists(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("Failed to remove `{}`", path.display())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_is_beside_the_file() {
        assert_eq!(
            part_path(Path::new("/usb/ABC/x.cab")),
            PathBuf::from("/usb/ABC/x.cab.part")
        );
    }

    #[test]
    fn only_a_shorter_regular_part_is_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("x.cab.part");
        assert_eq!(usable_part_len(&part, 10).unwrap(), 0);
        std::fs::write(&part, b"abcd").unwrap();
        assert_eq!(usable_part_len(&part, 10).unwrap(), 4);
        for len in [10, 11] {
            std::fs::write(&part, vec![0u8; len]).unwrap();
            assert_eq!(usable_part_len(&part, 10).unwrap(), 0);
            assert!(!part.exists(), "a part of {len} bytes is discarded");
        }
        std::fs::create_dir(&part).unwrap();
        assert!(
            usable_part_len(&part, 10).is_err(),
            "a folder is not silently removed"
        );
    }

    #[test]
    fn writer_hashes_the_kept_prefix_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("x.part");
        std::fs::write(&part, b"hello, trailing bytes past the offset").unwrap();
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        sender.blocking_send(Bytes::from_static(b" world")).unwrap();
        drop(sender);
        let (length, digest) = write_part(&part, 6, receiver).unwrap();
        assert_eq!(length, 12);
        assert_eq!(digest, crate::core::hash::hex_of(b"hello, world"));
        assert_eq!(std::fs::read(&part).unwrap(), b"hello, world");
    }
}
