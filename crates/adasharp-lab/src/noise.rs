//! Label noise: a fresh, independent perturbation of every training label at every step.
//!
//! Near the manifold of minimizers the covariance of the resulting gradient noise is
//! `sigma^2 H` (for squared loss), which is what turns the noise into an implicit regularizer.
//! Each call to [`LabelNoise::perturb`] draws new values, so the same batch seen twice gets
//! different targets; the stream is fixed by the seed.

use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{LabError, Result};

/// The distribution of the noise added to each label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NoiseKind {
    /// `xi ~ N(0, sigma^2)`.
    #[default]
    Gaussian,
    /// `xi = +sigma` or `-sigma` with probability 1/2 each (the paper's `+/-delta`).
    Sign,
}

impl NoiseKind {
    /// Parses `gaussian` or `sign` (also `pm`, `rademacher`).
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "gaussian" | "normal" => Ok(NoiseKind::Gaussian),
            "sign" | "pm" | "rademacher" => Ok(NoiseKind::Sign),
            other => Err(LabError::Unknown {
                what: "noise kind",
                name: other.into(),
                known: "gaussian, sign".into(),
            }),
        }
    }
}

/// A seeded stream of label noise with zero mean and variance `sigma^2`.
///
/// ```
/// use adasharp_lab::{LabelNoise, NoiseKind};
///
/// let mut noise = LabelNoise::new(NoiseKind::Sign, 0.5, 7).unwrap();
/// let xi = noise.sample(4);
/// assert!(xi.iter().all(|x| x.abs() == 0.5));
/// ```
#[derive(Debug, Clone)]
pub struct LabelNoise {
    kind: NoiseKind,
    sigma: f64,
    rng: ChaCha8Rng,
}

impl LabelNoise {
    /// A noise stream; `sigma >= 0` is the standard deviation (`0` turns the noise off).
    pub fn new(kind: NoiseKind, sigma: f64, seed: u64) -> Result<Self> {
        if !(sigma.is_finite() && sigma >= 0.0) {
            return Err(LabError::invalid(
                "noise.sigma",
                sigma,
                "a finite number >= 0",
            ));
        }
        Ok(Self {
            kind,
            sigma,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }

    /// The standard deviation `sigma`.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// The distribution.
    pub fn kind(&self) -> NoiseKind {
        self.kind
    }

    /// `n` fresh noise values.
    pub fn sample(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.draw()).collect()
    }

    /// `targets + xi` with a fresh `xi` per element, on the targets' device and dtype.
    ///
    /// Works for any regression batch: the noise has the targets' shape.
    pub fn perturb<const D: usize>(&mut self, targets: Tensor<D>) -> Tensor<D> {
        if self.sigma == 0.0 {
            return targets;
        }
        let shape = targets.shape();
        let xi = self.sample(shape.num_elements());
        let noise = Tensor::<D>::from_data(TensorData::new(xi, shape), &targets.device());
        targets + noise
    }

    fn draw(&mut self) -> f64 {
        if self.sigma == 0.0 {
            return 0.0;
        }
        match self.kind {
            NoiseKind::Gaussian => self.sigma * standard_normal(&mut self.rng),
            NoiseKind::Sign => {
                if self.rng.random::<bool>() {
                    self.sigma
                } else {
                    -self.sigma
                }
            }
        }
    }
}

/// One `N(0, 1)` draw by the Box-Muller transform.
pub fn standard_normal<R: Rng>(rng: &mut R) -> f64 {
    // 1 - U lies in (0, 1], so the logarithm is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sample mean and variance of `m` draws.
    fn moments(xs: &[f64]) -> (f64, f64) {
        let m = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / m;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (m - 1.0);
        (mean, var)
    }

    #[test]
    fn gaussian_noise_has_mean_zero_and_variance_sigma_squared() {
        let (sigma, m) = (0.7, 200_000);
        let xs = LabelNoise::new(NoiseKind::Gaussian, sigma, 1)
            .unwrap()
            .sample(m);
        let (mean, var) = moments(&xs);
        // CLT: the sample mean has sd sigma/sqrt(m); the sample variance of a Gaussian has
        // sd sigma^2 sqrt(2/(m-1)). Allow 5 standard deviations.
        let m = m as f64;
        assert!(mean.abs() < 5.0 * sigma / m.sqrt(), "mean {mean}");
        let var_sd = sigma * sigma * (2.0 / (m - 1.0)).sqrt();
        assert!((var - sigma * sigma).abs() < 5.0 * var_sd, "variance {var}");
    }

    #[test]
    fn gaussian_noise_has_gaussian_fourth_moment() {
        // E[x^4] = 3 sigma^4 for a Gaussian; the estimator's sd is sqrt(96/m) sigma^4.
        let m = 200_000;
        let xs = LabelNoise::new(NoiseKind::Gaussian, 1.0, 2)
            .unwrap()
            .sample(m);
        let m4 = xs.iter().map(|x| x.powi(4)).sum::<f64>() / m as f64;
        assert!(
            (m4 - 3.0).abs() < 5.0 * (96.0 / m as f64).sqrt(),
            "fourth moment {m4}"
        );
    }

    #[test]
    fn sign_noise_takes_only_plus_minus_sigma_with_equal_frequency() {
        let (sigma, m) = (0.5, 100_000);
        let xs = LabelNoise::new(NoiseKind::Sign, sigma, 3)
            .unwrap()
            .sample(m);
        assert!(xs.iter().all(|x| *x == sigma || *x == -sigma));
        let plus = xs.iter().filter(|x| **x > 0.0).count() as f64;
        // Binomial(m, 1/2): sd sqrt(m)/2.
        assert!((plus - m as f64 / 2.0).abs() < 5.0 * (m as f64).sqrt() / 2.0);
        let (_, var) = moments(&xs);
        assert!((var - sigma * sigma).abs() < 1e-3);
    }

    #[test]
    fn same_seed_gives_same_stream_and_fresh_draws_differ() {
        let mut a = LabelNoise::new(NoiseKind::Gaussian, 1.0, 9).unwrap();
        let mut b = LabelNoise::new(NoiseKind::Gaussian, 1.0, 9).unwrap();
        let first = a.sample(5);
        assert_eq!(first, b.sample(5));
        assert_ne!(first, a.sample(5));
    }

    #[test]
    fn negative_sigma_is_rejected_naming_the_field() {
        let err = LabelNoise::new(NoiseKind::Gaussian, -1.0, 0).unwrap_err();
        assert!(err.to_string().contains("noise.sigma"));
    }

    #[test]
    fn perturb_adds_noise_of_the_targets_shape() {
        let device = burn::tensor::Device::flex();
        let y = Tensor::<1>::zeros([6], &device);
        let mut noise = LabelNoise::new(NoiseKind::Sign, 0.25, 4).unwrap();
        let noisy: Vec<f64> = crate::data::to_f64(noise.perturb(y));
        assert_eq!(noisy.len(), 6);
        assert!(noisy.iter().all(|x| x.abs() == 0.25));
    }
}
