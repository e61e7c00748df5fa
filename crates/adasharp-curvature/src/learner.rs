//! Using a [`SharpnessMonitor`] under burn-train's `Learner`.
//!
//! burn-train 0.22 has no per-step callback that sees the model: its event processors and
//! metrics receive model *outputs*, and `TrainStep::optimize` sees the model but not the batch.
//! The one place that has both the current model and the batch is the user's
//! `TrainStep::step`, so the adapter is a cloneable handle, [`SharedMonitor`], that the model
//! carries in a `#[module(skip)]` field and calls from `step`:
//!
//! ```no_run
//! use adasharp_curvature::{Measure, MonitorConfig, SharedMonitor, SharpnessMonitor};
//! use burn::module::Module;
//! use burn::nn::{Linear, LinearConfig};
//! use burn::tensor::Tensor;
//! use burn_train::{RegressionOutput, TrainOutput, TrainStep};
//!
//! #[derive(Module, Debug)]
//! struct Model {
//!     linear: Linear,
//!     #[module(skip)]
//!     monitor: SharedMonitor,
//! }
//!
//! impl Model {
//!     fn loss(&self, x: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
//!         (self.linear.forward(x) - y).powi_scalar(2).mean()
//!     }
//! }
//!
//! impl TrainStep for Model {
//!     type Input = (Tensor<2>, Tensor<2>);
//!     type Output = RegressionOutput;
//!
//!     fn step(&self, (x, y): Self::Input) -> TrainOutput<RegressionOutput> {
//!         // Every `every`-th call measures the curvature on this batch.
//!         let on_batch = |m: &Model| m.loss(x.clone(), y.clone());
//!         if let Err(err) = self.monitor.on_train_step(self, on_batch) {
//!             log::error!("sharpness evaluation failed: {err}");
//!         }
//!         let output = self.linear.forward(x);
//!         let loss = (output.clone() - y.clone()).powi_scalar(2).mean();
//!         TrainOutput::new(self, loss.backward(), RegressionOutput::new(loss, output, y))
//!     }
//! }
//!
//! let config = MonitorConfig::new(vec![Measure::Trace]).with_every(50);
//! let monitor = SharedMonitor::new(SharpnessMonitor::new(config).unwrap());
//! # let _ = monitor;
//! ```
//!
//! Limitations: the handle counts its own steps (calls of `on_train_step`), since `step` is
//! not told the Learner's iteration; with gradient accumulation or a multi-device strategy,
//! where `step` runs several times per optimizer step, set `every` accordingly or call
//! [`SharedMonitor::evaluate_at`] with your own counter. The records go to the monitor's sinks,
//! not to the Learner's metric dashboard. The evaluation runs inside the training step and
//! costs its products' gradients there.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use burn::module::Module;
use burn::tensor::Tensor;

use crate::{Result, SharpnessMonitor, SharpnessRecord};

/// A cloneable, thread-safe handle on a [`SharpnessMonitor`] with its own step counter, for
/// calling from code that cannot own the monitor (a `TrainStep` implementation).
#[derive(Clone)]
pub struct SharedMonitor {
    monitor: Arc<Mutex<SharpnessMonitor>>,
    steps: Arc<AtomicUsize>,
}

impl std::fmt::Debug for SharedMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMonitor")
            .field("steps", &self.steps.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SharedMonitor {
    /// Wraps `monitor`; the step counter starts at 0.
    pub fn new(monitor: SharpnessMonitor) -> Self {
        Self {
            monitor: Arc::new(Mutex::new(monitor)),
            steps: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Counts one step and evaluates if the new count is an evaluation step (so with
    /// `every = k` the k-th, 2k-th, ... calls evaluate).
    pub fn on_train_step<M, F>(&self, model: &M, loss: F) -> Result<Option<SharpnessRecord>>
    where
        M: Module,
        F: Fn(&M) -> Tensor<1>,
    {
        let step = self.steps.fetch_add(1, Ordering::Relaxed) + 1;
        self.lock().maybe_evaluate(step, model, loss)
    }

    /// Evaluates at `step` if it is an evaluation step, ignoring the handle's counter.
    pub fn evaluate_at<M, F>(
        &self,
        step: usize,
        model: &M,
        loss: F,
    ) -> Result<Option<SharpnessRecord>>
    where
        M: Module,
        F: Fn(&M) -> Tensor<1>,
    {
        self.lock().maybe_evaluate(step, model, loss)
    }

    /// Steps counted so far.
    pub fn steps(&self) -> usize {
        self.steps.load(Ordering::Relaxed)
    }

    /// The monitor (to change its preconditioner, say). A panic during an earlier evaluation
    /// does not poison it for later ones.
    pub fn lock(&self) -> MutexGuard<'_, SharpnessMonitor> {
        self.monitor.lock().unwrap_or_else(|e| e.into_inner())
    }
}
