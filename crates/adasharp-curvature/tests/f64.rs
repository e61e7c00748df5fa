//! Accuracy specifications in `f64`, against hand-derived Hessians.
//!
//! The Flex float dtype is process-wide and fixed by the first tensor, so every test starts
//! with [`device`], which configures it to `f64` exactly once.

use std::sync::OnceLock;

use adasharp_curvature::linalg::symmetric_eigen;
use adasharp_curvature::*;
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, FloatDType, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn device() -> Device {
    static F64: OnceLock<()> = OnceLock::new();
    F64.get_or_init(|| {
        Device::flex()
            .configure(FloatDType::F64)
            .expect("these tests configure Flex before creating any tensor");
    });
    Device::flex()
}

fn gaussian(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    // Box-Muller; the tests need their own draws independent of the crate's.
    (0..n)
        .map(|_| {
            let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        })
        .collect()
}

fn tensor1(values: &[f64]) -> Tensor<1> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), &device())
}

fn tensor2(values: &[f64], rows: usize, cols: usize) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), [rows, cols]), &device())
}

fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    let num: f64 = got.iter().zip(want).map(|(g, w)| (g - w).powi(2)).sum();
    let den: f64 = want.iter().map(|w| w * w).sum();
    (num / den).sqrt()
}

// ---------------------------------------------------------------------------------------------
// Diagonal linear network w = u*u - v*v, L = 1/(2n) sum_i (<z_i, w> - y_i)^2.

#[derive(Module, Debug)]
struct Dln {
    u: Param<Tensor<1>>,
    v: Param<Tensor<1>>,
}

struct DlnProblem {
    d: usize,
    n: usize,
    z: Vec<f64>, // n x d, row-major
    y: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
}

impl DlnProblem {
    fn model(&self) -> Dln {
        Dln {
            u: Param::from_tensor(tensor1(&self.u)),
            v: Param::from_tensor(tensor1(&self.v)),
        }
    }

    fn loss(&self) -> impl Fn(&Dln) -> Tensor<1> + Clone + use<> {
        let z = tensor2(&self.z, self.n, self.d);
        let y = tensor1(&self.y);
        move |m: &Dln| {
            let w = m.u.val().powi_scalar(2) - m.v.val().powi_scalar(2);
            let n = y.dims()[0];
            let pred = z.clone().matmul(w.unsqueeze_dim(1)).reshape([n]);
            (pred - y.clone()).powi_scalar(2).mean().div_scalar(2.0)
        }
    }

    fn residuals(&self) -> Vec<f64> {
        (0..self.n)
            .map(|i| {
                let zi = &self.z[i * self.d..(i + 1) * self.d];
                let pred: f64 = (0..self.d)
                    .map(|j| zi[j] * (self.u[j].powi(2) - self.v[j].powi(2)))
                    .sum();
                pred - self.y[i]
            })
            .collect()
    }

    /// `H x = (1/n) sum_i J_i^T (J_i x) + (1/n) sum_i r_i [2 z_i * x_u, -2 z_i * x_v]` with
    /// `J_i = [2 u * z_i, -2 v * z_i]`.
    fn hvp(&self, x: &[f64]) -> Vec<f64> {
        let (d, n) = (self.d, self.n as f64);
        let (xu, xv) = x.split_at(d);
        let r = self.residuals();
        let mut out = vec![0.0; 2 * d];
        for (i, ri) in r.iter().enumerate() {
            let zi = &self.z[i * d..(i + 1) * d];
            let jx: f64 = (0..d)
                .map(|j| 2.0 * self.u[j] * zi[j] * xu[j] - 2.0 * self.v[j] * zi[j] * xv[j])
                .sum();
            for j in 0..d {
                out[j] += (2.0 * self.u[j] * zi[j] * jx + 2.0 * ri * zi[j] * xu[j]) / n;
                out[d + j] += (-2.0 * self.v[j] * zi[j] * jx - 2.0 * ri * zi[j] * xv[j]) / n;
            }
        }
        out
    }

