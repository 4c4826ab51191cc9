//! Joint fit of the drive weights, the rigid phantom offset and the gel conductivity and permittivity
//! to a measured |B1+| map.
//!
//! Model at a measured voxel `x` (simulation frame), with drive weights `w_k`, phantom translation `t`
//! and gel parameters `s = (sigma - sigma_0)/d_sigma`, `e = (eps - eps_0)/d_eps`:
//!
//! `B(x) = sum_k w_k [ b_inc,k(x) + q_k(x - (t - t_b); s, e) ]`
//!
//! - `b_inc,k` is the B1+ of pattern `k` in the empty coil (does not move with the phantom), and
//!   `q_k` the phantom's contribution (full field minus incident): to first order in a small shift the
//!   phantom carries its own contribution along while the coil's field stays put. The derivative in
//!   `t` is `-grad q_k`, from the exact gradient of the trilinear interpolant (as in
//!   `b1::resample_with_jacobian`). Without an offset fit, `b_inc = 0` and `q` is the full field.
//! - `q_k(.; s, e)` is interpolated between FDTD runs at design points in (sigma, eps): a quadratic
//!   in `s` from the runs at `s = 0, +1, -1` and linear in `e` from `e = 0, +1` (4 points, 8 runs):
//!   `q = q_0 + a_1 s + a_2 s^2 + c_1 e`.
//! - `t_b` (and `s_b`, `e_b`) is where the nominal field `q_0` was computed: after a first fit the basis
//!   is re-simulated with the phantom at the fitted offset and gel values and the fit repeated
//!   (outer iterations), so the final answer does not rest on the first-order shift model; the
//!   interpolation coefficients are re-centred at the new point (`a_1 <- a_1 + 2 a_2 s_b`).
//!
//! Parameters `(Re w_0, Re w_1, Im w_1, t_x, t_y, t_z, s, e)` (active ones only; global phase fixed by
//! `Im w_0 = 0`) are fitted by Levenberg–Marquardt on the residuals `|B(x_i)| - m_i` with box bounds
//! (projected steps): `|t - t_b| <= 1.5 cells`, `s, e` within `[-2, 2]`. Standard errors from
//! `s^2 (J^T J)^-1` at the optimum (s^2 = RSS/(N - p)); derived quantities (port-2 amplitude and
//! phase, sigma, eps) by the delta method with numeric gradients. Optional residual bootstrap:
//! `N` refits to `fitted + resampled residuals` (deterministic seed, same bases), percentile 95 %
//! intervals.

use ndarray::Array3;
use num_complex::{Complex32, Complex64};
use serde::Serialize;

use super::basis::Basis;
use crate::b1::{B1Map, Placement};
use crate::error::{Error, Result};
use crate::grid::{RegularField, ShapeRotation};
use crate::numerics::{gauss_jordan_inverse, levenberg_marquardt, normal_equations, LeastSquares, LmLimits, LmResult};

/// The full parameter vector: `(Re w0, Re w1, Im w1, tx, ty, tz, s, e, rx, ry, rz)` (rotation
/// vector in radians, relative to the phantom file's own rotation).
pub type Params = [f64; 11];

/// One coefficient field (per pattern), with the phantom offset and rotation at which it was
/// computed.
#[derive(Clone, Debug)]
pub struct CoefField {
    pub field: RegularField<Complex32>,
    pub base_offset_m: [f64; 3],
    /// Rotation vector (radians) relative to the phantom file's rotation.
    pub base_rotation: [f64; 3],
}

/// The interpolation model of each pattern `k` (fields in T).
#[derive(Clone, Debug)]
pub struct PatternModel {
    /// Empty-coil B1+ (with an offset fit), else None.
    pub incident: Option<RegularField<Complex32>>,
    /// Phantom contribution (or the full field without `incident`) at the base point.
    pub q0: CoefField,
    /// Gel-design coefficients (with a gel fit): `a1`, `a2` (per unit s, s^2), `c1` (per unit e).
    pub gel: Option<[CoefField; 3]>,
    /// Placement sensitivities from design runs: `(parameter index, dB/dp)` for the offsets (3..=5,
    /// per m) and rotations (8..=10, per rad), each the difference of a run with the phantom moved
    /// by a small step and the base run. When given, the model is linear in the placement
    /// (`q0(x) + sum_j D_j(x) (p_j - p_bj)`, every field sampled at `x`) instead of carrying the
    /// phantom's contribution along; `incident` is then unused.
    pub placement: Option<Vec<(usize, RegularField<Complex32>)>>,
}

/// Everything the fit needs besides the measured samples.
#[derive(Clone, Debug)]
pub struct JointModel {
    pub patterns: Vec<PatternModel>,
    /// Base point of `q0` in (s, e).
    pub base_se: [f64; 2],
    /// Nominal gel values and design steps: (sigma_0, d_sigma, eps_0, d_eps).
    pub gel_design: [f64; 4],
    pub cell_m: f64,
    /// The phantom's centre (simulation frame) at zero offset: the rotation centre.
    pub centre_m: [f64; 3],
    /// Largest distance of a phantom point from its centre (m), to scale rotation bounds.
    pub reach_m: f64,
}

