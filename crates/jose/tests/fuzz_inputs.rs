//! The `parse_jws` fuzz target's property (fuzz/checks/parse_jws.rs, the same file the target
//! compiles) over its seed corpus and regression inputs (fuzz/seeds/parse_jws/), so that what
//! fuzzing found once stays fixed without a nightly toolchain.

#[path = "../../../fuzz/checks/parse_jws.rs"]
mod check;

use std::path::Path;

#[test]
fn every_seed_and_regression_input_of_the_parse_jws_fuzz_target_holds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/parse_jws");
    let mut corpus: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    corpus.sort();
    assert!(corpus.len() >= 8, "the corpus is there");
    for path in &corpus {
        let data = std::fs::read(path).unwrap();
        eprintln!("{}", path.display());
        check::check(&data);
    }
}
