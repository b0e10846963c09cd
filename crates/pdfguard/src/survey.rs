//! What `lopdf::Document::load_mem_with_options` (lopdf 0.44, `reader.rs`) would do with a
//! file, step by step, without doing it: the cross-reference chain it would follow, every
//! object it would parse (and parse again to resolve a stream's `/Length`), every object
//! stream and cross-reference stream it would inflate, every byte it would copy. Each step
//! is added up — memory that stays, memory held for a moment, objects, bytes of work — and
//! checked against [`Limits`] as it goes, so a hostile file is refused early and the
//! survey itself stays cheap. Nothing here recurses on the file's structure: objects are
//! read by [`crate::syntax`] on an explicit stack, and the one recursion (a `/Length` that
//! refers to another object, as lopdf's `Reader::get_object` does) stops at
//! [`Limits::max_length_hops`] before it recurses.

use std::collections::{BTreeMap, HashMap, HashSet};

use lopdf::{Dictionary, Object, ObjectId, Stream};

use crate::syntax::{ALLOCATION_OVERHEAD, Build, OBJECT_BYTES, Read, Stop, Syntax, Top};
use crate::{GuardError, Limits, Survey};

/// One entry of `Document::objects` (a `BTreeMap<ObjectId, Object>`): key, value and the
/// tree's nodes around them (half full at worst after splits).
const MAP_ENTRY_BYTES: u64 = (8 + OBJECT_BYTES) * 2;
/// One cross-reference entry in lopdf's `Xref` (a `BTreeMap<u32, XrefEntry>`), the same way.
const XREF_ENTRY_BYTES: u64 = 16 * 2;
/// One `((u32, u16), Object)` in the vector lopdf gathers objects of object streams in,
/// with its doubling.
const GATHERED_BYTES: u64 = (8 + OBJECT_BYTES) * 2;
/// Cross-reference sections (tables and streams, via `/Prev` and `/XRefStm`) followed at
/// most; lopdf follows every one not seen before.
const MAX_XREF_SECTIONS: usize = 4096;
/// lopdf's `Document::DEREF_LIMIT`: references followed in a row by `dereference`.
const LOPDF_DEREF_LIMIT: usize = 128;
/// Keys of a stream dictionary the survey needs.
const STREAM_KEYS: &[&[u8]] = &[
    b"Length",
    b"Type",
    b"First",
    b"N",
    b"Filter",
    b"DecodeParms",
    b"Size",
    b"Index",
    b"W",
    b"Prev",
    b"XRefStm",
    b"Encrypt",
    b"ID",
];

/// A cross-reference table read, and where it ends.
type Table = (BTreeMap<u32, Entry>, usize);

/// A cross-reference entry as lopdf keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Normal { offset: u32, generation: u16 },
    Compressed { container: u32 },
}

/// A stream's data as lopdf's `stream` parser leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Data {
    /// `Stream::new(dict, data.to_vec())`: these bytes of the file.
    Bytes { start: usize, len: usize },
    /// `Stream::with_position`: no content yet; read after loading from `/Length` as the
    /// loaded document says (`read_stream_content`).
    At(usize),
}

/// An indirect object as lopdf parses it.
#[derive(Debug, Clone)]
struct Parsed {
    id: ObjectId,
    /// What it holds; for a stream its dictionary's keys the survey needs.
    top: Top,
    stream: Option<Data>,
    /// Heap bytes it keeps (a stream's data included).
    heap: u64,
    objects: u64,
}

/// What became of an object in `Document::objects`, as far as `read_stream_content`
/// cares (objects of any other kind are not recorded).
#[derive(Debug, Clone, Copy)]
enum Kept {
    Integer(i64),
    Reference(ObjectId),
    /// A stream with no content yet, at this position, with its `/Length`.
    Positioned(usize, Value),
}

/// An integer, a reference or something else: all a `/Length` can be to lopdf.
#[derive(Debug, Clone, Copy)]
enum Value {
    Integer(i64),
    Reference(ObjectId),
    Other,
}

impl Value {
    fn of(top: &Top) -> Value {
        match top {
            Top::Integer(v) => Value::Integer(*v),
            Top::Reference(r) => Value::Reference(*r),
            _ => Value::Other,
        }
    }
}

/// The survey of one file.
pub(crate) struct Surveyor<'a> {
    syntax: Syntax<'a>,
    limits: &'a Limits,
    /// How long the survey waits for the process budget for its own buffers.
    wait: std::time::Duration,
    xref: BTreeMap<u32, Entry>,
    /// Memory that stays until the load ends.
    persistent: u64,
    /// The largest memory held for a moment, beyond `persistent`.
    transient: u64,
    objects: u64,
    /// Bytes lopdf reads, inflates or copies, duplicates included.
    work: u64,
    /// Bytes this survey reads (objects read once per offset where they repeat).
    own_work: u64,
    xref_entries: u64,
    /// Offsets more than one cross-reference entry points at, with the object there.
    repeated: HashMap<usize, Option<Parsed>>,
    /// The objects lopdf's `Document::objects` ends with, as far as `read_stream_content`
    /// cares.
    kept: BTreeMap<ObjectId, Kept>,
}

/// One object of an object stream: its number, what it is, its heap bytes and objects.
type Packed = (u32, Value, u64, u64);

/// An object stream inflated and indexed, as `ObjectStream::new_with_limit` makes it.
struct Unpacked {
    /// Its objects in index order.
    objects: Vec<Packed>,
    decoded: u64,
}

