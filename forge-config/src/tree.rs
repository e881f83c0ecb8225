//! The evaluated configuration tree the schemas decode: concrete values (or the type of a field
//! that is not concrete yet), the byte span each value came from, and the attributes
//! (`@artifact`, `@repo`) attached to each field.
//!
//! The tree is independent of the evaluator so that the schemas, discovery and rendering can
//! be tested on their own; [`crate::eval`] builds it from the CUE evaluator's value.

use std::fmt;
use std::sync::Arc;

use serde_json::Value as Json;

/// A byte range in one of a [`Document`]'s source files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Index of the file in [`Document::files`].
    pub file: u32,
    /// Start byte offset (inclusive).
    pub start: u32,
    /// End byte offset (exclusive).
    pub end: u32,
}

/// One source file of a document: a display name (a path relative to the repository root when
/// produced by discovery) and its text.
#[derive(Debug, Clone)]
pub struct Source {
    name: String,
    text: Arc<str>,
    line_starts: Vec<usize>,
}

impl Source {
    /// Creates a source from its display name and text.
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        Self { name: name.into(), text, line_starts }
    }
    /// Display name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Full text.
    pub fn text(&self) -> &Arc<str> {
        &self.text
    }
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let col = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }
}

/// A value of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<Node>),
    /// A struct, fields in declaration order.
    Struct(Vec<(String, Node)>),
    /// A value that is not concrete (`string`, `int & >=1`, …), described in CUE syntax.
    /// Fields carrying `@artifact` usually are, until release time.
    Incomplete(String),
}

/// One argument of an attribute: `"web.uri"` (positional) or `name="web"` (named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrArg {
    /// The key of a named argument.
    pub key: Option<String>,
    /// The value, unquoted.
    pub value: String,
}

/// A field attribute such as `@artifact("web.uri")` or `@repo(path="publishers.docker.registry")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// The attribute name (`artifact`, `repo`, …).
    pub name: String,
    /// Its arguments.
    pub args: Vec<AttrArg>,
    /// Where it is written.
    pub span: Option<Span>,
}

impl Attr {
    /// Parses the body of an attribute, `name(args)` (without the `@`), as written in source.
    pub fn parse(body: &str, span: Option<Span>) -> Option<Self> {
        let body = body.trim().trim_start_matches('@');
        let (name, rest) = match body.find('(') {
            Some(i) => (&body[..i], body[i + 1..].trim_end().strip_suffix(')')?),
            None => (body, ""),
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return None;
        }
        let mut args = Vec::new();
        for part in split_args(rest)? {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (key, value) = match part.find('=') {
                Some(i) if !part[..i].contains('"') => (Some(part[..i].trim().to_owned()), part[i + 1..].trim()),
                _ => (None, part),
            };
            args.push(AttrArg { key, value: unquote(value)? });
        }
        Some(Self { name: name.to_owned(), args, span })
    }

    /// The first positional argument.
    pub fn positional(&self) -> Option<&str> {
        self.args.iter().find(|a| a.key.is_none()).map(|a| a.value.as_str())
    }

    /// A named argument.
    pub fn named(&self, key: &str) -> Option<&str> {
        self.args.iter().find(|a| a.key.as_deref() == Some(key)).map(|a| a.value.as_str())
    }
}

impl fmt::Display for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}(", self.name)?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match &a.key {
                Some(k) => write!(f, "{k}={:?}", a.value)?,
                None => write!(f, "{:?}", a.value)?,
            }
        }
        f.write_str(")")
    }
}

fn split_args(s: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let mut in_str = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            ',' if !in_str => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if in_str {
        return None;
    }
    out.push(&s[start..]);
    Some(out)
}

fn unquote(v: &str) -> Option<String> {
    if let Some(inner) = v.strip_prefix('"') {
        let inner = inner.strip_suffix('"')?;
        serde_json::from_str::<String>(&format!("\"{inner}\"")).ok()
    } else {
        Some(v.to_owned())
    }
}

