//! Shampoo's specification. Every expected value is derived independently in the comments
//! (closed forms of the eigendecomposition, or an equivalent computation by other means).

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use nalgebra::DMatrix;

use super::*;

fn device() -> Device {
    Device::flex()
}

fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.clone().try_into_vec_as::<f32>().expect("readable tensor")
}

fn assert_close(actual: &[f32], expected: &[f64], tolerance: f64) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let error = (f64::from(*a) - e).abs();
        assert!(
            error <= tolerance,
            "entry {i}: {a} vs {e} (error {error:e})"
        );
    }
}

fn all_finite(values: &[f32]) -> bool {
    values.iter().all(|v| v.is_finite())
}

/// SplitMix64, so that tests need no RNG crate and are reproducible.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn normals(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.normal() as f32).collect()
    }

    fn tensor<const D: usize>(&mut self, dims: [usize; D], device: &Device) -> Tensor<D> {
        let data = TensorData::new(self.normals(dims.iter().product()), dims);
        Tensor::from_data(data, device)
    }
}

/// The paper's Shampoo: no momentum, summed statistics, no grafting, roots every step; one
/// step from zero with `lr = 1` writes `-D` into the parameter.
fn paper_form(epsilon: f64) -> ShampooConfig {
    ShampooConfig::new()
        .with_beta_1(0.0)
        .with_beta_2(1.0)
        .with_epsilon(epsilon)
        .with_grafting(Grafting::None)
        .with_precondition_interval(1)
}

/// The parameter after one step from zero with `lr = 1`, i.e. minus the first update.
fn one_step<const D: usize>(config: &ShampooConfig, grad: Tensor<D>) -> Vec<f32> {
    let theta = grad.zeros_like();
    let (theta, _) = config.build().step(1.0, theta, grad, None);
    values(&theta)
}

/// Steps `optim` through `grads` with `lr = 0.05`, from `theta` and `state`.
fn run<const D: usize>(
    optim: &Shampoo,
    theta: Tensor<D>,
    state: Option<ShampooState<D>>,
    grads: impl IntoIterator<Item = Tensor<D>>,
) -> (Tensor<D>, Option<ShampooState<D>>) {
    grads
        .into_iter()
        .fold((theta, state), |(theta, state), grad| {
            optim.step(0.05, theta, grad, state)
        })
}

/// Steps `optim` through `grads` with learning rate `lr`, from `theta` and no state.
fn run_lr<const D: usize>(
    optim: &Shampoo,
    lr: f64,
    theta: Tensor<D>,
    grads: Vec<Tensor<D>>,
) -> (Tensor<D>, Option<ShampooState<D>>) {
    grads
        .into_iter()
        .fold((theta, None), |(theta, state), grad| {
            optim.step(lr, theta, grad, state)
        })
}

// ---------------------------------------------------------------- hand-derived single steps

#[test]
fn shampoo_one_step_on_a_symmetric_2x2_gradient_matches_hand_derivation() {
    // G = [[2, 1], [1, 2]] = Q diag(3, 1) Q^T, q1 = (1, 1) / sqrt 2, q2 = (1, -1) / sqrt 2.
    // L = G G^T = R = G^T G = Q diag(9, 1) Q^T. With eps = 11.25:
    //   (L + eps I)^(-1/4) = Q diag(20.25^(-1/4), 12.25^(-1/4)) Q^T
    //                      = Q diag(4.5^(-1/2), 3.5^(-1/2)) Q^T   (same for R)
    //   D = L^(-1/4) G R^(-1/4) = Q diag(3 / 4.5, 1 / 3.5) Q^T = (2/3) q1 q1^T + (2/7) q2 q2^T
    //     = [[1/3 + 1/7, 1/3 - 1/7], [1/3 - 1/7, 1/3 + 1/7]] = [[10, 4], [4, 10]] / 21.
    let g = Tensor::<2>::from_data([[2.0, 1.0], [1.0, 2.0]], &device());
    let expected = [-10.0 / 21.0, -4.0 / 21.0, -4.0 / 21.0, -10.0 / 21.0];
    // b2 = 1 sums G G^T; b2 = 0.9 stores 0.1 G G^T, which bias correction divides by 1 - 0.9.
    for beta_2 in [1.0, 0.9] {
        let config = paper_form(11.25).with_beta_2(beta_2);
        assert_close(&one_step(&config, g.clone()), &expected, 1e-6);
    }
}

