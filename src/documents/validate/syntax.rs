//! Just enough PDF syntax (ISO 32000-1 section 7.3) to read indirect objects out of any bytes.

use super::find;

/// Deeper nesting than this in one object is refused (no real document comes close).
const MAX_NESTING: usize = 32;

/// Why an object could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    #[error("unexpected end of file at byte {0}")]
    UnexpectedEnd(usize),
    #[error("unexpected {found} at byte {at}")]
    Unexpected { found: &'static str, at: usize },
    #[error("objects nested deeper than {MAX_NESTING} at byte {0}")]
    TooDeep(usize),
}

/// Where a string sat in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StringSpan {
    /// The offset of `(` or `<`.
    pub start: usize,
    /// The offset just after `)` or `>`.
    pub end: usize,
    pub hex: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Null,
    Boolean(bool),
    Integer(i64),
    Real(f64),
    Name(Vec<u8>),
    String { bytes: Vec<u8>, span: StringSpan },
    Array(Vec<Object>),
    Dictionary(Dictionary),
    Reference(u32, u16),
}

impl Object {
    pub fn as_dictionary(&self) -> Option<&Dictionary> {
        match self {
            Self::Dictionary(dictionary) => Some(dictionary),
            _ => None,
        }
    }

    pub fn as_name(&self) -> Option<&[u8]> {
        match self {
            Self::Name(name) => Some(name),
            _ => None,
        }
    }

    pub fn as_string(&self) -> Option<&[u8]> {
        match self {
            Self::String { bytes, .. } => Some(bytes),
            _ => None,
        }
    }

    pub fn string_span(&self) -> Option<StringSpan> {
        match self {
            Self::String { span, .. } => Some(*span),
            _ => None,
        }
    }

    pub fn as_reference(&self) -> Option<(u32, u16)> {
        match self {
            Self::Reference(number, generation) => Some((*number, *generation)),
            _ => None,
        }
    }
}

/// A dictionary's entries in file order (duplicates kept, so they can be noticed).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dictionary(pub Vec<(Vec<u8>, Object)>);

impl Dictionary {
    /// The first entry for `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Object> {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    pub fn has_duplicate_keys(&self) -> bool {
        let mut keys: Vec<&[u8]> = self.0.iter().map(|(key, _)| key.as_slice()).collect();
        keys.sort_unstable();
        keys.windows(2).any(|pair| pair[0] == pair[1])
    }
}

/// `number generation obj value endobj`, where it sat.
#[derive(Debug, Clone, PartialEq)]
pub struct IndirectObject {
    pub number: u32,
    pub generation: u16,
    /// The offset of the object number.
    pub start: usize,
    /// Just after the value (before any stream and `endobj`).
    pub value_end: usize,
    /// Just after `endobj` (or wherever the object ended).
    pub end: usize,
    pub value: Object,
}

