//! Attachments (issue 16): files staff keep with a case, stored by their BLAKE3 digest before
//! `attachment.added` is logged, checked on every read and by the audit; never shown to the
//! requester. And the reply templates per ground, from the configuration over the defaults.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use custos_service::Node;
use serde_json::Value;

use crate::fixture::*;
use crate::reply::{get, proof};

/// A reviewer with an API token on the fixture's node: its `Authorization` value.
async fn reviewer_token(f: &Fixture) -> String {
    let (token, hash) = custos_service::auth::new_token("nora").unwrap();
    f.add_user(custos_store::User {
        token_hash: hash,
        ..user("nora", custos_store::Role::Reviewer)
    })
    .await
    .unwrap();
    format!("Bearer {}", token.as_str())
}

/// A request through the node's router: status, headers and body bytes.
async fn call(node: &Arc<Node>, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    use tower_service::Service as _;
    let mut app = custos_service::http::router(node.clone());
    let resp = app.call(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (parts.status, parts.headers, bytes.to_vec())
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// `POST /v1/requests/{case}/attachments?{query}` with `bytes` as `media` and `extra` headers.
async fn upload(
    node: &Arc<Node>,
    auth: &str,
    case: i64,
    query: &str,
    media: &str,
    bytes: &[u8],
    extra: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::post(format!("/v1/requests/{case}/attachments?{query}"))
        .header(header::AUTHORIZATION, auth)
        .header(header::CONTENT_TYPE, media);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let (status, headers, body) = call(node, req.body(Body::from(bytes.to_vec())).unwrap()).await;
    (status, headers, json(&body))
}

async fn download(node: &Arc<Node>, auth: &str, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let req = Request::get(path)
        .header(header::AUTHORIZATION, auth)
        .body(Body::empty())
        .unwrap();
    call(node, req).await
}

const ORDER: &[u8] = b"%PDF-1.7 Order of the investigating judge, case 12/2026";

#[tokio::test]
async fn a_reviewer_attaches_lists_and_downloads_a_file_kept_by_its_digest() {
    let f = Fixture::with(|c| c.attachments.max_bytes = 100).await;
    let case = f.submit("p01-ransomware-production", "XA-ATT", t0()).await;
    let nora = reviewer_token(&f).await;
    let node = f.node().await.unwrap();
    let blake3 = blake3::hash(ORDER).to_hex().to_string();

    let (status, headers, a) = upload(
        &node,
        &nora,
        case,
        "kind=order&name=court%20order%20%C3%A9.pdf",
        "application/pdf",
        ORDER,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    assert!(headers.contains_key(header::ETAG));
    assert_eq!(a["blake3"], blake3.as_str());
    assert_eq!(a["size"], ORDER.len());
    assert_eq!(
        (&a["kind"], &a["name"], &a["media_type"], &a["added_by"]),
        (
            &Value::from("order"),
            &Value::from("court order é.pdf"),
            &Value::from("application/pdf"),
            &Value::from("nora")
        )
    );
    // Stored under its digest, before the event: the file is there and holds the bytes.
    let stored = f.dir.join("attachments").join(&blake3);
    assert_eq!(std::fs::read(&stored).unwrap(), ORDER);
    let logged = node.store.case_events(case).await.unwrap();
    let event = logged.last().unwrap();
    assert_eq!(event.event_type, "attachment.added");
    assert_eq!(body(event)["blake3"], blake3.as_str());
    assert_eq!(a["log_index"], event.seq);

    let (status, list) = get(&node, &format!("/v1/requests/{case}/attachments"), &nora).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["attachments"].as_array().unwrap().len(), 1);
    assert_eq!(list["attachments"][0]["download"], a["download"]);

    let (status, headers, bytes) = download(&node, &nora, a["download"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, ORDER);
    let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment;")
            && disposition.contains("court%20order%20%C3%A9.pdf"),
        "{disposition}"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");

    // The same file again on this case: refused, nothing logged twice.
    let size = f.log_size().await;
    let (status, _, p) = upload(
        &node,
        &nora,
        case,
        "kind=other&name=again.pdf",
        "application/pdf",
        ORDER,
        &[],
    )
    .await;
    assert_eq!(
        (status, p["type"].as_str().unwrap()),
        (
            StatusCode::CONFLICT,
            "https://custos.dev/problems/attachment-exists"
        ),
        "{p}"
    );
    // A path for a name, an unknown kind, no media type, an empty file: refused, naming the field.
    for (query, media, bytes, want) in [
        (
            "kind=order&name=..%2Fetc%2Fpasswd",
            "application/pdf",
            &b"x"[..],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "kind=warrant&name=a.pdf",
            "application/pdf",
            b"x",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "kind=order&name=a.pdf",
            "pdf",
            b"x",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "kind=order&name=a.pdf",
            "application/pdf",
            b"",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "name=a.pdf",
            "application/pdf",
            b"x",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, _, p) = upload(&node, &nora, case, query, media, bytes, &[]).await;
        assert_eq!(status, want, "{query} {media}: {p}");
    }
    // Over the node's limit (100 bytes here): 413, whether the length is declared or not.
    let big = vec![7u8; 101];
    let (status, _, p) = upload(
        &node,
        &nora,
        case,
        "kind=other&name=big.bin",
        "application/octet-stream",
        &big,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("100 bytes"), "{p}");
    // A stale If-Match: 412 before anything else.
    let (status, _, p) = upload(
        &node,
        &nora,
        case,
        "kind=other&name=n.txt",
        "text/plain",
        b"note",
        &[("if-match", "\"c1-v1\"")],
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{p}");
    assert_eq!(f.log_size().await, size, "no refusal logged anything");
    // No temporary file is left behind by the refusals.
    let names: Vec<String> = std::fs::read_dir(f.dir.join("attachments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [blake3.as_str()]);

    // The current version is accepted; an auditor may read but not add.
    let etag = headers_etag(&node, case).await;
    let (status, _, p) = upload(
        &node,
        &nora,
        case,
        "kind=correspondence&name=letter.txt",
        "text/plain; charset=utf-8",
        b"Dear colleagues",
        &[("if-match", &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let described =
        custos_service::http::attachments::described("other", "x.txt", "text/plain").unwrap();
    let mut incoming = custos_service::attachments::Incoming::create(&f.dir, 100)
        .await
        .unwrap();
    incoming.write(b"by an auditor").await.unwrap();
    let received = incoming.finish().await.unwrap();
    let p = custos_service::attachments::add(
        &node,
        case,
        aud(),
        &Default::default(),
        received,
        described,
    )
    .await
    .unwrap_err();
    assert_eq!((p.status, slug(&p)), (403, "read-only"));
    drop(node);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

/// The case's `ETag` as a reviewer reads it.
async fn headers_etag(node: &Arc<Node>, case: i64) -> String {
    node.store
        .case_version(case)
        .await
        .unwrap()
        .map(|seq| custos_service::ops::version::etag(case, seq))
        .unwrap()
}

#[tokio::test]
async fn the_requester_never_reads_attachments() {
    let f = Fixture::new().await;
    let case = f
        .submit("p01-ransomware-production", "XA-ATT-R", t0())
        .await;
    // Refused and closed: a case whose record the public may read once published.
    let refuse = decision(custos_service::ops::DecisionKind::Refuse);
    f.decide(case, &rita(), refuse, t0()).await.unwrap();
    f.advance(case, &rita(), custos_store::CaseStatus::Closed, t0())
        .await
        .unwrap();
    let nora = reviewer_token(&f).await;
    let node = f.node().await.unwrap();
    let (status, _, a) = upload(
        &node,
        &nora,
        case,
        "kind=correspondence&name=secret-note.txt",
        "text/plain",
        b"internal",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");

    let key = authority_key();
    let list = format!("/v1/requests/{case}/attachments");
    let (status, p) = get(&node, &list, &proof(&key, &list)).await;
    assert_eq!(
        (status, p["type"].as_str()),
        (
            StatusCode::FORBIDDEN,
            Some("https://custos.dev/problems/people-only")
        ),
        "{p}"
    );
    let one = a["download"].as_str().unwrap();
    let (status, _, bytes) = download(&node, &proof(&key, one), one).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!String::from_utf8_lossy(&bytes).contains("internal"));
    // Its reply and its timeline say nothing of it.
    for path in [
        format!("/v1/requests/{case}"),
        format!("/v1/requests/{case}/events"),
    ] {
        let (status, answer) = get(&node, &path, &proof(&key, &path)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        let text = answer.to_string();
        assert!(
            !text.contains("attachment") && !text.contains("secret-note"),
            "{path}: {text}"
        );
    } // Nor does the case's public record, once published.
    let events: Vec<custos_service::ops::CaseEventRef> = node
        .store
        .case_events(case)
        .await
        .unwrap()
        .iter()
        .map(|e| custos_service::ops::CaseEventRef {
            index: e.seq,
            kind: e.kind().unwrap(),
            at: e.at,
        })
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e.kind == custos_model::EventType::AttachmentAdded)
    );
    let case_row = node.query().case(case).await.unwrap().unwrap();
    let record = custos_service::ops::CaseRecord::of(&case_row, &events, t0()).unwrap();
    assert_eq!(record.events.len(), events.len() - 1);
    assert!(
        record
            .events
            .iter()
            .all(|e| e.event_type != custos_model::EventType::AttachmentAdded)
    );
}

#[tokio::test]
async fn an_altered_or_missing_file_fails_the_audit_and_is_never_served() {
    let f = Fixture::new().await;
    let case = f
        .submit("p01-ransomware-production", "XA-ATT-T", t0())
        .await;
    let nora = reviewer_token(&f).await;
    let node = f.node().await.unwrap();
    let (status, _, a) = upload(
        &node,
        &nora,
        case,
        "kind=order&name=order.pdf",
        "application/pdf",
        ORDER,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let path = f
        .dir
        .join("attachments")
        .join(a["blake3"].as_str().unwrap());
    let audit = |f: &Fixture| {
        let (dir, vkey) = (f.dir.clone(), f.verifier());
        async move {
            let nd = custos_service::NodeDir::open_to_read(&dir).await.unwrap();
            let report = custos_service::audit::audit(&nd, &vkey).await.unwrap();
            nd.close().await;
            report
                .findings
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(audit(&f).await, Vec::<String>::new());

    // Same size, one byte changed: the digest tells.
    let mut altered = ORDER.to_vec();
    altered[0] ^= 1;
    std::fs::write(&path, &altered).unwrap();
    let (status, _, bytes) = download(&node, &nora, a["download"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let p = json(&bytes);
    assert!(p["detail"].as_str().unwrap().contains("altered"), "{p}");
    let findings = audit(&f).await;
    assert!(
        findings.len() == 1
            && findings[0].contains("attachment")
            && findings[0].contains("altered"),
        "{findings:?}"
    );

    std::fs::remove_file(&path).unwrap();
    let (status, _, _) = download(&node, &nora, a["download"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let findings = audit(&f).await;
    assert!(
        findings.len() == 1 && findings[0].contains("missing"),
        "{findings:?}"
    );
}

#[tokio::test]
async fn reply_templates_come_from_the_configuration_over_the_defaults() {
    let f = Fixture::with(|c| {
        c.templates.insert(
            "dual-criminality".into(),
            "In our law this is no offence; we decline.".into(),
        );
    })
    .await;
    let nora = reviewer_token(&f).await;
    let node = f.node().await.unwrap();
    let (status, list) = get(&node, "/v1/templates", &nora).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let of = |ground: &str| {
        list["templates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["ground"] == ground)
            .cloned()
            .unwrap_or_else(|| panic!("no template for {ground}: {list}"))
    };
    assert_eq!(
        of("dual-criminality")["text"],
        "In our law this is no offence; we decline."
    );
    assert_eq!(of("dual-criminality")["source"], "configured");
    assert_eq!(of("death-penalty")["source"], "built_in");
    let (status, _) = get(
        &node,
        "/v1/templates",
        &proof(&authority_key(), "/v1/templates"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
