//! sct-serve under abuse, from anyone who can reach it: slow connections beyond its descriptor
//! limit, an upload flood, forged Host headers, anonymous uploads, a full upload store. Loopback
//! only; every flood is bounded in connections and time and stops by itself.

use crate::exit::assert_exit;
use crate::kit::{
    HIERARCHY_A, Server, TOKEN, post_usage, published, raw_request, stored, usage_cab,
};
use crate::support::{Env, stderr_of};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The descriptor limit the flooded server runs with.
const SERVER_FD_LIMIT: u64 = 256;
/// Slow connections held open at once: more than the server has descriptors.
const SLOW_CONNECTIONS: usize = 320;
/// Addresses the slow connections come from (127.0.0.2 and up), 16 each.
const SLOW_ADDRESSES: usize = 20;
/// Upper bound on the whole flood, whatever happens.
const FLOOD_LIMIT: Duration = Duration::from_secs(90);

/// A TCP connection to `server` from the loopback address `127.0.0.<last>`.
fn connect_from(last: u8, server: SocketAddr) -> std::io::Result<TcpStream> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, last], 0)))?;
        socket.connect(server).await
    })?;
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// Holds up to [`SLOW_CONNECTIONS`] connections that send a request head one line at a time and
/// never finish it, reopening those the server closes, until `stop` (or [`FLOOD_LIMIT`]).
fn slow_flood(server: SocketAddr, stop: Arc<AtomicBool>, opened: Arc<AtomicUsize>) {
    let started = Instant::now();
    let mut open: Vec<Option<TcpStream>> = (0..SLOW_CONNECTIONS).map(|_| None).collect();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < FLOOD_LIMIT {
        for (n, slot) in open.iter_mut().enumerate() {
            let line: &[u8] = match slot {
                Some(_) => b"x-slow: 1\r\n",
                None => b"GET /catalog/catalog.json HTTP/1.1\r\nhost: flood\r\n",
            };
            if slot.is_none() {
                let last = 2 + (n % SLOW_ADDRESSES) as u8;
                *slot = connect_from(last, server).ok();
                if slot.is_some() {
                    opened.fetch_add(1, Ordering::Relaxed);
                }
            }
            if let Some(stream) = slot
                && stream.write_all(line).is_err()
            {
                *slot = None;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Uploads that never finish (holding upload slots) and anonymous ones, until `stop`.
fn upload_flood(server: SocketAddr, stop: Arc<AtomicBool>, answered: Arc<AtomicUsize>) {
    let started = Instant::now();
    let mut rounds = 0;
    while !stop.load(Ordering::Relaxed) && started.elapsed() < FLOOD_LIMIT && rounds < 200 {
        rounds += 1;
        let Ok(mut stream) = connect_from(100, server) else {
            continue;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let auth = if rounds % 2 == 0 {
            format!("authorization: Bearer {TOKEN}\r\n")
        } else {
            String::new()
        };
        let head = format!(
            "POST /api/v1/usage HTTP/1.1\r\nhost: flood\r\n{auth}content-length: 10000000\r\n\r\nMSCF"
        );
        let _ = stream.write_all(head.as_bytes());
        let mut answer = [0u8; 12];
        if stream.read(&mut answer).is_ok_and(|n| n > 0) {
            answered.fetch_add(1, Ordering::Relaxed);
        }
        // Unanswered (a slot is being held): leave it open a while, then let it go.
    }
}

/// Starts a server whose process may open at most `fds` descriptors.
fn server_with_fd_limit(env: &Env, root: &std::path::Path, extra: &[&str], fds: u64) -> Server {
    Server::start_with(env, root, extra, &[], |cmd| {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe and touches nothing but the child.
        unsafe {
            cmd.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: fds,
                    rlim_max: fds,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    })
}

/// One catalog GET on a fresh connection from 127.0.0.1; the status and body, or why not.
fn get_catalog(server: SocketAddr) -> Result<(u16, Vec<u8>), String> {
    let mut stream = TcpStream::connect(server).map_err(|e| format!("connect: {e}"))?;
    // A bound so a starved server fails the test instead of hanging it.
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(
            b"GET /catalog/catalog.json HTTP/1.1\r\nhost: legit\r\nconnection: close\r\n\r\n",
        )
        .map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    let (head, _) = text.split_once("\r\n\r\n").ok_or("no HTTP answer")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    let body_at = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    Ok((status, answer[body_at..].to_vec()))
}

#[test]
fn catalog_gets_are_answered_under_a_slow_connection_and_upload_flood() {
    let env = Env::new();
    let site = published(&env);
    let catalog = std::fs::read(site.root.join("catalog/catalog.json")).unwrap();
    let mut server = server_with_fd_limit(
        &env,
        &site.root,
        // Slow connections are not timed out while the test runs: only the connection limits
        // and the eviction of idle connections can keep the downloads answered.
        &["--header-timeout", "300"],
        SERVER_FD_LIMIT,
    );
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let slow = {
        let (stop, opened) = (stop.clone(), opened.clone());
        std::thread::spawn(move || slow_flood(addr, stop, opened))
    };
    let uploads: Vec<_> = (0..4)
        .map(|_| {
            let (stop, answered) = (stop.clone(), answered.clone());
            std::thread::spawn(move || upload_flood(addr, stop, answered))
        })
        .collect();
    // Let the flood take every slot before the legitimate client comes (a readiness wait).
    for _ in 0..300 {
        if opened.load(Ordering::Relaxed) >= SLOW_CONNECTIONS {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut failures = Vec::new();
    for n in 0..30 {
        match get_catalog(addr) {
            Ok((200, body)) if body == catalog => {}
            Ok((status, _)) => failures.push(format!("GET {n}: status {status}")),
            Err(why) => failures.push(format!("GET {n}: {why}")),
        }
        if failures.len() >= 3 {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    slow.join().unwrap();
    uploads.into_iter().for_each(|t| t.join().unwrap());
    let opened = opened.load(Ordering::Relaxed);
    assert!(
        opened as u64 > SERVER_FD_LIMIT,
        "the flood opened {opened} connections, not more than the server's {SERVER_FD_LIMIT} descriptors"
    );
    assert!(
        answered.load(Ordering::Relaxed) > 0,
        "the upload flood reached the service"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        server.process.child.try_wait().unwrap().is_none(),
        "the server survived the flood"
    );
    // Nothing of the flood is kept: half-received uploads go once their connection is gone
    // (a bounded wait for the server to notice, not a timing assertion).
    for _ in 0..300 {
        if stored(&site.root).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(stored(&site.root).is_empty(), "{:?}", stored(&site.root));
    // Once the flood is gone, a real upload goes through.
    let cab = usage_cab(&env, "ps1", "PS1", "5.00.9128.1000", HIERARCHY_A);
    let (status, receipt) = post_usage(addr, &std::fs::read(&cab).unwrap());
    assert_eq!(status, 200, "{receipt}");
}

#[test]
fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &["--header-timeout", "1"], &[]);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .write_all(b"GET /catalog/catalog.json HTTP/1.1\r\nhost: slow\r\n")
        .unwrap();
    // A bound far above the 1 s limit, so only a server that never times out fails here.
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
}

#[test]
fn receipts_name_the_configured_address_never_the_host_header() {
    let env = Env::new();
    let site = published(&env);
    let cab = std::fs::read(usage_cab(&env, "ps1", "PS1", "5.00.9128.1000", HIERARCHY_A)).unwrap();
    let forged = |addr: SocketAddr| {
        let mut stream = TcpStream::connect(addr).unwrap();
        let head = format!(
            "POST /api/v1/usage HTTP/1.1\r\nhost: evil.example.org\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            cab.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&cab).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (_, body) = answer.split_once("\r\n\r\n").unwrap();
        serde_json::from_str::<serde_json::Value>(body).unwrap()
    };
    let server = Server::start(&env, &site.root, &[], &[]);
    let receipt = forged(server.addr);
    assert_eq!(
        receipt["catalog_url"],
        format!("{}/catalog/catalog.json", server.url),
        "{receipt}"
    );
    drop(server);
    let public = Server::start(
        &env,
        &site.root,
        &["--public-url", "https://downloads.example.org/sct/"],
        &[],
    );
    let receipt = forged(public.addr);
    assert_eq!(
        receipt["catalog_url"],
        "https://downloads.example.org/sct/catalog/catalog.json"
    );
}

#[test]
fn uploads_need_a_token_unless_the_operator_allows_anonymous_ones() {
    let env = Env::new();
    let site = published(&env);
    let run = |args: &[&str], vars: &[(&str, &str)]| {
        let mut cmd = env.cmd("sct-serve");
        cmd.args(["run", "--bind", "127.0.0.1:0", "--root"])
            .arg(&site.root)
            .args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.timeout(Duration::from_secs(60)).output().unwrap()
    };
    let refused = run(&[], &[]);
    assert_exit!(refused, Usage);
    let text = stderr_of(&refused);
    assert!(
        text.contains("SCT_SERVICE_TOKEN") && text.contains("--allow-anonymous-uploads"),
        "{text}"
    );
    let both = run(
        &["--allow-anonymous-uploads"],
        &[("SCT_SERVICE_TOKEN", "t")],
    );
    assert_exit!(both, Usage);
    let wildcard = env
        .cmd("sct-serve")
        .args(["run", "--bind", "0.0.0.0:0", "--root"])
        .arg(&site.root)
        .env("SCT_SERVICE_TOKEN", "t")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_exit!(wildcard, Usage);
    assert!(stderr_of(&wildcard).contains("--public-url"));
    let with_password = run(
        &["--public-url", "https://u:pw@downloads.example.org"],
        &[("SCT_SERVICE_TOKEN", "t")],
    );
    assert_exit!(with_password, Usage);
    assert!(!stderr_of(&with_password).contains("pw@"));

    // Anonymous uploads, when asked for, need no Authorization header at all.
    let server = Server::start(&env, &site.root, &["--allow-anonymous-uploads"], &[]);
    let cab = std::fs::read(usage_cab(&env, "ps1", "PS1", "5.00.9128.1000", HIERARCHY_A)).unwrap();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let head = format!(
        "POST /api/v1/usage HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        cab.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&cab).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn the_upload_quota_refuses_what_does_not_fit_and_stores_nothing() {
    let env = Env::new();
    let site = published(&env);
    let ps1 = std::fs::read(usage_cab(&env, "ps1", "PS1", "5.00.9128.1000", HIERARCHY_A)).unwrap();
    let server = Server::start(&env, &site.root, &["--upload-quota-files", "1"], &[]);
    let (status, receipt) = post_usage(server.addr, &ps1);
    assert_eq!(status, 200, "{receipt}");
    let (status, refused) = post_usage(server.addr, &ps1);
    assert_eq!(status, 507, "{refused}");
    assert_eq!(refused["error"], "quota_exceeded");
    let cabs: Vec<_> = stored(&site.root)
        .into_iter()
        .filter(|p| p.ends_with(".cab"))
        .collect();
    assert_eq!(cabs.len(), 1, "{cabs:?}");
    drop(server);
    // The quota counts what is already stored when the server starts; bytes count too.
    let server = Server::start(&env, &site.root, &["--upload-quota", "100"], &[]);
    let (status, refused) = post_usage(server.addr, &ps1);
    assert_eq!(status, 507, "{refused}");
    let (status, _, _) = raw_request(server.addr, "GET /catalog/catalog.json HTTP/1.1", b"");
    assert_eq!(status, 200, "downloads go on while uploads are refused");
}
