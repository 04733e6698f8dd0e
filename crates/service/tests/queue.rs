//! The order of case lists (issue 13): justified emergencies lead, on their 8-hour clocks,
//! before every other case however overdue; an unjustified claim waits its turn. One query
//! backs the API's `GET /v1/requests` and the console's queue, so both are tested here.

use custos_service::query::CaseQuery;
use custos_store::CaseStatus;

use crate::fixture::*;

fn ids(cases: &[custos_service::ops::Case]) -> Vec<String> {
    cases.iter().map(|c| c.request_id.clone()).collect()
}

#[tokio::test]
async fn justified_emergencies_lead_the_list_by_their_clock() {
    let f = Fixture::new().await;
    // An ordinary request received long ago: overdue, the soonest deadline of all.
    let old = f
        .submit("p01-ransomware-production", "XA-OLD", t0() - days(60))
        .await;
    // An emergency claimed without a justification: no emergency clock, no lead.
    f.submit("p08-emergency-unjustified", "XA-CLAIM", t0())
        .await;
    // Two justified emergencies: the later one received has the later clock.
    let late = f
        .submit("p07-emergency-kidnapping", "XA-EM-LATE", t0())
        .await;
    let early = f
        .submit(
            "p07-emergency-kidnapping",
            "XA-EM-EARLY",
            t0() - secs(2 * 3600),
        )
        .await;
    assert_eq!(
        f.case(early).await.respond_by,
        t0() + secs(6 * 3600),
        "8 hours from receipt"
    );
    assert!(f.case(old).await.respond_by < t0());

    let clock = custos_service::clock::ManualClock::new(t0());
    let node = custos_service::Node::open_with_clock(&f.dir, clock.clock())
        .await
        .unwrap();
    assert_eq!(node.now(), t0(), "the node reads the injected clock");
    clock.advance(secs(60));
    assert_eq!(node.now(), t0() + secs(60));

    let q = node.query();
    let list = |query: &str| {
        let q = CaseQuery::parse(query).unwrap();
        let query = node.query();
        async move { ids(&query.cases(&q, None).await.unwrap()) }
    };
    assert_eq!(
        list("open=true").await,
        ["XA-EM-EARLY", "XA-EM-LATE", "XA-OLD", "XA-CLAIM"]
    );
    // Pages of the same order: across the emergencies, and past them.
    assert_eq!(list("limit=1&offset=1").await, ["XA-EM-LATE"]);
    assert_eq!(list("limit=2&offset=1").await, ["XA-EM-LATE", "XA-OLD"]);
    assert_eq!(list("offset=3").await, ["XA-CLAIM"]);
    assert_eq!(list("offset=4").await, Vec::<String>::new());
    // Filters keep the order.
    assert_eq!(
        list("emergency=true").await,
        ["XA-EM-EARLY", "XA-EM-LATE", "XA-CLAIM"]
    );
    assert_eq!(list("emergency=false").await, ["XA-OLD"]);
    // One authority's own list is ordered alike.
    let own = q
        .cases(&CaseQuery::default(), Some(&f.authority.kid))
        .await
        .unwrap();
    assert_eq!(ids(&own)[..2], ["XA-EM-EARLY", "XA-EM-LATE"]);

    // Both emergencies are unverified until confirmed; an ordinary case never is.
    let case = |id| async move { q.case(id).await.unwrap().unwrap() };
    assert!(q.unverified_emergency(&case(early).await).await.unwrap());
    assert!(!q.unverified_emergency(&case(old).await).await.unwrap());
    f.confirm_emergency(early, t0()).await.unwrap();
    assert!(!q.unverified_emergency(&case(early).await).await.unwrap());
    assert!(q.unverified_emergency(&case(late).await).await.unwrap());

    // Decided, an emergency leaves the open queue; the next one leads.
    f.decide(
        early,
        &rita(),
        decision(custos_service::ops::DecisionKind::Execute),
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(case(early).await.status, CaseStatus::Executing);
    assert_eq!(list("open=true&limit=1").await, ["XA-EM-LATE"]);
    node.close().await;
}
