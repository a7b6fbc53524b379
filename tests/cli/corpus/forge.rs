//! Hand-made cabinet files for the hostile corpus: uncompressed cabs whose names, sizes, counts and
//! members say whatever a scenario needs, which no honest cab writer would produce.
//!
//! The committed `tests/data/<scenario>/input.cab` files are these recipes' output; the test
//! `committed_cabs_match_their_recipes` keeps the two equal, and rewrites the files when run with
//! `SCT_REGENERATE_CORPUS=1`.

use sct::core::usage_cab::{MANIFEST_MEMBER, MemberDigest, USAGE_MEMBER, UsageManifest};

/// The usage document every usage cab of the corpus carries (a demo site's, committed).
pub const USAGE_TEMPLATE: &[u8] = include_bytes!("../../data/templates/usage.json");
/// The site version of that document.
pub const FULL_VERSION: &str = "5.00.9128.1000";

/// One member of a forged cab.
#[derive(Clone)]
pub struct CabFile {
    /// Raw name bytes (written with the UTF-8 name flag), NUL-terminated by the writer.
    pub name: Vec<u8>,
    pub data: Vec<u8>,
    /// The size the directory declares; `None` is the true size.
    pub declared: Option<u32>,
    /// The offset in its folder's data the directory declares; `None` is the true one.
    pub offset: Option<u32>,
}

pub fn file(name: &str, data: &[u8]) -> CabFile {
    CabFile {
        name: name.as_bytes().to_vec(),
        data: data.to_vec(),
        declared: None,
        offset: None,
    }
}

/// A forged cab: one uncompressed folder, and header fields that may lie.
#[derive(Clone, Default)]
pub struct Cab {
    pub files: Vec<CabFile>,
    pub declared_files: Option<u16>,
    pub declared_folders: Option<u16>,
    pub declared_cabinet_size: Option<u32>,
    pub declared_blocks: Option<u16>,
}

impl Cab {
    pub fn of(files: Vec<CabFile>) -> Self {
        Self {
            files,
            ..Self::default()
        }
    }

    /// The cabinet bytes (MS-CAB: CFHEADER, one CFFOLDER, CFFILEs, CFDATA blocks without checksums).
    pub fn bytes(&self) -> Vec<u8> {
        let data: Vec<u8> = self.files.iter().flat_map(|f| f.data.clone()).collect();
        let blocks: Vec<&[u8]> = if data.is_empty() {
            Vec::new()
        } else {
            data.chunks(32 * 1024).collect()
        };
        let files_offset = 36 + 8;
        let entries_len: usize = self.files.iter().map(|f| 16 + f.name.len() + 1).sum();
        let data_offset = files_offset + entries_len;
        let total = data_offset + blocks.iter().map(|b| 8 + b.len()).sum::<usize>();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(b"MSCF");
        out.extend_from_slice(&0u32.to_le_bytes());
        let size = self.declared_cabinet_size.unwrap_or(total as u32);
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(files_offset as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&[3, 1]); // version 1.3
        out.extend_from_slice(&self.declared_folders.unwrap_or(1).to_le_bytes());
        let count = self.declared_files.unwrap_or(self.files.len() as u16);
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // flags
        out.extend_from_slice(&0x5343u16.to_le_bytes()); // set ID
        out.extend_from_slice(&0u16.to_le_bytes()); // cabinet index
        // CFFOLDER
        out.extend_from_slice(&(data_offset as u32).to_le_bytes());
        let nblocks = self.declared_blocks.unwrap_or(blocks.len() as u16);
        out.extend_from_slice(&nblocks.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // no compression
        // CFFILEs
        let mut offset = 0u32;
        for f in &self.files {
            let size = f.declared.unwrap_or(f.data.len() as u32);
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&f.offset.unwrap_or(offset).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes()); // folder 0
            out.extend_from_slice(&0x5B7Au16.to_le_bytes()); // 2025-11-26
            out.extend_from_slice(&0x6000u16.to_le_bytes()); // 12:00
            out.extend_from_slice(&(0x20u16 | 0x80).to_le_bytes()); // archive, UTF-8 name
            out.extend_from_slice(&f.name);
            out.push(0);
            offset += f.data.len() as u32;
        }
        // CFDATA
        for block in blocks {
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&(block.len() as u16).to_le_bytes());
            out.extend_from_slice(&(block.len() as u16).to_le_bytes());
            out.extend_from_slice(block);
        }
        out
    }
}

