//! The checks, as pure functions over the workload view.

use std::collections::BTreeMap;

use prodready_sdk::k8s_openapi::api::core::v1::EmptyDirVolumeSource;
use prodready_sdk::k8s_openapi::api::core::v1::ResourceRequirements;
use prodready_sdk::k8s_openapi::apimachinery::pkg::api::resource::Quantity as KubeQuantity;
use prodready_sdk::quantity::{div_round, format_quantity, format_ratio};
use prodready_sdk::{ContainerRef, ContainerRole, Findings, Quantity, Workload};

use crate::settings::{CpuLimit, QosClass, Settings};
use crate::{CPU_LIMIT, EPHEMERAL_STORAGE, LIMIT_REQUEST_RATIO, QOS_CLASS, RESOURCES_SET};

const CPU: &str = "cpu";
const MEMORY: &str = "memory";
const EPHEMERAL_STORAGE_RESOURCE: &str = "ephemeral-storage";

/// The resources Kubernetes computes QoS from (`isSupportedQoSComputeResource`).
const QOS_RESOURCES: [&str; 2] = [CPU, MEMORY];

/// `resources_set_reported`: whether resources-set findings reach the user (its severity is
/// not `off`); qos-class then leaves a BestEffort pod's missing requests to it.
pub fn check_workload(
    w: &Workload<'_>,
    s: &Settings,
    resources_set_reported: bool,
    out: &mut Findings,
) {
    let mut requests_reported = false;
    for c in w.all_containers() {
        let res = Resources::of(c.resources());
        requests_reported |= resources_set(&c, res, out);
        cpu_limit(&c, res, s, out);
        limit_request_ratio(&c, res, s, out);
        ephemeral_storage(&c, res, s, out);
    }
    pod_resources_valid(w, out);
    empty_dir_size_limits(w, s, out);
    qos_class(w, s, requests_reported && resources_set_reported, out);
}

/// One value of a `requests` or `limits` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Absent,
    Valid {
        quantity: Quantity,
        text: &'a str,
    },
    /// Present but not a valid quantity; resources-set reports it, other checks count it as
    /// present and skip it.
    Invalid,
}

