//! Evaluator (stub, being implemented).
use super::ast;
use super::diag::{Diagnostic, DiagnosticKind, Diagnostics};
use super::source::SourceFile;
use super::value::Value;
use super::EvalOptions;

pub(crate) fn evaluate(_files: &[SourceFile], _asts: &[ast::File], _opts: &EvalOptions) -> Result<Value, Diagnostics> {
    Err(Diagnostics::one(Diagnostic::new(DiagnosticKind::Unsupported, "evaluator not yet implemented")))
}
