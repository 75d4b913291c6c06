//! Reading passwords the way etcdctl does: typed at a prompt, or taken as
//! one word from standard input.
//!
//! At a prompt the prompt goes to stdout, the answer is read from stdin up
//! to the end of the line with echo turned off when stdin is a terminal,
//! and the newline that was not echoed is printed afterwards. When stdin is
//! not a terminal the same happens without touching echo, so a password can
//! be piped in; the output then reads `Password: ` and a newline, byte for
//! byte as etcdctl's.
//!
//! Nothing here keeps, prints or logs a password.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};

use super::exit::CtlError;
use super::gostr::decode_char;
use super::print_now;

/// Shows `prompt` and reads the answer: one line of stdin without its end
/// (`\n`, or `\r\n`). End of input ends the answer too.
pub fn prompt(prompt: &str) -> Result<String, CtlError> {
    print_now(prompt.as_bytes())?;
    let answer = {
        let _echo = EchoOff::on_terminal();
        read_line(&mut std::io::stdin().lock())?
    };
    print_now(b"\n")?;
    Ok(answer)
}

/// The new password of `user add` and `user passwd` when it is typed:
/// asked for twice, and neither empty nor different the second time.
pub fn prompt_new(user: &str) -> Result<String, CtlError> {
    let password = prompt(&format!("Password of {user}: "))?;
    if password.is_empty() {
        return Err(CtlError::bad_args("empty password"));
    }
    let again = prompt(&format!("Type password of {user} again for confirmation: "))?;
    if again != password {
        return Err(CtlError::bad_args("given passwords are different"));
    }
    Ok(password)
}

/// The new password of `user add` and `user passwd` with
/// `--interactive=false`: the first word on stdin (see [`scan_word`]).
pub fn read_new() -> String {
    scan_word(&mut std::io::stdin().lock())
}

/// One line of `input` without its end, reading no further than its `\n`
/// (what follows is left for whoever reads stdin next).
fn read_line(input: &mut impl BufRead) -> Result<String, CtlError> {
    let mut line = Vec::new();
    input.read_until(b'\n', &mut line)?;
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// The first word of `input`, as Go's `fmt.Scanf("%s")` reads it: blanks
/// before it are skipped, but a line end before any word means there is
/// none (an empty password, as etcdctl then sends); the word ends at the
/// next blank or line end. Blanks are Go's: ASCII white space and the
/// Unicode spaces.
fn scan_word(input: &mut impl BufRead) -> String {
    let mut word = Vec::new();
    while let Some((c, bytes)) = next_char(input) {
        if !is_space(c) {
            word.extend_from_slice(&bytes);
            continue;
        }
        if !word.is_empty() {
            break;
        }
        if c == '\n' || (c == '\r' && peek_byte(input) == Some(b'\n')) {
            break;
        }
    }
    String::from_utf8_lossy(&word).into_owned()
}

/// The next character of `input` and its bytes; a byte that does not start
/// valid UTF-8 stands for itself as U+FFFD, as in Go. `None` at the end of
/// the input (or on a read error, which ends a password as the end would).
fn next_char(input: &mut impl BufRead) -> Option<(char, Vec<u8>)> {
    let available = input.fill_buf().ok()?;
    if available.is_empty() {
        return None;
    }
    let (c, width) = decode_char(available).unwrap_or((char::REPLACEMENT_CHARACTER, 1));
    let bytes = available[..width].to_vec();
    input.consume(width);
    Some((c, bytes))
}

fn peek_byte(input: &mut impl BufRead) -> Option<u8> {
    input.fill_buf().ok()?.first().copied()
}

/// Go's `fmt` notion of white space.
fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// Echo turned off on the terminal that is stdin, for as long as this
/// lives. Like etcdctl, ectl asks `stty`, which every Unix has, rather than
/// the terminal driver directly.
struct EchoOff;

impl EchoOff {
    /// `None` when stdin is not a terminal (there is no echo to turn off)
    /// or `stty` could not do it.
    fn on_terminal() -> Option<EchoOff> {
        if !std::io::stdin().is_terminal() {
            return None;
        }
        stty("-echo").then_some(EchoOff)
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        stty("echo");
    }
}

/// Runs `stty setting` on stdin's terminal; true if it worked.
fn stty(setting: &str) -> bool {
    let _ = std::io::stdout().flush();
    Command::new("stty")
        .arg(setting)
        .stdin(Stdio::inherit())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(input: &[u8]) -> String {
        scan_word(&mut &input[..])
    }

    #[test]
    fn words_are_read_as_go_scans_them() {
        assert_eq!(word(b"pw\n"), "pw");
        assert_eq!(word(b"pw"), "pw");
        assert_eq!(word(b" \tpw x\n"), "pw");
        assert_eq!(word(b"pw\tx"), "pw");
        assert_eq!(word(b"a\rb\n"), "a");
        assert_eq!(word("p\u{a0}w".as_bytes()), "p");
        assert_eq!(word("pä\n".as_bytes()), "pä");
        // A line end before the word: no word at all.
        assert_eq!(word(b"\npw\n"), "");
        assert_eq!(word(b"  \r\npw\n"), "");
        assert_eq!(word(b"\r"), "");
        assert_eq!(word(b""), "");
    }

    #[test]
    fn a_word_leaves_the_rest_of_the_input() {
        let mut input = &b"first second\nthird\n"[..];
        assert_eq!(scan_word(&mut input), "first");
        assert_eq!(input, b"second\nthird\n");
    }

    #[test]
    fn lines_lose_their_end_only() {
        let mut input = &b"pw\r\nsecond line\nlast"[..];
        assert_eq!(read_line(&mut input).unwrap(), "pw");
        assert_eq!(read_line(&mut input).unwrap(), "second line");
        assert_eq!(read_line(&mut input).unwrap(), "last");
        assert_eq!(read_line(&mut input).unwrap(), "");
        let mut input = &b"  spaced  \n"[..];
        assert_eq!(read_line(&mut input).unwrap(), "  spaced  ");
    }
}
