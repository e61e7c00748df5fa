//! A training-loop callback that measures sharpness every `k` steps and writes records.

use std::sync::Arc;
use std::time::Instant;

use adasharp_optim::PartitionReport;
use burn::module::Module;
use burn::tensor::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::measures::{
    MeasureValue, adam_eps_trace, block_sqrt_trace, trace, trace_diag_pow, trace_sqrt_diag,
};
use crate::sink::RecordSink;
use crate::{
    CurvatureError, DEFAULT_EXACT_DIAG_LIMIT, DiagEstimate, FdScheme, Hvp, Lanczos, LinearOperator,
    ParamVec, Preconditioned, Result, StepPolicy, exact_diag, hutchinson_diag, hutchpp_trace,
};

/// A quantity the monitor records.
#[derive(Debug, Clone)]
pub enum Measure {
    /// `tr(H)` from the diagonal estimate.
    Trace,
    /// `tr(H)` by Hutch++ with its own budget of products (independent of the diagonal).
    TraceHutchpp {
        /// Products to spend.
        budget: usize,
    },
    /// `tr(Diag(H)^(1/2))`.
    TraceSqrtDiag,
    /// `tr(Diag(H)^(1-lambda))`.
    TraceDiagPow {
        /// AdamE's exponent, in `[0, 1)`.
        lambda: f64,
    },
    /// `sum_i sqrt(H_ii) - (eps/sigma) ln((sigma/eps) sqrt(H_ii) + 1)`.
    AdamEpsTrace {
        /// Adam's damping.
        epsilon: f64,
        /// Label-noise standard deviation.
        sigma: f64,
    },
    /// `sum_B sqrt(|B| tr(H_BB))` over an optimizer's blocks.
    BlockSqrtTrace(Arc<PartitionReport>),
    /// Largest eigenvalue of `H` (Lanczos, warm-started from the previous evaluation).
    TopEigenvalue,
    /// Largest eigenvalue of `S^(1/2) H S^(1/2)`, with `S` set by
    /// [`SharpnessMonitor::set_preconditioner`].
    PreconditionedTopEigenvalue,
}

impl Measure {
    /// The column / key name: `trace`, `trace_hutchpp`, `trace_sqrt_diag`,
    /// `trace_diag_pow(0.25)`, `adam_eps_trace(1e-8,0.1)`, `block_sqrt_trace(Adam-mini)`,
    /// `top_eigenvalue`, `preconditioned_top_eigenvalue`.
    pub fn name(&self) -> String {
        match self {
            Measure::Trace => "trace".into(),
            Measure::TraceHutchpp { .. } => "trace_hutchpp".into(),
            Measure::TraceSqrtDiag => "trace_sqrt_diag".into(),
            Measure::TraceDiagPow { lambda } => format!("trace_diag_pow({lambda})"),
            Measure::AdamEpsTrace { epsilon, sigma } => {
                format!("adam_eps_trace({epsilon},{sigma})")
            }
            Measure::BlockSqrtTrace(p) => format!("block_sqrt_trace({})", p.optimizer),
            Measure::TopEigenvalue => "top_eigenvalue".into(),
            Measure::PreconditionedTopEigenvalue => "preconditioned_top_eigenvalue".into(),
        }
    }

    fn needs_diag(&self) -> bool {
        !matches!(
            self,
            Measure::TraceHutchpp { .. }
                | Measure::TopEigenvalue
                | Measure::PreconditionedTopEigenvalue
        )
    }

    /// The measure from a diagonal estimate, if it is one of the diagonal measures.
    pub fn evaluate_diag(&self, est: &DiagEstimate) -> Option<Result<MeasureValue>> {
        Some(match self {
            Measure::Trace => trace(est),
            Measure::TraceSqrtDiag => trace_sqrt_diag(est),
            Measure::TraceDiagPow { lambda } => trace_diag_pow(est, *lambda),
            Measure::AdamEpsTrace { epsilon, sigma } => adam_eps_trace(est, *epsilon, *sigma),
            Measure::BlockSqrtTrace(p) => block_sqrt_trace(est, p),
            _ => return None,
        })
    }
}

/// How the monitor estimates `diag(H)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagEstimator {
    /// [`exact_diag`](crate::exact_diag): one product per parameter, refused above `limit`.
    Exact {
        /// Largest number of parameters accepted.
        limit: usize,
    },
    /// [`hutchinson_diag`](crate::hutchinson_diag) with `probes` products.
    Hutchinson {
        /// Rademacher probes (products).
        probes: usize,
    },
}

