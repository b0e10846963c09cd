//! Letter layouts as readable TOML files: the main dimensions and the fixed words of the
//! official and the plain letter, in Thai and English.
//!
//! The files in `templates/letters/` are built in; an operator can copy them into a folder,
//! adjust them and load that folder with [`LetterTemplates::from_dir`]. Loaded values are
//! checked, so a window off the sheet or a seal too small to scan is refused up front with
//! the name of the value that is wrong.

use std::path::Path;

use serde::Deserialize;

use crate::content_templates::ContentTemplates;

/// The built-in official layout.
const OFFICIAL: &str = include_str!("../../../templates/letters/official.toml");
/// The built-in plain layout.
const PLAIN: &str = include_str!("../../../templates/letters/plain.toml");

/// Smallest side of the seal square: a seal of QR version 10–11 keeps modules of about
/// 0.5 mm, what phone cameras read at arm's length.
pub const MIN_SEAL_SIZE: f32 = 35.0;

/// Why a layout file was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not valid TOML for a layout: a missing or misspelt value.
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// What the TOML reader said, with the line.
        message: String,
    },
    /// A value is outside what can be printed.
    #[error("{file}: {field} = {value} is not allowed: {rule}")]
    Invalid {
        /// The file.
        file: String,
        /// The value's name, e.g. `window.x`.
        field: &'static str,
        /// The value found.
        value: f32,
        /// What it must be.
        rule: String,
    },
}

/// One letter layout: dimensions in mm, font sizes in points, fixed words in two languages.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterTemplate {
    /// Margins and the text column.
    pub page: PageDimensions,
    /// The emblem slot.
    pub emblem: EmblemSlot,
    /// The envelope window.
    pub window: Window,
    /// The seal square.
    pub seal: SealSquare,
    /// Font sizes.
    pub fonts: FontSizes,
    /// Fixed words of the letter.
    pub text: Languages<LetterTexts>,
    /// Fixed words of the reply sheet.
    pub reply: Languages<ReplyTexts>,
}

/// Margins and columns of the letter, in mm.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageDimensions {
    /// Left margin of the text.
    pub left: f32,
    /// Right margin of the text.
    pub right: f32,
    /// Top of the first line on page 1.
    pub top: f32,
    /// Top of the text on continuation pages.
    pub continuation_top: f32,
    /// Lowest point of the text on any page.
    pub body_bottom: f32,
    /// First-line indent of body paragraphs.
    pub paragraph_indent: f32,
    /// Space between body paragraphs.
    pub paragraph_gap: f32,
    /// Width of the label column (เรื่อง, อ้างถึง, …).
    pub label_width: f32,
    /// Left side of the right-hand column of page 1.
    pub right_column_x: f32,
    /// Left side of the closing and signature block.
    pub signature_x: f32,
    /// Room for the handwritten signature.
    pub signature_space: f32,
}

/// The emblem slot at the top centre of page 1.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmblemSlot {
    /// Whether the slot is kept.
    pub show: bool,
    /// Top of the slot.
    pub y: f32,
    /// Side of the square slot.
    pub size: f32,
}

/// The envelope window on the unfolded sheet, in mm.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Left side.
    pub x: f32,
    /// Top.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
    /// Distance kept between the address and the window's edges.
    pub clearance: f32,
}

/// The seal square on page 1, in mm; horizontally centred in the right-hand column.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealSquare {
    /// Side of the square, quiet zone included.
    pub size: f32,
    /// Top of the square.
    pub y: f32,
}

/// Font sizes in points.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FontSizes {
    /// Body text.
    pub body: f32,
    /// Largest size of the address block.
    pub address: f32,
    /// The host and PIN under the seal.
    pub seal_text: f32,
    /// The contact line.
    pub contact: f32,
}

/// Texts in Thai and English.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Languages<T> {
    /// Thai.
    pub th: T,
    /// English.
    pub en: T,
}

