//! Tokenizer with CUE's automatic comma insertion.
//!
//! Identifiers and escape-free string literals are interned (see [`Interner`]): a token holds
//! a `u32` symbol, and the parser hands out one [`Name`] per distinct text in the file (and
//! one shared `Rc<str>` per distinct string value). Tokens hold no reference counts, so the
//! token vector is dropped without a walk over shared strings.

use std::rc::Rc;

use super::ast::{Arena, Name};
use super::diag::DiagnosticKind;
use super::source::{FileId, Span};
use super::value::{AttrArg, Attribute};

/// A lexing or parsing error before it is resolved against the source files.
#[derive(Debug, Clone)]
pub(crate) struct SynErr {
    pub kind: DiagnosticKind,
    pub msg: String,
    pub span: Span,
}

pub(crate) type LResult<T> = Result<T, SynErr>;

/// An interned string: an index into [`Interner`]'s table.
pub(crate) type Sym = u32;

/// The symbols of CUE's keywords, interned first so that the parser compares integers.
pub(crate) mod kw {
    use super::Sym;
    pub const PACKAGE: Sym = 0;
    pub const IMPORT: Sym = 1;
    pub const FOR: Sym = 2;
    pub const IF: Sym = 3;
    pub const LET: Sym = 4;
    pub const IN: Sym = 5;
    /// Symbols up to here cannot be selectors (`x.if`).
    pub const LAST_RESERVED: Sym = IN;
    pub const NULL: Sym = 6;
    pub const TRUE: Sym = 7;
    pub const FALSE: Sym = 8;
    /// The predeclared basic types, interned up front so that the parser can tell a
    /// declaration binding one of their names by its symbol (`INT..=BOOL`, in the evaluator's
    /// `BASIC_TYPES` order). They are not keywords.
    pub const INT: Sym = 9;
    pub const BOOL: Sym = 14;
    /// In symbol order.
    pub const WORDS: [&str; 15] = [
        "package", "import", "for", "if", "let", "in", "null", "true", "false", "int", "float", "number", "string",
        "bytes", "bool",
    ];
}

/// Deduplicates identifier and literal text: one symbol per distinct string, with one
/// [`Name`] (a thin pointer to the source text: no copy, no allocation) and, only for a
/// string used as a value, one shared `Rc<str>` made on first use. The keywords of [`kw`]
/// come first.
pub(crate) struct Interner<'a> {
    /// Symbols, hashed by their text (the hash is computed here, so the table holds 4-byte
    /// symbols and compares texts through `names`).
    table: hashbrown::HashTable<Sym>,
    /// The name of each symbol (read by every lookup: kept apart from `lits`, which only the
    /// parser's string values read, so that lookups touch half the memory).
    names: Vec<Name<'a>>,
    /// The shared string of each symbol used as a string value, made on first use.
    lits: Vec<Option<&'a Rc<str>>>,
    arena: &'a Arena,
}

/// The bytes of a short text as at most two words without copying: for 8..=16 bytes the
/// first and the last eight (overlapping), for 4..=7 the first and the last four, below that
/// the first, middle and last byte. With the length this determines texts of up to 16 bytes.
#[inline(always)]
fn short_words(s: &[u8]) -> (u64, u64) {
    let n = s.len();
    let w8 = |i: usize| s.get(i..i + 8).map_or(0, |w| u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
    let w4 = |i: usize| s.get(i..i + 4).map_or(0, |w| u64::from(u32::from_le_bytes(w.try_into().unwrap_or([0; 4]))));
    if n >= 8 {
        (w8(0), w8(n - 8))
    } else if n >= 4 {
        (w4(0), w4(n - 4))
    } else if n > 0 {
        (u64::from(s[0]) | u64::from(s[n / 2]) << 8 | u64::from(s[n - 1]) << 16, 0)
    } else {
        (0, 0)
    }
}

/// FxHash of a text, 8 bytes at a time, with its high bits folded in.
#[inline]
pub(crate) fn text_hash(s: &[u8]) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut h = (s.len() as u64).wrapping_mul(K);
    if s.len() <= 16 {
        let (a, b) = short_words(s);
        h = (h.rotate_left(5) ^ a).wrapping_mul(K);
        h = (h.rotate_left(5) ^ b).wrapping_mul(K);
    } else {
        let mut words = s.chunks_exact(8);
        for w in &mut words {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w.try_into().unwrap_or([0; 8]))).wrapping_mul(K);
        }
        // the last eight bytes again cover the remainder (overlapping)
        h = (h.rotate_left(5) ^ short_words(&s[s.len() - 8..]).0).wrapping_mul(K);
    }
    // a product's low bits depend only on its factors' low bits, and the table indexes by
    // the low bits: bring the well-mixed high half down (`p1234` and `p1235` differ only in
    // a high byte of their word)
    h ^ (h >> 32)
}

/// Whether two texts are equal, comparing short ones by words (no call to `memcmp`).
#[inline(always)]
fn same_text(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && if a.len() <= 16 { short_words(a) == short_words(b) } else { a == b }
}