/// What to fit.
#[derive(Clone, Debug, Default)]
pub struct JointOptions {
    pub fit_offset: bool,
    /// Fit a small rotation of the phantom about its centre (3 angles).
    pub fit_rotation: bool,
    pub fit_gel: bool,
    /// Residual-bootstrap refits for percentile intervals (0 = off).
    pub bootstrap: usize,
    pub seed: u64,
    /// Levenberg–Marquardt iteration limit (0: 300).
    pub max_iterations: usize,
}

/// A parameter estimate with its standard error and 95 % interval.
#[derive(Clone, Debug, Serialize)]
pub struct Estimate {
    pub value: f64,
    pub se: f64,
    /// value -+ 1.96 se (Jacobian), or the bootstrap percentile interval when bootstrapped.
    pub ci95: [f64; 2],
    pub ci95_method: String,
}

impl Estimate {
    fn jac(value: f64, se: f64) -> Self {
        Self {
            value,
            se,
            ci95: [value - 1.96 * se, value + 1.96 * se],
            ci95_method: "jacobian".into(),
        }
    }
}

/// The result of a joint fit.
#[derive(Clone, Debug, Serialize)]
pub struct JointFit {
    pub weights: Vec<[f64; 2]>,
    /// Port-2 amplitude relative to port 1 and its phase error (deg).
    pub relative_amplitude: Estimate,
    pub relative_phase_deg: Estimate,
    /// Total phantom offset (m), when fitted.
    pub offset_m: Option<[Estimate; 3]>,
    /// Phantom rotation vector (degrees, about its centre, relative to the phantom file), when fitted.
    pub rotation_deg: Option<[Estimate; 3]>,
    pub sigma_s_per_m: Option<Estimate>,
    pub eps_r: Option<Estimate>,
    /// Correlation of the sigma and eps estimates.
    pub sigma_eps_correlation: Option<f64>,
    /// Names of parameters the data do not determine (wide interval, strong correlation or at a bound).
    pub unidentifiable: Vec<String>,
    pub nrmse: f64,
    /// Mean measured value over the samples (map unit).
    pub mean_measured: f64,
    /// Standard deviation of the measured values over the samples, relative to their mean.
    pub measured_spread: f64,
    /// Noise estimated from the residual's voxel-to-voxel differences (a high-pass that the smooth
    /// model error hardly enters), relative to the mean measured value like `nrmse`.
    pub noise_highpass: f64,
    /// The residual's correlation volume (voxels; 1 for white noise): the factor by which the
    /// Jacobian covariance was inflated for model error.
    pub residual_correlation_voxels: f64,
    /// Its integrated correlation length along each map axis (voxels).
    pub residual_correlation_length_voxels: [f64; 3],
    pub correlation: f64,
    pub max_abs_residual: f64,
    pub p95_abs_residual: f64,
    pub iterations: usize,
    pub converged: bool,
    pub samples: usize,
    pub bootstrap: usize,
    #[serde(skip)]
    pub params: Vec<f64>,
    #[serde(skip)]
    pub fitted: Vec<f64>,
}

/// Measured samples: positions (simulation frame), voxel indices and values.
pub struct Samples {
    pub pts: Vec<[f64; 3]>,
    pub idx: Vec<(usize, usize, usize)>,
    pub m: Vec<f64>,
    pub dims: [usize; 3],
}

impl Samples {
    /// The valid voxels of `map` whose positions lie inside every model field (NaN-free at the base).
    pub fn from_map(map: &B1Map, placement: &Placement, model: &JointModel) -> Result<Samples> {
        Self::from_map_masked(map, placement, model, None)
    }

    /// [`Samples::from_map`] restricted to `mask` (map grid) when given.
    pub fn from_map_masked(
        map: &B1Map,
        placement: &Placement,
        model: &JointModel,
        mask: Option<&Array3<bool>>,
    ) -> Result<Samples> {
        let to_sim = placement.world_to_sim.compose(&map.affine);
        let mut valid = map.valid();
        if let Some(m) = mask {
            ndarray::Zip::from(&mut valid).and(m).for_each(|a, &b| *a = *a && b);
        }
        let mut s = Samples {
            pts: vec![],
            idx: vec![],
            m: vec![],
            dims: map.dims(),
        };
        for ((i, j, k), v) in valid.indexed_iter() {
            if !*v {
                continue;
            }
            let p = to_sim.apply([i as f64, j as f64, k as f64]);
            let ok = model.patterns.iter().all(|pm| {
                pm.q0.field.sample(p).re.is_finite() && pm.incident.as_ref().is_none_or(|f| f.sample(p).re.is_finite())
            });
            if ok {
                s.pts.push(p);
                s.idx.push((i, j, k));
                s.m.push(map.magnitude[[i, j, k]] as f64);
            }
        }
        if s.pts.len() < 20 {
            return Err(Error::input(
                &map.source,
                "mask",
                format!(
                    "only {} voxels of the measured map lie inside the simulated region",
                    s.pts.len()
                ),
                "check the map's affine/frame and the phantom placement (and the mask)",
            ));
        }
        Ok(s)
    }
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn c64(z: Complex32) -> Complex64 {
    Complex64::new(z.re as f64, z.im as f64)
}

/// Indices of the active parameters in the full vector (Re w0, Re w1, Im w1, tx, ty, tz, s, e).
impl JointOptions {
    /// How many parameters the fit has (drive weights plus the active placement and gel ones).
    pub fn parameters(&self) -> usize {
        active(self).len()
    }
}

fn active(opt: &JointOptions) -> Vec<usize> {
    let mut a = vec![0, 1, 2];
    if opt.fit_offset {
        a.extend([3, 4, 5]);
    }
    if opt.fit_gel {
        a.extend([6, 7]);
    }
    if opt.fit_rotation {
        a.extend([8, 9, 10]);
    }
    a
}

/// µT per T (measured maps in µT give weights in A).
const SCALE: f64 = 1e6;

impl JointModel {
    /// A model without offset or gel terms from one basis.
    pub fn weights_only(basis: &Basis, offset_m: [f64; 3]) -> JointModel {
        JointModel {
            patterns: basis
                .fields
                .iter()
                .map(|f| PatternModel {
                    incident: None,
                    q0: CoefField {
                        field: f.clone(),
                        base_offset_m: offset_m,
                        base_rotation: [0.0; 3],
                    },
                    gel: None,
                    placement: None,
                })
                .collect(),
            base_se: [0.0; 2],
            gel_design: [0.0; 4],
            cell_m: basis.cell_m,
            centre_m: [0.0; 3],
            reach_m: 0.0,
        }
    }

