//! The coil commands: `rftwin coil tune` (circuit model) and `rftwin coil simulate` (FDTD of the coil
//! with an optional phantom: `fields.h5` + `fields.xmf`, PNG maps of |B1+|, |E| and local SAR, and
//! `summary.json`, written into a new output directory).

use std::path::{Path, PathBuf};

use ndarray::Array3;
use num_complex::Complex32;

use super::resonant::FdtdTuning;
use super::run::{simulate_ideal, simulate_resonant, CoilFields, SimulateOptions};
use super::{CoilConfig, PhantomConfig, Tuning};
use crate::error::{Error, Result};
use crate::fdtd::{ProgressFn, RunStats};

/// `rftwin coil tune`: the circuit-model tuning of the coil file.
pub fn tune(file: &Path) -> Result<Tuning> {
    let coil = CoilConfig::load(file)?;
    super::tune(&coil)
}

/// What `coil simulate` is asked to do.
#[derive(Clone, Debug)]
pub struct SimulateCommand {
    pub coil: PathBuf,
    pub phantom: Option<PathBuf>,
    pub out: PathBuf,
    /// Cell size (mm).
    pub cell_mm: f64,
    /// Steady-state tolerance (relative phasor change per period).
    pub tolerance: f64,
    /// "ideal" or "resonant".
    pub drive: String,
    /// Steps per broadband sweep of the resonant model.
    pub sweep_steps: usize,
    pub force: bool,
}

/// `summary.json` of `coil simulate` (also printed).
#[derive(Clone, Debug)]
pub struct SimulateSummary {
    pub coil: String,
    pub phantom: Option<String>,
    /// The resonant drive's FDTD tuning (None: ideal drive).
    pub fdtd_tuning: Option<FdtdTuning>,
    pub freq_hz: f64,
    pub cells: [usize; 3],
    pub cell_m: f64,
    pub dt_s: f64,
    pub run: RunStats,
    pub setup_s: f64,
    pub input_power_w_per_amp2: f64,
    pub b1_plus_iso_t_per_sqrt_w: f64,
    pub b1_minus_over_b1_plus_iso: f64,
    pub input_power_w_for_1ut_iso: f64,
    /// How far the grid moved the coil's parts ([`super::fdtd_model::GeometrySnaps::to_json`]).
    pub geometry_snaps: serde_json::Value,
    pub warnings: Vec<String>,
}

impl SimulateSummary {
    /// The JSON document (keys in alphabetical order, as `serde_json` orders an object).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "coil": self.coil,
            "phantom": self.phantom,
            "drive": if self.fdtd_tuning.is_some() { "resonant (FDTD-tuned capacitors, ports driven as in the coil file)" } else { "ideal (impressed rung and ring currents, homogeneous mode)" },
            "fdtd_tuning": self.fdtd_tuning.as_ref().map(|t| serde_json::json!({
                "capacitors_f": t.capacitors,
                "homogeneous_mode_hz": t.homogeneous_hz,
                "relative_error": t.rel_error,
                "ordering_matches_circuit_model": t.ordering_matches_circuit,
                "sweeps": t.sweeps.iter().map(|s| serde_json::json!({"capacitors_f": s.capacitors, "homogeneous_mode_hz": s.homogeneous_hz, "peaks_hz": s.peaks_hz, "steps": s.steps, "seconds": s.seconds})).collect::<Vec<_>>(),
            })),
            "freq_hz": self.freq_hz,
            "cells": self.cells,
            "cell_m": self.cell_m,
            "dt_s": self.dt_s,
            "run": self.run,
            "setup_s": self.setup_s,
            "input_power_w_per_amp2": self.input_power_w_per_amp2,
            "b1_plus_iso_t_per_sqrt_w": self.b1_plus_iso_t_per_sqrt_w,
            "b1_minus_over_b1_plus_iso": self.b1_minus_over_b1_plus_iso,
            "input_power_w_for_1ut_iso": self.input_power_w_for_1ut_iso,
            "geometry_snaps": self.geometry_snaps,
            "normalisations": {"per_watt": "fields for 1 W input power", "per_microtesla": "fields for |B1+| = 1 µT at the isocentre"},
            "files": ["fields.h5", "fields.xmf", "b1_plus.png", "e_magnitude.png", "sar_point.png"],
            "warnings": self.warnings,
        })
    }
}

