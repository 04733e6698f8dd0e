//! The profile pages through the console's router, in process (tower `oneshot` on a fresh node
//! with a signed-in reviewer): the rules with their bases, and a proof record that is current,
//! stale or missing, as the service reads it from `NODE/proofs/`.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custos_safeguards::{PROOF_FORMAT, Profile, ProofRecord, ProofStatus, PropertyResult};
use custos_service::node::Node;
use custos_service::query::Role;
use sha2::{Digest, Sha256};
use tower::ServiceExt as _;

use crate::router;
use crate::session::{SESSION_COOKIE, Sessions};

/// A node as `custos init` makes it, with `profile` (a built-in name, or a file written beside
/// the configuration as `mine.cedar`), a reviewer `alice` and her session cookie.
async fn node(dir: &Path, profile: Result<&str, &str>) -> (Arc<Node>, String) {
    let mut config = custos_service::Config::new("custos.test/console");
    match profile {
        Ok(builtin) => config.profile = builtin.to_owned(),
        Err(text) => {
            std::fs::write(dir.join("mine.cedar"), text).unwrap();
            config.profile = "mine.cedar".to_owned();
        }
    }
    crate::tests::write_node(dir, &config).await;
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
    let session = Sessions::new(&node).start("alice").await.unwrap();
    (node, format!("{SESSION_COOKIE}={session}"))
}

async fn get(app: &axum::Router, cookie: Option<&str>, path: &str) -> (StatusCode, String) {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    if status == StatusCode::SEE_OTHER {
        return (
            status,
            resp.headers()[header::LOCATION]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A record of a proof of `profile` over the text whose SHA-256 is `sha`.
fn record(profile: &str, sha: String) -> ProofRecord {
    let property = |name: &str, status, detail: Option<&str>| PropertyResult {
        name: name.to_owned(),
        statement: format!("the statement of {name} <b>in words</b>"),
        basis: "N&P principles 5–7; EU Reg. 2023/1543 art. 4".to_owned(),
        status,
        detail: detail.map(str::to_owned),
        millis: 12,
    };
    ProofRecord {
        format: PROOF_FORMAT.to_owned(),
        profile: profile.to_owned(),
        profile_sha256: sha,
        proved_at: "2026-11-29T17:45:00Z".parse().unwrap(),
        solver: "cvc5 1.4.2".to_owned(),
        properties: vec![
            property("judicial-authorization", ProofStatus::Holds, None),
            property(
                "no-dead-rule",
                ProofStatus::Fails,
                Some("rule `x` never fires"),
            ),
        ],
    }
}

fn write_record(dir: &Path, r: &ProofRecord) {
    std::fs::create_dir_all(dir.join("proofs")).unwrap();
    std::fs::write(
        dir.join("proofs").join(format!("{}.json", r.profile)),
        serde_json::to_vec_pretty(r).unwrap(),
    )
    .unwrap();
}

/// The text of the element with `id`, up to its closing tag (enough for the page's one-line
/// elements).
fn element<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("#{id} in {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</").unwrap()]
}

#[tokio::test]
async fn the_rules_are_listed_in_order_with_their_bases() {
    let tmp = tempfile::tempdir().unwrap();
    let (node, cookie) = node(tmp.path(), Ok("rights-first")).await;
    let app = router(node);
    let (status, page) = get(&app, Some(&cookie), "/console/profiles/rights-first").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // Every rule, in the profile's order, each row with its code and severity in words.
    let profile = Profile::builtin("rights-first").unwrap();
    let table = &page[page.find("id=\"rules\"").unwrap()..];
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), profile.rules().len());
    for (row, rule) in rows.iter().zip(profile.rules()) {
        assert!(
            row.contains(&format!("<code>{}</code>", rule.code)),
            "{row}"
        );
        assert!(row.contains(rule.severity.label()), "{row}");
    }
    // A basis of two sources is two items; a placeholder is said in words.
    assert!(
        page.contains("<li>N&#38;P principles 5–7</li><li>EU Reg. 2023/1543 art. 4</li>"),
        "{page}"
    );
    assert!(page.contains("[the articles that provide for the measure]"));
    // A narrowing rule says how and how far.
    let mut limited = 0;
    for (row, rule) in rows.iter().zip(profile.rules()) {
        if let Some(n) = rule.narrowing {
            assert!(row.contains(&format!("({})", n.name())), "{row}");
        }
        if let Some(d) = rule.limit_days {
            assert!(row.contains(&format!("<td>{d} days</td>")), "{row}");
            limited += 1;
        }
    }
    assert!(limited > 0);
    // The navigation leads here, marked as the current section.
    assert!(page.contains("<a href=\"/console/profiles\" aria-current=\"page\">Profiles</a>"));
}

