//! Specifications in the default `f32`, against closed forms. The `f64` accuracy tests live in
//! `tests/f64.rs` (the Flex dtype is set once per process).

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::tensor::{DType, Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::*;

fn device() -> Device {
    Device::flex()
}

/// A single parameter vector `theta`.
#[derive(Module, Debug)]
struct Point {
    theta: Param<Tensor<1>>,
}

fn point(values: &[f32]) -> Point {
    Point {
        theta: Param::from_tensor(Tensor::from_floats(values, &device())),
    }
}

fn matrix(rows: &[&[f64]]) -> Tensor<2> {
    let n = rows.len();
    let flat: Vec<f32> = rows
        .iter()
        .flat_map(|r| r.iter().map(|x| *x as f32))
        .collect();
    Tensor::from_data(TensorData::new(flat, [n, rows[0].len()]), &device())
}

/// `L(theta) = 1/2 theta^T A theta`, whose Hessian is `A` everywhere.
fn quadratic(a: Tensor<2>) -> impl Fn(&Point) -> Tensor<1> {
    move |m: &Point| {
        let t = m.theta.val();
        let n = t.dims()[0];
        let at = a.clone().matmul(t.clone().unsqueeze_dim(1)).reshape([n]);
        (t * at).sum().mul_scalar(0.5)
    }
}

const A: [[f64; 3]; 3] = [[4.0, 1.0, -0.5], [1.0, 3.0, 2.0], [-0.5, 2.0, 5.0]];

fn a_rows() -> Vec<&'static [f64]> {
    A.iter().map(|r| r.as_slice()).collect()
}

fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    let num: f64 = got.iter().zip(want).map(|(g, w)| (g - w).powi(2)).sum();
    let den: f64 = want.iter().map(|w| w * w).sum();
    (num / den).sqrt()
}

fn dense(n: usize, entries: Vec<f64>) -> DenseOperator {
    DenseOperator::new(ParamLayout::flat("x", n, DType::F32), entries, &device()).unwrap()
}

mod param_vec {
    use super::*;

    #[test]
    fn dot_norm_and_axpy_follow_their_definitions() {
        let layout = ParamLayout::flat("x", 3, DType::F32);
        let x = ParamVec::from_flat(&layout, &[1.0, 2.0, 2.0], &device()).unwrap();
        let y = ParamVec::from_flat(&layout, &[3.0, -1.0, 0.5], &device()).unwrap();
        assert_eq!(x.dot(&y), 2.0);
        assert_eq!(x.norm(), 3.0);
        assert_eq!(x.axpy(2.0, &y).to_flat(), vec![7.0, 0.0, 3.0]);
        assert_eq!(x.mul(&y).to_flat(), vec![3.0, -2.0, 1.0]);
    }

    #[test]
    fn layout_lists_parameters_in_module_order_with_paths() {
        let model: burn::nn::Linear = burn::nn::LinearConfig::new(3, 2).init(&device());
        let layout = ParamLayout::from_module(&model);
        let paths: Vec<&str> = layout.slots().iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["weight", "bias"]);
        assert_eq!(layout.numel(), 8);
        assert_eq!(layout.locate(5), Some((0, 5)));
        assert_eq!(layout.locate(6), Some((1, 0)));
        assert_eq!(layout.locate(8), None);
        let e6 = ParamVec::basis(&layout, &device(), 6).unwrap().to_flat();
        assert_eq!(e6, vec![0., 0., 0., 0., 0., 0., 1., 0.]);
    }

    #[test]
    fn probes_are_reproducible_from_a_seed_and_rademacher_is_plus_minus_one() {
        let layout = ParamLayout::flat("x", 64, DType::F32);
        let draw = |seed| {
            ParamVec::rademacher(&layout, &device(), &mut ChaCha8Rng::seed_from_u64(seed)).to_flat()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        assert!(draw(7).iter().all(|x| x.abs() == 1.0));
    }
}

mod hvp {
    use super::*;

    #[test]
    fn hvp_of_a_quadratic_is_a_times_v() {
        let model = point(&[0.3, -1.0, 2.0]);
        let mut hvp = Hvp::new(&model, quadratic(matrix(&a_rows()))).unwrap();
        let v = [0.5, -2.0, 1.0];
        let want: Vec<f64> = A
            .iter()
            .map(|r| r.iter().zip(&v).map(|(a, b)| a * b).sum())
            .collect();
        let layout = hvp.layout().clone();
        let got = hvp
            .apply(&ParamVec::from_flat(&layout, &v, &device()).unwrap())
            .unwrap();
        assert!(
            rel_err(&got.to_flat(), &want) < 1e-4,
            "{:?} vs {want:?}",
            got.to_flat()
        );
    }

