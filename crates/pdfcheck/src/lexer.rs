//! A content-stream tokenizer (ISO 32000-1 §7.2 lexical conventions, §7.8.2 content
//! streams, §8.9.7 inline images) that never fails: what it cannot read it skips, as
//! viewers do. It counts every token against a budget so a hostile stream stops early.

/// An operand of a content-stream operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Number(f64),
    Name(Vec<u8>),
    String(Vec<u8>),
    Array(Vec<Operand>),
    Dict(Vec<(Vec<u8>, Operand)>),
    Bool(bool),
    Other,
}

impl Operand {
    /// The operand as a number, if it is one.
    pub(crate) fn number(&self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(*n),
            _ => None,
        }
    }
}

/// One operator with the operands before it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Operation {
    pub(crate) operator: Vec<u8>,
    pub(crate) operands: Vec<Operand>,
}

/// The token budget ran out before the stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BudgetExhausted;

/// Operands kept before an operator; operators take at most six, the rest is noise.
const MAX_OPERANDS: usize = 64;
/// Nesting of arrays and dictionaries inside one operand that is kept; deeper ones are
/// read (on the heap, never recursively) and dropped.
const MAX_NESTING: usize = 32;

/// Splits `data` into operations, spending one unit of `budget` per token.
pub(crate) fn tokenize(data: &[u8], budget: &mut u64) -> Result<Vec<Operation>, BudgetExhausted> {
    let mut lexer = Lexer { data, pos: 0, budget };
    let mut operations = Vec::new();
    let mut operands: Vec<Operand> = Vec::new();
    while let Some(token) = lexer.next_token(0)? {
        match token {
            Token::Operand(operand) => {
                if operands.len() >= MAX_OPERANDS {
                    operands.remove(0);
                }
                operands.push(operand);
            }
            Token::Keyword(word) if word == b"BI" => {
                let dict = lexer.inline_image()?;
                operands.clear();
                operations.push(Operation { operator: word, operands: vec![Operand::Dict(dict)] });
            }
            Token::Keyword(word) => {
                operations.push(Operation { operator: word, operands: std::mem::take(&mut operands) });
            }
            Token::Close => {}
        }
    }
    Ok(operations)
}

enum Token {
    Operand(Operand),
    Keyword(Vec<u8>),
    /// A closing `]` or `>>` (meaningful only inside an array or dictionary).
    Close,
}

/// What one step of the lexer read.
enum Step {
    Token(Token),
    /// `[` or `<<`: a container opens.
    Open(Container),
    /// The end of the data.
    End,
}

#[derive(Clone, Copy)]
enum Container {
    Array,
    Dict,
}

/// An array or dictionary being read.
enum Frame {
    Array(Vec<Operand>),
    /// The entries so far, and a key waiting for its value.
    Dict(Vec<(Vec<u8>, Operand)>, Option<Vec<u8>>),
}

impl Frame {
    fn new(kind: Container) -> Self {
        match kind {
            Container::Array => Frame::Array(Vec::new()),
            Container::Dict => Frame::Dict(Vec::new(), None),
        }
    }

    fn add(&mut self, operand: Operand) {
        match self {
            Frame::Array(items) => items.push(operand),
            Frame::Dict(entries, key) => match key.take() {
                Some(k) => entries.push((k, operand)),
                None => {
                    if let Operand::Name(name) = operand {
                        *key = Some(name);
                    }
                }
            },
        }
    }

    fn finish(self) -> Operand {
        match self {
            Frame::Array(items) => Operand::Array(items),
            Frame::Dict(entries, _) => Operand::Dict(entries),
        }
    }
}

struct Lexer<'a, 'b> {
    data: &'a [u8],
    pos: usize,
    budget: &'b mut u64,
}

