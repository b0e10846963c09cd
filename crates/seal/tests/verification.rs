mod common;

use common::*;
use hybridpost_seal::*;
use std::collections::HashMap;

fn verify_with(seal: &Seal, trust: &TrustList) -> Verdict {
    seal.verify(&VerifyContext { trust_list: trust, today: today(), withdrawn: &no_withdrawals })
}

fn check_text(text: &str, trust: &TrustList) -> Verdict {
    verify_qr_text(text, &VerifyContext { trust_list: trust, today: today(), withdrawn: &no_withdrawals })
}

#[test]
fn genuine_seal_verifies_with_its_payload_key_and_issuer() {
    let key = issuer_key();
    let payload = realistic_payload();
    let seal = Seal::sign(&payload, &key).expect("sign");
    let trust = trust_list_with(&[&key]);
    let verdict = check_text(&seal.to_qr_text(HOST), &trust);
    assert_eq!(verdict, Verdict::Genuine { payload, key_id: key.id(), issuer: "MDES01".into() });
}

#[test]
fn seal_is_a_cose_sign1_with_es256_and_kid_in_the_protected_header() {
    let key = issuer_key();
    let seal = Seal::sign(&realistic_payload(), &key).expect("sign");
    let bytes = seal.as_bytes();
    // Array of 4 (0x84), then bstr of 13 bytes (0x4d) holding {1: -7, 4: h'kid'} = a2 01 26 04 48 <kid>.
    assert_eq!(&bytes[..7], &[0x84, 0x4d, 0xa2, 0x01, 0x26, 0x04, 0x48]);
    assert_eq!(&bytes[7..15], &key.id().0);
    // Empty unprotected map, then the payload bstr.
    assert_eq!(bytes[15], 0xa0);
}

#[test]
fn key_id_is_the_first_eight_bytes_of_sha256_over_spki() {
    use sha2::{Digest, Sha256};
    let key = issuer_key();
    let spki = key.public_key().to_spki_der().expect("spki");
    assert_eq!(key.id().0.as_slice(), &Sha256::digest(&spki)[..8]);
}

#[test]
fn tampered_seal_is_rejected_at_every_byte_without_panicking() {
    let key = issuer_key();
    let seal = Seal::sign(&realistic_payload(), &key).expect("sign");
    let trust = trust_list_with(&[&key]);
    let bytes = seal.as_bytes().to_vec();
    for i in 0..bytes.len() {
        let mut changed = bytes.clone();
        changed[i] ^= 0x01;
        let verdict = verify_with(&Seal::from_bytes(changed), &trust);
        assert!(
            matches!(verdict, Verdict::BadSignature | Verdict::Malformed(_) | Verdict::UnknownKey { .. }),
            "byte {i}: {verdict:?}"
        );
    }
}

#[test]
fn changed_payload_byte_gives_bad_signature() {
    let key = issuer_key();
    let seal = Seal::sign(&realistic_payload(), &key).expect("sign");
    let trust = trust_list_with(&[&key]);
    let mut bytes = seal.as_bytes().to_vec();
    // The last digest byte sits just before expiry (3 bytes + key) and the signature (66 bytes).
    let idx = bytes.len() - 66 - 6;
    bytes[idx] ^= 0x80;
    assert_eq!(verify_with(&Seal::from_bytes(bytes), &trust), Verdict::BadSignature);
}

#[test]
fn changed_character_in_qr_text_is_rejected() {
    let key = issuer_key();
    let seal = Seal::sign(&realistic_payload(), &key).expect("sign");
    let trust = trust_list_with(&[&key]);
    let text = seal.to_qr_text(HOST);
    let pos = text.len() - 150;
    let mut chars: Vec<char> = text.chars().collect();
    chars[pos] = if chars[pos] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    assert!(matches!(check_text(&tampered, &trust), Verdict::BadSignature | Verdict::Malformed(_)));
}

#[test]
fn seal_by_unknown_key_gives_unknown_key() {
    let trusted = issuer_key();
    let stranger = issuer_key();
    let seal = Seal::sign(&realistic_payload(), &stranger).expect("sign");
    let trust = trust_list_with(&[&trusted]);
    assert_eq!(verify_with(&seal, &trust), Verdict::UnknownKey { key_id: stranger.id() });
}

