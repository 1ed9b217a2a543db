//! The bytes as `request.object` of a well-formed envelope, so the fuzzer spends its time in
//! the typed workload parse and the checks rather than in the envelope's syntax: with
//! `request.kind` Deployment (parsed in one pass), with no `request.kind` (kind read from the
//! object), and with another workload kind picked by the input's length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prodready_fuzz::{as_json, check_enforced, check_verdict, rules};

const KINDS: &[(&str, &str)] = &[
    ("", "Pod"),
    ("", "ReplicationController"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
];

fuzz_target!(|data: &[u8]| {
    let object = as_json(data);
    let (group, kind) = KINDS[data.len() % KINDS.len()];
    let envelopes = [
        format!(
            r#"{{"request":{{"kind":{{"group":"apps","version":"v1","kind":"Deployment"}},"operation":"CREATE","object":{object}}},"settings":{{}}}}"#
        ),
        format!(r#"{{"request":{{"operation":"CREATE","object":{object}}},"settings":{{}}}}"#),
        format!(
            r#"{{"request":{{"kind":{{"group":"{group}","version":"v1","kind":"{kind}"}},"operation":"UPDATE","object":{object}}},"settings":{{}},"mode":"manifest"}}"#
        ),
    ];
    for envelope in &envelopes {
        for rule in rules() {
            let out = (rule.evaluate)(envelope.as_bytes());
            let verdict = check_verdict(rule, &out);
            // `settings: {}`: no audit, so the verdict enforces.
            check_enforced(rule, &verdict);
        }
    }
});
