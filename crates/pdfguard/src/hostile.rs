//! PDFs built to be hard on readers, for tests and for measuring what a reader takes:
//! nesting a million deep (in the file body, in an object stream, in a page's content),
//! chains of `/Length` references, many small objects, many objects in object streams,
//! huge cross-reference tables, overlapping objects. Each is a complete file a viewer
//! would open (where the structure allows), with one A4 page.

use std::fmt::Write as _;
use std::io::Write as _;

/// Arrays (`[[…]]`) or dictionaries (`<< /K << /K … >> >>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nest {
    /// `[` … `]`.
    Arrays,
    /// `<< /K` … `>>`.
    Dictionaries,
}

/// `depth` containers of `kind` around `inner`.
pub fn nested(kind: Nest, depth: usize, inner: &str) -> Vec<u8> {
    let (open, close): (&[u8], &[u8]) = match kind {
        Nest::Arrays => (b"[", b"]"),
        Nest::Dictionaries => (b"<< /K ", b" >>"),
    };
    let mut out = Vec::with_capacity(depth * (open.len() + close.len()) + inner.len());
    for _ in 0..depth {
        out.extend_from_slice(open);
    }
    out.extend_from_slice(inner.as_bytes());
    for _ in 0..depth {
        out.extend_from_slice(close);
    }
    out
}

/// A PDF written object by object: numbers from 1, a classic cross-reference table.
#[derive(Debug, Default)]
pub struct Writer {
    objects: Vec<Vec<u8>>,
}

impl Writer {
    /// An empty file.
    pub fn new() -> Self {
        Writer::default()
    }

    /// Adds an object's body (what goes between `N 0 obj` and `endobj`); its number.
    pub fn add(&mut self, body: impl Into<Vec<u8>>) -> u32 {
        self.objects.push(body.into());
        self.objects.len() as u32
    }

    /// Adds a stream with a direct `/Length`; its number.
    pub fn stream(&mut self, dict: &str, data: &[u8]) -> u32 {
        let mut body = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\nendstream");
        self.add(body)
    }

