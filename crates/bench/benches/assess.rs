//! How long an assessment takes, and how much of it is Cedar.
//!
//! - `one/assess`: the full assessment of the bundled example request (facts, Cedar, findings,
//!   messages, narrowing, deadlines).
//! - `one/cedar_only`: the floor — Cedar's authorization of the same, prebuilt, request.
//! - `one/facts_and_context`: our part before Cedar (facts, typed context, Cedar request).
//! - `varied/assess_100k`: 100 000 generated requests covering every rule (per-element figures).
//! - `varied/cedar_only`: Cedar alone over 10 000 of them, prebuilt.
//!
//! Run: `cargo bench -p custos-safeguards --bench assess`. Figures: docs/PERFORMANCE.md.

use std::hint::black_box;

use cedar_policy::{Authorizer, Entities};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use custos_model::strategies::{reference_now, request};
use custos_model::{Request, parse_request};
use custos_safeguards::{Assessor, Facts, Jurisdiction, Profile};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

fn example() -> Request {
    let bytes = include_bytes!("../../../examples/request.json");
    parse_request(bytes).expect("the bundled example is valid")
}

fn varied(n: usize) -> Vec<Request> {
    let mut runner = TestRunner::deterministic();
    let strategy = request();
    (0..n)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("generate a request")
                .current()
        })
        .collect()
}

fn assessor(profile: &str) -> Assessor {
    Assessor::new(Profile::builtin(profile).unwrap(), Jurisdiction::default())
}

fn one_request(c: &mut Criterion) {
    let now = reference_now();
    let request = example();
    let mut group = c.benchmark_group("one");
    for profile in ["rights-first", "convention"] {
        let assessor = assessor(profile);
        group.bench_function(format!("assess/{profile}"), |b| {
            b.iter(|| assessor.assess(black_box(&request), now).unwrap())
        });
        let facts = Facts::of(&request, assessor.jurisdiction(), now);
        let cedar_request = assessor.cedar_request(&request, &facts).unwrap();
        let authorizer = Authorizer::new();
        let entities = Entities::empty();
        group.bench_function(format!("cedar_only/{profile}"), |b| {
            b.iter(|| {
                authorizer.is_authorized(
                    black_box(&cedar_request),
                    assessor.profile().policies(),
                    &entities,
                )
            })
        });
        group.bench_function(format!("facts_and_context/{profile}"), |b| {
            b.iter(|| {
                let facts = Facts::of(black_box(&request), assessor.jurisdiction(), now);
                assessor.cedar_request(&request, &facts).unwrap()
            })
        });
    }
    group.finish();
}

fn varied_requests(c: &mut Criterion) {
    const N: usize = 100_000;
    const FLOOR_N: usize = 10_000;
    let now = reference_now();
    let requests = varied(N);
    let assessor = assessor("rights-first");
    let mut group = c.benchmark_group("varied");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("assess_100k/rights-first", |b| {
        b.iter(|| {
            for r in &requests {
                black_box(assessor.assess(r, now).unwrap());
            }
        })
    });
    group.throughput(Throughput::Elements(FLOOR_N as u64));
    let authorizer = Authorizer::new();
    let entities = Entities::empty();
    group.bench_function("cedar_only_10k/rights-first", |b| {
        b.iter_batched_ref(
            || {
                requests[..FLOOR_N]
                    .iter()
                    .map(|r| {
                        let facts = Facts::of(r, assessor.jurisdiction(), now);
                        assessor.cedar_request(r, &facts).unwrap()
                    })
                    .collect::<Vec<_>>()
            },
            |prebuilt| {
                for q in prebuilt.iter() {
                    black_box(authorizer.is_authorized(
                        q,
                        assessor.profile().policies(),
                        &entities,
                    ));
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, one_request, varied_requests);
criterion_main!(benches);
