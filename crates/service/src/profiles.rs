//! The profiles a node shows its staff (the console's profile pages): the built-in ones and its
//! own, each with its rules and the record of the last proof of its properties.
//!
//! A proof record (`custos.proof/v1`, [`ProofRecord`]) is written by `custos policy prove --dir
//! NODE` into `NODE/proofs/<profile name>.json`; the node never proves anything (it has no
//! solver), it only reads that file, at each page view (a small file; a new proof shows without
//! a restart). A record proves one text: it counts for the profile only when its
//! `profile_sha256` is the SHA-256 of the profile's Cedar text.
//!
//! When the node's own profile is a file that takes a built-in profile's name (a copy of
//! `rights-first.cedar` keeps `@profile("rights-first")`), the node's own is shown under that
//! name and the built-in one is not: their proof records would share one file.

use std::path::{Path, PathBuf};

use custos_safeguards::{BUILTIN_PROFILES, PROOF_FORMAT, Profile, ProofRecord};

use crate::node::Node;

/// The folder of proof records in a node directory.
pub const PROOFS_DIR: &str = "proofs";

/// A profile in the list.
#[derive(Debug, Clone)]
pub struct ProfileEntry {
    /// Its name (`@profile`, else the file's stem): the page's address.
    pub name: String,
    /// `built-in`, or the path of the node's own profile file as configured.
    pub origin: String,
    /// The profile the node assesses requests with.
    pub in_use: bool,
    /// Its number of rules.
    pub rules: usize,
}

/// One profile's page: its rules and where its proof stands.
#[derive(Debug, Clone)]
pub struct ProfileDetail {
    pub entry: ProfileEntry,
    pub profile: Profile,
    /// SHA-256 (hex) of its Cedar text.
    pub sha256: String,
    pub proof: ProofState,
    /// The command that proves it and records the proof where this page reads it.
    pub prove_command: String,
}

/// Where the proof of a profile's properties stands.
#[derive(Debug, Clone)]
pub enum ProofState {
    /// No record in `NODE/proofs/`.
    Missing,
    /// The record proves this exact text.
    Current(ProofRecord),
    /// The record proves another text: the profile changed since.
    Stale(ProofRecord),
    /// A record is there but cannot be used, and why.
    Unreadable(String),
}

impl Node {
    /// The node's own profile first, then the built-in ones it does not shadow.
    pub fn profiles(&self) -> Vec<ProfileEntry> {
        self.profile_sources()
            .into_iter()
            .map(|(entry, _, _)| entry)
            .collect()
    }

    /// The page of the profile named `name`, with its proof record as the node directory holds
    /// it now; `None` for a name the node does not know.
    pub async fn profile_detail(&self, name: &str) -> Option<ProfileDetail> {
        let (entry, profile, spec) = self
            .profile_sources()
            .into_iter()
            .find(|(e, _, _)| e.name == name)?;
        let sha256 = custos_safeguards::profile_sha256(&profile);
        let proof = read_proof(&self.dir, &entry.name, &sha256).await;
        let prove_command = format!(
            "custos policy prove --profile {spec} --dir {}",
            self.dir.display()
        );
        Some(ProfileDetail {
            entry,
            profile,
            sha256,
            proof,
            prove_command,
        })
    }

    /// Each profile with its entry and how `custos policy prove --profile` names it.
    fn profile_sources(&self) -> Vec<(ProfileEntry, Profile, String)> {
        let own = self.assessor.profile().clone();
        let own_spec = if BUILTIN_PROFILES.contains(&self.config.profile.as_str()) {
            self.config.profile.clone()
        } else {
            self.dir.join(&self.config.profile).display().to_string()
        };
        let own_entry = ProfileEntry {
            name: own.name().to_owned(),
            origin: if BUILTIN_PROFILES.contains(&self.config.profile.as_str()) {
                "built-in".to_owned()
            } else {
                self.config.profile.clone()
            },
            in_use: true,
            rules: own.rules().len(),
        };
        let mut all = vec![(own_entry, own, own_spec)];
        for name in BUILTIN_PROFILES {
            if all.iter().any(|(e, _, _)| e.name == name) {
                continue;
            }
            // The built-in profiles load (a unit test of custos-safeguards says so).
            let Ok(profile) = Profile::builtin(name) else {
                continue;
            };
            all.push((
                ProfileEntry {
                    name: name.to_owned(),
                    origin: "built-in".to_owned(),
                    in_use: false,
                    rules: profile.rules().len(),
                },
                profile,
                name.to_owned(),
            ));
        }
        all
    }
}

/// `NODE/proofs/<name>.json`, when the name can be a file name.
fn proof_path(dir: &Path, name: &str) -> Option<PathBuf> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    plain.then(|| dir.join(PROOFS_DIR).join(format!("{name}.json")))
}

async fn read_proof(dir: &Path, name: &str, sha256: &str) -> ProofState {
    let Some(path) = proof_path(dir, name) else {
        return ProofState::Unreadable(format!(
            "the profile's name {name:?} cannot name a file in {PROOFS_DIR}/; give it a plain @profile name (letters, digits, `-`, `_`, `.`)"
        ));
    };
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ProofState::Missing,
        Err(e) => {
            return ProofState::Unreadable(format!("{} cannot be read: {e}", path.display()));
        }
    };
    let record: ProofRecord = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return ProofState::Unreadable(format!(
                "{} is not a proof record ({PROOF_FORMAT}): {e}; run the proof again",
                path.display()
            ));
        }
    };
    if record.format != PROOF_FORMAT {
        return ProofState::Unreadable(format!(
            "{} has format {:?}, not {PROOF_FORMAT}; run the proof again",
            path.display(),
            record.format
        ));
    }
    if record.profile != name {
        return ProofState::Unreadable(format!(
            "{} records a proof of the profile {:?}, not {name:?}; run the proof again",
            path.display(),
            record.profile
        ));
    }
    if record.profile_sha256.eq_ignore_ascii_case(sha256) {
        ProofState::Current(record)
    } else {
        ProofState::Stale(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_become_file_names() {
        let dir = Path::new("/node");
        assert_eq!(
            proof_path(dir, "rights-first"),
            Some(PathBuf::from("/node/proofs/rights-first.json"))
        );
        for bad in ["", "../x", ".hidden", "a/b", "a b"] {
            assert_eq!(proof_path(dir, bad), None, "{bad}");
        }
    }
}
