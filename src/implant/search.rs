//! Worst-case search: sweep the implant over positions (a grid over the gel, keeping the wall
//! margin), orientations (6, 14 or 26 directions) and, for leads, path variants (roll angles about
//! the lead's axis), and rank the placements by the transfer-function tip estimate
//! |E_tip|² = |∫ S(l) E_tan(l) dl|² in the coil's incident field (or by the calibrated ΔT / SAR).
//! Placements are evaluated in parallel (rayon) and ranked by value, ties by index, so the result
//! does not depend on the thread count.
//!
//! Confirming the top candidates with full fine-grid runs and a thermal solve needs the TF/SF box
//! of `fdtd::tfsf`; [`confirm_top`] is its place (not implemented yet).

use ndarray::Array2;
use num_complex::{Complex32, Complex64};
use rayon::prelude::*;
use serde::Serialize;

use super::model::Implant;
use super::placement::{place, Placement};
use super::tf::{IncidentE, TransferFunction};
use crate::b1::coil_maps::CoilFields;
use crate::b1::RegularField;
use crate::coil::phantom::PhantomConfig;
use crate::error::{Error, Result};

/// The coil's E field (cell-centre phasors of [`CoilFields`]) as an incident field: trilinear
/// interpolation of each component, times `scale` (e.g. [`CoilFields::per_watt`] or
/// `per_microtesla`). NaN outside the sampled box.
pub struct CoilFieldSampler {
    comps: [RegularField<Complex32>; 3],
    scale: f64,
}

impl CoilFieldSampler {
    pub fn new(fields: &CoilFields, scale: f64) -> Result<Self> {
        let g = &fields.e_grid;
        let mk = |c: usize| RegularField::new(fields.e[c].clone(), g.origin_m, g.spacing_m);
        Ok(Self {
            comps: [mk(0)?, mk(1)?, mk(2)?],
            scale,
        })
    }
}

impl IncidentE for CoilFieldSampler {
    fn e(&self, p_m: [f64; 3]) -> [Complex64; 3] {
        [0, 1, 2].map(|c| {
            let v = self.comps[c].sample(p_m);
            Complex64::new(v.re as f64, v.im as f64) * self.scale
        })
    }
}

/// Unit directions: 6 (±axes), 14 (+ the 8 body diagonals) or 26 (+ the 12 face diagonals).
pub fn directions(n: usize) -> Result<Vec<[f64; 3]>> {
    let mut out = Vec::new();
    for a in 0..3 {
        for s in [1.0, -1.0] {
            let mut d = [0.0; 3];
            d[a] = s;
            out.push(d);
        }
    }
    if n >= 14 {
        let r = 1.0 / 3f64.sqrt();
        for sx in [1.0, -1.0] {
            for sy in [1.0, -1.0] {
                for sz in [1.0, -1.0] {
                    out.push([sx * r, sy * r, sz * r]);
                }
            }
        }
    }
    if n >= 26 {
        let r = std::f64::consts::FRAC_1_SQRT_2;
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            for sa in [1.0, -1.0] {
                for sb in [1.0, -1.0] {
                    let mut d = [0.0; 3];
                    d[a] = sa * r;
                    d[b] = sb * r;
                    out.push(d);
                }
            }
        }
    }
    if ![6, 14, 26].contains(&n) {
        return Err(Error::input(
            "search",
            "directions",
            format!("{n} directions"),
            "use 6, 14 or 26",
        ));
    }
    Ok(out)
}

/// What to sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SearchOptions {
    /// Position grid step per axis (m), phantom frame.
    pub step_m: [f64; 3],
    /// 6, 14 or 26 directions.
    pub directions: usize,
    /// Roll angles about the lead axis (path variants of a non-straight lead), degrees.
    pub roll_deg: Vec<f64>,
    pub min_wall_distance_m: f64,
    /// How many candidates to keep in the ranking.
    pub top: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            step_m: [0.02, 0.02, 0.02],
            directions: 14,
            roll_deg: vec![0.0],
            min_wall_distance_m: super::placement::DEFAULT_MIN_WALL_DISTANCE_M,
            top: 20,
        }
    }
}