    /// B1+ (µT) of each pattern at `x` and its derivatives d/dt (3), d/ds, d/de, d/dr (3, with
    /// `rot`); None where undefined.
    ///
    /// A coefficient field computed with the phantom at `(t_f, r_f)` is sampled where the phantom's
    /// point now at `x` was then: `u = c_f + R(r - r_f)^T (x - c_f - (t - t_f))`, `c_f` the phantom's
    /// centre at `t_f` (rotation vectors compose by addition: right to first order in the small
    /// angles; the outer iterations re-simulate at the fitted point). The B1+ value is carried along
    /// as a scalar: exact for a roll about the bore axis in a circularly polarised field, first order
    /// otherwise.
    #[allow(clippy::type_complexity)]
    fn pattern_at(&self, k: usize, x: [f64; 3], full: &Params, rot: bool) -> Option<(Complex64, [Complex64; 8])> {
        let pm = &self.patterns[k];
        let t = [full[3], full[4], full[5]];
        let r = [full[8], full[9], full[10]];
        let mut v = Complex64::default();
        let mut d = [Complex64::default(); 8];
        if let Some(design) = &pm.placement {
            return self.pattern_linear(pm, design, x, full);
        }
        if let Some(inc) = &pm.incident {
            let z = inc.sample(x);
            if !z.re.is_finite() {
                return None;
            }
            v += c64(z);
        }
        // (value, d/dt, d/dr) of one coefficient field.
        let at = |c: &CoefField| -> (Complex64, [Complex64; 3], [Complex64; 3]) {
            let dr = sub(r, c.base_rotation);
            // The point translated back to the field's offset, then turned back about the
            // phantom's centre there.
            let moved = sub(x, sub(t, c.base_offset_m));
            if dr == [0.0; 3] && !rot {
                let (z, g) = c.field.sample_with_gradient(moved);
                return (c64(z), g.map(|q| -c64(q)), [Complex64::default(); 3]);
            }
            let cf = [0, 1, 2].map(|a| self.centre_m[a] + c.base_offset_m[a]);
            let back = |dr: [f64; 3]| ShapeRotation::from_vector(cf, dr).inverse_apply(moved);
            let turn = ShapeRotation::from_vector(cf, dr);
            let (z, g) = c.field.sample_with_gradient(turn.inverse_apply(moved));
            let g = g.map(c64);
            // du/dt = -R^T: d/dt_j = -sum_i g_i R_ji.
            let m = &turn.matrix;
            let dt = [0, 1, 2].map(|j| -(g[0] * m[j][0] + g[1] * m[j][1] + g[2] * m[j][2]));
            let mut drv = [Complex64::default(); 3];
            if rot {
                let h = 1e-6;
                for a in 0..3 {
                    let (mut p, mut q) = (dr, dr);
                    p[a] += h;
                    q[a] -= h;
                    let (up, uq) = (back(p), back(q));
                    drv[a] = (0..3).map(|i| g[i] * ((up[i] - uq[i]) / (2.0 * h))).sum();
                }
            }
            (c64(z), dt, drv)
        };
        let (z0, t0, r0) = at(&pm.q0);
        if !z0.re.is_finite() {
            return None;
        }
        v += z0;
        let (mut gt, mut gr) = (t0, r0);
        if let Some([a1, a2, c1]) = &pm.gel {
            let s = full[6] - self.base_se[0];
            let e = full[7] - self.base_se[1];
            let (va1, ta1, ra1) = at(a1);
            let (va2, ta2, ra2) = at(a2);
            let (vc1, tc1, rc1) = at(c1);
            if !(va1.re.is_finite() && va2.re.is_finite() && vc1.re.is_finite()) {
                return None;
            }
            v += va1 * s + va2 * s * s + vc1 * e;
            for a in 0..3 {
                gt[a] += ta1[a] * s + ta2[a] * s * s + tc1[a] * e;
                gr[a] += ra1[a] * s + ra2[a] * s * s + rc1[a] * e;
            }
            d[3] = va1 + va2 * (2.0 * s);
            d[4] = vc1;
        }
        d[..3].copy_from_slice(&gt);
        d[5..].copy_from_slice(&gr);
        Some((v * SCALE, d.map(|z| z * SCALE)))
    }

