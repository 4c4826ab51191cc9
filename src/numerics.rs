//! Shared dense linear algebra and the one Levenberg–Marquardt driver (shared plumbing, usable by
//! every module).
//!
//! Small row-major `n x n` matrices (`a[i * n + j]`), written for the few parameters of the coil
//! circuit and the twin fits. Each routine keeps the exact floating-point operation order of the
//! code it replaced, so results are bit for bit those of before:
//! - [`Cholesky`]: one factorisation `A = G G^T`, with a vector solve (the twin weight fit) and
//!   column-wise triangular solves (the coil's generalised eigenproblem);
//! - [`gauss_jordan_inverse`]: the inverse by Gauss–Jordan elimination with partial pivoting (the
//!   joint twin fit's steps and covariance);
//! - [`normal_equations`] and [`levenberg_marquardt`]: the damped Gauss–Newton loop both twin fits run,
//!   with the step solve, bounds and convergence test supplied by the problem ([`LeastSquares`]).

/// A pivot of a Cholesky factorisation that is not above the required minimum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NotPositiveDefinite {
    /// Row of the failing pivot.
    pub pivot: usize,
    /// Its value before the square root.
    pub value: f64,
}

/// The lower Cholesky factor `G` of a symmetric positive-definite matrix `A = G G^T` (row-major,
/// zeros above the diagonal).
#[derive(Clone, Debug)]
pub struct Cholesky {
    n: usize,
    g: Vec<f64>,
}

impl Cholesky {
    /// Factors the symmetric `n x n` matrix `a` (only its lower triangle is read). Fails at the first
    /// pivot that is not greater than `min_pivot` (NaN included).
    pub fn factor(a: &[f64], n: usize, min_pivot: f64) -> Result<Self, NotPositiveDefinite> {
        let mut g = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let mut s = a[i * n + j];
                for k in 0..j {
                    s -= g[i * n + k] * g[j * n + k];
                }
                if i == j {
                    if !(s > min_pivot) {
                        return Err(NotPositiveDefinite { pivot: i, value: s });
                    }
                    g[i * n + i] = s.sqrt();
                } else {
                    g[i * n + j] = s / g[j * n + j];
                }
            }
        }
        Ok(Self { n, g })
    }

    /// Factors `a`, treating it as numerically singular when a pivot is at most 1e-12 of the largest
    /// diagonal entry.
    pub fn factor_relative(a: &[f64], n: usize) -> Option<Self> {
        let dmax = (0..n).map(|i| a[i * n + i]).fold(0.0, f64::max);
        Self::factor(a, n, 1e-12 * dmax).ok()
    }

    /// Solves `A x = b` for one right-hand side (forward then back substitution; each row's sum of
    /// products is formed first, then subtracted).
    pub fn solve(&self, b: &[f64]) -> Vec<f64> {
        let (n, l) = (self.n, &self.g);
        let mut y = vec![0.0; n];
        for i in 0..n {
            let s = b[i] - (0..i).map(|k| l[i * n + k] * y[k]).sum::<f64>();
            y[i] = s / l[i * n + i];
        }
        let mut x = vec![0.0; n];
        for i in (0..n).rev() {
            let s = y[i] - (i + 1..n).map(|k| l[k * n + i] * x[k]).sum::<f64>();
            x[i] = s / l[i * n + i];
        }
        x
    }

    /// Solves `G X = B` for the `n` columns of the row-major `n x n` matrix `b` (forward substitution,
    /// products subtracted one by one).
    pub fn forward_columns(&self, b: &[f64]) -> Vec<f64> {
        let (n, g) = (self.n, &self.g);
        let mut x = b.to_vec();
        for col in 0..n {
            for i in 0..n {
                let mut sum = x[i * n + col];
                for k in 0..i {
                    sum -= g[i * n + k] * x[k * n + col];
                }
                x[i * n + col] = sum / g[i * n + i];
            }
        }
        x
    }

    /// Solves `G^T X = B` for the `n` columns of the row-major `n x n` matrix `b` (back substitution,
    /// products subtracted one by one).
    pub fn backward_columns(&self, b: &[f64]) -> Vec<f64> {
        let (n, g) = (self.n, &self.g);
        let mut x = b.to_vec();
        for col in 0..n {
            for i in (0..n).rev() {
                let mut sum = x[i * n + col];
                for k in (i + 1)..n {
                    sum -= g[k * n + i] * x[k * n + col];
                }
                x[i * n + col] = sum / g[i * n + i];
            }
        }
        x
    }
}

