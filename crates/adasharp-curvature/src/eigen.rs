//! The top eigenvalue of a symmetric operator: power iteration and Lanczos, each remembering
//! its last eigenvector to warm-start the next call (curvature changes slowly between the
//! training steps a monitor evaluates at).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::diag::cost_since;
use crate::linalg::{orthogonalize, symmetric_eigen};
use crate::{CurvatureError, LinearOperator, OperatorCost, ParamVec, Result};

/// Weight of the fresh random component mixed into a warm start (see [`Lanczos`]).
const WARM_START_NOISE: f64 = 0.1;

/// An eigenvalue estimate with its eigenvector.
#[derive(Debug, Clone)]
pub struct EigenEstimate {
    /// The eigenvalue estimate (Rayleigh quotient or Ritz value).
    pub value: f64,
    /// The unit eigenvector estimate.
    pub vector: ParamVec,
    /// Residual norm `||A x - value x||` (for Lanczos, the usual bound `beta_k |y_k|`).
    pub residual: f64,
    /// Iterations (power) or Krylov dimension (Lanczos) used.
    pub iterations: usize,
    /// Whether the residual fell below `tol * |value|`.
    pub converged: bool,
    /// Products and gradients spent.
    pub cost: OperatorCost,
}

/// Power iteration `x <- A x / ||A x||` with Rayleigh quotient `lambda = x^T A x`.
///
/// Converges to the eigenvalue of largest magnitude at rate `|lambda_2 / lambda_1|` per
/// product; near a minimum the Hessian is positive semi-definite and that is the top
/// eigenvalue. Prefer [`Lanczos`] when the gap is small.
#[derive(Debug, Clone)]
pub struct PowerIteration {
    /// Maximum number of products per call.
    pub max_iters: usize,
    /// Stop when `||A x - lambda x|| <= tol * |lambda|`.
    pub tol: f64,
    /// Seed of the random start vector (first call, or after a layout change).
    pub seed: u64,
    last: Option<ParamVec>,
}

impl PowerIteration {
    /// Power iteration with at most `max_iters` products and relative tolerance `tol`.
    pub fn new(max_iters: usize, tol: f64, seed: u64) -> Self {
        Self {
            max_iters,
            tol,
            seed,
            last: None,
        }
    }

    /// Forgets the warm start.
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// The eigenvector of the last call.
    pub fn last_vector(&self) -> Option<&ParamVec> {
        self.last.as_ref()
    }

    /// Runs from the last call's eigenvector (or a seeded Gaussian vector).
    pub fn run<O: LinearOperator + ?Sized>(&mut self, op: &mut O) -> Result<EigenEstimate> {
        if self.max_iters == 0 {
            return Err(CurvatureError::invalid(
                "max_iters",
                "0; at least one product",
            ));
        }
        let start = op.cost();
        let mut x = start_vector(op, self.last.take(), self.seed, false);
        let mut estimate = None;
        for it in 1..=self.max_iters {
            let y = op.apply(&x)?;
            let lambda = x.dot(&y);
            let residual = y.axpy(-lambda, &x).norm();
            let converged = residual <= self.tol * lambda.abs();
            let norm = y.norm();
            estimate = Some((lambda, x.clone(), residual, it, converged));
            if converged || norm == 0.0 {
                break;
            }
            x = y.scale(1.0 / norm);
        }
        let (value, vector, residual, iterations, converged) = estimate.expect("max_iters >= 1");
        self.last = Some(vector.clone());
        finite(value, "power-iteration eigenvalue")?;
        Ok(EigenEstimate {
            value,
            vector,
            residual,
            iterations,
            converged,
            cost: cost_since(op.cost(), start),
        })
    }
}

/// Lanczos iteration with full reorthogonalization; returns the largest (algebraic) Ritz value.
///
/// After `j` products the Krylov space `span{q, Aq, .., A^(j-1) q}` gives the tridiagonal
/// `T_j = Q_j^T A Q_j`; its top eigenpair `(theta, y)` gives the Ritz pair `(theta, Q_j y)`
/// with residual `||A Q_j y - theta Q_j y|| = beta_j |y_j|`. Stops when that is below
/// `tol * |theta|`, when the Krylov space is invariant, or after `max_steps` products.
///
/// Warm start: from the second call on, the start vector is the last Ritz vector plus a fresh
/// Gaussian component of relative weight 0.1, so a new top eigenvector orthogonal to the old
/// one is still found. Memory: `max_steps` parameter vectors.
#[derive(Debug, Clone)]
pub struct Lanczos {
    /// Maximum Krylov dimension (= products) per call.
    pub max_steps: usize,
    /// Stop when the Ritz residual is `<= tol * |theta|`.
    pub tol: f64,
    /// Seed of the random start vector and of warm-start noise.
    pub seed: u64,
    last: Option<ParamVec>,
    calls: u64,
}

