//! The console's sessions and sign-in counts against a real SQLite file and a real PostgreSQL
//! server (each test runs on both), with times passed in by hand (no sleeps): ends, the atomic
//! count, no row for names of no user, a reopen (restart) and two handles on one database (two
//! processes).

use jiff::{SignedDuration, Timestamp};

use crate::testing::TestDatabase;
use crate::{Backend, ConsoleSession, Reservation, Role, Store, User};

/// Each test once per backend: `sqlite::name` and `postgres::name`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(crate::Backend::Sqlite).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(crate::Backend::Postgres).await
            })*
        }
    };
}

on_both!(
    a_session_is_used_until_its_idle_or_absolute_end_and_then_refused_and_swept,
    a_session_of_no_user_cannot_be_stored,
    five_attempts_are_counted_before_the_check_the_fifth_failure_locks_and_the_lock_ends,
    success_forgets_failures_the_window_forgets_old_ones_and_an_unchecked_attempt_is_given_back,
    a_name_of_no_user_stores_nothing,
    sessions_and_counts_survive_a_reopen,
    two_handles_on_one_database_share_sessions_and_one_count,
);

const LIMIT: u32 = 5;
const WINDOW: SignedDuration = SignedDuration::from_mins(15);
const LOCK: SignedDuration = SignedDuration::from_mins(15);

fn t0() -> Timestamp {
    "2026-06-01T09:00:00Z".parse().expect("time")
}

async fn store_with_users(db: &TestDatabase, names: &[&str]) -> Store {
    let store = db.open().await;
    let mut b = store.begin().await.expect("begin");
    for name in names {
        b.insert_user(&User {
            name: (*name).to_owned(),
            role: Role::Reviewer,
            token_hash: "h".into(),
            added_at: t0(),
            disabled_at: None,
            password_hash: None,
        })
        .await
        .expect("user");
    }
    b.commit().await.expect("commit");
    store
}

fn new_session(hash: u8, user: &str, at: Timestamp) -> ConsoleSession {
    ConsoleSession {
        token_sha256: [hash; 32],
        user_name: user.to_owned(),
        csrf: format!("csrf-{hash}"),
        created_at: at,
        last_seen_at: at,
        idle_until: at + SignedDuration::from_mins(30),
        expires_at: at + SignedDuration::from_hours(12),
    }
}

async fn reserve(s: &Store, name: &str, now: Timestamp) -> Reservation {
    s.reserve_sign_in(name, now, now - WINDOW, LIMIT)
        .await
        .expect("reserve")
}

fn reserved(r: &Reservation) -> bool {
    matches!(r, Reservation::Reserved(_))
}

async fn a_session_is_used_until_its_idle_or_absolute_end_and_then_refused_and_swept(
    backend: Backend,
) {
    let db = TestDatabase::new(backend).await;
    let s = store_with_users(&db, &["alice"]).await;
    let start = new_session(1, "alice", t0());
    s.insert_console_session(&start).await.expect("insert");
    let idle = |at: Timestamp| at + SignedDuration::from_mins(30);

    // Used a second before its idle end: its idle end moves on.
    let at = t0() + SignedDuration::from_mins(30) - SignedDuration::from_secs(1);
    let got = s
        .touch_console_session(&[1; 32], at, idle(at))
        .await
        .expect("touch")
        .expect("live");
    assert_eq!(
        (got.user_name.as_str(), got.csrf.as_str()),
        ("alice", "csrf-1")
    );
    assert_eq!((got.last_seen_at, got.idle_until), (at, idle(at)));
    // Idle to the millisecond of its end: refused, and a later use does not revive it.
    let end = got.idle_until;
    assert!(
        s.touch_console_session(&[1; 32], end, idle(end))
            .await
            .expect("touch")
            .is_none()
    );
    assert!(
        s.console_session(&[1; 32]).await.expect("read").is_some(),
        "kept until swept"
    );
    assert_eq!(s.sweep_console_sessions(end).await.expect("sweep"), 1);
    assert!(s.console_session(&[1; 32]).await.expect("read").is_none());

    // Used every 20 minutes, a session still ends at its absolute end, whose idle end never passes.
    s.insert_console_session(&new_session(2, "alice", t0()))
        .await
        .expect("insert");
    let mut at = t0();
    let last = t0() + SignedDuration::from_hours(12);
    while at + SignedDuration::from_mins(20) < last {
        at += SignedDuration::from_mins(20);
        let got = s
            .touch_console_session(&[2; 32], at, idle(at))
            .await
            .expect("touch");
        assert!(
            got.as_ref().is_some_and(|g| g.idle_until <= last),
            "{at}: {got:?}"
        );
    }
    assert!(
        s.touch_console_session(&[2; 32], last, idle(last))
            .await
            .expect("touch")
            .is_none(),
        "ended at 12 h"
    );
    assert_eq!(
        s.sweep_console_sessions(last - SignedDuration::from_secs(1))
            .await
            .expect("sweep"),
        0
    );
    assert_eq!(s.sweep_console_sessions(last).await.expect("sweep"), 1);

    // Signing out deletes the row; no other session is touched.
    s.insert_console_session(&new_session(3, "alice", t0()))
        .await
        .expect("insert");
    s.insert_console_session(&new_session(4, "alice", t0()))
        .await
        .expect("insert");
    s.delete_console_session(&[3; 32]).await.expect("delete");
    assert!(s.console_session(&[3; 32]).await.expect("read").is_none());
    assert!(
        s.touch_console_session(&[4; 32], t0(), idle(t0()))
            .await
            .expect("touch")
            .is_some()
    );
}