    /// Adds a catalog, a page tree and one A4 page drawing `content` (and whatever
    /// `page_extra` adds to the page dictionary); the catalog's number.
    pub fn page(&mut self, content: &[u8], page_extra: &str) -> u32 {
        let catalog = self.objects.len() as u32 + 1;
        let pages = catalog + 1;
        let page = catalog + 2;
        let contents = catalog + 3;
        self.add(format!("<< /Type /Catalog /Pages {pages} 0 R >>"));
        self.add(format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"));
        self.add(format!(
            "<< /Type /Page /Parent {pages} 0 R /MediaBox [0 0 595.28 841.89] /Resources << >> /Contents {contents} 0 R {page_extra} >>"
        ));
        self.stream("", content);
        catalog
    }

    /// The file, with `root` as its catalog.
    pub fn finish(self, root: u32) -> Vec<u8> {
        self.finish_with(root, &[])
    }

    /// The file, with `root` as its catalog and the cross-reference entries of the objects
    /// in `generations` given those generation numbers (their headers keep 0).
    pub fn finish_with(self, root: u32, generations: &[(u32, u16)]) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
        let mut offsets = Vec::with_capacity(self.objects.len());
        for (i, body) in self.objects.iter().enumerate() {
            offsets.push(out.len());
            let _ = writeln!(out, "{} 0 obj", i + 1);
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        let _ = write!(out, "xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1);
        for (i, offset) in offsets.into_iter().enumerate() {
            let number = i as u32 + 1;
            let generation = generations.iter().find(|g| g.0 == number).map_or(0, |g| g.1);
            let _ = writeln!(out, "{offset:010} {generation:05} n ");
        }
        let _ =
            write!(out, "trailer\n<< /Size {} /Root {root} 0 R >>\nstartxref\n{xref}\n%%EOF\n", self.objects.len() + 1);
        out
    }
}

/// One page whose content stream nests `depth` arrays or dictionaries, then `]`s and
/// `TJ` (the upload that aborted the service: its content is read by our lexer, not lopdf).
pub fn nested_content(kind: Nest, depth: usize) -> Vec<u8> {
    let mut content = nested(kind, depth, "(x)");
    content.extend_from_slice(b" TJ");
    let mut w = Writer::new();
    let root = w.page(&content, "");
    w.finish(root)
}

/// One page whose dictionary carries `/Deep` nesting `depth` levels (the file body, read by
/// lopdf when the file loads).
pub fn nested_body(kind: Nest, depth: usize) -> Vec<u8> {
    let mut extra = String::from("/Deep ");
    extra.push_str(&String::from_utf8_lossy(&nested(kind, depth, "1")));
    let mut w = Writer::new();
    let root = w.page(b"0 0 1 1 re f", &extra);
    w.finish(root)
}

/// A file whose objects are in an object stream (with a cross-reference stream), one of
/// them nesting `depth` levels.
pub fn nested_object_stream(kind: Nest, depth: usize) -> Vec<u8> {
    let deep = nested(kind, depth, "1");
    let objects = [b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(), pages_object(), page_object(5, ""), deep];
    objects_in_streams(&objects, &[stream_body("", b"0 0 100 100 re f")], 1000)
}

fn pages_object() -> Vec<u8> {
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec()
}

/// Page 3 of the layouts here, drawing stream `contents`, with `resources`.
fn page_object(contents: u32, resources: &str) -> Vec<u8> {
    format!(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] /Resources << {resources} >> /Contents {contents} 0 R >>"
    )
    .into_bytes()
}

/// A stream object's body with a direct `/Length`.
pub fn stream_body(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\nendstream");
    body
}

/// A PDF 1.5 file: `objects` numbered from 1 (the first the catalog) in object streams of
/// `per_stream` objects, then `streams` (bodies of stream objects, which cannot be in
/// object streams) numbered after them, and a cross-reference stream.
pub fn objects_in_streams(objects: &[Vec<u8>], streams: &[Vec<u8>], per_stream: usize) -> Vec<u8> {
    let per_stream = per_stream.max(1);
    let n = objects.len() as u32;
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut entries: Vec<(u32, u8, u32, u32)> = Vec::new(); // (number, type, field 2, field 3)
    for (i, body) in streams.iter().enumerate() {
        let number = n + 1 + i as u32;
        entries.push((number, 1, out.len() as u32, 0));
        let _ = writeln!(out, "{number} 0 obj");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let mut next = n + streams.len() as u32 + 1;
    for (chunk_index, chunk) in objects.chunks(per_stream).enumerate() {
        let first_number = (chunk_index * per_stream) as u32 + 1;
        let container = next;
        next += 1;
        let mut index = String::new();
        let mut body = Vec::new();
        for (i, object) in chunk.iter().enumerate() {
            let _ = write!(index, "{} {} ", first_number + i as u32, body.len());
            body.extend_from_slice(object);
            body.push(b'\n');
            entries.push((first_number + i as u32, 2, container, i as u32));
        }
        let mut data = index.into_bytes();
        let first = data.len();
        data.extend_from_slice(&body);
        let packed = deflate(&data);
        entries.push((container, 1, out.len() as u32, 0));
        let _ = write!(
            out,
            "{container} 0 obj\n<< /Type /ObjStm /N {} /First {first} /Filter /FlateDecode /Length {} >>\nstream\n",
            chunk.len(),
            packed.len()
        );
        out.extend_from_slice(&packed);
        out.extend_from_slice(b"\nendstream\nendobj\n");
    }
    let xref_id = next;
    entries.push((xref_id, 1, out.len() as u32, 0));
    entries.sort_by_key(|e| e.0);
    let mut table = vec![0u8, 0, 0, 0, 0, 0xff, 0xff]; // object 0: free
    for (number, kind, two, three) in &entries {
        debug_assert_eq!(*number as usize, table.len() / 7);
        table.push(*kind);
        table.extend_from_slice(&two.to_be_bytes());
        table.extend_from_slice(&(*three as u16).to_be_bytes());
    }
    let xref_at = out.len();
    let _ = write!(
        out,
        "{xref_id} 0 obj\n<< /Type /XRef /Size {} /W [1 4 2] /Root 1 0 R /Length {} >>\nstream\n",
        xref_id + 1,
        table.len()
    );
    out.extend_from_slice(&table);
    let _ = write!(out, "\nendstream\nendobj\nstartxref\n{xref_at}\n%%EOF\n");
    out
}

/// Where a scanned page's file nests deep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// In the page's content stream (which lopdf does not parse).
    Content,
    /// In the page dictionary, in the file body.
    Body,
    /// In an object of an object stream.
    ObjectStream,
}

/// A scanner's PDF — one A4 page drawing one grey image of `width` × `height` pixels
/// (`pixels`, row by row) — with `depth` levels of `kind` nesting at `place`: in the
/// page's content, in the page dictionary (a classic file), or in an object of an object
/// stream (a PDF 1.5 file whose other objects are compressed too).
pub fn nested_scan(kind: Nest, depth: usize, place: Place, width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    let image_dict = format!(
        "/Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceGray /BitsPerComponent 8"
    );
    let mut content = b"q 595.28 0 0 841.89 0 0 cm /Im1 Do Q\n".to_vec();
    let deep = nested(kind, depth, "1");
    if place == Place::ObjectStream {
        let page = page_object(5, "/XObject << /Im1 6 0 R >>");
        let objects = vec![b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(), pages_object(), page, deep];
        return objects_in_streams(&objects, &[stream_body("", &content), stream_body(&image_dict, pixels)], 100);
    }
    let mut extra = String::new();
    match place {
        Place::Content => {
            content.extend_from_slice(&deep);
            content.extend_from_slice(b" pop\n");
        }
        _ => {
            extra.push_str("/Deep ");
            extra.push_str(&String::from_utf8_lossy(&deep));
        }
    }
    // Catalog 1, pages 2, page 3, content 4, image 5.
    let mut w = Writer::new();
    w.add("<< /Type /Catalog /Pages 2 0 R >>");
    w.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    w.add(format!(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R {extra} >>"
    ));
    w.stream("", &content);
    w.stream(&image_dict, pixels);
    w.finish(1)
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(data).expect("writing to a Vec cannot fail");
    z.finish().expect("writing to a Vec cannot fail")
}

/// `links` streams, each with a `/Length` that is the next one (the last's an integer):
/// lopdf parses them recursively, one stack frame group per link.
pub fn length_chain(links: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let root = w.page(b"0 0 1 1 re f", "");
    let first = root + 4;
    for i in 0..links {
        let next = first + i as u32 + 1;
        w.add(format!("<< /Length {next} 0 R >>\nstream\nx\nendstream"));
    }
    w.add("1");
    w.finish(root)
}

/// An object stream whose `/Length` is an object stored inside itself: lopdf recurses
/// without end resolving it.
pub fn self_measuring_object_stream() -> Vec<u8> {
    // Objects 1-3 (catalog, pages, page) and 5 (the length, 40) live in object stream 6,
    // whose /Length is 5 0 R. Object 4 is the page's content.
    let objects = [b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(), pages_object(), page_object(4, ""), b"40".to_vec()];
    let mut index = String::new();
    let mut body = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        let number = if i == 3 { 5 } else { i as u32 + 1 };
        let _ = write!(index, "{number} {} ", body.len());
        body.extend_from_slice(object);
        body.push(b'\n');
    }
    let mut data = index.into_bytes();
    let first = data.len();
    data.extend_from_slice(&body);
    let mut out = b"%PDF-1.7\n".to_vec();
    let content_at = out.len();
    out.extend_from_slice(b"4 0 obj\n<< /Length 1 >>\nstream\nx\nendstream\nendobj\n");
    let container_at = out.len();
    let _ = write!(out, "6 0 obj\n<< /Type /ObjStm /N 4 /First {first} /Length 5 0 R >>\nstream\n");
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\nendstream\nendobj\n");
    let xref_at = out.len();
    let mut table = vec![0u8, 0, 0, 0, 0, 0xff, 0xff];
    for (number, kind, two, three) in [
        (1u32, 2u8, 6u32, 0u16),
        (2, 2, 6, 1),
        (3, 2, 6, 2),
        (4, 1, content_at as u32, 0),
        (5, 2, 6, 3),
        (6, 1, container_at as u32, 0),
        (7, 1, xref_at as u32, 0),
    ] {
        let _ = number;
        table.push(kind);
        table.extend_from_slice(&two.to_be_bytes());
        table.extend_from_slice(&three.to_be_bytes());
    }
    let _ = write!(out, "7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R /Length {} >>\nstream\n", table.len());
    out.extend_from_slice(&table);
    let _ = write!(out, "\nendstream\nendobj\nstartxref\n{xref_at}\n%%EOF\n");
    out
}

