//! The full calibration: basis runs (cached), weights-only start, joint fit of weights, phantom offset
//! and rotation and gel properties (`joint`), and outer iterations that re-simulate the basis with
//! the phantom at the fitted offset, rotation and gel values and refit.
//!
//! FDTD runs (each basis = 2 runs: forward and backward quadrature patterns): nominal 2; with an offset
//! fit the empty coil 2 more (the incident field, independent of the phantom); with a gel fit the
//! design points (sigma_0 +- d_sigma, eps_0 + d_eps) 6 more; each outer iteration 2. With a gel fit
//! the default is one outer iteration, so the phantom runs stay at 10. With placement design runs
//! (default with a rotation fit) each fitted offset/rotation parameter costs 2 runs instead of the
//! empty coil's 2, and the default is three outer iterations: 26 runs for offset + rotation + gel.
//! Cached runs cost no FDTD time.

use std::path::Path;

use num_complex::{Complex32, Complex64};
use serde::Serialize;

use super::basis::{cached_basis, Basis, BasisRequest, CacheOutcome};
use super::fit::fit_weights_magnitude;
use super::joint::{
    fit_joint, to_volume, CoefField, JointFit, JointModel, JointOptions, Params, PatternModel, Samples,
};
use crate::b1::{B1Map, Placement};
use crate::coil::run::SimulateOptions;
use crate::coil::{CoilConfig, PhantomConfig};
use crate::error::{Error, Result};
use crate::grid::RegularField;

/// Options of the full calibration.
#[derive(Clone, Debug)]
pub struct FullOptions {
    pub joint: JointOptions,
    /// Re-simulate at the fitted point: None = automatic (with a gel fit, or an offset above a
    /// quarter cell from the basis' offset).
    pub resimulate: Option<bool>,
    /// Outer iterations at most (None: 1 with a gel fit, else 2).
    pub max_outer: Option<usize>,
    /// Design steps relative to the nominal sigma and eps.
    pub gel_step: [f64; 2],
    /// Placement (offset, rotation) sensitivities from design runs, one per fitted placement
    /// parameter with the phantom moved by a quarter cell (`joint::PatternModel::placement`),
    /// instead of carrying the phantom's contribution along. None: automatic (on with a rotation
    /// fit).
    pub placement_runs: Option<bool>,
    /// The automatic mask (see [`crate::b1::quality`]): at every basis point the voxels inside the
    /// phantom at that point's placement, eroded by `margin_m`, above `floor`; None: every valid
    /// voxel of the map (its own or the file mask).
    pub auto_mask: Option<AutoMask>,
}

/// The rule of the automatic mask (see [`FullOptions::auto_mask`]).
#[derive(Clone, Copy, Debug)]
pub struct AutoMask {
    /// Erosion of the phantom (m): half the voxel diagonal.
    pub margin_m: f64,
    /// Noise floor (map unit), when the background gave a noise estimate.
    pub floor: Option<f64>,
}

impl Default for FullOptions {
    fn default() -> Self {
        Self {
            joint: JointOptions::default(),
            resimulate: None,
            max_outer: None,
            gel_step: [0.15, 0.15],
            placement_runs: None,
            auto_mask: None,
        }
    }
}

/// The phantom at offset `t` (m) and rotation `r` (rotation vector, radians, added to the file's):
/// where the basis at that point has it.
pub fn placed_phantom(phantom: &PhantomConfig, t: [f64; 3], r: [f64; 3]) -> PhantomConfig {
    let mut ph = phantom.clone();
    for a in 0..3 {
        ph.rotation_deg[a] += r[a].to_degrees();
    }
    super::basis::shifted_phantom(&ph, t)
}

