//! The evidence endpoints: a case's packages, their hand-over to the requesting authority, and
//! uploads by reviewers. Custody of the files is [`crate::custody`]; the state changes are
//! [`crate::ops::evidence`], run by the writer.

use std::path::Path as FsPath;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::extract::SingleUseCaller;
use super::parse_stored;
use super::requests::visible_case;
use crate::auth::Caller;
use crate::custody::{
    Custody, EVIDENCE_DIR, PackageHasher, SealedPackage, TempPackage, check_age_header,
    is_digest_hex,
};
use crate::node::Node;
use crate::ops::evidence::{can_receive_evidence, covered_targets};
use crate::problem::Problem;
use crate::wire::{
    EvidenceList, EvidencePackage, EvidenceReceipt, OPENING_FORMAT, Opening, PackageDigestFields,
};
use crate::writer::Job;
use custos_model::EventType;
use custos_model::PackageDigest;

/// The packages of a case, each with the opening of its `evidence.sealed` event and those of its
/// hand-overs and destruction: the chain of custody, checkable against the signed log.
#[utoipa::path(get, path = "/v1/requests/{case}/evidence", params(("case" = i64, Path)), security(("bearer" = []), ("custos_jws" = [])),
    responses((status = 200, body = EvidenceList), (status = 404, body = Problem)))]
pub async fn list(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    caller: Caller,
) -> Result<Json<EvidenceList>, Problem> {
    let case = visible_case(&node, &caller, case_id).await?;
    let open = |ev: custos_store::StoredEvent| -> Result<Opening, Problem> {
        Ok(Opening {
            format: OPENING_FORMAT.to_owned(),
            log: node.log.origin().to_owned(),
            index: ev.seq,
            event: parse_stored("event", &ev.body)?,
            salt: ev.salt,
            leaf: None,
        })
    };
    // The hand-overs and destructions of the case, each to go with its package.
    let mut later = Vec::new();
    for ev in node.store.case_events(case_id).await? {
        if matches!(
            ev.kind(),
            Some(EventType::EvidenceDelivered | EventType::EvidenceDestroyed)
        ) {
            later.push(open(ev)?);
        }
    }
    let mut packages = Vec::new();
    for e in node.store.evidence_for_case(case_id).await? {
        let opening = match node
            .store
            .event(u64::try_from(e.sealed_seq).unwrap_or(0))
            .await?
        {
            Some(ev) => Some(open(ev)?),
            None => None,
        };
        // By the package's digest, whichever kind it is.
        let digest = e.digest();
        let custody = later
            .iter()
            .filter(|o| digest.is_some() && PackageDigest::from_map(&o.event.fields) == digest)
            .cloned()
            .collect();
        let targets = opening
            .as_ref()
            .and_then(|o| o.event.fields.get("targets"))
            .map(crate::ops::evidence::sealed_targets_of)
            .unwrap_or_default();
        packages.push(EvidencePackage {
            targets,
            download: format!("/v1/requests/{case_id}/evidence/{}", e.package_digest),
            digest: PackageDigestFields::stored(e.digest_kind, &e.package_digest),
            size: e.size,
            manifest_sha256: e.manifest_sha256,
            recipient: e.recipient,
            sealed_at: e.sealed_at,
            delivered_at: e.delivered_at,
            destroyed: e.destroyed_at.is_some(),
            opening,
            custody,
        });
    }
    Ok(Json(EvidenceList {
        case: case_id,
        requesting_state: case.requesting_state,
        packages,
    }))
}

