//! The first three steps of each AGM optimizer on a tiny tensor, against values derived by hand.
//!
//! Hyperparameters are chosen so the arithmetic is easy to follow: `b1 = 1/2`, `b2 = 3/4`,
//! `eps = 1/2` (large, so its placement outside the power matters) and `lr = 1`.
//! Gradients: `g1 = [2, -4]`, `g2 = [2, 0]`, `g3 = [0, 4]`, starting from `theta0 = [1, 2]`.
//! The moments follow from the recursions by hand:
//!
//! ```text
//! m1 = [1, -2]        v1 = [1, 4]
//! m2 = [3/2, -1]      v2 = [7/4, 3]
//! m3 = [3/4, 3/2]     v3 = [21/16, 25/4]
//! ```

use burn::optim::Optimizer;
use burn::tensor::{Device, Tensor, TensorData};

use crate::{AdalayerConfig, AdamEConfig, AdamMiniConfig, Agm, BlockRule, PaperAdamConfig};
use crate::{PaperRmsPropConfig, Preconditioner};

const B1: f64 = 0.5;
const B2: f64 = 0.75;
const EPS: f64 = 0.5;
const GRADS: [[f32; 2]; 3] = [[2.0, -4.0], [2.0, 0.0], [0.0, 4.0]];

fn vector(values: [f32; 2]) -> Tensor<1> {
    Tensor::from_data(TensorData::from(values), &Device::flex())
}

/// Runs the three steps with `lr = 1` and returns theta after each.
fn three_steps(optim: &Agm) -> Vec<[f64; 2]> {
    let mut theta = vector([1.0, 2.0]);
    let mut state = None;
    let mut out = Vec::new();
    for g in GRADS {
        let (next, next_state) = optim.step(1.0, theta, vector(g), state);
        theta = next;
        state = next_state;
        let v = theta.to_data().try_to_vec::<f32>().unwrap();
        out.push([v[0] as f64, v[1] as f64]);
    }
    out
}

fn assert_close(actual: &[[f64; 2]], expected: &[[f64; 2]]) {
    for (step, (a, e)) in actual.iter().zip(expected).enumerate() {
        for i in 0..2 {
            assert!(
                (a[i] - e[i]).abs() < 1e-5,
                "step {} coordinate {i}: got {}, expected {}",
                step + 1,
                a[i],
                e[i]
            );
        }
    }
}

#[test]
fn paper_adam_first_three_steps() {
    // theta1 = [1 - 1/(1+1/2), 2 + 2/(2+1/2)]                 = [1/3, 2.8]
    // theta2 = theta1 - [1.5/(sqrt(7/4)+1/2), -1/(sqrt(3)+1/2)]
    // theta3 = theta2 - [0.75/(sqrt(21/16)+1/2), 1.5/(5/2+1/2)]
    let t1 = [1.0 / 3.0, 2.8];
    let t2 = [
        t1[0] - 1.5 / (1.75f64.sqrt() + 0.5),
        t1[1] + 1.0 / (3f64.sqrt() + 0.5),
    ];
    let t3 = [t2[0] - 0.75 / ((21.0f64 / 16.0).sqrt() + 0.5), t2[1] - 0.5];
    let optim = PaperAdamConfig::new()
        .with_beta_1(B1)
        .with_beta_2(B2)
        .with_epsilon(EPS)
        .build();
    assert_close(&three_steps(&optim), &[t1, t2, t3]);
}

#[test]
fn paper_adam_with_bias_correction_first_three_steps() {
    // m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t): bias corrections 1/2, 3/4, 7/8 for m and
    // 1/4, 7/16, 37/64 for v.
    let step = |m: [f64; 2], v: [f64; 2], t: i32| -> [f64; 2] {
        let c1 = 1.0 - B1.powi(t);
        let c2 = 1.0 - B2.powi(t);
        [0, 1].map(|i| (m[i] / c1) / ((v[i] / c2).sqrt() + EPS))
    };
    let d1 = step([1.0, -2.0], [1.0, 4.0], 1); // = [2/(2+1/2), -4/(4+1/2)]
    assert!((d1[0] - 0.8).abs() < 1e-12 && (d1[1] + 8.0 / 9.0).abs() < 1e-12);
    let d2 = step([1.5, -1.0], [1.75, 3.0], 2);
    let d3 = step([0.75, 1.5], [21.0 / 16.0, 6.25], 3);
    let t1 = [1.0 - d1[0], 2.0 - d1[1]];
    let t2 = [t1[0] - d2[0], t1[1] - d2[1]];
    let t3 = [t2[0] - d3[0], t2[1] - d3[1]];
    let optim = PaperAdamConfig::new()
        .with_beta_1(B1)
        .with_beta_2(B2)
        .with_epsilon(EPS)
        .with_bias_correction(true)
        .build();
    assert_close(&three_steps(&optim), &[t1, t2, t3]);
}

#[test]
fn paper_rmsprop_first_three_steps() {
    // b1 = 0: the step uses g itself. v as above.
    // theta1 = [1 - 2/(1+1/2), 2 + 4/(2+1/2)]   = [-1/3, 3.6]
    // theta2 = theta1 - [2/(sqrt(7/4)+1/2), 0]
    // theta3 = theta2 - [0, 4/(5/2+1/2)]
    let t1 = [1.0 - 4.0 / 3.0, 3.6];
    let t2 = [t1[0] - 2.0 / (1.75f64.sqrt() + 0.5), t1[1]];
    let t3 = [t2[0], t2[1] - 4.0 / 3.0];
    let optim = PaperRmsPropConfig::new()
        .with_beta_2(B2)
        .with_epsilon(EPS)
        .build();
    assert_close(&three_steps(&optim), &[t1, t2, t3]);
}

