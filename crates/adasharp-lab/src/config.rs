//! Run and sweep configuration: plain data that TOML files and command-line flags fill in,
//! validated before anything is written.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::{CsvConfig, MatrixSensingConfig, SparseRegressionConfig};
use crate::noise::NoiseKind;
use crate::optim::OptimizerConfig;
use crate::{LabError, Result};

/// Which model to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelConfig {
    /// Diagonal linear network `w = u*u - v*v`, started at `u = v = init`.
    Dln {
        /// Initial value of every `u_i` and `v_i`.
        init: f64,
    },
    /// Deep matrix factorization `W_L ... W_1` (needs matrix-sensing data).
    Dmf {
        /// Number of factors `L`.
        depth: usize,
        /// Scale of the Gaussian initialization (entries `N(0, init^2 / dim)`).
        init: f64,
    },
    /// Multilayer perceptron with `tanh` activations.
    Mlp {
        /// Hidden layer widths.
        hidden: Vec<usize>,
    },
    /// The two-parameter noisy-ellipse toy (needs `data.kind = "ellipse"`).
    Ellipse {
        /// Semi-axis along `(1, 1)`.
        a: f64,
        /// Semi-axis along `(-1, 1)`.
        b: f64,
        /// Starting point `x`.
        x0: f64,
        /// Starting point `y`.
        y0: f64,
    },
}

impl ModelConfig {
    /// The model's name as the CLI spells it.
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Dln { .. } => "dln",
            ModelConfig::Dmf { .. } => "dmf",
            ModelConfig::Mlp { .. } => "mlp",
            ModelConfig::Ellipse { .. } => "ellipse",
        }
    }
}

/// Which data to train on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataConfig {
    /// The paper's sparse regression.
    Sparse(SparseRegressionConfig),
    /// Matrix sensing with Gaussian measurements.
    Sensing(MatrixSensingConfig),
    /// A CSV file or a built-in dataset (`diabetes`, `digits`).
    Csv(CsvConfig),
    /// The single target `1` of the ellipse toy.
    Ellipse,
}

/// Label noise settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseConfig {
    /// `gaussian` or `sign` (`+-sigma`).
    pub kind: NoiseKind,
    /// Standard deviation; 0 turns label noise off.
    pub sigma: f64,
}

/// How the curvature is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CurvatureMethod {
    /// Closed form where the model has one, else the exact diagonal for models up to
    /// `exact_limit` parameters, else Hutchinson.
    #[default]
    Auto,
    /// The closed form; an error for models without one.
    ClosedForm,
    /// Exact diagonal, one Hessian-vector product per parameter.
    Exact,
    /// Hutchinson's estimator with `probes` Rademacher probes.
    Hutchinson,
    /// No curvature tracking.
    Off,
}

/// Curvature tracking settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurvatureConfig {
    /// The method.
    #[serde(default)]
    pub method: CurvatureMethod,
    /// Probes (Hessian-vector products) per Hutchinson estimate.
    #[serde(default = "default_probes")]
    pub probes: usize,
    /// Largest model (in parameters) whose diagonal `auto` computes exactly.
    #[serde(default = "default_exact_limit")]
    pub exact_limit: usize,
}

fn default_probes() -> usize {
    32
}
fn default_exact_limit() -> usize {
    2000
}

impl Default for CurvatureConfig {
    fn default() -> Self {
        Self {
            method: CurvatureMethod::Auto,
            probes: default_probes(),
            exact_limit: default_exact_limit(),
        }
    }
}

/// Floating-point precision of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    /// 32-bit: fast, fine for demonstrations.
    #[default]
    F32,
    /// 64-bit: what the paper-scale DLN experiments need.
    F64,
}

/// Mini-batch size: `full` or a number of examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchSize {
    /// A fixed number of examples drawn uniformly (with replacement across steps).
    Examples(usize),
    /// Every training example, every step.
    Full(FullBatch),
}

/// The word `full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FullBatch {
    /// Full batch.
    Full,
}