/// Solves the symmetric positive-definite system `a x = b` (Cholesky); `None` if not SPD or
/// numerically singular (a pivot below 1e-12 of the largest diagonal entry).
pub fn cholesky_solve(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    Some(Cholesky::factor_relative(a, n)?.solve(b))
}

/// The inverse of the `n x n` matrix `a` by Gauss–Jordan elimination with partial pivoting (meant for
/// small n, up to about 10); `None` when a pivot is at most 1e-14 of the largest diagonal magnitude.
pub fn gauss_jordan_inverse(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut m = a.to_vec();
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    let dmax = (0..n).map(|i| a[i * n + i].abs()).fold(0.0, f64::max);
    for c in 0..n {
        let piv = (c..n).max_by(|&x, &y| m[x * n + c].abs().total_cmp(&m[y * n + c].abs()))?;
        if !(m[piv * n + c].abs() > 1e-14 * dmax) {
            return None;
        }
        for q in 0..n {
            m.swap(c * n + q, piv * n + q);
            inv.swap(c * n + q, piv * n + q);
        }
        let d = m[c * n + c];
        for q in 0..n {
            m[c * n + q] /= d;
            inv[c * n + q] /= d;
        }
        for r in 0..n {
            if r != c {
                let f = m[r * n + c];
                if f != 0.0 {
                    for q in 0..n {
                        m[r * n + q] -= f * m[c * n + q];
                        inv[r * n + q] -= f * inv[c * n + q];
                    }
                }
            }
        }
    }
    Some(inv)
}

/// The normal equations of a least-squares step: `J^T J` (`np x np`) and the gradient `J^T r`, for
/// residuals `r` and the row-major Jacobian `jac` (`r.len()` rows of `np`).
pub fn normal_equations(jac: &[f64], r: &[f64], np: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = vec![0.0; np * np];
    let mut g = vec![0.0; np];
    for (i, ri) in r.iter().enumerate() {
        let row = &jac[i * np..(i + 1) * np];
        for q in 0..np {
            g[q] += row[q] * ri;
            for s in 0..np {
                a[q * np + s] += row[q] * row[s];
            }
        }
    }
    (a, g)
}

/// [`normal_equations`] summed in parallel over fixed blocks of rows (then in block order), so that
/// the result does not depend on the number of threads; only the upper triangle is accumulated and
/// then mirrored. For the large Jacobians of map fits (10^5 rows).
pub fn normal_equations_par(jac: &[f64], r: &[f64], np: usize) -> (Vec<f64>, Vec<f64>) {
    use rayon::prelude::*;
    const BLOCK: usize = 2048;
    let partial: Vec<(Vec<f64>, Vec<f64>)> = r
        .par_chunks(BLOCK)
        .zip(jac.par_chunks(BLOCK * np.max(1)))
        .map(|(rb, jb)| {
            let mut a = vec![0.0; np * np];
            let mut g = vec![0.0; np];
            for (i, ri) in rb.iter().enumerate() {
                let row = &jb[i * np..(i + 1) * np];
                for q in 0..np {
                    let x = row[q];
                    g[q] += x * ri;
                    if x != 0.0 {
                        let aq = &mut a[q * np..(q + 1) * np];
                        for s in q..np {
                            aq[s] += x * row[s];
                        }
                    }
                }
            }
            (a, g)
        })
        .collect();
    let mut a = vec![0.0; np * np];
    let mut g = vec![0.0; np];
    for (pa, pg) in &partial {
        for (x, y) in a.iter_mut().zip(pa) {
            *x += y;
        }
        for (x, y) in g.iter_mut().zip(pg) {
            *x += y;
        }
    }
    for q in 0..np {
        for s in 0..q {
            a[q * np + s] = a[s * np + q];
        }
    }
    (a, g)
}

