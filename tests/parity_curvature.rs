//! Backend parity of curvature: Hessian-vector products, diag(H) (exact and Hutchinson with the
//! same probes), tr(H), tr(Diag(H)^1/2), the block measure and the top eigenvalue of a small
//! tanh MLP agree with Flex on every enabled backend, in f32.

mod backends;

use adasharp::curvature::{
    FdScheme, Hvp, Lanczos, LinearOperator, ParamLayout, ParamVec, exact_diag, hutchinson_diag,
    hutchinson_trace, measures,
};
use adasharp::optim::AdamMiniConfig;
use backends::{Backend, enabled_backends};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Tensor, TensorData};

/// Relative tolerance for f32 finite-difference curvature. Backends' gradient rounding differs by
/// ~1e-7 relative, amplified by 1/h in the difference quotients; measured gaps were at most
/// 1e-6 (NdArray and wgpu on lavapipe).
const RELATIVE_TOLERANCE: f64 = 1e-4;

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    out: Linear,
}

fn data(device: &Device) -> (Tensor<2>, Tensor<2>) {
    let x: Vec<f32> = (0..24).map(|i| ((i * 5 % 13) as f32 - 6.0) / 6.0).collect();
    let y: Vec<f32> = (0..8).map(|i| ((i * 3 % 7) as f32 - 3.0) / 3.0).collect();
    (
        Tensor::from_data(TensorData::new(x, [8, 3]), device),
        Tensor::from_data(TensorData::new(y, [8, 1]), device),
    )
}

/// Every curvature quantity of the test, flattened into named numbers.
struct Curvature {
    hvp: Vec<f64>,
    exact_diag: Vec<f64>,
    hutchinson_diag: Vec<f64>,
    scalars: Vec<(&'static str, f64)>,
}

fn measure(reference: &Mlp, backend: &Backend) -> Curvature {
    let device = &backend.device;
    let model = reference.clone().to_device(device);
    let (x, y) = data(device);
    let loss = move |m: &Mlp| {
        let pred = m.out.forward(tanh(m.hidden.forward(x.clone())));
        (pred - y.clone()).powf_scalar(2.0).mean()
    };
    let mut hvp = Hvp::new(&model, loss)
        .unwrap()
        .with_scheme(FdScheme::Richardson);

    let layout = ParamLayout::from_module(&model);
    let direction: Vec<f64> = (0..layout.numel())
        .map(|i| ((i * 7 % 11) as f64 - 5.0) / 5.0)
        .collect();
    let v = ParamVec::from_flat(&layout, &direction, &hvp.device()).unwrap();
    let hv = hvp.apply(&v).unwrap().to_flat();

    let exact = exact_diag(&mut hvp, 1_000, 16).unwrap();
    let hutch = hutchinson_diag(&mut hvp, 8, 3).unwrap();
    let trace = hutchinson_trace(&mut hvp, 8, 3).unwrap();
    let partition = AdamMiniConfig::new().partition(&model).unwrap();
    let top = Lanczos::new(20, 1e-6, 0).run(&mut hvp).unwrap();
    Curvature {
        hvp: hv,
        scalars: vec![
            ("tr(H) exact", measures::trace(&exact).unwrap().value),
            ("tr(H) Hutchinson", trace.value),
            (
                "tr(Diag(H)^1/2)",
                measures::trace_sqrt_diag(&exact).unwrap().value,
            ),
            (
                "block measure",
                measures::block_sqrt_trace(&exact, &partition)
                    .unwrap()
                    .value,
            ),
            ("top eigenvalue", top.value),
        ],
        exact_diag: exact.diag.to_flat(),
        hutchinson_diag: hutch.diag.to_flat(),
    }
}

fn relative_gap(actual: &[f64], expected: &[f64]) -> f64 {
    let diff: f64 = actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).powi(2))
        .sum();
    let norm: f64 = expected.iter().map(|e| e * e).sum();
    diff.sqrt() / norm.sqrt().max(1e-12)
}

fn check(what: &str, backend: &str, gap: f64) {
    println!("{what} on {backend}: relative gap to Flex {gap:.2e}");
    assert!(
        gap <= RELATIVE_TOLERANCE,
        "{what} on {backend}: relative gap {gap:e}"
    );
}

#[test]
fn curvature_agrees_across_backends() {
    let backends = enabled_backends();
    let reference = Mlp {
        hidden: LinearConfig::new(3, 5).init(&backends[0].device),
        out: LinearConfig::new(5, 1).init(&backends[0].device),
    };
    let expected = measure(&reference, &backends[0]);
    for backend in &backends[1..] {
        let actual = measure(&reference, backend);
        check(
            "H v",
            backend.name,
            relative_gap(&actual.hvp, &expected.hvp),
        );
        check(
            "exact diag(H)",
            backend.name,
            relative_gap(&actual.exact_diag, &expected.exact_diag),
        );
        check(
            "Hutchinson diag(H)",
            backend.name,
            relative_gap(&actual.hutchinson_diag, &expected.hutchinson_diag),
        );
        for ((name, a), (_, e)) in actual.scalars.iter().zip(&expected.scalars) {
            check(name, backend.name, relative_gap(&[*a], &[*e]));
        }
    }
}
