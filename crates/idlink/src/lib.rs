//! The idlink binary's library half: configuration, the master keyring file,
//! and starting/stopping a server, so integration tests drive exactly what
//! `idlink serve` runs, with its background work ([`background`]); and
//! the benchmarks `idlink bench balance` ([`bench_balance`]), `idlink bench
//! introspect` ([`bench_introspect`]), `idlink bench pages` ([`bench_pages`])
//! and `idlink bench report` ([`bench_report`]); the operations commands
//! `idlink backup` / `idlink restore` ([`backup`]) and `idlink move`
//! ([`moving`]).

pub mod background;
pub mod backup;
pub mod bench_balance;
pub mod bench_crash;
pub mod bench_harness;
pub mod bench_introspect;
pub mod bench_medical;
pub mod bench_pages;
pub mod bench_report;
pub mod bench_revocation;
pub mod bench_scale;
pub mod bench_seed;
pub mod clients_cli;
pub mod config;
pub mod keyfile;
pub mod moving;
pub mod oidc_jobs;
pub mod retention_cli;
pub mod serve;
