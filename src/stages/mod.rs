//! The stages floor: one module per pipeline stage, each a function from its inputs to its
//! outputs that reports through [`crate::core::report`] and never prints.
//!
//! [`prepare`] (site → usage cab, review CSV), [`upload`], [`fetch`] (with [`remote`], the signed
//! catalog's retrieval), [`verify`], [`import`]; [`http`] is their one HTTP client and [`config`]
//! the operator's settings (`sct.toml`, environment) they read.

pub mod check;
pub mod config;
pub mod fetch;
pub mod http;
pub mod import;
pub mod prepare;
pub mod proxy;
pub mod remote;
pub mod retry;
pub mod span;
pub mod upload;
pub mod verify;
