//! Fuzzes the request parser (the property is in `checks/parse_request.rs`).
#![no_main]

#[path = "../checks/parse_request.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