    /// `diag(H)`: `(4 u_j^2 / n) sum_i z_ij^2 + (2/n) sum_i r_i z_ij` for `u`, and for `v` the
    /// same with `v_j` and the opposite residual sign. `gauss_newton` drops the residual term.
    fn diag(&self, gauss_newton: bool) -> Vec<f64> {
        let (d, n) = (self.d, self.n as f64);
        let r = self.residuals();
        let keep = if gauss_newton { 0.0 } else { 1.0 };
        let mut out = vec![0.0; 2 * d];
        for j in 0..d {
            let zz: f64 = (0..self.n).map(|i| self.z[i * d + j].powi(2)).sum();
            let rz: f64 = (0..self.n).map(|i| r[i] * self.z[i * d + j]).sum();
            out[j] = 4.0 * self.u[j].powi(2) * zz / n + keep * 2.0 * rz / n;
            out[d + j] = 4.0 * self.v[j].powi(2) * zz / n - keep * 2.0 * rz / n;
        }
        out
    }
}

/// A generic point: Gaussian inputs, labels not fitted (residuals nonzero).
fn dln_generic(d: usize, n: usize, seed: u64) -> DlnProblem {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z = gaussian(&mut rng, n * d);
    let y = gaussian(&mut rng, n);
    let u = gaussian(&mut rng, d).iter().map(|x| 0.5 * x).collect();
    let v = gaussian(&mut rng, d).iter().map(|x| 0.5 * x).collect();
    DlnProblem { d, n, z, y, u, v }
}

/// An interpolating point with +-1 inputs: `u^2 - v^2 = w*` and `y = Z w*` exactly.
fn dln_interpolating(d: usize, n: usize, seed: u64) -> DlnProblem {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z: Vec<f64> = (0..n * d)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect();
    let w_star: Vec<f64> = (0..d).map(|j| if j % 4 == 0 { 1.5 } else { 0.0 }).collect();
    let u: Vec<f64> = (0..d).map(|_| 1.3 + rng.random::<f64>()).collect();
    let v: Vec<f64> = (0..d).map(|j| (u[j] * u[j] - w_star[j]).sqrt()).collect();
    let y = (0..n)
        .map(|i| (0..d).map(|j| z[i * d + j] * w_star[j]).sum())
        .collect();
    DlnProblem { d, n, z, y, u, v }
}

#[test]
fn dln_hvp_matches_the_closed_form_including_the_residual_term() {
    let _ = device();
    let p = dln_generic(30, 20, 1);
    let model = p.model();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let x = gaussian(&mut rng, 60);
    let want = p.hvp(&x);

    let mut rich = Hvp::new(&model, p.loss())
        .unwrap()
        .with_scheme(FdScheme::Richardson);
    let layout = rich.layout().clone();
    let dir = ParamVec::from_flat(&layout, &x, &device()).unwrap();
    let err_rich = rel_err(&rich.apply(&dir).unwrap().to_flat(), &want);
    let mut central = Hvp::new(&model, p.loss()).unwrap();
    let err_central = rel_err(&central.apply(&dir).unwrap().to_flat(), &want);
    println!(
        "f64 DLN d=30 HVP relative error: richardson {err_rich:.2e}, central {err_central:.2e}"
    );
    assert!(err_rich < 1e-10, "{err_rich}");
    assert!(err_central < 1e-7, "{err_central}");
    // The error estimate of Richardson bounds its actual error.
    let estimate = rich.last_report().unwrap().rel_error_estimate.unwrap();
    assert!(estimate >= err_rich && estimate < 1e-5, "{estimate}");
}

