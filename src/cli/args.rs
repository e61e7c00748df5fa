//! Command-line arguments (clap derive) and how they become run and sweep configurations.

use std::path::PathBuf;

use adasharp_lab::{
    BatchSize, CsvConfig, CsvTask, CurvatureConfig, CurvatureMethod, DataConfig, Dtype,
    MatrixSensingConfig, ModelConfig, NoiseConfig, NoiseKind, OptimizerConfig, RunConfig,
    SparseRegressionConfig, SweepConfig,
};
use clap::{Args, Parser, Subcommand, ValueEnum};

use super::CliError;

/// Label-noise experiments on Burn: SGD, Adam and their kin drift toward different flat
/// minima (Li, Wen, Lyu, NeurIPS 2025).
///
/// Without a command, runs the demonstration: a diagonal linear network on sparse regression
/// with label noise, trained by SGD and by Adam, ending with a table and plots in
/// `runs/demo/`.
#[derive(Debug, Parser)]
#[command(name = "adasharp", version, propagate_version = true)]
pub struct Cli {
    /// The command; none runs the demonstration.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Demonstration options (used when no command is given).
    #[command(flatten)]
    pub demo: DemoArgs,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The demonstration (the default): SGD against Adam on a diagonal linear network.
    Demo(DemoArgs),
    /// One training run with label noise, from a TOML file and/or flags (flags win).
    Run(Box<RunArgs>),
    /// A sample-complexity sweep over n, optimizers and seeds, in parallel and resumable.
    Sweep(SweepArgs),
    /// Runs the experiment suite and writes docs/RESULTS.md from what actually ran.
    Results(ResultsArgs),
}

/// Settings every command shares.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Directory under which run directories are written.
    #[arg(long, global = true, default_value = "runs")]
    pub out: PathBuf,
    /// Burn backend: flex (default, pure-Rust CPU); ndarray or wgpu when compiled with the
    /// cargo features of the same names.
    #[arg(long, global = true, default_value = "flex")]
    pub backend: String,
    /// Float precision for the whole process (default: f32, or f64 for `--preset paper`).
    #[arg(long, global = true, value_enum)]
    pub dtype: Option<DtypeArg>,
    /// No progress bars or progress log lines.
    #[arg(long, global = true)]
    pub quiet: bool,
}

/// Float precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DtypeArg {
    /// 32-bit floats.
    F32,
    /// 64-bit floats.
    F64,
}

impl From<DtypeArg> for Dtype {
    fn from(d: DtypeArg) -> Self {
        match d {
            DtypeArg::F32 => Dtype::F32,
            DtypeArg::F64 => Dtype::F64,
        }
    }
}

/// Which demonstration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Preset {
    /// Scaled down (d = 200, kappa = 5, n = 35, 300k steps); seconds on 2 cores.
    #[default]
    Demo,
    /// The paper's size (d = 10000, kappa = 50, n = 500) in f64; hours on 2 cores.
    Paper,
}

