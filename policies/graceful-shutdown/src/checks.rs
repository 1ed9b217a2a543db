//! The checks, as pure functions over the workload view.

use prodready_sdk::k8s_openapi::api::core::v1::LifecycleHandler;
use prodready_sdk::serving::{Serving, container_serves};
use prodready_sdk::shell::{
    Pid1, ShellKind, basename, command_word, pid1_of, shell_script, simple_commands, sleep_ms,
    strip_env,
};
use prodready_sdk::{ContainerRef, Findings, Workload, WorkloadKind};

use crate::settings::Settings;
use crate::{GRACE_PERIOD_BOUNDS, PID1_SIGNAL, PRESTOP_DELAY, PRESTOP_FITS_GRACE};

pub fn check_workload(w: &Workload<'_>, serving: &Serving, s: &Settings, out: &mut Findings) {
    grace_period_bounds(w, serving, s, out);
    for c in w.all_containers().filter(|c| c.is_long_running()) {
        prestop_fits_grace(w, &c, s, out);
        pid1_signal(&c, out);
    }
    prestop_delay(w, serving, s, out);
}

/// How long a preStop hook waits before the container gets SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    /// Seconds of waiting the hook certainly does (its `sleep`s, rounded up).
    pub seconds: i64,
    /// The hook may wait longer than `seconds` in ways not visible here (an HTTP call, a
    /// script file, a `sleep $VAR`).
    pub opaque: bool,
}

impl Delay {
    const OPAQUE: Delay = Delay {
        seconds: 0,
        opaque: true,
    };

    fn from_ms(ms: i64, opaque: bool) -> Delay {
        let ms = ms.max(0);
        Delay {
            seconds: (ms / 1000).saturating_add(i64::from(ms % 1000 != 0)),
            opaque,
        }
    }
}

/// The delay of a preStop handler: `sleep.seconds`; an exec `sleep N...`; or the sum of the
/// `sleep`s of a `sh -c` script. Anything else (httpGet, tcpSocket, other programs, scripts
/// without a `sleep`) is opaque.
pub fn prestop_delay_of(h: &LifecycleHandler) -> Delay {
    if let Some(sleep) = &h.sleep {
        return Delay {
            seconds: sleep.seconds.max(0),
            opaque: false,
        };
    }
    let Some(exec) = &h.exec else {
        return Delay::OPAQUE;
    };
    let argv = strip_env(exec.command.as_deref().unwrap_or_default());
    if let Some((program, args)) = argv.split_first()
        && basename(program) == "sleep"
    {
        let (ms, all_known) = sleep_ms(args);
        return Delay::from_ms(ms, !all_known);
    }
    let Some(script) = shell_script(argv) else {
        return Delay::OPAQUE;
    };
    let mut total: i64 = 0;
    let mut found = false;
    let mut all_known = true;
    for words in simple_commands(script) {
        let Some((name, mut args)) = command_word(&words) else {
            continue;
        };
        let mut name = name;
        // `exec sleep 5` sleeps too.
        if name == "exec"
            && let Some((next, rest)) = args.split_first()
        {
            name = next.as_str();
            args = rest;
        }
        if basename(name) == "sleep" {
            found = true;
            let (ms, known) = sleep_ms(args);
            total = total.saturating_add(ms);
            all_known &= known;
        }
    }
    Delay::from_ms(total, !found || !all_known)
}

pub fn prestop_fits_grace(
    w: &Workload<'_>,
    c: &ContainerRef<'_, '_>,
    s: &Settings,
    out: &mut Findings,
) {
    let Some(hook) = c.pre_stop() else {
        return;
    };
    let grace = w.termination_grace_period_seconds();
    if grace <= 0 {
        // The kubelet runs no preStop hook at all with a grace period of 0: that is
        // grace-period-bounds' finding, not a hook that overruns.
        return;
    }
    let delay = prestop_delay_of(hook);
    let needed = delay.seconds.saturating_add(s.shutdown_budget_seconds);
    if needed <= grace {
        return;
    }
    let waits = match (delay.opaque, delay.seconds) {
        (true, 0) => "preStop hook takes an unknown time".to_string(),
        (true, d) => format!("preStop waits at least {d}s"),
        (false, d) => format!("preStop waits {d}s"),
    };
    out.report(
        &PRESTOP_FITS_GRACE,
        c.field("lifecycle.preStop"),
        format!(
            "container \"{}\": {waits} and the application needs shutdownBudgetSeconds ({}s) to drain after SIGTERM, but terminationGracePeriodSeconds is {}; SIGKILL lands mid-drain. Raise terminationGracePeriodSeconds to at least {needed} or shorten the preStop delay",
            c.name(),
            s.shutdown_budget_seconds,
            grace_text(w, grace),
        ),
    );
}

