//! `custos policy check | diff | prove`: the edge of custos-policy (argument parsing, reading
//! files and the node, printing, exit codes).

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::{Failure, Format};

mod diff;
mod prove;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validate a profile against the schema and the annotation rules (exit 2 on a bad profile).
    Check {
        /// The profile (.cedar).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// `text` for people (the default), `json` for machines.
        #[arg(long, value_enum)]
        format: Option<Format>,
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
    /// Prove the profile's properties for every request the schema allows (needs cvc5 >= 1.3:
    /// scripts/install-cvc5). Exit 0 when every property holds, 2 when one fails (its
    /// counterexample is printed as facts and as a request), 1 when the solver is missing or fails.
    Prove {
        /// `rights-first`, `convention` or a .cedar file. A file is held to the built-in properties
        /// of the profile its @profile names, plus those of `NAME.properties.cedar` beside it.
        /// Default with --dir: the node's profile.
        #[arg(long, value_name = "PROFILE", required_unless_present = "dir")]
        profile: Option<String>,
        /// Prove only this property.
        #[arg(long, value_name = "NAME")]
        property: Option<String>,
        /// Write one counterexample request (.json) per failed property into this folder.
        #[arg(long, value_name = "DIR")]
        counterexamples: Option<PathBuf>,
        /// A node directory: record the result in NODE/proofs/<profile>.json (the console's
        /// profile page shows it), and reproduce counterexamples under the node's jurisdiction.
        #[arg(long, value_name = "NODE")]
        dir: Option<PathBuf>,
        /// `text` for people, `json` for machines (the proof record and each counterexample).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

pub fn run(command: PolicyCommand) -> Result<(), Failure> {
    match command {
        PolicyCommand::Check { file, format } => check(&file, format.unwrap_or(Format::Text)),
        PolicyCommand::Diff {
            from,
            to,
            cases,
            dir,
            format,
        } => diff::run(&from, &to, cases.as_deref(), dir.as_deref(), format),
        PolicyCommand::Prove {
            profile,
            property,
            counterexamples,
            dir,
            format,
        } => prove::run(prove::Args {
            profile,
            property,
            counterexamples,
            dir,
            format,
        }),
    }
}

/// `custos policy check FILE`: exit 0 with the profile in figures, 2 with every problem, 1 when
/// the file cannot be read.
fn check(file: &Path, format: Format) -> Result<(), Failure> {
    let source = std::fs::read_to_string(file).map_err(|e| {
        Failure::Setup(anyhow::anyhow!(
            "{}: cannot read the profile: {e}; give the path of a .cedar file",
            file.display()
        ))
    })?;
    let stem = file
        .file_stem()
        .map_or_else(|| "custom".to_owned(), |s| s.to_string_lossy().into_owned());
    let report = custos_policy::check::check(&file.display().to_string(), &source, &stem);
    match format {
        Format::Json => {
            let mut json =
                serde_json::to_string_pretty(&report).map_err(|e| Failure::Setup(e.into()))?;
            json.push('\n');
            crate::out::write(&json)?;
            if report.valid {
                Ok(())
            } else {
                Err(Failure::Input(report.headline()))
            }
        }
        // A bad profile's problems go to standard error, as an invalid request's do.
        Format::Text if report.valid => crate::out::write(&report.text()),
        Format::Text => Err(Failure::Input(report.text().trim_end().to_owned())),
    }
}
