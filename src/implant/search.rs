//! Worst-case search: sweep the implant over positions (a grid over the gel, keeping the wall
//! margin), orientations (6, 14 or 26 directions) and, for leads, path variants (roll angles about
//! the lead's axis), and rank the placements by the transfer-function tip estimate
//! |E_tip|² = |∫ S(l) E_tan(l) dl|² in the coil's incident field (or by the calibrated ΔT / SAR).
//! Placements are evaluated in parallel (rayon) and ranked by value, ties by index, so the result
//! does not depend on the thread count.
//!
//! [`confirm_top`] then confirms the best candidates with full fine-grid runs (a TF/SF box driven by
//! the coil's E and H, `implant::local`) and a Pennes exposure, and says how well the estimate's
//! ranking held (Spearman correlation, spread of the implied calibration constant).

use ndarray::Array2;
use num_complex::Complex64;
use rayon::prelude::*;
use serde::Serialize;

use super::model::Implant;
use super::placement::{place, Placement};
use super::tf::{IncidentE, TransferFunction};
use crate::coil::phantom::PhantomConfig;
use crate::error::{Error, Result};

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
    /// Merge mirror-image candidates: a placement that is the image of a better-ranked one under a
    /// reflection of the phantom frame (x → −x, y → −y, z → −z, or a combination; the ASTM box and a
    /// birdcage share these planes) is listed as its "equivalent" instead of taking a rank, when its
    /// ranking value agrees within `mirror_tolerance` (relative). Geometry alone is not trusted: a
    /// mirror image whose value differs more keeps its own rank.
    pub merge_mirrors: bool,
    /// Relative agreement of the ranking values for a mirror image to count as equivalent.
    pub mirror_tolerance: f64,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            step_m: [0.02, 0.02, 0.02],
            directions: 14,
            roll_deg: vec![0.0],
            min_wall_distance_m: super::placement::DEFAULT_MIN_WALL_DISTANCE_M,
            top: 20,
            merge_mirrors: true,
            mirror_tolerance: DEFAULT_MIRROR_TOLERANCE,
        }
    }
}

/// Default relative agreement of a mirror image's ranking value with its original (2 %: the
/// quadrature field in a loaded coil is not exactly mirror symmetric, B1+ and B1− differ).
pub const DEFAULT_MIRROR_TOLERANCE: f64 = 0.02;

/// A mirror image of a ranked candidate, merged into it.
#[derive(Clone, Debug, Serialize)]
pub struct Equivalent {
    pub index: usize,
    pub position_m: [f64; 3],
    pub direction: [f64; 3],
    /// Which axes are reflected (x, y, z).
    pub reflected: [bool; 3],
    /// Its ranking value (|E_tip|² or the calibrated estimate).
    pub value: f64,
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
    /// Mirror images merged into this candidate ([`SearchOptions::merge_mirrors`]).
    pub equivalent: Vec<Equivalent>,
}

impl Candidate {
    /// The value the search ranks by: the calibrated estimate, else |E_tip|².
    pub fn value(&self) -> f64 {
        self.estimate.unwrap_or(self.e_tip_v_per_m * self.e_tip_v_per_m)
    }
}

/// The reflection (axes flipped, not all false) that maps placement `a` onto `b` (positions within
/// `tol_m`, directions within 1e-9, the same roll), if any.
pub fn mirror_of(a: &Candidate, b: &Candidate, tol_m: f64) -> Option<[bool; 3]> {
    if (a.roll_deg - b.roll_deg).abs() > 1e-9 {
        return None;
    }
    for m in 1..8u8 {
        let f = [m & 1 != 0, m & 2 != 0, m & 4 != 0];
        let s = f.map(|x| if x { -1.0 } else { 1.0 });
        let ok = (0..3).all(|i| {
            (s[i] * a.position_m[i] - b.position_m[i]).abs() <= tol_m
                && (s[i] * a.direction[i] - b.direction[i]).abs() <= 1e-9
        });
        if ok {
            return Some(f);
        }
    }
    None
}

