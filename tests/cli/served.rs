//! sct-serve hands out regular files under `catalog/` and `packs/` only: never what a link in
//! its tree points at, and it refuses to start with a secret under a served folder (issue 21,
//! docs/reliability.md "links the server follows").

use crate::exit::assert_exit;
use crate::kit::{Server, published, raw_request};
use crate::support::{Env, WINE_HIDES_SYMLINKS, skip_on_wine, stderr_of};
use std::path::{Path, PathBuf};

/// The first file under `dir`, as a path relative to it with `/`.
fn first_file(dir: &Path) -> PathBuf {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_file() {
            return path;
        }
        if path.is_dir() {
            return first_file(&path);
        }
    }
    panic!("no file under {}", dir.display())
}

fn get(server: &Server, path: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = raw_request(server.addr, &format!("GET {path} HTTP/1.1"), b"");
    (status, body)
}

#[test]
fn a_link_in_the_served_tree_is_never_followed() {
    if skip_on_wine(
        "served::a_link_in_the_served_tree_is_never_followed",
        WINE_HIDES_SYMLINKS,
    ) {
        return;
    }
    let env = Env::new();
    let service = published(&env);
    let packs = service.root.join("packs");
    let real = first_file(&packs);
    let relative = real
        .strip_prefix(&packs)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let beside = real.with_file_name("extra.msi");
    std::os::unix::fs::symlink(&service.key, &beside).unwrap();
    std::os::unix::fs::symlink(real.parent().unwrap(), packs.join("linked-folder")).unwrap();
    let server = Server::start(&env, &service.root, &[], &[]);
    let (status, body) = get(&server, &format!("/packs/{relative}"));
    assert_eq!(status, 200);
    assert_eq!(body, std::fs::read(&real).unwrap());
    let key = std::fs::read_to_string(&service.key).unwrap();
    let link = beside
        .strip_prefix(&packs)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let name = real.file_name().unwrap().to_str().unwrap();
    for path in [
        format!("/packs/{link}"),
        format!("/packs/linked-folder/{name}"),
        "/packs/".to_owned(),
        "/packs/..%2Fsigning-key.json".to_owned(),
    ] {
        let (status, body) = get(&server, &path);
        assert_eq!(status, 404, "{path}");
        assert!(!String::from_utf8_lossy(&body).contains(&key), "{path}");
    }
}

#[test]
fn a_secret_under_a_served_folder_stops_the_service_from_starting() {
    let env = Env::new();
    let service = published(&env);
    let token = service.root.join("packs/upload-token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let out = env
        .cmd("sct-serve")
        .args(["run", "--bind", "127.0.0.1:0", "--root"])
        .arg(&service.root)
        .arg("--token-file")
        .arg(&token)
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    assert!(
        stderr_of(&out).contains("hands to anyone"),
        "{}",
        stderr_of(&out)
    );
    let key = service.root.join("catalog/signing-key.json");
    std::fs::copy(&service.key, &key).unwrap();
    let out = crate::kit::publish_command(&env, &service.root, &key)
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    assert!(
        stderr_of(&out).contains("the signing key"),
        "{}",
        stderr_of(&out)
    );
}
