//! Reading manifests in bounded batches, for a `check` whose memory does not grow with its
//! input.
//!
//! [`Stream`] reads its paths in the order [`super::load`] does and hands out [`Batch`]es of
//! documents of about [`Stream::new`]'s `batch_bytes` bytes of text each. An input is read
//! line by line and cut into segments only where a document ends (before a `---` line, after
//! a `...` line), so every document is split, parsed and numbered exactly as [`super::load`]
//! would (same index, line, errors). A document over [`super::Limits::max_document_bytes`]
//! is not kept: its first bytes are, to report it, and the rest is only counted.
//! [`super::Limits::max_file_bytes`] bounds what one input may hold in all; memory is
//! bounded by the batch size and the largest document either way.
//!
//! Standard input is copied to an unlinked temporary file as it is read ([`spool`]), so that
//! [`Texts`] can read a document's text again later, as it does from files.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;

use super::{
    Counts, Input, Limits, LoadError, Loaded, Place, Source, file_error, is_blank, is_json_path,
    line_of, marker, process_counted, walk,
};

/// Where a document's text is in its input: a byte range from the input's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

/// Documents read together: objects, skipped documents, and where each object's document is.
#[derive(Debug, Default)]
pub struct Batch {
    pub loaded: Loaded,
    /// For every `loaded.documents[i]`, its document's text in its input.
    pub spans: Vec<Span>,
}

/// The paths of one run, read batch by batch.
pub struct Stream {
    paths: VecDeque<PathBuf>,
    files: VecDeque<PathBuf>,
    current: Option<Segments>,
    limits: Limits,
    batch_bytes: usize,
    counts: Counts,
    stdin: Option<File>,
    done: bool,
}

impl Stream {
    /// A stream over `paths` (files, directories, `-`), batches of about `batch_bytes` bytes.
    #[must_use]
    pub fn new(paths: &[PathBuf], limits: Limits, batch_bytes: usize) -> Stream {
        Stream {
            paths: paths.iter().cloned().collect(),
            files: VecDeque::new(),
            current: None,
            limits,
            batch_bytes: batch_bytes.max(1),
            counts: Counts::default(),
            stdin: None,
            done: false,
        }
    }

