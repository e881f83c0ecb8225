//! The evaluated value tree handed to callers.

use indexmap::IndexMap;
use serde::Serialize;

use super::source::Span;

/// A platform or user attribute such as `@artifact("web.uri")` or `@repo(path="a.b")`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribute {
    /// The name after `@` (`artifact`, `repo`, ...).
    pub name: String,
    /// Comma-separated arguments, each positional (`"web.uri"`) or named (`name="web"`).
    pub args: Vec<AttrArg>,
    /// Text between the parentheses, verbatim.
    pub raw: String,
    /// Span of the whole attribute, `@` to `)`.
    pub span: Span,
}

impl Attribute {
    /// The first positional argument, unquoted.
    pub fn positional(&self, index: usize) -> Option<&str> {
        self.args.iter().filter(|a| a.key.is_none()).nth(index).map(|a| a.value.as_str())
    }

    /// A named argument's value, unquoted.
    pub fn named(&self, key: &str) -> Option<&str> {
        self.args.iter().find(|a| a.key.as_deref() == Some(key)).map(|a| a.value.as_str())
    }
}

/// One attribute argument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttrArg {
    /// `Some("name")` for `name="value"`, `None` for a positional argument.
    pub key: Option<String>,
    /// The value; a quoted string is unquoted.
    pub value: String,
}

/// A value of the evaluated tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Value {
    /// What the value is.
    pub kind: ValueKind,
    /// Where the value (or its first declaration) was written, when known.
    pub span: Option<Span>,
}

/// The shape of a [`Value`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum ValueKind {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A decimal number; `text` is CUE's exact rendering (`1.50`, `1E+3`).
    Float {
        /// Nearest `f64`.
        value: f64,
        /// CUE's rendering used by export.
        text: String,
    },
    /// A string.
    String(String),
    /// Bytes (exported as base64).
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Value>),
    /// A struct; fields in CUE order.
    Struct(Struct),
    /// A value that is not concrete (`string`, `>=1`, `"a" | "b"`, `_`); the text is its CUE form.
    NonConcrete(String),
}

/// A struct value: fields in CUE's order, including optional and definition fields.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Struct {
    /// Fields keyed by label.
    pub fields: IndexMap<String, Field>,
}

/// One field of a struct.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// The label (`name`, `#Def`, `_hidden`).
    pub name: String,
    /// The field's value.
    pub value: Value,
    /// Span of the label of the first declaration.
    pub span: Span,
    /// Attributes of every declaration, in source order.
    pub attributes: Vec<Attribute>,
    /// Declared optional (`a?:`) in every declaration.
    pub optional: bool,
    /// Declared required (`a!:`) somewhere.
    pub required: bool,
}

impl Field {
    /// Whether this field is a regular data field (not a definition, hidden or optional field).
    pub fn is_regular(&self) -> bool {
        !self.optional && !self.name.starts_with('#') && !self.name.starts_with('_')
    }

    /// The first attribute with this name.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

impl Value {
    /// Whether the value and everything exported below it is concrete.
    pub fn is_concrete(&self) -> bool {
        match &self.kind {
            ValueKind::NonConcrete(_) => false,
            ValueKind::List(l) => l.iter().all(Value::is_concrete),
            ValueKind::Struct(s) => s.fields.values().filter(|f| f.is_regular()).all(|f| f.value.is_concrete()),
            _ => true,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ValueKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer that fits `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match &self.kind {
            ValueKind::Int(i) => i64::try_from(*i).ok(),
            _ => None,
        }
    }

    /// The number as `f64` (integers too).
    pub fn as_f64(&self) -> Option<f64> {
        match &self.kind {
            ValueKind::Int(i) => Some(*i as f64),
            ValueKind::Float { value, .. } => Some(*value),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.kind {
            ValueKind::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The struct, if this is a struct.
    pub fn as_struct(&self) -> Option<&Struct> {
        match &self.kind {
            ValueKind::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The list elements, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match &self.kind {
            ValueKind::List(l) => Some(l),
            _ => None,
        }
    }

    /// Iterates over the fields of a struct in CUE order (empty for non-structs).
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.as_struct().into_iter().flat_map(|s| s.fields.values())
    }

    /// The field with this label, if this is a struct that has it.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.as_struct().and_then(|s| s.fields.get(name))
    }

    /// Looks up a dotted path (`a.b.0.c`; numeric segments index lists).
    pub fn get(&self, path: &str) -> Option<&Value> {
        let mut cur = self;
        if path.is_empty() {
            return Some(cur);
        }
        for seg in path.split('.') {
            cur = match &cur.kind {
                ValueKind::Struct(s) => &s.fields.get(seg)?.value,
                ValueKind::List(l) => l.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Looks up the field at a dotted path (to read its attributes and span).
    pub fn get_field(&self, path: &str) -> Option<&Field> {
        let (parent, last) = match path.rsplit_once('.') {
            Some((p, l)) => (self.get(p)?, l),
            None => (self, path),
        };
        parent.field(last)
    }

    /// Converts to JSON, skipping definitions, hidden and optional fields.
    /// Non-concrete values become an error naming the path.
    pub fn to_json(&self) -> Result<serde_json::Value, super::Diagnostics> {
        super::export::to_json_value(self)
    }

    /// Renders JSON text the way `cue export --out=json` does (4-space indent, trailing newline).
    pub fn to_json_string(&self) -> Result<String, super::Diagnostics> {
        super::export::to_cue_json(self)
    }

    /// Renders YAML (field order preserved).
    pub fn to_yaml(&self) -> Result<String, super::Diagnostics> {
        super::export::to_yaml_text(self)
    }
}
