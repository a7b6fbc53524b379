//! Secrets audit: every stage and phase runs with a site password, a proxy password and a service
//! token set to distinctive values; none of them may show in stdout, stderr, the CMTrace logs, any
//! file written (JSON, cabs' reports, stored uploads, the server's log), or a process's argv.
//!
//! The audit proves its own reach: each secret is shown to be in the environment of a process it
//! scans (`/proc/<pid>/environ`) and to be used (squid lets the proxy user through only with the
//! password; the server stores an upload only with the token), so a clean result is not the result
//! of secrets that were never given.

use crate::corpus::{data_dir, plain, stage_pack_folder};
use crate::exit::assert_exit;
use crate::kit::{HIERARCHY_A, Server, Squid, offers, published, stored};
use crate::support::{Env, identity, stderr_of, stdout_of};
use std::path::Path;
use std::process::{Output, Stdio};

const SITE_PASSWORD: &str = "SitePw-7f3a9c-Zq";
const PROXY_PASSWORD: &str = "ProxyPw-2b8e41-Kx";
const SERVICE_TOKEN: &str = "SvcToken-9d0c5e77a1-Wm";
const SECRETS: [(&str, &str); 3] = [
    ("SCT_SITE_PASSWORD", SITE_PASSWORD),
    ("SCT_PROXY_PASSWORD", PROXY_PASSWORD),
    ("SCT_SERVICE_TOKEN", SERVICE_TOKEN),
];

/// Everything one audit collected: (where, bytes).
#[derive(Default)]
struct Audit {
    seen: Vec<(String, Vec<u8>)>,
}

impl Audit {
    fn output(&mut self, what: &str, out: &Output) {
        self.seen
            .push((format!("{what} stdout"), out.stdout.clone()));
        self.seen
            .push((format!("{what} stderr"), out.stderr.clone()));
    }

    /// Every file under `root`, recursively (logs, JSON, stored uploads).
    fn files(&mut self, root: &Path) {
        for relative in crate::support::tree(root) {
            let path = root.join(&relative);
            if path.is_file() {
                self.seen
                    .push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }

    /// The argv of a running process, read while it runs.
    fn argv(&mut self, what: &str, pid: u32) {
        let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        self.seen.push((format!("{what} argv"), argv));
    }

    fn assert_clean(&self) {
        let mut leaks = Vec::new();
        for (where_, bytes) in &self.seen {
            let text = String::from_utf8_lossy(bytes);
            for (name, secret) in SECRETS {
                if text.contains(secret) {
                    leaks.push(format!("{name} leaked into {where_}"));
                }
            }
        }
        assert!(leaks.is_empty(), "{}", leaks.join("\n"));
        // The argv read is the real one: the long-running sct-serve's flags are in it (short-lived
        // stages are read while they run when the scheduler lets us, which is not guaranteed).
        assert!(
            self.seen
                .iter()
                .any(|(w, b)| w.ends_with("argv") && String::from_utf8_lossy(b).contains("--root")),
            "no running process's argv was read"
        );
        assert!(self.seen.len() > 20, "the audit looked at too little");
    }
}

/// A built binary with every secret in its environment.
fn with_secrets(env: &Env, bin: &str) -> assert_cmd::Command {
    let mut cmd = env.cmd(bin);
    for (name, value) in SECRETS {
        cmd.env(name, value);
    }
    cmd
}

/// Spawns a binary with the secrets, records its argv while it runs and proves the secrets are in
/// its environment, then waits for it.
fn spawn_audited(
    audit: &mut Audit,
    env: &Env,
    bin: &str,
    args: &[&str],
    vars: &[(&str, String)],
) -> Output {
    let mut cmd = env.command(bin);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (name, value) in SECRETS {
        cmd.env(name, value);
    }
    for (key, value) in vars {
        cmd.env(key, value);
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    // Wait until the child has exec'd (its argv names the binary), or has ended.
    let mut environ = Vec::new();
    for _ in 0..500 {
        let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&argv).contains(bin) || argv.is_empty() {
            environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            audit.argv(bin, pid);
            break;
        }
        std::thread::yield_now();
    }
    let out = child.wait_with_output().unwrap();
    if !environ.is_empty() {
        let environ = String::from_utf8_lossy(&environ);
        assert!(
            SECRETS.iter().all(|(_, secret)| environ.contains(secret)),
            "{bin} did not get the secrets: the audit would prove nothing"
        );
    }
    audit.output(bin, &out);
    out
}

fn assert_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout_of(out),
        stderr_of(out)
    );
}

