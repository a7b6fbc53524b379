//! Where a cabinet's members lie in their folders, read from the header and directory itself
//! (the `cab` crate does not expose member offsets): every member must lie inside its folder's
//! uncompressed data and no two members may overlap.
//!
//! Without this, one MSZIP folder of 16 MiB of zeros and 24 entries all at offset 0 (a 29 KB
//! cab) extracted to 402 MB, and 65,535 entries over a 2 GiB folder could ask for 128 TiB. With
//! it, what a cab can extract is bounded by the data blocks it really holds.
//!
//! Layout (MS-CAB): CFHEADER (36 bytes, then optional reserve sizes and the names of chained
//! cabinets), `cFolders` CFFOLDER entries, the CFFILE entries at `coffFiles`, and each folder's
//! `cCFData` CFDATA blocks from `coffCabStart` (8-byte header, reserve, data).

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

const RESERVE_PRESENT: u16 = 0x0004;
const PREV_CABINET: u16 = 0x0001;
const NEXT_CABINET: u16 = 0x0002;
/// Longest name read here (the format allows 255 bytes; a longer one is read so that the `cab`
/// crate names the fault, and only its first 255 bytes are kept).
const MAX_NAME: usize = 1024;

/// One member's place: its folder, offset and size in that folder's uncompressed data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub name: String,
    pub folder: u16,
    pub offset: u64,
    pub size: u64,
}

/// Reads where every member lies and checks it; an error says why the cab is unfit (the caller
/// words it as a damaged cabinet).
pub fn check(reader: impl Read + Seek) -> io::Result<Vec<Placement>> {
    let mut reader = BufReader::new(reader);
    let (folders, files) = read_directory(&mut reader)?;
    let mut placements = Vec::with_capacity(usize::from(files.count));
    for _ in 0..files.count {
        placements.push(read_file_entry(&mut reader)?);
    }
    let sizes = folders
        .iter()
        .map(|f| folder_size(&mut reader, f, files.data_reserve))
        .collect::<io::Result<Vec<u64>>>()?;
    check_placements(&placements, &sizes)?;
    Ok(placements)
}

/// The members must lie inside their folder (`sizes[folder]` bytes) and never overlap.
pub fn check_placements(placements: &[Placement], sizes: &[u64]) -> io::Result<()> {
    let mut by_folder: Vec<&Placement> = placements.iter().collect();
    by_folder.sort_by_key(|p| (p.folder, p.offset, p.size));
    let mut previous: Option<&Placement> = None;
    for p in by_folder {
        let size = *sizes.get(usize::from(p.folder)).ok_or_else(|| {
            invalid(format!(
                "member `{}` names folder {}, which the cab does not have",
                p.name, p.folder
            ))
        })?;
        if p.offset.saturating_add(p.size) > size {
            return Err(invalid(format!(
                "member `{}` ({} bytes at offset {}) lies beyond its folder's {size} bytes of data",
                p.name, p.size, p.offset
            )));
        }
        if let Some(prev) = previous.filter(|prev| prev.folder == p.folder)
            && prev.offset + prev.size > p.offset
            && p.size > 0
        {
            return Err(invalid(format!(
                "members `{}` and `{}` overlap in their folder (each member's bytes must be its own)",
                prev.name, p.name
            )));
        }
        if p.size > 0 {
            previous = Some(p);
        }
    }
    Ok(())
}

struct Folder {
    data_start: u64,
    blocks: u16,
}

struct Files {
    count: u16,
    data_reserve: u8,
}

fn read_directory(r: &mut (impl BufRead + Seek)) -> io::Result<(Vec<Folder>, Files)> {
    let mut header = [0u8; 36];
    r.read_exact(&mut header)?;
    if &header[..4] != b"MSCF" {
        return Err(invalid("no cabinet signature".into()));
    }
    let u16_at = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]);
    let files_at = u32::from_le_bytes(header[16..20].try_into().expect("4 bytes"));
    let (folder_count, file_count, flags) = (u16_at(26), u16_at(28), u16_at(30));
    let (mut folder_reserve, mut data_reserve) = (0u8, 0u8);
    if flags & RESERVE_PRESENT != 0 {
        let mut sizes = [0u8; 4];
        r.read_exact(&mut sizes)?;
        let header_reserve = u16::from_le_bytes([sizes[0], sizes[1]]);
        (folder_reserve, data_reserve) = (sizes[2], sizes[3]);
        r.seek_relative(i64::from(header_reserve))?;
    }
    for chained in [PREV_CABINET, NEXT_CABINET] {
        if flags & chained != 0 {
            read_name(r)?;
            read_name(r)?;
        }
    }
    let mut folders = Vec::with_capacity(usize::from(folder_count));
    for _ in 0..folder_count {
        let mut entry = [0u8; 8];
        r.read_exact(&mut entry)?;
        folders.push(Folder {
            data_start: u64::from(u32::from_le_bytes(entry[..4].try_into().expect("4 bytes"))),
            blocks: u16::from_le_bytes([entry[4], entry[5]]),
        });
        r.seek_relative(i64::from(folder_reserve))?;
    }
    r.seek(SeekFrom::Start(u64::from(files_at)))?;
    let files = Files {
        count: file_count,
        data_reserve,
    };
    Ok((folders, files))
}