/// `rftwin coil simulate`: the run at the coil's Larmor frequency and its outputs (see the module
/// documentation). `log` says what is being done; `progress` follows the FDTD runs.
pub fn simulate(
    cmd: &SimulateCommand,
    progress: Option<ProgressFn>,
    log: &mut dyn FnMut(&str),
) -> Result<SimulateSummary> {
    let coil = CoilConfig::load(&cmd.coil)?;
    let ph = cmd.phantom.as_deref().map(PhantomConfig::load).transpose()?;
    if !(cmd.cell_mm > 0.0) || !(cmd.tolerance > 0.0) {
        return Err(Error::input(
            "command line",
            "--cell-mm / --tolerance",
            "must be > 0",
            "e.g. --cell-mm 10 --tolerance 1e-3",
        ));
    }
    let mut opt = SimulateOptions::default();
    opt.mesh.cell_m = cmd.cell_mm * 1e-3;
    opt.steady.tol = cmd.tolerance;
    let policy = crate::io::OutputPolicy::new("coil simulate", cmd.force)
        .input("coil", &cmd.coil)
        .input_opt("--phantom", cmd.phantom.as_deref());
    let dir = crate::io::AtomicDir::new(&cmd.out, &policy)?;
    let (f, tuning) = match cmd.drive.as_str() {
        "ideal" => (simulate_ideal(&coil, ph.as_ref(), &opt, progress)?, None),
        "resonant" => {
            log("tuning the capacitors by FDTD sweeps");
            let (f, t) = simulate_resonant(&coil, ph.as_ref(), &opt, cmd.sweep_steps, 0.005, progress)?;
            (f, Some(t))
        }
        other => {
            return Err(Error::input(
                "command line",
                "--drive",
                format!("unknown drive '{other}'"),
                "use --drive ideal or --drive resonant",
            ))
        }
    };
    let kind = if tuning.is_some() {
        super::fdtd_model::ModelKind::Resonant(super::fdtd_model::Gaps::for_type(coil.coil_type))
    } else {
        super::fdtd_model::ModelKind::Ideal
    };
    let snaps = super::fdtd_model::geometry_snaps(&coil, ph.as_ref(), kind, &opt.mesh)?;
    write_fields(&dir, &f)?;
    write_panels(&dir, &f, &coil.name, ph.is_some())?;
    let iso_minus = f.b1_minus.sample([0.0, 0.0, 0.0]);
    let summary = SimulateSummary {
        coil: cmd.coil.display().to_string(),
        phantom: cmd.phantom.as_ref().map(|p| p.display().to_string()),
        fdtd_tuning: tuning,
        freq_hz: f.freq_hz,
        cells: f.cells,
        cell_m: f.cell_m,
        dt_s: f.dt_s,
        run: f.stats.clone(),
        setup_s: f.setup_s,
        input_power_w_per_amp2: f.input_power_w,
        b1_plus_iso_t_per_sqrt_w: f.b1_plus_iso_t.norm() * f.per_watt(),
        b1_minus_over_b1_plus_iso: iso_minus.norm() as f64 / f.b1_plus_iso_t.norm(),
        input_power_w_for_1ut_iso: f.input_power_w * f.per_microtesla().powi(2),
        geometry_snaps: snaps.to_json(),
        warnings: crate::resources::take_warnings(),
    };
    crate::io::write_json(&dir.path("summary.json"), &summary.to_json())?;
    dir.commit()?;
    Ok(summary)
}

/// `fields.h5` and `fields.xmf`: the datasets for 1 W input and for 1 µT B1+ at the isocentre.
fn write_fields(dir: &crate::io::AtomicDir, f: &CoilFields) -> Result<()> {
    let scale_of = |norm: &str| {
        if norm == "per_watt" {
            f.per_watt()
        } else {
            f.per_microtesla()
        }
    };
    let mut owned: Vec<(String, Array3<Complex32>, [f64; 3], &str)> = Vec::new();
    for norm in ["per_watt", "per_microtesla"] {
        let s = scale_of(norm) as f32;
        owned.push((
            format!("{norm}/b1_plus"),
            f.b1_plus.data.mapv(|v| v * s),
            f.b1_plus.origin_m,
            "T",
        ));
        owned.push((
            format!("{norm}/b1_minus"),
            f.b1_minus.data.mapv(|v| v * s),
            f.b1_minus.origin_m,
            "T",
        ));
        for (c, name) in ["ex", "ey", "ez"].iter().enumerate() {
            owned.push((
                format!("{norm}/{name}"),
                f.e[c].mapv(|v| v * s),
                f.e_grid.origin_m,
                "V/m",
            ));
        }
        let sar = f.point_sar(scale_of(norm)).mapv(|v| Complex32::new(v, 0.0));
        owned.push((format!("{norm}/sar_point"), sar, f.e_grid.origin_m, "W/kg"));
    }
    let d = [f.cell_m; 3];
    let sets: Vec<crate::io::FieldDataset> = owned
        .iter()
        .map(|(n, data, o, unit)| crate::io::FieldDataset {
            name: n.clone(),
            data,
            origin_m: *o,
            spacing_m: d,
            unit,
            freq_hz: f.freq_hz,
            quantity: "complex peak phasor at cell centres, time factor exp(+i w t) (sar_point: real, W/kg)",
        })
        .collect();
    crate::io::write_h5_fields(&dir.path("fields.h5"), &sets)?;
    crate::io::write_xdmf(&dir.path("fields.xmf"), "fields.h5", &sets)
}