#[test]
fn no_secret_reaches_output_logs_files_or_argv() {
    let env = Env::new();
    let mut audit = Audit::default();
    let site_args = identity("PS1", "5.00.9128.1000", HIERARCHY_A);
    let (site, _) = env.installed_site("site", "site", &site_args);
    let usb = env.path("usb");
    std::fs::create_dir(&usb).unwrap();

    // Prepare, through the wrapper (it always writes its CMTrace logs).
    let out = with_secrets(&env, "ServiceConnectionTool")
        .env("SCT_SITE", &site)
        .args(["-prepare", "-usagedatadest"])
        .arg(usb.join("UsageData.cab"))
        .output()
        .unwrap();
    assert_ok("-prepare", &out);
    audit.output("ServiceConnectionTool -prepare", &out);

    // The stages one by one.
    let out = with_secrets(&env, "sct-collect")
        .args(["--site", &site, "-o", "usage.json"])
        .output()
        .unwrap();
    assert_ok("sct-collect", &out);
    audit.output("sct-collect", &out);
    let out = with_secrets(&env, "sct-pack")
        .args(["create", "usage.json", "-o", "Second.cab"])
        .output()
        .unwrap();
    assert_ok("sct-pack create", &out);
    audit.output("sct-pack create", &out);
    let out = with_secrets(&env, "sct-pack")
        .args(["inspect", "Second.cab"])
        .output()
        .unwrap();
    assert_ok("sct-pack inspect", &out);
    audit.output("sct-pack inspect", &out);

    // A site locator carrying a password (SQL Server form) in the environment: nothing listens on
    // 127.0.0.1:1433 here, so the connection fails (exit 3) and its error must not show it.
    let out = with_secrets(&env, "sct-collect")
        .env(
            "SCT_SITE",
            format!("mssql://sct:{SITE_PASSWORD}@127.0.0.1/CM_PS1"),
        )
        .output()
        .unwrap();
    assert_exit!(out, Io);
    assert!(
        stderr_of(&out).contains("cannot reach"),
        "{}",
        stderr_of(&out)
    );
    audit.output("sct-collect with a password in SCT_SITE", &out);

    // A SQL Server site (Microsoft's TDS mock server) whose login takes the site password.
    let mssql = sct_testkit::tds::MockServer::start(crate::mssql::configmgr_site);
    let mssql_site = crate::mssql::site_string(mssql.port);
    let out = spawn_audited(
        &mut audit,
        &env,
        "sct-collect",
        &["--site", &mssql_site, "-o", "mssql-usage.json"],
        &[],
    );
    assert_ok("sct-collect from SQL Server", &out);
    let out = with_secrets(&env, "sct-collect")
        .args(["--site", &mssql_site])
        .env_remove("SCT_SITE_PASSWORD")
        .output()
        .unwrap();
    assert_exit!(
        out,
        Usage,
        "without SCT_SITE_PASSWORD the login cannot be made: the password is used"
    );
    drop(mssql);

    // The service, with a token from the environment; its argv and log are audited too.
    let service = published(&env);
    let server = Server::start(
        &env,
        &service.root,
        &[],
        &[
            ("SCT_SERVICE_TOKEN", SERVICE_TOKEN),
            ("SCT_PROXY_PASSWORD", PROXY_PASSWORD),
        ],
    );
    let server_pid = server.process.child.id();
    audit.argv("sct-serve", server_pid);
    let environ = std::fs::read(format!("/proc/{server_pid}/environ")).unwrap();
    assert!(String::from_utf8_lossy(&environ).contains(SERVICE_TOKEN));

    // Upload through squid with the proxy password and the token.
    let squid = Squid::start(&env, "alice", PROXY_PASSWORD);
    let proxy = squid.url();
    let cab = usb.join("UsageData.cab").display().to_string();
    let upload_args = [
        cab.as_str(),
        "--service-url",
        server.url.as_str(),
        "--trusted-key",
        service.public.as_str(),
        "--proxy",
        proxy.as_str(),
        "--proxy-user",
        "alice",
    ];
    let before = stored(&service.root);
    let out_upload_ok = spawn_audited(&mut audit, &env, "sct-upload", &upload_args, &[]);
    assert_ok("sct-upload", &out_upload_ok);
    assert_eq!(offers(&out_upload_ok).len(), 1);
    let after = stored(&service.root);
    assert!(
        after.len() > before.len(),
        "the token let the upload in: {after:?}"
    );
    assert!(squid.logged("alice", 1) >= 1, "squid saw the proxy user");

    // Failures must not show the secrets either: a wrong token, a wrong proxy password.
    let out = spawn_audited(
        &mut audit,
        &env,
        "sct-upload",
        &upload_args,
        &[("SCT_SERVICE_TOKEN", format!("{SERVICE_TOKEN}-wrong"))],
    );
    assert!(!out.status.success(), "a wrong token is refused");
    assert_eq!(stored(&service.root), after);
    let out = spawn_audited(
        &mut audit,
        &env,
        "sct-upload",
        &upload_args,
        &[("SCT_PROXY_PASSWORD", format!("{PROXY_PASSWORD}-wrong"))],
    );
    assert!(!out.status.success(), "a wrong proxy password is refused");

    // Fetch the offered packs through squid, verify them, and run -connect the same way.
    let offers_file = env.path("offers.jsonl");
    std::fs::write(&offers_file, &out_upload_ok.stdout).unwrap();
    let offers_text = offers_file.display().to_string();
    let fetch_args = [
        "--offers",
        offers_text.as_str(),
        "--dest",
        "packs",
        "--trusted-key",
        service.public.as_str(),
        "--proxy",
        proxy.as_str(),
        "--proxy-user",
        "alice",
        "--mode",
        "all",
    ];
    let out = spawn_audited(&mut audit, &env, "sct-fetch", &fetch_args, &[]);
    assert_ok("sct-fetch", &out);
    assert!(
        crate::support::tree(&env.path("packs")).len() > 3,
        "sct-fetch brought packs back"
    );
    let out = spawn_audited(
        &mut audit,
        &env,
        "sct-verify",
        &["packs", "--trusted-key", service.public.as_str()],
        &[],
    );
    assert_ok("sct-verify", &out);
    let fetched_before = squid.logged("alice", 1);
    let connect_vars = [
        ("SCT_SERVICE_URL", server.url.clone()),
        ("SCT_TRUSTED_KEYS", service.public.clone()),
    ];
    let proxy_host = proxy.trim_start_matches("http://").to_owned();
    let out = spawn_audited(
        &mut audit,
        &env,
        "ServiceConnectionTool",
        &[
            "-connect",
            "-usagedatasrc",
            cab.as_str(),
            "-updatepackdest",
            "connect-packs",
            "-proxyserveruri",
            proxy_host.as_str(),
            "-proxyusername",
            "alice",
        ],
        &connect_vars,
    );
    assert_ok("ServiceConnectionTool -connect", &out);
    assert!(
        squid.logged("alice", fetched_before + 1) > fetched_before,
        "-connect went through squid as alice"
    );
    let out = spawn_audited(
        &mut audit,
        &env,
        "ServiceConnectionTool",
        &["-export", "-dest", "usage.csv"],
        &[("SCT_SITE", site.clone())],
    );
    assert_ok("ServiceConnectionTool -export", &out);

    // Import, as a stage and through the wrapper.
    let src = stage_pack_folder(
        &env,
        "valid-pack-folder",
        "pack",
        &plain(Some("trusted".into())),
    );
    let trusted: sct::core::signing::KeyFile = serde_json::from_slice(
        &std::fs::read(data_dir().join("keys/test-only-trusted-key.json")).unwrap(),
    )
    .unwrap();
    let src_text = src.display().to_string();
    let vars = [
        ("SCT_SITE", site.clone()),
        ("SCT_TRUSTED_KEYS", trusted.public_key.clone()),
    ];
    let out = spawn_audited(&mut audit, &env, "sct-import", &["--src", &src_text], &vars);
    assert_ok("sct-import", &out);
    let out = spawn_audited(
        &mut audit,
        &env,
        "ServiceConnectionTool",
        &["-import", "-updatepacksrc", &src_text],
        &vars,
    );
    assert_ok("ServiceConnectionTool -import", &out);

    drop(squid);
    drop(server);
    // Every file written: usage JSON, cabs' folders, stored uploads, the server's log, the logs.
    audit.files(env.dir.path());
    audit.files(&env.logs());
    let logs = crate::support::tree(&env.logs());
    assert!(
        logs.iter()
            .any(|l| l.ends_with("ServiceConnectionTool.log")),
        "the wrapper wrote its log: {logs:?}"
    );
    audit.assert_clean();
}

