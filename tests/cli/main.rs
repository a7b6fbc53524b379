//! Integration tests: the built binaries, run as an operator would, one module per tool.

mod fetchkit;
mod support;

mod collect;
mod fetch;
mod pack;
mod verify;
mod wrapper;
