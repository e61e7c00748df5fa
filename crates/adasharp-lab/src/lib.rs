//! Label-noise experiments on Burn: the models, data and training runs of Li, Wen and Lyu,
//! "Adam Reduces a Unique Form of Sharpness" (NeurIPS 2025), with curvature tracking, sweeps
//! and plots.
//!
//! # Layout
//!
//! - [`noise`]: fresh label noise per label per step.
//! - [`data`]: sparse regression, matrix sensing, CSV datasets.
//! - [`models`]: diagonal linear network, deep matrix factorization, MLP, ellipse toy.
//! - [`measure`]: the sharpness measures from a Hessian diagonal.
//! - [`optim`]: optimizers by name.
//! - [`config`]: run and sweep configuration (TOML).
//! - [`runner`]: the training loop, evaluation and run directories.
//! - [`sweep`]: sample-complexity sweeps over `n`, optimizers and seeds.
//! - [`plot`]: a small SVG line-plot writer.
//! - [`report`]: tables and the plots of runs.
//! - [`metrics`], [`rundir`], [`curvature`]: records, run directories, estimated curvature.

pub mod config;
pub mod curvature;
pub mod data;
pub mod error;
pub mod measure;
pub mod metrics;
pub mod models;
pub mod noise;
pub mod optim;
pub mod plot;
pub mod report;
pub mod rundir;
pub mod runner;
pub mod sweep;

pub use config::{
    BatchSize, CurvatureConfig, CurvatureMethod, DataConfig, Dtype, ModelConfig, NoiseConfig,
    RunConfig, SweepConfig,
};
pub use data::{
    CsvConfig, CsvTask, Dataset, DeviceData, MatrixSensingConfig, SparseRegressionConfig, Task,
    Truth,
};
pub use error::{LabError, Result};
pub use measure::{ParamDiag, Sharpness};
pub use metrics::Record;
pub use models::{DeepMatrixFactorization, Dln, LabModel, Mlp, NoisyEllipse};
pub use noise::{LabelNoise, NoiseKind};
pub use optim::{OPTIMIZER_NAMES, OptimizerConfig};
pub use runner::{Observer, RunOutcome, RunStatus, Silent, run};
pub use sweep::{SweepOutcome, SweepResult, sweep};
