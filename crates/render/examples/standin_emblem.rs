//! Draws the stand-in emblem the tests and the documentation print in the emblem slot: a bird
//! with spread wings in the red of Thai official emblems, on a transparent background, drawn
//! here from a few shapes. The project cannot ship the Garuda emblem (ตราครุฑ) itself; an
//! agency sets its own with `hybridpost admin set-emblem`.
//!
//! `cargo run -p hybridpost-render --example standin_emblem -- fixtures/emblem/standin.png`

use image::{Rgba, RgbaImage};

/// Width and height in pixels: 600 dpi at 27 × 30 mm.
const WIDTH: u32 = 640;
const HEIGHT: u32 = 720;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).ok_or("usage: standin_emblem OUT.png")?;
    let red = Rgba([158, 28, 32, 255]);
    let gold = Rgba([200, 150, 40, 255]);
    let mut img = RgbaImage::from_pixel(WIDTH, HEIGHT, Rgba([0, 0, 0, 0]));
    let (cx, w) = (f64::from(WIDTH) / 2.0, f64::from(WIDTH));
    // The wings, each a polygon mirrored about the centre line.
    let wing = [
        (0.0, 0.0),
        (-230.0, -200.0),
        (-300.0, -210.0),
        (-250.0, -120.0),
        (-300.0, -110.0),
        (-240.0, -30.0),
        (-290.0, -10.0),
        (-200.0, 60.0),
        (-240.0, 90.0),
        (-120.0, 120.0),
        (0.0, 120.0),
    ];
    let left: Vec<(f64, f64)> = wing.iter().map(|(x, y)| (cx + x, 330.0 + y)).collect();
    let right: Vec<(f64, f64)> = wing.iter().map(|(x, y)| (cx - x, 330.0 + y)).collect();
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let (px, py) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
            let in_ellipse =
                |ex: f64, ey: f64, rx: f64, ry: f64| ((px - ex) / rx).powi(2) + ((py - ey) / ry).powi(2) <= 1.0;
            let crown = py < 40.0 && (px - cx).abs() < 28.0 + py * 0.4;
            let head = in_ellipse(cx, 95.0, 62.0, 62.0);
            let beak = py > 100.0 && py < 150.0 && (px - cx).abs() < (150.0 - py) * 0.5;
            let body = in_ellipse(cx, 400.0, 95.0, 200.0);
            let wings = inside(&left, px, py) || inside(&right, px, py);
            let tail = py > 560.0 && py < 680.0 && (px - cx).abs() < 40.0 + (py - 560.0) * 0.9;
            let base = py >= 680.0 && (px - cx).abs() < w * 0.28;
            let ring = {
                let d = ((px - cx).powi(2) + ((py - 400.0) * 0.5).powi(2)).sqrt();
                (48.0..60.0).contains(&d)
            };
            let colour = if beak || ring {
                Some(gold)
            } else if crown || head || body || wings || tail || base {
                Some(red)
            } else {
                None
            };
            if let Some(c) = colour {
                img.put_pixel(x, y, c);
            }
        }
    }
    img.save(&out)?;
    println!("{out}: {WIDTH} × {HEIGHT} pixels");
    Ok(())
}

/// Whether (x, y) lies inside the polygon (even-odd rule).
fn inside(polygon: &[(f64, f64)], x: f64, y: f64) -> bool {
    let mut odd = false;
    let mut j = polygon.len() - 1;
    for i in 0..polygon.len() {
        let ((xi, yi), (xj, yj)) = (polygon[i], polygon[j]);
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            odd = !odd;
        }
        j = i;
    }
    odd
}
