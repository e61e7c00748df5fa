//! One training run with label noise: the loop, the evaluations and the run directory.
//!
//! Every `eval_every` steps (and at steps 0 and the last) the runner records, on the
//! noise-free training labels: the training and test loss, the model's extras (sparsity,
//! distance to the ground truth, ...) and the sharpness measures of [`Sharpness`], raw and
//! Gauss-Newton. A run whose loss stops being finite ends with [`RunStatus::Diverged`] naming
//! the step; its records so far are kept.
//!
//! The run directory holds `config.toml` (the resolved configuration), `metrics.jsonl`,
//! `metrics.csv`, `summary.json`, `summary.txt`, `partition.txt` for block optimizers, and
//! `plots/*.svg`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use adasharp_optim::PartitionReport;
use burn::module::Param;
use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{GradientsParams, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{BatchSize, CurvatureMethod, DataConfig, ModelConfig, RunConfig};
use crate::curvature::CurvatureTracker;
use crate::data::{DeviceData, load_csv};
use crate::metrics::{MetricsWriter, Record};
use crate::models::{DeepMatrixFactorization, Dln, LabModel, Mlp, NoisyEllipse};
use crate::optim::TensorOptimizer;
use crate::report::{run_plots, summary_table};
use crate::rundir::{RunDir, write_file};
use crate::{Dataset, LabError, LabelNoise, Result, Sharpness, Task, Truth};

/// Receives progress from a run (the CLI draws a progress bar or logs).
pub trait Observer {
    /// A run starts.
    fn start(&mut self, _name: &str, _steps: usize) {}
    /// A step ended with this mini-batch loss (with noisy labels).
    fn step(&mut self, _step: usize, _loss: f64) {}
    /// An evaluation was recorded.
    fn eval(&mut self, _record: &Record) {}
    /// The run ended.
    fn finish(&mut self) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunStatus {
    /// All steps taken.
    Completed,
    /// The loss stopped being finite at `step`; training stopped there.
    Diverged {
        /// The step whose loss was not finite.
        step: usize,
        /// What was not finite.
        what: String,
    },
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunStatus::Completed => f.write_str("completed"),
            RunStatus::Diverged { step, what } => write!(f, "diverged at step {step} ({what})"),
        }
    }
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The configuration it ran with.
    pub config: RunConfig,
    /// The run directory.
    pub dir: PathBuf,
    /// Every evaluation.
    pub records: Vec<Record>,
    /// Completed or diverged.
    pub status: RunStatus,
    /// Wall-clock seconds, evaluations included.
    pub seconds: f64,
    /// The block partition of Adam-mini and Adalayer runs, as printed.
    pub partition: Option<String>,
}

impl RunOutcome {
    /// The last record.
    pub fn last(&self) -> Option<&Record> {
        self.records.last()
    }
}

/// Builds the run's dataset on the host.
pub fn build_dataset(config: &RunConfig) -> Result<Dataset> {
    match &config.data {
        DataConfig::Sparse(c) => c.generate(),
        DataConfig::Sensing(c) => c.generate(),
        DataConfig::Csv(c) => load_csv(c),
        DataConfig::Ellipse => Ok(Dataset {
            name: "ellipse".into(),
            features: 1,
            x_train: vec![1.0],
            y_train: vec![1.0],
            x_test: vec![1.0],
            y_test: vec![1.0],
            task: Task::Regression,
            truth: Truth::None,
        }),
    }
}

/// Runs `config` on `device` (a plain device; the runner adds autodiff where it needs it),
/// writing the run directory under `out`.
///
/// Errors (bad configuration, unwritable `out`) leave no run directory behind.
pub fn run(
    config: &RunConfig,
    device: &Device,
    out: &Path,
    observer: &mut dyn Observer,
) -> Result<RunOutcome> {
    config.validate()?;
    let dataset = build_dataset(config)?;
    check_fit(config, &dataset)?;
    let dir = RunDir::create(out, &config.name)?;
    write_file(&dir.path().join("config.toml"), &config.to_toml())?;

    let mut session = Session::new(config, &dataset, device, dir.path())?;
    observer.start(&config.name, config.steps);
    let status = dispatch(config, &dataset, device, &mut session, observer)?;
    observer.finish();

    let outcome = RunOutcome {
        config: config.clone(),
        dir: dir.target().to_path_buf(),
        records: session.records,
        status,
        seconds: session.start.elapsed().as_secs_f64(),
        partition: session.partition.as_ref().map(|p| p.to_string()),
    };
    write_outputs(dir.path(), &outcome)?;
    dir.finish()?;
    Ok(outcome)
}

