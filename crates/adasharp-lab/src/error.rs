//! The one error type of the lab: every variant names what was wrong so a user can fix it.

use std::path::PathBuf;

/// Everything that can stop an experiment before or while it runs.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A configuration value outside its allowed range.
    #[error("invalid {field} = {value}: expected {allowed}")]
    Invalid {
        /// The offending field, as spelled in config files and flags (`data.kappa`).
        field: String,
        /// The value given.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// A name that matches nothing known (optimizer, model, dataset).
    #[error("unknown {what} `{name}`; known: {known}")]
    Unknown {
        /// What kind of name (`optimizer`, `model`, `dataset`).
        what: &'static str,
        /// The name given.
        name: String,
        /// The accepted names, comma-separated.
        known: String,
    },
    /// A file that could not be read, written or created.
    #[error("{action} `{}`: {source}", path.display())]
    Io {
        /// What was being done (`cannot read`, `cannot create run directory`).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A configuration file that does not parse.
    #[error("malformed config file `{}`: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A CSV file with a problem at a given line.
    #[error("bad CSV `{}` line {line}: {message}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number (1 is the header).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An optimizer hyperparameter rejected by the optimizer crate.
    #[error(transparent)]
    Optimizer(#[from] adasharp_optim::ConfigError),
    /// A curvature estimate that failed (non-finite loss, size limits).
    #[error("curvature: {0}")]
    Curvature(String),
    /// A failure inside the Burn device (dtype already set, unsupported backend).
    #[error("device: {0}")]
    Device(String),
}

impl LabError {
    /// Shorthand for [`LabError::Invalid`].
    pub fn invalid(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        LabError::Invalid {
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// Shorthand for [`LabError::Io`].
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LabError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Result with a [`LabError`].
pub type Result<T, E = LabError> = std::result::Result<T, E>;
