//! `rftwin fdtd run`: a simulation file → the run → `summary.json` and `fields.h5` in a new output
//! directory (written under a temporary name, then renamed into place).
//!
//! `fields.h5` holds one complex dataset per probe, component and frequency (`NAME/Ex_f0`, …: CW
//! peak phasors, or the Fourier transforms of a pulsed run). The materials of the grid and the ports'
//! input power, which `rftwin sar` and `rftwin heat` read from the same file, are written by the
//! caller's [`MaterialsWriter`] (their layout belongs to the dosimetry module).

use std::path::{Path, PathBuf};

use num_complex::{Complex32, Complex64};
use serde::Serialize;

use super::config::{self, RunMode};
use super::{FieldKind, Probe, ProgressFn, RunStats};
use crate::error::{Error, Result};
use crate::grid::VoxelModel;

/// What `fdtd run` is asked to do.
#[derive(Clone, Debug)]
pub struct RunFileOptions {
    /// The simulation file (TOML).
    pub file: PathBuf,
    /// The output directory.
    pub out: PathBuf,
    /// Replace `out` if it exists (only a directory rftwin wrote).
    pub force: bool,
}

/// Writes the grid's materials (cell centres, spacing `d`) and the ports' CW input power into the
/// open `fields.h5` at `path`.
pub type MaterialsWriter<'a> = &'a dyn Fn(&hdf5::File, &Path, &VoxelModel, [f64; 3], Option<f64>) -> Result<()>;

/// One frequency of a lumped element (a port when it has an internal resistance).
#[derive(Clone, Debug, Serialize)]
pub struct ElementRow {
    pub freq_hz: f64,
    /// Impedance [re, im] (ohm).
    pub z_ohm: [f64; 2],
    /// Voltage and current [re, im] (phasors, or spectra of a pulsed run).
    pub v: [f64; 2],
    pub i: [f64; 2],
    /// Ports: reflection coefficient [re, im] against the internal resistance, and in dB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s11: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s11_db: Option<f64>,
    /// Ports of a CW run: 0.5 Re(V I*) (W).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power_into_structure_w: Option<f64>,
}

/// A lumped element's results.
#[derive(Clone, Debug, Serialize)]
pub struct ElementResult {
    pub name: String,
    pub port: bool,
    pub results: Vec<ElementRow>,
}

/// `summary.json` of `fdtd run` (also printed).
#[derive(Clone, Debug)]
pub struct RunFileSummary {
    pub file: String,
    pub cw: bool,
    pub cells: [usize; 3],
    pub cell_size_m: [f64; 3],
    pub dt_s: f64,
    pub courant: f64,
    pub run: RunStats,
    pub elements: Vec<ElementResult>,
    pub probes: Vec<String>,
    /// "fields.h5" when the file has probes.
    pub fields_h5: Option<&'static str>,
    pub warnings: Vec<String>,
}

impl RunFileSummary {
    /// The JSON document (keys in alphabetical order, as `serde_json` orders an object).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "file": self.file,
            "mode": if self.cw { "cw" } else { "pulse" },
            "cells": self.cells,
            "cell_size_m": self.cell_size_m,
            "dt_s": self.dt_s,
            "courant": self.courant,
            "run": self.run,
            "elements": self.elements,
            "probes": self.probes,
            "fields_h5": self.fields_h5,
            "warnings": self.warnings,
        })
    }
}