/// Hands a package over to the requesting authority and logs it. The signed proof must carry a
/// `jti` (at least 16 random bytes, base64url) that the node has not seen: a replayed proof is
/// refused (`replayed-proof`), so every logged hand-over was asked for once.
///
/// `{digest}` is the package's digest as the listing gives it: its `package_blake3` (format v2)
/// or `package_sha256` (format v1). The answer's `X-Custos-Package-BLAKE3` or
/// `X-Custos-Package-SHA256` header repeats it, named by its kind.
#[utoipa::path(get, path = "/v1/requests/{case}/evidence/{digest}", params(("case" = i64, Path), ("digest" = String, Path)), security(("custos_jws" = [])),
    responses((status = 200, content_type = "application/octet-stream"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn fetch(
    State(node): State<Arc<Node>>,
    Path((case_id, sha)): Path<(i64, String)>,
    // Every hand-over is logged, so a proof may bring one only: it must carry a fresh `jti`.
    SingleUseCaller(caller): SingleUseCaller,
) -> Result<Response, Problem> {
    visible_case(&node, &caller, case_id).await?;
    let Caller::Authority(authority) = caller else {
        return Err(Problem::forbidden(
            "authority-only",
            "packages are handed over only to the requesting authority, with a request signed by its key",
        ));
    };
    if !is_digest_hex(&sha) {
        return Err(Problem::not_found(format!(
            "{sha} is not a package digest (64 lower-case hex digits)"
        )));
    }
    let Some(kind) = node
        .store
        .evidence_for_case(case_id)
        .await?
        .into_iter()
        .find(|e| e.package_digest == sha && e.destroyed_at.is_none())
        .map(|e| e.digest_kind)
    else {
        return Err(Problem::not_found(format!(
            "case {case_id} has no package {sha}"
        )));
    };
    let path = node.dir.join(EVIDENCE_DIR).join(format!("{sha}.age"));
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        tracing::error!(error = %e, "evidence file missing");
        Problem::internal(
            "the package file is missing on the node; tell its operator (this is logged)",
        )
    })?;
    // Log the hand-over before a byte leaves: a delivery that is not in the log never happened.
    node.writer
        .call(|reply| Job::Deliver {
            package_digest: sha.clone(),
            to: authority.kid.clone(),
            reply,
        })
        .await?;
    let mut resp = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&sha) {
        let name = match kind {
            custos_model::DigestKind::Blake3 => "x-custos-package-blake3",
            custos_model::DigestKind::Sha256 => "x-custos-package-sha256",
        };
        resp.headers_mut().insert(name, v);
    }
    Ok(resp)
}

/// Header naming the SHA-256 (hex) of the package's signed `manifest.json`, as `custos seal
/// --json` reports it.
pub const MANIFEST_SHA256_HEADER: &str = "custos-manifest-sha256";
/// Header naming the verifier key of the manifest's signer (C2SP `name+id+key`).
pub const MANIFEST_SIGNER_HEADER: &str = "custos-manifest-signer";
/// Header naming one target the package covers (repeatable), percent-encoded UTF-8.
pub const TARGET_HEADER: &str = "custos-target";

/// The `Custos-Target` headers, each percent-decoded into a target value.
fn target_headers(headers: &HeaderMap) -> Result<Vec<custos_model::TargetValue>, Problem> {
    let bad = |i: usize, why: String| {
        let mut p =
            Problem::bad_request("target-header", format!("Custos-Target #{}: {why}", i + 1));
        p.errors.push(crate::problem::FieldProblem {
            pointer: format!("Custos-Target[{i}]"),
            detail: why,
        });
        p
    };
    let mut out = Vec::new();
    for (i, v) in headers.get_all(TARGET_HEADER).iter().enumerate() {
        let raw = v
            .to_str()
            .map_err(|_| bad(i, "send the value percent-encoded (UTF-8), in ASCII".into()))?;
        let text = percent_decode(raw.trim())
            .ok_or_else(|| bad(i, "is not percent-encoded UTF-8 (a % must be %25)".into()))?;
        out.push(custos_model::TargetValue::try_from(text).map_err(|e| bad(i, e))?);
    }
    Ok(out)
}