/// The samples of `map` for the model at offset `t`, rotation `r`: with the automatic mask of the
/// phantom placed there, or every valid voxel.
fn samples_at(
    map: &B1Map,
    placement: &Placement,
    model: &JointModel,
    phantom: &PhantomConfig,
    auto: Option<&AutoMask>,
    t: [f64; 3],
    r: [f64; 3],
) -> Result<Samples> {
    match auto {
        Some(a) => {
            let shape = placed_phantom(phantom, t, r).shape();
            let mask = crate::b1::quality::auto_mask(map, &shape, a.margin_m, placement, a.floor)?;
            Samples::from_map_masked(map, placement, model, Some(&mask))
        }
        None => Samples::from_map(map, placement, model),
    }
}

/// One fit of the sequence (first fit, then one per outer iteration).
#[derive(Clone, Debug, Serialize)]
pub struct OuterStep {
    pub basis_offset_m: [f64; 3],
    /// Rotation (degrees, relative to the phantom file) of the basis.
    pub basis_rotation_deg: [f64; 3],
    pub basis_sigma_s_per_m: f64,
    pub basis_eps_r: f64,
    pub offset_m: [f64; 3],
    pub rotation_deg: [f64; 3],
    pub sigma_s_per_m: f64,
    pub eps_r: f64,
    pub nrmse: f64,
}

/// The result of the full calibration.
#[derive(Serialize)]
pub struct FullCalibration {
    pub fit: JointFit,
    pub steps: Vec<OuterStep>,
    /// FDTD runs made (cache misses) and basis files loaded from the cache.
    pub fdtd_runs: usize,
    pub cached_bases: usize,
    pub seconds: f64,
    /// Where the final basis (and so the twin's fields) was computed.
    pub final_offset_m: [f64; 3],
    /// Rotation (degrees) added to the phantom file's for the final basis.
    pub final_rotation_deg: [f64; 3],
    pub final_sigma_s_per_m: f64,
    pub final_eps_r: f64,
    #[serde(skip)]
    pub measured: ndarray::Array3<f32>,
    #[serde(skip)]
    pub simulated: ndarray::Array3<f32>,
    /// The voxels the final fit used (map grid).
    #[serde(skip)]
    pub used: ndarray::Array3<bool>,
}

impl FullCalibration {
    /// How the phantom of the final basis (and so of the twin's fields) differs from the phantom file:
    /// the final offset, rotation and gel (see [`super::basis::PhantomAdjustment`]).
    pub fn phantom_adjustment(&self) -> super::basis::PhantomAdjustment {
        super::basis::PhantomAdjustment {
            offset_m: Some(self.final_offset_m),
            rotation_deg: Some(self.final_rotation_deg),
            sigma_s_per_m: Some(self.final_sigma_s_per_m),
            eps_r: Some(self.final_eps_r),
        }
    }
}

fn diff(a: &RegularField<Complex32>, b: &RegularField<Complex32>, ca: f32, cb: f32) -> Result<RegularField<Complex32>> {
    if a.data.dim() != b.data.dim() || a.origin_m != b.origin_m {
        return Err(Error::Other("twin fit: basis fields on different grids".into()));
    }
    let mut data = a.data.clone();
    ndarray::Zip::from(&mut data)
        .and(&b.data)
        .for_each(|x, &y| *x = *x * ca + y * cb);
    RegularField::new(data, a.origin_m, a.spacing_m)
}

/// Where the calibration's bases come from: the basis cache or FDTD runs, counted.
struct BasisSource<'a> {
    coil: &'a CoilConfig,
    sim: &'a SimulateOptions,
    cache: Option<&'a Path>,
    /// FDTD runs made (2 per ideal basis computed, the port runs of a co-simulation basis) and
    /// bases loaded from the cache.
    runs: usize,
    cached: usize,
}

