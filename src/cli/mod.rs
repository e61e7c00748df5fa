//! The `adasharp` command line: argument parsing, devices, progress and the commands.

pub mod args;
pub mod demo;
pub mod device;
pub mod progress;
pub mod results;

use adasharp_lab::LabError;

/// A command failure and the exit status it maps to.
#[derive(Debug)]
pub struct CliError {
    /// The message printed on stderr.
    pub message: String,
    /// The process exit status (2: bad input; 1: the run itself failed).
    pub code: i32,
}

impl CliError {
    /// Bad input: exit status 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 2,
        }
    }
}

impl From<LabError> for CliError {
    fn from(e: LabError) -> Self {
        CliError::usage(e.to_string())
    }
}