/// The grace period as messages show it, saying when it is Kubernetes' default.
fn grace_text(w: &Workload<'_>, grace: i64) -> String {
    if w.spec.termination_grace_period_seconds.is_some() {
        format!("{grace}s")
    } else {
        format!("{grace}s (the default, as it is unset)")
    }
}

/// Containers that serve traffic (a Service routes to them; or, with no Service in the set,
/// they declare traffic ports) wait in preStop so their pod leaves endpoints before SIGTERM.
pub fn prestop_delay(w: &Workload<'_>, serving: &Serving, s: &Settings, out: &mut Findings) {
    if !w.is_long_running() || s.min_pre_stop_seconds == 0 {
        return;
    }
    for c in w.all_containers() {
        let Some(why) = container_serves(serving, w, &c) else {
            continue;
        };
        let problem = match c.pre_stop().map(prestop_delay_of) {
            None => "has no preStop hook".to_string(),
            Some(d) if !d.opaque && d.seconds < s.min_pre_stop_seconds => {
                format!("has a preStop hook that waits only {}s", d.seconds)
            }
            _ => continue,
        };
        out.report(
            &PRESTOP_DELAY,
            c.field("lifecycle.preStop"),
            format!(
                "container \"{}\" serves traffic ({why}) but {problem}: it gets SIGTERM while its pod may still be in Service endpoints and load balancers, and requests routed to it fail. Add lifecycle.preStop.sleep.seconds of at least {} before the application stops",
                c.name(),
                s.min_pre_stop_seconds
            ),
        );
    }
}

/// The longest grace period that is not excessive for this workload, and the setting that
/// says so: the maximum for its kind (StatefulSets drain data and leave quorums, so they get
/// their own), raised to what a visible preStop delay plus shutdownBudgetSeconds needs; a
/// preStop whose duration is unknown (a drain script) may need up to the stateful maximum.
fn max_grace(w: &Workload<'_>, s: &Settings) -> (i64, &'static str) {
    let (mut max, mut why) = if w.kind == WorkloadKind::StatefulSet {
        (
            s.max_grace_period_seconds_stateful,
            "maxGracePeriodSecondsStateful",
        )
    } else {
        (s.max_grace_period_seconds, "maxGracePeriodSeconds")
    };
    for c in w.all_containers().filter(|c| c.is_long_running()) {
        let Some(d) = c.pre_stop().map(prestop_delay_of) else {
            continue;
        };
        let visible = d.seconds.saturating_add(s.shutdown_budget_seconds);
        let (needs, source) = if d.opaque && s.max_grace_period_seconds_stateful > visible {
            (
                s.max_grace_period_seconds_stateful,
                "maxGracePeriodSecondsStateful, as its preStop hook's duration is unknown",
            )
        } else {
            (visible, "its preStop delay plus shutdownBudgetSeconds")
        };
        if needs > max {
            max = needs;
            why = source;
        }
    }
    (max, why)
}

