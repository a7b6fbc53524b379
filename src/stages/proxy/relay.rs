//! The proxy handshakes the HTTP client cannot do, done by a relay private to this process.
//!
//! reqwest answers a proxy with Basic only, and sends it unasked. So when the proxy takes
//! credentials, reqwest is pointed at this relay on 127.0.0.1 instead: each of its connections
//! gets one connection to the real proxy, on which the relay answers the proxy's challenges
//! ([`super::auth`]) for plain HTTP (absolute-form requests) and HTTPS (`CONNECT`), then passes the
//! bytes through. The relay lives as long as the process, on a thread of its own; it accepts only
//! reqwest, which proves itself with a random token known to this process alone, and forwards only
//! to the proxy the [`Route`] names.
//!
//! A request with a body is never sent twice: on a connection not yet authenticated, a body-less
//! `HEAD` for the same URL takes the challenge first, then the request goes with its answer.

use super::Route;
use super::auth::{Challenges, Credentials, Handshake, Refusal, Scheme, Target, answer_digest};
use bytes::Bytes;
use http_body_util::{Either, Empty};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Body = Either<Incoming, Empty<Bytes>>;
type Sender = hyper::client::conn::http1::SendRequest<Body>;

/// A running relay: where reqwest finds it and the token it must show.
#[derive(Clone)]
pub struct Relay {
    pub url: String,
    pub token: crate::core::secret::Secret,
}

/// What the relay shares between its connections.
struct Shared {
    route: Route,
    credentials: Credentials,
    token: String,
    connect_timeout: Duration,
    /// The scheme the proxy last took, answered on later requests without waiting for a 407.
    known: Mutex<Option<Known>>,
}

/// Why the relay could not pass a request on, in the operator's terms.
#[derive(Clone, Debug)]
pub enum Failure {
    /// The proxy could not be reached (worth a retry).
    Unreachable { proxy: String, why: String },
    /// The proxy refused, or wants what sct cannot give.
    Refused { proxy: String, refusal: Refusal },
    /// The proxy closed the connection or answered nonsense in the middle of a handshake.
    Broken { proxy: String, why: String },
}

/// The relay for `route` and `credentials`, started on first use and kept for the process.
pub fn relay_for(
    route: &Route,
    credentials: &Credentials,
    connect_timeout: Duration,
) -> anyhow::Result<Relay> {
    static RELAYS: Mutex<Vec<(String, Relay)>> = Mutex::new(Vec::new());
    let key = format!("{:?}|{}", route, credentials.user);
    let mut relays = RELAYS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, relay)) = relays.iter().find(|(k, _)| *k == key) {
        return Ok(relay.clone());
    }
    let relay = start(route.clone(), credentials.clone(), connect_timeout)?;
    relays.push((key, relay.clone()));
    Ok(relay)
}

/// Binds 127.0.0.1 on a free port and serves it on a thread of its own.
fn start(
    route: Route,
    credentials: Credentials,
    connect_timeout: Duration,
) -> anyhow::Result<Relay> {
    use anyhow::Context;
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("Failed to open the loopback port of the proxy relay")?;
    listener.set_nonblocking(true)?;
    let url = format!("http://{}", listener.local_addr()?);
    let token = hex::encode(rand::random::<[u8; 24]>());
    crate::core::logging::register_secret(&token);
    let shared = Arc::new(Shared {
        route,
        credentials,
        token: token.clone(),
        connect_timeout,
        known: Mutex::new(None),
    });
    let runtime = crate::core::runtime::current_thread()?;
    std::thread::Builder::new()
        .name("sct-proxy-relay".into())
        .spawn(move || runtime.block_on(serve(listener, shared)))
        .context("Failed to start the proxy relay")?;
    Ok(Relay {
        url,
        token: crate::core::secret::Secret::new(token),
    })
}

