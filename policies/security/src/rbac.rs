//! RBAC: wildcards, escalation-prone permissions, and bindings that hand out everything.
//!
//! Matching follows the RBAC authorizer (`pkg/apis/rbac/v1/evaluation_helpers.go`): a rule's
//! `*` matches every verb, API group or resource; `*/sub` matches that subresource of every
//! resource; an empty `resourceNames` means every object.

use std::collections::HashMap;

use prodready_sdk::k8s_openapi::api::rbac::v1::{AggregationRule, PolicyRule, RoleRef, Subject};
use prodready_sdk::{Context, Cx, Findings, Object};
use serde::Deserialize;

use crate::settings::Settings;
use crate::{RBAC_ADMIN_BINDING, RBAC_ESCALATION, RBAC_WILDCARDS};

pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Objects Kubernetes creates and reconciles itself carry this label (`rbac-defaults`).
const BOOTSTRAPPING_LABEL: &str = "kubernetes.io/bootstrapping";
const AGGREGATE_LABEL_PREFIX: &str = "rbac.authorization.k8s.io/aggregate-to-";

/// A Role or ClusterRole, as far as the checks read it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleView {
    #[serde(default)]
    pub rules: Option<Vec<PolicyRule>>,
    #[serde(default)]
    pub aggregation_rule: Option<AggregationRule>,
}

/// A RoleBinding or ClusterRoleBinding, as far as the checks read it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingView {
    #[serde(default)]
    pub role_ref: Option<RoleRef>,
    #[serde(default)]
    pub subjects: Option<Vec<Subject>>,
}

/// Whether Kubernetes itself owns the object (a default role or binding, recreated by the
/// API server at every start).
pub fn is_default(object: &Object<'_>) -> bool {
    object
        .meta
        .labels
        .get(BOOTSTRAPPING_LABEL)
        .is_some_and(|v| v == "rbac-defaults")
}

/// The API groups kube-apiserver itself serves (1.33): a wildcard over their resources reaches
/// Secrets, Pods, roles, webhooks. Groups merely named `*.k8s.io` but served by CRDs or
/// aggregated APIs (Gateway API, snapshots, metrics) are not among them.
pub const BUILTIN_GROUPS: [&str; 24] = [
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "extensions",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
];

pub fn builtin_group(g: &str) -> bool {
    g == "*" || BUILTIN_GROUPS.contains(&g)
}

/// Resources with verbs beyond create/read/update/delete, which `verbs: ["*"]` grants too:
/// `bind` and `escalate` on roles, `impersonate` on identities, `approve`/`sign` on signers,
/// `use` on PodSecurityPolicies.
const SPECIAL_VERB_RESOURCES: [&str; 9] = [
    "roles",
    "clusterroles",
    "users",
    "groups",
    "serviceaccounts",
    "uids",
    "userextras",
    "signers",
    "podsecuritypolicies",
];

fn special_verbs(resource: &str) -> bool {
    let base = resource.split('/').next().unwrap_or(resource);
    SPECIAL_VERB_RESOURCES.contains(&base)
}

fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or_default()
}

fn has_star(v: &[String]) -> bool {
    v.iter().any(|s| s == "*")
}

/// How a rule matches a value: by name, or only through a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    Named,
    Wildcard,
}

fn match_value(list: &[String], want: &str) -> Option<Match> {
    if list.iter().any(|s| s == want) {
        Some(Match::Named)
    } else if has_star(list) {
        Some(Match::Wildcard)
    } else {
        None
    }
}

/// RBAC's `ResourceMatches`: `*`, the exact `resource/sub`, or `*/sub`.
fn match_resource(list: &[String], want: &str) -> Option<Match> {
    if let Some(m) = match_value(list, want) {
        return Some(m);
    }
    let (_, sub) = want.split_once('/')?;
    list.iter()
        .any(|r| r.strip_prefix("*/") == Some(sub))
        .then_some(Match::Named)
}

/// A permission that lets its holder gain more than it was given.
struct Power {
    group: &'static str,
    resources: &'static [&'static str],
    verbs: &'static [&'static str],
    /// Only in a ClusterRole (secrets: a Role reads one namespace's).
    cluster_only: bool,
    /// What it lets the holder do.
    why: &'static str,
}

