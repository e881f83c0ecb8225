//! The evaluator: vertices with conjuncts, lexical environments, closedness groups and
//! disjunction expansion by cloning.
//!
//! # Memory layout and performance notes
//!
//! * **Interned labels.** Labels and identifiers are [`ast::Name`]s handed out by the
//!   parser's interner ([`super::lexer::Interner`]): one thin pointer per distinct name in a
//!   file, to a slice of the source (no allocation and no copy per name). Nodes and arcs hold
//!   labels as these pointers ([`Lbl`]); equal labels of one file are one address, so label
//!   comparisons check the address before the bytes, and sets and indexes keyed by label text
//!   hash with the interner's word-wise hash ([`TextHasher`]). String values made from a
//!   literal share one `Rc<str>` per distinct literal, made when the parser first uses the
//!   text as a value. Computed labels and list index labels (`"0"`, `"1"`, ..., cached per
//!   evaluation by [`Ev::index_label`]) are copied into the syntax-tree arena.
//! * **Node arena.** Nodes live in fixed-size chunks ([`Nodes`]) indexed by [`NodeId`], so
//!   creating a node never moves the existing ones (no transient doubling of the arena).
//!   A node keeps its hot state inline; rarely used state (lists, disjunctions, patterns,
//!   comprehensions, attributes, field-order records) is boxed in [`Cold`] and allocated on
//!   first use; once the node is finished ([`Ev::trim_cold`]) only what a reset keeps
//!   (attributes, chosen disjuncts) survives. Conjuncts are kept two inline (a field
//!   declared once and unified with a definition's is the common pair); the other short
//!   per-node lists (copied nodes, closedness groups) are [`Few`]: zero or one element
//!   inline, more from the second (id lists behind one thin pointer, [`Ids`]). Node,
//!   environment and group ids are `u32`, declaration counters saturating `u8`; conjuncts are
//!   40 bytes (a value conjunct, which is rare, sits behind one pointer): a node is 280 bytes
//!   (pinned by a size test). Since the export streams top-level fields (below), node size
//!   weighs on peak memory only within one field, so two inline conjuncts were worth 48 bytes.
//! * **Arcs.** A node's fields are an insertion-ordered vector scanned linearly; from
//!   [`ARC_INDEX_MIN`] fields on, a hash index is added (no quadratic lookups in large structs).
//! * **Values** are 24 bytes: big payloads (decimals, strings, bounds) are behind `Rc`, and
//!   integers are stored 8-byte aligned ([`I128`]) so that nothing holding a value is padded
//!   to `i128`'s 16-byte alignment.
//! * **Scalar disjunctions.** A node whose conjuncts are all literal scalars or predeclared
//!   types, with one disjunction among them (`"earthly" | "script"`, `int | *0`), is resolved
//!   while it is expanded ([`Ev::expand_scalar_disj`]): the disjunction's alternatives are
//!   evaluated once per expression ([`ScalarOr`], shared by every instance of a definition) and
//!   unified with the accumulated value, leaving no pending-disjunction state; the same when a
//!   node reaches finalization another way ([`Ev::scalar_disj_leaves`]). Anything else, and the
//!   all-alternatives-fail case (for its error message), takes the general path, which
//!   re-evaluates a cloned node per alternative.
//! * **Optional fields kept aside.** In the JSON export, an optional field that a later
//!   struct literal of a node declares (a definition applied by a pattern constraint after the
//!   instance's own literal) for a label the node has no field for is kept aside
//!   ([`DeferredOptional`]) instead of becoming a node: unset, it is a constraint on nothing and
//!   never shown. It becomes a field as soon as another declaration makes one ([`Ev::arc`]), or
//!   when pattern constraints or the field order need it (the order is kept without it only in
//!   the two-literal case where the merge provably places the others the same way,
//!   `covers_in_order`, proptested). References to it and disjunct comparisons see it as
//!   before. The public [`Value`] tree ([`evaluate`]) lists optional fields, so it keeps them all.
//! * **Closedness groups** are only derived for a field when its value can be a struct (a literal
//!   scalar never consults them). A group allows a literal's static labels
//!   through one set shared by every use of the literal ([`Ev::static_labels`]): instantiating
//!   a definition does not rebuild its label set. Scopes and groups read the labels of a small
//!   literal (up to [`LABEL_SCAN_MAX`] declarations) straight from its syntax tree
//!   ([`Labels::Scan`]); only larger literals get a hash set, built once.
//!
//! * **Field order** is CUE v0.4's, in two flavours. Export order ([`Ev::sort_arcs`]) merges
//!   one "front" per struct literal (its static labels, recorded by reference to its
//!   declarations; a node's first literal is usually just a count, `Node::seq_prefix`) plus
//!   the dynamic fields, with `cue export`'s own merge rules; the common case that needs no
//!   reordering is recognised without running it, and so is the common two-literal case where
//!   the second literal lists every field (an instance's literal, then its definition's):
//!   its order, `superseq_order`, proptested against the merge. Comprehensions iterate in CUE's arc order
//!   instead (`Node::arc_seq`, [`Ev::number_arc`]): first regular declaration, embedded
//!   literals before their embedding one, dynamic fields last. `scripts/cue-diff.py` compares
//!   both (and closedness, defaults, expressions) with official CUE on random inputs.
//!
//! * **Export without a `Value` tree.** [`export_json`] (what `forge cue export` and
//!   [`super::export_json`] use) writes JSON while walking the final nodes, in the same order
//!   as [`evaluate`] builds the public [`Value`]: errors anywhere in the tree (also in
//!   definitions and hidden fields, which are walked but not written) win over the first
//!   incomplete value in export order, exactly as `evaluate` + `Value::to_json_string`. The
//!   `direct_export_agrees_with_the_value_tree` test holds the two routes equal on the whole
//!   conformance corpus, in both dialects.
//! * **Streaming export.** The export walks the root's fields one at a time: the root is
//!   finalized without its fields ([`Ev::stream_root`]), and each field is evaluated, written,
//!   and then forgotten when its evaluation was private ([`Ev::export_streamed`]): the node,
//!   environment and group stores watch the entries that existed before the field for
//!   mutable access ([`Watch`]), and when nothing older changed and every node created
//!   since hangs below the field, the stores are truncated back and the field reset to
//!   unevaluated (a later reference evaluates it again, to the same value). Peak memory is
//!   then that of the largest top-level field, not of the whole configuration (the 1 MiB
//!   benchmark went from about 40x to 12-16x its input), and the memory is reused while
//!   in cache. A field that touched anything older (a definition evaluated on first use, a
//!   sibling it references) is simply kept. `stream_tests` holds the streamed and whole
//!   exports equal on configurations built to re-evaluate dropped fields.
//!
//! The `cue_mem` example (`cargo run --release -p forge-config --example cue_mem -- big 10`)
//! reports throughput (wall and CPU time) and peak memory on the benchmark corpus. On this
//! shared 2-core machine wall and even CPU time vary by ±30% between runs; instruction counts
//! (`valgrind --tool=callgrind … cue_mem big 1`, minus `big 0` for the corpus generation) are
//! the stable yardstick for comparing two builds.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::EvalOptions;
use super::ast::{
    self, Arena, BinOp, Clause, Comprehension, Constraint, Decl, Expr, ExprKind, Label, LabelKind, ListElem, Name,
    StrPart, UnOp,
};
use super::decimal::Decimal;
use super::diag::{Diagnostic, DiagnosticKind, Diagnostics};
use super::source::{SourceFile, Span};
use super::value::{self, Attribute, Value, ValueKind};

/// A small, fast, non-cryptographic hasher (FxHash) for internal maps keyed by ids and labels.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.write_u64(u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            self.write_u64(rest.iter().rev().fold(0u64, |v, b| (v << 8) | u64::from(*b)));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

/// The hasher of maps and sets keyed by label text: the interner's word-wise text hash.
/// (`Hash for str` writes the bytes and then a terminator byte, which this ignores: its keys
/// are only ever strings, so the terminator adds nothing.)
#[derive(Default, Clone, Copy)]
pub(crate) struct TextHasher(u64);

impl std::hash::Hasher for TextHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0 ^= super::lexer::text_hash(bytes);
    }
    #[inline]
    fn write_u8(&mut self, _: u8) {}
    fn finish(&self) -> u64 {
        self.0
    }
}

type TextBuild = std::hash::BuildHasherDefault<TextHasher>;

/// A set of labels or names.
type NameSet<'a> = HashSet<&'a str, TextBuild>;

/// Struct literals with at most this many declarations answer label lookups by scanning
/// their declarations; larger ones build a hash set once (per literal, shared).
const LABEL_SCAN_MAX: usize = 16;

/// Which of a literal's `Name` labels a [`Labels`] holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LabelFilter {
    /// The names a scope resolves: unquoted labels.
    Names,
    /// The labels closedness allows: regular (not `#definition`, not `_hidden`) labels.
    Regular,
}

impl LabelFilter {
    fn keep(self, l: &Label<'_>, name: &str) -> bool {
        match self {
            LabelFilter::Names => !l.quoted,
            LabelFilter::Regular => label_is_regular(name),
        }
    }

    /// The `Name` labels of the fields in `decls` that the filter keeps, in order.
    fn names<'a>(self, decls: &'a [Decl<'a>]) -> impl Iterator<Item = &'a str> {
        decls.iter().filter_map(move |d| match d {
            Decl::Field(fd) => match fd.label.kind {
                LabelKind::Name(n) if self.keep(&fd.label, n) => Some(*n),
                _ => None,
            },
            _ => None,
        })
    }
}

/// The labels of a struct literal (or of several, for the package scope), read from the
/// syntax tree: no allocation for the common small literal.
#[derive(Clone)]
enum Labels<'a> {
    None,
    /// The fields of a small literal that the filter keeps.
    Scan(&'a [Decl<'a>], LabelFilter),
    /// A large literal's labels, hashed once and shared by every use of the literal.
    Set(Rc<NameSet<'a>>),
}

impl Labels<'_> {
    fn contains(&self, label: &str) -> bool {
        match self {
            Labels::None => false,
            Labels::Scan(decls, f) => f.names(decls).any(|n| same_label(n, label)),
            Labels::Set(s) => s.contains(label),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Labels::None => true,
            Labels::Scan(decls, f) => f.names(decls).next().is_none(),
            Labels::Set(s) => s.is_empty(),
        }
    }

    /// Whether both are the labels of the same literal.
    fn same(&self, other: &Labels<'_>) -> bool {
        match (self, other) {
            (Labels::Scan(a, f), Labels::Scan(b, g)) => std::ptr::eq(*a, *b) && f == g,
            (Labels::Set(a), Labels::Set(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }
}

pub(crate) type NodeId = u32;
pub(crate) type EnvId = u32;
type GroupId = u32;
/// The closedness groups of a conjunct: one shared allocation.
type Groups = Rc<[GroupId]>;
/// The closedness groups a conjunct's processing creates: almost always none or one, kept
/// inline (no allocation).
type NewGroups = smallvec::SmallVec<[GroupId; 2]>;
/// The values a disjunction resolves to, with their default flags (usually one or two).
type Leaves = smallvec::SmallVec<[(Val, bool); 2]>;

/// Kind bits.
pub(crate) mod k {
    pub const NULL: u16 = 1;
    pub const BOOL: u16 = 2;
    pub const INT: u16 = 4;
    pub const FLOAT: u16 = 8;
    pub const STRING: u16 = 16;
    pub const BYTES: u16 = 32;
    pub const STRUCT: u16 = 64;
    pub const LIST: u16 = 128;
    pub const NUMBER: u16 = INT | FLOAT;
    pub const TOP: u16 = 255;
}

#[derive(Debug, Clone)]
pub(crate) struct EvalErr {
    /// Field path override (when the error belongs to a child, e.g. a disallowed field).
    pub path: Option<String>,
    pub kind: DiagnosticKind,
    pub msg: String,
    pub span: Option<Span>,
    /// A reference to a field its struct does not have, or has only as an optional field:
    /// incomplete, yet a disjunct with it is dropped as with any other error, as official
    /// CUE does (`x.missing | 3` is `3`).
    pub missing: bool,
}

impl EvalErr {
    /// An error of `kind` at `span`, with no path override.
    pub(crate) fn new(kind: DiagnosticKind, msg: impl Into<String>, span: Option<Span>) -> Self {
        EvalErr { path: None, kind, msg: msg.into(), span, missing: false }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoundOp {
    Lt,
    Le,
    Gt,
    Ge,
    Ne,
    Match,
    NotMatch,
    /// A partially applied validator such as `strings.MinRunes(3)`: `val` is a list-less
    /// marker; the builtin name and extra arguments live in `Bound::re`-free fields.
    Validator,
}

#[derive(Debug, Clone)]
pub(crate) struct Bound {
    pub op: BoundOp,
    pub val: Val,
    pub re: Option<Rc<regex::Regex>>,
    /// Validator arguments (for [`BoundOp::Validator`]; `val` is the builtin).
    pub args: Option<Rc<Vec<Val>>>,
}

impl Bound {
    pub(crate) fn validator(name: &str, args: Vec<Val>) -> Self {
        Bound { op: BoundOp::Validator, val: Val::Builtin(Rc::from(name)), re: None, args: Some(Rc::new(args)) }
    }
}

/// An integer value, stored 8-byte aligned so that [`Val`] (and every node, conjunct and
/// list of values holding one) is not padded to `i128`'s 16-byte alignment. Read it with
/// [`I128::get`].
#[derive(Clone, Copy)]
#[repr(C, packed(8))]
pub(crate) struct I128(i128);

impl I128 {
    /// The value.
    #[inline]
    pub(crate) fn get(self) -> i128 {
        self.0
    }
}

impl std::fmt::Debug for I128 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        write!(f, "{v}")
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Val {
    Top,
    Err(Rc<EvalErr>),
    Null,
    Bool(bool),
    Int(I128),
    /// Boxed (shared) to keep `Val` small.
    Float(Rc<Decimal>),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Basic(u16, Rc<Vec<Bound>>),
    Struct(NodeId),
    List(NodeId),
    /// Leaves with their default flags.
    Disj(Rc<Vec<(Val, bool)>>),
    Builtin(Rc<str>),
    Package(Rc<str>),
}

impl Val {
    pub fn err(kind: DiagnosticKind, msg: impl Into<String>, span: Option<Span>) -> Val {
        Val::Err(Rc::new(EvalErr::new(kind, msg, span)))
    }
    /// An integer value.
    #[inline]
    pub fn int(i: i128) -> Val {
        Val::Int(I128(i))
    }
    pub fn float(d: Decimal) -> Val {
        Val::Float(Rc::new(d))
    }
    pub fn str(s: &str) -> Val {
        Val::Str(Rc::from(s))
    }
    pub fn kind(&self) -> u16 {
        match self {
            Val::Top => k::TOP,
            Val::Err(_) => 0,
            Val::Null => k::NULL,
            Val::Bool(_) => k::BOOL,
            Val::Int(_) => k::INT,
            Val::Float(_) => k::FLOAT,
            Val::Str(_) => k::STRING,
            Val::Bytes(_) => k::BYTES,
            Val::Basic(m, _) => *m,
            Val::Struct(_) => k::STRUCT,
            Val::List(_) => k::LIST,
            Val::Disj(l) => l.iter().fold(0, |a, (v, _)| a | v.kind()),
            Val::Builtin(_) | Val::Package(_) => 0,
        }
    }
    pub fn is_concrete_scalar(&self) -> bool {
        matches!(self, Val::Null | Val::Bool(_) | Val::Int(_) | Val::Float(_) | Val::Str(_) | Val::Bytes(_))
    }
}

#[derive(Clone)]
enum CK<'a> {
    Expr(&'a Expr<'a>, EnvId),
    /// A file's top-level declarations (the package root's conjuncts).
    Decls(&'a [Decl<'a>], EnvId),
    /// An evaluated value and where it came from: rare (builtin results, copies of built
    /// values, disjunction leaves), so shared behind one pointer to keep conjuncts small.
    Val(Rc<(Val, OptSpan)>),
}

impl CK<'_> {
    fn val(v: Val, span: Option<Span>) -> Self {
        CK::Val(Rc::new((v, span.into())))
    }
}

#[derive(Clone)]
struct Conj<'a> {
    kind: CK<'a>,
    groups: Groups,
}

#[derive(Clone)]
enum Bind<'a> {
    Let(&'a Expr<'a>, EnvId),
    Val(Val),
    Alias(&'a str),
    Import(Rc<str>, usize, usize),
}

struct Env<'a> {
    parent: Option<EnvId>,
    node: NodeId,
    names: Labels<'a>,
    binds: Vec<(&'a str, Bind<'a>)>,
}

/// A closedness group: the labels a closed struct allows.
#[derive(Default)]
struct Group<'a> {
    /// The regular static labels of each struct literal of the group, shared between every
    /// use of the literal (a definition instantiated many times builds its set once).
    sets: smallvec::SmallVec<[Labels<'a>; 1]>,
    open: bool,
    /// An embedding scope (see [`Ev::process_struct`]): it records the labels declared in a
    /// struct literal with embeddings and in everything embedded, and restricts nothing itself.
    scope: bool,
    /// Dynamic labels and pattern constraints, which most groups do not have.
    more: Option<Box<GroupMore<'a>>>,
}

#[derive(Default)]
struct GroupMore<'a> {
    /// Other allowed labels (dynamic labels, embedded structs' labels).
    labels: NameSet<'a>,
    patterns: Vec<(Val, bool)>,
    /// Embedding scopes whose labels this group also allows (a definition embedded in a
    /// literal is closed over the literal's and its fellow embeddings' fields, at every depth).
    scopes: Vec<GroupId>,
}

impl<'a> Group<'a> {
    fn more(&mut self) -> &mut GroupMore<'a> {
        self.more.get_or_insert_with(Default::default)
    }

    /// Whether the label is allowed without consulting the pattern constraints.
    fn allows(&self, label: &str) -> bool {
        self.open
            || self.sets.iter().any(|s| s.contains(label))
            || self.more.as_deref().is_some_and(|m| m.labels.contains(label))
    }

    fn patterns(&self) -> &[(Val, bool)] {
        self.more.as_deref().map_or(&[], |m| &m.patterns)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum St {
    New,
    Expanding,
    Expanded,
    Finalizing,
    Done,
}

struct Pattern<'a> {
    pat: Val,
    alias: Option<Name<'a>>,
    value: &'a Expr<'a>,
    env: EnvId,
    groups: Groups,
    /// The fields the node had before the declaring literal, with their conjunct counts then:
    /// CUE v0.4 unifies the constraint into such a field after those conjuncts (and before
    /// later literals' declarations), and into a later field right after the declaration that
    /// creates it (see [`Ev::pattern_snapshot`]).
    before: smallvec::SmallVec<[(NodeId, u32); 4]>,
    /// The declaring literal: its optional declaration of a field joins the field before the
    /// constraint.
    lit: &'a [Decl<'a>],
}

struct DisjInfo<'a> {
    /// The alternatives (two inline: most disjunctions have two).
    alts: smallvec::SmallVec<[(Conj<'a>, bool); 2]>,
    has_default: bool,
}

struct ListLen<'a> {
    len: usize,
    tail: Option<Option<(Conj<'a>, Span)>>,
}

/// A field label: a string the syntax-tree arena keeps for the whole evaluation (labels from
/// the source, computed labels and list indices alike), so nodes and arcs share it by a plain
/// reference: no reference counting per node or arc, and 8 bytes instead of 16.
type Lbl<'a> = Name<'a>;

/// Child arcs of a node in insertion order. Most structs have a handful of fields, so the
/// labels are scanned linearly; past [`ARC_INDEX_MIN`] entries a hash index is built.
#[derive(Default)]
struct Arcs<'a> {
    entries: Vec<(Lbl<'a>, NodeId)>,
    #[allow(clippy::box_collection)] // boxed: a pointer in the (common) unindexed node
    index: Option<Box<HashMap<&'a str, usize, TextBuild>>>,
}

/// CUE's default modes of a value left by a disjunction ([`Node::leaf_default`]).
mod leaf {
    /// Not a default: a marked disjunction's other leaf.
    pub const NOT: u8 = 0;
    /// No mark speaks for or against it (an unmarked disjunction, or a plain value).
    pub const MAYBE: u8 = 1;
    /// A default a marked disjunction chose.
    pub const IS: u8 = 2;
}

/// The bit of [`Node::arc_seq`] that places dynamic fields after static ones.
const ARC_SEQ_DYNAMIC: u32 = 1 << 31;

/// Number of arcs from which [`Arcs`] keeps a hash index.
const ARC_INDEX_MIN: usize = 16;

impl<'a> Arcs<'a> {
    fn with_capacity(n: usize) -> Self {
        Arcs { entries: Vec::with_capacity(n), index: None }
    }

    /// Room for `n` more fields (and, for that many, an index sized for them up front).
    fn reserve_exact(&mut self, n: usize) {
        self.entries.reserve_exact(n);
        if self.index.is_none() && self.entries.len() + n >= ARC_INDEX_MIN {
            self.build_index(self.entries.len() + n);
        }
    }

    /// Indexes the fields so far, in a map with room for `capacity` fields.
    fn build_index(&mut self, capacity: usize) {
        let mut ix = HashMap::with_capacity_and_hasher(capacity, TextBuild::default());
        for (j, (k, _)) in self.entries.iter().enumerate() {
            ix.insert(**k, j);
        }
        self.index = Some(Box::new(ix));
    }

    fn get_index_of(&self, label: &str) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(label).copied(),
            // interned labels of one file are one string: compare addresses before bytes
            None => self.entries.iter().position(|(k, _)| same_label(k, label)),
        }
    }

    fn get(&self, label: &str) -> Option<&NodeId> {
        self.get_index_of(label).map(|i| &self.entries[i].1)
    }

    fn insert(&mut self, label: Lbl<'a>, v: NodeId) {
        if let Some(i) = self.get_index_of(label) {
            self.entries[i].1 = v;
            return;
        }
        self.push_new(label, v);
    }

    /// Appends a field the caller has just looked up and not found.
    fn push_new(&mut self, label: Lbl<'a>, v: NodeId) {
        let i = self.entries.len();
        if self.index.is_none() && i + 1 >= ARC_INDEX_MIN {
            self.build_index(2 * i + 2);
        }
        if let Some(ix) = &mut self.index {
            ix.insert(label, i);
        }
        self.entries.push((label, v));
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.index = None;
    }

    /// The same fields in `order` (arc indices, a permutation: no lookups needed).
    fn permuted(self, order: &[usize]) -> Self {
        let mut out = Arcs::with_capacity(self.entries.len());
        for &i in order {
            if let Some(&(k, v)) = self.entries.get(i) {
                out.push_new(k, v);
            }
        }
        out
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn iter(&self) -> impl Iterator<Item = (Lbl<'a>, &NodeId)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    fn values(&self) -> impl Iterator<Item = &NodeId> {
        self.entries.iter().map(|(_, v)| v)
    }
}

/// A short list: most nodes have zero or one conjunct, copied node, closedness group or
/// field-order record, kept inline (no allocation). `M` holds two or more.
#[derive(Clone, Default)]
enum Few<T, M = Vec<T>> {
    #[default]
    None,
    One(T),
    Many(M),
}

/// A short list of ids: 16 bytes (the rare longer list behind one more pointer).
#[allow(clippy::box_collection)] // a thin pointer keeps the common node small
type Ids = Few<u32, Box<Vec<u32>>>;

