//! Syntax tree. Every node carries a byte [`Span`].
//!
//! The tree lives in an [`Arena`]: nodes are bump-allocated and refer to each other by plain
//! references, so parsing a file makes a handful of large allocations instead of one per node,
//! and dropping the tree frees them in one go (there is nothing to drop node by node). Every
//! node type is `Copy`.
//!
//! Identifiers and labels are [`Name`]s: one thin pointer per distinct name in a file, to a
//! slice of the source, so the evaluator compares labels by address before bytes and parsing
//! allocates nothing per name. String literal pieces are interned `Rc<str>`s kept by the
//! arena (made once per distinct literal used as a value), which the evaluator reuses as
//! string values without copying.

use std::rc::Rc;

use super::source::Span;
use super::value::Attribute;

/// Memory of the syntax trees of one evaluation: a bump allocator for the nodes, plus typed
/// arenas for the two payloads that own heap data (interned strings and attributes), which are
/// dropped with the arena.
///
/// Create one, parse any number of files into it with
/// [`parse_file`](super::parse_file), and keep it alive as long as the trees.
pub struct Arena {
    pub(crate) bump: bumpalo::Bump,
    pub(crate) strs: typed_arena::Arena<Rc<str>>,
    pub(crate) attrs: typed_arena::Arena<Attribute>,
}

/// An identifier or label: a thin pointer to its text, shared by every occurrence in a file
/// (the text is a slice of the source, or kept by the [`Arena`] when it had escapes).
pub type Name<'a> = &'a &'a str;

/// The first block of a new [`Arena`]: the syntax tree of a typical configuration file
/// (a project file of a few kilobytes takes about 20 KiB) fits without the arena growing
/// block by block.
const ARENA_FIRST_BLOCK: usize = 32 * 1024;

impl Default for Arena {
    fn default() -> Self {
        Self::with_capacity(ARENA_FIRST_BLOCK)
    }
}

impl Arena {
    /// An empty arena with room for a small file's syntax tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty arena whose first block holds `bytes` of syntax tree (a tree takes 8 to 20
    /// times its source's size).
    pub fn with_capacity(bytes: usize) -> Self {
        Arena {
            bump: bumpalo::Bump::with_capacity(bytes),
            strs: typed_arena::Arena::new(),
            attrs: typed_arena::Arena::new(),
        }
    }

    /// Bytes the arena has allocated for syntax-tree nodes so far.
    pub fn allocated_bytes(&self) -> usize {
        self.bump.allocated_bytes()
    }

    /// A [`Name`] for `text` (no copy of the text).
    pub(crate) fn name<'a>(&'a self, text: &'a str) -> Name<'a> {
        self.bump.alloc(text)
    }

    /// A [`Name`] for a computed text, copied into the arena.
    pub(crate) fn name_copy(&self, text: &str) -> Name<'_> {
        let t: &str = self.bump.alloc_str(text);
        self.bump.alloc(t)
    }

    /// Keeps a shared string for as long as the arena lives.
    pub(crate) fn str(&self, s: Rc<str>) -> &Rc<str> {
        self.strs.alloc(s)
    }
}

impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena").field("allocated_bytes", &self.bump.allocated_bytes()).finish_non_exhaustive()
    }
}