#[test]
fn shampoo_one_step_on_a_3x2_gradient_matches_hand_derivation() {
    // G = [g1 g2], g1 = (1, 2, 2), g2 = (4, -4, 2): g1 . g2 = 4 - 8 + 4 = 0, |g1| = 3, |g2| = 6.
    // So G^T G = diag(9, 36) and G = 3 u1 e1^T + 6 u2 e2^T with u_i = g_i / |g_i|;
    // G G^T = 9 u1 u1^T + 36 u2 u2^T plus a null direction u3.
    // eps = 160: (L + eps I)^(-1/4) is 169^(-1/4) = 13^(-1/2) on u1 and 196^(-1/4) = 14^(-1/2)
    // on u2; (R + eps I)^(-1/4) = diag(13^(-1/2), 14^(-1/2)). Hence
    //   D = (3 / 13) u1 e1^T + (6 / 14) u2 e2^T = [g1 / 13, g2 / 14];
    // the null direction u3 (weight 160^(-1/4)) never meets G.
    let g = Tensor::<2>::from_data([[1.0, 4.0], [2.0, -4.0], [2.0, 2.0]], &device());
    let expected = [
        -1.0 / 13.0,
        -4.0 / 14.0,
        -2.0 / 13.0,
        4.0 / 14.0,
        -2.0 / 13.0,
        -2.0 / 14.0,
    ];
    assert_close(&one_step(&paper_form(160.0), g), &expected, 1e-6);
}

#[test]
fn shampoo_one_step_on_a_rank_one_3x2_gradient_is_g_over_its_damped_norm() {
    // G = u v^T, u = (1, 2, 2), v = (3, 4): |u| = 3, |v| = 5, ||G||_F = 15.
    // L = G G^T = 25 u u^T: eigenvalue 225 on u / 3, zero on the 2-D complement (rank-deficient);
    // R = G^T G = 9 v v^T: eigenvalue 225 on v / 5, zero on its complement.
    // eps = 31: (225 + 31)^(-1/4) = 256^(-1/4) = 1/4 on both sides, so D = G / 16.
    let g = Tensor::<2>::from_data([[3.0, 4.0], [6.0, 8.0], [6.0, 8.0]], &device());
    let expected = [3.0, 4.0, 6.0, 8.0, 6.0, 8.0].map(|x: f64| -x / 16.0);
    assert_close(&one_step(&paper_form(31.0), g), &expected, 1e-6);
}

#[test]
fn shampoo_grafted_step_takes_adams_norm_and_shampoos_direction() {
    // Adam grafting at step 1 with bias correction (b1 = 0.9, b2 = 0.999): m_hat = g and
    // v_hat = g^2, so a = g / (|g| + 1e-8) = sign(g) up to 5e-9, and ||a||_F = 2.
    // Shampoo's direction for G = [[2, 1], [1, 2]], eps = 11.25 is [[10, 4], [4, 10]] / 21
    // (first test; bias correction makes L_hat = G G^T), of norm sqrt(232) / 21, so
    //   u = ||a|| D / ||D|| = 2 [[10, 4], [4, 10]] / sqrt(232).
    let g = Tensor::<2>::from_data([[2.0, 1.0], [1.0, 2.0]], &device());
    let config = ShampooConfig::new()
        .with_epsilon(11.25)
        .with_precondition_interval(1);
    let k = -2.0 / 232f64.sqrt();
    assert_close(
        &one_step(&config, g),
        &[10.0 * k, 4.0 * k, 4.0 * k, 10.0 * k],
        1e-6,
    );
}

#[test]
fn shampoo_adagrad_grafting_takes_adagrads_norm() {
    // AdaGrad at step 1: v = g^2, a = g / (|g| + 1e-8) = sign(g): the same norm 2 as Adam's,
    // so the same step as the Adam-grafted test; b1 = 0 keeps m = g.
    let g = Tensor::<2>::from_data([[2.0, 1.0], [1.0, 2.0]], &device());
    let config = ShampooConfig::new()
        .with_beta_1(0.0)
        .with_epsilon(11.25)
        .with_grafting(Grafting::AdaGrad);
    let k = -2.0 / 232f64.sqrt();
    assert_close(
        &one_step(&config, g),
        &[10.0 * k, 4.0 * k, 4.0 * k, 10.0 * k],
        1e-6,
    );
}