#[test]
fn signature_by_another_key_under_a_trusted_kid_gives_bad_signature() {
    let trusted = issuer_key();
    let forger = issuer_key();
    // Sign with the forger, then claim the trusted key's kid; the protected header is signed,
    // so the forger must sign it with the claimed kid too.
    let payload = realistic_payload().to_cbor().expect("cbor");
    let protected =
        coset::HeaderBuilder::new().algorithm(coset::iana::Algorithm::ES256).key_id(trusted.id().0.to_vec()).build();
    let forged = coset::CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(&[], |tbs| forger.sign(tbs).to_vec())
        .build();
    let bytes = coset::CborSerializable::to_vec(forged).expect("encode");
    let trust = trust_list_with(&[&trusted]);
    assert_eq!(verify_with(&Seal::from_bytes(bytes), &trust), Verdict::BadSignature);
}

#[test]
fn verifier_tries_every_trusted_key_sharing_a_kid() {
    let key = issuer_key();
    let other = issuer_key();
    let seal = Seal::sign(&realistic_payload(), &key).expect("sign");
    let mut trust = trust_list_with(&[&other, &key]);
    // Two entries share the kid (here the same key listed with two validity periods); only the
    // second covers the issue date, so the verifier must not stop at the first match.
    let mut early = key.trusted_key();
    early.validity = Validity { not_before: d(2020, 1, 1), not_after: d(2020, 12, 31) };
    trust.keys.insert(0, early);
    assert!(verify_with(&seal, &trust).is_genuine());
}

#[test]
fn key_outside_its_validity_gives_key_not_valid_at_issue() {
    let key = issuer_key();
    let seal = Seal::sign(&realistic_payload(), &key).expect("sign");
    // The trust list later narrows the key's validity (e.g. after a compromise was detected).
    let mut trusted = key.trusted_key();
    trusted.validity = Validity { not_before: d(2026, 1, 1), not_after: d(2026, 2, 28) };
    let trust = TrustList { sequence: 2, issued: d(2026, 3, 5), next_update: None, keys: vec![trusted] };
    assert_eq!(verify_with(&seal, &trust), Verdict::KeyNotValidAtIssue { key_id: key.id(), issue_date: d(2026, 3, 1) });
}

#[test]
fn signing_outside_key_validity_is_refused() {
    let key = issuer_key();
    let mut payload = realistic_payload();
    payload.issue_date = d(2028, 1, 1);
    assert_eq!(Seal::sign(&payload, &key), Err(SealError::KeyNotValid));
}

#[test]
fn seal_past_its_expiry_gives_expired() {
    let key = issuer_key();
    let mut payload = realistic_payload();
    payload.expires = d(2026, 3, 5);
    let seal = Seal::sign(&payload, &key).expect("sign");
    let trust = trust_list_with(&[&key]);
    assert_eq!(verify_with(&seal, &trust), Verdict::Expired { expires: d(2026, 3, 5) });
}

#[test]
fn payload_claiming_another_issuer_gives_issuer_mismatch() {
    let key = issuer_key();
    let mut payload = realistic_payload();
    payload.issuer = "RD0001".into();
    assert_eq!(Seal::sign(&payload, &key), Err(SealError::IssuerMismatch));
    let other_issuer = SigningKey::generate("RD0001", key_valid_2026_2027()).expect("key");
    let seal = Seal::sign(&payload, &other_issuer).expect("sign");
    let mut entry = other_issuer.trusted_key();
    entry.issuer = "MDES01".into();
    let trust = TrustList { sequence: 1, issued: d(2026, 1, 1), next_update: None, keys: vec![entry] };
    assert_eq!(
        verify_with(&seal, &trust),
        Verdict::IssuerMismatch { key_issuer: "MDES01".into(), claimed: "RD0001".into() }
    );
}

#[test]
fn withdrawn_letter_gives_withdrawn_with_its_reason() {
    let key = issuer_key();
    let payload = realistic_payload();
    let seal = Seal::sign(&payload, &key).expect("sign");
    let trust = trust_list_with(&[&key]);
    let mut withdrawn = HashMap::new();
    withdrawn.insert(payload.reference.clone(), WithdrawalReason::Superseded);
    let check = |r: &Reference| withdrawn.get(r).copied();
    let ctx = VerifyContext { trust_list: &trust, today: today(), withdrawn: &check };
    assert_eq!(seal.verify(&ctx), Verdict::Withdrawn(WithdrawalReason::Superseded));
    let other = Seal::sign(&realistic_payload(), &key).expect("sign");
    assert!(other.verify(&ctx).is_genuine());
}

