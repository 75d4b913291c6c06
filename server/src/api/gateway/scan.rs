//! Finds where the first JSON value of a request body ends, and words syntax
//! errors as etcd's gateway (Go's `encoding/json` decoder) words them, since
//! clients see those messages verbatim: `unexpected EOF`, `invalid character 'x'
//! looking for beginning of value`, and so on.
//!
//! Only syntax is checked here; the value is then decoded by the generated serde
//! impls. Like Go's decoder, whatever follows the first value is left unread.

/// Go's limit on nesting (`encoding/json`'s `maxNestingDepth`).
const MAX_DEPTH: usize = 10_000;

/// The outcome of scanning a buffer for its first JSON value.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
    /// Only whitespace so far.
    Empty,
    /// The first value ends just before this offset.
    Complete(usize),
    /// The value has started but not ended; more input may complete it.
    Incomplete,
    /// A syntax error, worded as Go words it.
    Invalid(String),
}

#[derive(Clone, Copy)]
enum Nest {
    ObjectKey,
    ObjectValue,
    Array,
}

#[derive(Clone, Copy)]
enum State {
    BeginValue,
    BeginValueOrEmpty,
    BeginString,
    BeginStringOrEmpty,
    EndValue,
    InString,
    InStringEsc,
    InStringEscU(u8),
    Neg,
    Zero,
    Int,
    Dot,
    DotDigits,
    Exp,
    ExpSign,
    ExpDigits,
    Literal(&'static [u8], usize),
}

/// Scans `buf` for its first JSON value. At the end of the input, call
/// [`finish`] instead: a number at the end of the body is only complete then.
pub fn first_value(buf: &[u8]) -> Scan {
    let start = match buf.iter().position(|&c| !is_space(c)) {
        Some(i) => i,
        None => return Scan::Empty,
    };
    let mut stack: Vec<Nest> = Vec::new();
    let mut state = State::BeginValue;
    for (i, &c) in buf.iter().enumerate().skip(start) {
        // Numbers and literals end on the byte after them, so a byte may be
        // looked at twice: once to end the number, once as what follows it.
        let mut c_state = state;
        loop {
            match step(&mut stack, c_state, c) {
                Step::Next(s) => {
                    state = s;
                    break;
                }
                Step::Reprocess(s) => c_state = s,
                Step::Done => return Scan::Complete(i),
                Step::DoneIncluding => return Scan::Complete(i + 1),
                Step::Error(context) => {
                    return Scan::Invalid(format!("invalid character {} {context}", quote_char(c)))
                }
            }
        }
        if stack.len() > MAX_DEPTH {
            return Scan::Invalid("exceeded max depth".to_string());
        }
    }
    Scan::Incomplete
}

/// Scans a whole body: like [`first_value`], but the end of input ends a
/// trailing number, and an unfinished value is Go's `unexpected EOF`.
pub fn finish(buf: &[u8]) -> Scan {
    match first_value(buf) {
        Scan::Incomplete => {
            let mut padded = buf.to_vec();
            padded.push(b' ');
            match first_value(&padded) {
                Scan::Complete(end) => Scan::Complete(end.min(buf.len())),
                Scan::Invalid(e) => Scan::Invalid(e),
                _ => Scan::Invalid("unexpected EOF".to_string()),
            }
        }
        other => other,
    }
}

enum Step {
    Next(State),
    /// The byte ended the previous token; look at it again in this state.
    Reprocess(State),
    /// The top-level value ended before this byte.
    Done,
    /// The top-level value ended with this byte.
    DoneIncluding,
    Error(&'static str),
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// A closing bracket or the end of a scalar: where to go next.
fn close(stack: &[Nest], including: bool) -> Step {
    if stack.is_empty() {
        if including {
            Step::DoneIncluding
        } else {
            Step::Done
        }
    } else {
        Step::Next(State::EndValue)
    }
}

fn step(stack: &mut Vec<Nest>, state: State, c: u8) -> Step {
    use State::*;
    match state {
        BeginValueOrEmpty if is_space(c) => Step::Next(BeginValueOrEmpty),
        BeginValueOrEmpty if c == b']' => {
            stack.pop();
            close(stack, true)
        }
        BeginValueOrEmpty => step(stack, BeginValue, c),
        BeginValue => match c {
            c if is_space(c) => Step::Next(BeginValue),
            b'{' => {
                stack.push(Nest::ObjectKey);
                Step::Next(BeginStringOrEmpty)
            }
            b'[' => {
                stack.push(Nest::Array);
                Step::Next(BeginValueOrEmpty)
            }
            b'"' => Step::Next(InString),
            b'-' => Step::Next(Neg),
            b'0' => Step::Next(Zero),
            b'1'..=b'9' => Step::Next(Int),
            b't' => Step::Next(Literal(b"true", 1)),
            b'f' => Step::Next(Literal(b"false", 1)),
            b'n' => Step::Next(Literal(b"null", 1)),
            _ => Step::Error("looking for beginning of value"),
        },
        BeginStringOrEmpty if is_space(c) => Step::Next(BeginStringOrEmpty),
        BeginStringOrEmpty if c == b'}' => {
            stack.pop();
            close(stack, true)
        }
        BeginStringOrEmpty => step(stack, BeginString, c),
        BeginString => match c {
            c if is_space(c) => Step::Next(BeginString),
            b'"' => Step::Next(InString),
            _ => Step::Error("looking for beginning of object key string"),
        },
        EndValue => end_value(stack, c),
        InString => match c {
            b'"' => close(stack, true),
            b'\\' => Step::Next(InStringEsc),
            c if c < 0x20 => Step::Error("in string literal"),
            _ => Step::Next(InString),
        },
        InStringEsc => match c {
            b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => Step::Next(InString),
            b'u' => Step::Next(InStringEscU(0)),
            _ => Step::Error("in string escape code"),
        },
        InStringEscU(n) => {
            if !c.is_ascii_hexdigit() {
                Step::Error("in \\u hexadecimal character escape")
            } else if n == 3 {
                Step::Next(InString)
            } else {
                Step::Next(InStringEscU(n + 1))
            }
        }
        Neg => match c {
            b'0' => Step::Next(Zero),
            b'1'..=b'9' => Step::Next(Int),
            _ => Step::Error("in numeric literal"),
        },
        Int if c.is_ascii_digit() => Step::Next(Int),
        Int | Zero => match c {
            b'.' => Step::Next(Dot),
            b'e' | b'E' => Step::Next(Exp),
            _ => end_scalar(stack),
        },
        Dot if c.is_ascii_digit() => Step::Next(DotDigits),
        Dot => Step::Error("after decimal point in numeric literal"),
        DotDigits => match c {
            c if c.is_ascii_digit() => Step::Next(DotDigits),
            b'e' | b'E' => Step::Next(Exp),
            _ => end_scalar(stack),
        },
        Exp if c == b'+' || c == b'-' => Step::Next(ExpSign),
        Exp | ExpSign if c.is_ascii_digit() => Step::Next(ExpDigits),
        Exp | ExpSign => Step::Error("in exponent of numeric literal"),
        ExpDigits if c.is_ascii_digit() => Step::Next(ExpDigits),
        ExpDigits => end_scalar(stack),
        Literal(word, at) => {
            if c != word[at] {
                return Step::Error(literal_context(word, at));
            }
            if at + 1 == word.len() {
                close(stack, true)
            } else {
                Step::Next(Literal(word, at + 1))
            }
        }
    }
}

/// A number ended on the byte just seen.
fn end_scalar(stack: &[Nest]) -> Step {
    if stack.is_empty() {
        Step::Done
    } else {
        Step::Reprocess(State::EndValue)
    }
}

fn end_value(stack: &mut Vec<Nest>, c: u8) -> Step {
    if is_space(c) {
        return Step::Next(State::EndValue);
    }
    let Some(top) = stack.last_mut() else {
        return Step::Done;
    };
    match (*top, c) {
        (Nest::ObjectKey, b':') => {
            *top = Nest::ObjectValue;
            Step::Next(State::BeginValue)
        }
        (Nest::ObjectKey, _) => Step::Error("after object key"),
        (Nest::ObjectValue, b',') => {
            *top = Nest::ObjectKey;
            Step::Next(State::BeginString)
        }
        (Nest::ObjectValue, b'}') => {
            stack.pop();
            close(stack, true)
        }
        (Nest::ObjectValue, _) => Step::Error("after object key:value pair"),
        (Nest::Array, b',') => Step::Next(State::BeginValue),
        (Nest::Array, b']') => {
            stack.pop();
            close(stack, true)
        }
        (Nest::Array, _) => Step::Error("after array element"),
    }
}

fn literal_context(word: &[u8], at: usize) -> &'static str {
    match (word, at) {
        (b"true", 1) => "in literal true (expecting 'r')",
        (b"true", 2) => "in literal true (expecting 'u')",
        (b"true", _) => "in literal true (expecting 'e')",
        (b"false", 1) => "in literal false (expecting 'a')",
        (b"false", 2) => "in literal false (expecting 'l')",
        (b"false", 3) => "in literal false (expecting 's')",
        (b"false", _) => "in literal false (expecting 'e')",
        (_, 1) => "in literal null (expecting 'u')",
        _ => "in literal null (expecting 'l')",
    }
}

/// A byte quoted as Go's `encoding/json` quotes it in error messages.
pub fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_string(),
        b'"' => "'\"'".to_string(),
        0x07 => "'\\a'".to_string(),
        0x08 => "'\\b'".to_string(),
        0x0c => "'\\f'".to_string(),
        b'\n' => "'\\n'".to_string(),
        b'\r' => "'\\r'".to_string(),
        b'\t' => "'\\t'".to_string(),
        0x0b => "'\\v'".to_string(),
        b'\\' => "'\\\\'".to_string(),
        0x20..=0x7e => format!("'{}'", c as char),
        0x00..=0x1f | 0x7f => format!("'\\x{c:02x}'"),
        0x80..=0xa0 | 0xad => format!("'\\u{c:04x}'"),
        _ => format!("'{}'", char::from(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(s: &str) -> String {
        match finish(s.as_bytes()) {
            Scan::Invalid(e) => e,
            other => panic!("{s:?} scanned as {other:?}"),
        }
    }

    #[test]
    fn finds_the_end_of_the_first_value() {
        assert_eq!(first_value(b"  "), Scan::Empty);
        assert_eq!(first_value(b" {\"a\":1}{"), Scan::Complete(8));
        assert_eq!(
            first_value(b"{\"a\":[1, 2.5e3, true, null]} x"),
            Scan::Complete(28)
        );
        assert_eq!(first_value(b"{\"a\":\"\\u00e9\\n\"}"), Scan::Complete(16));
        assert_eq!(first_value(b"{\"a\":1"), Scan::Incomplete);
        assert_eq!(first_value(b"12"), Scan::Incomplete);
        assert_eq!(finish(b"12"), Scan::Complete(2));
        assert_eq!(finish(b"[]"), Scan::Complete(2));
    }

    #[test]
    fn words_errors_as_go_does() {
        assert_eq!(
            invalid("xx"),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(invalid("{\"key\":\"Zm9v\""), "unexpected EOF");
        assert_eq!(
            invalid("{\"a\" 1}"),
            "invalid character '1' after object key"
        );
        assert_eq!(
            invalid("{\"a\":1 2}"),
            "invalid character '2' after object key:value pair"
        );
        assert_eq!(
            invalid("{1:2}"),
            "invalid character '1' looking for beginning of object key string"
        );
        assert_eq!(
            invalid("[1 2]"),
            "invalid character '2' after array element"
        );
        assert_eq!(
            invalid("{\"a\":tru}"),
            "invalid character '}' in literal true (expecting 'e')"
        );
        assert_eq!(
            invalid("{\"a\":01}"),
            "invalid character '1' after object key:value pair"
        );
        assert_eq!(
            invalid("{\"a\":1.}"),
            "invalid character '}' after decimal point in numeric literal"
        );
        assert_eq!(
            invalid("{\"a\":\"\\q\"}"),
            "invalid character 'q' in string escape code"
        );
        assert_eq!(
            invalid("{\"a\":\"\n\"}"),
            "invalid character '\\n' in string literal"
        );
        assert_eq!(
            invalid("{'a':1}"),
            "invalid character '\\'' looking for beginning of object key string"
        );
    }
}
