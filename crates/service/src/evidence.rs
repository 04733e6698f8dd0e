//! Evidence custody: sealed packages attached to executed requests, and their hand-over.
//!
//! A package is sealed (by `custos evidence seal` on the node, with `custos-seal`) to the
//! requesting authority's registered age recipient; `evidence.sealed` logs its digests. The
//! authority fetches it with a signed proof; every hand-over logs `evidence.delivered`. The
//! authority also receives the opening (event and salt) of `evidence.sealed`, so it can check
//! against the node's signed checkpoint that the package it holds is the one the log records.
//! Reviewers may also upload a package sealed elsewhere (`upload`). Nothing removes a package
//! but a logged `evidence.destroyed`.
//!
//! Custody is one step ([`Custody::take`]): a package is written under a temporary name in the
//! evidence directory ([`TempPackage`]), then, under the database's write lock, either refused
//! (removing only its own temporary file) or renamed to `evidence/<sha256>.age` and recorded. So
//! a recorded package always has its file, and concurrent arrivals of one package cannot undo
//! each other.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use custos_store::{Batch, Case, CaseStatus, Evidence};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::node::Node;
use crate::ops::Appended;
use crate::problem::Problem;
use crate::writer::Job;

/// What sealing reported, as the `evidence.sealed` event records it.
#[derive(Debug, Clone)]
pub struct SealedPackage {
    /// Hex SHA-256 of the package bytes.
    pub package_sha256: String,
    /// Hex SHA-256 of the signed manifest.
    pub manifest_sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The age recipient.
    pub recipient: String,
    /// The manifest signer's verifier key.
    pub signer: String,
}

/// The directory (inside the node directory) where packages are kept.
pub const EVIDENCE_DIR: &str = "evidence";

/// Whether `s` is a lower-case hex SHA-256 (also what keeps it a safe file name).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The case, if it exists and was decided for execution: only then can it receive evidence.
fn can_receive_evidence(case: Option<&Case>, case_id: i64) -> Result<&Case, Problem> {
    let case =
        case.ok_or_else(|| Problem::not_found(format!("there is no case {case_id} on this node")))?;
    if !matches!(case.status, CaseStatus::Executing | CaseStatus::Delivered) {
        return Err(Problem::conflict(
            "not-executed",
            format!(
                "case {case_id} is {}; evidence is attached only to a request decided for execution",
                case.status.as_str()
            ),
        ));
    }
    Ok(case)
}

/// A package file under a fresh temporary name in the node's evidence directory. Until
/// [`Custody::take`] renames it, it is nobody's: dropping this removes the file.
#[derive(Debug)]
pub struct TempPackage {
    dir: PathBuf,
    path: PathBuf,
}

impl TempPackage {
    /// Creates an empty file with a fresh random name in `<node_dir>/evidence` (made if missing).
    pub fn create(node_dir: &FsPath) -> std::io::Result<(TempPackage, std::fs::File)> {
        let dir = node_dir.join(EVIDENCE_DIR);
        std::fs::create_dir_all(&dir)?;
        let mut random = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut random);
        let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
        // A leading dot: never a `<sha256>.age` name, so never listed or handed over.
        let path = dir.join(format!(".incoming-{name}"));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok((TempPackage { dir, path }, file))
    }

    /// The temporary file.
    pub fn path(&self) -> &FsPath {
        &self.path
    }
}