impl<'a> Interner<'a> {
    /// An interner sized for a source of `len` bytes, holding the keywords; the names live
    /// in `arena`.
    pub fn with_capacity(len: usize, arena: &'a Arena) -> Self {
        // about one distinct string per 60 bytes of configuration: a table that fits the
        // typical file without rehashing, and no larger (its pages are touched at random)
        // (small files have more distinct strings per byte: a floor of 64 avoids rehashing)
        let n = len / 48 + 64;
        let mut i = Interner {
            table: hashbrown::HashTable::with_capacity(n),
            names: Vec::with_capacity(n),
            lits: Vec::with_capacity(n),
            arena,
        };
        for w in &kw::WORDS {
            i.intern(w);
        }
        i
    }

    /// The symbol for a text (a slice of the source, or a keyword).
    #[inline]
    pub fn intern(&mut self, s: &'a str) -> Sym {
        let h = text_hash(s.as_bytes());
        let names = &self.names;
        if let Some(&sym) = self.table.find(h, |&sym| same_text(names[sym as usize].as_bytes(), s.as_bytes())) {
            return sym;
        }
        // fewer distinct strings than tokens, and tokens are limited far below u32::MAX
        let sym = self.names.len() as Sym;
        self.names.push(self.arena.name(s));
        self.lits.push(None);
        let names = &self.names;
        self.table.insert_unique(h, sym, |&x| text_hash(names[x as usize].as_bytes()));
        sym
    }

    /// The name of a symbol.
    #[inline]
    pub fn name(&self, s: Sym) -> Name<'a> {
        self.names[s as usize]
    }

    /// The shared string of a symbol used as a string value.
    #[inline]
    pub fn lit(&mut self, s: Sym) -> &'a Rc<str> {
        let i = s as usize;
        match self.lits[i] {
            Some(r) => r,
            None => {
                let r = self.arena.str(Rc::from(*self.names[i]));
                self.lits[i] = Some(r);
                r
            }
        }
    }
}

/// Part of a string token.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LexPart<'a> {
    Lit(&'a Rc<str>),
    /// Interpolation: byte range of the expression inside `\( )`.
    Interp(usize, usize),
}

/// A token. Rare payloads (large numbers, strings with escapes or interpolations, bytes,
/// attributes) live in the syntax-tree arena, so tokens are plain 16-byte values: copied,
/// never dropped, and the parser moves their payloads into the tree without cloning.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tok<'a> {
    Ident(Sym),
    /// An integer that fits `i64` (the common case; keeps tokens 8-byte aligned).
    Int(i64),
    /// A larger integer.
    BigInt(&'a i128),
    /// Mantissa and exponent.
    Float(&'a (i128, i32)),
    /// A string with escapes or interpolations.
    Str(&'a [LexPart<'a>]),
    /// A string literal without escapes or interpolation (the common case; no part list).
    Lit(Sym),
    /// A bytes literal.
    Bytes(&'a [u8]),
    Bottom,
    Attr(&'a Attribute),
    P(P),
    /// Explicit or inserted comma; bool = inserted by newline.
    Comma(bool),
    Eof,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    /// Byte range in the file (the file id is the lexer's).
    pub start: u32,
    pub end: u32,
}

impl Token<'_> {
    /// The token's span in `file`.
    pub fn span(&self, file: FileId) -> Span {
        Span { file, start: self.start, end: self.end }
    }
}

/// A punctuation token: one byte, compared as an integer by the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum P {
    Ellipsis,
    Dot,
    LAnd,
    Amp,
    LOr,
    Bar,
    EqEq,
    Match,
    Eq,
    Ne,
    NotMatch,
    Bang,
    Le,
    Lt,
    Ge,
    Gt,
    Plus,
    Minus,
    Star,
    Slash,
    Colon,
    Comma,
    LParen,
    RParen,
    LBrack,
    RBrack,
    LBrace,
    RBrace,
    Quest,
}

impl P {
    /// The token's text.
    pub fn as_str(self) -> &'static str {
        match self {
            P::Ellipsis => "...",
            P::Dot => ".",
            P::LAnd => "&&",
            P::Amp => "&",
            P::LOr => "||",
            P::Bar => "|",
            P::EqEq => "==",
            P::Match => "=~",
            P::Eq => "=",
            P::Ne => "!=",
            P::NotMatch => "!~",
            P::Bang => "!",
            P::Le => "<=",
            P::Lt => "<",
            P::Ge => ">=",
            P::Gt => ">",
            P::Plus => "+",
            P::Minus => "-",
            P::Star => "*",
            P::Slash => "/",
            P::Colon => ":",
            P::Comma => ",",
            P::LParen => "(",
            P::RParen => ")",
            P::LBrack => "[",
            P::RBrack => "]",
            P::LBrace => "{",
            P::RBrace => "}",
            P::Quest => "?",
        }
    }
}