/// Sum of squares.
fn rss(r: &[f64]) -> f64 {
    r.iter().map(|x| x * x).sum::<f64>()
}

/// A nonlinear least-squares problem for [`levenberg_marquardt`].
pub trait LeastSquares {
    /// The parameter point (may hold more than the `np` fitted parameters).
    type Params: Clone;
    /// Residuals and their row-major Jacobian (one row of `np` per residual); `None` where the
    /// model is undefined.
    fn residuals(&self, p: &Self::Params) -> Option<(Vec<f64>, Vec<f64>)>;
    /// The step solving the damped normal equations `damped step = -g`; `None` when singular.
    fn step(&self, damped: &[f64], g: &[f64]) -> Option<Vec<f64>>;
    /// The trial point `p + step` (bounded if the problem has bounds) and the step size its
    /// convergence test reads; `a` is the undamped `J^T J`.
    fn trial(&self, p: &Self::Params, step: &[f64], a: &[f64]) -> (Self::Params, f64);
    /// Whether an accepted step ends the fit: its step size (from [`LeastSquares::trial`]), the
    /// relative cost decrease and the new cost.
    fn converged(&self, step_size: f64, rel_decrease: f64, cost: f64) -> bool;
    /// `J^T J` and `J^T r` (default: [`normal_equations`]; a problem with many residuals may sum
    /// them in parallel, e.g. with [`normal_equations_par`]).
    fn normal(&self, jac: &[f64], r: &[f64], np: usize) -> (Vec<f64>, Vec<f64>) {
        normal_equations(jac, r, np)
    }
}

/// When [`levenberg_marquardt`] gives up.
#[derive(Clone, Copy, Debug)]
pub struct LmLimits {
    pub max_iterations: usize,
    /// Stop when the damping exceeds this after a singular damped system (`None`: never).
    pub singular_lambda_max: Option<f64>,
    /// Stop when the damping exceeds this after a step that did not lower the cost.
    pub reject_lambda_max: f64,
    /// Whether that stop counts as converged (no decrease at any damping: at a bounded minimum).
    pub reject_stop_is_converged: bool,
}

/// The end point of [`levenberg_marquardt`].
#[derive(Clone, Debug)]
pub struct LmResult<P> {
    pub params: P,
    /// Residuals and Jacobian at `params`.
    pub r: Vec<f64>,
    pub jac: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
}