/// One page whose content stream (compressed) is `bytes` of short path operators
/// (`0 0 m 1 1 l S`): what a checker decodes and tokenizes for one page at most.
pub fn big_content(bytes: usize) -> Vec<u8> {
    let line = b"10 10 m 20 20 l S\n";
    let mut content = Vec::with_capacity(bytes + line.len());
    while content.len() < bytes {
        content.extend_from_slice(line);
    }
    let packed = deflate(&content);
    let mut w = Writer::new();
    let root = w.add("<< /Type /Catalog /Pages 2 0 R >>");
    w.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    w.add("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] /Resources << >> /Contents 4 0 R >>");
    w.stream("/Filter /FlateDecode", &packed);
    w.finish(root)
}

/// `count` small objects, each an array of `items` zeros (the 14.5 MB file that took
/// 930 MB to check: 60,000 arrays of 120).
pub fn many_small_arrays(count: usize, items: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let root = w.page(b"0 0 1 1 re f", "");
    let array = format!("[{}]", "0 ".repeat(items));
    for _ in 0..count {
        w.add(array.as_bytes());
    }
    w.finish(root)
}

/// `count` small dictionaries in object streams of 100 (compressed: a small file that
/// unpacks into many objects).
pub fn many_objects_in_streams(count: usize) -> Vec<u8> {
    let content = count as u32 + 4;
    let mut objects = vec![b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(), pages_object(), page_object(content, "")];
    for i in 0..count {
        objects.push(format!("<< /A {i} /B [1 2 3 4 5 6 7 8] /C (text) /D /Name >>").into_bytes());
    }
    objects_in_streams(&objects, &[stream_body("", b"0 0 100 100 re f")], 100)
}

