//! The loader's unit tests: formats, limits, errors, walking.

use super::*;
use std::time::{Duration, Instant};

fn yaml(text: &str) -> Result<Loaded, LoadError> {
    load_str(
        Source::File(PathBuf::from("m.yaml")),
        text,
        &Limits::default(),
    )
}

fn lines(loaded: &Loaded) -> Vec<(usize, usize, Option<usize>)> {
    loaded
        .documents
        .iter()
        .map(|doc| (doc.index, doc.line, doc.item))
        .collect()
}

fn kinds(loaded: &Loaded) -> Vec<&str> {
    loaded
        .documents
        .iter()
        .map(|doc| doc.value["kind"].as_str().unwrap())
        .collect()
}

/// A unique, empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "prodready-loader-{tag}-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, rel: &str, text: &[u8]) -> PathBuf {
        let path = self.0.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn multi_document_lines() {
    let text = "\
# leading comment

---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
--- # trailing comment on the marker
apiVersion: v1
kind: Service
---
# a document with only a comment
---
apiVersion: apps/v1
kind: Deployment
---
";
    let loaded = yaml(text).unwrap();
    assert_eq!(
        lines(&loaded),
        vec![(0, 3, None), (1, 7, None), (3, 12, None)]
    );
    assert_eq!(kinds(&loaded), vec!["ConfigMap", "Service", "Deployment"]);
    assert_eq!(loaded.documents[0].value["metadata"]["name"], "a");
    assert!(loaded.skipped.is_empty());
    assert_eq!(*loaded.documents[0].source, Source::File("m.yaml".into()));
}

#[test]
fn leading_document_without_marker() {
    let text = "\n# comment\napiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\n";
    let loaded = yaml(text).unwrap();
    assert_eq!(lines(&loaded), vec![(0, 3, None), (1, 5, None)]);
    assert_eq!(kinds(&loaded), vec!["A", "B"]);
}

#[test]
fn markers_with_content_end_markers_and_crlf() {
    let text = "--- {apiVersion: v1, kind: A}\n---\t# tab\r\napiVersion: v1\r\nkind: B\r\n...\r\n# after the end\r\n%YAML 1.2\r\n---\r\napiVersion: v1\r\nkind: C\r\n...\r\napiVersion: v1\r\nkind: D\r\n";
    let loaded = yaml(text).unwrap();
    assert_eq!(kinds(&loaded), vec!["A", "B", "C", "D"]);
    assert_eq!(
        lines(&loaded),
        vec![(0, 1, None), (1, 2, None), (2, 8, None), (3, 12, None)]
    );
    // `---` not at column 0, or glued to text, is not a marker.
    let loaded = yaml("apiVersion: v1\nkind: A\ndata:\n  x: |\n    ---\n    ---x\n").unwrap();
    assert_eq!(loaded.documents[0].value["data"]["x"], "---\n---x\n");
}

