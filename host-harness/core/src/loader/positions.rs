//! Where a field is written: the line and column of the node a finding's field path names.
//!
//! Positions are found when a report asks for them, not while loading: the loader keeps every
//! document's text (shared with its file, [`DocText`]), and [`Locator`] re-reads only the
//! documents that have findings, with the YAML event parser serde-saphyr itself is built on
//! (granit-parser), into a tree of keys and positions. Loading costs nothing more, and a run
//! whose objects are clean reads nothing twice (docs/performance.md has the figures).
//!
//! A field path is the one findings carry (`spec.template.spec.containers[1].livenessProbe`,
//! `metadata.annotations["example.com/x"]`). Keys are matched longest first, so an unquoted
//! key with dots (`metadata.labels.app.kubernetes.io/name`) is found too. When the field is
//! absent (a missing probe), the position is that of the nearest parent that exists (the
//! container), and [`Located::exact`] is false. A mapping entry is placed at its key, a
//! sequence item at its first character; a value reached through an alias stops at the alias.

use std::sync::Arc;

use granit_parser::{Event, Parser, Span};

/// 1-based line and column in a file (columns count characters, as editors do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// What [`Locator::locate`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// Where the node is written.
    pub position: Position,
    /// Whether that node is the one the path names (false: its nearest existing parent).
    pub exact: bool,
}

/// The text of one document, and where it sits in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocText {
    /// The whole file (shared by its documents).
    pub(crate) file: Arc<str>,
    /// Byte range of the document in `file` (from its `---` line when it has one).
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Line in the file of the range's first line.
    pub(crate) first_line: usize,
}

impl DocText {
    /// A document that is the whole of `text`, whose first line is line `first_line` of its
    /// file.
    #[must_use]
    pub fn whole(text: &str, first_line: usize) -> DocText {
        DocText {
            file: Arc::from(text),
            start: 0,
            end: text.len(),
            first_line,
        }
    }

    /// The document's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.file.get(self.start..self.end).unwrap_or_default()
    }

    /// Line in the file where the text starts.
    #[must_use]
    pub fn first_line(&self) -> usize {
        self.first_line
    }

    /// The chart template a `helm template` document came from: its `# Source: <path>`
    /// comment, among the comments before the document's content.
    #[must_use]
    pub fn helm_source(&self) -> Option<&str> {
        for line in self.as_str().lines() {
            let line = line.trim();
            if line.is_empty() || line == "---" {
                continue;
            }
            let comment = line.strip_prefix('#')?;
            if let Some(source) = comment.trim_start().strip_prefix("Source:") {
                let source = source.trim();
                return (!source.is_empty()).then_some(source);
            }
        }
        None
    }
}

/// A document's nodes and their positions, read once and asked many times.
#[derive(Debug)]
pub struct Locator {
    root: Option<Entry>,
    /// Where the document starts, for paths into a document that could not be read.
    fallback: Position,
}

#[derive(Debug)]
struct Entry {
    at: Position,
    node: Node,
}

#[derive(Debug)]
enum Node {
    Leaf,
    Seq(Vec<Entry>),
    Map(Vec<(String, Entry)>),
}

impl Locator {
    /// Reads `text`. `fallback` is returned for every path when the text cannot be read as
    /// YAML (it was read once already, so this does not happen for a loaded document).
    #[must_use]
    pub fn new(text: &DocText, fallback: Position) -> Locator {
        let offset = text.first_line.saturating_sub(1);
        let root = Builder {
            parser: Parser::new_from_str(text.as_str()),
            line_offset: offset,
            depth: 0,
        }
        .document();
        Locator { root, fallback }
    }

    /// The position of `path`, or of its nearest existing parent.
    #[must_use]
    pub fn locate(&self, path: &str) -> Located {
        let Some(mut entry) = self.root.as_ref() else {
            return Located {
                position: self.fallback,
                exact: false,
            };
        };
        let mut rest = path;
        loop {
            if rest.is_empty() {
                return Located {
                    position: entry.at,
                    exact: true,
                };
            }
            let next = match &entry.node {
                Node::Map(entries) => step_map(entries, rest),
                Node::Seq(items) => step_seq(items, rest),
                Node::Leaf => None,
            };
            match next {
                Some((child, after)) => {
                    entry = child;
                    rest = after;
                }
                None => {
                    return Located {
                        position: entry.at,
                        exact: false,
                    };
                }
            }
        }
    }
}

