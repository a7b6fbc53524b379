//! Which pack, file or part goes on which volume: a pure function, so a table test covers it.
//!
//! Rules, in order:
//! 1. a pack that fits in a volume's room is never split;
//! 2. a pack that fits no volume is split at file boundaries: each file that fits is a piece;
//! 3. a file larger than a volume's room is cut into parts of the room's size (the last shorter).
//!
//! The pieces are then packed first-fit decreasing (largest first, each into the first volume
//! with room, a new volume when none has), which keeps the set within a few percent of the
//! fewest volumes possible and is deterministic: ties keep catalog order.

use uuid::Uuid;

/// One pack to lay out: its files in catalog order (catalog path, size).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackInput {
    pub guid: Uuid,
    pub files: Vec<(String, u64)>,
}

impl PackInput {
    fn size(&self) -> u64 {
        self.files.iter().map(|(_, size)| size).sum()
    }
}

/// A share of one file of a split pack: bytes `offset .. offset + size`, part `part` of `of`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedPart {
    pub pack: Uuid,
    pub path: String,
    pub part: u32,
    pub of: u32,
    pub offset: u64,
    pub size: u64,
}

/// What one volume holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumePlan {
    /// Whole packs, in catalog order.
    pub packs: Vec<Uuid>,
    /// Parts of split packs, by pack (catalog order), path and part.
    pub parts: Vec<PlannedPart>,
    /// Content bytes (packs and parts; the catalog and records are the caller's reserve).
    pub bytes: u64,
}

/// A piece to place.
#[derive(Clone, Debug)]
enum Piece {
    Pack(Uuid, u64),
    Part(PlannedPart),
}

impl Piece {
    fn size(&self) -> u64 {
        match self {
            Piece::Pack(_, size) => *size,
            Piece::Part(part) => part.size,
        }
    }
}

/// Lays `packs` out on volumes with `room` content bytes each (`room > 0`).
pub fn plan(packs: &[PackInput], room: u64) -> Vec<VolumePlan> {
    assert!(room > 0, "a volume needs room for content");
    let mut pieces = pieces(packs, room);
    // Stable: equal sizes keep catalog order.
    pieces.sort_by_key(|piece| std::cmp::Reverse(piece.size()));
    let mut volumes: Vec<VolumePlan> = Vec::new();
    for piece in pieces {
        let size = piece.size();
        let index = match volumes.iter().position(|v| room - v.bytes >= size) {
            Some(index) => index,
            None => {
                volumes.push(VolumePlan::default());
                volumes.len() - 1
            }
        };
        let volume = &mut volumes[index];
        volume.bytes += size;
        match piece {
            Piece::Pack(guid, _) => volume.packs.push(guid),
            Piece::Part(part) => volume.parts.push(part),
        }
    }
    let order = |guid: &Uuid| packs.iter().position(|p| &p.guid == guid);
    for volume in &mut volumes {
        volume.packs.sort_by_key(order);
        volume.parts.sort_by(|a, b| {
            (order(&a.pack), &a.path, a.part).cmp(&(order(&b.pack), &b.path, b.part))
        });
    }
    volumes
}

