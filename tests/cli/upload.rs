//! sct-upload: through a real squid with basic auth, against faulty servers, and refusing
//! catalogs it must not trust. Each failure names its reason and exits with the documented code.

use crate::exit::assert_exit;
use crate::kit::{
    Fault, HIERARCHY_A, HIERARCHY_B, Published, Server, Squid, TestServer, closed_port, offers,
    one_cab, published, stored, two_hierarchies, upload, usage_cab,
};
use crate::support::{Env, stderr_of};

#[test]
fn two_hierarchies_through_squid_with_basic_auth() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let squid = Squid::start(&env, "alice", "s3cret pass");
    let usb = two_hierarchies(&env);
    let out = env
        .cmd("sct-upload")
        .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
        .arg(&usb)
        .args(["--service-url", &server.url, "--trusted-key", &site.public])
        .args(["--proxy", &squid.url(), "--proxy-user", "alice"])
        .env("SCT_PROXY_PASSWORD", "s3cret pass")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let offers = offers(&out);
    let hierarchies: Vec<&str> = offers
        .iter()
        .map(|o| o["hierarchy_id"].as_str().unwrap())
        .collect();
    assert_eq!(hierarchies, [HIERARCHY_B, HIERARCHY_A]);
    assert_eq!(squid.logged("POST http://", 2), 2, "{}", squid.access_log());
    assert!(
        squid.logged("/catalog/catalog.json.sig", 1) >= 1,
        "{}",
        squid.access_log()
    );
    let log = squid.access_log();
    assert!(log.contains("alice"), "{log}");
    assert!(
        !stderr_of(&out).contains("s3cret"),
        "the password never shows"
    );
}

#[test]
fn proxy_without_credentials_says_it_wants_them() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let squid = Squid::start(&env, "alice", "s3cret");
    let cab = one_cab(&env);
    let out = upload(
        &env,
        &site.public,
        &[&cab, "--service-url", &server.url, "--proxy", &squid.url()],
    );
    assert_exit!(out, Network);
    let err = stderr_of(&out);
    assert!(
        err.contains("407") && err.contains("wants credentials"),
        "{err}"
    );
    assert_eq!(stored(&site.root), Vec::<String>::new());
}

#[test]
fn wrong_proxy_password_is_refused() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let squid = Squid::start(&env, "alice", "s3cret");
    let cab = one_cab(&env);
    let out = env
        .cmd("sct-upload")
        .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
        .args([
            &cab,
            "--service-url",
            &server.url,
            "--trusted-key",
            &site.public,
        ])
        .args(["--proxy", &squid.url(), "--proxy-user", "alice"])
        .env("SCT_PROXY_PASSWORD", "wrong-guess")
        .output()
        .unwrap();
    assert_exit!(out, Network);
    let err = stderr_of(&out);
    assert!(err.contains("407"), "{err}");
    assert!(
        !err.contains("wrong-guess"),
        "the password never shows: {err}"
    );
}

