//! The checks, as pure functions over the workload view.

use prodready_sdk::k8s_openapi::api::core::v1::Probe;
use prodready_sdk::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use prodready_sdk::quantity::format_quantity;
use prodready_sdk::serving::{Serving, container_serves, is_monitoring_port_name};
use prodready_sdk::shell::{basename, shell_script, simple_commands};
use prodready_sdk::{ContainerRef, ContainerRole, Findings, Quantity, Workload};

use crate::helpers::{Request, effective_request, footprint, image_matches};
use crate::settings::Settings;
use crate::{
    INIT_REQUEST_FOOTPRINT, NATIVE_SIDECAR, STARTUP_PROBE_FOR_SLOW_START, WARMUP_GATED_BY_READINESS,
};

pub fn check_workload(w: &Workload<'_>, serving: &Serving, s: &Settings, out: &mut Findings) {
    init_request_footprint(w, s, out);
    for c in w.all_containers() {
        startup_probe_for_slow_start(&c, s, out);
        warmup_gated_by_readiness(w, &c, serving, out);
        if c.role == ContainerRole::Sidecar {
            sidecar_starts_first(&c, serving, out);
        }
    }
    sidecar_images_in_run_once_pods(w, s, out);
}

// ---- init-request-footprint ------------------------------------------------------------------

const RESOURCES: [&str; 2] = ["cpu", "memory"];

/// Regular init containers whose request (with the sidecars already running) exceeds what the
/// running pod requests: the pod's effective request is the larger, for its whole life.
///
/// Not judged: a resource set at pod level (`spec.resources.requests`, which replaces the
/// containers' aggregate), a resource an app container does not request (resources-set's
/// finding; the comparison would be meaningless), and any invalid quantity.
pub fn init_request_footprint(w: &Workload<'_>, s: &Settings, out: &mut Findings) {
    if w.spec.init_containers.is_empty() {
        return;
    }
    let pod_level = w.spec.resources.get_at(|| w.path("resources"));
    for name in RESOURCES {
        if pod_level
            .and_then(|r| r.requests.as_ref())
            .is_some_and(|m| m.contains_key(name))
        {
            continue;
        }
        let app_requests_all = w.containers().all(
            |c| matches!(effective_request(&c, name), Request::Valid(q) if q > Quantity::ZERO),
        );
        if !app_requests_all {
            continue;
        }
        let Some(f) = footprint(w, name) else {
            continue;
        };
        let threshold = s.min_excess(name);
        for share in &f.init {
            let excess = share.during.nanos().saturating_sub(f.running.nanos());
            if excess <= 0 || excess < threshold.nanos() {
                continue;
            }
            let Some(c) = w.init_containers().nth(share.index) else {
                continue;
            };
            let with_sidecars = if share.during == share.own {
                String::new()
            } else {
                format!(
                    " ({} with the sidecars started before it)",
                    format_quantity(name, share.during.nanos(), true)
                )
            };
            let fits = f
                .running
                .nanos()
                .saturating_sub(share.during.nanos().saturating_sub(share.own.nanos()));
            out.report(
                &INIT_REQUEST_FOOTPRINT,
                c.field(&format!("resources.requests.{name}")),
                format!(
                    "init container \"{}\" requests {} {name}{with_sidecars}, more than the {} the app containers and sidecars request: Kubernetes reserves the larger for the pod's whole life, so the pod holds {} {name} more than it uses once \"{}\" has exited. Lower its request to at most {} (it runs before the app containers and may use what they will), or raise the app's requests if they need more",
                    c.name(),
                    format_quantity(name, share.own.nanos(), true),
                    format_quantity(name, f.running.nanos(), false),
                    format_quantity(name, excess, true),
                    c.name(),
                    format_quantity(name, fits.max(0), false),
                ),
            );
        }
    }
}

// ---- startup-probe-for-slow-start ------------------------------------------------------------

/// A livenessProbe that waits out a slow start with a long fixed delay, without a startupProbe.
pub fn startup_probe_for_slow_start(c: &ContainerRef<'_, '_>, s: &Settings, out: &mut Findings) {
    if !c.is_long_running() || c.startup_probe().is_some() {
        return;
    }
    let Some(live) = c.liveness_probe() else {
        return;
    };
    let delay = live.initial_delay_seconds.unwrap_or(0);
    if delay <= s.max_liveness_initial_delay_seconds {
        return;
    }
    let period = 10i64;
    let threshold = (i64::from(delay).saturating_mul(2) + period - 1) / period;
    out.report(
        &STARTUP_PROBE_FOR_SLOW_START,
        c.field("livenessProbe.initialDelaySeconds"),
        format!(
            "container \"{}\": the livenessProbe waits a fixed {delay}s (initialDelaySeconds) for the start: after every restart a hung container goes unnoticed that long, and a start slower than the delay plus the liveness failure budget is killed and restarted in a loop. Add a startupProbe with the liveness check, periodSeconds: {period} and failureThreshold: {threshold} (up to {}s), and drop initialDelaySeconds to 0-{}",
            c.name(),
            i64::from(delay).saturating_mul(2),
            s.max_liveness_initial_delay_seconds
        ),
    );
}