#[test]
fn dln_exact_diag_includes_the_residual_term_and_gauss_newton_omits_it() {
    let _ = device();
    let p = dln_generic(12, 9, 3);
    let model = p.model();
    let mut hvp = Hvp::new(&model, p.loss())
        .unwrap()
        .with_scheme(FdScheme::Richardson);
    let exact = exact_diag(&mut hvp, 100, 8).unwrap();
    assert!(rel_err(&exact.diag.to_flat(), &p.diag(false)) < 1e-10);

    let (z, y, d) = (tensor2(&p.z, p.n, p.d), tensor1(&p.y), p.d);
    let residual = move |m: &Dln, i: usize| {
        let w = m.u.val().powi_scalar(2) - m.v.val().powi_scalar(2);
        let zi = z.clone().slice(i..i + 1).reshape([d]);
        (zi * w).sum() - y.clone().slice(i..i + 1)
    };
    let gn = gauss_newton_diag(&model, p.n, 0.5 / p.n as f64, residual).unwrap();
    assert!(rel_err(&gn.diag.to_flat(), &p.diag(true)) < 1e-12);
    assert_eq!(gn.cost.gradients, p.n);
}

#[test]
fn dln_diag_is_four_theta_squared_at_an_interpolating_point_with_pm1_inputs() {
    let _ = device();
    let p = dln_interpolating(16, 8, 4);
    assert!(p.residuals().iter().all(|r| r.abs() < 1e-12));
    let four_theta_sq: Vec<f64> = p.u.iter().chain(&p.v).map(|t| 4.0 * t * t).collect();
    let model = p.model();

    let mut hvp = Hvp::new(&model, p.loss())
        .unwrap()
        .with_scheme(FdScheme::Richardson);
    let exact = exact_diag(&mut hvp, 100, 16).unwrap();
    assert!(rel_err(&exact.diag.to_flat(), &four_theta_sq) < 1e-10);

    let (z, y, d) = (tensor2(&p.z, p.n, p.d), tensor1(&p.y), p.d);
    let residual = move |m: &Dln, i: usize| {
        let w = m.u.val().powi_scalar(2) - m.v.val().powi_scalar(2);
        (z.clone().slice(i..i + 1).reshape([d]) * w).sum() - y.clone().slice(i..i + 1)
    };
    let gn = gauss_newton_diag(&model, p.n, 0.5 / p.n as f64, residual).unwrap();
    assert!(rel_err(&gn.diag.to_flat(), &four_theta_sq) < 1e-12);

    // tr(Diag(H)^(1/2)) = 2 ||theta||_1 there.
    let l1: f64 = p.u.iter().chain(&p.v).map(|t| t.abs()).sum();
    let adam = measures::trace_sqrt_diag(&gn).unwrap();
    assert!((adam.value - 2.0 * l1).abs() < 1e-9 && adam.clipped == 0);
}

#[test]
fn dln_hvp_accuracy_at_paper_scale() {
    // d = 2000, n = 200, Gaussian direction (Rademacher would hide the cubic term).
    let _ = device();
    let p = dln_generic(2000, 200, 5);
    let model = p.model();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let x = gaussian(&mut rng, 4000);
    let want = p.hvp(&x);
    for scheme in [FdScheme::Central, FdScheme::Richardson] {
        let mut hvp = Hvp::new(&model, p.loss()).unwrap().with_scheme(scheme);
        let dir = ParamVec::from_flat(hvp.layout(), &x, &device()).unwrap();
        let err = rel_err(&hvp.apply(&dir).unwrap().to_flat(), &want);
        let step = hvp.last_report().unwrap().step;
        println!("f64 DLN d=2000 n=200 {scheme:?} (h = {step:.1e}): relative error {err:.2e}");
        let bound = if scheme == FdScheme::Richardson {
            1e-10
        } else {
            1e-7
        };
        assert!(err < bound, "{scheme:?}: {err}");
    }
}

// ---------------------------------------------------------------------------------------------
// Depth-2 matrix factorization: L = 1/(2n) sum_i (<A_i, W1 W2> - b_i)^2.

#[derive(Module, Debug)]
struct Factorization {
    w1: Param<Tensor<2>>,
    w2: Param<Tensor<2>>,
}

/// `C = A B` for row-major `A` (`p x q`) and `B` (`q x r`).
fn matmul(a: &[f64], b: &[f64], p: usize, q: usize, r: usize) -> Vec<f64> {
    let mut c = vec![0.0; p * r];
    for i in 0..p {
        for k in 0..q {
            for j in 0..r {
                c[i * r + j] += a[i * q + k] * b[k * r + j];
            }
        }
    }
    c
}

