//! The report's counts (columns written by the projection, one scan of the covering index,
//! the events by type) equal the counting they replaced: the cases' JSON documents read row by
//! row and the events looked up case by case (migration 0007's queries, kept here as the
//! reference), over a varied fixture: synthetic cases, then emergencies verified, failed and
//! both, duplicated and surplus refusal grounds, and cases received out of number order.

use std::collections::BTreeMap;

use jiff::civil::Date;
use sqlx::Row;

use crate::{CaseDocuments, ReportCounts, Store};

/// The documents as they are stored, untyped.
#[derive(Debug, Clone, PartialEq)]
enum Raw {}

impl CaseDocuments for Raw {
    type Assessment = serde_json::Value;
    type Decision = serde_json::Value;
    type Reclassification = serde_json::Value;
}

const OLD_CASES: &str = "
SELECT requesting_state, measure, channel, outcome, emergency != 0,
       CASE WHEN json_valid(decision) THEN json_extract(decision, '$.decision') END,
       CASE WHEN json_valid(request_json) THEN json_extract(request_json, '$.confidentiality.requested') END = 1,
       COUNT(*)
FROM cases WHERE received_at >= ?1 AND received_at < ?2
GROUP BY 1, 2, 3, 4, 5, 6, 7
";
const OLD_DAYS: &str = "
SELECT MIN(?3, MAX(0, CAST(julianday(CASE WHEN json_valid(decision) THEN json_extract(decision, '$.at') END) - julianday(received_at) AS INTEGER))),
       COUNT(*)
FROM cases WHERE received_at >= ?1 AND received_at < ?2
  AND CAST(julianday(CASE WHEN json_valid(decision) THEN json_extract(decision, '$.at') END) - julianday(received_at) AS INTEGER) IS NOT NULL
GROUP BY 1
";
const OLD_RANGE: &str = "
SELECT MIN(case_id), MAX(case_id) FROM cases WHERE received_at >= ?1 AND received_at < ?2
";
const OLD_FOLLOW_UPS: &str = "
SELECT 'ground', g.value, COUNT(DISTINCT c.case_id)
    FROM cases c, json_each(c.decision, '$.grounds') g
    WHERE c.received_at >= ?1 AND c.received_at < ?2
      AND CASE WHEN json_valid(c.decision) THEN json_extract(c.decision, '$.decision') END = 'refuse' AND g.key < ?5
    GROUP BY g.value
UNION ALL SELECT 'emergency', 'verified', COALESCE(SUM(v AND NOT f), 0) FROM (
    SELECT EXISTS (SELECT 1 FROM events e WHERE e.case_id = c.case_id
                   AND e.event_type IN ('emergency.confirmed', 'emergency.callback_confirmed')) AS v,
           EXISTS (SELECT 1 FROM events e WHERE e.case_id = c.case_id
                   AND e.event_type = 'emergency.verification_failed') AS f
    FROM cases c WHERE c.received_at >= ?1 AND c.received_at < ?2 AND c.emergency != 0)
UNION ALL SELECT 'emergency', 'verification_failed', COUNT(*)
    FROM cases c WHERE c.received_at >= ?1 AND c.received_at < ?2 AND c.emergency != 0
      AND EXISTS (SELECT 1 FROM events e WHERE e.case_id = c.case_id
                  AND e.event_type = 'emergency.verification_failed')
UNION ALL SELECT 'confidentiality', 'narrowed', COUNT(DISTINCT e.case_id)
    FROM events e JOIN cases c ON c.case_id = e.case_id
    WHERE e.event_type = 'confidentiality.limited' AND e.case_id BETWEEN ?3 AND ?4
      AND c.received_at >= ?1 AND c.received_at < ?2
UNION ALL SELECT 'evidence', 'delivered', COUNT(DISTINCT e.case_id)
    FROM events e JOIN cases c ON c.case_id = e.case_id
    WHERE e.event_type = 'evidence.delivered' AND e.case_id BETWEEN ?3 AND ?4
      AND c.received_at >= ?1 AND c.received_at < ?2
UNION ALL SELECT 'notices', 'due', COUNT(*) FROM notices n JOIN cases c USING (case_id)
    WHERE n.case_id BETWEEN ?3 AND ?4 AND c.received_at >= ?1 AND c.received_at < ?2
      AND n.ended_at IS NOT NULL
UNION ALL SELECT 'notices', 'sent', COUNT(*) FROM notices n JOIN cases c USING (case_id)
    WHERE n.case_id BETWEEN ?3 AND ?4 AND c.received_at >= ?1 AND c.received_at < ?2
      AND n.sent_at IS NOT NULL
UNION ALL SELECT 'notices', 'failed', COUNT(*) FROM notices n JOIN cases c USING (case_id)
    WHERE n.case_id BETWEEN ?3 AND ?4 AND c.received_at >= ?1 AND c.received_at < ?2
      AND n.sent_at IS NULL AND n.attempts > 0
