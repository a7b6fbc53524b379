//! TDS servers for tests: Microsoft's `mssql-mock-tds` with canned answers, and small servers
//! that misbehave the ways real ones do (refuse the login, drop the connection, never answer).
//!
//! The SQL Server back end's unit tests (src/site/mssql/tests.rs) and the CLI tests
//! (tests/cli/mssql.rs) speak to the same servers.

use mssql_mock_tds::protocol::{PacketHeader, PacketType, build_prelogin_response};
pub use mssql_mock_tds::{
    ColumnDefinition, ColumnValue, QueryRegistry, QueryResponse, Row, SqlDataType, TerminalError,
};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// Microsoft's mock TDS server on a free loopback port, stopped when dropped.
pub struct MockServer {
    pub port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Starts the mock; `register` adds the canned answers (register statements in upper case:
    /// parameterised statements are matched by their upper-case text).
    pub fn start(register: impl FnOnce(&mut QueryRegistry) + Send + 'static) -> Self {
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("mock runtime");
            runtime.block_on(async move {
                let server = mssql_mock_tds::MockTdsServer::new("127.0.0.1:0")
                    .await
                    .expect("mock TDS server");
                register(&mut *server.query_registry().lock().await);
                port_tx.send(server.local_addr().port()).unwrap();
                let _ = server.run_with_shutdown(shutdown_rx).await;
            });
        });
        let port = port_rx.recv().expect("the mock TDS server did not start");
        Self {
            port,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A result set of one or more rows, for [`QueryRegistry::register`].
pub fn result(columns: &[(&str, SqlDataType)], rows: Vec<Vec<ColumnValue>>) -> QueryResponse {
    QueryResponse::new(
        columns
            .iter()
            .map(|(name, ty)| ColumnDefinition::new(*name, *ty))
            .collect(),
        rows.into_iter().map(Row::new).collect(),
    )
}

/// An nvarchar value.
pub fn text(value: &str) -> ColumnValue {
    ColumnValue::NVarChar(value.to_owned())
}

/// An nvarchar(max) value, sent in two chunks when long enough (as a server may split it).
pub fn long_text(value: &str) -> ColumnValue {
    let units: Vec<u16> = value.encode_utf16().collect();
    let middle = units.len() / 2;
    if middle == 0 {
        return ColumnValue::NVarCharMax(vec![units]);
    }
    ColumnValue::NVarCharMax(vec![units[..middle].to_vec(), units[middle..].to_vec()])
}

/// An error the server raises instead of a result set (e.g. 229 permission denied).
pub fn server_error(number: u32, message: &str) -> QueryResponse {
    QueryResponse::error_only(TerminalError::new(number, 16, message))
}

/// How a [`RawServer`] treats each connection.
#[derive(Clone, Debug)]
pub enum Misbehaviour {
    /// Answers the pre-login, then refuses the login with these `(number, message)` errors, as
    /// SQL Server does (e.g. 4060 then 18456 for a missing database).
    RefuseLogin(Vec<(u32, String)>),
    /// Accepts the TCP connection and closes it at once.
    CloseAtOnce,
    /// Accepts the TCP connection and never says a word.
    Silent,
    /// Relays to the mock at `upstream`, lets `allowed` queries (RPC requests) through, and cuts
    /// both sides when the client sends the next one.
    DropOnQuery { upstream: u16, allowed: usize },
}

/// A hand-written TDS endpoint on a loopback port, for failures the mock cannot produce.
pub struct RawServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RawServer {
    pub fn start(behaviour: Misbehaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                match &behaviour {
                    Misbehaviour::RefuseLogin(errors) => refuse_login(stream, errors),
                    Misbehaviour::CloseAtOnce => drop(stream),
                    Misbehaviour::Silent => held.push(stream),
                    Misbehaviour::DropOnQuery { upstream, allowed } => {
                        let (upstream, allowed) = (*upstream, *allowed);
                        std::thread::spawn(move || relay_until_query(stream, upstream, allowed));
                    }
                }
            }
        });
        Self {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one whole TDS message (all packets up to end-of-message); `None` at EOF.
fn read_message(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut body = Vec::new();
    loop {
        let mut header = [0u8; 8];
        stream.read_exact(&mut header).ok()?;
        let length = u16::from_be_bytes([header[2], header[3]]) as usize;
        let mut part = vec![0u8; length.saturating_sub(8)];
        stream.read_exact(&mut part).ok()?;
        body.extend_from_slice(&part);
        if header[1] & 0x01 != 0 {
            return Some((header[0], body));
        }
    }
}

fn refuse_login(mut stream: TcpStream, errors: &[(u32, String)]) {
    if read_message(&mut stream).is_none() {
        return;
    }
    let _ = stream.write_all(&build_prelogin_response());
    if read_message(&mut stream).is_none() {
        return;
    }
    let mut tokens = Vec::new();
    for (number, message) in errors {
        tokens.extend(error_token(*number, 14, message));
    }
    // DONE with the error flag: the login is over.
    tokens.push(0xFD);
    tokens.extend(0x0002u16.to_le_bytes());
    tokens.extend(0u16.to_le_bytes());
    tokens.extend(0u64.to_le_bytes());
    let mut packet: Vec<u8> = Vec::new();
    PacketHeader::new(PacketType::TabularResult, (8 + tokens.len()) as u16, 1).write(&mut packet);
    packet.extend_from_slice(&tokens);
    let _ = stream.write_all(&packet);
    let _ = stream.shutdown(Shutdown::Both);
}

/// An ERROR token (0xAA) as SQL Server sends it.
fn error_token(number: u32, class: u8, message: &str) -> Vec<u8> {
    let utf16 =
        |text: &str| -> Vec<u8> { text.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let mut body = Vec::new();
    body.extend(number.to_le_bytes());
    body.push(1); // state
    body.push(class);
    body.extend((message.encode_utf16().count() as u16).to_le_bytes());
    body.extend(utf16(message));
    let server = "MOCKSQL";
    body.push(server.len() as u8);
    body.extend(utf16(server));
    body.push(0); // procedure
    body.extend(1u32.to_le_bytes()); // line
    let mut token = vec![0xAA];
    token.extend((body.len() as u16).to_le_bytes());
    token.extend(body);
    token
}

/// Forwards bytes both ways until the client sends RPC request number `allowed + 1`, then
/// closes both sides.
fn relay_until_query(client: TcpStream, upstream_port: u16, allowed: usize) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
        return;
    };
    let _ = server.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let (mut client_read, mut server_write) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut server_read, mut client_write) = (server, client);
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut server_read, &mut client_write);
        let _ = client_write.shutdown(Shutdown::Both);
    });
    let mut queries = 0;
    let mut message_start = true;
    loop {
        let mut header = [0u8; 8];
        if client_read.read_exact(&mut header).is_err() {
            break;
        }
        // Count messages, not packets: a message starts after an end-of-message packet.
        if header[0] == PacketType::RpcRequest as u8 && message_start {
            if queries == allowed {
                break;
            }
            queries += 1;
        }
        message_start = header[1] & 0x01 != 0;
        let length = u16::from_be_bytes([header[2], header[3]]) as usize;
        let mut packet = header.to_vec();
        packet.resize(length.max(8), 0);
        // One write per packet: the mock reads the pre-login with a single read and stalls on
        // a packet that arrives in two pieces.
        if client_read.read_exact(&mut packet[8..]).is_err()
            || server_write.write_all(&packet).is_err()
        {
            break;
        }
    }
    let _ = client_read.shutdown(Shutdown::Both);
    let _ = server_write.shutdown(Shutdown::Both);
    let _ = back.join();
}
