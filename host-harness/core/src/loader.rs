//! Manifest loader for `prodready check`.
//!
//! Reads rendered Kubernetes manifests (the output of `helm template`, `kustomize build`,
//! `kubectl get -o yaml|json`, or folders of YAML/JSON files) into one
//! [`serde_json::Value`] per Kubernetes object, remembering where each object came from.
//!
//! # What is read
//!
//! * [`load`] takes paths. A file named explicitly is read whatever its extension; a directory
//!   is walked recursively in sorted (byte-wise file name) order, taking the files whose names
//!   end in `.yaml`, `.yml` or `.json` (ASCII case-insensitive) and skipping every entry whose
//!   name starts with `.`. Symbolic links met during a walk are followed to files but never to
//!   directories (no cycles). `-` reads standard input.
//! * Every input is read through a bounded reader: at most [`Limits::max_file_bytes`] + 1 bytes
//!   are ever read, and one byte more than the limit is an error. Input must be UTF-8 (the error
//!   names the byte offset and line of the first bad byte); a leading UTF-8 BOM is skipped.
//!
//! # Documents
//!
//! YAML streams are split here, line by line, so that every document is parsed on its own and
//! its starting line is known: a line that is exactly `---`, or starts with `--- ` / `---\t`, at
//! column 0 starts a document (content after the marker, like `--- # comment` or `--- {a: 1}`,
//! belongs to that document); a line `...` (optionally followed by blanks and a comment) ends one.
//! Text before the first `---` (or after a `...`) is a document only if it has a line that is
//! not blank, not a comment and not a `%` directive; such a bare document's line is its first
//! such line, while an explicit document's line is that of its `---`.
//!
//! [`Document::index`] counts the documents of the YAML stream in their file, from 0: every
//! explicit (`---`) document counts, even an empty one, and a bare one counts when it has
//! content. Empty documents (blank or comment-only, or whose value is `null`) are then dropped
//! without a trace.
//!
//! Files ending in `.json` are one JSON document each (line: the first non-blank line, i.e. 1
//! for ordinary files). Any other document whose first non-blank character is `{` or `[` is
//! parsed as JSON first and, when that fails with a JSON syntax error, as YAML (YAML flow style
//! such as `{apiVersion: v1, kind: Pod}` also starts with `{`).
//!
//! # Values
//!
//! YAML is parsed by `serde-saphyr` with the options built in `yaml_options`:
//!
//! * duplicate mapping keys are an error (also two keys that differ in YAML but are the same
//!   string in JSON, like `1:` and `"1":`; JSON objects get the same check);
//! * nesting deeper than [`Limits::max_depth`] collections (the top-level mapping is depth 1)
//!   is an error, in YAML and JSON alike;
//! * aliases may replay at most 100,000 YAML events per document (`MAX_ALIAS_REPLAYED_EVENTS`),
//!   and the value built from one document may hold at most 4 × its size + 1 MiB of string
//!   bytes and its size + 64 Ki values, so alias bombs ("billion laughs", or one huge anchored
//!   string aliased many times) fail within milliseconds with an error that says "alias
//!   expansion limit", instead of eating memory; serde-saphyr's "more than 10 aliases per
//!   anchor" heuristic is turned off, as it rejects harmless documents;
//! * a document larger than [`Limits::max_document_bytes`] is an error before it is parsed; a
//!   `.json` file, and a `kind: List` document, is one document.
//!
//! Scalars are resolved the way Kubernetes' own YAML reader (sigs.k8s.io/yaml, YAML 1.1 via
//! go-yaml v2) does where that is safe, and as YAML 1.2 strings where it is not:
//!
//! * only `true`/`false` (any of `true`, `True`, `TRUE`, ...) are booleans: `yes`, `no`, `on`,
//!   `off`, `y`, `n` stay **strings** (`strict_booleans`), so a label value `yes` is `"yes"`;
//!   Kubernetes itself would read an unquoted `yes` as `true`;
//! * integers with a leading zero are octal, as in Kubernetes (`defaultMode: 0644` is 420;
//!   `legacy_octal_numbers`), and `08`/`09` become the float 8.0/9.0, as in go-yaml;
//! * integers too big for 64 bits become floats; `.nan`/`.inf` are rejected (JSON has no such
//!   numbers); `!!binary` values are decoded into strings; unknown tags are ignored.
//!
//! Mapping keys become strings: a scalar key is kept as the text written (`1: a` gives the key
//! `"1"`, `true: x` gives `"true"`, `~: x` gives `"~"`); a key that is itself a mapping or a
//! sequence is an error. YAML merge keys (`<<: *anchor`) are expanded.
//!
//! # Objects
//!
//! A document whose value is a mapping with non-empty string `apiVersion` and `kind` is a
//! Kubernetes object ([`Document`]); any other mapping is [`Skipped`]. A document that is a
//! scalar or a sequence is an error. A `kind: List` document (a missing or `null` `items` is an
//! empty list), or a document whose `kind` ends in `List` and whose `items` is a sequence, is
//! expanded into one [`Document`] per item ([`Document::item`]); every item must be a mapping
//! with `apiVersion` and `kind`. Lists are expanded one level only.
//!
//! [`Limits::max_documents`] bounds both the YAML/JSON documents read in one run (empty ones
//! included) and the objects produced (each List item and each [`Skipped`] counting one).
//!
//! Documents are parsed on up to [`std::thread::available_parallelism`] threads when the input
//! is large; results and errors are the same as a sequential run (the first error in input
//! order is returned).

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

