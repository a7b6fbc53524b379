//! The service side: a published service root, `sct-serve run` as a child process, usage cabs
//! from demo sites to send it, and raw requests to its upload endpoint.

use super::http::find;
use super::process::Running;
use super::{HIERARCHY_A, HIERARCHY_B, TOKEN};
use crate::support::{Env, stderr_of};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

/// `sct-serve publish --root ROOT --key KEY`, for the caller to add to and run.
pub fn publish_command(env: &Env, root: &Path, key: &Path) -> assert_cmd::Command {
    let mut cmd = env.cmd("sct-serve");
    cmd.args(["publish", "--root"])
        .arg(root)
        .arg("--key")
        .arg(key);
    cmd
}

/// Publishes the next catalog version of `root`.
pub fn publish(env: &Env, root: &Path, key: &Path) -> serde_json::Value {
    let out = publish_command(env, root, key).output().unwrap();
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

/// The cab most upload tests send: PS1 of hierarchy A at 2403, as a path argument.
pub fn one_cab(env: &Env) -> String {
    usage_cab(env, "ps1", "PS1", "5.00.9128.1000", HIERARCHY_A)
        .display()
        .to_string()
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

/// What a wrapper round trip starts from: a published service, running, and an empty `usb`
/// folder in the scratch folder for the usage cab and the packs.
pub struct Trip {
    pub service: Published,
    pub server: Server,
    pub usb: PathBuf,
}

impl Trip {
    pub fn start(env: &Env) -> Self {
        let service = published(env);
        let server = Server::start(env, &service.root, &[], &[]);
        let usb = env.path("usb");
        std::fs::create_dir(&usb).unwrap();
        Self {
            service,
            server,
            usb,
        }
    }

    /// `ServiceConnectionTool` with these arguments for `site`, as the service's client.
    pub fn wrapper(&self, env: &Env, site: &str, args: &[&str]) -> std::process::Output {
        self.server
            .client(env, "ServiceConnectionTool", &self.service)
            .env("SCT_SITE", site)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Server {
    /// A client of this service (the wrapper, a stage) with the service's URL, the upload token
    /// and the publisher's key in its environment, as an operator's settings would give them.
    pub fn client(&self, env: &Env, bin: &str, service: &Published) -> assert_cmd::Command {
        let mut cmd = env.cmd(bin);
        cmd.env("SCT_SERVICE_URL", &self.url)
            .env("SCT_SERVICE_TOKEN", TOKEN)
            .env("SCT_TRUSTED_KEYS", &service.public);
        cmd
    }
}

/// Stored uploads under `ROOT/uploads/` (hierarchy folders and their files), temp files included.
pub fn stored(root: &Path) -> Vec<String> {
    crate::support::tree(&root.join("uploads"))
        .into_iter()
        .filter(|p| p != ".incoming")
        .collect()
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
