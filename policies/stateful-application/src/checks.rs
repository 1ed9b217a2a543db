//! The checks: pure functions over the StatefulSet's workload view, a claim's slim view, and
//! the Services of the context.

use std::collections::BTreeMap;

use prodready_sdk::k8s::{Controller, Service, StatefulSetSpec};
use prodready_sdk::serving::SERVICE;
use prodready_sdk::{Cx, Findings, Object, Quantity, Selector, Workload};
use serde::Deserialize;
use serde_json::Value;

use crate::settings::Settings;
use crate::{
    STS_BACKUP_MARKER, STS_GRACEFUL, STS_HEADLESS_SERVICE, STS_PVC_RETENTION, STS_STORAGE,
};

/// The beta annotation that named a claim's class before `storageClassName` existed; still
/// honoured by the PV controller when the field is unset.
const BETA_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// A PersistentVolumeClaim (an object, or a StatefulSet's volumeClaimTemplate), as far as the
/// checks read it. Lenient: a quantity may be a string or a number, as the API server accepts.
#[derive(Debug, Default, Deserialize)]
pub struct Claim {
    #[serde(default)]
    pub metadata: ClaimMeta,
    #[serde(default)]
    pub spec: Option<ClaimSpec>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ClaimMeta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimSpec {
    #[serde(default)]
    pub storage_class_name: Option<String>,
    #[serde(default)]
    pub resources: Option<ClaimResources>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ClaimResources {
    #[serde(default)]
    pub requests: Option<BTreeMap<String, Value>>,
}

impl Claim {
    fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }

    fn storage_request(&self) -> Option<&Value> {
        self.spec
            .as_ref()?
            .resources
            .as_ref()?
            .requests
            .as_ref()?
            .get("storage")
    }

    /// The class the claim names: `storageClassName`, else the beta annotation.
    fn class(&self) -> Option<&str> {
        self.spec
            .as_ref()
            .and_then(|s| s.storage_class_name.as_deref())
            .or_else(|| self.annotation(BETA_CLASS_ANNOTATION))
    }

    fn has_key(&self, key: &str) -> bool {
        self.metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(key))
            || self
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(key))
    }
}

fn statefulset_spec<'w, 'a>(w: &'w Workload<'a>) -> Option<&'w StatefulSetSpec<'a>> {
    match &w.controller {
        Controller::StatefulSet(s) => Some(s),
        _ => None,
    }
}

/// The StatefulSet's volumeClaimTemplates, read leniently from their JSON.
fn claim_templates(spec: &StatefulSetSpec<'_>) -> Result<Vec<Claim>, String> {
    match spec.volume_claim_templates.raw() {
        None => Ok(Vec::new()),
        Some(raw) if raw.get() == "null" => Ok(Vec::new()),
        Some(raw) => serde_json::from_str(raw.get())
            .map_err(|e| format!("spec.volumeClaimTemplates does not parse: {e}")),
    }
}

pub fn check_statefulset(
    object: &Object<'_>,
    w: &Workload<'_>,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    let s = cx.settings;
    let Some(spec) = statefulset_spec(w) else {
        return;
    };
    let templates = match claim_templates(spec) {
        Ok(t) => t,
        Err(e) => {
            prodready_sdk::lazy::record_failure(e);
            return;
        }
    };
    sts_headless_service(object, w, spec, cx, out);
    for (i, claim) in templates.iter().enumerate() {
        sts_storage(claim, &format!("spec.volumeClaimTemplates[{i}]"), s, out);
    }
    sts_backup_marker(object, w, &templates, s, out);
    sts_pvc_retention(spec, out);
    sts_graceful(w, s, out);
}

/// A PersistentVolumeClaim object.
pub fn check_pvc(claim: &Claim, s: &Settings, out: &mut Findings) {
    sts_storage(claim, "", s, out);
}

fn join(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_string()
    } else {
        format!("{prefix}.{rest}")
    }
}

