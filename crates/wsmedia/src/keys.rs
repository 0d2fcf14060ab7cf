//! Reading JSON messages whose key casing is not fixed.
//!
//! ACS documents camelCase inbound while Microsoft's own samples send PascalCase, and the relay
//! bot is written in .NET where either casing comes out of a serializer; so every key is looked
//! up exactly first and then ignoring ASCII case. A JSON `null` counts as absent, because ACS
//! sends `"stopAudio": null` style placeholders.

use serde_json::Value;

use crate::ProtocolError;

/// Parses one text message into a JSON object.
pub(crate) fn parse(text: &str) -> Result<Value, ProtocolError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ProtocolError::NotJson { at: byte_offset(text, e.line(), e.column()) })?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(ProtocolError::NotObject)
    }
}

/// serde_json reports line and column (1-based); a close reason reads better as one offset.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let before: usize = text.split('\n').take(line.saturating_sub(1)).map(|l| l.len() + 1).sum();
    before + column
}

/// The value under `key` in `v` (exact key first, then any ASCII casing); `null` is absent.
pub(crate) fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let map = v.as_object()?;
    map.get(key)
        .or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
        .filter(|v| !v.is_null())
}

/// An optional string; present with another type is an error naming `field`.
pub(crate) fn opt_str<'a>(
    v: &'a Value,
    key: &str,
    field: &'static str,
) -> Result<Option<&'a str>, ProtocolError> {
    match get(v, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ProtocolError::WrongType { field, expected: "a string" }),
    }
}

/// A required string.
pub(crate) fn req_str<'a>(
    v: &'a Value,
    key: &str,
    field: &'static str,
) -> Result<&'a str, ProtocolError> {
    opt_str(v, key, field)?.ok_or(ProtocolError::Missing { field })
}

/// A required object.
pub(crate) fn req_obj<'a>(
    v: &'a Value,
    key: &str,
    field: &'static str,
) -> Result<&'a Value, ProtocolError> {
    match get(v, key) {
        None => Err(ProtocolError::Missing { field }),
        Some(o @ Value::Object(_)) => Ok(o),
        Some(_) => Err(ProtocolError::WrongType { field, expected: "an object" }),
    }
}

/// An optional object.
pub(crate) fn opt_obj<'a>(
    v: &'a Value,
    key: &str,
    field: &'static str,
) -> Result<Option<&'a Value>, ProtocolError> {
    match get(v, key) {
        None => Ok(None),
        Some(o @ Value::Object(_)) => Ok(Some(o)),
        Some(_) => Err(ProtocolError::WrongType { field, expected: "an object" }),
    }
}

/// An optional whole number, as a JSON number or a decimal string: Twilio sends its counters
/// (`sequenceNumber`, `timestamp`, `chunk`) as strings, ACS its rates as numbers.
pub(crate) fn opt_u64(
    v: &Value,
    key: &str,
    field: &'static str,
) -> Result<Option<u64>, ProtocolError> {
    let bad = |value: String| ProtocolError::BadNumber { field, value: crate::clip(&value) };
    match get(v, key) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| bad(n.to_string())),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad(s.clone())),
        Some(other) => Err(bad(other.to_string())),
    }
}

/// An optional boolean.
pub(crate) fn opt_bool(
    v: &Value,
    key: &str,
    field: &'static str,
) -> Result<Option<bool>, ProtocolError> {
    match get(v, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ProtocolError::WrongType { field, expected: "true or false" }),
    }
}

/// A flat string map from a JSON object (Twilio `customParameters`, relay `custom`). Values
/// that are not strings keep their JSON text, so nothing the peer sent is lost.
pub(crate) fn string_map(v: &Value) -> std::collections::BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Looks `key` up in a string map ignoring ASCII case.
pub(crate) fn map_get<'a>(
    map: &'a std::collections::BTreeMap<String, String>,
    key: &str,
) -> Option<&'a String> {
    map.get(key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// Writes `s` as a JSON string literal (quotes and escapes included).
pub(crate) fn json_str(out: &mut String, s: &str) {
    // Serializing a &str into a String cannot fail; the fallback keeps the message valid JSON.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn get_matches_any_casing_and_prefers_exact() {
        let v = json!({"KIND": "a", "participantRawId": "x"});
        assert_eq!(get(&v, "kind"), Some(&json!("a")));
        assert_eq!(get(&v, "participantRawID"), Some(&json!("x")));
        let both = json!({"kind": "exact", "Kind": "other"});
        assert_eq!(get(&both, "kind"), Some(&json!("exact")));
    }

    #[test]
    fn null_counts_as_absent() {
        let v = json!({"stopAudio": null});
        assert_eq!(get(&v, "stopAudio"), None);
        assert_eq!(opt_str(&v, "stopAudio", "stopAudio"), Ok(None));
    }

    #[test]
    fn numbers_come_as_numbers_or_strings() {
        let v = json!({"a": 7, "b": "12", "c": "x1", "d": -1});
        assert_eq!(opt_u64(&v, "a", "a"), Ok(Some(7)));
        assert_eq!(opt_u64(&v, "b", "b"), Ok(Some(12)));
        assert_eq!(
            opt_u64(&v, "c", "c").unwrap_err().to_string(),
            "c \"x1\" is not a whole number"
        );
        assert!(opt_u64(&v, "d", "d").is_err());
    }

    #[test]
    fn not_json_reports_the_byte_offset() {
        assert_eq!(parse("{\"kind\": nope}"), Err(ProtocolError::NotJson { at: 11 }));
        assert_eq!(parse("{\n\"a\": 1,\n x}"), Err(ProtocolError::NotJson { at: 12 }));
        assert_eq!(parse("[1]"), Err(ProtocolError::NotObject));
    }

    #[test]
    fn string_map_keeps_non_string_values_as_json_text() {
        let m = string_map(&json!({"a": "x", "n": 5, "z": null}));
        assert_eq!(m.get("a").map(String::as_str), Some("x"));
        assert_eq!(m.get("n").map(String::as_str), Some("5"));
        assert!(!m.contains_key("z"));
        assert_eq!(map_get(&m, "A").map(String::as_str), Some("x"));
    }
}