/// The punctuation token starting `rest` (longest match first) and its length in bytes.
#[inline(always)]
fn punct(rest: &[u8]) -> Option<(P, usize)> {
    let c1 = rest.get(1).copied().unwrap_or(0);
    Some(match rest.first()? {
        b'.' if c1 == b'.' && rest.get(2) == Some(&b'.') => (P::Ellipsis, 3),
        b'.' => (P::Dot, 1),
        b'&' if c1 == b'&' => (P::LAnd, 2),
        b'&' => (P::Amp, 1),
        b'|' if c1 == b'|' => (P::LOr, 2),
        b'|' => (P::Bar, 1),
        b'=' if c1 == b'=' => (P::EqEq, 2),
        b'=' if c1 == b'~' => (P::Match, 2),
        b'=' => (P::Eq, 1),
        b'!' if c1 == b'=' => (P::Ne, 2),
        b'!' if c1 == b'~' => (P::NotMatch, 2),
        b'!' => (P::Bang, 1),
        b'<' if c1 == b'=' => (P::Le, 2),
        b'<' => (P::Lt, 1),
        b'>' if c1 == b'=' => (P::Ge, 2),
        b'>' => (P::Gt, 1),
        b'+' => (P::Plus, 1),
        b'-' => (P::Minus, 1),
        b'*' => (P::Star, 1),
        b'/' => (P::Slash, 1),
        b':' => (P::Colon, 1),
        b',' => (P::Comma, 1),
        b'(' => (P::LParen, 1),
        b')' => (P::RParen, 1),
        b'[' => (P::LBrack, 1),
        b']' => (P::RBrack, 1),
        b'{' => (P::LBrace, 1),
        b'}' => (P::RBrace, 1),
        b'?' => (P::Quest, 1),
        _ => return None,
    })
}

/// Lexes on demand: [`Lexer::fill`] appends tokens to a window ([`Lexer::tokens`]) that the
/// parser drops the front of as it goes ([`Lexer::forget`]), so a file's tokens are never
/// all in memory at once.
pub(crate) struct Lexer<'a, 'i> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    end: usize,
    file: FileId,
    out: Vec<Token<'a>>,
    /// Tokens dropped from the front of `out`: `out[0]` is token number `forgotten`.
    forgotten: usize,
    /// The end-of-file token has been produced.
    done: bool,
    /// The file's interner, shared with the lexers of its interpolations.
    pub(crate) interner: &'i mut Interner<'a>,
}

/// Bytes that may continue an identifier: ASCII letters and digits, `_`, `$`, and every byte
/// of a multi-byte UTF-8 sequence (checked as a whole at the identifier's start).
static IDENT_CHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
        i += 1;
    }
    t
};

/// What a token starting with a byte is, as far as its first byte tells.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Not a token's first byte (an error, or whitespace handled before).
    Other,
    /// A letter, `_`, `$`, `#` or a multi-byte UTF-8 sequence: an identifier, `_|_`, or a
    /// `#"raw"` string.
    Ident,
    Digit,
    /// `"` or `'`.
    Quote,
    /// Punctuation ([`punct`]), or `.` starting a number.
    Punct,
    /// `@`: an attribute.
    At,
}

/// The bytes a punctuation token can start with (the first bytes [`punct`] matches).
const PUNCT_FIRST: &[u8] = b".&|=!<>+-*/:,()[]{}?";

/// [`Start`] by first byte: one table lookup dispatches a token.
static START: [Start; 256] = {
    let mut t = [Start::Other; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = if is_ident_start(c) || c >= 0x80 {
            Start::Ident
        } else if c.is_ascii_digit() {
            Start::Digit
        } else if c == b'"' || c == b'\'' {
            Start::Quote
        } else if c == b'@' {
            Start::At
        } else {
            Start::Other
        };
        i += 1;
    }
    let mut j = 0;
    while j < PUNCT_FIRST.len() {
        t[PUNCT_FIRST[j] as usize] = Start::Punct;
        j += 1;
    }
    t
};

const fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c == b'#'
}
#[inline]
fn is_ident_char(c: u8) -> bool {
    IDENT_CHAR[c as usize]
}

/// Maximum number of tokens per file (size limit).
const MAX_TOKENS: usize = 20_000_000;

/// Tokens lexed per refill of the parser's window.
pub(crate) const FILL_BATCH: usize = 256;

impl<'a, 'i> Lexer<'a, 'i> {
    /// A lexer for `src[start..end]` that interns into `interner`.
    pub fn new(src: &'a str, file: FileId, start: usize, end: usize, interner: &'i mut Interner<'a>) -> Self {
        Lexer {
            src,
            bytes: src.as_bytes(),
            pos: start,
            end: end.min(src.len()),
            file,
            // a window of two refills, or the whole range when it is smaller (interpolations)
            out: Vec::with_capacity((FILL_BATCH * 2).min(end.saturating_sub(start) / 2 + 4)),
            forgotten: 0,
            done: false,
            interner,
        }
    }

