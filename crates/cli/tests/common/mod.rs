//! Shared helpers of the tests that drive a real `custos serve` over real HTTP: a node in a
//! temporary directory on a free port (killed on drop), the `custos` binary, a minimal HTTP/1.1
//! client on `std::net::TcpStream`, authorities and users.

#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use custos_jose::{PrivateJwk, sign_compact};
use serde_json::{Value, json};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the `custos` binary.
pub fn custos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(args)
        .output()
        .expect("the custos binary runs")
}

/// Runs the `custos` binary, asserts exit 0, returns stdout.
pub fn custos_ok(args: &[&str]) -> String {
    let out = custos(args);
    assert!(
        out.status.success(),
        "custos {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// An HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }
    /// Asserts an RFC 9457 problem: status, `type` slug, a phrase of `detail`. Returns it.
    pub fn problem(&self, status: u16, slug: &str, phrase: &str) -> Value {
        assert_eq!(self.status, status, "status; body: {}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "a problem's content type; body: {}",
            self.text()
        );
        let p = self.json();
        assert_eq!(p["status"], status, "{p}");
        let kind = p["type"].as_str().unwrap_or_default();
        assert!(
            kind.ends_with(&format!("/{slug}")),
            "type {kind} should end in /{slug}: {p}"
        );
        let detail = p["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(phrase),
            "detail should mention {phrase:?}: {detail}"
        );
        p
    }
}

/// One HTTP/1.1 request (`Connection: close`); panics if the node does not answer.
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    try_http(port, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} {path}: no response: {e}"))
}

/// One HTTP/1.1 request (`Connection: close`).
pub fn try_http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    // The server may answer (413) and stop reading before the whole body is sent.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    if let Err(e) = s.read_to_end(&mut raw)
        && raw.is_empty()
    {
        return Err(e);
    }
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(std::io::Error::other(format!(
            "no HTTP head in {:?}",
            String::from_utf8_lossy(&raw)
        )));
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut rest = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            let nl = rest[i..].windows(2).position(|w| w == b"\r\n").unwrap() + i;
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[i..nl])
                    .split(';')
                    .next()
                    .unwrap()
                    .trim(),
                16,
            )
            .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
            i = nl + 2 + size + 2;
        }
        rest = out;
    }
    Ok(Resp {
        status,
        headers,
        body: rest,
    })
}

/// A requesting authority registered on a node.
pub struct Authority {
    pub key: PrivateJwk,
    pub kid: String,
    pub key_path: PathBuf,
    pub state: String,
}

impl Authority {
    /// Signs a payload as a request.
    pub fn sign(&self, payload: &Value) -> String {
        sign_compact(
            &serde_json::to_vec(payload).unwrap(),
            &self.key,
            Some("custos.request/v1+jws"),
        )
    }
    /// `Authorization: Custos-JWS …` proof for a read.
    pub fn proof(&self, method: &str, path: &str) -> String {
        let claims = json!({"htm": method, "htu": path, "iat": jiff::Timestamp::now().as_second()});
        format!(
            "Custos-JWS {}",
            sign_compact(&serde_json::to_vec(&claims).unwrap(), &self.key, None)
        )
    }
}

/// A node in a temporary directory.
pub struct TestNode {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub port: u16,
    pub vkey: String,
    child: Option<Child>,
    keys: u32,
}

impl TestNode {
    /// `custos init` in a fresh temporary directory (not started).
    pub fn init() -> TestNode {
        TestNode::init_with(&[])
    }

    /// `custos init --database DATABASE` in a fresh temporary directory (not started).
    pub fn init_on(database: &str) -> TestNode {
        TestNode::init_with(&["--database", database])
    }

