//! sct: an open re-implementation of the Configuration Manager service connection tool.
//!
//! Every capability lives here; the binaries in `src/bin/` parse flags, call into this library
//! and print. The flow and the contracts between stages are described in `docs/`.

pub mod atomic;
pub mod cabinet;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod document;
pub mod error;
pub mod fetch;
pub mod hash;
pub mod http;
pub mod offer;
pub mod packdir;
pub mod paths;
pub mod prepare;
pub mod remote;
pub mod select;
pub mod signing;
pub mod site;
pub mod usage;
pub mod usage_cab;
pub mod verify;
pub mod version;
pub mod wrapper;