impl<T, M: AsRef<Vec<T>> + AsMut<Vec<T>> + From<Vec<T>>> Few<T, M> {
    fn len(&self) -> usize {
        match self {
            Few::None => 0,
            Few::One(_) => 1,
            Few::Many(v) => v.as_ref().len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, i: usize) -> Option<&T> {
        match self {
            Few::None => None,
            Few::One(c) => (i == 0).then_some(c),
            Few::Many(v) => v.as_ref().get(i),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    fn push(&mut self, c: T) {
        match std::mem::replace(self, Few::None) {
            Few::None => *self = Few::One(c),
            Few::One(first) => *self = Few::Many(M::from(vec![first, c])),
            Few::Many(mut v) => {
                v.as_mut().push(c);
                *self = Few::Many(v);
            }
        }
    }

    fn clear(&mut self) {
        *self = Few::None;
    }
}

impl<T> Few<T> {
    /// The first element, dropping the others.
    fn into_first(self) -> Option<T> {
        match self {
            Few::None => None,
            Few::One(t) => Some(t),
            Few::Many(v) => v.into_iter().next(),
        }
    }
}

impl<T: PartialEq, M: AsRef<Vec<T>> + AsMut<Vec<T>> + From<Vec<T>>> Few<T, M> {
    fn contains(&self, x: &T) -> bool {
        self.iter().any(|y| y == x)
    }
}

/// Rarely used per-node state, boxed so that the common node stays small.
#[derive(Default)]
struct Cold<'a> {
    attrs: Vec<Attribute>,
    lists: smallvec::SmallVec<[ListLen<'a>; 1]>,
    /// Disjunctions not yet resolved (almost always one: kept inline).
    disjs: Few<DisjInfo<'a>>,
    choices: Option<Rc<Vec<usize>>>,
    disj_seen: usize,
    patterns: Vec<Pattern<'a>>,
    comps: Vec<(&'a Comprehension<'a>, EnvId, Groups)>,
    deferred: Vec<Conj<'a>>,
    /// Label order of every struct literal with more than one field, until the fields are
    /// sorted at the end of expansion (only nodes with several literals need it).
    seqs: Few<SeqSrc<'a>>,
    /// Optional fields a later struct literal declared for labels the node has no field
    /// for, not made fields unless one comes (see [`Ev::process_struct`]).
    optional: Vec<DeferredOptional<'a>>,
}

/// An optional field kept aside by [`Ev::process_struct`]: its label, value and scope, the
/// closedness groups to derive its own from, and where it is declared.
struct DeferredOptional<'a> {
    label: Lbl<'a>,
    value: &'a Expr<'a>,
    env: EnvId,
    groups: Groups,
    span: Span,
}

impl Cold<'_> {
    /// Holds nothing an evaluation of the node would add (attributes come with the
    /// declarations).
    fn is_pristine(&self) -> bool {
        self.lists.is_empty()
            && self.disjs.is_empty()
            && self.choices.is_none()
            && self.disj_seen == 0
            && self.patterns.is_empty()
            && self.comps.is_empty()
            && self.deferred.is_empty()
            && self.seqs.is_empty()
            && self.optional.is_empty()
    }

    /// Keeps only what survives a reset of the node: its attributes and chosen disjuncts.
    fn keep_reset_state(&mut self) {
        let attrs = std::mem::take(&mut self.attrs);
        let choices = self.choices.take();
        *self = Cold { attrs, choices, ..Cold::default() };
    }
}

/// One "front" of CUE's field ordering (see [`Ev::sort_arcs`]): the static labels of a struct
/// literal in declaration order, or the fields of a built struct value (a builtin's result).
enum SeqSrc<'a> {
    Decls(&'a [Decl<'a>]),
    Labels(Vec<Lbl<'a>>),
}

impl SeqSrc<'_> {
    /// Calls `f` with each label in order, without collecting them.
    fn for_each_label(&self, mut f: impl FnMut(&str)) {
        match self {
            SeqSrc::Decls(decls) => {
                for d in decls.iter() {
                    if let Decl::Field(fd) = d
                        && let LabelKind::Name(s) = &fd.label.kind
                    {
                        f(s);
                    }
                }
            }
            SeqSrc::Labels(labels) => labels.iter().for_each(|l| f(l)),
        }
    }
}

/// An optional node id in 4 bytes (`Option<NodeId>` takes 8): `u32::MAX` is none (node ids
/// stay below the node limit, itself below `u32::MAX`).
#[derive(Clone, Copy, PartialEq, Eq)]
struct OptId(u32);

impl OptId {
    const NONE: OptId = OptId(u32::MAX);

    fn get(self) -> Option<NodeId> {
        (self.0 != u32::MAX).then_some(self.0)
    }
}

impl From<Option<NodeId>> for OptId {
    fn from(o: Option<NodeId>) -> Self {
        OptId(o.unwrap_or(u32::MAX))
    }
}

/// An optional span in 12 bytes (`Option<Span>` takes 16): a span of file `u32::MAX` is none.
#[derive(Clone, Copy)]
struct OptSpan(Span);

impl OptSpan {
    const NONE: OptSpan = OptSpan(Span { file: super::source::FileId(u32::MAX), start: 0, end: 0 });

    fn some(s: Span) -> Self {
        OptSpan(s)
    }

    fn get(self) -> Option<Span> {
        (self.0.file.0 != u32::MAX).then_some(self.0)
    }

    fn is_none(self) -> bool {
        self.0.file.0 == u32::MAX
    }

    fn unwrap_or_default(self) -> Span {
        self.get().unwrap_or_default()
    }
}

impl From<Option<Span>> for OptSpan {
    fn from(o: Option<Span>) -> Self {
        o.map_or(OptSpan::NONE, OptSpan)
    }
}

struct Node<'a> {
    parent: OptId,
    label: Option<Lbl<'a>>,
    /// Two inline: a field declared once and unified with a definition's (the common
    /// pair) allocates nothing.
    conjs: smallvec::SmallVec<[Conj<'a>; 2]>,
    arcs: Arcs<'a>,
    acc: Val,
    value: Val,
    decl_span: OptSpan,
    acc_span: OptSpan,
    redirect: OptId,
    groups: Ids,
    copied: Ids,
    /// The first error of the subtree, once computed (`err_known`).
    err_sub: Option<Rc<EvalErr>>,
    err_known: bool,
    x: Option<Box<Cold<'a>>>,
    /// How many declarations of each kind the node has (saturating: only "none" and "some"
    /// matter).
    n_regular: u8,
    n_optional: u8,
    n_required: u8,
    /// Position among its siblings in CUE's arc order, which comprehensions iterate in
    /// (see [`Ev::number_arc`]); 0 until the field gets a regular declaration.
    arc_seq: u32,
    /// When the first struct literal met the node with no fields yet and added exactly its
    /// `k` static labels (the usual case), `k` (at most 255): the literal's label order is
    /// then the first `k` arcs, so it is not recorded in the cold state (see `sort_arcs`).
    seq_prefix: u8,
    state: St,
    is_index: bool,
    struct_seen: bool,
    is_def: bool,
    /// CUE's default mode of the node's value when a disjunction left one leaf
    /// ([`leaf::NOT`], [`leaf::MAYBE`] or [`leaf::IS`]).
    leaf_default: u8,
    built: bool,
    /// Whether the node has list conjuncts (mirrors `!x.lists.is_empty()`).
    has_lists: bool,
    /// While the field has only optional declarations (which CUE v0.4 keeps as constraints,
    /// not a field), the index of the first one's conjunct (`u8::MAX`: none): the first
    /// regular declaration, which makes the field in CUE, goes before it
    /// ([`Node::add_decl_conj`]).
    first_optional: u8,
    /// How many conjuncts the field had once its first regular declaration made it, with the
    /// optional declarations CUE then unifies into it (`0`: not yet): where pattern
    /// constraints declared before the field join it (see [`Ev::expand`]).
    created_end: u8,
}

impl<'a> Node<'a> {
    fn new(parent: Option<NodeId>, label: Option<Lbl<'a>>, is_index: bool) -> Self {
        let is_def = label.is_some_and(|l| l.starts_with('#') || l.starts_with("_#"));
        Node {
            parent: parent.into(),
            label,
            is_index,
            conjs: smallvec::SmallVec::new(),
            state: St::New,
            arcs: Arcs::default(),
            decl_span: OptSpan::NONE,
            n_regular: 0,
            n_optional: 0,
            n_required: 0,
            acc: Val::Top,
            acc_span: OptSpan::NONE,
            struct_seen: false,
            groups: Few::None,
            copied: Few::None,
            value: Val::Top,
            redirect: OptId::NONE,
            err_sub: None,
            err_known: false,
            is_def,
            leaf_default: leaf::MAYBE,
            built: false,
            arc_seq: 0,
            seq_prefix: 0,
            x: None,
            has_lists: false,
            first_optional: u8::MAX,
            created_end: 0,
        }
    }

    /// Declared only optional (`a?:` in every declaration): not exported, not walked.
    fn is_optional(&self) -> bool {
        self.n_regular == 0 && self.n_optional > 0 && self.n_required == 0
    }

    /// Adds a conjunct; most nodes have exactly one, so the first allocation is exact.
    fn add_conj(&mut self, c: Conj<'a>) {
        self.conjs.push(c);
    }

    /// Records a declaration of this field: where it is first declared, how (regular,
    /// optional, required), and its value.
    fn declare(&mut self, c: Conj<'a>, constraint: Constraint, span: Span) {
        if self.decl_span.is_none() {
            self.decl_span = OptSpan::some(span);
        }
        match constraint {
            Constraint::None => self.n_regular = self.n_regular.saturating_add(1),
            Constraint::Optional => self.n_optional = self.n_optional.saturating_add(1),
            Constraint::Required => self.n_required = self.n_required.saturating_add(1),
        }
        self.add_decl_conj(c, constraint == Constraint::Optional);
    }

    /// Adds the conjunct of a field declaration in CUE v0.4's order. CUE keeps optional
    /// declarations as constraints of their struct and unifies them into the field when a
    /// regular declaration makes it (right after that one), or at once when the field
    /// already exists: so the first regular declaration goes before the optional ones met
    /// so far (`#S: {a?: {p: 1, q: 2}}` with `#S & {a: {q: 2, p: 1}}` exports `q, p`), and
    /// every later declaration, regular or optional, comes after
    /// (`{a: {q: 1}} & {a?: {p: 1}} & {a: {r: 1}}` exports `q, p, r`). Only a node not being
    /// expanded is reordered (an expansion walks its conjuncts by index).
    fn add_decl_conj(&mut self, c: Conj<'a>, optional: bool) {
        let made = self.created_end != 0;
        if optional {
            if !made && self.first_optional == u8::MAX {
                self.first_optional = u8::try_from(self.conjs.len()).unwrap_or(u8::MAX);
            }
            self.conjs.push(c);
            return;
        }
        if self.first_optional != u8::MAX && self.state == St::New {
            self.conjs.insert(usize::from(self.first_optional), c);
        } else {
            self.conjs.push(c);
        }
        self.first_optional = u8::MAX;
        if !made {
            self.created_end = u8::try_from(self.conjs.len()).unwrap_or(u8::MAX);
        }
    }

    /// The cold state, allocated on first use.
    fn cx(&mut self) -> &mut Cold<'a> {
        self.x.get_or_insert_with(Default::default)
    }

    fn attrs(&self) -> &[Attribute] {
        self.x.as_deref().map_or(&[], |x| &x.attrs)
    }

    fn has_disjs(&self) -> bool {
        self.x.as_deref().is_some_and(|x| !x.disjs.is_empty())
    }

    fn has_patterns(&self) -> bool {
        self.x.as_deref().is_some_and(|x| !x.patterns.is_empty())
    }

    fn push_list(&mut self, l: ListLen<'a>) {
        self.has_lists = true;
        self.cx().lists.push(l);
    }
}

/// Node storage: fixed-size chunks, so that growing never moves (and transiently doubles)
/// the nodes already created.
///
/// While a top-level field is exported in streaming mode (see [`Ev::export_streamed`]) the
/// store also watches for mutable access to the nodes that existed before the field's
/// evaluation started, except the field itself ([`Watch`]): only when none was touched can
/// the nodes created since be dropped ([`Nodes::truncate`]).
struct Nodes<'a> {
    chunks: Vec<Vec<Node<'a>>>,
    len: usize,
    watch: Watch,
    /// Emptied chunks kept for reuse after a truncation.
    spare: Vec<Vec<Node<'a>>>,
}

/// Watches a store's entries below an id (except one) for mutable access: [`Nodes`] and
/// [`IdVec`] report every `index_mut` to [`Watch::note`].
struct Watch {
    /// Entries below this id are watched (0: none is).
    floor: u32,
    /// The one watched entry that may change.
    exempt: u32,
    /// A watched entry was borrowed mutably since [`Watch::start`].
    touched: bool,
}

impl Watch {
    const OFF: Watch = Watch { floor: 0, exempt: u32::MAX, touched: false };

    /// Watches the entries below `floor`, except `exempt`.
    fn start(&mut self, floor: u32, exempt: u32) {
        *self = Watch { floor, exempt, touched: false };
    }

    fn stop(&mut self) {
        *self = Watch::OFF;
    }

    #[inline]
    fn note(&mut self, i: u32) {
        if i < self.floor && i != self.exempt {
            self.touched = true;
        }
    }
}

/// Nodes per chunk of [`Nodes`] (a power of two).
const NODE_CHUNK: usize = 256;

impl<'a> Nodes<'a> {
    fn new() -> Self {
        Nodes { chunks: Vec::new(), len: 0, watch: Watch::OFF, spare: Vec::new() }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, n: Node<'a>) {
        if self.len.is_multiple_of(NODE_CHUNK) {
            let chunk = self.spare.pop().unwrap_or_else(|| Vec::with_capacity(NODE_CHUNK));
            self.chunks.push(chunk);
        }
        if let Some(c) = self.chunks.last_mut() {
            c.push(n);
        }
        self.len += 1;
    }

    /// Drops the nodes from id `len` on, keeping their chunks' memory for the next ones.
    fn truncate(&mut self, len: usize) {
        while self.len > len {
            let base = self.chunks.len().saturating_sub(1) * NODE_CHUNK;
            let keep = len.saturating_sub(base);
            let Some(last) = self.chunks.last_mut() else { break };
            if keep > 0 {
                last.truncate(keep);
                self.len = len;
            } else {
                self.len -= last.len();
                if let Some(mut c) = self.chunks.pop() {
                    c.clear();
                    self.spare.push(c);
                }
            }
        }
    }
}

impl<'a> std::ops::Index<NodeId> for Nodes<'a> {
    type Output = Node<'a>;
    fn index(&self, i: NodeId) -> &Node<'a> {
        let i = i as usize;
        &self.chunks[i / NODE_CHUNK][i % NODE_CHUNK]
    }
}

impl std::ops::IndexMut<NodeId> for Nodes<'_> {
    fn index_mut(&mut self, i: NodeId) -> &mut Self::Output {
        self.watch.note(i);
        let i = i as usize;
        &mut self.chunks[i / NODE_CHUNK][i % NODE_CHUNK]
    }
}

/// Environments or closedness groups indexed by `u32` ids (half the size of `usize` in the
/// conjuncts and nodes that refer to them). Their number is bounded by the step limit, far
/// below `u32::MAX`.
///
/// Like [`Nodes`], it can watch the elements that exist at a point for mutable access
/// ([`Watch`]), so that the ones added since can be dropped when nothing older changed.
struct IdVec<T> {
    items: Vec<T>,
    watch: Watch,
}

impl<T> IdVec<T> {
    fn new() -> Self {
        IdVec { items: Vec::new(), watch: Watch::OFF }
    }

    /// The id the next pushed element gets.
    fn next_id(&self) -> u32 {
        self.items.len() as u32
    }

    /// Appends an element and returns its id.
    fn push(&mut self, v: T) -> u32 {
        let id = self.next_id();
        self.items.push(v);
        id
    }

    fn truncate(&mut self, len: u32) {
        self.items.truncate(len as usize);
    }
}

impl<T> std::ops::Index<u32> for IdVec<T> {
    type Output = T;
    fn index(&self, i: u32) -> &T {
        &self.items[i as usize]
    }
}

impl<T> std::ops::IndexMut<u32> for IdVec<T> {
    fn index_mut(&mut self, i: u32) -> &mut T {
        self.watch.note(i);
        &mut self.items[i as usize]
    }
}

/// Fatal evaluation error (limits): aborts the whole evaluation.
pub(crate) struct Fatal(pub EvalErr);

pub(crate) type R<T> = Result<T, Fatal>;

pub(crate) struct Ev<'a> {
    pub files: &'a [SourceFile],
    opts: &'a EvalOptions,
    nodes: Nodes<'a>,
    envs: IdVec<Env<'a>>,
    groups: IdVec<Group<'a>>,
    derived: HashMap<(GroupId, Lbl<'a>), GroupId, FxBuild>,
    names_cache: HashMap<usize, Rc<NameSet<'a>>, FxBuild>,
    /// Regular static field labels of a struct literal (keyed by its declarations' address).
    labels_cache: HashMap<usize, Rc<NameSet<'a>>, FxBuild>,
    /// The evaluated alternatives of a disjunction of literals and basic types (keyed by
    /// its expression's address; `None`: not such a disjunction), see
    /// [`Ev::expand_scalar_disj`].
    or_cache: HashMap<usize, Option<Rc<ScalarOr>>, FxBuild>,
    /// The struct literals with constraints (optional fields, pattern constraints, a typed
    /// `...T`) and the nodes they were unified into, in processing order, and (`None`) the
    /// nodes that got a list literal with a typed tail (`[...T]`, which CUE v0.4 makes a new
    /// struct literal of at each evaluation): two disjuncts unified from different ones, or
    /// with a typed list tail, are distinct values ([`Ev::same_disjunct`]). Entries of
    /// nodes a streamed field dropped (and of the field, reset) are dropped with them; a node
    /// reset for a late conjunct keeps its entries (conjuncts only grow, so its
    /// re-evaluation unifies the same literals again, and more).
    constraint_lits: Vec<(NodeId, Option<&'a [Decl<'a>]>)>,
    /// Labels `"0"`, `"1"`, ... of list elements.
    index_labels: Vec<Lbl<'a>>,
    /// The label closedness derives list elements' groups with (`[]`).
    elem_label: Lbl<'a>,
    /// Where computed labels live (with the syntax tree's own).
    arena: &'a Arena,
    /// The empty closedness-group list.
    no_groups: Groups,
    depth: usize,
    steps: u64,
    pub regex_cache: HashMap<String, Rc<regex::Regex>>,
    imports_used: Vec<Vec<bool>>,
    /// Reused buffers of [`Ev::sort_arcs`].
    order_scratch: OrderScratch,
    /// The predeclared basic types (`int`, `string`, ...) in [`BASIC_TYPES`] order, built once
    /// and shared by every reference to them.
    basic_types: Vec<Val>,
    /// The message-less error of a conflict nobody will see (a failed disjunction
    /// alternative), shared instead of allocated per conflict.
    quiet_conflict: Rc<EvalErr>,
    /// Bit `i` is set when a declaration binds the name of `BASIC_TYPES[i]` somewhere
    /// ([`super::check::bound_basic_types`]); an unbound one resolves without a scope walk.
    basic_bound: u64,
    /// Reused buffer for the flattened alternatives of a disjunction.
    or_scratch: Vec<(&'a Expr<'a>, bool)>,
    /// The last [`Node::arc_seq`] given.
    arc_counter: u32,
    /// The (node, copied node) pairs of the copies under way.
    copying: Vec<(NodeId, NodeId)>,
    /// The embedding scope of the embedding being processed, if any (see `process_struct`).
    embedding_scope: Option<GroupId>,
    /// In streaming export, the root: finalizing it leaves its fields to the export, which
    /// evaluates them one at a time (see [`Ev::export_streamed`]).
    stream_root: OptId,
    /// While a streamed field is evaluated, the derived-group cache entries added (removed
    /// again when the field's nodes are dropped).
    derived_log: Option<Vec<(GroupId, Lbl<'a>)>>,
    /// Top-level fields whose evaluation the streaming export dropped.
    dropped: usize,
    /// Whether optional fields no other declaration makes fields may be left out of the
    /// tree (the JSON export never shows them; the public value tree lists them).
    defer_optional: bool,
}

/// A disjunction whose alternatives are literal scalars and basic types, evaluated once
/// (they mean the same wherever the expression is used when no declaration shadows a basic
/// type's name): each alternative with its default mark.
struct ScalarOr {
    alts: Vec<(Val, bool)>,
    has_default: bool,
}

/// What [`Ev::export_streamed`] needs to drop a top-level field's evaluation again: the
/// store sizes before it, and what the field's own node held.
struct Checkpoint {
    field: NodeId,
    nodes: usize,
    envs: u32,
    groups: u32,
    conjs: usize,
    attrs: usize,
    had_cold: bool,
}

/// Working buffers of the field-order sort, kept between calls to avoid allocating per struct.
#[derive(Default)]
struct OrderScratch {
    /// The fronts' arc indices, one after the other.
    items: Vec<usize>,
    /// Each front's remaining range in `items`.
    fronts: Vec<(usize, usize)>,
    covered: Vec<bool>,
    counts: Vec<i64>,
    order: Vec<usize>,
}

enum Target<'a> {
    Node(NodeId),
    Val(Val),
    Let(&'a Expr<'a>, EnvId),
}

fn perr(kind: DiagnosticKind, msg: impl Into<String>, span: Span) -> Val {
    Val::err(kind, msg, Some(span))
}

/// The incomplete error of a reference to a field its struct does not have (see
/// [`EvalErr::missing`]).
fn missing_field(msg: String, span: Span) -> Val {
    Val::Err(Rc::new(EvalErr { missing: true, ..EvalErr::new(DiagnosticKind::Incomplete, msg, Some(span)) }))
}

const STD_PACKAGES: &[&str] =
    &["strings", "list", "math", "regexp", "strconv", "encoding/json", "encoding/yaml", "encoding/base64"];

pub(crate) fn evaluate<'a>(
    arena: &'a Arena,
    files: &'a [SourceFile],
    asts: &'a [ast::File<'a>],
    opts: &'a EvalOptions,
) -> Result<Value, Diagnostics> {
    let (mut ev, root) = evaluate_root(arena, files, asts, opts, false, false)?;
    let mut errs = Vec::new();
    let v = match ev.build_public(root, &mut String::new(), &mut errs, 0) {
        Ok(v) => v,
        Err(f) => return Err(fatal_diag(f, files)),
    };
    if !errs.is_empty() {
        return Err(Diagnostics(errs));
    }
    Ok(v)
}

/// Evaluates and writes the JSON of `cue export --out=json` straight from the evaluator's
/// nodes, without building the public [`Value`] tree: the same walk, in the same order, as
/// [`evaluate`] followed by [`Value::to_json_string`], so the text and the errors (every
/// error of the tree first, else the first incomplete value in export order) are identical,
/// at a fraction of the memory (the `Value` tree alone is about 20× the input).
///
/// The top-level fields are streamed: each is evaluated, written, and its evaluation dropped
/// again when nothing else saw it (see [`Ev::export_streamed`]), so a large configuration of
/// independent top-level values never holds all their nodes at once.
pub(crate) fn export_json<'a>(
    arena: &'a Arena,
    files: &'a [SourceFile],
    asts: &'a [ast::File<'a>],
    opts: &'a EvalOptions,
) -> Result<String, Diagnostics> {
    export_json_with(arena, files, asts, opts, true).0
}

/// [`export_json`], streaming the top-level fields or not; also returns how many top-level
/// fields had their evaluation dropped.
fn export_json_with<'a>(
    arena: &'a Arena,
    files: &'a [SourceFile],
    asts: &'a [ast::File<'a>],
    opts: &'a EvalOptions,
    stream: bool,
) -> (Result<String, Diagnostics>, usize) {
    let (mut ev, root) = match evaluate_root(arena, files, asts, opts, stream, true) {
        Ok(r) => r,
        Err(d) => return (Err(d), 0),
    };
    let total: usize = files.iter().map(|f| f.text().len()).sum();
    // (capacity the output does not reach is never touched, so it costs no memory)
    let mut w =
        JsonOut { out: String::with_capacity(total * 4 + 16), path: Vec::new(), errs: Vec::new(), incomplete: None };
    if let Err(f) = ev.export_node(root, &mut w, 0, Some(0)) {
        return (Err(fatal_diag(f, files)), ev.dropped);
    }
    let dropped = ev.dropped;
    drop(ev);
    if !w.errs.is_empty() {
        return (Err(Diagnostics(w.errs)), dropped);
    }
    if let Some(d) = w.incomplete {
        return (Err(Diagnostics::one(d)), dropped);
    }
    w.out.push('\n');
    (Ok(w.out), dropped)
}

/// Output state of [`Ev::export_node`].
struct JsonOut<'a> {
    out: String,
    /// Field path of the value being exported, for errors: kept as segments and spelled out
    /// (`a.b[0].c`) only when an error needs it.
    path: Vec<PathSeg<'a>>,
    /// Errors anywhere in the tree (they win over an incomplete value).
    errs: Vec<Diagnostic>,
    /// The first non-concrete value in export order; writing stops there.
    incomplete: Option<Diagnostic>,
}

/// One step of [`JsonOut::path`].
#[derive(Clone, Copy)]
enum PathSeg<'a> {
    Field(Lbl<'a>),
    Index(usize),
}

impl JsonOut<'_> {
    fn writing(&self, indent: Option<usize>) -> bool {
        indent.is_some() && self.incomplete.is_none()
    }

    /// The path spelled as in diagnostics (`a.b[0].c`).
    fn path_text(&self) -> String {
        let mut p = String::new();
        for seg in &self.path {
            match seg {
                PathSeg::Field(l) => {
                    super::export::push_seg(&mut p, l);
                }
                PathSeg::Index(i) => {
                    super::export::push_index(&mut p, *i);
                }
            }
        }
        p
    }
}

