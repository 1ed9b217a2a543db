//! Whether `SHELL -c SCRIPT` leaves the shell as PID 1, which then ignores SIGTERM (the kernel
//! drops default-disposition signals sent to a PID namespace's init, and none of these shells
//! forwards signals to its child), so the container is SIGKILLed at the end of its grace period.
//!
//! Observed on bash 5.2.15, dash 0.5.12 and busybox 1.35 (docs/precision.md, pid1-signal):
//! - **bash** execs the last *simple* command of the script (after `;`, `&&`, `cd`, `set -e`,
//!   `export`, assignments, command substitutions, newlines) — but not when it has a
//!   redirection, sits inside `if`/`{ }`/`( )`/a function, follows `||`, is part of a pipeline,
//!   is followed by anything (`; exit $?`), or a trap with a command is set;
//! - **busybox** (ash/sh) execs in all of bash's cases, and also with a redirection and inside
//!   `if`/`{ }`/`( )`; it stays for pipelines, `||`, `& wait`, functions and traps;
//! - **dash** never execs an implicit last command: only an explicit `exec`;
//! - every shell: `exec CMD` replaces the shell; a TERM trap runs only after the foreground
//!   command ends by itself, except while the shell is in `wait` (the `cmd & wait` pattern).

use super::lex::{Tok, lex};
use super::{basename, is_assignment, is_redirect};

/// Which shell runs a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellKind {
    Bash,
    Dash,
    Busybox,
    /// Not observed here; assumed to exec its last command like busybox.
    Zsh,
}

impl ShellKind {
    /// The shell a program name runs in an image: `bash`, `dash`, `ash`, `zsh` are what they
    /// say; `sh` is busybox on Alpine and busybox images, bash on Red Hat family images, and
    /// dash otherwise (Debian and Ubuntu, the most common bases).
    pub fn of(program: &str, image: Option<&str>) -> Option<ShellKind> {
        Some(match basename(program) {
            "bash" => ShellKind::Bash,
            "dash" => ShellKind::Dash,
            "ash" | "busybox" => ShellKind::Busybox,
            "zsh" => ShellKind::Zsh,
            "sh" => {
                let image = image.unwrap_or_default().to_ascii_lowercase();
                let name = image.rsplit('/').next().unwrap_or(&image);
                if image.contains("alpine") || name.starts_with("busybox") {
                    ShellKind::Busybox
                } else if [
                    "ubi",
                    "centos",
                    "fedora",
                    "rhel",
                    "rockylinux",
                    "almalinux",
                    "amazonlinux",
                ]
                .iter()
                .any(|d| name.starts_with(d) || image.contains(&format!("/{d}")))
                {
                    ShellKind::Bash
                } else {
                    ShellKind::Dash
                }
            }
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ShellKind::Bash => "bash",
            ShellKind::Dash => "dash",
            ShellKind::Busybox => "busybox sh",
            ShellKind::Zsh => "zsh",
        }
    }
}

/// What becomes of PID 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pid1 {
    /// The script's command replaces the shell (an explicit `exec`, or the shell execs its
    /// last command): SIGTERM reaches it.
    Replaced,
    /// The script traps TERM and waits on a background child: it can act on SIGTERM.
    Forwards,
    /// The shell stays PID 1 and ignores SIGTERM; `why` says what keeps it there.
    Stays { why: String },
}

/// How the script ends.
#[derive(Debug, PartialEq, Eq)]
enum Last {
    Simple {
        name: String,
        redirected: bool,
        /// The operator before it: `;`, `&&`, or none.
        after_or_pipe_or_amp: Option<&'static str>,
    },
    /// Ends with a compound command: `fi`, `}`, `)`.
    IfGroupOrSubshell(&'static str),
    /// Ends in a way no shell execs: a loop, a `case`, a background job, nothing.
    Other(String),
}

/// Builtins: a script that ends with one keeps the shell running to the end.
const BUILTINS: &[&str] = &[
    "wait", "exit", "true", "false", ":", "echo", "printf", "read", "cd", "export", "set", "unset",
    "trap", "shift", "return", "eval", ".", "source", "test", "[", "ulimit", "umask",
];

struct Analysis {
    explicit_exec: bool,
    /// A trap with a command (not `''`, not `-`) on any signal.
    command_trap: bool,
    /// Such a trap on TERM.
    term_trap: bool,
    /// A `wait` command.
    waits: bool,
    functions: Vec<String>,
    last: Last,
}

fn op_name(t: &Tok) -> &'static str {
    match t {
        Tok::Or => "||",
        Tok::Pipe => "|",
        Tok::Amp => "&",
        Tok::And => "&&",
        _ => ";",
    }
}

