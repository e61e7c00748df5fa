//! Shampoo: Kronecker-factored preconditioning of matrix parameters, with robust inverse roots.
//!
//! For a parameter whose gradient has the matrix view `G` (`d1 x d2`, see *Shapes* below):
//!
//! ```text
//! m <- b1 m + (1 - b1) G                        (momentum; m = G when b1 = 0)
//! L <- b2 L + (1 - b2) G G^T                    (L <- L + G G^T when b2 = 1: AdaGrad form)
//! R <- b2 R + (1 - b2) G^T G
//! D  = (L_hat + eps I)^(-e) m_hat (R_hat + eps I)^(-e)        e = 1/4 by default
//! u  = ||a||_F D / ||D||_F                      (grafting; a = Adam's or AdaGrad's step)
//! theta <- (1 - lr wd) theta - lr u
//! ```
//!
//! With `e = 1/4` the direction is `((R + eps I) kron (L + eps I))^(-1/2) vec(m)`, the form the
//! paper analyses (there with `b1 = 0` and no grafting: [`Grafting::None`]). `L_hat = L / (1 -
//! b2^t)` and `m_hat = m / (1 - b1^t)` when `bias_correction` is on.
//!
//! # Design
//!
//! - Statistics, momentum and the current roots live on the parameter's device in its dtype;
//!   the per-step work (`G G^T`, `G^T G`, two matmuls per block) is on-device.
//! - Every `precondition_interval` steps the statistics are read to the host, their inverse
//!   roots are computed in f64 by symmetric eigendecomposition ([`inverse_root`]), and uploaded
//!   in the parameter's dtype. Between recomputations the stored roots are reused.
//! - A root that fails (non-finite statistic, no convergence, backward error above
//!   `max_root_residual`) is not used: the previous good root stays, the failure is counted in
//!   [`ShampooState::root_failures`] and logged. Until every block has a good root the
//!   parameter takes the grafting method's step.
//! - A statistic update that overflows (for example `G G^T` of a gradient with entries near
//!   `1e20` in f32) is dropped as a whole, keeping the previous statistic, so that it stays
//!   positive semi-definite; the grafting method's second moment instead saturates entry-wise at
//!   the dtype's largest finite value. A non-finite Shampoo update falls back to the grafting
//!   step, and any entry that is still non-finite is zeroed, so a step never writes NaN into
//!   the parameter. These checks run on the device and cost no host read.
//!
//! # Shapes
//!
//! - Rank-1 parameters (biases, norms) take the grafting method's step.
//! - A tensor of dims `[d_1, ..., d_k]`, `k >= 2`, is preconditioned as the matrix
//!   `[d_1 * ... * d_(k-1), d_k]`: the leading dims are merged into the rows and the last dim is
//!   kept as the columns. A Burn `Linear` weight `[d_input, d_output]` is its own matrix; a
//!   convolution kernel `[c_out, c_in, k_h, k_w]` becomes `[c_out * c_in * k_h, k_w]`.
//! - A side longer than `max_preconditioner_dim` is cut into `ceil(n / max)` contiguous ranges
//!   whose lengths differ by at most one; every (row range, column range) block gets its own
//!   factors and roots. Grafting still uses the norm of the whole tensor.
//!
//! # Cost
//!
//! Per step and block of `r x c`: two statistic products (`2 r c (r + c)` flops) and two
//! preconditioning products (the same), against about `10 r c` for Adam; every
//! `precondition_interval` steps, two host eigendecompositions (`O(r^3 + c^3)`). Measured with
//! Flex f32 on 2 CPU cores, a 512 x 512 parameter at `precondition_interval = 10` costs about
//! 33 ms per step with `max_preconditioner_dim = 512` (a 512 x 512 inverse root takes 95 ms)
//! and 17 ms with 256, against 0.4 ms for Burn's Adam: Shampoo is far from Adam's cost on a
//! CPU, where the statistic products alone are `O(n^3)` against Adam's `O(n^2)`.
//!
//! Limitation: roots are only computed on the host, so each recomputation reads every
//! statistic back from the device and uploads the roots; there is no on-device coupled Newton
//! iteration yet. On an accelerator with large factors this transfer and the `O(n^3)` host
//! eigendecomposition dominate the amortised step time; lower `max_preconditioner_dim` or raise
//! `precondition_interval` to trade accuracy of the preconditioner for speed.
//!
//! Limitation: statistics are accumulated in the parameter's dtype, so in f32 their eigenvalues
//! below about `1e-7` times the largest are round-off; `epsilon` should not be relied on to
//! resolve directions finer than that. The inverse root amplifies that round-off by up to
//! `epsilon^(-1/4)`: with the default `epsilon = 1e-12`, the same 20 steps on Flex, NdArray and
//! wgpu (all f32) ended up to `3e-2` apart on a small MLP; with `epsilon = 1e-4`, `2e-5` apart.
//! Raise `epsilon` (relative to the gradients' scale) when runs must be reproducible across
//! backends.

