//! Canonical JSON (RFC 8785 style): the byte form an event is hashed in.
//!
//! Object keys are sorted by their UTF-16 code units, there is no insignificant whitespace, strings use
//! the minimal JSON escapes, and numbers follow ECMAScript's shortest round-trip form. The same value
//! always yields the same bytes, whatever key order or number spelling it was stored with, so a chain
//! computed at append verifies after a round trip through PostgreSQL `jsonb` or SQLite text.

use std::cmp::Ordering;

use serde_json::{Number, Value};

/// Returns the canonical bytes of `value`.
pub fn to_canonical_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out);
    out
}

pub(crate) fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(number, out),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // RFC 8785 orders keys by UTF-16 code units, which differs from byte order only outside the BMP.
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out);
            }
            out.push(b'}');
        }
    }
}

pub(crate) fn write_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    // Most text needs no escape at all: copied in one go.
    if !text
        .bytes()
        .fold(false, |seen, byte| seen | needs_escape(byte))
    {
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        return;
    }
    for ch in text.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buffer = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// A byte canonical JSON writes escaped: a quote, a backslash or a control character.
fn needs_escape(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

pub(crate) fn write_number(number: &Number, out: &mut Vec<u8>) {
    if let Some(integer) = number.as_i64() {
        out.extend_from_slice(integer.to_string().as_bytes());
    } else if let Some(integer) = number.as_u64() {
        out.extend_from_slice(integer.to_string().as_bytes());
    } else if let Some(float) = number.as_f64() {
        out.extend_from_slice(format_ecmascript(float).as_bytes());
    }
}

/// ECMAScript `Number.prototype.toString` for finite doubles (JSON has no NaN or infinity).
fn format_ecmascript(value: f64) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    let magnitude = value.abs();
    if (1e-6..1e21).contains(&magnitude) {
        // Rust's Display is the shortest round-trip form without an exponent, as ECMAScript's is here;
        // an integral value prints without a fraction in both.
        let text = format!("{value}");
        return text.strip_suffix(".0").map(str::to_owned).unwrap_or(text);
    }
    let text = format!("{value:e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => {
            format!("{mantissa}e+{exponent}")
        }
        _ => text,
    }
}

/// Nesting deeper than this is left to the parsed-value route (serde_json itself stops at 128 levels).
const MAX_TEXT_DEPTH: usize = 64;

/// Writes the canonical form of JSON text without building a value tree: the fast route of chain
/// verification, which reads payloads and metadata as the text the database returns.
///
/// It handles what stored events hold (objects, arrays, strings, integers) and decodes the rare
/// escaped string or fractional number through serde_json one token at a time. Whatever else would
/// need a judgement (duplicate keys, a key canonical form would escape, deep nesting, malformed text)
/// makes [`TextCanonicaliser::write`] return `false`: the caller then parses the text into a
/// [`Value`] and uses [`to_canonical_bytes`], so both routes give the same bytes for the same text.
#[derive(Debug, Default)]
pub struct TextCanonicaliser {
    /// Members of the objects being written, innermost last: start, key end and end offsets in `out`.
    members: Vec<(usize, usize, usize)>,
    /// An object's members while they are written back in key order.
    scratch: Vec<u8>,
}

impl TextCanonicaliser {
    /// Appends the canonical bytes of `text` to `out`; `false` (with `out` partly written) when the
    /// text needs the parsed-value route.
    pub fn write(&mut self, text: &str, out: &mut Vec<u8>) -> bool {
        self.members.clear();
        let mut reader = Reader {
            text,
            bytes: text.as_bytes(),
            at: 0,
        };
        reader.skip_whitespace();
        if !self.value(&mut reader, out, 0) {
            return false;
        }
        reader.skip_whitespace();
        reader.at == reader.bytes.len()
    }

    fn value(&mut self, reader: &mut Reader<'_>, out: &mut Vec<u8>, depth: usize) -> bool {
        match reader.peek() {
            Some(b'{') => self.object(reader, out, depth + 1),
            Some(b'[') => self.array(reader, out, depth + 1),
            Some(b'"') => reader.string(out),
            Some(b't') => reader.literal(b"true", out),
            Some(b'f') => reader.literal(b"false", out),
            Some(b'n') => reader.literal(b"null", out),
            Some(b'-' | b'0'..=b'9') => reader.number(out),
            _ => false,
        }
    }

