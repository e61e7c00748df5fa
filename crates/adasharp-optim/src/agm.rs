//! The adaptive-gradient-method (AGM) template shared by every optimizer in this crate except
//! Shampoo:
//!
//! ```text
//! m     <- b1 m + (1 - b1) g
//! v     <- b2 v + (1 - b2) V(g g^T)          V = block mean of g^2 under a BlockRule
//! theta <- theta - lr S(v) m                 S(v) = 1 / (v^lambda + eps)
//! ```
//!
//! Adam is `V = g^2` per element with `lambda = 1/2`; AdamE-lambda changes `lambda`; Adam-mini
//! and Adalayer change the block rule. Each public optimizer is a configuration of [`Agm`].

use burn::optim::{LearningRate, Optimizer, RecordState};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::BlockRule;

/// What a step does with a gradient holding NaN or infinity.
///
/// Detecting it reads one scalar back from the device per parameter tensor per step (the sum of
/// the step's block statistic `mean_B(g^2)`, which is non-finite exactly when some `g_i` is, or
/// when `g_i^2` overflows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NonFinitePolicy {
    /// Leave the parameter and its state untouched, count the step in the state's
    /// `skipped_steps`, and log a warning with the step number and tensor shape.
    #[default]
    Skip,
    /// Panic with the step number and tensor shape. A training loop that wants the parameter's
    /// path should call [`find_non_finite`](crate::find_non_finite) before stepping.
    Panic,
    /// Do not check (saves one device read per tensor per step); a non-finite gradient then
    /// propagates into the parameter and the state.
    Unchecked,
}

/// The preconditioner `S(v) = 1 / (v^lambda + eps)`, applied coordinate-wise (or per block).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preconditioner {
    /// The exponent `lambda` in `[0, 1)`; `1/2` for Adam-like methods, `0` gives SGD.
    pub lambda: f64,
    /// The damping `eps > 0`, added outside the power.
    pub epsilon: f64,
}

impl Preconditioner {
    /// `1 / (v^lambda + eps)`, with `v^(1/2)` computed as a square root and `v^0 = 1`.
    pub fn apply<const D: usize>(&self, v: Tensor<D>) -> Tensor<D> {
        // Square roots are several times cheaper than a general power on CPU backends.
        let powered = if self.lambda == 0.5 {
            v.sqrt()
        } else if self.lambda == 0.25 {
            v.sqrt().sqrt()
        } else if self.lambda == 0.0 {
            v.ones_like()
        } else {
            v.powf_scalar(self.lambda)
        };
        powered.add_scalar(self.epsilon).recip()
    }
}

/// One adaptive gradient method of the AGM template, applied to one parameter tensor at a time.
///
/// Built by [`AdamMiniConfig`](crate::AdamMiniConfig), [`AdalayerConfig`](crate::AdalayerConfig),
/// [`AdamEConfig`](crate::AdamEConfig), [`PaperAdamConfig`](crate::PaperAdamConfig) and
/// [`PaperRmsPropConfig`](crate::PaperRmsPropConfig); wrap it in Burn's `ModuleOptimizer` (their
/// `init()` does) to optimize a module.
#[derive(Debug, Clone)]
pub struct Agm {
    pub(crate) beta_1: f64,
    pub(crate) beta_2: f64,
    pub(crate) preconditioner: Preconditioner,
    pub(crate) bias_correction: bool,
    pub(crate) weight_decay: f64,
    pub(crate) rule: BlockRule,
    pub(crate) non_finite: NonFinitePolicy,
}

/// The state [`Agm`] keeps for one parameter tensor.
#[derive(RecordState, Clone)]
pub struct AgmState<const D: usize> {
    /// Number of steps taken (skipped steps excluded).
    pub time: usize,
    /// First moment `m`; absent when `beta_1 = 0`.
    pub moment_1: Option<Tensor<D>>,
    /// Second moment `v`, one value per block, in the rule's reduced shape.
    pub moment_2: Tensor<D>,
    /// Number of steps skipped because the gradient was not finite.
    pub skipped_steps: usize,
}

impl<const D: usize> AgmState<D> {
    fn moved_to(self, device: &Device) -> Self {
        Self {
            moment_1: self.moment_1.map(|m| m.to_device(device)),
            moment_2: self.moment_2.to_device(device),
            ..self
        }
    }
}

