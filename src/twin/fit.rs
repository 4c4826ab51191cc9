//! Drive-weight fit: the twin's B1+ is linear in the complex source weights, B(w) = sum_k w_k b_k,
//! so a weight fit needs no new FDTD run. We fit |B(w)| to a measured magnitude map (phase-free, as
//! most scanner B1 maps are) by Levenberg–Marquardt on the real parameters
//! (Re w_0, Re w_1, Im w_1, ..., Re w_{K-1}, Im w_{K-1}) — the global phase is fixed by Im w_0 = 0 —
//! started from a phase-retrieval estimate (alternating: give the measured magnitudes the model's
//! phases, solve the linear least squares, repeat). Standard errors come from the Jacobian at the
//! optimum, s^2 (J^T J)^-1 with s^2 = RSS / (N - p).

use num_complex::Complex64;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::numerics::{cholesky_solve, levenberg_marquardt, normal_equations, Cholesky, LeastSquares, LmLimits};

/// The result of a weight fit.
#[derive(Clone, Debug, Serialize)]
pub struct WeightFit {
    /// Fitted complex weights (w_0 real and >= 0).
    pub weights: Vec<[f64; 2]>,
    /// Standard errors of the real parameters (Re w_0, Re w_1, Im w_1, ...).
    pub std_errors: Vec<f64>,
    /// Residual RMS over the mean measured magnitude.
    pub nrmse: f64,
    /// Pearson correlation of fitted and measured magnitudes.
    pub correlation: f64,
    pub max_abs_residual: f64,
    pub p95_abs_residual: f64,
    pub iterations: usize,
    /// Parameters whose relative standard error exceeds 1 (not identifiable from these data).
    pub unidentifiable: Vec<usize>,
}

impl WeightFit {
    pub fn weight(&self, k: usize) -> Complex64 {
        Complex64::new(self.weights[k][0], self.weights[k][1])
    }
}

fn params_to_weights(p: &[f64], k: usize) -> Vec<Complex64> {
    let mut w = vec![Complex64::new(p[0], 0.0)];
    for j in 1..k {
        w.push(Complex64::new(p[2 * j - 1], p[2 * j]));
    }
    w
}

/// Complex linear least squares min |A w - t|^2 for the `k` columns `basis[j][i]` (normal equations).
fn complex_lls(basis: &[Vec<Complex64>], t: &[Complex64]) -> Option<Vec<Complex64>> {
    let k = basis.len();
    // Real form: unknowns (Re w_j, Im w_j).
    let n = 2 * k;
    let mut a = vec![0.0; n * n];
    let mut b = vec![0.0; n];
    for i in 0..t.len() {
        // Row for Re and Im of sum_j w_j b_ji - t_i.
        let mut rr = vec![0.0; n];
        let mut ri = vec![0.0; n];
        for j in 0..k {
            let z = basis[j][i];
            rr[2 * j] = z.re;
            rr[2 * j + 1] = -z.im;
            ri[2 * j] = z.im;
            ri[2 * j + 1] = z.re;
        }
        for p in 0..n {
            b[p] += rr[p] * t[i].re + ri[p] * t[i].im;
            for q in 0..n {
                a[p * n + q] += rr[p] * rr[q] + ri[p] * ri[q];
            }
        }
    }
    let x = cholesky_solve(&a, &b, n)?;
    Some((0..k).map(|j| Complex64::new(x[2 * j], x[2 * j + 1])).collect())
}

/// Fits complex weights to a complex measured B1+ map (when the map has phase, e.g. a phase-sensitive
/// B1+ method with the transceive phase removed): linear least squares `sum_k w_k basis[k] ≈
/// measured` (NaN samples skipped), then the global phase is removed (`w_0` real and >= 0) so the
/// weights compare directly with [`fit_weights_magnitude`]. Returns the weights and the NRMSE of the
/// complex residual over the mean measured magnitude.
pub fn fit_weights_complex(basis: &[Vec<Complex64>], measured: &[Complex64]) -> Result<(Vec<Complex64>, f64)> {
    if basis.is_empty() || basis.iter().any(|b| b.len() != measured.len()) {
        return Err(Error::Other(
            "complex weight fit: every basis pattern needs one value per measured sample".into(),
        ));
    }
    let keep: Vec<usize> = (0..measured.len())
        .filter(|&i| measured[i].re.is_finite() && measured[i].im.is_finite())
        .collect();
    if keep.len() < 2 * basis.len() {
        return Err(Error::Other(format!(
            "complex weight fit: {} valid samples for {} complex weights",
            keep.len(),
            basis.len()
        )));
    }
    let b: Vec<Vec<Complex64>> = basis.iter().map(|v| keep.iter().map(|&i| v[i]).collect()).collect();
    let t: Vec<Complex64> = keep.iter().map(|&i| measured[i]).collect();
    let w = complex_lls(&b, &t).ok_or_else(|| {
        Error::Other("complex weight fit: the basis patterns are linearly dependent on the samples".into())
    })?;
    let rot = if w[0].norm() > 0.0 {
        w[0].conj() / w[0].norm()
    } else {
        Complex64::new(1.0, 0.0)
    };
    let mut rss = 0.0;
    let mut mean = 0.0;
    for (i, ti) in t.iter().enumerate() {
        let m: Complex64 = w.iter().zip(&b).map(|(wk, bk)| wk * bk[i]).sum();
        rss += (m - ti).norm_sqr();
        mean += ti.norm();
    }
    let n = t.len() as f64;
    let nrmse = (rss / n).sqrt() / (mean / n);
    Ok((w.iter().map(|z| z * rot).collect(), nrmse))
}

