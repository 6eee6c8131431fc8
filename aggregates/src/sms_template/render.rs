//! SMS texts' `{key}` placeholders: finding them in a template and filling them in a notice. Unlike a
//! contract template's `{{key}}`, a text has no escape syntax, so every brace belongs to a placeholder.

use std::collections::{BTreeMap, BTreeSet};

use crate::template::VariableKey;

/// The `{key}` placeholders of a text. A brace that does not open a well-formed placeholder, or a
/// closing brace on its own, is an error: SMS texts have no escape syntax, and a stray brace is
/// almost always a typo in a placeholder.
pub fn placeholders(content: &str) -> Result<BTreeSet<String>, String> {
    let mut keys = BTreeSet::new();
    let mut rest = content;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("has a '}' that closes no placeholder".into());
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "has a '{' that is never closed".to_owned())?;
        let key = &after[..close];
        VariableKey::parse(key)
            .map_err(|_| format!("has a placeholder {{{key}}} that is not a variable name"))?;
        keys.insert(key.to_owned());
        rest = &after[close + 1..];
    }
    Ok(keys)
}

/// Fills every `{key}` with its value. Values are inserted as they are and never re-scanned.
/// Returns the keys without a value when some placeholder cannot be filled.
pub fn render(content: &str, values: &BTreeMap<String, String>) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(content.len() + 32);
    let mut missing = Vec::new();
    let mut rest = content;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let key = &after[..close];
        match values.get(key) {
            Some(value) => out.push_str(value),
            None => missing.push(key.to_owned()),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}
