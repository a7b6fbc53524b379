//! A small update service for fetch and verify tests: packs with deterministic bytes, a catalog
//! signed with a test key, offers that point at it, and two ways to serve it on 127.0.0.1 — a real
//! nginx, and a test server that can misbehave on purpose (ignore Range, cut or stall a response).

#![allow(dead_code)]

use sct::core::catalog::{Catalog, Pack, PackFile};
use sct::core::offer::{Offer, Receipt};
use sct::core::signing::{PrivateKey, SignatureFile};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

pub const HIERARCHY_A: &str = "6f1c2f0e-36c1-4b0e-9d1c-2d2d8a0c7e11";
pub const HIERARCHY_B: &str = "0a7d3c55-1b2e-4f6a-8c9d-112233445566";

/// Deterministic, incompressible-looking bytes.
pub fn content(seed: u64, size: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A served folder: `catalog.json`, `catalog.json.sig`, `packs/<GUID>/...`.
pub struct Service {
    pub root: PathBuf,
    pub key: PrivateKey,
    pub packs: Vec<Pack>,
    pub hierarchy: Option<Uuid>,
}

/// A pack to publish: name, kind (0 update, 2 hotfix), full version, applicability range, files.
pub struct PackSpec<'a> {
    pub name: &'a str,
    pub kind: i32,
    pub full: &'a str,
    pub min: &'a str,
    pub max: &'a str,
    pub files: &'a [(&'a str, usize)],
}

impl Service {
    pub fn new(root: PathBuf) -> Self {
        std::fs::create_dir_all(root.join("packs")).unwrap();
        Self {
            root,
            key: PrivateKey::generate(),
            packs: Vec::new(),
            hierarchy: None,
        }
    }

    /// The trusted key in `--trusted-key` form.
    pub fn public_key(&self) -> String {
        self.key.public().to_string()
    }

    /// Writes a pack's files under `packs/` and adds it to the next catalog; returns its GUID.
    pub fn add_pack(&mut self, spec: &PackSpec) -> Uuid {
        let digest = sct::core::hash::hex_of(spec.name.as_bytes());
        let guid = Uuid::parse_str(&digest[..32]).unwrap();
        let folder = guid.to_string().to_uppercase();
        let mut files = Vec::new();
        for (index, (name, size)) in spec.files.iter().enumerate() {
            let path = format!("{folder}/{name}");
            let bytes = content(guid.as_u128() as u64 ^ index as u64, *size);
            let on_disk = self.served(&path);
            std::fs::create_dir_all(on_disk.parent().unwrap()).unwrap();
            std::fs::write(&on_disk, &bytes).unwrap();
            files.push(PackFile {
                path,
                size: *size as u64,
                sha256: sct::core::hash::hex_of(&bytes),
            });
        }
        self.packs.push(Pack {
            info: sct::core::catalog::PackInfo {
                package_guid: guid,
                name: format!("Configuration Manager {}", spec.name),
                update_number: spec.name.into(),
                full_version: spec.full.parse().unwrap(),
                update_type: spec.kind,
                min_cm_version: spec.min.parse().unwrap(),
                max_cm_version: spec.max.parse().unwrap(),
                release_date: "2025-04-01".into(),
                more_info_link: "https://example.invalid/info".into(),
                description: String::new(),
            },
            files,
        });
        guid
    }

    /// The served copy of a catalog path.
    pub fn served(&self, catalog_path: &str) -> PathBuf {
        self.root.join("packs").join(catalog_path)
    }

