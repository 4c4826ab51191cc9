//! The twin commands: `rftwin twin synth` (a synthetic measured |B1+| map from the model) and
//! `rftwin twin fit` (the calibration of the coil model to a measured map, written as a twin
//! directory: `twin.toml`, `twin_fields.h5` + `.xmf`, `fit.json`, `fit.png`).

use std::path::{Path, PathBuf};

use num_complex::Complex64;

use super::file::{FitComment, TwinFile};
use super::{FullCalibration, TwinFields};
use crate::b1::map_file::MapOutput;
use crate::b1::{Affine, B1Map, B1Unit, Frame, Placement};
use crate::coil::run::{DriveModel, SimulateOptions};
use crate::coil::{CoilConfig, PhantomConfig};
use crate::error::{Error, Result};

/// A cell size option in mm, as metres; it must be finite and > 0.
pub fn positive_mm(key: &str, v: f64) -> Result<f64> {
    if !(v > 0.0) || !v.is_finite() {
        return Err(Error::input(
            "command line",
            key,
            format!("{v} is not > 0"),
            "give a cell size in mm, e.g. 1",
        ));
    }
    Ok(v * 1e-3)
}

/// The basis cache directory of a command: none with `--no-cache`, else `dir` (`--cache-dir`) or the
/// default ($RFTWIN_CACHE, else ~/.cache/rftwin; see [`super::default_cache_dir`]).
pub fn cache_choice(no_cache: bool, dir: Option<PathBuf>, out: &Path) -> Option<PathBuf> {
    if no_cache {
        None
    } else {
        Some(dir.unwrap_or_else(|| super::default_cache_dir(out)))
    }
}

/// The coil model's options for `--cell-mm`.
/// The `geometry_snaps` entry of a summary: how far the twin's grid moves the coil's parts from
/// their ideal positions (moves over a quarter cell also warned about on stderr).
fn geometry_snaps(c: &CoilConfig, p: &PhantomConfig, o: &SimulateOptions) -> Result<serde_json::Value> {
    let kind = match o.model {
        DriveModel::Ideal => crate::coil::fdtd_model::ModelKind::Ideal,
        DriveModel::Cosim => crate::coil::fdtd_model::ModelKind::Resonant(crate::coil::fdtd_model::Gaps::for_type(c.coil_type)),
    };
    let s = crate::coil::fdtd_model::geometry_snaps(c, Some(p), kind, &o.mesh)?;
    s.warnings().into_iter().for_each(crate::resources::warn);
    Ok(s.to_json())
}

fn sim_options(cell_mm: f64, model: DriveModel) -> Result<SimulateOptions> {
    if !(cell_mm > 0.0) {
        return Err(Error::input("command line", "--cell-mm", "must be > 0", "e.g. --cell-mm 10"));
    }
    let mut o = SimulateOptions::default();
    o.mesh.cell_m = cell_mm * 1e-3;
    o.model = model;
    Ok(o)
}

/// What `twin synth` is asked to make (the command-line options, see `rftwin twin synth --help`).
#[derive(Clone, Debug)]
pub struct SynthCommand {
    pub coil: PathBuf,
    pub phantom: PathBuf,
    /// The map file (.nii.gz, .nii or .h5).
    pub out: PathBuf,
    pub force: bool,
    pub cell_mm: f64,
    pub voxel_mm: f64,
    pub imbalance: f64,
    pub phase_deg: f64,
    pub noise: f64,
    pub seed: u64,
    pub centre_ut: f64,
    /// "x,y,z" (mm).
    pub offset_mm: String,
    /// "x,y,z" rotation vector (degrees).
    pub rotation_deg: String,
    pub sigma_scale: f64,
    pub eps_scale: f64,
    /// The coil model that makes the map.
    pub model: DriveModel,
}

/// What `twin synth` made (printed as JSON).
#[derive(Clone, Debug)]
pub struct SynthSummary {
    pub cmd: SynthCommand,
    pub dims: [usize; 3],
    pub origin_m: [f64; 3],
    pub offset_mm: [f64; 3],
    pub sigma_s_per_m: f64,
    pub eps_r: f64,
    pub geometry_snaps: serde_json::Value,
}