impl BasisSource<'_> {
    /// The basis with phantom `ph` (None: the empty coil) moved by `offset_m`; logs `what`.
    fn get(
        &mut self,
        ph: Option<&PhantomConfig>,
        offset_m: [f64; 3],
        what: &str,
        log: &mut dyn FnMut(&str),
    ) -> Result<Basis> {
        log(&format!("basis: {what}"));
        let req = BasisRequest {
            coil: self.coil,
            phantom: ph,
            opt: self.sim,
            offset_m,
        };
        let (b, o) = cached_basis(&req, self.cache, None)?;
        match (o, &b.circuit) {
            (CacheOutcome::Hit(_), _) => self.cached += 1,
            // The co-simulation: the port runs it made (none on kept or cached ports).
            (_, Some(c)) => self.runs += c["fdtd_runs_made"].as_u64().unwrap_or(0) as usize,
            _ => self.runs += 2,
        }
        Ok::<Basis, Error>(b)
    }
}

/// Gel design coefficients per pattern `(a1, a2, c1)`: `q = q_0 + a1 s + a2 s^2 + c1 e`.
type GelDesign = Vec<(
    RegularField<Complex32>,
    RegularField<Complex32>,
    RegularField<Complex32>,
)>;
/// Placement sensitivities: per fitted placement parameter, one field per pattern.
type PlacementDesign = Vec<(usize, Vec<RegularField<Complex32>>)>;

/// What the joint model is built from at every basis point: the incident field, the gel and
/// placement design coefficients and the fixed geometry.
struct ModelParts {
    incident: Option<Basis>,
    gel: Option<GelDesign>,
    design_runs: bool,
    placement_design: PlacementDesign,
    gel_design: [f64; 4],
    cell_m: f64,
    centre_m: [f64; 3],
    reach_m: f64,
}

impl ModelParts {
    /// The phantom's contribution `q_0` of pattern `k` in basis `b` (full field minus incident).
    fn q0_of(&self, b: &Basis, k: usize) -> Result<RegularField<Complex32>> {
        match &self.incident {
            Some(inc) => diff(&b.fields[k], &inc.fields[k], 1.0, -1.0),
            None => Ok(b.fields[k].clone()),
        }
    }

    /// The joint model around basis `b`, computed at offset `base_t`, rotation `base_r` and gel
    /// point `base_se`.
    fn build(&self, b: &Basis, base_t: [f64; 3], base_r: [f64; 3], base_se: [f64; 2]) -> Result<JointModel> {
        let mut patterns = Vec::new();
        for k in 0..2 {
            let g = match &self.gel {
                Some(per) => {
                    let (a1, a2, c1) = &per[k];
                    // Re-centre the quadratic at s_b: a1 + 2 a2 s_b.
                    let a1c = diff(a1, a2, 1.0, 2.0 * base_se[0] as f32)?;
                    let cf = |f: RegularField<Complex32>| CoefField {
                        field: f,
                        base_offset_m: [0.0; 3],
                        base_rotation: [0.0; 3],
                    };
                    Some([cf(a1c), cf(a2.clone()), cf(c1.clone())])
                }
                None => None,
            };
            patterns.push(PatternModel {
                incident: self.incident.as_ref().map(|i| i.fields[k].clone()),
                q0: CoefField {
                    field: self.q0_of(b, k)?,
                    base_offset_m: base_t,
                    base_rotation: base_r,
                },
                gel: g,
                placement: self.design_runs.then(|| {
                    self.placement_design
                        .iter()
                        .map(|(p, per)| (*p, per[k].clone()))
                        .collect()
                }),
            });
        }
        Ok(JointModel {
            patterns,
            base_se,
            gel_design: self.gel_design,
            cell_m: self.cell_m,
            centre_m: self.centre_m,
            reach_m: self.reach_m,
        })
    }
}