fn analyse(script: &str) -> Analysis {
    let toks = lex(script);
    let mut a = Analysis {
        explicit_exec: false,
        command_trap: false,
        term_trap: false,
        waits: false,
        functions: Vec::new(),
        last: Last::Other("the script is empty".into()),
    };
    // Commands: runs of words between operators, with the operator before each.
    let mut commands: Vec<(Option<Tok>, Vec<String>)> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut prev: Option<Tok> = None;
    for (i, t) in toks.iter().enumerate() {
        match t {
            Tok::Word(w) => words.push(w.clone()),
            op => {
                // `name ( )` defines a function.
                if *op == Tok::LParen
                    && toks.get(i + 1) == Some(&Tok::RParen)
                    && let Some(name) = words.last()
                {
                    a.functions.push(name.clone());
                }
                if !words.is_empty() {
                    commands.push((prev.clone(), std::mem::take(&mut words)));
                }
                prev = Some(op.clone());
            }
        }
    }
    if !words.is_empty() {
        commands.push((prev.clone(), std::mem::take(&mut words)));
    }
    for (_, words) in &commands {
        let Some(start) = words.iter().position(|w| {
            !is_assignment(w) && !matches!(w.as_str(), "!" | "then" | "do" | "else" | "{")
        }) else {
            continue;
        };
        let Some((name, args)) = words.get(start..).and_then(<[String]>::split_first) else {
            continue;
        };
        match name.as_str() {
            "exec" if args.iter().any(|w| !is_redirect(w)) => a.explicit_exec = true,
            "wait" => a.waits = true,
            "trap" => {
                let action = args.first().map(String::as_str).unwrap_or("-");
                if !action.is_empty() && action != "-" {
                    a.command_trap = true;
                    if args.iter().skip(1).any(|s| {
                        ["TERM", "SIGTERM", "15"]
                            .iter()
                            .any(|t| s.eq_ignore_ascii_case(t))
                    }) {
                        a.term_trap = true;
                    }
                }
            }
            _ => {}
        }
    }
    // The last token that is not a command separator decides how the script ends.
    let end = toks.iter().rev().find(|t| **t != Tok::Sep);
    a.last = match end {
        None => Last::Other("the script is empty".into()),
        Some(Tok::Amp) => Last::Other("its last command runs in the background".into()),
        Some(Tok::RParen) => Last::IfGroupOrSubshell("( )"),
        Some(Tok::Word(_)) => match commands.last() {
            None => Last::Other("the script is empty".into()),
            Some((before, words)) => last_of(before.as_ref(), words),
        },
        Some(t) => Last::Other(format!("the script ends with `{}`", op_name(t))),
    };
    a
}

fn last_of(before: Option<&Tok>, words: &[String]) -> Last {
    let first = words.first().map(String::as_str).unwrap_or_default();
    match first {
        "fi" => return Last::IfGroupOrSubshell("if"),
        "}" => return Last::IfGroupOrSubshell("{ }"),
        "done" => return Last::Other("it ends with a loop".into()),
        "esac" => return Last::Other("it ends with a case statement".into()),
        "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "for" | "case" | "{" => {
            return Last::Other("it ends inside a compound command".into());
        }
        _ => {}
    }
    let Some(name) = words
        .iter()
        .find(|w| !is_assignment(w) && !matches!(w.as_str(), "!" | "time" | "command"))
    else {
        return Last::Other("its last command only sets variables".into());
    };
    Last::Simple {
        name: name.clone(),
        redirected: words.iter().any(|w| is_redirect(w)),
        after_or_pipe_or_amp: match before {
            Some(t @ (Tok::Or | Tok::Pipe | Tok::Amp)) => Some(op_name(t)),
            _ => None,
        },
    }
}

