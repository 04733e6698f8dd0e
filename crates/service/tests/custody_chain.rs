//! The chain of custody of a case's evidence (issue 18): the node reads it from its log
//! (`custody_case::read`, behind `custos evidence custody`), and the requesting authority gets
//! the same events as openings in the package list (behind `custos fetch`'s CASE file).

use custos_service::custody_case::{self, CustodyChain, PackageDigest, Step};
use custos_service::ops::{self, DecisionKind};
use custos_service::wire::EvidenceList;

use crate::evidence_targets::{get, proof};
use crate::fixture::*;

#[tokio::test]
async fn the_node_and_the_requester_see_the_same_chain_of_every_sealing_hand_over_and_destruction()
{
    let f = Fixture::new().await;
    let case = f
        .decided("p02-preservation-24-7", "XA-1", DecisionKind::Execute, t0())
        .await;
    let (kept, gone) = ("ab".repeat(32), "cd".repeat(32));
    f.seal(case, &gone, t0() + secs(1)).await.unwrap();
    f.seal(case, &kept, t0() + secs(2)).await.unwrap();
    f.deliver(&gone, t0() + days(1)).await.unwrap();
    f.try_batch(|b, out| {
        Box::pin(async move { ops::destroy_due(b, out, t0() + days(40), 30).await })
    })
    .await
    .unwrap();
    let other = f
        .decided("p02-preservation-24-7", "XA-2", DecisionKind::Execute, t0())
        .await;
    f.seal(other, &"ef".repeat(32), t0()).await.unwrap();

    let node = f.node().await.unwrap();
    let chain = custody_case::read(&node.query(), ORIGIN, case)
        .await
        .unwrap()
        .unwrap();
    let steps: Vec<(String, Vec<(Step, String)>)> = chain
        .packages
        .iter()
        .map(|p| {
            let s = p
                .events
                .iter()
                .map(|e| (e.step, e.at.to_string()))
                .collect();
            (p.digest.hex().to_owned(), s)
        })
        .collect();
    assert_eq!(
        steps,
        [
            (
                gone.clone(),
                vec![
                    (Step::Sealed, "2026-11-20T12:00:01Z".to_owned()),
                    (Step::Delivered, "2026-11-21T12:00:00Z".to_owned()),
                    (Step::Destroyed, "2026-12-30T12:00:00Z".to_owned()),
                ]
            ),
            (
                kept.clone(),
                vec![(Step::Sealed, "2026-11-20T12:00:02Z".to_owned())]
            ),
        ]
    );
    assert_eq!(
        chain.packages[0].digest,
        PackageDigest::new(custos_model::DigestKind::Blake3, &gone).unwrap()
    );
    assert_eq!(chain.packages[0].manifest_sha256, Some("cd".repeat(32)));
    assert_eq!(chain.requesting_state, "XA");
    assert!(
        custody_case::read(&node.query(), ORIGIN, 999)
            .await
            .unwrap()
            .is_none()
    );

    // The requester's package list carries the same events as openings: sealed, then custody.
    let path = format!("/v1/requests/{case}/evidence");
    let (status, list) = get(&node, &path, &proof(&authority_key(), &path)).await;
    assert_eq!(status, 200, "{list}");
    // As a client reads it (the salt deserializes from text).
    let list: EvidenceList = serde_json::from_str(&list.to_string()).unwrap();
    assert_eq!(list.requesting_state, "XA");
    let custody: Vec<Vec<&str>> = list
        .packages
        .iter()
        .map(|p| p.custody.iter().map(|o| o.event.kind.as_str()).collect())
        .collect();
    assert_eq!(
        custody,
        [vec!["evidence.delivered", "evidence.destroyed"], vec![]]
    );
    let events: Vec<_> = list
        .packages
        .iter()
        .flat_map(|p| p.opening.iter().chain(&p.custody))
        .map(|o| o.event.clone())
        .collect();
    let from_openings = CustodyChain::from_events(case, ORIGIN, &list.requesting_state, &events);
    assert_eq!(from_openings, chain);
}