/// Placement design runs: each fitted offset / rotation parameter moved by a quarter cell (the
/// rotation so that the phantom's farthest point moves a quarter cell), as finite-difference fields.
fn placement_design(
    src: &mut BasisSource,
    phantom: &PhantomConfig,
    nominal: &Basis,
    opt: &FullOptions,
    reach_m: f64,
    log: &mut dyn FnMut(&str),
) -> Result<PlacementDesign> {
    let mut placement_design: PlacementDesign = Vec::new();
    let step_t = 0.25 * src.sim.mesh.cell_m;
    let step_r = step_t / reach_m.max(1e-9);
    let mut params: Vec<usize> = Vec::new();
    if opt.joint.fit_offset {
        params.extend([3, 4, 5]);
    }
    if opt.joint.fit_rotation {
        params.extend([8, 9, 10]);
    }
    for p in params {
        let mut ph = phantom.clone();
        let mut t = [0.0; 3];
        let h = if p <= 5 {
            t[p - 3] = step_t;
            step_t
        } else {
            ph.rotation_deg[p - 8] += step_r.to_degrees();
            step_r
        };
        let (what, axis) = if p <= 5 { ("offset", p - 3) } else { ("rotation", p - 8) };
        let name = format!("{what} {}", ["x", "y", "z"][axis]);
        let b = src.get(Some(&ph), t, &format!("placement design: {name}"), log)?;
        let per: Vec<RegularField<Complex32>> = (0..2)
            .map(|k| diff(&b.fields[k], &nominal.fields[k], (1.0 / h) as f32, (-1.0 / h) as f32))
            .collect::<Result<_>>()?;
        placement_design.push((p, per));
    }
    Ok(placement_design)
}

/// Gel design coefficients (at offset 0) from the runs at sigma+, sigma- and eps+ (`with_gel(s, e)`
/// is the phantom at the design point).
fn gel_design(
    src: &mut BasisSource,
    with_gel: &dyn Fn(f64, f64) -> PhantomConfig,
    nominal: &Basis,
    log: &mut dyn FnMut(&str),
) -> Result<GelDesign> {
    let bp = src.get(Some(&with_gel(1.0, 0.0)), [0.0; 3], "gel design sigma+", log)?;
    let bm = src.get(Some(&with_gel(-1.0, 0.0)), [0.0; 3], "gel design sigma-", log)?;
    let be = src.get(Some(&with_gel(0.0, 1.0)), [0.0; 3], "gel design eps+", log)?;
    let mut per = Vec::new();
    for k in 0..2 {
        let a1 = diff(&bp.fields[k], &bm.fields[k], 0.5, -0.5)?;
        let sum = diff(&bp.fields[k], &bm.fields[k], 0.5, 0.5)?;
        let a2 = diff(&sum, &nominal.fields[k], 1.0, -1.0)?;
        let c1 = diff(&be.fields[k], &nominal.fields[k], 1.0, -1.0)?;
        per.push((a1, a2, c1));
    }
    Ok(per)
}

/// The start of the joint fit: a weights-only fit (phase retrieval + LM) at the nominal point.
fn weights_start(nominal: &Basis, samples: &Samples) -> Result<Params> {
    let bs: Vec<Vec<Complex64>> = (0..2)
        .map(|k| {
            samples
                .pts
                .iter()
                .map(|&p| {
                    let z = nominal.fields[k].sample(p);
                    Complex64::new(z.re as f64, z.im as f64) * 1e6
                })
                .collect()
        })
        .collect();
    let wf = fit_weights_magnitude(&bs, &samples.m)?;
    let mut start: Params = [0.0; 11];
    start[0] = wf.weights[0][0];
    start[1] = wf.weights[1][0];
    start[2] = wf.weights[1][1];
    Ok(start)
}

