//! `custos evidence seal` (on the node: seal files for an executed request, to its requesting
//! authority's registered age recipient, and log `evidence.sealed`) and `custos fetch` (as the
//! requesting authority: download a case's packages with signed requests and check each against
//! the node's signed log).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use custos_jose::{PrivateJwk, sign_compact};
use custos_model::{EventType, PackageDigest, TargetValue};
use custos_seal::{DurableFile, FileToSeal, SealError, SealSpec};
use custos_service::NodeDir;
use custos_service::custody::{Custody, PackageHasher, SealedPackage, TempPackage};
use custos_service::custody_case::{self, CustodyChain};
use custos_service::offline::{self, OfflineError};
use custos_service::ops::evidence::{can_receive_evidence, covered_targets, sealed_targets_of};
use custos_service::wire::{EvidenceList, Opening, ProofClaims};
use jiff::Timestamp;

use crate::Failure;
use crate::node_cmd::runtime;
use crate::out::{errln, outln};
use crate::progress::{Progress, catch_interrupt};

pub fn seal(
    dir: &Path,
    case_id: i64,
    producer: Option<String>,
    targets: &[String],
    files: &[PathBuf],
) -> Result<(), Failure> {
    let mut named = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        named.push(
            TargetValue::try_from(t.clone())
                .map_err(|e| Failure::Input(format!("--target #{}: {e}", i + 1)))?,
        );
    }
    let rt = runtime().map_err(Failure::Setup)?;
    let nd = rt.block_on(NodeDir::open(dir)).map_err(Failure::Setup)?;
    let result = seal_in(&rt, &nd, case_id, producer, named, files);
    rt.block_on(nd.close());
    result
}

fn seal_in(
    rt: &tokio::runtime::Runtime,
    nd: &NodeDir,
    case_id: i64,
    producer: Option<String>,
    named: Vec<TargetValue>,
    files: &[PathBuf],
) -> Result<(), Failure> {
    let (config, dir) = (nd.config(), nd.dir());
    let key = nd.key().map_err(Failure::Setup)?;
    let target = rt
        .block_on(offline::seal_target(nd, case_id))
        .map_err(Failure::Setup)?
        .ok_or_else(|| Failure::Input(format!("there is no case {case_id} on this node")))?;
    let case = target.case;
    // Before sealing anything: only targets the decision produces (checked again in custody).
    let covered = can_receive_evidence(Some(&case), case_id)
        .and_then(|c| covered_targets(c, &named, "--target"))
        .map_err(|p| Failure::Input(p.detail))?;
    let covered_text: Vec<String> = covered.iter().map(|t| t.as_str().to_owned()).collect();
    let authority = target.authority.ok_or_else(|| {
        Failure::Setup(anyhow!(
            "the case's authority is missing from the directory"
        ))
    })?;
    let recipient_text = authority.age_recipient.clone().ok_or_else(|| {
        Failure::Input(format!(
            "{} has no age recipient in the directory; register one (authority add --age-recipient) before sealing evidence for it",
            authority.name
        ))
    })?;
    let recipient: age::x25519::Recipient = recipient_text.parse().map_err(|e| {
        Failure::Setup(anyhow!(
            "the registered age recipient of {} is unusable: {e}",
            authority.name
        ))
    })?;
    let mut to_seal = Vec::new();
    let mut total = 0u64;
    for f in files {
        to_seal.push(FileToSeal::new(f).map_err(|e| Failure::Input(e.to_string()))?);
        total += fs::metadata(f).map(|m| m.len()).unwrap_or(0);
    }
    let producer = producer.unwrap_or_else(|| config.origin.clone());
    let spec = SealSpec {
        request_id: &case.request_id,
        producer: &producer,
        sealed_at: Timestamp::now(),
        files: &to_seal,
        targets: &covered_text,
        recipients: std::slice::from_ref(&recipient),
        signer: key,
    };
    let creating =
        |e: std::io::Error| Failure::Setup(anyhow!("creating a file in {}: {e}", dir.display()));
    let temp = TempPackage::reserve(dir).map_err(creating)?;
    let mut file = DurableFile::create_new(temp.path()).map_err(creating)?;
    // On a failure (Ctrl-C included) `temp` is dropped, and with it the partial file.
    catch_interrupt();
    let progress = Progress::new(total, false);
    let report = custos_seal::seal(&spec, &mut file, &mut |n| progress.advance(n))
        .and_then(|r| {
            file.finish().map_err(SealError::WriteOutput)?;
            Ok(r)
        })
        .map_err(|e| match e {
            SealError::Cancelled => {
                Failure::Interrupted("interrupted: no package was sealed or recorded".to_owned())
            }
            e => Failure::Input(e.to_string()),
        })?;
    drop(progress);
    let digest = report
        .digest()
        .ok_or_else(|| Failure::Setup(anyhow!("sealing reported no package digest")))?;
    let custody = Custody {
        case_id,
        temp,
        package: SealedPackage {
            digest,
            manifest_sha256: report.manifest_sha256.clone(),
            size: report.package_size,
            recipient: recipient_text,
            signer: report.signer.clone(),
        },
        targets: covered,
    };
    // The same custody step as the node's uploads, in this process's own write batch.
    rt.block_on(offline::take_custody(nd, custody, Timestamp::now()))
        .map_err(|e| match e {
            OfflineError::Refused(p) => Failure::Input(p.detail),
            OfflineError::Setup(e) => Failure::Setup(e),
        })?;
    outln!(
        "{}",
        serde_json::json!({
            "case": case_id, "package_blake3": report.package_blake3, "size": report.package_size,
            "manifest_sha256": report.manifest_sha256, "recipient": report.recipients, "files": report.manifest.files.len(),
            "targets": covered_text,
        })
    )
}