async fn a_session_of_no_user_cannot_be_stored(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let s = store_with_users(&db, &["alice"]).await;
    assert!(
        s.insert_console_session(&new_session(1, "mallory", t0()))
            .await
            .is_err()
    );
}

async fn five_attempts_are_counted_before_the_check_the_fifth_failure_locks_and_the_lock_ends(
    backend: Backend,
) {
    let db = TestDatabase::new(backend).await;
    let s = store_with_users(&db, &["alice", "bob"]).await;
    // Five reserved at once; the sixth is refused before any is settled, and not counted.
    for n in 1..=LIMIT {
        match reserve(&s, "alice", t0()).await {
            Reservation::Reserved(c) => assert_eq!((c.attempts, c.failures), (n, 0)),
            other => panic!("attempt {n}: {other:?}"),
        }
    }
    match reserve(&s, "alice", t0()).await {
        Reservation::Refused(c) => assert_eq!((c.attempts, c.locked_until), (LIMIT, None)),
        other => panic!("{other:?}"),
    }
    let lock_until = t0() + LOCK;
    for n in 1..=LIMIT {
        let c = s
            .fail_sign_in("alice", LIMIT, lock_until)
            .await
            .expect("fail")
            .expect("row");
        assert_eq!(c.failures, n);
        assert_eq!(
            c.locked_until.is_some(),
            n == LIMIT,
            "the fifth failure locks"
        );
    }
    // Locked to the millisecond, for every attempt, the right password included.
    let before_end = lock_until - SignedDuration::from_millis(1);
    match reserve(&s, "alice", before_end).await {
        Reservation::Refused(c) => assert_eq!(c.locked_until, Some(lock_until)),
        other => panic!("{other:?}"),
    }
    assert!(
        reserved(&reserve(&s, "bob", t0()).await),
        "other names are not affected"
    );
    // The lock ends: a new count starts with this attempt.
    match reserve(&s, "alice", lock_until).await {
        Reservation::Reserved(c) => {
            assert_eq!((c.attempts, c.failures, c.locked_until), (1, 0, None));
            assert_eq!(c.window_started_at, lock_until);
        }
        other => panic!("{other:?}"),
    }
}

async fn success_forgets_failures_the_window_forgets_old_ones_and_an_unchecked_attempt_is_given_back(
    backend: Backend,
) {
    let db = TestDatabase::new(backend).await;
    let s = store_with_users(&db, &["alice"]).await;
    let lock = |at: Timestamp| at + LOCK;
    for _ in 0..LIMIT - 1 {
        assert!(reserved(&reserve(&s, "alice", t0()).await));
        s.fail_sign_in("alice", LIMIT, lock(t0()))
            .await
            .expect("fail");
    }
    // One more under way and one given back (never checked): four failures and one place.
    assert!(reserved(&reserve(&s, "alice", t0()).await));
    assert!(
        !reserved(&reserve(&s, "alice", t0()).await),
        "failures plus attempts under way"
    );
    s.release_sign_in("alice").await.expect("release");
    assert!(reserved(&reserve(&s, "alice", t0()).await));
    s.succeed_sign_in("alice").await.expect("succeed");
    let c = s.sign_in_counts("alice").await.expect("read").expect("row");
    assert_eq!((c.attempts, c.failures, c.locked_until), (0, 0, None));

    // Four failures; the window passes; the count starts again.
    let t1 = t0() + SignedDuration::from_secs(1);
    for _ in 0..LIMIT - 1 {
        assert!(reserved(&reserve(&s, "alice", t1).await));
        s.fail_sign_in("alice", LIMIT, lock(t1))
            .await
            .expect("fail");
    }
    // A millisecond before the window's end the four still count (a fifth is the last place);
    // at its end they are forgotten.
    let t2 = t1 + WINDOW;
    match reserve(&s, "alice", t2 - SignedDuration::from_millis(1)).await {
        Reservation::Reserved(c) => {
            assert_eq!(
                (c.attempts, c.failures, c.window_started_at),
                (LIMIT, 4, t1)
            )
        }
        other => panic!("{other:?}"),
    }
    s.release_sign_in("alice").await.expect("release");
    match reserve(&s, "alice", t2).await {
        Reservation::Reserved(c) => assert_eq!((c.attempts, c.failures), (1, 0)),
        other => panic!("{other:?}"),
    }
    // Swept only once nothing is left to remember.
    assert_eq!(s.sweep_sign_ins(t2, t2 - WINDOW).await.expect("sweep"), 0);
    assert_eq!(s.sweep_sign_ins(t2 + WINDOW, t2).await.expect("sweep"), 1);
    assert_eq!(s.sign_in_names().await.expect("count"), 0);
}