impl Drop for TempPackage {
    fn drop(&mut self) {
        // After a successful take the file was renamed and this finds nothing.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A package written (and fsynced) to a [`TempPackage`], to be taken into custody for a case.
#[derive(Debug)]
pub struct Custody {
    /// The case it answers.
    pub case_id: i64,
    /// Its file, under a temporary name.
    pub temp: TempPackage,
    /// What `evidence.sealed` records.
    pub package: SealedPackage,
}

impl Custody {
    /// Takes the package into custody inside a write batch, which holds the database's write
    /// lock (the node's writer job [`crate::writer::Job::Custody`], or the CLI's own batch while
    /// no node runs), so takes of one package are serialised. Refused (a case that cannot receive
    /// evidence, or a package already recorded): only the temporary file is removed, an existing
    /// file is never touched. Otherwise the file is renamed to `evidence/<sha256>.age`, the
    /// directory fsynced, and `evidence.sealed` appended; if that fails the file goes again.
    pub async fn take(
        self,
        b: &mut Batch,
        out: &mut Appended,
        now: Timestamp,
    ) -> Result<Evidence, Problem> {
        let Custody {
            case_id,
            temp,
            package,
        } = self;
        let sha = &package.package_sha256;
        if !is_sha256_hex(sha) {
            return Err(Problem::internal(format!(
                "{sha:?} is not a package digest; nothing was recorded"
            )));
        }
        can_receive_evidence(b.case(case_id).await?.as_ref(), case_id)?;
        if b.evidence(sha).await?.is_some() {
            // `temp` is dropped on return: this arrival's own file goes, the recorded one stays.
            return Err(Problem::conflict(
                "evidence-exists",
                format!("package {sha} is already recorded"),
            ));
        }
        let final_path = temp.dir.join(format!("{sha}.age"));
        let (from, to, dir) = (temp.path.clone(), final_path.clone(), temp.dir.clone());
        let moved = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::rename(&from, &to)?;
            let synced = std::fs::File::open(&dir).and_then(|d| d.sync_all());
            if synced.is_err() {
                let _ = std::fs::remove_file(&to);
            }
            synced
        })
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
        if let Err(e) = moved {
            tracing::error!(error = %e, "moving a package into custody failed");
            return Err(Problem::internal(
                "the package could not be stored; nothing was recorded",
            ));
        }
        match append_sealed(b, out, case_id, &package, now).await {
            Ok(e) => Ok(e),
            Err(p) => {
                // Not recorded, and under the write lock no one else can have recorded it: the
                // file must not stay where it could pass for custody.
                let _ = tokio::fs::remove_file(&final_path).await;
                Err(p)
            }
        }
    }
}

/// Appends `evidence.sealed` and its projection row (after [`Custody::take`]'s checks).
async fn append_sealed(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    p: &SealedPackage,
    now: Timestamp,
) -> Result<Evidence, Problem> {
    let ev = b
        .append(&custos_store::NewEvent {
            event_type: "evidence.sealed".into(),
            at: now,
            case_id: Some(case_id),
            body: json!({
                "package_sha256": p.package_sha256, "manifest_sha256": p.manifest_sha256,
                "size": p.size, "recipient": p.recipient, "signer": p.signer,
            }),
        })
        .await?;
    let evidence = Evidence {
        package_sha256: p.package_sha256.clone(),
        case_id,
        size: i64::try_from(p.size).unwrap_or(i64::MAX),
        manifest_sha256: p.manifest_sha256.clone(),
        recipient: p.recipient.clone(),
        sealed_seq: i64::try_from(ev.seq).unwrap_or(i64::MAX),
        sealed_at: now,
        delivered_at: None,
        destroyed_at: None,
    };
    out.push(ev);
    b.put_evidence(&evidence).await?;
    Ok(evidence)
}

async fn record_delivered(
    b: &mut Batch,
    out: &mut Appended,
    package_sha256: &str,
    to: &str,
    now: Timestamp,
) -> Result<Evidence, Problem> {
    let mut e = b
        .evidence(package_sha256)
        .await?
        .filter(|e| e.destroyed_at.is_none())
        .ok_or_else(|| Problem::not_found(format!("no package {package_sha256}")))?;
    let ev = b
        .append(&custos_store::NewEvent {
            event_type: "evidence.delivered".into(),
            at: now,
            case_id: Some(e.case_id),
            body: json!({ "package_sha256": package_sha256, "to": to }),
        })
        .await?;
    out.push(ev);
    e.delivered_at.get_or_insert(now);
    b.put_evidence(&e).await?;
    if let Some(mut case) = b.case(e.case_id).await?
        && case.status == CaseStatus::Executing
    {
        case.status = CaseStatus::Delivered;
        case.updated_at = now;
        b.put_case(&case).await?;
    }
    Ok(e)
}