#[test]
fn adam_e_quarter_first_three_steps() {
    // S = 1 / (v^(1/4) + eps): v1^(1/4) = [1, sqrt(2)].
    let d = |m: f64, v: f64| m / (v.powf(0.25) + EPS);
    let t1 = [1.0 - d(1.0, 1.0), 2.0 - d(-2.0, 4.0)];
    let t2 = [t1[0] - d(1.5, 1.75), t1[1] - d(-1.0, 3.0)];
    let t3 = [t2[0] - d(0.75, 21.0 / 16.0), t2[1] - d(1.5, 6.25)];
    let optim = AdamEConfig::new(0.25)
        .with_beta_1(B1)
        .with_beta_2(B2)
        .with_epsilon(EPS)
        .with_bias_correction(false)
        .build();
    assert_close(&three_steps(&optim), &[t1, t2, t3]);
}

#[test]
fn adalayer_first_three_steps() {
    // One v for the whole vector: v_t is the EMA of mean(g^2) = 10, 2, 8:
    // v1 = 10/4 = 2.5, v2 = 0.75*2.5 + 0.5 = 2.375, v3 = 0.75*2.375 + 2 = 3.78125.
    let s = |v: f64| 1.0 / (v.sqrt() + EPS);
    let t1 = [1.0 - s(2.5), 2.0 + 2.0 * s(2.5)];
    let t2 = [t1[0] - 1.5 * s(2.375), t1[1] + s(2.375)];
    let t3 = [t2[0] - 0.75 * s(3.78125), t2[1] - 1.5 * s(3.78125)];
    let optim = AdalayerConfig::new()
        .with_beta_1(B1)
        .with_beta_2(B2)
        .with_epsilon(EPS)
        .with_bias_correction(false)
        .build();
    assert_close(&three_steps(&optim), &[t1, t2, t3]);
}

fn matrix(values: [f32; 4]) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), [2, 2]), &Device::flex())
}

#[test]
fn adam_mini_columns_first_three_steps_on_a_matrix() {
    // A 2x2 weight [d_in = 2, d_out = 2]; one block per column (output neuron).
    // Gradients  G1 = [[2, 1], [0, 1]],  G2 = [[0, 2], [2, 2]],  G3 = [[1, 0], [1, 0]].
    // Column means of G^2:  t=1: [2, 1];  t=2: [2, 4];  t=3: [1, 0].
    // v1 = [1/2, 1/4], v2 = [7/8, 19/16], v3 = [0.75*7/8 + 1/4, 0.75*19/16] = [29/32, 57/64].
    let grads = [
        [2.0, 1.0, 0.0, 1.0],
        [0.0, 2.0, 2.0, 2.0],
        [1.0, 0.0, 1.0, 0.0],
    ];
    let vs: [[f64; 2]; 3] = [
        [0.5, 0.25],
        [7.0 / 8.0, 19.0 / 16.0],
        [29.0 / 32.0, 57.0 / 64.0],
    ];
    let optim = AdamMiniConfig::new()
        .with_beta_1(B1)
        .with_beta_2(B2)
        .with_epsilon(EPS)
        .with_bias_correction(false)
        .build();
    assert_eq!(optim.rule(), BlockRule::Columns);

    let mut theta = matrix([0.0; 4]);
    let mut expected = [0.0f64; 4];
    let mut m = [0.0f64; 4];
    let mut state = None;
    for (g, v) in grads.iter().zip(vs) {
        let (next, next_state) = optim.step(1.0, theta, matrix(*g), state);
        theta = next;
        state = next_state;
        for i in 0..4 {
            m[i] = B1 * m[i] + (1.0 - B1) * g[i] as f64;
            expected[i] -= m[i] / (v[i % 2].sqrt() + EPS);
        }
        let actual = theta.to_data().try_to_vec::<f32>().unwrap();
        for i in 0..4 {
            assert!(
                (actual[i] as f64 - expected[i]).abs() < 1e-5,
                "{actual:?} vs {expected:?}"
            );
        }
    }
}

#[test]
fn preconditioner_puts_eps_outside_the_power() {
    let s = Preconditioner {
        lambda: 0.5,
        epsilon: 0.5,
    }
    .apply(vector([4.0, 0.0]));
    // 1/(sqrt(4) + 1/2) = 0.4, 1/(0 + 1/2) = 2
    assert_eq!(s.to_data().try_to_vec::<f32>().unwrap(), vec![0.4, 2.0]);
    let s = Preconditioner {
        lambda: 0.0,
        epsilon: 1.0,
    }
    .apply(vector([4.0, 9.0]));
    assert_eq!(s.to_data().try_to_vec::<f32>().unwrap(), vec![0.5, 0.5]);
}

#[test]
fn decoupled_weight_decay_shrinks_the_parameter_by_one_minus_lr_wd() {
    // A zero gradient leaves m = v = 0, so the adaptive step is 0 / (0 + eps) = 0 and only the
    // decay acts: theta <- (1 - lr * wd) theta = (1 - 0.1 * 0.5) theta = 0.95 theta.
    let optim = AdamMiniConfig::new().with_weight_decay(0.5).build();
    let (theta, _) = optim.step(0.1, vector([1.0, -2.0]), vector([0.0, 0.0]), None);
    assert_eq!(
        theta.to_data().try_to_vec::<f32>().unwrap(),
        vec![0.95, -1.9]
    );
}
