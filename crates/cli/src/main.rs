//! `armstrace`: the one binary. Each subcommand lives in a module of its own; this file only
//! parses the command line and dispatches.

mod admin;
mod audit;
mod bench;
mod check;
mod demo;
mod export;
mod gen_list;
mod import;
mod init;
mod operator;
mod reference;
mod serve;
mod trace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The check engine and the import allocate many small, short-lived values on several threads:
/// mimalloc serves them faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Armstrace: records of illicit firearms, checked and traced across borders.
#[derive(Debug, Parser)]
#[command(name = "armstrace", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new database with the secretariat and its administrator; prints an API token.
    Init(init::InitArgs),
    /// Serve the API (with --demo, on a demo world a newcomer can explore).
    Serve(serve::ServeArgs),
    /// Import a national list (CSV or NDJSON); bad rows are reported, good rows go in.
    Import(import::ImportArgs),
    /// Check a serial number (or a batch file of them) against every record.
    Check(check::CheckArgs),
    /// Export records in the import format.
    Export(export::ExportArgs),
    /// Write a realistic, deterministic synthetic national list as CSV to standard output.
    Gen(gen_list::GenArgs),
    /// Measure import speed and API throughput.
    Bench(bench::BenchArgs),
    /// Manage organisations, users and API tokens as the secretariat's operator.
    Admin(admin::AdminArgs),
    /// Verify the audit trail's hash chain.
    Audit(audit::AuditArgs),
    /// Export or import the reference table (makes, calibres, models) as files.
    Reference(reference::ReferenceArgs),
    /// List and show trace requests, as the operator.
    Trace(trace::TraceArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ARMSTRACE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen(args) => gen_list::run(args),
        command => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| {
                runtime.block_on(async move {
                    match command {
                        Command::Init(args) => init::run(args).await,
                        Command::Serve(args) => serve::run(args).await,
                        Command::Import(args) => import::run(args).await,
                        Command::Export(args) => export::run(args).await,
                        Command::Check(args) => check::run(args).await,
                        Command::Bench(args) => bench::run(args).await,
                        Command::Admin(args) => admin::run(args).await,
                        Command::Audit(args) => audit::run(args).await,
                        Command::Reference(args) => reference::run(args).await,
                        Command::Trace(args) => trace::run(args).await,
                        Command::Gen(_) => unreachable!("handled above"),
                    }
                })
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stops early (`| head`) is not a failure of ours.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || cause.downcast_ref::<csv::Error>().is_some_and(
                |csv| matches!(csv.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe),
            )
    })
}