/// Rules 1–3: the pieces, in catalog order.
fn pieces(packs: &[PackInput], room: u64) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for pack in packs {
        if pack.size() <= room {
            pieces.push(Piece::Pack(pack.guid, pack.size()));
            continue;
        }
        for (path, size) in &pack.files {
            let of = size.div_ceil(room).max(1);
            for index in 0..of {
                let offset = index * room;
                pieces.push(Piece::Part(PlannedPart {
                    pack: pack.guid,
                    path: path.clone(),
                    part: u32::try_from(index + 1).expect("fewer than 4 billion parts"),
                    of: u32::try_from(of).expect("fewer than 4 billion parts"),
                    offset,
                    size: (size - offset).min(room),
                }));
            }
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(n: u128, files: &[u64]) -> PackInput {
        PackInput {
            guid: Uuid::from_u128(n),
            files: files
                .iter()
                .enumerate()
                .map(|(i, size)| (format!("P{n}/f{i}"), *size))
                .collect(),
        }
    }

    /// Each volume as (whole packs, parts as "pack/file#part/of@offset+size", bytes).
    fn shape(volumes: &[VolumePlan]) -> Vec<(Vec<u128>, Vec<String>, u64)> {
        volumes
            .iter()
            .map(|v| {
                let parts = v
                    .parts
                    .iter()
                    .map(|p| format!("{}#{}/{}@{}+{}", p.path, p.part, p.of, p.offset, p.size))
                    .collect();
                (
                    v.packs.iter().map(|g| g.as_u128()).collect(),
                    parts,
                    v.bytes,
                )
            })
            .collect()
    }

    #[test]
    fn whole_packs_are_packed_largest_first() {
        let packs = [
            pack(1, &[30]),
            pack(2, &[60]),
            pack(3, &[40]),
            pack(4, &[70]),
        ];
        let got = shape(&plan(&packs, 100));
        assert_eq!(
            got,
            vec![(vec![1, 4], vec![], 100), (vec![2, 3], vec![], 100),]
        );
    }

    #[test]
    fn a_pack_that_fits_no_volume_is_split_at_file_boundaries() {
        let packs = [pack(1, &[60, 50]), pack(2, &[40])];
        let got = shape(&plan(&packs, 100));
        assert_eq!(
            got,
            vec![
                (vec![2], vec!["P1/f0#1/1@0+60".to_string()], 100),
                (vec![], vec!["P1/f1#1/1@0+50".to_string()], 50),
            ]
        );
    }

    #[test]
    fn a_file_larger_than_a_volume_is_cut_into_parts() {
        let packs = [pack(1, &[250]), pack(2, &[30])];
        let got = shape(&plan(&packs, 100));
        assert_eq!(
            got,
            vec![
                (vec![], vec!["P1/f0#1/3@0+100".to_string()], 100),
                (vec![], vec!["P1/f0#2/3@100+100".to_string()], 100),
                (vec![2], vec!["P1/f0#3/3@200+50".to_string()], 80),
            ]
        );
    }

    #[test]
    fn a_file_of_exactly_the_room_is_one_part_and_empty_files_still_travel() {
        let packs = [pack(1, &[100, 0, 100])];
        let got = shape(&plan(&packs, 100));
        assert_eq!(
            got,
            vec![
                (
                    vec![],
                    vec!["P1/f0#1/1@0+100".into(), "P1/f1#1/1@0+0".into()],
                    100
                ),
                (vec![], vec!["P1/f2#1/1@0+100".into()], 100),
            ]
        );
    }

    #[test]
    fn every_byte_is_placed_once_and_no_volume_overflows() {
        let packs = [
            pack(1, &[1, 999, 57]),
            pack(2, &[333, 334, 335]),
            pack(3, &[12]),
            pack(4, &[0]),
        ];
        for room in [1, 7, 100, 334, 1000, 5000] {
            let volumes = plan(&packs, room);
            assert!(volumes.iter().all(|v| v.bytes <= room), "room {room}");
            let mut placed: Vec<(String, u64, u64)> = Vec::new();
            for v in &volumes {
                for guid in &v.packs {
                    let p = packs.iter().find(|p| &p.guid == guid).unwrap();
                    placed.extend(p.files.iter().map(|(path, s)| (path.clone(), 0, *s)));
                }
                placed.extend(v.parts.iter().map(|p| (p.path.clone(), p.offset, p.size)));
            }
            placed.sort();
            let mut files: Vec<(String, u64)> =
                packs.iter().flat_map(|p| p.files.clone()).collect();
            files.sort();
            for (path, size) in files {
                let mut next = 0;
                for (_, offset, len) in placed.iter().filter(|(p, _, _)| *p == path) {
                    assert_eq!(*offset, next, "{path} in room {room}");
                    next += len;
                }
                assert_eq!(next, size, "{path} in room {room}");
            }
        }
    }
}
