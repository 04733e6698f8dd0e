//! `custos seal` and `custos unseal`: sealed evidence packages (see the `custos-seal` crate).
//!
//! Exit status as for `assess`: 2 for bad input (a file that cannot be sealed, a package that is
//! tampered with, not for this identity, or without a manifest), 1 for setup problems (a key or
//! identity file that cannot be used, an output that cannot be written).

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use custos_ledger::{SignerKey, VerifierKey};
use custos_model::{DataCategory, Period};
use custos_seal::{
    DurableFile, FileToSeal, SealError, SealSpec, UnsealError, UnsealOptions, Verification,
    read_identities,
};
use jiff::Timestamp;
use zeroize::Zeroizing;

use crate::Failure;
use crate::progress::{Progress, catch_interrupt};

#[derive(clap::Args)]
pub struct SealArgs {
    /// The id of the request the package answers.
    #[arg(long, value_name = "ID")]
    request: String,

    /// The age X25519 recipient to encrypt to (`age1…`); repeat for several.
    #[arg(long, value_name = "age1…", required = true)]
    recipient: Vec<String>,

    /// The node signing key file (`PRIVATE+KEY+name+id+base64`, as custos-ledger writes it).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,

    /// Who produced the data. Default: the signing key's name.
    #[arg(long, value_name = "NAME")]
    producer: Option<String>,

    /// A label for the target the files are about (not the identifier itself).
    #[arg(long, value_name = "LABEL")]
    target: Option<String>,

    /// The category of data: subscriber, traffic or content.
    #[arg(long, value_name = "CATEGORY", value_parser = parse_category)]
    category: Option<DataCategory>,

    /// The start of the period the files cover (RFC 3339); needs --period-to.
    #[arg(long, value_name = "TIME", requires = "period_to")]
    period_from: Option<Timestamp>,

    /// The end of the period the files cover (RFC 3339); needs --period-from.
    #[arg(long, value_name = "TIME", requires = "period_from")]
    period_to: Option<Timestamp>,

    /// The sealing time written into the manifest (RFC 3339). Default: now.
    #[arg(long, value_name = "TIME")]
    now: Option<Timestamp>,

    /// The package to write (must not exist yet).
    #[arg(short = 'o', long = "output", value_name = "PKG.age")]
    output: PathBuf,

    /// Print one JSON report on standard output.
    #[arg(long)]
    json: bool,

    /// The files to seal, each stored under its own file name.
    #[arg(value_name = "FILES", required = true)]
    files: Vec<PathBuf>,
}

#[derive(clap::Args)]
pub struct UnsealArgs {
    /// The age identity file (as age-keygen writes it).
    #[arg(long, value_name = "KEY")]
    identity: PathBuf,

    /// The node's verifier key (`name+id+base64`), or a file holding it. Required to open a
    /// package with a manifest.
    #[arg(long, value_name = "KEY|FILE")]
    verifier: Option<String>,

    /// Refuse a package whose manifest names another request.
    #[arg(long, value_name = "ID")]
    request: Option<String>,

    /// Extract an age-encrypted tar that has no manifest (its contents are unverified).
    #[arg(long)]
    allow_unverified: bool,

    /// The directory to extract into (created if missing; files must not exist yet).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: PathBuf,

    /// Print one JSON report on standard output.
    #[arg(long)]
    json: bool,

    /// The package.
    #[arg(value_name = "PKG.age")]
    package: PathBuf,
}

fn parse_category(s: &str) -> Result<DataCategory, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("{s:?} is not a data category: use subscriber, traffic or content"))
}

pub fn seal(args: SealArgs) -> Result<(), Failure> {
    let key = read_signer(&args.key).map_err(Failure::Setup)?;
    let mut recipients = Vec::new();
    for r in &args.recipient {
        recipients.push(r.parse::<age::x25519::Recipient>().map_err(|e| {
            Failure::Input(format!(
                "--recipient {r}: not an age X25519 recipient ({e}); it looks like age1…"
            ))
        })?);
    }
    let period = match (args.period_from, args.period_to) {
        (Some(from), Some(to)) if from > to => {
            return Err(Failure::Input(
                "--period-from is after --period-to".to_owned(),
            ));
        }
        (Some(from), Some(to)) => Some(Period { from, to }),
        _ => None,
    };
    let mut files = Vec::with_capacity(args.files.len());
    let mut total = 0u64;
    for path in &args.files {
        let mut f = FileToSeal::new(path).map_err(input)?;
        f.target = args.target.clone();
        f.data_category = args.category;
        f.period = period;
        total += fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        files.push(f);
    }
    let producer = args
        .producer
        .clone()
        .unwrap_or_else(|| key.name().to_owned());
    let spec = SealSpec {
        request_id: &args.request,
        producer: &producer,
        sealed_at: args.now.unwrap_or_else(Timestamp::now),
        files: &files,
        // The per-file `--target` label is the standalone tool's; the manifest's list of
        // targets covered is written by `custos evidence seal`, which knows the decision.
        targets: &[],
        recipients: &recipients,
        signer: &key,
    };

    // Write next to the output under a temporary name; rename only when complete.
    if args.output.exists() {
        return Err(Failure::Input(format!(
            "{}: already exists; choose another output",
            args.output.display()
        )));
    }
    let partial = partial_name(&args.output);
    let mut file = DurableFile::create_new(&partial)
        .with_context(|| format!("creating {}", partial.display()))
        .map_err(Failure::Setup)?;
    catch_interrupt();
    let progress = Progress::new(total, args.json);
    let sealed =
        custos_seal::seal(&spec, &mut file, &mut |n| progress.advance(n)).and_then(|report| {
            // Written and synced (data and size) before it gets its name.
            file.finish().map_err(SealError::WriteOutput)?;
            Ok(report)
        });
    drop(progress);
    let report = match sealed {
        Ok(r) => r,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            return Err(match e {
                SealError::Cancelled => Failure::Interrupted(format!(
                    "interrupted: no package was made ({} removed)",
                    partial.display()
                )),
                SealError::Encrypt(_) | SealError::WriteOutput(_) | SealError::Internal(_) => {
                    Failure::Setup(anyhow!(e))
                }
                other => input(other),
            });
        }
    };
    fs::rename(&partial, &args.output)
        .with_context(|| {
            format!(
                "renaming {} to {}",
                partial.display(),
                args.output.display()
            )
        })
        .map_err(Failure::Setup)?;
    sync_parent(&args.output).map_err(Failure::Setup)?;

    let out = if args.json {
        let mut value = serde_json::to_value(&report).map_err(|e| Failure::Setup(e.into()))?;
        value["package"] = serde_json::Value::String(args.output.display().to_string());
        serde_json::to_string(&value).map_err(|e| Failure::Setup(e.into()))? + "\n"
    } else {
        format!(
            "sealed {} file(s), {} bytes, for request {} into {}\n  package  blake3 {} ({} bytes)\n  manifest sha256 {}\n  signed by {}\n  for {}\n",
            report.manifest.files.len(),
            total,
            report.manifest.request_id,
            args.output.display(),
            report.package_blake3,
            report.package_size,
            report.manifest_sha256,
            report.signer,
            report.recipients.join(", "),
        )
    };
    crate::out::write(&out)
}