impl<'a> Surveyor<'a> {
    pub(crate) fn new(data: &'a [u8], limits: &'a Limits, wait: std::time::Duration) -> Self {
        Surveyor {
            syntax: Syntax { data, max_depth: limits.max_depth },
            limits,
            wait,
            xref: BTreeMap::new(),
            persistent: 0,
            transient: 0,
            objects: 0,
            work: 0,
            own_work: 0,
            xref_entries: 0,
            repeated: HashMap::new(),
            kept: BTreeMap::new(),
        }
    }

    fn data(&self) -> &'a [u8] {
        self.syntax.data
    }

    fn stop(&self, stop: Stop, what: &str) -> GuardError {
        match stop {
            Stop::TooDeep(offset) => GuardError::TooDeep { limit: self.limits.max_depth, offset },
            Stop::Fail => GuardError::Unreadable(what.to_owned()),
        }
    }

    /// A read of the object at `pos` whose syntax errors are lopdf's (`None`) and whose
    /// nesting beyond the limit is ours (an error).
    fn read(&mut self, pos: usize, build: Build<'_>) -> Result<Option<Read>, GuardError> {
        let whole = self.syntax;
        self.read_in(whole, pos, build)
    }

    fn read_in(&mut self, syntax: Syntax<'_>, pos: usize, build: Build<'_>) -> Result<Option<Read>, GuardError> {
        match syntax.read(pos, build) {
            Ok(read) => {
                let scanned = (read.end - pos) as u64;
                self.own_work = self.own_work.saturating_add(scanned);
                self.spend(scanned)?;
                Ok(Some(read))
            }
            Err(Stop::Fail) => Ok(None),
            Err(stop) => Err(self.stop(stop, "")),
        }
    }

    fn spend(&mut self, bytes: u64) -> Result<(), GuardError> {
        self.work = self.work.saturating_add(bytes);
        if self.work > self.limits.max_work_bytes || self.own_work > self.limits.max_work_bytes {
            return Err(GuardError::TooMuchWork { limit: self.limits.max_work_bytes });
        }
        Ok(())
    }

    fn keep(&mut self, bytes: u64, objects: u64) -> Result<(), GuardError> {
        self.persistent = self.persistent.saturating_add(bytes);
        self.objects = self.objects.saturating_add(objects);
        self.check_memory()
    }

    fn hold(&mut self, bytes: u64) -> Result<(), GuardError> {
        self.transient = self.transient.max(bytes);
        self.check_memory()
    }

    fn check_memory(&self) -> Result<(), GuardError> {
        if self.objects > self.limits.max_objects {
            return Err(GuardError::TooManyObjects { limit: self.limits.max_objects });
        }
        let estimate = self.persistent.saturating_add(self.transient).saturating_mul(9) / 8;
        if estimate > self.limits.max_memory_bytes {
            return Err(GuardError::TooMuchMemory { limit: self.limits.max_memory_bytes });
        }
        Ok(())
    }

    /// The survey of the whole file, as `Reader::read` goes.
    pub(crate) fn run(mut self, encrypted_out: &mut bool) -> Result<Survey, GuardError> {
        let data = self.data();
        if !self.header_ok() {
            return Err(GuardError::Unreadable("it does not start with a PDF header".into()));
        }
        let start = self.xref_start().ok_or_else(|| GuardError::Unreadable("its startxref is missing".into()))?;
        if start > data.len() {
            return Err(GuardError::Unreadable("its startxref points outside the file".into()));
        }
        let (xref, mut trailer) = self.xref_and_trailer(start)?;
        self.xref = xref;
        let mut seen = HashSet::new();
        let mut prev = trailer.remove(b"Prev");
        let mut sections = 1;
        while let Some(at) = prev.as_ref().and_then(|p| p.as_i64().ok()) {
            if !seen.insert(at) {
                break;
            }
            sections += 1;
            if sections > MAX_XREF_SECTIONS {
                return Err(GuardError::TooManyXrefEntries { limit: self.limits.max_xref_entries });
            }
            let at = usize::try_from(at)
                .ok()
                .filter(|&a| a <= data.len())
                .ok_or_else(|| GuardError::Unreadable("a /Prev cross-reference points outside the file".into()))?;
            let (older, older_trailer) = self.xref_and_trailer(at)?;
            self.merge(older);
            if let Some(stream_at) = trailer.remove(b"XRefStm").and_then(|p| p.as_i64().ok()) {
                let stream_at = usize::try_from(stream_at)
                    .ok()
                    .filter(|&a| a <= data.len())
                    .ok_or_else(|| GuardError::Unreadable("an /XRefStm points outside the file".into()))?;
                let (older, _) = self.xref_and_trailer(stream_at)?;
                self.merge(older);
            }
            prev = older_trailer.get(b"Prev").ok().cloned();
        }
        if self.xref.keys().next_back() == Some(&u32::MAX) {
            return Err(GuardError::Unreadable("its cross-reference table is invalid".into()));
        }
        self.keep((self.xref.len() as u64).saturating_mul(XREF_ENTRY_BYTES), 0)?;
        self.find_repeated_offsets();

        let encrypted = trailer.get(b"Encrypt").is_ok();
        *encrypted_out = encrypted;
        if encrypted {
            self.encrypted_objects(&trailer)?;
        } else {
            self.objects_pass()?;
        }
        // An eighth more for the allocator's slack (measured loads stay within it).
        let memory = self.persistent.saturating_add(self.transient).saturating_mul(9) / 8;
        Ok(Survey {
            memory_bytes: memory,
            objects: self.objects,
            xref_entries: self.xref_entries,
            work_bytes: self.work,
            encrypted,
        })
    }

    /// lopdf's `parser::header` in lenient mode: `%PDF-`, the rest of the line, an end of line.
    fn header_ok(&self) -> bool {
        let data = self.data();
        if !data.starts_with(b"%PDF-") {
            return false;
        }
        data.iter().position(|&c| c == b'\r' || c == b'\n').is_some()
    }

    /// lopdf's `Reader::get_xref_start`: the last `%%EOF` in the last 512 bytes, the
    /// `startxref` within 25 bytes before it, the number after that.
    fn xref_start(&self) -> Option<usize> {
        let data = self.data();
        let rfind = |from: usize, to: usize, pattern: &[u8]| -> Option<usize> {
            data.get(from..to)?.windows(pattern.len()).rposition(|w| w == pattern).map(|i| from + i)
        };
        let seek = data.len() - data.len().min(512);
        let eof = rfind(seek, data.len(), b"%%EOF").filter(|&e| e > 25)?;
        let at = rfind(eof - 25, eof, b"startxref")?;
        let s = &self.syntax;
        let mut p = at + b"startxref".len();
        if s.starts_with(p, b" ") {
            p += 1;
        }
        p = s.eol(p)?;
        while s.starts_with(p, b" ") {
            p += 1;
        }
        let sign = usize::from(matches!(data.get(p), Some(b'+' | b'-')));
        let (_, end) = s.digits(p + sign)?;
        let value: i64 = std::str::from_utf8(&data[p..end]).ok()?.parse().ok()?;
        let mut p = end;
        while s.starts_with(p, b" ") {
            p += 1;
        }
        p = s.eol(p)?;
        if !s.starts_with(p, b"%%EOF") {
            return None;
        }
        // `as usize`, as lopdf does: a negative start becomes huge and points outside.
        Some(value as usize)
    }

    fn merge(&mut self, older: BTreeMap<u32, Entry>) {
        for (id, entry) in older {
            self.xref.entry(id).or_insert(entry);
        }
    }

    fn count_entries(&mut self, n: u64) -> Result<(), GuardError> {
        self.xref_entries = self.xref_entries.saturating_add(n);
        if self.xref_entries > self.limits.max_xref_entries {
            return Err(GuardError::TooManyXrefEntries { limit: self.limits.max_xref_entries });
        }
        Ok(())
    }

    /// lopdf's `parser::xref_and_trailer` at `pos`: a table and its trailer, or else a
    /// cross-reference stream.
    fn xref_and_trailer(&mut self, pos: usize) -> Result<(BTreeMap<u32, Entry>, Dictionary), GuardError> {
        if let Some((xref, end)) = self.xref_table(pos)? {
            let s = self.syntax;
            if s.starts_with(end, b"trailer") {
                let at = s.space(end + b"trailer".len());
                if let Some(read) = self.read(at, Build::Nothing)? {
                    // The trailer stays in the document, outside its objects.
                    self.keep(read.cost.heap, 0)?;
                    let Some(Top::Dictionary(trailer)) =
                        self.read(at, Build::All)?.and_then(|r| r.value).map(|v| match v {
                            Object::Dictionary(d) => Top::Dictionary(d),
                            _ => Top::Other,
                        })
                    else {
                        return self.xref_stream(pos);
                    };
                    if trailer.get(b"Size").and_then(Object::as_i64).is_err() {
                        return Err(GuardError::Unreadable("its trailer has no /Size".into()));
                    }
                    return Ok((xref, trailer));
                }
            }
        }
        self.xref_stream(pos)
    }

    /// lopdf's `parser::xref`: `xref`, then sections of `start count` and 20-byte entries.
    #[expect(clippy::while_let_loop, reason = "each loop has several ways out, as lopdf's grammar has")]
    fn xref_table(&mut self, pos: usize) -> Result<Option<Table>, GuardError> {
        let s = self.syntax;
        if !s.starts_with(pos, b"xref") {
            return Ok(None);
        }
        let mut p = pos + 4;
        if s.starts_with(p, b" ") {
            p += 1;
        }
        let Some(mut p) = s.eol(p) else { return Ok(None) };
        let mut xref = BTreeMap::new();
        let mut sections = 0;
        loop {
            // start " " count, opt(" "), eol
            let Some((start, e)) = s.unsigned::<usize>(p) else { break };
            if !s.starts_with(e, b" ") {
                break;
            }
            let Some((_count, e)) = s.unsigned::<u32>(e + 1) else { break };
            let mut q = e;
            if s.starts_with(q, b" ") {
                q += 1;
            }
            let Some(mut q) = s.eol(q) else { break };
            let mut index: usize = 0;
            loop {
                let Some((offset, e)) = s.unsigned::<u32>(q) else { break };
                if !s.starts_with(e, b" ") {
                    break;
                }
                let Some((generation, e)) = s.unsigned::<u32>(e + 1) else { break };
                if !s.starts_with(e, b" ") {
                    break;
                }
                let Some(&kind) = self.data().get(e + 1) else { break };
                if kind != b'n' && kind != b'f' {
                    break;
                }
                let e = e + 2;
                let end = if s.starts_with(e, b" \r") || s.starts_with(e, b" \n") || s.starts_with(e, b"\r\n") {
                    e + 2
                } else {
                    break;
                };
                self.count_entries(1)?;
                if kind == b'n'
                    && let Ok(generation) = u16::try_from(generation)
                {
                    xref.insert((start.wrapping_add(index)) as u32, Entry::Normal { offset, generation });
                }
                index += 1;
                q = end;
            }
            sections += 1;
            p = q;
        }
        if sections == 0 {
            return Ok(None);
        }
        self.spend((p - pos) as u64)?;
        Ok(Some((xref, s.space(p))))
    }

    /// The other branch of lopdf's `xref_and_trailer`: an indirect object that is a
    /// cross-reference stream, decoded as `decode_xref_stream_with_limit` does.
    fn xref_stream(&mut self, pos: usize) -> Result<(BTreeMap<u32, Entry>, Dictionary), GuardError> {
        let unreadable = || GuardError::Unreadable("its cross-reference table cannot be read".into());
        let s = self.syntax;
        let (_, body) = s.indirect_header(pos).ok_or_else(unreadable)?;
        // While the cross-references are read lopdf has none, so an indirect /Length cannot
        // be resolved: such a stream has no content.
        let whole = self.syntax;
        let Some(parsed) = self.object_body(whole, body, (0, 0), &mut HashSet::new(), 0, false)? else {
            return Err(unreadable());
        };
        let (Top::Dictionary(keys), Some(data)) = (&parsed.top, parsed.stream) else {
            return Err(unreadable());
        };
        let mut dict = self.built_dictionary(body)?.ok_or_else(unreadable)?;
        let _ = keys;
        let content = match data {
            Data::Bytes { start, len } => self.data()[start..start + len].to_vec(),
            Data::At(_) => Vec::new(),
        };
        let mut stream = Stream::new(dict.clone(), content);
        if stream.is_compressed() {
            let decoded = self.decode(&stream)?.ok_or_else(unreadable)?;
            stream = Stream::new(dict.clone(), decoded);
        }
        let size = dict.get(b"Size").and_then(Object::as_i64).map_err(|_| unreadable())?;
        let index: Vec<i64> = match dict.get(b"Index").ok().and_then(integers) {
            Some(index) => index,
            None => vec![0, size],
        };
        let widths = dict.get(b"W").ok().and_then(integers).ok_or_else(unreadable)?;
        if widths.len() < 3 || widths.iter().take(3).any(|w| w.is_negative()) {
            return Err(unreadable());
        }
        if widths.iter().take(3).any(|&w| w > 8) {
            return Err(GuardError::StreamParameters(format!(
                "a cross-reference stream's /W is {:?}; fields wider than 8 bytes are refused",
                &widths[..3]
            )));
        }
        let w = [widths[0] as usize, widths[1] as usize, widths[2] as usize];
        let content = &stream.content;
        let mut at = 0usize;
        // lopdf's `read_big_endian_integer`: `read_exact` of the field, big-endian into a u32.
        let mut field = |n: usize| -> Option<u32> {
            let bytes = content.get(at..at + n)?;
            at += n;
            Some(bytes.iter().fold(0u32, |v, &b| (v << 8).wrapping_add(u32::from(b))))
        };
        let mut xref = BTreeMap::new();
        let mut read = 0u64;
        for pair in index.chunks_exact(2) {
            let (start, count) = (pair[0], pair[1]);
            let mut j: i64 = 0;
            while j < count {
                read += 1;
                if read > self.limits.max_xref_entries {
                    return Err(GuardError::TooManyXrefEntries { limit: self.limits.max_xref_entries });
                }
                let kind = if w[0] > 0 { field(w[0]).ok_or_else(unreadable)? } else { 1 };
                let id = start.wrapping_add(j) as u32;
                match kind {
                    0 => {
                        field(w[1]).ok_or_else(unreadable)?;
                        field(w[2]).ok_or_else(unreadable)?;
                    }
                    1 => {
                        let offset = field(w[1]).ok_or_else(unreadable)?;
                        let generation = if w[2] > 0 { field(w[2]).ok_or_else(unreadable)? as u16 } else { 0 };
                        xref.insert(id, Entry::Normal { offset, generation });
                    }
                    2 => {
                        let container = field(w[1]).ok_or_else(unreadable)?;
                        field(w[2]).ok_or_else(unreadable)?;
                        xref.insert(id, Entry::Compressed { container });
                    }
                    // lopdf reads nothing more of an entry of another type.
                    _ => {}
                }
                j += 1;
            }
        }
        self.count_entries(read)?;
        self.hold((xref.len() as u64).saturating_mul(XREF_ENTRY_BYTES).saturating_add(content.len() as u64))?;
        dict.remove(b"Length");
        dict.remove(b"W");
        dict.remove(b"Index");
        Ok((xref, dict))
    }

    /// The dictionary at `pos` built whole, once a count has shown it is within limits.
    fn built_dictionary(&mut self, pos: usize) -> Result<Option<Dictionary>, GuardError> {
        let whole = self.syntax;
        self.built_dictionary_in(whole, pos)
    }

    fn built_dictionary_in(&mut self, syntax: Syntax<'_>, pos: usize) -> Result<Option<Dictionary>, GuardError> {
        let Some(read) = self.read_in(syntax, pos, Build::Nothing)? else { return Ok(None) };
        self.hold(read.cost.heap.saturating_mul(2))?;
        Ok(match self.read_in(syntax, pos, Build::All)?.and_then(|r| r.value) {
            Some(Object::Dictionary(d)) => Some(d),
            _ => None,
        })
    }

    /// `Stream::decompressed_content_with_limit` with lopdf's own filters, after checking
    /// what would make lopdf allocate more than the limit before it looks at the data.
    fn decode(&mut self, stream: &Stream) -> Result<Option<Vec<u8>>, GuardError> {
        crate::decode::check_parameters(stream, self.limits.max_decoded_stream_bytes)?;
        self.spend(stream.content.len() as u64)?;
        // The survey's own largest buffers: held in the process budget while they live.
        let _held = crate::budget::reserve(
            (self.limits.max_decoded_stream_bytes as u64).saturating_mul(2).saturating_add(stream.content.len() as u64),
            self.wait,
        )?;
        let decoded = match stream.decompressed_content_with_limit(self.limits.max_decoded_stream_bytes) {
            Ok(decoded) => decoded,
            Err(_) => return Ok(None),
        };
        self.spend(decoded.len() as u64)?;
        self.hold((decoded.len() as u64).saturating_add(stream.content.len() as u64))?;
        Ok(Some(decoded))
    }

    /// Notes the offsets several cross-reference entries share, whose object is read once.
    fn find_repeated_offsets(&mut self) {
        let mut offsets: Vec<u32> = self
            .xref
            .values()
            .filter_map(|e| match e {
                Entry::Normal { offset, .. } => Some(*offset),
                Entry::Compressed { .. } => None,
            })
            .collect();
        offsets.sort_unstable();
        for pair in offsets.windows(2) {
            if pair[0] == pair[1] {
                self.repeated.entry(pair[0] as usize).or_insert(None);
            }
        }
    }

    /// lopdf's `load_objects_raw`: every object the cross-references list, object streams
    /// unpacked into the document, then streams without content read by their `/Length`.
    fn objects_pass(&mut self) -> Result<(), GuardError> {
        let containers: HashMap<u32, u32> = self
            .xref
            .iter()
            .filter_map(|(&id, e)| match e {
                Entry::Compressed { container } => Some((id, *container)),
                Entry::Normal { .. } => None,
            })
            .collect();
        let normal: Vec<usize> = self
            .xref
            .values()
            .filter_map(|e| match e {
                Entry::Normal { offset, .. } => Some(*offset as usize),
                Entry::Compressed { .. } => None,
            })
            .collect();
        let mut positioned: Vec<ObjectId> = Vec::new();
        let mut gathered: Vec<(ObjectId, Value)> = Vec::new();
        // Ids loaded from the file body as something `kept` does not record.
        let mut normal_ids: HashSet<ObjectId> = HashSet::new();
        for offset in normal {
            let Some(parsed) = self.top_level(offset)? else { continue };
            let mut objects = parsed.objects;
            let is_object_stream =
                parsed.stream.is_some() && matches!(&parsed.top, Top::Dictionary(d) if d.has_type(b"ObjStm"));
            if is_object_stream {
                let Some(unpacked) = self.unpack(&parsed, offset)? else { continue };
                // The container keeps its inflated content instead of its data, and loses
                // its /Filter and /DecodeParms.
                self.keep(unpacked.decoded, 0)?;
                objects = objects.saturating_sub(filter_objects(&parsed.top));
                for (number, value, heap, objects) in unpacked.objects {
                    if containers.get(&number).is_none_or(|&c| c == parsed.id.0) {
                        self.keep(heap.saturating_add(GATHERED_BYTES), objects)?;
                        if !matches!(value, Value::Other) {
                            gathered.push(((number, 0), value));
                        }
                    }
                }
            } else if let Some(data) = parsed.stream
                && (matches!(data, Data::At(_)) || matches!(data, Data::Bytes { len: 0, .. }))
            {
                positioned.push(parsed.id);
            }
            self.keep(parsed.heap.saturating_add(MAP_ENTRY_BYTES), objects)?;
            // Later entries replace earlier ones, as in lopdf's map.
            match kept(&parsed) {
                Some(k) => {
                    self.kept.insert(parsed.id, k);
                }
                None => {
                    self.kept.remove(&parsed.id);
                    normal_ids.insert(parsed.id);
                }
            }
        }
        for (id, value) in gathered {
            // Objects from object streams never replace the others.
            if normal_ids.contains(&id) || self.kept.contains_key(&id) {
                continue;
            }
            match value {
                Value::Integer(v) => self.kept.insert(id, Kept::Integer(v)),
                Value::Reference(r) => self.kept.insert(id, Kept::Reference(r)),
                Value::Other => None,
            };
        }
        for id in positioned {
            self.read_stream_content(id)?;
        }
        Ok(())
    }

    /// The object a cross-reference entry points at, read once however many entries do.
    fn top_level(&mut self, offset: usize) -> Result<Option<Parsed>, GuardError> {
        if let Some(Some(parsed)) = self.repeated.get(&offset) {
            let parsed = parsed.clone();
            // lopdf reads it again: the work, and the copy of a stream's data.
            self.spend(parsed.heap)?;
            return Ok(Some(parsed));
        }
        let parsed = self.read_object(offset, None, &mut HashSet::new(), 0)?;
        if let Some(slot) = self.repeated.get_mut(&offset) {
            *slot = parsed.clone();
        }
        Ok(parsed)
    }

    /// lopdf's `Reader::read_object`: the indirect object at `offset` (`None` where lopdf
    /// gets an error), resolving a stream's `/Length` through `seen` as lopdf does.
    fn read_object(
        &mut self,
        offset: usize,
        expected: Option<ObjectId>,
        seen: &mut HashSet<ObjectId>,
        hops: usize,
    ) -> Result<Option<Parsed>, GuardError> {
        let whole = self.syntax;
        self.read_object_in(whole, offset, expected, seen, hops)
    }

    /// [`Self::read_object`] reading the object itself from `syntax` (the file cut after
    /// an encrypted object's `endobj`); a `/Length` is still resolved in the whole file.
    fn read_object_in(
        &mut self,
        syntax: Syntax<'a>,
        offset: usize,
        expected: Option<ObjectId>,
        seen: &mut HashSet<ObjectId>,
        hops: usize,
    ) -> Result<Option<Parsed>, GuardError> {
        if offset > syntax.data.len() {
            return Ok(None);
        }
        let Some((id, body)) = syntax.indirect_header(offset) else { return Ok(None) };
        if expected.is_some_and(|e| e != id) {
            return Ok(None);
        }
        self.object_body(syntax, body, id, seen, hops, true)
    }

    /// lopdf's `object`: a stream (a dictionary, `stream`, its data) or else any direct
    /// object. `resolve` is false while the cross-references are still being read.
    fn object_body(
        &mut self,
        syntax: Syntax<'a>,
        body: usize,
        id: ObjectId,
        seen: &mut HashSet<ObjectId>,
        hops: usize,
        resolve: bool,
    ) -> Result<Option<Parsed>, GuardError> {
        let is_dictionary = syntax.starts_with(body, b"<<");
        let build = if is_dictionary { Build::Keys(STREAM_KEYS) } else { Build::Nothing };
        let Some(read) = self.read_in(syntax, body, build)? else { return Ok(None) };
        let mut parsed =
            Parsed { id, top: read.top.clone(), stream: None, heap: read.cost.heap, objects: read.cost.objects };
        let Top::Dictionary(dict) = &read.top else { return Ok(Some(parsed)) };
        let Some(data_start) = stream_keyword(&syntax, read.end) else {
            // Not followed by `stream`: lopdf's `stream` alternative fails and the
            // dictionary is read a second time as a direct object.
            self.spend((read.end - body) as u64)?;
            return Ok(Some(parsed));
        };
        let length = match dict.get(b"Length") {
            Ok(Object::Reference(target)) if resolve => self.resolve_length(*target, seen, hops)?,
            Ok(Object::Integer(n)) => Some(*n),
            _ => None,
        };
        match length {
            // A negative length fails the whole object (a nom `Failure`).
            Some(n) if n < 0 => return Ok(None),
            Some(n) => {
                let len = usize::try_from(n).unwrap_or(usize::MAX);
                let fits = data_start.checked_add(len).filter(|&end| end <= syntax.data.len());
                let ends = fits.is_some_and(|end| {
                    let after = syntax.eol(end).unwrap_or(end);
                    syntax.starts_with(after, b"endstream")
                });
                if ends {
                    self.spend(len as u64)?;
                    parsed.heap = parsed.heap.saturating_add(len as u64 + ALLOCATION_OVERHEAD);
                    parsed.stream = Some(Data::Bytes { start: data_start, len });
                } else {
                    // `take` or `endstream` fails: the dictionary alone, read again.
                    self.spend((read.end - body) as u64)?;
                }
            }
            None => parsed.stream = Some(Data::At(data_start)),
        }
        Ok(Some(parsed))
    }

    /// lopdf's `Reader::get_object` for a `/Length`, as far as its integer value: the
    /// object it refers to, parsed again (and, when it sits in an object stream, that
    /// whole object stream inflated and parsed again). Each hop is one level of lopdf's
    /// recursion; more than [`Limits::max_length_hops`] are refused before they happen.
    fn resolve_length(
        &mut self,
        target: ObjectId,
        seen: &mut HashSet<ObjectId>,
        hops: usize,
    ) -> Result<Option<i64>, GuardError> {
        if hops + 1 > self.limits.max_length_hops {
            return Err(GuardError::LengthChain { limit: self.limits.max_length_hops });
        }
        if !seen.insert(target) {
            return Ok(None);
        }
        match self.xref.get(&target.0).copied() {
            Some(Entry::Compressed { container }) => {
                // `get_compressed_object`: the container read with a fresh set of seen
                // objects, cloned, inflated and every object in it parsed.
                let mut fresh = HashSet::new();
                if hops + 2 > self.limits.max_length_hops {
                    return Err(GuardError::LengthChain { limit: self.limits.max_length_hops });
                }
                if !fresh.insert((container, 0)) {
                    return Ok(None);
                }
                let Some(Entry::Normal { offset, generation: 0 }) = self.xref.get(&container).copied() else {
                    if matches!(self.xref.get(&container), Some(Entry::Compressed { .. })) {
                        // A container inside a container: lopdf recurses with fresh sets
                        // each time, without end when they refer to each other.
                        return Err(GuardError::LengthChain { limit: self.limits.max_length_hops });
                    }
                    return Ok(None);
                };
                let Some(parsed) = self.read_object(offset as usize, Some((container, 0)), &mut fresh, hops + 1)?
                else {
                    return Ok(None);
                };
                if parsed.stream.is_none() {
                    return Ok(None);
                }
                self.hold(parsed.heap)?;
                let Some(unpacked) = self.unpack(&parsed, offset as usize)? else { return Ok(None) };
                // `ObjectStream` keys its objects (number, 0).
                if target.1 != 0 {
                    return Ok(None);
                }
                Ok(unpacked.objects.iter().rev().find(|o| o.0 == target.0).and_then(|o| match o.1 {
                    Value::Integer(v) => Some(v),
                    _ => None,
                }))
            }
            Some(Entry::Normal { offset, generation }) if generation == target.1 => {
                let parsed = self.read_object(offset as usize, Some(target), seen, hops + 1)?;
                if let Some(p) = &parsed {
                    self.hold(p.heap)?;
                }
                Ok(parsed.and_then(|p| match p.top {
                    Top::Integer(v) if p.stream.is_none() => Some(v),
                    _ => None,
                }))
            }
            _ => Ok(None),
        }
    }

    /// `ObjectStream::new_with_limit` on the stream `parsed` (at `offset`): inflated, its
    /// index read, every object in it parsed (each distinct start once here; lopdf's work
    /// counts every entry).
    fn unpack(&mut self, parsed: &Parsed, offset: usize) -> Result<Option<Unpacked>, GuardError> {
        let _ = offset;
        let Top::Dictionary(dict) = &parsed.top else { return Ok(None) };
        let content = match parsed.stream {
            Some(Data::Bytes { start, len }) => &self.data()[start..start + len],
            _ => &[][..],
        };
        let decoded = self.decode(&Stream::new(dict.clone(), content.to_vec()))?;
        let Some(decoded) = decoded else { return Ok(None) };
        self.unpack_decoded(dict, &decoded)
    }

    fn unpack_decoded(&mut self, dict: &Dictionary, decoded: &[u8]) -> Result<Option<Unpacked>, GuardError> {
        let size = decoded.len() as u64;
        if decoded.is_empty() {
            return Ok(Some(Unpacked { objects: Vec::new(), decoded: 0 }));
        }
        let Ok(first) = dict.get(b"First").and_then(Object::as_i64) else { return Ok(None) };
        let Ok(first) = usize::try_from(first) else { return Ok(None) };
        let Some(index) = decoded.get(..first) else { return Ok(None) };
        let Ok(index) = std::str::from_utf8(index) else { return Ok(None) };
        if dict.get(b"N").and_then(Object::as_i64).is_err() {
            return Ok(None);
        }
        // lopdf collects the index's numbers (8 bytes each), then reads them in pairs.
        let count = index.split_whitespace().count() as u64;
        if count / 2 > self.limits.max_objects {
            return Err(GuardError::TooManyObjects { limit: self.limits.max_objects });
        }
        let mut numbers = index.split_whitespace().map(|n| n.parse::<u32>().ok());
        let inner = Syntax { data: decoded, max_depth: self.syntax.max_depth };
        let mut memo: HashMap<usize, Option<(Value, u64, u64, u64)>> = HashMap::new();
        let mut objects = Vec::new();
        let mut held: u64 = count.saturating_mul(8).saturating_add(size);
        while let (Some(number), Some(relative)) = (numbers.next(), numbers.next()) {
            let (Some(number), Some(relative)) = (number, relative) else { continue };
            let at = first.saturating_add(relative as usize);
            if at >= decoded.len() {
                continue;
            }
            let start = at + decoded[at..].iter().take_while(|c| c.is_ascii_whitespace()).count();
            if start >= decoded.len() {
                continue;
            }
            let read = match memo.get(&start) {
                Some(read) => *read,
                None => {
                    let read = match inner.read(start, Build::Nothing) {
                        Ok(read) => {
                            let scanned = (read.end - start) as u64;
                            self.own_work = self.own_work.saturating_add(scanned);
                            Some((Value::of(&read.top), read.cost.heap, read.cost.objects, scanned))
                        }
                        Err(Stop::Fail) => None,
                        Err(stop) => return Err(self.stop(stop, "")),
                    };
                    memo.insert(start, read);
                    read
                }
            };
            let Some((value, heap, objects_made, scanned)) = read else { continue };
            self.spend(scanned)?;
            held = held.saturating_add(heap).saturating_add(MAP_ENTRY_BYTES);
            self.hold(held)?;
            objects.push((number, value, heap, objects_made));
        }
        Ok(Some(Unpacked { objects, decoded: size }))
    }

    /// lopdf's `read_stream_content` for a stream left without content: its `/Length` as
    /// the loaded document has it, and that many bytes of the file copied from its start.
    fn read_stream_content(&mut self, id: ObjectId) -> Result<(), GuardError> {
        let Some(Kept::Positioned(start, length)) = self.kept.get(&id).copied() else { return Ok(()) };
        let mut value = length;
        let mut hops = 0;
        let n = loop {
            match value {
                Value::Integer(n) => break n,
                Value::Reference(r) => {
                    hops += 1;
                    if hops > LOPDF_DEREF_LIMIT {
                        return Ok(());
                    }
                    value = match self.kept.get(&r) {
                        Some(Kept::Integer(n)) => Value::Integer(*n),
                        Some(Kept::Reference(next)) => Value::Reference(*next),
                        _ => return Ok(()),
                    };
                }
                Value::Other => return Ok(()),
            }
        };
        let Ok(len) = usize::try_from(n) else { return Ok(()) };
        if start.checked_add(len).is_none_or(|end| end > self.data().len()) {
            return Ok(());
        }
        self.spend(len as u64)?;
        self.keep(len as u64 + ALLOCATION_OVERHEAD, 0)
    }

    /// lopdf's `load_encrypted_document`: every object's bytes copied up to its `endobj`,
    /// then, when the empty password opens the file, each parsed and decrypted, and the
    /// object streams unpacked.
    fn encrypted_objects(&mut self, trailer: &Dictionary) -> Result<(), GuardError> {
        let data = self.data();
        let mut raw: BTreeMap<ObjectId, (usize, usize)> = BTreeMap::new();
        let mut compressed: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        let entries: Vec<(u32, Entry)> = self.xref.iter().map(|(k, v)| (*k, *v)).collect();
        for (number, entry) in entries {
            match entry {
                Entry::Normal { offset, .. } => {
                    let offset = offset as usize;
                    let Some((id, end)) = raw_object(data, offset) else { continue };
                    // The search for `endobj` and the copy.
                    self.spend((end - offset) as u64 * 2)?;
                    self.keep((end - offset) as u64 + ALLOCATION_OVERHEAD + MAP_ENTRY_BYTES, 0)?;
                    raw.insert(id, (offset, end));
                }
                Entry::Compressed { container } => compressed.entry(container).or_default().push(number),
            }
        }
        let Some(Object::Reference(encrypt_id)) = trailer.get(b"Encrypt").ok().cloned() else { return Ok(()) };
        let Some(&(at, end)) = raw.get(&encrypt_id) else { return Ok(()) };
        let Some(encrypt) = self.raw_dictionary(at, end)? else { return Ok(()) };
        let mut doc = lopdf::Document::new();
        doc.trailer = trailer.clone();
        doc.objects.insert(encrypt_id, Object::Dictionary(encrypt));
        if doc.authenticate_password("").is_err() {
            // lopdf stops here: the document holds the encryption dictionary only.
            return Ok(());
        }
        let Ok(state) = lopdf::EncryptionState::decode(&doc, "") else { return Ok(()) };
        let mut streams: HashMap<u32, Parsed> = HashMap::new();
        for (&id, &(at, end)) in &raw {
            if id == encrypt_id {
                continue;
            }
            let cut = Syntax { data: &data[..end], max_depth: self.syntax.max_depth };
            let parsed = self.read_object_in(cut, at, None, &mut HashSet::new(), 0)?;
            let Some(parsed) = parsed else { continue };
            self.keep(parsed.heap.saturating_add(MAP_ENTRY_BYTES), parsed.objects)?;
            if parsed.stream.is_some() && parsed.id.1 == 0 {
                streams.insert(parsed.id.0, parsed);
            }
        }
        for (container, numbers) in compressed {
            let Some(parsed) = streams.get(&container).cloned() else { continue };
            let Top::Dictionary(dict) = &parsed.top else { continue };
            let content = match parsed.stream {
                Some(Data::Bytes { start, len }) => data[start..start + len].to_vec(),
                _ => Vec::new(),
            };
            let mut object = Object::Stream(Stream::new(dict.clone(), content));
            if lopdf::encryption::decrypt_object(&state, (container, 0), &mut object).is_err() {
                continue;
            }
            let Object::Stream(stream) = object else { continue };
            let Some(decoded) = self.decode(&stream)? else { continue };
            self.keep(decoded.len() as u64, 0)?;
            let Some(unpacked) = self.unpack_decoded(&stream.dict, &decoded)? else { continue };
            let listed: HashSet<u32> = numbers.into_iter().collect();
            for (number, _, heap, objects) in unpacked.objects {
                if listed.contains(&number) {
                    self.keep(heap.saturating_add(MAP_ENTRY_BYTES), objects)?;
                }
            }
        }
        Ok(())
    }

    /// The dictionary of the indirect object in `at..end`, built (the encryption
    /// dictionary, which lopdf needs whole to open the file).
    fn raw_dictionary(&mut self, at: usize, end: usize) -> Result<Option<Dictionary>, GuardError> {
        let cut = Syntax { data: &self.data()[..end], max_depth: self.syntax.max_depth };
        match cut.indirect_header(at) {
            Some((_, body)) => self.built_dictionary_in(cut, body),
            None => Ok(None),
        }
    }
}

