//! Adam-mini: Adam with one second-moment value per block of coordinates.
//!
//! Zhang et al., "Adam-mini: Use Fewer Learning Rates To Gain More" (2024). In the AGM template
//! `V(g g^T)` is the mean of `g_j^2` over the block holding coordinate `i`, and
//! `S(v) = 1 / (sqrt(v) + eps)`. Near the minimizer manifold under label noise it implicitly
//! minimizes `sum_B sqrt(|B| tr(H_BB))` (Li, Wen, Lyu 2025).

use burn::config::Config;
use burn::module::{Module, ParamGroup};
use burn::optim::{ModuleOptimizer, grad_clipping::GradientClippingConfig};
use serde::{Deserialize, Serialize};

use crate::hyper::{Hyper, module_optimizer, or_panic};
use crate::partition::{ParamInfo, PartitionEntry, PartitionReport, RuleSource, agm_state_bytes};
use crate::{Agm, BlockRule, ConfigError, NonFinitePolicy, module_params};

/// A block rule for the parameters a [`ParamGroup`] selects (by path, regex or id).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupRule {
    /// The parameters this rule applies to.
    pub group: ParamGroup,
    /// The rule.
    pub rule: BlockRule,
}

/// Configuration of [`Agm`] as Adam-mini.
///
/// # Example
///
/// ```
/// use adasharp_optim::{AdamMiniConfig, BlockRule, GroupRule};
/// use burn::module::ParamGroup;
///
/// // One `v` per output neuron everywhere, but one per row for `head.weight`.
/// let config = AdamMiniConfig::new().with_rules(vec![GroupRule {
///     group: ParamGroup::from_path("head.weight"),
///     rule: BlockRule::Rows,
/// }]);
/// let optim = config.init(); // a burn::optim::ModuleOptimizer, like AdamConfig::new().init()
/// # let _ = optim;
/// ```
#[derive(Config, Debug)]
pub struct AdamMiniConfig {
    /// Decay rate of the first moment `m`, in `[0, 1)`; `0` keeps no first moment.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate of the second moment `v`, in `[0, 1)`.
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
    /// Rule for parameters no other rule names: per output neuron.
    #[config(default = "BlockRule::Columns")]
    pub default_rule: BlockRule,
    /// Rule for the weight of a Burn `Embedding` (`[vocab, d_model]`): per token.
    #[config(default = "BlockRule::Rows")]
    pub embedding_rule: BlockRule,
    /// Heads of the model's `MultiHeadAttention` modules; their query, key and value weights
    /// then get one block per head. Unset, they get `default_rule` and the report says so.
    pub attention_heads: Option<usize>,
    /// Rules for parameter groups; the last rule matching a parameter wins over all others.
    #[config(default = "Vec::new()")]
    pub rules: Vec<GroupRule>,
    /// What to do with a non-finite gradient.
    #[config(default = "NonFinitePolicy::Skip")]
    pub non_finite: NonFinitePolicy,
    /// Burn's gradient clipping, applied before the step.
    pub grad_clipping: Option<GradientClippingConfig>,
}

impl AdamMiniConfig {
    pub(crate) fn hyper(&self) -> Hyper {
        Hyper {
            name: "Adam-mini",
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            lambda: 0.5,
            bias_correction: self.bias_correction,
            weight_decay: self.weight_decay,
            non_finite: self.non_finite,
        }
    }