/// One evaluated placement.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    pub index: usize,
    /// Implant origin in the phantom frame (m).
    pub position_m: [f64; 3],
    pub direction: [f64; 3],
    pub roll_deg: f64,
    /// |E_tip| (V/m) and its phase (rad).
    pub e_tip_v_per_m: f64,
    pub e_tip_phase_rad: f64,
    /// A |E_tip|² when the transfer function is calibrated.
    pub estimate: Option<f64>,
}

/// The ranked sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SearchResult {
    pub implant: String,
    pub estimate_quantity: Option<String>,
    /// Placements tried, evaluated (inside the gel with the margin) and rejected.
    pub tried: usize,
    pub evaluated: usize,
    pub rejected: usize,
    pub seconds: f64,
    /// The best `top` candidates, highest first.
    pub ranking: Vec<Candidate>,
    /// Position grid (phantom frame): origin, step and counts per axis.
    pub grid_origin_m: [f64; 3],
    pub grid_step_m: [f64; 3],
    pub grid_dims: [usize; 3],
    /// Max over y, orientations and variants of |E_tip|² (or the estimate) per (x, z) grid
    /// position, `[ix][iz]`; NaN where nothing fitted.
    #[serde(skip)]
    pub map_xz: Array2<f32>,
}

/// Sweeps the placements of `implant` in `phantom` and ranks them by the tip estimate of `tf`
/// in `field`.
pub fn search(
    implant: &Implant,
    phantom: &PhantomConfig,
    tf: &TransferFunction,
    field: &dyn IncidentE,
    opt: &SearchOptions,
) -> Result<SearchResult> {
    let t0 = std::time::Instant::now();
    if opt.step_m.iter().any(|s| !(*s > 0.0)) {
        return Err(Error::input("search", "step_m", "step must be > 0", "e.g. 0.02"));
    }
    let dirs = directions(opt.directions)?;
    let rolls = if opt.roll_deg.is_empty() {
        vec![0.0]
    } else {
        opt.roll_deg.clone()
    };
    // Position grid over the phantom's bounding box shrunk by the margin, centred.
    let half = phantom.size_m.map(|s| 0.5 * s - opt.min_wall_distance_m);
    let mut dims = [1usize; 3];
    let mut origin = [0.0; 3];
    for a in 0..3 {
        if half[a] > 0.0 {
            let n = (2.0 * half[a] / opt.step_m[a]).floor() as usize;
            dims[a] = n + 1;
            origin[a] = -0.5 * n as f64 * opt.step_m[a];
        }
    }
    let np = dims[0] * dims[1] * dims[2];
    let per_pos = dirs.len() * rolls.len();
    let total = np * per_pos;
    let results: Vec<Option<(Candidate, f64)>> = (0..total)
        .into_par_iter()
        .map(|idx| {
            let ip = idx / per_pos;
            let r = idx % per_pos;
            let (id, ir) = (r / rolls.len(), r % rolls.len());
            let ix = ip / (dims[1] * dims[2]);
            let iy = (ip / dims[2]) % dims[1];
            let iz = ip % dims[2];
            let pos = [
                origin[0] + ix as f64 * opt.step_m[0],
                origin[1] + iy as f64 * opt.step_m[1],
                origin[2] + iz as f64 * opt.step_m[2],
            ];
            let mut pl = Placement::new("search", pos, dirs[id], rolls[ir]).ok()?;
            pl.min_wall_distance_m = opt.min_wall_distance_m;
            let placed = place(implant, phantom, &pl).ok()?;
            let e = tf.tip_estimate(&placed.path_m, field).ok()?;
            let est = tf.predict(e);
            let value = est.unwrap_or(e.norm_sqr());
            Some((
                Candidate {
                    index: idx,
                    position_m: pos,
                    direction: dirs[id],
                    roll_deg: rolls[ir],
                    e_tip_v_per_m: e.norm(),
                    e_tip_phase_rad: e.arg(),
                    estimate: est,
                },
                value,
            ))
        })
        .collect();
    let mut map = Array2::<f32>::from_elem((dims[0], dims[2]), f32::NAN);
    let mut ok: Vec<(Candidate, f64)> = Vec::new();
    for (idx, r) in results.into_iter().enumerate() {
        if let Some((c, v)) = r {
            let ip = idx / per_pos;
            let ix = ip / (dims[1] * dims[2]);
            let iz = ip % dims[2];
            let m = &mut map[[ix, iz]];
            if m.is_nan() || (v as f32) > *m {
                *m = v as f32;
            }
            ok.push((c, v));
        }
    }
    let evaluated = ok.len();
    if evaluated == 0 {
        return Err(Error::input(
            &implant.source_name,
            "length_m",
            format!(
                "no placement of {} fits in {} with a {:.3} m wall margin at step {:?} m",
                implant.name, phantom.name, opt.min_wall_distance_m, opt.step_m
            ),
            "use a smaller margin, a finer step or a shorter implant",
        ));
    }
    ok.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.index.cmp(&b.0.index)));
    let ranking = ok.into_iter().take(opt.top).map(|(c, _)| c).collect();
    Ok(SearchResult {
        implant: implant.name.clone(),
        estimate_quantity: tf.calibration.as_ref().map(|c| c.quantity.clone()),
        tried: total,
        evaluated,
        rejected: total - evaluated,
        seconds: t0.elapsed().as_secs_f64(),
        ranking,
        grid_origin_m: origin,
        grid_step_m: opt.step_m,
        grid_dims: dims,
        map_xz: map,
    })
}

