//! Seeded random faults for the test server: every pack download may meet one, from one seed,
//! so a chaos run can be repeated exactly.

use super::http::Fault;
use std::collections::HashMap;

/// The kinds of fault chaos injects, in the order of [`Chaos::injected`].
pub const CHAOS_KINDS: [&str; 6] = [
    "503",
    "cut",
    "wrong Range answer",
    "flipped byte",
    "stall",
    "reset",
];

/// Seeded random faults on every pack download: 503s, connections cut mid-body (a truncated
/// body), wrong Range answers (200 to a Range request, 206 from a later byte to a request for
/// the whole file), one flipped byte in transit,
/// stalls mid-body (the client's read timeout must end them) and connections reset mid-body.
/// Each file has its own stream of decisions from the seed, so the faults a file meets do not
/// depend on how its downloads interleave with the others'.
#[derive(Clone, Debug)]
pub struct Chaos {
    seed: u64,
    /// The random state of each path's stream of decisions.
    streams: HashMap<String, u64>,
    /// The state of the stream being drawn from, while one request's fault is decided.
    state: u64,
    /// Percentage of requests that misbehave.
    pub percent: u64,
    /// How many requests misbehaved, by kind (see [`CHAOS_KINDS`]).
    pub injected: [usize; 6],
}

/// splitmix64: spreads a seed (or a seed mixed with a path) over all 64 bits, never zero.
fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)).max(1)
}

impl Chaos {
    /// Faults on `percent` of the requests, decided from `seed`.
    pub fn new(seed: u64, percent: u64) -> Self {
        Self {
            seed: splitmix(seed),
            streams: HashMap::new(),
            state: 1,
            percent,
            injected: [0; 6],
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*: small, seeded, good enough to pick faults.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Decides one request's fault for the file at `path` of `size` bytes, asked from `start`.
    pub(super) fn pick(
        &mut self,
        path: &str,
        size: u64,
        start: u64,
        ranged: bool,
    ) -> Option<Fault> {
        let seed = self.seed;
        let stream = *self.streams.entry(path.to_owned()).or_insert_with(|| {
            splitmix(path.bytes().fold(seed, |h, b| splitmix(h ^ u64::from(b))))
        });
        self.state = stream;
        let fault = self.decide(size, start, ranged);
        self.streams.insert(path.to_owned(), self.state);
        fault
    }

    fn decide(&mut self, size: u64, start: u64, ranged: bool) -> Option<Fault> {
        if self.next() % 100 >= self.percent {
            return None;
        }
        let left = (size - start).max(1);
        let (kind, fault) = match self.next() % 6 {
            0 => (0, Fault::Status503),
            1 => (
                1,
                Fault::CutAfter {
                    bytes: (self.next() % left) as usize,
                    times: 1,
                },
            ),
            2 if ranged => (2, Fault::IgnoreRange),
            2 => (
                2,
                Fault::PartialFrom {
                    from: 1 + self.next() % (size - 1).max(1),
                },
            ),
            3 => (
                3,
                Fault::FlipByte {
                    at: self.next() % left,
                },
            ),
            4 => (
                4,
                Fault::StallAfter {
                    bytes: (self.next() % left) as usize,
                },
            ),
            _ => (
                5,
                Fault::ResetAfter {
                    bytes: (self.next() % left) as usize,
                },
            ),
        };
        self.injected[kind] += 1;
        Some(fault)
    }
}
