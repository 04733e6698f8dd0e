//! `custos submit`, `custos withdraw` and `custos log verify | check-opening`: talking to a node over HTTP as a
//! requesting authority or as an outside verifier. Nothing here trusts the node: checkpoints are
//! checked against the verifier key given on the command line, proofs are recomputed locally.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use custos_jose::{PrivateJwk, sign_compact};
use custos_ledger::checkpoint::Checkpoint;
use custos_ledger::commitment::{PublicRecord, commit};
use custos_ledger::cosignature::WitnessVerifierKey;
use custos_ledger::tiles::{Tile, parse_bundle, tiles_for_size, verify_full};
use custos_ledger::{Hash, VerifierKey, leaf_hash, verify_consistency, verify_inclusion};
use custos_service::Problem;
use custos_service::cosigning::verify_line;
use custos_service::wire::{ConsistencyProof, InclusionProof, Opening, Reply};
use serde_json::Value;

use crate::Failure;
use crate::node_cmd::runtime;
use crate::out::outln;

pub(crate) fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?)
}

pub(crate) fn url(server: &str, path: &str) -> String {
    format!("{}{path}", server.trim_end_matches('/'))
}

pub fn submit(
    server: &str,
    key_path: &Path,
    request_path: &Path,
    stamp: bool,
) -> Result<(), Failure> {
    let key = read_key(key_path)?;
    let bytes = std::fs::read(request_path)
        .map_err(|e| Failure::Input(format!("{}: {e}", request_path.display())))?;
    let payload = if stamp {
        let mut v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| Failure::Input(format!("{}: not JSON: {e}", request_path.display())))?;
        let obj = v
            .as_object_mut()
            .ok_or_else(|| Failure::Input("the request must be a JSON object".into()))?;
        obj.insert(
            "submitted_at".into(),
            jiff::Timestamp::now().to_string().into(),
        );
        serde_json::to_vec(&v).map_err(|e| Failure::Setup(e.into()))?
    } else {
        bytes
    };
    let jws = sign_compact(&payload, &key, Some("custos.request/v1+jws"));
    // With --stamp the bytes signed are not the file's: say which, since an emergency's
    // confirmation (`custos confirm --sha256`) must name exactly what was signed.
    let digest = custos_ledger::Hash(<sha2::Sha256 as sha2::Digest>::digest(&payload).into());
    eprintln!(
        "signed payload SHA-256: {} (an emergency's confirmation names it: custos confirm --sha256)",
        digest.to_hex()
    );
    post_signed(server, "/v1/requests", jws, "the request")
}

/// `custos withdraw`: withdraws the request of `case_id` (its id `request_id`) with `reason`,
/// signed with the authority's key; prints the node's reply (status `withdrawn`).
pub fn withdraw(
    server: &str,
    key_path: &Path,
    case_id: i64,
    request_id: &str,
    reason: &str,
) -> Result<(), Failure> {
    let key = read_key(key_path)?;
    let payload = serde_json::to_vec(&serde_json::json!({
        "request_id": request_id, "reason": reason,
    }))
    .map_err(|e| Failure::Setup(e.into()))?;
    let jws = sign_compact(&payload, &key, Some("custos.withdrawal+jws"));
    let path = format!("/v1/requests/{case_id}/withdrawal");
    post_signed(server, &path, jws, "the withdrawal")
}

/// `custos answer`: answers the consultation of `case_id` (its id `request_id`) with
/// `message`, signed with the authority's key; prints the node's reply with the thread.
pub fn answer(
    server: &str,
    key_path: &Path,
    case_id: i64,
    request_id: &str,
    message: &str,
) -> Result<(), Failure> {
    let key = read_key(key_path)?;
    let payload = serde_json::to_vec(&serde_json::json!({
        "request_id": request_id, "message": message,
    }))
    .map_err(|e| Failure::Setup(e.into()))?;
    let jws = sign_compact(&payload, &key, Some("custos.consultation-answer+jws"));
    let path = format!("/v1/requests/{case_id}/consultation/answer");
    post_signed(server, &path, jws, "the answer")
}

pub(crate) fn read_key(key_path: &Path) -> Result<PrivateJwk, Failure> {
    let key_text = std::fs::read_to_string(key_path)
        .map_err(|e| Failure::Input(format!("{}: {e}", key_path.display())))?;
    PrivateJwk::parse(&key_text).map_err(|e| Failure::Input(format!("{}: {e}", key_path.display())))
}

