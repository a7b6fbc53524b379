//! Integration tests: the built binaries, run as an operator would, one module per tool.

#[cfg(unix)]
mod abuse;
mod architecture;
mod bounds;
mod collect;
mod corpus;
mod crash;
mod docs;
mod fetch;
mod fetchkit;
mod filesystem;
mod import;
mod logs;
mod mssql;
mod operator;
mod pack;
mod roundtrip;
mod secrets;
mod service;
mod servicekit;
mod support;
mod upload;
mod verify;
mod windows;
mod wrapper;
