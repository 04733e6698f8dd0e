//! `custos` — the command line of Custos.
//!
//! Today: `custos assess`, which applies a safeguard profile to one request and prints the
//! assessment (safeguards.md, *Command-line contract*). The service commands (init, serve, submit,
//! authority, log, audit, seal) will join it here.
//!
//! Exit status: 0 when an assessment was produced (whatever its outcome); 2 when the request or the
//! command line is invalid or unreadable; 1 when Custos itself cannot work (a profile or
//! jurisdiction file that does not load, a rule that fails to evaluate).

mod assess;
mod seal;
mod text;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use jiff::Timestamp;

#[derive(Parser)]
#[command(
    name = "custos",
    version,
    about = "Receive, vet and audit cross-border requests for electronic evidence, with the safeguards enforced by code.",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assess one request against a safeguard profile and print the recommendation.
    ///
    /// Exit status 0 whenever an assessment is produced, whatever its outcome; 2 if the request
    /// is invalid (the error on stderr names the field); 1 if the profile or jurisdiction file
    /// cannot be used.
    Assess(AssessArgs),
    /// Seal produced files into an age-encrypted package with a signed manifest.
    Seal(seal::SealArgs),
    /// Decrypt a sealed package, verify its manifest and files, and extract them.
    Unseal(seal::UnsealArgs),
}

#[derive(clap::Args)]
pub struct AssessArgs {
    /// `rights-first` (default), `convention`, or the path of a .cedar profile of your own.
    #[arg(long, default_value = "rights-first", value_name = "NAME|PATH")]
    profile: String,

    /// The time of the assessment, RFC 3339 (e.g. 2026-11-20T12:00:00Z). Default: now.
    #[arg(long, value_name = "TIME")]
    now: Option<Timestamp>,

    /// A TOML file with the receiving jurisdiction's settings; keys left out keep the defaults.
    #[arg(long, value_name = "FILE")]
    jurisdiction: Option<PathBuf>,

    /// `text` for people, `json` for machines (custos.assessment/v1). Default: text on a
    /// terminal, json otherwise.
    #[arg(long, value_enum)]
    format: Option<Format>,

    /// The request (custos.request/v1 JSON); `-` reads standard input.
    #[arg(value_name = "REQUEST.json")]
    request: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// How a command failed, which decides the exit status.
pub enum Failure {
    /// The input (request, command line) is wrong: exit 2.
    Input(String),
    /// Custos or its configuration cannot work: exit 1.
    Setup(anyhow::Error),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Assess(args) => assess::run(args),
        Command::Seal(args) => seal::seal(args),
        Command::Unseal(args) => seal::unseal(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(message)) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
        Err(Failure::Setup(err)) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
