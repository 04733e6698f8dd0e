//! `custos witness add`: one more witness for a node to ask for cosignatures (issue 14, part 2).
//! The entry is checked and written by `custos_service::config::add_witness`; a running node
//! reads it at its next start.

use std::path::PathBuf;

use custos_ledger::cosignature::WitnessVerifierKey;
use custos_service::config::{WitnessConfig, add_witness};

use crate::Failure;
use crate::out::outln;

/// Arguments of `custos witness add`.
#[derive(clap::Args)]
pub struct AddArgs {
    /// The node directory.
    #[arg(long, default_value = "custos-node")]
    dir: PathBuf,
    /// The witness's submission prefix (`add-checkpoint` is posted under it), e.g.
    /// http://witness.example:8490.
    #[arg(long)]
    url: String,
    /// The witness's verifier key (`name+id+base64`, key type 0x04, as `custos witness init`
    /// printed it), or a file holding it.
    #[arg(long)]
    vkey: String,
    /// A name for people (default: the key's name).
    #[arg(long)]
    name: Option<String>,
}

/// Adds the witness to `DIR/custos.toml`, refusing a bad key or one already listed.
pub fn add(a: AddArgs) -> Result<(), Failure> {
    let text = if std::path::Path::new(&a.vkey).is_file() {
        std::fs::read_to_string(&a.vkey)
            .map_err(|e| Failure::Input(format!("--vkey: cannot read {}: {e}", a.vkey)))?
    } else {
        a.vkey.clone()
    };
    let key = WitnessVerifierKey::parse(text.trim()).map_err(|e| {
        Failure::Input(format!(
            "--vkey: not a witness verifier key ({e}); `custos witness init` prints one"
        ))
    })?;
    let entry = WitnessConfig {
        name: a.name,
        url: a.url,
        vkey: key.to_string(),
    };
    add_witness(&a.dir, &entry).map_err(|e| {
        match e.downcast::<custos_service::config::WitnessConfigError>() {
            Ok(refused) => Failure::Input(format!("{}: refused: {refused}", a.dir.display())),
            Err(other) => Failure::Setup(other),
        }
    })?;
    let config = custos_service::Config::load(&a.dir).map_err(Failure::Setup)?;
    outln!(
        "added witness {} ({}); a checkpoint needs {} of {} cosignature(s). Restart `custos serve` to use it.",
        key.name(),
        entry.url,
        config.quorum(),
        config.witnesses.len()
    )
}
