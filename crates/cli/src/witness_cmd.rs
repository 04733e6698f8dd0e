//! `custos witness …`: run a C2SP tlog-witness (`init`, `serve`: the witness side), and, on a
//! node, name the witnesses that cosign its checkpoints (the node side). The witness itself is
//! `custos-witness`; this is only the edge: arguments, files, printing.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Subcommand;

use crate::Failure;
use crate::out::{errln, outln};

#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Create a witness: its directory and Ed25519 cosigning key (mode 0600; an existing key is
    /// never overwritten). Prints the witness's verifier key (name+id+base64, key type 0x04) on
    /// a line of its own: give it to the log operators and to whoever checks cosignatures.
    Init {
        /// The witness directory.
        #[arg(long, default_value = "custos-witness")]
        dir: PathBuf,
        /// The witness's name, a schema-less URL that identifies it (e.g.
        /// `witness.court.example/w1`). It is part of every cosignature line.
        #[arg(long, default_value = "localhost/custos-witness")]
        name: String,
    },
    /// Serve the witness (C2SP tlog-witness: POST /add-checkpoint, GET /<origin hash>/checkpoint)
    /// for the logs given. It keeps each log's latest cosigned checkpoint in its directory and
    /// refuses, keeping both as evidence, a checkpoint inconsistent with it.
    Serve {
        /// The witness directory (from `custos witness init`).
        #[arg(long, default_value = "custos-witness")]
        dir: PathBuf,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8490")]
        listen: String,
        /// A log to witness: its note verifier key (what the node's /v1/log/verifier serves), or
        /// a file holding it. The key's name is the log's origin. Repeat for several logs.
        #[arg(long = "log", value_name = "VKEY", required = true, num_args = 1..)]
        logs: Vec<String>,
    },
    /// On a node: add a witness to its configuration (`[[witness]]` in custos.toml). The node
    /// asks it to cosign each new checkpoint, and `/log/checkpoint` serves the newest one with a
    /// quorum of cosignatures (`witness_quorum`, default: every witness). Refuses a bad key or a
    /// witness already listed (`witness_add.rs`).
    Add(crate::witness_add::AddArgs),
}

pub fn run(command: WitnessCommand) -> Result<(), Failure> {
    match command {
        WitnessCommand::Init { dir, name } => init(&dir, &name),
        WitnessCommand::Serve { dir, listen, logs } => serve(&dir, &listen, &logs),
        WitnessCommand::Add(args) => crate::witness_add::add(args),
    }
}

fn init(dir: &std::path::Path, name: &str) -> Result<(), Failure> {
    let vkey = custos_witness::init(dir, name).map_err(|e| match e {
        custos_witness::SetupError::Io { .. } => Failure::Setup(e.into()),
        _ => Failure::Input(format!("custos witness init: {e}")),
    })?;
    errln!(
        "initialised a witness in {} (key: {}, mode 0600); its verifier key:",
        dir.display(),
        dir.join(custos_witness::KEY_FILE).display()
    );
    outln!("{vkey}")
}

/// A log's note verifier key, or a file holding it.
fn parse_log_key(s: &str) -> Result<custos_ledger::VerifierKey, Failure> {
    let text = if std::path::Path::new(s).is_file() {
        std::fs::read_to_string(s).unwrap_or_default()
    } else {
        s.to_owned()
    };
    custos_ledger::VerifierKey::parse(text.trim()).map_err(|e| {
        Failure::Input(format!(
            "--log {s:?}: not a log's note verifier key ({e}); give what the node's \
             /v1/log/verifier serves, e.g. localhost/custos+1234abcd+AQ…"
        ))
    })
}

fn serve(dir: &std::path::Path, listen: &str, logs: &[String]) -> Result<(), Failure> {
    let log_keys = logs
        .iter()
        .map(|s| parse_log_key(s))
        .collect::<Result<Vec<_>, _>>()?;
    let key = custos_witness::load_key(dir).map_err(|e| {
        Failure::Setup(anyhow::Error::new(e).context("run `custos witness init` first"))
    })?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUSTOS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let witness =
        custos_witness::Witness::open(dir, key, &log_keys, custos_witness::system_clock())
            .with_context(|| format!("cannot open the witness in {}", dir.display()))
            .map_err(Failure::Setup)?;
    let rt = crate::node_cmd::runtime().map_err(Failure::Setup)?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let local = listener.local_addr()?;
        let origins: Vec<&str> = log_keys.iter().map(|k| k.name()).collect();
        errln!(
            "custos witness {}: serving {} on http://{local} for {}",
            witness.verifier(),
            dir.display(),
            origins.join(", ")
        );
        let app = custos_witness::router(Arc::new(witness));
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let ctrl_c = tokio::signal::ctrl_c();
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(t) => t,
                        Err(_) => return drop(ctrl_c.await),
                    };
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            })
            .await?;
        anyhow::Ok(())
    })
    .map_err(Failure::Setup)
}