impl Lanczos {
    /// Lanczos with Krylov dimension at most `max_steps` and relative tolerance `tol`.
    pub fn new(max_steps: usize, tol: f64, seed: u64) -> Self {
        Self {
            max_steps,
            tol,
            seed,
            last: None,
            calls: 0,
        }
    }

    /// Forgets the warm start.
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// The Ritz vector of the last call.
    pub fn last_vector(&self) -> Option<&ParamVec> {
        self.last.as_ref()
    }

    /// Runs from the warm start (or a seeded Gaussian vector on the first call).
    pub fn run<O: LinearOperator + ?Sized>(&mut self, op: &mut O) -> Result<EigenEstimate> {
        if self.max_steps == 0 {
            return Err(CurvatureError::invalid(
                "max_steps",
                "0; at least one product",
            ));
        }
        let start = op.cost();
        let seed = self.seed.wrapping_add(self.calls);
        self.calls += 1;
        let q0 = start_vector(op, self.last.take(), seed, true);

        let mut basis: Vec<ParamVec> = vec![q0];
        let mut alphas: Vec<f64> = Vec::new();
        let mut betas: Vec<f64> = Vec::new();
        let mut ritz = (0.0, vec![1.0], f64::INFINITY);
        let mut converged = false;
        for j in 0..self.max_steps {
            let w = op.apply(&basis[j])?;
            let alpha = basis[j].dot(&w);
            alphas.push(alpha);
            let w = orthogonalize(w, &basis);
            let beta = w.norm();

            let (theta, y) = top_ritz(&alphas, &betas);
            let residual = beta * y[j].abs();
            ritz = (theta, y, residual);
            finite(theta, "Lanczos Ritz value")?;
            let invariant = beta <= 1e-10 * theta.abs().max(alpha.abs()).max(f64::MIN_POSITIVE);
            if residual <= self.tol * theta.abs() || invariant {
                converged = true;
                break;
            }
            if j + 1 < self.max_steps {
                betas.push(beta);
                basis.push(w.scale(1.0 / beta));
            }
        }

        let (value, y, residual) = ritz;
        let vector = basis
            .iter()
            .zip(&y)
            .skip(1)
            .fold(basis[0].scale(y[0]), |acc, (q, c)| acc.axpy(*c, q));
        let vector = vector.scale(1.0 / vector.norm());
        self.last = Some(vector.clone());
        Ok(EigenEstimate {
            value,
            vector,
            residual,
            iterations: alphas.len(),
            converged,
            cost: cost_since(op.cost(), start),
        })
    }
}

/// The largest eigenvalue of the tridiagonal matrix with diagonal `alphas` and off-diagonal
/// `betas`, and its eigenvector.
fn top_ritz(alphas: &[f64], betas: &[f64]) -> (f64, Vec<f64>) {
    let j = alphas.len();
    let mut t = vec![0.0; j * j];
    for i in 0..j {
        t[i * j + i] = alphas[i];
        if i + 1 < j {
            t[i * j + i + 1] = betas[i];
            t[(i + 1) * j + i] = betas[i];
        }
    }
    let (values, vectors) = symmetric_eigen(&t, j);
    let top = j - 1;
    let y = (0..j).map(|row| vectors[row * j + top]).collect();
    (values[top], y)
}

/// A unit start vector: the warm start if its layout still matches (optionally with fresh
/// noise mixed in), else a seeded Gaussian vector.
fn start_vector<O: LinearOperator + ?Sized>(
    op: &O,
    warm: Option<ParamVec>,
    seed: u64,
    add_noise: bool,
) -> ParamVec {
    let layout = op.layout();
    let device = op.device();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let fresh = ParamVec::gaussian(layout, &device, &mut rng);
    let fresh = fresh.scale(1.0 / fresh.norm());
    let x = match warm {
        Some(w) if **w.layout() == **layout && w.norm() > 0.0 => {
            let w = w.scale(1.0 / w.norm());
            if add_noise {
                w.axpy(WARM_START_NOISE, &fresh)
            } else {
                w
            }
        }
        _ => fresh,
    };
    x.scale(1.0 / x.norm())
}

fn finite(value: f64, what: &str) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(CurvatureError::NonFinite {
            what: format!("{what} ({value})"),
        })
    }
}
