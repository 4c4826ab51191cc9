//! The twin fitted to B1+ maps it did not make: maps built from the openEMS reference's per-port
//! fields (tests/data/openems_lp8, `scripts/reference/openems_lp8.py`) with a known port imbalance and
//! phase error, 2 % Rician noise and an air field of view holding noise only, as a scanner gives a map.
//! `twin fit --model cosim` on `coils/ref_3t_lp8.toml` + `phantoms/ref_gel_cylinder.toml` must find
//! the imbalance (amplitude within 2 %, phase within 2°), reach the noise (NRMSE ≤ 1.2× the noise
//! level) and give 95 % intervals that cover the truth (issue 16). A second map comes from the
//! reference with rung 3's capacitor 5 % high (`detuned_rung3_plus5pct.h5`).

use std::path::{Path, PathBuf};

use ndarray::Array3;
use num_complex::{Complex32, Complex64};

use crate::b1::{Affine, B1Map, B1Unit, Frame, NiftiVersion};
use crate::error::{Error, Result};

/// Which stored openEMS case the map is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference {
    /// Every capacitor 2.661 pF (`reference.h5`).
    Tuned,
    /// Rung 3's capacitor 5 % high (`detuned_rung3_plus5pct.h5`).
    DetunedRung3,
}

impl Reference {
    fn file(self) -> &'static str {
        match self {
            Reference::Tuned => "reference.h5",
            Reference::DetunedRung3 => "detuned_rung3_plus5pct.h5",
        }
    }
}

/// A map to make: the port-2 EMF relative to its nominal quadrature value is
/// `amplitude · e^{i phase_deg}`; Rician noise of `noise` × the mean |B1+| in the gel per quadrature
/// component, everywhere (the air holds noise only).
#[derive(Clone, Copy, Debug)]
pub struct MapCase {
    pub reference: Reference,
    pub amplitude: f64,
    pub phase_deg: f64,
    pub noise: f64,
    pub seed: u64,
    /// Fit the capacitor deviations too (`--fit-caps`).
    pub fit_caps: bool,
}

/// The map and what it was made with.
pub struct MadeMap {
    pub map: B1Map,
    /// Mean |B1+| in the gel (µT) and the noise standard deviation per component (µT).
    pub mean_ut: f64,
    pub sigma_ut: f64,
    /// Gel voxels.
    pub gel_voxels: usize,
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/openems_lp8")
}

/// A deterministic standard normal sequence (LCG + Box–Muller).
struct Normal(u64);
impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn next(&mut self) -> f64 {
        let (a, b) = (self.uniform(), self.uniform());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }
}

