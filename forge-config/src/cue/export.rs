//! Export of evaluated values to JSON (serde_json and CUE's exact text).

use super::diag::{Diagnostic, DiagnosticKind, Diagnostics};
use super::value::{Value, ValueKind};

fn incomplete(path: &str, v: &Value, what: &str) -> Diagnostics {
    Diagnostics::one(incomplete_diag(path, v.span, what))
}

/// The export error for a non-concrete value at `path`.
pub(crate) fn incomplete_diag(path: &str, span: Option<super::Span>, what: &str) -> Diagnostic {
    let mut d = Diagnostic::new(
        DiagnosticKind::Incomplete,
        format!("{}: incomplete value {what}", if path.is_empty() { "value" } else { path }),
    )
    .with_path(path)
    .with_hint("give the field a concrete value (or a default with `*`) before exporting");
    d.span = span;
    d
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
    out.reserve(1024);
    write_json(v, &mut String::new(), 0, &mut out)?;
    out.push('\n');
    Ok(out)
}

/// Appends `seg` to the error path `path` (`a.b`, `a[0]`); returns the length to truncate back to.
pub(crate) fn push_seg(path: &mut String, seg: &str) -> usize {
    let l = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(seg);
    l
}

pub(crate) fn push_index(path: &mut String, i: usize) -> usize {
    use std::fmt::Write;
    let l = path.len();
    let _ = write!(path, "[{i}]");
    l
}

/// Bytes that JSON output escapes (as `cue export` does: control characters, quote,
/// backslash, the HTML-sensitive `<`, `>`, `&`, and 0xE2, the lead byte of U+2028/U+2029).
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b < 0x20 || matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&' | 0xE2);
        i += 1;
    }
    t
};

