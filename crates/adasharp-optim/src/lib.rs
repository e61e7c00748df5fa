//! Adaptive optimizers for [Burn](https://burn.dev) that Burn does not ship: Adam-mini,
//! Adalayer, AdamE-lambda and the paper-form Adam and RMSProp, plus Shampoo.
//!
//! # Design
//!
//! Every optimizer but Shampoo is one configuration of the adaptive-gradient-method template
//! ([`agm`]): a second-moment statistic chosen by a [`BlockRule`] and a [`Preconditioner`]
//! `S(v) = 1 / (v^lambda + eps)`. Each `XConfig` derives Burn's `Config`; `build()` returns the
//! per-tensor [`burn::optim::Optimizer`] and `init()` a Burn `ModuleOptimizer`, exactly like
//! `burn::optim::AdamConfig`, so swapping optimizers is a one-line change and state saves and
//! loads with Burn's own `OptimizerRecord`.
//!
//! Invalid hyperparameters are reported by `try_build`/`try_init` as a [`ConfigError`] naming
//! the field; `build`/`init` panic with the same message.
//!
//! ```
//! use adasharp_optim::AdamMiniConfig;
//! use burn::module::Module;
//! use burn::nn::{Linear, LinearConfig};
//! use burn::optim::GradientsParams;
//! use burn::tensor::{Device, Tensor};
//!
//! let device = Device::flex().autodiff();
//! let model: Linear = LinearConfig::new(3, 2).init(&device);
//! let mut optim = AdamMiniConfig::new().init(); // instead of AdamConfig::new().init()
//!
//! let x = Tensor::<2>::ones([4, 3], &device);
//! let loss = model.forward(x).powf_scalar(2.0).mean();
//! let grads = GradientsParams::from_grads(loss.backward(), &model);
//! let model = optim.step(1e-2, model, grads);
//! # let _ = model;
//! ```

pub mod adalayer;
pub mod adam_e;
pub mod adam_mini;
pub mod agm;
pub mod blocks;
pub mod error;
pub mod finite;
mod hyper;
pub mod inspect;
pub mod paper;
pub mod partition;
pub mod shampoo;

pub use adalayer::AdalayerConfig;
pub use adam_e::AdamEConfig;
pub use adam_mini::{AdamMiniConfig, GroupRule};
pub use agm::{Agm, AgmState, NonFinitePolicy, Preconditioner};
pub use blocks::BlockRule;
pub use error::ConfigError;
pub use finite::{NonFiniteGradient, find_non_finite};
pub use inspect::{StateTensor, second_moments, state_tensors};
pub use paper::{PaperAdamConfig, PaperRmsPropConfig};
pub use partition::{ParamInfo, PartitionEntry, PartitionReport, RuleSource, module_params};
pub use shampoo::{Grafting, Shampoo, ShampooConfig, ShampooState};

// The `RecordState` derive names these through `crate::`.
use burn::optim::{RecordState, StateSink, StateSource, join_path};

#[cfg(test)]
mod hand_steps;
