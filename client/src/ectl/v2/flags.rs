//! Command-line flags as etcdctl 2 reads them: Go's `flag` package under
//! the `urfave/cli` (v1) command framework.
//!
//! The rules differ from GNU-style parsing and scripts depend on them:
//! one or two dashes mean the same; a flag's value is `-f=v` or the next
//! argument; parsing stops at the first argument that is not a flag, or
//! after `--`. Before a command's flags are parsed, urfave moves the flags
//! it recognises (and the argument after each, unless that is a flag too)
//! in front of the other arguments, so `set /k v --ttl 5` works, and
//! `ls -p /d -r` lists `/d` without `-r` (the `/d` went with `-p`).

use super::super::duration::parse_duration;
use super::super::gostr::{parse_int, quote};

/// What a flag holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Set by its presence, or `-f=true|false`.
    Bool,
    /// A Go `int` (decimal, `0x`, `0o`, `0b` or `0` prefixes).
    Int,
    /// Text.
    String,
    /// A Go duration (`2s`, `500ms`).
    Duration,
}

/// A flag a command accepts.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The names, long first: `["output", "o"]`.
    pub names: &'static [&'static str],
    /// What it holds.
    pub kind: Kind,
    /// The help text; a word in backquotes becomes the value's placeholder.
    pub usage: &'static str,
    /// The default as help shows it (and as the flag starts).
    pub default: &'static str,
    /// Accepted but not listed in help.
    pub hidden: bool,
}

impl Spec {
    /// A listed flag.
    pub const fn new(
        names: &'static [&'static str],
        kind: Kind,
        usage: &'static str,
        default: &'static str,
    ) -> Spec {
        Spec {
            names,
            kind,
            usage,
            default,
            hidden: false,
        }
    }

    /// The flag, left out of help.
    pub const fn hidden(mut self) -> Spec {
        self.hidden = true;
        self
    }

    fn has_name(&self, name: &str) -> bool {
        self.names.contains(&name)
    }

    /// The flag's line in help, before alignment: names (with a
    /// placeholder for flags that take a value), a tab, the usage and the
    /// default.
    pub fn help_line(&self) -> String {
        let (placeholder, usage) = unquote_usage(self.usage);
        let default = match self.kind {
            Kind::Bool => String::new(),
            Kind::String if self.default.is_empty() => String::new(),
            Kind::String => format!(" (default: {})", quote(self.default.as_bytes())),
            Kind::Int | Kind::Duration => format!(" (default: {})", self.default),
        };
        let placeholder = match (self.kind, placeholder) {
            (Kind::Bool, _) => String::new(),
            (_, Some(name)) => name,
            (_, None) => "value".to_string(),
        };
        let names: Vec<String> = self
            .names
            .iter()
            .map(|name| {
                let dashes = if name.len() == 1 { "-" } else { "--" };
                if placeholder.is_empty() {
                    format!("{dashes}{name}")
                } else {
                    format!("{dashes}{name} {placeholder}")
                }
            })
            .collect();
        format!(
            "{}\t{}",
            names.join(", "),
            format!("{usage}{default}").trim()
        )
    }
}

/// urfave's placeholder rule: the first backquoted word names the value
/// and loses its backquotes in the usage.
fn unquote_usage(usage: &str) -> (Option<String>, String) {
    if let Some(start) = usage.find('`') {
        if let Some(len) = usage[start + 1..].find('`') {
            let name = &usage[start + 1..start + 1 + len];
            let text = format!("{}{}{}", &usage[..start], name, &usage[start + 2 + len..]);
            return (Some(name.to_string()), text);
        }
    }
    (None, usage.to_string())
}

/// The help flag every command and the application accept.
pub const HELP: Spec = Spec::new(&["help", "h"], Kind::Bool, "show help", "");

/// Parsed flag values and the arguments after them.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    values: Vec<(&'static str, Value)>,
    /// The arguments that are not flags.
    pub args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Bool(bool),
    Int(i64),
    Text(String),
    Duration(std::time::Duration),
}

