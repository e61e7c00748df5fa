//! Reading an optimizer's per-parameter state back out of a Burn `ModuleOptimizer`.
//!
//! `ModuleOptimizer` keeps its states private; its serialized record (burnpack bytes) names
//! every state tensor `"{param_id}.{field path}"`. Curvature tools use this to build the
//! preconditioner `S(v)` an optimizer is applying right now.

use std::collections::BTreeMap;

use burn::module::ParamId;
use burn::optim::ModuleOptimizer;
use burn::tensor::TensorData;

/// A state tensor of one parameter, as saved by the optimizer.
#[derive(Debug, Clone)]
pub struct StateTensor {
    /// The field path inside the parameter's state (`moment_2`, `momentum.moment_2`, ...).
    pub field: String,
    /// The values, in the dtype and shape they were saved with.
    pub data: TensorData,
}

/// Every state tensor of `optim`, grouped by parameter.
///
/// Costs one serialization of the whole state; meant for occasional evaluation, not every step.
pub fn state_tensors(
    optim: &ModuleOptimizer,
) -> Result<BTreeMap<ParamId, Vec<StateTensor>>, String> {
    let bytes = optim
        .into_bytes()
        .map_err(|e| format!("cannot serialize optimizer state: {e:?}"))?;
    let reader =
        burn_pack::Reader::from_bytes(bytes).map_err(|e| format!("cannot read state: {e:?}"))?;
    let mut out: BTreeMap<ParamId, Vec<StateTensor>> = BTreeMap::new();
    for tensor in reader
        .into_tensors()
        .map_err(|e| format!("cannot read state: {e:?}"))?
    {
        let (name, dtype, shape, param_id, bytes) = tensor
            .into_parts()
            .map_err(|e| format!("cannot read state: {e:?}"))?;
        let Some(id) = param_id else { continue };
        let prefix = format!("{id}.");
        let field = name.strip_prefix(&prefix).unwrap_or(&name).to_string();
        out.entry(ParamId::from(id)).or_default().push(StateTensor {
            field,
            data: TensorData::from_bytes(bytes, shape, dtype),
        });
    }
    Ok(out)
}

/// The second moment `v` of each parameter, for this crate's optimizers (field `moment_2`) and
/// Burn's `Adam`/`AdamW` (field `momentum.moment_2`), in the shape the optimizer keeps it: the
/// full parameter shape for per-element methods, the block rule's reduced shape otherwise.
pub fn second_moments(optim: &ModuleOptimizer) -> Result<BTreeMap<ParamId, TensorData>, String> {
    Ok(state_tensors(optim)?
        .into_iter()
        .filter_map(|(id, tensors)| {
            tensors
                .into_iter()
                .find(|t| t.field == "moment_2" || t.field == "momentum.moment_2")
                .map(|t| (id, t.data))
        })
        .collect())
}
