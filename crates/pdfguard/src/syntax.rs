//! PDF objects read the way lopdf 0.44 reads them (its `parser` module: the same
//! alternatives in the same order, the same white space and comments, the same rules for
//! names, strings, numbers and references), but on an explicit stack instead of nested
//! calls, so that no input can exhaust the call stack here. Each read says where the object
//! ends, how deep it nests, what lopdf allocates for it and how many bytes were examined;
//! values are built only when asked for, after a count has shown they are small enough.

use std::mem::size_of;

use lopdf::{Dictionary, Object, ObjectId, StringFormat};

/// Bytes of one `lopdf::Object` wherever one is stored (an array slot, a dictionary entry).
pub(crate) const OBJECT_BYTES: u64 = size_of::<Object>() as u64;
/// Bytes of one dictionary entry in lopdf's `IndexMap`: the hash, the key and the value.
const ENTRY_BYTES: u64 = (size_of::<usize>() + size_of::<Vec<u8>>() + size_of::<Object>()) as u64;
/// What the allocator adds to each allocation (glibc's chunk header and rounding).
pub(crate) const ALLOCATION_OVERHEAD: u64 = 16;
/// Literal strings nested in each other (`(a (b) c)`) lopdf reads at most
/// (`lopdf::reader::MAX_BRACKET`); one more fails the string.
const LOPDF_MAX_BRACKET: usize = 100;

/// lopdf's white space (ISO 32000-1 §7.2.2, with NUL).
pub(crate) fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0 | 0x0c)
}

fn is_delimiter(c: u8) -> bool {
    matches!(c, b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%')
}

fn is_regular(c: u8) -> bool {
    !is_whitespace(c) && !is_delimiter(c)
}

/// What lopdf allocates and reads for a value, in the units the survey adds up.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cost {
    /// Heap bytes of the value, not counting the `Object` slot it is stored in.
    pub(crate) heap: u64,
    /// `lopdf::Object` values made (every number, name, string, array, dictionary).
    pub(crate) objects: u64,
}

impl Cost {
    fn add(&mut self, other: Cost) {
        self.heap = self.heap.saturating_add(other.heap);
        self.objects = self.objects.saturating_add(other.objects);
    }
}

/// The kind of a value at the top of a read, with what the survey needs of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Top {
    Integer(i64),
    Reference(ObjectId),
    /// A dictionary, with the entries asked for (see [`Syntax::read`]) built.
    Dictionary(Dictionary),
    Other,
}

/// A value read.
#[derive(Debug, Clone)]
pub(crate) struct Read {
    /// Where it ends (before any white space after it).
    pub(crate) end: usize,
    pub(crate) cost: Cost,
    pub(crate) top: Top,
    /// The whole value, when it was asked for.
    pub(crate) value: Option<Object>,
}

/// Why a read stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// lopdf would not read it either (a syntax error at this point).
    Fail,
    /// Arrays, dictionaries or literal strings nest deeper than allowed, at this offset.
    TooDeep(usize),
}

/// What to build while reading.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Build<'k> {
    /// Nothing: count only.
    Nothing,
    /// The entries of the top-level dictionary under these keys.
    Keys(&'k [&'k [u8]]),
    /// The whole value.
    All,
}

/// A container being read.
struct Frame {
    kind: Kind,
    /// Elements or entries so far.
    count: u64,
    /// The key waiting for its value (dictionaries).
    key: Option<Vec<u8>>,
    /// Whether the pending key's value is being built.
    keep_value: bool,
    /// The value being built, if it is.
    array: Option<Vec<Object>>,
    dict: Option<Dictionary>,
    /// What the elements cost so far.
    cost: Cost,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Array,
    Dict,
}

/// Bytes nom 8's `many0` gives a vector of `n` elements of `size` bytes: 4 to start with,
/// doubled as needed.
fn many0_bytes(n: u64, size: u64) -> u64 {
    n.max(4).checked_next_power_of_two().unwrap_or(u64::MAX).saturating_mul(size).saturating_add(ALLOCATION_OVERHEAD)
}

