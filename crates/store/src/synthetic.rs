//! Synthetic cases for the transparency benchmark (feature `synthetic`, never in a node): rows
//! generated inside SQLite by a recursive CTE (received in case order, evenly over the days,
//! as intake numbers them), with the events a report counts, and the plain
//! aggregate a report is measured beside.

use jiff::civil::Date;
use sqlx::Row;

use crate::{Result, Store, StoreError};

const STATES: &str = r#"["XA","XB","XC","XD","XE","XF","XG","XH","XI","XJ"]"#;

impl Store {
    /// The SQLite pool: the synthetic rows are generated with SQLite's JSON functions.
    pub(crate) fn sqlite(&self) -> Result<&sqlx::SqlitePool> {
        match &self.pool {
            crate::backend::Pool::Sqlite(p) => Ok(p),
            crate::backend::Pool::Postgres(_) => Err(StoreError::Location(
                "synthetic cases are generated on SQLite only".into(),
            )),
        }
    }

    /// Inserts `n` cases received over `days` days from `first` (one authority per state), with
    /// decisions (70%), refusal grounds, emergencies (5%), limited confidentiality, deliveries
    /// and notices, and their events. For a fresh database only.
    pub async fn insert_synthetic_cases(&self, n: u64, first: Date, days: u32) -> Result<()> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let start = first.to_string();
        let mut tx = self.sqlite()?.begin().await?;
        sqlx::query(
            "INSERT INTO authorities (kid, state, name, kind, channels, jwk, added_at) \
             SELECT 'kid-' || value, value, 'Authority ' || value, 'police', 'mla', '{}', \
                    '2020-01-01T00:00:00Z' FROM json_each(?)",
        )
        .bind(STATES)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < ?1) \
             INSERT INTO cases (case_id, authority_kid, request_id, payload_sha256, request_json, \
                 status, outcome, assessment, measure, requesting_state, channel, emergency, \
                 received_at, respond_by, decision, updated_at) \
             SELECT i + 1, 'kid-' || st, 'R-' || i, zeroblob(32), \
                 json_object('id', 'R-' || i, 'confidentiality', \
                     json_object('requested', json(CASE WHEN i % 3 = 0 THEN 'true' ELSE 'false' END))), \
                 'assessed', \
                 json_extract('[\"execute\",\"execute_narrowed\",\"refer_for_review\",\"needs_information\",\"refuse\"]', '$[' || (i % 5) || ']'), \
                 '{}', \
                 json_extract('[\"preserve_stored_data\",\"disclose_preserved_traffic\",\"produce_subscriber_information\",\"produce_traffic_data\",\"produce_content_data\",\"realtime_traffic\",\"intercept_content\"]', '$[' || (i % 7) || ']'), \
                 st, \
                 json_extract('[\"mla\",\"network_24_7\",\"direct\"]', '$[' || (i % 3) || ']'), \
                 i % 20 = 0, \
                 r, \
                 '2100-01-01T00:00:00Z', \
                 CASE WHEN i % 10 < 7 THEN json_object('decision', \
                     json_extract('[\"execute\",\"execute_narrowed\",\"request_information\",\"refuse\"]', '$[' || (i % 4) || ']'), \
                     'grounds', json_array('death-penalty', 'expression-offence'), \
                     'at', strftime('%Y-%m-%dT%H:%M:%SZ', r, '+' || (i % 40) || ' days')) END, \
                 '2100-01-01T00:00:00Z' \
             FROM (SELECT i, json_extract(?4, '$[' || (i % 10) || ']') AS st, \
                   strftime('%Y-%m-%dT%H:%M:%SZ', ?2, \
                            '+' || CAST(i * ?3 * 86400 / ?1 AS INTEGER) || ' seconds') AS r \
                   FROM k)",
        )
        .bind(n)
        .bind(&start)
        .bind(i64::from(days.max(1)))
        .bind(STATES)
        .execute(&mut *tx)
        .await?;
        // The report's columns, as `put_case` and the migration derive them.
        let derive = crate::REPORT_DERIVED
            .iter()
            .map(|(column, derived)| format!("{column} = {derived}"))
            .collect::<Vec<_>>()
            .join(", ");
        sqlx::query(&format!("UPDATE cases SET {derive}"))
            .execute(&mut *tx)
            .await?;
        // The events a report reads: decisions, limited confidentiality, emergencies,
        // deliveries; seq after whatever the log holds.
        sqlx::query(
            "INSERT INTO events (seq, event_type, occurred_at, case_id, body, salt, leaf) \
             SELECT (SELECT COALESCE(MAX(seq), -1) FROM events) + row_number() OVER (), \
                    t, strftime('%Y-%m-%dT%H:%M:%SZ', c.received_at, '+' || (c.case_id % 40) || ' days'), \
                    c.case_id, '{}', zeroblob(32), zeroblob(1) \
             FROM cases c JOIN (SELECT 'decision.recorded' AS t, 10 AS m, 7 AS r \
                                UNION ALL SELECT 'confidentiality.limited', 6, 1 \
                                UNION ALL SELECT 'emergency.confirmed', 40, 1 \
                                UNION ALL SELECT 'emergency.verification_failed', 60, 1 \
                                UNION ALL SELECT 'evidence.delivered', 10, 2 \
                                UNION ALL SELECT 'request.assessed', 1, 1) \
               ON c.case_id % m < r",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO notices (case_id, due_at, ended_at, sent_at, attempts) \
             SELECT case_id, received_at, CASE WHEN case_id % 2 = 0 THEN received_at END, \
                    CASE WHEN case_id % 4 = 0 THEN received_at END, case_id % 3 \
             FROM cases WHERE case_id % 5 = 0",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        sqlx::query("ANALYZE").execute(self.sqlite()?).await?;
        Ok(())
    }

    /// The plain aggregate a report is measured beside: one GROUP BY over the same cases.
    pub async fn plain_aggregate(&self, from: Date, to: Date) -> Result<u64> {
        let until = to.tomorrow().map_err(|e| StoreError::Corrupt {
            what: "period".into(),
            detail: e.to_string(),
        })?;
        let rows = sqlx::query(
            "SELECT requesting_state, measure, channel, outcome, COUNT(*) FROM cases \
             WHERE received_at >= ? AND received_at < ? GROUP BY 1, 2, 3, 4",
        )
        .bind(from.to_string())
        .bind(until.to_string())
        .fetch_all(self.sqlite()?)
        .await?;
        Ok(rows
            .iter()
            .map(|r| u64::try_from(r.get::<i64, _>(4)).unwrap_or(0))
            .sum())
    }
}
