//! PDF files as document scanners write them (ISO 32000-1): each page one image XObject,
//! drawn directly or inside a Form XObject. We read that image; we do not rasterise vector
//! pages.

use std::collections::HashSet;

use image::GrayImage;
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use super::ccitt;
use super::raster::decode_jpeg;
use super::{
    Decoded, FileError, Limits, StoredImage, check_pixels, flate_gray, g4_stored, inflate_exact, plausible_dpi,
};

/// Largest decoded palette of an indexed colour space read (256 entries of 4 components
/// need 1 KiB; the rest is never looked at).
const MAX_PALETTE_BYTES: usize = 1 << 20;
/// Parents followed from a page to find its inherited resources.
const MAX_TREE_DEPTH: usize = 64;

/// A loaded PDF and its pages in order. The document holds its share of the process's PDF
/// memory budget for as long as the pages are read.
pub(super) struct PdfPages {
    loaded: hybridpost_pdfguard::Loaded,
    pages: Vec<ObjectId>,
}

impl PdfPages {
    pub(super) fn open(bytes: &[u8], limits: &Limits) -> Result<PdfPages, FileError> {
        // Surveyed first: nesting, chains of lengths and memory within limits, then loaded
        // within the process's budget (the file itself counted while it is held).
        let admit = hybridpost_pdfguard::Admit::file(bytes, limits.pdf_wait);
        let loaded = match hybridpost_pdfguard::load(bytes, &limits.pdf, admit) {
            Ok(loaded) => loaded,
            Err(e @ hybridpost_pdfguard::GuardError::Busy { .. }) => return Err(FileError::Busy(e.to_string())),
            Err(e) if e.is_over_limit() => {
                return Err(FileError::OverLimit(format!(
                    "{e}; save it again from the scanner's software, or scan it again"
                )));
            }
            // An /Encrypt dictionary we could not even get to the end of is still a locked file
            // as far as the sender is concerned.
            Err(_) if has_encrypt_key(bytes) => return Err(FileError::Encrypted),
            Err(e) => {
                let e = match e {
                    hybridpost_pdfguard::GuardError::Unreadable(detail) => detail,
                    other => other.to_string(),
                };
                return Err(FileError::Damaged(format!(
                    "the PDF's structure cannot be read ({e}); it may be cut short, so upload it again"
                )));
            }
        };
        let doc = &loaded.document;
        // lopdf opens files whose user password is empty and removes /Encrypt; what is left
        // needs a password.
        if doc.trailer.get(b"Encrypt").is_ok() {
            return Err(FileError::Encrypted);
        }
        let pages: Vec<ObjectId> = doc.page_iter().collect();
        Ok(PdfPages { loaded, pages })
    }

    fn doc(&self) -> &Document {
        &self.loaded.document
    }

    pub(super) fn page_count(&self) -> u32 {
        u32::try_from(self.pages.len()).unwrap_or(u32::MAX)
    }

    pub(super) fn decode(&self, index: u32, limits: &Limits) -> Result<Decoded, String> {
        let page_id = *self.pages.get(index as usize).ok_or("the page is missing from the PDF")?;
        let doc = self.doc();
        let page = doc.get_dictionary(page_id).map_err(|e| format!("the page cannot be read: {e}"))?;
        let stream = self.page_image(page_id)?;
        let (image, stored) = decode_image(doc, stream, limits)?;
        let dpi = page_size_in(doc, page).and_then(|(w, h)| {
            // Scanners draw the image over the whole page; the root mean square of both axes
            // does not care whether the image was turned to fit.
            let area_in = f64::from(w) / 72.0 * f64::from(h) / 72.0;
            plausible_dpi((f64::from(image.width()) * f64::from(image.height()) / area_in).sqrt())
        });
        Ok(Decoded { image, dpi, stored })
    }

