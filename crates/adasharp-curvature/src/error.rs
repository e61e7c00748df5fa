//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while measuring curvature.
///
/// Each variant says what was being computed, so a message read from a log points at the fix.
#[derive(Debug, thiserror::Error)]
pub enum CurvatureError {
    /// The module has no float parameters, so there is no Hessian to measure.
    #[error("the module has no float parameters: there is no Hessian to measure")]
    NoParameters,

    /// A vector was built for different parameters than the operator it is applied to.
    #[error("vector layout mismatch: {0}")]
    LayoutMismatch(String),

    /// The loss closure returned a tensor that is not a single value.
    #[error("the loss closure returned a tensor of dims {dims:?}; expected one value (dims [1])")]
    NonScalarLoss {
        /// Dims of the tensor the closure returned.
        dims: Vec<usize>,
    },

    /// An exact estimator would need more Hessian-vector products than allowed.
    #[error(
        "exact diag(H) needs one HVP per parameter: {numel} parameters exceed the limit of \
         {limit}; raise the limit explicitly or use a Hutchinson estimate"
    )]
    TooLarge {
        /// Number of parameters of the operator.
        numel: usize,
        /// The configured limit.
        limit: usize,
    },

    /// An argument outside its allowed range.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },

    /// A computed quantity holds NaN or infinity.
    #[error("non-finite {what}")]
    NonFinite {
        /// What was being computed.
        what: String,
    },

    /// A sharpness measure came out non-finite; the record was not written.
    #[error(
        "measure `{measure}` is not finite ({value}) at step {step}; the record was not written"
    )]
    NonFiniteMeasure {
        /// Name of the measure.
        measure: String,
        /// The training step.
        step: usize,
        /// The offending value.
        value: f64,
    },

    /// The optimizer state does not hold what a preconditioner needs.
    #[error("optimizer state: {0}")]
    OptimizerState(String),

    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// A record could not be serialized.
    #[error("could not serialize a sharpness record: {0}")]
    Serialize(#[from] serde_json::Error),
}

impl CurvatureError {
    pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            name,
            reason: reason.into(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, CurvatureError>;
