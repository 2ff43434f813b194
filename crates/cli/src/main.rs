//! The `vouch` binary: command-line parsing, logging set-up, and the one place where errors
//! become exit codes (0 ok, 1 verified-and-denied, 2 error).

mod blob;
mod gate;
mod image;
mod keygen;
mod ledger;
mod policy;
mod provenance;
mod trust;

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use server::Config;
use server::config::{Overrides, parse_duration};

#[derive(Parser)]
#[command(
    name = "vouch",
    version,
    about = "A verifiable software supply chain: registry, signing, ledger"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry.
    Serve {
        /// Address to listen on.
        #[arg(long)]
        addr: Option<SocketAddr>,
        /// Data directory (blobs, metadata, uploads).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Configuration file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Allow anonymous read-write access on a non-loopback address. Dangerous.
        #[arg(long)]
        allow_anonymous_remote: bool,
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Remove blobs no manifest references. Safe while the server runs.
    Gc {
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
        /// Report what would be removed without removing anything.
        #[arg(long)]
        dry_run: bool,
        /// Keep unreferenced blobs younger than this (e.g. 30m, 1h); default from the config.
        #[arg(long)]
        grace: Option<String>,
    },
    /// Print a bcrypt hash for the configuration's `password` field. Reads the password from
    /// VOUCH_PASSWORD, else from standard input.
    HashPassword {
        #[arg(long, default_value_t = 10)]
        cost: u32,
    },
    #[command(flatten)]
    Keys(keygen::KeyCommand),
    #[command(flatten)]
    Blob(blob::BlobCommand),
    #[command(flatten)]
    Image(image::ImageCommand),
    /// The transparency ledger: verify its files, fetch and prove entries, audit, record.
    Ledger {
        #[command(subcommand)]
        command: ledger::LedgerCommand,
    },
    /// Revoke a key or an artifact on a trusted registry (administrators): recorded on its
    /// ledger; everything they admitted is decided again.
    Revoke(gate::RevokeArgs),
    /// An artifact's history from a registry's ledger (pushes, signatures, provenance,
    /// decisions, revocations), each entry's inclusion proof checked.
    Trace(gate::TraceArgs),
    /// Trust policies: check documents.
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// SLSA provenance for a build.
    Provenance {
        #[command(subcommand)]
        command: provenance::ProvenanceCommand,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vouch: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            addr,
            data,
            config,
            allow_anonymous_remote,
            log_format,
        } => {
            init_logging(log_format);
            let overrides = Overrides {
                addr,
                data_dir: data,
                allow_anonymous_remote,
            };
            let config = Config::load(config.as_deref(), overrides)?;
            server::check_listen_policy(&config)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(server::serve(config, shutdown_signal()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Gc {
            data,
            config,
            dry_run,
            grace,
        } => {
            let overrides = Overrides {
                data_dir: data,
                ..Overrides::default()
            };
            let config = Config::load(config.as_deref(), overrides)?;
            let grace = match grace {
                Some(g) => parse_duration(&g)?,
                None => config.limits.gc_grace,
            };
            let report = gc(&config, grace, dry_run)?;
            let verb = if dry_run { "would remove" } else { "removed" };
            println!(
                "{verb} {} blobs ({} bytes), {} repository links, {} orphaned files, {} expired uploads; restored {} trashed blobs",
                report.blobs,
                report.bytes,
                report.links,
                report.orphans,
                report.uploads,
                report.restored
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(command) => keygen::run(command),
        Command::Blob(command) => blob::run(command),
        Command::Image(command) => image::run(command),
        Command::Ledger { command } => ledger::run(command),
        Command::Revoke(args) => gate::revoke(args),
        Command::Trace(args) => gate::trace(args),
        Command::Policy { command } => policy::run(command),
        Command::Provenance { command } => provenance::run(command),
        Command::HashPassword { cost } => {
            let password = match std::env::var("VOUCH_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .context("cannot read the password from standard input")?;
                    s.trim_end_matches(['\n', '\r']).to_owned()
                }
            };
            anyhow::ensure!((4..=31).contains(&cost), "cost must be between 4 and 31");
            let mut salt = [0u8; 16];
            aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut salt)
                .map_err(|_| anyhow::anyhow!("the OS random source failed"))?;
            let hash = bcrypt::hash_with_salt(password, cost, salt)?
                .format_for_version(bcrypt::Version::TwoY);
            println!("{hash}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn gc(
    config: &Config,
    grace: std::time::Duration,
    dry_run: bool,
) -> anyhow::Result<server::gc::GcReport> {
    use server::store::{blobs::BlobStore, meta::Meta, uploads::Uploads};
    anyhow::ensure!(
        config.data_dir.join("meta.db").is_file(),
        "{} holds no vouch data (no meta.db)",
        config.data_dir.display()
    );
    let meta = Meta::open(&config.data_dir)?;
    let blobs = BlobStore::open(&config.data_dir)?;
    let uploads: Arc<Uploads> = Uploads::open(&config.data_dir)?;
    let opts = server::gc::GcOptions {
        grace,
        upload_expiry: config.limits.upload_expiry,
        dry_run,
    };
    Ok(server::gc::collect(&meta, &blobs, &uploads, &opts)?)
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let filter: Targets = std::env::var("VOUCH_LOG")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .init(),
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
