//! Preservation and its follow-up (issue 13 §1): a request naming the preservation it follows
//! (`follows`) is linked to it, refused at `$.follows` when it names no preservation of its
//! own authority, keeps the hold past its date while pending, and a hold is warned of once
//! before it lapses; a renewal is asked and granted through the extension model.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custos_jose::{PrivateJwk, sign_compact};
use custos_service::Node;
use custos_service::ops::{self, DecisionKind, ExtensionInput};
use custos_store::ExtensionKind;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::fixture::*;

const PRESERVATION: &str = "p02-preservation-24-7";
const PRODUCTION: &str = "p01-ransomware-production";

/// Submits a production request of XA that follows `follows`, at `at`.
async fn try_follow_up(
    f: &Fixture,
    id: &str,
    follows: &str,
    at: Timestamp,
) -> Result<ops::SubmitOutcome, custos_service::Problem> {
    let s = f.submission_with(PRODUCTION, id, at, |r| r["follows"] = follows.into());
    let current = f.logged_authority(&f.authority.kid).await;
    f.submit_as(s, current).await
}

/// A preservation of XA executed at `t0()` (its hold ends 90 days later).
async fn preserved(f: &Fixture) -> i64 {
    f.decided(PRESERVATION, "XA-PRES", DecisionKind::Execute, t0())
        .await
}

fn events_of(events: &[custos_store::StoredEvent], kind: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.event_type == kind)
        .map(|e| {
            let mut b = body(e);
            // The envelope (type, time, case, index) is asserted elsewhere.
            for k in ["type", "at", "case", "seq"] {
                b.as_object_mut().unwrap().remove(k);
            }
            b
        })
        .collect()
}