/// Bytes of a `Vec<u8>` grown by pushes and extends to `n` bytes (Rust's `RawVec`: at least
/// 8, doubled as needed).
fn grown_bytes(n: u64) -> u64 {
    n.max(8).checked_next_power_of_two().unwrap_or(u64::MAX).saturating_add(ALLOCATION_OVERHEAD)
}

/// Bytes of lopdf's `Dictionary` (an `IndexMap`) holding `n` entries: a hashbrown table of
/// `usize` indices and a vector of entries as large as the table's capacity.
pub(crate) fn dictionary_bytes(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    // hashbrown: buckets a power of two, at least 4; capacity buckets - 1 below 8, else 7/8.
    let mut buckets: u64 = 4;
    loop {
        let capacity = if buckets < 8 { buckets - 1 } else { buckets / 8 * 7 };
        if capacity >= n {
            let table = buckets * (size_of::<usize>() as u64 + 1) + 16;
            return table + capacity.saturating_mul(ENTRY_BYTES) + 2 * ALLOCATION_OVERHEAD;
        }
        match buckets.checked_mul(2) {
            Some(b) => buckets = b,
            None => return u64::MAX,
        }
    }
}

/// Reads PDF objects out of `data` as lopdf does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax<'a> {
    pub(crate) data: &'a [u8],
    /// Arrays and dictionaries (and, separately, literal strings) nested at most.
    pub(crate) max_depth: usize,
}

impl<'a> Syntax<'a> {
    fn at(&self, pos: usize) -> Option<u8> {
        self.data.get(pos).copied()
    }

    pub(crate) fn starts_with(&self, pos: usize, text: &[u8]) -> bool {
        self.data.get(pos..).is_some_and(|rest| rest.starts_with(text))
    }

    /// lopdf's `space`: white space and comments; a comment needs an end of line.
    pub(crate) fn space(&self, mut pos: usize) -> usize {
        loop {
            match self.at(pos) {
                Some(c) if is_whitespace(c) => {
                    while self.at(pos).is_some_and(is_whitespace) {
                        pos += 1;
                    }
                }
                Some(b'%') => {
                    let rest = self.data.get(pos..).unwrap_or_default();
                    match rest.iter().position(|&c| c == b'\r' || c == b'\n') {
                        Some(i) => pos = self.eol(pos + i).unwrap_or(pos + i + 1),
                        // A comment running to the end of the data is no comment to lopdf.
                        None => return pos,
                    }
                }
                _ => return pos,
            }
        }
    }

    /// lopdf's `eol`: `\r\n`, `\n` or `\r`; the position after it.
    pub(crate) fn eol(&self, pos: usize) -> Option<usize> {
        match self.at(pos)? {
            b'\r' if self.at(pos + 1) == Some(b'\n') => Some(pos + 2),
            b'\r' | b'\n' => Some(pos + 1),
            _ => None,
        }
    }

    /// The digits at `pos` (at least one) and where they end.
    pub(crate) fn digits(&self, pos: usize) -> Option<(&'a [u8], usize)> {
        let rest = self.data.get(pos..)?;
        let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        (n > 0).then(|| (&rest[..n], pos + n))
    }

    /// lopdf's `unsigned_int` as a `T`: digits that fit.
    pub(crate) fn unsigned<T: std::str::FromStr>(&self, pos: usize) -> Option<(T, usize)> {
        let (digits, end) = self.digits(pos)?;
        let value = std::str::from_utf8(digits).ok()?.parse::<T>().ok()?;
        Some((value, end))
    }

    /// lopdf's `object_id`: `N space G space`.
    pub(crate) fn object_id(&self, pos: usize) -> Option<(ObjectId, usize)> {
        let (number, end) = self.unsigned::<u32>(pos)?;
        let (generation, end) = self.unsigned::<u16>(self.space(end))?;
        Some(((number, generation), self.space(end)))
    }

    /// lopdf's indirect object header `space N G obj space`; the id and where the object
    /// itself starts.
    pub(crate) fn indirect_header(&self, pos: usize) -> Option<(ObjectId, usize)> {
        let (id, end) = self.object_id(self.space(pos))?;
        self.starts_with(end, b"obj").then(|| (id, self.space(end + 3)))
    }

