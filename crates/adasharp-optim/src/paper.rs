//! Adam and RMSProp in the form the paper analyses: no bias correction by default, `eps`
//! outside the square root.
//!
//! ```text
//! m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,   theta <- theta - lr m / (sqrt(v) + eps)
//! ```
//!
//! RMSProp is the same with `b1 = 0`. Under label noise near the minimizer manifold both
//! implicitly minimize `tr(Diag(H)^(1/2)) = sum_i sqrt(H_ii)`.

use burn::config::Config;
use burn::optim::grad_clipping::GradientClippingConfig;

use crate::hyper::{Hyper, single_rule_constructors};
use crate::{BlockRule, NonFinitePolicy};

/// Configuration of [`Agm`](crate::Agm) as the paper's Adam.
///
/// ```
/// let optim = adasharp_optim::PaperAdamConfig::new().with_epsilon(1e-10).init();
/// # let _ = optim;
/// ```
#[derive(Config, Debug)]
pub struct PaperAdamConfig {
    /// Decay rate of the first moment `m`, in `[0, 1)`.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate of the second moment `v`, in `[0, 1)`.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Damping `eps > 0` added to `sqrt(v)`.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Divide `m` by `1 - beta_1^t` and `v` by `1 - beta_2^t`; off in the paper's form.
    #[config(default = false)]
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

impl PaperAdamConfig {
    fn hyper(&self) -> Hyper {
        Hyper {
            name: "Adam (paper form)",
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            lambda: 0.5,
            bias_correction: self.bias_correction,
            weight_decay: self.weight_decay,
            non_finite: self.non_finite,
        }
    }
}

single_rule_constructors!(PaperAdamConfig, BlockRule::Element);

/// Configuration of [`Agm`](crate::Agm) as the paper's RMSProp (Adam with `b1 = 0`).
///
/// ```
/// let optim = adasharp_optim::PaperRmsPropConfig::new().with_beta_2(0.99).init();
/// # let _ = optim;
/// ```
#[derive(Config, Debug)]
pub struct PaperRmsPropConfig {
    /// Decay rate of the second moment `v`, in `[0, 1)`.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Damping `eps > 0` added to `sqrt(v)`.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Divide `v` by `1 - beta_2^t`; off in the paper's form.
    #[config(default = false)]
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

impl PaperRmsPropConfig {
    fn hyper(&self) -> Hyper {
        Hyper {
            name: "RMSProp (paper form)",
            beta_1: 0.0,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            lambda: 0.5,
            bias_correction: self.bias_correction,
            weight_decay: self.weight_decay,
            non_finite: self.non_finite,
        }
    }
}

single_rule_constructors!(PaperRmsPropConfig, BlockRule::Element);