pub mod positions;
pub mod stream;
pub use positions::{DocText, Located, Locator, Position};
use serde_json::{Map, Number, Value};

/// Alias replay budget per document: the most YAML events that aliases may replay.
/// Real manifests rarely use aliases at all; a "billion laughs" document hits this at once.
const MAX_ALIAS_REPLAYED_EVENTS: usize = 100_000;

/// Inputs at least this large (in bytes, summed) are parsed on several threads.
const PARALLEL_MIN_BYTES: usize = 512 * 1024;

/// Reason given in [`Skipped::reason`] for a mapping that is not a Kubernetes object.
pub const NOT_KUBERNETES: &str = "not a Kubernetes object (no apiVersion/kind)";

/// Resource limits for one [`load`] run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input (file or stdin) in bytes. Default: 64 MiB.
    pub max_file_bytes: u64,
    /// Largest single YAML/JSON document in bytes. Default: 8 MiB.
    pub max_document_bytes: usize,
    /// Deepest nesting of mappings/sequences; the top-level mapping is depth 1. Default: 64.
    pub max_depth: usize,
    /// Most documents read, and most objects produced, in one run. Default: 100,000.
    pub max_documents: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 64 * 1024 * 1024,
            max_document_bytes: 8 * 1024 * 1024,
            max_depth: 64,
            max_documents: 100_000,
        }
    }
}

/// Where manifests were read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A file, as named on the command line or found by walking a directory.
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Stdin => f.write_str("<stdin>"),
        }
    }
}

/// One Kubernetes object.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The file (or stdin) it was read from.
    pub source: Arc<Source>,
    /// 0-based index of its YAML/JSON document in that file.
    pub index: usize,
    /// 1-based line where that document starts (its `---` line, if it has one).
    pub line: usize,
    /// Its index in the `items` of a List document, if it came from one.
    pub item: Option<usize>,
    /// The object; always a JSON object with string `apiVersion` and `kind`.
    pub value: Value,
    /// The document's text, for the positions of its fields ([`Locator`]).
    pub text: DocText,
}

impl Document {
    /// The field path of this object's root in its document: `items[i]` for a List item.
    #[must_use]
    pub fn root_path(&self) -> String {
        self.item.map(|i| format!("items[{i}]")).unwrap_or_default()
    }

    /// Where the document starts (its `---` line, or its first line with content).
    #[must_use]
    pub fn start(&self) -> Position {
        Position {
            line: self.line,
            column: 1,
        }
    }
}

/// A document that was read but is not a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file (or stdin) it was read from.
    pub source: Arc<Source>,
    /// 0-based index of the document in that file.
    pub index: usize,
    /// 1-based line where the document starts.
    pub line: usize,
    /// Why it was skipped ([`NOT_KUBERNETES`]).
    pub reason: String,
}

/// Everything one run read, in input order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    /// The Kubernetes objects.
    pub documents: Vec<Document>,
    /// The documents that are not Kubernetes objects.
    pub skipped: Vec<Skipped>,
}

/// Why loading failed. Every message names the file, and the document (its index and the line
/// where it starts) when the error is about one document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A path given on the command line does not exist.
    #[error("{file}: no such file or directory")]
    NotFound {
        /// The missing path.
        file: Arc<Source>,
    },
    /// Reading a file, a directory or stdin failed.
    #[error("{file}: cannot read: {error}")]
    Io {
        /// What was being read.
        file: Arc<Source>,
        /// The underlying error.
        error: io::Error,
    },
    /// An input is larger than [`Limits::max_file_bytes`].
    #[error("{file}: larger than the limit of {limit} bytes")]
    FileTooLarge {
        /// The input.
        file: Arc<Source>,
        /// The limit in force.
        limit: u64,
    },
    /// An input is not UTF-8.
    #[error("{file}: not valid UTF-8 at byte offset {offset} (line {line})")]
    InvalidUtf8 {
        /// The input.
        file: Arc<Source>,
        /// Byte offset of the first invalid byte.
        offset: usize,
        /// 1-based line of that byte.
        line: usize,
    },
    /// More documents or objects than [`Limits::max_documents`].
    #[error(
        "{file}: document {index} (line {line}): more than {limit} documents in this run (limit)"
    )]
    TooManyDocuments {
        /// The input holding the document that crossed the limit.
        file: Arc<Source>,
        /// Its index.
        index: usize,
        /// Its line.
        line: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A document is larger than [`Limits::max_document_bytes`].
    #[error(
        "{file}: document {index} (line {line}): {size} bytes is larger than the limit of {limit} bytes per document"
    )]
    DocumentTooLarge {
        /// The input.
        file: Arc<Source>,
        /// The document's index.
        index: usize,
        /// The document's line.
        line: usize,
        /// Its size in bytes.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A document is not valid YAML/JSON, or breaks a parsing limit (duplicate key, depth,
    /// alias expansion). `message` gives the position in the file when it is known.
    #[error("{file}: document {index} (line {line}): {message}")]
    Parse {
        /// The input.
        file: Arc<Source>,
        /// The document's index.
        index: usize,
        /// The document's line.
        line: usize,
        /// What is wrong, with the file's line and column where known.
        message: String,
    },
    /// A document is a scalar or a sequence, not a mapping.
    #[error(
        "{file}: document {index} (line {line}): expected a mapping (a Kubernetes object), found {found}"
    )]
    NotAMapping {
        /// The input.
        file: Arc<Source>,
        /// The document's index.
        index: usize,
        /// The document's line.
        line: usize,
        /// What was found instead ("a string", "a sequence", ...).
        found: &'static str,
    },
    /// A `kind: List` document whose `items` is not a sequence.
    #[error(
        "{file}: document {index} (line {line}): kind {kind}: `items` is {found}, expected a sequence"
    )]
    InvalidList {
        /// The input.
        file: Arc<Source>,
        /// The document's index.
        index: usize,
        /// The document's line.
        line: usize,
        /// The list's kind.
        kind: String,
        /// What `items` is instead.
        found: &'static str,
    },
    /// An item of a List document is not a Kubernetes object.
    #[error("{file}: document {index} (line {line}): kind {kind} item {item}: {reason}")]
    InvalidListItem {
        /// The input.
        file: Arc<Source>,
        /// The List document's index.
        index: usize,
        /// The List document's line.
        line: usize,
        /// The list's kind.
        kind: String,
        /// 0-based index of the item.
        item: usize,
        /// What is wrong with it.
        reason: String,
    },
}