/// Parses-checked setup shared by [`evaluate`] and [`export_json`]: builds the evaluator,
/// finalizes the root and reports unused `let`s.
fn evaluate_root<'a>(
    arena: &'a Arena,
    files: &'a [SourceFile],
    asts: &'a [ast::File<'a>],
    opts: &'a EvalOptions,
    stream: bool,
    json_only: bool,
) -> Result<(Ev<'a>, NodeId), Diagnostics> {
    // package consistency
    let mut pkg: Option<&str> = None;
    for (i, a) in asts.iter().enumerate() {
        let name = a.package.as_ref().map(|p| p.0.as_str()).unwrap_or("");
        match pkg {
            None => pkg = Some(name),
            Some(p) if p != name => {
                let sp = a.package.as_ref().map(|p| p.1).unwrap_or(a.span);
                return Err(Diagnostics::one(
                    Diagnostic::new(
                        DiagnosticKind::Eval,
                        format!("found packages \"{p}\" and \"{name}\" in the same instance"),
                    )
                    .with_span(sp, files),
                ));
            }
            _ => {}
        }
        let _ = i;
    }
    let total: usize = files.iter().map(|f| f.text().len()).sum();
    let mut ev = Ev {
        files,
        opts,
        nodes: Nodes::new(),
        envs: IdVec { items: Vec::with_capacity(total / 64), ..IdVec::new() },
        groups: IdVec::new(),
        derived: HashMap::default(),
        names_cache: HashMap::default(),
        labels_cache: HashMap::default(),
        or_cache: HashMap::default(),
        constraint_lits: Vec::new(),
        index_labels: Vec::new(),
        elem_label: arena.name("[]"),
        arena,
        no_groups: Rc::from([]),
        depth: 0,
        steps: 0,
        regex_cache: HashMap::new(),
        imports_used: Vec::new(),
        order_scratch: OrderScratch::default(),
        basic_types: BASIC_TYPES.iter().map(|(_, kk)| Val::Basic(*kk, Rc::new(Vec::new()))).collect(),
        quiet_conflict: Rc::new(EvalErr::new(DiagnosticKind::Eval, String::new(), None)),
        basic_bound: super::check::bound_basic_types(asts),
        or_scratch: Vec::new(),
        arc_counter: 0,
        copying: Vec::new(),
        embedding_scope: None,
        stream_root: OptId::NONE,
        derived_log: None,
        dropped: 0,
        defer_optional: json_only,
    };
    let root = ev.new_node(None, None, false).map_err(|f| fatal_diag(f, files))?;
    if stream {
        ev.stream_root = OptId(root);
    }
    // package scope: union of all top-level names
    let mut all = NameSet::with_capacity_and_hasher(asts.iter().map(|a| a.decls.len()).sum(), TextBuild::default());
    for a in asts {
        all.extend(LabelFilter::Names.names(a.decls));
    }
    let all = Rc::new(all);
    let empty: Groups = Rc::from([]);
    for (fi, a) in asts.iter().enumerate() {
        let mut binds = Vec::new();
        let mut used = Vec::new();
        for (ii, imp) in a.imports.iter().enumerate() {
            if !STD_PACKAGES.contains(&imp.path.as_str()) {
                return Err(Diagnostics::one(
                    Diagnostic::new(
                        DiagnosticKind::Unsupported,
                        format!("not supported: import of package \"{}\"", imp.path),
                    )
                    .with_span(imp.span, files)
                    .with_hint("only the standard packages strings, list, math, regexp, strconv, encoding/json and encoding/yaml are supported"),
                ));
            }
            binds.push((imp.name.as_str(), Bind::Import(Rc::from(imp.path.as_str()), fi, ii)));
            used.push(false);
        }
        ev.imports_used.push(used);
        let env = ev.envs.push(Env { parent: None, node: root, names: Labels::Set(all.clone()), binds });
        ev.nodes[root].add_conj(Conj { kind: CK::Decls(a.decls, env), groups: empty.clone() });
    }
    if let Some(d) = super::check::misplaced_defaults(asts, files) {
        return Err(Diagnostics::one(d));
    }
    if let Err(f) = ev.finalize(root) {
        return Err(fatal_diag(f, files));
    }
    if let Some(d) = super::check::unused_lets(asts, files) {
        return Err(Diagnostics::one(d));
    }
    Ok((ev, root))
}

fn fatal_diag(f: Fatal, files: &[SourceFile]) -> Diagnostics {
    let hint = if f.0.kind == DiagnosticKind::Limit {
        Some("the configuration is too large or recursive; simplify it or raise the limit in EvalOptions")
    } else {
        hint_for(&f.0.msg)
    };
    let mut d = Diagnostic::new(f.0.kind, f.0.msg);
    if let Some(h) = hint {
        d = d.with_hint(h);
    }
    if let Some(sp) = f.0.span {
        d = d.with_span(sp, files);
    }
    Diagnostics::one(d)
}

/// The labels of a struct literal: a small literal is scanned where asked, a large one gets a
/// set built once (keyed by its declarations' address) and shared.
fn literal_labels<'a>(
    cache: &mut HashMap<usize, Rc<NameSet<'a>>, FxBuild>,
    decls: &'a [Decl<'a>],
    filter: LabelFilter,
) -> Labels<'a> {
    if decls.len() <= LABEL_SCAN_MAX {
        return Labels::Scan(decls, filter);
    }
    Labels::Set(
        cache
            .entry(decls.as_ptr() as usize)
            .or_insert_with(|| {
                let mut set = NameSet::with_capacity_and_hasher(decls.len(), TextBuild::default());
                set.extend(filter.names(decls));
                Rc::new(set)
            })
            .clone(),
    )
}

/// CUE v0.4's merge of the fronts (see [`Ev::sort_arcs`]): leaves in `sc.order` the arc
/// indices in placement order.
fn merge_fronts(arcs: &Arcs<'_>, prefix: usize, seqs: &Few<SeqSrc<'_>>, sc: &mut OrderScratch) {
    let count = arcs.len();
    let OrderScratch { items, fronts, covered, counts, order } = sc;
    items.clear();
    fronts.clear();
    covered.clear();
    covered.resize(count, false);
    let prefix = prefix.min(count);
    if prefix > 0 {
        items.extend(0..prefix);
        fronts.push((0, prefix));
        covered[..prefix].iter_mut().for_each(|c| *c = true);
    }
    for src in seqs.iter() {
        let begin = items.len();
        src.for_each_label(|label| {
            if let Some(i) = arcs.get_index_of(label) {
                items.push(i);
                covered[i] = true;
            }
        });
        if items.len() > begin {
            fronts.push((begin, items.len()));
        }
    }
    let begin = items.len();
    items.extend((0..count).filter(|&i| !covered[i]));
    if items.len() > begin {
        fronts.push((begin, items.len()));
    }
    // counts[i] > 0: fronts still waiting to place i; < 0: placed, -1 first
    counts.clear();
    counts.resize(count, 0);
    for &(b, e) in fronts.iter() {
        for &i in &items[(b + 1).min(e)..e] {
            counts[i] += 1;
        }
    }
    let mut next: i64 = -1;
    loop {
        let mut moved = false;
        'fronts: for front in fronts.iter_mut() {
            let (b, e) = *front;
            if b >= e {
                continue;
            }
            let f = items[b];
            let c = counts[f];
            if c > 0 {
                continue 'fronts;
            }
            front.0 = b + 1;
            if e - (b + 1) > 1 && counts[items[b + 1]] > 0 {
                counts[items[b + 1]] -= 1;
            }
            if c == 0 {
                counts[f] = next;
                next -= 1;
            }
            moved = true;
            break;
        }
        if moved {
            continue;
        }
        match fronts.iter().find(|(b, e)| b < e) {
            Some(&(b, _)) => counts[items[b]] = 0,
            None => break,
        }
    }
    order.clear();
    order.extend(0..count);
    order.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
}

/// The common two-front case of [`Ev::sort_arcs`] without the general merge: the fields are a
/// first literal's `prefix` labels followed by those a second literal added, and the second
/// literal lists every field once, the first literal's in their order (`{a, c}` then a
/// definition `{a, b, c, d}`, as a pattern constraint's definition meets an instance's literal).
/// The merge then places the fields in the second literal's order (tested against
/// [`merge_fronts`]); that order is left in `order`. `false`: not this case.
fn superseq_order(arcs: &Arcs<'_>, prefix: usize, seqs: &Few<SeqSrc<'_>>, order: &mut Vec<usize>) -> bool {
    prefix < arcs.len() && covers_in_order(arcs, prefix, seqs, |_| false, order)
}

/// [`superseq_order`]'s test, also when the second literal added no field (its order is then
/// the first's): whether the fields are a first literal's `prefix` labels and then those one
/// more literal added, which lists them all, the first literal's in order, apart from labels
/// kept `aside` (optional fields made no field). Leaves that literal's order in `order`.
fn covers_in_order(
    arcs: &Arcs<'_>,
    prefix: usize,
    seqs: &Few<SeqSrc<'_>>,
    aside: impl Fn(&str) -> bool,
    order: &mut Vec<usize>,
) -> bool {
    let len = arcs.len();
    if prefix == 0 || prefix > len || seqs.len() != 1 {
        return false;
    }
    let Some(front) = seqs.get(0) else { return false };
    order.clear();
    let (mut j, mut k, mut ok) = (0usize, prefix, true);
    front.for_each_label(|label| {
        if !ok {
            return;
        }
        if j < prefix && arcs.entries.get(j).is_some_and(|(l, _)| same_label(l, label)) {
            order.push(j);
            j += 1;
        } else if arcs.entries.get(k).is_some_and(|(l, _)| same_label(l, label)) {
            order.push(k);
            k += 1;
        } else if !aside(label) {
            ok = false;
        }
        // (an optional field kept aside: the merge with it as a field would place the others
        // in this same order)
    });
    ok && j == prefix && k == len
}

/// Whether an order of arc indices keeps every arc in place.
fn is_identity(order: &[usize]) -> bool {
    order.iter().enumerate().all(|(k, &i)| k == i)
}

/// Whether [`Ev::sort_arcs`] would keep the arcs in insertion order, decided without running
/// it, in the common case that settles it: the first front lists every field exactly in
/// insertion order (a chain through all arcs) and every other front lists its fields in
/// increasing insertion order. Then the head of the chain is always the first field not yet
/// placed: a field is placed only once its chain predecessor is (its count cannot reach zero
/// before), and a forced placement takes the head of the first front, the chain. `false` means
/// "not known": the full sort decides.
fn keeps_insertion_order(arcs: &Arcs<'_>, prefix: usize, seqs: &Few<SeqSrc<'_>>) -> bool {
    let mut first = true;
    if prefix > 0 {
        if prefix != arcs.len() {
            return false;
        }
        first = false;
    }
    for src in seqs.iter() {
        let (mut ok, mut full, mut next) = (true, true, 0usize);
        let mut prev: Option<usize> = None;
        src.for_each_label(|label| {
            if !ok {
                return;
            }
            let cur = if full && arcs.entries.get(next).is_some_and(|(l, _)| ***l == *label) {
                Some(next)
            } else {
                full = false;
                arcs.get_index_of(label)
            };
            match cur {
                Some(c) if prev.is_none_or(|p| p < c) => {
                    prev = Some(c);
                    next = c + 1;
                }
                _ => ok = false,
            }
        });
        if !ok || (first && !(full && next == arcs.len())) {
            return false;
        }
        first = false;
    }
    !first
}

/// A scalar, `_`, or a basic type without bounds: values whose unification is order-independent.
fn scalar_like(v: &Val) -> bool {
    match v {
        Val::Null | Val::Bool(_) | Val::Int(_) | Val::Float(_) | Val::Str(_) | Val::Bytes(_) | Val::Top => true,
        Val::Basic(_, b) => b.is_empty(),
        _ => false,
    }
}

fn label_is_regular(l: &str) -> bool {
    !l.starts_with('#') && !l.starts_with('_')
}

/// Label equality that compares addresses before bytes: a file's occurrences of a name are
/// one slice of its source (see [`ast::Name`]).
#[inline]
fn same_label(a: &str, b: &str) -> bool {
    // (the first bytes first: most different labels of one length differ there)
    a.len() == b.len()
        && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || (a.as_bytes().first() == b.as_bytes().first() && a == b))
}

impl<'a> Ev<'a> {
    fn new_node(&mut self, parent: Option<NodeId>, label: Option<Lbl<'a>>, is_index: bool) -> R<NodeId> {
        // node ids are `u32`: the limit also keeps them in range
        if self.nodes.len() >= self.opts.max_nodes.min(u32::MAX as usize) {
            return Err(Fatal(EvalErr::new(
                DiagnosticKind::Limit,
                format!("evaluation too large: more than {} values", self.opts.max_nodes),
                None,
            )));
        }
        self.nodes.push(Node::new(parent, label, is_index));
        Ok((self.nodes.len() - 1) as NodeId)
    }

    fn step(&mut self, span: Option<Span>) -> R<()> {
        self.steps += 1;
        if self.steps > self.opts.max_steps {
            return Err(Fatal(EvalErr::new(
                DiagnosticKind::Limit,
                format!("evaluation too expensive: more than {} steps", self.opts.max_steps),
                span,
            )));
        }
        Ok(())
    }