    #[test]
    fn trace_and_top_eigenvalue_of_a_quadratic_are_those_of_a() {
        // A = tridiagonal Toeplitz (3 on the diagonal, -1 beside it), n = 5: tr(A) = 15 and
        // lambda_max = 3 + 2 cos(pi / 6) = 3 + sqrt(3).
        let rows: Vec<Vec<f64>> = (0..5usize)
            .map(|i| {
                (0..5)
                    .map(|j| match i.abs_diff(j) {
                        0 => 3.0,
                        1 => -1.0,
                        _ => 0.0,
                    })
                    .collect()
            })
            .collect();
        let rows: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        let model = point(&[0.5, -0.2, 1.0, 0.0, 2.0]);
        let mut hvp = Hvp::new(&model, quadratic(matrix(&rows))).unwrap();
        let exact = measures::trace(&exact_diag(&mut hvp, 10, 5).unwrap()).unwrap();
        assert!((exact.value - 15.0).abs() < 1e-3, "{exact:?}");
        let tr = hutchinson_trace(&mut hvp, 30, 3).unwrap();
        assert!((tr.value - 15.0).abs() < 4.0 * tr.std_err, "{tr:?}");
        let top = Lanczos::new(5, 1e-6, 0).run(&mut hvp).unwrap();
        assert!(
            (top.value - (3.0 + 3f64.sqrt())).abs() < 1e-3,
            "{}",
            top.value
        );
    }

    #[test]
    fn central_costs_two_gradients_richardson_four_and_zero_costs_nothing() {
        let model = point(&[0.3, -1.0, 2.0]);
        let mut hvp = Hvp::new(&model, quadratic(matrix(&a_rows()))).unwrap();
        let layout = hvp.layout().clone();
        let e0 = ParamVec::basis(&layout, &device(), 0).unwrap();
        hvp.apply(&e0).unwrap();
        assert_eq!(
            hvp.cost(),
            OperatorCost {
                matvecs: 1,
                gradients: 2
            }
        );
        hvp.apply(&ParamVec::zeros(&layout, &device())).unwrap();
        assert_eq!(hvp.cost().gradients, 2);
        let mut hvp = hvp.with_scheme(FdScheme::Richardson);
        hvp.apply(&e0).unwrap();
        assert_eq!(hvp.cost().gradients, 6);
        assert!(hvp.last_report().unwrap().rel_error_estimate.is_some());
    }

    #[test]
    fn gradient_and_loss_match_the_closed_form() {
        // L = 1/2 theta^T A theta, grad = A theta.
        let theta = [0.3, -1.0, 2.0];
        let model = point(&theta.map(|x| x as f32));
        let mut hvp = Hvp::new(&model, quadratic(matrix(&a_rows()))).unwrap();
        let a_theta: Vec<f64> = A
            .iter()
            .map(|r| r.iter().zip(&theta).map(|(a, b)| a * b).sum())
            .collect();
        let loss: f64 = 0.5 * theta.iter().zip(&a_theta).map(|(a, b)| a * b).sum::<f64>();
        let (l, g) = hvp.loss_and_gradient().unwrap();
        assert!((l - loss).abs() < 1e-5);
        assert!(rel_err(&g.to_flat(), &a_theta) < 1e-6);
    }

    #[test]
    fn a_loss_with_several_values_is_rejected() {
        let model = point(&[1.0, 2.0]);
        let mut hvp = Hvp::new(&model, |m: &Point| m.theta.val()).unwrap();
        let e0 = ParamVec::basis(hvp.layout(), &device(), 0).unwrap();
        assert!(matches!(
            hvp.apply(&e0),
            Err(CurvatureError::NonScalarLoss { .. })
        ));
    }

    #[test]
    fn automatic_step_scales_inversely_with_the_direction() {
        let model = point(&[0.1, 0.1]);
        let hvp = Hvp::new(&model, quadratic(matrix(&[&[1.0, 0.0], &[0.0, 1.0]]))).unwrap();
        let layout = hvp.layout().clone();
        let v = ParamVec::from_flat(&layout, &[1.0, 1.0], &device()).unwrap();
        let h = hvp.step_for(&v);
        assert!((h - (f32::EPSILON as f64).cbrt()).abs() < 1e-12);
        assert!((hvp.step_for(&v.scale(10.0)) - h / 10.0).abs() < 1e-12);
    }
}