// ---- warmup-gated-by-readiness ---------------------------------------------------------------

/// Programs that exit 0 whatever the container's state.
const ALWAYS_SUCCEED: [&str; 3] = ["true", ":", "echo"];

/// Whether an exec probe's command can only succeed: `true`, `:`, `echo ...`, or a shell
/// running one of those (or `exit 0`) with no expansion or redirection that could fail.
pub fn exec_cannot_fail(command: &[String]) -> bool {
    let Some(first) = command.first() else {
        return false;
    };
    if ALWAYS_SUCCEED.contains(&basename(first)) {
        return true;
    }
    let Some(script) = shell_script(command) else {
        return false;
    };
    if script.contains(['$', '`', '>', '<', '|', '&', ';', '\n', '(', '{']) {
        return false;
    }
    let commands = simple_commands(script);
    let [words] = commands.as_slice() else {
        return false;
    };
    match words.split_first() {
        Some((w, _)) if ALWAYS_SUCCEED.contains(&w.as_str()) => true,
        Some((w, rest)) if w == "exit" => {
            rest.is_empty() || rest.iter().map(String::as_str).eq(["0"])
        }
        _ => false,
    }
}

fn probe_host(p: &Probe) -> Option<&str> {
    p.http_get
        .as_ref()
        .and_then(|h| h.host.as_deref())
        .or_else(|| p.tcp_socket.as_ref().and_then(|t| t.host.as_deref()))
        .filter(|h| !h.is_empty())
}

/// A serving container's readinessProbe must be able to fail while the container warms up.
/// Kubernetes already holds traffic while init containers and postStart hooks run (the pod is
/// not Ready before they finish), so what a readinessProbe gates is the warm-up inside the
/// container's own process: a probe that always succeeds, or asks another host, gates none of
/// it. A missing readinessProbe is health-check's probes-required, not repeated here.
pub fn warmup_gated_by_readiness(
    w: &Workload<'_>,
    c: &ContainerRef<'_, '_>,
    serving: &Serving,
    out: &mut Findings,
) {
    let Some(ready) = c.readiness_probe() else {
        return;
    };
    let Some(why) = container_serves(serving, w, c) else {
        return;
    };
    if let Some(cmd) = ready.exec.as_ref().and_then(|e| e.command.as_deref())
        && exec_cannot_fail(cmd)
    {
        out.report(
            &WARMUP_GATED_BY_READINESS,
            c.field("readinessProbe.exec.command"),
            format!(
                "container \"{}\" serves traffic ({why}), but its readinessProbe runs `{}`, which always succeeds: the pod is Ready, and receives traffic, as soon as the process starts, before it has warmed up or even listens. Probe the container itself: an httpGet on its readiness endpoint, a tcpSocket on its serving port, or a test of a file its entrypoint writes once warm-up is done",
                c.name(),
                cmd.join(" ")
            ),
        );
        return;
    }
    if w.spec.host_network != Some(true)
        && let Some(host) = probe_host(ready)
    {
        let field = if ready.http_get.is_some() {
            "readinessProbe.httpGet.host"
        } else {
            "readinessProbe.tcpSocket.host"
        };
        out.warn(
            &WARMUP_GATED_BY_READINESS,
            c.field(field),
            format!(
                "container \"{}\" serves traffic ({why}), but its readinessProbe is sent to host \"{host}\" instead of the pod's IP (the kubelet probes from the node, so even localhost is the node), and says nothing about whether this container has warmed up. Remove host (for a virtual host, set a Host header in httpHeaders)",
                c.name()
            ),
        );
    }
}

// ---- native-sidecar --------------------------------------------------------------------------