    fn enter(&mut self, span: Option<Span>) -> R<()> {
        self.depth += 1;
        if self.depth > self.opts.max_depth {
            self.depth -= 1;
            return Err(Fatal(EvalErr::new(
                DiagnosticKind::Limit,
                format!("evaluation nested too deeply (limit {}); structural recursion?", self.opts.max_depth),
                span,
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn new_group(&mut self) -> GroupId {
        self.groups.push(Group::default())
    }

    fn derive(&mut self, g: GroupId, label: Lbl<'a>) -> GroupId {
        if let Some(d) = self.derived.get(&(g, label)) {
            return *d;
        }
        let d = self.new_group();
        self.derived.insert((g, label), d);
        if let Some(log) = &mut self.derived_log {
            log.push((g, label));
        }
        // a field of an embedding scope is one too, and a group linked to scopes links to
        // their fields' scopes
        self.groups[d].scope = self.groups[g].scope;
        let scopes = self.groups[g].more.as_deref().map(|m| m.scopes.clone()).unwrap_or_default();
        if !scopes.is_empty() {
            let derived: Vec<GroupId> = scopes.iter().map(|&sc| self.derive(sc, label)).collect();
            self.groups[d].more().scopes = derived;
        }
        d
    }

    /// Whether group `g` allows `label`: its own labels and patterns, or those declared in an
    /// embedding scope it is linked to.
    fn group_allows(&mut self, g: GroupId, label: &str, depth: usize) -> R<bool> {
        let grp = &self.groups[g];
        if grp.allows(label) {
            return Ok(true);
        }
        let pats: Vec<Val> = grp.patterns().iter().map(|p| p.0.clone()).collect();
        for p in pats {
            if self.label_matches(label, &p)? {
                return Ok(true);
            }
        }
        let scopes = self.groups[g].more.as_deref().map(|m| m.scopes.clone()).unwrap_or_default();
        if depth < 32 {
            for sc in scopes {
                if self.group_allows(sc, label, depth + 1)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// The names a struct literal declares (what its scope resolves), cached per literal.
    fn names_for(&mut self, decls: &'a [Decl<'a>]) -> Labels<'a> {
        literal_labels(&mut self.names_cache, decls, LabelFilter::Names)
    }

    /// The regular labels of the static fields of a struct literal (what closedness allows),
    /// cached per literal.
    fn static_labels(&mut self, decls: &'a [Decl<'a>]) -> Labels<'a> {
        literal_labels(&mut self.labels_cache, decls, LabelFilter::Regular)
    }

    fn new_env(&mut self, parent: EnvId, node: NodeId, decls: &'a [Decl<'a>]) -> EnvId {
        let names = self.names_for(decls);
        let mut binds = Vec::new();
        let id = self.envs.next_id();
        for d in decls {
            match d {
                Decl::Let(l) => binds.push((*l.name, Bind::Let(&l.expr, id))),
                Decl::Field(f) => {
                    if let (Some(a), LabelKind::Name(n)) = (f.label.alias, &f.label.kind) {
                        binds.push((*a, Bind::Alias(n)));
                    }
                }
                _ => {}
            }
        }
        self.envs.push(Env { parent: Some(parent), node, names, binds });
        id
    }

    fn bind_env(&mut self, parent: EnvId, binds: Vec<(&'a str, Bind<'a>)>) -> EnvId {
        let node = self.envs[parent].node;
        self.envs.push(Env { parent: Some(parent), node, names: Labels::None, binds })
    }

    pub(crate) fn path_of(&self, mut n: NodeId) -> String {
        let mut segs = Vec::new();
        loop {
            let node = &self.nodes[n];
            match (&node.label, node.parent.get()) {
                (Some(l), Some(p)) => {
                    if node.is_index {
                        segs.push(format!("[{l}]"));
                    } else {
                        segs.push(String::from(&***l));
                    }
                    n = p;
                }
                (_, Some(p)) => n = p,
                _ => break,
            }
        }
        let mut out = String::new();
        for s in segs.iter().rev() {
            if !out.is_empty() && !s.starts_with('[') {
                out.push('.');
            }
            out.push_str(s);
        }
        out
    }

    fn arc(&mut self, n: NodeId, label: Lbl<'a>, is_index: bool) -> R<NodeId> {
        if let Some(c) = self.nodes[n].arcs.get(label) {
            let c = *c;
            if self.nodes[c].state == St::Done || self.nodes[c].state == St::Expanded {
                // a conjunct arrives late: re-evaluate lazily
                self.reset(c);
            }
            return Ok(c);
        }
        let c = self.new_node(Some(n), Some(label), is_index)?;
        let node = &mut self.nodes[n];
        node.arcs.push_new(label, c);
        if node.x.as_deref().is_some_and(|x| !x.optional.is_empty()) {
            self.attach_optional(n, c, label);
        }
        Ok(c)
    }

    /// Gives new field `c` of `n` the optional declarations of its label kept aside by
    /// [`Ev::process_struct`], before any other: as if the field had been made for them.
    fn attach_optional(&mut self, n: NodeId, c: NodeId, label: Lbl<'a>) {
        let Some(x) = self.nodes[n].x.as_deref_mut() else { return };
        if !x.optional.iter().any(|o| same_label(o.label, label)) {
            return;
        }
        let (mine, rest): (Vec<_>, Vec<_>) =
            std::mem::take(&mut x.optional).into_iter().partition(|o| same_label(o.label, label));
        x.optional = rest;
        for o in mine {
            let groups = self.field_groups(&o.groups, o.value, o.env, label);
            self.nodes[c].declare(Conj { kind: CK::Expr(o.value, o.env), groups }, Constraint::Optional, o.span);
        }
    }

    /// The closedness groups of field `label` declared with `value` in a literal of
    /// `groups`. A literal scalar value never consults them: deriving them is skipped.
    fn field_groups(&mut self, groups: &Groups, value: &Expr<'_>, env: EnvId, label: Lbl<'a>) -> Groups {
        if groups.is_empty() || self.simple_expr(value, env, true) {
            self.no_groups.clone()
        } else {
            self.derive_all(groups, label)
        }
    }

    /// When the fields of `n` (with optional ones kept aside) are a first literal's and then
    /// those of one more literal that lists them all in order, puts them in that literal's
    /// order now, as the merge of `sort_arcs` would with the kept-aside ones as fields
    /// (proptested), and returns `true`; else `false`, leaving everything as it was.
    #[inline(never)]
    fn order_beside_optional(&mut self, n: NodeId) -> bool {
        let node = &mut self.nodes[n];
        let prefix = usize::from(node.seq_prefix);
        let order = &mut self.order_scratch.order;
        let Some(x) = node.x.as_deref_mut() else { return false };
        let aside = |l: &str| x.optional.iter().any(|o| same_label(o.label, l));
        if !x.patterns.is_empty() || !covers_in_order(&node.arcs, prefix, &x.seqs, aside, order) {
            return false;
        }
        x.seqs = Few::None;
        node.seq_prefix = 0;
        if !is_identity(order) {
            node.arcs = std::mem::take(&mut node.arcs).permuted(order);
        }
        true
    }

    /// Makes fields of all the optional declarations kept aside on `n`.
    fn make_optional_fields(&mut self, n: NodeId) -> R<()> {
        while let Some(label) = self.nodes[n].x.as_deref().and_then(|x| x.optional.first()).map(|o| o.label) {
            self.arc(n, label, false)?;
        }
        Ok(())
    }

    /// The shared label of list index `i`.
    fn index_label(&mut self, i: usize) -> Lbl<'a> {
        if i < 4096 {
            while self.index_labels.len() <= i {
                let l = self.lbl(&self.index_labels.len().to_string());
                self.index_labels.push(l);
            }
            return self.index_labels[i];
        }
        self.lbl(&i.to_string())
    }

    /// A computed label, kept in the arena for the rest of the evaluation.
    fn lbl(&self, s: &str) -> Lbl<'a> {
        self.arena.name_copy(s)
    }

    fn arc_index(&mut self, n: NodeId, i: usize) -> R<NodeId> {
        let label = self.index_label(i);
        self.arc(n, label, true)
    }

    fn reset(&mut self, c: NodeId) {
        let node = &mut self.nodes[c];
        node.state = St::New;
        node.arcs.clear();
        node.acc = Val::Top;
        node.acc_span = OptSpan::NONE;
        node.struct_seen = false;
        if let Some(x) = &mut node.x {
            // keep only the attributes and the chosen disjuncts
            x.keep_reset_state();
        }
        node.has_lists = false;
        node.groups.clear();
        node.copied.clear();
        node.value = Val::Top;
        node.redirect = OptId::NONE;
        node.err_sub = None;
        node.err_known = false;
        node.seq_prefix = 0;
        node.leaf_default = leaf::MAYBE;
    }

    // ---------------------------------------------------------------- expansion

    fn expand(&mut self, n: NodeId) -> R<()> {
        if self.nodes[n].state != St::New {
            return Ok(());
        }
        self.nodes[n].state = St::Expanding;
        // conjuncts only ever grow: the ones present now are processed
        let len = self.nodes[n].conjs.len();
        // (a cheap test first: almost no field has a disjunction)
        let maybe_or = self.nodes[n].conjs.iter().any(
            |c| matches!(&c.kind, CK::Expr(e, _) if matches!(e.kind, ExprKind::Binary(BinOp::Or, ..) | ExprKind::Paren(_))),
        );
        if !(maybe_or && self.expand_scalar_disj(n, len)?) {
            for i in 0..len {
                let Some(c) = self.nodes[n].conjs.get(i).cloned() else { break };
                self.process(n, c)?;
            }
        }
        while self.nodes[n].x.as_deref().is_some_and(|x| !x.deferred.is_empty()) {
            let d = std::mem::take(&mut self.nodes[n].cx().deferred);
            for c in d {
                self.process(n, c)?;
            }
        }
        // comprehensions (may add more)
        let mut i = 0;
        while let Some((comp, env, groups)) = self.nodes[n].x.as_deref().and_then(|x| x.comps.get(i)).cloned() {
            self.run_struct_comp(n, comp, env, groups)?;
            i += 1;
        }
        // pattern constraints
        if self.nodes[n].has_patterns() {
            // (they apply to optional fields kept aside too: those become fields first)
            self.make_optional_fields(n)?;
            let arcs: Vec<(Lbl<'a>, NodeId)> = self.nodes[n].arcs.iter().map(|(k, v)| (k, *v)).collect();
            let npat = self.nodes[n].x.as_deref().map_or(0, |x| x.patterns.len());
            let mut found: smallvec::SmallVec<[(usize, usize, Conj<'a>); 2]> = smallvec::SmallVec::new();
            for (label, child) in arcs {
                if !label_is_regular(label) {
                    continue;
                }
                found.clear();
                // (a field made by a regular declaration: after it and the optional ones
                // unified then; a field of optional declarations only: after them)
                let later = match self.nodes[child].created_end {
                    0 => usize::MAX,
                    k => usize::from(k),
                };
                for pi in 0..npat {
                    let pat = self.nodes[n].cx().patterns[pi].pat.clone();
                    if self.label_matches(label, &pat)? {
                        let p = &self.nodes[n].cx().patterns[pi];
                        let (alias, value, env, groups, lit) = (p.alias, p.value, p.env, p.groups.clone(), p.lit);
                        // CUE's place for the constraint among the field's conjuncts: after
                        // those it had when the constraint was declared, or after the one
                        // that created it (and after optional declarations, which CUE
                        // unifies like constraints, before the patterns of their literal)
                        let snapshot = p.before.iter().find(|(c, _)| *c == child).map(|(_, k)| *k as usize);
                        let conjs = &self.nodes[child].conjs;
                        let mut at = match snapshot {
                            Some(k) => k,
                            // a field made after the constraint: CUE unifies each earlier
                            // literal's optional declaration and patterns in literal order
                            // after the declaration that made it (literals' environments are
                            // numbered in the order they were met)
                            None if later != usize::MAX => (1..later.min(conjs.len()))
                                .find(|&i| matches!(conjs[i].kind, CK::Expr(_, e) if e > env))
                                .unwrap_or(later),
                            None => later,
                        };
                        // (the declaring literal's own optional declaration of the field goes
                        // first: CUE unifies a struct's optional fields before its patterns)
                        at = at.min(conjs.len());
                        let own_optional = |c: &Conj<'a>| {
                            match c.kind {
                            CK::Expr(x, e) if e == env => lit.iter().any(|d| {
                                matches!(d, Decl::Field(fd) if fd.constraint == Constraint::Optional && std::ptr::eq(&fd.value, x))
                            }),
                            _ => false,
                        }
                        };
                        while conjs.get(at).is_some_and(own_optional) {
                            at += 1;
                        }
                        let env = match alias {
                            Some(a) => self.bind_env(env, vec![(*a, Bind::Val(Val::Str(Rc::from(*label))))]),
                            None => env,
                        };
                        let groups = self.derive_all(&groups, label);
                        found.push((at, pi, Conj { kind: CK::Expr(value, env), groups }));
                    }
                }
                // inserted from the last place back, so that the places stay right and
                // constraints at one place keep their declaration order
                found.sort_by_key(|f| std::cmp::Reverse((f.0, f.1)));
                let node = &mut self.nodes[child];
                for (at, _, c) in found.drain(..) {
                    let at = at.min(node.conjs.len());
                    node.conjs.insert(at, c);
                    if node.first_optional != u8::MAX && at <= usize::from(node.first_optional) {
                        node.first_optional = node.first_optional.saturating_add(1);
                    }
                    if node.created_end != 0 && at < usize::from(node.created_end) {
                        node.created_end = node.created_end.saturating_add(1);
                    }
                }
            }
        }
        // Optional fields kept aside stay so only when the literals' order is the later
        // literal's own (see `covers_in_order`), which they cannot change; otherwise they
        // become fields as declared, before the fields are sorted.
        // (the literals' label orders are only needed to sort the fields, here)
        let (mut seqs, aside) = match self.nodes[n].x.as_deref_mut() {
            Some(x) if !x.optional.is_empty() => (Few::None, true),
            Some(x) => (std::mem::take(&mut x.seqs), false),
            None => (Few::None, false),
        };
        if aside {
            if !self.order_beside_optional(n) {
                self.make_optional_fields(n)?;
            }
            seqs = self.nodes[n].x.as_deref_mut().map(|x| std::mem::take(&mut x.seqs)).unwrap_or_default();
        }
        let prefix = usize::from(self.nodes[n].seq_prefix);
        // one front naming every field in insertion order (or none at all) needs no sort
        if !seqs.is_empty() || (prefix > 0 && prefix < self.nodes[n].arcs.len()) {
            self.sort_arcs(n, prefix, seqs);
        }
        self.nodes[n].state = St::Expanded;
        Ok(())
    }

    /// Expands a scalar field whose conjuncts are one disjunction of literals and basic
    /// types and otherwise literals and basic types (`action: "earthly" | "script"` from a
    /// definition, unified with `action: "earthly"`; `priority: int | *0`): the other
    /// conjuncts are unified as usual and the disjunction's alternatives, evaluated once per
    /// expression ([`ScalarOr`]), are unified with the result at once, leaving the field's
    /// value (one leaf, or a disjunction of the surviving leaves) in its accumulator. This is
    /// what [`Ev::scalar_disj_leaves`] computes when the field is finalized, without the
    /// pending-disjunction state. Returns `false` (nothing done) for any other field; when no
    /// alternative survives, the disjunction is left pending for [`Ev::resolve_disj`], whose
    /// general path words the error.
    #[inline(never)]
    fn expand_scalar_disj(&mut self, n: NodeId, len: usize) -> R<bool> {
        let node = &self.nodes[n];
        let is_or = |c: &Conj<'a>| match &c.kind {
            CK::Expr(e, _) => matches!(strip_parens(e).kind, ExprKind::Binary(BinOp::Or, ..)),
            _ => false,
        };
        let Some(oi) = node.conjs.iter().position(is_or) else { return Ok(false) };
        if self.basic_bound != 0
            || len != node.conjs.len()
            || node.x.as_deref().is_some_and(|x| !x.is_pristine())
            || node.struct_seen
            || node.has_lists
            || node.arcs.len() != 0
        {
            return Ok(false);
        }
        for (i, c) in node.conjs.iter().enumerate() {
            let ok = match &c.kind {
                _ if i == oi => true,
                CK::Expr(e, env) => self.simple_expr(e, *env, false),
                CK::Val(b) => scalar_like(&b.0),
                CK::Decls(..) => false,
            };
            if !ok {
                return Ok(false);
            }
        }
        let Some(CK::Expr(e, env)) = node.conjs.get(oi).map(|c| c.kind.clone()) else { return Ok(false) };
        let Some(or) = self.scalar_or(strip_parens(e), env)? else { return Ok(false) };
        for i in 0..len {
            if i == oi {
                self.step(Some(e.span))?;
                continue;
            }
            let Some(c) = self.nodes[n].conjs.get(i).cloned() else { break };
            self.process(n, c)?;
        }
        let acc = self.nodes[n].acc.clone();
        let leaves = if scalar_like(&acc) {
            self.unify_alternatives(&acc, or.alts.iter().cloned(), or.has_default)?
        } else {
            Leaves::new()
        };
        if leaves.is_empty() {
            if let Some(c) = self.nodes[n].conjs.get(oi).cloned() {
                self.process(n, c)?;
            }
            return Ok(true);
        }
        let uniq = self.dedupe_leaves(leaves)?;
        self.nodes[n].acc = self.leaves_value(n, uniq, or.has_default);
        Ok(true)
    }

    /// The evaluated alternatives of disjunction `e` when all are literal scalars or basic
    /// types, cached per expression (see [`ScalarOr`]).
    fn scalar_or(&mut self, e: &'a Expr<'a>, env: EnvId) -> R<Option<Rc<ScalarOr>>> {
        let key = std::ptr::from_ref(e) as usize;
        if let Some(c) = self.or_cache.get(&key) {
            return Ok(c.clone());
        }
        let mut flat = Vec::new();
        flatten_or(e, false, &mut flat);
        let mut alts = Vec::with_capacity(flat.len());
        let mut ok = true;
        for &(x, is_def) in &flat {
            if !self.simple_expr(x, env, false) {
                ok = false;
                break;
            }
            let v = self.eval(x, env)?;
            if !scalar_like(&v) {
                ok = false;
                break;
            }
            alts.push((v, is_def));
        }
        let has_default = alts.iter().any(|a| a.1);
        let r = ok.then(|| Rc::new(ScalarOr { alts, has_default }));
        self.or_cache.insert(key, r.clone());
        Ok(r)
    }

    /// Orders the fields as CUE v0.4 exports them. Each struct literal of the node contributes
    /// a "front": its static labels in declaration order (`prefix` stands for the first
    /// literal when it is the first `prefix` arcs, `Node::seq_prefix`); fields no front names
    /// (dynamic labels) form one last front in insertion order. Every field starts with a
    /// count of the fronts that list it after their first position. Repeatedly, from the
    /// first front on, the head of a front whose count is zero is placed next and popped;
    /// popping a head also decrements the count of the new head, but only while more than one
    /// label remains in that front, and a head already placed is just popped. When no front
    /// can move, the head of the first non-empty front gets a zero count (cycles, and the last
    /// labels of fronts, which that rule leaves counted). The result is the placement order.
    fn sort_arcs(&mut self, n: NodeId, prefix: usize, seqs: Few<SeqSrc<'a>>) {
        if keeps_insertion_order(&self.nodes[n].arcs, prefix, &seqs) {
            return;
        }
        let arcs = std::mem::take(&mut self.nodes[n].arcs);
        // Buffers reused across calls.
        let mut sc = std::mem::take(&mut self.order_scratch);
        if !superseq_order(&arcs, prefix, &seqs, &mut sc.order) {
            merge_fronts(&arcs, prefix, &seqs, &mut sc);
        }
        self.nodes[n].arcs = if is_identity(&sc.order) { arcs } else { arcs.permuted(&sc.order) };
        self.order_scratch = sc;
    }

    fn derive_all(&mut self, groups: &Groups, label: Lbl<'a>) -> Groups {
        if groups.is_empty() {
            return groups.clone();
        }
        groups.iter().map(|g| self.derive(*g, label)).collect()
    }

    fn label_matches(&mut self, label: &str, pat: &Val) -> R<bool> {
        // the usual patterns, `[string]` / `[_]` and a literal label, need no unification
        match pat {
            Val::Top => return Ok(true),
            Val::Basic(kind, bounds) if bounds.is_empty() => return Ok(kind & k::STRING != 0),
            Val::Str(s) => return Ok(**s == *label),
            _ => {}
        }
        if let Val::Disj(leaves) = pat {
            for (l, _) in leaves.iter() {
                if self.label_matches(label, l)? {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        let v = self.unify_scalar(Val::str(label), pat.clone(), None)?;
        Ok(!matches!(v, Val::Err(_)))
    }

    fn add_err(&mut self, n: NodeId, e: Val) {
        if !matches!(self.nodes[n].acc, Val::Err(_)) {
            self.nodes[n].acc = e;
        }
    }

    /// Processes one conjunct into node `n`. Returns closedness groups created by references
    /// to definitions (for embedding).
    fn process(&mut self, n: NodeId, c: Conj<'a>) -> R<NewGroups> {
        let sp = match &c.kind {
            CK::Expr(e, _) => Some(e.span),
            CK::Decls(..) => None,
            CK::Val(b) => b.1.get(),
        };
        self.step(sp)?;
        match c.kind {
            CK::Val(b) => {
                let (v, s) = &*b;
                self.add_val(n, v.clone(), s.get(), &c.groups)
            }
            CK::Decls(decls, env) => self.process_struct(n, decls, env, &c.groups),
            CK::Expr(e, env) => self.process_expr(n, e, env, &c.groups),
        }
    }

    fn process_expr(&mut self, n: NodeId, e: &'a Expr<'a>, env: EnvId, groups: &Groups) -> R<NewGroups> {
        match &e.kind {
            ExprKind::Paren(x) => self.process_expr(n, x, env, groups),
            ExprKind::Struct(decls) => self.process_struct(n, decls, env, groups),
            ExprKind::List(elems) => {
                self.process_list(n, elems, env, groups, e.span)?;
                Ok(NewGroups::new())
            }
            ExprKind::Binary(BinOp::And, l, r) => {
                let mut g = self.process_expr(n, l, env, groups)?;
                g.extend(self.process_expr(n, r, env, groups)?);
                Ok(g)
            }
            ExprKind::Binary(BinOp::Or, _, _) => {
                let mut leaves = std::mem::take(&mut self.or_scratch);
                leaves.clear();
                flatten_or(e, false, &mut leaves);
                let has_default = leaves.iter().any(|(_, d)| *d);
                let alts =
                    leaves.iter().map(|&(x, d)| (Conj { kind: CK::Expr(x, env), groups: groups.clone() }, d)).collect();
                self.or_scratch = leaves;
                self.add_disj(n, DisjInfo { alts, has_default })
            }
            ExprKind::Unary(UnOp::Default, x) => self.process_expr(n, x, env, groups),
            ExprKind::AttrOnly => Ok(NewGroups::new()),
            ExprKind::Ident(_) | ExprKind::Selector(..) | ExprKind::Index(..) => match self.resolve(e, env)? {
                Ok(Target::Node(v)) => self.copy_node(n, v, groups, e.span),
                Ok(Target::Val(v)) => self.add_val(n, v, Some(e.span), groups),
                Ok(Target::Let(x, lenv)) => {
                    self.enter(Some(e.span))?;
                    let r = self.process_expr(n, x, lenv, groups);
                    self.leave();
                    r
                }
                Err(err) => {
                    self.add_err(n, err);
                    Ok(NewGroups::new())
                }
            },
            _ => {
                let v = self.eval(e, env)?;
                self.add_val(n, v, Some(e.span), groups)
            }
        }
    }

    fn add_disj(&mut self, n: NodeId, d: DisjInfo<'a>) -> R<NewGroups> {
        let x = self.nodes[n].cx();
        let idx = x.disj_seen;
        x.disj_seen += 1;
        let chosen = x.choices.as_ref().and_then(|c| c.get(idx).copied());
        match chosen {
            Some(i) => match d.alts.into_iter().nth(i) {
                // a chosen struct literal or reference is unified after the other conjuncts, as
                // CUE adds disjuncts last (its fields' order follows theirs)
                Some((c, _))
                    if matches!(&c.kind, CK::Expr(e, _)
                        if matches!(e.kind, ExprKind::Struct(_) | ExprKind::Ident(_) | ExprKind::Selector(..))) =>
                {
                    self.nodes[n].cx().deferred.push(c);
                    Ok(NewGroups::new())
                }
                Some((c, _)) => self.process(n, c),
                None => Ok(NewGroups::new()),
            },
            None => {
                self.nodes[n].cx().disjs.push(d);
                Ok(NewGroups::new())
            }
        }
    }

    fn add_val(&mut self, n: NodeId, v: Val, span: Option<Span>, groups: &Groups) -> R<NewGroups> {
        match v {
            Val::Struct(m) | Val::List(m) => self.copy_node(n, m, groups, span.unwrap_or_default()),
            Val::Disj(leaves) => {
                let has_default = leaves.iter().any(|(_, d)| *d);
                let alts = leaves
                    .iter()
                    .map(|(v, d)| (Conj { kind: CK::val(v.clone(), span), groups: groups.clone() }, *d))
                    .collect();
                self.add_disj(n, DisjInfo { alts, has_default })
            }
            Val::Builtin(name) => {
                self.add_err(n, Val::err(DiagnosticKind::Eval, format!("cannot use function {name} as a value"), span));
                Ok(NewGroups::new())
            }
            Val::Package(name) => {
                self.add_err(n, Val::err(DiagnosticKind::Eval, format!("cannot use package {name} as a value"), span));
                Ok(NewGroups::new())
            }
            v => {
                let acc = std::mem::replace(&mut self.nodes[n].acc, Val::Top);
                let r = self.unify_scalar(acc, v, span)?;
                if self.nodes[n].acc_span.is_none() {
                    self.nodes[n].acc_span = span.into();
                }
                self.nodes[n].acc = r;
                Ok(NewGroups::new())
            }
        }
    }

    fn is_defish(&self, mut v: NodeId) -> bool {
        loop {
            if self.nodes[v].is_def {
                return true;
            }
            match self.nodes[v].parent.get() {
                Some(p) => v = p,
                None => return false,
            }
        }
    }

    fn is_ancestor(&self, a: NodeId, mut n: NodeId) -> bool {
        while let Some(p) = self.nodes[n].parent.get() {
            if p == a {
                return true;
            }
            n = p;
        }
        false
    }

    fn copy_node(&mut self, n: NodeId, v: NodeId, groups: &Groups, span: Span) -> R<NewGroups> {
        if v == n {
            return Ok(NewGroups::new());
        }
        let again = self.nodes[n].copied.contains(&v);
        if again && (!self.is_defish(v) || self.copying.contains(&(n, v))) {
            // unified once already; CUE still counts its struct literals again in the field
            // order (`x0 & x2` where both are `#D & {...}` lists `#D`'s fields twice)
            self.refront(n, v);
            return Ok(NewGroups::new());
        }
        // (a definition met again is copied again: each reference closes the value on its own,
        // as in `#B & #A` where `#B` embeds `#A`; `copying` stops a definition embedding itself)
        if self.is_ancestor(v, n) {
            self.add_err(n, perr(DiagnosticKind::Cycle, "structural cycle", span));
            return Ok(NewGroups::new());
        }
        // Recursive definitions: an ancestor p already unified with v, the reference comes
        // from v's own content or from what a node between p and this one copied (v leads to
        // it), and nothing else constrains this node: the structure would be infinite.
        // (`#B: {#A, a: #A}` is finite: `a`'s reference is #B's own, copied at p itself.)
        if self.nodes[n].conjs.len() <= 1 && span.end > span.start {
            let direct = self.contains_source(v, span);
            let mut between = false;
            let mut a = self.nodes[n].parent.get();
            while let Some(p) = a {
                if (direct || between) && self.nodes[p].copied.contains(&v) {
                    self.add_err(n, perr(DiagnosticKind::Cycle, "structural cycle", span));
                    return Ok(NewGroups::new());
                }
                between = between || self.nodes[p].copied.iter().any(|&c| self.contains_source(c, span));
                a = self.nodes[p].parent.get();
            }
        }
        if let Some(p) = self.nodes[v].parent.get()
            && self.nodes[p].state == St::New
        {
            self.enter(Some(span))?;
            let r = self.expand(p);
            self.leave();
            r?;
        }
        if !again {
            self.nodes[n].copied.push(v);
        }
        if self.nodes[v].built {
            let arcs: Vec<(Lbl<'a>, NodeId)> = self.nodes[v].arcs.iter().map(|(k, v)| (k, *v)).collect();
            let is_list = self.nodes[v].has_lists;
            if is_list {
                self.nodes[n].push_list(ListLen { len: arcs.len(), tail: None });
            } else {
                self.nodes[n].struct_seen = true;
                // the built struct's fields are a front of the field order, like a literal's
                if !arcs.is_empty() {
                    self.nodes[n].cx().seqs.push(SeqSrc::Labels(arcs.iter().map(|(l, _)| *l).collect()));
                }
            }
            let empty = self.no_groups.clone();
            for (label, c) in arcs {
                let val = self.value_of(c)?;
                let child = self.arc(n, label, is_list)?;
                self.nodes[child].n_regular = self.nodes[child].n_regular.saturating_add(1);
                self.number_arc(child, false);
                self.nodes[child].add_conj(Conj { kind: CK::val(val, Some(span)), groups: empty.clone() });
            }
            return Ok(NewGroups::new());
        }
        let mut new_groups = NewGroups::new();
        let extra = if self.is_defish(v) {
            let g = self.new_group();
            if let Some(sc) = self.embedding_scope {
                self.groups[g].more().scopes.push(sc);
            }
            new_groups.push(g);
            Some(g)
        } else {
            None
        };
        let len = self.nodes[v].conjs.len();
        self.enter(Some(span))?;
        self.copying.push((n, v));
        let mut result = Ok(());
        for i in 0..len {
            let Some(c) = self.nodes[v].conjs.get(i).cloned() else { break };
            let c = if extra.is_none() && groups.iter().all(|g| c.groups.contains(g)) {
                c
            } else {
                let mut gs: smallvec::SmallVec<[GroupId; 8]> = c.groups.iter().copied().collect();
                for g in groups.iter() {
                    if !gs.contains(g) {
                        gs.push(*g);
                    }
                }
                if let Some(g) = extra {
                    gs.push(g);
                }
                Conj { kind: c.kind, groups: Rc::from(&gs[..]) }
            };
            match self.process(n, c) {
                Ok(g) => new_groups.extend(g),
                Err(f) => {
                    result = Err(f);
                    break;
                }
            }
        }
        self.copying.pop();
        self.leave();
        result.map(|()| new_groups)
    }

    fn process_struct(&mut self, n: NodeId, decls: &'a [Decl<'a>], env: EnvId, groups: &Groups) -> R<NewGroups> {
        let has_embed = decls.iter().any(|d| matches!(d, Decl::Embed(_)));
        let has_fields =
            decls.iter().any(|d| matches!(d, Decl::Field(_) | Decl::Ellipsis(..) | Decl::Comprehension(_)));
        if !has_embed || has_fields {
            self.nodes[n].struct_seen = true;
        }
        let f = self.new_env(env, n, decls);
        let arcs_before = self.nodes[n].arcs.len();
        if arcs_before == 0 {
            // the first literal sizes the arcs exactly (most nodes get all fields from one)
            self.nodes[n].arcs.reserve_exact(decls.len());
        }
        // A literal with embeddings gets an embedding scope: its own fields and everything it
        // embeds record their labels there, at every depth, and each definition it embeds is
        // linked to it, so that `{#A, e: {x: 1}}` and `{#A, #C}` allow the union of what they
        // declare (CUE closes an embedded definition over its embedding literal).
        let scope = has_embed.then(|| {
            let sc = self.new_group();
            self.groups[sc].scope = true;
            sc
        });
        let with_scope: Groups;
        let groups = match scope {
            Some(sc) => {
                with_scope = groups.iter().copied().chain(std::iter::once(sc)).collect();
                &with_scope
            }
            None => groups,
        };
        for g in groups.iter() {
            if !self.nodes[n].groups.contains(g) {
                self.nodes[n].groups.push(*g);
            }
        }
        let has_dynamic =
            decls.iter().any(|d| matches!(d, Decl::Field(fd) if matches!(fd.label.kind, LabelKind::Dynamic(_))));
        // the labels in order are only materialized when needed (dynamic labels, embeddings)
        let keep_seq = has_dynamic || has_embed;
        let mut seq: Vec<&'a str> = Vec::new();
        let mut nstatic = 0usize;
        let mut pats: Vec<Val> = Vec::new();
        let mut open = false;
        // whether the literal declares constraints (see `constraint_lits`)
        let mut constrains = false;
        if !groups.is_empty() {
            let set = self.static_labels(decls);
            if !set.is_empty() {
                for g in groups.iter() {
                    let sets = &mut self.groups[*g].sets;
                    if !sets.iter().any(|x| x.same(&set)) {
                        sets.push(set.clone());
                    }
                }
            }
        }
        let mut new_groups = NewGroups::new();
        // Static labels first; then dynamic labels and embeddings in declaration order, so
        // that dynamic fields are created in CUE's order (depth-first through embeddings).
        for pass in 0..2 {
            if pass == 1 {
                self.literal_front(n, decls, arcs_before, nstatic, pats.is_empty());
                if open {
                    for g in groups.iter() {
                        self.groups[*g].open = true;
                    }
                }
            }
            for d in decls {
                let Decl::Field(fd) = d else {
                    match d {
                        Decl::Ellipsis(ty, _) if pass == 0 => {
                            open = true;
                            constrains |= ty.is_some();
                        }
                        Decl::Embed(e) if pass == 1 => {
                            // definitions copied while embedding are linked to the scope
                            let saved = std::mem::replace(&mut self.embedding_scope, scope);
                            let g = self.process_expr(n, e, f, groups);
                            self.embedding_scope = saved;
                            new_groups.extend(g?);
                        }
                        _ => {}
                    }
                    continue;
                };
                let is_static = matches!(fd.label.kind, LabelKind::Name(_) | LabelKind::Pattern(..));
                if is_static != (pass == 0) {
                    continue;
                }
                let label: Lbl<'a> = match &fd.label.kind {
                    LabelKind::Name(s) => s,
                    LabelKind::Dynamic(e) => {
                        let v = self.eval(e, f)?;
                        let v = self.default_of(v)?;
                        match v {
                            Val::Str(s) => self.lbl(&s),
                            Val::Err(_) => {
                                self.add_err(n, v);
                                continue;
                            }
                            _ => {
                                self.add_err(
                                    n,
                                    perr(
                                        DiagnosticKind::Incomplete,
                                        "invalid or incomplete dynamic label: must be a concrete string",
                                        e.span,
                                    ),
                                );
                                continue;
                            }
                        }
                    }
                    LabelKind::Pattern(pe) => {
                        constrains = true;
                        let (p, alias) = &**pe;
                        // (a file with `let`s or field aliases had its names checked before
                        // evaluation: see `check::unused_lets`)
                        if alias.is_some()
                            && let Some((name, span)) = super::check::rebound_name(decls)
                        {
                            let msg = format!("alias \"{name}\" redeclared in same scope");
                            return Err(Fatal(EvalErr::new(DiagnosticKind::Eval, msg, Some(span))));
                        }
                        let pv = self.eval(p, f)?;
                        for g in groups.iter() {
                            self.groups[*g].more().patterns.push((pv.clone(), true));
                        }
                        pats.push(pv.clone());
                        let before = self.pattern_snapshot(n, decls, d, arcs_before);
                        self.nodes[n].cx().patterns.push(Pattern {
                            pat: pv,
                            alias: *alias,
                            value: &fd.value,
                            env: f,
                            groups: groups.clone(),
                            before,
                            lit: decls,
                        });
                        continue;
                    }
                };
                // An optional field of a later literal (a definition applied after an instance's
                // literal, as pattern constraints do) for a label the node has no field for
                // is kept aside: it becomes a field only if another declaration makes one
                // ([`Ev::arc`]); unmade, it is a constraint on nothing, which the JSON export
                // never shows. Field order stays CUE's: the node is only left without it when
                // the literals' order does not depend on it (see `expand`).
                if fd.constraint == Constraint::Optional {
                    constrains = true;
                    if pass == 0
                        && arcs_before > 0
                        && self.defer_optional
                        && fd.attrs.is_empty()
                        && self.nodes[n].arcs.get(label).is_none()
                    {
                        if keep_seq {
                            seq.push(*label);
                        }
                        nstatic += 1;
                        self.nodes[n].cx().optional.push(DeferredOptional {
                            label,
                            value: &fd.value,
                            env: f,
                            groups: groups.clone(),
                            span: fd.label.span,
                        });
                        continue;
                    }
                }
                // static labels are allowed through the literal's shared set (below)
                if pass == 1 && label_is_regular(label) {
                    for g in groups.iter() {
                        self.groups[*g].more().labels.insert(*label);
                    }
                }
                let child = self.arc(n, label, false)?;
                if keep_seq {
                    seq.push(*label);
                }
                nstatic += usize::from(pass == 0);
                let derived = self.field_groups(groups, &fd.value, f, label);
                let node = &mut self.nodes[child];
                for a in fd.attrs {
                    let attrs = &mut node.cx().attrs;
                    if !attrs.iter().any(|x| x.span == a.span) {
                        attrs.push(a.clone());
                    }
                }
                node.declare(Conj { kind: CK::Expr(&fd.value, f), groups: derived }, fd.constraint, fd.label.span);
                // static fields take their place in CUE's arc order after the literal's
                // embeddings (below), dynamic ones after every static one
                if fd.constraint != Constraint::Optional && (pass == 1 || !has_embed) {
                    self.number_arc(child, pass == 1);
                }
            }
        }
        if has_embed {
            for d in decls {
                if let Decl::Field(fd) = d
                    && let LabelKind::Name(l) = &fd.label.kind
                    && fd.constraint != Constraint::Optional
                    && let Some(&c) = self.nodes[n].arcs.get(l)
                {
                    self.number_arc(c, false);
                }
            }
        }
        let all: Groups = if new_groups.is_empty() {
            groups.clone()
        } else {
            let mut v: Vec<GroupId> = groups.iter().copied().collect();
            v.extend(new_groups.iter().copied());
            for g in &new_groups {
                if !self.nodes[n].groups.contains(g) {
                    self.nodes[n].groups.push(*g);
                }
                let grp = &mut self.groups[*g];
                for l in &seq {
                    if label_is_regular(l) {
                        grp.more().labels.insert(l);
                    }
                }
                for p in &pats {
                    grp.more().patterns.push((p.clone(), true));
                }
                if open {
                    grp.open = true;
                }
            }
            Rc::from(v)
        };
        for d in decls {
            if let Decl::Comprehension(c) = d {
                self.nodes[n].cx().comps.push((c, f, all.clone()));
            }
        }
        if constrains {
            self.constraint_lits.push((n, Some(decls)));
        }
        Ok(new_groups)
    }

    /// The fields node `n` had before struct literal `decls` (its first `arcs_before` arcs,
    /// those with a regular declaration then), each with the number of conjuncts it had then:
    /// its conjunct count now, less the declarations of the literal before `upto` (a pattern
    /// constraint of the literal).
    #[cold]
    #[inline(never)]
    fn pattern_snapshot(
        &self,
        n: NodeId,
        decls: &'a [Decl<'a>],
        upto: &Decl<'a>,
        arcs_before: usize,
    ) -> smallvec::SmallVec<[(NodeId, u32); 4]> {
        let upto = decls.iter().position(|d| std::ptr::eq(d, upto)).unwrap_or(decls.len());
        let mut out = smallvec::SmallVec::new();
        for &(label, c) in self.nodes[n].arcs.entries.iter().take(arcs_before) {
            let (mut own, mut own_regular) = (0, 0);
            for d in &decls[..upto] {
                if let Decl::Field(fd) = d
                    && let LabelKind::Name(l) = fd.label.kind
                    && same_label(l, label)
                {
                    own += 1;
                    own_regular += usize::from(fd.constraint == Constraint::None);
                }
            }
            // a field with only optional declarations before the literal is no field in CUE:
            // the constraint joins it when a regular declaration makes it
            if usize::from(self.nodes[c].n_regular) <= own_regular {
                continue;
            }
            let count = self.nodes[c].conjs.len().saturating_sub(own);
            out.push((c, u32::try_from(count).unwrap_or(u32::MAX)));
        }
        out
    }

    /// Whether `span` lies inside the source of one of node `c`'s expression conjuncts.
    fn contains_source(&self, c: NodeId, span: Span) -> bool {
        self.nodes[c].conjs.iter().any(|k| match &k.kind {
            CK::Expr(e, _) => e.span.file == span.file && e.span.start <= span.start && span.end <= e.span.end,
            _ => false,
        })
    }

    /// Records again, as fronts of `n`'s field order, the struct literals that are conjuncts
    /// of `v` (directly or through `&`), for a node unified with `v` a second time.
    fn refront(&mut self, n: NodeId, v: NodeId) {
        fn literals<'a>(e: &'a Expr<'a>, out: &mut Vec<&'a [Decl<'a>]>) {
            match &e.kind {
                ExprKind::Struct(d) => out.push(d),
                ExprKind::Binary(BinOp::And, a, b) => {
                    literals(a, out);
                    literals(b, out);
                }
                ExprKind::Paren(x) => literals(x, out),
                _ => {}
            }
        }
        let mut found = Vec::new();
        for c in self.nodes[v].conjs.iter() {
            match &c.kind {
                CK::Expr(e, _) => literals(e, &mut found),
                CK::Decls(d, _) => found.push(d),
                CK::Val(_) => {}
            }
        }
        for d in found {
            if d.iter().any(|x| matches!(x, Decl::Field(f) if matches!(f.label.kind, LabelKind::Name(_)))) {
                self.nodes[n].cx().seqs.push(SeqSrc::Decls(d));
            }
        }
    }

    /// Gives a field that just got a regular declaration its place in CUE's arc order: the
    /// order in which fields get their first regular declaration (an optional declaration
    /// alone makes no arc), embedded literals' fields before the embedding literal's own, and
    /// dynamic fields after every static one. `for k, v in s` iterates in this order, which
    /// differs from the export order of `sort_arcs`.
    fn number_arc(&mut self, c: NodeId, dynamic: bool) {
        if self.nodes[c].arc_seq == 0 {
            self.arc_counter = self.arc_counter.wrapping_add(1) & !ARC_SEQ_DYNAMIC;
            self.nodes[c].arc_seq = self.arc_counter | if dynamic { ARC_SEQ_DYNAMIC } else { 0 };
        }
    }

    /// Records a struct literal's front of the field order (its static labels, see
    /// [`Ev::sort_arcs`]) once its static fields are in, before its embeddings add theirs
    /// (CUE's order of struct literals). The first literal of a node that added exactly its
    /// `nstatic` labels to no earlier fields (no pattern labels, no repeated label) is the
    /// first `nstatic` arcs: a count in the node instead of an entry in its cold state.
    fn literal_front(&mut self, n: NodeId, decls: &'a [Decl<'a>], arcs_before: usize, nstatic: usize, no_pats: bool) {
        let node = &mut self.nodes[n];
        if nstatic == 0 {
            return;
        }
        // no fields before: no front before (every front's labels are arcs)
        let prefix =
            (arcs_before == 0 && no_pats && node.arcs.len() == nstatic).then(|| u8::try_from(nstatic).ok()).flatten();
        match prefix {
            Some(k) => node.seq_prefix = k,
            None => node.cx().seqs.push(SeqSrc::Decls(decls)),
        }
    }

    fn process_list(&mut self, n: NodeId, elems: &'a [ListElem<'_>], env: EnvId, groups: &Groups, span: Span) -> R<()> {
        let derived = self.derive_all(groups, self.elem_label);
        let mut idx = 0usize;
        let mut tail = None;
        for el in elems {
            match el {
                ListElem::Expr(e) => {
                    let c = self.arc_index(n, idx)?;
                    if self.nodes[c].decl_span.is_none() {
                        self.nodes[c].decl_span = OptSpan::some(e.span);
                    }
                    self.nodes[c].n_regular = self.nodes[c].n_regular.saturating_add(1);
                    self.nodes[c].add_conj(Conj { kind: CK::Expr(e, env), groups: derived.clone() });
                    idx += 1;
                }
                ListElem::Comprehension(comp) => {
                    let mut yields = Vec::new();
                    self.run_comp(comp, 0, env, &mut yields)?;
                    for r in yields {
                        match r {
                            Ok(yenv) => {
                                let c = self.arc_index(n, idx)?;
                                self.nodes[c].decl_span = OptSpan::some(comp.body.span);
                                self.nodes[c].n_regular = self.nodes[c].n_regular.saturating_add(1);
                                self.nodes[c]
                                    .add_conj(Conj { kind: CK::Expr(comp.body, yenv), groups: derived.clone() });
                                idx += 1;
                            }
                            Err(e) => self.add_err(n, e),
                        }
                    }
                }
                ListElem::Ellipsis(t) => {
                    tail = Some(t.as_ref().map(|t| (Conj { kind: CK::Expr(t, env), groups: derived.clone() }, t.span)));
                }
            }
        }
        let _ = span;
        if matches!(tail, Some(Some(_))) {
            self.constraint_lits.push((n, None));
        }
        self.nodes[n].push_list(ListLen { len: idx, tail });
        Ok(())
    }

    /// Runs comprehension clauses from `i`, pushing the environment of every yield.
    fn run_comp(
        &mut self,
        comp: &'a Comprehension<'a>,
        i: usize,
        env: EnvId,
        out: &mut Vec<Result<EnvId, Val>>,
    ) -> R<()> {
        self.step(Some(comp.span))?;
        let Some(cl) = comp.clauses.get(i) else {
            out.push(Ok(env));
            return Ok(());
        };
        match cl {
            Clause::If(c) => {
                let v = self.eval(c, env)?;
                let v = self.default_of(v)?;
                match v {
                    Val::Bool(true) => self.run_comp(comp, i + 1, env, out)?,
                    Val::Bool(false) => {}
                    Val::Err(_) => out.push(Err(v)),
                    _ => out.push(Err(perr(
                        DiagnosticKind::Incomplete,
                        "incomplete or non-boolean condition in comprehension",
                        c.span,
                    ))),
                }
            }
            Clause::Let(name, e) => {
                let nenv = self.bind_env(env, vec![(**name, Bind::Let(e, env))]);
                self.run_comp(comp, i + 1, nenv, out)?;
            }
            Clause::For(kname, vname, src) => {
                let v = self.eval(src, env)?;
                let v = self.default_of(v)?;
                let items: Vec<(Val, Val)> = match v {
                    Val::Struct(m) => {
                        let m = self.finalize_follow(m)?;
                        // in CUE's arc order, not the export order
                        let mut arcs: Vec<(&'a str, NodeId)> =
                            self.nodes[m].arcs.iter().map(|(k, v)| (*k, *v)).collect();
                        arcs.sort_by_key(|&(_, c)| self.nodes[c].arc_seq);
                        let mut items = Vec::new();
                        for (l, c) in arcs {
                            if !label_is_regular(l) || !self.is_regular_arc(c) {
                                continue;
                            }
                            let cv = self.value_of(c)?;
                            items.push((Val::Str(Rc::from(l)), cv));
                        }
                        items
                    }
                    Val::List(m) => {
                        let m = self.finalize_follow(m)?;
                        let arcs: Vec<NodeId> = self.nodes[m].arcs.values().copied().collect();
                        let mut items = Vec::new();
                        for (i, c) in arcs.into_iter().enumerate() {
                            let cv = self.value_of(c)?;
                            items.push((Val::int(i as i128), cv));
                        }
                        items
                    }
                    Val::Err(_) => {
                        out.push(Err(v));
                        return Ok(());
                    }
                    _ => {
                        out.push(Err(perr(
                            DiagnosticKind::Incomplete,
                            "cannot range over a value that is not a concrete struct or list",
                            src.span,
                        )));
                        return Ok(());
                    }
                };
                for (kv, vv) in items {
                    let mut binds = vec![(**vname, Bind::Val(vv))];
                    if let Some(kn) = kname {
                        binds.push((**kn, Bind::Val(kv)));
                    }
                    let nenv = self.bind_env(env, binds);
                    self.run_comp(comp, i + 1, nenv, out)?;
                }
            }
        }
        Ok(())
    }

    fn run_struct_comp(&mut self, n: NodeId, comp: &'a Comprehension<'a>, env: EnvId, groups: Groups) -> R<()> {
        let mut yields = Vec::new();
        self.enter(Some(comp.span))?;
        let r = self.run_comp(comp, 0, env, &mut yields);
        self.leave();
        r?;
        for y in yields {
            match y {
                Ok(yenv) => {
                    self.process(n, Conj { kind: CK::Expr(comp.body, yenv), groups: groups.clone() })?;
                }
                Err(e) => self.add_err(n, e),
            }
        }
        Ok(())
    }

    fn is_regular_arc(&self, c: NodeId) -> bool {
        let n = &self.nodes[c];
        n.n_regular > 0 || (n.n_optional == 0 && n.n_required == 0)
    }

    // ---------------------------------------------------------------- finalize

    pub(crate) fn finalize(&mut self, n: NodeId) -> R<()> {
        match self.nodes[n].state {
            St::Done | St::Finalizing => return Ok(()),
            _ => {}
        }
        let span = self.nodes[n].decl_span.get();
        self.enter(span)?;
        let r = self.finalize_inner(n);
        self.leave();
        r
    }

    fn finalize_inner(&mut self, n: NodeId) -> R<()> {
        self.expand(n)?;
        self.nodes[n].state = St::Finalizing;
        if self.nodes[n].has_disjs() {
            self.resolve_disj(n)?;
            self.nodes[n].state = St::Done;
            self.trim_cold(n);
            return Ok(());
        }
        let acc = self.nodes[n].acc.clone();
        let acc_span = self.nodes[n].acc_span.get().or(self.nodes[n].decl_span.get());
        let struct_seen = self.nodes[n].struct_seen;
        let list_seen = self.nodes[n].has_lists;
        let value = if let Val::Err(_) = acc {
            acc
        } else if struct_seen && list_seen {
            perr(DiagnosticKind::Eval, "conflicting values: struct and list", acc_span.unwrap_or_default())
        } else if struct_seen || list_seen {
            let need = if struct_seen { k::STRUCT } else { k::LIST };
            if acc.kind() & need == 0 {
                let what = if struct_seen { "struct" } else { "list" };
                perr(
                    DiagnosticKind::Eval,
                    format!("conflicting values {} and {what} (mismatched types)", self.val_text(&acc)),
                    acc_span.unwrap_or_default(),
                )
            } else if struct_seen {
                match self.check_closed(n)? {
                    Some(e) => e,
                    None => Val::Struct(n),
                }
            } else {
                match self.finish_list(n)? {
                    Some(e) => e,
                    None => Val::List(n),
                }
            }
        } else {
            acc
        };
        let is_err = matches!(value, Val::Err(_));
        self.nodes[n].value = value;
        // (a streamed root's fields are finalized one at a time by the export)
        if !is_err && self.stream_root.get() != Some(n) {
            let len = self.nodes[n].arcs.len();
            for i in 0..len {
                let Some(&(_, c)) = self.nodes[n].arcs.entries.get(i) else { break };
                if self.is_regular_arc(c) || self.nodes[c].n_required > 0 {
                    self.finalize(c)?;
                }
            }
        }
        // The field list is complete: give back the growth slack (it lives until the end).
        self.nodes[n].arcs.entries.shrink_to_fit();
        self.nodes[n].state = St::Done;
        self.trim_cold(n);
        Ok(())
    }

    /// A finished node keeps of its cold state only what [`Ev::reset`] would keep (attributes
    /// and chosen disjuncts): disjunctions, list lengths, patterns and comprehensions were
    /// consumed by its evaluation and are rebuilt from the conjuncts if it is ever reset.
    /// Frees them while evaluation goes on instead of holding them to the end.
    fn trim_cold(&mut self, n: NodeId) {
        let node = &mut self.nodes[n];
        let Some(x) = node.x.as_deref_mut() else { return };
        // (optional fields kept aside still answer references and disjunct comparisons)
        if x.attrs.is_empty() && x.choices.is_none() && x.optional.is_empty() {
            node.x = None;
        } else if !(x.lists.is_empty() && x.disjs.is_empty() && x.patterns.is_empty() && x.comps.is_empty()) {
            let optional = std::mem::take(&mut x.optional);
            x.keep_reset_state();
            x.optional = optional;
        }
    }

    fn check_closed(&mut self, n: NodeId) -> R<Option<Val>> {
        let ngroups = self.nodes[n].groups.len();
        if ngroups == 0 {
            return Ok(None);
        }
        // arcs and groups are read by index (both are plain ids): no copies of the lists
        let narcs = self.nodes[n].arcs.len();
        for i in 0..narcs {
            let Some(&(label, c)) = self.nodes[n].arcs.entries.get(i) else { break };
            // an optional field is a constraint, not a field: closed structs accept it (CUE v0.4)
            if !label_is_regular(label) || self.nodes[c].is_optional() {
                continue;
            }
            for gi in 0..ngroups {
                let Some(&g) = self.nodes[n].groups.get(gi) else { break };
                if self.groups[g].scope || self.group_allows(g, label, 0)? {
                    continue;
                }
                let sp = self.nodes[c].decl_span.unwrap_or_default();
                let mut path = self.path_of(n);
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(label);
                return Ok(Some(Val::Err(Rc::new(EvalErr {
                    path: Some(path),
                    ..EvalErr::new(DiagnosticKind::Eval, format!("field not allowed: {label}"), Some(sp))
                }))));
            }
        }
        Ok(None)
    }

    fn finish_list(&mut self, n: NodeId) -> R<Option<Val>> {
        let lists = std::mem::take(&mut self.nodes[n].cx().lists);
        let mut closed: Option<usize> = None;
        let mut min = 0usize;
        for l in &lists {
            if l.tail.is_none() {
                if let Some(c) = closed
                    && c != l.len
                {
                    let sp = self.nodes[n].decl_span.unwrap_or_default();
                    let msg = format!("incompatible list lengths ({c} and {})", l.len);
                    self.nodes[n].cx().lists = lists;
                    return Ok(Some(perr(DiagnosticKind::Eval, msg, sp)));
                }
                closed = Some(l.len);
            }
            min = min.max(l.len);
        }
        let len = closed.unwrap_or(min);
        if let Some(c) = closed
            && c < min
        {
            let sp = self.nodes[n].decl_span.unwrap_or_default();
            self.nodes[n].cx().lists = lists;
            return Ok(Some(perr(DiagnosticKind::Eval, format!("incompatible list lengths ({c} and {min})"), sp)));
        }
        for l in &lists {
            if let Some(Some((tail, _))) = &l.tail {
                for i in l.len..len {
                    let c = self.arc_index(n, i)?;
                    self.nodes[c].add_conj(tail.clone());
                }
            }
        }
        self.nodes[n].cx().lists = lists;
        Ok(None)
    }

    fn resolve_disj(&mut self, n: NodeId) -> R<()> {
        let x = self.nodes[n].cx();
        let disjs = std::mem::take(&mut x.disjs);
        let single = disjs.len() == 1;
        // the others come back through the chosen alternatives' re-evaluation
        let Some(d) = disjs.into_first() else { return Ok(()) };
        let base: Vec<usize> = x.choices.as_ref().map(|c| c.to_vec()).unwrap_or_default();
        let mut leaves: Leaves = Leaves::new();
        // per leaf of the general path: whether a marked inner disjunction made it a default
        let mut explicit: Vec<bool> = Vec::new();
        let mut first_err: Option<Val> = None;
        let mut incomplete = false;
        let fast = if single { self.scalar_disj_leaves(n, &d)? } else { None };
        let slow_alts = if fast.is_some() { &d.alts[..0] } else { &d.alts[..] };
        if let Some(l) = fast {
            leaves = l;
        }
        for (i, (_, is_def)) in slow_alts.iter().enumerate() {
            let mut ch = base.clone();
            ch.push(i);
            let parent = self.nodes[n].parent;
            let label = self.nodes[n].label;
            let is_index = self.nodes[n].is_index;
            let c = self.new_node(parent.get(), label, is_index)?;
            let conjs = self.nodes[n].conjs.clone();
            {
                let src_def = self.nodes[n].is_def;
                let decl_span = self.nodes[n].decl_span;
                let (nr, no, nq) = (self.nodes[n].n_regular, self.nodes[n].n_optional, self.nodes[n].n_required);
                let (first_optional, created_end) = (self.nodes[n].first_optional, self.nodes[n].created_end);
                let node = &mut self.nodes[c];
                node.conjs = conjs;
                node.first_optional = first_optional;
                node.created_end = created_end;
                node.cx().choices = Some(Rc::new(ch));
                node.is_def = src_def;
                node.decl_span = decl_span;
                node.n_regular = nr;
                node.n_optional = no;
                node.n_required = nq;
            }
            self.finalize(c)?;
            let flag = *is_def || !d.has_default;
            if let Some(e) = self.subtree_error(c)? {
                if e.kind == DiagnosticKind::Incomplete && !e.missing {
                    incomplete = true;
                } else {
                    if first_err.is_none() {
                        first_err = Some(Val::Err(e));
                    }
                    continue;
                }
            }
            let v = self.nodes[c].value.clone();
            match v {
                Val::Disj(inner) => {
                    // marks inside decide which leaves are defaults only when some leaf is one
                    // and some is not (an unmarked disjunction flags all its leaves)
                    let marked = inner.iter().any(|l| l.1) && inner.iter().any(|l| !l.1);
                    for (iv, idf) in inner.iter() {
                        leaves.push((iv.clone(), flag && *idf));
                        explicit.push(single && marked && *idf);
                    }
                }
                other => {
                    let mode = self.nodes[c].leaf_default;
                    if single {
                        // a disjunction nested in this one: a default it lost leaves an
                        // unmarked value ("maybe"), one it kept is a default ("is")
                        explicit.push(mode == leaf::IS);
                        leaves.push((other, flag));
                    } else {
                        // another disjunction of the node: defaults combine as conjuncts, so a
                        // leaf that is not that disjunction's default is not a default here
                        explicit.push(false);
                        leaves.push((other, flag && mode != leaf::NOT));
                    }
                }
            }
        }
        let _ = incomplete;
        // CUE's default modes: in a disjunction without marks of its own, leaves that an inner
        // disjunction marked as defaults ("is default") win over unmarked ones ("maybe"):
        // `(*1 | 2) | 3` defaults to 1, `(1 | 2) | 3` has no default
        let any_explicit = explicit.iter().any(|e| *e);
        if !d.has_default && any_explicit {
            for (l, e) in leaves.iter_mut().zip(&explicit) {
                l.1 = l.1 && *e;
            }
        }
        let uniq = self.dedupe_leaves(leaves)?;
        let value = match uniq.len() {
            0 => match first_err {
                Some(Val::Err(e)) => Val::Err(Rc::new(EvalErr {
                    path: e.path.clone(),
                    ..EvalErr::new(e.kind, format!("empty disjunction: {}", e.msg), e.span)
                })),
                _ => perr(DiagnosticKind::Eval, "empty disjunction", self.nodes[n].decl_span.unwrap_or_default()),
            },
            _ => self.leaves_value(n, uniq, d.has_default || any_explicit),
        };
        if let Val::Struct(m) | Val::List(m) = &value {
            self.nodes[n].redirect = OptId(*m);
        }
        self.nodes[n].value = value;
        Ok(())
    }

    /// The value a disjunction leaves on node `n` from its surviving leaves (at least one):
    /// several make a disjunction; one is the value itself, and its default mode is noted. A
    /// default that survives from a marked disjunction (`marked`: it, or one inside it, marks
    /// defaults) stays one ("is"); a leaf left after the defaults were eliminated is an
    /// unmarked value ("maybe").
    fn leaves_value(&mut self, n: NodeId, mut uniq: Leaves, marked: bool) -> Val {
        if uniq.len() == 1
            && let Some((v, dflt)) = uniq.pop()
        {
            self.nodes[n].leaf_default = if !dflt {
                leaf::NOT
            } else if marked {
                leaf::IS
            } else {
                leaf::MAYBE
            };
            return v;
        }
        Val::Disj(Rc::new(uniq.into_vec()))
    }

    /// The alternatives of a scalar disjunction that unify with `acc`, each unified, with its
    /// default mark (every alternative is a default when none is marked). A failing one is
    /// dropped, so its message is never rendered.
    fn unify_alternatives(
        &mut self,
        acc: &Val,
        alts: impl IntoIterator<Item = (Val, bool)>,
        has_default: bool,
    ) -> R<Leaves> {
        let mut leaves = Leaves::new();
        for (v, is_def) in alts {
            self.step(None)?;
            let r = self.unify_scalar_with(acc.clone(), v, None, false)?;
            if !matches!(r, Val::Err(_)) {
                leaves.push((r, is_def || !has_default));
            }
        }
        Ok(leaves)
    }

    /// A disjunction's leaves without repeats ([`Ev::same_disjunct`]): a repeated leaf is a
    /// default when any of its copies is. A single leaf, the usual outcome, needs no second list.
    fn dedupe_leaves(&mut self, leaves: Leaves) -> R<Leaves> {
        if leaves.len() <= 1 {
            return Ok(leaves);
        }
        let mut uniq = Leaves::new();
        for (v, dflt) in leaves {
            let mut found = false;
            for (u, ud) in uniq.iter_mut() {
                if self.same_disjunct(u, &v)? {
                    *ud = *ud || dflt;
                    found = true;
                    break;
                }
            }
            if !found {
                uniq.push((v, dflt));
            }
        }
        Ok(uniq)
    }

    /// Fast path of [`Self::resolve_disj`] for a scalar node whose only disjunction is over
    /// literal scalars or predeclared types (`"a" | "b"`, `int | *0`) and whose other conjuncts
    /// are such literals too: each alternative is unified with the accumulated value directly
    /// instead of re-evaluating a cloned node per alternative. Returns `None` (use the general
    /// path) when the node is anything else or when no alternative succeeds (so that error
    /// messages come from the general path).
    fn scalar_disj_leaves(&mut self, n: NodeId, d: &DisjInfo<'a>) -> R<Option<Leaves>> {
        let node = &self.nodes[n];
        if node.struct_seen || node.has_lists || node.arcs.len() != 0 || !scalar_like(&node.acc) {
            return Ok(None);
        }
        if let Some(x) = node.x.as_deref()
            && (!x.patterns.is_empty() || !x.comps.is_empty() || !x.deferred.is_empty() || !x.disjs.is_empty())
        {
            return Ok(None);
        }
        for c in node.conjs.iter() {
            let ok = match &c.kind {
                CK::Expr(e, env) => self.simple_expr(e, *env, true),
                CK::Val(b) => {
                    scalar_like(&b.0) || matches!(&b.0, Val::Disj(l) if l.iter().all(|(x, _)| scalar_like(x)))
                }
                CK::Decls(..) => false,
            };
            if !ok {
                return Ok(None);
            }
        }
        let acc = node.acc.clone();
        let mut alts: smallvec::SmallVec<[(Val, bool); 4]> = smallvec::SmallVec::new();
        for (conj, is_def) in &d.alts {
            let v = match &conj.kind {
                CK::Val(b) => b.0.clone(),
                CK::Expr(e, env) if self.simple_expr(e, *env, false) => self.eval(e, *env)?,
                _ => return Ok(None),
            };
            if !scalar_like(&v) {
                return Ok(None);
            }
            alts.push((v, *is_def));
        }
        let leaves = self.unify_alternatives(&acc, alts, d.has_default)?;
        if leaves.is_empty() {
            return Ok(None);
        }
        Ok(Some(leaves))
    }

    /// Whether `e` is a literal scalar or a predeclared type name (not shadowed), optionally
    /// combined with `|` and `*` (when `or` is set).
    fn simple_expr(&self, e: &Expr<'_>, env: EnvId, or: bool) -> bool {
        match &e.kind {
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Int(_)
            | ExprKind::BigInt(_)
            | ExprKind::Float(_)
            | ExprKind::Bytes(_) => true,
            ExprKind::Lit(_) => true,
            ExprKind::Str(parts) => matches!(&parts[..], [StrPart::Lit(_)]),
            ExprKind::Ident(name) => {
                if self.unbound_basic_type(name).is_some() {
                    return true;
                }
                if !matches!(&***name, "_" | "int" | "float" | "number" | "string" | "bytes" | "bool") {
                    return false;
                }
                let mut cur = Some(env);
                while let Some(id) = cur {
                    let en = &self.envs[id];
                    if en.binds.iter().any(|(b, _)| **b == ***name) || en.names.contains(name) {
                        return false;
                    }
                    cur = en.parent;
                }
                true
            }
            ExprKind::Paren(x) => self.simple_expr(x, env, or),
            ExprKind::Unary(UnOp::Default, x) if or => self.simple_expr(x, env, or),
            ExprKind::Binary(BinOp::Or, l, r) if or => self.simple_expr(l, env, or) && self.simple_expr(r, env, or),
            _ => false,
        }
    }

    /// First error in the subtree (regular fields only).
    fn subtree_error(&mut self, n: NodeId) -> R<Option<Rc<EvalErr>>> {
        if self.nodes[n].err_known {
            return Ok(self.nodes[n].err_sub.clone());
        }
        self.finalize(n)?;
        let r = match self.nodes[n].value.clone() {
            Val::Err(e) => Some(e),
            Val::Struct(m) | Val::List(m) if m != n => self.subtree_error(m)?,
            Val::Struct(_) | Val::List(_) => {
                let arcs: Vec<NodeId> = self.nodes[n].arcs.values().copied().collect();
                let mut found = None;
                for c in arcs {
                    if !self.is_regular_arc(c) {
                        continue;
                    }
                    if let Some(e) = self.subtree_error(c)? {
                        found = Some(e);
                        break;
                    }
                }
                found
            }
            _ => None,
        };
        self.nodes[n].err_sub = r.clone();
        self.nodes[n].err_known = true;
        Ok(r)
    }

    /// Finalizes and follows disjunction redirects (default).
    pub(crate) fn finalize_follow(&mut self, mut n: NodeId) -> R<NodeId> {
        for _ in 0..64 {
            self.finalize(n)?;
            if let Some(r) = self.nodes[n].redirect.get() {
                n = r;
                continue;
            }
            if let Val::Disj(_) = &self.nodes[n].value {
                let v = self.default_of(self.nodes[n].value.clone())?;
                if let Val::Struct(m) | Val::List(m) = v
                    && m != n
                {
                    n = m;
                    continue;
                }
            }
            return Ok(n);
        }
        Ok(n)
    }

    /// The final value of a node (finalizing it).
    pub(crate) fn value_of(&mut self, n: NodeId) -> R<Val> {
        if self.nodes[n].state == St::Finalizing {
            // cycle: a value-position reference to a node being evaluated
            return Ok(Val::err(
                DiagnosticKind::Cycle,
                "cycle detected: reference to a value that depends on itself",
                self.nodes[n].decl_span.get(),
            ));
        }
        if self.nodes[n].state == St::Expanding {
            return Ok(Val::err(DiagnosticKind::Cycle, "cycle detected in evaluation", self.nodes[n].decl_span.get()));
        }
        self.finalize(n)?;
        Ok(self.nodes[n].value.clone())
    }

    /// Resolves defaults: a disjunction with exactly one default (or one leaf) becomes it.
    pub(crate) fn default_of(&mut self, v: Val) -> R<Val> {
        match &v {
            Val::Disj(leaves) => {
                let defaults: Vec<&(Val, bool)> = leaves.iter().filter(|(_, d)| *d).collect();
                if defaults.len() == 1 {
                    return Ok(defaults[0].0.clone());
                }
                Ok(v)
            }
            _ => Ok(v),
        }
    }

    // ---------------------------------------------------------------- references

    fn lookup(&mut self, name: &str, env: EnvId, span: Span) -> R<Result<Target<'a>, Val>> {
        if let Some(i) = self.unbound_basic_type(name) {
            return Ok(Ok(Target::Val(self.basic_types[i].clone())));
        }
        let mut e = Some(env);
        while let Some(id) = e {
            let mut found: Option<Bind<'a>> = None;
            for (n, b) in self.envs[id].binds.iter().rev() {
                if same_label(n, name) {
                    found = Some(b.clone());
                    break;
                }
            }
            if let Some(b) = found {
                return Ok(Ok(match b {
                    Bind::Let(x, lenv) => Target::Let(x, lenv),
                    Bind::Val(v) => Target::Val(v),
                    Bind::Alias(label) => {
                        let node = self.envs[id].node;
                        match self.child(node, label, span)? {
                            Ok(c) => Target::Node(c),
                            Err(e) => return Ok(Err(e)),
                        }
                    }
                    Bind::Import(path, fi, ii) => {
                        if let Some(u) = self.imports_used.get_mut(fi).and_then(|v| v.get_mut(ii)) {
                            *u = true;
                        }
                        Target::Val(Val::Package(path))
                    }
                }));
            }
            if self.envs[id].names.contains(name) {
                let node = self.envs[id].node;
                return Ok(match self.child(node, name, span)? {
                    Ok(c) => Ok(Target::Node(c)),
                    Err(e) => Err(e),
                });
            }
            e = self.envs[id].parent;
        }
        if let Some(i) = BASIC_TYPES.iter().position(|(n, _)| *n == name) {
            return Ok(Ok(Target::Val(self.basic_types[i].clone())));
        }
        if let Some(v) = predeclared(name) {
            return Ok(Ok(Target::Val(v)));
        }
        Ok(Err(perr(DiagnosticKind::Eval, format!("reference \"{name}\" not found"), span)))
    }

    /// The index in [`BASIC_TYPES`] of a predeclared basic type that no declaration binds:
    /// such a reference means the type wherever it appears.
    #[inline]
    fn unbound_basic_type(&self, name: &str) -> Option<usize> {
        if !(3..=6).contains(&name.len()) {
            return None;
        }
        BASIC_TYPES.iter().position(|(n, _)| *n == name).filter(|i| self.basic_bound & (1 << i) == 0)
    }

    /// Child arc of a node (following disjunction results when needed).
    fn child(&mut self, n: NodeId, label: &str, span: Span) -> R<Result<NodeId, Val>> {
        let mut n = n;
        if self.nodes[n].state == St::New {
            self.enter(Some(span))?;
            let r = self.expand(n);
            self.leave();
            r?;
        }
        if (self.nodes[n].has_disjs() || self.nodes[n].state == St::Done)
            && self.nodes[n].state != St::Finalizing
            && self.nodes[n].state != St::Expanding
        {
            n = self.finalize_follow(n)?;
        }
        if let Some(c) = self.nodes[n].arcs.get(label) {
            let c = *c;
            let node = &self.nodes[c];
            if node.is_optional() {
                return Ok(Err(missing_field(format!("cannot reference optional field {label}"), span)));
            }
            return Ok(Ok(c));
        }
        if self.nodes[n].x.as_deref().is_some_and(|x| x.optional.iter().any(|o| same_label(o.label, label))) {
            return Ok(Err(missing_field(format!("cannot reference optional field {label}"), span)));
        }
        // pattern-constrained or missing
        Ok(Err(missing_field(format!("undefined field: {label}"), span)))
    }

    fn resolve(&mut self, e: &'a Expr<'a>, env: EnvId) -> R<Result<Target<'a>, Val>> {
        match &e.kind {
            ExprKind::Ident(name) => self.lookup(name, env, e.span),
            ExprKind::Paren(x) => self.resolve(x, env),
            ExprKind::Selector(base, sel) => {
                let b = match self.resolve(base, env)? {
                    Ok(t) => t,
                    Err(v) => return Ok(Err(v)),
                };
                let bv = match b {
                    Target::Node(nid) => {
                        let r = self.child(nid, sel, e.span)?;
                        return Ok(r.map(Target::Node));
                    }
                    Target::Val(v) => v,
                    Target::Let(x, lenv) => {
                        self.enter(Some(e.span))?;
                        let r = self.eval(x, lenv);
                        self.leave();
                        r?
                    }
                };
                let bv = self.default_of(bv)?;
                match bv {
                    Val::Struct(m) => Ok(self.child(m, sel, e.span)?.map(Target::Node)),
                    Val::Package(p) => match super::builtins::member(&p, sel) {
                        Some(v) => Ok(Ok(Target::Val(v))),
                        None => Ok(Err(perr(DiagnosticKind::Unsupported, format!("not supported: {p}.{sel}"), e.span))),
                    },
                    Val::Err(_) => Ok(Err(bv)),
                    other => Ok(Err(perr(
                        if matches!(other, Val::Top | Val::Basic(..) | Val::Disj(_)) {
                            DiagnosticKind::Incomplete
                        } else {
                            DiagnosticKind::Eval
                        },
                        format!("invalid selector {sel}: {} is not a struct", self.val_text(&other)),
                        e.span,
                    ))),
                }
            }
            ExprKind::Index(base, idx) => {
                let iv = self.eval(idx, env)?;
                let iv = self.default_of(iv)?;
                let b = match self.resolve(base, env)? {
                    Ok(t) => t,
                    Err(v) => return Ok(Err(v)),
                };
                let bv = match b {
                    Target::Node(nid) => {
                        let f = self.finalize_follow(nid)?;
                        self.nodes[f].value.clone()
                    }
                    Target::Val(v) => v,
                    Target::Let(x, lenv) => self.eval(x, lenv)?,
                };
                let bv = self.default_of(bv)?;
                match (&bv, &iv) {
                    (Val::Err(_), _) => Ok(Err(bv)),
                    (_, Val::Err(_)) => Ok(Err(iv)),
                    (Val::List(m), Val::Int(i)) => {
                        let i = i.get();
                        let m = self.finalize_follow(*m)?;
                        let key = i.to_string();
                        match self.nodes[m].arcs.get(key.as_str()) {
                            Some(c) if i >= 0 => Ok(Ok(Target::Node(*c))),
                            _ => Ok(Err(perr(
                                DiagnosticKind::Eval,
                                format!("index out of range [{i}] with length {}", self.nodes[m].arcs.len()),
                                e.span,
                            ))),
                        }
                    }
                    (Val::Struct(m), Val::Str(s)) => Ok(self.child(*m, s, e.span)?.map(Target::Node)),
                    _ => Ok(Err(perr(
                        DiagnosticKind::Incomplete,
                        format!("invalid index {} into {}", self.val_text(&iv), self.val_text(&bv)),
                        e.span,
                    ))),
                }
            }
            // a literal operand of a selector or index is a node: selecting one field leaves
            // the others unevaluated, so their errors do not matter (`{a: 1, b: 1 & 2}.a` is 1)
            // (list literals and conjunctions are evaluated whole, as CUE does: `[1, 1 & 2][0]`
            // and `({p: 1} & {q: 1 & 2}).p` are errors)
            ExprKind::Struct(_) => Ok(Ok(Target::Node(self.anon_node(e, env)?))),
            _ => Ok(Ok(Target::Val(self.eval(e, env)?))),
        }
    }