    fn span(&self, a: usize, b: usize) -> Span {
        Span::new(self.file, a, b)
    }

    fn err<T>(&self, a: usize, b: usize, msg: impl Into<String>) -> LResult<T> {
        Err(SynErr { kind: DiagnosticKind::Syntax, msg: msg.into(), span: self.span(a, b) })
    }

    #[inline]
    fn peek(&self, off: usize) -> u8 {
        let i = self.pos + off;
        if i < self.end { self.bytes[i] } else { 0 }
    }

    fn needs_comma(&self) -> bool {
        match self.out.last() {
            None => false,
            Some(t) => matches!(
                t.tok,
                Tok::Ident(_)
                    | Tok::Int(_)
                    | Tok::BigInt(_)
                    | Tok::Float(..)
                    | Tok::Str(_)
                    | Tok::Lit(_)
                    | Tok::Bytes(_)
                    | Tok::Bottom
                    | Tok::Attr(_)
                    | Tok::P(P::RParen | P::RBrack | P::RBrace | P::Ellipsis)
            ),
        }
    }

    /// Appends a token (the token limit is checked once per token by [`Lexer::step`]).
    #[inline(always)]
    fn push(&mut self, tok: Tok<'a>, a: usize, b: usize) {
        let Span { start, end, .. } = self.span(a, b);
        self.out.push(Token { tok, start, end });
    }

    /// The window of tokens not yet forgotten: token number `first()` is `tokens()[0]`.
    #[inline]
    pub fn tokens(&self) -> &[Token<'a>] {
        &self.out
    }

    /// Number of the first token of the window.
    #[inline]
    pub fn first(&self) -> usize {
        self.forgotten
    }

    /// Whether the end-of-file token has been produced.
    #[inline]
    pub fn done(&self) -> bool {
        self.done
    }

    /// Drops the tokens numbered below `n` from the window.
    pub fn forget(&mut self, n: usize) {
        let k = n.saturating_sub(self.forgotten).min(self.out.len());
        if k > 0 {
            self.out.drain(..k);
            self.forgotten += k;
        }
    }

    /// Lexes until the window holds tokens up to number `want` (exclusive) or the end of file.
    /// After an error the lexer stays where the error is (the caller reports it).
    pub fn fill(&mut self, want: usize) -> LResult<()> {
        while !self.done && self.forgotten + self.out.len() < want {
            self.step()?;
        }
        Ok(())
    }