impl Agm {
    /// The block rule this optimizer applies to every tensor it steps.
    pub fn rule(&self) -> BlockRule {
        self.rule
    }

    /// The preconditioner `S(v)`.
    pub fn preconditioner(&self) -> Preconditioner {
        self.preconditioner
    }

    /// Whether the moments are bias-corrected.
    pub fn bias_correction(&self) -> bool {
        self.bias_correction
    }

    /// A copy that applies `rule` instead.
    pub fn with_rule(&self, rule: BlockRule) -> Self {
        Self {
            rule,
            ..self.clone()
        }
    }

    /// Whether a step whose fresh block statistic `mean_B(g^2)` is `stat` may proceed.
    ///
    /// A NaN or infinite gradient entry makes the statistic's sum non-finite, so checking one
    /// scalar of the (often much smaller) statistic replaces a full pass over the gradient. A
    /// finite gradient whose square overflows is refused the same way: its `v` would be infinite.
    fn accepts<const D: usize>(&self, stat: &Tensor<D>, step: usize) -> bool {
        if self.non_finite == NonFinitePolicy::Unchecked {
            return true;
        }
        let total = stat.clone().sum().into_scalar::<f64>();
        if total.is_finite() {
            return true;
        }
        let dims = stat.dims();
        let what = "non-finite gradient (or gradient whose square overflows)";
        match self.non_finite {
            NonFinitePolicy::Panic => {
                panic!("{what} at optimizer step {step} (statistic dims {dims:?})")
            }
            _ => {
                log::warn!("skipping step {step}: {what} (statistic dims {dims:?})");
                false
            }
        }
    }

    fn first_moment<const D: usize>(&self, grad: Tensor<D>, prev: Option<Tensor<D>>) -> Tensor<D> {
        let fresh = grad.mul_scalar(1.0 - self.beta_1);
        match prev {
            Some(m) => m.mul_scalar(self.beta_1) + fresh,
            None => fresh,
        }
    }

    /// `v <- b2 v + (1 - b2) stat`, where `stat = mean_B(g^2)` is already reduced to blocks.
    fn second_moment<const D: usize>(&self, stat: Tensor<D>, prev: Option<Tensor<D>>) -> Tensor<D> {
        let fresh = stat.mul_scalar(1.0 - self.beta_2);
        match prev {
            Some(v) => v.mul_scalar(self.beta_2) + fresh,
            None => fresh,
        }
    }
}

impl Optimizer for Agm {
    type State<const D: usize> = AgmState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let time = state.as_ref().map_or(0, |s| s.time) + 1;
        if let Err(err) = self.rule.check(&grad.dims()) {
            panic!("{err}");
        }
        let stat = self.rule.block_mean(grad.clone().square());
        if !self.accepts(&stat, time) {
            let state = state.map(|s| AgmState {
                skipped_steps: s.skipped_steps + 1,
                ..s
            });
            return (tensor, state);
        }
        let (prev_m, prev_v, skipped_steps) = match state {
            Some(s) => (s.moment_1, Some(s.moment_2), s.skipped_steps),
            None => (None, None, 0),
        };

        let moment_1 = (self.beta_1 > 0.0).then(|| self.first_moment(grad.clone(), prev_m));
        let moment_2 = self.second_moment(stat, prev_v);

        let mut m_hat = moment_1.clone().unwrap_or(grad);
        let mut v_hat = moment_2.clone();
        if self.bias_correction {
            if self.beta_1 > 0.0 {
                m_hat = m_hat.div_scalar(1.0 - self.beta_1.powi(time as i32));
            }
            v_hat = v_hat.div_scalar(1.0 - self.beta_2.powi(time as i32));
        }

        let direction = self
            .rule
            .scale_by_block(m_hat, self.preconditioner.apply(v_hat));

        let decayed = if self.weight_decay > 0.0 {
            tensor.mul_scalar(1.0 - lr * self.weight_decay)
        } else {
            tensor
        };
        let updated = decayed - direction.mul_scalar(lr);

        let state = AgmState {
            time,
            moment_1,
            moment_2,
            skipped_steps,
        };
        (updated, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.moved_to(device)
    }
}