/// Posts a compact JWS (`application/jose`) to `path` and prints the requester's reply;
/// a refusal is exit 2 with the problem's detail.
pub(crate) fn post_signed(
    server: &str,
    path: &str,
    jws: String,
    what: &str,
) -> Result<(), Failure> {
    let rt = runtime().map_err(Failure::Setup)?;
    rt.block_on(async {
        let resp = client()
            .map_err(Failure::Setup)?
            .post(url(server, path))
            .header("content-type", "application/jose")
            .body(jws)
            .send()
            .await
            .map_err(|e| Failure::Setup(anyhow!("cannot reach {server}: {e}")))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| Failure::Setup(e.into()))?;
        if status.is_success() {
            // The requester's reply (custos.reply/v1): case, request id, status; the assessment
            // is the node's reviewers' to read.
            let reply: Reply = serde_json::from_str(&body).map_err(|e| {
                Failure::Setup(anyhow!(
                    "{server} answered {status} but not with a reply (custos.reply/v1): {e}"
                ))
            })?;
            let text = serde_json::to_string(&reply).map_err(|e| Failure::Setup(e.into()))?;
            outln!("{text}")
        } else {
            let detail = serde_json::from_str::<Problem>(&body)
                .map(|p| p.detail)
                .unwrap_or(body);
            Err(Failure::Input(format!(
                "the node refused {what} ({status}): {detail}"
            )))
        }
    })
}

/// What `custos confirm` confirms: the case, the request's id, and its payload's digest.
pub struct ConfirmArgs<'a> {
    pub server: &'a str,
    pub key: &'a Path,
    pub case: i64,
    pub request_id: &'a str,
    /// Hex SHA-256 of the request's JWS payload bytes, or…
    pub sha256: Option<&'a str>,
    /// …the payload bytes themselves, exactly as signed.
    pub payload: Option<&'a Path>,
}

/// `custos confirm`: as a confirmation key of the requesting authority (another person there,
/// e.g. its duty supervisor), confirm an emergency request, signed with the key file.
pub fn confirm(a: ConfirmArgs<'_>) -> Result<(), Failure> {
    let key_text = std::fs::read_to_string(a.key)
        .map_err(|e| Failure::Input(format!("{}: {e}", a.key.display())))?;
    let key = PrivateJwk::parse(&key_text)
        .map_err(|e| Failure::Input(format!("{}: {e}", a.key.display())))?;
    let digest = match (a.sha256, a.payload) {
        (Some(hex), None) => {
            let hex = hex.trim().to_ascii_lowercase();
            if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(Failure::Input(format!(
                    "--sha256 {hex:?}: a SHA-256 is 64 hexadecimal digits"
                )));
            }
            hex
        }
        (None, Some(path)) => {
            let bytes = std::fs::read(path)
                .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
            custos_ledger::Hash(<sha2::Sha256 as sha2::Digest>::digest(&bytes).into()).to_hex()
        }
        _ => {
            return Err(Failure::Input(
                "give the request's digest with --sha256 or its signed payload with --payload"
                    .into(),
            ));
        }
    };
    let payload = serde_json::json!({"request_id": a.request_id, "request_sha256": digest});
    let payload = serde_json::to_vec(&payload).map_err(|e| Failure::Setup(e.into()))?;
    let jws = sign_compact(&payload, &key, None);
    let server = a.server;
    let path = format!("/v1/requests/{}/confirmation", a.case);
    let rt = runtime().map_err(Failure::Setup)?;
    rt.block_on(async {
        let resp = client()
            .map_err(Failure::Setup)?
            .post(url(server, &path))
            .header("content-type", "application/jose")
            .body(jws)
            .send()
            .await
            .map_err(|e| Failure::Setup(anyhow!("cannot reach {server}: {e}")))?;
        crate::staff::print_answer::<custos_service::wire::EmergencyConfirmation>(
            resp,
            server,
            "confirmation",
        )
        .await
    })
}