    /// Lexes the next token (and the comma a newline before it inserts).
    #[inline(always)]
    fn step(&mut self) -> LResult<()> {
        // skip whitespace and comments, inserting commas at newlines
        while self.pos < self.end {
            let c = self.bytes[self.pos];
            if c == b'\n' {
                if self.needs_comma() {
                    self.push(Tok::Comma(true), self.pos, self.pos + 1);
                }
                self.pos += 1;
            } else if c == b' ' || c == b'\t' || c == b'\r' {
                self.pos += 1;
            } else if c == b'/' && self.peek(1) == b'/' {
                while self.pos < self.end && self.bytes[self.pos] != b'\n' {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
        if self.pos >= self.end {
            if self.needs_comma() {
                self.push(Tok::Comma(true), self.end, self.end);
            }
            self.push(Tok::Eof, self.end, self.end);
            self.done = true;
            return Ok(());
        }
        let start = self.pos;
        if self.forgotten + self.out.len() >= MAX_TOKENS {
            return Err(SynErr {
                kind: DiagnosticKind::Limit,
                msg: "file too large (token limit)".into(),
                span: self.span(start, start + 1),
            });
        }
        let c = self.bytes[start];
        match START[c as usize] {
            Start::Punct if !(c == b'.' && self.peek(1).is_ascii_digit()) => {
                let Some((p, len)) = punct(&self.bytes[start..self.end]) else {
                    return self.err(start, start + 1, format!("illegal character {:?}", char::from(c)));
                };
                self.pos += len;
                if p == P::Comma {
                    self.push(Tok::Comma(false), start, self.pos);
                } else {
                    self.push(Tok::P(p), start, self.pos);
                }
            }
            Start::Digit | Start::Punct => {
                let tok = self.number()?;
                self.push(tok, start, self.pos);
            }
            Start::Quote => {
                let tok = self.string()?;
                self.push(tok, start, self.pos);
            }
            Start::Ident if c == b'_' && self.peek(1) == b'|' && self.peek(2) == b'_' => {
                self.pos += 3;
                self.push(Tok::Bottom, start, self.pos);
            }
            Start::Ident if c == b'#' && matches!(self.peek(1), b'#' | b'"' | b'\'') => {
                let tok = self.string()?;
                self.push(tok, start, self.pos);
            }
            Start::Ident => {
                if c >= 0x80 {
                    let ch = self.src[start..].chars().next().unwrap_or('?');
                    if !ch.is_alphabetic() {
                        return self.err(start, start + ch.len_utf8(), format!("illegal character {ch:?}"));
                    }
                }
                self.pos += 1;
                if c == b'_' && self.peek(0) == b'#' {
                    self.pos += 1;
                }
                while self.pos < self.end && is_ident_char(self.bytes[self.pos]) {
                    self.pos += 1;
                }
                let text = &self.src[start..self.pos];
                if text == "#" || text == "_#" {
                    return self.err(start, self.pos, "invalid identifier");
                }
                let id = self.interner.intern(text);
                self.push(Tok::Ident(id), start, self.pos);
            }
            Start::At => {
                let attr = self.attribute()?;
                let attr = self.interner.arena.attrs.alloc(attr);
                self.push(Tok::Attr(attr), start, self.pos);
            }
            Start::Other => {
                let ch = self.src[start..self.end].chars().next().unwrap_or('?');
                return self.err(start, start + ch.len_utf8(), format!("illegal character {ch:?}"));
            }
        }
        Ok(())
    }

    fn int_tok(&self, v: i128) -> Tok<'a> {
        match i64::try_from(v) {
            Ok(x) => Tok::Int(x),
            Err(_) => Tok::BigInt(self.interner.arena.bump.alloc(v)),
        }
    }

    fn number(&mut self) -> LResult<Tok<'a>> {
        let start = self.pos;
        let radix = if self.peek(0) == b'0' {
            match self.peek(1) {
                b'x' | b'X' => 16,
                b'o' | b'O' => 8,
                b'b' | b'B' => 2,
                _ => 10,
            }
        } else {
            10
        };
        if radix != 10 {
            self.pos += 2;
            let mut v: i128 = 0;
            let mut any = false;
            while self.pos < self.end {
                let c = self.bytes[self.pos];
                if c == b'_' {
                    self.pos += 1;
                    continue;
                }
                let Some(d) = (c as char).to_digit(radix) else {
                    break;
                };
                v = v
                    .checked_mul(radix as i128)
                    .and_then(|v| v.checked_add(d as i128))
                    .ok_or_else(|| self.unsupported(start, "integer literal too large"))?;
                any = true;
                self.pos += 1;
            }
            if !any {
                return self.err(start, self.pos, "invalid number literal");
            }
            if self.pos < self.end && is_ident_char(self.bytes[self.pos]) {
                return self.err(start, self.pos + 1, "invalid number literal");
            }
            return Ok(self.int_tok(v));
        }
        if self.peek(0) == b'0' && self.peek(1).is_ascii_digit() {
            return self.err(start, start + 2, "illegal octal number: use the 0o prefix");
        }
        let mut mant: i128 = 0;
        let mut exp: i32 = 0;
        let mut is_float = false;
        let mut overflow = false;
        let mut digit =
            |mant: &mut i128, d: u8| match mant.checked_mul(10).and_then(|m| m.checked_add((d - b'0') as i128)) {
                Some(m) => {
                    *mant = m;
                    true
                }
                None => {
                    overflow = true;
                    false
                }
            };
        while self.pos < self.end && (self.bytes[self.pos].is_ascii_digit() || self.bytes[self.pos] == b'_') {
            let c = self.bytes[self.pos];
            if c != b'_' {
                digit(&mut mant, c);
            }
            self.pos += 1;
        }
        if self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
            is_float = true;
            self.pos += 1;
            while self.pos < self.end && (self.bytes[self.pos].is_ascii_digit() || self.bytes[self.pos] == b'_') {
                let c = self.bytes[self.pos];
                if c != b'_' {
                    digit(&mut mant, c);
                    exp -= 1;
                }
                self.pos += 1;
            }
        } else if self.peek(0) == b'.' && !matches!(self.peek(1), b'.') && !is_ident_start(self.peek(1)) {
            // `1.` is a float
            is_float = true;
            self.pos += 1;
        }
        if matches!(self.peek(0), b'e' | b'E')
            && (self.peek(1).is_ascii_digit() || (matches!(self.peek(1), b'+' | b'-') && self.peek(2).is_ascii_digit()))
        {
            is_float = true;
            self.pos += 1;
            let neg = self.peek(0) == b'-';
            if matches!(self.peek(0), b'+' | b'-') {
                self.pos += 1;
            }
            let mut e: i32 = 0;
            while self.pos < self.end && self.bytes[self.pos].is_ascii_digit() {
                e = e.saturating_mul(10).saturating_add((self.bytes[self.pos] - b'0') as i32);
                self.pos += 1;
            }
            if e > 10_000 {
                return Err(self.unsupported(start, "exponent too large"));
            }
            exp += if neg { -e } else { e };
        }
        if overflow {
            return Err(self.unsupported(start, "number literal too large"));
        }
        // multipliers
        let mult_pow: Option<(i128, u32)> = {
            let c = self.peek(0);
            let idx = match c {
                b'K' => Some(1),
                b'M' => Some(2),
                b'G' => Some(3),
                b'T' => Some(4),
                b'P' => Some(5),
                _ => None,
            };
            idx.map(|i| if self.peek(1) == b'i' { (1024, i) } else { (1000, i) })
        };
        if let Some((base, n)) = mult_pow {
            self.pos += if base == 1024 { 2 } else { 1 };
            let m = base.pow(n);
            let Some(mut v) = mant.checked_mul(m) else {
                return Err(self.unsupported(start, "number literal too large"));
            };
            // apply the decimal exponent, must be integral
            let mut e = exp;
            while e < 0 {
                if v % 10 != 0 {
                    return self.err(start, self.pos, "number with multiplier is not an integer");
                }
                v /= 10;
                e += 1;
            }
            while e > 0 {
                v = v.checked_mul(10).ok_or_else(|| self.unsupported(start, "number literal too large"))?;
                e -= 1;
            }
            if self.pos < self.end && is_ident_char(self.bytes[self.pos]) {
                return self.err(start, self.pos + 1, "invalid number literal");
            }
            return Ok(self.int_tok(v));
        }
        if self.pos < self.end && is_ident_char(self.bytes[self.pos]) && self.bytes[self.pos] != b'_' {
            return self.err(start, self.pos + 1, "invalid number literal");
        }
        if is_float { Ok(Tok::Float(self.interner.arena.bump.alloc((mant, exp)))) } else { Ok(self.int_tok(mant)) }
    }

