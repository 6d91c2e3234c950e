//! Errors that point into the file the user wrote.

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::ops::Range;
use std::sync::Arc;

/// One problem in a topology file, with its location (`file:line:col`) and a hint.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{file}:{line}:{col}: {message}")]
pub struct SpecError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
    #[help]
    pub help: Option<String>,
    #[source_code]
    src: NamedSource<Arc<str>>,
    #[label("here")]
    span: SourceSpan,
}

/// Everything wrong with one file, reported together so a user fixes it in one pass.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{}", summary(.errors))]
pub struct SpecErrors {
    #[related]
    pub errors: Vec<SpecError>,
}

fn summary(errors: &[SpecError]) -> String {
    match errors {
        [one] => one.to_string(),
        many => format!("{} errors in {}", many.len(), many[0].file),
    }
}

/// Builds `SpecError`s for one source text.
#[derive(Clone)]
pub struct Source {
    pub name: String,
    pub text: Arc<str>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rfind('\n')
            .map_or(before, |i| &before[i + 1..])
            .chars()
            .count()
            + 1;
        (line, col)
    }

    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> SpecError {
        let (line, col) = self.line_col(span.start);
        SpecError {
            file: self.name.clone(),
            line,
            col,
            message: message.into(),
            help: None,
            src: NamedSource::new(self.name.clone(), self.text.clone()),
            span: (span.start, span.end.saturating_sub(span.start)).into(),
        }
    }
}

impl SpecError {
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Collects every problem of one file, so a user fixes them in one pass. The
/// topology and scenario checks add their own methods to it.
pub(crate) struct Checker {
    pub(crate) src: Source,
    pub(crate) errors: Vec<SpecError>,
}

impl Checker {
    pub(crate) fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        let e = self.src.error(span, msg);
        self.errors.push(e);
    }

    pub(crate) fn err_help(
        &mut self,
        span: Range<usize>,
        msg: impl Into<String>,
        help: impl Into<String>,
    ) {
        let e = self.src.error(span, msg).with_help(help);
        self.errors.push(e);
    }
}
