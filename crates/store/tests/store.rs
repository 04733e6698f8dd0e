//! The store against a real SQLite file and a real PostgreSQL server (each test runs on both):
//! log order, savepoints, several writers.

use custos_ledger::commitment::{PublicRecord, commit};
use custos_model::EventType;
use custos_store::testing::TestDatabase;
use custos_store::{Backend, NewEvent, Store};
use jiff::Timestamp;
use serde_json::json;

// Kinds used below only as labels: the store gives no event type a meaning.
const KEPT: EventType = EventType::NoticeSent;
const UNDONE: EventType = EventType::RequestClosed;
const LOST: EventType = EventType::RequestDelivered;

fn event(kind: EventType, n: u64) -> NewEvent {
    NewEvent {
        event_type: kind,
        at: Timestamp::from_second(1_790_000_000 + n as i64).expect("time"),
        case_id: None,
        body: json!({ "n": n }),
    }
}

/// Each test once per backend: `sqlite::name` and `postgres::name`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(custos_store::Backend::Sqlite).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(custos_store::Backend::Postgres).await
            })*
        }
    };
}

on_both!(
    events_get_consecutive_indexes_and_open_to_their_leaf,
    a_failed_job_leaves_no_trace_and_a_dropped_batch_nothing,
    events_appended_in_one_statement_are_stored_as_one_by_one,
    two_processes_appending_share_one_order,
);

async fn events_get_consecutive_indexes_and_open_to_their_leaf(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let mut b = store.begin().await.expect("begin");
    for n in 0..5 {
        let e = b
            .append(&event(EventType::RequestReceived, n))
            .await
            .expect("append");
        assert_eq!(e.seq, n);
        // The stored leaf is the public record of the body with its salt: an opening verifies.
        let body: serde_json::Value = serde_json::from_str(&e.body).expect("json");
        assert_eq!(body["seq"], n);
        assert_eq!(body["type"], "request.received");
        assert_eq!(e.kind(), Some(EventType::RequestReceived));
        let record = PublicRecord::new(
            "request.received",
            &e.at.strftime("%Y-%m-%d").to_string(),
            commit(&body, &e.salt).expect("commit"),
        )
        .expect("record");
        assert_eq!(record.leaf_bytes(), e.leaf);
    }
    b.commit().await.expect("commit");
    assert_eq!(store.log_size().await.expect("size"), 5);
    assert_eq!(store.leaves(1, 3).await.expect("leaves").len(), 2);
}

async fn events_appended_in_one_statement_are_stored_as_one_by_one(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let mut b = store.begin().await.expect("begin");
    b.append(&event(KEPT, 0)).await.expect("append");
    let events: Vec<NewEvent> = (1..4).map(|n| event(UNDONE, n)).collect();
    let stored = b.append_all(&events).await.expect("append_all");
    assert_eq!(b.append_all(&[]).await.expect("nothing").len(), 0);
    b.append(&event(KEPT, 4)).await.expect("append after");
    b.commit().await.expect("commit");
    assert_eq!(
        stored.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3],
        "the next indexes, in order"
    );
    let read = store.events(0, 10).await.expect("events");
    assert_eq!(
        read.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    for (e, r) in stored.iter().zip(&read[1..4]) {
        assert_eq!(
            (&e.body, &e.leaf, e.salt.as_bytes()),
            (&r.body, &r.leaf, r.salt.as_bytes())
        );
        // What was stored opens to its leaf, as for `append`.
        let body: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(body["seq"], r.seq);
        let record = PublicRecord::new(
            "request.closed",
            &r.at.strftime("%Y-%m-%d").to_string(),
            commit(&body, &r.salt).expect("commit"),
        )
        .expect("record");
        assert_eq!(record.leaf_bytes(), r.leaf);
    }
}

async fn a_failed_job_leaves_no_trace_and_a_dropped_batch_nothing(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let mut b = store.begin().await.expect("begin");
    b.savepoint().await.expect("savepoint");
    b.append(&event(KEPT, 0)).await.expect("append");
    b.release_job().await.expect("release");
    b.savepoint().await.expect("savepoint");
    b.append(&event(UNDONE, 1)).await.expect("append");
    b.rollback_job().await.expect("rollback");
    let e = b.append(&event(KEPT, 2)).await.expect("append");
    assert_eq!(
        e.seq, 1,
        "the rolled-back event's index is reused: no gap in the log"
    );
    // Jobs after a rolled-back one: a kept job, then one undone, then the batch commits with
    // the last savepoint still open (its release travels with the next statement, or COMMIT).
    b.savepoint().await.expect("savepoint");
    b.append(&event(KEPT, 3)).await.expect("append");
    b.release_job().await.expect("release");
    b.savepoint().await.expect("savepoint");
    b.append(&event(UNDONE, 4)).await.expect("append");
    b.rollback_job().await.expect("rollback");
    b.savepoint().await.expect("savepoint");
    b.append(&event(KEPT, 5)).await.expect("append");
    b.release_job().await.expect("release");
    b.commit().await.expect("commit");

    let mut dropped = store.begin().await.expect("begin");
    dropped.append(&event(LOST, 3)).await.expect("append");
    drop(dropped);
    let events = store.events(0, 100).await.expect("events");
    let kinds: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, [KEPT.as_str(); 4]);
    let seqs: Vec<_> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
}

