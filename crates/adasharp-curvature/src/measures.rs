//! The paper's sharpness measures, as functions of a diagonal estimate.
//!
//! Each is the implicit regularizer an optimizer minimizes near the minimizer manifold under
//! label noise (Li, Wen, Lyu 2025):
//!
//! | measure                | formula                                              | method     |
//! |------------------------|------------------------------------------------------|------------|
//! | [`trace`]              | `tr(H) = sum_i H_ii`                                 | SGD        |
//! | [`trace_sqrt_diag`]    | `tr(Diag(H)^(1/2)) = sum_i sqrt(H_ii)`               | Adam       |
//! | [`trace_diag_pow`]     | `tr(Diag(H)^(1-lambda)) = sum_i H_ii^(1-lambda)`     | AdamE      |
//! | [`block_sqrt_trace`]   | `sum_B sqrt(|B| tr(H_BB))`                           | Adam-mini  |
//! | [`adam_eps_trace`]     | `sum_i s_i - (eps/sigma) ln((sigma/eps) s_i + 1)`    | Adam, eps  |
//!
//! with `s_i = sqrt(H_ii)` in the last row.
//!
//! # Negative estimates
//!
//! A noisy estimate of a nonnegative `H_ii` (Hutchinson) can come out negative, and the true
//! `H_ii` is negative away from a minimum. Every measure that takes a root or a fractional power
//! clips such entries (or block traces) at 0 and reports how many it clipped in
//! [`MeasureValue::clipped`]. Note also that `sqrt` of an unbiased estimate is biased low
//! (Jensen), by about `var / (8 H_ii^(3/2))` per coordinate: use enough probes, or an exact
//! or Gauss-Newton diagonal, where a few coordinates dominate.
//!
//! Standard errors are jackknife errors over the estimate's probe groups
//! ([`DiagEstimate::jackknife`]), so they account for the nonlinearity and for correlations
//! between coordinates; exact estimates have none.

use std::sync::Arc;

use adasharp_optim::{BlockRule, PartitionReport};
use burn::tensor::{Device, Int, Tensor};

use crate::{CurvatureError, DiagEstimate, ParamLayout, Result};

/// A measure's value, its standard error and how many entries were clipped at 0.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeasureValue {
    /// The value.
    pub value: f64,
    /// Jackknife standard error (`None` for exact estimates).
    pub std_err: Option<f64>,
    /// Entries (coordinates or blocks) that were negative and clipped at 0.
    pub clipped: usize,
}

/// Evaluates `f` on the estimate and on each jackknife replicate.
fn evaluate(est: &DiagEstimate, f: impl Fn(&[f64]) -> (f64, usize)) -> Result<MeasureValue> {
    let (value, clipped) = f(&est.diag.to_flat());
    let g = est.jackknife.len();
    let std_err = (g >= 2).then(|| {
        let reps: Vec<f64> = est.jackknife.iter().map(|r| f(&r.to_flat()).0).collect();
        let mean = reps.iter().sum::<f64>() / g as f64;
        let ss: f64 = reps.iter().map(|r| (r - mean).powi(2)).sum();
        (ss * (g - 1) as f64 / g as f64).sqrt()
    });
    Ok(MeasureValue {
        value,
        std_err,
        clipped,
    })
}

/// `sum_i g(max(d_i, 0))`, counting the clipped entries.
fn clipped_sum(d: &[f64], g: impl Fn(f64) -> f64) -> (f64, usize) {
    let mut clipped = 0;
    let mut sum = 0.0;
    for &x in d {
        if x < 0.0 {
            clipped += 1;
        } else {
            sum += g(x);
        }
    }
    (sum, clipped)
}

/// `tr(H) = sum_i H_ii` (SGD's regularizer). Nothing is clipped.
pub fn trace(est: &DiagEstimate) -> Result<MeasureValue> {
    evaluate(est, |d| (d.iter().sum(), 0))
}

/// `tr(Diag(H)^(1/2)) = sum_i sqrt(H_ii)` (Adam's and RMSProp's regularizer).
pub fn trace_sqrt_diag(est: &DiagEstimate) -> Result<MeasureValue> {
    evaluate(est, |d| clipped_sum(d, f64::sqrt))
}

/// `tr(Diag(H)^(1-lambda)) = sum_i H_ii^(1-lambda)` (AdamE-lambda's regularizer), for
/// `lambda` in `[0, 1)`. `lambda = 0` is `tr(H)` (with negative entries clipped), `lambda = 1/2`
/// is [`trace_sqrt_diag`].
pub fn trace_diag_pow(est: &DiagEstimate, lambda: f64) -> Result<MeasureValue> {
    if !(0.0..1.0).contains(&lambda) {
        return Err(CurvatureError::invalid(
            "lambda",
            format!("{lambda}; AdamE's exponent lies in [0, 1)"),
        ));
    }
    let p = 1.0 - lambda;
    evaluate(est, |d| clipped_sum(d, |x| x.powf(p)))
}