#[test]
fn shampoo_two_steps_with_momentum_match_hand_derivation() {
    // G = [[3, 4], [-4, 3]] is 5 times a rotation, so G G^T = G^T G = 25 I and, with b2 = 1,
    // L_t = R_t = 25 t I after t equal steps: (L_t + eps I)^(-1/4) = (25 t + eps)^(-1/4) I and
    // D_t = m_t / sqrt(25 t + eps). eps = 119 makes sqrt(144) = 12 and sqrt(169) = 13.
    // Without bias correction, b1 = 0.5: m_1 = 0.5 G, m_2 = 0.75 G, so
    //   theta_2 = -(G / 24 + 3 G / 52) = -G (13 + 18) / 312 = -31 G / 312.
    // With bias correction m_hat_1 = m_hat_2 = G: theta_2 = -(G / 12 + G / 13) = -25 G / 156.
    let g = Tensor::<2>::from_data([[3.0, 4.0], [-4.0, 3.0]], &device());
    for (bias_correction, factor) in [(false, 31.0 / 312.0), (true, 25.0 / 156.0)] {
        let optim = paper_form(119.0)
            .with_beta_1(0.5)
            .with_bias_correction(bias_correction)
            .build();
        let (theta, _) = run_lr(&optim, 1.0, g.zeros_like(), vec![g.clone(), g.clone()]);
        let expected = [3.0, 4.0, -4.0, 3.0].map(|x: f64| -factor * x);
        assert_close(&values(&theta), &expected, 1e-6);
    }
}

#[test]
fn shampoo_weight_decay_is_decoupled() {
    // A zero gradient gives a zero update (0 / (0 + eps)), so only the decay acts:
    // theta <- (1 - lr wd) theta = (1 - 0.1 * 0.5) theta = 0.95 theta.
    let optim = ShampooConfig::new().with_weight_decay(0.5).build();
    let theta = Tensor::<2>::from_data([[1.0, 2.0], [3.0, 4.0]], &device());
    let (theta, _) = optim.step(0.1, theta.clone(), theta.zeros_like(), None);
    assert_close(&values(&theta), &[0.95, 1.9, 2.85, 3.8], 1e-6);
}

#[test]
fn shampoo_steps_vectors_with_the_grafting_method() {
    // A rank-1 parameter takes Adam's step: at step 1 a = g / (|g| + 1e-8) = (1, -1) up to
    // 3e-9 for g = (3, -4), so theta = -lr a = (-0.1, 0.1) for lr = 0.1.
    let g = Tensor::<1>::from_data([3.0, -4.0], &device());
    let (theta, state) = ShampooConfig::new()
        .build()
        .step(0.1, g.zeros_like(), g, None);
    assert_close(&values(&theta), &[-0.1, 0.1], 1e-6);
    assert!(state.unwrap().factors.0.is_empty());
}

#[test]
fn shampoo_preconditions_rank_3_tensors_as_their_matrix_view() {
    // [2, 2, 3] is seen as the [4, 3] matrix that merges the two leading dims.
    let g3 = Rng(3).tensor([2, 2, 3], &device());
    let g2: Tensor<2> = g3.clone().reshape([4, 3]);
    let config = paper_form(1e-3);
    assert_close(
        &one_step(&config, g3),
        &one_step(&config, g2).map_f64(),
        1e-6,
    );
}

#[test]
fn shampoo_blocks_are_preconditioned_independently() {
    // With max_preconditioner_dim = 2, a [4, 2] gradient is two 2 x 2 row blocks with their own
    // factors; its step equals stepping each block as a separate parameter.
    let g = Rng(4).tensor([4, 2], &device());
    let blocked = one_step(&paper_form(1e-3).with_max_preconditioner_dim(2), g.clone());
    let top = one_step(&paper_form(1e-3), g.clone().slice([0..2, 0..2]));
    let bottom = one_step(&paper_form(1e-3), g.slice([2..4, 0..2]));
    let separate: Vec<f32> = top.into_iter().chain(bottom).collect();
    assert_close(&blocked, &separate.map_f64(), 1e-6);
}

trait MapF64 {
    fn map_f64(&self) -> Vec<f64>;
}

impl MapF64 for Vec<f32> {
    fn map_f64(&self) -> Vec<f64> {
        self.iter().map(|v| f64::from(*v)).collect()
    }
}

// ---------------------------------------------------------------- preconditioning schedule

