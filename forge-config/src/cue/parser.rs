//! Recursive-descent parser producing [`ast::File`](super::ast::File).

use super::ast::*;
use super::diag::DiagnosticKind;
use super::lexer::{FILL_BATCH, Interner, LResult, LexPart, Lexer, P, Sym, SynErr, Tok, Token, kw};
use super::source::{FileId, Span};
use super::value::Attribute;

/// Tokens the parser looks at beyond the current one (`tok_at(2)` at most).
const LOOKAHEAD: usize = 3;

/// Parser options.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Accept an attribute in value position (`image: @artifact("web.uri")`), a platform
    /// extension enabled only by the configuration loader. Strict CUE rejects it.
    pub value_position_attributes: bool,
    /// Maximum nesting depth of expressions and structs.
    pub max_depth: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions { value_position_attributes: false, max_depth: 100 }
    }
}

impl ParseOptions {
    /// Strict CUE (what `forge cue export` uses).
    pub fn strict() -> Self {
        Self::default()
    }

    /// The configuration loader's dialect: value-position attributes allowed.
    pub fn config() -> Self {
        ParseOptions { value_position_attributes: true, ..Self::default() }
    }
}

pub(crate) fn parse<'a>(src: &'a str, arena: &'a Arena, file: FileId, opts: &ParseOptions) -> LResult<File<'a>> {
    let mut interner = Interner::with_capacity(src.len(), arena);
    let mut p = Parser::new(src, arena, file, opts.clone(), 0, Lexer::new(src, file, 0, src.len(), &mut interner));
    // a file's working stacks of nested literals start with room for typical nesting
    // (an interpolation's sub-parser starts empty)
    p.decl_stack.reserve(64);
    p.elem_stack.reserve(16);
    let r = p.file();
    p.finish(r)
}

struct Parser<'a, 'i> {
    src: &'a str,
    /// Where the syntax tree goes.
    arena: &'a Arena,
    file: FileId,
    /// The tokens, lexed on demand: the window holds at least [`LOOKAHEAD`] tokens after
    /// `pos` (or up to the end of file), and nothing before `pos - 1` or the oldest
    /// [`Parser::pins`] entry.
    lex: Lexer<'a, 'i>,
    /// A lexical error met while refilling the window: it wins over any syntax error, as if
    /// the whole file had been lexed first.
    lex_err: Option<SynErr>,
    /// Positions a speculative parse may return to (innermost last).
    pins: Vec<usize>,
    /// Number of the current token.
    pos: usize,
    /// `pos` from which the window must be refilled to keep its lookahead.
    refill_at: usize,
    opts: ParseOptions,
    depth: usize,
    /// Declarations of the structs being parsed, innermost last: a struct's declarations are
    /// moved into an exactly sized slice once, instead of growing a vector per struct.
    decl_stack: Vec<Decl<'a>>,
    /// The same for list elements.
    elem_stack: Vec<ListElem<'a>>,
    /// What the parser noted for the evaluator's pre-checks.
    notes: Notes,
}

/// Facts the parser notes while building the tree, so that the evaluator need not walk it
/// again. Discarded speculative parses may only make them more cautious.
#[derive(Default, Clone, Copy)]
struct Notes {
    /// Default marks `*x` parsed, and those parsed as alternatives of a disjunction: when the
    /// two differ, a mark may be misplaced and the evaluator checks the tree
    /// (`check::misplaced_defaults`); when they agree it need not walk it.
    defaults_made: usize,
    defaults_placed: usize,
    /// Bit `i` set: a declaration binds the name of the `i`-th basic type (`kw::INT + i`);
    /// see [`File::bound_basic`].
    bound_basic: u8,
    /// Whether a `let` declaration or a label alias was parsed (see [`File::has_lets`]).
    has_lets: bool,
}

impl Notes {
    /// Adds what a sub-parser (an interpolation's) noted.
    fn absorb(&mut self, o: Notes) {
        self.defaults_made += o.defaults_made;
        self.defaults_placed += o.defaults_placed;
        self.bound_basic |= o.bound_basic;
        self.has_lets |= o.has_lets;
    }
}

/// The default marks heading an alternative of a disjunction (`**1` has two).
fn default_chain(e: &Expr<'_>) -> usize {
    match &e.kind {
        ExprKind::Unary(UnOp::Default, x) => 1 + default_chain(x),
        _ => 0,
    }
}

/// Whether the token is the keyword (or identifier) `k`.
fn is_kw(t: Tok<'_>, k: Sym) -> bool {
    matches!(t, Tok::Ident(i) if i == k)
}

impl<'a, 'i> Parser<'a, 'i> {
    fn new(src: &'a str, arena: &'a Arena, file: FileId, opts: ParseOptions, depth: usize, lex: Lexer<'a, 'i>) -> Self {
        let mut p = Parser {
            src,
            arena,
            file,
            lex,
            lex_err: None,
            pins: Vec::new(),
            pos: 0,
            refill_at: 0,
            opts,
            depth,
            decl_stack: Vec::new(),
            elem_stack: Vec::new(),
            notes: Notes::default(),
        };
        p.refill();
        p
    }

