//! A reader for the common shapes of shell command lines in manifests (`sh -c '...'`,
//! `exec`, `sleep`, `env A=1 ...`): enough to see what a container or hook runs, not a shell
//! parser. Shared by rules that read commands (graceful shutdown, tuning, config injection).
//!
//! [`pid1`] says whether a shell's `-c` script leaves the shell as the container's PID 1,
//! from what bash, dash and busybox were observed to do.

mod lex;
pub mod pid1;

pub use pid1::{Pid1, ShellKind, pid1_of};

/// Shells whose `-c` script runs as the container's main process.
pub const SHELLS: [&str; 5] = ["sh", "bash", "ash", "dash", "zsh"];

/// Words that may precede a command's name in a shell script without being the command.
pub const PREFIX_WORDS: [&str; 14] = [
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time",
    "command",
];

/// The last component of a path: `/bin/sh` is `sh`.
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Drops a leading `env [-flags] [NAME=value...]`.
pub fn strip_env(argv: &[String]) -> &[String] {
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
pub fn shell_script(argv: &[String]) -> Option<&str> {
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
pub fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
            && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    })
}

/// A redirection word such as `>/dev/null`, `2>&1`, `2>` or `<in`.
pub fn is_redirect(word: &str) -> bool {
    let op = word.trim_start_matches(|ch: char| ch.is_ascii_digit() || ch == '&');
    op.starts_with('>') || op.starts_with('<')
}

/// The words of a command's arguments that are not redirections (nor their targets).
pub fn operands(args: &[String]) -> impl Iterator<Item = &str> {
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
pub fn command_word(words: &[String]) -> Option<(&str, &[String])> {
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
pub fn sleep_ms(args: &[String]) -> (i64, bool) {
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
pub fn simple_commands(script: &str) -> Vec<Vec<String>> {
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
}