#[test]
fn truncated_seal_is_malformed() {
    let key = issuer_key();
    let seal = Seal::sign(&realistic_payload(), &key).expect("sign");
    let trust = trust_list_with(&[&key]);
    let bytes = seal.as_bytes();
    for len in 0..bytes.len() {
        let verdict = verify_with(&Seal::from_bytes(bytes[..len].to_vec()), &trust);
        assert!(matches!(verdict, Verdict::Malformed(_)), "length {len}: {verdict:?}");
    }
    let text = seal.to_qr_text(HOST);
    let verdict = check_text(&text[..text.len() - 40], &trust);
    assert!(matches!(verdict, Verdict::Malformed(_)), "{verdict:?}");
}

#[test]
fn over_long_seal_is_malformed() {
    let key = issuer_key();
    let trust = trust_list_with(&[&key]);
    let long = vec![0x41u8; MAX_SEAL_BYTES + 1];
    assert!(matches!(verify_with(&Seal::from_bytes(long.clone()), &trust), Verdict::Malformed(_)));
    let text = format!("HTTPS://{}/V#{}", HOST.to_uppercase(), base32_encode(&long));
    assert!(matches!(check_text(&text, &trust), Verdict::Malformed(_)));
    let huge = format!("HTTPS://{}/V#{}", HOST.to_uppercase(), "A".repeat(100_000));
    assert!(matches!(check_text(&huge, &trust), Verdict::Malformed(_)));
}

#[test]
fn non_seal_qr_text_is_not_a_seal() {
    let key = issuer_key();
    let trust = trust_list_with(&[&key]);
    for text in [
        "",
        "HELLO",
        "https://example.com/",
        "https://example.com/path?q=1",
        "HTTPS://",
        "HTTPS:///V#AAAA",
        "WIFI:S:home;T:WPA;P:secret;;",
        "mailto:someone@example.com",
        "HTTPS://EXAMPLE.COM/V",
        "HTTPS://EXA MPLE.COM/V#AAAA",
        "ฮัลโหล",
    ] {
        assert_eq!(check_text(text, &trust), Verdict::NotASeal, "{text:?}");
    }
}

#[test]
fn qr_text_with_lower_case_host_and_scheme_is_accepted() {
    let key = issuer_key();
    let seal = Seal::sign(&realistic_payload(), &key).expect("sign");
    let trust = trust_list_with(&[&key]);
    let text = seal.to_qr_text(HOST);
    assert!(text.starts_with("HTTPS://VERIFY.HYBRIDPOST.GO.TH/V#"));
    let (prefix, fragment) = text.split_once('#').expect("fragment");
    assert!(check_text(&format!("{}#{fragment}", prefix.to_lowercase()), &trust).is_genuine());
    assert!(check_text(&text.to_lowercase(), &trust).is_genuine());
}

#[test]
fn base45_qr_text_verifies_too() {
    let key = issuer_key();
    let seal = Seal::sign(&realistic_payload(), &key).expect("sign");
    let trust = trust_list_with(&[&key]);
    let text = seal.to_qr_text_with(HOST, TextEncoding::Base45);
    assert!(text.starts_with("HP1:"));
    assert!(check_text(&text, &trust).is_genuine());
}

#[test]
fn tagged_cose_sign1_is_accepted() {
    let key = issuer_key();
    let seal = Seal::sign(&realistic_payload(), &key).expect("sign");
    let trust = trust_list_with(&[&key]);
    let mut tagged = vec![0xd2];
    tagged.extend_from_slice(seal.as_bytes());
    assert!(verify_with(&Seal::from_bytes(tagged), &trust).is_genuine());
}