/// Builds the map (µT, the reference's 5 mm sample grid, coil frame): |B1+| of port-1 EMF e^{iφ1}
/// plus port-2 EMF `amplitude·e^{i phase}·e^{iφ2}` (φ the coil file's quadrature phases: 0, −90°),
/// scaled to a mean of 1 µT in the gel, then Rician noise; outside the gel noise only.
pub fn make_map(case: &MapCase) -> Result<MadeMap> {
    let path = data_dir().join(case.reference.file());
    let err = |e: hdf5::Error| Error::Other(format!("{}: {e}", path.display()));
    let f = hdf5::File::open(&path).map_err(err)?;
    let g = f.group("grid").map_err(err)?;
    let x = g.dataset("x_m").and_then(|d| d.read_raw::<f64>()).map_err(err)?;
    let y = g.dataset("y_m").and_then(|d| d.read_raw::<f64>()).map_err(err)?;
    let z = g.dataset("z_m").and_then(|d| d.read_raw::<f64>()).map_err(err)?;
    let mask = g.dataset("phantom_mask").and_then(|d| d.read_dyn::<u8>()).map_err(err)?;
    let emf = [
        Complex64::new(1.0, 0.0),
        Complex64::from_polar(case.amplitude, case.phase_deg.to_radians()) * Complex64::new(0.0, -1.0),
    ];
    let mut hx: Option<ndarray::ArrayD<Complex64>> = None;
    let mut hy: Option<ndarray::ArrayD<Complex64>> = None;
    for (k, w) in emf.iter().enumerate() {
        let h = f
            .group(&format!("port{}", k + 1))
            .and_then(|g| g.dataset("H_a_per_m"))
            .and_then(|d| d.read_dyn::<Complex32>())
            .map_err(err)?;
        let c = |a: usize| {
            h.index_axis(ndarray::Axis(0), a)
                .mapv(|c| Complex64::new(c.re as f64, c.im as f64) * *w)
        };
        let (ax, ay) = (c(0), c(1));
        hx = Some(match hx {
            None => ax,
            Some(s) => s + ax,
        });
        hy = Some(match hy {
            None => ay,
            Some(s) => s + ay,
        });
    }
    let (hx, hy) = (hx.expect("two ports"), hy.expect("two ports"));
    let (nx, ny, nz) = (x.len(), y.len(), z.len());
    let mu0 = crate::grid::MU0;
    let b = Array3::from_shape_fn((nx, ny, nz), |(i, j, k)| {
        let v = (hx[[i, j, k]] + Complex64::i() * hy[[i, j, k]]) * mu0 / 2.0;
        v.norm()
    });
    let gel: Vec<f64> = (0..nx * ny * nz)
        .filter(|&q| mask[[q / (ny * nz), (q / nz) % ny, q % nz]] == 1)
        .map(|q| b[[q / (ny * nz), (q / nz) % ny, q % nz]])
        .collect();
    if gel.is_empty() {
        return Err(Error::Other(format!("{}: no sample inside the gel", path.display())));
    }
    let mean_t = gel.iter().sum::<f64>() / gel.len() as f64;
    let scale = 1.0 / mean_t; // µT per T: a mean of 1 µT in the gel
    let sigma = case.noise;
    let mut rng = Normal(case.seed);
    let data = Array3::from_shape_fn((nx, ny, nz), |(i, j, k)| {
        let s = if mask[[i, j, k]] == 1 { b[[i, j, k]] * scale } else { 0.0 };
        let (a, c) = (s + sigma * rng.next(), sigma * rng.next());
        (a * a + c * c).sqrt() as f32
    });
    let dx = x[1] - x[0];
    let map = B1Map::new(
        data,
        Affine::from_origin_spacing([x[0], y[0], z[0]], [dx, y[1] - y[0], z[1] - z[0]]),
        Frame::Simulation,
        B1Unit::MicroTesla,
        &format!("openEMS {} map", case.reference.file()),
    )?;
    Ok(MadeMap {
        map,
        mean_ut: 1.0,
        sigma_ut: sigma,
        gel_voxels: gel.len(),
    })
}

/// What the fit of one map gave.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub amplitude: f64,
    pub amplitude_ci95: [f64; 2],
    pub phase_deg: f64,
    pub phase_ci95_deg: [f64; 2],
    pub nrmse: f64,
    pub noise: f64,
    pub correlation: f64,
    pub converged: bool,
    /// The command's exit status by its gates (0 pass, 1 a doubtful fit) and the reason.
    pub gate: Option<String>,
    /// The fitted capacitors (with `fit_caps`).
    pub capacitors: Option<super::circuit_fit::CapacitorFit>,
    pub fit_json: serde_json::Value,
}

/// Writes the map of `case` into `work` and fits it with `twin fit --model cosim` at `cell_m`,
/// the basis cached in `cache`.
pub fn fit_case(case: &MapCase, cell_m: f64, work: &Path, cache: Option<&Path>) -> Result<Outcome> {
    let made = make_map(case)?;
    std::fs::create_dir_all(work).map_err(|e| Error::Other(format!("{}: {e}", work.display())))?;
    let map_path = work.join("map.nii.gz");
    crate::b1::write_nifti_map(&map_path, &made.map, NiftiVersion::V1)?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cmd = super::command::FitCommand {
        coil: root.join("coils/ref_3t_lp8.toml"),
        phantom: root.join("phantoms/ref_gel_cylinder.toml"),
        measured: map_path,
        map: crate::b1::MapReadOptions::default(),
        out: work.join("fit"),
        cell_mm: cell_m * 1e3,
        force: true,
        cache_dir: cache.map(Path::to_path_buf),
        fit_offset: false,
        fit_rotation: false,
        placement_runs: false,
        fit_gel: false,
        bootstrap: 0,
        seed: 1,
        no_resimulate: false,
        max_outer: None,
        max_iterations: 0,
        model: crate::coil::run::DriveModel::Cosim,
        fit_caps: case.fit_caps,
        fixed_caps: false,
        cap_prior: 0.05,
    };
    let s = super::command::fit(&cmd, &mut |_| {})?;
    let f = &s.full.fit;
    Ok(Outcome {
        amplitude: f.relative_amplitude.value,
        amplitude_ci95: f.relative_amplitude.ci95,
        phase_deg: f.relative_phase_deg.value,
        phase_ci95_deg: f.relative_phase_deg.ci95,
        nrmse: f.nrmse,
        noise: made.sigma_ut / made.mean_ut,
        correlation: f.correlation,
        converged: f.converged,
        gate: s.quality_failure(),
        fit_json: s.to_json(),
        capacitors: s.capacitors.clone(),
    })
}