fn is_white(b: u8) -> bool {
    matches!(b, 0 | b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

fn is_delimiter(b: u8) -> bool {
    matches!(b, b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%')
}

fn is_regular(b: u8) -> bool {
    !is_white(b) && !is_delimiter(b)
}

impl Lexer<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn spend(&mut self) -> Result<(), BudgetExhausted> {
        if *self.budget == 0 {
            return Err(BudgetExhausted);
        }
        *self.budget -= 1;
        Ok(())
    }

    /// The next token; an array or dictionary is read whole, with everything nested in it.
    fn next_token(&mut self, depth: usize) -> Result<Option<Token>, BudgetExhausted> {
        Ok(match self.step()? {
            Step::End => None,
            Step::Token(token) => Some(token),
            Step::Open(kind) => Some(Token::Operand(self.container(kind, depth)?)),
        })
    }

    /// Reads one token; an opening `[` or `<<` is returned as such, not followed.
    fn step(&mut self) -> Result<Step, BudgetExhausted> {
        loop {
            self.skip_space();
            let Some(b) = self.peek() else { return Ok(Step::End) };
            self.spend()?;
            let token = match b {
                b'/' => {
                    self.pos += 1;
                    Token::Operand(Operand::Name(self.name()))
                }
                b'(' => {
                    self.pos += 1;
                    Token::Operand(Operand::String(self.literal_string()))
                }
                b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                    self.pos += 2;
                    return Ok(Step::Open(Container::Dict));
                }
                b'<' => {
                    self.pos += 1;
                    Token::Operand(Operand::String(self.hex_string()))
                }
                b'[' => {
                    self.pos += 1;
                    return Ok(Step::Open(Container::Array));
                }
                b']' => {
                    self.pos += 1;
                    Token::Close
                }
                b'>' => {
                    self.pos += 1;
                    if self.peek() == Some(b'>') {
                        self.pos += 1;
                    }
                    Token::Close
                }
                b')' | b'{' | b'}' => {
                    // Stray delimiters: skip them as a viewer would.
                    self.pos += 1;
                    continue;
                }
                _ => {
                    let start = self.pos;
                    while self.peek().is_some_and(is_regular) {
                        self.pos += 1;
                    }
                    let word = self.data.get(start..self.pos).unwrap_or_default();
                    if word.is_empty() {
                        self.pos += 1;
                        continue;
                    }
                    match number(word) {
                        Some(n) => Token::Operand(Operand::Number(n)),
                        None if word == b"true" => Token::Operand(Operand::Bool(true)),
                        None if word == b"false" => Token::Operand(Operand::Bool(false)),
                        None if word == b"null" => Token::Operand(Operand::Other),
                        None => Token::Keyword(word.to_vec()),
                    }
                }
            };
            return Ok(Step::Token(token));
        }
    }

    fn name(&mut self) -> Vec<u8> {
        let mut name = Vec::new();
        while let Some(b) = self.peek() {
            if !is_regular(b) {
                break;
            }
            self.pos += 1;
            if b == b'#' {
                let hex = self.data.get(self.pos..self.pos + 2).and_then(|h| std::str::from_utf8(h).ok());
                if let Some(value) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    name.push(value);
                    self.pos += 2;
                    continue;
                }
            }
            name.push(b);
        }
        name
    }

    fn literal_string(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut nesting = 0usize;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'(' => {
                    nesting += 1;
                    out.push(b);
                }
                b')' if nesting == 0 => break,
                b')' => {
                    nesting -= 1;
                    out.push(b);
                }
                b'\\' => {
                    let Some(e) = self.peek() else { break };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut value = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        value = value * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((value & 0xff) as u8);
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(b),
            }
        }
        out
    }

    fn hex_string(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        while let Some(b) = self.peek() {
            self.pos += 1;
            if b == b'>' {
                break;
            }
            let Some(digit) = (b as char).to_digit(16) else { continue };
            let digit = digit as u8;
            match high.take() {
                Some(h) => out.push(h << 4 | digit),
                None => high = Some(digit),
            }
        }
        if let Some(h) = high {
            out.push(h << 4);
        }
        out
    }

    /// Reads the array or dictionary whose opening delimiter `step` just returned, `depth`
    /// containers deep, with everything nested in it. The nesting is kept on a stack on the
    /// heap, never the call stack, so no content stream can exhaust the thread's stack.
    /// A container [`MAX_NESTING`] deep or deeper is read (its tokens count against the
    /// budget) but becomes [`Operand::Other`], and nothing inside it is kept. A `]` or
    /// `>>` closes whichever container is innermost; the end of the data closes them all.
    fn container(&mut self, kind: Container, depth: usize) -> Result<Operand, BudgetExhausted> {
        // The kept containers, outermost first: `open[i]` is `depth + i` deep.
        let mut open: Vec<Frame> = Vec::new();
        // Containers open inside the innermost kept one (or all of them when even the first
        // is too deep): counted only.
        let mut hidden = 0usize;
        if depth < MAX_NESTING {
            open.push(Frame::new(kind));
        } else {
            hidden = 1;
        }
        loop {
            match self.step()? {
                Step::Open(kind) => {
                    if hidden > 0 || depth + open.len() >= MAX_NESTING {
                        hidden += 1;
                    } else {
                        open.push(Frame::new(kind));
                    }
                }
                Step::Token(Token::Close) => {
                    let value = if hidden > 0 {
                        hidden -= 1;
                        if hidden > 0 {
                            continue;
                        }
                        Operand::Other
                    } else {
                        match open.pop() {
                            Some(frame) => frame.finish(),
                            None => Operand::Other,
                        }
                    };
                    match open.last_mut() {
                        Some(parent) => parent.add(value),
                        None => return Ok(value),
                    }
                }
                Step::Token(Token::Operand(operand)) => {
                    if hidden == 0
                        && let Some(frame) = open.last_mut()
                    {
                        frame.add(operand);
                    }
                }
                // An operator inside an array or dictionary is noise (a damaged stream).
                Step::Token(Token::Keyword(_)) => {}
                Step::End => {
                    let mut value = (hidden > 0).then_some(Operand::Other);
                    while let Some(mut frame) = open.pop() {
                        if let Some(inner) = value.take() {
                            frame.add(inner);
                        }
                        value = Some(frame.finish());
                    }
                    return Ok(value.unwrap_or(Operand::Other));
                }
            }
        }
    }

    /// Reads an inline image's dictionary up to `ID` and skips its data up to `EI`.
    fn inline_image(&mut self) -> Result<Vec<(Vec<u8>, Operand)>, BudgetExhausted> {
        let mut entries = Vec::new();
        let mut key: Option<Vec<u8>> = None;
        loop {
            match self.next_token(1)? {
                None => return Ok(entries),
                Some(Token::Keyword(word)) if word == b"ID" => break,
                Some(Token::Keyword(_)) | Some(Token::Close) => {}
                Some(Token::Operand(operand)) => match key.take() {
                    Some(k) => entries.push((k, operand)),
                    None => {
                        if let Operand::Name(name) = operand {
                            key = Some(name);
                        }
                    }
                },
            }
        }
        // One white-space byte follows ID; the data ends at an `EI` standing alone.
        self.pos += 1;
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let end = rest.windows(2).enumerate().position(|(i, w)| {
            w == b"EI"
                && (i == 0 || rest.get(i - 1).copied().is_some_and(is_white))
                && rest.get(i + 2).is_none_or(|&b| !is_regular(b))
        });
        self.pos = match end {
            Some(i) => self.pos + i + 2,
            None => self.data.len(),
        };
        Ok(entries)
    }
}