    // ---------------------------------------------------------------- value evaluation

    /// A node for a struct, list, conjunction or disjunction in expression position.
    fn anon_node(&mut self, e: &'a Expr<'a>, env: EnvId) -> R<NodeId> {
        let parent = self.envs[env].node;
        let n = self.new_node(Some(parent), None, false)?;
        self.nodes[n].add_conj(Conj { kind: CK::Expr(e, env), groups: self.no_groups.clone() });
        self.nodes[n].decl_span = OptSpan::some(e.span);
        Ok(n)
    }

    /// The value of [`Ev::anon_node`], or the first error in it (an operand needs all of it).
    fn anon(&mut self, e: &'a Expr<'a>, env: EnvId) -> R<Val> {
        let n = self.anon_node(e, env)?;
        self.finalize(n)?;
        let v = self.nodes[n].value.clone();
        if let Some(err) = self.subtree_error(n)? {
            return Ok(Val::Err(err));
        }
        Ok(v)
    }

    /// Builds a struct value from fields.
    pub(crate) fn make_struct(&mut self, fields: Vec<(String, Val)>) -> R<Val> {
        let n = self.new_node(None, None, false)?;
        self.nodes[n].struct_seen = true;
        for (l, v) in fields {
            let l = self.lbl(&l);
            let c = self.new_node(Some(n), Some(l), false)?;
            self.nodes[c].n_regular = 1;
            self.number_arc(c, false);
            self.nodes[c].add_conj(Conj { kind: CK::val(v, None), groups: self.no_groups.clone() });
            self.nodes[n].arcs.insert(l, c);
        }
        self.nodes[n].built = true;
        self.nodes[n].state = St::Expanded;
        self.finalize(n)?;
        Ok(Val::Struct(n))
    }

