//! Integration tests: the built binaries, run as an operator would, one module per tool.

#[cfg(unix)]
mod abuse;
mod architecture;
mod bounds;
mod collect;
mod corpus;
mod crash;
mod docs;
mod exit;
mod fetch;
mod filesystem;
mod import;
mod kit;
mod logs;
mod mssql;
mod operator;
mod pack;
mod proxy;
mod roundtrip;
mod schemas;
mod secrets;
mod service;
mod support;
mod upload;
mod verify;
mod windows;
mod wrapper;