/// A value with its span and the attributes of the field that holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value (or, failing that, its field) is written.
    pub span: Option<Span>,
    /// Where the label of the field holding this value is written.
    pub label: Option<Span>,
    /// Attributes of the field holding this value.
    pub attrs: Vec<Attr>,
}

impl Node {
    /// A node without span or attributes.
    pub fn new(value: Value) -> Self {
        Self { value, span: None, label: None, attrs: Vec::new() }
    }

    /// Builds a tree from JSON (no spans, no attributes): handy in tests and for data that
    /// does not come from CUE.
    pub fn from_json(v: &Json) -> Self {
        Self::new(match v {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Value::Str(s.clone()),
            Json::Array(a) => Value::List(a.iter().map(Self::from_json).collect()),
            Json::Object(o) => Value::Struct(o.iter().map(|(k, v)| (k.clone(), Self::from_json(v))).collect()),
        })
    }

    /// The JSON of a concrete tree; `None` when some value is not concrete.
    pub fn to_json(&self) -> Option<Json> {
        Some(match &self.value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::Str(s) => Json::String(s.clone()),
            Value::List(items) => Json::Array(items.iter().map(Self::to_json).collect::<Option<_>>()?),
            Value::Struct(fields) => {
                Json::Object(fields.iter().map(|(k, v)| Some((k.clone(), v.to_json()?))).collect::<Option<_>>()?)
            }
            Value::Incomplete(_) => return None,
        })
    }

    /// A field of a struct.
    pub fn get(&self, name: &str) -> Option<&Node> {
        match &self.value {
            Value::Struct(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a dotted path of struct fields.
    pub fn get_path(&self, path: &str) -> Option<&Node> {
        path.split('.').try_fold(self, |n, seg| n.get(seg))
    }

    /// An attribute by name.
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    /// A short name of the kind of value, for "expected … found …" messages.
    pub fn kind_name(&self) -> String {
        match &self.value {
            Value::Null => "null".into(),
            Value::Bool(b) => format!("bool ({b})"),
            Value::Int(i) => format!("int ({i})"),
            Value::Float(f) => format!("number ({f})"),
            Value::Str(s) if s.len() <= 40 => format!("string ({s:?})"),
            Value::Str(_) => "string".into(),
            Value::List(_) => "list".into(),
            Value::Struct(_) => "struct".into(),
            Value::Incomplete(t) => format!("non-concrete value `{t}`"),
        }
    }
}

/// An evaluated package: its tree and the files it came from.
#[derive(Debug, Clone)]
pub struct Document {
    /// The root struct.
    pub root: Node,
    /// The source files, indexed by [`Span::file`].
    pub files: Arc<Vec<Source>>,
}

impl Document {
    /// A document built from JSON, with no sources (tests, data not from CUE).
    pub fn from_json(v: &Json) -> Self {
        Self { root: Node::from_json(v), files: Arc::new(Vec::new()) }
    }
    /// The source of a span.
    pub fn source(&self, span: Span) -> Option<&Source> {
        self.files.get(span.file as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_forms() {
        let a = Attr::parse("artifact(\"web.uri\")", None).expect("parses");
        assert_eq!(a.name, "artifact");
        assert_eq!(a.positional(), Some("web.uri"));
        let a = Attr::parse("@artifact(name=\"web\", field=\"uri\")", None).expect("parses");
        assert_eq!(a.named("name"), Some("web"));
        assert_eq!(a.named("field"), Some("uri"));
        assert_eq!(a.to_string(), "@artifact(name=\"web\", field=\"uri\")");
        let a = Attr::parse("repo(path=\"a,b\")", None).expect("parses");
        assert_eq!(a.named("path"), Some("a,b"));
        assert!(Attr::parse("repo(path=\"a)", None).is_none());
    }

    #[test]
    fn line_columns() {
        let s = Source::new("x.cue", "a: 1\nbé: 2\n");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(5), (2, 1));
        assert_eq!(s.line_col(9), (2, 4));
    }
}