pub(crate) fn write_str(s: &str, out: &mut String) {
    // fast path: no byte needs escaping (the common case)
    if !s.bytes().any(|b| NEEDS_ESCAPE[b as usize]) {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
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

/// Writes `n` levels of four-space indentation.
pub(crate) fn write_indent(n: usize, out: &mut String) {
    const SPACES: &str = "                                                                ";
    let mut width = n * 4;
    while width > 0 {
        let k = width.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        width -= k;
    }
}

/// Writes an integer in decimal, without the formatting machinery.
pub(crate) fn write_int(i: i128, out: &mut String) {
    let mut buf = [0u8; 40];
    let mut pos = buf.len();
    let mut v = i.unsigned_abs();
    // 64-bit division for the digits that fit (the common case), 128-bit above
    while v > u128::from(u64::MAX) {
        pos -= 1;
        buf[pos] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let mut w = v as u64;
    loop {
        pos -= 1;
        buf[pos] = b'0' + (w % 10) as u8;
        w /= 10;
        if w == 0 {
            break;
        }
    }
    if i < 0 {
        out.push('-');
    }
    // the buffer holds ASCII digits only
    out.push_str(std::str::from_utf8(&buf[pos..]).unwrap_or_default());
}

fn write_json(v: &Value, path: &mut String, depth: usize, out: &mut String) -> Result<(), Diagnostics> {
    match &v.kind {
        ValueKind::Null => out.push_str("null"),
        ValueKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ValueKind::Int(i) => write_int(*i, out),
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
                write_indent(depth + 1, out);
                let pl = push_index(path, i);
                write_json(e, path, depth + 1, out)?;
                path.truncate(pl);
                if i + 1 < l.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            write_indent(depth, out);
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
                write_indent(depth + 1, out);
                write_str(&f.name, out);
                out.push_str(": ");
                let pl = push_seg(path, &f.name);
                write_json(&f.value, path, depth + 1, out)?;
                path.truncate(pl);
                if i + 1 < fields.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            write_indent(depth, out);
            out.push('}');
        }
        ValueKind::NonConcrete(t) => return Err(incomplete(path, v, t)),
    }
    Ok(())
}

/// Compact JSON as Go's `json.Marshal` (used by `json.Marshal`).
pub(crate) fn to_compact_json(v: &Value) -> Result<String, Diagnostics> {
    let mut out = String::new();
    write_compact(v, &mut String::new(), &mut out)?;
    Ok(out)
}

fn write_compact(v: &Value, path: &mut String, out: &mut String) -> Result<(), Diagnostics> {
    match &v.kind {
        ValueKind::List(l) => {
            out.push('[');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let l = push_index(path, i);
                write_compact(e, path, out)?;
                path.truncate(l);
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
                let l = push_seg(path, &f.name);
                write_compact(&f.value, path, out)?;
                path.truncate(l);
            }
            out.push('}');
        }
        _ => write_json(v, path, 0, out)?,
    }
    Ok(())
}

/// YAML in the style of go-yaml v3 as used by CUE (`cue export --out yaml`, `yaml.Marshal`).
pub(crate) fn to_yaml_text(v: &Value) -> Result<String, Diagnostics> {
    let mut out = String::new();
    match &v.kind {
        ValueKind::Struct(_) | ValueKind::List(_) if !is_empty_coll(v) => yaml_block(v, "", 0, &mut out)?,
        _ => {
            yaml_inline(v, "", 0, &mut out)?;
            out.push('\n');
        }
    }
    Ok(out)
}

fn is_empty_coll(v: &Value) -> bool {
    match &v.kind {
        ValueKind::Struct(s) => !s.fields.values().any(|f| f.is_regular()),
        ValueKind::List(l) => l.is_empty(),
        _ => false,
    }
}

fn yaml_block(v: &Value, path: &str, ind: usize, out: &mut String) -> Result<(), Diagnostics> {
    let pad = " ".repeat(ind);
    match &v.kind {
        ValueKind::Struct(s) => {
            for f in s.fields.values().filter(|f| f.is_regular()) {
                out.push_str(&pad);
                yaml_scalar_str(&f.name, ind, out);
                out.push(':');
                let p = join(path, &f.name);
                match &f.value.kind {
                    ValueKind::Struct(_) if !is_empty_coll(&f.value) => {
                        out.push('\n');
                        yaml_block(&f.value, &p, ind + 2, out)?;
                    }
                    ValueKind::List(_) if !is_empty_coll(&f.value) => {
                        out.push('\n');
                        yaml_block(&f.value, &p, ind, out)?;
                    }
                    _ => {
                        out.push(' ');
                        yaml_inline(&f.value, &p, ind + 2, out)?;
                        out.push('\n');
                    }
                }
            }
        }
        ValueKind::List(l) => {
            for (i, e) in l.iter().enumerate() {
                out.push_str(&pad);
                out.push_str("- ");
                let p = format!("{path}[{i}]");
                match &e.kind {
                    ValueKind::Struct(_) | ValueKind::List(_) if !is_empty_coll(e) => {
                        // first line inline after "- ", rest indented by 2
                        let mut sub = String::new();
                        yaml_block(e, &p, ind + 2, &mut sub)?;
                        out.push_str(sub.get(ind + 2..).unwrap_or(""));
                    }
                    _ => {
                        yaml_inline(e, &p, ind + 2, out)?;
                        out.push('\n');
                    }
                }
            }
        }
        _ => {
            out.push_str(&pad);
            yaml_inline(v, path, ind, out)?;
            out.push('\n');
        }
    }
    Ok(())
}

fn yaml_inline(v: &Value, path: &str, ind: usize, out: &mut String) -> Result<(), Diagnostics> {
    match &v.kind {
        ValueKind::Null => out.push_str("null"),
        ValueKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ValueKind::Int(i) => out.push_str(&i.to_string()),
        ValueKind::Float { text, .. } => out.push_str(text),
        ValueKind::String(s) => yaml_scalar_str(s, ind, out),
        ValueKind::Bytes(b) => {
            use base64::Engine;
            out.push_str("!!binary ");
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
        }
        ValueKind::Struct(_) => out.push_str("{}"),
        ValueKind::List(_) => out.push_str("[]"),
        ValueKind::NonConcrete(t) => return Err(incomplete(path, v, t)),
    }
    Ok(())
}

fn yaml_needs_double(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    if s.is_empty()
        || matches!(
            l.as_str(),
            "true" | "false" | "null" | "~" | "yes" | "no" | "on" | "off" | ".inf" | "-.inf" | "+.inf" | ".nan"
        )
    {
        return true;
    }
    // numbers
    let t = s.trim_start_matches(['-', '+']);
    if !t.is_empty()
        && (t.parse::<f64>().is_ok()
            || t.starts_with("0x")
            || t.starts_with("0o")
            || t.chars().all(|c| c.is_ascii_digit() || c == '_' || c == '.'))
        && t.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '.')
    {
        return true;
    }
    s.chars().any(|c| (c as u32) < 0x20 && c != '\n')
}

fn yaml_needs_single(s: &str) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.starts_with(' ')
        || s.ends_with(' ')
}

fn yaml_scalar_str(s: &str, ind: usize, out: &mut String) {
    if s.contains('\n') && !s.chars().any(|c| (c as u32) < 0x20 && c != '\n') {
        let pad = " ".repeat(ind);
        let body = s.strip_suffix('\n').unwrap_or(s);
        out.push_str(if s.ends_with('\n') { "|" } else { "|-" });
        if body.starts_with(' ') {
            out.push('2');
        }
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
                out.push_str(line);
            }
        }
        return;
    }
    if yaml_needs_double(s) {
        let mut q = String::new();
        write_str(s, &mut q);
        // go-yaml does not escape <, >, &
        out.push_str(&q.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&"));
    } else if yaml_needs_single(s) {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    } else {
        out.push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The hand-written integer and indentation writers agree with the formatter.
        #[test]
        fn int_and_indent_writers_match_the_formatter(i in proptest::num::i128::ANY, n in 0usize..40) {
            let mut out = String::new();
            write_int(i, &mut out);
            proptest::prop_assert_eq!(out, i.to_string());
            let mut ind = String::new();
            write_indent(n, &mut ind);
            proptest::prop_assert_eq!(ind, " ".repeat(4 * n));
        }
    }

    #[test]
    fn int_writer_edges() {
        for i in
            [0, -1, 9, 10, i128::from(i64::MIN), i128::from(u64::MAX), i128::from(u64::MAX) + 1, i128::MIN, i128::MAX]
        {
            let mut out = String::new();
            write_int(i, &mut out);
            assert_eq!(out, i.to_string());
        }
    }
}