impl LoadError {
    /// The input the error is about.
    #[must_use]
    pub fn file(&self) -> &Source {
        match self {
            LoadError::NotFound { file }
            | LoadError::Io { file, .. }
            | LoadError::FileTooLarge { file, .. }
            | LoadError::InvalidUtf8 { file, .. }
            | LoadError::TooManyDocuments { file, .. }
            | LoadError::DocumentTooLarge { file, .. }
            | LoadError::Parse { file, .. }
            | LoadError::NotAMapping { file, .. }
            | LoadError::InvalidList { file, .. }
            | LoadError::InvalidListItem { file, .. } => file,
        }
    }
}

/// Loads every path in order: files, directories (walked recursively) and `-` for stdin.
///
/// # Errors
/// The first problem met, in input order: see [`LoadError`].
pub fn load(paths: &[PathBuf], limits: &Limits) -> Result<Loaded, LoadError> {
    let mut inputs = Vec::new();
    // A read error is reported after the inputs read before it, as a sequential run would.
    let read_error = read_paths(paths, limits, &mut inputs).err();
    process(&inputs, limits, read_error)
}

fn read_paths(
    paths: &[PathBuf],
    limits: &Limits,
    inputs: &mut Vec<Input>,
) -> Result<(), LoadError> {
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(read_input(
                Source::Stdin,
                io::stdin().lock(),
                limits,
                false,
                0,
            )?);
            continue;
        }
        let meta = fs::metadata(path).map_err(|error| file_error(path, error))?;
        if meta.is_dir() {
            for file in walk(path)? {
                inputs.push(read_file(&file, limits)?);
            }
        } else {
            inputs.push(read_file(path, limits)?);
        }
    }
    Ok(())
}

/// Loads manifests from text already in memory (a BOM at its start is skipped). The text is
/// taken as YAML (with the JSON sniffing described in the module docs) unless `source` is a
/// file whose name ends in `.json`.
///
/// # Errors
/// See [`LoadError`].
pub fn load_str(source: Source, text: &str, limits: &Limits) -> Result<Loaded, LoadError> {
    let file = Arc::new(source);
    if text.len() as u64 > limits.max_file_bytes {
        return Err(LoadError::FileTooLarge {
            file,
            limit: limits.max_file_bytes,
        });
    }
    let json = matches!(&*file, Source::File(path) if is_json_path(path));
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let input = Input {
        file,
        text: Arc::from(body),
        bom: 0,
        json,
    };
    process(std::slice::from_ref(&input), limits, None)
}

/// Loads manifests from a reader, reading at most [`Limits::max_file_bytes`] + 1 bytes: this is
/// how `-` (stdin) is read. Formats are chosen as in [`load_str`].
///
/// # Errors
/// [`LoadError::FileTooLarge`] when the reader has more than `max_file_bytes` bytes, and the
/// errors of [`load_str`].
pub fn load_reader(
    source: Source,
    reader: impl Read,
    limits: &Limits,
) -> Result<Loaded, LoadError> {
    let json = matches!(&source, Source::File(path) if is_json_path(path));
    let input = read_input(source, reader, limits, json, 0)?;
    process(std::slice::from_ref(&input), limits, None)
}

// ---------------------------------------------------------------------------------------------
// Reading

/// One input's text, UTF-8 checked.
struct Input {
    file: Arc<Source>,
    /// The whole input, kept by its documents ([`DocText`]).
    text: Arc<str>,
    /// Length of a leading BOM in `text` (skipped).
    bom: usize,
    /// Parse as one strict JSON document (`.json` files).
    json: bool,
}

/// Where an [`Input`] sits when it is one segment of a longer input ([`stream`]).
#[derive(Debug, Clone, Copy, Default)]
struct Place {
    /// Lines of the input before the segment.
    line_base: usize,
    /// Its document indexes continue the previous segment's.
    continues: bool,
    /// The true size of the segment's last document when the reader stopped keeping its
    /// text (it is over [`Limits::max_document_bytes`]): the size its error reports.
    oversize: Option<usize>,
}

impl Input {
    fn body(&self) -> &str {
        self.text.get(self.bom..).unwrap_or_default()
    }
}

fn file_error(path: &Path, error: io::Error) -> LoadError {
    let file = Arc::new(Source::File(path.to_path_buf()));
    if error.kind() == io::ErrorKind::NotFound {
        LoadError::NotFound { file }
    } else {
        LoadError::Io { file, error }
    }
}