impl BatchSize {
    /// Full batch.
    pub const FULL: BatchSize = BatchSize::Full(FullBatch::Full);

    /// Parses `full` or a positive number.
    pub fn parse(text: &str) -> Result<Self> {
        if text == "full" {
            return Ok(Self::FULL);
        }
        match text.parse::<usize>() {
            Ok(b) if b > 0 => Ok(BatchSize::Examples(b)),
            _ => Err(LabError::invalid(
                "batch_size",
                text,
                "`full` or a number >= 1",
            )),
        }
    }
}

impl std::fmt::Display for BatchSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchSize::Examples(b) => write!(f, "{b}"),
            BatchSize::Full(_) => f.write_str("full"),
        }
    }
}

/// Everything one training run needs; written back, resolved, as `config.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Run name: the run directory's name.
    pub name: String,
    /// Seed of the model initialization, the batches and the label noise.
    pub seed: u64,
    /// Optimizer steps.
    pub steps: usize,
    /// Evaluate (losses, extras, curvature) every this many steps, and at the end.
    pub eval_every: usize,
    /// Mini-batch size.
    pub batch_size: BatchSize,
    /// Floating-point precision.
    #[serde(default)]
    pub dtype: Dtype,
    /// Use the closed-form DLN gradient instead of autodiff (same numbers, faster).
    #[serde(default = "default_true")]
    pub fast_path: bool,
    /// The model.
    pub model: ModelConfig,
    /// The data.
    pub data: DataConfig,
    /// The optimizer.
    pub optimizer: OptimizerConfig,
    /// Label noise.
    pub noise: NoiseConfig,
    /// Curvature tracking.
    #[serde(default)]
    pub curvature: CurvatureConfig,
}

fn default_true() -> bool {
    true
}

impl RunConfig {
    /// Parses a TOML run configuration from `path`.
    pub fn from_file(path: &Path) -> Result<Self> {
        from_toml_file(path)
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a run config serializes")
    }

    /// Checks every field that can be checked without building anything.
    pub fn validate(&self) -> Result<()> {
        check_dir_name(&self.name)?;
        if self.curvature.probes < 2 {
            return Err(LabError::invalid(
                "curvature.probes",
                self.curvature.probes,
                "at least 2 probes (a standard error needs two)",
            ));
        }
        if self.steps == 0 {
            return Err(LabError::invalid("steps", 0, "steps >= 1"));
        }
        if self.eval_every == 0 {
            return Err(LabError::invalid("eval_every", 0, "eval_every >= 1"));
        }
        if self.batch_size == BatchSize::Examples(0) {
            return Err(LabError::invalid(
                "batch_size",
                0,
                "`full` or a number >= 1",
            ));
        }
        if !(self.noise.sigma.is_finite() && self.noise.sigma >= 0.0) {
            return Err(LabError::invalid(
                "noise.sigma",
                self.noise.sigma,
                "a number >= 0",
            ));
        }
        self.optimizer.validate()?;
        match &self.data {
            DataConfig::Sparse(c) => c.validate()?,
            DataConfig::Sensing(c) => c.validate()?,
            DataConfig::Csv(_) | DataConfig::Ellipse => {}
        }
        self.check_model_fits_data()
    }

    fn check_model_fits_data(&self) -> Result<()> {
        let model = self.model.name();
        let fits = match (&self.model, &self.data) {
            (ModelConfig::Ellipse { .. }, DataConfig::Ellipse) => true,
            (ModelConfig::Ellipse { .. }, _) | (_, DataConfig::Ellipse) => false,
            (ModelConfig::Dmf { .. }, DataConfig::Sensing(_)) => true,
            (ModelConfig::Dmf { .. }, _) => false,
            _ => true,
        };
        if !fits {
            let allowed = match model {
                "ellipse" => "the ellipse model with `ellipse` data and only then",
                "dmf" => "`sensing` data for the dmf model",
                _ => "a model that fits the data",
            };
            return Err(LabError::invalid(
                "data.kind",
                data_name(&self.data),
                allowed,
            ));
        }
        match &self.model {
            ModelConfig::Dln { init } | ModelConfig::Dmf { init, .. } if !init.is_finite() => {
                Err(LabError::invalid("model.init", init, "a finite number"))
            }
            ModelConfig::Dmf { depth: 0, .. } => {
                Err(LabError::invalid("model.depth", 0, "depth >= 1"))
            }
            ModelConfig::Mlp { hidden } if hidden.contains(&0) => Err(LabError::invalid(
                "model.hidden",
                format!("{hidden:?}"),
                "widths >= 1",
            )),
            _ => Ok(()),
        }
    }
}

