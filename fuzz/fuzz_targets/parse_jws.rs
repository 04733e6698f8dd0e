//! Fuzzes what intake reads before and while checking a signature: the compact JWS parser, the
//! JWK parser, and verification (the property is in `checks/parse_jws.rs`).
#![no_main]

#[path = "../checks/parse_jws.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
