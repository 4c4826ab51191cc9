//! Capacitor deviations fitted to the map (issue 16, item 5): with the co-simulation's port basis
//! (fields per unit port current, the impedance matrix Z), any capacitor set follows by circuit
//! algebra, so the fit moves the capacitors and the two feed EMFs together with no new FDTD run.
//!
//! Model: |B1+(x)| = 1e6 |Σ_k I_k(δ, w) b_k(x)| with I = (Z + Z_L(δ))⁻¹ V(w), b_k the B1+ of port k
//! per ampere, C_j = C_j⁰ (1 + δ_j) for every capacitor (C⁰: the tuned or file values) and the feed
//! EMFs V = w₀ e^{iφ₁} at feed 1 and (w₁ + i w₂) i e^{iφ₂} at feed 2 (the twin's pattern weights).
//! Each δ_j has a Gaussian prior of width `prior` (default 5 %, a typical capacitor tolerance): the
//! fit minimises Σ r² + σ² Σ (δ_j / prior)², σ the map's noise, and its intervals come from that
//! posterior (they fall back to the prior where the map does not inform a capacitor).

use num_complex::{Complex32, Complex64};
use rayon::prelude::*;
use serde::Serialize;

use crate::coil::b1_plus;
use crate::coil::cosim::{Circuit, PortBasis};
use crate::coil::CoilConfig;
use crate::error::{Error, Result};
use crate::numerics::{gauss_jordan_inverse, levenberg_marquardt, LeastSquares, LmLimits};

/// One capacitor's fitted value.
#[derive(Clone, Debug, Serialize)]
pub struct CapacitorEstimate {
    /// The co-simulation port it sits in (e.g. "rung 3 capacitor").
    pub port: String,
    pub nominal_f: f64,
    pub fitted_f: f64,
    /// Relative deviation from nominal, its standard error and 95 % interval.
    pub deviation: f64,
    pub deviation_se: f64,
    pub deviation_ci95: [f64; 2],
    /// Whether the map informs it (posterior standard error below 0.8 x the prior width).
    pub identified: bool,
}

/// The capacitor fit.
#[derive(Clone, Debug, Serialize)]
pub struct CapacitorFit {
    pub prior: f64,
    pub capacitors: Vec<CapacitorEstimate>,
    /// Relative deviation per basis port (0 for a feed), as `SimulateOptions::capacitor_deviation`
    /// takes it.
    #[serde(skip)]
    pub deviation_per_port: Vec<f64>,
    /// The pattern weights at the optimum (start of the joint fit that follows).
    pub weights: [f64; 3],
    pub nrmse: f64,
    pub nrmse_before: f64,
    /// Standard errors of the port-2 relative amplitude and phase (deg) with the capacitors free
    /// within their prior (the twin's intervals are at least these).
    pub relative_amplitude_se: f64,
    pub relative_phase_se_deg: f64,
    /// The data term's scale (map unit) and the residual correlation volume it holds.
    pub data_scale: f64,
    pub iterations: usize,
    pub converged: bool,
    pub samples: usize,
}

struct Problem<'a> {
    pb: &'a PortBasis,
    circ0: &'a Circuit,
    caps: &'a [usize],
    /// Per sample, the B1+ per ampere of each port (T/A), row-major n x N.
    b: &'a [Complex64],
    m: &'a [f64],
    phase: [Complex64; 2],
    /// The data residuals' scale (map unit): the residual's scatter times the square root of its
    /// correlation volume, so that a spatially coherent residual counts as few samples.
    data_scale: f64,
    prior: f64,
}

impl Problem<'_> {
    fn circuit(&self, p: &[f64]) -> Circuit {
        let mut c = self.circ0.clone();
        for (g, &j) in self.caps.iter().enumerate() {
            c.capacitance_f[j] = c.capacitance_f[j].map(|v| v * (1.0 + p[3 + g]));
        }
        c
    }

    /// Model values at every sample.
    fn values(&self, p: &[f64]) -> Option<Vec<f64>> {
        let n_ports = self.pb.n();
        let circ = self.circuit(p);
        let emf = [
            self.phase[0] * p[0],
            Complex64::new(p[1], p[2]) * Complex64::i() * self.phase[1],
        ];
        let s = self.pb.solve(&circ, &emf).ok()?;
        let i = s.i;
        Some(
            self.m
                .par_iter()
                .enumerate()
                .map(|(q, _)| {
                    let row = &self.b[q * n_ports..(q + 1) * n_ports];
                    let v: Complex64 = row.iter().zip(&i).map(|(b, i)| b * i).sum();
                    1e6 * v.norm()
                })
                .collect(),
        )
    }

    fn residual_vec(&self, p: &[f64]) -> Option<Vec<f64>> {
        let v = self.values(p)?;
        let mut r: Vec<f64> = v.iter().zip(self.m).map(|(a, b)| (a - b) / self.data_scale).collect();
        r.extend((0..self.caps.len()).map(|g| p[3 + g] / self.prior));
        Some(r)
    }
}

