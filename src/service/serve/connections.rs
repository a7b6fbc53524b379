//! Who gets a connection to `sct-serve`, and for how long: the service must keep answering
//! catalog downloads while anyone on the network opens slow connections or floods it.
//!
//! - **Header-read timeout.** A client must send a complete request head within
//!   [`Limits::header_timeout`] (HTTP/1.1; the same applies to a kept-alive connection waiting for
//!   its next request), or the connection is closed. TLS handshakes have their own limit.
//! - **Connection limits.** At most [`Limits::max_connections`] at once, never more than the
//!   process's file-descriptor limit leaves room for (a reserve stays free for files), and at
//!   most [`Limits::max_per_ip`] from one address.
//! - **Eviction.** When a limit is reached, the new connection takes the place of the oldest
//!   *idle* one within that limit (no request in flight: a slow client still sending its head,
//!   or a kept-alive connection), so slow connections cannot lock legitimate clients out. Only
//!   when every connection is busy with a request is the new one closed at once.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Default for `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default for `--max-connections-per-ip`.
pub const DEFAULT_MAX_PER_IP: usize = 64;
/// Default for `--header-timeout`: 10 s to send a request head.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// File descriptors kept free for everything but connections (served files, uploads, logs).
const RESERVED_DESCRIPTORS: u64 = 64;

/// The limits on connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub max_per_ip: usize,
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_per_ip: DEFAULT_MAX_PER_IP,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
        }
    }
}

impl Limits {
    /// The connection limit this process can honour: the configured one, lowered so that
    /// connections never take the descriptors files need.
    pub fn effective_max_connections(&self) -> usize {
        let ceiling = descriptor_limit()
            .map(|limit| limit.saturating_sub(RESERVED_DESCRIPTORS).max(1))
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(usize::MAX);
        self.max_connections.min(ceiling).max(1)
    }
}

/// The soft limit on open file descriptors (Unix); `None` where connections are not counted
/// against one (Windows sockets).
#[cfg(unix)]
fn descriptor_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and has no other effect.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

#[cfg(not(unix))]
fn descriptor_limit() -> Option<u64> {
    None
}

/// What a connection shares with the table: its requests in flight, and the signal to go.
#[derive(Default)]
pub struct ConnectionState {
    in_flight: AtomicUsize,
    evicted: Notify,
}

impl ConnectionState {
    /// Marks one request in flight until the returned guard is dropped (with the response body).
    pub fn start_request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Completes when this connection was evicted to make room for another.
    pub async fn evicted(&self) {
        self.evicted.notified().await;
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }
}

/// One request in flight on a connection.
pub struct InFlight(Arc<ConnectionState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

struct Open {
    ip: IpAddr,
    state: Arc<ConnectionState>,
}

#[derive(Default)]
struct Table {
    next: u64,
    /// Open connections by admission order: the first idle one is the oldest.
    open: BTreeMap<u64, Open>,
    per_ip: HashMap<IpAddr, usize>,
}

impl Table {
    /// Removes a connection; true when it was still there.
    fn remove(&mut self, id: u64) -> bool {
        let Some(gone) = self.open.remove(&id) else {
            return false;
        };
        if let Some(count) = self.per_ip.get_mut(&gone.ip) {
            *count -= 1;
            if *count == 0 {
                self.per_ip.remove(&gone.ip);
            }
        }
        true
    }

    /// Evicts the oldest idle connection (from `ip` only, when given); false when none is idle.
    fn evict_oldest_idle(&mut self, ip: Option<IpAddr>) -> bool {
        let victim = self
            .open
            .iter()
            .find(|(_, c)| ip.is_none_or(|ip| c.ip == ip) && c.state.is_idle())
            .map(|(id, c)| (*id, c.state.clone()));
        let Some((id, state)) = victim else {
            return false;
        };
        self.remove(id);
        state.evicted.notify_one();
        true
    }
}

/// The open connections, shared by the accept loop and the connection tasks.
pub struct Connections {
    max: usize,
    max_per_ip: usize,
    table: Mutex<Table>,
}

/// A connection's place in the table, given back when dropped.
pub struct Admission {
    id: u64,
    connections: Arc<Connections>,
    pub state: Arc<ConnectionState>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.connections.lock().remove(self.id);
    }
}

