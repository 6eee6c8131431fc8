//! `/ToUnicode` CMaps (ISO 32000-1 9.10.3): the `bfchar` and `bfrange` mappings from character
//! codes to Unicode text, read with a tolerant tokenizer (anything else in the stream is skipped).

use std::collections::BTreeMap;

/// Mappings beyond this many are ignored: no real font needs them.
const MAX_MAPPINGS: usize = 100_000;

#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// UTF-16BE; a range adds its offset to the last code unit.
    Text(Vec<u16>),
    /// One entry per code of the range.
    Each(Vec<Vec<u16>>),
}

#[derive(Debug, Clone, PartialEq)]
struct Mapping {
    low: u32,
    high: u32,
    /// Code length in bytes.
    length: usize,
    target: Target,
}

/// A parsed `/ToUnicode` CMap.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ToUnicode {
    /// By code length and first code; a later mapping with the same start replaces an earlier one.
    mappings: BTreeMap<(usize, u32), Mapping>,
    /// The code lengths used, shortest first.
    lengths: Vec<usize>,
}

/// How many ranges starting below a code are tried for it: ranges rarely overlap, so the nearest
/// one nearly always holds the code.
const OVERLAP_LOOKBACK: usize = 8;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Hex(Vec<u8>),
    Open,
    Close,
    Keyword(Vec<u8>),
}

