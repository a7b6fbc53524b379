//! The shared test environment: a temporary folder, demo sites, and the built binaries with a clean
//! environment (no config file or SCT_* variable leaks in from the machine running the tests).
//!
//! With `SCT_TEST_WINE=1` the same tests run the Windows build instead: every sct binary starts as
//! `wine64 <SCT_TEST_WINE_BINS>/<name>.exe` (scripts/test-windows.sh sets both and prepares the
//! Wine prefix) through `tests/windows/wine-exec.sh`, which gives the suite's scratch paths to the
//! .exe in drive-letter form (`Z:\tmp\...`), while the peers (nginx, squid, the TDS mock, cabextract) stay Linux processes on
//! loopback. Tests that inherently need Linux say so with [`skip_on_wine`].

#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// A scratch folder for one test.
pub struct Env {
    pub dir: tempfile::TempDir,
    logs: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            logs: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A built binary with SCT_* cleared and the working folder set to the scratch folder.
    pub fn cmd(&self, bin: &str) -> Command {
        Command::from_std(self.command(bin))
    }

    /// The same as std's Command, for a test that spawns the process, sets a resource limit or
    /// another user before it starts, or runs it through a shell.
    pub fn command(&self, bin: &str) -> std::process::Command {
        let mut cmd = command(bin);
        for (key, _) in std::env::vars() {
            if key.starts_with("SCT_") || key.to_ascii_lowercase().ends_with("_proxy") {
                cmd.env_remove(&key);
            }
        }
        // An empty config file, so a stray sct.toml beside the test binaries cannot interfere.
        let config = self.path("sct-empty.toml");
        if !config.exists() {
            std::fs::write(&config, "").unwrap();
        }
        // Logs go to their own folder in the scratch space, never beside the test binaries.
        cmd.env("SCT_CONFIG", config)
            .env("SCT_LOG_DIR", self.logs())
            .current_dir(self.dir.path());
        cmd
    }

    /// The folder the binaries' CMTrace logs go to (outside `dir`, so folder listings ignore it).
    pub fn logs(&self) -> PathBuf {
        self.logs.path().to_owned()
    }

    /// Creates a demo site and returns its locator (`sqlite:PATH`).
    pub fn demo_site(&self, name: &str, extra: &[&str]) -> String {
        let db = self.path(&format!("{name}.db"));
        self.cmd("sct-demo")
            .args(["site", "--db"])
            .arg(&db)
            .args(extra)
            .assert()
            .success();
        format!("sqlite:{}", db.display())
    }

    /// A demo site with a fixed hierarchy ID, site code and version.
    pub fn demo_site_with(&self, name: &str, code: &str, version: &str, hierarchy: &str) -> String {
        self.demo_site(name, &identity(code, version, hierarchy))
    }
}

/// `sct-demo site`'s arguments for a site of this code, version and hierarchy ID.
pub fn identity<'a>(code: &'a str, version: &'a str, hierarchy: &'a str) -> [&'a str; 6] {
    [
        "--site-code",
        code,
        "--version",
        version,
        "--hierarchy-id",
        hierarchy,
    ]
}

impl Env {
    /// A demo site whose install folder is `install` in the scratch folder (created here), so an
    /// import's inbox stays inside the test; returns the site's locator and that folder.
    pub fn installed_site(&self, name: &str, install: &str, extra: &[&str]) -> (String, PathBuf) {
        let folder = self.path(install);
        std::fs::create_dir_all(&folder).unwrap();
        let mut args = extra.to_vec();
        args.extend(["--install-dir", folder.to_str().unwrap()]);
        (self.demo_site(name, &args), folder)
    }
}

/// Path of a built binary: they all sit beside the ones Cargo names for this test target, or in
/// `SCT_TEST_WINE_BINS` (as `NAME.exe`) when the suite runs the Windows build under Wine.
pub fn bin_path(bin: &str) -> PathBuf {
    if let Some(dir) = wine_bins() {
        return dir.join(format!("{bin}.exe"));
    }
    let known = Path::new(env!("CARGO_BIN_EXE_sct-pack"));
    known.with_file_name(format!("{bin}{}", std::env::consts::EXE_SUFFIX))
}

