//! Adalayer: one second-moment value per parameter tensor (per layer).
//!
//! Adam-mini with whole-tensor blocks. Under label noise near the minimizer manifold it
//! implicitly minimizes `sum_layers sqrt(|W| tr(H_WW))`.

use burn::config::Config;
use burn::module::Module;
use burn::optim::grad_clipping::GradientClippingConfig;

use crate::hyper::{Hyper, single_rule_constructors};
use crate::partition::{PartitionEntry, PartitionReport, RuleSource, agm_state_bytes};
use crate::{BlockRule, ConfigError, NonFinitePolicy, module_params};

/// Configuration of [`Agm`] as Adalayer.
///
/// ```
/// let optim = adasharp_optim::AdalayerConfig::new().with_beta_2(0.99).init();
/// # let _ = optim;
/// ```
#[derive(Config, Debug)]
pub struct AdalayerConfig {
    /// Decay rate of the first moment `m`, in `[0, 1)`; `0` keeps no first moment.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate of the per-tensor second moment `v`, in `[0, 1)`.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Damping `eps > 0` added to `sqrt(v)`.
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

impl AdalayerConfig {
    fn hyper(&self) -> Hyper {
        Hyper {
            name: "Adalayer",
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            lambda: 0.5,
            bias_correction: self.bias_correction,
            weight_decay: self.weight_decay,
            non_finite: self.non_finite,
        }
    }

    /// One block per parameter tensor of `module`, with state sizes.
    pub fn partition<M: Module>(&self, module: &M) -> Result<PartitionReport, ConfigError> {
        self.hyper().validate()?;
        let keeps_m = self.beta_1 > 0.0;
        let entries = module_params(module)
            .into_iter()
            .map(|param| PartitionEntry {
                num_blocks: 1,
                state_bytes: agm_state_bytes(&param, BlockRule::Tensor, keeps_m),
                param,
                rule: BlockRule::Tensor,
                source: RuleSource::Default,
                note: None,
            })
            .collect();
        Ok(PartitionReport {
            optimizer: "Adalayer".into(),
            entries,
            keeps_first_moment: keeps_m,
        })
    }
}

single_rule_constructors!(AdalayerConfig, BlockRule::Tensor);