fn read_file(path: &Path, limits: &Limits) -> Result<Input, LoadError> {
    let file = fs::File::open(path).map_err(|error| file_error(path, error))?;
    // The size is only a hint (special files report 0, files may grow): the read is bounded
    // either way.
    let size = file.metadata().map_or(0, |meta| meta.len());
    let source = Source::File(path.to_path_buf());
    if size > limits.max_file_bytes {
        return Err(LoadError::FileTooLarge {
            file: Arc::new(source),
            limit: limits.max_file_bytes,
        });
    }
    let hint = usize::try_from(size).unwrap_or(0);
    read_input(source, file, limits, is_json_path(path), hint)
}

/// Reads a whole input through `Read::take(max_file_bytes + 1)`, then checks UTF-8.
fn read_input(
    source: Source,
    reader: impl Read,
    limits: &Limits,
    json: bool,
    size_hint: usize,
) -> Result<Input, LoadError> {
    let file = Arc::new(source);
    let bytes = match read_bounded(reader, limits.max_file_bytes, size_hint) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return Err(LoadError::FileTooLarge {
                file,
                limit: limits.max_file_bytes,
            });
        }
        Err(error) => return Err(LoadError::Io { file, error }),
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let offset = error.utf8_error().valid_up_to();
            let valid = error
                .as_bytes()
                .get(..offset)
                .and_then(|head| std::str::from_utf8(head).ok())
                .unwrap_or_default();
            let line = line_of(valid, offset);
            return Err(LoadError::InvalidUtf8 { file, offset, line });
        }
    };
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    Ok(Input {
        file,
        text: Arc::from(text),
        bom,
        json,
    })
}

/// Reads at most `limit + 1` bytes; `Ok(None)` when there were more than `limit`.
fn read_bounded(reader: impl Read, limit: u64, size_hint: usize) -> io::Result<Option<Vec<u8>>> {
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut bytes = Vec::with_capacity(size_hint.min(cap).saturating_add(1));
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        Ok(None)
    } else {
        Ok(Some(bytes))
    }
}

fn is_json_path(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| ext.eq_ignore_ascii_case("json"))
}

fn is_manifest_name(name: &str) -> bool {
    let Some((_, ext)) = name.rsplit_once('.') else {
        return false;
    };
    ["yaml", "yml", "json"]
        .iter()
        .any(|known| ext.eq_ignore_ascii_case(known))
}

/// The manifest files under `root`, depth-first in sorted order (iterative: no recursion).
fn walk(root: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    let mut frames = vec![read_dir_sorted(root)?.into_iter()];
    while let Some(frame) = frames.last_mut() {
        match frame.next() {
            None => {
                frames.pop();
            }
            Some((path, true)) => {
                let entries = read_dir_sorted(&path)?;
                frames.push(entries.into_iter());
            }
            Some((path, false)) => files.push(path),
        }
    }
    Ok(files)
}

/// The visible subdirectories and manifest files of `dir`, sorted by name; `true` marks a
/// directory.
fn read_dir_sorted(dir: &Path) -> Result<Vec<(PathBuf, bool)>, LoadError> {
    let io_error = |error| LoadError::Io {
        file: Arc::new(Source::File(dir.to_path_buf())),
        error,
    };
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let name = entry.file_name();
        if name.as_encoded_bytes().first() == Some(&b'.') {
            continue;
        }
        let kind = entry.file_type().map_err(io_error)?;
        let path = entry.path();
        let is_dir = if kind.is_dir() {
            true
        } else if kind.is_file() {
            false
        } else if kind.is_symlink() && fs::metadata(&path).is_ok_and(|meta| meta.is_file()) {
            // Links are followed to files only: a link to a directory could make a cycle.
            false
        } else {
            // Sockets, FIFOs, devices, links to directories or to nothing.
            continue;
        };
        if is_dir || name.to_str().is_some_and(is_manifest_name) {
            entries.push((name, path, is_dir));
        }
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(entries
        .into_iter()
        .map(|(_, path, is_dir)| (path, is_dir))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Splitting into documents

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// YAML.
    Yaml,
    /// Strict JSON (a `.json` file).
    Json,
    /// Starts with `{` or `[`: JSON, or YAML when it is not valid JSON.
    Sniff,
}

/// One document to parse.
struct Unit<'a> {
    file: &'a Arc<Source>,
    /// The whole input, and where `text` starts in it.
    input_text: &'a Arc<str>,
    start: usize,
    text: &'a str,
    index: usize,
    /// Line reported for the document.
    line: usize,
    /// Line in the file of the first line of `text`.
    first_line: usize,
    format: Format,
}

impl Unit<'_> {
    fn parse_error(&self, message: String) -> LoadError {
        LoadError::Parse {
            file: Arc::clone(self.file),
            index: self.index,
            line: self.line,
            message,
        }
    }
}

/// The document being collected by [`split_input`].
#[derive(Clone, Copy)]
struct Chunk {
    start: usize,
    first_line: usize,
    /// Opened by a `---` line.
    explicit: bool,
    /// First line with content (for an explicit document: its `---` line, when the marker
    /// line has content).
    content_line: Option<usize>,
}

