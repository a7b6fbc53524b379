//! sct-serve: publishing, static downloads (its own and nginx's), the upload endpoint and TLS.

use crate::exit::assert_exit;
use crate::kit::{
    HIERARCHY_A, Nginx, Server, offers, one_cab, post_usage, publish, publish_command, published,
    raw_request, stored, test_certificates, two_hierarchies, upload, usage_cab,
};
use crate::support::{Env, stderr_of};
use sct::core::fault::{ENV_FAULT, Point};

#[test]
fn two_hierarchies_upload_directly_and_get_their_offers() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let usb = two_hierarchies(&env);
    let out = upload(
        &env,
        &site.public,
        &[usb.to_str().unwrap(), "--service-url", &server.url],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let offers = offers(&out);
    assert_eq!(offers.len(), 2, "one offer per hierarchy");
    // Sorted by file name: CS1-UsageData.cab, then PS1-UsageData.cab.
    let expect = [
        ("CS1", "5.00.9132.1000", crate::kit::HIERARCHY_B),
        ("PS1", "5.00.9128.1000", HIERARCHY_A),
    ];
    for (offer, (code, version, hierarchy)) in offers.iter().zip(expect) {
        assert_eq!(offer["schema"], "sct.offer.v1");
        assert_eq!(offer["site_code"], code);
        assert_eq!(offer["site_version"], version);
        assert_eq!(offer["hierarchy_id"], hierarchy);
        assert_eq!(offer["receipt"]["schema"], "sct.receipt.v1");
        assert_eq!(offer["receipt"]["hierarchy_id"], hierarchy);
        assert_eq!(offer["receipt"]["catalog_version"], 1);
        assert_eq!(
            offer["catalog_url"],
            format!("{}/catalog/catalog.json", server.url)
        );
        assert_eq!(offer["packs_url"], format!("{}/packs/", server.url));
        let stored = stored(&site.root);
        assert!(
            stored
                .iter()
                .any(|p| p.starts_with(hierarchy) && p.ends_with(".cab")),
            "{stored:?}"
        );
    }
    assert!(
        stderr_of(&out).contains("sct-fetch selects 1 pack (default mode latest)"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_new_publication_is_offered_with_its_version() {
    let env = Env::new();
    let site = published(&env);
    let report = publish(&env, &site.root, &site.key);
    assert_eq!(report["version"], 2);
    assert_eq!(report["previous_version"], 1);
    let server = Server::start(&env, &site.root, &[], &[]);
    let cab = one_cab(&env);
    let out = upload(&env, &site.public, &[&cab, "--service-url", &server.url]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(offers(&out)[0]["receipt"]["catalog_version"], 2);
}

/// A publisher killed while it holds the lock (SIGKILL on Linux, TerminateProcess on Windows,
/// through the debug build's fault hook) leaves no stale lock: the lock file stays, but the
/// kernel released its lock, so the next publication runs at once and nobody removes anything.
#[test]
fn a_publisher_killed_while_holding_the_lock_leaves_no_stale_lock() {
    if crate::support::needs_debug_build() {
        return;
    }
    let env = Env::new();
    let site = published(&env);
    let out = publish_command(&env, &site.root, &site.key)
        .env(ENV_FAULT, Point::PublishAfterLock.name())
        .output()
        .unwrap();
    assert!(
        crate::support::killed_at_fault(&out.status),
        "expected a kill at the fault point, got {:?}: {}",
        out.status,
        stderr_of(&out)
    );
    assert!(site.root.join(".publish.lock").is_file());
    let report = publish(&env, &site.root, &site.key);
    assert_eq!(report["version"], 2);
}

/// An expiry the calendar cannot hold is a usage error, not a crash; one longer than clients
/// accept by default is published with a warning that says so.
#[test]
fn publish_refuses_an_endless_expiry_and_warns_of_one_clients_refuse() {
    let env = Env::new();
    let site = published(&env);
    let publish_for = |days: &str| {
        publish_command(&env, &site.root, &site.key)
            .args(["--expires-in", days])
            .output()
            .unwrap()
    };
    let out = publish_for("4294967295");
    assert_exit!(out, Usage);
    assert!(stderr_of(&out).contains("--expires-in must be from 1 to 3650"));
    let out = publish_for("365");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("WARNING: a catalog valid for 365 days is refused"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn static_files_support_range_etag_and_last_modified() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let file = "3B7D84FA-ECCC-4EA0-B8AB-ABBDA1E88E0E/Redist/ReportViewer.msi";
    let whole = std::fs::read(site.root.join("packs").join(file)).unwrap();
    let (status, headers, body) = raw_request(
        server.addr,
        &format!("GET /packs/{file} HTTP/1.1\r\nrange: bytes=100-199"),
        b"",
    );
    assert_eq!(status, 206, "{headers}");
    assert_eq!(body, whole[100..200]);
    assert!(headers.contains("\r\netag: "), "{headers}");
    assert!(headers.contains("\r\nlast-modified: "), "{headers}");
    let (status, _, _) = raw_request(server.addr, "GET /uploads/ HTTP/1.1", b"");
    assert_eq!(status, 404, "uploads are never served");
}

#[test]
fn non_cab_upload_is_refused_with_a_json_error_and_nothing_stored() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let (status, doc) = post_usage(server.addr, b"this is not a cabinet");
    assert_eq!(status, 422);
    assert_eq!(doc["schema"], "sct.error.v1");
    assert_eq!(doc["error"], "not_a_usage_cab");
    assert!(
        doc["message"]
            .as_str()
            .unwrap()
            .contains("not a valid cabinet"),
        "{doc}"
    );
    assert!(
        !doc["message"].as_str().unwrap().contains("upload-"),
        "no temp paths: {doc}"
    );
    assert_eq!(stored(&site.root), Vec::<String>::new());
    assert!(
        std::fs::read_dir(site.root.join("uploads/.incoming"))
            .unwrap()
            .next()
            .is_none()
    );
}

/// A cab with a member name that climbs out of its folder.
fn hostile_cab(name: &str) -> Vec<u8> {
    let mut builder = cab::CabinetBuilder::new();
    builder
        .add_folder(cab::CompressionType::MsZip)
        .add_file(name);
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = builder.build(&mut out).unwrap();
    while let Some(mut member) = writer.next_file().unwrap() {
        std::io::Write::write_all(&mut member, b"payload").unwrap();
    }
    writer.finish().unwrap();
    out.into_inner()
}

#[test]
fn hostile_cab_upload_is_refused_and_nothing_stored() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let (status, doc) = post_usage(server.addr, &hostile_cab("..\\..\\evil.txt"));
    assert_eq!(status, 422, "{doc}");
    assert_eq!(doc["schema"], "sct.error.v1");
    assert!(
        doc["message"].as_str().unwrap().contains("evil.txt"),
        "{doc}"
    );
    assert_eq!(stored(&site.root), Vec::<String>::new());
}

/// A usage cab whose members and manifest are consistent but whose usage document is `v9`.
fn future_schema_cab(env: &Env) -> std::path::PathBuf {
    let cab = usage_cab(env, "ps1", "PS1", "5.00.9128.1000", HIERARCHY_A);
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("ps1.json")).unwrap()).unwrap();
    doc["schema"] = "sct.usage.v9".into();
    let usage = serde_json::to_vec(&doc).unwrap();
    let mut reader = sct::core::cabinet::CabReader::open(&cab).unwrap();
    let version_name = "SiteVersion.5.00.9128.1000.txt";
    let version = reader.read_member(version_name, 4096).unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&reader.read_member("manifest.json", 65536).unwrap()).unwrap();
    manifest["members"][0]["size"] = usage.len().into();
    manifest["members"][0]["sha256"] = sct::core::hash::hex_of(&usage).into();
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let entry = |name: &str, bytes: Vec<u8>| sct::core::cabinet::Entry {
        name: name.to_owned(),
        size: bytes.len() as u64,
        data: Box::new(std::io::Cursor::new(bytes)),
    };
    let out = env.path("future.cab");
    sct::core::cabinet::write(
        &out,
        vec![
            entry("UsageData.json", usage),
            entry(version_name, version),
            entry("manifest.json", manifest),
        ],
    )
    .unwrap();
    out
}