impl<'a> Value<'a> {
    fn of(q: Option<&'a KubeQuantity>) -> Value<'a> {
        match q {
            None => Value::Absent,
            Some(q) => match classify(&q.0) {
                Ok(quantity) => Value::Valid {
                    quantity,
                    text: q.0.trim(),
                },
                Err(_) => Value::Invalid,
            },
        }
    }

    /// Present with a value above zero, or present and invalid (reported elsewhere). Zero
    /// reserves and caps nothing, so it counts as unset.
    fn is_set(self) -> bool {
        match self {
            Value::Absent => false,
            Value::Valid { quantity, .. } => quantity > Quantity::ZERO,
            Value::Invalid => true,
        }
    }

    /// `None` when invalid; otherwise the quantity, if present.
    fn known(self) -> Option<Option<Quantity>> {
        match self {
            Value::Absent => Some(None),
            Value::Valid { quantity, .. } => Some(Some(quantity)),
            Value::Invalid => None,
        }
    }

    /// The quantity when present, valid and above zero.
    fn positive(self) -> Option<Quantity> {
        match self {
            Value::Valid { quantity, .. } if quantity > Quantity::ZERO => Some(quantity),
            _ => None,
        }
    }

    fn text(self) -> Option<&'a str> {
        match self {
            Value::Valid { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// Parses a quantity as the API server validates a request or limit: well formed and not
/// negative.
pub fn classify(text: &str) -> Result<Quantity, String> {
    let q = Quantity::parse(text).map_err(|e| format!("is not a valid quantity ({e})"))?;
    if q < Quantity::ZERO {
        return Err("is negative; requests and limits cannot be".to_string());
    }
    Ok(q)
}

/// A `resources` block (a container's, or the pod-level one).
#[derive(Debug, Clone, Copy, Default)]
pub struct Resources<'a> {
    requests: Option<&'a BTreeMap<String, KubeQuantity>>,
    limits: Option<&'a BTreeMap<String, KubeQuantity>>,
}

impl<'a> Resources<'a> {
    pub fn of(r: Option<&'a ResourceRequirements>) -> Resources<'a> {
        Resources {
            requests: r.and_then(|r| r.requests.as_ref()),
            limits: r.and_then(|r| r.limits.as_ref()),
        }
    }

    pub fn request(&self, name: &str) -> Value<'a> {
        Value::of(self.requests.and_then(|m| m.get(name)))
    }

    pub fn limit(&self, name: &str) -> Value<'a> {
        Value::of(self.limits.and_then(|m| m.get(name)))
    }

    /// The request after the API server's defaulting: the limit, when the request is absent.
    pub fn effective_request(&self, name: &str) -> Value<'a> {
        match self.request(name) {
            Value::Absent => self.limit(name),
            v => v,
        }
    }

    /// Whether the block names cpu or memory at all (Kubernetes then computes QoS from it).
    fn names_compute(&self) -> bool {
        QOS_RESOURCES.iter().any(|r| {
            self.requests.is_some_and(|m| m.contains_key(*r))
                || self.limits.is_some_and(|m| m.contains_key(*r))
        })
    }

    /// Every value that is not a valid quantity: (`requests`/`limits`, name, text, why).
    pub fn invalid(&self) -> Vec<(&'static str, &'a str, &'a str, String)> {
        [("requests", self.requests), ("limits", self.limits)]
            .into_iter()
            .flat_map(|(section, map)| {
                map.into_iter().flatten().filter_map(move |(name, q)| {
                    classify(&q.0)
                        .err()
                        .map(|why| (section, name.as_str(), q.0.as_str(), why))
                })
            })
            .collect()
    }
}

/// A spelling that parses, for a quantity that does not (`2GB` → `2G or 2Gi`).
fn spelling_hint(text: &str) -> String {
    if Quantity::parse(text).is_ok() {
        return "use a value of zero or more".to_string();
    }
    // `512MB`, `2gb`, `64KB`: a byte unit after a decimal suffix, in any case. Suggest the
    // decimal suffix (as Kubernetes spells it: k lowercase, the rest uppercase) and the binary one.
    let stem = text.trim().strip_suffix(['B', 'b']).unwrap_or_default();
    let mut candidates: Vec<String> = Vec::new();
    if let Some(unit) = stem.chars().last().filter(|c| "kKmMgGtTpP".contains(*c)) {
        let number = stem.get(..stem.len().saturating_sub(1)).unwrap_or_default();
        let upper = unit.to_ascii_uppercase();
        let decimal = if upper == 'K' { 'k' } else { upper };
        candidates.push(format!("{number}{decimal}"));
        candidates.push(format!("{number}{upper}i"));
    }
    let valid: Vec<String> = candidates
        .into_iter()
        .filter(|c| matches!(classify(c), Ok(q) if q > Quantity::ZERO))
        .collect();
    if valid.is_empty() {
        "write it as Kubernetes does, e.g. 250m (cpu) or 512Mi (memory)".to_string()
    } else {
        format!("write it as {}", valid.join(" or "))
    }
}

/// Reports invalid quantities and missing requests or memory limit; returns whether it
/// reported missing requests (the cause a BestEffort pod's qos-class finding would repeat).
pub fn resources_set(c: &ContainerRef<'_, '_>, res: Resources<'_>, out: &mut Findings) -> bool {
    for (section, name, text, why) in res.invalid() {
        out.report(
            &RESOURCES_SET,
            c.field(&format!("resources.{section}.{name}")),
            format!(
                "container \"{}\": resources.{section}.{name} \"{text}\" {why}; {}",
                c.name(),
                spelling_hint(text)
            ),
        );
    }
    let mut missing = Vec::new();
    let mut fixes = Vec::new();
    if !res.effective_request(CPU).is_set() {
        missing.push("requests.cpu");
        fixes.push("resources.requests.cpu (measured use, e.g. 100m)".to_string());
    }
    if !res.effective_request(MEMORY).is_set() {
        missing.push("requests.memory");
        fixes.push("resources.requests.memory (measured use, e.g. 256Mi)".to_string());
    }
    let requests_missing = !missing.is_empty();
    let limit_missing = !res.limit(MEMORY).is_set();
    if limit_missing {
        missing.push("limits.memory");
        fixes.push(match res.request(MEMORY) {
            Value::Valid { quantity, text } if quantity > Quantity::ZERO => {
                format!("resources.limits.memory (e.g. {text}, its request)")
            }
            _ => "resources.limits.memory (e.g. equal to the memory request)".to_string(),
        });
    }
    if missing.is_empty() {
        return false;
    }
    let mut why = Vec::new();
    if requests_missing {
        why.push("the scheduler places pods by their requests, so it reserves nothing for what is not requested");
    }
    if limit_missing {
        why.push("without a memory limit one leak can exhaust the node's memory and get its neighbours evicted");
    }
    out.report(
        &RESOURCES_SET,
        c.field("resources"),
        format!(
            "container \"{}\" sets no {}: {}. Set {}",
            c.name(),
            missing.join(", "),
            why.join("; "),
            join_and(&fixes)
        ),
    );
    requests_missing
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[String]) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// Invalid quantities in the pod-level `spec.resources` (resources-set).
pub fn pod_resources_valid(w: &Workload<'_>, out: &mut Findings) {
    let res = Resources::of(w.spec.resources.get_at(|| w.path("resources")));
    for (section, name, text, why) in res.invalid() {
        out.report(
            &RESOURCES_SET,
            w.path(&format!("resources.{section}.{name}")),
            format!(
                "pod-level resources.{section}.{name} \"{text}\" {why}; {}",
                spelling_hint(text)
            ),
        );
    }
}

pub fn cpu_limit(c: &ContainerRef<'_, '_>, res: Resources<'_>, s: &Settings, out: &mut Findings) {
    match s.cpu_limit {
        CpuLimit::Ignore => {}
        CpuLimit::Require => {
            if res.limit(CPU).is_set() {
                return;
            }
            let example = match res.request(CPU) {
                Value::Valid { quantity, text } if quantity > Quantity::ZERO => {
                    format!("e.g. {text}, its request, or a little above it")
                }
                _ => "e.g. 500m, with a request no higher".to_string(),
            };
            out.report(
                &CPU_LIMIT,
                c.field("resources.limits"),
                format!(
                    "container \"{}\" has no cpu limit (cpuLimit: require): a busy loop can take every idle core and starve its neighbours. Set resources.limits.cpu ({example})",
                    c.name()
                ),
            );
        }
        CpuLimit::Forbid => {
            let limit = res.limit(CPU);
            if limit == Value::Absent {
                return;
            }
            let keep = match (res.request(CPU), limit.text()) {
                (Value::Absent, Some(text)) => format!(
                    "; its cpu request defaults to this limit, so set resources.requests.cpu: {text} when you remove it"
                ),
                _ => String::new(),
            };
            out.report(
                &CPU_LIMIT,
                c.field("resources.limits.cpu"),
                format!(
                    "container \"{}\" sets a cpu limit (cpuLimit: forbid): it is throttled even while the node has idle cpu, which shows up as latency. Remove resources.limits.cpu{keep}",
                    c.name()
                ),
            );
        }
    }
}

pub fn limit_request_ratio(
    c: &ContainerRef<'_, '_>,
    res: Resources<'_>,
    s: &Settings,
    out: &mut Findings,
) {
    for r in QOS_RESOURCES {
        let Some(ratio) = s.max_limit_request_ratio.get(r) else {
            continue;
        };
        let (
            Value::Valid {
                quantity: request,
                text: request_text,
            },
            Value::Valid {
                quantity: limit,
                text: limit_text,
            },
        ) = (res.request(r), res.limit(r))
        else {
            continue;
        };
        // A limit at or below its request is within any ratio the settings accept (>= 1);
        // asking within_ratio could overflow on huge values.
        if limit <= request || limit.within_ratio(request, ratio) {
            continue;
        }
        // The ratio to a thousandth, as within_ratio takes it.
        let ratio_milli = (ratio * 1000.0).round() as i128;
        let max_limit = request
            .nanos()
            .checked_mul(ratio_milli)
            .map(|n| format_quantity(r, div_round(n, 1000, false), false));
        let min_request = limit
            .nanos()
            .checked_mul(1000)
            .map(|n| format_quantity(r, div_round(n, ratio_milli, true), true));
        let ratio_text = format_ratio(ratio);
        let fix = match (max_limit, min_request) {
            (Some(max), Some(min)) if !request.is_zero() => {
                format!("Lower limits.{r} to at most {max} or raise requests.{r} to at least {min}")
            }
            (_, Some(min)) => format!("Raise requests.{r} to at least {min}"),
            _ => format!("Bring limits.{r} within {ratio_text} times requests.{r}"),
        };
        let how_far = if request.is_zero() {
            format!("requests.{r} is 0, so limits.{r} {limit_text} is no multiple of it")
        } else {
            let actual = format_ratio(limit.ratio_to(request));
            // Rounding can hide an excess of a few bytes; say so rather than "2 times, above 2".
            let times = if actual.parse::<f64>().is_ok_and(|a| a > ratio) {
                format!("{actual} times")
            } else {
                format!("just over {ratio_text} times")
            };
            format!(
                "limits.{r} {limit_text} is {times} requests.{r} {request_text}, above maxLimitRequestRatio.{r} {ratio_text}"
            )
        };
        out.report(
            &LIMIT_REQUEST_RATIO,
            c.field(&format!("resources.limits.{r}")),
            format!(
                "container \"{}\": {how_far}; the scheduler reserves {request_text} but the container may use {limit_text}, overcommitting the node. {fix}",
                c.name()
            ),
        );
    }
}

pub fn ephemeral_storage(
    c: &ContainerRef<'_, '_>,
    res: Resources<'_>,
    s: &Settings,
    out: &mut Findings,
) {
    if !s.require_ephemeral_storage {
        return;
    }
    let request = res.effective_request(EPHEMERAL_STORAGE_RESOURCE);
    let limit = res.limit(EPHEMERAL_STORAGE_RESOURCE);
    let fix = match (request.is_set(), limit.is_set()) {
        (true, true) => return,
        (false, false) => "resources.requests.ephemeral-storage and resources.limits.ephemeral-storage (e.g. 1Gi and 2Gi)".to_string(),
        (true, false) => match request.text() {
            Some(text) => format!("resources.limits.ephemeral-storage (e.g. {text}, its request, or more)"),
            None => "resources.limits.ephemeral-storage (e.g. 2Gi)".to_string(),
        },
        (false, true) => match limit.text() {
            Some(text) => format!("resources.requests.ephemeral-storage (e.g. {text}, its limit, or less)"),
            None => "resources.requests.ephemeral-storage (e.g. 1Gi)".to_string(),
        },
    };
    let missing = match (request.is_set(), limit.is_set()) {
        (false, false) => "ephemeral-storage request or limit",
        (true, _) => "ephemeral-storage limit",
        (false, _) => "ephemeral-storage request",
    };
    out.report(
        &EPHEMERAL_STORAGE,
        c.field("resources"),
        format!(
            "container \"{}\" sets no {missing}: logs, caches and temp files in its writable layer fill the node's disk, and disk pressure evicts every pod on the node. Set {fix}",
            c.name()
        ),
    );
}

/// Every emptyDir has a valid sizeLimit; memory-backed ones are reported first, as they count
/// against the pod's memory.
pub fn empty_dir_size_limits(w: &Workload<'_>, s: &Settings, out: &mut Findings) {
    let mut missing: Vec<(bool, String, String)> = Vec::new();
    for (path, v) in w.volumes() {
        let Some(empty_dir) = v.source::<EmptyDirVolumeSource>("emptyDir", || path.clone()) else {
            continue;
        };
        let field = format!("{path}.emptyDir.sizeLimit");
        match &empty_dir.size_limit {
            Some(q) => {
                // An invalid sizeLimit is reported whatever requireEmptyDirSizeLimit says.
                if let Err(why) = classify(&q.0) {
                    out.report(
                        &EPHEMERAL_STORAGE,
                        field,
                        format!(
                            "volume \"{}\": emptyDir.sizeLimit \"{}\" {why}; {}",
                            v.name,
                            q.0,
                            spelling_hint(&q.0)
                        ),
                    );
                }
            }
            None if s.require_empty_dir_size_limit => {
                let memory = empty_dir.medium.as_deref() == Some("Memory");
                let grows = if memory {
                    "it is memory-backed (tmpfs): what it holds counts against the pod's memory, so it can grow until the pod is OOM-killed or evicted"
                } else {
                    "it can grow until the node's disk is full, and disk pressure evicts every pod on the node"
                };
                missing.push((
                    memory,
                    field,
                    format!(
                        "volume \"{}\": emptyDir has no sizeLimit, so {grows}. Set emptyDir.sizeLimit (e.g. 1Gi, above what it holds at peak)",
                        v.name
                    ),
                ));
            }
            None => {}
        }
    }
    missing.sort_by_key(|(memory, _, _)| !memory);
    for (_, field, message) in missing {
        out.report(&EPHEMERAL_STORAGE, field, message);
    }
}

fn add(map: &mut BTreeMap<&'static str, Quantity>, name: &'static str, q: Quantity) {
    let sum = match map.get(name) {
        Some(prev) => Quantity::from_nanos(prev.nanos().saturating_add(q.nanos())),
        None => q,
    };
    map.insert(name, sum);
}

fn plus(a: Quantity, b: Quantity) -> Quantity {
    Quantity::from_nanos(a.nanos().saturating_add(b.nanos()))
}

/// The pod's effective request of a resource from its containers, as the API server
/// aggregates it to default pod-level requests: app containers and sidecars run together,
/// and each init container runs beside the sidecars started before it. `None` when a value
/// is invalid.
fn aggregate_container_request(w: &Workload<'_>, name: &str) -> Option<Quantity> {
    let request = |c: &ContainerRef<'_, '_>| -> Option<Quantity> {
        let res = Resources::of(c.resources());
        Some(
            res.effective_request(name)
                .known()?
                .unwrap_or(Quantity::ZERO),
        )
    };
    let mut running = Quantity::ZERO;
    for c in w.containers() {
        running = plus(running, request(&c)?);
    }
    let mut sidecars = Quantity::ZERO;
    let mut init_peak = Quantity::ZERO;
    for c in w.init_containers() {
        let q = request(&c)?;
        let during = if c.role == ContainerRole::Sidecar {
            running = plus(running, q);
            sidecars = plus(sidecars, q);
            sidecars
        } else {
            plus(q, sidecars)
        };
        init_peak = init_peak.max(during);
    }
    Some(running.max(init_peak))
}

/// The pod-level request of a resource after the API server's defaulting: when only the
/// limit is set, the containers' aggregate request if above zero, else the limit.
fn pod_effective_request(
    w: &Workload<'_>,
    pod: Resources<'_>,
    name: &str,
) -> Option<Option<Quantity>> {
    match pod.request(name) {
        Value::Absent => match pod.limit(name).known()? {
            None => Some(None),
            Some(limit) => {
                let aggregate = aggregate_container_request(w, name)?;
                Some(Some(if aggregate > Quantity::ZERO {
                    aggregate
                } else {
                    limit
                }))
            }
        },
        v => v.known(),
    }
}

/// The pod's QoS class as Kubernetes computes it (`ComputePodQOS`), after the API server's
/// defaulting of requests from limits. `None` when a cpu or memory quantity is invalid
/// (resources-set reports it).
pub fn compute_qos(w: &Workload<'_>) -> Option<QosClass> {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    let mut guaranteed = true;
    let pod = Resources::of(w.spec.resources.get_at(|| w.path("resources")));
    if pod.names_compute() {
        for r in QOS_RESOURCES {
            if let Some(q) = pod_effective_request(w, pod, r)?.filter(|q| *q > Quantity::ZERO) {
                add(&mut requests, r, q);
            }
            match pod.limit(r).known()? {
                Some(q) if q > Quantity::ZERO => add(&mut limits, r, q),
                _ => guaranteed = false,
            }
        }
    } else {
        for c in w.all_containers() {
            let res = Resources::of(c.resources());
            for r in QOS_RESOURCES {
                if let Some(q) = res
                    .effective_request(r)
                    .known()?
                    .filter(|q| *q > Quantity::ZERO)
                {
                    add(&mut requests, r, q);
                }
                match res.limit(r).known()? {
                    Some(q) if q > Quantity::ZERO => add(&mut limits, r, q),
                    _ => guaranteed = false,
                }
            }
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return Some(QosClass::BestEffort);
    }
    if guaranteed
        && requests.len() == limits.len()
        && requests.iter().all(|(r, q)| limits.get(r) == Some(q))
    {
        return Some(QosClass::Guaranteed);
    }
    Some(QosClass::Burstable)
}

/// What to change, container by container (or in `spec.resources`), to reach Guaranteed.
fn guaranteed_fixes(w: &Workload<'_>) -> Vec<String> {
    let mut fixes = Vec::new();
    let pod = Resources::of(w.spec.resources.get_at(|| w.path("resources")));
    if pod.names_compute() {
        for r in QOS_RESOURCES {
            let limit = pod.limit(r);
            let request = pod_effective_request(w, pod, r).flatten();
            match (limit.positive(), limit.text()) {
                (Some(l), Some(text)) if request != Some(l) => fixes.push(format!(
                    "set spec.resources.requests.{r} to {text} (its limit)"
                )),
                (Some(_), _) => {}
                (None, _) => fixes.push(match pod.request(r).text() {
                    Some(text) => format!("set spec.resources.limits.{r} to {text} (its request)"),
                    None => {
                        format!("set spec.resources.requests.{r} and limits.{r} to the same value")
                    }
                }),
            }
        }
        return fixes;
    }
    for c in w.all_containers() {
        let res = Resources::of(c.resources());
        for r in QOS_RESOURCES {
            let request = res.effective_request(r);
            let limit = res.limit(r);
            let fix = match (limit.positive(), limit.text()) {
                (Some(l), Some(text)) if request.positive() != Some(l) => {
                    format!("set requests.{r} to {text} (its limit)")
                }
                (Some(_), _) => continue,
                (None, _) => match (request.positive(), request.text()) {
                    (Some(_), Some(text)) => format!("set limits.{r} to {text} (its request)"),
                    _ => format!("set requests.{r} and limits.{r} to the same value"),
                },
            };
            fixes.push(format!("container \"{}\": {fix}", c.name()));
        }
    }
    fixes
}

/// `requests_reported`: resources-set already told the user to set requests. Then a
/// BestEffort pod that only needs Burstable is not reported again for the same fix.
pub fn qos_class(w: &Workload<'_>, s: &Settings, requests_reported: bool, out: &mut Findings) {
    let Some(class) = compute_qos(w) else {
        return;
    };
    let priority_class = w.spec.priority_class_name.as_deref();
    let required = s.required_qos(priority_class);
    if class >= required {
        return;
    }
    if class == QosClass::BestEffort && required == QosClass::Burstable && requests_reported {
        return;
    }
    let why = match priority_class.filter(|p| s.min_qos_by_priority_class.contains_key(*p)) {
        Some(p) => format!(
            "priorityClassName \"{p}\" requires at least {required} (minQosByPriorityClass)"
        ),
        None => format!("minQos requires at least {required}"),
    };
    let fix = if required == QosClass::Guaranteed {
        let fixes = guaranteed_fixes(w);
        if fixes.is_empty() {
            "give every container cpu and memory limits equal to its requests".to_string()
        } else {
            fixes.join("; ")
        }
    } else {
        "set cpu and memory requests on its containers (e.g. resources.requests: {cpu: 100m, memory: 256Mi})".to_string()
    };
    out.report(
        &QOS_CLASS,
        w.path("containers"),
        format!(
            "pod QoS class is {class}, but {why}: under node pressure the kubelet evicts BestEffort pods first, then Burstable, and Guaranteed last. To reach {required}: {fix}"
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use prodready_sdk::{WorkloadKind, testing};
    use serde_json::{Value as Json, json};

    fn workload(kind: WorkloadKind, spec: Json) -> Workload<'static> {
        testing::workload_of(kind, json!({"app": "web"}), spec)
    }

    fn deployment(spec: Json) -> Workload<'static> {
        workload(WorkloadKind::Deployment, spec)
    }

    fn run_with(w: &Workload<'_>, s: &Settings) -> Vec<(&'static str, String)> {
        let mut out = Findings::new();
        check_workload(w, s, true, &mut out);
        out.items()
            .iter()
            .map(|f| (f.check.id, f.path.clone()))
            .collect()
    }

    fn run(w: &Workload<'_>) -> Vec<(&'static str, String)> {
        run_with(w, &Settings::default())
    }

    fn messages(w: &Workload<'_>, s: &Settings) -> Vec<String> {
        let mut out = Findings::new();
        check_workload(w, s, true, &mut out);
        out.items().iter().map(|f| f.message.clone()).collect()
    }

    fn settings(v: Json) -> Settings {
        serde_json::from_value(v).unwrap()
    }

    fn p(s: &str) -> String {
        s.to_string()
    }

    /// A container that passes every check with default settings.
    fn clean(name: &str) -> Json {
        json!({
            "name": name, "image": format!("registry.example/{name}:1.4.2"),
            "resources": {
                "requests": {"cpu": "250m", "memory": "256Mi", "ephemeral-storage": "1Gi"},
                "limits": {"memory": "512Mi", "ephemeral-storage": "2Gi"}
            }
        })
    }

    fn with_resources(name: &str, resources: Json) -> Json {
        json!({"name": name, "image": "registry.example/app:2", "resources": resources})
    }

    fn qos(spec: Json) -> Option<QosClass> {
        compute_qos(&deployment(spec))
    }

    #[test]
    fn a_clean_workload_passes_every_check() {
        let w = deployment(json!({
            "initContainers": [clean("migrate")],
            "containers": [clean("api"), clean("proxy")],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "500Mi"}}, {"name": "cfg", "configMap": {"name": "cfg"}}]
        }));
        assert_eq!(run(&w), vec![]);
    }

    #[test]
    fn a_container_without_resources_is_one_finding_for_one_cause() {
        // BestEffort: resources-set says to set requests; qos-class would say the same.
        let w = deployment(json!({"containers": [{"name": "api", "image": "api:1"}]}));
        assert_eq!(
            run(&w),
            vec![(
                "resources-set",
                p("spec.template.spec.containers[0].resources")
            )]
        );
        // Unless resources-set is switched off: then qos-class speaks.
        let mut out = Findings::new();
        check_workload(&w, &Settings::default(), false, &mut out);
        assert_eq!(out.ids(), vec!["resources-set", "qos-class"]);
        // A higher requirement (Guaranteed) is its own fix, reported beside resources-set.
        let s = Settings {
            min_qos: QosClass::Guaranteed,
            ..Settings::default()
        };
        assert_eq!(
            run_with(&w, &s),
            vec![
                (
                    "resources-set",
                    p("spec.template.spec.containers[0].resources")
                ),
                ("qos-class", p("spec.template.spec.containers")),
            ]
        );
        // Per-container ephemeral storage is opt-in.
        let s = Settings {
            require_ephemeral_storage: true,
            ..Settings::default()
        };
        assert_eq!(
            run_with(&w, &s),
            vec![
                (
                    "resources-set",
                    p("spec.template.spec.containers[0].resources")
                ),
                (
                    "ephemeral-storage",
                    p("spec.template.spec.containers[0].resources")
                ),
            ]
        );
    }

    #[test]
    fn resources_set_lists_only_what_is_missing_with_a_concrete_limit() {
        let w = deployment(json!({"containers": [with_resources("api", json!({
            "requests": {"cpu": "100m", "memory": "300Mi", "ephemeral-storage": "1Gi"},
            "limits": {"ephemeral-storage": "1Gi"}
        }))]}));
        assert_eq!(
            run(&w),
            vec![(
                "resources-set",
                p("spec.template.spec.containers[0].resources")
            )]
        );
        let m = messages(&w, &Settings::default());
        assert!(m[0].contains("sets no limits.memory"), "{}", m[0]);
        assert!(m[0].contains("e.g. 300Mi, its request"), "{}", m[0]);
        assert!(
            !m[0].contains("scheduler"),
            "only the memory limit is missing: {}",
            m[0]
        );
    }

    #[test]
    fn a_request_defaults_to_its_limit() {
        let w = deployment(json!({"containers": [with_resources("api", json!({
            "limits": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "1Gi"}
        }))]}));
        assert_eq!(run(&w), vec![]);
        assert_eq!(compute_qos(&w), Some(QosClass::Guaranteed));
    }

    #[test]
    fn zero_counts_as_unset() {
        let w = deployment(json!({"containers": [with_resources("api", json!({
            "requests": {"cpu": "0", "memory": "128Mi", "ephemeral-storage": "1Gi"},
            "limits": {"cpu": "1", "memory": "128Mi", "ephemeral-storage": "1Gi"}
        }))]}));
        assert_eq!(
            run(&w),
            vec![(
                "resources-set",
                p("spec.template.spec.containers[0].resources")
            )]
        );
    }

    #[test]
    fn init_containers_and_cronjob_paths() {
        let w = workload(
            WorkloadKind::CronJob,
            json!({
                "restartPolicy": "OnFailure",
                "initContainers": [{"name": "fetch", "image": "fetch:1"}],
                "containers": [clean("report")]
            }),
        );
        let prefix = "spec.jobTemplate.spec.template.spec";
        assert_eq!(
            run(&w),
            vec![(
                "resources-set",
                format!("{prefix}.initContainers[0].resources")
            ),]
        );
    }

    #[test]
    fn invalid_quantities_are_resources_set_violations_not_panics() {
        let w = deployment(json!({"containers": [with_resources("api", json!({
            "requests": {"cpu": "250m", "memory": "256Mi", "ephemeral-storage": "1Gi"},
            "limits": {"memory": "2GB", "ephemeral-storage": "-1Gi"}
        }))]}));
        assert_eq!(
            run(&w),
            vec![
                (
                    "resources-set",
                    p("spec.template.spec.containers[0].resources.limits.ephemeral-storage")
                ),
                (
                    "resources-set",
                    p("spec.template.spec.containers[0].resources.limits.memory")
                ),
            ]
        );
        let m = messages(&w, &Settings::default());
        assert!(m[0].contains("\"-1Gi\" is negative"), "{}", m[0]);
        assert!(m[1].contains("\"2GB\" is not a valid quantity"), "{}", m[1]);
        assert!(m[1].contains("write it as 2G or 2Gi"), "{}", m[1]);
        assert_eq!(
            compute_qos(&w),
            None,
            "QoS is not guessed from an invalid quantity"
        );
    }

    #[test]
    fn invalid_pod_level_and_size_limit_quantities_are_reported() {
        let w = deployment(json!({
            "resources": {"limits": {"cpu": "two"}},
            "containers": [clean("api")],
            "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1 GB"}}]
        }));
        let off = settings(json!({"requireEmptyDirSizeLimit": false}));
        assert_eq!(
            run_with(&w, &off),
            vec![
                (
                    "resources-set",
                    p("spec.template.spec.resources.limits.cpu")
                ),
                (
                    "ephemeral-storage",
                    p("spec.template.spec.volumes[0].emptyDir.sizeLimit")
                ),
            ]
        );
    }

    #[test]
    fn huge_quantities_saturate_instead_of_overflowing() {
        let big = "99999999999999999999999999999";
        let c = |name: &str| {
            with_resources(
                name,
                json!({
                    "requests": {"cpu": big, "memory": big, "ephemeral-storage": big},
                    "limits": {"cpu": big, "memory": big, "ephemeral-storage": big}
                }),
            )
        };
        let w = deployment(json!({"containers": [c("a"), c("b"), c("c")]}));
        assert_eq!(run(&w), vec![]);
        assert_eq!(compute_qos(&w), Some(QosClass::Guaranteed));
        let w = deployment(json!({"containers": [with_resources("a", json!({
            "requests": {"cpu": "1", "memory": "1Ki", "ephemeral-storage": "1Ki"},
            "limits": {"memory": "9999999999999999999999999999Ei"}
        }))]}));
        assert_eq!(
            run(&w),
            vec![(
                "resources-set",
                p("spec.template.spec.containers[0].resources.limits.memory")
            ),]
        );
    }

    // The QoS table of Kubernetes' ComputePodQOS.

    #[test]
    fn qos_best_effort_without_requests_or_limits() {
        assert_eq!(
            qos(json!({"containers": [{"name": "a"}, {"name": "b", "resources": {}}]})),
            Some(QosClass::BestEffort)
        );
        // Zero values and resources other than cpu and memory do not count.
        assert_eq!(
            qos(json!({"containers": [with_resources("a", json!({
                "requests": {"cpu": "0", "ephemeral-storage": "1Gi"}, "limits": {"ephemeral-storage": "1Gi"}
            }))]})),
            Some(QosClass::BestEffort)
        );
    }

    #[test]
    fn qos_burstable_with_requests_below_limits_or_missing_limits() {
        assert_eq!(
            qos(
                json!({"containers": [with_resources("a", json!({"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}))]})
            ),
            Some(QosClass::Burstable)
        );
        assert_eq!(
            qos(
                json!({"containers": [with_resources("a", json!({"requests": {"memory": "1Gi"}}))]})
            ),
            Some(QosClass::Burstable)
        );
        // Memory limit only: requests default to it, but there is no cpu limit.
        assert_eq!(
            qos(json!({"containers": [with_resources("a", json!({"limits": {"memory": "1Gi"}}))]})),
            Some(QosClass::Burstable)
        );
        // One guaranteed container and one without resources.
        assert_eq!(
            qos(json!({"containers": [
                with_resources("a", json!({"limits": {"cpu": "1", "memory": "1Gi"}})),
                {"name": "b"}
            ]})),
            Some(QosClass::Burstable)
        );
        // Init containers count.
        assert_eq!(
            qos(json!({
                "initContainers": [with_resources("init", json!({"requests": {"cpu": "1", "memory": "1Gi"}}))],
                "containers": [with_resources("a", json!({"limits": {"cpu": "1", "memory": "1Gi"}}))]
            })),
            Some(QosClass::Burstable)
        );
    }

    #[test]
    fn qos_guaranteed_with_equal_requests_and_limits() {
        assert_eq!(
            qos(
                json!({"containers": [with_resources("a", json!({"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1000m", "memory": "2048Mi"}}))]})
            ),
            Some(QosClass::Guaranteed)
        );
        // Limits only: the API server defaults requests to them.
        assert_eq!(
            qos(json!({
                "initContainers": [with_resources("init", json!({"limits": {"cpu": "200m", "memory": "64Mi"}}))],
                "containers": [with_resources("a", json!({"limits": {"cpu": "1", "memory": "1Gi"}}))]
            })),
            Some(QosClass::Guaranteed)
        );
        // Ephemeral storage does not affect the class.
        assert_eq!(
            qos(json!({"containers": [with_resources("a", json!({
                "requests": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"},
                "limits": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "4Gi"}
            }))]})),
            Some(QosClass::Guaranteed)
        );
    }

    #[test]
    fn qos_from_pod_level_resources() {
        // Pod-level limits with no requests anywhere: requests default to the limits.
        assert_eq!(
            qos(json!({
                "resources": {"limits": {"cpu": "2", "memory": "4Gi"}},
                "containers": [{"name": "a"}, {"name": "b"}]
            })),
            Some(QosClass::Guaranteed)
        );
        // Containers ask less than the pod limit: the pod request defaults to their sum.
        assert_eq!(
            qos(json!({
                "resources": {"limits": {"cpu": "2", "memory": "4Gi"}},
                "containers": [with_resources("a", json!({"requests": {"cpu": "500m"}})), {"name": "b"}]
            })),
            Some(QosClass::Burstable)
        );
        // ... unless their aggregate equals it.
        assert_eq!(
            qos(json!({
                "resources": {"limits": {"cpu": "2", "memory": "4Gi"}},
                "initContainers": [with_resources("i", json!({"requests": {"cpu": "2"}}))],
                "containers": [with_resources("a", json!({"requests": {"cpu": "1"}})), with_resources("b", json!({"requests": {"cpu": "1"}}))]
            })),
            Some(QosClass::Guaranteed)
        );
        // Pod-level requests only.
        assert_eq!(
            qos(
                json!({"resources": {"requests": {"memory": "1Gi"}}, "containers": [{"name": "a"}]})
            ),
            Some(QosClass::Burstable)
        );
        // Pod-level resources that name neither cpu nor memory leave the containers in charge.
        assert_eq!(
            qos(
                json!({"resources": {"limits": {"hugepages-2Mi": "2Mi"}}, "containers": [{"name": "a"}]})
            ),
            Some(QosClass::BestEffort)
        );
    }

    #[test]
    fn aggregate_request_counts_sidecars_beside_init_containers() {
        let w = deployment(json!({
            "initContainers": [
                with_resources("mesh", json!({"requests": {"cpu": "100m"}})).as_object().cloned().map(|mut o| { o.insert("restartPolicy".into(), json!("Always")); Json::Object(o) }).unwrap(),
                with_resources("migrate", json!({"requests": {"cpu": "2"}}))
            ],
            "containers": [with_resources("a", json!({"requests": {"cpu": "1"}}))]
        }));
        // max(1 + 0.1 running, 2 + 0.1 during migrate) = 2.1
        assert_eq!(
            aggregate_container_request(&w, CPU),
            Some(Quantity::parse("2100m").unwrap())
        );
    }

    #[test]
    fn qos_class_override_by_priority_class() {
        let s = settings(
            json!({"minQosByPriorityClass": {"system-node-critical": "Guaranteed", "batch-low": "BestEffort"}}),
        );
        let agent = |priority: &str| {
            workload(
                WorkloadKind::DaemonSet,
                json!({"priorityClassName": priority, "containers": [clean("agent")]}),
            )
        };
        let w = agent("system-node-critical");
        assert_eq!(
            run_with(&w, &s),
            vec![("qos-class", p("spec.template.spec.containers"))]
        );
        let m = messages(&w, &s);
        assert!(
            m[0].starts_with("pod QoS class is Burstable, but priorityClassName \"system-node-critical\" requires at least Guaranteed"),
            "{}",
            m[0]
        );
        assert!(
            m[0].contains("container \"agent\": set limits.cpu to 250m (its request)"),
            "{}",
            m[0]
        );
        assert!(
            m[0].contains("container \"agent\": set requests.memory to 512Mi (its limit)"),
            "{}",
            m[0]
        );
        assert_eq!(run_with(&agent("other"), &s), vec![]);
        // An override can also lower the bar.
        let bare = workload(
            WorkloadKind::Job,
            json!({"priorityClassName": "batch-low", "restartPolicy": "Never", "containers": [{"name": "x"}]}),
        );
        assert_eq!(
            run_with(&bare, &s),
            vec![(
                "resources-set",
                p("spec.template.spec.containers[0].resources")
            ),]
        );
    }

    #[test]
    fn min_qos_guaranteed_accepts_a_guaranteed_pod() {
        let s = settings(json!({"minQos": "Guaranteed"}));
        let w = deployment(json!({"containers": [with_resources("api", json!({
            "limits": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"}
        }))]}));
        assert_eq!(run_with(&w, &s), vec![]);
    }

    #[test]
    fn cpu_limit_require_and_forbid() {
        let require = settings(json!({"cpuLimit": "require"}));
        let forbid = settings(json!({"cpuLimit": "forbid"}));
        let w = deployment(json!({"containers": [clean("api")]}));
        assert_eq!(
            run_with(&w, &require),
            vec![(
                "cpu-limit",
                p("spec.template.spec.containers[0].resources.limits")
            )]
        );
        assert_eq!(run_with(&w, &forbid), vec![]);
        let mut c = clean("api");
        c["resources"]["limits"]["cpu"] = json!("500m");
        let w = deployment(json!({"containers": [c]}));
        assert_eq!(run_with(&w, &require), vec![]);
        assert_eq!(
            run_with(&w, &forbid),
            vec![(
                "cpu-limit",
                p("spec.template.spec.containers[0].resources.limits.cpu")
            )]
        );
        assert_eq!(run(&w), vec![], "ignored by default");
        // Removing a limit that the request defaults to: the message says to keep the request.
        let w = deployment(json!({"containers": [with_resources("api", json!({
            "limits": {"cpu": "300m", "memory": "256Mi", "ephemeral-storage": "1Gi"}
        }))]}));
        let m = messages(&w, &forbid);
        assert!(
            m[0].contains("set resources.requests.cpu: 300m"),
            "{}",
            m[0]
        );
    }

    #[test]
    fn limit_request_ratio_is_exact_and_needs_both_values() {
        let c = |req: &str, lim: &str| {
            with_resources(
                "api",
                json!({
                    "requests": {"cpu": "100m", "memory": req, "ephemeral-storage": "1Gi"},
                    "limits": {"memory": lim, "ephemeral-storage": "1Gi"}
                }),
            )
        };
        let w = |req: &str, lim: &str| deployment(json!({"containers": [c(req, lim)]}));
        let path = p("spec.template.spec.containers[0].resources.limits.memory");
        assert_eq!(run(&w("1Gi", "2Gi")), vec![]);
        assert_eq!(
            run(&w("1Gi", "2049Mi")),
            vec![("limit-request-ratio", path.clone())]
        );
        assert_eq!(
            run(&w("1Gi", "4Gi")),
            vec![("limit-request-ratio", path.clone())]
        );
        let m = messages(&w("1Gi", "4Gi"), &Settings::default());
        assert!(m[0].contains("limits.memory 4Gi is 4 times requests.memory 1Gi, above maxLimitRequestRatio.memory 2"), "{}", m[0]);
        assert!(
            m[0].contains(
                "Lower limits.memory to at most 2Gi or raise requests.memory to at least 2Gi"
            ),
            "{}",
            m[0]
        );
        let m = messages(&w("3Gi", "6145Mi"), &Settings::default());
        assert!(
            m[0].contains("limits.memory 6145Mi is just over 2 times requests.memory 3Gi"),
            "{}",
            m[0]
        );
        assert!(
            m[0].contains("at most 6Gi or raise requests.memory to at least 3073Mi"),
            "{}",
            m[0]
        );
        // A limit below the request is not this check's concern.
        assert_eq!(run(&w("1Gi", "512Mi")), vec![]);
        // Switched off.
        let off = settings(json!({"maxLimitRequestRatio": {"memory": null}}));
        assert_eq!(run_with(&w("1Gi", "4Gi"), &off), vec![]);
        // Limit only: the request defaults to it, nothing to compare.
        let limits_only = deployment(json!({"containers": [with_resources("api", json!({
            "requests": {"cpu": "100m", "ephemeral-storage": "1Gi"},
            "limits": {"memory": "8Gi", "ephemeral-storage": "1Gi"}
        }))]}));
        assert_eq!(run(&limits_only), vec![]);
    }

    #[test]
    fn cpu_ratio_when_configured() {
        let s = settings(json!({"maxLimitRequestRatio": {"cpu": 4}}));
        let mut c = clean("api");
        c["resources"]["limits"]["cpu"] = json!("2");
        let w = deployment(json!({"containers": [c]}));
        assert_eq!(run(&w), vec![]);
        assert_eq!(
            run_with(&w, &s),
            vec![(
                "limit-request-ratio",
                p("spec.template.spec.containers[0].resources.limits.cpu")
            )]
        );
        let m = messages(&w, &s);
        assert!(
            m[0].contains("at most 1 or raise requests.cpu to at least 500m"),
            "{}",
            m[0]
        );
    }

    #[test]
    fn ephemeral_storage_per_container_and_empty_dir() {
        let w = workload(
            WorkloadKind::Job,
            json!({
                "restartPolicy": "Never",
                "initContainers": [with_resources("unpack", json!({
                    "requests": {"cpu": "100m", "memory": "64Mi", "ephemeral-storage": "1Gi"},
                    "limits": {"memory": "64Mi"}
                }))],
                "containers": [with_resources("train", json!({
                    "requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}
                }))],
                "volumes": [
                    {"name": "data", "emptyDir": {"sizeLimit": "5Gi"}},
                    {"name": "shm", "emptyDir": {"medium": "Memory"}}
                ]
            }),
        );
        let s = Settings {
            require_ephemeral_storage: true,
            ..Settings::default()
        };
        assert_eq!(
            run_with(&w, &s),
            vec![
                (
                    "ephemeral-storage",
                    p("spec.template.spec.initContainers[0].resources")
                ),
                (
                    "ephemeral-storage",
                    p("spec.template.spec.containers[0].resources")
                ),
                (
                    "ephemeral-storage",
                    p("spec.template.spec.volumes[1].emptyDir.sizeLimit")
                ),
            ]
        );
        let m = messages(&w, &s);
        assert!(m[0].contains("e.g. 1Gi, its request, or more"), "{}", m[0]);
        assert!(m[2].contains("memory-backed"), "{}", m[2]);
        let off =
            settings(json!({"requireEphemeralStorage": false, "requireEmptyDirSizeLimit": false}));
        assert_eq!(run_with(&w, &off), vec![]);
    }

    #[test]
    fn formats_quantities_for_messages() {
        let n = |s: &str| Quantity::parse(s).unwrap().nanos();
        assert_eq!(format_quantity(CPU, n("1500m"), false), "1500m");
        assert_eq!(format_quantity(CPU, n("2"), false), "2");
        assert_eq!(format_quantity(CPU, n("0.0001"), true), "1m");
        assert_eq!(format_quantity(MEMORY, n("2Gi"), false), "2Gi");
        assert_eq!(format_quantity(MEMORY, n("1500Mi"), false), "1500Mi");
        assert_eq!(format_quantity(MEMORY, n("1G"), false), "953Mi");
        assert_eq!(format_quantity(MEMORY, n("1G"), true), "954Mi");
        assert_eq!(format_quantity(MEMORY, n("4Ki"), false), "4Ki");
        assert_eq!(format_quantity(MEMORY, n("100"), false), "100");
        assert_eq!(format_ratio(4.0), "4");
        assert_eq!(format_ratio(2049.0 / 1024.0), "2.001");
    }

    #[test]
    fn spelling_hints() {
        assert_eq!(spelling_hint("2GB"), "write it as 2G or 2Gi");
        assert_eq!(spelling_hint("512kb"), "write it as 512k or 512Ki");
        assert_eq!(spelling_hint("64KB"), "write it as 64k or 64Ki");
        assert_eq!(spelling_hint("300mb"), "write it as 300M or 300Mi");
        assert_eq!(spelling_hint("1.5GB"), "write it as 1.5G or 1.5Gi");
        assert!(spelling_hint("B").contains("e.g. 250m"));
        assert!(spelling_hint("10 Gi").contains("e.g. 250m"));
        assert_eq!(spelling_hint("-1"), "use a value of zero or more");
        assert!(spelling_hint("lots").contains("e.g. 250m"));
    }
}