const POWERS: &[Power] = &[
    Power {
        group: RBAC_GROUP,
        resources: &["roles", "clusterroles"],
        verbs: &["escalate"],
        cluster_only: false,
        why: "create or change roles with permissions it does not hold",
    },
    Power {
        group: RBAC_GROUP,
        resources: &["roles", "clusterroles"],
        verbs: &["bind"],
        cluster_only: false,
        why: "bind any role, cluster-admin included, to any subject",
    },
    Power {
        group: "",
        resources: &["users", "groups", "serviceaccounts"],
        verbs: &["impersonate"],
        cluster_only: false,
        why: "act as another identity (impersonating group system:masters is cluster-admin)",
    },
    Power {
        group: "authentication.k8s.io",
        resources: &["uids", "userextras"],
        verbs: &["impersonate"],
        cluster_only: false,
        why: "act as another identity",
    },
    Power {
        group: "",
        resources: &["secrets"],
        verbs: &["get", "list", "watch"],
        cluster_only: true,
        why: "read every Secret, ServiceAccount tokens included (list and watch return their data too)",
    },
    Power {
        group: "",
        resources: &["pods/exec", "pods/attach"],
        verbs: &["create", "get"],
        cluster_only: false,
        why: "run commands in pods, with their ServiceAccounts' credentials",
    },
    Power {
        group: "",
        resources: &["nodes/proxy"],
        verbs: &["get", "create", "update", "patch", "delete"],
        cluster_only: false,
        why: "reach the kubelet API (exec in every pod of a node), bypassing admission and audit",
    },
    Power {
        group: "certificates.k8s.io",
        resources: &["certificatesigningrequests/approval"],
        verbs: &["update", "patch"],
        cluster_only: false,
        why: "approve certificate requests, minting client certificates for any user",
    },
    Power {
        group: "certificates.k8s.io",
        resources: &["signers"],
        verbs: &["approve"],
        cluster_only: false,
        why: "approve certificate requests, minting client certificates for any user",
    },
    Power {
        group: "admissionregistration.k8s.io",
        resources: &[
            "validatingwebhookconfigurations",
            "mutatingwebhookconfigurations",
        ],
        verbs: &["create", "update", "patch", "delete", "deletecollection"],
        cluster_only: false,
        why: "route admission requests (every object written, Secrets included) to a webhook of its choice, or switch admission policies off",
    },
];

/// What a rule grants of a power: the verbs and resources, and whether only a wildcard does.
struct Granted {
    what: String,
    only_wildcard: bool,
    why: &'static str,
    cluster_only: bool,
}

fn granted(rule: &PolicyRule, p: &Power) -> Option<Granted> {
    let g = match_value(list(&rule.api_groups), p.group)?;
    let resources = list(&rule.resources);
    let mut wildcard = g == Match::Wildcard;
    let mut verbs = Vec::new();
    for v in p.verbs {
        if let Some(m) = match_value(&rule.verbs, v) {
            wildcard |= m == Match::Wildcard;
            verbs.push(*v);
        }
    }
    let mut named = Vec::new();
    for r in p.resources {
        if let Some(m) = match_resource(resources, r) {
            wildcard |= m == Match::Wildcard;
            named.push(*r);
        }
    }
    if verbs.is_empty() || named.is_empty() {
        return None;
    }
    Some(Granted {
        what: format!("{} {}", verbs.join("/"), named.join(", ")),
        only_wildcard: wildcard,
        why: p.why,
        cluster_only: p.cluster_only,
    })
}

// ---- bindings in the context ------------------------------------------------------------

/// Bindings of the context by the role they reference: `ClusterRole/name` or
/// `Role/namespace/name`. Built once per context.
struct BindingIndex {
    by_role: HashMap<String, Vec<usize>>,
}

fn role_key(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match kind {
        "Role" => format!("Role/{}/{name}", namespace.unwrap_or_default()),
        _ => format!("{kind}/{name}"),
    }
}

impl BindingIndex {
    fn build(cx: &Context) -> BindingIndex {
        let mut by_role: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, o) in cx.objects().iter().enumerate() {
            if !(o.is(RBAC_GROUP, "RoleBinding") || o.is(RBAC_GROUP, "ClusterRoleBinding")) {
                continue;
            }
            let Some(r) = o.get::<BindingView>().and_then(|b| b.role_ref.as_ref()) else {
                continue;
            };
            by_role
                .entry(role_key(&r.kind, o.namespace(), &r.name))
                .or_default()
                .push(i);
        }
        BindingIndex { by_role }
    }
}

