//! The diagonal preconditioner `S` of an adaptive optimizer, read from its saved state.
//!
//! Burn's `ModuleOptimizer::to_record()` decomposes every parameter's state into tensors named
//! `"{param_id}.{field}"`; the second moment `v` is the field ending in `moment_2` (this crate's
//! AGM optimizers: `moment_2`; Burn's Adam: `momentum.moment_2`). With `v` broadcast to its
//! parameter's dims by the optimizer's block rule,
//!
//! ```text
//! S = 1 / (v_hat^lambda + eps),   v_hat = v / (1 - beta_2^t) if bias-corrected, else v
//! ```
//!
//! and the top eigenvalue of `S^(1/2) H S^(1/2)` ([`Preconditioned`](crate::Preconditioned))
//! is the sharpness the optimizer sees.

use std::collections::BTreeMap;
use std::sync::Arc;

use adasharp_optim::{PartitionReport, Preconditioner};
use burn::optim::OptimizerRecord;
use burn::tensor::{Device, TensorData};

use crate::measures::block_labels_of;
use crate::{CurvatureError, ParamLayout, ParamVec, Result};

/// The tensors and scalars of an optimizer record, readable by name.
#[derive(Debug, Clone)]
pub struct OptimizerState {
    tensors: Vec<(String, TensorData)>,
    scalars: BTreeMap<String, burn_pack::Scalar>,
}

impl OptimizerState {
    /// Decodes `record` (through its burnpack bytes; Burn keeps the fields private).
    pub fn from_record(record: OptimizerRecord) -> Result<Self> {
        let fail = |e: &dyn std::fmt::Display| CurvatureError::OptimizerState(e.to_string());
        let bytes = record.into_bytes().map_err(|e| fail(&e))?;
        let reader = burn_pack::Reader::from_bytes(bytes).map_err(|e| fail(&e))?;
        let scalars = reader.scalars().clone();
        let mut tensors = Vec::new();
        for tensor in reader.into_tensors().map_err(|e| fail(&e))? {
            let (name, dtype, shape, _, bytes) = tensor.into_parts().map_err(|e| fail(&e))?;
            tensors.push((name, TensorData::from_bytes(bytes, shape, dtype)));
        }
        Ok(Self { tensors, scalars })
    }

    /// Names of all state tensors.
    pub fn tensor_names(&self) -> Vec<&str> {
        self.tensors.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The second-moment tensor of parameter `id` (`"{id}.moment_2"`, `"{id}.momentum.moment_2"`,
    /// or any `"{id}.*moment_2"`), with its name.
    pub fn moment_2(&self, id: u64) -> Option<(&str, &TensorData)> {
        let prefix = format!("{id}.");
        self.tensors
            .iter()
            .find(|(n, _)| n.starts_with(&prefix) && n.ends_with("moment_2"))
            .map(|(n, d)| (n.as_str(), d))
    }

    /// The step counter stored next to a state tensor (`...moment_2` -> `...time`).
    pub fn time_of(&self, tensor_name: &str) -> Option<usize> {
        let key = format!("{}time", tensor_name.strip_suffix("moment_2")?);
        usize::try_from(*self.scalars.get(&key)?).ok()
    }
}

/// How the second moment is bias-corrected before `S` is formed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BiasCorrection {
    /// Use `v` as stored (the paper's analysed Adam).
    None,
    /// Divide `v` by `1 - beta_2^t`, with `t` read from the state (Burn's Adam, and the AGM
    /// optimizers with `bias_correction = true`).
    Beta2(f64),
}

/// `v` of every parameter of `layout`, broadcast to the parameter's dims.
///
/// `partition` gives each parameter's block rule (`AdamMiniConfig::partition`,
/// `AdalayerConfig::partition`); without it every `v` must have its parameter's full size
/// (Adam, RMSProp, AdamE). Returns `v_hat` when `bias` asks for it.
pub fn second_moment(
    state: &OptimizerState,
    layout: &Arc<ParamLayout>,
    partition: Option<&PartitionReport>,
    bias: BiasCorrection,
    device: &Device,
) -> Result<ParamVec> {
    let mut flat = Vec::with_capacity(layout.numel());
    for slot in layout.slots() {
        let (name, data) = state.moment_2(slot.id.val()).ok_or_else(|| {
            CurvatureError::OptimizerState(format!(
                "no second moment for parameter `{}` (id {}); the optimizer has not stepped it, \
                 or keeps no `moment_2`",
                slot.path,
                slot.id.val()
            ))
        })?;
        let v: Vec<f64> = data.clone().try_into_vec_as::<f64>().map_err(|e| {
            CurvatureError::OptimizerState(format!("`{name}` is not a float tensor: {e}"))
        })?;
        let correction = match bias {
            BiasCorrection::None => 1.0,
            BiasCorrection::Beta2(beta_2) => {
                let t = state.time_of(name).ok_or_else(|| {
                    CurvatureError::OptimizerState(format!("no step counter next to `{name}`"))
                })?;
                1.0 / (1.0 - beta_2.powi(t as i32))
            }
        };
        let rule = partition
            .and_then(|p| p.entries.iter().find(|e| e.param.id == slot.id))
            .map(|e| e.rule);
        match rule {
            Some(rule) => {
                for label in block_labels_of(rule, &slot.dims, device) {
                    let value = v.get(label).ok_or_else(|| {
                        CurvatureError::OptimizerState(format!(
                            "`{name}` holds {} values, fewer than the {} blocks of rule {rule} \
                             on `{}`",
                            v.len(),
                            rule.num_blocks(&slot.dims),
                            slot.path
                        ))
                    })?;
                    flat.push(value * correction);
                }
            }
            None if v.len() == slot.numel() => flat.extend(v.iter().map(|x| x * correction)),
            None => {
                return Err(CurvatureError::OptimizerState(format!(
                    "`{name}` holds {} values for the {} coordinates of `{}`: pass the \
                     optimizer's partition to broadcast its blocks",
                    v.len(),
                    slot.numel(),
                    slot.path
                )));
            }
        }
    }
    ParamVec::from_flat(layout, &flat, device)
}

/// `S = 1 / (v_hat^lambda + eps)` for every coordinate, from an optimizer's record.
///
/// Pass the result to [`Preconditioned::new`](crate::Preconditioned::new) for the top
/// eigenvalue of `S^(1/2) H S^(1/2)`.
pub fn preconditioner_diag(
    record: OptimizerRecord,
    layout: &Arc<ParamLayout>,
    partition: Option<&PartitionReport>,
    preconditioner: Preconditioner,
    bias: BiasCorrection,
    device: &Device,
) -> Result<ParamVec> {
    let state = OptimizerState::from_record(record)?;
    let v = second_moment(&state, layout, partition, bias, device)?;
    Ok(v.map(|t| preconditioner.apply(t)))
}
