//! Curvature and sharpness measurement for any Burn model.
//!
//! # Design
//!
//! The Hessian `H` of a loss is never formed. It is a [`LinearOperator`] on the module's
//! parameter space ([`ParamLayout`], vectors [`ParamVec`] with one flat tensor per parameter):
//! [`Hvp`] computes `H v` from two or four gradients by finite differences (Burn differentiates
//! once only). Estimators take any operator and a budget counted in products:
//!
//! - `diag(H)`: [`exact_diag`], [`hutchinson_diag`], and [`gauss_newton_diag`] from
//!   per-sample gradients;
//! - `tr(H)`: [`hutchinson_trace`], [`hutchpp_trace`];
//! - top eigenvalue: [`PowerIteration`], [`Lanczos`] (warm-started), also of
//!   `S^(1/2) H S^(1/2)` ([`Preconditioned`], with `S` from an optimizer's state via
//!   [`preconditioner_diag`]).
//!
//! The paper's sharpness measures ([`measures`]) are functions of a diagonal estimate.
//! [`SharpnessMonitor`] ties it together for a training loop and writes [`SharpnessRecord`]s
//! to [`JsonlSink`] / [`CsvSink`]; [`SharedMonitor`] adapts it to burn-train's `Learner`.
//!
//! # Example
//!
//! ```
//! use adasharp_curvature::{
//!     FdScheme, Hvp, Lanczos, LinearOperator, exact_diag, hutchinson_trace, measures,
//! };
//! use burn::module::{Module, Param};
//! use burn::tensor::{Device, Tensor};
//!
//! // A diagonal linear network w = u*u - v*v with squared loss on two samples.
//! #[derive(Module, Debug)]
//! struct Dln {
//!     u: Param<Tensor<1>>,
//!     v: Param<Tensor<1>>,
//! }
//!
//! let device = Device::flex();
//! let model = Dln {
//!     u: Param::from_tensor(Tensor::from_floats([1.0, 0.5], &device)),
//!     v: Param::from_tensor(Tensor::from_floats([0.2, 0.1], &device)),
//! };
//! let z = Tensor::<2>::from_floats([[1.0, -1.0], [1.0, 1.0]], &device);
//! let w_star = Tensor::<2>::from_floats([[0.96], [0.24]], &device);
//! let y = z.clone().matmul(w_star);
//! // The closure computes the loss from the module it is given (a perturbed copy).
//! let loss = |m: &Dln| {
//!     let w = m.u.val().powi_scalar(2) - m.v.val().powi_scalar(2);
//!     let pred = z.clone().matmul(w.unsqueeze_dim(1));
//!     (pred - y.clone()).powi_scalar(2).mean().div_scalar(2.0)
//! };
//!
//! // 1. The Hessian as an operator (Richardson: exact for this quartic loss).
//! let mut hvp = Hvp::new(&model, loss).unwrap().with_scheme(FdScheme::Richardson);
//!
//! // 2. Estimators spend products of it.
//! let diag = exact_diag(&mut hvp, 1_000, 64).unwrap();
//! let tr = hutchinson_trace(&mut hvp, 8, 0).unwrap();
//! let top = Lanczos::new(4, 1e-6, 0).run(&mut hvp).unwrap();
//!
//! // 3. Measures are functions of the diagonal estimate.
//! let sgd = measures::trace(&diag).unwrap();
//! let adam = measures::trace_sqrt_diag(&diag).unwrap();
//! assert!((sgd.value - tr.value).abs() < 4.0 * tr.std_err + 1e-3);
//! assert!(top.value <= sgd.value + 1e-3 && adam.clipped == 0);
//! println!("tr(H) = {}, tr(Diag(H)^1/2) = {}, spent {:?}", sgd.value, adam.value, hvp.cost());
//! ```

pub mod diag;
pub mod eigen;
pub mod error;
pub mod gauss_newton;
pub mod hvp;
pub mod learner;
pub mod linalg;
pub mod measures;
pub mod monitor;
pub mod operator;
pub mod param_vec;
pub mod precondition;
pub mod sink;
pub mod trace;

pub use diag::{
    DEFAULT_EXACT_DIAG_LIMIT, DiagEstimate, DiagMethod, JACKKNIFE_GROUPS, exact_diag,
    hutchinson_diag,
};
pub use eigen::{EigenEstimate, Lanczos, PowerIteration};
pub use error::{CurvatureError, Result};
pub use gauss_newton::{GaussNewtonAccumulator, gauss_newton_diag};
pub use hvp::{FdScheme, Hvp, HvpReport, StepPolicy, machine_epsilon, parameters};
pub use learner::SharedMonitor;
pub use measures::{BlockMap, MeasureValue};
pub use monitor::{
    DiagEstimator, Measure, MeasureEntry, MonitorConfig, SharpnessMonitor, SharpnessRecord,
};
pub use operator::{DenseOperator, LinearOperator, OperatorCost, Preconditioned};
pub use param_vec::{ParamLayout, ParamSlot, ParamVec};
pub use precondition::{BiasCorrection, OptimizerState, preconditioner_diag, second_moment};
pub use sink::{CsvSink, JsonlSink, RecordSink};
pub use trace::{TraceEstimate, TraceMethod, hutchinson_trace, hutchpp_trace};

#[cfg(test)]
mod tests;
