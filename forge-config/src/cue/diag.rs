//! Diagnostics: rustc-style rendering (via [`std::fmt::Display`]), data for `--output json`,
//! and a [`miette::Diagnostic`] implementation for callers that render with miette.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::source::{SourceFile, Span};

/// What kind of problem a [`Diagnostic`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticKind {
    /// The text is not valid CUE syntax.
    Syntax,
    /// Evaluation failed (conflict, bound violation, closedness, ...).
    Eval,
    /// A value is not concrete where a concrete value is needed (export).
    Incomplete,
    /// A reference or structural cycle.
    Cycle,
    /// Valid CUE that this implementation does not support.
    Unsupported,
    /// A depth, size or step limit was hit.
    Limit,
    /// A file could not be read.
    Io,
}

/// One error with its location, field path and an optional hint.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    /// The kind of problem.
    pub kind: DiagnosticKind,
    /// Human-readable message.
    pub message: String,
    /// File name, if the problem has a location.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column (characters).
    pub column: Option<usize>,
    /// Dotted field path (`a.b[0].c`), if known.
    pub path: Option<String>,
    /// A suggestion.
    pub hint: Option<String>,
    /// Raw span (not serialized).
    #[serde(skip)]
    pub span: Option<Span>,
    #[serde(skip)]
    source_line: Option<String>,
    #[serde(skip)]
    source: Option<Arc<str>>,
}

impl Diagnostic {
    /// Creates a diagnostic without location.
    pub fn new(kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Diagnostic {
            kind,
            message: message.into(),
            file: None,
            line: None,
            column: None,
            path: None,
            hint: None,
            span: None,
            source_line: None,
            source: None,
        }
    }

    /// Sets the field path.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        let p = path.into();
        if !p.is_empty() {
            self.path = Some(p);
        }
        self
    }

    /// Sets the hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the span and resolves file/line/column against `files`.
    pub fn with_span(mut self, span: Span, files: &[SourceFile]) -> Self {
        self.span = Some(span);
        if let Some(f) = files.get(span.file.0 as usize) {
            let (line, col) = f.line_col(span.start as usize);
            self.file = Some(f.name().to_string());
            self.line = Some(line);
            self.column = Some(col);
            self.source_line = Some(f.line_text(line).to_string());
            self.source = Some(f.text_arc());
        }
        self
    }

    /// The source line the diagnostic points into, if any.
    pub fn source_line(&self) -> Option<&str> {
        self.source_line.as_deref()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        if let (Some(file), Some(line), Some(col)) = (&self.file, self.line, self.column) {
            let num = line.to_string();
            let pad = " ".repeat(num.len());
            writeln!(f, "{pad}--> {file}:{line}:{col}")?;
            if let Some(src) = &self.source_line {
                writeln!(f, "{pad} |")?;
                writeln!(f, "{num} | {src}")?;
                let width = self
                    .span
                    .map(|s| {
                        let len = (s.end.saturating_sub(s.start)) as usize;
                        let rest = src.chars().count().saturating_sub(col - 1);
                        len.clamp(1, rest.max(1))
                    })
                    .unwrap_or(1);
                writeln!(f, "{pad} | {}{}", " ".repeat(col - 1), "^".repeat(width))?;
            }
        }
        if let Some(p) = &self.path {
            writeln!(f, "  = path: {p}")?;
        }
        if let Some(h) = &self.hint {
            writeln!(f, "  = hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(match self.kind {
            DiagnosticKind::Syntax => "cue::syntax",
            DiagnosticKind::Eval => "cue::eval",
            DiagnosticKind::Incomplete => "cue::incomplete",
            DiagnosticKind::Cycle => "cue::cycle",
            DiagnosticKind::Unsupported => "cue::unsupported",
            DiagnosticKind::Limit => "cue::limit",
            DiagnosticKind::Io => "cue::io",
        }))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.hint.as_ref().map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.span?;
        let label = miette::LabeledSpan::new(
            self.path.clone(),
            span.start as usize,
            (span.end.saturating_sub(span.start)) as usize,
        );
        Some(Box::new(std::iter::once(label)))
    }
}

/// A non-empty list of diagnostics; the error type of parsing and evaluation.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// One diagnostic.
    pub fn one(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }

    /// Iterates over the diagnostics.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// Number of diagnostics.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}