    /// The largest image XObject the page's resources reach, directly or through forms.
    fn page_image(&self, page_id: ObjectId) -> Result<&Stream, String> {
        let doc = self.doc();
        let (inline, ids) =
            page_resources(doc, page_id).map_err(|e| format!("the page's resources cannot be read: {e}"))?;
        let mut dicts: Vec<&Dictionary> = inline.into_iter().collect();
        dicts.extend(ids.into_iter().filter_map(|id| doc.get_dictionary(id).ok()));
        let mut best: Option<(u64, &Stream)> = None;
        let mut seen = HashSet::new();
        for resources in dicts {
            self.collect_images(resources, 0, &mut seen, &mut best);
        }
        best.map(|(_, s)| s).ok_or_else(|| {
            "the page has no scanned image (it looks like a PDF made on a computer, which we do not rasterise); \
             print it and scan it, or upload the scanner's file"
                .to_owned()
        })
    }

    fn collect_images<'a>(
        &'a self,
        resources: &'a Dictionary,
        depth: u32,
        seen: &mut HashSet<ObjectId>,
        best: &mut Option<(u64, &'a Stream)>,
    ) {
        if depth > 8 {
            return;
        }
        let Some(xobjects) = resources.get(b"XObject").ok().and_then(|o| self.deref(o)).and_then(|o| o.as_dict().ok())
        else {
            return;
        };
        for (_, object) in xobjects.iter() {
            if let Ok(id) = object.as_reference()
                && !seen.insert(id)
            {
                continue;
            }
            let Some(Object::Stream(stream)) = self.deref(object) else { continue };
            match stream.dict.get(b"Subtype").and_then(Object::as_name) {
                Ok(b"Image") => {
                    let side = |key: &[u8]| {
                        stream.dict.get(key).and_then(Object::as_i64).unwrap_or(0).clamp(0, 1 << 31) as u64
                    };
                    let area = side(b"Width") * side(b"Height");
                    if best.is_none_or(|(a, _)| area > a) {
                        *best = Some((area, stream));
                    }
                }
                Ok(b"Form") => {
                    if let Some(inner) =
                        stream.dict.get(b"Resources").ok().and_then(|o| self.deref(o)).and_then(|o| o.as_dict().ok())
                    {
                        self.collect_images(inner, depth + 1, seen, best);
                    }
                }
                _ => {}
            }
        }
    }

    fn deref<'a>(&'a self, object: &'a Object) -> Option<&'a Object> {
        self.doc().dereference(object).ok().map(|(_, o)| o)
    }
}

/// lopdf's `Document::get_page_resources` without its recursion up the `/Parent` chain
/// (a file chooses how long that chain is): the page's own resource dictionary, and the
/// resource dictionaries referred to by the page and its ancestors, nearest first.
fn page_resources(doc: &Document, page_id: ObjectId) -> Result<(Option<&Dictionary>, Vec<ObjectId>), String> {
    let Ok(page) = doc.get_dictionary(page_id) else { return Ok((None, Vec::new())) };
    let inline = page.get(b"Resources").and_then(Object::as_dict).ok();
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    let mut node = page;
    for _ in 0..MAX_TREE_DEPTH {
        if let Ok(id) = node.get(b"Resources").and_then(Object::as_reference) {
            ids.push(id);
        }
        let Ok(parent) = node.get(b"Parent").and_then(Object::as_reference) else { return Ok((inline, ids)) };
        if !seen.insert(parent) {
            return Err(format!("the page tree loops back to object {} {}", parent.0, parent.1));
        }
        node = doc.get_dictionary(parent).map_err(|e| e.to_string())?;
    }
    Err(format!("the page tree is more than {MAX_TREE_DEPTH} levels deep"))
}

fn has_encrypt_key(bytes: &[u8]) -> bool {
    bytes.windows(8).any(|w| w == b"/Encrypt")
}

