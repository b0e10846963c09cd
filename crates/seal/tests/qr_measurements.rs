mod common;

use common::*;
use hybridpost_seal::*;

/// Prints and checks the QR cost of a realistic seal: issuer code of 6 characters, 12-byte
/// reference, issue date, type, reply deadline, 16-byte digest, 8-byte kid, 64-byte signature.
#[test]
fn realistic_seal_fits_the_qr_budget_and_prints_measurements() {
    let key = issuer_key();
    let payload = realistic_payload();
    let seal = Seal::sign(&payload, &key).expect("sign");
    let payload_len = payload.to_cbor().expect("cbor").len();
    let b32 = seal.to_qr_text(HOST);
    let b45 = seal.to_qr_text_with(HOST, TextEncoding::Base45);
    let v32 = qr_matrix(&b32).expect("qr").version;
    let v45 = qr_matrix(&b45).expect("qr").version;
    println!("payload CBOR {payload_len} bytes, COSE_Sign1 {} bytes", seal.as_bytes().len());
    for (name, text, version) in [("base32 URL", &b32, v32), ("Base45 HP1:", &b45, v45)] {
        println!(
            "{name}: {} chars, QR version {version} at EC level Q, {w}x{w} modules, {:.3} mm/module at 35 mm",
            text.len(),
            module_size_mm(version, 35.0),
            w = 17 + 4 * u32::from(version)
        );
    }
    println!("{b32}");
    println!("{b45}");
    for host in ["HP.GO.TH", "VERIFY.HYBRIDPOST.GO.TH"] {
        let t = seal.to_qr_text(host);
        println!("host {host}: {} chars, version {}", t.len(), qr_matrix(&t).expect("qr").version);
        // Cost of the '#', which is outside the alphanumeric set and needs a byte-mode segment.
        let all_alnum = t.replace('#', "/");
        println!("  same with '/' for '#': version {}", qr_matrix(&all_alnum).expect("qr").version);
    }
    assert!(module_size_mm(v32, 35.0) >= 0.5);
    assert!(module_size_mm(v45, 35.0) >= 0.5);
    assert!(v45 <= v32);
}