mod estimators {
    use super::*;

    #[test]
    fn exact_diag_of_a_quadratic_is_the_diagonal_of_a() {
        let model = point(&[0.3, -1.0, 2.0]);
        let mut hvp = Hvp::new(&model, quadratic(matrix(&a_rows()))).unwrap();
        let est = exact_diag(&mut hvp, 10, 2).unwrap();
        assert!(rel_err(&est.diag.to_flat(), &[4.0, 3.0, 5.0]) < 1e-4);
        assert_eq!(est.cost.matvecs, 3);
        assert!(matches!(
            exact_diag(&mut hvp, 2, 2),
            Err(CurvatureError::TooLarge { .. })
        ));
    }

    #[test]
    fn hutchinson_recovers_a_diagonal_matrix_exactly() {
        // Off-diagonal entries are the only source of variance.
        let mut op = dense(3, vec![2.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 7.0]);
        let est = hutchinson_diag(&mut op, 4, 1).unwrap();
        assert_eq!(est.diag.to_flat(), vec![2.0, -1.0, 7.0]);
        assert_eq!(est.std_err.unwrap().to_flat(), vec![0.0; 3]);
        assert_eq!(est.cost.matvecs, 4);
    }

    /// A symmetric matrix `G G^T / m` with `G` Gaussian `n x m`.
    fn wishart(n: usize, m: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let g: Vec<f64> = (0..n * m)
            .map(|_| crate::param_vec::normal_draw(&mut rng))
            .collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..m).map(|k| g[i * m + k] * g[j * m + k]).sum::<f64>() / m as f64;
            }
        }
        a
    }

    #[test]
    fn hutchinson_diag_and_trace_lie_within_a_few_standard_errors() {
        let n = 20;
        let a = wishart(n, 30, 3);
        let truth_diag: Vec<f64> = (0..n).map(|i| a[i * n + i]).collect();
        let truth_trace: f64 = truth_diag.iter().sum();
        let mut op = dense(n, a);

        let tr = hutchinson_trace(&mut op, 50, 11).unwrap();
        assert!(
            (tr.value - truth_trace).abs() < 4.0 * tr.std_err,
            "{tr:?} vs {truth_trace}"
        );

        let est = hutchinson_diag(&mut op, 50, 12).unwrap();
        let d = est.diag.to_flat();
        let se = est.std_err.as_ref().unwrap().to_flat();
        let z: Vec<f64> = (0..n).map(|i| (d[i] - truth_diag[i]) / se[i]).collect();
        // With 20 coordinates, every one within 4 standard errors.
        assert!(z.iter().all(|z| z.abs() < 4.0), "{z:?}");
        let t = measures::trace(&est).unwrap();
        assert!((t.value - truth_trace).abs() < 4.0 * t.std_err.unwrap());
    }

    /// `U diag(big) U^T + noise`: rank 5 with large eigenvalues, plus a small full-rank part.
    fn low_rank_plus_noise(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let r = 5;
        let u: Vec<f64> = (0..n * r)
            .map(|_| crate::param_vec::normal_draw(&mut rng))
            .collect();
        let noise = wishart(n, n, seed + 1);
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let low: f64 = (0..r).map(|k| 10.0 * u[i * r + k] * u[j * r + k]).sum();
                a[i * n + j] = low + 0.05 * noise[i * n + j];
            }
        }
        a
    }

    #[test]
    fn hutchpp_beats_hutchinson_at_equal_budget_on_a_low_rank_plus_noise_matrix() {
        let n = 60;
        let a = low_rank_plus_noise(n, 5);
        let truth: f64 = (0..n).map(|i| a[i * n + i]).sum();
        let mut op = dense(n, a);
        let budget = 30;
        let (mut err_h, mut err_pp) = (0.0, 0.0);
        for seed in 0..5 {
            let h = hutchinson_trace(&mut op, budget, seed).unwrap();
            let pp = hutchpp_trace(&mut op, budget, seed).unwrap();
            assert_eq!(pp.cost.matvecs, budget);
            err_h += (h.value - truth).abs();
            err_pp += (pp.value - truth).abs();
        }
        assert!(
            err_pp < 0.2 * err_h,
            "Hutch++ {err_pp} vs Hutchinson {err_h}"
        );
    }

    /// Tridiagonal Toeplitz `3` on the diagonal, `-1` beside it: eigenvalues
    /// `3 - 2 cos(k pi / (n + 1))`, the largest `3 + 2 cos(pi / (n + 1))`.
    fn toeplitz(n: usize) -> Vec<f64> {
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            a[i * n + i] = 3.0;
            if i + 1 < n {
                a[i * n + i + 1] = -1.0;
                a[(i + 1) * n + i] = -1.0;
            }
        }
        a
    }

    #[test]
    fn lanczos_and_power_iteration_find_the_top_eigenvalue() {
        let n = 12;
        let truth = 3.0 + 2.0 * (std::f64::consts::PI / (n as f64 + 1.0)).cos();
        let mut op = dense(n, toeplitz(n));
        let lanczos = Lanczos::new(n, 1e-6, 0).run(&mut op).unwrap();
        assert!(
            (lanczos.value - truth).abs() < 1e-4,
            "{} vs {truth}",
            lanczos.value
        );
        let power = PowerIteration::new(2000, 1e-4, 0).run(&mut op).unwrap();
        assert!(
            (power.value - truth).abs() < 1e-3,
            "{} vs {truth}",
            power.value
        );
    }

    #[test]
    fn lanczos_warm_start_converges_faster_on_the_second_call() {
        let n = 40;
        let mut op = dense(n, toeplitz(n));
        let mut lanczos = Lanczos::new(n, 1e-5, 0);
        let first = lanczos.run(&mut op).unwrap();
        let second = lanczos.run(&mut op).unwrap();
        assert!(second.converged);
        assert!(second.iterations < first.iterations, "{second:?}");
        let mut power = PowerIteration::new(5000, 1e-4, 0);
        let first = power.run(&mut op).unwrap();
        let second = power.run(&mut op).unwrap();
        assert!(second.iterations < first.iterations);
    }

    #[test]
    fn preconditioned_top_eigenvalue_of_a_diagonal_matrix_is_max_s_times_a() {
        // S^(1/2) A S^(1/2) = diag(s_i a_i) for diagonal A.
        let mut op = dense(3, vec![2.0, 0.0, 0.0, 0.0, 8.0, 0.0, 0.0, 0.0, 1.0]);
        let layout = op.layout().clone();
        let s = ParamVec::from_flat(&layout, &[3.0, 0.5, 5.0], &device()).unwrap();
        let mut pre = Preconditioned::new(&mut op, &s).unwrap();
        let top = Lanczos::new(3, 1e-8, 0).run(&mut pre).unwrap();
        assert!((top.value - 6.0).abs() < 1e-4, "{}", top.value);
        let bad = ParamVec::from_flat(&layout, &[1.0, 0.0, 1.0], &device()).unwrap();
        assert!(Preconditioned::new(&mut op, &bad).is_err());
    }
}