/// PNG maps for 1 µT B1+ at the isocentre, through the isocentre (`sar_point.png` with a phantom).
fn write_panels(dir: &crate::io::AtomicDir, f: &CoilFields, coil_name: &str, phantom: bool) -> Result<()> {
    let s_ut = f.per_microtesla();
    let b1 = f.b1_plus.data.mapv(|v| v.norm() * s_ut as f32 * 1e6);
    let emag = Array3::from_shape_fn(f.sigma.dim(), |(i, j, k)| {
        (f.e[0][[i, j, k]].norm_sqr() + f.e[1][[i, j, k]].norm_sqr() + f.e[2][[i, j, k]].norm_sqr()).sqrt()
            * s_ut as f32
    });
    let sar = f.point_sar(s_ut);
    let d = [f.cell_m; 3];
    let tag = format!("{} at {:.2} MHz, 1 µT B1+ at isocentre", coil_name, f.freq_hz / 1e6);
    let panel =
        |name: &str, vol: &Array3<f32>, origin: [f64; 3], title: &str, unit: &str, range: Option<(f64, f64)>| {
            write_panel(&dir.path(name), vol, origin, d, title, unit, range)
        };
    // B1+ on 0..2 µT: the field right next to the rungs would otherwise set the scale.
    panel(
        "b1_plus.png",
        &b1,
        f.b1_plus.origin_m,
        &format!("|B1+|, {tag}"),
        "|B1+| (µT)",
        Some((0.0, 2.0)),
    )?;
    panel(
        "e_magnitude.png",
        &emag,
        f.e_grid.origin_m,
        &format!("|E| (peak), {tag}"),
        "|E| (V/m)",
        None,
    )?;
    if phantom {
        panel(
            "sar_point.png",
            &sar,
            f.e_grid.origin_m,
            &format!("local SAR, {tag}"),
            "SAR (W/kg)",
            None,
        )?;
    }
    Ok(())
}

/// Axial, coronal and sagittal slices of `vol` through the isocentre (the voxel nearest to 0).
fn write_panel(
    path: &Path,
    vol: &Array3<f32>,
    origin: [f64; 3],
    d: [f64; 3],
    title: &str,
    unit: &str,
    range: Option<(f64, f64)>,
) -> Result<()> {
    use crate::plot::{panel, Panel, PanelScale, SliceMap};
    let dims = vol.dim();
    let n = [dims.0, dims.1, dims.2];
    let c = [0, 1, 2].map(|a| (((-origin[a]) / d[a]).round().max(0.0) as usize).min(n[a] - 1));
    fn fix(m: SliceMap<'_>, range: Option<(f64, f64)>) -> SliceMap<'_> {
        match range {
            Some((lo, hi)) => m.range(lo, hi),
            None => m,
        }
    }
    let maps = vec![
        fix(
            SliceMap::from_volume(vol.view(), 2, c[2], origin, d)?
                .title("axial (z = 0)")
                .unit(unit),
            range,
        ),
        fix(
            SliceMap::from_volume(vol.view(), 1, c[1], origin, d)?
                .title("coronal (y = 0)")
                .unit(unit),
            range,
        ),
        fix(
            SliceMap::from_volume(vol.view(), 0, c[0], origin, d)?
                .title("sagittal (x = 0)")
                .unit(unit),
            range,
        ),
    ];
    panel(path, &Panel::new(maps).title(title).scale(PanelScale::Shared))
}

/// What `coil tune --cosim` is asked to do.
#[derive(Clone, Debug)]
pub struct CosimTuneCommand {
    pub coil: PathBuf,
    pub phantom: Option<PathBuf>,
    /// Cell size (mm).
    pub cell_mm: f64,
    /// Where to write spectrum.json, spectrum.csv, spectrum.png and modes.png (None: print only).
    pub out: Option<PathBuf>,
    pub force: bool,
    /// The port runs (band, decay, reference impedance, symmetry).
    pub port_runs: super::cosim::PortRunOptions,
    /// Relative tolerance of the co-simulated tuning.
    pub tolerance: f64,
}

/// The result of `coil tune --cosim`: the circuit-model tuning beside the co-simulated one, the
/// feeds at Larmor and the spectrum.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CosimTuneReport {
    pub coil: String,
    pub phantom: Option<String>,
    pub cell_m: f64,
    pub cells: [usize; 3],
    /// The circuit model (`coil tune` without `--cosim`).
    pub circuit_model: Tuning,
    /// The co-simulated tuning of the same "auto" capacitors.
    pub cosim: super::cosim::CosimTuning,
    /// Co-simulated / circuit-model capacitance of the tuned capacitors.
    pub cosim_over_circuit_model: Option<f64>,
    /// Each feed driven alone at Larmor, the others terminated in their source impedance.
    pub feeds: Vec<super::cosim::FeedReport>,
    /// The ports of the multi-port model and the FDTD runs made.
    pub ports: Vec<String>,
    pub fdtd_runs: usize,
    pub mirror_axes: Vec<usize>,
    pub port_run_steps: Vec<usize>,
    pub port_runs_s: f64,
    pub spectrum: super::spectrum::Spectrum,
    pub files: Vec<String>,
    pub warnings: Vec<String>,
}