/// The outer step of fit `f` from the basis at `base` (offset, gel point, rotation), logged.
fn record_step(
    outer: usize,
    base: ([f64; 3], [f64; 2], [f64; 3]),
    f: &JointFit,
    [s0, ds, e0, de]: [f64; 4],
    log: &mut dyn FnMut(&str),
) -> OuterStep {
    let p = &f.params;
    let t = [p[3], p[4], p[5]];
    let r = [p[8], p[9], p[10]];
    let step = OuterStep {
        basis_offset_m: base.0,
        basis_rotation_deg: base.2.map(f64::to_degrees),
        basis_sigma_s_per_m: s0 + ds * base.1[0],
        basis_eps_r: e0 + de * base.1[1],
        offset_m: t,
        rotation_deg: r.map(f64::to_degrees),
        sigma_s_per_m: s0 + ds * p[6],
        eps_r: e0 + de * p[7],
        nrmse: f.nrmse,
    };
    log(&format!(
        "fit {}: offset ({:.2}, {:.2}, {:.2}) mm, rotation ({:.2}, {:.2}, {:.2}) deg, sigma {:.4} S/m, eps {:.2}, NRMSE {:.4}",
        outer,
        t[0] * 1e3,
        t[1] * 1e3,
        t[2] * 1e3,
        r[0].to_degrees(),
        r[1].to_degrees(),
        r[2].to_degrees(),
        s0 + ds * p[6],
        e0 + de * p[7],
        f.nrmse
    ));
    step
}

/// The next basis point after the fits `history` (last: `p`): the fit, or after three fits its Aitken
/// extrapolation (the fits of a placement oscillate towards the truth: the linear model's
/// sensitivities are those of the nominal point). Returns its offset, rotation, gel point, the
/// phantom there and which of the two it is.
fn next_point(
    history: &[Vec<f64>],
    p: &[f64],
    phantom: &PhantomConfig,
    [s0, ds, e0, de]: [f64; 4],
) -> ([f64; 3], [f64; 3], [f64; 2], PhantomConfig, &'static str) {
    let next = aitken(history).unwrap_or_else(|| p.to_vec());
    let (t, r, se) = (
        [next[3], next[4], next[5]],
        [next[8], next[9], next[10]],
        [next[6], next[7]],
    );
    let mut ph = shifted_gel(phantom, s0 + ds * se[0], e0 + de * se[1]);
    for a in 0..3 {
        ph.rotation_deg[a] += r[a].to_degrees();
    }
    let what = if history.len() >= 3 && next[..] != *p {
        "the extrapolated point"
    } else {
        "the fitted point"
    };
    (t, r, se, ph, what)
}