mod measure_values {
    use super::*;
    use crate::measures::*;
    use adasharp_optim::{AdalayerConfig, AdamMiniConfig};

    fn exact(layout: &Arc<ParamLayout>, d: &[f64]) -> DiagEstimate {
        DiagEstimate {
            diag: ParamVec::from_flat(layout, d, &device()).unwrap(),
            std_err: None,
            jackknife: Vec::new(),
            method: DiagMethod::Exact,
            probes: d.len(),
            cost: OperatorCost::default(),
        }
    }

    #[test]
    fn diagonal_measures_clip_negative_entries_and_count_them() {
        let est = exact(&ParamLayout::flat("x", 3, DType::F32), &[4.0, 9.0, -1.0]);
        assert_eq!(trace(&est).unwrap().value, 12.0);
        let sqrt = trace_sqrt_diag(&est).unwrap();
        assert_eq!((sqrt.value, sqrt.clipped, sqrt.std_err), (5.0, 1, None));
        // lambda = 1/2 is the square root; lambda = 0 the (clipped) trace.
        assert_eq!(trace_diag_pow(&est, 0.5).unwrap().value, 5.0);
        assert_eq!(trace_diag_pow(&est, 0.0).unwrap().value, 13.0);
        let quarter = trace_diag_pow(&est, 0.25).unwrap().value;
        assert!((quarter - (4f64.powf(0.75) + 9f64.powf(0.75))).abs() < 1e-12);
        assert!(trace_diag_pow(&est, 1.0).is_err());
    }

