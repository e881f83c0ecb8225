//! Configuration errors: a position (file, line, column), the field path, what was expected and
//! found, and a hint; rendered by miette with the source line underlined.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::tree::{Document, Span};

/// One problem in a configuration file.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigError {
    /// What is wrong, in one sentence.
    pub message: String,
    /// Dotted path of the offending field (`ci.phases.build.compile.priorty`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// File, relative to the repository root when produced by discovery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// What the schema expects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What the file holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    /// How to fix it (`did you mean …?`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip)]
    source: Option<NamedText>,
    #[serde(skip)]
    range: Option<(usize, usize)>,
}

impl ConfigError {
    /// An error with a message and nothing else.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field: None,
            file: None,
            line: None,
            column: None,
            expected: None,
            found: None,
            hint: None,
            source: None,
            range: None,
        }
    }

    /// Sets the field path (empty paths are ignored).
    pub fn at_field(mut self, field: impl Into<String>) -> Self {
        let f = field.into();
        if !f.is_empty() {
            self.field = Some(f);
        }
        self
    }

    /// Sets the position from a span of `doc` (no-op without span or source).
    pub fn at(mut self, doc: &Document, span: Option<Span>) -> Self {
        if let Some(span) = span
            && let Some(src) = doc.source(span)
        {
            let (line, column) = src.line_col(span.start as usize);
            self.file = Some(src.name().to_owned());
            self.line = Some(line);
            self.column = Some(column);
            self.source = Some(NamedText { name: src.name().to_owned(), text: src.text().clone() });
            self.range = Some((span.start as usize, span.end.saturating_sub(span.start) as usize));
        }
        self
    }

    /// Sets a position without source text (file, line, column).
    pub fn at_position(mut self, file: impl Into<String>, line: usize, column: usize) -> Self {
        self.file = Some(file.into());
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// Attaches source text and a byte range for rendering.
    pub fn with_source(mut self, name: impl Into<String>, text: Arc<str>, start: usize, len: usize) -> Self {
        self.source = Some(NamedText { name: name.into(), text });
        self.range = Some((start, len));
        self
    }

    /// Sets "expected" and "found".
    pub fn expected_found(mut self, expected: impl Into<String>, found: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.found = Some(found.into());
        self
    }

    /// Sets the hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the hint when there is one.
    pub fn maybe_hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// Rewrites the file name (discovery makes names relative to the repository root).
    pub fn rename_file(&mut self, f: impl Fn(&str) -> String) {
        if let Some(file) = &mut self.file {
            *file = f(file);
        }
        if let Some(src) = &mut self.source {
            src.name = f(&src.name);
        }
    }

    /// One line: `field: message (expected X, found Y); hint`.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        if let Some(f) = &self.field {
            s.push_str(f);
            s.push_str(": ");
        }
        s.push_str(&self.message);
        if let (Some(e), Some(f)) = (&self.expected, &self.found) {
            s.push_str(&format!(" (expected {e}, found {f})"));
        }
        if let Some(h) = &self.hint {
            s.push_str("; ");
            s.push_str(h);
        }
        s
    }

    /// `file:line:column: summary`.
    pub fn located(&self) -> String {
        match (&self.file, self.line, self.column) {
            (Some(file), Some(l), Some(c)) => format!("{file}:{l}:{c}: {}", self.summary()),
            (Some(file), _, _) => format!("{file}: {}", self.summary()),
            _ => self.summary(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let (Some(e), Some(found)) = (&self.expected, &self.found) {
            write!(f, ": expected {e}, found {found}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Source text with its file name, for miette.
#[derive(Debug, Clone)]
struct NamedText {
    name: String,
    text: Arc<str>,
}

impl miette::SourceCode for NamedText {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = (*self.text).read_span(span, before, after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

impl miette::Diagnostic for ConfigError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("forge::config"))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.hint.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|n| n as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let (start, len) = self.range?;
        let label = self.field.clone().unwrap_or_else(|| "here".to_owned());
        Some(Box::new(std::iter::once(miette::LabeledSpan::new(Some(label), start, len))))
    }
}

/// Every error found in one configuration (a repository's or a project's), reported together.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }
    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        Self(vec![e])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{}", one.located()),
            many => {
                write!(f, "{} configuration errors", many.len())?;
                for e in many {
                    write!(f, "\n  {}", e.located())?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigErrors {}

impl miette::Diagnostic for ConfigErrors {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("forge::config"))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(self.0.iter().map(|e| e as &dyn miette::Diagnostic)))
    }
}

/// Why discovery failed as a whole (an invalid project does not fail discovery: it is
/// reported in [`crate::discovery::Discovery::errors`]).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DiscoveryError {
    /// There is no `.forge/repo.cue` at the root.
    #[error("{} is not a Forge repository: `.forge/repo.cue` not found", root.display())]
    #[diagnostic(code(forge::discovery::not_a_repository), help("create one with `forge init --repo <project>`"))]
    NotARepository {
        /// The root that was searched.
        root: PathBuf,
    },
    /// `repo.cue` is invalid, or its `forgeVersion` major is not supported.
    #[error("invalid repository configuration: {}", Joined(.0))]
    #[diagnostic(code(forge::discovery::repository))]
    Repository(#[related] Vec<ConfigError>),
    /// More projects than allowed.
    #[error("{count} projects found; a repository may hold at most {limit} projects")]
    #[diagnostic(code(forge::discovery::too_many_projects))]
    TooManyProjects {
        /// Projects found.
        count: usize,
        /// The limit (100).
        limit: usize,
    },
    /// The discovery output is larger than allowed.
    #[error("discovery output is {size} bytes; the limit is {limit} bytes")]
    #[diagnostic(code(forge::discovery::output_too_large))]
    OutputTooLarge {
        /// Serialised size.
        size: usize,
        /// The limit (1 MiB).
        limit: usize,
    },
    /// A file or folder could not be read.
    #[error("cannot read {}: {source}", path.display())]
    #[diagnostic(code(forge::discovery::io))]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Joins errors for a one-line `Display`.
pub(crate) struct Joined<'a>(pub &'a [ConfigError]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(&e.located())?;
        }
        Ok(())
    }
}