/// Logs `evidence.destroyed` for every package whose retention (counted from its first
/// hand-over) ended by `now`, and returns their digests. The files are removed by the caller
/// after this commits: a package is never gone without its destruction in the log.
pub async fn destroy_due(
    b: &mut Batch,
    out: &mut Appended,
    now: Timestamp,
    retention_days: u32,
) -> Result<Vec<String>, Problem> {
    let cutoff = now - jiff::SignedDuration::from_hours(24 * i64::from(retention_days));
    let mut destroyed = Vec::new();
    for mut e in b.evidence_delivered_before(cutoff).await? {
        let ev = b
            .append(&custos_store::NewEvent {
                event_type: "evidence.destroyed".into(),
                at: now,
                case_id: Some(e.case_id),
                body: json!({
                    "package_sha256": e.package_sha256,
                    "reason": format!("retention of {retention_days} days after delivery ended"),
                    "delivered_at": e.delivered_at.map(|t| t.to_string()),
                }),
            })
            .await?;
        out.push(ev);
        e.destroyed_at = Some(now);
        b.put_evidence(&e).await?;
        destroyed.push(e.package_sha256);
    }
    Ok(destroyed)
}

/// Removes the files of packages whose destruction is logged (also those a crash left behind).
pub async fn remove_destroyed_files(node: &Node) -> Result<usize, Problem> {
    let mut removed = 0;
    for sha in node.store.destroyed_evidence().await? {
        if !is_sha256_hex(&sha) {
            continue;
        }
        let path = node.dir.join(EVIDENCE_DIR).join(format!("{sha}.age"));
        match tokio::fs::remove_file(&path).await {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "could not remove a destroyed package's file"),
        }
    }
    Ok(removed)
}

async fn own_case(
    node: &Node,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    case_id: i64,
    single_use: bool,
) -> Result<Caller, Problem> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (store, tokens, directory) = (&node.store, &node.tokens, &*node.directory);
    let caller = if single_use {
        crate::auth::caller_single_use(store, tokens, directory, auth, method.as_str(), uri.path())
            .await?
    } else {
        crate::auth::caller(store, tokens, directory, auth, method.as_str(), uri.path()).await?
    };
    let case = node.store.case(case_id).await?;
    match (&caller, case) {
        (Caller::User(_), Some(_)) => Ok(caller),
        (Caller::Authority(a), Some(c)) if c.authority_kid == a.kid => Ok(caller),
        _ => Err(Problem::not_found(format!(
            "there is no case {case_id} visible to you"
        ))),
    }
}

/// The packages of a case, each with the opening of its `evidence.sealed` event.
#[utoipa::path(get, path = "/v1/requests/{case}/evidence", params(("case" = i64, Path)), security(("bearer" = []), ("custos_jws" = [])),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn list(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Result<Json<Value>, Problem> {
    own_case(&node, &headers, &method, &uri, case_id, false).await?;
    let mut items = Vec::new();
    for e in node.store.evidence_for_case(case_id).await? {
        let opening = match node
            .store
            .event(u64::try_from(e.sealed_seq).unwrap_or(0))
            .await?
        {
            Some(ev) => json!({
                "format": "custos.opening/v1", "log": node.log.origin(), "index": ev.seq,
                "event": serde_json::from_str::<Value>(&ev.body).unwrap_or(Value::Null),
                "salt": ev.salt.to_base64(),
            }),
            None => Value::Null,
        };
        items.push(json!({
            "package_sha256": e.package_sha256, "size": e.size, "manifest_sha256": e.manifest_sha256,
            "recipient": e.recipient, "sealed_at": e.sealed_at.to_string(),
            "delivered_at": e.delivered_at.map(|t| t.to_string()), "destroyed": e.destroyed_at.is_some(),
            "download": format!("/v1/requests/{case_id}/evidence/{}", e.package_sha256),
            "opening": opening,
        }));
    }
    Ok(Json(json!({ "case": case_id, "packages": items })))
}

