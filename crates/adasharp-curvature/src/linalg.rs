//! Small dense linear algebra on the host and Gram-Schmidt on parameter vectors.

use crate::ParamVec;

/// Eigen-decomposition of a small symmetric matrix (row-major `n x n`) by cyclic Jacobi
/// rotations. Returns the eigenvalues in ascending order and the eigenvectors as columns of a
/// row-major matrix, in the same order.
pub fn symmetric_eigen(matrix: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(matrix.len(), n * n, "symmetric_eigen: matrix is not n x n");
    let mut a = matrix.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum::<f64>()
            .sqrt();
        if off <= 1e-15 * scale || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                rotate(&mut a, &mut v, n, p, q);
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[i * n + i].total_cmp(&a[j * n + j]));
    let values = order.iter().map(|&i| a[i * n + i]).collect();
    let mut vectors = vec![0.0; n * n];
    for (col, &i) in order.iter().enumerate() {
        for row in 0..n {
            vectors[row * n + col] = v[row * n + i];
        }
    }
    (values, vectors)
}

/// One Jacobi rotation zeroing `a[p][q]`.
fn rotate(a: &mut [f64], v: &mut [f64], n: usize, p: usize, q: usize) {
    let apq = a[p * n + q];
    if apq == 0.0 {
        return;
    }
    let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
    let t = if theta == 0.0 { 1.0 } else { t };
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    for k in 0..n {
        let akp = a[k * n + p];
        let akq = a[k * n + q];
        a[k * n + p] = c * akp - s * akq;
        a[k * n + q] = s * akp + c * akq;
    }
    for k in 0..n {
        let apk = a[p * n + k];
        let aqk = a[q * n + k];
        a[p * n + k] = c * apk - s * aqk;
        a[q * n + k] = s * apk + c * aqk;
    }
    for k in 0..n {
        let vkp = v[k * n + p];
        let vkq = v[k * n + q];
        v[k * n + p] = c * vkp - s * vkq;
        v[k * n + q] = s * vkp + c * vkq;
    }
}

/// Removes from `x` its components along the orthonormal `basis`, twice ("twice is enough":
/// one classical Gram-Schmidt pass loses orthogonality in floating point, two do not).
pub fn orthogonalize(mut x: ParamVec, basis: &[ParamVec]) -> ParamVec {
    for _ in 0..2 {
        for q in basis {
            let c = q.dot(&x);
            x = x.axpy(-c, q);
        }
    }
    x
}

/// An orthonormal basis of the span of `columns`, dropping columns that are (numerically)
/// dependent on the previous ones.
pub fn orthonormal_basis(columns: Vec<ParamVec>) -> Vec<ParamVec> {
    let mut basis: Vec<ParamVec> = Vec::with_capacity(columns.len());
    for column in columns {
        let before = column.norm();
        let x = orthogonalize(column, &basis);
        let after = x.norm();
        if before > 0.0 && after > 1e-6 * before {
            basis.push(x.scale(1.0 / after));
        }
    }
    basis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_recovers_the_spectrum_of_a_2x2_matrix() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3 with eigenvectors (1, -1)/sqrt2, (1, 1)/sqrt2.
        let (values, vectors) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!((values[0] - 1.0).abs() < 1e-14 && (values[1] - 3.0).abs() < 1e-14);
        let top = [vectors[1], vectors[3]];
        assert!((top[0].abs() - 0.5f64.sqrt()).abs() < 1e-14);
        assert!((top[0] - top[1]).abs() < 1e-14);
    }

    #[test]
    fn jacobi_eigenpairs_satisfy_a_v_equals_lambda_v() {
        let a = [4.0, 1.0, -2.0, 1.0, 3.0, 0.5, -2.0, 0.5, 1.0];
        let (values, vectors) = symmetric_eigen(&a, 3);
        for (col, lambda) in values.iter().enumerate() {
            for row in 0..3 {
                let av: f64 = (0..3).map(|k| a[row * 3 + k] * vectors[k * 3 + col]).sum();
                assert!((av - lambda * vectors[row * 3 + col]).abs() < 1e-12);
            }
        }
        // The trace is preserved.
        assert!((values.iter().sum::<f64>() - 8.0).abs() < 1e-12);
    }
}