/// Writes the heating map (max over y, orientations and variants per (x, z) position) as a PNG.
pub fn write_map_png(result: &SearchResult, path: &std::path::Path) -> Result<()> {
    let unit = match &result.estimate_quantity {
        Some(q) => q.clone(),
        None => "|E_tip|² (V²/m²)".into(),
    };
    let map = crate::plot::SliceMap::new(
        result.map_xz.view(),
        [result.grid_origin_m[0], result.grid_origin_m[2]],
        [result.grid_step_m[0], result.grid_step_m[2]],
    )
    .axis_names("x", "z")
    .title(format!(
        "{}: worst case over y and orientation ({} placements)",
        result.implant, result.evaluated
    ))
    .unit(unit)
    .colormap(crate::plot::Colormap::Inferno)
    .mark_peak("max");
    crate::plot::slice_map(path, &map)
}

/// Confirms the top candidates with full fine-grid runs (TF/SF box driven by the coil field) and a
/// Pennes thermal solve, returning the direct tip ΔT (K) per candidate. Needs `fdtd::tfsf`, which
/// is not in the tree yet: returns an error saying so.
pub fn confirm_top(
    _implant: &Implant,
    _phantom: &PhantomConfig,
    _field: &dyn IncidentE,
    _candidates: &[Candidate],
) -> Result<Vec<f64>> {
    Err(Error::Other(
        "confirming candidates needs the TF/SF fine-grid box (fdtd::tfsf), not available yet".into(),
    ))
}

/// Benchmark of the sweep: a 200 mm bare wire (analytic TF, 100 samples) in the ASTM F2182 gel box,
/// 2 cm position grid, 14 directions, in a birdcage-like field (E_z ∝ x, E_x ∝ z); the time is for
/// the whole sweep and the rate is per evaluated placement (target: 1000 in <= 10 s).
pub fn bench_search() -> Result<crate::dosimetry::bench::BenchTiming> {
    let phantom =
        PhantomConfig::from_toml_str(include_str!("../../phantoms/astm_f2182.toml"), "astm_f2182 (built in)")?;
    let implant = Implant::from_toml_str(
        include_str!("../../phantoms/implants/bare_ti_wire_200mm.toml"),
        "bare_ti_wire_200mm (built in)",
    )?;
    let tf = TransferFunction::analytic_bare_wire(0.2, 100, 63.87e6, 80.0, 0.47);
    let field = |p: [f64; 3]| {
        [
            Complex64::new(20.0 * p[2], 0.0),
            Complex64::new(0.0, 0.0),
            Complex64::new(100.0 * p[0], 30.0 * p[0]),
        ]
    };
    let opt = SearchOptions::default();
    let t0 = std::time::Instant::now();
    let r = search(&implant, &phantom, &tf, &field, &opt)?;
    let seconds = t0.elapsed().as_secs_f64();
    Ok(crate::dosimetry::bench::BenchTiming {
        name: "implant search".into(),
        voxels: r.evaluated,
        seconds,
        threads: rayon::current_num_threads(),
        detail: format!(
            "{} placements tried, {} evaluated (inside the gel with a 2 cm margin): {:.3} s per 1000 evaluated (target <= 10 s)",
            r.tried,
            r.evaluated,
            1000.0 * seconds / r.evaluated.max(1) as f64
        ),
    })
}
