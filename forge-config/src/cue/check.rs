//! Static checks CUE performs before evaluation: unreferenced `let` clauses and aliases, and a
//! name bound twice in one struct.

use super::ast::{BinOp, Clause, Comprehension, Decl, Expr, ExprKind, File, LabelKind, ListElem, StrPart, UnOp};
use super::diag::{Diagnostic, DiagnosticKind};
use super::lexer::kw;
use super::source::{SourceFile, Span};

/// Whether `name` is referenced (as an identifier) anywhere in `e`.
fn uses_expr<'a>(e: &'a Expr<'a>, name: &str) -> bool {
    if let ExprKind::Ident(n) = &e.kind {
        return ***n == *name;
    }
    let mut found = false;
    expr_children(e, &mut |c| found = found || uses_expr(c, name));
    found
}

fn uses_decls<'a>(decls: &'a [Decl<'a>], name: &str) -> bool {
    let mut found = false;
    decl_children(decls, &mut |e| found = found || uses_expr(e, name));
    found
}

/// The names a declaration binds in its struct's scope: a `let`, a field's alias, a pattern
/// constraint's alias (`[N=string]: ...`).
fn scope_names<'a>(d: &'a Decl<'a>) -> impl Iterator<Item = (&'a str, Span)> {
    let (first, second) = match d {
        Decl::Let(l) => (Some((&**l.name, l.span)), None),
        Decl::Field(f) => (
            f.label.alias.map(|a| (&**a, f.label.span)),
            match &f.label.kind {
                LabelKind::Pattern(p) => p.1.map(|a| (&**a, f.label.span)),
                _ => None,
            },
        ),
        _ => (None, None),
    };
    first.into_iter().chain(second)
}

/// CUE's error for a name bound twice in one struct.
fn rebound_diag(name: &str, span: Span, files: &[SourceFile]) -> Diagnostic {
    Diagnostic::new(DiagnosticKind::Eval, format!("alias \"{name}\" redeclared in same scope"))
        .with_span(span, files)
        .with_hint("rename one of them: a struct binds each alias or let name once")
}

/// The first name that a struct's declarations bind a second time, with where.
pub(crate) fn rebound_name<'a>(decls: &'a [Decl<'a>]) -> Option<(&'a str, Span)> {
    let mut bound: Vec<&str> = Vec::new();
    for (name, span) in decls.iter().flat_map(scope_names) {
        if bound.contains(&name) {
            return Some((name, span));
        }
        bound.push(name);
    }
    None
}

fn check_decls(decls: &[Decl<'_>], scope: &[&[Decl<'_>]], files: &[SourceFile]) -> Option<Diagnostic> {
    if let Some((name, span)) = rebound_name(decls) {
        return Some(rebound_diag(name, span, files));
    }
    for d in decls {
        let (name, span) = match d {
            Decl::Let(l) => (Some(&**l.name), l.span),
            Decl::Field(f) => (f.label.alias.map(|a| &**a), f.label.span),
            _ => (None, decls.first().map(|_| Default::default()).unwrap_or_default()),
        };
        if let (Decl::Let(_), Some(name)) = (d, name)
            && let Some(sp) = field_named(decls, name)
        {
            return Some(
                Diagnostic::new(
                    DiagnosticKind::Eval,
                    format!("cannot have both alias and field with name \"{name}\" in same scope"),
                )
                .with_span(sp, files),
            );
        }
        if let Some(name) = name {
            let used = uses_decls(decls, name) || scope.iter().any(|s| uses_decls(s, name));
            if !used {
                return Some(
                    Diagnostic::new(DiagnosticKind::Eval, format!("unreferenced alias or let clause {name}"))
                        .with_span(span, files),
                );
            }
        }
    }
    for d in decls {
        let r = match d {
            Decl::Field(f) => check_expr(&f.value, files),
            Decl::Embed(e) => check_expr(e, files),
            Decl::Let(l) => check_expr(&l.expr, files),
            Decl::Comprehension(c) => check_expr(c.body, files),
            _ => None,
        };
        if r.is_some() {
            return r;
        }
    }
    None
}