mod graft;
mod inverse_root;
mod layout;
mod state;
#[cfg(test)]
mod tests;

pub use graft::Grafting;
pub use inverse_root::{InverseRoot, RootError, inverse_root};
pub use state::{FactorBlock, Factors, ShampooState};

use burn::config::Config;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor, TensorData};
use nalgebra::DMatrix;

use crate::error::{check_beta, check_epsilon, check_weight_decay};
use crate::{ConfigError, NonFinitePolicy};
use graft::Diagonal;
use layout::Layout;

const NAME: &str = "Shampoo";

/// Configuration of [`Shampoo`].
///
/// ```
/// use adasharp_optim::{Grafting, ShampooConfig};
/// use burn::module::Module;
/// use burn::nn::{Linear, LinearConfig};
/// use burn::optim::GradientsParams;
/// use burn::tensor::{Device, Tensor};
///
/// let device = Device::flex().autodiff();
/// let model: Linear = LinearConfig::new(3, 2).init(&device);
/// let mut optim = ShampooConfig::new()
///     .with_precondition_interval(5)
///     .with_grafting(Grafting::AdaGrad)
///     .init();
///
/// let x = Tensor::<2>::ones([4, 3], &device);
/// let loss = model.forward(x).powf_scalar(2.0).mean();
/// let grads = GradientsParams::from_grads(loss.backward(), &model);
/// let model = optim.step(1e-2, model, grads);
/// # let _ = model;
/// ```
#[derive(Config, Debug)]
pub struct ShampooConfig {
    /// Momentum decay `b1` in `[0, 1)`: `m <- b1 m + (1 - b1) g`; `0` keeps no momentum.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Statistics decay `b2` in `[0, 1]`: `L <- b2 L + (1 - b2) G G^T`; `1` sums `G G^T`.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Damping `eps > 0`: the roots are of `L_hat + eps I` and `R_hat + eps I`.
    #[config(default = 1e-12)]
    pub epsilon: f64,
    /// Exponent `e` in `(0, 1]` of each factor's inverse root; `1/4` is the paper's form.
    #[config(default = 0.25)]
    pub exponent: f64,
    /// Steps between recomputations of the inverse roots (at least 1); reused in between.
    #[config(default = 10)]
    pub precondition_interval: usize,
    /// First step (counting from 1) that computes roots and uses Shampoo's direction.
    #[config(default = 1)]
    pub start_preconditioning_step: usize,
    /// Largest side of a Kronecker factor (at least 1); longer sides are split into blocks.
    #[config(default = 512)]
    pub max_preconditioner_dim: usize,
    /// The diagonal method that sets the step norm and steps rank-0/1 parameters.
    #[config(default = "Grafting::Adam")]
    pub grafting: Grafting,
    /// Decay of Adam grafting's second moment `v`, in `[0, 1)`.
    #[config(default = 0.999)]
    pub graft_beta_2: f64,
    /// Damping `eps > 0` added to `sqrt(v)` in the grafting method's step.
    #[config(default = 1e-8)]
    pub graft_epsilon: f64,
    /// Divide `m` by `1 - b1^t`, Adam's `v` by `1 - graft_beta_2^t`, `L`, `R` by `1 - b2^t`.
    #[config(default = true)]
    pub bias_correction: bool,
    /// Decoupled weight decay: each step multiplies the parameter by `1 - lr * weight_decay`.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Largest accepted eigendecomposition backward error; a worse root is rejected.
    #[config(default = 1e-8)]
    pub max_root_residual: f64,
    /// What to do with a non-finite gradient.
    #[config(default = "NonFinitePolicy::Skip")]
    pub non_finite: NonFinitePolicy,
    /// Burn's gradient clipping, applied before the step.
    pub grad_clipping: Option<GradientClippingConfig>,
}

