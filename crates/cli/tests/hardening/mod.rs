//! The node under hostile clients (issue 10): stalled and idle connections, a list `limit` with
//! no cap, and decision bodies written as positional arrays.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{TestNode, request, try_http};

/// A `custos serve` started through `sh -c 'ulimit -n N; exec custos serve …'`, killed on drop.
struct LimitedNode {
    child: Child,
    port: u16,
}

impl LimitedNode {
    fn start(dir: &Path, log: &Path, nofile: u32) -> LimitedNode {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("sh")
            .arg("-c")
            // `ulimit -n` sets the soft and the hard limit: the node cannot raise it again.
            .arg(format!(
                "ulimit -n {nofile} && exec \"$0\" serve --dir \"$1\" --listen \"$2\""
            ))
            .arg(env!("CARGO_BIN_EXE_custos"))
            .arg(dir)
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("sh runs");
        let mut node = LimitedNode { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = node.child.try_wait().unwrap() {
                panic!(
                    "custos serve exited ({status}):\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if try_http(node.port, "GET", "/healthz", &[], b"").is_ok_and(|r| r.status == 200) {
                return node;
            }
            assert!(Instant::now() < deadline, "the node did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The node's "Max open files" line of /proc/PID/limits.
    fn open_files_limit(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/limits", self.child.id()))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap()
            .to_owned()
    }
}

impl Drop for LimitedNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /healthz` on a fresh connection, giving up after `within`; the status, or why not.
fn healthz_within(port: u16, within: Duration) -> Result<u16, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, within).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(
        within
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(1)),
    ))
    .unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(e) if raw.is_empty() => return Err(format!("read after {:?}: {e}", start.elapsed())),
        Err(_) => {}
    }
    let text = String::from_utf8_lossy(&raw);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {text:?}"))
}

/// Whether the peer has closed `s` by `deadline` (EOF or reset; any bytes read are skipped).
fn closed_by(s: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn stalled_connections_neither_lock_out_new_clients_nor_stay_open() {
    const STALLED: usize = 1_100;
    // The test itself holds 1,100 sockets.
    let soft = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    assert!(
        soft > 2 * STALLED as u64,
        "this test needs more than {} descriptors (soft limit {soft})",
        2 * STALLED
    );
    let node = TestNode::init();
    let log = node.tmp.path().join("serve.log");
    // The default configuration, under the descriptor limit many systems give a process.
    let limited = LimitedNode::start(&node.dir, &log, 1024);
    assert!(
        limited
            .open_files_limit()
            .split_whitespace()
            .filter(|w| *w == "1024")
            .count()
            == 2,
        "the node runs with 1,024 descriptors: {}",
        limited.open_files_limit()
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], limited.port));

    // 1,100 connections that never finish their request head: half send part of one, half
    // send nothing at all.
    let opened = Instant::now();
    let mut stalled = Vec::with_capacity(STALLED);
    for i in 0..STALLED {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("stalled connection {i}: {e}"));
        if i % 2 == 0 {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Stall: ");
        }
        stalled.push(s);
    }
    eprintln!(
        "opened {STALLED} stalled connections in {:?}",
        opened.elapsed()
    );

    // A new client is served promptly.
    let asked = Instant::now();
    let status = healthz_within(limited.port, Duration::from_secs(5));
    let took = asked.elapsed();
    eprintln!("GET /healthz behind {STALLED} stalled connections: {status:?} in {took:?}");
    assert_eq!(
        status,
        Ok(200),
        "a new client must be answered within 5 s while {STALLED} connections stall:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // Every stalled connection is closed within 30 s of being opened.
    let deadline = opened + Duration::from_secs(30);
    let still_open = stalled
        .iter_mut()
        .filter_map(|s| (!closed_by(s, deadline)).then_some(()))
        .count();
    eprintln!(
        "all but {still_open} of {STALLED} stalled connections closed after {:?}",
        opened.elapsed()
    );
    assert_eq!(still_open, 0, "stalled connections left open after 30 s");
    assert_eq!(
        healthz_within(limited.port, Duration::from_secs(5)),
        Ok(200)
    );
}

#[test]
fn kept_alive_connections_idle_past_the_timeout_are_closed() {
    // The default configuration: 5 s.
    let node = TestNode::start_new();
    let mut s = TcpStream::connect(("127.0.0.1", node.port)).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 256];
    while !raw.ends_with(b"ok\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before answering");
        raw.extend_from_slice(&buf[..n]);
    }
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    let idle = Instant::now();
    assert!(
        closed_by(&mut s, idle + Duration::from_secs(8)),
        "an idle kept-alive connection must be closed after keep_alive_timeout_seconds (5)"
    );
    let after = idle.elapsed();
    eprintln!("an idle kept-alive connection was closed after {after:?}");
    assert!(
        after >= Duration::from_millis(4_500),
        "closed too early: {after:?}"
    );
}

#[test]
fn a_list_limit_above_500_is_refused_naming_the_maximum() {
    let node = TestNode::start_new();
    let token = node.user("rita", "reviewer");
    let bearer = format!("Bearer {token}");
    let p = node.get("/v1/requests?limit=501", Some(&bearer)).problem(
        400,
        "limit-too-large",
        "at most 500",
    );
    assert!(p["detail"].as_str().unwrap().contains("limit=501"), "{p}");
    node.get("/v1/requests?limit=4294967295", Some(&bearer))
        .problem(400, "limit-too-large", "500");
    let r = node.get("/v1/requests?limit=500", Some(&bearer));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn decision_bodies_written_as_arrays_are_refused_naming_the_field() {
    let mut node = TestNode::start_new();
    let a = node.authority("XA", "mla,network_24_7,direct");
    let reviewer = node.user("rita", "reviewer");
    let sam = node.user("sam", "supervisor");
    let sue = node.user("sue", "supervisor");
    let bearer = format!("Bearer {reviewer}");
    let submit = |name: &str, id: &str| -> i64 {
        let r = node.submit_jws(&a.sign(&request(name, id, "XA")));
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["case"].as_i64().unwrap()
    };

    // The whole body by position: refused, and nothing recorded.
    let case = submit("p04-defamation-2y", "XA-ARRAY-1");
    let path = format!("/v1/requests/{case}/decision");
    let p = node
        .post_json(
            &path,
            &reviewer,
            &json!([
                "refuse",
                "Defamation is an expression offence.",
                null,
                null,
                []
            ]),
        )
        .problem(400, "invalid-json", "an object");
    assert_eq!(p["errors"][0]["pointer"], "$", "{p}");
    let c = node
        .get(&format!("/v1/requests/{case}"), Some(&bearer))
        .json();
    assert_eq!(c["status"], "assessed", "nothing was decided: {c}");

    // Nested terms by position.
    let narrowed = submit("p13-subscriber-plus-traffic", "XA-ARRAY-2");
    let path = format!("/v1/requests/{narrowed}/decision");
    let c = node
        .get(&format!("/v1/requests/{narrowed}"), Some(&bearer))
        .json();
    let terms = c["assessment"]["narrowed"].clone();
    let p = node
        .post_json(
            &path,
            &reviewer,
            &json!({"decision": "execute_narrowed", "reason": "As proposed.",
                    "narrowed": [terms["data_categories"], terms["period"], terms["confidentiality_until"]]}),
        )
        .problem(400, "invalid-json", "an object");
    assert_eq!(p["errors"][0]["pointer"], "$.narrowed", "{p}");
    let mut by_position = terms.clone();
    by_position["period"] = json!(["2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"]);
    let p = node
        .post_json(
            &path,
            &reviewer,
            &json!({"decision": "execute_narrowed", "reason": "As proposed.", "narrowed": by_position}),
        )
        .problem(400, "invalid-json", "an object");
    assert_eq!(p["errors"][0]["pointer"], "$.narrowed.period", "{p}");
    // Objects still work, and `null` still means "as proposed".
    let r = node.post_json(
        &path,
        &reviewer,
        &json!({"decision": "execute_narrowed", "reason": "As proposed.", "narrowed": null}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // A second review by position.
    let death = submit("p12-death-penalty", "XA-ARRAY-3");
    let r = node.post_json(
        &format!("/v1/requests/{death}/decision"),
        &sam,
        &json!({"decision": "execute", "reason": "The requesting state gave a binding assurance against the death penalty."}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "awaiting_second_review");
    let p = node
        .post_json(
            &format!("/v1/requests/{death}/second-review"),
            &sue,
            &json!([true, "Confirmed."]),
        )
        .problem(400, "invalid-json", "an object");
    assert_eq!(p["errors"][0]["pointer"], "$", "{p}");
    let c = node
        .get(&format!("/v1/requests/{death}"), Some(&bearer))
        .json();
    assert_eq!(
        c["status"], "awaiting_second_review",
        "nothing was confirmed: {c}"
    );
}