#[test]
fn cab_of_an_unknown_schema_is_refused_by_server_and_client() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let cab = future_schema_cab(&env);
    let (status, doc) = post_usage(server.addr, &std::fs::read(&cab).unwrap());
    assert_eq!(status, 422, "{doc}");
    assert!(
        doc["message"].as_str().unwrap().contains("sct.usage.v9"),
        "{doc}"
    );
    assert_eq!(stored(&site.root), Vec::<String>::new());
    let out = upload(
        &env,
        &site.public,
        &[cab.to_str().unwrap(), "--service-url", &server.url],
    );
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains("sct.usage.v9"),
        "{}",
        stderr_of(&out)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn oversized_upload_is_refused_and_nothing_stored() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &["--max-upload", "1000"], &[]);
    let cab = usage_cab(&env, "ps1", "PS1", "5.00.9128.1000", HIERARCHY_A);
    assert!(std::fs::metadata(&cab).unwrap().len() > 1000);
    let out = upload(
        &env,
        &site.public,
        &[cab.to_str().unwrap(), "--service-url", &server.url],
    );
    assert_exit!(out, Rejected);
    let err = stderr_of(&out);
    assert!(err.contains("1000-byte limit"), "{err}");
    assert!(err.contains("413"), "{err}");
    assert_eq!(stored(&site.root), Vec::<String>::new());
}

