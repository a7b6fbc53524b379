//! The kit's own HTTP/1.1 server on 127.0.0.1, for what a real peer will not do on demand: it
//! serves a folder with Range support, acts as a proxy that wants credentials, and misbehaves on
//! purpose — per path (a download cut, stalled, reset, flipped), at random ([`Chaos`]), or on
//! every request (503s, a relay after some 503s, resets, silence, a hostile error answer). One
//! server and one [`Fault`] for downloads and uploads alike.

use super::chaos::Chaos;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use super::chaos::CHAOS_KINDS;

/// How the test server misbehaves: for one path ([`TestServer::fault`]) or for every request
/// ([`TestServer::failing`]).
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
    /// Answer the first `first` connections with 503, then relay every request to `to`.
    UnavailableThenRelay { first: usize, to: SocketAddr },
    /// Read a little of the request, then close with unread data (the kernel sends a reset).
    ResetOnRequest,
    /// Read the request and never answer (until the server stops).
    Silent,
    /// Answer `409 Conflict`: neither success, nor worth a retry, nor about credentials.
    Conflict,
    /// Answer 422 with an `sct.error.v1` whose message tries to forge a log record and rewrite
    /// the terminal ([`HOSTILE_MESSAGE`]).
    HostileError,
}

/// The message [`Fault::HostileError`] sends: a line break, a whole forged CMTrace record, a
/// carriage return with cursor moves, and a bidi override.
pub const HOSTILE_MESSAGE: &str = "bad cab\n<![LOG[INFO: Receipt for UsageData.cab: accepted]LOG]!><time=\"10:00:00.000+000\" date=\"12-01-2026\" component=\"sct-upload\" context=\"\" type=\"1\" thread=\"1\" file=\"\">\r\u{1b}[1A\u{1b}[2Kuploaded: all good\u{202e}";

/// One request the test server read.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    /// The `Proxy-Authorization` header, when the server is used as a proxy.
    pub proxy_auth: Option<String>,
}

/// The server; stopped when dropped.
pub struct TestServer {
    pub base: String,
    root: PathBuf,
    stop: Arc<AtomicBool>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    faults: Arc<Mutex<HashMap<String, Fault>>>,
    /// The fault of every request, for a server that only misbehaves ([`TestServer::failing`]).
    every: Option<Fault>,
    connections: Arc<AtomicUsize>,
    port: u16,
    /// When set, the server acts as a proxy that wants this `Proxy-Authorization` value.
    pub proxy_auth: Arc<Mutex<Option<String>>>,
    /// When set, pack downloads fail at random (see [`Chaos`]).
    chaos: Arc<Mutex<Option<Chaos>>>,
}

/// What one connection's handler reads.
#[derive(Clone)]
struct Shared {
    root: PathBuf,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    faults: Arc<Mutex<HashMap<String, Fault>>>,
    every: Option<Fault>,
    proxy_auth: Arc<Mutex<Option<String>>>,
    chaos: Arc<Mutex<Option<Chaos>>>,
}

impl TestServer {
    /// Serves the folder `root`.
    pub fn start(root: &Path) -> Self {
        Self::listen(loopback(), root, None)
    }

    /// A server that meets every request with `fault`, e.g. `Fault::Status503` or a relay.
    pub fn failing(fault: Fault) -> Self {
        Self::failing_on(loopback(), fault)
    }

    /// The same on a listener the test bound itself (a fixed port such as 80).
    pub fn failing_on(listener: TcpListener, fault: Fault) -> Self {
        Self::listen(listener, Path::new("/nonexistent"), Some(fault))
    }

    fn listen(listener: TcpListener, root: &Path, every: Option<Fault>) -> Self {
        let port = listener.local_addr().unwrap().port();
        let server = Self {
            base: format!("http://127.0.0.1:{port}"),
            root: root.to_owned(),
            stop: Arc::default(),
            seen: Arc::default(),
            faults: Arc::default(),
            every,
            connections: Arc::default(),
            port,
            proxy_auth: Arc::default(),
            chaos: Arc::default(),
        };
        let shared = Shared {
            root: server.root.clone(),
            stop: server.stop.clone(),
            seen: server.seen.clone(),
            faults: server.faults.clone(),
            every: server.every.clone(),
            proxy_auth: server.proxy_auth.clone(),
            chaos: server.chaos.clone(),
        };
        let connections = server.connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let n = connections.fetch_add(1, Ordering::SeqCst);
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, n, &shared);
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
        *self.chaos.lock().unwrap() = Some(Chaos::new(seed, percent));
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

    /// How many requests read had this method.
    pub fn count(&self, method: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|s| s.method == method).count()
    }

    /// How many connections the server accepted (requests or not).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A listener on a free port of 127.0.0.1.
fn loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One request as read: its first line and headers as sent, and the parts the server acts on.
struct Request {
    head: Vec<u8>,
    body: Vec<u8>,
    seen: Seen,
}