async fn two_processes_appending_share_one_order(backend: Backend) {
    // Two independent pools on one database stand for two processes (two `custos serve` on
    // PostgreSQL, the server and a CLI command on SQLite): the write lock of each batch keeps
    // one order with no gap and no index taken twice.
    let db = TestDatabase::new(backend).await;
    let a = db.open().await;
    let b = Store::open(db.location(), false).await.expect("open b");
    let mut tasks = Vec::new();
    for (i, s) in [a.clone(), b.clone()].into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for n in 0..20u64 {
                let mut batch = s.begin().await.expect("begin");
                batch
                    .append(&event(
                        if i == 0 {
                            EventType::UserAdded
                        } else {
                            EventType::AuthorityAdded
                        },
                        n,
                    ))
                    .await
                    .expect("append");
                batch.commit().await.expect("commit");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let events = a.events(0, 100).await.expect("events");
    assert_eq!(events.len(), 40);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64);
    }
}

#[tokio::test]
async fn one_process_at_a_time_holds_the_scheduler_lease_on_postgres() {
    // Two pools on one database stand for two `custos serve` processes.
    let db = TestDatabase::new(Backend::Postgres).await;
    let a = db.open().await;
    let b = Store::open(db.location(), false).await.expect("open b");
    let mut held = a.scheduler_lease().await.expect("ask").expect("granted");
    assert!(held.holds().await);
    assert!(
        b.scheduler_lease().await.expect("ask").is_none(),
        "held by a"
    );
    // The holder stops (or its session ends): the other takes over.
    drop(held);
    let mut taken = None;
    for _ in 0..100 {
        taken = b.scheduler_lease().await.expect("ask");
        if taken.is_some() {
            break;
        }
        // The server releases the lock when it sees the dropped connection close.
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut taken = taken.expect("b takes the lease once a's is gone");
    assert!(taken.holds().await);
    assert!(
        a.scheduler_lease().await.expect("ask").is_none(),
        "held by b"
    );
}

#[tokio::test]
async fn the_scheduler_lease_is_always_granted_on_sqlite() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let s = db.open().await;
    let mut lease = s.scheduler_lease().await.expect("ask").expect("granted");
    assert!(lease.holds().await);
}

/// `custos migrate`'s copy: SQLite into an empty PostgreSQL database, raw and in one
/// transaction; a target holding rows refused; a row changed afterwards found.
#[tokio::test]
async fn a_copy_to_postgres_is_byte_for_byte_and_needs_an_empty_target() {
    use custos_store::{CopyError, Role, User};
    let source_db = TestDatabase::new(Backend::Sqlite).await;
    let source = source_db.open().await;
    let mut b = source.begin().await.expect("begin");
    // More events than one statement (500) and one page of the comparison (1,000) carry.
    for n in 0..1_234 {
        b.append(&event(KEPT, n)).await.expect("append");
    }
    b.insert_user(&User {
        name: "rita".into(),
        role: Role::Reviewer,
        token_hash: "$argon2id$…".into(),
        added_at: Timestamp::from_second(1_790_000_000).expect("time"),
        disabled_at: None,
        password_hash: None,
    })
    .await
    .expect("user");
    b.commit().await.expect("commit");

    let target_db = TestDatabase::new(Backend::Postgres).await;
    let target = target_db.open().await;
    let mut lock = source.begin().await.expect("the source's write lock");
    let copied = lock.copy_into(&target).await.expect("copy");
    let rows = |t: &str| copied.iter().find(|c| c.table == t).map(|c| c.rows);
    assert_eq!(rows("events"), Some(1_234));
    assert_eq!(rows("users"), Some(1));
    assert_eq!(rows("cases"), Some(0));
    assert!(
        lock.copy_differences(&target)
            .await
            .expect("compare")
            .is_empty()
    );
    let raw = |e: &custos_store::StoredEvent| {
        (
            e.seq,
            e.body.clone(),
            e.salt.as_bytes().to_vec(),
            e.leaf.clone(),
        )
    };
    let (a, b) = (
        source.events(0, 2_000).await.expect("events"),
        target.events(0, 2_000).await.expect("events"),
    );
    assert_eq!(
        a.iter().map(raw).collect::<Vec<_>>(),
        b.iter().map(raw).collect::<Vec<_>>()
    );

    // A second copy into the same database is refused, naming what is there.
    match lock.copy_into(&target).await {
        Err(CopyError::NotEmpty(held)) => assert!(
            held.iter().any(|t| t.table == "events" && t.rows == 1_234),
            "{held:?}"
        ),
        other => panic!("a target holding rows must be refused: {other:?}"),
    }
    let contents = custos_store::postgres_contents(&target_db.setting())
        .await
        .expect("contents");
    assert!(contents.iter().any(|t| t.table == "users" && t.rows == 1));

    // One byte changed in the target is found, by event.
    let pg = sqlx::PgPool::connect(&target_db.setting())
        .await
        .expect("pg");
    sqlx::query("UPDATE events SET body = body || ' ' WHERE seq = 1100")
        .execute(&pg)
        .await
        .expect("update");
    pg.close().await;
    let found = lock.copy_differences(&target).await.expect("compare");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("event 1100"), "{found:?}");

    // Emptied, it takes the copy again.
    target.empty_copy_target().await.expect("empty");
    assert!(
        custos_store::postgres_contents(&target_db.setting())
            .await
            .expect("contents")
            .is_empty()
    );
    lock.copy_into(&target).await.expect("copy again");
    assert!(
        lock.copy_differences(&target)
            .await
            .expect("compare")
            .is_empty()
    );
}

#[test]
fn the_test_backend_is_named_exactly_or_refused() {
    use custos_store::testing::parse_backend;
    assert_eq!(parse_backend("sqlite"), Ok(Backend::Sqlite));
    assert_eq!(parse_backend("postgres"), Ok(Backend::Postgres));
    for garbled in ["", "Postgres", "postgresql", "pg", " sqlite"] {
        let e = parse_backend(garbled).unwrap_err();
        assert!(e.contains("`sqlite` or `postgres`"), "{garbled:?}: {e}");
    }
}
