//! `check` in bounded batches ([`prodready_host::check::stream`]) finds what the whole-set
//! path finds: the same findings, errors and evaluations in the same order, with the same
//! positions, when objects that refer to each other (a PDB and its Deployment, a Service and
//! its pods) land in different batches, from several files and from stdin; a document over
//! the per-document limit is refused with the whole set's error.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use prodready_host::check::{self, Mode, stream};
use prodready_host::findings::{self, Findings};
use prodready_host::loader::{self, Document};
use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("prodready-stream-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn corpus(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gen-corpus"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// A corpus cut into three files at document boundaries, plus the bookstore example: PDBs
/// and HPAs in other files than their Deployments.
fn multi_file_set(dir: &Path) -> Vec<PathBuf> {
    let text = corpus(&[
        "--objects",
        "240",
        "--pdbs",
        "30",
        "--hpas",
        "30",
        "--seed",
        "7",
    ]);
    let docs: Vec<&str> = text.split("\n---\n").collect();
    let third = docs.len() / 3;
    let mut paths = Vec::new();
    for (i, part) in [&docs[..third], &docs[third..2 * third], &docs[2 * third..]]
        .iter()
        .enumerate()
    {
        let path = dir.join(format!("part-{i}.yaml"));
        std::fs::write(&path, part.join("\n---\n")).unwrap();
        paths.push(path);
    }
    // The PDBs come last in the corpus: put them first, away from their Deployments.
    paths.reverse();
    paths.push(common::repo_root().join("examples/bookstore"));
    paths
}

/// Findings as comparable values: everything a report shows, and the document index.
fn shown(f: &Findings) -> Vec<Value> {
    let mut out: Vec<Value> = f
        .findings
        .iter()
        .map(|x| {
            let mut v = serde_json::to_value(x).unwrap();
            v["document"] = x.document.into();
            v
        })
        .collect();
    out.extend(f.errors.iter().map(|e| {
        let mut v = serde_json::to_value(e).unwrap();
        v["document"] = e.document.into();
        v
    }));
    out.extend(
        f.evaluated
            .iter()
            .map(|(d, r)| serde_json::json!({"evaluated": d, "rule": r})),
    );
    out
}

/// Equal, or a failure that shows the first entry that differs (not two lists of thousands).
fn assert_same(got: &[Value], want: &[Value], what: &str) {
    if let Some(i) = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)) {
        panic!(
            "{what}: {} entries streamed, {} in the whole set; the first to differ, #{i}:\n  streamed:  {}\n  whole set: {}",
            got.len(),
            want.len(),
            got.get(i).map_or("none".to_string(), Value::to_string),
            want.get(i).map_or("none".to_string(), Value::to_string),
        );
    }
}

fn whole_set(paths: &[PathBuf], shard: Option<check::Shard>) -> (Vec<Document>, Findings) {
    let loaded = loader::load(paths, &loader::Limits::default()).unwrap();
    let modules = common::modules();
    let checked = check::check_shard(
        common::host(),
        modules,
        &BTreeMap::new(),
        &loaded.documents,
        Mode::Manifest,
        check::DEFAULT_NAMESPACE,
        shard,
        &|_| {},
    );
    let metas: Vec<_> = modules.iter().map(|m| m.metadata()).collect();
    let found = findings::collect(
        &loaded.documents,
        &checked.reports,
        &prodready_host::config::default_severities(&metas),
    );
    (loaded.documents, found)
}

fn streamed(
    paths: &[PathBuf],
    shard: Option<check::Shard>,
    batch_bytes: usize,
    batch_objects: usize,
) -> stream::Streamed {
    let modules = common::modules();
    let metas: Vec<_> = modules.iter().map(|m| m.metadata()).collect();
    let options = stream::Options {
        mode: Mode::Manifest,
        namespace: check::DEFAULT_NAMESPACE.to_string(),
        shard,
        limits: loader::Limits::default(),
        batch_bytes,
        batch_objects,
    };
    let mut total = 0;
    stream::check_stream(
        common::host(),
        modules,
        &BTreeMap::new(),
        paths,
        &options,
        &prodready_host::config::default_severities(&metas),
        stream::Hooks {
            started: &mut |n| total = n,
            progress: &|_| {},
            exempt: &|_, _| {},
        },
    )
    .unwrap()
}

