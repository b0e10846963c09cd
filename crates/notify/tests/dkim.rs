//! DKIM signatures checked by dkimpy.

mod support;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use hybridpost_notify::{
    Delivery, DkimAlgorithm, DkimSettings, Mailer, MailerConfig, OutgoingEmail, TransportConfig, render,
};
use serde_json::json;
use support::run_py;

fn openssl(args: &[&str]) -> Vec<u8> {
    let out =
        Command::new("openssl").args(args).output().expect("the openssl command is needed (Debian package openssl)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn notice(with_reply_to: bool) -> OutgoingEmail {
    let rendered = render(
        "reply_received",
        json!({
            "agency_name": "กรมการปกครอง",
            "agency_name_en": "Department of Provincial Administration",
            "sender_name": "สมหญิง รักไทย",
            "letter_ref": "DOPA-2569-77",
            "received_at": "5 มกราคม 2570 เวลา 10:30 น.",
            "received_at_en": "5 January 2027 at 10:30 (Bangkok time)",
            "link": "https://hybridpost.go.th/a/replies/77",
        }),
    )
    .expect("renders");
    let mut email = OutgoingEmail::from_rendered(
        "reply-77@hybridpost.go.th",
        "ไปรษณีย์ไฮบริด <noreply@hybridpost.go.th>",
        "สารบรรณ กรมการปกครอง <saraban@dopa.go.th>",
        rendered,
    );
    if with_reply_to {
        email.reply_to = Some("support@hybridpost.go.th".into());
    }
    email
}

async fn sign_and_verify(
    dir: &Path,
    algorithm: DkimAlgorithm,
    private_key: String,
    dns_record: &str,
    with_reply_to: bool,
) {
    let outbox = dir.join("outbox");
    let mailer = Mailer::new(MailerConfig {
        transport: TransportConfig::FileOutbox(outbox),
        dkim: Some(DkimSettings {
            selector: "hp2026".into(),
            domain: "hybridpost.go.th".into(),
            algorithm,
            private_key,
        }),
    })
    .expect("config");
    let path = match mailer.send(&notice(with_reply_to)).await.expect("written") {
        Delivery::File { path, .. } => path,
        other => panic!("unexpected {other:?}"),
    };
    let raw = std::fs::read_to_string(&path).expect("eml");
    assert!(raw.contains("\r\nDKIM-Signature: ") || raw.starts_with("DKIM-Signature: "), "signed");
    assert!(raw.contains("c=relaxed/relaxed"), "relaxed/relaxed");
    let (ok, out, err) = run_py("dkim_verify.py", &[path.to_str().expect("utf-8"), dns_record], None);
    assert!(ok && out.trim() == "PASS", "dkimpy: {out}\n{err}");

    // A changed body must fail, so the PASS above is meaningful.
    let tampered = dir.join("tampered.eml");
    std::fs::write(&tampered, raw.replace("DOPA-2569-77", "DOPA-2569-99")).expect("write");
    let (ok, out, _) = run_py("dkim_verify.py", &[tampered.to_str().expect("utf-8"), dns_record], None);
    assert!(!ok, "tampered message verified: {out}");
}

#[tokio::test]
async fn an_rsa_sha256_dkim_signature_verifies_with_dkimpy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = dir.path().join("dkim.pem");
    let key_str = key_path.to_str().expect("utf-8");
    openssl(&["genrsa", "-traditional", "-out", key_str, "2048"]);
    let public_der = openssl(&["rsa", "-in", key_str, "-pubout", "-outform", "DER"]);
    let record = format!("v=DKIM1; k=rsa; p={}", base64::engine::general_purpose::STANDARD.encode(public_der));
    let private_pem = std::fs::read_to_string(&key_path).expect("key");
    sign_and_verify(dir.path(), DkimAlgorithm::RsaSha256, private_pem, &record, true).await;
}

#[tokio::test]
async fn an_ed25519_dkim_signature_verifies_with_dkimpy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = dir.path().join("ed.pem");
    let key_str = key_path.to_str().expect("utf-8");
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", key_str]);
    let private_der = openssl(&["pkey", "-in", key_str, "-outform", "DER"]);
    let public_der = openssl(&["pkey", "-in", key_str, "-pubout", "-outform", "DER"]);
    let b64 = base64::engine::general_purpose::STANDARD;
    // The raw 32-byte seed and public key are the last 32 bytes of the DER encodings.
    let seed = b64.encode(&private_der[private_der.len() - 32..]);
    let record = format!("v=DKIM1; k=ed25519; p={}", b64.encode(&public_der[public_der.len() - 32..]));
    sign_and_verify(dir.path(), DkimAlgorithm::Ed25519Sha256, seed, &record, false).await;
}