    /// The result of a parse: a lexical error anywhere in the file wins (the parser may have
    /// stopped before the lexer reached it, or accepted the truncated input).
    fn finish<T>(&mut self, r: LResult<T>) -> LResult<T> {
        if self.lex_err.is_none()
            && let Err(e) = self.lex.fill(usize::MAX)
        {
            self.lex_err = Some(e);
        }
        match self.lex_err.take() {
            Some(e) => Err(e),
            None => r,
        }
    }

    /// Lexes ahead and forgets what no one can return to.
    #[cold]
    fn refill(&mut self) {
        let keep = self.pins.first().copied().unwrap_or(self.pos).min(self.pos).saturating_sub(1);
        if keep >= self.lex.first() + FILL_BATCH {
            self.lex.forget(keep);
        }
        if self.lex_err.is_none()
            && let Err(e) = self.lex.fill(self.pos + LOOKAHEAD + FILL_BATCH)
        {
            // the parser sees the end of file; `finish` reports the error
            self.lex_err = Some(e);
        }
        self.refill_at = if self.lex.done() || self.lex_err.is_some() {
            usize::MAX
        } else {
            (self.lex.first() + self.lex.tokens().len()).saturating_sub(LOOKAHEAD)
        };
    }

    /// Moves `n` tokens on.
    #[inline]
    fn advance(&mut self, n: usize) {
        self.pos += n;
        if self.pos >= self.refill_at {
            self.refill();
        }
    }