/// The magnitude fit's least-squares problem: residuals `r_i = |B_i| - m_i` on the real parameters
/// `(Re w_0, Re w_1, Im w_1, ...)`, unbounded steps from the Cholesky solve of the damped normal
/// equations.
struct MagnitudeProblem<'a> {
    bs: &'a [Vec<Complex64>],
    m: &'a [f64],
    k: usize,
    np: usize,
}

impl MagnitudeProblem<'_> {
    fn eval(&self, p: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (bs, m, k, np) = (self.bs, self.m, self.k, self.np);
        let n = m.len();
        let w = params_to_weights(p, k);
        let mut r = vec![0.0; n];
        let mut jac = vec![0.0; n * np];
        for i in 0..n {
            let b: Complex64 = (0..k).map(|j| w[j] * bs[j][i]).sum();
            let a = b.norm().max(1e-300);
            r[i] = a - m[i];
            // d|B|/d Re w_j = Re(conj(B) b_j)/|B|; d|B|/d Im w_j = Re(conj(B) i b_j)/|B|.
            for j in 0..k {
                let c = b.conj() * bs[j][i];
                if j == 0 {
                    jac[i * np] = c.re / a;
                } else {
                    jac[i * np + 2 * j - 1] = c.re / a;
                    jac[i * np + 2 * j] = -c.im / a;
                }
            }
        }
        (r, jac)
    }
}

impl LeastSquares for MagnitudeProblem<'_> {
    type Params = Vec<f64>;
    fn residuals(&self, p: &Vec<f64>) -> Option<(Vec<f64>, Vec<f64>)> {
        Some(self.eval(p))
    }
    fn step(&self, damped: &[f64], g: &[f64]) -> Option<Vec<f64>> {
        cholesky_solve(damped, &g.iter().map(|x| -x).collect::<Vec<_>>(), self.np)
    }
    /// The step size is the step's length relative to the parameters'.
    fn trial(&self, p: &Vec<f64>, step: &[f64], _a: &[f64]) -> (Vec<f64>, f64) {
        let trial: Vec<f64> = p.iter().zip(step).map(|(a, b)| a + b).collect();
        let rel_step =
            step.iter().map(|x| x * x).sum::<f64>().sqrt() / p.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
        (trial, rel_step)
    }
    /// Converged when both the step and the cost change are negligible.
    fn converged(&self, rel_step: f64, rel_cost: f64, _cost: f64) -> bool {
        rel_step < 1e-10 || rel_cost < 1e-14
    }
}

/// The finite samples of `measured` (and of every basis map) as `(basis at them, measured at them)`.
fn usable_samples(basis: &[Vec<Complex64>], measured: &[f64]) -> Result<(Vec<Vec<Complex64>>, Vec<f64>)> {
    let k = basis.len();
    if k == 0 || basis.iter().any(|b| b.len() != measured.len()) {
        return Err(Error::input(
            "twin fit",
            "basis",
            "basis maps and measured map differ in length (or no basis)",
            "resample every basis map onto the measured samples",
        ));
    }
    let idx: Vec<usize> = (0..measured.len())
        .filter(|&i| measured[i].is_finite() && basis.iter().all(|b| b[i].re.is_finite() && b[i].im.is_finite()))
        .collect();
    let np = 2 * k - 1;
    if idx.len() < 2 * np {
        return Err(Error::input(
            "twin fit",
            "mask",
            format!("only {} usable samples for {} parameters", idx.len(), np),
            "enlarge the mask",
        ));
    }
    let bs: Vec<Vec<Complex64>> = basis.iter().map(|b| idx.iter().map(|&i| b[i]).collect()).collect();
    let m: Vec<f64> = idx.iter().map(|&i| measured[i]).collect();
    Ok((bs, m))
}

