//! Optimizers by name, from one flat configuration that TOML files and flags fill in.

use adasharp_optim::{
    AdalayerConfig, AdamEConfig, AdamMiniConfig, Agm, NonFinitePolicy, PaperAdamConfig,
    PaperRmsPropConfig, PartitionReport, Shampoo, ShampooConfig,
};
use burn::module::Module;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{Adam, AdamConfig, ModuleOptimizer, Sgd, SgdConfig};
use serde::{Deserialize, Serialize};

use crate::{LabError, Result};

/// The optimizer names [`OptimizerConfig::name`] accepts.
pub const OPTIMIZER_NAMES: &[&str] = &[
    "sgd",
    "adam",
    "paper-adam",
    "rmsprop",
    "adame",
    "adam-mini",
    "adalayer",
    "shampoo",
];

/// An optimizer and its hyperparameters; fields a method does not use are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// One of [`OPTIMIZER_NAMES`]: `sgd` (with optional heavy-ball momentum), `adam` (Burn's,
    /// bias-corrected, eps inside the square root), `paper-adam` and `rmsprop` (the paper's
    /// form: no bias correction, eps outside), `adame` (AdamE-lambda), `adam-mini`,
    /// `adalayer`, `shampoo`.
    pub name: String,
    /// Learning rate.
    pub lr: f64,
    /// Heavy-ball momentum of `sgd` (0 = plain SGD, the paper's).
    #[serde(default)]
    pub momentum: f64,
    /// First-moment decay `b1` of the adaptive methods.
    #[serde(default = "default_beta_1")]
    pub beta_1: f64,
    /// Second-moment decay `b2` of the adaptive methods.
    #[serde(default = "default_beta_2")]
    pub beta_2: f64,
    /// Damping `eps` of the adaptive methods.
    #[serde(default = "default_epsilon")]
    pub epsilon: f64,
    /// The exponent `lambda` of `adame`, in `[0, 1)`.
    #[serde(default = "default_lambda")]
    pub lambda: f64,
    /// Bias correction of `paper-adam`, `rmsprop`, `adame`, `adam-mini`, `adalayer` (the
    /// paper's analysis has none).
    #[serde(default)]
    pub bias_correction: bool,
}

fn default_beta_1() -> f64 {
    0.9
}
fn default_beta_2() -> f64 {
    0.999
}
fn default_epsilon() -> f64 {
    1e-8
}
fn default_lambda() -> f64 {
    0.25
}

impl OptimizerConfig {
    /// An optimizer with every other field at its default.
    pub fn new(name: &str, lr: f64) -> Self {
        Self {
            name: name.to_string(),
            lr,
            momentum: 0.0,
            beta_1: default_beta_1(),
            beta_2: default_beta_2(),
            epsilon: default_epsilon(),
            lambda: default_lambda(),
            bias_correction: false,
        }
    }

    /// A label for tables and legends (`sgd`, `adame(0.25)`).
    pub fn label(&self) -> String {
        match self.name.as_str() {
            "adame" => format!("adame({})", self.lambda),
            "sgd" if self.momentum > 0.0 => format!("sgd(m={})", self.momentum),
            other => other.to_string(),
        }
    }

    /// The exponent `lambda` whose measure `tr(Diag(H)^(1-lambda))` this optimizer lowers,
    /// for AdamE only.
    pub fn measure_lambda(&self) -> Option<f64> {
        (self.name == "adame").then_some(self.lambda)
    }