#[tokio::test]
async fn a_recorded_proof_of_this_text_is_shown_with_its_date_and_statuses() {
    let tmp = tempfile::tempdir().unwrap();
    let (node, cookie) = node(tmp.path(), Ok("rights-first")).await;
    write_record(
        tmp.path(),
        &record(
            "rights-first",
            sha256(custos_safeguards::profile::RIGHTS_FIRST_SOURCE),
        ),
    );
    let (status, page) = get(
        &app_of(node),
        Some(&cookie),
        "/console/profiles/rights-first",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        element(&page, "proof-status")
            .ends_with(">Proved on 2026-11-29 for this exact profile text."),
        "{page}"
    );
    assert!(page.contains("cvc5 1.4.2"));
    let properties =
        &page[page.find("id=\"properties\"").unwrap()..page.find("id=\"h-rules\"").unwrap()];
    assert!(properties.contains("<code>judicial-authorization</code>"));
    assert!(properties.contains("proof-holds\">Proved<"), "{properties}");
    assert!(properties.contains("proof-fails\">Fails: a counterexample exists<"));
    assert!(properties.contains("rule `x` never fires"));
    // What the record says is text, never markup.
    assert!(
        properties.contains("&#60;b&#62;in words&#60;/b&#62;"),
        "{properties}"
    );
    assert!(!properties.contains("<b>"));
}

#[tokio::test]
async fn a_record_of_another_text_is_flagged_as_stale() {
    let tmp = tempfile::tempdir().unwrap();
    let (node, cookie) = node(tmp.path(), Ok("rights-first")).await;
    write_record(tmp.path(), &record("convention", sha256("an older text")));
    let (status, page) = get(&app_of(node), Some(&cookie), "/console/profiles/convention").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let said = element(&page, "proof-status");
    assert!(said.contains("class=\"bad\""), "{said}");
    assert!(
        said.contains("The profile changed since the last proof (of 2026-11-29)"),
        "{said}"
    );
    assert!(
        said.contains("custos policy prove --profile convention --dir"),
        "{said}"
    );
    // The old results are still shown, under that warning.
    assert!(page.contains("<code>no-dead-rule</code>"));
}

#[tokio::test]
async fn without_a_record_the_page_says_how_to_make_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (node, cookie) = node(tmp.path(), Ok("rights-first")).await;
    let app = app_of(node);
    let (_, page) = get(&app, Some(&cookie), "/console/profiles/rights-first").await;
    let said = element(&page, "proof-status");
    assert!(
        said.ends_with(&format!(
            ">No proof recorded — run `custos policy prove --profile rights-first --dir {}`.",
            tmp.path().display()
        )),
        "{said}"
    );
    assert!(!page.contains("id=\"properties\""));
    // A record that is not one is said so, not taken for none.
    std::fs::create_dir_all(tmp.path().join("proofs")).unwrap();
    std::fs::write(tmp.path().join("proofs/rights-first.json"), "{}").unwrap();
    let (_, page) = get(&app, Some(&cookie), "/console/profiles/rights-first").await;
    assert!(
        element(&page, "proof-status").contains("is not a proof record (custos.proof/v1)"),
        "{page}"
    );
}

#[tokio::test]
async fn the_list_has_the_nodes_own_profile_first_and_the_pages_need_a_session() {
    let tmp = tempfile::tempdir().unwrap();
    // An operator's profile: a rule of rights-first under its own name.
    let own = format!(
        "@profile(\"strict\")\npermit (principal, action, resource);\n{}",
        r#"@code("intrusive") @severity("refuse") @basis("UNCC art. 24") @message("No.")
forbid (principal, action, resource) when { context.is_intrusive };"#
    );
    let (node, cookie) = node(tmp.path(), Err(&own)).await;
    write_record(tmp.path(), &record("strict", sha256(&own)));
    let app = app_of(node);
    let (status, page) = get(&app, Some(&cookie), "/console/profiles").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let strict = page.find("href=\"/console/profiles/strict\"").unwrap();
    let rights = page
        .find("href=\"/console/profiles/rights-first\"")
        .unwrap();
    let convention = page.find("href=\"/console/profiles/convention\"").unwrap();
    assert!(strict < rights && rights < convention, "{page}");
    assert!(page[strict..rights].contains("mine.cedar") && page[strict..rights].contains("in use"));
    let (_, page) = get(&app, Some(&cookie), "/console/profiles/strict").await;
    assert!(
        element(&page, "proof-status").contains("for this exact profile text"),
        "{page}"
    );

    // Unknown: the console's 404 page, naming the profiles there are.
    let (status, page) = get(&app, Some(&cookie), "/console/profiles/lenient").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("strict, rights-first, convention"), "{page}");
    // Signed out: to the sign-in page, and back here after.
    for path in ["/console/profiles", "/console/profiles/strict"] {
        let (status, to) = get(&app, None, path).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            to.starts_with("/console/sign-in?next=%2Fconsole%2Fprofiles"),
            "{to}"
        );
    }
}

fn app_of(node: Arc<Node>) -> axum::Router {
    router(node)
}