    /// The token numbered `i`, if lexed (and not forgotten).
    #[inline]
    fn token(&self, i: usize) -> Option<&Token<'a>> {
        self.lex.tokens().get(i.wrapping_sub(self.lex.first()))
    }

    fn tok(&self) -> Tok<'a> {
        self.token(self.pos).map_or(Tok::Eof, |t| t.tok)
    }
    fn tok_at(&self, n: usize) -> Tok<'a> {
        self.token(self.pos + n).map_or(Tok::Eof, |t| t.tok)
    }
    fn span(&self) -> Span {
        self.token(self.pos)
            .or_else(|| self.lex.tokens().last())
            .map(|t| t.span(self.file))
            .unwrap_or(Span::new(self.file, 0, 0))
    }
    fn prev_span(&self) -> Span {
        self.token(self.pos.wrapping_sub(1)).map(|t| t.span(self.file)).unwrap_or_else(|| self.span())
    }
    fn bump(&mut self) -> Tok<'a> {
        let t = self.tok();
        if self.token(self.pos).is_some() {
            self.advance(1);
        }
        t
    }
    /// Consumes an attribute token.
    fn take_attr(&mut self) -> Option<&'a Attribute> {
        match self.tok() {
            Tok::Attr(a) => {
                self.advance(1);
                Some(a)
            }
            _ => None,
        }
    }
    /// The interner of the file.
    #[inline]
    fn interner(&self) -> &Interner<'a> {
        self.lex.interner
    }
    /// Moves a node into the arena.
    #[inline]
    fn alloc<T: Copy>(&self, v: T) -> &'a T {
        self.arena.bump.alloc(v)
    }
    /// Copies nodes into an exactly sized arena slice.
    #[inline]
    fn slice<T: Copy>(&self, v: &[T]) -> &'a [T] {
        self.arena.bump.alloc_slice_copy(v)
    }

    /// Cheap pre-check: can a label (followed by `:`) start here?
    fn may_be_label(&self) -> bool {
        match self.tok() {
            Tok::Ident(_) | Tok::Str(_) | Tok::Lit(_) => match self.tok_at(1) {
                Tok::P(P::Colon) | Tok::P(P::Eq) => true,
                Tok::P(P::Quest) | Tok::P(P::Bang) => matches!(self.tok_at(2), Tok::P(P::Colon)),
                _ => false,
            },
            Tok::P(P::LParen) | Tok::P(P::LBrack) => true,
            _ => false,
        }
    }

    #[inline]
    fn is_p(&self, p: P) -> bool {
        matches!(self.tok(), Tok::P(x) if x == p)
    }
    fn eat_p(&mut self, p: P) -> bool {
        if self.is_p(p) {
            self.advance(1);
            true
        } else {
            false
        }
    }
    fn err<T>(&self, msg: impl Into<String>) -> LResult<T> {
        Err(SynErr { kind: DiagnosticKind::Syntax, msg: msg.into(), span: self.span() })
    }
    fn expect_p(&mut self, p: P) -> LResult<Span> {
        if self.is_p(p) {
            let s = self.span();
            self.advance(1);
            Ok(s)
        } else {
            self.err(format!("expected '{}', found {}", p.as_str(), self.describe()))
        }
    }
    fn describe(&self) -> String {
        match self.tok() {
            Tok::Ident(s) => format!("'{}'", self.interner().name(s)),
            Tok::Int(_) | Tok::BigInt(_) | Tok::Float(..) => "number".into(),
            Tok::Str(_) | Tok::Lit(_) => "string".into(),
            Tok::Bytes(_) => "bytes".into(),
            Tok::Bottom => "'_|_'".into(),
            Tok::Attr(a) => format!("attribute @{}", a.name),
            Tok::P(p) => format!("'{}'", p.as_str()),
            Tok::Comma(true) => "newline".into(),
            Tok::Comma(false) => "','".into(),
            Tok::Eof => "end of file".into(),
        }
    }
    fn enter(&mut self) -> LResult<()> {
        self.depth += 1;
        if self.depth > self.opts.max_depth {
            return Err(SynErr {
                kind: DiagnosticKind::Limit,
                msg: format!("nesting too deep (limit {})", self.opts.max_depth),
                span: self.span(),
            });
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth -= 1;
    }
    /// The name of an interned symbol.
    #[inline]
    fn sym(&self, s: Sym) -> Name<'a> {
        self.interner().name(s)
    }

    /// The shared string of a symbol used as a string value.
    #[inline]
    fn lit(&mut self, s: Sym) -> &'a std::rc::Rc<str> {
        self.lex.interner.lit(s)
    }

    /// The string of a symbol a declaration binds (a label, alias, `let` or comprehension
    /// variable), noting a basic type's name.
    fn bind(&mut self, s: Sym) -> Name<'a> {
        if (kw::INT..=kw::BOOL).contains(&s) {
            self.notes.bound_basic |= 1 << (s - kw::INT);
        }
        self.sym(s)
    }

    /// [`Parser::bind`] for a name that is not a symbol (a label string with escapes).
    fn bind_str(&mut self, s: &str) {
        if let Some(i) = super::check::basic_type_names().iter().position(|w| *w == s) {
            self.notes.bound_basic |= 1 << i;
        }
    }

    /// An identifier operand: `null`, `true`, `false` or a reference.
    fn ident_expr(&self, n: Sym) -> ExprKind<'a> {
        match n {
            kw::NULL => ExprKind::Null,
            kw::TRUE => ExprKind::Bool(true),
            kw::FALSE => ExprKind::Bool(false),
            n => ExprKind::Ident(self.sym(n)),
        }
    }

    /// Drops what a failed speculative parse left on the declaration and element stacks.
    fn unwind(&mut self, (decls, elems): (usize, usize)) {
        self.decl_stack.truncate(decls);
        self.elem_stack.truncate(elems);
    }
    fn skip_commas(&mut self) {
        while matches!(self.tok(), Tok::Comma(_)) {
            self.advance(1);
        }
    }

    fn file(&mut self) -> LResult<File<'a>> {
        let start = self.span();
        let mut decls = Vec::new();
        // leading file attributes
        while let Some(a) = self.take_attr() {
            decls.push(Decl::Attribute(a));
            self.skip_commas();
        }
        let mut package = None;
        if is_kw(self.tok(), kw::PACKAGE) && matches!(self.tok_at(1), Tok::Ident(_)) {
            self.advance(1);
            let sp = self.span();
            if let Tok::Ident(name) = self.bump() {
                package = Some((self.interner().name(name).to_string(), sp));
            }
            self.end_decl()?;
        }
        let mut imports = Vec::new();
        while is_kw(self.tok(), kw::IMPORT)
            && !matches!(self.tok_at(1), Tok::P(P::Colon) | Tok::P(P::Quest) | Tok::P(P::Bang))
        {
            self.advance(1);
            if self.eat_p(P::LParen) {
                self.skip_commas();
                while !self.is_p(P::RParen) {
                    imports.push(self.import_spec()?);
                    if !self.is_p(P::RParen) {
                        self.end_decl()?;
                    }
                    self.skip_commas();
                }
                self.advance(1);
            } else {
                imports.push(self.import_spec()?);
            }
            self.end_decl()?;
        }
        while !matches!(self.tok(), Tok::Eof) {
            if is_kw(self.tok(), kw::IMPORT) && matches!(self.tok_at(1), Tok::Str(_) | Tok::Lit(_) | Tok::P(P::LParen))
            {
                return self.err("imports must come before other declarations");
            }
            if is_kw(self.tok(), kw::PACKAGE) && matches!(self.tok_at(1), Tok::Ident(_)) {
                return self.err("package clause must be the first declaration");
            }
            decls.push(self.decl()?);
            if matches!(self.tok(), Tok::Eof) {
                break;
            }
            self.end_decl()?;
        }
        Ok(File {
            package,
            imports,
            decls: self.slice(&decls),
            span: start.to(self.span()),
            unplaced_defaults: self.notes.defaults_made != self.notes.defaults_placed,
            bound_basic: self.notes.bound_basic,
            has_lets: self.notes.has_lets,
        })
    }

    fn end_decl(&mut self) -> LResult<()> {
        match self.tok() {
            Tok::Comma(_) => {
                self.advance(1);
                Ok(())
            }
            Tok::Eof | Tok::P(P::RBrace) => Ok(()),
            _ => self.err(format!("expected ',' or newline, found {}", self.describe())),
        }
    }

    fn import_spec(&mut self) -> LResult<Import> {
        let sp = self.span();
        let alias = if let Tok::Ident(n) = self.tok() {
            let n = self.interner().name(n).to_string();
            self.advance(1);
            Some(n)
        } else {
            None
        };
        let path = match self.bump() {
            Tok::Lit(s) => self.interner().name(s).to_string(),
            Tok::Str(parts) => match parts {
                [LexPart::Lit(s)] => s.to_string(),
                _ => return self.err("invalid import path"),
            },
            _ => return self.err("expected import path string"),
        };
        let base = path.split(':').next().unwrap_or(&path);
        let name = alias.unwrap_or_else(|| base.rsplit('/').next().unwrap_or(base).to_string());
        Ok(Import { name, path, span: sp.to(self.prev_span()) })
    }

    fn is_clause_start(&self) -> bool {
        let t = self.tok();
        if !(is_kw(t, kw::FOR) || is_kw(t, kw::IF) || is_kw(t, kw::LET)) {
            return false;
        }
        match self.tok_at(1) {
            Tok::P(P::Colon) | Tok::Comma(_) | Tok::P(P::RBrace) | Tok::P(P::RBrack) | Tok::Eof => false,
            // `if?: x` / `if!: x` are labels; `if !cond {` is a clause
            Tok::P(P::Quest) | Tok::P(P::Bang) => !matches!(self.tok_at(2), Tok::P(P::Colon)),
            _ => true,
        }
    }

    fn decl(&mut self) -> LResult<Decl<'a>> {
        self.enter()?;
        let r = self.decl_inner();
        self.leave();
        r
    }

    fn decl_inner(&mut self) -> LResult<Decl<'a>> {
        let start = self.span();
        // the common case first: `name: value` (a keyword followed by `:` is a label too)
        if let Some(label) = self.simple_label() {
            let f = self.field_rest(label, Constraint::None, start)?;
            return Ok(Decl::Field(f));
        }
        if let Some(a) = self.take_attr() {
            return Ok(Decl::Attribute(a));
        }
        if is_kw(self.tok(), kw::LET)
            && matches!(self.tok_at(1), Tok::Ident(_))
            && matches!(self.tok_at(2), Tok::P(P::Eq))
        {
            self.advance(1);
            let Tok::Ident(name) = self.bump() else {
                return self.err("expected identifier");
            };
            self.expect_p(P::Eq)?;
            let expr = self.expr()?;
            let name = self.bind(name);
            self.notes.has_lets = true;
            return Ok(Decl::Let(LetClause { name, expr, span: start.to(self.prev_span()) }));
        }
        if self.is_clause_start() {
            return Ok(Decl::Comprehension(self.comprehension()?));
        }
        if self.eat_p(P::Ellipsis) {
            let ty = if matches!(self.tok(), Tok::Comma(true) | Tok::P(P::RBrace) | Tok::Eof) {
                None
            } else {
                Some(self.expr()?)
            };
            return Ok(Decl::Ellipsis(ty, start.to(self.prev_span())));
        }
        // try a field
        if !self.may_be_label() {
            let e = self.expr()?;
            return Ok(Decl::Embed(e));
        }
        match self.try_label_or_back()? {
            Some((label, constraint)) => {
                let f = self.field_rest(label, constraint, start)?;
                Ok(Decl::Field(f))
            }
            None => {
                let e = self.expr()?;
                Ok(Decl::Embed(e))
            }
        }
    }

    /// [`Parser::try_label`] from a pinned position: on `None` the parser is back where it
    /// started (the tokens in between stay in the window until then).
    fn try_label_or_back(&mut self) -> LResult<Option<(Label<'a>, Constraint)>> {
        let save = self.pos;
        self.pins.push(save);
        let r = self.try_label();
        self.pins.pop();
        let r = r?;
        if r.is_none() {
            self.pos = save;
        }
        Ok(r)
    }

    /// Consumes `name:` where `name` is an identifier or a plain string, the common label.
    #[inline]
    fn simple_label(&mut self) -> Option<Label<'a>> {
        let (Some(t), Some(Token { tok: Tok::P(P::Colon), .. })) = (self.token(self.pos), self.token(self.pos + 1))
        else {
            return None;
        };
        let (sym, quoted, span) = match t.tok {
            Tok::Ident(n) => (n, false, t.span(self.file)),
            Tok::Lit(s) => (s, true, t.span(self.file)),
            _ => return None,
        };
        let name = self.bind(sym);
        self.advance(2);
        Some(Label { kind: LabelKind::Name(name), alias: None, span, quoted })
    }

    /// Parses `label[?!]:` if present. Returns None (position unspecified) if not a label.
    fn try_label(&mut self) -> LResult<Option<(Label<'a>, Constraint)>> {
        let start = self.span();
        let stacks = (self.decl_stack.len(), self.elem_stack.len());
        let mut alias = None;
        if let (Tok::Ident(a), Tok::P(P::Eq)) = (self.tok(), self.tok_at(1)) {
            alias = Some(self.bind(a));
            self.notes.has_lets = true;
            self.advance(2);
        }
        let lstart = self.span();
        let quoted = matches!(self.tok(), Tok::Str(_) | Tok::Lit(_));
        let kind = match self.tok() {
            Tok::Ident(n) | Tok::Lit(n) => {
                let n = self.bind(n);
                self.advance(1);
                LabelKind::Name(n)
            }
            Tok::Str(parts) => match parts {
                [LexPart::Lit(s)] => {
                    let s: &'a str = s;
                    self.bind_str(s);
                    self.advance(1);
                    LabelKind::Name(self.arena.name(s))
                }
                _ => {
                    self.advance(1);
                    let e = self.string_expr(parts, lstart)?;
                    LabelKind::Dynamic(self.alloc(e))
                }
            },
            Tok::P(P::LParen) => {
                self.advance(1);
                let e = match self.expr() {
                    Ok(e) => e,
                    Err(_) => {
                        self.unwind(stacks);
                        return Ok(None);
                    }
                };
                if !self.eat_p(P::RParen) {
                    return Ok(None);
                }
                LabelKind::Dynamic(self.alloc(e))
            }
            // `[...` and `[]` start lists, never a pattern label: no speculative parse (and no
            // error message built only to be dropped)
            Tok::P(P::LBrack) if matches!(self.tok_at(1), Tok::P(P::Ellipsis | P::RBrack)) => return Ok(None),
            Tok::P(P::LBrack) => {
                self.advance(1);
                let mut palias = None;
                if let (Tok::Ident(a), Tok::P(P::Eq)) = (self.tok(), self.tok_at(1)) {
                    palias = Some(self.bind(a));
                    self.advance(2);
                }
                let e = match self.expr() {
                    Ok(e) => e,
                    Err(_) => {
                        self.unwind(stacks);
                        return Ok(None);
                    }
                };
                if !self.eat_p(P::RBrack) {
                    return Ok(None);
                }
                LabelKind::Pattern(self.alloc((e, palias)))
            }
            _ => return Ok(None),
        };
        let lspan = lstart.to(self.prev_span());
        let constraint = if self.is_p(P::Quest) {
            self.advance(1);
            Constraint::Optional
        } else if self.is_p(P::Bang) {
            self.advance(1);
            Constraint::Required
        } else {
            Constraint::None
        };
        if !self.is_p(P::Colon) {
            if alias.is_some() {
                return Err(SynErr {
                    kind: DiagnosticKind::Syntax,
                    msg: "expected ':' after aliased label".into(),
                    span: start,
                });
            }
            return Ok(None);
        }
        if matches!(kind, LabelKind::Pattern(..)) && constraint != Constraint::None {
            return self.err("pattern constraints cannot be optional or required");
        }
        self.advance(1);
        Ok(Some((Label { kind, alias, span: lspan, quoted }, constraint)))
    }

    fn field_rest(&mut self, label: Label<'a>, constraint: Constraint, start: Span) -> LResult<Field<'a>> {
        let mut attrs: Vec<Attribute> = Vec::new();
        // value-position attribute
        let value = if let Tok::Attr(a) = self.tok() {
            if !self.opts.value_position_attributes {
                return Err(SynErr {
                    kind: DiagnosticKind::Syntax,
                    msg: format!("attribute @{} in value position is not valid CUE", a.name),
                    span: a.span,
                });
            }
            let sp = a.span;
            while let Some(a) = self.take_attr() {
                attrs.push(a.clone());
            }
            Expr { kind: ExprKind::AttrOnly, span: sp }
        } else {
            // shorthand a: b: c
            let vstart = self.span();
            let shorthand = match self.simple_label() {
                Some(l2) => Some((l2, Constraint::None)),
                None if self.may_be_label() && !self.is_clause_start() => self.try_label_or_back()?,
                None => None,
            };
            if let Some((l2, c2)) = shorthand {
                self.enter()?;
                let inner = self.field_rest(l2, c2, vstart);
                self.leave();
                let inner = inner?;
                let sp = inner.span;
                return Ok(Field {
                    label,
                    constraint,
                    value: Expr { kind: ExprKind::Struct(self.slice(&[Decl::Field(inner)])), span: sp },
                    // attributes follow the innermost value of a shorthand
                    attrs: &[],
                    span: start.to(sp),
                });
            }
            self.expr()?
        };
        while let Some(a) = self.take_attr() {
            attrs.push(a.clone());
        }
        Ok(Field {
            label,
            constraint,
            value,
            attrs: if attrs.is_empty() { &[] } else { self.arena.attrs.alloc_extend(attrs) },
            span: start.to(self.prev_span()),
        })
    }

    fn comprehension(&mut self) -> LResult<Comprehension<'a>> {
        let start = self.span();
        let mut clauses = Vec::new();
        loop {
            if is_kw(self.tok(), kw::FOR) {
                self.advance(1);
                let Tok::Ident(a) = self.bump() else {
                    return self.err("expected identifier after 'for'");
                };
                let (k, v) = if matches!(self.tok(), Tok::Comma(false)) {
                    self.advance(1);
                    let Tok::Ident(b) = self.bump() else {
                        return self.err("expected identifier");
                    };
                    (Some(self.bind(a)), self.bind(b))
                } else {
                    (None, self.bind(a))
                };
                if !is_kw(self.tok(), kw::IN) {
                    return self.err("expected 'in'");
                }
                self.advance(1);
                let e = self.expr()?;
                clauses.push(Clause::For(k, v, e));
            } else if is_kw(self.tok(), kw::IF) {
                self.advance(1);
                clauses.push(Clause::If(self.expr()?));
            } else if is_kw(self.tok(), kw::LET) {
                self.advance(1);
                let Tok::Ident(n) = self.bump() else {
                    return self.err("expected identifier after 'let'");
                };
                self.expect_p(P::Eq)?;
                let n = self.bind(n);
                clauses.push(Clause::Let(n, self.expr()?));
            } else {
                break;
            }
        }
        if !self.is_p(P::LBrace) {
            return self.err(format!("expected '{{' after comprehension clauses, found {}", self.describe()));
        }
        let body = self.operand()?;
        Ok(Comprehension { clauses: self.slice(&clauses), body: self.alloc(body), span: start.to(self.prev_span()) })
    }

    fn expr(&mut self) -> LResult<Expr<'a>> {
        if let Some(e) = self.lone_operand() {
            return Ok(e);
        }
        self.enter()?;
        let r = self.binary(1);
        self.leave();
        r
    }

    /// The common value `name: "text"` / `42` / `ref`: a literal or identifier followed by
    /// the end of the expression, built without descending through the precedence levels.
    /// Everything else (and anything at the depth limit) takes the general path.
    #[inline]
    fn lone_operand(&mut self) -> Option<Expr<'a>> {
        if self.depth >= self.opts.max_depth {
            return None;
        }
        let (t, next) = (*self.token(self.pos)?, self.token(self.pos + 1)?);
        if !matches!(next.tok, Tok::Comma(_) | Tok::P(P::RBrace | P::RBrack | P::RParen) | Tok::Eof) {
            return None;
        }
        let kind = match t.tok {
            Tok::Lit(s) => ExprKind::Lit(self.lit(s)),
            Tok::Int(i) => ExprKind::Int(i),
            Tok::Ident(n) => self.ident_expr(n),
            _ => return None,
        };
        let span = t.span(self.file);
        self.advance(1);
        Some(Expr { kind, span })
    }

    fn binop(&self) -> Option<(BinOp, u8)> {
        let Tok::P(p) = self.tok() else { return None };
        Some(match p {
            P::Bar => (BinOp::Or, 1),
            P::Amp => (BinOp::And, 2),
            P::LOr => (BinOp::LOr, 3),
            P::LAnd => (BinOp::LAnd, 4),
            P::EqEq => (BinOp::Eq, 5),
            P::Ne => (BinOp::Ne, 5),
            P::Lt => (BinOp::Lt, 5),
            P::Le => (BinOp::Le, 5),
            P::Gt => (BinOp::Gt, 5),
            P::Ge => (BinOp::Ge, 5),
            P::Match => (BinOp::Match, 5),
            P::NotMatch => (BinOp::NotMatch, 5),
            P::Plus => (BinOp::Add, 6),
            P::Minus => (BinOp::Sub, 6),
            P::Star => (BinOp::Mul, 7),
            P::Slash => (BinOp::Div, 7),
            _ => return None,
        })
    }

    fn binary(&mut self, min: u8) -> LResult<Expr<'a>> {
        let mut lhs = self.unary()?;
        while let Some((op, prec)) = self.binop() {
            if prec < min {
                break;
            }
            self.advance(1);
            self.enter()?;
            let rhs = self.binary(prec + 1);
            self.leave();
            let rhs = rhs?;
            let span = lhs.span.to(rhs.span);
            if op == BinOp::Or {
                self.notes.defaults_placed += default_chain(&lhs) + default_chain(&rhs);
            }
            lhs = Expr { kind: ExprKind::Binary(op, self.alloc(lhs), self.alloc(rhs)), span };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> LResult<Expr<'a>> {
        let start = self.span();
        let op = match self.tok() {
            Tok::P(P::Minus) => Some(UnOp::Neg),
            Tok::P(P::Plus) => Some(UnOp::Pos),
            Tok::P(P::Bang) => Some(UnOp::Not),
            Tok::P(P::Star) => Some(UnOp::Default),
            Tok::P(P::Lt) => Some(UnOp::Lt),
            Tok::P(P::Le) => Some(UnOp::Le),
            Tok::P(P::Gt) => Some(UnOp::Gt),
            Tok::P(P::Ge) => Some(UnOp::Ge),
            Tok::P(P::Ne) => Some(UnOp::Ne),
            Tok::P(P::Match) => Some(UnOp::Match),
            Tok::P(P::NotMatch) => Some(UnOp::NotMatch),
            _ => None,
        };
        if let Some(op) = op {
            self.advance(1);
            self.enter()?;
            let e = self.unary();
            self.leave();
            let e = e?;
            let span = start.to(e.span);
            if op == UnOp::Default {
                self.notes.defaults_made += 1;
            }
            return Ok(Expr { kind: ExprKind::Unary(op, self.alloc(e)), span });
        }
        self.primary()
    }

    fn primary(&mut self) -> LResult<Expr<'a>> {
        let mut e = self.operand()?;
        let mut n = 0usize;
        loop {
            if !matches!(self.tok(), Tok::P(P::Dot | P::LBrack | P::LParen)) {
                break;
            }
            n += 1;
            if n > self.opts.max_depth * 4 {
                return self.err("too many selectors");
            }
            if self.is_p(P::Dot) {
                self.advance(1);
                let sp = self.span();
                let sel = match self.bump() {
                    Tok::Ident(s) if s <= kw::LAST_RESERVED => {
                        return Err(SynErr {
                            kind: DiagnosticKind::Syntax,
                            msg: format!("expected selector, found '{}'", self.interner().name(s)),
                            span: sp,
                        });
                    }
                    Tok::Ident(s) | Tok::Lit(s) => self.sym(s),
                    Tok::Str(parts) => match parts {
                        [LexPart::Lit(s)] => self.arena.name(s),
                        _ => return self.err("invalid selector"),
                    },
                    _ => {
                        return Err(SynErr {
                            kind: DiagnosticKind::Syntax,
                            msg: "expected selector after '.'".into(),
                            span: sp,
                        });
                    }
                };
                let span = e.span.to(sp);
                e = Expr { kind: ExprKind::Selector(self.alloc(e), sel), span };
            } else if self.is_p(P::LBrack) {
                self.advance(1);
                if self.is_p(P::Colon) {
                    return Err(SynErr {
                        kind: DiagnosticKind::Unsupported,
                        msg: "not supported: slice expressions".into(),
                        span: self.span(),
                    });
                }
                let idx = self.expr()?;
                if self.is_p(P::Colon) {
                    return Err(SynErr {
                        kind: DiagnosticKind::Unsupported,
                        msg: "not supported: slice expressions".into(),
                        span: self.span(),
                    });
                }
                let end = self.expect_p(P::RBrack)?;
                let span = e.span.to(end);
                e = Expr { kind: ExprKind::Index(self.alloc(e), self.alloc(idx)), span };
            } else if self.is_p(P::LParen) {
                self.advance(1);
                let mut args = Vec::new();
                self.skip_commas();
                while !self.is_p(P::RParen) {
                    args.push(self.expr()?);
                    match self.tok() {
                        Tok::Comma(_) => self.skip_commas(),
                        Tok::P(P::RParen) => {}
                        _ => {
                            return self.err(format!("expected ',' or ')', found {}", self.describe()));
                        }
                    }
                }
                let end = self.expect_p(P::RParen)?;
                let span = e.span.to(end);
                let args = self.slice(&args);
                e = Expr { kind: ExprKind::Call(self.alloc((e, args))), span };
            } else {
                break;
            }
        }
        Ok(e)
    }

    fn string_expr(&mut self, parts: &'a [LexPart<'a>], span: Span) -> LResult<Expr<'a>> {
        let mut out = Vec::new();
        for p in parts {
            match p {
                LexPart::Lit(s) => out.push(StrPart::Lit(s)),
                LexPart::Interp(s, e) => {
                    // the sub-lexer and sub-parser borrow the file's interner
                    let (src, arena, file, opts, depth) =
                        (self.src, self.arena, self.file, self.opts.clone(), self.depth + 1);
                    let lex = Lexer::new(src, file, *s, *e, &mut *self.lex.interner);
                    let mut sub = Parser::new(src, arena, file, opts, depth, lex);
                    let r = sub.expr().and_then(|ex| {
                        sub.skip_commas();
                        if !matches!(sub.tok(), Tok::Eof) {
                            return sub.err("unexpected token in interpolation");
                        }
                        Ok(ex)
                    });
                    let notes = sub.notes;
                    out.push(StrPart::Expr(sub.finish(r)?));
                    self.notes.absorb(notes);
                }
            }
        }
        if let [StrPart::Lit(s)] = out.as_slice() {
            return Ok(Expr { kind: ExprKind::Lit(s), span });
        }
        Ok(Expr { kind: ExprKind::Str(self.slice(&out)), span })
    }

    fn operand(&mut self) -> LResult<Expr<'a>> {
        let sp = self.span();
        let mk = |kind| Expr { kind, span: sp };
        match self.tok() {
            Tok::Ident(n) => {
                let kind = self.ident_expr(n);
                self.advance(1);
                Ok(mk(kind))
            }
            Tok::Int(i) => {
                self.advance(1);
                Ok(mk(ExprKind::Int(i)))
            }
            Tok::BigInt(i) => {
                self.advance(1);
                Ok(mk(ExprKind::BigInt(i)))
            }
            Tok::Float(f) => {
                self.advance(1);
                Ok(mk(ExprKind::Float(f)))
            }
            Tok::Bottom => {
                self.advance(1);
                Ok(mk(ExprKind::Bottom))
            }
            Tok::Bytes(b) => {
                self.advance(1);
                Ok(mk(ExprKind::Bytes(b)))
            }
            Tok::Lit(s) => {
                let kind = ExprKind::Lit(self.lit(s));
                self.advance(1);
                Ok(mk(kind))
            }
            Tok::Str(parts) => {
                if let [LexPart::Lit(s)] = parts {
                    let kind = ExprKind::Lit(s);
                    self.advance(1);
                    return Ok(mk(kind));
                }
                self.advance(1);
                self.string_expr(parts, sp)
            }
            Tok::P(P::LParen) => {
                self.advance(1);
                let e = self.expr()?;
                let end = self.expect_p(P::RParen)?;
                Ok(Expr { kind: ExprKind::Paren(self.alloc(e)), span: sp.to(end) })
            }
            Tok::P(P::LBrace) => {
                self.advance(1);
                self.enter()?;
                let base = self.decl_stack.len();
                self.skip_commas();
                while !self.is_p(P::RBrace) {
                    if matches!(self.tok(), Tok::Eof) {
                        self.leave();
                        return self.err("expected '}', found end of file");
                    }
                    let d = self.decl()?;
                    self.decl_stack.push(d);
                    if !self.is_p(P::RBrace)
                        && let Err(e) = self.end_decl()
                    {
                        self.leave();
                        return Err(e);
                    }
                    self.skip_commas();
                }
                self.leave();
                let end = self.expect_p(P::RBrace)?;
                let decls = self.slice(&self.decl_stack[base..]);
                self.decl_stack.truncate(base);
                Ok(Expr { kind: ExprKind::Struct(decls), span: sp.to(end) })
            }
            Tok::P(P::LBrack) => {
                self.advance(1);
                self.enter()?;
                let base = self.elem_stack.len();
                self.skip_commas();
                while !self.is_p(P::RBrack) {
                    if self.eat_p(P::Ellipsis) {
                        let ty = if matches!(self.tok(), Tok::Comma(_) | Tok::P(P::RBrack)) {
                            None
                        } else {
                            Some(self.expr()?)
                        };
                        self.elem_stack.push(ListElem::Ellipsis(ty));
                        self.skip_commas();
                        if !self.is_p(P::RBrack) {
                            self.leave();
                            return self.err("'...' must be the last element of a list");
                        }
                        break;
                    }
                    if self.is_clause_start() {
                        let c = self.comprehension()?;
                        self.elem_stack.push(ListElem::Comprehension(c));
                    } else {
                        let e = self.expr()?;
                        self.elem_stack.push(ListElem::Expr(e));
                    }
                    match self.tok() {
                        Tok::Comma(_) => self.skip_commas(),
                        Tok::P(P::RBrack) => {}
                        _ => {
                            let r = self.err(format!("expected ',' or ']', found {}", self.describe()));
                            self.leave();
                            return r;
                        }
                    }
                }
                self.leave();
                let end = self.expect_p(P::RBrack)?;
                let elems = self.slice(&self.elem_stack[base..]);
                self.elem_stack.truncate(base);
                Ok(Expr { kind: ExprKind::List(elems), span: sp.to(end) })
            }
            Tok::Attr(a) => Err(SynErr {
                kind: DiagnosticKind::Syntax,
                msg: format!("unexpected attribute @{}", a.name),
                span: a.span,
            }),
            _ => self.err(format!("expected expression, found {}", self.describe())),
        }
    }
}
