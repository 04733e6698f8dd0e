//! Several `custos serve` processes on one PostgreSQL database and one node directory: one log,
//! each process seeing the others' writes within a second, a revocation through one refused by
//! the other, a SIGKILL of one during concurrent intake, and a PostgreSQL restart under load
//! (on a private server started for the test, so the shared one is never restarted).
//! Every test polls with a deadline; none waits a fixed time for what it asserts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use custos_store::Backend;
use custos_store::testing::TestDatabase;
use serde_json::Value;

use crate::common::{
    Authority, Resp, TestNode, console_get, console_session, custos, custos_ok, free_port, http,
    request, try_http,
};

/// One `custos serve` process of a node directory.
struct Serve {
    port: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl Serve {
    fn start(node: &TestNode, name: &str) -> Serve {
        let port = free_port();
        let log = node.tmp.path().join(format!("serve-{name}.log"));
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_custos"))
            .args([
                "serve",
                "--dir",
                node.dir_str(),
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("custos serve starts");
        let mut s = Serve {
            port,
            log,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = s.child.as_mut().unwrap().try_wait().unwrap() {
                s.child = None;
                panic!("custos serve {name} exited ({status}):\n{}", s.log());
            }
            if try_http(port, "GET", "/healthz", &[], b"").is_ok_and(|r| r.status == 200) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not come up:\n{}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn server(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn get(&self, path: &str, auth: Option<&str>) -> Resp {
        let h: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        http(self.port, "GET", path, &h, b"")
    }

    fn submit(&self, jws: &str) -> Resp {
        http(
            self.port,
            "POST",
            "/v1/requests",
            &[("content-type", "application/jose")],
            jws.as_bytes(),
        )
    }

    /// The checkpoint it serves.
    fn checkpoint(&self) -> String {
        let r = self.get("/log/checkpoint", None);
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
    }

    fn size(&self) -> u64 {
        self.checkpoint().lines().nth(1).unwrap().parse().unwrap()
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// Polls `check` every 20 ms until it holds or `limit` has passed; returns how long it took.
fn within(limit: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

fn created(r: &Resp) -> i64 {
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["case"].as_i64().unwrap()
}

fn audit_passes(dir: &Path) {
    let out = custos(&["audit", "--dir", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "custos audit:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn verify_full(node: &TestNode, s: &Serve, state: &str) {
    let out = custos_ok(&[
        "log",
        "verify",
        "--server",
        &s.server(),
        "--vkey",
        &node.vkey,
        "--state",
        node.tmp.path().join(state).to_str().unwrap(),
        "--full",
    ]);
    assert!(out.contains("matches"), "{out}");
}

/// Every acknowledged request is a case with its request id, read through `s`.
fn all_present(s: &Serve, token: &str, accepted: &[(String, i64)]) {
    let bearer = format!("Bearer {token}");
    let cases: BTreeSet<i64> = accepted.iter().map(|(_, c)| *c).collect();
    assert_eq!(
        cases.len(),
        accepted.len(),
        "two acknowledgements, one case"
    );
    for (id, case) in accepted {
        let r = s.get(&format!("/v1/requests/{case}"), Some(&bearer));
        assert_eq!(
            r.status,
            200,
            "case {case} ({id}) was acknowledged: {}",
            r.text()
        );
        assert_eq!(r.json()["request_id"], id.as_str());
    }
}

#[test]
fn two_processes_serve_one_log_and_see_each_others_writes_within_a_second() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::new(Backend::Postgres));
    let mut node = TestNode::init_on(&db.setting());
    let a = node.authority("XA", "mla");
    let rita = node.user("rita", "reviewer");
    let bearer = format!("Bearer {rita}");
    let p1 = Serve::start(&node, "one");
    let p2 = Serve::start(&node, "two");

    let mut slowest = Duration::ZERO;
    for round in 0..3 {
        for (from, to) in [(&p1, &p2), (&p2, &p1)] {
            let id = format!("XA-MULTI-{round}-{}", from.port);
            let case = created(&from.submit(&a.sign(&request("example", &id, "XA"))));
            let size = from.size();
            // The other process reads the case, and serves a checkpoint that covers it.
            let took = within(Duration::from_secs(1), "the other's write", || {
                let r = to.get(&format!("/v1/requests/{case}"), Some(&bearer));
                r.status == 200 && r.json()["request_id"] == id.as_str() && to.size() >= size
            });
            slowest = slowest.max(took);
        }
    }
    eprintln!("slowest catch-up between the processes: {slowest:?}");

    // A change made through one (a decision) on a case received by the other.
    let case = created(&p1.submit(&a.sign(&request("example", "XA-DECIDED", "XA"))));
    let decided = http(
        p2.port,
        "POST",
        &format!("/v1/requests/{case}/decision"),
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        br#"{"decision": "refuse", "reason": "Not a matter for this provider."}"#,
    );
    assert!(
        (200..300).contains(&decided.status),
        "{} {}",
        decided.status,
        decided.text()
    );
    let through_two = p2
        .get(&format!("/v1/requests/{case}"), Some(&bearer))
        .json();
    assert_ne!(through_two["decision"], Value::Null, "{through_two}");
    within(
        Duration::from_secs(1),
        "the decision seen by the other",
        || {
            p1.get(&format!("/v1/requests/{case}"), Some(&bearer))
                .json()
                == through_two
        },
    );

    // A console session started through one process is one of the node's: the other serves it.
    node.port = p1.port;
    let cookie = console_session(&node, "rita");
    node.port = p2.port;
    let page = console_get(&node, &cookie, &format!("/console/requests/{case}"));
    assert!(page.contains("XA-DECIDED"), "{page}");

    // Quiet: both serve the same checkpoint, which each verifies from the outside.
    within(Duration::from_secs(3), "one checkpoint", || {
        p1.checkpoint() == p2.checkpoint()
    });
    verify_full(&node, &p1, "seen-one");
    verify_full(&node, &p2, "seen-two");
    audit_passes(&node.dir);
    node.kill();
}

#[test]
fn a_key_revoked_while_two_processes_run_is_refused_by_both_at_once() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::new(Backend::Postgres));
    let mut node = TestNode::init_on(&db.setting());
    let a = node.authority("XA", "mla");
    let p1 = Serve::start(&node, "one");
    let p2 = Serve::start(&node, "two");
    // Both know the key and have read with it.
    let case = created(&p1.submit(&a.sign(&request("example", "XA-BEFORE-1", "XA"))));
    created(&p2.submit(&a.sign(&request("example", "XA-BEFORE-2", "XA"))));
    let reply = format!("/v1/requests/{case}");
    for s in [&p1, &p2] {
        let proof = a.proof("GET", &reply);
        assert_eq!(s.get(&reply, Some(&proof)).status, 200);
    }

    custos_ok(&[
        "authority",
        "revoke",
        "--dir",
        node.dir_str(),
        "--reason",
        "key compromised",
        &a.kid,
    ]);
    // At once, with no wait for either process's follow of the database: a signed read (no
    // write batch re-checks it) first, then a request.
    for s in [&p2, &p1] {
        let proof = a.proof("GET", &reply);
        s.get(&reply, Some(&proof))
            .problem(403, "revoked-key", "was revoked");
        s.submit(&a.sign(&request("example", "XA-AFTER", "XA")))
            .problem(403, "revoked-key", "was revoked");
    }
    audit_passes(&node.dir);
    node.kill();
}

/// Submits signed requests from `threads` threads, each alternating between `ports`, until
/// `stop`; keeps every acknowledged (id, case). Answers other than 201 go through `other`,
/// which panics on what the test does not allow.
fn intake(
    a: &Arc<Authority>,
    ports: &[u16],
    threads: usize,
    stop: &Arc<AtomicBool>,
    accepted: &Arc<Mutex<Vec<(String, i64)>>>,
    other: fn(&Resp),
) -> Vec<std::thread::JoinHandle<()>> {
    (0..threads)
        .map(|t| {
            let (a, stop, accepted) = (a.clone(), stop.clone(), accepted.clone());
            let ports = ports.to_vec();
            std::thread::spawn(move || {
                let mut i = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let port = ports[(t + i) % ports.len()];
                    let id = format!("XA-LOAD-{t}-{i}");
                    let jws = a.sign(&request("example", &id, "XA"));
                    match try_http(
                        port,
                        "POST",
                        "/v1/requests",
                        &[("content-type", "application/jose")],
                        jws.as_bytes(),
                    ) {
                        Ok(r) if r.status == 201 => {
                            let case = r.json()["case"].as_i64().unwrap();
                            accepted.lock().unwrap().push((id, case));
                        }
                        Ok(r) => other(&r),
                        // A process killed by the test: the next one at once, so the
                        // others keep their full load.
                        Err(_) => {}
                    }
                }
            })
        })
        .collect()
}

fn wait_count(accepted: &Arc<Mutex<Vec<(String, i64)>>>, n: usize, limit: Duration, what: &str) {
    within(limit, what, || accepted.lock().unwrap().len() >= n);
}

#[test]
fn a_sigkill_of_one_of_two_processes_loses_nothing_acknowledged() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::new(Backend::Postgres));
    let mut node = TestNode::init_on(&db.setting());
    let a = Arc::new(node.authority("XA", "mla"));
    let rita = node.user("rita", "reviewer");
    node.configure("lifecycle", "scheduler_interval_seconds = 1");
    let mut p1 = Serve::start(&node, "one");
    let p2 = Serve::start(&node, "two");
    // One scheduler for the node, whichever process got the lease first.
    const LEASED: &str = "this process runs the node's scheduler";
    within(Duration::from_secs(10), "a scheduler", || {
        p1.log().contains(LEASED) || p2.log().contains(LEASED)
    });
    let stop = Arc::new(AtomicBool::new(false));
    let accepted: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let threads = intake(&a, &[p1.port, p2.port], 6, &stop, &accepted, |r| {
        panic!("unexpected answer {}: {}", r.status, r.text())
    });
    wait_count(&accepted, 60, Duration::from_secs(60), "60 acknowledged");
    assert!(
        !(p1.log().contains(LEASED) && p2.log().contains(LEASED)),
        "two schedulers:\n{}\n{}",
        p1.log(),
        p2.log()
    );
    p1.kill();
    // The survivor runs the scheduler once the other is gone (if it did not already).
    within(Duration::from_secs(10), "the survivor's scheduler", || {
        p2.log().contains(LEASED)
    });
    let at_kill = accepted.lock().unwrap().len();
    // The survivor goes on taking requests.
    wait_count(
        &accepted,
        at_kill + 40,
        Duration::from_secs(60),
        "40 more after the kill",
    );
    // The killed process starts again while the survivor takes requests: it reads the log
    // and the tables as they grow, and must neither refuse to start nor fork the log.
    let p1 = Serve::start(&node, "one-again");
    let restarted = accepted.lock().unwrap().len();
    wait_count(
        &accepted,
        restarted + 20,
        Duration::from_secs(60),
        "20 more after the restart",
    );
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    all_present(&p2, &rita, &accepted);
    audit_passes(&node.dir);
    verify_full(&node, &p2, "seen-survivor");
    within(Duration::from_secs(3), "one checkpoint", || {
        p1.checkpoint() == p2.checkpoint()
    });
    all_present(&p1, &rita, &accepted);
    verify_full(&node, &p1, "seen-restarted");
    node.kill();
}

/// A PostgreSQL server of its own in a temporary directory, stopped on drop.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

impl PrivatePostgres {
    /// `initdb` and `pg_ctl start`, as the `postgres` user when the test runs as root (initdb
    /// refuses root).
    fn start() -> PrivatePostgres {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let as_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        if as_root {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres", dir.path().to_str().unwrap()])
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown the server's directory to postgres");
        }
        let pg = PrivatePostgres { dir, port };
        pg.run(&[
            "initdb",
            "-D",
            &pg.data(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        pg.pg_ctl("start");
        pg.run(&[
            "createdb",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "custos",
        ]);
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/custos", self.port)
    }

    fn run(&self, args: &[&str]) {
        let program = format!("{PG_BIN}/{}", args[0]);
        let as_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        let out = if as_root {
            Command::new("runuser")
                .args(["-u", "postgres", "--", &program])
                .args(&args[1..])
                .current_dir(self.dir.path())
                .output()
        } else {
            Command::new(&program)
                .args(&args[1..])
                .current_dir(self.dir.path())
                .output()
        }
        .unwrap_or_else(|e| panic!("{program} runs ({e}); is PostgreSQL 15 installed?"));
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pg_ctl start|stop` (fast shutdown), waiting until done.
    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        self.run(&[
            "pg_ctl",
            action,
            "-D",
            &self.data(),
            "-m",
            "fast",
            "-w",
            "-o",
            &options,
            "-l",
            &log,
        ]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(format!("{PG_BIN}/pg_ctl"))
            .args(["stop", "-D", &data, "-m", "immediate", "-w"])
            .output();
        let _ = Command::new(format!("{PG_BIN}/pg_ctl"))
            .args(["stop", "-D", &data, "-m", "immediate", "-w"])
            .output();
    }
}

#[test]
fn a_postgresql_restart_under_load_answers_503_and_loses_nothing_acknowledged() {
    let pg = PrivatePostgres::start();
    let mut node = TestNode::init_on(&pg.url());
    let a = Arc::new(node.authority("XA", "mla"));
    let rita = node.user("rita", "reviewer");
    let p1 = Serve::start(&node, "one");
    let p2 = Serve::start(&node, "two");
    let stop = Arc::new(AtomicBool::new(false));
    let accepted: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    static REFUSED: AtomicUsize = AtomicUsize::new(0);
    let threads = intake(&a, &[p1.port, p2.port], 4, &stop, &accepted, |r| {
        // While the server restarts: a clean 503 saying when to retry, never a 500.
        assert_eq!(r.status, 503, "{}", r.text());
        let retry: u64 = r
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        REFUSED.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
    });
    wait_count(&accepted, 30, Duration::from_secs(60), "30 acknowledged");
    // The restart, with the server down long enough for requests to meet it.
    pg.pg_ctl("stop");
    within(
        Duration::from_secs(60),
        "503s while the server is down",
        || REFUSED.load(Ordering::SeqCst) >= 4,
    );
    let down = accepted.lock().unwrap().len();
    pg.pg_ctl("start");
    // Both processes recover by themselves.
    wait_count(
        &accepted,
        down + 40,
        Duration::from_secs(60),
        "40 more after the restart",
    );
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    eprintln!(
        "{} acknowledged, {} refused with 503 during the restart",
        accepted.lock().unwrap().len(),
        REFUSED.load(Ordering::SeqCst)
    );
    let accepted = accepted.lock().unwrap().clone();
    for s in [&p1, &p2] {
        all_present(s, &rita, &accepted);
    }
    within(Duration::from_secs(5), "one checkpoint", || {
        p1.checkpoint() == p2.checkpoint()
    });
    for s in [&p1, &p2] {
        let log = s.log();
        assert!(!log.contains("panicked"), "{log}");
    }
    audit_passes(&node.dir);
    verify_full(&node, &p1, "seen-one");
    verify_full(&node, &p2, "seen-two");
    node.kill();
}