/// Who a role is bound to, as far as the context shows.
struct Bound {
    /// Subjects not in `allowedSubjects`, for the message.
    others: Vec<String>,
    bindings: usize,
    cluster_wide: bool,
}

fn bound(cx: &Cx<'_, Settings>, kind: &str, namespace: Option<&str>, name: &str) -> Bound {
    let mut b = Bound {
        others: Vec::new(),
        bindings: 0,
        cluster_wide: false,
    };
    if !cx.has_context() {
        return b;
    }
    let context = cx.context;
    let index = context.memo(BindingIndex::build);
    let Some(positions) = index.by_role.get(&role_key(kind, namespace, name)) else {
        return b;
    };
    for o in positions.iter().filter_map(|i| context.objects().get(*i)) {
        let Some(view) = o.get::<BindingView>() else {
            continue;
        };
        b.bindings += 1;
        b.cluster_wide |= o.kind == "ClusterRoleBinding";
        for s in view.subjects.iter().flatten() {
            let ns = match s.kind.as_str() {
                "ServiceAccount" => s.namespace.as_deref().or(o.namespace()),
                _ => None,
            };
            let allowed = cx
                .settings
                .allowed_subjects
                .iter()
                .any(|p| p.matches(&s.kind, &s.name, ns));
            if !allowed {
                b.others.push(match ns {
                    Some(ns) => format!("{} {ns}/{}", s.kind, s.name),
                    None => format!("{} {}", s.kind, s.name),
                });
            }
        }
    }
    b
}

// ---- checks ------------------------------------------------------------------------------

/// Labels that aggregate this ClusterRole into others (`aggregate-to-admin: "true"`, ...).
fn aggregated_into<'o>(object: &'o Object<'_>) -> Vec<&'o str> {
    object
        .meta
        .labels
        .iter()
        .filter(|(_, v)| *v == "true")
        .filter_map(|(k, _)| k.strip_prefix(AGGREGATE_LABEL_PREFIX))
        .collect()
}

fn describe(rule: &PolicyRule) -> String {
    let groups: Vec<String> = list(&rule.api_groups)
        .iter()
        .map(|g| {
            if g.is_empty() {
                "\"\"".to_string()
            } else {
                g.clone()
            }
        })
        .collect();
    if rule.resources.is_none() && rule.non_resource_urls.is_some() {
        return format!(
            "{} on {}",
            rule.verbs.join(","),
            list(&rule.non_resource_urls).join(",")
        );
    }
    format!(
        "{} on {} in {}",
        rule.verbs.join(","),
        list(&rule.resources).join(","),
        groups.join(",")
    )
}

/// Whether rbac-wildcards reports this rule at error severity: `*` in apiGroups; `*` in
/// resources of a built-in group; `*` in verbs on a resource with special verbs (bind,
/// escalate, impersonate, approve); any wildcard in a role aggregated into others. Other
/// wildcards — every verb on named resources, every resource of custom groups, non-resource
/// URLs — are warnings: they grant little beyond what listing would.
fn wildcard_error(rule: &PolicyRule, aggregated: bool) -> bool {
    let groups = list(&rule.api_groups);
    let resources = list(&rule.resources);
    if resources.is_empty() {
        // A non-resource rule (nonResourceURLs): /metrics, /healthz, /version, ...
        return false;
    }
    let star_groups = has_star(groups);
    let star_resources = has_star(resources);
    let star_verbs = has_star(&rule.verbs);
    if !(star_groups || star_resources || star_verbs) {
        return false;
    }
    aggregated
        || star_groups
        || (star_resources && groups.iter().any(|g| builtin_group(g)))
        || (star_verbs && resources.iter().any(|r| special_verbs(r)))
}

/// rbac-wildcards and rbac-escalation for a Role or ClusterRole.
pub fn check_role(
    object: &Object<'_>,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) -> Result<(), String> {
    if is_default(object) {
        return Ok(());
    }
    let role: RoleView = object.parse()?;
    let kind = object.reference.kind.as_str();
    let name = object.reference.name.as_str();
    if let Some(agg) = &role.aggregation_rule {
        // The aggregation controller overwrites `rules` with the union of the selected
        // roles, each of which is checked on its own; only a selector of everything is.
        for (j, sel) in agg.cluster_role_selectors.iter().flatten().enumerate() {
            let empty = sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && sel.match_expressions.as_ref().is_none_or(|e| e.is_empty());
            if empty {
                out.report(
                    &RBAC_WILDCARDS,
                    format!("aggregationRule.clusterRoleSelectors[{j}]"),
                    format!("{kind} {name}: aggregationRule.clusterRoleSelectors[{j}] is empty, which selects every ClusterRole (cluster-admin included) into this one; select the roles to aggregate by a label of their own"),
                );
            }
        }
        return Ok(());
    }
    let into = aggregated_into(object);
    let rules = role.rules.as_deref().unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        wildcards(kind, name, i, rule, &into, out);
    }
    escalation(object, cx, kind, name, rules, !into.is_empty(), out);
    Ok(())
}