    /// [`Self::pattern_at`] with placement sensitivities from design runs (linear in the placement).
    #[allow(clippy::type_complexity)]
    fn pattern_linear(
        &self,
        pm: &PatternModel,
        design: &[(usize, RegularField<Complex32>)],
        x: [f64; 3],
        full: &Params,
    ) -> Option<(Complex64, [Complex64; 8])> {
        let mut d = [Complex64::default(); 8];
        let mut v = c64(pm.q0.field.sample(x));
        if !v.re.is_finite() {
            return None;
        }
        let base = |p: usize| match p {
            3..=5 => pm.q0.base_offset_m[p - 3],
            _ => pm.q0.base_rotation[p - 8],
        };
        for (p, f) in design {
            let z = c64(f.sample(x));
            if !z.re.is_finite() {
                return None;
            }
            v += z * (full[*p] - base(*p));
            d[*p - 3] = z;
        }
        if let Some([a1, a2, c1]) = &pm.gel {
            let s = full[6] - self.base_se[0];
            let e = full[7] - self.base_se[1];
            let (va1, va2, vc1) = (
                c64(a1.field.sample(x)),
                c64(a2.field.sample(x)),
                c64(c1.field.sample(x)),
            );
            if !(va1.re.is_finite() && va2.re.is_finite() && vc1.re.is_finite()) {
                return None;
            }
            v += va1 * s + va2 * s * s + vc1 * e;
            d[3] = va1 + va2 * (2.0 * s);
            d[4] = vc1;
        }
        Some((v * SCALE, d.map(|z| z * SCALE)))
    }

    /// Residuals and Jacobian (rows of the active parameters) at the full parameter vector.
    fn eval(&self, s: &Samples, full: &Params, act: &[usize]) -> Option<(Vec<f64>, Vec<f64>)> {
        self.eval_pre(s, full, act, None)
    }

    /// The pattern values at every sample for fixed offset and gel parameters (weights-only fits).
    fn precompute(&self, s: &Samples, full: &Params) -> Option<Vec<[Complex64; 2]>> {
        s.pts
            .iter()
            .map(|&x| {
                Some([
                    self.pattern_at(0, x, full, false)?.0,
                    self.pattern_at(1, x, full, false)?.0,
                ])
            })
            .collect()
    }

    fn eval_pre(
        &self,
        s: &Samples,
        full: &Params,
        act: &[usize],
        pre: Option<&[[Complex64; 2]]>,
    ) -> Option<(Vec<f64>, Vec<f64>)> {
        let w = [Complex64::new(full[0], 0.0), Complex64::new(full[1], full[2])];
        if let Some(pre) = pre {
            let np = act.len();
            let mut r = Vec::with_capacity(pre.len());
            let mut jac = Vec::with_capacity(pre.len() * np);
            for (i, [b0, b1]) in pre.iter().enumerate() {
                let b = w[0] * b0 + w[1] * b1;
                let a = b.norm().max(1e-300);
                let dabs = |db: Complex64| (b.conj() * db).re / a;
                for &p in act {
                    jac.push(match p {
                        0 => dabs(*b0),
                        1 => dabs(*b1),
                        _ => dabs(Complex64::i() * b1),
                    });
                }
                r.push(a - s.m[i]);
            }
            return Some((r, jac));
        }
        let np = act.len();
        let n = s.pts.len();
        let rot = act.iter().any(|&p| p >= 8);
        let rows: Vec<Option<(f64, Vec<f64>)>> = {
            use rayon::prelude::*;
            (0..n)
                .into_par_iter()
                .map(|i| {
                    let (b0, d0) = self.pattern_at(0, s.pts[i], full, rot)?;
                    let (b1, d1) = self.pattern_at(1, s.pts[i], full, rot)?;
                    let b = w[0] * b0 + w[1] * b1;
                    let a = b.norm().max(1e-300);
                    let dabs = |db: Complex64| (b.conj() * db).re / a;
                    let mut row = vec![0.0; np];
                    for (q, &p) in act.iter().enumerate() {
                        row[q] = match p {
                            0 => dabs(b0),
                            1 => dabs(b1),
                            2 => dabs(Complex64::i() * b1),
                            3..=5 => dabs(w[0] * d0[p - 3] + w[1] * d1[p - 3]),
                            6 => dabs(w[0] * d0[3] + w[1] * d1[3]),
                            7 => dabs(w[0] * d0[4] + w[1] * d1[4]),
                            _ => dabs(w[0] * d0[p - 3] + w[1] * d1[p - 3]),
                        };
                    }
                    Some((a - s.m[i], row))
                })
                .collect()
        };
        let mut r = Vec::with_capacity(n);
        let mut jac = Vec::with_capacity(n * np);
        for row in rows {
            let (ri, ji) = row?;
            r.push(ri);
            jac.extend(ji);
        }
        Some((r, jac))
    }

    fn bounds(&self, p: usize) -> (f64, f64) {
        let base_t = self.patterns[0].q0.base_offset_m;
        let base_r = self.patterns[0].q0.base_rotation;
        // A rotation step may move the phantom's farthest point by 1.5 cells (and 5 degrees at most).
        let dr = (1.5 * self.cell_m / self.reach_m.max(1e-9)).min(5f64.to_radians());
        match p {
            3..=5 => (base_t[p - 3] - 1.5 * self.cell_m, base_t[p - 3] + 1.5 * self.cell_m),
            6 | 7 => (-2.0, 2.0),
            8..=10 => (base_r[p - 8] - dr, base_r[p - 8] + dr),
            _ => (f64::NEG_INFINITY, f64::INFINITY),
        }
    }
}

/// The joint fit's least-squares problem: the active parameters `act` of the full vector, steps from
/// the Gauss–Jordan inverse of the damped normal equations, projected onto the bounds.
struct JointProblem<'a> {
    model: &'a JointModel,
    s: &'a Samples,
    act: &'a [usize],
    /// Pattern values for weights-only fits (they do not change with the weights).
    pre: Option<Vec<[Complex64; 2]>>,
}

