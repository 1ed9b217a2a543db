//! Helpers for rule crates' unit tests: build workload views and run the whole evaluation
//! pipeline from JSON, so tests do not construct SDK types field by field (and keep working
//! when a view gains fields).
//!
//! Not for production code: views built here borrow from text that is leaked for the rest of
//! the process, which is fine in a test.

use serde_json::{Value, json};

use crate::run::{self, Mode};
use crate::verdict::Verdict;
use crate::workload::{self, Workload, WorkloadKind};
use crate::{Context, Rule};

/// An object of `kind` named `name` with `labels` on its pods and `pod_spec` as its pod spec.
pub fn object(kind: WorkloadKind, name: &str, labels: Value, pod_spec: Value) -> Value {
    let meta = json!({"name": name, "namespace": "shop"});
    let template = json!({"metadata": {"labels": labels}, "spec": pod_spec});
    let selector = json!({"matchLabels": labels});
    match kind {
        WorkloadKind::Pod => json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "shop", "labels": labels}, "spec": pod_spec}),
        WorkloadKind::ReplicationController => json!({"apiVersion": "v1",
            "kind": "ReplicationController", "metadata": meta,
            "spec": {"selector": labels, "template": template}}),
        WorkloadKind::Job => json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": {"template": template}}),
        WorkloadKind::CronJob => json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": meta,
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}}),
        other => json!({"apiVersion": "apps/v1", "kind": other.as_str(), "metadata": meta,
            "spec": {"selector": selector, "template": template}}),
    }
}

/// The workload view of an object (any workload kind), as a check function receives it.
///
/// # Panics
/// When the object is not a workload or does not parse: a test's own input is wrong.
#[allow(clippy::panic)]
pub fn workload(object: &Value) -> Workload<'static> {
    let text: &'static str = Box::leak(object.to_string().into_boxed_str());
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let group = crate::object::split_api_version(api_version).0;
    let kind_name = object["kind"].as_str().unwrap_or_default();
    let Some(kind) = WorkloadKind::from_group_kind(group, kind_name) else {
        panic!("{api_version} {kind_name} is not a workload kind");
    };
    let raw: &'static serde_json::value::RawValue = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => panic!("not JSON: {e}"),
    };
    match workload::parse(kind, raw) {
        Ok(parsed) => parsed.workload,
        Err(e) => panic!("{e}"),
    }
}

/// [`workload`] of [`object`]: a Deployment (or another kind) named `web` with these pod
/// labels and pod spec.
pub fn workload_of(kind: WorkloadKind, labels: Value, pod_spec: Value) -> Workload<'static> {
    workload(&object(kind, "web", labels, pod_spec))
}

/// Runs the rule's whole pipeline (settings, checks, severities, exemptions, audit) on one
/// object in manifest mode, without context.
pub fn evaluate<R: Rule>(object: &Value, settings: &Value) -> Verdict {
    evaluate_with::<R>(object, settings, None, Mode::Manifest)
}

/// [`evaluate`] with other objects as the context (the manifest set).
pub fn evaluate_in<R: Rule>(object: &Value, settings: &Value, context: &[Value]) -> Verdict {
    evaluate_with::<R>(object, settings, Some(context), Mode::Manifest)
}

/// The pipeline with every input spelt out.
pub fn evaluate_with<R: Rule>(
    object: &Value,
    settings: &Value,
    context: Option<&[Value]>,
    mode: Mode,
) -> Verdict {
    let mode = match mode {
        Mode::Admission => "admission",
        Mode::Manifest => "manifest",
    };
    let mut envelope = json!({
        "request": {"operation": "CREATE", "object": object},
        "settings": settings,
        "mode": mode,
    });
    if let (Some(objects), Some(map)) = (context, envelope.as_object_mut()) {
        map.insert("context".into(), json!({ "objects": objects }));
    }
    run::evaluate_with::<R>(envelope.to_string().as_bytes(), &Context::absent())
}

/// The violated check ids of a verdict, in order.
pub fn ids(v: &Verdict) -> Vec<&str> {
    v.violations.iter().map(|x| x.check.as_str()).collect()
}
