//! What a node trusts about its history: `integrity::check_history` over the events, the
//! latest checkpoint and the head file, and `Node::open` refusing what it refuses.

use custos_service::integrity::HistoryError;
use custos_service::ops::DecisionKind;

use crate::fixture::*;

#[tokio::test]
async fn a_history_signed_batch_by_batch_passes_the_check() {
    let f = Fixture::new().await;
    f.decided("p02-preservation-24-7", "XA-1", DecisionKind::Execute, t0())
        .await;
    f.tick(t0() + days(100)).await;
    assert_eq!(f.check_history().await.unwrap(), f.log_size().await);
    f.node().await.unwrap();
}

#[tokio::test]
async fn a_database_rolled_back_behind_its_head_is_refused() {
    let live = Fixture::new().await;
    live.submit("p01-ransomware-production", "XA-1", t0()).await;
    let backup = live.backup().await;
    let old_size = live.log_size().await;
    live.submit("p04-defamation-2y", "XA-2", t0()).await;
    let signed = live.log_size().await;
    // The database restored from the backup; the head file stays as the node left it.
    let f = live.with_database_from(backup.path()).await;
    assert_eq!(f.log_size().await, old_size);
    match f.check_history().await {
        Err(HistoryError::RolledBack {
            held, signed: s, ..
        }) => {
            assert_eq!((held, s), (old_size, signed));
        }
        other => panic!("{other:?}"),
    }
    let err = format!("{:#}", f.node().await.unwrap_err());
    assert!(err.contains("rolled back"), "{err}");
    // Nor does an offline write sign over it.
    let refused = crate::fixture::offline_batch(&f.dir, |b, out| {
        Box::pin(async move {
            custos_service::ops::add_user(b, out, &user("nina", custos_store::Role::Reviewer)).await
        })
    })
    .await;
    assert!(
        matches!(
            refused,
            Err(custos_service::offline::OfflineError::Setup(_))
        ),
        "{refused:?}"
    );
    assert_eq!(f.log_size().await, old_size);
}

#[tokio::test]
async fn a_history_rewritten_under_the_node_key_is_refused() {
    // Two databases grown the same way under the same key: the same number of events, other
    // contents (every event has its own salt). One's head file beside the other's events.
    let f = Fixture::new().await;
    let fork = Fixture::new().await;
    for x in [&f, &fork] {
        x.decided(
            "p01-ransomware-production",
            "XA-1",
            DecisionKind::Execute,
            t0(),
        )
        .await;
    }
    assert_eq!(f.log_size().await, fork.log_size().await);
    std::fs::copy(
        f.dir.join(custos_service::integrity::HEAD_FILE),
        fork.dir.join(custos_service::integrity::HEAD_FILE),
    )
    .unwrap();
    match fork.check_history().await {
        Err(HistoryError::Rewritten { size, .. }) => assert_eq!(size, f.log_size().await),
        other => panic!("{other:?}"),
    }
    let err = format!("{:#}", fork.node().await.unwrap_err());
    assert!(err.contains("rewritten"), "{err}");
}

#[tokio::test]
async fn events_no_node_signature_covers_are_refused_at_start() {
    let f = Fixture::new().await;
    let signed = f.log_size().await;
    let a = new_authority(&other_authority_key(), "XB");
    f.unsigned_batch(move |b, out| {
        Box::pin(async move { custos_service::ops::add_authority(b, out, &a, t0()).await })
    })
    .await;
    match f.check_history().await {
        Err(HistoryError::Unsigned { from, last }) => {
            assert_eq!((from, last), (signed, f.log_size().await - 1));
        }
        other => panic!("{other:?}"),
    }
    let err = format!("{:#}", f.node().await.unwrap_err());
    assert!(err.contains("covered by no checkpoint"), "{err}");
}

#[tokio::test]
async fn a_checkpoint_signed_with_another_key_is_refused() {
    let f = Fixture::new().await;
    let a = new_authority(&other_authority_key(), "XB");
    f.unsigned_batch(move |b, out| {
        Box::pin(async move { custos_service::ops::add_authority(b, out, &a, t0()).await })
    })
    .await;
    f.put_checkpoint_signed_by(&forger_key()).await;
    assert!(
        matches!(
            f.check_history().await,
            Err(HistoryError::BadSignature { .. })
        ),
        "the forged note is the latest row and must verify"
    );
    assert!(f.node().await.is_err());
}