#[test]
fn batches_find_what_the_whole_set_finds_across_files() {
    let dir = scratch("multi");
    let paths = multi_file_set(&dir);
    let (docs, whole) = whole_set(&paths, None);
    let cross = whole
        .findings
        .iter()
        .filter(|f| f.rule == "maintenance" || f.rule == "scaling")
        .count();
    assert!(cross > 0, "the set exercises no cross-object check");
    for (bytes, objects) in [(1, 1), (300, 7), (4096, 64), (8 << 20, 4096)] {
        let got = streamed(&paths, None, bytes, objects);
        assert_eq!(got.objects.len(), docs.len());
        for (o, d) in got.objects.iter().zip(&docs) {
            assert_eq!(
                (&*o.source, o.index, o.line, o.item),
                (&*d.source, d.index, d.line, d.item)
            );
            assert_eq!(o.helm_source.as_deref(), d.text.helm_source());
        }
        assert_same(
            &shown(&got.findings),
            &shown(&whole),
            &format!("batches of {bytes} bytes / {objects} objects"),
        );
    }
}

#[test]
fn a_shard_in_batches_is_the_whole_set_shard() {
    let dir = scratch("shard");
    let paths = multi_file_set(&dir);
    let shard = Some(check::Shard { index: 2, count: 3 });
    let (_, whole) = whole_set(&paths, shard);
    let got = streamed(&paths, shard, 500, 5);
    assert_same(&shown(&got.findings), &shown(&whole), "shard 2/3");
}

fn prodready(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_prodready"))
        .args(args)
        .current_dir(dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        use std::io::Write as _;
        let mut pipe = child.stdin.take().unwrap();
        let text = text.to_string();
        std::thread::spawn(move || {
            let _ = pipe.write_all(text.as_bytes());
        });
    }
    child.wait_with_output().unwrap()
}

#[test]
fn stdin_longer_than_a_batch_reports_what_the_file_reports() {
    let dir = scratch("stdin");
    let text = corpus(&[
        "--objects",
        "200",
        "--pdbs",
        "20",
        "--hpas",
        "20",
        "--seed",
        "3",
    ]);
    std::fs::write(dir.join("set.yaml"), &text).unwrap();
    let base = ["check", "--no-config", "--fail-on", "never", "-o", "json"];
    let file = prodready(&dir, &[&base[..], &["set.yaml"]].concat(), None);
    assert_eq!(
        file.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&file.stderr)
    );
    let small = ["--batch-bytes", "2000", "--batch-objects", "9", "-"];
    let piped = prodready(&dir, &[&base[..], &small[..]].concat(), Some(&text));
    assert_eq!(
        piped.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    let file = String::from_utf8(file.stdout).unwrap();
    let piped = String::from_utf8(piped.stdout).unwrap();
    assert!(text.len() > 10 * 2000);
    assert_eq!(piped, file.replace("\"set.yaml\"", "\"<stdin>\""));
}

#[test]
fn a_document_over_the_limit_is_refused_with_the_flag_named() {
    let dir = scratch("limit");
    let text = corpus(&["--objects", "60", "--seed", "5"]);
    let big = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: \"{}\"\n",
        "x".repeat(50_000)
    );
    let docs: Vec<&str> = text.split("\n---\n").collect();
    let mut parts: Vec<&str> = docs[..30].to_vec();
    parts.push(&big);
    parts.extend(&docs[30..]);
    let text = parts.join("\n---\n");
    let expected = loader::load_str(
        loader::Source::Stdin,
        &text,
        &loader::Limits {
            max_document_bytes: 40_000,
            ..loader::Limits::default()
        },
    )
    .unwrap_err()
    .to_string();
    let args = [
        "check",
        "--no-config",
        "--max-document-bytes",
        "40000",
        "--batch-bytes",
        "3000",
        "-",
    ];
    let out = prodready(&dir, &args, Some(&text));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{expected} (raise it with --max-document-bytes)")),
        "{stderr}\nexpected: {expected}"
    );
    assert!(expected.contains("document 30 ("), "{expected}");
    let raised = prodready(
        &dir,
        &[
            "check",
            "--no-config",
            "--fail-on",
            "never",
            "--batch-bytes",
            "3000",
            "-",
        ],
        Some(&text),
    );
    assert_eq!(
        raised.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&raised.stderr)
    );
}
