//! Fuzzes the request parser: any bytes must either parse or be refused with problems that name
//! a path — never panic — and whatever parses must survive a serialise/parse round trip.
#![no_main]

use custos_model::parse_request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