impl LeastSquares for Problem<'_> {
    type Params = Vec<f64>;
    fn residuals(&self, p: &Vec<f64>) -> Option<(Vec<f64>, Vec<f64>)> {
        let r = self.residual_vec(p)?;
        let np = p.len();
        let mut jac = vec![0.0; r.len() * np];
        for q in 0..np {
            let h = if q < 3 { 1e-6 * p[0].abs().max(p[1].abs()).max(p[2].abs()).max(1e-30) } else { 1e-5 };
            let mut p2 = p.clone();
            p2[q] += h;
            let r2 = self.residual_vec(&p2)?;
            for (row, (a, b)) in r2.iter().zip(&r).enumerate() {
                jac[row * np + q] = (a - b) / h;
            }
        }
        Some((r, jac))
    }
    fn step(&self, damped: &[f64], g: &[f64]) -> Option<Vec<f64>> {
        let np = g.len();
        let inv = gauss_jordan_inverse(damped, np)?;
        Some((0..np).map(|i| -(0..np).map(|j| inv[i * np + j] * g[j]).sum::<f64>()).collect())
    }
    fn trial(&self, p: &Vec<f64>, step: &[f64], _a: &[f64]) -> (Vec<f64>, f64) {
        let mut t = p.clone();
        for (q, s) in step.iter().enumerate() {
            t[q] += s;
        }
        // Capacitors stay within -50 % .. +100 % of nominal.
        for v in t.iter_mut().skip(3) {
            *v = v.clamp(-0.5, 1.0);
        }
        let size = step.iter().skip(3).fold(0.0f64, |a, s| a.max(s.abs()));
        (t, size)
    }
    fn converged(&self, step_size: f64, rel: f64, _cost: f64) -> bool {
        rel < 1e-9 || step_size < 1e-7
    }
}