impl SynthSummary {
    /// The JSON document (keys in alphabetical order, as `serde_json` orders an object).
    pub fn to_json(&self) -> serde_json::Value {
        let c = &self.cmd;
        serde_json::json!({
            "map": c.out.display().to_string(), "coil": c.coil.display().to_string(), "phantom": c.phantom.display().to_string(),
            "cell_mm": c.cell_mm, "voxel_mm": c.voxel_mm, "dims": self.dims, "origin_m": self.origin_m,
            "imbalance": c.imbalance, "phase_deg": c.phase_deg, "noise": c.noise, "seed": c.seed, "centre_ut": c.centre_ut,
            "offset_mm": self.offset_mm, "sigma_s_per_m": self.sigma_s_per_m, "eps_r": self.eps_r,
            "geometry_snaps": self.geometry_snaps,
            "unit": "uT", "frame": "simulation (coil frame, isocentre at 0, z along the bore)", "model": c.model.as_str(),
        })
    }
}

/// `rftwin twin synth`: the model's |B1+| (µT) with the given port imbalance, phase error and
/// noise, on voxels 1 cm inside the (moved, turned) phantom's walls; written to `cmd.out`.
pub fn synth(cmd: &SynthCommand) -> Result<SynthSummary> {
    let c = CoilConfig::load(&cmd.coil)?;
    let mut p = PhantomConfig::load(&cmd.phantom)?;
    let policy = crate::io::OutputPolicy::new("twin synth", cmd.force)
        .input("--coil", &cmd.coil)
        .input("--phantom", &cmd.phantom);
    let output = MapOutput::create(&cmd.out, "--out", &policy)?;
    let off = crate::spec::three_numbers("--offset-mm", &cmd.offset_mm, "4,-3,2")?;
    let offset_m = off.map(|v| v * 1e-3);
    let rot = crate::spec::three_numbers("--rotation-deg", &cmd.rotation_deg, "1,-2,1.5")?;
    for a in 0..3 {
        p.rotation_deg[a] += rot[a];
    }
    let (sigma_scale, eps_scale) = (cmd.sigma_scale, cmd.eps_scale);
    if !(sigma_scale > 0.0) || !(eps_scale > 0.0) || !(p.material.eps_r * eps_scale >= 1.0) {
        return Err(Error::input(
            "command line",
            "--sigma-scale/--eps-scale",
            "must be > 0 (and leave eps_r >= 1)",
            "e.g. --sigma-scale 1.1",
        ));
    }
    p.material.sigma_s_per_m *= sigma_scale;
    p.material.eps_r *= eps_scale;
    if !(cmd.voxel_mm > 0.0) || !(cmd.imbalance > 0.0) || !(cmd.noise >= 0.0) || !(cmd.centre_ut > 0.0) {
        return Err(Error::input(
            "command line",
            "--voxel-mm/--imbalance/--noise/--centre-ut",
            "must be positive (noise >= 0)",
            "fix the values",
        ));
    }
    let sim_opts = sim_options(cmd.cell_mm, cmd.model)?;
    let basis = super::compute_basis_request(
        &super::BasisRequest {
            coil: &c,
            phantom: Some(&p),
            opt: &sim_opts,
            offset_m,
        },
        None,
    )?;
    // The moved phantom's bounding box, 1 cm inside its walls.
    let moved = super::basis::shifted_phantom(&p, offset_m);
    let (lo, hi) = moved.shape().unrotated_bounds();
    let (lo, hi) = (lo.map(|v| v + 0.01), hi.map(|v| v - 0.01));
    let v = cmd.voxel_mm * 1e-3;
    let (mut map, origin) = super::synthesize(
        &basis,
        cmd.imbalance,
        cmd.phase_deg,
        cmd.noise,
        cmd.seed,
        lo,
        hi,
        v,
        cmd.centre_ut,
    )?;
    if moved.rotation().is_some() || !matches!(moved.shape, crate::coil::PhantomShape::Box) {
        // The box above is that of the square phantom: keep the voxels inside the turned one (or
        // the cylinder; its box's corners would hold field but no gel, which the automatic mask's
        // background noise estimate would read as noise of the size of the signal).
        let inner = crate::b1::mask::eroded(&moved.shape(), 0.01)?;
        for ((i, j, k), x) in map.indexed_iter_mut() {
            let q = [i, j, k].map(|n| n as f64 * v);
            if !inner.contains([origin[0] + q[0], origin[1] + q[1], origin[2] + q[2]]) {
                *x = f32::NAN;
            }
        }
    }
    let map = B1Map::new(
        map,
        Affine::from_origin_spacing(origin, [v; 3]),
        Frame::Simulation,
        B1Unit::MicroTesla,
        &cmd.out.display().to_string(),
    )?;
    output.write(&map)?;
    Ok(SynthSummary {
        cmd: cmd.clone(),
        dims: map.dims(),
        origin_m: origin,
        offset_mm: off,
        sigma_s_per_m: p.material.sigma_s_per_m,
        eps_r: p.material.eps_r,
        geometry_snaps: geometry_snaps(&c, &p, &sim_opts)?,
    })
}