    fn unsupported(&self, start: usize, msg: &str) -> SynErr {
        SynErr {
            kind: DiagnosticKind::Unsupported,
            msg: format!("not supported: {msg}"),
            span: self.span(start, self.pos.max(start + 1)),
        }
    }

    fn attribute(&mut self) -> LResult<Attribute> {
        let start = self.pos;
        self.pos += 1;
        let ns = self.pos;
        while self.pos < self.end && is_ident_char(self.bytes[self.pos]) {
            self.pos += 1;
        }
        let name = self.src[ns..self.pos].to_string();
        if name.is_empty() || self.peek(0) != b'(' {
            return self.err(start, self.pos, "invalid attribute: expected @name(...)");
        }
        self.pos += 1;
        let body_start = self.pos;
        let mut depth = 1usize;
        let mut args = Vec::new();
        let mut arg_start = body_start;
        let mut in_str: Option<u8> = None;
        while self.pos < self.end {
            let c = self.bytes[self.pos];
            if let Some(q) = in_str {
                if c == b'\\' {
                    self.pos += 1;
                } else if c == q {
                    in_str = None;
                } else if c == b'\n' {
                    break;
                }
            } else {
                match c {
                    b'"' | b'\'' => in_str = Some(c),
                    b'(' | b'[' | b'{' => depth += 1,
                    b')' | b']' | b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => {
                        args.push(parse_attr_arg(&self.src[arg_start..self.pos]));
                        arg_start = self.pos + 1;
                    }
                    b'\n' => break,
                    _ => {}
                }
            }
            self.pos += 1;
        }
        if self.peek(0) != b')' || depth != 0 {
            return self.err(start, self.pos, "attribute not terminated");
        }
        let raw = self.src[body_start..self.pos].to_string();
        let last = &self.src[arg_start..self.pos];
        if !last.trim().is_empty() || !args.is_empty() {
            args.push(parse_attr_arg(last));
        }
        self.pos += 1;
        Ok(Attribute { name, args, raw, span: self.span(start, self.pos) })
    }

