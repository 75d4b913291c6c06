//! Running a user's command as etcdctl does (`watch … -- cmd`, `lock name
//! cmd`), with Go's `os/exec` wording for its failures, which etcdctl
//! prints.

use std::ffi::{OsStr, OsString};
use std::process::{ExitStatus, Stdio};

use super::gostr::quote;
use super::os_bytes;

/// Runs `argv` with `env` added to ectl's environment (an entry overrides
/// a variable of the same name), stdout and stderr shared with ectl and
/// stdin empty, as Go's `exec.Cmd` gives it. `Err` holds Go's `cmd.Run()`
/// error text: `exit status 3`, `signal: killed`, `fork/exec /x: no such
/// file or directory`, ….
pub async fn run(argv: &[OsString], env: &[(OsString, OsString)]) -> Result<(), String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("exec: no command".to_string());
    };
    let status = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .status()
        .await
        .map_err(|err| spawn_error(program, &err))?;
    match exit_error(status) {
        None => Ok(()),
        Some(text) => Err(text),
    }
}

/// Go's `%q` of a `[]string`: `["sh" "-c" "exit 1"]`.
pub fn quote_list(argv: &[OsString]) -> String {
    let quoted: Vec<String> = argv.iter().map(|a| quote(&os_bytes(a))).collect();
    format!("[{}]", quoted.join(" "))
}

/// Why the command could not start. Go looks a bare name up in `$PATH`
/// first and reports a miss in its own words; otherwise the error comes
/// from the fork/exec system call.
fn spawn_error(program: &OsStr, err: &std::io::Error) -> String {
    let name = program.to_string_lossy();
    if !name.contains('/') && err.kind() == std::io::ErrorKind::NotFound {
        return format!(
            "exec: {}: executable file not found in $PATH",
            quote(&os_bytes(program))
        );
    }
    format!("fork/exec {name}: {}", errno_text(err))
}

/// The system's description of an error as Go's `syscall.Errno` words it:
/// without Rust's ` (os error N)` and starting lower-case.
fn errno_text(err: &std::io::Error) -> String {
    let text = err.to_string();
    let text = match text.rfind(" (os error ") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Go's `*exec.ExitError` text for an unsuccessful status, `None` for
/// success.
fn exit_error(status: ExitStatus) -> Option<String> {
    if status.success() {
        return None;
    }
    if let Some(code) = status.code() {
        return Some(format!("exit status {code}"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return Some(format!("signal: {}", signal_name(signal)));
        }
    }
    Some(status.to_string())
}

/// Go's names of the common signals (`syscall.Signal.String`).
#[cfg(unix)]
fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "hangup",
        2 => "interrupt",
        3 => "quit",
        4 => "illegal instruction",
        5 => "trace/breakpoint trap",
        6 => "aborted",
        7 => "bus error",
        8 => "floating point exception",
        9 => "killed",
        10 => "user defined signal 1",
        11 => "segmentation fault",
        12 => "user defined signal 2",
        13 => "broken pipe",
        14 => "alarm clock",
        15 => "terminated",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[tokio::test]
    async fn failures_read_like_go() {
        assert_eq!(run(&argv(&["true"]), &[]).await, Ok(()));
        assert_eq!(
            run(&argv(&["sh", "-c", "exit 3"]), &[]).await,
            Err("exit status 3".to_string())
        );
        assert_eq!(
            run(&argv(&["sh", "-c", "kill -9 $$"]), &[]).await,
            Err("signal: killed".to_string())
        );
        assert_eq!(
            run(&argv(&["/nonexistent"]), &[]).await,
            Err("fork/exec /nonexistent: no such file or directory".to_string())
        );
        assert_eq!(
            run(&argv(&["no-such-command-anywhere"]), &[]).await,
            Err(
                "exec: \"no-such-command-anywhere\": executable file not found in $PATH"
                    .to_string()
            )
        );
    }

    #[tokio::test]
    async fn environment_is_added() {
        let env = [(OsString::from("ECTL_TEST_VAR"), OsString::from("x y"))];
        assert_eq!(
            run(
                &argv(&["sh", "-c", "test \"$ECTL_TEST_VAR\" = 'x y'"]),
                &env
            )
            .await,
            Ok(())
        );
    }

    #[test]
    fn argument_lists_are_go_quoted() {
        assert_eq!(
            quote_list(&argv(&["sh", "-c", "echo \"hi\""])),
            r#"["sh" "-c" "echo \"hi\""]"#
        );
    }
}
