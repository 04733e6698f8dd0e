//! RFC 8037 appendix A: the Ed25519 JWK, its RFC 7638 thumbprint, and the compact JWS.

use custos_jose::{JoseError, PrivateJwk, PublicJwk, parse_compact, sign_compact, verify_compact};

fn vector() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/vectors/jws-ed25519.json"
    ))
    .expect("testdata/vectors/jws-ed25519.json");
    serde_json::from_str(&text).expect("vector JSON")
}

fn public_jwk(v: &serde_json::Value) -> PublicJwk {
    let mut jwk = v["jwk_private"].clone();
    jwk.as_object_mut().expect("object").remove("d");
    PublicJwk::parse(&jwk.to_string()).expect("public JWK parses")
}

#[test]
fn rfc8037_thumbprint() {
    // RFC 8037 A.3 gives this kid for the appendix key.
    let key = public_jwk(&vector());
    assert_eq!(
        key.thumbprint(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

#[test]
fn rfc8037_jws_verifies_and_signs_identically() {
    let v = vector();
    let key = public_jwk(&v);
    let jws = v["jws_compact"].as_str().expect("jws");
    let verified = verify_compact(jws, &key).expect("RFC 8037 A.4 signature verifies");
    assert_eq!(
        verified.payload,
        v["payload_text"].as_str().expect("text").as_bytes()
    );
    assert_eq!(verified.header.alg, "EdDSA");

    // The private JWK of the appendix parses, and its public half is the same key.
    let private = PrivateJwk::parse(&v["jwk_private"].to_string()).expect("private JWK");
    assert_eq!(private.public(), key);
    let unverified = parse_compact(jws).expect("parts");
    assert!(unverified.header().kid.is_none());
}

#[test]
fn a_flipped_bit_anywhere_is_refused() {
    let v = vector();
    let key = public_jwk(&v);
    let jws = v["jws_compact"].as_str().expect("jws");
    for i in 0..jws.len() {
        let mut bytes = jws.as_bytes().to_vec();
        if bytes[i] == b'.' {
            continue;
        }
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let Ok(tampered) = String::from_utf8(bytes) else {
            continue;
        };
        if tampered == jws {
            continue;
        }
        assert!(
            verify_compact(&tampered, &key).is_err(),
            "tampered at byte {i} still verified"
        );
    }
}

#[test]
fn refuses_other_algorithms_crit_and_private_keys() {
    let v = vector();
    let key = public_jwk(&v);
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let sig = v["jws_compact"]
        .as_str()
        .expect("jws")
        .rsplit('.')
        .next()
        .expect("sig");
    for (header, expect) in [
        (r#"{"alg":"none"}"#, "alg is \"none\""),
        (r#"{"alg":"HS256"}"#, "alg is \"HS256\""),
        (r#"{"alg":"EdDSA","crit":["exp"]}"#, "crit"),
        (r#"{"alg":"EdDSA","b64":false}"#, "b64"),
        (r#"["EdDSA"]"#, "not a JSON object"),
    ] {
        let jws = format!("{}.{}.{sig}", b64(header), b64("x"));
        let err = verify_compact(&jws, &key).expect_err(header).to_string();
        assert!(err.contains(expect), "{header}: {err}");
    }
    assert!(matches!(
        verify_compact("a.b", &key),
        Err(JoseError::Malformed(_))
    ));
    let err = PublicJwk::parse(&v["jwk_private"].to_string()).expect_err("private refused");
    assert!(err.to_string().contains("private key"), "{err}");
    let err = PublicJwk::parse(r#"{"kty":"EC","crv":"P-256","x":"a","y":"b"}"#).expect_err("EC");
    assert!(err.to_string().contains("kty is \"EC\""), "{err}");
}

#[test]
fn our_signatures_carry_the_thumbprint_and_verify() {
    let key = PrivateJwk::generate();
    let jws = sign_compact(b"{\"a\":1}", &key, Some("custos.request/v1+jws"));
    let parsed = parse_compact(&jws).expect("parts");
    assert_eq!(
        parsed.header().kid.as_deref(),
        Some(key.public().thumbprint().as_str())
    );
    let other = PrivateJwk::generate();
    let err = verify_compact(&jws, &other.public()).expect_err("wrong key");
    assert!(matches!(err, JoseError::BadSignature { .. }));
    assert_eq!(
        verify_compact(&jws, &key.public()).expect("ok").payload,
        b"{\"a\":1}"
    );
    assert!(!format!("{key:?}").contains(&*key.to_json()));
}