#[tokio::test]
async fn a_follow_up_is_linked_to_its_preservation_both_ways() {
    let f = Fixture::new().await;
    let pres = preserved(&f).await;
    let follow = case_id(
        &try_follow_up(&f, "XA-PROD", "XA-PRES", t0() + days(1))
            .await
            .unwrap(),
    );
    let events = f.store.case_events(follow).await.unwrap();
    let linked = events_of(&events, "preservation.followed");
    assert_eq!(
        linked,
        [json!({"follows_case": pres, "follows_request_id": "XA-PRES"})]
    );
    let links = ops::follow_up::links(&f.store, &f.case(follow).await)
        .await
        .unwrap();
    assert_eq!(links.follows.map(|c| c.case_id), Some(pres));
    let links = ops::follow_up::links(&f.store, &f.case(pres).await)
        .await
        .unwrap();
    assert_eq!(
        links
            .followed_by
            .iter()
            .map(|c| c.case_id)
            .collect::<Vec<_>>(),
        [follow]
    );
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn follows_naming_no_preservation_of_the_sender_is_refused_at_its_pointer_and_stores_nothing()
{
    let f = Fixture::new().await;
    preserved(&f).await;
    f.submit("p04-defamation-2y", "XA-NOTPRES", t0()).await;
    // XB's own preservation: XA may not follow it, nor learn it exists.
    let xb_key = other_authority_key();
    let xb = f.add_authority(&xb_key, "XB", t0()).await.unwrap();
    let s = f.submission_by(&xb_key, &xb, PRESERVATION, "XB-PRES", t0(), |_| {});
    let current = f.logged_authority(&xb.kid).await;
    let xb_case = case_id(&f.submit_as(s, current).await.unwrap());

    let before = (f.log_size().await, f.cases().await.len());
    let unknown = refused(
        try_follow_up(&f, "XA-A", "XA-NOSUCH", t0() + days(1)).await,
        422,
        "invalid-follows",
    );
    let foreign = refused(
        try_follow_up(&f, "XA-B", "XB-PRES", t0() + days(1)).await,
        422,
        "invalid-follows",
    );
    let not_pres = refused(
        try_follow_up(&f, "XA-C", "XA-NOTPRES", t0() + days(1)).await,
        422,
        "invalid-follows",
    );
    for p in [&unknown, &foreign, &not_pres] {
        assert_eq!(p.errors.len(), 1, "{p:?}");
        assert_eq!(p.errors[0].pointer, "$.follows");
    }
    assert!(unknown.detail.contains("you sent no request \"XA-NOSUCH\""));
    // Another authority's case reads exactly as an unknown one: no case number, no measure.
    assert_eq!(
        foreign.detail.replace("XB-PRES", "X"),
        unknown.detail.replace("XA-NOSUCH", "X")
    );
    assert!(!foreign.detail.contains(&format!("case {xb_case}")));
    assert!(
        not_pres.detail.contains("not a preservation"),
        "{not_pres:?}"
    );
    assert_eq!((f.log_size().await, f.cases().await.len()), before);

    // A request cannot follow itself (the parser says so before intake).
    let mut r: Value =
        serde_json::from_str(&f.submission(PRODUCTION, "XA-SELF", t0()).payload).unwrap();
    r["follows"] = "XA-SELF".into();
    let e = custos_model::parse_request(r.to_string().as_bytes()).unwrap_err();
    assert!(e.to_string().starts_with("$.follows: "), "{e}");
}

#[tokio::test]
async fn a_supplement_keeps_the_link_it_was_received_with() {
    let f = Fixture::new().await;
    preserved(&f).await;
    let follow = case_id(&try_follow_up(&f, "XA-PROD", "XA-PRES", t0()).await.unwrap());
    f.decide(
        follow,
        &rita(),
        decision(DecisionKind::RequestInformation),
        t0(),
    )
    .await
    .unwrap();
    let s = f.submission_with(PRODUCTION, "XA-PROD", t0() + secs(60), |r| {
        r["purpose"] = "Supplemented.".into();
    });
    let current = f.logged_authority(&f.authority.kid).await;
    let p = refused(f.submit_as(s, current).await, 422, "invalid-follows");
    assert_eq!(p.errors[0].pointer, "$.follows");
}

#[tokio::test]
async fn the_hold_is_kept_past_its_date_while_the_follow_up_is_pending_and_released_after() {
    let f = Fixture::new().await;
    let pres = preserved(&f).await;
    let ends = f.hold(pres).await.unwrap().expires_at;
    let follow = case_id(
        &try_follow_up(&f, "XA-PROD", "XA-PRES", t0() + days(1))
            .await
            .unwrap(),
    );
    f.tick(ends + secs(1)).await;
    f.tick(ends + days(5)).await;
    let hold = f.hold(pres).await.unwrap();
    assert_eq!((hold.expires_at, hold.released_at), (ends, None), "kept");
    let events = f.events().await;
    assert!(
        events_of(&events, "preservation.lapse_warned").is_empty(),
        "no warning while a follow-up keeps the hold"
    );
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);

    // The follow-up ends (withdrawn): the next pass releases the hold.
    f.withdraw(follow, "XA-PROD", ends + days(6)).await.unwrap();
    f.tick(ends + days(7)).await;
    assert_eq!(
        f.hold(pres).await.unwrap().released_at,
        Some(ends + days(7))
    );
    let released = events_of(
        &f.store.case_events(pres).await.unwrap(),
        "preservation.released",
    );
    assert_eq!(released, [json!({"expired_at": ends.to_string()})]);
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn a_follow_up_decided_but_not_delivered_still_keeps_the_hold() {
    let f = Fixture::new().await;
    let pres = preserved(&f).await;
    let ends = f.hold(pres).await.unwrap().expires_at;
    let follow = case_id(&try_follow_up(&f, "XA-PROD", "XA-PRES", t0()).await.unwrap());
    f.decide(
        follow,
        &rita(),
        decision(DecisionKind::Execute),
        t0() + days(1),
    )
    .await
    .unwrap();
    // Executing: the preserved data are still to be produced.
    f.tick(ends + secs(1)).await;
    assert_eq!(f.hold(pres).await.unwrap().released_at, None);
    f.advance(
        follow,
        &rita(),
        custos_store::CaseStatus::Delivered,
        ends + days(1),
    )
    .await
    .unwrap();
    f.tick(ends + days(2)).await;
    assert_eq!(
        f.hold(pres).await.unwrap().released_at,
        Some(ends + days(2))
    );
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn the_requester_is_warned_once_the_configured_days_before_a_hold_lapses() {
    let f = Fixture::with(|c| c.lifecycle.lapse_warning_days = 10).await;
    let pres = preserved(&f).await;
    let ends = f.hold(pres).await.unwrap().expires_at;
    f.tick(ends - days(10) - secs(1)).await;
    assert!(events_of(&f.events().await, "preservation.lapse_warned").is_empty());
    f.tick(ends - days(10)).await;
    f.tick(ends - days(9)).await;
    f.tick(ends - secs(1)).await;
    let warned = events_of(&f.events().await, "preservation.lapse_warned");
    assert_eq!(
        warned,
        [json!({"expires_at": ends.to_string(), "days_before": 10})],
        "exactly once"
    );
    let at = f
        .store
        .latest_case_event(pres, custos_model::EventType::PreservationLapseWarned)
        .await
        .unwrap()
        .unwrap()
        .at;
    assert_eq!(at, ends - days(10));
    f.tick(ends).await;
    assert!(f.hold(pres).await.unwrap().released_at.is_some());
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

fn renewal(until: Timestamp) -> ExtensionInput {
    ExtensionInput {
        kind: ExtensionKind::Preservation,
        until,
        reasons: "The request for production is being prepared by the prosecutor.".into(),
    }
}

#[tokio::test]
async fn a_renewal_granted_through_the_extension_model_moves_the_hold_and_warns_again() {
    let f = Fixture::new().await;
    let pres = preserved(&f).await;
    let ends = f.hold(pres).await.unwrap().expires_at;
    f.tick(ends - days(14)).await;
    let x = f
        .ask_extension(
            pres,
            &f.authority,
            renewal(ends + days(30)),
            ends - days(13),
        )
        .await
        .unwrap();
    assert_eq!(x.current_until, ends);
    // Preservation knows no secrecy cap: a year ahead may be asked.
    let later = f
        .ask_extension(
            pres,
            &f.authority,
            renewal(ends + days(400)),
            ends - days(13),
        )
        .await;
    refused(later, 409, "extension-pending");
    f.decide_extension(pres, x.extension_id, &rita(), grant(None), ends - days(12))
        .await
        .unwrap();
    let hold = f.hold(pres).await.unwrap();
    assert_eq!((hold.expires_at, hold.renewals), (ends + days(30), 1));
    let kinds = f.case_events(pres).await;
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["extension.granted", "preservation.renewed"]
    );
    let renewed = events_of(
        &f.store.case_events(pres).await.unwrap(),
        "preservation.renewed",
    );
    assert_eq!(renewed[0]["expires_at"], (ends + days(30)).to_string());
    assert_eq!(renewed[0]["by"], "rita");
    // Not released at the old date; warned again for the new one.
    f.tick(ends + secs(1)).await;
    assert_eq!(f.hold(pres).await.unwrap().released_at, None);
    f.tick(ends + days(16)).await;
    assert_eq!(
        events_of(&f.events().await, "preservation.lapse_warned").len(),
        2
    );
    // A refusal changes nothing.
    let y = f
        .ask_extension(
            pres,
            &f.authority,
            renewal(ends + days(60)),
            ends + days(17),
        )
        .await
        .unwrap();
    f.decide_extension(
        pres,
        y.extension_id,
        &rita(),
        refuse_extension(),
        ends + days(18),
    )
    .await
    .unwrap();
    assert_eq!(f.hold(pres).await.unwrap().expires_at, ends + days(30));
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn a_renewal_needs_a_hold_in_force() {
    let f = Fixture::new().await;
    let prod = f
        .decided(PRODUCTION, "XA-PROD", DecisionKind::Execute, t0())
        .await;
    let r = f
        .ask_extension(prod, &f.authority, renewal(t0() + days(100)), t0())
        .await;
    refused(r, 409, "no-hold");
}

#[tokio::test]
async fn the_replay_flags_a_hold_kept_past_its_date_without_a_follow_up() {
    let f = Fixture::new().await;
    let pres = preserved(&f).await;
    let ends = f.hold(pres).await.unwrap().expires_at;
    // A second hold, ending later, is warned of while the first is past its date and not
    // released: a pass that skipped a release.
    let later = f
        .decided(
            PRESERVATION,
            "XA-PRES-2",
            DecisionKind::Execute,
            t0() + days(20),
        )
        .await;
    assert!(f.hold(later).await.unwrap().expires_at > ends + days(7));
    f.try_batch(move |b, out| {
        Box::pin(async move { ops::follow_up::warn_lapses(b, out, 14, ends + days(7)).await })
    })
    .await
    .unwrap();
    let findings = f.findings().await;
    assert!(
        findings.iter().any(|x| x.contains(&format!(
            "the hold of case {pres} ended on {ends} but the scheduler kept it without a pending follow-up"
        ))),
        "{findings:#?}"
    );
}

// Through the API, in process: what staff and the requester read of the link.

async fn get(node: &Arc<Node>, path: &str, auth: &str) -> (StatusCode, Value) {
    use tower_service::Service as _;
    let mut app = custos_service::http::router(node.clone());
    let req = Request::get(path)
        .header(header::AUTHORIZATION, auth)
        .body(Body::empty())
        .unwrap();
    let resp = app.call(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn proof(key: &PrivateJwk, path: &str) -> String {
    let claims = json!({"htm": "GET", "htu": path, "iat": jiff::Timestamp::now().as_second()});
    format!(
        "Custos-JWS {}",
        sign_compact(&serde_json::to_vec(&claims).unwrap(), key, None)
    )
}

#[tokio::test]
async fn the_reply_and_the_record_show_the_link_the_hold_and_its_warning() {
    let f = Fixture::new().await;
    let pres = preserved(&f).await;
    let ends = f.hold(pres).await.unwrap().expires_at;
    f.tick(ends - days(14)).await;
    let follow = case_id(
        &try_follow_up(&f, "XA-PROD", "XA-PRES", ends - days(13))
            .await
            .unwrap(),
    );
    let (token, hash) = custos_service::auth::new_token("nora").unwrap();
    let nora = custos_store::User {
        token_hash: hash,
        ..user("nora", custos_store::Role::Reviewer)
    };
    f.add_user(nora).await.unwrap();
    let token = format!("Bearer {}", token.as_str());
    let node = f.node().await.unwrap();

    let path = format!("/v1/requests/{pres}");
    let (status, reply) = get(&node, &path, &proof(&authority_key(), &path)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["preservation"]["until"], ends.to_string());
    assert_eq!(
        reply["preservation"]["lapse_warned_at"],
        (ends - days(14)).to_string()
    );
    assert_eq!(reply["preservation"]["kept_for"][0]["case"], follow);
    assert_eq!(
        reply["followed_by"],
        json!([{"case": follow, "request_id": "XA-PROD", "status": "under_review"}])
    );
    let path = format!("/v1/requests/{follow}");
    let (_, reply) = get(&node, &path, &proof(&authority_key(), &path)).await;
    assert_eq!(reply["follows"]["case"], pres);
    assert_eq!(reply["follows"]["request_id"], "XA-PRES");

    let (_, record) = get(&node, &format!("/v1/requests/{pres}"), &token).await;
    assert_eq!(record["followed_by"][0]["case"], follow);
    let (_, record) = get(&node, &format!("/v1/requests/{follow}"), &token).await;
    assert_eq!(record["follows"]["case"], pres);
    assert_eq!(record["follows"]["status"], "executing");
}

#[tokio::test]
async fn the_replay_flags_a_hold_released_while_its_follow_up_was_pending() {
    let f = Fixture::new().await;
    let pres = preserved(&f).await;
    let ends = f.hold(pres).await.unwrap().expires_at;
    let follow = case_id(&try_follow_up(&f, "XA-PROD", "XA-PRES", t0()).await.unwrap());
    let rules = f.rules.clone();
    // A pass that saw the follow-up as ended (its row altered, then put back): the log says
    // the hold was released while the follow-up was pending.
    f.try_batch(move |b, out| {
        Box::pin(async move {
            let real: ops::Case = b.case(follow).await?.unwrap();
            let ended = ops::Case {
                status: custos_store::CaseStatus::Refused,
                ..real.clone()
            };
            b.put_case(&ended).await?;
            ops::tick(b, out, &rules, ends + secs(1)).await?;
            b.put_case(&real).await?;
            Ok(())
        })
    })
    .await
    .unwrap();
    assert!(f.hold(pres).await.unwrap().released_at.is_some());
    let findings = f.findings().await;
    assert!(
        findings.iter().any(|x| x.contains(&format!(
            "the hold of case {pres} was released while its follow-up, case {follow}, was pending"
        ))),
        "{findings:#?}"
    );
}
