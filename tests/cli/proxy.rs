//! Through the proxies enterprises run (docs/proxy.md): real squid with its Digest, Basic and
//! NTLM helpers, for plain HTTP (absolute-form requests) and HTTPS (`CONNECT`), uploads and
//! downloads; the strongest scheme chosen, Basic never sent unasked, each refusal named in the
//! operator's terms with exit 4, and the password never shown.

use crate::exit::assert_exit;
use crate::kit::{Nginx, PackSpec, ProxyAuth, Server, Service, Squid, published, two_hierarchies};
use crate::operator::cmtrace_entries;
use crate::support::{Env, stderr_of, stdout_of};
use std::process::Output;

const USER: &str = "alice";
const PASSWORD: &str = "s3cret digest pw";

/// A service with one small pack.
fn service(env: &Env) -> Service {
    let mut service = Service::new(env.path("service"));
    service.add_pack(&PackSpec::update_2503(&[("payload.cab", 300_000)]));
    service.publish(1);
    service
}

/// sct-fetch of `offer` into `dest` through `proxy` as alice, with `password`.
fn fetch(
    env: &Env,
    service: &Service,
    offer: &str,
    dest: &str,
    proxy: &str,
    password: &str,
    extra: &[&str],
) -> Output {
    env.cmd("sct-fetch")
        .args([
            "--dest",
            dest,
            "--trusted-key",
            &service.public_key(),
            "--retries",
            "0",
        ])
        .args(["--proxy", proxy, "--proxy-user", USER])
        .args(extra)
        .env("SCT_PROXY_PASSWORD", password)
        .write_stdin(offer.to_owned())
        .output()
        .unwrap()
}

/// The password appears nowhere the operator or a log reader sees.
fn never_shown(out: &Output, password: &str) {
    assert!(!stderr_of(out).contains(password), "{}", stderr_of(out));
    assert!(!stdout_of(out).contains(password));
}

