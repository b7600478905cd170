//! End-to-end tests of the `armstrace` binary: each test gets its own database in a temporary
//! directory and, where it needs one, its own server on a free port of 127.0.0.1.

mod access;
mod access_matrix;
mod browser;
mod checks;
mod cli;
mod cluster;
mod export;
mod hits;
mod import_api;
mod import_cli;
mod receivers;
mod records_api;
mod reference;
mod support;
mod traces;
mod web;