/// The owner of the files in `/proc/<pid>/`: the process's user while it is dumpable, root once
/// it is not (proc(5)), so a test can see from outside whether a process can be dumped.
#[cfg(target_os = "linux")]
fn proc_owner(pid: u32) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/status"))
        .ok()
        .map(|m| m.uid())
}

/// `sct-fetch` with a proxy user reads `SCT_PROXY_PASSWORD` first thing, then waits for offers on
/// stdin (kept open here): a process holding a secret, paused. Run as an unprivileged user when
/// the tests run as root, so that the owner of its `/proc/<pid>/` files tells dumpable from not.
/// `exe` is a copy of the binary that user can reach (see [`reachable_copy`]).
#[cfg(target_os = "linux")]
fn paused_fetch(exe: &Path, config: &Path, with_secret: bool) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(exe);
    for (key, _) in std::env::vars() {
        if key.starts_with("SCT_") || key.to_ascii_lowercase().ends_with("_proxy") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("SCT_CONFIG", config)
        .current_dir("/")
        .args(["--dest", "/nonexistent/sct-packs", "--trusted-key"])
        .arg("ed25519:GnTIxxbffyNvuCgGSm5wnakQAbwmBpq520v4Ty2X+kw=")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if with_secret {
        cmd.args(["--proxy", "127.0.0.1:9", "--proxy-user", "jqpublic"])
            .env("SCT_PROXY_PASSWORD", PROXY_PASSWORD);
    }
    if crate::kit::is_root() {
        cmd.uid(65534).gid(65534);
    }
    cmd.spawn().unwrap()
}

