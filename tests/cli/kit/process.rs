//! Child processes and ports: the pieces every peer launcher needs.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

/// A child process stopped (and reaped) when dropped.
pub struct Running {
    pub child: Child,
    pub name: &'static str,
}

impl Drop for Running {
    /// TERM first, so nginx and squid masters stop their workers (a KILLed master leaves them
    /// running); KILL only if the process is still there after a bounded wait.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1 (for peers that cannot report the port they bound).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port on 127.0.0.1 where nothing listens while this is held: the socket is bound but never
/// listens, so a connection to it is refused at once, and no server another test starts can take
/// the port meanwhile (as it can a [`free_port`], which is free again when returned).
pub struct ClosedPort {
    _socket: socket2::Socket,
    pub port: u16,
}

pub fn closed_port() -> ClosedPort {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    ClosedPort {
        _socket: socket,
        port,
    }
}

/// Waits until something listens on the port (a readiness wait, not a timing assertion).
pub fn wait_for_port(port: u16, what: &str, log: &Path) {
    for _ in 0..300 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{what} did not start listening on port {port}; log: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// True when the tests run as root: permissions do not stop root, so tests use mounts instead,
/// and peers that drop privileges (nginx, squid) need to be told which user to be.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