/// `custos deny`: a confirmation key denies an emergency request, signed over its id, the
/// digest of its payload and a reason.
pub fn deny(
    server: &str,
    key: &Path,
    case: i64,
    request_id: &str,
    sha256: &str,
    reason: &str,
) -> Result<(), Failure> {
    let key_text = std::fs::read_to_string(key)
        .map_err(|e| Failure::Input(format!("{}: {e}", key.display())))?;
    let key = PrivateJwk::parse(&key_text)
        .map_err(|e| Failure::Input(format!("{}: {e}", key.display())))?;
    let payload = serde_json::json!({
        "request_id": request_id, "request_sha256": sha256.trim().to_ascii_lowercase(), "reason": reason,
    });
    let payload = serde_json::to_vec(&payload).map_err(|e| Failure::Setup(e.into()))?;
    let jws = sign_compact(&payload, &key, None);
    let path = format!("/v1/requests/{case}/denial");
    let rt = runtime().map_err(Failure::Setup)?;
    rt.block_on(async {
        let resp = client()
            .map_err(Failure::Setup)?
            .post(url(server, &path))
            .header("content-type", "application/jose")
            .body(jws)
            .send()
            .await
            .map_err(|e| Failure::Setup(anyhow!("cannot reach {server}: {e}")))?;
        crate::staff::print_answer::<custos_service::wire::EmergencyDenial>(resp, server, "denial")
            .await
    })
}

fn default_state_file(vkey: &VerifierKey) -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    let safe: String = vkey
        .name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    base.join("custos")
        .join(format!("{safe}.{:08x}.checkpoint", vkey.key_id()))
}

pub fn parse_vkey(s: &str) -> Result<VerifierKey, Failure> {
    let text = if Path::new(s).exists() {
        std::fs::read_to_string(s).unwrap_or_default()
    } else {
        s.to_owned()
    };
    VerifierKey::parse(text.trim())
        .map_err(|e| Failure::Input(format!("--vkey: not a C2SP verifier key ({e})")))
}

pub(crate) async fn get(c: &reqwest::Client, u: String) -> anyhow::Result<reqwest::Response> {
    let resp = c.get(&u).send().await.with_context(|| format!("GET {u}"))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        return Err(anyhow!("GET {u}: {status}: {body}"));
    }
    Ok(resp)
}

/// Result of a verification, for people and machines.
struct Report {
    lines: Vec<String>,
}

/// `log verify --witness VKEY… --quorum N`: the witnesses whose cosignatures the served
/// checkpoint must carry.
pub struct Witnessed {
    /// Their verifier keys (or files holding them).
    pub witnesses: Vec<String>,
    /// Valid cosignatures required (default: all of them).
    pub quorum: Option<usize>,
}

