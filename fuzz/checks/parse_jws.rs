//! The property the `parse_jws` fuzz target checks, shared with the unit test that runs the seed
//! corpus (`crates/jose/tests/fuzz_inputs.rs`): the compact-JWS and JWK parsers never panic,
//! nothing verifies under a key that did not sign it, and our own signatures round-trip.

use custos_jose::{PrivateJwk, PublicJwk, parse_compact, sign_compact, verify_compact};

pub fn check(data: &[u8]) {
    let key = PrivateJwk::from_seed(&[7u8; 32]);
    let public = key.public();
    if let Ok(text) = std::str::from_utf8(data) {
        // Arbitrary text as a JWS: parse, then verify under a key that never signed it.
        if let Ok(unverified) = parse_compact(text) {
            let _ = unverified.header().kid.as_deref();
            assert!(
                unverified.verify(&public).is_err(),
                "verified a JWS our key never signed"
            );
        }
        // Arbitrary text as a JWK.
        if let Ok(jwk) = PublicJwk::parse(text) {
            assert_eq!(PublicJwk::parse(&jwk.to_json()).ok(), Some(jwk.clone()));
            assert_eq!(jwk.thumbprint().len(), 43);
        }
        let _ = PrivateJwk::parse(text);
    }
    // Arbitrary bytes as a payload: what we sign verifies and returns the same bytes (an empty
    // payload reads as detached and is refused).
    let jws = sign_compact(data, &key, Some("custos.request/v1+jws"));
    match verify_compact(&jws, &public) {
        Ok(verified) => assert_eq!(verified.payload, data),
        Err(e) => assert!(data.is_empty(), "our own signature failed: {e}"),
    }
}