#[test]
fn shampoo_computes_roots_exactly_once_per_interval() {
    // Interval 3 from step 1: roots at steps 1, 4, 7, 10; reused unchanged in between.
    let optim = ShampooConfig::new().with_precondition_interval(3).build();
    let mut rng = Rng(5);
    let (mut theta, mut state) = (Tensor::<2>::zeros([3, 2], &device()), None);
    let mut previous_root: Option<Vec<f32>> = None;
    for t in 1..=10 {
        (theta, state) = optim.step(0.05, theta, rng.tensor([3, 2], &device()), state);
        let s = state.as_ref().unwrap();
        assert_eq!(s.root_computations, (t - 1) / 3 + 1, "step {t}");
        let root = values(s.factors.0[0].left_root.as_ref().unwrap());
        let recomputed = previous_root.as_ref() != Some(&root);
        assert_eq!(recomputed, (t - 1).is_multiple_of(3), "step {t}");
        previous_root = Some(root);
    }
}

#[test]
fn shampoo_takes_the_grafting_step_before_start_preconditioning_step() {
    // start = 5, interval 3: no roots before step 5, then at steps 5 and 8. Until step 5 the
    // matrix takes Adam's step, i.e. the step of the same gradients seen as a vector.
    let optim = ShampooConfig::new()
        .with_precondition_interval(3)
        .with_start_preconditioning_step(5)
        .build();
    let mut rng = Rng(6);
    let grads: Vec<Tensor<2>> = (0..9).map(|_| rng.tensor([3, 2], &device())).collect();
    let (mut matrix, mut state) = (Tensor::<2>::zeros([3, 2], &device()), None);
    let (mut vector, mut vector_state) = (Tensor::<1>::zeros([6], &device()), None);
    for (t, grad) in (1..).zip(grads) {
        (matrix, state) = optim.step(0.05, matrix, grad.clone(), state);
        (vector, vector_state) = optim.step(0.05, vector, grad.reshape([6]), vector_state);
        let s = state.as_ref().unwrap();
        let expected = if t < 5 { 0 } else { (t - 5) / 3 + 1 };
        assert_eq!(s.root_computations, expected, "step {t}");
        if t < 5 {
            assert!(s.factors.0[0].left_root.is_none());
            assert_eq!(values(&matrix), values(&vector), "step {t}");
        }
    }
    assert_ne!(
        values(&matrix),
        values(&vector),
        "Shampoo's direction differs from Adam's"
    );
}

// ---------------------------------------------------------------- inverse root

/// `A = Q diag(lambda) Q^T` with `Q` orthogonal (QR of a Gaussian matrix) and eigenvalues
/// log-spaced from 1 down to `1 / condition`.
fn random_spd(n: usize, condition: f64, rng: &mut Rng) -> DMatrix<f64> {
    let gaussian = DMatrix::from_fn(n, n, |_, _| rng.normal());
    let q = gaussian.qr().q();
    let lambda = nalgebra::DVector::from_fn(n, |i, _| condition.powf(-(i as f64) / (n - 1) as f64));
    &q * DMatrix::from_diagonal(&lambda) * q.transpose()
}

#[test]
fn inverse_root_of_ill_conditioned_spd_matrices_is_accurate_to_the_conditioning() {
    // ||X^4 A - I||_F for X = A^(-1/4) can be no better than about cond(A) * unit round-off
    // (a backward error of size u ||A|| in A moves X^4 A by u cond(A)); we require it within
    // 8 n cond(A) u. eps = 1e-30 is far below lambda_min >= 1e-8 and changes nothing.
    let n = 24;
    let mut rng = Rng(7);
    for condition in [1.0, 1e2, 1e4, 1e6, 1e8] {
        let mut worst: f64 = 0.0;
        for _ in 0..3 {
            let a = random_spd(n, condition, &mut rng);
            let result = inverse_root(&a, 0.25, 1e-30, 1e-10).expect("root of an SPD matrix");
            let x2 = &result.root * &result.root;
            let residual = (&x2 * &x2 * &a - DMatrix::<f64>::identity(n, n)).norm();
            worst = worst.max(residual);
            assert!(
                result.residual < 1e-13,
                "backward error {:e}",
                result.residual
            );
        }
        let bound = 8.0 * n as f64 * condition * f64::EPSILON;
        eprintln!("cond {condition:e}: max ||X^4 A - I||_F = {worst:.2e} (bound {bound:.1e})");
        assert!(worst <= bound, "cond {condition:e}: {worst:e} > {bound:e}");
    }
}

