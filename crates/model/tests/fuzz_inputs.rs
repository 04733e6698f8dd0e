//! The `parse_request` fuzz target's property (fuzz/checks/parse_request.rs, the same file the
//! target compiles) over its seed corpus and regression inputs (fuzz/seeds/parse_request/) and
//! every shared case, so that what fuzzing found once stays fixed without a nightly toolchain.

#[path = "../../../fuzz/checks/parse_request.rs"]
mod check;

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn every_seed_and_regression_input_of_the_parse_request_fuzz_target_holds() {
    let corpus = files(&repo().join("fuzz/seeds/parse_request"));
    assert!(corpus.len() >= 10, "the corpus is there");
    for path in &corpus {
        let data = std::fs::read(path).unwrap();
        // A panic names the input.
        eprintln!("{}", path.display());
        check::check(&data);
    }
}

#[test]
fn every_shared_case_holds_as_a_fuzz_input_whole_and_as_its_request() {
    let cases = files(&repo().join("testdata/cases"));
    for path in cases
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let data = std::fs::read(path).unwrap();
        check::check(&data);
        let case: serde_json::Value = serde_json::from_slice(&data).unwrap();
        check::check(&serde_json::to_vec(&case["request"]).unwrap());
    }
}