/// Splits one input into documents, appending them to `units`. `count` is the number of
/// documents read so far in the run.
#[cfg(test)]
fn split_input<'a>(
    input: &'a Input,
    limits: &Limits,
    count: &mut usize,
    units: &mut Vec<Unit<'a>>,
) -> Result<(), LoadError> {
    let mut next_index = 0;
    split_segment(
        input,
        Place::default(),
        limits,
        count,
        &mut next_index,
        units,
    )
}

/// [`split_input`] for a segment at `place`: `next_index` is the index of its first document
/// when it continues a previous segment, and is set to the index after its last one.
fn split_segment<'a>(
    input: &'a Input,
    place: Place,
    limits: &Limits,
    count: &mut usize,
    next_index: &mut usize,
    units: &mut Vec<Unit<'a>>,
) -> Result<(), LoadError> {
    let body = input.body();
    let mut emitter = Emitter {
        input,
        body,
        limits,
        count,
        units,
        index: if place.continues { *next_index } else { 0 },
        oversize: place.oversize,
    };
    let result = split_body(input, body, place.line_base, &mut emitter);
    *next_index = emitter.index;
    result
}

fn split_body(
    input: &Input,
    body: &str,
    line_base: usize,
    emitter: &mut Emitter<'_, '_>,
) -> Result<(), LoadError> {
    if input.json {
        let Some(first) = body.find(|c: char| !c.is_whitespace()) else {
            return Ok(());
        };
        let line = line_base + line_of(body, first);
        return emitter.emit(
            Chunk {
                start: 0,
                first_line: line_base + 1,
                explicit: false,
                content_line: Some(line),
            },
            body.len(),
            Format::Json,
        );
    }

    let mut chunk = Chunk {
        start: 0,
        first_line: line_base + 1,
        explicit: false,
        content_line: None,
    };
    let mut offset = 0;
    let mut line_no = line_base;
    for raw in body.split_inclusive('\n') {
        line_no += 1;
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(rest) = marker(line, "---") {
            emitter.emit(chunk, offset, Format::Yaml)?;
            chunk = Chunk {
                start: offset,
                first_line: line_no,
                explicit: true,
                content_line: (!is_blank(rest)).then_some(line_no),
            };
        } else if marker(line, "...").is_some() {
            let end = offset + raw.len();
            emitter.emit(chunk, end, Format::Yaml)?;
            chunk = Chunk {
                start: end,
                first_line: line_no + 1,
                explicit: false,
                content_line: None,
            };
        } else if chunk.content_line.is_none()
            && !is_blank(line)
            && (chunk.explicit || !line.starts_with('%'))
        {
            chunk.content_line = Some(line_no);
        }
        offset += raw.len();
    }
    emitter.emit(chunk, body.len(), Format::Yaml)
}

struct Emitter<'a, 'b> {
    input: &'a Input,
    body: &'a str,
    limits: &'b Limits,
    count: &'b mut usize,
    units: &'b mut Vec<Unit<'a>>,
    /// Index of the next document in this input.
    index: usize,
    /// [`Place::oversize`].
    oversize: Option<usize>,
}

impl Emitter<'_, '_> {
    fn emit(&mut self, chunk: Chunk, end: usize, format: Format) -> Result<(), LoadError> {
        let line = match (chunk.explicit, chunk.content_line) {
            (true, _) => chunk.first_line,
            (false, Some(line)) => line,
            // Blank, comments or directives before a `---`: not a document.
            (false, None) => return Ok(()),
        };
        let index = self.index;
        self.index += 1;
        *self.count += 1;
        if *self.count > self.limits.max_documents {
            return Err(LoadError::TooManyDocuments {
                file: Arc::clone(&self.input.file),
                index,
                line,
                limit: self.limits.max_documents,
            });
        }
        if chunk.content_line.is_none() {
            // `---` followed by nothing but blanks and comments: an empty document.
            return Ok(());
        }
        let text = self.body.get(chunk.start..end).unwrap_or_default();
        if text.len() > self.limits.max_document_bytes {
            // The reader keeps only the start of a document over the limit.
            let size = match self.oversize {
                Some(size) if end == self.body.len() => size,
                _ => text.len(),
            };
            return Err(LoadError::DocumentTooLarge {
                file: Arc::clone(&self.input.file),
                index,
                line,
                size,
                limit: self.limits.max_document_bytes,
            });
        }
        let format = if format == Format::Yaml
            && !chunk.explicit
            && text.trim_start().starts_with(['{', '['])
        {
            Format::Sniff
        } else {
            format
        };
        self.units.push(Unit {
            file: &self.input.file,
            input_text: &self.input.text,
            start: self.input.bom + chunk.start,
            text,
            index,
            line,
            first_line: chunk.first_line,
            format,
        });
        Ok(())
    }
}

/// `Some(rest)` when `line` is the document marker `mark` (`---` or `...`) at column 0,
/// alone or followed by a blank and more text.
fn marker<'l>(line: &'l str, mark: &str) -> Option<&'l str> {
    let rest = line.strip_prefix(mark)?;
    (rest.is_empty() || rest.starts_with([' ', '\t'])).then_some(rest)
}

/// Only blanks, or a comment.
fn is_blank(text: &str) -> bool {
    let text = text.trim_start_matches([' ', '\t']);
    text.is_empty() || text.starts_with('#')
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |head| head.matches('\n').count())
        + 1
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// What one document produced.
enum Out {
    Doc(Document),
    Skip(Skipped),
}

impl Out {
    fn position(&self) -> (&Arc<Source>, usize, usize) {
        match self {
            Out::Doc(doc) => (&doc.source, doc.index, doc.line),
            Out::Skip(skip) => (&skip.source, skip.index, skip.line),
        }
    }
}