fn dispatch(
    config: &RunConfig,
    dataset: &Dataset,
    device: &Device,
    session: &mut Session,
    observer: &mut dyn Observer,
) -> Result<RunStatus> {
    let ad = device.clone().autodiff();
    let outputs = match dataset.task {
        Task::Regression => 1,
        Task::Classification { classes } => classes,
    };
    match &config.model {
        ModelConfig::Dln { init } if config.fast_path => {
            let model = Dln::new(dataset.features, *init, device);
            session.train_dln_fast(model, observer)
        }
        ModelConfig::Dln { init } => {
            session.train(Dln::new(dataset.features, *init, &ad), observer)
        }
        ModelConfig::Dmf { depth, init } => {
            let dim = (dataset.features as f64).sqrt().round() as usize;
            let model = DeepMatrixFactorization::new(dim, *depth, *init, config.seed, &ad);
            session.train(model, observer)
        }
        ModelConfig::Mlp { hidden } => {
            let model = Mlp::new(dataset.features, hidden, outputs, config.seed, &ad);
            session.train(model, observer)
        }
        ModelConfig::Ellipse { a, b, x0, y0 } => {
            session.train(NoisyEllipse::new(*a, *b, *x0, *y0, &ad), observer)
        }
    }
}

/// Checks what needs the dataset: a DLN or DMF needs regression; a DMF needs square inputs.
fn check_fit(config: &RunConfig, dataset: &Dataset) -> Result<()> {
    let classification = matches!(dataset.task, Task::Classification { .. });
    let model = config.model.name();
    if classification && matches!(model, "dln" | "dmf") {
        return Err(LabError::invalid(
            "model.kind",
            model,
            "a model for classification data (`mlp`)",
        ));
    }
    if config.curvature.method == CurvatureMethod::ClosedForm && !matches!(model, "dln" | "ellipse")
    {
        return Err(LabError::invalid(
            "curvature.method",
            "closed_form",
            "`auto`, `exact`, `hutchinson` or `off` for this model (closed forms exist for the \
             dln and ellipse models)",
        ));
    }
    Ok(())
}

/// Derives independent seeds for the noise and the batches from the run seed.
fn stream_seed(seed: u64, stream: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(stream)
}

/// The state one run carries through its loop.
struct Session<'a> {
    config: &'a RunConfig,
    dataset: &'a Dataset,
    /// The data on the plain device (fast path, evaluation).
    plain: DeviceData,
    /// The data on the autodiff device (generic path, curvature).
    ad: DeviceData,
    noise: LabelNoise,
    batch_rng: ChaCha8Rng,
    writer: MetricsWriter,
    records: Vec<Record>,
    partition: Option<PartitionReport>,
    tracker: Option<CurvatureTracker>,
    dir: PathBuf,
    start: Instant,
}

impl<'a> Session<'a> {
    fn new(
        config: &'a RunConfig,
        dataset: &'a Dataset,
        device: &Device,
        dir: &Path,
    ) -> Result<Self> {
        let sigma = match dataset.task {
            Task::Classification { .. } if config.noise.sigma > 0.0 => {
                log::warn!("label noise applies to regression targets only; training without it");
                0.0
            }
            _ => config.noise.sigma,
        };
        Ok(Self {
            config,
            dataset,
            plain: dataset.to_device(device),
            ad: dataset.to_device(&device.clone().autodiff()),
            noise: LabelNoise::new(config.noise.kind, sigma, stream_seed(config.seed, 1))?,
            batch_rng: ChaCha8Rng::seed_from_u64(stream_seed(config.seed, 2)),
            writer: MetricsWriter::create(dir)?,
            records: Vec::new(),
            partition: None,
            tracker: None,
            dir: dir.to_path_buf(),
            start: Instant::now(),
        })
    }

    /// Row indices of the next mini-batch, or `None` for the full batch.
    fn batch_indices(&mut self, device: &Device) -> Option<Tensor<1, Int>> {
        let n = self.dataset.n_train();
        match self.config.batch_size {
            BatchSize::Examples(b) if b < n => {
                let idx: Vec<i64> = (0..b)
                    .map(|_| self.batch_rng.random_range(0..n) as i64)
                    .collect();
                Some(Tensor::from_data(TensorData::new(idx, [b]), device))
            }
            _ => None,
        }
    }