/// The page's size in points from its (inherited) `/MediaBox`, or its `/CropBox` when smaller.
fn page_size_in(doc: &Document, page: &Dictionary) -> Option<(f32, f32)> {
    let size_of = |key: &[u8]| -> Option<(f32, f32)> {
        let mut node = page;
        for _ in 0..32 {
            if let Ok(obj) = node.get(key) {
                let arr = doc.dereference(obj).ok()?.1.as_array().ok()?;
                let n: Vec<f32> = arr.iter().filter_map(|o| doc.dereference(o).ok()?.1.as_float().ok()).collect();
                if n.len() != 4 {
                    return None;
                }
                let (w, h) = ((n[2] - n[0]).abs(), (n[3] - n[1]).abs());
                return (w > 1.0 && h > 1.0 && w.is_finite() && h.is_finite()).then_some((w, h));
            }
            node = doc.dereference(node.get(b"Parent").ok()?).ok()?.1.as_dict().ok()?;
        }
        None
    };
    let media = size_of(b"MediaBox");
    match (media, size_of(b"CropBox")) {
        (Some((mw, mh)), Some((cw, ch))) if cw <= mw && ch <= mh => Some((cw, ch)),
        (Some(m), _) => Some(m),
        (None, crop) => crop,
    }
}

/// What an image dictionary's `/ColorSpace` makes of its samples.
enum ColorSpace {
    /// 1 grey, 3 RGB, 4 CMYK components per pixel.
    Device(usize),
    /// A palette over grey, RGB or CMYK: `(base components, palette bytes)`.
    Indexed(usize, Vec<u8>),
}

fn color_space(doc: &Document, dict: &Dictionary, depth: u32) -> Result<ColorSpace, String> {
    if dict.get(b"ImageMask").and_then(Object::as_bool).unwrap_or(false) {
        return Ok(ColorSpace::Device(1));
    }
    let Ok(cs) = dict.get(b"ColorSpace") else {
        return Ok(ColorSpace::Device(1));
    };
    named_space(doc, cs, depth)
}

fn named_space(doc: &Document, cs: &Object, depth: u32) -> Result<ColorSpace, String> {
    let cs = doc.dereference(cs).map_err(|e| format!("the image's colour space cannot be read: {e}"))?.1;
    if depth > 4 {
        return Err("the image's colour space nests too deep".into());
    }
    let by_name = |name: &[u8]| match name {
        b"DeviceGray" | b"CalGray" | b"G" => Some(1),
        b"DeviceRGB" | b"CalRGB" | b"RGB" | b"Lab" => Some(3),
        b"DeviceCMYK" | b"CMYK" => Some(4),
        _ => None,
    };
    match cs {
        Object::Name(name) => by_name(name)
            .map(ColorSpace::Device)
            .ok_or_else(|| format!("the image's colour space {} is not supported", String::from_utf8_lossy(name))),
        Object::Array(arr) => {
            let family = arr.first().and_then(|o| o.as_name().ok()).unwrap_or(b"");
            match family {
                b"ICCBased" => {
                    let stream = arr.get(1).and_then(|o| doc.dereference(o).ok()).and_then(|(_, o)| o.as_stream().ok());
                    let n = stream.and_then(|s| s.dict.get(b"N").and_then(Object::as_i64).ok());
                    match n {
                        Some(n @ (1 | 3 | 4)) => Ok(ColorSpace::Device(n as usize)),
                        _ => Err("the image's ICC colour space has no usable component count".into()),
                    }
                }
                b"Indexed" | b"I" => {
                    let base = match arr.get(1) {
                        Some(b) => match named_space(doc, b, depth + 1)? {
                            ColorSpace::Device(n) => n,
                            ColorSpace::Indexed(..) => return Err("an indexed colour space over another".into()),
                        },
                        None => return Err("the indexed colour space has no base".into()),
                    };
                    let lookup = match arr.get(3).and_then(|o| doc.dereference(o).ok()).map(|(_, o)| o) {
                        Some(Object::String(bytes, _)) => bytes.clone(),
                        Some(Object::Stream(s)) => hybridpost_pdfguard::decode_stream(s, MAX_PALETTE_BYTES)
                            .unwrap_or_else(|_| s.content.iter().take(MAX_PALETTE_BYTES).copied().collect()),
                        _ => return Err("the indexed colour space has no palette".into()),
                    };
                    Ok(ColorSpace::Indexed(base, lookup))
                }
                b"CalGray" | b"CalRGB" | b"Lab" => Ok(ColorSpace::Device(by_name(family).unwrap_or(1))),
                other => Err(format!("the image's colour space {} is not supported", String::from_utf8_lossy(other))),
            }
        }
        _ => Err("the image's colour space is not a name or an array".into()),
    }
}