";

/// The reference recount: the old queries, row by row.
async fn recount(store: &Store, from: Date, to: Date, grounds: i64, cap: u32) -> ReportCounts {
    let (from, until) = (from.to_string(), to.tomorrow().unwrap().to_string());
    let pool = store.sqlite().expect("sqlite");
    let mut c = ReportCounts::default();
    for row in sqlx::query(OLD_CASES)
        .bind(&from)
        .bind(&until)
        .fetch_all(pool)
        .await
        .unwrap()
    {
        let n = row.get::<i64, _>(7) as u64;
        c.requests += n;
        for (i, map) in [
            (0, &mut c.by_state),
            (1, &mut c.by_measure),
            (2, &mut c.by_channel),
            (3, &mut c.by_recommendation),
        ] {
            *map.entry(row.get::<String, _>(i)).or_default() += n;
        }
        if row.get::<bool, _>(4) {
            c.emergencies_claimed += n;
        }
        if let Some(kind) = row.get::<Option<String>, _>(5) {
            *c.by_decision.entry(kind).or_default() += n;
        }
        if row.get::<Option<bool>, _>(6).unwrap_or(false) {
            c.confidentiality_requested += n;
        }
    }
    if c.requests == 0 {
        return c;
    }
    for row in sqlx::query(OLD_DAYS)
        .bind(&from)
        .bind(&until)
        .bind(i64::from(cap))
        .fetch_all(pool)
        .await
        .unwrap()
    {
        *c.days_to_decision
            .entry(row.get::<i64, _>(0) as u32)
            .or_default() += row.get::<i64, _>(1) as u64;
    }
    let range = sqlx::query(OLD_RANGE)
        .bind(&from)
        .bind(&until)
        .fetch_one(pool)
        .await
        .unwrap();
    let mut grounds_seen = BTreeMap::new();
    for row in sqlx::query(OLD_FOLLOW_UPS)
        .bind(&from)
        .bind(&until)
        .bind(range.get::<i64, _>(0))
        .bind(range.get::<i64, _>(1))
        .bind(grounds)
        .fetch_all(pool)
        .await
        .unwrap()
    {
        let (dimension, key) = (row.get::<String, _>(0), row.get::<String, _>(1));
        let n = row.get::<i64, _>(2) as u64;
        match (dimension.as_str(), key.as_str()) {
            ("ground", _) => {
                grounds_seen.insert(key, n);
            }
            ("emergency", "verified") => c.emergencies_verified = n,
            ("emergency", "verification_failed") => c.emergencies_verification_failed = n,
            ("confidentiality", "narrowed") => c.confidentiality_narrowed = n,
            ("evidence", "delivered") => c.evidence_delivered = n,
            ("notices", "due") => c.notices_due = n,
            ("notices", "sent") => c.notices_sent = n,
            ("notices", "failed") => c.notices_failed = n,
            other => panic!("unknown row {other:?}"),
        }
    }
    c.refusal_grounds = grounds_seen;
    c
}

