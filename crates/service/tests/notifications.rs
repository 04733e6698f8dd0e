//! Notifications to staff (issue 16): each occasion told once through the command or the
//! webhook, in log order, a failure retried by its backoff without doubling, a restart
//! resuming from the stored cursor, and nothing of the request in what is sent. The clock is
//! the scheduler pass's; nothing sleeps.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use custos_service::config::CONFIG_FILE;
use custos_service::ops::DecisionKind;
use jiff::SignedDuration;
use serde_json::Value;

use crate::fixture::*;

const LOG: &str = "notifications.jsonl";

fn hours(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n)
}

/// A node whose notification command appends what it reads to `notifications.jsonl`, and
/// fails (exit 3) while a file `hold` exists in the node directory.
async fn with_command() -> Fixture {
    Fixture::with(|c| {
        c.notifications.command = Some(format!("test -e hold && exit 3; cat >> {LOG}"));
        c.notifications.console_url = Some("https://custos.example.org/".into());
    })
    .await
}

/// What the command was given, one JSON document a line.
fn told(f: &Fixture) -> Vec<Value> {
    std::fs::read_to_string(f.dir.join(LOG))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn occasions(list: &[Value]) -> Vec<(String, i64)> {
    list.iter()
        .map(|n| {
            (
                n["occasion"].as_str().unwrap().to_owned(),
                n["case"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// XA's justified emergency p07 as `id`, confirmed and executed at `t0() + 1 h` (its order is
/// then due at `t0() + 49 h`).
async fn executed_emergency(f: &Fixture, id: &str) -> i64 {
    let case = f.submit("p07-emergency-kidnapping", id, t0()).await;
    f.confirm_emergency(case, t0()).await.unwrap();
    f.decide(
        case,
        &rita(),
        decision(DecisionKind::Execute),
        t0() + hours(1),
    )
    .await
    .unwrap();
    case
}

#[tokio::test]
async fn each_occasion_is_told_once_in_log_order_with_nothing_of_the_request() {
    let f = with_command().await;
    let node = f.node().await.unwrap();
    let emergency = executed_emergency(&f, "XA-E").await;
    // An ordinary arrival and the decisions in force ask for no one's attention.
    let plain = f.submit("p01-ransomware-production", "XA-1", t0()).await;
    f.decide(plain, &rita(), decision(DecisionKind::Execute), t0())
        .await
        .unwrap();
    let second = f.submit("p12-death-penalty", "XA-P", t0()).await;
    f.decide(second, &rita(), decision(DecisionKind::Execute), t0())
        .await
        .unwrap();
    // A correction that would lighten the recommendation waits for a second reviewer too.
    let corrected = f.submit("p12-death-penalty", "XA-R", t0()).await;
    f.reclassify(
        corrected,
        &rita(),
        correction(&[(0, serde_json::json!({"max_penalty": 20}))]),
        t0(),
    )
    .await
    .unwrap();
    let asked = f.submit("p17-no-data-protection-terms", "XA-S", t0()).await;
    f.decide(
        asked,
        &rita(),
        decision(DecisionKind::RequestInformation),
        t0(),
    )
    .await
    .unwrap();
    f.try_submit("p01-ransomware-production", "XA-S", t0() + hours(2))
        .await
        .unwrap();
    let consulted = f.submit("p01-ransomware-production", "XA-C", t0()).await;
    f.consult(consulted, &rita(), "Which account?", t0() + hours(48), t0())
        .await
        .unwrap();
    f.answer(
        consulted,
        &authority_key(),
        &f.authority,
        "XA-C",
        "The first.",
        t0() + hours(3),
    )
    .await
    .unwrap();
    f.withdraw(consulted, "XA-C", t0() + hours(4))
        .await
        .unwrap();

    // The pass past the order's due time logs the miss, then tells of everything.
    node.scheduler_pass(t0() + hours(50)).await.unwrap();
    let list = told(&f);
    assert_eq!(
        occasions(&list),
        [
            ("emergency_received".to_owned(), emergency),
            ("second_review_waiting".to_owned(), second),
            ("second_review_waiting".to_owned(), corrected),
            ("supplement_received".to_owned(), asked),
            ("consultation_answered".to_owned(), consulted),
            ("request_withdrawn".to_owned(), consulted),
            ("order_missed".to_owned(), emergency),
        ]
    );
    // Where to look, and nothing else: no contents, no target, no person.
    let events = f.events().await;
    for n in &list {
        let mut keys: Vec<&str> = n.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["at", "case", "format", "link", "log_index", "occasion"]
        );
        assert_eq!(n["format"], "custos.notification/v1");
        let case = n["case"].as_i64().unwrap();
        assert_eq!(
            n["link"],
            format!("https://custos.example.org/console/requests/{case}")
        );
        let e = events
            .iter()
            .find(|e| e.seq == n["log_index"].as_u64().unwrap())
            .unwrap();
        assert_eq!(
            (e.case_id, e.at.to_string()),
            (Some(case), n["at"].as_str().unwrap().to_owned())
        );
    }
    let text = std::fs::read_to_string(f.dir.join(LOG)).unwrap();
    for secret in ["decryptor-support", "@", "XA-E", "Federal Police", "rita"] {
        assert!(!text.contains(secret), "{secret:?} in {text}");
    }
    // Told once: later passes add nothing.
    node.scheduler_pass(t0() + hours(51)).await.unwrap();
    node.scheduler_pass(t0() + hours(60)).await.unwrap();
    assert_eq!(told(&f).len(), 7);
}

#[tokio::test]
async fn a_failed_delivery_is_retried_by_its_backoff_and_nothing_later_overtakes_it() {
    let f = with_command().await;
    let node = f.node().await.unwrap();
    std::fs::write(f.dir.join("hold"), "").unwrap();
    let first = f.submit("p07-emergency-kidnapping", "XA-E1", t0()).await;
    let second = f.submit("p07-emergency-kidnapping", "XA-E2", t0()).await;
    let at = t0() + hours(1);
    node.scheduler_pass(at).await.unwrap();
    // Failed twice: the second try a minute after the first, the third five minutes on.
    node.scheduler_pass(at + secs(59)).await.unwrap();
    node.scheduler_pass(at + secs(60)).await.unwrap();
    let cursor = f
        .store
        .notification_cursor("command")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cursor.failures, 2);
    assert_eq!(cursor.retry_at, Some(at + secs(60 + 300)));
    assert!(told(&f).is_empty());
    std::fs::remove_file(f.dir.join("hold")).unwrap();
    node.scheduler_pass(at + secs(359)).await.unwrap();
    assert!(told(&f).is_empty(), "not retried early");
    node.scheduler_pass(at + secs(360)).await.unwrap();
    node.scheduler_pass(at + secs(361)).await.unwrap();
    assert_eq!(
        occasions(&told(&f)),
        [
            ("emergency_received".to_owned(), first),
            ("emergency_received".to_owned(), second),
        ],
        "each once, in log order"
    );
    let cursor = f
        .store
        .notification_cursor("command")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((cursor.failures, cursor.retry_at), (0, None));
}

#[tokio::test]
async fn a_restarted_node_resumes_from_its_cursor_and_a_new_channel_starts_at_the_end() {
    // Configured on a node with a history: the past is not told.
    let f = Fixture::new().await;
    let before = f.submit("p07-emergency-kidnapping", "XA-OLD", t0()).await;
    let mut config = f.config.clone();
    config.notifications.command = Some(format!("cat >> {LOG}"));
    std::fs::write(f.dir.join(CONFIG_FILE), config.to_toml().unwrap()).unwrap();
    let node = f.node().await.unwrap();
    node.scheduler_pass(t0() + hours(1)).await.unwrap();
    assert!(
        told(&f).is_empty(),
        "case {before} arrived before the channel was set"
    );
    let first = f.submit("p07-emergency-kidnapping", "XA-E1", t0()).await;
    node.scheduler_pass(t0() + hours(1)).await.unwrap();
    drop(node);
    // Logged while no node runs; a new process takes up from the cursor.
    let second = f.submit("p07-emergency-kidnapping", "XA-E2", t0()).await;
    let node = f.node().await.unwrap();
    node.scheduler_pass(t0() + hours(2)).await.unwrap();
    assert_eq!(
        occasions(&told(&f)),
        [
            ("emergency_received".to_owned(), first),
            ("emergency_received".to_owned(), second),
        ]
    );
    // Turned off, the channel forgets its place: set again, it does not send the interval.
    drop(node);
    std::fs::write(f.dir.join(CONFIG_FILE), f.config.to_toml().unwrap()).unwrap();
    drop(f.node().await.unwrap());
    assert_eq!(f.store.notification_cursor("command").await.unwrap(), None);
    f.submit("p07-emergency-kidnapping", "XA-OFF", t0()).await;
    std::fs::write(f.dir.join(CONFIG_FILE), config.to_toml().unwrap()).unwrap();
    let node = f.node().await.unwrap();
    node.scheduler_pass(t0() + hours(3)).await.unwrap();
    assert_eq!(told(&f).len(), 2, "nothing of the time it was off");
}

/// A webhook on 127.0.0.1 that answers each POST with the next of `answers` (then 200), and
/// keeps the bodies.
async fn webhook(answers: Vec<StatusCode>) -> (String, Arc<Mutex<Vec<Value>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(answers));
    let kept = bodies.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (kept, answers) = (kept.clone(), answers.clone());
            async move {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_slice::<Value>(&body).unwrap());
                let mut answers = answers.lock().unwrap();
                if answers.is_empty() {
                    StatusCode::OK
                } else {
                    answers.remove(0)
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, bodies)
}

#[tokio::test]
async fn the_webhook_is_posted_the_notification_and_retried_after_an_error() {
    let (url, bodies) = webhook(vec![StatusCode::SERVICE_UNAVAILABLE]).await;
    let f = Fixture::with(|c| c.notifications.webhook = Some(url)).await;
    let node = f.node().await.unwrap();
    let case = f.submit("p07-emergency-kidnapping", "XA-E", t0()).await;
    node.scheduler_pass(t0()).await.unwrap();
    node.scheduler_pass(t0() + secs(60)).await.unwrap();
    node.scheduler_pass(t0() + secs(120)).await.unwrap();
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(
        bodies.len(),
        2,
        "refused once, then delivered once: {bodies:?}"
    );
    assert_eq!(bodies[0], bodies[1], "the same notification again");
    assert_eq!(
        occasions(&bodies[..1]),
        [("emergency_received".to_owned(), case)]
    );
    assert_eq!(bodies[0]["link"], format!("/console/requests/{case}"));
}

#[tokio::test]
async fn a_webhook_the_build_cannot_reach_stops_the_node_at_start_saying_why() {
    let f =
        Fixture::with(|c| c.notifications.webhook = Some("https://hooks.example/x".into())).await;
    let e = f.node().await.unwrap_err();
    assert!(format!("{e:#}").contains("only http:// URLs"), "{e:#}");
}
