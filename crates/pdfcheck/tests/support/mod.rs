//! Test PDFs written object by object with lopdf, content streams by hand, and the
//! command-line tools the tests check them with.
#![allow(dead_code, reason = "each test file uses a different part of the support module")]

use std::path::{Path, PathBuf};
use std::process::Command;

use lopdf::{Dictionary, Document, Object, Stream};

/// A4 in points (ISO 216: 210 × 297 mm).
pub const A4: (f64, f64) = (595.276, 841.89);
/// US Letter in points (8.5 × 11 in).
pub const LETTER: (f64, f64) = (612.0, 792.0);

/// The TLWG Laksaman regular face shipped in `templates/fonts`.
const LAKSAMAN: &[u8] = include_bytes!("../../../../templates/fonts/Laksaman.ttf");

/// A font a test page can use under a resource name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Font {
    /// Laksaman embedded as a TrueType font program (`/FontFile2`), WinAnsi encoded.
    Laksaman,
    /// The standard Helvetica, not embedded and without a width table.
    Helvetica,
}

/// A form XObject a page can draw with `Do`.
#[derive(Debug, Clone)]
pub struct Form {
    pub name: &'static str,
    pub bbox: [f64; 4],
    pub matrix: Option<[f64; 6]>,
    pub content: String,
}