    /// Lexes a string or bytes literal starting at `self.pos`.
    fn string(&mut self) -> LResult<Tok<'a>> {
        let start = self.pos;
        let mut hashes = 0;
        while self.peek(0) == b'#' {
            hashes += 1;
            self.pos += 1;
        }
        let q = self.peek(0);
        if q != b'"' && q != b'\'' {
            return self.err(start, self.pos, "invalid raw string");
        }
        let is_bytes = q == b'\'';
        let multi = self.peek(1) == q && self.peek(2) == q;
        // fast path: a plain single-line string without escapes
        if hashes == 0 && !is_bytes && !multi {
            let body = self.pos + 1;
            let mut p = body;
            while p < self.end {
                match self.bytes[p] {
                    b'"' => {
                        let text = self.interner.intern(&self.src[body..p]);
                        self.pos = p + 1;
                        return Ok(Tok::Lit(text));
                    }
                    b'\\' | b'\n' => break,
                    _ => p += 1,
                }
            }
        }
        let close: String =
            std::iter::repeat_n(q as char, if multi { 3 } else { 1 }).chain(std::iter::repeat_n('#', hashes)).collect();
        // content chars with their offsets
        let mut chars: Vec<(usize, char)> = Vec::new();
        if multi {
            self.pos += 3;
            // must be followed by newline
            let mut p = self.pos;
            while p < self.end && matches!(self.bytes[p], b' ' | b'\t' | b'\r') {
                p += 1;
            }
            if p >= self.end || self.bytes[p] != b'\n' {
                return self.err(start, p, "expected newline after multiline quote");
            }
            let content_start = p + 1;
            // find closing: a line consisting of whitespace followed by close
            let mut line_start = content_start;
            let (close_line_start, close_at) = loop {
                if line_start > self.end {
                    return self.err(start, self.end, "string literal not terminated");
                }
                let line_end = self.src[line_start..self.end].find('\n').map(|i| line_start + i).unwrap_or(self.end);
                let line = &self.src[line_start..line_end];
                let trimmed = line.trim_start_matches([' ', '\t']);
                if trimmed.starts_with(&close) {
                    break (line_start, line_start + (line.len() - trimmed.len()));
                }
                if line_end >= self.end {
                    return self.err(start, self.end, "string literal not terminated");
                }
                line_start = line_end + 1;
            };
            let indent = &self.src[close_line_start..close_at];
            // collect lines
            let mut ls = content_start;
            while ls < close_line_start {
                let le = self.src[ls..close_line_start].find('\n').map(|i| ls + i).unwrap_or(close_line_start);
                let line = &self.src[ls..le];
                let body_off = if line.trim_end_matches('\r').is_empty() {
                    ls + line.len()
                } else if let Some(_rest) = line.strip_prefix(indent) {
                    ls + indent.len()
                } else {
                    return self.err(
                        ls,
                        le,
                        "invalid whitespace in multiline string: lines must start with the closing quote's indentation",
                    );
                };
                for (i, ch) in self.src[body_off..le].char_indices() {
                    chars.push((body_off + i, ch));
                }
                // newline, except after the last line
                if le + 1 < close_line_start {
                    chars.push((le, '\n'));
                }
                ls = le + 1;
            }
            // strip \r before \n
            chars.retain(|(_, c)| *c != '\r');
            self.pos = close_at + close.len();
        } else {
            self.pos += 1;
            loop {
                if self.pos >= self.end {
                    return self.err(start, self.pos, "string literal not terminated");
                }
                let rest = &self.src[self.pos..self.end];
                if rest.starts_with(&close) {
                    self.pos += close.len();
                    break;
                }
                let Some(ch) = rest.chars().next() else {
                    return self.err(start, self.pos, "string literal not terminated");
                };
                if ch == '\n' {
                    return self.err(start, self.pos, "string literal not terminated");
                }
                if ch == '\\' {
                    // skip escape so that an escaped quote does not terminate
                    let after = &rest[1..];
                    let h = after.bytes().take_while(|b| *b == b'#').count();
                    if h == hashes {
                        let nxt = after[h..].chars().next();
                        if nxt == Some('(') {
                            // interpolation: copy through matching paren
                            let end = self.skip_interp(self.pos + 1 + h + 1)?;
                            for (i, c) in self.src[self.pos..end].char_indices() {
                                chars.push((self.pos + i, c));
                            }
                            self.pos = end;
                            continue;
                        }
                        if let Some(n) = nxt {
                            let l = 1 + h + n.len_utf8();
                            for (i, c) in self.src[self.pos..self.pos + l].char_indices() {
                                chars.push((self.pos + i, c));
                            }
                            self.pos += l;
                            continue;
                        }
                    }
                }
                chars.push((self.pos, ch));
                self.pos += ch.len_utf8();
            }
        }
        let parts = self.unescape(&chars, hashes, is_bytes)?;
        if is_bytes {
            let mut out = Vec::new();
            for p in parts {
                match p {
                    LexPart::Lit(s) => {
                        for c in s.chars() {
                            let u = c as u32;
                            if (0xF700..0xF800).contains(&u) {
                                out.push((u - 0xF700) as u8);
                            } else {
                                let mut b = [0u8; 4];
                                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                            }
                        }
                    }
                    LexPart::Interp(..) => {
                        return Err(self.unsupported(start, "interpolation in bytes literal"));
                    }
                }
            }
            Ok(Tok::Bytes(self.interner.arena.bump.alloc_slice_copy(&out)))
        } else {
            Ok(Tok::Str(self.interner.arena.bump.alloc_slice_copy(&parts)))
        }
    }

    /// Given the offset just after `\(`, returns the offset just after the matching `)`.
    fn skip_interp(&self, from: usize) -> LResult<usize> {
        let mut depth = 1usize;
        let mut p = from;
        let mut in_str: Option<u8> = None;
        while p < self.end {
            let c = self.bytes[p];
            if let Some(q) = in_str {
                if c == b'\\' {
                    p += 1;
                } else if c == q {
                    in_str = None;
                }
            } else {
                match c {
                    b'"' | b'\'' => in_str = Some(c),
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(p + 1);
                        }
                    }
                    b'\n' => break,
                    _ => {}
                }
            }
            p += 1;
        }
        self.err(from, p, "interpolation not terminated")
    }

    fn unescape(&self, chars: &[(usize, char)], hashes: usize, is_bytes: bool) -> LResult<Vec<LexPart<'a>>> {
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut i = 0;
        while i < chars.len() {
            let (off, c) = chars[i];
            if c != '\\' {
                cur.push(c);
                i += 1;
                continue;
            }
            // count hashes
            let mut j = i + 1;
            let mut h = 0;
            while h < hashes && j < chars.len() && chars[j].1 == '#' {
                h += 1;
                j += 1;
            }
            if h < hashes {
                cur.push('\\');
                i += 1;
                continue;
            }
            let Some(&(eoff, e)) = chars.get(j) else {
                return self.err(off, off + 1, "invalid escape");
            };
            j += 1;
            match e {
                'n' => cur.push('\n'),
                't' => cur.push('\t'),
                'r' => cur.push('\r'),
                'a' => cur.push('\u{7}'),
                'b' => cur.push('\u{8}'),
                'f' => cur.push('\u{c}'),
                'v' => cur.push('\u{b}'),
                '\\' => cur.push('\\'),
                '"' => cur.push('"'),
                '\'' => cur.push('\''),
                '/' => cur.push('/'),
                'u' | 'U' => {
                    let n = if e == 'u' { 4 } else { 8 };
                    let hex: String = chars.iter().skip(j).take(n).map(|x| x.1).collect();
                    let v = u32::from_str_radix(&hex, 16).ok().filter(|_| hex.len() == n);
                    let Some(ch) = v.and_then(char::from_u32) else {
                        return self.err(off, eoff + 1, "invalid unicode escape");
                    };
                    cur.push(ch);
                    j += n;
                }
                'x' if is_bytes => {
                    let hex: String = chars.iter().skip(j).take(2).map(|x| x.1).collect();
                    let Some(v) = u8::from_str_radix(&hex, 16).ok().filter(|_| hex.len() == 2) else {
                        return self.err(off, eoff + 1, "invalid hex escape");
                    };
                    // encode raw byte in a private range, decoded by the bytes path
                    cur.push(char::from_u32(0xF700 + v as u32).unwrap_or('?'));
                    j += 2;
                }
                '(' => {
                    if !cur.is_empty() {
                        parts.push(LexPart::Lit(self.interner.arena.str(Rc::from(std::mem::take(&mut cur)))));
                    }
                    // find matching ')' in chars
                    let mut depth = 1;
                    let mut k = j;
                    let mut in_str: Option<char> = None;
                    while k < chars.len() {
                        let ch = chars[k].1;
                        if let Some(q) = in_str {
                            if ch == '\\' {
                                k += 1;
                            } else if ch == q {
                                in_str = None;
                            }
                        } else if ch == '"' || ch == '\'' {
                            in_str = Some(ch);
                        } else if ch == '(' {
                            depth += 1;
                        } else if ch == ')' {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        k += 1;
                    }
                    if k >= chars.len() {
                        return self.err(off, off + 1, "interpolation not terminated");
                    }
                    let s = if j < chars.len() { chars[j].0 } else { chars[k].0 };
                    parts.push(LexPart::Interp(s, chars[k].0));
                    j = k + 1;
                }
                _ => {
                    return self.err(off, eoff + e.len_utf8(), format!("unknown escape sequence \\{e}"));
                }
            }
            i = j;
        }
        if !cur.is_empty() || parts.is_empty() {
            parts.push(LexPart::Lit(self.interner.arena.str(Rc::from(cur))));
        }
        Ok(parts)
    }
}

