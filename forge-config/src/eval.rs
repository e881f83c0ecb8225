//! The bridge to the CUE evaluator ([`crate::cue`]): evaluates the files of one package in the
//! configuration dialect (both attribute forms accepted) and converts the result to a
//! [`Document`].

use std::sync::Arc;

use crate::cue::{self, EvalOptions, SourceFile, ValueKind};
use crate::error::ConfigError;
use crate::tree::{Attr, AttrArg, Document, Node, Source, Span, Value};

/// Evaluates the sources as one CUE instance (they must belong to the same package).
pub fn evaluate(sources: Vec<Source>) -> Result<Document, Vec<ConfigError>> {
    let files: Vec<SourceFile> = sources.iter().map(|s| SourceFile::new(s.name(), s.text().to_string())).collect();
    let sources = Arc::new(sources);
    match cue::evaluate_files(&files, &EvalOptions::config()) {
        Ok(v) => Ok(Document { root: convert(&v, None, Vec::new()), files: sources }),
        Err(diags) => Err(diags.iter().map(|d| from_diagnostic(d, &sources)).collect()),
    }
}

fn span(s: cue::Span) -> Span {
    Span { file: s.file.0, start: s.start, end: s.end }
}

fn convert(v: &cue::Value, label: Option<Span>, attrs: Vec<Attr>) -> Node {
    let value = match &v.kind {
        ValueKind::Null => Value::Null,
        ValueKind::Bool(b) => Value::Bool(*b),
        ValueKind::Int(i) => match i64::try_from(*i) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(*i as f64),
        },
        ValueKind::Float { value, .. } => Value::Float(*value),
        ValueKind::String(s) => Value::Str(s.clone()),
        ValueKind::Bytes(b) => Value::Str(String::from_utf8_lossy(b).into_owned()),
        ValueKind::List(items) => Value::List(items.iter().map(|i| convert(i, None, Vec::new())).collect()),
        ValueKind::Struct(s) => Value::Struct(
            s.fields
                .values()
                .filter(|f| f.is_regular())
                .map(|f| {
                    let attrs = f
                        .attributes
                        .iter()
                        .map(|a| Attr {
                            name: a.name.clone(),
                            args: a
                                .args
                                .iter()
                                .map(|x| AttrArg { key: x.key.clone(), value: x.value.clone() })
                                .collect(),
                            span: Some(span(a.span)),
                        })
                        .collect();
                    (f.name.clone(), convert(&f.value, Some(span(f.span)), attrs))
                })
                .collect(),
        ),
        ValueKind::NonConcrete(t) => Value::Incomplete(t.clone()),
    };
    Node { value, span: v.span.map(span).or(label), label, attrs }
}

/// Converts an evaluator diagnostic, keeping its position and source for rendering.
pub(crate) fn from_diagnostic(d: &cue::Diagnostic, sources: &[Source]) -> ConfigError {
    let mut e = ConfigError::new(d.message.clone());
    if let Some(p) = &d.path {
        e = e.at_field(p.clone());
    }
    if let Some(h) = &d.hint {
        e = e.hint(h.clone());
    }
    if let Some(s) = d.span
        && let Some(src) = sources.get(s.file.0 as usize)
    {
        let (line, column) = src.line_col(s.start as usize);
        e = e.at_position(src.name(), line, column).with_source(
            src.name(),
            src.text().clone(),
            s.start as usize,
            s.end.saturating_sub(s.start) as usize,
        );
    } else if let (Some(f), Some(l), Some(c)) = (&d.file, d.line, d.column) {
        e = e.at_position(f.clone(), l, c);
    }
    e
}

/// The package named by a file's `package` clause (skipping comments and attributes), if any.
pub fn package_of(text: &str) -> Option<&str> {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else if rest.starts_with('@') {
            // A file-level attribute: skip to the end of its line.
            rest = rest.find('\n').map_or("", |i| &rest[i..]);
        } else {
            break;
        }
    }
    let r = rest.strip_prefix("package")?;
    if !r.starts_with(|c: char| c.is_whitespace()) {
        return None;
    }
    let r = r.trim_start();
    let end = r.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '#' || c == '$')).unwrap_or(r.len());
    (end > 0).then(|| &r[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages() {
        assert_eq!(package_of("package project\n"), Some("project"));
        assert_eq!(package_of("// c\n\n// d\npackage repo\nx: 1"), Some("repo"));
        assert_eq!(package_of("x: 1"), None);
        assert_eq!(package_of("packagex"), None);
    }

    #[test]
    fn evaluates_with_attributes() {
        let src = Source::new(
            "p.cue",
            "package project\nname: \"web\"\nimage: string @artifact(\"web.uri\")\nreg: @repo(path=\"a.b\")\n",
        );
        let doc = evaluate(vec![src]).expect("evaluates");
        let image = doc.root.get("image").expect("image");
        assert!(matches!(image.value, Value::Incomplete(_)));
        assert_eq!(image.attr("artifact").and_then(|a| a.positional()), Some("web.uri"));
        let reg = doc.root.get("reg").expect("reg");
        assert_eq!(reg.attr("repo").and_then(|a| a.named("path")), Some("a.b"));
        let name = doc.root.get("name").expect("name");
        let s = name.span.expect("span");
        assert_eq!(doc.files[0].line_col(s.start as usize).0, 2);
    }
}
