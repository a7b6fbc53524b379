//! Integration tests: the built binaries, run as an operator would, one module per tool.

mod support;

mod collect;
mod mssql;
mod pack;
mod wrapper;
