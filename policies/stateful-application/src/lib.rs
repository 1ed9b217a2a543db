//! Rule 15 of the talk, stateful applications (slides 77-78): a stateful workload needs a plan
//! — a headless Service that gives its pods their network identity, volumes that ask for the
//! storage they need from a class the platform offers, a backup, data that outlives the
//! StatefulSet, and (where the team asks for it) a clean leave on shutdown.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod checks;
pub mod settings;

use prodready_sdk::metadata::STATEFUL_SET;
use prodready_sdk::serving::SERVICE;
use prodready_sdk::{
    CREATE_UPDATE, Check, ContextResource, Cx, Findings, Object, Resource, Rule, RuleInfo, Severity,
};

pub use settings::Settings;

/// The core/v1 PersistentVolumeClaim.
pub const PVC: Resource = Resource::namespaced(
    "",
    &["v1"],
    "PersistentVolumeClaim",
    "persistentvolumeclaims",
);

pub const STS_HEADLESS_SERVICE: Check = Check {
    id: "sts-headless-service",
    severity: Severity::Error,
    description: "A StatefulSet's serviceName names a Service of its namespace (warning when there is none) that is headless (clusterIP: None) and selects the StatefulSet's pods (error).",
    remediation: "Create (or fix) the Service named by spec.serviceName: clusterIP: None and a selector that matches the pod template's labels, so each pod gets its stable DNS name (<pod>.<service>.<namespace>.svc).",
    context: "Reads the Services of the StatefulSet's namespace (the manifest set; at admission, the cluster's Services of the namespace). Without context, or when the context holds no Service of that namespace, the check is skipped; a named Service that does not exist is a warning (the pods run without per-pod DNS names, and at admission it may be applied next); one that exists but is not headless or does not select the pods is an error.",
};

pub const STS_STORAGE: Check = Check {
    id: "sts-storage",
    severity: Severity::Error,
    description: "Every volumeClaimTemplate and PersistentVolumeClaim requests storage (error) from a storageClassName in allowedStorageClasses when that is non-empty (error); a claim that sets no storageClassName takes the cluster's default class (warning).",
    remediation: "Set spec.resources.requests.storage to the size the data needs, and spec.storageClassName to one of the StorageClasses the platform offers for it.",
    context: "",
};

pub const STS_BACKUP_MARKER: Check = Check {
    id: "sts-backup-marker",
    severity: Severity::Warning,
    description: "A StatefulSet with persistent volumes carries one of backupMarkers (default: Velero's backup.velero.io/backup-volumes) on itself, its pod template or its volumeClaimTemplates.",
    remediation: "Annotate the pod template with the backup tool's marker (for Velero file-system backup: backup.velero.io/backup-volumes: <volume names>), or add the marker your backup tool uses to backupMarkers.",
    context: "",
};

pub const STS_PVC_RETENTION: Check = Check {
    id: "sts-pvc-retention",
    severity: Severity::Warning,
    description: "A StatefulSet does not set persistentVolumeClaimRetentionPolicy.whenDeleted: Delete, which deletes its volumes' claims (and, with a Delete reclaim policy, the data) with the StatefulSet.",
    remediation: "Set persistentVolumeClaimRetentionPolicy.whenDeleted to Retain (the default), and delete claims deliberately when the data is no longer needed.",
    context: "",
};

pub const STS_GRACEFUL: Check = Check {
    id: "sts-graceful",
    severity: Severity::Error,
    description: "With requirePreStop (default false), a StatefulSet whose pods get a grace period has a preStop hook on an app container, so a quorum member or primary leaves cleanly before SIGTERM.",
    remediation: "Add lifecycle.preStop to the database container (hand over leadership, drain, flush), and keep terminationGracePeriodSeconds long enough for it.",
    context: "",
};

pub struct StatefulApplication;

impl Rule for StatefulApplication {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 15,
        id: "stateful-application",
        title: "Stateful applications",
        description: "StatefulSets have a headless Service that selects their pods, claims that request storage from an allowed class, a backup marker, claims that outlive the StatefulSet, and (when required) a preStop hook.",
        slide: "slides 77-78",
        checks: &[
            STS_HEADLESS_SERVICE,
            STS_STORAGE,
            STS_BACKUP_MARKER,
            STS_PVC_RETENTION,
            STS_GRACEFUL,
        ],
        resources: &[STATEFUL_SET, PVC],
        context: &[ContextResource::new(SERVICE, &["spec"])],
        operations: CREATE_UPDATE,
    };

    fn evaluate(
        object: &Object<'_>,
        cx: &Cx<'_, Settings>,
        out: &mut Findings,
    ) -> Result<(), String> {
        if let Some(workload) = object.workload() {
            checks::check_statefulset(object, workload, cx, out);
            return Ok(());
        }
        if object.is(PVC.group, PVC.kind) {
            let claim: checks::Claim = object.parse()?;
            checks::check_pvc(&claim, cx.settings, out);
        }
        Ok(())
    }
}

prodready_sdk::export_rule!(StatefulApplication);
