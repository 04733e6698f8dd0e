//! Invariants of signing and verification, over arbitrary payloads and arbitrary tampering.

use custos_jose::{PrivateJwk, PublicJwk, sign_compact, verify_compact};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// What we sign verifies, under our key only, and gives back the same payload.
    #[test]
    fn signatures_round_trip_under_the_signing_key_only(seed in any::<[u8; 32]>(), other in any::<[u8; 32]>(), payload in proptest::collection::vec(any::<u8>(), 1..512)) {
        prop_assume!(seed != other);
        let key = PrivateJwk::from_seed(&seed);
        let jws = sign_compact(&payload, &key, None);
        let verified = verify_compact(&jws, &key.public()).expect("own signature");
        prop_assert_eq!(verified.payload, payload);
        prop_assert!(verify_compact(&jws, &PrivateJwk::from_seed(&other).public()).is_err());
    }

    /// Changing any character of a signed JWS makes it fail verification.
    #[test]
    fn any_change_is_refused(seed in any::<[u8; 32]>(), payload in proptest::collection::vec(any::<u8>(), 1..256), at in any::<prop::sample::Index>(), with in "[A-Za-z0-9_.-]") {
        let key = PrivateJwk::from_seed(&seed);
        let jws = sign_compact(&payload, &key, None);
        let i = at.index(jws.len());
        let mut tampered = jws.clone();
        tampered.replace_range(i..=i, &with);
        prop_assume!(tampered != jws);
        prop_assert!(verify_compact(&tampered, &key.public()).is_err(), "{} verified", tampered);
    }

    /// The thumbprint depends only on the key, and a key survives its JSON form.
    #[test]
    fn jwk_json_round_trips(seed in any::<[u8; 32]>()) {
        let public = PrivateJwk::from_seed(&seed).public();
        let again = PublicJwk::parse(&public.to_json()).expect("own JSON parses");
        prop_assert_eq!(again.thumbprint(), public.thumbprint());
        prop_assert_eq!(again, public);
    }
}

/// An empty payload cannot be told from a detached one (RFC 7515 appendix F) in the compact
/// form, so verification refuses it, whoever signed it.
#[test]
fn an_empty_payload_is_refused_as_detached() {
    let key = PrivateJwk::from_seed(&[1; 32]);
    let jws = sign_compact(b"", &key, None);
    let err = verify_compact(&jws, &key.public()).expect_err("empty payload refused");
    assert!(err.to_string().contains("detached"), "{err}");
}