/// A claim requests storage, from an allowed class; a claim without a class is a warning.
pub fn sts_storage(claim: &Claim, prefix: &str, s: &Settings, out: &mut Findings) {
    let what = match (&claim.metadata.name, prefix.is_empty()) {
        (Some(n), true) => format!("PersistentVolumeClaim \"{n}\""),
        (Some(n), false) => format!("volumeClaimTemplate \"{n}\""),
        (None, true) => "the PersistentVolumeClaim".to_string(),
        (None, false) => format!("the volumeClaimTemplate at {prefix}"),
    };
    let request_path = join(prefix, "spec.resources.requests.storage");
    match claim.storage_request() {
        None => out.report(
            &STS_STORAGE,
            request_path,
            format!(
                "{what} requests no storage: set spec.resources.requests.storage to the size the data needs (the API server refuses a claim without it)"
            ),
        ),
        Some(v) => {
            let text = match v {
                Value::String(t) => t.clone(),
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            match Quantity::parse(&text) {
                Err(e) => out.report(
                    &STS_STORAGE,
                    request_path,
                    format!("{what} requests storage {text:?}, which is not a quantity ({e}): write it as e.g. 10Gi"),
                ),
                Ok(q) if q.nanos() <= 0 => out.report(
                    &STS_STORAGE,
                    request_path,
                    format!("{what} requests {text} of storage: request the size the data needs, above zero"),
                ),
                Ok(_) => {}
            }
        }
    }
    let class_path = join(prefix, "spec.storageClassName");
    match claim.class() {
        None => out.warn(
            &STS_STORAGE,
            class_path,
            format!(
                "{what} sets no storageClassName: it gets the cluster's default StorageClass (or none, where no default is set). Name the class the data needs, so its performance, replication and reclaim policy are chosen, not inherited"
            ),
        ),
        Some(class) => {
            if !s.allowed_storage_classes.is_empty()
                && !s.allowed_storage_classes.iter().any(|a| a == class)
            {
                let shown = if class.is_empty() {
                    "\"\" (no class: static binding only)".to_string()
                } else {
                    format!("\"{class}\"")
                };
                out.report(
                    &STS_STORAGE,
                    class_path,
                    format!(
                        "{what} uses StorageClass {shown}, which is not in allowedStorageClasses ({}): use one of those",
                        s.allowed_storage_classes.join(", ")
                    ),
                );
            }
        }
    }
}

/// `spec.serviceName` names a headless Service of the namespace that selects the pods.
pub fn sts_headless_service<S>(
    object: &Object<'_>,
    w: &Workload<'_>,
    spec: &StatefulSetSpec<'_>,
    cx: &Cx<'_, S>,
    out: &mut Findings,
) {
    // Optional (the API marks it so since 1.33; validation never required it): without it
    // the pods have no per-pod DNS names, which is a choice, not an error.
    let Some(name) = spec.service_name.as_deref().filter(|n| !n.is_empty()) else {
        return;
    };
    if !cx.has_context() {
        out.skip(
            &STS_HEADLESS_SERVICE,
            format!("no context was given: Service \"{name}\" cannot be looked up"),
        );
        return;
    }
    let ns = object.namespace();
    let ns_text = ns.unwrap_or("default");
    let Some(found) = cx.context.get(SERVICE.group, SERVICE.kind, ns, name) else {
        if !namespace_has_services(cx.context, ns) {
            out.skip(
                &STS_HEADLESS_SERVICE,
                format!(
                    "no Service of namespace {ns_text} is in the context: Service \"{name}\" may be applied separately"
                ),
            );
            return;
        }
        // A warning: the pods still run, only without per-pod DNS names, and an application
        // that never uses them (Argo CD's application controller names a Service its install
        // manifest does not have) works; at admission it may also be applied next.
        out.warn(
            &STS_HEADLESS_SERVICE,
            "spec.serviceName".into(),
            format!(
                "spec.serviceName is \"{name}\", but namespace {ns_text} has no Service of that name: the pods get no stable DNS names (<pod>.{name}.{ns_text}.svc). Create a headless Service \"{name}\" (clusterIP: None) whose selector matches the pod template's labels, or remove serviceName if nothing uses those names"
            ),
        );
        return;
    };
    let Some(svc) = found.get::<Service>() else {
        return;
    };
    let svc_spec = svc.spec.as_ref();
    let mut problems = Vec::new();
    let cluster_ip = svc_spec.and_then(|s| s.cluster_ip.as_deref());
    let svc_type = svc_spec.and_then(|s| s.type_.as_deref());
    if svc_type == Some("ExternalName") {
        problems.push("it is an ExternalName Service (a DNS alias, no endpoints)".to_string());
    } else if cluster_ip != Some("None") {
        problems.push(match cluster_ip {
            Some(ip) if !ip.is_empty() => format!("it is not headless (clusterIP is {ip})"),
            _ => "it is not headless (it gets a cluster IP; set clusterIP: None)".to_string(),
        });
    }
    let selector = Selector::from_map(svc_spec.and_then(|s| s.selector.as_ref()));
    if svc_type != Some("ExternalName") && !selector.matches(&w.pod_labels) {
        problems.push(if selector.is_nothing() {
            "it has no selector, so it has no endpoints for the pods".to_string()
        } else {
            format!("its selector ({selector}) does not select the pod template's labels")
        });
    }
    if problems.is_empty() {
        return;
    }
    out.report(
        &STS_HEADLESS_SERVICE,
        "spec.serviceName".into(),
        format!(
            "spec.serviceName names Service \"{name}\", but {}: the pods get no stable DNS names (<pod>.{name}.{ns_text}.svc). Make \"{name}\" headless (clusterIP: None) with a selector matching the pod template's labels",
            problems.join(", and ")
        ),
    );
}

/// The namespaces with at least one Service in the context, computed once per context, so
/// "does the set hold this namespace's Services at all" costs a lookup, not a scan.
/// Candidate for the SDK (an indexed `Context::any_in_namespace`; also used by the other rule
/// of helper d, see /work/notes/sdk-requests.md).
struct ServiceNamespaces(std::collections::HashSet<Option<String>>);

fn namespace_has_services(ctx: &prodready_sdk::Context, namespace: Option<&str>) -> bool {
    let set = ctx.memo(|c| {
        ServiceNamespaces(
            c.of_kind(SERVICE.group, SERVICE.kind)
                .map(|o| o.namespace().map(str::to_string))
                .collect(),
        )
    });
    // As `Context::in_namespace` sees them: the namespace's own, and cluster-scoped ones.
    match namespace {
        Some(ns) => set.0.contains(&None) || set.0.contains(&Some(ns.to_string())),
        None => !set.0.is_empty(),
    }
}

/// Whether the StatefulSet keeps data: claim templates, or a persistentVolumeClaim volume.
fn has_persistent_volumes(w: &Workload<'_>, templates: &[Claim]) -> bool {
    !templates.is_empty()
        || w.volumes()
            .any(|(_, v)| v.has_source("persistentVolumeClaim"))
}

pub fn sts_backup_marker(
    object: &Object<'_>,
    w: &Workload<'_>,
    templates: &[Claim],
    s: &Settings,
    out: &mut Findings,
) {
    if s.backup_markers.is_empty() || !has_persistent_volumes(w, templates) {
        return;
    }
    let has = |key: &str| {
        object.meta.labels.contains_key(key)
            || object.meta.annotations.contains_key(key)
            || w.pod_labels.contains_key(key)
            || w.pod_annotations.contains_key(key)
            || templates.iter().any(|c| c.has_key(key))
    };
    if s.backup_markers.iter().any(|m| has(m)) {
        return;
    }
    out.report(
        &STS_BACKUP_MARKER,
        "spec.template.metadata.annotations".into(),
        format!(
            "the StatefulSet keeps data in persistent volumes but carries no backup marker ({}): nothing says its volumes are backed up. Add the backup tool's marker to the pod template (Velero: backup.velero.io/backup-volumes: <volume names>), or list the marker your tool uses in backupMarkers",
            s.backup_markers.join(", ")
        ),
    );
}

pub fn sts_pvc_retention(spec: &StatefulSetSpec<'_>, out: &mut Findings) {
    let path = "spec.persistentVolumeClaimRetentionPolicy";
    let Some(policy) = spec
        .persistent_volume_claim_retention_policy
        .get_at(|| path.to_string())
    else {
        return;
    };
    if policy.when_deleted.as_deref() == Some("Delete") {
        out.report(
            &STS_PVC_RETENTION,
            format!("{path}.whenDeleted"),
            "persistentVolumeClaimRetentionPolicy.whenDeleted is Delete: deleting the StatefulSet (a mistaken `kubectl delete`, a renamed Helm release) deletes its claims, and with the usual Delete reclaim policy the data. Set it to Retain (the default) and delete claims deliberately".to_string(),
        );
    }
}

/// With requirePreStop, an app container has a preStop hook. A grace period of 0 (or less) is
/// graceful-shutdown's grace-period-bounds finding, and a hook that outlasts the grace period
/// its prestop-fits-grace: neither is repeated here.
pub fn sts_graceful(w: &Workload<'_>, s: &Settings, out: &mut Findings) {
    if !s.require_pre_stop || w.termination_grace_period_seconds() <= 0 {
        return;
    }
    if w.containers().any(|c| c.pre_stop().is_some()) {
        return;
    }
    let Some(first) = w.containers().next() else {
        return;
    };
    out.report(
        &STS_GRACEFUL,
        first.field("lifecycle.preStop"),
        format!(
            "no container of the StatefulSet has a preStop hook (requirePreStop is on): a quorum member or primary gets SIGTERM without first handing over or draining. Add lifecycle.preStop to container \"{}\" (e.g. step down, drain, flush)",
            first.name()
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StatefulApplication;
    use prodready_sdk::{Mode, testing};
    use serde_json::{Value, json};

    fn sts(extra_spec: Value, pod_spec: Value) -> Value {
        let mut o = json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "data"},
            "spec": {
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": pod_spec}
            }
        });
        if let (Some(spec), Some(extra)) = (o["spec"].as_object_mut(), extra_spec.as_object()) {
            for (k, v) in extra {
                spec.insert(k.clone(), v.clone());
            }
        }
        o
    }

    fn pod() -> Value {
        json!({"containers": [{"name": "db", "image": "r/db:1"}]})
    }

    fn claim(storage: Value, class: Option<&str>) -> Value {
        let mut spec = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}});
        if let Some(c) = class {
            spec["storageClassName"] = json!(c);
        }
        json!({"metadata": {"name": "data"}, "spec": spec})
    }

    fn svc(name: &str, cluster_ip: Option<&str>, selector: Value) -> Value {
        let mut spec = json!({"selector": selector, "ports": [{"port": 5432}]});
        if let Some(ip) = cluster_ip {
            spec["clusterIP"] = json!(ip);
        }
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": "data"}, "spec": spec})
    }

    fn ids_in(o: &Value, settings: Value, ctx: &[Value]) -> Vec<String> {
        let v = testing::evaluate_in::<StatefulApplication>(o, &settings, ctx);
        assert!(v.error.is_none(), "{:?}", v.error);
        testing::ids(&v).iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn headless_service_selecting_the_pods_passes() {
        let o = sts(json!({}), pod());
        let good = svc("db", Some("None"), json!({"app": "db"}));
        assert!(ids_in(&o, json!({}), &[good]).is_empty());
        // Not headless, and not selecting: one finding.
        let bad = svc("db", None, json!({"app": "other"}));
        let v = testing::evaluate_in::<StatefulApplication>(&o, &json!({}), &[bad]);
        assert_eq!(testing::ids(&v), vec!["sts-headless-service"]);
        assert!(v.violations[0].message.contains("not headless"));
        assert!(v.violations[0].message.contains("does not select"));
        // Missing, with another Service in the namespace: reported.
        let other = svc("cache", Some("None"), json!({"app": "cache"}));
        assert_eq!(
            ids_in(&o, json!({}), &[other]),
            vec!["sts-headless-service"]
        );
        // No Service of the namespace at all: skipped.
        let v = testing::evaluate_in::<StatefulApplication>(&o, &json!({}), &[]);
        assert!(v.violations.is_empty());
        assert_eq!(v.skipped_checks[0].check, "sts-headless-service");
    }

    #[test]
    fn without_context_the_service_check_is_skipped_and_without_service_name_it_is_silent() {
        let o = sts(json!({}), pod());
        let v = testing::evaluate::<StatefulApplication>(&o, &json!({}));
        assert!(v.violations.is_empty());
        assert_eq!(v.skipped_checks.len(), 1);
        assert_eq!(v.skipped_checks[0].check, "sts-headless-service");
        let mut o = sts(json!({}), pod());
        o["spec"].as_object_mut().unwrap().remove("serviceName");
        let v = testing::evaluate::<StatefulApplication>(&o, &json!({}));
        assert!(v.skipped_checks.is_empty() && v.violations.is_empty());
    }

    #[test]
    fn at_admission_a_missing_service_is_a_warning_too() {
        let o = sts(json!({}), pod());
        let other = svc("cache", Some("None"), json!({"app": "cache"}));
        let v = testing::evaluate_with::<StatefulApplication>(
            &o,
            &json!({}),
            Some(&[other]),
            Mode::Admission,
        );
        assert_eq!(testing::ids(&v), vec!["sts-headless-service"]);
        assert!(v.allowed);
    }

    #[test]
    fn claims_request_storage_from_an_allowed_class() {
        let ok = sts(
            json!({"volumeClaimTemplates": [claim(json!("10Gi"), Some("fast"))]}),
            pod(),
        );
        let ctx = [svc("db", Some("None"), json!({"app": "db"}))];
        let marker = json!({"backupMarkers": []});
        assert!(ids_in(&ok, marker.clone(), &ctx).is_empty());
        let none = sts(
            json!({"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"storageClassName": "fast"}}]}),
            pod(),
        );
        assert_eq!(ids_in(&none, marker.clone(), &ctx), vec!["sts-storage"]);
        let zero = sts(
            json!({"volumeClaimTemplates": [claim(json!(0), Some("fast"))]}),
            pod(),
        );
        assert_eq!(ids_in(&zero, marker.clone(), &ctx), vec!["sts-storage"]);
        let bad = sts(
            json!({"volumeClaimTemplates": [claim(json!("ten"), Some("fast"))]}),
            pod(),
        );
        assert_eq!(ids_in(&bad, marker.clone(), &ctx), vec!["sts-storage"]);
        let allowed = json!({"backupMarkers": [], "allowedStorageClasses": ["standard"]});
        let v = testing::evaluate_in::<StatefulApplication>(&ok, &allowed, &ctx);
        assert_eq!(testing::ids(&v), vec!["sts-storage"]);
        assert!(!v.allowed);
        // No class: a warning only.
        let unset = sts(
            json!({"volumeClaimTemplates": [claim(json!("1Gi"), None)]}),
            pod(),
        );
        let v = testing::evaluate_in::<StatefulApplication>(&unset, &marker, &ctx);
        assert_eq!(testing::ids(&v), vec!["sts-storage"]);
        assert!(v.allowed);
        // The beta annotation names a class too.
        let mut beta = claim(json!("1Gi"), None);
        beta["metadata"]["annotations"] = json!({BETA_CLASS_ANNOTATION: "fast"});
        let annotated = sts(json!({"volumeClaimTemplates": [beta]}), pod());
        assert!(ids_in(&annotated, marker, &ctx).is_empty());
    }

    #[test]
    fn pvc_objects_are_checked() {
        let mut pvc = claim(json!("5Gi"), Some("fast"));
        pvc["apiVersion"] = json!("v1");
        pvc["kind"] = json!("PersistentVolumeClaim");
        let v = testing::evaluate::<StatefulApplication>(&pvc, &json!({}));
        assert!(v.violations.is_empty(), "{:?}", v.violations);
        pvc["spec"]["resources"] = json!({});
        let v = testing::evaluate::<StatefulApplication>(&pvc, &json!({}));
        assert_eq!(testing::ids(&v), vec!["sts-storage"]);
        assert_eq!(v.violations[0].path, "spec.resources.requests.storage");
    }

    #[test]
    fn backup_marker_and_retention() {
        let ctx = [svc("db", Some("None"), json!({"app": "db"}))];
        let o = sts(
            json!({"volumeClaimTemplates": [claim(json!("1Gi"), Some("fast"))]}),
            pod(),
        );
        assert_eq!(ids_in(&o, json!({}), &ctx), vec!["sts-backup-marker"]);
        let mut marked = o.clone();
        marked["spec"]["template"]["metadata"]["annotations"] =
            json!({"backup.velero.io/backup-volumes": "data"});
        assert!(ids_in(&marked, json!({}), &ctx).is_empty());
        // No persistent volume: nothing to back up.
        let stateless = sts(json!({}), pod());
        assert!(ids_in(&stateless, json!({}), &ctx).is_empty());
        let mut deleting = marked.clone();
        deleting["spec"]["persistentVolumeClaimRetentionPolicy"] =
            json!({"whenDeleted": "Delete", "whenScaled": "Retain"});
        assert_eq!(
            ids_in(&deleting, json!({}), &ctx),
            vec!["sts-pvc-retention"]
        );
        deleting["spec"]["persistentVolumeClaimRetentionPolicy"] = json!({"whenScaled": "Delete"});
        assert!(ids_in(&deleting, json!({}), &ctx).is_empty());
    }

    #[test]
    fn graceful_needs_a_prestop_only_when_required_and_never_repeats_grace_zero() {
        let ctx = [svc("db", Some("None"), json!({"app": "db"}))];
        let on = json!({"requirePreStop": true});
        let o = sts(json!({}), pod());
        assert!(ids_in(&o, json!({}), &ctx).is_empty());
        assert_eq!(ids_in(&o, on.clone(), &ctx), vec!["sts-graceful"]);
        let hooked = sts(
            json!({}),
            json!({"containers": [{"name": "db", "image": "r/db:1",
                "lifecycle": {"preStop": {"exec": {"command": ["/bin/step-down"]}}}}]}),
        );
        assert!(ids_in(&hooked, on.clone(), &ctx).is_empty());
        let zero = sts(
            json!({}),
            json!({"terminationGracePeriodSeconds": 0, "containers": [{"name": "db", "image": "r/db:1"}]}),
        );
        assert!(ids_in(&zero, on, &ctx).is_empty());
    }
}
