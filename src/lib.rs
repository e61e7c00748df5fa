//! adasharp: adaptive optimizers, curvature measurement and label-noise experiments for
//! [Burn](https://burn.dev), after Li, Wen and Lyu, "Adam Reduces a Unique Form of Sharpness"
//! (NeurIPS 2025).
//!
//! This crate re-exports the three parts of the workspace and holds the `adasharp`
//! command-line program:
//!
//! - [`optim`]: Adam-mini, Adalayer, AdamE, paper-form Adam and RMSProp (`adasharp-optim`);
//! - [`curvature`]: Hessian-vector products, diagonal and trace estimators, the paper's
//!   sharpness measures and a training monitor (`adasharp-curvature`);
//! - [`lab`]: label noise, models, data, the experiment runner, sweeps and plots
//!   (`adasharp-lab`).

pub use adasharp_curvature as curvature;
pub use adasharp_lab as lab;
pub use adasharp_optim as optim;