impl Connections {
    pub fn new(limits: &Limits) -> Arc<Self> {
        Arc::new(Self {
            max: limits.effective_max_connections(),
            max_per_ip: limits.max_per_ip.max(1),
            table: Mutex::new(Table::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a connection from `ip`, evicting the oldest idle one when a limit is reached;
    /// `None` when every connection within the limit is busy (the caller closes the new one).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admission> {
        let mut table = self.lock();
        let from_ip = table.per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= self.max_per_ip && !table.evict_oldest_idle(Some(ip)) {
            return None;
        }
        if table.open.len() >= self.max && !table.evict_oldest_idle(None) {
            return None;
        }
        let id = table.next;
        table.next += 1;
        let state = Arc::new(ConnectionState::default());
        table.open.insert(
            id,
            Open {
                ip,
                state: state.clone(),
            },
        );
        *table.per_ip.entry(ip).or_default() += 1;
        Some(Admission {
            id,
            connections: self.clone(),
            state,
        })
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        self.lock().open.len()
    }

    /// The connection limit in force.
    pub fn max(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    fn connections(max: usize, max_per_ip: usize) -> Arc<Connections> {
        Connections::new(&Limits {
            max_connections: max,
            max_per_ip,
            ..Limits::default()
        })
    }

    #[test]
    fn a_full_table_evicts_the_oldest_idle_connection() {
        let table = connections(2, 10);
        let first = table.admit(ip(1)).unwrap();
        let second = table.admit(ip(2)).unwrap();
        let _busy = second.state.start_request();
        let third = table
            .admit(ip(3))
            .expect("the idle first connection makes room");
        assert_eq!(table.open(), 2);
        // The evicted connection is told to go, and dropping it later changes nothing.
        let evicted = first.state.clone();
        drop(first);
        assert_eq!(table.open(), 2);
        let runtime = crate::core::runtime::current_thread().unwrap();
        let told = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), evicted.evicted()).await
        });
        assert!(told.is_ok(), "the evicted connection was signalled");
        // Both remaining connections are busy now: a newcomer is refused.
        let _also_busy = third.state.start_request();
        assert!(table.admit(ip(4)).is_none());
        assert_eq!(table.open(), 2);
    }

    #[test]
    fn one_address_is_limited_without_touching_the_others() {
        let table = connections(100, 2);
        let a1 = table.admit(ip(9)).unwrap();
        let _a1_busy = a1.state.start_request();
        let a2 = table.admit(ip(9)).unwrap();
        let other = table.admit(ip(1)).unwrap();
        // A third from .9 evicts .9's idle connection, not the other address's.
        let a3 = table.admit(ip(9)).unwrap();
        assert!(other.state.is_idle());
        assert_eq!(table.open(), 3);
        drop(a2);
        assert_eq!(table.open(), 3, "a2 was already evicted");
        let _a3_busy = a3.state.start_request();
        assert!(table.admit(ip(9)).is_none(), "both of .9's are busy");
        assert!(table.admit(ip(2)).is_some());
    }

    #[test]
    fn requests_in_flight_keep_a_connection_busy_until_dropped() {
        let state = Arc::new(ConnectionState::default());
        let one = state.start_request();
        let two = state.start_request();
        drop(one);
        assert!(!state.is_idle());
        drop(two);
        assert!(state.is_idle());
    }

    #[test]
    fn the_limit_leaves_descriptors_for_files() {
        let limits = Limits {
            max_connections: usize::MAX,
            ..Limits::default()
        };
        let max = limits.effective_max_connections();
        if let Some(fds) = descriptor_limit() {
            assert!((max as u64) <= fds.saturating_sub(RESERVED_DESCRIPTORS).max(1));
        }
        assert!(max >= 1);
    }
}