/// RFC 3986 percent-decoding into UTF-8 (`+` stays a plus: phone numbers keep theirs).
fn percent_decode(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut it = s.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next()?, it.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}

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
/// answer; a package that is not logged is not kept. The `Custos-Target` headers name the
/// targets it covers: each must be produced by the decision (422 `target-not-produced`), and
/// for an execution in part at least one is required (422 `targets-required`).
#[utoipa::path(post, path = "/v1/requests/{case}/evidence", params(("case" = i64, Path),
        ("Custos-Manifest-SHA256" = String, Header, description = "hex SHA-256 of the signed manifest.json"),
        ("Custos-Manifest-Signer" = String, Header, description = "verifier key of the manifest's signer"),
        ("Custos-Target" = Option<String>, Header, description = "a target value the package covers, percent-encoded UTF-8; repeat the header for each. Required when the case was executed in part (each one of the targets produced); absent, the package covers every target")), security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = EvidenceReceipt), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn upload(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    visible_case(&node, &caller, case_id).await?;
    let Caller::User(user) = caller else {
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
        .filter(|s| is_digest_hex(s))
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
    // Check the case and the targets before taking a byte of a possibly large body.
    let case = can_receive_evidence(node.store.case(case_id).await?.as_ref(), case_id)?.clone();
    let targets = target_headers(&headers)?;
    covered_targets(&case, &targets, "Custos-Target")?;
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
            digest: received.digest,
            manifest_sha256,
            size: received.size,
            recipient,
            signer,
        },
        targets,
    };
    // Checked, renamed and recorded in one writer job: the writer runs one job at a time, so
    // concurrent uploads of one package cannot remove each other's file.
    let e = node
        .writer
        .call(|tx| Job::Custody(Box::new(custody), tx))
        .await?;
    let targets = node.query().evidence_targets(&e).await?;
    let receipt = EvidenceReceipt {
        targets,
        case: case_id,
        digest: PackageDigestFields::stored(e.digest_kind, &e.package_digest),
        size: e.size,
        manifest_sha256: e.manifest_sha256,
        recipient: e.recipient,
        log_index: e.sealed_seq,
        sealed_at: e.sealed_at,
    };
    Ok((axum::http::StatusCode::CREATED, Json(receipt)).into_response())
}

struct Received {
    temp: TempPackage,
    digest: custos_model::PackageDigest,
    size: u64,
}

/// Streams `body` into a new temporary file in the node's evidence directory, hashing it, up to
/// `limit` bytes; fsyncs it and checks that it is an age file for X25519 recipients. On any
/// failure (or if the upload is abandoned) the temporary file is removed.
async fn receive(node_dir: &FsPath, body: Body, limit: u64) -> Result<Received, Problem> {
    use futures_util::StreamExt as _;
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
    // Every package taken in now is of format v2: logged by its BLAKE3.
    let mut hasher = PackageHasher::new(custos_model::DigestKind::Blake3);
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
        digest: hasher.finalize(),
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_headers_are_percent_decoded_utf8_and_a_plus_stays() {
        assert_eq!(percent_decode("+15550100").as_deref(), Some("+15550100"));
        assert_eq!(
            percent_decode("user%40mail.example").as_deref(),
            Some("user@mail.example")
        );
        assert_eq!(percent_decode("J%C3%BCrgen%25").as_deref(), Some("Jürgen%"));
        for bad in ["50%", "%4", "%zz", "%C3"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
        let mut h = HeaderMap::new();
        h.append(TARGET_HEADER, HeaderValue::from_static("a%40b"));
        h.append(TARGET_HEADER, HeaderValue::from_static(" +1 "));
        let got: Vec<String> = target_headers(&h)
            .unwrap()
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(got, ["a@b", "+1"]);
        h.append(TARGET_HEADER, HeaderValue::from_static("%"));
        let p = target_headers(&h).unwrap_err();
        assert_eq!(p.errors[0].pointer, "Custos-Target[2]");
    }
}