fn int(dict: &Dictionary, key: &[u8]) -> Option<i64> {
    dict.get(key).and_then(Object::as_i64).ok()
}

/// The image stream's pixels in grey and the form it will be kept in.
fn decode_image(doc: &Document, stream: &Stream, limits: &Limits) -> Result<(GrayImage, StoredImage), String> {
    let dict = &stream.dict;
    let width = u32::try_from(int(dict, b"Width").unwrap_or(0)).map_err(|_| "the image's width is not a size")?;
    let height = u32::try_from(int(dict, b"Height").unwrap_or(0)).map_err(|_| "the image's height is not a size")?;
    let filters: Vec<&[u8]> = match dict.get(b"Filter").ok().and_then(|o| doc.dereference(o).ok()).map(|(_, o)| o) {
        None | Some(Object::Null) => Vec::new(),
        Some(Object::Name(n)) => vec![n.as_slice()],
        Some(Object::Array(a)) => a.iter().filter_map(|o| o.as_name().ok()).collect(),
        Some(_) => return Err("the image's /Filter is not a name".into()),
    };
    // The decode parameters of the last filter, the one that makes pixels.
    let parms: Option<&Dictionary> =
        match dict.get(b"DecodeParms").ok().and_then(|o| doc.dereference(o).ok()).map(|(_, o)| o) {
            Some(Object::Dictionary(d)) => Some(d),
            Some(Object::Array(a)) => {
                a.last().and_then(|o| doc.dereference(o).ok()).and_then(|(_, o)| o.as_dict().ok())
            }
            _ => None,
        };
    let inverted = match dict.get(b"Decode").and_then(Object::as_array) {
        Ok(d) => {
            d.first().and_then(|o| o.as_float().ok()) == Some(1.0)
                && d.get(1).and_then(|o| o.as_float().ok()) == Some(0.0)
        }
        Err(_) => false,
    };
    let names: Vec<String> = filters.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
    match filters.as_slice() {
        [b"DCTDecode" | b"DCT"] => jpeg(&stream.content, limits),
        [b"FlateDecode" | b"Fl", b"DCTDecode" | b"DCT"] => {
            let budget = usize::try_from(limits.max_alloc_bytes.min(limits.max_file_bytes)).unwrap_or(usize::MAX);
            let jpeg_bytes = inflate_bounded(&stream.content, budget)?;
            jpeg(&jpeg_bytes, limits)
        }
        [b"CCITTFaxDecode" | b"CCF"] => {
            let p = parms;
            let get = |key: &[u8]| p.and_then(|d| int(d, key));
            let flag = |key: &[u8]| p.and_then(|d| d.get(key).and_then(Object::as_bool).ok()).unwrap_or(false);
            let columns = u32::try_from(get(b"Columns").unwrap_or(1728)).map_err(|_| "the fax image's /Columns is not a size")?;
            let rows = get(b"Rows").filter(|r| *r > 0).map_or(Ok(height), u32::try_from).map_err(|_| "the fax image's /Rows is not a size")?;
            check_pixels(columns, rows, 1, limits)?;
            let params = ccitt::Params {
                k: i32::try_from(get(b"K").unwrap_or(0)).unwrap_or(-1),
                width: columns,
                height: rows,
                byte_align: flag(b"EncodedByteAlign"),
                black_is_1: flag(b"BlackIs1") != inverted,
            };
            let image = ccitt::decode(&stream.content, &params)?;
            let stored = StoredImage::Ccitt {
                bytes: stream.content.clone(),
                width: columns,
                height: rows,
                k: params.k,
                black_is_1: params.black_is_1,
                byte_align: params.byte_align,
            };
            Ok((image, stored))
        }
        [] | [b"FlateDecode" | b"Fl"] => {
            let flate = !filters.is_empty();
            let bpc = u32::try_from(int(dict, b"BitsPerComponent").unwrap_or(if dict.has(b"ImageMask") { 1 } else { 8 }))
                .map_err(|_| "the image's /BitsPerComponent is not a number")?;
            if !matches!(bpc, 1 | 2 | 4 | 8 | 16) {
                return Err(format!("the image has {bpc} bits per component"));
            }
            let space = color_space(doc, dict, 0)?;
            let comps = match &space {
                ColorSpace::Device(n) => *n,
                ColorSpace::Indexed(..) => 1,
            };
            check_pixels(width, height, comps as u64 * u64::from(bpc.div_ceil(8)) + 1, limits)?;
            let row_bytes = (width as usize * comps * bpc as usize).div_ceil(8);
            let predictor = if flate { parms.and_then(|d| int(d, b"Predictor")).unwrap_or(1) } else { 1 };
            let png_rows = predictor >= 10;
            let samples = if flate {
                let expected = height as usize * (row_bytes + usize::from(png_rows));
                let raw = inflate_exact(&stream.content, expected, "image")?;
                match predictor {
                    1 => raw,
                    2 if bpc == 8 => tiff_unpredict(raw, row_bytes, comps),
                    p if p >= 10 => png_unpredict(&raw, row_bytes, (comps * bpc as usize).div_ceil(8).max(1))?,
                    p => return Err(format!("the image uses predictor {p}, which is not supported")),
                }
            } else {
                let expected = height as usize * row_bytes;
                stream.content.get(..expected).ok_or("the image's data is cut short")?.to_vec()
            };
            let image = samples_to_gray(&samples, width, height, bpc, &space, inverted)?;
            let stored = if bpc == 1 && comps == 1 && matches!(space, ColorSpace::Device(1)) {
                g4_stored(&image)
            } else if flate && predictor == 1 && bpc == 8 && matches!(space, ColorSpace::Device(1)) && !inverted {
                // The scanner's own zlib stream of grey pixels: keep it.
                StoredImage::FlateGray { bytes: stream.content.clone(), width, height }
            } else {
                flate_gray(&image)
            };
            Ok((image, stored))
        }
        [b"JBIG2Decode"] => Err("the page's image is JBIG2, which we do not read; set the scanner to save black-and-white pages as CCITT G4 (or JPEG) and scan again".into()),
        [b"JPXDecode"] => Err("the page's image is JPEG 2000, which we do not read; set the scanner to save JPEG and scan again".into()),
        _ => Err(format!("the page's image uses the filters [{}], which we do not read", names.join(", "))),
    }
}

