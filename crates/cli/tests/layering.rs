//! The layering rules of ARCHITECTURE.md, checked over `cargo metadata` so that a dependency
//! added against them fails the build's tests instead of waiting for a review to notice.
//! Only normal and build dependencies count: a test may use any crate.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Each workspace crate's Custos dependencies (normal and build), by package name.
fn custos_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let mut graph = BTreeMap::new();
    for package in meta["packages"].as_array().expect("packages") {
        let deps = package["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].as_str() != Some("dev"))
            .filter_map(|d| d["name"].as_str())
            .filter(|name| name.starts_with("custos-"))
            .map(str::to_owned)
            .collect();
        graph.insert(package["name"].as_str().expect("name").to_owned(), deps);
    }
    graph
}

/// The rules: for each crate, the Custos crates it may depend on (normal and build).
const ALLOWED: &[(&str, &[&str])] = &[
    // The vocabulary and the pure cores depend on no Custos crate above them.
    ("custos-model", &[]),
    ("custos-jose", &[]),
    ("custos-ledger", &[]),
    // Transparency reports are a pure core over the vocabulary and the log's commitments.
    ("custos-transparency", &["custos-model", "custos-ledger"]),
    // Safeguards and ledger know nothing of each other.
    ("custos-safeguards", &["custos-model"]),
    // The policy workbench reasons about profiles from above; a node never depends on it.
    ("custos-policy", &["custos-model", "custos-safeguards"]),
    // Sealing knows requests and the log's signatures, nothing of HTTP or databases.
    ("custos-seal", &["custos-model", "custos-ledger"]),
    // The store keeps rows and events: no rules, no HTTP.
    ("custos-store", &["custos-model", "custos-ledger"]),
    // The service decides and serves; it never depends on its clients.
    (
        "custos-service",
        &[
            "custos-model",
            "custos-safeguards",
            "custos-ledger",
            "custos-jose",
            "custos-seal",
            "custos-store",
            "custos-transparency",
        ],
    ),
    // The console and the CLI are edges: they reach the store only through the service.
    (
        "custos-console",
        &[
            "custos-model",
            "custos-safeguards",
            "custos-ledger",
            "custos-jose",
            "custos-service",
            "custos-transparency",
        ],
    ),
    (
        "custos-cli",
        &[
            "custos-model",
            "custos-safeguards",
            "custos-ledger",
            "custos-jose",
            "custos-seal",
            "custos-service",
            "custos-console",
            "custos-transparency",
            "custos-witness",
            "custos-policy",
        ],
    ),
    // The witness checks a log from outside: it knows checkpoints and proofs, nothing of a node.
    ("custos-witness", &["custos-ledger"]),
    // The load generator talks to a node over HTTP like any client.
    ("custos-loadgen", &["custos-jose"]),
    ("custos-bench", &[]),
];

/// Every edge of `graph` the table does not allow, in words.
fn violations(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(c, deps)| (*c, deps.iter().copied().collect()))
        .collect();
    let mut broken = Vec::new();
    for (krate, deps) in graph {
        let Some(ok) = allowed.get(krate.as_str()) else {
            broken.push(format!(
                "{krate} is not in the layering table: add it to ALLOWED here and to ARCHITECTURE.md"
            ));
            continue;
        };
        for dep in deps {
            if !ok.contains(dep.as_str()) {
                broken.push(format!(
                    "{krate} depends on {dep}, which ARCHITECTURE.md's layering forbids"
                ));
            }
        }
    }
    broken
}

#[test]
fn every_crate_keeps_to_the_layering_of_architecture_md() {
    let broken = violations(&custos_dependencies());
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn a_forbidden_dependency_is_named() {
    let mut graph = custos_dependencies();
    for (from, to) in [
        ("custos-cli", "custos-store"),
        ("custos-model", "custos-jose"),
        ("custos-ledger", "custos-safeguards"),
    ] {
        graph.get_mut(from).expect(from).insert(to.into());
    }
    graph.insert("custos-new".into(), BTreeSet::new());
    assert_eq!(
        violations(&graph),
        [
            "custos-cli depends on custos-store, which ARCHITECTURE.md's layering forbids",
            "custos-ledger depends on custos-safeguards, which ARCHITECTURE.md's layering forbids",
            "custos-model depends on custos-jose, which ARCHITECTURE.md's layering forbids",
            "custos-new is not in the layering table: add it to ALLOWED here and to ARCHITECTURE.md",
        ]
    );
}

#[test]
fn the_layering_table_names_only_crates_that_exist() {
    let graph = custos_dependencies();
    for (krate, deps) in ALLOWED {
        assert!(graph.contains_key(*krate), "{krate} is no workspace crate");
        for dep in *deps {
            assert!(graph.contains_key(*dep), "{dep} is no workspace crate");
        }
    }
}