    fn array(&mut self, reader: &mut Reader<'_>, out: &mut Vec<u8>, depth: usize) -> bool {
        if depth > MAX_TEXT_DEPTH {
            return false;
        }
        reader.at += 1;
        out.push(b'[');
        reader.skip_whitespace();
        if reader.eat(b']') {
            out.push(b']');
            return true;
        }
        loop {
            if !self.value(reader, out, depth) {
                return false;
            }
            reader.skip_whitespace();
            match reader.next() {
                Some(b',') => {
                    out.push(b',');
                    reader.skip_whitespace();
                }
                Some(b']') => {
                    out.push(b']');
                    return true;
                }
                _ => return false,
            }
        }
    }

    fn object(&mut self, reader: &mut Reader<'_>, out: &mut Vec<u8>, depth: usize) -> bool {
        if depth > MAX_TEXT_DEPTH {
            return false;
        }
        reader.at += 1;
        let start = out.len();
        out.push(b'{');
        let base = self.members.len();
        reader.skip_whitespace();
        if !reader.eat(b'}') {
            loop {
                if reader.peek() != Some(b'"') {
                    return false;
                }
                let member_start = out.len();
                if !reader.string(out) {
                    return false;
                }
                let key_end = out.len();
                // Escaped key bytes would not sort like the key itself.
                if out[member_start + 1..key_end - 1].contains(&b'\\') {
                    return false;
                }
                reader.skip_whitespace();
                if !reader.eat(b':') {
                    return false;
                }
                out.push(b':');
                reader.skip_whitespace();
                if !self.value(reader, out, depth) {
                    return false;
                }
                self.members.push((member_start, key_end, out.len()));
                reader.skip_whitespace();
                match reader.next() {
                    Some(b',') => {
                        out.push(b',');
                        reader.skip_whitespace();
                    }
                    Some(b'}') => break,
                    _ => return false,
                }
            }
        }
        if !self.order_members(base, start, out) {
            return false;
        }
        out.push(b'}');
        self.members.truncate(base);
        true
    }

    /// Puts the members written since `base` (the object began at `start`) in canonical key order;
    /// `false` on a repeated key, which serde_json resolves by keeping the last.
    fn order_members(&mut self, base: usize, start: usize, out: &mut Vec<u8>) -> bool {
        let members = &mut self.members[base..];
        let key = |member: &(usize, usize, usize)| member.0 + 1..member.1 - 1;
        let mut in_order = true;
        for pair in members.windows(2) {
            match cmp_utf16(&out[key(&pair[0])], &out[key(&pair[1])]) {
                Ordering::Less => {}
                Ordering::Equal => return false,
                Ordering::Greater => in_order = false,
            }
        }
        if in_order {
            return true;
        }
        members.sort_unstable_by(|a, b| cmp_utf16(&out[key(a)], &out[key(b)]));
        if members
            .windows(2)
            .any(|pair| out[key(&pair[0])] == out[key(&pair[1])])
        {
            return false;
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(&out[start..]);
        out.truncate(start + 1);
        for (index, member) in members.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&self.scratch[member.0 - start..member.2 - start]);
        }
        true
    }
}

