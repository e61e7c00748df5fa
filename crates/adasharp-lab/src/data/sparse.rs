//! The paper's sparse regression: `y = <z, w*>` with `z` uniform on `{+1, -1}^d` and a
//! `kappa`-sparse `w*`.

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Dataset, Task, Truth};
use crate::{LabError, Result};

/// Sizes and seed of a sparse-regression problem.
///
/// `w*` has `kappa` nonzero coordinates at uniformly random positions, each `+1` or `-1` with
/// equal probability, so `||w*||_2^2 = kappa` and predicting zero has test loss `kappa / 2`.
/// "Recovered" in the paper's sense means test loss below 1.
///
/// ```
/// use adasharp_lab::SparseRegressionConfig;
///
/// let data = SparseRegressionConfig { d: 50, kappa: 3, n: 20, n_test: 10, seed: 1 }
///     .generate()
///     .unwrap();
/// assert_eq!(data.x_train.len(), 20 * 50);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseRegressionConfig {
    /// Dimension `d` of `z` and `w*`.
    pub d: usize,
    /// Number `kappa` of nonzero coordinates of `w*`, `1 <= kappa <= d`.
    pub kappa: usize,
    /// Number `n >= 1` of training examples.
    pub n: usize,
    /// Number of test examples.
    pub n_test: usize,
    /// Seed of `w*`, the inputs and the split.
    pub seed: u64,
}

impl SparseRegressionConfig {
    /// Checks the sizes.
    pub fn validate(&self) -> Result<()> {
        if self.d == 0 {
            return Err(LabError::invalid("data.d", self.d, "d >= 1"));
        }
        if self.kappa == 0 || self.kappa > self.d {
            let allowed = format!("1 <= kappa <= d = {}", self.d);
            return Err(LabError::invalid("data.kappa", self.kappa, allowed));
        }
        if self.n == 0 {
            return Err(LabError::invalid(
                "data.n",
                self.n,
                "n >= 1 training examples",
            ));
        }
        if self.n_test == 0 {
            return Err(LabError::invalid("data.n_test", self.n_test, "n_test >= 1"));
        }
        Ok(())
    }

    /// Draws `w*`, `n` training and `n_test` test examples.
    pub fn generate(&self) -> Result<Dataset> {
        self.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut w_star = vec![0.0; self.d];
        for i in sample(&mut rng, self.d, self.kappa) {
            w_star[i] = if rng.random::<bool>() { 1.0 } else { -1.0 };
        }
        let mut draw = |rows: usize| {
            let z: Vec<f64> = (0..rows * self.d)
                .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
                .collect();
            let y: Vec<f64> = z
                .chunks(self.d)
                .map(|row| row.iter().zip(&w_star).map(|(a, b)| a * b).sum())
                .collect();
            (z, y)
        };
        let (x_train, y_train) = draw(self.n);
        let (x_test, y_test) = draw(self.n_test);
        Ok(Dataset {
            name: format!("sparse(d={},kappa={},n={})", self.d, self.kappa, self.n),
            features: self.d,
            x_train,
            y_train,
            x_test,
            y_test,
            task: Task::Regression,
            truth: Truth::Vector(w_star),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SparseRegressionConfig {
        SparseRegressionConfig {
            d: 40,
            kappa: 4,
            n: 30,
            n_test: 20,
            seed: 11,
        }
    }

    #[test]
    fn ground_truth_has_exactly_kappa_unit_entries() {
        let data = config().generate().unwrap();
        let Truth::Vector(w) = &data.truth else {
            panic!("no w*")
        };
        assert_eq!(w.iter().filter(|x| **x != 0.0).count(), 4);
        assert!(w.iter().all(|x| [0.0, 1.0, -1.0].contains(x)));
    }

    #[test]
    fn inputs_are_signs_and_labels_are_noise_free_inner_products() {
        let data = config().generate().unwrap();
        let Truth::Vector(w) = &data.truth else {
            panic!("no w*")
        };
        assert!(
            data.x_train
                .iter()
                .chain(&data.x_test)
                .all(|x| x.abs() == 1.0)
        );
        for (row, y) in data.x_test.chunks(40).zip(&data.y_test) {
            let dot: f64 = row.iter().zip(w).map(|(a, b)| a * b).sum();
            assert_eq!(dot, *y);
        }
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let a = config().generate().unwrap();
        assert_eq!(a.x_train, config().generate().unwrap().x_train);
        let b = SparseRegressionConfig {
            seed: 12,
            ..config()
        }
        .generate()
        .unwrap();
        assert_ne!(a.x_train, b.x_train);
    }

    #[test]
    fn kappa_above_d_and_zero_n_are_rejected_by_name() {
        let err = SparseRegressionConfig {
            kappa: 41,
            ..config()
        }
        .generate()
        .unwrap_err();
        assert!(err.to_string().contains("data.kappa"), "{err}");
        let err = SparseRegressionConfig { n: 0, ..config() }
            .generate()
            .unwrap_err();
        assert!(err.to_string().contains("data.n"), "{err}");
    }

    #[test]
    fn input_signs_are_balanced() {
        // Each z entry is +-1 with probability 1/2: the mean of m entries has sd 1/sqrt(m).
        let data = SparseRegressionConfig {
            d: 100,
            kappa: 1,
            n: 200,
            n_test: 1,
            seed: 5,
        }
        .generate()
        .unwrap();
        let m = data.x_train.len() as f64;
        let mean = data.x_train.iter().sum::<f64>() / m;
        assert!(mean.abs() < 5.0 / m.sqrt(), "mean {mean}");
    }
}
