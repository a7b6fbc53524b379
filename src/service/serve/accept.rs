//! The accept loop of `sct-serve`: every connection is admitted by [`Connections`] (limits and
//! eviction), served by hyper with a header-read timeout, and tracked per request so that only
//! idle connections are ever evicted.

use super::connections::{Admission, ConnectionState, Connections, InFlight, Limits};
use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// Longest the server waits, once told to stop, for requests in flight to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(60);

type Builder = auto::Builder<TokioExecutor>;

/// Accepts connections on `listener` until `shutdown` completes, then lets requests in flight
/// finish (at most [`SHUTDOWN_GRACE`]).
pub async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Connections::new(limits);
    let builder = Arc::new(builder(limits));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, peer)) = accepted else {
            // Out of descriptors and the like: wait instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Every connection within the limits is busy: this one is closed at once.
        let Some(admission) = connections.admit(peer.ip()) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let task = Task {
            builder: builder.clone(),
            app: app.clone(),
            stopping: stopping.clone(),
        };
        tokio::spawn(task.serve(stream, tls.clone(), admission));
    }
    let _ = stop.send(true);
    drop(stopping);
    // Each connection task holds a receiver: `closed` completes when the last one has ended.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, stop.closed()).await;
}

fn builder(limits: &Limits) -> Builder {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    builder
}

/// What one connection's task needs.
struct Task {
    builder: Arc<Builder>,
    app: Router,
    stopping: watch::Receiver<bool>,
}

impl Task {
    /// Serves one connection until it ends, is evicted, or the server stops.
    async fn serve(self, stream: TcpStream, tls: Option<TlsAcceptor>, admission: Admission) {
        let state = admission.state.clone();
        tokio::select! {
            () = state.evicted() => {}
            () = self.handshake_and_serve(stream, tls, state.clone()) => {}
        }
        drop(admission);
    }

    async fn handshake_and_serve(
        self,
        stream: TcpStream,
        tls: Option<TlsAcceptor>,
        state: Arc<ConnectionState>,
    ) {
        match tls {
            None => self.http(stream, state).await,
            Some(acceptor) => {
                let handshake = tokio::time::timeout(
                    crate::service::tls::HANDSHAKE_TIMEOUT,
                    acceptor.accept(stream),
                );
                if let Ok(Ok(stream)) = handshake.await {
                    self.http(stream, state).await;
                }
            }
        }
    }

    async fn http<I>(mut self, io: I, state: Arc<ConnectionState>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = Tracked {
            app: self.app.clone(),
            state,
        };
        let connection = self.builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = self.stopping.wait_for(|stop| *stop) => connection.as_mut().graceful_shutdown(),
        }
        let _ = connection.await;
    }
}

/// The router, with each request counted as in flight until its response body is done.
#[derive(Clone)]
struct Tracked {
    app: Router,
    state: Arc<ConnectionState>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Tracked {
    type Response = hyper::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let in_flight = self.state.start_request();
        let mut app = self.app.clone();
        Box::pin(async move {
            // A Router is always ready: no poll_ready needed.
            let response = tower_service::Service::call(&mut app, request).await?;
            Ok(response.map(|inner| Body::new(TrackedBody { inner, in_flight })))
        })
    }
}

/// A response body that keeps its request counted as in flight until it is sent or dropped.
struct TrackedBody {
    inner: Body,
    #[allow(dead_code)] // held for its Drop
    in_flight: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