/// Options of the demonstration.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Problem size: `demo` (default) or `paper`.
    #[arg(long, value_enum, default_value_t = Preset::Demo)]
    pub preset: Preset,
    /// Override the number of steps of both runs.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Seed of the data, noise and initialization.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of `run`. Every flag overrides the corresponding field of `--config`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// A TOML run configuration (see `configs/`); flags given too override its fields.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run name (the run directory's name); default: `<model>-<data>-<optimizer>`.
    #[arg(long)]
    pub name: Option<String>,
    /// Model: dln (diagonal linear network), dmf (deep matrix factorization), mlp, ellipse.
    #[arg(long)]
    pub model: Option<String>,
    /// Data: sparse, sensing, ellipse, diabetes, digits, or a path to a CSV file.
    #[arg(long)]
    pub data: Option<String>,
    /// Sparse regression: dimension d.
    #[arg(long)]
    pub d: Option<usize>,
    /// Sparse regression: nonzeros kappa of w* (at most d).
    #[arg(long)]
    pub kappa: Option<usize>,
    /// Synthetic data: training examples n (at least 1).
    #[arg(long)]
    pub n: Option<usize>,
    /// Synthetic data: test examples.
    #[arg(long)]
    pub n_test: Option<usize>,
    /// Data seed (synthetic data, CSV split).
    #[arg(long)]
    pub data_seed: Option<u64>,
    /// Matrix sensing: side of the square matrix.
    #[arg(long)]
    pub dim: Option<usize>,
    /// Matrix sensing: rank of M*.
    #[arg(long)]
    pub rank: Option<usize>,
    /// CSV: the target column (default: the last).
    #[arg(long)]
    pub target: Option<String>,
    /// CSV: `regression` or `classification` (default: classification when the target is
    /// named `label` or `class`).
    #[arg(long)]
    pub task: Option<String>,
    /// CSV: fraction of rows held out for testing.
    #[arg(long)]
    pub test_fraction: Option<f64>,
    /// DLN: initial u = v; DMF: initialization scale.
    #[arg(long)]
    pub init: Option<f64>,
    /// DMF: number of factors.
    #[arg(long)]
    pub depth: Option<usize>,
    /// MLP: hidden widths, comma-separated (e.g. 32,32).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Optimizer: sgd, adam (Burn's), paper-adam, rmsprop, adame, adam-mini, adalayer,
    /// shampoo.
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// SGD heavy-ball momentum.
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Adaptive methods: first-moment decay b1.
    #[arg(long)]
    pub beta1: Option<f64>,
    /// Adaptive methods: second-moment decay b2.
    #[arg(long)]
    pub beta2: Option<f64>,
    /// Adaptive methods: damping eps.
    #[arg(long)]
    pub eps: Option<f64>,
    /// AdamE: the exponent lambda in [0, 1).
    #[arg(long)]
    pub lambda: Option<f64>,
    /// Adaptive methods of this project: turn bias correction on.
    #[arg(long)]
    pub bias_correction: bool,
    /// Optimizer steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Mini-batch size: `full` or a number (1 = one example per step).
    #[arg(long)]
    pub batch_size: Option<String>,
    /// Evaluate every this many steps.
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Label-noise standard deviation (0 = off).
    #[arg(long)]
    pub noise: Option<f64>,
    /// Label-noise distribution: gaussian or sign (+-sigma).
    #[arg(long)]
    pub noise_kind: Option<String>,
    /// Curvature: auto, closed-form, exact, hutchinson, off.
    #[arg(long)]
    pub curvature: Option<String>,
    /// Hutchinson probes per evaluation.
    #[arg(long)]
    pub probes: Option<usize>,
    /// Seed of the initialization, batches and label noise.
    #[arg(long)]
    pub seed: Option<u64>,
    /// DLN: use autodiff instead of the closed-form gradient.
    #[arg(long)]
    pub no_fast_path: bool,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of `sweep`.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// A TOML sweep configuration (see `configs/sweep.toml`); default: a scaled-down DLN
    /// sample-complexity sweep.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Training-set sizes, comma-separated (overrides the file).
    #[arg(long, value_delimiter = ',')]
    pub ns: Option<Vec<usize>>,
    /// Seeds, comma-separated (overrides the file).
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// Worker threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Steps per run (overrides the file).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Sweep name (the sweep directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of `results`.
#[derive(Debug, Clone, Args)]
pub struct ResultsArgs {
    /// Where to write the report.
    #[arg(long, default_value = "docs/RESULTS.md")]
    pub report: PathBuf,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

fn parse_err(flag: &str, value: &str, allowed: &str) -> CliError {
    CliError::usage(format!("invalid --{flag} `{value}`: expected {allowed}"))
}

/// The default configuration of each model, before flags.
pub fn default_run(model: &str) -> Result<RunConfig, CliError> {
    let base = |model: ModelConfig, data: DataConfig, opt: OptimizerConfig| RunConfig {
        name: String::new(),
        seed: 0,
        steps: 20_000,
        eval_every: 1_000,
        batch_size: BatchSize::FULL,
        dtype: Dtype::F32,
        fast_path: true,
        model,
        data,
        optimizer: opt,
        noise: NoiseConfig {
            kind: NoiseKind::Gaussian,
            sigma: 1.0,
        },
        curvature: CurvatureConfig::default(),
    };
    let sparse = SparseRegressionConfig {
        d: 200,
        kappa: 5,
        n: 35,
        n_test: 500,
        seed: 0,
    };
    Ok(match model {
        "dln" => base(
            ModelConfig::Dln { init: 0.01 },
            DataConfig::Sparse(sparse),
            OptimizerConfig::new("sgd", 0.1),
        ),
        "dmf" => {
            let mut c = base(
                ModelConfig::Dmf {
                    depth: 2,
                    init: 0.1,
                },
                DataConfig::Sensing(MatrixSensingConfig {
                    dim: 20,
                    rank: 2,
                    n: 100,
                    n_test: 500,
                    seed: 0,
                }),
                OptimizerConfig::new("adam", 1e-3),
            );
            c.noise.sigma = 0.1;
            c
        }
        "mlp" => {
            let mut c = base(
                ModelConfig::Mlp { hidden: vec![16] },
                DataConfig::Csv(csv("diabetes")),
                OptimizerConfig::new("adam", 1e-2),
            );
            (c.steps, c.eval_every, c.noise.sigma) = (2_000, 200, 0.5);
            c
        }
        "ellipse" => {
            let mut c = base(
                ModelConfig::Ellipse {
                    a: 2.0,
                    b: 1.0,
                    x0: 1.0,
                    y0: 0.5,
                },
                DataConfig::Ellipse,
                OptimizerConfig::new("sgd", 0.05),
            );
            c.noise = NoiseConfig {
                kind: NoiseKind::Sign,
                sigma: 0.5,
            };
            (c.steps, c.eval_every) = (50_000, 1_000);
            c
        }
        other => {
            return Err(CliError::usage(format!(
                "unknown model `{other}`; known: dln, dmf, mlp, ellipse"
            )));
        }
    })
}

fn csv(source: &str) -> CsvConfig {
    CsvConfig {
        source: source.into(),
        target: None,
        task: CsvTask::Auto,
        test_fraction: 0.2,
        seed: 0,
    }
}

impl RunArgs {
    /// The configuration: the file (or the model's defaults), then every flag given.
    pub fn to_config(&self) -> Result<RunConfig, CliError> {
        let mut c = match &self.config {
            Some(path) => RunConfig::from_file(path)?,
            None => default_run(self.model.as_deref().unwrap_or("dln"))?,
        };
        if let Some(model) = &self.model
            && model != c.model.name()
        {
            c.model = default_run(model)?.model;
        }
        self.apply_model(&mut c)?;
        self.apply_data(&mut c)?;
        self.apply_training(&mut c)?;
        self.apply_optimizer(&mut c.optimizer);
        if c.name.is_empty() || self.name.is_some() {
            c.name = self.name.clone().unwrap_or_else(|| {
                let data = match &c.data {
                    DataConfig::Csv(csv) => std::path::Path::new(&csv.source)
                        .file_stem()
                        .map_or("csv".into(), |s| s.to_string_lossy().into_owned()),
                    other => adasharp_lab::config::data_name(other).to_string(),
                };
                format!("{}-{data}-{}", c.model.name(), c.optimizer.label())
            });
        }
        if let Some(d) = self.common.dtype {
            c.dtype = d.into();
        }
        Ok(c)
    }

