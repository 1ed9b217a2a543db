//! The workload checks beside the Pod Security Standards: a read-only root filesystem and
//! API tokens only for pods that call the API.

use prodready_sdk::{Cx, Findings, Object, Workload};
use serde::Deserialize;

use crate::settings::Settings;
use crate::{READ_ONLY_ROOT_FS, SERVICE_ACCOUNT_TOKEN};

/// read-only-root-fs: every init and app container (ephemeral debug containers are added by
/// hand, not by manifests). Not for Windows pods, where the field cannot be set.
pub fn read_only_root_fs(w: &Workload<'_>, out: &mut Findings) {
    if w.spec
        .os
        .get_at(|| w.path("os"))
        .is_some_and(|os| os.name == "windows")
    {
        return;
    }
    for c in w.all_containers() {
        let v = c
            .security_context()
            .and_then(|sc| sc.read_only_root_filesystem);
        if v != Some(true) {
            out.report(
                &READ_ONLY_ROOT_FS,
                c.field("securityContext.readOnlyRootFilesystem"),
                format!("container \"{}\" can write to its image's filesystem, where an intruder's tools persist until restart; set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where it writes (e.g. /tmp)", c.name()),
            );
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceAccountView {
    automount_service_account_token: Option<bool>,
}

/// service-account-token: a token is mounted only where the pod needs the API.
pub fn service_account_token(
    object: &Object<'_>,
    w: &Workload<'_>,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    let sa = w.service_account_name();
    let ns = object.namespace();
    // The pod's own field wins; without one, the ServiceAccount's (if the set or the
    // cluster shows it) decides; both unset mount the token.
    let mounted = match w.spec.automount_service_account_token {
        Some(v) => v,
        None => cx
            .context
            .get("", "ServiceAccount", ns, sa)
            .and_then(|o| o.get::<ServiceAccountView>())
            .and_then(|v| v.automount_service_account_token)
            .unwrap_or(true),
    };
    if !mounted {
        return;
    }
    let path = w.path("automountServiceAccountToken");
    if sa == "default" {
        out.report(
            &SERVICE_ACCOUNT_TOKEN,
            path,
            format!("{} {} runs as the namespace's default ServiceAccount with its API token mounted, which anyone who gets into the pod can use; set automountServiceAccountToken: false if it does not call the API, or give it a ServiceAccount of its own if it does", object.reference.kind, object.reference.name),
        );
    } else if !cx.settings.api_access(ns, sa) {
        out.report(
            &SERVICE_ACCOUNT_TOKEN,
            path,
            format!("{} {} mounts the API token of ServiceAccount {sa}, which is not in apiServiceAccounts; set automountServiceAccountToken: false, or list {sa} there if the pod calls the API", object.reference.kind, object.reference.name),
        );
    }
}