/// What `twin fit` is asked to do (the command-line options, see `rftwin twin fit --help`).
#[derive(Clone, Debug)]
pub struct FitCommand {
    pub coil: PathBuf,
    pub phantom: PathBuf,
    pub measured: PathBuf,
    /// How to read it: unit, nominal flip angle, scale, HDF5 dataset, volume of a 4-D map, mask file.
    pub map: crate::b1::MapReadOptions,
    pub out: PathBuf,
    pub cell_mm: f64,
    pub force: bool,
    /// The basis cache directory (None: no cache).
    pub cache_dir: Option<PathBuf>,
    pub fit_offset: bool,
    pub fit_rotation: bool,
    pub placement_runs: bool,
    pub fit_gel: bool,
    pub bootstrap: usize,
    pub seed: u64,
    pub no_resimulate: bool,
    pub max_outer: Option<usize>,
    pub max_iterations: usize,
    /// The coil model fitted (`--model`).
    pub model: DriveModel,
    /// Fit the capacitor deviations (`--fit-caps`, co-simulation only) with this prior width.
    pub fit_caps: bool,
    /// Never fit them (`--fixed-caps`); with neither, they are fitted when the first fit's residual
    /// carries model error ([`super::circuit_fit::CapacitorMode::Auto`]).
    pub fixed_caps: bool,
    pub cap_prior: f64,
}

/// What `twin fit` found (`fit.json`; also printed).
pub struct FitSummary {
    pub coil: String,
    pub phantom: String,
    pub measured: String,
    /// What was fitted, in words.
    pub fitted: String,
    pub full: FullCalibration,
    /// The drive model fitted, and the co-simulated circuit (tuning, feeds) when it is `cosim`.
    pub model: DriveModel,
    pub circuit: Option<serde_json::Value>,
    /// What the map's stored numbers were (e.g. "deg × 10, nominal 80°") and what the fit worked
    /// in ("uT" or "fraction": relative B1).
    pub stored_as: String,
    pub fitted_unit: String,
    /// What the scanner said about the map and how it was placed ([`crate::b1::MeasuredMap::info`]).
    pub map_info: serde_json::Value,
    /// SNR, voxels used, coverage of the phantom (see [`crate::b1::MapQuality`]).
    pub quality: crate::b1::MapQuality,
    /// Whether the fit itself is to be trusted (residual against noise, correlation, samples).
    pub gate: super::gate::FitGate,
    /// The fitted capacitors (`--fit-caps`).
    pub capacitors: Option<super::circuit_fit::CapacitorFit>,
    pub geometry_snaps: serde_json::Value,
}

impl FitSummary {
    /// Whether the fit converged (`twin fit` exits 1 when not).
    pub fn converged(&self) -> bool {
        self.full.fit.converged
    }

    /// Why the map is not good enough (coverage below half the phantom, SNR below 5): `twin fit`
    /// exits 1 with this reason.
    pub fn quality_failure(&self) -> Option<String> {
        super::gate::failure(&self.quality, &self.gate)
    }

