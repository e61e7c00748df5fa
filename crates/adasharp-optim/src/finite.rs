//! Finding non-finite gradients by parameter path, before an optimizer step.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

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
/// Costs one device read per parameter that has a gradient. A training loop calls it before
/// `ModuleOptimizer::step` to stop with the parameter's path and its own step number.
pub fn find_non_finite<M: Module>(
    module: &M,
    grads: &GradientsParams,
) -> Option<NonFiniteGradient> {
    let mut finder = Finder {
        grads,
        segments: Vec::new(),
        found: None,
    };
    module.visit(&mut finder);
    finder.found
}

struct Finder<'a> {
    grads: &'a GradientsParams,
    segments: Vec<String>,
    found: Option<NonFiniteGradient>,
}

impl ModuleVisitor for Finder<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.segments.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.segments.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.found.is_some() {
            return;
        }
        let Some(grad) = self.grads.get::<D>(param.id) else {
            return;
        };
        let dims = grad.dims().to_vec();
        if !grad.is_finite().all().into_scalar::<bool>() {
            self.found = Some(NonFiniteGradient {
                path: self.segments.join("."),
                dims,
            });
        }
    }
}
