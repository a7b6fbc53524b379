//! nginx serving a folder on 127.0.0.1, unprivileged style: its own prefix, `daemon off;`, temp
//! paths and logs inside the prefix; stopped when dropped.

use super::process::{Running, free_port, is_root, wait_for_port};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running nginx; `base` is `http://127.0.0.1:PORT` (or `https://`).
pub struct Nginx {
    pub base: String,
    pub port: u16,
    /// Its prefix folder: `nginx.conf`, `logs/access.log`, `logs/error.log`.
    pub prefix: PathBuf,
    pub process: Running,
}

impl Nginx {
    /// Serves `root` over HTTP. `ROOT/uploads/` is denied, as docs/service.md configures it.
    pub fn start(root: &Path, prefix: &Path) -> Self {
        Self::start_with(root, prefix, None)
    }

    /// The same over HTTPS with this certificate and key (PEM files).
    pub fn start_tls(root: &Path, prefix: &Path, cert: &Path, key: &Path) -> Self {
        Self::start_with(root, prefix, Some((cert, key)))
    }

    fn start_with(root: &Path, prefix: &Path, tls: Option<(&Path, &Path)>) -> Self {
        crate::support::require_tool("nginx");
        std::fs::create_dir_all(prefix.join("logs")).unwrap();
        let port = free_port();
        let conf = prefix.join("nginx.conf");
        std::fs::write(&conf, config(root, prefix, port, tls)).unwrap();
        let stderr = prefix.join("stderr.log");
        let child = Command::new("nginx")
            .arg("-p")
            .arg(prefix)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .spawn()
            .expect("nginx starts");
        let process = Running {
            child,
            name: "nginx",
        };
        wait_for_port(port, "nginx", &stderr);
        let scheme = if tls.is_some() { "https" } else { "http" };
        Self {
            base: format!("{scheme}://127.0.0.1:{port}"),
            port,
            prefix: prefix.to_owned(),
            process,
        }
    }

    /// The access log: one line per request nginx answered.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.prefix.join("logs/access.log")).unwrap_or_default()
    }
}

/// nginx.conf: one worker, everything inside the prefix, `user root` when the tests run as root
/// (nginx would otherwise drop to a user that cannot read the scratch folder).
fn config(root: &Path, prefix: &Path, port: u16, tls: Option<(&Path, &Path)>) -> String {
    let p = prefix.display();
    let user = if is_root() { "user root root;" } else { "" };
    let (ssl, certs) = match tls {
        Some((cert, key)) => (
            " ssl",
            format!(
                "\n    ssl_certificate {};\n    ssl_certificate_key {};",
                cert.display(),
                key.display()
            ),
        ),
        None => ("", String::new()),
    };
    format!(
        "{user}\nworker_processes 1;\ndaemon off;\nerror_log {p}/logs/error.log;\npid {p}/nginx.pid;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log {p}/logs/access.log;\n  sendfile on;\n  client_body_temp_path {p}/body;\n  \
         proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  \
         scgi_temp_path {p}/scgi;\n  types {{ application/json json; }}\n  default_type application/octet-stream;\n  \
         server {{\n    listen 127.0.0.1:{port}{ssl};\n    root {root};{certs}\n    location /uploads/ {{ deny all; }}\n  }}\n}}\n",
        root = root.display()
    )
}