#[test]
fn proxy_password_is_never_read_from_argv_and_is_required() {
    let env = Env::new();
    let site = published(&env);
    let cab = one_cab(&env);
    let out = upload(
        &env,
        &site.public,
        &[
            &cab,
            "--service-url",
            "http://127.0.0.1:9",
            "--proxy",
            "127.0.0.1:3128",
            "--proxy-user",
            "alice",
        ],
    );
    assert_exit!(out, Usage);
    assert!(
        stderr_of(&out).contains("SCT_PROXY_PASSWORD"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn http_proxy_variable_is_honoured_and_no_proxy_bypasses_it() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let squid = Squid::start(&env, "bob", "pw");
    let cab = one_cab(&env);
    let proxy = format!("http://bob:pw@127.0.0.1:{}", squid.port);
    let run = |no_proxy: &str| {
        env.cmd("sct-upload")
            .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
            .args([
                &cab,
                "--service-url",
                &server.url,
                "--trusted-key",
                &site.public,
            ])
            .env("HTTP_PROXY", &proxy)
            .env("NO_PROXY", no_proxy)
            .output()
            .unwrap()
    };
    let out = run("");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(squid.logged("POST http://", 1), 1);
    let out = run("127.0.0.1");
    assert!(out.status.success(), "{}", stderr_of(&out));
    // A marker request through squid after the run: once it is logged, so would that run be.
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "bob:pw");
    let marker = format!("{}/catalog/marker", server.url);
    let squid_addr = format!("127.0.0.1:{}", squid.port).parse().unwrap();
    crate::kit::raw_request(
        squid_addr,
        &format!("GET {marker} HTTP/1.1\r\nproxy-authorization: Basic {auth}"),
        b"",
    );
    assert_eq!(
        squid.logged("/catalog/marker", 1),
        1,
        "{}",
        squid.access_log()
    );
    assert_eq!(
        squid.access_log().matches("POST http://").count(),
        1,
        "NO_PROXY bypassed squid"
    );
}

/// A service that NO_PROXY exempts was contacted directly: when it is down, the error names the
/// service, never the proxy (which was not used).
#[test]
fn a_service_exempt_from_the_proxy_is_named_when_it_is_down() {
    let env = Env::new();
    let site = published(&env);
    let cab = one_cab(&env);
    let (service, proxy) = (closed_port(), closed_port());
    let url = format!("http://127.0.0.1:{}", service.port);
    let proxy = format!("127.0.0.1:{}", proxy.port);
    let upload_with = |no_proxy: &str| {
        env.cmd("sct-upload")
            .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
            .env("NO_PROXY", no_proxy)
            .args([&cab, "--service-url", &url, "--trusted-key", &site.public])
            .args(["--proxy", &proxy, "--retries", "0"])
            .output()
            .unwrap()
    };
    let out = upload_with("localhost,127.0.0.1");
    let err = stderr_of(&out);
    assert_exit!(out, Network, "{err}");
    assert!(err.contains(&format!("to {url}/api/v1/usage")), "{err}");
    assert!(!err.contains("cannot connect to the proxy"), "{err}");
    // Without the exemption the same failure is the proxy's, and says so.
    let err = stderr_of(&upload_with(""));
    assert!(err.contains("cannot connect to the proxy"), "{err}");
}

#[test]
fn server_down_is_a_network_failure_after_bounded_retries() {
    let env = Env::new();
    let site = published(&env);
    let cab = one_cab(&env);
    let closed = closed_port();
    let url = format!("http://127.0.0.1:{}", closed.port);
    let out = upload(
        &env,
        &site.public,
        &[&cab, "--service-url", &url, "--retries", "1"],
    );
    assert_exit!(out, Network);
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!(
            "Failed to upload `{}` to {url}/api/v1/usage after 2 attempts",
            crate::support::shown(std::path::Path::new(&cab))
        )),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_503_is_retried_and_then_succeeds() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let front = TestServer::failing(Fault::UnavailableThenRelay {
        first: 1,
        to: server.addr,
    });
    let cab = one_cab(&env);
    let out = upload(
        &env,
        &site.public,
        &[&cab, "--service-url", &front.base, "--retries", "2"],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    // One 503, then the relayed upload; the offered catalog is then read through the front too.
    assert_eq!(front.count("POST"), 2, "{:?}", front.seen.lock().unwrap());
    assert_eq!(offers(&out)[0]["hierarchy_id"], HIERARCHY_A);
}

#[test]
fn a_service_that_always_answers_503_gets_bounded_retries() {
    let env = Env::new();
    let site = published(&env);
    let front = TestServer::failing(Fault::Status503);
    let cab = one_cab(&env);
    let out = upload(
        &env,
        &site.public,
        &[&cab, "--service-url", &front.base, "--retries", "2"],
    );
    assert_exit!(out, Network);
    assert_eq!(front.count("POST"), 3, "the first attempt and two retries");
    let err = stderr_of(&out);
    assert!(
        err.contains("503") && err.contains("after 3 attempts"),
        "{err}"
    );
}

#[test]
fn a_reset_connection_is_a_network_failure() {
    let env = Env::new();
    let site = published(&env);
    let front = TestServer::failing(Fault::ResetOnRequest);
    let cab = one_cab(&env);
    let out = upload(
        &env,
        &site.public,
        &[&cab, "--service-url", &front.base, "--retries", "1"],
    );
    assert_exit!(out, Network);
    assert!(
        stderr_of(&out).contains("Failed to upload"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(front.connections(), 2, "a reset is transient: retried once");
}

#[test]
fn a_silent_server_is_given_up_on_after_the_stated_timeout() {
    let env = Env::new();
    let site = published(&env);
    let front = TestServer::failing(Fault::Silent);
    let cab = one_cab(&env);
    let out = upload(
        &env,
        &site.public,
        &[
            &cab,
            "--service-url",
            &front.base,
            "--timeout",
            "1",
            "--retries",
            "0",
        ],
    );
    assert_exit!(out, Network);
    let err = stderr_of(&out);
    assert!(err.contains("did not answer within 1 s"), "{err}");
}

#[test]
fn two_cabs_of_one_hierarchy_or_one_name_are_reported_not_merged() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let usb = env.path("usb");
    std::fs::create_dir(&usb).unwrap();
    let a = usage_cab(&env, "ps1", "PS1", "5.00.9128.1000", HIERARCHY_A);
    std::fs::copy(&a, usb.join("first.cab")).unwrap();
    std::fs::copy(&a, usb.join("second.cab")).unwrap();
    let out = upload(
        &env,
        &site.public,
        &[usb.to_str().unwrap(), "--service-url", &server.url],
    );
    assert_exit!(out, Rejected);
    let err = stderr_of(&out);
    assert!(
        err.contains("both hold usage data of hierarchy") && err.contains(HIERARCHY_A),
        "{err}"
    );
    std::fs::rename(usb.join("second.cab"), usb.join("FIRST.CAB")).unwrap();
    let out = upload(
        &env,
        &site.public,
        &[usb.to_str().unwrap(), "--service-url", &server.url],
    );
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains("same file name"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(
        stored(&site.root),
        Vec::<String>::new(),
        "nothing was uploaded"
    );
}

/// Uploads one cab and returns the result, for the catalog-trust tests.
fn upload_against(env: &Env, site: &Published, key: &str) -> std::process::Output {
    let server = Server::start(env, &site.root, &[], &[]);
    let cab = one_cab(env);
    upload(
        env,
        key,
        &[&cab, "--service-url", &server.url, "--retries", "0"],
    )
}

#[test]
fn catalog_signed_by_an_unknown_key_is_refused() {
    let env = Env::new();
    let site = published(&env);
    let other = sct::core::signing::PrivateKey::generate()
        .public()
        .to_string();
    let out = upload_against(&env, &site, &other);
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains("signed by an unknown key"),
        "{}",
        stderr_of(&out)
    );
    assert!(out.stdout.is_empty(), "no offer for an untrusted catalog");
}

#[test]
fn altered_catalog_bytes_are_refused() {
    let env = Env::new();
    let site = published(&env);
    let path = site.root.join("catalog/catalog.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let altered = text.replacen("\"update_type\": 2", "\"update_type\": 0", 1);
    assert_ne!(text, altered);
    std::fs::write(&path, altered).unwrap();
    let out = upload_against(&env, &site, &site.public);
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains("bad signature"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn altered_signature_is_refused() {
    let env = Env::new();
    let site = published(&env);
    let path = site.root.join("catalog/catalog.json.sig");
    let mut sig: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let original = sig["signatures"][0]["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if original.starts_with('A') { "B" } else { "A" };
    sig["signatures"][0]["signature"] = format!("{flipped}{}", &original[1..]).into();
    std::fs::write(&path, serde_json::to_vec(&sig).unwrap()).unwrap();
    let out = upload_against(&env, &site, &site.public);
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains("bad signature"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn expired_catalog_is_refused() {
    let env = Env::new();
    let site = published(&env);
    // Re-sign the published catalog with dates in the past, with the service's own key.
    let path = site.root.join("catalog/catalog.json");
    let mut catalog: sct::core::catalog::Catalog =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let now = jiff::Timestamp::now();
    catalog.issued_at = now - jiff::SignedDuration::from_hours(48);
    catalog.expires_at = now - jiff::SignedDuration::from_hours(24);
    let key = sct::core::signing::PrivateKey::load(&site.key).unwrap();
    let (bytes, sig) = sct::core::catalog::sign(&catalog, &[&key]).unwrap();
    std::fs::write(&path, bytes).unwrap();
    std::fs::write(site.root.join("catalog/catalog.json.sig"), sig).unwrap();
    let out = upload_against(&env, &site, &site.public);
    assert_exit!(out, Rejected);
    assert!(stderr_of(&out).contains("expired"), "{}", stderr_of(&out));
}

#[test]
fn missing_service_url_and_keys_are_usage_errors() {
    let env = Env::new();
    let cab = one_cab(&env);
    let out = env.cmd("sct-upload").arg(&cab).output().unwrap();
    assert_exit!(out, Usage);
    assert!(
        stderr_of(&out).contains("SCT_SERVICE_URL"),
        "{}",
        stderr_of(&out)
    );
    let out = env
        .cmd("sct-upload")
        .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
        .arg(&cab)
        .env("SCT_SERVICE_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    assert!(
        stderr_of(&out).contains("SCT_TRUSTED_KEYS"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn https_through_squid_tunnels_and_a_wrong_password_says_so() {
    let env = Env::new();
    let site = published(&env);
    let (ca, cert, key) = crate::kit::test_certificates(&env.path("tls"));
    let tls = [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    let server = Server::start(&env, &site.root, &tls, &[]);
    let squid = Squid::start(&env, "alice", "s3cret");
    let cab = one_cab(&env);
    let run = |password: &str| {
        env.cmd("sct-upload")
            .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
            .args([
                &cab,
                "--service-url",
                &server.url,
                "--trusted-key",
                &site.public,
            ])
            .args(["--ca-file", ca.to_str().unwrap(), "--retries", "0"])
            .args(["--proxy", &squid.url(), "--proxy-user", "alice"])
            .env("SCT_PROXY_PASSWORD", password)
            .output()
            .unwrap()
    };
    let out = run("s3cret");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        squid.logged("TCP_TUNNEL/200", 1) >= 1,
        "{}",
        squid.access_log()
    );
    let out = run("not-it");
    assert_exit!(out, Network);
    let err = stderr_of(&out);
    assert!(err.contains("refused the credentials given"), "{err}");
    // Without --proxy, HTTPS_PROXY is honoured for https URLs.
    let tunnels = squid.logged("TCP_TUNNEL/200", 1);
    let out = env
        .cmd("sct-upload")
        .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
        .args([
            &cab,
            "--service-url",
            &server.url,
            "--trusted-key",
            &site.public,
        ])
        .args(["--ca-file", ca.to_str().unwrap(), "--retries", "0"])
        .env(
            "HTTPS_PROXY",
            format!("http://alice:s3cret@127.0.0.1:{}", squid.port),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(squid.logged("TCP_TUNNEL/200", tunnels + 1) > tunnels);
}

#[test]
fn the_library_entry_point_returns_the_same_offers_in_process() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let usb = two_hierarchies(&env);
    let options = sct::stages::upload::UploadOptions {
        source: usb,
        service_url: server.url.clone(),
        net: sct::stages::http::NetOptions {
            retries: 0,
            ..Default::default()
        },
        trusted: vec![sct::core::signing::PublicKey::parse(&site.public).unwrap()],
        parallel: 2,
        token: Some(crate::kit::TOKEN.into()),
    };
    let runtime = sct::core::runtime::build().unwrap();
    let mut events = Vec::new();
    let offers = sct::stages::upload::run(&runtime, &options, &mut |e| {
        events.push(e.clone());
        Ok(())
    })
    .unwrap();
    // Each offer went to the event callback too, in the same order, with what fetch selects.
    let offered: Vec<_> = events.iter().map(|e| e.offer.usage_cab.clone()).collect();
    let returned: Vec<_> = offers.iter().map(|o| o.usage_cab.clone()).collect();
    assert_eq!(offered, returned);
    assert!(events.iter().all(|e| e.latest >= 1 && e.site_version >= 1));
    let sites: Vec<(&str, String)> = offers
        .iter()
        .map(|o| (o.site_code.as_str(), o.site_version.to_string()))
        .collect();
    assert_eq!(
        sites,
        [
            ("CS1", "5.00.9132.1000".to_owned()),
            ("PS1", "5.00.9128.1000".to_owned())
        ]
    );
    assert!(
        offers
            .iter()
            .all(|o| o.packs_url == format!("{}/packs/", server.url))
    );
}

#[test]
fn a_hostile_error_answer_cannot_forge_log_records_or_rewrite_the_terminal() {
    let env = Env::new();
    let site = published(&env);
    let front = TestServer::failing(Fault::HostileError);
    let cab = one_cab(&env);
    let log = env.path("upload.log");
    let out = upload(
        &env,
        &site.public,
        &[
            &cab,
            "--service-url",
            &front.base,
            "--log",
            log.to_str().unwrap(),
        ],
    );
    assert_exit!(out, Rejected);
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("uploaded: all good"),
        "the message is shown: {stderr}"
    );
    assert!(!stderr.contains(['\r', '\u{1b}', '\u{202e}']), "{stderr:?}");
    assert!(
        stderr.lines().all(|l| l.starts_with("sct-upload:")),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let records = sct_testkit::cmtrace::parse_log(text).unwrap();
    assert_eq!(records.len(), text.lines().count(), "one record per line");
    assert!(
        records
            .iter()
            .all(|r| !r.message.starts_with("INFO: Receipt")),
        "a forged record got in: {text}"
    );
    assert!(text.contains(r"bad cab\n<![LOG[INFO: Receipt"), "{text}");
}