    /// Reads one object at `pos` as lopdf's `_direct_objects` does. Nothing after the
    /// object (white space) is consumed.
    pub(crate) fn read(&self, pos: usize, build: Build<'_>) -> Result<Read, Stop> {
        let mut stack: Vec<Frame> = Vec::new();
        let mut pos = pos;
        // The value just finished, waiting to go into its container (or to be returned).
        let mut done: Option<(Cost, Option<Object>, Top)>;
        loop {
            // A value starts at `pos`.
            let building = match stack.last() {
                None => matches!(build, Build::All),
                Some(frame) => frame.keep_value || (frame.kind == Kind::Array && frame.array.is_some()),
            };
            match self.at(pos) {
                Some(b'[') => {
                    stack.push(self.open(Kind::Array, building, Build::Nothing, stack.len(), pos)?);
                    pos = self.space(pos + 1);
                    done = None;
                }
                Some(b'<') if self.at(pos + 1) == Some(b'<') && self.hex_string(pos).is_none() => {
                    let top_build = if stack.is_empty() { build } else { Build::Nothing };
                    stack.push(self.open(Kind::Dict, building, top_build, stack.len(), pos)?);
                    pos = self.space(pos + 2);
                    done = None;
                }
                _ => {
                    let (end, cost, value, top) = self.scalar(pos, building)?;
                    pos = end;
                    done = Some((cost, value, top));
                }
            }
            // Close containers and hand finished values up until a new value is due.
            loop {
                if let Some((cost, value, top)) = done.take() {
                    let Some(frame) = stack.last_mut() else {
                        return Ok(Read { end: pos, cost, top, value });
                    };
                    frame.cost.add(cost);
                    frame.count += 1;
                    match frame.kind {
                        Kind::Array => {
                            if let (Some(items), Some(v)) = (frame.array.as_mut(), value) {
                                items.push(v);
                            }
                        }
                        Kind::Dict => {
                            let key = frame.key.take().unwrap_or_default();
                            if let (Some(dict), Some(v)) = (frame.dict.as_mut(), value) {
                                dict.set(key, v);
                            }
                            frame.keep_value = false;
                        }
                    }
                    // `_direct_object` is followed by `space`.
                    pos = self.space(pos);
                }
                let depth = stack.len();
                let Some(frame) = stack.last_mut() else { unreachable_top() };
                match frame.kind {
                    Kind::Array => {
                        if self.at(pos) == Some(b']') {
                            pos += 1;
                        } else {
                            // An element starts here; if it fails, so does the array.
                            break;
                        }
                    }
                    Kind::Dict => {
                        if self.at(pos) == Some(b'/') {
                            let (name, end) = self.name(pos);
                            frame.cost.add(Cost { heap: many0_bytes(name.len() as u64, 1), objects: 0 });
                            frame.keep_value = match (&frame.dict, depth, build) {
                                (Some(_), 1, Build::Keys(keys)) => keys.contains(&name.as_slice()),
                                (Some(_), _, _) => true,
                                _ => false,
                            };
                            frame.key = Some(name);
                            pos = self.space(end);
                            // The value starts here; if it fails, so does the dictionary.
                            break;
                        }
                        if self.starts_with(pos, b">>") {
                            pos += 2;
                        } else {
                            return Err(Stop::Fail);
                        }
                    }
                }
                // The innermost container closed at `pos`.
                let frame = stack.pop().unwrap_or_else(|| unreachable_top());
                let mut cost = frame.cost;
                cost.objects += 1;
                let (value, top) = match frame.kind {
                    Kind::Array => {
                        cost.heap = cost.heap.saturating_add(many0_bytes(frame.count, OBJECT_BYTES));
                        (frame.array.map(Object::Array), Top::Other)
                    }
                    Kind::Dict => {
                        cost.heap = cost.heap.saturating_add(dictionary_bytes(frame.count));
                        match frame.dict {
                            Some(dict) if stack.is_empty() && !matches!(build, Build::All) => {
                                (None, Top::Dictionary(dict))
                            }
                            Some(dict) => {
                                let top = if stack.is_empty() { Top::Dictionary(dict.clone()) } else { Top::Other };
                                (Some(Object::Dictionary(dict)), top)
                            }
                            None => (None, Top::Dictionary(Dictionary::new())),
                        }
                    }
                };
                done = Some((cost, value, top));
            }
        }
    }