/// After a dictionary ending at `end`: lopdf's `(space, "stream", space0, eol)`; where the
/// data starts.
fn stream_keyword(s: &Syntax<'_>, end: usize) -> Option<usize> {
    let mut p = s.space(end);
    if !s.starts_with(p, b"stream") {
        return None;
    }
    p += b"stream".len();
    while matches!(s.data.get(p), Some(b' ' | b'\t')) {
        p += 1;
    }
    s.eol(p)
}

/// What `read_stream_content` will find of an object, if it cares.
fn kept(parsed: &Parsed) -> Option<Kept> {
    match (&parsed.top, parsed.stream) {
        (Top::Dictionary(dict), Some(Data::At(start))) => {
            let length = match dict.get(b"Length") {
                Ok(Object::Integer(v)) => Value::Integer(*v),
                Ok(Object::Reference(r)) => Value::Reference(*r),
                _ => Value::Other,
            };
            Some(Kept::Positioned(start, length))
        }
        (Top::Integer(v), None) => Some(Kept::Integer(*v)),
        (Top::Reference(r), None) => Some(Kept::Reference(*r)),
        _ => None,
    }
}

/// Objects in a stream dictionary's `/Filter` and `/DecodeParms`, which lopdf removes when
/// it inflates an object stream in place.
fn filter_objects(top: &Top) -> u64 {
    let Top::Dictionary(dict) = top else { return 0 };
    let mut n = 0;
    let mut stack: Vec<&Object> =
        [b"Filter".as_slice(), b"DecodeParms"].iter().filter_map(|k| dict.get(k).ok()).collect();
    while let Some(o) = stack.pop() {
        n += 1;
        match o {
            Object::Array(items) => stack.extend(items),
            Object::Dictionary(d) => stack.extend(d.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    n
}

/// lopdf's `parse_integer_array`.
fn integers(object: &Object) -> Option<Vec<i64>> {
    object.as_array().ok()?.iter().map(|o| o.as_i64().ok()).collect()
}

/// lopdf's `Reader::extract_raw_object`: the id after white space and digits, and the end
/// of the bytes it copies (through the first `endobj`, or nearly the end of the file).
fn raw_object(data: &[u8], offset: usize) -> Option<(ObjectId, usize)> {
    let slice = data.get(offset..)?;
    let mut pos = slice.iter().take_while(|c| c.is_ascii_whitespace()).count();
    let digits = |from: usize| slice[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let n = digits(pos);
    let number: u32 = std::str::from_utf8(&slice[pos..pos + n]).ok()?.parse().ok()?;
    pos += n;
    pos += slice[pos..].iter().take_while(|c| c.is_ascii_whitespace()).count();
    let n = digits(pos);
    let generation: u16 = std::str::from_utf8(&slice[pos..pos + n]).ok()?.parse().ok()?;
    pos += n;
    pos += slice[pos..].iter().take_while(|c| c.is_ascii_whitespace()).count();
    if slice.get(pos..pos + 3) != Some(b"obj") {
        return None;
    }
    pos += 3;
    let end = match slice[pos..].windows(6).position(|w| w == b"endobj") {
        Some(i) => pos + i + 6,
        None => slice.len().saturating_sub(5).max(pos),
    };
    Some(((number, generation), offset + end))
}
