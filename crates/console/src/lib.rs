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
//! Pages: sign-in, queue, request (with the decision and second-review forms), holds and
//! secrecy (with CSV exports), log status. Start reading at [`router`], then `pages/`.

mod pages;
pub mod session;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use custos_service::node::Node;

use crate::session::Sessions;

/// The largest form body the console reads (its largest form, a decision, is a few KiB).
pub const FORM_BODY_LIMIT: usize = 16 * 1024;

/// What the console's handlers share.
#[derive(Debug)]
pub struct Console {
    /// The node (store, writer, log, directory).
    pub node: Arc<Node>,
    /// Signed-in people.
    pub sessions: Sessions,
}

/// The console's routes, under `/console` (and `/` redirecting there).
pub fn router(node: Arc<Node>) -> Router {
    let state = Arc::new(Console {
        node,
        sessions: Sessions::default(),
    });
    Router::new()
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
            "/console/requests/{case}/second-review",
            post(pages::second_review),
        )
        .route("/console/requests/{case}/hold/renew", post(pages::renew))
        .route("/console/holds", get(pages::holds))
        .route("/console/holds.csv", get(pages::holds_csv))
        .route("/console/notices.csv", get(pages::notices_csv))
        .route("/console/log", get(pages::log_status))
        .route("/console/static/{file}", get(pages::asset))
        // Console forms are small; a larger body is refused (413) before it is read or kept.
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
        .layer(axum::middleware::map_response(pages::plain_errors))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers every console response carries: a strict content security policy (only the node's
/// own script and style; no framing), no sniffing, no referrer, and no caching of pages that
/// hold case data.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
