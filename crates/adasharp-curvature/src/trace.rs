//! Randomized estimates of `tr(H)` with a budget counted in matrix-vector products.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::diag::cost_since;
use crate::linalg::{orthogonalize, orthonormal_basis};
use crate::{CurvatureError, LinearOperator, OperatorCost, ParamVec, Result};

/// How a [`TraceEstimate`] was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceMethod {
    /// Hutchinson's estimator.
    Hutchinson,
    /// Hutch++ (low-rank deflation plus Hutchinson on the rest).
    HutchPlusPlus,
}

/// An estimate of `tr(H)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TraceEstimate {
    /// The estimate.
    pub value: f64,
    /// Its standard error (from the spread of the random probes).
    pub std_err: f64,
    /// How it was obtained.
    pub method: TraceMethod,
    /// Random probes used (for Hutch++, those of its Hutchinson part).
    pub probes: usize,
    /// Products and gradients spent.
    pub cost: OperatorCost,
}

/// Hutchinson's estimate from `probes` products:
///
/// ```text
/// tr(H) ~ (1/K) sum_k z_k^T H z_k,   z_k Rademacher,   se = sd_k(z_k^T H z_k) / sqrt(K)
/// ```
///
/// Unbiased, with variance `2 (||H||_F^2 - sum_i H_ii^2) / K`.
pub fn hutchinson_trace<O: LinearOperator + ?Sized>(
    op: &mut O,
    probes: usize,
    seed: u64,
) -> Result<TraceEstimate> {
    if probes < 2 {
        return Err(CurvatureError::invalid(
            "probes",
            format!("{probes}; at least 2 probes are needed for a standard error"),
        ));
    }
    let start = op.cost();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let layout = op.layout().clone();
    let device = op.device();
    let mut samples = Vec::with_capacity(probes);
    for _ in 0..probes {
        let z = ParamVec::rademacher(&layout, &device, &mut rng);
        samples.push(z.dot(&op.apply(&z)?));
    }
    let (value, std_err) = mean_and_std_err(&samples);
    Ok(TraceEstimate {
        value,
        std_err,
        method: TraceMethod::Hutchinson,
        probes,
        cost: cost_since(op.cost(), start),
    })
}

/// Hutch++ (Meyer, Musco, Musco, Woodruff 2021) with `budget` products:
///
/// ```text
/// Q = orth(H S)                       S: n x k Rademacher,  k = budget / 3
/// tr(H) ~ tr(Q^T H Q) + (1/m) sum_j g_j^T (I - QQ^T) H (I - QQ^T) g_j,   m = budget - 2k
/// ```
///
/// The first term captures the top of the spectrum exactly, so for a matrix whose trace is
/// dominated by a few large eigenvalues the error is far below Hutchinson's at the same budget.
/// The standard error is that of the second (random) term. Needs `budget >= 6`.
pub fn hutchpp_trace<O: LinearOperator + ?Sized>(
    op: &mut O,
    budget: usize,
    seed: u64,
) -> Result<TraceEstimate> {
    if budget < 6 {
        return Err(CurvatureError::invalid(
            "budget",
            format!("{budget}; Hutch++ needs at least 6 products (2 probes per phase)"),
        ));
    }
    let start = op.cost();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let layout = op.layout().clone();
    let device = op.device();
    let k = budget / 3;
    let m = budget - 2 * k;

    let sketch = (0..k)
        .map(|_| {
            let s = ParamVec::rademacher(&layout, &device, &mut rng);
            op.apply(&s)
        })
        .collect::<Result<Vec<_>>>()?;
    let q = orthonormal_basis(sketch);
    let mut top = 0.0;
    for qi in &q {
        top += qi.dot(&op.apply(qi)?);
    }

    let mut samples = Vec::with_capacity(m);
    for _ in 0..m {
        let g = ParamVec::rademacher(&layout, &device, &mut rng);
        let g = orthogonalize(g, &q);
        samples.push(g.dot(&op.apply(&g)?));
    }
    let (rest, std_err) = mean_and_std_err(&samples);
    Ok(TraceEstimate {
        value: top + rest,
        std_err,
        method: TraceMethod::HutchPlusPlus,
        probes: m,
        cost: cost_since(op.cost(), start),
    })
}

/// Sample mean and its standard error `sd / sqrt(K)`.
pub(crate) fn mean_and_std_err(samples: &[f64]) -> (f64, f64) {
    let k = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / k;
    if samples.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = samples.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (mean, (var / k).sqrt())
}