/// Splits and parses `inputs`, then returns `deferred` (an error met after them) if nothing
/// failed before it.
fn process(
    inputs: &[Input],
    limits: &Limits,
    deferred: Option<LoadError>,
) -> Result<Loaded, LoadError> {
    let inputs: Vec<(&Input, Place)> = inputs.iter().map(|i| (i, Place::default())).collect();
    process_counted(&inputs, limits, deferred, &mut Counts::default())
}

/// What a run has read so far, carried from one batch of inputs to the next ([`stream`]).
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    /// YAML/JSON documents read (for [`Limits::max_documents`]).
    documents: usize,
    /// Objects and skipped documents produced (the same limit).
    produced: usize,
    /// Index of the next document in the input being read.
    next_index: usize,
}

/// [`process`], counting on from `counts`.
fn process_counted(
    inputs: &[(&Input, Place)],
    limits: &Limits,
    deferred: Option<LoadError>,
    counts: &mut Counts,
) -> Result<Loaded, LoadError> {
    let mut units = Vec::new();
    let mut failure = deferred;
    for &(input, place) in inputs {
        if let Err(error) = split_segment(
            input,
            place,
            limits,
            &mut counts.documents,
            &mut counts.next_index,
            &mut units,
        ) {
            // Documents before the failing one are still parsed: their errors come first.
            failure = Some(error);
            break;
        }
    }

    let mut loaded = Loaded::default();
    for (outs, error) in parse_all(&units, limits) {
        for out in outs {
            counts.produced += 1;
            if counts.produced > limits.max_documents {
                let (file, index, line) = out.position();
                return Err(LoadError::TooManyDocuments {
                    file: Arc::clone(file),
                    index,
                    line,
                    limit: limits.max_documents,
                });
            }
            match out {
                Out::Doc(doc) => loaded.documents.push(doc),
                Out::Skip(skip) => loaded.skipped.push(skip),
            }
        }
        if let Some(error) = error {
            return Err(error);
        }
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(loaded),
    }
}