impl DiagEstimator {
    fn name(&self) -> &'static str {
        match self {
            DiagEstimator::Exact { .. } => "exact",
            DiagEstimator::Hutchinson { .. } => "hutchinson",
        }
    }
}

/// Settings of a [`SharpnessMonitor`].
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// Evaluate at steps that are multiples of `every` (default 100).
    pub every: usize,
    /// The diagonal estimator (default Hutchinson with 32 probes).
    pub diag: DiagEstimator,
    /// Finite-difference scheme of the products (default Richardson).
    pub scheme: FdScheme,
    /// Step policy of the products (default auto).
    pub step: StepPolicy,
    /// Seed of all probes; each evaluation derives its own from it and the step (default 0).
    pub seed: u64,
    /// Lanczos Krylov dimension for eigenvalue measures (default 20).
    pub lanczos_steps: usize,
    /// Lanczos relative tolerance (default 1e-3).
    pub lanczos_tol: f64,
    /// Spend one extra four-gradient product on a Gaussian direction to report the HVP error
    /// estimate (default true).
    pub check_hvp_error: bool,
    /// What to record, in column order.
    pub measures: Vec<Measure>,
}

impl MonitorConfig {
    /// Defaults (see the fields) recording `measures`.
    pub fn new(measures: Vec<Measure>) -> Self {
        Self {
            every: 100,
            diag: DiagEstimator::Hutchinson { probes: 32 },
            scheme: FdScheme::Richardson,
            step: StepPolicy::Auto,
            seed: 0,
            lanczos_steps: 20,
            lanczos_tol: 1e-3,
            check_hvp_error: true,
            measures,
        }
    }

    /// Sets `every`.
    pub fn with_every(mut self, every: usize) -> Self {
        self.every = every;
        self
    }

    /// Sets the diagonal estimator.
    pub fn with_diag(mut self, diag: DiagEstimator) -> Self {
        self.diag = diag;
        self
    }

    /// Sets the finite-difference scheme.
    pub fn with_scheme(mut self, scheme: FdScheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// An exact diagonal with the default size limit.
    pub fn with_exact_diag(self) -> Self {
        self.with_diag(DiagEstimator::Exact {
            limit: DEFAULT_EXACT_DIAG_LIMIT,
        })
    }
}

/// One measure in a [`SharpnessRecord`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeasureEntry {
    /// [`Measure::name`].
    pub name: String,
    /// The value.
    pub value: f64,
    /// Standard error, when the estimate is random.
    pub std_err: Option<f64>,
    /// Coordinates or blocks clipped at 0 before a root (see [`crate::measures`]).
    pub clipped: usize,
}

/// What one evaluation measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SharpnessRecord {
    /// The training step.
    pub step: usize,
    /// The loss at the evaluated parameters.
    pub loss: f64,
    /// The diagonal estimator (`exact`, `hutchinson`, `gauss_newton`, or `none` if no measure
    /// needed one).
    pub estimator: String,
    /// Probes, coordinates or samples of the diagonal estimate.
    pub probes: usize,
    /// Hessian-vector products spent in total.
    pub hvps: usize,
    /// Gradient evaluations spent in total.
    pub gradients: usize,
    /// Wall-clock seconds of the evaluation.
    pub seconds: f64,
    /// Relative HVP error estimate (gap between the two schemes on a Gaussian direction).
    pub hvp_rel_error: Option<f64>,
    /// The measures, in the configured order.
    pub measures: Vec<MeasureEntry>,
}

impl SharpnessRecord {
    /// The entry named `name`.
    pub fn get(&self, name: &str) -> Option<&MeasureEntry> {
        self.measures.iter().find(|m| m.name == name)
    }
}