impl CosimTuneReport {
    /// The text table of `coil tune --cosim`.
    pub fn format(&self) -> String {
        use std::fmt::Write;
        let mut o = super::circuit::format_tuning(&self.circuit_model);
        let pf = |c: Option<f64>| c.map_or("-".to_string(), super::circuit::format_farads);
        let t = &self.cosim;
        let _ = writeln!(
            o,
            "\nco-simulation ({} ports, {} FDTD runs, {:.1} s, {} cells of {:.1} mm{}):",
            self.ports.len(),
            self.fdtd_runs,
            self.port_runs_s,
            self.cells.iter().product::<usize>(),
            self.cell_m * 1e3,
            self.phantom
                .as_ref()
                .map_or(String::new(), |p| format!(", phantom {p}"))
        );
        let _ = writeln!(o, "  {:<22} {:>14} {:>14}", "", "circuit model", "co-simulated");
        let _ = writeln!(
            o,
            "  {:<22} {:>14} {:>14}",
            "rung capacitors",
            pf(t.circuit_model_rung_f),
            pf(t.rung_capacitance_f)
        );
        let _ = writeln!(
            o,
            "  {:<22} {:>14} {:>14}",
            "ring capacitors",
            pf(t.circuit_model_ring_f),
            pf(t.ring_capacitance_f)
        );
        if let Some(r) = self.cosim_over_circuit_model {
            let _ = writeln!(o, "  co-simulated / circuit model: {r:.4}");
        }
        let _ = writeln!(
            o,
            "  homogeneous mode {:.4} MHz ({:+.4} % from Larmor, {} circuit solves)",
            t.homogeneous_hz / 1e6,
            t.rel_error * 100.0,
            t.iterations
        );
        let _ = writeln!(o, "feeds at Larmor (each driven alone, the others terminated):");
        for f in &self.feeds {
            let _ = writeln!(
                o,
                "  port {}: Zin = {:.2} {} {:.2}i Ohm, S11 = {:.2} dB",
                f.port + 1,
                f.input_impedance_re_ohm,
                if f.input_impedance_im_ohm < 0.0 { '-' } else { '+' },
                f.input_impedance_im_ohm.abs(),
                f.s11_db
            );
        }
        o.push_str(&self.spectrum.format_modes());
        for w in &self.warnings {
            let _ = writeln!(o, "warning: {w}");
        }
        o
    }
}