async fn a_name_of_no_user_stores_nothing(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let s = store_with_users(&db, &["alice"]).await;
    for _ in 0..2 * LIMIT {
        assert_eq!(reserve(&s, "mallory", t0()).await, Reservation::NoUser);
        assert_eq!(
            s.fail_sign_in("mallory", LIMIT, t0() + LOCK)
                .await
                .expect("fail"),
            None
        );
        s.release_sign_in("mallory").await.expect("release");
        s.succeed_sign_in("mallory").await.expect("succeed");
    }
    assert_eq!(s.sign_in_names().await.expect("count"), 0);
    assert!(reserved(&reserve(&s, "alice", t0()).await));
    assert_eq!(s.sign_in_names().await.expect("count"), 1);
}

async fn sessions_and_counts_survive_a_reopen(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let s = store_with_users(&db, &["alice"]).await;
    s.insert_console_session(&new_session(1, "alice", t0()))
        .await
        .expect("insert");
    for _ in 0..LIMIT {
        assert!(reserved(&reserve(&s, "alice", t0()).await));
        s.fail_sign_in("alice", LIMIT, t0() + LOCK)
            .await
            .expect("fail");
    }
    s.close().await;
    drop(s);

    let s = db.open().await;
    let at = t0() + SignedDuration::from_mins(1);
    let got = s
        .touch_console_session(&[1; 32], at, at + SignedDuration::from_mins(30))
        .await
        .expect("touch");
    assert_eq!(got.map(|g| g.user_name).as_deref(), Some("alice"));
    assert!(
        matches!(reserve(&s, "alice", at).await, Reservation::Refused(c) if c.locked_until == Some(t0() + LOCK)),
        "still locked after the restart"
    );
}

async fn two_handles_on_one_database_share_sessions_and_one_count(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let a = store_with_users(&db, &["alice"]).await;
    let b = db.open().await;
    a.insert_console_session(&new_session(1, "alice", t0()))
        .await
        .expect("insert");
    let at = t0() + SignedDuration::from_mins(1);
    let idle = at + SignedDuration::from_mins(30);
    assert!(
        b.touch_console_session(&[1; 32], at, idle)
            .await
            .expect("touch")
            .is_some()
    );
    assert_eq!(
        a.console_session(&[1; 32])
            .await
            .expect("read")
            .map(|s| s.last_seen_at),
        Some(at),
        "a use through one is seen by the other"
    );
    b.delete_console_session(&[1; 32]).await.expect("sign out");
    assert!(
        a.touch_console_session(&[1; 32], at, idle)
            .await
            .expect("touch")
            .is_none()
    );

    // Forty attempts at once, half through each handle: exactly five are counted.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { reserve(&s, "alice", t0()).await })
        })
        .collect();
    let mut through = 0;
    for t in tasks {
        if reserved(&t.await.expect("task")) {
            through += 1;
        }
    }
    assert_eq!(through, LIMIT);
    for s in [&a, &b, &a, &b, &a] {
        s.fail_sign_in("alice", LIMIT, t0() + LOCK)
            .await
            .expect("fail");
    }
    for s in [&a, &b] {
        assert!(
            matches!(reserve(s, "alice", at).await, Reservation::Refused(c) if c.locked_until.is_some()),
            "locked through both"
        );
    }
}