    pub fn catalog(&self, version: u64) -> Catalog {
        Catalog {
            schema: sct::core::document::Tag::new(),
            version,
            issued_at: jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1),
            expires_at: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30),
            hierarchy_id: self.hierarchy,
            packs: self.packs.clone(),
        }
    }

    /// Signs and publishes catalog `version` (checked like a real publisher would).
    pub fn publish(&self, version: u64) {
        let (bytes, sig) = sct::core::catalog::sign(&self.catalog(version), &[&self.key]).unwrap();
        std::fs::write(self.root.join("catalog.json"), bytes).unwrap();
        std::fs::write(self.root.join("catalog.json.sig"), sig).unwrap();
    }

    /// Signs and publishes any JSON as the catalog, skipping the publisher's checks (hostile catalogs).
    pub fn publish_raw(&self, catalog: &serde_json::Value) {
        let mut bytes = serde_json::to_vec_pretty(catalog).unwrap();
        bytes.push(b'\n');
        let sig = serde_json::to_vec(&SignatureFile::sign(&bytes, &[&self.key])).unwrap();
        std::fs::write(self.root.join("catalog.json"), bytes).unwrap();
        std::fs::write(self.root.join("catalog.json.sig"), sig).unwrap();
    }

    /// One offer line for a hierarchy at a site version, served from `base` (`http://127.0.0.1:PORT`).
    pub fn offer(&self, base: &str, hierarchy: &str, full_version: &str) -> String {
        let full: sct::core::version::CmVersion = full_version.parse().unwrap();
        let hierarchy_id: Uuid = hierarchy.parse().unwrap();
        let offer = Offer {
            schema: sct::core::document::Tag::new(),
            hierarchy_id,
            site_code: "PS1".into(),
            site_version: full.site_version(),
            full_version: full,
            usage_cab: "UsageData.cab".into(),
            catalog_url: format!("{base}/catalog.json"),
            packs_url: format!("{base}/packs/"),
            receipt: Receipt {
                schema: sct::core::document::Tag::new(),
                hierarchy_id,
                site_code: "PS1".into(),
                site_version: full.site_version(),
                full_version: full,
                received_at: "2026-11-26T10:00:00Z".into(),
                sha256: "0".repeat(64),
                catalog_url: format!("{base}/catalog.json"),
                catalog_version: 1,
            },
        };
        let mut line = serde_json::to_string(&offer).unwrap();
        line.push('\n');
        line
    }
}

/// How the test server misbehaves for one path.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer a Range request with `200` and the whole file.
    IgnoreRange,
    /// Answer a request for the whole file with `206` and the part from byte `from` on.
    PartialFrom { from: u64 },
    /// Send the headers and the first `bytes` of the body, then close the connection, `times` times.
    CutAfter { bytes: usize, times: usize },
    /// Send the first `bytes` of the body, then stall until the server stops.
    StallAfter { bytes: usize },
    /// Send the first `bytes` of the body, then reset the connection (TCP RST, not a clean close).
    ResetAfter { bytes: usize },
    /// Send the first `bytes` of the body, then one byte a second: never stalled long enough for
    /// a read timeout, never done.
    Trickle { bytes: usize },
    /// Answer `503 Service Unavailable`.
    Status503,
    /// Send the body with the byte at offset `at` (from the start of the answer) flipped.
    FlipByte { at: u64 },
}

/// One request the test server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub range: Option<String>,
    /// The `Proxy-Authorization` header, when the server is used as a proxy.
    pub proxy_auth: Option<String>,
}