impl ShampooConfig {
    /// The per-tensor optimizer, or the first invalid hyperparameter.
    pub fn try_build(&self) -> Result<Shampoo, ConfigError> {
        check_beta(NAME, "beta_1", self.beta_1)?;
        if !(self.beta_2.is_finite() && (0.0..=1.0).contains(&self.beta_2)) {
            return Err(ConfigError::new(
                NAME,
                "beta_2",
                self.beta_2,
                "a number in [0, 1]",
            ));
        }
        check_epsilon(NAME, "epsilon", self.epsilon)?;
        if !(self.exponent.is_finite() && self.exponent > 0.0 && self.exponent <= 1.0) {
            return Err(ConfigError::new(
                NAME,
                "exponent",
                self.exponent,
                "a number in (0, 1]",
            ));
        }
        let counts = [
            ("precondition_interval", self.precondition_interval),
            (
                "start_preconditioning_step",
                self.start_preconditioning_step,
            ),
            ("max_preconditioner_dim", self.max_preconditioner_dim),
        ];
        if let Some((field, value)) = counts.into_iter().find(|(_, value)| *value == 0) {
            return Err(ConfigError::new(NAME, field, value, "an integer >= 1"));
        }
        check_beta(NAME, "graft_beta_2", self.graft_beta_2)?;
        check_epsilon(NAME, "graft_epsilon", self.graft_epsilon)?;
        check_weight_decay(NAME, self.weight_decay)?;
        check_epsilon(NAME, "max_root_residual", self.max_root_residual)?;

        Ok(Shampoo {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            exponent: self.exponent,
            precondition_interval: self.precondition_interval,
            start_preconditioning_step: self.start_preconditioning_step,
            max_preconditioner_dim: self.max_preconditioner_dim,
            diagonal: Diagonal {
                grafting: self.grafting,
                beta_2: self.graft_beta_2,
                epsilon: self.graft_epsilon,
                bias_correction: self.bias_correction,
            },
            bias_correction: self.bias_correction,
            weight_decay: self.weight_decay,
            max_root_residual: self.max_root_residual,
            non_finite: self.non_finite,
        })
    }

    /// Like `try_build`, for `ModuleOptimizer::with_group`.
    ///
    /// # Panics
    /// If a hyperparameter is invalid; the message names the field, the value and what is
    /// allowed.
    pub fn build(&self) -> Shampoo {
        crate::hyper::or_panic(self.try_build())
    }

    /// The whole-module optimizer (a Burn `ModuleOptimizer`), or the first invalid
    /// hyperparameter.
    pub fn try_init(&self) -> Result<ModuleOptimizer, ConfigError> {
        let optim = ModuleOptimizer::from(self.try_build()?);
        Ok(match &self.grad_clipping {
            Some(config) => optim.with_grad_clipping(config.init()),
            None => optim,
        })
    }

    /// Like `try_init`; swaps in for `AdamConfig::new().init()`.
    ///
    /// # Panics
    /// If a hyperparameter is invalid.
    pub fn init(&self) -> ModuleOptimizer {
        crate::hyper::or_panic(self.try_init())
    }
}

/// Shampoo, applied to one parameter tensor at a time; built by [`ShampooConfig`].
#[derive(Debug, Clone)]
pub struct Shampoo {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    exponent: f64,
    precondition_interval: usize,
    start_preconditioning_step: usize,
    max_preconditioner_dim: usize,
    diagonal: Diagonal,
    bias_correction: bool,
    weight_decay: f64,
    max_root_residual: f64,
    non_finite: NonFinitePolicy,
}

impl Shampoo {
    /// Whether step `time` (counting from 1) recomputes the inverse roots: the steps
    /// `start, start + k, start + 2k, ...` with `k = precondition_interval`.
    pub fn is_root_step(&self, time: usize) -> bool {
        time >= self.start_preconditioning_step
            && (time - self.start_preconditioning_step).is_multiple_of(self.precondition_interval)
    }

