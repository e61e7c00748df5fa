//! Grafting: Shampoo's direction with the step length of a diagonal method.
//!
//! ```text
//! a = diagonal method's step            (Adam or AdaGrad, below)
//! u = ||a||_F * D / ||D||_F             D = Shampoo's direction for the whole tensor
//! ```
//!
//! The diagonal method also steps on its own where Shampoo has no direction: rank-0 and
//! rank-1 parameters, steps before `start_preconditioning_step`, and steps before every block's
//! first successful inverse root.

use burn::tensor::{DType, Tensor};
use serde::{Deserialize, Serialize};

/// The diagonal method whose per-tensor step norm Shampoo's direction takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Grafting {
    /// Adam: `v <- b v + (1 - b) g^2` with `b = graft_beta_2`, step `m_hat / (sqrt(v_hat) + eps)`.
    #[default]
    Adam,
    /// AdaGrad: `v <- v + g^2`, step `m_hat / (sqrt(v) + eps)`.
    AdaGrad,
    /// No grafting: the step is Shampoo's direction itself, as analysed in the paper. Where
    /// Shampoo has no direction (see the module docs) the step is Adam's.
    None,
}

/// The diagonal method's state update and step; `time` counts steps from 1.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Diagonal {
    pub grafting: Grafting,
    pub beta_2: f64,
    pub epsilon: f64,
    pub bias_correction: bool,
}

impl Diagonal {
    /// The second moment after seeing `grad`, saturating at the dtype's largest finite value
    /// where `g^2` overflows (so such an entry's step is tiny rather than `m / sqrt(inf) = 0`
    /// forever or a dropped update that leaves `v` far too small).
    pub fn second_moment<const D: usize>(&self, grad: Tensor<D>, prev: Tensor<D>) -> Tensor<D> {
        let largest = largest_finite(grad.dtype());
        let square = grad.square();
        let v = match self.grafting {
            Grafting::AdaGrad => prev + square,
            _ => prev.mul_scalar(self.beta_2) + square.mul_scalar(1.0 - self.beta_2),
        };
        v.clamp_max(largest)
    }

    /// The step `m_hat / (sqrt(v_hat) + eps)`; `v_hat` is bias-corrected only for Adam.
    pub fn step<const D: usize>(&self, m_hat: Tensor<D>, v: Tensor<D>, time: usize) -> Tensor<D> {
        let v_hat = if self.grafting != Grafting::AdaGrad && self.bias_correction {
            v.div_scalar(1.0 - self.beta_2.powi(time as i32))
        } else {
            v
        };
        m_hat / v_hat.sqrt().add_scalar(self.epsilon)
    }
}

/// `||t||_F` as a one-element tensor, computed as `s ||t / s||_F` with `s = max |t_i|` so that
/// squaring large entries cannot overflow.
pub(crate) fn frobenius_norm<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    let scale = t.clone().abs().max().clamp_min(f32::MIN_POSITIVE);
    let unit = t / scale.clone().reshape([1; D]);
    unit.square().sum().sqrt() * scale
}

/// `direction` rescaled to the Frobenius norm of `step`: `||step|| * direction / ||direction||`.
///
/// A zero direction stays zero. The direction is normalised by its largest entry first, so
/// neither a tiny nor a huge direction overflows.
pub(crate) fn graft<const D: usize>(direction: Tensor<D>, step: Tensor<D>) -> Tensor<D> {
    let scale = direction.clone().abs().max().clamp_min(f32::MIN_POSITIVE);
    let unit = direction / scale.reshape([1; D]);
    // ||unit|| >= 1 unless the direction is zero, where the clamp keeps the result zero.
    let unit_norm = unit.clone().square().sum().sqrt().clamp_min(1.0);
    let factor = frobenius_norm(step) / unit_norm;
    unit * factor.reshape([1; D])
}

/// The largest finite value of a float dtype; f32's for any other.
fn largest_finite(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => f64::MAX,
        DType::F16 => 65504.0,
        DType::BF16 => 3.389_531_4e38,
        _ => f64::from(f32::MAX),
    }
}