/// Calibrates the coil model to `map` (see the module documentation). Returns the calibration and the
/// final basis (for the twin's fields with the fitted weights).
#[allow(clippy::too_many_arguments)]
pub fn calibrate_full(
    coil: &CoilConfig,
    phantom: &PhantomConfig,
    map: &B1Map,
    placement: &Placement,
    sim: &SimulateOptions,
    opt: &FullOptions,
    cache: Option<&Path>,
    log: &mut dyn FnMut(&str),
) -> Result<(FullCalibration, Basis)> {
    let t0 = std::time::Instant::now();
    check_overlap(map, placement, phantom)?;
    let mut src = BasisSource {
        coil,
        sim,
        cache,
        runs: 0,
        cached: 0,
    };
    let (s0, e0) = (phantom.material.sigma_s_per_m, phantom.material.eps_r);
    let (ds, de) = (opt.gel_step[0] * s0, opt.gel_step[1] * e0);
    let with_gel = |s: f64, e: f64| {
        let mut p = phantom.clone();
        p.material.sigma_s_per_m = s0 + ds * s;
        p.material.eps_r = e0 + de * e;
        p
    };
    let nominal = src.get(Some(phantom), [0.0; 3], "nominal phantom", log)?;
    let design_runs =
        opt.placement_runs.unwrap_or(opt.joint.fit_rotation) && (opt.joint.fit_offset || opt.joint.fit_rotation);
    let half = phantom.size_m.map(|v| 0.5 * v);
    let reach_m = (half[0] * half[0] + half[1] * half[1] + half[2] * half[2]).sqrt();
    let placement_design = if design_runs {
        placement_design(&mut src, phantom, &nominal, opt, reach_m, log)?
    } else {
        Vec::new()
    };
    let incident = if opt.joint.fit_offset && !design_runs {
        Some(src.get(None, [0.0; 3], "empty coil (incident field)", log)?)
    } else {
        None
    };
    let gel = if opt.joint.fit_gel {
        Some(gel_design(&mut src, &with_gel, &nominal, log)?)
    } else {
        None
    };
    let parts = ModelParts {
        incident,
        gel,
        design_runs,
        placement_design,
        gel_design: [s0, ds, e0, de],
        cell_m: sim.mesh.cell_m,
        centre_m: phantom.centre_m(),
        reach_m,
    };

    let mut model = parts.build(&nominal, [0.0; 3], [0.0; 3], [0.0; 2])?;
    let auto = opt.auto_mask.as_ref();
    let mut samples = samples_at(map, placement, &model, phantom, auto, [0.0; 3], [0.0; 3])?;
    let mut start = weights_start(&nominal, &samples)?;
    let last_boot = opt.joint.bootstrap;
    let mut jopt = opt.joint.clone();
    // A rotation moves the phantom's ends by several quarter cells, beyond the linear model's
    // reach from the nominal point: three re-simulations, the last at the Aitken extrapolation of
    // the first three fits (they oscillate towards the truth).
    let max_outer = opt.max_outer.unwrap_or(if opt.joint.fit_rotation {
        3
    } else if opt.joint.fit_gel {
        1
    } else {
        2
    });
    let mut steps = Vec::new();
    let mut basis = nominal;
    let mut base = ([0.0; 3], [0.0; 2], [0.0; 3]);
    let mut outer = 0;
    let mut history: Vec<Vec<f64>> = Vec::new();
    let moves = opt.joint.fit_offset || opt.joint.fit_gel || opt.joint.fit_rotation;
    let mut fit = loop {
        let more_possible = moves && outer < max_outer;
        jopt.bootstrap = if more_possible { 0 } else { last_boot };
        let f = fit_joint(&model, &samples, &jopt, start)?;
        let p = &f.params;
        let t = [p[3], p[4], p[5]];
        let r = [p[8], p[9], p[10]];
        steps.push(record_step(outer, base, &f, parts.gel_design, log));
        let turn = (0..3).map(|a| (r[a] - base.2[a]).powi(2)).sum::<f64>().sqrt() * reach_m;
        let shift = (0..3).map(|a| (t[a] - base.0[a]).powi(2)).sum::<f64>().sqrt() + turn;
        let want = match opt.resimulate {
            Some(x) => x && moves,
            None => {
                opt.joint.fit_gel
                    || ((opt.joint.fit_offset || opt.joint.fit_rotation) && shift > 0.25 * sim.mesh.cell_m)
            }
        };
        if !want || outer >= max_outer {
            if jopt.bootstrap != last_boot && last_boot > 0 {
                // The last fit ran without the bootstrap (more iterations were possible): redo it.
                jopt.bootstrap = last_boot;
                break fit_joint(&model, &samples, &jopt, start)?;
            }
            break f;
        }
        outer += 1;
        history.push(p.clone());
        let (t, r, se, ph, what) = next_point(&history, p, phantom, parts.gel_design);
        basis = src.get(
            Some(&ph),
            t,
            &format!("outer iteration {outer}: phantom at {what}"),
            log,
        )?;
        base = (t, se, r);
        model = parts.build(&basis, t, r, se)?;
        if auto.is_some() {
            // The automatic mask follows the phantom to the new basis point.
            samples = samples_at(map, placement, &model, phantom, auto, t, r)?;
        }
        start.copy_from_slice(&p[..11]);
    };
    flag_drift(&mut fit, &steps);
    let measured = to_volume(&samples, &samples.m);
    let simulated = to_volume(&samples, &fit.fitted);
    let mut used = ndarray::Array3::from_elem(samples.dims, false);
    for &p in &samples.idx {
        used[p] = true;
    }
    Ok((
        FullCalibration {
            fit,
            steps,
            fdtd_runs: src.runs,
            cached_bases: src.cached,
            seconds: t0.elapsed().as_secs_f64(),
            final_offset_m: base.0,
            final_rotation_deg: base.2.map(f64::to_degrees),
            final_sigma_s_per_m: s0 + ds * base.1[0],
            final_eps_r: e0 + de * base.1[1],
            measured,
            simulated,
            used,
        },
        basis,
    ))
}