#[tokio::test]
async fn the_fast_counts_equal_the_row_by_row_recount() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("r.db"), true)
        .await
        .unwrap();
    let first: Date = "2025-01-01".parse().unwrap();
    store.insert_synthetic_cases(4000, first, 60).await.unwrap();
    // Variety the generator lacks, written as the projection writes it (through the report
    // columns' own expressions, by `put_case`'s statement).
    let pool = store.sqlite().expect("sqlite");
    let next: i64 = sqlx::query("SELECT MAX(seq) + 1 FROM events")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    for (i, (case, kind)) in [
        (21, "emergency.confirmed"),
        (41, "emergency.callback_confirmed"),
        (41, "emergency.verification_failed"),
        (61, "emergency.verification_failed"),
        (81, "emergency.confirmed"),
        (81, "emergency.confirmed"),
        (2, "emergency.confirmed"), // not an emergency: not counted
        (3001, "emergency.confirmed"),
    ]
    .into_iter()
    .enumerate()
    {
        sqlx::query(
            "INSERT INTO events (seq, event_type, occurred_at, case_id, body, salt, leaf) \
             VALUES (?, ?, '2025-03-01T00:00:00Z', ?, '{}', zeroblob(32), zeroblob(1))",
        )
        .bind(next + i as i64)
        .bind(kind)
        .bind(case)
        .execute(pool)
        .await
        .unwrap();
    }
    let ids = [4_i64, 8, 12, 16, 500, 1200, 2500];
    // Names the typed case reads (the generator's are only strings to count).
    sqlx::query(&format!(
        "UPDATE cases SET measure = 'preserve_stored_data', channel = 'mla', outcome = 'execute' \
         WHERE case_id IN ({})",
        ids.map(|i| i.to_string()).join(", ")
    ))
    .execute(pool)
    .await
    .unwrap();
    let mut tx = store.begin().await.unwrap();
    let mut rewrite = Vec::new();
    for id in ids {
        rewrite.push(tx.case::<Raw>(id).await.unwrap().unwrap());
    }
    for (k, mut c) in rewrite.into_iter().enumerate() {
        match k {
            // Out of number order: received on the period's last days, or before its first.
            0 => c.received_at = "2025-02-27T23:59:59Z".parse().unwrap(),
            1 => c.received_at = "2024-12-31T12:00:00Z".parse().unwrap(),
            2 => c.received_at = "2025-01-31T10:00:00Z".parse().unwrap(),
            _ => {}
        }
        c.decision = Some(
            serde_json::from_str(match k {
                3 => r#"{"decision":"refuse","grounds":["a","a","b","c","d"],"at":"2025-01-02T00:00:00Z"}"#,
                4 => r#"{"decision":"refuse","grounds":"not-a-list","at":"2025-03-30T00:00:00Z"}"#,
                5 => r#"{"decision":"refuse","grounds":[],"at":"2026-01-01T00:00:00Z"}"#,
                _ => r#"{"decision":"refuse","grounds":["c"],"at":"2025-01-01T00:00:00Z"}"#,
            })
            .unwrap(),
        );
        tx.put_case(&c).await.unwrap();
    }
    tx.commit().await.unwrap();
    let periods = [
        ("2025-01-01", "2025-03-01"), // every case
        ("2025-01-01", "2025-01-31"),
        ("2025-01-10", "2025-02-10"),
        ("2025-02-27", "2025-02-27"),
        ("2024-12-31", "2024-12-31"),
        ("2026-01-01", "2026-12-31"), // nothing
    ];
    for (from, to) in periods {
        let (from, to): (Date, Date) = (from.parse().unwrap(), to.parse().unwrap());
        for (grounds, cap) in [(3, 30), (1, 400)] {
            let fast = store.report_counts(from, to, grounds, cap).await.unwrap();
            let slow = recount(&store, from, to, grounds as i64, cap).await;
            assert_eq!(fast, slow, "{from}..{to}, {grounds} grounds, cap {cap}");
        }
    }
    // The fixture is varied: each count is non-zero somewhere.
    let all = store
        .report_counts(first, "2025-03-01".parse().unwrap(), 3, 30)
        .await
        .unwrap();
    assert!(all.emergencies_verified > 0 && all.emergencies_verification_failed > 0);
    assert!(all.confidentiality_narrowed > 0 && all.evidence_delivered > 0);
    assert!(all.notices_due > 0 && all.notices_sent > 0 && all.notices_failed > 0);
    assert!(all.refusal_grounds.len() >= 4, "{:?}", all.refusal_grounds);
    // `put_case` and the generator wrote the columns as the audit derives them; an edit of a
    // column alone is named.
    assert_eq!(
        store.report_columns_differ().await.unwrap(),
        Vec::<i64>::new()
    );
    sqlx::query("UPDATE cases SET report_decision = 'execute' WHERE case_id = 16")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(store.report_columns_differ().await.unwrap(), vec![16]);
}

/// The migration's backfill (its UPDATE, run again on rows whose columns are cleared) derives
/// what `put_case` and the audit derive: an upgraded node's reports count the same.
#[tokio::test]
async fn the_migration_backfills_the_report_columns_as_put_case_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("m.db"), true)
        .await
        .unwrap();
    let first: Date = "2025-01-01".parse().unwrap();
    store.insert_synthetic_cases(500, first, 10).await.unwrap();
    let to: Date = "2025-01-10".parse().unwrap();
    let before = store.report_counts(first, to, 3, 30).await.unwrap();
    let migration = include_str!("../migrations/sqlite/0008_report_columns.sql");
    let start = migration.find("UPDATE cases SET").unwrap();
    let backfill = &migration[start..start + migration[start..].find(';').unwrap()];
    sqlx::query(
        "UPDATE cases SET report_decision = NULL, report_confidentiality = NULL, \
         report_days = NULL, report_grounds = NULL",
    )
    .execute(store.sqlite().expect("sqlite"))
    .await
    .unwrap();
    assert!(!store.report_columns_differ().await.unwrap().is_empty());
    sqlx::query(backfill)
        .execute(store.sqlite().expect("sqlite"))
        .await
        .unwrap();
    assert_eq!(
        store.report_columns_differ().await.unwrap(),
        Vec::<i64>::new()
    );
    assert_eq!(store.report_counts(first, to, 3, 30).await.unwrap(), before);
    assert!(before.requests == 500 && !before.refusal_grounds.is_empty());
}