/// Strips one separator: `.` before a key, nothing before `[`.
fn after_segment(rest: &str) -> Option<&str> {
    if rest.is_empty() || rest.starts_with('[') {
        Some(rest)
    } else {
        rest.strip_prefix('.')
    }
}

fn step_map<'e, 'p>(entries: &'e [(String, Entry)], path: &'p str) -> Option<(&'e Entry, &'p str)> {
    if let Some(quoted) = path.strip_prefix("[\"") {
        // `["key"]`: the key as a JSON string.
        let close = quoted_end(quoted)?;
        let key: String = serde_json::from_str(path.get(1..close + 3)?).ok()?;
        let rest = after_segment(path.get(close + 4..)?)?;
        return entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, e)| (e, rest));
    }
    let path = path.strip_prefix('.').unwrap_or(path);
    // The longest key the path starts with, followed by the end, `.` or `[`.
    entries
        .iter()
        .filter_map(|(key, entry)| {
            let rest = path.strip_prefix(key.as_str())?;
            let rest = after_segment(rest)?;
            Some((key.len(), entry, rest))
        })
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, entry, rest)| (entry, rest))
}

/// Byte offset in `s` (the text after `["`) of the closing `"` of a JSON string.
fn quoted_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return s.get(i + 1..)?.starts_with(']').then_some(i),
            _ => {}
        }
    }
    None
}

fn step_seq<'e, 'p>(items: &'e [Entry], path: &'p str) -> Option<(&'e Entry, &'p str)> {
    let inner = path.strip_prefix('[')?;
    let close = inner.find(']')?;
    let index: usize = inner.get(..close)?.parse().ok()?;
    let rest = after_segment(inner.get(close + 1..)?)?;
    items.get(index).map(|e| (e, rest))
}

/// Deepest nesting read; the loader's own limit (64 by default) is far below it.
const MAX_DEPTH: usize = 512;

struct Builder<'t> {
    parser: Parser<'t, granit_parser::StrInput<'t>>,
    line_offset: usize,
    depth: usize,
}

impl<'t> Builder<'t> {
    fn position(&self, span: &Span) -> Position {
        Position {
            line: span.start.line() + self.line_offset,
            column: span.start.col() + 1,
        }
    }

    fn next(&mut self) -> Option<(Event<'t>, Span)> {
        self.parser.next_event()?.ok()
    }

    /// The first document's root node.
    fn document(mut self) -> Option<Entry> {
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentStart(..) => {}
                Event::StreamEnd | Event::DocumentEnd => return None,
                other => return self.node(other, span),
            }
        }
    }

    /// The node that starts with `event`.
    fn node(&mut self, event: Event<'t>, span: Span) -> Option<Entry> {
        let at = self.position(&span);
        match event {
            Event::MappingStart(..) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                let mut entries = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let key = match &event {
                        Event::Scalar(text, ..) => Some(text.to_string()),
                        _ => None,
                    };
                    let key_at = self.position(&span);
                    // Keys that are collections or aliases are read and dropped.
                    let key_entry = self.node(event, span)?;
                    let (event, span) = self.next()?;
                    let mut value = self.node(event, span)?;
                    if let Some(key) = key {
                        drop(key_entry);
                        value.at = key_at;
                        entries.push((key, value));
                    }
                }
                self.depth -= 1;
                Some(Entry {
                    at,
                    node: Node::Map(entries),
                })
            }
            Event::SequenceStart(..) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span)?);
                }
                self.depth -= 1;
                Some(Entry {
                    at,
                    node: Node::Seq(items),
                })
            }
            Event::Scalar(..) | Event::Alias(..) | Event::UnresolvedAlias(..) => Some(Entry {
                at,
                node: Node::Leaf,
            }),
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(..)
            | Event::DocumentEnd
            | Event::MappingEnd
            | Event::SequenceEnd => None,
            // Anchor metadata (and comments, when a build turns them on) are not nodes: the
            // node is the next event.
            _ => {
                let (event, span) = self.next()?;
                self.node(event, span)
            }
        }
    }
}