// ---- validation cases -------------------------------------------------------------------------

use crate::validation_case::{CaseResult, ValidationCase};
use std::sync::OnceLock;

const SOURCE: &str = "maps from the openEMS v0.0.35 port fields of coils/ref_3t_lp8.toml + phantoms/ref_gel_cylinder.toml (tests/data/openems_lp8), port 2 at 0.9 e^{i 10 deg} of nominal, 2 % Rician noise, air holding noise";
const TRUE_AMPLITUDE: f64 = 0.9;
const TRUE_PHASE_DEG: f64 = 10.0;

/// Fast cases (10 mm twin; `cargo test` runs them).
pub fn cases() -> Vec<ValidationCase> {
    vec![
        ValidationCase {
            name: "twin_openems_fit_amplitude",
            run: case_amplitude,
        },
        ValidationCase {
            name: "twin_openems_fit_phase",
            run: case_phase,
        },
        ValidationCase {
            name: "twin_openems_fit_residual",
            run: case_residual,
        },
        ValidationCase {
            name: "twin_openems_fit_detuned_caps_coverage",
            run: case_detuned_coverage,
        },
    ]
}

/// Slow cases (5 mm twin, minutes): listed in SLOW in tests/validation_cases.rs, so only `rftwin validate` runs them.
pub fn slow_cases() -> Vec<ValidationCase> {
    vec![
        ValidationCase {
            name: "twin_openems_fit_5mm_amplitude",
            run: case_5mm_amplitude,
        },
        ValidationCase {
            name: "twin_openems_fit_5mm_phase",
            run: case_5mm_phase,
        },
        ValidationCase {
            name: "twin_openems_fit_5mm_residual",
            run: case_5mm_residual,
        },
        ValidationCase {
            name: "twin_openems_fit_5mm_coverage",
            run: case_5mm_coverage,
        },
    ]
}

fn case_of(reference: Reference, fit_caps: bool) -> MapCase {
    MapCase {
        reference,
        amplitude: TRUE_AMPLITUDE,
        phase_deg: TRUE_PHASE_DEG,
        noise: 0.02,
        seed: 1,
        fit_caps,
    }
}

fn run_shared(cell: &'static OnceLock<std::result::Result<Outcome, String>>, case: MapCase, cell_m: f64, tag: &str) -> Result<&'static Outcome> {
    cell.get_or_init(|| {
        let work = std::env::temp_dir().join(format!("rftwin-validate-{tag}-{}", std::process::id()));
        let cache = std::env::temp_dir().join(format!("rftwin-validate-openems-cache-{}", std::process::id()));
        let r = fit_case(&case, cell_m, &work, Some(&cache)).map_err(|e| e.to_string());
        let _ = std::fs::remove_dir_all(&work);
        r
    })
    .as_ref()
    .map_err(|e| Error::Other(e.clone()))
}

fn tuned_10mm() -> Result<&'static Outcome> {
    static CELL: OnceLock<std::result::Result<Outcome, String>> = OnceLock::new();
    run_shared(&CELL, case_of(Reference::Tuned, false), 0.010, "tuned10")
}

fn tuned_5mm() -> Result<&'static Outcome> {
    static CELL: OnceLock<std::result::Result<Outcome, String>> = OnceLock::new();
    run_shared(&CELL, case_of(Reference::Tuned, false), 0.005, "tuned5")
}

fn detuned_caps_10mm() -> Result<&'static Outcome> {
    static CELL: OnceLock<std::result::Result<Outcome, String>> = OnceLock::new();
    run_shared(&CELL, case_of(Reference::DetunedRung3, true), 0.010, "detuned10")
}

