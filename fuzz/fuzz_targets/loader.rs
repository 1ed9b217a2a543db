//! The bytes as a manifest stream on stdin: `load_str` returns objects or an error, never
//! panics, and every object it returns is a mapping with string `apiVersion` and `kind`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prodready_host::loader::{Limits, Source, load_str};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(loaded) = load_str(Source::Stdin, text, &Limits::default()) {
        for doc in &loaded.documents {
            assert!(doc.line >= 1, "line numbers are 1-based");
            let obj = doc.value.as_object().expect("a document is a mapping");
            for key in ["apiVersion", "kind"] {
                assert!(
                    obj.get(key)
                        .and_then(|v| v.as_str())
                        .is_some_and(|s| !s.is_empty()),
                    "a document without a string {key}: {:?}",
                    doc.value
                );
            }
        }
        for s in &loaded.skipped {
            assert!(s.line >= 1, "line numbers are 1-based");
        }
    }
});