/// `rftwin coil tune --cosim`: the port runs of the coil (with the phantom), the co-simulated tuning
/// beside the circuit model's, the feeds' input impedance and S11 at Larmor, the spectrum; with
/// `out`, spectrum.json, spectrum.csv, spectrum.png (|S| of the feeds) and modes.png.
pub fn tune_cosim(cmd: &CosimTuneCommand, progress: Option<&mut dyn FnMut(usize, usize)>) -> Result<CosimTuneReport> {
    use super::cosim;
    use super::fdtd_model::{self, Gaps, MeshOptions, ModelKind};
    let coil = CoilConfig::load(&cmd.coil)?;
    let ph = cmd.phantom.as_deref().map(PhantomConfig::load).transpose()?;
    if !(cmd.cell_mm > 0.0) || !cmd.cell_mm.is_finite() {
        return Err(Error::input(
            "command line",
            "--cell-mm",
            "must be > 0",
            "e.g. --cell-mm 10",
        ));
    }
    if !(cmd.tolerance > 0.0 && cmd.tolerance < 0.1) {
        return Err(Error::input(
            "command line",
            "--tolerance",
            "must be in (0, 0.1)",
            "e.g. --tolerance 1e-5",
        ));
    }
    let circuit_model = super::tune(&coil)?;
    let policy = crate::io::OutputPolicy::new("coil tune", cmd.force)
        .input("coil", &cmd.coil)
        .input_opt("--phantom", cmd.phantom.as_deref());
    let dir = cmd
        .out
        .as_deref()
        .map(|o| crate::io::AtomicDir::new(o, &policy))
        .transpose()?;
    let opt = MeshOptions {
        cell_m: cmd.cell_mm * 1e-3,
        ..MeshOptions::default()
    };
    let mut mesh = fdtd_model::mesh(
        &coil,
        ph.as_ref(),
        ModelKind::Resonant(Gaps::for_type(coil.coil_type)),
        &opt,
    )?;
    let ports = cosim::cosim_ports(&coil, &mut mesh)?;
    let pb = cosim::compute_port_basis(&mesh, &ports, coil.freq_hz, &cmd.port_runs, progress)?;
    if let Some(k) = pb.runs_converged.iter().position(|c| !c) {
        return Err(Error::NotConverged {
            what: format!(
                "co-simulation port run {} ({}) did not decay by {} dB within {} periods: the coil rings too long with {} Ohm terminations; try a coarser --cell-mm to check, or report the coil",
                k, pb.ports[k].name, cmd.port_runs.decay_db, cmd.port_runs.max_periods, cmd.port_runs.reference_ohm
            ),
        });
    }
    pb.check(&coil.source_name)?;
    let (circ, tuning) = cosim::tune(&coil, &pb, cmd.tolerance)?;
    let feeds = cosim::feed_reports(&coil, &pb, &circ)?;
    let spectrum = super::spectrum::spectrum(&pb, &circ)?;
    let ratio = match circuit_model.solved.as_str() {
        "rung" => tuning
            .rung_capacitance_f
            .zip(tuning.circuit_model_rung_f)
            .map(|(a, b)| a / b),
        "ring" => tuning
            .ring_capacitance_f
            .zip(tuning.circuit_model_ring_f)
            .map(|(a, b)| a / b),
        _ => None,
    };
    let mut files = Vec::new();
    if dir.is_some() {
        files = ["spectrum.json", "spectrum.csv", "spectrum.png", "modes.png"]
            .map(String::from)
            .to_vec();
    }
    let mut report = CosimTuneReport {
        coil: cmd.coil.display().to_string(),
        phantom: cmd.phantom.as_ref().map(|p| p.display().to_string()),
        cell_m: opt.cell_m,
        cells: mesh.model.grid.dims(),
        circuit_model,
        cosim: tuning,
        cosim_over_circuit_model: ratio,
        feeds,
        ports: pb.ports.iter().map(|p| p.name.clone()).collect(),
        fdtd_runs: pb.fdtd_runs,
        mirror_axes: pb.mirror_axes.clone(),
        port_run_steps: pb.run_steps.clone(),
        port_runs_s: pb.seconds,
        spectrum,
        files,
        warnings: Vec::new(),
    };
    if let Some(f) = report.spectrum.homogeneous_hz {
        let rel = (f - coil.freq_hz) / coil.freq_hz;
        if rel.abs() > 10.0 * cmd.tolerance {
            report.warnings.push(format!(
                "the homogeneous mode sits {:.3} % from Larmor after tuning (fixed capacitors?)",
                rel * 100.0
            ));
        }
    }
    report.warnings.extend(crate::resources::take_warnings());
    if let Some(dir) = dir {
        crate::io::write_json(&dir.path("spectrum.json"), &report)?;
        let csv = dir.path("spectrum.csv");
        std::fs::write(&csv, report.spectrum.to_csv()).map_err(|e| Error::io(&csv, e))?;
        report
            .spectrum
            .plot(&dir.path("spectrum.png"), &dir.path("modes.png"), &coil.name)?;
        dir.commit()?;
    }
    Ok(report)
}