    /// A new container at nesting level `level + 1`, refused beyond the depth allowed.
    fn open(&self, kind: Kind, building: bool, top: Build<'_>, level: usize, pos: usize) -> Result<Frame, Stop> {
        if level + 1 > self.max_depth {
            return Err(Stop::TooDeep(pos));
        }
        let builds_dict = building || matches!(top, Build::Keys(_));
        Ok(Frame {
            kind,
            count: 0,
            key: None,
            keep_value: false,
            array: (kind == Kind::Array && building).then(Vec::new),
            dict: (kind == Kind::Dict && builds_dict).then(Dictionary::new),
            cost: Cost::default(),
        })
    }

    /// A value that is not an array or dictionary: lopdf's alternatives `null`, `boolean`,
    /// `reference`, `real`, `integer`, `name`, `literal_string`, `hexadecimal_string`, in
    /// that order.
    fn scalar(&self, pos: usize, build: bool) -> Result<(usize, Cost, Option<Object>, Top), Stop> {
        let simple = Cost { heap: 0, objects: 1 };
        let c = self.at(pos).ok_or(Stop::Fail)?;
        if self.starts_with(pos, b"null") {
            return Ok((pos + 4, simple, Some(Object::Null), Top::Other));
        }
        if self.starts_with(pos, b"true") {
            return Ok((pos + 4, simple, Some(Object::Boolean(true)), Top::Other));
        }
        if self.starts_with(pos, b"false") {
            return Ok((pos + 5, simple, Some(Object::Boolean(false)), Top::Other));
        }
        if c.is_ascii_digit()
            && let Some((id, end)) = self.object_id(pos)
            && self.at(end) == Some(b'R')
        {
            return Ok((end + 1, simple, Some(Object::Reference(id)), Top::Reference(id)));
        }
        if c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.') {
            let digits_from = pos + usize::from(matches!(c, b'+' | b'-'));
            // real: digits "." digits* | "." digits+
            let real_end = match self.digits(digits_from) {
                Some((_, end)) if self.at(end) == Some(b'.') => Some(self.digits(end + 1).map_or(end + 1, |(_, e)| e)),
                Some(_) => None,
                None if self.at(digits_from) == Some(b'.') => self.digits(digits_from + 1).map(|(_, e)| e),
                None => None,
            };
            if let Some(end) = real_end {
                let text = std::str::from_utf8(&self.data[pos..end]).map_err(|_| Stop::Fail)?;
                let value = text.parse::<f32>().map_err(|_| Stop::Fail)?;
                return Ok((end, simple, Some(Object::Real(value)), Top::Other));
            }
            if let Some((_, end)) = self.digits(digits_from) {
                let text = std::str::from_utf8(&self.data[pos..end]).map_err(|_| Stop::Fail)?;
                // An integer that does not fit an i64 matches no alternative at all.
                let value = text.parse::<i64>().map_err(|_| Stop::Fail)?;
                return Ok((end, simple, Some(Object::Integer(value)), Top::Integer(value)));
            }
            return Err(Stop::Fail);
        }
        match c {
            b'/' => {
                let (name, end) = self.name(pos);
                let cost = Cost { heap: many0_bytes(name.len() as u64, 1), objects: 1 };
                Ok((end, cost, build.then_some(Object::Name(name)), Top::Other))
            }
            b'(' => {
                let (end, len) = self.literal_string(pos)?;
                let cost = Cost { heap: grown_bytes(len), objects: 1 };
                let value = if build {
                    let bytes = self.literal_string_value(pos, end);
                    Some(Object::String(bytes, StringFormat::Literal))
                } else {
                    None
                };
                Ok((end, cost, value, Top::Other))
            }
            b'<' => {
                let (end, digits) = self.hex_string(pos).ok_or(Stop::Fail)?;
                let len = digits.div_ceil(2);
                let cost = Cost { heap: grown_bytes(len), objects: 1 };
                let value = build.then(|| Object::String(self.hex_value(pos, end), StringFormat::Hexadecimal));
                Ok((end, cost, value, Top::Other))
            }
            _ => Err(Stop::Fail),
        }
    }

    /// lopdf's `name`: `/` then regular bytes and `#xx` escapes; the decoded name and its end.
    fn name(&self, pos: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut p = pos + 1;
        while let Some(c) = self.at(p) {
            if c == b'#' {
                match (self.at(p + 1), self.at(p + 2)) {
                    (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                        let digit = |x: u8| (x as char).to_digit(16).unwrap_or(0) as u8;
                        out.push(digit(h) << 4 | digit(l));
                        p += 3;
                    }
                    _ => break,
                }
            } else if is_regular(c) {
                out.push(c);
                p += 1;
            } else {
                break;
            }
        }
        (out, p)
    }

    /// lopdf's `literal_string`: where it ends and how many bytes it decodes to. Strings
    /// nested more than allowed are refused ([`Stop::TooDeep`]) before lopdf's own limit.
    fn literal_string(&self, pos: usize) -> Result<(usize, u64), Stop> {
        let mut p = pos + 1;
        let mut nesting = 0usize;
        let mut len: u64 = 0;
        loop {
            let c = self.at(p).ok_or(Stop::Fail)?;
            match c {
                b'(' => {
                    nesting += 1;
                    if nesting + 1 > self.max_depth {
                        return Err(Stop::TooDeep(p));
                    }
                    if nesting > LOPDF_MAX_BRACKET {
                        return Err(Stop::Fail);
                    }
                    len += 1;
                    p += 1;
                }
                b')' => {
                    p += 1;
                    if nesting == 0 {
                        return Ok((p, len));
                    }
                    nesting -= 1;
                    len += 1;
                }
                b'\\' => {
                    let (end, produced) = self.escape(p).ok_or(Stop::Fail)?;
                    len += u64::from(produced);
                    p = end;
                }
                b'\r' | b'\n' => {
                    let end = self.eol(p).unwrap_or(p + 1);
                    len += (end - p) as u64;
                    p = end;
                }
                _ => {
                    len += 1;
                    p += 1;
                }
            }
        }
    }

    /// lopdf's `escape_sequence` at the backslash at `pos`: where it ends and whether it
    /// produces a byte.
    fn escape(&self, pos: usize) -> Option<(usize, bool)> {
        let p = pos + 1;
        let c = self.at(p)?;
        if (b'0'..=b'7').contains(&c) {
            let n = self.data[p..].iter().take(3).take_while(|d| (b'0'..=b'7').contains(d)).count();
            return Some((p + n, true));
        }
        if let Some(end) = self.eol(p) {
            return Some((end, false));
        }
        Some((p + 1, true))
    }

    /// The bytes of the literal string `pos..end` (already read), as lopdf decodes them.
    fn literal_string_value(&self, pos: usize, end: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut p = pos + 1;
        let last = end - 1;
        while p < last {
            let c = self.data[p];
            match c {
                b'\\' => {
                    let q = p + 1;
                    let e = self.data[q];
                    if (b'0'..=b'7').contains(&e) {
                        let n = self.data[q..].iter().take(3).take_while(|d| (b'0'..=b'7').contains(d)).count();
                        let text = std::str::from_utf8(&self.data[q..q + n]).unwrap_or("0");
                        out.push(u16::from_str_radix(text, 8).unwrap_or(0) as u8);
                        p = q + n;
                    } else if let Some(after) = self.eol(q) {
                        p = after;
                    } else {
                        out.push(match e {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'f' => 0x0c,
                            other => other,
                        });
                        p = q + 1;
                    }
                }
                _ => {
                    out.push(c);
                    p += 1;
                }
            }
        }
        out
    }

    /// lopdf's `hexadecimal_string`: where it ends and how many hex digits it holds; `None`
    /// when it is not one (as `<<` is not).
    fn hex_string(&self, pos: usize) -> Option<(usize, u64)> {
        let mut p = pos + 1;
        let mut digits: u64 = 0;
        loop {
            while self.at(p).is_some_and(is_whitespace) {
                p += 1;
            }
            match self.at(p)? {
                c if c.is_ascii_hexdigit() => {
                    digits += 1;
                    p += 1;
                }
                b'>' => return Some((p + 1, digits)),
                _ => return None,
            }
        }
    }

    fn hex_value(&self, pos: usize, end: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut high = true;
        for &c in &self.data[pos + 1..end - 1] {
            let Some(d) = (c as char).to_digit(16) else { continue };
            let d = d as u8;
            if high {
                out.push(d << 4);
            } else if let Some(last) = out.last_mut() {
                *last |= d;
            }
            high = !high;
        }
        out
    }
}