#[test]
fn signing_key_survives_pkcs8_pem_and_der_round_trips() {
    let key = issuer_key();
    let pem = key.to_pkcs8_pem().expect("pem");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let from_pem = SigningKey::from_pkcs8_pem(&pem, "MDES01", key.validity()).expect("import pem");
    assert_eq!(from_pem.id(), key.id());
    let der = key.to_pkcs8_der().expect("der");
    let from_der = SigningKey::from_pkcs8_der(&der, "MDES01", key.validity()).expect("import der");
    assert_eq!(from_der.id(), key.id());
    let seal = Seal::sign(&realistic_payload(), &from_der).expect("sign");
    assert!(verify_with(&seal, &trust_list_with(&[&key])).is_genuine());
    let spki_pem = key.public_key().to_spki_pem().expect("spki pem");
    assert_eq!(PublicKey::from_spki_pem(&spki_pem).expect("read").id(), key.id());
    assert!(SigningKey::from_pkcs8_pem("not a key", "MDES01", key.validity()).is_err());
}

#[test]
fn signed_trust_list_round_trips_through_json() {
    let root =
        SigningKey::generate("ROOT", Validity { not_before: d(2025, 1, 1), not_after: d(2035, 12, 31) }).expect("root");
    let a = issuer_key();
    let b = SigningKey::generate("RD0001", key_valid_2026_2027()).expect("key");
    let list = trust_list_with(&[&a, &b]);
    let json = list.to_signed_json(&root).expect("sign list");
    let roots = [RootKey { public_key: root.public_key().clone(), validity: root.validity() }];
    let read = TrustList::from_signed_json(&json, &roots).expect("verify list");
    assert_eq!(read, list);
    let seal = Seal::sign(&realistic_payload(), &a).expect("sign");
    assert!(verify_with(&seal, &read).is_genuine());
}

#[test]
fn trust_list_with_altered_body_or_unknown_root_is_rejected() {
    let root =
        SigningKey::generate("ROOT", Validity { not_before: d(2025, 1, 1), not_after: d(2035, 12, 31) }).expect("root");
    let list = trust_list_with(&[&issuer_key()]);
    let json = list.to_signed_json(&root).expect("sign list");
    let roots = [RootKey { public_key: root.public_key().clone(), validity: root.validity() }];

    let mut envelope: serde_json::Value = serde_json::from_str(&json).expect("json");
    let other = trust_list_with(&[&issuer_key()]).to_signed_json(&root).expect("sign other");
    let other: serde_json::Value = serde_json::from_str(&other).expect("json");
    envelope["payload"] = other["payload"].clone();
    envelope["signature"] = serde_json::Value::String(
        serde_json::from_str::<serde_json::Value>(&json).expect("json")["signature"].as_str().expect("str").into(),
    );
    assert_eq!(TrustList::from_signed_json(&envelope.to_string(), &roots), Err(TrustListError::BadSignature));

    let stranger = SigningKey::generate("ROOT", root.validity()).expect("stranger");
    let stranger_roots = [RootKey { public_key: stranger.public_key().clone(), validity: stranger.validity() }];
    assert_eq!(TrustList::from_signed_json(&json, &stranger_roots), Err(TrustListError::UnknownRoot));
    assert!(matches!(TrustList::from_signed_json("{}", &roots), Err(TrustListError::Malformed(_))));
    assert!(matches!(TrustList::from_signed_json("\u{0}", &roots), Err(TrustListError::Malformed(_))));
}

#[test]
fn reference_is_printable_in_groups_for_humans() {
    let r = Reference::generate();
    let human = r.to_human();
    assert_eq!(human.split('-').count(), 5);
    assert!(human.split('-').all(|g| g.len() == 4));
    assert_eq!(Reference::parse_human(&human), Some(r));
}

#[test]
fn qr_urls_for_https_and_plain_http_bases_read_back() {
    let key = issuer_key();
    let seal = Seal::sign(&realistic_payload(), &key).expect("sign");
    let trust = trust_list_with(&[&key]);
    for (base, prefix) in [
        ("https://verify.example.go.th", "HTTPS://VERIFY.EXAMPLE.GO.TH/V#"),
        ("http://127.0.0.1:8080", "HTTP://127.0.0.1:8080/V#"),
        ("http://localhost:8080/some/path", "HTTP://LOCALHOST:8080/V#"),
        ("hp.go.th", "HTTPS://HP.GO.TH/V#"),
    ] {
        let url = seal.to_qr_url(base);
        assert!(url.starts_with(prefix), "{url}");
        assert!(check_text(&url, &trust).is_genuine(), "{base}");
    }
    let url = seal.to_qr_url("http://127.0.0.1:8080").replacen("HTTP://", "FTP://", 1);
    assert_eq!(check_text(&url, &trust), Verdict::NotASeal);
}