/// Aitken's delta-squared extrapolation of the last three fits, per moving parameter (offset, gel,
/// rotation: indices 3..=10), where the sequence converges (|ratio of successive moves| < 0.9); the
/// last fit elsewhere. None with fewer than three fits.
fn aitken(history: &[Vec<f64>]) -> Option<Vec<f64>> {
    let n = history.len();
    if n < 3 {
        return None;
    }
    let (x0, x1, x2) = (&history[n - 3], &history[n - 2], &history[n - 1]);
    let mut out = x2.clone();
    for j in 3..=10 {
        let (d1, d2) = (x1[j] - x0[j], x2[j] - x1[j]);
        if d1.abs() > 1e-15 {
            let ratio = d2 / d1;
            if ratio.abs() < 0.9 {
                out[j] = x2[j] + d2 * ratio / (1.0 - ratio);
            }
        }
    }
    Some(out)
}

/// The intervals come from the linearised model around the last basis point; when the final fit
/// lies further from that point than half its 95 % interval, the model's own error there (the
/// linearisation) is not in the interval, and the parameter is flagged as not determined to within
/// its interval.
fn flag_drift(fit: &mut JointFit, steps: &[OuterStep]) {
    let Some(last) = steps.last() else { return };
    if steps.len() < 2 {
        return;
    }
    let mut add = |name: &str, e: &super::joint::Estimate, moved: f64| {
        let half = 0.5 * (e.ci95[1] - e.ci95[0]);
        if moved.abs() > half && !fit.unidentifiable.iter().any(|u| u == name) {
            fit.unidentifiable.push(name.to_string());
        }
    };
    if let Some(o) = fit.offset_m.clone() {
        for (k, name) in ["offset_x", "offset_y", "offset_z"].iter().enumerate() {
            add(name, &o[k], last.offset_m[k] - last.basis_offset_m[k]);
        }
    }
    if let Some(o) = fit.rotation_deg.clone() {
        for (k, name) in ["rotation_x", "rotation_y", "rotation_z"].iter().enumerate() {
            add(name, &o[k], last.rotation_deg[k] - last.basis_rotation_deg[k]);
        }
    }
}

fn shifted_gel(p: &PhantomConfig, sigma: f64, eps: f64) -> PhantomConfig {
    let mut q = p.clone();
    q.material.sigma_s_per_m = sigma;
    q.material.eps_r = eps.max(1.0);
    q
}

/// Fails fast (before any FDTD run) when no usable voxel of the map lies inside the phantom.
pub fn check_overlap(map: &B1Map, placement: &Placement, phantom: &PhantomConfig) -> Result<()> {
    let to_sim = placement.world_to_sim.compose(&map.affine);
    let shape = phantom.shape();
    let inside = map
        .valid()
        .indexed_iter()
        .filter(|(_, v)| **v)
        .any(|((i, j, k), _)| shape.contains(to_sim.apply([i as f64, j as f64, k as f64])));
    if !inside {
        let c = to_sim.apply([0.0; 3]);
        return Err(Error::input(
            &map.source,
            "affine/mask",
            format!(
                "no valid voxel of the map (or its mask) lies inside the phantom {} (voxel (0,0,0) is at ({:.3}, {:.3}, {:.3}) m in the coil frame)",
                phantom.source_name, c[0], c[1], c[2]
            ),
            "check the map's affine and frame (a map in patient coordinates: --patient-position and --table-position-m; \
             one already in the coil frame: --frame coil; docs/b1-maps.md), the mask, and the phantom's position",
        ));
    }
    Ok(())
}
