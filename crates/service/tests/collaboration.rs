//! The desk's own work (issue 16): assignment (take, release, takeover) and internal notes.
//! The rules in-process with the injected clock; the replay rebuilding who has each case; what
//! the requester and the public never read; and `If-Match` over HTTP.

use axum::http::StatusCode;
use custos_jose::sign_compact;
use custos_model::EventType;
use custos_service::Problem;
use custos_service::ops::{self, AssignmentAction, AssignmentInput, Case, DecisionKind, NoteInput};
use custos_store::{CaseStatus, Role, User};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::fixture::*;
use crate::versions::{call, etag};

const NOTE: &str = "Spoke to the liaison officer: the order follows on Monday.";

async fn assign(
    f: &Fixture,
    case_id: i64,
    who: &User,
    action: AssignmentAction,
    at: Timestamp,
) -> Result<Case, Problem> {
    let who = who.clone();
    let input = AssignmentInput { action };
    f.try_batch(move |b, out| {
        Box::pin(async move { ops::assign(b, out, case_id, &who, &input, at).await })
    })
    .await
}

async fn note(
    f: &Fixture,
    case_id: i64,
    who: &User,
    text: &str,
    at: Timestamp,
) -> Result<ops::Note, Problem> {
    let who = who.clone();
    let input = NoteInput { text: text.into() };
    f.try_batch(move |b, out| {
        Box::pin(async move { ops::add_note(b, out, case_id, &who, &input, at).await })
    })
    .await
}

/// The bodies of a case's events of `kind`, in order.
async fn bodies(f: &Fixture, case: i64, kind: EventType) -> Vec<Value> {
    f.store
        .case_events(case)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind() == Some(kind))
        .map(body)
        .collect()
}

#[tokio::test]
async fn take_release_and_takeover_are_logged_and_the_replay_rebuilds_who_has_the_case() {
    use AssignmentAction::{Release, Take};
    let f = Fixture::new().await;
    let case = f
        .submit("p01-ransomware-production", "XA-DESK-1", t0())
        .await;
    assert_eq!(f.case(case).await.assignee, None);

    let c = assign(&f, case, &rita(), Take, t0() + secs(1))
        .await
        .unwrap();
    assert_eq!(c.assignee.as_deref(), Some("rita"));
    assert_eq!(f.case(case).await.assignee.as_deref(), Some("rita"));
    // A second click is not an event.
    let size = f.log_size().await;
    assign(&f, case, &rita(), Take, t0() + secs(2))
        .await
        .unwrap();
    assert_eq!(f.log_size().await, size);
    // Rex takes it over: recorded, naming whom from.
    let c = assign(&f, case, &rex(), Take, t0() + secs(3))
        .await
        .unwrap();
    assert_eq!(c.assignee.as_deref(), Some("rex"));
    let taken = bodies(&f, case, EventType::CaseAssigned).await;
    assert_eq!(taken.len(), 2);
    assert_eq!(
        (&taken[0]["by"], &taken[0]["from"]),
        (&json!("rita"), &json!(null))
    );
    assert_eq!(
        (&taken[1]["by"], &taken[1]["from"]),
        (&json!("rex"), &json!("rita"))
    );
    // Rita, a reviewer, cannot release Rex's case; an auditor can neither take nor release.
    let p = refused(
        assign(&f, case, &rita(), Release, t0() + secs(4)).await,
        403,
        "not-yours",
    );
    assert!(p.detail.contains("rex"), "{}", p.detail);
    refused(
        assign(&f, case, &aud(), Take, t0() + secs(4)).await,
        403,
        "read-only",
    );
    refused(
        assign(&f, case, &aud(), Release, t0() + secs(4)).await,
        403,
        "read-only",
    );
    // A supervisor releases it; then there is nothing to release.
    let c = assign(&f, case, &sue(), Release, t0() + secs(5))
        .await
        .unwrap();
    assert_eq!(c.assignee, None);
    let released = bodies(&f, case, EventType::CaseUnassigned).await;
    assert_eq!(
        (&released[0]["by"], &released[0]["from"]),
        (&json!("sue"), &json!("rex"))
    );
    refused(
        assign(&f, case, &rex(), Release, t0() + secs(6)).await,
        409,
        "not-assigned",
    );
    // The holder releases their own; a closed case is not taken.
    assign(&f, case, &rex(), Take, t0() + secs(7))
        .await
        .unwrap();
    assign(&f, case, &rex(), Release, t0() + secs(8))
        .await
        .unwrap();
    assign(&f, case, &rita(), Take, t0() + secs(9))
        .await
        .unwrap();
    f.decide(
        case,
        &rita(),
        decision(DecisionKind::Refuse),
        t0() + secs(10),
    )
    .await
    .unwrap();
    f.advance(case, &rita(), CaseStatus::Closed, t0() + secs(11))
        .await
        .unwrap();
    refused(
        assign(&f, case, &rex(), Take, t0() + secs(12)).await,
        409,
        "case-closed",
    );
    assert_eq!(f.case(case).await.assignee.as_deref(), Some("rita"));

    // The replay agrees with the table, and names an edited assignee.
    assert_eq!(f.findings().await, Vec::<String>::new());
    f.try_batch(move |b, _| {
        Box::pin(async move {
            let mut c: ops::Case = b.case(case).await?.unwrap();
            c.assignee = Some("rex".into());
            b.put_case(&c).await?;
            Ok(())
        })
    })
    .await
    .unwrap();
    let findings = f.findings().await;
    assert!(
        findings.iter().any(|x| x.contains("assignee")),
        "{findings:?}"
    );
}

