//! The public pages through the console's router, in process (tower `oneshot` on a fresh node):
//! no sign-in, the console's security headers, no script, and the links the issue promises.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt as _;

use crate::{NO_STORE, SECURITY_HEADERS, router};

/// `GET path` with no cookie, as a visitor's browser: the status and the page.
async fn visit(app: &axum::Router, path: &str) -> (StatusCode, String) {
    let resp = app
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::HOST, "custos.example.org")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let h = resp.headers().clone();
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(h.get(&name).unwrap(), value, "{path}: {name}");
    }
    assert_eq!(h[header::CACHE_CONTROL], NO_STORE, "{path}");
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{path}"
    );
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(!body.contains("<script"), "{path} holds a script");
    assert!(
        !body.contains("/console/sign-out"),
        "{path} is not a signed-in page"
    );
    (status, body)
}

#[tokio::test]
async fn the_public_log_page_needs_no_sign_in_and_says_how_to_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let node = crate::tests::node(tmp.path()).await;
    let verifier = node.log.verifier().to_string();
    let app = router(node);
    let (status, page) = visit(&app, "/log").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for link in [
        "href=\"/log/checkpoint\"",
        "href=\"/v1/log/verifier\"",
        "href=\"/transparency\"",
        "href=\"/console/sign-in\"",
    ] {
        assert!(page.contains(link), "{link}: {page}");
    }
    // The whole verifier key, and the command to copy with it and this node's address.
    assert!(page.contains(&format!("<pre id=\"verifier\">{verifier}</pre>")));
    assert!(page.contains(&format!(
        "custos log verify --server http://custos.example.org --vkey &#34;{verifier}&#34; --full"
    )), "{page}");
    assert!(page.contains("No witness yet"), "{page}");
}

#[tokio::test]
async fn the_sign_in_page_links_the_public_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let app = router(crate::tests::node(tmp.path()).await);
    let resp = app
        .oneshot(
            Request::get("/console/sign-in")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("<footer"), "{body}");
    assert!(body.contains("href=\"/transparency\"") && body.contains("href=\"/log\""));
}

#[tokio::test]
async fn the_transparency_page_needs_no_sign_in_and_links_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let app = router(crate::tests::node(tmp.path()).await);
    let (status, page) = visit(&app, "/transparency").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for link in [
        "href=\"/log\"",
        "href=\"/console/sign-in\"",
        "action=\"/transparency\"",
        "noisy on purpose",
    ] {
        assert!(page.contains(link), "{link}: {page}");
    }
}

#[tokio::test]
async fn bad_dates_are_a_readable_page_with_the_status_of_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let app = router(crate::tests::node(tmp.path()).await);
    for (query, words) in [
        ("from=2026-02-30&to=2026-03-31", "parameter `from`"),
        ("from=2026-03-01&to=2026-02-01", "is before"),
        ("from=2026-01-01", "parameter `to`"),
        ("to=%3Cb%3E", "parameter `from`"),
    ] {
        let (status, page) = visit(&app, &format!("/transparency?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {page}");
        assert!(page.contains("role=\"alert\""), "{query}");
        assert!(page.contains(words), "{query}: {page}");
        // What was typed is kept in the form, escaped.
        assert!(!page.contains("<b>"), "{query}");
    }
}