/// Parses every unit, in batches on several threads when the input is large. The batches
/// come back in order; each stops at its first error.
fn parse_all(units: &[Unit<'_>], limits: &Limits) -> Vec<(Vec<Out>, Option<LoadError>)> {
    let total: usize = units.iter().map(|unit| unit.text.len()).sum();
    let threads = if total < PARALLEL_MIN_BYTES {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(units.len())
    };
    // Index of the first unit known to have failed: later units need not be parsed.
    let first_error = AtomicUsize::new(usize::MAX);
    if threads <= 1 {
        return vec![parse_batch(units, 0, limits, &first_error)];
    }

    // Contiguous batches of about equal size in bytes.
    let target = total.div_ceil(threads);
    // (units, index of the first one)
    let mut batches: Vec<(&[Unit<'_>], usize)> = Vec::with_capacity(threads);
    let mut rest = units;
    let mut start = 0;
    while batches.len() + 1 < threads && !rest.is_empty() {
        let mut bytes = 0;
        let mut len = 0;
        for unit in rest {
            len += 1;
            bytes += unit.text.len();
            if bytes >= target {
                break;
            }
        }
        let (batch, tail) = rest.split_at_checked(len).unwrap_or((rest, &[]));
        batches.push((batch, start));
        start += batch.len();
        rest = tail;
    }
    batches.push((rest, start));

    std::thread::scope(|scope| {
        let mut batches = batches.into_iter();
        let (first, _) = batches.next().unwrap_or_default();
        let first_error = &first_error;
        let spawned: Vec<_> = batches
            .map(|(batch, start)| {
                let handle = std::thread::Builder::new()
                    .name("prodready-loader".to_owned())
                    .stack_size(8 * 1024 * 1024)
                    .spawn_scoped(scope, move || {
                        parse_batch(batch, start, limits, first_error)
                    });
                (batch, start, handle)
            })
            .collect();
        let mut results = Vec::with_capacity(spawned.len() + 1);
        results.push(parse_batch(first, 0, limits, first_error));
        for (batch, start, handle) in spawned {
            results.push(match handle {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No thread to be had: parse the batch here.
                Err(_) => parse_batch(batch, start, limits, first_error),
            });
        }
        results
    })
}

/// Parses `units` (the first being unit number `start`) until one fails, or until a unit
/// before the next one is known to have failed (`first_error`): what follows an error is
/// thrown away anyway.
fn parse_batch(
    units: &[Unit<'_>],
    start: usize,
    limits: &Limits,
    first_error: &AtomicUsize,
) -> (Vec<Out>, Option<LoadError>) {
    let mut outs = Vec::with_capacity(units.len());
    for (number, unit) in (start..).zip(units) {
        if first_error.load(Ordering::Relaxed) < number {
            break;
        }
        if let Err(error) = parse_unit(unit, limits, &mut outs) {
            first_error.fetch_min(number, Ordering::Relaxed);
            return (outs, Some(error));
        }
    }
    (outs, None)
}

fn parse_unit(unit: &Unit<'_>, limits: &Limits, outs: &mut Vec<Out>) -> Result<(), LoadError> {
    let value = match unit.format {
        Format::Yaml => parse_yaml(unit, limits)?,
        Format::Json => parse_json(unit, limits).map_err(|error| json_error(unit, &error))?,
        Format::Sniff => match parse_json(unit, limits) {
            Ok(value) => value,
            Err(error)
                if matches!(
                    error.classify(),
                    serde_json::error::Category::Syntax | serde_json::error::Category::Eof
                ) =>
            {
                parse_yaml(unit, limits)?
            }
            Err(error) => return Err(json_error(unit, &error)),
        },
    };
    classify(unit, value, outs)
}

fn parse_json(unit: &Unit<'_>, limits: &Limits) -> Result<Value, serde_json::Error> {
    let mut meter = Meter::new(limits, unit.text.len());
    let mut deserializer = serde_json::Deserializer::from_str(unit.text);
    let value = ValueSeed { meter: &mut meter }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A `serde_json` error, with its line counted from the start of the file.
fn json_error(unit: &Unit<'_>, error: &serde_json::Error) -> LoadError {
    let text = error.to_string();
    if error.line() == 0 {
        return unit.parse_error(text);
    }
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text);
    let line = error.line() + unit.first_line - 1;
    unit.parse_error(format!(
        "{message} at line {line}, column {}",
        error.column()
    ))
}

fn parse_yaml(unit: &Unit<'_>, limits: &Limits) -> Result<Value, LoadError> {
    let mut meter = Meter::new(limits, unit.text.len());
    serde_saphyr::with_deserializer_from_str_with_options(
        unit.text,
        yaml_options(limits, unit.text.len()),
        |deserializer| ValueSeed { meter: &mut meter }.deserialize(deserializer),
    )
    .map_err(|error| {
        let mut render = serde_saphyr::RenderOptions::new(&serde_saphyr::UserMessageFormatter);
        render.snippets = serde_saphyr::SnippetMode::Off;
        render.line_offset = u64::try_from(unit.first_line.saturating_sub(1)).unwrap_or(0);
        unit.parse_error(error.render_with_options(render))
    })
}

/// Parses a YAML file that is not a manifest (a config file, a baseline) into one value, with
/// the limits of [`Limits::default`]: the same scalar rules, duplicate-key, depth and alias
/// checks as manifests get.
///
/// # Errors
/// The parser's message, with line and column.
pub fn parse_yaml_value(text: &str) -> Result<Value, String> {
    let limits = Limits::default();
    if text.len() > limits.max_document_bytes {
        return Err(format!(
            "{} bytes is larger than the limit of {} bytes",
            text.len(),
            limits.max_document_bytes
        ));
    }
    let mut meter = Meter::new(&limits, text.len());
    serde_saphyr::with_deserializer_from_str_with_options(
        text,
        yaml_options(&limits, text.len()),
        |deserializer| ValueSeed { meter: &mut meter }.deserialize(deserializer),
    )
    .map_err(|error| {
        let mut render = serde_saphyr::RenderOptions::new(&serde_saphyr::UserMessageFormatter);
        render.snippets = serde_saphyr::SnippetMode::Off;
        error.render_with_options(render)
    })
}

/// serde-saphyr options for one document of `len` bytes (see the module docs).
fn yaml_options(limits: &Limits, len: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    // Each document is parsed on its own.
    budget.max_documents = 1;
    budget.max_depth = limits.max_depth;
    // Size is limited by max_document_bytes; the count limits only have to stop aliases.
    // Without aliases there are fewer events and nodes than bytes (plus a few).
    budget.max_events = budget.max_events.max(len.saturating_add(64));
    budget.max_nodes = budget.max_nodes.max(len.saturating_add(64));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(len);
    // The "more than 10 aliases per anchor" heuristic would reject legitimate documents;
    // expansion is bounded by `alias_limits` below and by `Meter` instead.
    budget.enforce_alias_anchor_ratio = false;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options.alias_limits = serde_saphyr::alias_limits! {
        max_total_replayed_events: MAX_ALIAS_REPLAYED_EVENTS,
    };
    // YAML 1.2 booleans only: `yes`, `no`, `on`, `off` stay strings.
    options.strict_booleans = true;
    // `0644` is octal (420), as Kubernetes reads it.
    options.legacy_octal_numbers = true;
    // A `~` or `null` mapping key becomes the string "~" or "null" (values stay null).
    options.null_as_string = true;
    options.with_snippet = false;
    options
}

/// Turns one parsed document into objects.
fn classify(unit: &Unit<'_>, value: Value, outs: &mut Vec<Out>) -> Result<(), LoadError> {
    let mut map = match value {
        Value::Null => return Ok(()),
        Value::Object(map) => map,
        other => {
            return Err(LoadError::NotAMapping {
                file: Arc::clone(unit.file),
                index: unit.index,
                line: unit.line,
                found: describe(&other),
            });
        }
    };
    let document = |item, value| {
        Out::Doc(Document {
            source: Arc::clone(unit.file),
            index: unit.index,
            line: unit.line,
            item,
            value,
            text: DocText {
                file: Arc::clone(unit.input_text),
                start: unit.start,
                end: unit.start + unit.text.len(),
                first_line: unit.first_line,
            },
        })
    };
    let Some(kind) = object_kind(&map) else {
        outs.push(Out::Skip(Skipped {
            source: Arc::clone(unit.file),
            index: unit.index,
            line: unit.line,
            reason: NOT_KUBERNETES.to_owned(),
        }));
        return Ok(());
    };
    let is_list = kind == "List"
        || (kind.ends_with("List") && matches!(map.get("items"), Some(Value::Array(_))));
    if !is_list {
        outs.push(document(None, Value::Object(map)));
        return Ok(());
    }
    let kind = kind.to_owned();
    let items = match map.remove("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(LoadError::InvalidList {
                file: Arc::clone(unit.file),
                index: unit.index,
                line: unit.line,
                kind,
                found: describe(&other),
            });
        }
    };
    outs.reserve(items.len());
    for (item, value) in items.into_iter().enumerate() {
        let reason = match &value {
            Value::Object(object) if object_kind(object).is_some() => {
                outs.push(document(Some(item), value));
                continue;
            }
            Value::Object(_) => NOT_KUBERNETES.to_owned(),
            other => format!("expected a mapping, found {}", describe(other)),
        };
        return Err(LoadError::InvalidListItem {
            file: Arc::clone(unit.file),
            index: unit.index,
            line: unit.line,
            kind,
            item,
            reason,
        });
    }
    Ok(())
}

/// The `kind` of a mapping with non-empty string `apiVersion` and `kind`.
fn object_kind(map: &Map<String, Value>) -> Option<&str> {
    let api_version = map.get("apiVersion")?.as_str()?;
    let kind = map.get("kind")?.as_str()?;
    (!api_version.is_empty() && !kind.is_empty()).then_some(kind)
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

// ---------------------------------------------------------------------------------------------
// Building values

/// Limits on the value built from one document: depth, and how much it may hold (aliases can
/// make a value much larger than its text).
struct Meter {
    depth: usize,
    max_depth: usize,
    bytes_left: usize,
    nodes_left: usize,
}

impl Meter {
    fn new(limits: &Limits, len: usize) -> Self {
        Self {
            depth: 0,
            max_depth: limits.max_depth,
            bytes_left: len.saturating_mul(4).saturating_add(1 << 20),
            nodes_left: len.saturating_add(1 << 16),
        }
    }

    fn node<E: de::Error>(&mut self) -> Result<(), E> {
        match self.nodes_left.checked_sub(1) {
            Some(left) => {
                self.nodes_left = left;
                Ok(())
            }
            None => Err(E::custom(
                "document expands to too many values (alias expansion limit)",
            )),
        }
    }

    fn bytes<E: de::Error>(&mut self, len: usize) -> Result<(), E> {
        match self.bytes_left.checked_sub(len) {
            Some(left) => {
                self.bytes_left = left;
                Ok(())
            }
            None => Err(E::custom(
                "document expands to too much text (alias expansion limit)",
            )),
        }
    }

    fn string<E: de::Error>(&mut self, len: usize) -> Result<(), E> {
        self.node()?;
        self.bytes(len)
    }

    fn enter<E: de::Error>(&mut self) -> Result<(), E> {
        self.node()?;
        if self.depth >= self.max_depth {
            return Err(E::custom(format_args!(
                "nesting is deeper than the limit of {} levels",
                self.max_depth
            )));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}

/// Deserializes any self-describing input into a [`Value`], within a [`Meter`], rejecting
/// duplicate keys.
struct ValueSeed<'m> {
    meter: &'m mut Meter,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.meter.node()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.meter.node()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.meter.node()?;
        Ok(Value::Number(v.into()))
    }

    // Too big for 64 bits: a float, as go-yaml does (losing precision is the point).
    #[allow(clippy::cast_precision_loss)]
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        match (i64::try_from(v), u64::try_from(v)) {
            (Ok(v), _) => self.visit_i64(v),
            (_, Ok(v)) => self.visit_u64(v),
            _ => self.visit_f64(v as f64),
        }
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => self.visit_f64(v as f64),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.meter.node()?;
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("NaN and infinite numbers are not supported"))
    }

    fn visit_char<E: de::Error>(self, v: char) -> Result<Value, E> {
        self.visit_string(v.to_string())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.meter.string(v.len())?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.meter.string(v.len())?;
        Ok(Value::String(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        match std::str::from_utf8(v) {
            Ok(text) => self.visit_str(text),
            Err(_) => Err(E::custom("binary value is not UTF-8 text")),
        }
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        match String::from_utf8(v) {
            Ok(text) => self.visit_string(text),
            Err(_) => Err(E::custom("binary value is not UTF-8 text")),
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.meter.node()?;
        Ok(Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.meter.node()?;
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_newtype_struct<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.meter.enter()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(ValueSeed {
            meter: &mut *self.meter,
        })? {
            items.push(item);
        }
        self.meter.leave();
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        self.meter.enter()?;
        let mut map = Map::new();
        while let Some(key) = access.next_key_seed(KeySeed {
            meter: &mut *self.meter,
        })? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate mapping key {key:?}"
                )));
            }
            let value = access.next_value_seed(ValueSeed {
                meter: &mut *self.meter,
            })?;
            map.insert(key, value);
        }
        self.meter.leave();
        Ok(Value::Object(map))
    }
}

/// Deserializes a mapping key as a string: scalars give their text.
struct KeySeed<'m> {
    meter: &'m mut Meter,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar mapping key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.meter.bytes(v.len())?;
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        self.meter.bytes(v.len())?;
        Ok(v)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<String, E> {
        match std::str::from_utf8(v) {
            Ok(text) => self.visit_str(text),
            Err(_) => Err(E::custom("binary mapping key is not UTF-8 text")),
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        self.visit_string(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        self.visit_string(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        self.visit_string(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        self.visit_string(v.to_string())
    }

    fn visit_char<E: de::Error>(self, v: char) -> Result<String, E> {
        self.visit_string(v.to_string())
    }
}

#[cfg(test)]
mod tests;
