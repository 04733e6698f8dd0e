//! Emergencies verified twice (issue 13, §2): confirmation keys in the directory, which may
//! confirm an authority's emergency requests and never sign one.

use custos_jose::sign_compact;
use custos_service::replay::{Projections, Signatures};

use crate::fixture::*;

#[tokio::test]
async fn a_confirmation_key_is_logged_folded_and_cannot_sign_a_request() {
    let f = Fixture::new().await;
    let w = f.writer().await;
    let kid = f
        .add_confirmation_key(&f.authority.kid, &confirmation_key(), t0())
        .await
        .unwrap();
    assert_eq!(kid, confirmation_key().public().thumbprint());
    assert!(
        f.event_types()
            .await
            .contains(&"authority.confirmation_key_added".to_owned())
    );
    // The replay folds it into the directory, bound to its authority.
    let p = Projections::replay(&f.events().await, Signatures::Verify);
    let c = &p.registry.confirmation_keys[&kid];
    assert_eq!(c.authority_kid, f.authority.kid);
    assert!(!p.registry.authorities.contains_key(&kid));
    assert_eq!(f.findings().await, Vec::<String>::new());
    // The running node takes it in; intake's signature check refuses a request it signed.
    w.sync().await.unwrap();
    assert_eq!(
        w.directory.confirmation_key(&kid).unwrap().authority_kid,
        f.authority.kid
    );
    let jws = sign_compact(b"{\"id\":\"XA-1\"}", &confirmation_key(), None);
    let p = refused(w.directory.verify(&jws).await, 403, "confirmation-key");
    assert!(p.detail.contains("not sign requests"), "{}", p.detail);
    // The authority's own key still signs.
    let jws = sign_compact(b"{\"id\":\"XA-1\"}", &authority_key(), None);
    assert!(w.directory.verify(&jws).await.is_ok());
}

#[tokio::test]
async fn one_key_has_one_use_and_belongs_to_a_registered_unrevoked_authority() {
    let f = Fixture::new().await;
    let before = f.log_size().await;
    // The authority's own key cannot also confirm.
    refused(
        f.add_confirmation_key(&f.authority.kid, &authority_key(), t0())
            .await,
        409,
        "key-registered",
    );
    // No authority with that key.
    refused(
        f.add_confirmation_key("no-such-kid", &confirmation_key(), t0())
            .await,
        404,
        "not-found",
    );
    assert_eq!(f.log_size().await, before, "nothing logged for a refusal");
    f.add_confirmation_key(&f.authority.kid, &confirmation_key(), t0())
        .await
        .unwrap();
    // Twice, or for a second authority.
    refused(
        f.add_confirmation_key(&f.authority.kid, &confirmation_key(), t0())
            .await,
        409,
        "key-registered",
    );
    let xb = f
        .add_authority(&other_authority_key(), "XB", t0())
        .await
        .unwrap();
    refused(
        f.add_confirmation_key(&xb.kid, &confirmation_key(), t0())
            .await,
        409,
        "key-registered",
    );
    // A confirmation key cannot be registered as an authority's own key either.
    refused(
        f.add_authority(&confirmation_key(), "XC", t0()).await,
        409,
        "key-registered",
    );
    // Not for a revoked authority.
    f.revoke(&xb.kid, t0()).await.unwrap();
    refused(
        f.add_confirmation_key(&xb.kid, &custos_jose::PrivateJwk::from_seed(&[6; 32]), t0())
            .await,
        409,
        "already-revoked",
    );
    assert_eq!(f.findings().await, Vec::<String>::new());
}
