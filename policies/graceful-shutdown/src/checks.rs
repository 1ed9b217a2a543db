//! The checks, as pure functions over the workload view, and the small shell reader they share.

use prodready_sdk::k8s::Service;
use prodready_sdk::k8s_openapi::api::core::v1::LifecycleHandler;
use prodready_sdk::{ContainerRef, Context, Findings, Workload};

use crate::settings::Settings;
use crate::{GRACE_PERIOD_BOUNDS, PID1_SIGNAL, PRESTOP_DELAY, PRESTOP_FITS_GRACE};

/// Shells whose `-c` script runs as the container's main process.
const SHELLS: [&str; 5] = ["sh", "bash", "ash", "dash", "zsh"];

/// Words that may precede a command's name in a shell script without being the command.
const PREFIX_WORDS: [&str; 14] = [
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time",
    "command",
];

pub fn check_workload(w: &Workload, s: &Settings, selected_by_service: bool, out: &mut Findings) {
    grace_period_bounds(w, s, out);
    for c in w.all_containers().filter(|c| c.is_long_running()) {
        prestop_fits_grace(w, &c, s, out);
        pid1_signal(&c, out);
    }
    prestop_delay(w, s, selected_by_service, out);
}

/// Whether a Service of the context, in the object's namespace, selects the workload's pods.
pub fn selected_by_service(context: &Context, namespace: Option<&str>, w: &Workload) -> bool {
    !context
        .selecting::<Service>("", "Service", namespace, &w.pod_labels, |svc| {
            svc.spec.as_ref()?.selector.as_ref()
        })
        .is_empty()
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

pub fn prestop_fits_grace(w: &Workload, c: &ContainerRef<'_>, s: &Settings, out: &mut Findings) {
    let Some(hook) = c
        .container
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
    else {
        return;
    };
    let delay = prestop_delay_of(hook);
    let grace = w.termination_grace_period_seconds();
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
fn grace_text(w: &Workload, grace: i64) -> String {
    if w.spec.termination_grace_period_seconds.is_some() {
        format!("{grace}s")
    } else {
        format!("{grace}s (the default, as it is unset)")
    }
}

pub fn prestop_delay(w: &Workload, s: &Settings, selected_by_service: bool, out: &mut Findings) {
    if !w.is_long_running() {
        return;
    }
    let with_ports: Vec<ContainerRef<'_>> = w.containers().filter(|c| c.has_ports()).collect();
    let (targets, why) = if !with_ports.is_empty() {
        (with_ports, "it declares ports")
    } else if selected_by_service {
        (w.containers().collect(), "a Service selects its pods")
    } else {
        return;
    };
    for c in targets {
        let hook = c
            .container
            .lifecycle
            .as_ref()
            .and_then(|l| l.pre_stop.as_ref());
        let problem = match hook.map(prestop_delay_of) {
            None if s.min_pre_stop_seconds > 0 => "has no preStop hook".to_string(),
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

pub fn grace_period_bounds(w: &Workload, s: &Settings, out: &mut Findings) {
    let grace = w.termination_grace_period_seconds();
    let (min, max) = (s.min_grace_period_seconds, s.max_grace_period_seconds);
    if grace >= min && grace <= max {
        return;
    }
    let problem = if grace == 0 {
        "0 is a force kill: containers get SIGKILL with no time to drain".to_string()
    } else if grace < 0 {
        format!("{grace} is negative: there is no time to drain")
    } else if grace < min {
        format!(
            "{} is below minGracePeriodSeconds ({min}s): too short to drain",
            grace_text(w, grace)
        )
    } else {
        format!(
            "{} is above maxGracePeriodSeconds ({max}s): a shutdown that hangs stalls rollouts and node drains that long",
            grace_text(w, grace)
        )
    };
    out.report(
        &GRACE_PERIOD_BOUNDS,
        w.path("terminationGracePeriodSeconds"),
        format!(
            "terminationGracePeriodSeconds: {problem}. Set it between {min} and {max}, to the preStop delay plus the time the application needs to drain"
        ),
    );
}

pub fn pid1_signal(c: &ContainerRef<'_>, out: &mut Findings) {
    let k = c.container;
    let command = k.command.as_deref().unwrap_or_default();
    if command.is_empty() {
        // The image's entrypoint runs, and it is not known here.
        return;
    }
    let argv: Vec<String> = command
        .iter()
        .chain(k.args.as_deref().unwrap_or_default())
        .cloned()
        .collect();
    let argv = strip_env(&argv);
    let Some(script) = shell_script(argv) else {
        return;
    };
    if script_handles_sigterm(script) {
        return;
    }
    let shell = argv.first().map_or("sh", |s| basename(s));
    out.report(
        &PID1_SIGNAL,
        c.field("command"),
        format!(
            "container \"{}\" runs a `{shell} -c` script that never uses `exec`: the shell is PID 1, does not forward SIGTERM to the application, and the container is SIGKILLed at the end of the grace period. Put `exec` before the final command, or run it under a signal-forwarding init such as tini or dumb-init",
            c.name()
        ),
    );
}

/// Whether a `-c` script hands PID 1 to its command (`exec cmd`) or traps SIGTERM itself.
fn script_handles_sigterm(script: &str) -> bool {
    simple_commands(script).iter().any(|words| {
        let Some((name, args)) = command_word(words) else {
            return false;
        };
        match name {
            "exec" => operands(args).next().is_some(),
            // `trap ACTION SIGNAL...`: the shell runs ACTION on SIGTERM.
            "trap" => operands(args).skip(1).any(|sig| {
                ["TERM", "SIGTERM", "15"]
                    .iter()
                    .any(|t| sig.eq_ignore_ascii_case(t))
            }),
            _ => false,
        }
    })
}

/// The last component of a path: `/bin/sh` is `sh`.
fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Drops a leading `env [-flags] [NAME=value...]`.
fn strip_env(argv: &[String]) -> &[String] {
    let Some((first, mut rest)) = argv.split_first() else {
        return argv;
    };
    if basename(first) != "env" {
        return argv;
    }
    while let Some((arg, tail)) = rest.split_first() {
        if arg.starts_with('-') || is_assignment(arg) {
            rest = tail;
        } else {
            break;
        }
    }
    rest
}

/// The script of an argv that runs a shell with `-c` (alone or in a flag cluster such as
/// `-ec`), e.g. `["/bin/sh", "-ec", "exec nginx"]`.
fn shell_script(argv: &[String]) -> Option<&str> {
    let (program, mut rest) = argv.split_first()?;
    if !SHELLS.contains(&basename(program)) {
        return None;
    }
    while let Some((arg, tail)) = rest.split_first() {
        if arg == "-o" || arg == "+o" {
            // `-o pipefail`: the option name is the next word.
            rest = tail.split_first().map_or(&[][..], |(_, t)| t);
            continue;
        }
        if let Some(long) = arg.strip_prefix("--") {
            if long.is_empty() {
                // End of options: what follows is a script file, not `-c`.
                return None;
            }
            rest = tail;
            continue;
        }
        let flags = arg.strip_prefix('-').or_else(|| arg.strip_prefix('+'))?;
        if flags.is_empty() || !flags.chars().all(|ch| ch.is_ascii_alphabetic()) {
            return None;
        }
        if arg.starts_with('-') && flags.contains('c') {
            return tail.first().map(String::as_str);
        }
        rest = tail;
    }
    None
}

/// `NAME=value`.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
            && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    })
}

/// A redirection word such as `>/dev/null`, `2>&1`, `2>` or `<in`.
fn is_redirect(word: &str) -> bool {
    let op = word.trim_start_matches(|ch: char| ch.is_ascii_digit() || ch == '&');
    op.starts_with('>') || op.starts_with('<')
}

/// The words of a command's arguments that are not redirections (nor their targets).
fn operands(args: &[String]) -> impl Iterator<Item = &str> {
    let mut target_next = false;
    args.iter().filter_map(move |a| {
        if target_next {
            target_next = false;
            return None;
        }
        if is_redirect(a) {
            // `2>` alone: the file is the next word.
            target_next = a.ends_with('>') || a.ends_with('<');
            return None;
        }
        Some(a.as_str())
    })
}

/// The command name of a simple command and its arguments, past keywords (`then`, `do`, ...)
/// and variable assignments.
fn command_word(words: &[String]) -> Option<(&str, &[String])> {
    let mut rest = words;
    while let Some((word, tail)) = rest.split_first() {
        if PREFIX_WORDS.contains(&word.as_str()) || is_assignment(word) {
            rest = tail;
        } else {
            return Some((word.as_str(), tail));
        }
    }
    None
}

/// Milliseconds the operands of one `sleep` wait in total, and whether every operand was a
/// duration this reader understands.
fn sleep_ms(args: &[String]) -> (i64, bool) {
    let mut total: i64 = 0;
    let mut all_known = true;
    for arg in operands(args) {
        match parse_duration_ms(arg) {
            Some(ms) => total = total.saturating_add(ms),
            None => all_known = false,
        }
    }
    (total, all_known)
}

/// A `sleep` operand in milliseconds (rounded up): `5`, `0.5`, `.5`, `30s`, `2m`, `1h`, `1d`.
/// `None` for anything else (`$DELAY`, `infinity`, `1e3`).
pub fn parse_duration_ms(arg: &str) -> Option<i64> {
    let (number, unit_ms) = if let Some(n) = arg.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = arg.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = arg.strip_suffix('h') {
        (n, 3_600_000)
    } else if let Some(n) = arg.strip_suffix('d') {
        (n, 86_400_000)
    } else {
        (arg, 1_000)
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    // Fixed point with six decimals, so `0.5m` is exactly 30000ms; further digits round up.
    const SCALE: i64 = 1_000_000;
    let mut whole: i64 = 0;
    for b in int.bytes() {
        whole = whole
            .saturating_mul(10)
            .saturating_add(i64::from(b.wrapping_sub(b'0')));
    }
    let mut fraction: i64 = 0;
    let mut place = SCALE / 10;
    let mut beyond = false;
    for b in frac.bytes() {
        let d = i64::from(b.wrapping_sub(b'0'));
        if place > 0 {
            fraction = fraction.saturating_add(d.saturating_mul(place));
            place /= 10;
        } else if d != 0 {
            beyond = true;
        }
    }
    let fraction = fraction.saturating_add(i64::from(beyond));
    // ms = (whole + fraction / SCALE) * unit_ms, rounded up.
    let frac_ms = fraction.saturating_mul(unit_ms);
    let frac_ms = (frac_ms / SCALE).saturating_add(i64::from(frac_ms % SCALE != 0));
    Some(whole.saturating_mul(unit_ms).saturating_add(frac_ms))
}

/// Splits a shell script into simple commands (at `;`, `&`, `|`, newlines, parentheses and
/// backquotes), each a list of words with quotes and escapes removed. A reader for the common
/// shapes of `-c` scripts, not a shell parser.
fn simple_commands(script: &str) -> Vec<Vec<String>> {
    let mut commands: Vec<Vec<String>> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut comment = false;
    let mut prev: Option<char> = None;

    fn end_word(words: &mut Vec<String>, word: &mut String, in_word: &mut bool) {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    }

    for ch in script.chars() {
        if comment {
            if ch == '\n' {
                comment = false;
                end_word(&mut words, &mut word, &mut in_word);
                commands.push(std::mem::take(&mut words));
            }
            continue;
        }
        if escaped {
            escaped = false;
            // Backslash-newline continues the line.
            if ch != '\n' {
                word.push(ch);
                in_word = true;
            }
            prev = Some(ch);
            continue;
        }
        match quote {
            Some('\'') => {
                if ch == '\'' {
                    quote = None;
                } else {
                    word.push(ch);
                }
            }
            Some(_) => match ch {
                '"' => quote = None,
                '\\' => escaped = true,
                _ => word.push(ch),
            },
            None => match ch {
                '\\' => escaped = true,
                '\'' | '"' => {
                    quote = Some(ch);
                    in_word = true;
                }
                '#' if !in_word => comment = true,
                '&' if matches!(prev, Some('>') | Some('<')) => word.push(ch),
                ';' | '&' | '|' | '\n' | '(' | ')' | '`' => {
                    end_word(&mut words, &mut word, &mut in_word);
                    commands.push(std::mem::take(&mut words));
                }
                ch if ch.is_whitespace() => end_word(&mut words, &mut word, &mut in_word),
                _ => {
                    word.push(ch);
                    in_word = true;
                }
            },
        }
        prev = Some(ch);
    }
    end_word(&mut words, &mut word, &mut in_word);
    commands.push(words);
    commands.retain(|c| !c.is_empty());
    commands
}

#[cfg(test)]
mod tests {
    use super::*;
    use prodready_sdk::k8s::PodSpec;
    use prodready_sdk::{Workload, WorkloadKind};
    use serde_json::{Value, json};

    fn workload(kind: WorkloadKind, labels: Value, spec: Value) -> Workload {
        Workload {
            kind,
            pod_labels: serde_json::from_value(labels).unwrap(),
            pod_annotations: Default::default(),
            spec: serde_json::from_value::<PodSpec>(spec).unwrap(),
        }
    }

    fn deployment(spec: Value) -> Workload {
        workload(WorkloadKind::Deployment, json!({"app": "checkout"}), spec)
    }

    fn run_with(w: &Workload, s: &Settings, selected: bool) -> Vec<(&'static str, String)> {
        let mut out = Findings::new();
        check_workload(w, s, selected, &mut out);
        out.items()
            .iter()
            .map(|f| (f.check.id, f.path.clone()))
            .collect()
    }

    fn run(w: &Workload) -> Vec<(&'static str, String)> {
        run_with(w, &Settings::default(), false)
    }

    fn ids(w: &Workload, selected: bool) -> Vec<&'static str> {
        run_with(w, &Settings::default(), selected)
            .into_iter()
            .map(|(id, _)| id)
            .collect()
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

    /// A serving container with a 10s preStop sleep under the default 30s grace period.
    fn good_web() -> Value {
        json!({
            "name": "web", "image": "registry.example/checkout:2.4.1",
            "ports": [{"containerPort": 8080}],
            "lifecycle": {"preStop": {"sleep": {"seconds": 10}}}
        })
    }

    // ---- the shell reader ----

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("28"), Some(28_000));
        assert_eq!(parse_duration_ms("0.5"), Some(500));
        assert_eq!(parse_duration_ms(".25"), Some(250));
        assert_eq!(parse_duration_ms("5."), Some(5_000));
        assert_eq!(parse_duration_ms("30s"), Some(30_000));
        assert_eq!(parse_duration_ms("0.5m"), Some(30_000));
        assert_eq!(parse_duration_ms("1h"), Some(3_600_000));
        assert_eq!(parse_duration_ms("0.0000001"), Some(1));
        assert_eq!(
            parse_duration_ms("99999999999999999999999999"),
            Some(i64::MAX)
        );
        assert_eq!(parse_duration_ms("9999999999999999d"), Some(i64::MAX));
        for bad in [
            "", ".", "s", "-1", "1e3", "$DELAY", "infinity", "1.2.3", "５",
        ] {
            assert_eq!(parse_duration_ms(bad), None, "{bad}");
        }
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

    #[test]
    fn shell_detection() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(shell_script(&v(&["sh", "-c", "x"])), Some("x"));
        assert_eq!(shell_script(&v(&["/bin/bash", "-euc", "x"])), Some("x"));
        assert_eq!(
            shell_script(&v(&["bash", "-e", "-o", "pipefail", "-c", "x"])),
            Some("x")
        );
        assert_eq!(shell_script(&v(&["zsh", "--login", "-xc", "x"])), Some("x"));
        assert_eq!(shell_script(&v(&["env", "A=1", "dash", "-c", "x"])), None);
        assert_eq!(
            shell_script(strip_env(&v(&["env", "A=1", "dash", "-c", "x"]))),
            Some("x")
        );
        assert_eq!(shell_script(&v(&["sh", "/entry.sh", "-c"])), None);
        assert_eq!(shell_script(&v(&["sh", "--", "-c"])), None);
        assert_eq!(shell_script(&v(&["sh", "-c"])), None);
        assert_eq!(shell_script(&v(&["python", "-c", "x"])), None);
        assert_eq!(shell_script(&v(&["fish", "-c", "x"])), None);
    }

    #[test]
    fn exec_and_trap_detection() {
        assert!(script_handles_sigterm("exec nginx -g 'daemon off;'"));
        assert!(script_handles_sigterm(
            "set -e\nmigrate --wait\nexec /app/server"
        ));
        assert!(script_handles_sigterm("PORT=8080 exec ./server"));
        assert!(script_handles_sigterm(
            "trap 'kill -TERM $pid' TERM INT; ./server & pid=$!; wait"
        ));
        assert!(!script_handles_sigterm("./server"));
        assert!(!script_handles_sigterm("echo exec; ./server"));
        assert!(!script_handles_sigterm(
            "exec >/var/log/app.log 2>&1; ./server"
        ));
        assert!(!script_handles_sigterm("exec 2> /tmp/err; ./server"));
        assert!(!script_handles_sigterm("trap cleanup EXIT; ./server"));
        assert!(!script_handles_sigterm("./executor --mode exec"));
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
        let w = deployment(json!({"containers": [{
            "name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
            "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "echo 0 > /srv/health; sleep 28; nginx -s quit"]}}}
        }]}));
        assert_eq!(
            run(&w),
            vec![("prestop-fits-grace", c0("lifecycle.preStop"))]
        );
        let mut out = Findings::new();
        check_workload(&w, &Settings::default(), false, &mut out);
        assert_eq!(
            out.items()[0].message,
            "container \"nginx\": preStop waits 28s and the application needs shutdownBudgetSeconds (5s) to drain after SIGTERM, but terminationGracePeriodSeconds is 30s (the default, as it is unset); SIGKILL lands mid-drain. Raise terminationGracePeriodSeconds to at least 33 or shorten the preStop delay"
        );
        // With a longer grace period it fits.
        let mut w = w;
        w.spec.termination_grace_period_seconds = Some(40);
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
            json!({"app": "cart-cache"}),
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
    fn a_service_makes_a_portless_workload_serving() {
        let w = deployment(json!({"containers": [
            {"name": "api", "image": "a:1"},
            {"name": "metrics", "image": "m:1", "lifecycle": {"preStop": {"sleep": {"seconds": 5}}}}
        ]}));
        assert_eq!(ids(&w, false), Vec::<&str>::new());
        assert_eq!(
            run_with(&w, &Settings::default(), true),
            vec![("prestop-delay", c0("lifecycle.preStop"))]
        );
    }

    #[test]
    fn batch_and_run_once_pods_need_no_delay() {
        let spec = json!({"restartPolicy": "Never", "containers": [
            {"name": "report", "image": "r:1", "ports": [{"containerPort": 8080}]}
        ]});
        let job = workload(WorkloadKind::Job, json!({}), spec.clone());
        assert_eq!(ids(&job, true), Vec::<&str>::new());
        let pod = workload(WorkloadKind::Pod, json!({}), spec);
        assert_eq!(ids(&pod, true), Vec::<&str>::new());
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
        assert_eq!(run_with(&w, &s, true), vec![]);
    }

    // ---- grace-period-bounds ----

    #[test]
    fn grace_period_bounds_and_messages() {
        let path = "spec.template.spec.terminationGracePeriodSeconds".to_string();
        for (grace, bad) in [
            (0, true),
            (-5, true),
            (1, false),
            (300, false),
            (301, true),
            (3600, true),
        ] {
            let w = deployment(json!({
                "terminationGracePeriodSeconds": grace,
                "containers": [{"name": "worker", "image": "w:1"}]
            }));
            let want = if bad {
                vec![("grace-period-bounds", path.clone())]
            } else {
                vec![]
            };
            assert_eq!(run(&w), want, "grace {grace}");
        }
        let w = deployment(json!({
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "worker", "image": "w:1"}]
        }));
        let mut out = Findings::new();
        grace_period_bounds(&w, &Settings::default(), &mut out);
        assert!(
            out.items()[0]
                .message
                .contains("0 is a force kill: containers get SIGKILL with no time to drain")
        );
        // Unset is 30, checked against the configured bounds.
        let w = deployment(json!({"containers": [{"name": "worker", "image": "w:1"}]}));
        let s = Settings {
            min_grace_period_seconds: 60,
            max_grace_period_seconds: 120,
            ..Settings::default()
        };
        assert_eq!(run_with(&w, &s, false), vec![("grace-period-bounds", path)]);
    }

    #[test]
    fn a_force_kill_with_a_prestop_fails_both() {
        let mut c = good_web();
        c["lifecycle"]["preStop"] = json!({"sleep": {"seconds": 5}});
        let w = deployment(json!({"terminationGracePeriodSeconds": 0, "containers": [c]}));
        assert_eq!(
            run(&w),
            vec![
                (
                    "grace-period-bounds",
                    "spec.template.spec.terminationGracePeriodSeconds".to_string()
                ),
                ("prestop-fits-grace", c0("lifecycle.preStop")),
            ]
        );
    }

    // ---- pid1-signal ----

    #[test]
    fn shell_scripts_without_exec_are_warned() {
        let mut c = good_web();
        c["command"] = json!(["/bin/sh", "-c"]);
        c["args"] = json!(["./migrate && ./server --port 8080"]);
        let w = deployment(json!({"containers": [c]}));
        assert_eq!(run(&w), vec![("pid1-signal", c0("command"))]);
    }

    #[test]
    fn flag_clusters_and_multi_line_scripts() {
        let w = deployment(json!({"containers": [{
            "name": "notifier", "image": "n:1",
            "command": ["/bin/bash", "-euc"],
            "args": ["echo \"starting notifier (no exec)\"\n. /etc/notifier/env\n/opt/notifier/bin/notifier --queue orders\n"]
        }]}));
        assert_eq!(run(&w), vec![("pid1-signal", c0("command"))]);
        let w = deployment(json!({"containers": [{
            "name": "watcher", "image": "s:1",
            "command": ["/bin/sh", "-c"],
            "args": ["/opt/watcher/bin/watch &\nchild=$!\ntrap 'kill -TERM \"$child\"' TERM\nwait \"$child\"\n"]
        }]}));
        assert_eq!(run(&w), vec![]);
    }

    #[test]
    fn exec_tini_and_entrypoints_are_fine() {
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
        ] {
            let mut c = good_web();
            c["command"] = command.clone();
            c["args"] = args;
            let w = deployment(json!({"containers": [c]}));
            assert_eq!(run(&w), vec![], "{command}");
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

    // ---- Services in the context ----

    fn context(objects: Value) -> Context {
        Context::from_json(&json!({"objects": objects}).to_string()).unwrap()
    }

    fn service(name: &str, namespace: Option<&str>, selector: Value) -> Value {
        let mut s = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name},
            "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]}
        });
        if let Some(ns) = namespace {
            s["metadata"]["namespace"] = json!(ns);
        }
        s
    }

    #[test]
    fn services_select_by_labels_and_namespace() {
        let w = deployment(json!({"containers": [{"name": "api", "image": "a:1"}]}));
        let cx = context(json!([service(
            "checkout",
            Some("shop"),
            json!({"app": "checkout"})
        )]));
        assert!(selected_by_service(&cx, Some("shop"), &w));
        assert!(selected_by_service(&cx, None, &w));
        assert!(!selected_by_service(&cx, Some("billing"), &w));
        let cx = context(json!([
            service("cart", None, json!({"app": "cart"})),
            service("empty", None, json!({})),
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
            {"apiVersion": "example.com/v1", "kind": "Service", "metadata": {"name": "y"},
             "spec": {"selector": {"app": "checkout"}}}
        ]));
        assert!(!selected_by_service(&cx, None, &w));
    }

    /// The scenarios of tests/fixtures/graceful-shutdown/*.yaml, through the module's own
    /// entry point with every object of the file as context.
    fn evaluate_set(objects: &[Value]) -> Vec<Value> {
        objects
            .iter()
            .map(|o| {
                let envelope = json!({
                    "request": {"object": o},
                    "context": {"objects": objects},
                    "mode": "manifest"
                });
                let out = crate::evaluate_json(envelope.to_string().as_bytes());
                serde_json::from_slice::<Value>(&out).unwrap()
            })
            .collect()
    }

    fn verdict_ids(v: &Value) -> Vec<String> {
        assert!(v["error"].is_null(), "{v}");
        let mut ids: Vec<String> = v["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["check"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }

    fn deploy(name: &str, labels: Value, pod: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod}
            }
        })
    }

    #[test]
    fn fixture_scenario_prestop_delay_with_a_service() {
        let objects = vec![
            // A Service in the same namespace selects the portless cart-api.
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "cart-api", "namespace": "shop"},
                   "spec": {"selector": {"app": "cart-api"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
            deploy(
                "cart-api",
                json!({"app": "cart-api"}),
                json!({"containers": [
                    {"name": "api", "image": "registry.example/cart-api:3.1.0"}
                ]}),
            ),
            // Ports, preStop sleeps 10s: passes.
            deploy(
                "checkout",
                json!({"app": "checkout"}),
                json!({"containers": [good_web()]}),
            ),
            // Not selected (labels differ), no ports: not serving.
            deploy(
                "cart-sync",
                json!({"app": "cart-sync"}),
                json!({"containers": [
                    {"name": "sync", "image": "registry.example/cart-sync:1.0.0"}
                ]}),
            ),
        ];
        let verdicts = evaluate_set(&objects);
        assert!(verdicts[0]["skipped"].is_string(), "{}", verdicts[0]);
        assert_eq!(verdict_ids(&verdicts[1]), vec!["prestop-delay"]);
        assert_eq!(verdict_ids(&verdicts[2]), Vec::<String>::new());
        assert_eq!(verdict_ids(&verdicts[3]), Vec::<String>::new());
        assert_eq!(
            verdicts[1]["violations"][0]["path"],
            "spec.template.spec.containers[0].lifecycle.preStop"
        );
    }

    #[test]
    fn a_service_in_another_namespace_does_not_select() {
        let objects = vec![
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "cart-api", "namespace": "billing"},
                   "spec": {"selector": {"app": "cart-api"}}}),
            deploy(
                "cart-api",
                json!({"app": "cart-api"}),
                json!({"containers": [
                    {"name": "api", "image": "registry.example/cart-api:3.1.0"}
                ]}),
            ),
        ];
        let verdicts = evaluate_set(&objects);
        assert_eq!(verdict_ids(&verdicts[1]), Vec::<String>::new());
    }

    #[test]
    fn cronjob_paths_and_no_delay_requirement() {
        let objects = vec![json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "nightly-report"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "report", "image": "r:1", "command": ["sh", "-c", "./report"]}]
            }}}}}
        })];
        let verdicts = evaluate_set(&objects);
        assert_eq!(
            verdict_ids(&verdicts[0]),
            vec!["grace-period-bounds", "pid1-signal"]
        );
        let paths: Vec<&str> = verdicts[0]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            vec![
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