/// A signed proof for one request. Its `jti` (16 random bytes) makes it single-use where the
/// node requires that (evidence downloads); elsewhere the node ignores it.
fn proof(key: &PrivateJwk, method: &str, path: &str) -> Result<String, Failure> {
    let claims = ProofClaims {
        htm: method.to_owned(),
        htu: path.to_owned(),
        iat: Timestamp::now().as_second(),
        jti: Some(custos_service::auth::new_proof_nonce()),
    };
    let claims = serde_json::to_vec(&claims).map_err(|e| Failure::Setup(e.into()))?;
    Ok(format!(
        "Custos-JWS {}",
        sign_compact(&claims, key, Some("custos.proof+jws"))
    ))
}

pub fn fetch(
    server: &str,
    key_path: &Path,
    vkey: &str,
    case_id: i64,
    out_dir: &Path,
) -> Result<(), Failure> {
    let key_text = fs::read_to_string(key_path)
        .map_err(|e| Failure::Input(format!("{}: {e}", key_path.display())))?;
    let key = PrivateJwk::parse(&key_text)
        .map_err(|e| Failure::Input(format!("{}: {e}", key_path.display())))?;
    let vkey = crate::client::parse_vkey(vkey)?;
    fs::create_dir_all(out_dir).map_err(|e| Failure::Setup(e.into()))?;
    let base = server.trim_end_matches('/');
    let rt = runtime().map_err(Failure::Setup)?;
    rt.block_on(async {
        let c = reqwest::Client::new();
        let list = list(&c, base, &key, case_id).await?;
        let packages = list.packages;
        if packages.is_empty() {
            return Err(Failure::Input(format!("case {case_id} has no evidence packages yet")));
        }
        let mut fetched = Vec::new();
        let mut verified = Vec::new();
        let mut destroyed = 0;
        catch_interrupt();
        for p in packages {
            let listed = p.digest.hex().to_owned();
            if p.destroyed {
                errln!("package {listed} was destroyed on the node after its retention ended (see its evidence.destroyed event); skipped");
                destroyed += 1;
                continue;
            }
            let Some(digest) = p.digest.digest() else {
                return Err(Failure::Input(format!("the node lists a package with a malformed digest {listed:?}")));
            };
            let sha = digest.hex().to_owned();
            // 1. The log must record this package, by the same digest of the same kind: check the
            // opening against the signed checkpoint.
            let opening = p.opening.filter(|o| {
                o.event.kind == EventType::EvidenceSealed
                    && PackageDigest::from_map(&o.event.fields).as_ref() == Some(&digest)
            });
            let Some(opening) = opening else {
                return Err(Failure::Input(format!("the opening served for {sha} is not its evidence.sealed event")));
            };
            crate::client::verify_opening_online(&c, base, &vkey, &opening).await?;
            verified.push(opening.clone());
            // 2. Download, hashing as it streams; keep it only if the hash is the logged one.
            let path = format!("/v1/requests/{case_id}/evidence/{sha}");
            let mut resp = c
                .get(format!("{base}{path}"))
                .header("authorization", proof(&key, "GET", &path)?)
                .send()
                .await
                .map_err(|e| Failure::Setup(e.into()))?;
            if !resp.status().is_success() {
                let status = resp.status();
                return Err(Failure::Input(format!("download of {sha} refused ({status}): {}", resp.text().await.unwrap_or_default())));
            }
            let target = out_dir.join(format!("{sha}.age"));
            let partial = out_dir.join(format!(".{sha}.partial"));
            let mut file = fs::File::create(&partial).map_err(|e| Failure::Setup(e.into()))?;
            let mut hasher = PackageHasher::new(digest.kind());
            let progress = Progress::new(u64::try_from(p.size).unwrap_or(0), false);
            while let Some(chunk) = resp.chunk().await.map_err(|e| Failure::Setup(e.into()))? {
                hasher.update(&chunk);
                file.write_all(&chunk).map_err(|e| Failure::Setup(e.into()))?;
                if progress.advance(chunk.len() as u64).is_break() {
                    drop(file);
                    let _ = fs::remove_file(&partial);
                    return Err(Failure::Interrupted(format!(
                        "interrupted: the download of {sha} was discarded ({} fetched before it are kept)",
                        fetched.len()
                    )));
                }
            }
            drop(progress);
            file.sync_all().map_err(|e| Failure::Setup(e.into()))?;
            let got = hasher.finalize();
            if got != digest {
                let _ = fs::remove_file(&partial);
                return Err(Failure::Input(format!(
                    "the package downloaded as {digest} hashes to {got}: it is not the package the log records; discarded"
                )));
            }
            fs::rename(&partial, &target).map_err(|e| Failure::Setup(e.into()))?;
            // What it covers, as the event checked against the signed log says.
            let covered = opening.event.fields.get("targets").map(sealed_targets_of).unwrap_or_default();
            let mut item = serde_json::json!({ "file": target.display().to_string(), "log_index": opening.index, "targets": covered });
            let (field, value) = digest.field_pair();
            item[field] = value;
            fetched.push(item);
        }
        if fetched.is_empty() {
            return Err(Failure::Input(format!(
                "case {case_id} has no package left to fetch ({destroyed} destroyed after their retention ended)"
            )));
        }
        // The chain of custody, from the log as it stands after these hand-overs.
        let chain = checked_custody(&c, base, &key, &vkey, case_id, &verified).await?;
        let custody = out_dir.join(format!("custody-case-{case_id}.jsonld"));
        write_new(&custody, &chain.to_case(env!("CARGO_PKG_VERSION")))?;
        outln!("{}", serde_json::json!({
            "case": case_id, "verified_against_log": true, "packages": fetched,
            "custody": custody.display().to_string(),
        }))
    })
}