/// `sum_i (s_i - (eps/sigma) ln((sigma/eps) s_i + 1))` with `s_i = sqrt(H_ii)`: Adam's
/// regularizer with damping `eps > 0` under label noise of standard deviation `sigma > 0`.
///
/// It tends to [`trace_sqrt_diag`] as `eps / sigma -> 0` and behaves like
/// `(sigma / 2 eps) tr(H)` (SGD's) when `sigma s_i << eps`.
pub fn adam_eps_trace(est: &DiagEstimate, epsilon: f64, sigma: f64) -> Result<MeasureValue> {
    if !(epsilon.is_finite() && epsilon > 0.0 && sigma.is_finite() && sigma > 0.0) {
        return Err(CurvatureError::invalid(
            "epsilon, sigma",
            format!("eps = {epsilon}, sigma = {sigma}; both must be finite and > 0"),
        ));
    }
    let ratio = epsilon / sigma;
    evaluate(est, |d| {
        clipped_sum(d, |x| {
            let s = x.sqrt();
            s - ratio * (s / ratio).ln_1p()
        })
    })
}

/// `sum_B sqrt(|B| tr(H_BB))` over the blocks of `partition` (Adam-mini's and Adalayer's
/// regularizer), with exactly the blocks the optimizer keeps one `v` for.
///
/// Blocks whose trace estimate is negative are clipped at 0 and counted. Fails if a parameter
/// of the estimate is missing from the partition.
pub fn block_sqrt_trace(est: &DiagEstimate, partition: &PartitionReport) -> Result<MeasureValue> {
    let blocks = BlockMap::new(est.diag.layout(), partition, &est.diag.device())?;
    evaluate(est, |d| blocks.sqrt_trace(d))
}

/// Which block each coordinate of a layout belongs to under an optimizer's partition.
#[derive(Debug, Clone)]
pub struct BlockMap {
    /// Global block index of each coordinate.
    pub block_of: Vec<usize>,
    /// Size `|B|` of each block.
    pub sizes: Vec<usize>,
}

impl BlockMap {
    /// The blocks of `partition` on `layout`, matched by parameter id.
    ///
    /// Each coordinate's block comes from the block rule's own `broadcast`, so the blocks are
    /// the optimizer's by construction.
    pub fn new(
        layout: &Arc<ParamLayout>,
        partition: &PartitionReport,
        device: &Device,
    ) -> Result<Self> {
        let device = device.clone().inner();
        let mut block_of = Vec::with_capacity(layout.numel());
        let mut sizes = Vec::new();
        for slot in layout.slots() {
            let entry = partition
                .entries
                .iter()
                .find(|e| e.param.id == slot.id)
                .ok_or_else(|| {
                    CurvatureError::LayoutMismatch(format!(
                        "parameter `{}` is not in the {} partition",
                        slot.path, partition.optimizer
                    ))
                })?;
            let labels = block_labels_of(entry.rule, &slot.dims, &device);
            let first = sizes.len();
            let count = entry.rule.num_blocks(&slot.dims);
            sizes.extend(std::iter::repeat_n(0, count));
            for label in labels {
                block_of.push(first + label);
                sizes[first + label] += 1;
            }
        }
        Ok(Self { block_of, sizes })
    }

    /// Block traces `tr(H_BB) = sum_{i in B} H_ii`.
    pub fn block_traces(&self, d: &[f64]) -> Vec<f64> {
        let mut traces = vec![0.0; self.sizes.len()];
        for (i, &b) in self.block_of.iter().enumerate() {
            traces[b] += d[i];
        }
        traces
    }

    /// `sum_B sqrt(|B| max(tr(H_BB), 0))` and the number of clipped blocks.
    pub fn sqrt_trace(&self, d: &[f64]) -> (f64, usize) {
        let traces = self.block_traces(d);
        let mut clipped = 0;
        let mut sum = 0.0;
        for (t, &size) in traces.iter().zip(&self.sizes) {
            if *t < 0.0 {
                clipped += 1;
            } else {
                sum += (size as f64 * t).sqrt();
            }
        }
        (sum, clipped)
    }
}

/// The block label (`0..num_blocks`) of each coordinate of a tensor of `dims`, row-major; the
/// label is the row-major index of the block's value in the rule's reduced shape.
pub(crate) fn block_labels_of(rule: BlockRule, dims: &[usize], device: &Device) -> Vec<usize> {
    macro_rules! ranked {
        ($($d:literal),*) => {
            match dims.len() {
                $($d => labels_ranked::<$d>(rule, dims.try_into().expect("rank"), device),)*
                _ => panic!("parameters of rank {} are not supported", dims.len()),
            }
        };
    }
    ranked!(1, 2, 3, 4, 5, 6)
}

fn labels_ranked<const D: usize>(rule: BlockRule, dims: [usize; D], device: &Device) -> Vec<usize> {
    let reduced = rule.reduced_dims(dims);
    let count: usize = reduced.iter().product();
    let ids = Tensor::<1, Int>::arange(0..count as i64, device)
        .float()
        .reshape(reduced);
    let full: Tensor<D> = rule.broadcast(ids, dims);
    let numel = dims.iter().product::<usize>();
    crate::param_vec::read_f64(full.reshape([numel]))
        .into_iter()
        .map(|x| x.round() as usize)
        .collect()
}