fn jpeg(bytes: &[u8], limits: &Limits) -> Result<(GrayImage, StoredImage), String> {
    let (image, facts) = decode_jpeg(bytes, limits)?;
    let stored = StoredImage::Jpeg {
        bytes: bytes.to_vec(),
        width: image.width(),
        height: image.height(),
        components: facts.components,
    };
    Ok((image, stored))
}

/// Inflates at most `limit` bytes: more is an error.
fn inflate_bounded(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the image's zlib data is damaged: {e}"))?;
    if out.len() > limit {
        return Err(format!("the image's zlib data expands past {} MiB", limit >> 20));
    }
    Ok(out)
}

/// Undoes PNG row filters (RFC 2083 §6, PDF predictors 10–15).
fn png_unpredict(raw: &[u8], row_bytes: usize, bpp: usize) -> Result<Vec<u8>, String> {
    let stride = row_bytes + 1;
    let rows = raw.len() / stride;
    let mut out = vec![0u8; rows * row_bytes];
    let mut prev = vec![0u8; row_bytes];
    for (y, row) in raw.chunks_exact(stride).enumerate() {
        let (filter, data) = (row[0], &row[1..]);
        let cur = &mut out[y * row_bytes..(y + 1) * row_bytes];
        cur.copy_from_slice(data);
        match filter {
            0 => {}
            1 => (bpp..row_bytes).for_each(|i| cur[i] = cur[i].wrapping_add(cur[i - bpp])),
            2 => (0..row_bytes).for_each(|i| cur[i] = cur[i].wrapping_add(prev[i])),
            3 => (0..row_bytes).for_each(|i| {
                let left = if i >= bpp { cur[i - bpp] } else { 0 };
                cur[i] = cur[i].wrapping_add(((u16::from(left) + u16::from(prev[i])) / 2) as u8);
            }),
            4 => (0..row_bytes).for_each(|i| {
                let a = if i >= bpp { i16::from(cur[i - bpp]) } else { 0 };
                let b = i16::from(prev[i]);
                let c = if i >= bpp { i16::from(prev[i - bpp]) } else { 0 };
                let p = a + b - c;
                let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                let pred = if pa <= pb && pa <= pc {
                    a
                } else if pb <= pc {
                    b
                } else {
                    c
                };
                cur[i] = cur[i].wrapping_add(pred as u8);
            }),
            f => return Err(format!("the image's data has an unknown PNG row filter {f}")),
        }
        prev.copy_from_slice(cur);
    }
    Ok(out)
}