#[test]
fn inverse_root_reports_failures_instead_of_hiding_them() {
    let mut a = DMatrix::<f64>::identity(3, 3);
    a[(1, 2)] = f64::NAN;
    assert_eq!(
        inverse_root(&a, 0.25, 1e-12, 1e-8).unwrap_err(),
        RootError::NonFiniteInput
    );
    a[(1, 2)] = f64::INFINITY;
    assert_eq!(
        inverse_root(&a, 0.25, 1e-12, 1e-8).unwrap_err(),
        RootError::NonFiniteInput
    );

    let wide = DMatrix::<f64>::zeros(2, 3);
    let err = inverse_root(&wide, 0.25, 1e-12, 1e-8).unwrap_err();
    assert_eq!(err, RootError::NotSquare { rows: 2, cols: 3 });

    // A tolerance of 0 rejects any decomposition with a nonzero round-off residual.
    let spd = random_spd(5, 1e3, &mut Rng(8));
    assert!(matches!(
        inverse_root(&spd, 0.25, 1e-12, 0.0).unwrap_err(),
        RootError::Residual { .. }
    ));

    // (0 + 1e-320)^(-1) overflows f64.
    let zero = DMatrix::<f64>::zeros(2, 2);
    assert_eq!(
        inverse_root(&zero, 1.0, 1e-320, 1e-8).unwrap_err(),
        RootError::NonFiniteRoot
    );
}

#[test]
fn inverse_root_of_a_1x1_matrix_is_the_scalar_power() {
    // (16 + 0)^(-1/4) = 1/2, and for exponent 1/2: 16^(-1/2) = 1/4.
    let a = DMatrix::from_element(1, 1, 16.0);
    assert!((inverse_root(&a, 0.25, 1e-300, 1e-12).unwrap().root[(0, 0)] - 0.5).abs() < 1e-15);
    assert!((inverse_root(&a, 0.5, 1e-300, 1e-12).unwrap().root[(0, 0)] - 0.25).abs() < 1e-15);
}

#[test]
fn shampoo_counts_failed_roots_and_falls_back_to_the_grafting_step() {
    // A residual tolerance no decomposition can meet makes both roots fail at step 1. The step
    // is then Adam's: a = g / (|g| + 1e-8) = sign(g) (bias-corrected step 1), theta = -lr a.
    let optim = ShampooConfig::new().with_max_root_residual(1e-300).build();
    let g = Rng(9).tensor([3, 2], &device());
    let sign: Vec<f64> = values(&g)
        .iter()
        .map(|v| -0.1 * f64::from(v.signum()))
        .collect();
    let (theta, state) = optim.step(0.1, g.zeros_like(), g, None);
    let state = state.unwrap();
    assert_eq!((state.root_computations, state.root_failures), (1, 2));
    assert!(state.factors.0[0].left_root.is_none());
    assert_close(&values(&theta), &sign, 1e-6);
}

#[test]
fn shampoo_keeps_the_last_good_root_when_a_recomputation_fails() {
    // Step 1 computes good roots from G1 = [[2, 1], [1, 2]]. Step 2's gradient overflows
    // G G^T in f32 (entries 1e20 -> 1e40), so the statistics keep their step-1 values and the
    // recomputed roots equal the step-1 roots; no NaN reaches the parameter.
    let optim = paper_form(11.25).build();
    let g1 = Tensor::<2>::from_data([[2.0, 1.0], [1.0, 2.0]], &device());
    let g2 = Tensor::<2>::from_data([[1e20, -1e20], [1e20, 1e20]], &device());
    let (theta, state) = optim.step(1.0, g1.zeros_like(), g1, None);
    let root_1 = values(
        state.as_ref().unwrap().factors.0[0]
            .left_root
            .as_ref()
            .unwrap(),
    );
    let (theta, state) = optim.step(1e-20, theta, g2, state);
    let state = state.unwrap();
    assert_eq!(
        values(state.factors.0[0].left_root.as_ref().unwrap()),
        root_1
    );
    assert!(all_finite(&values(&state.factors.0[0].left)));
    assert!(all_finite(&values(&theta)));
}

// ---------------------------------------------------------------- bad input

#[test]
fn shampoo_zero_and_rank_deficient_gradients_give_finite_updates() {
    let optim = ShampooConfig::new().with_precondition_interval(1).build();
    let zero = Tensor::<2>::zeros([3, 2], &device());
    let (theta, state) = optim.step(0.1, zero.clone(), zero.clone(), None);
    // Zero gradient: Adam's step is 0 / (0 + eps) = 0, so the parameter does not move.
    assert_eq!(values(&theta), vec![0.0; 6]);
    let rank_one = Tensor::<2>::from_data([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]], &device());
    let (theta, state) = optim.step(0.1, theta, rank_one, state);
    let (theta, _) = optim.step(0.1, theta, zero, state);
    assert!(all_finite(&values(&theta)));
}

