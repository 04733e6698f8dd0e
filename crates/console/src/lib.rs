//! `custos-console`: the reviewer console, the pages a legal-process team works in.
//!
//! Server-rendered HTML (askama templates compiled into the binary) with a little progressive
//! JavaScript; every page and every form works without it. No CDN, no build step: the CSS and
//! the script are embedded and served by the node itself under `/console/static/`.
//!
//! Every change goes through the same writer jobs and the same rules as the JSON API
//! (`custos-service`), so the console cannot do what the API would refuse: an auditor's form
//! post is refused by the same role check, a narrowing that widens by the same `check_narrows`.
//!
//! This crate depends on the service; the service never depends on it. `custos serve` merges
//! [`router`] into the API's router.
//!
//! Pages: sign-in, queue, request (with the decision, reclassification and second-review forms),
//! holds and secrecy (with CSV exports), log status, profiles (rules and proof status). Start reading at [`router`], then `pages/`.

mod chart;
mod pages;
pub mod session;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{get, post};
use custos_service::node::Node;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::session::Sessions;

/// The largest form body the console reads (its largest form, a decision, is a few KiB).
pub const FORM_BODY_LIMIT: usize = 16 * 1024;

/// The headers every console response carries, each set over whatever a handler set: a strict
/// content security policy (only the node's own script and style; no framing), no sniffing, no
/// referrer, no framing for browsers without CSP.
pub const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
];

/// `Cache-Control` of a response whose handler set none: pages hold case data, so no caching.
pub const NO_STORE: &str = "no-store";

/// What the console's handlers share.
#[derive(Debug)]
pub struct Console {
    /// The node (store, writer, log, directory).
    pub node: Arc<Node>,
    /// Signed-in people and the sign-in lock-out (in the node's database).
    pub sessions: Sessions,
}

/// The console's routes, under `/console` (and `/` redirecting there).
pub fn router(node: Arc<Node>) -> Router {
    // The file and the form's few small fields.
    let attachment_body = usize::try_from(node.config.attachments.max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    let state = Arc::new(Console {
        sessions: Sessions::new(&node),
        node,
    });
    let router = Router::new()
        .route("/", get(pages::home))
        .route("/console", get(pages::home))
        .route("/console/", get(pages::home))
        .route(
            "/console/sign-in",
            get(pages::sign_in_page).post(pages::sign_in),
        )
        .route("/console/sign-out", post(pages::sign_out))
        .route("/console/queue", get(pages::queue))
        .route("/console/requests/{case}", get(pages::request_page))
        .route("/console/requests/{case}/decision", post(pages::decide))
        .route(
            "/console/requests/{case}/reclassification",
            post(pages::reclassify),
        )
        .route(
            "/console/requests/{case}/second-review",
            post(pages::second_review),
        )
        .route("/console/requests/{case}/hold/renew", post(pages::renew))
        .route("/console/requests/{case}/status", post(pages::advance))
        .route(
            "/console/requests/{case}/hold/release",
            post(pages::release_hold),
        )
        .route(
            "/console/requests/{case}/notice/action",
            post(pages::act_on_notice),
        )
        .route(
            "/console/requests/{case}/deletion-request",
            post(pages::request_deletion),
        )
        .route(
            "/console/requests/{case}/postponement",
            post(pages::postpone),
        )
        .route(
            "/console/requests/{case}/consultation",
            post(pages::consult),
        )
        .route(
            "/console/requests/{case}/extensions/{extension}/decision",
            post(pages::decide_extension),
        )
        .route(
            "/console/requests/{case}/callback",
            post(pages::record_callback),
        )
        .route(
            "/console/requests/{case}/callback/review",
            post(pages::review_callback),
        )
        .route(
            "/console/requests/{case}/assignment",
            post(pages::assignment),
        )
        .route("/console/requests/{case}/notes", post(pages::add_note))
        .route("/console/authorities/{kid}", get(pages::authority_page))
        .route("/console/holds", get(pages::holds))
        .route("/console/holds.csv", get(pages::holds_csv))
        .route("/console/notices.csv", get(pages::notices_csv))
        .route("/console/log", get(pages::log_status))
        .route("/console/profiles", get(pages::profiles))
        .route("/console/profiles/{name}", get(pages::profile_page))
        .route("/console/static/{file}", get(pages::asset))
        // Attachments (issue 16): a multipart upload up to the node's limit (its own body limit,
        // over the forms' one), and downloads checked against their digest.
        .route(
            "/console/requests/{case}/attachments",
            post(pages::upload_attachment).layer(DefaultBodyLimit::max(attachment_body)),
        )
        .route(
            "/console/requests/{case}/attachments/{blake3}",
            get(pages::download_attachment),
        )
        // The public pages (issue 14): anyone, no sign-in; the same headers as every page.
        .route("/log", get(pages::public_log))
        .route("/transparency", get(pages::transparency))
        // The public record of each case (issue 14): no sign-in; HTML or JSON (`Accept`).
        .route("/transparency/cases", get(pages::public_records))
        .route("/transparency/cases.json", get(pages::public_records_json))
        .route("/transparency/cases/{case}", get(pages::public_record))
        // Console forms are small; a larger body is refused (413, on the console's error page)
        // before it is read or kept.
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT));
    SECURITY_HEADERS
        .into_iter()
        .fold(router, |router, (name, value)| {
            router.layer(SetResponseHeaderLayer::overriding(
                name,
                HeaderValue::from_static(value),
            ))
        })
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static(NO_STORE),
        ))
        .with_state(state)
}