pub fn unseal(args: UnsealArgs) -> Result<(), Failure> {
    let identities = read_identities(&args.identity).map_err(|e| Failure::Setup(anyhow!(e)))?;
    let verifier = match &args.verifier {
        None => None,
        Some(v) => Some(read_verifier(v).map_err(Failure::Setup)?),
    };
    let package = File::open(&args.package).map_err(|e| {
        Failure::Input(format!(
            "{}: cannot read the package: {e}",
            args.package.display()
        ))
    })?;
    let total = package.metadata().map(|m| m.len()).unwrap_or(0);
    catch_interrupt();
    let progress = Progress::new(total, args.json);
    let options = UnsealOptions {
        verifier: verifier.as_ref(),
        allow_unverified: args.allow_unverified,
        expected_request_id: args.request.as_deref(),
    };
    let result = custos_seal::unseal(
        std::io::BufReader::with_capacity(1 << 20, package),
        &identities.as_refs(),
        &args.output,
        &options,
        &mut |n| progress.advance(n),
    );
    drop(progress);
    let report = result.map_err(|e| match e {
        UnsealError::Cancelled => {
            Failure::Interrupted("interrupted: nothing from the package was kept".to_owned())
        }
        UnsealError::Identity { .. } | UnsealError::WriteOutput { .. } => {
            Failure::Setup(anyhow!(e))
        }
        other => Failure::Input(format!("{}: refused: {other}", args.package.display())),
    })?;

    let out = if args.json {
        let mut value = serde_json::to_value(&report).map_err(|e| Failure::Setup(e.into()))?;
        value["output"] = serde_json::Value::String(args.output.display().to_string());
        serde_json::to_string(&value).map_err(|e| Failure::Setup(e.into()))? + "\n"
    } else {
        let mut s = match &report.verification {
            Verification::Verified {
                manifest, signer, ..
            } => format!(
                "verified: {} file(s) for request {}, produced by {} at {}, manifest signed by {}\n",
                report.files.len(),
                manifest.request_id,
                manifest.producer,
                manifest.sealed_at,
                signer
            ),
            Verification::Unverified => format!(
                "no manifest present: contents are unverified ({} file(s) extracted)\n",
                report.files.len()
            ),
        };
        for f in &report.files {
            s.push_str(&format!("  {}  {}  {} bytes\n", f.sha256, f.path, f.size));
        }
        s
    };
    crate::out::write(&out)
}

fn input(e: SealError) -> Failure {
    Failure::Input(e.to_string())
}

fn partial_name(output: &Path) -> PathBuf {
    let mut name = output
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    output.with_file_name(name)
}

fn read_signer(path: &Path) -> anyhow::Result<SignerKey> {
    let text = Zeroizing::new(
        fs::read_to_string(path)
            .with_context(|| format!("reading the key file {}", path.display()))?,
    );
    SignerKey::parse(text.trim()).map_err(|e| {
        anyhow!(
            "{}: not a node signing key ({e}); expected one line PRIVATE+KEY+name+id+base64",
            path.display()
        )
    })
}

fn read_verifier(arg: &str) -> anyhow::Result<VerifierKey> {
    if let Ok(key) = VerifierKey::parse(arg.trim()) {
        return Ok(key);
    }
    let text = fs::read_to_string(arg)
        .with_context(|| format!("--verifier {arg}: neither a verifier key nor a readable file"))?;
    VerifierKey::parse(text.trim())
        .map_err(|e| anyhow!("{arg}: not a verifier key ({e}); expected name+id+base64"))
}

/// Makes a rename into `path`'s directory durable.
fn sync_parent(path: &Path) -> anyhow::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing the directory {}", parent.display()))
}