/// Keeps the first `top` candidates of `sorted` (highest value first) that are not mirror images of
/// a kept one with a value within `tol` (relative); the images are listed in the kept candidate's
/// `equivalent`. Candidates after the last kept one are still scanned while their value is within
/// `tol` of it, so its images are listed too.
pub fn merge_mirror_images(sorted: Vec<(Candidate, f64)>, top: usize, tol: f64, tol_m: f64) -> Vec<Candidate> {
    let mut kept: Vec<(Candidate, f64)> = Vec::new();
    for (c, v) in sorted {
        if kept.len() >= top {
            let last = kept.last().map(|k| k.1).unwrap_or(0.0);
            if v < last * (1.0 - tol) {
                break;
            }
        }
        let close = |kv: f64| (kv - v).abs() <= tol * kv.abs().max(v.abs());
        if let Some((k, f)) = kept
            .iter_mut()
            .filter(|(_, kv)| close(*kv))
            .find_map(|(k, _)| mirror_of(k, &c, tol_m).map(|f| (k, f)))
        {
            k.equivalent.push(Equivalent {
                index: c.index,
                position_m: c.position_m,
                direction: c.direction,
                reflected: f,
                value: v,
            });
        } else if kept.len() < top {
            kept.push((c, v));
        }
    }
    kept.into_iter().map(|(c, _)| c).collect()
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

/// The most candidate placements one search evaluates (about a minute of estimates on a few
/// cores); a finer step is refused before anything is allocated.
pub const MAX_CANDIDATES: u64 = 20_000_000;

/// The position counts per axis of a search over `phantom` at `opt.step_m`, refused (exit 2, naming
/// `--step-mm` and a step that fits) when the candidates (`per_pos` orientations per position)
/// exceed [`MAX_CANDIDATES`] or their list the memory available. Counted in f64: a tiny step is a
/// refusal, never a huge allocation. Cheap: commands call it before their FDTD runs.
pub fn check_candidates(phantom: &PhantomConfig, opt: &SearchOptions, per_pos: usize) -> Result<[f64; 3]> {
    if opt.step_m.iter().any(|s| !(*s > 0.0) || !s.is_finite()) {
        return Err(Error::input("search", "step_m (--step-mm)", "step must be > 0", "e.g. 20 mm"));
    }
    let half = phantom.size_m.map(|s| 0.5 * s - opt.min_wall_distance_m);
    let mut counts = [1.0f64; 3];
    for a in 0..3 {
        if half[a] > 0.0 {
            counts[a] = (2.0 * half[a] / opt.step_m[a]).floor() + 1.0;
        }
    }
    let total_f = counts.iter().product::<f64>() * per_pos as f64;
    let per_candidate = 2 * std::mem::size_of::<Option<(Candidate, f64)>>() as u64;
    let fits = |n: f64| {
        n <= MAX_CANDIDATES as f64
            && crate::resources::available()
                .ok()
                .flatten()
                .is_none_or(|a| n * per_candidate as f64 <= a.bytes as f64)
    };
    if !fits(total_f) {
        let varying = counts.iter().filter(|c| **c > 1.0).count().max(1) as i32;
        let mut cap = MAX_CANDIDATES as f64;
        if let Ok(Some(a)) = crate::resources::available() {
            cap = cap.min(a.bytes as f64 / per_candidate as f64);
        }
        let grow = (total_f / cap * 1.1).powf(1.0 / varying as f64);
        let step_mm = crate::resources::fmt_sig(crate::resources::round_up(opt.step_m.iter().copied().fold(0.0, f64::max) * grow * 1e3));
        return Err(Error::input(
            "search",
            "step_m (--step-mm)",
            format!(
                "a step of {:?} mm makes {total_f:.3e} candidates ({per_pos} orientations per position), over the limit of {cap:.3e} (at most {MAX_CANDIDATES}, and their list must fit in memory)",
                opt.step_m.map(|s| s * 1e3)
            ),
            format!("use --step-mm {step_mm} or more (or fewer --directions / roll angles)"),
        ));
    }
    Ok(counts)
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
    if opt.step_m.iter().any(|s| !(*s > 0.0) || !s.is_finite()) {
        return Err(Error::input(
            "search",
            "step_m",
            "step must be > 0 and finite",
            "e.g. 0.02",
        ));
    }
    if !(opt.min_wall_distance_m >= 0.0) || !opt.min_wall_distance_m.is_finite() {
        return Err(Error::input(
            "search",
            "min_wall_distance_m",
            format!("{} m is not a finite distance >= 0", opt.min_wall_distance_m),
            "give the smallest distance to the walls in metres, e.g. 0.02",
        ));
    }
    if let Some(r) = opt.roll_deg.iter().find(|r| !r.is_finite()) {
        return Err(Error::input(
            "search",
            "roll_deg",
            format!("roll angle {r} is not finite"),
            "give angles in degrees, e.g. 0,90",
        ));
    }
    let dirs = directions(opt.directions)?;
    let rolls = if opt.roll_deg.is_empty() {
        vec![0.0]
    } else {
        opt.roll_deg.clone()
    };
    // Position grid over the phantom's bounding box shrunk by the margin, centred.
    let half = phantom.size_m.map(|s| 0.5 * s - opt.min_wall_distance_m);
    let counts = check_candidates(phantom, opt, dirs.len() * rolls.len())?;
    let per_pos = dirs.len() * rolls.len();
    let mut dims = [1usize; 3];
    let mut origin = [0.0; 3];
    for a in 0..3 {
        let n = counts[a] as usize - 1;
        dims[a] = n + 1;
        origin[a] = if half[a] > 0.0 { -0.5 * n as f64 * opt.step_m[a] } else { 0.0 };
    }
    let np = dims[0] * dims[1] * dims[2];
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
                    equivalent: Vec::new(),
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
    let ranking = if opt.merge_mirrors {
        let tol_m = 1e-6 * opt.step_m.iter().cloned().fold(0.0, f64::max);
        merge_mirror_images(ok, opt.top, opt.mirror_tolerance.max(0.0), tol_m)
    } else {
        ok.into_iter().take(opt.top).map(|(c, _)| c).collect()
    };
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

/// Writes `search.h5`: dataset `map_xz` (the heating map of [`write_map_png`], `[ix][iz]`, NaN where
/// nothing fitted, attributes `origin_m` and `spacing_m` of its x and z axes), and the ranking as
/// `ranking/position_m` (n x 3), `ranking/direction` (n x 3), `ranking/roll_deg`,
/// `ranking/e_tip_v_per_m`, `ranking/e_tip_phase_rad`, and with a confirmation
/// `confirmation/tip_delta_t_k`, `confirmation/tip_sar_1g_w_per_kg` (in estimate order).
pub fn write_search_h5(result: &SearchResult, confirm: Option<&ConfirmResult>, path: &std::path::Path) -> Result<()> {
    use ndarray::{Array1, Array2};
    let h5 = |e: hdf5::Error| crate::error::write_error(path, e);
    let file = hdf5::File::create(path).map_err(h5)?;
    let ds = file
        .new_dataset_builder()
        .with_data(&result.map_xz)
        .create("map_xz")
        .map_err(h5)?;
    for (name, v) in [
        ("origin_m", [result.grid_origin_m[0], result.grid_origin_m[2]]),
        ("spacing_m", [result.grid_step_m[0], result.grid_step_m[2]]),
    ] {
        ds.new_attr::<f64>()
            .shape([2])
            .create(name)
            .and_then(|a| a.write(&Array1::from(v.to_vec())))
            .map_err(h5)?;
    }
    let r = &result.ranking;
    let g = file.create_group("ranking").map_err(h5)?;
    let n = r.len();
    let mut pos = Array2::<f64>::zeros((n, 3));
    let mut dir = Array2::<f64>::zeros((n, 3));
    for (i, c) in r.iter().enumerate() {
        for a in 0..3 {
            pos[[i, a]] = c.position_m[a];
            dir[[i, a]] = c.direction[a];
        }
    }
    g.new_dataset_builder()
        .with_data(&pos)
        .create("position_m")
        .map_err(h5)?;
    g.new_dataset_builder()
        .with_data(&dir)
        .create("direction")
        .map_err(h5)?;
    for (name, v) in [
        ("roll_deg", r.iter().map(|c| c.roll_deg).collect::<Vec<_>>()),
        ("e_tip_v_per_m", r.iter().map(|c| c.e_tip_v_per_m).collect()),
        ("e_tip_phase_rad", r.iter().map(|c| c.e_tip_phase_rad).collect()),
    ] {
        g.new_dataset_builder()
            .with_data(&Array1::from(v))
            .create(name)
            .map_err(h5)?;
    }
    if let Some(c) = confirm {
        let g = file.create_group("confirmation").map_err(h5)?;
        for (name, v) in [
            (
                "tip_delta_t_k",
                c.confirmations.iter().map(|x| x.tip_delta_t_k).collect::<Vec<_>>(),
            ),
            (
                "tip_sar_1g_w_per_kg",
                c.confirmations.iter().map(|x| x.tip_sar_1g_w_per_kg).collect(),
            ),
        ] {
            g.new_dataset_builder()
                .with_data(&Array1::from(v))
                .create(name)
                .map_err(h5)?;
        }
    }
    file.flush().map_err(h5)
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

/// Settings of the confirmation runs (full fine-grid FDTD + Pennes heating per candidate).
#[derive(Clone, Debug, Serialize)]
pub struct ConfirmOptions {
    /// How many of the best-ranked candidates to confirm.
    pub count: usize,
    /// Fine FDTD cell (m).
    pub cell_m: f64,
    /// Gel margin around the implant inside the total-field box (m).
    pub pad_m: f64,
    /// Exposure (s); ASTM F2182: 900 s.
    pub exposure_s: f64,
    /// Thermal time step (s).
    pub thermal_dt_s: f64,
    /// Baseline (initial) temperature (°C) the CEM43 starts from (the temperature rise does not
    /// depend on it); 37 °C as in `assess` unless set.
    pub initial_temperature_c: f64,
    /// The tip 1 g SAR is the largest 1 g average over the voxels within this distance of the tip (m).
    pub tip_radius_m: f64,
}

impl Default for ConfirmOptions {
    fn default() -> Self {
        Self {
            count: 3,
            cell_m: 0.002,
            pad_m: 0.02,
            exposure_s: 900.0,
            thermal_dt_s: 5.0,
            initial_temperature_c: 37.0,
            tip_radius_m: 0.01,
        }
    }
}

/// A candidate confirmed by a full fine-grid run and a thermal solve.
#[derive(Clone, Debug, Serialize)]
pub struct Confirmation {
    pub candidate: Candidate,
    /// Rank by the transfer-function estimate (1 = worst case), and by the direct tip rise.
    pub estimate_rank: usize,
    pub direct_rank: usize,
    /// The value the search ranked by (|E_tip|², or the calibrated estimate).
    pub estimate_value: f64,
    /// Largest 1 g SAR within `tip_radius_m` of the tip, and anywhere in the box (W/kg).
    pub tip_sar_1g_w_per_kg: f64,
    pub peak_sar_1g_w_per_kg: f64,
    pub peak_sar_10g_w_per_kg: f64,
    pub peak_point_sar_w_per_kg: f64,
    /// Temperature rise at the tip after the exposure (K), with the implant and with it removed.
    pub tip_delta_t_k: f64,
    pub tip_delta_t_background_k: f64,
    /// Largest rise anywhere in the box (K).
    pub max_delta_t_k: f64,
    /// Largest CEM43 at the end probes (tip and far end), from the baseline temperature (min).
    pub cem43_min: f64,
    /// Where the implant's conductor ends are (phantom frame, m): tip first.
    pub tip_m: [f64; 3],
    /// `tip_delta_t_k / |E_tip|²` (K m²/V²): the calibration constant A this run implies.
    pub implied_a_k_m2_per_v2: f64,
    pub fdtd_periods: usize,
    pub fdtd_seconds: f64,
    pub thermal_seconds: f64,
}

/// The confirmations and how well the transfer-function ranking held.
#[derive(Clone, Debug, Serialize)]
pub struct ConfirmResult {
    pub options: ConfirmOptions,
    /// In estimate order (as ranked by the search).
    pub confirmations: Vec<Confirmation>,
    /// Spearman rank correlation between the estimate and the direct tip rise (`None` below 3
    /// candidates).
    pub spearman: Option<f64>,
    /// Index (into `confirmations`) of the direct worst case (largest tip rise).
    pub worst: usize,
    /// Largest / smallest implied A over the candidates: 1 when the transfer function predicts the
    /// direct rise up to one constant.
    pub implied_a_spread: f64,
    pub seconds: f64,
}

/// Ranks of `v` (1 = largest), ties by order.
fn ranks_desc(v: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    let mut r = vec![0; v.len()];
    for (k, &i) in idx.iter().enumerate() {
        r[i] = k + 1;
    }
    r
}

/// Spearman rank correlation of two equally long series (no ties assumed beyond order).
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len();
    if n < 3 || b.len() != n {
        return None;
    }
    let (ra, rb) = (ranks_desc(a), ranks_desc(b));
    let d2: f64 = ra.iter().zip(&rb).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
    let nf = n as f64;
    Some(1.0 - 6.0 * d2 / (nf * (nf * nf - 1.0)))
}

/// Confirms the best `opt.count` candidates of a search: for each, the implant is placed, a fine-grid
/// FDTD box around it is driven by `incident` (the coil field, E and H, through a TF/SF surface;
/// [`super::local::run_local`]), point, 1 g and 10 g SAR are formed with and without the implant, and
/// a Pennes exposure gives the tip temperature rise. Runs one candidate after the other (each run is
/// parallel inside), so the result does not depend on the thread count. `log` gets one line per stage.
pub fn confirm_top(
    implant: &Implant,
    phantom: &PhantomConfig,
    incident: std::sync::Arc<dyn crate::fdtd::IncidentField>,
    candidates: &[Candidate],
    opt: &ConfirmOptions,
    log: &mut dyn FnMut(&str),
) -> Result<ConfirmResult> {
    use super::local::{run_local, LocalOptions};
    use crate::dosimetry::thermal::ThermalSettings;
    let t0 = std::time::Instant::now();
    if candidates.is_empty() || opt.count == 0 {
        return Err(Error::input(
            "search",
            "confirm",
            "nothing to confirm",
            "run the search first and confirm at least one candidate",
        ));
    }
    if !(opt.cell_m > 0.0) || !(opt.exposure_s > 0.0) || !(opt.thermal_dt_s > 0.0) || !(opt.tip_radius_m >= 0.0) {
        return Err(Error::input(
            "search",
            "confirm",
            format!(
                "cell {} m, exposure {} s, thermal step {} s, tip radius {} m",
                opt.cell_m, opt.exposure_s, opt.thermal_dt_s, opt.tip_radius_m
            ),
            "give a cell, exposure and time step > 0 and a tip radius >= 0",
        ));
    }
    let lopt = LocalOptions {
        cell_m: opt.cell_m,
        pad_m: opt.pad_m,
        ..LocalOptions::default()
    };
    let settings = ThermalSettings {
        duration_s: opt.exposure_s,
        dt_s: opt.thermal_dt_s.min(opt.exposure_s / 4.0),
        initial_temperature_c: opt.initial_temperature_c,
        cem43_map: false,
    };
    let n = opt.count.min(candidates.len());
    let mut out = Vec::with_capacity(n);
    for (r, c) in candidates[..n].iter().enumerate() {
        let mut pl = Placement::new("search candidate", c.position_m, c.direction, c.roll_deg)?;
        pl.min_wall_distance_m = 0.0;
        let placed = place(implant, phantom, &pl)?;
        log(&format!(
            "confirming candidate {}/{n}: fine-grid run ({} mm cells)",
            r + 1,
            opt.cell_m * 1e3
        ));
        let t1 = std::time::Instant::now();
        let lf = run_local(&placed, phantom, incident.clone(), &lopt)?;
        let fdtd_seconds = t1.elapsed().as_secs_f64();
        log(&format!(
            "confirming candidate {}/{n}: SAR and heating ({} s)",
            r + 1,
            opt.exposure_s
        ));
        let tip = placed.path_m[0];
        // The 1 mm fibre-optic probe volume touching the tip (ASTM F2182), as `assess` reads it.
        // Probes at both conductor ends as in `assess` (the first is the tip).
        let probes = super::local::end_probes(&placed);
        let dose = lf.dosimetry(&probes, &settings)?;
        let [a1, _] = &dose.sar_1g;
        let g = &lf.cells;
        let mut tip_1g = 0.0f64;
        for ((i, j, k), v) in a1.sar_w_per_kg.indexed_iter() {
            let p = g.position(i, j, k);
            let d2: f64 = (0..3).map(|a| (p[a] - tip[a]).powi(2)).sum();
            if d2 <= opt.tip_radius_m * opt.tip_radius_m + 1e-18 {
                tip_1g = tip_1g.max(*v as f64);
            }
        }
        let [th, th_bg] = &dose.thermal;
        let tip_dt = th.probes[0].final_rise_k;
        let e2 = c.e_tip_v_per_m * c.e_tip_v_per_m;
        out.push(Confirmation {
            candidate: c.clone(),
            estimate_rank: r + 1,
            direct_rank: 0,
            estimate_value: c.estimate.unwrap_or(e2),
            tip_sar_1g_w_per_kg: tip_1g,
            peak_sar_1g_w_per_kg: a1.peak.sar_w_per_kg,
            peak_sar_10g_w_per_kg: dose.sar_10g[0].peak.sar_w_per_kg,
            peak_point_sar_w_per_kg: dose.point[0].iter().cloned().fold(0.0f32, f32::max) as f64,
            tip_delta_t_k: tip_dt,
            tip_delta_t_background_k: th_bg.probes[0].final_rise_k,
            max_delta_t_k: th.peak_rise_k,
            cem43_min: th.probes.iter().map(|p| p.cem43_min).fold(0.0, f64::max),
            tip_m: crate::implant::placement::phantom_frame_of(phantom, tip),
            implied_a_k_m2_per_v2: if e2 > 0.0 { tip_dt / e2 } else { f64::NAN },
            fdtd_periods: lf.stats.periods,
            fdtd_seconds,
            thermal_seconds: dose.thermal_seconds,
        });
    }
    let direct: Vec<f64> = out.iter().map(|c| c.tip_delta_t_k).collect();
    let est: Vec<f64> = out.iter().map(|c| c.estimate_value).collect();
    for (c, r) in out.iter_mut().zip(ranks_desc(&direct)) {
        c.direct_rank = r;
    }
    let worst = out.iter().position(|c| c.direct_rank == 1).unwrap_or(0);
    let a: Vec<f64> = out
        .iter()
        .map(|c| c.implied_a_k_m2_per_v2)
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let spread = if a.is_empty() {
        f64::NAN
    } else {
        a.iter().cloned().fold(0.0, f64::max) / a.iter().cloned().fold(f64::INFINITY, f64::min)
    };
    Ok(ConfirmResult {
        options: opt.clone(),
        spearman: spearman(&est, &direct),
        confirmations: out,
        worst,
        implied_a_spread: spread,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The confirmation as a figure: per candidate (in estimate order), the estimate and the direct tip
/// rise, each relative to its largest value.
pub fn write_confirm_png(result: &ConfirmResult, path: &std::path::Path) -> Result<()> {
    let x: Vec<f64> = (1..=result.confirmations.len()).map(|r| r as f64).collect();
    let norm = |v: Vec<f64>| {
        let m = v.iter().cloned().fold(0.0, f64::max);
        v.into_iter()
            .map(|x| if m > 0.0 { x / m } else { 0.0 })
            .collect::<Vec<f64>>()
    };
    let est = norm(result.confirmations.iter().map(|c| c.estimate_value).collect());
    let dt = norm(result.confirmations.iter().map(|c| c.tip_delta_t_k).collect());
    let sar = norm(result.confirmations.iter().map(|c| c.tip_sar_1g_w_per_kg).collect());
    crate::plot::line_plot(
        path,
        &crate::plot::LinePlot::new(
            "Worst-case search: transfer-function estimate vs full fine-grid runs",
            "candidate (rank by the estimate)",
            "relative to the largest",
        )
        .series("TF estimate", &x, &est)
        .series("direct tip ΔT", &x, &dt)
        .series("direct tip 1 g SAR", &x, &sar)
        .y_range(0.0, 1.05),
    )
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