    /// Checks the name and the ranges this crate owns (the optimizer crate checks the rest).
    pub fn validate(&self) -> Result<()> {
        if !OPTIMIZER_NAMES.contains(&self.name.as_str()) {
            return Err(LabError::Unknown {
                what: "optimizer",
                name: self.name.clone(),
                known: OPTIMIZER_NAMES.join(", "),
            });
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(LabError::invalid(
                "optimizer.lr",
                self.lr,
                "a finite number > 0",
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(LabError::invalid(
                "optimizer.momentum",
                self.momentum,
                "[0, 1)",
            ));
        }
        Ok(())
    }

    /// Builds the optimizer for `model`, with the block partition for Adam-mini and Adalayer.
    ///
    /// The per-tensor optimizer of [`build_tensor`](Self::build_tensor) wrapped for the whole
    /// module; Adam-mini also gets the module's embedding and attention rules.
    pub fn build<M: Module>(&self, model: &M) -> Result<BuiltOptimizer> {
        let tensor = self.build_tensor()?;
        let (optim, partition) = match self.name.as_str() {
            "adam-mini" => {
                let config = self.adam_mini();
                (config.try_init_for(model)?, Some(config.partition(model)?))
            }
            "adalayer" => (
                tensor.into_module(),
                Some(self.adalayer().partition(model)?),
            ),
            _ => (tensor.into_module(), None),
        };
        Ok(BuiltOptimizer { optim, partition })
    }

    fn adam_mini(&self) -> AdamMiniConfig {
        AdamMiniConfig::new()
            .with_beta_1(self.beta_1)
            .with_beta_2(self.beta_2)
            .with_epsilon(self.epsilon)
            .with_bias_correction(self.bias_correction)
            .with_non_finite(NonFinitePolicy::Unchecked)
    }

    fn adalayer(&self) -> AdalayerConfig {
        AdalayerConfig::new()
            .with_beta_1(self.beta_1)
            .with_beta_2(self.beta_2)
            .with_epsilon(self.epsilon)
            .with_bias_correction(self.bias_correction)
            .with_non_finite(NonFinitePolicy::Unchecked)
    }
}

fn check_unit(field: &str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(LabError::invalid(field, value, "a number in [0, 1)"))
    }
}

/// A per-tensor optimizer (Burn's `Optimizer`), for loops that keep their parameters as
/// plain tensors without autodiff (the DLN fast path). Burn's `ModuleOptimizer` needs
/// autodiff parameters, and autodiff leaves created every step without a backward pass are
/// never released; stepping plain tensors avoids that.
pub enum TensorOptimizer {
    /// Burn's SGD.
    Sgd(Sgd),
    /// Burn's Adam.
    Adam(Adam),
    /// An optimizer of the AGM template (paper Adam, RMSProp, AdamE, Adam-mini, Adalayer).
    Agm(Agm),
    /// Shampoo.
    Shampoo(Shampoo),
}

impl OptimizerConfig {
    /// The optimizer per tensor (Adam-mini with its default rule only).
    pub fn build_tensor(&self) -> Result<TensorOptimizer> {
        self.validate()?;
        let policy = NonFinitePolicy::Unchecked;
        Ok(match self.name.as_str() {
            "sgd" => {
                let mut config = SgdConfig::new();
                if self.momentum > 0.0 {
                    let momentum = MomentumConfig::new()
                        .with_momentum(self.momentum)
                        .with_dampening(0.0);
                    config = config.with_momentum(Some(momentum));
                }
                TensorOptimizer::Sgd(config.build())
            }
            "adam" => {
                check_unit("optimizer.beta_1", self.beta_1)?;
                check_unit("optimizer.beta_2", self.beta_2)?;
                TensorOptimizer::Adam(
                    AdamConfig::new()
                        .with_beta_1(self.beta_1 as f32)
                        .with_beta_2(self.beta_2 as f32)
                        .with_epsilon(self.epsilon as f32)
                        .build(),
                )
            }
            "paper-adam" => TensorOptimizer::Agm(
                PaperAdamConfig::new()
                    .with_beta_1(self.beta_1)
                    .with_beta_2(self.beta_2)
                    .with_epsilon(self.epsilon)
                    .with_bias_correction(self.bias_correction)
                    .with_non_finite(policy)
                    .try_build()?,
            ),
            "rmsprop" => TensorOptimizer::Agm(
                PaperRmsPropConfig::new()
                    .with_beta_2(self.beta_2)
                    .with_epsilon(self.epsilon)
                    .with_bias_correction(self.bias_correction)
                    .with_non_finite(policy)
                    .try_build()?,
            ),
            "adame" => TensorOptimizer::Agm(
                AdamEConfig::new(self.lambda)
                    .with_beta_1(self.beta_1)
                    .with_beta_2(self.beta_2)
                    .with_epsilon(self.epsilon)
                    .with_bias_correction(self.bias_correction)
                    .with_non_finite(policy)
                    .try_build()?,
            ),
            "adam-mini" => TensorOptimizer::Agm(self.adam_mini().try_build()?),
            "adalayer" => TensorOptimizer::Agm(self.adalayer().try_build()?),
            _ => TensorOptimizer::Shampoo(
                ShampooConfig::new()
                    .with_beta_1(self.beta_1)
                    .with_beta_2(self.beta_2)
                    .with_graft_epsilon(self.epsilon)
                    .with_bias_correction(self.bias_correction)
                    .with_non_finite(policy)
                    .try_build()?,
            ),
        })
    }
}

impl TensorOptimizer {
    /// The whole-module Burn optimizer stepping with this one.
    pub fn into_module(self) -> ModuleOptimizer {
        match self {
            TensorOptimizer::Sgd(o) => ModuleOptimizer::from(o),
            TensorOptimizer::Adam(o) => ModuleOptimizer::from(o),
            TensorOptimizer::Agm(o) => ModuleOptimizer::from(o),
            TensorOptimizer::Shampoo(o) => ModuleOptimizer::from(o),
        }
    }
}

/// A ready optimizer and, for block methods, its partition.
pub struct BuiltOptimizer {
    /// The Burn module optimizer.
    pub optim: ModuleOptimizer,
    /// The block partition (Adam-mini, Adalayer), printed by the CLI and used by the block
    /// measure.
    pub partition: Option<PartitionReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = OptimizerConfig::new("adamw", 0.1).validate().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("adamw") && msg.contains("paper-adam"), "{msg}");
    }

    #[test]
    fn out_of_range_hyperparameters_name_their_field() {
        let device = burn::tensor::Device::flex();
        let model = crate::Dln::new(3, 0.1, &device);
        let mut config = OptimizerConfig::new("paper-adam", 0.1);
        config.beta_2 = 1.5;
        let err = config.build(&model).err().unwrap();
        assert!(err.to_string().contains("beta_2"), "{err}");
        let err = OptimizerConfig::new("sgd", -1.0).validate().unwrap_err();
        assert!(err.to_string().contains("optimizer.lr"));
    }
}