/// Parses, builds, runs and writes (see the module documentation).
pub fn run(opts: &RunFileOptions, progress: Option<ProgressFn>, materials: MaterialsWriter) -> Result<RunFileSummary> {
    let file = opts.file.as_path();
    let name = file.display().to_string();
    let parsed = config::load(file)?;
    let dir = crate::io::AtomicDir::new(
        &opts.out,
        &crate::io::OutputPolicy::new("fdtd run", opts.force).input("FDTD file", file),
    )?;
    let (mut sim, mut probes) = config::build(&parsed, &name)?;
    sim.set_progress(progress);
    let mut refs: Vec<&mut dyn Probe> = probes.iter_mut().map(|p| p as &mut dyn Probe).collect();
    let stats = match &parsed.mode {
        RunMode::Cw { steady, .. } => sim.run_cw(steady, &mut refs)?,
        RunMode::Pulse {
            decay_db, max_steps, ..
        } => sim.run_until_decay(*decay_db, *max_steps, &mut refs)?,
    };
    let cw = matches!(parsed.mode, RunMode::Cw { .. });
    let freqs: Vec<f64> = match &parsed.mode {
        RunMode::Cw { freq_hz, .. } => vec![*freq_hz],
        RunMode::Pulse { freqs_hz, .. } => freqs_hz.clone(),
    };
    let elements = element_results(&sim, &parsed, &freqs, cw);

    // CW input power: sum over ports of 0.5 Re(V I*) (for `rftwin sar --normalise power-w=...`);
    // a port whose power is not finite is left out (as when it was read back from the JSON).
    let input_power_w: Option<f64> = elements
        .iter()
        .filter_map(|e| e.results.first().and_then(|r| r.power_into_structure_w))
        .filter(|p| p.is_finite())
        .fold(None, |acc, p| Some(acc.unwrap_or(0.0) + p));
    let d = sim.cell_size_m();
    let origin = sim.model().grid.node_pos(0, 0, 0);
    let mut arrays = Vec::new();
    for (p, req) in probes.iter().zip(&parsed.probes) {
        for (ci, comp) in ["x", "y", "z"].iter().enumerate() {
            for (fi, f) in freqs.iter().enumerate() {
                let data = if cw {
                    p.phasor(ci, fi)
                } else {
                    p.spectrum(ci, fi).mapv(|c| Complex32::new(c.re as f32, c.im as f32))
                };
                let o = p.component_origin(ci, origin, d);
                let field = if req.kind == FieldKind::E { "E" } else { "H" };
                arrays.push((format!("{}/{field}{comp}_f{fi}", req.name), data, o, *f, req.kind));
            }
        }
    }
    if !arrays.is_empty() {
        let sets: Vec<crate::io::FieldDataset> = arrays
            .iter()
            .map(|(n, data, o, f, kind)| crate::io::FieldDataset {
                name: n.clone(),
                data,
                origin_m: *o,
                spacing_m: d,
                unit: match (kind, cw) {
                    (FieldKind::E, true) => "V/m",
                    (FieldKind::H, true) => "A/m",
                    (FieldKind::E, false) => "V s/m",
                    (FieldKind::H, false) => "A s/m",
                },
                freq_hz: *f,
                quantity: if cw {
                    "complex peak phasor, time factor exp(+i w t)"
                } else {
                    "Fourier transform, exp(-i w t)"
                },
            })
            .collect();
        let h5 = dir.path("fields.h5");
        crate::io::write_h5_fields(&h5, &sets)?;
        // Material grid (cell centres) and the ports' input power, for `rftwin sar` / `rftwin heat`.
        let file = hdf5::File::append(&h5).map_err(|e| Error::Other(format!("{}: {e}", h5.display())))?;
        materials(&file, &h5, sim.model(), d, input_power_w)?;
    }
    let summary = RunFileSummary {
        file: name,
        cw,
        cells: sim.cells(),
        cell_size_m: d,
        dt_s: sim.dt(),
        courant: sim.courant(),
        run: stats,
        elements,
        probes: parsed.probes.iter().map(|p| p.name.clone()).collect(),
        fields_h5: if arrays.is_empty() { None } else { Some("fields.h5") },
        warnings: crate::resources::take_warnings(),
    };
    crate::io::write_json(&dir.path("summary.json"), &summary.to_json())?;
    dir.commit()?;
    Ok(summary)
}

/// Element results (ports: impedance and S11 against their internal resistance).
fn element_results(sim: &super::Simulation, parsed: &config::Parsed, freqs: &[f64], cw: bool) -> Vec<ElementResult> {
    let mut elements = Vec::new();
    for (e, spec) in sim.lumped().specs().iter().enumerate() {
        let z = sim.lumped().impedance(e);
        let vi = if cw {
            sim.lumped().phasors(e)
        } else {
            sim.lumped().spectrum(e)
        };
        let r0 = parsed.ports.iter().find(|(n, _)| *n == spec.name).map(|(_, r)| *r);
        let rows = freqs
            .iter()
            .enumerate()
            .map(|(fi, f)| {
                let (v, i) = vi[fi];
                let s11: Option<Complex64> = r0.map(|r0| (z[fi] - r0) / (z[fi] + r0));
                ElementRow {
                    freq_hz: *f,
                    z_ohm: [z[fi].re, z[fi].im],
                    v: [v.re, v.im],
                    i: [i.re, i.im],
                    s11: s11.map(|s| [s.re, s.im]),
                    s11_db: s11.map(|s| 20.0 * s.norm().log10()),
                    power_into_structure_w: (r0.is_some() && cw).then(|| 0.5 * (v * i.conj()).re),
                }
            })
            .collect();
        elements.push(ElementResult {
            name: spec.name.clone(),
            port: r0.is_some(),
            results: rows,
        });
    }
    elements
}
