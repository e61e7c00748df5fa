//! Our optimizers drop into burn-train's supervised `Learner` in place of Burn's own.

use std::sync::Arc;

use adasharp_optim::{AdamMiniConfig, PaperAdamConfig};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::ModuleOptimizer;
use burn::optim::lr_scheduler::constant::ConstantLr;
use burn::tensor::{Device, Tensor, TensorData};
use burn_train::logger::InMemoryMetricLogger;
use burn_train::metric::LossMetric;
use burn_train::{
    InferenceStep, Learner, RegressionOutput, SupervisedTraining, TrainOutput, TrainStep,
};

#[derive(Module, Debug)]
struct Regressor {
    linear: Linear,
}

#[derive(Clone, Debug)]
struct Batch {
    x: Tensor<2>,
    y: Tensor<2>,
}

#[derive(Clone)]
struct Batcher2;

/// Points (a, b) on a grid with target 3a - 2b + 1.
impl Batcher<(f32, f32), Batch> for Batcher2 {
    fn batch(&self, items: Vec<(f32, f32)>, device: &Device) -> Batch {
        let n = items.len();
        let x: Vec<f32> = items.iter().flat_map(|(a, b)| [*a, *b]).collect();
        let y: Vec<f32> = items.iter().map(|(a, b)| 3.0 * a - 2.0 * b + 1.0).collect();
        Batch {
            x: Tensor::from_data(TensorData::new(x, [n, 2]), device),
            y: Tensor::from_data(TensorData::new(y, [n, 1]), device),
        }
    }
}

impl Regressor {
    fn loss(&self, batch: &Batch) -> RegressionOutput {
        let output = self.linear.forward(batch.x.clone());
        let loss = (output.clone() - batch.y.clone()).powf_scalar(2.0).mean();
        RegressionOutput::new(loss, output, batch.y.clone())
    }
}

impl TrainStep for Regressor {
    type Input = Batch;
    type Output = RegressionOutput;

    fn step(&self, batch: Batch) -> TrainOutput<RegressionOutput> {
        let out = self.loss(&batch);
        TrainOutput::new(self, out.loss.backward(), out)
    }
}

impl InferenceStep for Regressor {
    type Input = Batch;
    type Output = RegressionOutput;

    fn step(&self, batch: Batch) -> RegressionOutput {
        self.loss(&batch)
    }
}

fn points() -> Vec<(f32, f32)> {
    (0..64)
        .map(|i| ((i % 8) as f32 / 4.0 - 1.0, (i / 8) as f32 / 4.0 - 1.0))
        .collect()
}

fn loader() -> Arc<dyn DataLoader<Batch>> {
    DataLoaderBuilder::new(Batcher2)
        .batch_size(16)
        .build(InMemDataset::new(points()))
}

fn full_loss(model: &Regressor, device: &Device) -> f32 {
    let batch = Batcher2.batch(points(), device);
    model.loss(&batch).loss.into_scalar::<f32>()
}

fn train_with(optim: ModuleOptimizer) -> (f32, f32) {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex().autodiff();
    let model = Regressor {
        linear: LinearConfig::new(2, 1).init(&device),
    };
    let before = full_loss(&model, &device);
    let learner = Learner::new(model, optim, ConstantLr::new(5e-2));
    let result = SupervisedTraining::new(dir.path(), loader(), loader())
        .num_epochs(15)
        .with_metric_logger(InMemoryMetricLogger::new())
        .metric_train_numeric(LossMetric::new())
        .with_application_logger(None)
        .launch(learner);
    let after = full_loss(&result.model, &Device::flex());
    (before, after)
}

#[test]
fn adam_mini_trains_through_the_learner() {
    let (before, after) = train_with(AdamMiniConfig::new().init());
    assert!(after < 0.1 * before, "loss {before} -> {after}");
}

#[test]
fn paper_adam_trains_through_the_learner() {
    let (before, after) = train_with(PaperAdamConfig::new().init());
    assert!(after < 0.1 * before, "loss {before} -> {after}");
}