    /// The JSON document (keys in alphabetical order, as `serde_json` orders an object).
    pub fn to_json(&self) -> serde_json::Value {
        let f = &self.full.fit;
        serde_json::json!({
            "coil": self.coil, "phantom": self.phantom, "measured": self.measured,
            "fitted": self.fitted,
            "map": { "stored_as": self.stored_as, "fitted_in": self.fitted_unit, "info": self.map_info },
            "map_quality": &self.quality,
            "fit_gate": &self.gate,
            "capacitors": &self.capacitors,
            "geometry_snaps": self.geometry_snaps,
            "converged": f.converged,
            "calibration": {
                "relative_amplitude": f.relative_amplitude.value,
                "relative_phase_deg": f.relative_phase_deg.value,
                "relative_amplitude_se": f.relative_amplitude.se,
                "relative_phase_se_deg": f.relative_phase_deg.se,
                "samples": f.samples,
                "fit": { "nrmse": f.nrmse, "correlation": f.correlation, "max_abs_residual": f.max_abs_residual, "p95_abs_residual": f.p95_abs_residual, "iterations": f.iterations, "unidentifiable": &f.unidentifiable },
            },
            "full": &self.full,
            "model": self.model.as_str(),
            "circuit": &self.circuit,
        })
    }
}

/// `rftwin twin fit`: loads, calibrates and writes the twin directory (also when the fit does not
/// converge: the outputs are kept for inspection, see [`FitSummary::converged`]).
pub fn fit(cmd: &FitCommand, log: &mut dyn FnMut(&str)) -> Result<FitSummary> {
    let c = CoilConfig::load(&cmd.coil)?;
    let p = PhantomConfig::load(&cmd.phantom)?;
    let crate::b1::MeasuredMap {
        map,
        stored_as,
        info: map_info,
    } = crate::b1::read_measured(&cmd.measured, &cmd.map)?;
    let policy = crate::io::OutputPolicy::new("twin fit", cmd.force)
        .input("--coil", &cmd.coil)
        .input("--phantom", &cmd.phantom)
        .input("--measured", &cmd.measured)
        .input("--measured sidecar", crate::b1::sidecar_path(&cmd.measured))
        .input_opt("--mask", cmd.map.mask.as_deref())
        .input_opt("basis cache", cmd.cache_dir.as_deref());
    let dir = crate::io::AtomicDir::new(&cmd.out, &policy)?;
    let sim_opts = sim_options(cmd.cell_mm, cmd.model)?;
    let placement = Placement::default();
    let plan = super::map_mask::MaskPlan::new(&map, &p, &placement, cmd.map.mask.is_some())?;
    let fo = super::FullOptions {
        joint: super::JointOptions {
            fit_offset: cmd.fit_offset,
            fit_rotation: cmd.fit_rotation,
            fit_gel: cmd.fit_gel,
            bootstrap: cmd.bootstrap,
            seed: cmd.seed,
            max_iterations: cmd.max_iterations,
        },
        resimulate: if cmd.no_resimulate { Some(false) } else { None },
        placement_runs: cmd.placement_runs.then_some(true),
        max_outer: cmd.max_outer,
        auto_mask: plan.auto,
        ..Default::default()
    };
    let (mut full, basis, capacitors) = calibrate_with_capacitors(&c, &p, &map, &placement, &sim_opts, &fo, cmd, log)?;
    let quality = plan.quality(&map, &p, &placement, &full)?;
    let parameters = fo.joint.parameters() + capacitors.as_ref().map_or(0, |cf| cf.capacitors.len());
    let gate = super::gate::FitGate::judge(&full.fit, &quality, parameters);
    let relative = crate::b1::read::is_relative(&map);
    if relative {
        // A relative map does not measure the absolute scale: the weights at 1 W input power.
        let w = [0, 1].map(|k| Complex64::new(full.fit.weights[k][0], full.fit.weights[k][1]));
        let pw = basis.input_power(&w);
        if pw > 0.0 && pw.is_finite() {
            let g = 1.0 / pw.sqrt();
            for wk in full.fit.weights.iter_mut() {
                *wk = [wk[0] * g, wk[1] * g];
            }
        }
    }
    let f = &full.fit;
    let comment = FitComment {
        coil_name: c.name.clone(),
        ci95_method: f.relative_amplitude.ci95_method.to_string(),
        weights_note: if relative { super::file::weights_note(&stored_as) } else { String::new() },
    };
    super::file::write_fit(&dir.path(""), &twin_file(cmd, &full, basis.freq_hz), &comment)?;
    let tw = TwinFields::from_basis(
        &basis,
        &[
            Complex64::new(f.weights[0][0], f.weights[0][1]),
            Complex64::new(f.weights[1][0], f.weights[1][1]),
        ],
    )?;
    let fields_dir = dir.path("");
    tw.save(&fields_dir)?;
    tw.write_xdmf(&fields_dir)?;
    let mut parts = vec!["drive weights (overall scale, port-2 amplitude and phase)"];
    if let Some(cf) = &capacitors {
        parts.push(if cf.applied {
            "capacitor deviations (prior width --cap-prior)"
        } else {
            "capacitor deviations for the intervals only (prior width --cap-prior; the residual at the tuned capacitors carried model error: the drive intervals hold the capacitors' tolerance, the twin keeps the tuned capacitors)"
        });
    }
    if cmd.fit_offset {
        parts.push("phantom offset");
    }
    if cmd.fit_rotation {
        parts.push("phantom rotation");
    }
    if cmd.fit_gel {
        parts.push("gel conductivity/permittivity");
    }
    let summary = FitSummary {
        coil: cmd.coil.display().to_string(),
        phantom: cmd.phantom.display().to_string(),
        measured: cmd.measured.display().to_string(),
        fitted: parts.join(", "),
        full,
        model: cmd.model,
        circuit: basis.circuit.clone(),
        stored_as,
        fitted_unit: map.unit.as_str().to_string(),
        map_info,
        quality,
        gate,
        capacitors,
        geometry_snaps: geometry_snaps(&c, &p, &sim_opts)?,
    };
    crate::io::write_json(&dir.path("fit.json"), &summary.to_json())?;
    fit_panel(&dir.path("fit.png"), &map, &summary.full)?;
    dir.commit()?;
    Ok(summary)
}