    /// Checks every hyperparameter and rule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.hyper().validate()?;
        for rule in [self.default_rule, self.embedding_rule]
            .into_iter()
            .chain(self.rules.iter().map(|r| r.rule))
        {
            rule.check(&[])?;
        }
        if self.attention_heads == Some(0) {
            return Err(ConfigError::new(
                "Adam-mini",
                "attention_heads",
                0,
                "at least one head",
            ));
        }
        Ok(())
    }

    /// The per-tensor optimizer with `default_rule`, for `ModuleOptimizer::with_group`.
    pub fn try_build(&self) -> Result<Agm, ConfigError> {
        self.validate()?;
        self.hyper().agm(self.default_rule)
    }

    /// Like [`try_build`](Self::try_build).
    ///
    /// # Panics
    /// If a hyperparameter is invalid; the message names the field, value and allowed range.
    pub fn build(&self) -> Agm {
        or_panic(self.try_build())
    }

    /// The whole-module optimizer: `default_rule` everywhere, overridden by `rules`.
    ///
    /// Embedding and attention rules need the module's structure: use
    /// [`init_for`](Self::init_for) for them.
    pub fn try_init(&self) -> Result<ModuleOptimizer, ConfigError> {
        let agm = self.try_build()?;
        let mut optim = module_optimizer(agm.clone(), &self.grad_clipping);
        for rule in &self.rules {
            let clip = self.grad_clipping.as_ref().map(|c| c.init());
            optim = optim.with_group(rule.group.clone(), agm.with_rule(rule.rule), clip);
        }
        Ok(optim)
    }

    /// Like [`try_init`](Self::try_init).
    ///
    /// # Panics
    /// If a hyperparameter is invalid.
    pub fn init(&self) -> ModuleOptimizer {
        or_panic(self.try_init())
    }

    /// The whole-module optimizer for `module`, with every rule of [`partition`](Self::partition).
    pub fn try_init_for<M: Module>(&self, module: &M) -> Result<ModuleOptimizer, ConfigError> {
        let report = self.partition(module)?;
        let agm = self.try_build()?;
        let mut optim = module_optimizer(agm.clone(), &self.grad_clipping);
        for entry in &report.entries {
            if entry.rule != self.default_rule {
                let clip = self.grad_clipping.as_ref().map(|c| c.init());
                let group = ParamGroup::from_ids(vec![entry.param.id]);
                optim = optim.with_group(group, agm.with_rule(entry.rule), clip);
            }
        }
        Ok(optim)
    }

    /// Like [`try_init_for`](Self::try_init_for).
    ///
    /// # Panics
    /// If a hyperparameter is invalid or a rule cannot partition a parameter.
    pub fn init_for<M: Module>(&self, module: &M) -> ModuleOptimizer {
        or_panic(self.try_init_for(module))
    }

    /// The rule each parameter of `module` gets, why, and its state size.
    ///
    /// Fails if a rule cannot partition the tensor it is given (heads not dividing the width).
    pub fn partition<M: Module>(&self, module: &M) -> Result<PartitionReport, ConfigError> {
        self.validate()?;
        let keeps_m = self.beta_1 > 0.0;
        let mut entries = Vec::new();
        for param in module_params(module) {
            let (rule, source, note) = self.resolve(&param);
            rule.check(&param.dims).map_err(|mut e| {
                e.value = format!("{} for parameter `{}`", e.value, param.path);
                e
            })?;
            entries.push(PartitionEntry {
                num_blocks: rule.num_blocks(&param.dims),
                state_bytes: agm_state_bytes(&param, rule, keeps_m),
                param,
                rule,
                source,
                note,
            });
        }
        Ok(PartitionReport {
            optimizer: "Adam-mini".into(),
            entries,
            keeps_first_moment: keeps_m,
        })
    }

    fn resolve(&self, param: &ParamInfo) -> (BlockRule, RuleSource, Option<String>) {
        if let Some((i, rule)) = self
            .rules
            .iter()
            .enumerate()
            .rfind(|(_, r)| r.group.matches(&param.id, Some(&param.path)))
        {
            return (rule.rule, RuleSource::UserRule(i), None);
        }
        let n = param.containers.len();
        let owner = param.containers.last().map(String::as_str);
        let segments: Vec<&str> = param.path.split('.').collect();
        if owner == Some("Struct:Embedding") {
            return (self.embedding_rule, RuleSource::Embedding, None);
        }
        let in_attention = n >= 2
            && param.containers[n - 2] == "Struct:MultiHeadAttention"
            && owner == Some("Struct:Linear")
            && segments.last() == Some(&"weight")
            && matches!(segments[segments.len() - 2], "query" | "key" | "value");
        if in_attention {
            return match self.attention_heads {
                Some(n_heads) => (BlockRule::Heads { n_heads }, RuleSource::Attention, None),
                None => (
                    self.default_rule,
                    RuleSource::Default,
                    Some("attention weight: set attention_heads for per-head blocks".into()),
                ),
            };
        }
        (self.default_rule, RuleSource::Default, None)
    }
}