/// Fits the capacitor deviations and feed EMFs to the samples `pts` (simulation frame, m) with
/// values `m` (map unit), from pattern weights `start` (`[w0, Re w1, Im w1]`), around the circuit
/// `circ0`, with prior width `prior` (relative). The data term is scaled by `sigma` (map unit: the
/// first fit's residual scatter, at least the noise) times the square root of `correlation_voxels`
/// (the first fit's residual correlation volume): model error spread coherently over the map
/// informs the capacitors as little as that many fewer samples would, and the prior keeps them
/// from absorbing it.
#[allow(clippy::too_many_arguments)]
pub fn fit_capacitors(
    coil: &CoilConfig,
    pb: &PortBasis,
    circ0: &Circuit,
    pts: &[[f64; 3]],
    m: &[f64],
    start: [f64; 3],
    sigma: f64,
    correlation_voxels: f64,
    prior: f64,
) -> Result<CapacitorFit> {
    if !(prior > 0.0 && prior < 0.5) {
        return Err(Error::input(
            "command line",
            "--cap-prior",
            format!("{prior} is not a relative capacitor tolerance in (0, 0.5)"),
            "give e.g. --cap-prior 0.05 (5 %)",
        ));
    }
    let caps: Vec<usize> = (0..pb.n()).filter(|&j| circ0.capacitance_f[j].is_some()).collect();
    if caps.is_empty() {
        return Err(Error::input(
            &coil.source_name,
            "capacitance_f",
            "the coil has no capacitors to fit",
            "drop --fit-caps",
        ));
    }
    let n_ports = pb.n();
    // B1+ per ampere of every port at every sample.
    let fields: Vec<_> = pb.h.iter().map(b1_plus).collect::<Result<_>>()?;
    let c = |z: Complex32| Complex64::new(z.re as f64, z.im as f64);
    let mut b = Vec::with_capacity(pts.len() * n_ports);
    let mut keep = Vec::with_capacity(pts.len());
    for (q, p) in pts.iter().enumerate() {
        let row: Vec<Complex64> = fields.iter().map(|f| c(f.sample(*p))).collect();
        if row.iter().all(|v| v.re.is_finite() && v.im.is_finite()) {
            b.extend(row);
            keep.push(q);
        }
    }
    let mk: Vec<f64> = keep.iter().map(|&q| m[q]).collect();
    let n = mk.len();
    let np = 3 + caps.len();
    if n < 10 * np {
        return Err(Error::input(
            "command line",
            "--fit-caps",
            format!(
                "the capacitor fit has {n} map samples for {np} parameters ({} capacitors, 3 drive weights): the map cannot identify them (at least 10 samples per parameter)",
                caps.len()
            ),
            "drop --fit-caps, or give a map covering more of the phantom (finer voxels, a larger mask)",
        ));
    }
    let phase = [0, 1].map(|k| Complex64::from_polar(1.0, coil.ports[k].phase_deg.to_radians()));
    let problem = Problem {
        pb,
        circ0,
        caps: &caps,
        b: &b,
        m: &mk,
        phase,
        data_scale: sigma * correlation_voxels.max(1.0).sqrt(),
        prior,
    };
    let mut p0 = vec![0.0; np];
    p0[..3].copy_from_slice(&start);
    let r0 = problem
        .residual_vec(&p0)
        .ok_or_else(|| Error::Other("capacitor fit: the circuit is singular at the nominal capacitors".into()))?;
    let mean_m = mk.iter().sum::<f64>() / n as f64;
    let nrmse_of = |r: &[f64]| (r[..n].iter().map(|x| x * x).sum::<f64>() / n as f64).sqrt() / mean_m;
    let nrmse_before = nrmse_of(&r0) * problem.data_scale;
    let limits = LmLimits {
        max_iterations: 100,
        singular_lambda_max: Some(1e14),
        reject_lambda_max: 1e14,
        reject_stop_is_converged: true,
    };
    let out = levenberg_marquardt(&problem, p0, np, &limits)
        .ok_or_else(|| Error::Other("capacitor fit: the model is undefined at its start".into()))?;
    let p = out.params;
    let r = &out.r;
    let mut rn: Vec<f64> = r[..n].iter().map(|x| x * problem.data_scale).collect();
    rn.extend_from_slice(&r[n..]);
    let r = &rn;
    // Posterior covariance: the scaled residuals carry unit variance and the prior rows 1/prior.
    let (a, _) = crate::numerics::normal_equations(&out.jac, &out.r, np);
    let cov = gauss_jordan_inverse(&a, np);
    // The port-2 amplitude and phase (i w1 / w0), marginal over the capacitors (delta method).
    let rel = |w: &[f64]| Complex64::i() * Complex64::new(w[1], w[2]) / w[0];
    let (amp_se, phase_se) = match &cov {
        Some(c) => {
            let r0 = rel(&p);
            let mut g = [[0.0; 3]; 2];
            for q in 0..3 {
                let h = 1e-7 * p[0].abs().max(p[1].abs()).max(p[2].abs());
                let mut w = [p[0], p[1], p[2]];
                w[q] += h;
                let r1 = rel(&w);
                g[0][q] = (r1.norm() - r0.norm()) / h;
                g[1][q] = (r1.arg() - r0.arg()).to_degrees() / h;
            }
            let var = |g: &[f64; 3]| -> f64 {
                (0..3).map(|a| (0..3).map(|b| g[a] * c[a * np + b] * g[b]).sum::<f64>()).sum()
            };
            (var(&g[0]).max(0.0).sqrt(), var(&g[1]).max(0.0).sqrt())
        }
        None => (f64::NAN, f64::NAN),
    };
    let capacitors = caps
        .iter()
        .enumerate()
        .map(|(g, &j)| {
            let d = p[3 + g];
            let se = cov.as_ref().map_or(prior, |c| c[(3 + g) * np + 3 + g].max(0.0).sqrt());
            let nominal = circ0.capacitance_f[j].unwrap_or(f64::NAN);
            CapacitorEstimate {
                port: pb.ports[j].name.clone(),
                nominal_f: nominal,
                fitted_f: nominal * (1.0 + d),
                deviation: d,
                deviation_se: se,
                deviation_ci95: [d - 1.96 * se, d + 1.96 * se],
                identified: se < 0.8 * prior,
            }
        })
        .collect();
    let mut deviation_per_port = vec![0.0; n_ports];
    for (g, &j) in caps.iter().enumerate() {
        deviation_per_port[j] = p[3 + g];
    }
    Ok(CapacitorFit {
        prior,
        capacitors,
        deviation_per_port,
        weights: [p[0], p[1], p[2]],
        nrmse: nrmse_of(r),
        nrmse_before,
        relative_amplitude_se: amp_se,
        relative_phase_se_deg: phase_se,
        data_scale: problem.data_scale,
        iterations: out.iterations,
        converged: out.converged,
        samples: n,
    })
}

