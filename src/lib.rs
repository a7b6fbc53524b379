//! sct: an open re-implementation of the Configuration Manager service connection tool.
//!
//! The library is built in floors; each uses only the floors below it (`docs/architecture.md`,
//! checked by `tests/cli/architecture.rs`):
//!
//! | floor       | owns                                                                         |
//! |-------------|------------------------------------------------------------------------------|
//! | [`cli`]     | flags, the `ServiceConnectionTool` wrapper, printing, progress bars, exit codes |
//! | [`service`] | the update service: `sct-serve`, catalog publishing, TLS                      |
//! | [`stages`]  | the pipeline's stages: collect, upload, fetch, verify, import                 |
//! | [`site`]    | the site database back ends: embedded SQLite, SQL Server                      |
//! | [`core`]    | formats and rules every floor shares: catalog, signing, cabinets, documents, paths, logs |
//!
//! The binaries in `src/bin/` are shims over [`cli::args`].

pub mod cli;
pub mod core;
pub mod service;
pub mod site;
pub mod stages;

#[cfg(test)]
mod schema_check;
