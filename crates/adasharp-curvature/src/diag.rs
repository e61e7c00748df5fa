//! Estimates of the Hessian diagonal `diag(H)` from matrix-vector products.
//!
//! - [`exact_diag`]: `H_ii = e_i^T H e_i`, one product per coordinate.
//! - [`hutchinson_diag`]: `diag(H) = E[z * (H z)]` for Rademacher `z` (Bekas, Kokiopoulou,
//!   Saad 2007), with a standard error per coordinate.
//!
//! The Gauss-Newton diagonal, which needs per-sample gradients rather than products, lives in
//! [`gauss_newton`](crate::gauss_newton).

use burn::tensor::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::{CurvatureError, LinearOperator, OperatorCost, ParamVec, Result};

/// Default limit on the number of parameters [`exact_diag`] accepts.
pub const DEFAULT_EXACT_DIAG_LIMIT: usize = 10_000;

/// Number of probe groups kept for jackknife standard errors of nonlinear measures.
pub const JACKKNIFE_GROUPS: usize = 10;

/// How a [`DiagEstimate`] was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagMethod {
    /// One product per coordinate; exact up to the products' own error.
    Exact,
    /// Hutchinson's estimator with Rademacher probes.
    Hutchinson,
    /// The Gauss-Newton diagonal from per-sample gradients (exact for what it computes).
    GaussNewton,
}

impl DiagMethod {
    /// `exact`, `hutchinson` or `gauss_newton`.
    pub fn name(&self) -> &'static str {
        match self {
            DiagMethod::Exact => "exact",
            DiagMethod::Hutchinson => "hutchinson",
            DiagMethod::GaussNewton => "gauss_newton",
        }
    }
}

/// An estimate of `diag(H)`, with what it cost and how uncertain it is.
#[derive(Debug, Clone)]
pub struct DiagEstimate {
    /// The estimate of `H_ii` for every coordinate.
    pub diag: ParamVec,
    /// Standard error of each coordinate (`None` for exact methods).
    pub std_err: Option<ParamVec>,
    /// Leave-one-group-out estimates (jackknife replicates) from which measures that are
    /// nonlinear in the diagonal get their standard errors; empty for exact methods.
    pub jackknife: Vec<ParamVec>,
    /// How the estimate was obtained.
    pub method: DiagMethod,
    /// Probes (Hutchinson), coordinates (exact) or samples (Gauss-Newton) used.
    pub probes: usize,
    /// Products and gradients spent.
    pub cost: OperatorCost,
}

/// `diag(H)` exactly: `H_ii = (H e_i)_i`, one product per coordinate, taken `batch` columns at a
/// time (`batch` bounds how many products are pending before their entries are gathered).
///
/// Refuses operators of more than `limit` coordinates with [`CurvatureError::TooLarge`]; pass
/// [`DEFAULT_EXACT_DIAG_LIMIT`] or a deliberate larger number.
pub fn exact_diag<O: LinearOperator + ?Sized>(
    op: &mut O,
    limit: usize,
    batch: usize,
) -> Result<DiagEstimate> {
    let layout = op.layout().clone();
    let n = layout.numel();
    if n > limit {
        return Err(CurvatureError::TooLarge { numel: n, limit });
    }
    let device = op.device();
    let start = op.cost();
    let batch = batch.max(1);
    let mut entries: Vec<Vec<Tensor<1>>> = vec![Vec::new(); layout.len()];
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        let basis = (i..end)
            .map(|j| ParamVec::basis(&layout, &device, j))
            .collect::<Result<Vec<_>>>()?;
        let columns = op.apply_batch(&basis)?;
        for (j, column) in (i..end).zip(columns) {
            let (slot, local) = layout.locate(j).expect("j < numel");
            entries[slot].push(column.parts()[slot].clone().slice(local..local + 1));
        }
        i = end;
    }
    let parts = entries.into_iter().map(|e| Tensor::cat(e, 0)).collect();
    let diag = ParamVec::from_parts(layout, parts)?;
    Ok(DiagEstimate {
        diag,
        std_err: None,
        jackknife: Vec::new(),
        method: DiagMethod::Exact,
        probes: n,
        cost: cost_since(op.cost(), start),
    })
}

/// Hutchinson's estimate of `diag(H)` from `probes` products:
///
/// ```text
/// d = (1/K) sum_k z_k * (H z_k),   z_k Rademacher,   se_i = sd_k(z_ki (H z_k)_i) / sqrt(K)
/// ```
///
/// Unbiased; the variance of coordinate `i` is `sum_{j != i} H_ij^2` per probe, so a diagonal
/// matrix is recovered exactly. The probes are split into up to [`JACKKNIFE_GROUPS`] groups
/// whose leave-one-out means are kept for the standard errors of nonlinear measures. Same
/// `seed`, same probes.
pub fn hutchinson_diag<O: LinearOperator + ?Sized>(
    op: &mut O,
    probes: usize,
    seed: u64,
) -> Result<DiagEstimate> {
    if probes < 2 {
        return Err(CurvatureError::invalid(
            "probes",
            format!("{probes}; at least 2 probes are needed for a standard error"),
        ));
    }
    let layout = op.layout().clone();
    let device = op.device();
    let start = op.cost();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let groups = probes.min(JACKKNIFE_GROUPS);

    let mut group_sums: Vec<ParamVec> = Vec::with_capacity(groups);
    let mut sum_sq = ParamVec::zeros(&layout, &device);
    for k in 0..probes {
        let z = ParamVec::rademacher(&layout, &device, &mut rng);
        let sample = z.mul(&op.apply(&z)?);
        sum_sq = sum_sq.add(&sample.mul(&sample));
        let g = k * groups / probes;
        if g == group_sums.len() {
            group_sums.push(sample);
        } else {
            group_sums[g] = group_sums[g].add(&sample);
        }
    }

    let total = group_sums
        .iter()
        .skip(1)
        .fold(group_sums[0].clone(), |acc, s| acc.add(s));
    let k = probes as f64;
    let diag = total.scale(1.0 / k);
    // Sample variance per coordinate: (sum p^2 - K mean^2) / (K - 1), clipped at 0 against
    // rounding.
    let var = sum_sq
        .axpy(-k, &diag.mul(&diag))
        .scale(1.0 / (k - 1.0))
        .map(|t| t.clamp_min(0.0));
    let std_err = var.scale(1.0 / k).map(|t| t.sqrt());
    let jackknife = group_sums
        .iter()
        .enumerate()
        .map(|(g, s)| {
            let size = group_size(g, groups, probes) as f64;
            total.sub(s).scale(1.0 / (k - size))
        })
        .collect();

    Ok(DiagEstimate {
        diag,
        std_err: Some(std_err),
        jackknife,
        method: DiagMethod::Hutchinson,
        probes,
        cost: cost_since(op.cost(), start),
    })
}

/// Number of probes `k` with `k * groups / probes == g`.
fn group_size(g: usize, groups: usize, probes: usize) -> usize {
    (0..probes).filter(|k| k * groups / probes == g).count()
}

pub(crate) fn cost_since(now: OperatorCost, start: OperatorCost) -> OperatorCost {
    OperatorCost {
        matvecs: now.matvecs - start.matvecs,
        gradients: now.gradients - start.gradients,
    }
}