/// The case's evidence listing, asked for with a signed request.
async fn list(
    c: &reqwest::Client,
    base: &str,
    key: &PrivateJwk,
    case_id: i64,
) -> Result<EvidenceList, Failure> {
    let list_path = format!("/v1/requests/{case_id}/evidence");
    let resp = c
        .get(format!("{base}{list_path}"))
        .header("authorization", proof(key, "GET", &list_path)?)
        .send()
        .await
        .map_err(|e| Failure::Setup(anyhow!("cannot reach {base}: {e}")))?;
    if !resp.status().is_success() {
        let status = resp.status();
        return Err(Failure::Input(format!(
            "the node refused ({status}): {}",
            resp.text().await.unwrap_or_default()
        )));
    }
    resp.json().await.map_err(|e| Failure::Setup(e.into()))
}

/// The chain of custody built only from openings checked against the signed log: each
/// package's `evidence.sealed` and every later custody event of the same package and case.
/// What the requester sees is only what the log commits to for its own case. Openings in
/// `verified` (checked during the downloads) are not fetched and checked a second time.
async fn checked_custody(
    c: &reqwest::Client,
    base: &str,
    key: &PrivateJwk,
    vkey: &custos_ledger::note::VerifierKey,
    case_id: i64,
    verified: &[Opening],
) -> Result<CustodyChain, Failure> {
    let list = list(c, base, key, case_id).await?;
    let mut checked = Vec::new();
    for p in list.packages {
        let listed = p.digest.digest();
        let sha = p.digest.hex().to_owned();
        let sealed = p
            .opening
            .filter(|o| {
                o.event.kind == EventType::EvidenceSealed
                    && o.event.case == Some(case_id)
                    && listed.is_some()
                    && PackageDigest::from_map(&o.event.fields) == listed
            })
            .ok_or_else(|| {
                Failure::Input(format!(
                    "the opening served for {sha} is not its evidence.sealed event"
                ))
            })?;
        for o in std::iter::once(&sealed).chain(&p.custody) {
            let belongs = o.event.case == Some(case_id)
                && PackageDigest::from_map(&o.event.fields) == listed
                && matches!(
                    o.event.kind,
                    EventType::EvidenceSealed
                        | EventType::EvidenceDelivered
                        | EventType::EvidenceDestroyed
                );
            if !belongs {
                return Err(Failure::Input(format!(
                    "the node serves event {} as custody of {sha}, which it is not",
                    o.index
                )));
            }
            if !verified.contains(o) {
                crate::client::verify_opening_online(c, base, vkey, o).await?;
            }
        }
        checked.push(sealed.event);
        checked.extend(p.custody.into_iter().map(|o| o.event));
    }
    Ok(CustodyChain::from_events(
        case_id,
        vkey.name(),
        &list.requesting_state,
        &checked,
    ))
}

