//! Low-level PDF writing for print batches: a counting, hashing output; streams with
//! reusable compression; the embedded font dictionaries; and copying the objects of
//! another PDF with new object numbers.
//!
//! The syntax follows ISO 32000-1 §7 (objects, file structure). Everything written is
//! deterministic: no dates, dictionaries in a fixed key order.

use std::collections::HashMap;
use std::io::{self, Write};

use flate2::{Compress, Compression, FlushCompress};
use lopdf::{Object, ObjectId};
use sha2::{Digest, Sha256};

use crate::content::{GlyphSet, hex_string, integer, real};
use crate::fonts::FontFace;

/// The output of a batch: counts the bytes written (for the cross-reference table) and
/// hashes them (for the document `/ID`), without holding on to them.
#[derive(Debug)]
pub(crate) struct Sink<W: Write> {
    inner: W,
    written: u64,
    hasher: Sha256,
}

impl<W: Write> Sink<W> {
    pub(crate) fn new(inner: W) -> Self {
        Sink { inner, written: 0, hasher: Sha256::new() }
    }

    /// Bytes written so far: the offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.written
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// The SHA-256 of everything written so far.
    pub(crate) fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    pub(crate) fn into_inner(mut self) -> io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// Deflate (RFC 1950 zlib) compression of stream data with one reusable compressor.
pub(crate) struct Deflater {
    compress: Compress,
    level: u32,
    out: Vec<u8>,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater").field("level", &self.level).finish()
    }
}

impl Deflater {
    /// A compressor at `level` (0 stores, 1 is fastest, 9 smallest).
    pub(crate) fn new(level: u32) -> Self {
        Deflater { compress: Compress::new(Compression::new(level), true), level, out: Vec::new() }
    }

    /// `data` compressed; the slice lives until the next call.
    pub(crate) fn deflate(&mut self, data: &[u8]) -> &[u8] {
        self.compress.reset();
        self.out.clear();
        self.out.reserve(data.len() / 2 + 64);
        loop {
            let consumed = self.compress.total_in() as usize;
            let status = self
                .compress
                .compress_vec(&data[consumed..], &mut self.out, FlushCompress::Finish)
                .expect("deflating into a growing buffer cannot fail");
            if status == flate2::Status::StreamEnd {
                break;
            }
            let spare = self.out.capacity() - self.out.len();
            if spare < 64 {
                self.out.reserve(self.out.capacity().max(1024));
            }
        }
        &self.out
    }
}

/// Appends `id 0 obj\n` to `out`.
pub(crate) fn begin_object(out: &mut Vec<u8>, id: u32) {
    integer(out, i64::from(id));
    out.extend_from_slice(b" 0 obj\n");
}

/// Appends `\nendobj\n` to `out`.
pub(crate) fn end_object(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\nendobj\n");
}

/// Appends a reference `id 0 R`.
pub(crate) fn reference(out: &mut Vec<u8>, id: u32) {
    integer(out, i64::from(id));
    out.extend_from_slice(b" 0 R");
}

/// Appends a whole stream object: `dict` holds the dictionary entries other than
/// `/Length` and `/Filter` (written with their leading slash, e.g. `/Length1 5`).
/// With a `deflater`, the data is compressed with `/FlateDecode`.
pub(crate) fn stream_object(out: &mut Vec<u8>, id: u32, dict: &[u8], data: &[u8], deflater: Option<&mut Deflater>) {
    begin_object(out, id);
    let (data, filter): (&[u8], bool) = match deflater {
        Some(deflater) if deflater.level > 0 => (deflater.deflate(data), true),
        _ => (data, false),
    };
    out.extend_from_slice(b"<</Length ");
    integer(out, data.len() as i64);
    if filter {
        out.extend_from_slice(b"/Filter/FlateDecode");
    }
    out.extend_from_slice(dict);
    out.extend_from_slice(b">>\nstream\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\nendstream");
    end_object(out);
}

/// Object numbers of the objects that embed one face.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FontObjects {
    /// The Type 0 font, referenced from page resources.
    pub(crate) font: u32,
    pub(crate) descendant: u32,
    pub(crate) descriptor: u32,
    pub(crate) program: u32,
    pub(crate) to_unicode: u32,
}

