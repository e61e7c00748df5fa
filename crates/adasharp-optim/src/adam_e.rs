//! AdamE-lambda: Adam with the second moment raised to `lambda` instead of `1/2`.
//!
//! `S(v) = 1 / (v^lambda + eps)` per element. `lambda = 1/2` is Adam, `lambda = 0` is SGD with
//! momentum (up to the factor `1 / (1 + eps)`). Under label noise near the minimizer manifold
//! it implicitly minimizes `tr(Diag(H)^(1 - lambda)) = sum_i H_ii^(1 - lambda)`.

use burn::config::Config;
use burn::optim::grad_clipping::GradientClippingConfig;

use crate::hyper::{Hyper, single_rule_constructors};
use crate::{BlockRule, NonFinitePolicy};

/// Configuration of [`Agm`](crate::Agm) as AdamE-lambda.
///
/// ```
/// // lambda = 0.25: between SGD (0) and Adam (0.5).
/// let optim = adasharp_optim::AdamEConfig::new(0.25).init();
/// # let _ = optim;
/// ```
#[derive(Config, Debug)]
pub struct AdamEConfig {
    /// The exponent `lambda` in `[0, 1)` of `S(v) = 1 / (v^lambda + eps)`.
    pub lambda: f64,
    /// Decay rate of the first moment `m`, in `[0, 1)`; `0` keeps no first moment.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate of the second moment `v`, in `[0, 1)`.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Damping `eps > 0` added to `v^lambda`.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Divide `m` by `1 - beta_1^t` and `v` by `1 - beta_2^t` (off in the paper's analysis).
    #[config(default = true)]
    pub bias_correction: bool,
    /// Decoupled weight decay: each step multiplies the parameter by `1 - lr * weight_decay`.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// What to do with a non-finite gradient.
    #[config(default = "NonFinitePolicy::Skip")]
    pub non_finite: NonFinitePolicy,
    /// Burn's gradient clipping, applied before the step.
    pub grad_clipping: Option<GradientClippingConfig>,
}

impl AdamEConfig {
    fn hyper(&self) -> Hyper {
        Hyper {
            name: "AdamE",
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            lambda: self.lambda,
            bias_correction: self.bias_correction,
            weight_decay: self.weight_decay,
            non_finite: self.non_finite,
        }
    }
}

single_rule_constructors!(AdamEConfig, BlockRule::Element);