/// A minimal HTTP/1.1 static server over `root`, with Range support and injectable faults.
pub struct TestServer {
    pub base: String,
    root: PathBuf,
    stop: Arc<AtomicBool>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    faults: Arc<Mutex<HashMap<String, Fault>>>,
    port: u16,
    /// When set, the server acts as a proxy that wants this `Proxy-Authorization` value.
    pub proxy_auth: Arc<Mutex<Option<String>>>,
    /// When set, pack downloads fail at random (see [`Chaos`]).
    chaos: Arc<Mutex<Option<Chaos>>>,
}

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
    fn next(&mut self) -> u64 {
        // xorshift64*: small, seeded, good enough to pick faults.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Decides one request's fault for the file at `path` of `size` bytes, asked from `start`.
    fn pick(&mut self, path: &str, size: u64, start: u64, ranged: bool) -> Option<Fault> {
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

impl TestServer {
    pub fn start(root: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = Self {
            base: format!("http://127.0.0.1:{port}"),
            root: root.to_owned(),
            stop: Arc::new(AtomicBool::new(false)),
            seen: Arc::default(),
            faults: Arc::default(),
            port,
            proxy_auth: Arc::default(),
            chaos: Arc::default(),
        };
        let (root, stop, seen, faults, auth, chaos) = (
            server.root.clone(),
            server.stop.clone(),
            server.seen.clone(),
            server.faults.clone(),
            server.proxy_auth.clone(),
            server.chaos.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, stop, seen, faults, auth, chaos) = (
                    root.clone(),
                    stop.clone(),
                    seen.clone(),
                    faults.clone(),
                    auth.clone(),
                    chaos.clone(),
                );
                std::thread::spawn(move || {
                    let wanted = auth.lock().unwrap().clone();
                    let kit = Kit {
                        stop: &stop,
                        seen: &seen,
                        faults: &faults,
                        chaos: &chaos,
                    };
                    let _ = serve(stream, &root, &kit, wanted.as_deref());
                });
            }
        });
        server
    }

    /// Makes the server misbehave for a catalog path (`<GUID>/file`).
    pub fn fault(&self, catalog_path: &str, fault: Fault) {
        self.faults
            .lock()
            .unwrap()
            .insert(format!("/packs/{catalog_path}"), fault);
    }

    /// Makes every pack download fail at random, `percent` of the time, from `seed`.
    pub fn chaos(&self, seed: u64, percent: u64) {
        *self.chaos.lock().unwrap() = Some(Chaos {
            seed: splitmix(seed),
            streams: HashMap::new(),
            state: 1,
            percent,
            injected: [0; 6],
        });
    }

    /// How many faults of each kind chaos injected (see [`CHAOS_KINDS`]).
    pub fn injected(&self) -> [usize; 6] {
        self.chaos
            .lock()
            .unwrap()
            .as_ref()
            .map_or([0; 6], |c| c.injected)
    }

    pub fn clear_faults(&self) {
        self.faults.lock().unwrap().clear();
    }

    /// Requests seen for a catalog path.
    pub fn requests(&self, catalog_path: &str) -> Vec<Seen> {
        let want = format!("/packs/{catalog_path}");
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == want)
            .cloned()
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The shared state one connection's handler reads.
struct Kit<'a> {
    stop: &'a AtomicBool,
    seen: &'a Mutex<Vec<Seen>>,
    faults: &'a Mutex<HashMap<String, Fault>>,
    chaos: &'a Mutex<Option<Chaos>>,
}