    /// `close(s)`: a struct value whose conjuncts are closed by a fresh group.
    pub(crate) fn close_struct(&mut self, v: Val) -> R<Val> {
        let g = self.new_group();
        let n = self.new_node(None, None, false)?;
        self.nodes[n].add_conj(Conj { kind: CK::val(v, None), groups: Rc::from([g]) });
        self.finalize(n)?;
        Ok(Val::Struct(n))
    }

    /// Builds a list value.
    pub(crate) fn make_list(&mut self, items: Vec<Val>) -> R<Val> {
        let n = self.new_node(None, None, false)?;
        let len = items.len();
        for (i, v) in items.into_iter().enumerate() {
            let label = self.index_label(i);
            let c = self.new_node(Some(n), Some(label), true)?;
            self.nodes[c].n_regular = 1;
            self.nodes[c].add_conj(Conj { kind: CK::val(v, None), groups: self.no_groups.clone() });
            self.nodes[n].arcs.insert(label, c);
        }
        self.nodes[n].push_list(ListLen { len, tail: None });
        self.nodes[n].built = true;
        self.nodes[n].state = St::Expanded;
        self.finalize(n)?;
        Ok(Val::List(n))
    }

    /// Concrete elements of a list value (defaults resolved).
    pub(crate) fn list_items(&mut self, n: NodeId) -> R<Vec<Val>> {
        let n = self.finalize_follow(n)?;
        let arcs: Vec<NodeId> = self.nodes[n].arcs.values().copied().collect();
        let mut out = Vec::with_capacity(arcs.len());
        for c in arcs {
            let v = self.value_of(c)?;
            out.push(self.default_of(v)?);
        }
        Ok(out)
    }

    /// Regular fields of a struct value.
    pub(crate) fn struct_fields(&mut self, n: NodeId) -> R<Vec<(&'a str, Val)>> {
        let n = self.finalize_follow(n)?;
        let arcs: Vec<(&'a str, NodeId)> = self.nodes[n].arcs.iter().map(|(k, v)| (*k, *v)).collect();
        let mut out = Vec::new();
        for (l, c) in arcs {
            if !label_is_regular(l) || !self.is_regular_arc(c) {
                continue;
            }
            let v = self.value_of(c)?;
            out.push((l, self.default_of(v)?));
        }
        Ok(out)
    }

    pub(crate) fn eval(&mut self, e: &'a Expr<'a>, env: EnvId) -> R<Val> {
        self.step(Some(e.span))?;
        self.enter(Some(e.span))?;
        let r = self.eval_inner(e, env);
        self.leave();
        r
    }

    fn eval_inner(&mut self, e: &'a Expr<'a>, env: EnvId) -> R<Val> {
        let sp = e.span;
        Ok(match &e.kind {
            ExprKind::Null => Val::Null,
            ExprKind::Bool(b) => Val::Bool(*b),
            ExprKind::Int(i) => Val::int(i128::from(*i)),
            ExprKind::BigInt(i) => Val::int(**i),
            ExprKind::Float(f) => Val::float(Decimal::new(f.0, f.1)),
            ExprKind::Bytes(b) => Val::Bytes(Rc::from(&b[..])),
            ExprKind::Bottom => perr(DiagnosticKind::Eval, "explicit error (_|_ literal)", sp),
            ExprKind::AttrOnly => Val::Top,
            ExprKind::Unsupported(what) => perr(DiagnosticKind::Unsupported, format!("not supported: {what}"), sp),
            ExprKind::Paren(x) => self.eval(x, env)?,
            ExprKind::Lit(l) => Val::Str(Rc::clone(l)),
            ExprKind::Str(parts) if matches!(&parts[..], [StrPart::Lit(_)]) => match &parts[..] {
                [StrPart::Lit(l)] => Val::Str(Rc::clone(l)),
                _ => Val::Top,
            },
            ExprKind::Str(parts) => {
                let mut s = String::new();
                for p in parts.iter() {
                    match p {
                        StrPart::Lit(l) => s.push_str(l),
                        StrPart::Expr(x) => {
                            let v = self.eval(x, env)?;
                            let v = self.default_of(v)?;
                            match v {
                                Val::Str(t) => s.push_str(&t),
                                Val::Int(i) => s.push_str(&i.get().to_string()),
                                Val::Float(d) => s.push_str(&d.to_cue_string()),
                                Val::Bool(b) => s.push_str(if b { "true" } else { "false" }),
                                Val::Bytes(b) => s.push_str(&String::from_utf8_lossy(&b)),
                                Val::Err(_) => return Ok(v),
                                Val::Top | Val::Basic(..) | Val::Disj(_) => {
                                    return Ok(perr(
                                        DiagnosticKind::Incomplete,
                                        format!("incomplete value {} in interpolation", self.val_text(&v)),
                                        x.span,
                                    ));
                                }
                                other => {
                                    return Ok(perr(
                                        DiagnosticKind::Eval,
                                        format!(
                                            "invalid interpolation: cannot convert {} to string",
                                            self.val_text(&other)
                                        ),
                                        x.span,
                                    ));
                                }
                            }
                        }
                    }
                }
                Val::Str(Rc::from(s))
            }
            ExprKind::Ident(_) | ExprKind::Selector(..) | ExprKind::Index(..) => match self.resolve(e, env)? {
                Ok(Target::Node(n)) => self.value_of(n)?,
                Ok(Target::Val(v)) => v,
                Ok(Target::Let(x, lenv)) => self.eval(x, lenv)?,
                Err(v) => v,
            },
            ExprKind::Struct(_) | ExprKind::List(_) => self.anon(e, env)?,
            ExprKind::Binary(BinOp::And | BinOp::Or, _, _) => self.anon(e, env)?,
            ExprKind::Unary(op, x) => {
                let v = self.eval(x, env)?;
                let v = self.default_of(v)?;
                self.unary(*op, v, sp)?
            }
            ExprKind::Binary(op, l, r) => {
                let a = self.eval(l, env)?;
                let a = self.default_of(a)?;
                let b = self.eval(r, env)?;
                let b = self.default_of(b)?;
                self.binary(*op, a, b, sp)?
            }
            ExprKind::Call(c) => {
                let (f, args) = &**c;
                let fv = self.eval(f, env)?;
                let mut avs = Vec::with_capacity(args.len());
                for a in args.iter() {
                    let v = self.eval(a, env)?;
                    avs.push(self.default_of(v)?);
                }
                match fv {
                    Val::Builtin(name) => super::builtins::call(self, &name, avs, sp)?,
                    Val::Err(_) => fv,
                    other => {
                        perr(DiagnosticKind::Eval, format!("cannot call non-function {}", self.val_text(&other)), sp)
                    }
                }
            }
        })
    }

    fn unary(&mut self, op: UnOp, v: Val, sp: Span) -> R<Val> {
        if let Val::Err(_) = v {
            return Ok(v);
        }
        let bound = |o: BoundOp| -> Option<BoundOp> { Some(o) };
        let bop = match op {
            UnOp::Lt => bound(BoundOp::Lt),
            UnOp::Le => bound(BoundOp::Le),
            UnOp::Gt => bound(BoundOp::Gt),
            UnOp::Ge => bound(BoundOp::Ge),
            UnOp::Ne => bound(BoundOp::Ne),
            UnOp::Match => bound(BoundOp::Match),
            UnOp::NotMatch => bound(BoundOp::NotMatch),
            _ => None,
        };
        if let Some(bop) = bop {
            if !v.is_concrete_scalar() {
                return Ok(perr(
                    DiagnosticKind::Incomplete,
                    format!("bound value {} is not concrete", self.val_text(&v)),
                    sp,
                ));
            }
            let kinds = match bop {
                BoundOp::Match | BoundOp::NotMatch => {
                    let Val::Str(s) = &v else {
                        return Ok(perr(DiagnosticKind::Eval, "regular expression must be a string", sp));
                    };
                    let re = match self.regex(s) {
                        Ok(r) => r,
                        Err(m) => return Ok(perr(DiagnosticKind::Eval, m, sp)),
                    };
                    return Ok(Val::Basic(
                        k::STRING,
                        Rc::new(vec![Bound { op: bop, val: v, re: Some(re), args: None }]),
                    ));
                }
                // `!=` constrains values of its operand's kind (`!=null`: anything but null);
                // CUE v0.4 rejects a boolean operand
                BoundOp::Ne => match &v {
                    Val::Int(_) | Val::Float(_) => k::NUMBER,
                    Val::Str(_) => k::STRING,
                    Val::Bytes(_) => k::BYTES,
                    Val::Null => k::TOP & !k::NULL,
                    _ => {
                        return Ok(perr(
                            DiagnosticKind::Eval,
                            format!("invalid value {} (type {}) for bound !=", self.val_text(&v), kind_name(v.kind())),
                            sp,
                        ));
                    }
                },
                _ => match &v {
                    Val::Int(_) | Val::Float(_) => k::NUMBER,
                    Val::Str(_) => k::STRING,
                    Val::Bytes(_) => k::BYTES,
                    _ => return Ok(perr(DiagnosticKind::Eval, "invalid bound", sp)),
                },
            };
            return Ok(Val::Basic(kinds, Rc::new(vec![Bound { op: bop, val: v, re: None, args: None }])));
        }
        Ok(match (op, &v) {
            (UnOp::Neg, Val::Int(i)) => Val::int(-i.get()),
            (UnOp::Neg, Val::Float(d)) => Val::float(d.neg()),
            (UnOp::Pos, Val::Int(_) | Val::Float(_)) => v,
            (UnOp::Not, Val::Bool(b)) => Val::Bool(!b),
            (UnOp::Default, _) => v,
            (_, Val::Top | Val::Basic(..) | Val::Disj(_)) => {
                perr(DiagnosticKind::Incomplete, format!("operand {} is not concrete", self.val_text(&v)), sp)
            }
            _ => perr(DiagnosticKind::Eval, format!("invalid operand {} for unary operator", self.val_text(&v)), sp),
        })
    }

    pub(crate) fn regex(&mut self, s: &str) -> Result<Rc<regex::Regex>, String> {
        if let Some(r) = self.regex_cache.get(s) {
            return Ok(r.clone());
        }
        let re = regex::RegexBuilder::new(s)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("invalid regular expression: {e}"))?;
        let re = Rc::new(re);
        self.regex_cache.insert(s.to_string(), re.clone());
        Ok(re)
    }