/// A native sidecar that offers a port to the pod (a proxy, an ambassador, a credential
/// helper) starts before the app only when its startup is observable: the kubelet starts the
/// next init container and the app containers once the sidecar is `started` — its process
/// runs, its postStart hook finished and its startupProbe (if any) succeeded. A readinessProbe
/// does not delay them; it only decides the pod's Ready condition.
///
/// Not judged: sidecars without such a port (log shippers and adapters depend on the app, not
/// the other way round), and sidecars a Service routes traffic to (they front the app; their
/// readiness is health-check's probes-required).
pub fn sidecar_starts_first(c: &ContainerRef<'_, '_>, serving: &Serving, out: &mut Findings) {
    if c.startup_probe().is_some() || c.lifecycle().is_some_and(|l| l.post_start.is_some()) {
        return;
    }
    if let Serving::Routed { targets, .. } = serving {
        let routed = targets.iter().any(|t| match t {
            IntOrString::Int(n) => c.declares_port(*n),
            IntOrString::String(name) => c.port_by_name(name).is_some(),
        });
        if routed {
            return;
        }
    }
    let Some(port) = c
        .ports()
        .iter()
        .find(|p| !p.name.as_deref().is_some_and(is_monitoring_port_name))
    else {
        return;
    };
    let readiness = if c.readiness_probe().is_some() {
        " (its readinessProbe does not delay them: it only decides whether the pod is Ready)"
    } else {
        ""
    };
    out.report(
        &NATIVE_SIDECAR,
        c.field("startupProbe"),
        format!(
            "sidecar \"{}\" offers port {} to the pod but has no startupProbe: the kubelet starts the next init containers and the app containers as soon as its process runs{readiness}, so they can connect before it listens and fail their start. Add a startupProbe on port {}",
            c.name(),
            port.container_port,
            port.container_port
        ),
    );
}