fn transpose(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            t[j * rows + i] = a[i * cols + j];
        }
    }
    t
}

#[test]
fn factorization_hvp_matches_the_hand_derived_formula() {
    let _ = device();
    let (p, q, n) = (4, 3, 10);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let a = gaussian(&mut rng, n * p * p);
    let b = gaussian(&mut rng, n);
    let w1 = gaussian(&mut rng, p * q);
    let w2 = gaussian(&mut rng, q * p);
    let v1 = gaussian(&mut rng, p * q);
    let v2 = gaussian(&mut rng, q * p);

    // M = W1 W2, r_i = <A_i, M> - b_i, G = (1/n) sum r_i A_i,
    // dM = V1 W2 + W1 V2, dG = (1/n) sum <A_i, dM> A_i;
    // H [V1; V2] = [dG W2^T + G V2^T ; W1^T dG + V1^T G].
    let m = matmul(&w1, &w2, p, q, p);
    let dm: Vec<f64> = matmul(&v1, &w2, p, q, p)
        .iter()
        .zip(matmul(&w1, &v2, p, q, p))
        .map(|(x, y)| x + y)
        .collect();
    let (mut g, mut dg) = (vec![0.0; p * p], vec![0.0; p * p]);
    for (ai, bi) in a.chunks(p * p).zip(&b) {
        let r: f64 = ai.iter().zip(&m).map(|(x, y)| x * y).sum::<f64>() - bi;
        let da: f64 = ai.iter().zip(&dm).map(|(x, y)| x * y).sum();
        for k in 0..p * p {
            g[k] += r * ai[k] / n as f64;
            dg[k] += da * ai[k] / n as f64;
        }
    }
    let add = |x: Vec<f64>, y: Vec<f64>| x.iter().zip(&y).map(|(a, b)| a + b).collect::<Vec<_>>();
    let h_w1 = add(
        matmul(&dg, &transpose(&w2, q, p), p, p, q),
        matmul(&g, &transpose(&v2, q, p), p, p, q),
    );
    let h_w2 = add(
        matmul(&transpose(&w1, p, q), &dg, q, p, p),
        matmul(&transpose(&v1, p, q), &g, q, p, p),
    );
    let want: Vec<f64> = h_w1.into_iter().chain(h_w2).collect();

    let model = Factorization {
        w1: Param::from_tensor(tensor2(&w1, p, q)),
        w2: Param::from_tensor(tensor2(&w2, q, p)),
    };
    let (a_t, b_t) = (tensor2(&a, n, p * p), tensor1(&b));
    let loss = move |f: &Factorization| {
        let m = f.w1.val().matmul(f.w2.val()).reshape([p * p, 1]);
        let r = a_t.clone().matmul(m).reshape([n]) - b_t.clone();
        r.powi_scalar(2).mean().div_scalar(2.0)
    };
    let mut hvp = Hvp::new(&model, loss)
        .unwrap()
        .with_scheme(FdScheme::Richardson);
    let dir: Vec<f64> = v1.into_iter().chain(v2).collect();
    let dir = ParamVec::from_flat(hvp.layout(), &dir, &device()).unwrap();
    let err = rel_err(&hvp.apply(&dir).unwrap().to_flat(), &want);
    println!("f64 depth-2 factorization HVP relative error (Richardson): {err:.2e}");
    assert!(err < 1e-10, "{err}");
}

// ---------------------------------------------------------------------------------------------
// A tiny tanh MLP: no closed form, so two independent finite-difference schemes must agree.

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    out: Linear,
}

