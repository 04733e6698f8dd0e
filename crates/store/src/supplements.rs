//! When supplements arrived, for a page of cases at once (issue 16: the list's deadline says
//! whether a supplement restarted it, without a query per case).

use std::collections::HashMap;

use jiff::Timestamp;

use crate::backend::on_pool;
use crate::{Result, Store};

#[derive(sqlx::FromRow)]
struct Arrival {
    case_id: i64,
    #[sqlx(rename = "occurred_at", try_from = "crate::column::Stamp")]
    at: Timestamp,
}

/// Case ids bound per statement, well within either engine's limit on parameters.
const CHUNK: usize = 500;

impl Store {
    /// The time of the latest `request.supplemented` of each of `case_ids` that has one.
    pub async fn latest_supplements(&self, case_ids: &[i64]) -> Result<HashMap<i64, Timestamp>> {
        let mut out = HashMap::new();
        for chunk in case_ids.chunks(CHUNK) {
            let marks: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT case_id, occurred_at FROM events WHERE event_type = $1 \
                 AND case_id IN ({}) ORDER BY seq",
                marks.join(", ")
            );
            let rows: Vec<Arrival> = on_pool!(&self.pool, p => {
                let mut q = sqlx::query_as(&sql).bind("request.supplemented");
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(p).await?
            });
            // In log order: the latest of each case is the one kept.
            out.extend(rows.into_iter().map(|r| (r.case_id, r.at)));
        }
        Ok(out)
    }
}
