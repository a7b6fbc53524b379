//! Integration tests: the built binaries, run as an operator would, one module per tool.

mod support;

mod collect;
mod corpus;
mod import;
mod logs;
mod pack;
mod secrets;
mod service;
mod servicekit;
mod upload;
mod wrapper;
