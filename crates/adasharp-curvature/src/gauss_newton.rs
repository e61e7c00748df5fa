//! The Gauss-Newton diagonal of a squared loss, from per-sample gradients.
//!
//! For `L(theta) = c * sum_i r_i(theta)^2` the Hessian splits into
//!
//! ```text
//! H = 2c sum_i grad r_i grad r_i^T  +  2c sum_i r_i Hess r_i
//!     `------ Gauss-Newton G ------'   `--- residual term ---'
//! ```
//!
//! so `diag(G)_j = 2c sum_i (d r_i / d theta_j)^2`. On the zero-loss manifold every `r_i = 0`
//! and `G = H`: this is the paper's curvature there, computed exactly and without finite
//! differences. Away from it `G` omits the residual term (and, unlike `H`, is never
//! negative). Cost: one gradient per sample.

use burn::module::Module;
use burn::tensor::Tensor;

use crate::diag::{DiagEstimate, DiagMethod};
use crate::hvp::{gradient_at, parameters};
use crate::{CurvatureError, OperatorCost, ParamLayout, ParamVec, Result};

/// `diag(G) = 2c sum_i (grad r_i)^2` for the loss `c * sum_{i < n_samples} r_i^2`.
///
/// `residual(module, i)` returns the residual `r_i` of sample `i` as a one-element tensor,
/// computed from `module` (a copy of `module` whose parameters are autodiff leaves, as for
/// [`Hvp`](crate::Hvp); the same determinism contract applies). For the mean squared error
/// `1/(2n) sum_i (f(x_i) - y_i)^2` take `r_i = f(x_i) - y_i` and `scale = 1 / (2n)`.
///
/// Limitation: a sample with several outputs (a vector residual) must be passed as several
/// samples, one per output, since each needs its own backward pass.
pub fn gauss_newton_diag<M, R>(
    module: &M,
    n_samples: usize,
    scale: f64,
    residual: R,
) -> Result<DiagEstimate>
where
    M: Module,
    R: Fn(&M, usize) -> Tensor<1>,
{
    if n_samples == 0 {
        return Err(CurvatureError::invalid(
            "n_samples",
            "0; at least one sample",
        ));
    }
    if !(scale.is_finite() && scale > 0.0) {
        return Err(CurvatureError::invalid(
            "scale",
            format!("{scale}; the loss scale c must be finite and positive"),
        ));
    }
    let layout = ParamLayout::from_module(module);
    if layout.numel() == 0 {
        return Err(CurvatureError::NoParameters);
    }
    let theta = parameters(module, &layout)?;
    let mut acc = GaussNewtonAccumulator::new(&layout, &theta.device());
    for i in 0..n_samples {
        let (_, grad) = gradient_at(module, &theta, None, |m: &M| residual(m, i))?;
        acc.add_sample_gradient(&grad)?;
    }
    Ok(acc.finish(scale))
}

/// Sums squared per-sample gradients, for callers that already have them (from a custom
/// per-sample pass, or batched by structure): `diag(G) = 2c sum_i (grad r_i)^2`.
#[derive(Debug, Clone)]
pub struct GaussNewtonAccumulator {
    sum_sq: ParamVec,
    samples: usize,
}

impl GaussNewtonAccumulator {
    /// An empty sum on `layout`.
    pub fn new(layout: &std::sync::Arc<ParamLayout>, device: &burn::tensor::Device) -> Self {
        Self {
            sum_sq: ParamVec::zeros(layout, device),
            samples: 0,
        }
    }

    /// Adds the gradient of one residual `r_i`.
    pub fn add_sample_gradient(&mut self, grad: &ParamVec) -> Result<()> {
        crate::operator::check_layout(self.sum_sq.layout(), grad)?;
        self.sum_sq = self.sum_sq.add(&grad.mul(grad));
        self.samples += 1;
        Ok(())
    }

    /// The estimate for the loss `scale * sum_i r_i^2`.
    pub fn finish(self, scale: f64) -> DiagEstimate {
        DiagEstimate {
            diag: self.sum_sq.scale(2.0 * scale),
            std_err: None,
            jackknife: Vec::new(),
            method: DiagMethod::GaussNewton,
            probes: self.samples,
            cost: OperatorCost {
                matvecs: 0,
                gradients: self.samples,
            },
        }
    }
}