    #[test]
    fn adam_eps_measure_matches_its_formula_and_limits() {
        let est = exact(&ParamLayout::flat("x", 2, DType::F32), &[4.0, 0.25]);
        let (eps, sigma) = (0.1, 0.5);
        let r: f64 = eps / sigma;
        let want: f64 = [2.0f64, 0.5]
            .iter()
            .map(|s| s - r * (s / r + 1.0).ln())
            .sum();
        assert!((adam_eps_trace(&est, eps, sigma).unwrap().value - want).abs() < 1e-12);
        // eps -> 0 gives tr(Diag(H)^(1/2)).
        assert!((adam_eps_trace(&est, 1e-12, sigma).unwrap().value - 2.5).abs() < 1e-9);
    }

    #[test]
    fn block_measure_uses_the_optimizers_blocks() {
        // Linear(2 -> 3): weight [2, 3] (Adam-mini: one block per column, |B| = 2), bias [3]
        // (one block of 3).
        let model: burn::nn::Linear = burn::nn::LinearConfig::new(2, 3).init(&device());
        let layout = ParamLayout::from_module(&model);
        // weight rows [1, 2, 3] and [4, 5, 6]; bias [1, 1, 2].
        let d = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 1.0, 2.0];
        let est = exact(&layout, &d);
        let mini = AdamMiniConfig::new().partition(&model).unwrap();
        let want = (2.0f64 * 5.0).sqrt()
            + (2.0f64 * 7.0).sqrt()
            + (2.0f64 * 9.0).sqrt()
            + (3.0f64 * 4.0).sqrt();
        assert!((block_sqrt_trace(&est, &mini).unwrap().value - want).abs() < 1e-9);
        // Adalayer: one block per tensor.
        let layer = AdalayerConfig::new().partition(&model).unwrap();
        let want = (6.0f64 * 21.0).sqrt() + (3.0f64 * 4.0).sqrt();
        assert!((block_sqrt_trace(&est, &layer).unwrap().value - want).abs() < 1e-9);
    }
}

mod optimizer_state {
    use super::*;
    use adasharp_optim::{PaperAdamConfig, Preconditioner};
    use burn::optim::{AdamConfig, GradientsParams};

    /// One optimizer step on `L = sum(g * theta)`: the gradient is `g`, so after one step
    /// `v = (1 - beta_2) g^2`.
    fn stepped(mut optim: burn::optim::ModuleOptimizer) -> (Point, burn::optim::OptimizerRecord) {
        let device = device().autodiff();
        let model = Point {
            theta: Param::from_tensor(Tensor::from_floats([1.0, 2.0, 3.0], &device)),
        };
        let g = Tensor::<1>::from_floats([0.5, -2.0, 4.0], &device);
        let loss = (model.theta.val() * g).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = optim.step(1e-3, model, grads);
        (model, optim.to_record())
    }

    #[test]
    fn adam_preconditioner_is_one_over_sqrt_v_plus_eps() {
        let p = Preconditioner {
            lambda: 0.5,
            epsilon: 1e-3,
        };
        let want: Vec<f64> = [0.5f64, -2.0, 4.0]
            .iter()
            .map(|g| 1.0 / ((0.001 * g * g).sqrt() + 1e-3))
            .collect();
        for optim in [AdamConfig::new().init(), PaperAdamConfig::new().init()] {
            let (model, record) = stepped(optim);
            let layout = ParamLayout::from_module(&model);
            let s = preconditioner_diag(record, &layout, None, p, BiasCorrection::None, &device())
                .unwrap();
            assert!(rel_err(&s.to_flat(), &want) < 1e-4, "{:?}", s.to_flat());
        }
    }

    #[test]
    fn bias_correction_divides_v_by_one_minus_beta_2_to_the_t() {
        let (model, record) = stepped(PaperAdamConfig::new().init());
        let layout = ParamLayout::from_module(&model);
        let state = OptimizerState::from_record(record).unwrap();
        let v = second_moment(
            &state,
            &layout,
            None,
            BiasCorrection::Beta2(0.999),
            &device(),
        )
        .unwrap();
        assert!(
            rel_err(&v.to_flat(), &[0.25, 4.0, 16.0]) < 1e-4,
            "{:?}",
            v.to_flat()
        );
    }
}

mod monitor {
    use super::*;

