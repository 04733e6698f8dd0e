//! The directory and users' roles as the log says (`directory::Directory`, kept by the writer):
//! signatures checked against it, roles taken from it, changes by other processes seen by the
//! next job.

use custos_jose::sign_compact;
use custos_service::ops::DecisionKind;
use custos_store::{CaseStatus, Role};

use crate::fixture::*;

#[tokio::test]
async fn a_request_verifies_under_its_registered_key_and_not_once_revoked() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    let jws = sign_compact(b"{\"id\":\"XA-1\"}", &authority_key(), None);
    let (signer, payload) = w.directory.verify(&jws).await.unwrap();
    assert_eq!(signer.kid, f.authority.kid);
    assert_eq!(payload, b"{\"id\":\"XA-1\"}");
    // Altered in transit.
    let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
    parts[1] = sign_compact(b"{\"id\":\"XA-2\"}", &authority_key(), None)
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    refused(
        w.directory.verify(&parts.join(".")).await,
        401,
        "bad-signature",
    );
    // Revoked by another process: refused once the writer has taken the revocation in.
    f.revoke(&f.authority.kid, t0()).await.unwrap();
    w.sync().await.unwrap();
    refused(w.directory.verify(&jws).await, 403, "revoked-key");
}

#[tokio::test]
async fn a_key_added_by_another_process_is_found_by_catching_up_on_a_miss() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    let jws = sign_compact(b"{\"id\":\"XB-1\"}", &other_authority_key(), None);
    refused(w.directory.verify(&jws).await, 401, "unknown-key");
    // `custos authority add` while the node runs; no explicit sync: the miss asks the writer.
    let xb = f
        .add_authority(&other_authority_key(), "XB", t0())
        .await
        .unwrap();
    let (signer, _) = w.directory.verify(&jws).await.unwrap();
    assert_eq!(signer.kid, xb.kid);
}

#[tokio::test]
async fn a_role_raised_in_the_users_table_alone_is_not_believed() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    let case = f.submit("p04-defamation-2y", "XA-1", t0()).await;
    // The row says supervisor; the log says auditor.
    let row = user("aud", Role::Supervisor);
    let acting = w.directory.with_logged_role(row).await.unwrap();
    assert_eq!(acting.role, Role::Auditor);
    refused(
        w.decide(case, &acting, decision(DecisionKind::Refuse))
            .await,
        403,
        "read-only",
    );
    assert_eq!(f.case(case).await.status, CaseStatus::Assessed);
}

#[tokio::test]
async fn a_user_added_by_another_process_acts_with_its_logged_role_in_the_next_job() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    let case = f
        .decided("p12-death-penalty", "XA-1", DecisionKind::Execute, t0())
        .await;
    let nina = user("nina", Role::Supervisor);
    refused(
        w.directory.with_logged_role(nina.clone()).await,
        401,
        "bad-token",
    );
    f.add_user(nina.clone()).await.unwrap();
    // Her table row claims less than the log gave her; the log's role is what counts.
    let acting = w
        .directory
        .with_logged_role(user("nina", Role::Reviewer))
        .await
        .unwrap();
    assert_eq!(acting.role, Role::Supervisor);
    let c = w.second_review(case, &acting, confirm(true)).await.unwrap();
    assert_eq!(c.status, CaseStatus::Executing);
    assert_eq!(recorded(&c).confirmed_by.as_deref(), Some("nina"));
}

#[tokio::test]
async fn a_user_the_log_never_added_is_refused() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    refused(
        w.directory
            .with_logged_role(user("mallory", Role::Admin))
            .await,
        401,
        "bad-token",
    );
    assert_eq!(w.directory.role("rita"), Some(Role::Reviewer));
    assert_eq!(w.directory.role("mallory"), None);
}

#[tokio::test]
async fn a_key_or_a_user_is_added_once() {
    let f = Fixture::new().await;
    refused(
        f.add_authority(&authority_key(), "XZ", t0()).await,
        409,
        "key-registered",
    );
    refused(f.add_user(rita()).await, 409, "user-exists");
    f.revoke(&f.authority.kid, t0()).await.unwrap();
    let p = refused(
        f.add_authority(&authority_key(), "XA", t0()).await,
        409,
        "key-registered",
    );
    assert!(p.detail.contains("cannot return"), "{}", p.detail);
    refused(
        f.revoke(&f.authority.kid, t0()).await,
        409,
        "already-revoked",
    );
}