/// The fixed words of a letter in one language.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterTexts {
    /// Before the agency's reference (ที่).
    pub reference: String,
    /// Before the subject (เรื่อง).
    pub subject: String,
    /// The default salutation; `{name}` is the recipient's name.
    pub salutation: String,
    /// Before earlier correspondence (อ้างถึง).
    pub references: String,
    /// Before the enclosures (สิ่งที่ส่งมาด้วย).
    pub enclosures: String,
    /// Before the date (วันที่), where a layout labels it.
    pub date: String,
    /// The default closing (ขอแสดงความนับถือ).
    pub closing: String,
    /// Before the PIN under the seal.
    pub pin: String,
    /// The reply deadline paragraph; `{date}` is the deadline.
    pub reply_by: String,
}

/// The fixed words of the reply sheet in one language.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyTexts {
    /// The title.
    pub title: String,
    /// The sheet number; `{page}` and `{pages}`.
    pub sheet: String,
    /// The deadline; `{date}`.
    pub deadline: String,
    /// The letter replied to; `{reference}` and `{subject}`.
    pub letter: String,
    /// Before the reference in digits.
    pub digits: String,
    /// How to fill in and return the sheet.
    pub instructions: String,
    /// Above the tick boxes.
    pub choose: String,
    /// The tick boxes.
    pub choices: Vec<String>,
    /// Above the ruled lines.
    pub answer: String,
    /// The signature line.
    pub signature: String,
    /// The name line.
    pub name: String,
    /// The date line.
    pub date: String,
    /// The telephone line.
    pub phone: String,
}

/// The official and the plain layout.
#[derive(Debug, Clone, PartialEq)]
pub struct LetterTemplates {
    /// The official external letter (หนังสือภายนอก).
    pub official: LetterTemplate,
    /// The plain letter.
    pub plain: LetterTemplate,
    /// The content templates a letter can name instead of giving its text.
    pub content: ContentTemplates,
}

impl LetterTemplates {
    /// The layout a letter asks for.
    pub fn for_layout(&self, layout: hybridpost_core::LetterLayout) -> &LetterTemplate {
        match layout {
            hybridpost_core::LetterLayout::Official => &self.official,
            hybridpost_core::LetterLayout::Plain => &self.plain,
        }
    }

    /// The layouts built into the program (`templates/letters/*.toml`).
    pub fn builtin() -> &'static LetterTemplates {
        static BUILTIN: std::sync::OnceLock<LetterTemplates> = std::sync::OnceLock::new();
        BUILTIN.get_or_init(|| {
            LetterTemplates::from_toml(OFFICIAL, PLAIN).expect("the built-in layouts are valid; a test checks them")
        })
    }

    /// Reads and checks both layouts from TOML text.
    pub fn from_toml(official: &str, plain: &str) -> Result<LetterTemplates, TemplateError> {
        Ok(LetterTemplates {
            official: LetterTemplate::from_toml("official.toml", official)?,
            plain: LetterTemplate::from_toml("plain.toml", plain)?,
            content: ContentTemplates::builtin(),
        })
    }

    /// Reads and checks `official.toml` and `plain.toml` from the folder `dir`.
    pub fn from_dir(dir: &Path) -> Result<LetterTemplates, TemplateError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .map_err(|source| TemplateError::Read { path: path.display().to_string(), source })
        };
        LetterTemplates::from_toml(&read("official.toml")?, &read("plain.toml")?)
    }
}