impl Parsed {
    fn get(&self, name: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(canonical, _)| *canonical == name)
            .map(|(_, value)| value)
    }

    /// A bool flag by its first name.
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Value::Bool(true)))
    }

    /// An int flag by its first name.
    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(Value::Int(value)) => *value,
            _ => 0,
        }
    }

    /// A string flag by its first name.
    pub fn string(&self, name: &str) -> String {
        match self.get(name) {
            Some(Value::Text(value)) => value.clone(),
            _ => String::new(),
        }
    }

    /// A duration flag by its first name.
    pub fn duration(&self, name: &str) -> std::time::Duration {
        match self.get(name) {
            Some(Value::Duration(value)) => *value,
            _ => std::time::Duration::ZERO,
        }
    }
}

/// Why flags could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagError {
    /// Go's `flag` package refused the arguments; its message.
    Parse(String),
    /// One flag was given under two of its names; urfave's message.
    TwoForms(String),
}

impl std::fmt::Display for FlagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlagError::Parse(message) | FlagError::TwoForms(message) => f.write_str(message),
        }
    }
}

/// Parses `args` with Go's `flag` rules against `specs`.
pub fn parse(specs: &[Spec], args: &[String]) -> Result<Parsed, FlagError> {
    let fail = |message: String| Err(FlagError::Parse(message));
    let mut parsed = Parsed::default();
    let mut visited: Vec<String> = Vec::new();
    for spec in specs {
        let initial = match spec.kind {
            Kind::Bool => Value::Bool(false),
            Kind::Int => Value::Int(spec.default.parse().unwrap_or(0)),
            Kind::String => Value::Text(spec.default.to_string()),
            Kind::Duration => Value::Duration(parse_duration(spec.default).unwrap_or_default()),
        };
        parsed.values.push((spec.names[0], initial));
    }
    let mut rest = args;
    while let Some(arg) = rest.first() {
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        let dashes = if arg.starts_with("--") { 2 } else { 1 };
        if arg == "--" {
            rest = &rest[1..];
            break;
        }
        let name = &arg[dashes..];
        if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
            return fail(format!("bad flag syntax: {arg}"));
        }
        rest = &rest[1..];
        let (name, inline) = match name[1..].find('=') {
            Some(at) => (&name[..at + 1], Some(&name[at + 2..])),
            None => (name, None),
        };
        let Some(spec) = specs.iter().find(|spec| spec.has_name(name)) else {
            return fail(format!("flag provided but not defined: -{name}"));
        };
        let value = if spec.kind == Kind::Bool {
            let text = inline.unwrap_or("true");
            match parse_go_bool(text) {
                Some(value) => Value::Bool(value),
                None => {
                    return fail(format!(
                        "invalid boolean value {} for -{name}: parse error",
                        quote(text.as_bytes())
                    ))
                }
            }
        } else {
            let text = match inline {
                Some(text) => text.to_string(),
                None => match rest.first() {
                    Some(next) => {
                        let next = next.clone();
                        rest = &rest[1..];
                        next
                    }
                    None => return fail(format!("flag needs an argument: -{name}")),
                },
            };
            let invalid = |reason: &str| {
                FlagError::Parse(format!(
                    "invalid value {} for flag -{name}: {reason}",
                    quote(text.as_bytes())
                ))
            };
            match spec.kind {
                Kind::Int => Value::Int(parse_int(&text, 0).map_err(|err| {
                    if err.to_string().ends_with("value out of range") {
                        invalid("value out of range")
                    } else {
                        invalid("parse error")
                    }
                })?),
                Kind::Duration => {
                    Value::Duration(parse_duration(&text).map_err(|_| invalid("parse error"))?)
                }
                _ => Value::Text(text),
            }
        };
        let canonical = spec.names[0];
        visited.push(name.to_string());
        if let Some(slot) = parsed.values.iter_mut().find(|(c, _)| *c == canonical) {
            slot.1 = value;
        }
    }
    // urfave refuses two spellings of one flag, naming them in the order
    // they are declared.
    for spec in specs {
        let mut spellings = spec
            .names
            .iter()
            .filter(|n| visited.iter().any(|v| v == *n));
        if let (Some(first), Some(second)) = (spellings.next(), spellings.next()) {
            return Err(FlagError::TwoForms(format!(
                "Cannot use two forms of the same flag: {second} {first}"
            )));
        }
    }
    parsed.args = rest.to_vec();
    Ok(parsed)
}

fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// urfave's reordering of a command's arguments: the flags it knows (and
/// the argument after each that is not itself a known flag) first, then the
/// rest in order; from a `--` on (unless it follows a flag), nothing moves
/// and the `--` goes in front of the rest.
pub fn reorder(specs: &[Spec], args: &[String]) -> Vec<String> {
    let is_flag = |arg: &str| {
        if arg == "-" || arg == "--" || !arg.starts_with('-') {
            return false;
        }
        let name = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        let name = name.split('=').next().unwrap_or_default();
        specs.iter().any(|spec| spec.has_name(name))
    };
    let mut flags = Vec::new();
    let mut rest: Vec<String> = Vec::new();
    let mut value_may_follow = false;
    for (i, arg) in args.iter().enumerate() {
        if value_may_follow && !is_flag(arg) {
            value_may_follow = false;
            flags.push(arg.clone());
        } else if arg == "--" {
            rest.insert(0, "--".to_string());
            rest.extend(args[i + 1..].iter().cloned());
            break;
        } else if is_flag(arg) {
            flags.push(arg.clone());
            value_may_follow = !arg.contains('=');
        } else {
            rest.push(arg.clone());
        }
    }
    flags.extend(rest);
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[Spec] = &[
        Spec::new(&["ttl"], Kind::Int, "key time-to-live in seconds", "0"),
        Spec::new(&["recursive", "r"], Kind::Bool, "recursively", ""),
        Spec::new(&["p"], Kind::Bool, "append slash (/) to directories", ""),
        Spec::new(&["with-value"], Kind::String, "previous value", ""),
        HELP,
    ];

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    fn run(args: &[&str]) -> Result<Parsed, String> {
        parse(SPECS, &reorder(SPECS, &strings(args))).map_err(|err| err.to_string())
    }

    #[test]
    fn flags_move_in_front_of_arguments() {
        let parsed = run(&["/k", "v", "--ttl", "5"]).unwrap();
        assert_eq!(parsed.int("ttl"), 5);
        assert_eq!(parsed.args, ["/k", "v"]);
        // The argument after a bool flag travels with it and ends parsing.
        let parsed = run(&["-p", "/d", "-r"]).unwrap();
        assert!(parsed.bool("p"));
        assert!(!parsed.bool("recursive"));
        assert_eq!(parsed.args, ["/d", "-r"]);
        // Unknown dashes stay where they are.
        assert_eq!(run(&["/a", "-5"]).unwrap().args, ["/a", "-5"]);
        assert_eq!(
            reorder(SPECS, &strings(&["/k", "--", "sh", "-c"])),
            ["--", "/k", "sh", "-c"]
        );
        assert_eq!(run(&["/k", "--", "-x"]).unwrap().args, ["/k", "-x"]);
    }

    #[test]
    fn errors_read_like_go() {
        assert_eq!(
            run(&["--bogus", "/a"]).unwrap_err(),
            "flag provided but not defined: -bogus"
        );
        assert_eq!(
            run(&["/a", "--ttl", "abc"]).unwrap_err(),
            "invalid value \"abc\" for flag -ttl: parse error"
        );
        assert_eq!(
            run(&["--ttl=99999999999999999999"]).unwrap_err(),
            "invalid value \"99999999999999999999\" for flag -ttl: value out of range"
        );
        assert_eq!(
            run(&["-r=maybe"]).unwrap_err(),
            "invalid boolean value \"maybe\" for -r: parse error"
        );
        assert_eq!(run(&["--ttl"]).unwrap_err(), "flag needs an argument: -ttl");
        assert_eq!(run(&["---x"]).unwrap_err(), "bad flag syntax: ---x");
        assert_eq!(
            run(&["-r", "--recursive"]).unwrap_err(),
            "Cannot use two forms of the same flag: r recursive"
        );
        assert_eq!(run(&["--ttl=0x10"]).unwrap().int("ttl"), 16);
    }

    #[test]
    fn help_lines_follow_urfave() {
        let output = Spec::new(
            &["output", "o"],
            Kind::String,
            "output response in the given format (`simple`, `extended` or `json`)",
            "simple",
        );
        assert_eq!(
            output.help_line(),
            "--output simple, -o simple\toutput response in the given format (simple, \
             `extended` or `json`) (default: \"simple\")"
        );
        assert_eq!(
            SPECS[0].help_line(),
            "--ttl value\tkey time-to-live in seconds (default: 0)"
        );
        assert_eq!(SPECS[1].help_line(), "--recursive, -r\trecursively");
        assert_eq!(SPECS[3].help_line(), "--with-value value\tprevious value");
    }
}
