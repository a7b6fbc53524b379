//! sct: an open re-implementation of the Configuration Manager service connection tool.
//!
//! Every capability lives here; the binaries in `src/bin/` parse flags, call into this library
//! and print. The flow and the contracts between stages are described in `docs/`.

pub mod atomic;
pub mod cabinet;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod cmtrace;
pub mod config;
pub mod document;
pub mod error;
pub mod escape;
pub mod fault;
pub mod fetch;
pub mod hash;
pub mod http;
pub mod import;
pub mod litter;
pub mod lock;
pub mod logging;
pub mod medium;
pub mod offer;
pub mod packdir;
pub mod paths;
pub mod pool;
pub mod prepare;
pub mod progress;
pub mod publish;
pub mod remote;
pub mod retry;
pub mod review;
pub mod samples;
#[cfg(test)]
mod schema_check;
pub mod secret;
pub mod select;
pub mod serve;
pub mod setting;
pub mod signing;
pub mod site;
pub mod tls;
pub mod upload;
pub mod usage;
pub mod usage_cab;
pub mod verify;
pub mod version;
pub mod wrapper;