/// A command that starts a built binary: directly, or under Wine for the Windows build.
pub fn command(bin: &str) -> std::process::Command {
    if wine_bins().is_none() {
        return std::process::Command::new(bin_path(bin));
    }
    // The script hands the suite's scratch and fixture paths to the .exe as drive-letter paths.
    let mut cmd = std::process::Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/windows/wine-exec.sh"
    ));
    let roots = [
        std::env::temp_dir(),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    ];
    cmd.arg(bin_path(bin))
        .env("SCT_TEST_WINE_LOADER", wine_loader())
        .env("SCT_TEST_WINE_ROOTS", std::env::join_paths(roots).unwrap());
    cmd
}

/// Whether this run tests the Windows build under Wine.
pub fn on_wine() -> bool {
    wine_bins().is_some()
}

/// The folder of the Windows `.exe` files when the suite runs under Wine.
fn wine_bins() -> Option<PathBuf> {
    if std::env::var_os("SCT_TEST_WINE").is_none_or(|v| v != "1") {
        return None;
    }
    let dir = std::env::var_os("SCT_TEST_WINE_BINS")
        .expect("SCT_TEST_WINE=1 needs SCT_TEST_WINE_BINS (scripts/test-windows.sh sets both)");
    Some(PathBuf::from(dir))
}

/// Wine's loader: Debian's wine64 package installs it outside PATH.
fn wine_loader() -> PathBuf {
    std::env::var_os("SCT_TEST_WINE_LOADER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/wine/wine64"))
}

/// Why a test waits for the second pass under Wine: it needs the debug build's test hooks.
pub const NEEDS_DEBUG_BUILD: &str = "needs the debug build's fault points (SCT_FAULT) or test clock (SCT_TEST_NOW), which release builds leave out: run in the second pass against the debug .exe files";

/// Under Wine with the release `.exe` files, skips a test that needs the debug build's fault
/// points or test clock, recording it under its own name (the test thread's) so that
/// `scripts/test-windows.sh` runs it again in its second pass, against the debug build
/// (`SCT_TEST_WINE_DEBUG=1`). Returns true when the test is to return early.
pub fn needs_debug_build() -> bool {
    if !on_wine() || std::env::var_os("SCT_TEST_WINE_DEBUG").is_some_and(|v| v == "1") {
        return false;
    }
    let current = std::thread::current();
    skip_on_wine(current.name().unwrap_or("unnamed test"), NEEDS_DEBUG_BUILD)
}

/// True when a fault point (`SCT_FAULT`) ended the process: SIGKILL on Linux; under Wine the
/// Windows build's `TerminateProcess` with exit code 137 (`sct::core::fault::KILLED_EXIT_CODE`).
pub fn killed_at_fault(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    if on_wine() {
        status.code() == Some(sct::core::fault::KILLED_EXIT_CODE as i32)
    } else {
        status.signal() == Some(9)
    }
}

/// Why the planted-symlink tests skip under Wine (docs/windows.md, links).
pub const WINE_HIDES_SYMLINKS: &str = "Wine 8.0 shows a Unix symlink to a Windows program as the file it points to (no reparse point), so a link planted on the Linux side cannot reach the Windows build";

/// Skips the calling test under Wine when it inherently needs Linux: records `test: reason` in
/// `SCT_TEST_SKIP_LOG` (docs/windows.md lists them) and returns true, so the test returns early.
pub fn skip_on_wine(test: &str, reason: &str) -> bool {
    if !on_wine() {
        return false;
    }
    eprintln!("skipped under Wine: {test}: {reason}");
    if let Some(log) = std::env::var_os("SCT_TEST_SKIP_LOG") {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("skip log");
        writeln!(file, "{test}\t{reason}").expect("skip log");
    }
    true
}

/// A path as the binary under test prints it: `Z:\tmp\x` for `/tmp/x` under Wine (drive Z: is
/// the Unix root; `usb\x` for a relative `usb/x`), the path itself on Linux.
pub fn shown(path: &Path) -> String {
    if on_wine() {
        let drive = if path.is_absolute() { "Z:" } else { "" };
        format!("{drive}{}", path.display()).replace('/', "\\")
    } else {
        path.display().to_string()
    }
}