fn wildcards(
    kind: &str,
    name: &str,
    i: usize,
    rule: &PolicyRule,
    into: &[&str],
    out: &mut Findings,
) {
    let mut fields = Vec::new();
    if has_star(list(&rule.api_groups)) {
        fields.push("apiGroups");
    }
    if has_star(list(&rule.resources)) {
        fields.push("resources");
    }
    if has_star(&rule.verbs) {
        fields.push("verbs");
    }
    let urls = has_star(list(&rule.non_resource_urls));
    if fields.is_empty() && !urls {
        return;
    }
    let path = format!("rules[{i}]");
    if list(&rule.resources).is_empty() {
        out.warn(
            &RBAC_WILDCARDS,
            path,
            format!("{kind} {name} rules[{i}] grants {} on nonResourceURLs {} with \"*\": every non-resource endpoint (or verb) of the API server; list the URLs and verbs it needs (e.g. get /metrics)", rule.verbs.join(","), list(&rule.non_resource_urls).join(",")),
        );
        return;
    }
    let aggregated = if into.is_empty() {
        String::new()
    } else {
        format!(
            "; its aggregate-to-{} label adds this to the built-in {} role everywhere that role is bound",
            into.join("/aggregate-to-"),
            into.join("/")
        )
    };
    let message = format!(
        "{kind} {name} rules[{i}] grants {} with \"*\" in {}: a wildcard also grants every resource, subresource and verb added later{aggregated}; list the API groups, resources and verbs it needs",
        describe(rule),
        fields.join(" and ")
    );
    if wildcard_error(rule, !into.is_empty()) {
        out.report(&RBAC_WILDCARDS, path, message);
    } else {
        let why = if has_star(list(&rule.resources)) {
            "it is limited to API groups kube-apiserver does not serve (custom resources, aggregated APIs), so it cannot reach Secrets or Pods"
        } else {
            "on these resources every verb is a standard one, so it grants what listing them would, and the verbs added later"
        };
        out.warn(&RBAC_WILDCARDS, path, format!("{message} ({why})"));
    }
}

fn escalation(
    object: &Object<'_>,
    cx: &Cx<'_, Settings>,
    kind: &str,
    name: &str,
    rules: &[PolicyRule],
    aggregated: bool,
    out: &mut Findings,
) {
    let wildcards_reported = cx.reports(&RBAC_WILDCARDS);
    let cluster_role = kind == "ClusterRole";
    let mut found: Vec<(usize, Vec<Granted>, bool)> = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let wildcard_covers = wildcards_reported && wildcard_error(rule, aggregated);
        let narrowed = !list(&rule.resource_names).is_empty();
        let powers: Vec<Granted> = POWERS
            .iter()
            .filter(|p| cluster_role || !p.cluster_only)
            .filter_map(|p| granted(rule, p))
            // Reported once: a power that only a reported wildcard grants is rbac-wildcards'.
            .filter(|g| !(g.only_wildcard && wildcard_covers))
            // Named Secrets are not "every Secret".
            .filter(|g| !(g.cluster_only && narrowed))
            .collect();
        if !powers.is_empty() {
            found.push((i, powers, narrowed));
        }
    }
    if found.is_empty() {
        return;
    }
    let b = bound(cx, kind, object.namespace(), name);
    if b.bindings > 0 && b.others.is_empty() {
        return;
    }
    let to = if b.bindings == 0 {
        "no binding of it is in the set, so whoever is bound to it later gets this".to_string()
    } else {
        format!("it is bound to {}", b.others.join(", "))
    };
    for (i, powers, narrowed) in found {
        let mut powers = powers;
        // Secrets read through a ClusterRole is cluster-wide only through a
        // ClusterRoleBinding; through RoleBindings it reads their namespaces.
        let mut unknown_scope = false;
        if b.bindings > 0 && !b.cluster_wide {
            powers.retain(|g| !g.cluster_only);
        } else if b.bindings == 0 {
            unknown_scope = powers.iter().all(|g| g.cluster_only);
        }
        if powers.is_empty() {
            continue;
        }
        let text: Vec<String> = powers
            .iter()
            .map(|g| format!("{} (lets it {})", g.what, g.why))
            .collect();
        let limited = if narrowed {
            " (limited by resourceNames to named objects)"
        } else {
            ""
        };
        let message = format!(
            "{kind} {name} rules[{i}] grants {}{limited}; {to}. Grant it only to the subjects that need it and list them in allowedSubjects, or narrow the rule",
            text.join("; ")
        );
        let path = format!("rules[{i}]");
        if narrowed || unknown_scope {
            out.warn(&RBAC_ESCALATION, path, message);
        } else {
            out.report(&RBAC_ESCALATION, path, message);
        }
    }
}

