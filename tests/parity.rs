//! Backend parity: the same optimizer steps (and curvature, see `parity_curvature.rs`) on every
//! enabled backend give the same numbers as Flex, within stated f32 tolerances.
//!
//! A backend that is compiled out or has no adapter is skipped with a printed reason. When the
//! environment variable `CI` is set, every backend (Flex, NdArray, wgpu) must be compiled in and
//! working, or the test fails.

mod backends;

use adasharp::optim::{
    AdalayerConfig, AdamEConfig, AdamMiniConfig, BlockRule, PaperAdamConfig, PaperRmsPropConfig,
    ShampooConfig, module_params,
};
use backends::{Backend, enabled_backends};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};

/// Largest absolute difference allowed between a backend's parameters and Flex's after 20
/// optimizer steps on parameters of size ~1 in f32 (rounding differs between kernels).
const STEP_TOLERANCE: f32 = 2e-4;

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    out: Linear,
}

fn mlp(device: &Device) -> Mlp {
    Mlp {
        hidden: LinearConfig::new(6, 8).init(device),
        out: LinearConfig::new(8, 4).init(device),
    }
}

/// A deterministic pseudo-random sequence in [-1, 1), identical on every platform.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Gradients for `model` generated on the host from `rng`, placed on `device`.
fn host_gradients(model: &Mlp, rng: &mut Lcg, device: &Device) -> GradientsParams {
    let mut grads = GradientsParams::new();
    let inner = device.clone().inner();
    for p in module_params(model) {
        let values: Vec<f32> = (0..p.numel()).map(|_| rng.next()).collect();
        match p.dims.len() {
            1 => grads.register(
                p.id,
                Tensor::<1>::from_data(TensorData::new(values, p.dims), &inner),
            ),
            2 => grads.register(
                p.id,
                Tensor::<2>::from_data(TensorData::new(values, p.dims), &inner),
            ),
            rank => panic!("unexpected rank {rank}"),
        }
    }
    grads
}

fn flat(model: &Mlp) -> Vec<f32> {
    let mut out = Vec::new();
    for t in [model.hidden.weight.val(), model.out.weight.val()] {
        out.extend(t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap());
    }
    for b in [&model.hidden.bias, &model.out.bias] {
        let v = b.as_ref().unwrap().val().into_data();
        out.extend(v.convert::<f32>().try_to_vec::<f32>().unwrap());
    }
    out
}

fn run_steps(reference: &Mlp, backend: &Backend, make: &dyn Fn() -> ModuleOptimizer) -> Vec<f32> {
    let mut model = reference.clone().to_device(&backend.device);
    let mut optim = make();
    let mut rng = Lcg(7);
    for _ in 0..20 {
        let grads = host_gradients(&model, &mut rng, &backend.device);
        model = optim.step(1e-2, model, grads);
    }
    flat(&model)
}

fn assert_close(name: &str, backend: &str, actual: &[f32], expected: &[f32]) {
    let tolerance = STEP_TOLERANCE;
    let worst = actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= tolerance,
        "{name} on {backend}: max |difference| from Flex {worst:e} > {tolerance:e}"
    );
    println!("{name} on {backend}: max |difference| from Flex {worst:.2e}");
}

type Maker = (&'static str, Box<dyn Fn() -> ModuleOptimizer>);

fn optimizers() -> Vec<Maker> {
    let mini = |rule: BlockRule| move || AdamMiniConfig::new().with_default_rule(rule).init();
    vec![
        ("adam-mini element", Box::new(mini(BlockRule::Element))),
        ("adam-mini columns", Box::new(mini(BlockRule::Columns))),
        ("adam-mini rows", Box::new(mini(BlockRule::Rows))),
        ("adam-mini tensor", Box::new(mini(BlockRule::Tensor))),
        (
            "adam-mini heads(2)",
            Box::new(mini(BlockRule::Heads { n_heads: 2 })),
        ),
        ("adalayer", Box::new(|| AdalayerConfig::new().init())),
        ("adame(0.3)", Box::new(|| AdamEConfig::new(0.3).init())),
        ("paper adam", Box::new(|| PaperAdamConfig::new().init())),
        (
            "paper rmsprop",
            Box::new(|| PaperRmsPropConfig::new().init()),
        ),
        // Shampoo's inverse roots amplify the f32 rounding of its statistics by up to
        // eps^(-1/4) along their smallest eigenvalues. Measured after 20 steps: with the default
        // eps = 1e-12, backends differ by up to 3e-2; with 1e-6 by 1.4e-3 (wgpu); with 1e-4 by
        // 2e-5, which this test uses so it checks the implementation, not the conditioning.
        (
            "shampoo",
            Box::new(|| {
                ShampooConfig::new()
                    .with_precondition_interval(5)
                    .with_epsilon(1e-4)
                    .init()
            }),
        ),
    ]
}

#[test]
fn twenty_optimizer_steps_agree_across_backends() {
    let backends = enabled_backends();
    let reference = mlp(&backends[0].device);
    for (name, make) in optimizers() {
        let expected = run_steps(&reference, &backends[0], make.as_ref());
        for backend in &backends[1..] {
            let actual = run_steps(&reference, backend, make.as_ref());
            assert_close(name, backend.name, &actual, &expected);
        }
    }
}

#[test]
fn optimizer_state_saved_on_flex_continues_on_every_backend() {
    let backends = enabled_backends();
    let flex = &backends[0];
    for (name, make) in optimizers() {
        let mut rng = Lcg(11);
        let mut model = mlp(&flex.device);
        let mut optim = make();
        for _ in 0..10 {
            let grads = host_gradients(&model, &mut rng, &flex.device);
            model = optim.step(1e-2, model, grads);
        }
        let bytes = optim.into_bytes().unwrap();
        let continue_on = |backend: &Backend| {
            let mut rng = Lcg(99);
            let mut model = model.clone().to_device(&backend.device);
            let mut optim = make().from_bytes(bytes.clone()).unwrap();
            for _ in 0..10 {
                let grads = host_gradients(&model, &mut rng, &backend.device);
                model = optim.step(1e-2, model, grads);
            }
            flat(&model)
        };
        let expected = continue_on(flex);
        for backend in &backends[1..] {
            assert_close(name, backend.name, &continue_on(backend), &expected);
        }
    }
}
