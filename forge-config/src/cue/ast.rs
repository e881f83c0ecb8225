//! Syntax tree. Every node carries a byte [`Span`].
//!
//! Identifiers, labels and literal string pieces are interned `Rc<str>`s: the parser hands out
//! one shared allocation per distinct name in a file, and the evaluator reuses them as field
//! labels and string values without copying.

use std::rc::Rc;

use super::source::Span;
use super::value::Attribute;

/// A parsed file.
#[derive(Debug, Clone)]
pub struct File {
    /// `package name`, if present.
    pub package: Option<(String, Span)>,
    /// Import declarations.
    pub imports: Vec<Import>,
    /// Top-level declarations.
    pub decls: Vec<Decl>,
    /// Span of the whole file.
    pub span: Span,
}

/// `import "path"` or `import name "path"`.
#[derive(Debug, Clone)]
pub struct Import {
    /// Local name (explicit or last path element).
    pub name: String,
    /// Import path, e.g. `encoding/json`.
    pub path: String,
    /// Span of the import spec.
    pub span: Span,
}

/// A declaration inside a struct or file.
#[derive(Debug, Clone)]
pub enum Decl {
    /// `label: value`.
    Field(Field),
    /// An embedded expression.
    Embed(Expr),
    /// `let x = expr`.
    Let(LetClause),
    /// `...` optionally with a type (`...T`).
    Ellipsis(Option<Expr>, Span),
    /// A field comprehension `for ... if ... { }`.
    Comprehension(Comprehension),
    /// A declaration attribute `@attr()` on its own (boxed: rare, and large).
    Attribute(Box<Attribute>),
}

/// Field constraint marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// Regular field.
    None,
    /// `a?:`.
    Optional,
    /// `a!:`.
    Required,
}

/// A field declaration.
#[derive(Debug, Clone)]
pub struct Field {
    /// The label.
    pub label: Label,
    /// Optional/required marker.
    pub constraint: Constraint,
    /// The value.
    pub value: Expr,
    /// Attributes after the value (or in value position when enabled); see [`Field::attrs`].
    /// Most fields have none: one thin pointer keeps the common field small.
    #[allow(clippy::box_collection)]
    pub(crate) attrs: Option<Box<Vec<Attribute>>>,
    /// Span of the whole field.
    pub span: Span,
}

impl Field {
    /// The field's attributes, in source order.
    pub fn attrs(&self) -> &[Attribute] {
        self.attrs.as_deref().map_or(&[], |v| v.as_slice())
    }
}

/// A field label.
#[derive(Debug, Clone)]
pub struct Label {
    /// What kind of label.
    pub kind: LabelKind,
    /// `X=label` alias (rare: behind a thin pointer); see [`Label::alias`].
    #[allow(clippy::redundant_allocation)]
    pub(crate) alias: Option<Box<Rc<str>>>,
    /// Span of the label.
    pub span: Span,
    /// Written as a quoted string (`"a-b":`); such fields cannot be referenced by identifier.
    pub quoted: bool,
}

impl Label {
    /// The `X` of an `X=label` alias.
    pub fn alias(&self) -> Option<&Rc<str>> {
        self.alias.as_deref()
    }
}

/// Kinds of labels.
#[derive(Debug, Clone)]
pub enum LabelKind {
    /// Identifier or quoted string, already unquoted.
    Name(Rc<str>),
    /// Interpolated string label or `(expr)`.
    Dynamic(Box<Expr>),
    /// `[expr]` pattern constraint, optionally `[Name=expr]`.
    Pattern(Box<(Expr, Option<Rc<str>>)>),
}

/// `let name = expr`.
#[derive(Debug, Clone)]
pub struct LetClause {
    /// Bound name.
    pub name: Rc<str>,
    /// The expression.
    pub expr: Expr,
    /// Span.
    pub span: Span,
}

/// A comprehension: clauses then a struct body.
#[derive(Debug, Clone)]
pub struct Comprehension {
    /// `for`, `if` and `let` clauses.
    pub clauses: Box<[Clause]>,
    /// The struct yielded.
    pub body: Box<Expr>,
    /// Span.
    pub span: Span,
}

/// A comprehension clause.
#[derive(Debug, Clone)]
pub enum Clause {
    /// `for k, v in expr` (key optional).
    For(Option<Rc<str>>, Rc<str>, Expr),
    /// `if cond`.
    If(Expr),
    /// `let x = expr`.
    Let(Rc<str>, Expr),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `|`
    Or,
    /// `&`
    And,
    /// `||`
    LOr,
    /// `&&`
    LAnd,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=~`
    Match,
    /// `!~`
    NotMatch,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// Unary operators (including bound constructors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `+x`
    Pos,
    /// `!x`
    Not,
    /// `*x` default marker
    Default,
    /// `<x`
    Lt,
    /// `<=x`
    Le,
    /// `>x`
    Gt,
    /// `>=x`
    Ge,
    /// `!=x`
    Ne,
    /// `=~x`
    Match,
    /// `!~x`
    NotMatch,
}

/// An expression with its span.
#[derive(Debug, Clone)]
pub struct Expr {
    /// The expression.
    pub kind: ExprKind,
    /// Its span.
    pub span: Span,
}

/// A literal piece or interpolated expression of a string.
#[derive(Debug, Clone)]
pub enum StrPart {
    /// Literal text.
    Lit(Rc<str>),
    /// `\(expr)`.
    Expr(Expr),
}

/// An element of a list literal.
#[derive(Debug, Clone)]
pub enum ListElem {
    /// A value.
    Expr(Expr),
    /// `...` or `...T` (must be last).
    Ellipsis(Option<Expr>),
    /// A list comprehension.
    Comprehension(Comprehension),
}

/// Expression kinds.
#[derive(Debug, Clone)]
pub enum ExprKind {
    /// An identifier reference (incl. `_`, predeclared names).
    Ident(Rc<str>),
    /// `_|_`.
    Bottom,
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Integer literal that fits `i64` (the common case), already decoded.
    Int(i64),
    /// A larger integer literal (boxed to keep expressions small).
    BigInt(Box<i128>),
    /// Decimal literal: mantissa and exponent (value = mant × 10^exp), boxed.
    Float(Box<(i128, i32)>),
    /// String literal, possibly interpolated.
    Str(Box<[StrPart]>),
    /// String literal without interpolation (already unescaped).
    Lit(Rc<str>),
    /// Bytes literal.
    Bytes(Box<[u8]>),
    /// `{...}`.
    Struct(Box<[Decl]>),
    /// `[...]`.
    List(Box<[ListElem]>),
    /// `x.sel` (boxed together to keep expressions small).
    Selector(Box<(Expr, Rc<str>)>),
    /// `x[i]`.
    Index(Box<Expr>, Box<Expr>),
    /// `f(args)` (boxed together to keep expressions small).
    Call(Box<(Expr, Vec<Expr>)>),
    /// Unary operation.
    Unary(UnOp, Box<Expr>),
    /// Binary operation.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `(x)`.
    Paren(Box<Expr>),
    /// Value-position attribute (`a: @artifact("x")`): evaluates to `_`.
    AttrOnly,
    /// Syntax that parses but is outside the supported subset.
    Unsupported(Box<str>),
}
