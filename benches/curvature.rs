//! Cost of curvature against one gradient on the same batch: a central-difference and a
//! Richardson Hessian-vector product (targets: at most 2.2x and 4.4x a gradient), one Hutchinson
//! trace estimate with 10 probes, and exact diag(H) of a 1,994-parameter tanh MLP (target: under
//! a second on CPU).
//!
//! Run: `cargo bench --bench curvature` (then `cargo bench --bench perf_report`).

use std::hint::black_box;
use std::time::Duration;

use adasharp::curvature::{
    FdScheme, Hvp, LinearOperator, ParamLayout, ParamVec, exact_diag, hutchinson_trace,
};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};

mod common;

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    out: Linear,
}

fn curvature(c: &mut Criterion) {
    let device: Device = common::bench_device();
    let model = Mlp {
        hidden: LinearConfig::new(20, 64).init(&device),
        out: LinearConfig::new(64, 10).init(&device),
    };
    let x = Tensor::<2>::random([64, 20], Distribution::Default, &device);
    let y = Tensor::<2>::random([64, 10], Distribution::Default, &device);
    let loss = move |m: &Mlp| {
        let pred = m.out.forward(tanh(m.hidden.forward(x.clone())));
        (pred - y.clone()).powf_scalar(2.0).mean()
    };
    let mut central = Hvp::new(&model, loss.clone()).unwrap();
    let mut richardson = Hvp::new(&model, loss)
        .unwrap()
        .with_scheme(FdScheme::Richardson);
    let layout = ParamLayout::from_module(&model);
    let values: Vec<f64> = (0..layout.numel())
        .map(|i| ((i % 7) as f64 - 3.0) / 3.0)
        .collect();
    let v = ParamVec::from_flat(&layout, &values, &central.device()).unwrap();

    let mut g = c.benchmark_group("curvature tanh mlp 1994 params");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("gradient", |b| {
        b.iter(|| black_box(central.loss_and_gradient().unwrap()))
    });
    g.bench_function("hvp central", |b| {
        b.iter(|| black_box(central.apply(&v).unwrap()))
    });
    g.bench_function("hvp richardson", |b| {
        b.iter(|| black_box(richardson.apply(&v).unwrap()))
    });
    g.bench_function("hutchinson trace 10 probes", |b| {
        b.iter(|| black_box(hutchinson_trace(&mut central, 10, 0).unwrap()))
    });
    g.finish();

    let mut g = c.benchmark_group("exact diag tanh mlp 1994 params");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("exact diag(H), central", |b| {
        b.iter(|| black_box(exact_diag(&mut central, 10_000, 64).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, curvature);
criterion_main!(benches);