#[test]
fn shampoo_huge_dynamic_range_gradients_give_finite_updates() {
    let optim = ShampooConfig::new().with_precondition_interval(1).build();
    let paper = paper_form(1e-12).build();
    let grads = [
        [[1e15, 1e-30], [-1e-20, 1e10]],
        [[1e-30, 1e-25], [1e-35, -1e-28]],
        [[3e19, -1e-30], [1.0, 3e19]],
    ];
    for optim in [&optim, &paper] {
        let (mut theta, mut state) = (Tensor::<2>::zeros([2, 2], &device()), None);
        for g in grads {
            (theta, state) = optim.step(1e-3, theta, Tensor::from_data(g, &device()), state);
            assert!(all_finite(&values(&theta)), "{:?}", values(&theta));
        }
    }
}

/// Gradients meant to break a preconditioner: zeros, rank one, tiny, huge, alternating signs,
/// scales from 1e-30 to 1e30, and non-finite entries (which the step skips).
fn adversarial(t: usize, rng: &mut Rng) -> Vec<f32> {
    let normals = rng.normals(6);
    let scale = 10f32.powf((rng.uniform() * 60.0 - 30.0) as f32);
    match t % 9 {
        0 => vec![0.0; 6],
        1 => vec![1e18, 2e18, -1e18, -2e18, 0.0, 0.0],
        2 => normals.iter().map(|v| v * 1e-30).collect(),
        3 => normals,
        4 => normals.iter().map(|v| v * scale).collect(),
        5 => (0..6)
            .map(|i| {
                if (i + t).is_multiple_of(2) {
                    1e10
                } else {
                    -1e10
                }
            })
            .collect(),
        6 => vec![f32::NAN, 1.0, 1.0, 1.0, 1.0, 1.0],
        7 => vec![f32::INFINITY, 0.0, 0.0, 0.0, 0.0, 0.0],
        _ => vec![3e38, 1e-38, 0.0, 0.0, 0.0, 1.0],
    }
}

#[test]
fn shampoo_ten_thousand_random_and_adversarial_steps_stay_finite() {
    let configs = [
        ShampooConfig::new().with_precondition_interval(1),
        paper_form(1e-12).with_precondition_interval(3),
        ShampooConfig::new()
            .with_beta_2(1.0)
            .with_grafting(Grafting::AdaGrad),
    ];
    for config in configs {
        let config_interval = config.precondition_interval;
        let optim = config.with_weight_decay(1e-2).build();
        let mut rng = Rng(10);
        let (mut matrix, mut matrix_state) = (Tensor::<2>::zeros([3, 2], &device()), None);
        let (mut vector, mut vector_state) = (Tensor::<1>::zeros([6], &device()), None);
        for t in 0..10_000 {
            let g = adversarial(t, &mut rng);
            let g_matrix = Tensor::from_data(TensorData::new(g.clone(), [3, 2]), &device());
            let g_vector = Tensor::from_data(TensorData::new(g, [6]), &device());
            (matrix, matrix_state) = optim.step(1e-3, matrix, g_matrix, matrix_state);
            (vector, vector_state) = optim.step(1e-3, vector, g_vector, vector_state);
        }
        // NaN is absorbing in `theta - lr u`, so finiteness now means finiteness at every step.
        assert!(all_finite(&values(&matrix)), "{:?}", values(&matrix));
        assert!(all_finite(&values(&vector)), "{:?}", values(&vector));
        let state = matrix_state.unwrap();
        // t % 9 in {6, 7} is non-finite: 2 of every 9 steps in 1111 full cycles, none in t = 9999.
        assert_eq!(state.skipped_steps, 2 * (10_000 / 9));
        let factor = &state.factors.0[0];
        assert!(all_finite(&values(&factor.left)) && all_finite(&values(&factor.right)));
        // Every recomputation succeeded: overflowing statistics were dropped, never stored.
        assert_eq!(
            state.root_computations,
            state.time.div_ceil(config_interval)
        );
        assert_eq!(state.root_failures, 0);
    }
}

