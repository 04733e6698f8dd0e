//! The attachment upload through the console's router, in process: a form without this
//! session's CSRF token stores nothing, and a refused upload leaves no file behind.

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custos_service::node::Node;
use custos_service::query::Role;
use tower::ServiceExt as _;

use crate::router;
use crate::session::{SESSION_COOKIE, Sessions};

const BOUNDARY: &str = "custos-test-boundary";

/// A multipart body of the upload form: `csrf`, `version`, `kind`, then the file.
fn form(csrf: &str, file: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in [("csrf", csrf), ("version", ""), ("kind", "order")] {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"order.pdf\"\r\nContent-Type: application/pdf\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Files in the node's attachments directory (none if it does not exist).
fn stored(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("attachments"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_upload_needs_the_sessions_token_and_a_refusal_leaves_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    crate::tests::write_node(dir, &custos_service::Config::new("custos.test/console")).await;
    let nd = custos_service::NodeDir::open(dir).await.unwrap();
    custos_service::offline::add_user(
        &nd,
        "alice",
        Role::Reviewer,
        "2026-11-30T09:00:00Z".parse().unwrap(),
    )
    .await
    .unwrap();
    drop(nd);
    let node = Node::open(dir).await.unwrap();
    let sessions = Sessions::new(&node);
    let id = sessions.start("alice").await.unwrap();
    let csrf = sessions.get(&id).await.unwrap().unwrap().csrf;
    let app = router(node);
    let post = |token: &str| {
        Request::post("/console/requests/1/attachments")
            .header(header::COOKIE, format!("{SESSION_COOKIE}={id}"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from(form(token, b"%PDF-1.7 the order")))
            .unwrap()
    };

    let resp = app.clone().oneshot(post("not-the-token")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(stored(dir), Vec::<String>::new(), "nothing stored");

    // The right token, but no such case: refused by the writer, the received file removed.
    let resp = app.clone().oneshot(post(&csrf)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(stored(dir), Vec::<String>::new(), "no file left behind");
}
