//! Sealed personal data copied from stored payloads, and the one JSON text form every JSON column uses.
//!
//! Query tables never see plaintext names, ID or mobile numbers: a column takes the sealed marker
//! exactly as the event store holds it, `{"$pii":{"c":..,"h":..,"k":..}}`, and the marker's keyed hash
//! `h` goes in a `*_hash` column where a look-up needs one. Only the service holds the keys that open
//! a marker. Names in events written before names were sealed are the one exception (see
//! [`stored_name`]).

use aggregates::SENSITIVE_MARKER;
use serde::Serialize;
use serde_json::Value;

use crate::ProjectionError;

/// One sealed value: the marker's JSON text and its keyed hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SealedValue {
    pub json: String,
    pub hash: String,
}

/// Reads the sealed marker at `value`, which the caller found at `path` in the payload of `event`.
pub(crate) fn sealed_value(
    value: Option<&Value>,
    event: &'static str,
    path: impl Fn() -> String,
) -> Result<SealedValue, ProjectionError> {
    let marker = value
        .and_then(Value::as_object)
        .filter(|object| object.len() == 1)
        .and_then(|object| object.get(SENSITIVE_MARKER))
        .ok_or_else(|| ProjectionError::MissingSealedValue {
            event,
            path: path(),
        })?;
    let field = |name: &str| {
        marker
            .get(name)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    };
    let (Some(_), Some(_), Some(hash)) = (field("k"), field("c"), field("h")) else {
        return Err(ProjectionError::Unsealed {
            event,
            path: path(),
        });
    };
    let hash = hash.to_owned();
    Ok(SealedValue {
        json: canonical(value.unwrap_or(&Value::Null)),
        hash,
    })
}

/// A person's name as the stored payload holds it, for its column: the sealed marker like an ID
/// number's, or, in an event written before names were sealed, the plain text that event holds (a
/// projection cannot seal: sealing draws a random nonce, and rows must rebuild byte for byte).
pub(crate) fn stored_name(
    value: Option<&Value>,
    event: &'static str,
    path: impl Fn() -> String,
) -> Result<String, ProjectionError> {
    match value {
        Some(Value::String(plain)) => Ok(plain.clone()),
        sealed => sealed_value(sealed, event, path).map(|sealed| sealed.json),
    }
}

/// The callback headers of an initiation as stored: `None` when there are none, else the sealed object
/// (each value a sealed marker) as canonical JSON text.
pub(crate) fn sealed_headers<'a>(
    payload: &Value,
    names: impl Iterator<Item = &'a str>,
    event: &'static str,
) -> Result<Option<String>, ProjectionError> {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        return Ok(None);
    }
    let stored = payload.get("webhookHeaders");
    let object =
        stored
            .and_then(Value::as_object)
            .ok_or_else(|| ProjectionError::MissingSealedValue {
                event,
                path: "webhookHeaders".to_owned(),
            })?;
    for name in &names {
        sealed_value(object.get(*name), event, || {
            format!("webhookHeaders.{name}")
        })?;
    }
    if object.len() != names.len() {
        return Err(ProjectionError::PayloadMismatch {
            event,
            path: "webhookHeaders".to_owned(),
        });
    }
    Ok(stored.map(canonical))
}

/// JSON text with object keys sorted (by code point) and no whitespace, whatever order the value was
/// built or stored in: PostgreSQL `jsonb` reorders keys, and serde_json keeps insertion order when a
/// crate in the build enables `preserve_order`.
pub(crate) fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<_> = object.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            out.push_str(&value.to_string());
        }
    }
}

/// A domain value as canonical JSON text.
pub(crate) fn json_text(
    value: &impl Serialize,
    what: &'static str,
) -> Result<String, ProjectionError> {
    serde_json::to_value(value)
        .map(|value| canonical(&value))
        .map_err(|error| ProjectionError::Serialise {
            what,
            reason: error.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level_and_drops_whitespace() {
        let value = json!({"b": [ {"z": 1, "a": "x"} ], "a": null});
        assert_eq!(canonical(&value), r#"{"a":null,"b":[{"a":"x","z":1}]}"#);
    }

    #[test]
    fn a_sealed_marker_is_copied_whole_with_its_hash() {
        let marker = json!({"$pii": {"k": "t", "c": "AAAA", "h": "beef"}});
        let sealed = sealed_value(Some(&marker), "E", || "x".into()).unwrap();
        assert_eq!(sealed.json, r#"{"$pii":{"c":"AAAA","h":"beef","k":"t"}}"#);
        assert_eq!(sealed.hash, "beef");
    }

    #[test]
    fn a_plaintext_marker_is_refused_and_the_error_shows_only_the_path() {
        let marker = json!({"$pii": "13800138000"});
        let error = sealed_value(Some(&marker), "E", || "signers[0].mobile".into()).unwrap_err();
        assert_eq!(
            error,
            ProjectionError::Unsealed {
                event: "E",
                path: "signers[0].mobile".into()
            }
        );
        assert!(!error.to_string().contains("13800138000"));
    }

    #[test]
    fn a_sealed_name_is_copied_whole_and_a_name_stored_in_clear_stays_as_stored() {
        let marker = json!({"$pii": {"k": "t", "c": "AAAA", "h": "beef"}});
        assert_eq!(
            stored_name(Some(&marker), "E", || "name".into()).unwrap(),
            r#"{"$pii":{"c":"AAAA","h":"beef","k":"t"}}"#
        );
        assert_eq!(
            stored_name(Some(&json!("张三")), "E", || "name".into()).unwrap(),
            "张三"
        );
        let unsealed = json!({"$pii": "张三"});
        let error = stored_name(Some(&unsealed), "E", || "signers[0].name".into()).unwrap_err();
        assert!(!error.to_string().contains("张三"));
        assert!(stored_name(None, "E", || "name".into()).is_err());
    }

    #[test]
    fn a_missing_marker_or_a_bare_value_is_refused() {
        for value in [None, Some(json!("13800138000")), Some(json!({"other": 1}))] {
            assert!(matches!(
                sealed_value(value.as_ref(), "E", || "mobile".into()),
                Err(ProjectionError::MissingSealedValue { .. })
            ));
        }
    }
}
