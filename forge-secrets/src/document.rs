//! Picking a `key` out of a JSON or YAML secret document, without ever quoting the document.

use forge_core::ports::{SecretRef, SecretValue};
use serde_json::Value;
use zeroize::Zeroize;

use crate::error::SecretsError;

/// The document format of a secret that a `key` is picked from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// JSON only.
    Json,
    /// YAML (a superset of JSON).
    Yaml,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Self::Json => "JSON",
            Self::Yaml => "YAML",
        }
    }
}

/// Parses `bytes` as a document of `format` and returns the value at `key` (a top-level key,
/// or a dotted path such as `db.password`; numeric segments index arrays).
///
/// Strings are returned as their bytes, other scalars as their JSON text, objects and arrays as
/// compact JSON. Errors quote the key and the available key names, never a value; the parsed
/// document's strings are zeroed before returning.
pub(crate) fn pick_key(
    reference: &SecretRef,
    bytes: &[u8],
    format: Format,
    key: &str,
) -> Result<SecretValue, SecretsError> {
    let mut doc: Value = match format {
        Format::Json => serde_json::from_slice(bytes).map_err(|e| SecretsError::Malformed {
            reference: reference.clone(),
            format: format.name(),
            message: format!("{} at line {}, column {}", json_category(&e), e.line(), e.column()),
        })?,
        Format::Yaml => serde_yaml::from_slice(bytes).map_err(|e| SecretsError::Malformed {
            reference: reference.clone(),
            format: format.name(),
            message: match e.location() {
                Some(l) => format!("not a valid YAML mapping (line {}, column {})", l.line(), l.column()),
                None => "not a valid YAML mapping".to_owned(),
            },
        })?,
    };
    let result = select(reference, &doc, key, format);
    wipe(&mut doc);
    result
}

fn json_category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Eof => "unexpected end of input",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Io => "read error",
    }
}

fn select(reference: &SecretRef, doc: &Value, key: &str, format: Format) -> Result<SecretValue, SecretsError> {
    let missing =
        |message: String| SecretsError::KeyMissing { reference: reference.clone(), key: key.to_owned(), message };
    let Value::Object(top) = doc else {
        return Err(missing(format!("the secret is a {} {}, not an object with keys", format.name(), kind(doc))));
    };
    // A top-level key that contains dots wins over the dotted path.
    let found = match top.get(key) {
        Some(v) => Some(v),
        None => {
            let mut cur = doc;
            let mut ok = true;
            for seg in key.split('.') {
                let next = match cur {
                    Value::Object(m) => m.get(seg),
                    Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => None,
                };
                match next {
                    Some(n) => cur = n,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            ok.then_some(cur)
        }
    };
    match found {
        None => {
            let mut names: Vec<&str> = top.keys().map(String::as_str).take(20).collect();
            names.sort_unstable();
            let more = if top.len() > names.len() { ", …" } else { "" };
            Err(missing(format!("available top-level keys: {}{more}", names.join(", "))))
        }
        Some(Value::Null) => Err(missing("the key is present but null".to_owned())),
        Some(Value::String(s)) => Ok(SecretValue::new(s.as_bytes().to_vec())),
        Some(other) => {
            let text = serde_json::to_string(other).map_err(|_| SecretsError::Malformed {
                reference: reference.clone(),
                format: format.name(),
                message: format!("the value at `{key}` cannot be re-encoded"),
            })?;
            Ok(SecretValue::from_string(text))
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Zeroes every string of a parsed document (best effort: numbers are not wiped).
fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(wipe),
        Value::Object(m) => m.values_mut().for_each(wipe),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn r() -> SecretRef {
        SecretRef { provider: "file".into(), fields: BTreeMap::new() }
    }

    fn pick(doc: &str, format: Format, key: &str) -> Result<Vec<u8>, SecretsError> {
        pick_key(&r(), doc.as_bytes(), format, key).map(|v| v.expose().to_vec())
    }

    #[test]
    fn picks_top_level_and_dotted_keys() -> Result<(), SecretsError> {
        let doc = r#"{"user":"u","db":{"password":"p","port":5432,"hosts":["a","b"]},"a.b":"literal"}"#;
        assert_eq!(pick(doc, Format::Json, "user")?, b"u");
        assert_eq!(pick(doc, Format::Json, "db.password")?, b"p");
        assert_eq!(pick(doc, Format::Json, "db.port")?, b"5432");
        assert_eq!(pick(doc, Format::Json, "db.hosts.1")?, b"b");
        assert_eq!(pick(doc, Format::Json, "a.b")?, b"literal");
        assert_eq!(pick(doc, Format::Json, "db.hosts")?, br#"["a","b"]"#);
        Ok(())
    }

    #[test]
    fn yaml_documents() -> Result<(), SecretsError> {
        let doc = "db:\n  password: hunter2\nlist: [1, 2]\n";
        assert_eq!(pick(doc, Format::Yaml, "db.password")?, b"hunter2");
        assert_eq!(pick(doc, Format::Yaml, "list.0")?, b"1");
        Ok(())
    }

    #[test]
    fn missing_key_lists_names_not_values() {
        let err = pick(r#"{"user":"VALUE1","pass":"VALUE2"}"#, Format::Json, "password");
        let Err(SecretsError::KeyMissing { message, key, .. }) = err else {
            panic!("expected KeyMissing, got {err:?}");
        };
        assert_eq!(key, "password");
        assert_eq!(message, "available top-level keys: pass, user");
        assert!(!message.contains("VALUE"));
    }

    #[test]
    fn malformed_errors_never_quote_content() {
        for (doc, format) in [
            (r#"{"k": "TOPSECRET"#, Format::Json),
            ("TOPSECRET", Format::Json),
            ("k: [TOPSECRET", Format::Yaml),
            ("k: TOPSECRET\n  bad: : :", Format::Yaml),
        ] {
            match pick(doc, format, "k") {
                Err(e @ SecretsError::Malformed { .. }) => {
                    let text = format!("{e} {e:?}");
                    assert!(!text.contains("TOPSECRET"), "{text}");
                }
                other => panic!("expected Malformed for {doc:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn non_object_documents_and_nulls() {
        assert!(matches!(pick("[1,2]", Format::Json, "k"), Err(SecretsError::KeyMissing { .. })));
        assert!(matches!(pick("plain", Format::Yaml, "k"), Err(SecretsError::KeyMissing { .. })));
        assert!(matches!(pick(r#"{"k":null}"#, Format::Json, "k"), Err(SecretsError::KeyMissing { .. })));
    }
}