/// Output of a finished command.
pub fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every entry of a folder, recursively, as sorted relative paths.
pub fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Whether an external tool is installed; tests that need one fail with a clear message if not.
pub fn require_tool(name: &str) {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is not installed: ./scripts/test.sh installs what the tests need"
    );
}

/// A tmpfs mounted for one test (read-only, or tiny to fill up), unmounted on drop. A plain
/// mount, not a namespace, so the Windows build under Wine sees it too.
pub struct Mount {
    pub path: PathBuf,
}

impl Mount {
    /// Mounts a tmpfs of `size` (e.g. `"64k"`) at `path`; `None` when this machine does not allow
    /// mounting (not root, or no mount namespace rights): the caller then says why it stops.
    pub fn tmpfs(path: &Path, size: &str, read_only: bool) -> Option<Mount> {
        std::fs::create_dir_all(path).ok()?;
        let options = format!("size={size}{}", if read_only { ",ro" } else { "" });
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Mount {
            path: path.to_owned(),
        })
    }
}

impl Mount {
    /// Gives a tmpfs a new size (an operator who freed space on the drive).
    pub fn resize(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "remounting {} failed",
            self.path.display()
        );
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// A USB drive as Windows formats a large one: an exFAT file system in an image file, attached
/// to a loop device and mounted with exfat-fuse (the kernel here has no exFAT driver of its own).
/// It can be unplugged and plugged in again; dropping it unplugs it.
pub struct Drive {
    image: PathBuf,
    mount: PathBuf,
    device: std::cell::RefCell<Option<String>>,
}

impl Drive {
    /// A new drive of `mib` MiB (a sparse image) with clusters of `cluster` (`"4K"`, `"64K"`: a
    /// large drive's are 128K), mounted at `mount`; `None` when this machine cannot (not root, no
    /// loop device, no exfatprogs or exfat-fuse): the caller says why it stops.
    pub fn exfat(image: &Path, mount: &Path, mib: u64, cluster: &str) -> Option<Drive> {
        std::fs::File::create(image).ok()?.set_len(mib << 20).ok()?;
        std::fs::create_dir_all(mount).ok()?;
        let args = ["-L", "USB", "-c", cluster].map(std::ffi::OsStr::new);
        quiet("mkfs.exfat", &[&args[..], &[image.as_os_str()]].concat())?;
        let drive = Drive {
            image: image.to_owned(),
            mount: mount.to_owned(),
            device: std::cell::RefCell::new(None),
        };
        drive.plug()?;
        Some(drive)
    }

    /// Unmounts the drive (everything written reaches the image) and mounts it again.
    pub fn replug(&self) {
        self.unplug();
        self.plug().expect("the drive mounts again");
    }

    fn plug(&self) -> Option<()> {
        let out = std::process::Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&self.image)
            .output()
            .ok()?;
        let device = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        if !out.status.success() || device.is_empty() {
            return None;
        }
        *self.device.borrow_mut() = Some(device.clone());
        quiet(
            "mount.exfat-fuse",
            &[device.as_ref(), self.mount.as_os_str()],
        )
    }

    fn unplug(&self) {
        let _ = quiet("umount", &[self.mount.as_os_str()]);
        if let Some(device) = self.device.borrow_mut().take() {
            let _ = quiet("losetup", &["-d".as_ref(), device.as_ref()]);
        }
    }
}

impl Drop for Drive {
    fn drop(&mut self) {
        self.unplug();
    }
}

/// Runs a system tool with its output discarded; `None` unless it ran and succeeded.
fn quiet(tool: &str, args: &[&std::ffi::OsStr]) -> Option<()> {
    let status = std::process::Command::new(tool)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then_some(())
}

/// How the binary under test words an OS error: Linux's text, or Windows' under Wine.
pub fn os_words(linux: &'static str, windows: &'static str) -> &'static str {
    if on_wine() { windows } else { linux }
}
