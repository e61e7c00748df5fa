//! The diagonal linear network `w = u * u - v * v` (elementwise), a linear model in `w`.

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

use super::LabModel;
use crate::Truth;
use crate::data::to_f64;
use crate::measure::ParamDiag;

/// Diagonal linear network: prediction `<z, w>` with `w = u*u - v*v`.
///
/// With inputs `z in {+1,-1}^d` and squared loss, `diag(H) = 4 theta^2` on the zero-loss
/// manifold, so `tr(H) = 4 sum(u^2 + v^2)` tracks `||w||_1` and `tr(Diag(H)^(1/2)) =
/// 2 sum(|u| + |v|)` tracks `||w||_(1/2)`.
#[derive(Module, Debug)]
pub struct Dln {
    /// The positive part's square root, `[d]`.
    pub u: Param<Tensor<1>>,
    /// The negative part's square root, `[d]`.
    pub v: Param<Tensor<1>>,
}

impl Dln {
    /// `u = v = init` in every coordinate, so `w = 0`.
    pub fn new(d: usize, init: f64, device: &Device) -> Self {
        Self {
            u: Param::from_tensor(Tensor::full([d], init, device)),
            v: Param::from_tensor(Tensor::full([d], init, device)),
        }
    }

    /// The effective weights `w = u*u - v*v`.
    pub fn weights(&self) -> Tensor<1> {
        let (u, v) = (self.u.val(), self.v.val());
        u.clone() * u - v.clone() * v
    }

    /// The closed-form gradient of `1/(2b) ||Z w - y||^2` for a batch `z: [b, d]`, `y: [b]`.
    ///
    /// With `r = Z w - y` and `g_w = Z^T r / b`: `dL/du = 2 u g_w`, `dL/dv = -2 v g_w`. Two
    /// matrix-vector products and no autodiff graph: the fast path of the runner.
    ///
    /// The computation uses the parameters without autodiff (`z` and `y` must be on the plain
    /// device), so a model kept on an autodiff device for its optimizer builds no graph here.
    pub fn gradient(&self, z: &Tensor<2>, y: &Tensor<1>) -> DlnGradient {
        let b = y.dims()[0] as f64;
        let (u, v) = (self.u.val().inner(), self.v.val().inner());
        let w = u.clone() * u.clone() - v.clone() * v.clone();
        let residual = z.clone().matmul(w.unsqueeze_dim(1)).squeeze_dim::<1>(1) - y.clone();
        let loss = residual.clone().square().mean().mul_scalar(0.5);
        let g_w = residual_times_z(residual, z).div_scalar(b);
        DlnGradient {
            u: u.mul(g_w.clone()).mul_scalar(2.0),
            v: v.mul(g_w).mul_scalar(-2.0),
            loss,
        }
    }

    /// `Z w - y`, `[b]`.
    pub fn residual(&self, z: &Tensor<2>, y: &Tensor<1>) -> Tensor<1> {
        let w = self.weights().unsqueeze_dim::<2>(1);
        z.clone().matmul(w).squeeze_dim::<1>(1) - y.clone()
    }

    /// The exact Hessian diagonal of `1/(2n) ||Z w - y||^2` with respect to `(u, v)`, and its
    /// Gauss-Newton part, as `(h_u, h_v, ggn_u, ggn_v)`.
    ///
    /// With `c_i = (Z^T Z)_ii / n` and `g_w = Z^T (Z w - y) / n`:
    /// `H_(u_i u_i) = 4 u_i^2 c_i + 2 g_w,i` and `H_(v_i v_i) = 4 v_i^2 c_i - 2 g_w,i`; the
    /// Gauss-Newton diagonal drops the residual term `+-2 g_w,i`.
    pub fn hessian_diag(
        &self,
        z: &Tensor<2>,
        y: &Tensor<1>,
    ) -> (Tensor<1>, Tensor<1>, Tensor<1>, Tensor<1>) {
        let n = y.dims()[0] as f64;
        let residual = self.residual(z, y);
        let g_w = residual_times_z(residual, z).div_scalar(n);
        let c = z
            .clone()
            .square()
            .sum_dim(0)
            .squeeze_dim::<1>(0)
            .div_scalar(n);
        let (u, v) = (self.u.val(), self.v.val());
        let ggn_u = u.clone().mul(u).mul(c.clone()).mul_scalar(4.0);
        let ggn_v = v.clone().mul(v).mul(c).mul_scalar(4.0);
        let h_u = ggn_u.clone() + g_w.clone().mul_scalar(2.0);
        let h_v = ggn_v.clone() - g_w.mul_scalar(2.0);
        (h_u, h_v, ggn_u, ggn_v)
    }
}