/// A parsed file.
#[derive(Debug, Clone)]
pub struct File<'a> {
    /// `package name`, if present.
    pub package: Option<(String, Span)>,
    /// Import declarations.
    pub imports: Vec<Import>,
    /// Top-level declarations.
    pub decls: &'a [Decl<'a>],
    /// Span of the whole file.
    pub span: Span,
    /// Whether a default mark `*x` may stand outside a disjunction (the parser counted more
    /// marks than disjunction alternatives with one); the evaluator then checks the tree.
    pub(crate) unplaced_defaults: bool,
    /// Bit `i` set: some declaration may bind the name of the `i`-th predeclared basic type
    /// (`int`, `float`, `number`, `string`, `bytes`, `bool`), which the evaluator must then
    /// resolve through the scopes.
    pub(crate) bound_basic: u8,
    /// Whether the file has a `let` declaration or a label alias, which
    /// `check::unused_lets` must look at.
    pub(crate) has_lets: bool,
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
#[derive(Debug, Clone, Copy)]
pub enum Decl<'a> {
    /// `label: value`.
    Field(Field<'a>),
    /// An embedded expression.
    Embed(Expr<'a>),
    /// `let x = expr`.
    Let(LetClause<'a>),
    /// `...` optionally with a type (`...T`).
    Ellipsis(Option<Expr<'a>>, Span),
    /// A field comprehension `for ... if ... { }`.
    Comprehension(Comprehension<'a>),
    /// A declaration attribute `@attr()` on its own.
    Attribute(&'a Attribute),
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
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    /// The label.
    pub label: Label<'a>,
    /// Optional/required marker.
    pub constraint: Constraint,
    /// The value.
    pub value: Expr<'a>,
    /// Attributes after the value (or in value position when enabled), in source order.
    pub attrs: &'a [Attribute],
    /// Span of the whole field.
    pub span: Span,
}

/// A field label.
#[derive(Debug, Clone, Copy)]
pub struct Label<'a> {
    /// What kind of label.
    pub kind: LabelKind<'a>,
    /// The `X` of an `X=label` alias.
    pub alias: Option<Name<'a>>,
    /// Span of the label.
    pub span: Span,
    /// Written as a quoted string (`"a-b":`); such fields cannot be referenced by identifier.
    pub quoted: bool,
}

/// Kinds of labels.
#[derive(Debug, Clone, Copy)]
pub enum LabelKind<'a> {
    /// Identifier or quoted string, already unquoted.
    Name(Name<'a>),
    /// Interpolated string label or `(expr)`.
    Dynamic(&'a Expr<'a>),
    /// `[expr]` pattern constraint, optionally `[Name=expr]`.
    Pattern(&'a (Expr<'a>, Option<Name<'a>>)),
}

/// `let name = expr`.
#[derive(Debug, Clone, Copy)]
pub struct LetClause<'a> {
    /// Bound name.
    pub name: Name<'a>,
    /// The expression.
    pub expr: Expr<'a>,
    /// Span.
    pub span: Span,
}

/// A comprehension: clauses then a struct body.
#[derive(Debug, Clone, Copy)]
pub struct Comprehension<'a> {
    /// `for`, `if` and `let` clauses.
    pub clauses: &'a [Clause<'a>],
    /// The struct yielded.
    pub body: &'a Expr<'a>,
    /// Span.
    pub span: Span,
}

/// A comprehension clause.
#[derive(Debug, Clone, Copy)]
pub enum Clause<'a> {
    /// `for k, v in expr` (key optional).
    For(Option<Name<'a>>, Name<'a>, Expr<'a>),
    /// `if cond`.
    If(Expr<'a>),
    /// `let x = expr`.
    Let(Name<'a>, Expr<'a>),
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
#[derive(Debug, Clone, Copy)]
pub struct Expr<'a> {
    /// The expression.
    pub kind: ExprKind<'a>,
    /// Its span.
    pub span: Span,
}

/// A literal piece or interpolated expression of a string.
#[derive(Debug, Clone, Copy)]
pub enum StrPart<'a> {
    /// Literal text.
    Lit(&'a Rc<str>),
    /// `\(expr)`.
    Expr(Expr<'a>),
}

/// An element of a list literal.
#[derive(Debug, Clone, Copy)]
pub enum ListElem<'a> {
    /// A value.
    Expr(Expr<'a>),
    /// `...` or `...T` (must be last).
    Ellipsis(Option<Expr<'a>>),
    /// A list comprehension.
    Comprehension(Comprehension<'a>),
}

/// Expression kinds.
#[derive(Debug, Clone, Copy)]
pub enum ExprKind<'a> {
    /// An identifier reference (incl. `_`, predeclared names).
    Ident(Name<'a>),
    /// `_|_`.
    Bottom,
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Integer literal that fits `i64` (the common case), already decoded.
    Int(i64),
    /// A larger integer literal.
    BigInt(&'a i128),
    /// Decimal literal: mantissa and exponent (value = mant × 10^exp).
    Float(&'a (i128, i32)),
    /// String literal, possibly interpolated.
    Str(&'a [StrPart<'a>]),
    /// String literal without interpolation (already unescaped).
    Lit(&'a Rc<str>),
    /// Bytes literal.
    Bytes(&'a [u8]),
    /// `{...}`.
    Struct(&'a [Decl<'a>]),
    /// `[...]`.
    List(&'a [ListElem<'a>]),
    /// `x.sel`.
    Selector(&'a Expr<'a>, Name<'a>),
    /// `x[i]`.
    Index(&'a Expr<'a>, &'a Expr<'a>),
    /// `f(args)` (function and arguments together: keeps expressions small).
    Call(&'a (Expr<'a>, &'a [Expr<'a>])),
    /// Unary operation.
    Unary(UnOp, &'a Expr<'a>),
    /// Binary operation.
    Binary(BinOp, &'a Expr<'a>, &'a Expr<'a>),
    /// `(x)`.
    Paren(&'a Expr<'a>),
    /// Value-position attribute (`a: @artifact("x")`): evaluates to `_`.
    AttrOnly,
    /// Syntax that parses but is outside the supported subset.
    Unsupported(&'a str),
}
