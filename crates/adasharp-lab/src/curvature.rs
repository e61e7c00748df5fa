//! Curvature of models without a closed form, through `adasharp-curvature`'s
//! [`SharpnessMonitor`].
//!
//! The raw measures come from the monitor's diagonal estimate of the Hessian of the
//! noise-free full-batch loss (exact, one Hessian-vector product per parameter, up to
//! `exact_limit` parameters; Hutchinson beyond). For squared loss the Gauss-Newton
//! counterpart comes from the exact Gauss-Newton diagonal (one gradient per training example).
//! The monitors' own records are appended to `curvature.jsonl` and `curvature_ggn.jsonl` in
//! the run directory.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use adasharp_curvature::{
    DiagEstimator, JsonlSink, Measure, MonitorConfig, SharpnessMonitor, SharpnessRecord,
    gauss_newton_diag,
};
use adasharp_optim::PartitionReport;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLoss;
use burn::tensor::Tensor;

use crate::config::{CurvatureConfig, CurvatureMethod};
use crate::data::DeviceData;
use crate::models::LabModel;
use crate::runner::squared_loss;
use crate::{LabError, Result, Sharpness};

/// The two monitors of a run (raw Hessian, Gauss-Newton), created at the first evaluation.
pub struct CurvatureTracker {
    raw: SharpnessMonitor,
    ggn: Option<SharpnessMonitor>,
    estimator: String,
}

fn measures(lambda: Option<f64>, partition: Option<&PartitionReport>) -> Vec<Measure> {
    let mut m = vec![Measure::Trace, Measure::TraceSqrtDiag];
    if let Some(lambda) = lambda {
        m.push(Measure::TraceDiagPow { lambda });
    }
    if let Some(p) = partition {
        m.push(Measure::BlockSqrtTrace(Arc::new(p.clone())));
    }
    m
}

fn curvature_error(e: adasharp_curvature::CurvatureError) -> LabError {
    LabError::Curvature(e.to_string())
}

impl CurvatureTracker {
    /// Monitors for a model of `num_params` parameters, writing into `dir`.
    pub fn new(
        config: &CurvatureConfig,
        num_params: usize,
        squared: bool,
        lambda: Option<f64>,
        partition: Option<&PartitionReport>,
        seed: u64,
        dir: &Path,
    ) -> Result<Self> {
        let diag = match config.method {
            CurvatureMethod::Exact => DiagEstimator::Exact {
                limit: num_params.max(1),
            },
            CurvatureMethod::Auto if num_params <= config.exact_limit => DiagEstimator::Exact {
                limit: config.exact_limit,
            },
            _ => DiagEstimator::Hutchinson {
                probes: config.probes,
            },
        };
        let estimator = match diag {
            DiagEstimator::Exact { .. } => "exact diagonal (HVP)".to_string(),
            DiagEstimator::Hutchinson { probes } => format!("Hutchinson ({probes} probes)"),
        };
        let base = MonitorConfig::new(measures(lambda, partition))
            .with_every(1)
            .with_diag(diag)
            .with_seed(seed);
        let sink = |name: &str| JsonlSink::create(dir.join(name)).map_err(curvature_error);
        let raw = SharpnessMonitor::new(base.clone())
            .map_err(curvature_error)?
            .with_sink(sink("curvature.jsonl")?);
        let ggn = if squared {
            Some(
                SharpnessMonitor::new(base)
                    .map_err(curvature_error)?
                    .with_sink(sink("curvature_ggn.jsonl")?),
            )
        } else {
            None
        };
        Ok(Self {
            raw,
            ggn,
            estimator,
        })
    }

    /// The measures at `model` (on an autodiff device) for the noise-free training loss.
    pub fn evaluate<M: LabModel>(
        &mut self,
        step: usize,
        model: &M,
        data: &DeviceData,
    ) -> Result<Sharpness> {
        let (x, y) = (data.x_train.clone(), data.y_train.clone());
        let labels = data.labels.clone();
        let loss = move |m: &M| -> Tensor<1> {
            let out = m.forward(x.clone());
            match &labels {
                Some((train, _)) => {
                    CrossEntropyLoss::new(None, &out.device()).forward(out, train.clone())
                }
                None => squared_loss(out, y.clone()),
            }
        };
        let raw = self
            .raw
            .evaluate(step, model, loss)
            .map_err(curvature_error)?;
        let mut sharpness = from_record(&raw, self.estimator.clone());
        if let Some(monitor) = &mut self.ggn {
            let started = Instant::now();
            let n = data.y_train.dims()[0];
            let (x, y) = (data.x_train.clone(), data.y_train.clone());
            let residual = move |m: &M, i: usize| -> Tensor<1> {
                let out = m.forward(x.clone().narrow(0, i, 1)).reshape([1]);
                out - y.clone().narrow(0, i, 1)
            };
            let est = gauss_newton_diag(model, n, 1.0 / (2.0 * n as f64), residual)
                .map_err(curvature_error)?;
            let seconds = started.elapsed().as_secs_f64();
            let ggn = monitor
                .record_from_diag(step, raw.loss, &est, seconds)
                .map_err(curvature_error)?;
            let g = from_record(&ggn, String::new());
            sharpness.ggn_trace = Some(g.trace);
            sharpness.ggn_trace_sqrt_diag = Some(g.trace_sqrt_diag);
            sharpness.ggn_trace_diag_pow = g.trace_diag_pow;
            sharpness.ggn_block_sqrt_trace = g.block_sqrt_trace;
        }
        Ok(sharpness)
    }
}

fn from_record(record: &SharpnessRecord, method: String) -> Sharpness {
    let get = |prefix: &str| {
        record
            .measures
            .iter()
            .find(|m| m.name == prefix || m.name.starts_with(&format!("{prefix}(")))
    };
    Sharpness {
        method,
        trace: get("trace").map_or(f64::NAN, |m| m.value),
        trace_sqrt_diag: get("trace_sqrt_diag").map_or(f64::NAN, |m| m.value),
        clipped: get("trace_sqrt_diag").map_or(0, |m| m.clipped),
        trace_diag_pow: get("trace_diag_pow").map(|m| m.value),
        block_sqrt_trace: get("block_sqrt_trace").map(|m| m.value),
        ..Sharpness::default()
    }
}

/// Number of float parameters of a module.
pub fn num_params<M: Module>(model: &M) -> usize {
    model.num_params()
}