impl LeastSquares for JointProblem<'_> {
    type Params = Params;
    fn residuals(&self, f: &Params) -> Option<(Vec<f64>, Vec<f64>)> {
        self.model.eval_pre(self.s, f, self.act, self.pre.as_deref())
    }
    fn step(&self, damped: &[f64], g: &[f64]) -> Option<Vec<f64>> {
        let np = self.act.len();
        let inv = gauss_jordan_inverse(damped, np)?;
        Some(
            (0..np)
                .map(|q| -(0..np).map(|c| inv[q * np + c] * g[c]).sum::<f64>())
                .collect(),
        )
    }
    /// The step size is the step (after the bounds) scaled by the diagonal of `J^T J`.
    fn trial(&self, full: &Params, step: &[f64], a: &[f64]) -> (Params, f64) {
        let np = self.act.len();
        let mut trial = *full;
        let mut scaled_step = 0.0;
        for q in 0..np {
            let p = self.act[q];
            let (lo, hi) = self.model.bounds(p);
            trial[p] = (full[p] + step[q]).clamp(lo, hi);
            scaled_step += (trial[p] - full[p]).powi(2) * a[q * np + q];
        }
        (trial, scaled_step)
    }
    fn converged(&self, scaled_step: f64, rel: f64, cost: f64) -> bool {
        rel < 1e-10 || scaled_step < 1e-8 * cost.max(1e-300)
    }
}

/// Bounded Levenberg–Marquardt from `start` (projected steps). Converged when the relative cost
/// decrease of an accepted step is below 1e-10 or the scaled step below 1e-8, or when no damping
/// lowers the cost (at a bounded minimum).
fn lm(model: &JointModel, s: &Samples, start: Params, act: &[usize], max_it: usize) -> Result<LmResult<Params>> {
    // Weights only: the pattern values do not change; evaluate them once.
    let pre = if act.iter().all(|&p| p < 3) {
        model.precompute(s, &start)
    } else {
        None
    };
    let problem = JointProblem { model, s, act, pre };
    let limits = LmLimits {
        max_iterations: max_it,
        singular_lambda_max: Some(1e14),
        reject_lambda_max: 1e14,
        reject_stop_is_converged: true,
    };
    levenberg_marquardt(&problem, start, act.len(), &limits)
        .ok_or_else(|| Error::Other("twin fit: the model is undefined at the start point".into()))
}

fn derived(full: &Params, model: &JointModel) -> [f64; 4] {
    // Quadrature: w_sin = -i a e^{i d} w_cos  =>  a e^{i d} = i w_sin / w_cos.
    let rel = Complex64::i() * Complex64::new(full[1], full[2]) / Complex64::new(full[0], 0.0);
    let [s0, ds, e0, de] = model.gel_design;
    [rel.norm(), rel.arg().to_degrees(), s0 + ds * full[6], e0 + de * full[7]]
}

/// The fitted quantities with their Jacobian standard errors, and the parameters the data do not
/// determine.
struct Estimates {
    relative_amplitude: Estimate,
    relative_phase_deg: Estimate,
    offset_m: Option<[Estimate; 3]>,
    rotation_deg: Option<[Estimate; 3]>,
    sigma: Option<Estimate>,
    eps: Option<Estimate>,
    sigma_eps_correlation: Option<f64>,
    unidentifiable: Vec<String>,
}