/// Hands a package over to the requesting authority and logs it. The signed proof must carry a
/// `jti` (at least 16 random bytes, base64url) that the node has not seen: a replayed proof is
/// refused (`replayed-proof`), so every logged hand-over was asked for once.
#[utoipa::path(get, path = "/v1/requests/{case}/evidence/{sha256}", params(("case" = i64, Path), ("sha256" = String, Path)), security(("custos_jws" = [])),
    responses((status = 200, content_type = "application/octet-stream"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn fetch(
    State(node): State<Arc<Node>>,
    Path((case_id, sha)): Path<(i64, String)>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Result<Response, Problem> {
    // Every hand-over is logged, so a proof may bring one only: it must carry a fresh `jti`.
    let Caller::Authority(authority) =
        own_case(&node, &headers, &method, &uri, case_id, true).await?
    else {
        return Err(Problem::forbidden(
            "authority-only",
            "packages are handed over only to the requesting authority, with a request signed by its key",
        ));
    };
    if !is_sha256_hex(&sha) {
        return Err(Problem::not_found(format!("{sha} is not a package digest")));
    }
    let known = node
        .store
        .evidence_for_case(case_id)
        .await?
        .into_iter()
        .any(|e| e.package_sha256 == sha && e.destroyed_at.is_none());
    if !known {
        return Err(Problem::not_found(format!(
            "case {case_id} has no package {sha}"
        )));
    }
    let path = node.dir.join(EVIDENCE_DIR).join(format!("{sha}.age"));
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        tracing::error!(error = %e, "evidence file missing");
        Problem::internal(
            "the package file is missing on the node; tell its operator (this is logged)",
        )
    })?;
    // Log the hand-over before a byte leaves: a delivery that is not in the log never happened.
    let (sha_for_job, kid) = (sha.clone(), authority.kid.clone());
    let _: serde_json::Value = node
        .writer
        .call(|tx| {
            Job::Op(
                crate::writer::Operation(Box::new(move |b, out| {
                    Box::pin(async move {
                        record_delivered(b, out, &sha_for_job, &kid, Timestamp::now())
                            .await
                            .map(|_| Value::Null)
                    })
                })),
                tx,
            )
        })
        .await?;
    let mut resp = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&sha) {
        resp.headers_mut().insert("x-custos-package-sha256", v);
    }
    Ok(resp)
}

/// Header naming the SHA-256 (hex) of the package's signed `manifest.json`, as `custos seal
/// --json` reports it.
pub const MANIFEST_SHA256_HEADER: &str = "custos-manifest-sha256";
/// Header naming the verifier key of the manifest's signer (C2SP `name+id+key`).
pub const MANIFEST_SIGNER_HEADER: &str = "custos-manifest-signer";

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Attach a package sealed elsewhere (e.g. by `custos seal` on the production system) to an
/// executed request.
///
/// The body is the age file itself (`application/octet-stream`), streamed to disk while its
/// SHA-256 is computed; the node checks that it is a well-formed age file for X25519 recipients
/// (it cannot read it: only the requesting authority can). The headers `Custos-Manifest-SHA256`
/// and `Custos-Manifest-Signer` declare what `custos seal --json` reported; the authority's
/// `custos unseal --verifier` checks them when it opens the package. The package is recorded
/// for the authority's registered age recipient and logged (`evidence.sealed`) before the
/// answer; a package that is not logged is not kept.
#[utoipa::path(post, path = "/v1/requests/{case}/evidence", params(("case" = i64, Path),
        ("Custos-Manifest-SHA256" = String, Header, description = "hex SHA-256 of the signed manifest.json"),
        ("Custos-Manifest-Signer" = String, Header, description = "verifier key of the manifest's signer")), security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Object), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn upload(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    body: Body,
) -> Result<Response, Problem> {
    let Caller::User(user) = own_case(&node, &headers, &method, &uri, case_id, false).await? else {
        return Err(Problem::forbidden(
            "people-only",
            "packages are attached by the node's reviewers, not by requesting authorities",
        ));
    };
    crate::ops::require_role(&user, custos_store::Role::Reviewer, "attaching evidence")?;
    let content_type = header_text(&headers, header::CONTENT_TYPE.as_str()).unwrap_or("");
    if !content_type.eq_ignore_ascii_case("application/octet-stream") {
        return Err(Problem::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media-type",
            "Unsupported media type",
            format!(
                "send the age file itself with Content-Type: application/octet-stream (got {content_type:?})"
            ),
        ));
    }
    let manifest_sha256 = header_text(&headers, MANIFEST_SHA256_HEADER)
        .filter(|s| is_sha256_hex(s))
        .ok_or_else(|| {
            Problem::bad_request(
                "manifest-digest",
                "the header Custos-Manifest-SHA256 must give the lower-case hex SHA-256 of the package's manifest.json (`custos seal --json` prints it as manifest_sha256)",
            )
        })?
        .to_owned();
    let signer = header_text(&headers, MANIFEST_SIGNER_HEADER)
        .filter(|s| custos_ledger::note::VerifierKey::parse(s).is_ok())
        .ok_or_else(|| {
            Problem::bad_request(
                "manifest-signer",
                "the header Custos-Manifest-Signer must give the manifest signer's verifier key (name+id+key; `custos seal --json` prints it as signer)",
            )
        })?
        .to_owned();
    // Check the case before taking a byte of a possibly large body.
    let case = can_receive_evidence(node.store.case(case_id).await?.as_ref(), case_id)?.clone();
    // The recipient the log registered: the table could have been edited to an attacker's key.
    let recipient = node
        .directory
        .authority(&case.authority_kid)
        .and_then(|a| a.age_recipient)
        .ok_or_else(|| {
            Problem::conflict(
                "no-recipient",
                "the requesting authority has no age recipient in the directory; register one before attaching evidence",
            )
        })?;
    let limit = node.config.lifecycle.evidence_max_upload_bytes;
    let received = receive(&node.dir, body, limit).await?;
    let custody = Custody {
        case_id,
        temp: received.temp,
        package: SealedPackage {
            package_sha256: received.sha256,
            manifest_sha256,
            size: received.size,
            recipient,
            signer,
        },
    };
    // Checked, renamed and recorded in one writer job: the writer runs one job at a time, so
    // concurrent uploads of one package cannot remove each other's file.
    let e = node
        .writer
        .call(|tx| Job::Custody(Box::new(custody), tx))
        .await?;
    let v = json!({
        "case": case_id, "package_sha256": e.package_sha256, "size": e.size,
        "manifest_sha256": e.manifest_sha256, "recipient": e.recipient,
        "log_index": e.sealed_seq, "sealed_at": e.sealed_at.to_string(),
    });
    Ok((axum::http::StatusCode::CREATED, Json(v)).into_response())
}