fn amplitude_result(name: &str, o: &Outcome, cell: &str) -> CaseResult {
    CaseResult::with_error(
        name,
        &format!("twin fit --model cosim ({cell}) of an openEMS map: port-2 relative amplitude"),
        SOURCE,
        TRUE_AMPLITUDE,
        o.amplitude,
        "1",
        (o.amplitude - TRUE_AMPLITUDE).abs() / TRUE_AMPLITUDE,
        "relative",
        0.02,
    )
}

fn phase_result(name: &str, o: &Outcome, cell: &str) -> CaseResult {
    CaseResult::with_error(
        name,
        &format!("twin fit --model cosim ({cell}) of an openEMS map: port-2 phase error"),
        SOURCE,
        TRUE_PHASE_DEG,
        o.phase_deg,
        "deg",
        (o.phase_deg - TRUE_PHASE_DEG).abs(),
        "absolute (deg)",
        2.0,
    )
}

fn residual_result(name: &str, o: &Outcome, cell: &str, limit: f64) -> CaseResult {
    CaseResult::with_error(
        name,
        &format!("twin fit --model cosim ({cell}) of an openEMS map: NRMSE over the map's noise level (gate exit 1 above {})", super::gate::MAX_NRMSE_OVER_NOISE),
        SOURCE,
        1.0,
        o.nrmse / o.noise,
        "NRMSE / noise",
        o.nrmse / o.noise,
        "ratio",
        limit,
    )
}

/// How far outside its 95 % interval the truth lies, in half-widths beyond the interval (0: inside).
fn outside(ci: [f64; 2], truth: f64) -> f64 {
    let half = 0.5 * (ci[1] - ci[0]);
    if truth < ci[0] {
        (ci[0] - truth) / half
    } else if truth > ci[1] {
        (truth - ci[1]) / half
    } else {
        0.0
    }
}

fn coverage_result(name: &str, o: &Outcome, what: &str) -> CaseResult {
    let e = outside(o.amplitude_ci95, TRUE_AMPLITUDE).max(outside(o.phase_ci95_deg, TRUE_PHASE_DEG));
    CaseResult::with_error(
        name,
        &format!(
            "{what}: the 95 % intervals of amplitude [{:.4}, {:.4}] and phase [{:.2}, {:.2}] deg cover the truth (error: distance outside, in half-widths)",
            o.amplitude_ci95[0], o.amplitude_ci95[1], o.phase_ci95_deg[0], o.phase_ci95_deg[1]
        ),
        SOURCE,
        0.0,
        e,
        "half-widths",
        e,
        "outside the interval",
        0.0,
    )
}

fn case_amplitude() -> Result<CaseResult> {
    Ok(amplitude_result("twin_openems_fit_amplitude", tuned_10mm()?, "10 mm"))
}
fn case_phase() -> Result<CaseResult> {
    Ok(phase_result("twin_openems_fit_phase", tuned_10mm()?, "10 mm"))
}
fn case_residual() -> Result<CaseResult> {
    // The 1.2 (it was the gate's 1.5 while the 10 mm twin left 1.34; since the sub-cell gel
    // outline fix it leaves 1.10, 7 December 2026).
    Ok(residual_result("twin_openems_fit_residual", tuned_10mm()?, "10 mm", 1.2))
}
fn case_detuned_coverage() -> Result<CaseResult> {
    Ok(coverage_result(
        "twin_openems_fit_detuned_caps_coverage",
        detuned_caps_10mm()?,
        "rung 3 capacitor +5 % in the reference; twin fit --model cosim --fit-caps (10 mm)",
    ))
}
fn case_5mm_amplitude() -> Result<CaseResult> {
    Ok(amplitude_result("twin_openems_fit_5mm_amplitude", tuned_5mm()?, "5 mm"))
}
fn case_5mm_phase() -> Result<CaseResult> {
    Ok(phase_result("twin_openems_fit_5mm_phase", tuned_5mm()?, "5 mm"))
}
fn case_5mm_residual() -> Result<CaseResult> {
    Ok(residual_result("twin_openems_fit_5mm_residual", tuned_5mm()?, "5 mm", 1.2))
}
fn case_5mm_coverage() -> Result<CaseResult> {
    Ok(coverage_result("twin_openems_fit_5mm_coverage", tuned_5mm()?, "twin fit --model cosim (5 mm)"))
}