/// rbac-admin-binding for a RoleBinding or ClusterRoleBinding.
pub fn check_binding(object: &Object<'_>, out: &mut Findings) -> Result<(), String> {
    if is_default(object) {
        return Ok(());
    }
    let b: BindingView = object.parse()?;
    let kind = object.reference.kind.as_str();
    let name = object.reference.name.as_str();
    if let Some(r) = &b.role_ref
        && r.kind == "ClusterRole"
        && r.name == "cluster-admin"
    {
        let scope = match object.namespace() {
            Some(ns) if kind == "RoleBinding" => {
                format!(
                    "every permission in namespace {ns}, the Namespace object, its Roles and RoleBindings included"
                )
            }
            _ => "every permission on every resource of the cluster".to_string(),
        };
        out.report(
            &RBAC_ADMIN_BINDING,
            "roleRef.name".to_string(),
            format!("{kind} {name} binds cluster-admin, which grants {scope}; bind a role listing what the subjects need (roleRef is immutable: re-create the binding)"),
        );
    }
    for (j, s) in b.subjects.iter().flatten().enumerate() {
        let why = match (s.kind.as_str(), s.name.as_str()) {
            ("Group", "system:masters") => {
                "members of system:masters bypass RBAC altogether, so binding it grants nothing and suggests someone relies on it; remove the subject"
            }
            ("Group", "system:unauthenticated")
            | ("User", "system:anonymous")
            | ("Group", "system:anonymous") => {
                "that is everyone who can reach the API server without credentials; remove the subject"
            }
            _ => continue,
        };
        out.report(
            &RBAC_ADMIN_BINDING,
            format!("subjects[{j}]"),
            format!("{kind} {name} binds {} {}: {why}", s.kind, s.name),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: serde_json::Value) -> PolicyRule {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn resource_matching_as_rbac_does() {
        let r = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            match_resource(&r(&["pods/exec"]), "pods/exec"),
            Some(Match::Named)
        );
        assert_eq!(
            match_resource(&r(&["*/exec"]), "pods/exec"),
            Some(Match::Named)
        );
        assert_eq!(
            match_resource(&r(&["*"]), "pods/exec"),
            Some(Match::Wildcard)
        );
        assert_eq!(match_resource(&r(&["pods"]), "pods/exec"), None);
        assert_eq!(match_resource(&r(&["pods/*"]), "pods/exec"), None);
    }

    #[test]
    fn powers_through_names_and_wildcards() {
        let p = POWERS.iter().find(|p| p.resources == ["secrets"]).unwrap();
        let g = granted(
            &rule(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]})),
            p,
        )
        .unwrap();
        assert!(!g.only_wildcard);
        let g = granted(
            &rule(json!({"apiGroups": [""], "resources": ["*"], "verbs": ["get"]})),
            p,
        )
        .unwrap();
        assert!(g.only_wildcard);
        assert!(
            granted(
                &rule(json!({"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get"]})),
                p
            )
            .is_none()
        );
        assert!(
            granted(
                &rule(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]})),
                p
            )
            .is_none()
        );
    }

    #[test]
    fn builtin_groups() {
        assert!(builtin_group(""));
        assert!(builtin_group("rbac.authorization.k8s.io"));
        assert!(builtin_group("apps"));
        assert!(!builtin_group("monitoring.coreos.com"));
        assert!(!builtin_group("metrics.k8s.io"));
        assert!(!builtin_group("gateway.networking.k8s.io"));
        assert!(!builtin_group("snapshot.storage.k8s.io"));
    }
}