/// What becomes of PID 1 when `shell` runs `script` with `-c`.
pub fn pid1_of(shell: ShellKind, script: &str) -> Pid1 {
    let a = analyse(script);
    if a.explicit_exec {
        return Pid1::Replaced;
    }
    if a.term_trap && a.waits {
        return Pid1::Forwards;
    }
    let stays = |why: String| Pid1::Stays { why };
    if shell == ShellKind::Dash {
        return stays(
            "dash (Debian's and Ubuntu's /bin/sh) never execs the last command of a -c script"
                .into(),
        );
    }
    if a.term_trap {
        return stays(
            "it traps TERM, but a trap runs only after the foreground command ends by itself"
                .into(),
        );
    }
    if a.command_trap {
        return stays("a trap is set, so the shell keeps running to execute it".into());
    }
    let permissive = matches!(shell, ShellKind::Busybox | ShellKind::Zsh);
    match a.last {
        Last::Simple {
            name,
            redirected,
            after_or_pipe_or_amp,
        } => {
            if let Some(op) = after_or_pipe_or_amp {
                let what = match op {
                    "|" => "is part of a pipeline".to_string(),
                    other => format!("follows `{other}`"),
                };
                return stays(format!("its last command {what}"));
            }
            if BUILTINS.contains(&name.as_str()) {
                return stays(format!("its last command `{name}` is a shell builtin"));
            }
            if a.functions.contains(&name) {
                return stays(format!("its last command `{name}` is a shell function"));
            }
            if redirected && !permissive {
                return stays(format!(
                    "{} does not exec a last command that has a redirection",
                    shell.name()
                ));
            }
            Pid1::Replaced
        }
        Last::IfGroupOrSubshell(what) if !permissive => stays(format!(
            "{} does not exec a last command inside `{what}`",
            shell.name()
        )),
        Last::IfGroupOrSubshell(_) => Pid1::Replaced,
        Last::Other(why) => stays(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replaced(shell: ShellKind, script: &str) -> bool {
        pid1_of(shell, script) == Pid1::Replaced
    }

    /// The observed table (docs/precision.md): `true` = the shell execs its last command.
    #[test]
    fn matches_what_the_shells_were_observed_to_do() {
        use ShellKind::{Bash, Busybox, Dash};
        let cases: &[(&str, bool, bool, bool)] = &[
            // script, bash, dash, busybox
            ("sleep 2", true, false, true),
            ("sleep 1 1", true, false, true),
            ("echo hi; sleep 2", true, false, true),
            ("echo hi && sleep 2", true, false, true),
            ("cd /tmp && sleep 2", true, false, true),
            ("FOO=1 sleep 2", true, false, true),
            ("sleep 2 > /dev/null", false, false, true),
            ("set -e; sleep 2", true, false, true),
            ("trap 'x' TERM; sleep 2", false, false, false),
            ("sleep 2 &  wait", false, false, false),
            ("if true; then sleep 2; fi", false, false, true),
            ("sleep 2 | cat", false, false, false),
            ("exec sleep 2", true, true, true),
            (
                "set -e\necho starting\nX=$(echo val)\nexport X\nsleep 2\n",
                true,
                false,
                true,
            ),
            ("echo $(date); sleep 2", true, false, true),
            ("/usr/bin/sleep 2", true, false, true),
            ("sleep 2 || true", false, false, false),
            ("sleep 2; exit $?", false, false, false),
            ("{ sleep 2; }", false, false, true),
            ("(sleep 2)", false, false, true),
            ("sleep 2 2>&1", false, false, true),
            ("exec sleep 2 > /dev/null", true, true, true),
            ("export A=1; sleep 2", true, false, true),
            ("sleep 2;", true, false, true),
            ("set -x; sleep 2", true, false, true),
            ("trap - TERM; sleep 2", true, false, true),
            ("trap '' INT; sleep 2", true, false, true),
            ("f() { sleep 2; }; f", false, false, false),
        ];
        for (script, bash, dash, busybox) in cases {
            assert_eq!(replaced(Bash, script), *bash, "bash -c {script:?}");
            assert_eq!(replaced(Dash, script), *dash, "dash -c {script:?}");
            assert_eq!(
                replaced(Busybox, script),
                *busybox,
                "busybox sh -c {script:?}"
            );
        }
    }

    #[test]
    fn a_term_trap_with_wait_can_forward() {
        let s = "trap 'kill -TERM $pid; wait $pid' TERM; ./server & pid=$!; wait";
        for shell in [ShellKind::Bash, ShellKind::Dash, ShellKind::Busybox] {
            assert_eq!(pid1_of(shell, s), Pid1::Forwards);
        }
    }

    #[test]
    fn which_shell_sh_is() {
        assert_eq!(
            ShellKind::of("/bin/sh", Some("nginx:1.27")),
            Some(ShellKind::Dash)
        );
        assert_eq!(
            ShellKind::of("sh", Some("nginx:1.27-alpine")),
            Some(ShellKind::Busybox)
        );
        assert_eq!(
            ShellKind::of("sh", Some("docker.io/library/busybox:1.36")),
            Some(ShellKind::Busybox)
        );
        assert_eq!(
            ShellKind::of(
                "sh",
                Some("registry.access.redhat.com/ubi9/ubi-minimal:9.4")
            ),
            Some(ShellKind::Bash)
        );
        assert_eq!(ShellKind::of("/bin/bash", None), Some(ShellKind::Bash));
        assert_eq!(ShellKind::of("python", None), None);
    }
}
