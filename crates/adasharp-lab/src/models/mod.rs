//! The models of the paper's experiments as Burn modules, behind one small trait.
//!
//! Every model maps a batch of inputs `[b, features]` to outputs `[b, outputs]`; the runner
//! adds the loss (squared or cross-entropy). Models whose curvature is known in closed form
//! (the diagonal linear network, the ellipse toy) say so through
//! [`LabModel::closed_form_diag`], which the runner prefers to estimating it.

mod dln;
mod dmf;
mod ellipse;
mod mlp;

pub use dln::{Dln, DlnGradient};
pub use dmf::DeepMatrixFactorization;
pub use ellipse::NoisyEllipse;
pub use mlp::Mlp;

use burn::module::Module;
use burn::tensor::Tensor;

use crate::Truth;
use crate::measure::ParamDiag;

/// A model the experiment runner can train with label noise.
pub trait LabModel: Module + 'static {
    /// Outputs `[b, outputs]` for inputs `[b, features]`.
    fn forward(&self, x: Tensor<2>) -> Tensor<2>;

    /// Model-specific quantities for the metrics (sparsity, distance to the ground truth, ...),
    /// as `(column name, value)` pairs in a fixed order.
    fn extras(&self, _truth: &Truth) -> Vec<(&'static str, f64)> {
        Vec::new()
    }

    /// The exact Hessian diagonal (and its Gauss-Newton part) of the noise-free squared loss
    /// `1/(2n) ||f(X) - y||^2` in closed form, per parameter, if this model has one; `None`
    /// makes the runner estimate it.
    fn closed_form_diag(&self, _x: &Tensor<2>, _y: &Tensor<1>) -> Option<Vec<ParamDiag>> {
        None
    }
}