// The public pages' router tests (issue 14).
#[cfg(test)]
mod public_tests;
// The profile pages' router tests (issue 17).
#[cfg(test)]
mod profile_tests;
// The attachment upload's router tests (issue 16).
#[cfg(test)]
mod attachment_tests;

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt as _;

    use super::*;

    /// A new node in a temporary directory, as `custos init` makes it, opened with its writer.
    pub(crate) async fn node(dir: &std::path::Path) -> Arc<Node> {
        write_node(dir, &custos_service::Config::new("custos.test/console")).await;
        Node::open(dir).await.unwrap()
    }

    /// What `custos init` writes for `config`: the key, the database and the configuration.
    pub(crate) async fn write_node(dir: &std::path::Path, config: &custos_service::Config) {
        let key = custos_ledger::SignerKey::from_seed(&config.origin, &[7; 32]).unwrap();
        std::fs::write(
            dir.join(&config.key),
            format!("{}\n", key.to_private_string().as_str()),
        )
        .unwrap();
        custos_service::NodeDir::create_database(dir, config)
            .await
            .unwrap();
        std::fs::write(
            dir.join(custos_service::config::CONFIG_FILE),
            config.to_toml().unwrap(),
        )
        .unwrap();
    }

    #[tokio::test]
    async fn pages_and_error_pages_carry_every_security_header() {
        let tmp = tempfile::tempdir().unwrap();
        let app = router(node(tmp.path()).await);
        let form = |body: Vec<u8>| {
            Request::post("/console/sign-in")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap()
        };
        let cases = [
            // A page.
            (
                Request::get("/console/sign-in")
                    .body(Body::empty())
                    .unwrap(),
                StatusCode::OK,
                "Sign in",
            ),
            // Error pages: a form over the limit, a form of a session that has ended.
            (
                form(vec![b'n'; FORM_BODY_LIMIT + 1]),
                StatusCode::PAYLOAD_TOO_LARGE,
                "at most 16 KiB",
            ),
            (
                Request::post("/console/sign-out")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from("csrf=x"))
                    .unwrap(),
                StatusCode::UNAUTHORIZED,
                "your session has ended",
            ),
            (
                form(b"name=a&name=b".to_vec()),
                StatusCode::UNPROCESSABLE_ENTITY,
                "the form could not be read",
            ),
        ];
        for (req, status, text) in cases {
            let what = format!("{} {}", req.method(), req.uri());
            let resp = app.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), status, "{what}");
            let h = resp.headers().clone();
            for (name, value) in SECURITY_HEADERS {
                assert_eq!(h.get(&name).unwrap(), value, "{what}: {name}");
            }
            assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), NO_STORE, "{what}");
            assert!(
                h[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html"),
                "{what}"
            );
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            let body = String::from_utf8_lossy(&body);
            assert!(body.contains(text), "{what}: {body}");
        }
        // A response that sets its own caching keeps it, and still gets the other headers.
        let css = app
            .oneshot(
                Request::get("/console/static/console.css")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(css.status(), StatusCode::OK);
        assert_eq!(css.headers()[header::CACHE_CONTROL], "public, max-age=300");
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(css.headers()[&name], value, "console.css: {name}");
        }
    }
}