/// Levenberg–Marquardt from `start` on `np` parameters: damping `lambda` from 1e-3, the diagonal of
/// `J^T J` (at least 1e-300) scaled by it; an accepted step (lower sum of squares) divides `lambda` by
/// 10 (down to 1e-12), a rejected or singular one multiplies it by 10. `None` when the model is
/// undefined at `start`.
pub fn levenberg_marquardt<P: LeastSquares>(
    problem: &P,
    start: P::Params,
    np: usize,
    limits: &LmLimits,
) -> Option<LmResult<P::Params>> {
    let (mut r, mut jac) = problem.residuals(&start)?;
    let mut p = start;
    let mut cost = rss(&r);
    let mut lambda = 1e-3;
    let mut converged = false;
    let mut it = 0;
    while it < limits.max_iterations {
        it += 1;
        let (a, g) = problem.normal(&jac, &r, np);
        let mut damped = a.clone();
        for q in 0..np {
            damped[q * np + q] += lambda * a[q * np + q].max(1e-300);
        }
        let Some(step) = problem.step(&damped, &g) else {
            lambda *= 10.0;
            if limits.singular_lambda_max.is_some_and(|max| lambda > max) {
                break;
            }
            continue;
        };
        let (trial, step_size) = problem.trial(&p, &step, &a);
        match problem.residuals(&trial) {
            Some((r2, j2)) if rss(&r2) < cost => {
                let c2 = rss(&r2);
                let rel = (cost - c2) / cost.max(1e-300);
                p = trial;
                r = r2;
                jac = j2;
                cost = c2;
                lambda = (lambda / 10.0).max(1e-12);
                if problem.converged(step_size, rel, cost) {
                    converged = true;
                    break;
                }
            }
            _ => {
                lambda *= 10.0;
                if lambda > limits.reject_lambda_max {
                    converged = limits.reject_stop_is_converged;
                    break;
                }
            }
        }
    }
    Some(LmResult {
        params: p,
        r,
        jac,
        iterations: it,
        converged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [f64; 9] = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];

    #[test]
    fn cholesky_solve_and_gauss_jordan_agree_with_the_matrix() {
        let b = [1.0, -2.0, 0.5];
        let x = cholesky_solve(&A, &b, 3).unwrap();
        for i in 0..3 {
            let ax: f64 = (0..3).map(|j| A[i * 3 + j] * x[j]).sum();
            assert!((ax - b[i]).abs() < 1e-12, "row {i}: {ax} vs {}", b[i]);
        }
        let inv = gauss_jordan_inverse(&A, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let e: f64 = (0..3).map(|k| A[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((e - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        // G G^T reproduces A; the column solves invert G and G^T.
        let c = Cholesky::factor(&A, 3, 0.0).unwrap();
        let eye: Vec<f64> = (0..9).map(|i| if i % 4 == 0 { 1.0 } else { 0.0 }).collect();
        let gi = c.forward_columns(&eye);
        let git = c.backward_columns(&eye);
        for i in 0..3 {
            for j in 0..3 {
                assert!((gi[i * 3 + j] - git[j * 3 + i]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn not_positive_definite_names_the_pivot() {
        let a = [1.0, 2.0, 2.0, 1.0];
        let e = Cholesky::factor(&a, 2, 0.0).unwrap_err();
        assert_eq!(e.pivot, 1);
        assert!(e.value < 0.0);
        assert!(cholesky_solve(&a, &[1.0, 1.0], 2).is_none());
        assert!(gauss_jordan_inverse(&[1.0, 2.0, 2.0, 4.0], 2).is_none());
    }

    /// y = p0 exp(p1 x) fitted to exact data.
    struct Exp(Vec<f64>, Vec<f64>);
    impl LeastSquares for Exp {
        type Params = [f64; 2];
        fn residuals(&self, p: &[f64; 2]) -> Option<(Vec<f64>, Vec<f64>)> {
            let mut r = vec![];
            let mut j = vec![];
            for (x, y) in self.0.iter().zip(&self.1) {
                let e = (p[1] * x).exp();
                r.push(p[0] * e - y);
                j.extend([e, p[0] * x * e]);
            }
            Some((r, j))
        }
        fn step(&self, damped: &[f64], g: &[f64]) -> Option<Vec<f64>> {
            cholesky_solve(damped, &g.iter().map(|x| -x).collect::<Vec<_>>(), 2)
        }
        fn trial(&self, p: &[f64; 2], step: &[f64], _a: &[f64]) -> ([f64; 2], f64) {
            ([p[0] + step[0], p[1] + step[1]], step[0].abs() + step[1].abs())
        }
        fn converged(&self, step_size: f64, rel: f64, _cost: f64) -> bool {
            step_size < 1e-10 || rel < 1e-12
        }
    }

    #[test]
    fn levenberg_marquardt_recovers_an_exponential() {
        let xs: Vec<f64> = (0..20).map(|i| i as f64 * 0.1).collect();
        // 0.1 % deterministic "noise": the minimum has a nonzero cost.
        let ys: Vec<f64> = xs
            .iter()
            .enumerate()
            .map(|(i, x)| 2.5 * (-0.7 * x).exp() * (1.0 + 1e-3 * (i as f64).sin()))
            .collect();
        let limits = LmLimits {
            max_iterations: 200,
            singular_lambda_max: None,
            reject_lambda_max: 1e12,
            reject_stop_is_converged: false,
        };
        let out = levenberg_marquardt(&Exp(xs, ys), [1.0, 0.0], 2, &limits).unwrap();
        assert!(out.converged);
        assert!(
            (out.params[0] - 2.5).abs() < 1e-2 && (out.params[1] + 0.7).abs() < 1e-2,
            "{:?}",
            out.params
        );
    }
}

/// Solves `a x = b` for the complex `n x n` matrix `a` (row-major) and `m` right-hand sides (`b` is
/// `n x m`, row-major) by Gaussian elimination with partial pivoting; `None` when a pivot is at most
/// 1e-13 of the largest entry of `a` (numerically singular). Meant for the small dense systems of
/// circuit algebra (tens of ports).
pub fn complex_solve(
    a: &[num_complex::Complex64],
    b: &[num_complex::Complex64],
    n: usize,
    m: usize,
) -> Option<Vec<num_complex::Complex64>> {
    let mut a = a.to_vec();
    let mut x = b.to_vec();
    let amax = a.iter().map(|z| z.norm()).fold(0.0, f64::max);
    if !(amax > 0.0) || !amax.is_finite() {
        return None;
    }
    for c in 0..n {
        let piv = (c..n).max_by(|&p, &q| a[p * n + c].norm().total_cmp(&a[q * n + c].norm()))?;
        if !(a[piv * n + c].norm() > 1e-13 * amax) {
            return None;
        }
        if piv != c {
            for q in 0..n {
                a.swap(c * n + q, piv * n + q);
            }
            for q in 0..m {
                x.swap(c * m + q, piv * m + q);
            }
        }
        let d = a[c * n + c];
        for r in c + 1..n {
            let f = a[r * n + c] / d;
            if f.norm() == 0.0 {
                continue;
            }
            for q in c..n {
                let t = a[c * n + q];
                a[r * n + q] -= f * t;
            }
            for q in 0..m {
                let t = x[c * m + q];
                x[r * m + q] -= f * t;
            }
        }
    }
    for c in (0..n).rev() {
        for q in 0..m {
            let mut s = x[c * m + q];
            for k in c + 1..n {
                s -= a[c * n + k] * x[k * m + q];
            }
            x[c * m + q] = s / a[c * n + c];
        }
    }
    Some(x)
}

/// The inverse of the complex `n x n` matrix `a` (row-major); `None` when numerically singular.
pub fn complex_inverse(a: &[num_complex::Complex64], n: usize) -> Option<Vec<num_complex::Complex64>> {
    let mut eye = vec![num_complex::Complex64::default(); n * n];
    for i in 0..n {
        eye[i * n + i] = num_complex::Complex64::new(1.0, 0.0);
    }
    complex_solve(a, &eye, n, n)
}

/// The 1-norm condition number `|a|_1 |a^-1|_1` of the complex `n x n` matrix `a`; infinite when singular.
pub fn complex_condition(a: &[num_complex::Complex64], n: usize) -> f64 {
    let norm1 = |m: &[num_complex::Complex64]| {
        (0..n)
            .map(|c| (0..n).map(|r| m[r * n + c].norm()).sum::<f64>())
            .fold(0.0, f64::max)
    };
    match complex_inverse(a, n) {
        Some(inv) => norm1(a) * norm1(&inv),
        None => f64::INFINITY,
    }
}
