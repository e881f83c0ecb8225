//! Export of evaluated values to JSON (serde_json and CUE's exact text).

use super::diag::{Diagnostic, DiagnosticKind, Diagnostics};
use super::value::{Value, ValueKind};

fn incomplete(path: &str, v: &Value, what: &str) -> Diagnostics {
    let mut d = Diagnostic::new(
        DiagnosticKind::Incomplete,
        format!("{}: incomplete value {what}", if path.is_empty() { "value" } else { path }),
    )
    .with_path(path)
    .with_hint("give the field a concrete value (or a default with `*`) before exporting");
    d.span = v.span;
    Diagnostics::one(d)
}

fn join(path: &str, seg: &str) -> String {
    if path.is_empty() { seg.to_string() } else { format!("{path}.{seg}") }
}

pub(crate) fn to_json_value(v: &Value) -> Result<serde_json::Value, Diagnostics> {
    to_json_at(v, "")
}

fn to_json_at(v: &Value, path: &str) -> Result<serde_json::Value, Diagnostics> {
    use serde_json::Value as J;
    Ok(match &v.kind {
        ValueKind::Null => J::Null,
        ValueKind::Bool(b) => J::Bool(*b),
        ValueKind::Int(i) => {
            if let Ok(x) = i64::try_from(*i) {
                J::from(x)
            } else if let Ok(x) = u64::try_from(*i) {
                J::from(x)
            } else {
                J::from(*i as f64)
            }
        }
        ValueKind::Float { value, .. } => serde_json::Number::from_f64(*value).map(J::Number).unwrap_or(J::Null),
        ValueKind::String(s) => J::String(s.clone()),
        ValueKind::Bytes(b) => {
            use base64::Engine;
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        ValueKind::List(l) => {
            let mut out = Vec::with_capacity(l.len());
            for (i, e) in l.iter().enumerate() {
                out.push(to_json_at(e, &format!("{path}[{i}]"))?);
            }
            J::Array(out)
        }
        ValueKind::Struct(s) => {
            let mut m = serde_json::Map::new();
            for f in s.fields.values().filter(|f| f.is_regular()) {
                m.insert(f.name.clone(), to_json_at(&f.value, &join(path, &f.name))?);
            }
            J::Object(m)
        }
        ValueKind::NonConcrete(t) => return Err(incomplete(path, v, t)),
    })
}

pub(crate) fn to_cue_json(v: &Value) -> Result<String, Diagnostics> {
    let mut out = String::new();
    write_json(v, "", 0, &mut out)?;
    out.push('\n');
    Ok(out)
}

pub(crate) fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn indent(n: usize, out: &mut String) {
    for _ in 0..n {
        out.push_str("    ");
    }
}

fn write_json(v: &Value, path: &str, depth: usize, out: &mut String) -> Result<(), Diagnostics> {
    match &v.kind {
        ValueKind::Null => out.push_str("null"),
        ValueKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ValueKind::Int(i) => out.push_str(&i.to_string()),
        ValueKind::Float { text, .. } => out.push_str(text),
        ValueKind::String(s) => write_str(s, out),
        ValueKind::Bytes(b) => {
            use base64::Engine;
            write_str(&base64::engine::general_purpose::STANDARD.encode(b), out)
        }
        ValueKind::List(l) => {
            if l.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push_str("[\n");
            for (i, e) in l.iter().enumerate() {
                indent(depth + 1, out);
                write_json(e, &format!("{path}[{i}]"), depth + 1, out)?;
                if i + 1 < l.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(depth, out);
            out.push(']');
        }
        ValueKind::Struct(s) => {
            let fields: Vec<_> = s.fields.values().filter(|f| f.is_regular()).collect();
            if fields.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push_str("{\n");
            for (i, f) in fields.iter().enumerate() {
                indent(depth + 1, out);
                write_str(&f.name, out);
                out.push_str(": ");
                write_json(&f.value, &join(path, &f.name), depth + 1, out)?;
                if i + 1 < fields.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(depth, out);
            out.push('}');
        }
        ValueKind::NonConcrete(t) => return Err(incomplete(path, v, t)),
    }
    Ok(())
}

/// Compact JSON as Go's `json.Marshal` (used by `json.Marshal`).
pub(crate) fn to_compact_json(v: &Value) -> Result<String, Diagnostics> {
    let mut out = String::new();
    write_compact(v, "", &mut out)?;
    Ok(out)
}

fn write_compact(v: &Value, path: &str, out: &mut String) -> Result<(), Diagnostics> {
    match &v.kind {
        ValueKind::List(l) => {
            out.push('[');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(e, &format!("{path}[{i}]"), out)?;
            }
            out.push(']');
        }
        ValueKind::Struct(s) => {
            out.push('{');
            for (i, f) in s.fields.values().filter(|f| f.is_regular()).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(&f.name, out);
                out.push(':');
                write_compact(&f.value, &join(path, &f.name), out)?;
            }
            out.push('}');
        }
        _ => write_json(v, path, 0, out)?,
    }
    Ok(())
}
