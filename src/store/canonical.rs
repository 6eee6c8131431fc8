//! Canonical JSON (RFC 8785 style): the byte form an event is hashed in.
//!
//! Object keys are sorted by their UTF-16 code units, there is no insignificant whitespace, strings use
//! the minimal JSON escapes, and numbers follow ECMAScript's shortest round-trip form. The same value
//! always yields the same bytes, whatever key order or number spelling it was stored with, so a chain
//! computed at append verifies after a round trip through PostgreSQL `jsonb` or SQLite text.

use serde_json::{Number, Value};

/// Returns the canonical bytes of `value`.
pub fn to_canonical_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
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

fn write_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
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

fn write_number(number: &Number, out: &mut Vec<u8>) {
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

#[cfg(test)]
mod tests {
    use super::*;
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
}