    fn binary(&mut self, op: BinOp, a: Val, b: Val, sp: Span) -> R<Val> {
        if let Val::Err(_) = a {
            return Ok(a);
        }
        if let Val::Err(_) = b {
            return Ok(b);
        }
        let incomplete = |v: &Val| matches!(v, Val::Top | Val::Basic(..) | Val::Disj(_));
        if incomplete(&a) || incomplete(&b) {
            let which = if incomplete(&a) { &a } else { &b };
            return Ok(perr(
                DiagnosticKind::Incomplete,
                format!("operand {} is not concrete", self.val_text(which)),
                sp,
            ));
        }
        let num = |v: &Val| match v {
            Val::Int(i) => Some(Decimal::from_int(i.get())),
            Val::Float(d) => Some(**d),
            _ => None,
        };
        let overflow = || perr(DiagnosticKind::Unsupported, "not supported: number out of range", sp);
        let mismatch = |s: &Self| {
            perr(
                DiagnosticKind::Eval,
                format!("invalid operands {} and {} to '{}'", s.val_text(&a), s.val_text(&b), binop_str(op)),
                sp,
            )
        };
        Ok(match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul => match (&a, &b) {
                (Val::Int(x), Val::Int(y)) => {
                    let r = match op {
                        BinOp::Add => x.get().checked_add(y.get()),
                        BinOp::Sub => x.get().checked_sub(y.get()),
                        _ => x.get().checked_mul(y.get()),
                    };
                    r.map(Val::int).unwrap_or_else(overflow)
                }
                (Val::Str(x), Val::Str(y)) if op == BinOp::Add => Val::Str(Rc::from(format!("{x}{y}"))),
                (Val::Bytes(x), Val::Bytes(y)) if op == BinOp::Add => {
                    let mut v = x.to_vec();
                    v.extend_from_slice(y);
                    Val::Bytes(Rc::from(v))
                }
                _ => match (num(&a), num(&b)) {
                    (Some(x), Some(y)) => {
                        let r = match op {
                            BinOp::Add => x.add(y),
                            BinOp::Sub => x.sub(y),
                            _ => x.mul(y),
                        };
                        r.map(Val::float).unwrap_or_else(overflow)
                    }
                    _ => {
                        if matches!(
                            (&a, &b),
                            (Val::List(_), Val::List(_))
                                | (Val::Str(_), Val::Int(_))
                                | (Val::Int(_), Val::Str(_))
                                | (Val::List(_), Val::Int(_))
                                | (Val::Int(_), Val::List(_))
                        ) {
                            perr(
                                DiagnosticKind::Unsupported,
                                format!(
                                    "not supported: '{}' on lists or strings and numbers (removed in modern CUE; use list.Concat / strings.Repeat)",
                                    binop_str(op)
                                ),
                                sp,
                            )
                        } else {
                            mismatch(self)
                        }
                    }
                },
            },
            BinOp::Div => match (num(&a), num(&b)) {
                (Some(x), Some(y)) => {
                    if y.is_zero() {
                        perr(DiagnosticKind::Eval, "division by zero", sp)
                    } else {
                        x.div(y).map(Val::float).unwrap_or_else(overflow)
                    }
                }
                _ => mismatch(self),
            },
            BinOp::Eq | BinOp::Ne => {
                let eq = match (&a, &b) {
                    (Val::Null, Val::Null) => Some(true),
                    (Val::Null, _) | (_, Val::Null) => Some(false),
                    (Val::Bool(x), Val::Bool(y)) => Some(x == y),
                    (Val::Str(x), Val::Str(y)) => Some(x == y),
                    (Val::Bytes(x), Val::Bytes(y)) => Some(x == y),
                    _ => match (num(&a), num(&b)) {
                        (Some(x), Some(y)) => Some(x.cmp(y) == std::cmp::Ordering::Equal),
                        _ => None,
                    },
                };
                match eq {
                    Some(e) => Val::Bool(if op == BinOp::Eq { e } else { !e }),
                    None if matches!((&a, &b), (Val::List(_), Val::List(_))) => {
                        let e = self.equal(&a, &b)?;
                        Val::Bool(if op == BinOp::Eq { e } else { !e })
                    }
                    None => {
                        if matches!(a, Val::Struct(_) | Val::List(_)) || matches!(b, Val::Struct(_) | Val::List(_)) {
                            perr(DiagnosticKind::Unsupported, "not supported: comparing structs or lists", sp)
                        } else {
                            mismatch(self)
                        }
                    }
                }
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ord = match (&a, &b) {
                    (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
                    (Val::Bytes(x), Val::Bytes(y)) => Some(x.cmp(y)),
                    _ => match (num(&a), num(&b)) {
                        (Some(x), Some(y)) => Some(x.cmp(y)),
                        _ => None,
                    },
                };
                match ord {
                    Some(o) => Val::Bool(match op {
                        BinOp::Lt => o.is_lt(),
                        BinOp::Le => o.is_le(),
                        BinOp::Gt => o.is_gt(),
                        _ => o.is_ge(),
                    }),
                    None => mismatch(self),
                }
            }
            BinOp::LAnd | BinOp::LOr => match (&a, &b) {
                (Val::Bool(x), Val::Bool(y)) => Val::Bool(if op == BinOp::LAnd { *x && *y } else { *x || *y }),
                _ => mismatch(self),
            },
            BinOp::Match | BinOp::NotMatch => match (&a, &b) {
                (Val::Str(x), Val::Str(y)) => match self.regex(y) {
                    Ok(re) => Val::Bool(re.is_match(x) == (op == BinOp::Match)),
                    Err(m) => perr(DiagnosticKind::Eval, m, sp),
                },
                _ => mismatch(self),
            },
            BinOp::And | BinOp::Or => perr(DiagnosticKind::Eval, "internal: unexpected operator", sp),
        })
    }

    // ---------------------------------------------------------------- scalar unification

    pub(crate) fn unify_scalar(&mut self, a: Val, b: Val, span: Option<Span>) -> R<Val> {
        self.unify_scalar_with(a, b, span, true)
    }

    /// A conflict found by [`Ev::unify_scalar_with`]; the message is only rendered when it
    /// can be seen (`describe`), since a failed disjunction alternative is discarded anyway.
    fn conflict(&self, describe: bool, span: Option<Span>, msg: impl FnOnce() -> String) -> Val {
        if describe { Val::err(DiagnosticKind::Eval, msg(), span) } else { Val::Err(Rc::clone(&self.quiet_conflict)) }
    }

    /// [`Ev::unify_scalar`]; without `describe`, a conflict is an error without a message.
    fn unify_scalar_with(&mut self, a: Val, b: Val, span: Option<Span>, describe: bool) -> R<Val> {
        Ok(match (a, b) {
            (Val::Err(e), _) | (_, Val::Err(e)) => Val::Err(e),
            (Val::Top, x) | (x, Val::Top) => x,
            (Val::Basic(k1, b1), Val::Basic(k2, b2)) => {
                let kk = k1 & k2;
                if kk == 0 {
                    return Ok(self.conflict(describe, span, || {
                        format!(
                            "conflicting values {} and {} (mismatched types)",
                            self.val_text(&Val::Basic(k1, b1)),
                            self.val_text(&Val::Basic(k2, b2))
                        )
                    }));
                }
                let mut bs: Vec<Bound> = b1.to_vec();
                for b in b2.iter() {
                    if !bs.iter().any(|x| x.op == b.op && self.scalar_eq(&x.val, &b.val)) {
                        bs.push(b.clone());
                    }
                }
                // a lower and an upper bound that meet exactly
                Val::Basic(kk, Rc::new(bs))
            }
            (Val::Basic(kk, bs), c) | (c, Val::Basic(kk, bs)) => {
                if c.kind() & kk == 0 {
                    return Ok(self.conflict(describe, span, || {
                        format!(
                            "conflicting values {} and {} (mismatched types)",
                            self.val_text(&c),
                            self.val_text(&Val::Basic(kk, bs.clone()))
                        )
                    }));
                }
                for b in bs.iter() {
                    if !self.check_bound(b, &c) {
                        return Ok(self.conflict(describe, span, || {
                            format!("invalid value {} (out of bound {})", self.val_text(&c), self.bound_text(b))
                        }));
                    }
                }
                c
            }
            (x, y) => {
                if self.scalar_eq_strict(&x, &y) {
                    x
                } else {
                    self.conflict(describe, span, || {
                        format!("conflicting values {} and {}", self.val_text(&x), self.val_text(&y))
                    })
                }
            }
        })
    }

    fn scalar_eq(&self, a: &Val, b: &Val) -> bool {
        match (a, b) {
            (Val::Int(x), Val::Float(y)) | (Val::Float(y), Val::Int(x)) => {
                Decimal::from_int(x.get()).cmp(**y) == std::cmp::Ordering::Equal
            }
            _ => self.scalar_eq_strict(a, b),
        }
    }

    fn scalar_eq_strict(&self, a: &Val, b: &Val) -> bool {
        match (a, b) {
            (Val::Null, Val::Null) => true,
            (Val::Bool(x), Val::Bool(y)) => x == y,
            (Val::Int(x), Val::Int(y)) => x.get() == y.get(),
            (Val::Float(x), Val::Float(y)) => x.cmp(**y) == std::cmp::Ordering::Equal,
            (Val::Str(x), Val::Str(y)) => x == y,
            (Val::Bytes(x), Val::Bytes(y)) => x == y,
            _ => false,
        }
    }

    fn check_bound(&self, b: &Bound, c: &Val) -> bool {
        use std::cmp::Ordering;
        match b.op {
            BoundOp::Validator => match (&b.val, &b.args) {
                (Val::Builtin(name), Some(args)) => super::builtins::validate(name, c, args),
                _ => false,
            },
            BoundOp::Match | BoundOp::NotMatch => match (c, &b.re) {
                (Val::Str(s), Some(re)) => re.is_match(s) == (b.op == BoundOp::Match),
                _ => false,
            },
            BoundOp::Ne => !self.scalar_eq(c, &b.val),
            _ => {
                let ord: Option<Ordering> = match (c, &b.val) {
                    (Val::Str(x), Val::Str(y)) => Some((**x).cmp(&**y)),
                    (Val::Bytes(x), Val::Bytes(y)) => Some((**x).cmp(&**y)),
                    (Val::Int(x), Val::Int(y)) => Some(x.get().cmp(&y.get())),
                    (Val::Int(x), Val::Float(y)) => Some(Decimal::from_int(x.get()).cmp(**y)),
                    (Val::Float(x), Val::Int(y)) => Some(x.cmp(Decimal::from_int(y.get()))),
                    (Val::Float(x), Val::Float(y)) => Some(x.cmp(**y)),
                    _ => None,
                };
                match ord {
                    None => false,
                    Some(o) => match b.op {
                        BoundOp::Lt => o.is_lt(),
                        BoundOp::Le => o.is_le(),
                        BoundOp::Gt => o.is_gt(),
                        _ => o.is_ge(),
                    },
                }
            }
        }
    }

    /// Whether two disjuncts are one: [`Ev::equal`] with CUE v0.4's structural check, at
    /// every level, that both were unified from the same struct literals with constraints
    /// (optional fields, pattern constraints, typed `...T`): `#A: {b?: int}` and
    /// `#B: {b?: int, ...}` make `(#A | #B) & {b: 3}` ambiguous, while `#B: {#A, ...}` (the
    /// same literal) does not, nor do literals without constraints (`{b: int}` and
    /// `{b: int, ...}`).
    fn same_disjunct(&mut self, a: &Val, b: &Val) -> R<bool> {
        self.equal_with(a, b, true)
    }

    /// The struct literals with constraints unified into node `n`: its own, and those of the
    /// built values copied into it, at any depth (in no particular order); `None` when one of
    /// them got a list literal with a typed tail, which makes `n` distinct from any other node.
    fn constraint_literals(&self, n: NodeId) -> Option<Vec<&'a [Decl<'a>]>> {
        let mut out: Vec<&'a [Decl<'a>]> = Vec::new();
        let mut todo = vec![n];
        let mut seen: Vec<NodeId> = Vec::new();
        while let Some(m) = todo.pop() {
            if seen.contains(&m) {
                continue;
            }
            seen.push(m);
            let node = &self.nodes[m];
            todo.extend(node.copied.iter().copied());
            todo.extend(node.redirect.get());
        }
        for (m, lit) in &self.constraint_lits {
            if !seen.contains(m) {
                continue;
            }
            let lit = (*lit)?;
            if !out.iter().any(|l| std::ptr::eq(l.as_ptr(), lit.as_ptr())) {
                out.push(lit);
            }
        }
        Some(out)
    }

    /// Whether distinct nodes `x` and `y` were unified from the same struct literals with
    /// constraints (and neither got a typed list tail).
    fn same_constraint_literals(&self, x: NodeId, y: NodeId) -> bool {
        match (self.constraint_literals(x), self.constraint_literals(y)) {
            (Some(lx), Some(ly)) => {
                lx.len() == ly.len() && lx.iter().all(|l| ly.iter().any(|m| std::ptr::eq(l.as_ptr(), m.as_ptr())))
            }
            _ => false,
        }
    }

    /// Equality of final values (`==` on lists, `list.Contains` on structs and lists).
    pub(crate) fn equal(&mut self, a: &Val, b: &Val) -> R<bool> {
        self.equal_with(a, b, false)
    }

    /// Equality of final values; `structural` adds CUE's check for disjunction deduplication
    /// ([`Ev::same_disjunct`]) at every level.
    fn equal_with(&mut self, a: &Val, b: &Val, structural: bool) -> R<bool> {
        Ok(match (a, b) {
            (Val::Struct(x), Val::Struct(y)) | (Val::List(x), Val::List(y)) => {
                if x == y {
                    return Ok(true);
                }
                let x = self.finalize_follow(*x)?;
                let y = self.finalize_follow(*y)?;
                if structural && x != y && !self.same_constraint_literals(x, y) {
                    return Ok(false);
                }
                let xa: Vec<(&'a str, NodeId)> = self.nodes[x].arcs.iter().map(|(k, v)| (*k, *v)).collect();
                let ya: Vec<(&'a str, NodeId)> = self.nodes[y].arcs.iter().map(|(k, v)| (*k, *v)).collect();
                let xr: Vec<_> =
                    xa.into_iter().filter(|(l, c)| label_is_regular(l) && self.is_regular_arc(*c)).collect();
                let yr: Vec<_> =
                    ya.into_iter().filter(|(l, c)| label_is_regular(l) && self.is_regular_arc(*c)).collect();
                if xr.len() != yr.len() {
                    return Ok(false);
                }
                for ((lx, cx), (ly, cy)) in xr.iter().zip(yr.iter()) {
                    if lx != ly {
                        // order-insensitive lookup
                        let Some(cy2) = yr.iter().find(|(l, _)| l == lx).map(|x| x.1) else {
                            return Ok(false);
                        };
                        let vx = self.value_of(*cx)?;
                        let vy = self.value_of(cy2)?;
                        if !self.equal_with(&vx, &vy, structural)? {
                            return Ok(false);
                        }
                        continue;
                    }
                    let vx = self.value_of(*cx)?;
                    let vy = self.value_of(*cy)?;
                    if !self.equal_with(&vx, &vy, structural)? {
                        return Ok(false);
                    }
                }
                // closedness differences make values distinct
                let gx = self.nodes[x].groups.is_empty();
                let gy = self.nodes[y].groups.is_empty();
                gx == gy
            }
            (Val::Top, Val::Top) => true,
            (Val::Basic(k1, b1), Val::Basic(k2, b2)) => {
                k1 == k2
                    && b1.len() == b2.len()
                    && b1.iter().zip(b2.iter()).all(|(x, y)| x.op == y.op && self.scalar_eq_strict(&x.val, &y.val))
            }
            (Val::Disj(x), Val::Disj(y)) => {
                if x.len() != y.len() {
                    return Ok(false);
                }
                for ((vx, dx), (vy, dy)) in x.iter().zip(y.iter()) {
                    if dx != dy || !self.equal_with(vx, vy, structural)? {
                        return Ok(false);
                    }
                }
                true
            }
            _ => self.scalar_eq_strict(a, b),
        })
    }

    // ---------------------------------------------------------------- rendering

    pub(crate) fn val_text(&self, v: &Val) -> String {
        match v {
            Val::Top => "_".into(),
            Val::Err(_) => "_|_".into(),
            Val::Null => "null".into(),
            Val::Bool(b) => b.to_string(),
            Val::Int(i) => i.get().to_string(),
            Val::Float(d) => d.to_cue_string(),
            Val::Str(s) => format!("{:?}", &**s),
            Val::Bytes(b) => format!("'{}'", String::from_utf8_lossy(b)),
            Val::Basic(kk, bs) => {
                let mut parts = Vec::new();
                let kname = kind_name(*kk);
                let implied = bs.iter().all(|b| match b.op {
                    BoundOp::Match | BoundOp::NotMatch | BoundOp::Validator => *kk == k::STRING,
                    BoundOp::Ne => false,
                    _ => *kk == k::NUMBER || (*kk == k::STRING && matches!(b.val, Val::Str(_))),
                });
                if bs.is_empty() || !implied {
                    parts.push(kname);
                }
                for b in bs.iter() {
                    parts.push(self.bound_text(b));
                }
                parts.join(" & ")
            }
            Val::Struct(_) => "{...}".into(),
            Val::List(_) => "[...]".into(),
            Val::Disj(l) => l
                .iter()
                .map(|(v, d)| format!("{}{}", if *d { "*" } else { "" }, self.val_text(v)))
                .collect::<Vec<_>>()
                .join(" | "),
            Val::Builtin(n) => n.to_string(),
            Val::Package(n) => n.to_string(),
        }
    }

    fn bound_text(&self, b: &Bound) -> String {
        let op = match b.op {
            BoundOp::Lt => "<",
            BoundOp::Le => "<=",
            BoundOp::Gt => ">",
            BoundOp::Ge => ">=",
            BoundOp::Ne => "!=",
            BoundOp::Match => "=~",
            BoundOp::NotMatch => "!~",
            BoundOp::Validator => {
                let args: Vec<String> = b.args.iter().flat_map(|a| a.iter()).map(|a| self.val_text(a)).collect();
                return format!("{}({})", self.val_text(&b.val), args.join(", "));
            }
        };
        format!("{op}{}", self.val_text(&b.val))
    }

    // ---------------------------------------------------------------- public conversion

    pub(crate) fn build_public(
        &mut self,
        n: NodeId,
        path: &mut String,
        errs: &mut Vec<Diagnostic>,
        depth: usize,
    ) -> R<Value> {
        let (v, span) = self.final_value(n, depth)?;
        self.val_to_public(v, span, path, errs, depth)
    }

    /// The final value of `n` (its default, if any) and its span, for the walks that turn
    /// the tree into output; `depth` guards against values nested beyond the limit.
    fn final_value(&mut self, n: NodeId, depth: usize) -> R<(Val, Option<Span>)> {
        if depth > self.opts.max_depth * 2 {
            return Err(Fatal(EvalErr::new(
                DiagnosticKind::Limit,
                "value nested too deeply",
                self.nodes[n].decl_span.get(),
            )));
        }
        self.finalize(n)?;
        let span = self.nodes[n].decl_span.get();
        let v = self.nodes[n].value.clone();
        let v = self.default_of(v)?;
        Ok((v, span))
    }

    pub(crate) fn val_to_public(
        &mut self,
        v: Val,
        span: Option<Span>,
        path: &mut String,
        errs: &mut Vec<Diagnostic>,
        depth: usize,
    ) -> R<Value> {
        let kind = match v {
            Val::Null => ValueKind::Null,
            Val::Bool(b) => ValueKind::Bool(b),
            Val::Int(i) => ValueKind::Int(i.get()),
            Val::Float(d) => ValueKind::Float { value: d.to_f64(), text: d.to_cue_string() },
            Val::Str(s) => ValueKind::String(String::from(&*s)),
            Val::Bytes(b) => ValueKind::Bytes(b.to_vec()),
            Val::Err(e) => {
                if e.kind == DiagnosticKind::Incomplete {
                    ValueKind::NonConcrete(format!("_|_ // {}", e.msg))
                } else {
                    self.push_err(&e, span, path, errs);
                    ValueKind::NonConcrete("_|_".into())
                }
            }
            Val::Top | Val::Basic(..) | Val::Disj(_) | Val::Builtin(_) | Val::Package(_) => {
                ValueKind::NonConcrete(self.val_text(&v))
            }
            Val::List(m) => {
                let m = self.finalize_follow(m)?;
                let arcs: Vec<NodeId> = self.nodes[m].arcs.values().copied().collect();
                let mut out = Vec::with_capacity(arcs.len());
                for (i, c) in arcs.into_iter().enumerate() {
                    let l = path.len();
                    {
                        use std::fmt::Write;
                        let _ = write!(path, "[{i}]");
                    }
                    out.push(self.build_public(c, path, errs, depth + 1)?);
                    path.truncate(l);
                }
                ValueKind::List(out)
            }
            Val::Struct(m) => {
                let m = self.finalize_follow(m)?;
                let arcs: Vec<(&'a str, NodeId)> = self.nodes[m].arcs.iter().map(|(k, v)| (*k, *v)).collect();
                let mut s = value::Struct { fields: indexmap::IndexMap::with_capacity(arcs.len()) };
                for (label, c) in arcs {
                    let l = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(label);
                    let node = &self.nodes[c];
                    let optional = node.is_optional();
                    let required = node.n_required > 0;
                    let missing_required = required && node.n_regular == 0;
                    let fspan = node.decl_span.unwrap_or_default();
                    let attrs = node.attrs().to_vec();
                    let value = if optional {
                        Value { kind: ValueKind::NonConcrete("optional field".into()), span: Some(fspan) }
                    } else if missing_required {
                        Value {
                            kind: ValueKind::NonConcrete(format!("required field {label} not present")),
                            span: Some(fspan),
                        }
                    } else {
                        self.build_public(c, path, errs, depth + 1)?
                    };
                    path.truncate(l);
                    s.fields.insert(
                        String::from(label),
                        value::Field {
                            name: String::from(label),
                            value,
                            span: fspan,
                            attributes: attrs,
                            optional,
                            required,
                        },
                    );
                }
                ValueKind::Struct(s)
            }
        };
        Ok(Value { kind, span })
    }
}

impl<'a> Ev<'a> {
    /// Records an evaluation error found in the tree (once per message and span).
    fn push_err(&self, e: &EvalErr, span: Option<Span>, path: &str, errs: &mut Vec<Diagnostic>) {
        let mut d =
            Diagnostic::new(e.kind, e.msg.clone()).with_path(e.path.clone().unwrap_or_else(|| path.to_string()));
        if let Some(h) = hint_for(&e.msg) {
            d = d.with_hint(h);
        }
        if let Some(sp) = e.span.or(span) {
            d = d.with_span(sp, self.files);
        }
        if !errs.iter().any(|x| x.message == d.message && x.span == d.span) {
            errs.push(d);
        }
    }

    /// Notes a non-concrete value at the current path (the first one is the export error).
    fn note_incomplete(&self, w: &mut JsonOut<'a>, span: Option<Span>, what: &str, indent: Option<usize>) {
        if w.writing(indent) {
            let mut d = super::export::incomplete_diag(&w.path_text(), span, what);
            if let Some(sp) = span {
                d = d.with_span(sp, self.files);
            }
            w.incomplete = Some(d);
        }
    }

    /// Exports one field of the streamed root (see `export_json`), then forgets its
    /// evaluation when nothing else can see it: when no node, environment or closedness group
    /// that existed before changed, and every node created since hangs below the field, the
    /// nodes, environments and groups created since are dropped and the field is reset to
    /// unevaluated (a later reference evaluates it again, to the same value). Peak memory is
    /// then that of the largest top-level field rather than of the whole configuration, and
    /// the next field reuses the memory while it is still in cache.
    fn export_streamed(&mut self, c: NodeId, w: &mut JsonOut<'a>, depth: usize, indent: Option<usize>) -> R<()> {
        let Some(cp) = self.checkpoint(c) else {
            return self.export_node(c, w, depth, indent);
        };
        let r = self.export_node(c, w, depth, indent);
        if r.is_ok() && self.private_evaluation(&cp) {
            if let Some(log) = self.derived_log.take() {
                for k in log {
                    self.derived.remove(&k);
                }
            }
            self.nodes.truncate(cp.nodes);
            self.constraint_lits.retain(|(m, _)| (*m as usize) < cp.nodes && *m != c);
            self.envs.truncate(cp.envs);
            self.groups.truncate(cp.groups);
            self.reset(c);
            self.dropped += 1;
            let node = &mut self.nodes[c];
            match &mut node.x {
                Some(_) if !cp.had_cold => node.x = None,
                Some(x) => {
                    x.attrs.truncate(cp.attrs);
                    x.choices = None;
                }
                None => {}
            }
        }
        self.nodes.watch.stop();
        self.envs.watch.stop();
        self.groups.watch.stop();
        self.derived_log = None;
        r
    }

    /// Starts watching the stores before field `c` of the streamed root is evaluated, when
    /// it has not been evaluated yet (it may have been, by a reference from a field before).
    fn checkpoint(&mut self, c: NodeId) -> Option<Checkpoint> {
        if self.derived_log.is_some() {
            // one field at a time: never nested
            return None;
        }
        let node = &self.nodes[c];
        let pristine = node.state == St::New
            && node.arcs.len() == 0
            && node.groups.is_empty()
            && node.copied.is_empty()
            && node.redirect.get().is_none()
            && matches!(node.acc, Val::Top)
            && matches!(node.value, Val::Top)
            && !node.struct_seen
            && !node.has_lists
            && node.x.as_deref().is_none_or(Cold::is_pristine);
        if !pristine {
            return None;
        }
        let cp = Checkpoint {
            field: c,
            nodes: self.nodes.len(),
            envs: self.envs.next_id(),
            groups: self.groups.next_id(),
            conjs: node.conjs.len(),
            attrs: node.attrs().len(),
            had_cold: node.x.is_some(),
        };
        self.nodes.watch.start(cp.nodes as u32, c);
        self.envs.watch.start(cp.envs, u32::MAX);
        self.groups.watch.start(cp.groups, u32::MAX);
        self.derived_log = Some(Vec::new());
        Some(cp)
    }

    /// Whether the evaluation since `cp` only built the field's own subtree.
    fn private_evaluation(&self, cp: &Checkpoint) -> bool {
        if self.nodes.watch.touched || self.envs.watch.touched || self.groups.watch.touched {
            return false;
        }
        let node = &self.nodes[cp.field];
        if node.state != St::Done || node.conjs.len() != cp.conjs {
            return false;
        }
        let floor = cp.nodes as NodeId;
        (floor..self.nodes.len() as NodeId)
            .all(|id| self.nodes[id].parent.get().is_some_and(|p| p >= floor || p == cp.field))
    }

    /// [`Ev::build_public`] + JSON export in one walk. `indent` is the JSON nesting depth of
    /// a value that is exported, `None` for one only checked for errors (definitions,
    /// hidden and optional fields, and their subtrees).
    fn export_node(&mut self, n: NodeId, w: &mut JsonOut<'a>, depth: usize, indent: Option<usize>) -> R<()> {
        if w.writing(indent) && self.write_scalar(n, depth, w)? {
            return Ok(());
        }
        let (v, span) = self.final_value(n, depth)?;
        self.export_val(v, span, w, depth, indent)
    }

    /// Writes a node's value when it is a concrete scalar, straight from the node (no copy
    /// of the value); `false` leaves everything else to [`Ev::export_val`].
    fn write_scalar(&mut self, n: NodeId, depth: usize, w: &mut JsonOut<'a>) -> R<bool> {
        if depth > self.opts.max_depth * 2 {
            // `final_value` reports the limit
            return Ok(false);
        }
        self.finalize(n)?;
        Ok(write_scalar_json(&self.nodes[n].value, &mut w.out))
    }

    fn export_val(
        &mut self,
        v: Val,
        span: Option<Span>,
        w: &mut JsonOut<'a>,
        depth: usize,
        indent: Option<usize>,
    ) -> R<()> {
        use super::export::{write_indent, write_str};
        let writing = w.writing(indent);
        match v {
            Val::Null | Val::Bool(_) | Val::Int(_) | Val::Float(_) | Val::Str(_) | Val::Bytes(_) => {
                if writing {
                    write_scalar_json(&v, &mut w.out);
                }
            }
            Val::Err(e) => {
                if e.kind == DiagnosticKind::Incomplete {
                    self.note_incomplete(w, span, &format!("_|_ // {}", e.msg), indent);
                } else {
                    let path = w.path_text();
                    self.push_err(&e, span, &path, &mut w.errs);
                    self.note_incomplete(w, span, "_|_", indent);
                }
            }
            Val::Top | Val::Basic(..) | Val::Disj(_) | Val::Builtin(_) | Val::Package(_) => {
                if writing {
                    let text = self.val_text(&v);
                    self.note_incomplete(w, span, &text, indent);
                }
            }
            Val::List(m) => {
                let m = self.finalize_follow(m)?;
                // `m` is final: exporting its elements never adds arcs to it.
                let len = self.nodes[m].arcs.len();
                if writing {
                    w.out.push_str(if len == 0 { "[]" } else { "[\n" });
                }
                let inner = indent.map(|d| d + 1);
                for i in 0..len {
                    let Some(&(_, c)) = self.nodes[m].arcs.entries.get(i) else { break };
                    if w.writing(inner) {
                        if i > 0 {
                            w.out.push_str(",\n");
                        }
                        write_indent(depth_of(inner), &mut w.out);
                    }
                    w.path.push(PathSeg::Index(i));
                    self.export_node(c, w, depth + 1, inner)?;
                    w.path.pop();
                }
                if len > 0 && w.writing(indent) {
                    w.out.push('\n');
                    write_indent(depth_of(indent), &mut w.out);
                    w.out.push(']');
                }
            }
            Val::Struct(m) => {
                let m = self.finalize_follow(m)?;
                // `m` is final: exporting its fields never adds arcs to it.
                let len = self.nodes[m].arcs.len();
                // "{" now; "}" if no field was written, else the fields and "\n...}"
                let open = w.out.len();
                if writing {
                    w.out.push('{');
                }
                let inner = indent.map(|d| d + 1);
                let mut written = 0;
                for i in 0..len {
                    let Some((label, c)) = self.nodes[m].arcs.entries.get(i).map(|(l, c)| (*l, *c)) else {
                        break;
                    };
                    let node = &self.nodes[c];
                    let optional = node.is_optional();
                    let missing_required = node.n_required > 0 && node.n_regular == 0;
                    let fspan = node.decl_span.unwrap_or_default();
                    let is_regular = !optional && label_is_regular(label);
                    let child = if is_regular { inner } else { None };
                    if w.writing(child) {
                        w.out.push_str(if written == 0 { "\n" } else { ",\n" });
                        write_indent(depth_of(inner), &mut w.out);
                        write_str(label, &mut w.out);
                        w.out.push_str(": ");
                    }
                    w.path.push(PathSeg::Field(label));
                    if optional {
                        // not exported and not walked, as in `build_public`
                    } else if missing_required {
                        self.note_incomplete(w, Some(fspan), &format!("required field {label} not present"), child);
                    } else if depth == 0 && self.stream_root.get() == Some(m) {
                        self.export_streamed(c, w, depth + 1, child)?;
                    } else {
                        self.export_node(c, w, depth + 1, child)?;
                    }
                    w.path.pop();
                    if is_regular {
                        written += 1;
                    }
                }
                if w.writing(indent) {
                    if written > 0 {
                        w.out.push('\n');
                        write_indent(depth_of(indent), &mut w.out);
                        w.out.push('}');
                    } else {
                        w.out.truncate(open);
                        w.out.push_str("{}");
                    }
                }
            }
        }
        Ok(())
    }
}

/// Writes a concrete scalar as JSON; `false` (nothing written) for any other value.
#[inline]
fn write_scalar_json(v: &Val, out: &mut String) -> bool {
    use super::export::{write_int, write_str};
    match v {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Int(i) => write_int(i.get(), out),
        Val::Float(d) => out.push_str(&d.to_cue_string()),
        Val::Str(s) => write_str(s, out),
        Val::Bytes(b) => {
            use base64::Engine;
            write_str(&base64::engine::general_purpose::STANDARD.encode(&**b), out)
        }
        _ => return false,
    }
    true
}

/// The JSON nesting depth of an exported value.
fn depth_of(indent: Option<usize>) -> usize {
    indent.unwrap_or(0)
}

fn hint_for(msg: &str) -> Option<&'static str> {
    let m = msg.trim_start_matches("empty disjunction: ");
    Some(if m.starts_with("conflicting values") {
        "the field is declared more than once with incompatible values; keep one, or make one a default with `*`"
    } else if m.starts_with("field not allowed") {
        "the struct is closed by a definition: declare the field in the definition, or add `...` to allow extra fields"
    } else if m.starts_with("invalid value") {
        "the value violates a constraint declared for this field"
    } else if m.starts_with("reference") {
        "check the spelling; references resolve to fields of enclosing structs, `let` names and imports"
    } else if m.starts_with("structural cycle") || m.starts_with("cycle") {
        "a value refers to itself; break the cycle or give one of the fields a concrete value"
    } else if m.starts_with("empty disjunction") || msg.starts_with("empty disjunction") {
        "no alternative of the disjunction matches the value"
    } else if m.starts_with("not supported") {
        "this CUE feature is outside the subset Forge evaluates (SPEC §2.2)"
    } else {
        return None;
    })
}

/// The expression inside any parentheses.
fn strip_parens<'a>(mut e: &'a Expr<'a>) -> &'a Expr<'a> {
    while let ExprKind::Paren(x) = &e.kind {
        e = x;
    }
    e
}

