//! Arbitrary bytes as an envelope, through every rule's native `evaluate_json`: the answer is
//! always a verdict, an error never allows, nothing panics. The same bytes also go to
//! `context_load_json`, which answers `{"loaded": n}` or an error verdict.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prodready_fuzz::{check_verdict, rules};

fuzz_target!(|data: &[u8]| {
    for rule in rules() {
        let out = (rule.evaluate)(data);
        check_verdict(rule, &out);
        // Deterministic: the same input gives the same bytes.
        assert_eq!((rule.evaluate)(data), out, "{}: not deterministic", rule.id);
    }
    // The loaded context is shared by every rule on this thread; clear it after each input so
    // runs stay independent of each other.
    let rule = &rules()[0];
    let loaded = (rule.context_load)(data);
    if !loaded.starts_with(b"{\"loaded\":") {
        let verdict = check_verdict(rule, &loaded);
        assert!(
            verdict.error.is_some(),
            "context_load: neither loaded nor an error"
        );
    }
    for rule in rules() {
        check_verdict(rule, &(rule.evaluate)(data));
    }
    prodready_sdk::run::context_clear();
});
