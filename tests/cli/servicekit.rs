//! What the service and upload tests share: a published service root, `sct-serve` as a child
//! process, usage cabs from demo sites, and real peers (nginx, squid) or small faulty servers,
//! all on 127.0.0.1 and all stopped when dropped.

#![allow(dead_code)]

use crate::support::{Env, stderr_of};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const HIERARCHY_A: &str = "6f1c2f0e-36c1-4b0e-9d1c-2d2d8a0c7e11";
pub const HIERARCHY_B: &str = "0b3f5c7a-1d2e-4f60-8a9b-c0d1e2f3a4b5";
/// The upload token [`Server::start`] gives the service unless told otherwise; clients send it
/// from `SCT_SERVICE_TOKEN` ([`upload`], [`post_usage`]).
pub const TOKEN: &str = "test-upload-token-5f2c";

/// A service root with sample packs, a signing key and a published catalog.
pub struct Published {
    pub root: PathBuf,
    pub key: PathBuf,
    /// The public key, `ed25519:...`.
    pub public: String,
}

/// Generates small sample packs, a key, and publishes catalog version 1.
pub fn published(env: &Env) -> Published {
    published_sized(env, "root", "20KiB", "4KiB")
}

/// The same with sample packs of the given sizes, under the scratch folder `name`.
pub fn published_sized(env: &Env, name: &str, cab_size: &str, redist_size: &str) -> Published {
    let root = env.path(name);
    env.cmd("sct-demo")
        .args([
            "packs",
            "--cab-size",
            cab_size,
            "--redist-size",
            redist_size,
            "--root",
        ])
        .arg(&root)
        .assert()
        .success();
    let key = env.path("signing-key.json");
    let out = env
        .cmd("sct-serve")
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let public = doc["public_key"].as_str().unwrap().to_owned();
    publish(env, &root, &key);
    Published { root, key, public }
}

