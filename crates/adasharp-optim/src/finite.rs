//! Finding non-finite gradients by parameter path, before an optimizer step.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::module_params;

/// A parameter whose gradient holds NaN or infinity.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("non-finite gradient for parameter `{path}` (dims {dims:?})")]
pub struct NonFiniteGradient {
    /// The parameter's path in the module.
    pub path: String,
    /// The parameter's dims.
    pub dims: Vec<usize>,
}

/// The first parameter of `module` (in module order) whose gradient in `grads` is not finite.
///
/// Costs one device read per parameter. A training loop calls it before
/// `ModuleOptimizer::step` to stop with the parameter's path and its own step number.
pub fn find_non_finite<M: Module>(module: &M, grads: &GradientsParams) -> Option<NonFiniteGradient> {
    module_params(module).into_iter().find_map(|param| {
        let finite = match param.dims.len() {
            1 => all_finite::<1>(grads, &param),
            2 => all_finite::<2>(grads, &param),
            3 => all_finite::<3>(grads, &param),
            4 => all_finite::<4>(grads, &param),
            _ => Some(true),
        };
        (finite == Some(false)).then(|| NonFiniteGradient {
            path: param.path,
            dims: param.dims,
        })
    })
}

fn all_finite<const D: usize>(
    grads: &GradientsParams,
    param: &crate::partition::ParamInfo,
) -> Option<bool> {
    let grad: Tensor<D> = grads.get(param.id)?;
    Some(grad.is_finite().all().into_scalar::<bool>())
}