fn check_expr(e: &Expr<'_>, files: &[SourceFile]) -> Option<Diagnostic> {
    match &e.kind {
        ExprKind::Struct(d) => check_decls(d, &[], files),
        ExprKind::Binary(_, a, b) => check_expr(a, files).or_else(|| check_expr(b, files)),
        ExprKind::Paren(x) | ExprKind::Unary(_, x) => check_expr(x, files),
        ExprKind::List(items) => items.iter().find_map(|i| match i {
            ListElem::Expr(x) => check_expr(x, files),
            ListElem::Comprehension(c) => check_expr(c.body, files),
            ListElem::Ellipsis(_) => None,
        }),
        _ => None,
    }
}

/// A field with this label declared in these declarations or nested struct literals.
fn field_named(decls: &[Decl<'_>], name: &str) -> Option<super::source::Span> {
    for d in decls {
        match d {
            Decl::Field(f) => {
                if matches!(&f.label.kind, LabelKind::Name(n) if ***n == *name) {
                    return Some(f.label.span);
                }
                if let Some(sp) = field_named_expr(&f.value, name) {
                    return Some(sp);
                }
            }
            Decl::Embed(e) => {
                if let Some(sp) = field_named_expr(e, name) {
                    return Some(sp);
                }
            }
            _ => {}
        }
    }
    None
}

fn field_named_expr(e: &Expr<'_>, name: &str) -> Option<super::source::Span> {
    match &e.kind {
        ExprKind::Struct(d) => field_named(d, name),
        ExprKind::Binary(_, a, b) => field_named_expr(a, name).or_else(|| field_named_expr(b, name)),
        ExprKind::Paren(x) | ExprKind::Unary(_, x) => field_named_expr(x, name),
        ExprKind::List(items) => items.iter().find_map(|i| match i {
            ListElem::Expr(x) => field_named_expr(x, name),
            _ => None,
        }),
        _ => None,
    }
}

/// Reports the first `let` or alias that nothing references (CUE rejects those).
pub(crate) fn unused_lets(asts: &[File<'_>], files: &[SourceFile]) -> Option<Diagnostic> {
    if !asts.iter().any(|a| a.has_lets) {
        return None;
    }
    let all: Vec<&[Decl<'_>]> = asts.iter().map(|a| a.decls).collect();
    for a in asts {
        if let Some(d) = check_decls(a.decls, &all, files) {
            return Some(d);
        }
    }
    None
}

/// The predeclared basic types' names in the parser's (and the evaluator's) order.
pub(crate) fn basic_type_names() -> &'static [&'static str] {
    &kw::WORDS[kw::INT as usize..=kw::BOOL as usize]
}

/// Which predeclared basic types some declaration of the files binds: a field label (quoted
/// or not), an alias, a `let`, a comprehension variable or an import name. Bit `i` is set
/// when the `i`-th of [`basic_type_names`] may be bound. The evaluator resolves a predeclared
/// identifier that no file binds without walking the scopes, which cannot find it. The parser
/// noted the declarations as it made them; only the import names are looked at here.
pub(crate) fn bound_basic_types(asts: &[File<'_>]) -> u64 {
    let names = basic_type_names();
    let mut mask = 0u64;
    for a in asts {
        mask |= u64::from(a.bound_basic);
        for imp in &a.imports {
            if let Some(i) = names.iter().position(|x| *x == imp.name) {
                mask |= 1 << i;
            }
        }
    }
    mask
}

/// The same by walking the trees: the reference the parser's notes are tested against.
#[cfg(test)]
pub(crate) fn bound_names(asts: &[File<'_>], names: &[&str]) -> u64 {
    let mut mask = 0u64;
    let mut note = |n: &str| {
        if let Some(i) = names.iter().position(|x| *x == n) {
            mask |= 1 << i;
        }
    };
    for a in asts {
        a.imports.iter().for_each(|i| note(&i.name));
        bound_in_decls(a.decls, &mut note);
    }
    mask
}

#[cfg(test)]
fn bound_in_decls(decls: &[Decl<'_>], note: &mut impl FnMut(&str)) {
    for d in decls {
        match d {
            Decl::Field(f) => {
                match &f.label.kind {
                    LabelKind::Name(n) => note(n),
                    LabelKind::Pattern(pe) => pe.1.iter().for_each(|a| note(a)),
                    LabelKind::Dynamic(_) => {}
                }
                f.label.alias.iter().for_each(|a| note(a));
            }
            Decl::Let(l) => note(l.name),
            Decl::Comprehension(c) => bound_in_clauses(c, note),
            _ => {}
        }
    }
    decl_children(decls, &mut |e| bound_in_expr(e, note));
}

#[cfg(test)]
fn bound_in_clauses(c: &Comprehension<'_>, note: &mut impl FnMut(&str)) {
    for cl in c.clauses {
        match cl {
            Clause::For(k, v, _) => {
                k.iter().for_each(|k| note(k));
                note(v);
            }
            Clause::Let(n, _) => note(n),
            Clause::If(_) => {}
        }
    }
}

#[cfg(test)]
fn bound_in_expr(e: &Expr<'_>, note: &mut impl FnMut(&str)) {
    match &e.kind {
        // the declarations' own walk covers their expressions
        ExprKind::Struct(d) => bound_in_decls(d, note),
        _ => {
            if let ExprKind::List(items) = &e.kind {
                for i in items.iter() {
                    if let ListElem::Comprehension(c) = i {
                        bound_in_clauses(c, note);
                    }
                }
            }
            expr_children(e, &mut |c| bound_in_expr(c, note));
        }
    }
}

/// Calls `f` with every expression directly inside `decls`: field values, label expressions,
/// embeddings, `let` and `...` expressions and comprehensions' clauses and bodies.
fn decl_children<'a>(decls: &'a [Decl<'a>], f: &mut impl FnMut(&'a Expr<'a>)) {
    for d in decls {
        match d {
            Decl::Field(fd) => {
                match &fd.label.kind {
                    LabelKind::Dynamic(e) => f(e),
                    LabelKind::Pattern(pe) => f(&pe.0),
                    LabelKind::Name(_) => {}
                }
                f(&fd.value);
            }
            Decl::Embed(e) | Decl::Ellipsis(Some(e), _) => f(e),
            Decl::Let(l) => f(&l.expr),
            Decl::Comprehension(c) => comp_children(c, f),
            Decl::Ellipsis(None, _) | Decl::Attribute(_) => {}
        }
    }
}

fn comp_children<'a>(c: &'a Comprehension<'a>, f: &mut impl FnMut(&'a Expr<'a>)) {
    for cl in c.clauses {
        match cl {
            Clause::For(_, _, e) | Clause::If(e) | Clause::Let(_, e) => f(e),
        }
    }
    f(c.body);
}

/// Calls `f` with every expression directly inside `e` (through struct and list literals).
fn expr_children<'a>(e: &'a Expr<'a>, f: &mut impl FnMut(&'a Expr<'a>)) {
    match &e.kind {
        ExprKind::Struct(d) => decl_children(d, f),
        ExprKind::List(items) => {
            for i in items.iter() {
                match i {
                    ListElem::Expr(x) | ListElem::Ellipsis(Some(x)) => f(x),
                    ListElem::Ellipsis(None) => {}
                    ListElem::Comprehension(c) => comp_children(c, f),
                }
            }
        }
        ExprKind::Str(parts) => {
            for p in parts.iter() {
                if let StrPart::Expr(x) = p {
                    f(x);
                }
            }
        }
        ExprKind::Selector(x, _) | ExprKind::Unary(_, x) | ExprKind::Paren(x) => f(x),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            f(a);
            f(b);
        }
        ExprKind::Call(c) => {
            f(&c.0);
            c.1.iter().for_each(&mut *f);
        }
        _ => {}
    }
}

/// The first default mark `*x` that is not an alternative of a disjunction (CUE rejects
/// `a: *1`, `2 & *1 | 3` and `(*1) | 2`, and accepts `*1 | 2` and `(*1 | 2) & int`).
fn misplaced_default(e: &Expr<'_>, in_disjunction: bool) -> Option<Span> {
    let inner_ok = match &e.kind {
        ExprKind::Unary(UnOp::Default, _) if !in_disjunction => return Some(e.span),
        ExprKind::Unary(UnOp::Default, _) | ExprKind::Binary(BinOp::Or, ..) => true,
        _ => false,
    };
    let mut found = None;
    expr_children(e, &mut |c| {
        if found.is_none() {
            found = misplaced_default(c, inner_ok);
        }
    });
    found
}

/// Reports a default mark outside a disjunction, as CUE's compiler does before evaluating.
pub(crate) fn misplaced_defaults(asts: &[File<'_>], files: &[SourceFile]) -> Option<Diagnostic> {
    let mut found = None;
    for a in asts.iter().filter(|a| a.unplaced_defaults) {
        decl_children(a.decls, &mut |e| {
            if found.is_none() {
                found = misplaced_default(e, false);
            }
        });
    }
    found.map(|span| {
        Diagnostic::new(DiagnosticKind::Eval, "preference mark not allowed at this position")
            .with_span(span, files)
            .with_hint("a default `*value` must be one alternative of a disjunction, as in `*value | other`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_let_or_alias(decls: &[Decl<'_>]) -> bool {
        let mut found = false;
        for d in decls {
            match d {
                Decl::Let(_) => found = true,
                Decl::Field(f) if f.label.alias.is_some() => found = true,
                _ => {}
            }
        }
        decl_children(decls, &mut |e| found |= expr_has_let_or_alias(e));
        found
    }

    fn expr_has_let_or_alias(e: &Expr<'_>) -> bool {
        if let ExprKind::Struct(d) = &e.kind {
            return has_let_or_alias(d);
        }
        let mut found = false;
        expr_children(e, &mut |c| found |= expr_has_let_or_alias(c));
        found
    }

    /// The parser's notes (basic type names bound, `let`s and aliases present) cover what a
    /// walk of the tree finds, on every case of the conformance corpus and a few more: a
    /// missed note would resolve a shadowed `int` to the basic type, or skip the unused-let
    /// check.
    #[test]
    fn parser_notes_cover_the_tree_walks() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
        let mut texts: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "cue"))
                    .filter_map(|p| std::fs::read_to_string(p).ok())
                    .collect()
            })
            .unwrap_or_default();
        assert!(texts.len() > 150, "conformance corpus not found in {}", dir.display());
        for extra in [
            "int: 1\na: int",
            "\"string\": 1\nb: string",
            "\"bo\\u006fl\": 1\nb: bool",
            "a: {let number = 1, b: number}",
            "X=float: 1\na: X",
            "[bytes=string]: {}",
            "a: [for int, string in [1] {int}]",
            "a: {for k, v in {} let bool = 1 {x: bool}}",
            "a: \"\\({let float = 2, b: float}.b)\"",
        ] {
            texts.push(extra.to_string());
        }
        let names = basic_type_names();
        let mut bound_seen = 0;
        for text in &texts {
            let arena = crate::cue::ast::Arena::new();
            let opts = crate::cue::EvalOptions::strict();
            let Ok(file) = crate::cue::parser::parse(text, &arena, crate::cue::source::FileId(0), &opts.parse) else {
                continue;
            };
            let files = std::slice::from_ref(&file);
            let walked = bound_names(files, names);
            let noted = bound_basic_types(files);
            assert_eq!(walked & !noted, 0, "parser missed a bound basic type name in:\n{text}");
            bound_seen += u32::from(walked != 0);
            if has_let_or_alias(file.decls) {
                assert!(file.has_lets, "parser missed a let or alias in:\n{text}");
            }
        }
        assert!(bound_seen >= 9, "the extra cases bind basic type names");
    }
}