/// `Z^T r` computed as the row vector `r^T Z`, which needs no transposed copy of `Z`.
fn residual_times_z(residual: Tensor<1>, z: &Tensor<2>) -> Tensor<1> {
    residual
        .unsqueeze_dim::<2>(0)
        .matmul(z.clone())
        .squeeze_dim::<1>(0)
}

/// The closed-form DLN gradient of one batch.
#[derive(Debug, Clone)]
pub struct DlnGradient {
    /// `dL/du`.
    pub u: Tensor<1>,
    /// `dL/dv`.
    pub v: Tensor<1>,
    /// The batch loss `1/(2b) ||Z w - y||^2`, `[1]`.
    pub loss: Tensor<1>,
}

impl DlnGradient {
    /// The gradients keyed by the model's parameter ids, for `ModuleOptimizer::step`.
    pub fn into_params(self, model: &Dln) -> GradientsParams {
        let mut grads = GradientsParams::new();
        grads.register(model.u.id, self.u);
        grads.register(model.v.id, self.v);
        grads
    }
}

impl LabModel for Dln {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weights().unsqueeze_dim(1))
    }

    /// `l1 = ||w||_1`, `l_half = (sum sqrt|w_i|)^2`, `nnz` = coordinates with `|w_i| > 0.1`
    /// (a tenth of the ground truth's unit entries), `dist` = `||w - w*||_2`.
    fn extras(&self, truth: &Truth) -> Vec<(&'static str, f64)> {
        let w = to_f64(self.weights());
        let l1: f64 = w.iter().map(|x| x.abs()).sum();
        let half: f64 = w.iter().map(|x| x.abs().sqrt()).sum();
        let nnz = w.iter().filter(|x| x.abs() > 0.1).count() as f64;
        let mut out = vec![("w_l1", l1), ("w_l_half", half * half), ("w_nnz", nnz)];
        if let Truth::Vector(w_star) = truth {
            let dist = w
                .iter()
                .zip(w_star)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>();
            out.push(("w_dist", dist.sqrt()));
        }
        out
    }

    fn closed_form_diag(&self, x: &Tensor<2>, y: &Tensor<1>) -> Option<Vec<ParamDiag>> {
        let (h_u, h_v, ggn_u, ggn_v) = self.hessian_diag(x, y);
        let d = h_u.dims()[0];
        let entry = |path: &str, raw: Tensor<1>, ggn: Tensor<1>| ParamDiag {
            path: path.into(),
            dims: vec![d],
            raw: to_f64(raw),
            ggn: Some(to_f64(ggn)),
        };
        Some(vec![entry("u", h_u, ggn_u), entry("v", h_v, ggn_v)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{matrix, vector};

    /// Two coordinates, two examples: Z = [[1, -1], [1, 1]], y = [1, 0], u = [1, 0.5],
    /// v = [0.5, 1]. Then w = [0.75, -0.75], Z w = [1.5, 0], r = [0.5, 0],
    /// L = (0.25 + 0) / 4 = 0.0625, g_w = Z^T r / 2 = [0.25, -0.25],
    /// dL/du = 2 u g_w = [0.5, -0.25], dL/dv = -2 v g_w = [-0.25, 0.5],
    /// c = diag(Z^T Z)/2 = [1, 1], H_uu = 4u^2 + 2 g_w = [4.5, 0.5],
    /// H_vv = 4v^2 - 2 g_w = [0.5, 4.5].
    fn example() -> (Dln, Tensor<2>, Tensor<1>) {
        let device = Device::flex();
        let model = Dln {
            u: Param::from_tensor(vector(&[1.0, 0.5], &device)),
            v: Param::from_tensor(vector(&[0.5, 1.0], &device)),
        };
        let z = matrix(&[1.0, -1.0, 1.0, 1.0], 2, 2, &device);
        (model, z, vector(&[1.0, 0.0], &device))
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-6, "{a:?} != {b:?}");
        }
    }

    #[test]
    fn closed_form_gradient_matches_hand_derivation() {
        let (model, z, y) = example();
        let g = model.gradient(&z, &y);
        close(&to_f64(g.loss), &[0.0625]);
        close(&to_f64(g.u), &[0.5, -0.25]);
        close(&to_f64(g.v), &[-0.25, 0.5]);
    }

    #[test]
    fn hessian_diagonal_matches_hand_derivation() {
        let (model, z, y) = example();
        let (h_u, h_v, ggn_u, ggn_v) = model.hessian_diag(&z, &y);
        close(&to_f64(h_u), &[4.5, 0.5]);
        close(&to_f64(h_v), &[0.5, 4.5]);
        close(&to_f64(ggn_u), &[4.0, 1.0]);
        close(&to_f64(ggn_v), &[1.0, 4.0]);
        let diag = model.closed_form_diag(&z, &y).unwrap();
        assert_eq!(diag[0].path, "u");
        close(&diag[1].raw, &[0.5, 4.5]);
        close(diag[1].ggn.as_ref().unwrap(), &[1.0, 4.0]);
    }

    #[test]
    fn closed_form_gradient_matches_autodiff() {
        let device = Device::flex().autodiff();
        let data = crate::SparseRegressionConfig {
            d: 7,
            kappa: 2,
            n: 5,
            n_test: 1,
            seed: 4,
        }
        .generate()
        .unwrap();
        let z = matrix(&data.x_train, 5, 7, &device);
        let y = vector(&data.y_train, &device);
        let model = Dln {
            u: Param::from_tensor(vector(&[0.3, -0.2, 0.5, 0.1, 0.7, -0.4, 0.2], &device)),
            v: Param::from_tensor(vector(&[0.1, 0.4, -0.3, 0.2, 0.1, 0.6, -0.5], &device)),
        };
        let loss = (model.forward(z.clone()).squeeze_dim::<1>(1) - y.clone())
            .square()
            .mean()
            .mul_scalar(0.5);
        let grads = loss.backward();
        let auto_u = to_f64(model.u.val().grad(&grads).unwrap());
        let auto_v = to_f64(model.v.val().grad(&grads).unwrap());
        let fast = model.gradient(&z, &y);
        close(&to_f64(fast.u), &auto_u);
        close(&to_f64(fast.v), &auto_v);
    }

    #[test]
    fn sparsity_extras_of_a_known_vector() {
        let device = Device::flex();
        // w = u^2 - v^2 = [4, 0, -1]: l1 = 5, (sum sqrt|w|)^2 = (2 + 0 + 1)^2 = 9, nnz = 2,
        // distance to w* = [4, 0, 0] is 1.
        let model = Dln {
            u: Param::from_tensor(vector(&[2.0, 0.0, 0.0], &device)),
            v: Param::from_tensor(vector(&[0.0, 0.0, 1.0], &device)),
        };
        let extras = model.extras(&Truth::Vector(vec![4.0, 0.0, 0.0]));
        let get = |k: &str| extras.iter().find(|(n, _)| *n == k).unwrap().1;
        assert!((get("w_l1") - 5.0).abs() < 1e-6);
        assert!((get("w_l_half") - 9.0).abs() < 1e-6);
        assert_eq!(get("w_nnz"), 2.0);
        assert!((get("w_dist") - 1.0).abs() < 1e-6);
    }
}