fn read_file_entry(r: &mut impl BufRead) -> io::Result<Placement> {
    let mut entry = [0u8; 16];
    r.read_exact(&mut entry)?;
    let size = u32::from_le_bytes(entry[..4].try_into().expect("4 bytes"));
    let offset = u32::from_le_bytes(entry[4..8].try_into().expect("4 bytes"));
    let folder = u16::from_le_bytes([entry[8], entry[9]]);
    let mut name = read_name(r)?;
    name.truncate(255);
    let name = String::from_utf8_lossy(&name).into_owned();
    Ok(Placement {
        name,
        folder,
        offset: u64::from(offset),
        size: u64::from(size),
    })
}

/// A NUL-terminated name of at most [`MAX_NAME`] bytes.
fn read_name(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut name = Vec::new();
    r.take(MAX_NAME as u64).read_until(0, &mut name)?;
    if name.pop() != Some(0) {
        return Err(invalid("a name is not terminated within 1024 bytes".into()));
    }
    Ok(name)
}

/// The uncompressed size of a folder: the sum of its data blocks' sizes, walking block headers
/// up to the declared count or the end of the file (a count that overstates the blocks is a lie
/// the `cab` crate tolerates, reading blocks lazily; only the blocks present hold data).
fn folder_size(r: &mut (impl BufRead + Seek), folder: &Folder, reserve: u8) -> io::Result<u64> {
    r.seek(SeekFrom::Start(folder.data_start))?;
    let mut total = 0u64;
    for _ in 0..folder.blocks {
        let mut header = [0u8; 8];
        match r.read_exact(&mut header) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            other => other?,
        }
        let compressed = u16::from_le_bytes([header[4], header[5]]);
        total += u64::from(u16::from_le_bytes([header[6], header[7]]));
        r.seek_relative(i64::from(reserve) + i64::from(compressed))?;
    }
    Ok(total)
}

fn invalid(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(name: &str, offset: u64, size: u64) -> Placement {
        Placement {
            name: name.into(),
            folder: 0,
            offset,
            size,
        }
    }

    #[test]
    fn members_side_by_side_pass_and_overlapping_ones_do_not() {
        let fine = [at("a", 0, 10), at("b", 10, 5), at("empty", 15, 0)];
        check_placements(&fine, &[15]).unwrap();
        // At the folder's end exactly, and one byte past it.
        check_placements(&[at("a", 0, 15)], &[15]).unwrap();
        let err = check_placements(&[at("a", 0, 16)], &[15]).unwrap_err();
        assert!(err.to_string().contains("beyond its folder"), "{err}");
        let err = check_placements(&[at("a", 0, 10), at("b", 9, 5)], &[15]).unwrap_err();
        assert!(err.to_string().contains("overlap"), "{err}");
        let same: Vec<Placement> = (0..24).map(|i| at(&format!("m{i}"), 0, 15)).collect();
        assert!(check_placements(&same, &[15]).is_err());
        let mut other = at("c", 0, 1);
        other.folder = 1;
        assert!(check_placements(&[other], &[15]).is_err());
    }

    #[test]
    fn a_written_cab_reads_back_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.cab");
        let entry = |name: &str, data: &'static [u8]| crate::core::cabinet::Entry {
            name: name.into(),
            size: data.len() as u64,
            data: Box::new(data),
        };
        crate::core::cabinet::write(&path, vec![entry("a", b"hello"), entry("b", b"world!")])
            .unwrap();
        let placed = check(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(placed, [at("a", 0, 5), at("b", 5, 6)]);
    }
}