    fn weighted() -> (Point, impl Fn(&Point) -> Tensor<1> + Clone) {
        // L = sum_i w_i theta_i^2 / 2 with w = (3, 1): diag(H) = (3, 1).
        let loss = |m: &Point| {
            let t = m.theta.val();
            let w = Tensor::<1>::from_floats([3.0, 1.0], &t.device());
            (t.powi_scalar(2) * w).sum().mul_scalar(0.5)
        };
        (point(&[1.0, -2.0]), loss)
    }

    #[test]
    fn records_go_to_jsonl_and_csv_as_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let (jsonl, csv) = (dir.path().join("s.jsonl"), dir.path().join("s.csv"));
        let config = MonitorConfig::new(vec![
            Measure::Trace,
            Measure::TraceSqrtDiag,
            Measure::TopEigenvalue,
            Measure::AdamEpsTrace {
                epsilon: 0.001,
                sigma: 0.1,
            },
        ])
        .with_every(5)
        .with_exact_diag();
        let mut monitor = SharpnessMonitor::new(config)
            .unwrap()
            .with_sink(JsonlSink::create(&jsonl).unwrap())
            .with_sink(CsvSink::create(&csv).unwrap());
        let (model, loss) = weighted();
        for step in 1..=10 {
            monitor.maybe_evaluate(step, &model, loss.clone()).unwrap();
        }

        let records = JsonlSink::read(&jsonl).unwrap();
        assert_eq!(records.iter().map(|r| r.step).collect::<Vec<_>>(), [5, 10]);
        let r = &records[0];
        assert!((r.loss - 3.5).abs() < 1e-5);
        assert!((r.get("trace").unwrap().value - 4.0).abs() < 1e-3);
        assert!((r.get("trace_sqrt_diag").unwrap().value - (3f64.sqrt() + 1.0)).abs() < 1e-3);
        assert!((r.get("top_eigenvalue").unwrap().value - 3.0).abs() < 1e-3);
        assert_eq!(r.estimator, "exact");