impl ToUnicode {
    pub(super) fn parse(stream: &[u8]) -> Self {
        let tokens = tokenize(stream);
        let mut mappings: Vec<Mapping> = Vec::new();
        let mut at = 0;
        while at < tokens.len() && mappings.len() < MAX_MAPPINGS {
            match &tokens[at] {
                Token::Keyword(keyword) if keyword == b"beginbfchar" => {
                    at += 1;
                    while let (Some(Token::Hex(code)), Some(Token::Hex(text))) =
                        (tokens.get(at), tokens.get(at + 1))
                    {
                        if let Some(value) = code_value(code) {
                            mappings.push(Mapping {
                                low: value,
                                high: value,
                                length: code.len(),
                                target: Target::Text(utf16(text)),
                            });
                        }
                        at += 2;
                    }
                }
                Token::Keyword(keyword) if keyword == b"beginbfrange" => {
                    at += 1;
                    while let (Some(Token::Hex(low)), Some(Token::Hex(high))) =
                        (tokens.get(at), tokens.get(at + 1))
                    {
                        at += 2;
                        let target = match tokens.get(at) {
                            Some(Token::Hex(text)) => {
                                at += 1;
                                Target::Text(utf16(text))
                            }
                            Some(Token::Open) => {
                                at += 1;
                                let mut each = Vec::new();
                                while let Some(Token::Hex(text)) = tokens.get(at) {
                                    each.push(utf16(text));
                                    at += 1;
                                }
                                if tokens.get(at) == Some(&Token::Close) {
                                    at += 1;
                                }
                                Target::Each(each)
                            }
                            _ => break,
                        };
                        if let (Some(low_value), Some(high_value)) =
                            (code_value(low), code_value(high))
                            && low_value <= high_value
                        {
                            mappings.push(Mapping {
                                low: low_value,
                                high: high_value,
                                length: low.len(),
                                target,
                            });
                        }
                    }
                }
                _ => at += 1,
            }
        }
        let mut lengths: Vec<usize> = mappings.iter().map(|mapping| mapping.length).collect();
        lengths.sort_unstable();
        lengths.dedup();
        Self {
            mappings: mappings
                .into_iter()
                .map(|mapping| ((mapping.length, mapping.low), mapping))
                .collect(),
            lengths,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.mappings.is_empty()
    }

    /// The code lengths the map uses, shortest first.
    pub(super) fn code_lengths(&self) -> &[usize] {
        &self.lengths
    }

    /// The text of `code` (`length` bytes long), when the map has it.
    pub(super) fn text(&self, code: u32, length: usize) -> Option<String> {
        let mapping = self
            .mappings
            .range((length, 0)..=(length, code))
            .rev()
            .take(OVERLAP_LOOKBACK)
            .map(|(_, mapping)| mapping)
            .find(|mapping| mapping.high >= code)?;
        let offset = code - mapping.low;
        let units = match &mapping.target {
            Target::Text(units) => {
                let mut units = units.clone();
                if let Some(last) = units.last_mut() {
                    *last = last.wrapping_add(u16::try_from(offset).unwrap_or(u16::MAX));
                }
                units
            }
            Target::Each(each) => each.get(offset as usize)?.clone(),
        };
        Some(String::from_utf16_lossy(&units))
    }
}

fn code_value(code: &[u8]) -> Option<u32> {
    if code.is_empty() || code.len() > 4 {
        return None;
    }
    Some(
        code.iter()
            .fold(0u32, |value, byte| (value << 8) | u32::from(*byte)),
    )
}

fn utf16(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks(2)
        .map(|pair| {
            let high = u16::from(pair[0]);
            let low = pair.get(1).map_or(0, |low| u16::from(*low));
            (high << 8) | low
        })
        .collect()
}

fn tokenize(stream: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut at = 0;
    while let Some(&byte) = stream.get(at) {
        match byte {
            b'%' => {
                while stream
                    .get(at)
                    .is_some_and(|byte| !matches!(byte, b'\n' | b'\r'))
                {
                    at += 1;
                }
            }
            b'<' if stream.get(at + 1) == Some(&b'<') => at += 2,
            b'>' if stream.get(at + 1) == Some(&b'>') => at += 2,
            b'<' => {
                at += 1;
                let mut digits = Vec::new();
                while let Some(&digit) = stream.get(at) {
                    at += 1;
                    if digit == b'>' {
                        break;
                    }
                    if let Some(value) = char::from(digit).to_digit(16) {
                        digits.push(value as u8);
                    }
                }
                if digits.len() % 2 == 1 {
                    digits.push(0);
                }
                tokens.push(Token::Hex(
                    digits
                        .chunks(2)
                        .map(|pair| (pair[0] << 4) | pair[1])
                        .collect(),
                ));
            }
            b'[' => {
                tokens.push(Token::Open);
                at += 1;
            }
            b']' => {
                tokens.push(Token::Close);
                at += 1;
            }
            b'(' => {
                // Literal strings hold nothing mapped here (registry names and the like).
                let mut depth = 0usize;
                while let Some(&byte) = stream.get(at) {
                    at += 1;
                    match byte {
                        b'\\' => at += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            byte if byte.is_ascii_alphabetic() => {
                let start = at;
                while stream.get(at).is_some_and(u8::is_ascii_alphanumeric) {
                    at += 1;
                }
                tokens.push(Token::Keyword(stream[start..at].to_vec()));
            }
            _ => at += 1,
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bfchar_and_bfrange_mappings_are_read() {
        let cmap = ToUnicode::parse(
            b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
              1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
              2 beginbfchar <0003> <7532> <0004> <0066006C> endbfchar\n\
              2 beginbfrange <0010> <0012> <0041> <0020> <0021> [<FF08> <FF09>] endbfrange\n\
              endcmap",
        );
        assert_eq!(cmap.text(3, 2).as_deref(), Some("甲"));
        assert_eq!(cmap.text(4, 2).as_deref(), Some("fl"));
        assert_eq!(cmap.text(0x11, 2).as_deref(), Some("B"));
        assert_eq!(cmap.text(0x21, 2).as_deref(), Some("）"));
        assert_eq!(cmap.text(0x13, 2), None);
        assert_eq!(cmap.text(3, 1), None, "a one-byte code is another code");
        assert_eq!(cmap.code_lengths(), [2]);
    }

    #[test]
    fn garbage_gives_an_empty_map() {
        assert!(ToUnicode::parse(b"beginbfrange <01> [ <").is_empty());
        assert!(ToUnicode::parse(b"(unclosed \\").is_empty());
    }
}