    /// The generic path: autodiff gradients of the noisy mini-batch loss.
    fn train<M: LabModel>(
        &mut self,
        mut model: M,
        observer: &mut dyn Observer,
    ) -> Result<RunStatus> {
        let built = self.config.optimizer.build(&model)?;
        let mut optim: ModuleOptimizer = built.optim;
        self.partition = built.partition;
        let data = self.ad.clone();
        let device = data.x_train.device();
        self.evaluate(&model, 0, observer)?;
        for step in 1..=self.config.steps {
            let idx = self.batch_indices(&device);
            let pick1 = |t: &Tensor<1>| idx.clone().map_or(t.clone(), |i| t.clone().select(0, i));
            let x = idx
                .clone()
                .map_or(data.x_train.clone(), |i| data.x_train.clone().select(0, i));
            let out = model.forward(x);
            let loss = match &data.labels {
                Some((labels, _)) => {
                    let labels = idx
                        .clone()
                        .map_or(labels.clone(), |i| labels.clone().select(0, i));
                    CrossEntropyLoss::new(None, &device).forward(out, labels)
                }
                None => {
                    let y = self.noise.perturb(pick1(&data.y_train));
                    squared_loss(out, y)
                }
            };
            let value = first(loss.clone());
            observer.step(step, value);
            if !value.is_finite() {
                return Ok(self.diverged(step, "training loss", value));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(self.config.optimizer.lr, model, grads);
            let due = step % self.config.eval_every == 0 || step == self.config.steps;
            if due && let Some(status) = self.evaluate(&model, step, observer)? {
                return Ok(status);
            }
        }
        Ok(RunStatus::Completed)
    }

    /// The DLN fast path: the closed-form gradient and a per-tensor optimizer, all on the
    /// plain device (no autodiff graph, no autodiff leaves).
    fn train_dln_fast(&mut self, model: Dln, observer: &mut dyn Observer) -> Result<RunStatus> {
        self.partition = self.config.optimizer.build(&model)?.partition;
        match self.config.optimizer.build_tensor()? {
            TensorOptimizer::Sgd(o) => self.dln_loop(o, model, observer),
            TensorOptimizer::Adam(o) => self.dln_loop(o, model, observer),
            TensorOptimizer::Agm(o) => self.dln_loop(o, model, observer),
            TensorOptimizer::Shampoo(o) => self.dln_loop(o, model, observer),
        }
    }

    fn dln_loop<O: Optimizer>(
        &mut self,
        optim: O,
        mut model: Dln,
        observer: &mut dyn Observer,
    ) -> Result<RunStatus> {
        let data = self.plain.clone();
        let device = data.x_train.device();
        let lr = self.config.optimizer.lr;
        let (mut state_u, mut state_v) = (None, None);
        self.evaluate(&model, 0, observer)?;
        for step in 1..=self.config.steps {
            let (x, y) = match self.batch_indices(&device) {
                Some(i) => (
                    data.x_train.clone().select(0, i.clone()),
                    data.y_train.clone().select(0, i),
                ),
                None => (data.x_train.clone(), data.y_train.clone()),
            };
            let y = self.noise.perturb(y);
            let grad = model.gradient(&x, &y);
            let value = first(grad.loss.clone());
            observer.step(step, value);
            if !value.is_finite() {
                return Ok(self.diverged(step, "training loss", value));
            }
            let (u, s) = optim.step(lr, model.u.val(), grad.u, state_u.take());
            state_u = s;
            let (v, s) = optim.step(lr, model.v.val(), grad.v, state_v.take());
            state_v = s;
            model = Dln {
                u: Param::initialized(model.u.id, u),
                v: Param::initialized(model.v.id, v),
            };
            let due = step % self.config.eval_every == 0 || step == self.config.steps;
            if due && let Some(status) = self.evaluate(&model, step, observer)? {
                return Ok(status);
            }
        }
        Ok(RunStatus::Completed)
    }

    fn diverged(&mut self, step: usize, what: &str, value: f64) -> RunStatus {
        log::error!(
            "{}: {what} is {value} at step {step}; stopping",
            self.config.name
        );
        RunStatus::Diverged {
            step,
            what: format!("{what} = {value}"),
        }
    }

    /// Records losses, extras and curvature on noise-free labels; `Some(status)` if the
    /// model has diverged.
    fn evaluate<M: LabModel>(
        &mut self,
        model: &M,
        step: usize,
        observer: &mut dyn Observer,
    ) -> Result<Option<RunStatus>> {
        let started = Instant::now();
        let plain_model = model.valid();
        let data = &self.plain;
        let mut values: Vec<(String, f64)> = Vec::new();
        let mut push = |k: &str, v: f64| values.push((k.to_string(), v));
        let train_out = plain_model.forward(data.x_train.clone());
        let test_out = plain_model.forward(data.x_test.clone());
        match &data.labels {
            Some((train_labels, test_labels)) => {
                let device = data.x_train.device();
                let ce = CrossEntropyLoss::new(None, &device);
                push(
                    "train_loss",
                    first(ce.forward(train_out.clone(), train_labels.clone())),
                );
                push(
                    "test_loss",
                    first(ce.forward(test_out.clone(), test_labels.clone())),
                );
                push("train_acc", accuracy(train_out, train_labels.clone()));
                push("test_acc", accuracy(test_out, test_labels.clone()));
            }
            None => {
                push(
                    "train_loss",
                    first(squared_loss(train_out, data.y_train.clone())),
                );
                push(
                    "test_loss",
                    first(squared_loss(test_out, data.y_test.clone())),
                );
            }
        }
        if let Some((k, v)) = values.iter().find(|(_, v)| !v.is_finite()) {
            // Curvature of a diverged model means nothing: stop before computing it.
            return Ok(Some(self.diverged(step, &format!("noise-free {k}"), *v)));
        }
        let mut push = |k: &str, v: f64| values.push((k.to_string(), v));
        for (k, v) in plain_model.extras(&self.dataset.truth) {
            push(k, v);
        }
        let sharpness = self.sharpness(model, &plain_model, step)?;
        if let Some(s) = &sharpness {
            for (k, v) in s.columns() {
                push(k, v);
            }
        }
        push("eval_seconds", started.elapsed().as_secs_f64());
        push("elapsed_seconds", self.start.elapsed().as_secs_f64());
        // A non-finite value is never written: the run stops with the records before it.
        if let Some((k, v)) = values.iter().find(|(_, v)| !v.is_finite()) {
            return Ok(Some(self.diverged(step, k, *v)));
        }
        let record = Record { step, values };
        self.writer.write(&record)?;
        observer.eval(&record);
        self.records.push(record);
        Ok(None)
    }

    fn sharpness<M: LabModel>(
        &mut self,
        model: &M,
        plain: &M,
        step: usize,
    ) -> Result<Option<Sharpness>> {
        let method = self.config.curvature.method;
        if method == CurvatureMethod::Off {
            return Ok(None);
        }
        let lambda = self.config.optimizer.measure_lambda();
        let closed = matches!(method, CurvatureMethod::Auto | CurvatureMethod::ClosedForm);
        if closed
            && let Some(diag) = plain.closed_form_diag(&self.plain.x_train, &self.plain.y_train)
        {
            let partition = self.partition.as_ref();
            return Ok(Some(Sharpness::from_diag(
                "closed form",
                &diag,
                lambda,
                partition,
            )));
        }
        if self.tracker.is_none() {
            self.tracker = Some(CurvatureTracker::new(
                &self.config.curvature,
                model.num_params(),
                self.plain.labels.is_none(),
                lambda,
                self.partition.as_ref(),
                stream_seed(self.config.seed, 3),
                &self.dir,
            )?);
        }
        let tracker = self.tracker.as_mut().expect("created above");
        let ad_model = model.clone().fork(&self.ad.x_train.device());
        match tracker.evaluate(step, &ad_model, &self.ad) {
            Ok(s) => Ok(Some(s)),
            Err(e) => {
                log::warn!("{}: no curvature at step {step}: {e}", self.config.name);
                Ok(None)
            }
        }
    }
}

/// `1/(2b) sum (out_i - y_i)^2` for outputs `[b, 1]`.
pub fn squared_loss(out: Tensor<2>, y: Tensor<1>) -> Tensor<1> {
    (out.squeeze_dim::<1>(1) - y)
        .square()
        .mean()
        .mul_scalar(0.5)
}

fn accuracy(logits: Tensor<2>, labels: Tensor<1, Int>) -> f64 {
    let n = labels.dims()[0] as f64;
    let predicted = logits.argmax(1).squeeze_dim::<1>(1);
    let correct = predicted.equal(labels).int().sum();
    correct.into_data().iter::<f64>().next().unwrap_or(0.0) / n
}

/// The first element of a tensor as `f64`.
pub(crate) fn first(t: Tensor<1>) -> f64 {
    t.into_data().iter::<f64>().next().unwrap_or(f64::NAN)
}

fn write_outputs(dir: &Path, outcome: &RunOutcome) -> Result<()> {
    if let Some(p) = &outcome.partition {
        write_file(&dir.join("partition.txt"), &format!("{p}\n"))?;
    }
    let last: serde_json::Map<String, serde_json::Value> = outcome
        .last()
        .map(|r| {
            r.values
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        serde_json::Number::from_f64(*v)
                            .map_or(serde_json::Value::Null, Into::into),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let diverged_at = match outcome.status {
        RunStatus::Diverged { step, .. } => Some(step),
        RunStatus::Completed => None,
    };
    let summary = serde_json::json!({
        "name": outcome.config.name,
        "status": outcome.status.to_string(),
        "diverged_at": diverged_at,
        "seconds": outcome.seconds,
        "steps": outcome.config.steps,
        "optimizer": outcome.config.optimizer.label(),
        "final": last,
    });
    write_file(&dir.join("summary.json"), &format!("{summary:#}\n"))?;
    write_file(
        &dir.join("summary.txt"),
        &summary_table(std::slice::from_ref(outcome)),
    )?;
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| LabError::io("cannot create", &plots, e))?;
    for (file, plot) in run_plots(std::slice::from_ref(outcome)) {
        write_file(&plots.join(file), &plot.to_svg())?;
    }
    Ok(())
}
