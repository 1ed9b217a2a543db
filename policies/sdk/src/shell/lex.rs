//! Words and control operators of a shell script, as far as the PID 1 analysis needs them:
//! quotes, escapes and comments are handled, `$(...)`, `${...}` and backquotes stay inside
//! their word.

/// A token of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A word with quotes and escapes removed.
    Word(String),
    /// `;` or a newline: ends a command.
    Sep,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `|`
    Pipe,
    /// `&` (run in the background)
    Amp,
    /// `(`
    LParen,
    /// `)`
    RParen,
}

/// Splits a script into tokens. Never fails: what it does not understand ends up in words.
pub(crate) fn lex(script: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();

    fn end(out: &mut Vec<Tok>, word: &mut String, in_word: &mut bool) {
        if *in_word {
            out.push(Tok::Word(std::mem::take(word)));
            *in_word = false;
        }
    }

    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                match chars.next() {
                    // Backslash-newline continues the line.
                    Some('\n') | None => {}
                    Some(c) => {
                        word.push(c);
                        in_word = true;
                    }
                }
            }
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                word.push(n);
                            }
                        }
                        c => word.push(c),
                    }
                }
            }
            '`' => {
                // Command substitution: part of the word.
                in_word = true;
                word.push('`');
                for c in chars.by_ref() {
                    word.push(c);
                    if c == '`' {
                        break;
                    }
                }
            }
            '$' if matches!(chars.peek(), Some('(') | Some('{')) => {
                // `$(...)` or `${...}`: part of the word, nesting counted.
                in_word = true;
                word.push('$');
                let open = chars.next().unwrap_or('(');
                let close = if open == '(' { ')' } else { '}' };
                word.push(open);
                let mut depth = 1usize;
                for c in chars.by_ref() {
                    word.push(c);
                    if c == open {
                        depth = depth.saturating_add(1);
                    } else if c == close {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            break;
                        }
                    }
                }
            }
            '#' if !in_word => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                end(&mut out, &mut word, &mut in_word);
                out.push(Tok::Sep);
            }
            ';' | '\n' => {
                end(&mut out, &mut word, &mut in_word);
                // `;;` in a case statement reads as two separators: fine here.
                out.push(Tok::Sep);
            }
            '&' if word.ends_with('>') || word.ends_with('<') => {
                // `2>&1`, `>&2`: part of a redirection.
                word.push('&');
                in_word = true;
            }
            '&' => {
                end(&mut out, &mut word, &mut in_word);
                if chars.peek() == Some(&'&') {
                    chars.next();
                    out.push(Tok::And);
                } else {
                    out.push(Tok::Amp);
                }
            }
            '|' => {
                end(&mut out, &mut word, &mut in_word);
                if chars.peek() == Some(&'|') {
                    chars.next();
                    out.push(Tok::Or);
                } else {
                    out.push(Tok::Pipe);
                }
            }
            '(' => {
                end(&mut out, &mut word, &mut in_word);
                out.push(Tok::LParen);
            }
            ')' => {
                end(&mut out, &mut word, &mut in_word);
                out.push(Tok::RParen);
            }
            c if c.is_whitespace() => end(&mut out, &mut word, &mut in_word),
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    end(&mut out, &mut word, &mut in_word);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Tok {
        Tok::Word(s.to_string())
    }

    #[test]
    fn words_and_operators() {
        assert_eq!(
            lex("echo 'a b' \"c\\\"d\" && x || y | z & w; v\nu"),
            vec![
                w("echo"),
                w("a b"),
                w("c\"d"),
                Tok::And,
                w("x"),
                Tok::Or,
                w("y"),
                Tok::Pipe,
                w("z"),
                Tok::Amp,
                w("w"),
                Tok::Sep,
                w("v"),
                Tok::Sep,
                w("u"),
            ]
        );
        assert_eq!(
            lex("echo $(date +%s) ${A:-x} `id`; cmd 2>&1 >/dev/null # sleep 9"),
            vec![
                w("echo"),
                w("$(date +%s)"),
                w("${A:-x}"),
                w("`id`"),
                Tok::Sep,
                w("cmd"),
                w("2>&1"),
                w(">/dev/null"),
                Tok::Sep,
            ]
        );
        assert_eq!(
            lex("f() { x; }; (y)"),
            vec![
                w("f"),
                Tok::LParen,
                Tok::RParen,
                w("{"),
                w("x"),
                Tok::Sep,
                w("}"),
                Tok::Sep,
                Tok::LParen,
                w("y"),
                Tok::RParen,
            ]
        );
        assert_eq!(lex("trap '' INT"), vec![w("trap"), w(""), w("INT")]);
    }
}