struct Received {
    temp: TempPackage,
    sha256: String,
    size: u64,
}

/// Streams `body` into a new temporary file in the node's evidence directory, hashing it, up to
/// `limit` bytes; fsyncs it and checks that it is an age file for X25519 recipients. On any
/// failure (or if the upload is abandoned) the temporary file is removed.
async fn receive(node_dir: &FsPath, body: Body, limit: u64) -> Result<Received, Problem> {
    use futures_util::StreamExt as _;
    use sha2::Digest as _;
    use tokio::io::AsyncWriteExt as _;

    let io = |e: std::io::Error| {
        tracing::error!(error = %e, "writing an uploaded package failed");
        Problem::internal("the package could not be stored; nothing was recorded")
    };
    let node_dir = node_dir.to_owned();
    let (temp, file) = tokio::task::spawn_blocking(move || TempPackage::create(&node_dir))
        .await
        .map_err(|e| Problem::internal(e.to_string()))?
        .map_err(io)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Problem::bad_request("unreadable-body", format!("the upload broke off: {e}"))
        })?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(Problem::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Package too large",
                format!(
                    "the package exceeds the node's limit of {limit} bytes (lifecycle.evidence_max_upload_bytes); nothing was recorded"
                ),
            ));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    file.sync_all().await.map_err(io)?;
    drop(file);
    check_age_header(temp.path()).await?;
    Ok(Received {
        temp,
        sha256: custos_ledger::Hash(hasher.finalize().into()).to_hex(),
        size,
    })
}

/// A package must be an age file whose every recipient stanza is X25519 (or grease), the kind
/// of the authority's registered recipient: a passphrase (scrypt) could be told to anyone, and
/// an SSH or plugin recipient is not the key the directory registered for the authority.
async fn check_age_header(path: &FsPath) -> Result<(), Problem> {
    let path = path.to_owned();
    let checked = tokio::task::spawn_blocking(move || {
        let open = || std::fs::File::open(&path).map_err(|e| (NOT_A_PACKAGE, e.to_string()));
        age::Decryptor::new_buffered(std::io::BufReader::new(open()?)).map_err(|e| {
            (
                NOT_A_PACKAGE,
                format!("the body is not an age file (age-encryption.org/v1): {e}"),
            )
        })?;
        let tags = stanza_tags(std::io::BufReader::new(open()?))
            .map_err(|e| (NOT_A_PACKAGE, format!("the age header is unreadable: {e}")))?;
        refused_recipients(&tags).map_or(Ok(()), Err)
    })
    .await
    .map_err(|e| Problem::internal(e.to_string()))?;
    checked.map_err(|(slug, detail)| Problem::unprocessable(slug, detail))
}