/// One page of a test PDF.
#[derive(Debug, Clone)]
pub struct PageSpec {
    pub size: (f64, f64),
    pub rotate: i64,
    pub content: String,
    pub fonts: Vec<(&'static str, Font)>,
    pub forms: Vec<Form>,
    /// Image XObjects as (name, width px, height px), grey, 8 bits.
    pub images: Vec<(&'static str, i64, i64)>,
}

impl PageSpec {
    /// An A4 page drawing `content` with Laksaman as `/F1`.
    pub fn a4(content: &str) -> Self {
        Self::sized(A4, content)
    }

    /// A page of `size` points drawing `content` with Laksaman as `/F1`.
    pub fn sized(size: (f64, f64), content: &str) -> Self {
        Self {
            size,
            rotate: 0,
            content: content.to_string(),
            fonts: vec![("F1", Font::Laksaman)],
            forms: Vec::new(),
            images: Vec::new(),
        }
    }

    pub fn with_font(mut self, name: &'static str, font: Font) -> Self {
        self.fonts.push((name, font));
        self
    }

    pub fn with_form(mut self, form: Form) -> Self {
        self.forms.push(form);
        self
    }

    pub fn with_image(mut self, name: &'static str, width: i64, height: i64) -> Self {
        self.images.push((name, width, height));
        self
    }

    pub fn rotated(mut self, degrees: i64) -> Self {
        self.rotate = degrees;
        self
    }
}

/// Text in the middle of an A4 page, well inside every margin and below the window.
pub fn body_text(text: &str) -> String {
    format!("BT /F1 12 Tf 1 0 0 1 72 500 Tm ({text}) Tj ET")
}

fn real(v: f64) -> Object {
    Object::Real(v as f32)
}

/// The document with `pages`, plus whatever `extra` adds to it (given the catalog id).
pub fn build_with(pages: &[PageSpec], extra: impl FnOnce(&mut Document, &mut Dictionary)) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let mut laksaman = None;
    let mut helvetica = None;
    let mut kids = Vec::new();
    for spec in pages {
        let mut fonts = Dictionary::new();
        for (name, font) in &spec.fonts {
            let id = match font {
                Font::Laksaman => *laksaman.get_or_insert_with(|| embed_laksaman(&mut doc)),
                Font::Helvetica => *helvetica.get_or_insert_with(|| {
                    doc.add_object(Dictionary::from_iter([
                        ("Type", Object::Name(b"Font".to_vec())),
                        ("Subtype", Object::Name(b"Type1".to_vec())),
                        ("BaseFont", Object::Name(b"Helvetica".to_vec())),
                        ("Encoding", Object::Name(b"WinAnsiEncoding".to_vec())),
                    ]))
                }),
            };
            fonts.set(*name, Object::Reference(id));
        }
        let mut xobjects = Dictionary::new();
        for form in &spec.forms {
            let mut dict = Dictionary::from_iter([
                ("Type", Object::Name(b"XObject".to_vec())),
                ("Subtype", Object::Name(b"Form".to_vec())),
                ("BBox", Object::Array(form.bbox.iter().map(|v| real(*v)).collect())),
                ("Resources", Object::Dictionary(Dictionary::from_iter([("Font", Object::Dictionary(fonts.clone()))]))),
            ]);
            if let Some(m) = form.matrix {
                dict.set("Matrix", Object::Array(m.iter().map(|v| real(*v)).collect()));
            }
            let id = doc.add_object(Stream::new(dict, form.content.as_bytes().to_vec()));
            xobjects.set(form.name, Object::Reference(id));
        }
        for (name, width, height) in &spec.images {
            let dict = Dictionary::from_iter([
                ("Type", Object::Name(b"XObject".to_vec())),
                ("Subtype", Object::Name(b"Image".to_vec())),
                ("Width", Object::Integer(*width)),
                ("Height", Object::Integer(*height)),
                ("ColorSpace", Object::Name(b"DeviceGray".to_vec())),
                ("BitsPerComponent", Object::Integer(8)),
            ]);
            let pixels = vec![0x80; usize::try_from(width * height).unwrap_or(0)];
            let id = doc.add_object(Stream::new(dict, pixels));
            xobjects.set(*name, Object::Reference(id));
        }
        let content_id = doc.add_object(Stream::new(Dictionary::new(), spec.content.as_bytes().to_vec()));
        let mut page = Dictionary::from_iter([
            ("Type", Object::Name(b"Page".to_vec())),
            ("Parent", Object::Reference(pages_id)),
            ("MediaBox", Object::Array(vec![0.into(), 0.into(), real(spec.size.0), real(spec.size.1)])),
            ("Contents", Object::Reference(content_id)),
            (
                "Resources",
                Object::Dictionary(Dictionary::from_iter([
                    ("Font", Object::Dictionary(fonts)),
                    ("XObject", Object::Dictionary(xobjects)),
                ])),
            ),
        ]);
        if spec.rotate != 0 {
            page.set("Rotate", Object::Integer(spec.rotate));
        }
        kids.push(Object::Reference(doc.add_object(page)));
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(Dictionary::from_iter([
            ("Type", Object::Name(b"Pages".to_vec())),
            ("Kids", Object::Array(kids)),
            ("Count", Object::Integer(count)),
        ])),
    );
    let mut catalog =
        Dictionary::from_iter([("Type", Object::Name(b"Catalog".to_vec())), ("Pages", Object::Reference(pages_id))]);
    extra(&mut doc, &mut catalog);
    let catalog_id = doc.add_object(catalog);
    doc.trailer.set("Root", Object::Reference(catalog_id));
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    bytes
}

/// The document with `pages`.
pub fn build(pages: &[PageSpec]) -> Vec<u8> {
    build_with(pages, |_, _| {})
}

/// Laksaman as a simple TrueType font with its program in `/FontFile2`.
fn embed_laksaman(doc: &mut Document) -> lopdf::ObjectId {
    let mut program =
        Stream::new(Dictionary::from_iter([("Length1", Object::Integer(LAKSAMAN.len() as i64))]), LAKSAMAN.to_vec());
    program.compress().unwrap();
    let program_id = doc.add_object(program);
    let descriptor = doc.add_object(Dictionary::from_iter([
        ("Type", Object::Name(b"FontDescriptor".to_vec())),
        ("FontName", Object::Name(b"Laksaman".to_vec())),
        ("Flags", Object::Integer(32)),
        ("FontBBox", Object::Array(vec![(-500).into(), (-500).into(), 1500.into(), 1200.into()])),
        ("ItalicAngle", Object::Integer(0)),
        ("Ascent", Object::Integer(850)),
        ("Descent", Object::Integer(-350)),
        ("CapHeight", Object::Integer(700)),
        ("StemV", Object::Integer(80)),
        ("FontFile2", Object::Reference(program_id)),
    ]));
    doc.add_object(Dictionary::from_iter([
        ("Type", Object::Name(b"Font".to_vec())),
        ("Subtype", Object::Name(b"TrueType".to_vec())),
        ("BaseFont", Object::Name(b"Laksaman".to_vec())),
        ("Encoding", Object::Name(b"WinAnsiEncoding".to_vec())),
        ("FirstChar", Object::Integer(32)),
        ("LastChar", Object::Integer(126)),
        ("Widths", Object::Array(vec![Object::Integer(500); 95])),
        ("FontDescriptor", Object::Reference(descriptor)),
    ]))
}

/// A fresh directory for one test's files.
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs a command-line tool and returns its standard output; panics when the tool is
/// missing or fails.
pub fn run(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} is needed for this test (apt-get install qpdf poppler-utils): {e}"));
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `path` as a string argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}