/// Below the minimum is an error — 0 too when it matters: with a grace period of 0 the
/// kubelet skips every preStop hook and leaves 2 seconds between SIGTERM and SIGKILL, which
/// drops in-flight requests of a workload that serves, and turns a preStop hook into dead
/// code; for a workload with neither it is a warning. Above the workload's maximum is a
/// warning: a long grace period stalls rollouts and drains, but cutting it short may cut a
/// drain.
pub fn grace_period_bounds(w: &Workload<'_>, serving: &Serving, s: &Settings, out: &mut Findings) {
    let grace = w.termination_grace_period_seconds();
    let min = s.min_grace_period_seconds;
    let path = w.path("terminationGracePeriodSeconds");
    if grace == 0 && min > 0 {
        let hooked = w
            .all_containers()
            .find(|c| c.is_long_running() && c.pre_stop().is_some());
        let serves = w
            .all_containers()
            .find_map(|c| container_serves(serving, w, &c).map(|why| (c.name().to_string(), why)));
        let fix = format!(
            "Set it to at least {min}: the preStop delay plus the time the application needs to drain"
        );
        match (hooked, serves) {
            (Some(c), _) => out.report(
                &GRACE_PERIOD_BOUNDS,
                path,
                format!(
                    "terminationGracePeriodSeconds: 0 makes the kubelet skip every preStop hook, so container \"{}\"'s never runs, and leaves 2s between SIGTERM and SIGKILL. {fix}",
                    c.name()
                ),
            ),
            (None, Some((name, why))) => out.report(
                &GRACE_PERIOD_BOUNDS,
                path,
                format!(
                    "terminationGracePeriodSeconds: 0 leaves 2s between SIGTERM and SIGKILL, and container \"{name}\" serves traffic ({why}): in-flight requests are dropped at every rollout and drain. {fix}"
                ),
            ),
            (None, None) => out.warn(
                &GRACE_PERIOD_BOUNDS,
                path,
                format!(
                    "terminationGracePeriodSeconds: 0 leaves 2s between SIGTERM and SIGKILL: the process has no time to finish its work or release what it holds. {fix}"
                ),
            ),
        }
        return;
    }
    if grace < min {
        let problem = if grace < 0 {
            format!("{grace} is negative: there is no time to drain")
        } else {
            format!(
                "{} is below minGracePeriodSeconds ({min}s): too short to drain",
                grace_text(w, grace)
            )
        };
        out.report(
            &GRACE_PERIOD_BOUNDS,
            path,
            format!(
                "terminationGracePeriodSeconds: {problem}. Set it to at least {min}: the preStop delay plus the time the application needs to drain"
            ),
        );
        return;
    }
    let (max, why) = max_grace(w, s);
    if grace > max {
        out.warn(
            &GRACE_PERIOD_BOUNDS,
            path,
            format!(
                "terminationGracePeriodSeconds: {} is above the {max}s this workload needs ({why}): a shutdown that hangs stalls rollouts and node drains that long. Lower it to the preStop delay plus the time the application needs to drain; if the drain really takes that long, raise the setting or exempt the object with the reason",
                grace_text(w, grace)
            ),
        );
    }
}