/// Undoes TIFF predictor 2 on 8-bit samples: each sample is a difference from its left one.
fn tiff_unpredict(mut raw: Vec<u8>, row_bytes: usize, comps: usize) -> Vec<u8> {
    for row in raw.chunks_exact_mut(row_bytes) {
        for i in comps..row.len() {
            row[i] = row[i].wrapping_add(row[i - comps]);
        }
    }
    raw
}

/// Samples of any depth and colour space to 8-bit grey, 0 black.
fn samples_to_gray(
    samples: &[u8],
    width: u32,
    height: u32,
    bpc: u32,
    space: &ColorSpace,
    inverted: bool,
) -> Result<GrayImage, String> {
    let (w, h) = (width as usize, height as usize);
    let comps = match space {
        ColorSpace::Device(n) => *n,
        ColorSpace::Indexed(..) => 1,
    };
    let row_bytes = (w * comps * bpc as usize).div_ceil(8);
    if samples.len() < row_bytes * h {
        return Err("the image's data is cut short".into());
    }
    let mut gray = Vec::with_capacity(w * h);
    let max = (1u32 << bpc.min(8)) - 1;
    let mut row_vals: Vec<u8> = Vec::with_capacity(w * comps);
    // An indexed image's palette in grey, once; entries the palette lacks are black.
    let palette: Vec<u8> = match space {
        ColorSpace::Indexed(base, lookup) => (0..256usize)
            .map(|i| match lookup.get(i * base..(i + 1) * base) {
                Some(c) if *base == 4 => super::cmyk_gray(c[0], c[1], c[2], c[3]),
                Some(c) => super::to_gray(c, *base, false).first().copied().unwrap_or(0),
                None => 0,
            })
            .collect(),
        ColorSpace::Device(_) => Vec::new(),
    };
    for row in samples.chunks_exact(row_bytes.max(1)).take(h) {
        row_vals.clear();
        match bpc {
            8 => row_vals.extend_from_slice(&row[..w * comps]),
            16 => row_vals.extend(row.chunks_exact(2).take(w * comps).map(|p| p[0])),
            _ => {
                let per_byte = 8 / bpc as usize;
                for i in 0..w * comps {
                    let byte = row[i / per_byte];
                    let shift = 8 - bpc as usize * (i % per_byte + 1);
                    row_vals.push(((u32::from(byte) >> shift) & max) as u8);
                }
            }
        }
        match space {
            ColorSpace::Indexed(..) => gray.extend(row_vals.iter().map(|&i| palette[usize::from(i)])),
            ColorSpace::Device(n) => {
                let scale = |v: u8| if bpc < 8 { (u32::from(v) * 255 / max) as u8 } else { v };
                if *n == 1 {
                    gray.extend(row_vals.iter().map(|&v| scale(v)));
                } else {
                    let scaled: Vec<u8> = row_vals.iter().map(|&v| scale(v)).collect();
                    let g = if *n == 4 {
                        // DeviceCMYK samples are ink amounts.
                        scaled.chunks_exact(4).map(|p| super::cmyk_gray(p[0], p[1], p[2], p[3])).collect()
                    } else {
                        super::to_gray(&scaled, *n, false)
                    };
                    gray.extend(g);
                }
            }
        }
    }
    if inverted {
        gray.iter_mut().for_each(|v| *v = 255 - *v);
    }
    GrayImage::from_raw(width, height, gray).ok_or_else(|| "the image's pixels do not fill it".to_owned())
}