    /// Whether `grad` may be used, according to the non-finite policy.
    fn accepts<const D: usize>(&self, grad: &Tensor<D>, step: usize) -> bool {
        if self.non_finite == NonFinitePolicy::Unchecked {
            return true;
        }
        if grad.clone().is_finite().all().into_scalar::<bool>() {
            return true;
        }
        let dims = grad.dims();
        if self.non_finite == NonFinitePolicy::Panic {
            panic!("non-finite gradient at optimizer step {step} for a tensor of dims {dims:?}");
        }
        log::warn!("skipping step {step}: non-finite gradient for a tensor of dims {dims:?}");
        false
    }

    /// A fresh state for a parameter like `grad`, with zero statistics for every block.
    fn init_state<const D: usize>(
        &self,
        grad: &Tensor<D>,
        layout: Option<&Layout>,
    ) -> ShampooState<D> {
        ShampooState {
            time: 0,
            momentum: None,
            graft_moment: grad.zeros_like(),
            factors: self.zero_factors(grad, layout),
            root_computations: 0,
            root_failures: 0,
            skipped_steps: 0,
        }
    }

    fn zero_factors<const D: usize>(&self, grad: &Tensor<D>, layout: Option<&Layout>) -> Factors {
        let (device, dtype) = (grad.device(), grad.dtype());
        let blocks = layout.map_or_else(Vec::new, |layout| {
            let shapes = layout.block_shapes().into_iter();
            shapes
                .map(|(r, c)| FactorBlock::zeros(r, c, &device, dtype))
                .collect()
        });
        Factors(blocks)
    }

    /// `m <- b1 m + (1 - b1) g`.
    fn momentum<const D: usize>(&self, grad: Tensor<D>, prev: Option<Tensor<D>>) -> Tensor<D> {
        let fresh = grad.mul_scalar(1.0 - self.beta_1);
        match prev {
            Some(m) => m.mul_scalar(self.beta_1) + fresh,
            None => fresh,
        }
    }

    /// `S <- b2 S + (1 - b2) fresh`, or `S + fresh` when `b2 = 1`.
    fn decayed_sum(&self, prev: Tensor<2>, fresh: Tensor<2>) -> Tensor<2> {
        if self.beta_2 == 1.0 {
            prev + fresh
        } else {
            prev.mul_scalar(self.beta_2) + fresh.mul_scalar(1.0 - self.beta_2)
        }
    }

    /// Adds `G_b G_b^T` and `G_b^T G_b` of every block to its statistics, dropping an update
    /// that overflows.
    fn accumulate(&self, factors: &mut [FactorBlock], blocks: Vec<Tensor<2>>) {
        for (factor, g) in factors.iter_mut().zip(blocks) {
            let left =
                self.decayed_sum(factor.left.clone(), g.clone().matmul(g.clone().transpose()));
            let right = self.decayed_sum(factor.right.clone(), g.clone().transpose().matmul(g));
            factor.left = finite_or(left, factor.left.clone());
            factor.right = finite_or(right, factor.right.clone());
        }
    }

    /// Recomputes every block's two roots, keeping the previous root where one fails.
    fn recompute_roots(&self, factors: &mut [FactorBlock], time: usize) -> usize {
        let mut failures = 0;
        for factor in factors.iter_mut() {
            for (statistic, root) in [
                (&factor.left, &mut factor.left_root),
                (&factor.right, &mut factor.right_root),
            ] {
                match self.root_of(statistic, time) {
                    Ok(fresh) => *root = Some(fresh),
                    Err(err) => {
                        failures += 1;
                        let n = statistic.dims()[0];
                        log::warn!(
                            "Shampoo step {time}: inverse root of a {n}x{n} statistic failed \
                             ({err}); keeping the previous root"
                        );
                    }
                }
            }
        }
        failures
    }

    /// `(S_hat + eps I)^(-e)` of one statistic, computed in f64 on the host and uploaded in the
    /// statistic's dtype on its device.
    fn root_of(&self, statistic: &Tensor<2>, time: usize) -> Result<Tensor<2>, RootError> {
        let [n, _] = statistic.dims();
        let values = statistic
            .clone()
            .try_into_vec_as::<f64>()
            .unwrap_or_else(|err| panic!("reading a Shampoo statistic from the device: {err}"));
        let correction = if self.bias_correction && self.beta_2 < 1.0 {
            1.0 - self.beta_2.powi(time as i32)
        } else {
            1.0
        };
        let matrix = DMatrix::from_row_slice(n, n, &values) / correction;
        let root = inverse_root(&matrix, self.exponent, self.epsilon, self.max_root_residual)?.root;

        let row_major: Vec<f64> = root.transpose().iter().copied().collect();
        let data = TensorData::new(row_major, [n, n]);
        Ok(Tensor::from_data(
            data,
            (&statistic.device(), statistic.dtype()),
        ))
    }

