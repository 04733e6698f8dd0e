//! The property the `parse_request` fuzz target checks, shared with the unit test that runs the
//! seed corpus (`crates/model/tests/fuzz_inputs.rs`): any bytes either parse or are refused with
//! problems that name a path — never a panic — and whatever parses survives a serialise/parse
//! round trip.

use custos_model::parse_request;

pub fn check(data: &[u8]) {
    match parse_request(data) {
        Ok(request) => {
            let json = serde_json::to_vec(&request).expect("a parsed request serialises");
            let again = parse_request(&json).expect("a serialised request parses");
            assert_eq!(again, request);
        }
        Err(invalid) => {
            assert!(!invalid.problems.is_empty());
            assert!(invalid.problems.iter().all(|p| p.path.starts_with('$')));
        }
    }
}