const NOT_A_PACKAGE: &str = "not-a-package";

/// Why a header with these stanza types is refused (problem slug and detail), if it is.
fn refused_recipients(tags: &[String]) -> Option<(&'static str, String)> {
    // Grease stanzas (`…-grease`, added by the age crate to every header) carry no key.
    let other = tags
        .iter()
        .find(|t| t.as_str() != "X25519" && !t.ends_with("-grease"));
    match other {
        None if tags.iter().any(|t| t == "X25519") => None,
        None => Some((
            "recipient-not-x25519",
            "the package has no X25519 recipient; seal it to the requesting authority's registered age recipient (age1…)".to_owned(),
        )),
        Some(t) if t == "scrypt" => Some((
            NOT_A_PACKAGE,
            "the package is encrypted with a passphrase; seal it to the requesting authority's age recipient instead".to_owned(),
        )),
        Some(t) => Some((
            "recipient-not-x25519",
            format!(
                "the package is sealed to a recipient of type {t}; Custos accepts only packages whose every recipient is an X25519 age recipient (age1…). Seal it again to the requesting authority's registered age recipient only (`custos seal --recipient age1…`, or `age -r age1…`), not to an SSH key, a passphrase or a plugin"
            ),
        )),
    }
}

/// The type (first argument) of every recipient stanza of an age header
/// (age-encryption.org/v1: stanzas start with `-> `, the header ends at the `---` line; stanza
/// bodies are base64, so they never start with `-> `).
fn stanza_tags(r: impl std::io::BufRead) -> std::io::Result<Vec<String>> {
    use std::io::BufRead as _;
    // The age crate has parsed this header already; the bound only keeps a reader honest.
    let mut r = r.take(1 << 20);
    let mut tags = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::Error::other("the header has no end (---)"));
        }
        if line.starts_with(b"---") {
            return Ok(tags);
        }
        if let Some(rest) = line.strip_prefix(b"-> ") {
            let tag = rest
                .split(|b| *b == b' ' || *b == b'\n')
                .next()
                .unwrap_or_default();
            tags.push(String::from_utf8_lossy(tag).into_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanza_tags_are_read_up_to_the_header_end() {
        let header = b"age-encryption.org/v1\n-> X25519 abc\nYmFzZTY0\n-> ssh-ed25519 Tag abc\nYmFzZTY0\n-> piv-p256 x\n\n--- mac\n-> after the header\n";
        assert_eq!(
            stanza_tags(&header[..]).unwrap(),
            ["X25519", "ssh-ed25519", "piv-p256"]
        );
        assert!(stanza_tags(&b"age-encryption.org/v1\n-> X25519 a\n"[..]).is_err());
    }

    #[test]
    fn only_x25519_recipients_are_accepted_grease_aside() {
        let tags = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(refused_recipients(&tags(&["X25519"])), None);
        assert_eq!(
            refused_recipients(&tags(&["X25519", "X25519", "}a-grease"])),
            None
        );
        for refused in [
            &["ssh-ed25519"][..],
            &["X25519", "ssh-rsa"],
            &["X25519", "piv-p256"],
            &["mlkem768x25519"],
            &["x-grease"],
        ] {
            let (slug, detail) = refused_recipients(&tags(refused)).unwrap();
            assert_eq!(slug, "recipient-not-x25519", "{refused:?}");
            assert!(detail.contains("age recipient"), "{detail}");
        }
        let (slug, detail) = refused_recipients(&tags(&["scrypt"])).unwrap();
        assert_eq!((slug, detail.contains("passphrase")), (NOT_A_PACKAGE, true));
    }

    #[test]
    fn a_dropped_temporary_package_leaves_no_file() {
        let dir = std::env::temp_dir().join(format!("custos-temp-{}", std::process::id()));
        let (temp, file) = TempPackage::create(&dir).unwrap();
        drop(file);
        let path = temp.path().to_owned();
        assert!(path.exists());
        assert!(path.starts_with(dir.join(EVIDENCE_DIR)));
        drop(temp);
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