#[tokio::test]
async fn notes_are_checked_kept_in_order_and_written_by_staff_only() {
    let f = Fixture::new().await;
    let case = f
        .submit("p01-ransomware-production", "XA-DESK-2", t0())
        .await;
    let p = refused(
        note(&f, case, &rita(), " \n\t", t0()).await,
        422,
        "invalid-note",
    );
    assert_eq!(p.errors[0].pointer, "$.text");
    assert!(p.detail.contains("empty"), "{}", p.detail);
    let long = "x".repeat(ops::MAX_NOTE_CHARS + 1);
    let p = refused(
        note(&f, case, &rita(), &long, t0()).await,
        422,
        "invalid-note",
    );
    assert!(p.detail.contains("4000"), "{}", p.detail);
    refused(note(&f, case, &aud(), NOTE, t0()).await, 403, "read-only");
    refused(note(&f, 999, &rita(), NOTE, t0()).await, 404, "not-found");

    let first = note(&f, case, &rita(), &format!("  {NOTE}\n"), t0() + secs(1))
        .await
        .unwrap();
    assert_eq!(first.text, NOTE, "trimmed");
    note(&f, case, &sue(), "Agreed.", t0() + secs(2))
        .await
        .unwrap();
    let node = f.node().await.unwrap();
    let notes = node.query().notes(case).await.unwrap();
    let seen: Vec<(&str, &str, Timestamp)> = notes
        .iter()
        .map(|n| (n.by.as_str(), n.text.as_str(), n.at))
        .collect();
    assert_eq!(
        seen,
        [
            ("rita", NOTE, t0() + secs(1)),
            ("sue", "Agreed.", t0() + secs(2))
        ]
    );
    assert_eq!(notes[0].log_index, first.log_index);
    assert_eq!(f.findings().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_public_record_of_a_closed_case_carries_no_note_and_no_assignment() {
    let f = Fixture::new().await;
    let case = f
        .submit("p01-ransomware-production", "XA-DESK-3", t0())
        .await;
    assign(&f, case, &rita(), AssignmentAction::Take, t0() + secs(1))
        .await
        .unwrap();
    note(&f, case, &rita(), NOTE, t0() + secs(2)).await.unwrap();
    f.decide(
        case,
        &rita(),
        decision(DecisionKind::Execute),
        t0() + secs(3),
    )
    .await
    .unwrap();
    f.advance(case, &rita(), CaseStatus::Delivered, t0() + secs(4))
        .await
        .unwrap();
    f.advance(case, &rita(), CaseStatus::Closed, t0() + secs(5))
        .await
        .unwrap();
    f.tick(t0() + secs(10)).await;
    let published = bodies(&f, case, EventType::CasePublished).await;
    assert_eq!(published.len(), 1, "published");
    let record = published[0]["record"].to_string();
    for hidden in [NOTE, "rita", "note.added", "case.assigned"] {
        assert!(!record.contains(hidden), "{hidden} in {record}");
    }
    assert!(record.contains("request.closed"), "{record}");
    assert_eq!(f.findings().await, Vec::<String>::new());
}

/// A user with an API token, added to the fixture; answers the `Authorization` header.
async fn with_token(f: &Fixture, name: &str, role: Role) -> String {
    let (token, hash) = custos_service::auth::new_token(name).unwrap();
    f.add_user(User {
        token_hash: hash,
        ..user(name, role)
    })
    .await
    .unwrap();
    format!("Bearer {}", token.as_str())
}

#[tokio::test]
async fn over_http_staff_take_and_note_with_if_match_and_the_requester_sees_neither() {
    let f = Fixture::new().await;
    let case = f
        .submit("p01-ransomware-production", "XA-DESK-4", t0())
        .await;
    let nora = with_token(&f, "nora", Role::Reviewer).await;
    let audrey = with_token(&f, "audrey", Role::Auditor).await;
    let node = f.node().await.unwrap();
    let path = format!("/v1/requests/{case}");
    let (_, headers, _) = call(&node, "GET", &path, &nora, None, None).await;
    let read = etag(&headers, case);

    let take = json!({"action": "take"});
    let (status, headers, c) = call(
        &node,
        "POST",
        &format!("{path}/assignment"),
        &nora,
        Some(&read),
        Some(take.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["assignee"], "nora");
    let taken = etag(&headers, case);
    // On the version read before the take: 412 for a note and for a release, even a bad one.
    for (to, body) in [
        ("notes", json!({"text": NOTE})),
        ("notes", json!({"text": " "})),
        ("assignment", json!({"action": "release"})),
        ("assignment", json!({"action": "steal"})),
    ] {
        let (status, _, p) = call(
            &node,
            "POST",
            &format!("{path}/{to}"),
            &nora,
            Some(&read),
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{to}: {p}");
        assert_eq!(p["changed"]["event"], "case.assigned", "{p}");
        assert_eq!(p["changed"]["by"], "nora", "{p}");
    }
    let (status, _, n) = call(
        &node,
        "POST",
        &format!("{path}/notes"),
        &nora,
        Some(&taken),
        Some(json!({"text": NOTE})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{n}");
    assert_eq!((&n["by"], &n["text"]), (&json!("nora"), &json!(NOTE)));
    // The auditor reads notes, writes none; the list filters by who has the case.
    let (status, _, notes) =
        call(&node, "GET", &format!("{path}/notes"), &audrey, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(notes["notes"][0]["text"], NOTE);
    let (status, _, p) = call(
        &node,
        "POST",
        &format!("{path}/notes"),
        &audrey,
        None,
        Some(json!({"text": "x"})),
    )
    .await;
    assert_eq!(
        (status, &p["type"]),
        (
            StatusCode::FORBIDDEN,
            &json!("https://custos.dev/problems/read-only")
        )
    );
    let (_, _, mine) = call(&node, "GET", "/v1/requests?assignee=me", &nora, None, None).await;
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["assignee"], "nora");
    let (_, _, none) = call(
        &node,
        "GET",
        "/v1/requests?assignee=none",
        &nora,
        None,
        None,
    )
    .await;
    assert_eq!(none.as_array().unwrap().len(), 0, "{none}");

    // The requesting authority: its reply and timeline name no one and carry no note; the
    // desk's endpoints and filter are refused.
    let proof = |method: &str, htu: &str| {
        let claims = json!({"htm": method, "htu": htu, "iat": Timestamp::now().as_second()});
        format!(
            "Custos-JWS {}",
            sign_compact(
                &serde_json::to_vec(&claims).unwrap(),
                &authority_key(),
                None
            )
        )
    };
    for read in [path.clone(), format!("{path}/events")] {
        let (status, _, reply) = call(&node, "GET", &read, &proof("GET", &read), None, None).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        let text = reply.to_string();
        for hidden in ["nora", NOTE, "assignee", "note.added", "case.assigned"] {
            assert!(!text.contains(hidden), "{read}: {hidden} in {text}");
        }
    }
    let notes_path = format!("{path}/notes");
    let (status, _, _) = call(
        &node,
        "GET",
        &notes_path,
        &proof("GET", &notes_path),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = call(
        &node,
        "GET",
        "/v1/requests?assignee=me",
        &proof("GET", "/v1/requests"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