/// A container whose command runs a shell `-c` script that leaves the shell as PID 1: the
/// shell ignores SIGTERM (and forwards nothing), so the application is SIGKILLed at the end of
/// the grace period.
pub fn pid1_signal(c: &ContainerRef<'_, '_>, out: &mut Findings) {
    if c.command().is_empty() {
        // The image's entrypoint runs, and it is not known here.
        return;
    }
    let argv: Vec<String> = c.command().iter().chain(c.args()).cloned().collect();
    let argv = strip_env(&argv);
    let Some(script) = shell_script(argv) else {
        return;
    };
    let program = argv.first().map_or("sh", |s| basename(s));
    let Some(shell) = ShellKind::of(program, c.container.image.as_deref()) else {
        return;
    };
    let Pid1::Stays { why } = pid1_of(shell, script) else {
        return;
    };
    let assumed = if program == "sh" && shell == ShellKind::Dash {
        " (assuming the image's /bin/sh is dash, as on Debian and Ubuntu; busybox and bash would exec a plain last command)"
    } else {
        ""
    };
    out.report(
        &PID1_SIGNAL,
        c.field("command"),
        format!(
            "container \"{}\" runs a `{program} -c` script that leaves the shell as PID 1: {why}{assumed}. A shell as PID 1 ignores SIGTERM and forwards it to nothing, so the application is SIGKILLed at the end of the grace period. Put `exec` before the final command, or run it under a signal-forwarding init such as tini or dumb-init",
            c.name()
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use prodready_sdk::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use prodready_sdk::testing;
    use serde_json::{Value, json};

    fn workload(kind: WorkloadKind, spec: Value) -> Workload<'static> {
        testing::workload_of(kind, json!({"app": "checkout"}), spec)
    }

    fn deployment(spec: Value) -> Workload<'static> {
        workload(WorkloadKind::Deployment, spec)
    }

    fn run_with(w: &Workload<'_>, s: &Settings, serving: &Serving) -> Vec<(&'static str, String)> {
        let mut out = Findings::new();
        check_workload(w, serving, s, &mut out);
        out.items()
            .iter()
            .map(|f| (f.check.id, f.path.clone()))
            .collect()
    }

    fn run(w: &Workload<'_>) -> Vec<(&'static str, String)> {
        run_with(w, &Settings::default(), &Serving::Unknown)
    }

    fn findings(w: &Workload<'_>) -> Findings {
        let mut out = Findings::new();
        check_workload(w, &Serving::Unknown, &Settings::default(), &mut out);
        out
    }

    fn routed() -> Serving {
        Serving::Routed {
            services: vec!["checkout".into()],
            targets: vec![IntOrString::Int(8080)],
        }
    }

    fn handler(v: Value) -> LifecycleHandler {
        serde_json::from_value(v).unwrap()
    }

    fn exec(cmd: &[&str]) -> LifecycleHandler {
        handler(json!({"exec": {"command": cmd}}))
    }

    fn known(seconds: i64) -> Delay {
        Delay {
            seconds,
            opaque: false,
        }
    }

    fn c0(rest: &str) -> String {
        format!("spec.template.spec.containers[0].{rest}")
    }

    const GRACE: &str = "spec.template.spec.terminationGracePeriodSeconds";

    /// A serving container with a 10s preStop sleep under the default 30s grace period.
    fn good_web() -> Value {
        json!({
            "name": "web", "image": "registry.example/checkout:2.4.1",
            "ports": [{"containerPort": 8080}],
            "lifecycle": {"preStop": {"sleep": {"seconds": 10}}}
        })
    }

    #[test]
    fn delay_of_every_handler_shape() {
        assert_eq!(
            prestop_delay_of(&handler(json!({"sleep": {"seconds": 7}}))),
            known(7)
        );
        assert_eq!(
            prestop_delay_of(&handler(json!({"sleep": {"seconds": -3}}))),
            known(0)
        );
        assert_eq!(prestop_delay_of(&exec(&["sleep", "15"])), known(15));
        assert_eq!(prestop_delay_of(&exec(&["/bin/sleep", "0.5"])), known(1));
        assert_eq!(
            prestop_delay_of(&exec(&["/usr/bin/sleep", "2", "0.5"])),
            known(3)
        );
        assert_eq!(
            prestop_delay_of(&exec(&[
                "sh",
                "-c",
                "echo 0 > /srv/health; sleep 28; nginx -s quit; while [ -d /proc/1 ]; do sleep 0.1; done"
            ])),
            known(29)
        );
        assert_eq!(
            prestop_delay_of(&exec(&[
                "/bin/sh",
                "-ec",
                "sleep '3' && sleep 2 >/dev/null 2>&1"
            ])),
            known(5)
        );
        assert_eq!(
            prestop_delay_of(&exec(&["bash", "-c", "exec sleep 12"])),
            known(12)
        );
        // A comment is not a command.
        assert_eq!(
            prestop_delay_of(&exec(&["sh", "-c", "# sleep 99\nsleep 4"])),
            known(4)
        );
        // What cannot be seen into is opaque, with what could be counted as a lower bound.
        assert_eq!(
            prestop_delay_of(&exec(&["sh", "-c", "sleep 5; sleep $EXTRA"])),
            Delay {
                seconds: 5,
                opaque: true
            }
        );
        assert_eq!(
            prestop_delay_of(&exec(&["sh", "-c", "/opt/drain.sh"])),
            Delay::OPAQUE
        );
        assert_eq!(
            prestop_delay_of(&exec(&["/bin/bash", "/opt/shutdown.sh"])),
            Delay::OPAQUE
        );
        assert_eq!(
            prestop_delay_of(&exec(&["nginx", "-s", "quit"])),
            Delay::OPAQUE
        );
        assert_eq!(
            prestop_delay_of(&handler(
                json!({"httpGet": {"path": "/drain", "port": 8080}})
            )),
            Delay::OPAQUE
        );
        assert_eq!(prestop_delay_of(&handler(json!({}))), Delay::OPAQUE);
        assert_eq!(prestop_delay_of(&exec(&[])), Delay::OPAQUE);
    }

    #[test]
    fn huge_delays_saturate() {
        let d = prestop_delay_of(&handler(json!({"sleep": {"seconds": i64::MAX}})));
        assert_eq!(d, known(i64::MAX));
        let d = prestop_delay_of(&exec(&[
            "sh",
            "-c",
            "sleep 9223372036854775807; sleep 9223372036854775807",
        ]));
        assert_eq!(d, known(i64::MAX / 1000 + 1));
        let w = deployment(json!({"containers": [{
            "name": "web", "image": "w:1",
            "lifecycle": {"preStop": {"sleep": {"seconds": i64::MAX}}}
        }]}));
        assert_eq!(
            run(&w),
            vec![("prestop-fits-grace", c0("lifecycle.preStop"))]
        );
    }

    // ---- prestop-fits-grace ----

    #[test]
    fn prestop_fits_within_default_grace() {
        // 25 + 5 = 30 fits exactly in the default 30s.
        let w = deployment(json!({"containers": [{
            "name": "web", "image": "w:1", "ports": [{"containerPort": 8080}],
            "lifecycle": {"preStop": {"exec": {"command": ["sleep", "25"]}}}
        }]}));
        assert_eq!(run(&w), vec![]);
    }

    #[test]
    fn the_talks_sleep_28_overruns_the_default_grace() {
        let c = json!({
            "name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
            "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "echo 0 > /srv/health; sleep 28; nginx -s quit"]}}}
        });
        let w = deployment(json!({"containers": [c.clone()]}));
        assert_eq!(
            run(&w),
            vec![("prestop-fits-grace", c0("lifecycle.preStop"))]
        );
        assert_eq!(
            findings(&w).items()[0].message,
            "container \"nginx\": preStop waits 28s and the application needs shutdownBudgetSeconds (5s) to drain after SIGTERM, but terminationGracePeriodSeconds is 30s (the default, as it is unset); SIGKILL lands mid-drain. Raise terminationGracePeriodSeconds to at least 33 or shorten the preStop delay"
        );
        // With a longer grace period it fits.
        let w = deployment(json!({"terminationGracePeriodSeconds": 40, "containers": [c]}));
        assert_eq!(run(&w), vec![]);
    }

    #[test]
    fn a_sidecar_prestop_must_fit_too_and_init_containers_are_not_read() {
        let w = deployment(json!({
            "terminationGracePeriodSeconds": 20,
            "initContainers": [
                {"name": "proxy", "image": "p:1", "restartPolicy": "Always",
                 "lifecycle": {"preStop": {"sleep": {"seconds": 18}}}},
                {"name": "migrate", "image": "m:1",
                 "lifecycle": {"preStop": {"sleep": {"seconds": 60}}}}
            ],
            "containers": [good_web()]
        }));
        assert_eq!(
            run(&w),
            vec![(
                "prestop-fits-grace",
                "spec.template.spec.initContainers[0].lifecycle.preStop".to_string()
            )]
        );
    }

    #[test]
    fn an_opaque_hook_still_needs_the_budget() {
        let w = deployment(json!({
            "terminationGracePeriodSeconds": 3,
            "containers": [{
                "name": "worker", "image": "w:1",
                "lifecycle": {"preStop": {"httpGet": {"path": "/drain", "port": 9000}}}
            }]
        }));
        assert_eq!(
            run(&w),
            vec![("prestop-fits-grace", c0("lifecycle.preStop"))]
        );
    }

    #[test]
    fn a_decimal_sleep_rounds_up_against_the_grace_period() {
        // sleep 25.5 counts as 26s; 26 + 5 > 30.
        let w = workload(
            WorkloadKind::StatefulSet,
            json!({"terminationGracePeriodSeconds": 30, "containers": [{
                "name": "cache", "image": "c:1", "ports": [{"containerPort": 6380}],
                "lifecycle": {"preStop": {"exec": {"command": ["/usr/bin/sleep", "25.5"]}}}
            }]}),
        );
        assert_eq!(
            run(&w),
            vec![("prestop-fits-grace", c0("lifecycle.preStop"))]
        );
    }

    // ---- prestop-delay ----

    #[test]
    fn serving_containers_without_prestop_are_warned() {
        let w = deployment(json!({"containers": [
            {"name": "web", "image": "w:1", "ports": [{"containerPort": 8080}]},
            {"name": "log-shipper", "image": "l:1"}
        ]}));
        assert_eq!(run(&w), vec![("prestop-delay", c0("lifecycle.preStop"))]);
    }

    #[test]
    fn a_short_prestop_is_warned_but_an_opaque_one_is_not() {
        let w = deployment(json!({"containers": [
            {"name": "web", "image": "w:1", "ports": [{"containerPort": 8080}],
             "lifecycle": {"preStop": {"exec": {"command": ["sleep", "2"]}}}},
            {"name": "admin", "image": "a:1", "ports": [{"containerPort": 9090}],
             "lifecycle": {"preStop": {"exec": {"command": ["/bin/bash", "/opt/shutdown.sh"]}}}}
        ]}));
        assert_eq!(run(&w), vec![("prestop-delay", c0("lifecycle.preStop"))]);
    }

    #[test]
    fn metrics_and_health_ports_alone_do_not_serve() {
        let w = workload(
            WorkloadKind::DaemonSet,
            json!({"containers": [{"name": "agent", "image": "a:1",
                "ports": [{"name": "healthz", "containerPort": 9099}, {"name": "metrics", "containerPort": 9091}]}]}),
        );
        assert_eq!(run(&w), vec![]);
    }

    #[test]
    fn a_service_decides_serving() {
        let w = deployment(json!({"containers": [
            {"name": "api", "image": "a:1"},
            {"name": "metrics", "image": "m:1", "lifecycle": {"preStop": {"sleep": {"seconds": 5}}}}
        ]}));
        // No ports and no Service: nothing serves.
        assert_eq!(run(&w), vec![]);
        // A Service targets an undeclared port: every app container may serve it.
        assert_eq!(
            run_with(&w, &Settings::default(), &routed()),
            vec![("prestop-delay", c0("lifecycle.preStop"))]
        );
        // Services exist but none routes here: a container with ports does not serve.
        let w = deployment(
            json!({"containers": [{"name": "web", "image": "w:1", "ports": [{"containerPort": 8080}]}]}),
        );
        assert_eq!(
            run_with(
                &w,
                &Settings::default(),
                &Serving::NotRouted {
                    metrics_only: vec![]
                }
            ),
            vec![]
        );
    }

    #[test]
    fn serving_native_sidecars_need_a_delay() {
        let w = deployment(json!({
            "initContainers": [{"name": "proxy", "image": "p:1", "restartPolicy": "Always",
                "ports": [{"name": "https", "containerPort": 8443}]}],
            "containers": [good_web()]
        }));
        assert_eq!(
            run(&w),
            vec![(
                "prestop-delay",
                "spec.template.spec.initContainers[0].lifecycle.preStop".to_string()
            )]
        );
    }

    #[test]
    fn batch_and_run_once_pods_need_no_delay() {
        let spec = json!({"restartPolicy": "Never", "containers": [
            {"name": "report", "image": "r:1", "ports": [{"containerPort": 8080}]}
        ]});
        let job = workload(WorkloadKind::Job, spec.clone());
        assert_eq!(run_with(&job, &Settings::default(), &routed()), vec![]);
        let pod = workload(WorkloadKind::Pod, spec);
        assert_eq!(run_with(&pod, &Settings::default(), &routed()), vec![]);
    }

    #[test]
    fn min_prestop_zero_switches_the_delay_off() {
        let w = deployment(json!({"containers": [
            {"name": "web", "image": "w:1", "ports": [{"containerPort": 8080}]}
        ]}));
        let s = Settings {
            min_pre_stop_seconds: 0,
            ..Settings::default()
        };
        assert_eq!(run_with(&w, &s, &routed()), vec![]);
    }

    // ---- grace-period-bounds ----

    fn grace_findings(
        kind: WorkloadKind,
        grace: i64,
        container: Value,
    ) -> Vec<(String, prodready_sdk::Severity)> {
        let w = workload(
            kind,
            json!({"terminationGracePeriodSeconds": grace, "containers": [container]}),
        );
        let mut out = Findings::new();
        grace_period_bounds(&w, &Serving::Unknown, &Settings::default(), &mut out);
        out.items()
            .iter()
            .map(|f| (f.path.clone(), f.severity))
            .collect()
    }

    #[test]
    fn grace_period_below_the_minimum_is_an_error_above_the_maximum_a_warning() {
        use prodready_sdk::Severity::{Error, Warning};
        let worker = json!({"name": "worker", "image": "w:1"});
        // 0 for a worker that neither serves nor has a preStop hook: a warning.
        for (grace, want) in [
            (0, Some(Warning)),
            (-5, Some(Error)),
            (1, None),
            (300, None),
            (301, Some(Warning)),
            (3600, Some(Warning)),
        ] {
            let got = grace_findings(WorkloadKind::Deployment, grace, worker.clone());
            assert_eq!(
                got,
                want.map(|s| (GRACE.to_string(), s))
                    .into_iter()
                    .collect::<Vec<_>>(),
                "grace {grace}"
            );
        }
        // 0 for a serving container, or with a preStop hook: an error.
        for container in [
            good_web(),
            json!({"name": "w", "image": "w:1", "lifecycle": {"preStop": {"sleep": {"seconds": 3}}}}),
        ] {
            assert_eq!(
                grace_findings(WorkloadKind::Deployment, 0, container),
                vec![(GRACE.to_string(), Error)]
            );
        }
        let w = deployment(json!({"terminationGracePeriodSeconds": 0, "containers": [good_web()]}));
        let mut out = Findings::new();
        grace_period_bounds(&w, &Serving::Unknown, &Settings::default(), &mut out);
        assert!(
            out.items()[0].message.contains("skip every preStop hook"),
            "{}",
            out.items()[0].message
        );
        // Unset is 30, checked against the configured bounds.
        let w = deployment(json!({"containers": [worker]}));
        let s = Settings {
            min_grace_period_seconds: 60,
            max_grace_period_seconds: 120,
            ..Settings::default()
        };
        assert_eq!(
            run_with(&w, &s, &Serving::Unknown),
            vec![("grace-period-bounds", GRACE.to_string())]
        );
    }

    #[test]
    fn a_database_drain_may_take_its_time() {
        // A StatefulSet draining with nodetool for up to 1800s: within the stateful maximum.
        let cassandra = json!({"name": "cassandra", "image": "c:4", "ports": [{"name": "cql", "containerPort": 9042}],
            "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "nodetool drain"]}}}});
        assert_eq!(
            grace_findings(WorkloadKind::StatefulSet, 1800, cassandra.clone()),
            vec![]
        );
        // The same hook in a Deployment: an unknown-length drain may need as long.
        assert_eq!(
            grace_findings(WorkloadKind::Deployment, 1800, cassandra.clone()),
            vec![]
        );
        assert_eq!(
            grace_findings(WorkloadKind::StatefulSet, 7200, cassandra),
            vec![(GRACE.to_string(), prodready_sdk::Severity::Warning)]
        );
        // A known delay raises the maximum to what it needs, and no further.
        let long_sleep = json!({"name": "web", "image": "w:1", "lifecycle": {"preStop": {"sleep": {"seconds": 400}}}});
        assert_eq!(
            grace_findings(WorkloadKind::Deployment, 405, long_sleep.clone()),
            vec![]
        );
        assert_eq!(
            grace_findings(WorkloadKind::Deployment, 900, long_sleep),
            vec![(GRACE.to_string(), prodready_sdk::Severity::Warning)]
        );
    }

    #[test]
    fn a_force_kill_with_a_prestop_is_one_finding() {
        // The hook never runs at 0: grace-period-bounds says so; prestop-fits-grace does not
        // also report it as overrunning.
        let mut c = good_web();
        c["lifecycle"]["preStop"] = json!({"sleep": {"seconds": 5}});
        let w = deployment(json!({"terminationGracePeriodSeconds": 0, "containers": [c]}));
        assert_eq!(run(&w), vec![("grace-period-bounds", GRACE.to_string())]);
    }

    // ---- pid1-signal ----

    fn pid1(command: Value, args: Value, image: &str) -> Vec<(&'static str, String)> {
        let mut c = good_web();
        c["command"] = command;
        c["args"] = args;
        c["image"] = json!(image);
        let w = deployment(json!({"containers": [c]}));
        run(&w)
    }

    #[test]
    fn a_shell_that_stays_pid_1_is_warned() {
        let flagged = vec![("pid1-signal", c0("command"))];
        // dash (Debian's sh) never execs the last command.
        assert_eq!(
            pid1(
                json!(["/bin/sh", "-c"]),
                json!(["./migrate && ./server --port 8080"]),
                "debian:12"
            ),
            flagged
        );
        // bash keeps running a pipeline, a redirected last command, a trap.
        for script in [
            "./server | tee /log/out",
            "./server > /log/out 2>&1",
            "trap cleanup EXIT; ./server",
            "./server || true",
        ] {
            assert_eq!(
                pid1(json!(["bash", "-c", script]), Value::Null, "app:1"),
                flagged,
                "{script}"
            );
        }
        let out = findings(&deployment(
            json!({"containers": [{"name": "w", "image": "debian:12",
            "command": ["sh", "-c", "./server"]}]}),
        ));
        assert!(
            out.items()[0]
                .message
                .contains("assuming the image's /bin/sh is dash"),
            "{}",
            out.items()[0].message
        );
    }

    #[test]
    fn a_shell_that_execs_its_last_command_is_fine() {
        // bash runs a lone simple command in place of itself (issue: false positive on
        // `bash -c "my-server --port 8080"`).
        assert_eq!(
            pid1(
                json!(["bash", "-c", "my-server --port 8080"]),
                Value::Null,
                "app:1"
            ),
            vec![]
        );
        assert_eq!(
            pid1(
                json!(["/bin/bash", "-euc"]),
                json!([
                    "echo starting\n. /etc/notifier/env\n/opt/notifier/bin/notifier --queue orders\n"
                ]),
                "app:1"
            ),
            vec![]
        );
        // busybox (Alpine's sh) too, even with a redirection.
        assert_eq!(
            pid1(
                json!(["sh", "-c", "./server > /dev/stdout"]),
                Value::Null,
                "alpine:3.20"
            ),
            vec![]
        );
    }

    #[test]
    fn exec_tini_forwarding_traps_and_entrypoints_are_fine() {
        for (command, args) in [
            (
                json!(["sh", "-c", "./migrate && exec ./server"]),
                json!(null),
            ),
            (json!(["bash", "-ec"]), json!(["exec ./server"])),
            (json!(["tini", "--", "sh", "-c", "./server"]), json!(null)),
            (json!(["./server"]), json!(["--port", "8080"])),
            (json!(null), json!(["sh", "-c", "./server"])),
            (json!([]), json!(["sh", "-c", "./server"])),
            (
                json!(["/bin/sh", "-c"]),
                json!([
                    "/opt/watcher/bin/watch &\nchild=$!\ntrap 'kill -TERM \"$child\"' TERM\nwait \"$child\"\n"
                ]),
            ),
        ] {
            assert_eq!(
                pid1(command.clone(), args, "debian:12"),
                vec![],
                "{command}"
            );
        }
    }

    #[test]
    fn init_containers_may_run_shell_scripts() {
        let w = deployment(json!({
            "initContainers": [{"name": "wait-db", "image": "b:1", "command": ["sh", "-c", "until nc -z db 5432; do sleep 1; done"]}],
            "containers": [good_web()]
        }));
        assert_eq!(run(&w), vec![]);
    }

    // ---- through the module, with a manifest set as context ----

    fn evaluate_set(objects: &[Value]) -> Vec<prodready_sdk::Verdict> {
        objects
            .iter()
            .map(|o| testing::evaluate_in::<crate::GracefulShutdown>(o, &Value::Null, objects))
            .collect()
    }

    fn ids(v: &prodready_sdk::Verdict) -> Vec<&str> {
        assert!(v.error.is_none(), "{v:?}");
        let mut ids = testing::ids(v);
        ids.sort();
        ids
    }

    fn svc(name: &str, ns: &str, selector: Value, ports: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
               "spec": {"selector": selector, "ports": ports}})
    }

    fn deploy(name: &str, pod: Value) -> Value {
        let mut d = testing::object(WorkloadKind::Deployment, name, json!({"app": name}), pod);
        d["metadata"]["namespace"] = json!("shop");
        d
    }

    #[test]
    fn a_manifest_set_decides_serving_by_its_services() {
        let objects = vec![
            svc(
                "cart-api",
                "shop",
                json!({"app": "cart-api"}),
                json!([{"port": 80, "targetPort": 8080}]),
            ),
            svc(
                "cart-sync-metrics",
                "shop",
                json!({"app": "cart-sync"}),
                json!([{"name": "metrics", "port": 9090}]),
            ),
            deploy(
                "cart-api",
                json!({"containers": [{"name": "api", "image": "r/cart-api:3.1.0"}]}),
            ),
            deploy("checkout", json!({"containers": [good_web()]})),
            deploy(
                "cart-sync",
                json!({"containers": [{"name": "sync", "image": "r/cart-sync:1.0.0",
                "ports": [{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}]}]}),
            ),
        ];
        let v = evaluate_set(&objects);
        assert!(v[0].skipped.is_some());
        // Routed by its Service: needs the delay.
        assert_eq!(ids(&v[2]), ["prestop-delay"]);
        assert_eq!(
            v[2].violations[0].path,
            "spec.template.spec.containers[0].lifecycle.preStop"
        );
        // The set has Services and none selects checkout: its ports alone do not make it serve.
        assert_eq!(ids(&v[3]), Vec::<&str>::new());
        // Only a metrics Service selects cart-sync: not serving.
        assert_eq!(ids(&v[4]), Vec::<&str>::new());
    }

    #[test]
    fn a_service_in_another_namespace_does_not_select() {
        let objects = vec![
            svc(
                "cart-api",
                "billing",
                json!({"app": "cart-api"}),
                json!([{"port": 80}]),
            ),
            deploy(
                "cart-api",
                json!({"containers": [{"name": "api", "image": "r/cart-api:3.1.0"}]}),
            ),
        ];
        assert_eq!(ids(&evaluate_set(&objects)[1]), Vec::<&str>::new());
    }

    #[test]
    fn cronjob_paths_and_no_delay_requirement() {
        let cron = json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "nightly-report"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "report", "image": "r:1", "command": ["sh", "-c", "./report"]}]
            }}}}}
        });
        let v = &evaluate_set(std::slice::from_ref(&cron))[0];
        // A run-to-completion report with grace 0: only a warning.
        assert_eq!(ids(v), ["grace-period-bounds", "pid1-signal"]);
        assert!(v.allowed);
        let paths: Vec<&str> = v.violations.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.jobTemplate.spec.template.spec.terminationGracePeriodSeconds",
                "spec.jobTemplate.spec.template.spec.containers[0].command"
            ]
        );
    }

    #[test]
    fn settings_are_validated_through_the_module() {
        let out = crate::validate_settings_json(
            br#"{"minGracePeriodSeconds": 10, "maxGracePeriodSeconds": 5}"#,
        );
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["valid"], false);
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("minGracePeriodSeconds")
        );
        let out = crate::validate_settings_json(br#"{"shutdownBudgetSeconds": 8}"#);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["valid"], true);
    }
}