fn unreachable_top() -> ! {
    unreachable!("a container is open whenever one is closed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(data: &[u8]) -> Syntax<'_> {
        Syntax { data, max_depth: 64 }
    }

    fn value(data: &[u8]) -> Object {
        syntax(data).read(0, Build::All).expect("reads").value.expect("built")
    }

    #[test]
    fn values_read_as_lopdf_reads_them() {
        assert_eq!(value(b"12 0 R"), Object::Reference((12, 0)));
        assert_eq!(value(b"12 %c\n 0 R"), Object::Reference((12, 0)));
        assert_eq!(value(b"1.5"), Object::Real(1.5));
        assert_eq!(value(b"-.5"), Object::Real(-0.5));
        assert_eq!(value(b"+7"), Object::Integer(7));
        assert_eq!(value(b"nullx"), Object::Null);
        assert_eq!(value(b"/A#42C"), Object::Name(b"ABC".to_vec()));
        assert_eq!(value(b"(a\\(b\\) (c) \\101\\\nz)"), Object::String(b"a(b) (c) Az".to_vec(), StringFormat::Literal));
        assert_eq!(value(b"<41 4>"), Object::String(vec![0x41, 0x40], StringFormat::Hexadecimal));
        assert_eq!(
            value(b"[1 [2] <</K 3 0 R>>]"),
            Object::Array(vec![
                Object::Integer(1),
                Object::Array(vec![Object::Integer(2)]),
                Object::Dictionary(Dictionary::from_iter([("K", Object::Reference((3, 0)))])),
            ])
        );
    }

    #[test]
    fn what_lopdf_refuses_fails() {
        for bad in [&b"[1 x]"[..], b"<</A>>", b"(abc", b"99999999999999999999", b"[1 %no end of line"] {
            assert_eq!(syntax(bad).read(0, Build::Nothing).map(|r| r.end), Err(Stop::Fail), "{bad:?}");
        }
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_without_recursion() {
        let deep = b"[".repeat(1_000_000);
        assert_eq!(syntax(&deep).read(0, Build::Nothing).map(|r| r.end), Err(Stop::TooDeep(64)));
        let strings = b"(".repeat(1_000_000);
        assert!(matches!(syntax(&strings).read(0, Build::Nothing), Err(Stop::TooDeep(_))));
        let mut ok = b"[".repeat(64);
        ok.extend(b"]".repeat(64));
        assert_eq!(syntax(&ok).read(0, Build::Nothing).map(|r| r.end), Ok(128));
    }

    #[test]
    fn keys_asked_for_are_built_and_the_rest_only_counted() {
        let read = syntax(b"<< /Length 5 /Big [1 2 3] /Type /XRef >>")
            .read(0, Build::Keys(&[b"Length", b"Type"]))
            .expect("reads");
        let Top::Dictionary(dict) = read.top else { panic!("a dictionary") };
        assert_eq!(dict.get(b"Length").ok(), Some(&Object::Integer(5)));
        assert_eq!(dict.get(b"Type").ok(), Some(&Object::Name(b"XRef".to_vec())));
        assert!(dict.get(b"Big").is_err());
        assert_eq!(read.cost.objects, 7);
    }

    /// Pieces of PDF syntax, good and bad, that random texts are made of.
    const PIECES: &[&str] = &[
        "[",
        "]",
        "<<",
        ">>",
        "<",
        ">",
        "(",
        ")",
        "\\",
        "/",
        "/Name",
        "/A#42",
        "/A#4",
        "#41",
        "1",
        "-2",
        "+3",
        ".5",
        "1.",
        "-.25",
        "0 R",
        "12 0 R",
        "7 %c\n 0 R",
        "1 70000 R",
        "true",
        "false",
        "null",
        "nullx",
        " ",
        "\n",
        "\r",
        "\r\n",
        "%c\n",
        "%",
        "abc",
        "99999999999999999999",
        "<41>",
        "<4 1>",
        "<4x>",
        "(a(b)c)",
        "\\(",
        "\\n",
        "\\101",
        "\\\r\n",
        "\x00",
        "\x0c",
        "{",
        "}",
        "\u{e0}",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// What lopdf makes of a random text as a dictionary value, this reader makes too:
        /// the same object, or a failure where lopdf drops the object.
        #[test]
        fn random_syntax_reads_as_lopdf_reads_it(pieces in proptest::collection::vec(proptest::sample::select(PIECES), 0..24)) {
            let text: String = pieces.concat();
            let pdf = crate::hostile::probe(text.as_bytes());
            let lopdf_value = lopdf::Document::load_mem(&pdf).ok().and_then(|d| d.objects.get(&(1, 0)).cloned());
            let body = pdf.windows(7).position(|w| w == b"1 0 obj").expect("the probe's object") + 8;
            let ours = syntax(&pdf).read(body, Build::All).ok().and_then(|r| r.value);
            proptest::prop_assert_eq!(ours, lopdf_value, "text {:?}", text);
        }
    }

    /// A well-formed value as text, with varied spacing and comments.
    fn well_formed() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let space = proptest::sample::select(vec![" ", "", "\n", "\r\n", " %note\n", "\t", "\x00", "\x0c"]);
        let leaf = prop_oneof![
            any::<i32>().prop_map(|n| n.to_string()),
            any::<i16>().prop_map(|n| format!("{}.{}", n, n.unsigned_abs() % 100)),
            (0u32..5000, 0u16..3).prop_map(|(n, g)| format!("{n} {g} R")),
            "[a-zA-Z0-9#_.]{0,8}".prop_map(|n| format!("/{n}")),
            "[ a-z()\\\\\n]{0,12}".prop_map(|t| format!("({t})")),
            "[0-9a-fA-F ]{0,9}".prop_map(|h| format!("<{h}>")),
            Just("true".to_owned()),
            Just("null".to_owned()),
        ];
        leaf.prop_recursive(6, 48, 6, move |inner| {
            let space = space.clone();
            prop_oneof![
                (proptest::collection::vec((inner.clone(), space.clone()), 0..6), space.clone()).prop_map(
                    |(items, s)| format!("[{s}{}]", items.iter().map(|(v, sp)| format!("{v}{sp}")).collect::<String>())
                ),
                (proptest::collection::vec(("[A-Za-z]{1,4}", inner, space.clone()), 0..6), space).prop_map(
                    |(entries, s)| format!(
                        "<<{s}{}>>",
                        entries.iter().map(|(k, v, sp)| format!("/{k} {v}{sp}")).collect::<String>()
                    )
                ),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        /// Well-formed values, and the same with one piece of syntax spliced in somewhere,
        /// read the same here as in lopdf.
        #[test]
        fn well_formed_and_damaged_values_read_as_lopdf_reads_them(
            text in well_formed(),
            splice in proptest::option::of((proptest::sample::select(PIECES), proptest::prelude::any::<proptest::sample::Index>())),
        ) {
            let mut text = text;
            if let Some((piece, at)) = splice {
                let at = at.index(text.len() + 1);
                if text.is_char_boundary(at) {
                    text.insert_str(at, piece);
                }
            }
            let pdf = crate::hostile::probe(text.as_bytes());
            let lopdf_value = lopdf::Document::load_mem(&pdf).ok().and_then(|d| d.objects.get(&(1, 0)).cloned());
            let body = pdf.windows(7).position(|w| w == b"1 0 obj").expect("the probe's object") + 8;
            let ours = syntax(&pdf).read(body, Build::All).ok().and_then(|r| r.value);
            proptest::prop_assert_eq!(ours, lopdf_value, "text {:?}", text);
        }
    }
}