/// A copy of the built binary `bin` in `shared` (a folder every user can enter), readable and
/// executable by all: the unprivileged user cannot reach the build's own copy when the checkout
/// lives in a private folder such as `/root` (mode 0700), so the test must not depend on where
/// the checkout is.
#[cfg(target_os = "linux")]
fn reachable_copy(bin: &str, shared: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let copy = shared.join(bin);
    std::fs::copy(crate::support::bin_path(bin), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

#[cfg(target_os = "linux")]
#[test]
fn a_stage_holding_a_secret_cannot_be_dumped() {
    if crate::support::skip_on_wine(
        "secrets::a_stage_holding_a_secret_cannot_be_dumped",
        "non-dumpable is a Linux process flag (prctl); Windows writes no core dumps (docs/reliability.md, item 9)",
    ) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    // A config file any user can read, for the unprivileged child.
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = shared.path().join("sct-empty.toml");
    std::fs::write(&config, "").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let exe = reachable_copy("sct-fetch", shared.path());

    // Control: the same stage without a secret stays dumpable, owned by its own user.
    let mut plain = paused_fetch(&exe, &config, false);
    let plain_owner = proc_owner(plain.id());
    let mut guarded = paused_fetch(&exe, &config, true);
    // A bounded wait for the child to read its password (not a timing assertion).
    let mut guarded_owner = proc_owner(guarded.id());
    for _ in 0..300 {
        if guarded_owner == Some(0) || guarded.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        guarded_owner = proc_owner(guarded.id());
    }
    let plain_after = proc_owner(plain.id());
    let guarded_exit = guarded.try_wait().unwrap();
    for child in [&mut plain, &mut guarded] {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        guarded_exit.is_none(),
        "the stage waited for offers: {guarded_exit:?}"
    );
    assert_ne!(plain_owner, Some(0), "the control is dumpable");
    assert_eq!(plain_after, plain_owner, "the control stayed dumpable");
    assert_eq!(
        guarded_owner,
        Some(0),
        "holding the proxy password, the stage is not dumpable"
    );
}

#[test]
fn a_password_in_the_site_flag_is_refused_like_one_in_a_proxy_uri() {
    let env = Env::new();
    for site in [
        format!("Server=sql01,1433;Database=CM_PS1;User Id=sct;Password={SITE_PASSWORD}"),
        format!("mssql://sct:{SITE_PASSWORD}@sql01:1433/CM_PS1"),
    ] {
        let out = env
            .cmd("sct-collect")
            .args(["--site", &site])
            .output()
            .unwrap();
        assert_exit!(out, Usage);
        let text = stderr_of(&out);
        assert!(text.contains("SCT_SITE_PASSWORD"), "{text}");
        assert!(!text.contains(SITE_PASSWORD), "{text}");
        assert!(stdout_of(&out).is_empty());
    }
    // The same password through SCT_SITE is the operator's choice (the environment is private).
    let out = env
        .cmd("sct-collect")
        .env(
            "SCT_SITE",
            format!("Server=127.0.0.1,9;Database=CM_PS1;User Id=sct;Password={SITE_PASSWORD}"),
        )
        .output()
        .unwrap();
    assert_ne!(
        crate::exit::exit_class(&out),
        Some(sct::core::error::ExitCode::Usage),
        "{}",
        stderr_of(&out)
    );
    // And a password in --service-url is refused the same way.
    let out = env
        .cmd("sct-upload")
        .args([
            "x.cab",
            "--service-url",
            "https://u:pw1@updates.example.org",
            "--trusted-key",
        ])
        .arg("ed25519:GnTIxxbffyNvuCgGSm5wnakQAbwmBpq520v4Ty2X+kw=")
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    assert!(stderr_of(&out).contains("SCT_SERVICE_TOKEN"));
    assert!(!stderr_of(&out).contains("pw1"));
}