async fn serve(listener: std::net::TcpListener, shared: Arc<Shared>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    while let Ok((stream, _)) = listener.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let upstream: Arc<tokio::sync::Mutex<Option<Upstream>>> = Arc::default();
            let service = hyper::service::service_fn(move |request| {
                handle(request, shared.clone(), upstream.clone())
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

/// A scheme answered before: Basic again, or Digest with the last challenge (its nonce count up
/// by one each time).
enum Known {
    Basic(String),
    Digest(digest_auth::WwwAuthenticateHeader),
}

/// One connection to the real proxy, kept for one connection of reqwest's.
struct Upstream {
    sender: Sender,
    proxy: String,
    /// The proxy accepted a request on this connection.
    authenticated: bool,
}

async fn handle(
    mut request: Request<Incoming>,
    shared: Arc<Shared>,
    upstream: Arc<tokio::sync::Mutex<Option<Upstream>>>,
) -> Result<Response<Body>, std::convert::Infallible> {
    if !shows_token(&request, &shared.token) {
        return Ok(reply(StatusCode::PROXY_AUTHENTICATION_REQUIRED));
    }
    request.headers_mut().remove(PROXY_AUTHORIZATION);
    let result = if request.method() == Method::CONNECT {
        tunnel(request, &shared).await
    } else {
        forward(request, &shared, &upstream).await
    };
    Ok(match result {
        Ok(response) => {
            super::set_failure(None);
            response
        }
        Err(failure) => {
            let status = match failure {
                Failure::Refused { .. } => StatusCode::PROXY_AUTHENTICATION_REQUIRED,
                _ => StatusCode::BAD_GATEWAY,
            };
            super::set_failure(Some(failure));
            reply(status)
        }
    })
}

/// True when reqwest sent the relay's token (as the password of a Basic proxy login).
fn shows_token(request: &Request<Incoming>, token: &str) -> bool {
    use base64::Engine;
    let Some(value) = request.headers().get(PROXY_AUTHORIZATION) else {
        return false;
    };
    let Some(encoded) = value.to_str().ok().and_then(|v| v.strip_prefix("Basic ")) else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("sct:{token}");
    aws_lc_rs::constant_time::verify_slices_are_equal(&decoded, expected.as_bytes()).is_ok()
}

fn reply(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Either::Right(Empty::new()));
    *response.status_mut() = status;
    response
}

/// A `CONNECT`: a tunnel through the real proxy, opened on a connection of its own, then the
/// bytes both ways.
async fn tunnel(request: Request<Incoming>, shared: &Shared) -> Result<Response<Body>, Failure> {
    let authority = request
        .uri()
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let target_url = reqwest::Url::parse(&format!("https://{authority}")).ok();
    let Some(proxy) = target_url
        .as_ref()
        .and_then(|url| shared.route.proxy_for(url))
    else {
        return Err(Failure::Broken {
            proxy: shared.route.shown(),
            why: format!("the tunnel's target `{authority}` is not one the proxy serves"),
        });
    };
    let mut connection = open(&proxy, shared).await?;
    let make = |authorization: Option<&HeaderValue>| {
        let mut builder =
            Request::connect(authority.as_str()).header(hyper::header::HOST, authority.as_str());
        if let Some(value) = authorization {
            builder = builder.header(PROXY_AUTHORIZATION, value);
        }
        builder.body(Either::Right(Empty::new()))
    };
    let response = exchange(&mut connection, shared, "CONNECT", &authority, make).await?;
    if !response.status().is_success() {
        return Ok(response.map(Either::Left));
    }
    tokio::spawn(async move {
        let (Ok(up), Ok(down)) =
            tokio::join!(hyper::upgrade::on(response), hyper::upgrade::on(request))
        else {
            return;
        };
        let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(down), &mut TokioIo::new(up)).await;
    });
    Ok(reply(StatusCode::OK))
}

/// A plain-HTTP request (absolute form), on this reqwest connection's own proxy connection.
async fn forward(
    request: Request<Incoming>,
    shared: &Shared,
    upstream: &tokio::sync::Mutex<Option<Upstream>>,
) -> Result<Response<Body>, Failure> {
    let url = reqwest::Url::parse(&request.uri().to_string()).ok();
    let Some(proxy) = url.as_ref().and_then(|url| shared.route.proxy_for(url)) else {
        return Err(Failure::Broken {
            proxy: shared.route.shown(),
            why: format!("`{}` is not a URL the proxy serves", request.uri()),
        });
    };
    let mut slot = upstream.lock().await;
    let reusable = slot
        .as_ref()
        .is_some_and(|u| u.proxy == proxy && !u.sender.is_closed());
    if !reusable {
        *slot = Some(open(&proxy, shared).await?);
    }
    let Some(connection) = slot.as_mut() else {
        unreachable!("the slot was filled above");
    };
    let uri = request.uri().to_string();
    let (parts, body) = request.into_parts();
    let has_body = !hyper::body::Body::is_end_stream(&body);
    let copy = |method: &Method, authorization: Option<&HeaderValue>| {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(parts.uri.clone());
        for (name, value) in &parts.headers {
            builder = builder.header(name, value);
        }
        if let Some(value) = authorization {
            builder = builder.header(PROXY_AUTHORIZATION, value);
        }
        builder
    };
    if has_body && !connection.authenticated {
        // Take the challenge with a body-less HEAD first: the body can be sent only once.
        let head = |authorization: Option<&HeaderValue>| {
            let mut builder = copy(&Method::HEAD, authorization);
            if let Some(headers) = builder.headers_mut() {
                headers.remove(hyper::header::CONTENT_LENGTH);
                headers.remove(hyper::header::TRANSFER_ENCODING);
            }
            builder.body(Either::Right(Empty::new()))
        };
        drop(exchange(connection, shared, "HEAD", &uri, head).await?);
    }
    if !has_body {
        let make = |authorization: Option<&HeaderValue>| {
            copy(&parts.method, authorization).body(Either::Right(Empty::new()))
        };
        let response = exchange(connection, shared, parts.method.as_str(), &uri, make).await?;
        return Ok(response.map(Either::Left));
    }
    let authorization = preemptive(shared, parts.method.as_str(), &uri);
    let request = copy(&parts.method, authorization.as_ref())
        .body(Either::Left(body))
        .map_err(|e| broken(&proxy, e))?;
    let response = send(connection, request).await?;
    Ok(response.map(Either::Left))
}

/// The answer for the scheme the proxy took before, if any (a request with a body cannot wait
/// for a new challenge).
fn preemptive(shared: &Shared, method: &str, uri: &str) -> Option<HeaderValue> {
    let mut known = shared.known.lock().unwrap_or_else(|e| e.into_inner());
    let answer = match known.as_mut()? {
        Known::Basic(value) => value.clone(),
        Known::Digest(parsed) => {
            answer_digest(parsed, &Target { method, uri }, &shared.credentials)?
        }
    };
    HeaderValue::from_str(&answer).ok()
}

/// Sends a request built by `make` (given the `Proxy-Authorization` value, if any), answering
/// each 407 on the same connection, until the proxy answers something else.
async fn exchange<F>(
    connection: &mut Upstream,
    shared: &Shared,
    method: &str,
    uri: &str,
    make: F,
) -> Result<Response<Incoming>, Failure>
where
    F: Fn(Option<&HeaderValue>) -> Result<Request<Body>, hyper::http::Error>,
{
    let mut handshake = Handshake::default();
    let mut authorization = preemptive(shared, method, uri);
    // Basic, Digest: one answer each, and a stale nonce once more.
    for _ in 0..4 {
        let request = make(authorization.as_ref()).map_err(|e| broken(&connection.proxy, e))?;
        let response = send(connection, request).await?;
        if response.status() != StatusCode::PROXY_AUTHENTICATION_REQUIRED {
            connection.authenticated = true;
            return Ok(response);
        }
        let challenges = Challenges::parse(
            response
                .headers()
                .get_all(PROXY_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let closing = response
            .headers()
            .get(hyper::header::CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        // The 407's body, read to its end so the connection can carry the next leg (bounded).
        drain(response).await;
        let target = Target { method, uri };
        let (scheme, value) = handshake
            .answer(&challenges, &target, &shared.credentials)
            .map_err(|refusal| Failure::Refused {
                proxy: connection.proxy.clone(),
                refusal,
            })?;
        if closing && handshake.mid_connection_handshake() {
            return Err(Failure::Broken {
                proxy: connection.proxy.clone(),
                why: "it closed the connection in the middle of the NTLM handshake".into(),
            });
        }
        let known = match scheme {
            Scheme::Ntlm => None,
            Scheme::Basic => Some(Known::Basic(value.clone())),
            Scheme::Digest => challenges
                .strongest()
                .and_then(|(_, challenge)| {
                    super::auth::digest(challenge, &target, &shared.credentials)
                })
                .map(|(parsed, _)| Known::Digest(parsed)),
        };
        *shared.known.lock().unwrap_or_else(|e| e.into_inner()) = known;
        authorization =
            Some(HeaderValue::from_str(&value).map_err(|e| broken(&connection.proxy, e))?);
        if closing || connection.sender.is_closed() {
            *connection = open(&connection.proxy.clone(), shared).await?;
        }
    }
    Err(Failure::Broken {
        proxy: connection.proxy.clone(),
        why: "it asked for credentials again and again".into(),
    })
}

/// Reads and drops a 407's body, at most 64 KiB of it.
async fn drain(response: Response<Incoming>) {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(response.into_body(), 64 * 1024);
    let _ = limited.collect().await;
}

async fn send(
    connection: &mut Upstream,
    request: Request<Body>,
) -> Result<Response<Incoming>, Failure> {
    let proxy = connection.proxy.clone();
    connection
        .sender
        .ready()
        .await
        .map_err(|e| broken(&proxy, e))?;
    connection
        .sender
        .send_request(request)
        .await
        .map_err(|e| broken(&proxy, e))
}

fn broken(proxy: &str, err: impl std::fmt::Display) -> Failure {
    Failure::Broken {
        proxy: proxy.to_owned(),
        why: format!("the connection failed in the middle of the exchange ({err})"),
    }
}

/// A new connection to the proxy at `proxy` (a URL), ready for HTTP/1.1 requests.
async fn open(proxy: &str, shared: &Shared) -> Result<Upstream, Failure> {
    let unreachable = |why: String| Failure::Unreachable {
        proxy: proxy.to_owned(),
        why,
    };
    let url = reqwest::Url::parse(proxy).map_err(|e| unreachable(e.to_string()))?;
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let stream = tokio::time::timeout(
        shared.connect_timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| {
        unreachable(format!(
            "no answer within {} s",
            shared.connect_timeout.as_secs_f64()
        ))
    })?
    .map_err(|e| unreachable(e.to_string()))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    tokio::spawn(connection.with_upgrades());
    Ok(Upstream {
        sender,
        proxy: proxy.to_owned(),
        authenticated: false,
    })
}