    fn init_with(extra: &[&str]) -> TestNode {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("node");
        let mut args = vec!["init", "--dir", dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        let vkey = custos_ok(&args).trim().to_owned();
        TestNode {
            tmp,
            dir,
            port: 0,
            vkey,
            child: None,
            keys: 0,
        }
    }

    /// Initialised and started.
    pub fn start_new() -> TestNode {
        let mut n = TestNode::init();
        n.start();
        n
    }

    pub fn dir_str(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    pub fn server(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Appends TOML to the node's configuration (replacing a section the same name).
    pub fn configure(&self, section: &str, body: &str) {
        let path = self.dir.join("custos.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut out = String::new();
        let mut skipping = false;
        for line in text.lines() {
            if line.trim_start().starts_with('[') {
                skipping = line.trim() == format!("[{section}]");
            }
            if !skipping {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(&format!("\n[{section}]\n{body}\n"));
        std::fs::write(&path, out).unwrap();
    }

    /// Starts `custos serve` on a free port and waits for /healthz.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        self.port = free_port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.tmp.path().join("serve.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_custos"))
            .args([
                "serve",
                "--dir",
                self.dir_str(),
                "--listen",
                &format!("127.0.0.1:{}", self.port),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("custos serve starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                panic!("custos serve exited ({status}):\n{}", self.server_log());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && http(self.port, "GET", "/healthz", &[], b"").status == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the node did not come up:\n{}",
                self.server_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("serve.log")).unwrap_or_default()
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and wait for a graceful exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = c.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.wait();
        }
    }

    pub fn get(&self, path: &str, auth: Option<&str>) -> Resp {
        let h: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        http(self.port, "GET", path, &h, b"")
    }

    pub fn post_json(&self, path: &str, token: &str, body: &Value) -> Resp {
        let auth = format!("Bearer {token}");
        http(
            self.port,
            "POST",
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            &serde_json::to_vec(body).unwrap(),
        )
    }

    /// POSTs a compact JWS to /v1/requests.
    pub fn submit_jws(&self, jws: &str) -> Resp {
        http(
            self.port,
            "POST",
            "/v1/requests",
            &[("content-type", "application/jose")],
            jws.as_bytes(),
        )
    }

    /// Makes a key with `custos authority keygen` and registers it.
    pub fn authority(&mut self, state: &str, channels: &str) -> Authority {
        self.keys += 1;
        let key_path = self.tmp.path().join(format!("auth{}.jwk", self.keys));
        let kid = custos_ok(&["authority", "keygen", "-o", key_path.to_str().unwrap()])
            .trim()
            .to_owned();
        let pub_path = key_path.with_extension("pub.jwk");
        let added = custos_ok(&[
            "authority",
            "add",
            "--dir",
            self.dir_str(),
            "--state",
            state,
            "--name",
            &format!("Central authority of {state} #{}", self.keys),
            "--kind",
            "central_authority",
            "--jwk",
            pub_path.to_str().unwrap(),
            "--channels",
            channels,
        ]);
        assert_eq!(added.trim(), kid, "authority add prints the kid");
        let key = PrivateJwk::parse(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
        Authority {
            key,
            kid,
            key_path,
            state: state.into(),
        }
    }

    /// Adds a user; returns its token.
    pub fn user(&self, name: &str, role: &str) -> String {
        custos_ok(&[
            "user",
            "add",
            "--dir",
            self.dir_str(),
            "--name",
            name,
            "--role",
            role,
        ])
        .trim()
        .to_owned()
    }

    /// The size in the latest checkpoint.
    pub fn log_size(&self) -> u64 {
        let r = self.get("/log/checkpoint", None);
        assert_eq!(r.status, 200, "{}", r.text());
        r.text().lines().nth(1).unwrap().parse().unwrap()
    }

    /// Polls `check` every 100 ms for up to `secs` seconds.
    pub fn wait_for(&self, secs: u64, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !check() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                self.server_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `request` of testdata/cases/NAME.json (or examples/request.json for "example"), with a fresh
/// `submitted_at`, the given id and requesting state.
pub fn request(name: &str, id: &str, state: &str) -> Value {
    let mut r: Value = if name == "example" {
        serde_json::from_slice(&std::fs::read(repo().join("examples/request.json")).unwrap())
            .unwrap()
    } else {
        let c: Value = serde_json::from_slice(
            &std::fs::read(repo().join(format!("testdata/cases/{name}.json"))).unwrap(),
        )
        .unwrap();
        c["request"].clone()
    };
    r["id"] = id.into();
    r["submitted_at"] = jiff::Timestamp::now().to_string().into();
    r["requesting_authority"]["state"] = state.into();
    r
}

pub fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// The password [`console_session`] sets.
pub const CONSOLE_PASSWORD: &str = "correct horse battery staple";

/// Sets `name`'s console password and signs it in; returns the session's cookie header.
pub fn console_session(node: &TestNode, name: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["user", "password", "--dir", node.dir_str(), "--name", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{CONSOLE_PASSWORD}").unwrap();
    assert!(child.wait().unwrap().success());
    let page = node.get("/console/sign-in", None);
    let token = page
        .header("set-cookie")
        .and_then(|c| c.strip_prefix("custos_signin="))
        .and_then(|c| c.split(';').next())
        .expect("the sign-in cookie")
        .to_owned();
    let r = http(
        node.port,
        "POST",
        "/console/sign-in",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &format!("custos_signin={token}")),
        ],
        format!(
            "csrf={token}&name={name}&password={}",
            CONSOLE_PASSWORD.replace(' ', "+")
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let session = r
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, v)| v.strip_prefix("custos_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    format!("custos_session={session}")
}

pub fn console_get(node: &TestNode, cookie: &str, path: &str) -> String {
    let r = http(node.port, "GET", path, &[("cookie", cookie)], b"");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.text()
}

/// A `custos witness serve` process, killed on drop.
pub struct WitnessProcess {
    child: std::process::Child,
    pub port: u16,
    log: std::path::PathBuf,
}

impl WitnessProcess {
    pub fn start(dir: &str, log_vkey: &str, log: std::path::PathBuf) -> WitnessProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
            .args([
                "witness",
                "serve",
                "--dir",
                dir,
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--log",
                log_vkey,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("custos witness serve starts");
        let mut w = WitnessProcess { child, port, log };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = w.child.try_wait().unwrap() {
                panic!("custos witness serve exited ({status}): {}", w.stderr());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the witness did not come up"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        w
    }

    /// The witness's address, as `custos witness add --url` takes it.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What it wrote to its standard error.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `POST /add-checkpoint` (C2SP tlog-witness) with `body`.
    pub fn add_checkpoint(&self, body: &str) -> Resp {
        http(self.port, "POST", "/add-checkpoint", &[], body.as_bytes())
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// rights-first.cedar without the three `judicial-authorization` rules (still @profile
/// "rights-first", so held to its properties).
pub fn judgeless_copy(dir: &Path) -> PathBuf {
    let source =
        std::fs::read_to_string(repo().join("crates/safeguards/policies/rights-first.cedar"))
            .unwrap();
    let parts: Vec<&str> = source.split("\n@code(").collect();
    let kept: Vec<&str> = parts
        .iter()
        .enumerate()
        .filter(|(i, p)| *i == 0 || !p.starts_with("\"judicial-authorization\")"))
        .map(|(_, p)| *p)
        .collect();
    assert_eq!(parts.len() - kept.len(), 3);
    let path = dir.join("no-judge.cedar");
    std::fs::write(&path, kept.join("\n@code(")).unwrap();
    path
}