/// The start of the magnitude fit: phase retrieval from `w = (1, 0, ...)` (30 rounds of giving the
/// measured magnitudes the model's phases and solving the linear least squares), global phase fixed
/// (`w_0` real, >= 0), as the real parameter vector.
fn phase_retrieval_start(bs: &[Vec<Complex64>], m: &[f64]) -> Result<Vec<f64>> {
    let k = bs.len();
    let n = m.len();
    let np = 2 * k - 1;
    let mut w = vec![Complex64::default(); k];
    w[0] = Complex64::new(1.0, 0.0);
    for _ in 0..30 {
        let t: Vec<Complex64> = (0..n)
            .map(|i| {
                let b: Complex64 = (0..k).map(|j| w[j] * bs[j][i]).sum();
                let ph = if b.norm() > 0.0 {
                    b / b.norm()
                } else {
                    Complex64::new(1.0, 0.0)
                };
                ph * m[i]
            })
            .collect();
        match complex_lls(bs, &t) {
            Some(x) => w = x,
            None => {
                return Err(Error::input(
                    "twin fit",
                    "basis",
                    "the basis maps are linearly dependent on the mask",
                    "drop a redundant source or enlarge the mask",
                ))
            }
        }
    }
    // Fix the global phase: w_0 real, >= 0.
    let rot = if w[0].norm() > 0.0 {
        w[0].conj() / w[0].norm()
    } else {
        Complex64::new(1.0, 0.0)
    };
    let mut p = vec![0.0; np];
    for j in 0..k {
        let z = w[j] * rot;
        if j == 0 {
            p[0] = z.re;
        } else {
            p[2 * j - 1] = z.re;
            p[2 * j] = z.im;
        }
    }
    Ok(p)
}

/// Fits complex weights so that `|sum_k w_k basis[k]|` matches `measured` (same sample order; NaN
/// samples are skipped). `basis[k][i]` is the B1+ of source k at sample i for unit weight.
pub fn fit_weights_magnitude(basis: &[Vec<Complex64>], measured: &[f64]) -> Result<WeightFit> {
    let k = basis.len();
    let (bs, m) = usable_samples(basis, measured)?;
    let np = 2 * k - 1;
    let n = m.len();
    let p = phase_retrieval_start(&bs, &m)?;

    // Levenberg–Marquardt on r_i = |B_i| - m_i.
    let problem = MagnitudeProblem { bs: &bs, m: &m, k, np };
    let limits = LmLimits {
        max_iterations: 200,
        singular_lambda_max: None,
        reject_lambda_max: 1e12,
        reject_stop_is_converged: false,
    };
    let out = levenberg_marquardt(&problem, p, np, &limits)
        .ok_or_else(|| Error::Other("twin fit: the model is undefined at the start point".into()))?;
    let (mut p, iterations) = (out.params, out.iterations);
    let rss = |r: &[f64]| r.iter().map(|x| x * x).sum::<f64>();
    if p[0] < 0.0 {
        p.iter_mut().for_each(|x| *x = -*x);
    }
    let (r, jac) = problem.eval(&p);
    let (a, _) = normal_equations(&jac, &r, np);
    let dof = (n - np) as f64;
    let s2 = rss(&r) / dof;
    let mut std_errors = vec![f64::NAN; np];
    // One factorisation of J^T J, solved for each unit vector (the diagonal of its inverse).
    if let Some(ch) = Cholesky::factor_relative(&a, np) {
        for q in 0..np {
            let mut e = vec![0.0; np];
            e[q] = 1.0;
            let col = ch.solve(&e);
            std_errors[q] = (s2 * col[q]).sqrt();
        }
    }
    let scale = p.iter().map(|x| x.abs()).fold(0.0, f64::max).max(1e-300);
    let unidentifiable = (0..np).filter(|&q| !(std_errors[q] < scale)).collect();
    let fitted: Vec<f64> = m.iter().zip(&r).map(|(mi, ri)| mi + ri).collect();
    let mean_m = m.iter().sum::<f64>() / n as f64;
    let mean_f = fitted.iter().sum::<f64>() / n as f64;
    let cov: f64 = m.iter().zip(&fitted).map(|(a, b)| (a - mean_m) * (b - mean_f)).sum();
    let vm: f64 = m.iter().map(|a| (a - mean_m).powi(2)).sum();
    let vf: f64 = fitted.iter().map(|b| (b - mean_f).powi(2)).sum();
    let mut absr: Vec<f64> = r.iter().map(|x| x.abs()).collect();
    absr.sort_by(|a, b| a.total_cmp(b));
    let w = params_to_weights(&p, k);
    Ok(WeightFit {
        weights: w.iter().map(|z| [z.re, z.im]).collect(),
        std_errors,
        nrmse: (rss(&r) / n as f64).sqrt() / mean_m,
        correlation: cov / (vm * vf).sqrt(),
        max_abs_residual: *absr.last().unwrap_or(&0.0),
        p95_abs_residual: absr[((0.95 * n as f64) as usize).min(n - 1)],
        iterations,
        unidentifiable,
    })
}