/// A cursor over JSON text.
struct Reader<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &[u8], out: &mut Vec<u8>) -> bool {
        if !self.bytes[self.at..].starts_with(word) {
            return false;
        }
        self.at += word.len();
        out.extend_from_slice(word);
        true
    }

    /// A string at the cursor (on its opening quote).
    fn string(&mut self, out: &mut Vec<u8>) -> bool {
        let begin = self.at;
        let body = &self.bytes[begin + 1..];
        // The first quote or backslash (found word-wise), then a check for control characters before
        // it (which the compiler vectorises): two quick passes instead of one slow one.
        let Some(special) = memchr::memchr2(b'"', b'\\', body) else {
            return false;
        };
        let before = &body[..special];
        let plain = if before
            .iter()
            .fold(false, |seen, &byte| seen | (byte < 0x20))
        {
            before
                .iter()
                .position(|&byte| byte < 0x20)
                .unwrap_or(special)
        } else {
            special
        };
        match body[plain] {
            // Without escapes the stored bytes are the canonical ones: canonical form escapes only
            // quotes, backslashes and control characters, none of which a plain JSON string holds.
            b'"' => {
                let end = begin + plain + 2;
                out.extend_from_slice(&self.bytes[begin..end]);
                self.at = end;
                true
            }
            b'\\' => self.escaped_string(begin, out),
            _ => false,
        }
    }

    fn escaped_string(&mut self, begin: usize, out: &mut Vec<u8>) -> bool {
        let mut at = begin + 1;
        loop {
            match self.bytes.get(at) {
                None => return false,
                Some(b'"') => break,
                Some(b'\\') => at += 2,
                Some(_) => at += 1,
            }
        }
        let Some(token) = self.text.get(begin..=at) else {
            return false;
        };
        match serde_json::from_str::<String>(token) {
            Ok(decoded) => {
                write_string(&decoded, out);
                self.at = at + 1;
                true
            }
            Err(_) => false,
        }
    }

    fn number(&mut self, out: &mut Vec<u8>) -> bool {
        let begin = self.at;
        let length = self.bytes[begin..]
            .iter()
            .position(|byte| !matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(self.bytes.len() - begin);
        let token = &self.bytes[begin..begin + length];
        self.at = begin + length;
        // An unsigned integer below 10^19 without a leading zero is already in canonical form.
        if token.len() <= 19
            && token.iter().all(u8::is_ascii_digit)
            && (token.len() == 1 || token[0] != b'0')
        {
            out.extend_from_slice(token);
            return true;
        }
        let Some(text) = self.text.get(begin..begin + length) else {
            return false;
        };
        match serde_json::from_str::<Number>(text) {
            Ok(number) => {
                write_number(&number, out);
                true
            }
            Err(_) => false,
        }
    }
}