#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    Integer(i64),
    Real(f64),
    Name(Vec<u8>),
    String {
        bytes: Vec<u8>,
        span: StringSpan,
    },
    ArrayOpen,
    ArrayClose,
    DictionaryOpen,
    DictionaryClose,
    Keyword(&'a [u8]),
    /// A delimiter out of place, or a string that never ends.
    Stray(&'static str),
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b'\0' | b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn is_delimiter(byte: u8) -> bool {
    matches!(
        byte,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(byte: u8) -> bool {
    !is_whitespace(byte) && !is_delimiter(byte)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

struct Lexer<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Lexer<'a> {
    fn peek_byte(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn skip_whitespace_and_comments(&mut self) {
        while let Some(byte) = self.peek_byte() {
            if is_whitespace(byte) {
                self.position += 1;
            } else if byte == b'%' {
                while let Some(byte) = self.peek_byte() {
                    if byte == b'\n' || byte == b'\r' {
                        break;
                    }
                    self.position += 1;
                }
            } else {
                break;
            }
        }
    }

    /// The next token and the offset it starts at.
    fn next(&mut self) -> Option<(usize, Token<'a>)> {
        self.skip_whitespace_and_comments();
        let start = self.position;
        let byte = self.peek_byte()?;
        self.position += 1;
        let token = match byte {
            b'(' => self.literal_string(start),
            b'<' if self.peek_byte() == Some(b'<') => {
                self.position += 1;
                Token::DictionaryOpen
            }
            b'<' => self.hex_string(start),
            b'>' if self.peek_byte() == Some(b'>') => {
                self.position += 1;
                Token::DictionaryClose
            }
            b'>' => Token::Stray("'>'"),
            b'[' => Token::ArrayOpen,
            b']' => Token::ArrayClose,
            b')' => Token::Stray("')'"),
            b'{' | b'}' => Token::Stray("a brace"),
            b'/' => Token::Name(self.name()),
            _ => {
                while self.peek_byte().is_some_and(is_regular) {
                    self.position += 1;
                }
                let word = self.bytes.get(start..self.position).unwrap_or_default();
                number(word).unwrap_or(Token::Keyword(word))
            }
        };
        Some((start, token))
    }

    fn name(&mut self) -> Vec<u8> {
        let mut name = Vec::new();
        while let Some(byte) = self.peek_byte().filter(|byte| is_regular(*byte)) {
            self.position += 1;
            if byte == b'#' {
                let high = self.bytes.get(self.position).copied().and_then(hex_value);
                let low = self
                    .bytes
                    .get(self.position + 1)
                    .copied()
                    .and_then(hex_value);
                if let (Some(high), Some(low)) = (high, low) {
                    name.push(high * 16 + low);
                    self.position += 2;
                    continue;
                }
            }
            name.push(byte);
        }
        name
    }

    fn literal_string(&mut self, start: usize) -> Token<'a> {
        let mut bytes = Vec::new();
        let mut depth = 1usize;
        while let Some(byte) = self.peek_byte() {
            self.position += 1;
            match byte {
                b'(' => {
                    depth += 1;
                    bytes.push(byte);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Token::String {
                            bytes,
                            span: StringSpan {
                                start,
                                end: self.position,
                                hex: false,
                            },
                        };
                    }
                    bytes.push(byte);
                }
                b'\\' => self.escape(&mut bytes),
                _ => bytes.push(byte),
            }
        }
        Token::Stray("a string that never ends")
    }

    fn escape(&mut self, bytes: &mut Vec<u8>) {
        let Some(byte) = self.peek_byte() else { return };
        self.position += 1;
        match byte {
            b'n' => bytes.push(b'\n'),
            b'r' => bytes.push(b'\r'),
            b't' => bytes.push(b'\t'),
            b'b' => bytes.push(0x08),
            b'f' => bytes.push(0x0c),
            b'0'..=b'7' => {
                let mut value = u32::from(byte - b'0');
                for _ in 0..2 {
                    match self.peek_byte() {
                        Some(digit @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(digit - b'0');
                            self.position += 1;
                        }
                        _ => break,
                    }
                }
                // Overflow of a three-digit octal escape is ignored (ISO 32000-1 7.3.4.2).
                bytes.push((value & 0xff) as u8);
            }
            // A backslash at the end of a line continues the string on the next.
            b'\r' => {
                if self.peek_byte() == Some(b'\n') {
                    self.position += 1;
                }
            }
            b'\n' => {}
            other => bytes.push(other),
        }
    }

    fn hex_string(&mut self, start: usize) -> Token<'a> {
        let mut bytes = Vec::new();
        let mut high: Option<u8> = None;
        while let Some(byte) = self.peek_byte() {
            self.position += 1;
            if byte == b'>' {
                if let Some(high) = high {
                    bytes.push(high << 4);
                }
                return Token::String {
                    bytes,
                    span: StringSpan {
                        start,
                        end: self.position,
                        hex: true,
                    },
                };
            }
            if is_whitespace(byte) {
                continue;
            }
            let Some(value) = hex_value(byte) else {
                return Token::Stray("a non-hex character in a hex string");
            };
            match high.take() {
                Some(high) => bytes.push(high << 4 | value),
                None => high = Some(value),
            }
        }
        Token::Stray("a hex string that never ends")
    }
}

fn number(word: &[u8]) -> Option<Token<'static>> {
    let text = std::str::from_utf8(word).ok()?;
    let digits = text.trim_start_matches(['+', '-']);
    if digits.is_empty() || text.len() - digits.len() > 1 {
        return None;
    }
    if digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return text.parse().ok().map(Token::Integer);
    }
    let dots = digits.bytes().filter(|byte| *byte == b'.').count();
    let rest_digits = digits
        .bytes()
        .all(|byte| byte.is_ascii_digit() || byte == b'.');
    if dots == 1 && rest_digits && digits.len() > 1 {
        return text.parse().ok().map(Token::Real);
    }
    None
}

