//! QR symbol generation (ISO/IEC 18004) for renderers: seals at error correction level Q,
//! reply codes at level H.
//!
//! Level Q restores up to about 25 % of damaged codewords (ISO/IEC 18004 §7.5.1), which suits
//! letters that are folded, stamped on or photographed at an angle. Level H restores about 30 %:
//! reply sheets come back handwritten on, stamped and scanned, and their codes are short.

use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

/// The error correction level used for seals.
pub const SEAL_EC_LEVEL: EcLevel = EcLevel::Q;

/// Largest QR version the seal aims for at level Q: 57 × 57 modules, which keeps modules at or
/// above 0.6 mm in a 35 mm square.
pub const TARGET_MAX_VERSION: u8 = 10;

/// A QR symbol as a square grid of modules, row by row, without the quiet zone.
///
/// The renderer must add a light quiet zone of 4 modules on every side (ISO/IEC 18004 §6.3.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    /// QR version, 1–40.
    pub version: u8,
    /// Modules per side: 17 + 4 × version.
    pub width: usize,
    /// `width × width` modules in row-major order; `true` is dark.
    pub modules: Vec<bool>,
}

impl QrMatrix {
    /// Whether the module at column `x`, row `y` is dark; `false` outside the symbol.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && self.modules.get(y * self.width + x).copied().unwrap_or(false)
    }
}

/// Why no QR symbol could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrError(pub String);

impl core::fmt::Display for QrError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "QR encoding: {}", self.0)
    }
}

impl std::error::Error for QrError {}

/// Error correction level of a QR symbol (ISO/IEC 18004 §5.3.8): the share of damaged
/// codewords it restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCorrection {
    /// About 7 %.
    L,
    /// About 15 %.
    M,
    /// About 25 %: seals.
    Q,
    /// About 30 %: reply codes.
    H,
}

impl ErrorCorrection {
    fn level(self) -> EcLevel {
        match self {
            ErrorCorrection::L => EcLevel::L,
            ErrorCorrection::M => EcLevel::M,
            ErrorCorrection::Q => EcLevel::Q,
            ErrorCorrection::H => EcLevel::H,
        }
    }
}

/// Builds the smallest QR symbol at level Q holding `text`. The encoder splits the text into
/// optimal mode segments (ISO/IEC 18004 Annex J), so an all-alphanumeric text costs 5.5 bits
/// per character.
pub fn qr_matrix(text: &str) -> Result<QrMatrix, QrError> {
    qr_matrix_at(text, ErrorCorrection::Q)
}

/// Builds the smallest QR symbol at error correction level `ec` holding `text`.
pub fn qr_matrix_at(text: &str, ec: ErrorCorrection) -> Result<QrMatrix, QrError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), ec.level()).map_err(|e| QrError(e.to_string()))?;
    let version = match code.version() {
        Version::Normal(v) => u8::try_from(v).map_err(|_| QrError("version out of range".into()))?,
        Version::Micro(_) => return Err(QrError("unexpected Micro QR".into())),
    };
    let modules = code.to_colors().into_iter().map(|c| c == Color::Dark).collect();
    Ok(QrMatrix { version, width: code.width(), modules })
}

/// Builds the smallest QR symbol at level `ec` holding `text` as a single alphanumeric-mode
/// segment (ISO/IEC 18004 §7.4.4). For texts of upper-case letters and digits this is never
/// larger than the encoder's own segmentation, which may split off runs of digits into
/// numeric segments whose headers cost more than they save; reply codes rely on the size.
pub fn alphanumeric_qr_matrix(text: &str, ec: ErrorCorrection) -> Result<QrMatrix, QrError> {
    const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    if !text.bytes().all(|b| ALPHANUMERIC.contains(&b)) {
        return Err(QrError("the text has characters outside the QR alphanumeric set".into()));
    }
    for version in 1..=40 {
        let mut bits = Bits::new(Version::Normal(version));
        let fits = bits.push_alphanumeric_data(text.as_bytes()).is_ok() && bits.push_terminator(ec.level()).is_ok();
        if !fits {
            continue;
        }
        let code = QrCode::with_bits(bits, ec.level()).map_err(|e| QrError(e.to_string()))?;
        let modules = code.to_colors().into_iter().map(|c| c == Color::Dark).collect();
        let version = u8::try_from(version).map_err(|_| QrError("version out of range".into()))?;
        return Ok(QrMatrix { version, width: code.width(), modules });
    }
    Err(QrError("the text does not fit a QR symbol".into()))
}

/// The side of one module in millimetres when the symbol (without quiet zone) is printed
/// `printed_mm` wide: `printed_mm / (17 + 4 × version)`.
pub fn module_size_mm(version: u8, printed_mm: f64) -> f64 {
    printed_mm / f64::from(17 + 4 * u32::from(version))
}
