//! Helpers shared by the schema decoders: typed access to tree nodes that records a precise
//! error (position, field path, expected, found, hint) instead of failing at the first problem.

use std::time::Duration;

use crate::error::ConfigError;
use crate::suggest;
use crate::tree::{Document, Node, Value};

/// Joins a field path: `a.b`, `a[0]`, quoted labels when needed.
pub(crate) fn join(parent: &str, label: &str) -> String {
    let simple = label.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '#' || c == '$')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '#' || c == '$');
    let label = if simple { label.to_owned() } else { format!("{label:?}") };
    if parent.is_empty() { label } else { format!("{parent}.{label}") }
}

/// `a[0]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// A decoder over one document, collecting errors.
pub(crate) struct Decoder<'d> {
    pub doc: &'d Document,
    pub errors: Vec<ConfigError>,
}

impl<'d> Decoder<'d> {
    pub fn new(doc: &'d Document) -> Self {
        Self { doc, errors: Vec::new() }
    }

    /// Records an error at a node.
    pub fn error(&mut self, node: &Node, path: &str, message: impl Into<String>) -> &mut ConfigError {
        let e = ConfigError::new(message).at_field(path).at(self.doc, node.span);
        self.errors.push(e);
        let last = self.errors.len() - 1;
        &mut self.errors[last]
    }

    /// Records an "expected … found …" error.
    pub fn mismatch(&mut self, node: &Node, path: &str, expected: &str) {
        let found = node.kind_name();
        let e = ConfigError::new("wrong type").expected_found(expected, found).at_field(path).at(self.doc, node.span);
        let e = match &node.value {
            Value::Incomplete(_) => e.hint("give the field a concrete value"),
            _ => e,
        };
        self.errors.push(e);
    }

    /// Records a missing required field of a struct.
    pub fn missing(&mut self, parent: &Node, path: &str, field: &str, expected: &str) {
        let e = ConfigError::new(format!("missing required field `{field}`"))
            .expected_found(expected, "nothing")
            .at_field(join(path, field))
            .at(self.doc, parent.span);
        self.errors.push(e);
    }

    /// The fields of a struct, or an error.
    pub fn fields<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [(String, Node)]> {
        match &node.value {
            Value::Struct(f) => Some(f),
            _ => {
                self.mismatch(node, path, "a struct");
                None
            }
        }
    }

    /// Rejects fields outside `known`, suggesting the closest known one.
    pub fn closed(&mut self, node: &Node, path: &str, known: &[&str]) {
        let Value::Struct(fields) = &node.value else {
            return;
        };
        for (k, v) in fields {
            if !known.contains(&k.as_str()) {
                let hint = suggest::hint(k, known.iter().copied())
                    .unwrap_or_else(|| format!("allowed fields: {}", known.join(", ")));
                let span = v.label.or(v.span).or(node.span);
                let e = ConfigError::new(format!("unknown field `{k}`"))
                    .at_field(join(path, k))
                    .at(self.doc, span)
                    .hint(hint);
                self.errors.push(e);
            }
        }
    }

    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.mismatch(node, path, "a string");
                None
            }
        }
    }

    pub fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            _ => {
                self.mismatch(node, path, "a bool");
                None
            }
        }
    }

    pub fn int(&mut self, node: &Node, path: &str) -> Option<i64> {
        match &node.value {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => {
                self.mismatch(node, path, "an int");
                None
            }
        }
    }

    pub fn list<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::List(items) => Some(items),
            _ => {
                self.mismatch(node, path, "a list");
                None
            }
        }
    }

    pub fn strings(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        let items = self.list(node, path)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.push(self.string(item, &index(path, i))?);
        }
        Some(out)
    }

    /// A string that must be one of `allowed`.
    pub fn one_of(&mut self, node: &Node, path: &str, allowed: &[&str]) -> Option<String> {
        let s = self.string(node, path)?;
        if allowed.contains(&s.as_str()) {
            return Some(s);
        }
        let expected = allowed.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(" | ");
        let hint = suggest::hint(&s, allowed.iter().copied());
        let e = ConfigError::new(format!("`{s}` is not allowed"))
            .expected_found(expected, format!("{s:?}"))
            .at_field(path)
            .at(self.doc, node.span)
            .maybe_hint(hint);
        self.errors.push(e);
        None
    }

    /// A Go-style duration string.
    pub fn duration(&mut self, node: &Node, path: &str) -> Option<(String, Duration)> {
        let s = self.string(node, path)?;
        match parse_duration(&s) {
            Some(d) => Some((s, d)),
            None => {
                let e = ConfigError::new(format!("`{s}` is not a duration"))
                    .expected_found("a Go-style duration such as \"10m\" or \"1h30m\"", format!("{s:?}"))
                    .at_field(path)
                    .at(self.doc, node.span);
                self.errors.push(e);
                None
            }
        }
    }
}

/// Parses a Go-style duration (`300ms`, `10m`, `1h30m`, `1.5h`); units ns, us, µs, ms, s, m, h.
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("10d"), None);
        assert_eq!(parse_duration("m"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("a", "b-c"), "a.\"b-c\"");
        assert_eq!(index("a", 2), "a[2]");
    }
}