impl LetterTemplate {
    /// Reads and checks one layout; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<LetterTemplate, TemplateError> {
        let template: LetterTemplate = toml::from_str(text)
            .map_err(|e| TemplateError::Syntax { file: file.to_string(), message: e.to_string() })?;
        template.check(file)?;
        Ok(template)
    }

    /// Checks that everything lies on the A4 sheet, inside the 5 mm printers cannot print,
    /// that the seal is large enough and that the parts of page 1 do not collide.
    fn check(&self, file: &str) -> Result<(), TemplateError> {
        let invalid = |field: &'static str, value: f32, rule: &str| TemplateError::Invalid {
            file: file.to_string(),
            field,
            value,
            rule: rule.to_string(),
        };
        let (p, w, s, f) = (&self.page, &self.window, &self.seal, &self.fonts);
        let within = |field: &'static str, value: f32, min: f32, max: f32| {
            if value.is_finite() && (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(invalid(field, value, &format!("it must be between {min} and {max}")))
            }
        };
        within("page.left", p.left, 5.0, 60.0)?;
        within("page.right", p.right, 5.0, 60.0)?;
        within("page.top", p.top, 5.0, 60.0)?;
        within("page.continuation_top", p.continuation_top, 15.0, 60.0)?;
        within("page.body_bottom", p.body_bottom, 150.0, 270.0)?;
        within("page.paragraph_indent", p.paragraph_indent, 0.0, 50.0)?;
        within("page.paragraph_gap", p.paragraph_gap, 0.0, 20.0)?;
        within("page.label_width", p.label_width, 10.0, 60.0)?;
        within("page.right_column_x", p.right_column_x, 105.0, 210.0 - p.right - s.size)?;
        within("page.signature_x", p.signature_x, p.left, 150.0)?;
        within("page.signature_space", p.signature_space, 5.0, 40.0)?;
        within("emblem.y", self.emblem.y, 5.0, 40.0)?;
        within("emblem.size", self.emblem.size, 10.0, 40.0)?;
        within("window.x", w.x, 5.0, 210.0 - 5.0 - w.width)?;
        within("window.y", w.y, 5.0, 99.0 - w.height)?;
        within("window.width", w.width, 40.0, 200.0)?;
        within("window.height", w.height, 20.0, 94.0)?;
        within("window.clearance", w.clearance, 0.0, 10.0)?;
        if !(s.size.is_finite() && s.size >= MIN_SEAL_SIZE) {
            return Err(invalid("seal.size", s.size, &format!("the seal square must be at least {MIN_SEAL_SIZE} mm")));
        }
        within("seal.size", s.size, MIN_SEAL_SIZE, 60.0)?;
        // The seal, the host and the PIN under it (about 13 mm) end above the first fold.
        within("seal.y", s.y, p.top, 99.0 - 2.0 - 13.0 - s.size)?;
        if p.right_column_x < w.x + w.width {
            return Err(invalid(
                "page.right_column_x",
                p.right_column_x,
                &format!("the right-hand column must start right of the envelope window (at {} mm)", w.x + w.width),
            ));
        }
        within("fonts.body", f.body, 8.0, 24.0)?;
        within("fonts.address", f.address, 10.0, 24.0)?;
        within("fonts.seal_text", f.seal_text, 8.0, 14.0)?;
        within("fonts.contact", f.contact, 8.0, 20.0)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_layouts_are_valid() {
        let t = LetterTemplates::builtin();
        assert_eq!(t.official.seal.size, 35.0);
        assert!(t.official.emblem.show && !t.plain.emblem.show);
        assert_eq!(t.official.text.th.closing, "ขอแสดงความนับถือ");
    }

    #[test]
    fn a_window_off_the_sheet_is_refused_by_name() {
        let text = OFFICIAL.replace("x = 20.0", "x = 150.0");
        let err = LetterTemplate::from_toml("official.toml", &text).unwrap_err();
        assert!(err.to_string().starts_with("official.toml: window.x = 150 is not allowed"), "{err}");
    }

    #[test]
    fn a_seal_under_35_mm_is_refused() {
        let text = OFFICIAL.replace("size = 35.0", "size = 30.0");
        let err = LetterTemplate::from_toml("official.toml", &text).unwrap_err();
        assert!(
            err.to_string().contains("seal.size = 30 is not allowed: the seal square must be at least 35 mm"),
            "{err}"
        );
    }

    #[test]
    fn a_misspelt_value_is_refused_with_its_line() {
        let text = OFFICIAL.replace("clearance = 4.0", "clearence = 4.0");
        let err = LetterTemplate::from_toml("official.toml", &text).unwrap_err();
        assert!(err.to_string().contains("clearence"), "{err}");
    }

    #[test]
    fn layouts_load_from_a_folder() {
        let dir = std::env::temp_dir().join(format!("hybridpost-templates-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("official.toml"), OFFICIAL.replace("left = 30.0", "left = 32.0")).expect("write");
        std::fs::write(dir.join("plain.toml"), PLAIN).expect("write");
        let loaded = LetterTemplates::from_dir(&dir).expect("loads");
        assert_eq!(loaded.official.page.left, 32.0);
        std::fs::remove_dir_all(&dir).expect("clean up");
        assert!(matches!(LetterTemplates::from_dir(&dir), Err(TemplateError::Read { .. })));
    }
}