/// A Job (or a Pod that runs once) completes when all of its regular containers have exited;
/// a proxy or agent among them never exits on its own.
pub fn sidecar_images_in_run_once_pods(w: &Workload<'_>, s: &Settings, out: &mut Findings) {
    if w.is_long_running() || w.spec.containers.len() < 2 {
        return;
    }
    for c in w.containers() {
        let Some(image) = c.container.image.as_deref() else {
            continue;
        };
        let Some(pattern) = s.sidecar_images.iter().find(|p| image_matches(image, p)) else {
            continue;
        };
        out.report(
            &NATIVE_SIDECAR,
            c.field("image"),
            format!(
                "{} container \"{}\" runs {image} (sidecarImages: {pattern}), which does not exit on its own: a {} completes only when all of its containers have exited, so it never completes. Move \"{}\" to initContainers with restartPolicy: Always (a native sidecar, Kubernetes 1.29+), which is stopped once the other containers have exited",
                w.kind.as_str(),
                c.name(),
                if w.kind.is_batch() { "Job" } else { "Pod that does not restart" },
                c.name()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prodready_sdk::{WorkloadKind, testing};
    use serde_json::{Value, json};

    fn deployment(spec: Value) -> Workload<'static> {
        testing::workload_of(WorkloadKind::Deployment, json!({"app": "web"}), spec)
    }

    fn run_with(w: &Workload<'_>, serving: &Serving, s: &Settings) -> Vec<(&'static str, String)> {
        let mut out = Findings::new();
        check_workload(w, serving, s, &mut out);
        out.items()
            .iter()
            .map(|f| (f.check.id, f.path.clone()))
            .collect()
    }

    fn run(w: &Workload<'_>) -> Vec<(&'static str, String)> {
        run_with(w, &Serving::Unknown, &Settings::default())
    }

    fn messages(w: &Workload<'_>) -> Vec<String> {
        let mut out = Findings::new();
        check_workload(w, &Serving::Unknown, &Settings::default(), &mut out);
        out.items().iter().map(|f| f.message.clone()).collect()
    }

    fn req(cpu: &str, memory: &str) -> Value {
        json!({"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}})
    }

    #[test]
    fn an_init_container_above_the_running_pod_is_reported_by_how_much() {
        let w = deployment(json!({
            "initContainers": [{"name": "warm", "image": "w:1", "resources": req("2", "256Mi")}],
            "containers": [{"name": "web", "image": "w:1", "resources": req("500m", "512Mi")}]
        }));
        assert_eq!(
            run(&w),
            vec![(
                "init-request-footprint",
                "spec.template.spec.initContainers[0].resources.requests.cpu".to_string()
            )]
        );
        let m = &messages(&w)[0];
        assert!(m.contains("requests 2 cpu, more than the 500m"), "{m}");
        assert!(m.contains("holds 1500m cpu more"), "{m}");
        assert!(m.contains("at most 500m"), "{m}");
    }

    #[test]
    fn sidecars_count_on_both_sides_and_small_excesses_are_ignored() {
        // 300m + 200m sidecar = 500m running; the init runs beside the sidecar: 350m + 200m.
        let w = deployment(json!({
            "initContainers": [
                {"name": "mesh", "image": "m:1", "restartPolicy": "Always", "resources": req("200m", "64Mi"),
                 "startupProbe": {"tcpSocket": {"port": 15001}}},
                {"name": "warm", "image": "w:1", "resources": req("350m", "64Mi")}
            ],
            "containers": [{"name": "web", "image": "w:1", "resources": req("300m", "128Mi")}]
        }));
        // Excess 50m is below minExcess.cpu (100m).
        assert_eq!(run(&w), vec![]);
        let s: Settings = serde_json::from_value(json!({"minExcess": {"cpu": "0"}})).unwrap();
        assert_eq!(
            run_with(&w, &Serving::Unknown, &s),
            vec![(
                "init-request-footprint",
                "spec.template.spec.initContainers[1].resources.requests.cpu".to_string()
            )]
        );
    }

    #[test]
    fn missing_app_requests_and_pod_level_resources_are_not_judged() {
        let w = deployment(json!({
            "initContainers": [{"name": "warm", "image": "w:1", "resources": req("2", "2Gi")}],
            "containers": [{"name": "web", "image": "w:1"}]
        }));
        assert_eq!(run(&w), vec![]);
        let w = deployment(json!({
            "resources": {"requests": {"cpu": "2", "memory": "2Gi"}},
            "initContainers": [{"name": "warm", "image": "w:1", "resources": req("2", "2Gi")}],
            "containers": [{"name": "web", "image": "w:1", "resources": req("100m", "128Mi")}]
        }));
        assert_eq!(run(&w), vec![]);
        // An invalid quantity is resource-management's.
        let w = deployment(json!({
            "initContainers": [{"name": "warm", "image": "w:1", "resources": {"requests": {"cpu": "2 cores"}}}],
            "containers": [{"name": "web", "image": "w:1", "resources": req("100m", "128Mi")}]
        }));
        assert_eq!(run(&w), vec![]);
    }

    #[test]
    fn a_long_liveness_delay_without_startup_probe_warns() {
        let c = |liveness: Value, startup: Value| {
            deployment(json!({"containers": [{"name": "web", "image": "w:1",
                "livenessProbe": liveness, "startupProbe": startup}]}))
        };
        let slow = json!({"httpGet": {"path": "/livez", "port": 8080}, "initialDelaySeconds": 90});
        assert_eq!(
            run(&c(slow.clone(), Value::Null)),
            vec![(
                "startup-probe-for-slow-start",
                "spec.template.spec.containers[0].livenessProbe.initialDelaySeconds".to_string()
            )]
        );
        assert!(messages(&c(slow.clone(), Value::Null))[0].contains("failureThreshold: 18"));
        assert_eq!(
            run(&c(
                slow,
                json!({"httpGet": {"path": "/livez", "port": 8080}})
            )),
            vec![]
        );
        let ok = json!({"httpGet": {"path": "/livez", "port": 8080}, "initialDelaySeconds": 30});
        assert_eq!(run(&c(ok, Value::Null)), vec![]);
    }

    #[test]
    fn always_succeeding_commands() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for ok in [
            v(&["true"]),
            v(&["/bin/true"]),
            v(&["echo", "ready"]),
            v(&["sh", "-c", "exit 0"]),
            v(&["/bin/sh", "-c", "true"]),
            v(&["bash", "-c", "echo ok"]),
            v(&["sh", "-c", ":"]),
        ] {
            assert!(exec_cannot_fail(&ok), "{ok:?}");
        }
        for can_fail in [
            v(&["cat", "/tmp/ready"]),
            v(&["test", "-f", "/app/.health"]),
            v(&["sh", "-c", "test -f /tmp/ready"]),
            v(&["sh", "-c", "echo $(cat /tmp/ready)"]),
            v(&["sh", "-c", "exit 1"]),
            v(&["sh", "-c", "true && curl -f localhost:8080/ready"]),
            v(&["sh", "-c", "echo ok > /dev/full"]),
            v(&[]),
        ] {
            assert!(!exec_cannot_fail(&can_fail), "{can_fail:?}");
        }
    }

    fn serving_web(readiness: Value) -> Workload<'static> {
        deployment(json!({"containers": [{"name": "web", "image": "w:1",
            "ports": [{"name": "http", "containerPort": 8080}], "readinessProbe": readiness}]}))
    }

    #[test]
    fn readiness_that_cannot_observe_warm_up() {
        let w = serving_web(json!({"exec": {"command": ["sh", "-c", "exit 0"]}}));
        assert_eq!(
            run(&w),
            vec![(
                "warmup-gated-by-readiness",
                "spec.template.spec.containers[0].readinessProbe.exec.command".to_string()
            )]
        );
        let w = serving_web(
            json!({"httpGet": {"path": "/ready", "port": "http", "host": "127.0.0.1"}}),
        );
        let mut out = Findings::new();
        check_workload(&w, &Serving::Unknown, &Settings::default(), &mut out);
        assert_eq!(out.ids(), vec!["warmup-gated-by-readiness"]);
        assert_eq!(out.items()[0].severity, prodready_sdk::Severity::Warning);
        // The slide's pattern: a file the entrypoint writes after warm-up.
        let w = serving_web(json!({"exec": {"command": ["cat", "/app/.health"]}}));
        assert_eq!(run(&w), vec![]);
        let w = serving_web(json!({"tcpSocket": {"port": "http"}}));
        assert_eq!(run(&w), vec![]);
        // No readinessProbe: health-check's probes-required, not repeated.
        let w = deployment(json!({"containers": [{"name": "web", "image": "w:1",
            "ports": [{"name": "http", "containerPort": 8080}]}]}));
        assert_eq!(run(&w), vec![]);
        // Not serving (no traffic port): readiness gates no traffic.
        let w = deployment(json!({"containers": [{"name": "worker", "image": "w:1",
            "readinessProbe": {"exec": {"command": ["true"]}}}]}));
        assert_eq!(run(&w), vec![]);
    }

    #[test]
    fn sidecars_that_offer_a_port_start_first() {
        let pod = |sidecar: Value| {
            deployment(json!({"initContainers": [sidecar],
                "containers": [{"name": "app", "image": "a:1"}]}))
        };
        let proxy = json!({"name": "db-proxy", "image": "p:1", "restartPolicy": "Always",
            "ports": [{"name": "postgres", "containerPort": 5432}]});
        assert_eq!(
            run(&pod(proxy.clone())),
            vec![(
                "native-sidecar",
                "spec.template.spec.initContainers[0].startupProbe".to_string()
            )]
        );
        let mut ready = proxy.clone();
        ready["readinessProbe"] = json!({"tcpSocket": {"port": 5432}});
        assert!(messages(&pod(ready))[0].contains("does not delay them"));
        let mut started = proxy.clone();
        started["startupProbe"] = json!({"tcpSocket": {"port": 5432}});
        assert_eq!(run(&pod(started)), vec![]);
        let mut hooked = proxy.clone();
        hooked["lifecycle"] = json!({"postStart": {"exec": {"command": ["wait-for-proxy"]}}});
        assert_eq!(run(&pod(hooked)), vec![]);
        // A log shipper offers nothing to the app.
        let shipper = json!({"name": "logs", "image": "l:1", "restartPolicy": "Always",
            "ports": [{"name": "metrics", "containerPort": 2020}]});
        assert_eq!(run(&pod(shipper)), vec![]);
        // A sidecar a Service routes to fronts the app.
        let routed = Serving::Routed {
            services: vec!["db".into()],
            targets: vec![IntOrString::String("postgres".into())],
        };
        assert_eq!(run_with(&pod(proxy), &routed, &Settings::default()), vec![]);
    }

    #[test]
    fn sidecar_images_in_jobs() {
        let job = |containers: Value| {
            testing::workload_of(
                WorkloadKind::Job,
                json!({"app": "migrate"}),
                json!({"restartPolicy": "Never", "containers": containers}),
            )
        };
        let w = job(json!([
            {"name": "migrate", "image": "registry.example.com/migrate:1"},
            {"name": "cloud-sql-proxy", "image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1"}
        ]));
        assert_eq!(
            run(&w),
            vec![(
                "native-sidecar",
                "spec.template.spec.containers[1].image".to_string()
            )]
        );
        // Alone, it is the Job's work.
        let w = job(json!([{"name": "envoy", "image": "envoyproxy/envoy:v1.31.0"}]));
        assert_eq!(run(&w), vec![]);
        // As a native sidecar, the Job completes.
        let w = testing::workload_of(
            WorkloadKind::CronJob,
            json!({"app": "report"}),
            json!({"restartPolicy": "OnFailure",
                "initContainers": [{"name": "proxy", "image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2",
                    "restartPolicy": "Always", "startupProbe": {"tcpSocket": {"port": 5432}},
                    "ports": [{"containerPort": 5432}]}],
                "containers": [{"name": "report", "image": "r:1"}, {"name": "helper", "image": "h:1"}]}),
        );
        assert_eq!(run(&w), vec![]);
    }
}