/// Checks the cosignatures of `note` (already verified under the node's key) against the given
/// witnesses: at least `quorum` must be valid; says which are missing or invalid.
fn check_witnessed(note: &str, w: &Witnessed) -> Result<Vec<String>, Failure> {
    let keys = w
        .witnesses
        .iter()
        .map(|s| {
            let text = if Path::new(s).is_file() {
                std::fs::read_to_string(s).unwrap_or_default()
            } else {
                s.clone()
            };
            WitnessVerifierKey::parse(text.trim()).map_err(|e| {
                Failure::Input(format!("--witness {s}: not a witness verifier key ({e})"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let quorum = w.quorum.unwrap_or(keys.len());
    if quorum == 0 || quorum > keys.len() {
        return Err(Failure::Input(format!(
            "--quorum {quorum} needs between 1 and the number of --witness keys ({})",
            keys.len()
        )));
    }
    let (text, lines) = match note.rfind("\n\n") {
        Some(i) => (&note[..=i], &note[i + 2..]),
        None => return Err(Failure::Input("the checkpoint is not a signed note".into())),
    };
    let (mut valid, mut missing, mut invalid) = (Vec::new(), Vec::new(), Vec::new());
    for key in &keys {
        let mut found = None;
        for line in lines.lines() {
            match verify_line(key, text, line) {
                Ok(Some(ts)) => {
                    found = Some(Ok(ts));
                    break;
                }
                Ok(None) => {}
                Err(e) => found = Some(Err(e)),
            }
        }
        match found {
            Some(Ok(ts)) => {
                let at = i64::try_from(ts)
                    .ok()
                    .and_then(|t| jiff::Timestamp::from_second(t).ok())
                    .map_or_else(|| ts.to_string(), |t| t.to_string());
                valid.push(format!("cosigned by witness {} at {at}", key.name()));
            }
            Some(Err(e)) => invalid.push(format!("{} ({e})", key.name())),
            None => missing.push(key.name().to_owned()),
        }
    }
    if valid.len() < quorum {
        let mut why = Vec::new();
        if !missing.is_empty() {
            why.push(format!("missing: {}", missing.join(", ")));
        }
        if !invalid.is_empty() {
            why.push(format!("invalid: {}", invalid.join("; ")));
        }
        return Err(Failure::Input(format!(
            "the checkpoint carries {} valid cosignature(s) of the {} witness(es) given, {quorum} required; {}",
            valid.len(),
            keys.len(),
            why.join("; ")
        )));
    }
    valid.push(format!(
        "witness quorum met: {} of {} valid, {quorum} required",
        valid.len(),
        keys.len()
    ));
    Ok(valid)
}

pub fn log_verify(
    server: &str,
    vkey: &str,
    state: Option<PathBuf>,
    full: bool,
    json: bool,
    witnessed: &Witnessed,
) -> Result<(), Failure> {
    let vkey = parse_vkey(vkey)?;
    let state = state.unwrap_or_else(|| default_state_file(&vkey));
    let rt = runtime().map_err(Failure::Setup)?;
    rt.block_on(async {
        let c = client().map_err(Failure::Setup)?;
        let note = get(&c, url(server, "/log/checkpoint")).await.map_err(Failure::Setup)?.text().await.map_err(|e| Failure::Setup(e.into()))?;
        let (cp, _) = Checkpoint::open(&note, vkey.name(), std::slice::from_ref(&vkey))
            .map_err(|e| Failure::Input(format!("the checkpoint does not verify under {}: {e}", vkey.name())))?;
        let mut report = Report { lines: vec![format!("checkpoint signature verified: size {} root {}", cp.size, cp.root.to_base64())] };
        if !witnessed.witnesses.is_empty() {
            report.lines.extend(check_witnessed(&note, witnessed)?);
        }
        if let Ok(old_note) = std::fs::read_to_string(&state) {
            let (old, _) = Checkpoint::open(&old_note, vkey.name(), std::slice::from_ref(&vkey))
                .map_err(|e| Failure::Setup(anyhow!("the saved checkpoint {} does not verify: {e}", state.display())))?;
            if old.size > cp.size {
                return Err(Failure::Input(format!(
                    "the log shrank: last seen size {} (saved in {}), now {}; the node is rolling back history",
                    old.size, state.display(), cp.size
                )));
            }
            if old.size == cp.size {
                if old.root != cp.root {
                    return Err(Failure::Input(format!("two different roots for size {}: the log forked", cp.size)));
                }
                report.lines.push(format!("same tree as last seen (size {})", cp.size));
            } else if old.size > 0 {
                let v: ConsistencyProof = get(&c, url(server, &format!("/v1/log/consistency?old={}&new={}", old.size, cp.size)))
                    .await
                    .map_err(Failure::Setup)?
                    .json()
                    .await
                    .map_err(|e| Failure::Setup(e.into()))?;
                verify_consistency(old.size, cp.size, &v.proof, &old.root, &cp.root).map_err(|e| {
                    Failure::Input(format!("the log is NOT consistent with the checkpoint of size {} seen before: {e}", old.size))
                })?;
                report.lines.push(format!("consistent with the last seen checkpoint (size {} → {})", old.size, cp.size));
            }
        } else {
            report.lines.push(format!("first contact: no earlier checkpoint in {}", state.display()));
        }
        if full {
            let root = full_root(&c, server, cp.size).await?;
            if root != cp.root {
                return Err(Failure::Input(format!("the tiles give root {} but the checkpoint says {}", root.to_base64(), cp.root.to_base64())));
            }
            report.lines.push(format!("recomputed the root from all tiles and entry bundles ({} leaves): matches", cp.size));
        }
        if let Some(parent) = state.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Failure::Setup(e.into()))?;
        }
        std::fs::write(&state, &note).map_err(|e| Failure::Setup(anyhow!("cannot save {}: {e}", state.display())))?;
        if json {
            outln!("{}", serde_json::json!({ "verified": true, "size": cp.size, "root": cp.root.to_base64(), "checks": report.lines }))?;
        } else {
            for l in &report.lines {
                outln!("ok: {l}")?;
            }
        }
        Ok(())
    })
}

async fn full_root(c: &reqwest::Client, server: &str, size: u64) -> Result<Hash, Failure> {
    let mut tiles: BTreeMap<Tile, Vec<u8>> = BTreeMap::new();
    for tile in tiles_for_size(size) {
        let bytes = get(c, url(server, &format!("/log/{}", tile.path())))
            .await
            .map_err(Failure::Setup)?
            .bytes()
            .await
            .map_err(|e| Failure::Setup(e.into()))?
            .to_vec();
        if tile.level() == 0 {
            // Every leaf hash must be the hash of the entry the log serves for it.
            let bundle = get(c, url(server, &format!("/log/{}", tile.entries_path())))
                .await
                .map_err(Failure::Setup)?
                .bytes()
                .await
                .map_err(|e| Failure::Setup(e.into()))?;
            let entries = parse_bundle(&bundle)
                .map_err(|e| Failure::Input(format!("{}: {e}", tile.entries_path())))?;
            if entries.len() != usize::from(tile.width()) {
                return Err(Failure::Input(format!(
                    "{} has {} entries, expected {}",
                    tile.entries_path(),
                    entries.len(),
                    tile.width()
                )));
            }
            for (i, e) in entries.iter().enumerate() {
                PublicRecord::from_leaf_bytes(e).map_err(|err| {
                    Failure::Input(format!(
                        "entry {} is not a Custos public record: {err}",
                        tile.index() * 256 + i as u64
                    ))
                })?;
                if leaf_hash(e).as_bytes() != &bytes[i * 32..i * 32 + 32] {
                    return Err(Failure::Input(format!(
                        "entry {} does not hash to its leaf in {}",
                        tile.index() * 256 + i as u64,
                        tile.path()
                    )));
                }
            }
        }
        tiles.insert(tile, bytes);
    }
    verify_full(size, &tiles).map_err(|e| Failure::Input(format!("tiles do not verify: {e}")))
}

pub fn check_opening(server: &str, vkey: &str, opening: &Path) -> Result<(), Failure> {
    let vkey = parse_vkey(vkey)?;
    let text = std::fs::read_to_string(opening)
        .map_err(|e| Failure::Input(format!("{}: {e}", opening.display())))?;
    let o: Opening = serde_json::from_str(&text).map_err(|e| {
        Failure::Input(format!(
            "{}: not a custos.opening/v1 document: {e}",
            opening.display()
        ))
    })?;
    let rt = runtime().map_err(Failure::Setup)?;
    rt.block_on(async {
        let c = client().map_err(Failure::Setup)?;
        let (size, event_type, day) = verify_opening_online(&c, server, &vkey, &o).await?;
        outln!("ok: event {} ({event_type}, {day}) is in the log at checkpoint size {size}, signed by {}", o.index, vkey.name())
    })
}

/// Checks an opening (event + salt) against the node's current signed checkpoint: recomputes the
/// commitment and public record, fetches an inclusion proof and verifies it locally. Returns the
/// checkpoint size, the event type and its day.
pub async fn verify_opening_online(
    c: &reqwest::Client,
    server: &str,
    vkey: &VerifierKey,
    o: &Opening,
) -> Result<(u64, String, String), Failure> {
    let index = o.index;
    let event_type = o.event.kind.as_str();
    if o.event.seq != index {
        return Err(Failure::Input(format!(
            "the event says seq {}, the opening says index {index}",
            o.event.seq
        )));
    }
    // The day as the node's store writes it into the public record.
    let day = o.event.at.strftime("%Y-%m-%d").to_string();
    let event = o
        .event
        .to_value()
        .map_err(|e| Failure::Input(format!("event: {e}")))?;
    let commitment = commit(&event, &o.salt).map_err(|e| Failure::Input(format!("event: {e}")))?;
    let record = PublicRecord::new(event_type, &day, commitment)
        .map_err(|e| Failure::Input(format!("record: {e}")))?;
    let note = get(c, url(server, "/log/checkpoint"))
        .await
        .map_err(Failure::Setup)?
        .text()
        .await
        .map_err(|e| Failure::Setup(e.into()))?;
    let (cp, _) = Checkpoint::open(&note, vkey.name(), std::slice::from_ref(vkey))
        .map_err(|e| Failure::Input(format!("the checkpoint does not verify: {e}")))?;
    if index >= cp.size {
        return Err(Failure::Input(format!(
            "event {index} is not yet in the signed tree (size {}); retry shortly",
            cp.size
        )));
    }
    let v: InclusionProof = get(
        c,
        url(
            server,
            &format!("/v1/log/inclusion?index={index}&size={}", cp.size),
        ),
    )
    .await
    .map_err(Failure::Setup)?
    .json()
    .await
    .map_err(|e| Failure::Setup(e.into()))?;
    verify_inclusion(index, cp.size, &record.leaf_hash(), &v.proof, &cp.root).map_err(|e| {
        Failure::Input(format!(
            "the opening does NOT match the log: event {index} with this salt is not the leaf the signed checkpoint of size {} commits to ({e})",
            cp.size
        ))
    })?;
    Ok((cp.size, event_type.to_owned(), day))
}