/// Appends the objects embedding `face` as a Type 0 font with Identity-H encoding and a
/// TrueType descendant (ISO 32000-1 §9.7): the whole font program, so glyph ids in
/// content streams are the face's own, with widths and Unicode values for `used`.
/// Returns the number and offset in `out` of each object written.
pub(crate) fn font_objects(
    out: &mut Vec<u8>,
    face: &FontFace<'_>,
    ids: FontObjects,
    used: &GlyphSet,
    deflater: &mut Deflater,
) -> Vec<(u32, usize)> {
    let name = face.postscript_name.as_bytes();
    let mut objects = vec![(ids.font, out.len())];
    begin_object(out, ids.font);
    out.extend_from_slice(b"<</Type/Font/Subtype/Type0/BaseFont/");
    out.extend_from_slice(name);
    out.extend_from_slice(b"/Encoding/Identity-H/ToUnicode ");
    reference(out, ids.to_unicode);
    out.extend_from_slice(b"/DescendantFonts[");
    reference(out, ids.descendant);
    out.extend_from_slice(b"]>>");
    end_object(out);

    objects.push((ids.descendant, out.len()));
    begin_object(out, ids.descendant);
    out.extend_from_slice(b"<</Type/Font/Subtype/CIDFontType2/BaseFont/");
    out.extend_from_slice(name);
    out.extend_from_slice(b"/CIDSystemInfo<</Registry(Adobe)/Ordering(Identity)/Supplement 0>>/DW 1000/W[");
    let glyphs: Vec<u16> = used.iter().collect();
    for run in glyphs.chunk_by(|a, b| *a + 1 == *b) {
        integer(out, i64::from(run[0]));
        out.push(b'[');
        for (i, &glyph) in run.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            real(out, face.pdf_width(glyph));
        }
        out.push(b']');
    }
    out.extend_from_slice(b"]/CIDToGIDMap/Identity/FontDescriptor ");
    reference(out, ids.descriptor);
    out.extend_from_slice(b">>");
    end_object(out);

    // Metrics in thousandths of an em (ISO 32000-1 §9.8.1), as printpdf computes them.
    let face_metrics = &face.face;
    let scale = |v: i16| (f32::from(v) * 1000.0 / face.units_per_em).round() as i64;
    let bbox = face_metrics.global_bounding_box();
    let stem_v = 50 + (f32::from(face.weight_class) / 65.0).powi(2).round() as i64;
    objects.push((ids.descriptor, out.len()));
    begin_object(out, ids.descriptor);
    out.extend_from_slice(b"<</Type/FontDescriptor/FontName/");
    out.extend_from_slice(name);
    out.extend_from_slice(b"/Ascent ");
    integer(out, scale(face_metrics.ascender()));
    out.extend_from_slice(b"/Descent ");
    integer(out, scale(face_metrics.descender()));
    out.extend_from_slice(b"/CapHeight ");
    integer(out, scale(face_metrics.capital_height().unwrap_or(face_metrics.ascender())));
    out.extend_from_slice(b"/ItalicAngle 0/Flags 32/StemV ");
    integer(out, stem_v);
    out.extend_from_slice(b"/FontBBox[");
    for (i, v) in [bbox.x_min, bbox.y_min, bbox.x_max, bbox.y_max].into_iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        integer(out, scale(v));
    }
    out.extend_from_slice(b"]/FontFile2 ");
    reference(out, ids.program);
    out.extend_from_slice(b">>");
    end_object(out);

    let mut length1 = b"/Length1 ".to_vec();
    integer(&mut length1, face.data.len() as i64);
    objects.push((ids.program, out.len()));
    stream_object(out, ids.program, &length1, face.data, Some(deflater));

    let cmap = to_unicode_cmap(face, &glyphs);
    objects.push((ids.to_unicode, out.len()));
    stream_object(out, ids.to_unicode, b"", &cmap, Some(deflater));
    objects
}

/// A `/ToUnicode` CMap (Adobe technical note #5411) from glyph ids to the characters
/// they stand for, for text extraction glyph by glyph; `/ActualText` gives whole lines.
fn to_unicode_cmap(face: &FontFace<'_>, glyphs: &[u16]) -> Vec<u8> {
    let mut out = b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        .to_vec();
    let mapped: Vec<(u16, char)> = glyphs.iter().filter_map(|&g| face.unicode_of(g).map(|c| (g, c))).collect();
    // At most 100 entries per bfchar block.
    for block in mapped.chunks(100) {
        integer(&mut out, block.len() as i64);
        out.extend_from_slice(b" beginbfchar\n");
        for &(glyph, c) in block {
            hex_string(&mut out, &glyph.to_be_bytes());
            out.push(b' ');
            let mut units = [0u16; 2];
            let bytes: Vec<u8> = c.encode_utf16(&mut units).iter().flat_map(|u| u.to_be_bytes()).collect();
            hex_string(&mut out, &bytes);
            out.push(b'\n');
        }
        out.extend_from_slice(b"endbfchar\n");
    }
    out.extend_from_slice(b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    out
}

/// What a copied object becomes in the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Renumbered {
    /// The object under a new number.
    Object(u32),
    /// A reference written as this number (the batch's page tree).
    Fixed(u32),
    /// A reference written as `null`: an object left out (another document's page tree).
    Null,
}

