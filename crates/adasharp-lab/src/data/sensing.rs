//! Matrix sensing: `n` Gaussian linear measurements `b_i = <A_i, M*>` of a rank-`r` matrix.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Dataset, Task, Truth};
use crate::noise::standard_normal;
use crate::{LabError, Result};

/// Sizes and seed of a matrix-sensing problem.
///
/// `M* = U V^T` with `U, V` of size `dim x rank` and i.i.d. `N(0, 1)` entries, rescaled so that
/// `||M*||_F^2 = rank`; each `A_i` has i.i.d. `N(0, 1)` entries, so `b_i ~ N(0, rank)`. The
/// example `i` is `vec(A_i)` (row-major) and its target `b_i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixSensingConfig {
    /// Side `dim` of the square matrix `M*`.
    pub dim: usize,
    /// Rank `r` of `M*`, `1 <= r <= dim`.
    pub rank: usize,
    /// Number of training measurements.
    pub n: usize,
    /// Number of test measurements.
    pub n_test: usize,
    /// Seed of `M*` and the measurement matrices.
    pub seed: u64,
}

impl MatrixSensingConfig {
    /// Checks the sizes.
    pub fn validate(&self) -> Result<()> {
        if self.dim == 0 {
            return Err(LabError::invalid("data.dim", self.dim, "dim >= 1"));
        }
        if self.rank == 0 || self.rank > self.dim {
            let allowed = format!("1 <= rank <= dim = {}", self.dim);
            return Err(LabError::invalid("data.rank", self.rank, allowed));
        }
        if self.n == 0 {
            return Err(LabError::invalid("data.n", self.n, "n >= 1 measurements"));
        }
        if self.n_test == 0 {
            return Err(LabError::invalid("data.n_test", self.n_test, "n_test >= 1"));
        }
        Ok(())
    }

    /// Draws `M*` and the measurements.
    pub fn generate(&self) -> Result<Dataset> {
        self.validate()?;
        let (m, r) = (self.dim, self.rank);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut gaussians =
            |k: usize| -> Vec<f64> { (0..k).map(|_| standard_normal(&mut rng)).collect() };
        let (u, v) = (gaussians(m * r), gaussians(m * r));
        let mut m_star: Vec<f64> = (0..m * m)
            .map(|ij| {
                (0..r)
                    .map(|k| u[(ij / m) * r + k] * v[(ij % m) * r + k])
                    .sum()
            })
            .collect();
        let norm = m_star.iter().map(|x| x * x).sum::<f64>().sqrt();
        let scale = (r as f64).sqrt() / norm;
        m_star.iter_mut().for_each(|x| *x *= scale);

        let x_train = gaussians(self.n * m * m);
        let x_test = gaussians(self.n_test * m * m);
        let measure = |a: &[f64]| -> Vec<f64> {
            a.chunks(m * m)
                .map(|ai| ai.iter().zip(&m_star).map(|(p, q)| p * q).sum())
                .collect()
        };
        let (y_train, y_test) = (measure(&x_train), measure(&x_test));
        Ok(Dataset {
            name: format!("sensing(dim={m},rank={r},n={})", self.n),
            features: m * m,
            x_train,
            y_train,
            x_test,
            y_test,
            task: Task::Regression,
            truth: Truth::Matrix {
                dim: m,
                entries: m_star,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> MatrixSensingConfig {
        MatrixSensingConfig {
            dim: 6,
            rank: 2,
            n: 15,
            n_test: 5,
            seed: 3,
        }
    }

    #[test]
    fn ground_truth_has_the_requested_rank_and_frobenius_norm() {
        let data = config().generate().unwrap();
        let Truth::Matrix { dim, entries } = &data.truth else {
            panic!("no M*")
        };
        let fro2: f64 = entries.iter().map(|x| x * x).sum();
        assert!((fro2 - 2.0).abs() < 1e-12);
        // Rank 2: every 3x3 minor vanishes; check the leading one against its size.
        let a = |i: usize, j: usize| entries[i * dim + j];
        let det3 = a(0, 0) * (a(1, 1) * a(2, 2) - a(1, 2) * a(2, 1))
            - a(0, 1) * (a(1, 0) * a(2, 2) - a(1, 2) * a(2, 0))
            + a(0, 2) * (a(1, 0) * a(2, 1) - a(1, 1) * a(2, 0));
        assert!(det3.abs() < 1e-12, "3x3 minor {det3}");
    }

    #[test]
    fn targets_are_inner_products_with_the_ground_truth() {
        let data = config().generate().unwrap();
        let Truth::Matrix { entries, .. } = &data.truth else {
            panic!("no M*")
        };
        for (a, b) in data.x_train.chunks(36).zip(&data.y_train) {
            let dot: f64 = a.iter().zip(entries).map(|(p, q)| p * q).sum();
            assert!((dot - b).abs() < 1e-12);
        }
    }

    #[test]
    fn rank_above_dim_is_rejected_by_name() {
        let err = MatrixSensingConfig {
            rank: 7,
            ..config()
        }
        .generate()
        .unwrap_err();
        assert!(err.to_string().contains("data.rank"));
    }
}