/// The site-version member's name.
pub fn version_name() -> String {
    format!("SiteVersion.{FULL_VERSION}.txt")
}

fn version_text() -> Vec<u8> {
    format!(
        "SiteCode=PS1\r\nSiteVersion={FULL_VERSION}\r\nFullVersion={FULL_VERSION}\r\nHierarchyID=6F1C2F0E-36C1-4B0E-9D1C-2D2D8A0C7E11\r\n"
    )
    .into_bytes()
}

/// A manifest for `members` (name, bytes), with the template's identity.
pub fn manifest_for(members: &[(&str, &[u8])]) -> UsageManifest {
    UsageManifest {
        schema: sct::core::document::Tag::new(),
        site_code: "PS1".into(),
        hierarchy_id: crate::kit::HIERARCHY_A.parse().unwrap(),
        site_version: FULL_VERSION.parse().unwrap(),
        full_version: FULL_VERSION.parse().unwrap(),
        members: members
            .iter()
            .map(|(name, bytes)| MemberDigest {
                name: (*name).to_owned(),
                size: bytes.len() as u64,
                sha256: sct::core::hash::hex_of(bytes),
            })
            .collect(),
    }
}

fn json(manifest: &UsageManifest) -> Vec<u8> {
    serde_json::to_vec_pretty(manifest).unwrap()
}

/// A well-formed usage cab around `usage` (its manifest is honest).
pub fn usage_cab(usage: &[u8]) -> Cab {
    let version = version_text();
    let manifest = manifest_for(&[(USAGE_MEMBER, usage), (&version_name(), &version)]);
    Cab::of(vec![
        file(USAGE_MEMBER, usage),
        file(&version_name(), &version),
        file(MANIFEST_MEMBER, &json(&manifest)),
    ])
}

/// A usage cab with one extra member, listed honestly in its manifest.
fn usage_cab_with(name: &str, data: &[u8]) -> Cab {
    let version = version_text();
    let manifest = manifest_for(&[
        (USAGE_MEMBER, USAGE_TEMPLATE),
        (&version_name(), &version),
        (name, data),
    ]);
    Cab::of(vec![
        file(USAGE_MEMBER, USAGE_TEMPLATE),
        file(&version_name(), &version),
        file(name, data),
        file(MANIFEST_MEMBER, &json(&manifest)),
    ])
}

/// A usage cab whose manifest was edited by `edit` after it was made.
fn lying_manifest(edit: impl FnOnce(&mut UsageManifest)) -> Cab {
    let version = version_text();
    let mut manifest = manifest_for(&[(USAGE_MEMBER, USAGE_TEMPLATE), (&version_name(), &version)]);
    edit(&mut manifest);
    Cab::of(vec![
        file(USAGE_MEMBER, USAGE_TEMPLATE),
        file(&version_name(), &version),
        file(MANIFEST_MEMBER, &json(&manifest)),
    ])
}

/// The usage template with `from` replaced by `to` (first occurrence).
fn usage_edited(from: &str, to: &str) -> Vec<u8> {
    let text = std::str::from_utf8(USAGE_TEMPLATE).unwrap();
    assert!(text.contains(from), "template lacks {from}");
    text.replacen(from, to, 1).into_bytes()
}