fn mlp_problem() -> (Mlp, impl Fn(&Mlp) -> Tensor<1> + Clone) {
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut init = |rows: usize, cols: usize| {
        Param::from_tensor(tensor2(&gaussian(&mut rng, rows * cols), rows, cols))
    };
    let mut hidden: Linear = LinearConfig::new(3, 4).init(&device);
    let mut out: Linear = LinearConfig::new(4, 1).init(&device);
    hidden.weight = init(3, 4);
    out.weight = init(4, 1);
    let model = Mlp { hidden, out };
    let x = tensor2(&gaussian(&mut rng, 5 * 3), 5, 3);
    let y = tensor2(&gaussian(&mut rng, 5), 5, 1);
    let loss = move |m: &Mlp| {
        let h = burn::tensor::activation::tanh(m.hidden.forward(x.clone()));
        (m.out.forward(h) - y.clone()).powi_scalar(2).mean()
    };
    (model, loss)
}

#[test]
fn mlp_hessian_is_symmetric_and_matches_second_differences_of_the_loss() {
    let (model, loss) = mlp_problem();
    let mut hvp = Hvp::new(&model, loss)
        .unwrap()
        .with_scheme(FdScheme::Richardson);
    let n = hvp.dim();
    assert_eq!(n, 3 * 4 + 4 + 4 + 1);
    let layout = hvp.layout().clone();

    // Dense Hessian, column by column from gradient differences.
    let mut h = vec![0.0; n * n];
    for j in 0..n {
        let column = hvp
            .apply(&ParamVec::basis(&layout, &device(), j).unwrap())
            .unwrap();
        for (i, x) in column.to_flat().into_iter().enumerate() {
            h[i * n + j] = x;
        }
    }
    let scale = h.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let asym = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| (h[i * n + j] - h[j * n + i]).abs())
        .fold(0.0, f64::max);
    println!(
        "f64 tanh MLP: max |H - H^T| / max |H| = {:.2e}",
        asym / scale
    );
    assert!(asym / scale < 1e-8, "{}", asym / scale);

    // Second scheme, from loss values only:
    // H_ij ~ [L(+i+j) - L(+i-j) - L(-i+j) + L(-i-j)] / 4h^2.
    let theta = hvp.theta().to_flat();
    let step = 1e-4;
    let at = |di: (usize, f64), dj: (usize, f64)| {
        let mut t = theta.clone();
        t[di.0] += di.1;
        t[dj.0] += dj.1;
        hvp.loss_at(&ParamVec::from_flat(&layout, &t, &device()).unwrap())
            .unwrap()
    };
    let mut worst: f64 = 0.0;
    for i in 0..n {
        for j in i..n {
            let second =
                (at((i, step), (j, step)) - at((i, step), (j, -step)) - at((i, -step), (j, step))
                    + at((i, -step), (j, -step)))
                    / (4.0 * step * step);
            worst = worst.max((second - h[i * n + j]).abs());
        }
    }
    println!(
        "f64 tanh MLP: max |H_grad - H_loss| / max |H| = {:.2e}",
        worst / scale
    );
    assert!(worst / scale < 1e-5, "{}", worst / scale);

    // The top eigenvalue by Lanczos matches the dense Hessian's.
    let (values, _) = symmetric_eigen(&h, n);
    let top = Lanczos::new(n, 1e-10, 0).run(&mut hvp).unwrap();
    assert!(
        (top.value - values[n - 1]).abs() < 1e-6 * scale,
        "{} vs {}",
        top.value,
        values[n - 1]
    );
}

#[test]
fn mlp_hutchinson_trace_lies_within_a_few_standard_errors_of_the_dense_trace() {
    let (model, loss) = mlp_problem();
    let mut hvp = Hvp::new(&model, loss)
        .unwrap()
        .with_scheme(FdScheme::Richardson);
    let truth = measures::trace(&exact_diag(&mut hvp, 100, 32).unwrap())
        .unwrap()
        .value;
    for seed in [1, 2, 3] {
        let est = hutchinson_trace(&mut hvp, 40, seed).unwrap();
        assert!(
            (est.value - truth).abs() < 4.0 * est.std_err,
            "{est:?} vs {truth}"
        );
        let pp = hutchpp_trace(&mut hvp, 42, seed).unwrap();
        assert!(
            (pp.value - truth).abs() < 4.0 * pp.std_err.max(1e-9),
            "{pp:?} vs {truth}"
        );
    }
}
