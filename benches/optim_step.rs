//! Optimizer step time of each adasharp optimizer against Burn's `Adam` on the same parameters
//! and gradients, on Flex (CPU) or the backend named by `ADASHARP_BENCH_BACKEND`. Each group holds the baseline `adam (burn)`; `perf_report`
//! turns the medians into ratios.
//!
//! Run: `cargo bench --bench optim_step` (then `cargo bench --bench perf_report`).

use std::hint::black_box;
use std::time::Duration;

use adasharp::optim::{
    AdalayerConfig, AdamEConfig, AdamMiniConfig, PaperAdamConfig, ShampooConfig, module_params,
};
use burn::module::{Module, Param, ParamId};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};

mod common;

#[derive(Module, Debug)]
struct Matrix {
    weight: Param<Tensor<2>>,
}

/// Fixed gradients, one random tensor per parameter, re-registered for every step.
struct FixedGrads(Vec<(ParamId, Grad)>);

enum Grad {
    One(Tensor<1>),
    Two(Tensor<2>),
}

impl FixedGrads {
    fn for_module<M: Module>(module: &M, device: &Device) -> Self {
        let inner = device.clone().inner();
        let grads = module_params(module)
            .into_iter()
            .map(|p| {
                let grad = match p.dims.len() {
                    1 => Grad::One(Tensor::random([p.dims[0]], Distribution::Default, &inner)),
                    _ => Grad::Two(Tensor::random(
                        [p.dims[0], p.dims[1]],
                        Distribution::Default,
                        &inner,
                    )),
                };
                (p.id, grad)
            })
            .collect();
        Self(grads)
    }

    fn params(&self) -> GradientsParams {
        let mut grads = GradientsParams::new();
        for (id, grad) in &self.0 {
            match grad {
                Grad::One(t) => grads.register(*id, t.clone()),
                Grad::Two(t) => grads.register(*id, t.clone()),
            }
        }
        grads
    }
}

/// A named constructor of a whole-module optimizer.
type Named = (&'static str, fn() -> ModuleOptimizer);

fn optimizers() -> Vec<Named> {
    vec![
        ("adam (burn)", || AdamConfig::new().init()),
        ("adam-mini", || AdamMiniConfig::new().init()),
        ("adalayer", || AdalayerConfig::new().init()),
        ("adame(0.25)", || AdamEConfig::new(0.25).init()),
        ("paper adam", || PaperAdamConfig::new().init()),
        ("shampoo k=10", || {
            ShampooConfig::new().with_precondition_interval(10).init()
        }),
    ]
}

fn bench_module<M: Module + Clone>(c: &mut Criterion, group: &str, module: M, device: &Device) {
    let grads = FixedGrads::for_module(&module, device);
    let mut g = c.benchmark_group(group);
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(4));
    for (name, make) in optimizers() {
        let mut optim = make();
        let mut model = Some(module.clone());
        g.bench_function(name, |b| {
            b.iter(|| {
                let next = optim.step(1e-3, model.take().unwrap(), grads.params());
                device.sync().unwrap();
                model = Some(black_box(next));
            })
        });
    }
    g.finish();
}

fn optimizer_steps(c: &mut Criterion) {
    let device = common::bench_device();
    bench_module(c, "step mlp 784-512-512-10", common::mlp(&device), &device);

    let matrix = Matrix {
        weight: Param::from_tensor(Tensor::random([1024, 1024], Distribution::Default, &device)),
    };
    bench_module(c, "step matrix 1024x1024", matrix, &device);

    bench_module(c, "step dln 20000", common::dln(10_000, &device), &device);
}

criterion_group!(benches, optimizer_steps);
criterion_main!(benches);
