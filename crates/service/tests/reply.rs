//! What the requesting authority is told (issue 12 §2): each decision logs `reply.communicated`
//! in its own job, the replay checks it against the decision recorded, and the API serves the
//! authority its reply (`custos.reply/v1`) where people read the whole record.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custos_jose::{PrivateJwk, sign_compact};
use custos_model::{DataCategories, DataCategory};
use custos_safeguards::{Assessor, Jurisdiction, Profile};
use custos_service::Node;
use custos_service::ops::{DecisionInput, DecisionKind, NarrowedTerms};
use custos_service::replay::{Projections, Signatures};
use custos_store::{CaseStatus, StoredEvent};
use serde_json::{Value, json};

use crate::fixture::*;

/// The `reply.communicated` events of a case, in order.
async fn replies(f: &Fixture, case: i64) -> Vec<StoredEvent> {
    f.store
        .case_events(case)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "reply.communicated")
        .collect()
}

/// Every string in `v`, keys and values, however deep.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                out.push(k.clone());
                strings(x, out);
            }
        }
        _ => {}
    }
}

/// Every rule code of both built-in profiles.
fn rule_codes() -> Vec<String> {
    let mut codes: Vec<String> = custos_safeguards::BUILTIN_PROFILES
        .iter()
        .flat_map(|p| {
            Profile::builtin(p)
                .unwrap()
                .rules()
                .into_iter()
                .map(|r| r.code.clone())
                .collect::<Vec<_>>()
        })
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

/// Asserts that nothing in `v` is internal: no forbidden key, no rule code, no user's name, no
/// internal note.
#[track_caller]
fn nothing_internal(v: &Value, note: &str) {
    let mut all = Vec::new();
    strings(v, &mut all);
    for key in [
        "assessment",
        "findings",
        "grounds",
        "reviewer",
        "confirmed_by",
        "internal_note",
        "outcome",
        "profile",
    ] {
        assert!(!all.iter().any(|s| s == key), "{key} in {v}");
    }
    for code in rule_codes() {
        assert!(!all.iter().any(|s| s.contains(&code)), "{code} in {v}");
    }
    let words: Vec<String> = all
        .iter()
        .flat_map(|s| s.split(|c: char| !c.is_alphanumeric()))
        .map(str::to_lowercase)
        .collect();
    for name in ["rita", "rex", "sue", "sam", "aud"] {
        assert!(!words.iter().any(|w| w == name), "{name} in {v}");
    }
    assert!(!all.iter().any(|s| s.contains(note)), "the note in {v}");
}

const NOTE: &str = "Between us: the assurance looked thin, but the desk head agreed.";

#[tokio::test]
async fn a_decision_logs_what_the_requester_is_told_and_nothing_internal() {
    let f = Fixture::new().await;
    let case = f.submit("p13-subscriber-plus-traffic", "XA-1", t0()).await;
    let proposal = assessment(&f.case(case).await)
        .narrowed
        .expect("a proposal");
    let terms = NarrowedTerms {
        data_categories: DataCategories::of(&[DataCategory::Subscriber]),
        period: proposal.period,
        confidentiality_until: proposal.confidentiality_until,
        targets: None,
        target_reasons: Default::default(),
    };
    let grounds: Vec<String> = assessment(&f.case(case).await)
        .findings
        .iter()
        .map(|x| x.code.clone())
        .collect();
    let input = DecisionInput {
        internal_note: Some(format!("  {NOTE}  ")),
        conditions: vec![" Use only in the investigation named. ".into()],
        grounds: grounds.clone(),
        ..narrowed_decision(terms.clone())
    };
    let c = f.decide(case, &rita(), input, t0()).await.unwrap();
    // Staff keep everything: the note (trimmed), the grounds, the reviewer.
    let d = recorded(&c);
    assert_eq!(d.internal_note.as_deref(), Some(NOTE));
    assert_eq!(
        d.conditions,
        [custos_service::ops::Condition::FreeText {
            text: "Use only in the investigation named.".into()
        }]
    );
    assert_eq!((d.reviewer.as_str(), d.grounds.clone()), ("rita", grounds));
    // The requester is told the decision, the reason, what is handed over and the conditions.
    let told = replies(&f, case).await;
    assert_eq!(told.len(), 1);
    let b = body(&told[0]);
    assert_eq!(b["status"], "executing");
    assert_eq!(
        b["communicated"],
        json!({
            "decision": "execute_narrowed",
            "reason": d.reason,
            "handed_over": serde_json::to_value(&terms).unwrap(),
            "conditions": [{"kind": "free_text", "text": "Use only in the investigation named."}],
            "at": t0().to_string(),
        })
    );
    nothing_internal(&b["communicated"], NOTE);
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn a_proposal_tells_nothing_until_a_second_reviewer_confirms_it() {
    let f = Fixture::new().await;
    let case = f
        .decided("p12-death-penalty", "XA-1", DecisionKind::Execute, t0())
        .await;
    assert_eq!(f.case(case).await.status, CaseStatus::AwaitingSecondReview);
    assert!(replies(&f, case).await.is_empty(), "nothing is told yet");
    f.second_review(case, &sue(), confirm(false), t0())
        .await
        .unwrap();
    assert!(
        replies(&f, case).await.is_empty(),
        "a rejection tells nothing"
    );
    f.decide(case, &rita(), decision(DecisionKind::Execute), t0())
        .await
        .unwrap();
    let at = t0() + days(1);
    f.second_review(case, &sam(), confirm(true), at)
        .await
        .unwrap();
    let told = replies(&f, case).await;
    assert_eq!(told.len(), 1);
    let b = body(&told[0]);
    assert_eq!(
        (&b["status"], &b["communicated"]["decision"]),
        (&json!("executing"), &json!("execute"))
    );
    assert_eq!(
        b["communicated"]["at"],
        at.to_string(),
        "told when confirmed"
    );
    nothing_internal(&b, NOTE);
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);
}

#[tokio::test]
async fn conditions_belong_to_an_execution_and_a_blank_note_is_no_note() {
    let f = Fixture::new().await;
    let case = f.submit("p04-defamation-2y", "XA-1", t0()).await;
    let size = f.log_size().await;
    let p = refused(
        f.decide(
            case,
            &rita(),
            DecisionInput {
                conditions: vec!["Only for this case.".into()],
                ..decision(DecisionKind::Refuse)
            },
            t0(),
        )
        .await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors[0].pointer, "$.conditions");
    let case2 = f.submit("p01-ransomware-production", "XA-2", t0()).await;
    let p = refused(
        f.decide(
            case2,
            &rita(),
            DecisionInput {
                conditions: vec!["Fine.".into(), "  ".into()],
                ..decision(DecisionKind::Execute)
            },
            t0(),
        )
        .await,
        422,
        "invalid-decision",
    );
    assert_eq!(p.errors[0].pointer, "$.conditions[1]");
    assert_eq!(f.log_size().await, size + 2, "only the second submission");
    let c = f
        .decide(
            case,
            &rita(),
            DecisionInput {
                internal_note: Some(" \n ".into()),
                ..decision(DecisionKind::Refuse)
            },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(recorded(&c).internal_note, None);
    let logged = f.store.case_events(case).await.unwrap();
    let recorded_event = logged
        .iter()
        .find(|e| e.event_type == "decision.recorded")
        .unwrap();
    assert!(
        body(recorded_event)["decision"]
            .get("internal_note")
            .is_none()
    );
}

#[tokio::test]
async fn the_replay_finds_a_reply_that_differs_from_the_decision_or_is_missing() {
    let f = Fixture::new().await;
    let case = f
        .decided("p04-defamation-2y", "XA-1", DecisionKind::Refuse, t0())
        .await;
    let events = f.events().await;
    let at = events
        .iter()
        .position(|e| e.event_type == "reply.communicated")
        .unwrap();
    assert!(f.findings().await.is_empty(), "{:#?}", f.findings().await);

    // The reply says something else than the decision recorded.
    let mut edited = events.clone();
    let mut b = body(&edited[at]);
    b["communicated"]["reason"] = "We would have liked to help.".into();
    b["status"] = "executing".into();
    edited[at].body = b.to_string();
    let p = Projections::replay(&edited, Signatures::Decode);
    let found: Vec<String> = p.findings.iter().map(ToString::to_string).collect();
    assert!(
        found.iter().any(|x| x.starts_with("reply: ")
            && x.contains(&format!("case {case}"))
            && x.contains("differs from what event")
            && x.contains("reason")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|x| x.contains("tells the requester executing where the case was refused")),
        "{found:#?}"
    );

    // The reply was never logged.
    let mut without = events.clone();
    without.remove(at);
    let p = Projections::replay(&without, Signatures::Decode);
    assert!(
        p.findings.iter().any(|x| x
            .to_string()
            .contains("was never communicated to the requester")),
        "{:#?}",
        p.findings
    );
}

// Through the API, in process: the router of a node opened on the fixture's directory.

pub(crate) async fn get(node: &Arc<Node>, path: &str, auth: &str) -> (StatusCode, Value) {
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

/// `Authorization: Custos-JWS …` for a read of `path` by the holder of `key`.
pub(crate) fn proof(key: &PrivateJwk, path: &str) -> String {
    let claims = json!({"htm": "GET", "htu": path, "iat": jiff::Timestamp::now().as_second()});
    format!(
        "Custos-JWS {}",
        sign_compact(&serde_json::to_vec(&claims).unwrap(), key, None)
    )
}

#[tokio::test]
async fn the_authority_reads_its_reply_where_people_read_the_record() {
    let mut f = Fixture::new().await;
    // XA is under heightened scrutiny here: a jurisdiction flag the requester must not learn.
    f.assessor = std::sync::Arc::new(Assessor::new(
        Profile::builtin("rights-first").unwrap(),
        Jurisdiction::from_toml(r#"heightened_scrutiny_states = ["XA"]"#).unwrap(),
    ));
    let secret = f.submission_with("p01-ransomware-production", "XA-GAG", t0(), |r| {
        r["confidentiality"] = json!({"requested": true, "until": (t0() + days(60)).to_string(),
            "justification": "Disclosure would alert the suspects before the arrests."});
    });
    let current = f.logged_authority(&f.authority.kid).await;
    let gag = case_id(&f.submit_as(secret, current).await.unwrap());
    assert!(
        assessment(&f.case(gag).await)
            .findings
            .iter()
            .any(|x| x.code == "heightened-scrutiny")
    );
    // Executing over the referral takes a reason for the referred finding (staff only too).
    let input = DecisionInput {
        internal_note: Some(NOTE.into()),
        finding_reasons: [(
            "heightened-scrutiny".to_owned(),
            "The facts stand on their own.".to_owned(),
        )]
        .into(),
        ..decision(DecisionKind::Execute)
    };
    f.decide(gag, &sue(), input, t0()).await.unwrap();
    let held = f.submit("p02-preservation-24-7", "XA-HOLD", t0()).await;
    let input = DecisionInput {
        finding_reasons: [(
            "heightened-scrutiny".to_owned(),
            "A preservation hands nothing over.".to_owned(),
        )]
        .into(),
        ..decision(DecisionKind::Execute)
    };
    f.decide(held, &rita(), input, t0()).await.unwrap();
    let open = f.submit("p04-defamation-2y", "XA-OPEN", t0()).await;
    let other = other_authority_key();
    f.add_authority(&other, "XB", t0()).await.unwrap();
    let node = f.node().await.unwrap();

    let path = format!("/v1/requests/{gag}");
    let (status, reply) = get(&node, &path, &proof(&authority_key(), &path)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["format"], "custos.reply/v1");
    assert_eq!(
        (&reply["case"], &reply["request_id"], &reply["status"]),
        (&json!(gag), &json!("XA-GAG"), &json!("executing"))
    );
    assert_eq!(reply["decision"]["decision"], "execute");
    assert_eq!(
        reply["decision"]["reason"],
        "The reviewer weighed every finding of the assessment."
    );
    let notice = f.notice(gag).await.expect("a notice is owed");
    assert_eq!(
        reply["deadlines"]["confidential_until"],
        notice.due_at.to_string(),
        "secrecy as granted: until the person is told"
    );
    assert_eq!(reply["deadlines"]["preserved_until"], Value::Null);
    nothing_internal(&reply, NOTE);

    // A preservation in force says until when.
    let path = format!("/v1/requests/{held}");
    let (_, reply) = get(&node, &path, &proof(&authority_key(), &path)).await;
    assert_eq!(
        reply["deadlines"]["preserved_until"],
        f.hold(held).await.unwrap().expires_at.to_string()
    );
    // Undecided: under review, no decision.
    let path = format!("/v1/requests/{open}");
    let (_, reply) = get(&node, &path, &proof(&authority_key(), &path)).await;
    assert_eq!(
        (&reply["status"], &reply["decision"]),
        (&json!("under_review"), &Value::Null)
    );

    // The list: the authority's replies, none internal; it cannot filter by outcome or status.
    let (status, list) = get(
        &node,
        "/v1/requests",
        &proof(&authority_key(), "/v1/requests"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|r| r["format"] == "custos.reply/v1")
    );
    nothing_internal(&list, NOTE);
    for q in ["?outcome=refuse", "?status=awaiting_second_review"] {
        let path = format!("/v1/requests{q}");
        let (status, p) = get(&node, &path, &proof(&authority_key(), "/v1/requests")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{q}: {p}");
        assert!(p["type"].as_str().unwrap().ends_with("/people-only"), "{p}");
    }
    // Its timeline: what concerns it, no deliberation.
    let path = format!("/v1/requests/{gag}/events");
    let (_, t) = get(&node, &path, &proof(&authority_key(), &path)).await;
    let types: Vec<&str> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["request.received", "reply.communicated"]);

    // Another authority: not even that the case exists.
    let path = format!("/v1/requests/{gag}");
    let (status, _) = get(&node, &path, &proof(&other, &path)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, theirs) = get(&node, "/v1/requests", &proof(&other, "/v1/requests")).await;
    assert_eq!(theirs, json!([]));
}
