//! Small dense vector kernels the models share. [`dot`] is polyrec-core's (the vector index
//! scores with the same one).

pub use polyrec_core::math::dot;

/// y += a · x
#[inline]
pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// out = M · x for a row-major square `n × n` matrix.
#[inline]
pub fn symv(m: &[f32], x: &[f32], out: &mut [f32]) {
    let n = x.len();
    for (r, out) in out.iter_mut().enumerate().take(n) {
        *out = dot(&m[r * n..r * n + n], x);
    }
}

pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// Solves `A x = b` in place for a symmetric positive-definite row-major `n × n` matrix by
/// Cholesky (f64 throughout); `a` is overwritten by its factor. Returns false if `A` is not
/// positive definite.
pub fn cholesky_solve(a: &mut [f64], b: &mut [f64]) -> bool {
    if !cholesky_factor(a, b.len()) {
        return false;
    }
    cholesky_substitute(a, b);
    true
}

/// Overwrites the lower triangle of `a` (row-major `n × n`) with L, where A = L Lᵀ. Returns
/// false if `A` is not positive definite.
pub fn cholesky_factor(a: &mut [f64], n: usize) -> bool {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return false;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    true
}

/// Solves L Lᵀ x = b in place, given the factor from [`cholesky_factor`].
pub fn cholesky_substitute(l: &[f64], b: &mut [f64]) {
    let n = b.len();
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[k * n + i] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_known_system() {
        // A = [[4, 2], [2, 3]], x = [1, 2] → b = [8, 8].
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let mut b = vec![8.0, 8.0];
        assert!(cholesky_solve(&mut a, &mut b));
        assert!((b[0] - 1.0).abs() < 1e-12 && (b[1] - 2.0).abs() < 1e-12);
        let mut singular = vec![1.0, 1.0, 1.0, 1.0];
        assert!(!cholesky_solve(&mut singular, &mut [1.0, 1.0]));
    }
}