#[test]
fn a_digest_proxy_carries_plain_http_and_https_downloads() {
    let env = Env::new();
    let service = service(&env);
    let squid = Squid::with_auth(&env, USER, ProxyAuth::Digest { password: PASSWORD });
    let plain = Nginx::start(&service.root, &env.path("nginx"));
    let log = env.path("fetch.log");
    let log_arg = ["--log", log.to_str().unwrap()];
    let out = fetch(
        &env,
        &service,
        &service.offer_a(&plain.base),
        "packs",
        &squid.url(),
        PASSWORD,
        &log_arg,
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    never_shown(&out, PASSWORD);
    assert!(
        squid.logged("GET http://", 2) >= 2,
        "{}",
        squid.access_log()
    );
    assert!(squid.access_log().contains(USER), "{}", squid.access_log());
    // Every run says which proxy it uses and why.
    let entries = cmtrace_entries(&log);
    let said = format!("Using proxy {} as user {USER} (from --proxy)", squid.url());
    assert!(
        entries.iter().any(|e| e.message.contains(&said)),
        "{entries:?}"
    );

    let (ca, cert, key) = crate::kit::test_certificates(&env.path("tls"));
    let tls = Nginx::start_tls(&service.root, &env.path("nginx-tls"), &cert, &key);
    let ca_arg = ["--ca-file", ca.to_str().unwrap()];
    let out = fetch(
        &env,
        &service,
        &service.offer_a(&tls.base),
        "packs-tls",
        &squid.url(),
        PASSWORD,
        &ca_arg,
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    never_shown(&out, PASSWORD);
    assert!(
        squid.logged("CONNECT 127.0.0.1", 1) >= 1,
        "{}",
        squid.access_log()
    );
}

#[test]
fn uploads_go_through_a_digest_proxy_with_their_bodies_whole() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let squid = Squid::with_auth(&env, USER, ProxyAuth::Digest { password: PASSWORD });
    let usb = two_hierarchies(&env);
    let out = env
        .cmd("sct-upload")
        .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
        .arg(&usb)
        .args(["--service-url", &server.url, "--trusted-key", &site.public])
        .args(["--proxy", &squid.url(), "--proxy-user", USER])
        .env("SCT_PROXY_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    never_shown(&out, PASSWORD);
    // Both cabs arrived whole (the service checks each), each through squid as alice.
    assert_eq!(crate::kit::offers(&out).len(), 2);
    assert_eq!(squid.logged("POST http://", 2), 2, "{}", squid.access_log());
}

/// squid offers Basic and Digest, each with its own password: only the Digest password works,
/// so a success means Digest was chosen, and a refusal with the Basic password means Basic was
/// never tried.
#[test]
fn digest_is_chosen_over_basic_and_basic_is_never_sent() {
    let env = Env::new();
    let service = service(&env);
    let auth = ProxyAuth::BasicAndDigest {
        basic: "basic-only pw",
        digest: PASSWORD,
    };
    let squid = Squid::with_auth(&env, USER, auth);
    let plain = Nginx::start(&service.root, &env.path("nginx"));
    let offer = service.offer_a(&plain.base);
    let out = fetch(&env, &service, &offer, "packs", &squid.url(), PASSWORD, &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = fetch(
        &env,
        &service,
        &offer,
        "packs-2",
        &squid.url(),
        "basic-only pw",
        &[],
    );
    assert_exit!(out, Network);
    let err = stderr_of(&out);
    assert!(
        err.contains("refused the credentials given (Digest authentication)"),
        "{err}"
    );
    never_shown(&out, "basic-only pw");
}

#[test]
fn a_wrong_password_is_named_with_the_proxy_and_scheme_for_http_and_https() {
    let env = Env::new();
    let service = service(&env);
    let squid = Squid::with_auth(&env, USER, ProxyAuth::Digest { password: PASSWORD });
    let plain = Nginx::start(&service.root, &env.path("nginx"));
    let (ca, cert, key) = crate::kit::test_certificates(&env.path("tls"));
    let tls = Nginx::start_tls(&service.root, &env.path("nginx-tls"), &cert, &key);
    let ca_arg = ["--ca-file", ca.to_str().unwrap()];
    for (base, dest) in [(&plain.base, "packs"), (&tls.base, "packs-tls")] {
        let out = fetch(
            &env,
            &service,
            &service.offer_a(base),
            dest,
            &squid.url(),
            "wrong guess",
            &ca_arg,
        );
        assert_exit!(out, Network);
        let err = stderr_of(&out);
        assert!(
            err.contains(&format!(
                "the proxy {} answered 407 again: it refused the credentials given (Digest authentication)",
                squid.url()
            )) && err.contains("SCT_PROXY_PASSWORD"),
            "{err}"
        );
        never_shown(&out, "wrong guess");
        assert!(!env.path(dest).join("catalog.json").exists());
    }
}

#[test]
fn an_ntlm_proxy_carries_plain_http_and_https_downloads() {
    let env = Env::new();
    let service = service(&env);
    let squid = Squid::with_auth(&env, USER, ProxyAuth::Ntlm);
    let plain = Nginx::start(&service.root, &env.path("nginx"));
    let user = format!("CONTOSO\\{USER}");
    let run = |base: &str, dest: &str, extra: &[&str]| {
        env.cmd("sct-fetch")
            .args([
                "--dest",
                dest,
                "--trusted-key",
                &service.public_key(),
                "--retries",
                "0",
            ])
            .args(["--proxy", &squid.url(), "--proxy-user", &user])
            .args(extra)
            .env("SCT_PROXY_PASSWORD", PASSWORD)
            .write_stdin(service.offer_a(base))
            .output()
            .unwrap()
    };
    let out = run(&plain.base, "packs", &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    never_shown(&out, PASSWORD);
    assert!(
        squid.logged("GET http://", 2) >= 2,
        "{}",
        squid.access_log()
    );
    // ntlm_fake_auth names the user of the authenticate message: the handshake completed.
    assert!(squid.access_log().contains(USER), "{}", squid.access_log());
    let (ca, cert, key) = crate::kit::test_certificates(&env.path("tls"));
    let tls = Nginx::start_tls(&service.root, &env.path("nginx-tls"), &cert, &key);
    let out = run(&tls.base, "packs-tls", &["--ca-file", ca.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        squid.logged("CONNECT 127.0.0.1", 1) >= 1,
        "{}",
        squid.access_log()
    );
}

/// What a fake proxy does with each request.
#[derive(Clone, Copy)]
enum Fake {
    /// 407 offering Negotiate only.
    NegotiateOnly,
    /// 407 offering NTLM, then closes the connection when the negotiate message comes.
    DropsMidHandshake,
}

/// A proxy on 127.0.0.1 that never lets anything through (see [`Fake`]); it serves until the
/// test process ends.
fn fake_proxy(kind: Fake) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut head = Vec::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push(line.to_ascii_lowercase());
                    }
                    let answered = head.iter().any(|l| l.starts_with("proxy-authorization:"));
                    let challenge = match kind {
                        Fake::NegotiateOnly => "Negotiate",
                        Fake::DropsMidHandshake if answered => return,
                        Fake::DropsMidHandshake => "NTLM",
                    };
                    let reply = format!(
                        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: {challenge}\r\nContent-Length: 0\r\n\r\n"
                    );
                    if writer.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

#[test]
fn a_proxy_that_wants_a_scheme_sct_cannot_answer_is_named() {
    let env = Env::new();
    let service = service(&env);
    let proxy = fake_proxy(Fake::NegotiateOnly);
    let out = fetch(
        &env,
        &service,
        &service.offer_a("http://127.0.0.1:9"),
        "packs",
        &proxy,
        PASSWORD,
        &[],
    );
    assert_exit!(out, Network);
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!(
            "the proxy {proxy} asks for Negotiate authentication"
        )),
        "{err}"
    );
    never_shown(&out, PASSWORD);
    assert!(!env.path("packs").join("catalog.json").exists());
}

#[test]
fn a_proxy_that_drops_the_connection_mid_handshake_is_named() {
    let env = Env::new();
    let service = service(&env);
    let proxy = fake_proxy(Fake::DropsMidHandshake);
    let out = fetch(
        &env,
        &service,
        &service.offer_a("http://127.0.0.1:9"),
        "packs",
        &proxy,
        PASSWORD,
        &[],
    );
    assert_exit!(out, Network);
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("the proxy {proxy} broke off the authentication")),
        "{err}"
    );
    never_shown(&out, PASSWORD);
}

#[test]
fn an_unreachable_proxy_with_credentials_is_named_not_the_service() {
    let env = Env::new();
    let service = service(&env);
    let closed = crate::kit::closed_port();
    let proxy = format!("http://127.0.0.1:{}", closed.port);
    let out = fetch(
        &env,
        &service,
        &service.offer_a("http://127.0.0.1:9"),
        "packs",
        &proxy,
        PASSWORD,
        &[],
    );
    assert_exit!(out, Network);
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("cannot connect to the proxy {proxy}")),
        "{err}"
    );
    never_shown(&out, PASSWORD);
}
