//! Failures of an ectl command and the exit codes that report them.
//!
//! Scripts written for etcdctl branch on its exit status, so ectl uses the
//! same codes for the same situations.

use std::fmt;

/// A request failed or the server could not be reached.
pub const EXIT_ERROR: i32 = 1;
/// A lease request failed (etcdctl's `ExitBadConnection`).
pub const EXIT_BAD_CONNECTION: i32 = 2;
/// The input (txn text, quoted strings) could not be parsed.
pub const EXIT_INVALID_INPUT: i32 = 3;
/// A flag asked for something unsupported (sort order, output format, …).
pub const EXIT_BAD_FEATURE: i32 = 4;
/// The server canceled a watch.
pub const EXIT_INTERRUPTED: i32 = 5;
/// The command's arguments do not fit together.
pub const EXIT_BAD_ARGS: i32 = 128;

/// A command failure: printed as `Error: <message>` on stderr, then the
/// process exits with `code`. An empty message prints nothing: the command
/// has already said what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlError {
    /// The process exit status.
    pub code: i32,
    /// What went wrong, without the `Error: ` prefix.
    pub message: String,
}

impl CtlError {
    /// A failed request or connection (exit 1).
    pub fn error(message: impl Into<String>) -> CtlError {
        CtlError {
            code: EXIT_ERROR,
            message: message.into(),
        }
    }

    /// A watch the server ended (exit 5).
    pub fn interrupted(message: impl Into<String>) -> CtlError {
        CtlError {
            code: EXIT_INTERRUPTED,
            message: message.into(),
        }
    }

    /// The same message with another exit status.
    pub fn with_code(self, code: i32) -> CtlError {
        CtlError { code, ..self }
    }

    /// Unparseable input (exit 3).
    pub fn invalid_input(message: impl Into<String>) -> CtlError {
        CtlError {
            code: EXIT_INVALID_INPUT,
            message: message.into(),
        }
    }

    /// An unsupported option value (exit 4).
    pub fn bad_feature(message: impl Into<String>) -> CtlError {
        CtlError {
            code: EXIT_BAD_FEATURE,
            message: message.into(),
        }
    }

    /// Only the exit status: the command reported the failure itself, as
    /// `endpoint status` does for each endpoint it could not reach.
    pub fn exit_only(code: i32) -> CtlError {
        CtlError {
            code,
            message: String::new(),
        }
    }

    /// Arguments that do not fit together (exit 128).
    pub fn bad_args(message: impl Into<String>) -> CtlError {
        CtlError {
            code: EXIT_BAD_ARGS,
            message: message.into(),
        }
    }
}

impl fmt::Display for CtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ectd_client::Error> for CtlError {
    fn from(err: ectd_client::Error) -> CtlError {
        match err {
            // etcdctl keeps retrying an unreachable cluster until its
            // deadline and then reports only the deadline.
            ectd_client::Error::Connect { .. } | ectd_client::Error::Timeout => {
                CtlError::error("context deadline exceeded")
            }
            // etcdctl refuses certificate files it cannot use as bad
            // arguments.
            err @ ectd_client::Error::TlsConfig { .. } => CtlError::bad_args(err.to_string()),
            other => CtlError::error(other.to_string()),
        }
    }
}

impl From<std::io::Error> for CtlError {
    fn from(err: std::io::Error) -> CtlError {
        CtlError::error(err.to_string())
    }
}
