//! Checks that need 64-bit floats; this file configures the Flex device to f64 before any
//! tensor exists (the dtype is process-wide and set once).

use adasharp_lab::config::CurvatureMethod;
use adasharp_lab::data::{matrix, to_f64, vector};
use adasharp_lab::{
    BatchSize, CurvatureConfig, DataConfig, Dln, Dtype, LabModel, ModelConfig, NoiseConfig,
    NoiseKind, OptimizerConfig, RunConfig, Silent, SparseRegressionConfig, run,
};
use burn::module::Param;
use burn::tensor::{Device, FloatDType};
use std::sync::OnceLock;

fn device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let mut device = Device::flex();
            device
                .configure(FloatDType::F64)
                .expect("first configuration");
            device
        })
        .clone()
}

fn config(fast_path: bool) -> RunConfig {
    RunConfig {
        name: if fast_path { "fast" } else { "autodiff" }.into(),
        seed: 3,
        steps: 60,
        eval_every: 20,
        batch_size: BatchSize::Examples(4),
        dtype: Dtype::F64,
        fast_path,
        model: ModelConfig::Dln { init: 0.3 },
        data: DataConfig::Sparse(SparseRegressionConfig {
            d: 12,
            kappa: 2,
            n: 10,
            n_test: 20,
            seed: 1,
        }),
        optimizer: OptimizerConfig::new("paper-adam", 0.01),
        noise: NoiseConfig {
            kind: NoiseKind::Gaussian,
            sigma: 0.5,
        },
        curvature: CurvatureConfig {
            method: CurvatureMethod::Auto,
            ..CurvatureConfig::default()
        },
    }
}

#[test]
fn fast_path_and_autodiff_path_give_the_same_trajectory() {
    let dir = tempfile::tempdir().unwrap();
    let device = device();
    let fast = run(&config(true), &device, dir.path(), &mut Silent).unwrap();
    let slow = run(&config(false), &device, dir.path(), &mut Silent).unwrap();
    assert_eq!(fast.records.len(), slow.records.len());
    for (a, b) in fast.records.iter().zip(&slow.records) {
        for col in [
            "train_loss",
            "test_loss",
            "tr_h",
            "tr_sqrt_diag_ggn",
            "w_l1",
        ] {
            let (x, y) = (a.get(col).unwrap(), b.get(col).unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                "{col} at {}: {x} vs {y}",
                a.step
            );
        }
    }
}

#[test]
fn closed_form_hessian_diagonal_matches_finite_differences_of_the_gradient() {
    // d(dL/du_i)/du_i by central differences of the closed-form gradient, in f64.
    let device = device();
    let data = SparseRegressionConfig {
        d: 6,
        kappa: 2,
        n: 4,
        n_test: 1,
        seed: 2,
    }
    .generate()
    .unwrap();
    let z = matrix(&data.x_train, 4, 6, &device);
    let y = vector(&data.y_train, &device);
    let u0 = [0.3, -0.2, 0.5, 0.1, 0.7, -0.4];
    let v0 = [0.1, 0.4, -0.3, 0.2, 0.1, 0.6];
    let model = |u: &[f64]| Dln {
        u: Param::from_tensor(vector(u, &device)),
        v: Param::from_tensor(vector(&v0, &device)),
    };
    let (h_u, _, _, _) = model(&u0).hessian_diag(&z, &y);
    let h_u = to_f64(h_u);
    let h = 1e-5;
    for i in 0..6 {
        let (mut plus, mut minus) = (u0, u0);
        plus[i] += h;
        minus[i] -= h;
        let gp = to_f64(model(&plus).gradient(&z, &y).u)[i];
        let gm = to_f64(model(&minus).gradient(&z, &y).u)[i];
        let fd = (gp - gm) / (2.0 * h);
        assert!(
            (fd - h_u[i]).abs() < 1e-7,
            "coordinate {i}: {fd} vs {}",
            h_u[i]
        );
    }
    // At an interpolating point with +-1 inputs, diag(H) = 4 theta^2 exactly.
    let Some(w_star) = (match &data.truth {
        adasharp_lab::Truth::Vector(w) => Some(w.clone()),
        _ => None,
    }) else {
        panic!("no ground truth")
    };
    let u: Vec<f64> = w_star.iter().map(|w| w.max(0.0).sqrt()).collect();
    let v: Vec<f64> = w_star.iter().map(|w| (-w).max(0.0).sqrt()).collect();
    let at_truth = Dln {
        u: Param::from_tensor(vector(&u, &device)),
        v: Param::from_tensor(vector(&v, &device)),
    };
    let diag = at_truth.closed_form_diag(&z, &y).unwrap();
    for (d, theta) in diag[0].raw.iter().zip(&u) {
        assert!((d - 4.0 * theta * theta).abs() < 1e-12);
    }
}
