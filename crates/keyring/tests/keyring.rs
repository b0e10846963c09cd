//! Seal keys in the store, on the database chosen by `HYBRIDPOST_TEST_DATABASE_URL`.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use hybridpost_keyring::{Keyring, SealRequest, today};
use hybridpost_seal::{ContentDigest, DocumentType, ServiceSecret, Verdict, VerifyContext, no_withdrawals};
use hybridpost_store::agencies::Agency;
use hybridpost_store::testing::test_store;

fn request() -> SealRequest {
    SealRequest {
        issue_date: today(),
        document_type: DocumentType::Generic,
        reply_by: None,
        digest: ContentDigest::of(b"letter content"),
    }
}

async fn agency(store: &hybridpost_store::Store) -> Agency {
    let agency = Agency::new("สำนักงานทดสอบ");
    let mut conn = store.begin().await.unwrap();
    hybridpost_store::agencies::insert_agency(&mut conn, &agency).await.unwrap();
    conn.commit().await.unwrap();
    agency
}

fn secret(byte: u8) -> ServiceSecret {
    ServiceSecret::new(&[byte; 32]).unwrap()
}

#[tokio::test]
async fn a_sealed_letter_verifies_against_the_published_trust_list_across_rotations() {
    let db = test_store().await;
    let keyring = Keyring::new(db.store.clone(), secret(1));
    let agency = agency(&db.store).await;
    let (code, agency) = (agency.issuer_code.as_str(), agency.agency_id);

    let first = keyring.seal_letter(code, agency, &request()).await.unwrap();
    assert_eq!(first.pin.len(), 8);
    assert!(first.pin.bytes().all(|b| b.is_ascii_digit()));
    let list = keyring.verified_trust_list().await.unwrap().unwrap();
    assert_eq!(list.keys.len(), 1, "the issuer's first key is made on first use and published");
    let ctx = VerifyContext { trust_list: &list, today: today(), withdrawn: &no_withdrawals };
    assert!(first.seal.verify(&ctx).is_genuine(), "{:?}", first.seal.verify(&ctx));

    let new_id = keyring.rotate(code, Some(agency), today()).await.unwrap();
    let second = keyring.seal_letter(code, agency, &request()).await.unwrap();
    let list = keyring.verified_trust_list().await.unwrap().unwrap();
    assert_eq!(list.keys.len(), 2, "the retired key stays in the list");
    assert!(list.sequence >= 2);
    let ctx = VerifyContext { trust_list: &list, today: today(), withdrawn: &no_withdrawals };
    assert!(first.seal.verify(&ctx).is_genuine(), "a letter sealed before the rotation still verifies");
    match second.seal.verify(&ctx) {
        Verdict::Genuine { key_id, .. } => assert_eq!(key_id, new_id, "after rotation the new key seals"),
        other => panic!("{other:?}"),
    }
    assert_ne!(first.reference, second.reference);
}

#[tokio::test]
async fn pins_are_checked_by_keyed_hash_and_unwrap_for_printing() {
    let db = test_store().await;
    let keyring = Keyring::new(db.store.clone(), secret(2));
    let a = agency(&db.store).await;
    let sealed = keyring.seal_letter(&a.issuer_code, a.agency_id, &request()).await.unwrap();
    assert!(keyring.pin_matches(&sealed.reference, &sealed.pin, &sealed.pin_hash));
    assert!(!keyring.pin_matches(&sealed.reference, "00000000", &sealed.pin_hash) || sealed.pin == "00000000");
    assert!(!keyring.pin_matches("OTHERREFERENCE", &sealed.pin, &sealed.pin_hash), "the hash is bound to the letter");
    assert_eq!(keyring.unwrap_pin(&sealed.reference, &sealed.pin_wrapped).unwrap(), sealed.pin);
    assert!(!sealed.pin_hash.contains(&sealed.pin));
}

#[tokio::test]
async fn keys_wrapped_under_another_secret_do_not_unwrap() {
    let db = test_store().await;
    let keyring = Keyring::new(db.store.clone(), secret(3));
    let a = agency(&db.store).await;
    keyring.seal_letter(&a.issuer_code, a.agency_id, &request()).await.unwrap();
    let other = Keyring::new(db.store.clone(), secret(4));
    let err = other.seal_letter(&a.issuer_code, a.agency_id, &request()).await.unwrap_err();
    assert!(err.to_string().contains("does not unwrap"), "{err}");
}