#[test]
fn list_expansion() {
    let text = "\
apiVersion: v1
kind: ConfigMap
---
apiVersion: v1
kind: List
metadata: {}
items:
- apiVersion: v1
  kind: Service
- apiVersion: apps/v1
  kind: Deployment
---
apiVersion: apps/v1
kind: DeploymentList
items:
- {apiVersion: apps/v1, kind: Deployment}
---
apiVersion: v1
kind: List
---
apiVersion: example.com/v1
kind: AllowList
spec: {items: [1]}
";
    let loaded = yaml(text).unwrap();
    assert_eq!(
        kinds(&loaded),
        vec![
            "ConfigMap",
            "Service",
            "Deployment",
            "Deployment",
            "AllowList"
        ]
    );
    assert_eq!(
        lines(&loaded),
        vec![
            (0, 1, None),
            (1, 3, Some(0)),
            (1, 3, Some(1)),
            (2, 12, Some(0)),
            (4, 20, None)
        ]
    );

    let err = yaml("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: A\n- foo: bar\n")
        .unwrap_err();
    assert!(
        matches!(err, LoadError::InvalidListItem { item: 1, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "m.yaml: document 0 (line 1): kind List item 1: not a Kubernetes object (no apiVersion/kind)"
    );
    let err = yaml("---\napiVersion: v1\nkind: List\nitems: [42]\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("item 0: expected a mapping, found a number"),
        "{err}"
    );
    let err = yaml("apiVersion: v1\nkind: List\nitems: nope\n").unwrap_err();
    assert!(matches!(err, LoadError::InvalidList { .. }), "{err:?}");
}

#[test]
fn json_documents() {
    let text = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [\n    {\"apiVersion\": \"v1\", \"kind\": \"Pod\"},\n    {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"spec\": {\"ports\": [{\"port\": 80}]}}\n  ]\n}\n";
    let file = Source::File("dir/out.json".into());
    let loaded = load_str(file.clone(), text, &Limits::default()).unwrap();
    assert_eq!(kinds(&loaded), vec!["Pod", "Service"]);
    assert_eq!(lines(&loaded), vec![(0, 1, Some(0)), (0, 1, Some(1))]);
    assert_eq!(loaded.documents[1].value["spec"]["ports"][0]["port"], 80);

    // Sniffed JSON on stdin.
    let loaded = load_str(Source::Stdin, text, &Limits::default()).unwrap();
    assert_eq!(kinds(&loaded), vec!["Pod", "Service"]);
    // Flow-style YAML that starts with `{` still loads.
    let loaded = load_str(
        Source::Stdin,
        "{apiVersion: v1, kind: Pod}\n",
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(kinds(&loaded), vec!["Pod"]);

    // A .json file is strict JSON; errors carry the file's line.
    let err = load_str(
        file.clone(),
        "{\"apiVersion\": \"v1\",\n \"kind\": Pod}",
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, LoadError::Parse { .. }));
    assert!(
        err.to_string()
            .starts_with("dir/out.json: document 0 (line 1): "),
        "{err}"
    );
    assert!(err.to_string().contains("at line 2, column"), "{err}");
    let err = load_str(
        file.clone(),
        "{\"apiVersion\": \"v1\", \"kind\": \"A\", \"kind\": \"B\"}",
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("duplicate mapping key \"kind\""),
        "{err}"
    );
    let err = load_str(file.clone(), "[1, 2]", &Limits::default()).unwrap_err();
    assert!(matches!(
        err,
        LoadError::NotAMapping {
            found: "a sequence",
            ..
        }
    ));
    // Empty and null JSON files hold no objects.
    assert_eq!(
        load_str(file.clone(), " \n", &Limits::default()).unwrap(),
        Loaded::default()
    );
    assert_eq!(
        load_str(file, "null", &Limits::default()).unwrap(),
        Loaded::default()
    );
}

#[test]
fn non_kubernetes_documents_are_skipped() {
    let text = "foo: bar\n---\napiVersion: v1\n---\napiVersion: v1\nkind: \"\"\n---\napiVersion: 1\nkind: A\n---\napiVersion: v1\nkind: A\n---\n~\n";
    let loaded = yaml(text).unwrap();
    assert_eq!(lines(&loaded), vec![(4, 10, None)]);
    let skipped: Vec<_> = loaded
        .skipped
        .iter()
        .map(|skip| (skip.index, skip.line, skip.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        vec![
            (0, 1, NOT_KUBERNETES),
            (1, 2, NOT_KUBERNETES),
            (2, 4, NOT_KUBERNETES),
            (3, 7, NOT_KUBERNETES)
        ]
    );
}

#[test]
fn scalar_and_sequence_documents_are_errors() {
    let err = yaml("apiVersion: v1\nkind: A\n---\n\njust a string\n").unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::NotAMapping {
                index: 1,
                line: 3,
                found: "a string",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "m.yaml: document 1 (line 3): expected a mapping (a Kubernetes object), found a string"
    );
    let err = yaml("# c\n- a\n- b\n").unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::NotAMapping {
                index: 0,
                line: 2,
                found: "a sequence",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn syntax_errors_name_the_file_line() {
    let err =
        yaml("apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\nspec: [1, 2\n").unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::Parse {
                index: 1,
                line: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("m.yaml: document 1 (line 3): "),
        "{err}"
    );
    assert!(err.to_string().contains("at line 6"), "{err}");
}

#[test]
fn duplicate_keys_are_rejected() {
    let err = yaml("---\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n  name: b\n").unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::Parse {
                index: 0,
                line: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("duplicate mapping key"), "{err}");
    assert!(err.to_string().contains("line 6"), "{err}");
    // Different YAML keys that are the same JSON key.
    let err = yaml("apiVersion: v1\nkind: A\ndata:\n  1: a\n  \"1\": b\n").unwrap_err();
    assert!(
        err.to_string().contains("duplicate mapping key \"1\""),
        "{err}"
    );
    // A merge key's values may be overridden: that is not a duplicate.
    let loaded =
        yaml("apiVersion: v1\nkind: A\nbase: &b {x: 1, y: 2}\nmerged:\n  <<: *b\n  y: 3\n")
            .unwrap();
    assert_eq!(
        loaded.documents[0].value["merged"],
        serde_json::json!({"x": 1, "y": 3})
    );
}

#[test]
fn scalars_follow_kubernetes_where_safe() {
    let loaded = yaml(
            "apiVersion: v1\nkind: A\nlabels: {a: yes, b: no, c: on, d: off, e: true, f: False}\nmode: 0644\nquoted: \"0644\"\nport: 08\nbig: 123456789012345678901234567890\nkeys: {1: a, true: b, ~: c, null: d}\nnothing: ~\ndate: 2024-01-01\n",
        )
        .unwrap();
    let value = &loaded.documents[0].value;
    assert_eq!(
        value["labels"],
        serde_json::json!({"a": "yes", "b": "no", "c": "on", "d": "off", "e": true, "f": false})
    );
    assert_eq!(value["mode"], 420);
    assert_eq!(value["quoted"], "0644");
    assert_eq!(value["port"], 8.0);
    assert!(value["big"].is_f64());
    assert_eq!(
        value["keys"],
        serde_json::json!({"1": "a", "true": "b", "~": "c", "null": "d"})
    );
    assert!(value["nothing"].is_null());
    assert_eq!(value["date"], "2024-01-01");
    let err = yaml("apiVersion: v1\nkind: A\n? [1, 2]\n: x\n").unwrap_err();
    assert!(matches!(err, LoadError::Parse { .. }), "{err:?}");
    let err = yaml("apiVersion: v1\nkind: A\nx: .nan\n").unwrap_err();
    assert!(matches!(err, LoadError::Parse { .. }), "{err:?}");
}

#[test]
fn alias_bomb_is_rejected_quickly() {
    let bomb = "\
apiVersion: v1
kind: ConfigMap
a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
";
    let start = Instant::now();
    let err = yaml(bomb).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(
        matches!(
            err,
            LoadError::Parse {
                index: 0,
                line: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("alias"), "{err}");

    // One big string aliased many times: few events, lots of memory.
    let mut text = format!(
        "apiVersion: v1\nkind: A\nbig: &s \"{}\"\nlist:\n",
        "x".repeat(1 << 20)
    );
    for _ in 0..5_000 {
        text.push_str("- *s\n");
    }
    let start = Instant::now();
    let err = yaml(&text).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(err.to_string().contains("alias expansion limit"), "{err}");

    // Ordinary aliases still work, also many of one anchor.
    let text = format!(
        "apiVersion: v1\nkind: A\nenv: &env [{{name: A, value: b}}]\nother: *env\nmany: [{}]\n",
        "*env,".repeat(500)
    );
    let loaded = yaml(&text).unwrap();
    assert_eq!(loaded.documents[0].value["other"][0]["name"], "A");
    assert_eq!(loaded.documents[0].value["many"][499][0]["value"], "b");
}

#[test]
fn depth_bomb_is_rejected() {
    for open in ["[", "{a: "] {
        let close = if open == "[" { "]" } else { "}" };
        let text = format!(
            "apiVersion: v1\nkind: A\nx: {}1{}\n",
            open.repeat(100_000),
            close.repeat(100_000)
        );
        let err = yaml(&text).unwrap_err();
        assert!(matches!(err, LoadError::Parse { .. }), "{err:?}");
    }
    let json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = load_str(Source::File("d.json".into()), &json, &Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::Parse { .. }), "{err:?}");
    let json = format!("{}1{}", "{\"a\":".repeat(100), "}".repeat(100));
    let err = load_str(Source::File("d.json".into()), &json, &Limits::default()).unwrap_err();
    assert!(
        err.to_string().contains("deeper than the limit of 64"),
        "{err}"
    );

    // Exactly max_depth is fine.
    let limits = Limits {
        max_depth: 4,
        ..Limits::default()
    };
    assert!(
        load_str(
            Source::Stdin,
            "apiVersion: v1\nkind: A\na: {b: {c: [1]}}\n",
            &limits
        )
        .is_ok()
    );
    assert!(
        load_str(
            Source::Stdin,
            "apiVersion: v1\nkind: A\na: {b: {c: [[1]]}}\n",
            &limits
        )
        .is_err()
    );
    let json = "{\"apiVersion\": \"v1\", \"kind\": \"A\", \"a\": {\"b\": {\"c\": [1]}}}";
    assert!(load_str(Source::Stdin, json, &limits).is_ok());
    let json = "{\"apiVersion\": \"v1\", \"kind\": \"A\", \"a\": {\"b\": {\"c\": [[1]]}}}";
    assert!(load_str(Source::Stdin, json, &limits).is_err());
}

#[test]
fn invalid_utf8_and_bom() {
    let err = load_reader(
        Source::Stdin,
        &b"apiVersion: v1\nkind: \xff\n"[..],
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::InvalidUtf8 {
                offset: 21,
                line: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "<stdin>: not valid UTF-8 at byte offset 21 (line 2)"
    );

    let dir = TempDir::new("utf8");
    let path = dir.write("bad.yaml", b"a: \xc3\x28\n");
    let err = load(std::slice::from_ref(&path), &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::InvalidUtf8 {
                offset: 3,
                line: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().starts_with(&path.display().to_string()));

    let loaded = load_reader(
        Source::Stdin,
        &b"\xef\xbb\xbfapiVersion: v1\nkind: A\n"[..],
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(lines(&loaded), vec![(0, 1, None)]);
    let loaded = load_str(
        Source::Stdin,
        "\u{feff}{\"apiVersion\": \"v1\", \"kind\": \"A\"}",
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(kinds(&loaded), vec!["A"]);
}

#[test]
fn oversize_inputs_are_rejected() {
    let limits = Limits {
        max_file_bytes: 100,
        max_document_bytes: 40,
        ..Limits::default()
    };
    let err = load_str(Source::Stdin, &"#".repeat(101), &limits).unwrap_err();
    assert!(
        matches!(err, LoadError::FileTooLarge { limit: 100, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "<stdin>: larger than the limit of 100 bytes"
    );

    let text = "apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\nx: 0123456789012345678\n";
    let err = load_str(Source::Stdin, text, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::DocumentTooLarge {
                index: 1,
                line: 3,
                size: 50,
                limit: 40,
                ..
            }
        ),
        "{err:?}"
    );

    let dir = TempDir::new("big");
    let path = dir.write("big.yaml", &[b'#'; 101]);
    let err = load(&[path], &limits).unwrap_err();
    assert!(matches!(err, LoadError::FileTooLarge { .. }), "{err:?}");
}

#[test]
fn too_many_documents() {
    let limits = Limits {
        max_documents: 3,
        ..Limits::default()
    };
    let doc = "---\napiVersion: v1\nkind: A\n";
    assert_eq!(
        load_str(Source::Stdin, &doc.repeat(3), &limits)
            .unwrap()
            .documents
            .len(),
        3
    );
    let err = load_str(Source::Stdin, &doc.repeat(4), &limits).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::TooManyDocuments {
                index: 3,
                line: 10,
                ..
            }
        ),
        "{err:?}"
    );
    // Empty documents count as documents read.
    let err = load_str(Source::Stdin, &"---\n".repeat(4), &limits).unwrap_err();
    assert!(
        matches!(err, LoadError::TooManyDocuments { index: 3, .. }),
        "{err:?}"
    );
    // List items count as objects.
    let list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: A}\n- {apiVersion: v1, kind: A}\n- {apiVersion: v1, kind: A}\n- {apiVersion: v1, kind: A}\n";
    let err = load_str(Source::Stdin, list, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::TooManyDocuments {
                index: 0,
                line: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn directory_walk_order_and_paths() {
    let dir = TempDir::new("walk");
    let doc = |kind: &str| format!("apiVersion: v1\nkind: {kind}\n").into_bytes();
    dir.write("b.yaml", &doc("B"));
    dir.write("a/z.yml", &doc("AZ"));
    dir.write("a/c.json", b"{\"apiVersion\": \"v1\", \"kind\": \"AC\"}");
    dir.write("a/sub/x.YAML", &doc("ASX"));
    dir.write("a/n.yaml", &doc("AN"));
    dir.write(".hidden/h.yaml", &doc("HIDDEN"));
    dir.write(".h.yaml", &doc("HIDDEN"));
    dir.write("a/.h.yaml", &doc("HIDDEN"));
    let notes = dir.write("notes.txt", &doc("TXT"));
    dir.write("c.yamlx", &doc("NO"));
    dir.write("0.json", b"{\"apiVersion\": \"v1\", \"kind\": \"ZERO\"}");

    let loaded = load(std::slice::from_ref(&dir.0), &Limits::default()).unwrap();
    assert_eq!(kinds(&loaded), vec!["ZERO", "AC", "AN", "ASX", "AZ", "B"]);
    assert_eq!(
        *loaded.documents[2].source,
        Source::File(dir.0.join("a").join("n.yaml"))
    );

    // A file named explicitly is read whatever its extension; order follows the arguments.
    let loaded = load(&[notes, dir.0.join("b.yaml")], &Limits::default()).unwrap();
    assert_eq!(kinds(&loaded), vec!["TXT", "B"]);

    let missing = dir.0.join("missing.yaml");
    let err = load(&[dir.0.join("b.yaml"), missing.clone()], &Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::NotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("{}: no such file or directory", missing.display())
    );

    // An error in an earlier file wins over a read error in a later one.
    let bad = dir.write("bad.yaml", b"- not a mapping\n");
    let err = load(&[bad, missing], &Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::NotAMapping { .. }), "{err:?}");
}

#[test]
fn stdin_reading_is_bounded() {
    // An endless reader: reading must stop at the limit.
    let start = Instant::now();
    let err = load_reader(Source::Stdin, io::repeat(b'#'), &Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::FileTooLarge { .. }), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(10));

    assert_eq!(
        read_bounded(&b"12345"[..], 5, 0).unwrap(),
        Some(b"12345".to_vec())
    );
    assert_eq!(read_bounded(&b"123456"[..], 5, 0).unwrap(), None);
    assert_eq!(read_bounded(io::repeat(0), 5, 100).unwrap(), None);
    assert_eq!(read_bounded(io::empty(), 0, 0).unwrap(), Some(Vec::new()));

    let limits = Limits {
        max_file_bytes: 24,
        ..Limits::default()
    };
    let text = b"apiVersion: v1\nkind: A\n";
    assert_eq!(text.len(), 23);
    assert!(load_reader(Source::Stdin, &text[..], &limits).is_ok());
    let mut longer = text.to_vec();
    longer.extend_from_slice(b"##");
    let err = load_reader(Source::Stdin, &longer[..], &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<stdin>: larger than the limit of 24 bytes"
    );
}

/// A realistic Deployment of about 3 KB.
fn deployment(i: usize) -> String {
    format!(
        r#"---
# Source: app/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: service-{i}
  namespace: production
  labels:
    app.kubernetes.io/name: service-{i}
    app.kubernetes.io/instance: release-{i}
    app.kubernetes.io/version: "1.4.{i}"
    app.kubernetes.io/managed-by: Helm
    helm.sh/chart: app-0.3.1
  annotations:
    deployment.kubernetes.io/revision: "7"
    prometheus.io/scrape: "true"
    prometheus.io/port: "9090"
spec:
  replicas: 3
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app.kubernetes.io/name: service-{i}
      app.kubernetes.io/instance: release-{i}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: service-{i}
        app.kubernetes.io/instance: release-{i}
      annotations:
        checksum/config: 2f6d1c0a9e8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d
    spec:
      serviceAccountName: service-{i}
      terminationGracePeriodSeconds: 45
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        fsGroup: 10001
      containers:
        - name: app
          image: "registry.example.com/team/service-{i}:1.4.{i}"
          imagePullPolicy: IfNotPresent
          args: ["--port=8080", "--metrics-port=9090", "--log-level=info"]
          ports:
            - {{name: http, containerPort: 8080, protocol: TCP}}
            - {{name: metrics, containerPort: 9090, protocol: TCP}}
          env:
            - name: POD_NAME
              valueFrom:
                fieldRef: {{fieldPath: metadata.name}}
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef: {{name: service-{i}-db, key: url}}
            - {{name: LOG_FORMAT, value: json}}
            - {{name: FEATURE_FLAGS, value: "a,b,c"}}
          resources:
            requests: {{cpu: 250m, memory: 256Mi}}
            limits: {{cpu: "1", memory: 512Mi}}
          livenessProbe:
            httpGet: {{path: /healthz, port: http}}
            initialDelaySeconds: 10
            periodSeconds: 10
            failureThreshold: 3
          readinessProbe:
            httpGet: {{path: /ready, port: http}}
            periodSeconds: 5
          lifecycle:
            preStop:
              exec:
                command: ["/bin/sh", "-c", "sleep 10"]
          volumeMounts:
            - {{name: config, mountPath: /etc/service, readOnly: true}}
        - name: proxy
          image: "registry.example.com/infra/proxy:2.1.0"
          ports:
            - {{name: proxy, containerPort: 15001}}
          env:
            - {{name: UPSTREAM, value: "127.0.0.1:8080"}}
          resources:
            requests: {{cpu: 100m, memory: 64Mi}}
            limits: {{cpu: 500m, memory: 128Mi}}
          readinessProbe:
            tcpSocket: {{port: 15001}}
            periodSeconds: 5
          livenessProbe:
            tcpSocket: {{port: 15001}}
            periodSeconds: 15
      volumes:
        - name: config
          configMap:
            name: service-{i}-config
            defaultMode: 0644
"#
    )
}

#[test]
fn parallel_parse_matches_sequential() {
    let mut text: String = (0..200).map(deployment).collect();
    assert!(text.len() > PARALLEL_MIN_BYTES);
    let input = Input {
        file: Arc::new(Source::Stdin),
        text: Arc::from(text.as_str()),
        bom: 0,
        json: false,
    };
    let limits = Limits::default();
    let mut units = Vec::new();
    split_input(&input, &limits, &mut 0, &mut units).unwrap();
    assert_eq!(units.len(), 200);
    let (sequential, error) = parse_batch(&units, 0, &limits, &AtomicUsize::new(usize::MAX));
    assert!(error.is_none());
    let parallel: Vec<Out> = parse_all(&units, &limits)
        .into_iter()
        .flat_map(|(outs, error)| {
            assert!(error.is_none());
            outs
        })
        .collect();
    let docs = |outs: &[Out]| {
        outs.iter()
            .map(|out| match out {
                Out::Doc(doc) => doc.clone(),
                Out::Skip(_) => panic!("skipped"),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(docs(&sequential), docs(&parallel));
    let loaded = load_str(Source::Stdin, &text, &limits).unwrap();
    assert_eq!(loaded.documents, docs(&sequential));
    assert_eq!(
        loaded.documents[199].line,
        1 + 199 * deployment(0).lines().count()
    );
    assert_eq!(
        loaded.documents[7].value["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"],
        420
    );

    // Errors late in the input and early in it: the first one is reported.
    text.push_str("---\n- late\n");
    let err = load_str(Source::Stdin, &text, &limits).unwrap_err();
    assert!(
        matches!(err, LoadError::NotAMapping { index: 200, .. }),
        "{err:?}"
    );
    let text = format!("---\n- early\n{text}");
    let err = load_str(Source::Stdin, &text, &limits).unwrap_err();
    assert!(
        matches!(err, LoadError::NotAMapping { index: 0, .. }),
        "{err:?}"
    );
}

/// `cargo test --release -- --ignored --nocapture bench_` prints the load speed.
#[test]
#[ignore = "benchmark"]
#[allow(clippy::cast_precision_loss)]
fn bench_deployments() {
    for count in [1_000, 10_000] {
        let text: String = (0..count).map(deployment).collect();
        let mb = text.len() as f64 / 1e6;
        let limits = Limits::default();
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            let loaded = load_str(Source::Stdin, &text, &limits).unwrap();
            best = best.min(start.elapsed());
            assert_eq!(loaded.documents.len(), count);
        }
        let input = Input {
            file: Arc::new(Source::Stdin),
            text: Arc::from(text.as_str()),
            bom: 0,
            json: false,
        };
        let mut units = Vec::new();
        split_input(&input, &limits, &mut 0, &mut units).unwrap();
        let start = Instant::now();
        let (outs, error) = parse_batch(&units, 0, &limits, &AtomicUsize::new(usize::MAX));
        let single = start.elapsed();
        assert!(error.is_none() && outs.len() == count);
        let json: String = {
            let loaded = load_str(Source::Stdin, &text, &limits).unwrap();
            let items: Vec<_> = loaded.documents.into_iter().map(|doc| doc.value).collect();
            serde_json::to_string(
                &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
            )
            .unwrap()
        };
        let big = Limits {
            max_document_bytes: 64 << 20,
            ..limits
        };
        let start = Instant::now();
        let loaded = load_str(Source::File("l.json".into()), &json, &big).unwrap();
        let json_time = start.elapsed();
        assert_eq!(loaded.documents.len(), count);
        println!(
            "{count} Deployments, {mb:.1} MB YAML ({:.0} bytes each): {:.1} ms = {:.1} MB/s \
                 ({:.1} MB/s on one thread); as one JSON List {:.1} MB: {:.1} MB/s",
            text.len() as f64 / count as f64,
            best.as_secs_f64() * 1e3,
            mb / best.as_secs_f64(),
            mb / single.as_secs_f64(),
            json.len() as f64 / 1e6,
            json.len() as f64 / 1e6 / json_time.as_secs_f64(),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Positions

fn locate(text: &str, path: &str) -> (usize, usize, bool) {
    let loaded = load_str(Source::Stdin, text, &Limits::default()).unwrap();
    let doc = &loaded.documents[0];
    let root = doc.root_path();
    let full = match (root.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => root,
        (false, false) => format!("{root}.{path}"),
    };
    let found = Locator::new(&doc.text, doc.start()).locate(&full);
    (found.position.line, found.position.column, found.exact)
}

#[test]
fn positions_of_block_flow_quoted_and_dotted_keys() {
    let text = "\
# a comment first
apiVersion: v1
kind: Pod
metadata:
  name: p
  labels:
    app: x
    app.kubernetes.io/name: y
  annotations: {\"example.com/a.b\": \"1\"}
spec:
  containers:
    - name: one
      ports: [{containerPort: 80}, {containerPort: 81, name: b}]
    -   name: two
";
    assert_eq!(locate(text, ""), (2, 1, true));
    assert_eq!(locate(text, "metadata.labels.app"), (7, 5, true));
    // An unquoted key with dots: the longest key that matches.
    assert_eq!(
        locate(text, "metadata.labels.app.kubernetes.io/name"),
        (8, 5, true)
    );
    assert_eq!(
        locate(text, "metadata.annotations[\"example.com/a.b\"]"),
        (9, 17, true)
    );
    assert_eq!(locate(text, "spec.containers[1]"), (14, 9, true));
    assert_eq!(
        locate(text, "spec.containers[0].ports[1].name"),
        (13, 56, true)
    );
    // Missing fields: the nearest parent that exists.
    assert_eq!(
        locate(text, "spec.containers[1].livenessProbe"),
        (14, 9, false)
    );
    assert_eq!(locate(text, "spec.containers[5]"), (11, 3, false));
    assert_eq!(locate(text, "status.phase"), (2, 1, false));
}

#[test]
fn positions_count_from_the_file_not_the_document() {
    let text = "apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\n\n# Source: c/templates/b.yaml\napiVersion: v1\nkind: B\nmetadata:\n  name: b\n";
    let loaded = load_str(Source::Stdin, text, &Limits::default()).unwrap();
    let b = &loaded.documents[1];
    assert_eq!(b.text.helm_source(), Some("c/templates/b.yaml"));
    assert_eq!(loaded.documents[0].text.helm_source(), None);
    let found = Locator::new(&b.text, b.start()).locate("metadata.name");
    assert_eq!((found.position.line, found.position.column), (10, 3));
}

#[test]
fn positions_through_aliases_stop_at_the_alias() {
    let text =
        "apiVersion: v1\nkind: A\nmetadata: {name: a}\nx: &anchor {deep: {er: 1}}\ny: *anchor\n";
    assert_eq!(locate(text, "x.deep.er"), (4, 20, true));
    assert_eq!(locate(text, "y.deep.er"), (5, 1, false));
}

#[test]
fn positions_in_list_items() {
    let text = "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: A\n    metadata:\n      name: a\n";
    assert_eq!(locate(text, "metadata.name"), (7, 7, true));
    assert_eq!(locate(text, ""), (4, 5, true));
}