/// A cross-reference table of `entries` entries all pointing at one object of `items`
/// numbers: lopdf parses it once per entry.
pub fn overlapping_entries(entries: usize, items: usize) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let catalog = out.len();
    out.extend_from_slice(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    let pages = out.len();
    out.extend_from_slice(b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n");
    let big = out.len();
    let _ = write!(out, "3 0 obj\n[{}]\nendobj\n", "0 ".repeat(items));
    let xref = out.len();
    let _ = write!(out, "xref\n0 {}\n0000000000 65535 f \n{catalog:010} 00000 n \n{pages:010} 00000 n \n", entries + 3);
    for _ in 0..entries {
        let _ = writeln!(out, "{big:010} 00000 n ");
    }
    let _ = write!(out, "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", entries + 3);
    out
}

/// A cross-reference stream of `entries` entries of zero width (`/W [0 0 0]`): a few
/// hundred bytes that lopdf turns into `entries` table entries.
pub fn zero_width_xref(entries: u64) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let xref_at = out.len();
    let _ = write!(
        out,
        "1 0 obj\n<< /Type /XRef /Size 2 /Index [0 {entries}] /W [0 0 0] /Length 0 >>\nstream\n\nendstream\nendobj\nstartxref\n{xref_at}\n%%EOF\n"
    );
    out
}

/// `count` streams whose `/Length` lopdf cannot resolve while parsing (the length object's
/// cross-reference entry has another generation than the references), so that it copies
/// `/Length` bytes of the file for each afterwards, once the object is loaded under the
/// number its header gives: `padding` bytes each time.
pub fn repeated_copies(count: usize, padding: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let root = w.page(b"0 0 1 1 re f", "");
    let length = w.add(format!("{padding}"));
    for _ in 0..count {
        w.add(format!("<< /Length {length} 0 R >>\nstream\nx\nendstream"));
    }
    w.add(format!("({})", "p".repeat(padding)));
    w.finish_with(root, &[(length, 1)])
}

/// `text` as a one-object PDF body for differential tests: the object is the catalog's
/// `/Probe` value.
pub fn probe(text: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    let mut catalog = b"<< /Type /Catalog /Probe ".to_vec();
    catalog.extend_from_slice(text);
    catalog.extend_from_slice(b" >>");
    let root = w.add(catalog);
    w.finish(root)
}

/// Helper for messages: a size in MiB.
pub fn mib(bytes: u64) -> String {
    let mut s = String::new();
    let _ = write!(s, "{:.1} MiB", bytes as f64 / (1024.0 * 1024.0));
    s
}
