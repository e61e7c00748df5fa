//! The state Shampoo keeps for one parameter tensor.

use burn::optim::{RecordState, StateSink, StateSource, join_path};
use burn::tensor::{DType, Device, Tensor};
use burn_pack::Scalar;

/// The Kronecker factors of one block `G_b` of a parameter's matrix view.
#[derive(RecordState, Clone)]
pub struct FactorBlock {
    /// Left statistic `L <- b2 L + (1 - b2) G_b G_b^T` (rows x rows).
    pub left: Tensor<2>,
    /// Right statistic `R <- b2 R + (1 - b2) G_b^T G_b` (cols x cols).
    pub right: Tensor<2>,
    /// Last good `(L_hat + eps I)^(-e)`; absent until the first successful computation.
    pub left_root: Option<Tensor<2>>,
    /// Last good `(R_hat + eps I)^(-e)`; absent until the first successful computation.
    pub right_root: Option<Tensor<2>>,
}

impl FactorBlock {
    /// Zero statistics and no roots for a `rows x cols` block.
    pub(crate) fn zeros(rows: usize, cols: usize, device: &Device, dtype: DType) -> Self {
        Self {
            left: Tensor::zeros([rows, rows], (device, dtype)),
            right: Tensor::zeros([cols, cols], (device, dtype)),
            left_root: None,
            right_root: None,
        }
    }

    fn into_device(self, device: &Device) -> Self {
        Self {
            left: self.left.to_device(device),
            right: self.right.to_device(device),
            left_root: self.left_root.map(|x| x.to_device(device)),
            right_root: self.right_root.map(|x| x.to_device(device)),
        }
    }
}

/// The factor blocks of one parameter, in row-major block order; empty for parameters stepped
/// by the diagonal method.
///
/// Recorded as a `len` scalar and one nested [`FactorBlock`] per index (`factors.0.left`, ...).
#[derive(Clone, Default)]
pub struct Factors(pub Vec<FactorBlock>);

impl RecordState for Factors {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_scalar(prefix, "len", Scalar::from(self.0.len()));
        for (index, block) in self.0.iter().enumerate() {
            block.state_flatten(&join_path(prefix, &index.to_string()), out);
        }
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let len = usize::try_from(src.take_scalar(prefix, "len")?).ok()?;
        (0..len)
            .map(|index| {
                FactorBlock::state_unflatten(&join_path(prefix, &index.to_string()), src, device)
            })
            .collect::<Option<Vec<_>>>()
            .map(Factors)
    }
}

/// The state [`Shampoo`](super::Shampoo) keeps for one parameter tensor.
#[derive(RecordState, Clone)]
pub struct ShampooState<const D: usize> {
    /// Number of steps taken (skipped steps excluded).
    pub time: usize,
    /// Momentum `m <- b1 m + (1 - b1) g`; absent when `beta_1 = 0`.
    pub momentum: Option<Tensor<D>>,
    /// Second moment `v` of the grafting (diagonal) method.
    pub graft_moment: Tensor<D>,
    /// Kronecker factors per block of the matrix view.
    pub factors: Factors,
    /// Number of steps at which the inverse roots were recomputed.
    pub root_computations: usize,
    /// Number of inverse roots (one per factor per block) that failed and were not replaced.
    pub root_failures: usize,
    /// Number of steps skipped because the gradient was not finite.
    pub skipped_steps: usize,
}

impl<const D: usize> ShampooState<D> {
    /// Moves every tensor of the state to `device`.
    pub fn to_device(self, device: &Device) -> Self {
        Self {
            momentum: self.momentum.map(|m| m.to_device(device)),
            graft_moment: self.graft_moment.to_device(device),
            factors: Factors(
                self.factors
                    .0
                    .into_iter()
                    .map(|b| b.into_device(device))
                    .collect(),
            ),
            ..self
        }
    }
}