/// Every forged cab of the corpus, by scenario folder.
pub fn recipes() -> Vec<(&'static str, Vec<u8>)> {
    let hostile = |name: &str| usage_cab_with(name, b"planted\n").bytes();
    let valid = usage_cab(USAGE_TEMPLATE);
    let mut out: Vec<(&'static str, Vec<u8>)> = vec![
        ("valid-usage-cab", valid.bytes()),
        ("cab-name-dotdot", hostile("..\\evil.txt")),
        (
            "cab-name-nested-dotdot",
            hostile("Reports\\..\\..\\evil.txt"),
        ),
        ("cab-name-forward-slash-dotdot", hostile("../evil.txt")),
        (
            "cab-name-absolute-backslash",
            hostile("\\etc\\cron.d\\evil"),
        ),
        ("cab-name-absolute-slash", hostile("/etc/cron.d/evil")),
        (
            "cab-name-drive-letter",
            hostile("C:\\Windows\\System32\\evil.dll"),
        ),
        ("cab-name-drive-relative", hostile("c:evil.txt")),
        ("cab-name-unc", hostile("\\\\attacker\\share\\evil.txt")),
        ("cab-name-device-path", hostile("\\\\?\\C:\\evil.txt")),
        ("cab-name-ntfs-stream", hostile("UsageData.json:hidden")),
        ("cab-name-control-character", hostile("evil\u{1b}[31m.txt")),
        (
            "cab-name-forges-a-log-line",
            hostile(
                "evil.txt\r\n<![LOG[INFO: Verified: all good]LOG]!><time=\"10:00:00.000+000\" date=\"12-01-2026\" component=\"sct-pack\" context=\"\" type=\"1\" thread=\"1\" file=\"\">",
            ),
        ),
        ("cab-name-windows-device", hostile("CON")),
        (
            "cab-name-windows-device-extension",
            hostile("Reports\\aux.json"),
        ),
        ("cab-name-trailing-dot", hostile("evil.txt.")),
        ("cab-name-empty-component", hostile("Reports\\\\evil.txt")),
        ("cab-name-dot-component", hostile(".\\evil.txt")),
        ("cab-name-overlong-component", hostile(&"A".repeat(300))),
        ("cab-name-wildcard", hostile("evil*.txt")),
    ];
    // Duplicates: the same member twice, and twice under names that differ only in case.
    let mut twice = valid.clone();
    twice.files.insert(1, file(USAGE_MEMBER, b"{}"));
    out.push(("cab-duplicate-member", twice.bytes()));
    let mut case = valid.clone();
    case.files.insert(1, file("usagedata.JSON", b"{}"));
    out.push(("cab-duplicate-member-case", case.bytes()));
    // Declared sizes and counts: decompression bombs and header lies.
    let mut bomb = valid.clone();
    bomb.files[0].declared = Some(0x7FFF_0000);
    out.push(("cab-bomb-declared-2gib-member", bomb.bytes()));
    let mut bomb = valid.clone();
    bomb.files[2].declared = Some(600 * 1024 * 1024);
    out.push(("cab-bomb-manifest-declares-600mib", bomb.bytes()));
    let mut many = valid.clone();
    many.declared_files = Some(u16::MAX);
    out.push(("cab-bomb-declared-65535-files", many.bytes()));
    let mut folders = valid.clone();
    folders.declared_folders = Some(u16::MAX);
    out.push(("cab-bomb-declared-65535-folders", folders.bytes()));
    let mut blocks = valid.clone();
    blocks.declared_blocks = Some(u16::MAX);
    // A harmless lie: the reader reads blocks lazily and every member lies in the first one.
    out.push(("valid-cab-declares-65535-blocks", blocks.bytes()));
    let mut size = valid.clone();
    size.declared_cabinet_size = Some(u32::MAX);
    out.push(("cab-header-declares-4gib", size.bytes()));
    // A member starting beyond its folder's data: the cab crate panicked on it (found by fuzzing).
    let mut beyond = valid.clone();
    beyond.files[2].offset = Some(0x0002_0000);
    out.push(("cab-member-offset-beyond-folder-data", beyond.bytes()));
    // Overlapping members: a few real bytes, each member declaring all of them (issue 21: 24
    // entries at offset 0 over 16 MiB of zeros extracted 402 MB from a 29 KB cab).
    let mut shared = CabFile {
        declared: Some(4096),
        offset: Some(0),
        ..file("zeros-00.bin", &[0u8; 4096])
    };
    let mut overlap = vec![shared.clone()];
    shared.data.clear();
    for i in 1..24 {
        overlap.push(CabFile {
            name: format!("zeros-{i:02}.bin").into_bytes(),
            ..shared.clone()
        });
    }
    out.push(("cab-members-overlap", Cab::of(overlap).bytes()));
    // A member starting inside its folder's data but running past its end.
    let mut past = valid.clone();
    let end = past.files.iter().map(|f| f.data.len() as u32).sum::<u32>();
    past.files[2].declared = Some(past.files[2].data.len() as u32 + 1);
    past.files[2].offset = Some(end - past.files[2].data.len() as u32);
    out.push(("cab-member-runs-past-folder-end", past.bytes()));
    // Damage.
    let whole = valid.bytes();
    out.push(("cab-truncated-half", whole[..whole.len() / 2].to_vec()));
    out.push(("cab-truncated-header", whole[..20].to_vec()));
    let mut flipped = whole.clone();
    let at = flipped
        .windows(16)
        .position(|w| w == b"TEL_ClientCounts")
        .expect("the template names TEL_ClientCounts");
    flipped[at + 4] ^= 0x04; // `C` becomes `G` inside UsageData.json's bytes
    out.push(("cab-bit-flipped-usage-data", flipped));
    out.push(("cab-empty-file", Vec::new()));
    out.push((
        "cab-not-a-cab",
        b"PK\x03\x04 this is a zip file's signature, not a cabinet\n".to_vec(),
    ));
    // Manifest lies and missing members.
    out.push((
        "cab-manifest-wrong-hash",
        lying_manifest(|m| m.members[0].sha256 = sct::core::hash::hex_of(b"other")).bytes(),
    ));
    out.push((
        "cab-manifest-wrong-size",
        lying_manifest(|m| m.members[0].size += 1).bytes(),
    ));
    out.push((
        "cab-manifest-lists-missing-member",
        lying_manifest(|m| {
            let mut extra = m.members[1].clone();
            extra.name = "Extra.txt".into();
            m.members.push(extra);
        })
        .bytes(),
    ));
    // Each listing is read in full: listing the usage data many times once cost its size as often.
    out.push((
        "cab-manifest-lists-member-twice",
        lying_manifest(|m| {
            let usage = m.members[0].clone();
            m.members.extend(std::iter::repeat_n(usage, 1000));
        })
        .bytes(),
    ));
    // A usage document nested deeper than any reader's limit.
    let open = std::str::from_utf8(USAGE_TEMPLATE).unwrap().trim_end();
    let deep = format!(
        "{},\"x\":{}{}}}",
        open.strip_suffix('}').unwrap(),
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    out.push((
        "cab-usage-deeply-nested",
        usage_cab(deep.as_bytes()).bytes(),
    ));
    out.push((
        "cab-manifest-other-hierarchy",
        lying_manifest(|m| m.hierarchy_id = crate::kit::HIERARCHY_B.parse().unwrap()).bytes(),
    ));
    let mut unlisted = valid.clone();
    unlisted
        .files
        .insert(2, file("Unlisted.txt", b"smuggled\n"));
    out.push(("cab-member-not-in-manifest", unlisted.bytes()));
    let mut no_manifest = valid.clone();
    no_manifest.files.pop();
    out.push(("cab-no-manifest", no_manifest.bytes()));
    let mut bad = valid.clone();
    bad.files[2] = file(MANIFEST_MEMBER, b"manifest: not json\n");
    out.push(("cab-manifest-not-json", bad.bytes()));
    let mut wrong = valid.clone();
    wrong.files[2] = file(
        MANIFEST_MEMBER,
        &String::from_utf8(wrong.files[2].data.clone())
            .unwrap()
            .replace("sct.usage-manifest.v1", "sct.usage.v1")
            .into_bytes(),
    );
    out.push(("cab-manifest-wrong-schema", wrong.bytes()));
    // The usage document itself: wrong kind, future version, not JSON, a version file that lies.
    out.push((
        "cab-usage-wrong-kind",
        usage_cab(&usage_edited("sct.usage.v1", "sct.offer.v1")).bytes(),
    ));
    out.push((
        "cab-usage-future-version",
        usage_cab(&usage_edited("sct.usage.v1", "sct.usage.v2")).bytes(),
    ));
    out.push((
        "cab-usage-not-json",
        usage_cab(b"SiteCode=PS1\r\nthis is not JSON\r\n").bytes(),
    ));
    let mut other_version = usage_cab(&usage_edited(
        "\"full_version\": \"5.00.9128.1000\"",
        "\"full_version\": \"5.00.9132.1000\"",
    ));
    // The member named after the version keeps the old version: it no longer matches the data.
    let manifest_at = other_version.files.len() - 1;
    let usage = other_version.files[0].data.clone();
    let version = other_version.files[1].data.clone();
    let mut manifest = manifest_for(&[(USAGE_MEMBER, &usage), (&version_name(), &version)]);
    manifest.full_version = "5.00.9132.1000".parse().unwrap();
    other_version.files[manifest_at] = file(MANIFEST_MEMBER, &json(&manifest));
    out.push(("cab-version-file-disagrees", other_version.bytes()));
    out
}
