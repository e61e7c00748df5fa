//! The paper's two-parameter toy: a noisy ellipse of minimizers.
//!
//! `L(x, y) = 1/2 (q(x, y) - 1 - delta)^2` with
//! `q = (x + y)^2 / (2 a^2) + (y - x)^2 / (2 b^2)` and label noise `delta = +-0.5`. The zero-loss
//! set `q = 1` is an ellipse with semi-axis `a` along `(1, 1)` and `b` along `(-1, 1)`. On it
//! `H = grad q grad q^T`, so `tr(H) = |grad q|^2` is smallest at the tips of the longer axis
//! (where SGD drifts) while `tr(Diag(H)^(1/2)) = |q_x| + |q_y|` favours points nearer a
//! coordinate axis (where Adam drifts).

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use super::LabModel;
use crate::Truth;
use crate::data::{to_f64, vector};
use crate::measure::ParamDiag;

/// The ellipse toy; its one parameter tensor is `theta = [x, y]`.
#[derive(Module, Debug)]
pub struct NoisyEllipse {
    /// `[x, y]`.
    pub theta: Param<Tensor<1>>,
    /// Semi-axis along `(1, 1)`.
    pub a: f64,
    /// Semi-axis along `(-1, 1)`.
    pub b: f64,
}

impl NoisyEllipse {
    /// Starts at `(x0, y0)`.
    pub fn new(a: f64, b: f64, x0: f64, y0: f64, device: &Device) -> Self {
        Self {
            theta: Param::from_tensor(vector(&[x0, y0], device)),
            a,
            b,
        }
    }

    fn point(&self) -> (f64, f64) {
        let t = to_f64(self.theta.val());
        (t[0], t[1])
    }

    /// `q(x, y)` and its gradient `(q_x, q_y)`.
    pub fn q_and_grad(&self, x: f64, y: f64) -> (f64, f64, f64) {
        let (a2, b2) = (self.a * self.a, self.b * self.b);
        let q = (x + y).powi(2) / (2.0 * a2) + (y - x).powi(2) / (2.0 * b2);
        let qx = (x + y) / a2 - (y - x) / b2;
        let qy = (x + y) / a2 + (y - x) / b2;
        (q, qx, qy)
    }
}

impl LabModel for NoisyEllipse {
    /// The input is a column of ones (one per "example"); the output is `q(x, y)` per row.
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let t = self.theta.val();
        let px = t.clone().narrow(0, 0, 1);
        let py = t.narrow(0, 1, 1);
        let (a2, b2) = (self.a * self.a, self.b * self.b);
        let s = (px.clone() + py.clone()).square().div_scalar(2.0 * a2);
        let d = (py - px).square().div_scalar(2.0 * b2);
        x.mul((s + d).unsqueeze_dim::<2>(0))
    }

    /// `x`, `y`, and `axis_angle`: the angle in degrees between `(x, y)` and the nearest
    /// coordinate axis (45 at the tips of the `(1, 1)` axis, 0 on a coordinate axis).
    fn extras(&self, _truth: &Truth) -> Vec<(&'static str, f64)> {
        let (x, y) = self.point();
        let angle = y.abs().atan2(x.abs()).to_degrees();
        vec![("x", x), ("y", y), ("axis_angle", angle.min(90.0 - angle))]
    }

    /// For the one target 1: `H = grad q grad q^T + (q - 1) Hess q` with
    /// `Hess q = [[1/a^2 + 1/b^2, 1/a^2 - 1/b^2], [., 1/a^2 + 1/b^2]]`; the Gauss-Newton part is
    /// `grad q grad q^T`, whose diagonal is `(q_x^2, q_y^2)`.
    fn closed_form_diag(&self, _x: &Tensor<2>, y: &Tensor<1>) -> Option<Vec<ParamDiag>> {
        let target = to_f64(y.clone()).first().copied().unwrap_or(1.0);
        let (x, yy) = self.point();
        let (q, qx, qy) = self.q_and_grad(x, yy);
        let curv = 1.0 / (self.a * self.a) + 1.0 / (self.b * self.b);
        let ggn = vec![qx * qx, qy * qy];
        let raw = ggn.iter().map(|g| g + (q - target) * curv).collect();
        Some(vec![ParamDiag {
            path: "theta".into(),
            dims: vec![2],
            raw,
            ggn: Some(ggn),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tip_of_the_long_axis_is_on_the_ellipse_with_known_gradient() {
        let device = Device::flex();
        // a = 2, b = 1: the tip (sqrt 2, sqrt 2) has x + y = 2 sqrt 2, so q = 8 / 8 = 1;
        // q_x = q_y = 2 sqrt 2 / 4 = 1/sqrt 2, tr(H) = 1, tr(Diag(H)^(1/2)) = sqrt 2.
        let r = 2f64.sqrt();
        let model = NoisyEllipse::new(2.0, 1.0, r, r, &device);
        let (q, qx, qy) = model.q_and_grad(r, r);
        assert!((q - 1.0).abs() < 1e-12);
        assert!((qx - 1.0 / r).abs() < 1e-12 && (qy - 1.0 / r).abs() < 1e-12);
        let out = to_f64(model.forward(crate::data::matrix(&[1.0], 1, 1, &device)));
        assert!((out[0] - 1.0).abs() < 1e-6);
        let diag = model.closed_form_diag(&Tensor::ones([1, 1], &device), &vector(&[1.0], &device));
        let diag = diag.unwrap();
        assert!((diag[0].raw[0] - 0.5).abs() < 1e-6 && (diag[0].raw[1] - 0.5).abs() < 1e-6);
        let extras = model.extras(&Truth::None);
        assert!((extras[2].1 - 45.0).abs() < 1e-9);
    }
}