    fn apply_model(&self, c: &mut RunConfig) -> Result<(), CliError> {
        match &mut c.model {
            ModelConfig::Dln { init } => set(init, self.init),
            ModelConfig::Dmf { depth, init } => {
                set(init, self.init);
                set(depth, self.depth);
            }
            ModelConfig::Mlp { hidden } => {
                if let Some(h) = &self.hidden {
                    *hidden = h.clone();
                }
            }
            ModelConfig::Ellipse { .. } => {}
        }
        Ok(())
    }

    fn apply_data(&self, c: &mut RunConfig) -> Result<(), CliError> {
        if let Some(data) = &self.data {
            c.data = match data.as_str() {
                "sparse" => match &c.data {
                    DataConfig::Sparse(_) => c.data.clone(),
                    _ => default_run("dln")?.data,
                },
                "sensing" => match &c.data {
                    DataConfig::Sensing(_) => c.data.clone(),
                    _ => default_run("dmf")?.data,
                },
                "ellipse" => DataConfig::Ellipse,
                source => DataConfig::Csv(csv(source)),
            };
        }
        match &mut c.data {
            DataConfig::Sparse(s) => {
                set(&mut s.d, self.d);
                set(&mut s.kappa, self.kappa);
                set(&mut s.n, self.n);
                set(&mut s.n_test, self.n_test);
                set(&mut s.seed, self.data_seed);
            }
            DataConfig::Sensing(s) => {
                set(&mut s.dim, self.dim);
                set(&mut s.rank, self.rank);
                set(&mut s.n, self.n);
                set(&mut s.n_test, self.n_test);
                set(&mut s.seed, self.data_seed);
            }
            DataConfig::Csv(csv) => {
                if self.target.is_some() {
                    csv.target = self.target.clone();
                }
                if let Some(task) = &self.task {
                    csv.task = match task.as_str() {
                        "regression" => CsvTask::Regression,
                        "classification" => CsvTask::Classification,
                        "auto" => CsvTask::Auto,
                        v => {
                            return Err(parse_err("task", v, "regression, classification or auto"));
                        }
                    };
                }
                set(&mut csv.test_fraction, self.test_fraction);
                set(&mut csv.seed, self.data_seed);
            }
            DataConfig::Ellipse => {}
        }
        Ok(())
    }