#[test]
fn shampoo_rejects_invalid_configs_naming_the_field() {
    let cases = [
        (ShampooConfig::new().with_beta_1(1.0), "beta_1"),
        (ShampooConfig::new().with_beta_2(1.5), "beta_2"),
        (ShampooConfig::new().with_beta_2(f64::NAN), "beta_2"),
        (ShampooConfig::new().with_epsilon(0.0), "epsilon"),
        (ShampooConfig::new().with_exponent(0.0), "exponent"),
        (ShampooConfig::new().with_exponent(1.5), "exponent"),
        (
            ShampooConfig::new().with_precondition_interval(0),
            "precondition_interval",
        ),
        (
            ShampooConfig::new().with_start_preconditioning_step(0),
            "start_preconditioning_step",
        ),
        (
            ShampooConfig::new().with_max_preconditioner_dim(0),
            "max_preconditioner_dim",
        ),
        (ShampooConfig::new().with_graft_beta_2(1.0), "graft_beta_2"),
        (
            ShampooConfig::new().with_graft_epsilon(-1.0),
            "graft_epsilon",
        ),
        (ShampooConfig::new().with_weight_decay(-0.1), "weight_decay"),
        (
            ShampooConfig::new().with_max_root_residual(0.0),
            "max_root_residual",
        ),
    ];
    for (config, field) in cases {
        let err = config.try_build().unwrap_err();
        assert_eq!(err.field, field);
        assert!(
            err.to_string().starts_with("invalid Shampoo config: `"),
            "{err}"
        );
        assert!(config.try_init().is_err());
    }
    assert!(ShampooConfig::new().with_beta_2(1.0).try_build().is_ok());
}

#[test]
#[should_panic(expected = "`precondition_interval` = 0 is not allowed; expected an integer >= 1")]
fn shampoo_build_panics_with_the_config_error() {
    ShampooConfig::new().with_precondition_interval(0).build();
}

// ---------------------------------------------------------------- state

fn round_trip<const D: usize>(state: &ShampooState<D>, device: &Device) -> ShampooState<D> {
    let mut sink = StateSink::default();
    state.state_flatten("p", &mut sink);
    let mut source = StateSource::new(sink.scalars.into_iter().collect());
    for (name, data) in sink.tensors {
        source.insert_tensor(name, data);
    }
    ShampooState::state_unflatten("p", &mut source, device).expect("complete state")
}

#[test]
fn shampoo_state_saved_and_loaded_continues_exactly_like_an_uninterrupted_run() {
    // 4 blocks (max dim 2 on a [2, 2, 3] tensor seen as 4 x 3), momentum, roots every 3 steps:
    // the continuation after a save at step 5 reuses the saved roots at steps 6 and 7.
    let optim = ShampooConfig::new()
        .with_precondition_interval(3)
        .with_max_preconditioner_dim(2)
        .build();
    let mut rng = Rng(11);
    let grads: Vec<Tensor<3>> = (0..9).map(|_| rng.tensor([2, 2, 3], &device())).collect();
    let theta = Tensor::<3>::zeros([2, 2, 3], &device());

    let (expected, _) = run(&optim, theta.clone(), None, grads.clone());
    let (halfway, state) = run(&optim, theta, None, grads[..5].to_vec());
    let restored = round_trip(state.as_ref().unwrap(), &device());
    assert_eq!(restored.factors.0.len(), 4);
    let (actual, _) = run(&optim, halfway, Some(restored), grads[5..].to_vec());
    assert_eq!(values(&actual), values(&expected));
}

#[test]
fn shampoo_module_optimizer_bytes_round_trip_continues_identically() {
    let device = Device::flex().autodiff();
    let x = Rng(12).tensor([8, 3], &device);
    let y = Rng(13).tensor([8, 2], &device);
    let grads = |model: &Linear| {
        let loss = (model.forward(x.clone()) - y.clone())
            .powf_scalar(2.0)
            .mean();
        GradientsParams::from_grads(loss.backward(), model)
    };
    let config = ShampooConfig::new().with_precondition_interval(2);
    let mut model: Linear = LinearConfig::new(3, 2).init(&device);
    let mut original = config.init();
    for _ in 0..3 {
        model = original.step(1e-2, model.clone(), grads(&model));
    }
    let bytes = original.into_bytes().unwrap();
    let mut restored = config.init().from_bytes(bytes).unwrap();
    let (mut a, mut b) = (model.clone(), model);
    for _ in 0..3 {
        a = original.step(1e-2, a.clone(), grads(&a));
        b = restored.step(1e-2, b.clone(), grads(&b));
    }
    assert_eq!(values(&a.weight.val()), values(&b.weight.val()));
    assert_eq!(
        values(&a.bias.unwrap().val()),
        values(&b.bias.unwrap().val())
    );
}