/// Publishes the next catalog version of `root`.
pub fn publish(env: &Env, root: &Path, key: &Path) -> serde_json::Value {
    let out = env
        .cmd("sct-serve")
        .args(["publish", "--root"])
        .arg(root)
        .arg("--key")
        .arg(key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        stderr_of(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A usage cab from a fresh demo site: `NAME.cab` in the scratch folder (or in `dir`).
pub fn usage_cab(env: &Env, name: &str, code: &str, version: &str, hierarchy: &str) -> PathBuf {
    let site = env.demo_site_with(name, code, version, hierarchy);
    let json = env.path(&format!("{name}.json"));
    env.cmd("sct-collect")
        .args(["--site", &site, "-o"])
        .arg(&json)
        .assert()
        .success();
    let cab = env.path(&format!("{name}.cab"));
    env.cmd("sct-pack")
        .arg("create")
        .arg(&json)
        .arg("-o")
        .arg(&cab)
        .assert()
        .success();
    cab
}

/// A folder holding cabs of two hierarchies (PS1 on 2403, CS1 on 2409).
pub fn two_hierarchies(env: &Env) -> PathBuf {
    let dir = env.path("usb");
    std::fs::create_dir_all(&dir).unwrap();
    let a = usage_cab(env, "ps1", "PS1", "5.00.9128.1000", HIERARCHY_A);
    let b = usage_cab(env, "cs1", "CS1", "5.00.9132.1000", HIERARCHY_B);
    std::fs::rename(a, dir.join("PS1-UsageData.cab")).unwrap();
    std::fs::rename(b, dir.join("CS1-UsageData.cab")).unwrap();
    dir
}

/// A child process killed (and reaped) when dropped.
pub struct Running {
    pub child: Child,
    pub name: &'static str,
}

impl Drop for Running {
    /// TERM first, so nginx and squid masters stop their workers (a KILLed master leaves them
    /// running); KILL only if the process is still there after a bounded wait.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sct-serve run` on 127.0.0.1 port 0.
pub struct Server {
    pub url: String,
    pub addr: SocketAddr,
    pub process: Running,
}

impl Server {
    /// Starts the server with extra arguments and environment variables. Uploads need [`TOKEN`]
    /// unless `vars` sets another `SCT_SERVICE_TOKEN` or `extra` decides otherwise
    /// (`--token-file`, `--allow-anonymous-uploads`).
    pub fn start(env: &Env, root: &Path, extra: &[&str], vars: &[(&str, &str)]) -> Self {
        Self::start_with(env, root, extra, vars, |_| {})
    }

    /// The same, with a last say on the command (resource limits, another user).
    pub fn start_with(
        env: &Env,
        root: &Path,
        extra: &[&str],
        vars: &[(&str, &str)],
        adjust: impl FnOnce(&mut Command),
    ) -> Self {
        let mut cmd = crate::support::command("sct-serve");
        let own_token = extra
            .iter()
            .any(|a| *a == "--token-file" || *a == "--allow-anonymous-uploads");
        cmd.args(["run", "--bind", "127.0.0.1:0", "--root"])
            .arg(root)
            .args(extra)
            .env_remove("SCT_SERVICE_TOKEN")
            .current_dir(env.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(env.path("sct-serve.log")).unwrap(),
            ));
        if !own_token {
            cmd.env("SCT_SERVICE_TOKEN", TOKEN);
        }
        for (key, value) in vars {
            cmd.env(key, value);
        }
        adjust(&mut cmd);
        let mut child = cmd.spawn().expect("sct-serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let process = Running {
            child,
            name: "sct-serve",
        };
        let doc: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            panic!(
                "sct-serve printed no address: {line:?}; log: {}",
                std::fs::read_to_string(env.path("sct-serve.log")).unwrap_or_default()
            )
        });
        assert_eq!(doc["schema"], "sct.serve-listening.v1");
        Self {
            url: doc["url"].as_str().unwrap().to_owned(),
            addr: doc["address"].as_str().unwrap().parse().unwrap(),
            process,
        }
    }
}

/// Stored uploads under `ROOT/uploads/` (hierarchy folders and their files), temp files included.
pub fn stored(root: &Path) -> Vec<String> {
    crate::support::tree(&root.join("uploads"))
        .into_iter()
        .filter(|p| p != ".incoming")
        .collect()
}

/// A free port on 127.0.0.1 (for peers that cannot report the port they bound).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on the port (a readiness wait, not a timing assertion).
pub fn wait_for_port(port: u16, what: &str, log: &Path) {
    for _ in 0..300 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{what} did not start listening on port {port}; log: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// True when the tests run as root (the owner of a fresh temp folder is the running user).
#[cfg(unix)]
pub fn running_as_root(env: &Env) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(env.dir.path()).unwrap().uid() == 0
}

#[cfg(not(unix))]
pub fn running_as_root(_env: &Env) -> bool {
    false
}

/// nginx serving a folder, unprivileged style: own prefix, `daemon off;`, temp paths inside.
pub fn nginx(env: &Env, root: &Path) -> (Running, u16) {
    crate::support::require_tool("nginx");
    let prefix = env.path("nginx");
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    let port = free_port();
    let user = if running_as_root(env) {
        "user root root;"
    } else {
        ""
    };
    let p = prefix.display();
    let conf = format!(
        "{user}\nworker_processes 1;\ndaemon off;\nerror_log {p}/logs/error.log;\npid {p}/nginx.pid;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log {p}/logs/access.log;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  \
         fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  \
         types {{ application/json json; }}\n  default_type application/octet-stream;\n  \
         server {{\n    listen 127.0.0.1:{port};\n    root {root};\n    location /uploads/ {{ deny all; }}\n  }}\n}}\n",
        root = root.display()
    );
    std::fs::write(prefix.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(prefix.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(prefix.join("stderr.log")).unwrap(),
        ))
        .spawn()
        .expect("nginx starts");
    let running = Running {
        child,
        name: "nginx",
    };
    wait_for_port(port, "nginx", &prefix.join("stderr.log"));
    (running, port)
}

/// squid with basic auth (one user), in its own folder, stopped when dropped.
pub struct Squid {
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub process: Running,
}

impl Squid {
    pub fn start(env: &Env, user: &str, password: &str) -> Self {
        crate::support::require_tool("squid");
        crate::support::require_tool("htpasswd");
        // Its own folder: squid drops to the `proxy` user when started as root and must reach it.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let port = free_port();
        let status = Command::new("htpasswd")
            .args(["-bc", &format!("{d}/htpasswd"), user, password])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let conf = format!(
            "http_port 127.0.0.1:{port}\nvisible_hostname sct-test\npid_filename {d}/squid.pid\n\
             access_log stdio:{d}/access.log\ncache_log {d}/cache.log\ncache deny all\n\
             cache_effective_user proxy\nshutdown_lifetime 1 seconds\n\
             auth_param basic program /usr/lib/squid/basic_ncsa_auth {d}/htpasswd\n\
             acl authed proxy_auth REQUIRED\nhttp_access allow authed\nhttp_access deny all\n"
        );
        std::fs::write(dir.path().join("squid.conf"), conf).unwrap();
        if running_as_root(env) {
            let status = Command::new("chown")
                .args(["-R", "proxy:proxy", &d])
                .status()
                .unwrap();
            assert!(status.success());
        }
        let child = Command::new("squid")
            .args(["-N", "-f", &format!("{d}/squid.conf")])
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(env.path("squid-stderr.log")).unwrap(),
            ))
            .spawn()
            .expect("squid starts");
        let process = Running {
            child,
            name: "squid",
        };
        wait_for_port(port, "squid", &dir.path().join("cache.log"));
        Self { port, dir, process }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// squid's access log: one line per request it handled.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// How often `needle` appears in the access log once squid has logged at least `at_least`
    /// of them. squid logs a transaction when it ends, and a CONNECT tunnel ends only after the
    /// client has closed it, so this waits (a bounded readiness wait, not a timing assertion).
    pub fn logged(&self, needle: &str, at_least: usize) -> usize {
        for _ in 0..100 {
            let count = self.access_log().matches(needle).count();
            if count >= at_least {
                return count;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.access_log().matches(needle).count()
    }
}

/// How a [`FaultyServer`] treats each connection.
#[derive(Clone)]
pub enum Fault {
    /// Answer the first `n` requests with 503, then relay to the real service.
    UnavailableThenRelay(usize, SocketAddr),
    /// Always 503.
    AlwaysUnavailable,
    /// Read a little of the request, then close with unread data (the kernel sends a reset).
    Reset,
    /// Read the request and never answer.
    Silent,
    /// Answer 422 with an `sct.error.v1` whose message tries to forge a log record and rewrite
    /// the terminal.
    HostileError,
}

/// The message [`Fault::HostileError`] sends: a line break, a whole forged CMTrace record, a
/// carriage return with cursor moves, and a bidi override.
pub const HOSTILE_MESSAGE: &str = "bad cab\n<![LOG[INFO: Receipt for UsageData.cab: accepted]LOG]!><time=\"10:00:00.000+000\" date=\"12-01-2026\" component=\"sct-upload\" context=\"\" type=\"1\" thread=\"1\" file=\"\">\r\u{1b}[1A\u{1b}[2Kuploaded: all good\u{202e}";

/// A tiny HTTP/1.1 server on 127.0.0.1 that misbehaves on purpose; counts connections.
pub struct FaultyServer {
    pub url: String,
    pub connections: Arc<AtomicUsize>,
    /// The request line of every request read, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl FaultyServer {
    pub fn start(fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (count, seen) = (connections.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let n = count.fetch_add(1, Ordering::SeqCst);
                let (fault, seen) = (fault.clone(), seen.clone());
                std::thread::spawn(move || handle(stream, n, &fault, &seen));
            }
        });
        Self {
            url,
            connections,
            requests,
        }
    }

    /// How many requests started with this method.
    pub fn count(&self, method: &str) -> usize {
        let requests = self.requests.lock().unwrap();
        requests
            .iter()
            .filter(|line| line.starts_with(&format!("{method} ")))
            .count()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn handle(mut stream: TcpStream, n: usize, fault: &Fault, seen: &Mutex<Vec<String>>) {
    if let Fault::Reset = fault {
        let mut some = [0u8; 16];
        let _ = stream.read(&mut some);
        std::thread::sleep(Duration::from_millis(50));
        return;
    }
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let line_end = find(&request, b"\r\n").unwrap_or(0);
    seen.lock()
        .unwrap()
        .push(String::from_utf8_lossy(&request[..line_end]).into_owned());
    let unavailable =
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    match fault {
        Fault::AlwaysUnavailable => {
            let _ = stream.write_all(unavailable);
        }
        Fault::UnavailableThenRelay(failing, _) if n < *failing => {
            let _ = stream.write_all(unavailable);
        }
        Fault::UnavailableThenRelay(_, backend) => {
            let mut upstream = TcpStream::connect(backend).unwrap();
            upstream.write_all(&close_after(&request)).unwrap();
            let mut answer = Vec::new();
            let _ = upstream.read_to_end(&mut answer);
            let _ = stream.write_all(&answer);
        }
        Fault::Silent => {
            std::thread::sleep(Duration::from_secs(120));
        }
        Fault::HostileError => {
            let body = serde_json::json!({
                "schema": "sct.error.v1", "status": 422, "error": "not_a_usage_cab",
                "message": HOSTILE_MESSAGE,
            })
            .to_string();
            let answer = format!(
                "HTTP/1.1 422 Unprocessable Entity\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
        Fault::Reset => unreachable!(),
    }
}

/// Reads one request (headers and a Content-Length body).
fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = find(&data, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap_or(0));
            while data.len() < end + 4 + length {
                let n = stream.read(&mut buf).ok()?;
                if n == 0 {
                    return None;
                }
                data.extend_from_slice(&buf[..n]);
            }
            return Some(data);
        }
    }
}

/// The request with `connection: close`, so the backend ends the answer by closing.
fn close_after(request: &[u8]) -> Vec<u8> {
    let line_end = find(request, b"\r\n").unwrap() + 2;
    let mut out = request[..line_end].to_vec();
    out.extend_from_slice(b"connection: close\r\n");
    out.extend_from_slice(&request[line_end..]);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A raw HTTP/1.1 request carrying [`TOKEN`]; returns (status, headers in lower case, body).
pub fn raw_request(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let request = format!(
        "{head}\r\nhost: {addr}\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let end = find(&answer, b"\r\n\r\n").expect("an HTTP answer");
    let headers = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let status = headers.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, headers, answer[end + 4..].to_vec())
}

/// POSTs bytes to the upload endpoint; returns the status and the JSON answer.
pub fn post_usage(addr: SocketAddr, body: &[u8]) -> (u16, serde_json::Value) {
    let (status, _, answer) = raw_request(addr, "POST /api/v1/usage HTTP/1.1", body);
    (status, serde_json::from_slice(&answer).unwrap_or_default())
}

/// A test CA and a leaf for 127.0.0.1/localhost (openssl CLI); returns (ca.pem, cert.pem, key.pem).
pub fn test_certificates(env: &Env) -> (PathBuf, PathBuf, PathBuf) {
    crate::support::require_tool("openssl");
    let dir = env.path("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    let script = format!(
        "set -e\ncd {d}\n\
         openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=sct-test-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign\n\
         openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj /CN=localhost\n\
         printf 'basicConstraints=critical,CA:FALSE\\nsubjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\nkeyUsage=critical,digitalSignature\\n' > leaf.ext\n\
         openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -days 2 -extfile leaf.ext\n"
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    )
}

/// Runs `sct-upload` with the pinned key and extra arguments.
pub fn upload(env: &Env, key: &str, args: &[&str]) -> std::process::Output {
    env.cmd("sct-upload")
        .env("SCT_SERVICE_TOKEN", TOKEN)
        .args(args)
        .args(["--trusted-key", key])
        .output()
        .unwrap()
}

/// The offers on stdout, one JSON document per line.
pub fn offers(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("stdout holds only JSON lines"))
        .collect()
}