fn serve(
    mut stream: TcpStream,
    root: &Path,
    kit: &Kit<'_>,
    wanted_auth: Option<&str>,
) -> std::io::Result<()> {
    let (stop, seen, faults) = (kit.stop, kit.seen, kit.faults);
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/");
    // A proxy receives the absolute URL; serve its path from the same folder.
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]).to_owned(),
        None => target.to_owned(),
    };
    let mut range = None;
    let mut proxy_auth = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_owned());
            } else if name.eq_ignore_ascii_case("proxy-authorization") {
                proxy_auth = Some(value.trim().to_owned());
            }
        }
    }
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        range: range.clone(),
        proxy_auth: proxy_auth.clone(),
    });
    if let Some(wanted) = wanted_auth
        && proxy_auth.as_deref() != Some(wanted)
    {
        return stream.write_all(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let fault = {
        let mut faults = faults.lock().unwrap();
        let fault = faults.get(&path).cloned();
        if let Some(Fault::CutAfter { bytes, times }) = &fault {
            if *times <= 1 {
                faults.remove(&path);
            } else {
                faults.insert(
                    path.clone(),
                    Fault::CutAfter {
                        bytes: *bytes,
                        times: times - 1,
                    },
                );
            }
        }
        fault
    };
    let decoded = path.replace("%20", " ");
    let file_path = root.join(decoded.trim_start_matches('/'));
    let Ok(mut file) = std::fs::File::open(&file_path) else {
        return stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let size = file.metadata()?.len();
    let requested = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    let fault = match (fault, kit.chaos.lock().unwrap().as_mut()) {
        (None, Some(chaos)) if path.starts_with("/packs/") && requested < size => {
            chaos.pick(&path, size, requested, range.is_some())
        }
        (fault, _) => fault,
    };
    if let Some(Fault::Status503) = fault {
        return stream.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let start = match (&range, &fault) {
        (_, Some(Fault::IgnoreRange)) => 0,
        (_, Some(Fault::PartialFrom { from })) => (*from).min(size),
        (Some(r), _) => r
            .strip_prefix("bytes=")
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0),
        (None, _) => 0,
    };
    if start >= size && size > 0 {
        return stream.write_all(
            b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let head = if start > 0 {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{size}\r\nConnection: close\r\n\r\n",
            size - start,
            size - 1
        )
    } else {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n")
    };
    stream.write_all(head.as_bytes())?;
    file.seek(SeekFrom::Start(start))?;
    let limit = match fault {
        Some(Fault::CutAfter { bytes, .. })
        | Some(Fault::StallAfter { bytes })
        | Some(Fault::ResetAfter { bytes })
        | Some(Fault::Trickle { bytes }) => bytes as u64,
        _ => u64::MAX,
    };
    let mut body = file.take(limit);
    if let Some(Fault::FlipByte { at }) = fault {
        let mut bytes = Vec::new();
        body.read_to_end(&mut bytes)?;
        if let Some(byte) = bytes.get_mut(at as usize) {
            *byte ^= 0x5A;
        }
        stream.write_all(&bytes)?;
    } else {
        std::io::copy(&mut body, &mut stream)?;
    }
    stream.flush()?;
    match fault {
        Some(Fault::StallAfter { .. }) => {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(Fault::ResetAfter { .. }) => reset(&stream)?,
        Some(Fault::Trickle { .. }) => {
            let mut rest = body.into_inner();
            let mut byte = [0u8; 1];
            while !stop.load(Ordering::SeqCst) && rest.read(&mut byte)? == 1 {
                stream.write_all(&byte)?;
                stream.flush()?;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Makes closing `stream` send a TCP RST instead of a FIN (SO_LINGER with a zero timeout), as a
/// crashed server or a middlebox dropping the connection would.
fn reset(stream: &TcpStream) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized `linger` value.
    let done = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    match done {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// nginx serving a folder on 127.0.0.1, unprivileged, in the foreground; stopped on drop.
pub struct Nginx {
    pub base: String,
    child: std::process::Child,
}

impl Nginx {
    pub fn start(root: &Path, work: &Path) -> Self {
        Self::start_with(root, work, None)
    }

    /// nginx over HTTPS with this certificate and key (PEM files); `base` is `https://127.0.0.1:PORT`.
    pub fn start_tls(root: &Path, work: &Path, cert: &Path, key: &Path) -> Self {
        Self::start_with(root, work, Some((cert, key)))
    }

    fn start_with(root: &Path, work: &Path, tls: Option<(&Path, &Path)>) -> Self {
        crate::support::require_tool("nginx");
        std::fs::create_dir_all(work.join("tmp")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let w = work.display();
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {w}/nginx.pid;\nerror_log {w}/error.log;\n{user}\
             events {{ worker_connections 64; }}\n\
             http {{\n access_log off;\n sendfile on;\n default_type application/octet-stream;\n\
             client_body_temp_path {w}/tmp/body;\n proxy_temp_path {w}/tmp/proxy;\n\
             fastcgi_temp_path {w}/tmp/fastcgi;\n uwsgi_temp_path {w}/tmp/uwsgi;\n scgi_temp_path {w}/tmp/scgi;\n\
             server {{ listen 127.0.0.1:{port}{ssl}; root {root}; {certs}}}\n}}\n",
            user = if is_root() { "user root;\n" } else { "" },
            root = root.display(),
            ssl = if tls.is_some() { " ssl" } else { "" },
            certs = tls.map_or(String::new(), |(cert, key)| format!(
                "ssl_certificate {}; ssl_certificate_key {}; ",
                cert.display(),
                key.display()
            )),
        );
        let conf_path = work.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = std::process::Command::new("nginx")
            .arg("-p")
            .arg(work)
            .arg("-c")
            .arg(&conf_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx starts");
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Self {
            base: format!(
                "{}://127.0.0.1:{port}",
                if tls.is_some() { "https" } else { "http" }
            ),
            child,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM, not KILL: a killed master leaves its worker running.
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// True when the tests run as root (permissions do not stop root; tests use mounts instead).
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Reads a whole stream of JSON lines.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Reads a file, for comparing with served bytes.
pub fn read(path: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

/// A test CA and a leaf certificate for 127.0.0.1 signed by it (openssl CLI); returns
/// (ca.pem, leaf.pem, leaf.key). rustls refuses a self-signed leaf, hence the two levels.
pub fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    crate::support::require_tool("openssl");
    std::fs::create_dir_all(dir).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=sct test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    )
}