/// Measures sharpness every `k` steps of a training loop and writes a record per evaluation.
///
/// ```
/// use adasharp_curvature::{Measure, MonitorConfig, SharpnessMonitor};
/// use burn::module::{Module, Param};
/// use burn::tensor::{Device, Tensor};
///
/// #[derive(Module, Debug)]
/// struct Point {
///     theta: Param<Tensor<1>>,
/// }
///
/// let device = Device::flex();
/// let model = Point { theta: Param::from_tensor(Tensor::from_floats([1.0, -2.0], &device)) };
/// // L = 1.5 theta_0^2 + 0.5 theta_1^2: diag(H) = (3, 1).
/// let loss = |m: &Point| {
///     let t = m.theta.val();
///     let w = Tensor::<1>::from_floats([1.5, 0.5], &t.device());
///     (t.powi_scalar(2) * w).sum()
/// };
/// let config = MonitorConfig::new(vec![Measure::Trace, Measure::TraceSqrtDiag])
///     .with_every(10)
///     .with_exact_diag();
/// let mut monitor = SharpnessMonitor::new(config).unwrap();
/// assert!(monitor.maybe_evaluate(3, &model, loss).unwrap().is_none());
/// let record = monitor.maybe_evaluate(10, &model, loss).unwrap().unwrap();
/// assert!((record.get("trace").unwrap().value - 4.0).abs() < 1e-3);
/// let expected = 3f64.sqrt() + 1.0;
/// assert!((record.get("trace_sqrt_diag").unwrap().value - expected).abs() < 1e-3);
/// ```
pub struct SharpnessMonitor {
    config: MonitorConfig,
    sinks: Vec<Box<dyn RecordSink>>,
    lanczos: Lanczos,
    lanczos_preconditioned: Lanczos,
    preconditioner: Option<ParamVec>,
}

impl std::fmt::Debug for SharpnessMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharpnessMonitor")
            .field("config", &self.config)
            .field("sinks", &self.sinks.len())
            .finish_non_exhaustive()
    }
}

impl SharpnessMonitor {
    /// A monitor with `config` and no sinks.
    pub fn new(config: MonitorConfig) -> Result<Self> {
        if config.every == 0 {
            return Err(CurvatureError::invalid(
                "every",
                "0; evaluate every k >= 1 steps",
            ));
        }
        if config.measures.is_empty() {
            return Err(CurvatureError::invalid(
                "measures",
                "empty; nothing to record",
            ));
        }
        let lanczos = Lanczos::new(config.lanczos_steps, config.lanczos_tol, config.seed);
        Ok(Self {
            lanczos_preconditioned: lanczos.clone(),
            lanczos,
            config,
            sinks: Vec::new(),
            preconditioner: None,
        })
    }

    /// Adds a sink every record is written to.
    pub fn with_sink(mut self, sink: impl RecordSink + 'static) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &MonitorConfig {
        &self.config
    }

    /// Sets the diagonal preconditioner `S` used by
    /// [`Measure::PreconditionedTopEigenvalue`] (see
    /// [`preconditioner_diag`](crate::preconditioner_diag)); refresh it before each evaluation.
    pub fn set_preconditioner(&mut self, s: Option<ParamVec>) {
        self.preconditioner = s;
    }

    /// Whether `step` is an evaluation step (a multiple of `every`).
    pub fn should_evaluate(&self, step: usize) -> bool {
        step.is_multiple_of(self.config.every)
    }

