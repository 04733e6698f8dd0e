//! `custos policy diff`: replaying 100,000 requests under two profiles, beside its floors
//! measured in the same run.
//!
//! - `cases/parse_100k` (floor): `parse_request` alone over the 100,000 documents.
//! - `cases/assess_once_100k` (floor): parse and one assessment (`rights-first`), one thread.
//! - `cases/diff_100k_1thread`: `Diff::replay` on one thread: parse, two assessments
//!   (`rights-first`, `convention`), compare.
//! - `cases/diff_100k`: the same on every core (what `custos policy diff --cases` runs).
//! - `node/read_100k`: the 100,000 arrivals of a node's SQLite log (each followed by its
//!   `request.assessed` event, as intake writes them) read through custos-service's
//!   `received_requests`, in pages of 10,000.
//! - `node/diff_100k`: reading and replaying them, as `custos policy diff --dir` does.
//!
//! Run: `cargo bench -p custos-bench --bench policy_diff -- --warm-up-time 1 --measurement-time 1`.
//! Figures: docs/PERFORMANCE.md, "Policy diff: replaying 100,000 requests".

use std::hint::black_box;
use std::path::Path;

use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use custos_model::strategies::{reference_now, request};
use custos_model::{EventType, parse_request};
use custos_policy::diff::{Diff, Input};
use custos_safeguards::{Assessor, Jurisdiction, Profile};
use custos_service::NodeDir;
use custos_store::{NewEvent, Store};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::json;

const N: usize = 100_000;
/// As `custos policy diff` pages.
const PAGE: usize = 10_000;

fn documents(n: usize) -> Vec<Vec<u8>> {
    let mut runner = TestRunner::deterministic();
    let strategy = request();
    (0..n)
        .map(|_| {
            let r = strategy.new_tree(&mut runner).expect("generate").current();
            serde_json::to_vec(&r).expect("serialize")
        })
        .collect()
}

fn profiles() -> (Profile, Profile) {
    (
        Profile::builtin("rights-first").unwrap(),
        Profile::builtin("convention").unwrap(),
    )
}

fn cases(c: &mut Criterion) {
    let now = reference_now();
    let docs = documents(N);
    let inputs: Vec<Input> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| Input::request(format!("{i}.json"), d.clone(), Some(now)))
        .collect();
    let (from, to) = profiles();
    let once = Assessor::new(from.clone(), Jurisdiction::default());
    let mut group = c.benchmark_group("cases");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("parse_100k", |b| {
        b.iter(|| {
            for d in &docs {
                black_box(parse_request(d).unwrap());
            }
        })
    });
    group.bench_function("assess_once_100k", |b| {
        b.iter(|| {
            for d in &docs {
                let r = parse_request(d).unwrap();
                black_box(once.assess(&r, now).unwrap());
            }
        })
    });
    let one = Diff::new(from.clone(), to.clone(), Jurisdiction::default()).with_threads(1);
    group.bench_function("diff_100k_1thread", |b| {
        b.iter(|| black_box(one.replay(&inputs)))
    });
    let all = Diff::new(from, to, Jurisdiction::default());
    group.bench_function("diff_100k", |b| b.iter(|| black_box(all.replay(&inputs))));
    group.finish();
}

/// A node directory whose log holds `docs` as arrivals, each followed by its assessment.
async fn node_with(dir: &Path, docs: &[Vec<u8>]) {
    let config = custos_service::Config::new("bench.example/log");
    std::fs::write(
        dir.join(custos_service::config::CONFIG_FILE),
        config.to_toml().unwrap(),
    )
    .unwrap();
    NodeDir::create_database(dir, &config).await.unwrap();
    let store = Store::open(&config.database_location(dir), false)
        .await
        .unwrap();
    let assessor = Assessor::new(
        Profile::builtin("rights-first").unwrap(),
        Jurisdiction::default(),
    );
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut batch = store.begin().await.unwrap();
    for (i, chunk) in docs.chunks(1_000).enumerate() {
        let mut events = Vec::with_capacity(2 * chunk.len());
        for (j, d) in chunk.iter().enumerate() {
            let r = parse_request(d).unwrap();
            let at = r.submitted_at;
            let assessment = assessor.assess(&r, at).unwrap();
            // Only the payload is read back; header and signature stand in for a real JWS.
            let jws = format!(
                "{}.{}.{}",
                b64.encode(br#"{"alg":"EdDSA"}"#),
                b64.encode(d),
                b64.encode([0u8; 64])
            );
            let case_id = None::<i64>;
            events.push(NewEvent {
                event_type: EventType::RequestReceived,
                at,
                case_id,
                body: json!({"authority": "kid", "request_id": r.id.as_str(),
                             "payload_sha256": format!("{:064}", i * 1_000 + j), "jws": jws}),
            });
            events.push(NewEvent {
                event_type: EventType::RequestAssessed,
                at,
                case_id,
                body: json!({ "assessment": assessment }),
            });
        }
        batch.append_all(&events).await.unwrap();
    }
    batch.commit().await.unwrap();
    store.close().await;
}

/// Every arrival of the node, page by page, each page handed to `each`.
async fn read_pages(nd: &NodeDir, mut each: impl FnMut(Vec<Input>)) -> usize {
    let mut start = 0;
    let mut total = 0;
    loop {
        let page = nd
            .query()
            .received_requests(start, PAGE as u64)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        start = last.index + 1;
        total += page.len();
        each(
            page.into_iter()
                .map(|r| {
                    Input::request(
                        format!("log index {}", r.index),
                        r.request,
                        Some(r.received_at),
                    )
                })
                .collect(),
        );
    }
    total
}

fn node(c: &mut Criterion) {
    let docs = documents(N);
    let tmp = tempfile::tempdir().unwrap();
    // `CUSTOS_BENCH_NODE=DIR` keeps the node in DIR (new, empty), to time the real command on
    // it: `custos policy diff --from rights-first --to convention --dir DIR`.
    let kept = std::env::var_os("CUSTOS_BENCH_NODE").map(std::path::PathBuf::from);
    let dir = kept.as_deref().unwrap_or(tmp.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(node_with(dir, &docs));
    drop(docs);
    let nd = rt.block_on(NodeDir::open_to_read(dir)).unwrap();
    let (from, to) = profiles();
    let diff = Diff::new(from, to, Jurisdiction::default());
    let mut group = c.benchmark_group("node");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("read_100k", |b| {
        b.iter(|| {
            let n = rt.block_on(read_pages(&nd, |inputs| {
                black_box(inputs);
            }));
            assert_eq!(n, N);
        })
    });
    group.bench_function("diff_100k", |b| {
        b.iter(|| {
            let n = rt.block_on(read_pages(&nd, |inputs| {
                black_box(diff.replay(&inputs));
            }));
            assert_eq!(n, N);
        })
    });
    group.finish();
    rt.block_on(nd.close());
}

criterion_group!(benches, cases, node);
criterion_main!(benches);
