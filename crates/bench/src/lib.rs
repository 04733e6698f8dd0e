//! Criterion benchmarks of Custos' pure cores, kept out of `cargo test` builds.
//! `cargo bench -p custos-bench --bench ledger` (the log) and `--bench assess` (the engine);
//! figures in `docs/PERFORMANCE.md`.
