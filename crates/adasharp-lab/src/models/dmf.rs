//! Deep matrix factorization: `M = W_L ... W_1`, measured by matrix sensing.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::LabModel;
use crate::Truth;
use crate::data::{matrix, to_f64};
use crate::noise::standard_normal;

/// A depth-`L` product of square `dim x dim` factors; the prediction for a measurement
/// matrix `A` (flattened row-major into the input) is `<A, W_L ... W_1>`.
#[derive(Module, Debug)]
pub struct DeepMatrixFactorization {
    /// The factors `W_1, ..., W_L`, each `[dim, dim]`.
    pub factors: Vec<Param<Tensor<2>>>,
}

impl DeepMatrixFactorization {
    /// `depth` factors with i.i.d. `N(0, init^2 / dim)` entries (seeded).
    pub fn new(dim: usize, depth: usize, init: f64, seed: u64, device: &Device) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let sd = init / (dim as f64).sqrt();
        let factors = (0..depth)
            .map(|_| {
                let w: Vec<f64> = (0..dim * dim)
                    .map(|_| sd * standard_normal(&mut rng))
                    .collect();
                Param::from_tensor(matrix(&w, dim, dim, device))
            })
            .collect();
        Self { factors }
    }

    /// The end-to-end matrix `W_L ... W_1`.
    pub fn product(&self) -> Tensor<2> {
        let mut factors = self.factors.iter().map(|w| w.val());
        let first = factors.next().expect("at least one factor");
        factors.fold(first, |acc, w| w.matmul(acc))
    }
}

impl LabModel for DeepMatrixFactorization {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let p = self.product();
        let [m, _] = p.dims();
        x.matmul(p.reshape([m * m, 1]))
    }

    /// `nuclear` = nuclear norm of the product (sum of singular values, from the eigenvalues of
    /// `P^T P` by Jacobi rotations), `m_dist` = `||P - M*||_F / ||M*||_F`.
    fn extras(&self, truth: &Truth) -> Vec<(&'static str, f64)> {
        let p = self.product();
        let [m, _] = p.dims();
        let entries = to_f64(p);
        let mut out = vec![("nuclear", nuclear_norm(&entries, m))];
        if let Truth::Matrix { entries: star, .. } = truth {
            let diff: f64 = entries.iter().zip(star).map(|(a, b)| (a - b).powi(2)).sum();
            let norm: f64 = star.iter().map(|b| b * b).sum();
            out.push(("m_dist", (diff / norm).sqrt()));
        }
        out
    }
}

/// Sum of singular values of the row-major `m x m` matrix `a`.
pub fn nuclear_norm(a: &[f64], m: usize) -> f64 {
    // Eigenvalues of the symmetric A^T A by cyclic Jacobi; singular values are their roots.
    let mut s: Vec<f64> = (0..m * m)
        .map(|ij| (0..m).map(|k| a[k * m + ij / m] * a[k * m + ij % m]).sum())
        .collect();
    for _sweep in 0..100 {
        let off: f64 = (0..m * m)
            .filter(|ij| ij / m != ij % m)
            .map(|ij| s[ij] * s[ij])
            .sum();
        if off < 1e-24 {
            break;
        }
        for p in 0..m {
            for q in p + 1..m {
                let apq = s[p * m + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (s[q * m + q] - s[p * m + p]) / (2.0 * apq);
                // f64::signum(0.0) is 1, so theta = 0 gives the 45-degree rotation.
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let sn = t * c;
                for k in 0..m {
                    let (skp, skq) = (s[k * m + p], s[k * m + q]);
                    s[k * m + p] = c * skp - sn * skq;
                    s[k * m + q] = sn * skp + c * skq;
                }
                for k in 0..m {
                    let (spk, sqk) = (s[p * m + k], s[q * m + k]);
                    s[p * m + k] = c * spk - sn * sqk;
                    s[q * m + k] = sn * spk + c * sqk;
                }
            }
        }
    }
    (0..m).map(|i| s[i * m + i].max(0.0).sqrt()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nuclear_norm_of_known_matrices() {
        // diag(3, -2): singular values 3 and 2.
        assert!((nuclear_norm(&[3.0, 0.0, 0.0, -2.0], 2) - 5.0).abs() < 1e-9);
        // [[1, 1], [1, 1]]: rank one, singular value 2.
        assert!((nuclear_norm(&[1.0, 1.0, 1.0, 1.0], 2) - 2.0).abs() < 1e-9);
        // A rotation by 30 degrees: both singular values 1.
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        assert!((nuclear_norm(&[c, -s, s, c], 2) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn prediction_is_inner_product_with_the_product_matrix() {
        let device = Device::flex();
        // W1 = [[1, 2], [0, 1]], W2 = [[0, 1], [1, 0]] -> P = W2 W1 = [[0, 1], [1, 2]].
        let model = DeepMatrixFactorization {
            factors: vec![
                Param::from_tensor(matrix(&[1.0, 2.0, 0.0, 1.0], 2, 2, &device)),
                Param::from_tensor(matrix(&[0.0, 1.0, 1.0, 0.0], 2, 2, &device)),
            ],
        };
        let a = matrix(&[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0], 2, 4, &device);
        let out = to_f64(model.forward(a));
        assert_eq!(out, vec![0.0, 4.0]);
    }
}
