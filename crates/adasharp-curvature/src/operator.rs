//! The linear-operator interface every estimator is written against.
//!
//! A curvature matrix is never formed: an estimator only multiplies it with vectors. Anything
//! that can do `v -> A v` on a [`ParamLayout`] is a [`LinearOperator`]: the Hessian by finite
//! differences of gradients ([`Hvp`](crate::Hvp)), a dense matrix ([`DenseOperator`]), or a
//! preconditioned operator ([`Preconditioned`]). Estimators take any of them and a budget
//! counted in matrix-vector products.

use std::sync::Arc;

use burn::tensor::Device;

use crate::{CurvatureError, ParamLayout, ParamVec, Result};

/// What an operator has cost so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OperatorCost {
    /// Matrix-vector products computed (for a Hessian: HVPs).
    pub matvecs: usize,
    /// Gradient evaluations (forward + backward passes) spent on them.
    pub gradients: usize,
}

/// A symmetric linear operator `v -> A v` on the parameter space of a [`ParamLayout`].
pub trait LinearOperator {
    /// The coordinate system the operator acts on.
    fn layout(&self) -> &Arc<ParamLayout>;

    /// The device vectors for this operator live on (without autodiff).
    fn device(&self) -> Device;

    /// `A v`.
    fn apply(&mut self, v: &ParamVec) -> Result<ParamVec>;

    /// `A v` for each `v` of `vs`. The default applies them one at a time.
    fn apply_batch(&mut self, vs: &[ParamVec]) -> Result<Vec<ParamVec>> {
        vs.iter().map(|v| self.apply(v)).collect()
    }

    /// The cost so far; estimators report the difference over their run.
    fn cost(&self) -> OperatorCost;

    /// Dimension `n` of the `n x n` matrix.
    fn dim(&self) -> usize {
        self.layout().numel()
    }
}

impl<O: LinearOperator + ?Sized> LinearOperator for &mut O {
    fn layout(&self) -> &Arc<ParamLayout> {
        (**self).layout()
    }
    fn device(&self) -> Device {
        (**self).device()
    }
    fn apply(&mut self, v: &ParamVec) -> Result<ParamVec> {
        (**self).apply(v)
    }
    fn apply_batch(&mut self, vs: &[ParamVec]) -> Result<Vec<ParamVec>> {
        (**self).apply_batch(vs)
    }
    fn cost(&self) -> OperatorCost {
        (**self).cost()
    }
}

/// Checks that `v` was built for `layout`.
pub(crate) fn check_layout(layout: &Arc<ParamLayout>, v: &ParamVec) -> Result<()> {
    if Arc::ptr_eq(layout, v.layout()) || **layout == **v.layout() {
        Ok(())
    } else {
        Err(CurvatureError::LayoutMismatch(format!(
            "a vector of {} coordinates in {} parameters applied to an operator of {} coordinates \
             in {} parameters",
            v.numel(),
            v.layout().len(),
            layout.numel(),
            layout.len()
        )))
    }
}

/// A symmetric matrix held on the host, as an operator (for small problems and for testing
/// estimators against known spectra).
#[derive(Debug, Clone)]
pub struct DenseOperator {
    layout: Arc<ParamLayout>,
    device: Device,
    n: usize,
    matrix: Vec<f64>,
    cost: OperatorCost,
}

impl DenseOperator {
    /// The operator of the row-major `n x n` matrix `matrix` on `layout` (`n = layout.numel()`).
    ///
    /// The matrix is used as given; estimators assume it is symmetric.
    pub fn new(layout: Arc<ParamLayout>, matrix: Vec<f64>, device: &Device) -> Result<Self> {
        let n = layout.numel();
        if matrix.len() != n * n {
            return Err(CurvatureError::LayoutMismatch(format!(
                "a matrix of {} entries for {n} coordinates (expected {})",
                matrix.len(),
                n * n
            )));
        }
        Ok(Self {
            layout,
            device: device.clone().inner(),
            n,
            matrix,
            cost: OperatorCost::default(),
        })
    }

    /// The row-major entries.
    pub fn matrix(&self) -> &[f64] {
        &self.matrix
    }

    /// `A x` on host vectors.
    pub fn mul_flat(&self, x: &[f64]) -> Vec<f64> {
        self.matrix
            .chunks(self.n)
            .map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum())
            .collect()
    }
}

impl LinearOperator for DenseOperator {
    fn layout(&self) -> &Arc<ParamLayout> {
        &self.layout
    }

    fn device(&self) -> Device {
        self.device.clone()
    }

    fn apply(&mut self, v: &ParamVec) -> Result<ParamVec> {
        check_layout(&self.layout, v)?;
        self.cost.matvecs += 1;
        let out = self.mul_flat(&v.to_flat());
        ParamVec::from_flat(&self.layout, &out, &self.device)
    }

    fn cost(&self) -> OperatorCost {
        self.cost
    }
}

/// The symmetrically preconditioned operator `S^(1/2) A S^(1/2)` for a diagonal `S > 0`.
///
/// Its eigenvalues are those of `S A` (similar matrices), which is the curvature an adaptive
/// method with preconditioner `S` sees: its top eigenvalue is the preconditioned sharpness.
#[derive(Debug)]
pub struct Preconditioned<O> {
    inner: O,
    sqrt_s: ParamVec,
}

impl<O: LinearOperator> Preconditioned<O> {
    /// Wraps `inner` with the diagonal preconditioner `s` (every coordinate `> 0`).
    pub fn new(inner: O, s: &ParamVec) -> Result<Self> {
        check_layout(inner.layout(), s)?;
        let min = s.to_flat().into_iter().fold(f64::INFINITY, f64::min);
        if min.is_nan() || min <= 0.0 {
            return Err(CurvatureError::invalid(
                "s",
                format!("a preconditioner must be positive; its smallest entry is {min}"),
            ));
        }
        Ok(Self {
            inner,
            sqrt_s: s.map(|t| t.sqrt()),
        })
    }

    /// The wrapped operator.
    pub fn inner(&self) -> &O {
        &self.inner
    }

    /// `S^(1/2)`.
    pub fn sqrt_s(&self) -> &ParamVec {
        &self.sqrt_s
    }
}

impl<O: LinearOperator> LinearOperator for Preconditioned<O> {
    fn layout(&self) -> &Arc<ParamLayout> {
        self.inner.layout()
    }

    fn device(&self) -> Device {
        self.inner.device()
    }

    fn apply(&mut self, v: &ParamVec) -> Result<ParamVec> {
        let scaled = self.sqrt_s.mul(v);
        Ok(self.sqrt_s.mul(&self.inner.apply(&scaled)?))
    }

    fn cost(&self) -> OperatorCost {
        self.inner.cost()
    }
}
