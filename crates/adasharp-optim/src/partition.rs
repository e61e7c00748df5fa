//! Which block rule each parameter of a module gets, and what its optimizer state costs.
//!
//! The report is computed from the module alone, before the first step, with the same rule
//! resolution the optimizer's parameter groups apply during training.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

use crate::BlockRule;

/// Why a parameter got its block rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    /// No rule named it: the config's `default_rule` applies.
    Default,
    /// The weight of a Burn `Embedding`: the config's `embedding_rule` applies.
    Embedding,
    /// A query, key or value weight of a Burn `MultiHeadAttention`, split by `attention_heads`.
    Attention,
    /// The user rule at this index of the config's `rules` (the last matching rule wins).
    UserRule(usize),
}

impl std::fmt::Display for RuleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleSource::Default => f.write_str("default"),
            RuleSource::Embedding => f.write_str("embedding"),
            RuleSource::Attention => f.write_str("attention"),
            RuleSource::UserRule(i) => write!(f, "rule #{i}"),
        }
    }
}

/// A float parameter of a module, as the optimizer sees it.
#[derive(Debug, Clone)]
pub struct ParamInfo {
    /// Dot-separated path (`layers.0.weight`), as Burn's `ModuleOptimizer` names it.
    pub path: String,
    /// The parameter's id.
    pub id: ParamId,
    /// The tensor dims.
    pub dims: Vec<usize>,
    /// Bytes per element of the parameter's dtype.
    pub elem_bytes: usize,
    /// The container type of each path segment (`Struct:Linear`, ...), outermost first.
    pub containers: Vec<String>,
}

impl ParamInfo {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.dims.iter().product()
    }
}

/// Lists every float parameter of `module` with its path, dims and enclosing module types.
pub fn module_params<M: Module>(module: &M) -> Vec<ParamInfo> {
    let mut visitor = ParamLister::default();
    module.visit(&mut visitor);
    visitor.params
}

#[derive(Default)]
struct ParamLister {
    segments: Vec<String>,
    containers: Vec<String>,
    params: Vec<ParamInfo>,
}

impl ModuleVisitor for ParamLister {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.segments.push(name.to_string());
        self.containers.push(container_type.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.segments.pop();
        self.containers.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        self.params.push(ParamInfo {
            path: self.segments.join("."),
            id: param.id,
            dims: value.dims().to_vec(),
            elem_bytes: value.dtype().size(),
            containers: self.containers.clone(),
        });
    }
}

/// One parameter's line in a [`PartitionReport`].
#[derive(Debug, Clone)]
pub struct PartitionEntry {
    /// The parameter.
    pub param: ParamInfo,
    /// The rule applied to it.
    pub rule: BlockRule,
    /// Why that rule.
    pub source: RuleSource,
    /// Number of blocks, i.e. of second-moment values kept.
    pub num_blocks: usize,
    /// Bytes of optimizer state (first moment, if kept, plus one value per block).
    pub state_bytes: usize,
    /// A remark for the user, e.g. that attention was found but `attention_heads` is unset.
    pub note: Option<String>,
}

/// The block partition of every parameter of a module, with state sizes.
#[derive(Debug, Clone)]
pub struct PartitionReport {
    /// The optimizer's name.
    pub optimizer: String,
    /// One entry per float parameter, in module order.
    pub entries: Vec<PartitionEntry>,
    /// Whether the first moment is kept (`beta_1 > 0`).
    pub keeps_first_moment: bool,
}

impl PartitionReport {
    /// Total bytes of optimizer state.
    pub fn state_bytes(&self) -> usize {
        self.entries.iter().map(|e| e.state_bytes).sum()
    }

    /// Bytes of state Burn's `Adam` would keep for the same parameters (two moments per element).
    pub fn adam_state_bytes(&self) -> usize {
        self.entries
            .iter()
            .map(|e| 2 * e.param.numel() * e.param.elem_bytes)
            .sum()
    }

    /// The entry for the parameter at `path`, if any.
    pub fn entry(&self, path: &str) -> Option<&PartitionEntry> {
        self.entries.iter().find(|e| e.param.path == path)
    }
}

impl std::fmt::Display for PartitionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} block partition", self.optimizer)?;
        writeln!(
            f,
            "{:<32} {:<14} {:<12} {:<10} {:>8} {:>12}",
            "parameter", "shape", "rule", "source", "blocks", "state bytes"
        )?;
        for e in &self.entries {
            writeln!(
                f,
                "{:<32} {:<14} {:<12} {:<10} {:>8} {:>12}{}",
                e.param.path,
                format!("{:?}", e.param.dims),
                e.rule.name(),
                e.source.to_string(),
                e.num_blocks,
                e.state_bytes,
                e.note
                    .as_deref()
                    .map(|n| format!("  ({n})"))
                    .unwrap_or_default()
            )?;
        }
        write!(
            f,
            "total state: {} bytes ({:.1}% of Adam's {} bytes)",
            self.state_bytes(),
            100.0 * self.state_bytes() as f64 / self.adam_state_bytes().max(1) as f64,
            self.adam_state_bytes()
        )
    }
}

/// Bytes of AGM state for one parameter under `rule`.
pub(crate) fn agm_state_bytes(
    param: &ParamInfo,
    rule: BlockRule,
    keeps_first_moment: bool,
) -> usize {
    let m = if keeps_first_moment { param.numel() } else { 0 };
    (m + rule.num_blocks(&param.dims)) * param.elem_bytes
}