/// Estimates at the optimum `full` from the covariance `cov` of the active parameters (`None`:
/// singular, standard errors NaN); derived quantities by the delta method with numeric gradients.
fn estimates(model: &JointModel, opt: &JointOptions, act: &[usize], full: &Params, cov: Option<&[f64]>) -> Estimates {
    let full = *full;
    let np = act.len();
    let var = |q: usize| cov.map_or(f64::NAN, |c| c[q * np + q]);
    // Delta method for derived quantities with numeric gradients.
    let d0 = derived(&full, model);
    let mut grads = vec![[0.0; 4]; np];
    for (q, &p) in act.iter().enumerate() {
        let h = 1e-6
            * full[p]
                .abs()
                .max(if (3..=5).contains(&p) || p >= 8 { 1e-3 } else { 1.0 });
        let mut f2 = full;
        f2[p] += h;
        let d1 = derived(&f2, model);
        for j in 0..4 {
            grads[q][j] = (d1[j] - d0[j]) / h;
        }
    }
    let dvar = |j: usize| -> f64 {
        let Some(c) = cov else { return f64::NAN };
        let mut v = 0.0;
        for q in 0..np {
            for u in 0..np {
                v += grads[q][j] * c[q * np + u] * grads[u][j];
            }
        }
        v
    };
    let relative_amplitude = Estimate::jac(d0[0], dvar(0).sqrt());
    let relative_phase_deg = Estimate::jac(d0[1], dvar(1).sqrt());
    let qi = |p: usize| act.iter().position(|&x| x == p);
    let offset_m = opt
        .fit_offset
        .then(|| [3, 4, 5].map(|p| Estimate::jac(full[p], var(qi(p).unwrap()).sqrt())));
    let rotation_deg = opt
        .fit_rotation
        .then(|| [8, 9, 10].map(|p| Estimate::jac(full[p].to_degrees(), var(qi(p).unwrap()).sqrt().to_degrees())));
    let sigma = opt.fit_gel.then(|| Estimate::jac(d0[2], dvar(2).sqrt()));
    let eps = opt.fit_gel.then(|| Estimate::jac(d0[3], dvar(3).sqrt()));
    let sigma_eps_correlation = if opt.fit_gel {
        let (a, b) = (qi(6).unwrap(), qi(7).unwrap());
        cov.map(|c| c[a * np + b] / (c[a * np + a] * c[b * np + b]).sqrt())
    } else {
        None
    };
    let mut unidentifiable = Vec::new();
    if let (Some(e), Some(_)) = (&eps, &sigma) {
        let at_bound = full[7].abs() >= 2.0 - 1e-9;
        if !(1.96 * e.se < 0.25 * model.gel_design[2])
            || at_bound
            || sigma_eps_correlation.is_some_and(|c| c.abs() > 0.95)
        {
            unidentifiable.push("eps_r".to_string());
        }
        if full[6].abs() >= 2.0 - 1e-9 || !(1.96 * sigma.as_ref().unwrap().se < 0.25 * model.gel_design[0]) {
            unidentifiable.push("sigma_s_per_m".to_string());
        }
    }
    if let Some(o) = &offset_m {
        for (a, e) in o.iter().enumerate() {
            if !(1.96 * e.se < model.cell_m) {
                unidentifiable.push(["offset_x", "offset_y", "offset_z"][a].to_string());
            }
        }
    }
    if let Some(o) = &rotation_deg {
        // Not determined when the 95 % interval moves the phantom's farthest point by a cell or more.
        let one_cell_deg = (model.cell_m / model.reach_m.max(1e-9)).to_degrees();
        for (a, e) in o.iter().enumerate() {
            if !(1.96 * e.se < one_cell_deg) {
                unidentifiable.push(["rotation_x", "rotation_y", "rotation_z"][a].to_string());
            }
        }
    }
    Estimates {
        relative_amplitude,
        relative_phase_deg,
        offset_m,
        rotation_deg,
        sigma,
        eps,
        sigma_eps_correlation,
        unidentifiable,
    }
}

