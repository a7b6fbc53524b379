//! Integration tests: the built binaries, run as an operator would, one module per tool.

#[cfg(unix)]
mod abuse;
mod architecture;
mod bounds;
mod carried;
mod check;
mod collect;
mod conventions;
mod corpus;
mod crash;
mod docs;
mod exit;
mod fetch;
mod filesystem;
mod freshness;
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
mod served;
mod service;
mod span;
mod support;
mod upload;
mod verify;
mod windows;
mod wrapper;
mod writers;
