//! squid as the authenticating proxy between a client and the service, with one of its real
//! authentication helpers (Basic, Digest, NTLM, or Basic and Digest together), its own folder,
//! stopped when dropped.

use super::process::{Running, free_port, is_root, wait_for_port};
use crate::support::Env;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The schemes a test's squid offers, each with its own helper and password file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyAuth<'a> {
    /// `basic_ncsa_auth` with an htpasswd file.
    Basic { password: &'a str },
    /// `digest_file_auth` with a plain `user:password` file (`-c` would mean hashed ones).
    Digest { password: &'a str },
    /// Both, each with its own password: which one works tells which scheme the client chose.
    BasicAndDigest { basic: &'a str, digest: &'a str },
    /// `ntlm_fake_auth`: the real NTLM handshake, any password accepted.
    Ntlm,
}

/// squid with authentication for one user, in its own folder, stopped when dropped.
pub struct Squid {
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub process: Running,
}

impl Squid {
    /// squid with Basic authentication for `user`.
    pub fn start(env: &Env, user: &str, password: &str) -> Self {
        Self::with_auth(env, user, ProxyAuth::Basic { password })
    }

    /// squid offering `auth` for `user`.
    pub fn with_auth(env: &Env, user: &str, auth: ProxyAuth<'_>) -> Self {
        crate::support::require_tool("squid");
        // Its own folder: squid drops to the `proxy` user when started as root and must reach it.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let port = free_port();
        let mut params = String::new();
        if let ProxyAuth::Digest { password }
        | ProxyAuth::BasicAndDigest {
            digest: password, ..
        } = auth
        {
            std::fs::write(dir.path().join("digest"), format!("{user}:{password}\n")).unwrap();
            params += &format!(
                "auth_param digest program /usr/lib/squid/digest_file_auth {d}/digest\n\
                 auth_param digest realm sct-test\n"
            );
        }
        if let ProxyAuth::Basic { password }
        | ProxyAuth::BasicAndDigest {
            basic: password, ..
        } = auth
        {
            crate::support::require_tool("htpasswd");
            let status = Command::new("htpasswd")
                .args(["-bc", &format!("{d}/htpasswd"), user, password])
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
            params +=
                &format!("auth_param basic program /usr/lib/squid/basic_ncsa_auth {d}/htpasswd\n");
        }
        if auth == ProxyAuth::Ntlm {
            params += "auth_param ntlm program /usr/lib/squid/ntlm_fake_auth\n";
        }
        let conf = format!(
            "http_port 127.0.0.1:{port}\nvisible_hostname sct-test\npid_filename {d}/squid.pid\n\
             access_log stdio:{d}/access.log\ncache_log {d}/cache.log\ncache deny all\n\
             cache_effective_user proxy\nshutdown_lifetime 1 seconds\n{params}\
             acl authed proxy_auth REQUIRED\nhttp_access allow authed\nhttp_access deny all\n"
        );
        std::fs::write(dir.path().join("squid.conf"), conf).unwrap();
        if is_root() {
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
