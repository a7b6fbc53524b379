//! Test-only helpers for sct, shared by the library's unit tests and the CLI tests.
//!
//! A dev-dependency of sct: nothing here is compiled into the library or its binaries. It depends
//! on nothing in sct, so the unit tests (which build their own copy of the library) can use it.
//!
//! - [`tds`]: TDS servers that stand in for SQL Server, well-behaved and misbehaving.
//! - [`cmtrace`]: a CMTrace log reader, written apart from sct's writer so that a writer bug
//!   cannot hide in a helper both share.

pub mod cmtrace;
pub mod tds;