/// The calibration with the capacitors fitted as `--fit-caps` / `--fixed-caps` say (see
/// [`super::circuit_fit::calibrate_twin`]).
#[allow(clippy::too_many_arguments)]
fn calibrate_with_capacitors(
    c: &CoilConfig,
    p: &PhantomConfig,
    map: &B1Map,
    placement: &Placement,
    sim_opts: &SimulateOptions,
    fo: &super::FullOptions,
    cmd: &FitCommand,
    log: &mut dyn FnMut(&str),
) -> Result<(FullCalibration, super::Basis, Option<super::circuit_fit::CapacitorFit>)> {
    use super::circuit_fit::CapacitorMode;
    let cache = cmd.cache_dir.as_deref();
    let mode = match (cmd.fit_caps, cmd.fixed_caps) {
        (true, true) => {
            return Err(Error::input(
                "command line",
                "--fit-caps/--fixed-caps",
                "both given",
                "give one: --fit-caps always fits the capacitors, --fixed-caps never; with neither they are fitted when the residual carries model error",
            ))
        }
        (true, false) => CapacitorMode::Fit,
        (false, true) => CapacitorMode::Fixed,
        (false, false) => CapacitorMode::Auto,
    };
    super::circuit_fit::calibrate_twin(c, p, map, placement, sim_opts, fo, cache, cmd.cap_prior, mode, log)
}