#[cfg(feature = "ndarray")]
#[test]
#[allow(deprecated)] // NdArray is the second CPU device available to move state to.
fn shampoo_state_moves_between_devices() {
    // Three steps on Flex, move parameter and state to NdArray, three more there: the state
    // lives on NdArray afterwards and the result matches six steps on Flex up to the two
    // backends' round-off.
    let (flex, ndarray) = (Device::flex(), Device::ndarray());
    let optim = ShampooConfig::new().with_precondition_interval(2).build();
    let mut rng = Rng(14);
    let grads: Vec<Vec<f32>> = (0..6).map(|_| rng.normals(6)).collect();
    let on = |g: &[f32], d: &Device| Tensor::<2>::from_data(TensorData::new(g.to_vec(), [3, 2]), d);

    let flex_grads = grads.iter().map(|g| on(g, &flex));
    let (expected, _) = run(&optim, Tensor::zeros([3, 2], &flex), None, flex_grads);

    let first = grads[..3].iter().map(|g| on(g, &flex));
    let (theta, state) = run(&optim, Tensor::zeros([3, 2], &flex), None, first);
    let state = Shampoo::to_device(state.unwrap(), &ndarray);
    assert_eq!(state.factors.0[0].left.device(), ndarray);
    assert_eq!(
        state.factors.0[0].left_root.as_ref().unwrap().device(),
        ndarray
    );
    let rest = grads[3..].iter().map(|g| on(g, &ndarray));
    let (actual, state) = run(&optim, theta.to_device(&ndarray), Some(state), rest);
    assert_eq!(state.unwrap().graft_moment.device(), ndarray);
    assert_close(&values(&actual), &values(&expected).map_f64(), 1e-5);
}

// ---------------------------------------------------------------- training

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    output: Linear,
}

impl Mlp {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.output.forward(relu(self.hidden.forward(x)))
    }
}

#[test]
fn shampoo_trains_a_small_mlp_to_lower_loss() {
    // y = sin(x0) + x1 x2 - x3 / 2 on 64 Gaussian inputs; a 4-16-1 ReLU MLP.
    let device = Device::flex().autodiff();
    let inputs = Rng(15).normals(64 * 4);
    let targets: Vec<f32> = inputs
        .chunks(4)
        .map(|x| x[0].sin() + x[1] * x[2] - 0.5 * x[3])
        .collect();
    let x = Tensor::<2>::from_data(TensorData::new(inputs, [64, 4]), &device);
    let y = Tensor::<2>::from_data(TensorData::new(targets, [64, 1]), &device);
    let mut model = Mlp {
        hidden: LinearConfig::new(4, 16).init(&device),
        output: LinearConfig::new(16, 1).init(&device),
    };
    let mut optim = ShampooConfig::new().with_precondition_interval(5).init();
    let loss_of = |model: &Mlp| {
        (model.forward(x.clone()) - y.clone())
            .powf_scalar(2.0)
            .mean()
    };

    let initial = values(&loss_of(&model))[0];
    for _ in 0..200 {
        let grads = GradientsParams::from_grads(loss_of(&model).backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    let last = values(&loss_of(&model))[0];
    eprintln!("MLP loss {initial} -> {last}");
    assert!(last < 0.3 * initial, "{initial} -> {last}");
}

#[derive(Module, Debug)]
struct Factorization {
    left: Param<Tensor<2>>,
    right: Param<Tensor<2>>,
}

#[test]
fn shampoo_trains_a_matrix_factorization_to_lower_loss() {
    // Fit M* = A B^T (8 x 6, rank 2) by W1 W2^T with W1: 8 x 2, W2: 6 x 2.
    let device = Device::flex().autodiff();
    let mut rng = Rng(16);
    let target = rng
        .tensor([8, 2], &device)
        .matmul(rng.tensor([6, 2], &device).transpose());
    let mut model = Factorization {
        left: Param::from_tensor(rng.tensor([8, 2], &device).mul_scalar(0.5)),
        right: Param::from_tensor(rng.tensor([6, 2], &device).mul_scalar(0.5)),
    };
    let mut optim = ShampooConfig::new().with_precondition_interval(5).init();
    let loss_of = |model: &Factorization| {
        let product = model.left.val().matmul(model.right.val().transpose());
        (product - target.clone()).powf_scalar(2.0).mean()
    };

    let initial = values(&loss_of(&model))[0];
    for _ in 0..300 {
        let grads = GradientsParams::from_grads(loss_of(&model).backward(), &model);
        model = optim.step(2e-2, model, grads);
    }
    let last = values(&loss_of(&model))[0];
    eprintln!("factorization loss {initial} -> {last}");
    assert!(last < 0.05 * initial, "{initial} -> {last}");
}
