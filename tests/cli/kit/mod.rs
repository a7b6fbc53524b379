//! The test kit: what the test modules share beyond [`crate::support`]'s commands — builders for
//! catalogs and update services in-process, `sct-serve` as a child process, and the peers a test
//! runs against (nginx, squid, a test server that misbehaves on purpose), all on 127.0.0.1 and
//! all stopped when dropped. One copy of each, so a peer's configuration is fixed in one place.

#![allow(dead_code)]

pub mod catalogs;
pub mod certs;
pub mod chaos;
pub mod http;
pub mod nginx;
pub mod packfolder;
pub mod process;
pub mod service;
pub mod squid;

pub use catalogs::{PackSpec, Service, json_lines, read};
pub use certs::test_certificates;
pub use http::{CHAOS_KINDS, Fault, TestServer};
pub use nginx::Nginx;
pub use packfolder::{TestPack, test_pack, write_pack_folder};
pub use process::{closed_port, is_root};
pub use service::Trip;
pub use service::{
    Published, Server, offers, one_cab, post_usage, publish, publish_command, published,
    published_sized, raw_request, stored, two_hierarchies, upload, usage_cab,
};
pub use squid::{ProxyAuth, Squid};

/// The hierarchy of most tests' site (also `tests/data`'s and the corpus forge's).
pub const HIERARCHY_A: &str = "6f1c2f0e-36c1-4b0e-9d1c-2d2d8a0c7e11";
/// A second hierarchy, for tests that need two (also `tests/data`'s "other hierarchy").
pub const HIERARCHY_B: &str = "0b3f5c7a-1d2e-4f60-8a9b-c0d1e2f3a4b5";
/// The upload token [`Server::start`] gives the service unless told otherwise; clients send it
/// from `SCT_SERVICE_TOKEN` ([`upload`], [`post_usage`]).
pub const TOKEN: &str = "test-upload-token-5f2c";