/// Reads a PDF number (`12`, `-3.5`, `.5`, `4.`); `None` when `word` is not one.
fn number(word: &[u8]) -> Option<f64> {
    let first = *word.first()?;
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return None;
    }
    if !word.iter().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')) {
        return None;
    }
    let text = std::str::from_utf8(word).ok()?;
    // Some writers emit `--5` or `5.-`; a viewer reads something, and zero is as good.
    Some(text.parse::<f64>().unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(data: &[u8]) -> Vec<Operation> {
        let mut budget = 10_000;
        tokenize(data, &mut budget).expect("small input fits the budget")
    }

    #[test]
    fn operators_take_the_operands_before_them() {
        let ops = ops(b"1 0 0 1 50 60 cm /F1 12 Tf [(A) -120 (B)] TJ");
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0].operator, b"cm");
        assert_eq!(ops[0].operands.len(), 6);
        assert_eq!(ops[1].operands[0], Operand::Name(b"F1".to_vec()));
        assert!(matches!(&ops[2].operands[0], Operand::Array(items) if items.len() == 3));
    }

    #[test]
    fn strings_unescape_and_nest() {
        let ops = ops(b"(a\\(b\\) (c) \\101) Tj <414 2> Tj");
        assert_eq!(ops[0].operands[0], Operand::String(b"a(b) (c) A".to_vec()));
        assert_eq!(ops[1].operands[0], Operand::String(vec![0x41, 0x42]));
    }

    #[test]
    fn inline_image_data_is_skipped() {
        let ops = ops(b"q BI /W 2 /H 1 /CS /G /BPC 8 ID \x00EI\xff EI Q");
        let operators: Vec<&[u8]> = ops.iter().map(|o| o.operator.as_slice()).collect();
        assert_eq!(operators, [b"q".as_slice(), b"BI", b"Q"]);
    }

    /// How many arrays are nested in `operand`, following the first element.
    fn nesting(mut operand: &Operand) -> usize {
        let mut depth = 0;
        while let Operand::Array(items) = operand {
            depth += 1;
            match items.first() {
                Some(inner) => operand = inner,
                None => break,
            }
        }
        depth
    }

    #[test]
    fn nesting_a_million_deep_is_read_without_recursion_and_kept_to_the_limit() {
        let depth = 1_000_000;
        let mut data = b"[".repeat(depth);
        data.extend(b"(x)");
        data.extend(b"]".repeat(depth));
        data.extend(b" TJ");
        let mut budget = 10_000_000;
        let ops = tokenize(&data, &mut budget).expect("within the budget");
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].operator, b"TJ");
        // Arrays 0 to 31 deep are kept; the one 32 deep stands for everything inside it.
        assert_eq!(nesting(&ops[0].operands[0]), MAX_NESTING);
        let mut innermost = &ops[0].operands[0];
        while let Operand::Array(items) = innermost {
            innermost = &items[0];
        }
        assert_eq!(*innermost, Operand::Other);
    }

    #[test]
    fn unclosed_dictionaries_a_million_deep_end_with_the_data() {
        let data = b"<< /K ".repeat(1_000_000);
        let mut budget = 10_000_000;
        let ops = tokenize(&data, &mut budget).expect("within the budget");
        assert!(ops.is_empty());
        let mut budget = 1000;
        assert_eq!(tokenize(&data, &mut budget), Err(BudgetExhausted));
    }

    #[test]
    fn a_close_ends_the_innermost_container_of_either_kind() {
        let ops = ops(b"[1 << /A [2 3] /B 4 ] 5] TJ");
        let Operand::Array(items) = &ops[0].operands[0] else { panic!("an array: {ops:?}") };
        assert_eq!(items[0], Operand::Number(1.0));
        assert_eq!(
            items[1],
            Operand::Dict(vec![
                (b"A".to_vec(), Operand::Array(vec![Operand::Number(2.0), Operand::Number(3.0)])),
                (b"B".to_vec(), Operand::Number(4.0)),
            ])
        );
        assert_eq!(items[2], Operand::Number(5.0));
    }

    #[test]
    fn budget_stops_a_long_stream() {
        let data = b"0 0 m ".repeat(1000);
        let mut budget = 100;
        assert_eq!(tokenize(&data, &mut budget), Err(BudgetExhausted));
    }
}