    /// The next batch, `None` at the end.
    ///
    /// # Errors
    /// The first problem met, in input order, as [`super::load`] reports it; the stream
    /// ends there.
    pub fn next_batch(&mut self) -> Result<Option<Batch>, LoadError> {
        if self.done {
            return Ok(None);
        }
        let mut segments: Vec<Segment> = Vec::new();
        let mut bytes = 0;
        let mut failure = None;
        while bytes < self.batch_bytes {
            if self.current.is_none() {
                match self.open_next() {
                    Ok(Some(s)) => self.current = Some(s),
                    Ok(None) => break,
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            let Some(current) = self.current.as_mut() else {
                break;
            };
            match current.next(self.batch_bytes - bytes, &self.limits) {
                Ok(Some(segment)) => {
                    bytes += segment.input.text.len().max(1);
                    segments.push(segment);
                }
                Ok(None) => self.current = None,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_some() {
            self.done = true;
        }
        if segments.is_empty() && failure.is_none() {
            self.done = true;
            return Ok(None);
        }
        let inputs: Vec<(&Input, Place)> = segments.iter().map(|s| (&s.input, s.place)).collect();
        let loaded = process_counted(&inputs, &self.limits, failure, &mut self.counts)
            .inspect_err(|_| self.done = true)?;
        let mut spans = Vec::with_capacity(loaded.documents.len());
        let mut at = 0;
        for doc in &loaded.documents {
            while segments
                .get(at)
                .is_some_and(|s| !Arc::ptr_eq(&s.input.text, &doc.text.file))
            {
                at += 1;
            }
            let base = segments.get(at).map_or(0, |s| s.text_base);
            spans.push(Span {
                start: base + doc.text.start as u64,
                end: base + doc.text.end as u64,
            });
        }
        Ok(Some(Batch { loaded, spans }))
    }

    /// What reads documents' text again once the stream is read (standard input's copy).
    #[must_use]
    pub fn texts(&mut self) -> Texts {
        Texts {
            stdin: self.stdin.take(),
            open: None,
        }
    }

    fn open_next(&mut self) -> Result<Option<Segments>, LoadError> {
        loop {
            if let Some(path) = self.files.pop_front() {
                return self.open_file(path).map(Some);
            }
            let Some(path) = self.paths.pop_front() else {
                return Ok(None);
            };
            if path.as_os_str() == "-" {
                let spool = spool().map_err(|error| LoadError::Io {
                    file: Arc::new(Source::Stdin),
                    error,
                })?;
                let copy = spool.try_clone().map_err(|error| LoadError::Io {
                    file: Arc::new(Source::Stdin),
                    error,
                })?;
                if self.stdin.is_none() {
                    self.stdin = Some(spool);
                }
                let tee = Tee {
                    inner: io::stdin(),
                    copy,
                };
                return Ok(Some(Segments::new(Source::Stdin, Box::new(tee), false)));
            }
            let meta = fs::metadata(&path).map_err(|error| file_error(&path, error))?;
            if meta.is_dir() {
                self.files.extend(walk(&path)?);
            } else {
                return self.open_file(path).map(Some);
            }
        }
    }

    fn open_file(&self, path: PathBuf) -> Result<Segments, LoadError> {
        let file = File::open(&path).map_err(|error| file_error(&path, error))?;
        let size = file.metadata().map_or(0, |meta| meta.len());
        if size > self.limits.max_file_bytes {
            return Err(LoadError::FileTooLarge {
                file: Arc::new(Source::File(path)),
                limit: self.limits.max_file_bytes,
            });
        }
        let json = is_json_path(&path);
        Ok(Segments::new(Source::File(path), Box::new(file), json))
    }
}

/// One segment of an input, ready for [`process_counted`].
struct Segment {
    input: Input,
    place: Place,
    /// Offset in the input of `input.text`'s first byte.
    text_base: u64,
}

const BOM: &[u8] = "\u{feff}".as_bytes();

/// One input, cut into segments at document boundaries.
struct Segments {
    file: Arc<Source>,
    reader: BufReader<Box<dyn Read>>,
    json: bool,
    /// Bytes read from the input.
    consumed: u64,
    /// Lines of the segments handed out.
    lines: usize,
    /// A `---` line read that starts the next segment.
    pending: Option<Vec<u8>>,
    started: bool,
    eof: bool,
}

impl Segments {
    fn new(source: Source, reader: Box<dyn Read>, json: bool) -> Segments {
        Segments {
            file: Arc::new(source),
            reader: BufReader::with_capacity(256 << 10, reader),
            json,
            consumed: 0,
            lines: 0,
            pending: None,
            started: false,
            eof: false,
        }
    }

    /// The next segment: whole documents, at least `target` bytes unless the input ends.
    fn next(&mut self, target: usize, limits: &Limits) -> Result<Option<Segment>, LoadError> {
        let continues = self.started;
        let line_base = self.lines;
        let mut text_base = self.consumed;
        let mut buf = Vec::new();
        let mut lines = 0;
        // The open document: its bytes, whether it started with `---`, whether a kept line
        // has content, and how much of it was not kept.
        let mut chunk = 0_usize;
        let mut explicit = false;
        let mut content = false;
        let mut dropped = false;
        if let Some(line) = self.pending.take() {
            text_base -= line.len() as u64;
            chunk = line.len();
            explicit = true;
            content = !is_blank(trim_eol(&line).get(3..).unwrap_or_default());
            buf = line;
            lines = 1;
        } else if self.eof {
            return Ok(None);
        }
        loop {
            let mut line = Vec::new();
            let read = self.reader.read_until(b'\n', &mut line);
            let n = read.map_err(|error| LoadError::Io {
                file: Arc::clone(&self.file),
                error,
            })?;
            if n == 0 {
                self.eof = true;
                break;
            }
            let line_start = self.consumed;
            self.consumed += n as u64;
            if self.consumed > limits.max_file_bytes {
                return Err(LoadError::FileTooLarge {
                    file: Arc::clone(&self.file),
                    limit: limits.max_file_bytes,
                });
            }
            let first = !self.started && line_start == 0;
            if first && line.starts_with(BOM) {
                line.drain(..BOM.len());
                text_base += BOM.len() as u64;
            }
            let utf8_base = if first && text_base > 0 {
                BOM.len() as u64
            } else {
                line_start
            };
            let Ok(text) = std::str::from_utf8(&line) else {
                return Err(self.invalid_utf8(&line, utf8_base, line_base + lines));
            };
            let text = text.strip_suffix('\n').unwrap_or(text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            if !self.json && marker(text, "---").is_some() {
                if dropped || buf.len() >= target {
                    self.pending = Some(line);
                    break;
                }
                chunk = 0;
                explicit = true;
                content = false;
                let rest = text.get(3..).unwrap_or_default();
                if !is_blank(rest) {
                    content = true;
                }
                chunk += line.len();
                buf.extend_from_slice(&line);
                lines += 1;
                continue;
            }
            let end = !self.json && marker(text, "...").is_some();
            let has_content = !end && !is_blank(text) && (explicit || !text.starts_with('%'));
            let over = chunk > limits.max_document_bytes;
            chunk += line.len();
            lines += 1;
            // Past the limit only the line that crosses it is kept, and one line with content
            // when none is yet, so the document is still found and reported.
            if !over || (has_content && !content) {
                buf.extend_from_slice(&line);
                content |= has_content;
            } else {
                dropped = true;
            }
            if end {
                if dropped || buf.len() >= target {
                    break;
                }
                chunk = 0;
                explicit = false;
                content = false;
            }
        }
        self.started = true;
        self.lines = line_base + lines;
        if buf.is_empty() && self.pending.is_none() {
            return Ok(None);
        }
        let text = match String::from_utf8(buf) {
            Ok(text) => text,
            // Each line was checked as it was read.
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok(Some(Segment {
            input: Input {
                file: Arc::clone(&self.file),
                text: Arc::from(text),
                bom: 0,
                json: self.json,
            },
            place: Place {
                line_base,
                continues,
                oversize: dropped.then_some(chunk),
            },
            text_base,
        }))
    }

    fn invalid_utf8(&self, line: &[u8], line_start: u64, line_no: usize) -> LoadError {
        let valid = match std::str::from_utf8(line) {
            Ok(_) => line.len(),
            Err(e) => e.valid_up_to(),
        };
        let head = std::str::from_utf8(line.get(..valid).unwrap_or_default()).unwrap_or_default();
        LoadError::InvalidUtf8 {
            file: Arc::clone(&self.file),
            offset: usize::try_from(line_start).unwrap_or(usize::MAX) + valid,
            line: line_no + line_of(head, head.len()),
        }
    }
}

fn trim_eol(line: &[u8]) -> &str {
    let text = std::str::from_utf8(line).unwrap_or_default();
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.strip_suffix('\r').unwrap_or(text)
}

/// Copies what it reads to a file.
struct Tee<R> {
    inner: R,
    copy: File,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(buf.get(..n).unwrap_or_default())?;
        Ok(n)
    }
}

/// A temporary file for this run alone, read and written, removed from its directory at once
/// where the system allows it (it lives until closed).
///
/// # Errors
/// When the temporary directory cannot take a new file.
pub fn spool() -> io::Result<File> {
    let dir = std::env::temp_dir();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    for n in 0..64 {
        let path = dir.join(format!(
            ".prodready-{}-{stamp}-{n}.spool",
            std::process::id()
        ));
        match fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => {
                // Unix: the file lives on, nameless, until closed. Elsewhere it stays behind.
                let _ = fs::remove_file(&path);
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free name for a temporary file",
    ))
}

/// Reads documents' text again, by [`Span`], from their files or standard input's copy.
pub struct Texts {
    stdin: Option<File>,
    open: Option<(PathBuf, File)>,
}

impl Texts {
    /// The text of `span` in `source`.
    ///
    /// # Errors
    /// When the file cannot be read again (it was removed, or shrank, since it was read).
    pub fn read(&mut self, source: &Source, span: Span) -> io::Result<String> {
        let file = match source {
            Source::Stdin => self
                .stdin
                .as_mut()
                .ok_or_else(|| io::Error::other("standard input was not kept"))?,
            Source::File(path) => {
                if self.open.as_ref().is_none_or(|(p, _)| p != path) {
                    self.open = Some((path.clone(), File::open(path)?));
                }
                match self.open.as_mut() {
                    Some((_, file)) => file,
                    None => return Err(io::Error::other("no file")),
                }
            }
        };
        let len = usize::try_from(span.end.saturating_sub(span.start)).unwrap_or(0);
        let mut bytes = vec![0; len];
        file.seek(SeekFrom::Start(span.start))?;
        file.read_exact(&mut bytes)?;
        String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::{Document, load};

    fn scratch(name: &str, text: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("prodready-stream-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        fs::write(&path, text).unwrap();
        path
    }

    /// Every document the stream reads, with its text read again by span.
    fn streamed(
        path: &Path,
        limits: Limits,
        batch: usize,
    ) -> Result<Vec<(Document, String)>, String> {
        let mut stream = Stream::new(&[path.to_path_buf()], limits, batch);
        let mut docs = Vec::new();
        loop {
            match stream.next_batch() {
                Ok(Some(b)) => docs.extend(b.loaded.documents.into_iter().zip(b.spans)),
                Ok(None) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
        let mut texts = stream.texts();
        Ok(docs
            .into_iter()
            .map(|(d, span)| {
                let text = texts.read(&d.source, span).unwrap();
                (d, text)
            })
            .collect())
    }

    use std::path::Path;

    fn same_as_load(name: &str, text: &str, limits: Limits) {
        let path = scratch(name, text);
        let whole = load(std::slice::from_ref(&path), &limits).map_err(|e| e.to_string());
        for batch in [1, 7, 64, 1 << 20] {
            let got = streamed(&path, limits, batch);
            match (&whole, got) {
                (Ok(whole), Ok(got)) => {
                    assert_eq!(whole.documents.len(), got.len(), "{name} batch {batch}");
                    for (w, (g, g_text)) in whole.documents.iter().zip(&got) {
                        assert_eq!(
                            (&w.source, w.index, w.line, w.item, &w.value),
                            (&g.source, g.index, g.line, g.item, &g.value),
                            "{name} batch {batch}"
                        );
                        assert_eq!(w.text.as_str(), g.text.as_str(), "{name} batch {batch}");
                        assert_eq!(w.text.as_str(), g_text, "{name} batch {batch}");
                        assert_eq!(w.text.first_line, g.text.first_line, "{name} batch {batch}");
                    }
                }
                (Err(w), Err(g)) => assert_eq!(w, &g, "{name} batch {batch}"),
                (w, g) => panic!("{name} batch {batch}: {w:?} / {g:?}"),
            }
        }
    }

    const TWO: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";

    #[test]
    fn batches_split_number_and_place_documents_as_a_whole_load_does() {
        let limits = Limits::default();
        same_as_load(
            "plain.yaml",
            &format!("{TWO}---\n{TWO}--- # c\n{TWO}"),
            limits,
        );
        same_as_load(
            "bom.yaml",
            &format!("\u{feff}# head\n%YAML 1.2\n---\n{TWO}...\n# gap\n...\n{TWO}---\n---\n{TWO}"),
            limits,
        );
        same_as_load(
            "list.yaml",
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n---\n{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}\n",
            limits,
        );
        same_as_load(
            "one.json",
            "\n\n{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}\n",
            limits,
        );
        same_as_load(
            "crlf.yaml",
            &format!("{}\r\n---\r\n{}", TWO.replace('\n', "\r\n"), TWO),
            limits,
        );
        same_as_load(
            "bad.yaml",
            &format!("{TWO}---\n{TWO}---\nkind: [\n---\n{TWO}"),
            limits,
        );
        same_as_load("scalar.yaml", &format!("{TWO}---\njust text\n"), limits);
        let mut bad = format!("{TWO}---\n{TWO}").into_bytes();
        bad.extend_from_slice(b"---\nx: \xff\n");
        let path = scratch("utf8.yaml", "");
        fs::write(&path, &bad).unwrap();
        let whole = load(std::slice::from_ref(&path), &limits).map_err(|e| e.to_string());
        assert_eq!(whole.unwrap_err(), streamed(&path, limits, 8).unwrap_err());
    }

    #[test]
    fn a_document_over_the_limit_is_reported_whole_though_not_kept() {
        let limits = Limits {
            max_document_bytes: 200,
            ..Limits::default()
        };
        let big = format!(
            "{TWO}data:\n{}",
            "  k: vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\n".repeat(40)
        );
        same_as_load(
            "big.yaml",
            &format!("{TWO}---\n{TWO}---\n{big}---\n{TWO}"),
            limits,
        );
        same_as_load("big-last.yaml", &format!("{TWO}---\n{big}"), limits);
        same_as_load(
            "big-ended.yaml",
            &format!("{TWO}...\n{big}...\n{TWO}"),
            limits,
        );
        same_as_load(
            "comments.yaml",
            &format!(
                "{TWO}---\n{}{TWO}",
                "# a comment line, long enough to matter\n".repeat(20)
            ),
            limits,
        );
        same_as_load(
            "big.json",
            &format!(
                "{{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"x\": \"{}\"}}",
                "y".repeat(500)
            ),
            limits,
        );
    }

    #[test]
    fn the_input_limit_still_holds_for_the_whole_input() {
        let limits = Limits {
            max_file_bytes: 100,
            ..Limits::default()
        };
        same_as_load("long.yaml", &format!("{TWO}---\n{TWO}---\n{TWO}"), limits);
    }
}