/// Reads the request line, the headers and a `Content-Length` body.
fn read_request(reader: &mut impl BufRead) -> std::io::Result<Request> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("").to_owned();
    let target = words.next().unwrap_or("/");
    // A proxy receives the absolute URL; serve its path from the same folder.
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]).to_owned(),
        None => target.to_owned(),
    };
    let mut head = line.clone().into_bytes();
    let (mut range, mut proxy_auth, mut length) = (None, None, 0);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            head.extend_from_slice(header.as_bytes());
            break;
        }
        head.extend_from_slice(header.as_bytes());
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim().to_owned();
            if name.eq_ignore_ascii_case("range") {
                range = Some(value);
            } else if name.eq_ignore_ascii_case("proxy-authorization") {
                proxy_auth = Some(value);
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let seen = Seen {
        method,
        path,
        range,
        proxy_auth,
    };
    Ok(Request { head, body, seen })
}

fn serve(mut stream: TcpStream, connection: usize, shared: &Shared) -> std::io::Result<()> {
    if let Some(Fault::ResetOnRequest) = shared.every {
        let mut some = [0u8; 16];
        let _ = stream.read(&mut some);
        std::thread::sleep(Duration::from_millis(50));
        return Ok(());
    }
    let mut reader = BufReader::new(stream.try_clone()?);
    let request = read_request(&mut reader)?;
    shared.seen.lock().unwrap().push(request.seen.clone());
    let wanted_auth = shared.proxy_auth.lock().unwrap().clone();
    if let Some(wanted) = wanted_auth
        && request.seen.proxy_auth.as_deref() != Some(wanted.as_str())
    {
        return stream.write_all(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    match &shared.every {
        Some(Fault::UnavailableThenRelay { first, to }) if connection >= *first => {
            relay(&mut stream, &request, *to)
        }
        Some(Fault::UnavailableThenRelay { .. } | Fault::Status503) => answer_503(&mut stream),
        Some(Fault::Silent) => {
            wait_for_stop(&shared.stop);
            Ok(())
        }
        Some(Fault::HostileError) => hostile_error(&mut stream),
        Some(Fault::Conflict) => stream
            .write_all(b"HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        every => {
            let fault = every
                .clone()
                .or_else(|| path_fault(shared, &request.seen.path));
            serve_file(stream, &request.seen, fault, shared)
        }
    }
}

/// The fault set for a path, counting down a `CutAfter`'s `times`.
fn path_fault(shared: &Shared, path: &str) -> Option<Fault> {
    let mut faults = shared.faults.lock().unwrap();
    let fault = faults.get(path).cloned();
    if let Some(Fault::CutAfter { bytes, times }) = &fault {
        if *times <= 1 {
            faults.remove(path);
        } else {
            let rest = Fault::CutAfter {
                bytes: *bytes,
                times: times - 1,
            };
            faults.insert(path.to_owned(), rest);
        }
    }
    fault
}

fn answer_503(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
}

/// Serves a file from the root, with Range support and the request's fault.
fn serve_file(
    mut stream: TcpStream,
    request: &Seen,
    fault: Option<Fault>,
    shared: &Shared,
) -> std::io::Result<()> {
    let (path, range) = (&request.path, &request.range);
    let decoded = path.replace("%20", " ");
    let file_path = shared.root.join(decoded.trim_start_matches('/'));
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
    let fault = match (fault, shared.chaos.lock().unwrap().as_mut()) {
        (None, Some(chaos)) if path.starts_with("/packs/") && requested < size => {
            chaos.pick(path, size, requested, range.is_some())
        }
        (fault, _) => fault,
    };
    if let Some(Fault::Status503) = fault {
        return answer_503(&mut stream);
    }
    let start = match (range, &fault) {
        (_, Some(Fault::IgnoreRange)) => 0,
        (_, Some(Fault::PartialFrom { from })) => (*from).min(size),
        (Some(_), _) => requested,
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
        Some(Fault::StallAfter { .. }) => wait_for_stop(&shared.stop),
        Some(Fault::ResetAfter { .. }) => reset(&stream)?,
        Some(Fault::Trickle { .. }) => {
            let mut rest = body.into_inner();
            let mut byte = [0u8; 1];
            while !shared.stop.load(Ordering::SeqCst) && rest.read(&mut byte)? == 1 {
                stream.write_all(&byte)?;
                stream.flush()?;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Holds the connection open, saying nothing, until the server stops.
fn wait_for_stop(stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Passes the request on to `backend` with `connection: close`, and its whole answer back.
fn relay(stream: &mut TcpStream, request: &Request, backend: SocketAddr) -> std::io::Result<()> {
    let line_end = find(&request.head, b"\r\n").unwrap() + 2;
    let mut upstream = TcpStream::connect(backend)?;
    upstream.write_all(&request.head[..line_end])?;
    upstream.write_all(b"connection: close\r\n")?;
    upstream.write_all(&request.head[line_end..])?;
    upstream.write_all(&request.body)?;
    let mut answer = Vec::new();
    let _ = upstream.read_to_end(&mut answer);
    stream.write_all(&answer)
}

/// The 422 of [`Fault::HostileError`].
fn hostile_error(stream: &mut TcpStream) -> std::io::Result<()> {
    let body = serde_json::json!({
        "schema": "sct.error.v1", "status": 422, "error": "not_a_usage_cab",
        "message": HOSTILE_MESSAGE,
    })
    .to_string();
    let answer = format!(
        "HTTP/1.1 422 Unprocessable Entity\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(answer.as_bytes())
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

/// Where `needle` first starts in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