fn parse_attr_arg(s: &str) -> AttrArg {
    let s = s.trim();
    // key=value, where key is an identifier
    if let Some(eq) = s.find('=') {
        let key = s[..eq].trim();
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return AttrArg { key: Some(key.to_string()), value: unquote(s[eq + 1..].trim()) };
        }
    }
    AttrArg { key: None, value: unquote(s) }
}

fn unquote(s: &str) -> String {
    if s.len() >= 2 && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\''))) {
        let inner = &s[1..s.len() - 1];
        let mut out = String::new();
        let mut it = inner.chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                match it.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(o) => out.push(o),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        out
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::{PUNCT_FIRST, punct, same_text, text_hash};
    use proptest::prelude::*;

    /// The dispatch table's punctuation bytes are exactly those a punctuation token starts
    /// with.
    #[test]
    fn punct_first_bytes_match_the_punctuation_tokens() {
        for c in 0..=255u8 {
            assert_eq!(punct(&[c]).is_some(), PUNCT_FIRST.contains(&c), "byte {c:#04x}");
        }
    }

    proptest! {
        /// The word-wise comparison of short texts is byte equality, at every length around
        /// the 4-, 8- and 16-byte cases (pairs differing in one byte included).
        #[test]
        fn same_text_is_byte_equality(a in proptest::collection::vec(any::<u8>(), 0..40), i in any::<usize>(), flip in any::<u8>()) {
            let mut b = a.clone();
            prop_assert!(same_text(&a, &b));
            prop_assert_eq!(text_hash(&a), text_hash(&b));
            if !b.is_empty() && flip != 0 {
                let k = i % b.len();
                b[k] ^= flip;
                prop_assert!(!same_text(&a, &b));
            }
            prop_assert_eq!(same_text(&a, &b[..b.len().saturating_sub(1)]), a.is_empty());
        }
    }
}