    fn apply_training(&self, c: &mut RunConfig) -> Result<(), CliError> {
        set(&mut c.steps, self.steps);
        set(&mut c.eval_every, self.eval_every);
        set(&mut c.seed, self.seed);
        set(&mut c.noise.sigma, self.noise);
        set(&mut c.curvature.probes, self.probes);
        if let Some(b) = &self.batch_size {
            c.batch_size = BatchSize::parse(b)?;
        }
        if let Some(kind) = &self.noise_kind {
            c.noise.kind = NoiseKind::parse(kind)?;
        }
        if let Some(method) = &self.curvature {
            c.curvature.method = match method.as_str() {
                "auto" => CurvatureMethod::Auto,
                "closed-form" | "closed_form" => CurvatureMethod::ClosedForm,
                "exact" => CurvatureMethod::Exact,
                "hutchinson" => CurvatureMethod::Hutchinson,
                "off" => CurvatureMethod::Off,
                v => {
                    return Err(parse_err(
                        "curvature",
                        v,
                        "auto, closed-form, exact, hutchinson, off",
                    ));
                }
            };
        }
        if self.no_fast_path {
            c.fast_path = false;
        }
        Ok(())
    }

    fn apply_optimizer(&self, o: &mut OptimizerConfig) {
        if let Some(name) = &self.optimizer
            && *name != o.name
        {
            let lr = self.lr.unwrap_or(o.lr);
            *o = OptimizerConfig::new(name, lr);
        }
        set(&mut o.lr, self.lr);
        set(&mut o.momentum, self.momentum);
        set(&mut o.beta_1, self.beta1);
        set(&mut o.beta_2, self.beta2);
        set(&mut o.epsilon, self.eps);
        set(&mut o.lambda, self.lambda);
        if self.bias_correction {
            o.bias_correction = true;
        }
    }
}

fn set<T: Clone>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

impl SweepArgs {
    /// The sweep: the file (or the built-in default), then the flags.
    pub fn to_config(&self) -> Result<SweepConfig, CliError> {
        let mut c = match &self.config {
            Some(path) => SweepConfig::from_file(path)?,
            None => super::demo::default_sweep(),
        };
        if let Some(ns) = &self.ns {
            c.ns = ns.clone();
        }
        if let Some(seeds) = &self.seeds {
            c.seeds = seeds.clone();
        }
        set(&mut c.threads, self.threads);
        set(&mut c.base.steps, self.steps);
        set(&mut c.name, self.name.clone());
        if let Some(d) = self.common.dtype {
            c.base.dtype = d.into();
        }
        Ok(c)
    }
}