        let text = std::fs::read_to_string(&csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("step,loss,estimator,probes,hvps,gradients,seconds"));
        assert!(lines[0].contains("trace_sqrt_diag_se"));
        // A name holding a comma is quoted as a whole, so every line has the same field count.
        assert!(
            lines[0].ends_with(r#""adam_eps_trace(0.001,0.1)_clipped""#),
            "{}",
            lines[0]
        );
        // 8 fixed columns + 3 per measure = 20; the 3 quoted names hold one comma each.
        assert_eq!(lines[0].split(',').count(), 20 + 3);
        assert_eq!(lines[1].split(',').count(), 20);
        assert!(lines[1].starts_with("5,"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_non_finite_measure_is_an_error_naming_it_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let config = MonitorConfig::new(vec![Measure::Trace]);
        let mut monitor = SharpnessMonitor::new(config)
            .unwrap()
            .with_sink(JsonlSink::create(&path).unwrap());
        let layout = ParamLayout::flat("x", 2, DType::F32);
        let est = DiagEstimate {
            diag: ParamVec::from_flat(&layout, &[1.0, f64::NAN], &device()).unwrap(),
            std_err: None,
            jackknife: Vec::new(),
            method: DiagMethod::GaussNewton,
            probes: 1,
            cost: OperatorCost::default(),
        };
        let err = monitor.record_from_diag(7, 0.1, &est, 0.0).unwrap_err();
        let CurvatureError::NonFiniteMeasure { measure, step, .. } = &err else {
            panic!("unexpected error: {err}");
        };
        assert_eq!((measure.as_str(), *step), ("trace", 7));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }

    #[test]
    fn shared_monitor_counts_calls_and_evaluates_every_k() {
        let config = MonitorConfig::new(vec![Measure::Trace])
            .with_every(3)
            .with_exact_diag();
        let shared = SharedMonitor::new(SharpnessMonitor::new(config).unwrap());
        let (model, loss) = weighted();
        let evaluated: Vec<bool> = (0..6)
            .map(|_| {
                shared
                    .clone()
                    .on_train_step(&model, loss.clone())
                    .unwrap()
                    .is_some()
            })
            .collect();
        assert_eq!(evaluated, [false, false, true, false, false, true]);
        assert_eq!(shared.steps(), 6);
    }
}

mod f32_accuracy {
    use super::*;

    #[derive(Module, Debug)]
    struct Dln {
        u: Param<Tensor<1>>,
        v: Param<Tensor<1>>,
    }

    fn draws(rng: &mut ChaCha8Rng, n: usize, scale: f64) -> Vec<f64> {
        (0..n)
            .map(|_| scale * crate::param_vec::normal_draw(rng))
            .collect()
    }

    #[test]
    fn dln_hvp_in_f32_is_accurate_to_the_precision_of_the_scheme() {
        // w = u*u - v*v, L = 1/(2n) |Z w - y|^2; H x from the hand-derived formula in f64
        // (see tests/f64.rs for the derivation).
        let (d, n) = (2000, 200);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let z = draws(&mut rng, n * d, 1.0);
        let y = draws(&mut rng, n, 1.0);
        let u = draws(&mut rng, d, 0.5);
        let v = draws(&mut rng, d, 0.5);
        let x = draws(&mut rng, 2 * d, 1.0);
        let w: Vec<f64> = (0..d).map(|j| u[j] * u[j] - v[j] * v[j]).collect();
        let mut want = vec![0.0; 2 * d];
        for (zi, yi) in z.chunks(d).zip(&y) {
            let r: f64 = (0..d).map(|j| zi[j] * w[j]).sum::<f64>() - yi;
            let jx: f64 = (0..d)
                .map(|j| 2.0 * zi[j] * (u[j] * x[j] - v[j] * x[d + j]))
                .sum();
            for j in 0..d {
                want[j] += (2.0 * u[j] * zi[j] * jx + 2.0 * r * zi[j] * x[j]) / n as f64;
                want[d + j] += (-2.0 * v[j] * zi[j] * jx - 2.0 * r * zi[j] * x[d + j]) / n as f64;
            }
        }

        let as_f32 = |xs: &[f64]| xs.iter().map(|x| *x as f32).collect::<Vec<f32>>();
        let model = Dln {
            u: Param::from_tensor(Tensor::from_floats(as_f32(&u).as_slice(), &device())),
            v: Param::from_tensor(Tensor::from_floats(as_f32(&v).as_slice(), &device())),
        };
        let z_t = Tensor::<2>::from_data(TensorData::new(as_f32(&z), [n, d]), &device());
        let y_t = Tensor::<1>::from_floats(as_f32(&y).as_slice(), &device());
        let loss = move |m: &Dln| {
            let w = m.u.val().powi_scalar(2) - m.v.val().powi_scalar(2);
            let pred = z_t.clone().matmul(w.unsqueeze_dim(1)).reshape([n]);
            (pred - y_t.clone()).powi_scalar(2).mean().div_scalar(2.0)
        };
        for (scheme, bound) in [(FdScheme::Central, 1e-2), (FdScheme::Richardson, 1e-4)] {
            let mut hvp = Hvp::new(&model, loss.clone()).unwrap().with_scheme(scheme);
            let dir = ParamVec::from_flat(hvp.layout(), &x, &device()).unwrap();
            let err = rel_err(&hvp.apply(&dir).unwrap().to_flat(), &want);
            let h = hvp.last_report().unwrap().step;
            println!("f32 DLN d=2000 n=200 {scheme:?} (h = {h:.1e}): relative error {err:.2e}");
            assert!(err < bound, "{scheme:?}: {err}");
        }
    }
}

mod randomness {
    use super::*;
    use burn::nn::{Dropout, DropoutConfig};

    #[derive(Module, Debug)]
    struct Dropped {
        theta: Param<Tensor<1>>,
        dropout: Dropout,
    }

    /// `L = 1/2 sum_i (m_i theta_i a_i / keep)^2` for a dropout mask `m`: with the mask fixed,
    /// `H = diag(m_i a_i^2 / keep^2)`, so every entry of `H 1` is `0` or `a_i^2 / keep^2`.
    #[test]
    fn reseeding_makes_dropout_masks_identical_across_the_gradients_of_a_product() {
        let n = 64;
        let model = Dropped {
            theta: Param::from_tensor(Tensor::ones([n], &device())),
            dropout: DropoutConfig::new(0.5).init(),
        };
        let a = Tensor::<1>::ones([n], &device()).mul_scalar(3.0);
        let loss = move |m: &Dropped| {
            let x = m.dropout.forward(m.theta.val() * a.clone());
            x.powi_scalar(2).sum().mul_scalar(0.5)
        };
        let entries = |hvp: &mut Hvp<Dropped, _>| {
            let ones = ParamVec::from_flat(hvp.layout(), &vec![1.0; n], &device()).unwrap();
            hvp.apply(&ones).unwrap().to_flat()
        };
        let mut fixed = Hvp::new(&model, loss.clone()).unwrap().with_reseed(42);
        let hv = entries(&mut fixed);
        // a^2 / keep^2 = 9 / 0.25 = 36.
        assert!(
            hv.iter().all(|x| x.abs() < 1e-2 || (x - 36.0).abs() < 1e-2),
            "{hv:?}"
        );
        assert!(hv.iter().any(|x| x.abs() < 1e-2) && hv.iter().any(|x| *x > 1.0));

        // Without reseeding, fresh masks per gradient make the difference quotient meaningless.
        let mut free = Hvp::new(&model, loss).unwrap();
        let hv = entries(&mut free);
        assert!(hv.iter().any(|x| x.abs() > 100.0), "{hv:?}");
    }
}

mod training_modules {
    use super::*;

    #[test]
    fn a_module_on_an_autodiff_device_gives_the_same_products_and_is_left_unchanged() {
        let values = [0.3f32, -1.0, 2.0];
        let tracked = Point {
            theta: Param::from_tensor(Tensor::from_floats(values, &device().autodiff())),
        };
        let mut hvp = Hvp::new(&tracked, quadratic(matrix(&a_rows()))).unwrap();
        let e1 = ParamVec::basis(hvp.layout(), &device(), 1).unwrap();
        let column = hvp.apply(&e1).unwrap().to_flat();
        assert!(rel_err(&column, &[1.0, 3.0, 2.0]) < 1e-4, "{column:?}");
        let after: Vec<f32> = tracked.theta.val().into_data().try_to_vec().unwrap();
        assert_eq!(after, values);
        assert!(tracked.theta.val().is_require_grad());
    }
}

mod block_state {
    use super::*;
    use adasharp_optim::{AdamMiniConfig, Preconditioner};
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;

    #[test]
    fn adam_mini_v_is_broadcast_over_its_blocks() {
        // Linear(2 -> 3), L = sum(G * W) + sum(c * b): the weight gradient is G, the bias
        // gradient c. Adam-mini (columns for the weight, one block for the bias) keeps
        // v = (1 - beta_2) * mean over each block of g^2.
        let device = device().autodiff();
        let model: Linear = LinearConfig::new(2, 3).init(&device);
        let g = Tensor::<2>::from_floats([[1.0, 2.0, 3.0], [3.0, 0.0, 1.0]], &device);
        let c = Tensor::<1>::from_floats([2.0, 2.0, 4.0], &device);
        let bias = model.bias.as_ref().unwrap().val();
        let loss = (model.weight.val() * g).sum() + (bias * c).sum();
        let config = AdamMiniConfig::new().with_bias_correction(false);
        let partition = config.partition(&model).unwrap();
        let mut optim = config.init_for(&model);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = optim.step(1e-3, model, grads);

        let layout = ParamLayout::from_module(&model);
        let state = OptimizerState::from_record(optim.to_record()).unwrap();
        let v = second_moment(
            &state,
            &layout,
            Some(&partition),
            BiasCorrection::None,
            &device,
        )
        .unwrap();
        // Column means of g^2: (1 + 9)/2 = 5, (4 + 0)/2 = 2, (9 + 1)/2 = 5; bias (4+4+16)/3 = 8.
        let want: Vec<f64> = [5.0, 2.0, 5.0, 5.0, 2.0, 5.0, 8.0, 8.0, 8.0]
            .iter()
            .map(|x| 0.001 * x)
            .collect();
        assert!(rel_err(&v.to_flat(), &want) < 1e-4, "{:?}", v.to_flat());
        // Without the partition the reduced v cannot be placed.
        assert!(second_moment(&state, &layout, None, BiasCorrection::None, &device).is_err());

        let p = Preconditioner {
            lambda: 0.5,
            epsilon: 1e-8,
        };
        let record = optim.to_record();
        let s = preconditioner_diag(
            record,
            &layout,
            Some(&partition),
            p,
            BiasCorrection::None,
            &device,
        )
        .unwrap();
        let want: Vec<f64> = want.iter().map(|v| 1.0 / (v.sqrt() + 1e-8)).collect();
        assert!(rel_err(&s.to_flat(), &want) < 1e-4);
    }
}