/// The fit's part of `twin.toml` (see [`super::file`]).
fn twin_file(cmd: &FitCommand, full: &FullCalibration, freq_hz: f64) -> TwinFile {
    let f = &full.fit;
    let ci = |e: &super::joint::Estimate| e.ci95;
    let mut fitted = vec!["weights".to_string()];
    for (on, name) in [(cmd.fit_offset, "offset"), (cmd.fit_rotation, "rotation"), (cmd.fit_gel, "gel")] {
        if on {
            fitted.push(name.to_string());
        }
    }
    let mut t = TwinFile {
        coil: Some(cmd.coil.display().to_string()),
        phantom: Some(cmd.phantom.display().to_string()),
        measured: Some(cmd.measured.display().to_string()),
        freq_hz: Some(freq_hz),
        cell_m: Some(cmd.cell_mm * 1e-3),
        fitted: Some(fitted),
        converged: Some(f.converged),
        nrmse: Some(f.nrmse),
        w_cos: Some(f.weights[0]),
        w_sin: Some(f.weights[1]),
        port2_relative_amplitude: Some(f.relative_amplitude.value),
        port2_relative_amplitude_ci95: Some(ci(&f.relative_amplitude)),
        port2_phase_error_deg: Some(f.relative_phase_deg.value),
        port2_phase_error_ci95_deg: Some(ci(&f.relative_phase_deg)),
        fields_phantom_offset_m: Some(full.final_offset_m),
        fields_phantom_rotation_deg: Some(full.final_rotation_deg),
        fields_sigma_s_per_m: Some(full.final_sigma_s_per_m),
        fields_eps_r: Some(full.final_eps_r),
        ..Default::default()
    };
    if let Some(o) = &f.offset_m {
        t.phantom_offset_m = Some([o[0].value, o[1].value, o[2].value]);
        t.phantom_offset_x_ci95_m = Some(ci(&o[0]));
        t.phantom_offset_y_ci95_m = Some(ci(&o[1]));
        t.phantom_offset_z_ci95_m = Some(ci(&o[2]));
    }
    if let Some(o) = &f.rotation_deg {
        t.phantom_rotation_deg = Some([o[0].value, o[1].value, o[2].value]);
        t.phantom_rotation_x_ci95_deg = Some(ci(&o[0]));
        t.phantom_rotation_y_ci95_deg = Some(ci(&o[1]));
        t.phantom_rotation_z_ci95_deg = Some(ci(&o[2]));
    }
    if let (Some(sg), Some(ep)) = (&f.sigma_s_per_m, &f.eps_r) {
        t.gel_sigma_s_per_m = Some(sg.value);
        t.gel_sigma_ci95_s_per_m = Some(ci(sg));
        t.gel_eps_r = Some(ep.value);
        t.gel_eps_r_ci95 = Some(ci(ep));
        t.gel_eps_r_identifiable = Some(!f.unidentifiable.iter().any(|u| u == "eps_r"));
    }
    t
}

/// `fit.png`: measured, twin and residual through the map's middle coronal (xz) slice, the long
/// extent of a gel box.
fn fit_panel(path: &Path, map: &B1Map, full: &FullCalibration) -> Result<()> {
    use crate::plot::{panel, Colormap, Panel, SliceMap};
    let f = &full.fit;
    let k = map.dims()[1] / 2;
    let aff = map.affine.m;
    let origin = [aff[0][3], aff[1][3], aff[2][3]];
    let sp = [aff[0][0].abs(), aff[1][1].abs(), aff[2][2].abs()];
    let (label, factor) = crate::b1::read::value_label(map);
    let measured = full.measured.mapv(|v| v * factor);
    let simulated = full.simulated.mapv(|v| v * factor);
    let resid = &simulated - &measured;
    let hi = measured.iter().cloned().filter(|v| v.is_finite()).fold(0.0f32, f32::max) as f64;
    // The map's own values on the slice, with the outline of the voxels the fit used.
    let own = map.magnitude.mapv(|v| v * factor);
    let used = full.used.index_axis(ndarray::Axis(1), k);
    let maps = vec![
        SliceMap::from_volume(own.view(), 1, k, origin, sp)?
            .title("map (outline: voxels fitted)")
            .unit(label)
            .range(0.0, hi)
            .mask_contour(used),
        SliceMap::from_volume(simulated.view(), 1, k, origin, sp)?
            .title("twin")
            .unit(label)
            .range(0.0, hi),
        SliceMap::from_volume(resid.view(), 1, k, origin, sp)?
            .title("twin - measured")
            .unit(format!("residual, {label}"))
            .colormap(Colormap::Diverging),
    ];
    panel(
        path,
        &Panel::new(maps).title(format!(
            "B1+ map matching: port-2 amplitude {:.3}, phase {:+.2}°, NRMSE {:.2} %",
            f.relative_amplitude.value,
            f.relative_phase_deg.value,
            100.0 * f.nrmse
        )),
    )
}