/// The data kind's name (`sparse`, `sensing`, `csv`, `ellipse`).
pub fn data_name(data: &DataConfig) -> &'static str {
    match data {
        DataConfig::Sparse(_) => "sparse",
        DataConfig::Sensing(_) => "sensing",
        DataConfig::Csv(_) => "csv",
        DataConfig::Ellipse => "ellipse",
    }
}

/// A sweep: one run per `(n, optimizer, seed)`, on top of a base run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Sweep name: the sweep directory's name.
    pub name: String,
    /// Training-set sizes.
    pub ns: Vec<usize>,
    /// Seeds; each sets the data seed, the noise seed and the initialization seed.
    pub seeds: Vec<u64>,
    /// Worker threads (runs in parallel).
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// "Recovered" means final test loss below this (the paper: 1).
    #[serde(default = "default_threshold")]
    pub recovery_loss: f64,
    /// The optimizers compared.
    pub optimizers: Vec<OptimizerConfig>,
    /// Every other setting; its `name`, `data.n`, `data.seed`, `seed` and `optimizer` are
    /// replaced per run.
    pub base: RunConfig,
}

/// A run or sweep name becomes a directory under the output directory: it must stay there.
fn check_dir_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        let allowed = "a non-empty name without slashes, not starting with `.`";
        return Err(LabError::invalid("name", name, allowed));
    }
    Ok(())
}

fn default_threads() -> usize {
    2
}
fn default_threshold() -> f64 {
    1.0
}

impl SweepConfig {
    /// Parses a TOML sweep configuration from `path`.
    pub fn from_file(path: &Path) -> Result<Self> {
        from_toml_file(path)
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a sweep config serializes")
    }

    /// Checks the sweep and every run it would make.
    pub fn validate(&self) -> Result<()> {
        check_dir_name(&self.name)?;
        if self.ns.is_empty() || self.seeds.is_empty() || self.optimizers.is_empty() {
            let allowed = "non-empty lists of ns, seeds and optimizers";
            return Err(LabError::invalid("sweep", "an empty list", allowed));
        }
        if self.threads == 0 {
            return Err(LabError::invalid("threads", 0, "threads >= 1"));
        }
        if !matches!(
            self.base.data,
            DataConfig::Sparse(_) | DataConfig::Sensing(_)
        ) {
            let allowed = "`sparse` or `sensing` data (a sweep varies the training-set size)";
            return Err(LabError::invalid(
                "base.data.kind",
                data_name(&self.base.data),
                allowed,
            ));
        }
        for run in self.runs() {
            run.validate()?;
        }
        Ok(())
    }

    /// The run configurations, in order: by optimizer, then `n`, then seed.
    pub fn runs(&self) -> Vec<RunConfig> {
        let mut runs = Vec::new();
        for opt in &self.optimizers {
            for &n in &self.ns {
                for &seed in &self.seeds {
                    let mut run = self.base.clone();
                    run.name = format!("{}-n{n}-s{seed}", opt.label());
                    run.seed = seed;
                    run.optimizer = opt.clone();
                    match &mut run.data {
                        DataConfig::Sparse(c) => (c.n, c.seed) = (n, seed),
                        DataConfig::Sensing(c) => (c.n, c.seed) = (n, seed),
                        _ => {}
                    }
                    runs.push(run);
                }
            }
        }
        runs
    }
}

fn from_toml_file<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| LabError::io("cannot read", path, e))?;
    toml::from_str(&text).map_err(|e| LabError::Config {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })
}