fn flatten_or<'a>(e: &'a Expr<'a>, _in_paren: bool, out: &mut Vec<(&'a Expr<'a>, bool)>) {
    match &e.kind {
        ExprKind::Binary(BinOp::Or, l, r) => {
            flatten_or(l, false, out);
            flatten_or(r, false, out);
        }
        ExprKind::Unary(UnOp::Default, x) => out.push((x, true)),
        _ => out.push((e, false)),
    }
}

fn binop_str(op: BinOp) -> &'static str {
    match op {
        BinOp::Or => "|",
        BinOp::And => "&",
        BinOp::LOr => "||",
        BinOp::LAnd => "&&",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
        BinOp::Match => "=~",
        BinOp::NotMatch => "!~",
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
    }
}

pub(crate) fn kind_name(kk: u16) -> String {
    match kk {
        k::TOP => "_".into(),
        k::NULL => "null".into(),
        k::BOOL => "bool".into(),
        k::INT => "int".into(),
        k::FLOAT => "float".into(),
        k::NUMBER => "number".into(),
        k::STRING => "string".into(),
        k::BYTES => "bytes".into(),
        k::STRUCT => "struct".into(),
        k::LIST => "list".into(),
        _ => {
            let mut v = Vec::new();
            for (bit, n) in [
                (k::NULL, "null"),
                (k::BOOL, "bool"),
                (k::INT, "int"),
                (k::FLOAT, "float"),
                (k::STRING, "string"),
                (k::BYTES, "bytes"),
                (k::STRUCT, "struct"),
                (k::LIST, "list"),
            ] {
                if kk & bit != 0 {
                    v.push(n);
                }
            }
            v.join(" | ")
        }
    }
}

/// The predeclared basic types and their kinds ([`Ev::lookup`] shares one value of each).
const BASIC_TYPES: [(&str, u16); 6] = [
    ("int", k::INT),
    ("float", k::FLOAT),
    ("number", k::NUMBER),
    ("string", k::STRING),
    ("bytes", k::BYTES),
    ("bool", k::BOOL),
];

/// The other predeclared identifiers (the basic types are in [`BASIC_TYPES`]).
fn predeclared(name: &str) -> Option<Val> {
    match name {
        "_" => Some(Val::Top),
        "null" => Some(Val::Null),
        "len" | "close" | "and" | "or" | "div" | "mod" | "quo" | "rem" => Some(Val::Builtin(Rc::from(name))),
        _ => None,
    }
}
#[cfg(test)]
mod size_tests {
    use super::*;

    /// Evaluator memory is dominated by nodes, conjuncts and syntax-tree nodes (the
    /// 1 MiB benchmark creates ~77 k nodes; the streamed export holds one top-level field's
    /// at a time, the whole-tree evaluation all of them): their sizes may only shrink. (A
    /// node grew from 272 to 280 bytes for `Node::first_optional`, which CUE's field order
    /// of optional declarations needs.)
    #[test]
    fn evaluator_and_syntax_tree_sizes_do_not_grow() {
        assert!(std::mem::size_of::<Node<'static>>() <= 280, "Node: {}", std::mem::size_of::<Node<'static>>());
        assert!(std::mem::size_of::<Conj<'static>>() <= 40, "Conj: {}", std::mem::size_of::<Conj<'static>>());
        assert!(std::mem::size_of::<Val>() <= 24);
        assert!(std::mem::size_of::<Expr<'static>>() <= 40, "Expr: {}", std::mem::size_of::<Expr<'static>>());
        assert!(std::mem::size_of::<Decl<'static>>() <= 112, "Decl: {}", std::mem::size_of::<Decl<'static>>());
    }

    /// The parser notes bound basic-type names by their position in its keyword table; the
    /// evaluator reads the bits in `BASIC_TYPES` order: the two orders must be one.
    #[test]
    fn basic_types_are_in_the_parsers_order() {
        assert_eq!(BASIC_TYPES.map(|(n, _)| n).as_slice(), super::super::check::basic_type_names());
    }
}

#[cfg(test)]
mod order_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The two-front shortcut of `sort_arcs` agrees with CUE's general merge: a first
        /// literal's labels, then the labels a second literal adds, where the second lists
        /// them all with the first's in the same relative order.
        #[test]
        fn superseq_order_agrees_with_the_general_merge(
            (long, keep) in (2usize..12).prop_flat_map(|n| {
                (Just((0..n).collect::<Vec<usize>>()).prop_shuffle(), proptest::collection::vec(any::<bool>(), n))
            }),
        ) {
            // at least one label in each literal
            let mut keep = keep;
            if keep.iter().all(|k| *k) {
                keep[long[0]] = false;
            } else if !keep.iter().any(|k| *k) {
                keep[long[0]] = true;
            }
            let texts: Vec<String> = (0..long.len()).map(|i| format!("f{i}")).collect();
            let names: Vec<&str> = texts.iter().map(String::as_str).collect();
            // the first literal: the kept labels, in the second literal's order
            let first: Vec<usize> = long.iter().copied().filter(|&i| keep[i]).collect();
            let mut arcs = Arcs::default();
            for &i in first.iter().chain(long.iter().filter(|&&i| !keep[i])) {
                arcs.push_new(&names[i], i as NodeId);
            }
            let seqs: Few<SeqSrc<'_>> = Few::One(SeqSrc::Labels(long.iter().map(|&i| &names[i]).collect()));
            let mut fast = Vec::new();
            prop_assert!(superseq_order(&arcs, first.len(), &seqs, &mut fast));
            let mut sc = OrderScratch::default();
            merge_fronts(&arcs, first.len(), &seqs, &mut sc);
            prop_assert_eq!(fast, sc.order);
        }

        /// Optional fields kept aside (labels of the second literal without a field) do not
        /// change the order of the others: the shortcut on the fields without them agrees
        /// with the general merge on all of them.
        #[test]
        fn fields_kept_aside_do_not_change_the_order(
            (long, which) in (3usize..12).prop_flat_map(|n| {
                (Just((0..n).collect::<Vec<usize>>()).prop_shuffle(), proptest::collection::vec(0u8..3, n))
            }),
        ) {
            // which[i]: 0 = in the first literal, 1 = added by the second, 2 = kept aside
            let mut which = which;
            which[long[0]] = 0;
            let texts: Vec<String> = (0..long.len()).map(|i| format!("f{i}")).collect();
            let names: Vec<&str> = texts.iter().map(String::as_str).collect();
            let first: Vec<usize> = long.iter().copied().filter(|&i| which[i] == 0).collect();
            let seqs: Few<SeqSrc<'_>> = Few::One(SeqSrc::Labels(long.iter().map(|&i| &names[i]).collect()));
            // all of them fields, in the order they would have been made
            let mut full = Arcs::default();
            for &i in first.iter().chain(long.iter().filter(|&&i| which[i] != 0)) {
                full.push_new(&names[i], i as NodeId);
            }
            let mut sc = OrderScratch::default();
            merge_fronts(&full, first.len(), &seqs, &mut sc);
            let expected: Vec<NodeId> =
                sc.order.iter().map(|&i| full.entries[i].1).filter(|&id| which[id as usize] != 2).collect();
            let mut kept = Arcs::default();
            for &i in first.iter().chain(long.iter().filter(|&&i| which[i] == 1)) {
                kept.push_new(&names[i], i as NodeId);
            }
            let mut order = Vec::new();
            let aside = |l: &str| l.strip_prefix('f').and_then(|d| d.parse::<usize>().ok()).is_some_and(|i| which[i] == 2);
            prop_assert!(covers_in_order(&kept, first.len(), &seqs, aside, &mut order));
            let got: Vec<NodeId> = order.iter().map(|&i| kept.entries[i].1).collect();
            prop_assert_eq!(got, expected);
        }

        /// Whatever the two literals' orders, the shortcut either declines or agrees.
        #[test]
        fn superseq_order_declines_or_agrees(
            (first, second) in (2usize..10).prop_flat_map(|n| {
                let all: Vec<usize> = (0..n).collect();
                (proptest::sample::subsequence(all.clone(), 1..n).prop_shuffle(), Just(all).prop_shuffle())
            }),
        ) {
            let texts: Vec<String> = (0..second.len()).map(|i| format!("f{i}")).collect();
            let names: Vec<&str> = texts.iter().map(String::as_str).collect();
            let mut arcs = Arcs::default();
            for &i in first.iter().chain(second.iter().filter(|i| !first.contains(i))) {
                arcs.push_new(&names[i], i as NodeId);
            }
            let seqs: Few<SeqSrc<'_>> = Few::One(SeqSrc::Labels(second.iter().map(|&i| &names[i]).collect()));
            let mut fast = Vec::new();
            let mut sc = OrderScratch::default();
            merge_fronts(&arcs, first.len(), &seqs, &mut sc);
            if superseq_order(&arcs, first.len(), &seqs, &mut fast) {
                prop_assert_eq!(fast, sc.order);
            }
        }
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    /// Exports `text` streamed and not streamed: the results must be identical (text, or
    /// error messages); returns how many top-level fields the streamed run dropped.
    fn both(text: &str) -> usize {
        let files = [SourceFile::new("t.cue", text)];
        let opts = EvalOptions::strict();
        let run = |stream: bool| {
            let arena = Arena::new();
            let asts = match super::super::parse_all(&arena, &files, &opts) {
                Ok(a) => a,
                Err(d) => panic!("{text}: does not parse: {d}"),
            };
            let (r, dropped) = export_json_with(&arena, &files, &asts, &opts, stream);
            (r.map_err(|d| d.to_string()), dropped)
        };
        let (streamed, dropped) = run(true);
        let (whole, none) = run(false);
        assert_eq!(streamed, whole, "{text}");
        assert_eq!(none, 0);
        dropped
    }

    /// [`both`] on each configuration.
    fn each(texts: &[&str]) {
        texts.iter().for_each(|t| {
            both(t);
        });
    }

    #[test]
    fn independent_top_level_fields_are_dropped_after_export() {
        let text = "#S: {a: int, b: *1 | 2, c?: string}\np0: #S & {a: 1}\np1: #S & {a: 2, b: 2}\np2: {x: [1, 2], y: {z: \"q\"}}\n";
        // #S is evaluated by the first reference (p0 touches it); p1 and p2 stay private
        assert!(both(text) >= 2, "{text}");
    }

    #[test]
    fn a_dropped_field_referenced_later_is_evaluated_again() {
        for text in [
            "a: {x: 1, y: x + 1}\nb: {z: a.y, w: a}\nc: [for k, v in a {k}]\n",
            "#D: {n: int, m: n * 2}\np: #D & {n: 1}\nq: #D & {n: 2}\nr: p.m + q.m\n",
            "a: {x: 1}\nb: a & {y: 2}\nc: b & a\n",
            "a: b: c: d: {e: 1}\nx: a.b.c.d & {f: 2}\ny: a.b\n",
            "l: [1, 2, {a: 3}]\nm: l[2].a\nn: l\n",
            "_h: {x: 1}\na: _h.x\n#d: {y: 1}\nb: #d.y\n",
            "a: {x: 1} @foo(bar)\nb: a\nc: {d: a.x} @baz()\n",
            "a: {s: \"v\", t: \"\\(s)-x\"}\nb: {u: a.t}\nc: a\n",
        ] {
            // the first field is dropped after its export, then evaluated again for a later one
            assert!(both(text) >= 1, "{text}");
        }
    }

    #[test]
    fn literals_with_constraints_of_a_dropped_field_are_forgotten_with_it() {
        // `a`'s nodes unify literals with optional fields and patterns; after `a` is dropped,
        // `c`'s disjuncts reuse their ids and, unified from literals without constraints,
        // must still be one value (a stale record would make the disjunction ambiguous)
        let text = "a: {p: {b?: int, x: 1}, q: {[string]: int}, r: {s?: 1}, t: {u?: 2}}\n\
                    c: {x: 1} | {x: 1}\nd: {y: 2, z?: 3} | {y: 2, z?: 3}\n";
        let files = [SourceFile::new("t.cue", text)];
        let opts = EvalOptions::strict();
        let arena = Arena::new();
        let asts = super::super::parse_all(&arena, &files, &opts).unwrap_or_else(|d| panic!("{d}"));
        let (r, dropped) = export_json_with(&arena, &files, &asts, &opts, true);
        assert!(dropped >= 1);
        // `d`'s two literals differ (both declare `z?`), so it stays ambiguous, as in CUE
        let err = r.err().map(|d| d.to_string()).unwrap_or_default();
        assert!(err.contains("d: incomplete value"), "{err}");
        assert!(!err.contains("c:"), "{err}");
        assert!(both("a: {p: {b?: int, x: 1}, q: {[string]: int}}\nc: {x: 1} | {x: 1}\n") >= 1);
    }

    #[test]
    fn forward_references_lets_patterns_and_comprehensions_agree() {
        each(&[
            "a: b.x\nb: {x: 1, y: a}\n",
            "let L = {v: 1}\na: L & {w: 2}\nb: L.v\n",
            "a: *{x: 1} | {y: 2}\nb: a.x\n",
            "for k, v in src {\"\\(k)x\": v}\nsrc: {a: 1, b: 2}\n",
            "[string]: {k: 1}\na: {}\nb: a.k\n",
            "a: {x: 1, y: a.x}\nb: a.y\n",
            "#A: {x: int}\na: #A & {x: 1}\nb: a & {x: 1}\n",
            "a: {x: [for i in [1, 2, 3] {i * 2}]}\nb: a.x[1]\n",
        ]);
    }

    #[test]
    fn errors_and_incomplete_values_agree() {
        each(&[
            "a: {x: 1}\nb: a & {x: 2}\n",
            "a: {x: int}\nb: a.x + 1\n",
            "a: b\nb: a\n",
            "a: {x: b.y}\nb: {y: a.x}\n",
            "#A: {x: int}\na: #A & {x: 1, y: 2}\nb: a.x\n",
            "a: {x: 1}\nb: {y: 2}\nc: a & b & {x: 3}\n",
            "a: {r!: int}\nb: a\n",
        ]);
    }
}
