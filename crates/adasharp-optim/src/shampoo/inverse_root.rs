//! Damped inverse roots `X = (A + eps I)^(-e)` of symmetric positive semi-definite matrices, in
//! f64 on the host.
//!
//! # Method
//!
//! ```text
//! A = Q diag(lambda) Q^T                       symmetric eigendecomposition
//! X = Q diag((max(lambda_i, 0) + eps)^(-e)) Q^T
//! ```
//!
//! The eigendecomposition is nalgebra's `SymmetricEigen` (Householder tridiagonalisation, then
//! implicit symmetric QR with Wilkinson shifts). We use it rather than a hand-written Jacobi
//! solver because it is already a dependency of this crate, is maintained and widely used, is
//! backward stable, and costs one `O(n^3)` reduction plus a cheap iteration where cyclic Jacobi
//! needs several `O(n^3)` sweeps. Jacobi's one advantage, high relative accuracy for tiny
//! eigenvalues, buys nothing here: Shampoo's statistics are accumulated in the parameter's
//! dtype (usually f32), so their small eigenvalues already carry an absolute error of about
//! `1e-7 ||A||`, and `eps` damps them anyway. Eigenvalues below zero are round-off of a
//! positive semi-definite matrix and are clamped to zero before the damping.
//!
//! # Checks
//!
//! A root is returned only if the input and the result are finite, the QR iteration converged,
//! and the decomposition's backward error
//!
//! ```text
//! residual = max(||A Q - Q diag(lambda)||_F / ||A||_F, ||Q^T Q - I||_F)
//! ```
//!
//! is at most the caller's tolerance. For a backward-stable solver this is a few `n * 2.2e-16`;
//! a larger value means the decomposition cannot be trusted. Everything else is reported as a
//! [`RootError`], never hidden. The residual bounds the error of the root itself: for
//! `e = 1/4`, `||X^4 (A + eps I) - I||` is of order `residual * cond(A + eps I)`.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// Why an inverse root could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RootError {
    /// The input matrix holds NaN or infinity.
    #[error("the matrix holds NaN or infinity")]
    NonFiniteInput,
    /// The input matrix is not square.
    #[error("the matrix is {rows} x {cols}, not square")]
    NotSquare {
        /// Rows of the input.
        rows: usize,
        /// Columns of the input.
        cols: usize,
    },
    /// The symmetric QR iteration did not converge within its iteration budget.
    #[error("the eigendecomposition did not converge in {iterations} iterations")]
    NoConvergence {
        /// The iteration budget that was exhausted.
        iterations: usize,
    },
    /// The eigendecomposition's backward error exceeds the tolerance.
    #[error("eigendecomposition residual {residual:e} exceeds the tolerance {tolerance:e}")]
    Residual {
        /// The measured backward error (see the module docs).
        residual: f64,
        /// The tolerance it was checked against.
        tolerance: f64,
    },
    /// The root overflowed (`eps` too small for the exponent) or is otherwise not finite.
    #[error("the inverse root is not finite")]
    NonFiniteRoot,
}

/// A damped inverse root `X = (A + eps I)^(-e)` and how trustworthy it is.
#[derive(Debug, Clone)]
pub struct InverseRoot {
    /// The root `X`, symmetric positive definite.
    pub root: DMatrix<f64>,
    /// The eigendecomposition's backward error (see the module docs).
    pub residual: f64,
    /// The eigenvalues of `A`, ascending, before clamping and damping.
    pub eigenvalues: DVector<f64>,
}

/// Computes `X = (A + eps I)^(-exponent)` for a symmetric positive semi-definite `A`.
///
/// `A` is symmetrised as `(A + A^T) / 2` first, so round-off asymmetry from a product like
/// `G G^T` is harmless. Fails with a [`RootError`] rather than returning a root that may be
/// wrong; see the module docs for what is checked.
///
/// ```
/// use adasharp_optim::shampoo::inverse_root;
/// use nalgebra::DMatrix;
///
/// // diag(16, 81)^(-1/4) = diag(1/2, 1/3)
/// let a = DMatrix::from_row_slice(2, 2, &[16.0, 0.0, 0.0, 81.0]);
/// let x = inverse_root(&a, 0.25, 1e-30, 1e-10).unwrap().root;
/// assert!((x[(0, 0)] - 0.5).abs() < 1e-12 && (x[(1, 1)] - 1.0 / 3.0).abs() < 1e-12);
/// ```
pub fn inverse_root(
    a: &DMatrix<f64>,
    exponent: f64,
    epsilon: f64,
    tolerance: f64,
) -> Result<InverseRoot, RootError> {
    let n = a.nrows();
    if a.ncols() != n {
        return Err(RootError::NotSquare {
            rows: n,
            cols: a.ncols(),
        });
    }
    if a.iter().any(|value| !value.is_finite()) {
        return Err(RootError::NonFiniteInput);
    }
    let symmetric = (a + a.transpose()) * 0.5;

    // Symmetric QR needs about two iterations per eigenvalue; the budget leaves a wide margin
    // and turns a pathological input into an error instead of a hang.
    let iterations = 100 * n.max(1);
    let eigen = SymmetricEigen::try_new(symmetric.clone(), f64::EPSILON, iterations)
        .ok_or(RootError::NoConvergence { iterations })?;

    let residual = backward_error(&symmetric, &eigen);
    if residual.is_nan() || residual > tolerance {
        return Err(RootError::Residual {
            residual,
            tolerance,
        });
    }

    let powers = eigen
        .eigenvalues
        .map(|lambda| (lambda.max(0.0) + epsilon).powf(-exponent));
    let q = &eigen.eigenvectors;
    let root = q * DMatrix::from_diagonal(&powers) * q.transpose();
    let root = (&root + root.transpose()) * 0.5;
    if root.iter().any(|value| !value.is_finite()) {
        return Err(RootError::NonFiniteRoot);
    }

    let mut eigenvalues = eigen.eigenvalues.clone();
    eigenvalues.as_mut_slice().sort_by(f64::total_cmp);
    Ok(InverseRoot {
        root,
        residual,
        eigenvalues,
    })
}

/// `max(||A Q - Q diag(lambda)||_F / ||A||_F, ||Q^T Q - I||_F)`; NaN if the decomposition is
/// not finite, so that the tolerance check rejects it.
fn backward_error(a: &DMatrix<f64>, eigen: &SymmetricEigen<f64, nalgebra::Dyn>) -> f64 {
    let q = &eigen.eigenvectors;
    let n = a.nrows();
    let scale = a.norm();
    let eigen_residual = if scale > 0.0 {
        (a * q - q * DMatrix::from_diagonal(&eigen.eigenvalues)).norm() / scale
    } else {
        0.0
    };
    let orthogonality = (q.transpose() * q - DMatrix::<f64>::identity(n, n)).norm();
    let finite = eigen_residual.is_finite()
        && orthogonality.is_finite()
        && eigen.eigenvalues.iter().all(|v| v.is_finite());
    if finite {
        eigen_residual.max(orthogonality)
    } else {
        f64::NAN
    }
}
