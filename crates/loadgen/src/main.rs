//! `custos-loadgen`: the load generator and floor measurements behind the intake benchmarks of
//! issue 3 (see `docs/PERFORMANCE.md` and `scripts/bench-intake`). Not shipped.
//!
//! - `load` pre-signs N distinct requests (copies of a request document with ids `PREFIX-000001`…
//!   and a fresh `submitted_at`) as compact JWS with an authority's private JWK, then POSTs them to
//!   `/v1/requests` over HTTP/1.1 keep-alive from C concurrent connections. Given several
//!   servers (processes of one node), connection i talks to server i mod S. Every latency goes
//!   into an HDR histogram; the result is one JSON object on stdout: requests, errors by status,
//!   throughput per second, p50/p90/p99/max in milliseconds. Signing happens before the clock
//!   starts, so the client's cost during the run is HTTP only.
//! - `floor-ed25519` times one Ed25519 `verify_strict` (the raw floor) and one whole compact-JWS
//!   verification of the same request (`custos_jose::verify_compact`).
//! - `floor-sha256` times SHA-256 over a 64-byte input and over a leaf-sized input.
//! - `floor-sqlite` times durable commits with sqlx on a database in a given directory (so on
//!   the same disk as the node): WAL, `synchronous=FULL`, one `BEGIN IMMEDIATE; INSERT; COMMIT`
//!   each — what one-commit-per-request intake could reach at best.
//!
//! Every mode prints one JSON object, so a script can put the figures side by side.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use custos_jose::{PrivateJwk, sign_compact, verify_compact};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Parser)]
#[command(name = "custos-loadgen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign N requests, then submit them from C keep-alive connections and report latencies.
    Load {
        /// The node, e.g. http://127.0.0.1:8480; repeat it (or separate with commas) for
        /// several processes of one node, and connections go to them in turn.
        #[arg(long, required = true, value_delimiter = ',')]
        server: Vec<String>,
        /// The authority's private JWK (from `custos authority keygen`).
        #[arg(long, value_name = "KEY.jwk")]
        key: PathBuf,
        /// The request document to copy.
        #[arg(long, default_value = "examples/request.json")]
        request: PathBuf,
        /// Number of requests.
        #[arg(short = 'n', long, default_value_t = 20_000)]
        requests: usize,
        /// Concurrent connections.
        #[arg(short = 'c', long, default_value_t = 32)]
        connections: usize,
        /// Request ids are PREFIX-000001, PREFIX-000002, …
        #[arg(long, default_value = "LOAD")]
        prefix: String,
        /// Client runtime threads (1 leaves the other core to the node).
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Floor: Ed25519 verify_strict, and a whole compact-JWS verify of a request.
    FloorEd25519 {
        /// The request document to sign.
        #[arg(long, default_value = "examples/request.json")]
        request: PathBuf,
        /// Verifications to time.
        #[arg(long, default_value_t = 20_000)]
        iters: u32,
    },
    /// Floor: SHA-256 of 64 bytes and of a leaf-sized input.
    FloorSha256 {
        /// Bytes of the leaf-sized input (0x00 and a `request.received` public record: 133).
        #[arg(long, default_value_t = 133)]
        leaf_bytes: usize,
        /// Hashes to time.
        #[arg(long, default_value_t = 2_000_000)]
        iters: u32,
    },
    /// Floor: durable SQLite commits (WAL, synchronous=FULL), one INSERT each.
    FloorSqlite {
        /// Directory for the scratch database (use the node's disk).
        #[arg(long)]
        dir: PathBuf,
        /// Commits to time.
        #[arg(long, default_value_t = 2_000)]
        commits: u32,
        /// Rows per commit (1 = the floor; more shows what batching buys).
        #[arg(long, default_value_t = 1)]
        rows: u32,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let out = match cli.command {
        Command::Load {
            server,
            key,
            request,
            requests,
            connections,
            prefix,
            threads,
        } => {
            let key = read_key(&key)?;
            let template = read_request(&request)?;
            let bodies = sign_all(&template, &key, &prefix, requests)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads.max(1))
                .enable_all()
                .build()?;
            rt.block_on(load(&server, bodies, connections.max(1)))?
        }
        Command::FloorEd25519 { request, iters } => floor_ed25519(&request, iters)?,
        Command::FloorSha256 { leaf_bytes, iters } => floor_sha256(leaf_bytes, iters),
        Command::FloorSqlite { dir, commits, rows } => {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(floor_sqlite(&dir, commits, rows.max(1)))?
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn read_key(path: &PathBuf) -> anyhow::Result<PrivateJwk> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    PrivateJwk::parse(&text).with_context(|| format!("{} is not a private JWK", path.display()))
}

fn read_request(path: &PathBuf) -> anyhow::Result<Value> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: Value =
        serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", path.display()))?;
    if !v.is_object() {
        bail!("{}: the request must be a JSON object", path.display());
    }
    Ok(v)
}

/// Signs `n` copies of the template with distinct ids and a fresh `submitted_at`.
fn sign_all(
    template: &Value,
    key: &PrivateJwk,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let now = jiff::Timestamp::now().to_string();
    let mut out = Vec::with_capacity(n);
    let mut doc = template.clone();
    for i in 1..=n {
        let obj = doc.as_object_mut().expect("checked: an object");
        obj.insert("id".into(), format!("{prefix}-{i:06}").into());
        obj.insert("submitted_at".into(), now.clone().into());
        let payload = serde_json::to_vec(&doc)?;
        out.push(sign_compact(&payload, key, Some("custos.request/v1+jws")));
    }
    Ok(out)
}

#[derive(Default)]
struct Tally {
    hist: Option<Histogram<u64>>,
    ok: u64,
    errors: std::collections::BTreeMap<String, u64>,
}

async fn load(
    servers: &[String],
    bodies: Vec<String>,
    connections: usize,
) -> anyhow::Result<Value> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;
    let urls: Vec<String> = servers
        .iter()
        .map(|s| format!("{}/v1/requests", s.trim_end_matches('/')))
        .collect();
    if urls.is_empty() {
        bail!("no --server given");
    }
    let n = bodies.len();
    let bodies: Arc<Vec<String>> = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for i in 0..connections {
        // Round robin: each connection keeps to one process, so keep-alive holds.
        let url = urls[i % urls.len()].clone();
        let (client, bodies, next) = (client.clone(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            // 1 µs .. 60 s, 3 significant digits.
            let mut t = Tally {
                hist: Some(Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds")),
                ..Tally::default()
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let t0 = Instant::now();
                let result = client
                    .post(&url)
                    .header("content-type", "application/jose")
                    .body(body.clone())
                    .send()
                    .await;
                let status = match result {
                    Ok(resp) => {
                        let status = resp.status();
                        // Read the whole body: the request is done when the answer is.
                        let _ = resp.bytes().await;
                        Some(status)
                    }
                    Err(_) => None,
                };
                let us = t0.elapsed().as_micros().max(1) as u64;
                if let Some(h) = t.hist.as_mut() {
                    h.saturating_record(us);
                }
                match status {
                    Some(s) if s.as_u16() == 201 => t.ok += 1,
                    Some(s) => *t.errors.entry(s.as_u16().to_string()).or_default() += 1,
                    None => *t.errors.entry("transport".into()).or_default() += 1,
                }
            }
            t
        }));
    }
    let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut ok = 0;
    let mut ok_per_server = vec![0u64; urls.len()];
    let mut errors = std::collections::BTreeMap::<String, u64>::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let t = task.await?;
        if let Some(h) = &t.hist {
            total.add(h)?;
        }
        ok += t.ok;
        ok_per_server[i % urls.len()] += t.ok;
        for (k, v) in t.errors {
            *errors.entry(k).or_default() += v;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let ms = |q: f64| total.value_at_quantile(q) as f64 / 1000.0;
    Ok(json!({
        "mode": "load",
        "requests": n,
        "connections": connections,
        "servers": urls.len(),
        "created_201": ok,
        "created_201_per_server": ok_per_server,
        "errors": errors,
        "seconds": round3(secs),
        "throughput_per_s": round3(n as f64 / secs),
        "latency_ms": {
            "p50": ms(0.50),
            "p90": ms(0.90),
            "p99": ms(0.99),
            "max": total.max() as f64 / 1000.0,
            "mean": round3(total.mean() / 1000.0),
        },
    }))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn per_op_us(elapsed: Duration, iters: u32) -> f64 {
    round3(elapsed.as_secs_f64() * 1e6 / f64::from(iters))
}

fn floor_ed25519(request: &PathBuf, iters: u32) -> anyhow::Result<Value> {
    use ed25519_dalek::{Signer as _, SigningKey};
    let sk = SigningKey::from_bytes(&[7; 32]);
    let vk = sk.verifying_key();
    let msg = [0x5au8; 64];
    let sig = sk.sign(&msg);
    // Warm up, then time.
    for _ in 0..iters / 10 {
        black_box(vk.verify_strict(black_box(&msg), black_box(&sig)))?;
    }
    let t0 = Instant::now();
    for _ in 0..iters {
        black_box(vk.verify_strict(black_box(&msg), black_box(&sig)))?;
    }
    let raw = t0.elapsed();

    let key = PrivateJwk::from_seed(&[9; 32]);
    let public = key.public();
    let doc = read_request(request)?;
    let jws = sign_compact(
        &serde_json::to_vec(&doc)?,
        &key,
        Some("custos.request/v1+jws"),
    );
    for _ in 0..iters / 10 {
        black_box(verify_compact(black_box(&jws), &public))?;
    }
    let t0 = Instant::now();
    for _ in 0..iters {
        black_box(verify_compact(black_box(&jws), &public))?;
    }
    let whole = t0.elapsed();
    Ok(json!({
        "mode": "floor-ed25519",
        "iters": iters,
        "ed25519_verify_strict_us": per_op_us(raw, iters),
        "jws_verify_compact_us": per_op_us(whole, iters),
        "jws_bytes": jws.len(),
    }))
}

fn floor_sha256(leaf_bytes: usize, iters: u32) -> Value {
    let small = [0x5au8; 64];
    let leaf = vec![0x5au8; leaf_bytes];
    let t0 = Instant::now();
    for _ in 0..iters {
        black_box(Sha256::digest(black_box(&small)));
    }
    let a = t0.elapsed();
    let t0 = Instant::now();
    for _ in 0..iters {
        black_box(Sha256::digest(black_box(&leaf)));
    }
    let b = t0.elapsed();
    json!({
        "mode": "floor-sha256",
        "iters": iters,
        "sha256_64B_ns": round3(a.as_secs_f64() * 1e9 / f64::from(iters)),
        "sha256_leaf_ns": round3(b.as_secs_f64() * 1e9 / f64::from(iters)),
        "leaf_bytes": leaf_bytes,
    })
}

async fn floor_sqlite(dir: &std::path::Path, commits: u32, rows: u32) -> anyhow::Result<Value> {
    use sqlx::ConnectOptions as _;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    let path = dir.join("floor-sqlite.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await?;
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)")
        .execute(&mut conn)
        .await?;
    // A row about the size of one submission's events and case (a few KiB).
    let blob = vec![0x5au8; 4096];
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut id = 0i64;
    for _ in 0..commits.div_ceil(10) {
        commit_rows(&mut conn, &mut id, rows, &blob).await?;
    }
    let t0 = Instant::now();
    for _ in 0..commits {
        let t = Instant::now();
        commit_rows(&mut conn, &mut id, rows, &blob).await?;
        hist.saturating_record(t.elapsed().as_micros().max(1) as u64);
    }
    let secs = t0.elapsed().as_secs_f64();
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(json!({
        "mode": "floor-sqlite",
        "commits": commits,
        "rows_per_commit": rows,
        "commits_per_s": round3(f64::from(commits) / secs),
        "rows_per_s": round3(f64::from(commits) * f64::from(rows) / secs),
        "commit_ms": {
            "mean": round3(secs * 1000.0 / f64::from(commits)),
            "p50": hist.value_at_quantile(0.5) as f64 / 1000.0,
            "p99": hist.value_at_quantile(0.99) as f64 / 1000.0,
        },
    }))
}

/// One durable transaction of `rows` INSERTs.
async fn commit_rows(
    conn: &mut sqlx::SqliteConnection,
    id: &mut i64,
    rows: u32,
    blob: &[u8],
) -> anyhow::Result<()> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    for _ in 0..rows {
        sqlx::query("INSERT INTO t (id, v) VALUES (?, ?)")
            .bind(*id)
            .bind(blob)
            .execute(&mut *conn)
            .await?;
        *id += 1;
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    Ok(())
}
