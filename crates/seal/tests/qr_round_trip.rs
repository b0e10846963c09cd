mod common;

use common::*;
use hybridpost_seal::*;
use image::{GrayImage, Luma};

const SCALE: u32 = 8;
const QUIET_ZONE: u32 = 4;

/// Draws the module matrix at 8 px per module with a 4-module quiet zone (ISO/IEC 18004 §6.3.8).
fn render(matrix: &QrMatrix) -> GrayImage {
    let width = u32::try_from(matrix.width).expect("small width");
    let side = (width + 2 * QUIET_ZONE) * SCALE;
    GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / SCALE, y / SCALE);
        let dark = mx >= QUIET_ZONE
            && my >= QUIET_ZONE
            && matrix.is_dark((mx - QUIET_ZONE) as usize, (my - QUIET_ZONE) as usize);
        Luma([if dark { 0 } else { 255 }])
    })
}

fn decode(img: GrayImage) -> String {
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one QR symbol");
    let (_meta, content) = grids[0].decode().expect("rqrr decodes the symbol");
    content
}

#[test]
fn seal_survives_qr_rendering_and_decoding_by_a_real_qr_reader() {
    let key = issuer_key();
    let payload = realistic_payload();
    let seal = Seal::sign(&payload, &key).expect("sign");
    let trust = trust_list_with(&[&key]);
    let ctx = VerifyContext { trust_list: &trust, today: today(), withdrawn: &no_withdrawals };
    let out_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (name, encoding) in [("seal-base32", TextEncoding::Base32Url), ("seal-base45", TextEncoding::Base45)] {
        let text = seal.to_qr_text_with(HOST, encoding);
        let matrix = qr_matrix(&text).expect("qr");
        assert_eq!(matrix.modules.len(), matrix.width * matrix.width);
        let img = render(&matrix);
        let png = out_dir.join(format!("{name}.png"));
        img.save(&png).expect("write png");
        assert_eq!(zbarimg(&png), text, "zbarimg reads the same text");
        let scanned = decode(img);
        assert_eq!(scanned, text);
        assert_eq!(
            verify_qr_text(&scanned, &ctx),
            Verdict::Genuine { payload: payload.clone(), key_id: key.id(), issuer: "MDES01".into() }
        );
    }
}

/// Text read by ZBar's `zbarimg`, a decoder independent of ours (`ops/test.sh` installs
/// zbar-tools; the test fails without it rather than pass unchecked).
fn zbarimg(png: &std::path::Path) -> String {
    let out = std::process::Command::new("zbarimg")
        .args(["-q", "--raw"])
        .arg(png)
        .output()
        .expect("zbarimg runs (apt-get install zbar-tools)");
    assert!(out.status.success(), "zbarimg is installed but could not read {}", png.display());
    String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_owned()
}