/// Appends `object` with every reference renumbered by `map` (missing objects become
/// `null`, which ISO 32000-1 §7.3.10 makes equivalent to a reference to nothing).
/// Strings are written in hexadecimal form, which needs no escaping.
pub(crate) fn copied_object(out: &mut Vec<u8>, object: &Object, map: &HashMap<ObjectId, Renumbered>) {
    match object {
        Object::Null => out.extend_from_slice(b"null"),
        Object::Boolean(true) => out.extend_from_slice(b"true"),
        Object::Boolean(false) => out.extend_from_slice(b"false"),
        Object::Integer(value) => integer(out, *value),
        Object::Real(value) => real(out, if value.is_finite() { *value } else { 0.0 }),
        Object::Name(name) => name_bytes(out, name),
        Object::String(bytes, _) => hex_string(out, bytes),
        Object::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                copied_object(out, item, map);
            }
            out.push(b']');
        }
        Object::Dictionary(dict) => {
            out.extend_from_slice(b"<<");
            for (key, value) in dict.iter() {
                name_bytes(out, key);
                out.push(b' ');
                copied_object(out, value, map);
            }
            out.extend_from_slice(b">>");
        }
        Object::Stream(stream) => {
            out.extend_from_slice(b"<<");
            for (key, value) in stream.dict.iter().filter(|(k, _)| k.as_slice() != b"Length") {
                name_bytes(out, key);
                out.push(b' ');
                copied_object(out, value, map);
            }
            out.extend_from_slice(b"/Length ");
            integer(out, stream.content.len() as i64);
            out.extend_from_slice(b">>\nstream\n");
            out.extend_from_slice(&stream.content);
            out.extend_from_slice(b"\nendstream");
        }
        Object::Reference(id) => match map.get(id) {
            Some(Renumbered::Object(new) | Renumbered::Fixed(new)) => reference(out, *new),
            Some(Renumbered::Null) | None => out.extend_from_slice(b"null"),
        },
    }
}

/// A name object: `/` and the bytes, with delimiters, whitespace and bytes outside
/// `!`..`~` written as `#xx` (ISO 32000-1 §7.3.5).
pub(crate) fn name_bytes(out: &mut Vec<u8>, name: &[u8]) {
    out.push(b'/');
    for &byte in name {
        if b"()<>[]{}/%#".contains(&byte) || !(33..=126).contains(&byte) {
            out.push(b'#');
            out.extend_from_slice(format!("{byte:02X}").as_bytes());
        } else {
            out.push(byte);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflated_streams_inflate_to_the_original() {
        use std::io::Read;
        let mut deflater = Deflater::new(1);
        let data = b"BT /FR 16 Tf 1 0 0 1 85.039 700 Tm [<0012><0034>] TJ ET\n".repeat(300);
        for _ in 0..2 {
            let packed = deflater.deflate(&data).to_vec();
            assert!(packed.len() < data.len() / 4);
            let mut back = Vec::new();
            flate2::read::ZlibDecoder::new(&packed[..]).read_to_end(&mut back).expect("valid zlib");
            assert_eq!(back, data);
        }
    }

    #[test]
    fn names_escape_delimiters_and_spaces() {
        let mut out = Vec::new();
        name_bytes(&mut out, b"A B/C#");
        assert_eq!(out, b"/A#20B#2FC#23");
    }

    #[test]
    fn copied_references_follow_the_map() {
        let map = HashMap::from([((4, 0), Renumbered::Object(40)), ((5, 0), Renumbered::Null)]);
        let object = Object::Array(vec![
            Object::Reference((4, 0)),
            Object::Reference((5, 0)),
            Object::Reference((6, 0)),
            Object::string_literal("a)"),
            Object::Real(1.5),
        ]);
        let mut out = Vec::new();
        copied_object(&mut out, &object, &map);
        assert_eq!(String::from_utf8(out).expect("ASCII"), "[40 0 R null null <6129> 1.5]");
    }
}