/// `twin fit --fit-caps`: a first calibration at the tuned capacitors, the capacitor deviations
/// fitted by circuit algebra on its voxels, then the calibration again with the fitted capacitors.
/// The co-simulation's port basis comes from this process's memory, else from the basis cache
/// `cache` (`ports-<hash>.h5`, written whenever the port runs are made with a cache), and only
/// when neither has it from the port runs: on cached ports the whole fit makes no FDTD run.
/// `prior` is the capacitors' relative prior width (`--cap-prior`).
#[allow(clippy::too_many_arguments)]
pub fn calibrate_with_capacitors(
    c: &CoilConfig,
    p: &crate::coil::PhantomConfig,
    map: &crate::b1::B1Map,
    placement: &crate::b1::Placement,
    sim_opts: &crate::coil::run::SimulateOptions,
    fo: &super::FullOptions,
    cache: Option<&std::path::Path>,
    prior: f64,
    log: &mut dyn FnMut(&str),
) -> Result<(super::FullCalibration, super::Basis, CapacitorFit)> {
    if sim_opts.model != crate::coil::run::DriveModel::Cosim {
        return Err(Error::input(
            "command line",
            "--fit-caps",
            "the capacitors are a part of the co-simulation model only",
            "add --model cosim, or drop --fit-caps",
        ));
    }
    let mut so = sim_opts.clone();
    so.keep_port_basis = true;
    let (first, _) = super::calibrate_full(c, p, map, placement, &so, fo, cache, log)?;
    let req = super::BasisRequest {
        coil: c,
        phantom: Some(p),
        opt: &so,
        offset_m: [0.0; 3],
    };
    log("capacitors: the port basis (from memory or the cache; port runs only when neither has it)");
    let result = super::basis::port_basis(&req, cache).and_then(|(pb, runs)| {
        let (mut full, basis, cf) = fit_on_ports(c, p, map, placement, &so, fo, cache, prior, &first, &pb, log)?;
        // Every FDTD run of the fit: the first calibration's, the port runs made here, the second's.
        full.fdtd_runs += first.fdtd_runs + runs;
        full.cached_bases += first.cached_bases;
        Ok((full, basis, cf))
    });
    super::basis::forget_port_bases();
    result
}

/// The circuit fit on the port basis `pb` and the second calibration (see
/// [`calibrate_with_capacitors`]).
#[allow(clippy::too_many_arguments)]
fn fit_on_ports(
    c: &CoilConfig,
    p: &crate::coil::PhantomConfig,
    map: &crate::b1::B1Map,
    placement: &crate::b1::Placement,
    so: &crate::coil::run::SimulateOptions,
    fo: &super::FullOptions,
    cache: Option<&std::path::Path>,
    prior: f64,
    first: &super::FullCalibration,
    pb: &PortBasis,
    log: &mut dyn FnMut(&str),
) -> Result<(super::FullCalibration, super::Basis, CapacitorFit)> {
    let (circ0, _) = crate::coil::cosim::tune(c, pb, 1e-5)?;
    let to_sim = placement.world_to_sim.compose(&map.affine);
    let mut pts = Vec::new();
    let mut m = Vec::new();
    for ((i, j, k), used) in first.used.indexed_iter() {
        let v = first.measured[[i, j, k]];
        if *used && v.is_finite() {
            pts.push(to_sim.apply([i as f64, j as f64, k as f64]));
            m.push(v as f64);
        }
    }
    let f = &first.fit;
    let noise = f.noise_highpass * f.mean_measured;
    let sigma = (f.nrmse * f.mean_measured).max(noise);
    log("capacitors: circuit fit");
    let cf = fit_capacitors(
        c,
        pb,
        &circ0,
        &pts,
        &m,
        [f.weights[0][0], f.weights[1][0], f.weights[1][1]],
        sigma,
        f.residual_correlation_voxels,
        prior,
    )?;
    let mut so = so.clone();
    so.capacitor_deviation = cf.deviation_per_port.clone();
    let (mut full, basis) = super::calibrate_full(c, p, map, placement, &so, fo, cache, log)?;
    // The drive's intervals hold the capacitors' freedom (their prior), not only the map's noise.
    let method = format!(
        "at least the capacitor fit's, marginal over the capacitors (prior {:.0} %)",
        100.0 * prior
    );
    for (e, se) in [
        (&mut full.fit.relative_amplitude, cf.relative_amplitude_se),
        (&mut full.fit.relative_phase_deg, cf.relative_phase_se_deg),
    ] {
        if se.is_finite() && se > e.se {
            let half = 1.96 * se;
            e.se = se;
            e.ci95 = [e.value - half, e.value + half];
            e.ci95_method = method.clone();
        }
    }
    Ok((full, basis, cf))
}