/// Writes `value` (pretty JSON) to `path` whole or not at all.
fn write_new(path: &Path, value: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::Setup(e.into()))?;
    let partial = path.with_extension("partial");
    fs::write(&partial, text + "\n")
        .and_then(|()| fs::rename(&partial, path))
        .map_err(|e| Failure::Setup(anyhow!("writing {}: {e}", path.display())))
}

/// How `custos evidence custody` prints the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CustodyFormat {
    /// One line per logged step, under each package.
    Text,
    /// The chain as plain JSON.
    Json,
    /// CASE 1.x JSON-LD (on UCO 1.x), for forensic tools and labs.
    Case,
}

pub fn custody(dir: &Path, case_id: i64, format: CustodyFormat) -> Result<(), Failure> {
    let rt = runtime().map_err(Failure::Setup)?;
    let chain = rt
        .block_on(async {
            let nd = NodeDir::open_to_read(dir).await?;
            let chain = custody_case::read(&nd.query(), &nd.config().origin, case_id).await;
            nd.close().await;
            anyhow::Ok(chain?)
        })
        .map_err(Failure::Setup)?
        .ok_or_else(|| Failure::Input(format!("there is no case {case_id} on this node")))?;
    let json = |v: &serde_json::Value| {
        serde_json::to_string_pretty(v).map_err(|e| Failure::Setup(e.into()))
    };
    match format {
        CustodyFormat::Case => outln!("{}", json(&chain.to_case(env!("CARGO_PKG_VERSION")))?),
        CustodyFormat::Json => {
            let v = serde_json::to_value(&chain).map_err(|e| Failure::Setup(e.into()))?;
            outln!("{}", json(&v)?)
        }
        CustodyFormat::Text => outln!("{}", custody_text(&chain).trim_end()),
    }
}

/// The chain for people: each package, then its logged steps.
fn custody_text(chain: &CustodyChain) -> String {
    use std::fmt::Write as _;
    let mut t = format!(
        "Chain of custody of case {} (log {}, requesting authority {})\n",
        chain.case, chain.log, chain.requesting_state
    );
    if chain.packages.is_empty() {
        t.push_str("no evidence packages\n");
    }
    for p in &chain.packages {
        let _ = write!(
            t,
            "\npackage {} {}",
            custody_case::uco_method(&p.digest),
            p.digest.hex()
        );
        if let Some(size) = p.size {
            let _ = write!(t, ", {size} bytes");
        }
        if let Some(m) = &p.manifest_sha256 {
            let _ = write!(t, ", manifest SHA256 {m}");
        }
        t.push('\n');
        for e in &p.events {
            let _ = writeln!(
                t,
                "  {}  log index {:<6}  {}",
                e.at,
                e.index,
                e.step.event()
            );
        }
    }
    t
}