    /// [`evaluate`](Self::evaluate) if `step` is an evaluation step.
    pub fn maybe_evaluate<M, F>(
        &mut self,
        step: usize,
        model: &M,
        loss: F,
    ) -> Result<Option<SharpnessRecord>>
    where
        M: Module,
        F: Fn(&M) -> Tensor<1>,
    {
        if self.should_evaluate(step) {
            self.evaluate(step, model, loss).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Measures every configured quantity at `model`'s parameters and writes the record to
    /// every sink.
    ///
    /// `loss` is called as documented in [`crate::hvp`]: on perturbed copies of `model`, and it
    /// must be deterministic. A non-finite loss or measure is returned as
    /// [`CurvatureError::NonFiniteMeasure`] naming it, and nothing is written.
    pub fn evaluate<M, F>(&mut self, step: usize, model: &M, loss: F) -> Result<SharpnessRecord>
    where
        M: Module,
        F: Fn(&M) -> Tensor<1>,
    {
        let started = Instant::now();
        let seed = mix(self.config.seed, step as u64);
        let mut hvp = Hvp::new(model, loss)?
            .with_scheme(self.config.scheme)
            .with_step(self.config.step);
        let loss_value = hvp.loss()?;
        check_finite("loss", step, loss_value)?;

        let hvp_rel_error = if self.config.check_hvp_error {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9);
            let v = ParamVec::gaussian(hvp.layout(), &hvp.device(), &mut rng);
            hvp.apply_with_error(&v)?.1.rel_error_estimate
        } else {
            None
        };

        let diag = if self.config.measures.iter().any(Measure::needs_diag) {
            Some(match self.config.diag {
                DiagEstimator::Exact { limit } => exact_diag(&mut hvp, limit, 64)?,
                DiagEstimator::Hutchinson { probes } => hutchinson_diag(&mut hvp, probes, seed)?,
            })
        } else {
            None
        };

        let mut entries = Vec::with_capacity(self.config.measures.len());
        for measure in self.config.measures.clone() {
            let value = self.measure(&measure, diag.as_ref(), &mut hvp, seed)?;
            entries.push(MeasureEntry {
                name: measure.name(),
                value: value.value,
                std_err: value.std_err,
                clipped: value.clipped,
            });
        }

        let cost = hvp.cost();
        let record = SharpnessRecord {
            step,
            loss: loss_value,
            estimator: diag
                .as_ref()
                .map_or("none", |_| self.config.diag.name())
                .to_string(),
            probes: diag.as_ref().map_or(0, |d| d.probes),
            hvps: cost.matvecs,
            gradients: cost.gradients,
            seconds: started.elapsed().as_secs_f64(),
            hvp_rel_error,
            measures: entries,
        };
        self.emit(record)
    }

    /// Builds and writes a record from a diagonal estimate obtained elsewhere (for example
    /// [`gauss_newton_diag`](crate::gauss_newton_diag)); only the diagonal measures can be
    /// computed this way, the others are an error.
    pub fn record_from_diag(
        &mut self,
        step: usize,
        loss: f64,
        est: &DiagEstimate,
        seconds: f64,
    ) -> Result<SharpnessRecord> {
        check_finite("loss", step, loss)?;
        let mut entries = Vec::new();
        for measure in &self.config.measures {
            let value = measure.evaluate_diag(est).ok_or_else(|| {
                CurvatureError::invalid(
                    "measures",
                    format!("`{}` needs Hessian-vector products", measure.name()),
                )
            })??;
            entries.push(MeasureEntry {
                name: measure.name(),
                value: value.value,
                std_err: value.std_err,
                clipped: value.clipped,
            });
        }
        let record = SharpnessRecord {
            step,
            loss,
            estimator: est.method.name().to_string(),
            probes: est.probes,
            hvps: est.cost.matvecs,
            gradients: est.cost.gradients,
            seconds,
            hvp_rel_error: None,
            measures: entries,
        };
        self.emit(record)
    }

    fn measure<O: LinearOperator>(
        &mut self,
        measure: &Measure,
        diag: Option<&DiagEstimate>,
        op: &mut O,
        seed: u64,
    ) -> Result<MeasureValue> {
        if let Some(est) = diag
            && let Some(value) = measure.evaluate_diag(est)
        {
            return value;
        }
        let eigen = |e: crate::EigenEstimate| MeasureValue {
            value: e.value,
            std_err: None,
            clipped: 0,
        };
        match measure {
            Measure::TraceHutchpp { budget } => {
                // Probes independent of the diagonal estimate's.
                let t = hutchpp_trace(op, *budget, mix(seed, 1))?;
                Ok(MeasureValue {
                    value: t.value,
                    std_err: Some(t.std_err),
                    clipped: 0,
                })
            }
            Measure::TopEigenvalue => Ok(eigen(self.lanczos.run(op)?)),
            Measure::PreconditionedTopEigenvalue => {
                let s = self.preconditioner.as_ref().ok_or_else(|| {
                    CurvatureError::invalid(
                        "preconditioner",
                        "unset; call SharpnessMonitor::set_preconditioner before evaluating",
                    )
                })?;
                let mut pre = Preconditioned::new(op, s)?;
                Ok(eigen(self.lanczos_preconditioned.run(&mut pre)?))
            }
            _ => unreachable!("diagonal measures are computed from the estimate"),
        }
    }

    fn emit(&mut self, record: SharpnessRecord) -> Result<SharpnessRecord> {
        for m in &record.measures {
            check_finite(&m.name, record.step, m.value)?;
        }
        for sink in &mut self.sinks {
            sink.write(&record)?;
        }
        log::debug!(
            "sharpness at step {}: {}",
            record.step,
            record
                .measures
                .iter()
                .map(|m| format!("{} = {:.6e}", m.name, m.value))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(record)
    }
}

fn check_finite(name: &str, step: usize, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(CurvatureError::NonFiniteMeasure {
            measure: name.to_string(),
            step,
            value,
        })
    }
}

/// A per-step seed (SplitMix64 of `seed + step`), so evaluations use fresh but reproducible
/// probes.
fn mix(seed: u64, step: u64) -> u64 {
    let mut z = seed.wrapping_add(step.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