fn describe(token: &Token<'_>) -> &'static str {
    match token {
        Token::Integer(_) => "a number",
        Token::Real(_) => "a number",
        Token::Name(_) => "a name",
        Token::String { .. } => "a string",
        Token::ArrayOpen => "'['",
        Token::ArrayClose => "']'",
        Token::DictionaryOpen => "'<<'",
        Token::DictionaryClose => "'>>'",
        Token::Keyword(_) => "a keyword",
        Token::Stray(what) => what,
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
}

impl<'a> Parser<'a> {
    /// After `number`: `generation R` makes it a reference, else it stays a number.
    fn reference_or_integer(&mut self, value: i64) -> Object {
        let saved = self.lexer.position;
        if let (Ok(number), Some((_, Token::Integer(generation)))) =
            (u32::try_from(value), self.lexer.next())
        {
            if let (Ok(generation), Some((_, Token::Keyword(b"R")))) =
                (u16::try_from(generation), self.lexer.next())
            {
                return Object::Reference(number, generation);
            }
        }
        self.lexer.position = saved;
        Object::Integer(value)
    }

    fn value(&mut self, at: usize, token: Token<'a>, depth: usize) -> Result<Object, SyntaxError> {
        if depth > MAX_NESTING {
            return Err(SyntaxError::TooDeep(at));
        }
        Ok(match token {
            Token::Integer(value) => self.reference_or_integer(value),
            Token::Real(value) => Object::Real(value),
            Token::Name(name) => Object::Name(name),
            Token::String { bytes, span } => Object::String { bytes, span },
            Token::Keyword(b"true") => Object::Boolean(true),
            Token::Keyword(b"false") => Object::Boolean(false),
            Token::Keyword(b"null") => Object::Null,
            Token::ArrayOpen => {
                let mut items = Vec::new();
                loop {
                    let (at, token) = self
                        .lexer
                        .next()
                        .ok_or(SyntaxError::UnexpectedEnd(self.lexer.position))?;
                    if token == Token::ArrayClose {
                        break Object::Array(items);
                    }
                    items.push(self.value(at, token, depth + 1)?);
                }
            }
            Token::DictionaryOpen => {
                let mut entries = Vec::new();
                loop {
                    let (at, token) = self
                        .lexer
                        .next()
                        .ok_or(SyntaxError::UnexpectedEnd(self.lexer.position))?;
                    let key = match token {
                        Token::DictionaryClose => {
                            break Object::Dictionary(Dictionary(entries));
                        }
                        Token::Name(key) => key,
                        other => {
                            return Err(SyntaxError::Unexpected {
                                found: describe(&other),
                                at,
                            });
                        }
                    };
                    let (at, token) = self
                        .lexer
                        .next()
                        .ok_or(SyntaxError::UnexpectedEnd(self.lexer.position))?;
                    entries.push((key, self.value(at, token, depth + 1)?));
                }
            }
            other => {
                return Err(SyntaxError::Unexpected {
                    found: describe(&other),
                    at,
                });
            }
        })
    }

    /// After `number generation obj`: the value, a stream if one follows, and `endobj`.
    fn object(
        &mut self,
        number: u32,
        generation: u16,
        start: usize,
    ) -> Result<IndirectObject, SyntaxError> {
        let (at, token) = self
            .lexer
            .next()
            .ok_or(SyntaxError::UnexpectedEnd(self.lexer.position))?;
        let value = self.value(at, token, 0)?;
        let value_end = self.lexer.position;
        let saved = self.lexer.position;
        match self.lexer.next() {
            Some((_, Token::Keyword(b"stream"))) => {
                self.skip_stream(&value);
                let saved = self.lexer.position;
                if !matches!(self.lexer.next(), Some((_, Token::Keyword(b"endobj")))) {
                    self.lexer.position = saved;
                }
            }
            Some((_, Token::Keyword(b"endobj"))) => {}
            _ => self.lexer.position = saved,
        }
        Ok(IndirectObject {
            number,
            generation,
            start,
            value_end,
            end: self.lexer.position,
            value,
        })
    }

    /// Moves past a stream's data: by a direct `/Length` when `endstream` follows it, else to
    /// the next `endstream`.
    fn skip_stream(&mut self, value: &Object) {
        let bytes = self.lexer.bytes;
        let mut data_start = self.lexer.position;
        if bytes.get(data_start) == Some(&b'\r') {
            data_start += 1;
        }
        if bytes.get(data_start) == Some(&b'\n') {
            data_start += 1;
        }
        const END: &[u8] = b"endstream";
        let by_length = value
            .as_dictionary()
            .and_then(|dictionary| dictionary.get(b"Length"))
            .and_then(|length| match length {
                Object::Integer(length) => usize::try_from(*length).ok(),
                _ => None,
            })
            .and_then(|length| data_start.checked_add(length))
            .and_then(|data_end| {
                let mut at = data_end;
                while bytes.get(at).copied().is_some_and(is_whitespace) {
                    at += 1;
                }
                bytes
                    .get(at..)
                    .filter(|rest| rest.starts_with(END))
                    .map(|_| at)
            });
        let end_keyword = by_length.or_else(|| find(bytes, END, data_start));
        self.lexer.position = end_keyword.map_or(bytes.len(), |at| at + END.len());
    }
}

/// The dictionary of the file's last `trailer`: the one the latest update wrote.
pub fn last_trailer(bytes: &[u8]) -> Option<Dictionary> {
    let keyword = b"trailer";
    let at = bytes
        .windows(keyword.len())
        .rposition(|window| window == keyword)?;
    let mut parser = Parser {
        lexer: Lexer {
            bytes,
            position: at + keyword.len(),
        },
    };
    let (start, token) = parser.lexer.next()?;
    match parser.value(start, token, 0).ok()? {
        Object::Dictionary(dictionary) => Some(dictionary),
        _ => None,
    }
}

/// What scanning a file found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scan {
    /// Every indirect object that reads, in file order.
    pub objects: Vec<IndirectObject>,
    /// How many objects did not read, and why the first did not.
    pub unreadable: usize,
    pub first_error: Option<SyntaxError>,
}

/// Reads every indirect object of `bytes`. What does not read is skipped: scanning resumes
/// where reading stopped, so no byte is read more than a few times.
pub fn scan(bytes: &[u8]) -> Scan {
    let mut parser = Parser {
        lexer: Lexer { bytes, position: 0 },
    };
    let mut scan = Scan::default();
    while let Some((start, token)) = parser.lexer.next() {
        let Token::Integer(number) = token else {
            continue;
        };
        let after_number = parser.lexer.position;
        let header = match (parser.lexer.next(), parser.lexer.next()) {
            (Some((_, Token::Integer(generation))), Some((_, Token::Keyword(b"obj")))) => {
                u32::try_from(number)
                    .ok()
                    .zip(u16::try_from(generation).ok())
            }
            _ => None,
        };
        let Some((number, generation)) = header else {
            parser.lexer.position = after_number;
            continue;
        };
        match parser.object(number, generation, start) {
            Ok(object) => scan.objects.push(object),
            Err(error) => {
                scan.unreadable += 1;
                scan.first_error.get_or_insert(error);
            }
        }
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_strings_references_and_streams_are_read() {
        let pdf = b"%PDF-1.7\n1 0 obj\n<< /Type /Sig /Contents <3082 00 01> /Name (a\\(b\\)\\101) \
            /V 12 0 R /A [1 -2 3.5 /N#20x true null] >>\nendobj\n\
            2 0 obj << /Length 10 >> stream\n1 0 obj <<\nendstream endobj\n3 0 obj (x) endobj";
        let objects = scan(pdf).objects;
        assert_eq!(
            objects
                .iter()
                .map(|object| object.number)
                .collect::<Vec<_>>(),
            [1, 2, 3],
            "the object inside the stream is not read"
        );
        let first = objects[0].value.as_dictionary().unwrap();
        assert_eq!(first.get(b"Type").unwrap().as_name(), Some(&b"Sig"[..]));
        let contents = first.get(b"Contents").unwrap();
        assert_eq!(contents.as_string(), Some(&[0x30, 0x82, 0x00, 0x01][..]));
        let span = contents.string_span().unwrap();
        assert!(span.hex);
        assert_eq!(&pdf[span.start..span.end], b"<3082 00 01>");
        assert_eq!(first.get(b"Name").unwrap().as_string(), Some(&b"a(b)A"[..]));
        assert_eq!(first.get(b"V").unwrap().as_reference(), Some((12, 0)));
        assert_eq!(
            first.get(b"A").unwrap(),
            &Object::Array(vec![
                Object::Integer(1),
                Object::Integer(-2),
                Object::Real(3.5),
                Object::Name(b"N x".to_vec()),
                Object::Boolean(true),
                Object::Null,
            ])
        );
    }

    #[test]
    fn broken_objects_are_skipped_and_scanning_goes_on() {
        let pdf = b"1 0 obj << /A ) >> endobj 2 0 obj << /B 1 >> endobj 3 0 obj [[[[[[[[[[[[\
            [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]] endobj 4 0 obj (never ends";
        let scan = scan(pdf);
        assert_eq!(
            scan.objects
                .iter()
                .map(|object| object.number)
                .collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(scan.unreadable, 3);
        assert_eq!(
            scan.first_error,
            Some(SyntaxError::Unexpected {
                found: "')'",
                at: 14
            })
        );
    }
}