/// Residual bootstrap: `opt.bootstrap` refits (from `full`, at most 100 iterations each) to `fitted`
/// plus residuals `r` drawn with replacement (deterministic seed); where at least 10 refits succeed,
/// the standard errors become the refits' and the intervals their 2.5 and 97.5 percentiles.
#[allow(clippy::too_many_arguments)]
fn bootstrap(
    model: &JointModel,
    s: &Samples,
    opt: &JointOptions,
    act: &[usize],
    full: Params,
    fitted: &[f64],
    r: &[f64],
    est: &mut Estimates,
) {
    let n = s.m.len();
    let mut state = opt.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let mut draws: Vec<Vec<f64>> = vec![Vec::new(); 4 + 3 + 3];
    let mut sb = Samples {
        pts: s.pts.clone(),
        idx: vec![],
        m: vec![0.0; n],
        dims: s.dims,
    };
    for _ in 0..opt.bootstrap {
        for i in 0..n {
            sb.m[i] = fitted[i] + r[next() % n];
        }
        let Some((f, d)) = refit(model, &sb, full, act) else {
            continue;
        };
        for j in 0..4 {
            draws[j].push(d[j]);
        }
        for a in 0..3 {
            draws[4 + a].push(f[3 + a]);
            draws[7 + a].push(f[8 + a].to_degrees());
        }
    }
    let pct = |v: &mut Vec<f64>| -> Option<[f64; 2]> {
        if v.len() < 10 {
            return None;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| v[((p * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
        Some([q(0.025), q(0.975)])
    };
    let set = |e: &mut Estimate, v: &mut Vec<f64>| {
        if let Some(ci) = pct(v) {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            e.se = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt();
            e.ci95 = ci;
            e.ci95_method = format!("residual bootstrap, {} refits, percentile", v.len());
        }
    };
    set(&mut est.relative_amplitude, &mut draws[0]);
    set(&mut est.relative_phase_deg, &mut draws[1]);
    if let Some(e) = est.sigma.as_mut() {
        set(e, &mut draws[2]);
    }
    if let Some(e) = est.eps.as_mut() {
        set(e, &mut draws[3]);
    }
    if let Some(o) = est.offset_m.as_mut() {
        for a in 0..3 {
            set(&mut o[a], &mut draws[4 + a]);
        }
    }
    if let Some(o) = est.rotation_deg.as_mut() {
        for a in 0..3 {
            set(&mut o[a], &mut draws[7 + a]);
        }
    }
}

/// The spatial structure of a fit's residual on the map grid.
#[derive(Clone, Copy, Debug)]
pub struct ResidualStructure {
    /// Noise standard deviation from voxel-to-voxel differences, sqrt(mean (r_p - r_q)^2 / 2) over
    /// neighbouring samples (map unit): white noise passes, a smooth model error nearly cancels.
    pub noise_highpass: f64,
    /// Integrated autocorrelation length along each map axis (voxels, >= 1): 1 + 2 sum of the
    /// residual's autocorrelation over lags 1, 2, ... while it stays above 0.05.
    pub correlation_length: [f64; 3],
    /// Their product: the voxels one independent residual value spans.
    pub correlation_voxels: f64,
}

impl ResidualStructure {
    /// From the residual `r` of the samples `s` (voxel indices on the map grid).
    pub fn of(s: &Samples, r: &[f64]) -> Self {
        let n = r.len();
        let [nx, ny, nz] = s.dims;
        let mut at = vec![u32::MAX; nx * ny * nz];
        for (q, &(i, j, k)) in s.idx.iter().enumerate() {
            at[(i * ny + j) * nz + k] = q as u32;
        }
        let mean = r.iter().sum::<f64>() / n.max(1) as f64;
        let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n.max(1) as f64;
        let neighbour = |q: usize, a: usize, lag: usize| -> Option<usize> {
            let (i, j, k) = s.idx[q];
            let (i, j, k) = match a {
                0 => (i + lag, j, k),
                1 => (i, j + lag, k),
                _ => (i, j, k + lag),
            };
            if i >= nx || j >= ny || k >= nz {
                return None;
            }
            let v = at[(i * ny + j) * nz + k];
            (v != u32::MAX).then_some(v as usize)
        };
        let (mut d2, mut pairs) = (0.0, 0usize);
        let mut length = [1.0; 3];
        for a in 0..3 {
            for lag in 1..=s.dims[a].min(32) {
                let (mut c, mut m) = (0.0, 0usize);
                for q in 0..n {
                    if let Some(p) = neighbour(q, a, lag) {
                        c += (r[q] - mean) * (r[p] - mean);
                        m += 1;
                        if lag == 1 {
                            d2 += (r[q] - r[p]).powi(2);
                            pairs += 1;
                        }
                    }
                }
                if m < 10 || !(var > 0.0) {
                    break;
                }
                let rho = c / (m as f64 * var);
                if !(rho > 0.05) {
                    break;
                }
                length[a] += 2.0 * rho;
            }
        }
        let noise_highpass = if pairs > 0 { (d2 / (2.0 * pairs as f64)).sqrt() } else { f64::NAN };
        Self {
            noise_highpass,
            correlation_length: length,
            correlation_voxels: length.iter().product::<f64>().min(n.max(1) as f64),
        }
    }
}

/// One refit from `full` (at most 100 iterations) of resampled or reduced samples: its parameters
/// (overall sign fixed so that w0 >= 0) and derived quantities; None when the fit fails.
fn refit(model: &JointModel, s: &Samples, full: Params, act: &[usize]) -> Option<(Params, [f64; 4])> {
    let mut f = lm(model, s, full, act, 100).ok()?.params;
    if f[0] < 0.0 {
        f[0] = -f[0];
        f[1] = -f[1];
        f[2] = -f[2];
    }
    let d = derived(&f, model);
    Some((f, d))
}

/// A residual whose correlation volume exceeds this (voxels) holds model error, not only noise:
/// the intervals then come from a block jackknife as well.
pub const JACKKNIFE_ABOVE_VOXELS: f64 = 1.5;

/// Block jackknife over the map's octants (split at the samples' median voxel index along each
/// axis): the fit repeated with each octant left out. Model error that the Jacobian's independent-noise
/// intervals ignore moves the estimates between these refits; each standard error becomes the larger
/// of the Jacobian's and the jackknife's, (g-1)/g sum (theta_-b - mean)^2, and each interval
/// value -+ t(0.975, g-1) se.
fn block_jackknife(model: &JointModel, s: &Samples, act: &[usize], full: Params, est: &mut Estimates) {
    let n = s.m.len();
    let median = |a: usize| -> usize {
        let mut v: Vec<usize> = s.idx.iter().map(|&(i, j, k)| [i, j, k][a]).collect();
        v.sort_unstable();
        v[n / 2]
    };
    let cut = [median(0), median(1), median(2)];
    let block = |q: usize| -> usize {
        let (i, j, k) = s.idx[q];
        (i >= cut[0]) as usize + 2 * (j >= cut[1]) as usize + 4 * (k >= cut[2]) as usize
    };
    let mut draws: Vec<[f64; 10]> = Vec::new();
    for b in 0..8 {
        let keep: Vec<usize> = (0..n).filter(|&q| block(q) != b).collect();
        if keep.len() == n || keep.len() < 2 * act.len() + 2 {
            continue;
        }
        let sb = Samples {
            pts: keep.iter().map(|&q| s.pts[q]).collect(),
            idx: keep.iter().map(|&q| s.idx[q]).collect(),
            m: keep.iter().map(|&q| s.m[q]).collect(),
            dims: s.dims,
        };
        let Some((f, d)) = refit(model, &sb, full, act) else {
            continue;
        };
        draws.push([
            d[0],
            d[1],
            d[2],
            d[3],
            f[3],
            f[4],
            f[5],
            f[8].to_degrees(),
            f[9].to_degrees(),
            f[10].to_degrees(),
        ]);
    }
    let g = draws.len();
    if g < 4 {
        return;
    }
    // Student t quantile (0.975) for g - 1 = 3..7 degrees of freedom.
    let t = [3.182, 2.776, 2.571, 2.447, 2.365][(g - 4).min(4)];
    let se_of = |j: usize| -> f64 {
        let mean = draws.iter().map(|d| d[j]).sum::<f64>() / g as f64;
        ((g - 1) as f64 / g as f64 * draws.iter().map(|d| (d[j] - mean).powi(2)).sum::<f64>()).sqrt()
    };
    let method = format!("block jackknife over {g} map octants (model error), t({}) quantile, or jacobian if wider", g - 1);
    let widen = |e: &mut Estimate, se: f64| {
        if se.is_finite() && se > e.se {
            e.se = se;
            e.ci95 = [e.value - t * se, e.value + t * se];
            e.ci95_method = method.clone();
        }
    };
    widen(&mut est.relative_amplitude, se_of(0));
    widen(&mut est.relative_phase_deg, se_of(1));
    if let Some(e) = est.sigma.as_mut() {
        widen(e, se_of(2));
    }
    if let Some(e) = est.eps.as_mut() {
        widen(e, se_of(3));
    }
    if let Some(o) = est.offset_m.as_mut() {
        for a in 0..3 {
            widen(&mut o[a], se_of(4 + a));
        }
    }
    if let Some(o) = est.rotation_deg.as_mut() {
        for a in 0..3 {
            widen(&mut o[a], se_of(7 + a));
        }
    }
}


/// Fits the active parameters to the samples, from the weights of a weights-only fit.
pub fn fit_joint(model: &JointModel, s: &Samples, opt: &JointOptions, start: Params) -> Result<JointFit> {
    let act = active(opt);
    let np = act.len();
    let n = s.m.len();
    if n < 2 * np + 2 {
        return Err(Error::Other(format!("twin fit: {n} samples for {np} parameters")));
    }
    let out = lm(
        model,
        s,
        start,
        &act,
        if opt.max_iterations == 0 {
            300
        } else {
            opt.max_iterations
        },
    )?;
    let mut full = out.params;
    if full[0] < 0.0 {
        full[0] = -full[0];
        full[1] = -full[1];
        full[2] = -full[2];
    }
    let (r, jac) = model.eval(s, &full, &act).unwrap_or((out.r.clone(), out.jac.clone()));
    let rss: f64 = r.iter().map(|x| x * x).sum();
    let s2 = rss / (n - np) as f64;
    let (a, _) = normal_equations(&jac, &r, np);
    // Model error: a residual that is spatially coherent (the model's own error, not noise) holds
    // fewer independent samples than voxels; the covariance grows by its correlation volume.
    let structure = ResidualStructure::of(s, &r);
    let cov = gauss_jordan_inverse(&a, np).map(|inv| inv.iter().map(|v| v * s2).collect::<Vec<_>>());
    let mut est = estimates(model, opt, &act, &full, cov.as_deref());
    if structure.correlation_voxels > JACKKNIFE_ABOVE_VOXELS {
        block_jackknife(model, s, &act, full, &mut est);
    }
    let fitted: Vec<f64> = s.m.iter().zip(&r).map(|(m, r)| m + r).collect();

    // Residual bootstrap: refit fitted + resampled residuals (same model, same start).
    if opt.bootstrap > 0 {
        bootstrap(model, s, opt, &act, full, &fitted, &r, &mut est);
    }

    let mean_m = s.m.iter().sum::<f64>() / n as f64;
    let mean_f = fitted.iter().sum::<f64>() / n as f64;
    let cv: f64 = s.m.iter().zip(&fitted).map(|(a, b)| (a - mean_m) * (b - mean_f)).sum();
    let vm: f64 = s.m.iter().map(|a| (a - mean_m).powi(2)).sum();
    let vf: f64 = fitted.iter().map(|b| (b - mean_f).powi(2)).sum();
    let mut absr: Vec<f64> = r.iter().map(|x| x.abs()).collect();
    absr.sort_by(|a, b| a.total_cmp(b));
    Ok(JointFit {
        weights: vec![[full[0], 0.0], [full[1], full[2]]],
        relative_amplitude: est.relative_amplitude,
        relative_phase_deg: est.relative_phase_deg,
        offset_m: est.offset_m,
        rotation_deg: est.rotation_deg,
        sigma_s_per_m: est.sigma,
        eps_r: est.eps,
        sigma_eps_correlation: est.sigma_eps_correlation,
        unidentifiable: est.unidentifiable,
        nrmse: (rss / n as f64).sqrt() / mean_m,
        mean_measured: mean_m,
        measured_spread: (vm / n as f64).sqrt() / mean_m,
        noise_highpass: structure.noise_highpass / mean_m,
        residual_correlation_voxels: structure.correlation_voxels,
        residual_correlation_length_voxels: structure.correlation_length,
        correlation: cv / (vm * vf).sqrt(),
        max_abs_residual: *absr.last().unwrap_or(&0.0),
        p95_abs_residual: absr[((0.95 * n as f64) as usize).min(n - 1)],
        iterations: out.iterations,
        converged: out.converged,
        samples: n,
        bootstrap: opt.bootstrap,
        params: full.to_vec(),
        fitted,
    })
}

/// Maps fitted values back onto the measured grid (NaN elsewhere).
pub fn to_volume(s: &Samples, v: &[f64]) -> Array3<f32> {
    let mut out = Array3::<f32>::from_elem(s.dims, f32::NAN);
    for (q, &p) in s.idx.iter().enumerate() {
        out[p] = v[q] as f32;
    }
    out
}