#[test]
fn uploads_need_the_token_when_the_service_has_one() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[("SCT_SERVICE_TOKEN", "t0ken")]);
    let cab = one_cab(&env);
    let args = [&cab, "--service-url", &server.url];
    let out = upload(&env, &site.public, &args);
    assert_exit!(out, Usage);
    assert!(
        stderr_of(&out).contains("SCT_SERVICE_TOKEN"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(stored(&site.root), Vec::<String>::new());
    let out = env
        .cmd("sct-upload")
        .args(args)
        .args(["--trusted-key", &site.public])
        .env("SCT_SERVICE_TOKEN", "t0ken")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn nginx_serves_the_published_root_and_the_client_verifies_its_catalog() {
    let env = Env::new();
    let site = published(&env);
    let nginx = Nginx::start(&site.root, &env.path("nginx"));
    let downloads = nginx.base.clone();
    let server = Server::start(&env, &site.root, &["--public-url", &downloads], &[]);
    let usb = two_hierarchies(&env);
    let out = upload(
        &env,
        &site.public,
        &[usb.to_str().unwrap(), "--service-url", &server.url],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    for offer in offers(&out) {
        assert_eq!(
            offer["catalog_url"],
            format!("{downloads}/catalog/catalog.json")
        );
        assert_eq!(offer["packs_url"], format!("{downloads}/packs/"));
    }
    let access = nginx.access_log();
    assert!(access.contains("GET /catalog/catalog.json.sig"), "{access}");
    let file = "8576527E-DDE9-4146-8ED9-DB91091C38EF/Redist/SQLSysClrTypes.msi";
    let whole = std::fs::read(site.root.join("packs").join(file)).unwrap();
    let addr = format!("127.0.0.1:{}", nginx.port).parse().unwrap();
    let (status, headers, body) = raw_request(
        addr,
        &format!("GET /packs/{file} HTTP/1.1\r\nrange: bytes=10-"),
        b"",
    );
    assert_eq!(status, 206, "{headers}");
    assert_eq!(body, whole[10..]);
}

#[test]
fn tls_service_is_trusted_through_the_ca_file_only() {
    let env = Env::new();
    let site = published(&env);
    let (ca, cert, key) = test_certificates(&env.path("tls"));
    let server = Server::start(
        &env,
        &site.root,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(server.url.starts_with("https://"));
    let cab = one_cab(&env);
    let base = [&cab, "--service-url", &server.url, "--retries", "0"];
    let out = upload(&env, &site.public, &base);
    assert_exit!(out, Network, "an unknown CA is refused");
    assert!(
        stderr_of(&out).contains("certificate"),
        "{}",
        stderr_of(&out)
    );
    let mut args = base.to_vec();
    args.extend(["--ca-file", ca.to_str().unwrap()]);
    let out = upload(&env, &site.public, &args);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        offers(&out)[0]["catalog_url"],
        format!("{}/catalog/catalog.json", server.url)
    );
}

#[test]
fn oversized_upload_without_a_length_is_cut_off_while_streaming() {
    use std::io::{Read, Write};
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &["--max-upload", "5000"], &[]);
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    let head = format!(
        "POST /api/v1/usage HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        server.addr,
        crate::kit::TOKEN
    );
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'x'; 1000];
    for _ in 0..6 {
        let _ = stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
        let _ = stream.write_all(&chunk);
        let _ = stream.write_all(b"\r\n");
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("sct.error.v1") && answer.contains("5000-byte limit"),
        "{answer}"
    );
    assert_eq!(stored(&site.root), Vec::<String>::new());
    assert!(
        std::fs::read_dir(site.root.join("uploads/.incoming"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn unreachable_download_host_fails_the_offer_with_a_network_error() {
    let env = Env::new();
    let site = published(&env);
    let closed = crate::kit::closed_port();
    let dead = format!("http://127.0.0.1:{}", closed.port);
    let server = Server::start(&env, &site.root, &["--public-url", &dead], &[]);
    let cab = one_cab(&env);
    let out = upload(
        &env,
        &site.public,
        &[&cab, "--service-url", &server.url, "--retries", "0"],
    );
    assert_exit!(out, Network);
    assert!(
        stderr_of(&out).contains(&format!("Failed to download {dead}/catalog/catalog.json")),
        "{}",
        stderr_of(&out)
    );
    assert!(out.stdout.is_empty(), "no offer without a verified catalog");
}

#[test]
fn uploads_before_any_publication_are_refused_with_the_reason() {
    let env = Env::new();
    let site = published(&env);
    let empty = env.path("empty-root");
    std::fs::create_dir(&empty).unwrap();
    let server = Server::start(&env, &empty, &[], &[]);
    let cab = one_cab(&env);
    let out = upload(
        &env,
        &site.public,
        &[&cab, "--service-url", &server.url, "--retries", "0"],
    );
    assert_exit!(out, Network);
    assert!(
        stderr_of(&out).contains("has not published a catalog yet"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(stored(&empty), Vec::<String>::new());
}

#[test]
fn key_rotation_catalog_signed_by_two_keys_verifies_with_either_pin() {
    let env = Env::new();
    let site = published(&env);
    let new_key = env.path("new-key.json");
    let out = env
        .cmd("sct-serve")
        .args(["keygen", "--out"])
        .arg(&new_key)
        .output()
        .unwrap();
    let new_public: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let new_public = new_public["public_key"].as_str().unwrap().to_owned();
    let out = publish_command(&env, &site.root, &site.key)
        .arg("--key")
        .arg(&new_key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let server = Server::start(&env, &site.root, &[], &[]);
    let cab = one_cab(&env);
    for pin in [&site.public, &new_public] {
        let out = upload(&env, pin, &[&cab, "--service-url", &server.url]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_eq!(offers(&out)[0]["receipt"]["catalog_version"], 2);
    }
    // The private key is owner-only: mode 0600 on Linux; on Windows a protected DACL for the
    // user, SYSTEM and Administrators. Wine maps that DACL to the Unix mode seen here: 0750, no
    // bits for others, where a file the Windows build creates without one gets 0644 (readable
    // by all).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&new_key).unwrap().permissions().mode();
        if crate::support::on_wine() {
            assert_eq!(
                mode & 0o007,
                0,
                "the private key is not for others: {mode:o}"
            );
        } else {
            assert_eq!(mode & 0o777, 0o600, "the private key is owner-only");
        }
    }
}

#[test]
fn terminate_signal_stops_the_server_cleanly() {
    if crate::support::skip_on_wine(
        "service::terminate_signal_stops_the_server_cleanly",
        "SIGTERM is a Unix signal; on Windows sct-serve stops on Ctrl+C or Ctrl+Break, which the Linux test process cannot send to a Wine console",
    ) {
        return;
    }
    let env = Env::new();
    let site = published(&env);
    let mut server = Server::start(&env, &site.root, &[], &[]);
    let pid = server.process.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    // A bounded wait for the exit (not a timing assertion): the server has nothing in flight.
    let mut exit = None;
    for _ in 0..300 {
        exit = server.process.child.try_wait().unwrap();
        if exit.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
}