    /// Shampoo's direction `X_L m_b X_R` for every block, or `None` while a block lacks a root.
    fn precondition<const D: usize>(
        &self,
        layout: &Layout,
        factors: &[FactorBlock],
        m_hat: Tensor<D>,
    ) -> Option<Tensor<D>> {
        let mut directions = Vec::with_capacity(factors.len());
        for (factor, block) in factors.iter().zip(layout.split(m_hat)) {
            let (Some(left), Some(right)) = (&factor.left_root, &factor.right_root) else {
                return None;
            };
            directions.push(left.clone().matmul(block).matmul(right.clone()));
        }
        Some(layout.join(directions))
    }
}

impl Optimizer for Shampoo {
    type State<const D: usize> = ShampooState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let time = state.as_ref().map_or(0, |s| s.time) + 1;
        if !self.accepts(&grad, time) {
            let state = state.map(|s| ShampooState {
                skipped_steps: s.skipped_steps + 1,
                ..s
            });
            return (tensor, state);
        }
        let layout = Layout::of(&grad.dims(), self.max_preconditioner_dim);
        let mut state = state.unwrap_or_else(|| self.init_state(&grad, layout.as_ref()));
        let expected = layout.as_ref().map_or_else(Vec::new, Layout::block_shapes);
        if block_shapes(&state.factors) != expected {
            log::warn!("Shampoo: saved factors do not match the block layout; restarting them");
            state.factors = self.zero_factors(&grad, layout.as_ref());
        }
        state.time = time;

        let momentum =
            (self.beta_1 > 0.0).then(|| self.momentum(grad.clone(), state.momentum.take()));
        let mut m_hat = momentum.clone().unwrap_or_else(|| grad.clone());
        if self.bias_correction && self.beta_1 > 0.0 {
            m_hat = m_hat.div_scalar(1.0 - self.beta_1.powi(time as i32));
        }
        state.momentum = momentum;

        state.graft_moment = self
            .diagonal
            .second_moment(grad.clone(), state.graft_moment);
        let diagonal_step = self
            .diagonal
            .step(m_hat.clone(), state.graft_moment.clone(), time);

        let direction = layout.and_then(|layout| {
            self.accumulate(&mut state.factors.0, layout.split(grad));
            if self.is_root_step(time) {
                state.root_failures += self.recompute_roots(&mut state.factors.0, time);
                state.root_computations += 1;
            }
            if time < self.start_preconditioning_step {
                return None;
            }
            self.precondition(&layout, &state.factors.0, m_hat)
        });

        let update = match direction {
            None => diagonal_step,
            Some(d) if self.diagonal.grafting == Grafting::None => finite_or(d, diagonal_step),
            Some(d) => finite_or(graft::graft(d, diagonal_step.clone()), diagonal_step),
        };
        let update = zero_non_finite(update);

        let decayed = if self.weight_decay > 0.0 {
            tensor.mul_scalar(1.0 - lr * self.weight_decay)
        } else {
            tensor
        };
        (decayed - update.mul_scalar(lr), Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}

fn block_shapes(factors: &Factors) -> Vec<(usize, usize)> {
    let side = |t: &Tensor<2>| t.dims()[0];
    factors
        .0
        .iter()
        .map(|b| (side(&b.left), side(&b.right)))
        .collect()
}

/// `candidate` if all its entries are finite, else `fallback`; decided on the device.
fn finite_or<const D: usize>(candidate: Tensor<D>, fallback: Tensor<D>) -> Tensor<D> {
    let all_finite = candidate.clone().is_finite().all().reshape([1; D]);
    fallback.mask_where(all_finite.expand(candidate.shape()), candidate)
}

/// `t` with every NaN or infinite entry replaced by zero.
fn zero_non_finite<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    let bad = t.clone().is_finite().bool_not();
    t.mask_fill(bad, 0.0)
}