/// Orders two UTF-8 strings by their UTF-16 code units. Byte order is code point order, which UTF-16
/// keeps except between a supplementary character (a surrogate pair, 0xD800..) and U+E000..U+FFFF.
fn cmp_utf16(a: &[u8], b: &[u8]) -> Ordering {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        None => a.len().cmp(&b.len()),
        Some(index) => {
            let (x, y) = (a[index], b[index]);
            let supplementary = |lead: u8| lead >= 0xF0;
            let high_bmp = |lead: u8| lead == 0xEE || lead == 0xEF;
            if (supplementary(x) && high_bmp(y)) || (high_bmp(x) && supplementary(y)) {
                y.cmp(&x)
            } else {
                x.cmp(&y)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn canonical(value: Value) -> String {
        String::from_utf8(to_canonical_bytes(&value)).unwrap()
    }

    #[test]
    fn keys_are_sorted_and_whitespace_dropped() {
        let value: Value =
            serde_json::from_str(r#"{ "b": 1, "a": [true, null, "x"], "c": {"z": 0, "y": -2} }"#)
                .unwrap();
        assert_eq!(
            canonical(value),
            r#"{"a":[true,null,"x"],"b":1,"c":{"y":-2,"z":0}}"#
        );
    }

    #[test]
    fn strings_use_minimal_escapes_and_keep_non_ascii_text() {
        assert_eq!(
            canonical(json!("天财\"\\\n\u{1}/")),
            "\"天财\\\"\\\\\\n\\u0001/\""
        );
    }

    #[test]
    fn numbers_follow_the_ecmascript_form() {
        assert_eq!(canonical(json!(0.95)), "0.95");
        assert_eq!(canonical(json!(1.0)), "1");
        assert_eq!(canonical(json!(-0.0)), "0");
        assert_eq!(canonical(json!(1e21)), "1e+21");
        assert_eq!(canonical(json!(1.5e-7)), "1.5e-7");
        assert_eq!(
            canonical(json!(123456789012345678_u64)),
            "123456789012345678"
        );
    }

    #[test]
    fn keys_order_by_utf16_code_units() {
        // U+1F600 is a surrogate pair (0xD83D...) in UTF-16, so it sorts before U+FF61 there,
        // although its UTF-8 bytes (0xF0...) sort after U+FF61's (0xEF...).
        let value = json!({"\u{FF61}": 2, "\u{1F600}": 1});
        assert_eq!(canonical(value), "{\"\u{1F600}\":1,\"\u{FF61}\":2}");
    }

    /// The fast route's bytes, or `None` where it defers to the parsed-value route.
    fn via_text(text: &str) -> Option<String> {
        let mut out = Vec::new();
        TextCanonicaliser::default()
            .write(text, &mut out)
            .then(|| String::from_utf8(out).unwrap())
    }

    /// What verification has always hashed: the text parsed into a `Value`, written canonically.
    fn via_value(text: &str) -> Option<String> {
        let value: Value = serde_json::from_str(text).ok()?;
        Some(String::from_utf8(to_canonical_bytes(&value)).unwrap())
    }

    /// Roughly how PostgreSQL prints `jsonb`: keys by length then bytes, a space after `,` and `:`.
    fn jsonb_style(value: &Value) -> String {
        match value {
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(jsonb_style).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then(a.cmp(b)));
                let entries: Vec<String> = entries
                    .into_iter()
                    .map(|(key, item)| {
                        format!("{}: {}", Value::from(key.as_str()), jsonb_style(item))
                    })
                    .collect();
                format!("{{{}}}", entries.join(", "))
            }
            other => other.to_string(),
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("JSON numbers are finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            "[a-z\u{e000}\u{ff61}\u{1f600}\"\\\\\n/]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(
                    "[a-zA-Z$_\u{e000}\u{ff61}\u{1f600}]{0,5}",
                    inner,
                    0..6
                )
                .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_text_route_matches_the_value_route_whatever_the_spelling(value in json_value()) {
            for text in [
                value.to_string(),
                serde_json::to_string_pretty(&value).unwrap(),
                jsonb_style(&value),
            ] {
                let expected = via_value(&text);
                prop_assert!(expected.is_some());
                // Keys here need no escapes, so the fast route must take every document.
                prop_assert_eq!(via_text(&text), expected, "{}", text);
            }
        }

        #[test]
        fn keys_compare_by_utf16_code_units(a in any::<String>(), b in any::<String>()) {
            prop_assert_eq!(
                cmp_utf16(a.as_bytes(), b.as_bytes()),
                a.encode_utf16().cmp(b.encode_utf16())
            );
        }

        #[test]
        fn the_text_route_never_disagrees_on_arbitrary_text(text in "[\\[\\]{}\",:0-9a-f\\\\ .eE+-]{0,24}") {
            if let Some(fast) = via_text(&text) {
                prop_assert_eq!(Some(fast), via_value(&text), "{}", text);
            }
        }
    }

    #[test]
    fn the_text_route_decodes_escapes_and_respells_numbers() {
        for text in [
            r#"{"b": "caf\u00e9 \"quoted\" \/", "a": [1.0, -0, 1E2, -5, 0.95, 1e400]}"#,
            r#"{"b": "caf\u00e9 \"quoted\" \/", "a": [1.0, -0, 1E2, -5, 0.95, 12345678901234567890]}"#,
            r#"{"\u0061": 1, "b": {"\ud83d\ude00": 2, "\uff61": 3}}"#,
            "\t[ true , false,null ] \n",
        ] {
            assert_eq!(
                via_text(text).or_else(|| via_value(text)),
                via_value(text),
                "{text}"
            );
        }
        assert_eq!(
            via_text(r#"{"b": 1.50, "a": "\u00e9"}"#).as_deref(),
            Some(r#"{"a":"é","b":1.5}"#)
        );
    }

    #[test]
    fn the_text_route_defers_what_needs_a_judgement() {
        for text in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"b": 1, "a": 2, "a": 3}"#,
            r#"{"a\nb": 1}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1,}"#,
            "[1, 2",
            "\"raw\ncontrol\"",
            "01",
            "",
            &"[".repeat(100),
        ] {
            assert_eq!(via_text(text), None, "{text}");
        }
    }
}
