//! The one place that starts tokio. The library is synchronous at its edges: a stage that talks to
//! the network (upload, fetch), the service, and the SQL Server back end each block on a runtime
//! built here, with every driver (I/O, time) on, so none forgets one.
//! `ServiceConnectionTool -connect` builds one and runs both its upload and its fetch on it.

use anyhow::Context;
use tokio::runtime::Runtime;

/// A runtime with a worker thread per core: for uploads, downloads and the service.
pub fn build() -> anyhow::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Failed to start the async runtime")
}

/// A runtime on the calling thread alone: for a few requests in a row (a dry run's catalog
/// GET) or a synchronous adapter over an async client (the SQL Server site).
pub fn current_thread() -> anyhow::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("Failed to start the async runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_runtimes_have_timers_and_io() {
        for runtime in [build().unwrap(), current_thread().unwrap()] {
            runtime.block_on(async {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            });
        }
    }
}
