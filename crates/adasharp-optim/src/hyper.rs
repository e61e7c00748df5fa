//! Hyperparameters common to every AGM optimizer, validated in one place.

use burn::optim::{ModuleOptimizer, grad_clipping::GradientClippingConfig};

use crate::error::{check_beta, check_epsilon, check_weight_decay};
use crate::{Agm, BlockRule, ConfigError, NonFinitePolicy, Preconditioner};

/// The fields every AGM config carries, gathered so validation and construction are written once.
pub(crate) struct Hyper {
    pub name: &'static str,
    pub beta_1: f64,
    pub beta_2: f64,
    pub epsilon: f64,
    pub lambda: f64,
    pub bias_correction: bool,
    pub weight_decay: f64,
    pub non_finite: NonFinitePolicy,
}

impl Hyper {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_beta(self.name, "beta_1", self.beta_1)?;
        check_beta(self.name, "beta_2", self.beta_2)?;
        check_epsilon(self.name, "epsilon", self.epsilon)?;
        check_weight_decay(self.name, self.weight_decay)?;
        if !(self.lambda.is_finite() && (0.0..1.0).contains(&self.lambda)) {
            return Err(ConfigError::new(
                self.name,
                "lambda",
                self.lambda,
                "a number in [0, 1)",
            ));
        }
        Ok(())
    }

    pub fn agm(&self, rule: BlockRule) -> Result<Agm, ConfigError> {
        self.validate()?;
        rule.check(&[])?;
        Ok(Agm {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            preconditioner: Preconditioner {
                lambda: self.lambda,
                epsilon: self.epsilon,
            },
            bias_correction: self.bias_correction,
            weight_decay: self.weight_decay,
            rule,
            non_finite: self.non_finite,
        })
    }
}

/// Wraps an optimizer for a whole module, with Burn's gradient clipping when configured.
pub(crate) fn module_optimizer(
    agm: Agm,
    clipping: &Option<GradientClippingConfig>,
) -> ModuleOptimizer {
    let optim = ModuleOptimizer::from(agm);
    match clipping {
        Some(config) => optim.with_grad_clipping(config.init()),
        None => optim,
    }
}

/// Unwraps a build result, panicking with the config error's message.
pub(crate) fn or_panic<T>(result: Result<T, ConfigError>) -> T {
    result.unwrap_or_else(|err| panic!("{err}"))
}

/// The four constructors every single-rule AGM config offers, written once.
///
/// The config type must have `fn hyper(&self) -> Hyper` and a `grad_clipping` field.
macro_rules! single_rule_constructors {
    ($config:ty, $rule:expr) => {
        impl $config {
            /// The per-tensor optimizer, or the first invalid hyperparameter.
            pub fn try_build(&self) -> Result<$crate::Agm, $crate::ConfigError> {
                self.hyper().agm($rule)
            }

            /// Like `try_build`, for `ModuleOptimizer::with_group`.
            ///
            /// # Panics
            /// If a hyperparameter is invalid; the message names the field, the value and
            /// what is allowed.
            pub fn build(&self) -> $crate::Agm {
                $crate::hyper::or_panic(self.try_build())
            }

            /// The whole-module optimizer (a Burn `ModuleOptimizer`), or the first invalid
            /// hyperparameter.
            pub fn try_init(&self) -> Result<burn::optim::ModuleOptimizer, $crate::ConfigError> {
                Ok($crate::hyper::module_optimizer(
                    self.try_build()?,
                    &self.grad_clipping,
                ))
            }

            /// Like `try_init`; swaps in for `AdamConfig::new().init()`.
            ///
            /// # Panics
            /// If a hyperparameter is invalid.
            pub fn init(&self) -> burn::optim::ModuleOptimizer {
                $crate::hyper::or_panic(self.try_init())
            }
        }
    };
}
pub(crate) use single_rule_constructors;
