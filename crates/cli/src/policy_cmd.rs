//! `custos policy check | diff | prove`: the edge of custos-policy (argument parsing, reading
//! files and the node, printing, exit codes).

mod diff;

use std::path::PathBuf;

use clap::Subcommand;

use crate::{Failure, Format};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validate a profile against the schema and the annotation rules (exit 2 on a bad profile).
    Check {
        /// The profile (.cedar).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Replay requests under two profiles and list each request whose outcome or findings change.
    ///
    /// Compared: the outcome, the set of finding codes (every severity) and the narrowed values.
    /// "Stricter" means a more severe outcome in the order refuse > needs_information >
    /// refer_for_review > execute_narrowed > execute. Invalid requests are listed under
    /// `invalid` and do not stop the replay. Exit status 0 when the diff is produced, whatever
    /// changed; 2 on a bad profile or an unreadable folder; 1 when the node cannot be opened.
    Diff {
        /// The profile before: `rights-first`, `convention` or a .cedar file.
        #[arg(long, value_name = "PROFILE")]
        from: String,
        /// The profile after.
        #[arg(long, value_name = "PROFILE")]
        to: String,
        /// A folder of *.json files, each a custos.request/v1 document (assessed at its own
        /// `submitted_at`) or a case with `request`, `now` and optional `jurisdiction`
        /// overrides (assessed at `now`), as in testdata/cases.
        #[arg(
            long,
            value_name = "DIR",
            conflicts_with = "dir",
            required_unless_present = "dir"
        )]
        cases: Option<PathBuf>,
        /// A node directory: every request the node has received (supplements included),
        /// each assessed at its time of receipt under the node's jurisdiction.
        #[arg(long, value_name = "NODE")]
        dir: Option<PathBuf>,
        /// `text` for people, `json` for machines (default: text on a terminal, JSON
        /// otherwise).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Prove the profile's properties for every request the schema allows.
    Prove {
        /// `rights-first`, `convention` or a .cedar file.
        #[arg(long, value_name = "PROFILE")]
        profile: String,
        /// Prove only this property.
        #[arg(long, value_name = "NAME")]
        property: Option<String>,
        /// Write one counterexample request (.json) per failed property into this folder.
        #[arg(long, value_name = "DIR")]
        counterexamples: Option<PathBuf>,
    },
}

pub fn run(command: PolicyCommand) -> Result<(), Failure> {
    match command {
        PolicyCommand::Check { file } => check(&file),
        PolicyCommand::Diff {
            from,
            to,
            cases,
            dir,
            format,
        } => diff::run(&from, &to, cases.as_deref(), dir.as_deref(), format),
        PolicyCommand::Prove { .. } => Err(Failure::Setup(anyhow::anyhow!(
            "`custos policy prove` is not built yet"
        ))),
    }
}

fn check(_file: &std::path::Path) -> Result<(), Failure> {
    Err(Failure::Setup(anyhow::anyhow!(
        "`custos policy check` is not built yet"
    )))
}
