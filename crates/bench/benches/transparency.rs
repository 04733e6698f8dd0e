//! A transparency report over synthetic cases (issue 14): the store's counts of a period
//! (`Store::report_counts`) beside a plain GROUP BY over the same rows, and the release
//! (OpenDP noise and post-processing). Not criterion: each figure is the median of a few runs
//! of a query that takes about a second. Run:
//! `CUSTOS_BENCH_CASES=1000000 cargo bench --workspace --bench transparency --profile dev`
//! (SQLite is optimised in the dev profile too; see the workspace's Cargo.toml).

use std::time::{Duration, Instant};

use custos_store::Store;
use custos_transparency::release::{self, Domains};
use custos_transparency::table::{DAYS_CAP, GROUNDS_PER_CASE};
use custos_transparency::{Period, Table};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: u64 = std::env::var("CUSTOS_BENCH_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let runs = 5;
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let tmp = tempfile::tempdir().expect("a temporary directory");
    rt.block_on(async {
        // CUSTOS_BENCH_DB: keep the synthetic database there, and reuse it when it exists.
        let path = std::env::var_os("CUSTOS_BENCH_DB")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| tmp.path().join("bench.db"));
        let fresh = !path.exists();
        let store = Store::open_sqlite(&path, true)
            .await
            .expect("the store opens");
        if fresh {
            let first = "2025-01-01".parse().expect("a date");
            let t = Instant::now();
            store
                .insert_synthetic_cases(n, first, 365)
                .await
                .expect("synthetic cases");
            println!("inserted {n} synthetic cases in {:.1?}", t.elapsed());
        }
        for (name, from, to) in [
            ("a year (every case)", "2025-01-01", "2025-12-31"),
            ("a quarter", "2025-04-01", "2025-06-30"),
        ] {
            let period = Period::parse(from, to).expect("a period");
            let mut report = Vec::new();
            let mut plain = Vec::new();
            let mut counts = None;
            for _ in 0..runs {
                let t = Instant::now();
                counts = Some(
                    store
                        .report_counts(period.from, period.to, GROUNDS_PER_CASE, DAYS_CAP)
                        .await
                        .expect("counts"),
                );
                report.push(t.elapsed());
                let t = Instant::now();
                let total = store
                    .plain_aggregate(period.from, period.to)
                    .await
                    .expect("aggregate");
                plain.push(t.elapsed());
                assert_eq!(counts.as_ref().map(|c| c.requests), Some(total));
            }
            let c = counts.expect("counted");
            let table = Table {
                requests: c.requests,
                by_state: c.by_state,
                by_measure: c.by_measure,
                by_channel: c.by_channel,
                by_recommendation: c.by_recommendation,
                by_decision: c.by_decision,
                refusal_grounds: c.refusal_grounds,
                days_to_decision: c.days_to_decision,
                ..Table::default()
            };
            let domains = Domains {
                states: table.by_state.keys().cloned().collect(),
                measures: table.by_measure.keys().cloned().collect(),
                channels: table.by_channel.keys().cloned().collect(),
                recommendations: table.by_recommendation.keys().cloned().collect(),
                decisions: table.by_decision.keys().cloned().collect(),
                grounds: table.refusal_grounds.keys().cloned().collect(),
            };
            let t = Instant::now();
            let draw = release::draw(&table, &domains, 1.0).expect("a draw");
            let _ = release::publish(period, 1.0, &draw);
            let noise = t.elapsed();
            let (r, p) = (median(report), median(plain));
            println!(
                "{name}: {} cases; report counts {r:.1?} (median of {runs}), plain GROUP BY {p:.1?}, ratio {:.2}; noise and post-processing {noise:.1?}",
                table.requests,
                r.as_secs_f64() / p.as_secs_f64()
            );
        }
    });
}
