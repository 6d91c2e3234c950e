//! Errors that point into the file the user wrote.

use miette::{Diagnostic, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};
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
    src: IndexedSource,
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

/// Where each line of a text starts, so that a byte offset's line and
/// column cost a binary search instead of a scan from the start of the file
/// (a file with many errors used to be checked in quadratic time).
#[derive(Debug)]
pub struct LineIndex {
    /// Byte offset of the start of each line (`\n`-separated); the first is 0.
    starts: Vec<usize>,
    /// Lines holding only ASCII: their columns are byte differences.
    ascii: Vec<bool>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(newline_offsets(text.as_bytes()).map(|i| i + 1));
        let ascii = starts
            .iter()
            .enumerate()
            .map(|(k, &a)| {
                let b = starts.get(k + 1).copied().unwrap_or(text.len());
                text.as_bytes()[a..b].is_ascii()
            })
            .collect();
        LineIndex { starts, ascii }
    }

    /// 0-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) - 1
    }

    /// 1-based line and column (in characters) of a byte offset of `text`,
    /// the text the index was built from. Costs a binary search, plus a count
    /// of the characters before it on its line when that line is not ASCII.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.line_of(offset);
        let start = self.starts[line];
        let col = if self.ascii[line] {
            offset - start
        } else {
            text[start..offset].chars().count()
        };
        (line + 1, col + 1)
    }

    /// Byte range of lines `first..=last` (0-based, clamped).
    fn lines(&self, first: usize, last: usize, len: usize) -> std::ops::Range<usize> {
        let a = self.starts[first.min(self.starts.len() - 1)];
        let b = self.starts.get(last + 1).copied().unwrap_or(len);
        a..b
    }
}

fn newline_offsets(b: &[u8]) -> impl Iterator<Item = usize> + '_ {
    b.iter()
        .enumerate()
        .filter(|(_, &c)| c == b'\n')
        .map(|(i, _)| i)
}

/// A file's text for miette, with its [`LineIndex`]: a snippet is cut from
/// the few lines around the span before miette scans it, so rendering each
/// of many errors costs its own lines, not the whole file before it.
#[derive(Clone)]
pub struct IndexedSource {
    name: String,
    text: Arc<str>,
    index: Arc<LineIndex>,
}

impl std::fmt::Debug for IndexedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedSource")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SourceCode for IndexedSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let len = self.text.len();
        if span.offset() > len || span.offset() + span.len() > len {
            return Err(MietteError::OutOfBounds);
        }
        // A window of whole lines with a line to spare on either side;
        // miette then picks its context in it exactly as it would in the
        // whole file, and its offsets and line numbers are shifted back.
        let first = self.index.line_of(span.offset());
        let last = self.index.line_of(span.offset() + span.len());
        let window = self.index.lines(
            first.saturating_sub(context_lines_before + 1),
            last + context_lines_after + 1,
            len,
        );
        let local = SourceSpan::from((span.offset() - window.start, span.len()));
        let bytes = &self.text.as_bytes()[window.clone()];
        let c = bytes.read_span(&local, context_lines_before, context_lines_after)?;
        let skipped = self.index.line_of(window.start);
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            c.data(),
            (c.span().offset() + window.start, c.span().len()).into(),
            c.line() + skipped,
            c.column(),
            c.line_count() + skipped,
        )))
    }
}

/// Builds `SpecError`s for one source text.
#[derive(Clone)]
pub struct Source {
    pub name: String,
    pub text: Arc<str>,
    index: Arc<LineIndex>,
}

impl Source {
    /// The folder of the file, where the paths it names are relative to
    /// (`.` for a bare file name).
    pub fn folder(&self) -> std::path::PathBuf {
        match std::path::Path::new(&self.name).parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        }
    }

    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let text = text.into();
        Source {
            name: name.into(),
            index: Arc::new(LineIndex::new(&text)),
            text,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        self.index.line_col(&self.text, offset)
    }

    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> SpecError {
        let (line, col) = self.line_col(span.start);
        SpecError {
            file: self.name.clone(),
            line,
            col,
            message: crate::names::printable(&message.into()).into_owned(),
            help: None,
            src: IndexedSource {
                name: self.name.clone(),
                text: self.text.clone(),
                index: self.index.clone(),
            },
            span: (span.start, span.end.saturating_sub(span.start)).into(),
        }
    }
}

impl SpecError {
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(crate::names::printable(&help.into()).into_owned());
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
    /// Where each step's `expect` keys are written, by the step's span
    /// start; read from the text once, when a step first asks.
    pub(crate) expect_keys: std::cell::OnceCell<ExpectKeys>,
}

/// Spans of the keys of each step's `expect` table, by the step's span start.
pub(crate) type ExpectKeys = std::collections::HashMap<usize, Vec<(String, Range<usize>)>>;

impl Checker {
    pub(crate) fn new(src: Source) -> Checker {
        Checker {
            src,
            errors: Vec::new(),
            expect_keys: std::cell::OnceCell::new(),
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan the index replaces: the line and column of `offset` counted
    /// from the start of the text.
    fn scanned(text: &str, offset: usize) -> (usize, usize) {
        let before = &text[..floor_char_boundary(text, offset.min(text.len()))];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rfind('\n')
            .map_or(before, |i| &before[i + 1..])
            .chars()
            .count()
            + 1;
        (line, col)
    }

    const TEXTS: [&str; 6] = [
        "",
        "one line",
        "a\nbb\n\nccc\n",
        "name = \"é\"\n[nodes.ü]\nx = \"日本\" # ok\r\nlast",
        "\n\n\n",
        "trailing é",
    ];

    #[test]
    fn the_index_agrees_with_a_scan_at_every_offset() {
        for text in TEXTS {
            let idx = LineIndex::new(text);
            for off in 0..=text.len() + 2 {
                assert_eq!(
                    idx.line_col(text, off),
                    scanned(text, off),
                    "offset {off} of {text:?}"
                );
            }
        }
    }

    /// Snippets cut through the index are what miette cuts from the whole
    /// text: same bytes, span, line, column, for every span and context.
    #[test]
    fn indexed_snippets_match_whole_text_snippets() {
        for text in TEXTS {
            let src = Source::new("f.toml", text);
            let e = src.error(0..0, "x");
            for a in 0..=text.len() {
                for b in a..=text.len() {
                    if !text.is_char_boundary(a) || !text.is_char_boundary(b) {
                        continue;
                    }
                    let span = SourceSpan::from((a, b - a));
                    for ctx in [0, 1, 2] {
                        let want = text.read_span(&span, ctx, ctx);
                        let got = e.src.read_span(&span, ctx, ctx);
                        match (want, got) {
                            (Ok(w), Ok(g)) => {
                                assert_eq!(g.data(), w.data(), "{a}..{b} ctx {ctx} of {text:?}");
                                assert_eq!(g.span(), w.span(), "{a}..{b} ctx {ctx} of {text:?}");
                                assert_eq!(g.line(), w.line(), "{a}..{b} ctx {ctx} of {text:?}");
                                assert_eq!(g.column(), w.column(), "{a}..{b} ctx {ctx}");
                                assert_eq!(g.name(), Some("f.toml"));
                            }
                            (Err(_), Err(_)) => {}
                            (w, g) => panic!(
                                "{a}..{b} ctx {ctx} of {text:?}: whole {:?}, indexed {:?}",
                                w.is_ok(),
                                g.is_ok()
                            ),
                        }
                    }
                }
            }
        }
    }
}
